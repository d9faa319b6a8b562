# grids.gp - the figures of docs/grids.md from plots/grids_study.sh's data.
# Input:  DIR/grids.dat (solver nfe method train_rmse test_rmse, a header row) and
#         DIR/grids_sigmas.dat (solver nfe method point sigma).
# Output: DIR/grids_error.png (held-out RMSE against NFE, one panel per solver) and
#         DIR/grids_sigmas.png (the NFE 6 grids in log sigma, one row per method).
# Usage:  gnuplot -e "dir='results/grids'" plots/grids.gp
if (!exists("dir")) dir = "."
data = dir."/grids.dat"
sig = dir."/grids_sigmas.dat"
methods = "logsnr quadratic-t gits optimum"
colors = "#1f77b4 #2ca02c #d62728 #000000"
points = "7 5 9 4"
sel(s, m) = sprintf("< awk '$1 == \"%s\" && $3 == \"%s\"' %s", s, m, data)

set terminal pngcairo size 1100,480 font ",11"
set output dir."/grids_error.png"
set multiplot layout 1,2 title "Held-out RMSE of x_0 on the 2-D mixture (ddpm-linear, fitted on 1000 x_T, judged on 2000 others)" font ",11"
set logscale y
set format y "%g"
set xrange [3.5:10.5]
set xtics 1
set grid lc rgb "#dddddd"
set xlabel "NFE"
set ylabel "RMSE of x_0 against the exact teacher"
set key top right box opaque
do for [s in "dpmpp2m unipc2"] {
    set title s noenhanced
    plot for [k=1:4] sel(s, word(methods, k)) using 2:5 with linespoints \
         lc rgb word(colors, k) pt (word(points, k) + 0) lw 2 title word(methods, k) noenhanced
}
unset multiplot

set output dir."/grids_sigmas.png"
set terminal pngcairo size 1100,520 font ",11"
set multiplot layout 1,2 title "The NFE 6 grids in log sigma (points of each grid on its own row)" font ",11"
unset logscale y
set logscale x
set xtics auto
set mxtics default
set format x "10^{%L}"
set xrange [0.007:250]
set yrange [0.3:4.7]
set ytics ("logsnr" 4, "quadratic-t" 3, "gits" 2, "optimum" 1)
set xlabel "sigma"
unset ylabel
unset key
selg(s, m) = sprintf("< awk '$1 == \"%s\" && $2 == 6 && $3 == \"%s\"' %s", s, m, sig)
do for [s in "dpmpp2m unipc2"] {
    set title s noenhanced
    plot for [k=1:4] selg(s, word(methods, k)) using 5:(5 - k) with points \
         lc rgb word(colors, k) pt (word(points, k) + 0) ps 1.6
}
unset multiplot
