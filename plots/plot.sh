#!/bin/sh
# plot.sh RESULTS_DIR - draws every figure a results directory has data for, as PNG and
# SVG, with the gnuplot scripts beside this file. `diffode run` calls it after a sweep;
# run it by hand to redraw. Exit status: 0 drawn; 1 a figure failed (it is reported and
# the others are still drawn); 3 gnuplot is missing; 4 the directory has no figure data.
set -u
dir=${1:?usage: plots/plot.sh RESULTS_DIR}
here=$(dirname "$0")
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot.sh: gnuplot not found: no figures for $dir" >&2
    exit 3
fi
# pngcairo draws antialiased text; plain png (libgd) is the fallback some builds have.
if gnuplot -e "set terminal pngcairo" >/dev/null 2>&1; then png=pngcairo; else png=png; fi
status=0
drawn=0
# mode = roundtrip (inversion.ini): the error is the round trip's, against the start
ylab="RMSE of final state vs reference"
grep -Eq '^[[:space:]]*mode[[:space:]]*=[[:space:]]*roundtrip' "$dir/config.ini" 2>/dev/null &&
    ylab="round-trip RMSE vs start (NFE of both legs)"
# captions.txt (written by the sweep, experiments/sweep_summary.c): "key text" lines saying
# what was run, for the titles; ' doubled for gnuplot's single-quoted strings.
cap() { sed -n "s/^$1 //p" "$dir/captions.txt" 2>/dev/null | head -n 1 | sed "s/'/''/g"; }
caps="caption='$(cap sweep)'; runs='$(cap runs)'; pcaption='$(cap portrait)'; fit='$(cap fit)'"
caps="$caps; baseline='$(cap baseline)'"
n=$(cap solvers | tr -cd 0-9)
caps="$caps; nsolvers=${n:-0}"
for fig in error_vs_nfe orders trajectory_error trajectory_diff trajectories2d samples2d \
    flowmap1d; do
    [ -s "$dir/$fig.dat" ] || continue
    drawn=$((drawn + 1))
    for out in "$png png" "svg svg"; do
        set -- $out
        gnuplot -e "dir='$dir'; term='$1'; ext='$2'; ylab='$ylab'; $caps" "$here/$fig.gp" ||
            { echo "plot.sh: $fig.$2 failed" >&2; status=1; }
    done
done
# The distribution metrics against the exact data law (runs.csv's last columns; written
# only where they apply): the same script on METRIC_vs_nfe.dat, the band a 95% t-interval
# over the seeds instead of min to max. Only the positive ones get a log-log figure:
# energy (an unbiased estimate, below 0 at its noise floor) stays in summary.json.
mcaps=$(echo "$caps" | sed 's/band: min to max/band: 95% t-interval over the seeds/')
for metric in w2_exact kl_exact mode_tv; do
    [ -s "$dir/${metric}_vs_nfe.dat" ] || continue
    lin=0
    case $metric in
    w2_exact) mlab="exact W2 of the output law to the data law at sigma_end" ;;
    kl_exact) mlab="exact KL(output law || data law at sigma_end), nats" ;;
    mode_tv) mlab="mode-mass total variation 1/2 sum_k |m_k - w_k|"; lin=1 ;;
    esac
    drawn=$((drawn + 1))
    for out in "$png png" "svg svg"; do
        set -- $out
        gnuplot -e "dir='$dir'; term='$1'; ext='$2'; name='${metric}_vs_nfe'; ylab='$mlab'; ylinear=$lin; $mcaps" \
            "$here/error_vs_nfe.gp" || { echo "plot.sh: ${metric}_vs_nfe.$2 failed" >&2; status=1; }
    done
done
[ $drawn -gt 0 ] || { echo "plot.sh: no figure data (*.dat) in $dir" >&2; exit 4; }
exit $status
