/* test_config_hostile.c: the config loader on hostile input (issue 7, items
 * 1-4 and the devargs policy): bytes that hung or crashed the old parser,
 * files that are not files, inputs built to be slow, and configs from the
 * control socket naming files outside the operator's directories. Each must
 * be refused with its place, quickly, and never hang or crash; meson's time
 * bound on this test is what catches a hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static char tmpdir[] = "/tmp/sl-test-hostile-XXXXXX";

static const char valid[] = "ports:\n"
			    "  in0: { driver: dpdk, devargs: \"net_null0\" }\n"
			    "  out0: { driver: dpdk, devargs: \"net_null1\" }\n"
			    "graph:\n"
			    "  stages:\n"
			    "    rx: { type: port_rx, port: in0 }\n"
			    "    tx: { type: port_tx, port: out0 }\n"
			    "  connectors:\n"
			    "    - rx -> tx\n"
			    "clusters:\n"
			    "  a: [rx, tx]\n"
			    "mapping:\n"
			    "  a: { core: 0 }\n"
			    "dataplane:\n"
			    "  cores: [0]\n";

/* Load buf; expect a refusal whose message contains want. */
static void refuse(const char *buf, size_t len, const struct sl_config_policy *pol,
		   const char *want)
{
	struct sl_config *c = NULL;
	struct sl_err err = {""};
	if (sl_config_load_buffer(buf, len, "t.yaml", pol, &c, &err) == 0) {
		sl_config_free(c);
		fail_msg("accepted; wanted a refusal containing '%s'", want);
	}
	assert_null(c);
	if (!strstr(err.msg, want))
		fail_msg("want '%s' in: %s", want, err.msg);
	if (strncmp(err.msg, "t.yaml:", 7) != 0 || strncmp(err.msg, "t.yaml:0:", 9) == 0)
		fail_msg("no place in: %s", err.msg);
}

static struct sl_config *accept_cfg(const char *buf, const struct sl_config_policy *pol)
{
	struct sl_config *c = NULL;
	struct sl_err err = {""};
	if (sl_config_load_buffer(buf, strlen(buf), "t.yaml", pol, &c, &err) != 0)
		fail_msg("refused: %s", err.msg);
	return c;
}

static void test_scanner_bytes(void **state)
{
	(void)state;
	/* libfyaml 0.8 spun forever on these. */
	refuse("%\x9f", 2, NULL, "t.yaml:1:1: YAML syntax error: invalid leading UTF-8 octet");
	refuse("%\xff\n", 3, NULL, "t.yaml:1:1: YAML syntax error: invalid leading UTF-8 octet");
	refuse("\x01\x02\x03garbage\xfe", 11, NULL, "YAML syntax error");
	refuse("a: \"x\\0y\"\n", 10, NULL, "t.yaml:1:4: a value holds a NUL character");
}

static void test_not_files(void **state)
{
	(void)state;
	char fifo[300];
	struct sl_config *c = NULL;
	struct sl_err err;
	snprintf(fifo, sizeof(fifo), "%s/fifo.yaml", tmpdir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* No writer: opening must not wait for one. */
	assert_int_equal(sl_config_load(fifo, &c, &err), -1);
	assert_non_null(strstr(err.msg, ":1:1: not a regular file (a FIFO)"));
	assert_int_equal(sl_config_load(tmpdir, &c, &err), -1);
	assert_non_null(strstr(err.msg, ":1:1: not a regular file (a directory)"));
	assert_int_equal(sl_config_load("/dev/null", &c, &err), -1);
	assert_string_equal(err.msg, "/dev/null:1:1: not a regular file (a character device)");
	/* procfs files say size 0 but have text: read, refused with a place. */
	assert_int_equal(sl_config_load("/proc/self/status", &c, &err), -1);
	assert_int_equal(strncmp(err.msg, "/proc/self/status:", 18), 0);
	assert_null(c);
}

static void test_too_big(void **state)
{
	(void)state;
	char path[300];
	struct sl_config *c = NULL;
	struct sl_err err;
	snprintf(path, sizeof(path), "%s/big.yaml", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 30000; i++)
		fputs("# padding\n", f);
	fclose(f);
	assert_int_equal(sl_config_load(path, &c, &err), -1);
	assert_non_null(strstr(err.msg, "more than the 262144 allowed"));
}

static void test_deep_nesting(void **state)
{
	(void)state;
	size_t n = 200000;
	char *b = malloc(n);
	memset(b, '[', n);
	refuse(b, n, NULL, "config is too deeply nested: nested more than 32 levels deep");
	memset(b, '{', n);
	refuse(b, n, NULL, "config is too deeply nested");
	for (size_t i = 0; i + 3 <= n; i += 3)
		memcpy(b + i, "- ", 2), b[i + 2] = ' ';
	refuse(b, n, NULL, "config is too deeply nested");
	free(b);
}

static char *keys_map(unsigned n)
{
	char *b = malloc((size_t)n * 16 + 1), *p = b;
	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, "k%u: 1\n", i);
	return b;
}

