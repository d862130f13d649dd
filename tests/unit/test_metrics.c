/* test_metrics.c: the Prometheus renderer (control/metrics.c) on synthetic
 * stats segments laid out in memory: every family has HELP and TYPE before
 * its samples, label values are escaped, stage instances are split from
 * their names, no label is named instance or job, every sample line parses,
 * and totals folded from a dead dataplane (stats_view.c, as sluiced folds
 * them) add up, so counters stay monotonic across a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/metrics.h"
#include "control/stats_view.h"
#include "dataplane/stats/stats_segment.h"

static uint64_t align64(uint64_t v)
{
	return (v + 63) & ~(uint64_t)63;
}

/* A segment as a dataplane lays it out: stages "rx", "work[0]", "work[1]"
 * and "tx", one connector, two ports, two clusters; rx takes in packets,
 * work[1] drops one, rx has two aux counters. Names with a quote, a
 * backslash and a newline test the escaping. */
static struct sl_stats_hdr *segment(uint64_t in)
{
	uint64_t off = align64(sizeof(struct sl_stats_hdr));
	uint64_t o_st = off;
	off = align64(off + 4 * sizeof(struct sl_stats_stage));
	uint64_t o_cn = off;
	off = align64(off + sizeof(struct sl_stats_conn));
	uint64_t o_pt = off;
	off = align64(off + 2 * sizeof(struct sl_stats_port));
	uint64_t o_cl = off;
	off = align64(off + 2 * sizeof(struct sl_stats_cluster));
	uint64_t o_aux = off, aux = sl_stats_aux_bytes(2);
	off = align64(off + aux);
	struct sl_stats_hdr *h = aligned_alloc(64, off);
	assert_non_null(h);
	memset(h, 0, off);
	h->magic = SL_STATS_MAGIC;
	h->version = SL_STATS_VERSION;
	h->hdr_size = sizeof(*h);
	h->size = off;
	h->n_stages = 4;
	h->n_conns = 1;
	h->n_ports = 2;
	h->n_clusters = 2;
	h->off_stages = o_st;
	h->off_conns = o_cn;
	h->off_ports = o_pt;
	h->off_clusters = o_cl;
	h->off_aux = o_aux;
	h->aux_size = aux;
	h->mbufs = 4096;
	h->mbufs_in_use = 7;
	snprintf(h->name, sizeof(h->name), "t");

	struct sl_stats_cluster *cl = sl_stats_clusters(h);
	snprintf(cl[0].name, sizeof(cl[0].name), "in\"gress");
	snprintf(cl[1].name, sizeof(cl[1].name), "eg\\ress");
	cl[0].core = 0;
	cl[1].core = 1;
	cl[0].stalls = 3;
	cl[1].moves = 2;

	struct sl_stats_stage *st = sl_stats_stages(h);
	const char *names[] = {"rx", "work[0]", "work[1]", "tx"};
	const char *types[] = {"port_rx", "pass", "pass", "port_tx"};
	for (unsigned i = 0; i < 4; i++) {
		snprintf(st[i].name, sizeof(st[i].name), "%s", names[i]);
		snprintf(st[i].type, sizeof(st[i].type), "%s", types[i]);
		st[i].cluster = i == 0 ? 0 : 1;
		st[i].n_out = 1;
		snprintf(st[i].out_names[0], sizeof(st[i].out_names[0]), "%s",
			 i == 3 ? "sent" : "out");
		st[i].n_drops = 1;
		snprintf(st[i].drop_names[0], sizeof(st[i].drop_names[0]), "unconnected");
		snprintf(st[i].drop_names[1], sizeof(st[i].drop_names[1]), "bad\nreason");
	}
	st[0].cnt.pkts_in = in;
	st[0].cnt.out[0] = in;
	st[0].cnt.calls = 10;
	st[0].cnt.cycles = 1000;
	st[0].cnt.timed_pkts = 50;
	st[1].cnt.pkts_in = in / 2;
	st[1].cnt.out[0] = in / 2;
	st[2].cnt.pkts_in = in - in / 2;
	st[2].cnt.out[0] = in - in / 2 - 1;
	st[2].cnt.drops[1] = 1;
	st[3].cnt.pkts_in = in - 1;
	st[3].cnt.out[0] = in - 1;

	st[0].n_aux = 2;
	st[0].off_aux_names = o_aux;
	st[0].off_aux = align64(o_aux + 2 * SL_LABEL_MAX);
	snprintf(sl_stats_aux_names(h, &st[0])[0], SL_LABEL_MAX, "flows");
	snprintf(sl_stats_aux_names(h, &st[0])[1], SL_LABEL_MAX, "evicted");
	sl_stats_aux(h, &st[0])[0] = 5;
	sl_stats_aux(h, &st[0])[1] = 1;

	struct sl_stats_conn *cn = sl_stats_conns(h);
	snprintf(cn->name, sizeof(cn->name), "rx -> work");
	cn->from_cluster = 0;
	cn->to_cluster = 1;
	cn->capacity = 1024;
	cn->cnt.enqueued = in;
	cn->cnt.dequeued = in - 3;
	cn->cnt.peak = 9;

