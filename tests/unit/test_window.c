/* test_window.c: the window stage against an exact model. Packets carry
 * capture timestamps set here (time: capture), so which windows each packet
 * falls in is known: packets and bytes per key and window must be exactly
 * the model's, tumbling and sliding, and the HyperLogLog distinct counts
 * within three standard errors (1.04 / sqrt(2^precision)) of the exact
 * counts. Also: keys beyond max_keys are counted as one overflow record,
 * never lost; every packet goes on through `out`; bad configs are refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_mbuf_dyn.h>

#include "tests/unit/harness.h"

static char dir[] = "/tmp/sl_test_window_XXXXXX";
static int ts_off;
static uint64_t ts_flag;

static uint64_t rng = 3;
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* An IPv4 UDP frame 10.0.0.src -> 10.D.D.D:dport from sport, pad extra
 * payload bytes. */
static uint16_t build(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		      uint16_t pad)
{
	memset(b, 0, 42 + pad);
	b[0] = 2, b[6] = 2, b[12] = 0x08;
	uint8_t *ip = b + 14;
	ip[0] = 0x45, ip[8] = 64, ip[9] = 17;
	uint16_t tot = (uint16_t)(28 + pad);
	ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip[12] = 10, ip[14] = (uint8_t)(src >> 8), ip[15] = (uint8_t)src;
	ip[16] = 10, ip[17] = (uint8_t)(dst >> 16), ip[18] = (uint8_t)(dst >> 8),
	ip[19] = (uint8_t)dst;
	uint8_t *u = ip + 20;
	u[0] = (uint8_t)(sport >> 8), u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8), u[3] = (uint8_t)dport;
	return (uint16_t)(42 + pad);
}

static struct rte_mbuf *stamped(const uint8_t *f, uint16_t len, uint64_t ns)
{
	struct rte_mbuf *m = sl_h_mbuf(f, len);
	*RTE_MBUF_DYNFIELD(m, ts_off, rte_mbuf_timestamp_t *) = ns;
	m->ol_flags |= ts_flag;
	return m;
}

static uint64_t aux(const struct sl_harness *h, const char *name)
{
	for (unsigned i = 0; i < h->st.n_aux; i++)
		if (!strcmp(h->aux_names[i], name))
			return h->aux[i];
	fail_msg("no counter %s", name);
	return 0;
}

static void start(struct sl_harness *h, const char *yaml)
{
	char err[512];
	if (sl_h_init(h, yaml, dir, 0, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (!ts_off && rte_mbuf_dyn_rx_timestamp_register(&ts_off, &ts_flag) < 0)
		fail_msg("timestamp field");
}

/* ---- the emitted records ---------------------------------------------- */

struct rec {
	uint64_t start, end, packets, bytes;
	long src; /* last byte pair of the source, -1: an overflow record */
	long d_dst, d_sport, d_dport;
	bool used;
};

static long field(const char *line, const char *name)
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
		return (long)(c << 8 | d);
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
		r[n].end = (uint64_t)strtoull(strstr(line, "\"end_ns\":") + 9, NULL, 10);
		r[n].packets = (uint64_t)field(line, "packets");
		r[n].bytes = (uint64_t)field(line, "bytes");
		r[n].src = strstr(line, "\"overflow\":true") ? -1 : field(line, "src");
		r[n].d_dst = field(line, "distinct_dst");
		r[n].d_sport = field(line, "distinct_sport");
		r[n].d_dport = field(line, "distinct_dport");
		r[n].used = false;
		n++;
	}
	fclose(f);
	return n;
}

/* ---- the model --------------------------------------------------------- */

#define N_PKTS 60000
#define N_SRC 12
struct pkt {
	uint64_t t;
	uint32_t src, dst;
	uint16_t sport, dport, len;
};
static struct pkt trace[N_PKTS];
static uint32_t vals[N_PKTS];

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static long exact_distinct(uint64_t start, uint64_t end, uint32_t src, int which)
{
	unsigned n = 0;
	for (unsigned i = 0; i < N_PKTS; i++)
		if (trace[i].src == src && trace[i].t >= start && trace[i].t < end)
			vals[n++] = which == 0	 ? trace[i].dst
				    : which == 1 ? trace[i].sport
						 : trace[i].dport;
	qsort(vals, n, sizeof(vals[0]), cmp_u32);
	long d = 0;
	for (unsigned i = 0; i < n; i++)
		d += i == 0 || vals[i] != vals[i - 1];
	return d;
}

static void make_trace(void)
{
	uint64_t t = 1700000000ull * 1000000000ull + 123456789;
	for (unsigned i = 0; i < N_PKTS; i++) {
		t += rnd() % 200000; /* 0 to 200 us apart: about 6 s in all */
		struct pkt *p = &trace[i];
		p->t = t;
		p->src = (uint32_t)(rnd() % N_SRC);
		/* source k talks to up to 40 * 2^(k/2) destinations: from tens to
		 * thousands of distinct values per window. */
		p->dst = (uint32_t)(rnd() % (40u << (p->src / 2)));
		p->sport = (uint16_t)(rnd() % (100 + 500 * p->src));
		p->dport = (uint16_t)(1 + rnd() % 20);
		p->len = (uint16_t)(rnd() % 200);
	}
}

