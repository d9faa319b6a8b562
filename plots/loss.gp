# loss.gp - the training loss curve written by `diffode train --loss-csv`.
#   gnuplot -e "in='loss.csv'; out='loss.png'" plots/loss.gp
# Columns: step, batch loss, its exponential moving average (weight 0.01). Log y axis:
# the loss falls over decades early and then levels off near the data's Bayes loss.
if (!exists("in")) in = 'loss.csv'
if (!exists("out")) out = 'loss.png'
set terminal pngcairo size 800,500 noenhanced
set output out
set datafile separator ','
set key top right
set logscale y
set xlabel 'Adam step'
set ylabel 'DSM loss  E||eps_theta - eps||^2'
set title in
set grid
plot in using 1:2 every 5 with points pt 7 ps 0.2 lc rgb '#99aacc' title 'batch loss', \
     in using 1:3 with lines lw 2 lc rgb '#cc3311' title 'moving average'
