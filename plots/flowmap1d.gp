# flowmap1d.gp - the flow map of a 1-D model: paths of the exact (or rk8pd) flow from a
# fan of starting points, in the VP state x = xbar / sqrt(1 + sigma^2), over the density
# of x at each sigma as a heat map (MATH.md section 4). sigma decreases to the right.
# Input:  DIR/flowmap1d.dat ("log10 sigma, x" paths) and DIR/heat1d.dat (density grid),
#         written by `diffode run` (portrait.c).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/flowmap1d.gp
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
paths = dir."/flowmap1d.dat"
heat = dir."/heat1d.dat"

set terminal term size 1000,640 font ",11"
set output dir."/flowmap1d.".ext
stats heat using 1:2 nooutput
set xrange [STATS_max_x : STATS_min_x]        # from sigma_max (left) down to sigma_min
set yrange [STATS_min_y : STATS_max_y]
set xlabel "log_{10} sigma"
set ylabel "x = xbar / sqrt(1 + sigma^2)"
set cblabel "density of x at sigma"
set palette defined (0 "#ffffff", 1 "#fee8c8", 2 "#fdbb84", 3 "#e34a33", 4 "#7f0000")
set title "flow map: paths of the exact flow over the density p_{sigma}"
plot heat using 1:2:3 with image notitle, \
     paths using 1:2 with lines lc rgb "#08306b" lw 1.2 notitle
