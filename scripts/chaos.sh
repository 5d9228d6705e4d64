#!/usr/bin/env bash
# make chaos: the whole system (`agor up`, every service its own process) under steady load while a
# monkey SIGKILLs services; then the checks of agor's promises against the services' databases and
# what every client recorded (Benchmarks/Chaos). CHAOS_S seconds of load (default 60). Prints one
# JSON line per part, then the summary line; exits 1 on any lost, duplicated or out-of-order event,
# any double claim, or a service that did not come back.
# CHAOS_BUILD=release uses the release build; the other knobs are agor-chaos's (see its main.swift).
set -euo pipefail
cd "$(dirname "$0")/.."
CHAOS_S=${CHAOS_S:-60}
BUILD=${CHAOS_BUILD:-debug}
MIN_RUN_S=${MIN_RUN_S:-5}
BIN=.build/$BUILD
for product in agor agor-exec agor-chaos; do
  [ -x "$BIN/$product" ] || swift build -c "$BUILD" --product "$product" >&2
done
AGOR=$BIN/agor

work=$(mktemp -d)
chmod 755 "$work"   # agents run as agor-agent when the runner is root: they must reach their session folders
cleanup() {
  if [ -n "${up_pid:-}" ]; then
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
source scripts/chaos-home.sh
prepare_chaos_home
# A run of MIN_RUN_S counts as healthy: the monkey's kills (after at least that long) restart at
# once and never add up to a crash loop that leaves a service down.
"$AGOR" settings set supervisor.healthy_run_s "$MIN_RUN_S" --home "$home" >/dev/null

"$AGOR" up --home "$home" >"$work/up.out" 2>&1 &
up_pid=$!
rc=0
MIN_RUN_S=$MIN_RUN_S "$BIN/agor-chaos" "$home" "$CHAOS_S" "$PWD/Benchmarks/chaos/chaos_agent.py" "$work/tokens" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "agor-chaos failed ($rc); the supervisor said:" >&2
  tail -40 "$work/up.out" >&2
fi
exit "$rc"
