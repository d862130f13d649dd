/* gentrace.c: sl-gentrace writes a pcap of synthetic flows (Ethernet,
 * optional 802.1Q tag, IPv4 or IPv6, TCP/UDP/ICMP) so that tests and demos
 * make their traces instead of committing binaries. Output is a pure function
 * of the options and the seed. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

struct flow {
	int v6, vlan, proto;
	uint16_t vid, sport, dport;
	uint8_t src[16], dst[16];
	uint8_t smac[6], dmac[6];
};

static uint64_t rng_state;

/* splitmix64: small, fast and the same on every machine. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd01(void)
{
	return (double)(rnd() >> 11) / (double)(1ull << 53);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sl-gentrace -o FILE [options]\n"
		"\n"
		"Writes a pcap of synthetic traffic.\n"
		"\n"
		"  -o, --output FILE    pcap to write (required)\n"
		"  -n, --count N        packets (default 1000)\n"
		"  -s, --size S         frame size in bytes (60-9000), or 'imix' for 7:4:1 of\n"
		"                       64/570/1518 (default 64; raised to fit the headers)\n"
		"  -f, --flows N        distinct flows (default 100)\n"
		"      --ipv6 F         share of flows that are IPv6, 0..1 (default 0.25)\n"
		"      --vlan F         share of flows with an 802.1Q tag, 0..1 (default 0.1)\n"
		"      --reverse F      share of packets sent B->A instead of A->B (default 0.3)\n"
		"      --seed N         random seed (default 1)\n"
		"  -h, --help           this text\n");
}

static uint16_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t l4_hdr_len(int proto)
{
	return proto == 6 ? 20 : proto == 17 ? 8 : 8;
}

/* Build one frame of `size` bytes for flow f; rev swaps the direction. */
static size_t build(uint8_t *b, size_t size, const struct flow *f, int rev, uint64_t seq)
{
	size_t l3 = 14 + (f->vlan ? 4 : 0);
	size_t iphl = f->v6 ? 40 : 20;
	size_t l4 = l3 + iphl;
	size_t min = l4 + l4_hdr_len(f->proto);
	if (size < min)
		size = min;
	memset(b, 0, size);
	memcpy(b, rev ? f->smac : f->dmac, 6);
	memcpy(b + 6, rev ? f->dmac : f->smac, 6);
	if (f->vlan) {
		put16(b + 12, 0x8100);
		put16(b + 14, f->vid);
	}
	put16(b + l3 - 2, f->v6 ? 0x86dd : 0x0800);
	const uint8_t *src = rev ? f->dst : f->src, *dst = rev ? f->src : f->dst;
	size_t plen = size - l4;
	int proto = f->proto;
	if (f->v6) {
		b[l3] = 0x60;
		put16(b + l3 + 4, (uint16_t)plen);
		b[l3 + 6] = (uint8_t)(proto == 1 ? 58 : proto);
		b[l3 + 7] = 64;
		memcpy(b + l3 + 8, src, 16);
		memcpy(b + l3 + 24, dst, 16);
	} else {
		b[l3] = 0x45;
		put16(b + l3 + 2, (uint16_t)(size - l3));
		put16(b + l3 + 4, (uint16_t)seq);
		b[l3 + 8] = 64;
		b[l3 + 9] = (uint8_t)proto;
		memcpy(b + l3 + 12, src, 4);
		memcpy(b + l3 + 16, dst, 4);
		put16(b + l3 + 10, (uint16_t)~csum_add(0, b + l3, 20));
	}
	uint8_t *t = b + l4;
	/* The payload carries the packet's sequence number so that every
	 * frame is unique and reordering shows. */
	size_t hl = l4_hdr_len(proto);
	for (size_t i = hl; i < plen; i++)
		t[i] = (uint8_t)(seq >> (8 * ((i - hl) % 8)));
	if (proto == 6 || proto == 17) {
		put16(t, rev ? f->dport : f->sport);
		put16(t + 2, rev ? f->sport : f->dport);
		if (proto == 6) {
			put16(t + 4, (uint16_t)(seq >> 16));
			put16(t + 6, (uint16_t)seq);
			t[12] = 0x50;
			t[13] = 0x18;
			put16(t + 14, 65535);
		} else {
			put16(t + 4, (uint16_t)plen);
		}
	} else {
		t[0] = f->v6 ? 128 : 8; /* echo request */
		put16(t + 4, f->sport);
		put16(t + 6, (uint16_t)seq);
	}
	/* L4 checksum over the pseudo-header and the segment. */
	uint8_t ph[40];
	size_t phl;
	if (f->v6) {
		memcpy(ph, src, 16);
		memcpy(ph + 16, dst, 16);
		memset(ph + 32, 0, 8);
		ph[34] = (uint8_t)(plen >> 8);
		ph[35] = (uint8_t)plen;
		ph[39] = (uint8_t)(proto == 1 ? 58 : proto);
		phl = 40;
	} else {
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[8] = 0;
		ph[9] = (uint8_t)proto;
		ph[10] = (uint8_t)(plen >> 8);
		ph[11] = (uint8_t)plen;
		phl = 12;
	}
	size_t co = proto == 6 ? 16 : proto == 17 ? 6 : 2;
	uint32_t sum = (proto == 1 && !f->v6) ? 0 : csum_add(0, ph, phl);
	uint16_t c = (uint16_t)~csum_add(sum, t, plen);
	if (proto == 17 && c == 0)
		c = 0xffff;
	put16(t + co, c);
	return size;
}

