#!/usr/bin/env bash
# sluiced --metrics scraped by a real Prometheus (Debian's): a finite pcap
# replay through rx -> parse -> lb -> work[0..1] -> tx, so the counts stop;
# promtool accepts the exposition; after two scrapes Prometheus's
# sluice_stage_packets_total equals `sluicectl counters --json` for every
# stage instance; after a dataplane restart (which replays the file again)
# no series has reset and the totals have doubled. Also: the endpoint's 404
# and 405, and --metrics refusals (name, port in use) failing the start.
# Skips (77) only when prometheus cannot be installed.
. "$(dirname "$0")/lib.sh"

if ! [ -x /usr/bin/prometheus ] || ! [ -x /usr/bin/promtool ]; then
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive timeout 240 apt-get install -y -qq \
			--no-install-recommends prometheus > "$TMP/apt.log" 2>&1 || true
	fi
	if ! [ -x /usr/bin/prometheus ] || ! [ -x /usr/bin/promtool ]; then
		echo "SKIP: Debian's prometheus is not installed and could not be (tools/setup installs it)"
		exit 77
	fi
fi

"$SLUICED" --help | grep -q -- "--metrics HOST:PORT" || fail "sluiced --help does not document --metrics"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
MPORT=$(free_port)
PPORT=$(free_port)
[ "$MPORT" != "$PPORT" ] || PPORT=$(free_port)

N=20000
"$GEN" -o "$TMP/in.pcap" -n $N -f 64 > /dev/null
cat > "$TMP/c.yaml" <<YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_null1" }
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
  ingress: [rx, parse, lb]
  egress:  [work, tx]
mapping:
  ingress: { core: 0 }
  egress:  { core: 1 }
dataplane:
  name: $PREFIX
  cores: [0, 1]
YAML

# Refusals fail the start, naming the address, before anything runs.
refused() {
	local addr=$1 want=$2
	set +e
	timeout 30 "$SLUICED" -f -s "$TMP/r.sock" -c "$TMP/c.yaml" --metrics "$addr" 2> "$TMP/e"
	local rc=$?
	set -e
	[ $rc -eq 1 ] || fail "--metrics $addr: exit $rc, want 1"
	grep -qF -- "$want" "$TMP/e" || { cat "$TMP/e"; fail "--metrics $addr: want: $want"; }
	[ ! -e "$TMP/r.sock" ] || fail "--metrics $addr: sluiced listened anyway"
	echo "ok: --metrics $addr refused"
}
refused "localhost:$MPORT" "sluiced: --metrics localhost:$MPORT: 'localhost' is not a numeric IPv4 address"
refused "::1:$MPORT" "an IPv6 address goes in brackets"
refused "127.0.0.1:0" "the port must be a number from 1 to 65535"
refused "1.2.3:$MPORT" "'1.2.3' is not a numeric IPv4 address"
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(20)' "$MPORT" &
busy=$!
for _ in $(seq 100); do
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$MPORT" 2> /dev/null && break
	sleep 0.05
done
refused "127.0.0.1:$MPORT" "sluiced: --metrics 127.0.0.1:$MPORT: cannot listen there: Address already in use"
kill "$busy"
wait "$busy" 2> /dev/null || true

start_sluiced -c "$TMP/c.yaml" --metrics "127.0.0.1:$MPORT"
grep -q "serving metrics on http://127.0.0.1:$MPORT/metrics" "$TMP/sluiced.log" || fail "no serving line in the log"

# Until the replay has ended and the stages' counters have stopped (the
# clusters' idle polls and the reply's time go on).
settle() {
	local want=$1 prev="" cur
	for _ in $(seq 300); do
		cur=$(ctl --json counters stages | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["stages"]))')
		if [ "$cur" = "$prev" ] &&
			echo "$cur" | python3 -c 'import json,sys; v=json.load(sys.stdin); sys.exit(0 if v[0]["in"] == int(sys.argv[1]) else 1)' "$want"; then
			return 0
		fi
		prev=$cur
		sleep 0.3
	done
	echo "$cur"
	fail "the counters did not settle at $want"
}
settle $N
ctl --json counters stages | python3 -c 'import json,sys; v=json.load(sys.stdin); json.dump(v["stages"], open(sys.argv[1], "w"))' "$TMP/ctl.json"

# The endpoint itself: the text, promtool's verdict, 404 and 405.
python3 - "$MPORT" "$TMP/scrape.txt" <<'PY'
import sys, urllib.error, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
r = urllib.request.urlopen(base + "/metrics", timeout=10)
assert r.status == 200, r.status
ct = r.headers["Content-Type"]
assert ct.startswith("text/plain; version=0.0.4"), ct
open(sys.argv[2], "wb").write(r.read())
for method, path, code in (("GET", "/", 404), ("GET", "/metricsx", 404), ("POST", "/metrics", 405), ("PUT", "/metrics", 405)):
    try:
        urllib.request.urlopen(urllib.request.Request(base + path, method=method, data=b"x" if method != "GET" else None), timeout=10)
        raise SystemExit(f"{method} {path}: answered 200")
    except urllib.error.HTTPError as e:
        assert e.code == code, (method, path, e.code)
        if code == 405:
            assert e.headers["Allow"] == "GET, HEAD", e.headers["Allow"]
