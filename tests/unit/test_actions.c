/* test_actions.c: the rewrite, meter, sample and mirror stages, each built
 * through the loader by the unit-test harness: config refusals at their
 * place, rewritten bytes and checksums, copy-on-write of shared and chained
 * packets, meter colours against an exact RFC 2697 / 2698 model, sampling
 * counts, and mirror's clones sharing data without leaking mbufs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_mbuf_dyn.h>
#include <rte_random.h>

#include "tests/unit/harness.h"

static struct sl_harness H;
static char err[1024];

static int init(const char *yaml)
{
	err[0] = '\0';
	return sl_h_init(&H, yaml, NULL, 0, err, sizeof(err));
}

static unsigned aux(const char *name)
{
	for (unsigned i = 0; i < H.st.n_aux; i++)
		if (!strcmp(H.aux_names[i], name))
			return (unsigned)H.aux[i];
	fail_msg("no aux counter %s", name);
	return 0;
}

static uint64_t drops(const char *name)
{
	int r = sl_h_drop(&H, name);
	assert_true(r > 0);
	return H.cnt.drops[r];
}

/* ---- frames ---- */

static const uint8_t DST[6] = {0x02, 0, 0, 0, 0, 0xd1};
static const uint8_t SRC[6] = {0x02, 0, 0, 0, 0, 0x51};

