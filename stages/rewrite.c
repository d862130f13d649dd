/* rewrite.c: the `rewrite` stage edits headers in place by a list of
 * operations applied in order: swap or set MACs, push or pop an 802.1Q tag,
 * set the DSCP, decrement the TTL / hop limit. The IPv4 header checksum is
 * fixed incrementally (RFC 1624, eqn. 3); IPv6 has none, and neither the TTL
 * nor the DSCP is in a TCP/UDP pseudo-header.
 *
 * A packet is written only when its data is its own: an mbuf that shares
 * its data (an indirect clone, e.g. from `mirror`, an external buffer
 * attached twice, or an mbuf held twice) is first copied (rte_pktmbuf_copy,
 * counted as `copied_shared`), so the other holder never sees the change.
 * Headers are written where they lie in the first segment; a packet whose
 * headers run into a later segment, or with no headroom for a pushed tag, is
 * copied the same way into fresh mbufs (counted as `copied_layout`). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSSE3__
#include <tmmintrin.h>
#endif

#include <rte_byteorder.h>
#include <rte_ether.h>

#include "stages/stage.h"

enum {
	RW_RUNT = 1,
	RW_TRUNCATED_VLAN,
	RW_TRUNCATED_L3,
	RW_BAD_L3,
	RW_TTL_EXPIRED,
	RW_NO_MBUF,
};

static const char *const rewrite_outputs[] = {"out"};
static const char *const rewrite_drops[] = {
    "runt", "truncated_vlan", "truncated_l3", "bad_l3", "ttl_expired", "no_mbuf",
};

enum { AUX_COPIED_SHARED, AUX_COPIED_LAYOUT, AUX_NOT_IP, AUX_NO_VLAN, AUX_N };
static const char *const rewrite_aux[] = {"copied_shared", "copied_layout", "not_ip", "no_vlan"};

enum rw_kind {
	RW_SWAP_MACS,
	RW_SET_SRC_MAC,
	RW_SET_DST_MAC,
	RW_PUSH_VLAN,
	RW_POP_VLAN,
	RW_SET_DSCP,
	RW_DEC_TTL,
};

#define RW_MAX_OPS 16
/* VLAN tags walked over to find the IP header (two in the frame and two
 * pushed by the ops before); a frame with more is not IP to this stage. */
#define RW_MAX_TAGS 4

struct rw_op {
	uint8_t kind;
	uint8_t dscp;
	uint16_t tpid;
	uint16_t tci;
	uint8_t mac[RTE_ETHER_ADDR_LEN];
};

struct rewrite_conf {
	struct sl_strlist ops;
};

struct rewrite_state {
	unsigned n;
	bool mac_only; /* every op edits only the Ethernet addresses */
	struct rw_op op[RW_MAX_OPS];
};

static const struct sl_param rewrite_params[] = {
    {.name = "ops",
     .kind = SL_PARAM_STRLIST,
     .offset = offsetof(struct rewrite_conf, ops),
     .required = true,
     .help = "operations in order: swap_macs, set_src_mac M, set_dst_mac M, "
	     "push_vlan VID [pcp P] [tpid T], pop_vlan, set_dscp D, dec_ttl"},
};

/* ---- operations: parsed by check (no DPDK) and again by init ----------- */

/* A decimal number (hex with base 16, "0x" optional) up to max. */
static int parse_num(const char *s, int base, unsigned long max, unsigned long *v)
{
	char *end;
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, base);
	return *end || errno || *v > max ? -1 : 0;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	for (int i = 0; i < RTE_ETHER_ADDR_LEN; i++) {
		unsigned hi, lo;
		if (sscanf(s, "%1x%1x", &hi, &lo) != 2 || !s[0] || !s[1])
			return -1;
		/* sscanf's %x would also take a sign or a space: allow hex only. */
		for (int k = 0; k < 2; k++)
			if (!strchr("0123456789abcdefABCDEF", s[k]))
				return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < RTE_ETHER_ADDR_LEN - 1 && *s++ != ':')
			return -1;
	}
	return *s ? -1 : 0;
}

