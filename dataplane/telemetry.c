/* telemetry.c: answers DPDK telemetry's /sluice/ commands (the dataplane,
 * its stages, connectors, clusters and ports) from a snapshot of the stats
 * segment, so that dpdk-telemetry.py shows the graph next to DPDK's own
 * ethdev and mempool data. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_telemetry.h>
#include <rte_version.h>

#include "dataplane/stats/stats_segment.h"
#include "dataplane/telemetry.h"

#ifndef SL_VERSION
#define SL_VERSION "unknown"
#endif

/* A graph load cannot change the dataplane's name, so the segment's shm
 * name is fixed: set once, before any command is registered. */
static char shm_path[160];

/* The callbacks run on telemetry's threads (one per client), while the
 * management thread may be in a graph load that replaces the segment and
 * unmaps the old one. So they touch no runtime structure, nor the table of
 * mappings stats_segment.c keeps (the management thread's, unlocked): each
 * call maps the named segment itself, copies it while the epoch holds, and
 * unmaps it. A retired segment stays readable while we map it; the name
 * then leads to its successor. */
static struct sl_stats_hdr *snapshot(char *err, size_t len)
{
	for (int reopen = 0; reopen < 10; reopen++) {
		int fd = shm_open(shm_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
		struct stat sb;
		if (fd < 0) {
			snprintf(err, len, "no stats segment: %s", strerror(errno));
			return NULL;
		}
		/* Anyone may create a file in /dev/shm: only root's or ours,
		 * of a sane size, is the dataplane's (it is never resized). */
		if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
		    (sb.st_uid != 0 && sb.st_uid != geteuid()) ||
		    sb.st_size < (off_t)sizeof(struct sl_stats_hdr) ||
		    (uint64_t)sb.st_size > SL_STATS_MAX_BYTES) {
			close(fd);
			snprintf(err, len, "the stats segment is not this dataplane's");
			return NULL;
		}
		size_t size = (size_t)sb.st_size;
		void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (map == MAP_FAILED) {
			snprintf(err, len, "cannot map the stats segment: %s", strerror(errno));
			return NULL;
		}
		const struct sl_stats_hdr *h = map;
		struct sl_stats_hdr *copy = malloc(size);
		bool retired = false, ok = false;
		for (int tries = 0; copy && tries < 500 && !ok && !retired; tries++) {
			uint64_t e1 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
			retired = __atomic_load_n(&h->retired, __ATOMIC_ACQUIRE) != 0;
			if (retired)
				break;
			if (e1 & 1) { /* a layout being written: a graph load */
				usleep(1000);
				continue;
			}
			memcpy(copy, h, size);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			ok = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE) == e1;
		}
		munmap(map, size);
		if (ok) {
			char why[200];
			/* The copy is ours to trust only once it is well formed,
			 * and only this process's segment speaks for it. */
			if (sl_stats_validate(copy, size, why, sizeof(why)) < 0) {
				snprintf(err, len, "stats segment: %s", why);
				free(copy);
				return NULL;
			}
			if (copy->pid != (int64_t)getpid()) {
				snprintf(err, len, "the stats segment is not this dataplane's yet");
				free(copy);
				return NULL;
			}
			return copy;
		}
		if (!retired) {
			snprintf(err, len, "%s",
				 copy ? "the stats segment kept changing" : "out of memory");
			free(copy);
			return NULL;
		}
		free(copy);
		usleep(10000); /* the graph load installs the successor */
	}
	snprintf(err, len, "the stats segment stays retired");
	return NULL;
}

static int error_dict(struct rte_tel_data *d, const char *msg)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", msg);
	return 0;
}

/* Telemetry (22.11) accepts dict keys of [A-Za-z0-9_/] only; output and
 * drop names and counter labels are the stages' own, so others become '_'. */
