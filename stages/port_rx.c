/* port_rx.c: the `port_rx` source stage polls one RX queue of a port; the
 * worker hands what it returns to the stage's output. */
#include <stddef.h>

#include <rte_mbuf_dyn.h>

#include "stages/port_io.h"

static const char *const rx_outputs[] = {"out"};

static const struct sl_param rx_params[] = {
    {.name = "port",
     .kind = SL_PARAM_PORT,
     .offset = offsetof(struct sl_port_io_conf, port),
     .required = true,
     .help = "port to receive from"},
};

static uint16_t port_rx_poll(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t max)
{
	struct sl_port_io_state *s = st->state;
	uint16_t n = sl_port_rx(s->port, s->queue, pkts, max);
	/* Only when a stage reads capture time from a PMD stamping in other
	 * units: one predictable branch per burst otherwise. */
	if (unlikely(s->ts_mult))
		for (uint16_t i = 0; i < n; i++)
			if (pkts[i]->ol_flags & s->ts_flag)
				*RTE_MBUF_DYNFIELD(pkts[i], s->ts_off, rte_mbuf_timestamp_t *) *=
				    s->ts_mult;
	if (unlikely(s->seqn_off >= 0))
		for (uint16_t i = 0; i < n; i++)
			*RTE_MBUF_DYNFIELD(pkts[i], s->seqn_off, uint32_t *) = s->seqn++;
	return n;
}

static struct sl_stage_type port_rx_stage = {
    .name = "port_rx",
    .help = "receive bursts from a port (one RX queue per instance)",
    .outputs = rx_outputs,
    .n_outputs = 1,
    .params = rx_params,
    .n_params = 1,
    .conf_size = sizeof(struct sl_port_io_conf),
    .state_size = sizeof(struct sl_port_io_state),
    .needs_port = true,
    .is_source = true,
    .init = sl_port_io_init,
    .poll = port_rx_poll,
};

SL_STAGE_REGISTER(port_rx_stage)
