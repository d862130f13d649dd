/* harness.h: one stage instance under test outside the dataplane. The
 * instance is built from the same YAML a config holds (so the loader's
 * parsing and the type's check hook run), each output port feeds a sink
 * that keeps what it receives, and frames are mbufs over heap buffers of
 * exactly their length so that ASan catches any read past a frame's end. */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "config/config.h"
#include "stages/stage.h"

/* Start EAL (--no-huge, --no-pci, its own file prefix) and make the pool
 * sl_h_pool of n mbufs. Exits the process on failure. */
void sl_h_eal(const char *prefix, unsigned n_mbufs);
extern struct rte_mempool *sl_h_pool;

#define SL_H_KEEP_MAX 65536 /* packets kept per output before they are freed */

struct sl_harness {
	struct sl_conf_stage cs; /* as the loader made it */
	struct sl_stage st;
	struct sl_stage_counters cnt;
	struct sl_stage sinks[SL_STAGE_MAX_OUTPUTS];
	struct sl_stage_counters sink_cnt[SL_STAGE_MAX_OUTPUTS];
	/* What each output received, in order (up to SL_H_KEEP_MAX; beyond it
	 * packets are counted in sink_cnt[i].pkts_in and freed). */
	struct rte_mbuf **got[SL_STAGE_MAX_OUTPUTS];
	unsigned n_got[SL_STAGE_MAX_OUTPUTS];
	char (*aux_names)[SL_LABEL_MAX];
	uint64_t *aux;
};

/* Build an instance from one stage's YAML mapping, e.g.
 * "{type: filter, expr: 'tcp port 80'}". file_dir is where relative FILE
 * paths are taken from (NULL: the working directory). n_outputs 0 takes the
 * type's own count. Returns 0, or -1 with err holding the loader's, check's
 * or init's message (with the line:col for the first two). */
int sl_h_init(struct sl_harness *h, const char *yaml, const char *file_dir, uint16_t n_outputs,
	      char *err, size_t len);
/* Run the instance's fini and free everything it holds and was given. */
void sl_h_fini(struct sl_harness *h);
/* Free the packets the sinks kept and zero their counts. */
void sl_h_clear(struct sl_harness *h);

/* An mbuf whose data is a malloc'd copy of frame, exactly len bytes long. */
struct rte_mbuf *sl_h_mbuf(const uint8_t *frame, uint16_t len);
/* The same frame as a chain of two such segments, cut at `cut` (clamped). */
struct rte_mbuf *sl_h_chain(const uint8_t *frame, uint16_t len, uint16_t cut);
/* Call the stage on n packets (in bursts of at most SL_BURST_MAX). */
void sl_h_run(struct sl_harness *h, struct rte_mbuf **pkts, unsigned n);

/* Index of the type's drop reason by name (1..n_drops), or -1. */
int sl_h_drop(const struct sl_harness *h, const char *name);
/* Index of output port by name, or -1. */
int sl_h_output(const struct sl_harness *h, const char *name);

#endif
