/* yaml_tree.c: builds the located YAML tree of yaml_tree.h from libfyaml
 * events and turns libfyaml's own syntax errors into file:line:col messages. */
#include "control/yaml_tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

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
	struct fy_parser *fyp;
	const char *file;
	struct sl_err *err;
};

static struct sl_ynode *node_new(enum sl_ynode_kind kind, const char *file, struct fy_event *e)
{
	struct sl_ynode *n = calloc(1, sizeof(*n));
	const struct fy_mark *m = fy_event_start_mark(e);

	if (!n)
		return NULL;
	n->kind = kind;
	n->loc.file = file;
	n->loc.line = m ? m->line + 1 : 0;
	n->loc.col = m ? m->column + 1 : 0;
	return n;
}

static int node_append(struct sl_ynode *parent, struct sl_ynode *key, struct sl_ynode *val)
{
	void *p = realloc(parent->items, (parent->n + 1) * sizeof(*parent->items));
	if (!p)
		return -1;
	parent->items = p;
	if (parent->kind == SL_Y_MAP) {
		p = realloc(parent->keys, (parent->n + 1) * sizeof(*parent->keys));
		if (!p)
			return -1;
		parent->keys = p;
		parent->keys[parent->n] = key;
	}
	parent->items[parent->n++] = val;
	return 0;
}

static int syntax_error(struct builder *b, struct fy_diag *diag)
{
	void *it = NULL;
	struct fy_diag_error *de;

	while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
		struct sl_loc loc = {b->file, de->line + 1, de->column + 1};
		return sl_errf(b->err, &loc, "YAML syntax error: %s", de->msg);
	}
	struct sl_loc loc = {b->file, 1, 1};
	return sl_errf(b->err, &loc, "YAML syntax error");
}

/* Parse one node whose first event is e (already taken). */
static struct sl_ynode *parse_node(struct builder *b, struct fy_event *e);

static struct sl_ynode *parse_children(struct builder *b, struct sl_ynode *n)
{
	for (;;) {
		struct fy_event *e = fy_parser_parse(b->fyp);
		if (!e)
			goto fail;
		if (e->type == FYET_MAPPING_END || e->type == FYET_SEQUENCE_END) {
			fy_parser_event_free(b->fyp, e);
			return n;
		}
		struct sl_ynode *key = NULL;
		if (n->kind == SL_Y_MAP) {
			key = parse_node(b, e);
			if (!key)
				goto fail;
			if (key->kind != SL_Y_SCALAR) {
				sl_errf(b->err, &key->loc, "mapping keys must be scalars");
				sl_yaml_free(key);
				goto fail;
			}
			struct sl_ynode *dup = NULL;
			for (size_t i = 0; i < n->n && !dup; i++)
				if (strcmp(n->keys[i]->str, key->str) == 0)
					dup = n->keys[i];
			if (dup) {
				sl_errf(b->err, &key->loc, "duplicate key '%s' (first at line %d)",
					key->str, dup->loc.line);
				sl_yaml_free(key);
				goto fail;
			}
			e = fy_parser_parse(b->fyp);
			if (!e) {
				sl_yaml_free(key);
				goto fail;
			}
		}
		struct sl_ynode *val = parse_node(b, e);
		if (!val || node_append(n, key, val) < 0) {
			sl_yaml_free(key);
			sl_yaml_free(val);
			goto fail;
		}
	}
fail:
	sl_yaml_free(n);
	return NULL;
}

static struct sl_ynode *parse_node(struct builder *b, struct fy_event *e)
{
	struct sl_ynode *n = NULL;

	switch (e->type) {
	case FYET_SCALAR: {
		size_t len = 0;
		const char *txt = fy_token_get_text(e->scalar.value, &len);
		n = node_new(SL_Y_SCALAR, b->file, e);
		if (n) {
			n->str = strndup(txt ? txt : "", len);
			n->quoted = fy_token_scalar_style(e->scalar.value) == FYSS_SINGLE_QUOTED ||
				    fy_token_scalar_style(e->scalar.value) == FYSS_DOUBLE_QUOTED;
		}
		fy_parser_event_free(b->fyp, e);
		return n;
	}
	case FYET_MAPPING_START:
	case FYET_SEQUENCE_START:
		n = node_new(e->type == FYET_MAPPING_START ? SL_Y_MAP : SL_Y_SEQ, b->file, e);
		fy_parser_event_free(b->fyp, e);
		return n ? parse_children(b, n) : NULL;
	case FYET_ALIAS: {
		struct sl_ynode tmp = {0};
		const struct fy_mark *m = fy_event_start_mark(e);
		tmp.loc = (struct sl_loc){b->file, m ? m->line + 1 : 0, m ? m->column + 1 : 0};
		sl_errf(b->err, &tmp.loc, "YAML aliases are not supported in sluice configs");
		fy_parser_event_free(b->fyp, e);
		return NULL;
	}
	default:
		fy_parser_event_free(b->fyp, e);
		return NULL;
	}
}

struct sl_ynode *sl_yaml_load(const char *buf, size_t len, const char *file, struct sl_err *err)
{
	struct fy_diag_cfg dcfg;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.level = FYET_ERROR;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET, .diag = diag};
	struct builder b = {.file = file, .err = err};
	struct sl_ynode *root = NULL;
	struct sl_loc top = {file, 1, 1};

	if (!diag) {
		sl_errf(err, &top, "cannot create YAML diagnostics");
		return NULL;
	}
	fy_diag_set_collect_errors(diag, true);
	b.fyp = fy_parser_create(&pcfg);
	if (!b.fyp) {
		sl_errf(err, &top, "cannot create YAML parser");
		fy_diag_unref(diag);
		return NULL;
	}
	if (fy_parser_set_string(b.fyp, buf, len) != 0) {
		sl_errf(err, &top, "cannot read config");
		goto out;
	}

	err->msg[0] = '\0';
	struct fy_event *e;
	int depth_docs = 0;
	while ((e = fy_parser_parse(b.fyp)) != NULL) {
		if (e->type == FYET_MAPPING_START || e->type == FYET_SEQUENCE_START ||
		    e->type == FYET_SCALAR || e->type == FYET_ALIAS) {
			if (depth_docs++ > 0 || root) {
				sl_errf(err, &top, "a config holds one YAML document");
				fy_parser_event_free(b.fyp, e);
				sl_yaml_free(root);
				root = NULL;
				goto out;
			}
			root = parse_node(&b, e);
			if (!root)
				break;
		} else {
			fy_parser_event_free(b.fyp, e);
		}
	}
	if (fy_parser_get_stream_error(b.fyp) || fy_diag_got_error(diag)) {
		sl_yaml_free(root);
		root = NULL;
		syntax_error(&b, diag);
	} else if (!root && err->msg[0] == '\0') {
		sl_errf(err, &top, "config is empty");
	}
out:
	fy_parser_destroy(b.fyp);
	fy_diag_unref(diag);
	return root;
}
