# Sourced by scripts/chaos.sh, scripts/partition.sh and scripts/soak.sh: makes the load's home in
# $work/home. CHAOS_GROUPS (1 or 2) groups, `chaos` and `chaos2`, each with a manager and an operator
# (boss and chief; boss2 and chief2). Senders s*, workers w* and people p* go to the groups in turn
# (the i-th to group (i-1) mod CHAOS_GROUPS); CHAOS_PROJECTS projects p1.. likewise (project k to
# group (k-1) mod CHAOS_GROUPS, its folder under $work/projects); session agent a_i works in project
# ((i-1) mod CHAOS_PROJECTS)+1 and is in its group (without projects, in the groups in turn): agor-chaos
# reads the same from the directory and projects.toml. People's Gateway tokens go to $work/tokens as
# "GROUP TOKEN" lines. Needs AGOR and work.
prepare_chaos_home() {
  home="$work/home"
  "$AGOR" init --home "$home" --port-base "$(python3 scripts/free-ports.py 16)" >/dev/null
  local groups=(chaos) projects=${CHAOS_PROJECTS:-0}
  [ "${CHAOS_GROUPS:-1}" -ge 2 ] && groups+=(chaos2)
  local count=${#groups[@]} suffix g i k
  for g in "${!groups[@]}"; do
    suffix=$([ "$g" -eq 0 ] && echo "" || echo $((g + 1)))
    "$AGOR" group add "${groups[$g]}" --home "$home" >/dev/null
    "$AGOR" agent add "boss$suffix" --group "${groups[$g]}" --role manager --home "$home" >/dev/null
    "$AGOR" agent add "chief$suffix" --group "${groups[$g]}" --role operator --home "$home" >/dev/null   # allows the senders' contacts
  done
  for k in $(seq 1 "$projects"); do
    mkdir -p "$work/projects/p$k"
    "$AGOR" project add "p$k" --group "${groups[$(( (k - 1) % count ))]}" --root "$work/projects/p$k" --home "$home" >/dev/null
  done
  for i in $(seq 1 "${SENDERS:-20}"); do "$AGOR" agent add "s$i" --group "${groups[$(( (i - 1) % count ))]}" --role worker --home "$home" >/dev/null; done
  for i in $(seq 1 "${WORKERS:-10}"); do "$AGOR" agent add "w$i" --group "${groups[$(( (i - 1) % count ))]}" --role worker --home "$home" >/dev/null; done
  for i in $(seq 1 "${SESSIONS:-5}"); do
    if [ "$projects" -gt 0 ]; then g=$(( ( (i - 1) % projects ) % count )); else g=$(( (i - 1) % count )); fi
    "$AGOR" agent add "a$i" --group "${groups[$g]}" --role worker --home "$home" >/dev/null
  done
  for i in $(seq 1 "${PEOPLE:-4}"); do
    g=${groups[$(( (i - 1) % count ))]}
    echo "$g $("$AGOR" user add "p$i" --group "$g" --role manager --home "$home" | tail -1)" >>"$work/tokens"
  done
  "$AGOR" settings set runner.approvals auto --home "$home" >/dev/null
}
