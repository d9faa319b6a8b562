#!/usr/bin/env bash
# tests/fuzz/run.sh - builds one libFuzzer target per file parser (tests/fuzz/fuzz_*.c) with
# clang -fsanitize=fuzzer,address,undefined against the library sources, runs each for
# FUZZ_RUNS executions (default 10^6) from its seed corpus tests/fuzz/corpus/<parser>/, and
# fails if any target crashes, leaks, hits a UBSan report, times out or exceeds the memory
# limit. Prints each target's execution count from libFuzzer's final stats.
#
#   bash tests/fuzz/run.sh [BUILD_DIR]      (default build/fuzz; `make fuzz` calls this)
#   FUZZ_RUNS=100000 FUZZ_TARGETS="npy config" bash tests/fuzz/run.sh
#
# Findings are written to BUILD_DIR/artifacts/; reproduce one with
#   BUILD_DIR/fuzz_<parser> BUILD_DIR/artifacts/<parser>-crash-...
# New corpus entries go to BUILD_DIR/corpus/<parser>/ (the seed corpus is left untouched).
set -u
cd "$(dirname "$0")/../.."
mkdir -p "${1:-build/fuzz}" && OUT=$(cd "${1:-build/fuzz}" && pwd) || exit 1
ROOT=$(pwd)
RUNS=${FUZZ_RUNS:-1000000}
CC=${FUZZ_CC:-clang}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz: $CC not found; install clang and libclang-rt-14-dev (Debian)" >&2
    exit 1
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' \
     | "$CC" -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    echo "fuzz: $CC cannot link -fsanitize=fuzzer; install libclang-rt-14-dev (Debian)" >&2
    exit 1
fi

PKG_CFLAGS=$(pkg-config --cflags openblas libcjson inih 2>/dev/null)
PKG_LIBS="$(pkg-config --define-variable=GSL_CBLAS_LIB=-lopenblas --libs gsl) \
$(pkg-config --libs openblas libcjson inih zlib) -lm"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $SAN -Wall -Wextra -Werror -Wshadow \
-Wstrict-prototypes -Wmissing-prototypes -Iinclude $PKG_CFLAGS"

# The library and the command's modules (not its main), instrumented for coverage, into
# one archive; each target links only the objects it needs from it.
build_archive() {
    local src obj objs=() pids=() n=0 rc=0
    mkdir -p "$OUT/obj"
    for src in model/*.c solvers/*.c experiments/*.c; do
        [ "$src" = experiments/diffode.c ] && continue
        obj="$OUT/obj/$(echo "${src%.c}" | tr / _).o"
        objs+=("$obj")
        if [ ! "$obj" -nt "$src" ] || [ -n "$(find include model solvers experiments \
                -name '*.h' -newer "$obj" 2>/dev/null | head -1)" ]; then
            "$CC" $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
            pids+=($!)
            n=$((n + 1))
            if [ $((n % JOBS)) -eq 0 ]; then
                for p in "${pids[@]}"; do wait "$p" || rc=1; done
                pids=()
            fi
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    [ $rc -eq 0 ] || { echo "fuzz: building the library with $CC failed" >&2; return 1; }
    rm -f "$OUT/libdiffode-fuzz.a"
    ar rcs "$OUT/libdiffode-fuzz.a" "${objs[@]}"
}

# Runs one target; prints "fuzz_<name>: N executions, ok" or the failure and its artifact.
run_target() {
    local name=$1 bin="$OUT/fuzz_$1" log="$OUT/fuzz_$1.log" scratch="$OUT/scratch/$1"
    "$CC" $CFLAGS -fsanitize=fuzzer -o "$bin" "tests/fuzz/fuzz_$name.c" \
        "$OUT/libdiffode-fuzz.a" $PKG_LIBS || { echo "fuzz_$name: build failed"; return 1; }
    mkdir -p "$OUT/corpus/$name" "$OUT/artifacts" "$scratch"
    # the scratch dir is the working directory, so relative paths in inputs name nothing
    (cd "$scratch" && OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -runs="$RUNS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$name-" \
        "$OUT/corpus/$name" "$ROOT/tests/fuzz/corpus/$name") >"$log" 2>&1
    local rc=$?
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    if [ $rc -ne 0 ] || [ "${execs:-0}" -lt "$RUNS" ]; then
        echo "fuzz_$name: FAILED (exit $rc) after ${execs:-?} executions; log: $log"
        grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|ALARM|out-of-memory|malloc\(' "$log"
        grep -m1 'Test unit written to' "$log"
        return 1
    fi
    echo "fuzz_$name: $execs executions, no crash, leak or UBSan report"
}

build_archive || exit 1
fail=0
targets=${FUZZ_TARGETS:-$(ls tests/fuzz/fuzz_*.c | sed 's,.*/fuzz_\(.*\)\.c,\1,')}
for t in $targets; do
    start=$(date +%s)
    run_target "$t" || fail=1
    echo "  ($(( $(date +%s) - start )) s)"
done
exit $fail
