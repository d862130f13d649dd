#!/usr/bin/env bash
# Two chains in one graph through net_ring, whose TX queue feeds its own RX
# queue: pcap -> ring, then ring -> pcap. The output must equal the input.
. "$(dirname "$0")/lib.sh"

"$GEN" -o "$TMP/in.pcap" -n 8000 -f 64 -s 128 --seed 9
cat > "$TMP/r.yaml" <<YAML
ports:
  in:   { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  loop: { driver: dpdk, devargs: "net_ring0" }
  out:  { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    from_pcap: { type: port_rx, port: in }
    to_ring:   { type: port_tx, port: loop }
    from_ring: { type: port_rx, port: loop }
    to_pcap:   { type: port_tx, port: out }
  connectors:
    - from_pcap -> to_ring
    - from_ring -> to_pcap
clusters:
  one: [from_pcap, to_ring, from_ring, to_pcap]
mapping:
  one: { core: 1 }
dataplane: { name: $PREFIX, cores: [1], tx_retries: 1000 }
YAML
run_dp -c "$TMP/r.yaml" --idle-exit 1 --stats-json "$TMP/s.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK account "$TMP/s.json" 16000
$CHECK same "$TMP/in.pcap" "$TMP/out.pcap"
