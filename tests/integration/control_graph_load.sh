#!/usr/bin/env bash
# Graph loads under traffic. Ten loads alternate between two graphs (one adds
# a stage); unchanged stages keep their counters, so after the final drain
# rx.in == tx.sent with no drops. Then a dozen invalid loads are refused with
# their exact error, and the running graph is left exactly as it was.
. "$(dirname "$0")/lib.sh"

# The startup config grants $TMP/files to configs sent over the socket.
mkdir "$TMP/files"
two_cluster_config | sed "s|^dataplane:|dataplane:\n  file_dirs: [$TMP/files]|" > "$TMP/a.yaml"
grep -q file_dirs "$TMP/a.yaml" || fail "could not add file_dirs"
sed 's/    - rx -> parse -> fwd -> tx/    - rx -> parse -> fwd -> extra -> tx/; s/    fwd:   { type: pass }/    fwd:   { type: pass }\n    extra: { type: pass }/; s/  egress:  \[fwd, tx\]/  egress:  [fwd, extra, tx]/' "$TMP/a.yaml" > "$TMP/b.yaml"
grep -q extra "$TMP/b.yaml" || fail "could not derive the second graph"
start_sluiced -c "$TMP/a.yaml"
pid=$(dp_pid)
for i in $(seq 10); do
	g=$([ $((i % 2)) = 1 ] && echo b || echo a)
	ctl --json graph load "$TMP/$g.yaml" > "$TMP/l$i.json" || fail "load $i ($g) failed"
done
python3 - "$TMP" <<'PY'
import json, statistics, sys
r = [json.load(open(f"{sys.argv[1]}/l{i}.json")) for i in range(1, 11)]
p = [x["pause_us"] for x in r]
# a -> b keeps rx, parse, fwd, tx (4 of 5); b -> a keeps all 4.
kept = [(x["kept_instances"], x["instances"]) for x in r]
assert all(k == (4, 5) for k in kept[0::2]) and all(k == (4, 4) for k in kept[1::2]), kept
print(f"ok: 10 loads, pause median {statistics.median(p):.0f} us, worst {max(p):.0f} us; unchanged stages kept")
PY
[ "$(dp_pid)" = "$pid" ] || fail "the dataplane restarted during the loads"

