# trajectories2d.gp - paths of the solvers on a 2-D model, drawn in the VP state
# x = xbar / sqrt(1 + sigma^2) (MATH.md section 4: from ~N(0, I) at sigma_max to the data),
# over the model's log density at the end of the grid (shaded, with contours): where the
# coarse solvers miss the modes, and how. Each path starts at an open circle (x_T) and
# ends at a filled square; each panel counts the paths that end outside its frame.
# Input:  DIR/trajectories2d.dat (one block per solver, headed "solver, NFE n" with the NFE
#         the solve used; paths split by single blank lines) and DIR/density2d.dat
#         ("x y logp" grid), both written by `diffode run` (portrait.c).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/trajectories2d.gp
#         optional: pcaption (model, schedule, spacing, seed; plot.sh reads DIR/captions.txt)
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
if (!exists("pcaption") || pcaption eq "") pcaption = dir   # no captions.txt: say where
paths = dir."/trajectories2d.dat"
dens = dir."/density2d.dat"

set terminal term size 1350,960 font ",10"
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
xmin = STATS_min_x
xmax = STATS_max_x
ymin = STATS_min_y
ymax = STATS_max_y
outside(x, y) = (x < xmin || x > xmax || y < ymin || y > ymax) ? 1 : 0

# Per solver, before any range is set (stats skips points outside a set range): the paths
# (data blocks of the index), the points per path m, and the ends outside the frame.
# stats reads the block's title row as a header; plot below sees it as an extra first
# point of path 0, so there path 0's start and end are one point later than the others'.
array npaths[nblocks]
array m[nblocks]
array nout[nblocks]
set datafile columnheaders
do for [i = 0:nblocks - 1] {
    stats paths index i every ::0::0 using 1 nooutput
    npaths[i + 1] = STATS_records
    stats paths index i using 1 nooutput
    m[i + 1] = STATS_records / npaths[i + 1]
    last = m[i + 1] - 1
    stats paths index i every ::last::last using (outside($1, $2)) nooutput
    nout[i + 1] = int(STATS_sum)
}
set datafile nocolumnheaders

set xrange [xmin : xmax]
set yrange [ymin : ymax]
set size ratio -1
set key top left box opaque noenhanced font ",9"
set xlabel "x_1 = xbar_1 / sqrt(1 + sigma^2)"
set ylabel "x_2 = xbar_2 / sqrt(1 + sigma^2)"
set multiplot layout 2,3 title pcaption."\n12 paths per solver from the same x_T ".\
    "(open circle) to the end of the grid (filled square), over contours of log p ".\
    "at sigma_{min} (every 1.5 nats)"
do for [i = 0:nblocks - 1] {
    set title sprintf("%d of %d paths end outside the frame", nout[i + 1], npaths[i + 1]) \
        font ",10"
    c = colours[(i % 6) + 1]
    k = m[i + 1]                   # path 0's last point (after the title row); others: k - 1
    plot dens using 1:2:3 with image notitle, \
         $contours using 1:2 with lines lc rgb "#737373" lw 0.6 notitle, \
         paths index i using 1:2 with linespoints lc rgb c lw 1.5 pt 7 ps 0.4 \
             title columnheader(1), \
         paths index i every ::1:0:1:0 using 1:2 with points pt 6 ps 1.3 lc rgb "black" \
             title "start x_T", \
         paths index i every ::0:1:0 using 1:2 with points pt 6 ps 1.3 lc rgb "black" \
             notitle, \
         paths index i every ::k:0:k:0 using 1:2 with points pt 5 ps 1.0 lc rgb c \
             title "end", \
         paths index i every ::(k - 1):1:(k - 1) using 1:2 with points pt 5 ps 1.0 \
             lc rgb c notitle
}
unset multiplot
