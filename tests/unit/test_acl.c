/* test_acl.c: the `acl` stage against a reference matcher written here.
 * 10,000 generated rules per address family and a million packets each
 * (most aimed at some rule, the rest random) go through the real `parse`
 * and `acl` stages; every packet must get the reference's verdict and every
 * rule's hit counter the reference's count. Also: the priority order on a
 * hand-written list, fragments, non-IP and unparsed packets, chained and
 * lying mbufs, and invalid rule files naming their file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/harness.h"

static char dir[64];
static struct sl_harness hp, ha; /* parse, acl */

static void write_file(const char *name, const char *text)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* ---- frames ------------------------------------------------------------- */

struct pkt {
	int fam; /* 4, 6, or 0 for ARP */
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport;
	int frag;     /* 1: first fragment (MF), 2: a later one */
	int ext;      /* IPv6: a hop-by-hop header first */
	uint32_t idx; /* in the source MAC, to find the packet again */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t frame(const struct pkt *k, uint8_t *b)
{
	memset(b, 0, 128);
	b[0] = 2;
	b[5] = 1;
	b[6] = 2;
	b[7] = (uint8_t)(k->idx >> 24);
	b[8] = (uint8_t)(k->idx >> 16);
	b[9] = (uint8_t)(k->idx >> 8);
	b[10] = (uint8_t)k->idx;
	uint8_t *ip = b + 14;
	uint16_t l4len = k->proto == 6 ? 20 : 8;
	if (k->fam == 0) {
		put16(b + 12, 0x0806);
		return 60;
	}
	if (k->fam == 4) {
		put16(b + 12, 0x0800);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + l4len));
		if (k->frag)
			put16(ip + 6, k->frag == 1 ? 0x2000 : 0x0010);
		ip[8] = 64;
		ip[9] = k->proto;
		memcpy(ip + 12, k->src, 4);
		memcpy(ip + 16, k->dst, 4);
		ip += 20;
	} else {
		put16(b + 12, 0x86dd);
		ip[0] = 0x60;
		uint16_t plen = (uint16_t)(l4len + (k->ext ? 8 : 0) + (k->frag ? 8 : 0));
		put16(ip + 4, plen);
		ip[7] = 64;
		memcpy(ip + 8, k->src, 16);
		memcpy(ip + 24, k->dst, 16);
		uint8_t *nh = ip + 6;
		ip += 40;
		if (k->ext) {
			*nh = 0; /* hop-by-hop, 8 bytes of padding options */
			nh = ip;
			ip[2] = 1;
			ip[3] = 4;
			ip += 8;
		}
		if (k->frag) {
			*nh = 44;
			nh = ip;
			put16(ip + 2, k->frag == 1 ? 0x0001 : 0x0100);
			ip += 8;
		}
		*nh = k->proto;
	}
	put16(ip, k->sport);
	put16(ip + 2, k->dport);
	if (k->proto == 6)
		ip[12] = 0x50;
	if (k->proto == 17)
		put16(ip + 4, 8);
	return (uint16_t)(ip + l4len - b);
}

static uint32_t idx_of(const struct rte_mbuf *m)
{
	const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
	return (uint32_t)b[7] << 24 | (uint32_t)b[8] << 16 | (uint32_t)b[9] << 8 | b[10];
}

/* ---- the reference ------------------------------------------------------ */

struct rule {
	uint32_t prio, line;
	int fam; /* 4, 6, or 0 for both (`*` `*`) */
	uint8_t src[16], dst[16];
	int src_len, dst_len; /* -1: `*` */
	uint16_t slo, shi, dlo, dhi;
	int proto;  /* -1: any, -2: icmp */
	int action; /* output index, or -1: drop */
};

enum { V_DENIED = 100, V_NO_MATCH, V_NOT_IP };

static bool prefix_eq(const uint8_t *a, const uint8_t *net, int len)
{
	int whole = len / 8;
	if (memcmp(a, net, (size_t)whole))
		return false;
	return len % 8 == 0 || !((a[whole] ^ net[whole]) & (0xff00u >> (len % 8)));
}

/* The packet's 5-tuple as the stage defines it. */
static void key_of(const struct pkt *p, uint16_t *sp, uint16_t *dp)
{
	bool ports = !p->frag && (p->proto == 6 || p->proto == 17);
	*sp = ports ? p->sport : 0;
	*dp = ports ? p->dport : 0;
}

