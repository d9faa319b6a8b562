# grids_xfer.gp - the figure of docs/grids.md's transfer between models, from
# plots/grids_xfer.sh.
# Input:  DIR/grids_xfer_sigmas.dat (solver nfe grid point sigma, a header row; grid is
#         FITTEDON-METHOD, FITTEDON one of A = gmm2d, B = ring8, C = gaussian).
# Output: DIR/grids_xfer_sigmas.png: dpmpp2m's NFE 6 and unipc2's NFE 10 grids in log
#         sigma, one row per grid, logsnr (uniform in log sigma from 157.4 to 0.01) on top.
# Usage:  gnuplot -e "dir='results/grids_xfer'" plots/grids_xfer.gp
if (!exists("dir")) dir = "."
sig = dir."/grids_xfer_sigmas.dat"
grids = "A-fit A-optimum B-fit B-optimum C-fit C-optimum"
names = "'A (gmm2d) fit' 'A (gmm2d) optimum' 'B (ring8) fit' 'B (ring8) optimum' 'C (gaussian) fit' 'C (gaussian) optimum'"
colors = "#1f77b4 #1f77b4 #d62728 #d62728 #2ca02c #2ca02c"
points = "7 6 5 4 9 8"
smax = 157.40728081040737    # ddpm-linear's sigma(t = 1) and sigma(t = 1e-3)
smin = 0.010000500037503125
selg(s, n, g) = sprintf("< awk '$1 == \"%s\" && $2 == %d && $3 == \"%s\"' %s", s, n, g, sig)

set terminal pngcairo size 1300,560 font ",11"
set output dir."/grids_xfer_sigmas.png"
set multiplot layout 1,2 title "Grids fitted on three models, in log sigma (each grid on its own row; ddpm-linear, 1000 x_T)" font ",12"
set logscale x
set format x "10^{%L}"
set xrange [0.007:250]
set yrange [0.3:7.7]
set ytics ("logsnr" 7, "A (gmm2d) fit" 6, "A (gmm2d) optimum" 5, "B (ring8) fit" 4, "B (ring8) optimum" 3, "C (gaussian) fit" 2, "C (gaussian) optimum" 1)
set grid xtics lc rgb "#dddddd"
set xlabel "sigma"
unset key
do for [c in "dpmpp2m:6 unipc2:10"] {
    s = c[1:strstrt(c, ":") - 1]
    n = int(c[strstrt(c, ":") + 1:]) + 0
    set title sprintf("%s at NFE %d", s, n) noenhanced
    plot sample [i=0:n:1] '+' using (smax * (smin / smax) ** ($1 / n)):(7) with points \
             lc rgb "#7f7f7f" pt 2 ps 1.6, \
         for [k=1:6] selg(s, n, word(grids, k)) using 5:(7 - k) with points \
             lc rgb word(colors, k) pt (word(points, k) + 0) ps 1.6
}
unset multiplot
