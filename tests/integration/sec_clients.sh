#!/usr/bin/env bash
# Clients cannot wear sluiced down: an idle connection is closed after
# --client-timeout, but one that keeps asking (counters --watch) is not; a
# non-root user's 1024 half-sent requests hit the per-uid cap and never lock
# root out; and with its file descriptors exhausted sluiced drops new
# connections without spinning on accept.
. "$SLUICE_SRC/tests/integration/lib.sh"

RG="slc$$" UC="suc$$"
sec_cleanup() {
	local rc=$?
	pkill -KILL -u "$UC" 2> /dev/null || true
	userdel "$UC" 2> /dev/null || true
	groupdel "$RG" 2> /dev/null || true
	(exit $rc)
	cleanup
}
trap sec_cleanup EXIT INT TERM
groupadd -r "$RG"
useradd -r -M -N -g nogroup -G "$RG" -s /usr/sbin/nologin "$UC"

two_cluster_config > "$TMP/c.yaml"
start_sluiced -c "$TMP/c.yaml" --read-group "$RG" --client-timeout 1.5
SPID=$(cat "$TMP/sluiced.pid")

# Idle: a half-sent request is closed after the timeout; a watcher is not.
timeout 30 python3 - "$TMP/s.sock" << 'PY' || fail "idle timeout"
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
s.sendall(b'{"cmd": "sta')
t = time.monotonic()
if s.recv(100) != b"": sys.exit("idle client got data")
d = time.monotonic() - t
if not 1.0 < d < 4.0: sys.exit(f"closed after {d:.1f} s, want ~1.5")
print(f"ok: an idle client was closed after {d:.1f} s")
PY
timeout -k 5 -s INT 4 "$SLUICECTL" -s "$TMP/s.sock" --json counters stages --watch 0.5 > "$TMP/watch" 2> "$TMP/watch.err" || true
[ "$(wc -l < "$TMP/watch")" -ge 6 ] || { cat "$TMP/watch.err"; fail "the watcher was cut off after $(wc -l < "$TMP/watch") samples"; }
echo "ok: counters --watch every 0.5 s outlives a 1.5 s idle timeout"

# 1024 half-sent requests from one non-root user: it gets its cap, root
# still gets in. (--client-timeout is long here so they stay.)
ctl shutdown > /dev/null
for _ in $(seq 100); do kill -0 "$SPID" 2> /dev/null || break; sleep 0.05; done
start_sluiced -c "$TMP/c.yaml" --read-group "$RG"
chmod 755 "$TMP/pub" 2> /dev/null || mkdir -m 755 "$TMP/pub"
cat > "$TMP/pub/flood.py" << 'PY'
import socket, sys, time
held = []
for i in range(1024):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1]); s.sendall(b'{"cmd": "sta')
    except OSError:
        pass
    held.append(s)
print("flooding", flush=True)
time.sleep(60)
PY
chmod 644 "$TMP/pub/flood.py"
(ulimit -n 4096; exec setpriv --reuid "$UC" --regid nogroup --init-groups /usr/bin/python3 "$TMP/pub/flood.py" "$TMP/s.sock") > "$TMP/flood.out" 2>&1 &
FLOOD=$!
for _ in $(seq 200); do grep -q flooding "$TMP/flood.out" && break; sleep 0.05; done
grep -q flooding "$TMP/flood.out" || { cat "$TMP/flood.out"; fail "flood did not start"; }
timeout 5 "$SLUICECTL" -s "$TMP/s.sock" status > /dev/null || fail "root locked out by a user's 1024 connections"
n=$(ls -l /proc/"$(cat "$TMP/sluiced.pid")"/fd | grep -c socket)
[ "$n" -lt 100 ] || fail "sluiced holds $n sockets for one user"
grep -q "refusing connections: client limits reached" "$TMP/sluiced.log" || fail "cap not logged"
kill "$FLOOD"; wait "$FLOOD" 2> /dev/null || true
echo "ok: 1024 half-sent requests from uid $(id -u "$UC") did not lock root out ($n sockets held)"

# Out of file descriptors: no spinning on accept.
SPID=$(cat "$TMP/sluiced.pid")
prlimit --pid "$SPID" --nofile=32:
timeout 30 python3 - "$TMP/s.sock" "$SPID" << 'PY' || fail "EMFILE handling"
import os, socket, sys, time
path, pid = sys.argv[1], sys.argv[2]
held = []
for i in range(80):
    s = socket.socket(socket.AF_UNIX); s.setblocking(False)
    try: s.connect(path)
    except OSError: pass
    held.append(s)
def utime():
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11])
time.sleep(0.3)
u0 = utime(); time.sleep(2); u1 = utime()
tick = os.sysconf("SC_CLK_TCK")
print(f"sluiced used {(u1 - u0) / tick:.2f} s of CPU in 2 s with its fds exhausted")
if u1 - u0 > tick // 2: sys.exit("sluiced spins on accept")
PY
grep -q "out of file descriptors" "$TMP/sluiced.log" || { tail -5 "$TMP/sluiced.log"; fail "EMFILE not logged"; }
[ "$(grep -c "out of file descriptors" "$TMP/sluiced.log")" -le 5 ] || fail "EMFILE warnings not rate-limited"
prlimit --pid "$SPID" --nofile=1024:
for _ in $(seq 40); do ctl status > /dev/null 2>&1 && break; sleep 0.1; done
ctl status > /dev/null || fail "sluiced did not recover after fds came back"
echo "ok: with its fds exhausted, sluiced neither spins nor stays broken"
