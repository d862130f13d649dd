/* pin.h: core pinning. Reads the machine's topology with hwloc, checks the
 * core pool, picks a core for the management thread, and writes the EAL
 * --lcores argument that pins one worker lcore per pool core. */
#ifndef SL_PIN_H
#define SL_PIN_H

#include <stddef.h>

#include "dataplane/runtime.h"

/* Fill rt->lcores / n_lcores from cfg->dp.cores and write the EAL lcore map
 * ("0@M,1@c1,...") into lcores_arg. Warns about clusters on cores that are
 * not isolated. */
int sl_pin_plan(const struct sl_config *cfg, struct sl_runtime *rt, char *lcores_arg,
		size_t arg_len, char *err, size_t len);

/* Warn where a port stage runs on another NUMA node than its port. */
void sl_pin_check_numa(const struct sl_runtime *rt);

#endif
