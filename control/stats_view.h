/* stats_view.h: the counters as the operator sees them (stats_view.c). */
#ifndef SL_STATS_VIEW_H
#define SL_STATS_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/daemon.h"

/* The running dataplane's counters, plus the totals of earlier dataplanes,
 * minus the last reset. NULL if none yet. */
json_t *sl_view_counters(struct sl_daemon *d, char *err, size_t len);
void sl_view_fold_dead(struct sl_daemon *d);
/* --attach: take over the totals an earlier sluiced had folded. */
void sl_view_load_totals(struct sl_daemon *d);
int sl_view_reset(struct sl_daemon *d, char *err, size_t len);
void sl_view_close(struct sl_daemon *d);
/* Map the running dataplane's current segment now (after it says hello or
 * loads a graph), so its final counters can be read even after it exits. */
void sl_view_refresh(struct sl_daemon *d);

#endif
