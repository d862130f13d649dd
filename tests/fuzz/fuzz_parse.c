/* fuzz_parse.c: libFuzzer target for the `parse` stage feeding `balance`.
 * Each input becomes two packets in one burst: the bytes as one segment, and
 * the same bytes as a chain of 2-3 segments cut where the input's last byte
 * says. Every segment's data is a heap buffer of exactly its length, so ASan
 * catches any read past a frame. Checks that each packet leaves exactly once,
 * on an output or under a counted drop reason, that every segment is freed
 * exactly once, and that the header lengths parse records lie inside the
 * packet (they may span segments: readers use rte_pktmbuf_read).
 *
 * No EAL: the mbufs come from a stand-in mempool whose ops free them with
 * free(), so rte_pktmbuf_free_bulk works and double frees are caught. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "stages/stage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_PKTS 2
#define N_BAL 3
#define MAX_SEGS 8

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_parse: invariant broken: %s\n", what);
		abort();
	}
}

/* ---- the stand-in mempool ---- */

static struct rte_mbuf *live[N_PKTS * MAX_SEGS];
static unsigned n_live;

static int pool_enqueue(struct rte_mempool *mp, void *const *objs, unsigned n)
{
	(void)mp;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = objs[i];
		unsigned k;
		for (k = 0; k < n_live && live[k] != m; k++)
			;
		check(k < n_live, "a segment freed twice or not ours");
		live[k] = live[--n_live];
		free(m->buf_addr);
		free(m);
	}
	return 0;
}

static int pool_dequeue(struct rte_mempool *mp, void **objs, unsigned n)
{
	(void)mp, (void)objs, (void)n;
	return -1; /* nothing allocates from this pool */
}

static int pool_alloc(struct rte_mempool *mp)
{
	(void)mp;
	return 0;
}

static void pool_free(struct rte_mempool *mp)
{
	(void)mp;
}

static unsigned pool_count(const struct rte_mempool *mp)
{
	(void)mp;
	return 0;
}

static const struct rte_mempool_ops fuzz_ops = {
    .name = "sl_fuzz_heap",
    .alloc = pool_alloc,
    .free = pool_free,
    .enqueue = pool_enqueue,
    .dequeue = pool_dequeue,
    .get_count = pool_count,
};

/* cache_size 0: puts go straight to the ops, never to a per-lcore cache. */
static struct rte_mempool *pool;

static struct rte_mbuf *seg_new(const uint8_t *d, uint16_t len)
{
	struct rte_mbuf *m = aligned_alloc(RTE_CACHE_LINE_SIZE, sizeof(*m));
	uint8_t *buf = malloc(len ? len : 1);
	check(m && buf, "out of memory");
	memset(m, 0, sizeof(*m));
	if (len)
		memcpy(buf, d, len);
	m->buf_addr = buf;
	m->buf_len = len;
	m->data_off = 0;
	m->data_len = len;
	m->pkt_len = len;
	m->nb_segs = 1;
	m->port = RTE_MBUF_PORT_INVALID;
	m->pool = pool;
	rte_mbuf_refcnt_set(m, 1);
	live[n_live++] = m;
	return m;
}

/* ---- the sinks balance feeds ---- */

static struct rte_mbuf *heads[N_PKTS];
static unsigned seen[N_PKTS];

static void sink_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	(void)st;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		unsigned k;
		for (k = 0; k < N_PKTS && heads[k] != m; k++)
			;
		check(k < N_PKTS, "a sink got a packet that was never sent");
		check(++seen[k] == 1, "a packet reached the sinks twice");
		/* The headers parse marked lie within the packet (possibly across
		 * segments: readers use rte_pktmbuf_read). */
		uint32_t hdrs = (uint32_t)m->l2_len + m->l3_len;
		uint32_t l4 = m->packet_type & RTE_PTYPE_L4_MASK;
		if (l4 == RTE_PTYPE_L4_TCP || l4 == RTE_PTYPE_L4_UDP || l4 == RTE_PTYPE_L4_ICMP)
			hdrs += m->l4_len;
		check(m->packet_type == RTE_PTYPE_UNKNOWN || hdrs <= m->pkt_len,
		      "parse marked headers past the end of the packet");
	}
	rte_pktmbuf_free_bulk(pkts, n);
}

static const struct sl_stage_type sink_type = {.name = "fuzz_sink", .process = sink_process};

