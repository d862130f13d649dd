/* pcapng_writer.h: a pcapng stream written off the worker cores. Workers
 * clone the packets to capture (no data copy) into SP/SC rings, one per
 * producing stage instance; a control thread of the writer's own makes the
 * rte_pcapng copies, writes them to a file or a pipe and frees the clones.
 * The stream starts with rte_pcapng's section header and one interface
 * block of ours naming the graph point, and may end with interface
 * statistics (received, dropped). Used by the capture stage and the live
 * capture (observe.c). */
#ifndef SL_PCAPNG_WRITER_H
#define SL_PCAPNG_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>

#define SL_PCAPNG_MAX_RINGS 64

/* What a worker hands the writer: the clone and when it passed. */
struct sl_cap_item {
	struct rte_mbuf *m;
	uint64_t tsc;
};

struct sl_pcapng_writer {
	/* Worker side: ring i belongs to producer i alone. */
	struct rte_ring *rings[SL_PCAPNG_MAX_RINGS];
	unsigned n_rings;
	struct rte_mempool *clone_pool;
	uint32_t snaplen;
	/* Writer side: its own figures, read (relaxed) by anyone. */
	uint64_t w_written, w_bytes, w_errors;
	int w_failed;	    /* errno of a write that failed (EPIPE: the reader left) */
	uint64_t max_write; /* write at most this many packets (0: no limit) */
	bool stop;
	bool thread_running;
	pthread_t thread;
	rte_pcapng_t *pcapng;
	struct rte_mempool *copy_pool;
	uint16_t port;		/* the ethdev port whose file index is our interface's */
	uint64_t ns0, tsc0, hz; /* the clock: ns0 (since the epoch) was tsc0 */
	int fd;			/* the file, as the handle holds it */
	off_t good;		/* its length up to the last whole block */
	bool seekable;		/* a file (a partial block can be cut off), not a pipe */
	bool warned;
	char name[64]; /* for messages */
	char path[256];
};

/* Start the stream on fd (the writer keeps a duplicate; the caller still
 * closes its fd): section header and the interface block named ifname, and
 * make n_rings rings of `queue` items, the pools and the writer thread.
 * name and path are for messages. Management thread. 0, or -1 with err (and
 * nothing left to free but what sl_pcapng_writer_close frees). */
int sl_pcapng_writer_open(struct sl_pcapng_writer *w, int fd, const char *ifname, uint32_t snaplen,
			  unsigned n_rings, unsigned queue, int socket, const char *name,
			  const char *path, char *err, size_t len);

/* Stop the thread after it has written what is queued, write an interface
 * statistics block when stats (ifrecv, ifdrop), close the stream and free
 * everything. Producers must be gone. Idempotent. */
void sl_pcapng_writer_close(struct sl_pcapng_writer *w, bool stats, uint64_t ifrecv,
			    uint64_t ifdrop);

static inline uint64_t sl_pcapng_writer_get(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

#endif
