#!/usr/bin/env bash
# Jumbo frames: net_pcap hands frames over ~2 KB to the graph as chained
# mbufs. 2000 frames each of 2100, 4000 and 9000 bytes go net_pcap -> parse
# -> net_pcap; every one comes out (parse checks pkt_len and reads headers
# across segments), byte for byte. Also: a ring smaller than two bursts is
# refused before anything runs.
. "$(dirname "$0")/lib.sh"

run() { # in.pcap out.pcap burst ring_size
	pcap_pipeline "net_pcap0,rx_pcap=$1" "net_pcap1,tx_pcap=$2" "burst: $3" "ring_size: $4" > "$TMP/j.yaml"
	run_dp -c "$TMP/j.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
		{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
}
for size in 2100 4000 9000; do
	"$GEN" -o "$TMP/in$size.pcap" -n 2000 -f 20 -s "$size" --seed "$size" > /dev/null
	DP_TIMEOUT=60 run "$TMP/in$size.pcap" "$TMP/out$size.pcap" 32 4096
	$CHECK same "$TMP/in$size.pcap" "$TMP/out$size.pcap"
	n=$(tcpdump -r "$TMP/out$size.pcap" 2> /dev/null | wc -l)
	[ "$n" = 2000 ] || fail "$size-byte frames: tcpdump reads $n of 2000"
	python3 - "$TMP/stats.json" "$size" <<'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
assert s["parse"]["out"]["out"] == 2000, (sys.argv[2], s["parse"])
assert sum(s["parse"]["drops"].values()) == 0, s["parse"]["drops"]
print(f"ok: 2000 frames of {sys.argv[2]} bytes through parse, none dropped")
PY
done

# A ring smaller than two bursts would leave backpressure waiting for room
# that never comes: the config check refuses it, at ring_size.
sed 's/ring_size: .*/ring_size: 64/; s/burst: .*/burst: 128/' "$TMP/j.yaml" > "$TMP/small.yaml"
if "$DP" --check -c "$TMP/small.yaml" > "$TMP/small.txt" 2>&1; then fail "ring_size 64 with burst 128 was accepted"; fi
grep -Eq "small.yaml:[0-9]+:[0-9]+: 'ring_size' 64 is less than twice 'burst' \(128\)" "$TMP/small.txt" ||
	{ cat "$TMP/small.txt"; fail "the refusal does not name ring_size"; }
echo "ok: ring_size 64 under 128-packet bursts is refused: $(cat "$TMP/small.txt")"