	struct sl_stats_port *p = sl_stats_ports(h);
	snprintf(p[0].name, sizeof(p[0].name), "in0");
	snprintf(p[0].driver, sizeof(p[0].driver), "dpdk");
	p[0].st.ipackets = in;
	p[0].st.ibytes = 64 * in;
	snprintf(p[1].name, sizeof(p[1].name), "out0");
	snprintf(p[1].driver, sizeof(p[1].driver), "af_xdp");
	p[1].st.opackets = in - 1;
	p[1].st.tx_copies = 4;
	return h;
}

static char *render(json_t *view, bool up, unsigned restarts)
{
	struct sl_metrics_info info = {
	    .up = up, .restarts = restarts, .version = "0.1\"x", .dpdk = "22.11.0"};
	size_t len = 0;
	char *t = sl_metrics_render(view, &info, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	return t;
}

/* The value of the sample line that starts with prefix (name and labels up
 * to and including "}" or the name alone), or -1. */
static long long value_of(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, prefix, n) && l[n] == ' ')
			return atoll(l + n + 1);
	return -1;
}

static void test_escape(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(sl_metrics_escape("a\\b\"c\nd", out, sizeof(out)), 10);
	assert_string_equal(out, "a\\\\b\\\"c\\nd");
	/* Truncated output stays terminated; the needed length is returned. */
	assert_int_equal(sl_metrics_escape("\"\"\"", out, 4), 6);
	assert_string_equal(out, "\\\"\\");
	assert_int_equal(sl_metrics_escape(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

/* Every line is a comment (HELP or TYPE, TYPE right after HELP of the same
 * name), or NAME[{LABELS}] VALUE of the family last typed. */
static void check_syntax(const char *text)
{
	char family[128] = "";
	char *copy = strdup(text), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "# HELP ", 7)) {
			sscanf(l + 7, "%127s", family);
			continue;
		}
		if (!strncmp(l, "# TYPE ", 7)) {
			char name[128], type[32];
			assert_int_equal(sscanf(l + 7, "%127s %31s", name, type), 2);
			assert_string_equal(name, family);
			assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
				    !strcmp(type, "untyped"));
			continue;
		}
		assert_true(l[0] != '#');
		size_t n = strspn(l, "abcdefghijklmnopqrstuvwxyz_0123456789");
		assert_true(n > 0);
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)n, l);
		assert_string_equal(name, family);
		const char *v = l + n;
		if (*v == '{') {
			/* label="value" pairs, values escaped: no raw quote inside. */
			v++;
			while (*v != '}') {
				size_t k = strspn(v, "abcdefghijklmnopqrstuvwxyz_");
				assert_true(k > 0);
				assert_false(k == 8 && !strncmp(v, "instance", 8));
				assert_false(k == 3 && !strncmp(v, "job", 3));
				v += k;
				assert_int_equal(*v++, '=');
				assert_int_equal(*v++, '"');
				while (*v != '"') {
					assert_true(*v != '\0' && *v != '\n');
					if (*v == '\\') {
						v++;
						assert_true(*v == '\\' || *v == '"' || *v == 'n');
					}
					v++;
				}
				v++;
				if (*v == ',')
					v++;
			}
			v++;
		}
		assert_int_equal(*v, ' ');
		char *end;
		strtod(v + 1, &end);
		assert_true(end > v + 1 && *end == '\0');
	}
	free(copy);
}

