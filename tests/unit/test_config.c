/* test_config.c: the config loader rejects each invalid config with exactly
 * the expected `file:line:col: message`, and accepts the valid base and the
 * shipped examples. */
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
#include "config/cpus.h"
#include "drivers/port.h"

/* A valid config; cases replace one line of it (1-based) or append lines. */
static const char *const base[] = {
    "ports:",						/* 1 */
    "  in0: { driver: dpdk, devargs: \"net_null0\" }",	/* 2 */
    "  out0: { driver: dpdk, devargs: \"net_null1\" }", /* 3 */
    "graph:",						/* 4 */
    "  stages:",					/* 5 */
    "    rx: { type: port_rx, port: in0 }",		/* 6 */
    "    p: { type: parse }",				/* 7 */
    "    tx: { type: port_tx, port: out0 }",		/* 8 */
    "  connectors:",					/* 9 */
    "    - rx -> p -> tx",				/* 10 */
    "clusters:",					/* 11 */
    "  a: [rx, p]",					/* 12 */
    "  b: [tx]",					/* 13 */
    "mapping:",						/* 14 */
    "  a: { core: 0 }",					/* 15 */
    "  b: { core: 1 }",					/* 16 */
    "dataplane:",					/* 17 */
    "  cores: [0, 1]",					/* 18 */
    NULL,
};

struct edit {
	int line; /* replace this line; 0 = append */
	const char *text;
};

struct bad_case {
	const char *name;
	struct edit edits[4];
	const char *expect; /* message after "FILE:" */
};

