/* window.c: the `window` stage counts traffic per key and time window:
 * packets, frame bytes, and the number of distinct values of the address
 * and port fields that are not part of the key (HyperLogLog). Windows are
 * tumbling (slide == size) or sliding (a packet counts in every window that
 * covers its time), on arrival or capture time. When time passes a
 * window's end its records go, by value, to an emitter thread that writes
 * them as JSON lines. Every packet goes on unchanged through `out`. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_malloc.h>
#include <rte_ring_elem.h>

#include "stages/emit.h"
#include "stages/pkt_clock.h"
#include "stages/pkt_key.h"
#include "stages/stage.h"

enum {
	AUX_RECORDS,
	AUX_LOST,
	AUX_OVER,
	AUX_LATE,
	AUX_NO_TIME,
	AUX_NON_IP,
	AUX_LINES,
	AUX_WERR,
	AUX_N
};
static const char *const win_aux_names[AUX_N] = {"records",    "records_lost",	   "over_max_keys",
						 "late",       "no_timestamp",	   "non_ip",
						 "json_lines", "json_write_errors"};
static const char *const win_outputs[] = {"out"};

/* Distinct counts are kept for the address and port fields not in the key. */
#define N_DIST 4 /* src, dst, sport, dport */
static const char *const dist_names[N_DIST] = {"src", "dst", "sport", "dport"};

#define MAX_OPEN 64 /* windows open at once: size / slide */

struct win_conf {
	char *key;
	uint64_t size, slide, size_ms, slide_ms;
	char *time;
	char *emit;
	uint64_t max_keys;
	uint64_t precision;
};

/* One record, as handed to the emitter. */
struct win_rec {
	uint64_t start_ns, end_ns;
	struct sl_pkt_key key;
	uint8_t kind;	  /* index into sl_key_kinds */
	uint8_t overflow; /* the keys that did not fit, together */
	uint8_t pad[6];
	uint64_t packets, bytes;
	uint32_t distinct[N_DIST]; /* for the fields not in the key */
};

struct win_entry {
	struct sl_pkt_key key;
	uint64_t packets, bytes;
};

struct win_slot {
	uint64_t w; /* window index (start / slide); UINT64_MAX: none */
	uint32_t n_used;
	uint64_t over_pkts, over_bytes;
	uint32_t *index;       /* open addressing: entry + 1, 0 empty */
	struct win_entry *ent; /* max_keys */
	uint8_t *regs;	       /* max_keys * n_dist * m */
};

struct win_state {
	struct sl_pkt_clock clock;
	struct sl_wall_clock wall; /* arrival: TSC to wall clock */
	uint64_t size, slide;	   /* ns */
	unsigned n_open, kind, fields, n_dist, p, m;
	uint8_t dist[N_DIST]; /* which fields get a distinct count */
	uint32_t max_keys, index_mask;
	uint64_t hi;	   /* the latest time seen (ns) */
	uint64_t next_end; /* the earliest end of an open window */
	struct win_slot slot[MAX_OPEN];
	struct sl_emitter *em;
	struct rte_ring *ring;
	double alpha;
};

static const struct sl_param win_params[] = {
    {.name = "key",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct win_conf, key),
     .help = "5tuple (default), src, dst, dport or src_dst"},
    {.name = "size",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct win_conf, size),
     .min = 1,
     .max = 86400,
     .def = 10,
     .help = "window length, seconds"},
    {.name = "slide",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct win_conf, slide),
     .min = 0,
     .max = 86400,
     .def = 0,
     .help = "seconds between window starts (0: size, tumbling)"},
    {.name = "size_ms",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct win_conf, size_ms),
     .min = 0,
     .max = 86400000,
     .def = 0,
     .help = "window length in milliseconds (instead of size)"},
    {.name = "slide_ms",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct win_conf, slide_ms),
     .min = 0,
     .max = 86400000,
     .def = 0,
     .help = "slide in milliseconds (instead of slide)"},
    {.name = "time",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct win_conf, time),
     .help = "arrival (default) or capture (the packet's RX timestamp)"},
    {.name = "emit",
     .kind = SL_PARAM_EXPORT,
     .offset = offsetof(struct win_conf, emit),
     .required = true,
     .help = "json:PATH, the file the records are written to"},
    {.name = "max_keys",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct win_conf, max_keys),
     .min = 16,
     .max = 1u << 22,
     .def = 65536,
     .help = "keys counted per window; more are counted together as overflow"},
    {.name = "precision",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct win_conf, precision),
     .min = 4,
     .max = 12,
     .def = 8,
     .help = "HyperLogLog registers 2^precision per distinct count"},
};

