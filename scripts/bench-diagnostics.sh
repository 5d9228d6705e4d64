#!/usr/bin/env bash
# make bench-diagnostics: what watching costs. btmsg's pipelined benchmark (1 client, 16 in flight,
# durable 64-byte messages over CURVE, each received by a subscriber) run alternately
#   with:    [bus] instrumentation = true (heartbeats, latency histograms, socket monitors) and the
#            Diagnostics collector running beside btmsg;
#   without: [bus] instrumentation = false and no collector.
# A B A B ..., RUNS of each (default 10), each on a fresh home; medians compared. Last line:
#   {"bench":"diagnostics","with":A,"without":B,"overhead_pct":P}
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-40000}
RUNS=${RUNS:-10}
[ -x .build/release/agor ] && [ -x .build/release/btmsg-bench ] || swift build -c release --product agor >&2
[ -x .build/release/btmsg-bench ] || swift build -c release --product btmsg-bench >&2
AGOR=.build/release/agor
LOAD=.build/release/btmsg-bench

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
out="$work/results.jsonl"

ticks() { local total=0; for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$total"; }

run() {  # with|without
  local mode=$1 home="$work/home-$1-$RANDOM"
  "$AGOR" init --home "$home" --port-base "$(python3 scripts/free-ports.py 14)" >/dev/null
  # One load principal sends far past the per-principal request limit (bus.requests_per_principal_s): lift it.
  sed -i 's/^\[bus\]$/[bus]\nrequests_per_principal_s = 0/' "$home/config.toml"
  "$AGOR" group add bench --home "$home" >/dev/null
  "$AGOR" agent add load --group bench --role manager --home "$home" >/dev/null
  "$AGOR" agent add sink --group bench --role worker --home "$home" >/dev/null
  if [ "$mode" = without ]; then
    sed -i 's/^instrumentation = true/instrumentation = false/' "$home/config.toml"
  fi
  grep -q "^instrumentation = $([ "$mode" = with ] && echo true || echo false)" "$home/config.toml"
  "$AGOR" serve btmsg --home "$home" >"$work/btmsg.log" 2>&1 &
  pids=($!)
  if [ "$mode" = with ]; then
    "$AGOR" serve diagnostics --home "$home" >"$work/diagnostics.log" 2>&1 &
    pids+=($!)
    # Measure the steady state: start the load once the collector has heard btmsg's heartbeat.
    for _ in $(seq 100); do
      "$AGOR" diag summary --home "$home" --json --timeout 1 2>/dev/null | grep -q '"service":"btmsg","health":"SERVICE_HEALTH_UP"' && break
      sleep 0.1
    done
  else
    sleep 1  # the same settling time for btmsg
  fi
  # CPU time (user + system, clock ticks) the services used during the load, from /proc.
  local before=$(ticks "${pids[@]}") btmsg_before=$(ticks "${pids[0]}")
  "$LOAD" "$home" 1 16 "$N" >"$work/row.json"
  local after=$(ticks "${pids[@]}") btmsg_after=$(ticks "${pids[0]}")
  python3 - "$work/row.json" "$mode" "$N" $((btmsg_after - btmsg_before)) $((after - before)) <<'PY' | tee -a "$out"
import json, os, sys
row = json.load(open(sys.argv[1])); n = int(sys.argv[3]); hz = os.sysconf("SC_CLK_TCK")
row["mode"] = sys.argv[2]
row["btmsg_cpu_us_per_msg"] = round(int(sys.argv[4]) / hz / n * 1e6, 1)
row["services_cpu_us_per_msg"] = round(int(sys.argv[5]) / hz / n * 1e6, 1)
print(json.dumps(row))
PY
  if [ "$mode" = with ]; then
    # The collector saw btmsg's requests: the figures it reports are real.
    "$AGOR" diag summary --home "$home" --json | python3 -c "
import json, sys
f = json.load(sys.stdin); b = [s for s in f['services'] if s['service'] == 'btmsg'][0]
print(json.dumps({'bench': 'diagnostics-check', 'btmsg_health': b.get('health'), 'btmsg_requests_seen': int(b.get('requests', 0))}))" | tee -a "$out"
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
  rm -rf "$home"
}

for _ in $(seq "$RUNS"); do
  run with
  run without
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(mode):
    return statistics.median([r["msgs_per_s"] for r in rows if r.get("mode") == mode])
def cpu(mode):
    return statistics.median([r["services_cpu_us_per_msg"] for r in rows if r.get("mode") == mode])
print(json.dumps({"bench": "diagnostics-cpu", "services_cpu_us_per_msg_with": cpu("with"),
                  "services_cpu_us_per_msg_without": cpu("without"),
                  "cpu_overhead_pct": round((cpu("with") - cpu("without")) / cpu("without") * 100, 2)}))
a, b = med("with"), med("without")
print(json.dumps({"bench": "diagnostics", "with": round(a), "without": round(b), "overhead_pct": round((b - a) / b * 100, 2)}))
PY