static const struct bad_case cases[] = {
    {"unknown top-level key",
     {{0, "extra: 1"}},
     "19:1: unknown key 'extra' in the config (expected one of: ports, graph, clusters, mapping, "
     "dataplane)"},
    {"unknown port key",
     {{2, "  in0: { driver: dpdk, devargs: \"net_null0\", speed: 10 }"}},
     "2:46: unknown key 'speed' in a port (expected one of: driver, devargs, iface, pci, queue, "
     "rx_desc, tx_desc, mode, zerocopy, busy_poll)"},
    {"unknown driver",
     {{2, "  in0: { driver: netmap, devargs: \"net_null0\" }"}},
     "2:18: port 'in0': unknown driver 'netmap' (expected dpdk, af_xdp or auto)"},
    {"af_xdp without iface",
     {{2, "  in0: { driver: af_xdp, queue: 1 }"}},
     "2:3: port 'in0' (driver af_xdp) needs 'iface'"},
    {"af_xdp bad iface",
     {{2, "  in0: { driver: af_xdp, iface: \"a/b\" }"}},
     "2:33: 'iface' must be an interface name: 1 to 15 of A-Z a-z 0-9 _ . : -"},
    {"af_xdp bad mode",
     {{2, "  in0: { driver: af_xdp, iface: veth0, mode: turbo }"}},
     "2:46: 'mode' must be one of auto, native, skb"},
    {"af_xdp bad zerocopy",
     {{2, "  in0: { driver: af_xdp, iface: veth0, zerocopy: yes }"}},
     "2:50: 'zerocopy' must be one of auto, on, off"},
    {"af_xdp ring not a power of two",
     {{2, "  in0: { driver: af_xdp, iface: veth0, rx_desc: 1000 }"}},
     "2:49: 'rx_desc' of an af_xdp port sizes an XSK ring: a power of two"},
    {"af_xdp with devargs",
     {{2, "  in0: { driver: af_xdp, iface: veth0, devargs: \"net_null0\" }"}},
     "2:49: 'devargs' is for dpdk ports; driver af_xdp takes 'iface'"},
    {"af_xdp with pci",
     {{2, "  in0: { driver: af_xdp, iface: veth0, pci: \"00:03.0\" }"}},
     "2:45: 'pci' is for driver auto; af_xdp takes 'iface'"},
    {"dpdk with mode",
     {{2, "  in0: { driver: dpdk, devargs: \"net_null0\", mode: skb }"}},
     "2:52: 'mode' is for af_xdp and auto ports; driver dpdk takes 'devargs'"},
    {"auto with iface and pci",
     {{2, "  in0: { driver: auto, iface: veth0, pci: \"00:03.0\" }"}},
     "2:3: port 'in0' (driver auto) needs one of 'iface' or 'pci'"},
    {"auto bad pci",
     {{2, "  in0: { driver: auto, pci: \"00:3.0\" }"}},
     "2:29: 'pci' must be a PCI address, DDDD:BB:DD.F or BB:DD.F (hexadecimal)"},
    {"two ports on one iface",
     {{2, "  in0: { driver: af_xdp, iface: veth0 }"},
      {3, "  out0: { driver: auto, iface: veth0, queue: 1 }"}},
     "3:32: port 'out0' names interface 'veth0', which port 'in0' already uses"},
    {"af_xdp iface ..",
     {{2, "  in0: { driver: af_xdp, iface: \"..\" }"}},
     "2:33: 'iface' must be an interface name: 1 to 15 of A-Z a-z 0-9 _ . : -"},
    {"af_xdp iface of 16 characters",
     {{2, "  in0: { driver: af_xdp, iface: abcdefghijklmnop }"}},
     "2:33: 'iface' must be an interface name: 1 to 15 of A-Z a-z 0-9 _ . : -"},
    {"af_xdp queue 1024",
     {{2, "  in0: { driver: af_xdp, iface: veth0, queue: 1024 }"}},
     "2:47: 'queue' is 1024, expected 0 to 1023"},
    {"af_xdp busy_poll not a bool",
     {{2, "  in0: { driver: af_xdp, iface: veth0, busy_poll: maybe }"}},
     "2:51: 'busy_poll' must be true or false"},
    {"af_xdp tx ring not a power of two",
     {{2, "  in0: { driver: af_xdp, iface: veth0, tx_desc: 768 }"}},
     "2:49: 'tx_desc' of an af_xdp port sizes an XSK ring: a power of two"},
    {"auto ring not a power of two",
     {{2, "  in0: { driver: auto, pci: \"0000:00:04.0\", rx_desc: 100 }"}},
     "2:54: 'rx_desc' of an af_xdp port sizes an XSK ring: a power of two"},
    {"auto without iface or pci",
     {{2, "  in0: { driver: auto, mode: skb }"}},
     "2:3: port 'in0' (driver auto) needs one of 'iface' or 'pci'"},
    {"auto with devargs",
     {{2, "  in0: { driver: auto, iface: veth0, devargs: \"net_null0\" }"}},
     "2:47: 'devargs' is for dpdk ports; driver auto takes 'iface' or 'pci'"},
    {"auto pci not hex",
     {{2, "  in0: { driver: auto, pci: \"0000:00:0g.0\" }"}},
     "2:29: 'pci' must be a PCI address, DDDD:BB:DD.F or BB:DD.F (hexadecimal)"},
    {"dpdk with iface",
     {{2, "  in0: { driver: dpdk, devargs: \"net_null0\", iface: veth0 }"}},
     "2:53: 'iface' is for af_xdp and auto ports; driver dpdk takes 'devargs'"},
    {"dpdk with queue",
     {{2, "  in0: { driver: dpdk, devargs: \"net_null0\", queue: 1 }"}},
     "2:53: 'queue' is for af_xdp and auto ports; driver dpdk takes 'devargs'"},
    {"dpdk with zerocopy",
     {{2, "  in0: { driver: dpdk, devargs: \"net_null0\", zerocopy: on }"}},
     "2:56: 'zerocopy' is for af_xdp and auto ports; driver dpdk takes 'devargs'"},
    {"dpdk with busy_poll",
     {{2, "  in0: { driver: dpdk, devargs: \"net_null0\", busy_poll: true }"}},
     "2:57: 'busy_poll' is for af_xdp and auto ports; driver dpdk takes 'devargs'"},
    {"dpdk with pci",
     {{2, "  in0: { driver: dpdk, devargs: \"net_null0\", pci: \"00:04.0\" }"}},
     "2:51: 'pci' is for af_xdp and auto ports; driver dpdk takes 'devargs'"},
    {"two auto ports on one iface",
     {{2, "  in0: { driver: auto, iface: eth1 }"}, {3, "  out0: { driver: auto, iface: eth1 }"}},
     "3:32: port 'out0' names interface 'eth1', which port 'in0' already uses"},
    {"one PCI device in two spellings",
     {{2, "  in0: { driver: dpdk, devargs: \"00:04.0\" }"},
      {3, "  out0: { driver: dpdk, devargs: \"0000:00:04.0,x=1\" }"}},
     "3:34: port 'out0' names device '0000:00:04.0', which port 'in0' already uses"},
    {"dpdk without devargs",
     {{2, "  in0: { driver: dpdk }"}},
     "2:3: port 'in0' (driver dpdk) needs 'devargs'"},
    {"duplicate devargs",
     {{3, "  out0: { driver: dpdk, devargs: \"net_null0\" }"}},
     "3:34: port 'out0' uses the same devargs as port 'in0'"},
    {"unknown stage type",
     {{7, "    p: { type: parsr }"}},
     "7:16: unknown stage type 'parsr' (known: acl, balance, ..."},
    {"unknown stage key",
     {{7, "    p: { type: parse, depth: 3 }"}},
     "7:23: unknown key 'depth' for stage type parse (expected one of: type, instances)"},
    {"stage missing port",
     {{6, "    rx: { type: port_rx }"}},
     "6:5: stage 'rx' (type port_rx) needs 'port'"},
    {"stage names unknown port",
     {{6, "    rx: { type: port_rx, port: in9 }"}},
     "6:32: 'port' names unknown port 'in9'"},
    {"connector unknown stage",
     {{10, "    - rx -> q -> tx"}},
     "10:13: connector names unknown stage 'q'"},
    {"connector unknown output",
     {{10, "    - rx -> p.bad -> tx"}},
     "10:13: stage 'p' (type parse) has no output port 'bad' (it has: out)"},
    {"duplicate connector",
     {{10, "    - rx -> p -> tx\n    - p -> tx"}},
     "11:7: duplicate connector p.out -> tx (first at line 10:13)"},
    {"output connected twice",
     {{7, "    p: { type: parse }\n    d: { type: drop }"},
      {10, "    - rx -> p -> tx\n    - p -> d"}},
     "12:7: output p.out is already connected to 'tx' (at line 11:13); an output port feeds one "
     "stage"},
    {"source as target",
     {{10, "    - p -> rx"}},
     "10:12: stage 'rx' (type port_rx) is a source and takes no input"},
    {"sink as source",
     {{10, "    - rx -> p\n    - tx -> p"}},
     "11:7: stage 'tx' (type port_tx) has no output ports"},
    {"chain ends with a port",
     {{10, "    - rx -> p -> tx.out"}},
     "10:18: 'tx.out' ends the chain: an output port names where packets go next"},
    {"one-stage connector",
     {{10, "    - rx -> p -> tx\n    - p"}},
     "11:7: connector 'p' needs at least two stages joined by '->'"},
    {"empty stage in chain",
     {{10, "    - rx -> -> tx"}},
     "10:13: empty stage name in connector 'rx -> -> tx'"},
    {"cycle",
     {{7, "    p: { type: parse }\n    q: { type: pass }\n    r: { type: pass }"},
      {10, "    - rx -> p -> tx\n    - q -> r -> q"}},
     "13:12: connector r -> q closes a cycle; the graph must be acyclic"},
    {"stage with no input",
     {{7, "    p: { type: parse }\n    q: { type: pass }"}},
     "8:5: stage 'q' has no input connector"},
    {"stage in no cluster",
     {{12, "  a: [rx]"}, {13, "  b: [tx]"}},
     "7:5: stage 'p' is in no cluster"},
    {"stage in two clusters", {{13, "  b: [tx, p]"}}, "13:11: stage 'p' is already in cluster 'a'"},
    {"cluster names unknown stage",
     {{13, "  b: [tx, zz]"}},
     "13:11: cluster 'b' names unknown stage 'zz'"},
    {"empty cluster", {{13, "  b: [tx]\n  c: []"}}, "14:3: cluster 'c' is empty"},
    {"core outside pool",
     {{16, "  b: { core: 7 }"}},
     "16:14: cluster 'b' is mapped to core 7, which is not in the core pool [0, 1]"},
    {"mapping unknown cluster",
     {{16, "  b: { core: 1 }\n  z: { core: 1 }"}},
     "17:3: mapping names unknown cluster 'z'"},
    {"cluster without mapping", {{16, "  a2: { core: 1 }"}}, "mapping names unknown cluster 'a2'"},
    {"cluster not mapped", {{16, ""}}, "13:3: cluster 'b' has no mapping"},
    {"instances mismatch",
     {{6, "    rx: { type: port_rx, port: in0, instances: 2 }"},
      {7, "    p: { type: parse, instances: 2 }"},
      {8, "    tx: { type: port_tx, port: out0, instances: 3 }"}},
     "10:13: connector p -> tx: 'tx' has 3 instances and 'p' has 2; feed them through a balance "
     "stage or give both the same count"},
    {"balance with instances",
     {{7, "    p: { type: balance, instances: 2 }"}},
     "7:36: stage 'p' (type balance) spreads over the instances of the stage it feeds and cannot "
     "have instances itself"},
    {"instance out of range",
     {{6, "    rx: { type: port_rx, port: in0, instances: 2 }"},
      {7, "    p: { type: parse, instances: 2 }"},
      {8, "    tx: { type: port_tx, port: out0, instances: 2 }"},
      {12, "  a: [rx, p, \"p[2]\"]"}},
     "12:14: stage 'p' has 2 instance(s); [2] is out of range"},
    {"yaml syntax error",
     {{12, "  a: [rx, p"}},
     NULL /* libfyaml's wording; checked for the prefix only */},
    {"duplicate key", {{13, "  b: [tx]\n  a: [tx]"}}, "14:3: duplicate key 'a' (first at line 12)"},
    {"burst not an integer",
     {{18, "  cores: [0, 1]\n  burst: lots"}},
     "19:10: 'burst' must be a decimal integer, got 'lots'"},
    {"burst out of range",
     {{18, "  cores: [0, 1]\n  burst: 1000"}},
     "19:10: 'burst' is 1000, expected 1 to 256"},
    {"ring size not power of two",
     {{18, "  cores: [0, 1]\n  ring_size: 1000"}},
     "19:14: 'ring_size' is 1000, expected a power of two"},
    {"ring_full value",
     {{18, "  cores: [0, 1]\n  ring_full: block"}},
     "19:14: 'ring_full' must be backpressure or drop"},
    {"unused port",
     {{3, "  out0: { driver: dpdk, devargs: \"net_null1\" }\n  spare: { driver: dpdk, devargs: "
	  "\"net_null2\" }"}},
     "4:3: port 'spare' is not used by any port_rx or port_tx stage"},
    {"bad stage name",
     {{7, "    9p: { type: parse }"}},
     "7:5: stage name '9p' must start with a letter or '_' and hold only letters, digits, '_' and "
     "'-'"},
    {"missing graph",
     {{4, "graf:"}},
     "4:1: unknown key 'graf' in the config (expected one of: ports, graph, clusters, mapping, "
     "dataplane)"},
    {"core listed twice", {{18, "  cores: [1, 1]"}}, "18:14: core 1 is listed twice"},
    /* Issue 7, item 4: YAML 1.2 integers, and places for every error. */
    {"hex integer",
     {{18, "  cores: [0, 1]\n  burst: 0x20"}},
     "19:10: 'burst' must be a decimal integer, got '0x20'"},
    {"quoted integer",
     {{18, "  cores: [0, 1]\n  burst: \"32\""}},
     "19:10: 'burst' must be an integer, not a quoted string"},
    {"negative integer",
     {{18, "  cores: [0, 1]\n  burst: -1"}},
     "19:10: 'burst' must be a decimal integer, got '-1'"},
    {"huge integer",
     {{18, "  cores: [0, 1]\n  burst: 99999999999999999999999"}},
     "19:10: 'burst' is 99999999999999999999999, expected 1 to 256"},
    {"value missing before brace",
     {{15, "  a:\n    core: }"}},
     "16:11: YAML syntax error: did not find expected node content (while parsing a block node "
     "at line 16:11)"},
    {"second document",
     {{0, "---\nx: 1"}},
     "19:1: a config holds one YAML document; a second "
     "one starts here"},
    {"alias",
     {{18, "  cores: &c [0, 1]\n  x: *c"}},
     "19:6: YAML aliases are not supported in sluice configs"},
    {"tag",
     {{18, "  cores: !!seq [0, 1]"}},
     "18:10: YAML tags are not supported in sluice configs"},
    /* Item 13: rings too small for a burst, and cycles between clusters. */
    {"ring smaller than two bursts",
     {{18, "  cores: [0, 1]\n  burst: 128\n  ring_size: 128"}},
     "20:14: 'ring_size' 128 is less than twice 'burst' (128): a cluster waits for room for a "
     "whole burst, so set ring_size to at least 256"},
    {"cycle between clusters",
     {{12, "  a: [rx, tx]"}, {13, "  b: [p]"}},
     "10:13: connector p -> tx closes a cycle between clusters (it leads back into cluster 'a'); "
     "rings between clusters must not form a loop, so put these stages in one cluster"},
    /* The devargs allow-list. */
    {"device not allowed",
     {{2, "  in0: { driver: dpdk, devargs: \"net_bonding0,mode=1\" }"}},
     "2:34: port 'in0': virtual device 'net_bonding0' is not allowed (allowed: null, ring, pcap, "
     "tap, tun, memif, af_packet, af_xdp, vhost, virtio_user)"},
    {"neither vdev nor PCI",
     {{2, "  in0: { driver: dpdk, devargs: \"eth_null0\" }"}},
     "2:34: port 'in0': 'eth_null0' is neither an allowed virtual device (net_null0, net_pcap0, "
     "...) nor a PCI address (0000:01:00.0)"},
    {"space in devargs",
     {{2, "  in0: { driver: dpdk, devargs: \"net_null0, size=64\" }"}},
     "2:44: port 'in0': devargs hold a space or control character"},
    {"one device, two ports",
     {{3, "  out0: { driver: dpdk, devargs: \"net_null0,size=64\" }"}},
     "3:34: port 'out0' names device 'net_null0', which port 'in0' already uses"},
    {"file_dirs relative",
     {{18, "  cores: [0, 1]\n  file_dirs: [pcaps]"}},
     "19:15: 'pcaps' must be an absolute path without '.', '..', repeated or trailing '/'"},
    {"file_dirs dot-dot",
     {{18, "  cores: [0, 1]\n  file_dirs: [/srv/x/../../etc]"}},
     "19:15: '/srv/x/../../etc' must be an absolute path without '.', '..', repeated or trailing "
     "'/'"},
};

