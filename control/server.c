/* server.c: sluiced's public Unix socket. Many clients at once on one epoll loop; every socket is
 * non-blocking and replies are queued, so a slow or stuck client never holds up the others. Each
 * peer's role (admin, reader, nobody) comes from SO_PEERCRED and SO_PEERGROUPS at accept, and every
 * request is checked against it before its handler runs. Idle clients are closed, each non-root uid
 * gets a capped number of connections (root keeps reserved slots), and running out of file
 * descriptors never makes the loop spin. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>

#include "control/daemon.h"
#include "control/log.h"
#include "control/rundir.h"
#include "control/server.h"

/* epoll data: client index, or these. */
#define EV_LISTEN 0xffff0001u

/* Whether something answers at sa. */
static bool socket_live(const struct sockaddr_un *sa)
{
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = probe >= 0 && connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	if (probe >= 0)
		close(probe);
	return live;
}

int sl_server_open(struct sl_daemon *d, char *err, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(d->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, len, "socket path too long: %s", d->socket_path);
		return -1;
	}
	strcpy(sa.sun_path, d->socket_path);
	const char *name = sl_rundir_base_name(d->socket_path);

	/* Never delete what is not ours: only a dead socket file we own (left
	 * from a crash) is replaced. */
	struct stat st;
	if (fstatat(d->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, len, "%s exists and is not a socket; refusing to replace it",
				 d->socket_path);
			return -1;
		}
		if (socket_live(&sa)) {
			snprintf(err, len, "%s: another sluiced is already listening there",
				 d->socket_path);
			return -1;
		}
		if (st.st_uid != geteuid()) {
			snprintf(err, len,
				 "%s is a socket owned by uid %u, not us; refusing to replace it",
				 d->socket_path, (unsigned)st.st_uid);
			return -1;
		}
		unlinkat(d->dirfd, name, 0);
	}
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* Created with no access for anyone but us; widened below to exactly
	 * the groups. */
	mode_t old = umask(0177);
	int rc = d->listen_fd < 0 ? -1 : bind(d->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(d->listen_fd, 128) != 0) {
		snprintf(err, len, "cannot listen on %s: %s", d->socket_path, strerror(errno));
		if (rc == 0)
			unlink(d->socket_path);
		close(d->listen_fd);
		d->listen_fd = -1;
		return -1;
	}
	sl_rundir_set_access(d, -1, d->socket_path, 6, 6, 6);
	d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_LISTEN};
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->listen_fd, &ev);
	return 0;
}

void sl_server_close(struct sl_daemon *d)
{
	for (unsigned i = 0; i < SL_MAX_CLIENTS; i++)
		if (d->clients[i].used)
			sl_lineconn_free(&d->clients[i].lc);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->socket_path);
	}
	if (d->spare_fd >= 0)
		close(d->spare_fd);
}

static void drop_client(struct sl_daemon *d, unsigned idx)
{
	struct sl_client *c = &d->clients[idx];
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->lc.fd, NULL);
	sl_lineconn_free(&c->lc);
	c->used = false;
}

static void update_interest(struct sl_daemon *d, unsigned idx)
{
	struct sl_client *c = &d->clients[idx];
	struct epoll_event ev = {.events = EPOLLIN | (sl_lineconn_pending(&c->lc) ? EPOLLOUT : 0),
				 .data.u32 = idx};
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->lc.fd, &ev);
}

static bool in_groups(gid_t want, gid_t primary, const gid_t *groups, int n)
{
	if (primary == want)
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

/* The peer's role, from its credentials at connect time. */
static enum sl_role peer_role(struct sl_daemon *d, int fd, const struct ucred *cred)
{
	if (cred->uid == 0 || cred->uid == geteuid())
		return SL_ROLE_ADMIN;
	if (!d->admin_group && !d->read_group)
		return SL_ROLE_NONE;
	gid_t groups[256];
	int n = 0;
	socklen_t gl = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0) {
		n = (int)(gl / sizeof(gid_t));
	} else {
		/* Old kernel, or too many groups: ask the user database. */
		struct passwd *pw = getpwuid(cred->uid);
		n = 256;
		if (!pw || getgrouplist(pw->pw_name, cred->gid, groups, &n) < 0)
			n = 0;
	}
	if (d->admin_group && in_groups(d->admin_gid, cred->gid, groups, n))
		return SL_ROLE_ADMIN;
	if (d->read_group && in_groups(d->read_gid, cred->gid, groups, n))
		return SL_ROLE_READ;
	return SL_ROLE_NONE;
}

