/* sluicectl.c: the command-line client of sluiced. Human tables by default,
 * --json for scripts, and exit codes scripts can rely on: 0 done, 1 refused
 * by sluiced (the message says why), 2 bad usage, 3 sluiced unreachable. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

#include "config/read.h"
#include "control/proto/protocol.h"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluicectl [-s SOCKET] [--json] [--timeout S] COMMAND\n"
		"\n"
		"commands:\n"
		"  status                         sluiced and dataplane state, cores, clusters\n"
		"  graph show [--dot]             the running graph (--dot: Graphviz, clusters as\n"
		"                                 subgraphs)\n"
		"  graph validate FILE            check a config without applying it\n"
		"  graph load FILE                replace the running graph with FILE\n"
		"                                 (FILE is read by sluicectl, as you, and sent)\n"
		"  map show                       cluster -> core\n"
		"  map set CLUSTER CORE           move a cluster to another core, live\n"
		"  counters [stages|connectors|ports] [--watch N] [--reset]\n"
		"                                 per-stage packets, drops by reason, calls,\n"
		"                                 packets/call, cycles/packet and Mpps over each\n"
		"                                 N-second interval; connector occupancy and peak\n"
		"  capture POINT -w FILE|- [--filter EXPR] [--count N] [--duration S]\n"
		"          [--snaplen N]          stream the packets at a graph point as pcapng\n"
		"                                 into FILE (written as you) or stdout (-);\n"
		"                                 POINT is STAGE (what enters it) or STAGE.PORT\n"
		"                                 (what leaves by PORT); EXPR is tcpdump syntax;\n"
		"                                 ends at N packets, after S seconds or on\n"
		"                                 Ctrl-C; admins only\n"
		"  trace [--count N] [--filter EXPR] [--timeout S]\n"
		"                                 follow the next N (default 5, at most 1000)\n"
		"                                 packets the ports receive that match EXPR\n"
		"                                 through the graph, stage by stage, with the\n"
		"                                 port taken or drop reason, cluster, core and\n"
		"                                 time since arrival; admins only\n"
		"  dataplane restart              restart the dataplane with the current graph\n"
		"  shutdown                       stop the dataplane and sluiced\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH   sluiced's socket (default $SLUICE_SOCKET or\n"
		"                      /run/sluice/sluice.sock)\n"
		"  -j, --json          print sluiced's JSON result instead of a table\n"
		"  -t, --timeout S     give up waiting for a reply after S seconds (default 30)\n"
		"  -h, --help          this text\n"
		"      --version       print the sluice and DPDK versions and exit\n"
		"\n"
		"exit status: 0 done, 1 refused by sluiced, 2 bad usage, 3 sluiced unreachable\n");
}

struct ctl {
	const char *socket;
	int json;
	int timeout_ms;
	int fd;
};

static json_t *call_fd(struct ctl *c, json_t *req, int *rc, int *out_fd);

/* Send one request; on success return the result (caller decrefs). */
static json_t *call(struct ctl *c, json_t *req, int *rc)
{
	return call_fd(c, req, rc, NULL);
}

