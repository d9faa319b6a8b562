#!/bin/sh
# grids_full.sh [DIFFODE] [OUTDIR] [JOBS] - the full grid study of docs/grids.md (issue 15):
# euler, heun, dpmpp2m, dpmpp3m, unipc2, ipndm4 at NFE 4, 6, 8, 10, 14, 20 on the 2-D
# mixture (experiments/configs/gmm2d.json, ddpm-linear, sigma 157.4 -> 0.01), with the
# grids logsnr, karras, quadratic-t, uniform-t, gits (Euler cost), ays (KLUB, early
# stopping with patience 5, search tolerance 1e-2, 8 nodes), fit (BFGS2, at most 200
# iterations, gradient 1e-5) and optimum (2 starts, NFE <= 10 only), each fitted on 500
# x_T (seed 0) and judged on 2000 held-out x_T; JOBS `diffode grid` runs at once
# (default 2). Then the transfer matrix: the NFE 10 fitted grid of each one-NFE-per-step
# solver, run by every other through `sample --grid` on 2000 fresh x_T (seed 7).
# Writes OUTDIR/grids_full.dat (solver nfe method train_rmse test_rmse),
# OUTDIR/grids_full_sigmas.dat (solver nfe method point sigma), OUTDIR/grids_transfer.dat
# (used_by fitted_for rmse) and the figures grids_full_error.png, grids_full_sigmas.png
# (plots/grids_full.gp); prints the two tables.
# Run from the project root: plots/grids_full.sh build/diffode docs/figures 2
set -eu
diffode=${1:-build/diffode}
out=${2:-results/grids}
jobs=${3:-2}
here=$(dirname "$0")
model=gmm:experiments/configs/gmm2d.json
mkdir -p "$out"
tmp=$(mktemp -d /tmp/diffode-gridsfull.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
solvers="euler heun dpmpp2m dpmpp3m unipc2 ipndm4"
methods="logsnr karras quadratic-t uniform-t gits ays fit optimum"
for solver in $solvers; do
    for nfe in 4 6 8 10 14 20; do
        for method in $methods; do
            [ "$method" = optimum ] && [ "$nfe" -gt 10 ] && continue
            echo "$solver $nfe $method"
        done
    done
done > "$tmp/jobs"
# one `diffode grid` per line: its JSON into tmp/SOLVER-NFE-METHOD.json, its grid .npy
xargs -P "$jobs" -L 1 sh -c '
    d=$0; tmp=$1; model=$2; solver=$3; nfe=$4; method=$5
    case $method in        # --tol and --max-iter mean each method its own thing
        ays) extra="--tol 1e-2 --nodes 8 --max-iter 200" ;;
        fit) extra="--tol 1e-5 --max-iter 200" ;;
        optimum) extra="--starts 2" ;;
        *) extra= ;;
    esac
    "$d" grid --model "$model" --solver "$solver" --nfe "$nfe" --method "$method" \
        --n 500 --n-test 2000 $extra \
        --out "$tmp/$solver-$nfe-$method.npy" > "$tmp/$solver-$nfe-$method.json"
' "$diffode" "$tmp" "$model" < "$tmp/jobs"
num() {     # key json -> value
    printf '%s\n' "$2" | sed 's/.*"'"$1"'":\([^,}]*\).*/\1/'
}
echo "solver nfe method train_rmse test_rmse" > "$tmp/grids_full.dat"
echo "solver nfe method point sigma" > "$tmp/grids_full_sigmas.dat"
while read -r solver nfe method; do
    j=$(cat "$tmp/$solver-$nfe-$method.json")
    echo "$solver $nfe $method $(num train_rmse "$j") $(num test_rmse "$j")" \
        >> "$tmp/grids_full.dat"
    printf '%s\n' "$j" | sed 's/.*"sigmas":\[\([^]]*\)\].*/\1/' | tr ',' '\n' |
        awk -v s="$solver" -v n="$nfe" -v m="$method" '{ print s, n, m, NR - 1, $1 }' \
        >> "$tmp/grids_full_sigmas.dat"
done < "$tmp/jobs"
# transfer: NFE 10 fitted grids (10 steps for these solvers) used by each other
echo "used_by fitted_for rmse" > "$tmp/grids_transfer.dat"
for user in euler dpmpp2m dpmpp3m unipc2 ipndm4; do
    for fitted in euler dpmpp2m dpmpp3m unipc2 ipndm4 logsnr; do
        if [ "$fitted" = logsnr ]; then
            set -- --spacing logsnr --nfe 10
        else
            set -- --grid "$tmp/$fitted-10-fit.npy"
        fi
        j=$("$diffode" sample --model "$model" --solver "$user" "$@" --n 2000 --seed 7 \
            --vs-reference)
        echo "$user $fitted $(num ref_rmse "$j")" >> "$tmp/grids_transfer.dat"
    done
done
mv "$tmp/grids_full.dat" "$tmp/grids_full_sigmas.dat" "$tmp/grids_transfer.dat" "$out/"
gnuplot -e "dir='$out'" "$here/grids_full.gp"
cat "$out/grids_full.dat" "$out/grids_transfer.dat"
