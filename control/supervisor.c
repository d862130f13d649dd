/* supervisor.c: sluiced's error kernel. It spawns sluice-dp in its own
 * session with one end of a socketpair as its control channel, watches it
 * through a pidfd, restarts it with the last good config and mapping when it
 * dies (backing off when it dies right after each start), and forwards the
 * commands only the dataplane can carry out. With --attach it takes over a
 * dataplane that outlived an earlier sluiced, through the dataplane's private
 * control socket. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "control/daemon.h"
#include "control/log.h"
#include "control/rundir.h"
#include "control/server.h"
#include "control/stats_view.h"
#include "control/supervisor.h"
#include "stages/plugin.h"

#define EV_DP 0xffff0002u
#define EV_PIDFD 0xffff0003u
#define FAST_CRASH_S 5.0
#define BACKOFF_MAX_S 30.0

static int cluster_index(const struct sl_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_clusters; i++)
		if (!strcmp(c->clusters[i].name, name))
			return (int)i;
	return -1;
}

static void free_pending(struct sl_daemon *d, struct sl_pending *p)
{
	if (!p->internal && p->client < SL_MAX_CLIENTS && d->clients[p->client].used &&
	    d->clients[p->client].gen == p->gen && d->clients[p->client].waiting)
		d->clients[p->client].waiting--;
	json_decref(p->id);
	free(p->name);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

static int pidfd_signal(struct sl_daemon *d, int sig)
{
	/* Only ever through the pidfd: a pid number may have been recycled. */
	if (d->pidfd < 0)
		return -1;
	return (int)syscall(SYS_pidfd_send_signal, d->pidfd, sig, NULL, 0);
}

int sl_sup_set_config(struct sl_daemon *d, const char *text, size_t len, const char *name,
		      struct sl_config *cfg, bool reset_map)
{
	char *t = malloc(len ? len : 1), *n = strdup(name);
	int *m = calloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(int));
	if (!t || !n || !m) {
		free(t);
		free(n);
		free(m);
		sl_config_free(cfg);
		return -1;
	}
	memcpy(t, text, len);
	free(d->config_text);
	free(d->config_name);
	d->config_text = t;
	d->config_len = len;
	d->config_name = n;
	for (unsigned i = 0; i < cfg->n_clusters; i++) {
		int old = -1;
		for (unsigned j = 0; !reset_map && d->cfg && j < d->cfg->n_clusters; j++)
			if (!strcmp(d->cfg->clusters[j].name, cfg->clusters[i].name))
				old = d->mapping[j];
		m[i] = old >= 0 ? old : cfg->clusters[i].core;
	}
	free(d->mapping);
	d->mapping = m;
	sl_config_free(d->cfg);
	d->cfg = cfg;
	return 0;
}

static int send_to_dp(struct sl_daemon *d, json_t *req)
{
	int rc = sl_lineconn_send(&d->dp_chan, req);
	if (rc == 0 && sl_lineconn_pending(&d->dp_chan)) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = EV_DP};
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->dp_chan.fd, &ev);
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
	free_pending(d, p);
	p->used = true;
	snprintf(p->cmd, sizeof(p->cmd), "%s", cmd);
	json_object_set_new(req, "id", json_integer((json_int_t)slot));
	if (send_to_dp(d, req) < 0) {
		free_pending(d, p);
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
	sl_lineconn_init(&d->dp_chan, fd);
	/* The one peer whose descriptors we take: a capture's stream comes
	 * with its reply. Clients' connections never accept any. */
	d->dp_chan.accept_fds = true;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	d->dp_connected = true;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_DP};
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
	/* A child cannot be reaped (so its pid not reused) before we wait for
	 * it; an attached dataplane's pidfd was opened by attach_checks. */
	if (d->pidfd < 0)
		d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (d->pidfd < 0) {
		sl_log(LOG_ERR, "pidfd_open(%d): %s", (int)pid, strerror(errno));
		return -1;
	}
	struct epoll_event pev = {.events = EPOLLIN, .data.u32 = EV_PIDFD};
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->pidfd, &pev);
	d->dp_pid = pid;
	d->dp_started = sl_now();
	d->phase = SL_SUP_STARTING;
	internal_request(d, "hello", NULL, 0);
	return 0;
}

