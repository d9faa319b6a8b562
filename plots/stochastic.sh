#!/bin/sh
# stochastic.sh RESULTS_DIR METRIC MODEL OUT.png - a figure of docs/stochastic.md's study:
# METRIC (w2_exact, kl_exact, mode_tv, ...) against NFE on MODEL (a [model] name of
# stochastic.ini), from RESULTS_DIR/METRIC_vs_nfe.dat that `diffode run` writes, in two
# panels so that the 13 solver lines stay apart: left the ODE solvers and the
# k-diffusion / EDM samplers, right the Restart, ER-SDE and SA samplers with the best ODE
# (dpmpp2m) and SDE (sde-dpm1) rows of the left panel in grey for reference. Mean over
# the seeds, the 95% t-interval as a band (none for the seed-free exact metrics).
set -eu
usage="usage: plots/stochastic.sh RESULTS_DIR METRIC MODEL OUT.png"
dir=${1:?$usage}; metric=${2:?$usage}; model=${3:?$usage}; out=${4:?$usage}
command -v gnuplot >/dev/null 2>&1 || { echo "stochastic.sh: gnuplot not found" >&2; exit 3; }
in="$dir/${metric}_vs_nfe.dat"
[ -r "$in" ] || { echo "stochastic.sh: cannot read $in" >&2; exit 2; }
tmp=$(mktemp -d /tmp/stochastic.XXXXXX)
trap 'rm -rf "$tmp" "$out.tmp"' EXIT
# panel files: the blocks of the listed solvers on MODEL, in the listed order
panel() {   # panel OUTFILE SOLVER...
    f=$1; shift
    : > "$f"
    for s in "$@"; do
        awk -v m="$model" -v want="\"$s $model\"" 'index($0, want) == 1 { on = 1; sub(" " m "\"", "\""); print; next }
             /^"/ { on = 0 } on && NF == 4 { print } END { }' "$in" > "$tmp/one"
        [ -s "$tmp/one" ] || { echo "stochastic.sh: no line \"$s $model\" in $in" >&2; exit 2; }
        cat "$tmp/one" >> "$f"; printf '\n\n' >> "$f"
    done
}
panel "$tmp/a" euler dpmpp2m edm-nochurn euler-a sde-dpm1 dpmpp2m-sde euler-maruyama edm-churn
panel "$tmp/b" dpmpp2m sde-dpm1 restart er-sde1 er-sde2 er-sde3 sa-solver
gnuplot -e "fa='$tmp/a'; fb='$tmp/b'; out='$out.tmp'; metric='$metric'; model='$model'" \
    "$(dirname "$0")/stochastic.gp"
mv "$out.tmp" "$out"
