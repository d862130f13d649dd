#!/usr/bin/env bash
# flowstats against a real IPFIX collector: nfcapd (Debian's nfdump) listens
# on a free loopback port while sluice-dp replays a generated trace of many
# IPv4 and IPv6 flows, some VLAN-tagged, through rx -> parse -> flowstats ->
# tx. Shutdown reports every flow. Then nfdump's records, and the JSON
# lines, must hold exactly the flows, packets and IP bytes that tshark
# counts over the input; the IPFIX captured on lo must decode in tshark
# without an error, a warning (tshark checks the sequence numbers) or a
# malformed packet, and every message fits 1400 bytes. A second replay into
# a 256-flow table checks the one-packet lack-of-resources records, and a
# third, of 4,000,000 distinct flows into max_flows 4000000, that none is
# lost or merged.
. "$(dirname "$0")/lib.sh"

command -v nfcapd > /dev/null || fail "nfcapd not installed (tools/setup installs nfdump)"

PORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$TMP/nf"
nfcapd -w "$TMP/nf" -p "$PORT" -b 127.0.0.1 -t 3600 -B 8388608 > "$TMP/nfcapd.log" 2>&1 &
NFPID=$!
tcpdump -i lo -B 16384 -U -n -w "$TMP/ipfix.pcap" "udp port $PORT" > "$TMP/tcpdump.log" 2>&1 &
TDPID=$!
for _ in $(seq 100); do
	grep -q "listening on" "$TMP/tcpdump.log" && ss -uln | grep -q "127.0.0.1:$PORT " && break
	sleep 0.1
done
grep -q "listening on" "$TMP/tcpdump.log" || { cat "$TMP/tcpdump.log"; fail "tcpdump did not start"; }
ss -uln | grep -q "127.0.0.1:$PORT " || { cat "$TMP/nfcapd.log"; fail "nfcapd did not start"; }

"$GEN" -o "$TMP/in.pcap" -n 50000 -f 6000 --ipv6 0.3 --vlan 0.3 --reverse 0.3 -s imix --seed 10
TOTAL=50000

