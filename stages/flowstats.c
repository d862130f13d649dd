/* flowstats.c: the `flowstats` stage keeps one record per unidirectional
 * flow (5-tuple plus VLAN id) in an rte_hash: packets, IP bytes, first and
 * last seen, the OR of the TCP flags. A record ends on idle or active
 * timeout, TCP FIN/RST, a full table, or shutdown, and is handed by value
 * to the exporter (flow_export.h) through an SP/SC ring: the worker never
 * encodes, sends or allocates. Every packet goes on unchanged. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_random.h>
#include <rte_malloc.h>
#include <rte_mbuf_ptype.h>
#include <rte_prefetch.h>
#include <rte_ring_elem.h>

#include "stages/flow_export.h"
#include "stages/stage.h"

/* Expiry is amortized: each burst, and each worker tick (so a silent input
 * too), scans a bounded stretch of the table from a cursor, as many slots as
 * the time since the last scan earns at a pace of one whole sweep per
 * sweep_ms (a quarter of the shorter timeout, at least 100 ms), and never
 * more than FS_SCAN_MAX. At high packet rates that is a slot or two per
 * burst; a record ends within sweep_ms of its timeout. */
#define FS_SCAN_MAX 1024
#define FS_MIN_SWEEP_MS 100
#define FS_RING_SLOTS 65536 /* records between the worker and the exporter */
#define FS_MIN_FLOWS 64
#define FS_MAX_FLOWS (1u << 25)

enum {
	AUX_FLOWS,
	AUX_RECORDS,
	AUX_LOST,
	AUX_TABLE_FULL,
	AUX_END_IDLE,
	AUX_END_ACTIVE,
	AUX_END_FIN_RST,
	AUX_NON_IP,
	AUX_UNPARSED,
	AUX_EXPORTED,
	AUX_MESSAGES,
	AUX_SEND_ERRORS,
	AUX_JSON_LINES,
	AUX_WRITE_ERRORS,
	AUX_N
};
static const char *const fs_aux_names[AUX_N] = {
    "flows",	      "records",	   "records_lost", "table_full",	"end_idle",
    "end_active",     "end_fin_rst",	   "non_ip",	   "unparsed",		"exported",
    "ipfix_messages", "ipfix_send_errors", "json_lines",   "json_write_errors",
};

static const char *const fs_outputs[] = {"out"};

struct fs_conf {
	uint64_t max_flows;
	uint64_t idle_timeout;
	uint64_t active_timeout;
	struct sl_strlist exports;
	uint64_t template_refresh;
	uint64_t observation_domain;
};

static const struct sl_param fs_params[] = {
    {.name = "max_flows",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct fs_conf, max_flows),
     .min = FS_MIN_FLOWS,
     .max = FS_MAX_FLOWS,
     .def = 1u << 20,
     .help = "flows the table holds (its memory is taken at start)"},
    {.name = "idle_timeout",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct fs_conf, idle_timeout),
     .min = 1,
     .max = 86400,
     .def = 15,
     .help = "seconds without a packet that end a flow's record"},
    {.name = "active_timeout",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct fs_conf, active_timeout),
     .min = 1,
     .max = 86400,
     .def = 60,
     .help = "seconds after its first packet that a flow's record is reported"},
    {.name = "export",
     .kind = SL_PARAM_EXPORTS,
     .offset = offsetof(struct fs_conf, exports),
     .required = true,
     .help = "where records go: ipfix://HOST:PORT (UDP) and/or json:PATH"},
    {.name = "template_refresh",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct fs_conf, template_refresh),
     .min = 1,
     .max = 86400,
     .def = 600,
     .help = "seconds between resends of the IPFIX templates"},
    {.name = "observation_domain",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct fs_conf, observation_domain),
     .min = 0,
     .max = UINT32_MAX,
     .def = 1,
     .help = "IPFIX observation domain id"},
};

/* A flow's counts, at the table position of its key: 32 bytes, two to a
 * cache line and never across one, so each packet's update is one line.
 * The times are milliseconds since the epoch, kept modulo 2^32: a live
 * record is never older than its active timeout (at most a day) plus a
 * sweep, far inside the 49 days the difference of two such stamps covers. */
struct fs_flow {
	uint64_t packets;
	uint64_t bytes;
	uint32_t first, last;
	uint16_t flags;
	uint8_t used;
	uint8_t pad[5];
} __rte_aligned(32);

