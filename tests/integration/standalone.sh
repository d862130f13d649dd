#!/usr/bin/env bash
# A dataplane run alone with --control-socket serves the protocol itself:
# sluicectl can read its status, graph and counters, move a cluster and stop
# it, with no sluiced involved.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/c.yaml"
"$DP" -c "$TMP/c.yaml" --control-socket "$TMP/dp.sock" --duration 30 > "$TMP/dp.log" 2>&1 &
dp=$!
for _ in $(seq 100); do [ -S "$TMP/dp.sock" ] && break; sleep 0.05; done
c() { timeout 30 "$SLUICECTL" -s "$TMP/dp.sock" "$@"; }
for _ in $(seq 100); do c status > /dev/null 2>&1 && break; sleep 0.05; done
c status | grep -q "running (no sluiced), pid $dp" || { c status; fail "status"; }
c graph show | grep -q "^parse.out -> fwd  *ring$" || fail "graph show"
c map set egress 0 | grep -q "moved egress to core 0" || fail "map set"
c map show | grep -Eq "^egress +0$" || fail "map show"
c --json counters stages | python3 -c 'import json,sys; s=json.load(sys.stdin)["stages"]; assert s[0]["in"] > 0 and "cycles_per_pkt" in s[0]' || fail "counters"
if c counters --reset 2> "$TMP/e"; then fail "reset accepted without sluiced"; fi
c shutdown > /dev/null || fail "shutdown"
wait $dp || fail "dataplane exit status"
grep -q "stopping (shutdown requested)" "$TMP/dp.log" || fail "not stopped by the command"
echo "ok: a lone dataplane served status, graph, map and counters, and stopped on request"
