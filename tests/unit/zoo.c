/* zoo.c: builds and drives the stage zoo (see zoo.h). */
#include "tests/unit/zoo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include "tests/unit/harness.h"

/* How each stage type is configured in the zoo: @DIR@ becomes the scratch
 * directory. Configure each the way that exercises the most of its code. */
static const struct zoo_conf {
	const char *type;
	const char *yaml;
	uint16_t n_outputs;	 /* 0: the type's (or its configured) count */
	const char *file, *text; /* a file the stage reads: written into DIR first */
} zoo_confs[] = {
    {"parse", "{type: parse}", 0},
    {"pass", "{type: pass}", 0},
    {"drop", "{type: drop}", 0},
    {"balance", "{type: balance}", 3},
    {"capture", "{type: capture, file: @DIR@/zoo.pcapng, snaplen: 100, queue: 64}", 0},
    {"dedup", "{type: dedup, window_us: 1000000, entries: 256}", 0},
    {"reorder", "{type: reorder, size: 64, timeout_us: 1}", 0},
    {"rewrite",
     "{type: rewrite, ops: [swap_macs, 'push_vlan 5 pcp 1', 'set_dscp 46', dec_ttl, pop_vlan, "
     "'set_src_mac 02:00:00:00:00:01', pop_vlan]}",
     0},
    {"meter", "{type: meter, mode: trtcm, cir: 1000, cbs: 3000, pir: 2000, pbs: 4000}", 0},
    {"sample", "{type: sample, probability: 0.5}", 0},
    {"mirror", "{type: mirror}", 0},
    /* Indexed loads, small-constant jsets (both worked round), lengths. */
    {"filter",
     "{type: filter, expr: 'vlan and tcp[tcpflags] & tcp-syn != 0 or ip6 and udp port 53 or "
     "ip[6:2] & 0x1fff != 0 or ether[ether[14] & 0xf] = 2 or greater 100'}",
     0},
    /* The example program (meson builds it); outputs: 3, so ICMP is out of range. */
    {"bpf",
     "{type: bpf, object: '" SLUICE_BUILD_ROOT "/config/examples/steer.bpf.o', section: steer, "
     "outputs: 3}",
     0},
    {"acl", "{type: acl, rules: zoo-acl.txt, outputs: [a, b], default: b, max_rules: 8}", 0,
     "zoo-acl.txt",
     "10 10.0.0.0/8 * * 1024-65535 tcp a\n5 * * * * icmp drop\n1 ::/0 ::/0 * 0-100 any a\n"},
    {"flowstats", "{type: flowstats, max_flows: 64, export: ['ipfix://127.0.0.1:9']}", 0},
    {"window",
     "{type: window, key: src, size_ms: 1, slide_ms: 1, max_keys: 64, "
     "emit: 'json:@DIR@/zoo-window.jsonl'}",
     0},
    {"topk",
     "{type: topk, key: 5tuple, k: 4, size_ms: 1, epsilon: 0.01, emit: "
     "'json:@DIR@/zoo-topk.jsonl'}",
     0},
    /* Its fault point out of reach: the zoo checks what it forwards. */
    {"fault", "{type: fault, kind: abort, after: 1000000000000000}", 0},
};

#define ZOO_MAX 64
static struct sl_harness parse_h;
static struct sl_harness zoo[ZOO_MAX];
static const struct zoo_conf *zoo_of[ZOO_MAX];
static unsigned n_zoo;

static void die(const char *stage, const char *what)
{
	fprintf(stderr, "zoo: stage %s: %s\n", stage, what);
	abort();
}

