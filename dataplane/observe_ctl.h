/* observe_ctl.h: the dataplane's capture and trace commands (observe_ctl.c):
 * they resolve graph points to stage instances, switch the stage layer's
 * hooks (stages/observe.h) on and off around RCU grace periods, and answer. */
#ifndef SL_DP_OBSERVE_CTL_H
#define SL_DP_OBSERVE_CTL_H

#include <jansson.h>

#include <stdint.h>

#include "dataplane/runtime.h"

/* How a reply that comes later reaches the connection with this serial. */
typedef void (*sl_dp_late_reply_fn)(void *ctx, uint64_t serial, json_t *reply);

/* "capture": the reply; *fd_out is the read end of the stream to send with
 * it (or -1 on refusal). */
json_t *sl_dp_capture_cmd(struct sl_runtime *rt, json_t *req, int *fd_out);
/* "trace": NULL when the reply comes later (sl_dp_obs_tick sends it to the
 * connection with serial `serial`), else an error reply. */
json_t *sl_dp_trace_cmd(struct sl_runtime *rt, json_t *req, uint64_t serial);
/* Management thread, every poll: end captures and traces that are done. */
void sl_dp_obs_tick(struct sl_runtime *rt, sl_dp_late_reply_fn reply, void *ctx);
/* End any capture and trace now (graph loads, the stop). */
void sl_dp_obs_stop_all(struct sl_runtime *rt, sl_dp_late_reply_fn reply, void *ctx,
			const char *why);

#endif