static void who_may(struct sl_daemon *d, char *buf, size_t len, bool mutate)
{
	int n = snprintf(buf, len, "uid 0");
	if (d->admin_group)
		n += snprintf(buf + n, len - (size_t)n, " or group '%s'", d->admin_group);
	if (!mutate && d->read_group)
		snprintf(buf + n, len - (size_t)n, " or group '%s'", d->read_group);
}

/* Send one reply on a connection we will not keep and close it. */
static void refuse(int fd, json_t *reply)
{
	struct sl_lineconn lc;
	sl_lineconn_init(&lc, fd);
	sl_lineconn_send(&lc, reply);
	json_decref(reply);
	sl_lineconn_free(&lc);
}

/* A warning at most once a second per kind (*last): a flood must not
 * flood the log, nor hide a different warning behind its own. */
static void rate_warning(double *last, const char *what)
{
	if (sl_now() - *last >= 1.0) {
		*last = sl_now();
		sl_log(LOG_WARNING, "%s", what);
	}
}

/* Out of file descriptors: drop the waiting connection (it cannot be
 * served), or, without a spare fd, stop listening for a moment, so a full
 * backlog does not make the loop spin. */
static void out_of_fds(struct sl_daemon *d)
{
	rate_warning(&d->last_fd_warning, "out of file descriptors; dropping new connections");
	if (d->spare_fd >= 0) {
		close(d->spare_fd);
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return;
	}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->listen_fd, NULL);
	d->listen_paused = true;
	d->listen_resume = sl_now() + 0.1;
}

void sl_server_accept(struct sl_daemon *d)
{
	for (int budget = 0; budget < 64 && !d->listen_paused; budget++) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				out_of_fds(d);
			else if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		struct ucred cred = {0, (uid_t)-1, (gid_t)-1};
		socklen_t cl = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
			close(fd);
			continue;
		}
		enum sl_role role = peer_role(d, fd, &cred);
		if (role == SL_ROLE_NONE) {
			char who[256];
			who_may(d, who, sizeof(who), false);
			refuse(fd, sl_proto_error(NULL, "forbidden", NULL,
						  "uid %u may not use sluiced: it needs %s",
						  (unsigned)cred.uid, who));
			continue;
		}
		unsigned idx = 0, used = 0, same_uid = 0, free_idx = SL_MAX_CLIENTS;
		for (idx = 0; idx < SL_MAX_CLIENTS; idx++) {
			if (!d->clients[idx].used) {
				if (free_idx == SL_MAX_CLIENTS)
					free_idx = idx;
				continue;
			}
			used++;
			same_uid += d->clients[idx].uid == cred.uid;
		}
		/* Root is never locked out: other users share all but the
		 * reserved slots, and each gets only so many. */
		const char *full = NULL;
		if (free_idx == SL_MAX_CLIENTS)
			full = "too many clients";
		else if (cred.uid != 0 && used >= SL_MAX_CLIENTS - SL_ROOT_RESERVED)
			full = "too many clients (the rest are kept for root)";
		else if (cred.uid != 0 && same_uid >= SL_MAX_PER_UID)
			full = "too many connections from this uid";
		if (full) {
			rate_warning(&d->last_limit_warning,
				     "refusing connections: client limits reached");
			refuse(fd, sl_proto_error(NULL, "busy", NULL, "%s (uid %u has %u)", full,
						  (unsigned)cred.uid, same_uid));
			continue;
		}
		struct sl_client *c = &d->clients[free_idx];
		sl_lineconn_init(&c->lc, fd);
		c->used = true;
		c->gen = ++d->next_gen;
		c->pid = cred.pid;
		c->uid = cred.uid;
		c->role = role;
		c->waiting = 0;
		c->last_active = sl_now();
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = free_idx};
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

