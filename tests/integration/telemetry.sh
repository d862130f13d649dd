#!/usr/bin/env bash
# DPDK telemetry: a dataplane replaying a finite trace answers /sluice/
# commands on its telemetry socket next to DPDK's own, and each stage's,
# connector's and port's numbers there equal `sluice-dp --read-stats --json`
# once the trace is through. Hostile parameters (long, empty, unknown,
# binary) get null or an error dict and the dataplane stays up; clients
# querying all through a graph load see the new graph after it; and
# dpdk-telemetry.py -f NAME reads the same.
. "$(dirname "$0")/lib.sh"

"$GEN" -o "$TMP/a.pcap" -n 3000 -f 40 --seed 5 > /dev/null
"$GEN" -o "$TMP/b.pcap" -n 2000 -f 64 --seed 6 > /dev/null
pcap_pipeline "net_pcap0,rx_pcap=$TMP/a.pcap" "net_pcap1,tx_pcap=$TMP/out1.pcap" \
	"ring_size: 8192" > "$TMP/a.yaml"
# The graph a load brings: a fan-out over two instances, whose names
# ("work[1]") are telemetry parameters with brackets.
cat > "$TMP/b.yaml" <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/b.pcap" }
  out0: { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/out2.pcap" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    parse: { type: parse }
    lb:    { type: balance }
    work:  { type: pass, instances: 2 }
    tx:    { type: port_tx, port: out0 }
  connectors:
    - rx -> parse -> lb -> work -> tx
clusters:
  ingress: [rx, parse, lb, "work[0]"]
  egress:  ["work[1]", tx]
mapping:
  ingress: { core: 0 }
  egress:  { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
  ring_size: 8192
YAML
"$DP" --check -c "$TMP/b.yaml" > /dev/null || fail "config b does not validate"

if [ "$(id -u)" = 0 ]; then
	TEL="/var/run/dpdk/$PREFIX/dpdk_telemetry.v2"
else
	TEL="${XDG_RUNTIME_DIR:-/tmp}/dpdk/$PREFIX/dpdk_telemetry.v2"
fi

DP_TIMEOUT=200 run_dp -c "$TMP/a.yaml" --control-socket "$TMP/dp.sock" > "$TMP/dp.log" 2>&1 &
dp=$!
for _ in $(seq 200); do [ -S "$TMP/dp.sock" ] && [ -S "$TEL" ] && break; sleep 0.05; done
[ -S "$TEL" ] || { cat "$TMP/dp.log"; fail "no telemetry socket at $TEL"; }

python3 - "$TEL" "$TMP" "$PREFIX" "$DP" <<'PY' || { cat "$TMP/dp.log"; fail "telemetry"; }
import json, os, socket, subprocess, sys, threading, time
tel, tmp, name, dp = sys.argv[1:5]

class Tel:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(20)
        self.s.connect(tel)
        self.banner = json.loads(self.s.recv(16384))
    def raw(self, cmd):
        self.s.send(cmd if isinstance(cmd, bytes) else cmd.encode())
        return self.s.recv(65536)
    def __call__(self, cmd):
        r = json.loads(self.raw(cmd))
        assert len(r) == 1, r
        return next(iter(r.values()))

def read_stats():
    out = subprocess.run([dp, "--read-stats", name, "--json"], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)

def settled(want_in):
    """The --read-stats view once the trace is through (want_in frames at
    port in0) and no counter moves any more."""
    prev = None
    for _ in range(300):
        s = read_stats()
        ports = {p["name"]: p for p in s["ports"]}
        done = ports["in0"]["ipackets"] == want_in
        view = (s["stages"], s["connectors"], s["ports"])
        if done and view == prev:
            return s
        prev = view if done else None
        time.sleep(0.3)
    raise AssertionError(f"the trace of {want_in} frames never settled: {s}")

def compare(t, s):
    """Every stage, connector and port of the snapshot s, read by telemetry."""
    st_names = [x["name"] for x in s["stages"]]
    assert t("/sluice/stages") == st_names, (t("/sluice/stages"), st_names)
    for x in s["stages"]:
        y = t("/sluice/stage," + x["name"])
        for k in ("name", "type", "cluster", "core", "calls", "in", "cycles",
                  "timed_packets", "out", "drops"):
            assert y[k] == x[k], (x["name"], k, y[k], x[k])
        assert y.get("counters", {}) == x.get("counters", {}), (x["name"], y, x)
        assert y["out_total"] == sum(x["out"].values())
        assert y["drops_total"] == sum(x["drops"].values())
        assert y["in"] == y["out_total"] + y["drops_total"], y
        if x["timed_packets"]:
            assert abs(float(y["cycles_per_packet"]) - x["cycles"] / x["timed_packets"]) < 0.1, y
    assert t("/sluice/connectors") == [c["name"] for c in s["connectors"]]
    for c in s["connectors"]:
        y = t("/sluice/connector," + c["name"])
        for k, v in c.items():
            assert y[k] == v, (c["name"], k, y[k], v)
    assert t("/sluice/ports") == [p["name"] for p in s["ports"]]
    for p in s["ports"]:
        y = t("/sluice/port," + p["name"])
        for k, v in p.items():
            if k == "note":
                assert "".join(y["note"]) == v, (y["note"], v)
            elif k == "rx_queues" or k == "tx_queues":
                assert y[k] == v
            else:
                assert y[k] == v, (p["name"], k, y[k], v)
    cl = t("/sluice/clusters")
    assert sorted(c["name"] for c in cl.values()) == sorted(c["name"] for c in s["clusters"]), cl
    for c in s["clusters"]:
        assert cl[c["name"]]["core"] == c["core"] and cl[c["name"]]["moves"] == c["moves"], cl

t = Tel()
dp_pid = t.banner["pid"]  # run_dp's $! is timeout's, not sluice-dp's
assert read_stats()["pid"] == dp_pid and t.banner["version"].startswith("DPDK 22.11"), t.banner
cmds = t("/")
ours = ["/sluice/info", "/sluice/stages", "/sluice/stage", "/sluice/connectors",
        "/sluice/connector", "/sluice/clusters", "/sluice/ports", "/sluice/port"]
for c in ours + ["/ethdev/list", "/ethdev/stats", "/mempool/list"]:
    assert c in cmds, (c, cmds)
for c in ours:
    h = t("/help," + c)[c]
    assert isinstance(h, str) and len(h) > 10, (c, h)
print(f"ok: / lists {len(ours)} /sluice/ commands next to /ethdev/ and /mempool/, each with help")

s = first = settled(3000)
compare(t, s)
parse = t("/sluice/stage,parse")
assert parse["in"] == 3000, parse
info = t("/sluice/info")
assert info["name"] == name and info["pid"] == dp_pid and info["state"] == "running", info
assert info["version"] and info["dpdk_version"].startswith("DPDK 22.11"), info
assert info["epoch"] == s["epoch"] and info["config"] == s["config"], (info, s["config"])
assert t("/ethdev/list") == [0, 1], t("/ethdev/list")
assert t("/ethdev/stats,0")["ipackets"] == 3000
print(f"ok: stages, connectors, ports and clusters equal --read-stats (parse in {parse['in']})")

# Hostile parameters: null (a bad parameter) or an error dict (no such
# name), on the same connection, and the process stays up.
bad_param = ["/sluice/stage", "/sluice/stage,", "/sluice/stage," + "A" * 47 + "B",
             "/sluice/stage," + "x" * 1000, "/sluice/connector," + "y" * 500,
             "/sluice/port," + "p" * 2000]
for c in bad_param:
    r = json.loads(t.raw(c))
    assert list(r.values()) == [None], (c[:60], r)
unknown = ["/sluice/stage,nope", "/sluice/stage,parse ", "/sluice/stage,parse,tx",
           "/sluice/stage,pa\"rse", "/sluice/stage,pars\\e", "/sluice/connector,rx -> tx",
           "/sluice/port,in0\t", "/sluice/stage,\u00e9\u00e9", "/sluice/port,%s%n%s"]
for c in unknown:
    r = t(c)
    assert set(r) == {"error"} and "of that name" in r["error"], (c, r)
    assert "nope" not in r["error"] and "%" not in r["error"], r
for c in [b"/sluice/stage,\xff\xfe\x00abc", b"/sluice/stages,junk", b"/sluice/info,x" * 70,
          b"/sluice/port,in0" + b"\x00" * 100, b"/sluice/clusters," + b"," * 900]:
    try:
        t.raw(c)
    except OSError:
        t = Tel()  # telemetry may drop a client; the dataplane must not go
for _ in range(3):
    try:
        t.raw(b"/sluice/stage," + b"z" * 20000)
    except OSError:
        pass
    t = Tel()
os.kill(dp_pid, 0)
assert Tel()("/sluice/stage,parse")["in"] == 3000
print(f"ok: {len(bad_param)} bad parameters gave null, {len(unknown)} unknown names an error "
      "dict, binary and oversized requests left the dataplane up")

# A graph load while clients query: every reply is whole JSON, and the
# commands then read the new graph's segment.
stop = threading.Event()
errors, replies = [], [0]
def hammer():
    c = Tel()
    while not stop.is_set():
        try:
            for cmd in ("/sluice/stage,parse", "/sluice/info", "/sluice/clusters",
                        "/sluice/port,in0", "/sluice/stages"):
                r = c(cmd)
                assert r is not None, cmd
                replies[0] += 1
            time.sleep(0.002)  # a busy client, not a CPU hog on a shared box
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
            return
# One client at a time: DPDK 22.11's telemetry splits every request with
# strtok(), whose state all client threads share, so two clients querying at
# the same instant garble each other's parameters (DPDK fixed it after 22.11,
# commit 8440bba8ea "telemetry: fix thread-unsafe command parsing"). The
# race under test is this client's against the graph load.
threads = [threading.Thread(target=hammer)]
for th in threads:
    th.start()
ctl = socket.socket(socket.AF_UNIX)
ctl.settimeout(60)
ctl.connect(f"{tmp}/dp.sock")
f = ctl.makefile("rw")
def call(req, n=[0]):
    n[0] += 1
    req["id"] = n[0]
    f.write(json.dumps(req) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if r.get("id") == n[0]:
            return r
call({"cmd": "hello"})
time.sleep(0.5)
r = call({"cmd": "graph_load", "config": open(f"{tmp}/b.yaml").read(), "name": "b.yaml"})
assert r.get("ok"), r
time.sleep(0.5)
stop.set()
for th in threads:
    th.join(30)
assert not errors, errors
assert replies[0] > 10, replies
s = settled(2000)
assert [x["name"] for x in s["stages"]] != [x["name"] for x in first["stages"]], s["stages"]
compare(t, s)
w = t("/sluice/stage,work[1]")
assert w["type"] == "pass" and w["cluster"] == "egress" and w["in"] > 0, w
lb = t("/sluice/stage,lb")
assert w["in"] + t("/sluice/stage,work[0]")["in"] == lb["in"] > 0, (w, lb)
info = t("/sluice/info")
assert info["stages"] == len(s["stages"]) == 6 and info["config"] == "b.yaml", info
print(f"ok: {replies[0]} replies during a graph load, all whole; after it, the new graph "
      f"(work[1] in {w['in']}) equals --read-stats")
call({"cmd": "shutdown"})
PY
wait "$dp" || { cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
grep -q "cannot register" "$TMP/dp.log" && fail "a command was not registered"

# dpdk-telemetry.py, DPDK's own client, reads the same commands by prefix.
if command -v dpdk-telemetry.py > /dev/null; then
	run_dp -c "$TMP/a.yaml" --duration 30 > "$TMP/dp2.log" 2>&1 &
	dp=$!
	for _ in $(seq 200); do [ -S "$TEL" ] && "$DP" --read-stats "$PREFIX" > /dev/null 2>&1 && break; sleep 0.05; done
	printf '/sluice/stages\n/sluice/stage,parse\n' | timeout 20 dpdk-telemetry.py -f "$PREFIX" > "$TMP/py.out" ||
		fail "dpdk-telemetry.py failed"
	python3 - "$TMP/py.out" <<'PY' || { cat "$TMP/py.out"; fail "dpdk-telemetry.py output"; }
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert lines[0] == {"/sluice/stages": ["rx", "parse", "tx"]}, lines[0]
assert lines[1]["/sluice/stage"]["type"] == "parse", lines[1]
print("ok: dpdk-telemetry.py -f NAME lists the stages and reads parse")
PY
	kill -INT "$dp"
	wait "$dp" || { cat "$TMP/dp2.log"; fail "second run exited non-zero"; }
fi
echo "ok: telemetry"
