/* pkt_key.h: the traffic keys of the reporting stages (window, topk): which
 * header fields a key is made of, reading them from a frame (never past
 * pkt_len), a 64-bit hash, and the key's fields as JSON members. */
#ifndef SL_PKT_KEY_H
#define SL_PKT_KEY_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

enum { F_SRC = 1, F_DST = 2, F_SPORT = 4, F_DPORT = 8, F_PROTO = 16 };

static const struct {
	const char *name;
	unsigned fields;
} sl_key_kinds[] = {
    {"5tuple", F_SRC | F_DST | F_SPORT | F_DPORT | F_PROTO},
    {"src", F_SRC},
    {"dst", F_DST},
    {"dport", F_DPORT | F_PROTO},
    {"src_dst", F_SRC | F_DST},
};

/* Every byte set (padding included): it is hashed and compared whole. IPv4
 * addresses are the first 4 bytes, the rest zero; ports in host order. */
struct sl_pkt_key {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t proto, v6, pad[2];
};

/* Index into sl_key_kinds of a `key:` value (NULL: 5tuple), or -1. */
static inline int sl_key_kind(const char *k)
{
	if (!k)
		return 0;
	for (unsigned i = 0; i < RTE_DIM(sl_key_kinds); i++)
		if (!strcmp(k, sl_key_kinds[i].name))
			return (int)i;
	return -1;
}

/* MurmurHash3's 64-bit finalizer. Applied to each word and again to the
 * running hash: a single splitmix round over near-sequential addresses
 * spread them too evenly over HyperLogLog registers, and linear counting
 * then overestimated by up to 25%. */
static inline uint64_t sl_mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	return k ^ (k >> 33);
}

static inline uint64_t sl_hash_bytes(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (; n >= 8; n -= 8, b += 8) {
		uint64_t v;
		memcpy(&v, b, 8);
		h = sl_mix64(h ^ sl_mix64(v));
	}
	for (; n; n--)
		h = sl_mix64(h ^ sl_mix64(*b++));
	return h;
}

/* The packet's addresses, protocol and ports (TCP and UDP; 0 for other
 * protocols and IPv4 fragments after the first), after up to two VLAN
 * tags; false when it is not IP. */
static inline bool sl_pkt_key_extract(const struct rte_mbuf *m, struct sl_pkt_key *k)
{
	uint8_t buf[40];
	uint32_t off = 12;
	uint16_t et = 0;
	memset(k, 0, sizeof(*k));
	for (int tags = 0; tags <= 2; tags++) {
		const uint8_t *p = rte_pktmbuf_read(m, off, 2, buf);
		if (!p)
			return false;
		et = (uint16_t)(p[0] << 8 | p[1]);
		off += 2;
		if (et != RTE_ETHER_TYPE_VLAN && et != RTE_ETHER_TYPE_QINQ)
			break;
		off += 2;
	}
	uint32_t l4;
	bool ports;
	if (et == RTE_ETHER_TYPE_IPV4) {
		const uint8_t *ip = rte_pktmbuf_read(m, off, 20, buf);
		if (!ip || (ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
			return false;
		memcpy(k->src, ip + 12, 4);
		memcpy(k->dst, ip + 16, 4);
		k->proto = ip[9];
		l4 = off + (uint32_t)(ip[0] & 0xf) * 4;
		ports = ((ip[6] << 8 | ip[7]) & 0x1fff) == 0;
	} else if (et == RTE_ETHER_TYPE_IPV6) {
		const uint8_t *ip = rte_pktmbuf_read(m, off, 40, buf);
		if (!ip || (ip[0] >> 4) != 6)
			return false;
		memcpy(k->src, ip + 8, 16);
		memcpy(k->dst, ip + 24, 16);
		k->proto = ip[6];
		k->v6 = 1;
		l4 = off + 40;
		ports = true;
	} else {
		return false;
	}
	if (ports && (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP)) {
		const uint8_t *p = rte_pktmbuf_read(m, l4, 4, buf);
		if (p) {
			k->sport = (uint16_t)(p[0] << 8 | p[1]);
			k->dport = (uint16_t)(p[2] << 8 | p[3]);
		}
	}
	return true;
}

/* The key of a kind with these fields: the others zeroed. */
static inline void sl_pkt_key_mask(unsigned fields, const struct sl_pkt_key *all,
				   struct sl_pkt_key *key)
{
	memset(key, 0, sizeof(*key));
	if (fields & F_SRC)
		memcpy(key->src, all->src, 16);
	if (fields & F_DST)
		memcpy(key->dst, all->dst, 16);
	if (fields & (F_SRC | F_DST))
		key->v6 = all->v6;
	if (fields & F_SPORT)
		key->sport = all->sport;
	if (fields & F_DPORT)
		key->dport = all->dport;
	if (fields & F_PROTO)
		key->proto = all->proto;
}

static inline size_t sl_pkt_key_addr(char *b, size_t len, const char *name, const uint8_t *a,
				     bool v6)
{
	char t[INET6_ADDRSTRLEN] = "";
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, t, sizeof(t));
	return (size_t)snprintf(b, len, ",\"%s\":\"%s\"", name, t);
}

/* The key's fields as JSON members, each with a leading comma. */
static inline size_t sl_pkt_key_json(char *buf, size_t len, unsigned f, const struct sl_pkt_key *k)
{
	size_t n = 0;
	if (f & F_SRC)
		n += sl_pkt_key_addr(buf + n, len - n, "src", k->src, k->v6);
	if (f & F_DST)
		n += sl_pkt_key_addr(buf + n, len - n, "dst", k->dst, k->v6);
	if (f & F_SPORT)
		n += (size_t)snprintf(buf + n, len - n, ",\"sport\":%u", k->sport);
	if (f & F_DPORT)
		n += (size_t)snprintf(buf + n, len - n, ",\"dport\":%u", k->dport);
	if (f & F_PROTO)
		n += (size_t)snprintf(buf + n, len - n, ",\"proto\":%u", k->proto);
	return n;
}

#endif
