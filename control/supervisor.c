/* supervisor.c: sluiced's error kernel. It spawns sluice-dp in its own
 * session with one end of a socketpair as its control channel, watches it
 * through a pidfd, restarts it with the last good config and mapping when it
 * dies (backing off when it dies right after each start), and forwards the
 * commands only the dataplane can carry out. With --attach it takes over a
 * dataplane that outlived an earlier sluiced, through the dataplane's private
 * control socket. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "control/daemon.h"

#define EV_DP 0xffff0002u
#define EV_PIDFD 0xffff0003u
#define FAST_CRASH_S 5.0
#define BACKOFF_MAX_S 30.0

const char *sl_sup_phase_name(enum sl_dp_phase p)
{
	switch (p) {
	case SL_DP_DOWN:
		return "down";
	case SL_DP_STARTING_UP:
		return "starting";
	case SL_DP_UP:
		return "running";
	case SL_DP_BACKOFF:
		return "backing off after repeated crashes";
	case SL_DP_STOPPING:
		return "stopping";
	}
	return "?";
}

static int cluster_index(const struct sl_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_clusters; i++)
		if (!strcmp(c->clusters[i].name, name))
			return (int)i;
	return -1;
}

static int send_to_dp(struct sl_daemon *d, json_t *req)
{
	int rc = sl_lineconn_send(&d->dp, req);
	if (rc == 0 && sl_lineconn_pending(&d->dp)) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = EV_DP};
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->dp.fd, &ev);
	}
	return rc;
}

/* Queue a request to the dataplane under a fresh internal id. */
static struct sl_pending *send_pending(struct sl_daemon *d, json_t *req, const char *cmd)
{
	unsigned slot = 0;
	while (slot < SL_MAX_PENDING && d->pending[slot].used)
		slot++;
	if (slot == SL_MAX_PENDING || !d->dp_connected)
		return NULL;
	struct sl_pending *p = &d->pending[slot];
	memset(p, 0, sizeof(*p));
	p->used = true;
	snprintf(p->cmd, sizeof(p->cmd), "%s", cmd);
	json_object_set_new(req, "id", json_integer((json_int_t)slot));
	if (send_to_dp(d, req) < 0) {
		p->used = false;
		return NULL;
	}
	return p;
}

static void internal_request(struct sl_daemon *d, const char *cmd, const char *cluster, int core)
{
	json_t *req = json_object();
	json_object_set_new(req, "cmd", json_string(cmd));
	if (cluster) {
		json_object_set_new(req, "cluster", json_string(cluster));
		json_object_set_new(req, "core", json_integer(core));
	}
	struct sl_pending *p = send_pending(d, req, cmd);
	if (p) {
		p->internal = true;
		if (cluster)
			snprintf(p->arg, sizeof(p->arg), "%s", cluster);
		p->core = core;
	}
	json_decref(req);
}

static int open_channel(struct sl_daemon *d, int fd, pid_t pid)
{
	sl_lineconn_init(&d->dp, fd);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	d->dp_connected = true;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_DP};
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
	d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (d->pidfd < 0) {
		sl_log(LOG_ERR, "pidfd_open(%d): %s", (int)pid, strerror(errno));
		return -1;
	}
	struct epoll_event pev = {.events = EPOLLIN, .data.u32 = EV_PIDFD};
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->pidfd, &pev);
	d->dp_pid = pid;
	d->dp_started = sl_now();
	d->phase = SL_DP_STARTING_UP;
	internal_request(d, "hello", NULL, 0);
	return 0;
}

