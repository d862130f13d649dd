#!/usr/bin/env bash
# Who may do what: sluiced --group (admin) and --read-group decide from the
# peer's SO_PEERCRED credentials. A reader reads but cannot change anything
# (the refusal names the admin group), an admin changes things, and a user in
# neither group cannot even connect, and is refused by the credential check
# when the file system would let it. sluicectl reads configs as its user.
# Throwaway users and groups are deleted even when the test fails.
. "$SLUICE_SRC/tests/integration/lib.sh"

AG="sla$$" RG="slr$$" UA="sua$$" UR="sur$$" UN="sun$$"
sec_cleanup() {
	local rc=$?
	for u in "$UA" "$UR" "$UN"; do userdel "$u" 2> /dev/null || true; done
	for g in "$AG" "$RG"; do groupdel "$g" 2> /dev/null || true; done
	(exit $rc)
	cleanup
}
trap sec_cleanup EXIT INT TERM
groupadd -r "$AG"
groupadd -r "$RG"
useradd -r -M -N -g nogroup -G "$AG" -s /usr/sbin/nologin "$UA"
useradd -r -M -N -g nogroup -G "$RG" -s /usr/sbin/nologin "$UR"
useradd -r -M -N -g nogroup -s /usr/sbin/nologin "$UN"
# The build tree must be reachable by them (/work is 0755 here).
as() { local u=$1; shift; timeout 60 setpriv --reuid "$u" --regid nogroup --init-groups "$@"; }
ctl_as() { local u=$1; shift; as "$u" "$SLUICECTL" -s "$TMP/s.sock" "$@"; }

two_cluster_config > "$TMP/c.yaml"
start_sluiced -c "$TMP/c.yaml" --group "$AG" --read-group "$RG"

# The files: only root, the admin group and (by ACL) the read group get in.
[ "$(stat -c %G "$TMP/s.sock")" = "$AG" ] || fail "socket group is $(stat -c %G "$TMP/s.sock")"
[ "$(stat -c %a "$TMP")" = 750 ] || fail "runtime dir mode $(stat -c %a "$TMP")"
case "$(stat -c %A "$TMP/s.sock")" in ?rw-rw----*) ;; *) fail "socket mode $(stat -c %A "$TMP/s.sock")" ;; esac

# Configs a user can read, in a directory they can reach.
mkdir "$TMP/pub" && chmod 755 "$TMP/pub"
cp "$TMP/c.yaml" "$TMP/pub/c.yaml" && chmod 644 "$TMP/pub/c.yaml"
cp "$TMP/c.yaml" "$TMP/pub/secret.yaml" && chmod 600 "$TMP/pub/secret.yaml"

# Reader: reads.
ctl_as "$UR" status > /dev/null || fail "reader cannot read status"
ctl_as "$UR" map show > /dev/null || fail "reader cannot map show"
ctl_as "$UR" graph show > /dev/null || fail "reader cannot graph show"
ctl_as "$UR" counters > /dev/null || fail "reader cannot read counters"
ctl_as "$UR" graph validate "$TMP/pub/c.yaml" | grep -q '^ok: ' || fail "reader cannot validate"
echo "ok: a reader reads"

# Reader: every mutation refused, naming the group it needs.
refused() {
	local what=$1; shift
	if ctl_as "$UR" "$@" > /dev/null 2> "$TMP/e"; then fail "reader could $what"; fi
	grep -q "forbidden: $what needs uid 0 or group '$AG'" "$TMP/e" || { cat "$TMP/e"; fail "refusal of $what"; }
}
refused map_set map set egress 0
refused graph_load graph load "$TMP/pub/c.yaml"
refused "counters with reset" counters --reset
refused dataplane_restart dataplane restart
refused shutdown shutdown
ctl map show | grep -Eq '^egress +1$' || fail "a refused map_set changed the mapping"
grep -q "refused map_set from uid $(id -u "$UR")" "$TMP/sluiced.log" || fail "refusal not logged"
echo "ok: a reader cannot change anything, and is told it needs group $AG"

# sluicectl reads the file as its user: a root-only file is unreadable.
if ctl_as "$UR" graph validate "$TMP/pub/secret.yaml" 2> "$TMP/e"; then fail "reader read a root-only file"; fi
grep -q "sluicectl: .*secret.yaml.*Permission denied" "$TMP/e" || { cat "$TMP/e"; fail "secret message"; }
echo "ok: sluicectl reads configs with the caller's rights"

# Admin: changes things.
ctl_as "$UA" map set egress 0 > /dev/null || fail "admin map set"
ctl map show | grep -Eq '^egress +0$' || fail "admin's map_set did not apply"
ctl_as "$UA" graph load "$TMP/pub/c.yaml" > /dev/null || fail "admin graph load"
ctl_as "$UA" counters --reset > /dev/null || fail "admin reset"
echo "ok: an admin changes things"

# Neither group: the file system keeps it out ...
if ctl_as "$UN" status > /dev/null 2> "$TMP/e"; then fail "outsider connected"; fi
grep -q "Permission denied" "$TMP/e" || { cat "$TMP/e"; fail "outsider message"; }
# ... and if the modes were opened by mistake, the credential check does.
chmod o+x "$TMP" && chmod o+rw "$TMP/s.sock"
if ctl_as "$UN" status > "$TMP/o" 2> "$TMP/e"; then fail "outsider got status"; fi
grep -q "forbidden: uid $(id -u "$UN") may not use sluiced" "$TMP/e" || { cat "$TMP/e"; fail "outsider refusal"; }
[ ! -s "$TMP/o" ] || fail "outsider got output"
chmod o-x "$TMP" && chmod o-rw "$TMP/s.sock"
echo "ok: a user in neither group gets nothing"
ctl status > /dev/null || fail "root locked out"