/* The same; a reply that brings a descriptor puts it in *out_fd (else -1). */
static json_t *call_fd(struct ctl *c, json_t *req, int *rc, int *out_fd)
{
	char err[256];
	if (c->fd < 0) {
		c->fd = sl_proto_connect(c->socket, err, sizeof(err));
		if (c->fd < 0) {
			fprintf(stderr, "sluicectl: %s (is sluiced running?)\n", err);
			*rc = EXIT_UNREACHABLE;
			json_decref(req);
			return NULL;
		}
	}
	json_t *r = out_fd ? sl_proto_call_fd(c->fd, req, c->timeout_ms, out_fd, err, sizeof(err))
			   : sl_proto_call(c->fd, req, c->timeout_ms, err, sizeof(err));
	json_decref(req);
	if (!r) {
		fprintf(stderr, "sluicectl: %s\n", err);
		*rc = EXIT_UNREACHABLE;
		return NULL;
	}
	if (!json_is_true(json_object_get(r, "ok"))) {
		json_t *e = json_object_get(r, "error");
		if (c->json) {
			json_dumpf(r, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
		}
		const char *field = json_string_value(json_object_get(e, "field"));
		fprintf(stderr, "sluicectl: %s%s%s%s: %s\n",
			json_string_value(json_object_get(e, "code")), field ? " (" : "",
			field ? field : "", field ? ")" : "",
			json_string_value(json_object_get(e, "message")));
		json_decref(r);
		*rc = EXIT_REFUSED;
		if (out_fd && *out_fd >= 0) {
			close(*out_fd);
			*out_fd = -1;
		}
		return NULL;
	}
	json_t *res = json_incref(json_object_get(r, "result"));
	json_decref(r);
	*rc = 0;
	return res;
}

static void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static double real(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static int cmd_status(struct ctl *c)
{
	int rc;
	json_t *r = call(c, json_pack("{s:s}", "cmd", "status"), &rc);
	if (!r)
		return rc;
	if (c->json) {
		print_json(r);
	} else {
		json_t *dp = json_object_get(r, "dataplane");
		printf("sluiced     up %.1f s, dataplane '%s', config %s\n", real(r, "uptime_s"),
		       str(r, "name"), str(r, "config"));
		printf("dataplane   %s, pid %lld, up %.1f s, restarts %lld%s%s%s\n",
		       str(dp, "state"), num(dp, "pid"), real(dp, "uptime_s"), num(dp, "restarts"),
		       *str(dp, "last_exit") ? " (last: " : "", str(dp, "last_exit"),
		       *str(dp, "last_exit") ? ")" : "");
		if (real(dp, "backoff_s") > 0)
			printf("backoff     next start in %.1f s\n", real(dp, "backoff_s"));
		printf("cores      ");
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(r, "cores"), i, v)
		    printf(" %lld", json_integer_value(v));
		printf("\nclusters   ");
		const char *k;
		json_object_foreach(json_object_get(r, "clusters"), k, v)
		    printf(" %s@%lld", k, json_integer_value(v));
		printf("\n");
		json_array_foreach(json_object_get(r, "ports"), i, v)
		    printf("port        %s: %s%s%s\n", str(v, "name"), str(v, "driver"),
			   *str(v, "note") ? ", " : "", str(v, "note"));
	}
	json_decref(r);
	return 0;
}

/* The first byte of buf that is not valid UTF-8 text (or a NUL), with its
 * line and column (in characters, as the config loader counts them); -1 if
 * there is none. */
static int first_invalid_utf8(const char *buf, size_t len, int *line, int *col)
{
	const unsigned char *s = (const unsigned char *)buf;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n = c < 0x80	    ? 1
			   : (c >> 5) == 6  ? 2
			   : (c >> 4) == 14 ? 3
			   : (c >> 3) == 30 ? 4
					    : 0;
		bool ok = n > 0 && i + n <= len && !(c == 0);
		for (size_t k = 1; ok && k < n; k++)
			ok = (s[i + k] & 0xc0) == 0x80;
		if (!ok)
			return c;
		if (c == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
		i += n;
	}
	return -1;
}

static int cmd_graph(struct ctl *c, int argc, char **argv)
{
	int rc;
	if (argc >= 1 && !strcmp(argv[0], "show")) {
		int dot = argc == 2 && !strcmp(argv[1], "--dot");
		if (argc > 2 || (argc == 2 && !dot)) {
			fprintf(stderr, "sluicectl: usage: graph show [--dot]\n");
			return EXIT_USAGE;
		}
		json_t *r = call(c, json_pack("{s:s, s:b}", "cmd", "graph_show", "dot", dot), &rc);
		if (!r)
			return rc;
		if (c->json) {
			print_json(r);
		} else if (dot) {
			fputs(str(r, "dot"), stdout);
		} else {
			size_t i;
			json_t *s;
			printf("%-24s %-10s %-12s %4s\n", "stage", "type", "cluster", "core");
			json_array_foreach(json_object_get(r, "stages"), i, s)
			    printf("%-24s %-10s %-12s %4lld\n", str(s, "name"), str(s, "type"),
				   str(s, "cluster"), num(s, "core"));
			printf("\n%-40s %s\n", "connector", "kind");
			json_array_foreach(json_object_get(r, "connectors"), i, s)
			{
				char name[128];
				snprintf(name, sizeof(name), "%s.%s -> %s", str(s, "from"),
					 str(s, "port"), str(s, "to"));
				printf("%-40s %s\n", name, str(s, "kind"));
			}
		}
		json_decref(r);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[0], "validate") || !strcmp(argv[0], "load"))) {
		char abs[PATH_MAX];
		const char *path = realpath(argv[1], abs) ? abs : argv[1];
		int load = !strcmp(argv[0], "load");
		/* The file is read here, with the caller's rights: sluiced gets
		 * the bytes and the name, and never opens a path itself. */
		char *text;
		size_t len;
		struct sl_err ferr;
		if (sl_config_read_file(argv[1], &text, &len, &ferr) < 0) {
			fprintf(stderr, "sluicectl: %s\n", ferr.msg);
			return EXIT_USAGE;
		}
		/* JSON carries only UTF-8 without NULs: refuse here, with the place. */
		int line = 1, col = 1, bad = first_invalid_utf8(text, len, &line, &col);
		if (bad >= 0) {
			fprintf(
			    stderr,
			    "sluicectl: invalid_config (config): %s:%d:%d: not valid UTF-8 text "
			    "(byte 0x%02x)\n",
			    path, line, col, (unsigned)bad);
			free(text);
			return 1;
		}
		json_t *req =
		    json_pack("{s:s, s:s%, s:s}", "cmd", load ? "graph_load" : "graph_validate",
			      "config", text, len, "name", path);
		char *text_copy = text;
		if (!req) {
			fprintf(stderr, "sluicectl: out of memory\n");
			free(text_copy);
			return 1;
		}
		free(text_copy);
		json_t *r = call(c, req, &rc);
		if (!r)
			return rc;
		if (c->json)
			print_json(r);
		else if (load)
			printf("loaded %s: traffic paused %.0f us (draining %.0f us); kept %lld of "
			       "%lld stage instances with their state and counters\n",
			       path, real(r, "pause_us"), real(r, "drain_us"),
			       num(r, "kept_instances"), num(r, "instances"));
		else
			printf("ok: %s: %lld ports, %lld stages, %lld connectors, %lld clusters\n",
			       path, num(r, "ports"), num(r, "stages"), num(r, "links"),
			       num(r, "clusters"));
		json_decref(r);
		return 0;
	}
	fprintf(stderr, "sluicectl: usage: graph show [--dot] | graph validate FILE | graph load "
			"FILE\n");
	return EXIT_USAGE;
}

