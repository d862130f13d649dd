/* reload.c: replaces the running graph, or leaves it running. Everything the
 * new graph can get ready while the old one runs is made first: the config
 * is validated, an extra mbuf pool is created if the new graph needs more
 * mbufs than the dataplane has, its stats segment is laid out beside the
 * live one, and the devices it adds are probed and started (a device whose
 * devargs changed gets a new, derived name), and its connector rings are
 * created. Only then do sources stop, the
 * rings drain into the old graph's outputs, workers are parked on empty
 * cluster lists (RCU), and the new graph is built, taking over unchanged
 * ports, stage state and counters. Any failure, before or after the stop,
 * removes only what this load made, hands the old graph back what the build
 * took, and restarts it: a graph load never ends the dataplane. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <urcu/urcu-qsbr.h>

#include "dataplane/dp.h"
#include "dataplane/worker.h"

static bool same_pool(const struct sl_config *a, const struct sl_config *b)
{
	if (a->dp.n_cores != b->dp.n_cores)
		return false;
	for (unsigned i = 0; i < a->dp.n_cores; i++)
		if (a->dp.cores[i] != b->dp.cores[i])
			return false;
	return true;
}

static uint64_t now_ns(void)
{
	return rte_get_timer_cycles() * 1000000000ull / rte_get_timer_hz();
}

/* Undo a load that failed before the old graph stopped. */
static void discard(struct sl_dp *dp, struct sl_runtime *nrt, struct rte_mempool *extra)
{
	sl_runtime_free(nrt, true); /* removes the devices it probed */
	if (nrt->stats)
		sl_stats_discard(nrt->stats, nrt->cfg->dp.name);
	rte_mempool_free(extra);
	sl_config_free((struct sl_config *)nrt->cfg);
	free(nrt);
	(void)dp;
}

static int load_config(struct sl_dp *dp, struct sl_config *nc, const char *text, size_t text_len,
		       json_t *result, const char **code, char *err, size_t len);

int sl_dp_graph_load(struct sl_dp *dp, const char *text, size_t text_len, const char *name,
		     json_t *result, const char **code, char *err, size_t len)
{
	struct sl_config *nc = NULL;
	struct sl_err ce;
	int pinned[SL_DP_MAX_PINNED];
	unsigned n_pinned = 0;

	if (sl_config_load_buffer(text, text_len, name, dp->untrusted_loads ? &dp->policy : NULL,
				  &nc, &ce) < 0) {
		*code = "invalid_config";
		snprintf(err, len, "%s", ce.msg);
		return -1;
	}
	if (sl_config_resolve_auto(nc, &ce) < 0) {
		*code = "invalid_config";
		snprintf(err, len, "%s", ce.msg);
		sl_config_free(nc);
		return -1;
	}
	/* A client's config: its files are checked and opened here, where
	 * they are used, and the PMDs get the fds (sl_devargs_pin). */
	if (dp->untrusted_loads && sl_dp_pin(dp, nc, pinned, &n_pinned, err, len) < 0) {
		*code = "invalid_config";
		sl_config_free(nc);
		return -1;
	}
	int rc = load_config(dp, nc, text, text_len, result, code, err, len);
	sl_dp_unpin(pinned, &n_pinned);
	return rc;
}

