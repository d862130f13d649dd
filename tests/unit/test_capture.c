/* test_capture.c: the capture stage in-process, through the harness: every
 * packet goes on, one-segment and chained packets land in the pcapng byte
 * for byte (read back here block by block), snaplen and max_packets act on
 * the copies only, and the counters account for every packet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/harness.h"

static char dir[] = "/tmp/sl_test_capture_XXXXXX";

enum { CAPTURED, CAPTURED_BYTES, RING_FULL, CLONE_FAILED, LIMIT_SKIPPED, WRITTEN };

struct pkt {
	uint32_t caplen, len;
	uint8_t data[2048];
};

/* Read a pcapng file: the interface name of interface 0 and every packet. */
static unsigned read_pcapng(const char *path, char *ifname, size_t ifl, struct pkt *pk,
			    unsigned max)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	unsigned np = 0, n_idb = 0;
	size_t o = 0;
	while (o + 12 <= n) {
		uint32_t type, blen;
		memcpy(&type, buf + o, 4);
		memcpy(&blen, buf + o + 4, 4);
		assert_true(blen >= 12 && blen % 4 == 0 && o + blen <= n);
		uint32_t trail;
		memcpy(&trail, buf + o + blen - 4, 4);
		assert_int_equal(trail, blen);
		if (type == 1) { /* IDB: options from offset 16 */
			n_idb++;
			for (size_t q = o + 16; q + 4 <= o + blen - 4;) {
				uint16_t code, ol;
				memcpy(&code, buf + q, 2);
				memcpy(&ol, buf + q + 2, 2);
				if (code == 0)
					break;
				if (code == 2)
					snprintf(ifname, ifl, "%.*s", (int)ol,
						 (const char *)buf + q + 4);
				q += 4 + ((ol + 3u) & ~3u);
			}
		} else if (type == 6) { /* EPB */
			uint32_t ifid;
			memcpy(&ifid, buf + o + 8, 4);
			assert_int_equal(ifid, 0);
			assert_true(np < max);
			memcpy(&pk[np].caplen, buf + o + 20, 4);
			memcpy(&pk[np].len, buf + o + 24, 4);
			assert_true(pk[np].caplen <= sizeof(pk[np].data) &&
				    28 + pk[np].caplen <= blen);
			memcpy(pk[np].data, buf + o + 28, pk[np].caplen);
			np++;
		} else {
			assert_int_equal(type, 0x0a0d0d0a); /* the section header */
		}
		o += blen;
	}
	assert_int_equal(o, n);
	assert_int_equal(n_idb, 1);
	return np;
}

static uint8_t frames[300][1500];
static uint16_t lens[300];

static void make_frames(void)
{
	for (unsigned i = 0; i < 300; i++) {
		lens[i] = (uint16_t)(60 + (i * 37) % 1400);
		for (unsigned k = 0; k < lens[i]; k++)
			frames[i][k] = (uint8_t)(i * 7 + k);
	}
}

/* Run the 300 frames (every third chained) through a capture with these
 * keys, then finish the instance (so the file is complete). */
static void run(const char *keys, const char *file, uint64_t *aux, unsigned *passed)
{
	struct sl_harness h;
	char yaml[512], err[1024];
	snprintf(yaml, sizeof(yaml), "{type: capture, file: %s/%s%s}", dir, file, keys);
	if (sl_h_init(&h, yaml, dir, 0, err, sizeof(err)) < 0)
		fail_msg("init: %s", err);
	struct rte_mbuf *pkts[300];
	for (unsigned i = 0; i < 300; i++)
		pkts[i] =
		    i % 3 ? sl_h_mbuf(frames[i], lens[i]) : sl_h_chain(frames[i], lens[i], 20);
	sl_h_run(&h, pkts, 300);
	*passed = h.n_got[0];
	for (unsigned i = 0; i < h.n_got[0]; i++) /* unchanged, in order */
		assert_int_equal(rte_pktmbuf_pkt_len(h.got[0][i]), lens[i]);
	memcpy(aux, h.aux, 8 * sizeof(uint64_t));
	assert_int_equal(aux[CAPTURED] + aux[RING_FULL] + aux[CLONE_FAILED] + aux[LIMIT_SKIPPED],
			 300);
	assert_int_equal(h.cnt.out[0], 300);
	sl_h_fini(&h);
}

static void test_whole(void **state)
{
	(void)state;
	uint64_t aux[8];
	unsigned passed;
	run(", queue: 1024", "whole.pcapng", aux, &passed);
	assert_int_equal(passed, 300);
	assert_int_equal(aux[CAPTURED], 300);
	static struct pkt pk[300];
	char ifname[64] = "";
	char path[256];
	snprintf(path, sizeof(path), "%s/whole.pcapng", dir);
	assert_int_equal(read_pcapng(path, ifname, sizeof(ifname), pk, 300), 300);
	assert_string_equal(ifname, "under_test");
	uint64_t bytes = 0;
	for (unsigned i = 0; i < 300; i++) {
		assert_int_equal(pk[i].len, lens[i]);
		assert_int_equal(pk[i].caplen, lens[i]);
		assert_memory_equal(pk[i].data, frames[i], lens[i]);
		bytes += lens[i];
	}
	assert_int_equal(aux[CAPTURED_BYTES], bytes);
}

static void test_snaplen_limit(void **state)
{
	(void)state;
	uint64_t aux[8];
	unsigned passed;
	run(", snaplen: 64, max_packets: 100, queue: 1024", "cut.pcapng", aux, &passed);
	assert_int_equal(passed, 300);
	assert_int_equal(aux[CAPTURED], 100);
	assert_int_equal(aux[LIMIT_SKIPPED], 200);
	static struct pkt pk[300];
	char ifname[64] = "";
	char path[256];
	snprintf(path, sizeof(path), "%s/cut.pcapng", dir);
	assert_int_equal(read_pcapng(path, ifname, sizeof(ifname), pk, 300), 100);
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(pk[i].len, lens[i]);
		assert_int_equal(pk[i].caplen, RTE_MIN(lens[i], 64));
		assert_memory_equal(pk[i].data, frames[i], pk[i].caplen);
	}
}

static void test_tiny_queue(void **state)
{
	(void)state;
	uint64_t aux[8];
	unsigned passed;
	run(", queue: 1", "tiny.pcapng", aux, &passed);
	assert_int_equal(passed, 300);
	assert_true(aux[RING_FULL] > 0);
	static struct pkt pk[300];
	char ifname[64] = "";
	char path[256];
	snprintf(path, sizeof(path), "%s/tiny.pcapng", dir);
	assert_int_equal(read_pcapng(path, ifname, sizeof(ifname), pk, 300), aux[CAPTURED]);
}

int main(void)
{
	sl_h_eal("test_capture", 4095);
	if (!mkdtemp(dir))
		return 1;
	make_frames();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole),
	    cmocka_unit_test(test_snaplen_limit),
	    cmocka_unit_test(test_tiny_queue),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
