#!/bin/sh
# exact_law.sh TABLE.md OUT.png - the exact W2-against-NFE figure of docs/stochastic.md from
# the Markdown table examples/exact_law.c prints: one line per distinct row (rows with the
# same numbers, one method under several names, share a line and a legend entry), ODE
# solvers solid, stochastic samplers dashed, log-log.
set -eu
table=${1:?usage: plots/exact_law.sh TABLE.md OUT.png}
out=${2:?usage: plots/exact_law.sh TABLE.md OUT.png}
command -v gnuplot >/dev/null 2>&1 || { echo "exact_law.sh: gnuplot not found" >&2; exit 3; }
dat=$(mktemp /tmp/exact_law.XXXXXX)
trap 'rm -f "$dat" "$out.tmp"' EXIT
# blocks "name" / nfe w2 lines; the NFE come from the header "| solver | NFE 10 | ..."
awk -F'|' '
    NR == 1 { for (k = 3; k < NF; k++) { split($k, a, " "); nfe[k] = a[2] }; next }
    $2 ~ /---/ { next }
    { name = $2; gsub(/[ `]/, "", name); vals = ""
      for (k = 3; k < NF; k++) { v = $k; gsub(/ /, "", v); vals = vals " " v }
      if (vals in seen) { label[seen[vals]] = label[seen[vals]] " = " name; next }
      seen[vals] = ++n; label[n] = name; row[n] = vals }
    END { ode["euler"] = ode["heun"] = ode["dpmpp2m"] = 1
          for (i = 1; i <= n; i++) {
              split(label[i], first, " ")
              printf "\"%s\" %d\n", label[i], (first[1] in ode)
              m = split(row[i], vv, " ")
              for (k = 1; k <= m; k++) printf "%s %s\n", nfe[k + 2], vv[k]
              printf "\n\n" } }' "$table" > "$dat"
n=$(grep -c '^"' "$dat")
gnuplot -e "dat='$dat'; out='$out.tmp'; nblocks=$n" "$(dirname "$0")/exact_law.gp"
mv "$out.tmp" "$out"
