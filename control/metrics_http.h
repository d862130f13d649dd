/* metrics_http.h: sluiced's Prometheus endpoint, GET /metrics (metrics_http.c). */
#ifndef SL_METRICS_HTTP_H
#define SL_METRICS_HTTP_H

#include <stddef.h>

#include "control/daemon.h"

/* Check d->metrics_addr (numeric "HOST:PORT" or "[V6]:PORT") and bind and
 * listen on it, before daemonizing, so that a bad address or a port in use
 * fails sluiced's start. Returns 0, or -1 with the reason in err. */
int sl_metrics_http_bind(struct sl_daemon *d, char *err, size_t len);
/* Serve the bound socket from a thread of libmicrohttpd's own. Call it after
 * the signals sluiced takes on its signalfd are blocked (the thread inherits
 * the mask). */
int sl_metrics_http_start(struct sl_daemon *d, char *err, size_t len);
/* The main loop's side, once per turn: hand the thread the dataplane's pid
 * and the folded totals when they have changed. Cheap when they have not. */
void sl_metrics_http_sync(struct sl_daemon *d);
void sl_metrics_http_stop(struct sl_daemon *d);

#endif
