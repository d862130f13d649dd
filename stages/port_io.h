/* port_io.h: the config and state that port_rx and port_tx share. */
#ifndef SL_PORT_IO_H
#define SL_PORT_IO_H

#include "drivers/port.h"
#include "stages/stage.h"

struct sl_port_io_conf {
	char *port; /* must stay first: the runtime reads it (needs_port) */
};

struct sl_port_io_state {
	struct sl_port *port;
	uint16_t queue;
	uint32_t retries;
	uint64_t stall_tsc; /* port_tx: give up a queue this long without progress */
	/* port_rx: scale the port's RX timestamps to nanoseconds (0: no). */
	uint32_t ts_mult;
	int ts_off;
	uint64_t ts_flag;
	/* port_rx: stamp rte_reorder's sequence field (-1: no). */
	int seqn_off;
	uint32_t seqn;
};

int sl_port_io_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len);

#endif
