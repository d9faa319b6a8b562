# trajectory_diff.gp - difference from the baseline solver at every grid point, against
# sigma (log-log, sigma falling from left to right): DDIM against Euler is rounding (~1e-15
# relative), other methods differ by their truncation error. First seed, first NFE.
# Input:  DIR/trajectory_diff.dat (written by `diffode run` with trajectory = yes and a
#         baseline; blocks in the order of error_vs_nfe.dat without the baseline's own).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/trajectory_diff.gp
#         optional: caption, runs, nsolvers, baseline (plot.sh reads DIR/captions.txt)
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
if (!exists("caption") || caption eq "") caption = dir   # no captions.txt: say where
if (!exists("runs")) runs = ""
if (!exists("nsolvers")) nsolvers = 0
if (!exists("baseline") || baseline eq "") baseline = "the baseline"
data = dir."/trajectory_diff.dat"

stats data using 1:2 nooutput
nblocks = STATS_blocks
nsolvers = nsolvers > 1 ? nsolvers - 1 : 0      # the baseline has no line of its own
set terminal term size 1100,700 font ",11"
set output dir."/trajectory_diff.".ext
set title caption."\n".runs."; first seed, first NFE of the list" noenhanced font ",10"
set logscale xy
set xrange [*:*] reverse
set autoscale xfix
set format y "10^{%L}"
set xlabel "sigma  (sampling runs left to right, from sigma_{max} to sigma_{min})"
set ylabel "RMSE between this solver's and ".baseline."'s state at the grid point"
set grid xtics ytics lc rgb "#dddddd"
# outside on the right: the legend covers neither the data nor the x label
set key outside right top box opaque noenhanced font ",10" title "difference from ".baseline
# colour and marker by solver, dash by cell (lines.gp, beside this script)
load ARG0[1:strstrt(ARG0, "trajectory_diff.gp") - 1]."lines.gp"
# equal points (difference 0, e.g. the start) have no logarithm: dropped
plot for [i = 0:nblocks - 1] data index i using 1:($2 > 0 ? $2 : NaN) \
     with linespoints lt (i + 1) title columnheader(1)