static const char *key(char *buf, size_t len, const char *s)
{
	size_t i = 0;
	for (; s[i] && i + 1 < len; i++) {
		char c = s[i];
		bool okc = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
			   (c >= 'a' && c <= 'z') || c == '_' || c == '/';
		buf[i] = okc ? c : '_';
	}
	if (i == 0)
		buf[i++] = '_';
	buf[i] = '\0';
	return buf;
}

/* How many bytes of s (n bytes) fit in max without cutting a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Telemetry strings hold 127 bytes; a longer one (a config path, devargs)
 * is cut at a character and ends in "...". */
static void add_str(struct rte_tel_data *d, const char *name, const char *s)
{
	char buf[RTE_TEL_MAX_STRING_LEN];
	size_t n = strlen(s);
	if (n < sizeof(buf)) {
		rte_tel_data_add_dict_string(d, name, s);
		return;
	}
	size_t k = utf8_cut(s, n, sizeof(buf) - 4);
	memcpy(buf, s, k);
	memcpy(buf + k, "...", 4);
	rte_tel_data_add_dict_string(d, name, buf);
}

/* A container the dict takes over; freed here if it cannot. */
static void add_container(struct rte_tel_data *d, const char *name, struct rte_tel_data *c)
{
	if (c && rte_tel_data_add_dict_container(d, name, c, 0) != 0)
		rte_tel_data_free(c);
}

/* A port's note runs to SL_PORT_NOTE_MAX bytes: given whole, as the pieces
 * of a string array that join back into it. */
static void add_pieces(struct rte_tel_data *d, const char *name, const char *s)
{
	struct rte_tel_data *a = rte_tel_data_alloc();
	if (!a)
		return;
	rte_tel_data_start_array(a, RTE_TEL_STRING_VAL);
	for (size_t n = strlen(s); n > 0;) {
		char buf[RTE_TEL_MAX_STRING_LEN];
		size_t k = utf8_cut(s, n, sizeof(buf) - 1);
		if (k == 0)
			break;
		memcpy(buf, s, k);
		buf[k] = '\0';
		rte_tel_data_add_array_string(a, buf);
		s += k;
		n -= k;
	}
	add_container(d, name, a);
}

static const char *state_name(uint32_t s)
{
	static const char *const names[] = {"starting", "running", "draining", "stopped"};
	return s < 4 ? names[s] : "unknown";
}

/* The instance name a command was given: present and bounded (telemetry
 * hands over up to a kilobyte of whatever a client sent). */
static bool param_ok(const char *params, size_t max)
{
	return params && params[0] && strnlen(params, max) < max;
}

static int cmd_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	char err[256];
	struct sl_stats_hdr *s = snapshot(err, sizeof(err));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "pid", (uint64_t)getpid());
	rte_tel_data_add_dict_string(d, "version", SL_VERSION);
	rte_tel_data_add_dict_string(d, "dpdk_version", rte_version());
	if (!s) {
		rte_tel_data_add_dict_string(d, "error", err);
		return 0;
	}
	add_str(d, "name", s->name);
	add_str(d, "config", s->config);
	rte_tel_data_add_dict_string(d, "state", state_name(s->state));
	rte_tel_data_add_dict_u64(d, "epoch", s->epoch);
	rte_tel_data_add_dict_u64(d, "start_ns", s->start_ns);
	rte_tel_data_add_dict_u64(d, "tsc_hz", s->tsc_hz);
	rte_tel_data_add_dict_u64(d, "stages", s->n_stages);
	rte_tel_data_add_dict_u64(d, "connectors", s->n_conns);
	rte_tel_data_add_dict_u64(d, "clusters", s->n_clusters);
	rte_tel_data_add_dict_u64(d, "ports", s->n_ports);
	rte_tel_data_add_dict_u64(d, "mbufs", s->mbufs);
	rte_tel_data_add_dict_u64(d, "mbufs_in_use", s->mbufs_in_use);
	rte_tel_data_add_dict_u64(d, "mbufs_in_use_start", s->mbufs_in_use_start);
	free(s);
	return 0;
}