static uint64_t len_ms(const struct win_conf *c, bool slide)
{
	if (slide) {
		if (c->slide_ms)
			return c->slide_ms;
		if (c->slide)
			return c->slide * 1000;
		return len_ms(c, false);
	}
	return c->size_ms ? c->size_ms : c->size * 1000;
}

static int win_check(const void *conf, struct sl_check *chk)
{
	const struct win_conf *c = conf;
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
		snprintf(chk->msg, sizeof(chk->msg),
			 "must be json:PATH (window writes JSON lines)");
		return -1;
	}
	uint64_t size = len_ms(c, false), slide = len_ms(c, true);
	if (slide > size || size % slide || size / slide > MAX_OPEN) {
		chk->param = c->slide_ms ? "slide_ms" : "slide";
		snprintf(chk->msg, sizeof(chk->msg),
			 "the slide (%llu ms) must divide the size (%llu ms), at most %u windows "
			 "overlapping",
			 (unsigned long long)slide, (unsigned long long)size, MAX_OPEN);
		return -1;
	}
	return 0;
}

static bool win_wants_ts(const void *conf)
{
	const struct win_conf *c = conf;
	return c->time && !strcmp(c->time, "capture");
}

static unsigned win_n_aux(const void *conf)
{
	(void)conf;
	return AUX_N;
}

/* The emitter's formatter: one JSON object per record. */
static size_t win_json(char *buf, size_t len, const void *rp)
{
	const struct win_rec *r = rp;
	unsigned f = sl_key_kinds[r->kind].fields;
	size_t n = (size_t)snprintf(buf, len, "{\"start_ns\":%llu,\"end_ns\":%llu,\"key\":\"%s\"",
				    (unsigned long long)r->start_ns, (unsigned long long)r->end_ns,
				    sl_key_kinds[r->kind].name);
	if (r->overflow) {
		n += (size_t)snprintf(buf + n, len - n, ",\"overflow\":true");
	} else {
		n += sl_pkt_key_json(buf + n, len - n, f, &r->key);
	}
	n += (size_t)snprintf(buf + n, len - n, ",\"packets\":%llu,\"bytes\":%llu",
			      (unsigned long long)r->packets, (unsigned long long)r->bytes);
	if (!r->overflow)
		for (unsigned d = 0; d < N_DIST; d++)
			if (!(f & (1u << d)))
				n += (size_t)snprintf(buf + n, len - n, ",\"distinct_%s\":%u",
						      dist_names[d], r->distinct[d]);
	n += (size_t)snprintf(buf + n, len - n, "}\n");
	return n;
}

static void free_slots(struct win_state *s)
{
	for (unsigned i = 0; i < MAX_OPEN; i++) {
		rte_free(s->slot[i].index);
		rte_free(s->slot[i].ent);
		rte_free(s->slot[i].regs);
		s->slot[i].index = NULL;
		s->slot[i].ent = NULL;
		s->slot[i].regs = NULL;
	}
}