static void test_render(void **state)
{
	(void)state;
	struct sl_stats_hdr *h = segment(1000);
	json_t *view = sl_stats_to_json(h);
	char *t = render(view, true, 2);
	check_syntax(t);

	assert_int_equal(value_of(t, "sluice_up"), 1);
	assert_int_equal(value_of(t, "sluice_dataplane_restarts_total"), 2);
	assert_int_equal(value_of(t, "sluice_build_info{version=\"0.1\\\"x\",dpdk=\"22.11.0\"}"),
			 1);
	assert_int_equal(value_of(t, "sluice_stage_packets_total{stage=\"rx\",stage_instance=\"0\","
				     "type=\"port_rx\",cluster=\"in\\\"gress\",direction=\"in\"}"),
			 1000);
	assert_int_equal(value_of(t, "sluice_stage_packets_total{stage=\"work\",stage_instance="
				     "\"1\",type=\"pass\",cluster=\"eg\\\\ress\",direction=\"out\","
				     "port=\"out\"}"),
			 499);
	assert_int_equal(value_of(t, "sluice_stage_packets_total{stage=\"tx\",stage_instance=\"0\","
				     "type=\"port_tx\",cluster=\"eg\\\\ress\",direction=\"out\","
				     "port=\"sent\"}"),
			 999);
	assert_int_equal(value_of(t, "sluice_stage_drops_total{stage=\"work\",stage_instance="
				     "\"1\",reason=\"bad\\nreason\"}"),
			 1);
	assert_int_equal(
	    value_of(t, "sluice_stage_cycles_total{stage=\"rx\",stage_instance=\"0\"}"), 1000);
	assert_int_equal(
	    value_of(t, "sluice_stage_timed_packets_total{stage=\"rx\",stage_instance=\"0\"}"), 50);
	assert_int_equal(
	    value_of(t, "sluice_stage_aux{stage=\"rx\",stage_instance=\"0\",name=\"flows\"}"), 5);
	const char *conn = "{connector=\"rx -> work\",from_cluster=\"in\\\"gress\",to_cluster="
			   "\"eg\\\\ress\"}";
	char key[256];
	snprintf(key, sizeof(key), "sluice_connector_occupancy%s", conn);
	assert_int_equal(value_of(t, key), 3);
	snprintf(key, sizeof(key), "sluice_connector_enqueued_total%s", conn);
	assert_int_equal(value_of(t, key), 1000);
	assert_int_equal(
	    value_of(t, "sluice_port_tx_copies_total{port=\"out0\",driver=\"af_xdp\"}"), 4);
	assert_int_equal(value_of(t, "sluice_port_rx_bytes_total{port=\"in0\",driver=\"dpdk\"}"),
			 64000);
	assert_int_equal(value_of(t, "sluice_cluster_stalls_total{cluster=\"in\\\"gress\"}"), 3);
	assert_int_equal(value_of(t, "sluice_cluster_moves_total{cluster=\"eg\\\\ress\"}"), 2);
	assert_int_equal(value_of(t, "sluice_mbufs_in_use"), 7);
	/* Every field of struct sl_port_stats has a family. */
	const char *fields[] = {
	    "rx_packets",      "tx_packets",	   "rx_bytes",	       "tx_bytes",
	    "rx_missed",       "rx_errors",	   "tx_errors",	       "rx_nombuf",
	    "rx_dropped",      "rx_invalid_descs", "tx_invalid_descs", "rx_ring_full",
	    "fill_ring_empty", "wakeups",	   "tx_retries",       "tx_copies"};
	assert_int_equal(sizeof(struct sl_port_stats), sizeof(fields) / sizeof(fields[0]) * 8);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		snprintf(key, sizeof(key), "# TYPE sluice_port_%s_total counter\n", fields[i]);
		assert_non_null(strstr(t, key));
	}
	free(t);
	json_decref(view);
	free(h);
}

/* A dataplane that died after 1000 packets, a new one at 300: the totals
 * are 1300, as sluiced folds them, and while none runs the folded totals
 * alone are shown, without the dead one's levels. */
static void test_folded(void **state)
{
	(void)state;
	struct sl_stats_hdr *dead = segment(1000), *live = segment(300);
	json_t *folded = sl_stats_to_json(dead);

	char *t = render(folded, false, 1);
	check_syntax(t);
	assert_int_equal(value_of(t, "sluice_up"), 0);
	assert_null(strstr(t, "sluice_connector_occupancy"));
	assert_null(strstr(t, "sluice_cluster_core"));
	assert_null(strstr(t, "sluice_mbufs"));
	assert_int_equal(value_of(t, "sluice_stage_packets_total{stage=\"rx\",stage_instance=\"0\","
				     "type=\"port_rx\",cluster=\"in\\\"gress\",direction=\"in\"}"),
			 1000);
	free(t);

	json_t *view = sl_stats_to_json(live);
	sl_view_add_totals(view, folded);
	t = render(view, true, 1);
	check_syntax(t);
	assert_int_equal(value_of(t, "sluice_stage_packets_total{stage=\"rx\",stage_instance=\"0\","
				     "type=\"port_rx\",cluster=\"in\\\"gress\",direction=\"in\"}"),
			 1300);
	assert_int_equal(value_of(t, "sluice_port_rx_packets_total{port=\"in0\",driver=\"dpdk\"}"),
			 1300);
	assert_int_equal(value_of(t, "sluice_stage_drops_total{stage=\"work\",stage_instance="
				     "\"1\",reason=\"bad\\nreason\"}"),
			 2);
	/* Levels are the live dataplane's, not summed. */
	assert_int_equal(value_of(t, "sluice_connector_capacity{connector=\"rx -> work\","
				     "from_cluster=\"in\\\"gress\",to_cluster=\"eg\\\\ress\"}"),
			 1024);
	assert_int_equal(value_of(t, "sluice_cluster_core{cluster=\"eg\\\\ress\"}"), 1);
	free(t);
	json_decref(view);
	json_decref(folded);
	free(dead);
	free(live);
}

/* No dataplane has ever run: the endpoint still answers. */
static void test_empty(void **state)
{
	(void)state;
	char *t = render(NULL, false, 0);
	check_syntax(t);
	assert_int_equal(value_of(t, "sluice_up"), 0);
	assert_null(strstr(t, "sluice_stage_packets_total{"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_folded),
	    cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
