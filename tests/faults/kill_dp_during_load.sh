#!/usr/bin/env bash
# Fault: kill -9 of the dataplane while a graph load is under way.
# A two-cluster net_null pipeline runs under sluiced. Ten times, a
# `sluicectl graph load` of the other of two configs (one has an extra stage)
# starts, and the dataplane is killed with SIGKILL 0-20 ms later. Expected:
# - the client never hangs (each sluicectl is bounded by timeout) and gets
#   either success or a `dataplane_down` error, nothing else;
# - sluiced starts a new dataplane within a second of the kill (status shows
#   its pid), and it is running and serving counters within 3 s. Each kill
#   comes after the dataplane has been up for 5 s, so sluiced's crash-loop
#   backoff (control_supervise) does not apply;
# - the running graph is one of the two configs, and the loaded one when
#   the load was acknowledged (sluiced restarts with the last good config);
# - counters are readable, restarts are counted (10), and totals never go
#   backwards.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/a.yaml"
two_cluster_extra_config > "$TMP/b.yaml"
grep -q extra "$TMP/b.yaml" || fail "could not derive the second config"
A="fwd parse rx tx"
B="extra fwd parse rx tx"
start_sluiced -c "$TMP/a.yaml"
rx_total() { ctl --json counters stages | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])'; }

cur=a acked=0 downs=0 worst=0
total=$(rx_total)
for i in $(seq 10); do
	tgt=$([ "$cur" = a ] && echo b || echo a)
	kill_during "load $i" "$TMP/l$i" graph load "$TMP/$tgt.yaml"
	how=$HOW took=$TOOK
	if [ "$how" = acknowledged ]; then acked=$((acked + 1)); cur=$tgt; else downs=$((downs + 1)); fi
	within "${took#* }" "$worst" || worst=${took#* }
	got=$(graph_stages)
	if [ "$how" = acknowledged ]; then
		want=$([ "$tgt" = a ] && echo "$A" || echo "$B")
		[ "$got" = "$want" ] || fail "load $i of $tgt was acknowledged, but the restarted dataplane runs [$got]"
	else
		case "$got" in
		"$A") cur=a ;;
		"$B") cur=b ;;
		*) fail "load $i: the running graph [$got] is neither config" ;;
		esac
	fi
	ctl --json counters > /dev/null || fail "load $i: counters not readable"
	now=$(rx_total)
	[ "$now" -ge "$total" ] || fail "load $i: rx total went back from $total to $now"
	total=$now
	echo "ok: load $i ($tgt): $how, new dataplane started after ${took% *} s, running after ${took#* } s, running [$got]"
done
restarts=$(status_field restarts)
[ "$restarts" = 10 ] || fail "restarts counted: $restarts, want 10"
echo "ok: 10 kills during loads ($acked acknowledged, $downs dataplane_down), worst restart-to-running $worst s, restarts 10"
ctl shutdown > /dev/null || fail "shutdown after the kills"
