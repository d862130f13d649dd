/* reload.c: replaces the running graph. The new config is validated and its
 * new devices probed while the old graph still runs; only then do sources
 * stop, the rings drain into the old graph's outputs, workers are parked on
 * empty cluster lists (RCU), the new graph is built (taking over unchanged
 * ports, stage state and counters), and workers get the new lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
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

static bool port_known(const struct sl_runtime *rt, const struct sl_conf_port *c)
{
	for (unsigned i = 0; i < rt->n_ports; i++)
		if (!strcmp(rt->ports[i].conf->driver, c->driver) &&
		    !strcmp(rt->ports[i].conf->devargs, c->devargs))
			return true;
	return false;
}

/* Probe the devices the new graph adds, before anything stops. */
static int probe_new_ports(struct sl_dp *dp, const struct sl_config *nc, char *err, size_t len)
{
	for (unsigned i = 0; i < nc->n_ports; i++) {
		const struct sl_conf_port *c = &nc->ports[i];
		if (port_known(dp->rt, c))
			continue;
		const struct sl_port_driver *drv = sl_port_driver_find(c->driver);
		if (!drv || drv->probe(c, err, len) < 0) {
			/* Take back what this load added; the old graph runs on. */
			for (unsigned j = 0; j < i; j++) {
				if (port_known(dp->rt, &nc->ports[j]))
					continue;
				struct sl_port p = {.drv = sl_port_driver_find(nc->ports[j].driver),
						    .conf = &nc->ports[j]};
				p.drv->remove(&p);
			}
			return -1;
		}
	}
	return 0;
}

static uint64_t now_ns(void)
{
	return rte_get_timer_cycles() * 1000000000ull / rte_get_timer_hz();
}

int sl_dp_graph_load(struct sl_dp *dp, const char *text, size_t text_len, const char *name,
		     json_t *result, const char **code, char *err, size_t len)
{
	struct sl_config *nc = NULL;
	struct sl_err ce;

	if (sl_config_load_buffer(text, text_len, name, NULL, &nc, &ce) < 0) {
		*code = "invalid_config";
		snprintf(err, len, "%s", ce.msg);
		return -1;
	}
	if (strcmp(nc->dp.name, dp->cfg->dp.name) != 0 || !same_pool(nc, dp->cfg)) {
		*code = "needs_restart";
		snprintf(err, len,
			 "dataplane.name and dataplane.cores fix the EAL set-up and cannot change "
			 "in a graph load; restart the dataplane with the new config");
		sl_config_free(nc);
		return -1;
	}
	if (probe_new_ports(dp, nc, err, len) < 0) {
		*code = "invalid_config";
		sl_config_free(nc);
		return -1;
	}

	struct sl_runtime *old = dp->rt;
	uint64_t t0 = now_ns();
	sl_dp_state = SL_DP_DRAINING;
	old->stats->state = SL_DP_DRAINING;
	if (sl_workers_drain(old, 5000) < 0) {
		sl_dp_state = SL_DP_RUNNING;
		old->stats->state = SL_DP_RUNNING;
		*code = "busy";
		snprintf(err, len, "the old graph did not drain within 5 s; it keeps running");
		sl_config_free(nc);
		return -1;
	}
	uint64_t t_drained = now_ns();

	/* Park every worker on an empty list; after the grace period none of
	 * them can be inside the old graph. */
	struct sl_core_work *parked[SL_MAX_LCORES], *prev[SL_MAX_LCORES];
	for (unsigned l = 0; l < dp->n_lcores; l++) {
		parked[l] =
		    rte_zmalloc("sl_work", sizeof(struct sl_core_work), RTE_CACHE_LINE_SIZE);
		prev[l] = dp->lcores[l].work;
		rcu_assign_pointer(dp->lcores[l].work, parked[l]);
	}
	urcu_qsbr_synchronize_rcu();
	for (unsigned l = 0; l < dp->n_lcores; l++)
		rte_free(prev[l]);

	struct sl_runtime *nrt = calloc(1, sizeof(*nrt));
	nrt->cfg = nc;
	nrt->mp = dp->mp;
	nrt->lcores = dp->lcores;
	nrt->n_lcores = dp->n_lcores;
	sl_runtime_update_port_stats(old);
	nrt->stats = sl_dp_stats_create(dp, nc, err, len);
	if (!nrt->stats || sl_runtime_build(nrt, old, err, len) < 0) {
		/* The old graph is partly taken apart: crash, and let the
		 * supervisor restart the dataplane with the last good config. */
		fprintf(stderr, "sluice-dp: fatal: graph load failed half-way: %s\n", err);
		_exit(70);
	}
	sl_stats_publish(nrt->stats);
	nrt->stats->state = SL_DP_RUNNING;
	dp->rt = nrt;
	sl_dp_state = SL_DP_RUNNING;
	uint64_t t1 = now_ns();

	urcu_qsbr_synchronize_rcu(); /* workers may still read the parked lists */
	for (unsigned l = 0; l < dp->n_lcores; l++)
		rte_free(parked[l]);
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
