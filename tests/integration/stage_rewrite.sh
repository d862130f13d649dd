#!/usr/bin/env bash
# rewrite on a replayed trace: port_rx -> rewrite(swap_macs, dec_ttl) ->
# port_tx, pcap to pcap. tshark must find every IPv4 header checksum of the
# output valid, and a byte-by-byte comparison with the input must find the
# MACs swapped, the TTL / hop limit one lower, the IPv4 checksum changed and
# nothing else. Then the same behind a mirror, whose copy goes through a ring
# to another core: rewrite must copy each shared packet before writing it
# (counter copied_shared), so that the copy leaves byte-identical to the input.
. "$(dirname "$0")/lib.sh"

N=20000
"$GEN" -o "$TMP/in.pcap" -n $N -f 500 -s imix --ipv6 0.3 --vlan 0.3 --seed 11
cat > "$TMP/rw.yaml" <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/out.pcap" }
graph:
  stages:
    rx: { type: port_rx, port: in0 }
    rw: { type: rewrite, ops: [swap_macs, dec_ttl] }
    tx: { type: port_tx, port: out0 }
  connectors:
    - rx -> rw -> tx
clusters:
  ingress: [rx, rw]
  egress:  [tx]
mapping:
  ingress: { core: 0 }
  egress:  { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
  ring_size: 32768
YAML
run_dp -c "$TMP/rw.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK account "$TMP/stats.json" $N

# tshark 4.0: ip.checksum.status is 1 (Good) once ip.check_checksum is on.
bad=$(tshark -o ip.check_checksum:TRUE -r "$TMP/out.pcap" -Y 'ip.checksum.status != 1' | wc -l)
good=$(tshark -o ip.check_checksum:TRUE -r "$TMP/out.pcap" -Y 'ip.checksum.status == 1' | wc -l)
v4=$(tshark -r "$TMP/out.pcap" -Y 'ip' | wc -l)
[ "$bad" -eq 0 ] || fail "$bad IPv4 headers with a bad checksum"
[ "$good" -eq "$v4" ] && [ "$v4" -gt 0 ] || fail "$good good checksums of $v4 IPv4 packets"
echo "ok: tshark: all $v4 IPv4 header checksums valid"

cat > "$TMP/cmp.py" <<'PY'
import struct, sys

def frames(path):
    d = open(path, "rb").read()
    magic = struct.unpack("<I", d[:4])[0]
    assert magic in (0xa1b2c3d4, 0xa1b23c4d), hex(magic)
    off, out = 24, []
    while off < len(d):
        _, _, cap, _ = struct.unpack("<IIII", d[off:off + 16])
        out.append(d[off + 16:off + 16 + cap])
        off += 16 + cap
    return out

a, b = frames(sys.argv[1]), frames(sys.argv[2])
assert len(a) == len(b), (len(a), len(b))
n4 = n6 = 0
for i, (x, y) in enumerate(zip(a, b)):
    want = bytearray(x)
    want[0:6], want[6:12] = x[6:12], x[0:6]
    o, et = 14, x[12] << 8 | x[13]
    while et in (0x8100, 0x88a8):
        et, o = x[o + 2] << 8 | x[o + 3], o + 4
    if et == 0x0800:
        assert x[o + 8] > 1, f"frame {i}: TTL {x[o + 8]}"
        want[o + 8] = x[o + 8] - 1
        assert y[o + 10:o + 12] != x[o + 10:o + 12], f"frame {i}: checksum unchanged"
        want[o + 10:o + 12] = y[o + 10:o + 12]  # tshark judged its value
        n4 += 1
    elif et == 0x86dd:
        want[o + 7] = x[o + 7] - 1
        n6 += 1
    assert bytes(want) == y, f"frame {i}: {x.hex()} -> {y.hex()}"
print(f"ok: {len(a)} frames ({n4} IPv4, {n6} IPv6): MACs swapped, TTL/hop limit - 1, "
      "IPv4 checksum changed, every other byte unchanged")
PY
python3 "$TMP/cmp.py" "$TMP/in.pcap" "$TMP/out.pcap"

cat > "$TMP/mrw.yaml" <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/mout.pcap" }
  out1: { driver: dpdk, devargs: "net_pcap2,tx_pcap=$TMP/mcopy.pcap" }
graph:
  stages:
    rx:  { type: port_rx, port: in0 }
    mir: { type: mirror }
    rw:  { type: rewrite, ops: [swap_macs, dec_ttl] }
    tx0: { type: port_tx, port: out0 }
    tx1: { type: port_tx, port: out1 }
  connectors:
    - rx -> mir -> rw -> tx0
    - mir.copy -> tx1
clusters:
  a: [rx, mir, rw, tx0]
  b: [tx1]
mapping:
  a: { core: 0 }
  b: { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
  ring_size: 32768
YAML
run_dp -c "$TMP/mrw.yaml" --idle-exit 1 --stats-json "$TMP/mstats.json" > "$TMP/mdp.log" 2>&1 ||
	{ cat "$TMP/mdp.log"; fail "sluice-dp exited non-zero (mirror + rewrite)"; }
$CHECK account "$TMP/mstats.json" $N
$CHECK same "$TMP/in.pcap" "$TMP/mcopy.pcap"
python3 "$TMP/cmp.py" "$TMP/in.pcap" "$TMP/mout.pcap"
python3 - "$TMP/mstats.json" $N <<'PY'
import json, sys
n = int(sys.argv[2])
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
c = s["rw"]["counters"]
assert c["copied_shared"] == n, c
print(f"ok: behind a mirror, rewrite copied all {n} shared packets before writing")
PY
