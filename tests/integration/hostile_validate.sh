#!/usr/bin/env bash
# Issue 7, items 1-4, end to end: the configs that hung or killed sluiced's
# event loop (a libfyaml directive loop, unbounded recursion, quadratic
# checks) are sent as `graph validate` and `graph load` requests to a
# running sluiced. Each is refused with its place within the time bound,
# another client's `status` answers while they are processed, and the
# running graph and dataplane are untouched.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/a.yaml"
start_sluiced -c "$TMP/a.yaml"
pid=$(dp_pid)
ctl graph show > "$TMP/before.txt"

python3 - "$TMP/s.sock" <<'PY'
import json, socket, sys, threading, time
path = sys.argv[1]

def call(req, timeout=10):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)

keys = lambda n: "".join(f"k{i}: 1\n" for i in range(n))
chain = lambda n: ("ports:\n  in0: { driver: dpdk, devargs: \"net_null0\" }\n"
                   "  out0: { driver: dpdk, devargs: \"net_null1\" }\ngraph:\n  stages:\n"
                   "    rx: { type: port_rx, port: in0 }\n    tx: { type: port_tx, port: out0 }\n"
                   + "".join(f"    p{i}: {{ type: pass }}\n" for i in range(n))
                   + "  connectors:\n    - rx" + "".join(f" -> p{i}" for i in range(n)) + " -> tx\n"
                   + "clusters:\n  a: [rx, tx]\nmapping:\n  a: { core: 0 }\n")
cases = [
    ("directive U+009F", "%\u009f", "h.yaml:1:"),
    ("directive U+00FF", "%\u00ff\n", "h.yaml:1:"),
    ("200 KB of [", "[" * 200000, "too deeply nested"),
    ("25k keys", keys(25000), "h.yaml:1:1: unknown key 'k0'"),
    ("a 5000-stage chain", chain(5000), "'stages' holds 5002 stages; at most 4096"),
    ("300 KiB", "#" * (300 * 1024), "262144"),
    ("two documents", "a: 1\n---\nb: 2\n", "h.yaml:2:1: a config holds one YAML document"),
]
done = threading.Event()
status_ms = []

def prober():
    while not done.is_set():
        t = time.monotonic()
        r = call({"cmd": "status"}, timeout=5)
        assert r["ok"], r
        status_ms.append((time.monotonic() - t) * 1000)
        time.sleep(0.02)

th = threading.Thread(target=prober)
th.start()
try:
    for name, text, want in cases:
        for cmd in ("graph_validate", "graph_load"):
            t = time.monotonic()
            r = call({"cmd": cmd, "config": text, "name": "h.yaml"})
            ms = (time.monotonic() - t) * 1000
            assert not r["ok"], (name, cmd, r)
            msg = r["error"]["message"]
            assert r["error"]["code"] == "invalid_config", (name, r)
            assert want in msg, (name, cmd, msg)
            print(f"ok: {cmd} {name}: refused in {ms:.0f} ms: {msg[:90]}")
finally:
    done.set()
    th.join()
print(f"ok: {len(status_ms)} status calls answered meanwhile, slowest {max(status_ms):.0f} ms")
PY
ctl graph show > "$TMP/after.txt"
diff "$TMP/before.txt" "$TMP/after.txt" || fail "a refused config changed the graph"
[ "$(dp_pid)" = "$pid" ] || fail "the dataplane restarted"
ctl --json status | grep -q '"restarts": 0' || fail "restarts counted"
