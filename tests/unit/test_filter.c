/* test_filter.c: the filter stage gives libpcap's own verdict
 * (pcap_offline_filter, the interpreter tcpdump uses) for every frame of a
 * pktgen.py trace, each frame fed as one exact-length segment and as chains
 * of two segments cut at header boundaries and inside headers, so that a
 * JIT load crossing a segment, or reading past the frame (ASan), shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "tests/unit/harness.h"

static const char *const exprs[] = {
    "tcp dst port 80 and not net 10.0.0.0/8",
    "vlan 100 and tcp[tcpflags] & tcp-syn != 0",
    "vlan and vlan and udp port 53",
    "ip6 and tcp",
    "ip6 proto 44 or ip6[6] = 60",
    "ip[6:2] & 0x1fff != 0",
    "ip[2:2] - ((ip[0] & 0xf) << 2) > 30",
    "ether[ether[14] & 0xf] = 2", /* an indexed byte load: ldb [x + k] */
    "ether[ether[14] & 0x3f : 4] > 0x45000000",
    "greater 200 and less 1500",
    "ether host 00:16:3e:11:22:33 or ether broadcast",
    "icmp or icmp6",
    /* Indexes that wrap below 0: rte_bpf would walk off the segment chain
     * (offset 2^32 - 1 passes rte_pktmbuf_read's check); guarded. */
    "ether[ether[0] - 1] = 1",
    "ether[ether[0] - 100] = 1 or ether[ether[12] - 9] = 0",
};
static const uint16_t cuts[] = {1, 6, 12, 13, 14, 16, 18, 20, 23, 24, 34, 38, 54, 58, 62, 100};

static struct pcap_pkthdr *hdrs;
static uint8_t **data;
static unsigned n_frames;

static void load_trace(void)
{
	const char *src = getenv("SLUICE_SRC");
	char path[] = "/tmp/sl-test-filter-XXXXXX", cmd[512], err[PCAP_ERRBUF_SIZE];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/integration/pktgen.py %s --seed 5 > /dev/null",
		 src ? src : ".", path);
	assert_int_equal(system(cmd), 0);
	pcap_t *p = pcap_open_offline(path, err);
	assert_non_null(p);
	struct pcap_pkthdr *h;
	const u_char *b;
	unsigned cap = 0;
	while (pcap_next_ex(p, &h, &b) == 1) {
		if (n_frames == cap) {
			cap = cap ? 2 * cap : 1024;
			hdrs = realloc(hdrs, cap * sizeof(*hdrs));
			data = realloc(data, cap * sizeof(*data));
		}
		hdrs[n_frames] = *h;
		data[n_frames] = malloc(h->caplen);
		memcpy(data[n_frames], b, h->caplen);
		n_frames++;
	}
	pcap_close(p);
	unlink(path);
	assert_true(n_frames > 1000);
}

/* Feed frames [0, n) built by mk(i) and check each landed where want[i] says. */
static void run_check(struct sl_harness *h, const char *expr, const bool *want, uint16_t cut)
{
	enum { B = SL_BURST_MAX };
	struct rte_mbuf *in[B];
	int match = sl_h_output(h, "match"), miss = sl_h_output(h, "miss");

	for (unsigned base = 0; base < n_frames; base += B) {
		unsigned n = n_frames - base < B ? n_frames - base : B;
		for (unsigned i = 0; i < n; i++) {
			unsigned f = base + i;
			uint16_t len = (uint16_t)hdrs[f].caplen;
			in[i] = cut ? sl_h_chain(data[f], len, cut) : sl_h_mbuf(data[f], len);
		}
		struct rte_mbuf *copy[B];
		memcpy(copy, in, sizeof(copy));
		sl_h_run(h, in, n);
		assert_int_equal(h->n_got[match] + h->n_got[miss], n);
		for (int o = 0; o < 2; o++) {
			int port = o ? miss : match;
			for (unsigned k = 0; k < h->n_got[port]; k++) {
				unsigned i = 0;
				while (i < n && copy[i] != h->got[port][k])
					i++;
				assert_true(i < n);
				if (want[base + i] != (port == match))
					fail_msg(
					    "'%s': frame %u (%u bytes, cut %u): stage says %s, "
					    "libpcap %s",
					    expr, base + i, hdrs[base + i].caplen, cut,
					    port == match ? "match" : "miss",
					    want[base + i] ? "match" : "miss");
			}
		}
		sl_h_clear(h);
	}
}

