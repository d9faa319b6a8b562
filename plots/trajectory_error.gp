# trajectory_error.gp - RMSE against the reference at every grid point of a solve, against
# sigma (log-log, sigma falling from left to right as the sampler runs): where along the
# trajectory a solver loses accuracy. One line per row of the first seed and first NFE.
# Input:  DIR/trajectory_error.dat (written by `diffode run` with trajectory = yes).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/trajectory_error.gp
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
data = dir."/trajectory_error.dat"

set terminal term size 900,720 font ",11"
set output dir."/trajectory_error.".ext
array colours[10] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", \
                     "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
do for [i = 1:10] { set linetype i lc rgb colours[i] lw 2 pt (i % 7) + 4 ps 0.8 }
set linetype cycle 10
set logscale xy
set xrange [*:*] reverse
set format y "10^{%L}"
set xlabel "sigma  (sampling runs left to right)"
set ylabel "RMSE vs reference at the grid point"
set grid xtics ytics lc rgb "#dddddd"
set key below box
set autoscale xfix
stats data using 1:2 nooutput
# the start point is exact (error 0): the log scale drops it
plot for [i = 0:STATS_blocks - 1] data index i using 1:($2 > 0 ? $2 : NaN) \
     with linespoints lt (i + 1) title columnheader(1)
