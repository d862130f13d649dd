/* metrics.h: sluiced's counters in the Prometheus text format (metrics.c). */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* What the view does not hold. */
struct sl_metrics_info {
	bool up;	   /* view includes the running dataplane's segment */
	uint64_t restarts; /* dataplanes restarted by this sluiced */
	const char *version, *dpdk;
};

/* Render a counter view (sl_stats_to_json's shape, with the totals of dead
 * dataplanes folded in; NULL when there is none) as Prometheus text
 * exposition format 0.0.4, into a malloc'd buffer of *len bytes (free()
 * it). Returns NULL when out of memory. */
char *sl_metrics_render(json_t *view, const struct sl_metrics_info *info, size_t *len);

/* Escape a label value (backslash, double quote, newline) into out, always
 * terminated; returns the length it needed (as snprintf does). */
size_t sl_metrics_escape(const char *v, char *out, size_t len);

/* The DPDK version sluiced was built with ("22.11.4"). */
const char *sl_metrics_dpdk_version(void);

#endif
