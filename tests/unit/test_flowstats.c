/* test_flowstats.c: the flowstats stage through the harness, behind parse
 * as in a pipeline. Records are read back from the JSON lines export (and,
 * in one test, from IPFIX datagrams sent to a socket of the test's own):
 * keys for IPv4, IPv6 and VLANs, IP byte counts, TCP flags, every end
 * reason (idle and active with 1 s / 2 s timeouts and real sleeps, FIN/RST,
 * a full table, shutdown), and the IPFIX encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stages/flow_export.h"
#include "tests/unit/harness.h"

static char dir[] = "/tmp/sl_test_flowstats_XXXXXX";
static struct sl_harness parse_h;

/* ---- frames ------------------------------------------------------------ */

struct fr {
	int v6;
	uint16_t vlan; /* 0: untagged */
	uint8_t proto;
	uint8_t host; /* last byte of the source address */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint16_t payload;
	uint16_t pad; /* Ethernet padding after the IP packet */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Returns the frame length; *ip_bytes gets what octetDeltaCount counts. */
static uint16_t build(uint8_t *b, const struct fr *f, uint32_t *ip_bytes)
{
	memset(b, 0, 1024);
	b[0] = 2, b[6] = 2, b[11] = 1;
	uint16_t o = 12;
	if (f->vlan) {
		put16(b + o, 0x8100);
		put16(b + o + 2, (uint16_t)(0x2000 | f->vlan)); /* PCP 1: not part of the id */
		o += 4;
	}
	put16(b + o, f->v6 ? 0x86dd : 0x0800);
	o += 2;
	uint16_t l4len = f->proto == 6 ? 20 : f->proto == 17 ? 8 : 8;
	uint16_t l3len = f->v6 ? 40 : 20;
	uint16_t iplen = (uint16_t)(l3len + l4len + f->payload);
	uint8_t *ip = b + o;
	if (f->v6) {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(iplen - 40));
		ip[6] = f->proto, ip[7] = 64;
		ip[8] = 0xfd, ip[23] = f->host;
		ip[24] = 0xfd, ip[39] = 1;
	} else {
		ip[0] = 0x45;
		put16(ip + 2, iplen);
		ip[8] = 64, ip[9] = f->proto;
		ip[12] = 10, ip[15] = f->host;
		ip[16] = 10, ip[19] = 1;
	}
	uint8_t *t = ip + l3len;
	if (f->proto == 6 || f->proto == 17) {
		put16(t, f->sport);
		put16(t + 2, f->dport);
		if (f->proto == 6) {
			t[12] = 0x50;
			t[13] = f->tcp_flags;
		} else {
			put16(t + 4, (uint16_t)(8 + f->payload));
		}
	} else {
		t[0] = f->v6 ? 128 : 8; /* echo request, code 0 */
	}
	*ip_bytes = iplen;
	return (uint16_t)(o + iplen + f->pad);
}

/* Run frames through parse, then through the stage under test. */
static void feed(struct sl_harness *h, const struct fr *f, unsigned n, uint64_t *ip_bytes)
{
	struct rte_mbuf *m[SL_BURST_MAX];
	uint8_t b[1024];
	*ip_bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t ib;
		uint16_t len = build(b, &f[i], &ib);
		m[i] = sl_h_mbuf(b, len);
		*ip_bytes += ib;
	}
	sl_h_run(&parse_h, m, n);
	assert_int_equal(parse_h.n_got[0], n);
	unsigned got0 = h->n_got[0];
	sl_h_run(h, parse_h.got[0], n);
	parse_h.n_got[0] = 0;
	assert_int_equal(h->n_got[0] - got0, n); /* every packet goes on */
	/* A burst's counts land at the next call or the worker's tick (within
	 * about 50 us): tick, as an idle worker would, before reading them. */
	h->st.type->tick(&h->st);
	sl_h_clear(h);
}

static void feed1(struct sl_harness *h, struct fr f)
{
	uint64_t ib;
	feed(h, &f, 1, &ib);
}

/* ---- reading the JSON lines back ----------------------------------------- */

struct rec {
	char src[64], dst[64];
	unsigned sport, dport, proto, flags, vlan, reason;
	uint64_t packets, bytes, first, last;
};

static uint64_t jnum(const char *line, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\":", key);
	const char *p = strstr(line, k);
	assert_non_null(p);
	return strtoull(p + strlen(k), NULL, 10);
}

