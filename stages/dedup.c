/* dedup.c: the `dedup` stage drops a packet that already went by within the
 * last window_us: same invariant headers and payload, TTL (hop limit) and
 * checksums left out, so a copy that took one more hop, or a SPAN port's
 * second copy, is caught. A packet's fingerprint is 64 bits of CRC32C (two
 * seeds) over its bytes from L3 on; the table is set-associative, four ways
 * per set, sized `entries`. A sighting refreshes the entry, so a packet
 * repeated every half window is dropped every time after the first. */
#include <netinet/in.h>

#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf_ptype.h>

#include "stages/pkt_clock.h"
#include "stages/stage.h"

enum { DEDUP_DUPLICATE = 1 };
enum { AUX_EVICTED, AUX_NO_TIME, AUX_N };

static const char *const dedup_outputs[] = {"out"};
static const char *const dedup_drops[] = {"duplicate"};
static const char *const dedup_aux_names[AUX_N] = {"evicted_live", "no_timestamp"};

#define WAYS 4

struct dedup_conf {
	uint64_t window_us;
	uint64_t entries;
	char *time;
};

struct dedup_entry {
	uint64_t sig; /* 0: empty */
	uint64_t t;
};

struct dedup_state {
	struct dedup_entry *table; /* n_sets * WAYS */
	uint32_t set_mask;
	uint64_t window; /* in clock units */
	struct sl_pkt_clock clock;
};

static const struct sl_param dedup_params[] = {
    {.name = "window_us",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct dedup_conf, window_us),
     .min = 1,
     .max = 60000000,
     .def = 1000,
     .help = "how long a packet is remembered, in microseconds"},
    {.name = "entries",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct dedup_conf, entries),
     .min = 64,
     .max = 1u << 26,
     .def = 65536,
     .help = "fingerprints kept (rounded up to a power of two)"},
    {.name = "time",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct dedup_conf, time),
     .help = "arrival (default) or capture (the packet's RX timestamp)"},
};

static int dedup_check(const void *conf, struct sl_check *chk)
{
	const struct dedup_conf *c = conf;
	if (c->time && !sl_pkt_clock_valid(c->time)) {
		chk->param = "time";
		snprintf(chk->msg, sizeof(chk->msg), "must be arrival or capture, not '%s'",
			 c->time);
		return -1;
	}
	return 0;
}

static bool dedup_wants_ts(const void *conf)
{
	const struct dedup_conf *c = conf;
	return c->time && !strcmp(c->time, "capture");
}

static unsigned dedup_n_aux(const void *conf)
{
	(void)conf;
	return AUX_N;
}

static int dedup_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct dedup_conf *c = st->conf;
	struct dedup_state *s = st->state;
	if (sl_pkt_clock_init(&s->clock, c->time, err, len) < 0)
		return -1;
	uint64_t sets = rte_align64pow2(c->entries) / WAYS;
	s->set_mask = (uint32_t)(sets - 1);
	s->window = c->window_us * s->clock.per_us;
	s->table = rte_zmalloc_socket("sl_dedup", sets * WAYS * sizeof(struct dedup_entry),
				      RTE_CACHE_LINE_SIZE, env->socket);
	if (!s->table) {
		snprintf(err, len, "no hugepage memory for %llu entries",
			 (unsigned long long)(sets * WAYS));
		return -1;
	}
	for (unsigned i = 0; i < AUX_N && env->aux_names; i++)
		snprintf(env->aux_names[i], SL_LABEL_MAX, "%s", dedup_aux_names[i]);
	return 0;
}

static void dedup_fini(struct sl_stage *st)
{
	struct dedup_state *s = st->state;
	rte_free(s->table);
	s->table = NULL;
}

/* CRC32C of n bytes at p from state h. rte_hash_crc() itself loads words
 * from wherever p points, which UBSan (rightly) calls misaligned; memcpy
 * loads compile to the same instructions. */