static int cmd_map(struct ctl *c, int argc, char **argv)
{
	int rc;
	if (argc == 1 && !strcmp(argv[0], "show")) {
		json_t *r = call(c, json_pack("{s:s}", "cmd", "map_show"), &rc);
		if (!r)
			return rc;
		if (c->json) {
			print_json(r);
		} else {
			const char *k;
			json_t *v;
			printf("%-20s %4s\n", "cluster", "core");
			json_object_foreach(json_object_get(r, "clusters"), k, v)
			    printf("%-20s %4lld\n", k, json_integer_value(v));
		}
		json_decref(r);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[0], "set")) {
		char *end;
		long core = strtol(argv[2], &end, 10);
		if (*end || core < 0) {
			fprintf(stderr, "sluicectl: CORE must be a CPU number, got '%s'\n",
				argv[2]);
			return EXIT_USAGE;
		}
		json_t *r = call(c,
				 json_pack("{s:s, s:s, s:i}", "cmd", "map_set", "cluster", argv[1],
					   "core", (int)core),
				 &rc);
		if (!r)
			return rc;
		if (c->json)
			print_json(r);
		else
			printf("moved %s to core %ld (cluster paused %.1f us)\n", argv[1], core,
			       real(r, "pause_us"));
		json_decref(r);
		return 0;
	}
	fprintf(stderr, "sluicectl: usage: map show | map set CLUSTER CORE\n");
	return EXIT_USAGE;
}