static int spawn(struct sl_daemon *d)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		sl_log(LOG_ERR, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		sl_log(LOG_ERR, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* Its own session: signals aimed at sluiced's group spare it, and
		 * it keeps forwarding if sluiced dies. */
		setsid();
		dup2(sv[1], 3);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl(d->dp_binary, "sluice-dp", "--config", d->config_path, "--control-fd", "3",
		      "--control-socket", d->dp_socket, (char *)NULL);
		fprintf(stderr, "sluiced: cannot run %s: %s\n", d->dp_binary, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	d->dp_is_child = true;
	sl_log(LOG_INFO, "started dataplane pid %d with %s", (int)pid, d->config_path);
	return open_channel(d, sv[0], pid);
}

int sl_sup_start(struct sl_daemon *d, char *err, size_t len)
{
	d->pidfd = -1;
	d->dp.fd = -1;
	if (!d->attach)
		return spawn(d) < 0 ? (snprintf(err, len, "cannot start the dataplane"), -1) : 0;
	int fd = sl_proto_connect(d->dp_socket, err, len);
	if (fd < 0)
		return -1;
	json_t *req = json_pack("{s:s}", "cmd", "hello");
	json_t *r = sl_proto_call(fd, req, 5000, err, len);
	json_decref(req);
	if (!r || !json_is_true(json_object_get(r, "ok"))) {
		if (r)
			snprintf(err, len, "dataplane refused hello");
		json_decref(r);
		close(fd);
		return -1;
	}
	json_t *res = json_object_get(r, "result");
	pid_t pid = (pid_t)json_integer_value(json_object_get(res, "pid"));
	const char *cfgpath = json_string_value(json_object_get(res, "config"));
	if (cfgpath && strcmp(cfgpath, d->config_path) != 0) {
		/* The dataplane runs a graph loaded after it started: that one is
		 * the last good config now. */
		struct sl_config *c = NULL;
		struct sl_err ce;
		if (sl_config_load(cfgpath, &c, &ce) == 0) {
			sl_config_free(d->cfg);
			d->cfg = c;
			free(d->config_path);
			d->config_path = strdup(cfgpath);
			free(d->mapping);
			d->mapping = calloc(c->n_clusters, sizeof(int));
		} else {
			sl_log(LOG_WARNING, "the dataplane's config %s no longer loads: %s",
			       cfgpath, ce.msg);
		}
	}
	json_t *map = json_object_get(res, "mapping");
	for (unsigned i = 0; i < d->cfg->n_clusters; i++) {
		json_t *core = json_object_get(map, d->cfg->clusters[i].name);
		d->mapping[i] = core ? (int)json_integer_value(core) : d->cfg->clusters[i].core;
	}
	json_decref(r);
	d->dp_is_child = false;
	sl_log(LOG_INFO, "attached to running dataplane pid %d (%s)", (int)pid, d->dp_socket);
	return open_channel(d, fd, pid);
}

static void fail_pending(struct sl_daemon *d, const char *why)
{
	for (unsigned i = 0; i < SL_MAX_PENDING; i++) {
		struct sl_pending *p = &d->pending[i];
		if (!p->used)
			continue;
		if (!p->internal)
			sl_server_reply(d, p->client, p->gen,
					sl_proto_error(p->id, "dataplane_down", NULL, "%s", why));
		json_decref(p->id);
		p->used = false;
	}
}

static void close_channel(struct sl_daemon *d)
{
	if (d->dp.fd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->dp.fd, NULL);
		sl_lineconn_free(&d->dp);
	}
	d->dp_connected = false;
}

/* A reply from the dataplane: update our state, answer the client. */
static void on_dp_line(void *ctx, char *line, size_t len)
{
	struct sl_daemon *d = ctx;
	json_error_t je;
	json_t *r = line ? json_loadb(line, len, 0, &je) : NULL;
	json_t *idv = r ? json_object_get(r, "id") : NULL;
	if (!r || !json_is_integer(idv) || json_integer_value(idv) < 0 ||
	    json_integer_value(idv) >= SL_MAX_PENDING ||
	    !d->pending[json_integer_value(idv)].used) {
		sl_log(LOG_WARNING, "unexpected message from the dataplane: %.200s",
		       line ? line : "(oversized)");
		json_decref(r);
		return;
	}
	struct sl_pending *p = &d->pending[json_integer_value(idv)];
	bool ok = json_is_true(json_object_get(r, "ok"));
	json_t *res = json_object_get(r, "result");
	if (!strcmp(p->cmd, "hello") && ok) {
		d->phase = SL_DP_UP;
		sl_view_refresh(d);
		json_t *map = json_object_get(res, "mapping");
		/* Re-apply live mapping changes the config file does not hold. */
		for (unsigned i = 0; i < d->cfg->n_clusters; i++) {
			json_t *core = json_object_get(map, d->cfg->clusters[i].name);
			if (core && json_integer_value(core) != d->mapping[i])
				internal_request(d, "map_set", d->cfg->clusters[i].name,
						 d->mapping[i]);
		}
	} else if (!strcmp(p->cmd, "map_set") && ok) {
		int ci = cluster_index(d->cfg, p->arg);
		if (ci >= 0)
			d->mapping[ci] = p->core;
	} else if (!strcmp(p->cmd, "graph_load") && ok) {
		struct sl_config *c = NULL;
		struct sl_err ce;
		if (sl_config_load(p->arg, &c, &ce) == 0) {
			sl_config_free(d->cfg);
			d->cfg = c;
			free(d->config_path);
			d->config_path = strdup(p->arg);
			free(d->mapping);
			d->mapping = calloc(c->n_clusters, sizeof(int));
			for (unsigned i = 0; i < c->n_clusters; i++)
				d->mapping[i] = c->clusters[i].core;
		}
		sl_view_refresh(d); /* the segment was replaced */
		sl_log(LOG_INFO, "graph loaded from %s", p->arg);
	} else if (!ok && p->internal) {
		sl_log(LOG_ERR, "dataplane refused %s: %s", p->cmd,
		       json_string_value(json_object_get(json_object_get(r, "error"), "message")));
	}
	if (!p->internal) {
		json_object_set(r, "id", p->id ? p->id : json_null());
		sl_server_reply(d, p->client, p->gen, json_incref(r));
	}
	json_decref(p->id);
	p->used = false;
	json_decref(r);
}

void sl_sup_dp_event(struct sl_daemon *d, uint32_t events)
{
	if ((events & EPOLLOUT) && sl_lineconn_flush(&d->dp) == 0 && !sl_lineconn_pending(&d->dp)) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_DP};
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->dp.fd, &ev);
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    sl_lineconn_read(&d->dp, on_dp_line, d) < 0) {
		/* The dataplane closed its end: it is exiting; the pidfd says
		 * when it is gone. */
		close_channel(d);
		fail_pending(d, "the dataplane went away");
	}
}

