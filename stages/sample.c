/* sample.c: the `sample` stage sends a share of the packets to `sampled` and
 * the rest to `rest`: either exactly every Nth packet an instance sees
 * (one_in: N, deterministic), or each packet independently with probability
 * P (probability: P, drawn with rte_rand, which needs no system call). */
#include <stdio.h>

#include <rte_random.h>

#include "stages/stage.h"

enum { SAMPLE_SAMPLED = 0, SAMPLE_REST = 1 };

static const char *const sample_outputs[] = {"sampled", "rest"};

struct sample_conf {
	uint64_t one_in;    /* 0: not given */
	double probability; /* < 0: not given */
};

struct sample_state {
	uint64_t n;	    /* one_in */
	uint64_t count;	    /* packets since the last sampled one */
	uint64_t threshold; /* probability: sampled when rte_rand() < threshold */
	bool all;	    /* probability 1: threshold cannot say 2^64 */
	bool random;
};

static const struct sl_param sample_params[] = {
    {.name = "one_in",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct sample_conf, one_in),
     .min = 1,
     .max = UINT32_MAX,
     .def = 0,
     .help = "sample every Nth packet (the Nth, 2Nth, ...)"},
    {.name = "probability",
     .kind = SL_PARAM_DOUBLE,
     .offset = offsetof(struct sample_conf, probability),
     .dmin = 0,
     .dmax = 1,
     .ddef = -1,
     .help = "sample each packet with this probability"},
};

static int sample_check(const void *conf, struct sl_check *chk)
{
	const struct sample_conf *c = conf;
	bool n = c->one_in != 0, p = c->probability >= 0;

	if (n && p) {
		chk->param = "probability";
		snprintf(chk->msg, sizeof(chk->msg), "give one_in or probability, not both");
		return -1;
	}
	if (!n && !p) {
		snprintf(chk->msg, sizeof(chk->msg), "needs one_in or probability");
		return -1;
	}
	return 0;
}

static int sample_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct sample_conf *c = st->conf;
	struct sample_state *s = st->state;

	RTE_SET_USED(env);
	RTE_SET_USED(err);
	RTE_SET_USED(len);
	if (c->one_in) {
		s->n = c->one_in;
		return 0;
	}
	s->random = true;
	/* P * 2^64 in exact steps of 2^-64; 1.0 would overflow the threshold. */
	if (c->probability >= 1.0)
		s->all = true;
	else
		s->threshold = (uint64_t)(c->probability * 18446744073709551616.0);
	return 0;
}

static void sample_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct sample_state *s = st->state;
	uint16_t next[SL_BURST_MAX];

	if (!s->random) {
		for (uint16_t i = 0; i < n; i++) {
			if (++s->count == s->n) {
				s->count = 0;
				next[i] = SAMPLE_SAMPLED;
			} else {
				next[i] = SAMPLE_REST;
			}
		}
	} else {
		for (uint16_t i = 0; i < n; i++)
			next[i] =
			    s->all || rte_rand() < s->threshold ? SAMPLE_SAMPLED : SAMPLE_REST;
	}
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type sample_stage = {
    .name = "sample",
    .help = "send every Nth packet, or each with probability P, to `sampled`; the rest to `rest`",
    .outputs = sample_outputs,
    .n_outputs = 2,
    .params = sample_params,
    .n_params = RTE_DIM(sample_params),
    .conf_size = sizeof(struct sample_conf),
    .state_size = sizeof(struct sample_state),
    .check = sample_check,
    .init = sample_init,
    .process = sample_process,
};

SL_STAGE_REGISTER(sample_stage)
