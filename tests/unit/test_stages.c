/* test_stages.c: parse and balance on crafted frames. Each frame sits in a
 * heap buffer of exactly its length (an mbuf external buffer), so under ASan
 * any read past a frame's end is caught. Checks that malformed frames are
 * dropped under the right named reason, that good ones are marked, and that
 * balance keeps both directions of a flow on one output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "drivers/port.h"
#include "stages/stage.h"
#include "tests/unit/harness.h"

static struct rte_mempool *pool;

/* ---- a capture sink the stages under test feed ---- */

#define CAP_MAX 20000
static struct rte_mbuf *captured[CAP_MAX];
static unsigned n_captured;

static void capture_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	(void)st;
	for (uint16_t i = 0; i < n && n_captured < CAP_MAX; i++)
		captured[n_captured++] = pkts[i];
}

static const struct sl_stage_type capture_type = {.name = "capture", .process = capture_process};

static void free_captured(void)
{
	for (unsigned i = 0; i < n_captured; i++)
		rte_pktmbuf_free(captured[i]);
	n_captured = 0;
}

struct harness {
	struct sl_stage st, sinks[4];
	struct sl_stage_counters cnt, sink_cnt[4];
	struct rte_mbuf **scratch;
};

static void harness_init(struct harness *h, const char *type, uint16_t n_outputs)
{
	memset(h, 0, sizeof(*h));
	h->st.type = sl_stage_type_find(type);
	assert_non_null(h->st.type);
	h->st.cnt = &h->cnt;
	h->st.n_outputs = n_outputs;
	h->scratch = calloc((size_t)(n_outputs + 1) * SL_BURST_MAX, sizeof(struct rte_mbuf *));
	h->st.scratch = h->scratch;
	for (unsigned i = 0; i < n_outputs; i++) {
		h->sinks[i].type = &capture_type;
		h->sinks[i].cnt = &h->sink_cnt[i];
		h->st.out[i] = (struct sl_output){SL_OUT_STAGE, &h->sinks[i], NULL};
	}
	if (h->st.type->init && !h->st.type->needs_port) {
		struct sl_stage_env env = {.socket = SOCKET_ID_ANY};
		char err[128];
		assert_int_equal(h->st.type->init(&h->st, &env, err, sizeof(err)), 0);
	}
}

static void harness_fini(struct harness *h)
{
	free(h->scratch);
	free_captured();
}

static int drop_index(const struct sl_stage_type *t, const char *name)
{
	for (unsigned i = 0; i < t->n_drops; i++)
		if (!strcmp(t->drops[i], name))
			return (int)i + 1;
	fail_msg("no drop reason %s", name);
	return -1;
}

/* ---- frame builders ---- */

static size_t eth(uint8_t *b, uint16_t type)
{
	memset(b, 0, 14);
	b[0] = 0x02;
	b[6] = 0x02;
	b[11] = 1;
	b[12] = (uint8_t)(type >> 8);
	b[13] = (uint8_t)type;
	return 14;
}

static size_t ipv4_udp(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp)
{
	size_t o = eth(b, 0x0800);
	memset(b + o, 0, 28);
	b[o] = 0x45;
	b[o + 3] = 28;
	b[o + 8] = 64;
	b[o + 9] = 17;
	memcpy(b + o + 12, &src, 4);
	memcpy(b + o + 16, &dst, 4);
	b[o + 20] = (uint8_t)(sp >> 8);
	b[o + 21] = (uint8_t)sp;
	b[o + 22] = (uint8_t)(dp >> 8);
	b[o + 23] = (uint8_t)dp;
	b[o + 25] = 8;
	return o + 28;
}

static size_t vlan_ipv6_tcp(uint8_t *b)
{
	size_t o = eth(b, 0x8100);
	b[o] = 0;
	b[o + 1] = 42;
	b[o + 2] = 0x86;
	b[o + 3] = 0xdd;
	o += 4;
	memset(b + o, 0, 60);
	b[o] = 0x60;
	b[o + 5] = 20; /* payload length */
	b[o + 6] = 6;
	b[o + 7] = 64;
	b[o + 8] = 0xfd;
	b[o + 24] = 0xfd;
	b[o + 40 + 12] = 0x50;
	return o + 60;
}

