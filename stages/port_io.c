/* port_io.c: init shared by port_rx and port_tx: bind the instance to its
 * port and queue. */
#include <stdio.h>

#include "stages/port_io.h"

int sl_port_io_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	struct sl_port_io_state *s = st->state;

	if (!env->port) {
		snprintf(err, len, "stage '%s': port is not open", st->name);
		return -1;
	}
	s->port = env->port;
	s->queue = env->queue;
	s->retries = env->tx_retries;
	return 0;
}
