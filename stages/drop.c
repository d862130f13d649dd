/* drop.c: the `drop` stage frees every packet it gets and counts it under
 * the reason "dropped". */
#include "stages/stage.h"

enum { DROP_DROPPED = 1 };
static const char *const drop_reasons[] = {"dropped"};

static void drop_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	sl_drop(st, DROP_DROPPED, pkts, n);
}

static struct sl_stage_type drop_stage = {
    .name = "drop",
    .help = "free every packet, counted as 'dropped'",
    .drops = drop_reasons,
    .n_drops = 1,
    .process = drop_process,
};

SL_STAGE_REGISTER(drop_stage)
