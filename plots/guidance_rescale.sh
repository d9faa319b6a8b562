#!/bin/sh
# guidance_rescale.sh [DIFFODE] - what guidance rescale (Lin et al. 2023) does to CFG on
# class 1 of gmm2d_classes.json (docs/guidance.md). Rescale has no rk8pd reference here (the
# rescaled right-hand side is discontinuous where the guided eps vanishes and rk8pd at 1e-12
# exhausts its step budget), so instead of an error this prints, for dpmpp2m at NFE 50 (on
# the plain guided ODE within 1e-2 of rk8pd up to w = 15), the distance to the sharpened
# target (--target-metrics; 3 seeds x 2000 samples, the mean and the seeds' range) and the
# class fraction; then, over every fixed-step ODE solver but pndm at NFE 5, 10, 20, 50 with
# PHI = 0.7, the runs that stop on a non-finite state. Markdown on stdout; from the root.
set -eu
diffode=${1:-build/diffode}
model=gmm:experiments/configs/gmm2d_classes.json

field() {   # NAME < JSON line -> its number
    sed "s/.*\"$1\":\([^,}]*\).*/\1/"
}
array() {   # NAME < JSON line -> its entries, blank-separated
    sed "s/.*\"$1\":\[\([^]]*\)\].*/\1/" | tr ',' ' '
}

echo "| w | phi | gap (mean, range over 3 seeds) | component (0.5, 0): samples / target | classified as 1 |"
echo "|---|---|---|---|---|"
for w in 3 7.5 15 25; do
    for phi in 0 0.7 1; do
        for seed in 0 1 2; do
            line=$("$diffode" sample --model "$model" --class 1 --cfg-scale "$w" \
                   --cfg-rescale "$phi" --solver dpmpp2m --nfe 50 --n 2000 --seed "$seed" \
                   --target-metrics)
            echo "$(echo "$line" | field logp_gap) $(echo "$line" | array mode_frac | cut -d' ' -f3)" \
                 "$(echo "$line" | array mode_mass | cut -d' ' -f3) $(echo "$line" | field class_fraction)"
        done | awk -v w="$w" -v phi="$phi" '
            { g += $1; lo = NR == 1 || $1 < lo ? $1 : lo; hi = NR == 1 || $1 > hi ? $1 : hi
              m += $2; t = $3; c += $4 }
            END { printf "| %s | %s | %+.3f [%+.3f, %+.3f] | %.3f / %.3f | %.3f |\n",
                  w, phi, g / NR, lo, hi, m / NR, t, c / NR }'
    done
done

echo
solvers="euler ddim heun rk4 dpm1 dpm2 dpm3 dpm-fast2 dpm-fast3 dpm2m dpm3m dpm3m-taylor
    dpmpp2s dpmpp3s dpmpp-fast2 dpmpp-fast3 dpmpp2m dpmpp3m dpmpp3m-taylor unipc1 unipc2 unipc3
    ipndm1 ipndm2 ipndm3 ipndm4 ipndm-v1 ipndm-v2 ipndm-v3 ipndm-v4 deis-tab1 deis-tab2
    deis-tab3 deis-rhoab1 deis-rhoab2 deis-rhoab3 plms lms"
runs=0 bad=0
for w in 7.5 15 25; do
    for s in $solvers; do
        for nfe in 5 10 20 50; do
            runs=$((runs + 1))
            if ! "$diffode" sample --model "$model" --class 1 --cfg-scale "$w" \
                 --cfg-rescale 0.7 --solver "$s" --nfe "$nfe" --n 1000 >/dev/null 2>&1; then
                bad=$((bad + 1))
                echo "- non-finite or failed: $s, w = $w, NFE $nfe"
            fi
        done
    done
done
echo "rescale 0.7: $bad of $runs runs (38 solvers x w = 7.5, 15, 25 x NFE 5, 10, 20, 50) failed"
