#!/usr/bin/env bash
# meter on a replayed trace with clock: capture: port_rx -> meter, each
# colour to its own pcap port. The frames of each colour must be exactly
# those an RFC 2697 / 2698 model, run here on the pcap's own time stamps,
# gives that colour, in order; and a second run must give the same files.
# The model's rate is the one rte_meter realizes: one byte every
# floor(tsc_hz / rate) TSC cycles (tsc_hz from the stats), the stage turning
# nanoseconds into cycles as floor(t * tsc_hz / 1e9); see SCHEMA.md. The
# rates keep that period above rte_meter's 100-cycle minimum for any TSC
# from 1 GHz.
. "$(dirname "$0")/lib.sh"

N=20000
"$GEN" -o "$TMP/in.pcap" -n $N -f 200 -s imix --seed 21

run() { # NAME METER-YAML
	cat > "$TMP/$1.yaml" <<YAML
ports:
  in0: { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  g:   { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/$1.green.pcap" }
  y:   { driver: dpdk, devargs: "net_pcap2,tx_pcap=$TMP/$1.yellow.pcap" }
  r:   { driver: dpdk, devargs: "net_pcap3,tx_pcap=$TMP/$1.red.pcap" }
graph:
  stages:
    rx:  { type: port_rx, port: in0 }
    m:   $2
    txg: { type: port_tx, port: g }
    txy: { type: port_tx, port: y }
    txr: { type: port_tx, port: r }
  connectors:
    - rx -> m.green -> txg
    - m.yellow -> txy
    - m.red -> txr
clusters:
  c: [rx, m, txg, txy, txr]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
YAML
	run_dp -c "$TMP/$1.yaml" --idle-exit 1 --stats-json "$TMP/$1.json" > "$TMP/$1.log" 2>&1 ||
		{ cat "$TMP/$1.log"; fail "$1: sluice-dp exited non-zero"; }
	$CHECK account "$TMP/$1.json" $N
}

SR="{ type: meter, mode: srtcm, cir: 5000000, cbs: 30000, ebs: 100000, clock: capture }"
TR="{ type: meter, mode: trtcm, cir: 5000000, cbs: 30000, pir: 10000000, pbs: 100000, clock: capture }"
run sr "$SR"
run sr2 "$SR"
run tr "$TR"
for c in green yellow red; do
	# (the pcap writer stamps the time of writing: compare frames)
	$CHECK same "$TMP/sr.$c.pcap" "$TMP/sr2.$c.pcap" ||
		fail "the second run coloured differently ($c)"
done
echo "ok: two runs coloured every frame the same"

python3 - "$TMP" <<'PY'
import json, struct, sys

tmp = sys.argv[1]

def frames(path):
    """(time in whole microseconds, as libpcap hands them to net_pcap, bytes)."""
    d = open(path, "rb").read()
    magic = struct.unpack("<I", d[:4])[0]
    nano = magic == 0xa1b23c4d
    assert nano or magic == 0xa1b2c3d4, hex(magic)
    off, out = 24, []
    while off < len(d):
        sec, frac, cap, _ = struct.unpack("<IIII", d[off:off + 16])
        out.append((sec * 1000000 + (frac // 1000 if nano else frac), d[off + 16:off + 16 + cap]))
        off += 16 + cap
    return out

def model(pkts, hz, tr, cir, cbs, ebs=0, pir=0, pbs=0):
    # rte_meter: one byte per floor(hz / rate) cycles (at least 100 here).
    pc, pp = hz // cir, (hz // pir if tr else 1)
    assert pc >= 100 and (pp >= 100 or not tr)
    t0 = pkts[0][0]
    tc, te, tp, kc0, kp0 = cbs, ebs, pbs, 0, 0
    colours = []
    for t, b in pkts:
        cyc = (t - t0) * 1000 * hz // 10**9  # port_rx: us -> ns; meter: ns -> cycles
        kc, kp = cyc // pc, cyc // pp
        add, kc0 = kc - kc0, kc
        n = len(b)
        if not tr:  # RFC 2697: C first, the overflow to E
            a = min(add, cbs - tc)
            tc, te = tc + a, min(ebs, te + add - a)
            if tc >= n:
                tc -= n; colours.append("green")
            elif te >= n:
                te -= n; colours.append("yellow")
            else:
                colours.append("red")
        else:  # RFC 2698
            tc, tp, kp0 = min(cbs, tc + add), min(pbs, tp + kp - kp0), kp
            if tp < n:
                colours.append("red")
            elif tc < n:
                tp -= n; colours.append("yellow")
            else:
                tp -= n; tc -= n; colours.append("green")
    return colours

pkts = frames(f"{tmp}/in.pcap")
for name, tr, kw in (("sr", False, dict(cir=5000000, cbs=30000, ebs=100000)),
                     ("tr", True, dict(cir=5000000, cbs=30000, pir=10000000, pbs=100000))):
    hz = json.load(open(f"{tmp}/{name}.json"))["tsc_hz"]
    col = model(pkts, hz, tr, **kw)
    counts = {}
    for c in ("green", "yellow", "red"):
        want = [b for (_, b), k in zip(pkts, col) if k == c]
        got = [b for _, b in frames(f"{tmp}/{name}.{c}.pcap")]
        assert len(want) > 50, (name, c, len(want))
        if got != want:
            sys.exit(f"FAIL: {name} {c}: sluice {len(got)} frames, model {len(want)}")
        counts[c] = len(got)
    print(f"ok: {name}tcm on capture time: {counts}, every frame as the RFC model says")
PY
