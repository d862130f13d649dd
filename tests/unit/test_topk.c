/* test_topk.c: the topk stage on a Zipf-skewed stream (s = 1.1) over a
 * million distinct source addresses, generated here with capture
 * timestamps in one window: the records name exactly the true top 10, and
 * each estimate lies within its stated bound of the exact count
 * (exact <= estimate <= exact + epsilon * N). Also: a window boundary
 * splits the counts, and bad configs are refused. */
#include <math.h>
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

static char dir[] = "/tmp/sl_test_topk_XXXXXX";
static int ts_off;
static uint64_t ts_flag;

static uint64_t rng = 17;
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* IPv4 UDP from 10.a.b.c (the 24 bits of src) to 192.168.0.1. */
static uint16_t build(uint8_t *b, uint32_t src)
{
	memset(b, 0, 42);
	b[0] = 2, b[6] = 2, b[12] = 0x08;
	uint8_t *ip = b + 14;
	ip[0] = 0x45, ip[3] = 28, ip[8] = 64, ip[9] = 17;
	ip[12] = 10, ip[13] = (uint8_t)(src >> 16), ip[14] = (uint8_t)(src >> 8),
	ip[15] = (uint8_t)src;
	ip[16] = 192, ip[17] = 168, ip[19] = 1;
	ip[21] = 9, ip[23] = 53;
	return 42;
}

static struct rte_mbuf *stamped(const uint8_t *f, uint16_t len, uint64_t ns)
{
	struct rte_mbuf *m = sl_h_mbuf(f, len);
	*RTE_MBUF_DYNFIELD(m, ts_off, rte_mbuf_timestamp_t *) = ns;
	m->ol_flags |= ts_flag;
	return m;
}

