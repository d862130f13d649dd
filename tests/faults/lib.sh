# lib.sh: shared set-up for the fault-injection tests. Sources the
# integration tests' lib.sh ($TMP, $PREFIX, cleanup of children, hugepage
# files and stats segments) and adds extra cleanup steps (users, interfaces,
# sysctls) that run even when a test fails, plus helpers for killing and
# waiting on the processes sluiced supervises.
. "$(dirname "$0")/../integration/lib.sh"

FAULT_CLEANUPS=()
# on_cleanup CMD: run CMD (eval'd) at exit, newest first, before lib.sh's cleanup.
on_cleanup() { FAULT_CLEANUPS=("$1" "${FAULT_CLEANUPS[@]}"); }
fault_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local c
	for c in "${FAULT_CLEANUPS[@]}"; do eval "$c" > /dev/null 2>&1 || true; done
	(exit $rc)
	cleanup
}
trap fault_cleanup EXIT INT TERM

# A second config: the two-cluster pipeline with an extra pass stage in egress.
two_cluster_extra_config() {
	two_cluster_config | sed 's/    - rx -> parse -> fwd -> tx/    - rx -> parse -> fwd -> extra -> tx/; s/    fwd:   { type: pass }/    fwd:   { type: pass }\n    extra: { type: pass }/; s/  egress:  \[fwd, tx\]/  egress:  [fwd, extra, tx]/'
}

# status_field KEY: one field of status's dataplane object (state, pid, restarts).
status_field() {
	ctl --json status 2> /dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['dataplane']['$1'])"
}

# The sorted stage names of the running graph, space-separated.
graph_stages() {
	ctl --json graph show | python3 -c 'import json,sys; print(" ".join(sorted({s["name"] for s in json.load(sys.stdin)["stages"]})))'
}

# wait_new_dp OLD_PID T0: wait until a dataplane other than OLD_PID runs and
# serves counters. Prints two times in seconds since T0 (date +%s.%N, taken
# just before the kill): when sluiced started the new dataplane (from its
# log's timestamp, so the polling below does not blur it), and when status
# showed it running with counters readable. Fails after 10 s.
wait_new_dp() {
	local old=$1 t0=$2 st pid state
	for _ in $(seq 500); do
		st=$(ctl --json status 2> /dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; print(d["pid"], d["state"].split()[0])' 2> /dev/null || true)
		pid=${st% *} state=${st#* }
		if [ -n "$st" ] && [ "$pid" != "$old" ] && [ "$pid" != 0 ] && [ "$state" = running ] &&
			ctl --json counters stages > /dev/null 2>&1; then
			python3 - "$TMP/sluiced.log" "$pid" "$t0" <<'PY'
import datetime, re, sys, time
run = time.time() - float(sys.argv[3])
spawn = None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^(\S+Z) sluiced: started dataplane pid (\d+) ", line)
    if m and m.group(2) == sys.argv[2]:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
        spawn = t.replace(tzinfo=datetime.timezone.utc).timestamp() - float(sys.argv[3])
print(f"{spawn if spawn is not None else run:.3f} {run:.3f}")
PY
			return 0
		fi
		sleep 0.01
	done
	tail -20 "$TMP/sluiced.log" >&2
	fail "no new dataplane serving counters 10 s after killing $old"
}

# check_restart WHAT "SPAWN RUN": sluiced must start the new dataplane within
# $SPAWN_BOUND s (default 1) of the kill, and it must run within $RUN_BOUND s
# (default 3: DPDK's start-up alone takes most of a second on a busy 2-CPU VM).
check_restart() {
	local spawn=${2% *} run=${2#* }
	within "$spawn" "${SPAWN_BOUND:-1.0}" || fail "$1: sluiced started a new dataplane only $spawn s after the kill"
	within "$run" "${RUN_BOUND:-3.0}" || fail "$1: the new dataplane was running only $run s after the kill"
}

# wait_settled: wait until the dataplane has been up for more than 5 s. One
# that dies sooner counts towards sluiced's crash-loop backoff (tested in
# control_supervise); a kill after this is a plain crash, restarted at once.
wait_settled() {
	local up
	for _ in $(seq 200); do
		up=$(status_field uptime_s 2> /dev/null || echo 0)
		within 5.2 "$up" && return 0
		sleep 0.1
	done
	fail "the dataplane did not stay up for 5 s"
}

# within T BOUND: true when T <= BOUND (decimal seconds).
within() { python3 -c "import sys; sys.exit(0 if $1 <= $2 else 1)"; }

# Random milliseconds in [0, $1].
rand_ms() { echo $((RANDOM % ($1 + 1))); }

ACCOUNT="python3 $SLUICE_SRC/tests/faults/account.py"

# check_failed MSG: record a failed check and go on, so that one run reports
# every independent failure; finish exits 1 if any was recorded.
FAILED=0
check_failed() {
	echo "FAIL: $*" >&2
	FAILED=$((FAILED + 1))
}
finish() {
	[ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
	echo "ok: all checks passed"
}

# kill_during LABEL OUT SLUICECTL-ARGS...: run sluicectl with ARGS, kill -9
# the dataplane 0-20 ms into it, and check that the client got an answer
# (success, or dataplane_down; never a hang) and that sluiced restarted the
# dataplane in time. Sets HOW (acknowledged or dataplane_down) and TOOK
# (wait_new_dp's "started running" seconds); OUT.out and OUT.err keep what
# the client printed.
kill_during() {
	local label=$1 out=$2
	shift 2
	wait_settled
	local old t0 client rc=0
	old=$(status_field pid)
	timeout 15 "$SLUICECTL" -s "$TMP/s.sock" --json "$@" > "$out.out" 2> "$out.err" &
	client=$!
	sleep "0.0$(printf '%02d' "$(rand_ms 20)")"
	t0=$(date +%s.%N)
	kill -9 "$old"
	wait "$client" || rc=$?
	case $rc in
	0) HOW=acknowledged ;;
	1) grep -q "dataplane_down" "$out.err" ||
		{ cat "$out.err"; fail "$label: refused with something other than dataplane_down"; }
		HOW=dataplane_down ;;
	124) fail "$label: sluicectl hung (killed after 15 s)" ;;
	*) cat "$out.err"; fail "$label: sluicectl exited $rc" ;;
	esac
	TOOK=$(wait_new_dp "$old" "$t0")
	check_restart "$label" "$TOOK"
}