static char tmpdir[] = "/tmp/sl-test-config-XXXXXX";

static void write_config(const char *path, const struct edit *edits)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; base[i]; i++) {
		const char *line = base[i];
		for (int e = 0; e < 4; e++)
			if (edits[e].text && edits[e].line == i + 1)
				line = edits[e].text;
		if (*line)
			fprintf(f, "%s\n", line);
	}
	for (int e = 0; e < 4; e++)
		if (edits[e].text && edits[e].line == 0)
			fprintf(f, "%s\n", edits[e].text);
	fclose(f);
}

static void test_base_is_valid(void **state)
{
	(void)state;
	char path[256];
	struct sl_config *c = NULL;
	struct sl_err err = {""};
	struct edit none[4] = {{0, NULL}};
	snprintf(path, sizeof(path), "%s/base.yaml", tmpdir);
	write_config(path, none);
	int rc = sl_config_load(path, &c, &err);
	if (rc != 0)
		fail_msg("base config rejected: %s", err.msg);
	assert_int_equal(c->n_stages, 3);
	assert_int_equal(c->n_links, 2);
	assert_int_equal(c->n_clusters, 2);
	assert_int_equal(c->clusters[1].core, 1);
	assert_int_equal(c->ports[0].n_rxq, 1);
	assert_int_equal(c->ports[1].n_txq, 1);
	assert_int_equal(c->dp.burst, 32);
	assert_string_equal(c->dp.name, "sluice");
	sl_config_free(c);
}

