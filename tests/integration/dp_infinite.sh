#!/usr/bin/env bash
# net_pcap infinite_rx preloads every frame of its pcap into mbufs: a 20,000
# frame file needs 20,000 mbufs on its RX queue. The pool is sized for it;
# a dataplane.mbufs too small for it, a pcapng file and a file that is not a
# pcap are refused with what to do, before EAL starts.
. "$(dirname "$0")/lib.sh"

"$GEN" -o "$TMP/big.pcap" -n 20000 -f 100 --seed 5 > /dev/null
mk() { # devargs [mbufs]
	rxtx_pipeline "$1" "net_null1" ${2:+"mbufs: $2"}
}
mk "net_pcap0,rx_pcap=$TMP/big.pcap,infinite_rx=1" > "$TMP/ok.yaml"
DP_TIMEOUT=60 run_dp -c "$TMP/ok.yaml" --duration 2 --stats-json "$TMP/s.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "infinite_rx on 20000 frames did not run"; }
python3 - "$TMP/s.json" <<'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
assert s["tx"]["out"]["sent"] > 20000, s["tx"]
print(f"ok: infinite_rx replayed 20000 frames {s['tx']['out']['sent'] / 20000:.1f} times")
PY

mk "net_pcap0,rx_pcap=$TMP/big.pcap,infinite_rx=1" 8192 > "$TMP/small.yaml"
if run_dp -c "$TMP/small.yaml" --duration 1 > "$TMP/dp.log" 2>&1; then fail "mbufs 8192 accepted"; fi
grep -q "set dataplane.mbufs to at least" "$TMP/dp.log" || { cat "$TMP/dp.log"; fail "mbufs: no advice"; }
echo "ok: dataplane.mbufs too small is refused: $(grep -o 'set dataplane.mbufs to at least [0-9]*' "$TMP/dp.log")"

printf '\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x1c\x00\x00\x00' > "$TMP/ng.pcapng"
mk "net_pcap0,rx_pcap=$TMP/ng.pcapng,infinite_rx=1" > "$TMP/ng.yaml"
if run_dp -c "$TMP/ng.yaml" --duration 1 > "$TMP/dp.log" 2>&1; then fail "pcapng accepted"; fi
grep -q "is pcapng" "$TMP/dp.log" || { cat "$TMP/dp.log"; fail "pcapng: no reason"; }
head -c 100 /dev/urandom > "$TMP/junk.pcap"
mk "net_pcap0,rx_pcap=$TMP/junk.pcap,infinite_rx=1" > "$TMP/junk.yaml"
if run_dp -c "$TMP/junk.yaml" --duration 1 > "$TMP/dp.log" 2>&1; then fail "junk accepted"; fi
grep -q "not a pcap file" "$TMP/dp.log" || { cat "$TMP/dp.log"; fail "junk: no reason"; }
echo "ok: pcapng and junk files are refused with the reason"