/* ---- tests ---- */

static void run_one(struct harness *h, const uint8_t *f, uint16_t len)
{
	struct rte_mbuf *m = sl_h_mbuf(f, len);
	sl_stage_call(&h->st, &m, 1);
}

static void test_parse_good_frames(void **state)
{
	(void)state;
	struct harness h;
	uint8_t f[256];
	harness_init(&h, "parse", 1);

	run_one(&h, f, (uint16_t)ipv4_udp(f, 0x0100000a, 0x020010ac, 1000, 53));
	run_one(&h, f, (uint16_t)vlan_ipv6_tcp(f));
	size_t arp = eth(f, 0x0806);
	memset(f + arp, 0, 28);
	run_one(&h, f, (uint16_t)(arp + 28));

	assert_int_equal(n_captured, 3);
	assert_int_equal(h.cnt.pkts_in, 3);
	assert_int_equal(h.cnt.out[0], 3);
	struct rte_mbuf *m = captured[0];
	assert_int_equal(m->packet_type & RTE_PTYPE_L3_MASK, RTE_PTYPE_L3_IPV4);
	assert_int_equal(m->packet_type & RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_UDP);
	assert_int_equal(m->l2_len, 14);
	assert_int_equal(m->l3_len, 20);
	assert_int_equal(m->l4_len, 8);
	m = captured[1];
	assert_int_equal(m->packet_type & RTE_PTYPE_L2_MASK, RTE_PTYPE_L2_ETHER_VLAN);
	assert_int_equal(m->packet_type & RTE_PTYPE_L3_MASK, RTE_PTYPE_L3_IPV6);
	assert_int_equal(m->packet_type & RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_TCP);
	assert_int_equal(m->vlan_tci, 42);
	assert_int_equal(m->l2_len, 18);
	assert_int_equal(m->l3_len, 40);
	assert_int_equal(m->l4_len, 20);
	m = captured[2];
	assert_int_equal(m->packet_type, RTE_PTYPE_L2_ETHER);
	harness_fini(&h);
}

