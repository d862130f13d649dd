/* acl.c: the `acl` stage sends each packet where the highest-priority rule
 * of a 5-tuple rule list that matches it says (an output port, or drop),
 * and packets no rule matches where `default` says. Rules are read from a
 * file (stages/acl_rules.c) and compiled in init into one rte_acl context
 * per address family; process builds a compact key per packet from the
 * headers `parse` found and classifies the whole burst at once. Every rule
 * has a hit counter in the stats segment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf_ptype.h>

#include "stages/acl_rules.h"
#include "stages/stage.h"

enum { ACL_DENIED = 1, ACL_NO_MATCH, ACL_NOT_IP };
static const char *const acl_drops[] = {"denied", "no_match", "not_ip"};
static const char *const acl_outputs[] = {"out"};

/* The cap (SL_ACL_RULES_CAP) is what rte_acl_build can take from a hostile
 * file: 10,000 rules of arbitrary port ranges build in seconds with about
 * 2 GB of transient memory, and 16,384 such rules are refused for want of
 * table memory within seconds; 65,536 of them ran for minutes and took
 * over 16 GB before the build gave up, none of which max_size bounds. */
#define ACL_MAX_RULES_DEF SL_ACL_RULES_CAP
/* rte_acl's run-time tables for one family at most; a rule set that needs
 * more is refused rather than allowed to exhaust hugepage memory. */
#define ACL_MAX_MEM ((size_t)1 << 30)

struct acl_conf {
	char *rules;
	struct sl_strlist outputs;
	char *def;
	uint64_t max_rules;
};

static const struct sl_param acl_params[] = {
    {.name = "rules",
     .kind = SL_PARAM_FILE,
     .offset = offsetof(struct acl_conf, rules),
     .required = true,
     .help = "rule file, one `priority src dst sports dports proto action` per line"},
    {.name = "outputs",
     .kind = SL_PARAM_STRLIST,
     .offset = offsetof(struct acl_conf, outputs),
     .help = "output port names rules may send to (default: [out])"},
    {.name = "default",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct acl_conf, def),
     .help = "where packets no rule matches go: drop (default) or an output port"},
    {.name = "max_rules",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct acl_conf, max_rules),
     .min = 1,
     .max = SL_ACL_RULES_CAP,
     .def = ACL_MAX_RULES_DEF,
     .help = "rules the file may hold (and hit counters kept)"},
};

/* The keys classified: network byte order, laid out as rte_acl wants (a
 * one-byte first field, then groups of four bytes). */
struct acl_key4 {
	uint8_t proto, pad[3];
	uint32_t src, dst;
	uint16_t sport, dport;
};

