/* runtime.c: turns a validated config into the running graph. Connectors
 * inside a cluster become direct calls; a connector that crosses clusters
 * becomes an SP/SC rte_ring in hugepage memory on the consumer's NUMA node.
 * Fan-in from several clusters gets one ring per producing cluster, so every
 * ring keeps one producer and one consumer. */
#include "dataplane/runtime.h"
#include "config/devargs.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_malloc.h>
#include <rte_errno.h>
#include <rte_ring.h>
#include <urcu/urcu-qsbr.h>

struct conn_key {
	int from_cluster;
	uint16_t ts, ti;
};

/* Walk the cross-cluster edges; fill keys (unique) if given. Returns the count. */
static unsigned collect_connectors(const struct sl_config *cfg, struct conn_key *keys, unsigned max)
{
	unsigned n = 0;
	for (unsigned li = 0; li < cfg->n_links; li++) {
		struct sl_conf_edge e[SL_STAGE_MAX_OUTPUTS];
		unsigned ne = sl_config_expand_link(cfg, &cfg->links[li], e);
		for (unsigned k = 0; k < ne; k++) {
			int fc = cfg->stages[e[k].fs].cluster[e[k].fi];
			int tc = cfg->stages[e[k].ts].cluster[e[k].ti];
			if (fc == tc)
				continue;
			bool seen = false;
			for (unsigned j = 0; j < n && keys && !seen; j++)
				seen = keys[j].from_cluster == fc && keys[j].ts == e[k].ts &&
				       keys[j].ti == e[k].ti;
			if (seen)
				continue;
			if (keys && n < max)
				keys[n] = (struct conn_key){fc, e[k].ts, e[k].ti};
			n++;
		}
	}
	return n;
}

unsigned sl_runtime_count_connectors(const struct sl_config *cfg)
{
	/* Sized with duplicates first, then deduplicated for real. */
	unsigned upper = collect_connectors(cfg, NULL, 0);
	struct conn_key *keys = calloc(upper ? upper : 1, sizeof(*keys));
	unsigned n = collect_connectors(cfg, keys, upper);
	free(keys);
	return n;
}

unsigned sl_runtime_count_instances(const struct sl_config *cfg)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->n_stages; i++)
		n += cfg->stages[i].instances;
	return n;
}

struct sl_lcore *sl_runtime_lcore(struct sl_runtime *rt, int core)
{
	for (unsigned i = 0; i < rt->n_lcores; i++)
		if ((int)rt->lcores[i].cpu == core)
			return &rt->lcores[i];
	return NULL;
}

struct sl_port_conf sl_runtime_port_conf(const struct sl_conf_port *c)
{
	return (struct sl_port_conf){
	    .name = c->name,
	    .driver = c->driver,
	    .devargs = c->devargs,
	    .probe_args = c->probe_devargs,
	    .n_rxq = c->n_rxq,
	    .n_txq = c->n_txq,
	    .rx_desc = (uint16_t)c->rx_desc,
	    .tx_desc = (uint16_t)c->tx_desc,
	    .rx_timestamps = c->rx_timestamps,
	    .iface = c->iface,
	    .queue = (uint16_t)c->queue,
	    .xdp_mode = c->xdp_mode,
	    .zerocopy = c->zerocopy,
	    .busy_poll = c->busy_poll,
	    .auto_why = c->auto_why,
	};
}

/* Whether two port entries name the same device, run the same way: a dpdk
 * port by its devargs, an af_xdp port by its interface and how it binds
 * (anything else is a new port: closed and opened again). */
static bool same_port(const struct sl_conf_port *a, const struct sl_conf_port *b)
{
	if (strcmp(a->driver, b->driver) != 0)
		return false;
	if (a->devargs || b->devargs)
		return a->devargs && b->devargs && !strcmp(a->devargs, b->devargs);
	return a->iface && b->iface && !strcmp(a->iface, b->iface) && a->queue == b->queue &&
	       a->xdp_mode == b->xdp_mode && a->zerocopy == b->zerocopy &&
	       a->busy_poll == b->busy_poll;
}

/* The old runtime's open port for the same device, if any. */
static struct sl_port *old_port(struct sl_runtime *old, const struct sl_conf_port *c)
{
	for (unsigned j = 0; old && j < old->n_ports; j++)
		if (old->ports[j].drv && same_port(&old->cfg->ports[j], c))
			return &old->ports[j];
	return NULL;
}

