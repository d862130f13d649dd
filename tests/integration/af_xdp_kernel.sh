#!/usr/bin/env bash
# af_xdp: the XDP program takes only the bound queues; the rest still
# reaches the kernel. On a 2-queue veth sluice binds queue 1; the peer
# sends ICMP and ARP from CPU 0, so on queue 0, and UDP from CPU 1, so on
# queue 1 (veth delivers on the
# receive queue numbered as the sender's transmit queue, and XPS picks the
# transmit queue by the sending CPU). A ping to the
# veth's address works while sluice runs, and the UDP reaches sluice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

A="ska$$"; A=${A:0:12}
veth_pair "$A" 2
ip addr add 10.219.0.1/24 dev "$A"
in_ns ip addr add 10.219.0.2/24 dev "${A}p"
# Steer by the sender's CPU (XPS): what the peer sends from CPU 0 leaves
# on its queue 0, from CPU 1 on queue 1.
in_ns sh -c "echo 1 > /sys/class/net/${A}p/queues/tx-0/xps_cpus; echo 2 > /sys/class/net/${A}p/queues/tx-1/xps_cpus" ||
	{ echo "skip: no XPS on this kernel"; exit 77; }
cat > "$TMP/k.yaml" <<YAML
ports:
  a: { driver: af_xdp, iface: $A, queue: 1 }
  out: { driver: dpdk, devargs: "net_null0" }
graph:
  stages:
    rx: { type: port_rx, port: a }
    tx: { type: port_tx, port: out }
  connectors: [ "rx -> tx" ]
clusters: { one: [rx, tx] }
mapping: { one: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
run_dp -c "$TMP/k.yaml" --duration 8 --stats-json "$TMP/s.json" > "$TMP/dp.log" 2>&1 &
dp=$!
wait_dp_ports || { cat "$TMP/dp.log"; fail "sluice-dp did not start"; }
in_ns taskset -c 0 ping -c 3 -i 0.2 -W 2 10.219.0.1 > "$TMP/ping.log" 2>&1 ||
	{ cat "$TMP/ping.log" "$TMP/dp.log"; fail "ping to the veth's address failed while sluice ran on it"; }
in_ns taskset -c 1 python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200): s.sendto(b"x" * 32, ("10.219.0.1", 9999))'
wait $dp || { cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
python3 - "$TMP/s.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = [p for p in s["ports"] if p["name"] == "a"][0]
assert "queue 1" in p["note"], p["note"]
# The 200 datagrams, and at most a few frames the peer's kernel sent from
# CPU 1 on its own (neighbour probes).
assert 200 <= p["ipackets"] <= 210, ("sluice should get the 200 UDP datagrams", p["ipackets"])
print("ok:", p["ipackets"], "UDP datagrams on queue 1;", p["note"])
PY
echo "ok: the kernel kept queue 0 (ping answered) while sluice served queue 1"