static void describe_exit(struct sl_daemon *d)
{
	int status;
	if (!d->dp_is_child) {
		snprintf(d->last_exit, sizeof(d->last_exit), "exited (not our child: no status)");
		return;
	}
	if (waitpid(d->dp_pid, &status, 0) != d->dp_pid)
		snprintf(d->last_exit, sizeof(d->last_exit), "gone (no status)");
	else if (WIFSIGNALED(status))
		snprintf(d->last_exit, sizeof(d->last_exit), "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(d->last_exit, sizeof(d->last_exit), "exited with status %d",
			 WEXITSTATUS(status));
}

void sl_sup_pidfd_event(struct sl_daemon *d)
{
	describe_exit(d);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->pidfd, NULL);
	close(d->pidfd);
	d->pidfd = -1;
	close_channel(d);
	fail_pending(d, "the dataplane exited");
	/* The segment stays mapped after the process is gone: these are the
	 * counters after its final drain. */
	char verr[128];
	json_t *final = d->shutdown_requested ? sl_view_counters(d, verr, sizeof(verr)) : NULL;
	sl_view_fold_dead(d);
	/* A dataplane killed with -9 leaves its stats segment behind. */
	char shm[128];
	snprintf(shm, sizeof(shm), "/dev/shm/sluice-%s.stats", d->cfg->dp.name);
	unlink(shm);
	pid_t dead = d->dp_pid;
	d->dp_pid = 0;
	d->phase = SL_DP_DOWN;

	if (d->shutdown_requested) {
		sl_log(LOG_INFO, "dataplane pid %d %s; shutting down", (int)dead, d->last_exit);
		json_t *r = json_object();
		json_object_set_new(r, "dataplane_exit", json_string(d->last_exit));
		if (final)
			json_object_set_new(r, "final_counters", final);
		if (d->shutdown_client >= 0)
			sl_server_reply(d, (unsigned)d->shutdown_client, d->shutdown_gen,
					sl_proto_ok(d->shutdown_id, r));
		else
			json_decref(r);
		d->quit = true;
		return;
	}
	double lived = sl_now() - d->dp_started;
	d->restarts++;
	if (d->restart_requested) {
		d->restart_requested = false;
		d->fast_crashes = 0;
		sl_log(LOG_INFO, "dataplane pid %d %s on request; restarting", (int)dead,
		       d->last_exit);
	} else {
		d->fast_crashes = lived < FAST_CRASH_S ? d->fast_crashes + 1 : 0;
		sl_log(LOG_WARNING, "dataplane pid %d %s after %.1f s; restart %u", (int)dead,
		       d->last_exit, lived, d->restarts);
	}
	if (d->fast_crashes >= 2) {
		d->backoff_s = d->backoff_s > 0 ? d->backoff_s * 2 : 0.5;
		if (d->backoff_s > BACKOFF_MAX_S)
			d->backoff_s = BACKOFF_MAX_S;
		d->backoff_until = sl_now() + d->backoff_s;
		d->phase = SL_DP_BACKOFF;
		sl_log(LOG_WARNING,
		       "dataplane crashed %u times within %.0f s of starting; next "
		       "start in %.1f s",
		       d->fast_crashes, FAST_CRASH_S, d->backoff_s);
		return;
	}
	d->backoff_s = 0;
	if (spawn(d) < 0)
		d->phase = SL_DP_DOWN;
}

