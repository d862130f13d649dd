#!/usr/bin/env bash
# Another process reads a running dataplane's counters from its stats
# segment (sluice-dp --read-stats), sees them grow, and the segment goes away
# when the dataplane stops.
. "$(dirname "$0")/lib.sh"

sed "s/name: passthrough/name: $PREFIX/" "$SLUICE_SRC/config/examples/passthrough.yaml" > "$TMP/p.yaml"
"$DP" -c "$TMP/p.yaml" --duration 20 > "$TMP/dp.log" 2>&1 &
dp=$!
for _ in $(seq 100); do
	"$DP" --read-stats "$PREFIX" --json > "$TMP/s1.json" 2>/dev/null &&
		python3 -c "import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s['state']==1 and s['stages'][0]['in']>0 else 1)" "$TMP/s1.json" && break
	sleep 0.1
done
sleep 0.5
"$DP" --read-stats "$PREFIX" --json > "$TMP/s2.json"
"$DP" --read-stats "$PREFIX" > "$TMP/table.txt"
python3 - "$TMP/s1.json" "$TMP/s2.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ra = {s["name"]: s for s in a["stages"]}
rb = {s["name"]: s for s in b["stages"]}
assert a["state"] == 1, a["state"]
assert rb["rx"]["in"] > ra["rx"]["in"] > 0, (ra["rx"], rb["rx"])
assert b["pid"] > 0 and b["name"] == a["name"]
print(f"ok: rx grew from {ra['rx']['in']} to {rb['rx']['in']} between two reads")
PY
grep -q '^rx  *port_rx  *io' "$TMP/table.txt" || { cat "$TMP/table.txt"; fail "table lacks the rx row"; }
kill -INT $dp
wait $dp || fail "sluice-dp did not exit cleanly on SIGINT"
[ ! -e "/dev/shm/sluice-$PREFIX.stats" ] || fail "stats segment left behind"
grep -q "final counters" "$TMP/dp.log" || fail "no final table on SIGINT"
# --stats-interval prints tables with a rate while running.
run_dp -c "$TMP/p.yaml" --duration 1.3 --stats-interval 0.5 > "$TMP/iv.log" 2>&1 || fail "interval run"
grep -E '^rx +port_rx +io +1 .* [0-9]+\.[0-9]{3}$' "$TMP/iv.log" > /dev/null || { cat "$TMP/iv.log"; fail "no periodic table with Mpps"; }
if "$DP" --read-stats "$PREFIX" 2> "$TMP/err.txt"; then fail "read-stats of a stopped dataplane succeeded"; fi
grep -q "no stats segment for dataplane '$PREFIX'" "$TMP/err.txt" || { cat "$TMP/err.txt"; fail "unclear error"; }
echo "ok: segment removed on exit, final table printed"
