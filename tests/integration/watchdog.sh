#!/usr/bin/env bash
# The fault stage and the watchdog: a worker that hangs (kind: hang) is
# found by sluiced's watchdog within dataplane.watchdog_ms and its dataplane
# killed and restarted, with the reason in status and the log; abort and
# segv are restarted as crashes; a leak shows as counted, kept mbufs. A
# config with a fault stage but without test_faults is refused at the
# stage's place. Moves and graph loads under a short watchdog do not fire it.
. "$(dirname "$0")/lib.sh"

# fault_config KIND AFTER [WATCHDOG_MS]: rx -> fault -> tx over net_null on
# cluster a (core 0), and a second cluster b (core 1) with its own source.
fault_config() {
	cat <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_null0,copy=0" }
  out0: { driver: dpdk, devargs: "net_null1" }
  in1:  { driver: dpdk, devargs: "net_null2,copy=0" }
  out1: { driver: dpdk, devargs: "net_null3" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    f:     { type: fault, kind: $1, after: $2 }
    tx:    { type: port_tx, port: out0 }
    rx2:   { type: port_rx, port: in1 }
    tx2:   { type: port_tx, port: out1 }
  connectors:
    - rx -> f -> tx
    - rx2 -> tx2
clusters:
  a: [rx, f, tx]
  b: [rx2, tx2]
mapping:
  a: { core: 0 }
  b: { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
  test_faults: true
  watchdog_ms: ${3:-500}
YAML
}

status_field() { # FIELD: of status's dataplane object
	ctl --json status 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['dataplane'].get('$1', ''))" || true
}

# stop: sluiced and its dataplane, hard, and wait until they are gone (the
# next dataplane of the same name refuses to start beside a live one).
stop() {
	local pids p
	pids=$(pgrep -f -- "$TMP/" || true)
	reap
	for p in $pids; do
		for _ in $(seq 200); do [ -e "/proc/$p" ] || break; sleep 0.05; done
		[ -e "/proc/$p" ] && fail "pid $p outlived SIGKILL by 10 s"
	done
	return 0
}

# launch: sluiced on CONFIG without waiting for its dataplane to run (one
# that faults at once may never be seen running).
launch() {
	"$SLUICED" -f -s "$TMP/s.sock" -p "$TMP/sluiced.pid" -c "$1" >> "$TMP/sluiced.log" 2>&1 &
}

# wait_restart SECONDS: until status shows a restart.
wait_restart() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		local r
		r=$(status_field restarts)
		if [ -n "$r" ] && [ "$r" -ge 1 ]; then return 0; fi
		sleep 0.05
	done
	return 1
}

# Refused without test_faults, at the stage's line.
fault_config abort 0 | sed '/test_faults/d' > "$TMP/nofault.yaml"
if "$DP" --check -c "$TMP/nofault.yaml" > "$TMP/e" 2>&1; then fail "fault accepted without test_faults"; fi
grep -q "nofault.yaml:9:5: .*stage 'f' is a fault injector.*test_faults: true" "$TMP/e" ||
	{ cat "$TMP/e"; fail "refusal message"; }
fault_config bogus 0 > "$TMP/bogus.yaml"
if "$DP" --check -c "$TMP/bogus.yaml" > "$TMP/e" 2>&1; then fail "kind bogus accepted"; fi
grep -q "bogus.yaml:9:[0-9]*: .*'kind' must be abort, segv, hang or leak" "$TMP/e" || { cat "$TMP/e"; fail "kind message"; }
fault_config hang 0 50 > "$TMP/short.yaml"
if "$DP" --check -c "$TMP/short.yaml" > "$TMP/e" 2>&1; then fail "watchdog_ms 50 accepted"; fi
grep -q "short.yaml:.*'watchdog_ms' is 50: 0 (off) or at least 100" "$TMP/e" || { cat "$TMP/e"; fail "watchdog_ms message"; }
echo "ok: fault needs test_faults; bad kind and watchdog_ms refused with their places"

