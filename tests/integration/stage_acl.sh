#!/usr/bin/env bash
# The acl stage in a running dataplane: a generated trace (IPv4 and IPv6,
# TCP, UDP, ICMP, other protocols, fragments, VLAN tags, ARP) goes through
# rx -> parse -> acl, whose `permit` and `inspect` ports feed two pcap
# ports. A model in Python, written from the rule format in SCHEMA.md,
# says where each frame goes: each output pcap must hold exactly the frames
# the model sends there (read back by tcpdump), and the stats must show the
# model's drops and per-rule hit counts.
. "$(dirname "$0")/lib.sh"

python3 - "$TMP" <<'PY'
import ipaddress, json, random, struct, sys

tmp = sys.argv[1]
rnd = random.Random(9)

# Rules: (prio, src, dst, (slo, shi), (dlo, dhi), proto, action); proto None
# is any, "icmp" the family's ICMP. Hand-written ones first (ties, both
# families, ports on fragments), then random ones over a small universe.
V4 = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "192.0.2.0/24", "198.51.100.7/32"]
V6 = ["2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64", "2001:db8:1:2::7/128"]
rules = [
    (50, "10.0.0.0/8", "*", (0, 65535), (80, 80), 6, "permit"),
    (50, "10.0.0.0/8", "*", (0, 65535), (0, 65535), 6, "inspect"),  # tie: loses on port 80
    (5, "*", "*", (0, 65535), (0, 65535), "icmp", "permit"),  # both families
    (40, "*", "2001:db8:1::/48", (0, 65535), (443, 443), 6, "permit"),
    (20, "2001:db8::/32", "::/0", (0, 65535), (0, 65535), None, "inspect"),
    (60, "*", "*", (0, 65535), (23, 23), 6, "drop"),
    (1, "0.0.0.0/0", "0.0.0.0/0", (0, 0), (0, 0), None, "inspect"),  # fragments, no-port protos
]
for _ in range(60):
    fam = rnd.choice((V4, V6))
    net = lambda: rnd.choice(fam) if rnd.random() < 0.7 else "*"
    src, dst = net(), net()
    if src == "*" and dst == "*":
        dst = fam[0]
    ports = lambda: rnd.choice([(0, 65535), (53, 53), (1024, 65535), (80, 90), (443, 443)])
    rules.append((rnd.randrange(0, 80), src, dst, ports(), ports(),
                  rnd.choice([6, 17, None, "icmp", 47]), rnd.choice(["permit", "inspect", "drop"])))

lines, line_of = ["# generated for stage_acl.sh", ""], []
for r in rules:
    p = "any" if r[5] is None else r[5]
    lines.append(f"{r[0]} {r[1]} {r[2]} {r[3][0]}-{r[3][1]} {r[4][0]}-{r[4][1]} {p} {r[6]}")
    line_of.append(len(lines))
open(f"{tmp}/rules.txt", "w").write("\n".join(lines) + "\n")

def fam_of(c):
    return None if c == "*" else ipaddress.ip_network(c).version

def match(r, k):
    fam, src, dst, proto, sp, dp = k
    fs, fd = fam_of(r[1]), fam_of(r[2])
    if (fs and fs != fam) or (fd and fd != fam):
        return False
    for c, a in ((r[1], src), (r[2], dst)):
        if c != "*" and ipaddress.ip_address(a) not in ipaddress.ip_network(c):
            return False
    want = (1 if fam == 4 else 58) if r[5] == "icmp" else r[5]
    if want is not None and want != proto:
        return False
    return r[3][0] <= sp <= r[3][1] and r[4][0] <= dp <= r[4][1]

def best(k):
    hits = [i for i, r in enumerate(rules) if match(r, k)]
    return max(hits, key=lambda i: (rules[i][0], -i)) if hits else None

def addr_in(c, fam):
    if c == "*":
        c = rnd.choice(V4 if fam == 4 else V6)
    n = ipaddress.ip_network(c)
    return str(n.network_address + rnd.randrange(min(n.num_addresses, 1 << 20)))

def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def frame(fam, src, dst, proto, sp, dp, frag, vlan):
    l4 = struct.pack("!HH", sp, dp)
    if proto == 6:
        l4 += struct.pack("!IIBBHHH", 1, 0, 0x50, 0x10, 1024, 0, 0) + b"acl!"
    elif proto == 17:
        l4 += struct.pack("!HH", 12, 0) + b"acl!"
    else:
        l4 = struct.pack("!BBHI", 8, 0, 0, 0)
    if fam == 4:
        fl = {0: 0, 1: 0x2000, 2: 0x00b9}[frag]
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, fl, 64, proto, 0,
                        ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed)
        ip, et = h[:10] + struct.pack("!H", csum(h)) + h[12:] + l4, 0x0800
    else:
        nh, ext = proto, b""
        if frag:
            ext = struct.pack("!BBHI", proto, 0, 1 if frag == 1 else 0x5a0, 7)
            nh = 44
        ip = struct.pack("!IHBB16s16s", 0x60000000, len(ext) + len(l4), nh, 64,
                         ipaddress.ip_address(src).packed,
                         ipaddress.ip_address(dst).packed) + ext + l4
        et = 0x86dd
    eth = bytes.fromhex("020000000002020000000001")
    if vlan:
        eth += struct.pack("!HH", 0x8100, 100)
    return eth + struct.pack("!H", et) + ip

def pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, b in enumerate(frames):
            f.write(struct.pack("<IIII", 1, i, len(b), len(b)) + b)

frames, out = [], {"permit": [], "inspect": []}
want = {"hits": [0] * len(rules), "default": 0, "denied": 0, "no_match": 0, "not_ip": 0}
for n in range(3000):
    x = rnd.random()
    if x < 0.02:
        frames.append(bytes.fromhex("ffffffffffff020000000001" "0806") + bytes(28))
        want["not_ip"] += 1
        continue
    fam = rnd.choice((4, 6))
    proto = rnd.choice((6, 17, 6, 17, 1 if fam == 4 else 58, 47))
    sp, dp = rnd.randrange(65536), rnd.choice((23, 53, 80, 85, 443, rnd.randrange(65536)))
    if x < 0.8:  # aimed at a rule of this family
        r = rnd.choice([r for r in rules if fam_of(r[1]) in (None, fam) and fam_of(r[2]) in (None, fam)])
        src, dst = addr_in(r[1], fam), addr_in(r[2], fam)
        if r[5] == "icmp":
            proto = 1 if fam == 4 else 58
        elif r[5] is not None:
            proto = r[5]
        sp, dp = rnd.randint(*r[3]), rnd.randint(*r[4])
    else:
        src, dst = addr_in("*", fam), addr_in("*", fam)
    frag = rnd.choice((0,) * 18 + (1, 2))
    vlan = rnd.random() < 0.1
    ports = proto in (6, 17) and not frag
    b = best((fam, src, dst, proto, sp if ports else 0, dp if ports else 0))
    f = frame(fam, src, dst, proto, sp, dp, frag, vlan)
    frames.append(f)
    if b is None:
        want["default"] += 1
        want["no_match"] += 1
        continue
    want["hits"][b] += 1
    act = rules[b][6]
    if act == "drop":
        want["denied"] += 1
    else:
        out[act].append(f)
pcap(f"{tmp}/in.pcap", frames)
for k, v in out.items():
    pcap(f"{tmp}/want-{k}.pcap", v)
want["lines"] = line_of
json.dump(want, open(f"{tmp}/want.json", "w"))
print(f"model: {len(out['permit'])} permit, {len(out['inspect'])} inspect, "
      f"{want['denied']} denied, {want['no_match']} no match, {want['not_ip']} not IP; "
      f"{sum(1 for h in want['hits'] if h)} of {len(rules)} rules hit")
PY

cat > "$TMP/acl.yaml" <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  p0:   { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/permit.pcap" }
  i0:   { driver: dpdk, devargs: "net_pcap2,tx_pcap=$TMP/inspect.pcap" }
graph:
  stages:
    rx:      { type: port_rx, port: in0 }
    parse:   { type: parse }
    acl:     { type: acl, rules: rules.txt, outputs: [permit, inspect], max_rules: 100 }
    permit:  { type: port_tx, port: p0 }
    inspect: { type: port_tx, port: i0 }
  connectors:
    - rx -> parse -> acl.permit -> permit
    - acl.inspect -> inspect
clusters:
  c: [rx, parse, acl, permit, inspect]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
YAML
run_dp -c "$TMP/acl.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK same "$TMP/want-permit.pcap" "$TMP/permit.pcap"
$CHECK same "$TMP/want-inspect.pcap" "$TMP/inspect.pcap"
$CHECK account "$TMP/stats.json" 3000
python3 - "$TMP/stats.json" "$TMP/want.json" <<'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}["acl"]
w = json.load(open(sys.argv[2]))
for d in ("denied", "no_match", "not_ip"):
    assert s["drops"][d] == w[d], (d, s["drops"][d], w[d])
c = s["counters"]
assert c["default"] == w["default"], (c["default"], w["default"])
for line, hits in zip(w["lines"], w["hits"]):
    assert c[f"line {line}"] == hits, (line, c[f"line {line}"], hits)
assert len(c) == len(w["lines"]) + 1, sorted(c)
print(f"ok: drops {s['drops']}, {len(w['lines'])} rule counters and default as modelled")
PY
