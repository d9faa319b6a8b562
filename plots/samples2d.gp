# samples2d.gp - final samples of a 2-D model against its density: the exact ODE solution
# (reference flow) and the first three solvers of the config at the first NFE of its
# list, each a scatter over contours of log p at the end of the grid.
# Input:  DIR/samples2d.dat (block 0: reference, then one per solver), DIR/density2d.dat,
#         written by `diffode run` (portrait.c).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/samples2d.gp
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
pts = dir."/samples2d.dat"
dens = dir."/density2d.dat"

stats pts using 1:2 nooutput
nblocks = STATS_blocks
set terminal term size 520 * nblocks + 60, 560 font ",10"
set output dir."/samples2d.".ext
set contour base
set cntrparam levels incremental -12, 1.5, 3
unset surface
set table $contours
splot dens using 1:2:3 with lines
unset table
unset contour
stats dens using 1:2 nooutput
set xrange [STATS_min_x : STATS_max_x]
set yrange [STATS_min_y : STATS_max_y]
set size ratio -1
set xlabel "x_1"
set ylabel "x_2"
set key top left box opaque
array colours[4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
set multiplot layout 1,nblocks title "512 samples over contours of log p at sigma_{min} (every 1.5 nats)"
do for [i = 0:nblocks - 1] {
    plot $contours using 1:2 with lines lc rgb "#969696" lw 0.8 notitle, \
         pts index i using 1:2 with points pt 7 ps 0.35 lc rgb colours[i + 1] \
             title columnheader(1)
}
unset multiplot
