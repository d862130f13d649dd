/* observe.c: the worker side of live capture and packet trace (the hooks
 * stage.h calls while st->obs is set) and their set-up and teardown on the
 * management thread. A capture clones matching packets into one SP/SC ring
 * per observed instance and a pcapng_writer thread writes them; a full ring
 * drops the copy, never the packet. A trace marks the packets it picks at
 * the sources with an mbuf dynflag and their slot in a dynfield, and every
 * hook that sees a marked packet appends an event to that slot. */
#include "stages/observe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>

#include "stages/pcap_filter.h"
#include "stages/pcapng_writer.h"

/* ---- live capture ---- */

/* Written by the core running the instance only. */
struct cap_slot {
	uint64_t matched;
	uint64_t dropped;
} __rte_cache_aligned;

struct obs_capture {
	struct sl_pcapng_writer w;
	struct sl_pcap_filter f;
	bool has_filter;
	uint64_t count;	   /* 0: no limit */
	uint64_t enqueued; /* all producers, atomic */
	struct sl_stage **st;
	unsigned n;
	char point[2 * SL_NAME_MAX + SL_LABEL_MAX];
	struct cap_slot slots[SL_PCAPNG_MAX_RINGS];
};

static struct obs_capture *cap;	  /* management thread's */
static struct obs_capture *cap_w; /* what the workers see (acquire) */

static void capture_burst(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct obs_capture *c = __atomic_load_n(&cap_w, __ATOMIC_ACQUIRE);
	if (!c)
		return;
	uint64_t done = __atomic_load_n(&c->enqueued, __ATOMIC_RELAXED);
	if (c->count && done >= c->count)
		return;
	struct cap_slot *sl = &c->slots[st->obs_slot];
	struct rte_ring *ring = c->w.rings[st->obs_slot];
	/* This instance is the ring's only producer, so its room can only
	 * grow from here: a copy that cannot fit costs a count, not a clone
	 * and a free. */
	unsigned room = rte_ring_free_count(ring);
	struct sl_cap_item items[SL_BURST_MAX];
	uint64_t tsc = rte_rdtsc();
	uint16_t k = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (c->has_filter && !sl_pcap_filter_match(&c->f, pkts[i]))
			continue;
		/* Several producers may overshoot the count by a burst; the
		 * writer writes no more than it. */
		if (c->count && done + k >= c->count)
			break;
		sl->matched++;
		if (k >= room) {
			sl->dropped++;
			continue;
		}
		struct rte_mbuf *m = rte_pktmbuf_clone(pkts[i], c->w.clone_pool);
		if (unlikely(!m)) {
			sl->dropped++;
			continue;
		}
		items[k].m = m;
		items[k++].tsc = tsc;
	}
	if (!k)
		return;
	unsigned sent = rte_ring_sp_enqueue_burst_elem(ring, items, sizeof(items[0]), k, NULL);
	if (unlikely(sent < k)) {
		sl->dropped += k - sent;
		for (unsigned j = sent; j < k; j++)
			rte_pktmbuf_free(items[j].m);
	}
	__atomic_fetch_add(&c->enqueued, sent, __ATOMIC_RELAXED);
}