struct acl_key6 {
	uint8_t proto, pad[3];
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

enum { F4_PROTO, F4_SRC, F4_DST, F4_SPORT, F4_DPORT, F4_N };
enum { F6_PROTO, F6_SRC0, F6_DST0 = F6_SRC0 + 4, F6_SPORT = F6_DST0 + 4, F6_DPORT, F6_N };

RTE_ACL_RULE_DEF(acl_rule4, F4_N);
RTE_ACL_RULE_DEF(acl_rule6, F6_N);

struct acl_state {
	struct rte_acl_ctx *ctx4, *ctx6; /* NULL: no rule of that family */
	uint16_t *next;			 /* per rule: output port or SL_DROP(ACL_DENIED) */
	uint32_t n_rules;
	uint32_t def_aux; /* index of the `default` counter */
	uint16_t def_next;
	uint16_t i4[SL_BURST_MAX], i6[SL_BURST_MAX]; /* burst index of each key */
	uint32_t r4[SL_BURST_MAX], r6[SL_BURST_MAX];
	const uint8_t *d4[SL_BURST_MAX], *d6[SL_BURST_MAX];
	struct acl_key4 k4[SL_BURST_MAX];
	struct acl_key6 k6[SL_BURST_MAX];
};

/* ---- configuration ------------------------------------------------------ */

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= SL_LABEL_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int acl_check(const void *conf, struct sl_check *chk)
{
	const struct acl_conf *c = conf;
	const struct sl_strlist *o = &c->outputs;

	if (o->v && o->n == 0) {
		chk->param = "outputs";
		snprintf(chk->msg, sizeof(chk->msg), "needs at least one port name");
		return -1;
	}
	if (o->n > SL_STAGE_MAX_OUTPUTS) {
		chk->param = "outputs";
		snprintf(chk->msg, sizeof(chk->msg), "%u ports; at most %d", o->n,
			 SL_STAGE_MAX_OUTPUTS);
		return -1;
	}
	for (unsigned i = 0; i < o->n; i++) {
		chk->param = "outputs";
		chk->item = (int)i;
		if (!name_ok(o->v[i])) {
			snprintf(chk->msg, sizeof(chk->msg),
				 "'%.64s' is not a port name (a letter or _ first, then letters, "
				 "digits, _ or -, at most %d)",
				 o->v[i], SL_LABEL_MAX - 1);
			return -1;
		}
		if (!strcmp(o->v[i], "drop")) {
			snprintf(chk->msg, sizeof(chk->msg),
				 "'drop' is the rules' drop action, not a port name");
			return -1;
		}
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(o->v[i], o->v[j])) {
				snprintf(chk->msg, sizeof(chk->msg), "'%s' is listed twice",
					 o->v[i]);
				return -1;
			}
	}
	chk->item = -1;
	if (c->def && strcmp(c->def, "drop")) {
		bool found = false;
		if (o->n == 0)
			found = !strcmp(c->def, acl_outputs[0]);
		for (unsigned i = 0; i < o->n; i++)
			found |= !strcmp(c->def, o->v[i]);
		if (!found) {
			chk->param = "default";
			snprintf(chk->msg, sizeof(chk->msg),
				 "'%.64s' is neither drop nor one of the stage's outputs", c->def);
			return -1;
		}
	}
	return 0;
}

static unsigned acl_conf_outputs(const void *conf, char (*names)[SL_LABEL_MAX], unsigned max)
{
	const struct acl_conf *c = conf;
	unsigned n = 0;
	if (c->outputs.n == 0) {
		snprintf(names[0], SL_LABEL_MAX, "%s", acl_outputs[0]);
		return 1;
	}
	for (; n < c->outputs.n && n < max; n++)
		snprintf(names[n], SL_LABEL_MAX, "%s", c->outputs.v[n]);
	return n;
}

/* One counter per rule slot, then `default`. */
static unsigned acl_n_aux(const void *conf)
{
	const struct acl_conf *c = conf;
	return (unsigned)c->max_rules + 1;
}

/* ---- init: read the file, compile the contexts -------------------------- */

/* The whole rule file, at most SL_ACL_FILE_MAX bytes (a regular file, so
 * reading it never waits on a writer). */
