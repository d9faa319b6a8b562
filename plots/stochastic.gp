# stochastic.gp - two panels of one metric against NFE (plots/stochastic.sh makes the
# inputs): fa, fb hold blocks "label" header + rows "nfe mean lo hi", two blank lines
# apart. Left: 8 lines (3 ODE solid, 5 SDE dashed); right: 2 grey reference lines of the
# left panel and the 5 newer samplers. Each line: its own colour and point type.
set terminal pngcairo size 1500,640 font ",11"
set output out
set multiplot layout 1,2 title sprintf("%s against NFE on %s (stochastic.ini; mean over seeds, band: 95%% t-interval)", metric, model) noenhanced
set logscale xy
set grid xtics ytics lc rgb "#e0e0e0"
set xlabel "NFE (model evaluations per sample)"
set ylabel metric noenhanced
set key top right box opaque noenhanced font ",10" spacing 1.05 samplen 4
set style fill transparent solid 0.12 noborder
set xrange [8:650]
set format y "%.0e"
# one y range for both panels, so that heights compare across them
stats fa using 2 nooutput
ya = STATS_min; yb = STATS_max
stats fb using 2 nooutput
ya = STATS_min < ya ? STATS_min : ya; yb = STATS_max > yb ? STATS_max : yb
set yrange [ya / 1.5 : yb * 2]
array ca[8] = ["#000000", "#0072b2", "#56b4e9", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#8b0000"]
array da[8] = [1, 1, 1, 2, 2, 2, 2, 2]
array cb[7] = ["#a0a0a0", "#a0a0a0", "#d55e00", "#0072b2", "#009e73", "#cc79a7", "#000000"]
array db[7] = [1, 2, 2, 2, 2, 2, 2]
set title "ODE solvers (solid) and k-diffusion / EDM samplers (dashed)"
plot for [i=0:7] fa index i using 1:3:4 with filledcurves lc rgb ca[i+1] notitle, \
     for [i=0:7] fa index i using 1:2 with linespoints lw 2 dt da[i+1] pt (i % 7) + 4 ps 1.1 \
         lc rgb ca[i+1] title columnheader(1)
set title "Restart, ER-SDE, SA-Solver (grey: dpmpp2m, sde-dpm1 of the left panel)"
plot for [i=0:6] fb index i using 1:3:4 with filledcurves lc rgb cb[i+1] notitle, \
     for [i=0:6] fb index i using 1:2 with linespoints lw (i < 2 ? 1.5 : 2) dt db[i+1] \
         pt (i % 7) + 4 ps 1.1 lc rgb cb[i+1] title columnheader(1)
unset multiplot
