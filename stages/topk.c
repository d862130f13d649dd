/* topk.c: the `topk` stage reports the heavy hitters of each (tumbling)
 * time window: a count-min sketch of width ceil(e / epsilon) and depth
 * ceil(ln(1 / delta)) estimates every key's packets, and a min-heap keeps
 * the k keys with the largest estimates. When a window closes its k records
 * go, by value, to an emitter thread that writes them as JSON lines, each
 * with its error bound: estimate - epsilon * N <= true count <= estimate,
 * with probability 1 - delta (N: the window's packets). Every packet goes
 * on unchanged through `out`.
 *
 * Not rte_member's sketch mode (RTE_MEMBER_TYPE_SKETCH): in 22.11 its depth
 * is a build constant (NUM_ROW_SCALAR, or NUM_ROW_VEC with AVX-512), not
 * ln(1/delta), so the bound the records state would not hold as configured;
 * it samples rows after a convergence phase, and its API is experimental. */
#include <math.h>

#include <rte_malloc.h>
#include <rte_ring_elem.h>

#include "stages/emit.h"
#include "stages/pkt_clock.h"
#include "stages/pkt_key.h"
#include "stages/stage.h"

enum { AUX_RECORDS, AUX_LOST, AUX_LATE, AUX_NO_TIME, AUX_NON_IP, AUX_LINES, AUX_WERR, AUX_N };
static const char *const topk_aux_names[AUX_N] = {
    "records", "records_lost", "late", "no_timestamp", "non_ip", "json_lines", "json_write_errors"};
static const char *const topk_outputs[] = {"out"};

#define K_MAX 256

struct topk_conf {
	char *key;
	uint64_t k;
	uint64_t size, size_ms;
	double epsilon, delta;
	char *time;
	char *emit;
};

struct topk_rec {
	uint64_t start_ns, end_ns;
	struct sl_pkt_key key;
	uint8_t kind;
	uint8_t pad;
	uint16_t rank; /* 1: the largest */
	uint32_t pad2;
	uint64_t estimate, total, bound;
	double epsilon, delta;
};

struct topk_heap_ent {
	uint64_t count;
	uint64_t hash;
	struct sl_pkt_key key;
};

struct topk_state {
	struct sl_pkt_clock clock;
	struct sl_wall_clock wall; /* arrival: TSC to wall clock */
	uint64_t size;		   /* ns */
	unsigned kind, fields, k, n_heap;
	uint32_t width, depth;
	uint64_t *cms; /* depth rows of width counters */
	uint64_t w;    /* the open window's index (start / size); UINT64_MAX: none */
	uint64_t total;
	uint64_t hi;
	double epsilon, delta;
	struct topk_heap_ent heap[K_MAX];
	struct sl_emitter *em;
	struct rte_ring *ring;
};

static const struct sl_param topk_params[] = {
    {.name = "key",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct topk_conf, key),
     .help = "5tuple (default), src, dst, dport or src_dst"},
    {.name = "k",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct topk_conf, k),
     .min = 1,
     .max = K_MAX,
     .def = 10,
     .help = "heavy hitters reported per window"},
    {.name = "size",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct topk_conf, size),
     .min = 1,
     .max = 86400,
     .def = 10,
     .help = "window length, seconds"},
    {.name = "size_ms",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct topk_conf, size_ms),
     .min = 0,
     .max = 86400000,
     .def = 0,
     .help = "window length in milliseconds (instead of size)"},
    {.name = "epsilon",
     .kind = SL_PARAM_DOUBLE,
     .offset = offsetof(struct topk_conf, epsilon),
     .dmin = 1e-5,
     .dmax = 0.5,
     .ddef = 0.001,
     .help = "error bound as a fraction of the window's packets"},
    {.name = "delta",
     .kind = SL_PARAM_DOUBLE,
     .offset = offsetof(struct topk_conf, delta),
     .dmin = 1e-9,
     .dmax = 0.5,
     .ddef = 0.01,
     .help = "probability that an estimate exceeds its bound"},
    {.name = "time",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct topk_conf, time),
     .help = "arrival (default) or capture (the packet's RX timestamp)"},
    {.name = "emit",
     .kind = SL_PARAM_EXPORT,
     .offset = offsetof(struct topk_conf, emit),
     .required = true,
     .help = "json:PATH, the file the records are written to"},
};

static int topk_check(const void *conf, struct sl_check *chk)
{
	const struct topk_conf *c = conf;
	if (sl_key_kind(c->key) < 0) {
		chk->param = "key";
		snprintf(chk->msg, sizeof(chk->msg),
			 "must be 5tuple, src, dst, dport or src_dst, not '%s'", c->key);
		return -1;
	}
	if (c->time && !sl_pkt_clock_valid(c->time)) {
		chk->param = "time";
		snprintf(chk->msg, sizeof(chk->msg), "must be arrival or capture, not '%s'",
			 c->time);
		return -1;
	}
	if (!c->emit || strncmp(c->emit, "json:", 5)) {
		chk->param = "emit";
		snprintf(chk->msg, sizeof(chk->msg), "must be json:PATH (topk writes JSON lines)");
		return -1;
	}
	return 0;
}

