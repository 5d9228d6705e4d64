#!/usr/bin/env bash
# make fuzz: libFuzzer (with AddressSanitizer) on every decoder of outside input, each target for
# FUZZ_S seconds (default 60), starting from the committed seeds in Fuzz/corpus/TARGET. A finding
# (a crash, a sanitizer report, a leak) is copied into Fuzz/corpus/TARGET/ as crash-*, so that the
# corpus replay in `make test` (FuzzCorpusTests) fails until it is fixed, and this exits 1.
# Prints one JSON line per target, then a summary line. FUZZ_TARGETS narrows the list.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_S=${FUZZ_S:-60}
TARGETS=${FUZZ_TARGETS:-"envelope eventbatch requests toml profile lines claude codex ollama ndjson"}
# libFuzzer's driver is reached through the dynamic symbol table (SwiftPM owns the entry point).
swift build --build-path .build/fuzz --product agor-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DAGOR_FUZZING -Xlinker --export-dynamic >&2
fuzzer=.build/fuzz/debug/agor-fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total_runs=0 findings=0
for target in $TARGETS; do
  mkdir -p "$work/$target/corpus" "$work/$target/findings"
  set +e
  TMPDIR="$work/$target" AGOR_FUZZ_TARGET=$target "$fuzzer" -max_total_time="$FUZZ_S" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$target/findings/" "$work/$target/corpus" "Fuzz/corpus/$target" > "$work/$target/log" 2>&1
  status=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target/log" | grep -o '[0-9]*$' || echo 0)
  found=$(ls "$work/$target/findings" | wc -l)
  for file in "$work/$target/findings"/*; do
    [ -e "$file" ] && cp "$file" "Fuzz/corpus/$target/" && echo "finding: Fuzz/corpus/$target/$(basename "$file")" >&2
  done
  if [ "$status" -ne 0 ] && [ "$found" -eq 0 ]; then tail -20 "$work/$target/log" >&2; found=1; fi
  total_runs=$((total_runs + ${runs:-0})) findings=$((findings + found))
  echo "{\"fuzz\":\"$target\",\"seconds\":$FUZZ_S,\"runs\":${runs:-0},\"corpus\":$(ls "$work/$target/corpus" | wc -l),\"findings\":$found}"
done
echo "{\"bench\":\"fuzz\",\"targets\":$(echo $TARGETS | wc -w),\"seconds_each\":$FUZZ_S,\"runs\":$total_runs,\"findings\":$findings}"
[ "$findings" -eq 0 ]
