#!/usr/bin/env bash
# Supervision: kill -9 of the dataplane brings a new one within 2 s with the
# same mapping, and counters keep their totals; kill -9 of sluiced leaves the
# dataplane forwarding, and sluiced --attach takes it over; a dataplane that
# keeps dying at start is backed off, and status says so.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/c.yaml"
start_sluiced -c "$TMP/c.yaml"
ctl map set egress 0 > /dev/null
rx_total() { ctl --json counters stages | python3 -c 'import json,sys; print({s["name"]: s["in"] for s in json.load(sys.stdin)["stages"]}["rx"])'; }
sleep 0.3
before=$(rx_total)
old=$(dp_pid)
t0=$(date +%s.%N)
kill -9 "$old"
new=""
for _ in $(seq 400); do
	new=$(ctl --json status 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; print(d["pid"] if d["state"]=="running" else "")' || true)
	[ -n "$new" ] && [ "$new" != "$old" ] && [ "$new" != 0 ] && break
	sleep 0.005
done
t1=$(date +%s.%N)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "no new dataplane"
took=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
python3 -c "import sys; sys.exit(0 if $took < 2.0 else 1)" || fail "restart took $took s"
echo "ok: dataplane $old killed, $new running after $took s"
wait_running || fail "new dataplane not serving counters"
ctl --json status | grep -q '"restarts": 1' || fail "restart not counted"
grep -q "killed by signal 9" "$TMP/sluiced.log" || fail "restart reason not logged"
ctl map show | grep -Eq '^egress +0$' || { ctl map show; fail "mapping not re-applied"; }
after=$(rx_total)
[ "$after" -ge "$before" ] || fail "totals went back from $before to $after"
echo "ok: totals kept ($before before the kill, $after after), mapping re-applied"

# sluiced dies; the dataplane does not.
kill -9 "$(cat "$TMP/sluiced.pid")"
sleep 0.3
r1=$("$DP" --read-stats "$PREFIX" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"][0]["in"])')
sleep 0.5
r2=$("$DP" --read-stats "$PREFIX" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stages"][0]["in"])')
[ "$r2" -gt "$r1" ] || fail "the dataplane stopped forwarding without sluiced"
echo "ok: without sluiced the dataplane kept forwarding ($r1 -> $r2)"
start_sluiced -c "$TMP/c.yaml" --attach
[ "$(dp_pid)" = "$new" ] || fail "attach did not take over pid $new"
ctl map show | grep -Eq '^egress +0$' || fail "attach lost the mapping"
ctl map set egress 1 > /dev/null || fail "map set after attach"
total=$(rx_total)
[ "$total" -ge "$after" ] || fail "attach lost the folded totals ($total < $after)"
echo "ok: sluiced --attach took over dataplane $new with its mapping and totals"
ctl shutdown > /dev/null
for _ in $(seq 100); do kill -0 "$new" 2>/dev/null || break; sleep 0.05; done
kill -0 "$new" 2>/dev/null && fail "dataplane still running after shutdown"

# A dataplane that dies at start: sluiced backs off and says so.
sed "s|devargs: \"net_null1\"|devargs: \"net_pcap3,rx_pcap=$TMP/gone.pcap\"|" "$TMP/c.yaml" > "$TMP/crash.yaml"
: > "$TMP/gone.pcap"   # valid for the config check; the PMD cannot read it
"$SLUICED" -f -s "$TMP/s.sock" -p "$TMP/sluiced.pid" -c "$TMP/crash.yaml" >> "$TMP/sluiced.log" 2>&1 &
for _ in $(seq 200); do
	ctl status 2>/dev/null | grep -q "backing off" && break
	sleep 0.05
done
ctl status | tee "$TMP/st.txt" | grep -q "backing off" || { cat "$TMP/sluiced.log" | tail; fail "no backoff shown"; }
grep -q "crashed .* times within 5 s of starting; next start in" "$TMP/sluiced.log" || fail "backoff not logged"
echo "ok: crash loop backed off: $(grep dataplane "$TMP/st.txt")"
ctl shutdown > /dev/null
