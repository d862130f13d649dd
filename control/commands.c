/* commands.c: one handler per command of the public protocol, a table that
 * maps names to them, and the checks that refuse bad requests before the
 * dataplane sees them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "control/daemon.h"

typedef json_t *(*handler_fn)(struct sl_daemon *d, unsigned idx, json_t *req);

static const char *instance_name(const struct sl_config *c, unsigned s, unsigned i, char *buf,
				 size_t len)
{
	if (c->stages[s].instances > 1)
		snprintf(buf, len, "%s[%u]", c->stages[s].name, i);
	else
		snprintf(buf, len, "%s", c->stages[s].name);
	return buf;
}

static json_t *pool_json(const struct sl_config *c)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < c->dp.n_cores; i++)
		json_array_append_new(a, json_integer(c->dp.cores[i]));
	return a;
}

static json_t *mapping_json(struct sl_daemon *d)
{
	json_t *m = json_object();
	for (unsigned i = 0; i < d->cfg->n_clusters; i++)
		json_object_set_new(m, d->cfg->clusters[i].name, json_integer(d->mapping[i]));
	return m;
}

static json_t *cmd_status(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)idx;
	json_t *r = json_object(), *dp = json_object();
	json_object_set_new(r, "uptime_s", json_real(sl_now() - d->started));
	json_object_set_new(r, "config", json_string(d->config_path));
	json_object_set_new(r, "socket", json_string(d->socket_path));
	json_object_set_new(r, "name", json_string(d->cfg->dp.name));
	json_object_set_new(dp, "state", json_string(sl_sup_phase_name(d->phase)));
	json_object_set_new(dp, "pid", json_integer(d->dp_pid));
	json_object_set_new(dp, "restarts", json_integer(d->restarts));
	json_object_set_new(dp, "last_exit", json_string(d->last_exit));
	json_object_set_new(dp, "uptime_s", json_real(d->dp_pid ? sl_now() - d->dp_started : 0.0));
	json_object_set_new(dp, "backoff_s",
			    json_real(d->phase == SL_DP_BACKOFF ? d->backoff_until - sl_now() : 0));
	json_object_set_new(r, "dataplane", dp);
	json_object_set_new(r, "cores", pool_json(d->cfg));
	json_object_set_new(r, "clusters", mapping_json(d));
	return sl_proto_ok(json_object_get(req, "id"), r);
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
static char *graph_dot(struct sl_daemon *d)
{
	const struct sl_config *c = d->cfg;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char a[SL_NAME_MAX + 8], b[SL_NAME_MAX + 8], e[128];

	fprintf(f, "digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box];\n", c->dp.name);
	for (unsigned k = 0; k < c->n_clusters; k++) {
		dot_escape(e, sizeof(e), c->clusters[k].name);
		fprintf(f, "  subgraph \"cluster_%s\" {\n    label=\"%s (core %d)\";\n", e, e,
			d->mapping[k]);
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
				sl_stage_output_name(fs->type, ed[k].fport, pb, sizeof(pb)),
				ring ? ", style=bold, color=blue" : "");
		}
	}
	fprintf(f, "}\n");
	fclose(f);
	return buf;
}

static json_t *cmd_graph_show(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)idx;
	json_t *reply = NULL;
	bool dot = false;
	if (sl_proto_get_bool(req, "dot", &dot, &reply) < 0)
		return reply;
	const struct sl_config *c = d->cfg;
	json_t *r = json_object(), *stages = json_array(), *conns = json_array();
	char a[SL_NAME_MAX + 8], b[SL_NAME_MAX + 8], pb[SL_LABEL_MAX];
	for (unsigned s = 0; s < c->n_stages; s++)
		for (unsigned i = 0; i < c->stages[s].instances; i++) {
			int k = c->stages[s].cluster[i];
			json_array_append_new(
			    stages, json_pack("{s:s, s:s, s:s, s:i}", "name",
					      instance_name(c, s, i, a, sizeof(a)), "type",
					      c->stages[s].type->name, "cluster",
					      c->clusters[k].name, "core", d->mapping[k]));
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
				      sl_stage_output_name(fs->type, ed[k].fport, pb, sizeof(pb)),
				      "to", instance_name(c, ed[k].ts, ed[k].ti, b, sizeof(b)),
				      "kind", ring ? "ring" : "call"));
		}
	}
	json_object_set_new(r, "config", json_string(d->config_path));
	json_object_set_new(r, "stages", stages);
	json_object_set_new(r, "connectors", conns);
	json_object_set_new(r, "clusters", mapping_json(d));
	if (dot) {
		char *s = graph_dot(d);
		json_object_set_new(r, "dot", json_string(s));
		free(s);
	}
	return sl_proto_ok(json_object_get(req, "id"), r);
}

static json_t *config_summary(const struct sl_config *c)
{
	return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "config", c->file, "name", c->dp.name,
			 "ports", c->n_ports, "stages", c->n_stages, "clusters", c->n_clusters,
			 "links", c->n_links);
}

/* Load path as a config; on error build the reply (code invalid_config). */
static struct sl_config *load_for_request(json_t *req, const char **path, json_t **reply)
{
	if (sl_proto_get_str(req, "path", true, path, reply) < 0)
		return NULL;
	struct sl_config *c = NULL;
	struct sl_err err;
	if (sl_config_load(*path, &c, &err) < 0) {
		*reply = sl_proto_error(json_object_get(req, "id"), "invalid_config", "path", "%s",
					err.msg);
		return NULL;
	}
	return c;
}