static void jstr(const char *line, const char *key, char *out, size_t len)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\":\"", key);
	const char *p = strstr(line, k);
	assert_non_null(p);
	p += strlen(k);
	size_t n = strcspn(p, "\"");
	assert_true(n < len);
	memcpy(out, p, n);
	out[n] = '\0';
}

static unsigned read_recs(const char *file, struct rec *r, unsigned max)
{
	char path[256], line[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	unsigned n = 0;
	while (fgets(line, sizeof(line), f) && n < max) {
		const char *v = strstr(line, "sourceIPv6Address") ? "IPv6" : "IPv4";
		char k[64];
		snprintf(k, sizeof(k), "source%sAddress", v);
		jstr(line, k, r[n].src, sizeof(r[n].src));
		snprintf(k, sizeof(k), "destination%sAddress", v);
		jstr(line, k, r[n].dst, sizeof(r[n].dst));
		r[n].sport = (unsigned)jnum(line, "sourceTransportPort");
		r[n].dport = (unsigned)jnum(line, "destinationTransportPort");
		r[n].proto = (unsigned)jnum(line, "protocolIdentifier");
		r[n].flags = (unsigned)jnum(line, "tcpControlBits");
		r[n].vlan = (unsigned)jnum(line, "vlanId");
		r[n].reason = (unsigned)jnum(line, "flowEndReason");
		r[n].packets = jnum(line, "packetDeltaCount");
		r[n].bytes = jnum(line, "octetDeltaCount");
		r[n].first = jnum(line, "flowStartMilliseconds");
		r[n].last = jnum(line, "flowEndMilliseconds");
		n++;
	}
	fclose(f);
	return n;
}

static const struct rec *find(const struct rec *r, unsigned n, const char *src, unsigned sport,
			      unsigned vlan, unsigned reason)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(r[i].src, src) && r[i].sport == sport && r[i].vlan == vlan &&
		    (!reason || r[i].reason == reason))
			return &r[i];
	return NULL;
}

static int aux_index(const struct sl_harness *h, const char *name)
{
	for (unsigned i = 0; i < h->st.n_aux; i++)
		if (!strcmp(h->aux_names[i], name))
			return (int)i;
	fail_msg("no counter %s", name);
	return -1;
}

static uint64_t aux(const struct sl_harness *h, const char *name)
{
	return h->aux[aux_index(h, name)];
}

