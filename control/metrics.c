/* metrics.c: renders sluiced's counter view (the stats segment as JSON, with
 * the totals of dead dataplanes folded in) in the Prometheus text exposition
 * format 0.0.4. No HTTP here: metrics_http.c serves what this renders. The
 * names, types and labels are listed in control/METRICS.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_config.h>

#include "control/metrics.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *sl_metrics_dpdk_version(void)
{
	return STR(RTE_VER_YEAR) "." STR(RTE_VER_MONTH) "." STR(RTE_VER_MINOR) RTE_VER_SUFFIX;
}

size_t sl_metrics_escape(const char *v, char *out, size_t len)
{
	size_t n = 0;
	for (; v && *v; v++) {
		const char *rep = *v == '\\'   ? "\\\\"
				  : *v == '"'  ? "\\\""
				  : *v == '\n' ? "\\n"
					       : NULL;
		char one[2] = {*v, '\0'};
		for (const char *r = rep ? rep : one; *r; r++, n++)
			if (n + 1 < len)
				out[n] = *r;
	}
	if (len)
		out[n < len ? n : len - 1] = '\0';
	return n;
}

/* The labels being built for one sample: name="escaped value" pairs. */
struct labels {
	char buf[2048];
	size_t n;
};

static void lab_reset(struct labels *l)
{
	l->n = 0;
	l->buf[0] = '\0';
}

static void lab_add(struct labels *l, const char *name, const char *value)
{
	char esc[1024];
	sl_metrics_escape(value ? value : "", esc, sizeof(esc));
	int k = snprintf(l->buf + l->n, sizeof(l->buf) - l->n, "%s%s=\"%s\"", l->n ? "," : "", name,
			 esc);
	if (k > 0 && (size_t)k < sizeof(l->buf) - l->n)
		l->n += (size_t)k;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const struct labels *l, json_t *v)
{
	/* Counters are integers; a value that is not one is not exported
	 * rather than shown as a made-up zero. */
	if (!json_is_integer(v))
		return;
	fprintf(f, "%s%s%s%s %" JSON_INTEGER_FORMAT "\n", name, l && l->n ? "{" : "",
		l && l->n ? l->buf : "", l && l->n ? "}" : "", json_integer_value(v));
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* A stage's name is its config name, with "[i]" for instance i of a stage
 * that has several (config names cannot hold '['). */
static void stage_labels(struct labels *l, json_t *st)
{
	const char *name = str(st, "name"), *br = strrchr(name, '[');
	char base[256], inst[16] = "0";
	size_t bl = br ? (size_t)(br - name) : strlen(name);
	if (br && strlen(br) >= 3 && strlen(br) < sizeof(inst) + 2 && br[strlen(br) - 1] == ']' &&
	    strspn(br + 1, "0123456789") == strlen(br) - 2) {
		snprintf(inst, sizeof(inst), "%.*s", (int)(strlen(br) - 2), br + 1);
	} else {
		bl = strlen(name);
	}
	snprintf(base, sizeof(base), "%.*s", (int)bl, name);
	lab_reset(l);
	lab_add(l, "stage", base);
	lab_add(l, "stage_instance", inst);
}

static void stage_families(FILE *f, json_t *stages)
{
	struct labels l;
	size_t i;
	json_t *st;

	family(f, "sluice_stage_packets_total", "counter",
	       "Packets into a stage instance (direction=\"in\") and out of it by output "
	       "port (direction=\"out\", port=the output's name).");
	json_array_foreach(stages, i, st)
	{
		stage_labels(&l, st);
		lab_add(&l, "type", str(st, "type"));
		lab_add(&l, "cluster", str(st, "cluster"));
		size_t common = l.n;
		lab_add(&l, "direction", "in");
		sample(f, "sluice_stage_packets_total", &l, json_object_get(st, "in"));
		const char *port;
		json_t *v;
		json_object_foreach(json_object_get(st, "out"), port, v)
		{
			l.n = common;
			l.buf[l.n] = '\0';
			lab_add(&l, "direction", "out");
			lab_add(&l, "port", port);
			sample(f, "sluice_stage_packets_total", &l, v);
		}
	}

	family(f, "sluice_stage_drops_total", "counter",
	       "Packets a stage instance dropped, by reason.");
	json_array_foreach(stages, i, st)
	{
		const char *reason;
		json_t *v;
		json_object_foreach(json_object_get(st, "drops"), reason, v)
		{
			stage_labels(&l, st);
			lab_add(&l, "reason", reason);
			sample(f, "sluice_stage_drops_total", &l, v);
		}
	}

	static const struct {
		const char *name, *key, *help;
	} plain[] = {
	    {"sluice_stage_calls_total", "calls",
	     "Bursts a stage instance processed (calls of its process function)."},
	    {"sluice_stage_cycles_total", "cycles",
	     "TSC cycles spent in a stage instance on timed bursts (divide by "
	     "sluice_stage_timed_packets_total for cycles per packet)."},
	    {"sluice_stage_timed_packets_total", "timed_packets",
	     "Packets of the bursts whose cycles sluice_stage_cycles_total counts."},
	};
	for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
		family(f, plain[k].name, "counter", plain[k].help);
		json_array_foreach(stages, i, st)
		{
			stage_labels(&l, st);
			sample(f, plain[k].name, &l, json_object_get(st, plain[k].key));
		}
	}

	family(f, "sluice_stage_aux", "untyped",
	       "A stage type's own counters (flowstats, acl rules, ...), by name; see the "
	       "stage type's documentation for which are totals.");
	json_array_foreach(stages, i, st)
	{
		const char *name;
		json_t *v;
		json_object_foreach(json_object_get(st, "counters"), name, v)
		{
			stage_labels(&l, st);
			lab_add(&l, "name", name);
			sample(f, "sluice_stage_aux", &l, v);
		}
	}
}

