/* test_dedup.c: the dedup stage against an exact model. Packets carry
 * capture timestamps (time: capture), so every verdict is known: a packet
 * is a duplicate when a packet equal in its invariant bytes (TTL and
 * checksums aside) was seen within window_us before it, each sighting
 * refreshing the time. A random stream over templates and their
 * TTL/checksum variants must get exactly the model's verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_mbuf_dyn.h>

#include "tests/unit/harness.h"

#define N_TEMPLATES 64
#define N_PKTS 200000
#define WINDOW_US 1000

static int ts_off;
static uint64_t ts_flag;

static struct rte_mbuf *stamped(const uint8_t *f, uint16_t len, uint64_t ns)
{
	struct rte_mbuf *m = sl_h_mbuf(f, len);
	*RTE_MBUF_DYNFIELD(m, ts_off, rte_mbuf_timestamp_t *) = ns;
	m->ol_flags |= ts_flag;
	return m;
}

/* Template k: IPv4 UDP (even k, optionally VLAN-tagged) or IPv6 TCP (odd),
 * payload bytes that depend on k. ttl and csum_noise change only what
 * dedup must ignore. */
static uint16_t build(uint8_t *b, unsigned k, uint8_t ttl, uint8_t csum_noise)
{
	memset(b, 0, 128);
	b[0] = 2, b[5] = (uint8_t)k, b[6] = 2, b[11] = 9;
	uint16_t o = 12;
	if (k % 4 == 2) {
		b[o] = 0x81, b[o + 3] = 7;
		o += 4;
	}
	if (k % 2 == 0) {
		b[o] = 0x08, b[o + 1] = 0x00;
		uint8_t *ip = b + o + 2;
		ip[0] = 0x45, ip[3] = 20 + 8 + 16, ip[8] = ttl, ip[9] = 17;
		ip[10] = csum_noise, ip[11] = (uint8_t)~csum_noise;
		ip[12] = 10, ip[15] = (uint8_t)k, ip[16] = 10, ip[19] = 1;
		uint8_t *u = ip + 20;
		u[1] = 53, u[3] = 53, u[5] = 24, u[6] = csum_noise;
		for (int i = 0; i < 16; i++)
			u[8 + i] = (uint8_t)(k * 7 + i);
		return (uint16_t)(o + 2 + 20 + 8 + 16);
	}
	b[o] = 0x86, b[o + 1] = 0xdd;
	uint8_t *ip = b + o + 2;
	ip[0] = 0x60, ip[5] = 20 + 12, ip[6] = 6, ip[7] = ttl;
	ip[8] = 0x20, ip[23] = (uint8_t)k, ip[24] = 0x20, ip[39] = 1;
	uint8_t *t = ip + 40;
	t[1] = 80, t[3] = 80, t[12] = 0x50, t[16] = csum_noise;
	for (int i = 0; i < 12; i++)
		t[20 + i] = (uint8_t)(k * 3 + i);
	return (uint16_t)(o + 2 + 40 + 20 + 12);
}

static uint64_t rng = 7;
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void test_basic_sequence(void **state)
{
	(void)state;
	struct sl_harness h;
	char err[512];
	assert_int_equal(sl_h_init(&h, "{type: dedup, window_us: 1000, time: capture}", NULL, 0,
				   err, sizeof(err)),
			 0);
	assert_int_equal(rte_mbuf_dyn_rx_timestamp_register(&ts_off, &ts_flag), 0);
	uint8_t b[128];
	struct rte_mbuf *p[6];
	uint16_t l = build(b, 0, 64, 0);
	p[0] = stamped(b, l, 0);       /* first: passes */
	p[1] = stamped(b, l, 500000);  /* 0.5 ms later: duplicate */
	p[2] = stamped(b, l, 1400000); /* 0.9 ms after the last sighting: duplicate */
	p[3] = stamped(b, l, 2500000); /* 1.1 ms after: passes */
	l = build(b, 0, 63, 5);	       /* one hop later: TTL and checksums differ */
	p[4] = stamped(b, l, 2600000); /* still a duplicate */
	l = build(b, 2, 64, 0);	       /* another packet */
	p[5] = stamped(b, l, 2600000);
	sl_h_run(&h, p, 6);
	assert_int_equal(h.n_got[0], 3);
	assert_int_equal(h.cnt.drops[sl_h_drop(&h, "duplicate")], 3);
	/* No timestamp: passes, counted. */
	struct rte_mbuf *bare = sl_h_mbuf(b, l);
	sl_h_run(&h, &bare, 1);
	assert_int_equal(h.n_got[0], 4);
	assert_int_equal(h.aux[1], 1);
	assert_string_equal(h.aux_names[1], "no_timestamp");
	sl_h_fini(&h);

	char bad[] = "{type: dedup,\n time: wallclock}";
	assert_int_equal(sl_h_init(&h, bad, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2:8: stage 'stage': 'time': must be arrival or capture"));
	sl_h_fini(&h);
}

static void test_against_model(void **state)
{
	(void)state;
	struct sl_harness h;
	char err[512];
	assert_int_equal(sl_h_init(&h,
				   "{type: dedup, window_us: 1000, entries: 65536, time: capture}",
				   NULL, 0, err, sizeof(err)),
			 0);
	static uint64_t last[N_TEMPLATES];
	static bool seen[N_TEMPLATES];
	static uint8_t expect_dup[N_PKTS];
	static uint64_t stamp[N_PKTS];
	static struct rte_mbuf *pkts[256];
	uint64_t t = 1000000000, dups = 0;

	for (unsigned i = 0; i < N_PKTS;) {
		unsigned n = 0;
		for (; n < 256 && i < N_PKTS; n++, i++) {
			t += rnd() % 40000; /* 0 to 40 us apart */
			unsigned k = (unsigned)(rnd() % N_TEMPLATES);
			uint8_t b[128];
			uint16_t l = build(b, k, (uint8_t)(1 + rnd() % 255), (uint8_t)rnd());
			pkts[n] = stamped(b, l, t);
			stamp[i] = t;
			expect_dup[i] = seen[k] && t - last[k] <= (uint64_t)WINDOW_US * 1000;
			dups += expect_dup[i];
			seen[k] = true;
			last[k] = t;
		}
		sl_h_run(&h, pkts, n);
		/* Survivors are kept in order: check them against the model. */
		unsigned want = 0;
		for (unsigned j = i - n; j < i; j++) {
			if (expect_dup[j])
				continue;
			assert_true(want < h.n_got[0]);
			/* The same packet, by its timestamp. */
			assert_true(*RTE_MBUF_DYNFIELD(h.got[0][want], ts_off,
						       rte_mbuf_timestamp_t *) == stamp[j]);
			want++;
		}
		assert_int_equal(h.n_got[0], want);
		sl_h_clear(&h);
	}
	assert_int_equal(h.cnt.drops[sl_h_drop(&h, "duplicate")], dups);
	assert_int_equal(h.aux[0], 0); /* nothing live was evicted */
	printf("%u packets, %llu duplicates, all as the model says\n", N_PKTS,
	       (unsigned long long)dups);
	sl_h_fini(&h);
}

int main(void)
{
	sl_h_eal("sl_test_dedup", 8191);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_sequence),
	    cmocka_unit_test(test_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