enum kind { K_STAGE, K_CONN, K_PORT };

static unsigned count(const struct sl_stats_hdr *s, enum kind k)
{
	return k == K_STAGE ? s->n_stages : k == K_CONN ? s->n_conns : s->n_ports;
}

static const char *name_of(const struct sl_stats_hdr *s, enum kind k, unsigned i)
{
	return k == K_STAGE  ? sl_stats_stages(s)[i].name
	       : k == K_CONN ? sl_stats_conns(s)[i].name
			     : sl_stats_ports(s)[i].name;
}

/* /sluice/stages, /sluice/connectors, /sluice/ports: the names, which are
 * the parameters of the singular commands. */
static int list(struct rte_tel_data *d, enum kind k)
{
	char err[256];
	struct sl_stats_hdr *s = snapshot(err, sizeof(err));
	if (!s)
		return error_dict(d, err);
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	for (unsigned i = 0; i < count(s, k) && i < RTE_TEL_MAX_ARRAY_ENTRIES; i++)
		rte_tel_data_add_array_string(d, name_of(s, k, i));
	free(s);
	return 0;
}

static int cmd_stages(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return list(d, K_STAGE);
}

static int cmd_connectors(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return list(d, K_CONN);
}

static int cmd_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return list(d, K_PORT);
}

/* The snapshot and index of the instance params names; NULL after filling d
 * with the error (a bad parameter: -EINVAL in *rc). */
static struct sl_stats_hdr *lookup(const char *params, enum kind k, struct rte_tel_data *d,
				   unsigned *idx, int *rc)
{
	static const size_t max[] = {SL_NAME_MAX, sizeof(((struct sl_stats_conn *)0)->name),
				     SL_NAME_MAX};
	static const char *const what[] = {"stage", "connector", "port"};
	char err[256];
	*rc = 0;
	if (!param_ok(params, max[k])) {
		*rc = -EINVAL;
		return NULL;
	}
	struct sl_stats_hdr *s = snapshot(err, sizeof(err));
	if (!s) {
		error_dict(d, err);
		return NULL;
	}
	for (unsigned i = 0; i < count(s, k); i++)
		if (strcmp(name_of(s, k, i), params) == 0) {
			*idx = i;
			return s;
		}
	free(s);
	/* The name is not echoed: it is the client's, not ours to vouch for. */
	snprintf(err, sizeof(err), "no %s of that name (/sluice/%ss lists them)", what[k], what[k]);
	error_dict(d, err);
	return NULL;
}

/* Count/total as text: telemetry in 22.11 has no floating-point values. */
static void add_ratio(struct rte_tel_data *d, const char *name, uint64_t a, uint64_t b,
		      const char *fmt)
{
	char buf[32];
	snprintf(buf, sizeof(buf), fmt, b ? (double)a / (double)b : 0.0);
	rte_tel_data_add_dict_string(d, name, buf);
}

static struct rte_tel_data *u64_dict(void)
{
	struct rte_tel_data *c = rte_tel_data_alloc();
	if (c)
		rte_tel_data_start_dict(c);
	return c;
}