static char *read_rules(const struct sl_stage_env *env, const char *path, size_t *len, char *err,
			size_t errlen)
{
	char msg[400];
	int fd = env->open_file(env, path, false, msg, sizeof(msg));
	if (fd < 0) {
		snprintf(err, errlen, "rules: %s", msg);
		return NULL;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "rules: '%s' is not a regular file", path);
		close(fd);
		return NULL;
	}
	size_t cap = (size_t)sb.st_size + 1, n = 0;
	if (cap > SL_ACL_FILE_MAX + 1)
		cap = SL_ACL_FILE_MAX + 1;
	char *buf = malloc(cap);
	while (buf) {
		if (n == cap) { /* the file grew since fstat */
			if (cap == SL_ACL_FILE_MAX + 1)
				break;
			size_t nc = cap * 2 > SL_ACL_FILE_MAX + 1 ? SL_ACL_FILE_MAX + 1 : cap * 2;
			char *nb = realloc(buf, nc);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap = nc;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "rules: reading '%s': %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!buf) {
		snprintf(err, errlen, "rules: out of memory reading '%s'", path);
		return NULL;
	}
	if (n > SL_ACL_FILE_MAX) {
		snprintf(err, errlen, "rules: '%s' is larger than %u bytes", path, SL_ACL_FILE_MAX);
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static void field_defs4(struct rte_acl_config *cfg)
{
	const struct rte_acl_field_def d[F4_N] = {
	    {RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_PROTO, 0, offsetof(struct acl_key4, proto)},
	    {RTE_ACL_FIELD_TYPE_MASK, 4, F4_SRC, 1, offsetof(struct acl_key4, src)},
	    {RTE_ACL_FIELD_TYPE_MASK, 4, F4_DST, 2, offsetof(struct acl_key4, dst)},
	    {RTE_ACL_FIELD_TYPE_RANGE, 2, F4_SPORT, 3, offsetof(struct acl_key4, sport)},
	    {RTE_ACL_FIELD_TYPE_RANGE, 2, F4_DPORT, 3, offsetof(struct acl_key4, dport)},
	};
	memcpy(cfg->defs, d, sizeof(d));
	cfg->num_fields = F4_N;
}

static void field_defs6(struct rte_acl_config *cfg)
{
	struct rte_acl_field_def *d = cfg->defs;
	d[0] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_BITMASK, 1, F6_PROTO, 0,
					  offsetof(struct acl_key6, proto)};
	for (uint8_t k = 0; k < 4; k++) {
		d[F6_SRC0 + k] = (struct rte_acl_field_def){
		    RTE_ACL_FIELD_TYPE_MASK, 4, (uint8_t)(F6_SRC0 + k), (uint8_t)(1 + k),
		    (uint32_t)(offsetof(struct acl_key6, src) + 4u * k)};
		d[F6_DST0 + k] = (struct rte_acl_field_def){
		    RTE_ACL_FIELD_TYPE_MASK, 4, (uint8_t)(F6_DST0 + k), (uint8_t)(5 + k),
		    (uint32_t)(offsetof(struct acl_key6, dst) + 4u * k)};
	}
	d[F6_SPORT] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_RANGE, 2, F6_SPORT, 9,
						 offsetof(struct acl_key6, sport)};
	d[F6_DPORT] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_RANGE, 2, F6_DPORT, 9,
						 offsetof(struct acl_key6, dport)};
	cfg->num_fields = F6_N;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The fields shared by both families: ports, protocol (`icmp` is the
 * family's own ICMP) and the rule data. */
static void common_fields(const struct sl_acl_rule *r, uint8_t icmp, struct rte_acl_field *proto,
			  struct rte_acl_field *sport, struct rte_acl_field *dport)
{
	if (r->proto == SL_ACL_PROTO_ANY) {
		proto->value.u8 = 0;
		proto->mask_range.u8 = 0;
	} else {
		proto->value.u8 = r->proto == SL_ACL_PROTO_ICMP_FAMILY ? icmp : (uint8_t)r->proto;
		proto->mask_range.u8 = 0xff;
	}
	sport->value.u16 = r->sport_lo;
	sport->mask_range.u16 = r->sport_hi;
	dport->value.u16 = r->dport_lo;
	dport->mask_range.u16 = r->dport_hi;
}

static void rule4(const struct sl_acl_rule *r, struct acl_rule4 *a)
{
	a->field[F4_SRC].value.u32 = be32(r->src);
	a->field[F4_SRC].mask_range.u32 = r->src_len;
	a->field[F4_DST].value.u32 = be32(r->dst);
	a->field[F4_DST].mask_range.u32 = r->dst_len;
	common_fields(r, 1, &a->field[F4_PROTO], &a->field[F4_SPORT], &a->field[F4_DPORT]);
}

static uint32_t part_len(unsigned plen, unsigned k)
{
	return plen <= 32 * k ? 0 : plen - 32 * k >= 32 ? 32 : plen - 32 * k;
}

static void rule6(const struct sl_acl_rule *r, struct acl_rule6 *a)
{
	for (unsigned k = 0; k < 4; k++) {
		a->field[F6_SRC0 + k].value.u32 = be32(r->src + 4 * k);
		a->field[F6_SRC0 + k].mask_range.u32 = part_len(r->src_len, k);
		a->field[F6_DST0 + k].value.u32 = be32(r->dst + 4 * k);
		a->field[F6_DST0 + k].mask_range.u32 = part_len(r->dst_len, k);
	}
	common_fields(r, 58, &a->field[F6_PROTO], &a->field[F6_SPORT], &a->field[F6_DPORT]);
}

static uint32_t acl_seq; /* rte_acl context names are process-wide */

/* Compile the rules of one family into a context; *ctx stays NULL when the
 * family has none. rank[i] is rule i's place in the priority order. */
static int build_family(const char *path, int socket, bool v6, const struct sl_acl_rule *rules,
			unsigned n, const uint32_t *rank, struct rte_acl_ctx **ctx, char *err,
			size_t errlen)
{
	uint8_t fam = v6 ? SL_ACL_FAM_V6 : SL_ACL_FAM_V4;
	unsigned nf = 0;
	for (unsigned i = 0; i < n; i++)
		nf += (rules[i].fam & fam) != 0;
	*ctx = NULL;
	if (nf == 0)
		return 0;
	size_t rsz = v6 ? sizeof(struct acl_rule6) : sizeof(struct acl_rule4);
	char name[RTE_ACL_NAMESIZE];
	snprintf(name, sizeof(name), "sl_acl%c_%u", v6 ? '6' : '4',
		 __atomic_fetch_add(&acl_seq, 1, __ATOMIC_RELAXED));
	struct rte_acl_param prm = {.name = name,
				    .socket_id = socket,
				    .rule_size = (uint32_t)RTE_ACL_RULE_SZ(v6 ? F6_N : F4_N),
				    .max_rule_num = nf};
	uint8_t *buf = calloc(nf, rsz);
	struct rte_acl_ctx *c = buf ? rte_acl_create(&prm) : NULL;
	if (!c) {
		snprintf(err, errlen, "cannot create the IPv%c ACL context: %s", v6 ? '6' : '4',
			 buf ? rte_strerror(rte_errno) : "out of memory");
		free(buf);
		return -1;
	}
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!(rules[i].fam & fam))
			continue;
		struct rte_acl_rule *a = (struct rte_acl_rule *)(void *)(buf + rsz * k++);
		a->data.category_mask = 1;
		a->data.priority = (int32_t)(rank[i] + RTE_ACL_MIN_PRIORITY);
		a->data.userdata = i + 1; /* 0 is rte_acl's "no match" */
		if (v6)
			rule6(&rules[i], (struct acl_rule6 *)(void *)a);
		else
			rule4(&rules[i], (struct acl_rule4 *)(void *)a);
	}
	struct rte_acl_config cfg = {.num_categories = 1, .max_size = ACL_MAX_MEM};
	if (v6)
		field_defs6(&cfg);
	else
		field_defs4(&cfg);
	int rc = rte_acl_add_rules(c, (const struct rte_acl_rule *)(void *)buf, nf);
	free(buf);
	if (rc == 0)
		rc = rte_acl_build(c, &cfg);
	if (rc != 0) {
		snprintf(err, errlen, "cannot compile the %u IPv%c rules of '%s': %s", nf,
			 v6 ? '6' : '4', path, strerror(-rc));
		rte_acl_free(c);
		return -1;
	}
	*ctx = c;
	return 0;
}

