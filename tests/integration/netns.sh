# netns.sh: network namespaces and veth pairs for the AF_XDP tests (sourced
# after lib.sh). sluice's end of each pair stays in the root namespace; the
# peer, where traffic is injected and captured, goes into a namespace of the
# test's own. Everything is removed on exit, pass or fail, and a test skips
# (77) only when this machine cannot make them or has no AF_XDP sockets.

NS="slns$$"
NS_LINKS=()

netns_cleanup() {
	for l in "${NS_LINKS[@]}"; do ip link del "$l" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
}
# Chain onto lib.sh's cleanup: links and the namespace go first, and the
# test's exit status reaches cleanup unchanged (it exits with $?).
trap 'netns_rc=$?; netns_cleanup; (exit $netns_rc); cleanup' EXIT INT TERM

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
