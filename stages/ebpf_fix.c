/* ebpf_fix.c: the rewriting of ebpf_fix.h. */
#include "stages/ebpf_fix.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static inline bool small_jset(const struct ebpf_insn *in)
{
	return in->code == (BPF_JMP | BPF_JSET | BPF_K) && in->imm == (int8_t)in->imm;
}

static inline bool is_pkt_load(const struct ebpf_insn *in)
{
	return BPF_CLASS(in->code) == BPF_LD &&
	       (BPF_MODE(in->code) == BPF_ABS || BPF_MODE(in->code) == BPF_IND);
}

int sl_ebpf_has_small_jset(const struct ebpf_insn *in, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (small_jset(&in[i]))
			return 1;
	return 0;
}

struct ebpf_insn *sl_ebpf_fix(const struct ebpf_insn *in, uint32_t n, unsigned fixes,
			      uint32_t *n_out, char *err, size_t len)
{
	if (n == 0 || n > SL_EBPF_INSNS_MAX) {
		snprintf(err, len, "%u instructions (1 to %u)", n, SL_EBPF_INSNS_MAX);
		return NULL;
	}
	/* Where each old instruction lands; the guards' shared exit (r0 = 0;
	 * exit) goes at the end. */
	uint32_t *pos = malloc(((size_t)n + 1) * sizeof(*pos));
	if (!pos) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	uint32_t j = 0, guards = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (is_pkt_load(&in[i]) && in[i].imm < 0) {
			snprintf(err, len,
				 "instruction %u loads packet bytes at a negative offset (%d)", i,
				 in[i].imm);
			free(pos);
			return NULL;
		}
		pos[i] = j;
		bool ind = is_pkt_load(&in[i]) && BPF_MODE(in[i].code) == BPF_IND;
		j += 1 + ind + ((fixes & SL_EBPF_FIX_JSET_R8) && small_jset(&in[i]));
		guards += ind;
	}
	pos[n] = j;
	uint32_t fail = j;
	if (guards)
		j += 2;
	struct ebpf_insn *out = j <= INT16_MAX ? calloc(j, sizeof(*out)) : NULL;
	if (!out) {
		snprintf(err, len, "the program is too large once guarded");
		free(pos);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = pos[i];
		struct ebpf_insn x = in[i];
		if ((fixes & SL_EBPF_FIX_CBPF_INDEX) && is_pkt_load(&x) &&
		    BPF_MODE(x.code) == BPF_IND)
			x.src_reg = EBPF_REG_7;
		if (is_pkt_load(&x) && BPF_MODE(x.code) == BPF_IND) {
			out[k] = (struct ebpf_insn){.code = BPF_JMP | BPF_JGT | BPF_K,
						    .dst_reg = x.src_reg,
						    .off = (int16_t)(fail - k - 1),
						    .imm = 0xffff};
			k++;
		}
		if ((fixes & SL_EBPF_FIX_JSET_R8) && small_jset(&x)) {
			out[k++] = (struct ebpf_insn){.code = EBPF_ALU64 | EBPF_MOV | BPF_K,
						      .dst_reg = EBPF_REG_8,
						      .imm = x.imm};
			x.code = BPF_JMP | BPF_JSET | BPF_X;
			x.src_reg = EBPF_REG_8;
			x.imm = 0;
		}
		if (BPF_CLASS(x.code) == BPF_JMP && BPF_OP(x.code) != EBPF_CALL &&
		    BPF_OP(x.code) != EBPF_EXIT) {
			int64_t t = (int64_t)i + 1 + x.off;
			if (t < 0 || t > (int64_t)n) {
				snprintf(err, len, "instruction %u jumps outside the program", i);
				free(out);
				free(pos);
				return NULL;
			}
			x.off = (int16_t)((int64_t)pos[t] - k - 1);
		}
		out[k] = x;
	}
	if (guards) {
		out[fail] = (struct ebpf_insn){.code = EBPF_ALU64 | EBPF_MOV | BPF_K,
					       .dst_reg = EBPF_REG_0};
		out[fail + 1] = (struct ebpf_insn){.code = BPF_JMP | EBPF_EXIT};
	}
	free(pos);
	*n_out = j;
	return out;
}
