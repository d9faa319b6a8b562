#!/bin/sh
# guidance_matched.sh [DIFFODE] - CFG++ against CFG at matched strength (docs/guidance.md),
# class 1 of gmm2d_classes.json, ddpm-linear, logsnr grid.
#
# CFG++'s strength depends on lambda *and* NFE, so the two are compared at equal outcome:
# for each NFE in 10, 20, 50 and CFG scale w in 3, 7.5, the CFG run (ddim or dpmpp2m, seed 0,
# 2000 samples) gives a log-density gap g_cfg to the sharpened target p_w ∝ p(x|1)^w
# p(x)^(1-w); lambda is then bisected (after a scan 0, 0.05, ..., 1 for the first sign
# change) until the CFG++ run (cfgpp-ddim or cfgpp-dpmpp2m, same x_T) has the same gap
# against the same p_w, to 1e-4 in lambda (the gap is not monotone in lambda, as it is not
# in w for CFG: the first crossing, the weakest CFG++ that matches, is taken; when no lambda
# in [0, 1] reaches CFG's gap the scan's closest lambda is used and the table says so). The class fraction cannot be the matching
# quantity here: CFG at w >= 3 puts no sample of 2000 in class 0's regions (fraction 1.000).
# Then both are compared at the matched lambda on fresh draws (seed 1, 10000 samples): the
# gap with its 95% interval, the share of the component at (0.5, 0) and of class 0's regions
# against the target's masses, the class fraction.
#
# `diffode sample --target-metrics` evaluates p_w at the run's own scale, which for a CFG++
# run is lambda, not w; so the gap against p_w(w) is computed here from the samples
# (`--out`, x_0 -> xbar = x_0 sqrt(1 + sigma^2)) and the target's log Z and E[log p_w] from
# the CFG run's "target" object: log p_w = w log p(x|1) + (1 - w) log p(x) - log Z with the
# mixture noised to the grid's last sigma (C_k = s_k^2 + sigma^2). The script checks that
# this gives the CLI's own logp_gap for every CFG run (to 1e-9) before trusting it.
# Writes results/guidance_matched/matched.dat, draws docs/figures/guidance_matched.png and
# prints the Markdown table on stdout. Run from the project root; needs python3 (stdlib).
set -eu
diffode=${1:-build/diffode}
out=results/guidance_matched
mkdir -p "$out" docs/figures
PYTHONPATH="$(dirname "$0")${PYTHONPATH:+:$PYTHONPATH}" python3 - "$diffode" "$out" <<'PY'
import json, math, os, subprocess, sys, tempfile
from npy_f64 import load_f64

diffode, out = sys.argv[1], sys.argv[2]
mix_path = "experiments/configs/gmm2d_classes.json"
mix = json.load(open(mix_path))
CLS = 1
tmp = tempfile.mkdtemp()

def lse(v):
    m = max(v)
    return m + math.log(sum(math.exp(x - m) for x in v))

def logp_w(x, y, sigma, w, log_z):
    """w log p(x|c) + (1 - w) log p(x) - log Z at noise level sigma (xbar coordinates)."""
    l, lc = [], []
    for k, (wk, mu, s) in enumerate(zip(mix["weights"], mix["means"], mix["stds"])):
        v = s * s + sigma * sigma
        lk = math.log(wk) - math.log(2 * math.pi * v) - ((x - mu[0])**2 + (y - mu[1])**2) / (2 * v)
        l.append(lk)
        if mix["classes"][k] == CLS:
            lc.append(lk)
    wc = sum(wk for wk, c in zip(mix["weights"], mix["classes"]) if c == CLS)
    return w * (lse(lc) - math.log(wc)) + (1 - w) * lse(l) - log_z

def run(solver, scale, nfe, seed, n):
    npy = os.path.join(tmp, "x.npy")
    line = subprocess.run([diffode, "sample", "--model", "gmm:" + mix_path, "--class", str(CLS),
                           "--cfg-scale", repr(scale), "--solver", solver, "--nfe", str(nfe),
                           "--n", str(n), "--seed", str(seed), "--target-metrics", "--out", npy],
                          check=True, capture_output=True, text=True).stdout
    j = json.loads(line)
    t = j["target"]
    a = math.sqrt(1 + t["sigma"] ** 2)
    v = load_f64(npy)
    return j, [(v[i] * a, v[i + 1] * a) for i in range(0, len(v), 2)]