/* One operation; 0, or -1 with msg. */
static int rw_parse(const char *text, struct rw_op *op, char *msg, size_t len)
{
	char buf[128];
	char *tok[8], *save = NULL;
	unsigned nt = 0;
	unsigned long v;

	memset(op, 0, sizeof(*op));
	if (strlen(text) >= sizeof(buf)) {
		snprintf(msg, len, "operation too long");
		return -1;
	}
	strcpy(buf, text);
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (nt == RTE_DIM(tok)) {
			snprintf(msg, len, "too many words in '%s'", text);
			return -1;
		}
		tok[nt++] = t;
	}
	if (nt == 0) {
		snprintf(msg, len, "empty operation");
		return -1;
	}
	const char *w = tok[0];
	if (!strcmp(w, "swap_macs") || !strcmp(w, "pop_vlan") || !strcmp(w, "dec_ttl")) {
		if (nt != 1) {
			snprintf(msg, len, "%s takes no argument", w);
			return -1;
		}
		op->kind = !strcmp(w, "swap_macs")  ? RW_SWAP_MACS
			   : !strcmp(w, "pop_vlan") ? RW_POP_VLAN
						    : RW_DEC_TTL;
		return 0;
	}
	if (!strcmp(w, "set_src_mac") || !strcmp(w, "set_dst_mac")) {
		if (nt != 2 || parse_mac(tok[1], op->mac) < 0) {
			snprintf(msg, len, "%s needs one MAC address like 02:00:00:00:00:01", w);
			return -1;
		}
		op->kind = w[4] == 's' ? RW_SET_SRC_MAC : RW_SET_DST_MAC;
		if (op->kind == RW_SET_SRC_MAC && (op->mac[0] & 1)) {
			snprintf(msg, len, "a source MAC cannot be multicast (%s)", tok[1]);
			return -1;
		}
		return 0;
	}
	if (!strcmp(w, "set_dscp")) {
		if (nt != 2 || parse_num(tok[1], 10, 63, &v) < 0) {
			snprintf(msg, len, "set_dscp needs one DSCP value 0..63");
			return -1;
		}
		op->kind = RW_SET_DSCP;
		op->dscp = (uint8_t)v;
		return 0;
	}
	if (!strcmp(w, "push_vlan")) {
		unsigned long pcp = 0, tpid = RTE_ETHER_TYPE_VLAN;
		if (nt < 2 || parse_num(tok[1], 10, 4095, &v) < 0) {
			snprintf(msg, len, "push_vlan needs a VLAN id 0..4095");
			return -1;
		}
		for (unsigned i = 2; i < nt; i += 2) {
			if (i + 1 < nt && !strcmp(tok[i], "pcp") &&
			    parse_num(tok[i + 1], 10, 7, &pcp) == 0)
				continue;
			if (i + 1 < nt && !strcmp(tok[i], "tpid") &&
			    parse_num(tok[i + 1], 16, 0xffff, &tpid) == 0 &&
			    (tpid == RTE_ETHER_TYPE_VLAN || tpid == RTE_ETHER_TYPE_QINQ ||
			     tpid == RTE_ETHER_TYPE_QINQ1))
				continue;
			snprintf(msg, len,
				 "push_vlan VID [pcp 0..7] [tpid 0x8100|0x88a8|0x9100]: bad '%s'",
				 tok[i]);
			return -1;
		}
		op->kind = RW_PUSH_VLAN;
		op->tci = (uint16_t)(pcp << 13 | v);
		op->tpid = (uint16_t)tpid;
		return 0;
	}
	snprintf(msg, len,
		 "unknown operation '%s' (known: swap_macs, set_src_mac, set_dst_mac, "
		 "push_vlan, pop_vlan, set_dscp, dec_ttl)",
		 w);
	return -1;
}

