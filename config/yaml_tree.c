/* yaml_tree.c: builds the located YAML tree of yaml_tree.h from libyaml's
 * event stream, within fixed bounds (nesting depth, node count), and turns
 * libyaml's syntax errors into file:line:col messages.
 *
 * Why libyaml: it is Debian's most widely deployed C YAML parser, it reads
 * from memory, checks UTF-8, and never loops on bad input (libfyaml 0.8
 * spins forever on the two bytes "%\x9f"). Its scanner does work per open
 * flow level for each token, so deep nesting would cost quadratic time; we
 * stop at SL_YAML_MAX_DEPTH before that can matter. */
#include "config/yaml_tree.h"

#include <stdlib.h>
#include <string.h>

#include <yaml.h>

const char *sl_yaml_kind_name(enum sl_ynode_kind k)
{
	switch (k) {
	case SL_Y_SCALAR:
		return "a scalar";
	case SL_Y_MAP:
		return "a mapping";
	case SL_Y_SEQ:
		return "a sequence";
	}
	return "?";
}

void sl_yaml_free(struct sl_ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			sl_yaml_free(n->keys[i]);
		sl_yaml_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->str);
	free(n);
}

struct sl_ynode *sl_yaml_get(const struct sl_ynode *n, const char *key)
{
	if (!n || n->kind != SL_Y_MAP)
		return NULL;
	for (size_t i = 0; i < n->n; i++)
		if (strcmp(n->keys[i]->str, key) == 0)
			return n->items[i];
	return NULL;
}

struct builder {
	yaml_parser_t p;
	const char *file;
	struct sl_err *err;
	size_t nodes;
	bool failed; /* err holds the reason */
};

static struct sl_loc mark_loc(const struct builder *b, yaml_mark_t m)
{
	return (struct sl_loc){b->file, (int)m.line + 1, (int)m.column + 1};
}

static void fail_at(struct builder *b, yaml_mark_t m, const char *msg, const char *detail)
{
	struct sl_loc loc = mark_loc(b, m);
	if (!b->failed)
		sl_errf(b->err, &loc, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
	b->failed = true;
}

/* Take the next event, or record libyaml's error where it stands. */
static bool next_event(struct builder *b, yaml_event_t *e)
{
	if (yaml_parser_parse(&b->p, e))
		return true;
	const char *what = b->p.problem ? b->p.problem : "malformed input";
	struct sl_loc loc = mark_loc(b, b->p.problem_mark);
	if (b->p.error == YAML_MEMORY_ERROR)
		what = "out of memory";
	if (!b->failed) {
		if (b->p.context)
			sl_errf(b->err, &loc, "YAML syntax error: %s (%s at line %zu:%zu)", what,
				b->p.context, b->p.context_mark.line + 1,
				b->p.context_mark.column + 1);
		else
			sl_errf(b->err, &loc, "YAML syntax error: %s", what);
	}
	b->failed = true;
	return false;
}

static struct sl_ynode *node_new(struct builder *b, enum sl_ynode_kind kind, yaml_mark_t m)
{
	if (++b->nodes > SL_YAML_MAX_NODES) {
		char why[64];
		snprintf(why, sizeof(why), "more than %d YAML nodes", SL_YAML_MAX_NODES);
		fail_at(b, m, "config is too large", why);
		return NULL;
	}
	struct sl_ynode *n = calloc(1, sizeof(*n));
	if (!n) {
		fail_at(b, m, "out of memory", NULL);
		return NULL;
	}
	n->kind = kind;
	n->loc = mark_loc(b, m);
	return n;
}

/* Children are appended to arrays that double in size, so a long map or
 * sequence costs linear time. */
static int node_append(struct sl_ynode *parent, size_t *cap, struct sl_ynode *key,
		       struct sl_ynode *val)
{
	if (parent->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		void *p = realloc(parent->items, nc * sizeof(*parent->items));
		if (!p)
			return -1;
		parent->items = p;
		if (parent->kind == SL_Y_MAP) {
			p = realloc(parent->keys, nc * sizeof(*parent->keys));
			if (!p)
				return -1;
			parent->keys = p;
		}
		*cap = nc;
	}
	if (parent->kind == SL_Y_MAP)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = val;
	return 0;
}

static int cmp_key_index(const void *a, const void *b, void *keys)
{
	const struct sl_ynode *const *k = keys;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(k[i]->str, k[j]->str);
	if (c)
		return c;
	return i < j ? -1 : i > j;
}

/* Duplicate keys, found by sorting (n log n): the first duplicate in file
 * order is reported, with where its key first stood. */
static int check_duplicates(struct builder *b, const struct sl_ynode *map)
{
	if (map->n < 2)
		return 0;
	size_t *ix = malloc(map->n * sizeof(*ix));
	if (!ix) {
		sl_errf(b->err, &map->loc, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < map->n; i++)
		ix[i] = i;
	qsort_r(ix, map->n, sizeof(*ix), cmp_key_index, map->keys);
	/* Sorted by (key, position): a run of equal keys starts with the
	 * first occurrence, and its second element is the first duplicate. */
	size_t dup = map->n, first = 0;
	for (size_t i = 1, run = 0; i < map->n; i++) {
		if (strcmp(map->keys[ix[i]]->str, map->keys[ix[run]]->str) != 0) {
			run = i;
			continue;
		}
		if (i == run + 1 && ix[i] < dup) {
			dup = ix[i];
			first = ix[run];
		}
	}
	free(ix);
	if (dup == map->n)
		return 0;
	sl_errf(b->err, &map->keys[dup]->loc, "duplicate key '%s' (first at line %d)",
		map->keys[dup]->str, map->keys[first]->loc.line);
	return -1;
}

static struct sl_ynode *parse_node(struct builder *b, yaml_event_t *e, int depth);

static struct sl_ynode *parse_children(struct builder *b, struct sl_ynode *n, int depth)
{
	size_t cap = 0;
	for (;;) {
		yaml_event_t e;
		if (!next_event(b, &e))
			goto fail;
		if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&e);
			break;
		}
		struct sl_ynode *key = NULL;
		if (n->kind == SL_Y_MAP) {
			key = parse_node(b, &e, depth + 1);
			if (!key)
				goto fail;
			if (key->kind != SL_Y_SCALAR) {
				sl_errf(b->err, &key->loc, "mapping keys must be scalars");
				b->failed = true;
				sl_yaml_free(key);
				goto fail;
			}
			if (!next_event(b, &e)) {
				sl_yaml_free(key);
				goto fail;
			}
		}
		struct sl_ynode *val = parse_node(b, &e, depth + 1);
		if (!val || node_append(n, &cap, key, val) < 0) {
			if (val && !b->failed) {
				sl_errf(b->err, &val->loc, "out of memory");
				b->failed = true;
			}
			sl_yaml_free(key);
			sl_yaml_free(val);
			goto fail;
		}
	}
	if (n->kind == SL_Y_MAP && check_duplicates(b, n) < 0) {
		b->failed = true;
		goto fail;
	}
	return n;
fail:
	sl_yaml_free(n);
	return NULL;
}

