#!/usr/bin/env bash
# The bpf stage runs the example program (config/examples/steer.bpf.c, built
# by meson into $SLUICE_BUILD/config/examples/steer.bpf.o) over a generated
# trace (pktgen.py: VLAN, QinQ, IPv4, IPv6, TCP, UDP, ICMP, jumbo frames in
# chained mbufs, malformed frames): each output pcap holds exactly the frames
# a Python model of the program sends there, in order. With outputs: 3 the
# program's verdict 3 (ICMP) is out of range: counted as out_of_range drops.
# Missing, garbage, non-eBPF, mbuf-writing and raw-data-reading objects, and
# a missing section, are refused with a clear error at the stage's place. A
# program with a small-constant jset runs in the interpreter, with the right
# verdicts.
. "$(dirname "$0")/lib.sh"

OBJ="${SLUICE_STEER_BPF:-$SLUICE_BUILD/config/examples/steer.bpf.o}"
[ -f "$OBJ" ] || fail "no $OBJ: build the tree first (ninja -C build)"
python3 "$SLUICE_SRC/tests/integration/pktgen.py" "$TMP/in.pcap" --seed 3 > /dev/null

bpf_config() { # OBJECT SECTION OUTPUTS
	cat <<YAML
ports:
  in0: { driver: dpdk, devargs: "net_pcap0,rx_pcap=$TMP/in.pcap" }
YAML
	for i in $(seq 0 $(($3 - 1))); do
		echo "  o$i: { driver: dpdk, devargs: \"net_pcap$((i + 1)),tx_pcap=$TMP/out$i.pcap\" }"
	done
	cat <<YAML
graph:
  stages:
    rx: { type: port_rx, port: in0 }
    b:  { type: bpf, object: "$1", section: $2, outputs: $3 }
YAML
	for i in $(seq 0 $(($3 - 1))); do echo "    tx$i: { type: port_tx, port: o$i }"; done
	echo "  connectors:"
	echo "    - rx -> b"
	for i in $(seq 0 $(($3 - 1))); do echo "    - b.out$i -> tx$i"; done
	cat <<YAML
clusters:
  c: [rx, b$(for i in $(seq 0 $(($3 - 1))); do echo -n ", tx$i"; done)]
mapping:
  c: { core: 0 }
dataplane:
  name: $PREFIX
  cores: [0]
  ring_size: 8192
YAML
}

for n in 4 3; do
	rm -f "$TMP"/out*.pcap
	bpf_config "$OBJ" steer "$n" > "$TMP/b.yaml"
	"$DP" --check -c "$TMP/b.yaml" > /dev/null || fail "outputs $n: --check failed"
	run_dp -c "$TMP/b.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
		{ cat "$TMP/dp.log"; fail "outputs $n: sluice-dp exited non-zero"; }
	grep -q "interpreter" "$TMP/dp.log" && echo "note: no JIT here, the interpreter ran"
	python3 - "$SLUICE_SRC/tests/integration" "$TMP" "$n" <<'PY'
import json
import sys
sys.path.insert(0, sys.argv[1])
import pktgen
tmp, n = sys.argv[2], int(sys.argv[3])


def steer(f):
    """The model of steer.bpf.c: 1 TCP, 2 UDP, 3 ICMP/ICMPv6, else 0; a
    load past the frame's end ends the program with 0."""
    def half(o):
        if o + 2 > len(f):
            raise IndexError
        return f[o] << 8 | f[o + 1]
    try:
        t, off = half(12), 14
        for _ in range(2):
            if t not in (0x8100, 0x88a8):
                break
            t, off = half(off + 2), off + 4
        if t == 0x0800:
            o = off + 9
        elif t == 0x86dd:
            o = off + 6
        else:
            return 0
        if o >= len(f):
            return 0
        return {6: 1, 17: 2, 1: 3, 58: 3}.get(f[o], 0)
    except IndexError:
        return 0


inp = pktgen.read_pcap(f"{tmp}/in.pcap")
want = [[] for _ in range(4)]
for f in inp:
    want[steer(f)].append(f)
for i in range(n):
    got = pktgen.read_pcap(f"{tmp}/out{i}.pcap")
    if got != want[i]:
        bad = next((k for k, (g, w) in enumerate(zip(got, want[i])) if g != w), None)
        sys.exit(f"FAIL: outputs {n}: out{i} has {len(got)} frames, the model {len(want[i])}"
                 f" (first difference at {bad})")
st = {x["name"]: x for x in json.load(open(f"{tmp}/stats.json"))["stages"]}["b"]
assert st["in"] == len(inp), st
oor = st["drops"].get("out_of_range", 0)
exp_oor = sum(len(w) for w in want[n:])
assert oor == exp_oor, f"out_of_range {oor}, the model says {exp_oor}: {st}"
assert st["in"] == sum(st["out"].values()) + sum(st["drops"].values()), st
print(f"ok: outputs {n}: " + ", ".join(f"out{i} {len(want[i])}" for i in range(n)) +
      f", out_of_range {oor}: as the model")
PY
done

