#!/usr/bin/env python3
"""pktgen.py: writes classic pcap traces (Ethernet, microsecond stamps) of
hand-built frames for the filter and bpf tests: plain, 802.1Q, QinQ (0x88a8
and 0x8100 outer) Ethernet; IPv4 with options and fragments (first, middle,
last); IPv6 with extension header chains (hop-by-hop, routing, fragment,
destination options); TCP with various flags, UDP, ICMP, ICMPv6; ARP, LLDP and
802.3/LLC; sizes from 60 bytes to jumbo (chained mbufs in sluice); and
malformed frames: each well-formed frame cut at every header byte, bogus IHL
and length fields, IPv6 extension headers running past the packet, runts.

    pktgen.py OUT.pcap [--seed N] [--random N]

Standard library only. Same seed, same file."""
import argparse
import random
import struct

MACS = [bytes.fromhex(h) for h in ("020000000001", "020000000002", "00163e112233",
                                   "ffffffffffff", "01005e000001")]
V4 = ["10.0.0.1", "10.1.2.3", "10.255.0.9", "192.168.1.10", "192.168.7.1", "172.16.5.4",
      "8.8.8.8", "1.2.3.4", "224.0.0.1"]
V6 = ["2001:db8::1", "2001:db8:1::2", "2001:db8:ff::3", "fe80::1", "2a00:1450::5", "ff02::1",
      "::1"]
PORTS = [0, 20, 22, 53, 80, 123, 443, 1023, 1024, 5000, 6000, 8080, 31337, 65535]
TCP_FLAGS = [0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x01, 0x20, 0x29, 0xc2, 0x00, 0x3f]


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    head, _, tail = a.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    return struct.pack("!8H", *(h + [0] * (8 - len(h) - len(t)) + t))


def eth(dst, src, tags, etype):
    """tags: list of (tpid, vid); etype: the inner EtherType."""
    b = dst + src
    for tpid, vid in tags:
        b += struct.pack("!HH", tpid, vid)
    return b + struct.pack("!H", etype)


def tcp(sport, dport, flags, payload, seq=1000, doff=5):
    opts = b"\x01" * ((doff - 5) * 4)
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 77, doff << 4, flags, 8192, 0,
                       0) + opts + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(t, code, payload):
    return struct.pack("!BBHHH", t, code, 0, 1, 2) + payload


def ipv4(src, dst, proto, payload, opts=b"", frag=0, ttl=64, tos=0, ident=1, ihl=None,
         tot=None):
    hl = 20 + len(opts)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ((ihl if ihl is not None else hl // 4) & 0xf), tos,
                    tot if tot is not None else hl + len(payload), ident, frag, ttl, proto, 0,
                    ip4(src), ip4(dst)) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nh, payload, plen=None, hlim=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload) if plen is None else plen, nh,
                       hlim, ip6(src), ip6(dst)) + payload


