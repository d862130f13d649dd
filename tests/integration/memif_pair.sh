#!/usr/bin/env bash
# Two sluice-dp instances, each with its own file-prefix and core, joined by
# net_memif: A replays a pcap into memif, B writes what it receives to a pcap.
# B's output must equal A's input frame for frame (tcpdump), with no drops.
. "$(dirname "$0")/lib.sh"

"$GEN" -o "$TMP/in.pcap" -n 5000 -f 100 -s imix --seed 5
sock="$TMP/memif.sock"
cat > "$TMP/b.yaml" <<YAML
ports:
  mif: { driver: dpdk, devargs: "net_memif0,role=server,socket=$sock,socket-abstract=no,id=0" }
  out: { driver: dpdk, devargs: "net_pcap0,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    rx: { type: port_rx, port: mif }
    tx: { type: port_tx, port: out }
  connectors: [ "rx -> tx" ]
clusters: { b: [rx, tx] }
mapping: { b: { core: 1 } }
dataplane: { name: ${PREFIX}b, cores: [1] }
YAML
memif_sender "$TMP/in.pcap" "$sock" 0 "${PREFIX}a" > "$TMP/a.yaml"
run_dp -c "$TMP/b.yaml" --idle-exit 4 --stats-json "$TMP/b.json" > "$TMP/b.log" 2>&1 &
b=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { cat "$TMP/b.log"; fail "memif server socket did not appear"; }
"$DP" -c "$TMP/a.yaml" --duration 30 --stats-json "$TMP/a.json" > "$TMP/a.log" 2>&1 &
a=$!
# The receiver stops first (idle once the trace is through). DPDK 22.11's
# memif PMD can fault in an RX burst that races a peer's disconnect, so the
# sender, which only transmits, stays up until the receiver is gone.
wait $b || { cat "$TMP/b.log"; fail "receiver exited non-zero"; }
kill -INT $a
wait $a || { cat "$TMP/a.log"; fail "sender exited non-zero"; }
$CHECK account "$TMP/a.json" 5000
$CHECK account "$TMP/b.json" 5000
$CHECK same "$TMP/in.pcap" "$TMP/out.pcap"