static void start(struct sl_harness *h, const char *yaml)
{
	char err[512];
	if (sl_h_init(h, yaml, dir, 0, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

/* ---- tests --------------------------------------------------------------- */

static void test_keys_and_bytes(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: flowstats, max_flows: 1024, export: ['json:keys.jsonl']}");
	struct fr f[] = {
	    /* one IPv4 UDP flow, three packets, one padded to a minimum frame */
	    {0, 0, 17, 1, 1000, 53, 0, 10, 0},
	    {0, 0, 17, 1, 1000, 53, 0, 0, 30},
	    {0, 0, 17, 1, 1000, 53, 0, 100, 0},
	    /* the same 5-tuple on VLAN 5 and on VLAN 6: two more flows */
	    {0, 5, 17, 1, 1000, 53, 0, 10, 0},
	    {0, 6, 17, 1, 1000, 53, 0, 10, 0},
	    {0, 6, 17, 1, 1000, 53, 0, 20, 0},
	    /* IPv6 TCP, flags ORed: SYN then ACK|PSH */
	    {1, 0, 6, 2, 4000, 80, 0x02, 0, 0},
	    {1, 0, 6, 2, 4000, 80, 0x18, 500, 0},
	    /* IPv6 on a VLAN, and ICMP echo */
	    {1, 9, 17, 3, 5000, 443, 0, 7, 0},
	    {0, 0, 1, 4, 0, 0, 0, 56, 0},
	};
	uint64_t ib;
	feed(&h, f, RTE_DIM(f), &ib);
	/* Not IP (ARP): passes, uncounted. */
	uint8_t arp[60] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x06};
	struct rte_mbuf *m = sl_h_mbuf(arp, sizeof(arp));
	sl_h_run(&parse_h, &m, 1);
	sl_h_run(&h, parse_h.got[0], 1);
	parse_h.n_got[0] = 0;
	/* Not through parse: passes, counted apart. */
	uint8_t b[1024];
	uint32_t one;
	m = sl_h_mbuf(b, build(b, &f[0], &one));
	m->ol_flags &= ~sl_parsed_flag;
	sl_h_run(&h, &m, 1);
	assert_int_equal(h.n_got[0], 2);
	assert_int_equal(h.cnt.out[0], RTE_DIM(f) + 2);
	assert_int_equal(aux(&h, "non_ip"), 1);
	assert_int_equal(aux(&h, "unparsed"), 1);
	assert_int_equal(aux(&h, "flows"), 6);
	sl_h_fini(&h);

	struct rec r[16];
	unsigned n = read_recs("keys.jsonl", r, 16);
	assert_int_equal(n, 6);
	const struct rec *x = find(r, n, "10.0.0.1", 1000, 0, SL_FLOW_END_FORCED);
	assert_non_null(x);
	/* IP bytes: 28 + 10, 28 (the padding is not counted), 28 + 100 */
	assert_int_equal(x->packets, 3);
	assert_int_equal(x->bytes, 38 + 28 + 128);
	assert_string_equal(x->dst, "10.0.0.1");
	assert_int_equal(x->dport, 53);
	assert_int_equal(x->proto, 17);
	assert_true(x->first <= x->last && x->first > 1600000000000ull);
	x = find(r, n, "10.0.0.1", 1000, 5, 0);
	assert_non_null(x);
	assert_int_equal(x->packets, 1);
	x = find(r, n, "10.0.0.1", 1000, 6, 0);
	assert_non_null(x);
	assert_int_equal(x->packets, 2);
	assert_int_equal(x->bytes, 38 + 48);
	x = find(r, n, "fd00::2", 4000, 0, 0);
	assert_non_null(x);
	assert_string_equal(x->dst, "fd00::1");
	assert_int_equal(x->packets, 2);
	assert_int_equal(x->bytes, 60 + 560); /* payload length + 40 */
	assert_int_equal(x->flags, 0x1a);
	assert_int_equal(x->proto, 6);
	x = find(r, n, "fd00::3", 5000, 9, 0);
	assert_non_null(x);
	assert_int_equal(x->bytes, 40 + 8 + 7);
	x = find(r, n, "10.0.0.4", 0, 0, 0);
	assert_non_null(x);
	assert_int_equal(x->proto, 1);
	assert_int_equal(x->dport, 8 << 8); /* ICMP type << 8 | code */
}

static void test_fin_rst(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: flowstats, max_flows: 1024, export: ['json:fin.jsonl']}");
	/* A: three ACKs then FIN; the next packet starts a new flow. */
	struct fr a[] = {
	    {0, 0, 6, 1, 1111, 80, 0x10, 0, 0}, {0, 0, 6, 1, 1111, 80, 0x10, 0, 0},
	    {0, 0, 6, 1, 1111, 80, 0x10, 0, 0}, {0, 0, 6, 1, 1111, 80, 0x11, 0, 0},
	    {0, 0, 6, 1, 1111, 80, 0x10, 0, 0},
	};
	uint64_t ib;
	feed(&h, a, RTE_DIM(a), &ib);
	/* B: ACK, RST, ACK within one burst, with other flows between so
	 * the burst's positions are looked up again after the end. */
	struct fr b[] = {
	    {1, 0, 6, 2, 2222, 80, 0x10, 0, 0}, {0, 0, 17, 3, 1, 2, 0, 0, 0},
	    {1, 0, 6, 2, 2222, 80, 0x14, 0, 0}, {0, 0, 17, 4, 1, 2, 0, 0, 0},
	    {1, 0, 6, 2, 2222, 80, 0x10, 0, 0}, {0, 0, 17, 3, 1, 2, 0, 0, 0},
	};
	feed(&h, b, RTE_DIM(b), &ib);
	assert_int_equal(aux(&h, "end_fin_rst"), 2);
	assert_int_equal(aux(&h, "flows"), 4); /* A again, B again, 3, 4 */
	sl_h_fini(&h);

	struct rec r[16];
	unsigned n = read_recs("fin.jsonl", r, 16);
	assert_int_equal(n, 6);
	const struct rec *x = find(r, n, "10.0.0.1", 1111, 0, SL_FLOW_END_EOF);
	assert_non_null(x);
	assert_int_equal(x->packets, 4);
	assert_int_equal(x->flags, 0x11);
	x = find(r, n, "10.0.0.1", 1111, 0, SL_FLOW_END_FORCED);
	assert_non_null(x);
	assert_int_equal(x->packets, 1);
	x = find(r, n, "fd00::2", 2222, 0, SL_FLOW_END_EOF);
	assert_non_null(x);
	assert_int_equal(x->packets, 2);
	assert_int_equal(x->flags, 0x14);
	x = find(r, n, "fd00::2", 2222, 0, SL_FLOW_END_FORCED);
	assert_non_null(x);
	assert_int_equal(x->packets, 1);
	x = find(r, n, "10.0.0.3", 1, 0, SL_FLOW_END_FORCED);
	assert_non_null(x);
	assert_int_equal(x->packets, 2);
}