static uint16_t csum16(const uint8_t *p, unsigned len)
{
	uint32_t s = 0;
	for (unsigned i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet (+ tags) + IPv4 (ttl, tos) + UDP + payload, valid checksum. */
static unsigned ipv4_frame(uint8_t *f, int tags, uint8_t ttl, uint8_t tos, unsigned payload)
{
	unsigned o = 12;
	memcpy(f, DST, 6);
	memcpy(f + 6, SRC, 6);
	for (int t = 0; t < tags; t++) {
		f[o] = 0x81, f[o + 1] = 0, f[o + 2] = 0, f[o + 3] = (uint8_t)(10 + t);
		o += 4;
	}
	f[o] = 0x08, f[o + 1] = 0;
	o += 2;
	uint8_t *ip = f + o;
	unsigned tot = 20 + 8 + payload;
	memset(ip, 0, 20);
	ip[0] = 0x45, ip[1] = tos, ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip[4] = 0x12, ip[5] = 0x34, ip[8] = ttl, ip[9] = 17;
	ip[12] = 10, ip[15] = 1, ip[16] = 10, ip[19] = 2;
	uint16_t c = csum16(ip, 20);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	uint8_t *u = ip + 20;
	u[0] = 0x30, u[1] = 0x39, u[2] = 0, u[3] = 53, u[4] = 0, u[5] = (uint8_t)(8 + payload);
	u[6] = 0xab, u[7] = 0xcd;
	for (unsigned i = 0; i < payload; i++)
		u[8 + i] = (uint8_t)(i * 7);
	return o + tot;
}

static unsigned ipv6_frame(uint8_t *f, uint8_t hlim, uint8_t tc)
{
	memcpy(f, DST, 6);
	memcpy(f + 6, SRC, 6);
	f[12] = 0x86, f[13] = 0xdd;
	uint8_t *ip = f + 14;
	memset(ip, 0, 40);
	ip[0] = (uint8_t)(0x60 | tc >> 4), ip[1] = (uint8_t)(tc << 4 | 0x5), ip[2] = 0x67;
	ip[5] = 8, ip[6] = 17, ip[7] = hlim;
	ip[23] = 1, ip[39] = 2;
	memset(ip + 40, 0x5a, 8);
	return 14 + 40 + 8;
}

static struct rte_mbuf *one_out(unsigned port)
{
	assert_int_equal(H.n_got[port], 1);
	return H.got[port][0];
}

static const uint8_t *data(struct rte_mbuf *m)
{
	static uint8_t buf[16384];
	assert_true(m->pkt_len <= sizeof(buf));
	return rte_pktmbuf_read(m, 0, m->pkt_len, buf);
}

/* ---- rewrite ---- */

static void test_rewrite_check(void **state)
{
	(void)state;
	/* The bad item's own line:col: column 32 is where 'push_vlan 5000' starts. */
	assert_int_equal(init("{type: rewrite, ops: [dec_ttl, 'push_vlan 5000']}"), -1);
	if (!strstr(err, ":1:32: stage 'stage': 'ops': "))
		fail_msg("%s", err);
	assert_non_null(strstr(err, "VLAN id"));
	const char *bad[] = {
	    "{type: rewrite, ops: [frobnicate]}",
	    "{type: rewrite, ops: ['set_src_mac 01:00:5e:00:00:01']}",
	    "{type: rewrite, ops: ['set_dst_mac 02:00:00:00:00']}",
	    "{type: rewrite, ops: ['set_dst_mac 02:00:00:00:00:0g']}",
	    "{type: rewrite, ops: ['set_dscp 64']}",
	    "{type: rewrite, ops: ['set_dscp -1']}",
	    "{type: rewrite, ops: ['dec_ttl 2']}",
	    "{type: rewrite, ops: ['push_vlan 10 pcp 8']}",
	    "{type: rewrite, ops: ['push_vlan 0x10']}",
	    "{type: rewrite, ops: ['push_vlan 10 tpid 0x0800']}",
	    "{type: rewrite, ops: ['']}",
	    "{type: rewrite, ops: []}",
	    "{type: rewrite}",
	};
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		if (init(bad[i]) == 0)
			fail_msg("accepted %s", bad[i]);
		sl_h_fini(&H);
	}
	assert_int_equal(init("{type: rewrite, ops: [swap_macs, 'set_src_mac 02:aa:bb:cc:dd:ee', "
			      "'set_dst_mac FF:ff:ff:ff:ff:ff', 'push_vlan 100 pcp 5 tpid 0x88a8', "
			      "pop_vlan, 'set_dscp 46', dec_ttl]}"),
			 0);
	sl_h_fini(&H);
}

static void test_rewrite_swap_dec_ttl(void **state)
{
	(void)state;
	uint8_t f[256], want[256];
	assert_int_equal(init("{type: rewrite, ops: [swap_macs, dec_ttl]}"), 0);
	for (int tags = 0; tags <= 2; tags++) {
		unsigned len = ipv4_frame(f, tags, 64, 0, 30);
		memcpy(want, f, len);
		memcpy(want, SRC, 6);
		memcpy(want + 6, DST, 6);
		unsigned ip = 14 + 4 * (unsigned)tags;
		want[ip + 8] = 63;
		struct rte_mbuf *m = sl_h_mbuf(f, (uint16_t)len);
		sl_h_run(&H, &m, 1);
		const uint8_t *o = data(one_out(0));
		assert_int_equal(csum16(o + ip, 20), 0);
		/* All but the checksum as predicted; the checksum as a full sum says. */
		memcpy(want + ip + 10, o + ip + 10, 2);
		assert_memory_equal(o, want, len);
		assert_int_equal(aux("copied_shared") + aux("copied_layout"), 0);
		sl_h_clear(&H);
	}
	/* Every TTL from 2 to 255 (and the checksum's carry cases with it). */
	for (unsigned ttl = 2; ttl < 256; ttl++) {
		unsigned len = ipv4_frame(f, 0, (uint8_t)ttl, (uint8_t)ttl, 0);
		struct rte_mbuf *m = sl_h_mbuf(f, (uint16_t)len);
		sl_h_run(&H, &m, 1);
		const uint8_t *o = data(one_out(0));
		assert_int_equal(o[14 + 8], ttl - 1);
		assert_int_equal(csum16(o + 14, 20), 0);
		sl_h_clear(&H);
	}
	/* TTL 1 and 0 would reach 0: dropped. */
	for (unsigned ttl = 0; ttl < 2; ttl++) {
		unsigned len = ipv4_frame(f, 0, (uint8_t)ttl, 0, 0);
		struct rte_mbuf *m = sl_h_mbuf(f, (uint16_t)len);
		sl_h_run(&H, &m, 1);
	}
	assert_int_equal(H.n_got[0], 0);
	assert_int_equal(drops("ttl_expired"), 2);
	/* IPv6: hop limit, no checksum. */
	unsigned len = ipv6_frame(f, 2, 0);
	memcpy(want, f, len);
	struct rte_mbuf *m = sl_h_mbuf(f, (uint16_t)len);
	sl_h_run(&H, &m, 1);
	const uint8_t *o = data(one_out(0));
	memcpy(want, SRC, 6);
	memcpy(want + 6, DST, 6);
	want[14 + 7] = 1;
	assert_memory_equal(o, want, len);
	sl_h_clear(&H);
	len = ipv6_frame(f, 1, 0);
	m = sl_h_mbuf(f, (uint16_t)len);
	sl_h_run(&H, &m, 1);
	assert_int_equal(drops("ttl_expired"), 3);
	sl_h_fini(&H);
}

static void test_rewrite_dscp_macs(void **state)
{
	(void)state;
	uint8_t f[256];
	assert_int_equal(
	    init("{type: rewrite, ops: ['set_dscp 46', 'set_src_mac 02:aa:bb:cc:dd:ee', "
		 "'set_dst_mac ff:ff:ff:ff:ff:ff']}"),
	    0);
	unsigned len = ipv4_frame(f, 1, 9, 0x03 /* ECN CE */, 10);
	struct rte_mbuf *m = sl_h_mbuf(f, (uint16_t)len);
	sl_h_run(&H, &m, 1);
	const uint8_t *o = data(one_out(0));
	static const uint8_t smac[6] = {2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_memory_equal(o, bcast, 6);
	assert_memory_equal(o + 6, smac, 6);
	assert_int_equal(o[18 + 1], 46 << 2 | 3);
	assert_int_equal(csum16(o + 18, 20), 0);
	assert_int_equal(o[18 + 8], 9);
	sl_h_clear(&H);
	len = ipv6_frame(f, 7, 0x01 /* ECN */);
	m = sl_h_mbuf(f, (uint16_t)len);
	sl_h_run(&H, &m, 1);
	o = data(one_out(0));
	unsigned tc = (unsigned)((o[14] & 0xf) << 4 | o[15] >> 4);
	assert_int_equal(tc, 46 << 2 | 1);
	assert_int_equal(o[14] >> 4, 6);
	assert_int_equal(o[15] & 0xf, 5); /* flow label untouched */
	sl_h_fini(&H);
}

static void test_rewrite_vlan(void **state)
{
	(void)state;
	uint8_t f[256];
	assert_int_equal(init("{type: rewrite, ops: ['push_vlan 100 pcp 3', dec_ttl]}"), 0);
	unsigned len = ipv4_frame(f, 0, 64, 0, 20);
	/* The harness's frames have no headroom: the push copies into a pool mbuf. */
	struct rte_mbuf *m = sl_h_mbuf(f, (uint16_t)len);
	m->ol_flags |= sl_parsed_flag;
	sl_h_run(&H, &m, 1);
	struct rte_mbuf *o = one_out(0);
	const uint8_t *d = data(o);
	assert_int_equal(o->pkt_len, len + 4);
	assert_memory_equal(d, f, 12);
	static const uint8_t tag[4] = {0x81, 0x00, 0x60, 100};
	assert_memory_equal(d + 12, tag, 4);
	assert_int_equal(d[18 + 8], 63); /* dec_ttl found IP behind the pushed tag */
	assert_int_equal(csum16(d + 18, 20), 0);
	assert_int_equal(aux("copied_layout"), 1);
	assert_false(o->ol_flags & sl_parsed_flag);
	/* Back through pop: the frame again (TTL aside). */
	struct sl_harness pushed = H;
	memset(&H, 0, sizeof(H));
	assert_int_equal(init("{type: rewrite, ops: [pop_vlan]}"), 0);
	pushed.n_got[0] = 0;
	sl_h_run(&H, &o, 1);
	d = data(one_out(0));
	assert_int_equal(H.got[0][0]->pkt_len, len);
	assert_memory_equal(d, f, 22); /* TTL at 22, checksum at 24 */
	assert_int_equal(d[23], f[23]);
	assert_memory_equal(d + 26, f + 26, len - 26);
	assert_int_equal(aux("copied_layout"), 0); /* popping needs no room */
	sl_h_clear(&H);
	/* Untagged: unchanged, counted. */
	m = sl_h_mbuf(f, (uint16_t)len);
	sl_h_run(&H, &m, 1);
	assert_memory_equal(data(one_out(0)), f, len);
	assert_int_equal(aux("no_vlan"), 1);
	sl_h_clear(&H);
	/* A tag that ends early. */
	f[12] = 0x81, f[13] = 0;
	m = sl_h_mbuf(f, 16);
	sl_h_run(&H, &m, 1);
	assert_int_equal(drops("truncated_vlan"), 1);
	sl_h_fini(&H);
	sl_h_fini(&pushed);
}

/* A NIC-stripped tag is put back before a push, below the new one. */
static void test_rewrite_stripped(void **state)
{
	(void)state;
	uint8_t f[256];
	assert_int_equal(init("{type: rewrite, ops: ['push_vlan 7']}"), 0);
	unsigned len = ipv4_frame(f, 0, 64, 0, 0);
	struct rte_mbuf *m = sl_h_mbuf(f, (uint16_t)len);
	m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = 42;
	sl_h_run(&H, &m, 1);
	struct rte_mbuf *o = one_out(0);
	const uint8_t *d = data(o);
	static const uint8_t tags[8] = {0x81, 0, 0, 7, 0x81, 0, 0, 42};
	assert_int_equal(o->pkt_len, len + 8);
	assert_memory_equal(d + 12, tags, 8);
	assert_false(o->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED);
	sl_h_fini(&H);
}

static void test_rewrite_malformed(void **state)
{
	(void)state;
	uint8_t f[256];
	assert_int_equal(init("{type: rewrite, ops: [swap_macs, 'set_dscp 10', dec_ttl]}"), 0);
	unsigned len = ipv4_frame(f, 0, 64, 0, 0);
	struct rte_mbuf *m[8];
	unsigned k = 0;
	m[k++] = sl_h_mbuf(f, 0);
	m[k++] = sl_h_mbuf(f, 13);	/* runt */
	m[k++] = sl_h_mbuf(f, 14 + 19); /* IPv4 header cut */
	f[14] = 0x44;			/* ihl 4 */
	m[k++] = sl_h_mbuf(f, (uint16_t)len);
	f[14] = 0x65; /* version 6 in an IPv4 ethertype */
	m[k++] = sl_h_mbuf(f, (uint16_t)len);
	f[14] = 0x45;
	f[12] = 0x08, f[13] = 0x06; /* ARP: not IP, passes */
	m[k++] = sl_h_mbuf(f, 42);
	unsigned v6 = ipv6_frame(f, 9, 0);
	m[k++] = sl_h_mbuf(f, (uint16_t)(v6 - 30)); /* IPv6 header cut */
	sl_h_run(&H, m, k);
	assert_int_equal(drops("runt"), 2);
	assert_int_equal(drops("truncated_l3"), 2);
	assert_int_equal(drops("bad_l3"), 2);
	assert_int_equal(H.n_got[0], 1);
	assert_int_equal(aux("not_ip"), 2); /* set_dscp and dec_ttl, once each */
	sl_h_fini(&H);
}

/* A two-segment packet of pool mbufs: seg 0 holds split bytes of frame. */
static struct rte_mbuf *chained(const uint8_t *f, unsigned len, unsigned split)
{
	struct rte_mbuf *a = rte_pktmbuf_alloc(sl_h_pool), *b = rte_pktmbuf_alloc(sl_h_pool);
	assert_non_null(a);
	assert_non_null(b);
	memcpy(rte_pktmbuf_append(a, (uint16_t)split), f, split);
	memcpy(rte_pktmbuf_append(b, (uint16_t)(len - split)), f + split, len - split);
	assert_int_equal(rte_pktmbuf_chain(a, b), 0);
	return a;
}

static void test_rewrite_chained(void **state)
{
	(void)state;
	uint8_t f[2000], want[2000];
	unsigned in_use = rte_mempool_in_use_count(sl_h_pool);
	assert_int_equal(init("{type: rewrite, ops: [swap_macs, dec_ttl, 'set_dscp 8']}"), 0);
	unsigned len = ipv4_frame(f, 1, 64, 0, 1400);
	memcpy(want, f, len);
	memcpy(want, SRC, 6);
	memcpy(want + 6, DST, 6);
	want[18 + 1] = 8 << 2;
	want[18 + 8] = 63;
	/* Split inside the IPv4 header (at 20), and after it (at 100). */
	unsigned splits[] = {20, 100, 13};
	for (unsigned i = 0; i < RTE_DIM(splits); i++) {
		struct rte_mbuf *m = chained(f, len, splits[i]);
		sl_h_run(&H, &m, 1);
		const uint8_t *o = data(one_out(0));
		assert_int_equal(csum16(o + 18, 20), 0);
		memcpy(want + 28, o + 28, 2);
		assert_memory_equal(o, want, len);
		sl_h_clear(&H);
	}
	/* Copied only where the headers crossed into the second segment. */
	assert_int_equal(aux("copied_layout"), 2);
	sl_h_fini(&H);
	assert_int_equal(rte_mempool_in_use_count(sl_h_pool), in_use);
}

/* A packet whose data another mbuf shares is copied, not written. */
static void test_rewrite_shared(void **state)
{
	(void)state;
	uint8_t f[256];
	unsigned in_use = rte_mempool_in_use_count(sl_h_pool);
	assert_int_equal(init("{type: rewrite, ops: [swap_macs, dec_ttl]}"), 0);
	unsigned len = ipv4_frame(f, 0, 64, 0, 40);
	/* The clone goes through rewrite; the original must not change. */
	struct rte_mbuf *orig = sl_h_mbuf(f, (uint16_t)len);
	struct rte_mbuf *clone = rte_pktmbuf_clone(orig, sl_h_pool);
	assert_non_null(clone);
	sl_h_run(&H, &clone, 1);
	assert_memory_equal(data(orig), f, len);
	assert_int_equal(data(one_out(0))[22], 63);
	assert_int_equal(aux("copied_shared"), 1);
	sl_h_clear(&H);
	/* And the other way round: the original through, the clone kept. */
	clone = rte_pktmbuf_clone(orig, sl_h_pool);
	sl_h_run(&H, &orig, 1);
	assert_memory_equal(data(clone), f, len);
	assert_int_equal(data(one_out(0))[22], 63);
	assert_int_equal(aux("copied_shared"), 2);
	sl_h_clear(&H);
	/* The clone alone now: its data is its own again, written in place. */
	sl_h_run(&H, &clone, 1);
	assert_int_equal(aux("copied_shared"), 2);
	assert_ptr_equal(H.got[0][0], clone);
	sl_h_clear(&H);
	/* A pool mbuf held twice (refcnt 2). */
	struct rte_mbuf *d = rte_pktmbuf_alloc(sl_h_pool);
	memcpy(rte_pktmbuf_append(d, (uint16_t)len), f, len);
	rte_mbuf_refcnt_update(d, 1);
	struct rte_mbuf *burst[1] = {d}; /* the stage puts its copy in here */
	sl_h_run(&H, burst, 1);
	assert_ptr_not_equal(burst[0], d);
	assert_memory_equal(rte_pktmbuf_mtod(d, uint8_t *), f, len);
	assert_int_equal(aux("copied_shared"), 3);
	rte_pktmbuf_free(d);
	sl_h_fini(&H);
	assert_int_equal(rte_mempool_in_use_count(sl_h_pool), in_use);
}

/* ---- meter ---- */

static void test_meter_check(void **state)
{
	(void)state;
	struct {
		const char *yaml, *want;
	} bad[] = {
	    {"{type: meter, mode: trtcm, cir: 1000, cbs: 100, ebs: 10, pir: 2000, pbs: 100}",
	     "1:54: stage 'stage': 'ebs'"},
	    {"{type: meter, mode: trtcm, cir: 1000, cbs: 100, pir: 999, pbs: 100}", "'pir'"},
	    {"{type: meter, mode: trtcm, cir: 1000, cbs: 100, pbs: 100}", "needs pir"},
	    {"{type: meter, mode: srtcm, cir: 1000, cbs: 100, pbs: 100}", "'pbs'"},
	    {"{type: meter, mode: tcm, cir: 1000, cbs: 100}", "'mode'"},
	    {"{type: meter, mode: srtcm, cir: 1000, cbs: 100, clock: wall}", "'clock'"},
	    {"{type: meter, mode: srtcm, cir: 0, cbs: 100}", "cir"},
	    {"{type: meter, mode: srtcm, cbs: 100}", "cir"},
	};
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		assert_int_equal(init(bad[i].yaml), -1);
		if (!strstr(err, bad[i].want))
			fail_msg("%s: got '%s', wanted '%s'", bad[i].yaml, err, bad[i].want);
		sl_h_fini(&H);
	}
}

static int ts_off = -1;
static uint64_t ts_flag;

/* Tokens an RFC meter of rate num/den bytes per second has added by time t
 * (timestamp units of ts_hz per second) since it started: one each 1/rate
 * seconds (RFC 2697 2.1: "updated CIR times per second"). */
static uint64_t ticks(uint64_t t, uint64_t ts_hz, uint64_t num, uint64_t den)
{
	return (uint64_t)((unsigned __int128)t * num / ((unsigned __int128)ts_hz * den));
}

/* The RFC 2697 / 2698 colour-blind markers, written from the RFCs: buckets
 * start full; srTCM: tokens go to C until full, then to E until full; a
 * packet of B bytes is green if Tc >= B (Tc -= B), else yellow if Te >= B
 * (Te -= B), else red. trTCM: P and C fill at their own rates; red if
 * Tp < B, else yellow if Tc < B (Tp -= B), else green (both -= B). */
struct model {
	bool tr;
	uint64_t cbs, ebs, pbs; /* ebs: srtcm; pbs: trtcm */
	uint64_t c_num, c_den, p_num, p_den, ts_hz;
	uint64_t tc, te, tp, kc, kp;
};

static int model_colour(struct model *m, uint64_t t, uint64_t b)
{
	uint64_t kc = ticks(t, m->ts_hz, m->c_num, m->c_den), add = kc - m->kc;
	m->kc = kc;
	if (!m->tr) {
		uint64_t a = RTE_MIN(add, m->cbs - m->tc);
		m->tc += a;
		m->te = RTE_MIN(m->ebs, m->te + (add - a));
		if (m->tc >= b) {
			m->tc -= b;
			return 0;
		}
		if (m->te >= b) {
			m->te -= b;
			return 1;
		}
		return 2;
	}
	uint64_t kp = ticks(t, m->ts_hz, m->p_num, m->p_den);
	m->tc = RTE_MIN(m->cbs, m->tc + add);
	m->tp = RTE_MIN(m->pbs, m->tp + (kp - m->kp));
	m->kp = kp;
	if (m->tp < b)
		return 2;
	if (m->tc < b) {
		m->tp -= b;
		return 1;
	}
	m->tp -= b;
	m->tc -= b;
	return 0;
}

static uint64_t lcg = 12345;
static uint32_t rnd(void)
{
	lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(lcg >> 33);
}

static void meter_exact(bool tr)
{
	/* rte_meter adds one byte per floor(hz / rate) TSC cycles (when that
	 * is at least 100), so the rate it realizes is hz / floor(hz / rate).
	 * Rates of hz/2000 and hz/1000 (rounded down) make those periods 2000
	 * and 1000 cycles exactly, whatever the TSC's frequency, and the model
	 * runs at those realized rates, kept as exact fractions: hz/2000 is
	 * the configured cir itself whenever 2000 divides hz. The stage turns
	 * a timestamp into cycles as floor(t * hz / ts_hz), and
	 * floor(floor(x) / P) == floor(x / P), so its token count at every
	 * packet is the model's, to the byte. */
	uint64_t hz = rte_get_tsc_hz(), ts_hz = 1000000000;
	uint64_t cir = hz / 2000, pir = hz / 1000;
	char yaml[512];
	struct model md = {.tr = tr,
			   .cbs = 9000,
			   .ebs = 60000,
			   .pbs = 12000,
			   .c_num = hz,
			   .c_den = 2000,
			   .p_num = hz,
			   .p_den = 1000,
			   .ts_hz = ts_hz};
	md.tc = md.cbs, md.te = md.ebs, md.tp = md.pbs;
	if (tr)
		snprintf(yaml, sizeof(yaml),
			 "{type: meter, mode: trtcm, cir: %llu, cbs: 9000, pir: %llu, pbs: 12000, "
			 "clock: capture}",
			 (unsigned long long)cir, (unsigned long long)pir);
	else
		snprintf(yaml, sizeof(yaml),
			 "{type: meter, mode: srtcm, cir: %llu, cbs: 9000, ebs: 60000, clock: "
			 "capture}",
			 (unsigned long long)cir);
	assert_int_equal(init(yaml), 0);
	assert_int_equal(rte_mbuf_dyn_rx_timestamp_register(&ts_off, &ts_flag), 0);

	/* Phases of 500 packets, alternately at 4x cir (twice pir) and at
	 * cir/2: the light ones fill the buckets (srtcm: C, then E), the heavy
	 * ones drain them, so that every colour turns up often. */
	uint8_t f[1600];
	memset(f, 0, sizeof(f));
	uint64_t t = 1700000000ull * ts_hz, t0 = t, want[3] = {0}, got[3] = {0};
	unsigned total = 30000, done = 0;
	uint64_t heavy_gap = 787 * ts_hz / (4 * cir), light_gap = 787 * ts_hz * 2 / cir;
	while (done < total) {
		struct rte_mbuf *m[250];
		int col[250];
		unsigned k = 0;
		for (; k < RTE_DIM(m) && done < total; k++, done++) {
			uint16_t len = (uint16_t)(60 + rnd() % 1455);
			/* Gaps from 0 to twice the phase's mean. */
			uint64_t gap = done / 500 % 2 ? light_gap : heavy_gap;
			t += rnd() % (2 * gap + 1);
			if (done == 0)
				t0 = t; /* the meter starts at its first packet */
			m[k] = sl_h_mbuf(f, len);
			*RTE_MBUF_DYNFIELD(m[k], ts_off, rte_mbuf_timestamp_t *) = t;
			m[k]->ol_flags |= ts_flag;
			col[k] = model_colour(&md, t - t0, len);
			want[col[k]]++;
		}
		sl_h_run(&H, m, k);
		/* Each packet where the model put it, in order. */
		unsigned idx[3] = {0};
		for (unsigned i = 0; i < k; i++) {
			/* The harness keeps packets per port in arrival order. */
			assert_true(idx[col[i]] < H.n_got[col[i]]);
			assert_ptr_equal(H.got[col[i]][idx[col[i]]], m[i]);
			idx[col[i]]++;
		}
		for (int c = 0; c < 3; c++)
			got[c] += H.n_got[c];
		sl_h_clear(&H);
	}
	print_message("%s: hz %llu cir %llu: green %llu yellow %llu red %llu\n",
		      tr ? "trtcm" : "srtcm", (unsigned long long)hz, (unsigned long long)cir,
		      (unsigned long long)want[0], (unsigned long long)want[1],
		      (unsigned long long)want[2]);
	for (int c = 0; c < 3; c++) {
		assert_int_equal(got[c], want[c]);
		assert_true(want[c] > total / 50);
	}
	sl_h_fini(&H);
}

static void test_meter_srtcm_exact(void **state)
{
	(void)state;
	meter_exact(false);
}

static void test_meter_trtcm_exact(void **state)
{
	(void)state;
	meter_exact(true);
}

static void test_meter_no_timestamp(void **state)
{
	(void)state;
	uint8_t f[64] = {0};
	assert_int_equal(init("{type: meter, mode: srtcm, cir: 1000, cbs: 100, clock: capture}"),
			 0);
	assert_int_equal(rte_mbuf_dyn_rx_timestamp_register(&ts_off, &ts_flag), 0);
	struct rte_mbuf *m[3] = {sl_h_mbuf(f, 64), sl_h_mbuf(f, 64), sl_h_mbuf(f, 64)};
	m[1]->ol_flags |= ts_flag;
	*RTE_MBUF_DYNFIELD(m[1], ts_off, rte_mbuf_timestamp_t *) = 5;
	sl_h_run(&H, m, 3);
	assert_int_equal(drops("no_timestamp"), 2);
	assert_int_equal(H.n_got[0], 1); /* the stamped one: green from a full bucket */
	sl_h_fini(&H);
	/* clock: tsc: a full bucket's worth green, then red at once. */
	assert_int_equal(init("{type: meter, mode: srtcm, cir: 1, cbs: 640}"), 0);
	struct rte_mbuf *b[20];
	for (int i = 0; i < 20; i++)
		b[i] = sl_h_mbuf(f, 64);
	sl_h_run(&H, b, 20);
	assert_int_equal(H.n_got[0], 10);
	assert_int_equal(H.n_got[2], 10);
	sl_h_fini(&H);
}

/* ---- sample ---- */

static void test_sample(void **state)
{
	(void)state;
	uint8_t f[64] = {0};
	struct rte_mbuf *m[1000];
	const char *bad[] = {
	    "{type: sample}",
	    "{type: sample, one_in: 3, probability: 0.5}",
	    "{type: sample, probability: 1.5}",
	    "{type: sample, one_in: 0}",
	};
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		if (init(bad[i]) == 0)
			fail_msg("accepted %s", bad[i]);
		sl_h_fini(&H);
	}
	assert_int_equal(init("{type: sample, one_in: 3}"), 0);
	/* 1000 packets in uneven bursts: exactly the 3rd, 6th, ... */
	for (unsigned i = 0; i < 1000; i++) {
		f[0] = (uint8_t)i, f[1] = (uint8_t)(i >> 8);
		m[i] = sl_h_mbuf(f, 60);
	}
	for (unsigned i = 0, b = 1; i < 1000; i += b, b = b * 3 % 97 + 1)
		sl_h_run(&H, m + i, RTE_MIN(b, 1000 - i));
	int s = sl_h_output(&H, "sampled"), r = sl_h_output(&H, "rest");
	assert_int_equal(H.n_got[s], 333);
	assert_int_equal(H.n_got[r], 667);
	for (unsigned k = 0; k < 333; k++) {
		const uint8_t *d = data(H.got[s][k]);
		assert_int_equal(d[0] | d[1] << 8, 3 * k + 2);
	}
	sl_h_fini(&H);

	/* probability: a fixed seed, 200000 packets, within 5 sigma of n*p. */
	const double ps[] = {0.0, 0.01, 0.25, 0.5, 1.0};
	for (unsigned pi = 0; pi < RTE_DIM(ps); pi++) {
		char yaml[128];
		snprintf(yaml, sizeof(yaml), "{type: sample, probability: %g}", ps[pi]);
		assert_int_equal(init(yaml), 0);
		rte_srand(42);
		unsigned n = 200000, sampled = 0;
		for (unsigned done = 0; done < n; done += 1000) {
			for (unsigned i = 0; i < 1000; i++)
				m[i] = sl_h_mbuf(f, 60);
			sl_h_run(&H, m, 1000);
			sampled += H.n_got[0];
			assert_int_equal(H.n_got[0] + H.n_got[1], 1000);
			sl_h_clear(&H);
		}
		double mean = n * ps[pi], sd = sqrt(n * ps[pi] * (1 - ps[pi]));
		print_message("probability %g: %u of %u\n", ps[pi], sampled, n);
		assert_true(sampled >= mean - 5 * sd && sampled <= mean + 5 * sd);
		sl_h_fini(&H);
	}
}

