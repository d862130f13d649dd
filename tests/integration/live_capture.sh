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
  mif: { driver: dpdk, devargs: "net_memif0,role=server,socket=$sock,socket-abstract=no,id=0" }
  out: { driver: dpdk, devargs: "net_pcap0,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: mif }
    parse: { type: parse }
    tx:    { type: port_tx, port: out }
  connectors: [ "rx -> parse -> tx" ]
clusters: { c: [rx, parse, tx] }
mapping: { c: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
# sender PCAP: replay PCAP into the memif (standalone, core 0), in the background.
sender() {
	cat > "$TMP/s.yaml" <<YAML
ports:
  in:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$1" }
  mif: { driver: dpdk, devargs: "net_memif0,role=client,socket=$sock,socket-abstract=no,id=0" }
graph:
  stages:
    rx: { type: port_rx, port: in }
    tx: { type: port_tx, port: mif }
  connectors: [ "rx -> tx" ]
clusters: { s: [rx, tx] }
mapping: { s: { core: 0 } }
dataplane: { name: ${PREFIX}s, cores: [0], tx_retries: 100000 }
YAML
	"$DP" -c "$TMP/s.yaml" --duration 60 > "$TMP/sender.log" 2>&1 &
	SENDER=$!
}
# stage_count NAME KEY: a stage's in / total out from sluicectl counters.
stage_count() {
	ctl --json counters stages | python3 -c 'import json,sys
s = {x["name"]: x for x in json.load(sys.stdin)["stages"]}[sys.argv[1]]
print(s["in"] if sys.argv[2] == "in" else sum(s["out"].values()))' "$1" "$2"
}

start_sluiced -c "$TMP/c.yaml"

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
grep -q "not_found (point).*known points: rx, rx.out, parse, parse.out" "$TMP/e" ||
	{ cat "$TMP/e"; fail "bad point does not name the known points"; }
set +e
ctl capture parse.out 2> /dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "capture without -w: exit $rc, want 2"

# A reader (read group only) may not capture.
if id nobody > /dev/null 2>&1 && command -v setpriv > /dev/null; then
	:
fi

# The capture: attached before the traffic starts.
ctl capture parse.out --filter udp --count 1000 --duration 50 -w "$TMP/f.pcapng" 2> "$TMP/cap.err" &
cap=$!
for _ in $(seq 100); do grep -q "capturing at" "$TMP/cap.err" && break; sleep 0.05; done
grep -q "capturing at parse.out" "$TMP/cap.err" || { cat "$TMP/cap.err"; fail "capture did not start"; }
sender "$TMP/in.pcap"
wait $cap || { cat "$TMP/cap.err"; fail "capture exited non-zero"; }
grep -q "^1000 packets captured, 0 dropped (capture ring full)$" "$TMP/cap.err" ||
	{ cat "$TMP/cap.err" "$TMP/sender.log"; ctl counters; cat "$TMP/sluiced.log"; fail "capture summary"; }
python3 - "$TMP/in.pcap" "$TMP/f.pcapng" <<'PY' || fail "captured frames differ from the first 1000 UDP frames"
import subprocess, sys
def frames(path, flt=None):
    cmd = ["tcpdump", "-r", path, "-t", "-n", "-xx"] + ([flt] if flt else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    pkts, cur = [], None
    for line in out.splitlines():
        if line.startswith("\t0x"):
            cur.append("".join(line.split(":", 1)[1].split()))
        else:
            if cur is not None:
                pkts.append("".join(cur))
            cur = []
    if cur is not None:
        pkts.append("".join(cur))
    return pkts
want = frames(sys.argv[1], "udp")[:1000]
got = frames(sys.argv[2])
assert len(want) == 1000, len(want)
if got != want:
    print(f"got {len(got)} frames; first difference at",
          next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None))
    sys.exit(1)
PY
tshark -r "$TMP/f.pcapng" -T fields -e frame.interface_name 2>/dev/null | sort -u | grep -qx "parse.out" ||
	fail "the interface is not named after the point"
tshark -r "$TMP/f.pcapng" -q -z io,stat,0 > /dev/null 2>&1 || fail "tshark cannot read the capture"
echo "ok: 1000 UDP frames byte-identical"

# Forwarding unchanged: everything sent came through parse to tx.
for _ in $(seq 100); do [ "$(stage_count tx in)" -ge $N ] && break; sleep 0.1; done
[ "$(stage_count parse in)" -eq $N ] || fail "parse saw $(stage_count parse in) of $N"
[ "$(stage_count parse out)" -eq $N ] || fail "parse forwarded $(stage_count parse out) of $N"
[ "$(stage_count tx in)" -eq $N ] || fail "tx got $(stage_count tx in) of $N"

# --count beyond the traffic: ends on --duration with what there was.
t0=$(date +%s)
ctl capture parse --count 100000 --duration 2 -w "$TMP/d.pcapng" 2> "$TMP/d.err" ||
	{ cat "$TMP/d.err"; fail "duration capture"; }
t1=$(date +%s)
[ $((t1 - t0)) -ge 2 ] && [ $((t1 - t0)) -le 6 ] || fail "duration capture took $((t1 - t0)) s"
grep -q "^0 packets captured, 0 dropped" "$TMP/d.err" || { cat "$TMP/d.err"; fail "duration summary"; }
tshark -r "$TMP/d.pcapng" > /dev/null 2>&1 || fail "an empty capture is not a readable pcapng"
echo "ok: --duration ends it"

# -w - streams into tshark, while the sender replays the trace again.
kill -INT $SENDER; wait $SENDER || true
ctl capture rx.out --count 200 --duration 50 -w - 2> "$TMP/p.err" |
	tshark -r - -T fields -e frame.len > "$TMP/p.txt" 2> /dev/null &
pipe=$!
for _ in $(seq 100); do grep -q "capturing at" "$TMP/p.err" && break; sleep 0.05; done
sender "$TMP/in.pcap"
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
kill -INT $x; wait $x || true
for _ in $(seq 100); do ctl capture tx --duration 1 -w "$TMP/y.pcapng" 2> /dev/null && break; sleep 0.1; done
echo "ok: one at a time; the reader leaving ends it"

ctl shutdown > /dev/null
kill -INT $SENDER 2> /dev/null; wait $SENDER || true
echo "ok"
