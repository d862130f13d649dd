/* pass.c: the `pass` stage hands every packet to its output unchanged. It is
 * the unit of stage overhead: what a stage costs when it does nothing. */
#include "stages/stage.h"

static const char *const pass_outputs[] = {"out"};

static void pass_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	sl_forward(st, 0, pkts, n);
}

static struct sl_stage_type pass_stage = {
    .name = "pass",
    .help = "forward every packet unchanged",
    .outputs = pass_outputs,
    .n_outputs = 1,
    .process = pass_process,
};

SL_STAGE_REGISTER(pass_stage)
