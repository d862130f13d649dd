/* test_stage_malformed.c: every stage type (the zoo) survives the
 * malformed-frame set: each of a dozen well-formed frames cut at every
 * length, and seeded corruptions of their header bytes, each as one
 * segment and as a chain cut inside the headers. Run under ASan (frames
 * sit in buffers of exactly their length), a read past a frame, a leak or
 * a packet not accounted for fails the test, naming the stage. */
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
#include "tests/unit/zoo.h"

#define FRAME_MAX 256

struct frame {
	const char *what;
	uint8_t b[FRAME_MAX];
	uint16_t len;
};

static uint16_t put_eth(uint8_t *b, const uint16_t *tags, unsigned n_tags, uint16_t type)
{
	static const uint8_t mac[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
	uint16_t o = 12;
	memcpy(b, mac, 12);
	for (unsigned i = 0; i < n_tags; i++) {
		b[o] = (uint8_t)(tags[2 * i] >> 8), b[o + 1] = (uint8_t)tags[2 * i];
		b[o + 2] = (uint8_t)(tags[2 * i + 1] >> 8), b[o + 3] = (uint8_t)tags[2 * i + 1];
		o += 4;
	}
	b[o] = (uint8_t)(type >> 8), b[o + 1] = (uint8_t)type;
	return (uint16_t)(o + 2);
}

static uint16_t put_ipv4(uint8_t *b, uint8_t proto, uint16_t payload, uint8_t opt_words,
			 uint16_t frag)
{
	uint16_t hl = (uint16_t)(20 + 4 * opt_words), tot = (uint16_t)(hl + payload);
	memset(b, 0, hl);
	b[0] = (uint8_t)(0x40 | (hl / 4));
	b[2] = (uint8_t)(tot >> 8), b[3] = (uint8_t)tot;
	b[6] = (uint8_t)(frag >> 8), b[7] = (uint8_t)frag;
	b[8] = 64, b[9] = proto;
	b[12] = 10, b[15] = 1, b[16] = 192, b[17] = 168, b[19] = 7;
	for (unsigned i = 0; i < opt_words * 4u; i++)
		b[20 + i] = 1; /* NOP options */
	uint32_t s = 0;
	for (unsigned i = 0; i < hl; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	s = ~s & 0xffff;
	b[10] = (uint8_t)(s >> 8), b[11] = (uint8_t)s;
	return hl;
}

static uint16_t put_ipv6(uint8_t *b, uint8_t next, uint16_t payload)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	b[4] = (uint8_t)(payload >> 8), b[5] = (uint8_t)payload;
	b[6] = next, b[7] = 64;
	b[8] = 0x20, b[9] = 0x01, b[23] = 1;
	b[24] = 0x20, b[25] = 0x01, b[39] = 2;
	return 40;
}

static uint16_t put_l4(uint8_t *b, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t flags)
{
	if (proto == 6) {
		memset(b, 0, 20);
		b[0] = (uint8_t)(sport >> 8), b[1] = (uint8_t)sport;
		b[2] = (uint8_t)(dport >> 8), b[3] = (uint8_t)dport;
		b[12] = 0x50, b[13] = flags;
		return 20;
	}
	if (proto == 17) {
		memset(b, 0, 8);
		b[0] = (uint8_t)(sport >> 8), b[1] = (uint8_t)sport;
		b[2] = (uint8_t)(dport >> 8), b[3] = (uint8_t)dport;
		b[5] = 8;
		return 8;
	}
	memset(b, 0, 8);
	b[0] = 8; /* echo request (ICMP or ICMPv6 alike for our purpose) */
	return 8;
}

static unsigned make_frames(struct frame *f)
{
	unsigned n = 0;
	static const uint16_t vlan[] = {0x8100, 100}, qinq[] = {0x88a8, 10, 0x8100, 20};
	uint16_t o;

	/* IPv4 TCP SYN, IPv4 UDP, IPv4 ICMP, IPv4 with options. */
	for (unsigned k = 0; k < 4; k++) {
		static const uint8_t protos[] = {6, 17, 1, 6};
		uint8_t p = protos[k];
		o = put_eth(f[n].b, NULL, 0, 0x0800);
		uint16_t l4 = p == 6 ? 20 : 8;
		o += put_ipv4(f[n].b + o, p, (uint16_t)(l4 + 10), k == 3 ? 3 : 0, 0);
		o += put_l4(f[n].b + o, p, 1234, 80, 0x02);
		f[n].len = (uint16_t)(o + 10);
		f[n++].what = "ipv4";
	}
	/* IPv4 first and later fragments. */
	o = put_eth(f[n].b, NULL, 0, 0x0800);
	o += put_ipv4(f[n].b + o, 17, 24, 0, 0x2000);
	o += put_l4(f[n].b + o, 17, 53, 53, 0);
	f[n].len = (uint16_t)(o + 16);
	f[n++].what = "ipv4 first fragment";
	o = put_eth(f[n].b, NULL, 0, 0x0800);
	o += put_ipv4(f[n].b + o, 17, 24, 0, 3);
	f[n].len = (uint16_t)(o + 24);
	f[n++].what = "ipv4 later fragment";
	/* VLAN IPv4 TCP, QinQ IPv6 UDP. */
	o = put_eth(f[n].b, vlan, 1, 0x0800);
	o += put_ipv4(f[n].b + o, 6, 20, 0, 0);
	o += put_l4(f[n].b + o, 6, 40000, 443, 0x12);
	f[n].len = o;
	f[n++].what = "vlan ipv4 tcp";
	o = put_eth(f[n].b, qinq, 2, 0x86dd);
	o += put_ipv6(f[n].b + o, 17, 8);
	o += put_l4(f[n].b + o, 17, 5000, 5001, 0);
	f[n].len = o;
	f[n++].what = "qinq ipv6 udp";
	/* IPv6 with hop-by-hop, routing and fragment headers, then TCP. */
	o = put_eth(f[n].b, NULL, 0, 0x86dd);
	uint16_t ip6 = o;
	o += put_ipv6(f[n].b + o, 0, 0);
	uint8_t *x = f[n].b + o;
	memset(x, 0, 32);
	x[0] = 43, x[1] = 0;		/* hop-by-hop, 8 bytes, next routing */
	x[8] = 44, x[9] = 1, x[10] = 0; /* routing, 16 bytes, next fragment */
	x[24] = 6;			/* fragment, next TCP, offset 0 */
	o += 32;
	o += put_l4(f[n].b + o, 6, 22, 2222, 0x10);
	f[n].b[ip6 + 5] = (uint8_t)(o - ip6 - 40);
	f[n].len = o;
	f[n++].what = "ipv6 ext tcp";
	/* ICMPv6, ARP, an unknown ethertype and a runt. */
	o = put_eth(f[n].b, NULL, 0, 0x86dd);
	o += put_ipv6(f[n].b + o, 58, 8);
	o += put_l4(f[n].b + o, 58, 0, 0, 0);
	f[n].len = o;
	f[n++].what = "icmpv6";
	o = put_eth(f[n].b, NULL, 0, 0x0806);
	memset(f[n].b + o, 0, 28);
	f[n].len = (uint16_t)(o + 28);
	f[n++].what = "arp";
	o = put_eth(f[n].b, NULL, 0, 0x88b5);
	f[n].len = (uint16_t)(o + 46);
	f[n++].what = "unknown ethertype";
	return n;
}

/* splitmix64: the same corruptions on every machine. */
static uint64_t rng = 42;
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void test_every_stage(void **state)
{
	(void)state;
	static struct frame frames[32];
	unsigned nf = make_frames(frames);
	unsigned fed = 0;

	for (unsigned s = 0; s < sl_zoo_count(); s++) {
		for (unsigned i = 0; i < nf; i++) {
			const struct frame *f = &frames[i];
			/* Every truncation, cut at several places. */
			for (uint16_t len = 0; len <= f->len; len++, fed++)
				sl_zoo_feed(s, f->b, len, (uint16_t)(len % 41));
			/* Header bytes overwritten with random values. */
			for (unsigned k = 0; k < 200; k++, fed++) {
				uint8_t b[FRAME_MAX];
				memcpy(b, f->b, f->len);
				unsigned hits = 1 + (unsigned)(rnd() % 4);
				for (unsigned j = 0; j < hits; j++)
					b[rnd() % (f->len < 80 ? f->len : 80)] = (uint8_t)rnd();
				sl_zoo_feed(s, b, f->len, (uint16_t)(rnd() % f->len));
			}
		}
	}
	printf("fed %u malformed frames (x2: one segment and a chain) to %u stage types\n", fed,
	       sl_zoo_count());
	assert_true(fed > 1000);
}

int main(void)
{
	char dir[] = "/tmp/sl-zoo-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	sl_h_eal("sl_test_malformed", 8191);
	sl_zoo_init(dir);
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_stage)};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	sl_zoo_fini();
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
