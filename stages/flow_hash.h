/* flow_hash.h: a symmetric flow hash over the headers `parse` found, so that
 * both directions of a flow hash alike (A->B and B->A take one path). Only
 * packets `parse` marked (sl_parsed_flag) hash by their IP 5-tuple; any other
 * packet hashes by its MAC pair, whatever packet_type and lengths it carries.
 * Every read goes through rte_pktmbuf_read, bounded by pkt_len and safe on
 * chained mbufs. */
#ifndef SL_FLOW_HASH_H
#define SL_FLOW_HASH_H

#include <string.h>

#include <rte_hash_crc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_ptype.h>

#include "stages/stage.h"

static inline uint32_t sl_rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v)); /* headers need not be 4-byte aligned */
	return v;
}

static inline uint16_t sl_rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t sl_hash_ip6(const uint8_t *a)
{
	uint32_t h = rte_hash_crc_4byte(sl_rd32(a), 0);
	h = rte_hash_crc_4byte(sl_rd32(a + 4), h);
	h = rte_hash_crc_4byte(sl_rd32(a + 8), h);
	return rte_hash_crc_4byte(sl_rd32(a + 12), h);
}

static inline uint32_t sl_hash_macs(const struct rte_mbuf *m)
{
	uint8_t buf[12];
	const uint8_t *p = rte_pktmbuf_read(m, 0, 12, buf);
	if (!p)
		return 0;
	/* Non-IP: the MAC pair, still symmetric. */
	uint32_t a = rte_hash_crc_2byte(sl_rd16(p + 4), rte_hash_crc_4byte(sl_rd32(p), 0));
	uint32_t b = rte_hash_crc_2byte(sl_rd16(p + 10), rte_hash_crc_4byte(sl_rd32(p + 6), 0));
	return a ^ b;
}

static inline uint32_t sl_flow_hash_sym(const struct rte_mbuf *m)
{
	if (!(m->ol_flags & sl_parsed_flag) || !sl_parsed_flag)
		return sl_hash_macs(m);
	uint32_t l3 = m->packet_type & RTE_PTYPE_L3_MASK;
	uint32_t l4 = m->packet_type & RTE_PTYPE_L4_MASK;
	uint8_t buf[40];
	const uint8_t *ip;
	uint32_t a, b, proto;

	if (RTE_ETH_IS_IPV4_HDR(l3) && (ip = rte_pktmbuf_read(m, m->l2_len, 20, buf))) {
		a = rte_hash_crc_4byte(sl_rd32(ip + 12), 0);
		b = rte_hash_crc_4byte(sl_rd32(ip + 16), 0);
		proto = ip[9];
	} else if (RTE_ETH_IS_IPV6_HDR(l3) && (ip = rte_pktmbuf_read(m, m->l2_len, 40, buf))) {
		a = sl_hash_ip6(ip + 8);
		b = sl_hash_ip6(ip + 24);
		proto = l4 == RTE_PTYPE_L4_TCP ? 6 : l4 == RTE_PTYPE_L4_UDP ? 17 : 0;
	} else {
		return sl_hash_macs(m);
	}
	const uint8_t *t;
	if ((l4 == RTE_PTYPE_L4_TCP || l4 == RTE_PTYPE_L4_UDP) &&
	    (t = rte_pktmbuf_read(m, (uint32_t)m->l2_len + m->l3_len, 4, buf))) {
		a = rte_hash_crc_2byte(sl_rd16(t), a);
		b = rte_hash_crc_2byte(sl_rd16(t + 2), b);
	}
	/* XOR is symmetric in (a, b); the final mix spreads it over all bits. */
	return rte_hash_crc_4byte(a ^ b, proto);
}

#endif
