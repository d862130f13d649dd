#!/usr/bin/env python3
"""pcapcheck.py: checks for the integration tests. Packet contents and flow
tables come from tcpdump and tshark, never from sluice's own parser;
counters come from sluice-dp's --stats-json output."""
import json
import re
import subprocess
import sys
from collections import defaultdict

CONV = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(\d+)\s")


def conv(path):
    """{(table, endpoint pair): total frames} from tshark -z conv."""
    out = subprocess.run(
        ["tshark", "-r", path, "-q", "-z", "conv,tcp", "-z", "conv,udp",
         "-z", "conv,ip", "-z", "conv,ipv6"],
        check=True, capture_output=True, text=True).stdout
    table, flows = None, {}
    for line in out.splitlines():
        if line.endswith("Conversations"):
            table = line.split()[0]
            continue
        m = CONV.match(line)
        if m and table:
            key = (table,) + tuple(sorted((m.group(1), m.group(2))))
            flows[key] = flows.get(key, 0) + int(m.group(5))
    return flows


def frames(path, flt=None):
    """Each frame's bytes as hex, in file order, read by tcpdump (only those
    that match the tcpdump expression flt, when given)."""
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


def flow_keys(path):
    """Per frame, its flow as tshark sees it (addresses and ports, sorted)."""
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", "-e", "ip.src", "-e", "ip.dst",
         "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport",
         "-e", "udp.srcport", "-e", "udp.dstport"],
        check=True, capture_output=True, text=True).stdout
    keys = []
    for line in out.splitlines():
        f = line.split("\t") + [""] * 8
        a = (f[0] or f[2], f[4] or f[6])
        b = (f[1] or f[3], f[5] or f[7])
        keys.append(tuple(sorted((a, b))))
    return keys


def cmd_same(inp, out):
    a, b = frames(inp), frames(out)
    if len(a) != len(b):
        sys.exit(f"FAIL: {inp} has {len(a)} frames, {out} has {len(b)}")
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            sys.exit(f"FAIL: frame {i + 1} differs:\n in:  {x[:120]}\n out: {y[:120]}")
    print(f"ok: {len(a)} frames identical and in the same order")


def per_flow_sequences(path):
    seqs = defaultdict(list)
    for k, f in zip(flow_keys(path), frames(path)):
        seqs[k].append(f)
    return seqs


def cmd_balance(inp, *outs):
    want = conv(inp)
    seen_in = {}
    got_total = defaultdict(int)
    for o in outs:
        flows = conv(o)
        if not flows:
            sys.exit(f"FAIL: {o} holds no flows: balance sent nothing to that instance")
        for k, n in flows.items():
            if k[0] in ("TCP", "UDP") and k in seen_in:
                sys.exit(f"FAIL: flow {k} appears in both {seen_in[k]} and {o}")
            seen_in[k] = o
            got_total[k] += n
    if dict(got_total) != want:
        missing = {k: v for k, v in want.items() if got_total.get(k) != v}
        sys.exit(f"FAIL: per-flow counts differ for {len(missing)} flows, e.g. "
                 f"{list(missing.items())[:3]} (got {[got_total.get(k) for k in list(missing)[:3]]})")
    # Order within each flow is kept.
    in_seq = per_flow_sequences(inp)
    for o in outs:
        for k, seq in per_flow_sequences(o).items():
            if seq != in_seq[k]:
                sys.exit(f"FAIL: flow {k} in {o}: packets reordered or changed")
    five = sum(1 for k in want if k[0] in ("TCP", "UDP"))
    print(f"ok: {len(want)} conversations ({five} TCP/UDP 5-tuples) match tshark's counts "
          f"for the input, each 5-tuple on one instance, order kept")


def stage_map(stats):
    return {s["name"]: s for s in stats["stages"]}


def cmd_account(path, min_pkts="0"):
    stats = json.load(open(path))
    # After a drained run every mbuf is back: in use as when the ports had
    # just started (a leaked reference, a lost clone, would show here).
    if "mbufs_in_use" in stats and stats["mbufs_in_use"] != stats["mbufs_in_use_start"]:
        sys.exit(f"FAIL: {stats['mbufs_in_use']} mbufs in use after the run, "
                 f"{stats['mbufs_in_use_start']} before it: leaked or still held")
    total_in = 0
    for s in stats["stages"]:
        out = sum(s["out"].values())
        drops = sum(s["drops"].values())
        # A mirror hands every packet to both of its ports, and counts a
        # copy it could not make as a drop (copy_failed).
        copies = 2 if s["type"] == "mirror" else 1
        if s["in"] * copies != out + drops:
            sys.exit(f"FAIL: stage {s['name']}: in {s['in']} x {copies} != out {out} + drops {drops}")
        if s["type"] == "port_rx":
            total_in += s["in"]
    stages = stage_map(stats)
    for c in stats["connectors"]:
        if c["enqueued"] != c["dequeued"] or c["occupancy"] != 0:
            sys.exit(f"FAIL: connector {c['name']}: enqueued {c['enqueued']} dequeued "
                     f"{c['dequeued']} occupancy {c['occupancy']} after drain")
        m = re.match(r"^(\S+)\.(\S+) -> (\S+)$", c["name"])
        src, port, dst = m.group(1), m.group(2), m.group(3)
        if stages[src]["out"][port] != c["enqueued"] + c["dropped_full"]:
            sys.exit(f"FAIL: {src}.{port} sent {stages[src]['out'][port]} but connector "
                     f"took {c['enqueued']} + dropped {c['dropped_full']}")
        if stages[dst]["in"] < c["dequeued"]:
            sys.exit(f"FAIL: {dst} got {stages[dst]['in']} < dequeued {c['dequeued']}")
    rx_port = sum(p["ipackets"] for p in stats["ports"])
    tx_port = sum(p["opackets"] for p in stats["ports"])
    sent = sum(s["out"].get("sent", 0) for s in stats["stages"] if s["type"] == "port_tx")
    if rx_port != total_in:
        sys.exit(f"FAIL: ports received {rx_port} but port_rx stages took {total_in}")
    if tx_port != sent:
        sys.exit(f"FAIL: ports sent {tx_port} but port_tx stages handed over {sent}")
    drops = sum(sum(s["drops"].values()) for s in stats["stages"])
    full = sum(c["dropped_full"] for c in stats["connectors"])
    # Each packet a mirror takes in leaves it twice.
    made = sum(s["in"] for s in stats["stages"] if s["type"] == "mirror")
    if total_in + made != sent + drops + full:
        sys.exit(f"FAIL: in {total_in} + mirrored {made} != sent {sent} + stage drops {drops} "
                 f"+ ring drops {full}")
    if total_in < int(min_pkts):
        sys.exit(f"FAIL: only {total_in} packets, wanted at least {min_pkts}")
    copies = f" + {made} mirrored" if made else ""
    print(f"ok: {total_in} in{copies} = {sent} sent + {drops} stage drops + {full} ring-full "
          f"drops; every stage and connector balances")


if __name__ == "__main__":
    cmds = {"same": cmd_same, "balance": cmd_balance, "account": cmd_account}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit("usage: pcapcheck.py same IN OUT | balance IN OUT... | account JSON [MIN]")
    cmds[sys.argv[1]](*sys.argv[2:])
