#!/usr/bin/env bash
# Fault: the kernel interface behind a net_tap port disappears.
# Under sluiced, cluster `one` sends net_null traffic into a tap interface
# (net_tap0,iface=sltapPID) and cluster `two` reads the tap into net_null.
# Then `ip link del` removes the interface under the running port. Expected:
# - the dataplane stays up: same pid, status running, restarts 0;
# - the failures are counted, not hidden: after the deletion the tap port's
#   oerrors/ierrors or the tap-facing stage's drops keep rising, and every
#   stage still balances (in == out + drops);
# - a later `graph load` of a config without the tap succeeds on the same
#   dataplane, traffic flows again, and the final counters balance per
#   stage, connector and port.
# The interface is deleted at exit even when the test fails.
. "$(dirname "$0")/lib.sh"

tap="sltap$$"
tap=${tap:0:15}
on_cleanup "ip link del $tap"
cat > "$TMP/t.yaml" <<YAML
ports:
  gen: { driver: dpdk, devargs: "net_null0,copy=0" }
  tap: { driver: dpdk, devargs: "net_tap0,iface=$tap" }
  out: { driver: dpdk, devargs: "net_null1" }
graph:
  stages:
    rx:      { type: port_rx, port: gen }
    totap:   { type: port_tx, port: tap }
    fromtap: { type: port_rx, port: tap }
    tx:      { type: port_tx, port: out }
  connectors:
    - rx -> totap
    - fromtap -> tx
clusters:
  one: [rx, totap]
  two: [fromtap, tx]
mapping:
  one: { core: 0 }
  two: { core: 1 }
dataplane: { name: $PREFIX, cores: [0, 1] }
YAML
cat > "$TMP/n.yaml" <<YAML
ports:
  gen: { driver: dpdk, devargs: "net_null0,copy=0" }
  out: { driver: dpdk, devargs: "net_null1" }
graph:
  stages:
    rx: { type: port_rx, port: gen }
    tx: { type: port_tx, port: out }
  connectors:
    - rx -> tx
clusters:
  one: [rx, tx]
mapping:
  one: { core: 0 }
dataplane: { name: $PREFIX, cores: [0, 1] }
YAML
start_sluiced -c "$TMP/t.yaml"
ip link show "$tap" > /dev/null || fail "tap $tap not there"
pid=$(dp_pid)
# errs: tap port errors + tap-facing stage drops; also checks stage balance.
errs() {
	ctl --json counters | python3 -c '
import json, sys
s = json.load(sys.stdin)
for x in s["stages"]:
    o, d = sum(x["out"].values()), sum(x["drops"].values())
    # a live reading may be mid-burst: allow one burst of difference
    n, i = x["name"], x["in"]
    assert abs(i - o - d) <= 256, f"stage {n}: in {i} out {o} drops {d}"
p = {x["name"]: x for x in s["ports"]}["tap"]
st = {x["name"]: x for x in s["stages"]}
print(p["oerrors"] + p["ierrors"] + sum(st["totap"]["drops"].values()), st["totap"]["in"])'
}
sleep 0.5
e0=$(errs) || fail "counters before the deletion"
ip link del "$tap"
sleep 0.5
e1=$(errs) || fail "counters right after the deletion"
sleep 1
e2=$(errs) || fail "counters 1 s after the deletion"
echo "tap errors+drops, totap in: before $e0, after $e1, then $e2"
[ "$(dp_pid)" = "$pid" ] || fail "the dataplane changed pid ($pid -> $(dp_pid)): it died"
[ "$(status_field state)" = running ] || fail "status: $(status_field state)"
[ "$(status_field restarts)" = 0 ] || fail "restarts: $(status_field restarts)"
[ "${e2#* }" -gt "${e1#* }" ] || fail "totap stopped taking packets after the deletion (${e1#* } -> ${e2#* })"
[ "${e2% *}" -gt "${e1% *}" ] || fail "nothing counts the failed sends after the deletion (${e1% *} -> ${e2% *})"
echo "ok: the dataplane stays up without its tap, and counts the failures"

ctl --json graph load "$TMP/n.yaml" > "$TMP/load.json" 2> "$TMP/load.err" ||
	{ cat "$TMP/load.err"; tail "$TMP/sluiced.log"; fail "graph load without the tap refused"; }
[ "$(dp_pid)" = "$pid" ] || fail "the dataplane restarted during the load"
[ "$(graph_stages)" = "rx tx" ] || fail "running graph after the load: $(graph_stages)"
a=$(ctl --json counters stages | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])')
sleep 0.3
b=$(ctl --json counters stages | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])')
[ "$b" -gt "$a" ] || fail "no traffic after the load ($a -> $b)"
echo "ok: graph load without the tap works on the same dataplane ($a -> $b)"
ctl --json shutdown > "$TMP/final.json" || fail "shutdown"
# The load removed totap, and its counters with it: no end-to-end sum.
$ACCOUNT --no-end-to-end "$TMP/final.json" 1