/* One burst's flow keys, what each packet adds, and where its flow sits. */
struct fs_batch {
	struct sl_flow_key keys[SL_BURST_MAX];
	const void *kp[SL_BURST_MAX];
	hash_sig_t sig[SL_BURST_MAX];
	int32_t pos[SL_BURST_MAX];
	uint32_t bytes[SL_BURST_MAX];
	uint16_t tflags[SL_BURST_MAX];
	uint16_t n;
	uint64_t now; /* ms, when its packets arrived */
};

struct fs_state {
	struct rte_hash *h;
	struct fs_flow *flows; /* slots entries, indexed by key position */
	uint32_t cap;	       /* max_flows: the records the stage keeps */
	uint32_t slots;	       /* the table's key positions (at least cap) */
	uint32_t cursor; /* the expiry scan's next slot */
	uint64_t idle_ms, active_ms;
	uint64_t sweep_ms, last_scan_ms, credit; /* slots owed = credit / sweep_ms */
	uint64_t base_ms, base_tsc, hz;		 /* TSC to wall-clock milliseconds */
	uint64_t active;			 /* flows in the table */
	struct sl_flow_exporter *x;
	struct rte_ring *ring;
	/* Two bursts' keys: the one being looked up and the one whose flows'
	 * counts wait for the next call (see fs_process). */
	struct fs_batch b[2];
	uint8_t cur; /* b[cur] is filled next; b[cur ^ 1] is pending */
	uint16_t n_recs;
	struct sl_flow_rec recs[SL_BURST_MAX + FS_SCAN_MAX];
};

static int fs_check(const void *conf, struct sl_check *chk)
{
	const struct fs_conf *c = conf;
	if (c->exports.n == 0) {
		chk->param = "export";
		snprintf(chk->msg, sizeof(chk->msg),
			 "needs at least one target (ipfix://HOST:PORT or json:PATH)");
		return -1;
	}
	return 0;
}

static unsigned fs_n_aux(const void *conf)
{
	(void)conf;
	return AUX_N;
}

