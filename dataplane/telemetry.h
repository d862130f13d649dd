/* telemetry.h: the /sluice/ commands of DPDK's telemetry socket. */
#ifndef SL_TELEMETRY_H
#define SL_TELEMETRY_H

/* Register the /sluice/ commands for dataplane `name` (after EAL init; the
 * name's stats segment is what they read). Returns 0, or -1 after printing
 * why to stderr (the dataplane runs on without them). */
int sl_telemetry_register(const char *name);

#endif
