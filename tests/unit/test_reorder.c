/* test_reorder.c: the reorder stage puts back the order port_rx numbered,
 * whatever shuffle comes in; gives up on a missing number after its timeout
 * (skipped) and lets the rest out in order; sends a late packet or a second
 * packet with a held number straight on, counted, never dropped; and starts
 * over when the numbering does (a rebuilt port_rx). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_reorder.h>

#include "tests/unit/harness.h"

enum { LATE, OVERFLOW, SKIPPED, RESTARTS, DUP_SEQ };

static uint64_t rng = 3;
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct rte_mbuf *numbered(uint32_t seq)
{
	uint8_t f[64] = {0};
	memcpy(f + 20, &seq, sizeof(seq)); /* the payload says who it is */
	struct rte_mbuf *m = sl_h_mbuf(f, sizeof(f));
	*rte_reorder_seqn(m) = seq;
	return m;
}

static uint32_t who(const struct rte_mbuf *m)
{
	uint32_t v;
	memcpy(&v, rte_pktmbuf_mtod_offset(m, const uint8_t *, 20), sizeof(v));
	return v;
}

/* Tick until everything that went in came out, or a second passed. */
static void settle(struct sl_harness *h)
{
	for (int i = 0; i < 20000 && h->n_got[0] < h->cnt.pkts_in; i++) {
		rte_delay_us_block(50);
		h->st.type->tick(&h->st);
	}
}

/* Feed seqs in bursts of 32. */
static void feed(struct sl_harness *h, const uint32_t *seq, unsigned n)
{
	struct rte_mbuf *p[32];
	for (unsigned i = 0; i < n;) {
		unsigned k = 0;
		for (; k < 32 && i < n; k++, i++)
			p[k] = numbered(seq[i]);
		sl_h_run(h, p, k);
	}
}

static void init(struct sl_harness *h)
{
	char err[512];
	if (sl_h_init(h, "{type: reorder, size: 1024, timeout_us: 200}", NULL, 0, err,
		      sizeof(err)) < 0)
		fail_msg("%s", err);
}

static void test_shuffled(void **state)
{
	(void)state;
	struct sl_harness h;
	init(&h);
	enum { N = 20000, BLOCK = 100 };
	static uint32_t seq[N];
	for (uint32_t i = 0; i < N; i++)
		seq[i] = i;
	/* Shuffle within blocks, as three workers on three cores would. */
	for (unsigned b = 0; b < N; b += BLOCK)
		for (unsigned i = BLOCK - 1; i > 0; i--) {
			unsigned j = (unsigned)(rnd() % (i + 1));
			uint32_t t = seq[b + i];
			seq[b + i] = seq[b + j];
			seq[b + j] = t;
		}
	feed(&h, seq, N);
	settle(&h);
	assert_int_equal(h.n_got[0], N);
	for (unsigned i = 0; i < N; i++)
		if (who(h.got[0][i]) != i)
			fail_msg("position %u holds %u", i, who(h.got[0][i]));
	assert_int_equal(h.aux[LATE] + h.aux[SKIPPED] + h.aux[DUP_SEQ], 0);
	sl_h_fini(&h);
}

static void test_holes_late_dups(void **state)
{
	(void)state;
	struct sl_harness h;
	init(&h);
	enum { N = 5000 };
	static uint32_t seq[N];
	unsigned n = 0, holes = 0;
	for (uint32_t i = 0; i < N; i++) {
		if (rnd() % 100 == 0 && i > 0) { /* lost on the way */
			holes++;
			continue;
		}
		seq[n++] = i;
	}
	/* Swap neighbours now and then. */
	for (unsigned i = 0; i + 1 < n; i += 7) {
		uint32_t t = seq[i];
		seq[i] = seq[i + 1];
		seq[i + 1] = t;
	}
	feed(&h, seq, n);
	settle(&h);
	assert_int_equal(h.n_got[0], n);
	for (unsigned i = 1; i < n; i++)
		assert_true(who(h.got[0][i]) > who(h.got[0][i - 1]));
	assert_int_equal(h.aux[SKIPPED], holes);
	assert_int_equal(h.aux[LATE], 0);

	/* Late (behind what went out) and a second packet with a held number:
	 * straight out, counted. */
	sl_h_clear(&h);
	uint32_t more[] = {N + 5, N - 100, N + 5};
	feed(&h, more, 3);
	assert_int_equal(h.aux[LATE], 1);
	assert_int_equal(h.aux[DUP_SEQ], 1);
	assert_int_equal(h.n_got[0], 2);
	settle(&h);
	assert_int_equal(h.n_got[0], 3);

	/* The numbering starts over (port_rx built again): in order from there. */
	sl_h_clear(&h);
	uint32_t again[] = {1, 0, 3, 2};
	feed(&h, again, 4);
	settle(&h);
	assert_int_equal(h.aux[RESTARTS], 1);
	assert_int_equal(h.n_got[0], 4);
	sl_h_fini(&h);

	char err[512];
	assert_int_equal(sl_h_init(&h, "{type: reorder, size: 1000}", NULL, 0, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "'size': must be a power of two, not 1000"));
	sl_h_fini(&h);
}

int main(void)
{
	sl_h_eal("sl_test_reorder", 32767);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shuffled),
	    cmocka_unit_test(test_holes_late_dups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