int sl_runtime_prepare_ports(struct sl_runtime *rt, const struct sl_runtime *old, unsigned gen,
			     char *err, size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	rt->ports = calloc(cfg->n_ports ? cfg->n_ports : 1, sizeof(*rt->ports));
	rt->port_from = calloc(cfg->n_ports ? cfg->n_ports : 1, sizeof(*rt->port_from));
	if (!rt->ports || !rt->port_from) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	rt->n_ports = cfg->n_ports;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		struct sl_port *p = &rt->ports[i];
		rt->port_from[i] = -1;
		if (old_port((struct sl_runtime *)old, &cfg->ports[i]))
			continue;
		p->conf = sl_runtime_port_conf(&cfg->ports[i]);
		const struct sl_port_driver *drv = sl_port_driver_find(cfg->ports[i].driver);
		if (!drv) {
			snprintf(err, len, "%s:%d:%d: port '%s': driver '%s' is not built in",
				 cfg->ports[i].loc.file, cfg->ports[i].loc.line,
				 cfg->ports[i].loc.col, cfg->ports[i].name, cfg->ports[i].driver);
			return -1;
		}
		if (drv->probe(p, gen, err, len) < 0)
			return -1;
		p->drv = drv; /* from here on, freeing rt removes the device */
		if (drv->open(p, rt->mp, err, len) < 0)
			return -1;
	}
	return 0;
}

static int open_ports(struct sl_runtime *rt, struct sl_runtime *old, char *err, size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	if (!rt->ports) {
		rt->ports = calloc(cfg->n_ports ? cfg->n_ports : 1, sizeof(*rt->ports));
		rt->port_from = calloc(cfg->n_ports ? cfg->n_ports : 1, sizeof(*rt->port_from));
		rt->n_ports = cfg->n_ports;
		for (unsigned i = 0; i < cfg->n_ports; i++)
			rt->port_from[i] = -1;
	}
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		struct sl_port *p = &rt->ports[i];
		struct sl_stats_port *sp = &sl_stats_ports(rt->stats)[i];
		struct sl_port *q = p->drv ? NULL : old_port(old, &cfg->ports[i]);
		if (p->drv) {
			/* opened by sl_runtime_prepare_ports */
		} else if (q) {
			*p = *q; /* same device: keep it open, and its totals */
			q->drv = NULL;
			rt->port_from[i] = (int)(q - old->ports);
			bool ts_was = p->conf.rx_timestamps;
			p->conf = sl_runtime_port_conf(&cfg->ports[i]);
			uint16_t rxq = p->conf.n_rxq ? p->conf.n_rxq : 1;
			uint16_t txq = p->conf.n_txq ? p->conf.n_txq : 1;
			p->reopened =
			    rxq != p->n_rxq || txq != p->n_txq || ts_was != p->conf.rx_timestamps;
			if (p->reopened && p->drv->open(p, rt->mp, err, len) < 0)
				return -1;
		} else {
			p->conf = sl_runtime_port_conf(&cfg->ports[i]);
			const struct sl_port_driver *drv =
			    sl_port_driver_find(cfg->ports[i].driver);
			if (!drv) {
				snprintf(err, len,
					 "%s:%d:%d: port '%s': driver '%s' is not built in",
					 cfg->ports[i].loc.file, cfg->ports[i].loc.line,
					 cfg->ports[i].loc.col, cfg->ports[i].name,
					 cfg->ports[i].driver);
				return -1;
			}
			if (old && drv->probe(p, 0, err, len) < 0)
				return -1;
			p->drv = drv;
			if (p->drv->open(p, rt->mp, err, len) < 0)
				return -1;
		}
		/* Carried totals, shown until the next statistics update. */
		const uint64_t *b = (const uint64_t *)&p->base, *l = (const uint64_t *)&p->last_raw;
		uint64_t *o = (uint64_t *)&sp->st;
		for (size_t f = 0; f < sizeof(sp->st) / sizeof(uint64_t); f++)
			o[f] = b[f] + l[f];
		snprintf(sp->name, sizeof(sp->name), "%s", cfg->ports[i].name);
		snprintf(sp->driver, sizeof(sp->driver), "%s", cfg->ports[i].driver);
		snprintf(sp->devargs, sizeof(sp->devargs), "%s",
			 cfg->ports[i].devargs ? cfg->ports[i].devargs : cfg->ports[i].iface);
		sp->n_rxq = p->n_rxq;
		sp->n_txq = p->n_txq;
		/* The dpdk driver writes no note, but driver: auto's choice
		 * of it is still the operator's to see (and a kept port that
		 * the new config names outright has no such choice). */
		if (p->drv == &sl_dpdk_driver)
			snprintf(p->note, sizeof(p->note), "%s%s", p->conf.auto_why ? "auto: " : "",
				 p->conf.auto_why ? p->conf.auto_why : "");
		snprintf(sp->note, sizeof(sp->note), "%s", p->note);
	}
	return 0;
}

