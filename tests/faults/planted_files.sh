#!/usr/bin/env bash
# Fault: a local non-root user plants files where sluice's processes (root)
# will create theirs. The user (a throwaway account, deleted at exit) can
# write /dev/shm and the runtime directory $TMP/run (mode 1777, like /tmp;
# the test relies on fs.protected_symlinks being off, as on this VM, and
# skips otherwise). Planted:
# - /dev/shm/sluice-NAME.stats: a file of the user's with a bogus header;
# - at sluiced's pid-file path and at its totals path: symlinks to files of
#   root's (the victims);
# - at the socket path: a regular file.
# Expected:
# - sluice-dp with that NAME starts anyway and warns that it removed the
#   foreign segment (naming it), the segment it serves is root's own; or it
#   refuses with a message naming the segment;
# - sluiced refuses a non-socket at its socket path (exit 1, message names
#   the path; or, first, refuses the world-writable runtime directory, naming
#   it) and leaves the file in place, unchanged;
# - once that file is gone sluiced runs, and neither writing its pid file nor
#   its totals (forced by killing the dataplane after the user re-planted
#   the totals symlink) nor a clean shutdown modifies the victims
#   (checksums compared).
. "$(dirname "$0")/lib.sh"

if [ "$(sysctl -n fs.protected_symlinks 2> /dev/null || echo 0)" != 0 ]; then
	echo "SKIP: fs.protected_symlinks is on; the kernel already refuses these symlinks"
	exit 77
fi
user="slt$$"
user=${user:0:31}
useradd -M -N -d /nonexistent -s /usr/sbin/nologin "$user" || fail "useradd $user"
on_cleanup "pkill -KILL -u $user; userdel -f $user"
as_user() { runuser -u "$user" -- "$@"; }

chmod 0711 "$TMP"
RUN=$TMP/run
mkdir -m 1777 "$RUN"
two_cluster_config > "$TMP/a.yaml"
seg=/dev/shm/sluice-$PREFIX.stats
sock=$RUN/s.sock
pidf=$RUN/sluiced.pid
totals=$RUN/$PREFIX.totals.json
echo "root's pid victim $$" > "$TMP/victim-pid"
echo "root's totals victim $$" > "$TMP/victim-totals"
chmod 0644 "$TMP/victim-pid" "$TMP/victim-totals"
sums() { sha256sum "$TMP/victim-pid" "$TMP/victim-totals"; }
sums > "$TMP/victims.sha"
check_victims() {
	sums | cmp -s - "$TMP/victims.sha" ||
		{ sums; check_failed "$1: a victim file changed through a planted symlink"; sums > "$TMP/victims.sha"; return 1; }
}

as_user python3 -c 'import sys; open(sys.argv[1], "wb").write(b"SLUICEST" + b"\xff" * 4088)' "$seg"
as_user ln -s "$TMP/victim-pid" "$pidf"
as_user ln -s "$TMP/victim-totals" "$totals"
as_user sh -c "echo 'not a socket' > '$sock'"
sha256sum "$sock" > "$TMP/sock.sha"
[ "$(stat -c %U "$seg")" = "$user" ] || fail "could not plant $seg"

# 1. The dataplane with that name.
rc=0
DP_TIMEOUT=3 run_dp -c "$TMP/a.yaml" --duration 2 > "$TMP/dp.log" 2>&1 &
dp=$!
owner=""
for _ in $(seq 60); do
	[ -e "$seg" ] && [ "$(stat -c %u "$seg")" = 0 ] && { owner=root; break; }
	kill -0 "$dp" 2> /dev/null || break
	sleep 0.05
done
wait "$dp" || rc=$?
if [ $rc = 0 ]; then
	[ "$owner" = root ] || check_failed "sluice-dp ran, but $seg was never root's own"
	if grep -F "$seg" "$TMP/dp.log" | grep -Eqi "remov|foreign|replac|stale"; then
		echo "ok: sluice-dp started anyway: $(grep -F "$seg" "$TMP/dp.log" | head -1)"
	else
		check_failed "sluice-dp replaced the planted $seg without a warning naming it"
	fi
