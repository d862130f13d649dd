#!/usr/bin/env bash
# Stage plugins: the example plugin's size_split stage runs in sluice-dp
# (frames split by length, checked with tshark) and under sluiced; a client's
# graph load may name only the plugins of sluiced's startup config; a plugin
# built for another stage ABI, or at a path others could write, or not owned
# by root, is refused with the reason at its place in the config.
. "$(dirname "$0")/lib.sh"

PLUG_SRC="$SLUICE_BUILD/stages/plugin_example"
mkdir -p "$TMP/plug"
chmod 0755 "$TMP" "$TMP/plug"
cp "$PLUG_SRC/size_split.so" "$PLUG_SRC/size_split_abi99.so" "$TMP/plug/"
chmod 0755 "$TMP/plug/"*.so

# split_config PLUGIN-PATH [DATAPLANE-LINES...]
split_config() {
	local plugin=$1
	shift
	cat <<YAML
ports:
  in0:    { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  small0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/small.pcap" }
  large0: { driver: dpdk, devargs: "net_pcap2,tx_pcap=$TMP/large.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    sp:    { type: size_split, bytes: 128 }
    txs:   { type: port_tx, port: small0 }
    txl:   { type: port_tx, port: large0 }
  connectors:
    - rx -> sp
    - sp.small -> txs
    - sp.large -> txl
clusters:
  a: [rx, sp, txs, txl]
mapping:
  a: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
  ring_size: 32768
  plugins: [ "$plugin" ]
YAML
	for l in "$@"; do echo "  $l"; done
}

# In sluice-dp alone: every frame leaves by the port its length says.
"$GEN" -o "$TMP/in.pcap" -n 20000 -f 300 -s imix --seed 11
split_config "$TMP/plug/size_split.so" > "$TMP/p.yaml"
run_dp -c "$TMP/p.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
tshark -r "$TMP/small.pcap" -T fields -e frame.len > "$TMP/small.len"
tshark -r "$TMP/large.pcap" -T fields -e frame.len > "$TMP/large.len"
tshark -r "$TMP/in.pcap" -T fields -e frame.len > "$TMP/in.len"
python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
ins = [int(x) for x in open(f"{d}/in.len")]
small = [int(x) for x in open(f"{d}/small.len")]
large = [int(x) for x in open(f"{d}/large.len")]
assert len(ins) == 20000, len(ins)
assert small == [x for x in ins if x < 128], "small.pcap is not the frames under 128 bytes, in order"
assert large == [x for x in ins if x >= 128], "large.pcap is not the frames of 128 bytes or more"
assert small and large, "the trace has both sizes"
s = {x["name"]: x for x in json.load(open(f"{d}/stats.json"))["stages"]}
sp = s["sp"]
assert sp["type"] == "size_split", sp
assert sp["out"] == {"small": len(small), "large": len(large)}, sp["out"]
assert sp["counters"]["large_bytes"] == sum(large), (sp["counters"], sum(large))
print(f"ok: plugin stage size_split: {len(small)} small and {len(large)} large frames, "
      f"as tshark counts them; large_bytes {sum(large)}")
PY

# refused CONFIG-FILE PATTERN WHAT: --check fails with PATTERN in its message.
refused() {
	if "$DP" --check -c "$1" > "$TMP/e" 2>&1; then fail "$3 accepted"; fi
	grep -q -- "$2" "$TMP/e" || { cat "$TMP/e"; fail "$3: message"; }
	echo "ok: $3 refused: $(head -1 "$TMP/e")"
}

split_config "$TMP/plug/size_split_abi99.so" > "$TMP/abi.yaml"
refused "$TMP/abi.yaml" "abi.yaml:23:.*plugin '$TMP/plug/size_split_abi99.so' was built for stage ABI 99, and this sluice has ABI [0-9]*: rebuild it" "a plugin of another ABI"

cp "$TMP/plug/size_split.so" "$TMP/plug/ww.so"
chmod 0666 "$TMP/plug/ww.so"
split_config "$TMP/plug/ww.so" > "$TMP/ww.yaml"
refused "$TMP/ww.yaml" "ww.yaml:23:.*plugin refused: '$TMP/plug/ww.so' is writable by others (mode 0666)" "a world-writable plugin"

mkdir -p "$TMP/open"
chmod 0777 "$TMP/open"
cp "$TMP/plug/size_split.so" "$TMP/open/s.so"
chmod 0755 "$TMP/open/s.so"
split_config "$TMP/open/s.so" > "$TMP/wd.yaml"
refused "$TMP/wd.yaml" "plugin refused: '$TMP/open' is writable by others (mode 0777)" "a plugin in a world-writable directory"
# A link to it from a safe place does not help: the file's real place counts.
ln -s "$TMP/open/s.so" "$TMP/plug/link.so"
split_config "$TMP/plug/link.so" > "$TMP/ln.yaml"
refused "$TMP/ln.yaml" "plugin refused: '$TMP/open' is writable by others" "a link into a world-writable directory"

cp "$TMP/plug/size_split.so" "$TMP/plug/nobody.so"
chown 65534 "$TMP/plug/nobody.so"
split_config "$TMP/plug/nobody.so" > "$TMP/own.yaml"
refused "$TMP/own.yaml" "plugin refused: '$TMP/plug/nobody.so' is owned by uid 65534, not root" "a plugin not owned by root"

split_config "plug/size_split.so" > "$TMP/rel.yaml"
refused "$TMP/rel.yaml" "plugin refused: 'plug/size_split.so' is not an absolute path" "a relative plugin path"
split_config "$TMP/plug/none.so" > "$TMP/none.yaml"
refused "$TMP/none.yaml" "plugin refused: '$TMP/plug/none.so': No such file or directory" "a missing plugin"
split_config /etc/passwd > "$TMP/notso.yaml"
refused "$TMP/notso.yaml" "cannot load plugin: /etc/passwd: " "a file that is no shared object"

# Under sluiced: the plugin's stage counts; a client's graph load may name
# the startup config's plugin, not another, even a good one.
"$GEN" -o "$TMP/in.pcap" -n 2000 -f 50 -s imix --seed 12
split_config "$TMP/plug/size_split.so" "file_dirs: [ \"$TMP\" ]" |
	sed "s|rx_pcap=$TMP/in.pcap|rx_pcap=$TMP/in.pcap,infinite_rx=1|" > "$TMP/d.yaml"
start_sluiced -c "$TMP/d.yaml"
sleep 0.5
ctl --json counters stages > "$TMP/c.json"
python3 - "$TMP/c.json" <<'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}
assert s["sp"]["type"] == "size_split" and s["sp"]["in"] > 0, s["sp"]
print(f"ok: under sluiced, size_split has seen {s['sp']['in']} packets")
PY
sed 's/bytes: 128/bytes: 200/' "$TMP/d.yaml" > "$TMP/d2.yaml"
ctl graph load "$TMP/d2.yaml" > "$TMP/e" 2>&1 || { cat "$TMP/e"; fail "graph load naming the startup plugin refused"; }
cp "$TMP/plug/size_split.so" "$TMP/plug/other.so"
sed "s|$TMP/plug/size_split.so|$TMP/plug/other.so|" "$TMP/d.yaml" > "$TMP/d3.yaml"
if ctl graph load "$TMP/d3.yaml" > "$TMP/e" 2>&1; then fail "a graph load loaded a new plugin"; fi
grep -q "d3.yaml:23:.*plugin '$TMP/plug/other.so' is not among those of the config sluiced was started with" "$TMP/e" ||
	{ cat "$TMP/e"; fail "new plugin refusal message"; }
ctl --json status | grep -q '"state": "running"' || fail "the dataplane stopped after a refused load"
echo "ok: a graph load may keep the startup plugin; another is refused: $(head -1 "$TMP/e")"
