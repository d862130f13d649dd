#!/usr/bin/env bash
# Fault: the mbuf pool needs more hugepage memory than the machine has free.
# A net_null pipeline with `dataplane: { mbufs: 4000000 }` (about 10 GB of
# mbufs; this VM reserves 1 GB of hugepages; the test skips if more is free).
# It never lowers nr_hugepages: other tests may be running beside it.
# Expected: sluice-dp refuses to run: exit status 1 within 60 s, a message
# that names what to change (hugepages and dataplane.mbufs), and nothing left
# behind: no hugepage files /dev/hugepages/PREFIX*, no stats segment
# /dev/shm/sluice-PREFIX.stats. Under sluiced the same config is refused too:
# the dataplane's start fails, status says why (last_exit), nothing leaks.
. "$(dirname "$0")/lib.sh"

free_mb=$(awk '/HugePages_Free/ {f=$2} /Hugepagesize/ {s=$2} END {print int(f * s / 1024)}' /proc/meminfo)
if [ "$free_mb" -ge 9000 ]; then
	echo "SKIP: $free_mb MB of hugepages free; 4000000 mbufs would fit"
	exit 77
fi
two_cluster_config | sed "s/^  cores: \[0, 1\]/  cores: [0, 1]\n  mbufs: 4000000/" > "$TMP/big.yaml"
grep -q "mbufs: 4000000" "$TMP/big.yaml" || fail "could not write the config"
rc=0
t0=$(date +%s)
DP_TIMEOUT=60 run_dp -c "$TMP/big.yaml" > "$TMP/dp.log" 2>&1 || rc=$?
took=$(($(date +%s) - t0))
[ $rc = 1 ] || { tail -20 "$TMP/dp.log"; fail "sluice-dp exited $rc after $took s, want 1"; }
grep -q "hugepage" "$TMP/dp.log" && grep -q "dataplane.mbufs" "$TMP/dp.log" ||
	{ tail -20 "$TMP/dp.log"; fail "the refusal does not name hugepages and dataplane.mbufs"; }
echo "ok: refused after $took s: $(grep -m1 "dataplane.mbufs" "$TMP/dp.log")"
left() {
	ls -d /dev/hugepages/"$PREFIX"* /dev/shm/sluice-"$PREFIX".stats 2> /dev/null || true
}
if [ -z "$(left)" ]; then
	echo "ok: no hugepage files and no stats segment left behind"
else
	check_failed "left behind: $(left | tr '\n' ' ')"
	rm -f /dev/hugepages/"$PREFIX"* /dev/shm/sluice-"$PREFIX".stats
fi

# Under sluiced: it must not loop silently; status names the exit.
"$SLUICED" -f -s "$TMP/s.sock" -p "$TMP/sluiced.pid" -c "$TMP/big.yaml" >> "$TMP/sluiced.log" 2>&1 &
daemon=$!
for _ in $(seq 300); do
	ctl --json status 2> /dev/null | grep -q '"last_exit": "exited with status 1' && break
	kill -0 "$daemon" 2> /dev/null || break
	sleep 0.1
done
if kill -0 "$daemon" 2> /dev/null; then
	ctl --json status > "$TMP/st.json" || fail "status under sluiced"
	grep -q '"last_exit": "exited with status 1' "$TMP/st.json" || { cat "$TMP/st.json"; fail "status does not show the failed start"; }
	grep -q "dataplane.mbufs" "$TMP/sluiced.log" || fail "sluiced's log does not carry the dataplane's reason"
	echo "ok: under sluiced status shows $(grep -o '"last_exit": "[^"]*"' "$TMP/st.json")"
	ctl shutdown > /dev/null 2>&1 || kill -TERM "$daemon"
	wait "$daemon" || true
else
	wait "$daemon" && fail "sluiced exited 0 on a dataplane that cannot start" || true
	grep -q "dataplane.mbufs" "$TMP/sluiced.log" || { tail "$TMP/sluiced.log"; fail "sluiced gave up without the reason"; }
	echo "ok: sluiced refused: $(tail -1 "$TMP/sluiced.log")"
fi
sleep 0.2
if [ -z "$(left)" ]; then
	echo "ok: nothing left behind under sluiced"
else
	check_failed "left behind under sluiced: $(left | tr '\n' ' ')"
fi
finish
