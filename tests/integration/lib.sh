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

cleanup() {
	local rc=$?
	# Children first, so nothing holds the files removed below. Dataplanes
	# that sluiced started live in their own session: find them by the
	# files of this test they were started with.
	pkill -TERM -f -- "$TMP/" 2>/dev/null || true
	for p in $(jobs -p); do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null || true; done
	pkill -KILL -f -- "$TMP/" 2>/dev/null || true
	wait 2>/dev/null || true
	# Every DPDK name a test uses starts with $PREFIX.
	rm -f /dev/hugepages/"${PREFIX}"* 2>/dev/null || true
	rm -rf /var/run/dpdk/"${PREFIX}"* "/run/user/$(id -u)/dpdk/${PREFIX}"* 2>/dev/null || true
	rm -f /dev/shm/sluice-"${PREFIX}"* 2>/dev/null || true
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT INT TERM

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

# A two-cluster net_null pipeline named $PREFIX on cores 0 and 1.
two_cluster_config() {
	sed "s/name: two-cluster/name: $PREFIX/" "$SLUICE_SRC/config/examples/two-cluster.yaml"
}
