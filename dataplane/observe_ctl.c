/* observe_ctl.c: the dataplane's live capture and packet trace commands. A
 * capture resolves its point to stage instances, makes a socketpair whose
 * one end the pcapng writer writes and whose other end goes back with the
 * reply (SCM_RIGHTS), and ends on its count, its duration or its reader
 * leaving. A trace follows the next packets the sources receive and
 * answers once they are through, or at its timeout. Switching off always
 * clears the hooks first and waits a QSBR grace period (the workers report
 * quiescent states between turns) before anything they used is freed. */
#include "dataplane/observe_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <urcu/urcu-qsbr.h>

#include "control/proto/protocol.h"

#include "stages/observe.h"

#define CAPTURE_QUEUE 1024
#define TRACE_QUIET_MS 100 /* no new event this long: the picked packets are through */

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct {
	int wfd; /* our end of the stream socket, watched for the reader leaving */
	double deadline;
} capture = {-1, 0};

static struct {
	uint64_t serial;
	json_t *id;
	double deadline;
	unsigned want;
} trace;

/* The known points of the graph, for a refusal: "rx, rx.out, parse, ...". */
static void known_points(const struct sl_config *cfg, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < cfg->n_stages && o + 1 < len; i++) {
		const struct sl_conf_stage *s = &cfg->stages[i];
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", s->name);
		for (unsigned p = 0; p < s->n_outputs && o + 1 < len; p++) {
			char nb[SL_LABEL_MAX];
			o += (size_t)snprintf(buf + o, len - o, ", %s.%s", s->name,
					      sl_conf_stage_output_name(s, p, nb, sizeof(nb)));
		}
	}
	if (o + 1 >= len && len > 4)
		strcpy(buf + len - 4, "...");
}

/* POINT is a stage (what enters it) or stage.port (what leaves by that
 * port). A source receives nothing from the graph: its point alone means
 * what it hands on (port 0). -1 with err when POINT names nothing. */
static int resolve_point(const struct sl_runtime *rt, const char *point, int *si, int *port,
			 char *err, size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	for (unsigned i = 0; i < cfg->n_stages; i++)
		if (!strcmp(cfg->stages[i].name, point)) {
			*si = (int)i;
			*port = cfg->stages[i].type->is_source ? 0 : -1;
			return 0;
		}
	const char *dot = strrchr(point, '.');
	for (unsigned i = 0; dot && i < cfg->n_stages; i++) {
		const struct sl_conf_stage *s = &cfg->stages[i];
		if (strlen(s->name) != (size_t)(dot - point) ||
		    strncmp(s->name, point, (size_t)(dot - point)))
			continue;
		for (unsigned p = 0; p < s->n_outputs; p++) {
			char nb[SL_LABEL_MAX];
			if (!strcmp(sl_conf_stage_output_name(s, p, nb, sizeof(nb)), dot + 1)) {
				*si = (int)i;
				*port = (int)p;
				return 0;
			}
		}
		char known[600];
		known_points(cfg, known, sizeof(known));
		snprintf(err, len, "stage '%s' has no output port '%s'; known points: %s", s->name,
			 dot + 1, known);
		return -1;
	}
	char known[700];
	known_points(cfg, known, sizeof(known));
	snprintf(err, len, "no graph point '%s'; known points: %s", point, known);
	return -1;
}

