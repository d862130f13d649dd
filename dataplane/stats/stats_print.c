/* stats_print.c: renders a stats snapshot as the operator's table (the
 * figures of VPP's `show runtime`: packets, drops by reason, packets/call,
 * cycles/packet, Mpps) or as JSON for scripts. */
#include <inttypes.h>
#include <string.h>

#include "dataplane/stats/stats_segment.h"

static uint64_t sum(const uint64_t *v, unsigned n)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < n; i++)
		s += v[i];
	return s;
}

static const struct sl_stats_stage *find_prev_stage(const struct sl_stats_hdr *prev,
						    const struct sl_stats_hdr *s, unsigned i)
{
	if (!prev || prev->epoch != s->epoch || i >= prev->n_stages)
		return NULL;
	return &sl_stats_stages(prev)[i];
}

/* A stage's extra counters that are not zero; an acl has one per rule, so
 * past a screenful the rest are summed up in one figure. */
static void print_aux(FILE *f, const struct sl_stats_hdr *s, const struct sl_stats_stage *st)
{
	unsigned shown = 0, more = 0;
	uint64_t rest = 0;
	for (unsigned j = 0; j < st->n_aux; j++) {
		const char *label = sl_stats_aux_names(s, st)[j];
		uint64_t v = sl_stats_aux(s, st)[j];
		if (!label[0] || !v)
			continue;
		if (shown == 8) {
			more++;
			rest += v;
			continue;
		}
		fprintf(f, "%s %s=%" PRIu64, shown ? "" : "                     counters:", label,
			v);
		shown++;
	}
	if (more)
		fprintf(f, " (and %u more, %" PRIu64 " in all)", more, rest);
	if (shown)
		fputc('\n', f);
}

void sl_stats_print(FILE *f, const struct sl_stats_hdr *s, const struct sl_stats_hdr *prev,
		    double interval_s)
{
	const struct sl_stats_cluster *cl = sl_stats_clusters(s);

	fprintf(f, "%-20s %-8s %-10s %4s %14s %14s %12s %9s %9s %8s\n", "stage", "type", "cluster",
		"core", "in", "out", "drops", "pkts/call", "cyc/pkt", prev ? "Mpps" : "");
	for (unsigned i = 0; i < s->n_stages; i++) {
		const struct sl_stats_stage *st = &sl_stats_stages(s)[i];
		const struct sl_stats_stage *ps = find_prev_stage(prev, s, i);
		const struct sl_stage_counters *c = &st->cnt;
		uint64_t out = sum(c->out, st->n_out), drops = sum(c->drops, st->n_drops + 1u);
		uint64_t d_in = c->pkts_in - (ps ? ps->cnt.pkts_in : 0);
		uint64_t d_calls = c->calls - (ps ? ps->cnt.calls : 0);
		uint64_t d_cyc = c->cycles - (ps ? ps->cnt.cycles : 0);
		uint64_t d_timed = c->timed_pkts - (ps ? ps->cnt.timed_pkts : 0);
		char mpps[16] = "";
		if (prev && interval_s > 0)
			snprintf(mpps, sizeof(mpps), "%.3f", d_in / interval_s / 1e6);
		fprintf(f,
			"%-20s %-8s %-10s %4d %14" PRIu64 " %14" PRIu64 " %12" PRIu64
			" %9.1f %9.1f %8s\n",
			st->name, st->type, cl[st->cluster].name, cl[st->cluster].core, c->pkts_in,
			out, drops, d_calls ? (double)d_in / d_calls : 0.0,
			d_timed ? (double)d_cyc / d_timed : 0.0, mpps);
		if (st->n_out > 1) {
			fprintf(f, "%20s out:", "");
			for (unsigned j = 0; j < st->n_out; j++)
				fprintf(f, " %s=%" PRIu64, st->out_names[j], c->out[j]);
			fputc('\n', f);
		}
		if (drops) {
			fprintf(f, "%20s drops:", "");
			for (unsigned j = 0; j <= st->n_drops; j++)
				if (c->drops[j])
					fprintf(f, " %s=%" PRIu64, st->drop_names[j], c->drops[j]);
			fputc('\n', f);
		}
		print_aux(f, s, st);
	}
	if (s->n_conns) {
		fprintf(f, "\n%-34s %-10s %-10s %14s %14s %12s %8s %8s\n", "connector", "from",
			"to", "enqueued", "dequeued", "full-drops", "occ", "peak");
		for (unsigned i = 0; i < s->n_conns; i++) {
			const struct sl_stats_conn *cn = &sl_stats_conns(s)[i];
			fprintf(f,
				"%-34s %-10s %-10s %14" PRIu64 " %14" PRIu64 " %12" PRIu64
				" %8" PRIu64 " %8" PRIu64 "\n",
				cn->name, cl[cn->from_cluster].name, cl[cn->to_cluster].name,
				cn->cnt.enqueued, cn->cnt.dequeued, cn->cnt.dropped_full,
				cn->cnt.enqueued - cn->cnt.dequeued, cn->cnt.peak);
		}
	}
	fprintf(f, "\n%-20s %4s %14s %10s\n", "cluster", "core", "stalls", "moves");
	for (unsigned i = 0; i < s->n_clusters; i++)
		fprintf(f, "%-20s %4d %14" PRIu64 " %10" PRIu64 "\n", cl[i].name, cl[i].core,
			cl[i].stalls, cl[i].moves);
	fprintf(f, "\n%-12s %-7s %-24s %14s %14s %10s %10s %10s %10s\n", "port", "driver", "device",
		"rx", "tx", "imissed", "ierrors", "oerrors", "rx_nombuf");
	for (unsigned i = 0; i < s->n_ports; i++) {
		const struct sl_stats_port *p = &sl_stats_ports(s)[i];
		char dev[130];
		snprintf(dev, sizeof(dev), "%s", p->devargs);
		dev[24] = 0;
		fprintf(f,
			"%-12s %-7s %-24s %14" PRIu64 " %14" PRIu64 " %10" PRIu64 " %10" PRIu64
			" %10" PRIu64 " %10" PRIu64 "\n",
			p->name, p->driver, dev, p->st.ipackets, p->st.opackets, p->st.imissed,
			p->st.ierrors, p->st.oerrors, p->st.rx_nombuf);
		if (p->note[0])
			fprintf(f, "%-12s %s: %s\n", "", p->driver, p->note);
		if (!strcmp(p->driver, "af_xdp"))
			fprintf(f,
				"%-12s rx_dropped %" PRIu64 "  rx_invalid_descs %" PRIu64
				"  tx_invalid_descs %" PRIu64 "  rx_ring_full %" PRIu64
				"  fill_ring_empty %" PRIu64 "  wakeups %" PRIu64
				"  tx_retries %" PRIu64 "  tx_copies %" PRIu64 "\n",
				"", p->st.rx_dropped, p->st.rx_invalid_descs,
				p->st.tx_invalid_descs, p->st.rx_ring_full, p->st.fill_ring_empty,
				p->st.wakeups, p->st.tx_retries, p->st.tx_copies);
	}
	fflush(f);
}