static struct rte_mbuf *scratch_parse[2 * SL_BURST_MAX];
static struct rte_mbuf *scratch_bal[(N_BAL + 1) * SL_BURST_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_stage_type *parse_t, *bal_t;
	if (!pool) {
		check(rte_mempool_register_ops(&fuzz_ops) >= 0, "mempool ops");
		pool = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(sizeof(*pool) + 256, 64));
		check(pool != NULL, "out of memory");
		memset(pool, 0, sizeof(*pool) + 256);
		check(rte_mempool_set_ops_byname(pool, "sl_fuzz_heap", NULL) == 0, "mempool ops");
		parse_t = sl_stage_type_find("parse");
		bal_t = sl_stage_type_find("balance");
		check(parse_t && bal_t, "parse and balance are registered");
	}
	if (size > UINT16_MAX)
		return -1; /* an mbuf segment holds at most 64 KiB */

	struct sl_stage_counters pc, bc, sc[N_BAL];
	struct sl_stage parse = {0}, bal = {0}, sinks[N_BAL];
	memset(&pc, 0, sizeof(pc));
	memset(&bc, 0, sizeof(bc));
	memset(sc, 0, sizeof(sc));
	memset(sinks, 0, sizeof(sinks));
	parse.type = parse_t;
	parse.cnt = &pc;
	parse.n_outputs = 1;
	parse.scratch = scratch_parse;
	parse.out[0] = (struct sl_output){SL_OUT_STAGE, &bal, NULL};
	bal.type = bal_t;
	bal.cnt = &bc;
	bal.n_outputs = N_BAL;
	bal.scratch = scratch_bal;
	for (unsigned i = 0; i < N_BAL; i++) {
		sinks[i].type = &sink_type;
		sinks[i].cnt = &sc[i];
		bal.out[i] = (struct sl_output){SL_OUT_STAGE, &sinks[i], NULL};
	}

	/* Packet 0: one segment. Packet 1: a chain; the last byte picks the
	 * cut (0..127, so it lands inside the headers) and a third segment. */
	uint16_t len = (uint16_t)size;
	uint8_t sel = size ? data[size - 1] : 0;
	heads[0] = seg_new(data, len);
	uint16_t cut1 = (uint16_t)RTE_MIN((unsigned)(sel & 0x7f), (unsigned)len);
	uint16_t cut2 = (sel & 0x80) ? (uint16_t)(cut1 + (len - cut1) / 2) : len;
	struct rte_mbuf *s1 = seg_new(data, cut1);
	struct rte_mbuf *s2 = seg_new(data + cut1, (uint16_t)(cut2 - cut1));
	s1->next = s2;
	s1->nb_segs = 2;
	if (cut2 < len) {
		s2->next = seg_new(data + cut2, (uint16_t)(len - cut2));
		s1->nb_segs = 3;
	}
	s1->pkt_len = len;
	heads[1] = s1;
	memset(seen, 0, sizeof(seen));

	/* Time some bursts too, so the cycle-accounting path runs. */
	RTE_PER_LCORE(sl_clock).timed = (sel >> 6) & 1;
	struct rte_mbuf *burst[N_PKTS] = {heads[0], heads[1]};
	sl_stage_call(&parse, burst, N_PKTS);
	RTE_PER_LCORE(sl_clock).timed = 0;

	uint64_t pdrops = 0, sunk = 0, bout = 0;
	for (unsigned i = 0; i < SL_STAGE_MAX_DROPS; i++)
		pdrops += pc.drops[i];
	check(pc.drops[SL_DROP_UNCONNECTED] == 0, "parse used the unconnected reason");
	for (unsigned i = parse_t->n_drops + 1; i < SL_STAGE_MAX_DROPS; i++)
		check(pc.drops[i] == 0, "parse counted an undeclared drop reason");
	check(pc.pkts_in == N_PKTS, "parse saw every packet");
	check(pc.out[0] + pdrops == N_PKTS, "parse passed or dropped each packet once");
	check(bc.pkts_in == pc.out[0], "balance got what parse passed");
	for (unsigned i = 0; i < N_BAL; i++) {
		bout += bc.out[i];
		sunk += sc[i].pkts_in;
		check(sc[i].pkts_in == bc.out[i], "a sink got what balance counted for it");
	}
	for (unsigned i = 0; i < SL_STAGE_MAX_DROPS; i++)
		check(bc.drops[i] == 0, "balance dropped a packet");
	check(bout == bc.pkts_in, "balance sent each packet on");
	check(seen[0] + seen[1] == sunk, "the sinks saw what they counted");
	check(n_live == 0, "every segment was freed once");
	return 0;
}