static json_t *cmd_graph_validate(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)d;
	(void)idx;
	const char *path;
	json_t *reply = NULL;
	struct sl_config *c = load_for_request(req, &path, &reply);
	if (!c)
		return reply;
	reply = sl_proto_ok(json_object_get(req, "id"), config_summary(c));
	sl_config_free(c);
	return reply;
}

static json_t *cmd_graph_load(struct sl_daemon *d, unsigned idx, json_t *req)
{
	const char *path;
	json_t *reply = NULL, *id = json_object_get(req, "id");
	struct sl_config *c = load_for_request(req, &path, &reply);
	if (!c)
		return reply;
	bool same_pool = c->dp.n_cores == d->cfg->dp.n_cores;
	for (unsigned i = 0; same_pool && i < c->dp.n_cores; i++)
		same_pool = c->dp.cores[i] == d->cfg->dp.cores[i];
	if (strcmp(c->dp.name, d->cfg->dp.name) || !same_pool) {
		sl_config_free(c);
		return sl_proto_error(id, "needs_restart", "path",
				      "dataplane.name and dataplane.cores cannot change in a graph "
				      "load (they fix the EAL set-up); restart the dataplane");
	}
	sl_config_free(c);
	char abs[PATH_MAX];
	if (!realpath(path, abs))
		snprintf(abs, sizeof(abs), "%s", path);
	return sl_sup_forward(d, idx, req, abs, 0, &reply) < 0 ? reply : NULL;
}

static json_t *cmd_map_show(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)idx;
	json_t *r = json_object();
	json_object_set_new(r, "clusters", mapping_json(d));
	json_object_set_new(r, "cores", pool_json(d->cfg));
	return sl_proto_ok(json_object_get(req, "id"), r);
}

static json_t *cmd_map_set(struct sl_daemon *d, unsigned idx, json_t *req)
{
	json_t *reply = NULL, *id = json_object_get(req, "id");
	const char *cluster;
	long long core;
	if (sl_proto_get_str(req, "cluster", true, &cluster, &reply) < 0 ||
	    sl_proto_get_int(req, "core", true, 0, INT_MAX, &core, &reply) < 0)
		return reply;
	int ci = -1;
	for (unsigned i = 0; i < d->cfg->n_clusters && ci < 0; i++)
		if (!strcmp(d->cfg->clusters[i].name, cluster))
			ci = (int)i;
	if (ci < 0)
		return sl_proto_error(id, "not_found", "cluster", "no cluster named '%s'", cluster);
	bool in_pool = false;
	for (unsigned i = 0; i < d->cfg->dp.n_cores; i++)
		in_pool |= d->cfg->dp.cores[i] == core;
	if (!in_pool) {
		char pool[256] = "";
		for (unsigned i = 0; i < d->cfg->dp.n_cores; i++)
			snprintf(pool + strlen(pool), sizeof(pool) - strlen(pool), "%s%u",
				 i ? ", " : "", d->cfg->dp.cores[i]);
		return sl_proto_error(id, "out_of_pool", "core",
				      "core %lld is not in the core pool [%s]", core, pool);
	}
	return sl_sup_forward(d, idx, req, cluster, (int)core, &reply) < 0 ? reply : NULL;
}