/* Ascending priority order: by priority, then later lines lower, so that
 * the earlier of two equal-priority rules ranks higher. */
static int by_rank(const void *a, const void *b, void *rules)
{
	const struct sl_acl_rule *x = (const struct sl_acl_rule *)rules + *(const uint32_t *)a;
	const struct sl_acl_rule *y = (const struct sl_acl_rule *)rules + *(const uint32_t *)b;
	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->line > y->line ? -1 : x->line < y->line;
}

static void acl_fini(struct sl_stage *st);

static int acl_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t errlen)
{
	const struct acl_conf *c = st->conf;
	struct acl_state *s = st->state;
	char onames[SL_STAGE_MAX_OUTPUTS][SL_LABEL_MAX];
	char *ports[SL_STAGE_MAX_OUTPUTS];
	unsigned n_ports = acl_conf_outputs(c, onames, SL_STAGE_MAX_OUTPUTS);
	for (unsigned i = 0; i < n_ports; i++)
		ports[i] = onames[i];

	if (sl_parsed_flag_register(err, errlen) < 0)
		return -1;
	size_t len = 0;
	char *text = read_rules(env, c->rules, &len, err, errlen);
	if (!text)
		return -1;
	struct sl_acl_rule *rules = NULL;
	int n = sl_acl_rules_parse(text, len, c->rules, ports, n_ports, (unsigned)c->max_rules,
				   &rules, err, errlen);
	free(text);
	if (n < 0)
		return -1;

	uint32_t *order = malloc((size_t)n * sizeof(*order));
	uint32_t *rank = malloc((size_t)n * sizeof(*rank));
	s->next = rte_zmalloc_socket("acl_next", (size_t)n * sizeof(*s->next), 64, env->socket);
	int rc = -1;
	if (!order || !rank || !s->next) {
		snprintf(err, errlen, "out of memory for %d rules", n);
		goto out;
	}
	/* Distinct rte_acl priorities, so that rte_acl's own choice between
	 * equal priorities never decides. */
	for (int i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, (size_t)n, sizeof(*order), by_rank, rules);
	for (int i = 0; i < n; i++)
		rank[order[i]] = (uint32_t)i;

	s->n_rules = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		s->next[i] =
		    rules[i].action == SL_ACL_ACTION_DROP ? SL_DROP(ACL_DENIED) : rules[i].action;
		if (env->aux_names)
			snprintf(env->aux_names[i], SL_LABEL_MAX, "line %u", rules[i].line);
	}
	s->def_aux = (uint32_t)c->max_rules;
	if (env->aux_names)
		snprintf(env->aux_names[s->def_aux], SL_LABEL_MAX, "default");
	s->def_next = SL_DROP(ACL_NO_MATCH);
	if (c->def && strcmp(c->def, "drop"))
		for (unsigned i = 0; i < n_ports; i++)
			if (!strcmp(c->def, ports[i]))
				s->def_next = (uint16_t)i;
	for (unsigned i = 0; i < SL_BURST_MAX; i++) {
		s->d4[i] = (const uint8_t *)&s->k4[i];
		s->d6[i] = (const uint8_t *)&s->k6[i];
	}
	if (build_family(c->rules, env->socket, false, rules, (unsigned)n, rank, &s->ctx4, err,
			 errlen) < 0 ||
	    build_family(c->rules, env->socket, true, rules, (unsigned)n, rank, &s->ctx6, err,
			 errlen) < 0)
		goto out;
	rc = 0;
