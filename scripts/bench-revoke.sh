#!/usr/bin/env bash
# make bench-revoke: how fast `agor revoke` ends what an agent already has open, under load. The
# real bttask service (release build) on a fresh home; while a manager creates tasks without pause,
# each round adds an agent, subscribes with its key to the group's stream, revokes it with the real
# `agor revoke`, and measures the time to the service's applied change and to the last event that
# reached the revoked subscriber, the events numbered after the change that reached it (must be 0),
# and how long the revoked agent's `bttask list` takes to be refused (exit 3). A legitimate
# subscriber follows throughout and must see every event once, in order. Prints the JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-20}
[ -x .build/release/agor ] || swift build -c release --product agor >&2
[ -x .build/release/bttask ] || swift build -c release --product bttask >&2
[ -x .build/release/revoke-bench ] || swift build -c release --product revoke-bench >&2
AGOR=.build/release/agor

work=$(mktemp -d)
cleanup() {
  [ -n "${bttask_pid:-}" ] && kill "$bttask_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
home="$work/home"
"$AGOR" init --home "$home" --port-base "$(python3 scripts/free-ports.py 14)" >/dev/null
# One load principal sends far past the per-principal request limit (bus.requests_per_principal_s): lift it.
sed -i 's/^\[bus\]$/[bus]\nrequests_per_principal_s = 0/' "$home/config.toml"
"$AGOR" group add bench --home "$home" >/dev/null
"$AGOR" agent add boss --group bench --role manager --home "$home" >/dev/null
"$AGOR" agent add keeper --group bench --role worker --home "$home" >/dev/null
"$AGOR" serve bttask --home "$home" >"$work/bttask.out" 2>&1 &
bttask_pid=$!
.build/release/revoke-bench "$home" "$AGOR" .build/release/bttask "$ROUNDS"