print("ok: GET /metrics 200 (text/plain; version=0.0.4), 404 elsewhere, 405 for other methods")
PY
promtool check metrics < "$TMP/scrape.txt" > "$TMP/promtool.txt" 2>&1 || { cat "$TMP/promtool.txt"; fail "promtool check metrics"; }
echo "ok: promtool check metrics passes ($(grep -vc '^#' "$TMP/scrape.txt") samples)"
grep -q '^sluice_up 1$' "$TMP/scrape.txt" || fail "sluice_up is not 1"
if grep -v '^#' "$TMP/scrape.txt" | grep -qE '[{,](instance|job)='; then fail "a label named instance or job"; fi

# A real Prometheus, on loopback, scraping every second.
cat > "$TMP/prom.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ["127.0.0.1:$MPORT"]
YAML
promtool check config "$TMP/prom.yml" > /dev/null || fail "promtool check config"
/usr/bin/prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" > "$TMP/prometheus.log" 2>&1 &

# query EXPR: the API's result vector, as JSON, on stdout.
query() {
	python3 - "$PPORT" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
u = f"http://127.0.0.1:{sys.argv[1]}/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
r = json.load(urllib.request.urlopen(u, timeout=5))
assert r["status"] == "success", r
json.dump(r["data"]["result"], sys.stdout)
PY
}
# Wait for N scrapes of a settled dataplane (bounded).
wait_scrapes() {
	local n=$1
	for _ in $(seq 120); do
		c=$(query "count_over_time(sluice_up[5m]) and sluice_up == 1" 2> /dev/null |
			python3 -c 'import json,sys; r=json.load(sys.stdin); print(int(float(r[0]["value"][1])) if r else 0)' 2> /dev/null || echo 0)
		[ "${c:-0}" -ge "$n" ] && return 0
		sleep 0.5
	done
	tail -20 "$TMP/prometheus.log"
	fail "Prometheus did not scrape sluiced $n times"
}
wait_scrapes 2
query 'up{job="sluice"}' | grep -q '"1"' || fail "Prometheus's up for sluice is not 1"

# compare: Prometheus's packets in and out per stage instance == sluicectl's.
compare() {
	query 'sluice_stage_packets_total' > "$TMP/prom.json"
	python3 - "$TMP/prom.json" "$TMP/ctl.json" "$1" <<'PY'
import json, sys
prom = json.load(open(sys.argv[1]))
ctl = json.load(open(sys.argv[2]))
want_total = int(sys.argv[3])
got = {}
for s in prom:
    m = s["metric"]
    assert m["job"] == "sluice" and m["instance"].startswith("127.0.0.1:"), m
    assert not any(k.startswith("exported_") for k in m), m
    key = (m["stage"], m["stage_instance"], m["direction"], m.get("port", ""))
    got[key] = int(float(s["value"][1]))
n = 0
for st in ctl:
    name, inst = st["name"], "0"
    if name.endswith("]"):
        name, inst = name[:-1].split("[")
    want = {(name, inst, "in", ""): st["in"]}
    for port, v in st["out"].items():
        want[(name, inst, "out", port)] = v
    for k, v in want.items():
        assert got.get(k) == v, f"{k}: Prometheus {got.get(k)}, sluicectl {v}"
        n += 1
assert got[("rx", "0", "in", "")] == want_total, got[("rx", "0", "in", "")]
assert got[("work", "0", "in", "")] + got[("work", "1", "in", "")] == got[("lb", "0", "in", "")]
print(f"ok: Prometheus agrees with sluicectl counters on {n} series (rx in {want_total})")
PY
}
compare $N

# A dataplane restart replays the file again: totals double, nothing resets.
ctl dataplane restart > /dev/null
for _ in $(seq 200); do
	ctl --json status | grep -q '"restarts": 1' && wait_running && break
	sleep 0.05
done
settle $((2 * N))
ctl --json counters stages | python3 -c 'import json,sys; v=json.load(sys.stdin); json.dump(v["stages"], open(sys.argv[1], "w"))' "$TMP/ctl.json"
# Two scrapes after the settle: the latest sample is a second newer than it.
after=$(python3 -c 'import time; print(time.time() + 1)')
for _ in $(seq 120); do
	ts=$(query 'timestamp(sluice_up)' | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["value"][1] if r else 0)')
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$ts" "$after" && break
	sleep 0.5
done
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$ts" "$after" ||
	fail "Prometheus did not scrape after the restart's counters settled"
compare $((2 * N))
query 'sluice_dataplane_restarts_total' | grep -q '"1"' || fail "sluice_dataplane_restarts_total is not 1"
resets=$(query 'sum(resets(sluice_stage_packets_total[5m])) + sum(resets(sluice_port_rx_packets_total[5m]))' |
	python3 -c 'import json,sys; print(int(float(json.load(sys.stdin)[0]["value"][1])))')
[ "$resets" = 0 ] || fail "$resets counter resets across the dataplane restart"
echo "ok: across a dataplane restart the totals doubled and no counter reset"

ctl shutdown > /dev/null
for _ in $(seq 100); do
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$MPORT" 2> /dev/null || break
	sleep 0.05
done
if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$MPORT" 2> /dev/null; then
	fail "the metrics port still listens after shutdown"
fi
echo "ok: the endpoint closes with sluiced"