out:
	free(order);
	free(rank);
	free(rules);
	if (rc < 0)
		acl_fini(st);
	return rc;
}

static void acl_fini(struct sl_stage *st)
{
	struct acl_state *s = st->state;
	if (!s)
		return;
	rte_acl_free(s->ctx4);
	rte_acl_free(s->ctx6);
	rte_free(s->next);
	s->ctx4 = s->ctx6 = NULL;
	s->next = NULL;
}

/* ---- the hot path ------------------------------------------------------- */

static inline bool ipv6_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_AH || nh == IPPROTO_FRAGMENT;
}

/* Ports of a TCP or UDP packet `parse` found whole; 0 for anything else,
 * fragments included (a fragment's ports are not in every fragment, so no
 * fragment has any: all fragments of a datagram get one verdict). */
static inline bool key_ports(const struct rte_mbuf *m, uint32_t off, uint16_t *sport,
			     uint16_t *dport)
{
	uint32_t l4 = m->packet_type & RTE_PTYPE_L4_MASK;
	uint8_t buf[4];
	*sport = *dport = 0;
	if (l4 != RTE_PTYPE_L4_TCP && l4 != RTE_PTYPE_L4_UDP)
		return true;
	const uint8_t *p = rte_pktmbuf_read(m, off, 4, buf);
	if (!p)
		return false;
	memcpy(sport, p, 2);
	memcpy(dport, p + 2, 2);
	return true;
}

