/* control.h: the dataplane's end of the control channel. sluiced talks to it
 * over the socketpair it spawned the dataplane with, or, after sluiced was
 * restarted, over the dataplane's private socket (--control-socket). The
 * management thread serves it between ticks; workers never see it. */
#ifndef SL_DP_CONTROL_H
#define SL_DP_CONTROL_H

#include <jansson.h>

#include "control/proto/protocol.h"
#include "dataplane/runtime.h"

#define SL_DP_CTL_MAX_CONNS 8

struct sl_dp_ctl;

/* What the commands do; main.c owns the state they change. */
struct sl_dp_ops {
	void *ctx;
	/* Fill result with who this dataplane is. */
	void (*hello)(void *ctx, json_t *result);
	/* Replace the running graph with config text (name: the file name
	 * its errors carry); on error return -1 with code and err. */
	int (*graph_load)(void *ctx, const char *text, size_t text_len, const char *name,
			  json_t *result, const char **code, char *err, size_t len);
	void (*shutdown)(void *ctx);
};

struct sl_dp_ctl {
	int listen_fd;
	char path[108];
	struct sl_lineconn conns[SL_DP_CTL_MAX_CONNS];
	uint64_t serial[SL_DP_CTL_MAX_CONNS]; /* tells a connection from a later one */
	unsigned n_conns;
	uint64_t next_serial;
	struct sl_runtime **rt; /* the current runtime (graph loads replace it) */
	struct sl_dp_ops ops;
	struct sl_lineconn *cur;
	uint64_t cur_serial;
};

/* Send a reply that came later to the connection with this serial, if it
 * is still there (consumes reply). */
void sl_dp_ctl_reply(struct sl_dp_ctl *c, uint64_t serial, json_t *reply);

/* inherited_fd: the socketpair end, or -1. listen_path: private socket to
 * accept controllers on, or NULL. */
int sl_dp_ctl_open(struct sl_dp_ctl *c, int inherited_fd, const char *listen_path,
		   struct sl_runtime **rt, const struct sl_dp_ops *ops, char *err, size_t len);
/* Wait up to timeout_ms for requests and serve them. */
void sl_dp_ctl_poll(struct sl_dp_ctl *c, int timeout_ms);
void sl_dp_ctl_close(struct sl_dp_ctl *c);

#endif
