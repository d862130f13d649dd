/* size_split.c: the example stage plugin. Its `size_split` stage sends a
 * frame shorter than `bytes` to `small` and any other to `large`. It is
 * built as a shared object on its own (-DSL_PLUGIN, no DPDK linked) and
 * loaded by dataplane.plugins; it shows what a plugin is: the same stage
 * API and SL_STAGE_REGISTER as a built-in stage, in a file of its own. */
#include <stddef.h>
#include <stdio.h>

#include "stages/stage.h"

enum { SPLIT_SMALL, SPLIT_LARGE };
static const char *const split_outputs[] = {"small", "large"};
static const char *const split_aux[] = {"large_bytes"};

struct split_conf {
	uint64_t bytes;
};

struct split_state {
	uint32_t bytes;
};

static const struct sl_param split_params[] = {
    {.name = "bytes",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct split_conf, bytes),
     .min = 1,
     .max = 65535,
     .def = 128,
     .help = "frames shorter than this go to `small`, the others to `large`"},
};

static unsigned split_n_aux(const void *conf)
{
	(void)conf;
	return 1;
}

static int split_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct split_conf *c = st->conf;
	struct split_state *s = st->state;
	(void)err;
	(void)len;
	s->bytes = (uint32_t)c->bytes;
	snprintf(env->aux_names[0], SL_LABEL_MAX, "%s", split_aux[0]);
	return 0;
}

static void split_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	const struct split_state *s = st->state;
	uint16_t next[SL_BURST_MAX];
	uint64_t large_bytes = 0;

	for (uint16_t i = 0; i < n; i++) {
		uint32_t len = rte_pktmbuf_pkt_len(pkts[i]);
		bool large = len >= s->bytes;
		next[i] = large ? SPLIT_LARGE : SPLIT_SMALL;
		large_bytes += large ? len : 0;
	}
	st->aux[0] += large_bytes;
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type size_split_stage = {
    .name = "size_split",
    .help = "example plugin: frames shorter than `bytes` to `small`, the rest to `large`",
    .outputs = split_outputs,
    .n_outputs = 2,
    .params = split_params,
    .n_params = 1,
    .conf_size = sizeof(struct split_conf),
    .state_size = sizeof(struct split_state),
    .n_aux = split_n_aux,
    .init = split_init,
    .process = split_process,
};

SL_STAGE_REGISTER(size_split_stage)