static bool topk_wants_ts(const void *conf)
{
	const struct topk_conf *c = conf;
	return c->time && !strcmp(c->time, "capture");
}

static unsigned topk_n_aux(const void *conf)
{
	(void)conf;
	return AUX_N;
}

static size_t topk_json(char *buf, size_t len, const void *rp)
{
	const struct topk_rec *r = rp;
	size_t n = (size_t)snprintf(buf, len,
				    "{\"start_ns\":%llu,\"end_ns\":%llu,\"key\":\"%s\",\"rank\":%u",
				    (unsigned long long)r->start_ns, (unsigned long long)r->end_ns,
				    sl_key_kinds[r->kind].name, r->rank);
	n += sl_pkt_key_json(buf + n, len - n, sl_key_kinds[r->kind].fields, &r->key);
	n += (size_t)snprintf(buf + n, len - n,
			      ",\"estimate\":%llu,\"window_packets\":%llu,\"error_bound\":%llu,"
			      "\"epsilon\":%g,\"confidence\":%g}\n",
			      (unsigned long long)r->estimate, (unsigned long long)r->total,
			      (unsigned long long)r->bound, r->epsilon, 1.0 - r->delta);
	return n;
}

static int topk_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct topk_conf *c = st->conf;
	struct topk_state *s = st->state;
	if (sl_pkt_clock_init(&s->clock, c->time, err, len) < 0)
		return -1;
	s->kind = (unsigned)sl_key_kind(c->key);
	s->fields = sl_key_kinds[s->kind].fields;
	s->k = (unsigned)c->k;
	s->size = (c->size_ms ? c->size_ms : c->size * 1000) * 1000000;
	s->epsilon = c->epsilon;
	s->delta = c->delta;
	s->width = (uint32_t)ceil(M_E / c->epsilon);
	s->depth = (uint32_t)ceil(log(1.0 / c->delta));
	if (s->depth < 1)
		s->depth = 1;
	s->w = UINT64_MAX;
	sl_wall_clock_init(&s->wall);
	s->cms = rte_zmalloc_socket("sl_topk_cms", (size_t)s->width * s->depth * 8,
				    RTE_CACHE_LINE_SIZE, env->socket);
	if (!s->cms) {
		snprintf(err, len, "no hugepage memory for a %u x %u sketch", s->depth, s->width);
		return -1;
	}
	s->em = sl_emit_open(c->emit, sizeof(struct topk_rec), 1024, topk_json, env, err, len);
	if (!s->em) {
		rte_free(s->cms);
		s->cms = NULL;
		return -1;
	}
	s->ring = sl_emit_ring(s->em);
	for (unsigned i = 0; i < AUX_N && env->aux_names; i++)
		snprintf(env->aux_names[i], SL_LABEL_MAX, "%s", topk_aux_names[i]);
	return 0;
}

static void sift_down(struct topk_state *s, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->n_heap && s->heap[l].count < s->heap[m].count)
			m = l;
		if (r < s->n_heap && s->heap[r].count < s->heap[m].count)
			m = r;
		if (m == i)
			return;
		struct topk_heap_ent t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
}

static void sift_up(struct topk_state *s, unsigned i)
{
	while (i > 0) {
		unsigned p = (i - 1) / 2;
		if (s->heap[p].count <= s->heap[i].count)
			return;
		struct topk_heap_ent t = s->heap[i];
		s->heap[i] = s->heap[p];
		s->heap[p] = t;
		i = p;
	}
}

/* Hand the open window's heavy hitters, largest first, to the emitter and
 * start afresh. */
static void close_window(struct sl_stage *st, struct topk_state *s)
{
	if (s->w == UINT64_MAX)
		return;
	/* Sorted in place by count, descending (k is small). */
	for (unsigned i = 1; i < s->n_heap; i++) {
		struct topk_heap_ent t = s->heap[i];
		unsigned j = i;
		for (; j > 0 && s->heap[j - 1].count < t.count; j--)
			s->heap[j] = s->heap[j - 1];
		s->heap[j] = t;
	}
	struct topk_rec r;
	memset(&r, 0, sizeof(r));
	r.start_ns = s->w * s->size;
	r.end_ns = r.start_ns + s->size;
	r.kind = (uint8_t)s->kind;
	r.total = s->total;
	r.bound = (uint64_t)ceil(s->epsilon * (double)s->total);
	r.epsilon = s->epsilon;
	r.delta = s->delta;
	uint64_t sent = 0, lost = 0;
	for (unsigned i = 0; i < s->n_heap; i++) {
		r.key = s->heap[i].key;
		r.rank = (uint16_t)(i + 1);
		r.estimate = s->heap[i].count;
		if (rte_ring_sp_enqueue_elem(s->ring, &r, sizeof(r)) == 0)
			sent++;
		else
			lost++;
	}
	if (st->aux) {
		st->aux[AUX_RECORDS] += sent;
		st->aux[AUX_LOST] += lost;
	}
	memset(s->cms, 0, (size_t)s->width * s->depth * 8);
	s->n_heap = 0;
	s->total = 0;
	s->w = UINT64_MAX;
}

