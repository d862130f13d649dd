/* config.c: loads a sluice YAML config into struct sl_config and validates
 * every layer (ports, graph, clusters, mapping, dataplane) before anything
 * starts. The first error wins and names file:line:col. */
#include "config/config.h"
#include "drivers/auto.h"
#include "drivers/port.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cpus.h"
#include "config/devargs.h"
#include "config/yaml_tree.h"
#include "stages/plugin.h"

/* ---- small helpers ------------------------------------------------------ */

struct loader {
	struct sl_config *c;
	struct sl_err *err;
	const struct sl_config_policy *policy; /* NULL: trusted */
	const struct sl_ynode *root;
};

static int expect_kind(struct loader *L, const struct sl_ynode *n, enum sl_ynode_kind k,
		       const char *what)
{
	if (n->kind == k)
		return 0;
	return sl_errf(L->err, &n->loc, "%s must be %s, not %s", what, sl_yaml_kind_name(k),
		       sl_yaml_kind_name(n->kind));
}

/* Reject keys of map n not in the NULL-terminated list allowed. */
static int check_keys(struct loader *L, const struct sl_ynode *n, const char *const *allowed,
		      const char *where)
{
	for (size_t i = 0; i < n->n; i++) {
		const char *k = n->keys[i]->str;
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, k) == 0;
		if (!ok) {
			char list[256] = "";
			for (const char *const *a = allowed; *a; a++) {
				strncat(list, *a, sizeof(list) - strlen(list) - 3);
				if (a[1])
					strncat(list, ", ", sizeof(list) - strlen(list) - 1);
			}
			return sl_errf(L->err, &n->keys[i]->loc,
				       "unknown key '%s' in %s (expected one of: %s)", k, where,
				       list);
		}
	}
	return 0;
}

