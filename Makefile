# diffode - one non-recursive Makefile (the asan pass re-enters it with another BUILD dir).
#   make            build the library, the diffode command and the test programs
#   make run        run the default experiment end to end (installs missing packages as root)
#   make check      run every Check suite, build examples/ against an installed copy, run
#                   the docs' commands, then the suites under AddressSanitizer + UBSan, valgrind
#   make fuzz       run each file parser's libFuzzer target 10^6 times (clang; tests/fuzz/),
#                   then the diffode command on every corpus file under a 1 GiB memory limit
#   make asan       build build/asan/diffode under ASan + UBSan (make check runs the CLI
#                   suites through it)
#   make bench      print speed ratios against baselines measured in the same run
#   make install PREFIX=/usr/local   install the command, the static and shared library, the
#                   headers, diffode.pc and the plot scripts (PREFIX/share/diffode/plots)
#   make clean      remove build/ (results/ is yours to keep)

CC       = gcc
BUILD   ?= build
PREFIX  ?= /usr/local
PKGS     = gsl openblas check libcjson inih zlib
DEB_PKGS = libgsl-dev libopenblas-dev check libcjson-dev libinih-dev zlib1g-dev pkg-config \
           gnuplot-nox valgrind dataset-fashion-mnist python3-cffi python3-numpy python3-pytest

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
SAN     ?=
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(CFLAGS) $(SAN) $(WARN) -Iinclude \
             $(shell pkg-config --cflags openblas libcjson inih check 2>/dev/null)
# GSL's CBLAS comes from OpenBLAS, not gslcblas (gsl.pc's GSL_CBLAS_LIB variable).
LIBS     = $(shell pkg-config --define-variable=GSL_CBLAS_LIB=-lopenblas --libs gsl 2>/dev/null) \
           $(shell pkg-config --libs openblas libcjson inih zlib 2>/dev/null) -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
# make BLAS_STATIC=1: the diffode command links OpenBLAS's static archive (about 25 MB more)
# instead of libopenblas.so, whose 12,000 dynamic relocations cost about 2 ms of every
# start (issue 16, docs/benchmarks.md); the library, the tests and the bench stay shared.
BLAS_STATIC ?=
DIFFODE_LIBS = $(if $(BLAS_STATIC),$(filter-out -lopenblas,$(LIBS)) -l:libopenblas.a \
               -lgfortran -lpthread,$(LIBS))