static inline uint32_t crc_bytes(const uint8_t *p, uint32_t n, uint32_t h)
{
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		h = rte_hash_crc_8byte(v, h);
	}
	if (n >= 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		h = rte_hash_crc_4byte(v, h);
		p += 4;
		n -= 4;
	}
	for (; n; n--)
		h = rte_hash_crc_1byte(*p++, h);
	return h;
}

/* CRC32C of bytes [off, end) of m, across segments, from state h. */
static uint32_t crc_range(const struct rte_mbuf *m, uint32_t off, uint32_t end, uint32_t h)
{
	while (m && off >= m->data_len) {
		off -= m->data_len;
		end -= m->data_len;
		m = m->next;
	}
	for (; m && end > 0; m = m->next) {
		uint32_t take = RTE_MIN((uint32_t)m->data_len, end) - off;
		h = crc_bytes(rte_pktmbuf_mtod_offset(m, const uint8_t *, off), take, h);
		end -= RTE_MIN((uint32_t)m->data_len, end);
		off = 0;
	}
	return h;
}

struct fp {
	uint32_t a, b;
};

static inline void fp_add(struct fp *f, const uint8_t *p, uint32_t n)
{
	f->a = crc_bytes(p, n, f->a);
	f->b = crc_bytes(p, n, f->b);
}

static inline void fp_add_range(struct fp *f, const struct rte_mbuf *m, uint32_t off, uint32_t end)
{
	if (off < end) {
		f->a = crc_range(m, off, end, f->a);
		f->b = crc_range(m, off, end, f->b);
	}
}

/* Where L3 starts: parse's l2_len when it marked the packet, else after the
 * Ethernet header and up to two VLAN tags. Sets *ethertype. */
static uint32_t l3_offset(const struct rte_mbuf *m, uint16_t *ethertype)
{
	uint8_t buf[2];
	uint32_t off = 12;
	for (int tags = 0; tags <= 2; tags++) {
		const uint8_t *p = rte_pktmbuf_read(m, off, 2, buf);
		if (!p) {
			*ethertype = 0;
			return m->pkt_len;
		}
		uint16_t t = (uint16_t)(p[0] << 8 | p[1]);
		if ((t != RTE_ETHER_TYPE_VLAN && t != RTE_ETHER_TYPE_QINQ) || tags == 2) {
			*ethertype = t;
			return off + 2;
		}
		off += 4;
	}
	return m->pkt_len;
}

/* The packet's fingerprint over its invariant bytes. */
static uint64_t fingerprint(const struct rte_mbuf *m)
{
	struct fp f = {0x9e3779b9u, 0x7f4a7c15u};
	uint16_t et;
	uint32_t l3 = l3_offset(m, &et), end = m->pkt_len;
	uint8_t h[60];

	if (et == RTE_ETHER_TYPE_IPV4) {
		const uint8_t *ip = rte_pktmbuf_read(m, l3, 20, h);
		uint32_t ihl = ip ? (uint32_t)(ip[0] & 0xf) * 4 : 0;
		if (ip && ihl >= 20 && (ip = rte_pktmbuf_read(m, l3, ihl, h))) {
			uint8_t c[60];
			memcpy(c, ip, ihl);
			uint32_t tot = (uint32_t)(c[2] << 8 | c[3]);
			if (tot >= ihl && l3 + tot <= end)
				end = l3 + tot; /* Ethernet padding is not the packet */
			c[8] = 0;		/* TTL */
			c[10] = c[11] = 0;	/* header checksum */
			fp_add(&f, c, ihl);
			uint32_t l4 = l3 + ihl, csum = 0;
			bool first = ((c[6] << 8 | c[7]) & 0x1fff) == 0;
			if (first && c[9] == IPPROTO_TCP)
				csum = 16;
			else if (first && c[9] == IPPROTO_UDP)
				csum = 6;
			if (csum && l4 + csum + 2 <= end) {
				fp_add_range(&f, m, l4, l4 + csum);
				fp_add_range(&f, m, l4 + csum + 2, end);
			} else {
				fp_add_range(&f, m, l4, end);
			}
			goto done;
		}
	} else if (et == RTE_ETHER_TYPE_IPV6) {
		const uint8_t *ip = rte_pktmbuf_read(m, l3, 40, h);
		if (ip) {
			uint8_t c[40];
			memcpy(c, ip, 40);
			uint32_t tot = 40u + (uint32_t)(c[4] << 8 | c[5]);
			if (l3 + tot <= end)
				end = l3 + tot;
			c[7] = 0; /* hop limit */
			fp_add(&f, c, 40);
			uint32_t l4 = l3 + 40;
			uint32_t csum = c[6] == IPPROTO_TCP ? 16 : c[6] == IPPROTO_UDP ? 6 : 0;
			/* Past extension headers, parse knows where L4 is. */
			if ((m->ol_flags & sl_parsed_flag) && sl_parsed_flag) {
				l4 = RTE_MAX((uint32_t)m->l2_len + m->l3_len, l3 + 40);
				uint32_t t = m->packet_type & RTE_PTYPE_L4_MASK;
				csum = t == RTE_PTYPE_L4_TCP ? 16 : t == RTE_PTYPE_L4_UDP ? 6 : 0;
			}
			fp_add_range(&f, m, l3 + 40, RTE_MIN(l4, end));
			if (csum && l4 + csum + 2 <= end) {
				fp_add_range(&f, m, l4, l4 + csum);
				fp_add_range(&f, m, l4 + csum + 2, end);
			} else if (l4 < end) {
				fp_add_range(&f, m, l4, end);
			}
			goto done;
		}
	}
	/* Not IP (or too short to be): everything from the ethertype on. */
	fp_add_range(&f, m, RTE_MIN(12u, end), end);
done:;
	uint64_t sig = (uint64_t)f.a << 32 | f.b;
	return sig ? sig : 1; /* 0 marks an empty entry */
}

