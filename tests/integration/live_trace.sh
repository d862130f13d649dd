#!/usr/bin/env bash
# Packet trace from the CLI: sluicectl trace under sluiced, on
# rx -> parse -> lb (balance) -> work[0..2] (pass) -> tx over two clusters.
# A sender replays, after the trace is armed, five UDP packets of three
# flows (one flow in both directions) and a truncated frame. Each traced
# packet shows every stage in order; packets of one flow, either way, land
# on one instance, and the instances the trace shows are the ones whose
# counters moved; the truncated frame ends at parse with the drop reason
# parse counted.
. "$(dirname "$0")/lib.sh"

sock="$TMP/memif.sock"
cat > "$TMP/c.yaml" <<YAML
ports:
  mif: { driver: dpdk, devargs: "net_memif0,role=server,socket=$sock,socket-abstract=no,id=0" }
  out: { driver: dpdk, devargs: "net_null0" }
graph:
  stages:
    rx:    { type: port_rx, port: mif }
    parse: { type: parse }
    lb:    { type: balance }
    work:  { type: pass, instances: 3 }
    tx:    { type: port_tx, port: out }
  connectors:
    - rx -> parse -> lb -> work -> tx
clusters:
  ingress: [rx, parse, lb, "work[0]"]
  workers: ["work[1]", "work[2]", tx]
mapping:
  ingress: { core: 1 }
  workers: { core: 1 }
dataplane: { name: $PREFIX, cores: [1] }
YAML
python3 - "$TMP/in.pcap" <<'PY'
import struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return (~(s + (s >> 16))) & 0xffff
def udp(src, dst, sp, dp, payload=b"x" * 18):
    l4 = struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, 17, 0,
                     bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + l4
a, b, c, d = [10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 1, 7], [10, 0, 2, 9]
pkts = [udp(a, b, 1000, 53), udp(c, d, 2000, 80), udp(b, a, 53, 1000),
        udp(a, d, 3000, 443), udp(a, b, 1000, 53),
        b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + b"\x45\x00\x00\x30\x00"]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, p in enumerate(pkts):
        f.write(struct.pack("<IIII", 1, i, len(p), len(p)) + p)
PY
memif_sender "$TMP/in.pcap" "$sock" 0 "${PREFIX}s" > "$TMP/s.yaml"
start_sluiced -c "$TMP/c.yaml"

set +e
ctl trace --count 0 2> /dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "trace --count 0: exit $rc, want 2"
set +e
ctl trace --filter "udp and frobnicate" 2> "$TMP/e"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "bad_field (filter)" "$TMP/e" || { cat "$TMP/e"; fail "bad trace filter"; }

# Nothing flows yet: a short trace times out with nothing traced.
ctl --json trace --count 1 --timeout 1 > "$TMP/t0.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); assert r["traced"] == 0 and r["timed_out"], r' "$TMP/t0.json" ||
	fail "an idle trace"

ctl --json trace --count 6 --timeout 30 > "$TMP/t.json" 2> "$TMP/t.err" &
tr=$!
sleep 0.5
"$DP" -c "$TMP/s.yaml" --duration 200 > "$TMP/sender.log" 2>&1 &
sender=$!
wait $tr || { cat "$TMP/t.err"; fail "trace exited non-zero"; }
ctl --json counters stages > "$TMP/counters.json"
python3 - "$TMP/t.json" "$TMP/counters.json" <<'PY' || { cat "$TMP/t.json"; fail "the trace does not show the right path"; }
import json, sys
r = json.load(open(sys.argv[1]))
cnt = {s["name"]: s for s in json.load(open(sys.argv[2]))["stages"]}
assert r["traced"] == 6 and not r["timed_out"], (r["traced"], r["timed_out"])
pk = r["packets"]
def path(p):
    out, last = [], None
    for e in p["events"]:
        key = (e["stage"], e["instance"])
        if key != last:
            out.append(key)
            last = key
    return out
inst = []
for p in pk[:5]:
    st = [s for s, _ in path(p)]
    assert st == ["rx", "parse", "lb", "work", "tx"], st
    assert p["end"] == "sent", p["end"]
    ev = p["events"]
    assert [e["ns"] for e in ev] == sorted(e["ns"] for e in ev) and ev[0]["ns"] == 0
    lb_out = [e for e in ev if e["stage"] == "lb" and e["event"] == "out"]
    w = [i for s, i in path(p) if s == "work"][0]
    assert lb_out and lb_out[0]["port"] == str(w), (lb_out, w)
    clusters = {e["stage"] + str(e["instance"]): e["cluster"] for e in ev}
    assert clusters["rx0"] == "ingress" and clusters["tx0"] == "workers", clusters
    assert clusters["work%d" % w] == ("ingress" if w == 0 else "workers"), clusters
    assert all(e["core"] == 1 for e in ev), ev
    inst.append(w)
# packets 0, 2 (reverse) and 4 are one flow: one instance.
assert inst[0] == inst[2] == inst[4], inst
# the trace agrees with the per-instance counters (only these packets ran).
for i in range(3):
    name = "work[%d]" % i
    c = cnt[name]["in"] if name in cnt else 0
    assert c == inst.count(i), (name, c, inst)
# the truncated frame: parse drops it, with the reason parse counted.
t = pk[5]
assert [s for s, _ in path(t)] == ["rx", "parse"], path(t)
d = [e for e in t["events"] if e["event"] == "drop"]
reasons = [k for k, v in cnt["parse"]["drops"].items() if v]
assert t["end"] == "dropped" and len(d) == 1 and [d[0]["reason"]] == reasons, (d, reasons)
print("instances", inst, "drop", reasons)
PY
echo "ok: 6 packets traced, flows on their instances, truncated frame dropped by parse"

# The human form (the sender stays connected: DPDK 22.11's memif PMD can
# fault in an RX burst that races a peer's disconnect).
ctl trace --count 1 --timeout 1 > "$TMP/t1.txt"
grep -q "^0 of 1 packets traced (timed out)$" "$TMP/t1.txt" || { cat "$TMP/t1.txt"; fail "human trace summary"; }
ctl shutdown > /dev/null
kill -INT $sender 2> /dev/null || true
wait $sender || true
echo "ok"
