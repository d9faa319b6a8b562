# loss.gp - the training loss curve written by `diffode train --loss-csv`.
#   gnuplot -e "in='loss.csv'; out='loss.png'" plots/loss.gp
#   optional: what='...' (the run's settings, for the title), bound=B (the loss of the best
#   affine predictor, drawn as a line: a network that learnt the data's non-Gaussian
#   structure ends below it); `diffode train --loss-plot` passes both.
# Columns: step, batch loss, its exponential moving average (weight 0.01). Log y axis:
# the loss falls over decades early and then levels off near the data's Bayes loss.
if (!exists("in")) in = 'loss.csv'
if (!exists("out")) out = 'loss.png'
if (!exists("what")) what = in
if (!exists("bound")) bound = NaN
set terminal pngcairo size 900,560 font ",11"
set output out
set datafile separator ','
set key top right box opaque
set logscale y
set xlabel 'Adam step'
set ylabel 'DSM loss  E||eps_{theta} - eps||^2  (per sample)'
k = strstrt(what, ", MLP")             # the settings on two lines: data, then the run
if (k > 0) what = what[1:k - 1].",\n".what[k + 2:]
set title "denoising score-matching loss during training\n".what noenhanced font ",10"
set grid
plot in using 1:2 every 5 with points pt 7 ps 0.2 lc rgb '#99aacc' \
        title 'batch loss (every 5th step)', \
     in using 1:3 with lines lw 2 lc rgb '#cc3311' title 'moving average (weight 0.01)', \
     (bound == bound ? bound : NaN) with lines dt 2 lw 1.5 lc rgb '#333333' \
        title sprintf('linear bound %.4f (best affine predictor)', bound)
