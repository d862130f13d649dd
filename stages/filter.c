/* filter.c: the `filter` stage sends each packet to `match` or `miss` by a
 * tcpdump expression, compiled by pcap_filter.c (libpcap -> rte_bpf JIT). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "stages/pcap_filter.h"
#include "stages/stage.h"

enum { FILTER_MATCH, FILTER_MISS };

static const char *const filter_outputs[] = {"match", "miss"};

struct filter_conf {
	char *expr;
};

struct filter_state {
	struct sl_pcap_filter f;
};

static const struct sl_param filter_params[] = {
    {.name = "expr",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct filter_conf, expr),
     .required = true,
     .help = "tcpdump (pcap-filter) expression"},
};

static int filter_check(const void *conf, struct sl_check *chk)
{
	const struct filter_conf *c = conf;

	chk->param = "expr";
	chk->item = -1;
	return sl_pcap_filter_check(c->expr, chk->msg, sizeof(chk->msg));
}

static int filter_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct filter_conf *c = st->conf;
	struct filter_state *s = st->state;
	RTE_SET_USED(env);

	if (sl_pcap_filter_load(&s->f, c->expr, err, len) < 0)
		return -1;
	if (!s->f.jit)
		fprintf(stderr,
			"sluice-dp: warning: stage '%s': no eBPF JIT on this machine; "
			"the filter runs in rte_bpf's interpreter (slower)\n",
			st->name);
	return 0;
}

static void filter_fini(struct sl_stage *st)
{
	struct filter_state *s = st->state;
	if (s)
		sl_pcap_filter_free(&s->f);
}

static void filter_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	const struct filter_state *s = st->state;
	uint16_t next[SL_BURST_MAX];

	uint64_t (*jit)(void *) = s->f.jit;
	if (likely(jit != NULL)) {
		/* The program reads the first line of each packet's data. */
		for (uint16_t i = 0; i < RTE_MIN(n, (uint16_t)4); i++)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
		for (uint16_t i = 0; i < n; i++) {
			if (i + 4 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void *));
			next[i] = jit(pkts[i]) ? FILTER_MATCH : FILTER_MISS;
		}
	} else {
		uint64_t rc[SL_BURST_MAX];
		rte_bpf_exec_burst(s->f.bpf, (void **)pkts, rc, n);
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