static void make_flow(struct flow *f, double v6, double vlan)
{
	memset(f, 0, sizeof(*f));
	f->v6 = rnd01() < v6;
	f->vlan = rnd01() < vlan;
	f->vid = (uint16_t)(1 + rnd() % 4094);
	double p = rnd01();
	f->proto = p < 0.45 ? 6 : p < 0.9 ? 17 : 1;
	f->sport = (uint16_t)(1024 + rnd() % 60000);
	f->dport = (uint16_t)(1 + rnd() % 65535);
	if (f->v6) {
		f->src[0] = f->dst[0] = 0xfd;
		for (int i = 1; i < 16; i++) {
			f->src[i] = (uint8_t)rnd();
			f->dst[i] = (uint8_t)rnd();
		}
	} else {
		uint32_t s = (uint32_t)rnd(), d = (uint32_t)rnd();
		f->src[0] = 10;
		f->dst[0] = 172;
		f->src[1] = (uint8_t)(s >> 16);
		f->src[2] = (uint8_t)(s >> 8);
		f->src[3] = (uint8_t)s;
		f->dst[1] = (uint8_t)(16 + (d >> 24) % 16);
		f->dst[2] = (uint8_t)(d >> 8);
		f->dst[3] = (uint8_t)d;
	}
	for (int i = 0; i < 6; i++) {
		f->smac[i] = (uint8_t)rnd();
		f->dmac[i] = (uint8_t)rnd();
	}
	f->smac[0] = (f->smac[0] & 0xfe) | 0x02; /* locally administered unicast */
	f->dmac[0] = (f->dmac[0] & 0xfe) | 0x02;
}

static int parse_frac(const char *s, double *out, const char *opt)
{
	char *end;
	double v = strtod(s, &end);
	if (*end || v < 0 || v > 1) {
		fprintf(stderr, "sl-gentrace: %s: expected a number in 0..1, got '%s'\n", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_count(const char *s, unsigned long *out, const char *opt, unsigned long min)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v < min) {
		fprintf(stderr, "sl-gentrace: %s: expected an integer >= %lu, got '%s'\n", opt, min,
			s);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_V6 = 256, O_VLAN, O_REV, O_SEED };
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"count", required_argument, NULL, 'n'},
	    {"size", required_argument, NULL, 's'},
	    {"flows", required_argument, NULL, 'f'},
	    {"ipv6", required_argument, NULL, O_V6},
	    {"vlan", required_argument, NULL, O_VLAN},
	    {"reverse", required_argument, NULL, O_REV},
	    {"seed", required_argument, NULL, O_SEED},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	unsigned long count = 1000, flows = 100, size = 64, seed = 1;
	int imix = 0;
	double v6 = 0.25, vlan = 0.1, rev = 0.3;
	int c;

	while ((c = getopt_long(argc, argv, "o:n:s:f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'n':
			if (parse_count(optarg, &count, "--count", 1) < 0)
				return 2;
			break;
		case 's':
			if (!strcmp(optarg, "imix"))
				imix = 1;
			else if (parse_count(optarg, &size, "--size", 60) < 0 || size > 9000) {
				fprintf(stderr, "sl-gentrace: --size: 60 to 9000 or 'imix'\n");
				return 2;
			}
			break;
		case 'f':
			if (parse_count(optarg, &flows, "--flows", 1) < 0)
				return 2;
			break;
		case O_V6:
			if (parse_frac(optarg, &v6, "--ipv6") < 0)
				return 2;
			break;
		case O_VLAN:
			if (parse_frac(optarg, &vlan, "--vlan") < 0)
				return 2;
			break;
		case O_REV:
			if (parse_frac(optarg, &rev, "--reverse") < 0)
				return 2;
			break;
		case O_SEED:
			if (parse_count(optarg, &seed, "--seed", 0) < 0)
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!out || optind < argc) {
		usage(stderr);
		return 2;
	}
	rng_state = seed;
	struct flow *fl = calloc(flows, sizeof(*fl));
	if (!fl) {
		fprintf(stderr, "sl-gentrace: out of memory for %lu flows\n", flows);
		return 1;
	}
	for (unsigned long i = 0; i < flows; i++)
		make_flow(&fl[i], v6, vlan);

	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = p ? pcap_dump_open(p, out) : NULL;
	if (!d) {
		fprintf(stderr, "sl-gentrace: cannot write %s: %s\n", out,
			p ? pcap_geterr(p) : "pcap_open_dead failed");
		return 1;
	}
	static uint8_t buf[9100];
	for (unsigned long i = 0; i < count; i++) {
		const struct flow *f = &fl[rnd() % flows];
		size_t sz = size;
		if (imix) {
			unsigned r = (unsigned)(rnd() % 12);
			sz = r < 7 ? 64 : r < 11 ? 570 : 1518;
		}
		int back = rnd01() < rev;
		struct pcap_pkthdr h;
		h.caplen = h.len = (bpf_u_int32)build(buf, sz, f, back, i);
		h.ts.tv_sec = 1700000000 + (long)(i / 1000000);
		h.ts.tv_usec = (long)(i % 1000000);
		pcap_dump((u_char *)d, &h, buf);
	}
	pcap_dump_close(d);
	pcap_close(p);
	free(fl);
	return 0;
}