def ext(nh, kind, body=b""):
    """One IPv6 extension header before next header nh: 0 hop-by-hop,
    43 routing, 44 fragment, 60 destination options."""
    if kind == 44:
        return struct.pack("!BBHI", nh, 0, body[0] if body else 0, 0x1234)
    if kind == 43:
        data = struct.pack("!BBI", 0, 0, 0) + bytes(16)  # type 0, 0 left, one address
        return struct.pack("!BB", nh, (len(data) + 2) // 8 - 1 + 0) + data[:len(data)]
    data = bytes([1, 4, 0, 0, 0, 0])  # PadN
    return struct.pack("!BB", nh, 0) + data


def frames(rnd, n_random):
    out = []
    l2s = [[], [(0x8100, 100)], [(0x8100, 200)], [(0x88a8, 300), (0x8100, 100)],
           [(0x8100, 10), (0x8100, 20)], [(0x88a8, 5), (0x8100, 100)]]

    def add(tags, et, l3, dst=0, src=1):
        out.append(eth(MACS[dst], MACS[src], tags, et) + l3)

    def pad(sz):
        return bytes(rnd.randrange(256) for _ in range(sz))

    # A systematic grid: every L2 shape with IPv4 and IPv6 TCP/UDP/ICMP.
    for tags in l2s:
        for flags in TCP_FLAGS:
            sp, dp = rnd.choice(PORTS), rnd.choice(PORTS)
            add(tags, 0x0800, ipv4(rnd.choice(V4), rnd.choice(V4), 6, tcp(sp, dp, flags, b"")))
            add(tags, 0x86dd, ipv6(rnd.choice(V6), rnd.choice(V6), 6, tcp(sp, dp, flags, b"x")))
        for dp in PORTS:
            add(tags, 0x0800, ipv4(rnd.choice(V4), rnd.choice(V4), 17, udp(5353, dp, pad(20))),
                src=rnd.randrange(len(MACS)))
            add(tags, 0x86dd, ipv6(rnd.choice(V6), rnd.choice(V6), 17, udp(dp, 53, pad(9))),
                dst=rnd.randrange(len(MACS)))
        add(tags, 0x0800, ipv4("10.0.0.1", "192.168.1.10", 1, icmp(8, 0, pad(56))))
        add(tags, 0x86dd, ipv6("2001:db8::1", "ff02::1", 58, icmp(135, 0, pad(24))))
        add(tags, 0x0800, ipv4("10.0.0.1", "192.168.1.10", 47, pad(30)))  # GRE: other proto
        add(tags, 0x0806, bytes.fromhex("0001080006040001") + MACS[1] + ip4("10.0.0.1") +
            bytes(6) + ip4("10.0.0.2"))
    # 802.3 length frames and LLDP.
    out.append(MACS[0] + MACS[1] + struct.pack("!H", 46) + b"\x42\x42\x03" + bytes(43))
    out.append(bytes.fromhex("0180c200000e") + MACS[2] + b"\x88\xcc" + pad(40))

    # IPv4 options and fragments.
    for tags in l2s[:4]:
        for opts in (b"", b"\x01\x01\x01\x00", b"\x94\x04\x00\x00" + b"\x01" * 8):
            for frag in (0, 0x4000, 0x2000, 0x2000 | 185, 185, 0x1fff, 0x4000 | 3):
                for proto, l4 in ((6, tcp(1234, 80, 0x02, b"")), (17, udp(53, 1234, pad(12))),
                                  (1, icmp(0, 0, pad(8)))):
                    add(tags, 0x0800, ipv4(rnd.choice(V4), rnd.choice(V4), proto, l4, opts,
                                           frag, ttl=rnd.choice((1, 64, 255)), tos=rnd.choice(
                                               (0, 0x10, 0xb8)), ident=rnd.randrange(65536)))

    # IPv6 extension header chains, each ending in TCP, UDP or ICMPv6.
    chains = [[0], [43], [44], [60], [0, 60], [0, 43, 60], [0, 44], [60, 44], [0, 43, 44, 60]]
    for tags in l2s[:4]:
        for chain in chains:
            for nh, l4 in ((6, tcp(443, 40000, 0x12, b"")), (17, udp(53, 53, pad(5))),
                           (58, icmp(128, 0, pad(8)))):
                for fragoff in ((0, 1) if 44 in chain else (0,)):
                    body, nxt = l4, nh
                    if fragoff:  # a later fragment: no L4 header
                        body = pad(16)
                    for kind in reversed(chain):
                        body = ext(nxt, kind, bytes([0x80]) if kind == 44 and fragoff else b"") \
                            + body
                        nxt = kind
                    add(tags, 0x86dd, ipv6(rnd.choice(V6), rnd.choice(V6), nxt, body))

    # Sizes, for greater/less and jumbo frames (chained mbufs).
    for size in (60, 64, 99, 100, 101, 127, 128, 129, 255, 256, 511, 512, 1000, 1499, 1500,
                 1514, 1518, 2048, 3000, 4000, 9000):
        for tags in (l2s[0], l2s[1]):
            base = ipv4(rnd.choice(V4), rnd.choice(V4), 6, tcp(80, 1024, 0x10, b""))
            hdr = len(eth(MACS[0], MACS[1], tags, 0x0800)) + len(base)
            p = pad(max(0, size - hdr))
            add(tags, 0x0800, ipv4(rnd.choice(V4), rnd.choice(V4), 6, tcp(80, 1024, 0x10, p)))

    # Random well-formed traffic.
    for _ in range(n_random):
        tags = rnd.choice(l2s)
        proto = rnd.choice((6, 6, 17, 17, 1))
        sp, dp = rnd.choice(PORTS + [rnd.randrange(65536)]), rnd.choice(PORTS)
        pl = pad(rnd.choice((0, 0, 10, 100, 600)))
        l4 = {6: tcp(sp, dp, rnd.choice(TCP_FLAGS), pl), 17: udp(sp, dp, pl),
              1: icmp(8, 0, pl)}[proto]
        if rnd.random() < 0.3:
            add(tags, 0x86dd, ipv6(rnd.choice(V6), rnd.choice(V6), 58 if proto == 1 else proto,
                                   l4), dst=rnd.randrange(len(MACS)))
        else:
            add(tags, 0x0800, ipv4(rnd.choice(V4), rnd.choice(V4), proto, l4,
                                   frag=rnd.choice((0, 0, 0x4000, 0x2000, 100))),
                src=rnd.randrange(len(MACS)))

    good = list(out)
    # Malformed: well-formed frames of each shape cut at every byte of
    # their headers (and runts of 1..13 bytes).
    shapes = [eth(MACS[0], MACS[1], t, 0x0800) + ipv4("10.0.0.1", "192.168.1.10", 6,
                                                       tcp(1234, 80, 0x02, b"", doff=6))
              for t in l2s[:4]]
    shapes += [eth(MACS[0], MACS[1], t, 0x86dd) + ipv6("2001:db8::1", "2001:db8::2", 0,
                                                        ext(44, 0, b"") + ext(17, 44) +
                                                        udp(53, 53, b""))
               for t in l2s[:4]]
    shapes.append(eth(MACS[0], MACS[1], [], 0x0800) + ipv4("10.0.0.1", "10.0.0.2", 17,
                                                           udp(1, 53, b""), b"\x01" * 8))
    for s in shapes:
        for cut in range(1, len(s)):
            out.append(s[:cut])
    # Bogus IPv4 header fields.
    for ihl in (0, 1, 4, 6, 15):
        for tot in (0, 10, 19, 40, 1500):
            add([], 0x0800, ipv4("10.0.0.1", "192.168.1.10", 6, tcp(1, 80, 0x02, b""), ihl=ihl,
                                 tot=tot))
            add([(0x8100, 100)], 0x0800, ipv4("10.9.9.9", "8.8.8.8", 17, udp(1, 53, b""),
                                              ihl=ihl, tot=tot))
    for v in (0x00, 0x55, 0x65, 0xf5):  # wrong versions under the IPv4 EtherType
        b = ipv4("10.0.0.1", "192.168.1.10", 6, tcp(1, 80, 0x02, b""))
        add([], 0x0800, bytes([v]) + b[1:])
    # Bogus IPv6 payload lengths and extension headers running past the end.
    for plen in (0, 3, 7, 100, 65535):
        add([], 0x86dd, ipv6("2001:db8::1", "2001:db8::2", 6, tcp(1, 80, 0x02, b""), plen=plen))
        add([], 0x86dd, ipv6("2001:db8::1", "2001:db8::2", 0, b"\x06\xff" + bytes(6), plen=plen))
    add([], 0x86dd, ipv6("2001:db8::1", "2001:db8::2", 60, b"\x3c\x00" + bytes(6)))
    # TCP data offsets below 5 and beyond the segment.
    for doff in (0, 1, 4, 15):
        b = tcp(1, 80, 0x02, b"")
        add([], 0x0800, ipv4("10.0.0.1", "192.168.1.10", 6, b[:12] + bytes([doff << 4]) + b[13:]))
    # Random corruption of header bytes of good frames.
    for _ in range(400):
        f = bytearray(rnd.choice(good[:600]))
        for _ in range(rnd.randrange(1, 4)):
            i = rnd.randrange(min(len(f), 70))
            f[i] = rnd.randrange(256)
        if rnd.random() < 0.5:
            f = f[:rnd.randrange(1, len(f) + 1)]
        out.append(bytes(f))
    rnd.shuffle(out)
    return out


def write_pcap(path, frs):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frs):
            f.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    """The frames of a classic pcap (either byte order, any time unit)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--random", type=int, default=2000, help="random well-formed frames")
    a = ap.parse_args()
    frs = frames(random.Random(a.seed), a.random)
    write_pcap(a.out, frs)
    print(f"{a.out}: {len(frs)} frames")


if __name__ == "__main__":
    main()
