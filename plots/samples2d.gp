# samples2d.gp - final samples of a 2-D model against its density: the exact ODE solution
# (reference flow) and the first three solvers of the config at the first NFE of its
# list, each a scatter over contours of log p at the end of the grid. The frame is the
# reference samples' box; each panel counts the samples that fall outside it (heun and
# rk4 at 8 NFE throw most of theirs out), so nothing is clipped without saying so.
# Input:  DIR/samples2d.dat (block 0: reference, then one per solver, headed "solver,
#         NFE n"), DIR/density2d.dat, written by `diffode run` (portrait.c).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/samples2d.gp
#         optional: pcaption (model, schedule, spacing, seed; plot.sh reads DIR/captions.txt)
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
if (!exists("pcaption") || pcaption eq "") pcaption = dir   # no captions.txt: say where
pts = dir."/samples2d.dat"
dens = dir."/density2d.dat"

stats pts using 1:2 nooutput
nblocks = STATS_blocks
set terminal term size 520 * nblocks + 60, 600 font ",10"
set output dir."/samples2d.".ext
set contour base
set cntrparam levels incremental -12, 1.5, 3
unset surface
set table $contours
splot dens using 1:2:3 with lines
unset table
unset contour
stats dens using 1:2 nooutput
xmin = STATS_min_x
xmax = STATS_max_x
ymin = STATS_min_y
ymax = STATS_max_y
outside(x, y) = (x < xmin || x > xmax || y < ymin || y > ymax) ? 1 : 0
# samples and those outside the frame, per panel, before the ranges are set (stats skips
# points outside a set range)
array n[nblocks]
array nout[nblocks]
do for [i = 0:nblocks - 1] {
    stats pts index i using (outside($1, $2)) nooutput
    n[i + 1] = STATS_records
    nout[i + 1] = int(STATS_sum)
}
set xrange [xmin : xmax]
set yrange [ymin : ymax]
set size ratio -1
set xlabel "x_1"
set ylabel "x_2"
set key top left box opaque noenhanced
array colours[4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
set multiplot layout 1,nblocks title pcaption."\n".sprintf("%d final samples per panel ", \
    n[1])."over contours of log p at sigma_{min} (every 1.5 nats)"
do for [i = 0:nblocks - 1] {
    set title (nout[i + 1] > 0 ? sprintf("%d of %d samples outside the frame (not shown)", \
        nout[i + 1], n[i + 1]) : sprintf("all %d samples inside the frame", n[i + 1])) \
        font ",10"
    plot $contours using 1:2 with lines lc rgb "#969696" lw 0.8 notitle, \
         pts index i using 1:2 with points pt 7 ps 0.35 lc rgb colours[i + 1] \
             title columnheader(1)
}
unset multiplot