def gap(xs, tgt, w):
    v = [logp_w(x, y, tgt["sigma"], w, tgt["log_z"]) for x, y in xs]
    n = len(v); m = sum(v) / n
    sd = math.sqrt(sum((u - m) ** 2 for u in v) / (n - 1))
    return m - tgt["neg_entropy"], 1.96 * sd / math.sqrt(n)

def match(pp, w, nfe, g_cfg, tgt):
    f = lambda lam: gap(run(pp, lam, nfe, 0, 2000)[1], tgt, w)[0] - g_cfg
    lo, flo = 0.0, f(0.0)
    best = (abs(flo), lo)
    for k in range(1, 21):
        hi = k / 20; fhi = f(hi)
        if (flo < 0) != (fhi < 0):
            break
        lo, flo = hi, fhi
        best = min(best, (abs(fhi), hi))
    else:
        return best[1], False  # no lambda in [0, 1] reaches CFG's gap: the closest
    while hi - lo > 1e-4:
        mid = (lo + hi) / 2; fm = f(mid)
        if (fm < 0) == (flo < 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return (lo + hi) / 2, True

def describe(j, xs, tgt, w):
    g, h = gap(xs, tgt, w)
    fr = j["target"]["mode_frac"]
    return g, h, fr[2], fr[0] + fr[1], j["class_fraction"]

rows = []
for base, pp in (("ddim", "cfgpp-ddim"), ("dpmpp2m", "cfgpp-dpmpp2m")):
    for w in (3, 7.5):
        for nfe in (10, 20, 50):
            j, xs = run(base, w, nfe, 0, 2000)
            tgt = j["target"]
            g_cfg, _ = gap(xs, tgt, w)
            assert abs(g_cfg - tgt["logp_gap"]) < 1e-9, (g_cfg, tgt["logp_gap"])
            lam, hit = match(pp, w, nfe, g_cfg, tgt)
            jc, xc = run(base, w, nfe, 1, 10000)
            c = describe(jc, xc, jc["target"], w)
            assert abs(c[0] - jc["target"]["logp_gap"]) < 1e-9
            jp, xp = run(pp, lam, nfe, 1, 10000)
            p = describe(jp, xp, jc["target"], w)
            mm = tgt["mode_mass"]
            rows.append((base, pp, w, nfe, lam, mm[2], mm[0] + mm[1]) + c + p + (int(hit),))
            print(base, w, nfe, lam, file=sys.stderr)

cols = ("base pp w nfe lambda target_m2 target_cls0 cfg_gap cfg_ci cfg_m2 cfg_cls0 cfg_frac "
        "pp_gap pp_ci pp_m2 pp_cls0 pp_frac matched")
with open(os.path.join(out, "matched.dat.tmp"), "w") as f:
    f.write("# " + cols + "\n")
    for r in rows:
        f.write(" ".join(str(v) for v in r) + "\n")
os.replace(os.path.join(out, "matched.dat.tmp"), os.path.join(out, "matched.dat"))

print("| CFG solver | w | NFE | matched lambda | gap: CFG | gap: CFG++ | component (0.5, 0): "
      "target / CFG / CFG++ | class 0 regions: target / CFG / CFG++ | classified as 1: CFG / CFG++ |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    (base, pp, w, nfe, lam, tm2, tc0, cg, cci, cm2, cc0, cf, pg, pci, pm2, pc0, pf, hit) = r
    lam_s = f"{lam:.4f}" if hit else f"none; closest {lam:.2f}"
    print(f"| {base} | {w} | {nfe} | {lam_s} | {cg:+.3f} ± {cci:.3f} | {pg:+.3f} ± {pci:.3f} "
          f"| {tm2:.3f} / {cm2:.3f} / {pm2:.3f} | {tc0:.3f} / {cc0:.4f} / {pc0:.4f} "
          f"| {cf:.4f} / {pf:.4f} |")
PY

# matched.dat columns: 1 base, 2 pp, 3 w, 4 nfe, 5 lambda, 6/7 target m2 / class 0,
# CFG: 8 gap 9 ci 10 m2 11 cls0 12 frac; CFG++: 13 gap 14 ci 15 m2 16 cls0 17 frac;
# 18 1 if matched (else 5 is the scan's closest lambda)
d=$out/matched.dat
for b in ddim dpmpp2m; do
    for w in 3 7.5; do
        awk -v b="$b" -v w="$w" '!/^#/ && $1 == b && $3 == w' "$d" > "$out/$b-w$w.dat"
    done
done
gnuplot <<GP
set terminal pngcairo size 1500,480 font "sans,11"
set output "docs/figures/guidance_matched.png"
set multiplot layout 1,3 title "CFG++ against CFG at matched log-density gap to p(x|1)^w p(x)^{1-w} (class 1 of gmm2d\\\\_classes.json; open marks: CFG++)"
set grid
set logscale x
set xtics (10, 20, 50)
set xrange [8:60]
set xlabel "NFE"
set key top right font ",10"
set ylabel "matched lambda"
set title "matched lambda (seed 0; ddim, w = 3, NFE 10: none, closest 1)"
set yrange [0:1.1]
plot "$out/ddim-w3.dat" u 4:5 w lp lw 2 pt 6 lc rgb "#1f77b4" t "cfgpp-ddim vs ddim, w = 3", \
     "$out/ddim-w7.5.dat" u 4:5 w lp lw 2 pt 4 lc rgb "#d62728" t "cfgpp-ddim vs ddim, w = 7.5", \
     "$out/dpmpp2m-w3.dat" u 4:5 w lp lw 2 pt 8 dt 2 lc rgb "#1f77b4" t "cfgpp-dpmpp2m vs dpmpp2m, w = 3", \
     "$out/dpmpp2m-w7.5.dat" u 4:5 w lp lw 2 pt 10 dt 2 lc rgb "#d62728" t "cfgpp-dpmpp2m vs dpmpp2m, w = 7.5"
set ylabel "share in component (0.5, 0)'s region"
set title "component (0.5, 0), DDIM pair (seed 1, 10000 samples)"
set yrange [0.5:0.66]
set key bottom left
plot 0.557 w l lw 3 dt 4 lc rgb "black" t "target (0.558 at w = 3, 0.556 at 7.5)", \
     "$out/ddim-w3.dat" u 4:10 w lp lw 2 pt 7 lc rgb "#1f77b4" t "CFG ddim, w = 3", \
     "" u 4:15 w lp lw 2 pt 6 dt 2 lc rgb "#1f77b4" t "CFG++ ddim matched to w = 3", \
     "$out/ddim-w7.5.dat" u 4:10 w lp lw 2 pt 5 lc rgb "#d62728" t "CFG ddim, w = 7.5", \
     "" u 4:15 w lp lw 2 pt 4 dt 2 lc rgb "#d62728" t "CFG++ ddim matched to w = 7.5"
set ylabel "share in class 0's regions"
set title "class 0's regions, DDIM pair (CFG: 0 at every point)"
set yrange [0:0.06]
set key top right
plot "$out/ddim-w3.dat" u 4:7 w l lw 3 dt 4 lc rgb "#1f77b4" t "target, w = 3", \
     "" u 4:16 w lp lw 2 pt 6 dt 2 lc rgb "#1f77b4" t "CFG++ ddim matched to w = 3", \
     "$out/ddim-w7.5.dat" u 4:7 w l lw 3 dt 4 lc rgb "#d62728" t "target, w = 7.5", \
     "" u 4:16 w lp lw 2 pt 4 dt 2 lc rgb "#d62728" t "CFG++ ddim matched to w = 7.5", \
     "" u 4:11 w lp lw 2 pt 5 lc rgb "black" t "CFG ddim (w = 3 and 7.5)"
unset multiplot
GP
