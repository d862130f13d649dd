/* balance.c: the `balance` stage spreads packets over the instances of the
 * stage it feeds by a symmetric 5-tuple hash, so that a flow (both of its
 * directions) always lands on the same instance. Put it after `parse`:
 * packets `parse` has not marked as parsed hash by their MAC pair (a PMD's
 * packet_type alone says nothing of where the headers are). */
#include "stages/flow_hash.h"
#include "stages/stage.h"

static const char *const balance_outputs[] = {"out"};

static void balance_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t next[SL_BURST_MAX];
	uint32_t k = st->n_outputs;

	if (k == 1) {
		sl_forward(st, 0, pkts, n);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		/* Multiply-shift maps the hash to [0, k) without a division. */
		uint32_t h = sl_flow_hash_sym(pkts[i]);
		next[i] = (uint16_t)(((uint64_t)h * k) >> 32);
	}
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type balance_stage = {
    .name = "balance",
    .help = "spread flows over the instances of the next stage by symmetric hash",
    .outputs = balance_outputs,
    .n_outputs = 1,
    .dynamic_outputs = true,
    .process = balance_process,
};

SL_STAGE_REGISTER(balance_stage)