/* The load proper; takes nc over. */
static int load_config(struct sl_dp *dp, struct sl_config *nc, const char *text, size_t text_len,
		       json_t *result, const char **code, char *err, size_t len)
{
	static unsigned generation;

	if (strcmp(nc->dp.name, dp->cfg->dp.name) != 0 || !same_pool(nc, dp->cfg)) {
		*code = "needs_restart";
		snprintf(err, len,
			 "dataplane.name and dataplane.cores fix the EAL set-up and cannot change "
			 "in a graph load; restart the dataplane with the new config");
		sl_config_free(nc);
		return -1;
	}
	unsigned need = sl_dp_mbufs_needed(nc, dp->n_lcores, err, len);
	if (need == 0) {
		*code = "invalid_config";
		sl_config_free(nc);
		return -1;
	}
	generation++;

	struct sl_runtime *old = dp->rt;
	struct sl_runtime *nrt = calloc(1, sizeof(*nrt));
	if (!nrt) {
		*code = "load_failed";
		snprintf(err, len, "out of memory");
		sl_config_free(nc);
		return -1;
	}
	nrt->cfg = nc;
	nrt->file_policy = dp->untrusted_loads ? &dp->policy : NULL;
	nrt->mp = dp->mp;
	nrt->lcores = dp->lcores;
	nrt->n_lcores = dp->n_lcores;

	/* More mbufs than the dataplane has: a pool for the difference, which
	 * the ports this graph opens anew take their buffers from. */
	struct rte_mempool *extra = NULL;
	if (need > dp->mbufs_total) {
		char pname[RTE_MEMPOOL_NAMESIZE];
		unsigned more = (unsigned)(need - dp->mbufs_total);
		snprintf(pname, sizeof(pname), "sl_mbufs_g%u", generation);
		if (dp->n_extra_mp == RTE_DIM(dp->extra_mp) ||
		    !(extra = rte_pktmbuf_pool_create(
			  pname, more, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, dp->lcores[0].socket))) {
			*code = "load_failed";
			snprintf(
			    err, len,
			    "the new graph needs %u mbufs, the dataplane has %llu, and a pool of "
			    "%u more cannot be created: %s (restart the dataplane with the new "
			    "config, or lower dataplane.ring_size / port descriptors)",
			    need, (unsigned long long)dp->mbufs_total, more,
			    rte_strerror(rte_errno));
			discard(dp, nrt, NULL);
			return -1;
		}
		nrt->mp = extra;
	}
	nrt->stats = sl_dp_stats_create(dp, nc, true, err, len);
	if (!nrt->stats) {
		*code = "load_failed";
		discard(dp, nrt, extra);
		return -1;
	}
	if (sl_runtime_prepare_ports(nrt, old, generation, err, len) < 0) {
		*code = "invalid_config";
		discard(dp, nrt, extra);
		return -1;
	}
	if (sl_runtime_prepare_rings(nrt, err, len) < 0) {
		*code = "load_failed";
		discard(dp, nrt, extra);
		return -1;
	}

	uint64_t t0 = now_ns();
	sl_dp_state = SL_DP_DRAINING;
	old->stats->state = SL_DP_DRAINING;
	if (sl_workers_drain(old, 5000) < 0) {
		sl_dp_state = SL_DP_RUNNING;
		old->stats->state = SL_DP_RUNNING;
		*code = "busy";
		snprintf(err, len, "the old graph did not drain within 5 s; it keeps running");
		discard(dp, nrt, extra);
		return -1;
	}
	uint64_t t_drained = now_ns();

	/* Park every worker on an empty list; after the grace period none of
	 * them can be inside the old graph. The old lists are kept until the
	 * new graph runs: a failed build gives them back. */
	struct sl_core_work *parked[SL_MAX_LCORES], *prev[SL_MAX_LCORES];
	static struct sl_core_work empty; /* n = 0: what a worker parks on */
	for (unsigned l = 0; l < dp->n_lcores; l++) {
		parked[l] = &empty;
		prev[l] = dp->lcores[l].work;
		rcu_assign_pointer(dp->lcores[l].work, parked[l]);
	}
	urcu_qsbr_synchronize_rcu();

	sl_runtime_update_port_stats(old);
	int rc = sl_runtime_build(nrt, old, err, len);
	if (rc == 0 && sl_stats_install(nc->dp.name, err, len) < 0)
		rc = -1;
	if (rc < 0) {
		/* Hand the old graph back what the build took, and run it. */
		sl_runtime_rollback(nrt, old);
		sl_stats_discard(nrt->stats, nc->dp.name);
		for (unsigned l = 0; l < dp->n_lcores; l++)
			rcu_assign_pointer(dp->lcores[l].work, prev[l]);
		sl_dp_state = SL_DP_RUNNING;
		old->stats->state = SL_DP_RUNNING;
		urcu_qsbr_synchronize_rcu();
		rte_mempool_free(extra);
		sl_config_free(nc);
		free(nrt);
		*code = "load_failed";
		fprintf(stderr, "sluice-dp: graph load failed, the old graph runs on: %s\n", err);
		return -1;
	}
	sl_runtime_publish(nrt);
	sl_stats_publish(nrt->stats);
	nrt->stats->state = SL_DP_RUNNING;
	dp->rt = nrt;
	sl_dp_pool_stats(dp, false);
	sl_dp_state = SL_DP_RUNNING;
	uint64_t t1 = now_ns();

	urcu_qsbr_synchronize_rcu(); /* workers may still read the parked lists */
	for (unsigned l = 0; l < dp->n_lcores; l++)
		rte_free(prev[l]);
	if (extra) {
		dp->extra_mp[dp->n_extra_mp++] = extra;
		dp->mbufs_total += rte_mempool_avail_count(extra) + rte_mempool_in_use_count(extra);
	}
	struct sl_stats_hdr *old_stats = old->stats;
	struct sl_config *old_cfg = dp->cfg;
	sl_runtime_free(old, true);
	free(old);
	sl_stats_retire(old_stats);
	sl_config_free(old_cfg);
	dp->cfg = nc;
	char *copy = malloc(text_len + 1);
	if (copy) {
		memcpy(copy, text, text_len);
		copy[text_len] = '\0';
		free(dp->cfg_text);
		dp->cfg_text = copy;
		dp->cfg_text_len = text_len;
	}
	dp->graph_loads++;

	json_object_set_new(result, "pause_us", json_real((double)(t1 - t0) / 1000.0));
	json_object_set_new(result, "drain_us", json_real((double)(t_drained - t0) / 1000.0));
	json_object_set_new(result, "kept_instances", json_integer(sl_runtime_kept(nrt)));
	json_object_set_new(result, "instances", json_integer(sl_runtime_count_instances(nc)));
	json_object_set_new(result, "config", json_string(nc->file));
	return 0;
}
