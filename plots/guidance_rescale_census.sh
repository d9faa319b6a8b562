#!/bin/sh
# guidance_rescale_census.sh [DIFFODE] - error against NFE with guidance rescale (Lin et al.
# 2023, phi = 0.7) on class 1 of gmm2d_classes.json (docs/guidance.md), ddpm-linear, logsnr
# grid, 1000 samples, seed 0, for six solvers at w = 7.5 and 15, and the same without
# rescale (phi = 0) against the same kind of reference, for comparison.
#
# Reference: rk8pd at 1e-12 exhausts its 100000-step budget on the rescaled ODE (its
# right-hand side turns discontinuously where the guided eps vanishes, docs/guidance.md), so
# the reference is dpmpp2m at NFE 10000 (the CLI's limit), and its error is estimated from
# the same solver at NFE 5000: e(10000) ~ |x_5000 - x_10000| / (2^p - 1), with p the order
# observed between NFE 2500, 5000 and 10000 (printed; about 1 with rescale, where dpmpp2m
# loses its second order, 2 without). Errors below a few times that estimate are noise.
# First, rk8pd's accepted and rejected steps against its tolerance with and without rescale
# (20 samples, w = 7.5): proportional to 1/tol with rescale, the signature of a step-size
# controller at a discontinuity, where a smooth problem needs tol^(-1/8).
# Writes results/guidance_rescale_census/census.dat, draws
# docs/figures/guidance_rescale_census.png and prints Markdown on stdout. From the root;
# needs python3 (stdlib only).
set -eu
diffode=${1:-build/diffode}
out=results/guidance_rescale_census
mkdir -p "$out" docs/figures
# Why rk8pd fails: its cost against the tolerance, w = 7.5, 20 samples, with and without rescale.
echo "| phi | rtol = atol | rk8pd accepted / rejected steps |"
echo "|---|---|---|"
for phi in 0 0.7; do
    for tol in 1e-4 1e-5 1e-6 1e-7; do
        r=$("$diffode" reference --model gmm:experiments/configs/gmm2d_classes.json --class 1 \
            --cfg-scale 7.5 --cfg-rescale "$phi" --n 20 --rtol "$tol" --atol "$tol" 2>&1 || true)
        r=$(echo "$r" | sed -n 's/.*"accepted":\([0-9]*\),"rejected":\([0-9]*\).*/\1 \/ \2/p; s/.*\(exhausted at sigma = [0-9.]*\).*/budget of 100000 \1/p')
        echo "| $phi | $tol | $r |"
    done
done
echo
PYTHONPATH="$(dirname "$0")${PYTHONPATH:+:$PYTHONPATH}" python3 - "$diffode" "$out" <<'PY'
import math, os, subprocess, sys, tempfile
from npy_f64 import load_f64

diffode, out = sys.argv[1], sys.argv[2]
model = "gmm:experiments/configs/gmm2d_classes.json"
tmp = tempfile.mkdtemp()
SOLVERS = ("ddim", "heun", "dpmpp2m", "dpmpp3m", "unipc2", "ipndm4")
NFES = (10, 20, 50, 100, 200)

def run(solver, w, phi, nfe):
    npy = os.path.join(tmp, f"{solver}-{w}-{phi}-{nfe}.npy")
    subprocess.run([diffode, "sample", "--model", model, "--class", "1", "--cfg-scale", str(w),
                    "--cfg-rescale", str(phi), "--solver", solver, "--nfe", str(nfe),
                    "--n", "1000", "--seed", "0", "--out", npy],
                   check=True, stdout=subprocess.DEVNULL)
    return load_f64(npy)

def rmse(a, b):
    return math.sqrt(sum((u - v) ** 2 for u, v in zip(a, b)) / len(a))

dat = []
print("| w | phi | reference: observed order p | estimated reference error (RMSE) |")
print("|---|---|---|---|")
refs = {}
for w in (7.5, 15):
    for phi in (0, 0.7):
        x1, x2, x3 = (run("dpmpp2m", w, phi, n) for n in (2500, 5000, 10000))
        d12, d23 = rmse(x1, x2), rmse(x2, x3)
        p = math.log2(d12 / d23)
        est = d23 / (2 ** p - 1)
        refs[w, phi] = (x3, est)
        print(f"| {w} | {phi} | {p:.2f} | {est:.1e} |")
print()
print("RMSE of x_0 against the reference (dpmpp2m, NFE 10000); phi = 0.7, with phi = 0 in brackets:")
print()
print("| w | solver | " + " | ".join(f"NFE {n}" for n in NFES) + " | order 100 -> 200 |")
print("|---|---|" + "---|" * (len(NFES) + 1))
for w in (7.5, 15):
    for s in SOLVERS:
        cells, errs = [], {}
        for phi in (0, 0.7):
            ref, _ = refs[w, phi]
            errs[phi] = [rmse(run(s, w, phi, n), ref) for n in NFES]
        for k, n in enumerate(NFES):
            dat.append(f"{w} {s} {n} {errs[0.7][k]:.6e} {errs[0][k]:.6e}")
            cells.append(f"{errs[0.7][k]:.2e} ({errs[0][k]:.2e})")
        q = lambda e: math.log2(e[-2] / e[-1])
        print(f"| {w} | {s} | " + " | ".join(cells) + f" | {q(errs[0.7]):.2f} ({q(errs[0]):.2f}) |")
with open(os.path.join(out, "census.dat.tmp"), "w") as f:
    f.write("# w solver nfe rmse_phi0.7 rmse_phi0\n" + "\n".join(dat) + "\n")
os.replace(os.path.join(out, "census.dat.tmp"), os.path.join(out, "census.dat"))
PY

d=$out/census.dat
plots=""
for w in 7.5 15; do
    p=""
    i=0
    for s in ddim heun dpmpp2m dpmpp3m unipc2 ipndm4; do
        i=$((i + 1))
        f=$out/w$w-$s.dat
        awk -v w="$w" -v s="$s" '$1 == w && $2 == s' "$d" > "$f"
        p="$p '$f' u 3:4 w lp lw 2 pt $((i + 3)) lc $i t '$s, phi = 0.7',"
        p="$p '$f' u 3:5 w l lw 1 dt 2 lc $i t '$s, phi = 0',"
    done
    plots="$plots
set title 'w = $w (solid: rescale phi = 0.7; dashed: no rescale)'
plot ${p%,}"
done
gnuplot <<GP
set terminal pngcairo size 1200,500 font "sans,11"
set output "docs/figures/guidance_rescale_census.png"
set multiplot layout 1,2 title "Guidance rescale: RMSE of x_0 against dpmpp2m at NFE 10000 (class 1 of gmm2d\\\\_classes.json, 1000 samples)"
set grid
set logscale xy
set format y "10^{%L}"
set xlabel "NFE"
set ylabel "RMSE of x_0"
set xrange [9:220]
set yrange [1e-6:20]
set key bottom left font ",9" maxrows 6
$plots
unset multiplot
GP