static int cmd_stage(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	unsigned i;
	int rc;
	struct sl_stats_hdr *s = lookup(params, K_STAGE, d, &i, &rc);
	if (!s)
		return rc;
	const struct sl_stats_stage *st = &sl_stats_stages(s)[i];
	const struct sl_stats_cluster *cl = &sl_stats_clusters(s)[st->cluster];
	const struct sl_stage_counters *c = &st->cnt;
	char k[RTE_TEL_MAX_STRING_LEN];
	uint64_t out = 0, drops = 0;

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", st->name);
	rte_tel_data_add_dict_string(d, "type", st->type);
	rte_tel_data_add_dict_string(d, "cluster", cl->name);
	rte_tel_data_add_dict_int(d, "core", cl->core);
	rte_tel_data_add_dict_u64(d, "calls", c->calls);
	rte_tel_data_add_dict_u64(d, "in", c->pkts_in);
	struct rte_tel_data *o = u64_dict(), *dr = u64_dict();
	for (unsigned j = 0; j < st->n_out; j++) {
		out += c->out[j];
		if (o)
			rte_tel_data_add_dict_u64(o, key(k, sizeof(k), st->out_names[j]),
						  c->out[j]);
	}
	for (unsigned j = 0; j <= st->n_drops; j++) {
		drops += c->drops[j];
		if (dr)
			rte_tel_data_add_dict_u64(dr, key(k, sizeof(k), st->drop_names[j]),
						  c->drops[j]);
	}
	add_container(d, "out", o);
	add_container(d, "drops", dr);
	rte_tel_data_add_dict_u64(d, "out_total", out);
	rte_tel_data_add_dict_u64(d, "drops_total", drops);
	rte_tel_data_add_dict_u64(d, "cycles", c->cycles);
	rte_tel_data_add_dict_u64(d, "timed_packets", c->timed_pkts);
	add_ratio(d, "cycles_per_packet", c->cycles, c->timed_pkts, "%.1f");
	add_ratio(d, "packets_per_call", c->pkts_in, c->calls, "%.2f");
	if (st->n_aux) {
		/* An acl has a counter per rule: a dict holds 256, and the
		 * rest is summed up (the stats segment has them all). */
		struct rte_tel_data *a = u64_dict();
		uint64_t rest = 0, n_rest = 0;
		unsigned shown = 0;
		for (unsigned j = 0; a && j < st->n_aux; j++) {
			const char *label = sl_stats_aux_names(s, st)[j];
			uint64_t v = sl_stats_aux(s, st)[j];
			if (!label[0])
				continue;
			if (shown < RTE_TEL_MAX_DICT_ENTRIES) {
				rte_tel_data_add_dict_u64(a, key(k, sizeof(k), label), v);
				shown++;
			} else {
				rest += v;
				n_rest++;
			}
		}
		add_container(d, "counters", a);
		if (n_rest) {
			rte_tel_data_add_dict_u64(d, "counters_omitted", n_rest);
			rte_tel_data_add_dict_u64(d, "counters_omitted_total", rest);
		}
	}
	free(s);
	return 0;
}

static int cmd_connector(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	unsigned i;
	int rc;
	struct sl_stats_hdr *s = lookup(params, K_CONN, d, &i, &rc);
	if (!s)
		return rc;
	const struct sl_stats_conn *cn = &sl_stats_conns(s)[i];
	const struct sl_stats_cluster *cl = sl_stats_clusters(s);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", cn->name);
	rte_tel_data_add_dict_string(d, "from", cl[cn->from_cluster].name);
	rte_tel_data_add_dict_string(d, "to", cl[cn->to_cluster].name);
	rte_tel_data_add_dict_u64(d, "capacity", cn->capacity);
	rte_tel_data_add_dict_u64(d, "enqueued", cn->cnt.enqueued);
	rte_tel_data_add_dict_u64(d, "dequeued", cn->cnt.dequeued);
	rte_tel_data_add_dict_u64(d, "dropped_full", cn->cnt.dropped_full);
	rte_tel_data_add_dict_u64(d, "occupancy", cn->cnt.enqueued - cn->cnt.dequeued);
	rte_tel_data_add_dict_u64(d, "peak", cn->cnt.peak);
	rte_tel_data_add_dict_u64(d, "push_cycles", cn->cnt.push_cycles);
	rte_tel_data_add_dict_u64(d, "timed_pushed", cn->cnt.timed_pushed);
	rte_tel_data_add_dict_u64(d, "pull_cycles", cn->cnt.pull_cycles);
	rte_tel_data_add_dict_u64(d, "timed_pulled", cn->cnt.timed_pulled);
	free(s);
	return 0;
}

