#!/usr/bin/env bash
# sluiced's files cannot be turned against it: the runtime directory must be
# its own; planted symlinks at the pid file or totals are refused, never
# followed; a non-socket at the socket path is refused and kept; a second
# sluiced is refused; a request naming a path is refused (configs travel as
# text); the last good config is bytes, so rewriting the operator's file
# does not change what a restart runs; --attach trusts nothing that is not
# our own dataplane; and the stats segment of someone else survives our
# dataplane's death.
. "$SLUICE_SRC/tests/integration/lib.sh"

UF="suf$$"
sec_cleanup() {
	local rc=$?
	[ -n "${FAKE:-}" ] && kill "$FAKE" 2> /dev/null
	userdel "$UF" 2> /dev/null || true
	(exit $rc)
	cleanup
}
trap sec_cleanup EXIT INT TERM
useradd -r -M -N -g nogroup -s /usr/sbin/nologin "$UF"

two_cluster_config > "$TMP/c.yaml"
refuse_start() { # DIR WANT ARGS...: sluiced exits 1 saying WANT
	local want=$1; shift
	if timeout 20 "$SLUICED" -f -c "$TMP/c.yaml" "$@" > "$TMP/e" 2>&1; then fail "started: $*"; fi
	grep -qF -- "$want" "$TMP/e" || { cat "$TMP/e"; fail "want: $want"; }
}

# The runtime directory: ours, a real directory, not writable by others.
mkdir -m 777 "$TMP/ww"
refuse_start "is writable by its group or others" -s "$TMP/ww/s.sock"
mkdir -m 700 "$TMP/real" && ln -s "$TMP/real" "$TMP/link"
refuse_start "is a symlink" -s "$TMP/link/s.sock"
mkdir -m 700 "$TMP/theirs" && chown "$UF" "$TMP/theirs"
refuse_start "is not owned by sluiced's user" -s "$TMP/theirs/s.sock"
echo "ok: runtime directories that are not ours are refused"

# A regular file at the socket path is refused and survives.
cp "$TMP/c.yaml" "$TMP/keep.yaml"
refuse_start "sluiced: $TMP/c.yaml exists and is not a socket; refusing to replace it" -s "$TMP/c.yaml"
cmp -s "$TMP/c.yaml" "$TMP/keep.yaml" || fail "the config at the socket path was changed"
echo "ok: sluiced --config X --socket X refuses and X survives"

# Planted symlinks at the pid file and totals are refused, not followed.
mkdir -m 700 "$TMP/p"
echo victim > "$TMP/victim"
ln -s "$TMP/victim" "$TMP/p/sluiced.pid"
refuse_start "$TMP/p/sluiced.pid exists and is not a regular file" -s "$TMP/p/s.sock"
rm "$TMP/p/sluiced.pid"
ln -s "$TMP/victim" "$TMP/p/$PREFIX.totals.json"
refuse_start "$TMP/p/$PREFIX.totals.json exists and is not a regular file" -s "$TMP/p/s.sock"
[ "$(cat "$TMP/victim")" = victim ] || fail "a symlink target was written"
[ ! -e "$TMP/p/s.sock" ] || fail "a refused sluiced left a socket"
echo "ok: planted symlinks at the pid file and totals are refused"

start_sluiced -c "$TMP/c.yaml"

# One sluiced per runtime directory; the live one keeps its socket.
refuse_start "another sluiced is running on runtime directory $TMP" -s "$TMP/s.sock" -p "$TMP/sluiced.pid"
ctl status > /dev/null || fail "the second sluiced broke the first"
if flock -n "$TMP/sluiced.pid" true; then fail "the pid file is not locked"; fi
[ "$(cat "$TMP/sluiced.pid")" = "$(pgrep -f -- "$SLUICED -f -s $TMP/s.sock" | head -1)" ] || fail "pid file content"
echo "ok: a second sluiced on the same runtime directory is refused"

# Configs travel as text; a path is never opened by sluiced.
python3 - "$TMP/s.sock" > "$TMP/r" << 'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
f = s.makefile("rw")
f.write(json.dumps({"cmd": "graph_validate", "path": "/etc/shadow"}) + "\n"); f.flush()
print(f.readline().strip())
PY
grep -q '"code":"bad_field","field":"path".*send the config' "$TMP/r" || { cat "$TMP/r"; fail "path field accepted"; }
echo "ok: a request naming a path is refused"

