#!/usr/bin/env bash
# A two-cluster pipeline (rx, parse | tx) on two cores replays a generated
# pcap through net_pcap; the output pcap must hold exactly the input frames,
# byte for byte and in order, as tcpdump reads them.
. "$(dirname "$0")/lib.sh"

"$GEN" -o "$TMP/in.pcap" -n 20000 -f 300 -s imix --ipv6 0.3 --vlan 0.2 --seed 7
# The ring is larger than the trace: this test checks content, not overload.
pcap_pipeline "net_pcap0,rx_pcap=$TMP/in.pcap" "net_pcap1,tx_pcap=$TMP/out.pcap" \
	"ring_size: 32768" > "$TMP/p.yaml"
run_dp -c "$TMP/p.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK same "$TMP/in.pcap" "$TMP/out.pcap"
$CHECK account "$TMP/stats.json" 20000
python3 - "$TMP/stats.json" <<'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
assert s["parse"]["in"] == 20000, s["parse"]
assert sum(s["parse"]["drops"].values()) == 0, s["parse"]["drops"]
assert s["tx"]["out"]["sent"] == 20000, s["tx"]
print("ok: parse saw 20000 frames and dropped none")
PY