ctl graph show > "$TMP/before.txt"
# Each invalid load: file, expected message (after "sluicectl: ").
bad() {
	local name=$1 want=$2
	if ctl graph load "$TMP/$name.yaml" 2> "$TMP/err.txt"; then fail "$name: accepted"; fi
	grep -qF -- "$want" "$TMP/err.txt" || { cat "$TMP/err.txt"; fail "$name: want: $want"; }
	echo "ok: refused $name"
}
mk() { sed "$2" "$TMP/a.yaml" > "$TMP/$1.yaml"; }
if ctl graph load "$TMP/missing.yaml" 2> "$TMP/err.txt"; then fail "missing file accepted"; fi
grep -qF "sluicectl: $TMP/missing.yaml:1:1: cannot open: No such file or directory" "$TMP/err.txt" || { cat "$TMP/err.txt"; fail missing; }
mk syntax 's/  ingress: \[rx, parse\]/  ingress: [rx, parse/'
bad syntax "invalid_config (config): $TMP/syntax.yaml:"
mk badtype 's/type: parse/type: prase/'
bad badtype "invalid_config (config): $TMP/badtype.yaml:10:20: unknown stage type 'prase' (known: acl, balance, "
mk dangling 's/rx -> parse -> fwd -> tx/rx -> parse -> fwd -> tx9/'
bad dangling "invalid_config (config): $TMP/dangling.yaml:14:29: connector names unknown stage 'tx9'"
mk cycle 's/    fwd:   { type: pass }/    fwd:   { type: pass }\n    p2:    { type: pass }\n    p3:    { type: pass }/; s/    - rx -> parse -> fwd -> tx/    - rx -> parse -> fwd -> tx\n    - p2 -> p3 -> p2/'
bad cycle "invalid_config (config): $TMP/cycle.yaml:17:13: connector p3 -> p2 closes a cycle; the graph must be acyclic"
mk dup 's/    - rx -> parse -> fwd -> tx/    - rx -> parse -> fwd -> tx\n    - parse.out -> fwd/'
bad dup "invalid_config (config): $TMP/dup.yaml:15:7: duplicate connector parse.out -> fwd (first at line 14:13)"
mk twice 's/  egress:  \[fwd, tx\]/  egress:  [fwd, tx, parse]/'
bad twice "invalid_config (config): $TMP/twice.yaml:18:22: stage 'parse' is already in cluster 'ingress'"
mk pool 's/  egress:  { core: 1 }/  egress:  { core: 3 }/'
bad pool "invalid_config (config): $TMP/pool.yaml:22:20: cluster 'egress' is mapped to core 3, which is not in the core pool [0, 1]"
mk rename "s/name: $PREFIX/name: other/"
bad rename "needs_restart (config): dataplane.name and dataplane.cores cannot change in a graph load"
mk cores 's/  cores: \[0, 1\]/  cores: [0]/; s/  egress:  { core: 1 }/  egress:  { core: 0 }/'
bad cores "needs_restart (config): dataplane.name and dataplane.cores cannot change in a graph load"
mk unknownkey 's/^graph:/graph:\n  colour: blue/'
bad unknownkey "invalid_config (config): $TMP/unknownkey.yaml:8:3: unknown key 'colour' in graph (expected one of: stages, connectors)"
mk nodev "s|devargs: \"net_null1\"|devargs: \"net_pcap7,rx_pcap=$TMP/files/none.pcap\"|"
bad nodev "invalid_config (config): $TMP/nodev.yaml:5:3: port 'out0': '$TMP/files/none.pcap': No such file or directory"
mk baddev 's|devargs: "net_null1"|devargs: "net_null7,bogus=1"|'
bad baddev "invalid_config (config): port 'out0': cannot add device \"net_null7,bogus=1\""
# Root truncating a file a client points it at (issue 7, item 5).
echo precious > "$TMP/victim"
mk victim "s|devargs: \"net_null1\"|devargs: \"net_pcap7,tx_pcap=$TMP/victim\"|"
bad victim "invalid_config (config): $TMP/victim.yaml:5:53: port 'out0': '$TMP/victim' is outside the directories a config sent over the control socket may use (dataplane.file_dirs of the config sluiced started with: $TMP/files)"
[ "$(cat "$TMP/victim")" = precious ] || fail "the victim file was touched"
mk widen "s|file_dirs: \[$TMP/files\]|file_dirs: [/]|"
bad widen "invalid_config (config): $TMP/widen.yaml:"
mk eth "s|devargs: \"net_null1\"|devargs: \"eth_null1\"|"
bad eth "is neither an allowed virtual device"
mk noinput 's/    fwd:   { type: pass }/    fwd:   { type: pass }\n    lone:  { type: pass }/'
bad noinput "invalid_config (config): $TMP/noinput.yaml:12:5: stage 'lone' has no input connector"

ctl graph show > "$TMP/after.txt"
diff "$TMP/before.txt" "$TMP/after.txt" || fail "a refused load changed the graph"
[ "$(dp_pid)" = "$pid" ] || fail "a refused load restarted the dataplane"
ctl --json status | grep -q '"restarts": 0' || fail "restarts counted"
ctl --json shutdown > "$TMP/final.json" || fail "shutdown failed"
python3 - "$TMP/final.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["final_counters"]
st = {x["name"]: x for x in s["stages"]}
for x in s["stages"]:
    assert x["in"] == sum(x["out"].values()) + sum(x["drops"].values()), x
drops = sum(sum(x["drops"].values()) for x in s["stages"]) + sum(c["dropped_full"] for c in s["connectors"])
assert drops == 0, drops
assert st["rx"]["in"] == st["tx"]["out"]["sent"] > 1000000, (st["rx"]["in"], st["tx"]["out"])
print(f"ok: across 10 graph loads {st['rx']['in']} packets in, {st['tx']['out']['sent']} sent, 0 dropped")
PY
