# grids_full.gp - the figures of docs/grids.md's full study from plots/grids_full.sh.
# Input:  DIR/grids_full.dat (solver nfe method train_rmse test_rmse, a header row) and
#         DIR/grids_full_sigmas.dat (solver nfe method point sigma).
# Output: DIR/grids_full_error.png (held-out RMSE against NFE, one panel per solver, one
#         line per grid) and DIR/grids_full_sigmas.png (the NFE 10 grids of dpmpp2m and
#         euler in log sigma, one row per method).
# Usage:  gnuplot -e "dir='results/grids'" plots/grids_full.gp
if (!exists("dir")) dir = "."
data = dir."/grids_full.dat"
sig = dir."/grids_full_sigmas.dat"
methods = "logsnr karras quadratic-t uniform-t gits ays fit optimum"
colors = "#1f77b4 #ff7f0e #2ca02c #8c564b #d62728 #9467bd #17becf #000000"
points = "7 5 9 11 13 4 6 1"
sel(s, m) = sprintf("< awk '$1 == \"%s\" && $3 == \"%s\"' %s", s, m, data)

set terminal pngcairo size 1500,900 font ",11"
set output dir."/grids_full_error.png"
set multiplot layout 2,3 title "Held-out RMSE of x_0 on the 2-D mixture (ddpm-linear; grids fitted on 500 x_T, judged on 2000 others)" font ",12"
set logscale xy
set format y "%g"
set xrange [3.7:21]
set xtics (4, 6, 8, 10, 14, 20)
set grid lc rgb "#dddddd"
set xlabel "NFE"
set ylabel "RMSE of x_0 against the exact teacher"
set key top right box opaque font ",9" maxrows 4
do for [s in "euler heun dpmpp2m dpmpp3m unipc2 ipndm4"] {
    set title s noenhanced
    plot for [k=1:8] sel(s, word(methods, k)) using 2:5 with linespoints \
         lc rgb word(colors, k) pt (word(points, k) + 0) lw 2 \
         title word(methods, k) noenhanced
}
unset multiplot

set output dir."/grids_full_sigmas.png"
set terminal pngcairo size 1300,560 font ",11"
set multiplot layout 1,2 title "The NFE 10 grids in log sigma (the points of each grid on its own row)" font ",12"
unset logscale y
set logscale x
set xtics auto
set mxtics default
set format x "10^{%L}"
set xrange [0.007:250]
set yrange [0.3:8.7]
set ytics ("logsnr" 8, "karras" 7, "quadratic-t" 6, "uniform-t" 5, "gits" 4, "ays" 3, "fit" 2, "optimum" 1)
set xlabel "sigma"
unset ylabel
unset key
selg(s, m) = sprintf("< awk '$1 == \"%s\" && $2 == 10 && $3 == \"%s\"' %s", s, m, sig)
do for [s in "euler dpmpp2m"] {
    set title s noenhanced
    plot for [k=1:8] selg(s, word(methods, k)) using 5:(9 - k) with points \
         lc rgb word(colors, k) pt (word(points, k) + 0) ps 1.6
}
unset multiplot
