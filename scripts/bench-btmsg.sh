#!/usr/bin/env bash
# make bench-btmsg: durable 64-byte messages through the real btmsg service over CURVE (ACL checked,
# committed, FTS5-indexed, published, received by a subscriber), against Debian's redis-server
# (appendonly yes, appendfsync everysec) driven by redis-benchmark's XADD, in the same run:
#   1 client pipelined 16 deep, and 50 clients one at a time.
# btmsg runs at its default durability (WAL, synchronous=NORMAL). In the same run, the wire's own
# ceiling: a raw libzmq CURVE echo in C (Benchmarks/c/curve_echo.c, no work at all) in both client
# shapes, and Redis over TLS (the same promise of encryption). For btmsg, its own cost per message:
# CPU microseconds and context switches (from /proc) and syscalls (perf stat), over the load.
# Prints one JSON line per case, then the summary line. Runs each case RUNS times (default 3) and
# reports medians.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
RUNS=${RUNS:-3}
command -v openssl >/dev/null || (apt-get install -y -q openssl || (apt-get update -q && apt-get install -y -q openssl)) >&2
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
  echo "installing redis-server and redis-tools (apt)" >&2
  (apt-get install -y -q redis-server redis-tools || (apt-get update -q && apt-get install -y -q redis-server redis-tools)) >&2
}
[ -x .build/release/agor ] && [ -x .build/release/btmsg-bench ] || swift build -c release --product agor >&2
[ -x .build/release/btmsg-bench ] || swift build -c release --product btmsg-bench >&2
AGOR=.build/release/agor
LOAD=.build/release/btmsg-bench
mkdir -p Benchmarks/c/bin
gcc -O2 -o Benchmarks/c/bin/curve_echo Benchmarks/c/curve_echo.c -lzmq -lpthread
ECHO=Benchmarks/c/bin/curve_echo
. scripts/proc-cost.sh

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
free_base() { python3 scripts/free-ports.py "${1:-8}"; }
cleanup() {
  [ -n "${btmsg_pid:-}" ] && kill "$btmsg_pid" 2>/dev/null || true
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
out="$work/results.jsonl"

# --- btmsg: a fresh home per case, so every case starts from an empty database.
run_btmsg() {  # clients depth
  local home="$work/home-$1-$2-$RANDOM"
  local base=$(free_base)
  "$AGOR" init --home "$home" --port-base "$base" >/dev/null
  # One load principal sends far past the per-principal request limit (bus.requests_per_principal_s): lift it.
  sed -i 's/^\[bus\]$/[bus]\nrequests_per_principal_s = 0/' "$home/config.toml"
  "$AGOR" group add bench --home "$home" >/dev/null
  "$AGOR" agent add load --group bench --role manager --home "$home" >/dev/null
  "$AGOR" agent add sink --group bench --role worker --home "$home" >/dev/null
  # The load generator waits until the service answers (its probe retries).
  "$AGOR" serve btmsg --home "$home" >"$work/btmsg.log" 2>&1 &
  btmsg_pid=$!
  # Its own cost per message over the load: CPU and context switches from /proc (every live thread),
  # syscalls from perf's raw_syscalls tracepoint (when perf can attach here).
  for _ in $(seq 100); do [ -e "/proc/$btmsg_pid/stat" ] && break; sleep 0.05; done
  sleep 1
  local cpu0=$(cpu_ticks "$btmsg_pid") ctx0=$(ctx_switches "$btmsg_pid")
  local perf_out="$work/perf-$RANDOM"
  if command -v perf >/dev/null; then perf stat -x, -e raw_syscalls:sys_enter -p "$btmsg_pid" -o "$perf_out" 2>/dev/null & perf_pid=$!; else perf_pid=; fi
  local row=$("$LOAD" "$home" "$1" "$2" "$N")
  local cpu1=$(cpu_ticks "$btmsg_pid") ctx1=$(ctx_switches "$btmsg_pid")
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; fi
  local calls=$(cut -d, -f1 "$perf_out" 2>/dev/null | grep -E '^[0-9]+$' | head -1)
  python3 -c 'import json,sys
row=json.loads(sys.argv[1]); n=int(sys.argv[2]); ticks=int(sys.argv[3]); hz=int(sys.argv[4]); ctx=int(sys.argv[5]); calls=sys.argv[6]
row["service_cpu_us"]=round(ticks/hz*1e6/n,1); row["ctx_switches"]=round(ctx/n,2)
row["syscalls"]=round(int(calls)/n,1) if calls else None
print(json.dumps(row))' "$row" "$N" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" "$((ctx1 - ctx0))" "${calls:-}" | tee -a "$out"
  kill "$btmsg_pid"; wait "$btmsg_pid" 2>/dev/null || true; btmsg_pid=
}

# --- the ceiling: a CURVE echo in C (no work), in a process of its own.
run_ceiling() {  # clients depth
  "$ECHO" "$1" "$2" "$N" 64 | tee -a "$out"
}

# --- redis over TLS: a throwaway certificate, the same AOF durability as above.
run_redis_tls() {  # pipeline clients
  local port=$(free_port)
  mkdir -p "$work/redis-tls"
  [ -f "$work/tls/cert.pem" ] || { mkdir -p "$work/tls"; openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/tls/key.pem" \
    -out "$work/tls/cert.pem" -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null; }
  redis-server --port 0 --tls-port "$port" --bind 127.0.0.1 --tls-cert-file "$work/tls/cert.pem" --tls-key-file "$work/tls/key.pem" \
    --tls-ca-cert-file "$work/tls/cert.pem" --tls-auth-clients no --appendonly yes --appendfsync everysec --save "" \
    --dir "$work/redis-tls" --daemonize no >"$work/redis-tls.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" --tls --cacert "$work/tls/cert.pem" ping >/dev/null 2>&1 && break; sleep 0.05; done
  local value=$(printf 'm%.0s' $(seq 64))
  local csv=$(redis-benchmark -h 127.0.0.1 -p "$port" --tls --cacert "$work/tls/cert.pem" -P "$1" -c "$2" -n "$N" --csv XADD s '*' f "$value" | tail -1)
  local rps=$(echo "$csv" | cut -d, -f2 | tr -d '"')
  echo "{\"bench\": \"redis-tls-xadd\", \"pipeline\": $1, \"clients\": $2, \"count\": $N, \"msgs_per_s\": $rps}" | tee -a "$out"
  redis-cli -p "$port" --tls --cacert "$work/tls/cert.pem" shutdown nosave >/dev/null 2>&1 || kill "$redis_pid"
  wait "$redis_pid" 2>/dev/null || true; redis_pid=
  rm -rf "$work/redis-tls"
}

# --- redis: its own server on a free loopback port, append-only file fsynced every second.
run_redis() {  # pipeline clients
  local port=$(free_port)
  mkdir -p "$work/redis"
  redis-server --port "$port" --bind 127.0.0.1 --appendonly yes --appendfsync everysec --save "" \
    --dir "$work/redis" --daemonize no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  local value=$(printf 'm%.0s' $(seq 64))
  local csv=$(redis-benchmark -h 127.0.0.1 -p "$port" -P "$1" -c "$2" -n "$N" --csv XADD s '*' f "$value" | tail -1)
  local rps=$(echo "$csv" | cut -d, -f2 | tr -d '"')
  echo "{\"bench\": \"redis-xadd\", \"pipeline\": $1, \"clients\": $2, \"count\": $N, \"msgs_per_s\": $rps}" | tee -a "$out"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$redis_pid"
  wait "$redis_pid" 2>/dev/null || true; redis_pid=
  rm -rf "$work/redis"
}

for run in $(seq "$RUNS"); do
  run_btmsg 1 16
  run_redis 16 1
  run_btmsg 50 1
  run_redis 1 50
  run_ceiling 1 16
  run_ceiling 50 1
  run_redis_tls 16 1
  run_redis_tls 1 50
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(pred, key):
    values = [r[key] for r in rows if pred(r)]
    return statistics.median(values) if values else 0
a = med(lambda r: r["bench"] == "btmsg-load" and r["clients"] == 1, "msgs_per_s")
l = med(lambda r: r["bench"] == "btmsg-load" and r["clients"] == 1, "p99_ms")
b = med(lambda r: r["bench"] == "redis-xadd" and r["clients"] == 1, "msgs_per_s")
a2 = med(lambda r: r["bench"] == "btmsg-load" and r["clients"] == 50, "msgs_per_s")
l2 = med(lambda r: r["bench"] == "btmsg-load" and r["clients"] == 50, "p99_ms")
b2 = med(lambda r: r["bench"] == "redis-xadd" and r["clients"] == 50, "msgs_per_s")
c = med(lambda r: r["bench"] == "curve-echo" and r["clients"] == 1, "msgs_per_s")
c2 = med(lambda r: r["bench"] == "curve-echo" and r["clients"] == 50, "msgs_per_s")
t = med(lambda r: r["bench"] == "redis-tls-xadd" and r["clients"] == 1, "msgs_per_s")
t2 = med(lambda r: r["bench"] == "redis-tls-xadd" and r["clients"] == 50, "msgs_per_s")
def cost(key):
    values = [r[key] for r in rows if r["bench"] == "btmsg-load" and r["clients"] == 1 and r.get(key) is not None]
    return statistics.median(values) if values else None
ratio = lambda x, y: round(x / y, 3) if y else 0
print(json.dumps({"bench": "btmsg", "curve": True, "search_index": True,
                  "btmsg_msgs_per_s": round(a), "redis_msgs_per_s": round(b), "ratio": round(a / b, 3) if b else 0,
                  "p99_ms": l, "btmsg_msgs_per_s_50": round(a2), "redis_msgs_per_s_50": round(b2),
                  "ratio_50": round(a2 / b2, 3) if b2 else 0, "p99_ms_50": l2,
                  "ceiling_msgs_per_s": round(c), "ceiling_msgs_per_s_50": round(c2),
                  "redis_tls_msgs_per_s": round(t), "redis_tls_msgs_per_s_50": round(t2),
                  "ceiling_ratio": ratio(a, c), "ceiling_ratio_50": ratio(a2, c2), "redis_tls_ratio": ratio(a, t),
                  "service_cpu_us": cost("service_cpu_us"), "ctx_switches": cost("ctx_switches"), "syscalls": cost("syscalls")}))
PY
