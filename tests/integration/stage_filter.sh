#!/usr/bin/env bash
# The filter stage agrees with tcpdump, packet by packet: for each of the
# expressions below, sluice-dp (net_pcap -> filter, match and miss each to a
# pcap of its own) over a generated trace (pktgen.py: VLAN, QinQ, IPv4
# options and fragments, IPv6 extension headers, TCP flags, sizes up to
# jumbo frames in chained mbufs, and malformed frames) puts exactly the
# frames `tcpdump -r in.pcap -w exp.pcap EXPR` selects, in order, on match,
# and exactly the rest on miss. An invalid expression is refused with
# libpcap's message at the place of `expr`.
. "$(dirname "$0")/lib.sh"

EXPRS=(
	"tcp dst port 80 and not net 10.0.0.0/8"
	"vlan and tcp"
	"vlan 100"
	"vlan and vlan and udp"
	"vlan 300 and vlan 100 and ip"
	"vlan 200 or (vlan and ip6)"
	"ip6 and tcp"
	"ip6 and ip6[6] = 60"
	"ip6 proto 44 or ip6 proto 0"
	"ip6 dst net 2001:db8::/32 and udp"
	"ip[6:2] & 0x1fff != 0"
	"ip[6] & 0x20 != 0 and ip[6:2] & 0x1fff = 0"
	"tcp[tcpflags] & tcp-syn != 0"
	"tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
	"vlan and tcp[tcpflags] & tcp-rst != 0"
	"tcp[13] = 0x12 or udp[4:2] > 20"
	"greater 1000"
	"less 100"
	"greater 200 and less 600"
	"net 192.168.0.0/16"
	"src net 10.0.0.0/8 and not dst host 8.8.8.8"
	"port 53"
	"portrange 1000-6000"
	"not ip and not ip6"
	"not tcp"
	"ether host 00:16:3e:11:22:33"
	"ether broadcast or ether multicast"
	"icmp or icmp6"
	"ip and ip[0] & 0xf > 5"
	"ip[2:2] - ((ip[0] & 0xf) << 2) > 30"
	"arp or ether proto 0x88cc"
	"ip[8] = 1 or ip[1] & 0xfc = 0xb8"
)

python3 "$SLUICE_SRC/tests/integration/pktgen.py" "$TMP/in.pcap" --seed 9 > /dev/null
total=$(python3 -c "import sys; sys.path.insert(0, '$SLUICE_SRC/tests/integration'); import pktgen; print(len(pktgen.read_pcap('$TMP/in.pcap')))")

filter_config() { # EXPR
	cat <<YAML
ports:
  in0: { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
  m0:  { driver: dpdk, devargs: "net_pcap1,tx_pcap=$TMP/match.pcap" }
  x0:  { driver: dpdk, devargs: "net_pcap2,tx_pcap=$TMP/miss.pcap" }
graph:
  stages:
    rx:  { type: port_rx, port: in0 }
    f:   { type: filter, expr: "$1" }
    txm: { type: port_tx, port: m0 }
    txx: { type: port_tx, port: x0 }
  connectors:
    - rx -> f.match -> txm
    - f.miss -> txx
clusters:
  c: [rx, f, txm, txx]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
  ring_size: 8192
YAML
}

for e in "${EXPRS[@]}"; do
	rm -f "$TMP/match.pcap" "$TMP/miss.pcap"
	filter_config "$e" > "$TMP/f.yaml"
	run_dp -c "$TMP/f.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
		{ cat "$TMP/dp.log"; fail "'$e': sluice-dp exited non-zero"; }
	grep -q "interpreter" "$TMP/dp.log" && echo "note: no JIT here, the interpreter ran"
	tcpdump -r "$TMP/in.pcap" -w "$TMP/exp.pcap" "$e" 2> /dev/null || fail "tcpdump refused '$e'"
	$CHECK account "$TMP/stats.json" "$total" > /dev/null
	python3 - "$SLUICE_SRC/tests/integration" "$TMP" "$e" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import pktgen
tmp, expr = sys.argv[2], sys.argv[3]
inp = pktgen.read_pcap(f"{tmp}/in.pcap")
exp = pktgen.read_pcap(f"{tmp}/exp.pcap")
got_m = pktgen.read_pcap(f"{tmp}/match.pcap")
got_x = pktgen.read_pcap(f"{tmp}/miss.pcap")
# tcpdump's selection is a subsequence of the input; a filter's verdict
# depends on the bytes alone, so matching it greedily labels every frame.
want_m, want_x, k = [], [], 0
for f in inp:
    if k < len(exp) and exp[k] == f:
        want_m.append(f)
        k += 1
    else:
        want_x.append(f)
assert k == len(exp), f"{expr}: tcpdump's output is not a subsequence of the input"


def diff(name, got, want):
    if got == want:
        return
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            sys.exit(f"FAIL: '{expr}': {name} frame {i} differs from tcpdump's: "
                     f"got {g[:64].hex()} want {w[:64].hex()} ({len(got)} vs {len(want)} frames)")
    sys.exit(f"FAIL: '{expr}': {name} has {len(got)} frames, tcpdump says {len(want)}")


diff("match", got_m, want_m)
diff("miss", got_x, want_x)
print(f"ok: '{expr}': {len(want_m)} match, {len(want_x)} miss, as tcpdump")
PY
done

# An invalid expression: refused at check time, at expr, with libpcap's words.
filter_config "tcp and and port 80" > "$TMP/bad.yaml"
line=$(grep -n "type: filter" "$TMP/bad.yaml" | cut -d: -f1)
if "$DP" --check -c "$TMP/bad.yaml" > "$TMP/bad.txt" 2>&1; then fail "an invalid expression passed --check"; fi
grep -Eq "bad.yaml:$line:[0-9]+: .*syntax error" "$TMP/bad.txt" ||
	{ cat "$TMP/bad.txt"; fail "the refusal does not give libpcap's message at expr"; }
echo "ok: $(cat "$TMP/bad.txt")"
# protochain compiles to a loop, which rte_bpf cannot run: said at check time.
filter_config "ip6 protochain 17" > "$TMP/bad.yaml"
if "$DP" --check -c "$TMP/bad.yaml" > "$TMP/bad.txt" 2>&1; then fail "protochain passed --check"; fi
grep -Eq "bad.yaml:$line:[0-9]+: .*loop" "$TMP/bad.txt" || { cat "$TMP/bad.txt"; fail "protochain: no reason"; }
echo "ok: $(cat "$TMP/bad.txt")"
filter_config "tcp port 99999" > "$TMP/bad.yaml"
if "$DP" --check -c "$TMP/bad.yaml" > "$TMP/bad.txt" 2>&1; then fail "port 99999 passed --check"; fi
grep -Eq "bad.yaml:$line:[0-9]+: .*port.*99999" "$TMP/bad.txt" ||
	{ cat "$TMP/bad.txt"; fail "the refusal does not give libpcap's message at expr"; }
echo "ok: $(cat "$TMP/bad.txt")"
