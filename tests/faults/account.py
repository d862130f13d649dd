#!/usr/bin/env python3
"""account.py: checks that final counters account for every packet, in a
form that holds across graph loads (which replace connector rings and so
restart their counters while kept stages keep theirs).

usage: account.py [--no-end-to-end] STATS_JSON [MIN_PACKETS]   (a
final_counters object, or a shutdown reply that carries one).
--no-end-to-end skips "packets in == sent + drops" over the whole graph, for
runs whose graph loads removed stages (their counters go with them)."""
import json
import sys


def check(s, min_pkts=0, end_to_end=True):
    """Returns a list of failures; empty when every packet is accounted for."""
    bad = []
    total_in = sent = drops = 0
    for st in s["stages"]:
        out, d = sum(st["out"].values()), sum(st["drops"].values())
        if st["in"] != out + d:
            bad.append(f"stage {st['name']}: in {st['in']} != out {out} + drops {d}")
        drops += d
        if st["type"] == "port_rx":
            total_in += st["in"]
        if st["type"] == "port_tx":
            sent += st["out"].get("sent", 0)
    full = 0
    for c in s["connectors"]:
        full += c["dropped_full"]
        if c["enqueued"] != c["dequeued"] or c["occupancy"] != 0:
            bad.append(f"connector {c['name']}: enqueued {c['enqueued']} != dequeued "
                       f"{c['dequeued']} (occupancy {c['occupancy']}) after the drain")
    rx_port = sum(p["ipackets"] for p in s["ports"])
    tx_port = sum(p["opackets"] for p in s["ports"])
    if rx_port != total_in:
        bad.append(f"ports received {rx_port} but port_rx stages took {total_in}")
    if tx_port != sent:
        bad.append(f"ports sent {tx_port} but port_tx stages handed over {sent}")
    if end_to_end and total_in != sent + drops + full:
        bad.append(f"in {total_in} != sent {sent} + stage drops {drops} + ring drops {full} "
                   f"({total_in - sent - drops - full} unaccounted)")
    if total_in < min_pkts:
        bad.append(f"only {total_in} packets, wanted at least {min_pkts}")
    return bad, total_in, sent, drops, full


if __name__ == "__main__":
    args = sys.argv[1:]
    e2e = "--no-end-to-end" not in args
    args = [a for a in args if a != "--no-end-to-end"]
    s = json.load(open(args[0]))
    s = s.get("result", s)
    s = s.get("final_counters", s)
    bad, total_in, sent, drops, full = check(s, int(args[1]) if len(args) > 1 else 0, e2e)
    for b in bad:
        print(f"FAIL: {b}", file=sys.stderr)
    if bad:
        sys.exit(1)
    if e2e:
        print(f"ok: {total_in} in = {sent} sent + {drops} stage drops + {full} ring-full drops; "
              f"every stage, connector and port balances")
    else:
        print(f"ok: every stage, connector and port balances ({total_in} in, {sent} sent)")
