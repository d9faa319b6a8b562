# trajectory_error.gp - RMSE against the reference at every grid point of a solve, against
# sigma (log-log, sigma falling from left to right as the sampler runs): where along the
# trajectory a solver loses accuracy. One line per solver line, first seed and first NFE.
# Input:  DIR/trajectory_error.dat (written by `diffode run` with trajectory = yes; blocks
#         in the order of error_vs_nfe.dat).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/trajectory_error.gp
#         optional: caption, runs, pcaption, nsolvers (plot.sh reads DIR/captions.txt)
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
if (!exists("caption") || caption eq "") caption = dir   # no captions.txt: say where
if (!exists("runs")) runs = ""
if (!exists("nsolvers")) nsolvers = 0
data = dir."/trajectory_error.dat"

stats data using 1:2 nooutput
nblocks = STATS_blocks
set terminal term size 1100,700 font ",11"
set output dir."/trajectory_error.".ext
set title caption."\n".runs."; first seed, first NFE of the list" noenhanced font ",10"
set logscale xy
set xrange [*:*] reverse
set autoscale xfix
set format y "10^{%L}"
set xlabel "sigma  (sampling runs left to right, from sigma_{max} to sigma_{min})"
set ylabel "RMSE vs reference at the grid point"
set grid xtics ytics lc rgb "#dddddd"
# outside on the right: the legend covers neither the data nor the x label
set key outside right top box opaque noenhanced font ",10"
# colour and marker by solver, dash by cell (lines.gp, beside this script)
load ARG0[1:strstrt(ARG0, "trajectory_error.gp") - 1]."lines.gp"
# the start point is exact (error 0): the log scale drops it
plot for [i = 0:nblocks - 1] data index i using 1:($2 > 0 ? $2 : NaN) \
     with linespoints lt (i + 1) title columnheader(1)
