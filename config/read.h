/* read.h: reading a config file into memory, safely: regular files only, of
 * bounded size, never blocking on a FIFO or a device. sluicectl reads a
 * config this way with its caller's rights and sends the bytes; sluice-dp
 * reads its --config this way. No DPDK. */
#ifndef SL_READ_H
#define SL_READ_H

#include <stddef.h>

#include "config/diag.h"

/* A config is at most this many bytes; bigger ones are refused unread. */
#define SL_CONFIG_MAX_BYTES (256u * 1024)

/* Read the config at path into a malloc'd, NUL-terminated buffer. Returns 0,
 * or -1 with err->msg naming the file and the reason. */
int sl_config_read_file(const char *path, char **buf, size_t *len, struct sl_err *err);

#endif
