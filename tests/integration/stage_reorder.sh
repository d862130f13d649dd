#!/usr/bin/env bash
# reorder after a 3-instance balance: one worker instance on another core
# (its packets cross a ring, the others' do not), so packets reach reorder
# out of order; what leaves must be the input, frame by frame, in order.
. "$(dirname "$0")/lib.sh"

"$GEN" -o "$TMP/in.pcap" -n 30000 -f 500 -s imix --ipv6 0.3 --vlan 0.2 --seed 5
cat > "$TMP/p.yaml" << YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    parse: { type: parse }
    lb:    { type: balance }
    work:  { type: pass, instances: 3 }
    ro:    { type: reorder, size: 8192, timeout_us: 500 }
    tx:    { type: port_tx, port: out0 }
  connectors:
    - rx -> parse -> lb -> work -> ro -> tx
clusters:
  a: [rx, parse, lb, "work[0]"]
  b: ["work[1]", "work[2]", ro, tx]
mapping:
  a: { core: 0 }
  b: { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
  ring_size: 32768
YAML
run_dp -c "$TMP/p.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK same "$TMP/in.pcap" "$TMP/out.pcap"
$CHECK account "$TMP/stats.json" 30000
python3 - "$TMP/stats.json" << 'PY'
import json, sys
st = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
ro = st["ro"]["counters"]
assert ro["late"] == 0 and ro["skipped"] == 0 and ro["duplicate_seqn"] == 0, ro
spread = [st[f"work[{i}]"]["in"] for i in range(3)]
assert min(spread) > 0, spread
print(f"ok: 30000 frames in input order after balance over {spread} and reorder ({ro})")
PY
