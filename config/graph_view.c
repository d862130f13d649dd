/* graph_view.c: the running graph, its mapping and the core pool as the
 * control protocol shows them (JSON, and Graphviz with clusters as
 * subgraphs). Shared by sluiced and by a dataplane serving the protocol
 * itself. */
#include <stdio.h>
#include <stdlib.h>

#include "config/graph_view.h"

static const char *instance_name(const struct sl_config *c, unsigned s, unsigned i, char *buf,
				 size_t len)
{
	if (c->stages[s].instances > 1)
		snprintf(buf, len, "%s[%u]", c->stages[s].name, i);
	else
		snprintf(buf, len, "%s", c->stages[s].name);
	return buf;
}

json_t *sl_pool_view(const struct sl_config *c)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < c->dp.n_cores; i++)
		json_array_append_new(a, json_integer(c->dp.cores[i]));
	return a;
}

json_t *sl_mapping_view(const struct sl_config *c, const int *mapping)
{
	json_t *m = json_object();
	for (unsigned i = 0; i < c->n_clusters; i++)
		json_object_set_new(m, c->clusters[i].name, json_integer(mapping[i]));
	return m;
}

static void dot_escape(char *out, size_t len, const char *in)
{
	size_t o = 0;
	for (; *in && o + 2 < len; in++) {
		if (*in == '"' || *in == '\\')
			out[o++] = '\\';
		out[o++] = *in;
	}
	out[o] = '\0';
}

/* Graphviz: clusters as subgraphs, one node per stage instance. */
static char *graph_dot(const struct sl_config *c, const int *mapping)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char a[SL_NAME_MAX + 8], b[SL_NAME_MAX + 8], e[128];

	fprintf(f, "digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box];\n", c->dp.name);
	for (unsigned k = 0; k < c->n_clusters; k++) {
		dot_escape(e, sizeof(e), c->clusters[k].name);
		fprintf(f, "  subgraph \"cluster_%s\" {\n    label=\"%s (core %d)\";\n", e, e,
			mapping[k]);
		for (unsigned s = 0; s < c->n_stages; s++)
			for (unsigned i = 0; i < c->stages[s].instances; i++)
				if (c->stages[s].cluster[i] == (int)k) {
					dot_escape(e, sizeof(e),
						   instance_name(c, s, i, a, sizeof(a)));
					fprintf(f, "    \"%s\" [label=\"%s\\n%s\"];\n", e, e,
						c->stages[s].type->name);
				}
		fprintf(f, "  }\n");
	}
	for (unsigned l = 0; l < c->n_links; l++) {
		struct sl_conf_edge ed[SL_STAGE_MAX_OUTPUTS];
		unsigned n = sl_config_expand_link(c, &c->links[l], ed);
		for (unsigned k = 0; k < n; k++) {
			char pb[SL_LABEL_MAX], ea[128], eb[128];
			const struct sl_conf_stage *fs = &c->stages[ed[k].fs];
			dot_escape(ea, sizeof(ea),
				   instance_name(c, ed[k].fs, ed[k].fi, a, sizeof(a)));
			dot_escape(eb, sizeof(eb),
				   instance_name(c, ed[k].ts, ed[k].ti, b, sizeof(b)));
			bool ring = fs->cluster[ed[k].fi] != c->stages[ed[k].ts].cluster[ed[k].ti];
			fprintf(f, "  \"%s\" -> \"%s\" [label=\"%s\"%s];\n", ea, eb,
				sl_conf_stage_output_name(fs, ed[k].fport, pb, sizeof(pb)),
				ring ? ", style=bold, color=blue" : "");
		}
	}
	fprintf(f, "}\n");
	fclose(f);
	return buf;
}

json_t *sl_graph_view(const struct sl_config *c, const int *mapping, bool dot)
{
	json_t *r = json_object(), *stages = json_array(), *conns = json_array();
	char a[SL_NAME_MAX + 8], b[SL_NAME_MAX + 8], pb[SL_LABEL_MAX];
	for (unsigned s = 0; s < c->n_stages; s++)
		for (unsigned i = 0; i < c->stages[s].instances; i++) {
			int k = c->stages[s].cluster[i];
			json_array_append_new(stages,
					      json_pack("{s:s, s:s, s:s, s:i}", "name",
							instance_name(c, s, i, a, sizeof(a)),
							"type", c->stages[s].type->name, "cluster",
							c->clusters[k].name, "core", mapping[k]));
		}
	for (unsigned l = 0; l < c->n_links; l++) {
		struct sl_conf_edge ed[SL_STAGE_MAX_OUTPUTS];
		unsigned n = sl_config_expand_link(c, &c->links[l], ed);
		for (unsigned k = 0; k < n; k++) {
			const struct sl_conf_stage *fs = &c->stages[ed[k].fs];
			bool ring = fs->cluster[ed[k].fi] != c->stages[ed[k].ts].cluster[ed[k].ti];
			json_array_append_new(
			    conns,
			    json_pack("{s:s, s:s, s:s, s:s}", "from",
				      instance_name(c, ed[k].fs, ed[k].fi, a, sizeof(a)), "port",
				      sl_conf_stage_output_name(fs, ed[k].fport, pb, sizeof(pb)),
				      "to", instance_name(c, ed[k].ts, ed[k].ti, b, sizeof(b)),
				      "kind", ring ? "ring" : "call"));
		}
	}
	json_object_set_new(r, "config", json_string(c->file));
	json_object_set_new(r, "stages", stages);
	json_object_set_new(r, "connectors", conns);
	json_object_set_new(r, "clusters", sl_mapping_view(c, mapping));
	if (dot) {
		char *s = graph_dot(c, mapping);
		json_object_set_new(r, "dot", json_string(s));
		free(s);
	}
	return r;
}