static void dedup_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct dedup_state *s = st->state;
	uint16_t next[SL_BURST_MAX];
	uint64_t now = sl_pkt_clock_now(&s->clock);
	uint64_t evicted = 0, no_time = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		next[i] = 0;
		uint64_t t = sl_pkt_time(&s->clock, pkts[i], now);
		if (t == SL_PKT_NO_TIME) {
			no_time++;
			continue;
		}
		uint64_t sig = fingerprint(pkts[i]);
		struct dedup_entry *set = &s->table[(size_t)(sig & s->set_mask) * WAYS];
		/* The victim is an empty way, else the one seen longest ago. */
		int hit = -1, victim = 0;
		for (int w = 0; w < WAYS; w++) {
			if (set[w].sig == sig)
				hit = w;
			uint64_t age_w = set[w].sig ? set[w].t + 1 : 0;
			uint64_t age_v = set[victim].sig ? set[victim].t + 1 : 0;
			if (age_w < age_v)
				victim = w;
		}
		/* A time that goes backwards (a reordered trace) counts as now. */
		if (hit >= 0 && (t <= set[hit].t || t - set[hit].t <= s->window)) {
			next[i] = SL_DROP(DEDUP_DUPLICATE);
			set[hit].t = RTE_MAX(t, set[hit].t);
			continue;
		}
		if (hit >= 0) {
			set[hit].t = t;
			continue;
		}
		if (set[victim].sig && t >= set[victim].t && t - set[victim].t <= s->window)
			evicted++;
		set[victim].sig = sig;
		set[victim].t = t;
	}
	if (st->aux) {
		st->aux[AUX_EVICTED] += evicted;
		st->aux[AUX_NO_TIME] += no_time;
	}
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type dedup_stage = {
    .name = "dedup",
    .help = "drop packets whose invariant headers and payload went by within window_us",
    .outputs = dedup_outputs,
    .n_outputs = 1,
    .drops = dedup_drops,
    .n_drops = 1,
    .params = dedup_params,
    .n_params = RTE_DIM(dedup_params),
    .conf_size = sizeof(struct dedup_conf),
    .state_size = sizeof(struct dedup_state),
    .check = dedup_check,
    .n_aux = dedup_n_aux,
    .wants_rx_timestamps = dedup_wants_ts,
    .init = dedup_init,
    .fini = dedup_fini,
    .process = dedup_process,
};

SL_STAGE_REGISTER(dedup_stage)