int sl_obs_capture_start(const struct sl_obs_capture_req *r, char *err, size_t len)
{
	if (cap) {
		snprintf(err, len, "a capture of '%s' is running (one at a time)", cap->point);
		return -1;
	}
	if (r->n == 0 || r->n > SL_PCAPNG_MAX_RINGS) {
		snprintf(err, len, "'%s' has %u instances (a capture takes 1 to %u)", r->point,
			 r->n, SL_PCAPNG_MAX_RINGS);
		return -1;
	}
	struct obs_capture *c = rte_zmalloc("sl_obs_capture", sizeof(*c), RTE_CACHE_LINE_SIZE);
	if (!c) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	c->st = malloc(r->n * sizeof(*c->st));
	if (!c->st) {
		rte_free(c);
		snprintf(err, len, "out of memory");
		return -1;
	}
	memcpy(c->st, r->st, r->n * sizeof(*c->st));
	c->n = r->n;
	c->count = r->count;
	snprintf(c->point, sizeof(c->point), "%s", r->point);
	char msg[512];
	if (r->filter && *r->filter) {
		if (sl_pcap_filter_load(&c->f, r->filter, msg, sizeof(msg)) < 0) {
			snprintf(err, len, "filter: %s", msg);
			goto fail;
		}
		c->has_filter = true;
	}
	if (sl_pcapng_writer_open(&c->w, r->fd, r->point, r->snaplen, r->n, r->queue, r->socket,
				  r->point, "the capture pipe", msg, sizeof(msg)) < 0) {
		snprintf(err, len, "%s", msg);
		goto fail;
	}
	c->w.max_write = r->count;
	cap = c;
	__atomic_store_n(&cap_w, c, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < c->n; i++) {
		struct sl_stage *st = c->st[i];
		st->obs_slot = (uint8_t)i;
		st->obs_port = r->port < 0 ? 0 : (uint8_t)r->port;
		__atomic_fetch_or(&st->obs, r->port < 0 ? SL_OBS_IN : SL_OBS_OUT, __ATOMIC_RELEASE);
	}
	return 0;
fail:
	sl_pcapng_writer_close(&c->w, false, 0, 0);
	sl_pcap_filter_free(&c->f);
	free(c->st);
	rte_free(c);
	return -1;
}

bool sl_obs_capture_active(void)
{
	return cap != NULL;
}

const char *sl_obs_capture_point(void)
{
	return cap ? cap->point : NULL;
}

void sl_obs_capture_get(struct sl_obs_capture_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!cap)
		return;
	for (unsigned i = 0; i < cap->n; i++) {
		s->matched += __atomic_load_n(&cap->slots[i].matched, __ATOMIC_RELAXED);
		s->dropped += __atomic_load_n(&cap->slots[i].dropped, __ATOMIC_RELAXED);
	}
	s->written = sl_pcapng_writer_get(&cap->w.w_written);
	s->errors = sl_pcapng_writer_get(&cap->w.w_errors);
	s->write_errno = __atomic_load_n(&cap->w.w_failed, __ATOMIC_ACQUIRE);
}

bool sl_obs_capture_done(void)
{
	struct sl_obs_capture_stats s;
	if (!cap)
		return false;
	sl_obs_capture_get(&s);
	return s.write_errno || (cap->count && s.written + s.errors >= cap->count);
}

void sl_obs_capture_detach(void)
{
	if (!cap)
		return;
	for (unsigned i = 0; i < cap->n; i++)
		__atomic_fetch_and(&cap->st[i]->obs, (uint8_t) ~(SL_OBS_IN | SL_OBS_OUT),
				   __ATOMIC_RELEASE);
	__atomic_store_n(&cap_w, NULL, __ATOMIC_RELEASE);
}

void sl_obs_capture_finish(struct sl_obs_capture_stats *s)
{
	struct sl_obs_capture_stats tmp;
	if (!s)
		s = &tmp;
	memset(s, 0, sizeof(*s));
	if (!cap)
		return;
	/* Let the writer write what was queued before the statistics. */
	__atomic_store_n(&cap->w.stop, true, __ATOMIC_RELEASE);
	if (cap->w.thread_running) {
		pthread_join(cap->w.thread, NULL);
		cap->w.thread_running = false;
	}
	sl_obs_capture_get(s);
	/* ifrecv: the packets that matched at the point while the capture
	 * ran; ifdrop: the copies of them that were lost. */
	sl_pcapng_writer_close(&cap->w, true, s->matched, s->dropped);
	sl_pcap_filter_free(&cap->f);
	free(cap->st);
	rte_free(cap);
	cap = NULL;
}

/* ---- packet trace ---- */

struct obs_trace {
	uint32_t gen;	/* in the dynfield's high half: a mark of an older trace is not ours */
	uint32_t want;	/* packets to pick */
	uint32_t taken; /* picked so far (atomic) */
	uint64_t last_tsc;
	struct sl_pcap_filter f;
	bool has_filter;
	struct sl_stage **st;
	unsigned n;
	struct sl_trace_slot slots[];
};

