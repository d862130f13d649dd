/* filter.c: the `filter` stage sends each packet to `match` or `miss` by a
 * tcpdump expression. libpcap compiles the expression to classic BPF for
 * Ethernet (so it means what it means to tcpdump, in-band VLAN tags
 * included), rte_bpf_convert turns that into eBPF over the mbuf, and the
 * rte_bpf JIT runs it. Converted programs read the packet with BPF_LD_ABS/
 * BPF_LD_IND, which go through rte_pktmbuf_read: bounded by pkt_len and safe
 * on chained mbufs; a load past the end rejects the packet, as in libpcap,
 * and `len` is pkt_len. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "stages/stage.h"

enum { FILTER_MATCH, FILTER_MISS };

static const char *const filter_outputs[] = {"match", "miss"};

struct filter_conf {
	char *expr;
};

struct filter_state {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *); /* NULL: the interpreter runs the program */
};

static const struct sl_param filter_params[] = {
    {.name = "expr",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct filter_conf, expr),
     .required = true,
     .help = "tcpdump (pcap-filter) expression"},
};

/* libpcap's optimizer takes time that grows much faster than the program
 * (300 `host` terms: seconds; 1000: minutes), and the check hook runs in
 * sluiced for configs that clients send: so the expression is first
 * compiled unoptimized (linear) and refused above this many instructions,
 * which the optimizer handles in well under a second. */
#define FILTER_UNOPT_MAX 6000
/* What rte_bpf_convert takes (its BPF_MAXINSNS). */
#define FILTER_INSNS_MAX 4096

/* Compile expr as tcpdump -r would for an Ethernet capture. 65535 is the
 * snapshot length the program returns for a match (any non-zero value). */
static int filter_compile(const char *expr, struct bpf_program *prog, char *err, size_t len)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	if (!p) {
		snprintf(err, len, "libpcap: cannot open a dead handle");
		return -1;
	}
	if (pcap_compile(p, prog, expr, 0, PCAP_NETMASK_UNKNOWN) < 0)
		goto refused;
	unsigned n = prog->bf_len;
	pcap_freecode(prog);
	if (n > FILTER_UNOPT_MAX) {
		snprintf(err, len,
			 "the expression is too large: %u BPF instructions before optimization "
			 "(at most %u)",
			 n, FILTER_UNOPT_MAX);
		goto fail;
	}
	if (pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0)
		goto refused;
	if (prog->bf_len > FILTER_INSNS_MAX) {
		snprintf(err, len,
			 "the expression is too large: %u BPF instructions (rte_bpf takes at most "
			 "%u)",
			 prog->bf_len, FILTER_INSNS_MAX);
		pcap_freecode(prog);
		goto fail;
	}
	pcap_close(p);
	return 0;
refused:
	snprintf(err, len, "%s", pcap_geterr(p));
fail:
	pcap_close(p);
	return -1;
}

/* A packet load at an offset of 2^31 or more can never be inside a packet
 * (libpcap rejects the packet), but rte_bpf's JIT adds the offset as a
 * sign-extended immediate and would read before the packet's data. Such a
 * load (from an expression like `ether[0 - 20]`) becomes an absolute load
 * at 2^31 - 1, which fails as surely and ends the program with 0; being one
 * instruction for one, and no `ret`, it moves no jump and leaves no code
 * unreachable (which rte_bpf's verifier refuses). */
static void filter_harden(struct bpf_program *prog)
{
	for (unsigned i = 0; i < prog->bf_len; i++) {
		struct bpf_insn *in = &prog->bf_insns[i];
		uint16_t c = in->code;
		if (in->k < 0x80000000u)
			continue;
		if (BPF_CLASS(c) == BPF_LD && (BPF_MODE(c) == BPF_ABS || BPF_MODE(c) == BPF_IND)) {
			in->code = (uint16_t)(BPF_LD | BPF_ABS | BPF_SIZE(c));
			in->k = 0x7fffffff;
		} else if (c == (BPF_LDX | BPF_MSH | BPF_B)) {
			in->k = 0x7fffffff;
		}
	}
}

/* rte_bpf takes no loops, and libpcap compiles `protochain` to one (a
 * backward `ja`, its k wrapping round): refuse it with words, not with
 * rte_bpf_convert's bare EPERM at start. */
static int filter_loops(const struct bpf_program *prog, char *err, size_t len)
{
	for (unsigned i = 0; i < prog->bf_len; i++) {
		const struct bpf_insn *in = &prog->bf_insns[i];
		if (in->code == (BPF_JMP | BPF_JA) && (uint64_t)i + 1 + in->k >= prog->bf_len) {
			snprintf(err, len,
				 "the expression compiles to a loop (protochain does), which "
				 "rte_bpf cannot run");
			return -1;
		}
	}
	return 0;
}

/* A jset with an immediate that fits in a signed byte: DPDK 22.11's x86
 * JIT encodes it as `test r64, imm8`, an encoding x86 does not have, and
 * the code after it is garbage (a crash at best). */
static inline bool filter_small_jset(const struct ebpf_insn *in)
{
	return in->code == (BPF_JMP | BPF_JSET | BPF_K) && in->imm == (int8_t)in->imm;
}

