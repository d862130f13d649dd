#!/usr/bin/env bash
# Every binary answers --help; a bad config exits 1 naming file:line:col and
# starts nothing; a bad option exits non-zero.
. "$(dirname "$0")/lib.sh"

"$DP" --help | grep -q "usage: sluice-dp --config FILE" || fail "sluice-dp --help"
"$GEN" --help | grep -q "usage: sl-gentrace" || fail "sl-gentrace --help"
if "$DP" --bogus 2>/dev/null; then fail "bad option accepted"; fi
cat > "$TMP/bad.yaml" <<YAML
ports:
  in0: { driver: dpdk, devargs: "net_null0" }
graph:
  stages:
    rx: { type: port_rx, port: in0 }
    sink: { type: dorp }
  connectors:
    - rx -> sink
clusters:
  a: [rx, sink]
mapping:
  a: { core: 0 }
dataplane: { name: $PREFIX, cores: [0] }
YAML
set +e
"$DP" -c "$TMP/bad.yaml" > "$TMP/out.txt" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "bad config: exit $rc, want 1"
# The list of known types grows with the build: its start and a member.
grep -q "^$TMP/bad.yaml:6:19: unknown stage type 'dorp' (known: acl, balance, .*drop, " "$TMP/out.txt" ||
	{ cat "$TMP/out.txt"; fail "bad config: message"; }
[ ! -e /var/run/dpdk/"$PREFIX" ] || fail "EAL started for a bad config"
if "$GEN" -o "$TMP/x.pcap" --ipv6 2 2>/dev/null; then fail "sl-gentrace accepted --ipv6 2"; fi
echo "ok"
