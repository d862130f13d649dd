/* server.h: the public socket and its clients (server.c). */
#ifndef SL_SERVER_H
#define SL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/daemon.h"

int sl_server_open(struct sl_daemon *d, char *err, size_t len);
void sl_server_close(struct sl_daemon *d);
void sl_server_accept(struct sl_daemon *d);
void sl_server_client_event(struct sl_daemon *d, unsigned idx, uint32_t events);
/* Reply to client idx if it is still the one (gen) that asked. Steals reply. */
void sl_server_reply(struct sl_daemon *d, unsigned idx, uint64_t gen, json_t *reply);
/* The same with a descriptor passed along (SCM_RIGHTS); fd is closed here
 * whatever happens, once sent or when the client is gone. */
void sl_server_reply_fd(struct sl_daemon *d, unsigned idx, uint64_t gen, json_t *reply, int fd);
/* Close idle clients, bring the listener back after a pause. */
void sl_server_tick(struct sl_daemon *d);

#endif