/* ---- mirror ---- */

static void test_mirror(void **state)
{
	(void)state;
	uint8_t f[256];
	struct rte_mbuf *m[300];
	unsigned in_use = rte_mempool_in_use_count(sl_h_pool);
	assert_int_equal(init("{type: mirror}"), 0);
	for (unsigned i = 0; i < 300; i++) {
		unsigned len = ipv4_frame(f, 0, (uint8_t)(i + 2), 0, i % 100);
		m[i] = sl_h_mbuf(f, (uint16_t)len);
	}
	rte_pktmbuf_free(m[299]);
	m[299] = chained(f, 150, 40); /* clones of chains too */
	struct rte_mbuf *orig[300];
	memcpy(orig, m, sizeof(m));
	sl_h_run(&H, m, 300);
	int out = sl_h_output(&H, "out"), copy = sl_h_output(&H, "copy");
	assert_int_equal(H.n_got[out], 300);
	assert_int_equal(H.n_got[copy], 300);
	for (unsigned i = 0; i < 300; i++) {
		struct rte_mbuf *o = H.got[out][i], *c = H.got[copy][i];
		assert_ptr_equal(o, orig[i]);
		assert_ptr_not_equal(c, o);
		/* The same bytes, not a copy of them. */
		assert_ptr_equal(rte_pktmbuf_mtod(c, void *), rte_pktmbuf_mtod(o, void *));
		assert_int_equal(c->pkt_len, o->pkt_len);
		assert_int_equal(c->nb_segs, o->nb_segs);
		/* Headers of its own: metadata changes stay on one side. */
		c->vlan_tci = 77;
		assert_int_not_equal(o->vlan_tci, 77);
	}
	/* A rewrite downstream of one side leaves the other side's data alone. */
	struct sl_harness mir = H;
	memset(&H, 0, sizeof(H));
	assert_int_equal(init("{type: rewrite, ops: [dec_ttl]}"), 0);
	uint8_t before[256];
	memcpy(before, data(mir.got[copy][0]), mir.got[copy][0]->pkt_len);
	sl_h_run(&H, mir.got[out], 1);
	mir.got[out][0] = H.got[0][0]; /* now the rewritten copy */
	H.n_got[0] = 0;
	assert_memory_equal(data(mir.got[copy][0]), before, mir.got[copy][0]->pkt_len);
	assert_int_equal(data(mir.got[out][0])[22], before[22] - 1);
	sl_h_fini(&H);
	assert_int_equal(mir.cnt.pkts_in * 2, mir.cnt.out[0] + mir.cnt.out[1]);
	sl_h_fini(&mir);
	/* Every clone and every copy freed: the pool is back where it was. */
	assert_int_equal(rte_mempool_in_use_count(sl_h_pool), in_use);
}