static void conn_families(FILE *f, json_t *conns, bool up)
{
	static const struct {
		const char *name, *type, *key, *help;
	} fam[] = {
	    {"sluice_connector_enqueued_total", "counter", "enqueued",
	     "Packets put on a connector's ring."},
	    {"sluice_connector_dequeued_total", "counter", "dequeued",
	     "Packets taken off a connector's ring."},
	    {"sluice_connector_full_drops_total", "counter", "dropped_full",
	     "Packets dropped because a connector's ring was full."},
	    {"sluice_connector_occupancy", "gauge", "occupancy",
	     "Packets on a connector's ring now (enqueued - dequeued)."},
	    {"sluice_connector_peak_occupancy", "gauge", "peak",
	     "The most packets seen on a connector's ring."},
	    {"sluice_connector_capacity", "gauge", "capacity", "A connector's ring size."},
	    {"sluice_connector_push_cycles_total", "counter", "push_cycles",
	     "TSC cycles spent putting timed bursts on a connector's ring."},
	    {"sluice_connector_timed_pushed_total", "counter", "timed_pushed",
	     "Packets of the bursts sluice_connector_push_cycles_total counts."},
	    {"sluice_connector_pull_cycles_total", "counter", "pull_cycles",
	     "TSC cycles spent taking timed bursts off a connector's ring."},
	    {"sluice_connector_timed_pulled_total", "counter", "timed_pulled",
	     "Packets of the bursts sluice_connector_pull_cycles_total counts."},
	};
	struct labels l;
	size_t i;
	json_t *cn;
	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		/* A dead dataplane's levels say nothing about now. */
		if (!up && !strcmp(fam[k].type, "gauge"))
			continue;
		family(f, fam[k].name, fam[k].type, fam[k].help);
		json_array_foreach(conns, i, cn)
		{
			lab_reset(&l);
			lab_add(&l, "connector", str(cn, "name"));
			lab_add(&l, "from_cluster", str(cn, "from"));
			lab_add(&l, "to_cluster", str(cn, "to"));
			sample(f, fam[k].name, &l, json_object_get(cn, fam[k].key));
		}
	}
}

