#!/usr/bin/env bash
# old_columns.sh [REV] - proves that re-recorded goldens kept the columns they had at REV
# (default HEAD): for every tests/golden/configs/*.csv, the file at REV and the working
# copy cut to REV's columns must be the same bytes. Prints the differing files, exit 1 if
# any; used when columns are appended to runs.csv (new columns go at the end).
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:-HEAD}
status=0
for f in tests/golden/configs/*.csv; do
    git cat-file -e "$rev:$f" 2>/dev/null || { echo "new: $f"; continue; }
    ncol=$(git show "$rev:$f" | head -n 1 | awk -F, '{ print NF }')
    if ! diff <(git show "$rev:$f") <(cut -d, -f1-"$ncol" "$f") >/dev/null; then
        echo "changed: $f (first $ncol columns)"
        status=1
    fi
done
[ $status -eq 0 ] && echo "old_columns: the first columns of every golden are unchanged since $rev"
exit $status
