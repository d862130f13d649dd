/* pcapng_writer.c: writes clones queued by workers as pcapng from a control
 * thread (see pcapng_writer.h), with its own interface block and clock. */
#include "stages/pcapng_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "stages/stage.h"

#define CAP_BATCH 32 /* packets the writer copies and writes at once */

/* rte_pcapng_copy converts TSC to time through a static calibration that
 * it updates without a lock; the writer threads of several captures take
 * this lock around their copies. */
static pthread_mutex_t pcapng_copy_lock = PTHREAD_MUTEX_INITIALIZER;

static void writer_add(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Stamp a pcapng copy with the time its packet passed. DPDK 22.11's
 * rte_pcapng_copy converts the TSC from a process-wide calibration point
 * that it moves forward as it goes, and a TSC from before that point (every
 * packet queued before the first copy, or before another capture's newer
 * one) underflows to centuries ahead. So each writer keeps its own point,
 * taken at open, and sets the block's timestamp (pcapng spec 4.3: high and
 * low 32 bits at offsets 12 and 16, in the interface's if_tsresol, ns). */
static void set_time(const struct sl_pcapng_writer *s, struct rte_mbuf *c, uint64_t tsc)
{
	int64_t d = (int64_t)(tsc - s->tsc0);
	int64_t hz = (int64_t)s->hz;
	uint64_t ns = s->ns0 + (uint64_t)(d / hz * 1000000000 + d % hz * 1000000000 / hz);
	uint32_t t[2] = {(uint32_t)(ns >> 32), (uint32_t)ns};
	memcpy(rte_pktmbuf_mtod_offset(c, uint8_t *, 12), t, sizeof(t));
}

/* Copy, write and free n clones. */
static void write_batch(struct sl_pcapng_writer *s, struct sl_cap_item *items, unsigned n)
{
	struct rte_mbuf *pc[CAP_BATCH];
	unsigned k = 0;
	uint64_t bytes = 0, failed = 0;
	uint64_t room = s->max_write ? s->max_write - RTE_MIN(s->max_write, s->w_written) : n;

	/* After a failed write (the reader of a pipe left) or past the limit,
	 * clones are only freed. */
	if (s->w_failed || room < n) {
		unsigned keep = s->w_failed ? 0 : (unsigned)room;
		for (unsigned i = keep; i < n; i++)
			rte_pktmbuf_free(items[i].m);
		n = keep;
	}
	pthread_mutex_lock(&pcapng_copy_lock);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *c =
		    rte_pcapng_copy(s->port, 0, items[i].m, s->copy_pool, s->snaplen, items[i].tsc,
				    RTE_PCAPNG_DIRECTION_UNKNOWN);
		if (c) {
			set_time(s, c, items[i].tsc);
			pc[k++] = c;
			bytes += RTE_MIN(rte_pktmbuf_pkt_len(items[i].m), s->snaplen);
		} else {
			failed++;
		}
		rte_pktmbuf_free(items[i].m);
	}
	pthread_mutex_unlock(&pcapng_copy_lock);
	if (k) {
		ssize_t want = 0;
		for (unsigned i = 0; i < k; i++)
			want += rte_pktmbuf_pkt_len(pc[i]);
		ssize_t got = rte_pcapng_write_packets(s->pcapng, pc, (uint16_t)k);
		if (got == want) {
			writer_add(&s->w_written, k);
			writer_add(&s->w_bytes, bytes);
			s->good += got;
		} else {
			int e = got < 0 ? (rte_errno ? rte_errno : EIO) : ENOSPC;
			/* Cut a partial block off (disk full): the file stays
			 * readable up to the last whole packet. A pipe cannot
			 * be cut: its stream ends here. */
			if (s->seekable &&
			    (ftruncate(s->fd, s->good) != 0 || lseek(s->fd, s->good, SEEK_SET) < 0))
				e = errno;
			if (!s->seekable)
				__atomic_store_n(&s->w_failed, e ? e : EIO, __ATOMIC_RELEASE);
			else if (!s->warned)
				fprintf(stderr, "sluice-dp: capture '%s': cannot write '%s': %s\n",
					s->name, s->path, strerror(e));
			s->warned = true;
			failed += k;
		}
		rte_pktmbuf_free_bulk(pc, k);
	}
	if (failed)
		writer_add(&s->w_errors, failed);
}

