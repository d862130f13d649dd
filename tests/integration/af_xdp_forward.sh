#!/usr/bin/env bash
# af_xdp: a trace replayed into one veth passes through an af_xdp port_rx,
# parse and pass, and leaves through an af_xdp port_tx on a second veth; a
# capture on the far end holds exactly the input frames, byte for byte, in
# order. Once in skb mode, once in mode auto (native on veth, which the
# port's note must say). The accounting (in == out, no mbuf held) holds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

A="sxa$$"; B="sxb$$"; A=${A:0:12}; B=${B:0:12}
veth_pair "$A"
veth_pair "$B"
"$GEN" -o "$TMP/in.pcap" -n 3000 -s 64 -f 200 --vlan 0.2 --seed 5 > /dev/null

for mode in skb auto; do
	cat > "$TMP/$mode.yaml" <<YAML
ports:
  a: { driver: af_xdp, iface: $A, mode: $mode }
  b: { driver: af_xdp, iface: $B, mode: $mode }
graph:
  stages:
    rx:    { type: port_rx, port: a }
    parse: { type: parse }
    p:     { type: pass }
    tx:    { type: port_tx, port: b }
  connectors: [ "rx -> parse -> p -> tx" ]
clusters: { one: [rx, parse, p, tx] }
mapping: { one: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
	rm -f "$TMP/out.pcap"
	run_dp -c "$TMP/$mode.yaml" --duration 8 --stats-json "$TMP/$mode.json" > "$TMP/$mode.log" 2>&1 &
	dp=$!
	wait_dp_ports || { cat "$TMP/$mode.log"; fail "$mode: sluice-dp did not start"; }
	in_ns timeout 20 tcpdump -i "${B}p" -Q in -c 3000 -w "$TMP/out.pcap" > /dev/null 2>&1 &
	cap=$!
	sleep 1
	in_ns tcpreplay -i "${A}p" -q "$TMP/in.pcap" > "$TMP/replay.log" 2>&1 ||
		{ cat "$TMP/replay.log"; fail "tcpreplay failed"; }
	wait $cap || true
	wait $dp || { cat "$TMP/$mode.log"; fail "$mode: sluice-dp exited non-zero"; }
	$CHECK same "$TMP/in.pcap" "$TMP/out.pcap"
	$CHECK account "$TMP/$mode.json" 3000
	python3 - "$TMP/$mode.json" "$mode" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); mode = sys.argv[2]
ports = {p["name"]: p for p in s["ports"]}
for n in ("a", "b"):
    p = ports[n]
    assert p["driver"] == "af_xdp", p
    want = "af_xdp skb" if mode == "skb" else "af_xdp native"
    assert p["note"].startswith(want), (mode, p["note"])
    assert "copy" in p["note"], p["note"]
assert ports["a"]["ipackets"] == 3000, ports["a"]
assert ports["b"]["opackets"] == 3000, ports["b"]
print(f"ok: {mode}: {ports['a']['note']}")
PY
	ip link show dev "$A" | grep -q xdp && fail "$mode: the XDP program is still on $A after the stop"
done
echo "ok: af_xdp forwards byte for byte in skb and native mode, and detaches on stop"
