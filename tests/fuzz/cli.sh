#!/usr/bin/env bash
# tests/fuzz/cli.sh - the diffode command on every fuzz corpus file and on the hostile paths
# of issue 18 (/dev/zero, a FIFO without a writer, a directory), each under an address-space
# limit (ulimit -v, default 1 GiB) and a time limit (default 10 s). A file parser's libFuzzer
# target (run.sh) checks the library; this checks what a user runs: every input must end
# with exit 0, 1 or 2 (never a signal, never the time limit), and a failure must say why
# on stderr in one "diffode CMD: ..." line.
#
#   bash tests/fuzz/cli.sh [DIFFODE] [GROWN_CORPUS_DIR]
#       DIFFODE defaults to build/diffode; GROWN_CORPUS_DIR (e.g. build/fuzz/corpus, what
#       run.sh grew) adds up to FUZZ_CLI_MAX (default 200) more inputs per parser.
#   FUZZ_CLI_MEM_KB=1048576 FUZZ_CLI_SECONDS=10   the limits
#
# Not for an AddressSanitizer build: its shadow memory needs terabytes of address space.
set -u
cd "$(dirname "$0")/../.."
BIN=${1:-build/diffode}
GROWN=${2:-}
MEM=${FUZZ_CLI_MEM_KB:-1048576}
SECS=${FUZZ_CLI_SECONDS:-10}
MAX=${FUZZ_CLI_MAX:-200}
[ -x "$BIN" ] || { echo "fuzz cli: $BIN not built (make)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SCRATCH=$(mktemp -d /tmp/diffode-fuzz-cli.XXXXXX) || exit 1
trap 'rm -rf "$SCRATCH"' EXIT
mkfifo "$SCRATCH/fifo"

# The command for one input of a parser, with FILE standing for the input's path.
command_for() {
    case $1 in
    npy)         echo "sample --model gaussian --n 2 --nfe 2 --x-T FILE" ;;
    gmm_json)    echo "sample --model gmm:FILE --n 4 --nfe 4" ;;
    safetensors) echo "sample --model mlp:FILE --n 4 --nfe 4" ;;
    idx)         echo "sample --model ideal:FILE,n=2 --n 2 --nfe 2" ;;
    config)      echo "run FILE --root $SCRATCH/results --no-plot --quiet --max-rows 4" ;;
    esac
}

fail=0 count=0
# Runs one input; prints it and why when the contract is broken.
check_one() {
    local parser=$1 file=$2 args status
    args=$(command_for "$parser" | sed "s|FILE|$file|g")
    (cd "$SCRATCH" && ulimit -v "$MEM" && exec timeout -s KILL "$SECS" "$BIN" $args) \
        >"$SCRATCH/out" 2>"$SCRATCH/err"
    status=$?
    count=$((count + 1))
    if [ $status -gt 2 ]; then
        echo "fuzz cli: diffode $args: exit $status ($( [ $status -ge 128 ] && echo "signal \
$((status - 128))" || echo "not 0-2"))"
        head -c 300 "$SCRATCH/err"
        fail=1
    elif [ $status -ne 0 ] && ! grep -q '^diffode [a-z]*: ' "$SCRATCH/err"; then
        echo "fuzz cli: diffode $args: exit $status without a message"
        fail=1
    fi
}

for parser in npy gmm_json safetensors idx config; do
    for f in tests/fuzz/corpus/$parser/*; do
        check_one "$parser" "$(pwd)/$f"
    done
    for f in /dev/zero "$SCRATCH/fifo" "$SCRATCH"; do
        check_one "$parser" "$f"
    done
    if [ -n "$GROWN" ] && [ -d "$GROWN/$parser" ]; then
        for f in $(ls "$GROWN/$parser" | head -n "$MAX"); do
            check_one "$parser" "$(cd "$GROWN/$parser" && pwd)/$f"
        done
    fi
done
echo "fuzz cli: $count runs of $BIN under ulimit -v $MEM KiB and $SECS s each:" \
     "$( [ $fail -eq 0 ] && echo "every one ended 0-2, failures with a message" || echo FAILED)"
exit $fail