static void replay(struct sl_harness *h)
{
	static struct rte_mbuf *pkts[256];
	uint8_t b[300];
	for (unsigned i = 0; i < N_PKTS;) {
		unsigned n = 0;
		for (; n < 256 && i < N_PKTS; n++, i++) {
			const struct pkt *p = &trace[i];
			uint16_t l = build(b, p->src, p->dst, p->sport, p->dport, p->len);
			pkts[n] = stamped(b, l, p->t);
		}
		sl_h_run(h, pkts, n);
		sl_h_clear(h);
	}
}

/* Windows of size ns every slide ns: every (window, source) the model
 * has appears exactly once with the model's packets and bytes, and the
 * distinct counts are within 3 standard errors. */
static void check_against_model(const char *file, uint64_t size, uint64_t slide, unsigned p)
{
	static struct rec r[20000];
	unsigned n = read_recs(file, r, RTE_DIM(r));
	double se = 1.04 / sqrt((double)(1u << p)), worst = 0;
	uint64_t first = trace[0].t / slide, last = trace[N_PKTS - 1].t / slide;
	unsigned expected = 0;
	first = first >= size / slide - 1 ? first - (size / slide - 1) : 0;
	for (uint64_t w = first; w <= last; w++) {
		uint64_t start = w * slide, end = start + size;
		for (uint32_t src = 0; src < N_SRC; src++) {
			uint64_t pk = 0, by = 0;
			for (unsigned i = 0; i < N_PKTS; i++)
				if (trace[i].src == src && trace[i].t >= start &&
				    trace[i].t < end) {
					pk++;
					by += 42u + trace[i].len;
				}
			if (!pk)
				continue;
			expected++;
			struct rec *got = NULL;
			for (unsigned j = 0; j < n; j++)
				if (r[j].start == start && r[j].src == (long)src) {
					assert_null(got); /* one record per key and window */
					got = &r[j];
				}
			if (!got)
				fail_msg("no record for source %u, window %llu", src,
					 (unsigned long long)start);
			assert_int_equal(got->end, end);
			assert_int_equal(got->packets, pk);
			assert_int_equal(got->bytes, by);
			long est[3] = {got->d_dst, got->d_sport, got->d_dport};
			for (int k = 0; k < 3; k++) {
				long ex = exact_distinct(start, end, src, k);
				double err = fabs((double)est[k] - (double)ex) / (double)ex;
				worst = fmax(worst, err);
				if (err > 3 * se)
					fail_msg("source %u window %llu field %d: %ld distinct, "
						 "estimated %ld",
						 src, (unsigned long long)start, k, ex, est[k]);
			}
		}
	}
	assert_int_equal(n, expected);
	printf("window %llu ms / slide %llu ms: %u records as the model, worst distinct error "
	       "%.3f (bound %.3f)\n",
	       (unsigned long long)(size / 1000000), (unsigned long long)(slide / 1000000), n,
	       worst, 3 * se);
}

static void test_tumbling(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: window, key: src, size: 1, time: capture, emit: 'json:tumble.jsonl'}");
	replay(&h);
	assert_int_equal(h.cnt.out[0], N_PKTS);
	assert_int_equal(aux(&h, "over_max_keys"), 0);
	assert_int_equal(aux(&h, "late"), 0);
	assert_int_equal(aux(&h, "records_lost"), 0);
	sl_h_fini(&h);
	check_against_model("tumble.jsonl", 1000000000ull, 1000000000ull, 8);
}

static void test_sliding(void **state)
{
	(void)state;
	struct sl_harness h;
	start(
	    &h,
	    "{type: window, key: src, size_ms: 1000, slide_ms: 250, precision: 10, max_keys: 1024, "
	    "time: capture, emit: 'json:slide.jsonl'}");
	replay(&h);
	assert_int_equal(h.cnt.out[0], N_PKTS);
	assert_int_equal(aux(&h, "records_lost"), 0);
	sl_h_fini(&h);
	check_against_model("slide.jsonl", 1000000000ull, 250000000ull, 10);
}

/* Beyond max_keys a window's packets are counted together, as one overflow
 * record: the packets of all records add up to what came. */
