#!/usr/bin/env bash
# make bench-teams: wake on message with 50 agents in 5 groups (release build): the latency from a
# btmsg send to the agent's stdin, against a poller reading each inbox every 5 s, and the CPU both
# spend while nothing happens. Prints one JSON line per part, then the summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
GROUPS_N=${GROUPS_N:-5}
PER_GROUP=${PER_GROUP:-10}
MESSAGES=${MESSAGES:-500}
[ -x .build/release/agor ] || swift build -c release --product agor >&2
[ -x .build/release/agor-exec ] || swift build -c release --product agor-exec >&2
[ -x .build/release/teams-bench ] || swift build -c release --product teams-bench >&2
AGOR=.build/release/agor

work=$(mktemp -d)
chmod 755 "$work"   # agents run as agor-agent when the runner is root: they must reach their session folders
cleanup() {
  for pid in ${runner_pid:-} ${btmsg_pid:-}; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
home="$work/home"
"$AGOR" init --home "$home" --port-base "$(python3 scripts/free-ports.py 14)" >/dev/null
for g in $(seq 1 "$GROUPS_N"); do
  "$AGOR" group add "g$g" --home "$home" >/dev/null
  "$AGOR" agent add "g$g-boss" --group "g$g" --role manager --home "$home" >/dev/null
  for a in $(seq 1 "$PER_GROUP"); do
    "$AGOR" agent add "g$g-a$a" --group "g$g" --role worker --home "$home" >/dev/null
  done
done
# The agents act without asking (no approval round trip in the measurement).
"$AGOR" settings set runner.approvals auto --home "$home" >/dev/null
"$AGOR" serve btmsg --home "$home" >"$work/btmsg.out" 2>&1 &
btmsg_pid=$!
"$AGOR" serve runner --home "$home" >"$work/runner.out" 2>&1 &
runner_pid=$!
.build/release/teams-bench "$home" "$PWD/Benchmarks/teams/stdin_agent.py" "$GROUPS_N" "$PER_GROUP" "$MESSAGES"