/* env->open_file: a stage's FILE/OUTFILE, opened as the config's trust
 * allows (the loader already checked the path; this walk is what makes a
 * swap of a directory in between harmless). */
static int open_stage_file(const struct sl_stage_env *env, const char *path, bool write, char *err,
			   size_t len)
{
	const struct sl_config_policy *pol = env->open_ctx;
	return sl_path_open(path, write, pol != NULL, pol ? pol->file_dirs : NULL,
			    pol ? pol->n_file_dirs : 0, err, len);
}

static int init_instance(struct sl_runtime *rt, const struct sl_conf_stage *cs, struct sl_stage *st,
			 uint16_t ii, int socket, struct sl_stats_stage *desc, char *err,
			 size_t len)
{
	if (!cs->type->init)
		return 0;
	struct sl_stage_env env = {
	    .socket = socket,
	    .port = cs->port >= 0 ? &rt->ports[cs->port] : NULL,
	    .queue = (uint16_t)(cs->queue_base + ii),
	    .tx_retries = (uint32_t)rt->cfg->dp.tx_retries,
	    .tx_stall_us = (uint32_t)rt->cfg->dp.tx_stall_us,
	    .rx_seqn = rt->cfg->dp.rx_seqn,
	    .open_file = open_stage_file,
	    .open_ctx = rt->file_policy,
	    .aux_names = desc->n_aux ? sl_stats_aux_names(rt->stats, desc) : NULL,
	};
	char msg[256] = "";
	if (cs->type->init(st, &env, msg, sizeof(msg)) < 0) {
		snprintf(err, len, "%s:%d:%d: stage '%s': %s", cs->loc.file, cs->loc.line,
			 cs->loc.col, st->name, msg);
		return -1;
	}
	return 0;
}

/* The old runtime's instance ii of a stage with this name, type and config
 * (and, for port stages, the same untouched port and queue), or NULL. It is
 * taken out of old so that freeing old leaves it alone. */
static struct sl_stage *take_old_instance(struct sl_runtime *rt, struct sl_runtime *old,
					  const struct sl_conf_stage *cs, uint16_t ii,
					  struct sl_stats_stage **old_desc)
{
	if (!old)
		return NULL;
	const struct sl_config *oc = old->cfg;
	int os = sl_config_find_stage(oc, cs->name);
	if (os < 0 || !sl_config_stage_equal(&oc->stages[os], cs) ||
	    oc->stages[os].n_outputs != cs->n_outputs || !old->inst[os][ii])
		return NULL;
	/* A stage that reads a file (acl rules, an eBPF object) reads it again
	 * on every load: a load is how an operator applies an edited file. */
	for (unsigned i = 0; i < cs->type->n_params; i++)
		if (cs->type->params[i].kind == SL_PARAM_FILE)
			return NULL;
	if (cs->port >= 0) {
		const struct sl_conf_port *np = &rt->cfg->ports[cs->port];
		const struct sl_conf_port *op = &oc->ports[oc->stages[os].port];
		if (!same_port(np, op) || rt->ports[cs->port].reopened ||
		    oc->stages[os].queue_base != cs->queue_base)
			return NULL;
	}
	unsigned k = 0;
	for (int s = 0; s < os; s++)
		k += oc->stages[s].instances;
	struct sl_stage *st = old->inst[os][ii];
	struct sl_kept *kl = &rt->kept_list[rt->n_kept_list];
	kl->os = (unsigned)os;
	kl->ns = (unsigned)(cs - rt->cfg->stages);
	kl->ii = ii;
	kl->saved = *st;
	kl->state = NULL;
	if (cs->port >= 0 && st->type->state_size) {
		kl->state = malloc(st->type->state_size);
		if (!kl->state)
			return NULL;
		memcpy(kl->state, st->state, st->type->state_size);
	}
	rt->n_kept_list++;
	*old_desc = &sl_stats_stages(old->stats)[k + ii];
	old->inst[os][ii] = NULL;
	return st;
}