static void test_bad_case(void **state)
{
	const struct bad_case *bc = *state;
	char path[256], want[700];
	struct sl_config *c = NULL;
	struct sl_err err = {""};

	snprintf(path, sizeof(path), "%s/case.yaml", tmpdir);
	write_config(path, bc->edits);
	int rc = sl_config_load(path, &c, &err);
	if (rc == 0) {
		sl_config_free(c);
		fail_msg("%s: config was accepted", bc->name);
	}
	assert_null(c);
#ifndef SL_HAVE_AF_XDP
	/* A build without the af_xdp driver refuses an af_xdp port at its
	 * driver, before the checks the case is about. */
	for (unsigned i = 0; i < 4 && bc->edits[i].text; i++)
		if (strstr(bc->edits[i].text, "driver: af_xdp") &&
		    strstr(err.msg, "driver 'af_xdp' is not in this build"))
			return;
#endif
	if (!bc->expect) {
		snprintf(want, sizeof(want), "%s:", path);
		if (strncmp(err.msg, want, strlen(want)) != 0)
			fail_msg("%s: got '%s'", bc->name, err.msg);
		return;
	}
	if (strchr(bc->expect, ':') && bc->expect[0] >= '0' && bc->expect[0] <= '9')
		snprintf(want, sizeof(want), "%s:%s", path, bc->expect);
	else /* location-free expectation: match the message tail */
		snprintf(want, sizeof(want), "%s", bc->expect);
	size_t wl = strlen(want);
	if (wl > 3 && !strcmp(want + wl - 3, "...")) {
		/* A prefix: lists that grow with the build (the stage types). */
		if (strncmp(err.msg, want, wl - 3) != 0)
			fail_msg("%s:\n  want prefix: %s\n  got:  %s", bc->name, want, err.msg);
	} else if (bc->expect[0] >= '0' && bc->expect[0] <= '9') {
		if (strcmp(err.msg, want) != 0)
			fail_msg("%s:\n  want: %s\n  got:  %s", bc->name, want, err.msg);
	} else {
		const char *tail = strstr(err.msg, want);
		if (!tail || strlen(tail) != strlen(want))
			fail_msg("%s:\n  want tail: %s\n  got:  %s", bc->name, want, err.msg);
	}
}