static bool rule_match(const struct rule *r, const struct pkt *p)
{
	uint16_t sp, dp;
	if (r->fam && r->fam != p->fam)
		return false;
	int proto = r->proto == -2 ? (p->fam == 4 ? 1 : 58) : r->proto;
	if (proto >= 0 && proto != p->proto)
		return false;
	key_of(p, &sp, &dp);
	if (sp < r->slo || sp > r->shi || dp < r->dlo || dp > r->dhi)
		return false;
	return (r->src_len <= 0 || prefix_eq(p->src, r->src, r->src_len)) &&
	       (r->dst_len <= 0 || prefix_eq(p->dst, r->dst, r->dst_len));
}

static bool better(const struct rule *a, const struct rule *b)
{
	return !b || a->prio > b->prio || (a->prio == b->prio && a->line < b->line);
}

/* The straightforward matcher: the first rule in priority order (higher
 * priority first, then the earlier line) that matches. Rules are indexed
 * by their destination's first 16 bits (those with shorter prefixes are
 * in a list of their own, scanned for every packet) only to keep a million
 * lookups quick. */
struct ref {
	struct rule *r;
	unsigned n;
	unsigned *wide, n_wide;
	unsigned *bucket[65536], n_bucket[65536];
};

static const struct rule *sort_base;
static int by_order(const void *a, const void *b)
{
	const struct rule *x = &sort_base[*(const unsigned *)a];
	const struct rule *y = &sort_base[*(const unsigned *)b];
	return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

static void ref_index(struct ref *f)
{
	f->wide = calloc(f->n, sizeof(unsigned));
	for (unsigned i = 0; i < f->n; i++) {
		const struct rule *r = &f->r[i];
		if (r->dst_len < 16) {
			f->wide[f->n_wide++] = i;
			continue;
		}
		unsigned b = (unsigned)r->dst[0] << 8 | r->dst[1];
		f->bucket[b] = realloc(f->bucket[b], (f->n_bucket[b] + 1) * sizeof(unsigned));
		f->bucket[b][f->n_bucket[b]++] = i;
	}
	sort_base = f->r;
	qsort(f->wide, f->n_wide, sizeof(unsigned), by_order);
	for (unsigned b = 0; b < 65536; b++)
		if (f->n_bucket[b] > 1)
			qsort(f->bucket[b], f->n_bucket[b], sizeof(unsigned), by_order);
}

static void ref_free(struct ref *f)
{
	for (unsigned b = 0; b < 65536; b++)
		free(f->bucket[b]);
	free(f->wide);
	free(f->r);
}

static int ref_match(const struct ref *f, const struct pkt *p)
{
	const struct rule *best = NULL;
	unsigned b = (unsigned)p->dst[0] << 8 | p->dst[1];
	for (unsigned i = 0; i < f->n_bucket[b] && !best; i++)
		if (rule_match(&f->r[f->bucket[b][i]], p))
			best = &f->r[f->bucket[b][i]];
	for (unsigned i = 0; i < f->n_wide && better(&f->r[f->wide[i]], best); i++)
		if (rule_match(&f->r[f->wide[i]], p)) {
			best = &f->r[f->wide[i]];
			break;
		}
	return best ? (int)(best - f->r) : -1;
}

/* ---- generation --------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static const uint8_t universe[4] = {10, 20, 172, 203};

/* An address in the universe (first byte from a few, so that rules
 * overlap), or anywhere. */
static void rnd_addr(uint8_t *a, int fam, bool anywhere)
{
	for (int i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd();
	if (fam == 4)
		memset(a + 4, 0, 12);
	if (!anywhere) {
		a[0] = universe[rnd() % 4];
		if (fam == 6 && rnd() % 2) /* runs of equal bytes: longer overlaps */
			memset(a + 2, 0, 8);
	}
}

static void mask(uint8_t *a, int len, int bits)
{
	for (int b = len < 0 ? 0 : len; b < bits; b++)
		a[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
}

/* Inside net/len: its prefix, random below it. */
static void addr_in(uint8_t *a, const uint8_t *net, int len, int fam)
{
	uint8_t r[16];
	rnd_addr(r, fam, len < 8);
	int bits = fam == 4 ? 32 : 128;
	for (int b = 0; b < bits; b++) {
		uint8_t bit = (uint8_t)(0x80u >> (b % 8));
		uint8_t v = (b < len ? net[b / 8] : r[b / 8]) & bit;
		a[b / 8] = (uint8_t)((a[b / 8] & ~bit) | v);
	}
}

static const int v4_lens[] = {16, 24, 24, 28, 32, 32, 32};
static const int v6_lens[] = {16, 24, 32, 48, 64, 64, 96, 112, 128, 128};

static void rnd_ports(uint16_t *lo, uint16_t *hi, int any_pct)
{
	static const uint16_t common[] = {22, 53, 80, 123, 443, 8080};
	unsigned x = rnd() % 100;
	if (x < (unsigned)any_pct) {
		*lo = 0;
		*hi = 65535;
	} else if (x < (unsigned)any_pct + (100 - (unsigned)any_pct) * 3 / 4) {
		*lo = *hi = rnd() % 2 ? common[rnd() % 6] : (uint16_t)rnd();
	} else {
		*lo = (uint16_t)rnd();
		uint32_t h = *lo + rnd() % 3000;
		*hi = (uint16_t)(h > 65535 ? 65535 : h);
	}
}

static const char *const port_names[] = {"permit", "inspect", "log"};

static void gen_rules(struct ref *f, int fam, unsigned n, const char *file)
{
	f->r = calloc(n, sizeof(struct rule));
	f->n = n;
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	FILE *out = fopen(p, "w");
	assert_non_null(out);
	uint32_t line = 0;
	fprintf(out, "# generated: %u IPv%d rules\n\n", n, fam);
	line += 2;
	int bits = fam == 4 ? 32 : 128;
	for (unsigned i = 0; i < n; i++) {
		struct rule *r = &f->r[i];
		if (rnd() % 50 == 0) {
			fprintf(out, "   # a comment line\n");
			line++;
		}
		r->fam = rnd() % 500 == 0 ? 0 : fam;
		unsigned w = rnd() % 100;
		if (r->fam == 0) {
			r->src_len = r->dst_len = -1;
		} else {
			r->dst_len = w < 2 ? -1
				     : w < 4
					 ? (int)(rnd() % 16)
					 : (fam == 4 ? v4_lens[rnd() % 7] : v6_lens[rnd() % 10]);
			r->src_len = rnd() % 3 == 0 ? -1
				     : fam == 4	    ? 8 + (int)(rnd() % 25)
						    : 16 + (int)(rnd() % 113);
			if (r->dst_len >= 0)
				rnd_addr(r->dst, fam, false);
			if (r->src_len >= 0)
				rnd_addr(r->src, fam, false);
			mask(r->dst, r->dst_len, bits);
			mask(r->src, r->src_len, bits);
		}
		/* Mostly, the narrower a rule the higher its priority (as in a
		 * real list, so that most rules get hit), with ties and
		 * inversions enough to test the order. */
		int dl = r->dst_len < 0 ? 0 : r->dst_len * 32 / bits;
		r->prio = (uint32_t)(dl * 4) + rnd() % 40;
		unsigned pr = rnd() % 10;
		r->proto = pr < 3 ? 6 : pr < 6 ? 17 : pr < 7 ? -2 : pr < 8 ? -1 : pr < 9 ? 47 : 132;
		rnd_ports(&r->slo, &r->shi, 70);
		/* Rules for any destination always narrow the port, so that
		 * some packets match nothing. */
		rnd_ports(&r->dlo, &r->dhi, r->dst_len < 16 ? 0 : 30);
		if (r->proto != 6 && r->proto != 17 && r->proto != -1) {
			r->slo = r->dlo = 0; /* ports 0: such packets have none */
			r->shi = r->dhi = rnd() % 2 ? 65535 : 0;
		}
		r->action = (int)(rnd() % 4) - 1;

		char s[64] = "*", d[64] = "*", ps[16], pd[16], pro[8];
		int af = fam == 4 ? AF_INET : AF_INET6;
		if (r->src_len >= 0) {
			inet_ntop(af, r->src, s, sizeof(s));
			sprintf(s + strlen(s), "/%d", r->src_len);
		}
		if (r->dst_len >= 0) {
			inet_ntop(af, r->dst, d, sizeof(d));
			if (r->dst_len != bits || rnd() % 2) /* a bare address is a /32 or /128 */
				sprintf(d + strlen(d), "/%d", r->dst_len);
		}
		if (r->slo == 0 && r->shi == 65535 && rnd() % 2)
			strcpy(ps, "*");
		else
			sprintf(ps, "%u-%u", r->slo, r->shi);
		if (r->dlo == r->dhi && rnd() % 2)
			sprintf(pd, "%u", r->dlo);
		else
			sprintf(pd, "%u-%u", r->dlo, r->dhi);
		if (r->proto == -1)
			strcpy(pro, rnd() % 2 ? "any" : "*");
		else if (r->proto == -2)
			strcpy(pro, "icmp");
		else if (r->proto == 6 && rnd() % 2)
			strcpy(pro, "tcp");
		else if (r->proto == 17 && rnd() % 2)
			strcpy(pro, "udp");
		else
			sprintf(pro, "%d", r->proto);
		r->line = ++line;
		fprintf(out, "%u %s\t%s %s %s %s %s%s\n", r->prio, s, d, ps, pd, pro,
			r->action < 0 ? "drop" : port_names[r->action],
			rnd() % 10 == 0 ? "  # trailing comment" : "");
	}
	fclose(out);
	ref_index(f);
}

static void gen_pkt(const struct ref *f, int fam, struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->fam = fam;
	unsigned x = rnd() % 1000;
	if (x < 5) {
		p->fam = 0; /* ARP */
		return;
	}
	static const uint8_t protos[] = {6, 17, 1, 58, 47, 132, 6, 17};
	p->proto = protos[rnd() % 8];
	p->sport = (uint16_t)rnd();
	p->dport = (uint16_t)rnd();
	if (x < 750) { /* aimed at a rule */
		const struct rule *r = &f->r[rnd() % f->n];
		addr_in(p->src, r->src, r->src_len, fam);
		addr_in(p->dst, r->dst, r->dst_len, fam);
		if (r->proto == -2)
			p->proto = fam == 4 ? 1 : 58;
		else if (r->proto >= 0)
			p->proto = (uint8_t)r->proto;
		p->sport = (uint16_t)(r->slo + rnd() % ((uint32_t)r->shi - r->slo + 1));
		p->dport = (uint16_t)(r->dlo + rnd() % ((uint32_t)r->dhi - r->dlo + 1));
	} else {
		rnd_addr(p->src, fam, x > 980);
		rnd_addr(p->dst, fam, x > 970);
	}
	if (rnd() % 50 == 0)
		p->frag = 1 + (int)(rnd() % 2);
	if (fam == 6 && rnd() % 20 == 0)
		p->ext = 1;
}

/* ---- running ------------------------------------------------------------ */

#define BATCH 256

struct expect {
	uint64_t out[4], drops[4];
	uint64_t *hits; /* per rule, then default */
};

/* One batch through parse and acl; every packet that reached an output must
 * be one the reference sent there. Returns the packets the outputs got. */
static unsigned run_batch(struct rte_mbuf **m, unsigned n, const int *verdict)
{
	sl_h_run(&hp, m, n);
	sl_h_run(&ha, hp.got[0], hp.n_got[0]);
	hp.n_got[0] = 0; /* now the acl stage's */
	unsigned got = 0;
	for (unsigned o = 0; o < ha.st.n_outputs; o++) {
		for (unsigned k = 0; k < ha.n_got[o]; k++) {
			uint32_t i = idx_of(ha.got[o][k]);
			if (verdict[i] != (int)o)
				fail_msg("packet %u: to output %u, the reference says %d", i, o,
					 verdict[i]);
		}
		got += ha.n_got[o];
	}
	sl_h_clear(&ha);
	return got;
}

static void load_acl(const char *yaml)
{
	char err[1024];
	if (sl_h_init(&ha, yaml, dir, 0, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static void random_family(int fam)
{
	const unsigned n_rules = 10000, n_pkts = 1000000;
	struct ref *f = calloc(1, sizeof(*f));
	char yaml[256], err[512];
	const char *file = fam == 4 ? "rules4.txt" : "rules6.txt";

	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	gen_rules(f, fam, n_rules, file);
	snprintf(yaml, sizeof(yaml),
		 "{type: acl, rules: %s, outputs: [permit, inspect, log], default: %s}", file,
		 fam == 4 ? "drop" : "log");
	load_acl(yaml);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(sl_h_init(&hp, "{type: parse}", dir, 0, err, sizeof(err)), 0);
	assert_int_equal(ha.st.n_aux, 16384 + 1);
	assert_string_equal(ha.aux_names[16384], "default");
	char lab[32];
	snprintf(lab, sizeof(lab), "line %u", f->r[0].line);
	assert_string_equal(ha.aux_names[0], lab);
	assert_string_equal(ha.aux_names[n_rules], "");

	uint64_t *hits = calloc(n_rules + 1, sizeof(uint64_t));
	uint64_t want_out[3] = {0}, want_drop[4] = {0};
	int verdict[BATCH];
	struct rte_mbuf *m[BATCH];
	uint8_t buf[128];
	unsigned total_got = 0;

	for (unsigned done = 0; done < n_pkts; done += BATCH) {
		unsigned nb = n_pkts - done < BATCH ? n_pkts - done : BATCH;
		for (unsigned i = 0; i < nb; i++) {
			struct pkt p;
			gen_pkt(f, fam, &p);
			p.idx = i;
			if (p.fam == 0) {
				verdict[i] = V_NOT_IP;
				want_drop[3]++;
			} else {
				int r = ref_match(f, &p);
				int a = r < 0 ? (fam == 4 ? -1 : 2) : f->r[r].action;
				hits[r < 0 ? n_rules : (unsigned)r]++;
				verdict[i] = a >= 0 ? a : r < 0 ? V_NO_MATCH : V_DENIED;
				if (a >= 0)
					want_out[a]++;
				else
					want_drop[r < 0 ? 2 : 1]++;
			}
			m[i] = sl_h_mbuf(buf, frame(&p, buf));
		}
		total_got += run_batch(m, nb, verdict);
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	print_message("IPv%d: %.1f s to generate and load the rules, %.1f s for the packets\n", fam,
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		      (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9);
	for (unsigned o = 0; o < 3; o++)
		assert_int_equal(ha.cnt.out[o], want_out[o]);
	for (unsigned d = 1; d < 4; d++)
		assert_int_equal(ha.cnt.drops[d], want_drop[d]);
	assert_int_equal(ha.cnt.drops[0], 0);
	assert_int_equal(hp.cnt.pkts_in, n_pkts);
	assert_int_equal(ha.cnt.pkts_in, n_pkts);
	assert_int_equal(total_got + want_drop[1] + want_drop[2] + want_drop[3], n_pkts);
	unsigned hit_rules = 0;
	for (unsigned i = 0; i < n_rules; i++) {
		if (ha.aux[i] != hits[i])
			fail_msg("rule %u (line %u): %lu hits, the reference says %lu", i,
				 f->r[i].line, (unsigned long)ha.aux[i], (unsigned long)hits[i]);
		hit_rules += hits[i] != 0;
	}
	assert_int_equal(ha.aux[16384], hits[n_rules]);
	print_message("IPv%d: %u of %u rules hit; out %lu/%lu/%lu, denied %lu, no match %lu, "
		      "not ip %lu\n",
		      fam, hit_rules, n_rules, (unsigned long)want_out[0],
		      (unsigned long)want_out[1], (unsigned long)want_out[2],
		      (unsigned long)want_drop[1], (unsigned long)want_drop[2],
		      (unsigned long)want_drop[3]);
	assert_true(hit_rules > n_rules * 3 / 4);
	sl_h_fini(&ha);
	sl_h_fini(&hp);
	free(hits);
	ref_free(f);
	free(f);
}

static void test_random_ipv4(void **state)
{
	(void)state;
	random_family(4);
}

static void test_random_ipv6(void **state)
{
	(void)state;
	random_family(6);
}

/* ---- the priority order and the packets' fates, by hand ------------------ */

static struct pkt P4(const char *s, const char *d, uint8_t proto, uint16_t sp, uint16_t dp) {
	struct pkt p = {.fam = 4, .proto = proto, .sport = sp, .dport = dp};
	assert_int_equal(inet_pton(AF_INET, s, p.src), 1);
	assert_int_equal(inet_pton(AF_INET, d, p.dst), 1);
	return p;
}

static struct pkt
P6(const char *s, const char *d, uint8_t proto, uint16_t sp, uint16_t dp) {
	struct pkt p = {.fam = 6, .proto = proto, .sport = sp, .dport = dp};
	assert_int_equal(inet_pton(AF_INET6, s, p.src), 1);
	assert_int_equal(inet_pton(AF_INET6, d, p.dst), 1);
	return p;
}

/* Where one packet went: an output index, or 100 + drop reason. */
static int
fate(struct rte_mbuf *m, bool through_parse, uint32_t *line_hit)
{
	uint64_t drops[4], aux[8];
	unsigned na = ha.st.n_aux < 8 ? ha.st.n_aux : 8;
	memcpy(drops, ha.cnt.drops, sizeof(drops));
	memcpy(aux, ha.aux, na * sizeof(aux[0]));
	if (through_parse) {
		sl_h_run(&hp, &m, 1);
		assert_int_equal(hp.n_got[0], 1);
		m = hp.got[0][0];
		hp.n_got[0] = 0;
	}
	sl_h_run(&ha, &m, 1);
	*line_hit = 0;
	for (unsigned i = 0; i < na; i++)
		if (ha.aux[i] != aux[i])
			*line_hit = i + 1; /* rule index + 1; 8: default */
	for (unsigned o = 0; o < ha.st.n_outputs; o++)
		if (ha.n_got[o]) {
			sl_h_clear(&ha);
			return (int)o;
		}
	for (unsigned d = 0; d < 4; d++)
		if (ha.cnt.drops[d] != drops[d])
			return 100 + (int)d;
	fail_msg("packet vanished");
	return -1;
}

static int fate_of(struct pkt p, uint32_t *hit)
{
	uint8_t b[128];
	return fate(sl_h_mbuf(b, frame(&p, b)), true, hit);
}

static void test_priority_and_fates(void **state)
{
	(void)state;
	char err[512];
	write_file("hand.txt", "# priority src dst sports dports proto action\n"
			       "10 10.9.9.9/8 * * * any permit # is 10.0.0.0/8\n"
			       "10 10.1.0.0/16 * * * any inspect # same priority, later: loses\n"
			       "20 10.2.0.0/16 * * 80 tcp inspect\n"
			       "5 * * * * icmp drop\r\n"
			       "\n"
			       "30 2001:db8::/32 * 0-65535 443-443 6 permit\n"
			       "1 ::/0 ::/0 * * * inspect\n"
			       "7 * 192.0.2.1 * * udp permit\n");
	load_acl("{type: acl, rules: hand.txt, outputs: [permit, inspect], max_rules: 7}");
	assert_int_equal(sl_h_init(&hp, "{type: parse}", dir, 0, err, sizeof(err)), 0);
	assert_int_equal(ha.st.n_aux, 8);
	assert_string_equal(ha.aux_names[0], "line 2");
	assert_string_equal(ha.aux_names[4], "line 7");
	assert_string_equal(ha.aux_names[6], "line 9");
	assert_string_equal(ha.aux_names[7], "default");
	int den = 100 + sl_h_drop(&ha, "denied"), nom = 100 + sl_h_drop(&ha, "no_match");
	int nip = 100 + sl_h_drop(&ha, "not_ip");
	uint32_t hit;

	assert_int_equal(fate_of(P4("10.1.2.3", "1.1.1.1", 17, 1, 2), &hit), 0);
	assert_int_equal(hit, 1); /* the tie goes to the earlier line */
	assert_int_equal(fate_of(P4("10.2.0.1", "1.1.1.1", 6, 1000, 80), &hit), 1);
	assert_int_equal(hit, 3);
	assert_int_equal(fate_of(P4("10.2.0.1", "1.1.1.1", 6, 1000, 81), &hit), 0);
	assert_int_equal(hit, 1);
	assert_int_equal(fate_of(P4("11.0.0.1", "1.1.1.1", 1, 0, 0), &hit), den);
	assert_int_equal(hit, 4);
	assert_int_equal(fate_of(P4("11.0.0.1", "1.1.1.1", 58, 0, 0), &hit), nom);
	assert_int_equal(hit, 8);
	assert_int_equal(fate_of(P4("11.0.0.1", "192.0.2.1", 17, 5, 5), &hit), 0);
	assert_int_equal(hit, 7);
	assert_int_equal(fate_of(P6("2001:db8::1", "::1", 58, 0, 0), &hit), den);
	assert_int_equal(hit, 4); /* `icmp` is ICMPv6 in IPv6 */
	assert_int_equal(fate_of(P6("2001:db8::1", "::1", 6, 9, 443), &hit), 0);
	assert_int_equal(hit, 5);
	assert_int_equal(fate_of(P6("2001:db9::1", "::1", 17, 9, 443), &hit), 1);
	assert_int_equal(hit, 6);
	assert_int_equal(fate_of(P4("12.0.0.1", "1.1.1.1", 17, 1, 2), &hit), nom);
	assert_int_equal(hit, 8);

	/* Fragments have no ports, the first one included. */
	struct pkt p = P4("10.2.0.1", "1.1.1.1", 6, 1000, 80);
	p.frag = 1;
	assert_int_equal(fate_of(p, &hit), 0);
	assert_int_equal(hit, 1);
	p = P6("2001:db8::1", "::1", 6, 9, 443);
	p.frag = 2;
	assert_int_equal(fate_of(p, &hit), 1);
	assert_int_equal(hit, 6);
	p = P6("2001:db8::1", "::1", 6, 9, 443);
	p.ext = 1;
	assert_int_equal(fate_of(p, &hit), 0);
	assert_int_equal(hit, 5);
	p.fam = 0;
	assert_int_equal(fate_of(p, &hit), nip);

	/* Not through parse: not trusted, whatever the mbuf claims. */
	uint8_t b[128];
	p = P4("10.2.0.1", "1.1.1.1", 6, 1000, 80);
	struct rte_mbuf *m = sl_h_mbuf(b, frame(&p, b));
	m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP;
	m->l2_len = 14;
	m->l3_len = 20;
	assert_int_equal(fate(m, false, &hit), nip);
	/* Marked, but its lengths point past its end: no read beyond it. */
	m = sl_h_mbuf(b, 40);
	m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV6 | RTE_PTYPE_L4_TCP;
	m->ol_flags |= sl_parsed_flag;
	m->l2_len = 14;
	assert_int_equal(fate(m, false, &hit), nip);
	m = sl_h_mbuf(b, 34);
	m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP;
	m->ol_flags |= sl_parsed_flag;
	m->l2_len = 14;
	assert_int_equal(fate(m, false, &hit), nip);

	/* A chain split inside the IP header and again inside the ports. */
	p = P4("10.2.0.1", "1.1.1.1", 6, 1000, 80);
	uint16_t len = frame(&p, b);
	struct rte_mbuf *a = sl_h_mbuf(b, 20), *c = sl_h_mbuf(b + 20, 16),
			*d = sl_h_mbuf(b + 36, (uint16_t)(len - 36));
	assert_int_equal(rte_pktmbuf_chain(a, c), 0);
	assert_int_equal(rte_pktmbuf_chain(a, d), 0);
	assert_int_equal(fate(a, true, &hit), 1);
	assert_int_equal(hit, 3);

	assert_int_equal(ha.cnt.pkts_in, ha.cnt.out[0] + ha.cnt.out[1] + ha.cnt.drops[0] +
					     ha.cnt.drops[1] + ha.cnt.drops[2] + ha.cnt.drops[3]);
	sl_h_fini(&ha);
	sl_h_fini(&hp);
}

static void test_default_port(void **state)
{
	(void)state;
	write_file("one.txt", "1 10.0.0.0/8 * * * any drop\n");
	load_acl("{type: acl, rules: one.txt, default: out, max_rules: 1}");
	assert_int_equal(ha.st.n_outputs, 1);
	assert_int_equal(sl_h_output(&ha, "out"), 0);
	char err[512];
	assert_int_equal(sl_h_init(&hp, "{type: parse}", dir, 0, err, sizeof(err)), 0);
	uint32_t hit;
	assert_int_equal(fate_of(P4("10.0.0.1", "1.1.1.1", 17, 1, 2), &hit),
			 100 + sl_h_drop(&ha, "denied"));
	assert_int_equal(fate_of(P4("11.0.0.1", "1.1.1.1", 17, 1, 2), &hit), 0);
	assert_int_equal(fate_of(P6("::1", "::2", 17, 1, 2), &hit), 0); /* no IPv6 rules */
	assert_int_equal(ha.aux[1], 2);
	sl_h_fini(&ha);
	sl_h_fini(&hp);
}

/* ---- refusals ------------------------------------------------------------ */

static void expect_refusal(const char *yaml, const char *want)
{
	char err[1024] = "";
	struct sl_harness h;
	if (sl_h_init(&h, yaml, dir, 0, err, sizeof(err)) == 0)
		fail_msg("accepted: %s", yaml);
	if (!strstr(err, want))
		fail_msg("for %s: '%s' does not say '%s'", yaml, err, want);
	sl_h_fini(&h);
}

static void test_invalid_files(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"# ok\n1 10.0.0.0/33 * * * tcp permit\n", "bad.txt:2: bad source '10.0.0.0/33'"},
	    {"1 * 10.0.0.256 * * tcp permit\n", "bad.txt:1: bad destination"},
	    {"1 * * 100-50 * tcp permit\n", "bad.txt:1: bad source ports '100-50'"},
	    {"\n\n1 * * * 1-70000 tcp permit\n", "bad.txt:3: bad destination ports"},
	    {"1 * * * * tcp reject\n", "bad.txt:1: unknown action 'reject'"},
	    {"1 * * * * bogus permit\n", "bad.txt:1: bad protocol 'bogus'"},
	    {"1 * * * * 256 permit\n", "bad.txt:1: bad protocol '256'"},
	    {"1 10.0.0.0/8 2001:db8::/32 * * tcp permit\n", "bad.txt:1: source '10.0.0.0/8' "
							    "and destination '2001:db8::/32'"},
	    {"1 * * * * tcp permit\n2 * * * * tcp permit\n3 * * * * tcp permit\n"
	     "4 * * * * tcp permit\n",
	     "bad.txt:4: more than max_rules (3) rules"},
	    {"hello world\n", "bad.txt:1: expected 7 fields"},
	    {"1 * * * * tcp permit extra\n", "bad.txt:1: expected 7 fields"},
	    {"-1 * * * * tcp permit\n", "bad.txt:1: bad priority '-1'"},
	    {"4294967296 * * * * tcp permit\n", "bad.txt:1: bad priority"},
	    {"1 * * * * tcp permit\n1 * * * * tcp\x01 permit\n", "bad.txt:2: control character"},
	    {"", "bad.txt:1: no rules"},
	    {"# nothing\n\n", "bad.txt:2: no rules"},
	};
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		write_file("bad.txt", bad[i].text);
		expect_refusal("{type: acl, rules: bad.txt, outputs: [permit], max_rules: 3}",
			       bad[i].want);
	}
	char longline[2100];
	memset(longline, ' ', sizeof(longline));
	longline[sizeof(longline) - 1] = '\0';
	write_file("bad.txt", longline);
	expect_refusal("{type: acl, rules: bad.txt}", "bad.txt:1: line longer than");
	/* A NUL byte. */
	char p[128];
	snprintf(p, sizeof(p), "%s/bad.txt", dir);
	static const char nul[] = "1 * * * * tcp out\n1 * *\0 * * tcp out\n";
	FILE *f = fopen(p, "w");
	fwrite(nul, 1, sizeof(nul) - 1, f);
	fclose(f);
	expect_refusal("{type: acl, rules: bad.txt}", "bad.txt:2: control character 0x00");

	/* Not a regular file: refused unread, never waited on. */
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	expect_refusal("{type: acl, rules: fifo}", "fifo' is not a regular file");
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	expect_refusal("{type: acl, rules: sub}", "sub' is not a regular file");
	expect_refusal("{type: acl, rules: missing.txt}", "missing.txt");

	/* The configuration itself. */
	write_file("ok.txt", "1 * * * * tcp out\n");
	expect_refusal("{type: acl}", "needs 'rules'");
	expect_refusal("{type: acl, rules: ok.txt, default: nowhere}",
		       "'default': 'nowhere' is neither drop nor one of the stage's outputs");
	expect_refusal("{type: acl, rules: ok.txt, outputs: [a, drop]}",
		       "'drop' is the rules' drop action");
	expect_refusal("{type: acl, rules: ok.txt, outputs: [a, a]}", "listed twice");
	expect_refusal("{type: acl, rules: ok.txt, outputs: []}", "at least one");
	expect_refusal("{type: acl, rules: ok.txt, outputs: ['a b']}", "not a port name");
	expect_refusal("{type: acl, rules: ok.txt, max_rules: 0}", "max_rules");
	expect_refusal("{type: acl, rules: ok.txt, max_rules: 16385}", "max_rules");
	expect_refusal("{type: acl, rules: ok.txt, outputs: [permit]}", "ok.txt:1: unknown "
									"action 'out'");
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sl_test_acl_XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	sl_h_eal("test_acl", 4096);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_invalid_files), cmocka_unit_test(test_priority_and_fates),
	    cmocka_unit_test(test_default_port),  cmocka_unit_test(test_random_ipv4),
	    cmocka_unit_test(test_random_ipv6),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
