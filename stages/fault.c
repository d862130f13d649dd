/* fault.c: the `fault` stage, a test tool. It forwards packets until it has
 * seen `after` of them, then fails the way `kind` says: abort (SIGABRT), segv
 * (a write to an unmapped address), hang (its worker spins forever) or leak
 * (every later packet is kept and never freed, so the mbuf pool runs dry).
 * It shows supervision and the watchdog on demand; the config loader refuses
 * it unless the config sets dataplane.test_faults. */
#include <stdlib.h>
#include <string.h>

#include <rte_pause.h>

#include "stages/stage.h"

enum fault_kind { FAULT_ABORT, FAULT_SEGV, FAULT_HANG, FAULT_LEAK };
static const char *const fault_kinds[] = {"abort", "segv", "hang", "leak"};

static const char *const fault_outputs[] = {"out"};
static const char *const fault_aux[] = {"leaked"};

struct fault_conf {
	uint64_t after;
	char *kind;
};

struct fault_state {
	uint64_t seen;
	uint64_t after;
	enum fault_kind kind;
};

static const struct sl_param fault_params[] = {
    {.name = "after",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct fault_conf, after),
     .min = 0,
     .max = UINT64_MAX / 2,
     .def = 0,
     .help = "packets forwarded before the fault"},
    {.name = "kind",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct fault_conf, kind),
     .required = true,
     .help = "abort, segv, hang or leak"},
};

static int kind_index(const char *k)
{
	for (unsigned i = 0; i < RTE_DIM(fault_kinds); i++)
		if (!strcmp(k, fault_kinds[i]))
			return (int)i;
	return -1;
}

static int fault_check(const void *conf, struct sl_check *chk)
{
	const struct fault_conf *c = conf;
	if (kind_index(c->kind) >= 0)
		return 0;
	chk->param = "kind";
	snprintf(chk->msg, sizeof(chk->msg), "'kind' must be abort, segv, hang or leak");
	return -1;
}

static unsigned fault_n_aux(const void *conf)
{
	RTE_SET_USED(conf);
	return 1;
}

static int fault_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct fault_conf *c = st->conf;
	struct fault_state *s = st->state;
	RTE_SET_USED(err);
	RTE_SET_USED(len);
	s->after = c->after;
	s->kind = (enum fault_kind)kind_index(c->kind);
	snprintf(env->aux_names[0], SL_LABEL_MAX, "%s", fault_aux[0]);
	return 0;
}

/* Out of line and never inlined: a core dump or a debugger shows the fault
 * in a function named for it. */
static __attribute__((noinline, noreturn)) void fault_fire(enum fault_kind k)
{
	if (k == FAULT_ABORT)
		abort();
	if (k == FAULT_SEGV) {
		/* Through a volatile, so the compiler neither sees nor
		 * warns about the constant address. */
		volatile uintptr_t bad = 16;
		*(volatile int *)bad = 1;
	}
	/* hang, and segv should the write not fault: spin where no quiescent
	 * state, heartbeat or stop flag is ever seen again. */
	for (;;)
		rte_pause();
}

static void fault_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct fault_state *s = st->state;
	if (likely(s->seen + n <= s->after)) {
		s->seen += n;
		sl_forward(st, 0, pkts, n);
		return;
	}
	/* Past the fault point (leak goes on), none is forwarded. */
	uint16_t ok = s->seen < s->after ? (uint16_t)(s->after - s->seen) : 0;
	s->seen += n;
	if (ok)
		sl_forward(st, 0, pkts, ok);
	if (s->kind != FAULT_LEAK)
		fault_fire(s->kind);
	/* Kept, never freed, never counted as sent or dropped. */
	st->aux[0] += n - ok;
}

static struct sl_stage_type fault_stage = {
    .name = "fault",
    .help = "test tool: forward `after` packets, then abort, segv, hang or leak "
	    "(needs dataplane.test_faults)",
    .outputs = fault_outputs,
    .n_outputs = 1,
    .params = fault_params,
    .n_params = RTE_DIM(fault_params),
    .conf_size = sizeof(struct fault_conf),
    .state_size = sizeof(struct fault_state),
    .check = fault_check,
    .n_aux = fault_n_aux,
    .init = fault_init,
    .process = fault_process,
};

SL_STAGE_REGISTER(fault_stage)
