# Sourced by scripts/chaos.sh and scripts/partition.sh: makes the load's home in $work/home with the
# group `chaos` (manager boss, operator chief, senders s*, workers w*, agents a* for sessions) and
# PEOPLE people who manage it, their Gateway tokens in $work/tokens. Needs AGOR and work.
prepare_chaos_home() {
  home="$work/home"
  "$AGOR" init --home "$home" --port-base "$(python3 scripts/free-ports.py 16)" >/dev/null
  "$AGOR" group add chaos --home "$home" >/dev/null
  "$AGOR" agent add boss --group chaos --role manager --home "$home" >/dev/null
  "$AGOR" agent add chief --group chaos --role operator --home "$home" >/dev/null   # allows the senders' contacts
  for prefix_count in "s:${SENDERS:-20}" "w:${WORKERS:-10}" "a:${SESSIONS:-5}"; do
    prefix=${prefix_count%%:*}; count=${prefix_count##*:}
    for i in $(seq 1 "$count"); do "$AGOR" agent add "$prefix$i" --group chaos --role worker --home "$home" >/dev/null; done
  done
  for i in $(seq 1 "${PEOPLE:-4}"); do
    "$AGOR" user add "p$i" --group chaos --role manager --home "$home" | tail -1 >>"$work/tokens"
  done
  "$AGOR" settings set runner.approvals auto --home "$home" >/dev/null
}