static inline uint64_t now_ms(const struct fs_state *s, uint64_t tsc)
{
	/* Split so that tsc * 1000 cannot overflow however long we run. */
	uint64_t d = tsc - s->base_tsc;
	return s->base_ms + d / s->hz * 1000 + d % s->hz * 1000 / s->hz;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

enum { KEY_OK, KEY_NON_IP, KEY_UNPARSED };

/* The flow key of m and what it adds (IP bytes, TCP flags), from the
 * headers parse found; every read is bounded by pkt_len. */
static inline int flow_key(const struct rte_mbuf *m, struct sl_flow_key *k, uint32_t *bytes,
			   uint16_t *flags)
{
	if (!sl_parsed_flag || !(m->ol_flags & sl_parsed_flag))
		return KEY_UNPARSED;
	uint32_t pt = m->packet_type;
	uint32_t l4 = pt & RTE_PTYPE_L4_MASK;
	uint8_t buf[40];
	const uint8_t *ip;

	memset(k, 0, sizeof(*k));
	*flags = 0;
	if (RTE_ETH_IS_IPV4_HDR(pt)) {
		if (!(ip = rte_pktmbuf_read(m, m->l2_len, 20, buf)))
			return KEY_NON_IP;
		memcpy(k->src, ip + 12, 4);
		memcpy(k->dst, ip + 16, 4);
		k->proto = ip[9];
		*bytes = rd16(ip + 2);
	} else if (RTE_ETH_IS_IPV6_HDR(pt)) {
		if (!(ip = rte_pktmbuf_read(m, m->l2_len, 40, buf)))
			return KEY_NON_IP;
		memcpy(k->src, ip + 8, 16);
		memcpy(k->dst, ip + 24, 16);
		k->v6 = 1;
		/* Past extension headers parse knows the L4 type only. */
		k->proto = l4 == RTE_PTYPE_L4_TCP    ? IPPROTO_TCP
			   : l4 == RTE_PTYPE_L4_UDP  ? IPPROTO_UDP
			   : l4 == RTE_PTYPE_L4_ICMP ? IPPROTO_ICMPV6
						     : ip[6];
		*bytes = 40u + rd16(ip + 4);
	} else {
		return KEY_NON_IP;
	}
	uint32_t l2 = pt & RTE_PTYPE_L2_MASK;
	if (l2 == RTE_PTYPE_L2_ETHER_VLAN || l2 == RTE_PTYPE_L2_ETHER_QINQ) {
		/* From the frame: an mbuf's vlan_tci may be left from its
		 * previous use when this frame has no tag. */
		const uint8_t *v = rte_pktmbuf_read(m, 14, 2, buf);
		k->vlan = v ? rd16(v) & 0xfff : 0;
	}
	uint32_t off = (uint32_t)m->l2_len + m->l3_len;
	const uint8_t *t;
	if (l4 == RTE_PTYPE_L4_TCP && (t = rte_pktmbuf_read(m, off, 14, buf))) {
		k->sport = rd16(t);
		k->dport = rd16(t + 2);
		*flags = (uint16_t)((t[12] & 1) << 8 | t[13]);
	} else if (l4 == RTE_PTYPE_L4_UDP && (t = rte_pktmbuf_read(m, off, 4, buf))) {
		k->sport = rd16(t);
		k->dport = rd16(t + 2);
	} else if (l4 == RTE_PTYPE_L4_ICMP && (t = rte_pktmbuf_read(m, off, 2, buf))) {
		k->dport = rd16(t); /* type << 8 | code */
	}
	return KEY_OK;
}

/* The full time of a stamp kept modulo 2^32, from the present. */
static inline uint64_t stamp_ms(uint64_t now, uint32_t t)
{
	return now - (uint32_t)((uint32_t)now - t);
}

static inline void fill_rec(struct sl_flow_rec *r, const struct sl_flow_key *k,
			    const struct fs_flow *f, uint8_t reason, uint64_t now)
{
	memset(r, 0, sizeof(*r));
	memcpy(&r->key, k, sizeof(r->key));
	r->tcp_flags = f->flags;
	r->reason = reason;
	r->packets = f->packets;
	r->bytes = f->bytes;
	r->first_ms = stamp_ms(now, f->first);
	r->last_ms = stamp_ms(now, f->last);
}

static inline struct sl_flow_rec *emit(struct fs_state *s, const struct sl_flow_key *k,
				       const struct fs_flow *f, uint8_t reason, uint64_t now)
{
	struct sl_flow_rec *r = &s->recs[s->n_recs++];
	fill_rec(r, k, f, reason, now);
	return r;
}

static inline uint8_t timed_out(const struct fs_state *s, const struct fs_flow *f, uint64_t now)
{
	if ((uint32_t)((uint32_t)now - f->last) >= s->idle_ms)
		return SL_FLOW_END_IDLE;
	if ((uint32_t)((uint32_t)now - f->first) >= s->active_ms)
		return SL_FLOW_END_ACTIVE;
	return 0;
}

/* Remove the flow at position p, whose key is k (a copy: the table's own
 * copy goes with the entry). */
static inline void forget(struct fs_state *s, uint32_t p, const struct sl_flow_key *k)
{
	rte_hash_del_key(s->h, k);
	s->flows[p].used = 0;
	s->active--;
}

/* The exporter's counts into aux, which only the worker writes (a graph
 * load may move aux; the exporter never touches it). */
static void mirror(struct sl_stage *st)
{
	const struct fs_state *s = st->state;
	struct sl_flow_export_stats xs;
	uint64_t *a = st->aux;
	sl_flow_export_stats(s->x, &xs);
	a[AUX_EXPORTED] = xs.records;
	a[AUX_MESSAGES] = xs.messages;
	a[AUX_SEND_ERRORS] = xs.send_errors;
	a[AUX_JSON_LINES] = xs.json_lines;
	a[AUX_WRITE_ERRORS] = xs.write_errors;
}

/* The amortized expiry scan, then every record of this burst (or tick) to
 * the exporter's ring, then the counters. */
static void expire_and_hand_off(struct sl_stage *st, uint64_t now)
{
	struct fs_state *s = st->state;
	uint64_t idle = 0, act = 0;
	uint64_t el = now > s->last_scan_ms ? RTE_MIN(now - s->last_scan_ms, s->sweep_ms) : 0;
	s->last_scan_ms = RTE_MAX(now, s->last_scan_ms);
	s->credit += el * s->slots;
	uint64_t owed = s->credit / s->sweep_ms;
	if (owed > FS_SCAN_MAX) {
		owed = FS_SCAN_MAX;
		s->credit = 0;
	} else {
		s->credit -= owed * s->sweep_ms;
	}
	for (uint32_t j = 0, lim = (uint32_t)RTE_MIN(owed, (uint64_t)s->slots); j < lim; j++) {
		uint32_t p = s->cursor;
		s->cursor = p + 1 == s->slots ? 0 : p + 1;
		struct fs_flow *f = &s->flows[p];
		uint8_t why;
		void *kp;
		if (!f->used || !(why = timed_out(s, f, now)) ||
		    rte_hash_get_key_with_position(s->h, (int32_t)p, &kp) < 0)
			continue;
		struct sl_flow_rec *r = emit(s, kp, f, why, now);
		forget(s, p, &r->key);
		idle += why == SL_FLOW_END_IDLE;
		act += why == SL_FLOW_END_ACTIVE;
	}
	unsigned sent = 0;
	if (s->n_recs)
		sent = rte_ring_sp_enqueue_burst_elem(s->ring, s->recs, sizeof(s->recs[0]),
						      s->n_recs, NULL);
	if (likely(st->aux != NULL)) {
		uint64_t *a = st->aux;
		a[AUX_FLOWS] = s->active;
		a[AUX_RECORDS] += sent;
		a[AUX_LOST] += s->n_recs - sent; /* a full ring: counted, never waited on */
		a[AUX_END_IDLE] += idle;
		a[AUX_END_ACTIVE] += act;
		mirror(st);
	}
	s->n_recs = 0;
}

/* The counts of the pending burst into its flows. Its positions were
 * looked up in the previous call, and the table has not changed since
 * (every change goes through here or the expiry scan, which runs after
 * this); its flows' cache lines were fetched meanwhile. */
static void apply_pending(struct sl_stage *st)
{
	struct fs_state *s = st->state;
	struct fs_batch *b = &s->b[s->cur ^ 1];
	uint64_t now = b->now, full = 0, fin = 0;
	/* Once a flow ended within the burst its position may be taken by a
	 * new flow: the positions looked up in bulk no longer hold, so the
	 * rest of the burst looks up one by one. */
	bool stale = false;
	for (uint16_t k = 0; k < b->n; k++) {
		int32_t p =
		    stale ? rte_hash_lookup_with_hash(s->h, b->kp[k], b->sig[k]) : b->pos[k];
		/* The table has room for more keys than max_flows (a half-full
		 * table keeps keys in their first bucket); the records stop at
		 * max_flows. An add of a key already added earlier in the
		 * burst returns that key's position. */
		if (p < 0 && s->active < s->cap)
			p = rte_hash_add_key_with_hash(s->h, b->kp[k], b->sig[k]);
		if (p < 0) {
			/* Table full: the packet is reported alone, as its own
			 * record ended for lack of resources. */
			struct fs_flow one = {.packets = 1,
					      .bytes = b->bytes[k],
					      .first = (uint32_t)now,
					      .last = (uint32_t)now,
					      .flags = b->tflags[k],
					      .used = 1};
			emit(s, &b->keys[k], &one, SL_FLOW_END_LACK, now);
			full++;
			continue;
		}
		struct fs_flow *f = &s->flows[p];
		if (!f->used) {
			*f = (struct fs_flow){.first = (uint32_t)now, .used = 1};
			s->active++;
		}
		f->packets++;
		f->bytes += b->bytes[k];
		f->last = (uint32_t)now;
		f->flags |= b->tflags[k];
		if (b->tflags[k] & 0x05) { /* FIN or RST */
			emit(s, &b->keys[k], f, SL_FLOW_END_EOF, now);
			rte_hash_del_key_with_hash(s->h, b->kp[k], b->sig[k]);
			f->used = 0;
			s->active--;
			stale = true;
			fin++;
		}
	}
	b->n = 0;
	if (likely(st->aux != NULL)) {
		uint64_t *a = st->aux;
		a[AUX_TABLE_FULL] += full;
		a[AUX_END_FIN_RST] += fin;
	}
}

/* On the worker about every 50 us, traffic or not: the pending burst's
 * counts land, flows of a silent input still end on their timeouts, and
 * the exporter's counts settle. */
static void fs_tick(struct sl_stage *st)
{
	struct fs_state *s = st->state;
	apply_pending(st);
	expire_and_hand_off(st, now_ms(s, rte_rdtsc()));
}

/* A burst's flows are three dependent cache misses per packet on a large
 * table: the bucket, the key, then the counts. The first two are rte_hash's
 * bulk lookup; the third is overlapped with the rest of the pipeline: this
 * call looks its burst up and prefetches the counts, and the next call (or
 * the tick, within about 50 us) adds them, when they are in cache. Packets
 * go on at once; only the counters lag, by one burst. */
static void fs_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct fs_state *s = st->state;
	struct fs_batch *b = &s->b[s->cur];
	uint64_t now = now_ms(s, rte_rdtsc());
	uint64_t non_ip = 0, unparsed = 0;
	uint16_t nk = 0;

	for (uint16_t i = 0; i < n; i++) {
		int r = flow_key(pkts[i], &b->keys[nk], &b->bytes[nk], &b->tflags[nk]);
		if (r == KEY_OK) {
			b->kp[nk] = &b->keys[nk];
			b->sig[nk] = rte_hash_hash(s->h, &b->keys[nk]);
			nk++;
		} else if (r == KEY_NON_IP) {
			non_ip++;
		} else {
			unparsed++;
		}
	}
	apply_pending(st);
	/* Expiry changes the table too: before this burst's lookup, so that
	 * its positions hold until the next call applies them. */
	expire_and_hand_off(st, now);
	for (uint16_t i = 0; i < nk; i += RTE_HASH_LOOKUP_BULK_MAX)
		rte_hash_lookup_with_hash_bulk(s->h, b->kp + i, b->sig + i,
					       RTE_MIN(nk - i, RTE_HASH_LOOKUP_BULK_MAX),
					       b->pos + i);
	for (uint16_t k = 0; k < nk; k++)
		if (b->pos[k] >= 0)
			rte_prefetch0(&s->flows[b->pos[k]]);
	b->n = nk;
	b->now = now;
	s->cur ^= 1;
	if (likely(st->aux != NULL)) {
		uint64_t *a = st->aux;
		a[AUX_NON_IP] += non_ip;
		a[AUX_UNPARSED] += unparsed;
	}
	sl_forward(st, 0, pkts, n);
}