static void start(struct sl_harness *h, const char *yaml)
{
	char err[512];
	if (sl_h_init(h, yaml, dir, 0, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (!ts_off && rte_mbuf_dyn_rx_timestamp_register(&ts_off, &ts_flag) < 0)
		fail_msg("timestamp field");
}

struct rec {
	uint64_t start, rank, estimate, total, bound;
	long src;
};

static long num(const char *line, const char *name)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", name);
	const char *p = strstr(line, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	if (*p == '"') {
		unsigned a, b, c, d;
		if (sscanf(p, "\"%u.%u.%u.%u\"", &a, &b, &c, &d) != 4)
			return -2;
		return (long)(b << 16 | c << 8 | d);
	}
	return strtol(p, NULL, 10);
}

static unsigned read_recs(const char *name, struct rec *r, unsigned max)
{
	char path[256], line[2048];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	unsigned n = 0;
	while (fgets(line, sizeof(line), f)) {
		assert_true(n < max);
		r[n].start = (uint64_t)strtoull(strstr(line, "\"start_ns\":") + 11, NULL, 10);
		r[n].rank = (uint64_t)num(line, "rank");
		r[n].estimate = (uint64_t)num(line, "estimate");
		r[n].total = (uint64_t)num(line, "window_packets");
		r[n].bound = (uint64_t)num(line, "error_bound");
		r[n].src = num(line, "src");
		n++;
	}
	fclose(f);
	return n;
}

#define N_KEYS 1000000
#define N_PKTS 2000000
#define K 10

static void test_zipf(void **state)
{
	(void)state;
	static double cdf[N_KEYS];
	static uint32_t exact[N_KEYS], order[N_KEYS];
	double sum = 0;
	for (unsigned i = 0; i < N_KEYS; i++)
		cdf[i] = (sum += pow(i + 1.0, -1.1));
	/* Rank r's key is a scrambled address, so heavy keys are not neighbours. */
	for (unsigned i = 0; i < N_KEYS; i++)
		order[i] = (uint32_t)(((uint64_t)i * 2654435761u) & 0xffffff);
	struct sl_harness h;
	start(&h, "{type: topk, key: src, k: 10, size: 10, epsilon: 0.001, delta: 0.01, "
		  "time: capture, emit: 'json:zipf.jsonl'}");
	static struct rte_mbuf *pkts[256];
	uint8_t b[64];
	uint64_t t = 1700000000ull * 1000000000ull; /* a window start */
	for (unsigned i = 0; i < N_PKTS;) {
		unsigned n = 0;
		for (; n < 256 && i < N_PKTS; n++, i++) {
			double u = (double)(rnd() >> 11) / 9007199254740992.0 * sum;
			unsigned lo = 0, hi = N_KEYS - 1;
			while (lo < hi) {
				unsigned mid = (lo + hi) / 2;
				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			exact[lo]++;
			pkts[n] = stamped(b, build(b, order[lo]), t + i);
		}
		sl_h_run(&h, pkts, n);
		sl_h_clear(&h);
	}
	assert_int_equal(h.cnt.out[0], N_PKTS);
	sl_h_fini(&h);

	/* The true top 10 by exact count (ranks can swap by sampling noise). */
	static uint32_t idx[N_KEYS];
	for (unsigned i = 0; i < N_KEYS; i++)
		idx[i] = i;
	for (unsigned a = 0; a < K + 1; a++)
		for (unsigned c = a + 1; c < N_KEYS; c++)
			if (exact[idx[c]] > exact[idx[a]]) {
				uint32_t x = idx[a];
				idx[a] = idx[c];
				idx[c] = x;
			}
	assert_true(exact[idx[K - 1]] > exact[idx[K]]); /* a clear top 10 */
	static struct rec r[64];
	unsigned n = read_recs("zipf.jsonl", r, RTE_DIM(r));
	assert_int_equal(n, K);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r[i].rank, i + 1);
		assert_int_equal(r[i].total, N_PKTS);
		assert_int_equal(r[i].bound, (uint64_t)ceil(0.001 * N_PKTS));
		assert_int_equal(r[i].start, t);
		unsigned j = 0;
		while (j < K && (long)order[idx[j]] != r[i].src)
			j++;
		if (j == K)
			fail_msg("rank %u: source %ld is not in the true top 10", i + 1, r[i].src);
		uint64_t ex = exact[idx[j]];
		if (r[i].estimate < ex || r[i].estimate > ex + r[i].bound)
			fail_msg("rank %u: estimate %llu, exact %llu, bound %llu", i + 1,
				 (unsigned long long)r[i].estimate, (unsigned long long)ex,
				 (unsigned long long)r[i].bound);
		printf("rank %u: exact %llu estimate %llu (bound %llu)\n", i + 1,
		       (unsigned long long)ex, (unsigned long long)r[i].estimate,
		       (unsigned long long)r[i].bound);
	}
}

/* Two windows: each reports its own counts; the second is written at fini. */
static void test_windows(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: topk, key: src, k: 2, size_ms: 100, time: capture, "
		  "emit: 'json:two.jsonl'}");
	static struct rte_mbuf *pkts[64];
	uint8_t b[64];
	uint64_t t0 = 1000000000ull;
	unsigned n = 0;
	for (unsigned i = 0; i < 30; i++) /* window 1: 20 of 1, 7 of 2, 3 of 3 */
		pkts[n++] = stamped(b, build(b, i < 20 ? 1 : i < 27 ? 2 : 3), t0 + i);
	for (unsigned i = 0; i < 10; i++) /* window 2: 6 of 3, 4 of 1 */
		pkts[n++] = stamped(b, build(b, i < 6 ? 3 : 1), t0 + 100000000 + i);
	sl_h_run(&h, pkts, n);
	sl_h_fini(&h);
	static struct rec r[8];
	assert_int_equal(read_recs("two.jsonl", r, RTE_DIM(r)), 4);
	uint64_t want[4][4] = {
	    {t0, 1, 20, 1}, {t0, 2, 7, 2}, {t0 + 100000000, 1, 6, 3}, {t0 + 100000000, 2, 4, 1}};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(r[i].start, want[i][0]);
		assert_int_equal(r[i].rank, want[i][1]);
		assert_int_equal(r[i].estimate, want[i][2]); /* tiny: no collisions */
		assert_int_equal(r[i].src, want[i][3]);
	}
	assert_int_equal(r[0].total, 30);
	assert_int_equal(r[2].total, 10);
}

static void test_config(void **state)
{
	(void)state;
	struct sl_harness h;
	char err[512];
	static const char *const bad[][2] = {
	    {"{type: topk, key: port, emit: 'json:x'}", "must be 5tuple, src"},
	    {"{type: topk, emit: 'ipfix://127.0.0.1:9'}", "must be json:PATH"},
	    {"{type: topk, k: 0, emit: 'json:x'}", "k"},
	    {"{type: topk, epsilon: 0.9, emit: 'json:x'}", "epsilon"},
	    {"{type: topk}", "emit"},
	};
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		assert_int_equal(sl_h_init(&h, bad[i][0], dir, 0, err, sizeof(err)), -1);
		if (!strstr(err, bad[i][1]))
			fail_msg("%s: %s", bad[i][0], err);
		sl_h_fini(&h);
	}
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	sl_h_eal("sl_test_topk", 8191);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zipf),
	    cmocka_unit_test(test_windows),
	    cmocka_unit_test(test_config),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