cat > "$TMP/p.yaml" << YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  out0: { driver: dpdk, devargs: "net_null1" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    parse: { type: parse }
    fs:    { type: flowstats, max_flows: 65536, observation_domain: 7,
             export: [ "ipfix://127.0.0.1:$PORT", "json:$TMP/flows.jsonl" ] }
    tx:    { type: port_tx, port: out0 }
  connectors:
    - rx -> parse -> fs -> tx
clusters:
  c: [rx, parse, fs, tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
YAML
run_dp -c "$TMP/p.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK account "$TMP/stats.json" "$TOTAL"

# Let the last datagrams land: on a busy machine tcpdump and nfcapd may still
# be reading their backlog. Wait until the capture stops growing and
# nfcapd's receive queue is empty, then stop both (nfcapd writes its file
# out on SIGTERM).
prev=-1 same=0
for _ in $(seq 100); do
	size=$(stat -c %s "$TMP/ipfix.pcap")
	queued=$(ss -Huln "sport = :$PORT" | awk '{ q += $2 } END { print q + 0 }')
	if [ "$size" = "$prev" ] && [ "$queued" = 0 ]; then
		same=$((same + 1))
		[ "$same" -ge 3 ] && break
	else
		same=0
	fi
	prev=$size
	sleep 0.3
done
kill -INT "$TDPID"
wait "$TDPID" || true
grep -q "^0 packets dropped by kernel" "$TMP/tcpdump.log" || { cat "$TMP/tcpdump.log"; fail "tcpdump dropped packets"; }
kill -TERM "$NFPID"
wait "$NFPID" || true
grep -q "Sequence Errors: 0," "$TMP/nfcapd.log" || { cat "$TMP/nfcapd.log"; fail "nfcapd saw sequence errors"; }

# The exact per-flow count over the input.
tshark -r "$TMP/in.pcap" -T fields -E separator=/t -E occurrence=f \
	-e vlan.id -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e ip.proto -e ipv6.nxt \
	-e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport \
	-e icmp.type -e icmp.code -e icmpv6.type -e icmpv6.code -e ip.len -e ipv6.plen \
	> "$TMP/in.tsv" 2> /dev/null
nfdump -R "$TMP/nf" -q -N -o csv > "$TMP/nf.csv" || fail "nfdump could not read nfcapd's files"
tshark -r "$TMP/ipfix.pcap" -d "udp.port==$PORT,cflow" -T fields -e frame.number -e udp.length \
	-e cflow.od_id -e cflow.flow_end_reason > "$TMP/ipfix.tsv" 2> /dev/null
tshark -r "$TMP/ipfix.pcap" -d "udp.port==$PORT,cflow" -T fields -e frame.number \
	-Y "_ws.malformed || _ws.expert.severity >= 6291456 || !cflow" > "$TMP/ipfix-bad.tsv" 2> /dev/null

python3 - "$TMP" << 'PY'
import collections, ipaddress, json, sys
tmp = sys.argv[1]

def ip(s):
    return str(ipaddress.ip_address(s))

want = collections.defaultdict(lambda: [0, 0])
for line in open(f"{tmp}/in.tsv"):
    (vlan, s4, d4, s6, d6, p4, p6, ts, td, us, ud, it, ic, i6t, i6c, l4, pl6) = \
        line.rstrip("\n").split("\t")
    proto = int(p4 or p6)
    sport = int(ts or us or 0)
    dport = int(td or ud or 0)
    if proto in (1, 58):
        sport, dport = 0, int(it or i6t) << 8 | int(ic or i6c)
    key = (int(vlan or 0), ip(s4 or s6), ip(d4 or d6), sport, dport, proto)
    want[key][0] += 1
    want[key][1] += int(l4) if l4 else 40 + int(pl6)
assert sum(v[0] for v in want.values()) == 50000
v6 = sum(1 for k in want if ":" in k[1])
tagged = sum(1 for k in want if k[0])
assert v6 > 500 and tagged > 500, (v6, tagged)
json.dump([list(k) + v for k, v in want.items()], open(f"{tmp}/want.json", "w"))

NAMES = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMP6": 58}
got = collections.defaultdict(lambda: [0, 0])
n_nf = 0
for line in open(f"{tmp}/nf.csv"):
    f = [x.strip() for x in line.split(",")]
    if len(f) < 27 or not f[0][:1].isdigit():
        continue
    n_nf += 1
    proto = NAMES.get(f[7]) or int(f[7])
    key = (int(f[25]), ip(f[3]), ip(f[4]), int(f[5]), int(f[6]), proto)
    got[key][0] += int(f[11])
    got[key][1] += int(f[12])
if dict(got) != dict(want):
    missing = [k for k in want if k not in got][:5]
    extra = [k for k in got if k not in want][:5]
    wrong = [(k, want[k], got[k]) for k in want if k in got and got[k] != want[k]][:5]
    sys.exit(f"nfdump disagrees with tshark: {len(want)} flows wanted, {len(got)} got; "
             f"missing {missing} extra {extra} wrong {wrong}")
assert n_nf == len(want), f"{n_nf} nfdump records for {len(want)} flows (split or merged)"
print(f"ok: nfdump shows {len(want)} flows ({v6} IPv6, {tagged} tagged), "
      f"{sum(v[0] for v in want.values())} packets, {sum(v[1] for v in want.values())} bytes, as tshark counts")

js = collections.defaultdict(lambda: [0, 0])
reasons = collections.Counter()
n_js = 0
for line in open(f"{tmp}/flows.jsonl"):
    r = json.loads(line)
    n_js += 1
    v = "IPv6" if "sourceIPv6Address" in r else "IPv4"
    key = (r["vlanId"], ip(r[f"source{v}Address"]), ip(r[f"destination{v}Address"]),
           r["sourceTransportPort"], r["destinationTransportPort"], r["protocolIdentifier"])
    js[key][0] += r["packetDeltaCount"]
    js[key][1] += r["octetDeltaCount"]
    assert r["observationDomainId"] == 7, r
    assert r["flowStartMilliseconds"] <= r["flowEndMilliseconds"], r
    reasons[r["flowEndReason"]] += 1
assert dict(js) == dict(want), "the JSON lines disagree with tshark"
assert n_js == len(want), (n_js, len(want))
assert set(reasons) == {4}, f"short trace, long timeouts: every flow ends forced at shutdown {reasons}"
print(f"ok: the JSON export agrees ({n_js} lines, end reason 4 at shutdown)")

msgs = recs = 0
for line in open(f"{tmp}/ipfix.tsv"):
    num, ulen, od, er = line.rstrip("\n").split("\t")
    msgs += 1
    assert int(ulen) - 8 <= 1400, f"IPFIX message of {int(ulen) - 8} bytes"
    assert od == "7", line
    recs += len([x for x in er.split(",") if x])
bad = open(f"{tmp}/ipfix-bad.tsv").read().split()
assert not bad, f"tshark flags IPFIX messages {bad[:10]} as malformed, in error or warned about"
assert recs == len(want), f"tshark decoded {recs} data records, {len(want)} flows exported"
print(f"ok: tshark decodes all {msgs} IPFIX messages ({recs} records), none over 1400 bytes")

# The final counters are read after the stage's fini flushed the table.
st = {x["name"]: x for x in json.load(open(f"{tmp}/stats.json"))["stages"]}["fs"]["counters"]
assert st["flows"] == 0, st
for k in ("records", "exported", "json_lines"):
    assert st[k] == len(want), (k, st)
assert st["ipfix_messages"] == msgs, (msgs, st)
for k in ("records_lost", "table_full", "non_ip", "unparsed", "ipfix_send_errors",
          "json_write_errors"):
    assert st[k] == 0, (k, st)
PY

# A table far smaller than the trace: flows that find it full are reported
# packet by packet (reason 5, lack of resources), so per flow the records
# still add up to exactly what tshark counts.
sed -e 's/max_flows: 65536, observation_domain: 7,/max_flows: 256,/' \
	-e "s|export: \[ .* \]|export: [ \"json:$TMP/full.jsonl\" ]|" "$TMP/p.yaml" > "$TMP/full.yaml"
grep -q "max_flows: 256" "$TMP/full.yaml" || fail "could not make the small-table config"
run_dp -c "$TMP/full.yaml" --idle-exit 1 --stats-json "$TMP/full-stats.json" > "$TMP/dp2.log" 2>&1 ||
	{ cat "$TMP/dp2.log"; fail "sluice-dp (small table) exited non-zero"; }
python3 - "$TMP" << 'PY'
import collections, ipaddress, json, sys
tmp = sys.argv[1]
want = {tuple(x[:6]): x[6:] for x in json.load(open(f"{tmp}/want.json"))}
got = collections.defaultdict(lambda: [0, 0])
reasons = collections.Counter()
for line in open(f"{tmp}/full.jsonl"):
    r = json.loads(line)
    v = "IPv6" if "sourceIPv6Address" in r else "IPv4"
    key = (r["vlanId"], str(ipaddress.ip_address(r[f"source{v}Address"])),
           str(ipaddress.ip_address(r[f"destination{v}Address"])),
           r["sourceTransportPort"], r["destinationTransportPort"], r["protocolIdentifier"])
    got[key][0] += r["packetDeltaCount"]
    got[key][1] += r["octetDeltaCount"]
    reasons[r["flowEndReason"]] += 1
    if r["flowEndReason"] == 5:
        assert r["packetDeltaCount"] == 1, r
assert dict(got) == want, "with a full table the records no longer add up to tshark's count"
st = {x["name"]: x for x in json.load(open(f"{tmp}/full-stats.json"))["stages"]}["fs"]["counters"]
assert st["records"] == st["exported"] == sum(reasons.values()), (reasons, st)
assert reasons[5] == st["table_full"] > 0, (reasons, st)
assert reasons[4] == 256, reasons
assert set(reasons) == {4, 5}, reasons
print(f"ok: a 256-flow table: {reasons[4]} records ended at shutdown, {reasons[5]} one-packet "
      f"records for lack of resources, per flow the same packets and bytes as tshark")
PY

# Capacity: max_flows 4,000,000 and a trace of exactly 4,000,000 distinct
# flows (one 60-byte packet each; IPv4 and IPv6, a third tagged): every flow
# gets its own record, none is lost to a full table or ring, none merged.
# Without hugepages (the table alone is about 440 MB), so the test does not
# take the machine's reserve.
python3 - "$TMP/big.pcap" << 'PY'
import struct, sys
N = 4000000
out = open(sys.argv[1], "wb", buffering=1 << 22)
out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
eth = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02"
for i in range(N):
    tag = struct.pack("!HH", 0x8100, 1 + i % 4000) if i % 3 == 0 else b""
    udp = struct.pack("!HHHH", 1000 + i % 50000, 53, 16, 0) + bytes(8)
    if i % 4 == 0:
        ip = (struct.pack("!IHBB", 0x60000000, 16, 17, 64) + b"\xfd" + bytes(11) +
              struct.pack("!I", i) + b"\xfd" + bytes(14) + b"\x01")
        f = eth + tag + b"\x86\xdd" + ip + udp
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 36, 0, 0, 64, 17, 0,
                         struct.pack("!I", 10 << 24 | i), b"\xc0\xa8\0\x01")
        f = eth + tag + b"\x08\x00" + ip + udp
    f += bytes(max(0, 60 - len(f)))
    out.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(f), len(f)) + f)
