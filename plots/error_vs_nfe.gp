# error_vs_nfe.gp - RMSE of the final state against NFE, log-log, one line per solver, with
# dashed reference slopes C NFE^-p (p = 1 .. 4) through the smallest error at the largest
# NFE, so a solver of order p runs parallel to line p (MATH.md section 8).
# Input:  DIR/error_vs_nfe.dat (written by `diffode run`: one block per solver line, each
#         opening with a "label" "rmse" header row; blocks separated by two blank lines).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/error_vs_nfe.gp
#         (optional: ylab='...', which plot.sh sets for mode = roundtrip)
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
if (!exists("ylab")) ylab = "RMSE of final state vs reference"
data = dir."/error_vs_nfe.dat"

set terminal term size 900,640 font ",11"
set output dir."/error_vs_nfe.".ext
set logscale xy
set format y "10^{%L}"
set xlabel "NFE (model evaluations per sample)"
set ylabel ylab
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key outside right top box opaque

# ten distinguishable lines (matplotlib's tab10 colours, varied point shapes)
array colours[10] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", \
                     "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
do for [i = 1:10] { set linetype i lc rgb colours[i] lw 2 pt (i % 7) + 4 ps 0.9 }
set linetype cycle 10

stats data using 1:2 nooutput
x1 = STATS_max_x
y1 = STATS_min_y
nblocks = STATS_blocks
slope(x, p) = y1 * (x / x1) ** (-p)
set xrange [STATS_min_x / 1.15 : x1 * 1.15]
set yrange [y1 / 3 : STATS_max_y * 3]

plot for [i = 0:nblocks - 1] data index i using 1:2 with linespoints lt (i + 1) \
         title columnheader(1), \
     for [p = 1:4] slope(x, p) with lines dt 2 lc rgb "#999999" \
         lw 1 title sprintf("NFE^{-%d}", p)
