/* parse.c: the `parse` stage finds the L2/L3/L4 headers of each packet
 * (up to two VLAN tags, IPv4 with options, IPv6 with extension headers,
 * TCP/UDP/ICMP) and records them in the mbuf: packet_type, l2_len, l3_len,
 * l4_len and vlan_tci, and marks the mbuf as parsed (sl_parsed_flag) so that
 * later stages trust those fields. Headers are read with rte_pktmbuf_read, so
 * a header split across the segments of a chained mbuf (jumbo frames) is
 * read whole, and every length is checked against pkt_len; a packet whose
 * headers run past its data is dropped with a named reason instead of being
 * read beyond its end. Non-IP frames pass with only their L2 marked. */
#include <stdio.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf_dyn.h>
#include <rte_mbuf_ptype.h>
#include <rte_prefetch.h>

#include "stages/stage.h"

enum {
	PARSE_RUNT = 1,
	PARSE_TRUNCATED_VLAN,
	PARSE_TRUNCATED_L3,
	PARSE_BAD_IP_VERSION,
	PARSE_BAD_IHL,
	PARSE_BAD_IP_LEN,
	PARSE_IPV6_EXT_OVERRUN,
	PARSE_TRUNCATED_L4,
};

static const char *const parse_outputs[] = {"out"};
static const char *const parse_drops[] = {
    "runt",    "truncated_vlan", "truncated_l3",     "bad_ip_version",
    "bad_ihl", "bad_ip_len",	 "ipv6_ext_overrun", "truncated_l4",
};

#define MAX_VLAN_TAGS 2
#define MAX_IPV6_EXT 8

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* len bytes at off, from the first segment when they lie in it, else copied
 * into buf; NULL when the packet is shorter. */
static inline const uint8_t *hdr(const struct rte_mbuf *m, uint32_t off, uint32_t len, void *buf)
{
	return rte_pktmbuf_read(m, off, len, buf);
}

/* L4 at off within an L3 payload ending at end; returns 0 or a drop reason. */
static inline uint16_t parse_l4(struct rte_mbuf *m, uint32_t off, uint32_t end, uint8_t proto,
				uint32_t *ptype)
{
	uint8_t buf[20];
	uint32_t need;

	switch (proto) {
	case IPPROTO_TCP: {
		if (off + 20 > end)
			return PARSE_TRUNCATED_L4;
		const uint8_t *t = hdr(m, off, 20, buf);
		if (!t)
			return PARSE_TRUNCATED_L4;
		need = (uint32_t)(t[12] >> 4) * 4;
		if (need < 20 || off + need > end)
			return PARSE_TRUNCATED_L4;
		*ptype |= RTE_PTYPE_L4_TCP;
		m->l4_len = need;
		return 0;
	}
	case IPPROTO_UDP:
		need = 8;
		*ptype |= RTE_PTYPE_L4_UDP;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		need = 4;
		*ptype |= RTE_PTYPE_L4_ICMP;
		break;
	default:
		return 0;
	}
	if (off + need > end)
		return PARSE_TRUNCATED_L4;
	m->l4_len = need;
	return 0;
}

static inline uint16_t parse_ipv4(struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t *ptype)
{
	uint8_t buf[20];
	if (off + 20 > len)
		return PARSE_TRUNCATED_L3;
	const uint8_t *p = hdr(m, off, 20, buf);
	if (!p)
		return PARSE_TRUNCATED_L3;
	if ((p[0] >> 4) != 4)
		return PARSE_BAD_IP_VERSION;
	uint32_t ihl = (uint32_t)(p[0] & 0xf) * 4;
	if (ihl < 20 || off + ihl > len)
		return PARSE_BAD_IHL;
	uint32_t tot = rd16(p + 2);
	if (tot < ihl || off + tot > len)
		return PARSE_BAD_IP_LEN;
	*ptype |= ihl == 20 ? RTE_PTYPE_L3_IPV4 : RTE_PTYPE_L3_IPV4_EXT;
	m->l3_len = ihl;
	/* The L4 types are an enumeration, not bits: any fragment (the first
	 * one too, MF set at offset 0) is L4_FRAG and nothing else. */
	if (rd16(p + 6) & 0x3fff) {
		*ptype |= RTE_PTYPE_L4_FRAG;
		return 0;
	}
	return parse_l4(m, off + ihl, off + tot, p[9], ptype);
}

