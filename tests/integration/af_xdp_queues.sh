#!/usr/bin/env bash
# af_xdp: two port_rx instances on a veth with two queues bind two XSKs
# (queues 0 and 1, one UMEM); traffic spread over both queues reaches both
# instances, and the port reports rx_queues 2. The peer sends without XPS,
# so its transmit queue (and with it the veth receive queue, veth keeps the
# number) is picked by flow hash: 500 flows land on both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

A="sqa$$"
veth_pair "$A" 2
cat > "$TMP/two.yaml" <<YAML
ports:
  a: { driver: af_xdp, iface: $A }
  out: { driver: dpdk, devargs: "net_null0" }
graph:
  stages:
    rx: { type: port_rx, port: a, instances: 2 }
    tx: { type: port_tx, port: out }
  connectors: [ "rx -> tx" ]
clusters: { one: [rx, tx] }
mapping: { one: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
"$GEN" -o "$TMP/in.pcap" -n 2000 -s 64 -f 500 --vlan 0 --seed 3 > /dev/null
run_dp -c "$TMP/two.yaml" --stats-json "$TMP/two.json" > "$TMP/two.log" 2>&1 &
dp=$!
wait_dp_ports || { cat "$TMP/two.log"; fail "sluice-dp did not start"; }
xdp_on "$A" || fail "no XDP program on $A"
replay "$TMP/in.pcap" "${A}p"
wait_port_field a ipackets 2000 || fail "sluice got $(port_field a ipackets) of 2000 packets"
stop_dp $dp || { cat "$TMP/two.log"; fail "sluice-dp exited non-zero"; }
python3 - "$TMP/two.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = [p for p in s["ports"] if p["name"] == "a"][0]
assert p["rx_queues"] == 2, p
assert "2 XSKs" in p["note"] and "queues 0-1" in p["note"], p["note"]
ins = {x["name"]: x["in"] for x in s["stages"] if x["type"] == "port_rx"}
assert len(ins) == 2 and all(v > 0 for v in ins.values()), ("both instances should receive", ins)
assert sum(ins.values()) == 2000 == p["ipackets"], (ins, p["ipackets"])
print("ok: two XSKs:", ins, "-", p["note"])
PY
$CHECK account "$TMP/two.json" 2000
xdp_on "$A" && fail "the XDP program is still on $A after the stop"
echo "ok: two port_rx instances, two XSKs on queues 0-1, both receive"
