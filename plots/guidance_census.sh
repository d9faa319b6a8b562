#!/bin/sh
# guidance_census.sh [DIFFODE] - where fixed-step ODE solvers fail under classifier-free
# guidance (docs/guidance.md): class 1 of gmm2d_classes.json, ddpm-linear, logsnr grid,
# 1000 samples, seed 0, CFG scale w = 1, 3, 7.5, 15, 25, NFE 5 .. 50, every fixed-step ODE
# solver of the registry but pndm (its 9-NFE warm-up needs NFE >= 13), with the guidance
# on all of sigma and only on [0.3, 5] (the interval), and the ten data-prediction solvers
# again with dynamic thresholding ([solver NAME-dyn]). One `diffode run` of the config below
# (its [model] lists make the 10 guided models); each row's error is against rk8pd at 1e-12
# on its own guided ODE. From runs.csv, per (w, variant), counted over (solver, NFE) rows:
#   non-finite  the solve stopped on a NaN or Inf (the ODE layer stops the whole batch at
#               the first one, so rows, not samples, are counted)
#   blow-up     max |x_0 - x_ref| > 100: a sample 100 times the data's scale (std ~ 1) away
#   worse       RMSE above the same solver's RMSE at NFE 5 (more steps made it worse)
# and, for the figure, the solvers whose RMSE exceeds 0.1 at each NFE. Writes
# results/guidance_census/, docs/figures/guidance_census.png and the Markdown tables on
# stdout. Run from the project root; about 4 minutes on 2 cores.
set -eu
diffode=${1:-build/diffode}
root=results/guidance_census
mkdir -p "$root" docs/figures
plain="euler, ddim, heun, rk4, dpm1, dpm2, dpm3, dpm-fast2, dpm-fast3, dpm2m, dpm3m,
    dpm3m-taylor, dpmpp2s, dpmpp3s, dpmpp-fast2, dpmpp-fast3, dpmpp2m, dpmpp3m, dpmpp3m-taylor,
    unipc1, unipc2, unipc3, ipndm1, ipndm2, ipndm3, ipndm4, ipndm-v1, ipndm-v2, ipndm-v3,
    ipndm-v4, deis-tab1, deis-tab2, deis-tab3, deis-rhoab1, deis-rhoab2, deis-rhoab3, plms, lms"
dp="dpmpp2s dpmpp3s dpmpp-fast2 dpmpp-fast3 dpmpp2m dpmpp3m dpmpp3m-taylor unipc1 unipc2 unipc3"
{
    printf '[experiment]\nname = census\nsamples = 1000\n\n'
    printf '[model g]\nspec = gmm:%s/experiments/configs/gmm2d_classes.json\n' "$PWD"
    printf 'class = 1\ncfg = 1, 3, 7.5, 15, 25\ninterval = 0:inf, 0.3:5\n\n'
    for s in $dp; do
        printf '[solver %s-dyn]\nbase = %s\nthresholding = dynamic\n\n' "$s" "$s"
    done
    printf '[sweep]\nmodels = g\nschedules = ddpm-linear\nspacings = logsnr\n'
    printf 'solvers = %s,\n    %s\n' "$plain" "$(echo "$dp" | sed 's/\([^ ]*\)/\1-dyn/g; s/ /, /g')"
    printf 'nfe = 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50\n'
} > "$root/census.ini"
"$diffode" run "$root/census.ini" --root "$root" --no-plot --quiet > "$root/run.log"
csv=$root/census/runs.csv

# One line per (w, variant, solver, nfe): w variant solver nfe status rmse max_err, where
# variant is plain, interval (guidance on [0.3, 5] only) or dynamic (a -dyn solver).
awk -F, 'NR > 1 {
    split($1, p, "/"); w = substr(p[2], 3); iv = p[3] == "interval=0:inf" ? 0 : 1
    s = $4; dyn = sub(/-dyn$/, "", s)
    if (dyn && iv) next
    print w, dyn ? "dynamic" : iv ? "interval" : "plain", s, $6, $13, $14, $15
}' "$csv" > "$root/rows.dat"

# Per (w, variant) over its solvers: rows non-finite, blow-up, worse than at NFE 5 (and the
# number of solvers with any), for plain and interval over all 38 solvers, for dynamic and
# plain-on-the-same-10 over the data-prediction solvers.
census() {      # $1: "all" or "dp" (the solver set)
    awk -v set="$1" -v dp="$dp" 'BEGIN { n = split(dp, d, " "); for (i = 1; i <= n; i++) isdp[d[i]] = 1 }
    set == "dp" && !isdp[$3] { next }
    { k = $1 " " $2 " " $3; if ($4 == 5) e5[k] = $6; r[k, $4] = $6; st[k, $4] = $5; mx[k, $4] = $7
      key[k] = 1; nfe[$4] = 1 }
    END {
        for (k in key) {
            split(k, a, " "); g = a[1] " " a[2]; nf = bu = wo = 0
            for (f in nfe) {
                if ((k, f) in st) {
                    nf += st[k, f] != "ok"; bu += mx[k, f] + 0 > 100
                    wo += f + 0 > 5 && r[k, f] + 0 > e5[k] + 0
                }
            }
            NF_[g] += nf; BU[g] += bu; WO[g] += wo
            sNF[g] += nf > 0; sBU[g] += bu > 0; sWO[g] += wo > 0; groups[g] = 1
        }
        for (g in groups) print g, NF_[g], sNF[g], BU[g], sBU[g], WO[g], sWO[g]
    }' "$root/rows.dat" | sort -k1,1g -k2,2
}
census all > "$root/census_all.dat"
census dp > "$root/census_dp.dat"

