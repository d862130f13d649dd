/* commands.c: one handler per command of the public protocol, a table that
 * maps names to them, and the checks that refuse bad requests before the
 * dataplane sees them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "control/daemon.h"
#include "control/graph_view.h"

typedef json_t *(*handler_fn)(struct sl_daemon *d, unsigned idx, json_t *req);

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
	json_object_set_new(r, "cores", sl_pool_view(d->cfg));
	json_object_set_new(r, "clusters", sl_mapping_view(d->cfg, d->mapping));
	return sl_proto_ok(json_object_get(req, "id"), r);
}

static json_t *cmd_graph_show(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)idx;
	json_t *reply = NULL;
	bool dot = false;
	if (sl_proto_get_bool(req, "dot", &dot, &reply) < 0)
		return reply;
	return sl_proto_ok(json_object_get(req, "id"), sl_graph_view(d->cfg, d->mapping, dot));
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
	/* The dataplane takes the config's text, never a path. */
	char *text;
	size_t text_len;
	struct sl_err ferr;
	if (sl_config_read_file(abs, &text, &text_len, &ferr) < 0)
		return sl_proto_error(id, "invalid_config", "path", "%s", ferr.msg);
	json_object_set_new(req, "config", json_stringn(text, text_len));
	json_object_set_new(req, "name", json_string(abs));
	free(text);
	return sl_sup_forward(d, idx, req, abs, 0, &reply) < 0 ? reply : NULL;
}

static json_t *cmd_map_show(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)idx;
	json_t *r = json_object();
	json_object_set_new(r, "clusters", sl_mapping_view(d->cfg, d->mapping));
	json_object_set_new(r, "cores", sl_pool_view(d->cfg));
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