static void *writer_main(void *arg)
{
	struct sl_pcapng_writer *s = arg;
	struct sl_cap_item items[CAP_BATCH];
	const struct timespec idle = {0, 200 * 1000};

	for (;;) {
		/* Read the flag before dequeuing: once it is seen, whatever the
		 * stopped workers queued is in the rings and gets drained. */
		bool stop = __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
		unsigned got = 0;
		for (unsigned r = 0; r < s->n_rings; r++) {
			unsigned n = rte_ring_sc_dequeue_burst_elem(
			    s->rings[r], items, sizeof(items[0]), CAP_BATCH, NULL);
			if (n)
				write_batch(s, items, n);
			got += n;
		}
		if (got)
			continue;
		if (stop)
			break;
		nanosleep(&idle, NULL);
	}
	return NULL;
}

/* Start the stream: the section header rte_pcapng makes, then one interface
 * block of our own naming the graph point.
 *
 * Why the block is written here: DPDK 22.11's rte_pcapng_fdopen writes one
 * interface block per ethdev port (named after the device) and has no call
 * to add another; rte_pcapng_write_packets then numbers each packet by its
 * mbuf's port through a private port -> index table. So the handle is
 * opened on a scratch memfd, the section header it wrote there is copied
 * to the file (its ethdev blocks are left behind), our block follows as
 * interface 0, and the handle's fd is then pointed at the file (dup3).
 * Packets are copied as if from the first ethdev port, which the table
 * maps to index 0: ours. */
static int stream_open(struct sl_pcapng_writer *s, int fd, const char *name, char *err, size_t len)
{
	uint16_t port = RTE_MAX_ETHPORTS;
	uint16_t p;
	RTE_ETH_FOREACH_DEV(p)
	{
		port = p;
		break;
	}
	if (port == RTE_MAX_ETHPORTS) {
		snprintf(err, len,
			 "no DPDK port in the process (rte_pcapng numbers interfaces by port)");
		return -1;
	}
	s->port = port;

	int mfd = memfd_create("sl_capture_hdr", MFD_CLOEXEC);
	if (mfd < 0) {
		snprintf(err, len, "memfd_create: %s", strerror(errno));
		return -1;
	}
	s->pcapng = rte_pcapng_fdopen(mfd, NULL, NULL, "sluice", NULL);
	if (!s->pcapng) {
		snprintf(err, len, "rte_pcapng_fdopen: %s", rte_strerror(rte_errno));
		close(mfd);
		return -1;
	}
	uint32_t shb_len = 0;
	uint8_t shb[512];
	if (pread(mfd, &shb_len, 4, 4) != 4 || shb_len < 28 || shb_len > sizeof(shb) ||
	    pread(mfd, shb, shb_len, 0) != (ssize_t)shb_len) {
		snprintf(err, len, "rte_pcapng wrote no section header");
		return -1; /* close closes the handle (and mfd with it) */
	}

	/* Interface Description Block (pcapng spec, section 4.2): link type
	 * Ethernet, our snaplen, if_name and if_description naming the
	 * point, if_tsresol 9 since rte_pcapng stamps in nanoseconds. */
	uint8_t idb[256] = {0};
	char descr[96];
	char nm[65];
	snprintf(nm, sizeof(nm), "%s", name ? name : "");
	size_t nl = strlen(nm);
	snprintf(descr, sizeof(descr), "sluice capture at graph point %s", nm);
	size_t dl = strlen(descr);
	uint32_t o = 16;
	uint32_t v32;
	uint16_t v16;
#define PUT(ptr, n)                                                                                \
	do {                                                                                       \
		memcpy(idb + o, ptr, n);                                                           \
		o += (uint32_t)(n);                                                                \
	} while (0)
#define OPT(code, ptr, n)                                                                          \
	do {                                                                                       \
		v16 = code;                                                                        \
		PUT(&v16, 2);                                                                      \
		v16 = (uint16_t)(n);                                                               \
		PUT(&v16, 2);                                                                      \
		PUT(ptr, n);                                                                       \
		o = RTE_ALIGN(o, 4);                                                               \
	} while (0)
	uint8_t tsresol = 9;
	OPT(2, nm, nl);	     /* if_name */
	OPT(3, descr, dl);   /* if_description */
	OPT(9, &tsresol, 1); /* if_tsresol */
	OPT(0, descr, 0);    /* opt_endofopt */
	o += 4;		     /* trailing block length */
#undef OPT
#undef PUT
	v32 = 1; /* block type: IDB */
	memcpy(idb, &v32, 4);
	memcpy(idb + 4, &o, 4);
	v16 = 1; /* LINKTYPE_ETHERNET */
	memcpy(idb + 8, &v16, 2);
	v32 = s->snaplen;
	memcpy(idb + 12, &v32, 4);
	memcpy(idb + o - 4, &o, 4);

	if (write(fd, shb, shb_len) != (ssize_t)shb_len || write(fd, idb, o) != (ssize_t)o) {
		snprintf(err, len, "cannot write the pcapng header: %s", strerror(errno));
		return -1;
	}
	if (dup3(fd, mfd, O_CLOEXEC) < 0) {
		snprintf(err, len, "dup3: %s", strerror(errno));
		return -1;
	}
	struct stat sb;
	s->seekable = fstat(mfd, &sb) == 0 && S_ISREG(sb.st_mode);
	s->fd = mfd;
	s->good = (off_t)shb_len + o;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->tsc0 = rte_rdtsc();
	s->ns0 = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
	s->hz = rte_get_tsc_hz();
	return 0;
}

