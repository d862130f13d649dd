#!/usr/bin/env bash
# sluicectl's contract: every command in table and --json form, exit codes
# 0 / 1 / 2 / 3, graph validate, counters --reset, dataplane restart, and
# sluiced refusing a bad config with file:line:col.
. "$(dirname "$0")/lib.sh"

"$SLUICED" --help | grep -q "usage: sluiced --config FILE" || fail "sluiced --help"
"$SLUICECTL" --help | grep -q "usage: sluicectl" || fail "sluicectl --help"
set +e
"$SLUICECTL" -s "$TMP/none.sock" status 2> "$TMP/e"; rc=$?
set -e
[ $rc -eq 3 ] || fail "unreachable: exit $rc, want 3"
grep -q "cannot connect to $TMP/none.sock" "$TMP/e" || fail "unreachable message"
set +e
"$SLUICECTL" -s "$TMP/none.sock" frobnicate 2> /dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "bad usage: exit $rc, want 2"

# sluiced refuses to start on a bad config, naming the place.
two_cluster_config | sed 's/type: parse/type: parsley/' > "$TMP/bad.yaml"
set +e
"$SLUICED" -f -s "$TMP/s.sock" -c "$TMP/bad.yaml" 2> "$TMP/e"; rc=$?
set -e
[ $rc -eq 1 ] || fail "bad config: exit $rc"
grep -q "^$TMP/bad.yaml:10:20: unknown stage type 'parsley'" "$TMP/e" || { cat "$TMP/e"; fail "bad config message"; }
[ ! -e "$TMP/s.sock" ] || fail "sluiced listened despite a bad config"

two_cluster_config > "$TMP/c.yaml"
start_sluiced -c "$TMP/c.yaml"
ctl graph validate "$TMP/c.yaml" | grep -q "^ok: $TMP/c.yaml: 2 ports, 4 stages, 3 connectors, 2 clusters$" || fail "validate ok"
set +e
ctl graph validate "$TMP/bad.yaml" 2> "$TMP/e"; rc=$?
set -e
[ $rc -eq 1 ] || fail "validate bad: exit $rc, want 1"
grep -q "invalid_config (config): $TMP/bad.yaml:10:20: unknown stage type 'parsley'" "$TMP/e" || fail "validate message"
for cmd in "status" "graph show" "map show" "counters" "counters ports" "counters connectors"; do
	ctl --json $cmd | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "$cmd --json is not JSON"
	ctl $cmd > /dev/null || fail "$cmd"
done

# counters --reset: the next reading starts again from about zero.
sleep 0.3
before=$(ctl --json counters stages | python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"][0]["in"])')
ctl counters stages --reset > /dev/null
after=$(ctl --json counters stages | python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"][0]["in"])')
[ "$after" -lt "$before" ] || fail "reset: $before then $after"
grep -q "counters reset from uid 0 pid" "$TMP/sluiced.log" || fail "reset not logged"
echo "ok: counters --reset ($before -> $after)"

# dataplane restart: a new pid, counted, totals kept.
pid=$(dp_pid)
total=$(ctl --json counters stages | python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"][0]["in"])')
ctl dataplane restart | grep -q "restarting the dataplane" || fail "restart reply"
for _ in $(seq 200); do
	new=$(dp_pid 2>/dev/null || echo 0)
	[ "$new" != "$pid" ] && [ "$new" != 0 ] && wait_running && break
	sleep 0.05
done
[ "$new" != "$pid" ] || fail "dataplane not restarted"
grep -q "on request; restarting" "$TMP/sluiced.log" || fail "requested restart not logged"
later=$(ctl --json counters stages | python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"][0]["in"])')
[ "$later" -ge "$total" ] || fail "totals lost across restart ($total -> $later)"
echo "ok: dataplane restart $pid -> $new, totals kept ($total -> $later)"
ctl shutdown | grep -q "have stopped" || fail "shutdown reply"
for _ in $(seq 100); do [ -e "$TMP/s.sock" ] || break; sleep 0.05; done
[ ! -e "$TMP/s.sock" ] || fail "socket left after shutdown"
[ ! -e "$TMP/sluiced.pid" ] || fail "pid file left after shutdown"
