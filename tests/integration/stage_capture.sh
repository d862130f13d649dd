#!/usr/bin/env bash
# The capture stage: pcap in -> capture -> pcap out. The pcapng it writes
# opens in tshark with every packet, byte for byte, on an interface named
# after the graph point, while the traffic past it is unchanged; snaplen,
# max_packets, max_bytes and a full queue limit the copies only; bad file
# paths are refused naming the path; graph loads keep an unchanged capture
# (same file, same writer thread) and finish a changed or removed one.
. "$(dirname "$0")/lib.sh"

# capture_config IN OUT CAPTURE-KEYS: rx -> cap -> tx on core 0.
capture_config() {
	cat <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$1" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$2" }
graph:
  stages:
    rx:  { type: port_rx, port: in0 }
    cap: { type: capture, $3 }
    tx:  { type: port_tx, port: out0 }
  connectors:
    - rx -> cap -> tx
clusters:
  c: [rx, cap, tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
  ring_size: 32768
YAML
}

# run NAME CAPTURE-KEYS: replays $TMP/in.pcap; writes $TMP/NAME.{yaml,json,log}, out pcap.
run() {
	capture_config "$TMP/in.pcap" "$TMP/$1.out.pcap" "$2" > "$TMP/$1.yaml"
	run_dp -c "$TMP/$1.yaml" --idle-exit 1 --stats-json "$TMP/$1.json" > "$TMP/$1.log" 2>&1 ||
		{ cat "$TMP/$1.log"; fail "$1: sluice-dp exited non-zero"; }
	$CHECK same "$TMP/in.pcap" "$TMP/$1.out.pcap" > /dev/null || fail "$1: traffic past the capture changed"
	$CHECK account "$TMP/$1.json" "$N" > /dev/null || fail "$1: counters do not balance"
}

# aux NAME KEY: the capture stage's extra counter KEY from NAME's final counters.
aux() {
	python3 -c 'import json,sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
print(s["cap"]["counters"][sys.argv[2]])' "$TMP/$1.json" "$2"
}

# fields FILE FIELD...: tshark's fields of every frame (fails when tshark
# does not read the whole file).
fields() {
	local f=$1
	shift
	local args=()
	for x in "$@"; do args+=(-e "$x"); done
	tshark -r "$f" -T fields "${args[@]}" 2> "$TMP/tshark.err" ||
		{ cat "$TMP/tshark.err"; fail "tshark cannot read $f"; }
	! grep -qi "cut short\|appears to be damaged\|isn't a capture" "$TMP/tshark.err" ||
		{ cat "$TMP/tshark.err"; fail "tshark: $f is damaged"; }
}

