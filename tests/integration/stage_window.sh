#!/usr/bin/env bash
# window on a replayed trace, on the trace's own time (time: capture, the
# pcap timestamps net_pcap puts in each mbuf): the JSON records are exactly
# those a Python model computes from the pcap — packets and bytes per
# source and sliding window, and the distinct counts too, since the model
# runs the same HyperLogLog (hash, registers, estimate) — and two runs give
# the same file byte for byte. IPv4 (some VLAN-tagged) and IPv6, plus ARP
# frames that pass uncounted.
. "$(dirname "$0")/lib.sh"

python3 - "$TMP" << 'PY'
import json, math, random, struct, sys
tmp = sys.argv[1]
rnd = random.Random(5)
M64 = (1 << 64) - 1
SIZE, SLIDE, P = 2_000_000_000, 500_000_000, 8

def ipv4_udp(src, dst, sport, dport, pad, tag):
    udp = struct.pack("!HHHH", sport, dport, 8 + pad, 0) + bytes(pad)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    t = struct.pack("!HH", 0x8100, 7) if tag else b""
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02" + t + b"\x08\x00" + ip + udp

def ipv6_tcp(src, dst, sport, dport, pad):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 0x50, 0x18, 512, 0, 0) + bytes(pad)
    ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, 64, src, dst)
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x86\xdd" + ip + tcp

def pcap(path, pkts):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for t, b in pkts:
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(b), len(b)) + b)

# The stage's HyperLogLog, step by step.
def fmix(k):
    k ^= k >> 33; k = (k * 0xff51afd7ed558ccd) & M64
    k ^= k >> 33; k = (k * 0xc4ceb9fe1a85ec53) & M64
    return k ^ (k >> 33)

def hash_addr(a16, v6):
    h = 0x51 + v6
    for i in (0, 8):
        h = fmix(h ^ fmix(int.from_bytes(a16[i:i + 8], "little")))
    return h

def hash_port(p):
    return fmix(fmix(p) ^ 0x1234567)

def hll_add(r, h):
    i = h >> (64 - P)
    w = (h << P) & M64
    rho = (64 - w.bit_length() + 1) if w else 64 - P + 1
    r[i] = max(r[i], rho)

def hll_est(r):
    m = 1 << P
    s = 0.0
    for x in r:
        s += math.ldexp(1.0, -x)
    zeros = r.count(0)
    e = 0.7213 / (1.0 + 1.079 / m) * m * m / s
    if e <= 2.5 * m and zeros:
        e = m * math.log(m / zeros)
    return int(e + 0.5)

srcs = [(False, bytes([10, 0, 0, k])) for k in range(1, 9)] + \
       [(True, b"\x20\x01" + bytes(13) + bytes([k])) for k in range(1, 5)]
t, pkts, model, non_ip = 1700000000 * 1000000 + 250000, [], {}, 0
for i in range(30000):
    t += rnd.randrange(0, 700)  # microseconds: about 10 s in all
    if rnd.random() < 0.01:
        pkts.append((t, b"\xff" * 6 + b"\x02\0\0\0\0\x01\x08\x06" + bytes(28)))
        non_ip += 1
        continue
    k = rnd.randrange(len(srcs))
    v6, src = srcs[k]
    dn = rnd.randrange(20 << k)
    sport, dport, pad = rnd.randrange(1024, 1024 + 300 * (k + 1)), rnd.choice([53, 80, 443, 8080]), rnd.randrange(64)
    if v6:
        dst = b"\x20\x01" + bytes(10) + struct.pack("!I", dn)
        b = ipv6_tcp(src, dst, sport, dport, pad)
    else:
        dst = bytes([10, 1, dn >> 8, dn & 255])
        b = ipv4_udp(src, dst, sport, dport, pad, k % 3 == 0)
    pkts.append((t, b))
    ns = t * 1000
    top = ns // SLIDE
    for w in range(top - SIZE // SLIDE + 1, top + 1):
        rec = model.setdefault((w * SLIDE, k), [0, 0, [0] * (1 << P), [0] * (1 << P), [0] * (1 << P)])
        rec[0] += 1
        rec[1] += len(b)
        hll_add(rec[2], hash_addr(dst + bytes(16 - len(dst)), int(v6)))
        hll_add(rec[3], hash_port(sport))
        hll_add(rec[4], hash_port(dport))
pcap(f"{tmp}/in.pcap", pkts)

import ipaddress
want = []
for (start, k), r in model.items():
    v6, src = srcs[k]
    want.append({"start_ns": start, "end_ns": start + SIZE, "key": "src",
                 "src": str(ipaddress.ip_address(src)), "packets": r[0], "bytes": r[1],
                 "distinct_dst": hll_est(r[2]), "distinct_sport": hll_est(r[3]),
                 "distinct_dport": hll_est(r[4])})
want.sort(key=lambda o: (o["start_ns"], o["src"]))
json.dump(want, open(f"{tmp}/want.json", "w"))
open(f"{tmp}/counts", "w").write(f"{len(pkts)} {non_ip} {len(want)}\n")
print(f"trace: {len(pkts)} packets ({non_ip} ARP), {len(want)} records by the model")
PY
read -r total non_ip nrec < "$TMP/counts"

run() { # $1: run name
	cat > "$TMP/p$1.yaml" << YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/out$1.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    win:   { type: window, key: src, size_ms: 2000, slide_ms: 500, time: capture,
             max_keys: 1024, precision: 8, emit: "json:win$1.jsonl" }
    tx:    { type: port_tx, port: out0 }
  connectors:
    - rx -> win -> tx
clusters:
  c: [rx, win, tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
YAML
	run_dp -c "$TMP/p$1.yaml" --idle-exit 1 --stats-json "$TMP/stats$1.json" > "$TMP/dp$1.log" 2>&1 ||
		{ cat "$TMP/dp$1.log"; fail "sluice-dp exited non-zero"; }
	grep -q "gives no receive timestamps" "$TMP/dp$1.log" && { cat "$TMP/dp$1.log"; fail "net_pcap gave no timestamps"; }
	$CHECK same "$TMP/in.pcap" "$TMP/out$1.pcap"
	$CHECK account "$TMP/stats$1.json" "$total"
	python3 - "$TMP" "$1" "$non_ip" "$nrec" << 'PY'
import json, sys
tmp, run, non_ip, nrec = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = {x["name"]: x for x in json.load(open(f"{tmp}/stats{run}.json"))["stages"]}["win"]["counters"]
for c, v in (("non_ip", non_ip), ("no_timestamp", 0), ("late", 0), ("records_lost", 0),
             ("over_max_keys", 0), ("records", nrec), ("json_lines", nrec), ("json_write_errors", 0)):
    assert s[c] == v, (c, s)
got = [json.loads(l) for l in open(f"{tmp}/win{run}.jsonl")]
got.sort(key=lambda o: (o["start_ns"], o["src"]))
want = json.load(open(f"{tmp}/want.json"))
assert len(got) == len(want), (len(got), len(want))
for g, w in zip(got, want):
    assert g == w, (g, w)
print(f"ok: run {run}: {len(got)} records, exactly the model's")
PY
}
run 1
run 2
cmp "$TMP/win1.jsonl" "$TMP/win2.jsonl" || fail "two runs wrote different records"
echo "ok: two runs, the same records byte for byte"
