/* worker.h: the run-to-completion loop of each worker lcore, and the drain
 * that empties the connectors before the dataplane stops. */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include "dataplane/runtime.h"

/* enum sl_dp_state; workers poll ports only while SL_DP_RUNNING. */
extern volatile uint32_t sl_dp_state;

/* rte_eal_remote_launch() entry; arg is a struct sl_lcore. */
int sl_worker_main(void *arg);

/* With sources stopped (SL_DP_DRAINING), wait until every connector ring is
 * empty and stays empty across two full turns of every worker. Returns 0, or
 * -1 if that did not happen within timeout_ms. */
int sl_workers_drain(struct sl_runtime *rt, unsigned timeout_ms);

#endif
