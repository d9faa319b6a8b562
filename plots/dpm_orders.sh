#!/bin/sh
# dpm_orders.sh [DIFFODE] - the measured-order table of docs/solvers.md, made with the
# toolkit itself: for each DPM-Solver / UniPC entry, `diffode sample --vs-reference` on
# the MATH.md section 8 problem (2-D GMM of experiments/configs/gmm2d.json, ddpm-linear,
# logsnr grid t = 1 -> 1/N, 64 points x_T ~ N(0, I), seed 1, no lower_order_final) at N
# and 2N steps; order = log2(e(N) / e(2N)), e = RMSE of x_0 against gsl:rk8pd at 1e-12.
# The pairs are those of tests/check_dpm.c (the first where the order has settled). The
# theoretical order and NFE per step come from `diffode list` (the solver tables), the one
# place they are stated. Prints a Markdown table on stdout. Run from the project root:
# plots/dpm_orders.sh
set -eu
diffode=${1:-build/diffode}
model=gmm:experiments/configs/gmm2d.json

err() {     # solver steps [extra flags] -> ref_rmse
    "$diffode" sample --model "$model" --schedule ddpm-linear --spacing logsnr \
        --solver "$1" --steps "$2" --n 64 --seed 1 --lower-order-final 0 --vs-reference \
        | sed 's/.*"ref_rmse": *\([^,}]*\).*/\1/'
}

echo "| solver | NFE/step | theory | N | e(N) | e(2N) | observed |"
echo "|---|---|---|---|---|---|---|"
while read -r name n; do
    set -- $("$diffode" list | awk -v s="$name" '$1 == s { print $3, $4 }')
    theory=${1:?$name is not in diffode list}
    per=$2
    e1=$(err "$name" "$n")
    e2=$(err "$name" $((2 * n)))
    awk -v s="$name" -v p="$per" -v t="$theory" -v n="$n" -v a="$e1" -v b="$e2" 'BEGIN {
        printf "| %s | %s | %s | %d | %.3e | %.3e | %.2f |\n", s, p, t, n, a, b, log(a / b) / log(2) }'
done <<'TABLE'
dpm1 256
dpm2 256
dpm3 256
dpm2m 512
dpm3m 1024
dpm3m-taylor 512
dpmpp2s 512
dpmpp3s 512
dpmpp2m 256
dpmpp3m 1024
dpmpp3m-taylor 256
unipc1 512
unipc2 256
unipc3 512
TABLE

# Few-step regime (defaults as a user gets them: lower_order_final on, bh2): RMSE of x_0
# against the reference at NFE 10 and 20 on the logsnr and uniform-t grids.
few() {     # solver nfe spacing -> ref_rmse
    "$diffode" sample --model "$model" --schedule ddpm-linear --spacing "$3" \
        --solver "$1" --nfe "$2" --n 64 --seed 1 --vs-reference \
        | sed 's/.*"ref_rmse": *\([^,}]*\).*/\1/'
}
echo
echo "| solver | logsnr NFE 10 | logsnr NFE 20 | uniform-t NFE 10 | uniform-t NFE 20 |"
echo "|---|---|---|---|---|"
for name in euler heun dpm2 dpm3 dpm-fast2 dpm-fast3 dpmpp-fast2 dpmpp-fast3 dpm2m dpm3m dpm3m-taylor dpmpp2s \
            dpmpp3s dpmpp2m dpmpp3m dpmpp3m-taylor unipc1 unipc2 unipc3; do
    printf "| %s | %.2e | %.2e | %.2e | %.2e |\n" "$name" "$(few "$name" 10 logsnr)" \
        "$(few "$name" 20 logsnr)" "$(few "$name" 10 uniform-t)" "$(few "$name" 20 uniform-t)"
done
