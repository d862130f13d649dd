/* dp.h: the state of one running dataplane process: its config, the running
 * graph, the worker lcores and the mempool, shared by main.c (start-up, the
 * management loop, shutdown) and reload.c (graph loads). */
#ifndef SL_DP_H
#define SL_DP_H

#include <jansson.h>

#include "control/config.h"
#include "dataplane/runtime.h"

struct sl_dp {
	struct sl_config *cfg;
	/* The running config's exact text: hello hands it to an attaching
	 * sluiced, which keeps it as the last good config. */
	char *cfg_text;
	size_t cfg_text_len;
	struct sl_runtime *rt;
	struct rte_mempool *mp;
	struct sl_lcore lcores[SL_MAX_LCORES];
	unsigned n_lcores;
	uint64_t start_ns;
	uint64_t graph_loads;
	volatile int stop_requested;
};

/* Create the stats segment for dp->cfg and fill its header. */
struct sl_stats_hdr *sl_dp_stats_create(struct sl_dp *dp, const struct sl_config *cfg, char *err,
					size_t len);

/* Replace the running graph with the config text (len bytes; name is the
 * file name its errors carry) (reload.c). Traffic
 * pauses while the old graph drains; unchanged stages keep their state and
 * counters. On a refused config nothing changes. Fills result with the pause
 * and what was kept. */
int sl_dp_graph_load(struct sl_dp *dp, const char *text, size_t text_len, const char *name,
		     json_t *result, const char **code, char *err, size_t len);

#endif
