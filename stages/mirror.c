/* mirror.c: the `mirror` stage hands every packet to both of its ports, `out`
 * and `copy`, without copying any data: the copy is an indirect clone
 * (rte_pktmbuf_clone) with mbuf headers of its own over the same data, whose
 * reference count keeps the data alive until both are freed. A clone that
 * cannot be made (the pool is empty) is a drop of the copy only, reason
 * `copy_failed`; the original always goes on. So for a mirror
 * 2 * in == out + copy + drops. */
#include "stages/stage.h"

enum { MIRROR_COPY_FAILED = 1 };

static const char *const mirror_outputs[] = {"out", "copy"};
static const char *const mirror_drops[] = {"copy_failed"};

static void mirror_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *copies[SL_BURST_MAX];
	uint16_t nc = 0;

	/* Clone before anything goes on: the out path may free or change the
	 * original as soon as it has it. The clone comes from the original's
	 * own pool, which the dataplane sized for the graph. */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *c = rte_pktmbuf_clone(pkts[i], pkts[i]->pool);
		if (likely(c != NULL))
			copies[nc++] = c;
	}
	/* A copy never made is no mbuf to free, only a count. */
	st->cnt->drops[MIRROR_COPY_FAILED] += (uint64_t)(n - nc);
	sl_forward(st, 0, pkts, n);
	if (nc)
		sl_forward(st, 1, copies, nc);
}

static struct sl_stage_type mirror_stage = {
    .name = "mirror",
    .help = "hand every packet to `out` and an indirect clone of it to `copy`",
    .outputs = mirror_outputs,
    .n_outputs = 2,
    .drops = mirror_drops,
    .n_drops = RTE_DIM(mirror_drops),
    .process = mirror_process,
};

SL_STAGE_REGISTER(mirror_stage)