# The last good config is bytes: load A, rewrite A with garbage, kill -9
# the dataplane; it comes back running A.
sed 's/fwd/fwd2/g' "$TMP/c.yaml" > "$TMP/a.yaml"
ctl graph load "$TMP/a.yaml" > /dev/null || fail "load A"
echo "this: is: not: a config" > "$TMP/a.yaml"
old=$(dp_pid)
seg="/dev/shm/sluice-$PREFIX.stats"
kill -9 "$old"
for _ in $(seq 200); do
	new=$(ctl --json status 2> /dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; print(d["pid"] if d["state"]=="running" else "")' || true)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.05
done
[ -n "$new" ] && [ "$new" != "$old" ] || { cat "$TMP/sluiced.log"; fail "the dataplane did not come back"; }
ctl graph show | grep -q '^fwd2 ' || fail "the restarted dataplane does not run A"
ctl --json status | grep -q "\"config\": \"$TMP/a.yaml\"" || fail "status does not name A"
copy="$TMP/$PREFIX.running.yaml"
[ "$(stat -c '%a %U' "$copy")" = "600 root" ] || fail "private copy is $(stat -c '%a %U' "$copy")"
echo "ok: a restart runs the loaded config's bytes, not the rewritten file"

# The totals file is a 0600 regular file, written without leftovers.
wait_running || fail "not running after restart"
[ "$(stat -c '%a %F' "$TMP/$PREFIX.totals.json")" = "600 regular file" ] || fail "totals file $(stat -c '%a %F' "$TMP/$PREFIX.totals.json")"
! ls -a "$TMP" | grep -q '^\.[^.]' || fail "temp files left: $(ls -a "$TMP")"

# Someone else's segment at our segment's name survives our dataplane's
# death: a copy with another pid replaces the live one, then -9.
wait_running
pid=$(dp_pid)
for _ in $(seq 100); do [ -e "$seg" ] && break; sleep 0.05; done
cp "$seg" "$TMP/fake.stats"
python3 -c 'import struct,sys; f=open(sys.argv[1],"r+b"); f.seek(40); f.write(struct.pack("<q", 1))' "$TMP/fake.stats"
mv "$TMP/fake.stats" "$seg"
kill -9 "$pid"
for _ in $(seq 100); do grep -q "$seg is not dataplane $pid's segment; leaving it" "$TMP/sluiced.log" && break; sleep 0.05; done
grep -q "$seg is not dataplane $pid's segment; leaving it" "$TMP/sluiced.log" || { cat "$TMP/sluiced.log"; fail "another's segment was removed"; }
# (The next dataplane refuses to start over a segment whose owner lives.)
rm -f "$seg"
wait_running || { cat "$TMP/sluiced.log"; fail "not running after the second kill"; }
echo "ok: only the dead dataplane's own stats segment is removed"

# --attach checks what it attaches to. Stop sluiced (kill -9: its dataplane
# keeps running), then plant impostors at the dataplane socket.
dp=$(dp_pid)
kill -9 "$(cat "$TMP/sluiced.pid")"
sleep 0.3
kill -TERM "$dp"; for _ in $(seq 100); do kill -0 "$dp" 2> /dev/null || break; sleep 0.05; done
dps="$TMP/$PREFIX.dp.sock"
rm -f "$dps" "$TMP/s.sock"
fake_server() { # run as $1 (root or the user), bind $2
	local who=$1 path=$2
	local cmd=(/usr/bin/python3 -c '
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(4)
while True:
    c, _ = s.accept()
    f = c.makefile("rw")
    for line in f:
        f.write(json.dumps({"id": json.loads(line).get("id"), "ok": True, "result": {"pid": 1, "name": "x", "config": "/etc/shadow", "config_text": "", "mapping": {}}}) + "\n"); f.flush()
' "$path")
	if [ "$who" = root ]; then "${cmd[@]}" & else setpriv --reuid "$who" --regid nogroup --init-groups "${cmd[@]}" & fi
	FAKE=$!
	for _ in $(seq 100); do [ -S "$path" ] && break; sleep 0.05; done
}
attach_refused() {
	local want=$1
	if timeout 20 "$SLUICED" -f -c "$TMP/c.yaml" -s "$TMP/s.sock" --attach > "$TMP/e" 2>&1; then fail "attached to an impostor"; fi
	grep -qF -- "$want" "$TMP/e" || { cat "$TMP/e"; fail "want: $want"; }
	kill -0 "$FAKE" || fail "the impostor was signalled"
	kill "$FAKE"; wait "$FAKE" 2> /dev/null || true; FAKE=
	rm -f "$dps" "$TMP/s.sock"
}
# 1. A socket owned by another user.
fake_server root "$dps"; chown "$UF" "$dps"
attach_refused "is not a socket owned by root or us"
# 2. A root-owned socket file served by another user.
mkdir -m 777 "$TMP/u" && chmod 711 "$TMP"
fake_server "$UF" "$TMP/u/fake.sock"; mv "$TMP/u/fake.sock" "$dps"; chown root "$dps"
chmod 700 "$TMP"
attach_refused "is served by uid $(id -u "$UF"), not root or us"
# 3. Root, but not the sluice-dp binary.
fake_server root "$dps"
attach_refused "not $(realpath "$DP")"
echo "ok: --attach refuses impostors at the dataplane socket and signals none"
