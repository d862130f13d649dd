#!/usr/bin/env python3
"""gen_seeds.py: writes the fuzz targets' seed corpora under corpus/<target>/.
Run once by hand when the seeds should change; its outputs are committed.

  tests/fuzz/gen_seeds.py                 config, parse and proto seeds
  tests/fuzz/gen_seeds.py --stats SLUICE_DP  also capture a live stats segment
                                             from a short passthrough run
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- fuzz_config ----

def config_seeds():
    for sub in ("config", "config/examples"):
        d = os.path.join(ROOT, sub)
        for f in sorted(os.listdir(d)):
            if f.endswith(".yaml"):
                shutil.copy(os.path.join(d, f), os.path.join(CORPUS, "config", f))
    good = open(os.path.join(ROOT, "config/examples/passthrough.yaml"), "rb").read()
    broken = {
        "truncated-half": good[: len(good) // 2],
        "truncated-key": good[: good.index(b"graph:") + 3],
        "tabs": good.replace(b"  ", b"\t"),
        "tab-in-value": b"ports:\n  in0: { driver:\tdpdk, devargs: \"net_null0\" }\n",
        "anchor-alias": b"ports: &p\n  in0: { driver: dpdk, devargs: net_null0 }\n  out0: *p\n",
        "alias-undefined": b"ports: *nope\n",
        "alias-bomb": b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                      b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                      b"ports: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
        "merge-key": b"base: &b { driver: dpdk }\nports:\n  in0: { <<: *b, devargs: net_null0 }\n",
        # "%%\x9f" hung libfyaml 0.7.12 (regress-*.yaml); a milder one:
        "bad-directive": b"%%x\n---\nports: {}\n",
        "yaml-directive": b"%YAML 1.1\n%YAML 1.2\n---\nports: {}\n",
        "tag-directive": b"%TAG !e! tag:example.com,2000:\n---\nports: !e!x {}\n",
        "deep-flow": b"ports: " + b"[" * 5000 + b"\n",
        "deep-flow-closed": b"graph: " + b"[" * 300 + b"]" * 300 + b"\n",
        "deep-block": b"".join(b" " * i + b"k:\n" for i in range(300)),
        "huge-int": good.replace(b"core: 1", b"core: 99999999999999999999999999"),
        "huge-desc": b"ports:\n  in0: { driver: dpdk, devargs: net_null0, rx_desc: 18446744073709551616 }\n",
        "negative": good.replace(b"core: 1", b"core: -1"),
        "octal": good.replace(b"core: 1", b"core: 010"),
        "hex": good.replace(b"core: 1", b"core: 0x20"),
        "float": good.replace(b"core: 1", b"core: 1.5e3"),
        "dup-key": good.replace(b"clusters:", b"clusters:\n  io: [rx]\nclusters:"),
        "dup-key-nested": b"ports:\n  in0: { driver: dpdk, driver: dpdk, devargs: a }\n",
        "multi-doc": good + b"\n---\n" + good,
        "doc-end": b"ports: {}\n...\nports: {}\n",
        "bom": b"\xef\xbb\xbf" + good,
        "bom-utf16": b"\xff\xfe" + good.decode().encode("utf-16-le"),
        "nul-middle": good[:40] + b"\x00" + good[40:],
        "nul-only": b"\x00" * 16,
        "empty": b"",
        "only-comment": b"# nothing\n",
        "scalar-root": b"just a string\n",
        "seq-root": b"- ports\n- graph\n",
        "null-values": b"ports:\ngraph:\nclusters:\nmapping:\ndataplane:\n",
        "unknown-key": good + b"extra: 1\n",
        "bad-utf8": good.replace(b"passthrough", b"pass\xc3\x28through"),
        "long-name": good.replace(b"name: passthrough", b"name: " + b"n" * 5000),
        "connector-cycle": good.replace(b"- rx -> tx", b"- rx -> tx -> rx"),
        "connector-garbage": good.replace(b"- rx -> tx", b"- \"rx -> -> .. tx.out.out[3]\""),
        "stage-instance": good.replace(b"io: [rx, tx]", b"io: [\"rx[99999999999]\", \"tx[-1]\"]"),
        "block-scalar": b"ports: |\n  in0\n  out0\ngraph: >-\n  folded\n",
        "complex-key": b"? [a, b]\n: value\nports: {}\n",
        "untrusted-devargs": good.replace(b"net_null0,copy=0", b"net_pcap0,rx_pcap=/etc/shadow,tx_pcap=/tmp/sl-fuzz/../x"),
        "file-dirs": good + b"  file_dirs: [/tmp/sl-fuzz, /tmp/sl-fuzz/sub, /]\n",
        "crlf": good.replace(b"\n", b"\r\n"),
        "unterminated-quote": b"ports:\n  in0: { driver: \"dpdk, devargs: a }\n",
        "bad-escape": b"ports:\n  in0: { driver: \"\\xZZ\\u12\", devargs: a }\n",
        "flow-in-block": b"ports: {in0: {driver: dpdk, devargs: [a, {b: c}]}}\n",
    }
    for name, data in broken.items():
        out("config", "broken-" + name + ".yaml", data)


# ---- fuzz_parse: frames ----

def eth(et, vlans=()):
    h = bytes.fromhex("020000000001") + bytes.fromhex("020000000002")
    for tci, tpid in vlans:
        h += struct.pack(">H", tpid) + struct.pack(">H", tci)
    return h + struct.pack(">H", et)


def ipv4(proto, payload, opts=b"", frag=0):
    ihl = 5 + len(opts) // 4
    tot = ihl * 4 + len(payload)
    h = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 1, frag, 64, proto, 0,
                    bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return h + opts + payload


def ipv6(nh, payload):
    return struct.pack(">IHBB", 0x60000000, len(payload), nh, 64) + \
        bytes.fromhex("fd00" + "00" * 13 + "01") + bytes.fromhex("fd00" + "00" * 13 + "02") + payload


def tcp(sp=1234, dp=80, data=b"GET /"):
    return struct.pack(">HHIIBBHHH", sp, dp, 1, 0, 0x50, 0x18, 1024, 0, 0) + data


def udp(sp=5353, dp=53, data=b"\x00\x01query"):
    return struct.pack(">HHHH", sp, dp, 8 + len(data), 0) + data


def icmp(data=b"ping"):
    return struct.pack(">BBHHH", 8, 0, 0, 1, 1) + data


def parse_seeds():
    # The last byte steers the harness's segment cut; these end in ordinary
    # payload bytes, and two variants pin the cut inside the headers.
    frames = {
        "ipv4-tcp": eth(0x0800) + ipv4(6, tcp()),
        "ipv4-udp": eth(0x0800) + ipv4(17, udp()),
        "ipv4-icmp": eth(0x0800) + ipv4(1, icmp()),
        "ipv4-opts-tcp": eth(0x0800) + ipv4(6, tcp(), opts=b"\x01\x01\x01\x00"),
        "ipv4-frag-first": eth(0x0800) + ipv4(17, udp(), frag=0x2000),
        "ipv4-frag-later": eth(0x0800) + ipv4(17, b"later-fragment", frag=0x0010),
        "ipv6-tcp": eth(0x86DD) + ipv6(6, tcp()),
        "ipv6-udp": eth(0x86DD) + ipv6(17, udp()),
        "ipv6-icmp": eth(0x86DD) + ipv6(58, icmp()),
        "ipv6-hbh-dst-udp": eth(0x86DD) + ipv6(0, bytes([60, 0]) + b"\x01\x04\x00\x00\x00\x00" +
                                                bytes([17, 0]) + b"\x01\x04\x00\x00\x00\x00" + udp()),
        "ipv6-frag": eth(0x86DD) + ipv6(44, bytes([17, 0, 0, 1, 0, 0, 0, 7]) + udp()),
        "ipv6-ah-tcp": eth(0x86DD) + ipv6(51, bytes([6, 1, 0, 0]) + b"\x00" * 8 + tcp()),
        "vlan-ipv4-udp": eth(0x0800, [(42, 0x8100)]) + ipv4(17, udp()),
        "qinq-ipv6-tcp": eth(0x86DD, [(100, 0x88A8), (42, 0x8100)]) + ipv6(6, tcp()),
        "three-vlans": eth(0x0800, [(1, 0x8100), (2, 0x8100), (3, 0x8100)]) + ipv4(17, udp()),
        "arp": eth(0x0806) + bytes.fromhex("0001080006040001") + b"\x02" * 6 + b"\x0a\x00\x00\x01" +
               b"\x00" * 6 + b"\x0a\x00\x00\x02",
        "runt": b"\x02\x00\x00\x00\x00",
        "ipv4-bad-ihl": eth(0x0800) + bytes([0x4f]) + ipv4(17, udp())[1:],
        "ipv4-short-totlen": eth(0x0800) + ipv4(6, tcp())[:2] + b"\x00\x18" + ipv4(6, tcp())[4:],
        "ipv4-tcp-doff-big": eth(0x0800) + ipv4(6, tcp()[:12] + b"\xf0" + tcp()[13:]),
        "jumbo-udp": eth(0x0800) + ipv4(17, udp(data=b"J" * 8900)),
    }
    for name, f in frames.items():
        out("parse", name + ".bin", f)
    out("parse", "ipv4-tcp-cut20.bin", frames["ipv4-tcp"] + bytes([20]))
    out("parse", "ipv6-udp-cut3seg.bin", frames["ipv6-udp"] + bytes([0x80 | 30]))


# ---- fuzz_proto: request lines ----

def proto_seeds():
    lines = {
        "status": b'{"cmd":"status","id":1}',
        "graph": b'{"cmd":"graph","dot":true}',
        "map-set": b'{"cmd":"map_set","id":7,"cluster":"egress","core":2}',
        "counters-reset": b'{"cmd":"counters","reset":true,"id":"x"}',
        "graph-load": b'{"cmd":"graph_load","config":"ports: {}\\n","name":"a.yaml"}',
        "restart": b'{"cmd":"dataplane_restart","kind":"soft"}',
        "bad-types": b'{"cmd":"map_set","cluster":1,"core":"2","reset":"yes","dot":null}',
        "no-cmd": b'{"id":3}',
        "cmd-not-string": b'{"cmd":42}',
        "array": b'["cmd","status"]',
        "not-json": b"status please",
        "dup-keys": b'{"cmd":"a","cmd":"b"}',
        "nul-in-string": b'{"cmd":"sta\\u0000tus","name":"\\ud800"}',
        "huge-int": b'{"cmd":"map_set","core":99999999999999999999999}',
        "nested": b'{"cmd":"x","config":' + b"[" * 200 + b"]" * 200 + b"}",
        "pipelined": b'{"cmd":"status"}\n{"cmd":"graph"}\n\n{"cmd":"counters"}\n',
        "oversized": b'{"cmd":"graph_load","config":"' + b"a" * 66000 + b'"}\n{"cmd":"status"}\n',
        "exact-limit": b'{"cmd":"x","name":"' + b"b" * (65536 - 22) + b'"}\n',
        "crlf": b'{"cmd":"status"}\r\n',
        "trailing": b'{"cmd":"status"} garbage',
    }
    for name, data in lines.items():
        out("proto", name + ".json", data)


# ---- fuzz_stats: a live segment and header mutations ----

def stats_seeds(dp):
    tmp = tempfile.mkdtemp(prefix="sl-fuzz-seed.")
    name = "fuzzseed%d" % os.getpid()
    # dedup has extra counters, so the aux area is in the seed too.
    cfg = open(os.path.join(ROOT, "config/examples/dedup.yaml")).read()
    cfg = cfg.replace("name: dedup", "name: " + name)
    path = os.path.join(tmp, "p.yaml")
    open(path, "w").write(cfg)
    p = subprocess.Popen([dp, "-c", path, "-d", "3"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seg = "/dev/shm/sluice-%s.stats" % name
    data = None
    try:
        for _ in range(100):
            time.sleep(0.1)
            if os.path.exists(seg):
                time.sleep(0.5)
                data = open(seg, "rb").read()
                break
    finally:
        p.wait(timeout=30)
        shutil.rmtree(tmp)
        if os.path.exists(seg):
            os.unlink(seg)
    if not data:
        sys.exit("no stats segment appeared: " + p.stderr.read().decode(errors="replace"))
    out("stats", "live-dedup.bin", data)
    # Header fields (see dataplane/stats_segment.h): magic@0 version@8
    # hdr_size@12 epoch@16 size@24 ... state@64 n_stages@68 n_conns@72
    # n_ports@76 n_clusters@80 retired@84 off_stages@88 off_conns@96
    # off_ports@104 off_clusters@112 off_aux@120 aux_size@128 aux_used@136
    # name@144 config@208.
    def mut(tag, off, fmt, val, cut=None):
        b = bytearray(data)
        struct.pack_into(fmt, b, off, val)
        out("stats", "mut-" + tag + ".bin", bytes(b[:cut] if cut else b))
    mut("version", 8, "<I", 1)
    mut("state", 64, "<I", 99)
    mut("hdr-size", 12, "<I", 0xFFFFFFFF)
    mut("epoch-odd", 16, "<Q", 1)
    mut("size-huge", 24, "<Q", 1 << 62)
    mut("size-small", 24, "<Q", 64)
    mut("n-stages", 68, "<I", 0xFFFFFFFF)
    mut("n-conns", 72, "<I", 1000)
    mut("n-ports", 76, "<I", 0x10000)
    mut("n-clusters", 80, "<I", 7)
    mut("off-stages", 88, "<Q", len(data) - 8)
    mut("off-conns-wrap", 96, "<Q", (1 << 64) - 64)
    mut("off-ports", 104, "<Q", 3)
    mut("off-clusters", 112, "<Q", 0)
    mut("off-aux", 120, "<Q", len(data) - 8)
    mut("aux-size", 128, "<Q", 1 << 40)
    mut("truncated", 0, "<Q", struct.unpack_from("<Q", data, 0)[0], cut=len(data) // 2)
    mut("hdr-only", 0, "<Q", struct.unpack_from("<Q", data, 0)[0], cut=256)
    b = bytearray(data)
    b[144:208] = b"N" * 64  # name without a NUL
    b[208:464] = b"C" * 256
    out("stats", "mut-unterminated-strings.bin", bytes(b))
    out("stats", "magic-only.bin", data[:8])
    out("stats", "empty.bin", b"")


# ---- fuzz_stages: the parse frames, for each stage of the zoo ----

def stages_seeds():
    """Each parse seed behind a stage byte (the zoo has at most 32 types)
    and a cut byte inside the headers."""
    d = os.path.join(CORPUS, "parse")
    for name in sorted(os.listdir(d)):
        frame = open(os.path.join(d, name), "rb").read()
        for stage in range(32):
            out("stages", f"{stage:02d}-{name}", bytes([stage, 20]) + frame)


def main():
    os.makedirs(os.path.join(CORPUS, "config"), exist_ok=True)
    config_seeds()
    parse_seeds()
    proto_seeds()
    stages_seeds()
    if len(sys.argv) == 3 and sys.argv[1] == "--stats":
        stats_seeds(sys.argv[2])


if __name__ == "__main__":
    main()