static int rewrite_check(const void *conf, struct sl_check *chk)
{
	const struct rewrite_conf *c = conf;
	struct rw_op op;

	chk->param = "ops";
	if (c->ops.n == 0 || c->ops.n > RW_MAX_OPS) {
		snprintf(chk->msg, sizeof(chk->msg), "needs 1 to %d operations, not %u", RW_MAX_OPS,
			 c->ops.n);
		return -1;
	}
	for (unsigned i = 0; i < c->ops.n; i++) {
		if (rw_parse(c->ops.v[i], &op, chk->msg, sizeof(chk->msg)) < 0) {
			chk->item = (int)i;
			return -1;
		}
	}
	return 0;
}

static unsigned rewrite_n_aux(const void *conf)
{
	RTE_SET_USED(conf);
	return AUX_N;
}

static int rewrite_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct rewrite_conf *c = st->conf;
	struct rewrite_state *s = st->state;

	for (unsigned i = 0; i < c->ops.n && i < RW_MAX_OPS; i++)
		if (rw_parse(c->ops.v[i], &s->op[i], err, len) < 0)
			return -1;
	s->n = c->ops.n;
	s->mac_only = true;
	for (unsigned i = 0; i < s->n; i++)
		s->mac_only &= s->op[i].kind == RW_SWAP_MACS || s->op[i].kind == RW_SET_SRC_MAC ||
			       s->op[i].kind == RW_SET_DST_MAC;
	for (unsigned i = 0; i < AUX_N && i < st->n_aux; i++)
		snprintf(env->aux_names[i], SL_LABEL_MAX, "%s", rewrite_aux[i]);
	return sl_parsed_flag_register(err, len);
}