/* The base with edits, which must load. */
static struct sl_config *load_ok(const struct edit *edits)
{
	char path[256];
	struct sl_config *c = NULL;
	struct sl_err err = {""};
	snprintf(path, sizeof(path), "%s/ok.yaml", tmpdir);
	write_config(path, edits);
	if (sl_config_load(path, &c, &err) != 0)
		fail_msg("rejected: %s", err.msg);
	return c;
}

#ifndef SL_HAVE_AF_XDP
/* Without libxdp: af_xdp refused at its driver, auto still loads (it may
 * resolve to dpdk). */
static void test_af_xdp_keys(void **state)
{
	(void)state;
	char path[256];
	struct sl_config *c = NULL;
	struct sl_err err = {""};
	struct edit e[4] = {{2, "  in0: { driver: af_xdp, iface: veth0 }"}};
	snprintf(path, sizeof(path), "%s/case.yaml", tmpdir);
	write_config(path, e);
	assert_int_equal(sl_config_load(path, &c, &err), -1);
	const char *m = strstr(err.msg, "case.yaml:");
	assert_non_null(m);
	assert_string_equal(m, "case.yaml:2:18: port 'in0': driver 'af_xdp' is not in this build "
			       "(it needs libxdp and libbpf: run tools/setup, rebuild)");
	struct edit a[4] = {{3, "  out0: { driver: auto, pci: \"00:04.0\", mode: skb }"}};
	c = load_ok(a);
	assert_string_equal(c->ports[1].driver, "auto");
	assert_int_equal(c->ports[1].xdp_mode, SL_XDP_MODE_SKB);
	sl_config_free(c);
}
#else
static void test_af_xdp_keys(void **state)
{
	(void)state;
	struct edit e[4] = {
	    {2, "  in0: { driver: af_xdp, iface: veth0, queue: 3, mode: native, zerocopy: off, "
		"busy_poll: true, rx_desc: 2048 }"},
	    {3, "  out0: { driver: auto, pci: \"00:04.0\", mode: skb }"}};
	struct sl_config *c = load_ok(e);
	const struct sl_conf_port *a = &c->ports[0], *b = &c->ports[1];
	assert_string_equal(a->driver, "af_xdp");
	assert_string_equal(a->iface, "veth0");
	assert_null(a->devargs);
	assert_int_equal(a->queue, 3);
	assert_int_equal(a->xdp_mode, SL_XDP_MODE_NATIVE);
	assert_int_equal(a->zerocopy, SL_XDP_ZC_OFF);
	assert_true(a->busy_poll);
	assert_int_equal(a->rx_desc, 2048);
	assert_int_equal(a->tx_desc, 1024);
	assert_null(a->auto_why);
	assert_string_equal(b->driver, "auto");
	assert_string_equal(b->pci, "00:04.0");
	assert_null(b->iface);
	assert_int_equal(b->queue, 0);
	assert_int_equal(b->xdp_mode, SL_XDP_MODE_SKB);
	assert_int_equal(b->zerocopy, SL_XDP_ZC_AUTO);
	assert_false(b->busy_poll);
	sl_config_free(c);
}
#endif