static void test_many_keys(void **state)
{
	(void)state;
	/* 40k keys took 2 s and 160k over a minute when duplicate checks
	 * were quadratic; now they are linear-logarithmic, 256 KiB holds at
	 * most about 25k keys, and the node cap bounds the rest. */
	char *b = keys_map(40000);
	refuse(b, strlen(b), NULL, "t.yaml:1:1: config is 388890 bytes, more than the 262144");
	free(b);
	b = keys_map(25000);
	refuse(b, strlen(b), NULL, "t.yaml:1:1: unknown key 'k0' in the config");
	free(b);
	/* Within the byte cap, two bytes a node: past the node cap. */
	b = malloc(4 + 2 * 120000 + 2);
	strcpy(b, "a: [");
	for (unsigned i = 0; i < 120000; i++)
		memcpy(b + 4 + 2 * i, "1,", 2);
	strcpy(b + 4 + 2 * 120000, "]");
	refuse(b, strlen(b), NULL, "config is too large: more than 100000 YAML nodes");
	free(b);
	/* 49,990 equal keys (under the node cap): each run of equal keys is
	 * scanned once, so this takes milliseconds, not the 12 s it took. */
	b = malloc(8 + 2 * 49990 + 4);
	strcpy(b, "ports: {");
	for (unsigned i = 0; i < 49990; i++)
		memcpy(b + 8 + 2 * i, "p,", 2);
	strcpy(b + 8 + 2 * 49990 - 1, "}\n");
	refuse(b, strlen(b), NULL, "t.yaml:1:11: duplicate key 'p' (first at line 1)");
	free(b);
	b = keys_map(25000);
	strcat(b, "k17: 2\n");
	refuse(b, strlen(b), NULL, "t.yaml:25001:1: duplicate key 'k17' (first at line 18)");
	free(b);
}

/* A chain rx -> p0 -> ... -> p(n-1) -> tx, every stage in one cluster; the
 * pass stages have inst instances. */
static char *chain_of(unsigned n, unsigned inst)
{
	char *b = malloc((size_t)n * 80 + 4096), *p = b;
	p += snprintf(p, 4096, "ports:\n  in0: { driver: dpdk, devargs: \"net_null0\" }\n"
			"  out0: { driver: dpdk, devargs: \"net_null1\" }\n"
			"graph:\n  stages:\n    rx: { type: port_rx, port: in0 }\n"
			"    tx: { type: port_tx, port: out0 }\n");
	for (unsigned i = 0; i < n; i++)
		p += inst > 1 ? sprintf(p, "    p%u: { type: pass, instances: %u }\n", i, inst)
			      : sprintf(p, "    p%u: { type: pass }\n", i);
	p += sprintf(p, "  connectors:\n    - rx");
	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, " -> p%u", i);
	p += sprintf(p, " -> tx\nclusters:\n  a: [rx, tx");
	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, ", p%u", i);
	sprintf(p, "]\nmapping:\n  a: { core: 0 }\ndataplane:\n  cores: [0]\n");
	return b;
}

static char *chain(unsigned n)
{
	return chain_of(n, 1);
}

static void test_long_chains(void **state)
{
	(void)state;
	/* Stage indexes were 16 bits: 70,000 stages wrapped and read as a
	 * cycle. Now the stage count is capped, and a chain at the cap loads
	 * (in linear-logarithmic time). */
	char *b = chain(SL_MAX_STAGES - 2);
	struct sl_config *c = accept_cfg(b, NULL);
	assert_int_equal(c->n_stages, SL_MAX_STAGES);
	assert_int_equal(c->n_links, SL_MAX_STAGES - 1);
	sl_config_free(c);
	free(b);
	/* Instances count too: 300 stages of 16 instances would be 4802. */
	b = chain_of(300, 16);
	refuse(b, strlen(b), NULL,
	       "t.yaml:263:5: stage 'p255' brings the graph to 4098 stage instances; at most "
	       "4096 are allowed");
	free(b);
	b = chain(5000);
	refuse(b, strlen(b), NULL,
	       "t.yaml:6:5: 'stages' holds 5002 stages; at most 4096 are allowed");
	free(b);
}

static void test_yaml12_integers(void **state)
{
	(void)state;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s  burst: 010\n  ring_size: 0128\n", valid);
	struct sl_config *c = accept_cfg(buf, NULL);
	assert_int_equal(c->dp.burst, 10);
	assert_int_equal(c->dp.ring_size, 128);
	sl_config_free(c);
}