static json_t *find_named(json_t *arr, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) if (!strcmp(str(e, "name"), name)) return e;
	return NULL;
}

/* A stage's extra counters that are not zero (an acl has one per rule:
 * past a screenful the rest are summed up). */
static void print_aux(json_t *aux)
{
	const char *k;
	json_t *v;
	unsigned shown = 0, more = 0;
	long long rest = 0;
	json_object_foreach(aux, k, v)
	{
		long long n = json_integer_value(v);
		if (!n)
			continue;
		if (shown == 8) {
			more++;
			rest += n;
			continue;
		}
		printf("%s %s=%lld", shown ? "" : "                     counters:", k, n);
		shown++;
	}
	if (more)
		printf(" (and %u more, %lld in all)", more, rest);
	if (shown)
		printf("\n");
}

static void print_counters(json_t *r, json_t *prev)
{
	double dt = prev ? real(r, "time") - real(prev, "time") : 0;
	json_t *stages = json_object_get(r, "stages");
	size_t i;
	json_t *s;
	if (stages) {
		printf("%-20s %-8s %-10s %4s %14s %14s %12s %9s %8s %9s\n", "stage", "type",
		       "cluster", "core", "in", "out", "drops", "pkts/call", "cyc/pkt",
		       dt > 0 ? "Mpps" : "");
		json_array_foreach(stages, i, s)
		{
			long long out = 0, drops = 0;
			const char *k;
			json_t *v;
			json_object_foreach(json_object_get(s, "out"), k, v) out +=
			    json_integer_value(v);
			json_object_foreach(json_object_get(s, "drops"), k, v) drops +=
			    json_integer_value(v);
			char mpps[16] = "";
			json_t *p =
			    prev ? find_named(json_object_get(prev, "stages"), str(s, "name"))
				 : NULL;
			if (p && dt > 0)
				snprintf(mpps, sizeof(mpps), "%.3f",
					 (double)(num(s, "in") - num(p, "in")) / dt / 1e6);
			printf("%-20s %-8s %-10s %4lld %14lld %14lld %12lld %9.1f %8.1f %9s\n",
			       str(s, "name"), str(s, "type"), str(s, "cluster"), num(s, "core"),
			       num(s, "in"), out, drops, real(s, "pkts_per_call"),
			       real(s, "cycles_per_pkt"), mpps);
			if (json_object_size(json_object_get(s, "out")) > 1) {
				printf("%20s out:", "");
				json_object_foreach(json_object_get(s, "out"), k, v)
				    printf(" %s=%lld", k, json_integer_value(v));
				printf("\n");
			}
			if (drops) {
				printf("%20s drops:", "");
				json_object_foreach(json_object_get(s, "drops"), k,
						    v) if (json_integer_value(v))
				    printf(" %s=%lld", k, json_integer_value(v));
				printf("\n");
			}
			print_aux(json_object_get(s, "counters"));
		}
	}
	json_t *conns = json_object_get(r, "connectors");
	if (conns && json_array_size(conns)) {
		printf("\n%-34s %14s %14s %12s %8s %8s %8s\n", "connector", "enqueued", "dequeued",
		       "full-drops", "occ", "peak", "capacity");
		json_array_foreach(conns, i, s)
		    printf("%-34s %14lld %14lld %12lld %8lld %8lld %8lld\n", str(s, "name"),
			   num(s, "enqueued"), num(s, "dequeued"), num(s, "dropped_full"),
			   num(s, "occupancy"), num(s, "peak"), num(s, "capacity"));
	}
	json_t *ports = json_object_get(r, "ports");
	if (ports) {
		printf("\n%-12s %-7s %14s %14s %10s %10s %10s %10s\n", "port", "driver", "rx", "tx",
		       "imissed", "ierrors", "oerrors", "rx_nombuf");
		json_array_foreach(ports, i, s)
		{
			printf("%-12s %-7s %14lld %14lld %10lld %10lld %10lld %10lld\n",
			       str(s, "name"), str(s, "driver"), num(s, "ipackets"),
			       num(s, "opackets"), num(s, "imissed"), num(s, "ierrors"),
			       num(s, "oerrors"), num(s, "rx_nombuf"));
			const char *note = str(s, "note");
			if (note && *note)
				printf("%-12s %s: %s\n", "", str(s, "driver"), note);
			if (!strcmp(str(s, "driver"), "af_xdp"))
				printf(
				    "%-12s rx_dropped %lld  rx_invalid_descs %lld  "
				    "tx_invalid_descs "
				    "%lld  rx_ring_full %lld  fill_ring_empty %lld  wakeups %lld  "
				    "tx_retries %lld  tx_copies %lld\n",
				    "", num(s, "rx_dropped"), num(s, "rx_invalid_descs"),
				    num(s, "tx_invalid_descs"), num(s, "rx_ring_full"),
				    num(s, "fill_ring_empty"), num(s, "wakeups"),
				    num(s, "tx_retries"), num(s, "tx_copies"));
		}
	}
}