N=3000
"$GEN" -o "$TMP/in.pcap" -n $N -f 200 -s imix --ipv6 0.3 --vlan 0.2 --seed 11
n_in=$(tcpdump -r "$TMP/in.pcap" -n 2> /dev/null | wc -l)
[ "$n_in" = $N ] || fail "generator wrote $n_in frames"
in_bytes=$(python3 -c 'import sys
d = open(sys.argv[1], "rb").read(); o = 24; t = 0
while o < len(d):
    n = int.from_bytes(d[o+8:o+12], "little"); t += n; o += 16 + n
print(t)' "$TMP/in.pcap")

# 1. Everything, whole packets.
# Content tests use a queue larger than the trace: they check data, not overload.
run all "file: $TMP/all.pcapng, queue: 4096"
fields "$TMP/all.pcapng" frame.len frame.cap_len > "$TMP/all.txt"
read -r n len cap < <(awk '{n++; l += $1; c += $2} END {print n, l, c}' "$TMP/all.txt")
[ "$n" = $N ] && [ "$len" = "$in_bytes" ] && [ "$cap" = "$in_bytes" ] ||
	fail "all: tshark reads $n frames, $len bytes ($cap captured); want $N, $in_bytes"
$CHECK same "$TMP/in.pcap" "$TMP/all.pcapng" > /dev/null || fail "all: captured data differ from the input"
names=$(fields "$TMP/all.pcapng" frame.interface_name frame.interface_description | sort -u)
[ "$names" = "$(printf 'cap\tsluice capture at graph point cap')" ] ||
	fail "all: interface is '$names', want it named after the graph point 'cap'"
[ "$(aux all captured)" = $N ] && [ "$(aux all captured_bytes)" = "$in_bytes" ] &&
	[ "$(aux all ring_full)" = 0 ] || fail "all: counters $(aux all captured)/$(aux all ring_full)"
[ "$(stat -c %a "$TMP/all.pcapng")" = 640 ] || fail "all: file mode is not 0640"
# Timestamps: nanosecond resolution, when the packets passed (during the run).
fields "$TMP/all.pcapng" frame.time_epoch | python3 -c 'import sys, time
t = [float(x) for x in sys.stdin]
assert all(time.time() - 120 < x <= time.time() for x in t), (t[0], t[-1], time.time())
assert t == sorted(t), "timestamps go back"' || fail "all: timestamps are not the time of the run"
echo "ok: $N frames, $in_bytes bytes in the pcapng, identical to the input, on interface 'cap'; output unchanged"

# 2. snaplen cuts the copy, not the packet.
run snap "file: $TMP/snap.pcapng, snaplen: 100, queue: 4096"
fields "$TMP/snap.pcapng" frame.len frame.cap_len > "$TMP/snap.txt"
python3 - "$TMP/snap.txt" "$in_bytes" $N <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
assert len(rows) == int(sys.argv[3]), len(rows)
assert sum(r[0] for r in rows) == int(sys.argv[2]), "original lengths lost"
assert all(c == min(l, 100) for l, c in rows), [r for r in rows if r[1] != min(r[0], 100)][:3]
PY
echo "ok: snaplen 100 keeps 100 bytes of each frame in the file, the output is whole"

# 3. max_packets stops at N, the rest counted.
run maxp "file: $TMP/maxp.pcapng, max_packets: 500"
[ "$(fields "$TMP/maxp.pcapng" frame.len | wc -l)" = 500 ] || fail "maxp: file does not hold 500 frames"
[ "$(aux maxp captured)" = 500 ] && [ "$(aux maxp limit_skipped)" = $((N - 500)) ] ||
	fail "maxp: captured $(aux maxp captured), limit_skipped $(aux maxp limit_skipped)"
echo "ok: max_packets 500 writes 500 frames, counts $((N - 500)) limit_skipped, passes all $N"

# 4. max_bytes: the file's packet data stays within it, and capture stops there.
run maxb "file: $TMP/maxb.pcapng, max_bytes: 100000, queue: 4096"
read -r n cap < <(fields "$TMP/maxb.pcapng" frame.cap_len | awk '{n++; c += $1} END {print n, c}')
[ "$n" = "$(aux maxb captured)" ] && [ "$cap" -le 100000 ] && [ "$cap" -gt $((100000 - 1518)) ] &&
	[ "$(aux maxb limit_skipped)" = $((N - n)) ] ||
	fail "maxb: $n frames, $cap bytes, captured $(aux maxb captured), skipped $(aux maxb limit_skipped)"
echo "ok: max_bytes 100000 stops at $cap bytes ($n frames)"

# 5. A tiny queue under a burst: copies are dropped and counted, packets are not.
run tiny "file: $TMP/tiny.pcapng, queue: 2"
c=$(aux tiny captured)
rf=$(aux tiny ring_full)
cf=$(aux tiny clone_failed)
[ "$rf" -gt 0 ] || fail "tiny: no ring_full with a 2-slot queue"
[ $((c + rf + cf)) = $N ] || fail "tiny: captured $c + ring_full $rf + clone_failed $cf != $N"
[ "$(fields "$TMP/tiny.pcapng" frame.len | wc -l)" = "$c" ] || fail "tiny: the file does not hold the $c captured"
echo "ok: queue 2 drops $rf copies (counted ring_full), writes $c, passes all $N"

# 6. Bad file paths are refused, naming the path.
mkfifo "$TMP/fifo"
mkdir "$TMP/adir"
for p in "$TMP/nodir/x.pcapng" "$TMP/fifo" "$TMP/adir"; do
	capture_config "$TMP/in.pcap" "$TMP/bad.out.pcap" "file: $p" > "$TMP/bad.yaml"
	if run_dp -c "$TMP/bad.yaml" --idle-exit 1 > "$TMP/bad.log" 2>&1; then
		fail "file $p accepted"
	fi
	grep -q "stage 'cap'.*'$p'" "$TMP/bad.log" || { cat "$TMP/bad.log"; fail "refusal of $p does not name it"; }
	echo "ok: refused: $(grep -o "stage 'cap'.*" "$TMP/bad.log" | head -1)"
done
[ -p "$TMP/fifo" ] && [ -d "$TMP/adir" ] || fail "a refused path was replaced"
# A FIFO with a reader opens: it is refused as not a regular file.
sleep 30 <> "$TMP/fifo" &
capture_config "$TMP/in.pcap" "$TMP/bad.out.pcap" "file: $TMP/fifo" > "$TMP/bad.yaml"
if run_dp -c "$TMP/bad.yaml" --idle-exit 1 > "$TMP/bad.log" 2>&1; then fail "FIFO with a reader accepted"; fi
grep -qF "stage 'cap': file: '$TMP/fifo' is not a regular file" "$TMP/bad.log" || { cat "$TMP/bad.log"; fail "FIFO refusal"; }
kill %% 2> /dev/null || true
echo "ok: refused: a FIFO with a reader is not a regular file"

# 6b. A full disk (a 200 KiB tmpfs, mounted in a mount namespace of the
# run's own so that it goes away with it): the writer counts the lost
# packets, says so once, and leaves a file that reads whole up to there.
mkdir "$TMP/small"
capture_config "$TMP/in.pcap" x "file: $TMP/small/full.pcapng, queue: 4096" |
	sed 's|net_pcap1,tx_pcap=x|net_null1|' > "$TMP/full.yaml"
if unshare -m true 2> /dev/null; then
	unshare -m bash -c '
		mount -t tmpfs -o size=200k sl-capture-full "$1/small" || exit 3
		timeout --signal=INT --kill-after=10 60 "$2" -c "$1/full.yaml" --idle-exit 1 \
			--stats-json "$1/full.json" > "$1/full.log" 2>&1 || exit 4
		tshark -r "$1/small/full.pcapng" -T fields -e frame.len > "$1/full.txt" 2> "$1/full.err" || exit 5
		stat -c %s "$1/small/full.pcapng" > "$1/full.size"' full "$TMP" "$DP" ||
		{ cat "$TMP/full.log" "$TMP/full.err" 2> /dev/null; fail "full: run failed ($?)"; }
	grep -qF "sluice-dp: capture 'cap': cannot write '$TMP/small/full.pcapng': No space left on device" "$TMP/full.log" ||
		{ cat "$TMP/full.log"; fail "full: no warning naming the file"; }
	! grep -qi "cut short\|damaged" "$TMP/full.err" || { cat "$TMP/full.err"; fail "full: the file is damaged"; }
	n=$(wc -l < "$TMP/full.txt")
	[ "$n" -gt 0 ] && [ "$n" -lt $N ] || fail "full: $n frames in $(cat "$TMP/full.size") bytes"
	[ $(($(aux full written) + $(aux full write_errors))) -le "$(aux full captured)" ] &&
		[ "$(aux full write_errors)" -gt 0 ] || fail "full: write errors not counted"
	echo "ok: a full disk: $n whole frames kept ($(cat "$TMP/full.size") bytes), the rest counted as write_errors, one warning"
else
	echo "skip: a full disk (no mount namespace here)"
fi

# 7. Two instances behind a balance: instance 1 writes all-1.pcapng, each
# file on an interface named after its instance; together they hold the input.
cat > "$TMP/inst.yaml" <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/inst.out.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    parse: { type: parse }
    lb:    { type: balance }
    cap:   { type: capture, file: $TMP/inst.pcapng, instances: 2, queue: 4096 }
    tx:    { type: port_tx, port: out0 }
  connectors:
    - rx -> parse -> lb -> cap -> tx
clusters:
  c: [rx, parse, lb, cap, tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
  ring_size: 32768
YAML
run_dp -c "$TMP/inst.yaml" --idle-exit 1 --stats-json "$TMP/inst.json" > "$TMP/inst.log" 2>&1 ||
	{ cat "$TMP/inst.log"; fail "inst: sluice-dp exited non-zero"; }
[ "$(fields "$TMP/inst.pcapng" frame.interface_name | sort -u)" = "cap[0]" ] &&
	[ "$(fields "$TMP/inst-1.pcapng" frame.interface_name | sort -u)" = "cap[1]" ] ||
	fail "inst: interfaces are not named cap[0] and cap[1]"
python3 - "$TMP" <<'PY' || fail "inst: the two files together do not hold the input"
import subprocess, sys
def frames(p):
    out = subprocess.run(["tcpdump", "-r", p, "-n", "-xx", "-t"], capture_output=True, text=True, check=True).stdout
    return out.count("\n\t0x0000:")
t = sys.argv[1]
a, b, i = frames(f"{t}/inst.pcapng"), frames(f"{t}/inst-1.pcapng"), frames(f"{t}/in.pcap")
assert a > 0 and b > 0 and a + b == i, (a, b, i)
print(f"ok: cap[0] wrote {a} frames to inst.pcapng, cap[1] {b} to inst-1.pcapng")
PY
sort_frames() { tcpdump -r "$1" -n -xx -t 2> /dev/null | awk '/^\t0x/ {sub(/^\t0x[0-9a-f]+: */, ""); f = f $0; next} {if (f != "") print f; f = ""} END {if (f != "") print f}' | tr -d ' ' | sort; }
[ "$(sort_frames "$TMP/in.pcap" | wc -l)" = $N ] || fail "inst: cannot list the input's frames"
cmp <(sort_frames "$TMP/in.pcap") <(cat <(sort_frames "$TMP/inst.pcapng") <(sort_frames "$TMP/inst-1.pcapng") | sort) > /dev/null ||
	fail "inst: the captured frames are not the input's"
echo "ok: the frames of both files are exactly the input's"

# 8. Two capture stages on one file, by the same path or through a link:
# the second is refused.
ln -s two.pcapng "$TMP/link.pcapng"
for second in "$TMP/two.pcapng" "$TMP/link.pcapng"; do
	sed 's|    tx:  { type: port_tx, port: out0 }|    tx:  { type: port_tx, port: out0 }\n    cap2: { type: capture, file: '"$second"' }|; s|rx -> cap -> tx|rx -> cap -> cap2 -> tx|; s|c: \[rx, cap, tx\]|c: [rx, cap, cap2, tx]|' \
		<(capture_config "$TMP/in.pcap" "$TMP/two.out.pcap" "file: $TMP/two.pcapng") > "$TMP/two.yaml"
	grep -q cap2 "$TMP/two.yaml" || fail "could not make two.yaml"
	if run_dp -c "$TMP/two.yaml" --idle-exit 1 > "$TMP/two.log" 2>&1; then fail "two captures on one file accepted"; fi
	grep -qF "stage 'cap2': '$second' is already being written by capture 'cap'" "$TMP/two.log" ||
		{ cat "$TMP/two.log"; fail "two: refusal does not say why"; }
	echo "ok: a second capture on the same file ($(basename "$second")) is refused"
done

# 9. Graph loads. net_null traffic, capture limited to 1000 frames.
F="$TMP/files"
mkdir "$F"
# loadcfg CAPTURE-KEYS [q]: rx -> [cap ->] p [-> q] -> tx; no capture when
# the keys are empty, an extra pass stage q when asked.
loadcfg() {
	local cap=${1:+cap} q=${2:-}
	cat <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_null0,copy=0" }
  out0: { driver: dpdk, devargs: "net_null1" }
graph:
  stages:
    rx:  { type: port_rx, port: in0 }
    p:   { type: pass }
    tx:  { type: port_tx, port: out0 }
${cap:+    cap: { type: capture, $1 \}}
${q:+    q:   { type: pass \}}
  connectors:
    - rx -> ${cap:+cap -> }p -> ${q:+q -> }tx
clusters:
  c: [rx, ${cap:+cap, }p, ${q:+q, }tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
  file_dirs: [$F]
YAML
}
loadcfg "file: $F/a.pcapng, max_packets: 1000" > "$TMP/g0.yaml"
# g1: the same capture, another stage added (the capture is kept).
loadcfg "file: $F/a.pcapng, max_packets: 1000" q > "$TMP/g1.yaml"
# g2: the capture changed (snaplen, another file): a is finished, b begins.
loadcfg "file: $F/b.pcapng, max_packets: 1000, snaplen: 60" > "$TMP/g2.yaml"
# g3: changed again but onto b, which g2's capture is writing: refused.
loadcfg "file: $F/b.pcapng, max_packets: 900" > "$TMP/g3.yaml"
# g4: no capture: b is finished.
loadcfg "" > "$TMP/g4.yaml"

wait_frames() { # FILE N: until tshark reads N frames in FILE
	for _ in $(seq 100); do
		[ "$(tshark -r "$1" -T fields -e frame.number 2> /dev/null | wc -l)" = "$2" ] && return 0
		sleep 0.1
	done
	fail "$1 did not reach $2 frames"
}
threads() { cat /proc/"$(dp_pid)"/task/*/comm | grep '^slcap' | sort | tr '\n' ' '; }

start_sluiced -c "$TMP/g0.yaml"
wait_frames "$F/a.pcapng" 1000
t0=$(threads)
first=$(tshark -r "$F/a.pcapng" -T fields -e frame.time_epoch -c 1 2> /dev/null)
ctl --json graph load "$TMP/g1.yaml" > "$TMP/l1.json" || fail "load g1 failed"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); assert r["kept_instances"] == 4, r' "$TMP/l1.json" ||
	fail "g1 did not keep the capture"
sleep 0.5
[ "$(threads)" = "$t0" ] || fail "the kept capture's writer thread changed: '$t0' -> '$(threads)'"
[ "$(tshark -r "$F/a.pcapng" -T fields -e frame.time_epoch -c 1 2> /dev/null)" = "$first" ] ||
	fail "the kept capture's file was started again"
ctl --json counters stages > "$TMP/c1.json"
python3 - "$TMP/c1.json" <<'PY' || fail "the kept capture lost its counters"
import json, sys
d = json.load(open(sys.argv[1]))
st = d["stages"] if isinstance(d, dict) else d
cap = [s for s in st if s["name"] == "cap"][0]
c = cap["counters"]
assert c["captured"] == 1000 and c["limit_skipped"] > 0, c
PY
echo "ok: a load that leaves the capture unchanged keeps it: thread $t0, same file, counters carried"
# The writer is a control thread: its CPUs do not include the worker's (0).
python3 - "$(dp_pid)" <<'PY' || fail "the writer thread may run on the worker's core"
import glob, sys
for t in glob.glob(f"/proc/{sys.argv[1]}/task/*"):
    if open(f"{t}/comm").read().startswith("slcap"):
        cpus = set()
        for part in [l for l in open(f"{t}/status") if l.startswith("Cpus_allowed_list")][0].split()[1].split(","):
            a, _, b = part.partition("-")
            cpus |= set(range(int(a), int(b or a) + 1))
        assert cpus and 0 not in cpus, cpus
        print(f"ok: the writer thread runs on CPUs {sorted(cpus)}, not on the worker's core 0")
PY

ctl --json graph load "$TMP/g2.yaml" > "$TMP/l2.json" || fail "load g2 failed"
[ "$(fields "$F/a.pcapng" frame.len | wc -l)" = 1000 ] || fail "a.pcapng is not finished with 1000 frames"
wait_frames "$F/b.pcapng" 1000
[ "$(fields "$F/b.pcapng" frame.cap_len | sort -u)" = 60 ] || fail "b.pcapng does not have snaplen 60"
echo "ok: a load that changes the capture finishes a.pcapng (1000 frames) and starts b.pcapng"

if ctl graph load "$TMP/g3.yaml" 2> "$TMP/err3.txt"; then fail "g3 (same file, changed capture) accepted"; fi
grep -qF "'$F/b.pcapng' is already being written by capture 'cap': two captures cannot share a file" "$TMP/err3.txt" ||
	{ cat "$TMP/err3.txt"; fail "g3 refusal does not say why"; }
[ "$(fields "$F/b.pcapng" frame.len | wc -l)" = 1000 ] || fail "the refused load damaged b.pcapng"
echo "ok: a changed capture onto the file the running one writes is refused; b.pcapng intact"

ctl --json graph load "$TMP/g4.yaml" > "$TMP/l4.json" || fail "load g4 failed"
[ -z "$(threads)" ] || fail "writer thread left after the capture was removed: $(threads)"
[ "$(fields "$F/b.pcapng" frame.len | wc -l)" = 1000 ] || fail "b.pcapng not finished"
echo "ok: a load that removes the capture stops its thread and leaves a whole file"
