#!/usr/bin/env bash
# make bench-bus: the Swift Bus (public async API) against raw libzmq in C, same patterns, one
# message per frame, tcp loopback; then Bus batching and the CPU of idle sockets. Prints one JSON
# object per case and a last summary line. Throughput cases run 3 times each; medians are reported.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p Benchmarks/c/bin
gcc -O2 -o Benchmarks/c/bin/rawzmq Benchmarks/c/rawzmq.c -lzmq -lpthread
RAW=Benchmarks/c/bin/rawzmq
SWIFT_BENCH=.build/release/bus-bench
[ -x "$SWIFT_BENCH" ] || swift build -c release --product bus-bench
RUNS=${RUNS:-3}
out=$(mktemp)
count_for() {  # size security -> messages per throughput run
  case "$1-$2" in
    64-plain) echo 1000000 ;; 64-curve) echo 300000 ;; 1024-plain) echo 300000 ;; *) echo 150000 ;;
  esac
}
for pattern in pubsub dealer; do
  for size in 64 1024; do
    for security in plain curve; do
      n=$(count_for $size $security)
      for run in $(seq "$RUNS"); do
        "$RAW" thr $pattern $size $security "$n" >> "$out"
        "$SWIFT_BENCH" thr $pattern $size $security "$n" >> "$out"
      done
      "$RAW" lat $pattern $size $security 5000 >> "$out"
      "$SWIFT_BENCH" lat $pattern $size $security 5000 >> "$out"
    done
  done
done
for security in plain curve; do
  for run in $(seq "$RUNS"); do "$SWIFT_BENCH" batched pubsub 64 $security 1000000 >> "$out"; done
done
"$SWIFT_BENCH" idle 10 >> "$out"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(rows, key):
    return statistics.median(r[key] for r in rows)
summary = {"bench": "bus"}
ratios = {}
for pattern in ("pubsub", "dealer"):
    for size in (64, 1024):
        for security in ("plain", "curve"):
            sel = lambda impl, kind: [r for r in rows if r["impl"] == impl and r["kind"] == kind and r["pattern"] == pattern and r["size"] == size and r["security"] == security]
            raw, sw = med(sel("raw", "throughput"), "msgs_per_s"), med(sel("swift", "throughput"), "msgs_per_s")
            rl, sl = sel("raw", "latency")[0], sel("swift", "latency")[0]
            case = {"case": f"{pattern}_{size}_{security}", "raw_msgs_per_s": int(raw), "swift_msgs_per_s": int(sw),
                    "ratio": round(sw / raw, 3), "raw_p50_us": rl["p50_us"], "raw_p99_us": rl["p99_us"],
                    "swift_p50_us": sl["p50_us"], "swift_p99_us": sl["p99_us"]}
            ratios[case["case"]] = case["ratio"]
            print(json.dumps(case))
batched = {sec: med([r for r in rows if r["kind"] == "batched" and r["security"] == sec], "logical_msgs_per_s") for sec in ("plain", "curve")}
print(json.dumps({"case": "pubsub_64_batched", "plain_logical_msgs_per_s": int(batched["plain"]), "curve_logical_msgs_per_s": int(batched["curve"])}))
idle = [r for r in rows if r["kind"] == "idle"][0]
print(json.dumps({"case": "idle", **{k: idle[k] for k in ("sockets", "seconds", "cpu_seconds", "idle_cpu_pct")}}))
plain_single = med([r for r in rows if r["impl"] == "swift" and r["kind"] == "throughput" and r["pattern"] == "pubsub" and r["size"] == 64 and r["security"] == "plain"], "msgs_per_s")
summary["worst_ratio"] = min(ratios.values())
summary["worst_case"] = min(ratios, key=ratios.get)
summary["curve_vs_plain_batched"] = round(batched["curve"] / plain_single, 3)
summary["idle_cpu_pct"] = idle["idle_cpu_pct"]
summary["ratios"] = ratios
print(json.dumps(summary))
PY
rm -f "$out"
