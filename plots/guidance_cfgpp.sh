#!/bin/sh
# guidance_cfgpp.sh [DIFFODE] - CFG++ (solvers/cfgpp.c) against the number of steps, on
# class 1 of gmm2d_classes.json (docs/guidance.md), ddpm-linear, logsnr grid, 2000 samples,
# seed 0: the share of samples in the region of the component at (0.5, 0) and in class 0's
# two regions, and the fraction classified as class 1, for cfgpp-ddim and cfgpp-dpmpp2m at
# lambda = 0.2 and 0.6 and NFE 5 ... 1000 (--target-metrics' mode_frac). Markdown on stdout.
set -eu
diffode=${1:-build/diffode}
model=gmm:experiments/configs/gmm2d_classes.json
echo "| solver | lambda | NFE | component (0.5, 0) | class 0 regions | classified as 1 |"
echo "|---|---|---|---|---|---|"
for s in cfgpp-ddim cfgpp-dpmpp2m; do
    for l in 0.2 0.6; do
        for nfe in 5 10 20 50 200 1000; do
            "$diffode" sample --model "$model" --class 1 --cfg-scale "$l" --solver "$s" \
                --nfe "$nfe" --n 2000 --target-metrics \
            | sed 's/.*"class_fraction":\([^,]*\).*"mode_frac":\[\([^]]*\)\].*/\1 \2/' | tr ',' ' ' \
            | awk -v s="$s" -v l="$l" -v n="$nfe" \
                '{ printf "| %s | %s | %s | %.3f | %.3f | %.3f |\n", s, l, n, $4, $2 + $3, $1 }'
        done
    done
done