static int cmd_counters(struct ctl *c, int argc, char **argv)
{
	const char *kind = "all";
	double watch = 0;
	int reset = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "stages") || !strcmp(argv[i], "connectors") ||
		    !strcmp(argv[i], "ports")) {
			kind = argv[i];
		} else if (!strcmp(argv[i], "--reset")) {
			reset = 1;
		} else if (!strcmp(argv[i], "--watch") && i + 1 < argc) {
			char *end;
			watch = strtod(argv[++i], &end);
			if (*end || watch <= 0) {
				fprintf(stderr,
					"sluicectl: --watch takes a number of seconds > 0\n");
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "sluicectl: usage: counters [stages|connectors|ports] "
					"[--watch N] [--reset]\n");
			return EXIT_USAGE;
		}
	}
	json_t *prev = NULL;
	int rc = 0;
	signal(SIGINT, on_sigint);
	for (int first = 1; !interrupted; first = 0) {
		json_t *req = json_pack("{s:s, s:s}", "cmd", "counters", "kind", kind);
		if (first && reset)
			json_object_set_new(req, "reset", json_true());
		json_t *r = call(c, req, &rc);
		if (!r)
			break;
		if (c->json) {
			json_dumpf(r, stdout, JSON_COMPACT);
			fputc('\n', stdout);
		} else {
			if (watch > 0 && isatty(STDOUT_FILENO))
				printf("\033[H\033[2J");
			if (watch > 0)
				printf("every %.1f s; Ctrl-C to stop\n", watch);
			print_counters(r, prev);
		}
		fflush(stdout);
		json_decref(prev);
		prev = r;
		if (watch <= 0)
			break;
		if (watch >= 5 && c->fd >= 0) {
			/* Long pauses would outlast sluiced's idle timeout:
			 * connect afresh for each sample instead. */
			close(c->fd);
			c->fd = -1;
		}
		usleep((useconds_t)(watch * 1e6));
		if (!c->json && !isatty(STDOUT_FILENO))
			printf("\n");
	}
	json_decref(prev);
	return rc;
}

/* Watches the pcapng stream go by: counts the packet blocks and reads the
 * interface statistics block the dataplane ends it with. */
struct pcapng_watch {
	uint8_t hdr[8];
	unsigned have; /* bytes of hdr */
	uint64_t left; /* bytes of the current block still to come */
	uint32_t type;
	uint8_t isb[256]; /* the statistics block's body */
	unsigned isb_len;
	uint64_t packets, ifrecv, ifdrop;
	bool stats;
};