int sl_pcapng_writer_open(struct sl_pcapng_writer *w, int fd, const char *ifname, uint32_t snaplen,
			  unsigned n_rings, unsigned queue, int socket, const char *name,
			  const char *path, char *err, size_t len)
{
	static unsigned seq; /* unique DPDK object names */
	char nm[RTE_MEMPOOL_NAMESIZE];

	w->fd = -1;
	w->snaplen = snaplen;
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->path, sizeof(w->path), "%s", path);
	if (n_rings == 0 || n_rings > SL_PCAPNG_MAX_RINGS) {
		snprintf(err, len, "%u producers (at most %u)", n_rings, SL_PCAPNG_MAX_RINGS);
		return -1;
	}
	if (stream_open(w, fd, ifname, err, len) < 0)
		return -1;
	unsigned id = seq++;
	for (unsigned r = 0; r < n_rings; r++) {
		snprintf(nm, sizeof(nm), "slcap_r%u_%u", id, r);
		w->rings[r] = rte_ring_create_elem(nm, sizeof(struct sl_cap_item), queue, socket,
						   RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (!w->rings[r]) {
			snprintf(err, len, "cannot make its queue: %s", rte_strerror(rte_errno));
			return -1;
		}
		w->n_rings = r + 1;
	}
	/* Clones are header-only mbufs (data room 0): a chained packet takes
	 * one per segment, and the workers' caches may hold a few. */
	unsigned n_clones = n_rings * (queue + 2 * SL_BURST_MAX + 64);
	snprintf(nm, sizeof(nm), "slcap_c%u", id);
	w->clone_pool = rte_pktmbuf_pool_create(nm, n_clones, 32, 0, 0, socket);
	/* The writer copies one batch at a time, each into one mbuf with
	 * room for the snaplen, the block header and its options. */
	uint32_t room = RTE_PKTMBUF_HEADROOM + rte_pcapng_mbuf_size(snaplen);
	snprintf(nm, sizeof(nm), "slcap_p%u", id);
	w->copy_pool = rte_pktmbuf_pool_create(
	    nm, 2 * CAP_BATCH, 0, 0, (uint16_t)RTE_MIN(room, (uint32_t)UINT16_MAX), socket);
	if (!w->clone_pool || !w->copy_pool) {
		snprintf(err, len, "cannot make its pools: %s", rte_strerror(rte_errno));
		return -1;
	}
	snprintf(nm, sizeof(nm), "slcap-%u", id);
	int rc = rte_ctrl_thread_create(&w->thread, nm, NULL, writer_main, w);
	if (rc != 0) {
		snprintf(err, len, "cannot start its writer thread: %s", strerror(rc));
		return -1;
	}
	w->thread_running = true;
	return 0;
}

void sl_pcapng_writer_close(struct sl_pcapng_writer *w, bool stats, uint64_t ifrecv,
			    uint64_t ifdrop)
{
	if (w->thread_running) {
		__atomic_store_n(&w->stop, true, __ATOMIC_RELEASE);
		pthread_join(w->thread, NULL);
		w->thread_running = false;
	}
	for (unsigned r = 0; r < w->n_rings; r++) { /* a thread that never ran leaves clones */
		struct sl_cap_item it;
		while (rte_ring_sc_dequeue_elem(w->rings[r], &it, sizeof(it)) == 0)
			rte_pktmbuf_free(it.m);
		rte_ring_free(w->rings[r]);
		w->rings[r] = NULL;
	}
	w->n_rings = 0;
	if (w->pcapng && stats && !w->w_failed)
		rte_pcapng_write_stats(w->pcapng, w->port, NULL, 0, 0, ifrecv, ifdrop);
	if (w->pcapng)
		rte_pcapng_close(w->pcapng); /* closes the file */
	w->pcapng = NULL;
	rte_mempool_free(w->copy_pool);
	rte_mempool_free(w->clone_pool);
	w->copy_pool = w->clone_pool = NULL;
}
