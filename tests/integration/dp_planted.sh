#!/usr/bin/env bash
# Hostile stats segments. A file another user plants at
# /dev/shm/sluice-NAME.stats does not block a start (it is removed, with a
# warning); --read-stats refuses segments that are not root's or ours and
# crafted headers, never crashing; a second dataplane of a running name is
# refused by name and pid before EAL starts.
. "$(dirname "$0")/lib.sh"

id nobody > /dev/null 2>&1 || fail "no user 'nobody' to plant files as"
SHM=/dev/shm/sluice-$PREFIX.stats
# The layout version the build expects, so that the crafted headers below
# fail for what they plant and not for an old version number.
STATS_VERSION=$(sed -n 's/^#define SL_STATS_VERSION \([0-9]*\).*/\1/p' "$SLUICE_SRC/dataplane/stats/stats_segment.h")
[ -n "$STATS_VERSION" ] || fail "no SL_STATS_VERSION in stats_segment.h"
export STATS_VERSION
rxtx_pipeline "net_null0,copy=0" "net_null1" > "$TMP/c.yaml"

# A header that claims a live pid 1, written by nobody.
hdr() { # out-file pid n_stages
	python3 - "$@" <<'PY'
import struct, sys
import os
out, pid, n_st = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ver = int(os.environ["STATS_VERSION"])
size = 4096
h = struct.pack("<QIIQQQqQQIIIIII", 0x31534c5453554c53, ver, 512, 2, size, 1, pid, 0, 0, 1,
                n_st, 0, 0, 1, 0)
h += struct.pack("<QQQQQQQ", 512, 512, 512, 512, 512, 0, 0) + b"x" * 64 + b"y" * 256
h += b"\0" * (512 - len(h))
open(out, "wb").write(h + b"\0" * (size - len(h)))
PY
}
hdr "$TMP/planted" 1 0
chmod 644 "$TMP/planted"
chmod 755 "$TMP"
rm -f "$SHM"
setpriv --reuid=nobody --regid=nogroup --clear-groups cp "$TMP/planted" "$SHM"
[ "$(stat -c %U "$SHM")" = nobody ] || fail "could not plant as nobody"
# Foreign segments are not read.
if "$DP" --read-stats "$PREFIX" > "$TMP/r.txt" 2>&1; then fail "read a segment nobody owns"; fi
grep -q "not by root or us" "$TMP/r.txt" || { cat "$TMP/r.txt"; fail "foreign segment: no reason"; }
run_dp -c "$TMP/c.yaml" --duration 1 > "$TMP/dp.log" 2>&1 || { cat "$TMP/dp.log"; fail "a planted segment blocked the start"; }
grep -q "warning: removing $SHM" "$TMP/dp.log" || { cat "$TMP/dp.log"; fail "no warning about the planted file"; }
echo "ok: a segment planted by nobody is removed with a warning"

# Root-owned but with a dead or non-sluice pid: not a running dataplane either.
hdr "$SHM" 1 0
run_dp -c "$TMP/c.yaml" --duration 1 > "$TMP/dp.log" 2>&1 || { cat "$TMP/dp.log"; fail "pid 1 blocked the start"; }
echo "ok: a segment naming pid 1 does not block a start"

# Crafted headers: --read-stats refuses every one and never crashes.
N=0
for variant in $(seq 0 40); do
	python3 - "$SHM" "$variant" <<'PY'
import os, random, struct, sys
path, v = sys.argv[1], int(sys.argv[2])
ver = int(os.environ["STATS_VERSION"])
r = random.Random(v)
size = 8192
h = bytearray(struct.pack("<QIIQQQqQQIIIIII", 0x31534c5453554c53, ver, 512, 2, size, 1, 1, 0, 0, 1,
                          1, 1, 1, 1, 0)
              + struct.pack("<QQQQQQQ", 512, 512, 512, 512, 512, 0, 0) + b"n\0" + b"\0" * 62
              + b"c\0" + b"\0" * 254)
h += b"\0" * (512 - len(h))
body = bytearray(r.randbytes(size - len(h)) if v % 2 else b"\xff" * (size - len(h)))
if v == 0:
    h[84:88] = struct.pack("<I", 1000000)  # n_stages
elif v == 1:
    h[88:96] = struct.pack("<Q", 2**63)  # off_stages
elif v == 2:
    h[88:96] = struct.pack("<Q", 8192 - 64)  # a stage that runs off the end
elif v == 3:
    h[144:208] = b"A" * 64  # unterminated name
elif v == 4:
    h[24:32] = struct.pack("<Q", 2**40)  # size
else:
    for _ in range(r.randint(1, 6)):
        i = r.randrange(8, 144)
        h[i] = r.randrange(256)
open(path, "wb").write(bytes(h + body))
PY
	rc=0
	timeout 10 "$DP" --read-stats "$PREFIX" > "$TMP/r.txt" 2>&1 || rc=$?
	[ "$rc" -lt 2 ] || { cat "$TMP/r.txt"; fail "crafted header $variant: exit $rc"; }
	timeout 10 "$DP" --read-stats "$PREFIX" --json > "$TMP/r.txt" 2>&1 || rc=$?
	[ "$rc" -lt 2 ] || { cat "$TMP/r.txt"; fail "crafted header $variant (json): exit $rc"; }
	if [ "$variant" -lt 5 ]; then
		[ "$rc" = 1 ] || fail "crafted header $variant was accepted"
	fi
	N=$((N + 1))
done
"$DP" --read-stats "$PREFIX" > /dev/null 2>&1 || true
hdr "$SHM" 1 1000000
if "$DP" --read-stats "$PREFIX" > "$TMP/r.txt" 2>&1; then fail "n_stages 1000000 accepted"; fi
grep -q "out of range" "$TMP/r.txt" || { cat "$TMP/r.txt"; fail "n_stages 1000000: no reason"; }
echo "ok: $N crafted headers refused or read without a crash"
rm -f "$SHM"

# A second dataplane of a running name.
DP_TIMEOUT=30 run_dp -c "$TMP/c.yaml" --duration 20 > "$TMP/first.log" 2>&1 &
first=$!
for _ in $(seq 100); do
	"$DP" --read-stats "$PREFIX" --json 2> /dev/null | grep -q '"state": 1' && break
	sleep 0.1
done
if run_dp -c "$TMP/c.yaml" --duration 1 > "$TMP/second.log" 2>&1; then fail "second dataplane started"; fi
pid=$(pgrep -f -- "-c $TMP/c.yaml --duration 20" | while read -r p; do [ "$(cat /proc/$p/comm)" = sluice-dp ] && echo "$p"; done | head -1)
grep -q "a dataplane named '$PREFIX' is already running (pid $pid)" "$TMP/second.log" ||
	{ cat "$TMP/second.log"; fail "second dataplane: want 'already running (pid $pid)'"; }
! grep -q "Success" "$TMP/second.log" || fail "EAL 'Success' message"
kill -INT "$first"
wait "$first" || fail "first dataplane exited non-zero"
echo "ok: a second dataplane named '$PREFIX' is refused with the running pid"