static char *expand(const char *yaml, const char *dir)
{
	size_t n = strlen(yaml) + 1;
	for (const char *p = yaml; (p = strstr(p, "@DIR@")); p += 5)
		n += strlen(dir);
	char *out = malloc(n), *o = out;
	for (const char *p = yaml; *p;) {
		if (!strncmp(p, "@DIR@", 5)) {
			o += sprintf(o, "%s", dir);
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

void sl_zoo_init(const char *dir)
{
	char err[1024];
	if (sl_h_init(&parse_h, "{type: parse}", dir, 0, err, sizeof(err)) < 0)
		die("parse", err);
	for (const struct sl_stage_type *t = sl_stage_type_first(); t; t = t->next) {
		if (t->needs_port)
			continue;
		const struct zoo_conf *zc = NULL;
		for (size_t i = 0; i < RTE_DIM(zoo_confs) && !zc; i++)
			if (!strcmp(zoo_confs[i].type, t->name))
				zc = &zoo_confs[i];
		if (!zc)
			die(t->name, "has no configuration in the zoo (tests/unit/zoo.c): add one");
		if (n_zoo == ZOO_MAX)
			die(t->name, "zoo full");
		if (zc->file) {
			char p[512];
			snprintf(p, sizeof(p), "%s/%s", dir, zc->file);
			FILE *f = fopen(p, "w");
			if (!f || fputs(zc->text, f) < 0 || fclose(f) != 0)
				die(t->name, "cannot write its file");
		}
		char *yaml = expand(zc->yaml, dir);
		if (sl_h_init(&zoo[n_zoo], yaml, dir, zc->n_outputs, err, sizeof(err)) < 0)
			die(t->name, err);
		free(yaml);
		zoo_of[n_zoo++] = zc;
	}
}

unsigned sl_zoo_count(void)
{
	return n_zoo;
}

const char *sl_zoo_name(unsigned i)
{
	return zoo_of[i]->type;
}

static uint64_t total(const uint64_t *v, unsigned n)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < n; i++)
		s += v[i];
	return s;
}

void sl_zoo_feed(unsigned i, const uint8_t *frame, uint16_t len, uint16_t cut)
{
	struct sl_harness *h = &zoo[i];
	const char *name = zoo_of[i]->type;
	unsigned base = rte_mempool_in_use_count(sl_h_pool);
	struct rte_mbuf *pkts[2] = {sl_h_mbuf(frame, len), sl_h_chain(frame, len, cut)};

	sl_h_run(&parse_h, pkts, 2);
	if (parse_h.cnt.pkts_in !=
	    parse_h.cnt.out[0] + total(parse_h.cnt.drops, SL_STAGE_MAX_DROPS))
		die("parse", "in != out + drops");
	/* What parse passed goes on, as it would in a graph. */
	uint64_t in0 = h->cnt.pkts_in;
	uint64_t out0 = total(h->cnt.out, SL_STAGE_MAX_OUTPUTS);
	uint64_t drop0 = total(h->cnt.drops, SL_STAGE_MAX_DROPS);
	sl_h_run(h, parse_h.got[0], parse_h.n_got[0]);
	parse_h.n_got[0] = 0;
	/* A stage that holds packets (reorder) lets them go on its tick once
	 * they have waited its timeout. */
	for (int k = 0; h->st.type->tick && k < 1000; k++) {
		uint64_t o = total(h->cnt.out, SL_STAGE_MAX_OUTPUTS) +
			     total(h->cnt.drops, SL_STAGE_MAX_DROPS);
		if (o == h->cnt.pkts_in)
			break;
		rte_delay_us_block(2);
		h->st.type->tick(&h->st);
	}
	uint64_t in = h->cnt.pkts_in - in0;
	uint64_t out = total(h->cnt.out, SL_STAGE_MAX_OUTPUTS) - out0;
	uint64_t drops = total(h->cnt.drops, SL_STAGE_MAX_DROPS) - drop0;
	unsigned copies = strcmp(h->st.type->name, "mirror") ? 1 : 2;
	if (in * copies != out + drops) {
		char msg[128];
		snprintf(msg, sizeof(msg), "in %llu x %u != out %llu + drops %llu",
			 (unsigned long long)in, copies, (unsigned long long)out,
			 (unsigned long long)drops);
		die(name, msg);
	}
	unsigned kept = 0;
	for (unsigned k = 0; k < SL_STAGE_MAX_OUTPUTS; k++)
		kept += h->n_got[k];
	if (kept != out)
		die(name, "its outputs did not receive what it counted");
	sl_h_clear(h);
	if (rte_mempool_in_use_count(sl_h_pool) != base)
		die(name, "mbufs not returned to the pool (leaked or freed twice)");
}

void sl_zoo_fini(void)
{
	for (unsigned i = 0; i < n_zoo; i++)
		sl_h_fini(&zoo[i]);
	sl_h_fini(&parse_h);
	n_zoo = 0;
}
