/* reorder.c: the `reorder` stage puts packets back in the order port_rx
 * received them, after instances of a stage spread over cores have mixed
 * them up (balance -> N workers -> reorder). port_rx stamps a sequence
 * number in rte_reorder's mbuf field whenever a reorder stage exists;
 * rte_reorder keeps the window. A packet that comes too late for its place
 * goes out at once, out of order, counted as `late`: it is never dropped.
 * A number that never comes (a packet dropped on the way) holds the others
 * back at most timeout_us: the stage then gives up on it, counted as
 * `skipped`, by filling the hole with a placeholder mbuf that it frees as it
 * comes out (rte_reorder of DPDK 22.11 has no call to skip a number). */
#include <errno.h>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_reorder.h>

#include "stages/stage.h"

enum { AUX_LATE, AUX_OVERFLOW, AUX_SKIPPED, AUX_RESTARTS, AUX_DUP_SEQ, AUX_N };
static const char *const reorder_aux_names[AUX_N] = {"late", "overflow", "skipped", "restarts",
						     "duplicate_seqn"};
static const char *const reorder_outputs[] = {"out"};

#define HOLES_PER_TICK 64

struct reorder_conf {
	uint64_t size;
	uint64_t timeout_us;
};

struct reorder_state {
	struct rte_reorder_buffer *b;
	struct rte_mempool *holes; /* placeholders for numbers given up on */
	uint64_t timeout;	   /* TSC cycles */
	uint64_t last_out;	   /* TSC of the last packet let out */
	uint64_t held;		   /* packets inside the buffer */
	uint32_t next;		   /* the number expected next */
	uint32_t size;
	/* Which numbers the buffer holds, by number mod 2 * size (all it can
	 * hold at once): rte_reorder would overwrite a second packet with the
	 * same number, and lose the first. */
	uint64_t *in;
	bool started;
};

static const struct sl_param reorder_params[] = {
    {.name = "size",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct reorder_conf, size),
     .min = 64,
     .max = 1u << 20,
     .def = 8192,
     .help = "packets the window holds (a power of two)"},
    {.name = "timeout_us",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct reorder_conf, timeout_us),
     .min = 1,
     .max = 10000000,
     .def = 500,
     .help = "how long a missing packet holds the others back"},
};

static int reorder_check(const void *conf, struct sl_check *chk)
{
	const struct reorder_conf *c = conf;
	if (!rte_is_power_of_2((uint32_t)c->size)) {
		chk->param = "size";
		snprintf(chk->msg, sizeof(chk->msg), "must be a power of two, not %llu",
			 (unsigned long long)c->size);
		return -1;
	}
	return 0;
}

static bool reorder_wants_seqn(const void *conf)
{
	(void)conf;
	return true;
}

static unsigned reorder_n_aux(const void *conf)
{
	(void)conf;
	return AUX_N;
}

static int reorder_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	static unsigned serial;
	const struct reorder_conf *c = st->conf;
	struct reorder_state *s = st->state;
	char name[RTE_MEMZONE_NAMESIZE];

	snprintf(name, sizeof(name), "slro%u", serial);
	s->b = rte_reorder_create(name, env->socket, (unsigned)c->size);
	snprintf(name, sizeof(name), "slroh%u", serial++);
	s->holes = rte_pktmbuf_pool_create(name, 2 * HOLES_PER_TICK - 1, 0, 0, 0, env->socket);
	if (!s->b || !s->holes) {
		snprintf(err, len, "cannot make its reorder buffer: %s", rte_strerror(rte_errno));
		rte_reorder_free(s->b);
		rte_mempool_free(s->holes);
		s->b = NULL;
		s->holes = NULL;
		return -1;
	}
	s->timeout = c->timeout_us * (rte_get_tsc_hz() / 1000000);
	s->size = (uint32_t)c->size;
	s->in = rte_zmalloc_socket("sl_reorder", 2 * c->size / 8, RTE_CACHE_LINE_SIZE, env->socket);
	if (!s->in) {
		snprintf(err, len, "out of hugepage memory");
		return -1;
	}
	for (unsigned i = 0; i < AUX_N && env->aux_names; i++)
		snprintf(env->aux_names[i], SL_LABEL_MAX, "%s", reorder_aux_names[i]);
	return 0;
}

