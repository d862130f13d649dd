/* protocol.c: line framing over Unix stream sockets and the JSON reply and
 * field helpers of the control protocol. */
#include "control/proto/protocol.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void sl_lineconn_init(struct sl_lineconn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->out_fd = -1;
}

void sl_lineconn_free(struct sl_lineconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	for (unsigned i = 0; i < c->n_in_fds; i++)
		close(c->in_fds[i]);
	if (c->out_fd >= 0)
		close(c->out_fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->out_fd = -1;
}

/* recv() that keeps descriptors when the connection accepts them: queued
 * up to SL_LINECONN_MAX_FDS, the rest closed; a truncated control message
 * has had its extra descriptors closed by the kernel. */
static ssize_t recv_fds(struct sl_lineconn *c, char *buf, size_t len)
{
	if (!c->accept_fds)
		return recv(c->fd, buf, len, MSG_DONTWAIT);
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * SL_LINECONN_MAX_FDS)];
	} ctl;
	struct iovec iov = {buf, len};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b)};
	ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->n_in_fds < SL_LINECONN_MAX_FDS)
				c->in_fds[c->n_in_fds++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

int sl_lineconn_take_fd(struct sl_lineconn *c)
{
	if (c->n_in_fds == 0)
		return -1;
	int fd = c->in_fds[0];
	memmove(c->in_fds, c->in_fds + 1, --c->n_in_fds * sizeof(int));
	return fd;
}

int sl_lineconn_read(struct sl_lineconn *c, void (*on_line)(void *ctx, char *line, size_t len),
		     void *ctx)
{
	char buf[16384];
	for (;;) {
		ssize_t n = recv_fds(c, buf, sizeof(buf));
		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (ssize_t i = 0; i < n;) {
			char *nl = memchr(buf + i, '\n', (size_t)(n - i));
			size_t take = nl ? (size_t)(nl - (buf + i)) : (size_t)(n - i);
			if (!c->discarding) {
				if (c->in_len + take > SL_PROTO_MAX_MSG) {
					c->discarding = true;
					c->in_len = 0;
				} else {
					/* Grow on demand: most clients send short lines,
					 * so nobody holds the maximum for nothing. */
					if (c->in_len + take + 1 > c->in_cap) {
						size_t cap = c->in_cap ? c->in_cap : 4096;
						while (cap < c->in_len + take + 1)
							cap *= 2;
						if (cap > SL_PROTO_MAX_MSG + 1)
							cap = SL_PROTO_MAX_MSG + 1;
						char *p = realloc(c->in, cap);
						if (!p)
							return -1;
						c->in = p;
						c->in_cap = cap;
					}
					memcpy(c->in + c->in_len, buf + i, take);
					c->in_len += take;
				}
			}
			i += (ssize_t)take;
			if (nl) {
				i++;
				if (c->discarding) {
					c->discarding = false;
					on_line(ctx, NULL, 0);
				} else {
					size_t len = c->in_len;
					c->in_len = 0;
					/* An empty line is a request too: its
					 * parse_error reply means a client never
					 * waits for an answer that will not come. */
					char empty[1] = "";
					char *line = len ? c->in : empty;
					line[len] = '\0';
					on_line(ctx, line, len);
				}
				if (c->fd < 0)
					return -1; /* the callback closed us */
				if (c->in_cap > 65536 && !c->in_len) {
					/* A big request passed: give its buffer back. */
					free(c->in);
					c->in = NULL;
					c->in_cap = 0;
				}
			}
		}
	}
}

int sl_lineconn_flush(struct sl_lineconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n;
		if (c->out_fd >= 0 && c->out_off == c->out_fd_at) {
			union {
				struct cmsghdr h;
				char b[CMSG_SPACE(sizeof(int))];
			} ctl;
			memset(&ctl, 0, sizeof(ctl));
			struct iovec iov = {c->out + c->out_off, c->out_len - c->out_off};
			struct msghdr mh = {.msg_iov = &iov,
					    .msg_iovlen = 1,
					    .msg_control = ctl.b,
					    .msg_controllen = sizeof(ctl.b)};
			struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(h), &c->out_fd, sizeof(int));
			n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				close(c->out_fd);
				c->out_fd = -1;
			}
		} else {
			/* Bytes before a waiting descriptor go alone, so that
			 * it travels with its own message's first byte. */
			size_t end = c->out_fd >= 0 ? c->out_fd_at : c->out_len;
			n = send(c->fd, c->out + c->out_off, end - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

int sl_lineconn_send_fd(struct sl_lineconn *c, json_t *msg, int fd)
{
	if (c->out_fd >= 0) {
		close(fd);
		return -1;
	}
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	c->out_fd = fd;
	c->out_fd_at = c->out_len;
	return sl_lineconn_send(c, msg);
}

int sl_lineconn_send(struct sl_lineconn *c, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return -1;
	size_t len = strlen(s);
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	char *p = realloc(c->out, c->out_len + len + 1);
	if (!p) {
		free(s);
		return -1;
	}
	c->out = p;
	memcpy(c->out + c->out_len, s, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	free(s);
	return sl_lineconn_flush(c);
}

static json_t *reply_base(json_t *id)
{
	json_t *r = json_object();
	json_object_set(r, "id", id ? id : json_null());
	return r;
}

json_t *sl_proto_ok(json_t *id, json_t *result)
{
	json_t *r = reply_base(id);
	json_object_set_new(r, "ok", json_true());
	json_object_set_new(r, "result", result ? result : json_object());
	return r;
}

/* A JSON string of s even when s is not valid UTF-8 (a message may quote
 * hostile bytes): those bytes become '?'. */
static json_t *safe_string(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *copy = strdup(s);
	if (!copy)
		return json_string("?");
	for (unsigned char *p = (unsigned char *)copy; *p; p++)
		if (*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *sl_proto_error(json_t *id, const char *code, const char *field, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *r = reply_base(id);
	json_t *e = json_object();
	json_object_set_new(e, "code", json_string(code));
	json_object_set_new(e, "field", field ? json_string(field) : json_null());
	json_object_set_new(e, "message", safe_string(msg));
	json_object_set_new(r, "ok", json_false());
	json_object_set_new(r, "error", e);
	return r;
}

json_t *sl_proto_decode(const char *line, size_t len, json_t **error_reply)
{
	json_error_t je;
	*error_reply = NULL;
	/* Without JSON_ALLOW_NUL a \u0000 in a string is refused, so every
	 * string a handler sees is a C string. */
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!req) {
		*error_reply =
		    sl_proto_error(NULL, "parse_error", NULL, "malformed JSON at column %d: %s",
				   je.column, je.text);
		return NULL;
	}
	if (!json_is_object(req)) {
		json_decref(req);
		*error_reply =
		    sl_proto_error(NULL, "parse_error", NULL, "a request is a JSON object");
		return NULL;
	}
	json_t *id = json_object_get(req, "id");
	json_t *cmd = json_object_get(req, "cmd");
	if (!cmd)
		*error_reply = sl_proto_error(id, "missing_field", "cmd", "'cmd' is required");
	else if (!json_is_string(cmd))
		*error_reply = sl_proto_error(id, "bad_field", "cmd", "'cmd' must be a string");
	if (*error_reply) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* Look field up: 1 present (*v set), 0 absent and optional, -1 absent and
 * required (*reply set). */
static int field_lookup(json_t *req, const char *field, bool required, json_t **v, json_t **reply)
{
	*v = json_object_get(req, field);
	if (*v)
		return 1;
	if (!required)
		return 0;
	*reply = sl_proto_error(json_object_get(req, "id"), "missing_field", field,
				"'%s' is required", field);
	return -1;
}

int sl_proto_get_str(json_t *req, const char *field, bool required, const char **out,
		     json_t **reply)
{
	json_t *v;
	int found = field_lookup(req, field, required, &v, reply);
	if (found <= 0)
		return found;
	if (!json_is_string(v)) {
		*reply = sl_proto_error(json_object_get(req, "id"), "bad_field", field,
					"'%s' must be a string", field);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int sl_proto_get_int(json_t *req, const char *field, bool required, long long min, long long max,
		     long long *out, json_t **reply)
{
	json_t *v;
	int found = field_lookup(req, field, required, &v, reply);
	if (found <= 0)
		return found;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		*reply =
		    sl_proto_error(json_object_get(req, "id"), "bad_field", field,
				   "'%s' must be an integer from %lld to %lld", field, min, max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int sl_proto_get_bool(json_t *req, const char *field, bool *out, json_t **reply)
{
	json_t *v = json_object_get(req, field);
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		*reply = sl_proto_error(json_object_get(req, "id"), "bad_field", field,
					"'%s' must be true or false", field);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct call_ctx {
	json_t *reply;
	char *err;
	size_t len;
};

static void call_on_line(void *ctx, char *line, size_t len)
{
	struct call_ctx *cc = ctx;
	json_error_t je;
	if (cc->reply)
		return;
	if (!line) {
		snprintf(cc->err, cc->len, "reply larger than %u bytes", SL_PROTO_MAX_MSG);
		return;
	}
	cc->reply = json_loadb(line, len, 0, &je);
	if (!cc->reply)
		snprintf(cc->err, cc->len, "malformed reply: %s", je.text);
}

json_t *sl_proto_call(int fd, json_t *req, int timeout_ms, char *err, size_t len)
{
	return sl_proto_call_fd(fd, req, timeout_ms, NULL, err, len);
}

json_t *sl_proto_call_fd(int fd, json_t *req, int timeout_ms, int *out_fd, char *err, size_t len)
{
	struct sl_lineconn c;
	struct call_ctx cc = {NULL, err, len};
	long long deadline = now_ms() + timeout_ms;

	sl_lineconn_init(&c, fd);
	c.accept_fds = out_fd != NULL;
	if (out_fd)
		*out_fd = -1;
	err[0] = '\0';
	if (sl_lineconn_send(&c, req) < 0) {
		/* The server may have refused us at accept and closed: its
		 * one reply says why, so read it before giving up. */
		int e = errno;
		sl_lineconn_read(&c, call_on_line, &cc);
		if (!cc.reply && !err[0])
			snprintf(err, len, "send failed: %s", strerror(e));
		goto out;
	}
	while (!cc.reply && !err[0]) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, len, "no reply within %d ms", timeout_ms);
			break;
		}
		struct pollfd p = {fd, POLLIN | (sl_lineconn_pending(&c) ? POLLOUT : 0), 0};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR) {
			snprintf(err, len, "poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		if ((p.revents & POLLOUT) && sl_lineconn_flush(&c) < 0) {
			snprintf(err, len, "send failed: %s", strerror(errno));
			break;
		}
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    sl_lineconn_read(&c, call_on_line, &cc) < 0 && !cc.reply && !err[0])
			snprintf(err, len, "connection closed");
	}
out:
	/* The descriptor came with the reply's first byte: the reply is
	 * complete, so it is here if the reply announces one. */
	if (out_fd && cc.reply && json_integer_value(json_object_get(cc.reply, "fds")) == 1)
		*out_fd = sl_lineconn_take_fd(&c);
	c.fd = -1; /* the caller owns fd */
	sl_lineconn_free(&c);
	return cc.reply;
}

int sl_proto_connect(const char *path, char *err, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, len, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, len, "cannot connect to %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}
