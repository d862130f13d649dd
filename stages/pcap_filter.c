/* pcap_filter.c: tcpdump expression -> libpcap classic BPF (for Ethernet, so
 * it means what it means to tcpdump, in-band VLAN tags included) ->
 * rte_bpf_convert -> eBPF over the mbuf -> rte_bpf JIT. Converted programs
 * read the packet with BPF_LD_ABS/BPF_LD_IND, which go through
 * rte_pktmbuf_read: bounded by pkt_len and safe on chained mbufs; a load past
 * the end rejects the packet, as in libpcap, and `len` is pkt_len. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "stages/ebpf_fix.h"
#include "stages/pcap_filter.h"

/* libpcap's optimizer takes time that grows much faster than the program
 * (300 `host` terms: seconds; 1000: minutes), and the check hook runs in
 * sluiced for configs that clients send: so the expression is first
 * compiled unoptimized (linear) and refused above this many instructions,
 * which the optimizer handles in well under a second. */
#define FILTER_UNOPT_MAX 6000
/* What rte_bpf_convert takes (its BPF_MAXINSNS). */
#define FILTER_INSNS_MAX 4096

/* libpcap's code generator recurses once per operator: 64,000 `ip&&` (a
 * 256 KB config) overflow the stack of whoever compiles, sluiced included,
 * and 10,000 take seconds. Real expressions hold tens of operators; these
 * bounds, counted before libpcap sees the text, leave them far behind. */
#define FILTER_OPS_MAX 1000
#define FILTER_DEPTH_MAX 64
#define FILTER_LEN_MAX 32768

static int filter_too_complex(const char *expr, char *err, size_t len)
{
	unsigned ops = 0, depth = 0, max_depth = 0;
	size_t n = strlen(expr);
	if (n > FILTER_LEN_MAX) {
		snprintf(err, len, "the expression is %zu bytes long (at most %u)", n,
			 FILTER_LEN_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = expr[i];
		if (isalpha((unsigned char)c) && (i == 0 || !isalnum((unsigned char)expr[i - 1]))) {
			size_t w = i;
			while (w < n && (isalnum((unsigned char)expr[w]) || expr[w] == '_'))
				w++;
			if ((w - i == 3 &&
			     (!strncmp(expr + i, "and", 3) || !strncmp(expr + i, "not", 3))) ||
			    (w - i == 2 && !strncmp(expr + i, "or", 2)))
				ops++;
			i = w - 1;
		} else if (strchr("&|!+-*/%^<>", c)) {
			ops++;
		} else if (c == '(' || c == '[') {
			if (++depth > max_depth)
				max_depth = depth;
		} else if ((c == ')' || c == ']') && depth) {
			depth--;
		}
	}
	if (ops > FILTER_OPS_MAX || max_depth > FILTER_DEPTH_MAX) {
		snprintf(
		    err, len,
		    "the expression is too complex: %u operators and brackets %u deep (at most "
		    "%u and %u)",
		    ops, max_depth, FILTER_OPS_MAX, FILTER_DEPTH_MAX);
		return -1;
	}
	return 0;
}

/* Compile expr as tcpdump -r would for an Ethernet capture. 65535 is the
 * snapshot length the program returns for a match (any non-zero value). */
static int filter_compile(const char *expr, struct bpf_program *prog, char *err, size_t len)
{
	if (filter_too_complex(expr, err, len) < 0)
		return -1;
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

int sl_pcap_filter_check(const char *expr, char *err, size_t len)
{
	struct bpf_program prog;
	if (filter_compile(expr, &prog, err, len) < 0)
		return -1;
	int rc = filter_loops(&prog, err, len);
	pcap_freecode(&prog);
	return rc;
}

int sl_pcap_filter_load(struct sl_pcap_filter *f, const char *expr, char *err, size_t len)
{
	struct bpf_program prog;

	f->bpf = NULL;
	f->jit = NULL;
	if (filter_compile(expr, &prog, err, len) < 0)
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
	/* rte_bpf_convert's index register and the JIT's jset encoding are
	 * worked round, and indexed loads guarded (see ebpf_fix.h). */
	struct rte_bpf_prm fixed = *prm;
	char why[256];
	fixed.ins = sl_ebpf_fix(prm->ins, prm->nb_ins, SL_EBPF_FIX_CBPF_INDEX | SL_EBPF_FIX_JSET_R8,
				&fixed.nb_ins, why, sizeof(why));
	rte_free(prm);
	if (!fixed.ins) {
		snprintf(err, len, "the expression's program: %s", why);
		return -1;
	}
	f->bpf = rte_bpf_load(&fixed);
	free((void *)(uintptr_t)fixed.ins);
	if (!f->bpf) {
		snprintf(err, len, "rte_bpf_load: %s", rte_strerror(rte_errno));
		return -1;
	}
	struct rte_bpf_jit jit = {0};
	if (rte_bpf_get_jit(f->bpf, &jit) == 0 && jit.func)
		f->jit = jit.func;
	return 0;
}

void sl_pcap_filter_free(struct sl_pcap_filter *f)
{
	if (f->bpf)
		rte_bpf_destroy(f->bpf);
	f->bpf = NULL;
	f->jit = NULL;
}
