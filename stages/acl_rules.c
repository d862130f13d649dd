/* acl_rules.c: parses the `acl` stage's rule file (format in
 * config/SCHEMA.md, `### acl`). The text is hostile: every line is bounded,
 * every number is range-checked, and the first fault is reported as
 * `file:line: what` so that the operator can go straight to it. */
#include "stages/acl_rules.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N_FIELDS 7

struct ctx {
	const char *name;
	uint32_t line;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct ctx *c, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%u: %s", c->name, c->line, msg);
	return -1;
}

/* Decimal digits only, at most max; false on anything else. */
static bool parse_num(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > max)
			return false;
	}
	*v = x;
	return true;
}

/* `*`, or an IPv4/IPv6 address with an optional /len. Sets *fam to 0 for
 * `*`. Bits beyond the prefix are cleared (10.1.2.3/8 is 10.0.0.0/8), as
 * iptables and nft read such a prefix. */
static int parse_cidr(struct ctx *c, const char *what, const char *tok, uint8_t *fam,
		      uint8_t addr[16], uint8_t *plen)
{
	memset(addr, 0, 16);
	if (!strcmp(tok, "*")) {
		*fam = 0;
		*plen = 0;
		return 0;
	}
	char a[64];
	const char *slash = strchr(tok, '/');
	size_t al = slash ? (size_t)(slash - tok) : strlen(tok);
	if (al == 0 || al >= sizeof(a))
		return fail(c, "bad %s '%s': not an IPv4 or IPv6 address", what, tok);
	memcpy(a, tok, al);
	a[al] = '\0';
	unsigned max;
	if (strchr(a, ':')) {
		if (inet_pton(AF_INET6, a, addr) != 1)
			return fail(c, "bad %s '%s': not an IPv6 address", what, tok);
		*fam = SL_ACL_FAM_V6;
		max = 128;
	} else {
		if (inet_pton(AF_INET, a, addr) != 1)
			return fail(c, "bad %s '%s': not an IPv4 address", what, tok);
		*fam = SL_ACL_FAM_V4;
		max = 32;
	}
	uint64_t len = max;
	if (slash && !parse_num(slash + 1, max, &len))
		return fail(c, "bad %s '%s': the prefix length must be 0..%u", what, tok, max);
	*plen = (uint8_t)len;
	for (unsigned b = (unsigned)len; b < max; b++)
		addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
	return 0;
}

/* `*`, `N` or `lo-hi`. */
static int parse_ports(struct ctx *c, const char *what, const char *tok, uint16_t *lo, uint16_t *hi)
{
	if (!strcmp(tok, "*")) {
		*lo = 0;
		*hi = 65535;
		return 0;
	}
	char b[16];
	if (strlen(tok) >= sizeof(b))
		return fail(c, "bad %s '%.20s...': expected lo-hi, N or *", what, tok);
	strcpy(b, tok);
	char *dash = strchr(b, '-');
	uint64_t l, h;
	if (dash)
		*dash = '\0';
	if (!parse_num(b, 65535, &l) || (dash && !parse_num(dash + 1, 65535, &h)))
		return fail(c, "bad %s '%s': expected lo-hi, N or * with ports 0..65535", what,
			    tok);
	if (!dash)
		h = l;
	if (l > h)
		return fail(c, "bad %s '%s': the range's low end is above its high end", what, tok);
	*lo = (uint16_t)l;
	*hi = (uint16_t)h;
	return 0;
}

static int parse_proto(struct ctx *c, const char *tok, int16_t *proto)
{
	uint64_t v;
	if (!strcmp(tok, "*") || !strcasecmp(tok, "any"))
		*proto = SL_ACL_PROTO_ANY;
	else if (!strcasecmp(tok, "tcp"))
		*proto = 6;
	else if (!strcasecmp(tok, "udp"))
		*proto = 17;
	else if (!strcasecmp(tok, "icmp"))
		*proto = SL_ACL_PROTO_ICMP_FAMILY;
	else if (parse_num(tok, 255, &v))
		*proto = (int16_t)v;
	else
		return fail(c, "bad protocol '%s': expected tcp, udp, icmp, any, * or 0..255", tok);
	return 0;
}

static int parse_action(struct ctx *c, const char *tok, char *const *ports, unsigned n_ports,
			uint16_t *action)
{
	if (!strcmp(tok, "drop")) {
		*action = SL_ACL_ACTION_DROP;
		return 0;
	}
	for (unsigned i = 0; i < n_ports; i++)
		if (!strcmp(tok, ports[i])) {
			*action = (uint16_t)i;
			return 0;
		}
	char list[256] = "drop";
	for (unsigned i = 0; i < n_ports; i++) {
		strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, ports[i], sizeof(list) - strlen(list) - 1);
	}
	return fail(c, "unknown action '%s' (expected one of: %s)", tok, list);
}