static int cmd_port(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	unsigned i;
	int rc;
	struct sl_stats_hdr *s = lookup(params, K_PORT, d, &i, &rc);
	if (!s)
		return rc;
	const struct sl_stats_port *p = &sl_stats_ports(s)[i];
	const struct sl_port_stats *ps = &p->st;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", p->name);
	rte_tel_data_add_dict_string(d, "driver", p->driver);
	add_str(d, "devargs", p->devargs);
	rte_tel_data_add_dict_u64(d, "rx_queues", p->n_rxq);
	rte_tel_data_add_dict_u64(d, "tx_queues", p->n_txq);
#define PS(f) rte_tel_data_add_dict_u64(d, #f, ps->f)
	PS(ipackets);
	PS(opackets);
	PS(ibytes);
	PS(obytes);
	PS(imissed);
	PS(ierrors);
	PS(oerrors);
	PS(rx_nombuf);
	PS(rx_dropped);
	PS(rx_invalid_descs);
	PS(tx_invalid_descs);
	PS(rx_ring_full);
	PS(fill_ring_empty);
	PS(wakeups);
	PS(tx_retries);
	PS(tx_copies);
#undef PS
	add_pieces(d, "note", p->note);
	free(s);
	return 0;
}

/* Telemetry (22.11) nests dicts in a dict but not in an array: the
 * clusters are a dict by name. Each container is a whole rte_tel_data
 * (tens of KB) and the reply is capped at 16 KB anyway: past this many,
 * only their number is given. */
#define SL_TEL_MAX_CLUSTERS 128

static int cmd_clusters(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	char err[256], k[RTE_TEL_MAX_STRING_LEN];
	struct sl_stats_hdr *s = snapshot(err, sizeof(err));
	if (!s)
		return error_dict(d, err);
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < s->n_clusters && i < SL_TEL_MAX_CLUSTERS; i++) {
		const struct sl_stats_cluster *cl = &sl_stats_clusters(s)[i];
		struct rte_tel_data *c = u64_dict();
		if (!c)
			break;
		rte_tel_data_add_dict_string(c, "name", cl->name);
		rte_tel_data_add_dict_int(c, "core", cl->core);
		rte_tel_data_add_dict_u64(c, "stalls", cl->stalls);
		rte_tel_data_add_dict_u64(c, "moves", cl->moves);
		add_container(d, key(k, sizeof(k), cl->name), c);
	}
	if (s->n_clusters > SL_TEL_MAX_CLUSTERS)
		rte_tel_data_add_dict_u64(d, "omitted", s->n_clusters - SL_TEL_MAX_CLUSTERS);
	free(s);
	return 0;
}

int sl_telemetry_register(const char *name)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
	    {"/sluice/info", cmd_info,
	     "sluice dataplane: name, pid, config, state, version. No parameters"},
	    {"/sluice/stages", cmd_stages, "Names of the stage instances. No parameters"},
	    {"/sluice/stage", cmd_stage,
	     "Counters of one stage instance (in, out, drops, cycles, extra counters). "
	     "Parameter: instance name"},
	    {"/sluice/connectors", cmd_connectors, "Names of the connectors. No parameters"},
	    {"/sluice/connector", cmd_connector,
	     "Counters of one connector ring. Parameter: connector name"},
	    {"/sluice/clusters", cmd_clusters,
	     "Clusters by name: core, stalls, moves. No parameters"},
	    {"/sluice/ports", cmd_ports, "Names of the ports. No parameters"},
	    {"/sluice/port", cmd_port,
	     "Counters, driver and note of one port. Parameter: port name"},
	};
	int n = snprintf(shm_path, sizeof(shm_path), "/sluice-%s.stats", name);
	if (n < 0 || (size_t)n >= sizeof(shm_path)) {
		fprintf(stderr, "sluice-dp: telemetry: dataplane name too long\n");
		return -1;
	}
	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
		if (rc != 0) {
			fprintf(stderr, "sluice-dp: telemetry: cannot register %s: %s\n",
				cmds[i].cmd, strerror(-rc));
			return -1;
		}
	}
	return 0;
}