static void reorder_fini(struct sl_stage *st)
{
	struct reorder_state *s = st->state;
	if (s->held)
		fprintf(stderr,
			"sluice-dp: stage '%s' removed with %llu packets waiting for their turn; "
			"they are freed\n",
			st->name, (unsigned long long)s->held);
	rte_reorder_free(s->b); /* frees the mbufs it holds */
	rte_mempool_free(s->holes);
	rte_free(s->in);
	s->in = NULL;
	s->b = NULL;
	s->holes = NULL;
}

static inline bool held_test(const struct reorder_state *s, uint32_t q)
{
	uint32_t i = q & (2 * s->size - 1);
	return (s->in[i / 64] >> (i % 64)) & 1;
}

static inline void held_set(struct reorder_state *s, uint32_t q)
{
	uint32_t i = q & (2 * s->size - 1);
	s->in[i / 64] |= 1ull << (i % 64);
}

static inline void held_clear(struct reorder_state *s, uint32_t q)
{
	uint32_t i = q & (2 * s->size - 1);
	s->in[i / 64] &= ~(1ull << (i % 64));
}

/* Send on what is in order; placeholders are freed, not sent. */
static unsigned drain(struct sl_stage *st, uint64_t now)
{
	struct reorder_state *s = st->state;
	struct rte_mbuf *out[SL_BURST_MAX];
	unsigned real = 0, n;

	do {
		n = rte_reorder_drain(s->b, out, SL_BURST_MAX);
		uint16_t k = 0;
		for (unsigned i = 0; i < n; i++) {
			uint32_t q = *rte_reorder_seqn(out[i]);
			held_clear(s, q);
			/* rte_reorder passes over holes by itself when its window
			 * is full: those numbers are skipped too. */
			if (q != s->next && (int32_t)(q - s->next) > 0)
				st->aux[AUX_SKIPPED] += q - s->next;
			s->next = q + 1;
			if (out[i]->pool == s->holes)
				rte_pktmbuf_free(out[i]);
			else
				out[k++] = out[i];
		}
		if (k) {
			s->held -= k;
			real += k;
			sl_forward(st, 0, out, k);
		}
	} while (n == SL_BURST_MAX);
	if (real)
		s->last_out = now;
	return real;
}

/* Give up on the numbers holding the window back: fill each hole with a
 * placeholder until a real packet comes out (or max holes, or all). */
static void skip_holes(struct sl_stage *st, uint64_t now, unsigned max)
{
	struct reorder_state *s = st->state;
	for (unsigned i = 0, tries = 0; i < max && s->held && tries < 4096; tries++) {
		struct rte_mbuf *h = rte_pktmbuf_alloc(s->holes);
		if (!h)
			return;
		*rte_reorder_seqn(h) = s->next;
		if (held_test(s, s->next) || rte_reorder_insert(s->b, h) < 0) {
			rte_pktmbuf_free(h);
			/* The window moved past this number by itself (rte_reorder
			 * hands a full window's head to its ready list, empty
			 * slots included): look for the hole further on. */
			if (rte_errno != ERANGE)
				return;
			s->next++;
			continue;
		}
		held_set(s, *rte_reorder_seqn(h));
		st->aux[AUX_SKIPPED]++;
		i++;
		if (drain(st, now))
			return;
	}
}

/* Far outside the window either way: port_rx numbers anew (a graph load
 * built it again), not a late packet. */
static inline bool far(const struct reorder_state *s, uint32_t seq)
{
	int32_t d = (int32_t)(seq - s->next);
	return d > (int32_t)(4 * s->size) || d < -(int32_t)(4 * s->size);
}