static void test_parse_malformed(void **state)
{
	(void)state;
	struct harness h;
	uint8_t f[256];
	harness_init(&h, "parse", 1);
	const struct sl_stage_type *t = h.st.type;

	/* one byte */
	f[0] = 0xff;
	run_one(&h, f, 1);
	assert_int_equal(h.cnt.drops[drop_index(t, "runt")], 1);
	/* empty */
	run_one(&h, f, 0);
	assert_int_equal(h.cnt.drops[drop_index(t, "runt")], 2);
	/* Ethernet header then 10 bytes of a 20-byte IPv4 header */
	size_t n = ipv4_udp(f, 1, 2, 3, 4);
	run_one(&h, f, 24);
	assert_int_equal(h.cnt.drops[drop_index(t, "truncated_l3")], 1);
	/* IHL of 3 words (12 bytes) */
	n = ipv4_udp(f, 1, 2, 3, 4);
	f[14] = 0x43;
	run_one(&h, f, (uint16_t)n);
	assert_int_equal(h.cnt.drops[drop_index(t, "bad_ihl")], 1);
	/* IHL of 15 words in a frame holding 28 bytes of IP */
	f[14] = 0x4f;
	run_one(&h, f, (uint16_t)n);
	assert_int_equal(h.cnt.drops[drop_index(t, "bad_ihl")], 2);
	/* total length past the frame */
	n = ipv4_udp(f, 1, 2, 3, 4);
	f[16] = 0x05;
	run_one(&h, f, (uint16_t)n);
	assert_int_equal(h.cnt.drops[drop_index(t, "bad_ip_len")], 1);
	/* UDP header cut: total length covers only 24 bytes */
	n = ipv4_udp(f, 1, 2, 3, 4);
	f[17] = 24;
	run_one(&h, f, (uint16_t)(14 + 24));
	assert_int_equal(h.cnt.drops[drop_index(t, "truncated_l4")], 1);
	/* IPv6: hop-by-hop header claiming 2048 bytes inside a 16-byte payload */
	n = eth(f, 0x86dd);
	memset(f + n, 0, 56);
	f[n] = 0x60;
	f[n + 5] = 16;
	f[n + 6] = 0; /* hop-by-hop */
	f[n + 40] = 60;
	f[n + 41] = 255;
	run_one(&h, f, (uint16_t)(n + 56));
	assert_int_equal(h.cnt.drops[drop_index(t, "ipv6_ext_overrun")], 1);
	/* IPv6: a chain of destination-options headers that ends past the frame */
	memset(f + n + 40, 0, 16);
	f[n + 40] = 60;
	f[n + 41] = 0;
	f[n + 48] = 60;
	f[n + 49] = 0;
	run_one(&h, f, (uint16_t)(n + 56));
	assert_int_equal(h.cnt.drops[drop_index(t, "ipv6_ext_overrun")], 2);
	/* VLAN tag cut in half */
	n = eth(f, 0x8100);
	run_one(&h, f, (uint16_t)(n + 2));
	assert_int_equal(h.cnt.drops[drop_index(t, "truncated_vlan")], 1);
	/* IPv4 ethertype with a version-6 header */
	n = ipv4_udp(f, 1, 2, 3, 4);
	f[14] = 0x65;
	run_one(&h, f, (uint16_t)n);
	assert_int_equal(h.cnt.drops[drop_index(t, "bad_ip_version")], 1);

	uint64_t drops = 0;
	for (unsigned i = 0; i <= t->n_drops; i++)
		drops += h.cnt.drops[i];
	assert_int_equal(h.cnt.pkts_in, 11);
	assert_int_equal(drops, 11);
	assert_int_equal(n_captured, 0);
	harness_fini(&h);
}

/* Random bytes of random lengths in bursts: nothing may read out of bounds
 * (ASan) and every packet is either passed on or dropped by a reason. */
static void test_parse_random_bursts(void **state)
{
	(void)state;
	struct harness h;
	uint64_t x = 12345;
	harness_init(&h, "parse", 1);
	for (int burst = 0; burst < 200; burst++) {
		struct rte_mbuf *pkts[64];
		for (int i = 0; i < 64; i++) {
			uint8_t f[128];
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			uint16_t len = (uint16_t)((x >> 33) % 128);
			for (int k = 0; k < len; k++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				f[k] = (uint8_t)(x >> 40);
			}
			/* Bias toward IP ethertypes so the deep paths run. */
			if (len > 14 && (x >> 20) % 2) {
				f[12] = (x >> 21) % 2 ? 0x08 : 0x86;
				f[13] = f[12] == 0x08 ? 0x00 : 0xdd;
				f[14] = (uint8_t)((f[12] == 0x08 ? 0x40 : 0x60) | (f[14] & 0x0f));
			}
			pkts[i] = sl_h_mbuf(f, len);
		}
		sl_stage_call(&h.st, pkts, 64);
		free_captured();
	}
	uint64_t drops = 0;
	for (unsigned i = 0; i <= h.st.type->n_drops; i++)
		drops += h.cnt.drops[i];
	assert_int_equal(h.cnt.pkts_in, 200 * 64);
	assert_int_equal(h.cnt.out[0] + drops, 200 * 64);
	assert_true(drops > 0);
	assert_true(h.cnt.out[0] > 0);
	harness_fini(&h);
}