static struct obs_trace *tr;   /* management thread's */
static struct obs_trace *tr_w; /* what the workers see */
static uint32_t tr_gen;
static uint64_t trace_flag;
static int trace_off = -1;

static inline uint32_t *trace_id(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, trace_off, uint32_t *);
}

static void trace_event(struct obs_trace *t, struct rte_mbuf *m, const struct sl_stage *st,
			uint8_t kind, uint16_t arg, uint64_t tsc)
{
	uint32_t id = *trace_id(m);
	if ((id >> 16) != (t->gen & 0xffff) || (id & 0xffff) >= t->want)
		return;
	struct sl_trace_slot *s = &t->slots[id & 0xffff];
	uint32_t i = __atomic_fetch_add(&s->n_ev, 1, __ATOMIC_RELAXED);
	if (i >= SL_TRACE_EVENTS)
		return;
	s->ev[i] = (struct sl_trace_event){tsc, st, (uint16_t)rte_lcore_id(), kind, arg};
	__atomic_store_n(&t->last_tsc, tsc, __ATOMIC_RELAXED);
}

static inline struct obs_trace *trace_get(void)
{
	return __atomic_load_n(&tr_w, __ATOMIC_ACQUIRE);
}

/* A source's burst: unmark every packet (a mark must not come from an
 * mbuf's earlier life), then pick the next ones that match. */
static void trace_pick(struct obs_trace *t, struct rte_mbuf **pkts, uint16_t n, uint64_t tsc,
		       const struct sl_stage *st)
{
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		m->ol_flags &= ~trace_flag;
		if (__atomic_load_n(&t->taken, __ATOMIC_RELAXED) >= t->want)
			continue;
		if (t->has_filter && !sl_pcap_filter_match(&t->f, m))
			continue;
		uint32_t slot = __atomic_fetch_add(&t->taken, 1, __ATOMIC_RELAXED);
		if (slot >= t->want)
			continue;
		m->ol_flags |= trace_flag;
		*trace_id(m) = (t->gen & 0xffff) << 16 | slot;
		t->slots[slot].len = rte_pktmbuf_pkt_len(m);
		trace_event(t, m, st, SL_TRACE_ENTER, 0, tsc);
	}
}

static void trace_burst(const struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n, uint8_t kind,
			uint16_t arg)
{
	struct obs_trace *t = trace_get();
	if (!t)
		return;
	uint64_t tsc = 0;
	for (uint16_t i = 0; i < n; i++)
		if (pkts[i]->ol_flags & trace_flag) {
			if (!tsc)
				tsc = rte_rdtsc();
			trace_event(t, pkts[i], st, kind, arg, tsc);
		}
}

void sl_obs_in(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	uint8_t o = __atomic_load_n(&st->obs, __ATOMIC_RELAXED);
	if (o & SL_OBS_TRACE)
		trace_burst(st, pkts, n, SL_TRACE_ENTER, 0);
	if (o & SL_OBS_IN)
		capture_burst(st, pkts, n);
}

void sl_obs_out(struct sl_stage *st, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint8_t o = __atomic_load_n(&st->obs, __ATOMIC_RELAXED);
	if (o & SL_OBS_TRACE) {
		struct obs_trace *t = trace_get();
		if (t && st->type->is_source)
			trace_pick(t, pkts, n, rte_rdtsc(), st);
		trace_burst(st, pkts, n, SL_TRACE_OUT, port);
	}
	if ((o & SL_OBS_OUT) && port == st->obs_port)
		capture_burst(st, pkts, n);
}

void sl_obs_drop(struct sl_stage *st, uint16_t reason, struct rte_mbuf **pkts, uint16_t n)
{
	if (__atomic_load_n(&st->obs, __ATOMIC_RELAXED) & SL_OBS_TRACE)
		trace_burst(st, pkts, n, SL_TRACE_DROP, reason);
}

