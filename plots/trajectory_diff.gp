# trajectory_diff.gp - difference from the baseline solver at every grid point, against
# sigma (log-log, sigma falling from left to right): DDIM against Euler is rounding (~1e-15
# relative), other methods differ by their truncation error. First seed, first NFE.
# Input:  DIR/trajectory_diff.dat (written by `diffode run` with trajectory = yes and a baseline).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/trajectory_diff.gp
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
data = dir."/trajectory_diff.dat"

set terminal term size 900,720 font ",11"
set output dir."/trajectory_diff.".ext
array colours[10] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", \
                     "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
do for [i = 1:10] { set linetype i lc rgb colours[i] lw 2 pt (i % 7) + 4 ps 0.8 }
set linetype cycle 10
set logscale xy
set xrange [*:*] reverse
set format y "10^{%L}"
set xlabel "sigma  (sampling runs left to right)"
set ylabel "RMSE vs the baseline solver at the grid point"
set grid xtics ytics lc rgb "#dddddd"
set key below box
set autoscale xfix
stats data using 1:2 nooutput
# equal points (difference 0, e.g. the start) have no logarithm: dropped
plot for [i = 0:STATS_blocks - 1] data index i using 1:($2 > 0 ? $2 : NaN) \
     with linespoints lt (i + 1) title columnheader(1)