static void test_balance_symmetric(void **state)
{
	(void)state;
	struct harness hp, hb;
	harness_init(&hp, "parse", 1);
	harness_init(&hb, "balance", 3);
	/* parse's output feeds balance directly */
	hp.st.out[0] = (struct sl_output){SL_OUT_STAGE, &hb.st, NULL};

	unsigned where[64][2];
	uint8_t f[128];
	for (unsigned flow = 0; flow < 64; flow++) {
		for (unsigned dir = 0; dir < 2; dir++) {
			uint32_t a = 0x0a000001 + flow * 7919, b = 0xac100001 + flow * 104729;
			uint16_t pa = (uint16_t)(1024 + flow), pb = (uint16_t)(80 + flow * 3);
			size_t n = dir ? ipv4_udp(f, b, a, pb, pa) : ipv4_udp(f, a, b, pa, pb);
			uint64_t before[3];
			for (int k = 0; k < 3; k++)
				before[k] = hb.sink_cnt[k].pkts_in;
			run_one(&hp, f, (uint16_t)n);
			where[flow][dir] = 99;
			for (unsigned k = 0; k < 3; k++)
				if (hb.sink_cnt[k].pkts_in != before[k])
					where[flow][dir] = k;
		}
		assert_true(where[flow][0] < 3);
		assert_int_equal(where[flow][0], where[flow][1]);
	}
	/* 64 flows over 3 outputs: every output gets some. */
	for (int k = 0; k < 3; k++)
		assert_true(hb.cnt.out[k] > 0);
	assert_int_equal(hb.cnt.out[0] + hb.cnt.out[1] + hb.cnt.out[2], 128);
	free(hp.scratch);
	harness_fini(&hb);
}

/* A frame as a chain of segments of the given lengths (the last takes the
 * rest), each in a heap buffer of exactly its length, as net_pcap hands
 * frames over 2 KB to the graph. */
static struct rte_mbuf *chained_mbuf(const uint8_t *frame, uint32_t len, const uint16_t *seg,
				     unsigned n_seg)
{
	struct rte_mbuf *head = NULL;
	uint32_t off = 0;
	for (unsigned i = 0; off < len; i++) {
		uint16_t l = i + 1 < n_seg ? seg[i] : (uint16_t)RTE_MIN(len - off, 60000u);
		if (l > len - off)
			l = (uint16_t)(len - off);
		struct rte_mbuf *m = sl_h_mbuf(frame + off, l);
		if (!head)
			head = m;
		else
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
		off += l;
	}
	return head;
}

static size_t ipv4_udp_len(uint8_t *b, uint32_t total)
{
	size_t o = ipv4_udp(b, 0x0100000a, 0x020010ac, 1000, 53);
	uint32_t ip = total - 14;
	b[14 + 2] = (uint8_t)(ip >> 8);
	b[14 + 3] = (uint8_t)ip;
	b[14 + 24] = (uint8_t)((ip - 20) >> 8);
	b[14 + 25] = (uint8_t)(ip - 20);
	memset(b + o, 0xab, total - o);
	return total;
}

/* Jumbo frames arrive as chained mbufs: lengths are checked against pkt_len
 * and headers split across segments are read whole. */
static void test_parse_chained(void **state)
{
	(void)state;
	struct harness h;
	static uint8_t f[9000];
	harness_init(&h, "parse", 1);
	const uint16_t two_k[] = {2048, 2048, 2048, 2048};
	const uint16_t split_hdr[] = {10, 17, 3}; /* Ethernet, IP and UDP headers split */
	const uint32_t sizes[] = {2100, 4000, 9000};
	for (unsigned i = 0; i < 3; i++) {
		ipv4_udp_len(f, sizes[i]);
		struct rte_mbuf *m = chained_mbuf(f, sizes[i], two_k, 4);
		assert_true(m->nb_segs > 1);
		sl_stage_call(&h.st, &m, 1);
		m = chained_mbuf(f, sizes[i], split_hdr, 3);
		sl_stage_call(&h.st, &m, 1);
	}
	assert_int_equal(h.cnt.out[0], 6);
	assert_int_equal(n_captured, 6);
	for (unsigned i = 0; i < n_captured; i++) {
		assert_int_equal(captured[i]->packet_type & RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_UDP);
		assert_int_equal(captured[i]->l2_len, 14);
		assert_int_equal(captured[i]->l3_len, 20);
	}
	/* A chain whose IP total length runs one byte past pkt_len is still bad. */
	ipv4_udp_len(f, 4000);
	struct rte_mbuf *m = chained_mbuf(f, 3999, two_k, 4);
	sl_stage_call(&h.st, &m, 1);
	assert_int_equal(h.cnt.drops[drop_index(h.st.type, "bad_ip_len")], 1);
	harness_fini(&h);
}

