#!/usr/bin/env bash
# Fault: kill -9 of the dataplane while `map set` moves a cluster.
# A two-cluster net_null pipeline runs under sluiced. Ten times, a
# `sluicectl map set egress CORE` moving egress to the other core starts, and
# the dataplane is killed with SIGKILL 0-20 ms later. Expected:
# - the client never hangs and gets either success or `dataplane_down`;
# - sluiced starts a new dataplane within a second, running within 3 s
#   (each kill comes after 5 s of uptime, so the crash-loop backoff of
#   control_supervise does not apply);
# - the mapping shown afterwards equals the last acknowledged move: sluiced
#   re-applies it to the new dataplane, and a refused move changed nothing;
# - the new dataplane really runs it (a further move to the other core and
#   back is acknowledged), restarts are counted, totals never go backwards.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/a.yaml"
start_sluiced -c "$TMP/a.yaml"
rx_total() { ctl --json counters stages | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])'; }
egress_core() { ctl --json map show | python3 -c 'import json,sys; print(json.load(sys.stdin)["clusters"]["egress"])'; }

core=$(egress_core)
[ "$core" = 1 ] || fail "egress starts on core $core, want 1"
acked=0 downs=0
total=$(rx_total)
for i in $(seq 10); do
	tgt=$((1 - core))
	kill_during "move $i" "$TMP/m$i" map set egress "$tgt"
	how=$HOW took=$TOOK
	if [ "$how" = acknowledged ]; then acked=$((acked + 1)); core=$tgt; else downs=$((downs + 1)); fi
	got=$(egress_core)
	[ "$got" = "$core" ] || fail "move $i to core $tgt: $how, last acknowledged core $core, but map show says $got"
	ctl --json counters > /dev/null || fail "move $i: counters not readable"
	now=$(rx_total)
	[ "$now" -ge "$total" ] || fail "move $i: rx total went back from $total to $now"
	total=$now
	echo "ok: move $i (to $tgt): $how, new dataplane started after ${took% *} s, running after ${took#* } s, egress on $got"
done
# The new dataplane accepts moves, so the mapping shown is the one it runs.
for c in $((1 - core)) "$core"; do
	ctl map set egress "$c" > /dev/null || fail "move to $c after the kills"
done
[ "$(egress_core)" = "$core" ] || fail "egress not back on $core"
restarts=$(status_field restarts)
[ "$restarts" = 10 ] || fail "restarts counted: $restarts, want 10"
echo "ok: 10 kills during moves ($acked acknowledged, $downs dataplane_down), mapping kept, restarts 10"
ctl shutdown > /dev/null || fail "shutdown after the kills"
