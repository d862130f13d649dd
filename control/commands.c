/* commands.c: the one table of sluiced's commands (name, whether it mutates,
 * handler, help) and the handlers, with the checks that refuse bad requests
 * before the dataplane sees them. The server checks a command's mutates flag
 * against the peer's role before it calls the handler. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "control/daemon.h"
#include "control/log.h"
#include "control/commands.h"
#include "control/stats_view.h"
#include "control/supervisor.h"
#include "config/graph_view.h"

static json_t *cmd_status(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)idx;
	json_t *r = json_object(), *dp = json_object();
	json_object_set_new(r, "uptime_s", json_real(sl_now() - d->started));
	json_object_set_new(r, "config", json_string(d->config_name));
	json_object_set_new(r, "socket", json_string(d->socket_path));
	json_object_set_new(r, "name", json_string(d->cfg->dp.name));
	json_object_set_new(dp, "state", json_string(sl_phase_name(d->phase)));
	json_object_set_new(dp, "pid", json_integer(d->dp_pid));
	json_object_set_new(dp, "restarts", json_integer(d->restarts));
	json_object_set_new(dp, "last_exit", json_string(d->last_exit));
	json_object_set_new(dp, "uptime_s", json_real(d->dp_pid ? sl_now() - d->dp_started : 0.0));
	json_object_set_new(
	    dp, "backoff_s",
	    json_real(d->phase == SL_SUP_BACKOFF ? d->backoff_until - sl_now() : 0));
	json_object_set_new(r, "dataplane", dp);
	json_object_set_new(r, "cores", sl_pool_view(d->cfg));
	json_object_set_new(r, "clusters", sl_mapping_view(d->cfg, d->mapping));
	/* Which driver runs each port and how (driver: auto's choice, the
	 * AF_XDP mode): from the stats segment, when the dataplane runs. */
	char err[256];
	json_t *cv = sl_view_counters(d, err, sizeof(err)), *ports = json_array(), *e;
	size_t i;
	json_array_foreach(cv ? json_object_get(cv, "ports") : NULL, i, e) json_array_append_new(
	    ports, json_pack("{s:O?, s:O?, s:O?}", "name", json_object_get(e, "name"), "driver",
			     json_object_get(e, "driver"), "note", json_object_get(e, "note")));
	json_decref(cv);
	json_object_set_new(r, "ports", ports);
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

/* The config a request carries: its text in "config" and the client's file
 * name in "name". sluiced never opens a path a client names, so "path" is
 * refused. Loaded as untrusted: files its devices name must lie in the
 * dataplane.file_dirs we were started with. On error builds the reply. */
static struct sl_config *load_for_request(struct sl_daemon *d, json_t *req, const char **text,
					  size_t *text_len, const char **name, json_t **reply)
{
	json_t *id = json_object_get(req, "id");
	if (json_object_get(req, "path")) {
		*reply = sl_proto_error(id, "bad_field", "path",
					"sluiced opens no client's paths: send the config's text "
					"in 'config' (and its file name in 'name')");
		return NULL;
	}
	*name = "config";
	json_t *t = json_object_get(req, "config");
	if (sl_proto_get_str(req, "name", false, name, reply) < 0)
		return NULL;
	if (!t) {
		*reply = sl_proto_error(id, "missing_field", "config",
					"'config' (the config's text) is required");
		return NULL;
	}
	if (!json_is_string(t)) {
		*reply = sl_proto_error(id, "bad_field", "config", "'config' must be a string");
		return NULL;
	}
	if (strlen(*name) > 4096) {
		*reply =
		    sl_proto_error(id, "bad_field", "name", "'name' is longer than 4096 bytes");
		return NULL;
	}
	*text = json_string_value(t);
	*text_len = json_string_length(t);
	if (*text_len > SL_CONFIG_MAX_BYTES) {
		*reply = sl_proto_error(id, "invalid_config", "config",
					"%s: %zu bytes; a config is at most %u bytes", *name,
					*text_len, SL_CONFIG_MAX_BYTES);
		return NULL;
	}
	const struct sl_config_policy policy = {true, d->file_dirs, d->n_file_dirs, d->plugins,
						d->n_plugins};
	struct sl_config *c = NULL;
	struct sl_err err;
	if (sl_config_load_buffer(*text, *text_len, *name, &policy, &c, &err) < 0) {
		*reply = sl_proto_error(id, "invalid_config", "config", "%s", err.msg);
		return NULL;
	}
	return c;
}

