/* cpus.h: the machine's CPUs as the config's core pool sees them: the
 * default pool, and which CPUs are isolated from the scheduler. */
#ifndef SL_CPUS_H
#define SL_CPUS_H

#include <stdbool.h>

/* The highest CPU number a config may name, plus one. */
#define SL_MAX_CPUS 1024

/* The default core pool: the isolated cores, else every online core but the
 * first. Returns the count written to cores (at most max). */
unsigned sl_cpu_default_pool(unsigned *cores, unsigned max);
/* Whether a CPU is listed in /sys/devices/system/cpu/isolated. */
bool sl_cpu_is_isolated(unsigned cpu);

#endif
