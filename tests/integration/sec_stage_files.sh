#!/usr/bin/env bash
# Files that stages read (acl rules, eBPF objects) and write (captures) are
# held to the same rule as device files: a config sent over the control
# socket may name them only inside dataplane.file_dirs of the config sluiced
# started with, as normalized paths with no symbolic link on the way; a
# refusal names the key's file:line:col and the running graph stays. The
# operator's own config may put them anywhere, and a relative path is taken
# from the config file's directory.
. "$SLUICE_SRC/tests/integration/lib.sh"

mkdir -p "$TMP/ok/sub" "$TMP/out"
echo "1 10.0.0.0/8 0.0.0.0/0 0-65535 0-65535 any out" > "$TMP/ok/rules.txt"
echo "1 10.0.0.0/8 0.0.0.0/0 0-65535 0-65535 any out" > "$TMP/out/rules.txt"

# graph_config STAGE-YAML: net_null -> X -> net_null on core 0, file_dirs $TMP/ok.
graph_config() {
	cat << YAML
ports:
  in0:  { driver: dpdk, devargs: "net_null0,copy=0" }
  out0: { driver: dpdk, devargs: "net_null1" }
graph:
  stages:
    rx: { type: port_rx, port: in0 }
    x:  $1
    tx: { type: port_tx, port: out0 }
  connectors:
    - rx -> x -> tx
clusters:
  c: [rx, x, tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
  file_dirs: [$TMP/ok]
YAML
}

graph_config "{ type: pass }" > "$TMP/start.yaml"
start_sluiced -c "$TMP/start.yaml"
pid0=$(dp_pid)

refuse() { # WANT STAGE-YAML: a client load is refused saying WANT at x's key
	local want=$1
	graph_config "$2" > "$TMP/client.yaml"
	if ctl graph load "$TMP/client.yaml" > "$TMP/r" 2>&1; then
		cat "$TMP/r"; fail "loaded: $2"
	fi
	grep -qF -- "$want" "$TMP/r" || { cat "$TMP/r"; fail "want '$want' for $2"; }
	grep -q "client.yaml:7:" "$TMP/r" || { cat "$TMP/r"; fail "no file:line:col of the key for $2"; }
}

refuse "outside the directories" "{ type: capture, file: /etc/sluice-$PREFIX.pcapng }"
refuse "outside the directories" "{ type: capture, file: $TMP/out/x.pcapng }"
refuse "outside the directories" "{ type: acl, rules: /etc/shadow, outputs: [out], default: out }"
refuse "without '.', '..'" "{ type: capture, file: $TMP/ok/../out/x.pcapng }"
ln -s "$TMP/out" "$TMP/ok/link"
refuse "is a symbolic link" "{ type: capture, file: $TMP/ok/link/x.pcapng }"
refuse "is a symbolic link" "{ type: acl, rules: $TMP/ok/link/rules.txt, outputs: [out], default: out }"
ln -s /etc/passwd "$TMP/ok/passwd"
refuse "is a symbolic link" "{ type: capture, file: $TMP/ok/passwd }"
[ ! -e "/etc/sluice-$PREFIX.pcapng" ] && [ ! -e "$TMP/out/x.pcapng" ] || fail "a refused capture file was created"
[ "$(dp_pid)" = "$pid0" ] || fail "a refused load disturbed the dataplane"
ctl --json counters stages | python3 -c 'import json,sys; t={s["name"]: s["type"] for s in json.load(sys.stdin)["stages"]}; sys.exit(t.get("x") != "pass")' ||
	fail "the running graph changed"
echo "ok: client configs cannot name stage files outside file_dirs, through links or with '..'"

# A file planted in file_dirs (world-writable, someone else's) is not
# written into: a client's config writes only new files.
touch "$TMP/ok/planted.pcapng"
chown nobody "$TMP/ok/planted.pcapng"
chmod 666 "$TMP/ok/planted.pcapng"
graph_config "{ type: capture, file: $TMP/ok/planted.pcapng }" > "$TMP/client.yaml"
if ctl graph load "$TMP/client.yaml" > "$TMP/r" 2>&1; then cat "$TMP/r"; fail "a planted file was written into"; fi
grep -q "exists: a config sent over the control socket writes only new files" "$TMP/r" ||
	{ cat "$TMP/r"; fail "planted file: no reason"; }
[ ! -s "$TMP/ok/planted.pcapng" ] || fail "the planted file was written"
echo "ok: a client's capture does not write into an existing (planted) file"

# Inside file_dirs: the capture is written, root's and not world-readable.
graph_config "{ type: capture, file: $TMP/ok/sub/cap.pcapng }" > "$TMP/client.yaml"
ctl graph load "$TMP/client.yaml" > "$TMP/r" 2>&1 || { cat "$TMP/r"; fail "a load inside file_dirs"; }
sleep 0.5
[ -f "$TMP/ok/sub/cap.pcapng" ] || fail "no capture file"
[ "$(stat -c %a "$TMP/ok/sub/cap.pcapng")" = 640 ] || fail "capture file mode $(stat -c %a "$TMP/ok/sub/cap.pcapng")"
echo "ok: a capture inside file_dirs is written, mode 0640"

# The operator's own config: any path, relative to the config file.
mkdir -p "$TMP/own"
cp "$TMP/out/rules.txt" "$TMP/own/rel.rules"
graph_config "{ type: acl, rules: rel.rules, outputs: [out], default: out }" > "$TMP/own/op.yaml"
sed -i "s/name: $PREFIX/name: ${PREFIX}o/; /file_dirs/d" "$TMP/own/op.yaml"
(cd / && run_dp -c "$TMP/own/op.yaml" --duration 1 > "$TMP/r" 2>&1) || { cat "$TMP/r"; fail "operator config with a relative rules path, run from /"; }
echo "ok: the operator's config may use relative paths, taken from its directory"
