#!/usr/bin/env bash
# net_tap: sluice-dp opens a tap interface; the kernel, asked to reach an
# address behind it, sends ARP requests out of it; sluice receives them and
# writes them to a pcap, where tshark must find them.
. "$(dirname "$0")/lib.sh"

tap="slt$$"
tap=${tap:0:15}
cat > "$TMP/t.yaml" <<YAML
ports:
  tap: { driver: dpdk, devargs: "net_tap0,iface=$tap" }
  out: { driver: dpdk, devargs: "net_pcap0,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    rx: { type: port_rx, port: tap }
    tx: { type: port_tx, port: out }
  connectors: [ "rx -> tx" ]
clusters: { one: [rx, tx] }
mapping: { one: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
run_dp -c "$TMP/t.yaml" --duration 5 --stats-json "$TMP/s.json" > "$TMP/dp.log" 2>&1 &
dp=$!
for _ in $(seq 100); do ip link show "$tap" > /dev/null 2>&1 && break; sleep 0.05; done
ip link show "$tap" > /dev/null 2>&1 || { cat "$TMP/dp.log"; fail "tap $tap did not appear"; }
ip addr add 10.213.7.1/24 dev "$tap"
ip link set "$tap" up
# A datagram to an address behind the tap makes the kernel resolve the
# neighbour with ARP requests out of it.
python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"sluice", ("10.213.7.2", 9)); time.sleep(0.3)'
wait $dp || { cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
n=$(tshark -r "$TMP/out.pcap" -Y "arp.opcode == 1 && arp.dst.proto_ipv4 == 10.213.7.2" 2>/dev/null | wc -l)
[ "$n" -ge 1 ] || { tshark -r "$TMP/out.pcap" 2>/dev/null | head; fail "no ARP request for 10.213.7.2 came through the tap"; }
$CHECK account "$TMP/s.json" 1
echo "ok: $n ARP requests from the kernel crossed net_tap into the output pcap"
