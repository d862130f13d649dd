/* emit.c: the JSON-lines emitter behind emit.h. Its thread (a DPDK control
 * thread) drains the record ring, formats each record with the stage's
 * function into a buffer and writes whole buffers to the file. */
#include "stages/emit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring_elem.h>

#define BATCH 64
#define BUF_LEN 65536

struct sl_emitter {
	struct rte_ring *ring;
	pthread_t thread;
	bool started;
	int stop; /* set by close, read by the thread (atomics) */
	int fd;
	size_t rec_size;
	sl_emit_fmt_fn fmt;
	struct sl_emit_stats cnt; /* written by the thread only */
	size_t blen;
	char buf[BUF_LEN];
	uint8_t *batch; /* BATCH records */
};

static void bump(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static void flush(struct sl_emitter *e)
{
	size_t off = 0;
	while (off < e->blen) {
		ssize_t w = write(e->fd, e->buf + off, e->blen - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			bump(&e->cnt.write_errors, 1);
			break;
		}
		off += (size_t)w;
	}
	e->blen = 0;
}

static void *emit_main(void *arg)
{
	struct sl_emitter *e = arg;
	for (;;) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(e->ring, e->batch,
							    (unsigned)e->rec_size, BATCH, NULL);
		for (unsigned i = 0; i < n; i++) {
			if (e->blen + SL_EMIT_LINE_MAX > BUF_LEN)
				flush(e);
			e->blen += e->fmt(e->buf + e->blen, BUF_LEN - e->blen,
					  e->batch + (size_t)i * e->rec_size);
			bump(&e->cnt.lines, 1);
		}
		bump(&e->cnt.records, n);
		if (n)
			continue;
		flush(e);
		if (__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE)) {
			if (rte_ring_count(e->ring) == 0)
				break;
			continue;
		}
		usleep(1000);
	}
	return NULL;
}

struct sl_emitter *sl_emit_open(const char *target, size_t rec_size, unsigned ring_slots,
				sl_emit_fmt_fn fmt, const struct sl_stage_env *env, char *err,
				size_t len)
{
	static unsigned seq;
	if (!target || strncmp(target, "json:", 5)) {
		snprintf(err, len, "'%s' is not a json:PATH target", target ? target : "");
		return NULL;
	}
	struct sl_emitter *e = calloc(1, sizeof(*e));
	if (!e || !(e->batch = calloc(BATCH, rec_size))) {
		free(e);
		snprintf(err, len, "out of memory");
		return NULL;
	}
	e->rec_size = rec_size;
	e->fmt = fmt;
	char ebuf[256] = "";
	e->fd = env->open_file(env, target + 5, true, ebuf, sizeof(ebuf));
	if (e->fd < 0) {
		snprintf(err, len, "'%s': %s", target, ebuf);
		goto fail;
	}
	/* Appending: an instance replacing this one in a graph load opens the
	 * same file while this one still writes. */
	(void)fcntl(e->fd, F_SETFL, fcntl(e->fd, F_GETFL) | O_APPEND);
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "sl_emit_%u", __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	e->ring = rte_ring_create_elem(name, (unsigned)rec_size, ring_slots, env->socket,
				       RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!e->ring) {
		snprintf(err, len, "no record ring of %u slots: %s", ring_slots,
			 rte_strerror(rte_errno));
		goto fail;
	}
	int rc = rte_ctrl_thread_create(&e->thread, "sl-emit", NULL, emit_main, e);
	if (rc) {
		snprintf(err, len, "cannot start the emitter thread: %s", strerror(-rc));
		goto fail;
	}
	e->started = true;
	return e;
fail:
	rte_ring_free(e->ring);
	if (e->fd >= 0)
		close(e->fd);
	free(e->batch);
	free(e);
	return NULL;
}

struct rte_ring *sl_emit_ring(struct sl_emitter *e)
{
	return e->ring;
}

size_t sl_emit_put_wait(struct sl_emitter *e, const void *recs, size_t n)
{
	size_t put = 0;
	unsigned stuck = 0;
	while (put < n && stuck < 10000) {
		unsigned k = rte_ring_sp_enqueue_burst_elem(
		    e->ring, (const uint8_t *)recs + put * e->rec_size, (unsigned)e->rec_size,
		    (unsigned)RTE_MIN(n - put, (size_t)BATCH), NULL);
		put += k;
		if (k == 0) {
			usleep(1000);
			stuck++;
		} else {
			stuck = 0;
		}
	}
	return put;
}

void sl_emit_close(struct sl_emitter *e, struct sl_emit_stats *last)
{
	if (!e)
		return;
	__atomic_store_n(&e->stop, 1, __ATOMIC_RELEASE);
	if (e->started)
		pthread_join(e->thread, NULL);
	if (last)
		sl_emit_stats(e, last);
	rte_ring_free(e->ring);
	close(e->fd);
	free(e->batch);
	free(e);
}

void sl_emit_stats(const struct sl_emitter *e, struct sl_emit_stats *out)
{
	out->records = __atomic_load_n(&e->cnt.records, __ATOMIC_RELAXED);
	out->lines = __atomic_load_n(&e->cnt.lines, __ATOMIC_RELAXED);
	out->write_errors = __atomic_load_n(&e->cnt.write_errors, __ATOMIC_RELAXED);
}
