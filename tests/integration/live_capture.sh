#!/usr/bin/env bash
# Live capture from the CLI: sluicectl capture POINT under sluiced. A sender
# dataplane replays a generated trace over memif into the one under test
# (rx -> parse -> tx) once the capture is attached; the pcapng that
# `capture parse.out --filter udp --count 1000` writes holds exactly the
# first 1000 UDP frames of the trace, byte for byte, and forwarding is
# unchanged. --count beyond the traffic ends on --duration; `-w -` streams
# into tshark; a reader may not capture; bad filters and points are refused
# with the field and the known points.
. "$(dirname "$0")/lib.sh"

N=8000
"$GEN" -o "$TMP/in.pcap" -n $N -f 50 -s imix --seed 7
sock="$TMP/memif.sock"
cat > "$TMP/c.yaml" <<YAML
ports:
  mif:  { driver: dpdk, devargs: "net_memif0,role=server,socket=$sock,socket-abstract=no,id=0" }
  mif2: { driver: dpdk, devargs: "net_memif1,role=server,socket=$sock,socket-abstract=no,id=1" }
  out:  { driver: dpdk, devargs: "net_pcap0,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: mif }
    rx2:   { type: port_rx, port: mif2 }
    parse: { type: parse }
    tx:    { type: port_tx, port: out }
  connectors: [ "rx -> parse -> tx", "rx2 -> parse" ]
clusters: { c: [rx, rx2, parse, tx] }
mapping: { c: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
# sender PCAP ID: replay PCAP into memif interface ID (standalone, core 0), in
# the background. Senders stay until the end: DPDK 22.11's memif PMD can
# fault in an RX burst that races a peer's disconnect.
sender() {
	memif_sender "$1" "$sock" "$2" "${PREFIX}s$2" > "$TMP/s$2.yaml"
	"$DP" -c "$TMP/s$2.yaml" --duration 200 > "$TMP/sender$2.log" 2>&1 &
	SENDERS="$SENDERS $!"
}
SENDERS=""
# stage_count NAME KEY: a stage's in / total out from sluicectl counters.
stage_count() {
	ctl --json counters stages | python3 -c 'import json,sys
s = {x["name"]: x for x in json.load(sys.stdin)["stages"]}[sys.argv[1]]
print(s["in"] if sys.argv[2] == "in" else sum(s["out"].values()))' "$1" "$2"
}

# A reader: a throwaway user in a throwaway read group, deleted even when
# the test fails.
RG="slr$$" UR="sur$$"
cap_cleanup() {
	local rc=$?
	userdel "$UR" 2> /dev/null || true
	groupdel "$RG" 2> /dev/null || true
	(exit $rc)
	cleanup
}
trap cap_cleanup EXIT INT TERM
groupadd -r "$RG"
useradd -r -M -N -g nogroup -G "$RG" -s /usr/sbin/nologin "$UR"

start_sluiced -c "$TMP/c.yaml" --read-group "$RG"

# Refusals first (no traffic yet).
set +e
ctl capture parse.out --filter "udp and frobnicate" -w "$TMP/bad.pcapng" 2> "$TMP/e"; rc=$?
set -e
[ $rc -eq 1 ] || fail "bad filter: exit $rc, want 1"
grep -q "bad_field (filter)" "$TMP/e" || { cat "$TMP/e"; fail "bad filter does not name the field"; }
[ ! -e "$TMP/bad.pcapng" ] || fail "a refused capture left its file"
set +e
ctl capture parse.nowhere -w "$TMP/bad.pcapng" 2> "$TMP/e"; rc=$?
set -e
[ $rc -eq 1 ] || fail "bad point: exit $rc"
grep -q "not_found (point).*known points: rx, rx.out, rx2, rx2.out, parse, parse.out, tx" "$TMP/e" ||
	{ cat "$TMP/e"; fail "bad point does not name the known points"; }
set +e
ctl capture parse.out 2> /dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "capture without -w: exit $rc, want 2"

# A reader may not capture (it shows packet contents), nor trace.
mkdir "$TMP/pub" && chmod 777 "$TMP/pub"
for c in "capture parse -w $TMP/pub/r.pcapng" "trace"; do
	set +e
	timeout 60 setpriv --reuid "$UR" --regid nogroup --init-groups \
		"$SLUICECTL" -s "$TMP/s.sock" $c 2> "$TMP/e"; rc=$?
	set -e
	[ $rc -eq 1 ] || { cat "$TMP/e"; fail "a reader's $c: exit $rc, want 1"; }
	grep -q "forbidden: ${c%% *} needs uid 0" "$TMP/e" || { cat "$TMP/e"; fail "a reader's $c refusal"; }
done
[ ! -e "$TMP/pub/r.pcapng" ] || fail "a refused capture left its file"
echo "ok: a reader may not capture or trace"

# The capture: attached before the traffic starts.
ctl capture parse.out --filter udp --count 1000 --duration 50 -w "$TMP/f.pcapng" 2> "$TMP/cap.err" &
cap=$!
for _ in $(seq 100); do grep -q "capturing at" "$TMP/cap.err" && break; sleep 0.05; done
grep -q "capturing at parse.out" "$TMP/cap.err" || { cat "$TMP/cap.err"; fail "capture did not start"; }
sender "$TMP/in.pcap" 0
wait $cap || { cat "$TMP/cap.err"; fail "capture exited non-zero"; }
grep -q "^1000 packets captured, 0 dropped (capture ring full)$" "$TMP/cap.err" ||
	{ cat "$TMP/cap.err" "$TMP/sender0.log"; ctl counters; cat "$TMP/sluiced.log"; fail "capture summary"; }
tshark -r "$TMP/f.pcapng" -T fields -e frame.interface_name 2>/dev/null | sort -u | grep -qx "parse.out" ||
	fail "the interface is not named after the point"
tshark -r "$TMP/f.pcapng" -q -z io,stat,0 > /dev/null 2>&1 || fail "tshark cannot read the capture"

# Forwarding unchanged: every packet received went through parse to tx
# (the sender's own memif losses are not ours to count), and tx wrote
# exactly what came in (checked on out.pcap after the shutdown).
prev=-1
for _ in $(seq 100); do
	cur=$(stage_count tx in)
	[ "$cur" = "$prev" ] && [ "$cur" -gt 0 ] && break
	prev=$cur
	sleep 0.3
done
rxn=$(stage_count rx in)
[ "$rxn" -ge 4000 ] || fail "only $rxn of $N packets arrived"
[ "$(stage_count parse in)" -eq "$rxn" ] || fail "parse saw $(stage_count parse in) of $rxn"
[ "$(stage_count parse out)" -eq "$rxn" ] || fail "parse forwarded $(stage_count parse out) of $rxn"
[ "$(stage_count tx in)" -eq "$rxn" ] || fail "tx got $(stage_count tx in) of $rxn"
echo "ok: forwarding unchanged ($rxn packets)"

# --count beyond the traffic: ends on --duration with what there was.
t0=$(date +%s)
ctl capture parse --count 100000 --duration 2 -w "$TMP/d.pcapng" 2> "$TMP/d.err" ||
	{ cat "$TMP/d.err"; fail "duration capture"; }
t1=$(date +%s)
[ $((t1 - t0)) -ge 2 ] && [ $((t1 - t0)) -le 6 ] || fail "duration capture took $((t1 - t0)) s"
grep -q "^0 packets captured, 0 dropped" "$TMP/d.err" || { cat "$TMP/d.err"; fail "duration summary"; }
tshark -r "$TMP/d.pcapng" > /dev/null 2>&1 || fail "an empty capture is not a readable pcapng"
echo "ok: --duration ends it"

# -w - streams into tshark, while a second sender replays the trace.
ctl capture rx2.out --count 200 --duration 50 -w - 2> "$TMP/p.err" |
	tshark -r - -T fields -e frame.len > "$TMP/p.txt" 2> /dev/null &
pipe=$!
for _ in $(seq 100); do grep -q "capturing at" "$TMP/p.err" && break; sleep 0.05; done
sender "$TMP/in.pcap" 1
wait $pipe || true
[ "$(wc -l < "$TMP/p.txt")" -eq 200 ] || { cat "$TMP/p.err"; fail "tshark read $(wc -l < "$TMP/p.txt") frames from -w -"; }
grep -q "^200 packets captured" "$TMP/p.err" || { cat "$TMP/p.err"; fail "-w - summary"; }
echo "ok: -w - into tshark"

# One capture at a time, and the reader leaving ends it.
ctl capture parse -w "$TMP/x.pcapng" 2> "$TMP/x.err" &
x=$!
for _ in $(seq 100); do grep -q "capturing at" "$TMP/x.err" && break; sleep 0.05; done
set +e
ctl capture tx -w "$TMP/y.pcapng" 2> "$TMP/e"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "busy.*a capture of 'parse' is running" "$TMP/e" || { cat "$TMP/e"; fail "second capture"; }
kill -INT $x 2> /dev/null || true; wait $x || true
for _ in $(seq 100); do ctl capture tx --duration 1 -w "$TMP/y.pcapng" 2> /dev/null && break; sleep 0.1; done
echo "ok: one at a time; the reader leaving ends it"

total=$(stage_count tx in)
ctl shutdown > /dev/null
for p in $SENDERS; do kill -INT $p 2> /dev/null || true; wait $p || true; done
[ "$(tcpdump -r "$TMP/out.pcap" -n 2> /dev/null | wc -l)" -eq "$total" ] || fail "out.pcap does not hold the $total packets tx counted"
ref="$TMP/in.pcap"
[ "$rxn" -eq $N ] || ref="$TMP/out.pcap"
# The sender may lose a packet over memif (its tx retries are bounded, and
# ASan slows it): the input is what arrived, which tx wrote to out.pcap;
# when nothing was lost that is in.pcap itself.
python3 - "$ref" "$TMP/f.pcapng" <<'PY' || fail "captured frames differ from the first 1000 UDP frames of $ref"
import os, sys
sys.path.insert(0, os.environ["SLUICE_SRC"] + "/tests/integration")
from pcapcheck import frames
want = frames(sys.argv[1], "udp")[:1000]
got = frames(sys.argv[2])
assert len(want) == 1000, len(want)
if got != want:
    print(f"got {len(got)} frames; first difference at",
          next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None))
    sys.exit(1)
PY
echo "ok: 1000 UDP frames byte-identical to $(basename "$ref")"
echo "ok"
