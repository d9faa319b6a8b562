#!/bin/sh
# guidance_target.sh [DIFFODE] - how far CFG samples are from the sharpened target
# p_w ∝ p(x|1)^w p(x)^(1-w) (docs/guidance.md), class 1 of gmm2d_classes.json, ddpm-linear,
# logsnr grid. For each w and seeds 0..4 (2000 samples each), `--target-metrics` of
#   - `diffode reference` (the exact guided ODE, gsl:rk8pd at 1e-12: guidance's own bias),
#   - `diffode sample --solver dpmpp2m --nfe 10` (that bias plus a fast solver's error),
# both against the target at the grid's last sigma (0.01). Per w: the mean over the seeds
# of the log-density gap (mean log p_w of the samples minus E_{p_w} log p_w) and of the
# share of samples in each component's region, with 95% t intervals over the 5 seeds
# (t = 2.776, 4 degrees of freedom), and the target's own masses (quadrature).
# Writes results/guidance_target/target.dat, draws docs/figures/guidance_target.png and
# prints the Markdown table on stdout. Run from the project root.
set -eu
diffode=${1:-build/diffode}
model=gmm:experiments/configs/gmm2d_classes.json
out=results/guidance_target
mkdir -p "$out" docs/figures

field() {   # NAME < JSON line -> its number
    sed "s/.*\"$1\":\([^,}]*\).*/\1/"
}
array() {   # NAME < JSON line -> its entries, blank-separated
    sed "s/.*\"$1\":\[\([^]]*\)\].*/\1/" | tr ',' ' '
}

# "gap m0 m1 m2 m3" of one run (m_k: share of component k's region)
one() {
    line=$("$@" --model "$model" --class 1 --n 2000 --target-metrics)
    echo "$(echo "$line" | field logp_gap) $(echo "$line" | array mode_frac)"
}

# mean and 95% t half-width over 5 seeds of each column of stdin
stats() {
    awk '{ for (i = 1; i <= NF; i++) { s[i] += $i; q[i] += $i * $i } n++; nf = NF }
         END { for (i = 1; i <= nf; i++) { m = s[i] / n; v = (q[i] - n * m * m) / (n - 1);
               printf " %.6g %.6g", m, 2.776 * sqrt(v > 0 ? v : 0) / sqrt(n) } }'
}

dat=$out/target.dat.tmp
echo "# w  target(m2 m0+m1)  exact(gap ci m0 ci m1 ci m2 ci m3 ci)  dpmpp2m10(same)" > "$dat"
for w in 0 0.5 1 2 3 5 7.5 10 15 25; do
    target=$("$diffode" reference --model "$model" --class 1 --cfg-scale "$w" --n 2 \
             --target-metrics | array mode_mass)
    row="$w $(echo "$target" | awk '{ printf "%.6g %.6g", $3, $1 + $2 }')"
    for how in ref fast; do
        row="$row $(for seed in 0 1 2 3 4; do
            if [ $how = ref ]; then
                one "$diffode" reference --cfg-scale "$w" --seed "$seed"
            else
                one "$diffode" sample --solver dpmpp2m --nfe 10 --cfg-scale "$w" --seed "$seed"
            fi
        done | stats)"
    done
    echo "$row" >> "$dat"
done
mv "$dat" "$out/target.dat"

# columns: 1 w, 2 target m2, 3 target m0+m1; exact: 4 gap 5 ci, 6/7 m0, 8/9 m1, 10/11 m2,
# 12/13 m3; dpmpp2m NFE 10: 14 gap 15 ci, 16/17 m0, 18/19 m1, 20/21 m2, 22/23 m3
gnuplot <<GP
set terminal pngcairo size 1150,460 font "sans,11"
set output "docs/figures/guidance_target.png"
set multiplot layout 1,2 title "CFG samples against the sharpened target p(x|1)^w p(x)^{1-w} (class 1 of gmm2d\\\\_classes.json, 5 seeds x 2000 samples, 95% t intervals)"
set grid
set xlabel "guidance scale w"
set key top right
set yrange [-6:1]
set ylabel "mean log p_w(samples) - E_{p_w}[log p_w]  (nats)"
set title "log-density gap (0: as likely as the target's own draws)"
plot 0 w l lc rgb "gray" dt 3 notitle, \
     "$out/target.dat" u 1:4:5 w yerrorlines lw 2 pt 7 lc rgb "#1f77b4" t "exact guided ODE (rk8pd)", \
     "" u 1:14:15 w yerrorlines lw 2 pt 4 dt 2 lc rgb "#d62728" t "dpmpp2m, NFE 10 (off the plot beyond w = 10)"
set key at graph 0.98, graph 0.52 right top
set yrange [0:0.9]
set ylabel "share of samples (target: quadrature)"
set title "mode masses: component (0.5, 0) and class 0's two components"
plot "$out/target.dat" u 1:2 w l lw 3 lc rgb "black" t "target, component (0.5, 0)", \
     "" u 1:10:11 w yerrorlines lw 2 pt 7 lc rgb "#1f77b4" t "exact ODE, component (0.5, 0)", \
     "" u 1:20:21 w yerrorlines lw 2 pt 4 dt 2 lc rgb "#d62728" t "dpmpp2m NFE 10, component (0.5, 0)", \
     "" u 1:3 w l lw 3 dt 4 lc rgb "gray40" t "target, class 0 regions", \
     "" u 1:(\$6+\$8) w lp lw 2 pt 6 lc rgb "#2ca02c" t "exact ODE, class 0 regions"
unset multiplot
GP

echo "| w | gap, exact ODE | gap, dpmpp2m NFE 10 | component (0.5, 0): target | exact ODE | dpmpp2m NFE 10 | class 0 regions: target | exact ODE |"
echo "|---|---|---|---|---|---|---|---|"
awk '!/^#/ { printf "| %s | %+.3f ± %.3f | %+.3f ± %.3f | %.3f | %.3f ± %.3f | %.3f ± %.3f | %.2g | %.3f |\n",
             $1, $4, $5, $14, $15, $2, $10, $11, $20, $21, $3, $6 + $8 }' "$out/target.dat"
