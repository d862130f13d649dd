# netns.sh: network namespaces and veth pairs for the AF_XDP tests (sourced
# after lib.sh). sluice's end of each pair stays in the root namespace; the
# peer, where traffic is injected and captured, goes into a namespace of the
# test's own. Everything is removed on exit, pass or fail, and a test skips
# (77) only when this machine cannot make them or has no AF_XDP sockets.

# The namespace is named after the test's DPDK prefix (unique per run; a
# namespace name is a file name, not bound to IFNAMSIZ). Link names are
# made by the tests from $$ and stay within 15 characters.
NS="$PREFIX"
NS_LINKS=()

netns_cleanup() {
	for l in "${NS_LINKS[@]}"; do ip link del "$l" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
}
# Chain onto lib.sh's cleanup: links and the namespace go first, and the
# test's exit status reaches cleanup unchanged (it exits with $?).
trap 'netns_rc=$?; netns_cleanup; (exit $netns_rc); cleanup' EXIT INT TERM

# When meson's time bound SIGKILLs the test before its trap ends, this
# reaper (outside the test's process group) still deletes the namespace;
# the peers inside it go with it, and each takes its root-side end along.
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ip netns del "$2"' \
	nsreaper $$ "$NS" > /dev/null 2>&1 < /dev/null &
disown $! 2>/dev/null || true

python3 -c 'import socket; socket.socket(44, socket.SOCK_RAW, 0)' 2>/dev/null ||
	{ echo "skip: no AF_XDP sockets on this kernel"; exit 77; }
ip netns add "$NS" 2>/dev/null || { echo "skip: cannot create a network namespace"; exit 77; }

# veth_pair NAME [QUEUES]: NAME in the root namespace, NAME-p... (as NAMEp)
# in $NS; both up, IPv6 off (no router solicitations in the captures).
veth_pair() {
	local a=$1 b=${1}p q=${2:-1}
	ip link add "$a" numtxqueues "$q" numrxqueues "$q" type veth peer "$b" \
		numtxqueues "$q" numrxqueues "$q" || { echo "skip: cannot create veth"; exit 77; }
	NS_LINKS+=("$a")
	ip link set "$b" netns "$NS"
	sysctl -qw "net.ipv6.conf.$a.disable_ipv6=1"
	ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$b.disable_ipv6=1"
	ip link set "$a" up
	ip -n "$NS" link set "$b" up
	ip -n "$NS" link set lo up
}

in_ns() { ip netns exec "$NS" "$@"; }

# Wait (bounded) until sluice-dp's stats segment shows every port open.
wait_dp_ports() {
	for _ in $(seq 150); do
		"$DP" --read-stats "$PREFIX" --json > "$TMP/live.json" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# port_field PORT FIELD: a counter of one port, from the live stats segment.
port_field() {
	"$DP" --read-stats "$PREFIX" --json 2>/dev/null | python3 -c 'import json,sys
print([p for p in json.load(sys.stdin)["ports"] if p["name"] == sys.argv[1]][0][sys.argv[2]])' "$1" "$2"
}

# wait_port_field PORT FIELD N: wait (bounded, 20 s) until the counter is N.
wait_port_field() {
	for _ in $(seq 200); do
		[ "$(port_field "$1" "$2" || echo -1)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# replay PCAP IFACE: inject a trace from the namespace at a fixed rate.
# tcpreplay's default pacing follows the trace's timestamps and on a busy
# 2-CPU VM took anywhere from 0.02 s to 6.4 s for the same 3000 frames, so
# the tests never bound the replay by the dataplane's --duration: they wait
# for the packets, then stop it (stop_dp).
replay() {
	in_ns tcpreplay -i "$2" --pps "${REPLAY_PPS:-20000}" "$1" > "$TMP/replay.log" 2>&1 ||
		{ cat "$TMP/replay.log"; fail "tcpreplay into $2 failed"; }
}

# stop_dp PID: a clean stop of the sluice-dp that run_dp started as PID (a
# timeout process), then its status. The signal goes to sluice-dp itself:
# a background job of a script has SIGINT ignored, and timeout, sent
# SIGTERM, exits 143 whatever its command then does.
stop_dp() {
	pkill -TERM -P "$1" 2>/dev/null || true
	wait "$1"
}

# xdp_on IF: an XDP program is attached to IF (its "prog/xdp" line; a bare
# "xdp" would also match the peer's namespace name, which holds "af_xdp").
xdp_on() { ip link show dev "$1" | grep -q 'prog/xdp'; }
