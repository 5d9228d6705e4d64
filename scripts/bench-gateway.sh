#!/usr/bin/env bash
# make bench-gateway: 1,000 WebSocket clients (10 groups × 100) on the Gateway's /v1/stream while
# messages go through btmsg (durable direct messages over CURVE) at 1,000/s, then step by step more;
# and the same generator against Debian's nats-server with its WebSocket listener, publishing
# straight to it. Both on loopback, in the same run. Prints each step, each system's summary, and
# the final line. Environment: BENCH_GROUPS, PER_GROUP, RATES, STEP_SECONDS (see the generator).
set -euo pipefail
cd "$(dirname "$0")/.."
GROUPS_N=${BENCH_GROUPS:-10}
PER_GROUP=${PER_GROUP:-100}
command -v nats-server >/dev/null || {
  echo "installing nats-server (apt)" >&2
  (apt-get install -y -q nats-server || (apt-get update -q && apt-get install -y -q nats-server)) >&2
}
[ -x .build/release/agor ] || swift build -c release --product agor >&2
[ -x .build/release/gateway-bench ] || swift build -c release --product gateway-bench >&2
AGOR=.build/release/agor
LOAD=.build/release/gateway-bench

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
out="$work/results.jsonl"
# Each client holds a socket on both ends, plus the services' own.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# --- agor: btmsg and the Gateway, each its own process, on a fresh home.
if [[ " ${SYSTEMS:-agor nats} " == *" agor "* ]]; then
home="$work/home"
"$AGOR" init --home "$home" --port-base "$(python3 scripts/free-ports.py 16)" >/dev/null
# One load principal sends far past the per-principal request limit (bus.requests_per_principal_s): lift it.
sed -i 's/^\[bus\]$/[bus]\nrequests_per_principal_s = 0/' "$home/config.toml"
: >"$work/tokens"
for g in $(seq 0 $((GROUPS_N - 1))); do
  "$AGOR" group add "g$g" --home "$home" >/dev/null
  "$AGOR" agent add "src-g$g" --group "g$g" --role manager --home "$home" >/dev/null
  "$AGOR" agent add "sink-g$g" --group "g$g" --role worker --home "$home" >/dev/null
  "$AGOR" user add "view-g$g" --group "g$g" --home "$home" | tail -1 >>"$work/tokens"
done
http=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["services"]["gateway"]["http"])' "$home/config.toml")
"$AGOR" serve btmsg --home "$home" >"$work/btmsg.log" 2>&1 &
pids+=($!)
"$AGOR" serve gateway --home "$home" >"$work/gateway.log" 2>&1 &
gateway_pid=$!
pids+=($gateway_pid)
for _ in $(seq 300); do python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://$http/healthz" 2>/dev/null && break; sleep 0.1; done
[ -n "${PROFILE:-}" ] && (sleep 8; perf record -F 999 -g -p "$gateway_pid" -o "$PROFILE" -- sleep 6 >/dev/null 2>&1) &
"$LOAD" agor "${http##*:}" "$gateway_pid" "$GROUPS_N" "$PER_GROUP" "$home" "$work/tokens" | tee -a "$out"
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
fi

# --- nats-server: its own WebSocket listener on a free loopback port, no TLS (loopback only).
if [[ " ${SYSTEMS:-agor nats} " == *" nats "* ]]; then
port=$(python3 scripts/free-ports.py 2)
cat >"$work/nats.conf" <<EOF
listen: 127.0.0.1:$((port + 1))
websocket { listen: "127.0.0.1:$port", no_tls: true }
EOF
nats-server -c "$work/nats.conf" >"$work/nats.log" 2>&1 &
nats_pid=$!
pids+=($nats_pid)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
"$LOAD" nats "$port" "$nats_pid" "$GROUPS_N" "$PER_GROUP" | tee -a "$out"
fi

python3 - "$out" <<'PY'
import json, sys
# Each system's summary; a system left out (SYSTEMS) has none, and there is no final line.
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
agor = next((r for r in rows if r["bench"] == "gateway-system" and r["system"] == "agor"), None)
nats = next((r for r in rows if r["bench"] == "gateway-system" and r["system"] == "nats"), None)
if agor is None or nats is None:
    sys.exit(0)
a, b = agor["held_deliveries_per_s"], nats["held_deliveries_per_s"]
print(json.dumps({"bench": "gateway", "deliveries_per_s": a, "p99_ms": agor["base_p99_ms"], "lost": agor["base_lost"],
                  "nats_deliveries_per_s": b, "nats_p99_ms": nats["base_p99_ms"], "ratio": round(a / b, 3) if b else 0}))
PY
