#!/bin/sh
# grids_study.sh [DIFFODE] [OUTDIR] - the study of docs/grids.md: for dpmpp2m and unipc2
# at NFE 4..10 on the 2-D mixture (experiments/configs/gmm2d.json, ddpm-linear, sigma
# 157.4 -> 0.01), `diffode grid` with the logsnr, quadratic-t, GITS (Euler cost, 100
# candidates, coeff 1) and optimum grids, fitted on 1000 x_T (seed 0) and judged on 2000
# held-out x_T. Writes OUTDIR/grids.dat (solver nfe method train_rmse test_rmse),
# OUTDIR/grids_sigmas.dat (solver nfe method point sigma) and the two figures
# OUTDIR/grids_error.png, OUTDIR/grids_sigmas.png (plots/grids.gp); prints grids.dat.
# Run from the project root: plots/grids_study.sh build/diffode docs/figures
set -eu
diffode=${1:-build/diffode}
out=${2:-results/grids}
here=$(dirname "$0")
model=gmm:experiments/configs/gmm2d.json
mkdir -p "$out"
tmp=$(mktemp -d /tmp/diffode-grids.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
num() {     # key json -> value
    printf '%s\n' "$2" | sed 's/.*"'"$1"'":\([^,}]*\).*/\1/'
}
echo "solver nfe method train_rmse test_rmse" > "$tmp/grids.dat"
echo "solver nfe method point sigma" > "$tmp/grids_sigmas.dat"
for solver in dpmpp2m unipc2; do
    for nfe in 4 5 6 7 8 9 10; do
        for method in logsnr quadratic-t gits optimum; do
            j=$("$diffode" grid --model "$model" --solver "$solver" --nfe "$nfe" \
                --method "$method" --n 1000 --n-test 2000 --out "$tmp/g.npy")
            echo "$solver $nfe $method $(num train_rmse "$j") $(num test_rmse "$j")" \
                >> "$tmp/grids.dat"
            printf '%s\n' "$j" | sed 's/.*"sigmas":\[\([^]]*\)\].*/\1/' | tr ',' '\n' |
                awk -v s="$solver" -v n="$nfe" -v m="$method" '{ print s, n, m, NR - 1, $1 }' \
                >> "$tmp/grids_sigmas.dat"
        done
    done
done
mv "$tmp/grids.dat" "$tmp/grids_sigmas.dat" "$out/"
gnuplot -e "dir='$out'" "$here/grids.gp"
cat "$out/grids.dat"