static void port_families(FILE *f, json_t *ports)
{
	/* Every field of struct sl_port_stats, in its order. */
	static const struct {
		const char *name, *key, *help;
	} fam[] = {
	    {"sluice_port_rx_packets_total", "ipackets", "Packets a port received."},
	    {"sluice_port_tx_packets_total", "opackets", "Packets a port sent."},
	    {"sluice_port_rx_bytes_total", "ibytes", "Bytes a port received."},
	    {"sluice_port_tx_bytes_total", "obytes", "Bytes a port sent."},
	    {"sluice_port_rx_missed_total", "imissed",
	     "Packets the device dropped because its RX queues were full (imissed)."},
	    {"sluice_port_rx_errors_total", "ierrors", "Erroneous packets received (ierrors)."},
	    {"sluice_port_tx_errors_total", "oerrors", "Packets that failed to send (oerrors)."},
	    {"sluice_port_rx_nombuf_total", "rx_nombuf",
	     "RX mbuf allocation failures (rx_nombuf)."},
	    {"sluice_port_rx_dropped_total", "rx_dropped",
	     "af_xdp: packets the kernel dropped for other reasons (XDP_STATISTICS)."},
	    {"sluice_port_rx_invalid_descs_total", "rx_invalid_descs",
	     "af_xdp: invalid RX descriptors (XDP_STATISTICS)."},
	    {"sluice_port_tx_invalid_descs_total", "tx_invalid_descs",
	     "af_xdp: invalid TX descriptors (XDP_STATISTICS)."},
	    {"sluice_port_rx_ring_full_total", "rx_ring_full",
	     "af_xdp: packets dropped on a full RX ring (XDP_STATISTICS)."},
	    {"sluice_port_fill_ring_empty_total", "fill_ring_empty",
	     "af_xdp: times the fill ring was empty (XDP_STATISTICS)."},
	    {"sluice_port_wakeups_total", "wakeups",
	     "af_xdp: wakeup system calls the kernel asked for."},
	    {"sluice_port_tx_retries_total", "tx_retries",
	     "af_xdp: TX bursts retried on a full TX ring or a busy kick."},
	    {"sluice_port_tx_copies_total", "tx_copies",
	     "af_xdp: packets copied into a UMEM frame before sending (clones, chains, other "
	     "pools)."},
	};
	struct labels l;
	size_t i;
	json_t *p;
	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		family(f, fam[k].name, "counter", fam[k].help);
		json_array_foreach(ports, i, p)
		{
			lab_reset(&l);
			lab_add(&l, "port", str(p, "name"));
			lab_add(&l, "driver", str(p, "driver"));
			sample(f, fam[k].name, &l, json_object_get(p, fam[k].key));
		}
	}
}

static void cluster_families(FILE *f, json_t *clusters, bool up)
{
	static const struct {
		const char *name, *type, *key, *help;
	} fam[] = {
	    {"sluice_cluster_stalls_total", "counter", "stalls",
	     "Polls a cluster skipped because a ring it feeds had no room for a burst."},
	    {"sluice_cluster_moves_total", "counter", "moves",
	     "Times a cluster was moved to another core."},
	    {"sluice_cluster_core", "gauge", "core", "The core a cluster runs on now."},
	};
	struct labels l;
	size_t i;
	json_t *c;
	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		/* A dead dataplane's levels say nothing about now. */
		if (!up && !strcmp(fam[k].type, "gauge"))
			continue;
		family(f, fam[k].name, fam[k].type, fam[k].help);
		json_array_foreach(clusters, i, c)
		{
			lab_reset(&l);
			lab_add(&l, "cluster", str(c, "name"));
			sample(f, fam[k].name, &l, json_object_get(c, fam[k].key));
		}
	}
}

char *sl_metrics_render(json_t *view, const struct sl_metrics_info *info, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return NULL;
	struct labels l;

	family(f, "sluice_up", "gauge",
	       "1 when the dataplane runs and its counters were read for this scrape.");
	fprintf(f, "sluice_up %d\n", info->up ? 1 : 0);
	family(f, "sluice_build_info", "gauge", "sluice's version and the DPDK it was built with.");
	lab_reset(&l);
	lab_add(&l, "version", info->version);
	lab_add(&l, "dpdk", info->dpdk);
	fprintf(f, "sluice_build_info{%s} 1\n", l.buf);
	family(f, "sluice_dataplane_restarts_total", "counter",
	       "Times sluiced restarted the dataplane (after a crash or on request).");
	fprintf(f, "sluice_dataplane_restarts_total %" PRIu64 "\n", info->restarts);

	if (view) {
		if (info->up) {
			/* Levels of the running dataplane only. */
			family(f, "sluice_mbufs", "gauge", "mbufs in the dataplane's pools.");
			sample(f, "sluice_mbufs", NULL, json_object_get(view, "mbufs"));
			family(f, "sluice_mbufs_in_use", "gauge",
			       "mbufs taken from the dataplane's pools now.");
			sample(f, "sluice_mbufs_in_use", NULL,
			       json_object_get(view, "mbufs_in_use"));
		}
		stage_families(f, json_object_get(view, "stages"));
		conn_families(f, json_object_get(view, "connectors"), info->up);
		port_families(f, json_object_get(view, "ports"));
		cluster_families(f, json_object_get(view, "clusters"), info->up);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}
