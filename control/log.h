/* log.h: where sluiced says what it does: stderr or syslog. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

void sl_log_init(bool use_syslog);
void sl_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
