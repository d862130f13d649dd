/* emit.h: a small JSON-lines emitter for stages that report records
 * (window, topk). The worker hands fixed-size records by value to an SP/SC
 * ring and never waits; a control thread of the emitter (off the workers)
 * formats each with the stage's function and appends the lines to one file. */
#ifndef SL_EMIT_H
#define SL_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include <rte_ring.h>

#include "stages/stage.h"

/* Format rec as one JSON object and a newline into buf; returns its length
 * (under SL_EMIT_LINE_MAX). Runs on the emitter thread. */
#define SL_EMIT_LINE_MAX 1024
typedef size_t (*sl_emit_fmt_fn)(char *buf, size_t len, const void *rec);

struct sl_emit_stats {
	uint64_t records; /* taken off the ring */
	uint64_t lines;	  /* written */
	uint64_t write_errors;
};

struct sl_emitter;

/* Management thread: open target ("json:/abs/path", through env->open_file),
 * make a ring of ring_slots (a power of two) records of rec_size bytes (a
 * multiple of 4) on env->socket, and start the thread. */
struct sl_emitter *sl_emit_open(const char *target, size_t rec_size, unsigned ring_slots,
				sl_emit_fmt_fn fmt, const struct sl_stage_env *env, char *err,
				size_t len);
/* The ring the worker enqueues to (rte_ring_sp_enqueue_elem). */
struct rte_ring *sl_emit_ring(struct sl_emitter *e);
/* Management thread, once the worker is done with the ring: queue n
 * records, waiting for room (up to 10 s without progress). Returns how many
 * went. */
size_t sl_emit_put_wait(struct sl_emitter *e, const void *recs, size_t n);
/* Management thread: write everything queued, stop the thread, close the
 * file and free e (NULL: nothing). last (optional) gets the final counts. */
void sl_emit_close(struct sl_emitter *e, struct sl_emit_stats *last);
/* The counts so far (relaxed reads; any thread). */
void sl_emit_stats(const struct sl_emitter *e, struct sl_emit_stats *out);

#endif