else
	if grep -qF "$seg" "$TMP/dp.log"; then
		echo "ok: sluice-dp refused: $(grep -F "$seg" "$TMP/dp.log" | head -1)"
	else
		cat "$TMP/dp.log"
		check_failed "sluice-dp exited $rc without naming $seg"
	fi
fi
check_victims "sluice-dp" || true

# 2. sluiced with a regular file at its socket path.
rc=0
timeout 10 "$SLUICED" -f -s "$sock" -c "$TMP/a.yaml" > "$TMP/sd1.log" 2>&1 &
sd=$!
for _ in $(seq 100); do
	kill -0 "$sd" 2> /dev/null || break
	timeout 5 "$SLUICECTL" -s "$sock" status > /dev/null 2>&1 && break
	sleep 0.05
done
if kill -0 "$sd" 2> /dev/null; then
	check_failed "sluiced started with a regular file at its socket path"
	timeout 10 "$SLUICECTL" -s "$sock" shutdown > /dev/null 2>&1 || kill -TERM "$sd"
	wait "$sd" || true
else
	wait "$sd" || rc=$?
	[ $rc = 1 ] || check_failed "sluiced exited $rc with a regular file at its socket path, want 1"
	# Either refusal is right: the file at the socket path, or (first) the
	# world-writable runtime directory it stands in.
	grep -qF -e "$sock" -e "$RUN" "$TMP/sd1.log" ||
		check_failed "sluiced's refusal names neither $sock nor $RUN"
	echo "sluiced said: $(cat "$TMP/sd1.log")"
fi
[ -f "$sock" ] && [ ! -L "$sock" ] && sha256sum -c --quiet "$TMP/sock.sha" ||
	check_failed "sluiced removed or changed the file at its socket path"
check_victims "sluiced refusing the socket path" || true

# 3. sluiced runs (the stray file is gone); the symlinks stay planted.
rm -f "$sock"
[ -L "$pidf" ] || as_user ln -s "$TMP/victim-pid" "$pidf"
"$SLUICED" -f -s "$sock" -c "$TMP/a.yaml" >> "$TMP/sluiced.log" 2>&1 &
daemon=$!
for _ in $(seq 200); do
	timeout 5 "$SLUICECTL" -s "$sock" --json status 2> /dev/null | grep -q '"state": "running"' && break
	kill -0 "$daemon" 2> /dev/null || break
	sleep 0.05
done
if kill -0 "$daemon" 2> /dev/null; then
	check_victims "sluiced writing its pid file" && echo "ok: sluiced runs; the pid-file victim is unchanged"
	# The user plants the totals symlink again now that sluiced runs; a
	# dataplane death makes sluiced write its totals.
	[ -L "$totals" ] || as_user ln -s "$TMP/victim-totals" "$totals" 2> /dev/null || true
	old=$(timeout 5 "$SLUICECTL" -s "$sock" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["dataplane"]["pid"])')
	kill -9 "$old"
	for _ in $(seq 200); do
		timeout 5 "$SLUICECTL" -s "$sock" --json status 2> /dev/null |
			python3 -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; sys.exit(0 if d["state"]=="running" and d["pid"] != '"$old"' else 1)' && break
		sleep 0.05
	done
	check_victims "sluiced writing its totals" && echo "ok: a dataplane restart left the victims unchanged"
	timeout 30 "$SLUICECTL" -s "$sock" shutdown > /dev/null || check_failed "shutdown"
	wait "$daemon" || true
	check_victims "sluiced's shutdown" && echo "ok: a shutdown left the victims unchanged"
else
	check_victims "sluiced writing its pid file"
	rc=0
	wait "$daemon" || rc=$?
	grep -qF "$RUN" "$TMP/sluiced.log" || { cat "$TMP/sluiced.log"; check_failed "sluiced exited $rc without naming the planted path"; }
	echo "sluiced refused to run beside the planted symlinks: $(tail -1 "$TMP/sluiced.log")"
fi
finish
