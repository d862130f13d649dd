/* fuzz_proto.c: libFuzzer target for the control protocol's input side: the
 * request decoder and the field readers every handler uses, and the line
 * framing of a connection. The input is decoded as one request line, then
 * written into a socketpair in pieces cut at input-derived points and framed
 * by sl_lineconn_read, whose lines must match a straightforward reference
 * framing; each framed line is decoded too. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "control/proto/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_proto: invariant broken: %s\n", what);
		abort();
	}
}

/* A refusal is a reply the server can send: ok false, a string code. */
static void check_reply(json_t *reply)
{
	check(json_is_object(reply), "an error reply is an object");
	check(json_is_false(json_object_get(reply, "ok")), "an error reply has ok false");
	json_t *err = json_object_get(reply, "error");
	check(json_is_string(json_object_get(err, "code")), "an error reply has a code");
	char *s = json_dumps(reply, JSON_COMPACT);
	check(s != NULL, "an error reply encodes");
	free(s);
	json_decref(reply);
}

static void decode_one(const char *line, size_t len)
{
	static const char *const fields[] = {"cmd",  "cluster", "core",	 "config",
					     "name", "kind",	"reset", "dot"};
	json_t *reply = NULL;
	json_t *req = sl_proto_decode(line, len, &reply);
	if (!req) {
		check(reply != NULL, "a refused line gets an error reply");
		check_reply(reply);
		return;
	}
	check(reply == NULL, "a decoded request has no error reply");
	check(json_is_object(req), "a request is an object");
	check(json_is_string(json_object_get(req, "cmd")), "a request has a string cmd");
	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *s = NULL;
		long long v = 0;
		bool b = false;
		for (int required = 0; required < 2; required++) {
			reply = NULL;
			int rc = sl_proto_get_str(req, fields[i], required, &s, &reply);
			check((rc < 0) == (reply != NULL),
			      "get_str replies exactly when it refuses");
			if (reply)
				check_reply(reply);
			else if (rc == 0 && json_object_get(req, fields[i]))
				check(s && strlen(s) <= len, "get_str gives the string");
			reply = NULL;
			rc = sl_proto_get_int(req, fields[i], required, -1, 1 << 20, &v, &reply);
			check((rc < 0) == (reply != NULL),
			      "get_int replies exactly when it refuses");
			if (reply)
				check_reply(reply);
			else if (rc == 0 && json_object_get(req, fields[i]))
				check(v >= -1 && v <= 1 << 20, "get_int keeps to its range");
		}
		reply = NULL;
		int rc = sl_proto_get_bool(req, fields[i], &b, &reply);
		check((rc < 0) == (reply != NULL), "get_bool replies exactly when it refuses");
		if (reply)
			check_reply(reply);
	}
	json_decref(req);
}

/* ---- framing ---- */

struct frame_ctx {
	const uint8_t *data;
	size_t size;
	size_t pos;	  /* where the next expected line starts in data */
	unsigned n_lines; /* callbacks so far */
};

/* The next line the reference framing expects from pos: its start and
 * length. Every complete line (ending in '\n') gives a callback, empty ones
 * too: each is a request and gets a reply. */
static bool next_expected(struct frame_ctx *f, size_t *start, size_t *len)
{
	if (f->pos >= f->size)
		return false;
	const uint8_t *nl = memchr(f->data + f->pos, '\n', f->size - f->pos);
	if (!nl)
		return false;
	*start = f->pos;
	*len = (size_t)(nl - f->data) - f->pos;
	f->pos = (size_t)(nl - f->data) + 1;
	return true;
}

static void on_line(void *ctx, char *line, size_t len)
{
	struct frame_ctx *f = ctx;
	size_t start, want;
	check(next_expected(f, &start, &want), "a line the input does not end");
	f->n_lines++;
	if (want > SL_PROTO_MAX_MSG) {
		check(line == NULL, "an oversized line is reported as such");
		return;
	}
	check(line != NULL, "a line within the limit is delivered");
	check(len == want && !memcmp(line, f->data + start, len), "a line arrives as sent");
	check(line[len] == '\0', "a line is NUL-terminated");
	decode_one(line, len);
}

static void frame(const uint8_t *data, size_t size)
{
	int sv[2];
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	check(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0, "nonblocking writer");
	struct sl_lineconn c;
	sl_lineconn_init(&c, sv[1]);
	struct frame_ctx f = {.data = data, .size = size};

	/* Cut points from a hash of the input, so a crash reproduces. */
	uint64_t x = 0x9e3779b97f4a7c15ull ^ size;
	for (size_t i = 0; i < size && i < 64; i++)
		x = (x ^ data[i]) * 0x100000001b3ull;
	size_t off = 0;
	while (off < size) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t want = 1 + (size_t)((x >> 33) % ((x >> 62) == 0 ? 64 : 24000));
		if (want > size - off)
			want = size - off;
		ssize_t n = send(sv[0], data + off, want, MSG_NOSIGNAL);
		check(n > 0 || errno == EAGAIN, "send to the socketpair");
		if (n > 0)
			off += (size_t)n;
		check(sl_lineconn_read(&c, on_line, &f) == 0, "read before EOF succeeds");
	}
	close(sv[0]);
	check(sl_lineconn_read(&c, on_line, &f) == -1, "EOF is reported");
	size_t s, l;
	check(!next_expected(&f, &s, &l), "every complete line was delivered");
	sl_lineconn_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_one((const char *)data, size);
	frame(data, size);
	return 0;
}
