# error_vs_nfe.gp - RMSE of the final state against NFE, log-log, one line per solver line
# (mean over the seeds, with a min-max band when there are several), and small slope
# triangles NFE^-p (p = 1 .. 4) below the data, so a solver of order p runs parallel to
# the hypotenuse labelled "slope -p" (MATH.md section 8).
# Input:  DIR/error_vs_nfe.dat (written by `diffode run`: one block per solver line, each
#         opening with a "label" "rmse" "min" "max" header row; rows "nfe mean min max";
#         blocks separated by two blank lines; block i is solver i % nsolvers of cell
#         i / nsolvers, a cell being one (model, schedule, spacing)).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/error_vs_nfe.gp
#         optional: ylab, caption, runs (title lines), nsolvers (plot.sh reads them from
#         DIR/captions.txt); name = the table's stem, default "error_vs_nfe": plot.sh
#         draws the distribution metrics' METRIC_vs_nfe.dat (written by the sweep, rows
#         "nfe mean lo hi", the band a 95% t-interval over the seeds) with the same script.
#         On the log axis a band's lower end <= 0 is drawn at the bottom of the frame;
#         ylinear = 1 draws y linear from 0.
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
if (!exists("name")) name = "error_vs_nfe"
if (!exists("ylab")) ylab = "RMSE of final state vs reference"
if (!exists("caption") || caption eq "") caption = dir   # no captions.txt: say where
if (!exists("runs")) runs = ""
data = dir."/".name.".dat"

stats data using 1:2 nooutput
nblocks = STATS_blocks
xlo = STATS_min_x / 1.15
xhi = STATS_max_x * 1.15
stats data using 1:($2 > 0 ? $2 : NaN) nooutput
ytop = STATS_max_y
stats data using 1:($3 > 0 ? $3 : $2 > 0 ? $2 : NaN) nooutput
ymin = STATS_min_y                  # the smallest error of any seed
stats data using 1:4 nooutput
ytop = STATS_max_y > ytop ? STATS_max_y : ytop
if (!exists("nsolvers")) nsolvers = 0

set terminal term size 1100,760 font ",11"
set output dir."/".name.".".ext
set title caption."\n".runs noenhanced font ",10"
set logscale xy
set xlabel "NFE (model evaluations per sample)"
set ylabel ylab noenhanced
set grid xtics ytics lc rgb "#e0e0e0"
set key outside right top box opaque noenhanced font ",10" spacing 1.1 samplen 4

# Slope triangles: four small ones side by side in a strip below the smallest error, so
# none touches the data; each leg spans a factor r in NFE, so the drop is r^p.
Lx = log(xhi / xlo)
r = exp(0.08 * Lx)
ybase = ymin / (1.6 * r ** 4)
ylo = ybase / 3.0
do for [p = 1:4] {
    xa = xlo * exp(Lx * (0.05 + 0.14 * (p - 1)))
    xb = xa * r
    set object p polygon from xa, ybase to xb, ybase to xa, ybase * r ** p to xa, ybase \
        fc rgb "#f0f0f0" fs solid border lc rgb "#404040" lw 1.2 front
    set label p sprintf("slope -%d", p) at sqrt(xa * xb), ybase / 1.55 center font ",10" front
}
set xrange [xlo : xhi]
set yrange [ylo : ytop * 2]

# 1-2-5 ticks on both axes; on y only the decades are labelled past 7 decades
set xtics () nomirror
set ytics ()
do for [e = floor(log10(xlo)) : ceil(log10(xhi))] {
    do for [m in "1 2 5"] {
        v = m * 10.0 ** e
        if (v >= xlo && v <= xhi) { set xtics add (sprintf("%g", v) v) }
    }
}
ndec = log10(ytop * 2 / ylo)
do for [e = floor(log10(ylo)) : ceil(log10(ytop * 2))] {
    do for [m in "1 2 5"] {
        v = m * 10.0 ** e
        lab = m ne "1" && ndec > 7 ? "" : e == 0 ? m : m eq "1" ? sprintf("10^{%d}", e) : \
              sprintf("%s·10^{%d}", m, e)
        if (v >= ylo && v <= ytop * 2) { set ytics add (lab v) }
    }
}

# ylinear = 1: a linear y axis from 0 and no slope triangles, for a metric with a
# sampling floor and no order to show (mode_tv: the mass error is a few percent)
if (exists("ylinear") && ylinear) {
    unset logscale y
    do for [p = 1:4] { unset object p; unset label p }
    set ytics autofreq
    ylo = 0
    set yrange [0 : ytop * 1.05]
}

# colour and marker by solver, dash by cell (lines.gp, beside this script)
load ARG0[1:strstrt(ARG0, "error_vs_nfe.gp") - 1]."lines.gp"

plot for [i = 0:nblocks - 1] data index i using 1:($3 > 0 ? $3 : ylo):4 with filledcurves \
         lc rgb colours[solver(i) % K + 1] fs transparent solid 0.15 noborder notitle, \
     for [i = 0:nblocks - 1] data index i using 1:($2 > 0 ? $2 : NaN) with linespoints lt (i + 1) \
         title columnheader(1)
