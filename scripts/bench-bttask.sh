#!/usr/bin/env bash
# make bench-bttask: 50 workers claim 10,000 ready tasks through the real bttask service over CURVE
# (each asks for the best ready task; the service picks it inside the claim), then update latency while 20 watchers stream the board;
# the database is checked afterwards (each task claimed exactly once). In the same run the peer:
# Debian's PostgreSQL on its own cluster on a free loopback port, 10,000 rows with a partial index on
# the ready ones, and pgbench with 50 clients claiming with FOR UPDATE SKIP LOCKED, both at full
# durability (PostgreSQL's defaults; bttask fsyncs every commit). A short run under strace counts
# bttask's syncs. Also in the same run: the wire's ceiling for 50 clients (a raw libzmq CURVE echo
# in C, no work), and bttask's CPU per request over the load (from /proc). Prints one JSON line per
# part, then the summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-50}
TASKS=${TASKS:-10000}
WATCHERS=${WATCHERS:-20}
UPDATES=${UPDATES:-2000}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PGBIN" ] || ! command -v strace >/dev/null; then
  echo "installing postgresql and strace (apt)" >&2
  (apt-get install -y -q postgresql strace || (apt-get update -q && apt-get install -y -q postgresql strace)) >&2
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
[ -x .build/release/agor ] || swift build -c release --product agor >&2
[ -x .build/release/bttask-bench ] || swift build -c release --product bttask-bench >&2
AGOR=.build/release/agor
LOAD=.build/release/bttask-bench
mkdir -p Benchmarks/c/bin
gcc -O2 -o Benchmarks/c/bin/curve_echo Benchmarks/c/curve_echo.c -lzmq -lpthread
. scripts/proc-cost.sh

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  [ -n "${bttask_pid:-}" ] && kill "$bttask_pid" 2>/dev/null || true
  [ -d "$work/pg" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_base() { python3 scripts/free-ports.py "${1:-8}"; }

# --- bttask
home="$work/home"
"$AGOR" init --home "$home" --port-base "$(free_base)" >/dev/null
# One load principal sends far past the per-principal request limit (bus.requests_per_principal_s): lift it.
sed -i 's/^\[bus\]$/[bus]\nrequests_per_principal_s = 0/' "$home/config.toml"
"$AGOR" group add bench --home "$home" >/dev/null
"$AGOR" agent add boss --group bench --role manager --home "$home" >/dev/null
for i in $(seq "$WORKERS"); do "$AGOR" agent add "w$i" --group bench --role worker --home "$home" >/dev/null; done
"$AGOR" serve bttask --home "$home" >"$work/bttask.out" 2>&1 &
bttask_pid=$!
for _ in $(seq 100); do [ -e "/proc/$bttask_pid/stat" ] && break; sleep 0.05; done
cpu0=$(cpu_ticks "$bttask_pid")
load=$("$LOAD" "$home" "$WORKERS" "$TASKS" "$WATCHERS" "$UPDATES")
cpu1=$(cpu_ticks "$bttask_pid")
echo "$load"
# Requests of the load: the creates, the claims and the updates.
service_cpu_us=$(python3 -c "print(round(($cpu1 - $cpu0) / $(getconf CLK_TCK) * 1e6 / ($TASKS * 2 + $UPDATES), 1))")
ceiling=$(Benchmarks/c/bin/curve_echo "$WORKERS" 1 "$TASKS" 64)
echo "$ceiling"
# Checked from the database: claimed rows, and claim events per task.
db_check=$(python3 - "$home/data/bttask.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
claimed = db.execute("SELECT COUNT(*) FROM tasks WHERE assignee <> '' AND status = 2").fetchone()[0]
events = db.execute("SELECT COUNT(*) FROM bus_events WHERE type = 'task.claimed'").fetchone()[0]
print(f'{{"bench": "bttask-db", "claimed_rows": {claimed}, "claim_events": {events}}}')
PY
)
echo "$db_check"
# A short run under strace: syncs per 1000 changes (creates and claims).
small=1000
strace -f -c -e trace=fsync,fdatasync -p "$bttask_pid" -o "$work/strace.txt" &
strace_pid=$!
sleep 0.5
small_load=$("$LOAD" "$home" "$WORKERS" "$small" 0 0)
kill -INT "$strace_pid"; wait "$strace_pid" 2>/dev/null || true
syncs=$(awk '/fsync|fdatasync/ {n += $4} END {print n + 0}' "$work/strace.txt")
echo "{\"bench\": \"bttask-syncs\", \"changes\": $((small * 2)), \"syncs\": $syncs}"
kill "$bttask_pid"; wait "$bttask_pid" 2>/dev/null || true; bttask_pid=

# --- PostgreSQL: its own cluster as the postgres user, on a free loopback port.
port=$(( $(free_base) + 7 ))
mkdir -p "$work/pg" "$work/pgsock" && chown postgres "$work/pg" "$work/pgsock"
runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w \
  -o "-p $port -k $work/pgsock -c listen_addresses=127.0.0.1" start >/dev/null
psql() { runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -qAt "$@"; }
psql -c "CREATE TABLE tasks (id serial PRIMARY KEY, title text NOT NULL, status text NOT NULL, assignee int)"
psql -c "INSERT INTO tasks (title, status) SELECT 'task', 'todo' FROM generate_series(1, $TASKS)"
psql -c "CREATE INDEX tasks_ready ON tasks (id) WHERE status = 'todo'"
psql -c "VACUUM ANALYZE tasks"
cat > "$work/claim.sql" <<'SQL'
UPDATE tasks SET status = 'in_progress', assignee = :client_id
WHERE id = (SELECT id FROM tasks WHERE status = 'todo' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id;
SQL
chmod 644 "$work/claim.sql"
per_client=$(( TASKS / WORKERS ))
start=$(date +%s.%N)
runuser -u postgres -- "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c "$WORKERS" -j 2 -t "$per_client" \
  -f "$work/claim.sql" postgres >"$work/pgbench.out" 2>&1
end=$(date +%s.%N)
pg_claimed=$(psql -c "SELECT COUNT(*) FROM tasks WHERE status = 'in_progress'")
pg_rate=$(python3 -c "print(round($pg_claimed / ($end - $start)))")
echo "{\"bench\": \"postgres-claims\", \"clients\": $WORKERS, \"claimed_rows\": $pg_claimed, \"claims_per_s\": $pg_rate}"

python3 - "$load" "$db_check" "$syncs" "$pg_rate" "$ceiling" "$service_cpu_us" <<'PY'
import json, sys
load, db, syncs, pg = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ceiling, service_cpu_us = json.loads(sys.argv[5])["msgs_per_s"], float(sys.argv[6])
double = load["double_claims"] + max(0, db["claim_events"] - db["claimed_rows"])
print(json.dumps({"bench": "bttask", "claims_per_s": load["claims_per_s"], "postgres_claims_per_s": round(pg),
                  "ratio": round(load["claims_per_s"] / pg, 3) if pg else 0, "double_claims": double,
                  "claimed_rows": db["claimed_rows"], "tasks": load["tasks"],
                  "fsyncs_per_1000_claims": round(syncs / 2, 1),
                  "update_p50_ms": load["update_p50_ms"], "update_p99_ms": load["update_p99_ms"],
                  "watchers": load["watchers"], "ceiling_msgs_per_s_50": ceiling,
                  "ceiling_ratio_50": round(load["claims_per_s"] / ceiling, 3) if ceiling else 0,
                  "service_cpu_us": service_cpu_us}))
PY
