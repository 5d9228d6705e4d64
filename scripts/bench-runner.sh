#!/usr/bin/env bash
# make bench-runner: the runner (release build) takes a fake agent's output — MB megabytes of mixed
# Claude stream-json lines written as fast as the pipe takes them — through to a Bus subscriber;
# compared on the same bytes with the raw pipe and a plain Python reader; and the runner's peak RSS
# under a 50 MB line. Prints one JSON line per part, then the summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${MB:-100}
[ -x .build/release/agor ] || swift build -c release --product agor >&2
[ -x .build/release/agor-exec ] || swift build -c release --product agor-exec >&2
[ -x .build/release/runner-bench ] || swift build -c release --product runner-bench >&2
AGOR=.build/release/agor

work=$(mktemp -d)
cleanup() {
  [ -n "${runner_pid:-}" ] && kill "$runner_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
home="$work/home"
"$AGOR" init --home "$home" --port-base "$(python3 scripts/free-ports.py 14)" >/dev/null
"$AGOR" group add bench --home "$home" >/dev/null
"$AGOR" agent add a1 --group bench --role worker --home "$home" >/dev/null
"$AGOR" agent add boss --group bench --role manager --home "$home" >/dev/null
"$AGOR" serve runner --home "$home" >"$work/runner.out" 2>&1 &
runner_pid=$!
.build/release/runner-bench "$home" "$MB"
