/* port_tx.c: the `port_tx` sink stage sends bursts on one TX queue of a
 * port. A full queue is retried a bounded number of times; what still does
 * not fit is freed and counted as "tx_full". */
#include <stddef.h>

#include "stages/port_io.h"

enum { TX_FULL = 1 };
static const char *const tx_drops[] = {"tx_full"};

static const struct sl_param tx_params[] = {
    {.name = "port",
     .kind = SL_PARAM_PORT,
     .offset = offsetof(struct sl_port_io_conf, port),
     .required = true,
     .help = "port to send on"},
};

static void port_tx_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct sl_port_io_state *s = st->state;
	uint16_t lost = sl_port_tx_all(s->port, s->queue, pkts, n, s->retries, s->stall_tsc);

	st->cnt->out[0] += n - lost;
	st->cnt->drops[TX_FULL] += lost;
}

/* A quiet port still gets its sent buffers back (see tx_idle). */
static void port_tx_tick(struct sl_stage *st)
{
	struct sl_port_io_state *s = st->state;
	if (s->port->drv->tx_idle)
		s->port->drv->tx_idle(s->port, s->queue);
}

static struct sl_stage_type port_tx_stage = {
    .name = "port_tx",
    .help = "send bursts on a port (one TX queue per instance)",
    .sink_output = "sent",
    .drops = tx_drops,
    .n_drops = 1,
    .params = tx_params,
    .n_params = 1,
    .conf_size = sizeof(struct sl_port_io_conf),
    .state_size = sizeof(struct sl_port_io_state),
    .needs_port = true,
    .is_tx = true,
    .init = sl_port_io_init,
    .process = port_tx_process,
    .tick = port_tx_tick,
};

SL_STAGE_REGISTER(port_tx_stage)