void sl_obs_split(struct sl_stage *st, struct rte_mbuf **pkts, const uint16_t *next, uint16_t n)
{
	if (!(__atomic_load_n(&st->obs, __ATOMIC_RELAXED) & SL_OBS_TRACE))
		return;
	/* Forwarded packets are seen by sl_forward; the dropped ones here. */
	for (uint16_t i = 0; i < n; i++)
		if (SL_IS_DROP(next[i]))
			trace_burst(st, &pkts[i], 1, SL_TRACE_DROP, next[i] & 0x7fff);
}

int sl_obs_trace_start(struct sl_stage **st, unsigned n, unsigned count, const char *filter,
		       char *err, size_t len)
{
	if (tr) {
		snprintf(err, len, "a trace is running (one at a time)");
		return -1;
	}
	if (count == 0 || count > SL_TRACE_MAX) {
		snprintf(err, len, "count must be 1 to %u", SL_TRACE_MAX);
		return -1;
	}
	if (trace_off < 0) {
		static const struct rte_mbuf_dynfield fd = {.name = "sl_trace_id",
							    .size = sizeof(uint32_t),
							    .align = __alignof__(uint32_t)};
		static const struct rte_mbuf_dynflag fl = {.name = "sl_trace_flag"};
		int off = rte_mbuf_dynfield_register(&fd);
		int bit = off < 0 ? -1 : rte_mbuf_dynflag_register(&fl);
		if (off < 0 || bit < 0) {
			snprintf(err, len, "cannot register the trace mbuf field: %s",
				 rte_strerror(rte_errno));
			return -1;
		}
		trace_off = off;
		trace_flag = UINT64_C(1) << bit;
	}
	struct obs_trace *t = rte_zmalloc(
	    "sl_obs_trace", sizeof(*t) + count * sizeof(struct sl_trace_slot), RTE_CACHE_LINE_SIZE);
	struct sl_stage **copy = malloc((n ? n : 1) * sizeof(*copy));
	if (!t || !copy) {
		rte_free(t);
		free(copy);
		snprintf(err, len, "out of memory");
		return -1;
	}
	if (filter && *filter) {
		char msg[512];
		if (sl_pcap_filter_load(&t->f, filter, msg, sizeof(msg)) < 0) {
			snprintf(err, len, "filter: %s", msg);
			rte_free(t);
			free(copy);
			return -1;
		}
		t->has_filter = true;
	}
	memcpy(copy, st, n * sizeof(*copy));
	t->st = copy;
	t->n = n;
	t->want = count;
	t->gen = ++tr_gen;
	tr = t;
	__atomic_store_n(&tr_w, t, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < n; i++)
		__atomic_fetch_or(&st[i]->obs, SL_OBS_TRACE, __ATOMIC_RELEASE);
	return 0;
}

bool sl_obs_trace_active(void)
{
	return tr != NULL;
}

unsigned sl_obs_trace_taken(uint64_t *last_tsc)
{
	if (!tr)
		return 0;
	if (last_tsc)
		*last_tsc = __atomic_load_n(&tr->last_tsc, __ATOMIC_RELAXED);
	uint32_t n = __atomic_load_n(&tr->taken, __ATOMIC_RELAXED);
	return n < tr->want ? n : tr->want;
}

void sl_obs_trace_detach(void)
{
	if (!tr)
		return;
	for (unsigned i = 0; i < tr->n; i++)
		__atomic_fetch_and(&tr->st[i]->obs, (uint8_t)~SL_OBS_TRACE, __ATOMIC_RELEASE);
	__atomic_store_n(&tr_w, NULL, __ATOMIC_RELEASE);
}

const struct sl_trace_slot *sl_obs_trace_result(unsigned *n)
{
	*n = sl_obs_trace_taken(NULL);
	return tr ? tr->slots : NULL;
}

void sl_obs_trace_free(void)
{
	if (!tr)
		return;
	sl_pcap_filter_free(&tr->f);
	free(tr->st);
	rte_free(tr);
	tr = NULL;
}
