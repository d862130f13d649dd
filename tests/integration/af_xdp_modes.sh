#!/usr/bin/env bash
# af_xdp: how a port says what it runs on, and how it refuses.
# - mode: native and mode: skb give notes that say so;
# - driver: auto on a veth picks af_xdp and says why (not a PCI device);
# - driver: auto on an interface that does not exist fails with both
#   drivers' reasons; zerocopy: on on a veth fails with the kernel's reason;
# - two port_rx instances on a 2-queue veth bind two XSKs, and both get
#   packets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

A="sma$$"; A=${A:0:12}
veth_pair "$A" 2

config() { # PORT-ENTRY INSTANCES
	cat <<YAML
ports:
  a: $1
  out: { driver: dpdk, devargs: "net_null0" }
graph:
  stages:
    rx: { type: port_rx, port: a, instances: ${2:-1} }
    tx: { type: port_tx, port: out }
  connectors: [ "rx -> tx" ]
clusters: { one: [rx, tx] }
mapping: { one: { core: 1 } }
dataplane: { name: $PREFIX, cores: [1] }
YAML
}

note_of() { # YAML -> the note of port a, after a short run
	run_dp -c "$1" --duration 2 --stats-json "$TMP/n.json" > "$TMP/n.log" 2>&1 ||
		{ cat "$TMP/n.log"; fail "sluice-dp failed on $(grep ' a:' "$1")"; }
	python3 -c 'import json,sys; print([p for p in json.load(open(sys.argv[1]))["ports"] if p["name"] == "a"][0]["note"])' "$TMP/n.json"
}

config "{ driver: af_xdp, iface: $A, mode: native }" > "$TMP/native.yaml"
n=$(note_of "$TMP/native.yaml"); echo "native: $n"
[[ $n == "af_xdp native, copy"* ]] || fail "mode: native: note '$n'"
[[ $n == *"zero-copy not offered"* ]] || fail "mode: native: the note does not say why copy"

config "{ driver: af_xdp, iface: $A, mode: skb }" > "$TMP/skb.yaml"
n=$(note_of "$TMP/skb.yaml"); echo "skb: $n"
[[ $n == "af_xdp skb, copy"* ]] || fail "mode: skb: note '$n'"

config "{ driver: auto, iface: $A }" > "$TMP/auto.yaml"
n=$(note_of "$TMP/auto.yaml"); echo "auto: $n"
[[ $n == "af_xdp native"* && $n == *"auto: af_xdp chosen: DPDK: $A is not a PCI device"* ]] ||
	fail "driver: auto: note '$n'"

config "{ driver: auto, iface: nosuch$$ }" > "$TMP/none.yaml"
if run_dp -c "$TMP/none.yaml" --duration 2 > "$TMP/none.log" 2>&1; then fail "auto on a missing interface started"; fi
grep -q "none.yaml:2:3: port 'a' (driver auto): neither driver can run it: DPDK: no device named nosuch$$; AF_XDP: no interface named nosuch$$" "$TMP/none.log" ||
	{ cat "$TMP/none.log"; fail "auto on a missing interface: not the two-reason error"; }

config "{ driver: af_xdp, iface: $A, zerocopy: on }" > "$TMP/zc.yaml"
if run_dp -c "$TMP/zc.yaml" --duration 2 > "$TMP/zc.log" 2>&1; then fail "zerocopy: on started on a veth"; fi
grep -q "port 'a': zerocopy: on, but $A queue 0 refuses a zero-copy socket: " "$TMP/zc.log" ||
	{ cat "$TMP/zc.log"; fail "zerocopy: on: no reason given"; }
ip link show dev "$A" | grep -q xdp && fail "a failed start left its XDP program on $A"

# Two instances, two XSKs on queues 0 and 1.
config "{ driver: af_xdp, iface: $A }" 2 > "$TMP/two.yaml"
"$GEN" -o "$TMP/in.pcap" -n 2000 -s 64 -f 500 --vlan 0 --seed 3 > /dev/null
run_dp -c "$TMP/two.yaml" --duration 6 --stats-json "$TMP/two.json" > "$TMP/two.log" 2>&1 &
dp=$!
wait_dp_ports || { cat "$TMP/two.log"; fail "two queues: sluice-dp did not start"; }
sleep 0.5
in_ns tcpreplay -i "${A}p" -q "$TMP/in.pcap" > /dev/null 2>&1 || fail "tcpreplay failed"
wait $dp || { cat "$TMP/two.log"; fail "two queues: sluice-dp exited non-zero"; }
python3 - "$TMP/two.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = [p for p in s["ports"] if p["name"] == "a"][0]
assert p["rx_queues"] == 2 and "2 XSKs" in p["note"] and "queues 0-1" in p["note"], p
ins = {x["name"]: x["in"] for x in s["stages"] if x["type"] == "port_rx"}
assert len(ins) == 2 and all(v > 0 for v in ins.values()), ins
assert sum(ins.values()) == 2000 == p["ipackets"], (ins, p["ipackets"])
print("ok: two XSKs:", ins)
PY
$CHECK account "$TMP/two.json" 2000
echo "ok: notes for native, skb and auto; the two-reason and zero-copy refusals; two XSKs"
