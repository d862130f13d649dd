/* test_stage_api.c: the loader's side of the stage API, on a stage type of
 * the test's own ("probe"): number keys (decimal only, in range), file keys
 * (relative to the config, held to file_dirs for a client's config), the
 * check hook's key and item positions, configured output names, and the
 * bound on extra counters. Each refusal is checked to the line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

struct probe_conf {
	double ratio;
	char *in, *out;
	struct sl_strlist ops, ports, exports;
	uint64_t aux;
	char *emit;
};

static const struct sl_param probe_params[] = {
    {.name = "ratio",
     .kind = SL_PARAM_DOUBLE,
     .offset = offsetof(struct probe_conf, ratio),
     .dmin = 0,
     .dmax = 1,
     .ddef = 0.25},
    {.name = "in", .kind = SL_PARAM_FILE, .offset = offsetof(struct probe_conf, in)},
    {.name = "out", .kind = SL_PARAM_OUTFILE, .offset = offsetof(struct probe_conf, out)},
    {.name = "ops", .kind = SL_PARAM_STRLIST, .offset = offsetof(struct probe_conf, ops)},
    {.name = "ports", .kind = SL_PARAM_STRLIST, .offset = offsetof(struct probe_conf, ports)},
    {.name = "export", .kind = SL_PARAM_EXPORTS, .offset = offsetof(struct probe_conf, exports)},
    {.name = "emit", .kind = SL_PARAM_EXPORT, .offset = offsetof(struct probe_conf, emit)},
    {.name = "aux",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct probe_conf, aux),
     .max = UINT32_MAX},
};

static int probe_check(const void *conf, struct sl_check *chk)
{
	const struct probe_conf *c = conf;
	for (unsigned i = 0; i < c->ops.n; i++)
		if (strcmp(c->ops.v[i], "ok")) {
			chk->param = "ops";
			chk->item = (int)i;
			snprintf(chk->msg, sizeof(chk->msg), "unknown operation '%s'", c->ops.v[i]);
			return -1;
		}
	return 0;
}

static unsigned probe_outputs(const void *conf, char (*names)[SL_LABEL_MAX], unsigned max)
{
	const struct probe_conf *c = conf;
	unsigned n = 0;
	for (; n < c->ports.n && n < max; n++)
		snprintf(names[n], SL_LABEL_MAX, "%s", c->ports.v[n]);
	return n;
}

static unsigned probe_aux(const void *conf)
{
	return (unsigned)((const struct probe_conf *)conf)->aux;
}

static const char *const probe_out[] = {"out"};
static struct sl_stage_type probe_type = {
    .name = "probe",
    .outputs = probe_out,
    .n_outputs = 1,
    .params = probe_params,
    .n_params = RTE_DIM(probe_params),
    .conf_size = sizeof(struct probe_conf),
    .check = probe_check,
    .conf_outputs = probe_outputs,
    .n_aux = probe_aux,
};
SL_STAGE_REGISTER(probe_type)

/* Load one stage; expect rc, and when refused, this message tail. */
static void stage(const char *yaml, const struct sl_config_policy *pol, const char *want,
		  struct sl_conf_stage *out)
{
	struct sl_err err = {0};
	struct sl_conf_stage s;
	int rc = sl_config_load_stage(yaml, strlen(yaml), "/etc/sl/c.yaml", pol, &s, &err);
	if (!want) {
		if (rc != 0)
			fail_msg("refused %s: %s", yaml, err.msg);
		if (out)
			*out = s;
		else
			sl_config_stage_free(&s);
		return;
	}
	if (rc == 0)
		fail_msg("accepted %s", yaml);
	if (!strstr(err.msg, want))
		fail_msg("%s\n  got:  %s\n  want: %s", yaml, err.msg, want);
}

static void test_double(void **state)
{
	(void)state;
	struct sl_conf_stage s;
	stage("{type: probe, ratio: 0.5}", NULL, NULL, &s);
	assert_true(((struct probe_conf *)s.conf)->ratio == 0.5);
	sl_config_stage_free(&s);
	stage("{type: probe}", NULL, NULL, &s);
	assert_true(((struct probe_conf *)s.conf)->ratio == 0.25);
	sl_config_stage_free(&s);
	stage("{type: probe, ratio: 1e-3}", NULL, NULL, NULL);
	stage("{type: probe, ratio: 1}", NULL, NULL, NULL);
	stage("{type: probe, ratio: nan}", NULL, "1:22: 'ratio' must be a decimal number", NULL);
	stage("{type: probe, ratio: inf}", NULL, "1:22: 'ratio' must be a decimal number", NULL);
	stage("{type: probe, ratio: 0x1p-2}", NULL, "must be a decimal number", NULL);
	stage("{type: probe, ratio: 1.5.2}", NULL, "must be a decimal number", NULL);
	stage("{type: probe, ratio: '0.5'}", NULL, "1:22: 'ratio' must be a number", NULL);
	stage("{type: probe, ratio: 1.5}", NULL, "1:22: 'ratio' is 1.5, expected 0 to 1", NULL);
	stage("{type: probe, ratio: -0.1}", NULL, "expected 0 to 1", NULL);
	stage("{type: probe, ratio: 1e400}", NULL, "expected 0 to 1", NULL);
	stage("{type: probe, ratio: [1]}", NULL, "'ratio' must be a number", NULL);
}