static void isb_parse(struct pcapng_watch *w)
{
	/* Interface id, timestamp (12 bytes), then options: code, length,
	 * value padded to 4 (pcapng spec 4.6). */
	for (unsigned o = 12; o + 4 <= w->isb_len;) {
		uint16_t code, len;
		memcpy(&code, w->isb + o, 2);
		memcpy(&len, w->isb + o + 2, 2);
		if (code == 0 || o + 4 + len > w->isb_len)
			break;
		if ((code == 4 || code == 5) && len == 8) {
			uint64_t v;
			memcpy(&v, w->isb + o + 4, 8);
			*(code == 4 ? &w->ifrecv : &w->ifdrop) = v;
			w->stats = true;
		}
		o += 4 + ((len + 3u) & ~3u);
	}
}

static void pcapng_watch(struct pcapng_watch *w, const uint8_t *p, size_t n)
{
	while (n) {
		if (w->left == 0) {
			size_t take = MIN_SZ(8 - w->have, n);
			memcpy(w->hdr + w->have, p, take);
			w->have += (unsigned)take;
			p += take;
			n -= take;
			if (w->have < 8)
				return;
			uint32_t len;
			memcpy(&w->type, w->hdr, 4);
			memcpy(&len, w->hdr + 4, 4);
			w->have = 0;
			w->left = len >= 12 ? len - 8 : 0;
			w->isb_len = 0;
			if (w->type == 6 || w->type == 3)
				w->packets++;
			continue;
		}
		size_t take = n < w->left ? n : (size_t)w->left;
		if (w->type == 5 && w->isb_len < sizeof(w->isb)) {
			size_t k = MIN_SZ(take, sizeof(w->isb) - w->isb_len);
			memcpy(w->isb + w->isb_len, p, k);
			w->isb_len += (unsigned)k;
		}
		w->left -= take;
		p += take;
		n -= take;
		if (w->left == 0 && w->type == 5)
			isb_parse(w);
	}
}

static int parse_uint(const char *opt, const char *v, long long min, long long max,
		      long long *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || *end || end == v || x < min || x > max) {
		fprintf(stderr, "sluicectl: %s takes a whole number from %lld to %lld, got '%s'\n",
			opt, min, max, v);
		return -1;
	}
	*out = x;
	return 0;
}