# A hang: the watchdog kills and restarts the dataplane.
fault_config hang 2000000 > "$TMP/hang.yaml"
launch "$TMP/hang.yaml"
t0=$(date +%s.%N)
wait_restart 20 || { cat "$TMP/sluiced.log"; fail "the hung dataplane was not restarted"; }
t1=$(date +%s.%N)
grep -q "watchdog: dataplane pid [0-9]*: cluster 'a' on core 0 made no progress for [0-9]* ms (watchdog_ms 500); killing it" "$TMP/sluiced.log" ||
	{ cat "$TMP/sluiced.log"; fail "watchdog log line"; }
last=$(status_field last_exit)
echo "$last" | grep -q "^hung: cluster 'a' on core 0 made no progress for [0-9]* ms (watchdog_ms 500); killed by the watchdog (killed by signal 9 (Killed))$" ||
	fail "status last_exit: $last"
ms=$(sed -n "s/.*cluster 'a' on core 0 made no progress for \([0-9]*\) ms.*/\1/p" "$TMP/sluiced.log" | head -1)
[ "$ms" -ge 500 ] && [ "$ms" -le 1500 ] || fail "detected after $ms ms, want 500..1500"
echo "ok: hang found after $ms ms of silence (restart within $(python3 -c "print(f'{$t1 - $t0:.1f}')") s of start), status: $last"
stop # a hung dataplane cannot drain: no shutdown

# abort and segv: crashes, restarted as such. The watchdog is set wide here:
# under ASan the SEGV report is symbolized before the process exits, which
# on a loaded two-CPU machine can outlast 500 ms of silence, and the
# watchdog would then (rightly) kill the dying process first.
for kind in abort segv; do
	: > "$TMP/sluiced.log"
	fault_config "$kind" 1000000 5000 > "$TMP/$kind.yaml"
	launch "$TMP/$kind.yaml"
	wait_restart 20 || { cat "$TMP/sluiced.log"; fail "$kind: not restarted"; }
	last=$(status_field last_exit)
	case "$kind:$last" in
	abort:"killed by signal 6 (Aborted)") ;;
	segv:"killed by signal 11 (Segmentation fault)") ;;
	segv:"exited with status 1") grep -q "AddressSanitizer: SEGV" "$TMP/sluiced.log" || fail "segv: $last without ASan's report" ;;
	*) cat "$TMP/sluiced.log"; fail "$kind: last_exit '$last'" ;;
	esac
	grep -q "watchdog: dataplane pid" "$TMP/sluiced.log" && fail "$kind: the watchdog fired on a crash"
	echo "ok: $kind: restarted, last exit '$last'"
	stop
done

# leak: packets after the 1000th are kept and counted; nothing restarts.
: > "$TMP/sluiced.log"
fault_config leak 1000 > "$TMP/leak.yaml"
start_sluiced -c "$TMP/leak.yaml"
sleep 1
ctl --json counters stages > "$TMP/leak.json"
python3 - "$TMP/leak.json" <<'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
f = s["f"]
assert f["out"]["out"] == 1000, f
leaked = f["counters"]["leaked"]
assert leaked > 0 and f["in"] == 1000 + leaked, f
print(f"ok: leak: 1000 forwarded, {leaked} kept and counted as leaked")
PY
[ "$(status_field restarts)" = 0 ] || fail "leak: the dataplane restarted"
stop

# No false alarm: 20 moves and 3 graph loads under watchdog_ms 100.
: > "$TMP/sluiced.log"
fault_config leak 1000000000000 100 > "$TMP/quiet.yaml"
start_sluiced -c "$TMP/quiet.yaml"
for i in $(seq 20); do ctl map set b $((i % 2)) > /dev/null || fail "move $i"; done
for i in 1 2 3; do
	sed "s/after: 1000000000000/after: 100000000000$i/" "$TMP/quiet.yaml" > "$TMP/q$i.yaml"
	ctl graph load "$TMP/q$i.yaml" > /dev/null || fail "load $i"
done
sleep 1
[ "$(status_field restarts)" = 0 ] || { cat "$TMP/sluiced.log"; fail "the watchdog fired during moves or loads"; }
grep -q "watchdog: dataplane pid" "$TMP/sluiced.log" && fail "watchdog logged during moves or loads"
echo "ok: 20 moves and 3 graph loads under watchdog_ms 100: no false alarm"
