/* dp.h: the state of one running dataplane process: its config, the running
 * graph, the worker lcores and the mempool, shared by main.c (start-up, the
 * management loop, shutdown) and reload.c (graph loads). */
#ifndef SL_DP_H
#define SL_DP_H

#include <jansson.h>

#include "config/config.h"
#include "stages/plugin.h"
#include "dataplane/runtime.h"

#define SL_DP_MAX_FILE_DIRS 64
#define SL_DP_MAX_PINNED 512 /* file arguments pinned for one probe */

struct sl_dp {
	struct sl_config *cfg;
	/* Configs from clients (sluiced passes --untrusted-loads, and
	 * --untrusted when the running config itself came from one) have
	 * their file arguments checked against file_dirs and pinned to fds
	 * here, in the process that opens them, on every start and load. */
	bool untrusted_loads;
	struct sl_config_policy policy;
	char *file_dirs[SL_DP_MAX_FILE_DIRS];
	char *plugins[SL_PLUGIN_MAX]; /* --plugin: what a client's config may name */
	/* The running config's exact text: hello hands it to an attaching
	 * sluiced, which keeps it as the last good config. */
	char *cfg_text;
	size_t cfg_text_len;
	struct sl_runtime *rt;
	struct rte_mempool *mp;
	/* Pools graph loads added when a new graph needed more mbufs than the
	 * dataplane had; they live until exit (mbufs of them circulate). */
	struct rte_mempool *extra_mp[64];
	unsigned n_extra_mp;
	uint64_t mbufs_total; /* in mp and every extra pool */
	uint64_t mbufs_in_use_start; /* once the ports started, before traffic */
	struct sl_lcore lcores[SL_MAX_LCORES];
	unsigned n_lcores;
	uint64_t start_ns;
	uint64_t graph_loads;
	volatile int stop_requested;
};

/* The mbufs a graph needs: the config's dataplane.mbufs, or the sum of its
 * ports' descriptors, rings, per-lcore caches and bursts, and the frames of
 * net_pcap infinite_rx files (which the PMD holds all at once). Returns 0
 * with the reason in err when it cannot be met (an unreadable pcap, or
 * dataplane.mbufs too small for an infinite_rx file). */
/* Write the pools' size and use into the current stats segment; with
 * at_start, what is in use now is also the start value. */
void sl_dp_pool_stats(struct sl_dp *dp, bool at_start);

unsigned sl_dp_mbufs_needed(const struct sl_config *cfg, unsigned n_lcores, char *err, size_t len);

/* Create the stats segment for cfg and fill its header; next: beside the
 * live one, for a graph load to install (sl_stats_install). */
/* Pin the file arguments of cfg (an untrusted config) to fds; fds and n
 * receive them, for sl_dp_unpin after the devices are probed. */
int sl_dp_pin(struct sl_dp *dp, struct sl_config *cfg, int *fds, unsigned *n, char *err,
	      size_t len);
void sl_dp_unpin(int *fds, unsigned *n);

struct sl_stats_hdr *sl_dp_stats_create(struct sl_dp *dp, const struct sl_config *cfg, bool next,
					char *err, size_t len);

/* Replace the running graph with the config text (len bytes; name is the
 * file name its errors carry) (reload.c). Traffic
 * pauses while the old graph drains; unchanged stages keep their state and
 * counters. On a refused config nothing changes. Fills result with the pause
 * and what was kept. */
int sl_dp_graph_load(struct sl_dp *dp, const char *text, size_t text_len, const char *name,
		     json_t *result, const char **code, char *err, size_t len);

#endif