json_t *sl_dp_capture_cmd(struct sl_runtime *rt, json_t *req, int *fd_out)
{
	json_t *reply = NULL, *id = json_object_get(req, "id");
	const char *point = NULL, *filter = NULL;
	long long count = 0, duration = 0, snaplen = 65535;
	*fd_out = -1;
	if (sl_proto_get_str(req, "point", true, &point, &reply) < 0 ||
	    sl_proto_get_str(req, "filter", false, &filter, &reply) < 0 ||
	    sl_proto_get_int(req, "count", false, 0, 1000000000, &count, &reply) < 0 ||
	    sl_proto_get_int(req, "duration", false, 0, 86400, &duration, &reply) < 0 ||
	    sl_proto_get_int(req, "snaplen", false, 1, 65535, &snaplen, &reply) < 0)
		return reply;
	if (sl_obs_capture_active())
		return sl_proto_error(id, "busy", "point",
				      "a capture of '%s' is running (one at a time per dataplane)",
				      sl_obs_capture_point());
	char err[1024];
	int si, port;
	if (strlen(point) > 2 * SL_NAME_MAX)
		return sl_proto_error(id, "bad_field", "point", "'point' is too long");
	if (resolve_point(rt, point, &si, &port, err, sizeof(err)) < 0)
		return sl_proto_error(id, "not_found", "point", "%s", err);
	const struct sl_conf_stage *cs = &rt->cfg->stages[si];
	struct sl_stage *st[SL_OBS_CAPTURE_MAX_INST];
	unsigned n = 0;
	if (cs->instances > SL_OBS_CAPTURE_MAX_INST)
		return sl_proto_error(id, "bad_field", "point",
				      "'%s' has %u instances; a capture takes at most %u", cs->name,
				      cs->instances, SL_OBS_CAPTURE_MAX_INST);
	for (unsigned i = 0; i < cs->instances; i++)
		if (rt->inst[si][i])
			st[n++] = rt->inst[si][i];
	char name[2 * SL_NAME_MAX + SL_LABEL_MAX];
	if (port >= 0) {
		char nb[SL_LABEL_MAX];
		snprintf(name, sizeof(name), "%s.%s", cs->name,
			 sl_conf_stage_output_name(cs, (unsigned)port, nb, sizeof(nb)));
	} else {
		snprintf(name, sizeof(name), "%s", cs->name);
	}
	/* A socket, not a pipe: when the reader stops reading but stays, a
	 * shutdown still frees a writer blocked in write. */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return sl_proto_error(id, "internal", NULL, "socketpair: %s", strerror(errno));
	shutdown(sv[0], SHUT_RD);
	shutdown(sv[1], SHUT_WR);
	int sz = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	struct sl_obs_capture_req r = {
	    .st = st,
	    .n = n,
	    .port = port,
	    .point = name,
	    .filter = filter,
	    .count = (uint64_t)count,
	    .snaplen = (uint32_t)snaplen,
	    .queue = CAPTURE_QUEUE,
	    .fd = sv[0],
	    .socket = (int)rte_socket_id(),
	};
	if (sl_obs_capture_start(&r, err, sizeof(err)) < 0) {
		close(sv[0]);
		close(sv[1]);
		return sl_proto_error(id, strncmp(err, "filter: ", 8) ? "internal" : "bad_field",
				      strncmp(err, "filter: ", 8) ? NULL : "filter", "%s", err);
	}
	capture.wfd = sv[0];
	capture.deadline = duration ? mono_now() + (double)duration : 0;
	json_t *res = json_object();
	json_object_set_new(res, "point", json_string(name));
	json_object_set_new(res, "instances", json_integer(n));
	json_object_set_new(res, "snaplen", json_integer(snaplen));
	*fd_out = sv[1];
	return sl_proto_ok(id, res);
}

static void capture_end(const char *why)
{
	struct sl_obs_capture_stats s;
	sl_obs_capture_detach();
	urcu_qsbr_synchronize_rcu();
	/* A reader that stays but stops reading would hold the writer in a
	 * write: give it a moment, then cut the stream. */
	struct sl_obs_capture_stats now;
	for (int i = 0; i < 40; i++) {
		sl_obs_capture_get(&now);
		struct pollfd p = {capture.wfd, POLLOUT, 0};
		if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))
			break;
		usleep(50000);
	}
	struct pollfd p = {capture.wfd, POLLOUT, 0};
	if (!(poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)))
		shutdown(capture.wfd, SHUT_WR);
	sl_obs_capture_finish(&s);
	close(capture.wfd);
	capture.wfd = -1;
	fprintf(stderr,
		"sluice-dp: capture ended (%s): %llu packets written, %llu copies dropped "
		"(capture ring full)\n",
		why, (unsigned long long)s.written, (unsigned long long)s.dropped);
}

