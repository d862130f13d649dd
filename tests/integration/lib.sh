# lib.sh: shared set-up for the integration tests: a temporary directory, a
# DPDK file-prefix of the test's own, and cleanup (child processes, hugepage
# files, runtime dirs, stats segments) that runs even when the test fails.
set -euo pipefail

: "${SLUICE_BUILD:?run through meson test}"
: "${SLUICE_SRC:?run through meson test}"
DP="$SLUICE_BUILD/dataplane/sluice-dp"
SLUICED="$SLUICE_BUILD/control/sluiced"
SLUICECTL="$SLUICE_BUILD/tools/sluicectl"
GEN="$SLUICE_BUILD/tools/sl-gentrace"
CHECK="python3 $SLUICE_SRC/tests/integration/pcapcheck.py"
TEST_NAME=$(basename "$0" .sh)
PREFIX="slt-${TEST_NAME}-$$"
TMP=$(mktemp -d "/tmp/sluice-${TEST_NAME}-XXXXXX")

# Stop what the test started. sluiced goes first and hard: a supervisor
# still alive would restart the dataplanes being stopped. Dataplanes that
# sluiced started live in their own session: find them by the files of this
# test they were started with.
reap() {
	pkill -KILL -f -- "sluiced .*$TMP/" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pgrep -f -- "$TMP/" > /dev/null 2>&1 || break
		pkill -TERM -f -- "$TMP/" 2>/dev/null || true
		sleep 0.2
	done
	pkill -KILL -f -- "$TMP/" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	reap
	for p in $(jobs -p); do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null || true; done
	reap
	wait 2>/dev/null || true
	# Every DPDK name a test uses starts with $PREFIX.
	rm -f /dev/hugepages/"${PREFIX}"* 2>/dev/null || true
	rm -rf /var/run/dpdk/"${PREFIX}"* "/run/user/$(id -u)/dpdk/${PREFIX}"* 2>/dev/null || true
	rm -f /dev/shm/sluice-"${PREFIX}"* 2>/dev/null || true
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT INT TERM

# A reaper outside the test's process group: when meson's time bound kills
# this script before its trap can run, the reaper still stops what the test
# started and removes its files, within a second.
setsid bash -c '
	while kill -0 "$1" 2>/dev/null; do sleep 1; done
	pkill -KILL -f -- "sluiced .*$2/"; sleep 0.2; pkill -KILL -f -- "$2/"
	rm -f /dev/hugepages/"$3"* /dev/shm/sluice-"$3"*; rm -rf /var/run/dpdk/"$3"* "$2"
' reaper $$ "$TMP" "$PREFIX" > /dev/null 2>&1 < /dev/null &
disown $! 2>/dev/null || true

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Run sluice-dp in the foreground with a time bound.
run_dp() {
	timeout --signal=INT --kill-after=10 "${DP_TIMEOUT:-60}" "$DP" "$@"
}

# sluiced in the foreground on $TMP/s.sock; waits until its dataplane runs.
start_sluiced() {
	"$SLUICED" -f -s "$TMP/s.sock" -p "$TMP/sluiced.pid" "$@" >> "$TMP/sluiced.log" 2>&1 &
	wait_running || { cat "$TMP/sluiced.log"; fail "sluiced did not bring the dataplane up"; }
}

ctl() {
	timeout 60 "$SLUICECTL" -s "$TMP/s.sock" "$@"
}

# Wait until status says the dataplane is running (and counters are readable).
wait_running() {
	for _ in $(seq 200); do
		if ctl --json status 2>/dev/null | grep -q '"state": "running"' &&
			ctl --json counters stages > /dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

dp_pid() {
	ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["dataplane"]["pid"])'
}

# pcap_pipeline RX-DEVARGS TX-DEVARGS [DATAPLANE-KEYS...]: rx, parse | tx on
# cores 0 and 1, named $PREFIX; each further argument is one more line of
# the dataplane section ("burst: 64").
pcap_pipeline() {
	local rx=$1 tx=$2
	shift 2
	cat <<YAML
ports:
  in0:  { driver: dpdk, devargs: "$rx" }
  out0: { driver: dpdk, devargs: "$tx" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    parse: { type: parse }
    tx:    { type: port_tx, port: out0 }
  connectors:
    - rx -> parse -> tx
clusters:
  ingress: [rx, parse]
  egress:  [tx]
mapping:
  ingress: { core: 0 }
  egress:  { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
YAML
	local line
	for line in "$@"; do echo "  $line"; done
}

# rxtx_pipeline RX-DEVARGS TX-DEVARGS [DATAPLANE-KEYS...]: rx -> tx in one
# cluster on core 0, named $PREFIX; further arguments are dataplane lines.
rxtx_pipeline() {
	local rx=$1 tx=$2
	shift 2
	cat <<YAML
ports:
  in0:  { driver: dpdk, devargs: "$rx" }
  out0: { driver: dpdk, devargs: "$tx" }
graph:
  stages:
    rx: { type: port_rx, port: in0 }
    tx: { type: port_tx, port: out0 }
  connectors:
    - rx -> tx
clusters:
  c: [rx, tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
YAML
	local line
	for line in "$@"; do echo "  $line"; done
}

# A two-cluster net_null pipeline named $PREFIX on cores 0 and 1.
two_cluster_config() {
	sed "s/name: two-cluster/name: $PREFIX/" "$SLUICE_SRC/config/examples/two-cluster.yaml"
}

# memif_sender PCAP SOCKET ID NAME: a standalone pipeline, named NAME, that
# replays PCAP into memif interface ID (as the client) on core 0, retrying a
# full ring rather than dropping: for up to 2 s without progress, since the
# receiver's core is shared with the rest of a test run and may not run for
# longer than port_tx's default 100 us.
memif_sender() {
	cat <<YAML
ports:
  in:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$1" }
  mif: { driver: dpdk, devargs: "net_memif0,role=client,socket=$2,socket-abstract=no,id=$3" }
graph:
  stages:
    rx: { type: port_rx, port: in }
    tx: { type: port_tx, port: mif }
  connectors: [ "rx -> tx" ]
clusters: { s: [rx, tx] }
mapping: { s: { core: 0 } }
dataplane: { name: $4, cores: [0], tx_retries: 1000000000, tx_stall_us: 2000000 }
YAML
}
