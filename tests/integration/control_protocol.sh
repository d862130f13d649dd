#!/usr/bin/env bash
# Garbage, oversized and truncated messages from 100 concurrent clients (and
# one that never reads) do not disturb a running pipeline: same dataplane,
# no restarts, packets still flowing and every one accounted for.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/c.yaml"
start_sluiced -c "$TMP/c.yaml"
pid=$(dp_pid)
python3 "$SLUICE_SRC/tests/integration/abuse.py" "$TMP/s.sock"
[ "$(dp_pid)" = "$pid" ] || fail "the dataplane changed"
ctl --json status | grep -q '"restarts": 0' || fail "restarts counted"
a=$(ctl --json counters stages | python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"][0]["in"])')
sleep 0.3
b=$(ctl --json counters stages | python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"][0]["in"])')
[ "$b" -gt "$a" ] || fail "traffic stopped"
grep -q "map_set from uid 0 pid" "$TMP/sluiced.log" || fail "mutating commands are not logged with the peer"
ctl --json shutdown > "$TMP/final.json"
python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["final_counters"], open(sys.argv[2], "w"))' "$TMP/final.json" "$TMP/stats.json"
$CHECK account "$TMP/stats.json" 100000
