#!/usr/bin/env bash
# make soak: the whole system (`agor up`) under the chaos load without the monkey for SOAK_S seconds
# (default 120; SOAK_S=14400 for the real run): 6 agent sessions in 3 projects across 2 groups, 20
# agents messaging, 10 workers on the boards, 20 people on the dashboard's stream (both groups). Samples every service's memory, open files,
# threads, WAL, database and queues every SAMPLE_S seconds and writes SOAK_REPORT/soak.json and
# soak.html (default soak-report/). Passes when nothing is lost or repeated, nothing restarts, and
# memory, WAL, files and threads stay within the bounds in docs/RELIABILITY.md after the warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
export CHAOS_S=${SOAK_S:-120} MODE=soak SESSIONS=${SESSIONS:-6} WS_CLIENTS=${WS_CLIENTS:-20}
export CHAOS_GROUPS=${CHAOS_GROUPS:-2} CHAOS_PROJECTS=${CHAOS_PROJECTS:-3}
export SOAK_REPORT=${SOAK_REPORT:-$PWD/soak-report}
exec bash scripts/chaos.sh
