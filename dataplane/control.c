/* control.c: serves the dataplane's control commands (hello, map_set,
 * graph_load, capture, trace, shutdown) on the management thread. */
#include "dataplane/control.h"

#include <stdlib.h>
#include <time.h>

#include "config/graph_view.h"
#include "dataplane/observe_ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int sl_dp_ctl_open(struct sl_dp_ctl *c, int inherited_fd, const char *listen_path,
		   struct sl_runtime **rt, const struct sl_dp_ops *ops, char *err, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	c->rt = rt;
	c->ops = *ops;
	if (inherited_fd >= 0) {
		c->serial[c->n_conns] = ++c->next_serial;
		sl_lineconn_init(&c->conns[c->n_conns++], inherited_fd);
	}
	if (!listen_path)
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(listen_path) >= sizeof(sa.sun_path)) {
		snprintf(err, len, "control socket path too long: %s", listen_path);
		return -1;
	}
	strcpy(sa.sun_path, listen_path);
	snprintf(c->path, sizeof(c->path), "%s", listen_path);
	/* Replace only a dead socket of ours: never another file, never a
	 * live controller's socket. */
	struct stat st;
	if (lstat(listen_path, &st) == 0) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && S_ISSOCK(st.st_mode) &&
			    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid() || live) {
			snprintf(err, len,
				 "%s exists and is not a dead socket of ours; refusing "
				 "to replace it",
				 listen_path);
			return -1;
		}
		unlink(listen_path);
	}
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* The socket is born 0600: there is no moment anyone else may connect. */
	mode_t old = umask(0177);
	int rc = c->listen_fd < 0 ? -1 : bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(c->listen_fd, 4) != 0) {
		snprintf(err, len, "cannot listen on %s: %s", listen_path, strerror(errno));
		if (c->listen_fd >= 0)
			close(c->listen_fd);
		c->listen_fd = -1;
		if (rc == 0)
			unlink(listen_path);
		return -1;
	}
	return 0;
}

/* A trace's reply, which comes after its request. */
static void late_reply(void *ctx, uint64_t serial, json_t *reply)
{
	sl_dp_ctl_reply(ctx, serial, reply);
}

void sl_dp_ctl_close(struct sl_dp_ctl *c)
{
	sl_dp_obs_stop_all(*c->rt, late_reply, c, "the dataplane is stopping");
	for (unsigned i = 0; i < c->n_conns; i++) {
		sl_lineconn_flush(&c->conns[i]);
		sl_lineconn_free(&c->conns[i]);
	}
	c->n_conns = 0;
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->path);
	}
	c->listen_fd = -1;
}

static json_t *cmd_map_set(struct sl_dp_ctl *c, json_t *req)
{
	json_t *id = json_object_get(req, "id"), *reply = NULL;
	const char *cluster = NULL;
	long long core = 0;
	if (sl_proto_get_str(req, "cluster", true, &cluster, &reply) < 0 ||
	    sl_proto_get_int(req, "core", true, 0, 4095, &core, &reply) < 0)
		return reply;
	uint64_t pause_ns;
	const char *code = "internal";
	char err[256];
	if (sl_runtime_move_cluster(*c->rt, cluster, (int)core, &pause_ns, &code, err,
				    sizeof(err)) < 0)
		return sl_proto_error(id, code, strcmp(code, "out_of_pool") ? "cluster" : "core",
				      "%s", err);
	json_t *r = json_object();
	json_object_set_new(r, "cluster", json_string(cluster));
	json_object_set_new(r, "core", json_integer(core));
	json_object_set_new(r, "pause_us", json_real((double)pause_ns / 1000.0));
	return sl_proto_ok(id, r);
}

static json_t *cmd_graph_load(struct sl_dp_ctl *c, json_t *req)
{
	json_t *id = json_object_get(req, "id"), *reply = NULL;
	const char *name = "config";
	json_t *text = json_object_get(req, "config");
	if (sl_proto_get_str(req, "name", false, &name, &reply) < 0)
		return reply;
	if (!text)
		return sl_proto_error(id, "missing_field", "config",
				      "'config' (the config's text) is required");
	if (!json_is_string(text))
		return sl_proto_error(id, "bad_field", "config", "'config' must be a string");
	const char *code = "internal";
	char err[600];
	/* A capture or trace holds the instances the load replaces. */
	sl_dp_obs_stop_all(*c->rt, late_reply, c, "a graph load");
	json_t *r = json_object();
	if (c->ops.graph_load(c->ops.ctx, json_string_value(text), json_string_length(text), name,
			      r, &code, err, sizeof(err)) < 0) {
		json_decref(r);
		return sl_proto_error(id, code, "config", "%s", err);
	}
	return sl_proto_ok(id, r);
}

