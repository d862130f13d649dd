#!/usr/bin/env bash
# af_xdp: how a port says what it runs on, and how it refuses.
# - mode: native and mode: skb give notes that say so;
# - driver: auto on a veth picks af_xdp and says why (not a PCI device);
# - driver: auto on an interface that does not exist fails with both
#   drivers' reasons; zerocopy: on on a veth fails with the kernel's reason
#   and leaves no program behind.
# (Two queues, two XSKs: af_xdp_queues.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

A="sma$$"; A=${A:0:12}
veth_pair "$A"

config() { # PORT-ENTRY
	cat <<YAML
ports:
  a: $1
  out: { driver: dpdk, devargs: "net_null0" }
graph:
  stages:
    rx: { type: port_rx, port: a }
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
xdp_on "$A" && fail "a failed start left its XDP program on $A"

echo "ok: notes for native, skb and auto; the two-reason and zero-copy refusals"
