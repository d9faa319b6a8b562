# orders.gp - observed order of each solver line (least-squares slope of log RMSE on
# log NFE over NFE >= order_nfe_min, MATH.md section 8) beside its theoretical order.
# Input:  DIR/orders.dat (written by `diffode run`: a header row, then "label" observed theory).
# Usage:  gnuplot -e "dir='results/NAME'; term='pngcairo'; ext='png'" plots/orders.gp
if (!exists("dir")) dir = "."
if (!exists("term")) term = "pngcairo"
if (!exists("ext")) ext = "png"
data = dir."/orders.dat"

set terminal term size 900,520 font ",11"
set output dir."/orders.".ext
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key autotitle columnhead top left
set ylabel "order p   (error ~ C NFE^-p)" noenhanced
set offsets 0, 0, 0.5, 0
set yrange [0:*]
set grid ytics lc rgb "#dddddd"
set xtics rotate by -30 left
plot data using 2:xtic(1) lc rgb "#1f77b4", '' using 3 lc rgb "#bbbbbb"
