# lib.sh: shared set-up for the integration tests: a temporary directory, a
# DPDK file-prefix of the test's own, and cleanup (child processes, hugepage
# files, runtime dirs, stats segments) that runs even when the test fails.
set -euo pipefail

: "${SLUICE_BUILD:?run through meson test}"
: "${SLUICE_SRC:?run through meson test}"
DP="$SLUICE_BUILD/dataplane/sluice-dp"
GEN="$SLUICE_BUILD/tools/sl-gentrace"
CHECK="python3 $SLUICE_SRC/tests/integration/pcapcheck.py"
TEST_NAME=$(basename "$0" .sh)
PREFIX="slt-${TEST_NAME}-$$"
TMP=$(mktemp -d "/tmp/sluice-${TEST_NAME}-XXXXXX")

cleanup() {
	local rc=$?
	# Children first, so nothing holds the files removed below.
	for p in $(jobs -p); do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null || true; done
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