static inline bool key4(const struct rte_mbuf *m, struct acl_key4 *k)
{
	uint8_t buf[20];
	const uint8_t *ip = rte_pktmbuf_read(m, m->l2_len, 20, buf);
	if (!ip)
		return false;
	k->proto = ip[9];
	memcpy(&k->src, ip + 12, 4);
	memcpy(&k->dst, ip + 16, 4);
	return key_ports(m, (uint32_t)m->l2_len + (ip[0] & 0xfu) * 4u, &k->sport, &k->dport);
}

/* The upper-layer protocol is the last next-header of the extension chain;
 * the chain is walked again here rather than taken from l3_len, which is 9
 * bits wide and cannot hold every chain `parse` accepts. */
static inline bool key6(const struct rte_mbuf *m, struct acl_key6 *k)
{
	uint8_t buf[40];
	const uint8_t *ip = rte_pktmbuf_read(m, m->l2_len, 40, buf);
	if (!ip)
		return false;
	memcpy(k->src, ip + 8, 16);
	memcpy(k->dst, ip + 24, 16);
	uint8_t nh = ip[6];
	uint32_t off = (uint32_t)m->l2_len + 40;
	for (int i = 0; i < 8 && ipv6_ext(nh); i++) {
		uint8_t xb[2];
		const uint8_t *x = rte_pktmbuf_read(m, off, 2, xb);
		if (!x)
			return false;
		off += nh == IPPROTO_AH		? ((uint32_t)x[1] + 2) * 4
		       : nh == IPPROTO_FRAGMENT ? 8
						: ((uint32_t)x[1] + 1) * 8;
		nh = x[0];
	}
	k->proto = nh;
	return key_ports(m, off, &k->sport, &k->dport);
}

static void acl_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct acl_state *s = st->state;
	uint16_t next[SL_BURST_MAX];
	uint16_t n4 = 0, n6 = 0;
	uint64_t parsed = sl_parsed_flag;

	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];
		uint32_t l3 = m->packet_type & RTE_PTYPE_L3_MASK;
		next[i] = SL_DROP(ACL_NOT_IP);
		if (!parsed || !(m->ol_flags & parsed))
			continue;
		if (RTE_ETH_IS_IPV4_HDR(l3)) {
			if (key4(m, &s->k4[n4]))
				s->i4[n4++] = i;
		} else if (RTE_ETH_IS_IPV6_HDR(l3)) {
			if (key6(m, &s->k6[n6]))
				s->i6[n6++] = i;
		}
	}
	if (n4) {
		if (s->ctx4)
			rte_acl_classify(s->ctx4, s->d4, s->r4, n4, 1);
		else
			memset(s->r4, 0, n4 * sizeof(s->r4[0]));
	}
	if (n6) {
		if (s->ctx6)
			rte_acl_classify(s->ctx6, s->d6, s->r6, n6, 1);
		else
			memset(s->r6, 0, n6 * sizeof(s->r6[0]));
	}
	for (uint16_t j = 0; j < n4; j++) {
		uint32_t u = s->r4[j];
		if (u && u <= s->n_rules) {
			st->aux[u - 1]++;
			next[s->i4[j]] = s->next[u - 1];
		} else {
			st->aux[s->def_aux]++;
			next[s->i4[j]] = s->def_next;
		}
	}
	for (uint16_t j = 0; j < n6; j++) {
		uint32_t u = s->r6[j];
		if (u && u <= s->n_rules) {
			st->aux[u - 1]++;
			next[s->i6[j]] = s->next[u - 1];
		} else {
			st->aux[s->def_aux]++;
			next[s->i6[j]] = s->def_next;
		}
	}
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type acl_stage = {
    .name = "acl",
    .help = "classify packets by a 5-tuple rule list (rte_acl); per-rule hit counters",
    .outputs = acl_outputs,
    .n_outputs = 1,
    .drops = acl_drops,
    .n_drops = RTE_DIM(acl_drops),
    .params = acl_params,
    .n_params = RTE_DIM(acl_params),
    .conf_size = sizeof(struct acl_conf),
    .state_size = sizeof(struct acl_state),
    .check = acl_check,
    .conf_outputs = acl_conf_outputs,
    .n_aux = acl_n_aux,
    .init = acl_init,
    .fini = acl_fini,
    .process = acl_process,
};

SL_STAGE_REGISTER(acl_stage)