/* ---- trace ---- */

json_t *sl_dp_trace_cmd(struct sl_runtime *rt, json_t *req, uint64_t serial)
{
	json_t *reply = NULL, *id = json_object_get(req, "id");
	const char *filter = NULL;
	long long count = 5, timeout = 10;
	if (sl_proto_get_int(req, "count", false, 1, SL_TRACE_MAX, &count, &reply) < 0 ||
	    sl_proto_get_str(req, "filter", false, &filter, &reply) < 0 ||
	    sl_proto_get_int(req, "timeout", false, 1, 300, &timeout, &reply) < 0)
		return reply;
	if (sl_obs_trace_active())
		return sl_proto_error(id, "busy", NULL, "a trace is running (one at a time)");
	unsigned total = 0;
	for (unsigned i = 0; i < rt->cfg->n_stages; i++)
		total += rt->cfg->stages[i].instances;
	struct sl_stage **st = calloc(total ? total : 1, sizeof(*st));
	if (!st)
		return sl_proto_error(id, "internal", NULL, "out of memory");
	unsigned n = 0;
	for (unsigned i = 0; i < rt->cfg->n_stages; i++)
		for (unsigned k = 0; k < rt->cfg->stages[i].instances; k++)
			if (rt->inst[i][k])
				st[n++] = rt->inst[i][k];
	char err[1024];
	int rc = sl_obs_trace_start(st, n, (unsigned)count, filter, err, sizeof(err));
	free(st);
	if (rc < 0)
		return sl_proto_error(id, strncmp(err, "filter: ", 8) ? "internal" : "bad_field",
				      strncmp(err, "filter: ", 8) ? NULL : "filter", "%s", err);
	trace.serial = serial;
	trace.id = id ? json_incref(id) : NULL;
	trace.deadline = mono_now() + (double)timeout;
	trace.want = (unsigned)count;
	return NULL;
}

/* Where stage instance st is: config stage, instance, cluster. */
static bool locate(const struct sl_runtime *rt, const struct sl_stage *st, unsigned *si,
		   unsigned *ii)
{
	for (unsigned i = 0; i < rt->cfg->n_stages; i++)
		for (unsigned k = 0; k < rt->cfg->stages[i].instances; k++)
			if (rt->inst[i][k] == st) {
				*si = i;
				*ii = k;
				return true;
			}
	return false;
}

static int lcore_cpu(const struct sl_runtime *rt, unsigned lcore)
{
	for (unsigned l = 0; l < rt->n_lcores; l++)
		if (rt->lcores[l].lcore_id == lcore)
			return (int)rt->lcores[l].cpu;
	return -1;
}

static int ev_cmp(const void *a, const void *b)
{
	const struct sl_trace_event *x = a, *y = b;
	return x->tsc < y->tsc ? -1 : x->tsc > y->tsc;
}

