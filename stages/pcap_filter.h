/* pcap_filter.h: compile a tcpdump (pcap-filter) expression into an rte_bpf
 * program over the mbuf, JIT-compiled where the machine has one. The filter
 * stage and the live capture and trace filters share it, so an expression
 * means the same, and runs the same program, everywhere. */
#ifndef SL_PCAP_FILTER_H
#define SL_PCAP_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include <rte_bpf.h>
#include <rte_mbuf.h>

struct sl_pcap_filter {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *); /* NULL: the interpreter runs the program */
};

/* Whether expr compiles to a program rte_bpf can run (no rte_bpf objects
 * are made: config checks call it in sluiced). 0, or -1 with err. */
int sl_pcap_filter_check(const char *expr, char *err, size_t len);
/* Compile, harden, convert, load and JIT expr into f. 0, or -1 with err.
 * Management thread. */
int sl_pcap_filter_load(struct sl_pcap_filter *f, const char *expr, char *err, size_t len);
void sl_pcap_filter_free(struct sl_pcap_filter *f);

/* Whether packet m matches (any thread, once loaded). */
static inline int sl_pcap_filter_match(const struct sl_pcap_filter *f, struct rte_mbuf *m)
{
	if (f->jit)
		return f->jit(m) != 0;
	return rte_bpf_exec(f->bpf, m) != 0;
}

#endif