static json_t *u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

json_t *sl_stats_to_json(const struct sl_stats_hdr *s)
{
	json_t *root = json_object();
	const struct sl_stats_cluster *cl = sl_stats_clusters(s);

	json_object_set_new(root, "name", json_string(s->name));
	json_object_set_new(root, "config", json_string(s->config));
	json_object_set_new(root, "pid", json_integer(s->pid));
	json_object_set_new(root, "epoch", u64(s->epoch));
	json_object_set_new(root, "tsc_hz", u64(s->tsc_hz));
	json_object_set_new(root, "state", json_integer(s->state));
	json_object_set_new(root, "mbufs", u64(s->mbufs));
	json_object_set_new(root, "mbufs_in_use_start", u64(s->mbufs_in_use_start));
	json_object_set_new(root, "mbufs_in_use", u64(s->mbufs_in_use));

	json_t *clusters = json_array();
	for (unsigned i = 0; i < s->n_clusters; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(cl[i].name));
		json_object_set_new(o, "core", json_integer(cl[i].core));
		json_object_set_new(o, "moves", u64(cl[i].moves));
		json_object_set_new(o, "stalls", u64(cl[i].stalls));
		json_array_append_new(clusters, o);
	}
	json_object_set_new(root, "clusters", clusters);

	json_t *stages = json_array();
	for (unsigned i = 0; i < s->n_stages; i++) {
		const struct sl_stats_stage *st = &sl_stats_stages(s)[i];
		json_t *o = json_object(), *out = json_object(), *drops = json_object();
		json_object_set_new(o, "name", json_string(st->name));
		json_object_set_new(o, "type", json_string(st->type));
		json_object_set_new(o, "cluster", json_string(cl[st->cluster].name));
		json_object_set_new(o, "core", json_integer(cl[st->cluster].core));
		json_object_set_new(o, "calls", u64(st->cnt.calls));
		json_object_set_new(o, "in", u64(st->cnt.pkts_in));
		json_object_set_new(o, "cycles", u64(st->cnt.cycles));
		json_object_set_new(o, "timed_packets", u64(st->cnt.timed_pkts));
		for (unsigned j = 0; j < st->n_out; j++)
			json_object_set_new(out, st->out_names[j], u64(st->cnt.out[j]));
		for (unsigned j = 0; j <= st->n_drops; j++)
			json_object_set_new(drops, st->drop_names[j], u64(st->cnt.drops[j]));
		json_object_set_new(o, "out", out);
		json_object_set_new(o, "drops", drops);
		if (st->n_aux) {
			json_t *aux = json_object();
			for (unsigned j = 0; j < st->n_aux; j++)
				if (sl_stats_aux_names(s, st)[j][0])
					json_object_set_new(aux, sl_stats_aux_names(s, st)[j],
							    u64(sl_stats_aux(s, st)[j]));
			json_object_set_new(o, "counters", aux);
		}
		json_array_append_new(stages, o);
	}
	json_object_set_new(root, "stages", stages);

	json_t *conns = json_array();
	for (unsigned i = 0; i < s->n_conns; i++) {
		const struct sl_stats_conn *cn = &sl_stats_conns(s)[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(cn->name));
		json_object_set_new(o, "from", json_string(cl[cn->from_cluster].name));
		json_object_set_new(o, "to", json_string(cl[cn->to_cluster].name));
		json_object_set_new(o, "capacity", json_integer(cn->capacity));
		json_object_set_new(o, "enqueued", u64(cn->cnt.enqueued));
		json_object_set_new(o, "dequeued", u64(cn->cnt.dequeued));
		json_object_set_new(o, "dropped_full", u64(cn->cnt.dropped_full));
		json_object_set_new(o, "occupancy", u64(cn->cnt.enqueued - cn->cnt.dequeued));
		json_object_set_new(o, "peak", u64(cn->cnt.peak));
		json_object_set_new(o, "push_cycles", u64(cn->cnt.push_cycles));
		json_object_set_new(o, "timed_pushed", u64(cn->cnt.timed_pushed));
		json_object_set_new(o, "pull_cycles", u64(cn->cnt.pull_cycles));
		json_object_set_new(o, "timed_pulled", u64(cn->cnt.timed_pulled));
		json_array_append_new(conns, o);
	}
	json_object_set_new(root, "connectors", conns);

	json_t *ports = json_array();
	for (unsigned i = 0; i < s->n_ports; i++) {
		const struct sl_stats_port *p = &sl_stats_ports(s)[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "driver", json_string(p->driver));
		json_object_set_new(o, "devargs", json_string(p->devargs));
		json_object_set_new(o, "rx_queues", json_integer(p->n_rxq));
		json_object_set_new(o, "tx_queues", json_integer(p->n_txq));
		json_object_set_new(o, "ipackets", u64(p->st.ipackets));
		json_object_set_new(o, "opackets", u64(p->st.opackets));
		json_object_set_new(o, "ibytes", u64(p->st.ibytes));
		json_object_set_new(o, "obytes", u64(p->st.obytes));
		json_object_set_new(o, "imissed", u64(p->st.imissed));
		json_object_set_new(o, "ierrors", u64(p->st.ierrors));
		json_object_set_new(o, "oerrors", u64(p->st.oerrors));
		json_object_set_new(o, "rx_nombuf", u64(p->st.rx_nombuf));
		json_object_set_new(o, "rx_dropped", u64(p->st.rx_dropped));
		json_object_set_new(o, "rx_invalid_descs", u64(p->st.rx_invalid_descs));
		json_object_set_new(o, "tx_invalid_descs", u64(p->st.tx_invalid_descs));
		json_object_set_new(o, "rx_ring_full", u64(p->st.rx_ring_full));
		json_object_set_new(o, "fill_ring_empty", u64(p->st.fill_ring_empty));
		json_object_set_new(o, "wakeups", u64(p->st.wakeups));
		json_object_set_new(o, "tx_retries", u64(p->st.tx_retries));
		json_object_set_new(o, "tx_copies", u64(p->st.tx_copies));
		json_object_set_new(o, "note", json_string(p->note));
		json_array_append_new(ports, o);
	}
	json_object_set_new(root, "ports", ports);
	return root;
}

void sl_stats_json_derive(json_t *view)
{
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(view, "stages"), i, st)
	{
		double in = (double)json_integer_value(json_object_get(st, "in"));
		double calls = (double)json_integer_value(json_object_get(st, "calls"));
		double cyc = (double)json_integer_value(json_object_get(st, "cycles"));
		double timed = (double)json_integer_value(json_object_get(st, "timed_packets"));
		json_object_set_new(st, "pkts_per_call", json_real(calls > 0 ? in / calls : 0));
		json_object_set_new(st, "cycles_per_pkt", json_real(timed > 0 ? cyc / timed : 0));
	}
}