static int parse_line(struct ctx *c, char *tok[N_FIELDS], char *const *ports, unsigned n_ports,
		      struct sl_acl_rule *r)
{
	uint64_t prio;
	uint8_t sf, df;
	memset(r, 0, sizeof(*r));
	r->line = c->line;
	if (!parse_num(tok[0], UINT32_MAX, &prio))
		return fail(c, "bad priority '%s': expected 0..4294967295", tok[0]);
	r->prio = (uint32_t)prio;
	if (parse_cidr(c, "source", tok[1], &sf, r->src, &r->src_len) < 0 ||
	    parse_cidr(c, "destination", tok[2], &df, r->dst, &r->dst_len) < 0)
		return -1;
	if (sf && df && sf != df)
		return fail(c,
			    "source '%s' and destination '%s' are of different address "
			    "families (a rule is IPv4 or IPv6)",
			    tok[1], tok[2]);
	r->fam = (uint8_t)(sf | df);
	if (!r->fam)
		r->fam = SL_ACL_FAM_V4 | SL_ACL_FAM_V6;
	if (parse_ports(c, "source ports", tok[3], &r->sport_lo, &r->sport_hi) < 0 ||
	    parse_ports(c, "destination ports", tok[4], &r->dport_lo, &r->dport_hi) < 0 ||
	    parse_proto(c, tok[5], &r->proto) < 0 ||
	    parse_action(c, tok[6], ports, n_ports, &r->action) < 0)
		return -1;
	return 0;
}

int sl_acl_rules_parse(const char *text, size_t len, const char *name, char *const *ports,
		       unsigned n_ports, unsigned max_rules, struct sl_acl_rule **out, char *err,
		       size_t errlen)
{
	struct ctx c = {.name = name, .line = 0, .err = err, .errlen = errlen};
	struct sl_acl_rule *rules = NULL;
	unsigned n = 0, cap = 0;
	size_t pos = 0;
	char buf[SL_ACL_LINE_MAX + 1];

	while (pos < len) {
		c.line++;
		const char *start = text + pos;
		const char *eol = memchr(start, '\n', len - pos);
		size_t ll = eol ? (size_t)(eol - start) : len - pos;
		pos += ll + (eol ? 1 : 0);
		if (ll > SL_ACL_LINE_MAX) {
			fail(&c, "line longer than %u bytes", SL_ACL_LINE_MAX);
			goto bad;
		}
		if (ll && start[ll - 1] == '\r') /* CRLF files */
			ll--;
		for (size_t i = 0; i < ll; i++) {
			unsigned char ch = (unsigned char)start[i];
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				fail(&c, "control character 0x%02x in column %zu", ch, i + 1);
				goto bad;
			}
		}
		memcpy(buf, start, ll);
		buf[ll] = '\0';
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char *tok[N_FIELDS + 1], *save = NULL;
		int nt = 0;
		for (char *t = strtok_r(buf, " \t", &save); t && nt <= N_FIELDS;
		     t = strtok_r(NULL, " \t", &save))
			tok[nt++] = t;
		if (nt == 0)
			continue;
		if (nt != N_FIELDS) {
			fail(&c,
			     "expected %d fields (priority src_cidr dst_cidr sport_lo-sport_hi "
			     "dport_lo-dport_hi proto action), found %s%d",
			     N_FIELDS, nt > N_FIELDS ? "more than " : "",
			     nt > N_FIELDS ? N_FIELDS : nt);
			goto bad;
		}
		if (n == max_rules) {
			fail(&c, "more than max_rules (%u) rules", max_rules);
			goto bad;
		}
		if (n == cap) {
			unsigned nc = cap ? cap * 2 : 256;
			if (nc > max_rules)
				nc = max_rules;
			struct sl_acl_rule *nr = realloc(rules, (size_t)nc * sizeof(*rules));
			if (!nr) {
				fail(&c, "out of memory");
				goto bad;
			}
			rules = nr;
			cap = nc;
		}
		if (parse_line(&c, tok, ports, n_ports, &rules[n]) < 0)
			goto bad;
		n++;
	}
	if (n == 0) {
		c.line = c.line ? c.line : 1;
		fail(&c, "no rules in the file (it is empty or holds only comments)");
		goto bad;
	}
	*out = rules;
	return (int)n;
bad:
	free(rules);
	return -1;
}