/* A config whose input port reads devargs d, with file_dirs fd appended. */
static void with_devargs(char *buf, size_t len, const char *d, const char *fd)
{
	snprintf(buf, len,
		 "ports:\n  in0: { driver: dpdk, devargs: \"%s\" }\n"
		 "  out0: { driver: dpdk, devargs: \"net_null1\" }\n"
		 "graph:\n  stages:\n    rx: { type: port_rx, port: in0 }\n"
		 "    tx: { type: port_tx, port: out0 }\n  connectors:\n    - rx -> tx\n"
		 "clusters:\n  a: [rx, tx]\nmapping:\n  a: { core: 0 }\ndataplane:\n"
		 "  cores: [0]\n%s",
		 d, fd);
}

static void test_untrusted_files(void **state)
{
	(void)state;
	char dir[64], sub[80], link[80], buf[2048], d[600];
	snprintf(dir, sizeof(dir), "%s/pcaps", tmpdir);
	snprintf(sub, sizeof(sub), "%s/pcaps/sub", tmpdir);
	snprintf(link, sizeof(link), "%s/pcaps/keys", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(symlink("/root/.ssh", link), 0);
	char *dirs[] = {dir};
	struct sl_config_policy pol = {true, dirs, 1};
	struct sl_config *c;

	/* Inside: fine, whether or not the file exists yet. */
	snprintf(d, sizeof(d), "net_pcap0,rx_pcap=%s/a.pcap,tx_pcap=%s/b.pcap", dir, sub);
	with_devargs(buf, sizeof(buf), d, "");
	sl_config_free(accept_cfg(buf, &pol));
	/* Argument names may hold '-' (memif's socket-abstract, zero-copy). */
	with_devargs(buf, sizeof(buf), "net_memif0,role=server,socket-abstract=no,zero-copy=yes",
		     "");
	sl_config_free(accept_cfg(buf, NULL));
	/* Trusted (root's command line): any path. */
	with_devargs(buf, sizeof(buf), "net_pcap0,tx_pcap=/root/.ssh/authorized_keys", "");
	sl_config_free(accept_cfg(buf, NULL));
	/* The attack of item 5: root truncating a file it was pointed at. */
	refuse(buf, strlen(buf), &pol,
	       "t.yaml:2:52: port 'in0': '/root/.ssh/authorized_keys' is outside the directories");
	snprintf(d, sizeof(d), "net_pcap0,tx_pcap=%s/../x", dir);
	with_devargs(buf, sizeof(buf), d, "");
	refuse(buf, strlen(buf), &pol, "must be an absolute path without '.', '..'");
	with_devargs(buf, sizeof(buf), "net_pcap0,rx_pcap=a.pcap", "");
	refuse(buf, strlen(buf), &pol, "'a.pcap' must be an absolute path");
	snprintf(d, sizeof(d), "net_pcap0,tx_pcap=%s/authorized_keys", link);
	with_devargs(buf, sizeof(buf), d, "");
	refuse(buf, strlen(buf), &pol, "keys' is a symbolic link; name the file itself");
	/* An argument DPDK may read as a path, whatever its name. */
	with_devargs(buf, sizeof(buf), "net_memif0,socket=/run/x.sock", "");
	refuse(buf, strlen(buf), &pol, "'/run/x.sock' is outside the directories");
	with_devargs(buf, sizeof(buf), "net_tap0,iface=/etc/x", "");
	refuse(buf, strlen(buf), &pol, "'/etc/x' is outside the directories");
	/* No directories given: no file arguments over the socket at all. */
	struct sl_config_policy none = {true, NULL, 0};
	snprintf(d, sizeof(d), "net_pcap0,rx_pcap=%s/a.pcap", dir);
	with_devargs(buf, sizeof(buf), d, "");
	refuse(buf, strlen(buf), &none,
	       "(dataplane.file_dirs of the config sluiced started with: "
	       "none given)");
	/* A socket config may narrow file_dirs, never widen them. */
	char fd[400];
	snprintf(fd, sizeof(fd), "  file_dirs: [%s]\n", sub);
	with_devargs(buf, sizeof(buf), "net_null0", fd);
	c = accept_cfg(buf, &pol);
	assert_int_equal(c->dp.n_file_dirs, 1);
	assert_string_equal(c->dp.file_dirs[0], sub);
	sl_config_free(c);
	with_devargs(buf, sizeof(buf), "net_null0", "  file_dirs: [/root]\n");
	refuse(buf, strlen(buf), &pol, "t.yaml:16:15: '/root' is not inside the file_dirs");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scanner_bytes),   cmocka_unit_test(test_not_files),
	    cmocka_unit_test(test_too_big),	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_many_keys),	    cmocka_unit_test(test_long_chains),
	    cmocka_unit_test(test_yaml12_integers), cmocka_unit_test(test_untrusted_files),
	};
	if (!mkdtemp(tmpdir))
		return 1;
	int failed = cmocka_run_group_tests_name("config_hostile", tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed ? 1 : 0;
}