static int create_instance(struct sl_runtime *rt, struct sl_runtime *old, unsigned si, uint16_t ii,
			   struct sl_stats_stage *desc, char *err, size_t len)
{
	const struct sl_conf_stage *cs = &rt->cfg->stages[si];
	const struct sl_stage_type *t = cs->type;
	struct sl_cluster *cl = &rt->clusters[cs->cluster[ii]];
	struct sl_lcore *lc = sl_runtime_lcore(rt, cl->core);
	int socket = lc ? lc->socket : SOCKET_ID_ANY;
	struct sl_stats_stage *old_desc = NULL;
	struct sl_stage *kept = take_old_instance(rt, old, cs, ii, &old_desc);
	if (kept) {
		/* Same logic, same state: only its wiring and home change. */
		rt->inst[si][ii] = kept;
		kept->conf = cs->conf;
		kept->cnt = &desc->cnt;
		memset(kept->out, 0, sizeof(kept->out));
		*desc = *old_desc;
		desc->cluster = cl->idx;
		if (kept->n_aux) { /* its extra counters move to the new segment */
			desc->n_aux = 0;
			uint64_t *aux = sl_stats_aux_alloc(rt->stats, desc, kept->n_aux);
			if (!aux) {
				snprintf(err, len, "stage '%s': no room for its counters",
					 cs->name);
				return -1;
			}
			memcpy(sl_stats_aux_names(rt->stats, desc),
			       sl_stats_aux_names(old->stats, old_desc),
			       (size_t)kept->n_aux * SL_LABEL_MAX);
			memcpy(aux, kept->aux, (size_t)kept->n_aux * sizeof(uint64_t));
			kept->aux = aux;
		}
		rt->kept++;
		/* Port stages hold a pointer to their port, which now lives in
		 * the new runtime: bind them again (it is all their state). */
		return cs->port >= 0 ? init_instance(rt, cs, kept, ii, socket, desc, err, len) : 0;
	}
	struct sl_stage *st =
	    rte_zmalloc_socket("sl_stage", sizeof(*st), RTE_CACHE_LINE_SIZE, socket);
	if (!st) {
		snprintf(err, len, "stage '%s': out of hugepage memory", cs->name);
		return -1;
	}
	rt->inst[si][ii] = st;
	st->type = t;
	st->conf = cs->conf;
	st->instance = ii;
	st->n_outputs = cs->n_outputs;
	st->cnt = &desc->cnt;
	if (cs->instances > 1)
		snprintf(st->name, sizeof(st->name), "%s[%u]", cs->name, ii);
	else
		snprintf(st->name, sizeof(st->name), "%s", cs->name);
	if (t->state_size) {
		st->state =
		    rte_zmalloc_socket("sl_state", t->state_size, RTE_CACHE_LINE_SIZE, socket);
		if (!st->state) {
			snprintf(err, len, "stage '%s': out of hugepage memory", st->name);
			return -1;
		}
	}
	if (st->n_outputs) {
		size_t sz = (size_t)(st->n_outputs + 1) * SL_BURST_MAX * sizeof(struct rte_mbuf *);
		st->scratch = rte_zmalloc_socket("sl_scratch", sz, RTE_CACHE_LINE_SIZE, socket);
		if (!st->scratch) {
			snprintf(err, len, "stage '%s': out of hugepage memory", st->name);
			return -1;
		}
	}

	if (cs->n_aux) {
		st->aux = sl_stats_aux_alloc(rt->stats, desc, cs->n_aux);
		if (!st->aux) {
			snprintf(err, len, "stage '%s': no room for its counters", st->name);
			return -1;
		}
		st->n_aux = cs->n_aux;
	}
	snprintf(desc->name, sizeof(desc->name), "%s", st->name);
	snprintf(desc->type, sizeof(desc->type), "%s", t->name);
	desc->cluster = cl->idx;
	desc->n_out = t->sink_output ? 1 : st->n_outputs;
	desc->n_drops = t->n_drops;
	for (unsigned j = 0; j < desc->n_out; j++) {
		char nb[SL_LABEL_MAX];
		snprintf(desc->out_names[j], SL_LABEL_MAX, "%s",
			 sl_conf_stage_output_name(cs, j, nb, sizeof(nb)));
	}
	snprintf(desc->drop_names[0], SL_LABEL_MAX, "unconnected");
	for (unsigned j = 0; j < t->n_drops; j++)
		snprintf(desc->drop_names[j + 1], SL_LABEL_MAX, "%s", t->drops[j]);

	return init_instance(rt, cs, st, ii, socket, desc, err, len);
}

/* Ring names must be unique while two graphs exist (a load builds the new
 * one beside the old): each graph's rings carry a generation. */
static unsigned ring_generation;

