#!/usr/bin/env bash
# mirror on a replayed trace: port_rx -> mirror, `out` to one pcap port on
# the same core, `copy` through a ring to another pcap port on another core.
# Both outputs must be the input, byte for byte and in order, and the
# counters must balance (in * 2 == out + copy + drops).
#
# The dataplane reports no mempool occupancy (neither --stats-json nor the
# control channel has it), so leaks are measured exactly in the unit test
# (test_actions: rte_mempool_in_use_count back to its start). Here the pool
# is small instead: 4095 mbufs for 60000 packets that use two each, where at
# most about 2300 can be in flight (512 ring slots of clone + data, bursts,
# per-core caches). References leaked at more than one per 30 packets would
# drain it; net_pcap would then lose frames and the comparison would fail.
. "$(dirname "$0")/lib.sh"

N=60000
"$GEN" -o "$TMP/in.pcap" -n $N -f 300 -s imix --ipv6 0.3 --vlan 0.2 --seed 5
cat > "$TMP/m.yaml" <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/out.pcap" }
  out1: { driver: dpdk, devargs: "net_pcap2,tx_pcap=$TMP/copy.pcap" }
graph:
  stages:
    rx:  { type: port_rx, port: in0 }
    mir: { type: mirror }
    tx0: { type: port_tx, port: out0 }
    tx1: { type: port_tx, port: out1 }
  connectors:
    - rx -> mir -> tx0
    - mir.copy -> tx1
clusters:
  a: [rx, mir, tx0]
  b: [tx1]
mapping:
  a: { core: 0 }
  b: { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
  ring_size: 512
  mbufs: 4095
YAML
run_dp -c "$TMP/m.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK same "$TMP/in.pcap" "$TMP/out.pcap"
$CHECK same "$TMP/in.pcap" "$TMP/copy.pcap"
$CHECK account "$TMP/stats.json" $N
python3 - "$TMP/stats.json" $N <<'PY'
import json, sys
n = int(sys.argv[2])
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
m = s["mir"]
assert m["in"] == n and m["out"] == {"out": n, "copy": n}, m
assert sum(m["drops"].values()) == 0, m["drops"]
print(f"ok: mirror took {n}, sent {n} to out and {n} to copy, no copy failed")
PY
