#!/usr/bin/env bash
# Graph loads straight on sluice-dp's control socket, under traffic (net_pcap
# infinite_rx). Ten loads change a port's devargs (rx_pcap a.pcap -> b.pcap:
# same ethdev name, other file), add a port and a ring, ask for more RX
# queues than the device has (fails after the old graph stopped), name a
# missing file and need more mbufs than the pool has (an extra pool). Each load succeeds or
# is refused with invalid_config / load_failed; the dataplane never exits,
# forwarding goes on after every one, and at the end in == out + drops for
# every stage.
. "$(dirname "$0")/lib.sh"

"$GEN" -o "$TMP/a.pcap" -n 500 -f 50 --seed 1 > /dev/null
"$GEN" -o "$TMP/b.pcap" -n 700 -f 70 --seed 2 > /dev/null
cfg() { # name rx-devargs extra-ports extra-stages extra-connectors extra-clusters rx-instances ring_size
	set -- "$1" "$2" "${3:-}" "${4:-}" "${5:-}" "${6:-}" "${7:-}" "${8:-}"
	cat <<YAML
ports:
  in0:  { driver: dpdk, devargs: "$2" }
  out0: { driver: dpdk, devargs: "net_null1" }
$3
graph:
  stages:
    rx:    { type: port_rx, port: in0$7 }
    parse: { type: parse }
    fwd:   { type: pass }
    tx:    { type: port_tx, port: out0 }
$4
  connectors:
    - rx -> parse -> fwd -> tx
$5
clusters:
  ingress: [rx, parse]
  egress:  [fwd, tx]
$6
mapping:
  ingress: { core: 0 }
  egress:  { core: 1 }
$([ -n "$6" ] && echo "  extra:   { core: 1 }")
dataplane:
  name: $PREFIX
  cores: [0, 1]
  ring_size: ${8:-1024}
YAML
}
A="net_pcap0,rx_pcap=$TMP/a.pcap,infinite_rx=1"
B="net_pcap0,rx_pcap=$TMP/b.pcap,infinite_rx=1"
cfg a "$A" > "$TMP/a.yaml"
cfg b "$B" > "$TMP/b.yaml"
cfg c "$A" '  in1:  { driver: dpdk, devargs: "net_null2" }' '    rx2:   { type: port_rx, port: in1 }' \
	'    - rx2 -> fwd' '  extra:   [rx2]' > "$TMP/c.yaml"
cfg q "$A" "" "" "" "" ", instances: 2" > "$TMP/queues.yaml"
cfg m "net_pcap0,rx_pcap=$TMP/missing.pcap" > "$TMP/missing.yaml"
cfg r "$B" "" "" "" "" "" 8192 > "$TMP/bigring.yaml"
"$DP" --check -c "$TMP/c.yaml" > /dev/null || fail "config c does not validate"

DP_TIMEOUT=200 run_dp -c "$TMP/a.yaml" --control-socket "$TMP/dp.sock" --stats-json "$TMP/final.json" \
	> "$TMP/dp.log" 2>&1 &
dp=$!
for _ in $(seq 200); do [ -S "$TMP/dp.sock" ] && break; sleep 0.05; done
[ -S "$TMP/dp.sock" ] || { cat "$TMP/dp.log"; fail "no control socket"; }

python3 - "$TMP" "$PREFIX" "$DP" <<'PY' || { cat "$TMP/dp.log"; fail "graph loads"; }
import json, socket, subprocess, sys, time
tmp, name, dp = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(f"{tmp}/dp.sock")
f = s.makefile("rw")
n = 0
def call(req):
    global n
    n += 1
    req["id"] = n
    f.write(json.dumps(req) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if r.get("id") == n:
            return r
def sent():
    out = subprocess.run([dp, "--read-stats", name, "--json"], capture_output=True, text=True, timeout=10)
    st = {x["name"]: x for x in json.loads(out.stdout)["stages"]}
    return st["tx"]["out"]["sent"]
def flowing(what):
    a = sent(); time.sleep(0.3); b = sent()
    assert b > a, f"{what}: no packets forwarded ({a} -> {b})"
call({"cmd": "hello"})
flowing("start")
plan = [("b", "ok"), ("a", "ok"), ("c", "ok"), ("queues", "load_failed"), ("b", "ok"),
        ("missing", "invalid_config"), ("bigring", "ok"), ("c", "ok"), ("b", "ok"), ("a", "ok")]
pauses = []
for i, (g, want) in enumerate(plan, 1):
    text = open(f"{tmp}/{g}.yaml").read()
    r = call({"cmd": "graph_load", "config": text, "name": f"{g}.yaml"})
    if r.get("ok"):
        got = "ok"
        pauses.append(r["result"]["pause_us"] if "result" in r else r.get("pause_us"))
    else:
        got = r["error"]["code"]
        assert got in ("invalid_config", "load_failed"), r
        msg = r["error"]["message"]
        assert "port '" in msg or "stage '" in msg or "mbufs" in msg, r
    assert want in ("any", got), f"load {i} ({g}): want {want}, got {r}"
    flowing(f"after load {i} ({g}, {got})")
    print(f"ok: load {i} {g}: {got}" + ("" if got == "ok" else f" ({r['error']['message'][:100]})"))
pauses = [p for p in pauses if p is not None]
if pauses:
    pauses.sort()
    print(f"pause_us median {pauses[len(pauses)//2]:.0f} worst {pauses[-1]:.0f}")
r = call({"cmd": "shutdown"})
PY
wait "$dp" || { cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
python3 - "$TMP/final.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for x in s["stages"]:
    assert x["in"] == sum(x["out"].values()) + sum(x["drops"].values()), x
st = {x["name"]: x for x in s["stages"]}
print(f"ok: in == out + drops for every stage; tx sent {st['tx']['out']['sent']}")
PY