static int cmd_capture(struct ctl *c, int argc, char **argv)
{
	const char *point = NULL, *out = NULL, *filter = NULL;
	long long count = 0, duration = 0, snaplen = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if ((!strcmp(a, "-w") || !strcmp(a, "--write")) && has)
			out = argv[++i];
		else if (!strcmp(a, "--filter") && has)
			filter = argv[++i];
		else if (!strcmp(a, "--count") && has) {
			if (parse_uint(a, argv[++i], 0, 1000000000, &count) < 0)
				return EXIT_USAGE;
		} else if (!strcmp(a, "--duration") && has) {
			if (parse_uint(a, argv[++i], 0, 86400, &duration) < 0)
				return EXIT_USAGE;
		} else if (!strcmp(a, "--snaplen") && has) {
			if (parse_uint(a, argv[++i], 1, 65535, &snaplen) < 0)
				return EXIT_USAGE;
		} else if (a[0] != '-' && !point)
			point = a;
		else {
			point = NULL;
			break;
		}
	}
	if (!point || !out) {
		fprintf(stderr, "sluicectl: usage: capture POINT -w FILE|- [--filter EXPR] "
				"[--count N] [--duration S] [--snaplen N]\n");
		return EXIT_USAGE;
	}
	/* The file is ours to write, as the user who runs us: the daemon
	 * only hands over the stream. */
	int ofd = STDOUT_FILENO;
	if (strcmp(out, "-")) {
		ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (ofd < 0) {
			fprintf(stderr, "sluicectl: cannot write '%s': %s\n", out, strerror(errno));
			return EXIT_USAGE;
		}
	}
	json_t *req = json_pack("{s:s, s:s}", "cmd", "capture", "point", point);
	if (filter)
		json_object_set_new(req, "filter", json_string(filter));
	if (count)
		json_object_set_new(req, "count", json_integer(count));
	if (duration)
		json_object_set_new(req, "duration", json_integer(duration));
	if (snaplen)
		json_object_set_new(req, "snaplen", json_integer(snaplen));
	int rc, sfd = -1;
	json_t *r = call_fd(c, req, &rc, &sfd);
	if (!r || sfd < 0) {
		if (r) {
			fprintf(stderr, "sluicectl: the reply brought no capture stream\n");
			rc = EXIT_REFUSED;
		}
		json_decref(r);
		if (ofd != STDOUT_FILENO) {
			close(ofd);
			unlink(out);
		}
		return rc;
	}
	fprintf(stderr, "sluicectl: capturing at %s (%lld instance%s)%s\n", str(r, "point"),
		num(r, "instances"), num(r, "instances") == 1 ? "" : "s",
		ofd == STDOUT_FILENO ? "" : ", Ctrl-C to stop");
	json_decref(r);
	/* sluiced's connection is no longer needed: the stream carries on. */
	close(c->fd);
	c->fd = -1;
	struct sigaction sa = {.sa_handler = on_sigint};
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: a read returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct pcapng_watch w;
	memset(&w, 0, sizeof(w));
	static uint8_t buf[1 << 16];
	const char *why = NULL;
	while (!interrupted) {
		ssize_t n = read(sfd, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			why = strerror(errno);
			break;
		}
		pcapng_watch(&w, buf, (size_t)n);
		for (ssize_t o = 0; o < n;) {
			ssize_t k = write(ofd, buf + o, (size_t)(n - o));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				why = errno == EPIPE ? NULL : strerror(errno);
				interrupted = 1;
				break;
			}
			o += k;
		}
	}
	close(sfd); /* the dataplane sees its reader leave and ends the capture */
	if (ofd != STDOUT_FILENO && close(ofd) != 0 && !why)
		why = strerror(errno);
	if (why) {
		fprintf(stderr, "sluicectl: capture: %s\n", why);
		return EXIT_REFUSED;
	}
	if (w.stats)
		fprintf(stderr, "%llu packets captured, %llu dropped (capture ring full)\n",
			(unsigned long long)w.packets, (unsigned long long)w.ifdrop);
	else
		fprintf(stderr,
			"%llu packets captured (the capture was stopped before its "
			"statistics came)\n",
			(unsigned long long)w.packets);
	return 0;
}

/* One line per stage visited: its enter event with what it did next. */
static void print_trace(json_t *r)
{
	size_t i, k;
	json_t *p, *e;
	json_array_foreach(json_object_get(r, "packets"), i, p)
	{
		printf("Packet %lld: %lld bytes\n", num(p, "packet"), num(p, "len"));
		json_t *evs = json_object_get(p, "events");
		size_t n = json_array_size(evs);
		for (k = 0; k < n; k++) {
			e = json_array_get(evs, k);
			char who[96], what[96] = "";
			snprintf(who, sizeof(who), "%s[%lld]", str(e, "stage"), num(e, "instance"));
			const char *ev = str(e, "event");
			json_t *nx = k + 1 < n ? json_array_get(evs, k + 1) : NULL;
			if (!strcmp(ev, "enter") && nx && strcmp(str(nx, "event"), "enter") &&
			    !strcmp(str(nx, "stage"), str(e, "stage")) &&
			    num(nx, "instance") == num(e, "instance")) {
				k++;
				ev = str(nx, "event");
				if (!strcmp(ev, "out"))
					snprintf(what, sizeof(what), "-> %s", str(nx, "port"));
				else
					snprintf(what, sizeof(what), "drop: %s", str(nx, "reason"));
			} else if (!strcmp(ev, "out")) {
				snprintf(what, sizeof(what), "-> %s", str(e, "port"));
			} else if (!strcmp(ev, "drop")) {
				snprintf(what, sizeof(what), "drop: %s", str(e, "reason"));
			} else {
				snprintf(what, sizeof(what), "%s here",
					 !strcmp(str(p, "end"), "sent") ? "sent" : "ended");
			}
			printf("  %10lld ns  %-20s %-10s cluster %-12s core %-3lld %s\n",
			       num(e, "ns"), who, str(e, "type"), str(e, "cluster"), num(e, "core"),
			       what);
		}
		if (json_is_true(json_object_get(p, "truncated")))
			printf("  (more events than a trace keeps per packet)\n");
		printf("\n");
	}
	printf("%lld of %lld packets traced%s\n", num(r, "traced"), num(r, "requested"),
	       json_is_true(json_object_get(r, "timed_out")) ? " (timed out)" : "");
}

