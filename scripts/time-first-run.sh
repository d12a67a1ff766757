#!/usr/bin/env bash
# How long `make run` takes on a fresh machine, to a healthy server: clones this
# repository at COMMIT (default HEAD) into a new directory, builds in a new, empty
# target directory, runs `make run` on 127.0.0.1:18080, polls /health every 2 s, and
# prints the seconds from the start to the first `up`. Then stops the server and
# removes both directories. Run it on a quiet machine: the build is bound by CPU.
# (docs/benchmarks.md, "First build")
#
#     scripts/time-first-run.sh [COMMIT]
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse "${1:-HEAD}")
work=$(mktemp -d)
trap 'kill -- -"${pid:-0}" 2>/dev/null || true; sleep 1; rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
git -C "$work/clone" checkout -q "$commit"
log="${TMPDIR:-/tmp}/engage-first-run.log"
start=$(date +%s)
(cd "$work/clone" && CARGO_TARGET_DIR="$work/target" ENGAGE_ADDR=127.0.0.1:18080 \
    exec setsid make run) >"$log" 2>&1 &
pid=$!
until curl -fs http://127.0.0.1:18080/health 2>/dev/null | grep -q up; do
    sleep 2
    kill -0 "$pid" 2>/dev/null || { tail -20 "$log"; echo "make run exited (log: $log)"; exit 1; }
done
echo "${commit:0:7}: healthy after $(( $(date +%s) - start )) s (log: $log)"