static int spawn(struct sl_daemon *d)
{
	/* The dataplane runs our copy of the last good config's bytes: what
	 * the operator's file says now does not matter. */
	char err[512], cfgpath[sizeof(d->runtime_dir) + 80];
	if (sl_write_private(d, d->private_config, d->config_text, d->config_len, NULL, err,
			     sizeof(err)) < 0) {
		sl_log(LOG_ERR, "%s", err);
		return -1;
	}
	snprintf(cfgpath, sizeof(cfgpath), "%s/%s", d->runtime_dir, d->private_config);
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
		/* The dataplane checks and opens a client's files itself, on
		 * every start and load (its --file-dir: the startup config's
		 * file_dirs): a file swapped after sluiced checked it is never
		 * opened through a link. */
		char *argv[16 + 2 * 64 + 2 * SL_PLUGIN_MAX];
		int n = 0;
		argv[n++] = "sluice-dp";
		argv[n++] = "--config";
		argv[n++] = cfgpath;
		argv[n++] = "--config-name";
		argv[n++] = d->config_name;
		argv[n++] = "--control-fd";
		argv[n++] = "3";
		argv[n++] = "--control-socket";
		argv[n++] = d->dp_socket;
		argv[n++] = "--untrusted-loads";
		if (d->config_untrusted)
			argv[n++] = "--untrusted";
		for (unsigned i = 0; i < d->n_file_dirs && i < 64; i++) {
			argv[n++] = "--file-dir";
			argv[n++] = d->file_dirs[i];
		}
		for (unsigned i = 0; i < d->n_plugins && i < SL_PLUGIN_MAX; i++) {
			argv[n++] = "--plugin";
			argv[n++] = d->plugins[i];
		}
		argv[n] = NULL;
		execv(d->dp_binary, argv);
		fprintf(stderr, "sluiced: cannot run %s: %s\n", d->dp_binary, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	d->dp_is_child = true;
	sl_log(LOG_INFO, "started dataplane pid %d with %s", (int)pid, d->config_name);
	return open_channel(d, sv[0], pid);
}

/* The dataplane binary we would run, resolved, to compare with a peer's
 * /proc/PID/exe. */
static bool is_our_dataplane(struct sl_daemon *d, pid_t pid, char *err, size_t len)
{
	char want[PATH_MAX], link[64], got[PATH_MAX];
	if (!realpath(d->dp_binary, want)) {
		snprintf(err, len, "cannot resolve the dataplane binary %s: %s", d->dp_binary,
			 strerror(errno));
		return false;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, got, sizeof(got) - 1);
	if (n < 0) {
		snprintf(err, len, "cannot read %s: %s", link, strerror(errno));
		return false;
	}
	got[n] = '\0';
	if (strcmp(got, want) != 0) {
		snprintf(err, len, "the process at %s (pid %d) runs %s, not %s", d->dp_socket,
			 (int)pid, got, want);
		return false;
	}
	return true;
}

/* --attach: whatever listens at our dataplane socket must prove it is our
 * dataplane before we trust a byte from it. */
static int attach_checks(struct sl_daemon *d, int fd, pid_t *pid, char *err, size_t len)
{
	struct stat st;
	const char *base =
	    strrchr(d->dp_socket, '/') ? strrchr(d->dp_socket, '/') + 1 : d->dp_socket;
	if (fstatat(d->dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		snprintf(err, len, "%s: %s", d->dp_socket, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid())) {
		snprintf(err, len, "%s is not a socket owned by root or us; not attaching",
			 d->dp_socket);
		return -1;
	}
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
		snprintf(err, len, "SO_PEERCRED on %s: %s", d->dp_socket, strerror(errno));
		return -1;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		snprintf(err, len, "%s is served by uid %u, not root or us; not attaching",
			 d->dp_socket, (unsigned)cred.uid);
		return -1;
	}
	/* The pid comes from the kernel, and the pidfd pins that process:
	 * checked once, it cannot be swapped for another. */
	d->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	if (d->pidfd < 0) {
		snprintf(err, len, "pidfd_open(%d): %s", (int)cred.pid, strerror(errno));
		return -1;
	}
	if (!is_our_dataplane(d, cred.pid, err, len)) {
		close(d->pidfd);
		d->pidfd = -1;
		return -1;
	}
	*pid = cred.pid;
	return 0;
}
int sl_sup_start(struct sl_daemon *d, char *err, size_t len)
{
	d->pidfd = -1;
	d->dp_chan.fd = -1;
	if (!d->attach)
		return spawn(d) < 0 ? (snprintf(err, len, "cannot start the dataplane"), -1) : 0;
	int fd = sl_proto_connect(d->dp_socket, err, len);
	if (fd < 0)
		return -1;
	pid_t pid;
	if (attach_checks(d, fd, &pid, err, len) < 0) {
		close(fd);
		return -1;
	}
	json_t *req = json_pack("{s:s}", "cmd", "hello");
	json_t *r = sl_proto_call(fd, req, 5000, err, len);
	json_decref(req);
	json_t *res = r ? json_object_get(r, "result") : NULL;
	json_t *text = json_object_get(res, "config_text");
	const char *name = json_string_value(json_object_get(res, "config"));
	if (!r || !json_is_true(json_object_get(r, "ok")) || !json_is_string(text) || !name) {
		if (r)
			snprintf(err, len, "the dataplane's hello lacks its config");
		json_decref(r);
		goto fail;
	}
	/* The last good config is the bytes the dataplane runs, not what a
	 * file of that name holds now. */
	struct sl_config *c = NULL;
	struct sl_err ce;
	if (sl_config_load_buffer(json_string_value(text), json_string_length(text), name, NULL, &c,
				  &ce) < 0) {
		snprintf(err, len, "the dataplane's running config does not load: %s", ce.msg);
		json_decref(r);
		goto fail;
	}
	if (strcmp(c->dp.name, d->cfg->dp.name) != 0) {
		snprintf(err, len, "the dataplane at %s is '%s', not '%s'", d->dp_socket,
			 c->dp.name, d->cfg->dp.name);
		sl_config_free(c);
		json_decref(r);
		goto fail;
	}
	/* Unless it still runs the config we were started with, what the
	 * dataplane runs came from a client. */
	d->config_untrusted = !(json_string_length(text) == d->config_len &&
				!memcmp(json_string_value(text), d->config_text, d->config_len));
	sl_sup_set_config(d, json_string_value(text), json_string_length(text), name, c, true);
	json_t *map = json_object_get(res, "mapping");
	for (unsigned i = 0; i < d->cfg->n_clusters; i++) {
		json_t *core = json_object_get(map, d->cfg->clusters[i].name);
		if (json_is_integer(core))
			d->mapping[i] = (int)json_integer_value(core);
	}
	json_decref(r);
	d->dp_is_child = false;
	sl_log(LOG_INFO, "attached to running dataplane pid %d (%s)", (int)pid, d->dp_socket);
	return open_channel(d, fd, pid);
fail:
	close(fd);
	close(d->pidfd);
	d->pidfd = -1;
	return -1;
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
		free_pending(d, p);
	}
}