static int cmd_trace(struct ctl *c, int argc, char **argv)
{
	long long count = 5, timeout = 10;
	const char *filter = NULL;
	for (int i = 0; i < argc; i++) {
		bool has = i + 1 < argc;
		if (!strcmp(argv[i], "--count") && has) {
			if (parse_uint("--count", argv[++i], 1, 1000, &count) < 0)
				return EXIT_USAGE;
		} else if (!strcmp(argv[i], "--timeout") && has) {
			if (parse_uint("--timeout", argv[++i], 1, 300, &timeout) < 0)
				return EXIT_USAGE;
		} else if (!strcmp(argv[i], "--filter") && has) {
			filter = argv[++i];
		} else {
			fprintf(stderr, "sluicectl: usage: trace [--count N] [--filter EXPR] "
					"[--timeout S] [--json]\n");
			return EXIT_USAGE;
		}
	}
	json_t *req = json_pack("{s:s, s:I, s:I}", "cmd", "trace", "count", (json_int_t)count,
				"timeout", (json_int_t)timeout);
	if (filter)
		json_object_set_new(req, "filter", json_string(filter));
	/* The answer comes when the packets are through, or at the timeout. */
	if (c->timeout_ms < (timeout + 10) * 1000)
		c->timeout_ms = (int)(timeout + 10) * 1000;
	int rc;
	json_t *r = call(c, req, &rc);
	if (!r)
		return rc;
	if (c->json)
		print_json(r);
	else
		print_trace(r);
	json_decref(r);
	return 0;
}

static int cmd_simple(struct ctl *c, const char *cmd, const char *done)
{
	int rc;
	json_t *r = call(c, json_pack("{s:s}", "cmd", cmd), &rc);
	if (!r)
		return rc;
	if (c->json)
		print_json(r);
	else
		printf("%s\n", done);
	json_decref(r);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},  {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	struct ctl c = {.socket = getenv("SLUICE_SOCKET"), .timeout_ms = 30000, .fd = -1};
	int o;
	if (!c.socket)
		c.socket = "/run/sluice/sluice.sock";
	/* Stop at the command: its own flags (--dot, --watch) follow it. */
	while ((o = getopt_long(argc, argv, "+s:jt:h", longopts, NULL)) != -1) {
		switch (o) {
		case 's':
			c.socket = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 't':
			c.timeout_ms = (int)(atof(optarg) * 1000);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sluicectl %s (DPDK %s)\n", SL_VERSION, SL_DPDK_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	/* --json may also come after the command. */
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--json")) {
			c.json = 1;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof(char *));
			argc--;
			i--;
		}
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[0];
	int rc;
	if (!strcmp(cmd, "status") && argc == 1)
		rc = cmd_status(&c);
	else if (!strcmp(cmd, "graph"))
		rc = cmd_graph(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "map"))
		rc = cmd_map(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "counters"))
		rc = cmd_counters(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "capture"))
		rc = cmd_capture(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "trace"))
		rc = cmd_trace(&c, argc - 1, argv + 1);
	else if (!strcmp(cmd, "dataplane") && argc == 2 && !strcmp(argv[1], "restart"))
		rc = cmd_simple(&c, "dataplane_restart", "restarting the dataplane");
	else if (!strcmp(cmd, "shutdown") && argc == 1)
		rc = cmd_simple(&c, "shutdown", "the dataplane and sluiced have stopped");
	else {
		fprintf(stderr, "sluicectl: unknown command '%s'\n\n", cmd);
		usage(stderr);
		rc = EXIT_USAGE;
	}
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}
