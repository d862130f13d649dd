#!/usr/bin/env bash
# An admin-group member may load configs, but may not make root write
# outside dataplane.file_dirs. The attack: load a config whose tx_pcap lies
# in a directory the admin owns inside file_dirs, then swap that directory
# for a symlink to a root-only one, and have the dataplane (re)start, or race
# the swap against a load. The dataplane checks and opens a client's files
# itself on every start and load, one path component at a time without
# following links, and hands the PMD the fd: the victim is never touched,
# the restarted dataplane refuses the config and says why, and a load
# through the swapped directory is refused.
. "$SLUICE_SRC/tests/integration/lib.sh"

AG="slp$$" UA="sup$$"
sec_cleanup() {
	local rc=$?
	userdel "$UA" 2> /dev/null || true
	groupdel "$AG" 2> /dev/null || true
	(exit $rc)
	cleanup
}
trap sec_cleanup EXIT INT TERM
groupadd -r "$AG"
useradd -r -M -N -g nogroup -G "$AG" -s /usr/sbin/nologin "$UA"
as() { timeout 60 setpriv --reuid "$UA" --regid nogroup --init-groups "$@"; }

# Files the admin owns, inside file_dirs; a victim only root may touch.
chmod 755 "$TMP"
mkdir -m 755 "$TMP/files" "$TMP/pub" "$TMP/victim"
chown "$UA" "$TMP/files"
chmod 700 "$TMP/victim"
echo "root's data" > "$TMP/victim/out.pcap"
sum() { sha256sum "$TMP/victim/out.pcap"; }
before=$(sum)

mkdir -m 700 "$TMP/run"
two_cluster_config | sed "s|^dataplane:|dataplane:\n  file_dirs: [$TMP/files]|" > "$TMP/run/c.yaml"
"$SLUICED" -f -s "$TMP/run/s.sock" -p "$TMP/run/sluiced.pid" -c "$TMP/run/c.yaml" --group "$AG" \
	>> "$TMP/sluiced.log" 2>&1 &
ctl() { timeout 60 "$SLUICECTL" -s "$TMP/run/s.sock" "$@"; }
ctl_as() { as "$SLUICECTL" -s "$TMP/run/s.sock" "$@"; }
for _ in $(seq 200); do ctl --json status 2> /dev/null | grep -q '"state": "running"' && break; sleep 0.05; done
ctl --json status | grep -q '"state": "running"' || { cat "$TMP/sluiced.log"; fail "sluiced did not start"; }

# The admin loads a config writing into a directory of its own.
as mkdir "$TMP/files/d"
sed "s|devargs: \"net_null1\"|devargs: \"net_pcap1,tx_pcap=$TMP/files/d/out.pcap\"|" "$TMP/run/c.yaml" > "$TMP/pub/evil.yaml"
chmod 644 "$TMP/pub/evil.yaml"
ctl_as graph load "$TMP/pub/evil.yaml" > /dev/null || fail "the admin's load was refused"
[ -f "$TMP/files/d/out.pcap" ] || fail "the pinned tx_pcap was not created in place"
echo "ok: the admin's config loads and writes where it says"

# The swap, then a restart: the dataplane re-checks and refuses.
as mv "$TMP/files/d" "$TMP/files/d.old"
as ln -s "$TMP/victim" "$TMP/files/d"
ctl_as dataplane restart > /dev/null || fail "restart refused"
for _ in $(seq 100); do
	ctl --json status | grep -q '"restarts": [1-9]' && grep -q "symbolic link" "$TMP/sluiced.log" && break
	sleep 0.05
done
grep -q "is a symbolic link" "$TMP/sluiced.log" || { tail "$TMP/sluiced.log"; fail "the restarted dataplane did not name the link"; }
[ "$(sum)" = "$before" ] || fail "root's file was written through the swapped directory"
echo "ok: after the swap the dataplane refused to start: $(grep -m1 'is a symbolic link' "$TMP/sluiced.log")"

# Loads through the link are refused too (checked where they are opened).
ctl shutdown > /dev/null 2>&1 || true
[ "$(sum)" = "$before" ] || fail "root's file changed"
echo "ok: the victim is untouched"
