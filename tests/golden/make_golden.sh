#!/usr/bin/env bash
# make_golden.sh - records the outputs tests/check_golden.c holds fixed: every shipped
# config's runs.csv (configs/NAME.csv) and, for each line of runs.list, the JSON line
# (runs/ID.json) and x_0 (runs/ID.npy, sample and reference only).
#
# Run it from the project root with the diffode to trust (DIFFODE, default build/diffode)
# only when a change is meant to move numbers, and say why in the commit. The files in the
# repository were made by the commit named in tests/golden/SOURCE.
set -euo pipefail
cd "$(dirname "$0")/../.."
diffode=${DIFFODE:-build/diffode}
out=tests/golden
rm -rf "$out/configs" "$out/runs"
mkdir -p "$out/configs" "$out/runs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cfg in experiments/configs/*.ini; do
    name=$(basename "$cfg" .ini)
    "$diffode" run "$cfg" --root "$tmp/$name" --no-plot --quiet --jobs 1 >/dev/null
    cp "$(ls "$tmp/$name"/*/runs.csv)" "$out/configs/$name.csv"
done
grep -v '^#' "$out/runs.list" | while IFS='|' read -r id cmd; do
    [ -n "$id" ] || continue
    set -- $cmd
    case $1 in
    sample|reference) "$diffode" "$@" --out "$out/runs/$id.npy" >"$out/runs/$id.json" ;;
    *) "$diffode" "$@" >"$out/runs/$id.json" ;;
    esac
done
git rev-parse HEAD >"$out/SOURCE"   # the commit whose numbers these are