# Refusals: each names the stage's place and says what is wrong.
refuse() { # WANT OBJECT [SECTION]
	bpf_config "$2" "${3:-steer}" 2 > "$TMP/bad.yaml"
	local line
	line=$(grep -n "type: bpf" "$TMP/bad.yaml" | cut -d: -f1)
	if run_dp -c "$TMP/bad.yaml" --duration 1 > "$TMP/bad.txt" 2>&1; then
		cat "$TMP/bad.txt"; fail "ran with $2 ${3:-}"
	fi
	grep -F -- "$1" "$TMP/bad.txt" | grep -q "bad.yaml:$line:" ||
		{ cat "$TMP/bad.txt"; fail "want '$1' at bad.yaml:$line for $2 ${3:-}"; }
	echo "ok: refused: $(grep -F -- "$1" "$TMP/bad.txt" | head -1)"
}
refuse "$TMP/missing.o" "$TMP/missing.o"
head -c 4096 /dev/urandom > "$TMP/garbage.o"
refuse "not a 64-bit ELF object" "$TMP/garbage.o"
: > "$TMP/empty.o"
refuse "0 bytes" "$TMP/empty.o"
refuse "no section 'nosuch'" "$OBJ" nosuch
echo 'int f(void) { return 1; }' > "$TMP/x86.c"
cc -c "$TMP/x86.c" -o "$TMP/x86.o"
refuse "not eBPF" "$TMP/x86.o"
cat > "$TMP/poke.c" <<'C'
__attribute__((section("steer"), used)) unsigned long long poke(void *mbuf)
{
	*(volatile unsigned int *)((char *)mbuf + 36) = 1; /* pkt_len */
	return 0;
}
C
clang -target bpf -O2 -c "$TMP/poke.c" -o "$TMP/poke.o"
refuse "may write only its stack" "$TMP/poke.o"
# Reading the packet through buf_addr (past pkt_len's bounds) is left to
# rte_bpf's verifier, which is told the data area has no size.
cat > "$TMP/raw.c" <<'C'
__attribute__((section("steer"), used)) unsigned long long raw(void *mbuf)
{
	unsigned char *d = *(unsigned char **)mbuf; /* buf_addr */
	return d[128];
}
C
clang -target bpf -O2 -c "$TMP/raw.c" -o "$TMP/raw.o"
refuse "rte_bpf refused section 'steer'" "$TMP/raw.o"

# A second section of the same name (one harmless and not executable, one
# that writes the mbuf): which would run is not clear, so neither does.
llvm-objcopy --add-section steer="$TMP/raw.o" --set-section-flags steer=readonly "$OBJ" "$TMP/two.o" 2> /dev/null ||
	cp "$TMP/raw.o" "$TMP/two.o"
if [ "$(llvm-readelf -S "$TMP/two.o" | grep -c ' steer ')" -ge 2 ]; then
	refuse "2 sections named 'steer'" "$TMP/two.o"
else
	echo "note: llvm-objcopy made no second section; the duplicate check is covered by test_stage_api"
fi

# A load at a negative constant offset is refused; one at an index that
# wraps below 0 (2^32 - 1 passes rte_pktmbuf_read's check, then walks off
# the segment chain) is guarded: the program ends with 0 there.
cat > "$TMP/neg.c" <<'C'
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
__attribute__((section("steer"), used)) unsigned long long neg(void *m)
{
	return load_byte(m, -1);
}
C
clang -target bpf -O2 -c "$TMP/neg.c" -o "$TMP/neg.o"
refuse "negative offset" "$TMP/neg.o"
cat > "$TMP/wrap.c" <<'C'
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
__attribute__((section("steer"), used)) unsigned long long wrap(void *m)
{
	/* Byte 12 of an untagged IPv4 frame is 8: the index is 2^32 - 1. */
	return 1 + load_byte(m, (unsigned int)(load_byte(m, 12) - 9));
}
C
clang -target bpf -O2 -c "$TMP/wrap.c" -o "$TMP/wrap.o"
bpf_config "$TMP/wrap.o" steer 2 > "$TMP/w.yaml"
run_dp -c "$TMP/w.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "a wrapping index crashed or failed the dataplane"; }
$CHECK account "$TMP/stats.json"
echo "ok: an index that wraps below 0 ends the program, the dataplane runs on"

# A program testing bits with a small constant (jset #4, which DPDK 22.11's
# x86 JIT mis-encodes) runs in the interpreter, with a warning, and still
# gives the right verdicts. clang writes no jset for this source, so the
# test turns its `if r1 == 90` into `if r1 & 4`.
cat > "$TMP/jset.c" <<'C'
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
__attribute__((section("steer"), used)) unsigned long long bits(void *mbuf)
{
	if (load_byte(mbuf, 13) == 0x5a)
		return 1;
	return 2;
}
C
clang -target bpf -O2 -c "$TMP/jset.c" -o "$TMP/jset.o"
python3 - "$TMP/jset.o" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
old = bytes.fromhex("15010100" "5a000000")  # if r1 == 0x5a goto +1
assert b.count(old) == 1, "clang wrote other code than expected"
open(sys.argv[1], "wb").write(b.replace(old, bytes.fromhex("45010100" "04000000")))
PY
rm -f "$TMP"/out*.pcap
bpf_config "$TMP/jset.o" steer 3 > "$TMP/j.yaml"
run_dp -c "$TMP/j.yaml" --idle-exit 1 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "jset program: sluice-dp exited non-zero"; }
grep -q "jset imm8.*interpreter" "$TMP/dp.log" || { cat "$TMP/dp.log"; fail "no interpreter warning"; }
python3 - "$SLUICE_SRC/tests/integration" "$TMP" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import pktgen
tmp = sys.argv[2]
want = [[], [], []]
for f in pktgen.read_pcap(f"{tmp}/in.pcap"):
    want[0 if len(f) < 14 else 1 if f[13] & 4 else 2].append(f)
for i in range(3):
    got = pktgen.read_pcap(f"{tmp}/out{i}.pcap")
    assert got == want[i], f"jset program: out{i} has {len(got)} frames, the model {len(want[i])}"
print("ok: a jset #4 program runs in the interpreter, with a warning: " +
      ", ".join(f"out{i} {len(want[i])}" for i in range(3)) + ", as the model")
PY