/* ---- the hot path ------------------------------------------------------ */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline bool is_tpid(uint16_t et)
{
	return et == RTE_ETHER_TYPE_VLAN || et == RTE_ETHER_TYPE_QINQ || et == RTE_ETHER_TYPE_QINQ1;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one changed 16-bit word. It
 * never yields 0x0000 from a valid header, as eqn. 2 could. */
static inline void csum_replace16(uint8_t *csum, uint16_t old, uint16_t new)
{
	uint32_t s = (uint16_t)~rd16(csum) + (uint32_t)(uint16_t)~old + new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	wr16(csum, (uint16_t)~s);
}

/* Is the data of m's first segment someone else's too? */
static inline bool rw_shared(struct rte_mbuf *m)
{
	if (rte_mbuf_refcnt_read(m) != 1)
		return true;
	if (RTE_MBUF_HAS_EXTBUF(m))
		return rte_mbuf_ext_refcnt_read(m->shinfo) != 1;
	if (RTE_MBUF_CLONED(m))
		return rte_mbuf_refcnt_read(rte_mbuf_from_indirect(m)) != 1;
	return false;
}

struct rw_pkt {
	struct rte_mbuf *m;
	bool own; /* checked (or made) private */
};

/* Replace the packet by a copy of its own: fresh mbufs from its pool, the
 * whole frame from the first segment on (up to the pool's data room), the
 * metadata carried over. */
static inline int rw_copy(struct sl_stage *st, struct rw_pkt *p, unsigned aux)
{
	struct rte_mbuf *c = rte_pktmbuf_copy(p->m, p->m->pool, 0, UINT32_MAX);
	if (unlikely(!c))
		return -1;
	rte_pktmbuf_free(p->m);
	p->m = c;
	p->own = true;
	st->aux[aux]++;
	return 0;
}

/* A writable pointer to bytes [0, len) of the frame, all in the first
 * segment, the packet made private first; NULL with *drop set when the
 * frame is shorter (RW_RUNT, the caller renames it) or no copy could be
 * made. headroom: bytes a push will prepend. */
static inline uint8_t *rw_head(struct sl_stage *st, struct rw_pkt *p, uint32_t len,
			       uint16_t headroom, uint16_t *drop)
{
	if (unlikely(len > p->m->pkt_len)) {
		*drop = RW_RUNT;
		return NULL;
	}
	if (unlikely(!p->own)) {
		if (rw_shared(p->m) && rw_copy(st, p, AUX_COPIED_SHARED) < 0) {
			*drop = RW_NO_MBUF;
			return NULL;
		}
		p->own = true;
	}
	if (unlikely(len > p->m->data_len || rte_pktmbuf_headroom(p->m) < headroom)) {
		if (rw_copy(st, p, AUX_COPIED_LAYOUT) < 0 || len > p->m->data_len ||
		    rte_pktmbuf_headroom(p->m) < headroom) {
			*drop = RW_NO_MBUF;
			return NULL;
		}
	}
	return rte_pktmbuf_mtod(p->m, uint8_t *);
}

/* A tag the NIC stripped into vlan_tci goes back into the frame before a
 * VLAN operation, so that push and pop act on the frame as it was sent. */
static inline uint16_t rw_unstrip(struct sl_stage *st, struct rw_pkt *p)
{
	uint16_t drop = 0;
	if (likely(!(p->m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED)))
		return 0;
	uint8_t *h = rw_head(st, p, RTE_ETHER_HDR_LEN, 4, &drop);
	if (!h)
		return drop;
	h = (uint8_t *)rte_pktmbuf_prepend(p->m, 4);
	if (unlikely(!h)) /* rw_head made the room */
		return RW_NO_MBUF;
	memmove(h, h + 4, 2 * RTE_ETHER_ADDR_LEN);
	wr16(h + 12, RTE_ETHER_TYPE_VLAN);
	wr16(h + 14, p->m->vlan_tci);
	p->m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
	return 0;
}

/* Offset of the IP header and its ethertype, reading over the VLAN tags;
 * returns 0 (*et 0: not IP) or a drop reason. Reads only, from any segment. */
static inline uint16_t rw_find_l3(const struct rte_mbuf *m, uint32_t *off, uint16_t *et)
{
	uint8_t buf[4];
	const uint8_t *v = rte_pktmbuf_read(m, 12, 2, buf);
	uint32_t o = RTE_ETHER_HDR_LEN;
	uint16_t t = rd16(v); /* pkt_len >= 14 was checked */

	for (int tags = 0; is_tpid(t); tags++) {
		if (tags == RW_MAX_TAGS) {
			*et = 0;
			return 0;
		}
		v = rte_pktmbuf_read(m, o, 4, buf);
		if (!v)
			return RW_TRUNCATED_VLAN;
		t = rd16(v + 2);
		o += 4;
	}
	*off = o;
	*et = t == RTE_ETHER_TYPE_IPV4 || t == RTE_ETHER_TYPE_IPV6 ? t : 0;
	return 0;
}

static inline uint16_t rw_ip_op(struct sl_stage *st, struct rw_pkt *p, const struct rw_op *op)
{
	uint32_t off = 0;
	uint16_t et = 0, drop = 0;
	uint16_t r = rw_find_l3(p->m, &off, &et);

	if (r)
		return r;
	if (!et) {
		st->aux[AUX_NOT_IP]++;
		return 0;
	}
	bool v4 = et == RTE_ETHER_TYPE_IPV4;
	uint8_t *h = rw_head(st, p, off + (v4 ? 20 : 40), 0, &drop);
	if (!h)
		return drop == RW_RUNT ? RW_TRUNCATED_L3 : drop;
	uint8_t *ip = h + off;
	if ((ip[0] >> 4) != (v4 ? 4 : 6) || (v4 && (ip[0] & 0xf) < 5))
		return RW_BAD_L3;

	if (v4) {
		if (op->kind == RW_DEC_TTL) {
			if (ip[8] <= 1)
				return RW_TTL_EXPIRED;
			uint16_t old = rd16(ip + 8);
			ip[8]--;
			csum_replace16(ip + 10, old, rd16(ip + 8));
		} else {
			uint16_t old = rd16(ip);
			ip[1] = (uint8_t)(op->dscp << 2 | (ip[1] & 3)); /* ECN kept */
			csum_replace16(ip + 10, old, rd16(ip));
		}
	} else {
		if (op->kind == RW_DEC_TTL) {
			if (ip[7] <= 1)
				return RW_TTL_EXPIRED;
			ip[7]--;
		} else {
			/* Traffic class: the low nibble of byte 0 and the high one
			 * of byte 1; DSCP is its top six bits, ECN its low two. */
			ip[0] = (uint8_t)((ip[0] & 0xf0) | op->dscp >> 2);
			ip[1] = (uint8_t)((op->dscp & 3) << 6 | (ip[1] & 0x3f));
		}
	}
	return 0;
}

/* Apply every operation to one packet; 0 or a drop reason. */
static inline uint16_t rw_one(struct sl_stage *st, const struct rewrite_state *s, struct rw_pkt *p)
{
	uint16_t drop = 0, r;
	uint8_t *h, t[RTE_ETHER_ADDR_LEN];

	if (unlikely(p->m->pkt_len < RTE_ETHER_HDR_LEN))
		return RW_RUNT;
	for (unsigned i = 0; i < s->n; i++) {
		const struct rw_op *op = &s->op[i];
		switch (op->kind) {
		case RW_SWAP_MACS:
		case RW_SET_SRC_MAC:
		case RW_SET_DST_MAC:
			h = rw_head(st, p, RTE_ETHER_HDR_LEN, 0, &drop);
			if (!h)
				return drop;
			if (op->kind == RW_SWAP_MACS) {
				memcpy(t, h, RTE_ETHER_ADDR_LEN);
				memcpy(h, h + RTE_ETHER_ADDR_LEN, RTE_ETHER_ADDR_LEN);
				memcpy(h + RTE_ETHER_ADDR_LEN, t, RTE_ETHER_ADDR_LEN);
			} else {
				memcpy(h + (op->kind == RW_SET_SRC_MAC ? RTE_ETHER_ADDR_LEN : 0),
				       op->mac, RTE_ETHER_ADDR_LEN);
			}
			break;
		case RW_PUSH_VLAN:
			if ((r = rw_unstrip(st, p)) != 0)
				return r;
			h = rw_head(st, p, RTE_ETHER_HDR_LEN, 4, &drop);
			if (!h)
				return drop;
			h = (uint8_t *)rte_pktmbuf_prepend(p->m, 4);
			if (unlikely(!h)) /* rw_head made the room */
				return RW_NO_MBUF;
			memmove(h, h + 4, 2 * RTE_ETHER_ADDR_LEN);
			wr16(h + 12, op->tpid);
			wr16(h + 14, op->tci);
			/* parse's lengths no longer hold: later stages parse again. */
			p->m->ol_flags &= ~sl_parsed_flag;
			break;
		case RW_POP_VLAN:
			if (p->m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
				/* The outer tag is the one the NIC took out. */
				p->m->ol_flags &=
				    ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
				p->m->vlan_tci = 0;
				break;
			}
			{
				uint8_t eb[2];
				const uint8_t *e = rte_pktmbuf_read(p->m, 12, 2, eb);
				if (!is_tpid(rd16(e))) {
					st->aux[AUX_NO_VLAN]++;
					break;
				}
			}
			h = rw_head(st, p, RTE_ETHER_HDR_LEN + 4, 0, &drop);
			if (!h)
				return drop == RW_RUNT ? RW_TRUNCATED_VLAN : drop;
			memmove(h + 4, h, 2 * RTE_ETHER_ADDR_LEN);
			rte_pktmbuf_adj(p->m, 4);
			p->m->ol_flags &= ~sl_parsed_flag;
			break;
		default: /* RW_SET_DSCP, RW_DEC_TTL */
			if ((r = rw_ip_op(st, p, op)) != 0)
				return r;
			break;
		}
	}
	return 0;
}

/* MAC edits on a private frame whose Ethernet header is in its first
 * segment: the common case (a router's or a reflector's), done inline.
 * Returns false when the packet needs the general path. */
static inline bool rw_mac_fast(const struct rewrite_state *s, struct rte_mbuf *m)
{
	if (unlikely(m->data_len < RTE_ETHER_HDR_LEN || rw_shared(m)))
		return false;
	uint8_t *h = rte_pktmbuf_mtod(m, uint8_t *), t[RTE_ETHER_ADDR_LEN];
#ifdef __SSSE3__
	/* The lone swap_macs of a reflector: one 16-byte load, a byte shuffle
	 * and a store, when the first segment holds 16 bytes (any real frame). */
	if (s->n == 1 && s->op[0].kind == RW_SWAP_MACS && m->data_len >= 16) {
		const __m128i swap =
		    _mm_setr_epi8(6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 12, 13, 14, 15);
		__m128i v = _mm_loadu_si128((const __m128i *)(void *)h);
		_mm_storeu_si128((__m128i *)(void *)h, _mm_shuffle_epi8(v, swap));
		return true;
	}
#endif
	for (unsigned i = 0; i < s->n; i++) {
		const struct rw_op *op = &s->op[i];
		if (op->kind == RW_SWAP_MACS) {
			memcpy(t, h, RTE_ETHER_ADDR_LEN);
			memcpy(h, h + RTE_ETHER_ADDR_LEN, RTE_ETHER_ADDR_LEN);
			memcpy(h + RTE_ETHER_ADDR_LEN, t, RTE_ETHER_ADDR_LEN);
		} else {
			memcpy(h + (op->kind == RW_SET_SRC_MAC ? RTE_ETHER_ADDR_LEN : 0), op->mac,
			       RTE_ETHER_ADDR_LEN);
		}
	}
	return true;
}

#define RW_PREFETCH 4 /* packets ahead whose first line is fetched */

static void rewrite_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	const struct rewrite_state *s = st->state;
	uint16_t next[SL_BURST_MAX];

	for (uint16_t i = 0; i < RTE_MIN(n, (uint16_t)RW_PREFETCH); i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	if (s->mac_only) {
		uint16_t i = 0;
		for (; i < n; i++) {
			if (i + RW_PREFETCH < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + RW_PREFETCH], void *));
			if (unlikely(!rw_mac_fast(s, pkts[i])))
				break;
		}
		if (likely(i == n)) { /* every packet done: one hand-over */
			sl_forward(st, 0, pkts, n);
			return;
		}
		for (uint16_t k = 0; k < i; k++)
			next[k] = 0;
		for (; i < n; i++) {
			struct rw_pkt p = {pkts[i], false};
			uint16_t r = rw_one(st, s, &p);
			pkts[i] = p.m;
			next[i] = r ? SL_DROP(r) : 0;
		}
		sl_forward_split(st, pkts, next, n);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		if (i + RW_PREFETCH < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + RW_PREFETCH], void *));
		struct rw_pkt p = {pkts[i], false};
		uint16_t r = rw_one(st, s, &p);
		pkts[i] = p.m; /* the copy, if one was made */
		next[i] = r ? SL_DROP(r) : 0;
	}
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type rewrite_stage = {
    .name = "rewrite",
    .help = "edit headers in order: MACs, VLAN push/pop, DSCP, TTL (checksums kept)",
    .outputs = rewrite_outputs,
    .n_outputs = 1,
    .drops = rewrite_drops,
    .n_drops = RTE_DIM(rewrite_drops),
    .params = rewrite_params,
    .n_params = RTE_DIM(rewrite_params),
    .conf_size = sizeof(struct rewrite_conf),
    .state_size = sizeof(struct rewrite_state),
    .check = rewrite_check,
    .n_aux = rewrite_n_aux,
    .init = rewrite_init,
    .process = rewrite_process,
};

SL_STAGE_REGISTER(rewrite_stage)
