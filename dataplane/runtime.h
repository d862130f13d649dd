/* runtime.h: the running graph: stage instances, connectors (rings between
 * clusters), clusters with their sources, and each worker lcore's
 * RCU-protected list of clusters. */
#ifndef SL_RUNTIME_H
#define SL_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "config/config.h"
#include "dataplane/stats/stats_segment.h"
#include "drivers/port.h"
#include "stages/stage.h"

#define SL_MAX_LCORES 128

enum sl_source_kind { SL_SRC_PORT, SL_SRC_RING };

struct sl_source {
	enum sl_source_kind kind;
	uint16_t queue;		/* SL_SRC_PORT with port: the RX queue */
	struct sl_port *port;	/* port_rx sources: polled inline, no poll() call */
	struct sl_stage *stage; /* SL_SRC_PORT: the source stage; SL_SRC_RING: the consumer */
	struct sl_connector *conn;
};

struct sl_cluster {
	char name[SL_NAME_MAX];
	unsigned idx;
	int core;
	uint16_t burst;
	uint16_t n_src;
	struct sl_source *src;
	/* Backpressure: rings this cluster feeds. A source is polled only
	 * while each has room for a whole burst, so a ring never overflows;
	 * a full ring stalls its producer, and the stall reaches the port. */
	bool backpressure;
	uint16_t n_outs;
	struct sl_connector **outs;
	uint64_t *stalls; /* in the stats segment, written by the running core */
	uint64_t *beats;  /* likewise: the watchdog's heartbeat */
	/* Stages with a tick (they hold packets), called every few turns. */
	uint16_t n_ticks;
	struct sl_stage **ticks;
};

/* What one worker lcore runs; replaced whole, under RCU. */
struct sl_core_work {
	unsigned n;
	struct sl_cluster *c[];
};

struct sl_lcore {
	unsigned lcore_id;
	unsigned cpu;
	int socket;
	struct sl_core_work *work; /* rcu_dereference() it */
	/* Loop turns, written by the worker only; the drain reads it. */
	volatile uint64_t turns __rte_cache_aligned;
} __rte_cache_aligned;

struct sl_runtime {
	const struct sl_config *cfg;
	/* Where the files a client's config names may lie (stages open them
	 * through it), or NULL: the config is the operator's own. */
	const struct sl_config_policy *file_policy;
	struct rte_mempool *mp;
	struct sl_stats_hdr *stats;
	struct sl_port *ports;
	unsigned n_ports;
	struct sl_stage ***inst; /* [config stage][instance] */
	struct sl_connector *conns;
	unsigned n_conns;
	struct sl_cluster *clusters;
	unsigned n_clusters;
	/* The worker lcores, one per pool core (index = position in the pool).
	 * They outlive any one graph: each worker keeps its sl_lcore for the
	 * life of the process, and graph loads hand it new cluster lists. */
	struct sl_lcore *lcores;
	unsigned n_lcores;
	unsigned kept; /* instances taken over from the previous graph */
	/* What a build took from the previous graph, so that a failed graph
	 * load can hand it back (sl_runtime_rollback). */
	int *port_from; /* [port]: index of the old port taken over, or -1 */
	struct sl_kept *kept_list;
	unsigned n_kept_list;
	/* The cluster lists the build made, published by sl_runtime_publish. */
	struct sl_core_work *work[SL_MAX_LCORES];
};

struct sl_kept {
	unsigned os, ii;       /* where it was in the old graph */
	unsigned ns;	       /* its stage in the new graph (instance ii too) */
	struct sl_stage saved; /* the instance as the old graph had it */
	void *state;	       /* port stages: their state as it was (malloc) */
};

/* The driver's view of a configured port: its name, driver, devargs, queue
 * and descriptor counts (strings borrowed from c). */
struct sl_port_conf sl_runtime_port_conf(const struct sl_conf_port *c);

/* The worker lcore pinned to CPU `core`, or NULL if it is not in the pool. */
struct sl_lcore *sl_runtime_lcore(struct sl_runtime *rt, int core);

/* Count the connectors the config needs (for sizing the stats segment). */
unsigned sl_runtime_count_connectors(const struct sl_config *cfg);
unsigned sl_runtime_count_instances(const struct sl_config *cfg);

/* Open ports, create instances and rings, init stages, lay out the stats
 * segment and give each lcore its cluster list. rt->cfg, rt->mp, rt->stats and
 * rt->lcores (cpu, lcore_id, socket) must be set. With old (a graph load,
 * workers quiesced), ports with the same devargs and stage instances whose
 * type and config are unchanged are taken over from old, with their state
 * and counters; new devices are hot-plugged. */
int sl_runtime_build(struct sl_runtime *rt, struct sl_runtime *old, char *err, size_t len);
/* Graph loads, before the old graph stops: probe and open the ports the new
 * graph adds (the ones old has not open with the same devargs), with rt->mp.
 * gen makes their device names unique when a name is taken. */
int sl_runtime_prepare_ports(struct sl_runtime *rt, const struct sl_runtime *old, unsigned gen,
			     char *err, size_t len);
/* Give each lcore the cluster lists the build made (under RCU). */
void sl_runtime_publish(struct sl_runtime *rt);
/* A graph load failed (workers still parked): give old back everything the
 * build of rt took from it, reconfigure the ports it changed as they were,
 * remove the devices rt added and free rt's contents (not rt itself nor its
 * stats segment). */
void sl_runtime_rollback(struct sl_runtime *rt, struct sl_runtime *old);
/* Graph loads, before the old graph stops: create every connector ring of
 * rt->cfg (rt->lcores set), so the build after the stop only wires them.
 * On error returns -1 with err; sl_runtime_free frees what was made. */
int sl_runtime_prepare_rings(struct sl_runtime *rt, char *err, size_t len);
/* Free what rt still owns. unplug: hot-unplug its remaining devices too, so a
 * later graph may add them again (graph loads). */
/* At a stop, workers done: run every stage's fini now (a capture writes
 * what it queued), so that the final counters include what they did. */
void sl_runtime_finish_stages(struct sl_runtime *rt);
void sl_runtime_free(struct sl_runtime *rt, bool unplug);
/* Instances the last build took over from the old runtime. */
unsigned sl_runtime_kept(const struct sl_runtime *rt);

/* Move cluster `name` to `core` live (remap.c). On error returns -1 with a
 * protocol error code ("not_found", "out_of_pool", ...) and message; nothing
 * changes. pause_ns: how long the cluster ran nowhere. */
int sl_runtime_move_cluster(struct sl_runtime *rt, const char *name, int core, uint64_t *pause_ns,
			    const char **code, char *err, size_t len);

/* Wait up to timeout_ms for every port's link to come up (a memif client
 * connecting, a tap being configured); warn about those still down. */
void sl_runtime_wait_links(struct sl_runtime *rt, unsigned timeout_ms);

/* Copy port statistics into the stats segment (management thread). */
void sl_runtime_update_port_stats(struct sl_runtime *rt);
/* Total packets all ports have received so far. */
uint64_t sl_runtime_rx_total(const struct sl_runtime *rt);
/* Packets sitting in connector rings right now. */
unsigned sl_runtime_ring_backlog(const struct sl_runtime *rt);

#endif