/* A small sysfs: 0000:00:04.0 on vfio-pci, 0000:00:05.0 on a kernel
 * driver with interface ens5, and a veth. */
static void fake_sysfs(char *root, size_t len)
{
	static const char *const dirs[] = {"bus",
					   "bus/pci",
					   "bus/pci/devices",
					   "bus/pci/devices/0000:00:04.0",
					   "bus/pci/devices/0000:00:05.0",
					   "bus/pci/devices/0000:00:05.0/net",
					   "bus/pci/devices/0000:00:05.0/net/ens5",
					   "class",
					   "class/net",
					   "class/net/veth0",
					   NULL};
	char p[512];
	snprintf(root, len, "%s/sys", tmpdir);
	if (mkdir(root, 0755) != 0)
		return; /* made by an earlier test */
	for (const char *const *d = dirs; *d; d++) {
		snprintf(p, sizeof(p), "%s/%s", root, *d);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	snprintf(p, sizeof(p), "%s/bus/pci/devices/0000:00:04.0/driver", root);
	assert_int_equal(symlink("../../drivers/vfio-pci", p), 0);
	snprintf(p, sizeof(p), "%s/bus/pci/devices/0000:00:05.0/driver", root);
	assert_int_equal(symlink("../../drivers/ixgbe", p), 0);
	snprintf(p, sizeof(p), "%s/class/net/ens5", root);
	assert_int_equal(symlink("../../bus/pci/devices/0000:00:05.0/net/ens5", p), 0);
}

/* Load the base with edits, resolve auto on the fake sysfs: 0, or -1 with
 * the message (after the file name) in msg. */
static int resolve(const struct edit *edits, struct sl_config **out, char *msg, size_t len)
{
	char root[256];
	struct sl_err err = {""};
	fake_sysfs(root, sizeof(root));
	*out = load_ok(edits);
	int rc = sl_config_resolve_auto_at(*out, root, &err);
	const char *m = strstr(err.msg, "ok.yaml:");
	snprintf(msg, len, "%s", m ? m + strlen("ok.yaml:") : err.msg);
	return rc;
}

static void test_resolve_auto(void **state)
{
	(void)state;
	struct sl_config *c;
	char msg[700];
#ifndef SL_HAVE_AF_XDP
	/* Without libxdp: a choice of af_xdp is refused with its reason, one
	 * of dpdk still made. */
	struct edit n1[4] = {{2, "  in0: { driver: auto, iface: veth0 }"}};
	assert_int_equal(resolve(n1, &c, msg, sizeof(msg)), -1);
	sl_config_free(c);
	assert_string_equal(msg, "2:3: port 'in0' (driver auto): af_xdp chosen: DPDK: veth0 is not "
				 "a PCI device, but this build has no af_xdp driver (it needs "
				 "libxdp and libbpf)");
	struct edit n2[4] = {{3, "  out0: { driver: auto, pci: \"00:04.0\" }"}};
	if (resolve(n2, &c, msg, sizeof(msg)) != 0)
		fail_msg("%s", msg);
	assert_string_equal(c->ports[1].driver, "dpdk");
	assert_string_equal(c->ports[1].devargs, "0000:00:04.0");
	sl_config_free(c);
	return;
#endif
	struct edit e1[4] = {{2, "  in0: { driver: auto, iface: veth0, queue: 2 }"},
			     {3, "  out0: { driver: auto, pci: \"00:04.0\" }"}};
	if (resolve(e1, &c, msg, sizeof(msg)) != 0)
		fail_msg("%s", msg);
	assert_string_equal(c->ports[0].driver, "af_xdp");
	assert_string_equal(c->ports[0].iface, "veth0");
	assert_null(c->ports[0].devargs);
	assert_int_equal(c->ports[0].queue, 2);
	assert_string_equal(c->ports[0].auto_why, "af_xdp chosen: DPDK: veth0 is not a PCI device");
	assert_string_equal(c->ports[1].driver, "dpdk");
	assert_string_equal(c->ports[1].devargs, "0000:00:04.0");
	assert_string_equal(c->ports[1].auto_why, "dpdk chosen: 0000:00:04.0 is bound to vfio-pci");
	sl_config_free(c);

	/* A PCI function the kernel holds: AF_XDP on its interface. */
	struct edit e2[4] = {{3, "  out0: { driver: auto, pci: \"0000:00:05.0\" }"}};
	if (resolve(e2, &c, msg, sizeof(msg)) != 0)
		fail_msg("%s", msg);
	assert_string_equal(c->ports[1].driver, "af_xdp");
	assert_string_equal(c->ports[1].iface, "ens5");
	assert_string_equal(c->ports[0].driver, "dpdk"); /* named: untouched */
	assert_null(c->ports[0].auto_why);
	sl_config_free(c);
}

static void test_resolve_auto_refused(void **state)
{
	(void)state;
	static const struct {
		struct edit e[4];
		const char *want;
	} cases[] = {
	    {{{2, "  in0: { driver: auto, iface: nosuch0 }"}},
	     "2:3: port 'in0' (driver auto): neither driver can run it: DPDK: no device named "
	     "nosuch0; AF_XDP: no interface named nosuch0"},
	    {{{3, "  out0: { driver: auto, pci: \"0000:00:09.0\" }"}},
	     "3:3: port 'out0' (driver auto): neither driver can run it: DPDK: no PCI device "
	     "0000:00:09.0; AF_XDP: so no interface of it"},
	    /* Two names for one interface or one device, seen only once
	     * auto is resolved. */
	    {{{2, "  in0: { driver: af_xdp, iface: ens5 }"},
	      {3, "  out0: { driver: auto, pci: \"0000:00:05.0\" }"}},
	     "3:3: port 'out0' (driver auto) resolves to interface 'ens5', which port 'in0' "
	     "uses too"},
	    {{{2, "  in0: { driver: auto, iface: ens5 }"},
	      {3, "  out0: { driver: auto, pci: \"00:05.0\" }"}},
	     "2:3: port 'in0' (driver auto) resolves to interface 'ens5', which port 'out0' "
	     "uses too"},
	    {{{2, "  in0: { driver: dpdk, devargs: \"0000:00:04.0\" }"},
	      {3, "  out0: { driver: auto, pci: \"00:04.0\" }"}},
	     "3:3: port 'out0' (driver auto) resolves to device '0000:00:04.0', which port 'in0' "
	     "uses too"},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_config *c;
		char msg[700];
#ifndef SL_HAVE_AF_XDP
		if (i == 2 || i == 3) /* they need an af_xdp port or choice */
			continue;
#endif
		int rc = resolve(cases[i].e, &c, msg, sizeof(msg));
		sl_config_free(c);
		if (rc == 0)
			fail_msg("case %u resolved", i);
		if (strcmp(msg, cases[i].want) != 0)
			fail_msg("case %u:\n  want: %s\n  got:  %s", i, cases[i].want, msg);
	}
}

static void test_missing_file(void **state)
{
	(void)state;
	struct sl_config *c = NULL;
	struct sl_err err;
	assert_int_equal(sl_config_load("/nonexistent/sluice.yaml", &c, &err), -1);
	assert_string_equal(err.msg,
			    "/nonexistent/sluice.yaml:1:1: cannot open: No such file or directory");
}

static void test_examples_valid(void **state)
{
	(void)state;
	static const char *const ex[] = {"passthrough.yaml", "two-cluster.yaml",
					 "balance-fanout.yaml"};
	for (unsigned i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		char path[512];
		struct sl_config *c = NULL;
		struct sl_err err;
		snprintf(path, sizeof(path), "%s/config/examples/%s", SOURCE_ROOT, ex[i]);
		if (sl_config_load(path, &c, &err) != 0)
			fail_msg("%s rejected: %s", ex[i], err.msg);
		sl_config_free(c);
	}
}

static void test_cpu_list(void **state)
{
	(void)state;
	/* The default pool comes from the kernel's lists through hwloc's
	 * parser: some cores, each once, in order, within range. */
	unsigned cores[SL_MAX_CPUS];
	unsigned n = sl_cpu_default_pool(cores, SL_MAX_CPUS);
	assert_true(n >= 1);
	for (unsigned i = 1; i < n; i++)
		assert_true(cores[i] > cores[i - 1]);
	assert_true(cores[n - 1] < SL_MAX_CPUS);
}

int main(void)
{
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct CMUnitTest tests[N + 7];
	if (!mkdtemp(tmpdir))
		return 1;
	tests[0] = (struct CMUnitTest)cmocka_unit_test(test_base_is_valid);
	tests[1] = (struct CMUnitTest)cmocka_unit_test(test_missing_file);
	tests[2] = (struct CMUnitTest)cmocka_unit_test(test_examples_valid);
	tests[3] = (struct CMUnitTest)cmocka_unit_test(test_cpu_list);
	tests[4] = (struct CMUnitTest)cmocka_unit_test(test_af_xdp_keys);
	tests[5] = (struct CMUnitTest)cmocka_unit_test(test_resolve_auto);
	tests[6] = (struct CMUnitTest)cmocka_unit_test(test_resolve_auto_refused);
	for (int i = 0; i < N; i++)
		tests[i + 7] = (struct CMUnitTest){cases[i].name, test_bad_case, NULL, NULL,
						   (void *)&cases[i]};
	int failed = _cmocka_run_group_tests("config", tests, N + 7, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed ? 1 : 0;
}
