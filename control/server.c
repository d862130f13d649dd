/* server.c: sluiced's public Unix socket. Many clients at once on one epoll
 * loop; every socket is non-blocking and replies are queued, so a slow or
 * stuck client never holds up the others. Each peer is identified with
 * SO_PEERCRED, and mutating commands are logged with its uid and pid. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "control/daemon.h"

/* epoll data: client index, or these. */
#define EV_LISTEN 0xffff0001u

int sl_server_open(struct sl_daemon *d, char *err, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(d->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, len, "socket path too long: %s", d->socket_path);
		return -1;
	}
	char dir[sizeof(sa.sun_path)];
	snprintf(dir, sizeof(dir), "%s", d->socket_path);
	mkdir(dirname(dir), 0755);
	strcpy(sa.sun_path, d->socket_path);

	/* A socket file nobody answers on is left from a crash: reuse it. A
	 * live one belongs to another sluiced. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		snprintf(err, len, "%s: another sluiced is already listening there",
			 d->socket_path);
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(d->socket_path);
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->listen_fd < 0 || bind(d->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(d->socket_path, 0660) != 0 || listen(d->listen_fd, 128) != 0) {
		snprintf(err, len, "cannot listen on %s: %s", d->socket_path, strerror(errno));
		return -1;
	}
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

void sl_server_accept(struct sl_daemon *d)
{
	for (;;) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		unsigned idx = 0;
		while (idx < SL_MAX_CLIENTS && d->clients[idx].used)
			idx++;
		if (idx == SL_MAX_CLIENTS) {
			sl_log(LOG_WARNING, "too many clients (%d); refusing one", SL_MAX_CLIENTS);
			close(fd);
			continue;
		}
		struct sl_client *c = &d->clients[idx];
		struct ucred cred = {0};
		socklen_t cl = sizeof(cred);
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
		sl_lineconn_init(&c->lc, fd);
		c->used = true;
		c->gen = ++d->next_gen;
		c->pid = cred.pid;
		c->uid = cred.uid;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx};
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

void sl_server_reply(struct sl_daemon *d, unsigned idx, uint64_t gen, json_t *reply)
{
	struct sl_client *c = &d->clients[idx];
	if (idx < SL_MAX_CLIENTS && c->used && c->gen == gen) {
		if (sl_lineconn_send(&c->lc, reply) < 0) {
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
	json_decref(reply);
}

struct line_ctx {
	struct sl_daemon *d;
	unsigned idx;
};

static void on_line(void *ctx, char *line, size_t len)
{
	struct line_ctx *lx = ctx;
	struct sl_daemon *d = lx->d;
	struct sl_client *c = &d->clients[lx->idx];
	json_error_t je;
	json_t *reply;

	if (!line) {
		reply = sl_proto_error(NULL, "too_large", NULL, "message longer than %d bytes",
				       SL_PROTO_MAX_MSG);
		sl_server_reply(d, lx->idx, c->gen, reply);
		return;
	}
	json_t *req = json_loadb(line, len, 0, &je);
	if (!req || !json_is_object(req)) {
		reply = sl_proto_error(NULL, "parse_error", NULL, "malformed JSON at column %d: %s",
				       je.column, req ? "a request is a JSON object" : je.text);
		json_decref(req);
		sl_server_reply(d, lx->idx, c->gen, reply);
		return;
	}
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	if (cmd && sl_command_mutates(cmd))
		sl_log(LOG_NOTICE, "%s from uid %u pid %d: %s", cmd, (unsigned)c->uid, (int)c->pid,
		       line);
	reply = sl_command(d, lx->idx, req);
	json_decref(req);
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