static void close_channel(struct sl_daemon *d)
{
	if (d->dp_chan.fd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->dp_chan.fd, NULL);
		sl_lineconn_free(&d->dp_chan);
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
	/* A reply that announces a descriptor brought it with its first byte. */
	int fd = json_integer_value(json_object_get(r, "fds")) == 1
		     ? sl_lineconn_take_fd(&d->dp_chan)
		     : -1;
	if (json_object_get(r, "fds") && fd < 0) {
		json_object_del(r, "fds");
		if (ok) {
			json_decref(r);
			r = sl_proto_error(NULL, "internal", NULL,
					   "the dataplane's reply lost its descriptor");
			ok = false;
		}
	}
	json_t *res = json_object_get(r, "result");
	if (!strcmp(p->cmd, "hello") && ok) {
		d->phase = SL_SUP_RUNNING;
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
		const struct sl_config_policy policy = {true, d->file_dirs, d->n_file_dirs,
							d->plugins, d->n_plugins};
		if (p->text && p->name &&
		    sl_config_load_buffer(p->text, p->text_len, p->name, &policy, &c, &ce) == 0) {
			sl_sup_set_config(d, p->text, p->text_len, p->name, c, true);
			d->config_untrusted = true; /* restarts check its files again */
		} else
			sl_log(LOG_ERR, "the dataplane loaded a graph sluiced cannot keep");
		sl_view_refresh(d); /* the segment was replaced */
		sl_log(LOG_INFO, "graph loaded from %s", p->name ? p->name : "?");
	} else if (!ok && p->internal) {
		sl_log(LOG_ERR, "dataplane refused %s: %s", p->cmd,
		       json_string_value(json_object_get(json_object_get(r, "error"), "message")));
	}
	if (!p->internal) {
		json_object_set(r, "id", p->id ? p->id : json_null());
		sl_server_reply_fd(d, p->client, p->gen, json_incref(r), fd);
	} else if (fd >= 0) {
		close(fd);
	}
	free_pending(d, p);
	json_decref(r);
}

