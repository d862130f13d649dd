/* sluicectl.c: the command-line client of sluiced. Human tables by default,
 * --json for scripts, and exit codes scripts can rely on: 0 done, 1 refused
 * by sluiced (the message says why), 2 bad usage, 3 sluiced unreachable. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

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
		"  dataplane restart              restart the dataplane with the current graph\n"
		"  shutdown                       stop the dataplane and sluiced\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH   sluiced's socket (default $SLUICE_SOCKET or\n"
		"                      /run/sluice/sluice.sock)\n"
		"  -j, --json          print sluiced's JSON result instead of a table\n"
		"  -t, --timeout S     give up waiting for a reply after S seconds (default 30)\n"
		"  -h, --help          this text\n"
		"\n"
		"exit status: 0 done, 1 refused by sluiced, 2 bad usage, 3 sluiced unreachable\n");
}

struct ctl {
	const char *socket;
	int json;
	int timeout_ms;
	int fd;
};

/* Send one request; on success return the result (caller decrefs). */
static json_t *call(struct ctl *c, json_t *req, int *rc)
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
	json_t *r = sl_proto_call(c->fd, req, c->timeout_ms, err, sizeof(err));
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
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
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
