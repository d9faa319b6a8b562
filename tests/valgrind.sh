#!/usr/bin/env bash
# tests/valgrind.sh - the memcheck gate of `make check`: runs the diffode command under
# valgrind (--leak-check=full, every error and definite or possible leak fails) on a small
# sampling run, a small reference solve and a tiny sweep. Skipped, with a notice, when
# valgrind is not installed (`make deps` installs it; so does CI).
#   bash tests/valgrind.sh [BUILD_DIR]      (default build; uses BUILD_DIR/diffode)
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DIFFODE=$BUILD/diffode
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind: not installed; memcheck gate skipped (apt-get install valgrind)"
    exit 0
fi
[ -x "$DIFFODE" ] || { echo "valgrind: $DIFFODE not built" >&2; exit 1; }
tmp=$(mktemp -d /tmp/diffode-valgrind.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

# One OpenBLAS thread: its thread pool is not what is being checked, and stays quiet.
export OPENBLAS_NUM_THREADS=1
VG="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,possible"

cat >"$tmp/tiny.ini" <<'INI'
[experiment]
name = tiny
samples = 8
seeds = 0, 1
true_samples = 64
[model g]
spec = gaussian:dim=2,mean=0.5,std=0.8
[model m]
spec = gmm:experiments/configs/gmm2d.json
[sweep]
models = g, m
schedules = ddpm-linear
spacings = logsnr
solvers = euler, heun, dpmpp2m, unipc2
nfe = 4, 8
INI

fail=0
check() {    # check NAME ARGS...: run diffode ARGS under memcheck
    local name=$1
    shift
    if $VG "$DIFFODE" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
        echo "valgrind: $name: no errors, no leaks"
    else
        echo "valgrind: $name: FAILED (exit $?):"
        cat "$tmp/$name.err"
        fail=1
    fi
}
check sample sample --model gmm:experiments/configs/gmm2d.json --schedule ddpm-linear \
    --solver dpm2 --nfe 10 --n 16 --seed 1 --out "$tmp/x.npy"
check reference reference --model gmm:experiments/configs/gmm2d.json --schedule ddpm-linear \
    --n 4 --seed 1 --out "$tmp/ref.npy"
check grid-gits grid --model gmm:experiments/configs/gmm2d.json --solver euler --nfe 4 \
    --method gits --candidates 12 --n 8 --n-test 8 --out "$tmp/gits.npy"
check grid-optimum grid --model gmm:experiments/configs/gmm2d.json --solver dpmpp2m --nfe 4 \
    --method optimum --starts 2 --max-iter 50 --n 8 --n-test 8 --out "$tmp/opt.npy"
check sample-grid sample --model gmm:experiments/configs/gmm2d.json --solver dpmpp2m \
    --grid "$tmp/opt.npy" --n 8
check run run "$tmp/tiny.ini" --root "$tmp/results" --no-plot --quiet
check resume run "$tmp/tiny.ini" --root "$tmp/results" --no-plot --quiet
exit $fail