static json_t *cmd_graph_validate(struct sl_daemon *d, unsigned idx, json_t *req)
{
	(void)idx;
	const char *text, *name;
	size_t len;
	json_t *reply = NULL;
	struct sl_config *c = load_for_request(d, req, &text, &len, &name, &reply);
	if (!c)
		return reply;
	reply = sl_proto_ok(json_object_get(req, "id"), config_summary(c));
	sl_config_free(c);
	return reply;
}

static json_t *cmd_graph_load(struct sl_daemon *d, unsigned idx, json_t *req)
{
	const char *text, *name;
	size_t len;
	json_t *reply = NULL, *id = json_object_get(req, "id");
	struct sl_config *c = load_for_request(d, req, &text, &len, &name, &reply);
	if (!c)
		return reply;
	bool same_pool = c->dp.n_cores == d->cfg->dp.n_cores;
	for (unsigned i = 0; same_pool && i < c->dp.n_cores; i++)
		same_pool = c->dp.cores[i] == d->cfg->dp.cores[i];
	bool same_name = !strcmp(c->dp.name, d->cfg->dp.name);
	sl_config_free(c);
	if (!same_name || !same_pool)
		return sl_proto_error(id, "needs_restart", "config",
				      "dataplane.name and dataplane.cores cannot change in a graph "
				      "load (they fix the EAL set-up); restart the dataplane");
	/* Forward exactly what we checked: the dataplane's own fields only. */
	json_t *fwd = json_object();
	json_object_set(fwd, "cmd", json_object_get(req, "cmd"));
	if (id)
		json_object_set(fwd, "id", id);
	json_object_set_new(fwd, "config", json_stringn(text, len));
	json_object_set_new(fwd, "name", json_string(name));
	struct sl_pending *p = sl_sup_forward(d, idx, fwd, NULL, 0, &reply);
	if (p) {
		/* Remember the bytes: they become the last good config when
		 * the dataplane says the load worked. */
		p->text = malloc(len ? len : 1);
		p->name = strdup(name);
		if (p->text)
			memcpy(p->text, text, len);
		p->text_len = len;
	}
	json_decref(fwd);
	return p ? NULL : reply;
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
	return sl_sup_forward(d, idx, req, cluster, (int)core, &reply) ? NULL : reply;
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

/* Forward the named fields of req that are present, and nothing else. */
static json_t *forward_fields(struct sl_daemon *d, unsigned idx, json_t *req,
			      const char *const *fields)
{
	json_t *reply = NULL, *fwd = json_object();
	json_object_set(fwd, "cmd", json_object_get(req, "cmd"));
	if (json_object_get(req, "id"))
		json_object_set(fwd, "id", json_object_get(req, "id"));
	for (const char *const *f = fields; *f; f++)
		if (json_object_get(req, *f))
			json_object_set(fwd, *f, json_object_get(req, *f));
	struct sl_pending *p = sl_sup_forward(d, idx, fwd, NULL, 0, &reply);
	json_decref(fwd);
	return p ? NULL : reply;
}

/* Live capture: the dataplane checks the fields (it knows the graph); the
 * reply brings the stream's read end, which goes on to the client. It
 * shows packet contents, so only admins may (see the table). */
static json_t *cmd_capture(struct sl_daemon *d, unsigned idx, json_t *req)
{
	static const char *const fields[] = {"point",	 "filter",  "count",
					     "duration", "snaplen", NULL};
	return forward_fields(d, idx, req, fields);
}

static json_t *cmd_trace(struct sl_daemon *d, unsigned idx, json_t *req)
{
	static const char *const fields[] = {"count", "filter", "timeout", NULL};
	return forward_fields(d, idx, req, fields);
}

const struct sl_command_def sl_commands[] = {
    {"status", false, NULL, cmd_status, "sluiced and dataplane state, cores, clusters"},
    {"graph_show", false, NULL, cmd_graph_show, "the running graph"},
    {"graph_validate", false, NULL, cmd_graph_validate, "check a config's text, apply nothing"},
    {"graph_load", true, NULL, cmd_graph_load, "replace the running graph"},
    {"map_show", false, NULL, cmd_map_show, "cluster -> core"},
    {"map_set", true, NULL, cmd_map_set, "move a cluster to another core, live"},
    {"counters", false, "reset", cmd_counters, "counters; with reset, also zero them"},
    {"dataplane_restart", true, NULL, cmd_dataplane_restart, "restart the dataplane"},
    {"shutdown", true, NULL, cmd_shutdown, "stop the dataplane and sluiced"},
    /* Not changes, but they show packet contents: admins only. */
    {"capture", true, NULL, cmd_capture, "stream the packets at a graph point as pcapng"},
    {"trace", true, NULL, cmd_trace, "follow the next packets through the graph"},
};

const size_t sl_n_commands = sizeof(sl_commands) / sizeof(sl_commands[0]);
