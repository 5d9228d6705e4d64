# Sourced by the benchmarks: what a process spends, read from /proc.
cpu_ticks() {  # utime + stime of a process (all its threads), in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
ctx_switches() {  # voluntary + involuntary context switches of every live thread of a process
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { sum += $2 } END { print sum + 0 }'
}
