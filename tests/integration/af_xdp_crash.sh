#!/usr/bin/env bash
# af_xdp: kill -9 leaves the XDP program on the interface; the next start
# finds it, sees its owner dead, replaces it and forwards. A second
# dataplane on an interface a live one serves is refused. A clean stop
# leaves no program behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

A="sca$$"; A=${A:0:12}
veth_pair "$A"
cat > "$TMP/c.yaml" <<YAML
ports:
  a: { driver: af_xdp, iface: $A }
  out: { driver: dpdk, devargs: "net_pcap0,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    rx: { type: port_rx, port: a }
    tx: { type: port_tx, port: out }
  connectors: [ "rx -> tx" ]
clusters: { one: [rx, tx] }
mapping: { one: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
"$DP" -c "$TMP/c.yaml" > "$TMP/first.log" 2>&1 &
first=$!
wait_dp_ports || { cat "$TMP/first.log"; fail "the first dataplane did not start"; }

# A second dataplane (its own name) on the same interface: refused.
sed "s/name: $PREFIX/name: ${PREFIX}b/" "$TMP/c.yaml" > "$TMP/c2.yaml"
if run_dp -c "$TMP/c2.yaml" --duration 2 > "$TMP/second.log" 2>&1; then fail "a second dataplane took $A"; fi
grep -q "port 'a': interface $A is served by sluice-dp pid $first" "$TMP/second.log" ||
	{ cat "$TMP/second.log"; fail "the conflict does not name the live owner"; }

kill -9 "$first"; wait "$first" 2>/dev/null || true
rm -f /dev/hugepages/"$PREFIX"* /dev/shm/sluice-"$PREFIX"*
xdp_on "$A" || fail "expected the killed dataplane's program on $A"

"$GEN" -o "$TMP/in.pcap" -n 500 -s 64 -f 20 --vlan 0 --seed 4 > /dev/null
run_dp -c "$TMP/c.yaml" --stats-json "$TMP/s.json" > "$TMP/again.log" 2>&1 &
dp=$!
wait_dp_ports || { cat "$TMP/again.log"; fail "the restart did not come up"; }
replay "$TMP/in.pcap" "${A}p"
wait_port_field a ipackets 500 || fail "the restarted dataplane got $(port_field a ipackets) of 500 packets"
stop_dp $dp || { cat "$TMP/again.log"; fail "the restarted dataplane exited non-zero"; }
grep -q "removing the XDP program a stopped sluice-dp (pid $first) left on $A" "$TMP/again.log" ||
	{ cat "$TMP/again.log"; fail "the restart did not say it replaced the stale program"; }
$CHECK same "$TMP/in.pcap" "$TMP/out.pcap"
$CHECK account "$TMP/s.json" 500
xdp_on "$A" && fail "the XDP program is still on $A after a clean stop"
echo "ok: stale program replaced after kill -9, live owner refused, clean stop detaches"