static void test_table_full(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: flowstats, max_flows: 64, export: ['json:full.jsonl']}");
	struct fr f[100];
	for (unsigned i = 0; i < 100; i++)
		f[i] = (struct fr){0, 0, 17, 7, (uint16_t)(1000 + i), 53, 0, 10, 0};
	uint64_t ib;
	feed(&h, f, 100, &ib);
	/* The table holds exactly max_flows; the rest are reported alone. */
	assert_int_equal(aux(&h, "flows"), 64);
	assert_int_equal(aux(&h, "table_full"), 36);
	/* A packet of a flow in the table still counts there. */
	feed(&h, f, 1, &ib);
	assert_int_equal(aux(&h, "table_full"), 36);
	sl_h_fini(&h);

	struct rec r[128];
	unsigned n = read_recs("full.jsonl", r, 128);
	assert_int_equal(n, 100);
	unsigned lack = 0, forced = 0;
	uint64_t pkts = 0;
	for (unsigned i = 0; i < n; i++) {
		lack += r[i].reason == SL_FLOW_END_LACK;
		forced += r[i].reason == SL_FLOW_END_FORCED;
		pkts += r[i].packets;
		if (r[i].reason == SL_FLOW_END_LACK)
			assert_int_equal(r[i].packets, 1);
	}
	assert_int_equal(lack, 36);
	assert_int_equal(forced, 64);
	assert_int_equal(pkts, 101);
}

/* max_flows is what the table takes, not the power of two under it. */
static void test_capacity(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: flowstats, max_flows: 4000, export: ['json:cap.jsonl']}");
	struct fr f[200];
	uint64_t ib;
	for (unsigned k = 0; k < 20; k++) {
		for (unsigned i = 0; i < 200; i++) {
			unsigned id = k * 200 + i;
			f[i] = (struct fr){(int)(id & 1),
					   (uint16_t)(id % 7),
					   6,
					   (uint8_t)(id >> 8),
					   (uint16_t)id,
					   80,
					   0x10,
					   0,
					   0};
		}
		feed(&h, f, 200, &ib);
	}
	assert_int_equal(aux(&h, "flows"), 4000);
	assert_int_equal(aux(&h, "table_full"), 0);
	f[0].sport = 60000;
	feed(&h, f, 1, &ib);
	assert_int_equal(aux(&h, "table_full"), 1);
	sl_h_fini(&h);
	static struct rec r[4100];
	assert_int_equal(read_recs("cap.jsonl", r, 4100), 4001);
}

