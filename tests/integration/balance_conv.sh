#!/usr/bin/env bash
# balance spreads a replayed trace over 3 instances of a stage, each sending
# to its own output pcap. Per-flow packet counts across the outputs must equal
# tshark's conversation table (-z conv) for the input; each flow must land on
# one instance only, with its packets in order.
. "$(dirname "$0")/lib.sh"

"$GEN" -o "$TMP/in.pcap" -n 30000 -f 500 -s imix --ipv6 0.3 --vlan 0.2 --reverse 0.4 --seed 11
cat > "$TMP/b.yaml" <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/o0.pcap,tx_pcap=$TMP/o1.pcap,tx_pcap=$TMP/o2.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    parse: { type: parse }
    lb:    { type: balance }
    work:  { type: pass, instances: 3 }
    tx:    { type: port_tx, port: out0, instances: 3 }
  connectors:
    - rx -> parse -> lb -> work -> tx
clusters:
  ingress: [rx, parse, lb, "work[0]"]
  workers: ["work[1]", "work[2]", tx]
mapping:
  ingress: { core: 0 }
  workers: { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
  ring_size: 32768
YAML
run_dp -c "$TMP/b.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK account "$TMP/stats.json" 30000
$CHECK balance "$TMP/in.pcap" "$TMP/o0.pcap" "$TMP/o1.pcap" "$TMP/o2.pcap"
