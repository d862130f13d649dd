/* yaml_tree.h: a small owned YAML tree built from libyaml's event stream, so
 * that every node (maps and sequences too) carries its line and column and
 * duplicate keys are reported where they stand. Parsing is bounded: at most
 * SL_YAML_MAX_DEPTH levels of nesting and SL_YAML_MAX_NODES nodes. */
#ifndef SL_YAML_TREE_H
#define SL_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/diag.h"

#define SL_YAML_MAX_DEPTH 32
#define SL_YAML_MAX_NODES 100000

enum sl_ynode_kind { SL_Y_SCALAR, SL_Y_MAP, SL_Y_SEQ };

struct sl_ynode {
	enum sl_ynode_kind kind;
	struct sl_loc loc;
	char *str;   /* scalar text */
	bool quoted; /* scalar was quoted: its text starts one column later */
	bool block;  /* scalar was a block scalar (| or >) */
	size_t n;
	struct sl_ynode **keys;	 /* map keys (scalars) */
	struct sl_ynode **items; /* map values or sequence items */
};

/* Parse len bytes of buf into a tree. file is kept by pointer in every loc. */
struct sl_ynode *sl_yaml_load(const char *buf, size_t len, const char *file, struct sl_err *err);
void sl_yaml_free(struct sl_ynode *n);

/* Value of key in map n, or NULL. */
struct sl_ynode *sl_yaml_get(const struct sl_ynode *n, const char *key);
const char *sl_yaml_kind_name(enum sl_ynode_kind k);

#endif