static void test_max_keys(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: window, key: src, size: 1, max_keys: 16, time: capture, "
		  "emit: 'json:over.jsonl'}");
	static struct rte_mbuf *pkts[100];
	uint8_t b[300];
	uint64_t t0 = 5000000000ull;
	for (unsigned i = 0; i < 100; i++)
		pkts[i] = stamped(b, build(b, i % 40, 1, 2, 3, 0), t0 + i);
	sl_h_run(&h, pkts, 100);
	/* Non-IP and untimed packets pass, counted, in no window. */
	memset(b, 0, 60);
	b[12] = 0x08, b[13] = 0x06;
	struct rte_mbuf *arp = stamped(b, 60, t0 + 200);
	struct rte_mbuf *bare = sl_h_mbuf(b, build(b, 1, 1, 2, 3, 0));
	sl_h_run(&h, &arp, 1);
	sl_h_run(&h, &bare, 1);
	assert_int_equal(h.cnt.out[0], 102);
	assert_int_equal(aux(&h, "non_ip"), 1);
	assert_int_equal(aux(&h, "no_timestamp"), 1);
	/* sources 0-15 come first and fit: their 48 packets; the other 52 do not */
	assert_int_equal(aux(&h, "over_max_keys"), 52);
	sl_h_fini(&h);
	static struct rec r[64];
	unsigned n = read_recs("over.jsonl", r, RTE_DIM(r));
	assert_int_equal(n, 17);
	uint64_t sum = 0, over = 0;
	for (unsigned i = 0; i < n; i++) {
		sum += r[i].packets;
		if (r[i].src < 0)
			over = r[i].packets;
		assert_int_equal(r[i].start, 5000000000ull);
	}
	assert_int_equal(sum, 100);
	assert_int_equal(over, 52);
}

/* A packet older than a window already written (a reordered trace) is
 * counted as late and only in the windows still open. */
static void test_late(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: window, key: src, size_ms: 200, slide_ms: 100, time: capture, "
		  "emit: 'json:late.jsonl'}");
	uint8_t b[300];
	const uint64_t ms = 1000000;
	/* times in ms; windows [900,1100), [1000,1200), ... */
	static const struct {
		uint64_t t, late;
	} seq[] = {
	    {1050, 0}, /* in 900 and 1000 */
	    {1090, 0}, /* the same */
	    {1250, 0}, /* writes 900 and 1000; in 1100 and 1200 */
	    {1150, 1}, /* 1000 is written: late, counted in 1100 only */
	    {1310, 1}, /* writes 1100; in 1200 and 1300 */
	    {1120, 2}, /* both its windows are written: late, counted nowhere */
	};
	for (unsigned i = 0; i < RTE_DIM(seq); i++) {
		struct rte_mbuf *q = stamped(b, build(b, 1, 1, 2, 3, 0), seq[i].t * ms);
		sl_h_run(&h, &q, 1);
		assert_int_equal(aux(&h, "late"), seq[i].late);
	}
	assert_int_equal(h.cnt.out[0], RTE_DIM(seq));
	sl_h_fini(&h);
	static struct rec r[16];
	unsigned n = read_recs("late.jsonl", r, RTE_DIM(r));
	static const uint64_t want[][2] = {{900, 2}, {1000, 2}, {1100, 2}, {1200, 2}, {1300, 1}};
	assert_int_equal(n, RTE_DIM(want));
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r[i].start, want[i][0] * ms);
		assert_int_equal(r[i].packets, want[i][1]);
	}
}

/* On arrival time the worker's tick closes a window without traffic. */
static void test_arrival_tick(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: window, key: dport, size_ms: 50, emit: 'json:tick.jsonl'}");
	uint8_t b[300];
	struct rte_mbuf *p[3];
	for (unsigned i = 0; i < 3; i++)
		p[i] = sl_h_mbuf(b, build(b, i, 1, 2, 80, 0));
	sl_h_run(&h, p, 3);
	rte_delay_us_sleep(120000);
	h.st.type->tick(&h.st);
	assert_int_equal(aux(&h, "records"), 1);
	sl_h_fini(&h);
	static struct rec r[4];
	assert_int_equal(read_recs("tick.jsonl", r, RTE_DIM(r)), 1);
	assert_int_equal(r[0].packets, 3);
	assert_int_equal(r[0].end - r[0].start, 50000000);
	assert_int_equal(r[0].d_dst, 1);
	assert_int_equal(r[0].d_dport, -1); /* the key's own field has no count */
}

static void test_config(void **state)
{
	(void)state;
	struct sl_harness h;
	char err[512];
	static const char *const bad[][2] = {
	    {"{type: window, key: port, emit: 'json:x'}", "must be 5tuple, src"},
	    {"{type: window, size: 10, slide: 3, emit: 'json:x'}", "must divide the size"},
	    {"{type: window, size: 1, slide: 2, emit: 'json:x'}", "must divide the size"},
	    {"{type: window, emit: 'ipfix://127.0.0.1:9'}", "must be json:PATH"},
	    {"{type: window, time: wall, emit: 'json:x'}", "must be arrival or capture"},
	    {"{type: window, key: src}", "emit"},
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
	sl_h_eal("sl_test_window", 8191);
	make_trace();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tumbling),	 cmocka_unit_test(test_sliding),
	    cmocka_unit_test(test_max_keys),	 cmocka_unit_test(test_late),
	    cmocka_unit_test(test_arrival_tick), cmocka_unit_test(test_config),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
