/* supervisor.h: starting, watching, restarting and steering the dataplane (supervisor.c). */
#ifndef SL_SUPERVISOR_H
#define SL_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/daemon.h"

int sl_sup_start(struct sl_daemon *d, char *err, size_t len);
void sl_sup_dp_event(struct sl_daemon *d, uint32_t events);
void sl_sup_pidfd_event(struct sl_daemon *d);
void sl_sup_tick(struct sl_daemon *d);
/* Forward req to the dataplane for client idx; returns the pending entry,
 * or NULL with *reply. */
struct sl_pending *sl_sup_forward(struct sl_daemon *d, unsigned idx, json_t *req, const char *arg,
				  int core, json_t **reply);
void sl_sup_stop(struct sl_daemon *d, unsigned idx);
void sl_sup_restart(struct sl_daemon *d);
/* Adopt text (named name) as the last good config; cfg is its loaded form
 * (taken over). Resets the mapping to the config's own when reset_map. */
int sl_sup_set_config(struct sl_daemon *d, const char *text, size_t len, const char *name,
		      struct sl_config *cfg, bool reset_map);

#endif
