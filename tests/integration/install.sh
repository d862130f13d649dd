#!/usr/bin/env bash
# meson install --destdir puts every file in place, and each one works: the
# binaries print their versions, the installed sluiced runs the installed
# sluice-dp, systemd-analyze verify accepts the unit, man -l renders each
# page without a warning, and the bash completion completes sluicectl.
. "$(dirname "$0")/lib.sh"

# The build dir under test is installed as it stands (meson test has just
# built it; --no-rebuild keeps the install from touching the tree). Only
# meson-logs/install-log.txt is written there.
ROOT="$TMP/root"
meson install -C "$SLUICE_BUILD" --destdir "$ROOT" --no-rebuild --quiet > "$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log"; fail "meson install"; }
intro() {
	meson introspect "$SLUICE_BUILD" --buildoptions |
		python3 -c 'import json,sys; print({o["name"]: o["value"] for o in json.load(sys.stdin)}[sys.argv[1]])' "$1"
}
P="$ROOT$(intro prefix)"
VERSION=$(meson introspect "$SLUICE_BUILD" --projectinfo |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
DPDK_VERSION=$(pkg-config --modversion libdpdk)

SBIN="$P/$(intro sbindir)"
BIN="$P/$(intro bindir)"
MAN="$P/$(intro mandir)"
UNIT="$P/lib/systemd/system/sluiced.service"
COMPL=$(find "$P" -path '*/bash-completion/completions/sluicectl' -type f)
[ -n "$COMPL" ] || fail "no bash completion for sluicectl under $P"
for f in "$SBIN/sluice-dp" "$SBIN/sluiced" "$BIN/sluicectl" "$UNIT" \
	"$MAN/man8/sluice-dp.8" "$MAN/man8/sluiced.8" "$MAN/man8/sluicectl.8" "$MAN/man5/sluice.yaml.5" \
	"$P/$(intro libdir)/sluice/plugins/size_split.so"; do
	[ -s "$f" ] || fail "not installed: ${f#"$ROOT"} (man pages need scdoc: tools/setup installs it)"
done
for b in "$SBIN/sluice-dp" "$SBIN/sluiced" "$BIN/sluicectl"; do
	[ -x "$b" ] || fail "not executable: $b"
done

# --version: "NAME VERSION (DPDK X.Y.Z)", exit 0.
for b in "$SBIN/sluice-dp" "$SBIN/sluiced" "$BIN/sluicectl"; do
	out=$("$b" --version) || fail "$(basename "$b") --version exited $?"
	want="$(basename "$b") $VERSION (DPDK $DPDK_VERSION)"
	[ "$out" = "$want" ] || fail "$(basename "$b") --version: '$out', want '$want'"
	"$b" --help | grep -q -- "--version" || fail "$(basename "$b") --help lacks --version"
done

# The unit: the directives the service needs, paths from the install prefix.
grep -qx "ExecStart=$(intro prefix)/$(intro sbindir)/sluiced --foreground --config $(intro sluiced_config) --group $(intro sluiced_group)" "$UNIT" ||
	{ cat "$UNIT"; fail "unit: ExecStart"; }
for d in RuntimeDirectory=sluice LimitMEMLOCK=infinity Restart=on-failure WantedBy=multi-user.target; do
	grep -qx "$d" "$UNIT" || fail "unit: no $d"
done
# systemd-analyze verify checks that ExecStart's binary exists and is
# executable, so it verifies a copy whose paths point into the destdir; the
# man pages of Documentation= are looked up there too. Its parse warnings
# do not change its exit status, so any output is a failure.
mkdir "$TMP/unit"
sed "s|$(intro prefix)/|$P/|g" "$UNIT" > "$TMP/unit/sluiced.service"
grep -q "^ExecStart=$SBIN/sluiced " "$TMP/unit/sluiced.service" || fail "unit copy: ExecStart not rewritten"
MANPATH="$MAN" systemd-analyze verify "$TMP/unit/sluiced.service" > "$TMP/verify" 2>&1 ||
	{ cat "$TMP/verify"; fail "systemd-analyze verify"; }
[ ! -s "$TMP/verify" ] || { cat "$TMP/verify"; fail "systemd-analyze verify warns"; }

# Each man page renders, with groff's warnings on and none given.
for m in "$MAN"/man8/sluice-dp.8 "$MAN"/man8/sluiced.8 "$MAN"/man8/sluicectl.8 "$MAN"/man5/sluice.yaml.5; do
	MANWIDTH=80 man --warnings -l "$m" > "$TMP/page" 2> "$TMP/warn" || fail "man -l $m"
	[ ! -s "$TMP/warn" ] || { cat "$TMP/warn"; fail "man -l $(basename "$m") warns"; }
	name=$(basename "$m" | sed 's/\.[0-9]$//')
	grep -q "^NAME" "$TMP/page" && grep -q "$name -" "$TMP/page" || fail "man -l $(basename "$m"): no NAME section"
done

# The installed sluiced finds the installed sluice-dp beside it (no
# $SLUICE_DP, no --dataplane-binary) and runs it.
unset SLUICE_DP
SLUICED="$SBIN/sluiced"
SLUICECTL="$BIN/sluicectl"
two_cluster_config > "$TMP/c.yaml"
start_sluiced -c "$TMP/c.yaml"
[ "$(readlink "/proc/$(dp_pid)/exe")" = "$SBIN/sluice-dp" ] ||
	fail "the installed sluiced runs $(readlink "/proc/$(dp_pid)/exe"), not $SBIN/sluice-dp"

# Completion: source it in a bash of its own and call its function.
complete_words() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		"$(complete -p sluicectl | sed "s/.*-F \([^ ]*\) .*/\1/")"
		printf "%s\n" "${COMPREPLY[@]}"' bash "$COMPL" "$@"
}
complete_words sluicectl cap | grep -qx capture || fail "completion: sluicectl cap<TAB> lacks capture"
complete_words sluicectl tr | grep -qx trace || fail "completion: sluicectl tr<TAB> lacks trace"
complete_words sluicectl capture -w f.pcapng --fi | grep -qx -- --filter || fail "completion: capture --fi<TAB>"
complete_words sluicectl trace --co | grep -qx -- --count || fail "completion: trace --co<TAB>"
complete_words "$SLUICECTL" -s "$TMP/s.sock" capture pa > "$TMP/points"
grep -qx parse "$TMP/points" && grep -qx parse.out "$TMP/points" ||
	{ cat "$TMP/points"; fail "completion: capture pa<TAB> lacks parse, parse.out"; }
complete_words "$SLUICECTL" -s "$TMP/none.sock" capture pa > "$TMP/points" 2>&1
! grep -q . "$TMP/points" || { cat "$TMP/points"; fail "completion without sluiced is not silent"; }
ctl shutdown > /dev/null
echo "ok: installed under $P and checked"
