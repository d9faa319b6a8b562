# exact_law.gp - exact W2 of each sampler's output law against NFE (plots/exact_law.sh
# writes dat: blocks headed "label" ode_flag, then "nfe w2" rows). ODE solvers solid,
# stochastic samplers dashed; colour and marker by line.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo size 1000,650 font ",11" } \
else { set terminal png size 1000,650 }
set output out
set title "Exact W2 of the output law to the data law, Gaussian data N((1, -0.5), 0.5^2 I)\n" . \
          "ddpm-linear, logsnr grid t = 1 -> 1e-3, x_T ~ N(0, I); ddim at eta 1, edm-sde churn 10;\n" . \
          "restart, er-sde, sa-solver at their defaults\n" . \
          "the law itself, no sampling error (dode_affine_law)" \
          noenhanced
set logscale xy
set format y "10^{%L}"
set xrange [8:1250]
set xtics (10, 20, 50, 100, 200, 500, 1000)
set xlabel "NFE (model evaluations per sample)"
set ylabel "W2 between the sampler's output law and the data law"
set key outside right top box noenhanced title "solid: ODE, dashed: SDE"
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
array colours[14] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", \
                     "#e377c2", "#17becf", "#7f7f00", "#000000", "#66c2a5", "#7f7f7f", \
                     "#ff9896", "#393b79"]
array points[14] = [6, 4, 8, 10, 12, 1, 2, 3, 14, 5, 7, 9, 11, 13]
label(i) = system(sprintf("awk 'BEGIN{b=0} /^\"/{ if (b == %d) { sub(/^\"/, \"\"); " . \
                          "sub(/\" [01]$/, \"\"); print; exit } b++ }' %s", i, dat))
isode(i) = int(system(sprintf("awk 'BEGIN{b=0} /^\"/{ if (b == %d) { print $NF; exit } " . \
                              "b++ }' %s", i, dat)))
do for [i = 1:nblocks] {
    eval sprintf("set linetype %d lc rgb '%s' lw 2 pt %d ps 1.3 dt %s", i, \
                 colours[(i - 1) % 14 + 1], points[(i - 1) % 14 + 1], \
                 isode(i - 1) ? "solid" : "(8,5)")
}
plot for [i = 0:nblocks - 1] dat index i every ::1 using 1:2 with linespoints lt (i + 1) \
     title label(i)