/* The running graph's mapping, cluster by cluster of its config. */
static int *current_mapping(const struct sl_runtime *rt)
{
	int *m = calloc(rt->n_clusters ? rt->n_clusters : 1, sizeof(int));
	for (unsigned i = 0; m && i < rt->n_clusters; i++)
		m[i] = rt->clusters[i].core;
	return m;
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run alone, the dataplane answers the read-only commands sluiced serves,
 * in the same shape, so sluicectl works against it directly. */
static json_t *cmd_status(struct sl_dp_ctl *c, json_t *req)
{
	struct sl_runtime *rt = *c->rt;
	json_t *r = json_object(), *dp = json_object(), *hello = json_object();
	c->ops.hello(c->ops.ctx, hello);
	int *m = current_mapping(rt);
	json_object_set_new(r, "config", json_string(rt->cfg->file));
	json_object_set_new(r, "name", json_string(rt->cfg->dp.name));
	json_object_set_new(r, "uptime_s", json_real(0));
	json_object_set_new(dp, "state", json_string("running (no sluiced)"));
	json_object_set_new(dp, "pid", json_incref(json_object_get(hello, "pid")));
	json_object_set_new(dp, "restarts", json_integer(0));
	json_object_set_new(dp, "last_exit", json_string(""));
	json_object_set_new(r, "dataplane", dp);
	json_object_set_new(r, "cores", sl_pool_view(rt->cfg));
	json_object_set_new(r, "clusters", sl_mapping_view(rt->cfg, m));
	json_t *ports = json_array();
	for (unsigned i = 0; i < rt->n_ports; i++)
		json_array_append_new(
		    ports, json_pack("{s:s, s:s, s:s}", "name", rt->cfg->ports[i].name, "driver",
				     rt->cfg->ports[i].driver, "note", rt->ports[i].note));
	json_object_set_new(r, "ports", ports);
	free(m);
	json_decref(hello);
	return sl_proto_ok(json_object_get(req, "id"), r);
}

static json_t *cmd_graph_show(struct sl_dp_ctl *c, json_t *req)
{
	json_t *reply = NULL;
	bool dot = false;
	if (sl_proto_get_bool(req, "dot", &dot, &reply) < 0)
		return reply;
	int *m = current_mapping(*c->rt);
	json_t *r = sl_graph_view((*c->rt)->cfg, m, dot);
	free(m);
	return sl_proto_ok(json_object_get(req, "id"), r);
}

static json_t *cmd_map_show(struct sl_dp_ctl *c, json_t *req)
{
	int *m = current_mapping(*c->rt);
	json_t *r = json_object();
	json_object_set_new(r, "clusters", sl_mapping_view((*c->rt)->cfg, m));
	json_object_set_new(r, "cores", sl_pool_view((*c->rt)->cfg));
	free(m);
	return sl_proto_ok(json_object_get(req, "id"), r);
}

static json_t *cmd_counters(struct sl_dp_ctl *c, json_t *req)
{
	json_t *reply = NULL, *id = json_object_get(req, "id");
	const char *kind = "all";
	bool reset = false;
	char err[128];
	if (sl_proto_get_str(req, "kind", false, &kind, &reply) < 0 ||
	    sl_proto_get_bool(req, "reset", &reset, &reply) < 0)
		return reply;
	if (reset)
		return sl_proto_error(id, "bad_field", "reset",
				      "a dataplane without sluiced keeps no reset baseline");
	if (strcmp(kind, "all") && strcmp(kind, "stages") && strcmp(kind, "connectors") &&
	    strcmp(kind, "ports"))
		return sl_proto_error(id, "bad_field", "kind",
				      "'kind' must be all, stages, connectors or ports");
	struct sl_stats_hdr *s = sl_stats_snapshot((*c->rt)->stats, err, sizeof(err));
	if (!s)
		return sl_proto_error(id, "internal", NULL, "%s", err);
	json_t *v = sl_stats_to_json(s);
	free(s);
	sl_stats_json_derive(v);
	json_object_set_new(v, "time", json_real(mono_now()));
	json_object_set_new(v, "restarts", json_integer(0));
	static const char *const kinds[] = {"stages", "connectors", "ports", NULL};
	for (const char *const *k = kinds; *k; k++)
		if (strcmp(kind, "all") && strcmp(kind, *k))
			json_object_del(v, *k);
	return sl_proto_ok(id, v);
}

static void on_line(void *ctx, char *line, size_t len)
{
	struct sl_dp_ctl *c = ctx;
	json_t *reply = NULL;
	if (!line) {
		reply = sl_proto_error(NULL, "too_large", NULL, "message longer than %u bytes",
				       SL_PROTO_MAX_MSG);
		sl_lineconn_send(c->cur, reply);
		json_decref(reply);
		return;
	}
	json_t *req = sl_proto_decode(line, len, &reply);
	const char *cmd = req ? json_string_value(json_object_get(req, "cmd")) : NULL;
	json_t *id = req ? json_object_get(req, "id") : NULL;
	if (!req) {
		/* reply holds the decode error */
	} else if (!strcmp(cmd, "hello")) {
		json_t *r = json_object();
		c->ops.hello(c->ops.ctx, r);
		reply = sl_proto_ok(id, r);
	} else if (!strcmp(cmd, "map_set"))
		reply = cmd_map_set(c, req);
	else if (!strcmp(cmd, "status"))
		reply = cmd_status(c, req);
	else if (!strcmp(cmd, "graph_show"))
		reply = cmd_graph_show(c, req);
	else if (!strcmp(cmd, "map_show"))
		reply = cmd_map_show(c, req);
	else if (!strcmp(cmd, "counters"))
		reply = cmd_counters(c, req);
	else if (!strcmp(cmd, "graph_load"))
		reply = cmd_graph_load(c, req);
	else if (!strcmp(cmd, "capture")) {
		int fd = -1;
		reply = sl_dp_capture_cmd(*c->rt, req, &fd);
		if (fd >= 0) {
			/* The stream's read end travels with the reply. */
			json_object_set_new(reply, "fds", json_integer(1));
			sl_lineconn_send_fd(c->cur, reply, fd);
			json_decref(reply);
			json_decref(req);
			return;
		}
	} else if (!strcmp(cmd, "trace")) {
		reply = sl_dp_trace_cmd(*c->rt, req, c->cur_serial);
		if (!reply) {
			json_decref(req);
			return;
		}
	} else if (!strcmp(cmd, "shutdown")) {
		c->ops.shutdown(c->ops.ctx);
		reply = sl_proto_ok(id, NULL);
	} else
		reply = sl_proto_error(id, "unknown_command", "cmd", "unknown command '%s'", cmd);
	sl_lineconn_send(c->cur, reply);
	json_decref(reply);
	json_decref(req);
}

static void accept_controller(struct sl_dp_ctl *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	/* Only root or the dataplane's own user may steer it. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid()) || c->n_conns >= SL_DP_CTL_MAX_CONNS) {
		close(fd);
		return;
	}
	c->serial[c->n_conns] = ++c->next_serial;
	sl_lineconn_init(&c->conns[c->n_conns++], fd);
}

void sl_dp_ctl_reply(struct sl_dp_ctl *c, uint64_t serial, json_t *reply)
{
	for (unsigned i = 0; i < c->n_conns; i++)
		if (c->serial[i] == serial)
			sl_lineconn_send(&c->conns[i], reply);
	json_decref(reply);
}

void sl_dp_ctl_poll(struct sl_dp_ctl *c, int timeout_ms)
{
	struct pollfd p[SL_DP_CTL_MAX_CONNS + 1];
	unsigned n = 0;
	for (unsigned i = 0; i < c->n_conns; i++)
		p[n++] = (struct pollfd){
		    c->conns[i].fd, POLLIN | (sl_lineconn_pending(&c->conns[i]) ? POLLOUT : 0), 0};
	if (c->listen_fd >= 0)
		p[n++] = (struct pollfd){c->listen_fd, POLLIN, 0};
	if (poll(p, n, timeout_ms) <= 0) {
		sl_dp_obs_tick(*c->rt, late_reply, c);
		return;
	}
	for (unsigned i = 0; i < c->n_conns; i++) {
		struct sl_lineconn *lc = &c->conns[i];
		int dead = 0;
		if (p[i].revents & POLLOUT)
			dead |= sl_lineconn_flush(lc) < 0;
		if (!dead && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
			c->cur = lc;
			c->cur_serial = c->serial[i];
			dead |= sl_lineconn_read(lc, on_line, c) < 0;
		}
		if (dead) {
			/* The controller went away; the dataplane keeps forwarding. */
			sl_lineconn_free(lc);
			c->serial[i] = c->serial[c->n_conns - 1];
			c->conns[i] = c->conns[--c->n_conns];
			p[i] = p[c->n_conns];
			i--;
		}
	}
	if (c->listen_fd >= 0 && (p[n - 1].revents & POLLIN))
		accept_controller(c);
	sl_dp_obs_tick(*c->rt, late_reply, c);
}
