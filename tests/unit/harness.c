/* harness.c: builds one stage instance outside the dataplane for unit tests
 * (see harness.h): the loader parses its YAML, the type checks it, init
 * runs with a plain file opener, and each output feeds a keeping sink. */
#include "tests/unit/harness.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <rte_eal.h>
#include <rte_malloc.h>

#include "config/devargs.h"

struct rte_mempool *sl_h_pool;

/* EAL makes a runtime directory (its sockets) even with --no-shconf and
 * leaves it behind: one per test run would pile up under /var/run/dpdk. */
static char eal_rundir[PATH_MAX];

static void remove_eal_rundir(void)
{
	DIR *d = opendir(eal_rundir);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(eal_rundir);
}

void sl_h_eal(const char *prefix, unsigned n_mbufs)
{
	char fp[64];
	snprintf(fp, sizeof(fp), "%s_%d", prefix, (int)getpid());
	char *argv[] = {"harness", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			"--file-prefix", fp, "--lcores", "0@0", "--log-level", "lib.eal:error",
			/* capture's pcapng interface hangs off an ethdev port */
			"--vdev", "net_null_harness0"};
	if (rte_eal_init((int)RTE_DIM(argv), argv) < 0) {
		fprintf(stderr, "harness: EAL init failed\n");
		exit(1);
	}
	snprintf(eal_rundir, sizeof(eal_rundir), "%s", rte_eal_get_runtime_dir());
	atexit(remove_eal_rundir);
	sl_h_pool = rte_pktmbuf_pool_create("harness", n_mbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					    SOCKET_ID_ANY);
	if (!sl_h_pool) {
		fprintf(stderr, "harness: no mbuf pool\n");
		exit(1);
	}
}

static void keep_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct sl_harness *h = st->state;
	unsigned i = (unsigned)(st - h->sinks);
	for (uint16_t k = 0; k < n; k++) {
		if (h->n_got[i] < SL_H_KEEP_MAX)
			h->got[i][h->n_got[i]++] = pkts[k];
		else
			rte_pktmbuf_free(pkts[k]);
	}
}

static const struct sl_stage_type keep_type = {.name = "keep", .process = keep_process};

static int plain_open(const struct sl_stage_env *env, const char *path, bool write, char *err,
		      size_t len)
{
	(void)env;
	return sl_path_open(path, write, false, NULL, 0, err, len);
}

int sl_h_init(struct sl_harness *h, const char *yaml, const char *file_dir, uint16_t n_outputs,
	      char *err, size_t len)
{
	memset(h, 0, sizeof(*h));
	char name[512];
	snprintf(name, sizeof(name), "%s/stage.yaml", file_dir ? file_dir : ".");
	struct sl_err e = {0};
	if (sl_config_load_stage(yaml, strlen(yaml), name, NULL, &h->cs, &e) < 0) {
		snprintf(err, len, "%s", e.msg);
		return -1;
	}
	const struct sl_stage_type *t = h->cs.type;
	h->st.type = t;
	h->st.conf = h->cs.conf;
	h->st.cnt = &h->cnt;
	h->st.n_outputs =
	    n_outputs ? n_outputs : (h->cs.out_names ? h->cs.n_out_names : t->n_outputs);
	snprintf(h->st.name, sizeof(h->st.name), "under_test");
	if (t->state_size && !(h->st.state = rte_zmalloc("h_state", t->state_size, 64))) {
		snprintf(err, len, "no memory for state");
		return -1;
	}
	h->st.scratch = calloc((size_t)(h->st.n_outputs + 1) * SL_BURST_MAX, sizeof(void *));
	for (unsigned i = 0; i < h->st.n_outputs; i++) {
		h->got[i] = calloc(SL_H_KEEP_MAX, sizeof(struct rte_mbuf *));
		h->sinks[i].type = &keep_type;
		h->sinks[i].cnt = &h->sink_cnt[i];
		h->sinks[i].state = h;
		h->st.out[i] = (struct sl_output){SL_OUT_STAGE, &h->sinks[i], NULL};
	}
	if (h->cs.n_aux) {
		h->aux = calloc(h->cs.n_aux, sizeof(uint64_t));
		h->aux_names = calloc(h->cs.n_aux, SL_LABEL_MAX);
		h->st.aux = h->aux;
		h->st.n_aux = h->cs.n_aux;
	}
	if (t->init) {
		struct sl_stage_env env = {.socket = SOCKET_ID_ANY,
					   .tx_retries = 1,
					   .open_file = plain_open,
					   .aux_names = h->aux_names};
		char msg[512] = "";
		if (t->init(&h->st, &env, msg, sizeof(msg)) < 0) {
			snprintf(err, len, "init: %s", msg);
			return -1;
		}
	}
	return 0;
}