PY
cat > "$TMP/big.yaml" << YAML
ports:
  in0:  { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/big.pcap" }
  out0: { driver: dpdk, devargs: "net_null1" }
graph:
  stages:
    rx:    { type: port_rx, port: in0 }
    parse: { type: parse }
    fs:    { type: flowstats, max_flows: 4000000, idle_timeout: 3600, active_timeout: 3600,
             export: [ "ipfix://127.0.0.1:$PORT" ] }
    tx:    { type: port_tx, port: out0 }
  connectors:
    - rx -> parse -> fs -> tx
clusters:
  c: [rx, parse, fs, tx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
YAML
DP_TIMEOUT=200 run_dp -c "$TMP/big.yaml" --no-huge --mem 1500 --idle-exit 2 \
	--stats-json "$TMP/big-stats.json" > "$TMP/dp3.log" 2>&1 ||
	{ cat "$TMP/dp3.log"; fail "sluice-dp (4M flows) exited non-zero"; }
rm -f "$TMP/big.pcap"
python3 - "$TMP/big-stats.json" << 'PY'
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))["stages"]}["fs"]
c = s["counters"]
assert s["in"] == 4000000, s
assert c["records"] == c["exported"] == 4000000, c
for k in ("records_lost", "table_full", "non_ip", "unparsed", "end_idle", "end_active", "end_fin_rst"):
    assert c[k] == 0, (k, c)
print(f"ok: max_flows 4000000: 4000000 distinct flows, 4000000 records, none lost or merged")
PY