static inline uint16_t parse_ipv6(struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t *ptype)
{
	uint8_t buf[40];
	if (off + 40 > len)
		return PARSE_TRUNCATED_L3;
	const uint8_t *p = hdr(m, off, 40, buf);
	if (!p)
		return PARSE_TRUNCATED_L3;
	if ((p[0] >> 4) != 6)
		return PARSE_BAD_IP_VERSION;
	uint32_t end = off + 40 + rd16(p + 4);
	if (end > len)
		return PARSE_BAD_IP_LEN;
	uint8_t nh = p[6];
	uint32_t l4 = off + 40;
	int ext = 0;
	bool frag = false;

	for (;;) {
		uint32_t hl;
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_AH && nh != IPPROTO_FRAGMENT)
			break;
		if (l4 + 8 > end)
			return PARSE_IPV6_EXT_OVERRUN;
		const uint8_t *x = hdr(m, l4, 8, buf);
		if (!x)
			return PARSE_IPV6_EXT_OVERRUN;
		if (nh == IPPROTO_AH) {
			hl = ((uint32_t)x[1] + 2) * 4;
		} else if (nh == IPPROTO_FRAGMENT) {
			hl = 8;
			frag = true;
		} else {
			hl = ((uint32_t)x[1] + 1) * 8;
		}
		if (++ext > MAX_IPV6_EXT || l4 + hl > end)
			return PARSE_IPV6_EXT_OVERRUN;
		nh = x[0];
		l4 += hl;
	}
	/* The mbuf's l3_len has 9 bits: a longer chain could not be recorded,
	 * and a wrapped length would send later stages into the payload. */
	if (l4 - off > 511)
		return PARSE_IPV6_EXT_OVERRUN;
	*ptype |= ext ? RTE_PTYPE_L3_IPV6_EXT : RTE_PTYPE_L3_IPV6;
	m->l3_len = l4 - off;
	if (frag) { /* first fragment or not: L4_FRAG only, as for IPv4 */
		*ptype |= RTE_PTYPE_L4_FRAG;
		return 0;
	}
	return parse_l4(m, l4, end, nh, ptype);
}

/* Parse one packet; returns 0 or a drop reason. */
static inline uint16_t parse_one(struct rte_mbuf *m)
{
	uint8_t buf[RTE_ETHER_HDR_LEN];
	uint32_t len = m->pkt_len;
	uint32_t ptype = RTE_PTYPE_L2_ETHER;

	m->l2_len = m->l3_len = m->l4_len = 0;
	m->packet_type = RTE_PTYPE_UNKNOWN;
	m->ol_flags &= ~sl_parsed_flag;
	if (len < RTE_ETHER_HDR_LEN)
		return PARSE_RUNT;
	const uint8_t *p = hdr(m, 0, RTE_ETHER_HDR_LEN, buf);
	if (!p)
		return PARSE_RUNT;
	uint16_t et = rd16(p + 12);
	uint32_t off = RTE_ETHER_HDR_LEN;
	int tags = 0;
	while ((et == RTE_ETHER_TYPE_VLAN || et == RTE_ETHER_TYPE_QINQ) && tags < MAX_VLAN_TAGS) {
		if (off + 4 > len)
			return PARSE_TRUNCATED_VLAN;
		const uint8_t *v = hdr(m, off, 4, buf);
		if (!v)
			return PARSE_TRUNCATED_VLAN;
		if (tags++ == 0)
			m->vlan_tci = rd16(v);
		et = rd16(v + 2);
		off += 4;
	}
	if (tags)
		ptype = tags == 1 ? RTE_PTYPE_L2_ETHER_VLAN : RTE_PTYPE_L2_ETHER_QINQ;
	m->l2_len = off;

	uint16_t r = 0;
	if (et == RTE_ETHER_TYPE_IPV4)
		r = parse_ipv4(m, off, len, &ptype);
	else if (et == RTE_ETHER_TYPE_IPV6)
		r = parse_ipv6(m, off, len, &ptype);
	if (r == 0) {
		m->packet_type = ptype;
		m->ol_flags |= sl_parsed_flag;
	}
	return r;
}

static void parse_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t next[SL_BURST_MAX];
	uint16_t i;

	for (i = 0; i < n && i < 4; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		if (i + 4 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void *));
		uint16_t r = parse_one(pkts[i]);
		next[i] = r ? SL_DROP(r) : 0;
	}
	sl_forward_split(st, pkts, next, n);
}

static int parse_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	RTE_SET_USED(st);
	RTE_SET_USED(env);
	return sl_parsed_flag_register(err, len);
}

static struct sl_stage_type parse_stage = {
    .name = "parse",
    .help = "find L2/L3/L4 headers; drop malformed packets by named reason",
    .outputs = parse_outputs,
    .n_outputs = 1,
    .drops = parse_drops,
    .n_drops = RTE_DIM(parse_drops),
    .init = parse_init,
    .process = parse_process,
};

SL_STAGE_REGISTER(parse_stage)