void sl_sup_dp_event(struct sl_daemon *d, uint32_t events)
{
	if ((events & EPOLLOUT) && sl_lineconn_flush(&d->dp_chan) == 0 &&
	    !sl_lineconn_pending(&d->dp_chan)) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_DP};
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->dp_chan.fd, &ev);
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    sl_lineconn_read(&d->dp_chan, on_dp_line, d) < 0) {
		/* The dataplane closed its end: it is exiting; the pidfd says
		 * when it is gone. */
		close_channel(d);
		fail_pending(d, "the dataplane went away");
	}
}

/* A dataplane killed with -9 leaves its stats segment behind. Remove it only
 * when it is that dataplane's (its pid field says so): the name is
 * predictable, and another dataplane's live segment must survive. */
static void remove_dead_segment(struct sl_daemon *d, pid_t dead)
{
	char shm[128];
	snprintf(shm, sizeof(shm), "/dev/shm/sluice-%s.stats", d->cfg->dp.name);
	int fd = open(shm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat st;
	bool ours = false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size >= sizeof(struct sl_stats_hdr)) {
		const struct sl_stats_hdr *h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, fd, 0);
		if (h != MAP_FAILED) {
			ours = h->magic == SL_STATS_MAGIC && h->pid == (int64_t)dead;
			munmap((void *)h, sizeof(*h));
		}
	}
	close(fd);
	if (ours)
		unlink(shm);
	else
		sl_log(LOG_INFO, "%s is not dataplane %d's segment; leaving it", shm, (int)dead);
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
	if (d->wd_reason[0]) {
		/* Our own SIGKILL: say why, not just how. */
		char how[64];
		snprintf(how, sizeof(how), "%.60s", d->last_exit);
		snprintf(d->last_exit, sizeof(d->last_exit),
			 "hung: %.150s; killed by the watchdog (%s)", d->wd_reason, how);
		d->wd_reason[0] = '\0';
	}
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
	pid_t dead = d->dp_pid;
	remove_dead_segment(d, dead);
	d->dp_pid = 0;
	d->phase = SL_SUP_DOWN;

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
		d->phase = SL_SUP_BACKOFF;
		sl_log(LOG_WARNING,
		       "dataplane crashed %u times within %.0f s of starting; next "
		       "start in %.1f s",
		       d->fast_crashes, FAST_CRASH_S, d->backoff_s);
		return;
	}
	d->backoff_s = 0;
	if (spawn(d) < 0)
		d->phase = SL_SUP_DOWN;
}

/* Forget the heartbeats seen: the next tick takes a new baseline. */
static void watchdog_reset(struct sl_daemon *d)
{
	d->wd_n = 0;
}

static void watchdog_fire(struct sl_daemon *d, const char *why)
{
	snprintf(d->wd_reason, sizeof(d->wd_reason), "%s", why);
	sl_log(LOG_ERR, "watchdog: dataplane pid %d: %s; killing it", (int)d->dp_pid, why);
	if (pidfd_signal(d, SIGKILL) < 0)
		sl_log(LOG_ERR, "watchdog: cannot signal dataplane %d: %s", (int)d->dp_pid,
		       strerror(errno));
	watchdog_reset(d);
}

/* A dataplane whose worker stops beating, or whose management thread stops
 * updating the segment, for dataplane.watchdog_ms is hung: kill it, and the
 * exit path restarts it as after any crash. Nothing is judged while a
 * command is with the dataplane (a graph load parks the workers and keeps
 * the management thread busy), nor before it runs. */
