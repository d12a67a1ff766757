#!/usr/bin/env bash
# Runs every Rust test and the console end to end under a faked wall clock (Debian's
# libfaketime): at 03:00, 12:00 and 23:59 UTC, and once starting 30 s before midnight
# so the run crosses it. No test may depend on the hour, the day or the time zone it
# runs in; this is how that is checked. The clock starts at each time and runs on.
#
#   scripts/test-clock.sh                 (`make test-clock`, which builds first)
#   TIMES="2026-12-04 03:00:00" scripts/test-clock.sh     (other times, UTC)
#
# Build before: cargo under faketime can hang compiling (rustc waiting forever), so
# the tests must find their binaries built.
#
# Prints one summary line per time and exits non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v faketime >/dev/null || { apt-get update -qq && apt-get install -y -qq faketime; }
target=${CARGO_TARGET_DIR:-$HOME/.cache/engage/target}
day=$(date -u +%F)
next=$(date -u -d tomorrow +%F)
# For the Rust tests only the wall clock is faked: libfaketime fakes CLOCK_MONOTONIC
# too by default, and tokio's timers and timeouts then misbehave across threads (they
# measure intervals, which no faked hour changes). Chromium is the other way round: with
# only its wall clock moved it never finishes a frame (a screenshot waits forever), so
# the console's run fakes both clocks, for the browser and the server it starts alike.
status=0
summary=()
IFS=',' read -r -a times <<< "${TIMES:-$next 03:00:00,$day 12:00:00,$day 23:59:00,$day 23:59:30}"
for at in "${times[@]}"; do
  echo "=== the suite at $at UTC ==="
  # TZ too: the machine's zone must not matter either.
  if TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "@$at" scripts/test-summary.sh cargo test --workspace --all-targets --no-fail-fast -q \
     && (cd web && TZ=UTC faketime -f "@$at" env E2E_ENGAGE_BIN="$target/debug/engage" \
          CHROMIUM_PATH="$(command -v chromium)" npx playwright test); then
    summary+=("$at: passed")
  else
    summary+=("$at: FAILED")
    status=1
  fi
done
printf '%s\n' "${summary[@]}"
exit "$status"