/* An empty pool: the copies fail, the originals go on. */
static void test_mirror_copy_failed(void **state)
{
	(void)state;
	struct rte_mempool *small = rte_pktmbuf_pool_create(
	    "mirror_small", 16, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	assert_non_null(small);
	assert_int_equal(init("{type: mirror}"), 0);
	struct rte_mbuf *m[12];
	for (int i = 0; i < 12; i++) {
		m[i] = rte_pktmbuf_alloc(small);
		assert_non_null(m[i]);
		memset(rte_pktmbuf_append(m[i], 60), i, 60);
	}
	sl_h_run(&H, m, 12);
	assert_int_equal(H.n_got[0], 12);
	assert_int_equal(H.n_got[1], 4);
	assert_int_equal(drops("copy_failed"), 8);
	assert_int_equal(H.cnt.pkts_in * 2, H.cnt.out[0] + H.cnt.out[1] + H.cnt.drops[1]);
	sl_h_fini(&H);
	assert_int_equal(rte_mempool_in_use_count(small), 0);
	rte_mempool_free(small);
}

int main(void)
{
	sl_h_eal("test_actions", 8191);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rewrite_check),
	    cmocka_unit_test(test_rewrite_swap_dec_ttl),
	    cmocka_unit_test(test_rewrite_dscp_macs),
	    cmocka_unit_test(test_rewrite_vlan),
	    cmocka_unit_test(test_rewrite_stripped),
	    cmocka_unit_test(test_rewrite_malformed),
	    cmocka_unit_test(test_rewrite_chained),
	    cmocka_unit_test(test_rewrite_shared),
	    cmocka_unit_test(test_meter_check),
	    cmocka_unit_test(test_meter_srtcm_exact),
	    cmocka_unit_test(test_meter_trtcm_exact),
	    cmocka_unit_test(test_meter_no_timestamp),
	    cmocka_unit_test(test_sample),
	    cmocka_unit_test(test_mirror),
	    cmocka_unit_test(test_mirror_copy_failed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