static bool valid_name(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static int check_name(struct loader *L, const struct sl_ynode *key, const char *what)
{
	if (strlen(key->str) >= SL_NAME_MAX - 4)
		return sl_errf(L->err, &key->loc, "%s name '%s' is longer than %d characters", what,
			       key->str, SL_NAME_MAX - 5);
	if (!valid_name(key->str))
		return sl_errf(L->err, &key->loc,
			       "%s name '%s' must start with a letter or '_' and hold only "
			       "letters, digits, '_' and '-'",
			       what, key->str);
	return 0;
}

/* Integers are YAML 1.2 decimal: digits only, so 010 is ten. Hex, octal,
 * signs, quoted or block scalars are refused rather than guessed at. */
static int parse_uint(struct loader *L, const struct sl_ynode *n, const char *key, uint64_t min,
		      uint64_t max, uint64_t *out)
{
	if (n->kind != SL_Y_SCALAR)
		return sl_errf(L->err, &n->loc, "'%s' must be an integer, not %s", key,
			       sl_yaml_kind_name(n->kind));
	if (n->quoted || n->block)
		return sl_errf(L->err, &n->loc, "'%s' must be an integer, not a quoted string",
			       key);
	const char *s = n->str;
	uint64_t v = 0;
	bool big = false;
	if (!*s)
		return sl_errf(L->err, &n->loc, "'%s' must be an integer, got nothing", key);
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return sl_errf(L->err, &n->loc,
				       "'%s' must be a decimal integer, got '%.40s'", key, n->str);
		if (v > (UINT64_MAX - 9) / 10)
			big = true;
		else
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (big || v < min || v > max)
		return sl_errf(L->err, &n->loc, "'%s' is %.40s, expected %llu to %llu", key, n->str,
			       (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

static int parse_bool(struct loader *L, const struct sl_ynode *n, const char *key, bool *out)
{
	if (n->kind == SL_Y_SCALAR) {
		if (!strcmp(n->str, "true") || !strcmp(n->str, "yes") || !strcmp(n->str, "on")) {
			*out = true;
			return 0;
		}
		if (!strcmp(n->str, "false") || !strcmp(n->str, "no") || !strcmp(n->str, "off")) {
			*out = false;
			return 0;
		}
	}
	return sl_errf(L->err, &n->loc, "'%s' must be true or false", key);
}

static int parse_str(struct loader *L, const struct sl_ynode *n, const char *key, char **out)
{
	if (n->kind != SL_Y_SCALAR)
		return sl_errf(L->err, &n->loc, "'%s' must be a string, not %s", key,
			       sl_yaml_kind_name(n->kind));
	if (!n->str[0])
		return sl_errf(L->err, &n->loc, "'%s' must not be empty", key);
	free(*out);
	*out = strdup(n->str);
	return *out ? 0 : sl_errf(L->err, &n->loc, "out of memory");
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Index the stage names loaded so far (names are unique: YAML keys). */
static int index_stages(struct sl_config *c)
{
	unsigned size = 16;
	while (size < 2 * c->n_stages)
		size <<= 1;
	c->stage_index = malloc(size * sizeof(int));
	if (!c->stage_index)
		return -1;
	c->stage_index_size = size;
	for (unsigned i = 0; i < size; i++)
		c->stage_index[i] = -1;
	for (unsigned i = 0; i < c->n_stages; i++) {
		uint32_t h = name_hash(c->stages[i].name) & (size - 1);
		while (c->stage_index[h] >= 0)
			h = (h + 1) & (size - 1);
		c->stage_index[h] = (int)i;
	}
	return 0;
}

int sl_config_find_stage(const struct sl_config *c, const char *name)
{
	if (!c->stage_index) {
		for (unsigned i = 0; i < c->n_stages; i++)
			if (!strcmp(c->stages[i].name, name))
				return (int)i;
		return -1;
	}
	uint32_t mask = c->stage_index_size - 1;
	for (uint32_t h = name_hash(name) & mask;; h = (h + 1) & mask) {
		int i = c->stage_index[h];
		if (i < 0 || !strcmp(c->stages[i].name, name))
			return i;
	}
}

bool sl_config_stage_equal(const struct sl_conf_stage *a, const struct sl_conf_stage *b)
{
	if (a->type != b->type || a->instances != b->instances)
		return false;
	for (unsigned i = 0; i < a->type->n_params; i++) {
		const struct sl_param *pr = &a->type->params[i];
		const char *x = (const char *)a->conf + pr->offset;
		const char *y = (const char *)b->conf + pr->offset;
		switch (pr->kind) {
		case SL_PARAM_UINT:
			if (*(const uint64_t *)(const void *)x !=
			    *(const uint64_t *)(const void *)y)
				return false;
			break;
		case SL_PARAM_BOOL:
			if (*(const bool *)x != *(const bool *)y)
				return false;
			break;
		case SL_PARAM_DOUBLE:
			if (*(const double *)(const void *)x != *(const double *)(const void *)y)
				return false;
			break;
		case SL_PARAM_STR:
		case SL_PARAM_PORT:
		case SL_PARAM_FILE:
		case SL_PARAM_OUTFILE:
		case SL_PARAM_EXPORT: {
			const char *s = *(char *const *)(const void *)x;
			const char *t = *(char *const *)(const void *)y;
			if ((s == NULL) != (t == NULL) || (s && strcmp(s, t)))
				return false;
			break;
		}
		case SL_PARAM_STRLIST:
		case SL_PARAM_EXPORTS: {
			const struct sl_strlist *s = (const void *)x, *t = (const void *)y;
			if (s->n != t->n)
				return false;
			for (unsigned j = 0; j < s->n; j++)
				if (strcmp(s->v[j], t->v[j]))
					return false;
			break;
		}
		}
	}
	return true;
}

unsigned sl_config_expand_link(const struct sl_config *c, const struct sl_conf_link *l,
			       struct sl_conf_edge *e)
{
	const struct sl_conf_stage *a = &c->stages[l->from], *b = &c->stages[l->to];
	unsigned n = 0;

	if (a->type->dynamic_outputs && b->instances > 1) {
		for (uint16_t j = 0; j < b->instances; j++)
			e[n++] = (struct sl_conf_edge){l->from, 0, j, l->to, j};
	} else if (b->instances == 1) {
		for (uint16_t i = 0; i < a->instances; i++)
			e[n++] = (struct sl_conf_edge){l->from, i, l->from_port, l->to, 0};
	} else {
		for (uint16_t i = 0; i < a->instances; i++)
			e[n++] = (struct sl_conf_edge){l->from, i, l->from_port, l->to, i};
	}
	return n;
}

const char *sl_conf_stage_output_name(const struct sl_conf_stage *s, unsigned i, char *buf,
				      size_t len)
{
	if (s->out_names && i < s->n_out_names)
		return s->out_names[i];
	return sl_stage_output_name(s->type, i, buf, len);
}

int sl_config_find_port(const struct sl_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_ports; i++)
		if (!strcmp(c->ports[i].name, name))
			return (int)i;
	return -1;
}

/* ---- ports -------------------------------------------------------------- */

/* One of the words in choices, as its index; else an error at the value. */
static int parse_choice(struct loader *L, const struct sl_ynode *n, const char *key,
			const char *const *choices, const char *list, uint8_t *out)
{
	if (n->kind == SL_Y_SCALAR && !n->block)
		for (uint8_t i = 0; choices[i]; i++)
			if (!strcmp(n->str, choices[i])) {
				*out = i;
				return 0;
			}
	return sl_errf(L->err, &n->loc, "'%s' must be one of %s", key, list);
}

/* A kernel interface name: what the kernel itself accepts (dev_valid_name),
 * narrowed to the characters that need no quoting in a sysfs path. */
static int check_iface(struct loader *L, const struct sl_ynode *n)
{
	size_t l = strlen(n->str);
	if (l == 0 || l > 15 || !strcmp(n->str, ".") || !strcmp(n->str, "..") ||
	    strspn(n->str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") !=
		l)
		return sl_errf(L->err, &n->loc,
			       "'iface' must be an interface name: 1 to 15 of A-Z a-z 0-9 _ . : -");
	return 0;
}

/* A PCI address: DDDD:BB:DD.F or BB:DD.F, hexadecimal. */
static int check_pci(struct loader *L, const struct sl_ynode *n)
{
	const char *s = n->str;
	size_t l = strlen(s);
	const char *form = l == 12 ? "hhhh:hh:hh.h" : l == 7 ? "hh:hh.h" : NULL;
	for (size_t i = 0; form && i < l; i++)
		if (form[i] == 'h' ? !isxdigit((unsigned char)s[i]) : s[i] != form[i])
			form = NULL;
	if (!form)
		return sl_errf(
		    L->err, &n->loc,
		    "'pci' must be a PCI address, DDDD:BB:DD.F or BB:DD.F (hexadecimal)");
	return 0;
}

/* The keys of an af_xdp port (also those of auto, for when AF_XDP is
 * chosen). */
static int load_xdp_keys(struct loader *L, const struct sl_ynode *v, struct sl_conf_port *p)
{
	static const char *const modes[] = {"auto", "native", "skb", NULL};
	static const char *const zcs[] = {"auto", "on", "off", NULL};
	const struct sl_ynode *x;
	if ((x = sl_yaml_get(v, "mode")) &&
	    parse_choice(L, x, "mode", modes, "auto, native, skb", &p->xdp_mode) < 0)
		return -1;
	if ((x = sl_yaml_get(v, "zerocopy")) &&
	    parse_choice(L, x, "zerocopy", zcs, "auto, on, off", &p->zerocopy) < 0)
		return -1;
	if ((x = sl_yaml_get(v, "busy_poll")) && parse_bool(L, x, "busy_poll", &p->busy_poll) < 0)
		return -1;
	static const char *const rings[] = {"rx_desc", "tx_desc"};
	for (unsigned i = 0; i < 2; i++) {
		uint64_t d = i ? p->tx_desc : p->rx_desc;
		if ((d & (d - 1)) && (x = sl_yaml_get(v, rings[i])))
			return sl_errf(L->err, &x->loc,
				       "'%s' of an af_xdp port sizes an XSK ring: a power of two",
				       rings[i]);
	}
	return 0;
}

/* The device a dpdk port's devargs name, PCI addresses as sysfs spells them
 * (0000:bb:dd.f): "00:04.0" and "0000:00:04.0" are one device to EAL. */
static void device_key(const char *devargs, char *out, size_t len)
{
	char name[128];
	sl_devargs_name(devargs, name, sizeof(name));
	size_t l = strlen(name);
	const char *form = l == 12 ? "hhhh:hh:hh.h" : l == 7 ? "hh:hh.h" : NULL;
	for (size_t i = 0; form && i < l; i++)
		if (form[i] == 'h' ? !isxdigit((unsigned char)name[i]) : name[i] != form[i])
			form = NULL;
	if (!form) {
		snprintf(out, len, "%s", name);
		return;
	}
	for (size_t i = 0; i < l; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	snprintf(out, len, "%s%s", l == 7 ? "0000:" : "", name);
}

static int load_ports(struct loader *L, const struct sl_ynode *n)
{
	static const char *const keys[] = {"driver",   "devargs",   "iface",   "pci",
					   "queue",    "rx_desc",   "tx_desc", "mode",
					   "zerocopy", "busy_poll", NULL};
	static const char *const xdp_only[] = {"iface",	   "pci",	"queue", "mode",
					       "zerocopy", "busy_poll", NULL};
	struct sl_config *c = L->c;

	if (expect_kind(L, n, SL_Y_MAP, "'ports'") < 0)
		return -1;
	if (n->n > SL_MAX_PORTS)
		return sl_errf(L->err, &n->loc, "'ports' holds %zu ports; at most %d are allowed",
			       n->n, SL_MAX_PORTS);
	c->ports = calloc(n->n ? n->n : 1, sizeof(*c->ports));
	for (size_t i = 0; i < n->n; i++) {
		const struct sl_ynode *k = n->keys[i], *v = n->items[i];
		struct sl_conf_port *p = &c->ports[c->n_ports++];
		p->name = strdup(k->str);
		p->loc = k->loc;
		p->rx_desc = 1024;
		p->tx_desc = 1024;
		if (check_name(L, k, "port") < 0)
			return -1;
		if (v->kind != SL_Y_MAP)
			return sl_errf(L->err, &v->loc, "port '%s' must be a mapping, not %s",
				       k->str, sl_yaml_kind_name(v->kind));
		if (check_keys(L, v, keys, "a port") < 0)
			return -1;
		const struct sl_ynode *d = sl_yaml_get(v, "driver");
		if (!d)
			return sl_errf(L->err, &k->loc,
				       "port '%s' has no 'driver' (dpdk, af_xdp or auto)", k->str);
		if (parse_str(L, d, "driver", &p->driver) < 0)
			return -1;
		const struct sl_ynode *x;
		if ((x = sl_yaml_get(v, "devargs")) && parse_str(L, x, "devargs", &p->devargs) < 0)
			return -1;
		if ((x = sl_yaml_get(v, "iface")) &&
		    (parse_str(L, x, "iface", &p->iface) < 0 || check_iface(L, x) < 0))
			return -1;
		if ((x = sl_yaml_get(v, "pci")) &&
		    (parse_str(L, x, "pci", &p->pci) < 0 || check_pci(L, x) < 0))
			return -1;
		if ((x = sl_yaml_get(v, "queue")) && parse_uint(L, x, "queue", 0, 1023, &p->queue))
			return -1;
		if ((x = sl_yaml_get(v, "rx_desc")) &&
		    parse_uint(L, x, "rx_desc", 64, 16384, &p->rx_desc) < 0)
			return -1;
		if ((x = sl_yaml_get(v, "tx_desc")) &&
		    parse_uint(L, x, "tx_desc", 64, 16384, &p->tx_desc) < 0)
			return -1;
		if (!strcmp(p->driver, "dpdk")) {
			if (!p->devargs)
				return sl_errf(L->err, &k->loc,
					       "port '%s' (driver dpdk) needs 'devargs'", k->str);
			for (const char *const *o = xdp_only; *o; o++)
				if ((x = sl_yaml_get(v, *o)))
					return sl_errf(L->err, &x->loc,
						       "'%s' is for af_xdp and auto ports; driver "
						       "dpdk takes 'devargs'",
						       *o);
			const struct sl_ynode *dn = sl_yaml_get(v, "devargs");
			const struct sl_config_policy *pol = L->policy;
			char msg[400];
			size_t off = 0;
			if (sl_devargs_check(
				p->devargs, pol && pol->untrusted, pol ? pol->file_dirs : NULL,
				pol ? pol->n_file_dirs : 0, msg, sizeof(msg), &off) < 0) {
				struct sl_loc loc = dn->loc;
				if (!dn->block)
					loc.col += (int)off + (dn->quoted ? 1 : 0);
				return sl_errf(L->err, &loc, "port '%s': %s", k->str, msg);
			}
			/* One device, one port: EAL knows a device by its name. */
			char dname[128], dkey[128], okey[128];
			sl_devargs_name(p->devargs, dname, sizeof(dname));
			device_key(p->devargs, dkey, sizeof(dkey));
			for (unsigned j = 0; j + 1 < c->n_ports; j++) {
				if (!c->ports[j].devargs)
					continue;
				device_key(c->ports[j].devargs, okey, sizeof(okey));
				if (!strcmp(c->ports[j].devargs, p->devargs))
					return sl_errf(L->err, &dn->loc,
						       "port '%s' uses the same devargs as port "
						       "'%s'",
						       k->str, c->ports[j].name);
				if (!strcmp(okey, dkey))
					return sl_errf(L->err, &dn->loc,
						       "port '%s' names device '%s', which port "
						       "'%s' already uses",
						       k->str, dname, c->ports[j].name);
			}
		} else if (!strcmp(p->driver, "af_xdp") || !strcmp(p->driver, "auto")) {
#ifndef SL_HAVE_AF_XDP
			if (!strcmp(p->driver, "af_xdp"))
				return sl_errf(
				    L->err, &d->loc,
				    "port '%s': driver 'af_xdp' is not in this build (it "
				    "needs libxdp and libbpf: run tools/setup, rebuild)",
				    k->str);
#endif
			bool is_auto = !strcmp(p->driver, "auto");
			if ((x = sl_yaml_get(v, "devargs")))
				return sl_errf(
				    L->err, &x->loc,
				    "'devargs' is for dpdk ports; driver %s takes 'iface'%s",
				    p->driver, is_auto ? " or 'pci'" : "");
			if (!is_auto && (x = sl_yaml_get(v, "pci")))
				return sl_errf(L->err, &x->loc,
					       "'pci' is for driver auto; af_xdp takes 'iface'");
			if (is_auto && !p->iface == !p->pci)
				return sl_errf(
				    L->err, &k->loc,
				    "port '%s' (driver auto) needs one of 'iface' or 'pci'",
				    k->str);
			if (!is_auto && !p->iface)
				return sl_errf(L->err, &k->loc,
					       "port '%s' (driver af_xdp) needs 'iface'", k->str);
			if (load_xdp_keys(L, v, p) < 0)
				return -1;
			/* One interface, one port: its queues are one XSK set. */
			for (unsigned j = 0; p->iface && j + 1 < c->n_ports; j++)
				if (c->ports[j].iface && !strcmp(c->ports[j].iface, p->iface))
					return sl_errf(L->err, &sl_yaml_get(v, "iface")->loc,
						       "port '%s' names interface '%s', which port "
						       "'%s' already uses",
						       k->str, p->iface, c->ports[j].name);
		} else {
			return sl_errf(L->err, &d->loc,
				       "port '%s': unknown driver '%s' (expected dpdk, af_xdp or "
				       "auto)",
				       k->str, p->driver);
		}
	}
	return 0;
}

/* ---- stages ------------------------------------------------------------- */

static int parse_double(struct loader *L, const struct sl_ynode *n, const char *key, double min,
			double max, double *out)
{
	if (n->kind != SL_Y_SCALAR || n->quoted || n->block)
		return sl_errf(L->err, &n->loc, "'%s' must be a number", key);
	const char *s = n->str;
	/* Plain decimal notation only: strtod alone would take hex floats,
	 * "inf" and "nan". */
	size_t i = 0, digits = 0;
	if (s[i] == '-' || s[i] == '+')
		i++;
	for (; isdigit((unsigned char)s[i]); i++)
		digits++;
	if (s[i] == '.')
		for (i++; isdigit((unsigned char)s[i]); i++)
			digits++;
	if (digits && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (s[j] == '-' || s[j] == '+')
			j++;
		if (isdigit((unsigned char)s[j])) {
			while (isdigit((unsigned char)s[j]))
				j++;
			i = j;
		}
	}
	if (!digits || s[i])
		return sl_errf(L->err, &n->loc, "'%s' must be a decimal number, got '%.40s'", key,
			       s);
	double v = strtod(s, NULL);
	if (!(v >= min && v <= max))
		return sl_errf(L->err, &n->loc, "'%s' is %.40s, expected %g to %g", key, s, min,
			       max);
	*out = v;
	return 0;
}

/* A FILE or OUTFILE value: relative paths are taken from the config file's
 * directory, and a client's config must keep within the policy's dirs. */
static int parse_path(struct loader *L, const struct sl_ynode *n, const char *key, char **out)
{
	char *v = NULL;
	if (parse_str(L, n, key, &v) < 0)
		return -1;
	if (!*v) {
		free(v);
		return sl_errf(L->err, &n->loc, "'%s' is an empty path", key);
	}
	const char *file = L->c->file, *slash = strrchr(file, '/');
	if (v[0] != '/' && slash) {
		size_t dl = (size_t)(slash - file);
		char *j = malloc(dl + strlen(v) + 2);
		if (!j) {
			free(v);
			return sl_errf(L->err, &n->loc, "out of memory");
		}
		sprintf(j, "%.*s/%s", (int)dl, file, v);
		free(v);
		v = j;
	}
	*out = v;
	const struct sl_config_policy *pol = L->policy;
	if (pol && pol->untrusted) {
		char msg[512];
		if (sl_path_check(v, pol->file_dirs, pol->n_file_dirs, msg, sizeof(msg)) < 0)
			return sl_errf(L->err, &n->loc, "'%s': %s", key, msg);
	}
	return 0;
}

/* An export target: "ipfix://HOST:PORT" or "json:PATH" (PATH as an
 * OUTFILE, stored absolute). */
static int parse_export(struct loader *L, const struct sl_ynode *n, const char *key, char **out)
{
	char *v = NULL;
	if (parse_str(L, n, key, &v) < 0)
		return -1;
	*out = v;
	if (!strncmp(v, "ipfix://", 8)) {
		const char *hp = v + 8, *colon = strrchr(hp, ':');
		char *end;
		unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
		if (!colon || colon == hp || !colon[1] || *end || port == 0 || port > 65535 ||
		    strcspn(hp, "/@?# ") < strlen(hp))
			return sl_errf(L->err, &n->loc,
				       "'%s': '%s' is not ipfix://HOST:PORT (a UDP collector)", key,
				       v);
		return 0;
	}
	if (!strncmp(v, "json:", 5)) {
		struct sl_ynode pn = *n;
		char *path = NULL;
		pn.str = v + 5;
		if (parse_path(L, &pn, key, &path) < 0) {
			free(path);
			return -1;
		}
		char *j = malloc(strlen(path) + 6);
		if (!j) {
			free(path);
			return sl_errf(L->err, &n->loc, "out of memory");
		}
		sprintf(j, "json:%s", path);
		free(path);
		free(v);
		*out = j;
		return 0;
	}
	return sl_errf(L->err, &n->loc,
		       "'%s': '%s' is not an export target (ipfix://HOST:PORT or json:PATH)", key,
		       v);
}

static int load_param(struct loader *L, const struct sl_param *pr, const struct sl_ynode *v,
		      void *conf)
{
	char *base = conf;
	switch (pr->kind) {
	case SL_PARAM_UINT:
		return parse_uint(L, v, pr->name, pr->min, pr->max,
				  (uint64_t *)(base + pr->offset));
	case SL_PARAM_BOOL:
		return parse_bool(L, v, pr->name, (bool *)(base + pr->offset));
	case SL_PARAM_STR:
		return parse_str(L, v, pr->name, (char **)(base + pr->offset));
	case SL_PARAM_PORT:
		if (parse_str(L, v, pr->name, (char **)(base + pr->offset)) < 0)
			return -1;
		if (sl_config_find_port(L->c, v->str) < 0)
			return sl_errf(L->err, &v->loc, "'%s' names unknown port '%s'", pr->name,
				       v->str);
		return 0;
	case SL_PARAM_DOUBLE:
		return parse_double(L, v, pr->name, pr->dmin, pr->dmax,
				    (double *)(void *)(base + pr->offset));
	case SL_PARAM_FILE:
	case SL_PARAM_OUTFILE:
		return parse_path(L, v, pr->name, (char **)(base + pr->offset));
	case SL_PARAM_EXPORT:
		return parse_export(L, v, pr->name, (char **)(base + pr->offset));
	case SL_PARAM_EXPORTS: {
		struct sl_strlist *sl = (struct sl_strlist *)(base + pr->offset);
		if (v->kind != SL_Y_SEQ)
			return sl_errf(L->err, &v->loc, "'%s' must be a sequence of export targets",
				       pr->name);
		if (v->n > 16)
			return sl_errf(L->err, &v->loc, "'%s' lists %zu targets; at most 16",
				       pr->name, v->n);
		sl->v = calloc(v->n ? v->n : 1, sizeof(char *));
		if (!sl->v)
			return sl_errf(L->err, &v->loc, "out of memory");
		for (size_t i = 0; i < v->n; i++)
			if (parse_export(L, v->items[i], pr->name, &sl->v[sl->n++]) < 0)
				return -1;
		return 0;
	}
	case SL_PARAM_STRLIST: {
		struct sl_strlist *sl = (struct sl_strlist *)(base + pr->offset);
		if (v->kind != SL_Y_SEQ)
			return sl_errf(L->err, &v->loc, "'%s' must be a sequence of strings",
				       pr->name);
		sl->v = calloc(v->n ? v->n : 1, sizeof(char *));
		for (size_t i = 0; i < v->n; i++)
			if (parse_str(L, v->items[i], pr->name, &sl->v[sl->n++]) < 0)
				return -1;
		return 0;
	}
	}
	return -1;
}

static void free_stage_conf(struct sl_conf_stage *s)
{
	free(s->out_names);
	s->out_names = NULL;
	if (!s->type || !s->conf)
		return;
	for (unsigned i = 0; i < s->type->n_params; i++) {
		const struct sl_param *pr = &s->type->params[i];
		char *base = s->conf;
		if (pr->kind == SL_PARAM_STR || pr->kind == SL_PARAM_PORT ||
		    pr->kind == SL_PARAM_FILE || pr->kind == SL_PARAM_OUTFILE ||
		    pr->kind == SL_PARAM_EXPORT) {
			free(*(char **)(base + pr->offset));
		} else if (pr->kind == SL_PARAM_STRLIST || pr->kind == SL_PARAM_EXPORTS) {
			struct sl_strlist *sl = (struct sl_strlist *)(base + pr->offset);
			for (unsigned j = 0; j < sl->n; j++)
				free(sl->v[j]);
			free(sl->v);
		}
	}
}

static int load_stage(struct loader *L, const struct sl_ynode *k, const struct sl_ynode *v,
		      struct sl_conf_stage *s)
{
	s->name = strdup(k->str);
	s->loc = k->loc;
	s->instances = 1;
	s->port = -1;
	if (check_name(L, k, "stage") < 0)
		return -1;
	if (v->kind != SL_Y_MAP)
		return sl_errf(L->err, &v->loc, "stage '%s' must be a mapping, not %s", k->str,
			       sl_yaml_kind_name(v->kind));
	const struct sl_ynode *t = sl_yaml_get(v, "type");
	if (!t)
		return sl_errf(L->err, &k->loc, "stage '%s' has no 'type'", k->str);
	if (t->kind != SL_Y_SCALAR)
		return sl_errf(L->err, &t->loc, "'type' must be a string");
	s->type = sl_stage_type_find(t->str);
	if (!s->type) {
		char list[1024] = "";
		for (const struct sl_stage_type *x = sl_stage_type_first(); x; x = x->next) {
			strncat(list, x->name, sizeof(list) - strlen(list) - 3);
			if (x->next)
				strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		}
		return sl_errf(L->err, &t->loc, "unknown stage type '%s' (known: %s)", t->str,
			       list);
	}
	s->conf = calloc(1, s->type->conf_size ? s->type->conf_size : 1);

	for (size_t i = 0; i < v->n; i++) {
		const char *key = v->keys[i]->str;
		const struct sl_ynode *val = v->items[i];
		if (!strcmp(key, "type"))
			continue;
		if (!strcmp(key, "instances")) {
			uint64_t n = 0;
			if (parse_uint(L, val, "instances", 1, SL_STAGE_MAX_OUTPUTS, &n) < 0)
				return -1;
			s->instances = (uint16_t)n;
			continue;
		}
		const struct sl_param *pr = NULL;
		for (unsigned j = 0; j < s->type->n_params && !pr; j++)
			if (!strcmp(s->type->params[j].name, key))
				pr = &s->type->params[j];
		if (!pr) {
			char list[256] = "type, instances";
			for (unsigned j = 0; j < s->type->n_params; j++) {
				strncat(list, ", ", sizeof(list) - strlen(list) - 1);
				strncat(list, s->type->params[j].name,
					sizeof(list) - strlen(list) - 1);
			}
			return sl_errf(L->err, &v->keys[i]->loc,
				       "unknown key '%s' for stage type %s (expected one of: %s)",
				       key, s->type->name, list);
		}
		if (load_param(L, pr, val, s->conf) < 0)
			return -1;
	}
	for (unsigned j = 0; j < s->type->n_params; j++) {
		const struct sl_param *pr = &s->type->params[j];
		const struct sl_ynode *val = sl_yaml_get(v, pr->name);
		if (!val && pr->required)
			return sl_errf(L->err, &k->loc, "stage '%s' (type %s) needs '%s'", k->str,
				       s->type->name, pr->name);
		if (!val && pr->kind == SL_PARAM_UINT)
			*(uint64_t *)((char *)s->conf + pr->offset) = pr->def;
		if (!val && pr->kind == SL_PARAM_BOOL)
			*(bool *)((char *)s->conf + pr->offset) = pr->def != 0;
		if (!val && pr->kind == SL_PARAM_DOUBLE)
			*(double *)(void *)((char *)s->conf + pr->offset) = pr->ddef;
	}
	if (s->type->check) {
		struct sl_check chk = {.item = -1};
		if (s->type->check(s->conf, &chk) < 0) {
			const struct sl_ynode *at = chk.param ? sl_yaml_get(v, chk.param) : NULL;
			if (at && chk.item >= 0 && at->kind == SL_Y_SEQ && (size_t)chk.item < at->n)
				at = at->items[chk.item];
			chk.msg[sizeof(chk.msg) - 1] = '\0';
			if (at)
				return sl_errf(L->err, &at->loc, "stage '%s': '%s': %s", k->str,
					       chk.param, chk.msg);
			return sl_errf(L->err, &k->loc, "stage '%s' (type %s): %s", k->str,
				       s->type->name, chk.msg);
		}
	}
	if (s->type->conf_outputs) {
		s->out_names = calloc(SL_STAGE_MAX_OUTPUTS, sizeof(*s->out_names));
		if (!s->out_names)
			return sl_errf(L->err, &k->loc, "out of memory");
		unsigned n = s->type->conf_outputs(s->conf, s->out_names, SL_STAGE_MAX_OUTPUTS);
		s->n_out_names = (uint16_t)(n > SL_STAGE_MAX_OUTPUTS ? SL_STAGE_MAX_OUTPUTS : n);
		for (unsigned i = 0; i < s->n_out_names; i++) {
			s->out_names[i][SL_LABEL_MAX - 1] = '\0';
			for (unsigned j = 0; j < i; j++)
				if (!strcmp(s->out_names[i], s->out_names[j]))
					return sl_errf(L->err, &k->loc,
						       "stage '%s' has two output ports named '%s'",
						       k->str, s->out_names[i]);
		}
	}
	if (s->type->n_aux) {
		unsigned n = s->type->n_aux(s->conf);
		if (n > SL_STAGE_MAX_AUX)
			return sl_errf(L->err, &k->loc,
				       "stage '%s' wants %u extra counters; at most %u", k->str, n,
				       SL_STAGE_MAX_AUX);
		s->n_aux = n;
	}
	if (s->type->needs_port)
		s->port = sl_config_find_port(L->c, *(char **)s->conf);
	if (s->type->dynamic_outputs && s->instances > 1)
		return sl_errf(L->err, &sl_yaml_get(v, "instances")->loc,
			       "stage '%s' (type %s) spreads over the instances of the stage it "
			       "feeds and cannot have instances itself",
			       k->str, s->type->name);
	return 0;
}

/* ---- connectors --------------------------------------------------------- */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int add_link(struct loader *L, int from, int from_port, int to, struct sl_loc loc)
{
	struct sl_config *c = L->c;
	int *slot = &c->out_link[(size_t)from * SL_STAGE_MAX_OUTPUTS + (size_t)from_port];
	if (*slot >= 0) {
		const struct sl_conf_link *l = &c->links[*slot];
		char pb[SL_LABEL_MAX];
		const char *pn =
		    sl_conf_stage_output_name(&c->stages[from], from_port, pb, sizeof(pb));
		if (l->to == to)
			return sl_errf(
			    L->err, &loc, "duplicate connector %s.%s -> %s (first at line %d:%d)",
			    c->stages[from].name, pn, c->stages[to].name, l->loc.line, l->loc.col);
		return sl_errf(L->err, &loc,
			       "output %s.%s is already connected to '%s' (at line %d:%d); an "
			       "output port feeds one stage",
			       c->stages[from].name, pn, c->stages[l->to].name, l->loc.line,
			       l->loc.col);
	}
	if ((c->n_links & (c->n_links - 1)) == 0) { /* grow at powers of two */
		struct sl_conf_link *nl =
		    realloc(c->links, (c->n_links ? 2 * c->n_links : 1) * sizeof(*nl));
		if (!nl)
			return sl_errf(L->err, &loc, "out of memory");
		c->links = nl;
	}
	*slot = (int)c->n_links;
	c->links[c->n_links++] =
	    (struct sl_conf_link){(uint16_t)from, (uint16_t)from_port, (uint16_t)to, loc};
	return 0;
}

static int load_chain(struct loader *L, const struct sl_ynode *n)
{
	struct sl_config *c = L->c;
	if (n->kind != SL_Y_SCALAR)
		return sl_errf(L->err, &n->loc,
			       "a connector must be a string such as \"a -> b.port -> c\"");
	char *buf = strdup(n->str);
	char *p = buf;
	int prev = -1, prev_port = 0, count = 0, rc = 0;
	struct sl_loc prev_loc = n->loc;

	for (;;) {
		char *arrow = strstr(p, "->");
		if (arrow)
			*arrow = '\0';
		char *el = trim(p);
		struct sl_loc loc = n->loc;
		loc.col += (int)(el - buf) + (n->quoted ? 1 : 0);
		if (!*el) {
			rc = sl_errf(L->err, &loc, "empty stage name in connector '%s'", n->str);
			break;
		}
		char *dot = strchr(el, '.');
		char *port = NULL;
		if (dot) {
			*dot = '\0';
			port = dot + 1;
		}
		int s = sl_config_find_stage(c, el);
		if (s < 0) {
			rc = sl_errf(L->err, &loc, "connector names unknown stage '%s'", el);
			break;
		}
		const struct sl_stage_type *t = c->stages[s].type;
		if (prev >= 0) {
			if (t->is_source) {
				rc = sl_errf(L->err, &loc,
					     "stage '%s' (type %s) is a source and takes no input",
					     el, t->name);
				break;
			}
			if (add_link(L, prev, prev_port, s, prev_loc) < 0) {
				rc = -1;
				break;
			}
			c->stages[s].has_input = true;
		}
		count++;
		if (!arrow) {
			if (port) {
				rc = sl_errf(L->err, &loc,
					     "'%s.%s' ends the chain: an output port names where "
					     "packets go next",
					     el, port);
				break;
			}
			if (count < 2)
				rc = sl_errf(L->err, &loc,
					     "connector '%s' needs at least two stages joined by "
					     "'->'",
					     n->str);
			break;
		}
		const struct sl_conf_stage *cs = &c->stages[s];
		unsigned n_named = cs->out_names ? cs->n_out_names : t->n_outputs;
		if (n_named == 0) {
			rc = sl_errf(L->err, &loc, "stage '%s' (type %s) has no output ports", el,
				     t->name);
			break;
		}
		prev_port = 0;
		if (port) {
			if (cs->out_names) {
				prev_port = -1;
				for (unsigned j = 0; j < cs->n_out_names && prev_port < 0; j++)
					if (!strcmp(cs->out_names[j], port))
						prev_port = (int)j;
			} else {
				prev_port = sl_stage_output_index(t, port, SL_STAGE_MAX_OUTPUTS);
				if (t->dynamic_outputs && prev_port > 0)
					prev_port = -1;
			}
			if (prev_port < 0) {
				char list[256] = "", nb[SL_LABEL_MAX];
				for (unsigned j = 0; j < n_named; j++) {
					if (j)
						strncat(list, ", ",
							sizeof(list) - strlen(list) - 1);
					strncat(list,
						sl_conf_stage_output_name(cs, j, nb, sizeof(nb)),
						sizeof(list) - strlen(list) - 1);
				}
				rc = sl_errf(L->err, &loc,
					     "stage '%s' (type %s) has no output port '%s' "
					     "(it has: %s)",
					     el, t->name, port, list);
				break;
			}
		}
		prev = s;
		prev_loc = loc;
		p = arrow + 2;
	}
	free(buf);
	return rc;
}

/* Edges of a small directed graph in compressed rows, with the connector
 * each edge came from, for cycle checks. */
struct digraph {
	unsigned n;
	unsigned *first; /* n + 1 offsets into to/link */
	unsigned *to, *link;
};

static void digraph_free(struct digraph *g)
{
	free(g->first);
	free(g->to);
	free(g->link);
}

/* Find a cycle by iterative depth-first search (no recursion, so no limit
 * on chain length). Returns -1 and the index of the edge that closes the
 * cycle in *closing, or 0 when acyclic. */
static int find_cycle(const struct digraph *g, unsigned *closing)
{
	unsigned char *state = calloc(g->n ? g->n : 1, 1); /* 0 new, 1 on path, 2 done */
	unsigned *stack = malloc((g->n ? g->n : 1) * sizeof(unsigned));
	unsigned *next = malloc((g->n ? g->n : 1) * sizeof(unsigned));
	int rc = 0;
	if (!state || !stack || !next) {
		rc = -2;
		goto out;
	}
	for (unsigned root = 0; root < g->n && rc == 0; root++) {
		if (state[root])
			continue;
		unsigned sp = 0;
		stack[sp++] = root;
		state[root] = 1;
		next[root] = g->first[root];
		while (sp && rc == 0) {
			unsigned v = stack[sp - 1];
			if (next[v] == g->first[v + 1]) {
				state[v] = 2;
				sp--;
				continue;
			}
			unsigned e = next[v]++;
			unsigned w = g->to[e];
			if (state[w] == 1) {
				*closing = e;
				rc = -1;
			} else if (state[w] == 0) {
				state[w] = 1;
				next[w] = g->first[w];
				stack[sp++] = w;
			}
		}
	}
out:
	free(state);
	free(stack);
	free(next);
	return rc;
}

/* Edges (from -> to, and the connector each came from), gathered before
 * the graph is built. */
struct edge_list {
	unsigned *from, *to, *link;
	unsigned n, cap;
};

static int edge_push(struct edge_list *e, unsigned from, unsigned to, unsigned link)
{
	if (e->n == e->cap) {
		unsigned cap = e->cap ? 2 * e->cap : 64;
		unsigned *f = realloc(e->from, cap * sizeof(unsigned));
		if (f)
			e->from = f;
		unsigned *t = realloc(e->to, cap * sizeof(unsigned));
		if (t)
			e->to = t;
		unsigned *l = realloc(e->link, cap * sizeof(unsigned));
		if (l)
			e->link = l;
		if (!f || !t || !l)
			return -1;
		e->cap = cap;
	}
	e->from[e->n] = from;
	e->to[e->n] = to;
	e->link[e->n++] = link;
	return 0;
}

static void edge_list_free(struct edge_list *e)
{
	free(e->from);
	free(e->to);
	free(e->link);
}

/* Whether the n-vertex graph of edges e has a cycle: 1 with the closing
 * edge's connector and target vertex, 0 if not, -1 out of memory. */
static int has_cycle(unsigned n, const struct edge_list *e, unsigned *link, unsigned *to)
{
	struct digraph g = {.n = n};
	unsigned closing;
	int rc = -1;
	g.first = calloc(n + 2, sizeof(unsigned));
	g.to = malloc((e->n ? e->n : 1) * sizeof(unsigned));
	g.link = malloc((e->n ? e->n : 1) * sizeof(unsigned));
	if (g.first && g.to && g.link) {
		for (unsigned i = 0; i < e->n; i++)
			g.first[e->from[i] + 2]++;
		for (unsigned v = 0; v < n; v++)
			g.first[v + 2] += g.first[v + 1];
		for (unsigned i = 0; i < e->n; i++) {
			unsigned at = g.first[e->from[i] + 1]++;
			g.to[at] = e->to[i];
			g.link[at] = e->link[i];
		}
		rc = find_cycle(&g, &closing);
		if (rc == -1) {
			*link = g.link[closing];
			*to = g.to[closing];
			rc = 1;
		} else if (rc < 0) {
			rc = -1;
		}
	}
	digraph_free(&g);
	return rc;
}

static int check_graph(struct loader *L)
{
	struct sl_config *c = L->c;

	for (unsigned i = 0; i < c->n_stages; i++) {
		struct sl_conf_stage *s = &c->stages[i];
		s->n_outputs = s->out_names ? s->n_out_names : s->type->n_outputs;
		if (s->type->wants_rx_seqn && s->type->wants_rx_seqn(s->conf))
			c->dp.rx_seqn = true;
		if (s->type->wants_rx_timestamps && s->type->wants_rx_timestamps(s->conf))
			for (unsigned p = 0; p < c->n_ports; p++)
				c->ports[p].rx_timestamps = true;
		if (!s->type->is_source && !s->has_input)
			return sl_errf(L->err, &s->loc, "stage '%s' has no input connector",
				       s->name);
	}
	for (unsigned i = 0; i < c->n_links; i++) {
		struct sl_conf_link *l = &c->links[i];
		struct sl_conf_stage *a = &c->stages[l->from], *b = &c->stages[l->to];
		if (b->instances == 1 || a->instances == b->instances)
			continue;
		if (a->instances == 1 && a->type->dynamic_outputs) {
			a->n_outputs = b->instances;
			continue;
		}
		return sl_errf(L->err, &l->loc,
			       "connector %s -> %s: '%s' has %u instances and '%s' has %u; "
			       "feed them through a balance stage or give both the same count",
			       a->name, b->name, b->name, b->instances, a->name, a->instances);
	}
	struct edge_list e = {0};
	unsigned link = 0, to = 0;
	int rc = 0;
	for (unsigned i = 0; i < c->n_links && rc == 0; i++)
		rc = edge_push(&e, c->links[i].from, c->links[i].to, i);
	if (rc == 0)
		rc = has_cycle(c->n_stages, &e, &link, &to);
	edge_list_free(&e);
	if (rc < 0)
		return sl_errf(L->err, &c->stages[0].loc, "out of memory");
	if (rc > 0) {
		const struct sl_conf_link *l = &c->links[link];
		return sl_errf(L->err, &l->loc,
			       "connector %s -> %s closes a cycle; the graph must be acyclic",
			       c->stages[l->from].name, c->stages[l->to].name);
	}
	return 0;
}

static int load_graph(struct loader *L, const struct sl_ynode *n)
{
	static const char *const keys[] = {"stages", "connectors", NULL};
	struct sl_config *c = L->c;

	if (expect_kind(L, n, SL_Y_MAP, "'graph'") < 0 || check_keys(L, n, keys, "graph") < 0)
		return -1;
	const struct sl_ynode *st = sl_yaml_get(n, "stages");
	const struct sl_ynode *co = sl_yaml_get(n, "connectors");
	if (!st)
		return sl_errf(L->err, &n->loc, "'graph' has no 'stages'");
	if (expect_kind(L, st, SL_Y_MAP, "'stages'") < 0)
		return -1;
	if (st->n == 0)
		return sl_errf(L->err, &st->loc, "'stages' is empty");
	if (st->n > SL_MAX_STAGES)
		return sl_errf(L->err, &st->loc,
			       "'stages' holds %zu stages; at most %d are allowed", st->n,
			       SL_MAX_STAGES);
	c->stages = calloc(st->n, sizeof(*c->stages));
	c->out_link = malloc(st->n * SL_STAGE_MAX_OUTPUTS * sizeof(int));
	if (!c->stages || !c->out_link)
		return sl_errf(L->err, &st->loc, "out of memory");
	for (size_t i = 0; i < st->n * SL_STAGE_MAX_OUTPUTS; i++)
		c->out_link[i] = -1;
	unsigned instances = 0;
	for (size_t i = 0; i < st->n; i++) {
		struct sl_conf_stage *cs = &c->stages[c->n_stages++];
		if (load_stage(L, st->keys[i], st->items[i], cs) < 0)
			return -1;
		/* Every instance has counters, a stats block and a row in each
		 * view: bounded like the stages themselves. */
		instances += cs->instances;
		if (instances > SL_MAX_INSTANCES)
			return sl_errf(L->err, &cs->loc,
				       "stage '%s' brings the graph to %u stage instances; at most "
				       "%d are allowed",
				       cs->name, instances, SL_MAX_INSTANCES);
	}
	if (index_stages(c) < 0)
		return sl_errf(L->err, &st->loc, "out of memory");
	if (!co)
		return sl_errf(L->err, &n->loc, "'graph' has no 'connectors'");
	if (expect_kind(L, co, SL_Y_SEQ, "'connectors'") < 0)
		return -1;
	for (size_t i = 0; i < co->n; i++)
		if (load_chain(L, co->items[i]) < 0)
			return -1;
	return check_graph(L);
}

/* ---- clusters and mapping ------------------------------------------------ */

static int load_member(struct loader *L, struct sl_conf_cluster *cl, const struct sl_ynode *m,
		       unsigned ci)
{
	struct sl_config *c = L->c;
	if (m->kind != SL_Y_SCALAR)
		return sl_errf(L->err, &m->loc, "a cluster member must be a stage name");
	char name[SL_NAME_MAX + 16];
	snprintf(name, sizeof(name), "%s", m->str);
	int inst = -1;
	char *br = strchr(name, '[');
	if (br) {
		char *end;
		inst = (int)strtol(br + 1, &end, 10);
		if (end == br + 1 || *end != ']' || end[1] || inst < 0)
			return sl_errf(L->err, &m->loc,
				       "bad member '%s' (expected NAME or NAME[INSTANCE])", m->str);
		*br = '\0';
	}
	int s = sl_config_find_stage(c, name);
	if (s < 0)
		return sl_errf(L->err, &m->loc, "cluster '%s' names unknown stage '%s'", cl->name,
			       name);
	struct sl_conf_stage *st = &c->stages[s];
	if (inst >= st->instances)
		return sl_errf(L->err, &m->loc,
			       "stage '%s' has %u instance(s); [%d] is out of range", name,
			       st->instances, inst);
	for (unsigned i = 0; i < st->instances; i++) {
		if (inst >= 0 && (int)i != inst)
			continue;
		if (st->cluster[i] >= 0) {
			if (st->instances > 1)
				return sl_errf(L->err, &m->loc,
					       "stage '%s[%u]' is already in cluster '%s'", name, i,
					       c->clusters[st->cluster[i]].name);
			return sl_errf(L->err, &m->loc, "stage '%s' is already in cluster '%s'",
				       name, c->clusters[st->cluster[i]].name);
		}
		st->cluster[i] = (int)ci;
	}
	cl->members[cl->n_members++] = (struct sl_conf_member){(uint16_t)s, inst, m->loc};
	return 0;
}

static int load_clusters(struct loader *L, const struct sl_ynode *n)
{
	struct sl_config *c = L->c;
	if (expect_kind(L, n, SL_Y_MAP, "'clusters'") < 0)
		return -1;
	if (n->n == 0)
		return sl_errf(L->err, &n->loc, "'clusters' is empty");
	if (n->n > SL_MAX_CLUSTERS)
		return sl_errf(L->err, &n->loc,
			       "'clusters' holds %zu clusters; at most %d are allowed", n->n,
			       SL_MAX_CLUSTERS);
	for (unsigned i = 0; i < c->n_stages; i++) {
		c->stages[i].cluster = malloc(c->stages[i].instances * sizeof(int));
		for (unsigned j = 0; j < c->stages[i].instances; j++)
			c->stages[i].cluster[j] = -1;
	}
	c->clusters = calloc(n->n, sizeof(*c->clusters));
	for (size_t i = 0; i < n->n; i++) {
		const struct sl_ynode *k = n->keys[i], *v = n->items[i];
		struct sl_conf_cluster *cl = &c->clusters[c->n_clusters++];
		cl->name = strdup(k->str);
		cl->loc = k->loc;
		cl->core = -1;
		if (check_name(L, k, "cluster") < 0)
			return -1;
		if (v->kind != SL_Y_SEQ)
			return sl_errf(L->err, &v->loc,
				       "cluster '%s' must be a sequence of stage names", k->str);
		if (v->n == 0)
			return sl_errf(L->err, &k->loc, "cluster '%s' is empty", k->str);
		cl->members = calloc(v->n, sizeof(*cl->members));
		for (size_t j = 0; j < v->n; j++)
			if (load_member(L, cl, v->items[j], (unsigned)i) < 0)
				return -1;
	}
	for (unsigned i = 0; i < c->n_stages; i++)
		for (unsigned j = 0; j < c->stages[i].instances; j++)
			if (c->stages[i].cluster[j] < 0) {
				if (c->stages[i].instances > 1)
					return sl_errf(L->err, &c->stages[i].loc,
						       "stage '%s[%u]' is in no cluster",
						       c->stages[i].name, j);
				return sl_errf(L->err, &c->stages[i].loc,
					       "stage '%s' is in no cluster", c->stages[i].name);
			}
	return 0;
}

/* Rings between clusters must not form a cycle: with backpressure, two
 * clusters that each wait for room in the other's full ring never move
 * again, and with drops a packet could circle. The stage graph is acyclic,
 * but grouping can still close a loop (a -> b in one cluster, b -> c in
 * another, c feeding back into the first). */
static int check_cluster_cycles(struct loader *L)
{
	struct sl_config *c = L->c;
	struct edge_list e = {0};
	unsigned link = 0, to = 0;
	int rc = 0;
	for (unsigned li = 0; li < c->n_links && rc == 0; li++) {
		struct sl_conf_edge ie[SL_STAGE_MAX_OUTPUTS];
		unsigned ne = sl_config_expand_link(c, &c->links[li], ie);
		for (unsigned k = 0; k < ne && rc == 0; k++) {
			int fc = c->stages[ie[k].fs].cluster[ie[k].fi];
			int tc = c->stages[ie[k].ts].cluster[ie[k].ti];
			if (fc != tc)
				rc = edge_push(&e, (unsigned)fc, (unsigned)tc, li);
		}
	}
	if (rc == 0)
		rc = has_cycle(c->n_clusters, &e, &link, &to);
	edge_list_free(&e);
	if (rc < 0)
		return sl_errf(L->err, &c->clusters[0].loc, "out of memory");
	if (rc > 0) {
		const struct sl_conf_link *l = &c->links[link];
		return sl_errf(
		    L->err, &l->loc,
		    "connector %s -> %s closes a cycle between clusters (it leads back "
		    "into cluster '%s'); rings between clusters must not form a loop, so "
		    "put these stages in one cluster",
		    c->stages[l->from].name, c->stages[l->to].name, c->clusters[to].name);
	}
	return 0;
}

/* dataplane.file_dirs: where the files that vdev arguments name may lie,
 * for configs sent over the control socket. An untrusted config may only
 * narrow the operator's list, never widen it. */
static int load_file_dirs(struct loader *L, const struct sl_ynode *x)
{
	struct sl_conf_dataplane *dp = &L->c->dp;
	const struct sl_config_policy *pol = L->policy;
	if (x->kind != SL_Y_SEQ)
		return sl_errf(L->err, &x->loc, "'file_dirs' must be a sequence of directories");
	if (x->n > 64)
		return sl_errf(L->err, &x->loc, "'file_dirs' lists %zu directories; at most 64",
			       x->n);
	dp->file_dirs = calloc(x->n ? x->n : 1, sizeof(char *));
	if (!dp->file_dirs)
		return sl_errf(L->err, &x->loc, "out of memory");
	for (size_t i = 0; i < x->n; i++) {
		const struct sl_ynode *d = x->items[i];
		if (parse_str(L, d, "file_dirs", &dp->file_dirs[dp->n_file_dirs]) < 0)
			return -1;
		dp->n_file_dirs++;
		if (!sl_path_normalized(d->str))
			return sl_errf(L->err, &d->loc,
				       "'%s' must be an absolute path without '.', '..', repeated "
				       "or trailing '/'",
				       d->str);
		if (pol && pol->untrusted) {
			bool ok = false;
			for (unsigned j = 0; j < pol->n_file_dirs && !ok; j++)
				ok = !strcmp(d->str, pol->file_dirs[j]) ||
				     sl_path_inside(d->str, pol->file_dirs[j]);
			if (!ok)
				return sl_errf(
				    L->err, &d->loc,
				    "'%s' is not inside the file_dirs of the config "
				    "sluiced started with; a config sent over the control "
				    "socket may only narrow them",
				    d->str);
		}
	}
	return 0;
}

static int load_dataplane(struct loader *L, const struct sl_ynode *n)
{
	static const char *const keys[] = {"name",	  "cores",	 "burst",     "ring_size",
					   "mbufs",	  "tx_retries",	 "ring_full", "file_dirs",
					   "watchdog_ms", "test_faults", "plugins",  "tx_stall_us",
					   NULL};
	struct sl_conf_dataplane *dp = &L->c->dp;
	const struct sl_ynode *x;

	dp->burst = 32;
	dp->ring_size = 1024;
	dp->tx_retries = 16;
	dp->tx_stall_us = SL_TX_STALL_US_DEFAULT;
	dp->watchdog_ms = 500;
	if (!n) {
		dp->name = strdup("sluice");
	} else {
		dp->loc = n->loc;
		if (expect_kind(L, n, SL_Y_MAP, "'dataplane'") < 0 ||
		    check_keys(L, n, keys, "dataplane") < 0)
			return -1;
		if ((x = sl_yaml_get(n, "name"))) {
			if (parse_str(L, x, "name", &dp->name) < 0)
				return -1;
			if (strlen(dp->name) > 32 || !valid_name(dp->name))
				return sl_errf(L->err, &x->loc,
					       "dataplane name '%s' must be at most 32 letters, "
					       "digits, '_' or '-'",
					       dp->name);
		} else {
			dp->name = strdup("sluice");
		}
		if ((x = sl_yaml_get(n, "burst")) &&
		    parse_uint(L, x, "burst", 1, SL_BURST_MAX, &dp->burst) < 0)
			return -1;
		if ((x = sl_yaml_get(n, "ring_size"))) {
			if (parse_uint(L, x, "ring_size", 64, 1u << 20, &dp->ring_size) < 0)
				return -1;
			if (dp->ring_size & (dp->ring_size - 1))
				return sl_errf(L->err, &x->loc,
					       "'ring_size' is %llu, expected a power of two",
					       (unsigned long long)dp->ring_size);
		}
		if ((x = sl_yaml_get(n, "mbufs")) &&
		    parse_uint(L, x, "mbufs", 1024, 1u << 26, &dp->mbufs) < 0)
			return -1;
		if ((x = sl_yaml_get(n, "ring_full"))) {
			if (x->kind != SL_Y_SCALAR ||
			    (strcmp(x->str, "drop") && strcmp(x->str, "backpressure")))
				return sl_errf(L->err, &x->loc,
					       "'ring_full' must be backpressure or drop");
			dp->ring_drop = !strcmp(x->str, "drop");
		}
		const struct sl_ynode *rs = sl_yaml_get(n, "ring_size");
		const struct sl_ynode *bu = sl_yaml_get(n, "burst");
		if (dp->ring_size < 2 * dp->burst)
			return sl_errf(
			    L->err,
			    rs	 ? &rs->loc
			    : bu ? &bu->loc
				 : &n->loc,
			    "'ring_size' %llu is less than twice 'burst' (%llu): a "
			    "cluster waits for room for a whole burst, so set ring_size "
			    "to at least %llu",
			    (unsigned long long)dp->ring_size, (unsigned long long)dp->burst,
			    (unsigned long long)(2 * dp->burst <= 64 ? 64 : 2 * dp->burst));
		if ((x = sl_yaml_get(n, "tx_retries")) &&
		    parse_uint(L, x, "tx_retries", 0, 1000000000, &dp->tx_retries) < 0)
			return -1;
		if ((x = sl_yaml_get(n, "tx_stall_us")) &&
		    parse_uint(L, x, "tx_stall_us", 1, 10000000, &dp->tx_stall_us) < 0)
			return -1;
		if ((x = sl_yaml_get(n, "file_dirs")) && load_file_dirs(L, x) < 0)
			return -1;
		if ((x = sl_yaml_get(n, "watchdog_ms"))) {
			if (parse_uint(L, x, "watchdog_ms", 0, 60000, &dp->watchdog_ms) < 0)
				return -1;
			/* Below this a busy machine's scheduling gaps
			 * would look like hangs. */
			if (dp->watchdog_ms && dp->watchdog_ms < 100)
				return sl_errf(L->err, &x->loc,
					       "'watchdog_ms' is %llu: 0 (off) or at least 100",
					       (unsigned long long)dp->watchdog_ms);
		}
		if ((x = sl_yaml_get(n, "test_faults")) &&
		    parse_bool(L, x, "test_faults", &dp->test_faults) < 0)
			return -1;
		if ((x = sl_yaml_get(n, "cores"))) {
			if (x->kind != SL_Y_SEQ || x->n == 0)
				return sl_errf(
				    L->err, &x->loc,
				    "'cores' must be a non-empty sequence of CPU numbers");
			dp->cores = calloc(x->n, sizeof(unsigned));
			for (size_t i = 0; i < x->n; i++) {
				uint64_t v = 0;
				if (parse_uint(L, x->items[i], "cores", 0, SL_MAX_CPUS - 1, &v) < 0)
					return -1;
				for (unsigned j = 0; j < dp->n_cores; j++)
					if (dp->cores[j] == v)
						return sl_errf(L->err, &x->items[i]->loc,
							       "core %llu is listed twice",
							       (unsigned long long)v);
				dp->cores[dp->n_cores++] = (unsigned)v;
			}
			dp->cores_given = true;
		}
	}
	if (!dp->cores_given) {
		dp->cores = calloc(SL_MAX_CPUS, sizeof(unsigned));
		dp->n_cores = sl_cpu_default_pool(dp->cores, SL_MAX_CPUS);
	}
	return 0;
}

/* dataplane.plugins, read before the graph so that its stage types are
 * known there. A client's config may only name plugins the policy lists. */
static int load_plugins(struct loader *L, const struct sl_ynode *dpn)
{
	const struct sl_ynode *n = dpn && dpn->kind == SL_Y_MAP ? sl_yaml_get(dpn, "plugins") : NULL;
	struct sl_conf_dataplane *dp = &L->c->dp;
	if (!n)
		return 0;
	if (n->kind != SL_Y_SEQ)
		return sl_errf(L->err, &n->loc, "'plugins' must be a sequence of paths");
	if (n->n > SL_PLUGIN_MAX)
		return sl_errf(L->err, &n->loc, "'plugins' lists %zu plugins, at most %u", n->n,
			       SL_PLUGIN_MAX);
	dp->plugins = calloc(n->n ? n->n : 1, sizeof(char *));
	if (!dp->plugins)
		return sl_errf(L->err, &n->loc, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		const struct sl_ynode *x = n->items[i];
		char real[PATH_MAX], why[PATH_MAX + 256];
		if (x->kind != SL_Y_SCALAR || !x->str[0])
			return sl_errf(L->err, &x->loc, "a plugin must be a path");
		if (sl_plugin_check_path(x->str, real, why, sizeof(why)) < 0)
			return sl_errf(L->err, &x->loc, "plugin refused: %s", why);
		if (L->policy && L->policy->untrusted) {
			bool named = false;
			for (unsigned j = 0; j < L->policy->n_plugins && !named; j++)
				named = !strcmp(L->policy->plugins[j], real);
			if (!named)
				return sl_errf(L->err, &x->loc,
					       "plugin '%s' is not among those of the config sluiced "
					       "was started with: plugins are named at start (add it "
					       "to that config's dataplane.plugins and restart "
					       "sluiced)",
					       x->str);
		}
		if (sl_plugin_load(real, why, sizeof(why)) < 0)
			return sl_errf(L->err, &x->loc, "%s", why);
		dp->plugins[dp->n_plugins++] = strdup(real);
	}
	return 0;
}

static void format_pool(const struct sl_conf_dataplane *dp, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < dp->n_cores && o + 8 < len; i++)
		o += snprintf(buf + o, len - o, "%s%u", i ? ", " : "", dp->cores[i]);
}

static int load_mapping(struct loader *L, const struct sl_ynode *n)
{
	static const char *const keys[] = {"core", NULL};
	struct sl_config *c = L->c;

	if (!n)
		return sl_errf(L->err, &L->root->loc, "config has no 'mapping' section");
	if (expect_kind(L, n, SL_Y_MAP, "'mapping'") < 0)
		return -1;
	for (size_t i = 0; i < n->n; i++) {
		const struct sl_ynode *k = n->keys[i], *v = n->items[i];
		struct sl_conf_cluster *cl = NULL;
		for (unsigned j = 0; j < c->n_clusters && !cl; j++)
			if (!strcmp(c->clusters[j].name, k->str))
				cl = &c->clusters[j];
		if (!cl)
			return sl_errf(L->err, &k->loc, "mapping names unknown cluster '%s'",
				       k->str);
		if (v->kind != SL_Y_MAP)
			return sl_errf(L->err, &v->loc,
				       "mapping of '%s' must be a mapping such as { core: 1 }",
				       k->str);
		if (check_keys(L, v, keys, "a mapping entry") < 0)
			return -1;
		const struct sl_ynode *core = sl_yaml_get(v, "core");
		if (!core)
			return sl_errf(L->err, &k->loc, "mapping of '%s' has no 'core'", k->str);
		uint64_t cv = 0;
		if (parse_uint(L, core, "core", 0, SL_MAX_CPUS - 1, &cv) < 0)
			return -1;
		bool in_pool = false;
		for (unsigned j = 0; j < c->dp.n_cores; j++)
			in_pool |= c->dp.cores[j] == cv;
		if (!in_pool) {
			char pool[256];
			format_pool(&c->dp, pool, sizeof(pool));
			return sl_errf(L->err, &core->loc,
				       "cluster '%s' is mapped to core %llu, which is not in the "
				       "core pool [%s]",
				       k->str, (unsigned long long)cv, pool);
		}
		cl->core = (int)cv;
		cl->map_loc = core->loc;
	}
	for (unsigned j = 0; j < c->n_clusters; j++)
		if (c->clusters[j].core < 0)
			return sl_errf(L->err, &c->clusters[j].loc, "cluster '%s' has no mapping",
				       c->clusters[j].name);
	return 0;
}

/* Queues each port needs: one per port_rx / port_tx instance. */
static int assign_queues(struct loader *L)
{
	struct sl_config *c = L->c;
	for (unsigned i = 0; i < c->n_stages; i++) {
		struct sl_conf_stage *s = &c->stages[i];
		if (s->port < 0)
			continue;
		struct sl_conf_port *p = &c->ports[s->port];
		if (s->type->is_source) {
			s->queue_base = p->n_rxq;
			p->n_rxq += s->instances;
		} else {
			s->queue_base = p->n_txq;
			p->n_txq += s->instances;
		}
	}
	for (unsigned i = 0; i < c->n_ports; i++)
		if (c->ports[i].n_rxq == 0 && c->ports[i].n_txq == 0)
			return sl_errf(L->err, &c->ports[i].loc,
				       "port '%s' is not used by any port_rx or port_tx stage",
				       c->ports[i].name);
	return 0;
}

void sl_config_free(struct sl_config *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_ports; i++) {
		free(c->ports[i].name);
		free(c->ports[i].driver);
		free(c->ports[i].devargs);
		free(c->ports[i].probe_devargs);
		free(c->ports[i].iface);
		free(c->ports[i].pci);
		free(c->ports[i].auto_why);
	}
	free(c->ports);
	for (unsigned i = 0; i < c->n_stages; i++) {
		free_stage_conf(&c->stages[i]);
		free(c->stages[i].conf);
		free(c->stages[i].name);
		free(c->stages[i].cluster);
	}
	free(c->stages);
	free(c->links);
	free(c->stage_index);
	free(c->out_link);
	for (unsigned i = 0; i < c->n_clusters; i++) {
		free(c->clusters[i].name);
		free(c->clusters[i].members);
	}
	free(c->clusters);
	free(c->dp.name);
	free(c->dp.cores);
	for (unsigned i = 0; i < c->dp.n_file_dirs; i++)
		free(c->dp.file_dirs[i]);
	free(c->dp.file_dirs);
	for (unsigned i = 0; i < c->dp.n_plugins; i++)
		free(c->dp.plugins[i]);
	free(c->dp.plugins);
	free(c->file);
	free(c);
}

int sl_config_pin_files(struct sl_config *c, const struct sl_config_policy *pol, int *fds,
			unsigned max, unsigned *n, struct sl_err *err)
{
	for (unsigned i = 0; i < c->n_ports; i++) {
		struct sl_conf_port *p = &c->ports[i];
		if (!p->devargs)
			continue;
		size_t len = strlen(p->devargs) + 64 * 8 + 1;
		char *out = malloc(len), msg[400];
		if (!out)
			return sl_errf(err, &p->loc, "out of memory");
		if (sl_devargs_pin(p->devargs, pol->file_dirs, pol->n_file_dirs, out, len, fds, max,
				   n, msg, sizeof(msg)) < 0) {
			free(out);
			return sl_errf(err, &p->loc, "port '%s': %s", p->name, msg);
		}
		free(p->probe_devargs);
		p->probe_devargs = out;
	}
	return 0;
}

/* Port i, just resolved, against every other port: one device, one port,
 * which the loader could not see while i still said auto. */
static int resolved_unique(const struct sl_config *c, unsigned i, struct sl_err *err)
{
	const struct sl_conf_port *p = &c->ports[i];
	bool dpdk = !strcmp(p->driver, "dpdk");
	char mine[128], other[128];
	if (dpdk)
		device_key(p->devargs, mine, sizeof(mine));
	for (unsigned j = 0; j < c->n_ports; j++) {
		const struct sl_conf_port *q = &c->ports[j];
		if (j == i || strcmp(q->driver, p->driver) != 0)
			continue;
		if (dpdk && q->devargs) {
			device_key(q->devargs, other, sizeof(other));
			if (!strcmp(mine, other))
				return sl_errf(err, &p->loc,
					       "port '%s' (driver auto) resolves to device '%s', "
					       "which port '%s' uses too",
					       p->name, mine, q->name);
		} else if (!dpdk && q->iface && !strcmp(q->iface, p->iface)) {
			return sl_errf(err, &p->loc,
				       "port '%s' (driver auto) resolves to interface '%s', which "
				       "port '%s' uses too",
				       p->name, p->iface, q->name);
		}
	}
	return 0;
}

int sl_config_resolve_auto_at(struct sl_config *c, const char *sysfs, struct sl_err *err)
{
	for (unsigned i = 0; i < c->n_ports; i++) {
		struct sl_conf_port *p = &c->ports[i];
		if (strcmp(p->driver, "auto") != 0)
			continue;
		const char *drv = NULL;
		char ifc[64], pci[64], why[512];
		if (sl_port_auto_resolve_at(sysfs, p->iface, p->pci, &drv, ifc, sizeof(ifc), pci,
					    sizeof(pci), why, sizeof(why)) < 0)
			return sl_errf(err, &p->loc,
				       "port '%s' (driver auto): neither driver can run it: %s",
				       p->name, why);
#ifndef SL_HAVE_AF_XDP
		if (!strcmp(drv, "af_xdp"))
			return sl_errf(err, &p->loc,
				       "port '%s' (driver auto): %s, but this build has no af_xdp "
				       "driver (it needs libxdp and libbpf)",
				       p->name, why);
#endif
		char *d = strdup(drv), *w = strdup(why);
		char *x = strdup(!strcmp(drv, "dpdk") ? pci : ifc);
		if (!d || !w || !x) {
			free(d);
			free(w);
			free(x);
			return sl_errf(err, &p->loc, "out of memory");
		}
		free(p->driver);
		p->driver = d;
		free(p->auto_why);
		p->auto_why = w;
		if (!strcmp(drv, "dpdk")) {
			free(p->devargs);
			p->devargs = x;
		} else {
			free(p->iface);
			p->iface = x;
		}
	}
	for (unsigned i = 0; i < c->n_ports; i++)
		if (c->ports[i].auto_why && resolved_unique(c, i, err) < 0)
			return -1;
	return 0;
}

int sl_config_resolve_auto(struct sl_config *c, struct sl_err *err)
{
	return sl_config_resolve_auto_at(c, "/sys", err);
}

/* The `fault` stage crashes or hangs its dataplane on purpose: only a
 * config that says it is a test may have one. */
static int check_faults(struct loader *L)
{
	const struct sl_config *c = L->c;
	for (unsigned i = 0; i < c->n_stages && !c->dp.test_faults; i++)
		if (!strcmp(c->stages[i].type->name, "fault"))
			return sl_errf(L->err, &c->stages[i].loc,
				       "stage '%s' is a fault injector (it crashes or hangs the "
				       "dataplane on purpose): set 'dataplane: { test_faults: "
				       "true }' to allow it",
				       c->stages[i].name);
	return 0;
}

int sl_config_load(const char *path, struct sl_config **out, struct sl_err *err)
{
	char *buf;
	size_t len;
	if (sl_config_read_file(path, &buf, &len, err) < 0)
		return -1;
	int rc = sl_config_load_buffer(buf, len, path, NULL, out, err);
	free(buf);
	return rc;
}

int sl_config_load_buffer(const char *buf, size_t len, const char *path,
			  const struct sl_config_policy *policy, struct sl_config **out,
			  struct sl_err *err)
{
	static const char *const top_keys[] = {"ports",	  "graph",     "clusters",
					       "mapping", "dataplane", NULL};
	struct sl_config *c = calloc(1, sizeof(*c));
	struct loader L = {.c = c, .err = err, .policy = policy};
	if (len > SL_CONFIG_MAX_BYTES) {
		struct sl_loc top = {path, 1, 1};
		free(c);
		return sl_errf(err, &top, "config is %zu bytes, more than the %u allowed", len,
			       SL_CONFIG_MAX_BYTES);
	}
	int rc = -1;

	c->file = strdup(path);
	struct sl_ynode *root = sl_yaml_load(buf, len, c->file, err);
	if (!root)
		goto out;
	L.root = root;
	if (expect_kind(&L, root, SL_Y_MAP, "the config") < 0 ||
	    check_keys(&L, root, top_keys, "the config") < 0)
		goto out;
	const struct sl_ynode *ports = sl_yaml_get(root, "ports");
	const struct sl_ynode *graph = sl_yaml_get(root, "graph");
	const struct sl_ynode *clusters = sl_yaml_get(root, "clusters");
	if (!ports) {
		sl_errf(err, &root->loc, "config has no 'ports' section");
		goto out;
	}
	if (!graph) {
		sl_errf(err, &root->loc, "config has no 'graph' section");
		goto out;
	}
	if (!clusters) {
		sl_errf(err, &root->loc, "config has no 'clusters' section");
		goto out;
	}
	if (load_ports(&L, ports) < 0 || load_plugins(&L, sl_yaml_get(root, "dataplane")) < 0 ||
	    load_graph(&L, graph) < 0 ||
	    load_clusters(&L, clusters) < 0 || check_cluster_cycles(&L) < 0 ||
	    load_dataplane(&L, sl_yaml_get(root, "dataplane")) < 0 ||
	    load_mapping(&L, sl_yaml_get(root, "mapping")) < 0 || assign_queues(&L) < 0 ||
	    check_faults(&L) < 0)
		goto out;
	rc = 0;
out:
	sl_yaml_free(root);
	if (rc == 0)
		*out = c;
	else
		sl_config_free(c);
	return rc;
}

int sl_config_load_stage(const char *buf, size_t len, const char *name,
			 const struct sl_config_policy *policy, struct sl_conf_stage *out,
			 struct sl_err *err)
{
	struct sl_config c = {.file = (char *)name};
	struct loader L = {.c = &c, .err = err, .policy = policy};
	memset(out, 0, sizeof(*out));
	struct sl_ynode *root = sl_yaml_load(buf, len, name, err);
	if (!root)
		return -1;
	/* The stage's key is its name: give the mapping one. */
	struct sl_ynode key = {.kind = SL_Y_SCALAR, .str = (char *)"stage", .loc = root->loc};
	int rc = expect_kind(&L, root, SL_Y_MAP, "a stage");
	if (rc == 0)
		rc = load_stage(&L, &key, root, out);
	if (rc == 0 && (out->type->needs_port || out->port >= 0))
		rc = sl_errf(err, &root->loc, "port stages need a whole config");
	sl_yaml_free(root);
	if (rc < 0)
		sl_config_stage_free(out);
	return rc;
}

void sl_config_stage_free(struct sl_conf_stage *s)
{
	free_stage_conf(s);
	free(s->conf);
	free(s->name);
	free(s->cluster);
	memset(s, 0, sizeof(*s));
}
