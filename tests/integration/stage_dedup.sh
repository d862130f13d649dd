#!/usr/bin/env bash
# dedup on a replayed trace, on the trace's own time (time: capture, the
# pcap timestamps net_pcap puts in each mbuf): the packets it lets through
# are exactly those an exact model lets through, byte for byte and in order,
# whatever the speed of the replay. Duplicates differ from their original
# in TTL/hop limit and checksums only, as a copy one hop later does.
. "$(dirname "$0")/lib.sh"

python3 - "$TMP" << 'PY'
import random, struct, sys
tmp = sys.argv[1]
rnd = random.Random(11)
WINDOW_US = 1000

def ipv4_udp(k, ttl, noise):
    payload = bytes((k * 7 + i) & 255 for i in range(18))
    udp = struct.pack("!HHHH", 1000 + k, 53, 8 + len(payload), noise) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), k, 0, ttl, 17, noise ^ 0x5a5a,
                     bytes([10, 0, k >> 8, k & 255]), bytes([192, 168, 0, 1]))
    tag = struct.pack("!HH", 0x8100, k % 4000) if k % 3 == 0 else b""
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02" + tag + b"\x08\x00" + ip + udp

def ipv6_tcp(k, hop, noise):
    payload = bytes((k * 3 + i) & 255 for i in range(10))
    tcp = struct.pack("!HHIIBBHHH", 2000 + k, 80, k, 0, 0x50, 0x18, 512, noise, 0) + payload
    ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, hop,
                     b"\x20\x01" + bytes(12) + struct.pack("!H", k), b"\x20\x01" + bytes(13) + b"\x01")
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x86\xdd" + ip + tcp

def frame(k, hop, noise):
    return ipv4_udp(k, hop, noise) if k % 2 == 0 else ipv6_tcp(k, hop, noise)

def pcap(path, pkts):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for t, b in pkts:
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(b), len(b)) + b)

t, last, pkts, keep = 1700000000 * 1000000, {}, [], []
for i in range(20000):
    t += rnd.randrange(0, 60)  # microseconds
    k = rnd.randrange(300)
    b = frame(k, rnd.randrange(1, 256), rnd.randrange(65536))
    dup = k in last and t - last[k] <= WINDOW_US
    last[k] = t
    pkts.append((t, b))
    if not dup:
        keep.append((t, b))
pcap(f"{tmp}/in.pcap", pkts)
pcap(f"{tmp}/expect.pcap", keep)
print(f"trace: {len(pkts)} packets, {len(pkts) - len(keep)} duplicates by the model")
open(f"{tmp}/counts", "w").write(f"{len(pkts)} {len(pkts) - len(keep)}\n")
PY
read -r total dups < "$TMP/counts"

cat > "$TMP/p.yaml" << YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    parse: { type: parse }
    dd:    { type: dedup, window_us: 1000, entries: 4096, time: capture }
    tx:    { type: port_tx, port: out0 }
  connectors:
    - rx -> parse -> dd -> tx
clusters:
  c: [rx, parse, dd, tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
YAML
run_dp -c "$TMP/p.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
grep -q "gives no receive timestamps" "$TMP/dp.log" && { cat "$TMP/dp.log"; fail "net_pcap gave no timestamps"; }
$CHECK same "$TMP/expect.pcap" "$TMP/out.pcap"
$CHECK account "$TMP/stats.json" "$total"
python3 - "$TMP/stats.json" "$dups" << 'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}["dd"]
assert s["drops"]["duplicate"] == int(sys.argv[2]), s
assert s["counters"]["no_timestamp"] == 0, s
assert s["counters"]["evicted_live"] == 0, s
print(f"ok: dedup dropped {s['drops']['duplicate']} duplicates, as the model, on capture time")
PY
