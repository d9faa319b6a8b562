# trajectories2d.gp - paths of the solvers on a 2-D model, drawn in the VP state
# x = xbar / sqrt(1 + sigma^2) (MATH.md section 4: from ~N(0, I) at sigma_max to the data),
# over the model's log density at the end of the grid (shaded, with contours): where the
# coarse solvers miss the modes, and how.
# Input:  DIR/trajectories2d.dat (one block per solver, paths split by blank lines) and
#         DIR/density2d.dat ("x y logp" grid), both written by `diffode run` (portrait.c).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/trajectories2d.gp
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
paths = dir."/trajectories2d.dat"
dens = dir."/density2d.dat"

set terminal term size 1350,900 font ",10"
set output dir."/trajectories2d.".ext
set palette defined (0 "#ffffff", 1 "#e0e0e0", 2 "#a0a0a0")
unset colorbox

# contour lines of log p into a table, then one 2-D panel per solver
set contour base
set cntrparam levels incremental -12, 1.5, 3
unset surface
set table $contours
splot dens using 1:2:3 with lines
unset table
unset contour

array colours[6] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
stats paths using 1:2 nooutput
nblocks = STATS_blocks
stats dens using 1:2 nooutput
set xrange [STATS_min_x : STATS_max_x]
set yrange [STATS_min_y : STATS_max_y]
set size ratio -1
set key top left box opaque
set xlabel "x_1 = xbar_1 / sqrt(1 + sigma^2)"
set ylabel "x_2"
set multiplot layout 2,3 title "12 paths per solver from the same x_T, over contours of log p at sigma_{min} (every 1.5 nats)"
do for [i = 0:nblocks - 1] {
    plot dens using 1:2:3 with image notitle, \
         $contours using 1:2 with lines lc rgb "#737373" lw 0.6 notitle, \
         paths index i using 1:2 with linespoints lc rgb colours[(i % 6) + 1] lw 1.5 \
             pt 7 ps 0.5 title columnheader(1)
}
unset multiplot
