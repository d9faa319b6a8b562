# flowmap1d.gp - the flow map of a 1-D model: paths of the reference flow (the model's
# exact flow, else rk8pd at 1e-10) from a fan of starting points, in the VP state
# x = xbar / sqrt(1 + sigma^2), over the density of x at each sigma as a heat map
# (MATH.md section 4). sigma decreases to the right, as the sampler runs.
# Input:  DIR/flowmap1d.dat ("log10 sigma, x" paths) and DIR/heat1d.dat (density grid),
#         written by `diffode run` (portrait.c).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/flowmap1d.gp
#         optional: pcaption (model, schedule, spacing, seed; plot.sh reads DIR/captions.txt)
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
if (!exists("pcaption") || pcaption eq "") pcaption = dir   # no captions.txt: say where
paths = dir."/flowmap1d.dat"
heat = dir."/heat1d.dat"

stats paths using 1 nooutput
npaths = STATS_blank          # each path ends with a blank line
set terminal term size 1000,660 font ",11"
set output dir."/flowmap1d.".ext
stats heat using 1:2 nooutput
set xrange [STATS_max_x : STATS_min_x]        # from sigma_max (left) down to sigma_min
set yrange [STATS_min_y : STATS_max_y]
set xlabel "log_{10} sigma   (sampling runs left to right)"
set ylabel "x = xbar / sqrt(1 + sigma^2)"
set cblabel "density of x at sigma"
set palette defined (0 "#ffffff", 1 "#fee8c8", 2 "#fdbb84", 3 "#e34a33", 4 "#7f0000")
set title pcaption."\n".sprintf("flow map: %d paths of the reference flow ", npaths).\
    "from x_T evenly spaced, over the density p_{sigma} of x"
set key bottom left box opaque
plot heat using 1:2:3 with image notitle, \
     paths using 1:2 with lines lc rgb "#08306b" lw 1.2 title "path of the reference flow"