void sl_sup_tick(struct sl_daemon *d)
{
	if (d->phase == SL_DP_BACKOFF && sl_now() >= d->backoff_until && spawn(d) < 0)
		d->phase = SL_DP_DOWN;
	/* A dataplane that stays up long enough is healthy again. */
	if (d->phase == SL_DP_UP && d->fast_crashes && sl_now() - d->dp_started > FAST_CRASH_S) {
		d->fast_crashes = 0;
		d->backoff_s = 0;
	}
}

int sl_sup_forward(struct sl_daemon *d, unsigned idx, json_t *req, const char *arg, int core,
		   json_t **reply)
{
	json_t *id = json_object_get(req, "id");
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	if (d->phase != SL_DP_UP) {
		*reply = sl_proto_error(id, "dataplane_down", NULL, "the dataplane is %s",
					sl_sup_phase_name(d->phase));
		return -1;
	}
	json_t *copy = json_deep_copy(req);
	struct sl_pending *p = send_pending(d, copy, cmd);
	json_decref(copy);
	if (!p) {
		*reply = sl_proto_error(id, "busy", NULL, "too many requests in flight");
		return -1;
	}
	p->client = idx;
	p->gen = d->clients[idx].gen;
	p->id = id ? json_incref(id) : NULL;
	if (arg)
		snprintf(p->arg, sizeof(p->arg), "%s", arg);
	p->core = core;
	return 0;
}

/* Ask the dataplane to stop; without a channel, signal it. */
static void stop_dataplane(struct sl_daemon *d)
{
	d->phase = SL_DP_STOPPING;
	if (d->dp_connected)
		internal_request(d, "shutdown", NULL, 0);
	else
		kill(d->dp_pid, SIGTERM);
}

void sl_sup_stop(struct sl_daemon *d, unsigned idx)
{
	d->shutdown_requested = true;
	d->shutdown_client = idx < SL_MAX_CLIENTS ? (int)idx : -1;
	d->shutdown_gen = idx < SL_MAX_CLIENTS ? d->clients[idx].gen : 0;
	if (d->dp_pid == 0) {
		d->quit = true;
		return;
	}
	stop_dataplane(d);
}

void sl_sup_restart(struct sl_daemon *d)
{
	d->restart_requested = true;
	if (d->dp_pid == 0) {
		d->restart_requested = false;
		if (spawn(d) < 0)
			d->phase = SL_DP_DOWN;
		return;
	}
	stop_dataplane(d);
}
