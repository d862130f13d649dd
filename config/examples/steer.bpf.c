/* steer.bpf.c: the example program of the `bpf` stage (config/examples/
 * bpf.yaml): steers each packet by its IP protocol. Returns 1 for TCP, 2 for
 * UDP, 3 for ICMP and ICMPv6, and 0 for anything else (not IP, another
 * protocol, or a frame too short to tell), after up to two VLAN tags (0x8100
 * or 0x88a8). For IPv6 it looks only at the fixed header's next header.
 *
 * The stage hands the program the packet's mbuf; packet bytes are read with
 * the BPF_LD_ABS/IND loads (LLVM's llvm.bpf.load.* intrinsics), which are
 * bounded by the packet's length: a load past the end ends the program with
 * return value 0. Build: clang -target bpf -O2 -c steer.bpf.c (meson does). */

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

__attribute__((section("steer"), used)) unsigned long long steer_by_proto(void *mbuf)
{
	unsigned long long off = 14;
	unsigned long long type = load_half(mbuf, 12);
	unsigned long long proto;

	/* Unrolled: rte_bpf's verifier takes no loops. */
	if (type == 0x8100 || type == 0x88a8) {
		type = load_half(mbuf, off + 2);
		off += 4;
		if (type == 0x8100 || type == 0x88a8) {
			type = load_half(mbuf, off + 2);
			off += 4;
		}
	}
	if (type == 0x0800)
		proto = load_byte(mbuf, off + 9);
	else if (type == 0x86dd)
		proto = load_byte(mbuf, off + 6);
	else
		return 0;
	if (proto == 6)
		return 1;
	if (proto == 17)
		return 2;
	if (proto == 1 || proto == 58)
		return 3;
	return 0;
}
