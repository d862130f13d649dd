/* port_io.c: init shared by port_rx and port_tx: bind the instance to its
 * port and queue. */
#include <stdio.h>

#include "stages/port_io.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf_dyn.h>
#include <rte_reorder.h>

/* The name librte_reorder (22.11) registers its sequence field under; its
 * header does not export it. Registering the same name, size and alignment
 * gives the same offset, whichever registers first. */
#define SL_REORDER_SEQN_FIELD "rte_reorder_seqn_dynfield"

int sl_port_io_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	struct sl_port_io_state *s = st->state;

	if (!env->port) {
		snprintf(err, len, "stage '%s': port is not open", st->name);
		return -1;
	}
	s->port = env->port;
	s->queue = env->queue;
	st->no_tick = !env->port->drv || !env->port->drv->tx_idle;
	s->retries = env->tx_retries;
	s->stall_tsc = rte_get_tsc_hz() / 1000000 *
		       (env->tx_stall_us ? env->tx_stall_us : SL_TX_STALL_US_DEFAULT);
	s->ts_mult = 0;
	s->seqn_off = -1;
	if (env->rx_seqn) {
		/* The same field rte_reorder registers: whoever comes first. */
		static const struct rte_mbuf_dynfield desc = {
		    .name = SL_REORDER_SEQN_FIELD,
		    .size = sizeof(rte_reorder_seqn_t),
		    .align = __alignof__(rte_reorder_seqn_t),
		};
		s->seqn_off = rte_mbuf_dynfield_register(&desc);
		if (s->seqn_off < 0) {
			snprintf(err, len, "cannot register the sequence number field: %s",
				 rte_strerror(rte_errno));
			return -1;
		}
	}
	if (env->port->rx_ts_mult > 1) {
		if (rte_mbuf_dyn_rx_timestamp_register(&s->ts_off, &s->ts_flag) < 0) {
			snprintf(err, len, "cannot register the RX timestamp field: %s",
				 rte_strerror(rte_errno));
			return -1;
		}
		s->ts_mult = env->port->rx_ts_mult;
	}
	return 0;
}
