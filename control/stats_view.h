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
/* The same view for a reader that is not sluiced's main loop (the metrics
 * thread), on its own mapping: *stats follows the segment NAME of dataplane
 * pid (opened only when no_open is NULL, else the error is no_open) and the
 * result is its JSON snapshot, or NULL with err. */
json_t *sl_view_snapshot_of(const struct sl_stats_hdr **stats, const char *name, long pid,
			    const char *no_open, char *err, size_t len);
/* A validated copy of the live segment (free() it), following a graph
 * load's new one; NULL with err while there is none. */
struct sl_stats_hdr *sl_view_raw_snapshot(struct sl_daemon *d, char *err, size_t len);
/* view += folded (the totals of dead dataplanes), for the entries view has:
 * how sluiced's totals stay monotonic across restarts. */
void sl_view_add_totals(json_t *view, json_t *folded);
/* --attach: take over the totals an earlier sluiced had folded. */
void sl_view_load_totals(struct sl_daemon *d);
int sl_view_reset(struct sl_daemon *d, char *err, size_t len);
void sl_view_close(struct sl_daemon *d);
/* Map the running dataplane's current segment now (after it says hello or
 * loads a graph), so its final counters can be read even after it exits. */
void sl_view_refresh(struct sl_daemon *d);

#endif