/* Let out everything held, in order, holes skipped, and start over from seq. */
/* Where the window starts: rte_reorder starts it at the first number it is
 * given. port_rx numbers from 0, and the first packet to reach us may be
 * any of the first few: so when the first number is small, start at 0 by
 * passing a placeholder numbered 2^32 - 1 first. Joining a numbering
 * already under way (a reorder added by a graph load), the first packet
 * seen starts the window, and any earlier one is late. */
static void start_at(struct sl_stage *st, uint32_t seq)
{
	struct reorder_state *s = st->state;
	s->next = seq;
	if (seq >= s->size)
		return;
	struct rte_mbuf *h = rte_pktmbuf_alloc(s->holes);
	if (!h)
		return;
	*rte_reorder_seqn(h) = UINT32_MAX;
	struct rte_mbuf *out;
	if (rte_reorder_insert(s->b, h) < 0 || rte_reorder_drain(s->b, &out, 1) != 1) {
		rte_pktmbuf_free(h);
		return;
	}
	rte_pktmbuf_free(out);
	s->next = 0;
}

static void restart(struct sl_stage *st, uint64_t now, uint32_t seq)
{
	struct reorder_state *s = st->state;
	for (unsigned i = 0; s->held && i < 2 * s->size + 1; i++)
		skip_holes(st, now, HOLES_PER_TICK);
	rte_reorder_reset(s->b);
	memset(s->in, 0, 2 * s->size / 8);
	start_at(st, seq);
	st->aux[AUX_RESTARTS]++;
}

static void reorder_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct reorder_state *s = st->state;
	struct rte_mbuf *now_out[SL_BURST_MAX];
	uint16_t k = 0;
	uint64_t now = rte_rdtsc();

	for (uint16_t i = 0; i < n; i++) {
		uint32_t seq = *rte_reorder_seqn(pkts[i]);
		if (!s->started) {
			s->started = true;
			s->last_out = now;
			start_at(st, seq);
		}
		if (held_test(s, seq)) { /* a second packet with this number */
			st->aux[AUX_DUP_SEQ]++;
			now_out[k++] = pkts[i];
			continue;
		}
		int rc = rte_reorder_insert(s->b, pkts[i]);
		if (rc < 0 && rte_errno == ENOSPC) { /* make room, then again */
			drain(st, now);
			rc = rte_reorder_insert(s->b, pkts[i]);
		}
		if (rc < 0 && rte_errno == ERANGE && far(s, seq)) {
			restart(st, now, seq);
			rc = rte_reorder_insert(s->b, pkts[i]);
		}
		if (rc == 0) {
			held_set(s, seq);
			s->held++;
			continue;
		}
		st->aux[rte_errno == ERANGE ? AUX_LATE : AUX_OVERFLOW]++;
		now_out[k++] = pkts[i];
	}
	if (k)
		sl_forward(st, 0, now_out, k);
	drain(st, now);
}

static void reorder_tick(struct sl_stage *st)
{
	struct reorder_state *s = st->state;
	if (!s->held)
		return;
	uint64_t now = rte_rdtsc();
	if (now - s->last_out > s->timeout)
		skip_holes(st, now, HOLES_PER_TICK);
}

static struct sl_stage_type reorder_stage = {
    .name = "reorder",
    .help = "put packets back in the order port_rx received them",
    .outputs = reorder_outputs,
    .n_outputs = 1,
    .params = reorder_params,
    .n_params = RTE_DIM(reorder_params),
    .conf_size = sizeof(struct reorder_conf),
    .state_size = sizeof(struct reorder_state),
    .check = reorder_check,
    .wants_rx_seqn = reorder_wants_seqn,
    .n_aux = reorder_n_aux,
    .init = reorder_init,
    .fini = reorder_fini,
    .process = reorder_process,
    .tick = reorder_tick,
};

SL_STAGE_REGISTER(reorder_stage)
