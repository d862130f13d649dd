/* pin.c: turns the core pool and mapping into EAL lcores, using hwloc for
 * the topology (which CPUs exist and are allowed, and their NUMA nodes). */
#include "dataplane/pin.h"

#include "config/cpus.h"

#include <stdio.h>
#include <string.h>

#include <hwloc.h>

static int numa_of(hwloc_obj_t pu)
{
	if (!pu->nodeset || hwloc_bitmap_iszero(pu->nodeset))
		return 0;
	return hwloc_bitmap_first(pu->nodeset);
}

int sl_pin_plan(const struct sl_config *cfg, struct sl_runtime *rt, char *lcores_arg,
		size_t arg_len, char *err, size_t len)
{
	hwloc_topology_t topo;
	int rc = -1;

	if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
		snprintf(err, len, "cannot read the CPU topology (hwloc)");
		return -1;
	}
	if (cfg->dp.n_cores == 0 || cfg->dp.n_cores >= SL_MAX_LCORES) {
		snprintf(err, len, "the core pool must hold 1 to %d cores", SL_MAX_LCORES - 1);
		goto out;
	}
	rt->n_lcores = cfg->dp.n_cores;
	for (unsigned i = 0; i < cfg->dp.n_cores; i++) {
		unsigned cpu = cfg->dp.cores[i];
		hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(topo, cpu);
		if (!pu) {
			const struct sl_loc *loc = &cfg->dp.loc;
			if (cfg->dp.cores_given)
				snprintf(err, len,
					 "%s:%d:%d: core %u of 'dataplane.cores' does not exist or "
					 "is not allowed to this process",
					 loc->file, loc->line, loc->col, cpu);
			else
				snprintf(err, len, "core %u does not exist", cpu);
			goto out;
		}
		rt->lcores[i].cpu = cpu;
		rt->lcores[i].lcore_id = i + 1;
		rt->lcores[i].socket = numa_of(pu);
	}
	for (unsigned c = 0; c < cfg->n_clusters; c++) {
		unsigned cpu = (unsigned)cfg->clusters[c].core;
		if (!sl_cpu_is_isolated(cpu))
			fprintf(stderr,
				"sluice-dp: warning: %s:%d:%d: cluster '%s' is pinned to core %u, "
				"which is not isolated (isolcpus); other tasks may share it\n",
				cfg->clusters[c].map_loc.file, cfg->clusters[c].map_loc.line,
				cfg->clusters[c].map_loc.col, cfg->clusters[c].name, cpu);
	}

	/* The management thread takes the allowed CPUs outside the pool; if
	 * the pool covers them all it shares them, and says so. */
	hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(topo);
	hwloc_bitmap_t mgmt = hwloc_bitmap_dup(allowed);
	for (unsigned i = 0; i < cfg->dp.n_cores; i++)
		hwloc_bitmap_clr(mgmt, cfg->dp.cores[i]);
	if (hwloc_bitmap_iszero(mgmt)) {
		hwloc_bitmap_copy(mgmt, allowed);
		fprintf(stderr,
			"sluice-dp: note: the core pool covers every CPU; the management thread "
			"shares them with the workers\n");
	}
	size_t o = (size_t)snprintf(lcores_arg, arg_len, "0@(");
	int cpu, first = 1;
	hwloc_bitmap_foreach_begin(cpu, mgmt)
	{
		if (o < arg_len)
			o += (size_t)snprintf(lcores_arg + o, arg_len - o, "%s%d", first ? "" : ",",
					      cpu);
		first = 0;
	}
	hwloc_bitmap_foreach_end();
	hwloc_bitmap_free(mgmt);
	if (o < arg_len)
		o += (size_t)snprintf(lcores_arg + o, arg_len - o, ")");
	for (unsigned i = 0; i < rt->n_lcores && o < arg_len; i++)
		o += (size_t)snprintf(lcores_arg + o, arg_len - o, ",%u@%u", rt->lcores[i].lcore_id,
				      rt->lcores[i].cpu);
	if (o >= arg_len) {
		snprintf(err, len, "core pool too large for the EAL lcore map");
		goto out;
	}
	rc = 0;
out:
	hwloc_topology_destroy(topo);
	return rc;
}

/* The pool core on NUMA node `node` that runs the fewest clusters, or -1. */
static int best_core_on(const struct sl_runtime *rt, int node)
{
	int best = -1;
	unsigned best_load = ~0u;
	for (unsigned l = 0; l < rt->n_lcores; l++) {
		if (rt->lcores[l].socket != node)
			continue;
		unsigned load = 0;
		for (unsigned c = 0; c < rt->n_clusters; c++)
			load += rt->clusters[c].core == (int)rt->lcores[l].cpu;
		if (load < best_load) {
			best_load = load;
			best = (int)rt->lcores[l].cpu;
		}
	}
	return best;
}

void sl_pin_check_numa(const struct sl_runtime *rt)
{
	const struct sl_config *cfg = rt->cfg;
	for (unsigned s = 0; s < cfg->n_stages; s++) {
		const struct sl_conf_stage *cs = &cfg->stages[s];
		if (cs->port < 0)
			continue;
		struct sl_port *p = &rt->ports[cs->port];
		int ps = p->drv->socket ? p->drv->socket(p) : -1;
		for (unsigned i = 0; i < cs->instances && ps >= 0; i++) {
			const struct sl_cluster *cl = &rt->clusters[cs->cluster[i]];
			for (unsigned l = 0; l < rt->n_lcores; l++) {
				if ((int)rt->lcores[l].cpu != cl->core ||
				    rt->lcores[l].socket == ps)
					continue;
				/* Every packet would cross the interconnect: say which
				 * core near the NIC would do. */
				int better = best_core_on(rt, ps);
				char hint[96] = "; no core of the pool is on that node";
				if (better >= 0)
					snprintf(hint, sizeof(hint),
						 "; core %d is on the port's node", better);
				fprintf(
				    stderr,
				    "sluice-dp: warning: cluster '%s' (stage '%s') runs on core %d "
				    "(NUMA %d) but port '%s' is on NUMA %d%s\n",
				    cl->name, cs->name, cl->core, rt->lcores[l].socket,
				    p->conf.name, ps, hint);
			}
		}
	}
}