static json_t *cmd_counters(struct sl_daemon *d, unsigned idx, json_t *req)
{
	json_t *reply = NULL, *id = json_object_get(req, "id");
	const char *kind = "all";
	bool reset = false;
	char err[256];
	if (sl_proto_get_str(req, "kind", false, &kind, &reply) < 0 ||
	    sl_proto_get_bool(req, "reset", &reset, &reply) < 0)
		return reply;
	if (strcmp(kind, "all") && strcmp(kind, "stages") && strcmp(kind, "connectors") &&
	    strcmp(kind, "ports"))
		return sl_proto_error(id, "bad_field", "kind",
				      "'kind' must be all, stages, connectors or ports");
	json_t *v = sl_view_counters(d, err, sizeof(err));
	if (!v)
		return sl_proto_error(id, "dataplane_down", NULL, "%s", err);
	if (reset) {
		sl_log(LOG_NOTICE, "counters reset from uid %u pid %d",
		       (unsigned)d->clients[idx].uid, (int)d->clients[idx].pid);
		if (sl_view_reset(d, err, sizeof(err)) < 0) {
			json_decref(v);
			return sl_proto_error(id, "dataplane_down", NULL, "%s", err);
		}
	}
	static const char *const kinds[] = {"stages", "connectors", "ports", NULL};
	for (const char *const *k = kinds; *k; k++)
		if (strcmp(kind, "all") && strcmp(kind, *k))
			json_object_del(v, *k);
	return sl_proto_ok(id, v);
}

static json_t *cmd_dataplane_restart(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)idx;
	sl_sup_restart(d);
	return sl_proto_ok(json_object_get(req, "id"), json_pack("{s:b}", "restarting", 1));
}

static json_t *cmd_shutdown(struct sl_daemon *d, unsigned idx, json_t *req)
{
	if (d->dp_pid == 0) {
		d->quit = true;
		return sl_proto_ok(json_object_get(req, "id"), NULL);
	}
	json_t *id = json_object_get(req, "id");
	d->shutdown_id = id ? json_incref(id) : NULL;
	sl_sup_stop(d, idx);
	return NULL; /* answered when the dataplane has exited */
}

static const struct {
	const char *name;
	handler_fn fn;
	bool mutates;
} commands[] = {
    {"status", cmd_status, false},
    {"graph_show", cmd_graph_show, false},
    {"graph_validate", cmd_graph_validate, false},
    {"graph_load", cmd_graph_load, true},
    {"map_show", cmd_map_show, false},
    {"map_set", cmd_map_set, true},
    {"counters", cmd_counters, false},
    {"dataplane_restart", cmd_dataplane_restart, true},
    {"shutdown", cmd_shutdown, true},
};

bool sl_command_mutates(const char *cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd))
			return commands[i].mutates;
	return false;
}

json_t *sl_command(struct sl_daemon *d, unsigned idx, json_t *req)
{
	json_t *id = json_object_get(req, "id");
	json_t *cmd = json_object_get(req, "cmd");
	if (!cmd)
		return sl_proto_error(id, "missing_field", "cmd", "'cmd' is required");
	if (!json_is_string(cmd))
		return sl_proto_error(id, "bad_field", "cmd", "'cmd' must be a string");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, json_string_value(cmd)))
			return commands[i].fn(d, idx, req);
	return sl_proto_error(id, "unknown_command", "cmd", "unknown command '%s'",
			      json_string_value(cmd));
}
