/* flow_hash.h: a symmetric flow hash over the headers `parse` found, so that
 * both directions of a flow hash alike (A->B and B->A take one path). */
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

static inline uint32_t sl_flow_hash_sym(const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t l3 = m->packet_type & RTE_PTYPE_L3_MASK;
	uint32_t l4 = m->packet_type & RTE_PTYPE_L4_MASK;
	const uint8_t *ip = p + m->l2_len;
	uint32_t a, b, proto;

	if (RTE_ETH_IS_IPV4_HDR(l3)) {
		a = rte_hash_crc_4byte(sl_rd32(ip + 12), 0);
		b = rte_hash_crc_4byte(sl_rd32(ip + 16), 0);
		proto = ip[9];
	} else if (RTE_ETH_IS_IPV6_HDR(l3)) {
		a = sl_hash_ip6(ip + 8);
		b = sl_hash_ip6(ip + 24);
		proto = l4 == RTE_PTYPE_L4_TCP ? 6 : l4 == RTE_PTYPE_L4_UDP ? 17 : 0;
	} else {
		/* Non-IP: the MAC pair, still symmetric. */
		a = rte_hash_crc_2byte(sl_rd16(p + 4), rte_hash_crc_4byte(sl_rd32(p), 0));
		b = rte_hash_crc_2byte(sl_rd16(p + 10), rte_hash_crc_4byte(sl_rd32(p + 6), 0));
		return a ^ b;
	}
	if (l4 == RTE_PTYPE_L4_TCP || l4 == RTE_PTYPE_L4_UDP) {
		const uint8_t *t = ip + m->l3_len;
		a = rte_hash_crc_2byte(sl_rd16(t), a);
		b = rte_hash_crc_2byte(sl_rd16(t + 2), b);
	}
	/* XOR is symmetric in (a, b); the final mix spreads it over all bits. */
	return rte_hash_crc_4byte(a ^ b, proto);
}

#endif