static int win_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct win_conf *c = st->conf;
	struct win_state *s = st->state;
	if (sl_pkt_clock_init(&s->clock, c->time, err, len) < 0)
		return -1;
	s->kind = (unsigned)sl_key_kind(c->key);
	s->fields = sl_key_kinds[s->kind].fields;
	for (unsigned d = 0; d < N_DIST; d++)
		if (!(s->fields & (1u << d)))
			s->dist[s->n_dist++] = (uint8_t)d;
	s->size = len_ms(c, false) * 1000000;
	s->slide = len_ms(c, true) * 1000000;
	s->n_open = (unsigned)(s->size / s->slide);
	s->p = (unsigned)c->precision;
	s->m = 1u << s->p;
	s->alpha = s->m == 16	? 0.673
		   : s->m == 32 ? 0.697
		   : s->m == 64 ? 0.709
				: 0.7213 / (1.0 + 1.079 / s->m);
	s->max_keys = (uint32_t)c->max_keys;
	s->index_mask = rte_align32pow2(s->max_keys * 2) - 1;
	s->hi = 0;
	s->next_end = UINT64_MAX;
	sl_wall_clock_init(&s->wall);
	for (unsigned i = 0; i < s->n_open; i++) {
		struct win_slot *w = &s->slot[i];
		w->w = UINT64_MAX;
		w->index = rte_zmalloc_socket("sl_win_idx", (size_t)(s->index_mask + 1) * 4,
					      RTE_CACHE_LINE_SIZE, env->socket);
		w->ent = rte_zmalloc_socket("sl_win_ent", (size_t)s->max_keys * sizeof(*w->ent),
					    RTE_CACHE_LINE_SIZE, env->socket);
		w->regs = s->n_dist ? rte_zmalloc_socket("sl_win_hll",
							 (size_t)s->max_keys * s->n_dist * s->m,
							 RTE_CACHE_LINE_SIZE, env->socket)
				    : NULL;
		if (!w->index || !w->ent || (s->n_dist && !w->regs)) {
			snprintf(err, len, "no hugepage memory for %u windows of %u keys",
				 s->n_open, s->max_keys);
			free_slots(s);
			return -1;
		}
	}
	/* Room for a whole window's records twice over: a window that closes
	 * while the thread still writes the previous one loses nothing. */
	unsigned slots = rte_align32pow2(RTE_MAX(s->max_keys * 2 + 2, 1024u));
	s->em = sl_emit_open(c->emit, sizeof(struct win_rec), slots, win_json, env, err, len);
	if (!s->em) {
		free_slots(s);
		return -1;
	}
	s->ring = sl_emit_ring(s->em);
	for (unsigned i = 0; i < AUX_N && env->aux_names; i++)
		snprintf(env->aux_names[i], SL_LABEL_MAX, "%s", win_aux_names[i]);
	return 0;
}

/* The HyperLogLog estimate of registers r (m of them). */
static uint32_t hll_estimate(const struct win_state *s, const uint8_t *r)
{
	double sum = 0;
	unsigned zeros = 0;
	for (unsigned i = 0; i < s->m; i++) {
		sum += ldexp(1.0, -(int)r[i]);
		zeros += r[i] == 0;
	}
	double m = s->m, e = s->alpha * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * log(m / zeros); /* linear counting for small sets */
	return (uint32_t)(e + 0.5);
}

static inline void hll_add(const struct win_state *s, uint8_t *r, uint64_t h)
{
	uint32_t i = (uint32_t)(h >> (64 - s->p));
	uint64_t w = h << s->p;
	uint8_t rho = w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)(64 - s->p + 1);
	if (rho > r[i])
		r[i] = rho;
}

/* Hand the records of slot w to the emitter and empty it. */
static void close_slot(struct sl_stage *st, struct win_state *s, struct win_slot *w)
{
	uint64_t sent = 0, lost = 0;
	struct win_rec r;
	memset(&r, 0, sizeof(r));
	r.start_ns = w->w * s->slide;
	r.end_ns = r.start_ns + s->size;
	r.kind = (uint8_t)s->kind;
	for (uint32_t e = 0; e < w->n_used; e++) {
		struct win_entry *en = &w->ent[e];
		r.key = en->key;
		r.packets = en->packets;
		r.bytes = en->bytes;
		for (unsigned d = 0; d < s->n_dist; d++)
			r.distinct[s->dist[d]] =
			    hll_estimate(s, w->regs + ((size_t)e * s->n_dist + d) * s->m);
		if (rte_ring_sp_enqueue_elem(s->ring, &r, sizeof(r)) == 0)
			sent++;
		else
			lost++;
	}
	if (w->over_pkts) {
		memset(&r.key, 0, sizeof(r.key));
		memset(r.distinct, 0, sizeof(r.distinct));
		r.overflow = 1;
		r.packets = w->over_pkts;
		r.bytes = w->over_bytes;
		if (rte_ring_sp_enqueue_elem(s->ring, &r, sizeof(r)) == 0)
			sent++;
		else
			lost++;
	}
	/* Emptied entry by entry: as cheap as the window was busy. */
	for (uint32_t e = 0; e < w->n_used; e++) {
		uint32_t h = (uint32_t)sl_hash_bytes(&w->ent[e].key, sizeof(struct sl_pkt_key), 0);
		for (uint32_t i = h & s->index_mask;; i = (i + 1) & s->index_mask)
			if (w->index[i] == e + 1) {
				w->index[i] = 0;
				break;
			}
	}
	if (s->n_dist)
		memset(w->regs, 0, (size_t)w->n_used * s->n_dist * s->m);
	w->n_used = 0;
	w->over_pkts = w->over_bytes = 0;
	w->w = UINT64_MAX;
	if (st->aux) {
		st->aux[AUX_RECORDS] += sent;
		st->aux[AUX_LOST] += lost;
	}
}

