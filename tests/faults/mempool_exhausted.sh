#!/usr/bin/env bash
# Fault: the mbuf pool runs dry.
# The pool has 1024 mbufs (`dataplane: { mbufs: 1024 }`). A pcap of 400000
# packets feeds rx -> parse, which crosses a ring to tx on a net_ring port
# that nobody reads: its 1024-slot ring soon holds (nearly) every mbuf, so
# net_pcap's receive finds the pool empty. Expected:
# - the dataplane keeps running (its control socket answers `status` while
#   the pool is dry), does not crash, and exits 0 once its input has been
#   idle (nothing received) for 6 s;
# - the shortage shows at the input port: rx_nombuf > 0, and every packet
#   read from the pcap is either received or counted there
#   (ipackets + rx_nombuf + imissed == 400000);
# - after the load every counter balances: each stage's in == out + drops
#   (the full net_ring shows as tx_full drops), each connector drained
#   (enqueued == dequeued), port_rx stages took what the ports received and
#   the output port sent what port_tx handed it.
. "$(dirname "$0")/lib.sh"

N=400000
"$GEN" -o "$TMP/in.pcap" -n $N -f 64 -s 64 --seed 4
pcap_pipeline "net_pcap0,rx_pcap=$TMP/in.pcap" "net_ring0" "mbufs: 1024" "tx_retries: 2" > "$TMP/m.yaml"
DP_TIMEOUT=90 run_dp -c "$TMP/m.yaml" --idle-exit 6 --control-socket "$TMP/dp.sock" \
	--stats-json "$TMP/s.json" > "$TMP/dp.log" 2>&1 &
dp=$!
# While the pool is dry the dataplane still answers and still reads input.
answered=0
for _ in $(seq 600); do
	kill -0 "$dp" 2> /dev/null || break
	if timeout 5 "$SLUICECTL" -s "$TMP/dp.sock" --json counters ports > "$TMP/p.json" 2> /dev/null; then
		if python3 -c 'import json,sys; p={x["name"]: x for x in json.load(open(sys.argv[1]))["ports"]}; sys.exit(0 if p["in0"]["rx_nombuf"] > 0 else 1)' "$TMP/p.json"; then
			timeout 5 "$SLUICECTL" -s "$TMP/dp.sock" status > /dev/null || fail "status refused while the pool was dry"
			answered=1
			break
		fi
	fi
	sleep 0.05
done
rc=0
wait "$dp" || rc=$?
[ $rc = 0 ] || { tail -30 "$TMP/dp.log"; fail "sluice-dp exited $rc with its pool exhausted"; }
[ $answered = 1 ] || { tail -30 "$TMP/dp.log"; fail "never saw rx_nombuf > 0 while the dataplane ran"; }
echo "ok: the dataplane answered status while its pool was dry, and exited 0"
python3 - "$TMP/s.json" $N <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
p = {x["name"]: x for x in s["ports"]}
st = {x["name"]: x for x in s["stages"]}
i = p["in0"]
seen = i["ipackets"] + i["rx_nombuf"] + i["imissed"]
assert i["rx_nombuf"] > 0, f"no rx_nombuf counted: {i}"
assert seen == n, f"input port: ipackets {i['ipackets']} + rx_nombuf {i['rx_nombuf']} + imissed {i['imissed']} = {seen}, want {n}"
assert st["tx"]["drops"].get("tx_full", 0) > 0, f"the full net_ring shows no tx_full drops: {st['tx']}"
print(f"ok: of {n} packets {i['ipackets']} were received and {i['rx_nombuf']} counted as rx_nombuf; "
      f"{p['out0']['opackets']} went into the unread ring, {st['tx']['drops']['tx_full']} counted as tx_full")
PY
$ACCOUNT "$TMP/s.json" 1