/* Tags would let a scalar claim a type the loader does not check for. */
static bool has_tag(const yaml_event_t *e)
{
	switch (e->type) {
	case YAML_SCALAR_EVENT:
		return e->data.scalar.tag != NULL;
	case YAML_SEQUENCE_START_EVENT:
		return e->data.sequence_start.tag != NULL;
	case YAML_MAPPING_START_EVENT:
		return e->data.mapping_start.tag != NULL;
	default:
		return false;
	}
}

/* Build the node whose first event is e; consumes e. */
static struct sl_ynode *parse_node(struct builder *b, yaml_event_t *e, int depth)
{
	struct sl_ynode *n = NULL;
	yaml_mark_t m = e->start_mark;

	if (depth > SL_YAML_MAX_DEPTH) {
		char why[64];
		snprintf(why, sizeof(why), "nested more than %d levels deep", SL_YAML_MAX_DEPTH);
		fail_at(b, m, "config is too deeply nested", why);
		yaml_event_delete(e);
		return NULL;
	}
	if (has_tag(e)) {
		fail_at(b, m, "YAML tags are not supported in sluice configs", NULL);
		yaml_event_delete(e);
		return NULL;
	}
	switch (e->type) {
	case YAML_SCALAR_EVENT: {
		const char *txt = (const char *)e->data.scalar.value;
		size_t len = e->data.scalar.length;
		if (memchr(txt, '\0', len)) {
			fail_at(b, m, "a value holds a NUL character", NULL);
			break;
		}
		n = node_new(b, SL_Y_SCALAR, m);
		if (!n)
			break;
		n->str = strndup(txt, len);
		n->quoted = e->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
			    e->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		/* A block scalar (| or >) is text, never a number or a name. */
		n->block = e->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
			   e->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
		if (!n->str) {
			free(n);
			n = NULL;
			fail_at(b, m, "out of memory", NULL);
		}
		break;
	}
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(b, e->type == YAML_MAPPING_START_EVENT ? SL_Y_MAP : SL_Y_SEQ, m);
		yaml_event_delete(e);
		return n ? parse_children(b, n, depth) : NULL;
	case YAML_ALIAS_EVENT:
		fail_at(b, m, "YAML aliases are not supported in sluice configs", NULL);
		break;
	default:
		fail_at(b, m, "unexpected YAML event", NULL);
		break;
	}
	yaml_event_delete(e);
	return n;
}

struct sl_ynode *sl_yaml_load(const char *buf, size_t len, const char *file, struct sl_err *err)
{
	struct builder b = {.file = file, .err = err};
	struct sl_ynode *root = NULL;
	struct sl_loc top = {file, 1, 1};
	bool done = false;

	err->msg[0] = '\0';
	if (!yaml_parser_initialize(&b.p)) {
		sl_errf(err, &top, "cannot create the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(&b.p, (const unsigned char *)buf, len);
	while (!done && !b.failed) {
		yaml_event_t e;
		if (!next_event(&b, &e))
			break;
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			yaml_event_delete(&e);
			break;
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			yaml_event_delete(&e);
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (root) {
				struct sl_loc loc = mark_loc(&b, e.start_mark);
				sl_errf(err, &loc,
					"a config holds one YAML document; a second one starts "
					"here");
				b.failed = true;
			}
			yaml_event_delete(&e);
			break;
		default:
			root = parse_node(&b, &e, 0);
			break;
		}
	}
	yaml_parser_delete(&b.p);
	if (b.failed) {
		sl_yaml_free(root);
		return NULL;
	}
	if (!root)
		sl_errf(err, &top, "config is empty");
	return root;
}
