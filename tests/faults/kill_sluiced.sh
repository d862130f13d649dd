#!/usr/bin/env bash
# Fault: kill -9 of sluiced under traffic.
# A two-cluster net_null pipeline runs under sluiced; egress is moved to
# core 0 first. sluiced is killed with SIGKILL. Expected:
# - the dataplane keeps forwarding: the rx counter that
#   `sluice-dp --read-stats NAME --json` shows still increases, twice;
# - `sluiced --attach` with the same socket and config takes it over:
#   status shows the same dataplane pid, running, with restarts 0, the
#   mapping it had (egress on 0), and counter totals that did not go
#   backwards; moves and loads work again through the new sluiced;
# - this holds twice in a row (a second kill of the attached sluiced);
# - a shutdown then stops the dataplane and every packet is accounted for.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/a.yaml"
start_sluiced -c "$TMP/a.yaml"
ctl map set egress 0 > /dev/null || fail "first move"
rx_total() { ctl --json counters stages | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])'; }
rx_shm() { "$DP" --read-stats "$PREFIX" --json | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])'; }
egress_core() { ctl --json map show | python3 -c 'import json,sys; print(json.load(sys.stdin)["clusters"]["egress"])'; }
pid=$(dp_pid)
sleep 0.3
for round in 1 2; do
	before=$(rx_total)
	kill -9 "$(cat "$TMP/sluiced.pid")"
	for _ in $(seq 100); do [ -S "$TMP/s.sock" ] && ! ctl status > /dev/null 2>&1 && break; sleep 0.05; done
	sleep 0.2
	kill -0 "$pid" 2> /dev/null || fail "round $round: the dataplane died with sluiced"
	r1=$(rx_shm)
	sleep 0.5
	r2=$(rx_shm)
	sleep 0.5
	r3=$(rx_shm)
	[ "$r1" -lt "$r2" ] && [ "$r2" -lt "$r3" ] || fail "round $round: without sluiced rx went $r1, $r2, $r3"
	echo "ok: round $round: without sluiced the dataplane kept forwarding ($r1 -> $r2 -> $r3)"
	start_sluiced -c "$TMP/a.yaml" --attach
	[ "$(dp_pid)" = "$pid" ] || fail "round $round: status shows pid $(dp_pid), want $pid"
	[ "$(status_field restarts)" = 0 ] || fail "round $round: attach counted a restart"
	[ "$(egress_core)" = 0 ] || fail "round $round: attach lost the mapping (egress on $(egress_core))"
	after=$(rx_total)
	[ "$after" -ge "$before" ] || fail "round $round: totals went back from $before to $after"
	[ "$after" -ge "$r3" ] || fail "round $round: totals $after below what the segment showed ($r3)"
	ctl map set egress 1 > /dev/null && ctl map set egress 0 > /dev/null || fail "round $round: map set after attach"
	echo "ok: round $round: sluiced --attach took over pid $pid, totals $before -> $after, moves work"
done
two_cluster_extra_config > "$TMP/b.yaml"
ctl graph load "$TMP/b.yaml" > /dev/null || fail "graph load after attach"
ctl --json shutdown > "$TMP/final.json" || fail "shutdown after attach"
for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.05; done
kill -0 "$pid" 2> /dev/null && fail "the dataplane still runs after shutdown"

$ACCOUNT "$TMP/final.json" 1000000
