#!/usr/bin/env bash
# tests/docs_check.sh - the commands of README.md and docs/*.md, run verbatim, so the docs
# cannot go stale (part of `make check`).
#
# A runnable command in the docs is a code line "    $ COMMAND" (indented 4 or more;
# continued by a trailing backslash); other code lines are output or synopsis and are not run. Each command runs
# from the root of a scratch copy of the repository (so results/ and model/weights/ of
# the checkout are untouched) whose build/ is this build, in document order, and must exit
# 0 within its time limit. A command carrying the comment "# slow" is only listed (it
# takes a minute or more; the comment says how long).
#   bash tests/docs_check.sh [BUILD_DIR]      (default build)
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
[ -x "$BUILD/diffode" ] || { echo "docs_check: $BUILD/diffode not built" >&2; exit 1; }
tmp=$(mktemp -d /tmp/diffode-docs.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
# The tracked files (or, outside git, the source folders), and this build as build/.
if git -C "$root" ls-files >/dev/null 2>&1; then
    git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp -p --parents -t "$tmp")
else
    cp -rp README.md Makefile include model solvers experiments plots tests docs "$tmp"
fi
ln -s "$BUILD" "$tmp/build"
export OPENBLAS_NUM_THREADS=1

# Every "$ " command of one page, one per line, continuations joined.
commands() {
    awk '/^    +\$ / { cmd = $0; sub(/^ +\$ /, "", cmd); while (cmd ~ /\\$/ && (getline line) > 0) {
             sub(/\\$/, "", cmd); sub(/^ +/, " ", line); cmd = cmd line }
           print cmd }' "$1"
}

fail=0 ran=0 listed=0
for page in README.md docs/*.md; do
    while IFS= read -r cmd; do
        case $cmd in
        *"# slow"*) echo "docs_check: $page: listed, not run (slow): ${cmd%%#*}"
                    listed=$((listed + 1)); continue ;;
        esac
        ran=$((ran + 1))
        if ! (cd "$tmp" && timeout 300 bash -c "$cmd" >"$tmp/.out" 2>&1); then
            echo "docs_check: $page: FAILED: $cmd" >&2
            tail -5 "$tmp/.out" >&2
            fail=1
        fi
    done < <(commands "$page")
done
echo "docs_check: $ran commands ran, $listed slow ones listed, $([ $fail = 0 ] && echo all passed || echo FAILURES)"
exit $fail