void sl_h_clear(struct sl_harness *h)
{
	for (unsigned i = 0; i < SL_STAGE_MAX_OUTPUTS; i++) {
		for (unsigned k = 0; k < h->n_got[i]; k++)
			rte_pktmbuf_free(h->got[i][k]);
		h->n_got[i] = 0;
	}
}

void sl_h_fini(struct sl_harness *h)
{
	if (h->st.type && h->st.type->fini)
		h->st.type->fini(&h->st);
	sl_h_clear(h);
	for (unsigned i = 0; i < SL_STAGE_MAX_OUTPUTS; i++)
		free(h->got[i]);
	free(h->st.scratch);
	rte_free(h->st.state);
	free(h->aux);
	free(h->aux_names);
	sl_config_stage_free(&h->cs);
	memset(h, 0, sizeof(*h));
}

static void ext_free(void *addr, void *opaque)
{
	free(addr);
	free(opaque);
}

struct rte_mbuf *sl_h_mbuf(const uint8_t *frame, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(sl_h_pool);
	uint8_t *buf = malloc(len ? len : 1);
	struct rte_mbuf_ext_shared_info *sh = calloc(1, sizeof(*sh));
	if (!m || !buf || !sh) {
		fprintf(stderr, "harness: out of mbufs or memory\n");
		exit(1);
	}
	if (len)
		memcpy(buf, frame, len);
	sh->free_cb = ext_free;
	sh->fcb_opaque = sh;
	rte_mbuf_ext_refcnt_set(sh, 1);
	rte_pktmbuf_attach_extbuf(m, buf, 0, len, sh);
	m->data_off = 0;
	m->data_len = len;
	m->pkt_len = len;
	return m;
}

struct rte_mbuf *sl_h_chain(const uint8_t *frame, uint16_t len, uint16_t cut)
{
	if (cut > len)
		cut = len;
	struct rte_mbuf *a = sl_h_mbuf(frame, cut);
	struct rte_mbuf *b = sl_h_mbuf(frame + cut, (uint16_t)(len - cut));
	a->next = b;
	a->nb_segs = 2;
	a->pkt_len = len;
	return a;
}

void sl_h_run(struct sl_harness *h, struct rte_mbuf **pkts, unsigned n)
{
	while (n) {
		uint16_t b = (uint16_t)(n > SL_BURST_MAX ? SL_BURST_MAX : n);
		sl_stage_call(&h->st, pkts, b);
		pkts += b;
		n -= b;
	}
}

int sl_h_drop(const struct sl_harness *h, const char *name)
{
	for (unsigned i = 0; i < h->st.type->n_drops; i++)
		if (!strcmp(h->st.type->drops[i], name))
			return (int)i + 1;
	return -1;
}

int sl_h_output(const struct sl_harness *h, const char *name)
{
	for (unsigned i = 0; i < h->st.n_outputs; i++) {
		char nb[SL_LABEL_MAX];
		if (!strcmp(sl_conf_stage_output_name(&h->cs, i, nb, sizeof(nb)), name))
			return (int)i;
	}
	return -1;
}
