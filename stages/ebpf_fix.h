/* ebpf_fix.h: rewrites an eBPF program before rte_bpf (DPDK 22.11) loads
 * it, round that version's faults, for the filter and bpf stages alike.
 * Instructions may be inserted; jump offsets are recomputed round them. */
#ifndef SL_EBPF_FIX_H
#define SL_EBPF_FIX_H

#include <stddef.h>
#include <stdint.h>

#include <rte_bpf.h>

/* Programs longer than this are refused (each instruction costs a packet
 * time; rte_bpf itself sets no bound). */
#define SL_EBPF_INSNS_MAX 32768

enum {
	/* cBPF converted by rte_bpf_convert: index ld [x+k] / ldb [x+k] by X
	 * (r7), not by the opcode's source bit (A). */
	SL_EBPF_FIX_CBPF_INDEX = 1,
	/* Replace each jset with an immediate that fits a signed byte (the x86
	 * JIT encodes `test r64, imm8`, which x86 has not) by a move of the
	 * immediate into r8 and a register jset: only where r8 is free (the
	 * converter's scratch register). */
	SL_EBPF_FIX_JSET_R8 = 2,
};

/* The rewritten program in a new malloc'd array (*n_out instructions), or
 * NULL with err. Always:
 * - a packet load (LD_ABS, LD_IND) whose constant offset is negative is
 *   refused: as an unsigned offset it wraps rte_pktmbuf_read's bounds
 *   check;
 * - each LD_IND is preceded by a guard that ends the program with 0 when
 *   the index register is over 65535 (no packet is that long): rte_bpf
 *   adds index and offset in 32 bits, and an offset of 2^32 - 1 passes
 *   rte_pktmbuf_read's check and walks off the end of the segment chain. */
struct ebpf_insn *sl_ebpf_fix(const struct ebpf_insn *in, uint32_t n, unsigned fixes,
			      uint32_t *n_out, char *err, size_t len);

/* Whether the program has a jset the x86 JIT gets wrong (see above). */
int sl_ebpf_has_small_jset(const struct ebpf_insn *in, uint32_t n);

#endif
