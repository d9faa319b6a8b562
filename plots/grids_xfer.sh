#!/bin/sh
# grids_xfer.sh [DIFFODE] [OUTDIR] [JOBS] - grids transferred between models (docs/grids.md,
# issue 15): `diffode grid --method fit` (BFGS2 from logsnr, defaults) and `--method
# optimum` (2 starts) for dpmpp2m and unipc2 at NFE 6 and 10, each fitted on 1000 x_T
# (seed 0) of three models on ddpm-linear (sigma 157.4 -> 0.01):
#   A  gmm:experiments/configs/gmm2d.json   the 2-D mixture of the study (3 components)
#   B  gmm:experiments/configs/ring8.json   8 components on a circle of radius 4, std 0.3,
#                                           weights 0.05 to 0.2
#   C  gaussian:dim=2,std=1
# then every grid run by its solver at its NFE on every model through `sample --grid` on
# 2000 fresh x_T (seed 7, RMSE of x_0 against the exact teacher, `--vs-reference`), beside
# logsnr. JOBS `diffode grid` runs at once (default 2).
# Writes OUTDIR/grids_xfer.dat (used_on solver nfe grid rmse; grid is logsnr or
# FITTEDON-METHOD, e.g. A-fit) and OUTDIR/grids_xfer_sigmas.dat (solver nfe grid point
# sigma) and the figure OUTDIR/grids_xfer_sigmas.png (plots/grids_xfer.gp); prints the
# table of docs/grids.md (rows: model used on, solver, NFE).
# Run from the project root: plots/grids_xfer.sh build/diffode results/grids_xfer 2
set -eu
diffode=${1:-build/diffode}
out=${2:-results/grids_xfer}
jobs=${3:-2}
here=$(dirname "$0")
mkdir -p "$out"
tmp=$(mktemp -d /tmp/diffode-gridsxfer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
model() {   # letter -> model spec
    case $1 in
        A) echo gmm:experiments/configs/gmm2d.json ;;
        B) echo gmm:experiments/configs/ring8.json ;;
        C) echo gaussian:dim=2,std=1 ;;
    esac
}
num() {     # key json -> value
    printf '%s\n' "$2" | sed 's/.*"'"$1"'":\([^,}]*\).*/\1/'
}
for m in A B C; do
    for solver in dpmpp2m unipc2; do
        for nfe in 6 10; do
            for method in fit optimum; do
                echo "$m $(model $m) $solver $nfe $method"
            done
        done
    done
done > "$tmp/jobs"
# one `diffode grid` per line: its grid in tmp/M-SOLVER-NFE-METHOD.npy, its JSON beside it
xargs -P "$jobs" -L 1 sh -c '
    d=$0; tmp=$1; m=$2; spec=$3; solver=$4; nfe=$5; method=$6
    [ "$method" = optimum ] && extra="--starts 2" || extra=
    "$d" grid --model "$spec" --solver "$solver" --nfe "$nfe" --method "$method" \
        --n 1000 --n-test 2000 $extra --out "$tmp/$m-$solver-$nfe-$method.npy" \
        > "$tmp/$m-$solver-$nfe-$method.json"
' "$diffode" "$tmp" < "$tmp/jobs"
echo "solver nfe grid point sigma" > "$tmp/grids_xfer_sigmas.dat"
while read -r m spec solver nfe method; do
    j=$(cat "$tmp/$m-$solver-$nfe-$method.json")
    printf '%s\n' "$j" | sed 's/.*"sigmas":\[\([^]]*\)\].*/\1/' | tr ',' '\n' |
        awk -v s="$solver" -v n="$nfe" -v g="$m-$method" '{ print s, n, g, NR - 1, $1 }' \
        >> "$tmp/grids_xfer_sigmas.dat"
done < "$tmp/jobs"
# every grid on every model, on the same held-out batch (seed 7)
echo "used_on solver nfe grid rmse" > "$tmp/grids_xfer.dat"
for used in A B C; do
    for solver in dpmpp2m unipc2; do
        for nfe in 6 10; do
            for grid in logsnr A-fit A-optimum B-fit B-optimum C-fit C-optimum; do
                if [ "$grid" = logsnr ]; then
                    set -- --spacing logsnr --nfe "$nfe"
                else
                    set -- --grid "$tmp/${grid%-*}-$solver-$nfe-${grid#*-}.npy"
                fi
                j=$("$diffode" sample --model "$(model $used)" --solver "$solver" "$@" \
                    --n 2000 --seed 7 --vs-reference)
                echo "$used $solver $nfe $grid $(num ref_rmse "$j")" >> "$tmp/grids_xfer.dat"
            done
        done
    done
done
mv "$tmp/grids_xfer.dat" "$tmp/grids_xfer_sigmas.dat" "$out/"
gnuplot -e "dir='$out'" "$here/grids_xfer.gp"
# the table: one row per (model used on, solver, NFE), one column per grid
awk 'NR > 1 { key = $1 " " $2 " " $3; if (!(key in seen)) { seen[key] = 1; keys[++n] = key }
              v[key, $4] = $5 }
     END { split("logsnr A-fit A-optimum B-fit B-optimum C-fit C-optimum", g, " ")
           printf "used_on solver nfe"; for (i = 1; i <= 7; i++) printf " %s", g[i]; print ""
           for (k = 1; k <= n; k++) { printf "%s", keys[k]
               for (i = 1; i <= 7; i++) printf " %.3g", v[keys[k], g[i]]; print "" } }' \
    "$out/grids_xfer.dat"
