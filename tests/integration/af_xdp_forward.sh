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
	# No --duration: the dataplane is stopped once the capture holds every
	# frame (or gave up), so a slow replay cannot outlast it.
	DP_TIMEOUT=60 run_dp -c "$TMP/$mode.yaml" --stats-json "$TMP/$mode.json" > "$TMP/$mode.log" 2>&1 &
	dp=$!
	wait_dp_ports || { cat "$TMP/$mode.log"; fail "$mode: sluice-dp did not start"; }
	in_ns timeout 30 tcpdump -i "${B}p" -Q in -B 8192 -c 3000 -w "$TMP/out.pcap" > "$TMP/tcpdump.log" 2>&1 &
	cap=$!
	for _ in $(seq 50); do grep -q listening "$TMP/tcpdump.log" && break; sleep 0.1; done
	replay "$TMP/in.pcap" "${A}p"
	wait $cap || { cat "$TMP/tcpdump.log"; echo "b opackets: $(port_field b opackets)"; fail "$mode: the capture did not get 3000 frames"; }
	stop_dp $dp || { cat "$TMP/$mode.log"; fail "$mode: sluice-dp exited non-zero"; }
	$CHECK same "$TMP/in.pcap" "$TMP/out.pcap"
	$CHECK account "$TMP/$mode.json" 3000
	python3 - "$TMP/$mode.json" "$mode" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); mode = sys.argv[2]
# account checks these only when present: here they must be.
assert s["mbufs_in_use"] == s["mbufs_in_use_start"], (s["mbufs_in_use"], s["mbufs_in_use_start"])
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
	xdp_on "$A" && { ip link show dev "$A"; fail "$mode: the XDP program is still on $A after the stop"; }
done
echo "ok: af_xdp forwards byte for byte in skb and native mode, and detaches on stop"
