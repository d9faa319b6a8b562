# orders.gp - observed order of each solver line (least-squares slope of log RMSE on
# log NFE over the fit range, MATH.md section 8) beside its theoretical order, with the
# observed value printed above its bar.
# Input:  DIR/orders.dat (written by `diffode run`: a header row, then "label" observed theory).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/orders.gp
#         optional: caption, runs, fit (title lines; plot.sh reads DIR/captions.txt)
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
if (!exists("caption") || caption eq "") caption = dir   # no captions.txt: say where
if (!exists("runs")) runs = ""
if (!exists("fit")) fit = "order_nfe_min and order_floor of the config"
data = dir."/orders.dat"

set terminal term size 1000,600 font ",11"
set output dir."/orders.".ext
set title caption."\n".runs."\norder fitted over ".fit noenhanced font ",10"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key autotitle columnhead top left box opaque
set xlabel "solver line"
set ylabel "order p   (RMSE ∝ NFE^{-p})"
set offsets 0, 0, 0.6, 0
set yrange [0:*]
set ytics 0.5
set grid ytics lc rgb "#dddddd"
set xtics rotate by -30 left noenhanced
# with 2 bars per cluster and gap 1 a cluster is 3 bar widths wide: the observed bar is
# centred 1/3 left of the cluster's centre
plot data using 2:xtic(1) lc rgb "#1f77b4", '' using 3 lc rgb "#bbbbbb", \
     '' using ($0 - 1.0 / 6):2:(sprintf("%.2f", $2)) with labels offset 0, 0.7 font ",8" \
        notitle