# Figure data: per (variant, w, nfe) the solvers with RMSE > 0.1 (all 38; and the 10
# data-prediction solvers plain and dynamic).
awk -v dp="$dp" 'BEGIN { n = split(dp, d, " "); for (i = 1; i <= n; i++) isdp[d[i]] = 1 }
    { bad = $5 != "ok" || $6 + 0 > 0.1; c[$2 " " $1 " " $4] += bad
      if (isdp[$3]) cd[$2 " " $1 " " $4] += bad; seen[$2 " " $1 " " $4] = 1 }
    END { for (k in seen) print k, c[k] + 0, cd[k] + 0 }' "$root/rows.dat" \
    | sort -k1,1 -k2,2g -k3,3g > "$root/fails.dat"
for v in plain interval dynamic; do
    for w in 1 3 7.5 15 25; do
        awk -v v=$v -v w=$w '$1 == v && $2 == w { print $3, $4, $5 }' "$root/fails.dat" \
            > "$root/fails_${v}_w$w.dat"
    done
done

gnuplot <<GP
set terminal pngcairo size 1250,480 font "sans,11"
set output "docs/figures/guidance_census.png"
set multiplot layout 1,2 title "Solvers whose RMSE of x_0 against rk8pd exceeds 0.1 (class 1 of gmm2d\\\\_classes.json, ddpm-linear, logsnr, 1000 samples)"
set grid
set logscale x
set xrange [4.6:54]
set xtics (5, 6, 8, 10, 12, 15, 20, 30, 50)
set xlabel "NFE"
set key bottom left
ws = "1 3 7.5 15 25"
cs = "#7b3294 #1a9850 #2166ac #e08214 #b2182b"
set ylabel "solvers (of 38) with RMSE > 0.1"
set yrange [0:40]
set title "38 fixed-step solvers: guidance everywhere (solid, filled)\\nor only for sigma in [0.3, 5] (dashed, open)"
plot for [i=1:5] sprintf("$root/fails_plain_w%s.dat", word(ws, i)) u 1:2 w lp lw 2 pt 7 lc rgb word(cs, i) t sprintf("w = %s", word(ws, i)), \
     for [i=1:5] sprintf("$root/fails_interval_w%s.dat", word(ws, i)) u 1:2 w lp lw 2 pt 6 dt 2 lc rgb word(cs, i) notitle
set ylabel "solvers (of 10) with RMSE > 0.1"
set key at graph 0.02, graph 0.42 left top
set yrange [0:11]
set title "10 data-prediction solvers: plain (solid, filled) or dynamic\\nthresholding (dashed, open: at 10 for every w and NFE)"
plot for [i=1:5] sprintf("$root/fails_plain_w%s.dat", word(ws, i)) u 1:3 w lp lw 2 pt 7 lc rgb word(cs, i) t sprintf("w = %s", word(ws, i)), \
     for [i=1:5] sprintf("$root/fails_dynamic_w%s.dat", word(ws, i)) u 1:(\$3 + 0.08 * (i - 3)) w lp lw 2 pt 6 dt 2 lc rgb word(cs, i) notitle
unset multiplot
GP

echo "Rows (solvers) per cell: non-finite / blow-up / worse than at NFE 5; 38 solvers x 11 NFE."
echo
echo "| w | plain | interval [0.3, 5] |"
echo "|---|---|---|"
awk '{ c[$1 " " $2] = sprintf("%d (%d) / %d (%d) / %d (%d)", $3, $4, $5, $6, $7, $8); w[$1] = 1 }
     END { for (x in w) print x, c[x " plain"], "|", c[x " interval"] }' "$root/census_all.dat" \
    | sort -g | awk '{ $1 = "| " $1 " |"; print $0 " |" }'
echo
echo "The ten data-prediction solvers:"
echo
echo "| w | plain | dynamic thresholding |"
echo "|---|---|---|"
awk '{ c[$1 " " $2] = sprintf("%d (%d) / %d (%d) / %d (%d)", $3, $4, $5, $6, $7, $8); w[$1] = 1 }
     END { for (x in w) print x, c[x " plain"], "|", c[x " dynamic"] }' "$root/census_dp.dat" \
    | sort -g | awk '{ $1 = "| " $1 " |"; print $0 " |" }'
echo
echo "Blow-ups (max |x_0 - x_ref| > 100), solver: w at NFE list:"
awk '$7 + 0 > 100 { k = $3 " (" $2 ")"; b[k] = b[k] " w=" $1 "@" $4 } END { for (k in b) print "-", k ":" b[k] }' \
    "$root/rows.dat" | sort