/* L4 packet types are an enumeration: a first fragment (MF, offset 0) of an
 * ICMP packet is L4_FRAG, not FRAG|ICMP (which reads as IGMP). */
static void test_parse_first_fragment(void **state)
{
	(void)state;
	struct harness h;
	uint8_t f[128];
	harness_init(&h, "parse", 1);
	size_t n = ipv4_udp(f, 1, 2, 3, 4);
	f[14 + 9] = 1;	  /* ICMP */
	f[14 + 6] = 0x20; /* MF, offset 0 */
	run_one(&h, f, (uint16_t)n);
	f[14 + 6] = 0x00; /* a later fragment: offset 8 */
	f[14 + 7] = 0x01;
	run_one(&h, f, (uint16_t)n);
	f[14 + 7] = 0x00; /* not a fragment */
	run_one(&h, f, (uint16_t)n);
	assert_int_equal(n_captured, 3);
	assert_int_equal(captured[0]->packet_type & RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_FRAG);
	assert_int_equal(captured[1]->packet_type & RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_FRAG);
	assert_int_equal(captured[2]->packet_type & RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_ICMP);
	harness_fini(&h);
}

static void guard_free(void *addr, void *opaque)
{
	(void)addr;
	munmap(opaque, 2 * (size_t)sysconf(_SC_PAGESIZE));
}

/* An mbuf whose frame ends exactly at an inaccessible page: any read past
 * the frame faults, with or without ASan. */
static struct rte_mbuf *guarded_mbuf(const uint8_t *frame, uint16_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *map =
	    mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, pg, PROT_NONE), 0);
	struct rte_mbuf_ext_shared_info *sh = (void *)map;
	uint8_t *buf = map + pg - len;
	memcpy(buf, frame, len);
	memset(sh, 0, sizeof(*sh));
	sh->free_cb = guard_free;
	sh->fcb_opaque = map;
	rte_mbuf_ext_refcnt_set(sh, 1);
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	rte_pktmbuf_attach_extbuf(m, buf, 0, len, sh);
	m->data_off = 0;
	m->data_len = len;
	m->pkt_len = len;
	return m;
}

/* balance with no parse in front: a PMD's packet_type and lengths left from
 * an mbuf's earlier life are not trusted. Short frames claiming IPv4/IPv6
 * are never read past their end, and unparsed packets hash by MAC pair, so
 * both directions still meet. */
static void test_balance_without_parse(void **state)
{
	(void)state;
	struct harness hb;
	harness_init(&hb, "balance", 3);
	uint8_t f[128];
	const uint32_t types[] = {RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP,
				  RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV6 | RTE_PTYPE_L4_UDP};
	for (unsigned t = 0; t < 2; t++) {
		for (uint16_t len = 0; len <= 20; len++) {
			memset(f, 0x11, sizeof(f));
			struct rte_mbuf *m = guarded_mbuf(f, len);
			m->packet_type = types[t];
			m->l2_len = t ? 0 : 14; /* stale or unset */
			m->l3_len = t ? 0 : 60;
			sl_stage_call(&hb.st, &m, 1);
		}
	}
	assert_int_equal(hb.cnt.out[0] + hb.cnt.out[1] + hb.cnt.out[2], 42);
	free_captured();
	/* Two directions whose MACs swap but whose (garbage) IP headers do not. */
	for (unsigned flow = 0; flow < 32; flow++) {
		unsigned where[2];
		for (unsigned dir = 0; dir < 2; dir++) {
			size_t n = ipv4_udp(f, 0x0a000001 + flow * 31 + dir * 977, 0x0b000001 + dir,
					    (uint16_t)(7 + dir), 9);
			uint8_t a = (uint8_t)flow, b = (uint8_t)(flow + 100);
			f[5] = dir ? b : a;
			f[11] = dir ? a : b;
			struct rte_mbuf *m = sl_h_mbuf(f, (uint16_t)n);
			m->packet_type = types[0];
			m->l2_len = 14;
			m->l3_len = 20;
			uint64_t before[3];
			for (int k = 0; k < 3; k++)
				before[k] = hb.sink_cnt[k].pkts_in;
			sl_stage_call(&hb.st, &m, 1);
			where[dir] = 99;
			for (unsigned k = 0; k < 3; k++)
				if (hb.sink_cnt[k].pkts_in != before[k])
					where[dir] = k;
		}
		assert_int_equal(where[0], where[1]);
	}
	harness_fini(&hb);
}