static void test_files(void **state)
{
	(void)state;
	struct sl_conf_stage s;
	stage("{type: probe, in: rules.txt, out: /var/tmp/x.pcapng}", NULL, NULL, &s);
	assert_string_equal(((struct probe_conf *)s.conf)->in, "/etc/sl/rules.txt");
	assert_string_equal(((struct probe_conf *)s.conf)->out, "/var/tmp/x.pcapng");
	sl_config_stage_free(&s);
	stage("{type: probe, in: ''}", NULL, "1:19: 'in' must not be empty", NULL);

	char *dirs[] = {"/srv/sluice"};
	struct sl_config_policy pol = {true, dirs, 1};
	stage("{type: probe, in: /srv/sluice/r.txt}", &pol, NULL, NULL);
	stage("{type: probe, in: /etc/shadow}", &pol,
	      "1:19: 'in': '/etc/shadow' is outside the directories", NULL);
	stage("{type: probe, out: /srv/sluice/../../etc/x}", &pol,
	      "'out': '/srv/sluice/../../etc/x' must be an absolute path without '.', '..'", NULL);
	stage("{type: probe, in: r.txt}", &pol, "'/etc/sl/r.txt' is outside the directories", NULL);
}

static void test_exports(void **state)
{
	(void)state;
	struct sl_conf_stage s;
	stage("{type: probe, export: ['ipfix://127.0.0.1:4739', 'json:flows.jsonl'], emit: "
	      "'ipfix://[::1]:4739'}",
	      NULL, NULL, &s);
	const struct probe_conf *c = s.conf;
	assert_int_equal(c->exports.n, 2);
	assert_string_equal(c->exports.v[0], "ipfix://127.0.0.1:4739");
	assert_string_equal(c->exports.v[1], "json:/etc/sl/flows.jsonl");
	assert_string_equal(c->emit, "ipfix://[::1]:4739");
	sl_config_stage_free(&s);
	stage("{type: probe, emit: 'ipfix://host'}", NULL, "is not ipfix://HOST:PORT", NULL);
	stage("{type: probe, emit: 'ipfix://h:99999'}", NULL, "is not ipfix://HOST:PORT", NULL);
	stage("{type: probe, emit: 'ipfix://:4739'}", NULL, "is not ipfix://HOST:PORT", NULL);
	stage("{type: probe, emit: 'http://x:1'}", NULL, "is not an export target", NULL);
	stage("{type: probe, export: 'json:x'}", NULL, "must be a sequence of export targets",
	      NULL);
	char *dirs[] = {"/srv/sluice"};
	struct sl_config_policy pol = {true, dirs, 1};
	stage("{type: probe, export: ['json:/srv/sluice/f.jsonl']}", &pol, NULL, NULL);
	stage("{type: probe, export: ['ipfix://127.0.0.1:4739',\n   'json:/etc/cron.d/x']}", &pol,
	      "2:4: 'export': '/etc/cron.d/x' is outside the directories", NULL);
}

static void test_check_positions(void **state)
{
	(void)state;
	stage("{type: probe, ops: [ok, ok]}", NULL, NULL, NULL);
	stage("{type: probe,\n  ops: [ok,\n        nope]}", NULL,
	      "3:9: stage 'stage': 'ops': unknown operation 'nope'", NULL);
}

static void test_outputs_and_aux(void **state)
{
	(void)state;
	struct sl_conf_stage s;
	stage("{type: probe, ports: [permit, inspect]}", NULL, NULL, &s);
	assert_int_equal(s.n_out_names, 2);
	char nb[SL_LABEL_MAX];
	assert_string_equal(sl_conf_stage_output_name(&s, 1, nb, sizeof(nb)), "inspect");
	sl_config_stage_free(&s);
	stage("{type: probe, ports: [a, a]}", NULL, "two output ports named 'a'", NULL);
	stage("{type: probe, aux: 300000}", NULL, "wants 300000 extra counters; at most 262144",
	      NULL);

	/* In a whole config, connectors use the configured names. */
	const char *cfg =
	    "ports:\n  a: { driver: dpdk, devargs: net_null0 }\n"
	    "graph:\n  stages:\n    rx: { type: port_rx, port: a }\n"
	    "    x: { type: probe, ports: [permit, inspect] }\n"
	    "    y: { type: pass }\n    z: { type: pass }\n"
	    "  connectors:\n    - rx -> x\n    - x.inspect -> y\n    - x.permit -> z\n"
	    "clusters:\n  c: [rx, x, y, z]\nmapping:\n  c: { core: 0 }\n"
	    "dataplane: { cores: [0] }\n";
	struct sl_config *c = NULL;
	struct sl_err err = {0};
	if (sl_config_load_buffer(cfg, strlen(cfg), "g.yaml", NULL, &c, &err) != 0)
		fail_msg("%s", err.msg);
	sl_config_free(c);
	char bad[1024];
	snprintf(bad, sizeof(bad), "%s", cfg);
	memcpy(strstr(bad, "x.inspect"), "x.nothere", 9);
	assert_int_equal(sl_config_load_buffer(bad, strlen(bad), "g.yaml", NULL, &c, &err), -1);
	if (!strstr(err.msg, "g.yaml:11:7: stage 'x' (type probe) has no output port 'nothere' "
			     "(it has: permit, inspect)"))
		fail_msg("got: %s", err.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_double),	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_check_positions), cmocka_unit_test(test_exports),
	    cmocka_unit_test(test_outputs_and_aux),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