static void test_timeouts(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: flowstats, max_flows: 64, idle_timeout: 1, active_timeout: 2, "
		  "export: ['json:time.jsonl']}");
	struct fr idle = {0, 0, 17, 1, 10, 20, 0, 0, 0};
	struct fr busy = {0, 0, 17, 2, 30, 40, 0, 0, 0};
	feed1(&h, idle);
	unsigned sent = 0;
	for (int i = 0; i < 14; i++) { /* 3.5 s: busy never idles, but runs past 2 s */
		feed1(&h, busy);
		sent++;
		usleep(250000);
	}
	feed1(&h, busy);
	sent++;
	assert_int_equal(aux(&h, "end_idle"), 1);
	assert_true(aux(&h, "end_active") >= 1);
	assert_int_equal(aux(&h, "records_lost"), 0);
	sl_h_fini(&h);

	struct rec r[16];
	unsigned n = read_recs("time.jsonl", r, 16);
	const struct rec *x = find(r, n, "10.0.0.1", 10, 0, SL_FLOW_END_IDLE);
	assert_non_null(x);
	assert_int_equal(x->packets, 1);
	uint64_t pkts = 0;
	unsigned active = 0;
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(r[i].src, "10.0.0.2"))
			continue;
		pkts += r[i].packets;
		if (r[i].reason == SL_FLOW_END_ACTIVE) {
			active++;
			assert_true(r[i].last - r[i].first >= 1700); /* ~2 s of packets */
		}
	}
	assert_int_equal(pkts, sent); /* split by the active timeout, none lost */
	assert_true(active >= 1);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void test_ipfix(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	int big = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	char yaml[256];
	snprintf(yaml, sizeof(yaml),
		 "{type: flowstats, max_flows: 4096, observation_domain: 42, "
		 "export: ['ipfix://127.0.0.1:%u']}",
		 ntohs(sa.sin_port));
	struct sl_harness h;
	start(&h, yaml);
	/* 300 flows, v4 and v6 mixed, 2 packets each: several messages. */
	uint64_t want_bytes = 0;
	for (unsigned k = 0; k < 3; k++) {
		struct fr f[200];
		for (unsigned i = 0; i < 200; i++) {
			unsigned id = k * 100 + i / 2;
			f[i] = (struct fr){(int)(id % 3 == 0),
					   (uint16_t)(id % 5),
					   17,
					   (uint8_t)id,
					   (uint16_t)(1000 + id),
					   53,
					   0,
					   (uint16_t)id,
					   0};
		}
		uint64_t ib;
		feed(&h, f, 200, &ib);
		want_bytes += ib;
	}
	sl_h_fini(&h);

	uint8_t buf[2048];
	ssize_t len;
	unsigned msgs = 0, recs = 0, v6 = 0;
	uint32_t seq = 0;
	uint64_t pkts = 0, bytes = 0;
	bool templates = false;
	while ((len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		assert_true(len <= SL_IPFIX_MTU);
		assert_int_equal(rd16(buf), 10);
		assert_int_equal(rd16(buf + 2), len);
		assert_int_equal(rd32(buf + 8), seq); /* data records before this one */
		assert_int_equal(rd32(buf + 12), 42);
		if (msgs++ == 0) { /* templates first: one set, two templates */
			assert_int_equal(rd16(buf + 16), 2);
			assert_int_equal(rd16(buf + 20), SL_IPFIX_TMPL_V4);
			assert_int_equal(rd16(buf + 22), 12);
			assert_int_equal(rd16(buf + 20 + 52), SL_IPFIX_TMPL_V6);
			templates = true;
			continue;
		}
		for (ssize_t o = 16; o < len;) {
			uint16_t id = rd16(buf + o), slen = rd16(buf + o + 2);
			assert_true(id == SL_IPFIX_TMPL_V4 || id == SL_IPFIX_TMPL_V6);
			assert_true(slen > 4 && o + slen <= len);
			unsigned rl = id == SL_IPFIX_TMPL_V4 ? 50 : 74;
			assert_int_equal((slen - 4) % rl, 0);
			for (const uint8_t *p = buf + o + 4; p < buf + o + slen; p += rl) {
				unsigned a = id == SL_IPFIX_TMPL_V4 ? 8 : 32;
				const uint8_t *q = p + a;
				uint16_t sport = rd16(q);
				assert_int_equal(rd16(q + 2), 53);
				assert_int_equal(q[4], 17);
				assert_int_equal(rd16(q + 7), (sport - 1000) % 5); /* vlanId */
				uint64_t oc = (uint64_t)rd32(q + 9) << 32 | rd32(q + 13);
				uint64_t pc = (uint64_t)rd32(q + 17) << 32 | rd32(q + 21);
				uint64_t t0 = (uint64_t)rd32(q + 25) << 32 | rd32(q + 29);
				uint64_t t1 = (uint64_t)rd32(q + 33) << 32 | rd32(q + 37);
				assert_int_equal(pc, 2);
				assert_true(t0 <= t1 && t0 > 1600000000000ull);
				assert_int_equal(q[41], SL_FLOW_END_FORCED);
				assert_int_equal(q + 42, p + rl);
				pkts += pc;
				bytes += oc;
				recs++;
				v6 += id == SL_IPFIX_TMPL_V6;
			}
			o += slen;
		}
		seq = (uint32_t)recs;
	}
	close(fd);
	assert_true(templates);
	assert_int_equal(recs, 300);
	assert_int_equal(v6, 100);
	assert_int_equal(pkts, 600);
	assert_int_equal(bytes, want_bytes);
	assert_true(msgs >= 1 + 300 / 27);
}

/* The worker's tick ends flows of an input that fell silent. */
static void test_tick(void **state)
{
	(void)state;
	struct sl_harness h;
	start(&h, "{type: flowstats, max_flows: 64, idle_timeout: 1, export: ['json:tick.jsonl']}");
	feed1(&h, (struct fr){1, 3, 17, 1, 10, 20, 0, 0, 0});
	h.st.type->tick(&h.st);
	assert_int_equal(aux(&h, "flows"), 1);
	usleep(1300000);
	h.st.type->tick(&h.st);
	assert_int_equal(aux(&h, "end_idle"), 1);
	assert_int_equal(aux(&h, "flows"), 0);
	assert_int_equal(aux(&h, "records"), 1);
	h.st.type->fini(&h.st);			  /* again in sl_h_fini: a no-op */
	assert_int_equal(aux(&h, "exported"), 1); /* fini gives the last figures */
	assert_int_equal(aux(&h, "json_lines"), 1);
	sl_h_fini(&h);
	struct rec r[4];
	assert_int_equal(read_recs("tick.jsonl", r, 4), 1);
	assert_int_equal(r[0].reason, SL_FLOW_END_IDLE);
	assert_int_equal(r[0].vlan, 3);
}

/* Templates go out again every template_refresh seconds, records or not. */
static void test_template_refresh(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	char yaml[256];
	snprintf(yaml, sizeof(yaml),
		 "{type: flowstats, max_flows: 64, template_refresh: 1, export: "
		 "['ipfix://127.0.0.1:%u']}",
		 ntohs(sa.sin_port));
	struct sl_harness h;
	start(&h, yaml);
	usleep(2500000);
	sl_h_fini(&h);
	uint8_t buf[2048];
	unsigned tmpl = 0;
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
		assert_int_equal(rd16(buf + 16), 2);
		assert_int_equal(rd32(buf + 12), 1); /* observation_domain's default */
		tmpl++;
	}
	close(fd);
	assert_true(tmpl >= 3 && tmpl <= 4);
}

