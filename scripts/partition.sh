#!/usr/bin/env bash
# make partitions: the chaos load across two hosts. Two network namespaces joined by a veth pair:
# btmsg and bttask in host A, the Gateway, the runner, diagnostics and every client in host B. Every
# connection into A goes through a delaying proxy of our own (scripts/delay-proxy.py, DELAY_MS,
# default 1-40 ms per chunk: the order within a connection kept, connections overtaking each
# other), since this kernel has no netem. While the load runs, the link is cut and healed (ip link
# down/up) and now and then made to drop 10 % of its packets (nftables), each fault lasting 2-6 s. The same checks as `make chaos` (nothing
# answered lost, nothing twice, every stream gapless and received once in order, no double claim);
# clients across the link see timeouts while it is cut (counted), never silent loss.
# PARTITION_S seconds of load (default 60). Needs root, iproute2 and nftables: without them it says
# why and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
PARTITION_S=${PARTITION_S:-60}
BIN=.build/${CHAOS_BUILD:-debug}
for product in agor agor-exec agor-chaos; do
  [ -x "$BIN/$product" ] || swift build -c "${CHAOS_BUILD:-debug}" --product "$product" >&2
done
AGOR=$BIN/agor
skip() { echo "{\"partitions\":\"skipped\",\"reason\":\"$1\"}"; exit 0; }
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "no ip (iproute2)"
command -v nft >/dev/null || skip "no nft (nftables)"
tag=$((RANDOM % 100000))
A=agorpa$tag; B=agorpb$tag; LA=vpa$tag; LB=vpb$tag
subnet=10.214.$((RANDOM % 250 + 1)); ADDR_A=$subnet.1; ADDR_B=$subnet.2
ip netns add "$A" 2>/dev/null || skip "ip netns add is not allowed here"
FAR=agor-far-$tag
# One name for host A's services, resolved per host (`ip netns exec` mounts /etc/netns/NAME/hosts):
# in A, loopback, where the services listen; in B, A's address, where the proxy listens.
mkdir -p "/etc/netns/$A" "/etc/netns/$B"
printf '127.0.0.1 localhost\n127.0.0.1 %s\n' "$FAR" >"/etc/netns/$A/hosts"

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "/etc/netns/$A" "/etc/netns/$B"
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$B"
ip link add "$LA" type veth peer name "$LB"
ip link set "$LA" netns "$A"; ip link set "$LB" netns "$B"
ip -n "$A" addr add "$ADDR_A/24" dev "$LA"; ip -n "$B" addr add "$ADDR_B/24" dev "$LB"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set "$LA" up; ip -n "$B" link set "$LB" up
printf '127.0.0.1 localhost\n%s %s\n' "$ADDR_A" "$FAR" >"/etc/netns/$B/hosts"

source scripts/chaos-home.sh
prepare_chaos_home
# btmsg and bttask at the far name, every other service at B's address.
python3 - "$home/config.toml" "$FAR" "$ADDR_B" <<'PY'
import re, sys
path, a, b = sys.argv[1:]
text, out, service = open(path).read(), [], None
for line in text.split("\n"):
    m = re.match(r"\[services\.([a-z]+)\]", line)
    if m:
        service = m.group(1)
    elif service and line.startswith("["):
        service = None
    if service:
        line = line.replace("127.0.0.1", a if service in ("btmsg", "bttask") else b)
    out.append(line)
open(path, "w").write("\n".join(out))
PY
for service in btmsg bttask; do
  ip netns exec "$A" "$AGOR" serve "$service" --home "$home" >"$work/$service.out" 2>&1 &
  pids+=($!)
done
far_ports=$(python3 -c 'import sys, tomllib; c = tomllib.load(open(sys.argv[1], "rb"))["services"]; print(" ".join(e.rsplit(":", 1)[1] for s in ("btmsg", "bttask") for e in (c[s]["rpc"], c[s]["pub"])))' "$home/config.toml")
ip netns exec "$A" python3 scripts/delay-proxy.py "$ADDR_A" 127.0.0.1 "${DELAY_MS:-1-40}" $far_ports >"$work/proxy.out" 2>&1 &
pids+=($!)
for service in diagnostics gateway runner; do
  ip netns exec "$B" "$AGOR" serve "$service" --home "$home" >"$work/$service.out" 2>&1 &
  pids+=($!)
done
rc=0
ip netns exec "$B" env MODE=partition PARTITION_FAR=btmsg,bttask \
  PARTITION_CUT="ip -n $A link set $LA down" PARTITION_HEAL="ip -n $A link set $LA up" \
  PARTITION_LOSSY="ip netns exec $A nft -f - <<NFT
table inet agorloss {
  chain input { type filter hook input priority 0; numgen random mod 100 < 10 drop; }
}
NFT" \
  PARTITION_CLEAN="ip netns exec $A nft delete table inet agorloss 2>/dev/null || true" \
  "$BIN/agor-chaos" "$home" "$PARTITION_S" "$PWD/Benchmarks/chaos/chaos_agent.py" "$work/tokens" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "agor-chaos failed ($rc); the services said:" >&2
  tail -5 "$work"/*.out >&2
fi
exit "$rc"