void sl_server_tick(struct sl_daemon *d)
{
	double now = sl_now();
	if (d->listen_paused && now >= d->listen_resume) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_LISTEN};
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->listen_fd, &ev);
		d->listen_paused = false;
	}
	for (unsigned i = 0; i < SL_MAX_CLIENTS; i++) {
		struct sl_client *c = &d->clients[i];
		/* Waiting for a reply is not idle; neither is the client a
		 * shutdown will answer. */
		if (!c->used || c->waiting || sl_lineconn_pending(&c->lc) ||
		    (d->shutdown_requested && d->shutdown_client == (int)i &&
		     d->shutdown_gen == c->gen))
			continue;
		if (now - c->last_active > d->client_timeout_s) {
			sl_log(LOG_INFO, "closing client uid %u pid %d: idle for %.0f s",
			       (unsigned)c->uid, (int)c->pid, d->client_timeout_s);
			drop_client(d, i);
		}
	}
}

void sl_server_reply(struct sl_daemon *d, unsigned idx, uint64_t gen, json_t *reply)
{
	sl_server_reply_fd(d, idx, gen, reply, -1);
}

void sl_server_reply_fd(struct sl_daemon *d, unsigned idx, uint64_t gen, json_t *reply, int fd)
{
	struct sl_client *c = &d->clients[idx];
	if (idx < SL_MAX_CLIENTS && c->used && c->gen == gen) {
		c->last_active = sl_now();
		int rc = fd >= 0 ? sl_lineconn_send_fd(&c->lc, reply, fd)
				 : sl_lineconn_send(&c->lc, reply);
		fd = -1; /* the connection owns it now */
		if (rc < 0) {
			drop_client(d, idx);
		} else if (c->lc.out_len - c->lc.out_off > SL_MAX_BACKLOG) {
			/* It asks but does not read: stop buffering for it. */
			sl_log(LOG_WARNING, "client pid %d does not read its replies; dropping it",
			       (int)c->pid);
			drop_client(d, idx);
		} else {
			update_interest(d, idx);
		}
	}
	if (fd >= 0)
		close(fd);
	json_decref(reply);
}

struct line_ctx {
	struct sl_daemon *d;
	unsigned idx;
};

static json_t *handle(struct sl_daemon *d, unsigned idx, char *line, size_t len)
{
	struct sl_client *c = &d->clients[idx];
	json_t *reply = NULL;
	json_t *req = sl_proto_decode(line, len, &reply);
	if (!req)
		return reply;
	json_t *id = json_object_get(req, "id");
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	const struct sl_command_def *def = sl_command_find(d, cmd);
	if (!def) {
		reply = sl_proto_error(id, "unknown_command", "cmd", "unknown command '%s'", cmd);
	} else if (sl_command_mutating(def, req) && c->role != SL_ROLE_ADMIN) {
		char who[256];
		who_may(d, who, sizeof(who), true);
		sl_log(LOG_NOTICE, "refused %s from uid %u pid %d: not an admin", cmd,
		       (unsigned)c->uid, (int)c->pid);
		reply = sl_proto_error(id, "forbidden", NULL, "%s%s needs %s", cmd,
				       def->mutates ? "" : " with reset", who);
	} else {
		if (sl_command_mutating(def, req))
			sl_log(LOG_NOTICE, "%s from uid %u pid %d: %.300s%s", cmd, (unsigned)c->uid,
			       (int)c->pid, line, len > 300 ? "..." : "");
		reply = def->fn(d, idx, req);
	}
	json_decref(req);
	return reply;
}

static void on_line(void *ctx, char *line, size_t len)
{
	struct line_ctx *lx = ctx;
	struct sl_daemon *d = lx->d;
	struct sl_client *c = &d->clients[lx->idx];
	json_t *reply;

	c->last_active = sl_now();
	if (!line)
		reply = sl_proto_error(NULL, "too_large", NULL, "message longer than %u bytes",
				       SL_PROTO_MAX_MSG);
	else
		reply = handle(d, lx->idx, line, len);
	if (reply)
		sl_server_reply(d, lx->idx, c->gen, reply);
}

void sl_server_client_event(struct sl_daemon *d, unsigned idx, uint32_t events)
{
	struct sl_client *c = &d->clients[idx];
	if (idx >= SL_MAX_CLIENTS || !c->used)
		return;
	if ((events & EPOLLOUT) && sl_lineconn_flush(&c->lc) < 0) {
		drop_client(d, idx);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		struct line_ctx lx = {d, idx};
		if (sl_lineconn_read(&c->lc, on_line, &lx) < 0) {
			/* EOF: still send what is queued if we can, then close. */
			if (c->used) {
				sl_lineconn_flush(&c->lc);
				drop_client(d, idx);
			}
			return;
		}
	}
	if (c->used)
		update_interest(d, idx);
}
