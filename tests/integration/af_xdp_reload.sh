#!/usr/bin/env bash
# af_xdp across graph loads: a load that keeps an af_xdp port unchanged
# keeps its sockets and XDP program (same program id, counters go on); one
# that changes how it binds is refused (the old port holds the interface
# until the new graph runs); one that drops it detaches the program, and a
# later one adds it back in another mode.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

A="sra$$"; A=${A:0:12}
veth_pair "$A"
graph() { # PORT-A-ENTRY EXTRA-STAGE
	cat <<YAML
ports:
  a: $1
  out: { driver: dpdk, devargs: "net_null0" }
graph:
  stages:
    rx: { type: port_rx, port: a }
${2:-}    tx: { type: port_tx, port: out }
  connectors: [ "rx -> ${3:-}tx" ]
clusters: { one: [rx, ${4:-}tx] }
mapping: { one: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
}
prog_id() { ip link show dev "$A" | grep -o 'prog/xdp id [0-9]*\|xdp id [0-9]*' | grep -o '[0-9]*$' | head -1; }
rx_count() { "$DP" --read-stats "$PREFIX" --json | python3 -c 'import json,sys; print([p for p in json.load(sys.stdin)["ports"] if p["name"] == "a"][0]["ipackets"])'; }
send() { in_ns python3 -c 'import socket,sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0))
for i in range(int(sys.argv[2])): s.send(b"\xff" * 6 + b"\x02" * 6 + b"\x08\x00" + bytes(46))' "${A}p" "$1"; }

graph "{ driver: af_xdp, iface: $A }" > "$TMP/g1.yaml"
graph "{ driver: af_xdp, iface: $A }" "    p: { type: pass }
" "p -> " "p, " > "$TMP/g2.yaml"
graph "{ driver: af_xdp, iface: $A, mode: skb }" > "$TMP/g3.yaml"
sed "s|a: { driver: af_xdp, iface: $A, mode: skb }|a: { driver: dpdk, devargs: \"net_null1\" }|" "$TMP/g3.yaml" > "$TMP/g4.yaml"

run_dp -c "$TMP/g1.yaml" --control-socket "$TMP/dp.sock" > "$TMP/dp.log" 2>&1 &
wait_dp_ports || { cat "$TMP/dp.log"; fail "sluice-dp did not start"; }
for _ in $(seq 100); do [ -S "$TMP/dp.sock" ] && break; sleep 0.05; done
id1=$(prog_id); [ -n "$id1" ] || fail "no XDP program on $A"
send 100; sleep 0.5
[ "$(rx_count)" -eq 100 ] || fail "first graph: $(rx_count) packets, wanted 100"

"$SLUICECTL" -s "$TMP/dp.sock" graph load "$TMP/g2.yaml" > "$TMP/l2.log" 2>&1 || { cat "$TMP/l2.log" "$TMP/dp.log"; fail "graph load 2"; }
[ "$(prog_id)" = "$id1" ] || fail "an unchanged af_xdp port was reopened (program $id1 -> $(prog_id))"
send 50; sleep 0.5
[ "$(rx_count)" -eq 150 ] || fail "after the load that kept the port: $(rx_count), wanted 150 (kept totals)"

# Another mode for the open port: refused (both cannot hold the
# interface), and the running graph goes on as it was.
if "$SLUICECTL" -s "$TMP/dp.sock" graph load "$TMP/g3.yaml" > "$TMP/l3.log" 2>&1; then fail "a load changed an open af_xdp port's mode"; fi
grep -q "interface $A is open in this dataplane with other settings" "$TMP/l3.log" || { cat "$TMP/l3.log"; fail "graph load 3: not the expected refusal"; }
[ "$(prog_id)" = "$id1" ] || fail "the refused load changed the running port"
send 10; sleep 0.5
[ "$(rx_count)" -eq 160 ] || fail "after the refused load: $(rx_count), wanted 160"

"$SLUICECTL" -s "$TMP/dp.sock" graph load "$TMP/g4.yaml" > "$TMP/l4.log" 2>&1 || { cat "$TMP/l4.log"; fail "graph load 4"; }
xdp_on "$A" && fail "the af_xdp port is gone from the graph, its program is still on $A"

"$SLUICECTL" -s "$TMP/dp.sock" graph load "$TMP/g3.yaml" > "$TMP/l5.log" 2>&1 || { cat "$TMP/l5.log"; fail "graph load 5"; }
ip link show dev "$A" | grep -q xdpgeneric || fail "mode: skb after the load, but no generic XDP program on $A"
"$DP" --read-stats "$PREFIX" --json | grep -q '"note": "af_xdp skb' || fail "the note does not say skb"
send 10; sleep 0.5
[ "$(rx_count)" -eq 10 ] || fail "the re-added port: $(rx_count), wanted 10"
echo "ok: kept (program $id1, counters go on), a mode change refused, removed (detached), added back in skb mode"