static json_t *trace_json(const struct sl_runtime *rt, const struct sl_trace_slot *slots,
			  unsigned n)
{
	json_t *pk = json_array();
	uint64_t hz = rte_get_tsc_hz();
	for (unsigned p = 0; p < n; p++) {
		const struct sl_trace_slot *s = &slots[p];
		unsigned ne = s->n_ev < SL_TRACE_EVENTS ? s->n_ev : SL_TRACE_EVENTS;
		struct sl_trace_event ev[SL_TRACE_EVENTS];
		memcpy(ev, s->ev, ne * sizeof(ev[0]));
		/* Stable order: the atomic index already orders one core's
		 * events; across cores the TSC does (invariant TSC). */
		qsort(ev, ne, sizeof(ev[0]), ev_cmp);
		json_t *evs = json_array();
		const char *end = "consumed";
		for (unsigned e = 0; e < ne; e++) {
			unsigned si, ii;
			if (!locate(rt, ev[e].st, &si, &ii))
				continue;
			const struct sl_conf_stage *cs = &rt->cfg->stages[si];
			json_t *j = json_object();
			json_object_set_new(j, "stage", json_string(cs->name));
			json_object_set_new(j, "type", json_string(cs->type->name));
			json_object_set_new(j, "instance", json_integer(ii));
			json_object_set_new(j, "cluster",
					    json_string(rt->cfg->clusters[cs->cluster[ii]].name));
			json_object_set_new(j, "core", json_integer(lcore_cpu(rt, ev[e].lcore)));
			json_object_set_new(j, "ns",
					    json_integer((json_int_t)((ev[e].tsc - ev[0].tsc) *
								      1000000000.0 / (double)hz)));
			char nb[SL_LABEL_MAX];
			if (ev[e].kind == SL_TRACE_ENTER) {
				json_object_set_new(j, "event", json_string("enter"));
				end = cs->type->sink_output ? "sent" : "consumed";
			} else if (ev[e].kind == SL_TRACE_OUT) {
				json_object_set_new(j, "event", json_string("out"));
				json_object_set_new(j, "port",
						    json_string(sl_conf_stage_output_name(
							cs, ev[e].arg, nb, sizeof(nb))));
				end = "in flight";
			} else {
				json_object_set_new(j, "event", json_string("drop"));
				unsigned r = ev[e].arg;
				json_object_set_new(j, "reason",
						    json_string(r == 0 ? "unconnected"
								: r <= cs->type->n_drops
								    ? cs->type->drops[r - 1]
								    : "?"));
				end = "dropped";
			}
			json_array_append_new(evs, j);
		}
		json_array_append_new(pk, json_pack("{s:i, s:i, s:o, s:s, s:b}", "packet", p + 1,
						    "len", (int)s->len, "events", evs, "end", end,
						    "truncated", s->n_ev > SL_TRACE_EVENTS));
	}
	return pk;
}

static void trace_end(struct sl_runtime *rt, sl_dp_late_reply_fn reply, void *ctx, bool timed_out)
{
	sl_obs_trace_detach();
	urcu_qsbr_synchronize_rcu();
	unsigned n;
	const struct sl_trace_slot *slots = sl_obs_trace_result(&n);
	json_t *r = json_object();
	json_object_set_new(r, "requested", json_integer(trace.want));
	json_object_set_new(r, "traced", json_integer(n));
	json_object_set_new(r, "timed_out", json_boolean(timed_out));
	json_object_set_new(r, "packets", trace_json(rt, slots, n));
	sl_obs_trace_free();
	reply(ctx, trace.serial, sl_proto_ok(trace.id, r));
	json_decref(trace.id);
	trace.id = NULL;
}

void sl_dp_obs_tick(struct sl_runtime *rt, sl_dp_late_reply_fn reply, void *ctx)
{
	double now = mono_now();
	if (sl_obs_capture_active()) {
		struct pollfd p = {capture.wfd, 0, 0};
		bool gone = poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
		if (sl_obs_capture_done())
			capture_end("done");
		else if (gone)
			capture_end("the reader went away");
		else if (capture.deadline && now >= capture.deadline)
			capture_end("duration reached");
	}
	if (sl_obs_trace_active()) {
		uint64_t last;
		unsigned taken = sl_obs_trace_taken(&last);
		uint64_t quiet = rte_get_tsc_hz() / 1000 * TRACE_QUIET_MS;
		if (taken >= trace.want && rte_rdtsc() - last > quiet)
			trace_end(rt, reply, ctx, false);
		else if (now >= trace.deadline)
			trace_end(rt, reply, ctx, true);
	}
}

void sl_dp_obs_stop_all(struct sl_runtime *rt, sl_dp_late_reply_fn reply, void *ctx,
			const char *why)
{
	if (sl_obs_capture_active())
		capture_end(why);
	if (sl_obs_trace_active())
		trace_end(rt, reply, ctx, true);
}