LIB_SRC  = $(sort $(wildcard model/*.c solvers/*.c))
CLI_SRC  = $(sort $(wildcard experiments/*.c))
TEST_SRC = $(sort $(wildcard tests/check_*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
CLI_LIB_OBJ = $(filter-out $(BUILD)/experiments/diffode.o,$(CLI_OBJ))
TESTS    = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIBA     = $(BUILD)/libdiffode.a
DIFFODE  = $(BUILD)/diffode
# The shared library: libdiffode.so.$(VERSION), soname libdiffode.so.$(SOVERSION) (bumped
# when the ABI breaks), and the libdiffode.so link for -ldiffode.
VERSION   = 0.2.0
SOVERSION = 1
LIBSO     = $(BUILD)/libdiffode.so.$(VERSION)

.PHONY: all run check test bench install clean deps example pytest
.DEFAULT_GOAL := all

all: $(LIBA) $(LIBSO) $(DIFFODE) $(TESTS)

# The library's objects are position independent, so the same ones make the .a and the .so.
$(LIB_OBJ): ALL_CFLAGS += -fPIC

$(BUILD)/%.o: %.c $(wildcard include/diffode/*.h model/*.h solvers/*.h experiments/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libdiffode.so.$(SOVERSION) -o $@ $^ $(LIBS)
	ln -sf libdiffode.so.$(VERSION) $(BUILD)/libdiffode.so.$(SOVERSION)
	ln -sf libdiffode.so.$(SOVERSION) $(BUILD)/libdiffode.so

$(DIFFODE): $(CLI_OBJ) $(LIBA)
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(LIBA) $(DIFFODE_LIBS)

# Test programs link the command's modules too (config, model specs), not its main().
$(BUILD)/tests/%: tests/%.c $(LIBA) $(CLI_LIB_OBJ) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CLI_LIB_OBJ) $(LIBA) $(CHECK_LIBS) $(LIBS)

# check_alloc counts the allocations of the test and libdiffode.a through --wrap (not
# those inside shared libraries), to show that no NFE allocates.
$(BUILD)/tests/check_alloc: tests/check_alloc.c $(LIBA) $(CLI_LIB_OBJ) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc -o $@ $< \
	  $(CLI_LIB_OBJ) $(LIBA) $(CHECK_LIBS) $(LIBS)

# Missing Debian packages: installed when root, otherwise the exact apt-get line.
# Probes: the pkg-config modules, gnuplot (figures), valgrind (the memcheck gate of make
# check), Fashion-MNIST (the ideal-denoiser model's data) and the Python bindings' modules
# (their tests; the C library and the command never need Python).
deps:
	@missing=""; \
	pkg-config --exists $(PKGS) 2>/dev/null || missing="yes"; \
	command -v gnuplot >/dev/null 2>&1 || missing="yes"; \
	command -v valgrind >/dev/null 2>&1 || missing="yes"; \
	[ -d /usr/share/datasets/fashion-mnist ] || missing="yes"; \
	/usr/bin/python3 -c 'import cffi, numpy, pytest' 2>/dev/null || missing="yes"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing $(DEB_PKGS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS) >/dev/null || exit 1; \
	  else \
	    echo "deps: missing packages; run as root:"; \
	    echo "  apt-get update && apt-get install -y $(DEB_PKGS)"; exit 1; \
	  fi; \
	fi

# Suites run from the project root (tests/data is relative); DIFFODE points at the command.
# Each suite's output is kept in its .log; the closing lines name the suites that failed
# and repeat their failure lines, so the tail of a long CI log says what went wrong.
test: $(TESTS) $(DIFFODE)
	@failed=""; for t in $(TESTS); do \
	  echo "== $$t"; DIFFODE=$(DIFFODE) $$t > $$t.log 2>&1 || failed="$$failed $$t"; \
	  cat $$t.log; \
	done; \
	if [ -n "$$failed" ]; then \
	  for t in $$failed; do echo "FAILED $$t:"; \
	    grep -E ':[EF]:|runtime error|ERROR|Sanitizer' $$t.log | head -n 20; done; \
	  exit 1; \
	fi

ASAN_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# The second pass's DIFFODE is build/asan/diffode: check_cli, check_sweep ... run the
# sanitized command.
check: deps
	$(MAKE) test
	$(MAKE) pytest
	$(MAKE) example
	bash tests/docs_check.sh $(BUILD)
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g" SAN="$(ASAN_SAN)" test
	bash tests/valgrind.sh $(BUILD)

.PHONY: asan
asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g" SAN="$(ASAN_SAN)" build/asan/diffode

# libFuzzer needs clang and its runtime (installed like deps above); builds into
# $(BUILD)/fuzz, about 5 minutes on two idle cores.
FUZZ_PKGS = clang libclang-rt-14-dev
.PHONY: fuzz
fuzz: deps
	@if ! command -v clang >/dev/null 2>&1 || \
	    ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "fuzz: installing $(FUZZ_PKGS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FUZZ_PKGS) >/dev/null || exit 1; \
	  else \
	    echo "fuzz: missing packages; run as root:"; \
	    echo "  apt-get update && apt-get install -y $(FUZZ_PKGS)"; exit 1; \
	  fi; \
	fi
	bash tests/fuzz/run.sh $(BUILD)/fuzz
	$(MAKE) $(DIFFODE)
	bash tests/fuzz/cli.sh $(DIFFODE) $(BUILD)/fuzz/corpus

run: deps
	$(MAKE) $(DIFFODE)
	$(DIFFODE) run experiments/configs/default.ini

bench: deps
	$(MAKE) $(BUILD)/bench
	$(BUILD)/bench

$(BUILD)/bench: $(wildcard bench/*.c bench/*.h include/diffode/*.h) $(LIBA)
	$(CC) $(ALL_CFLAGS) -fopenmp -o $@ $(wildcard bench/*.c) $(LIBA) $(LIBS)

# The Python bindings (python/diffode) against this build's shared library and command.
pytest: $(LIBSO) $(DIFFODE)
	DIFFODE_LIBRARY=$(CURDIR)/$(LIBSO) DIFFODE=$(CURDIR)/$(DIFFODE) PYTHONPATH=python \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests

# diffode.pc: the static link needs the dependencies, so they are Requires.private (their
# own .pc files) and Libs.private; GSL's CBLAS is OpenBLAS here, as in LIBS above.
$(BUILD)/diffode.pc: Makefile
	@mkdir -p $(dir $@)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: diffode' 'Description: ODE solvers for diffusion-model sampling' \
	  'Version: $(VERSION)' 'URL: https://github.com/diffode/diffode' \
	  'Requires.private: gsl openblas libcjson inih zlib' \
	  'Libs: -L$${libdir} -ldiffode' 'Libs.private: -lm' 'Cflags: -I$${includedir}' > $@

# Where Debian's python3 looks for packages under a prefix (/usr/local/lib/python3.X/...).
PYVER = $(shell /usr/bin/python3 -c 'import sys; print("python3.%d" % sys.version_info[1])' \
          2>/dev/null || echo python3)

install: $(LIBA) $(LIBSO) $(DIFFODE) $(BUILD)/diffode.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/diffode $(DESTDIR)$(PREFIX)/share/diffode/plots
	install -m 755 $(DIFFODE) $(DESTDIR)$(PREFIX)/bin/diffode
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/libdiffode.a
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libdiffode.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libdiffode.so.$(SOVERSION)
	ln -sf libdiffode.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libdiffode.so
	install -m 644 include/diffode/*.h $(DESTDIR)$(PREFIX)/include/diffode/
	install -m 644 $(BUILD)/diffode.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/diffode.pc
	install -m 644 plots/*.gp plots/*.sh $(DESTDIR)$(PREFIX)/share/diffode/plots/
	install -d $(DESTDIR)$(PREFIX)/lib/$(PYVER)/dist-packages/diffode
	install -m 644 python/diffode/*.py $(DESTDIR)$(PREFIX)/lib/$(PYVER)/dist-packages/diffode/

# The library as a user gets it: install into a scratch prefix, build examples/ there
# through pkg-config alone (shared, then static), run both, and run the installed command
# from another folder (it must find its installed plot scripts).
EXAMPLE_PREFIX = $(CURDIR)/$(BUILD)/example-prefix
example: $(LIBA) $(LIBSO) $(DIFFODE)
	rm -rf $(EXAMPLE_PREFIX) && $(MAKE) --no-print-directory install PREFIX=$(EXAMPLE_PREFIX) >/dev/null
	export PKG_CONFIG_PATH=$(EXAMPLE_PREFIX)/lib/pkgconfig; \
	$(CC) -std=c11 -Wall -Wextra -Werror examples/sample_mixture.c \
	  $$(pkg-config --cflags --libs diffode) -Wl,-rpath,$(EXAMPLE_PREFIX)/lib \
	  -o $(BUILD)/example-shared && \
	$(CC) -std=c11 -Wall -Wextra -Werror examples/sample_mixture.c \
	  $$(pkg-config --cflags diffode) $(EXAMPLE_PREFIX)/lib/libdiffode.a \
	  $$(pkg-config --static --libs-only-other --libs-only-l diffode | sed 's/-ldiffode//') \
	  -o $(BUILD)/example-static
	$(BUILD)/example-shared && $(BUILD)/example-static
	readelf -d $(EXAMPLE_PREFIX)/lib/libdiffode.so | grep -q 'SONAME.*libdiffode.so.$(SOVERSION)'
	rm -rf $(EXAMPLE_PREFIX)/results && cd /tmp && $(EXAMPLE_PREFIX)/bin/diffode run \
	  $(CURDIR)/experiments/configs/default.ini --root $(EXAMPLE_PREFIX)/results >/dev/null
	test -s $(EXAMPLE_PREFIX)/results/gmm-error-vs-nfe/error_vs_nfe.png
	cd /tmp && PYTHONPATH=$(EXAMPLE_PREFIX)/lib/$(PYVER)/dist-packages /usr/bin/python3 -c \
	  'import diffode; x, r = diffode.sample("gaussian:dim=2", nfe=10, n=4); assert r.nfe == 10'

clean:
	rm -rf build