static void test_agrees_with_libpcap(void **state)
{
	(void)state;
	bool *want = calloc(n_frames, sizeof(bool));
	for (size_t e = 0; e < RTE_DIM(exprs); e++) {
		pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
		struct bpf_program prog;
		assert_int_equal(pcap_compile(p, &prog, exprs[e], 1, PCAP_NETMASK_UNKNOWN), 0);
		unsigned n_match = 0;
		for (unsigned f = 0; f < n_frames; f++) {
			want[f] = pcap_offline_filter(&prog, &hdrs[f], data[f]) != 0;
			n_match += want[f];
		}
		pcap_freecode(&prog);
		pcap_close(p);

		struct sl_harness h;
		char yaml[256], err[1024];
		snprintf(yaml, sizeof(yaml), "{type: filter, expr: \"%s\"}", exprs[e]);
		if (sl_h_init(&h, yaml, NULL, 0, err, sizeof(err)) < 0)
			fail_msg("%s: %s", exprs[e], err);
		run_check(&h, exprs[e], want, 0);
		for (size_t c = 0; c < RTE_DIM(cuts); c++)
			run_check(&h, exprs[e], want, cuts[c]);
		assert_int_equal(h.cnt.pkts_in, h.cnt.out[0] + h.cnt.out[1]);
		printf("ok: '%s': %u of %u frames match, single and chained, as libpcap\n",
		       exprs[e], n_match, n_frames);
		sl_h_fini(&h);
	}
	free(want);
}

static void test_refusals(void **state)
{
	(void)state;
	struct sl_harness h;
	char err[1024];
	assert_int_equal(
	    sl_h_init(&h, "{type: filter, expr: 'tcp and and'}", NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "syntax error"));
	assert_int_equal(
	    sl_h_init(&h, "{type: filter, expr: 'ip6 protochain 6'}", NULL, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "loop"));
	/* An expression that would keep libpcap's optimizer busy for minutes
	 * (1000 host terms) is refused at once. */
	char *big = malloc(64 * 1024), *o = big;
	o += sprintf(o, "{type: filter, expr: '");
	for (int i = 0; i < 1000; i++)
		o += sprintf(o, "%shost 10.0.%d.%d", i ? " or " : "", i / 256, i % 256);
	sprintf(o, "'}");
	assert_int_equal(sl_h_init(&h, big, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));
	free(big);
	/* libpcap's code generator recurses per operator: 64,000 `ip&&` would
	 * overflow the stack; refused before libpcap sees it. */
	char *deep = malloc(300 * 1024);
	o = deep + sprintf(deep, "{type: filter, expr: '");
	for (int i = 0; i < 7000; i++)
		o += sprintf(o, "ip&&");
	sprintf(o, "ip'}");
	assert_int_equal(sl_h_init(&h, deep, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too complex"));
	o = deep + sprintf(deep, "{type: filter, expr: '");
	for (int i = 0; i < 64000; i++)
		o += sprintf(o, "ip&&");
	sprintf(o, "ip'}");
	assert_int_equal(sl_h_init(&h, deep, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bytes long"));
	free(deep);
	/* A load at an offset past 2^31 never matches, and reads nothing. */
	assert_int_equal(sl_h_init(&h,
				   "{type: filter, expr: 'ether[0 - 20] = 0 or ether[0 - 20:4] = 0 "
				   "or ip[0 - 40] = 0 or ether[ether[14] - 0x80000000] = 0'}",
				   NULL, 0, err, sizeof(err)),
			 0);
	uint8_t frame[64] = {0};
	struct rte_mbuf *m = sl_h_mbuf(frame, sizeof(frame));
	sl_h_run(&h, &m, 1);
	assert_int_equal(h.n_got[sl_h_output(&h, "miss")], 1);
	sl_h_fini(&h);
}

int main(void)
{
	sl_h_eal("sl_test_filter", 8191);
	load_trace();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_agrees_with_libpcap),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests_name("filter", tests, NULL, NULL);
}
