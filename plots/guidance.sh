#!/bin/sh
# guidance.sh [DIFFODE] - the guidance study of docs/guidance.md, made with the toolkit:
# class 1 of experiments/configs/gmm2d_classes.json (two interleaved classes), ddpm-linear,
# logsnr grids, 1000 points x_T ~ N(0, I), seed 0. For each CFG scale w:
#   - the fraction of samples the exact classifier assigns to class 1, for the guided ODE
#     solved by `diffode reference` (gsl:rk8pd at 1e-12: the guidance's own effect);
#   - the RMSE of x_0 of dpmpp2m and unipc2 at NFE 10 and 20 against that reference
#     (--vs-reference: the solver's error on the same guided ODE, not the guidance's bias).
# Writes results/guidance/guidance.dat, draws docs/figures/guidance.png with gnuplot, and
# prints the table of the page (Markdown) on stdout. Run from the project root.
set -eu
diffode=${1:-build/diffode}
model=gmm:experiments/configs/gmm2d_classes.json
out=results/guidance
mkdir -p "$out" docs/figures

field() {   # NAME < JSON line -> its number
    sed "s/.*\"$1\":\([^,}]*\).*/\1/"
}

run() {     # w solver nfe [flags] -> "rmse fraction"
    w=$1 s=$2 n=$3
    shift 3
    line=$("$diffode" sample --model "$model" --class 1 --cfg-scale "$w" --solver "$s" \
           --nfe "$n" --n 1000 --vs-reference "$@")
    echo "$(echo "$line" | field ref_rmse) $(echo "$line" | field class_fraction)"
}

dat=$out/guidance.dat.tmp
echo "# w ref_fraction dpmpp2m10 dpmpp2m20 unipc2_10 unipc2_20 (RMSE of x_0 vs rk8pd)" > "$dat"
for w in 0 0.5 1 2 3 5 7.5 10 15; do
    frac=$("$diffode" reference --model "$model" --class 1 --cfg-scale "$w" --n 1000 \
           | field class_fraction)
    row="$w $frac"
    for s in dpmpp2m unipc2; do
        for n in 10 20; do
            set -- $(run "$w" "$s" "$n")
            row="$row $1"
        done
    done
    echo "$row" >> "$dat"
done
mv "$dat" "$out/guidance.dat"

gnuplot <<GP
set terminal pngcairo size 1100,440 font "sans,11"
set output "docs/figures/guidance.png"
set multiplot layout 1,2 title "CFG on class 1 of gmm2d\\\\_classes.json (ddpm-linear, logsnr grid, 1000 samples, seed 0)"
set key top left
set grid
set xlabel "guidance scale w"
set ylabel "RMSE of x_0 against rk8pd on the same guided ODE"
set logscale y
set format y "10^{%L}"
set title "solver error"
plot "$out/guidance.dat" u 1:3 w lp lw 2 pt 6 t "dpmpp2m, NFE 10", \
     "" u 1:4 w lp lw 2 pt 6 dt 2 t "dpmpp2m, NFE 20", \
     "" u 1:5 w lp lw 2 pt 4 t "unipc2, NFE 10", \
     "" u 1:6 w lp lw 2 pt 4 dt 2 t "unipc2, NFE 20"
unset logscale y
set format y "%g"
set yrange [0.4:1.02]
set key bottom right
set ylabel "fraction classified as class 1"
set title "guidance effect (exact guided ODE)"
plot "$out/guidance.dat" u 1:2 w lp lw 2 pt 7 t "rk8pd at 1e-12"
unset multiplot
GP

echo "| w | classified as 1 | dpmpp2m NFE 10 | dpmpp2m NFE 20 | unipc2 NFE 10 | unipc2 NFE 20 |"
echo "|---|---|---|---|---|---|"
awk '!/^#/ { printf "| %s | %.3f | %.2e | %.2e | %.2e | %.2e |\n", $1, $2, $3, $4, $5, $6 }' \
    "$out/guidance.dat"

# What the fixes do at high w, NFE 10 (dpmpp2m): each row's own guided ODE is the reference
# (the interval changes the ODE; dynamic thresholding changes only the solver).
echo
echo "| w | variant | RMSE vs its reference | classified as 1 |"
echo "|---|---|---|---|"
for w in 7.5 15; do
    for v in plain interval threshold; do
        case $v in
            plain) set -- ;;
            interval) set -- --guidance-interval 0.3,5 ;;
            threshold) set -- --thresholding dynamic ;;
        esac
        set -- $(run "$w" dpmpp2m 10 "$@")
        echo "| $w | $v | $(printf '%.2e' "$1") | $2 |"
    done
done