static void fs_free(struct fs_state *s)
{
	rte_hash_free(s->h);
	rte_free(s->flows);
	s->h = NULL;
	s->flows = NULL;
}

/* The memory a table of `slots` key positions takes: rte_hash's buckets
 * and their extension (one 64-byte bucket per 8 slots of the power of two,
 * twice), its key store (a cache line a key) and the records. */
static size_t fs_table_bytes(uint32_t slots)
{
	size_t b = rte_align32pow2(slots) / 8;
	return 2 * b * 64 + (size_t)slots * (64 + sizeof(struct fs_flow));
}

static int fs_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	static unsigned seq;
	const struct fs_conf *c = st->conf;
	struct fs_state *s = st->state;
	char name[RTE_HASH_NAMESIZE];

	s->cap = (uint32_t)c->max_flows;
	/* rte_hash gives a table of N keys the next power of two of N bucket
	 * slots: at max_flows keys and a power of two, every bucket is full,
	 * keys spill into their second bucket and the extension chains, and
	 * a lookup walks them. Asking for more than half of the power of two
	 * above 2 x max_flows keeps the buckets at most half full, while the
	 * key store (sized by N) grows by at most a third. */
	s->slots = RTE_MAX(s->cap, rte_align32pow2(2 * s->cap) / 2 + 1);
	s->idle_ms = c->idle_timeout * 1000;
	s->active_ms = c->active_timeout * 1000;
	s->sweep_ms = RTE_MAX((uint64_t)FS_MIN_SWEEP_MS, RTE_MIN(s->idle_ms, s->active_ms) / 4);
	snprintf(name, sizeof(name), "sl_flows_%u", __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	/* The extendable table takes every one of max_flows keys, however
	 * they fall into buckets: a full table means max_flows flows. */
	/* A secret seed: flows an attacker chose to share buckets would
	 * otherwise all land in one extension chain. */
	struct rte_hash_parameters hp = {
	    .name = name,
	    .entries = s->slots,
	    .key_len = sizeof(struct sl_flow_key),
	    .hash_func = rte_hash_crc,
	    .hash_func_init_val = (uint32_t)rte_rand(),
	    .socket_id = env->socket,
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	s->h = rte_hash_create(&hp);
	s->flows = rte_zmalloc_socket("sl_flows", (size_t)s->slots * sizeof(struct fs_flow),
				      RTE_CACHE_LINE_SIZE, env->socket);
	if (!s->h || !s->flows) {
		fs_free(s);
		snprintf(err, len, "no hugepage memory for a table of %u flows (about %zu MiB)",
			 s->cap, fs_table_bytes(s->slots) >> 20);
		return -1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->base_tsc = rte_rdtsc();
	s->base_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	s->hz = rte_get_tsc_hz();
	if (s->hz == 0)
		s->hz = 1;
	s->last_scan_ms = s->base_ms;
	/* Each instance is an Exporting Process of its own (own socket and
	 * sequence), so each gets an observation domain of its own. */
	s->x = sl_flow_export_open(c->exports.v, c->exports.n,
				   (uint32_t)(c->observation_domain + st->instance),
				   (uint32_t)c->template_refresh, FS_RING_SLOTS, env, err, len);
	if (!s->x) {
		fs_free(s);
		return -1;
	}
	s->ring = sl_flow_export_ring(s->x);
	for (unsigned i = 0; i < AUX_N && env->aux_names; i++)
		snprintf(env->aux_names[i], SL_LABEL_MAX, "%s", fs_aux_names[i]);
	return 0;
}

/* Shutdown (or a graph load that drops this instance): every flow still in
 * the table is reported, then the exporter finishes and stops. A flow past
 * a timeout the scan had not reached yet gets that reason; the rest end
 * forced. */
static void fs_fini(struct sl_stage *st)
{
	struct fs_state *s = st->state;
	if (!s->x)
		return;
	uint64_t now = now_ms(s, rte_rdtsc());
	enum { CHUNK = 1024 };
	struct sl_flow_rec *batch = malloc(CHUNK * sizeof(*batch));
	size_t nb = 0, tried = 0, put = 0;
	/* The last burst's counts, and the records they end, first. */
	apply_pending(st);
	if (s->n_recs) {
		put += sl_flow_export_put_wait(s->x, s->recs, s->n_recs);
		tried += s->n_recs;
		s->n_recs = 0;
	}
	for (uint32_t p = 0; batch && p < s->slots; p++) {
		struct fs_flow *f = &s->flows[p];
		void *kp;
		if (!f->used || rte_hash_get_key_with_position(s->h, (int32_t)p, &kp) < 0)
			continue;
		uint8_t why = timed_out(s, f, now);
		fill_rec(&batch[nb++], kp, f, why ? why : SL_FLOW_END_FORCED, now);
		if (nb == CHUNK) {
			put += sl_flow_export_put_wait(s->x, batch, nb);
			tried += nb;
			nb = 0;
		}
	}
	if (nb) {
		put += sl_flow_export_put_wait(s->x, batch, nb);
		tried += nb;
	}
	free(batch);
	struct sl_flow_export_stats xs;
	sl_flow_export_close(s->x, &xs);
	s->x = NULL;
	fs_free(s);
	/* The worker is gone: the last figures are the fini's to give (they
	 * are read after every fini at a stop). */
	if (st->aux) {
		uint64_t *a = st->aux;
		a[AUX_RECORDS] += put;
		a[AUX_LOST] += tried - put;
		a[AUX_FLOWS] = s->active = 0;
		a[AUX_EXPORTED] = xs.records;
		a[AUX_MESSAGES] = xs.messages;
		a[AUX_SEND_ERRORS] = xs.send_errors;
		a[AUX_JSON_LINES] = xs.json_lines;
		a[AUX_WRITE_ERRORS] = xs.write_errors;
	}
}

static struct sl_stage_type flowstats_stage = {
    .name = "flowstats",
    .help = "per-flow records (5-tuple + VLAN) exported as IPFIX and JSON lines",
    .outputs = fs_outputs,
    .n_outputs = 1,
    .params = fs_params,
    .n_params = RTE_DIM(fs_params),
    .conf_size = sizeof(struct fs_conf),
    .state_size = sizeof(struct fs_state),
    .check = fs_check,
    .n_aux = fs_n_aux,
    .init = fs_init,
    .fini = fs_fini,
    .tick = fs_tick,
    .process = fs_process,
};

SL_STAGE_REGISTER(flowstats_stage)