static inline uint64_t topk_count(struct topk_state *s, uint64_t kh)
{
	uint64_t est = UINT64_MAX;
	for (uint32_t d = 0; d < s->depth; d++) {
		uint64_t h = sl_mix64(kh + (d + 1) * 0x9e3779b97f4a7c15ull);
		uint32_t col = (uint32_t)(((unsigned __int128)h * s->width) >> 64);
		uint64_t *c = &s->cms[(size_t)d * s->width + col];
		++*c;
		est = RTE_MIN(est, *c);
	}
	return est;
}

static inline void topk_offer(struct topk_state *s, const struct sl_pkt_key *key, uint64_t kh,
			      uint64_t est)
{
	for (unsigned i = 0; i < s->n_heap; i++)
		if (s->heap[i].hash == kh && !memcmp(&s->heap[i].key, key, sizeof(*key))) {
			s->heap[i].count = est; /* estimates only grow */
			sift_down(s, i);
			return;
		}
	if (s->n_heap < s->k) {
		s->heap[s->n_heap] = (struct topk_heap_ent){.count = est, .hash = kh, .key = *key};
		sift_up(s, s->n_heap++);
	} else if (est > s->heap[0].count) {
		s->heap[0] = (struct topk_heap_ent){.count = est, .hash = kh, .key = *key};
		sift_down(s, 0);
	}
}

static void mirror_stats(struct sl_stage *st, const struct topk_state *s)
{
	if (!st->aux || !s->em)
		return;
	struct sl_emit_stats es;
	sl_emit_stats(s->em, &es);
	st->aux[AUX_LINES] = es.lines;
	st->aux[AUX_WERR] = es.write_errors;
}

static void topk_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct topk_state *s = st->state;
	uint64_t now = s->clock.capture ? 0 : sl_wall_ns(&s->wall);
	uint64_t no_time = 0, non_ip = 0, late = 0;

	for (uint16_t i = 0; i < n; i++) {
		uint64_t t = s->clock.capture ? sl_pkt_time(&s->clock, pkts[i], 0) : now;
		if (t == SL_PKT_NO_TIME) {
			no_time++;
			continue;
		}
		struct sl_pkt_key all, key;
		if (!sl_pkt_key_extract(pkts[i], &all)) {
			non_ip++;
			continue;
		}
		uint64_t wi = t / s->size;
		if (s->w != UINT64_MAX && wi > s->w)
			close_window(st, s);
		if (s->w == UINT64_MAX) {
			if (t < s->hi && t / s->size < s->hi / s->size)
				late++; /* its window has been written: counted in this one */
			s->w = RTE_MAX(wi, s->hi / s->size);
		} else if (wi < s->w) {
			late++;
		}
		s->hi = RTE_MAX(s->hi, t);
		sl_pkt_key_mask(s->fields, &all, &key);
		uint64_t kh = sl_hash_bytes(&key, sizeof(key), 0);
		s->total++;
		topk_offer(s, &key, kh, topk_count(s, kh));
	}
	if (st->aux) {
		st->aux[AUX_NO_TIME] += no_time;
		st->aux[AUX_NON_IP] += non_ip;
		st->aux[AUX_LATE] += late;
	}
	mirror_stats(st, s);
	sl_forward(st, 0, pkts, n);
}

static void topk_tick(struct sl_stage *st)
{
	struct topk_state *s = st->state;
	if (!s->clock.capture && s->w != UINT64_MAX) {
		uint64_t now = sl_wall_ns(&s->wall);
		s->hi = RTE_MAX(s->hi, now);
		if (now / s->size > s->w)
			close_window(st, s);
	}
	mirror_stats(st, s);
}

static void topk_fini(struct sl_stage *st)
{
	struct topk_state *s = st->state;
	if (s->em) {
		/* The worker is gone: this thread is the ring's producer now. */
		for (unsigned waited = 0;
		     rte_ring_free_count(s->ring) < s->n_heap && waited < 10000; waited++)
			rte_delay_us_sleep(1000);
		close_window(st, s);
		struct sl_emit_stats es;
		sl_emit_close(s->em, &es);
		s->em = NULL;
		if (st->aux) {
			st->aux[AUX_LINES] = es.lines;
			st->aux[AUX_WERR] = es.write_errors;
		}
	}
	rte_free(s->cms);
	s->cms = NULL;
}

static struct sl_stage_type topk_stage = {
    .name = "topk",
    .help = "heavy hitters per window (count-min sketch + heap), as JSON lines",
    .outputs = topk_outputs,
    .n_outputs = 1,
    .params = topk_params,
    .n_params = RTE_DIM(topk_params),
    .conf_size = sizeof(struct topk_conf),
    .state_size = sizeof(struct topk_state),
    .check = topk_check,
    .n_aux = topk_n_aux,
    .wants_rx_timestamps = topk_wants_ts,
    .tick = topk_tick,
    .init = topk_init,
    .fini = topk_fini,
    .process = topk_process,
};

SL_STAGE_REGISTER(topk_stage)