/* The encoder alone: no message passes 1400 bytes, whatever the mix. */
static void test_ipfix_mtu(void **state)
{
	(void)state;
	struct sl_ipfix_msg m;
	struct sl_flow_rec r;
	memset(&r, 0, sizeof(r));
	sl_ipfix_reset(&m);
	unsigned n = 0;
	for (unsigned i = 0; i < 1000; i++) {
		r.key.v6 = (uint8_t)(i % 3 == 0);
		if (!sl_ipfix_add(&m, &r)) {
			assert_true(sl_ipfix_finish(&m, 0, 0, 1) <= SL_IPFIX_MTU);
			assert_true(m.n_recs >= 17);
			sl_ipfix_reset(&m);
			assert_true(sl_ipfix_add(&m, &r));
			n++;
		}
	}
	assert_true(n > 10);
	uint8_t t[256];
	assert_int_equal(sl_ipfix_templates(t, 0, 0, 1), 16 + 4 + 2 * 52);
}

static void test_config(void **state)
{
	(void)state;
	struct sl_harness h;
	char err[512];
	assert_int_equal(sl_h_init(&h, "{type: flowstats, export: []}", dir, 0, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "needs at least one target"));
	sl_h_fini(&h);
	assert_int_equal(sl_h_init(&h, "{type: flowstats, max_flows: 4000000, export: ['x:y']}",
				   dir, 0, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "not an export target"));
	sl_h_fini(&h);
	assert_int_equal(sl_h_init(&h, "{type: flowstats, max_flows: 10, export: ['json:a']}", dir,
				   0, err, sizeof(err)),
			 -1);
	sl_h_fini(&h);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	sl_h_eal("sl_test_flowstats", 8191);
	char err[256];
	if (sl_h_init(&parse_h, "{type: parse}", NULL, 0, err, sizeof(err)) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_and_bytes),
	    cmocka_unit_test(test_fin_rst),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_ipfix),
	    cmocka_unit_test(test_tick),
	    cmocka_unit_test(test_template_refresh),
	    cmocka_unit_test(test_ipfix_mtu),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_timeouts),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	sl_h_fini(&parse_h);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