/* The ring of connector ci, on the NUMA node of the core that consumes it. */
static struct rte_ring *make_ring(struct sl_runtime *rt, unsigned ci, const struct conn_key *k,
				  char *err, size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	int to_cluster = cfg->stages[k->ts].cluster[k->ti];
	struct sl_lcore *lc = sl_runtime_lcore(rt, cfg->clusters[to_cluster].core);
	char rname[RTE_RING_NAMESIZE];
	snprintf(rname, sizeof(rname), "sl%u_c%u", ring_generation, ci);
	struct rte_ring *r =
	    rte_ring_create(rname, (unsigned)cfg->dp.ring_size, lc ? lc->socket : SOCKET_ID_ANY,
			    RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
	if (!r)
		snprintf(err, len, "cannot create ring for connector %u: %s", ci,
			 rte_strerror(rte_errno));
	return r;
}

int sl_runtime_prepare_rings(struct sl_runtime *rt, char *err, size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	if (!rt->conns) { /* not made ahead (start-up) */
		rt->n_conns = sl_runtime_count_connectors(cfg);
		rt->conns = calloc(rt->n_conns ? rt->n_conns : 1, sizeof(*rt->conns));
	}
	struct conn_key *keys = calloc(rt->n_conns ? rt->n_conns : 1, sizeof(*keys));
	int rc = rt->conns && keys ? 0 : -1;
	if (rc < 0)
		snprintf(err, len, "out of memory");
	else
		collect_connectors(cfg, keys, rt->n_conns);
	for (unsigned ci = 0; rc == 0 && ci < rt->n_conns; ci++)
		if (!(rt->conns[ci].ring = make_ring(rt, ci, &keys[ci], err, len)))
			rc = -1;
	free(keys);
	ring_generation++;
	return rc; /* on error, sl_runtime_free frees the rings made */
}

static int create_connector(struct sl_runtime *rt, unsigned ci, const struct conn_key *k,
			    const struct sl_conf_edge *first, char *err, size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	struct sl_connector *c = &rt->conns[ci];
	struct sl_stats_conn *desc = &sl_stats_conns(rt->stats)[ci];
	int to_cluster = cfg->stages[k->ts].cluster[k->ti];

	/* A graph load made the rings before the old graph stopped. */
	if (!c->ring && !(c->ring = make_ring(rt, ci, k, err, len)))
		return -1;
	c->cnt = &desc->cnt;
	const struct sl_stage *from = rt->inst[first->fs][first->fi];
	const struct sl_stage *to = rt->inst[k->ts][k->ti];
	char pb[SL_LABEL_MAX];
	snprintf(desc->name, sizeof(desc->name), "%s.%s -> %s", from->name,
		 sl_conf_stage_output_name(&cfg->stages[first->fs], first->fport, pb, sizeof(pb)),
		 to->name);
	desc->from_cluster = (uint32_t)k->from_cluster;
	desc->to_cluster = (uint32_t)to_cluster;
	desc->capacity = rte_ring_get_capacity(c->ring);
	desc->cnt.free_hint = desc->capacity;
	if (ci + 1 == rt->n_conns)
		ring_generation++;
	return 0;
}

static int wire_edges(struct sl_runtime *rt, struct conn_key *keys, char *err, size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	bool *made = calloc(rt->n_conns ? rt->n_conns : 1, sizeof(bool));
	int rc = 0;

	for (unsigned li = 0; li < cfg->n_links && rc == 0; li++) {
		struct sl_conf_edge e[SL_STAGE_MAX_OUTPUTS];
		unsigned ne = sl_config_expand_link(cfg, &cfg->links[li], e);
		for (unsigned k = 0; k < ne && rc == 0; k++) {
			struct sl_stage *from = rt->inst[e[k].fs][e[k].fi];
			struct sl_stage *to = rt->inst[e[k].ts][e[k].ti];
			struct sl_output *o = &from->out[e[k].fport];
			int fc = cfg->stages[e[k].fs].cluster[e[k].fi];
			int tc = cfg->stages[e[k].ts].cluster[e[k].ti];
			if (fc == tc) {
				o->kind = SL_OUT_STAGE;
				o->stage = to;
				continue;
			}
			unsigned ci = 0;
			while (ci < rt->n_conns &&
			       !(keys[ci].from_cluster == fc && keys[ci].ts == e[k].ts &&
				 keys[ci].ti == e[k].ti))
				ci++;
			if (!made[ci]) {
				rc = create_connector(rt, ci, &keys[ci], &e[k], err, len);
				made[ci] = true;
			}
			o->kind = SL_OUT_RING;
			o->conn = &rt->conns[ci];
		}
	}
	free(made);
	return rc;
}

static int build_clusters_sources(struct sl_runtime *rt, struct conn_key *keys, char *err,
				  size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	for (unsigned c = 0; c < rt->n_clusters; c++) {
		struct sl_cluster *cl = &rt->clusters[c];
		unsigned n = 0;
		for (unsigned s = 0; s < cfg->n_stages; s++)
			for (unsigned i = 0; i < cfg->stages[s].instances; i++)
				n += cfg->stages[s].type->is_source &&
				     cfg->stages[s].cluster[i] == (int)c;
		for (unsigned k = 0; k < rt->n_conns; k++)
			n += cfg->stages[keys[k].ts].cluster[keys[k].ti] == (int)c;
		struct sl_lcore *lc = sl_runtime_lcore(rt, cl->core);
		cl->src = rte_zmalloc_socket("sl_src", (n ? n : 1) * sizeof(*cl->src),
					     RTE_CACHE_LINE_SIZE, lc ? lc->socket : SOCKET_ID_ANY);
		if (!cl->src) {
			snprintf(err, len, "cluster '%s': out of hugepage memory", cl->name);
			return -1;
		}
		cl->backpressure = !cfg->dp.ring_drop;
		cl->stalls = &sl_stats_clusters(rt->stats)[c].stalls;
		cl->beats = &sl_stats_clusters(rt->stats)[c].beats;
		for (unsigned k = 0; k < rt->n_conns; k++)
			cl->n_outs += keys[k].from_cluster == (int)c;
		cl->outs = rte_zmalloc_socket("sl_outs", (cl->n_outs + 1u) * sizeof(*cl->outs),
					      RTE_CACHE_LINE_SIZE, lc ? lc->socket : SOCKET_ID_ANY);
		if (!cl->outs) {
			snprintf(err, len, "cluster '%s': out of hugepage memory", cl->name);
			return -1;
		}
		cl->n_outs = 0;
		for (unsigned k = 0; k < rt->n_conns; k++)
			if (keys[k].from_cluster == (int)c)
				cl->outs[cl->n_outs++] = &rt->conns[k];
		unsigned nt = 0;
		for (unsigned s = 0; s < cfg->n_stages; s++)
			for (unsigned i = 0; i < cfg->stages[s].instances; i++)
				nt += cfg->stages[s].type->tick &&
				      cfg->stages[s].cluster[i] == (int)c &&
				      !rt->inst[s][i]->no_tick;
		cl->ticks =
		    rte_zmalloc_socket("sl_ticks", (nt + 1u) * sizeof(*cl->ticks),
				       RTE_CACHE_LINE_SIZE, lc ? lc->socket : SOCKET_ID_ANY);
		if (!cl->ticks) {
			snprintf(err, len, "cluster '%s': out of hugepage memory", cl->name);
			return -1;
		}
		for (unsigned s = 0; s < cfg->n_stages; s++)
			for (unsigned i = 0; i < cfg->stages[s].instances; i++)
				if (cfg->stages[s].type->tick &&
				    cfg->stages[s].cluster[i] == (int)c && !rt->inst[s][i]->no_tick)
					cl->ticks[cl->n_ticks++] = rt->inst[s][i];
		/* Rings first: draining what is in flight before taking more in
		 * keeps ring occupancy low. */
		for (unsigned k = 0; k < rt->n_conns; k++)
			if (cfg->stages[keys[k].ts].cluster[keys[k].ti] == (int)c)
				cl->src[cl->n_src++] =
				    (struct sl_source){.kind = SL_SRC_RING,
						       .stage = rt->inst[keys[k].ts][keys[k].ti],
						       .conn = &rt->conns[k]};
		for (unsigned s = 0; s < cfg->n_stages; s++)
			for (unsigned i = 0; i < cfg->stages[s].instances; i++)
				if (cfg->stages[s].type->is_source &&
				    cfg->stages[s].cluster[i] == (int)c) {
					const struct sl_conf_stage *cs = &cfg->stages[s];
					struct sl_source *src = &cl->src[cl->n_src++];
					src->kind = SL_SRC_PORT;
					src->stage = rt->inst[s][i];
					/* The worker polls the port itself, unless
					 * port_rx has work of its own on a burst
					 * (timestamps to scale). */
					if (cs->type->needs_port &&
					    !rt->ports[cs->port].rx_ts_mult && !cfg->dp.rx_seqn) {
						src->port = &rt->ports[cs->port];
						src->queue = (uint16_t)(cs->queue_base + i);
					}
				}
	}
	return 0;
}

static int build_work_lists(struct sl_runtime *rt, char *err, size_t len)
{
	for (unsigned l = 0; l < rt->n_lcores; l++) {
		struct sl_lcore *lc = &rt->lcores[l];
		unsigned n = 0;
		for (unsigned c = 0; c < rt->n_clusters; c++)
			n += rt->clusters[c].core == (int)lc->cpu;
		struct sl_core_work *w =
		    rte_zmalloc_socket("sl_work", sizeof(*w) + (n ? n : 1) * sizeof(w->c[0]),
				       RTE_CACHE_LINE_SIZE, lc->socket);
		if (!w) {
			snprintf(err, len, "out of hugepage memory for core %u", lc->cpu);
			return -1;
		}
		for (unsigned c = 0; c < rt->n_clusters; c++)
			if (rt->clusters[c].core == (int)lc->cpu)
				w->c[w->n++] = &rt->clusters[c];
		rt->work[l] = w;
	}
	return 0;
}

void sl_runtime_publish(struct sl_runtime *rt)
{
	/* At start-up no worker runs yet; on a graph load the workers hold
	 * empty lists, which the loader frees after a grace period. */
	for (unsigned l = 0; l < rt->n_lcores; l++) {
		rcu_assign_pointer(rt->lcores[l].work, rt->work[l]);
		rt->work[l] = NULL;
	}
}

void sl_runtime_rollback(struct sl_runtime *rt, struct sl_runtime *old)
{
	/* Instances taken over go back as they were, counters and all. */
	for (unsigned k = 0; k < rt->n_kept_list; k++) {
		struct sl_kept *kl = &rt->kept_list[k];
		struct sl_stage *st = rt->inst[kl->ns][kl->ii];
		if (!st)
			continue;
		*st = kl->saved;
		if (kl->state)
			memcpy(st->state, kl->state, st->type->state_size);
		old->inst[kl->os][kl->ii] = st;
		rt->inst[kl->ns][kl->ii] = NULL;
	}
	for (unsigned k = 0; k < rt->n_kept_list; k++)
		free(rt->kept_list[k].state);
	free(rt->kept_list);
	rt->kept_list = NULL;
	rt->n_kept_list = 0;
	/* Ports taken over go back; one whose queues changed is configured
	 * as the old graph had it. */
	for (unsigned i = 0; rt->port_from && i < rt->n_ports; i++) {
		int j = rt->port_from[i];
		if (j < 0 || !rt->ports[i].drv)
			continue;
		struct sl_port *q = &old->ports[j];
		bool reopened = rt->ports[i].reopened;
		*q = rt->ports[i];
		q->conf = sl_runtime_port_conf(&old->cfg->ports[j]);
		q->reopened = false;
		rt->ports[i].drv = NULL;
		char err[256];
		if (reopened && q->drv->open(q, old->mp, err, sizeof(err)) < 0)
			fprintf(
			    stderr,
			    "sluice-dp: error: port '%s' could not be set up again as it was: %s\n",
			    q->conf.name, err);
	}
	for (unsigned l = 0; l < rt->n_lcores; l++) {
		rte_free(rt->work[l]);
		rt->work[l] = NULL;
	}
	/* What is left is this load's own: new instances, rings, the devices
	 * it added. */
	sl_runtime_free(rt, true);
}

unsigned sl_runtime_kept(const struct sl_runtime *rt)
{
	return rt->kept;
}

int sl_runtime_build(struct sl_runtime *rt, struct sl_runtime *old, char *err, size_t len)
{
	const struct sl_config *cfg = rt->cfg;
	struct sl_stats_cluster *scl = sl_stats_clusters(rt->stats);
	int rc = -1;

	if (open_ports(rt, old, err, len) < 0)
		return -1;

	rt->n_clusters = cfg->n_clusters;
	rt->clusters = calloc(cfg->n_clusters, sizeof(*rt->clusters));
	for (unsigned c = 0; c < cfg->n_clusters; c++) {
		struct sl_cluster *cl = &rt->clusters[c];
		snprintf(cl->name, sizeof(cl->name), "%s", cfg->clusters[c].name);
		cl->idx = c;
		cl->core = cfg->clusters[c].core;
		cl->burst = (uint16_t)cfg->dp.burst;
		snprintf(scl[c].name, sizeof(scl[c].name), "%s", cl->name);
		scl[c].core = cl->core;
		for (unsigned o = 0; old && o < old->n_clusters; o++) {
			const struct sl_stats_cluster *oc = &sl_stats_clusters(old->stats)[o];
			if (!strcmp(oc->name, cl->name)) {
				scl[c].moves = oc->moves;
				scl[c].stalls = oc->stalls;
			}
		}
	}

	rt->inst = calloc(cfg->n_stages, sizeof(*rt->inst));
	rt->kept_list = calloc(sl_runtime_count_instances(cfg) + 1u, sizeof(*rt->kept_list));
	if (!rt->inst || !rt->kept_list) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	unsigned k = 0;
	for (unsigned s = 0; s < cfg->n_stages; s++) {
		rt->inst[s] = calloc(cfg->stages[s].instances, sizeof(struct sl_stage *));
		for (uint16_t i = 0; i < cfg->stages[s].instances; i++)
			if (create_instance(rt, old, s, i, &sl_stats_stages(rt->stats)[k++], err,
					    len) < 0)
				return -1;
	}

	if (!rt->conns) { /* not made ahead (start-up) */
		rt->n_conns = sl_runtime_count_connectors(cfg);
		rt->conns = calloc(rt->n_conns ? rt->n_conns : 1, sizeof(*rt->conns));
	}
	struct conn_key *keys = calloc(rt->n_conns ? rt->n_conns : 1, sizeof(*keys));
	collect_connectors(cfg, keys, rt->n_conns);
	if (wire_edges(rt, keys, err, len) == 0 &&
	    build_clusters_sources(rt, keys, err, len) == 0 && build_work_lists(rt, err, len) == 0)
		rc = 0;
	free(keys);
	return rc;
}

void sl_runtime_finish_stages(struct sl_runtime *rt)
{
	const struct sl_config *cfg = rt->cfg;
	for (unsigned s = 0; rt->inst && s < cfg->n_stages; s++)
		for (unsigned i = 0; rt->inst[s] && i < cfg->stages[s].instances; i++) {
			struct sl_stage *st = rt->inst[s][i];
			if (st && st->type->fini && !st->finished) {
				st->type->fini(st);
				st->finished = true;
			}
		}
}

void sl_runtime_free(struct sl_runtime *rt, bool unplug)
{
	const struct sl_config *cfg = rt->cfg;
	for (unsigned i = 0; i < rt->n_ports; i++) {
		struct sl_port *p = &rt->ports[i];
		if (p->drv && unplug)
			p->drv->remove(p);
		else if (p->drv)
			p->drv->close(p);
	}
	if (rt->inst) {
		for (unsigned s = 0; s < cfg->n_stages; s++) {
			for (unsigned i = 0; rt->inst[s] && i < cfg->stages[s].instances; i++) {
				struct sl_stage *st = rt->inst[s][i];
				if (!st)
					continue;
				if (st->type->fini && !st->finished)
					st->type->fini(st);
				rte_free(st->state);
				rte_free(st->scratch);
				rte_free(st);
			}
			free(rt->inst[s]);
		}
		free(rt->inst);
	}
	for (unsigned i = 0; i < rt->n_conns; i++)
		rte_ring_free(rt->conns[i].ring);
	free(rt->conns);
	for (unsigned c = 0; c < rt->n_clusters; c++) {
		rte_free(rt->clusters[c].src);
		rte_free(rt->clusters[c].ticks);
		rte_free(rt->clusters[c].outs);
	}
	free(rt->clusters);
	free(rt->ports);
	free(rt->port_from);
	for (unsigned k = 0; k < rt->n_kept_list; k++)
		free(rt->kept_list[k].state);
	free(rt->kept_list);
	for (unsigned l = 0; l < rt->n_lcores; l++)
		rte_free(rt->work[l]);
	rt->inst = NULL;
	rt->conns = NULL;
	rt->n_conns = 0;
	rt->clusters = NULL;
	rt->n_clusters = 0;
	rt->ports = NULL;
	rt->n_ports = 0;
	rt->port_from = NULL;
	rt->kept_list = NULL;
	rt->n_kept_list = 0;
}

void sl_runtime_wait_links(struct sl_runtime *rt, unsigned timeout_ms)
{
	unsigned waited = 0, down;
	do {
		down = 0;
		for (unsigned i = 0; i < rt->n_ports; i++)
			down += !rt->ports[i].drv->link_up(&rt->ports[i]);
		if (down == 0 || waited >= timeout_ms)
			break;
		usleep(10000);
		waited += 10;
	} while (1);
	for (unsigned i = 0; i < rt->n_ports && down; i++)
		if (!rt->ports[i].drv->link_up(&rt->ports[i]))
			fprintf(stderr, "sluice-dp: warning: port '%s' link is down after %u ms\n",
				rt->ports[i].conf.name, timeout_ms);
}

void sl_runtime_update_port_stats(struct sl_runtime *rt)
{
	for (unsigned i = 0; i < rt->n_ports; i++) {
		struct sl_port_stats s;
		struct sl_stats_port *sp = &sl_stats_ports(rt->stats)[i];
		if (rt->ports[i].drv && sl_port_read_stats(&rt->ports[i], &s) == 0)
			sp->st = s;
		/* A driver may say more after open (a later fallback). Written
		 * only when it changed; a reader racing it may see a mix of
		 * old and new, but never an unterminated string: the last
		 * byte of the array is never anything but NUL. */
		if (strcmp(sp->note, rt->ports[i].note) != 0)
			snprintf(sp->note, sizeof(sp->note), "%s", rt->ports[i].note);
	}
}

uint64_t sl_runtime_rx_total(const struct sl_runtime *rt)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < rt->n_ports; i++)
		n += sl_stats_ports(rt->stats)[i].st.ipackets;
	return n;
}

unsigned sl_runtime_ring_backlog(const struct sl_runtime *rt)
{
	unsigned n = 0;
	for (unsigned i = 0; i < rt->n_conns; i++)
		n += rte_ring_count(rt->conns[i].ring);
	return n;
}
