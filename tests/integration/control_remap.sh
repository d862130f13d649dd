#!/usr/bin/env bash
# sluiced on a two-cluster pipeline under net_null traffic: counters show
# packets moving, `map set` moves a cluster between the two cores 50 times,
# and after the final drain every packet is accounted for with no drops.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/c.yaml"
start_sluiced -c "$TMP/c.yaml"
a=$(ctl --json counters stages | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])')
sleep 0.3
b=$(ctl --json counters stages | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])')
[ "$b" -gt "$a" ] || fail "counters do not move: $a then $b"
echo "ok: rx went from $a to $b in 0.3 s"

# The live view: a second table with a rate in it.
timeout -k 5 -s INT 2.6 "$SLUICECTL" -s "$TMP/s.sock" counters stages --watch 1 > "$TMP/watch.txt" || true
[ "$(grep -c '^rx ' "$TMP/watch.txt")" -ge 2 ] || { cat "$TMP/watch.txt"; fail "counters --watch printed fewer than 2 tables"; }
grep -E '^rx +port_rx +ingress +0 .* [0-9]+\.[0-9]{3}$' "$TMP/watch.txt" > /dev/null || { cat "$TMP/watch.txt"; fail "no Mpps in the watched table"; }
echo "ok: counters --watch shows Mpps over each interval"
# Graphviz: one subgraph per cluster, the ring drawn bold.
ctl graph show --dot > "$TMP/g.dot"
grep -q 'subgraph "cluster_ingress"' "$TMP/g.dot" && grep -q 'subgraph "cluster_egress"' "$TMP/g.dot" &&
	grep -q '"parse" -> "fwd" \[label="out", style=bold' "$TMP/g.dot" || { cat "$TMP/g.dot"; fail "graph show --dot"; }
echo "ok: graph show --dot draws the clusters as subgraphs"

pid=$(dp_pid)
for i in $(seq 50); do
	core=$(( i % 2 == 1 ? 0 : 1 ))
	ctl --json map set egress $core > "$TMP/m$i.json" || fail "map set $i failed"
done
ctl map show | grep -Eq '^egress +1$' || { ctl map show; fail "egress not back on core 1"; }
[ "$(dp_pid)" = "$pid" ] || fail "the dataplane restarted during the moves"
python3 - "$TMP" <<'PY'
import json, statistics, sys
p = [json.load(open(f"{sys.argv[1]}/m{i}.json"))["pause_us"] for i in range(1, 51)]
print(f"ok: 50 moves, pause median {statistics.median(p):.1f} us, worst {max(p):.1f} us")
PY
# A move that cannot happen changes nothing.
if ctl map set egress 99 2> "$TMP/e1"; then fail "core 99 accepted"; fi
grep -qx "sluicectl: out_of_pool (core): core 99 is not in the core pool \[0, 1\]" "$TMP/e1" || { cat "$TMP/e1"; fail "core 99 message"; }
if ctl map set nosuch 0 2> "$TMP/e2"; then fail "unknown cluster accepted"; fi
grep -qx "sluicectl: not_found (cluster): no cluster named 'nosuch'" "$TMP/e2" || { cat "$TMP/e2"; fail "unknown cluster message"; }
ctl map show | grep -Eq '^egress +1$' || fail "a refused move changed the mapping"

ctl --json shutdown > "$TMP/final.json" || fail "shutdown failed"
python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["final_counters"], open(sys.argv[2], "w"))' "$TMP/final.json" "$TMP/stats.json"
$CHECK account "$TMP/stats.json" 1000000
python3 - "$TMP/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
drops = sum(sum(x["drops"].values()) for x in s["stages"]) + sum(c["dropped_full"] for c in s["connectors"])
assert drops == 0, f"{drops} packets dropped across the moves"
moves = {c["name"]: c["moves"] for c in s["clusters"]}
assert moves["egress"] == 50, moves
print(f"ok: no drops across 50 moves (moves counted: {moves['egress']})")
PY