static void recompute_next_end(struct win_state *s)
{
	s->next_end = UINT64_MAX;
	for (unsigned i = 0; i < s->n_open; i++)
		if (s->slot[i].w != UINT64_MAX)
			s->next_end = RTE_MIN(s->next_end, s->slot[i].w * s->slide + s->size);
}

/* Close every window that ends at or before t, oldest first. */
static void close_until(struct sl_stage *st, struct win_state *s, uint64_t t)
{
	while (s->next_end <= t) {
		struct win_slot *oldest = NULL;
		for (unsigned i = 0; i < s->n_open; i++) {
			struct win_slot *w = &s->slot[i];
			if (w->w != UINT64_MAX && w->w * s->slide + s->size <= t &&
			    (!oldest || w->w < oldest->w))
				oldest = w;
		}
		if (!oldest)
			break;
		close_slot(st, s, oldest);
		recompute_next_end(s);
	}
}

/* The key of the packet (fields not in it zeroed) and the hashes of the
 * fields counted as distinct. */
static void split(const struct win_state *s, const struct sl_pkt_key *all, struct sl_pkt_key *key,
		  uint64_t *fh)
{
	sl_pkt_key_mask(s->fields, all, key);
	for (unsigned d = 0; d < s->n_dist; d++) {
		switch (s->dist[d]) {
		case 0:
			fh[d] = sl_hash_bytes(all->src, 16, 0x51 + all->v6);
			break;
		case 1:
			fh[d] = sl_hash_bytes(all->dst, 16, 0x51 + all->v6);
			break;
		case 2:
			fh[d] = sl_mix64(sl_mix64(all->sport) ^ 0x1234567ull);
			break;
		default:
			fh[d] = sl_mix64(sl_mix64(all->dport) ^ 0x1234567ull);
			break;
		}
	}
}

/* Count a packet in window index wi's slot. */
static void count_in(struct win_state *s, uint64_t wi, const struct sl_pkt_key *key, uint64_t kh,
		     const uint64_t *fh, uint32_t bytes)
{
	struct win_slot *w = &s->slot[wi % s->n_open];
	if (w->w == UINT64_MAX) {
		w->w = wi;
		s->next_end = RTE_MIN(s->next_end, wi * s->slide + s->size);
	}
	if (unlikely(w->w != wi)) /* cannot happen: older ones closed, newer means late */
		return;
	uint32_t i = (uint32_t)kh & s->index_mask, e;
	for (;; i = (i + 1) & s->index_mask) {
		e = w->index[i];
		if (e == 0) {
			if (w->n_used == s->max_keys) {
				w->over_pkts++;
				w->over_bytes += bytes;
				return;
			}
			e = ++w->n_used;
			w->index[i] = e;
			w->ent[e - 1].key = *key;
			w->ent[e - 1].packets = 0;
			w->ent[e - 1].bytes = 0;
			break;
		}
		if (!memcmp(&w->ent[e - 1].key, key, sizeof(*key)))
			break;
	}
	struct win_entry *en = &w->ent[e - 1];
	en->packets++;
	en->bytes += bytes;
	for (unsigned d = 0; d < s->n_dist; d++)
		hll_add(s, w->regs + ((size_t)(e - 1) * s->n_dist + d) * s->m, fh[d]);
}