/* The converted program with two of rte_bpf's faults worked round (a new
 * malloc'd array, NULL if too large):
 * - rte_bpf_convert takes the index register of cBPF `ld [x + k]` and
 *   `ldb [x + k]` from the opcode's source bit, which for these two sizes
 *   says K: the load would be indexed by A (r0), not X (r7). (`ldh` works
 *   only because BPF_H and BPF_X share a bit.)
 * - each small jset becomes `r8 = imm; jset r0, r8`: r8 is the converter's
 *   scratch register, live only inside the sequences it emits, none of
 *   which holds a jset. Jump offsets are recomputed round the insertions. */
static struct ebpf_insn *filter_fix(const struct ebpf_insn *in, uint32_t n, uint32_t *n_out)
{
	uint32_t *pos = malloc(((size_t)n + 1) * sizeof(*pos));
	uint32_t j = 0;

	if (!pos)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		pos[i] = j;
		j += filter_small_jset(&in[i]) ? 2 : 1;
	}
	pos[n] = j;
	struct ebpf_insn *out = j <= INT16_MAX ? calloc(j, sizeof(*out)) : NULL;
	if (!out) {
		free(pos);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = pos[i];
		struct ebpf_insn x = in[i];
		if (BPF_CLASS(x.code) == BPF_LD && BPF_MODE(x.code) == BPF_IND)
			x.src_reg = EBPF_REG_7;
		if (filter_small_jset(&x)) {
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
				free(out);
				free(pos);
				return NULL;
			}
			x.off = (int16_t)((int64_t)pos[t] - k - 1);
		}
		out[k] = x;
	}
	free(pos);
	*n_out = j;
	return out;
}

static int filter_check(const void *conf, struct sl_check *chk)
{
	const struct filter_conf *c = conf;
	struct bpf_program prog;

	chk->param = "expr";
	chk->item = -1;
	if (filter_compile(c->expr, &prog, chk->msg, sizeof(chk->msg)) < 0)
		return -1;
	int rc = filter_loops(&prog, chk->msg, sizeof(chk->msg));
	pcap_freecode(&prog);
	return rc;
}

static int filter_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct filter_conf *c = st->conf;
	struct filter_state *s = st->state;
	struct bpf_program prog;
	RTE_SET_USED(env);

	if (filter_compile(c->expr, &prog, err, len) < 0)
		return -1;
	if (filter_loops(&prog, err, len) < 0) {
		pcap_freecode(&prog);
		return -1;
	}
	filter_harden(&prog);
	struct rte_bpf_prm *prm = rte_bpf_convert(&prog);
	pcap_freecode(&prog);
	if (!prm) {
		snprintf(err, len, "rte_bpf_convert: %s", rte_strerror(rte_errno));
		return -1;
	}
	struct rte_bpf_prm fixed = *prm;
	fixed.ins = filter_fix(prm->ins, prm->nb_ins, &fixed.nb_ins);
	rte_free(prm);
	if (!fixed.ins) {
		snprintf(err, len, "the expression's program is too large");
		return -1;
	}
	s->bpf = rte_bpf_load(&fixed);
	free((void *)(uintptr_t)fixed.ins);
	if (!s->bpf) {
		snprintf(err, len, "rte_bpf_load: %s", rte_strerror(rte_errno));
		return -1;
	}
	struct rte_bpf_jit jit = {0};
	if (rte_bpf_get_jit(s->bpf, &jit) == 0 && jit.func)
		s->jit = jit.func;
	else
		fprintf(stderr,
			"sluice-dp: warning: stage '%s': no eBPF JIT on this machine; "
			"the filter runs in rte_bpf's interpreter (slower)\n",
			st->name);
	return 0;
}

static void filter_fini(struct sl_stage *st)
{
	struct filter_state *s = st->state;
	if (s && s->bpf) {
		rte_bpf_destroy(s->bpf);
		s->bpf = NULL;
		s->jit = NULL;
	}
}

static void filter_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	const struct filter_state *s = st->state;
	uint16_t next[SL_BURST_MAX];

	if (likely(s->jit != NULL)) {
		for (uint16_t i = 0; i < n; i++)
			next[i] = s->jit(pkts[i]) ? FILTER_MATCH : FILTER_MISS;
	} else {
		uint64_t rc[SL_BURST_MAX];
		rte_bpf_exec_burst(s->bpf, (void **)pkts, rc, n);
		for (uint16_t i = 0; i < n; i++)
			next[i] = rc[i] ? FILTER_MATCH : FILTER_MISS;
	}
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type filter_stage = {
    .name = "filter",
    .help = "split packets by a tcpdump expression (libpcap -> rte_bpf JIT)",
    .outputs = filter_outputs,
    .n_outputs = RTE_DIM(filter_outputs),
    .params = filter_params,
    .n_params = RTE_DIM(filter_params),
    .conf_size = sizeof(struct filter_conf),
    .state_size = sizeof(struct filter_state),
    .check = filter_check,
    .init = filter_init,
    .fini = filter_fini,
    .process = filter_process,
};

SL_STAGE_REGISTER(filter_stage)
