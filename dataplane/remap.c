/* remap.c: moves a cluster to another core while traffic flows. The cluster
 * leaves the old core's list first; only after an RCU grace period (every
 * worker has passed a quiescent point, so the old core is certainly out of
 * the cluster) does it join the new core's list. A cluster therefore never
 * runs on two cores at once, which its SP/SC rings and unlocked state need;
 * its input rings buffer meanwhile. */
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <urcu/urcu-qsbr.h>

#include "dataplane/runtime.h"

/* A copy of w without cl (add == false) or with cl appended (add == true). */
static struct sl_core_work *work_edit(const struct sl_core_work *w, struct sl_cluster *cl, bool add,
				      int socket)
{
	unsigned n = w ? w->n : 0;
	struct sl_core_work *nw = rte_zmalloc_socket(
	    "sl_work", sizeof(*nw) + (n + 1) * sizeof(nw->c[0]), RTE_CACHE_LINE_SIZE, socket);
	if (!nw)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (w->c[i] != cl)
			nw->c[nw->n++] = w->c[i];
	if (add)
		nw->c[nw->n++] = cl;
	return nw;
}

int sl_runtime_move_cluster(struct sl_runtime *rt, const char *name, int core, uint64_t *pause_ns,
			    const char **code, char *err, size_t len)
{
	struct sl_cluster *cl = NULL;
	for (unsigned i = 0; i < rt->n_clusters && !cl; i++)
		if (!strcmp(rt->clusters[i].name, name))
			cl = &rt->clusters[i];
	*pause_ns = 0;
	if (!cl) {
		*code = "not_found";
		snprintf(err, len, "no cluster named '%s'", name);
		return -1;
	}
	struct sl_lcore *to = sl_runtime_lcore(rt, core);
	if (!to) {
		char pool[256] = "";
		for (unsigned i = 0; i < rt->n_lcores; i++)
			snprintf(pool + strlen(pool), sizeof(pool) - strlen(pool), "%s%u",
				 i ? ", " : "", rt->lcores[i].cpu);
		*code = "out_of_pool";
		snprintf(err, len, "core %d is not in the core pool [%s]", core, pool);
		return -1;
	}
	struct sl_lcore *from = sl_runtime_lcore(rt, cl->core);
	if (from == to)
		return 0;
	struct sl_core_work *old_from = from->work, *old_to = to->work;
	struct sl_core_work *new_from = work_edit(old_from, cl, false, from->socket);
	struct sl_core_work *new_to = work_edit(old_to, cl, true, to->socket);
	if (!new_from || !new_to) {
		rte_free(new_from);
		rte_free(new_to);
		*code = "internal";
		snprintf(err, len, "out of hugepage memory");
		return -1;
	}
	uint64_t t0 = rte_get_timer_cycles();
	rcu_assign_pointer(from->work, new_from);
	urcu_qsbr_synchronize_rcu();
	rcu_assign_pointer(to->work, new_to);
	uint64_t t1 = rte_get_timer_cycles();
	*pause_ns = (t1 - t0) * 1000000000ull / rte_get_timer_hz();

	cl->core = core;
	struct sl_stats_cluster *sc = &sl_stats_clusters(rt->stats)[cl->idx];
	sc->core = core;
	sc->moves++;
	/* The replaced lists may still be read by a worker that has not yet
	 * passed a quiescent point since the second swap. */
	urcu_qsbr_synchronize_rcu();
	rte_free(old_from);
	rte_free(old_to);
	return 0;
}