static void mirror_stats(struct sl_stage *st, const struct win_state *s)
{
	if (!st->aux || !s->em)
		return;
	struct sl_emit_stats es;
	sl_emit_stats(s->em, &es);
	st->aux[AUX_LINES] = es.lines;
	st->aux[AUX_WERR] = es.write_errors;
}

static void win_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct win_state *s = st->state;
	uint64_t now = s->clock.capture ? 0 : sl_wall_ns(&s->wall);
	uint64_t no_time = 0, non_ip = 0, late = 0;
	uint64_t over0 = 0;

	for (uint16_t i = 0; i < n; i++) {
		uint64_t t = s->clock.capture ? sl_pkt_time(&s->clock, pkts[i], 0) : now;
		if (t == SL_PKT_NO_TIME) {
			no_time++;
			continue;
		}
		struct sl_pkt_key all, key;
		uint64_t fh[N_DIST];
		if (!sl_pkt_key_extract(pkts[i], &all)) {
			non_ip++;
			continue;
		}
		if (t > s->hi) {
			s->hi = t;
			close_until(st, s, t);
		}
		split(s, &all, &key, fh);
		uint64_t kh = sl_hash_bytes(&key, sizeof(key), 0);
		uint64_t top = t / s->slide;
		bool was_late = false;
		for (unsigned j = 0; j < s->n_open && j <= top; j++) {
			uint64_t wi = top - j;
			if (wi * s->slide + s->size <= s->hi) {
				was_late = true; /* that window has been emitted */
				continue;
			}
			struct win_slot *w = &s->slot[wi % s->n_open];
			over0 = w->over_pkts;
			count_in(s, wi, &key, kh, fh, rte_pktmbuf_pkt_len(pkts[i]));
			if (st->aux && w->over_pkts != over0)
				st->aux[AUX_OVER]++;
		}
		late += was_late;
	}
	if (st->aux) {
		st->aux[AUX_NO_TIME] += no_time;
		st->aux[AUX_NON_IP] += non_ip;
		st->aux[AUX_LATE] += late;
	}
	mirror_stats(st, s);
	sl_forward(st, 0, pkts, n);
}

/* Arrival time goes on without packets: windows close on the clock. */
static void win_tick(struct sl_stage *st)
{
	struct win_state *s = st->state;
	if (!s->clock.capture) {
		uint64_t now = sl_wall_ns(&s->wall);
		if (now > s->hi) {
			s->hi = now;
			close_until(st, s, now);
		}
	}
	mirror_stats(st, s);
}

/* At a stop the open windows are emitted as they stand, oldest first. */
static void win_fini(struct sl_stage *st)
{
	struct win_state *s = st->state;
	if (s->em) {
		/* The worker is gone: this thread is the ring's producer now,
		 * and waits for room (up to 10 s without progress). */
		for (;;) {
			struct win_slot *oldest = NULL;
			for (unsigned i = 0; i < s->n_open; i++)
				if (s->slot[i].w != UINT64_MAX &&
				    (!oldest || s->slot[i].w < oldest->w))
					oldest = &s->slot[i];
			if (!oldest)
				break;
			for (unsigned waited = 0;
			     rte_ring_free_count(s->ring) < oldest->n_used + 1 && waited < 10000;
			     waited++)
				usleep(1000);
			close_slot(st, s, oldest);
		}
		struct sl_emit_stats es;
		sl_emit_close(s->em, &es);
		s->em = NULL;
		if (st->aux) {
			st->aux[AUX_LINES] = es.lines;
			st->aux[AUX_WERR] = es.write_errors;
		}
	}
	free_slots(s);
}

static struct sl_stage_type window_stage = {
    .name = "window",
    .help = "per key and time window: packets, bytes and distinct counts, as JSON lines",
    .outputs = win_outputs,
    .n_outputs = 1,
    .params = win_params,
    .n_params = RTE_DIM(win_params),
    .conf_size = sizeof(struct win_conf),
    .state_size = sizeof(struct win_state),
    .check = win_check,
    .n_aux = win_n_aux,
    .wants_rx_timestamps = win_wants_ts,
    .tick = win_tick,
    .init = win_init,
    .fini = win_fini,
    .process = win_process,
};

SL_STAGE_REGISTER(window_stage)