static void watchdog(struct sl_daemon *d)
{
	uint64_t ms = d->cfg ? d->cfg->dp.watchdog_ms : 0;
	bool busy = false;
	/* A trace's reply waits for packets, not for the workers. */
	for (unsigned i = 0; i < SL_MAX_PENDING; i++)
		busy |= d->pending[i].used && strcmp(d->pending[i].cmd, "trace");
	if (!ms || d->phase != SL_SUP_RUNNING || !d->dp_connected || busy || d->wd_reason[0]) {
		watchdog_reset(d);
		return;
	}
	/* sl_sup_tick runs after every batch of events; a copy of the
	 * segment ten times a second is plenty. */
	if (sl_now() - d->wd_checked < 0.1)
		return;
	d->wd_checked = sl_now();
	char err[128];
	struct sl_stats_hdr *s = sl_view_raw_snapshot(d, err, sizeof(err));
	if (!s) {
		watchdog_reset(d);
		return;
	}
	double now = sl_now(), limit = (double)ms / 1e3;
	const struct sl_stats_cluster *cl = sl_stats_clusters(s);
	if (s->state != SL_DP_RUNNING || s->pid != d->dp_pid) {
		watchdog_reset(d);
	} else if (d->wd_n != s->n_clusters || !d->wd_beats) {
		free(d->wd_beats);
		free(d->wd_since);
		unsigned n = s->n_clusters;
		d->wd_beats = calloc(n + 1, sizeof(*d->wd_beats));
		d->wd_since = calloc(n + 1, sizeof(*d->wd_since));
		if (d->wd_beats && d->wd_since) {
			for (unsigned i = 0; i < n; i++) {
				d->wd_beats[i] = cl[i].beats;
				d->wd_since[i] = now;
			}
			d->wd_mgmt = s->heartbeat_ns;
			d->wd_mgmt_since = now;
			d->wd_n = n;
		}
	} else {
		char why[192] = "";
		for (unsigned i = 0; i < d->wd_n && !why[0]; i++) {
			if (cl[i].beats != d->wd_beats[i]) {
				d->wd_beats[i] = cl[i].beats;
				d->wd_since[i] = now;
			} else if (now - d->wd_since[i] > limit) {
				snprintf(why, sizeof(why),
					 "cluster '%.64s' on core %d made no progress for %.0f ms "
					 "(watchdog_ms %llu)",
					 cl[i].name, (int)cl[i].core, 1e3 * (now - d->wd_since[i]),
					 (unsigned long long)ms);
			}
		}
		if (s->heartbeat_ns != d->wd_mgmt) {
			d->wd_mgmt = s->heartbeat_ns;
			d->wd_mgmt_since = now;
		} else if (!why[0] && now - d->wd_mgmt_since > limit) {
			snprintf(why, sizeof(why),
				 "the management thread made no progress for %.0f ms (watchdog_ms "
				 "%llu)",
				 1e3 * (now - d->wd_mgmt_since), (unsigned long long)ms);
		}
		if (why[0])
			watchdog_fire(d, why);
	}
	free(s);
}

void sl_sup_tick(struct sl_daemon *d)
{
	watchdog(d);
	if (d->phase == SL_SUP_BACKOFF && sl_now() >= d->backoff_until && spawn(d) < 0)
		d->phase = SL_SUP_DOWN;
	/* A dataplane that stays up long enough is healthy again. */
	if (d->phase == SL_SUP_RUNNING && d->fast_crashes &&
	    sl_now() - d->dp_started > FAST_CRASH_S) {
		d->fast_crashes = 0;
		d->backoff_s = 0;
	}
}

struct sl_pending *sl_sup_forward(struct sl_daemon *d, unsigned idx, json_t *req, const char *arg,
				  int core, json_t **reply)
{
	json_t *id = json_object_get(req, "id");
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	if (d->phase != SL_SUP_RUNNING) {
		*reply = sl_proto_error(id, "dataplane_down", NULL, "the dataplane is %s",
					sl_phase_name(d->phase));
		return NULL;
	}
	/* The dataplane can die between its last event and this request:
	 * sluiced sees the closed channel before the pidfd, so a send that
	 * finds no channel is a dead dataplane, not a busy one. */
	if (!d->dp_connected) {
		*reply = sl_proto_error(id, "dataplane_down", NULL,
					"the dataplane's channel is closed");
		return NULL;
	}
	unsigned used = 0;
	for (unsigned i = 0; i < SL_MAX_PENDING; i++)
		used += d->pending[i].used;
	json_t *copy = json_deep_copy(req);
	struct sl_pending *p = send_pending(d, copy, cmd);
	json_decref(copy);
	if (!p) {
		if (used < SL_MAX_PENDING)
			*reply = sl_proto_error(id, "dataplane_down", NULL,
						"the dataplane's channel broke");
		else
			*reply = sl_proto_error(id, "busy", NULL, "too many requests in flight");
		return NULL;
	}
	p->client = idx;
	p->gen = d->clients[idx].gen;
	p->id = id ? json_incref(id) : NULL;
	d->clients[idx].waiting++;
	if (arg)
		snprintf(p->arg, sizeof(p->arg), "%s", arg);
	p->core = core;
	return p;
}

/* Ask the dataplane to stop; without a channel, signal it. */
static void stop_dataplane(struct sl_daemon *d)
{
	d->phase = SL_SUP_STOPPING;
	if (d->dp_connected)
		internal_request(d, "shutdown", NULL, 0);
	else if (pidfd_signal(d, SIGTERM) < 0)
		sl_log(LOG_WARNING, "cannot signal dataplane %d: %s", (int)d->dp_pid,
		       strerror(errno));
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
			d->phase = SL_SUP_DOWN;
		return;
	}
	stop_dataplane(d);
}
