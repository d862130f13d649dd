/* protocol.h: the sluice control protocol's framing and message helpers,
 * shared by sluiced, sluicectl and sluice-dp. A message is one JSON object
 * on one line ("\n"-terminated), at most SL_PROTO_MAX_MSG bytes. Requests are
 * {"cmd": NAME, "id": ANY, ...}; replies are {"id", "ok": true, "result"} or
 * {"id", "ok": false, "error": {"code", "field", "message"}}. See
 * control/PROTOCOL.md. */
#ifndef SL_PROTOCOL_H
#define SL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Big enough for a SL_CONFIG_MAX_BYTES config after JSON escaping (each
 * byte can become a 6-byte \u escape) plus the request around it. */
#define SL_PROTO_MAX_MSG (2u << 20)

/* One connection's buffers. Reads are framed into lines; a line longer than
 * SL_PROTO_MAX_MSG is skipped to its newline and reported once, so the
 * connection stays usable. Writes are queued and flushed as the socket
 * accepts them, so a slow peer never blocks the server. */
/* File descriptors a connection holds for its lines (SCM_RIGHTS). */
#define SL_LINECONN_MAX_FDS 4

struct sl_lineconn {
	int fd;
	char *in; /* grown as a line needs it, up to SL_PROTO_MAX_MSG + 1 */
	size_t in_len, in_cap;
	bool discarding; /* inside an oversized line */
	char *out;
	size_t out_len, out_off;
	/* Receiving descriptors (SCM_RIGHTS) is off unless the owner turns
	 * it on for a peer it trusts: plain recv() makes the kernel close
	 * whatever a client sends. Those received wait here, oldest first,
	 * for the line that announces them (sl_lineconn_take_fd); past
	 * SL_LINECONN_MAX_FDS they are closed. */
	bool accept_fds;
	int in_fds[SL_LINECONN_MAX_FDS];
	unsigned n_in_fds;
	/* One descriptor to send with the first byte at out_fd_at, or -1. */
	int out_fd;
	size_t out_fd_at;
};

void sl_lineconn_init(struct sl_lineconn *c, int fd);
void sl_lineconn_free(struct sl_lineconn *c);

/* Read what the socket has. For each complete line calls on_line; for each
 * oversized line calls on_line with line == NULL. Returns 0, or -1 on EOF or
 * error (the caller closes). */
int sl_lineconn_read(struct sl_lineconn *c, void (*on_line)(void *ctx, char *line, size_t len),
		     void *ctx);

/* Queue msg (encoded compactly plus "\n") and try to send. Returns 0 or -1. */
int sl_lineconn_send(struct sl_lineconn *c, json_t *msg);
/* Queue msg with the descriptor fd (passed with SCM_RIGHTS along with the
 * message's first byte; the connection owns fd from now on and closes it
 * once sent or on failure). One at a time: -1 while another waits. */
int sl_lineconn_send_fd(struct sl_lineconn *c, json_t *msg, int fd);
/* The oldest received descriptor (the caller owns it), or -1. */
int sl_lineconn_take_fd(struct sl_lineconn *c);
/* Send queued bytes; returns 0 (maybe with bytes left), or -1 on error. */
int sl_lineconn_flush(struct sl_lineconn *c);
static inline bool sl_lineconn_pending(const struct sl_lineconn *c)
{
	return c->out_off < c->out_len;
}

/* Decode one request line (len bytes, any content) into a JSON object with
 * a string "cmd". On failure returns NULL with *error_reply set (parse_error,
 * missing_field or bad_field). Never crashes on any input: jansson bounds
 * nesting depth, and embedded NULs and invalid UTF-8 are parse errors. */
json_t *sl_proto_decode(const char *line, size_t len, json_t **error_reply);

/* Reply builders; both steal result/nothing and copy id. */
json_t *sl_proto_ok(json_t *id, json_t *result);
json_t *sl_proto_error(json_t *id, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Field readers for handlers: on a missing or mistyped field they build the
 * error reply into *reply and return -1. */
int sl_proto_get_str(json_t *req, const char *field, bool required, const char **out,
		     json_t **reply);
int sl_proto_get_int(json_t *req, const char *field, bool required, long long min, long long max,
		     long long *out, json_t **reply);
int sl_proto_get_bool(json_t *req, const char *field, bool *out, json_t **reply);

/* Blocking request/response on a connected socket, for clients. Returns the
 * reply (caller decrefs) or NULL with err set. */
json_t *sl_proto_call(int fd, json_t *req, int timeout_ms, char *err, size_t len);
/* The same, for a reply that may carry a descriptor ("fds": 1 in the
 * reply): *out_fd gets it, or -1. */
json_t *sl_proto_call_fd(int fd, json_t *req, int timeout_ms, int *out_fd, char *err, size_t len);

/* Connect to a Unix stream socket; -1 with err set on failure. */
int sl_proto_connect(const char *path, char *err, size_t len);

#endif