/* A packet sent to an output port nothing is connected to counts once, in
 * drops[unconnected], so in == sum(out) + sum(drops). */
static void test_unconnected_counted_once(void **state)
{
	(void)state;
	struct harness h;
	uint8_t f[64];
	harness_init(&h, "pass", 1);
	h.st.out[0] = (struct sl_output){SL_OUT_NONE, NULL, NULL};
	for (int i = 0; i < 5; i++)
		run_one(&h, f, (uint16_t)ipv4_udp(f, 1, 2, 3, 4));
	assert_int_equal(h.cnt.pkts_in, 5);
	assert_int_equal(h.cnt.out[0], 0);
	assert_int_equal(h.cnt.drops[SL_DROP_UNCONNECTED], 5);
	harness_fini(&h);
}

/* A TX queue that never takes anything (a dead link): tx_retries of 100000
 * must not spin 100000 times per burst; what is not sent is returned. */
static unsigned dead_tx_calls;
static uint16_t dead_tx(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	(void)p, (void)q, (void)pkts, (void)n;
	dead_tx_calls++;
	return 0;
}

static void test_tx_retries_dead_link(void **state)
{
	(void)state;
	struct sl_port_driver drv = {.name = "dead", .tx = dead_tx};
	struct sl_port port = {.drv = &drv};
	struct rte_mbuf *pkts[8];
	uint8_t f[64];
	for (int i = 0; i < 8; i++)
		pkts[i] = sl_h_mbuf(f, (uint16_t)ipv4_udp(f, 1, 2, 3, 4));
	/* 100000 retries on a queue that never takes anything: given up once
	 * 100 us passed without progress, long before the count ran out (each
	 * call here costs nanoseconds). */
	assert_int_equal(sl_port_tx_all(&port, 0, pkts, 8, 100000, rte_get_tsc_hz() / 10000), 8);
	assert_true(dead_tx_calls < 100000);
}

int main(void)
{
	char *eal[] = {"test_stages",
		       "--no-huge",
		       "-m",
		       "64",
		       "--no-pci",
		       "--no-shconf",
		       "--file-prefix",
		       "sl_test_stages",
		       "--lcores",
		       "0@0",
		       "--log-level",
		       "1",
		       NULL};
	if (rte_eal_init(12, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("test", 16383, 0, 0, 0, SOCKET_ID_ANY);
	if (!pool)
		return 1;
	sl_h_pool = pool; /* sl_h_mbuf's frames come from it */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good_frames),
	    cmocka_unit_test(test_parse_malformed),
	    cmocka_unit_test(test_parse_random_bursts),
	    cmocka_unit_test(test_balance_symmetric),
	    cmocka_unit_test(test_parse_chained),
	    cmocka_unit_test(test_parse_first_fragment),
	    cmocka_unit_test(test_balance_without_parse),
	    cmocka_unit_test(test_unconnected_counted_once),
	    cmocka_unit_test(test_tx_retries_dead_link),
	};
	int rc = cmocka_run_group_tests_name("stages", tests, NULL, NULL);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return rc ? 1 : 0;
}
