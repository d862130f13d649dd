/* capture.c: the `capture` stage writes the packets passing a point of the
 * graph to a pcapng file with rte_pcapng and hands every packet on
 * unchanged. The worker only clones (no data copy) and enqueues the clones
 * to a ring; a control thread of the stage's own makes the pcapng copies,
 * writes them and frees the clones, so no file I/O runs on a worker core. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pcapng.h>

#include "stages/stage.h"

struct capture_conf {
	char *file;
	uint64_t snaplen;
	uint64_t max_packets;
	uint64_t max_bytes;
	uint64_t queue;
};

/* Extra counters (st->aux), all written by the worker. The first five are
 * its own; the last three mirror what the writer thread counted. */
enum {
	AUX_CAPTURED,	    /* clones handed to the writer */
	AUX_CAPTURED_BYTES, /* their captured lengths (after snaplen) */
	AUX_RING_FULL,	    /* copies dropped: queue full */
	AUX_CLONE_FAILED,   /* copies dropped: no clone mbuf */
	AUX_LIMIT_SKIPPED,  /* packets past max_packets / max_bytes */
	AUX_WRITTEN,	    /* packets written to the file */
	AUX_WRITTEN_BYTES,  /* their captured lengths */
	AUX_WRITE_ERRORS,   /* packets the writer could not copy or write */
	AUX_N
};
static const char *const aux_labels[AUX_N] = {
    "captured",	     "captured_bytes", "ring_full",	"clone_failed",
    "limit_skipped", "written",	       "written_bytes", "write_errors",
};

#define CAP_BATCH 32 /* packets the writer copies and writes at once */

/* What the worker hands the writer: the clone and when it passed. */
struct cap_item {
	struct rte_mbuf *m;
	uint64_t tsc;
};

struct capture_state {
	/* Worker side. */
	struct rte_ring *ring; /* SP (worker) / SC (writer) */
	struct rte_mempool *clone_pool;
	uint32_t snaplen;
	bool done; /* a limit was reached: capture has stopped for good */
	uint64_t n_pkts, n_bytes;
	uint64_t max_pkts, max_bytes; /* UINT64_MAX: no limit */
	/* Writer side: its own figures, read (relaxed) by the worker, which
	 * copies them into st->aux. The writer never touches st->aux: a graph
	 * load that keeps this instance moves st->aux to a new segment. */
	uint64_t w_written, w_bytes, w_errors;
	bool stop;
	bool thread_running;
	pthread_t thread;
	rte_pcapng_t *pcapng;
	struct rte_mempool *copy_pool;
	uint16_t port;		/* the ethdev port whose file index is our interface's */
	uint64_t ns0, tsc0, hz; /* the clock: ns0 (since the epoch) was tsc0 */
	int fd;			/* the file, as the handle holds it */
	off_t good;		/* its length up to the last whole block */
	bool warned;
	/* Management side: the file this instance holds, for the registry. */
	char *path;
	dev_t dev;
	ino_t ino;
	char name[SL_NAME_MAX];
	struct capture_state *next_open;
};

/* Every capture file held open in the process (management thread only):
 * a second writer on one file would interleave two pcapng streams. */
static struct capture_state *open_captures;

/* rte_pcapng_copy converts TSC to time through a static calibration that
 * it updates without a lock; the writer threads of several captures take
 * this lock around their copies. */
static pthread_mutex_t pcapng_copy_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned capture_n_aux(const void *conf)
{
	(void)conf;
	return AUX_N;
}

static void writer_add(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Stamp a pcapng copy with the time its packet passed. DPDK 22.11's
 * rte_pcapng_copy converts the TSC from a process-wide calibration point
 * that it moves forward as it goes, and a TSC from before that point (every
 * packet queued before the first copy, or before another capture's newer
 * one) underflows to centuries ahead. So each capture keeps its own point,
 * taken in init, and sets the block's timestamp (pcapng spec 4.3: high and
 * low 32 bits at offsets 12 and 16, in the interface's if_tsresol, ns). */
static void set_time(const struct capture_state *s, struct rte_mbuf *c, uint64_t tsc)
{
	int64_t d = (int64_t)(tsc - s->tsc0);
	int64_t hz = (int64_t)s->hz;
	uint64_t ns = s->ns0 + (uint64_t)(d / hz * 1000000000 + d % hz * 1000000000 / hz);
	uint32_t t[2] = {(uint32_t)(ns >> 32), (uint32_t)ns};
	memcpy(rte_pktmbuf_mtod_offset(c, uint8_t *, 12), t, sizeof(t));
}

/* Copy, write and free n clones. */
static void write_batch(struct capture_state *s, struct cap_item *items, unsigned n)
{
	struct rte_mbuf *pc[CAP_BATCH];
	unsigned k = 0;
	uint64_t bytes = 0, failed = 0;

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
			/* Cut a partial block off (disk full): the file stays
			 * readable up to the last whole packet. */
			int e = got < 0 ? rte_errno : ENOSPC;
			if (ftruncate(s->fd, s->good) != 0 || lseek(s->fd, s->good, SEEK_SET) < 0)
				e = errno;
			if (!s->warned)
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
	struct capture_state *s = arg;
	struct cap_item items[CAP_BATCH];
	const struct timespec idle = {0, 200 * 1000};

	for (;;) {
		/* Read the flag before dequeuing: once it is seen, whatever the
		 * stopped worker queued is in the ring and gets drained. */
		bool stop = __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
		unsigned n = rte_ring_sc_dequeue_burst_elem(s->ring, items, sizeof(items[0]),
							    CAP_BATCH, NULL);
		if (n) {
			write_batch(s, items, n);
			continue;
		}
		if (stop)
			break;
		nanosleep(&idle, NULL);
	}
	return NULL;
}

/* Start the file: the section header rte_pcapng makes, then one interface
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
static int capture_open(struct capture_state *s, int fd, const char *name, char *err, size_t len)
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
		return -1; /* fini closes the handle (and mfd with it) */
	}

	/* Interface Description Block (pcapng spec, section 4.2): link type
	 * Ethernet, our snaplen, if_name and if_description naming the
	 * point, if_tsresol 9 since rte_pcapng stamps in nanoseconds. */
	uint8_t idb[256] = {0};
	char descr[96];
	size_t nl = strlen(name);
	size_t dl =
	    (size_t)snprintf(descr, sizeof(descr), "sluice capture at graph point %s", name);
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
	OPT(2, name, nl);    /* if_name */
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
	s->fd = mfd;
	s->good = (off_t)shb_len + o;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->tsc0 = rte_rdtsc();
	s->ns0 = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
	s->hz = rte_get_tsc_hz();
	return 0;
}

static void capture_mirror(struct sl_stage *st);

static void capture_fini(struct sl_stage *st)
{
	struct capture_state *s = st->state;
	if (!s)
		return;
	if (s->thread_running) {
		__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
		pthread_join(s->thread, NULL);
		s->thread_running = false;
	}
	/* The worker is gone: the last figures are the fini's to give. */
	if (st->aux)
		capture_mirror(st);
	if (s->ring) { /* a thread that never ran leaves its clones here */
		struct cap_item it;
		while (rte_ring_sc_dequeue_elem(s->ring, &it, sizeof(it)) == 0)
			rte_pktmbuf_free(it.m);
	}
	rte_pcapng_close(s->pcapng); /* closes the file */
	s->pcapng = NULL;
	rte_mempool_free(s->copy_pool);
	rte_mempool_free(s->clone_pool);
	rte_ring_free(s->ring);
	s->copy_pool = s->clone_pool = NULL;
	s->ring = NULL;
	for (struct capture_state **pp = &open_captures; *pp; pp = &(*pp)->next_open)
		if (*pp == s) {
			*pp = s->next_open;
			break;
		}
	free(s->path);
	s->path = NULL;
}

/* The file of instance i: FILE itself for instance 0, else FILE with -i
 * before its extension (cap.pcapng -> cap-1.pcapng) or at its end. */
static int instance_path(const char *file, unsigned i, char *out, size_t len)
{
	if (i == 0)
		return snprintf(out, len, "%s", file) < (int)len ? 0 : -1;
	const char *base = strrchr(file, '/');
	const char *dot = strrchr(base ? base + 1 : file, '.');
	if (!dot || dot == (base ? base + 1 : file)) /* no extension, or a dot file */
		dot = file + strlen(file);
	int n = snprintf(out, len, "%.*s-%u%s", (int)(dot - file), file, i, dot);
	return n >= 0 && n < (int)len ? 0 : -1;
}

static int capture_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct capture_conf *c = st->conf;
	struct capture_state *s = st->state;
	static unsigned seq; /* unique DPDK object names */
	char nm[RTE_MEMPOOL_NAMESIZE];
	char msg[384] = "";

	/* Instance i > 0 of a stage writes a file of its own, named with -i
	 * before the extension: two writers cannot share one pcapng stream. */
	char path[4096];
	if (instance_path(c->file, st->instance, path, sizeof(path)) < 0) {
		snprintf(err, len, "file: '%s' is too long", c->file);
		return -1;
	}
	/* By name, and by file for another spelling of the path or a link:
	 * opening truncates, so this has to be known before. */
	struct stat sb;
	bool exists = stat(path, &sb) == 0;
	for (struct capture_state *o = open_captures; o; o = o->next_open)
		if (!strcmp(o->path, path) ||
		    (exists && sb.st_dev == o->dev && sb.st_ino == o->ino)) {
			snprintf(err, len,
				 "'%s' is already being written by capture '%s': two captures "
				 "cannot share a file, nor can a changed capture take over the "
				 "file of the running one it replaces (use another file, or "
				 "remove the capture in one load and add it in the next)",
				 path, o->name);
			return -1;
		}

	for (unsigned i = 0; env->aux_names && i < AUX_N; i++)
		snprintf(env->aux_names[i], SL_LABEL_MAX, "%s", aux_labels[i]);
	s->snaplen = (uint32_t)c->snaplen;
	s->max_pkts = c->max_packets ? c->max_packets : UINT64_MAX;
	s->max_bytes = c->max_bytes ? c->max_bytes : UINT64_MAX;
	snprintf(s->name, sizeof(s->name), "%s", st->name);
	unsigned id = seq++;

	int fd = env->open_file(env, path, true, msg, sizeof(msg));
	if (fd < 0) {
		snprintf(err, len, "file: %s", msg);
		return -1;
	}
	if (capture_open(s, fd, st->name, msg, sizeof(msg)) < 0) {
		close(fd);
		snprintf(err, len, "'%s': %s", path, msg);
		capture_fini(st);
		return -1;
	}
	if (fstat(fd, &sb) == 0) {
		s->dev = sb.st_dev;
		s->ino = sb.st_ino;
	}
	close(fd); /* the handle holds its duplicate */

	snprintf(nm, sizeof(nm), "slcap_r%u", id);
	s->ring = rte_ring_create_elem(nm, sizeof(struct cap_item), (unsigned)c->queue, env->socket,
				       RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
	/* Clones are header-only mbufs (data room 0): a chained packet takes
	 * one per segment, and the worker's cache may hold a few. */
	unsigned n_clones = (unsigned)c->queue + 2 * SL_BURST_MAX + 64;
	snprintf(nm, sizeof(nm), "slcap_c%u", id);
	s->clone_pool = rte_pktmbuf_pool_create(nm, n_clones, 32, 0, 0, env->socket);
	/* The writer copies one batch at a time, each into one mbuf with
	 * room for the snaplen, the block header and its options. */
	uint32_t room = RTE_PKTMBUF_HEADROOM + rte_pcapng_mbuf_size(s->snaplen);
	snprintf(nm, sizeof(nm), "slcap_p%u", id);
	s->copy_pool = rte_pktmbuf_pool_create(
	    nm, 2 * CAP_BATCH, 0, 0, (uint16_t)RTE_MIN(room, (uint32_t)UINT16_MAX), env->socket);
	if (!s->ring || !s->clone_pool || !s->copy_pool) {
		snprintf(err, len, "cannot make its queue and pools: %s", rte_strerror(rte_errno));
		capture_fini(st);
		return -1;
	}
	s->path = strdup(path);
	if (!s->path) {
		snprintf(err, len, "out of memory");
		capture_fini(st);
		return -1;
	}
	snprintf(nm, sizeof(nm), "slcap-%u", id);
	int rc = rte_ctrl_thread_create(&s->thread, nm, NULL, writer_main, s);
	if (rc != 0) {
		snprintf(err, len, "cannot start its writer thread: %s", strerror(rc));
		capture_fini(st);
		return -1;
	}
	s->thread_running = true;
	s->next_open = open_captures;
	open_captures = s;
	return 0;
}

/* Copy the writer's figures into st->aux, which only the worker writes:
 * once per burst, and on the worker's tick so that they settle when the
 * traffic stops. */
static void capture_mirror(struct sl_stage *st)
{
	const struct capture_state *s = st->state;
	st->aux[AUX_WRITTEN] = __atomic_load_n(&s->w_written, __ATOMIC_RELAXED);
	st->aux[AUX_WRITTEN_BYTES] = __atomic_load_n(&s->w_bytes, __ATOMIC_RELAXED);
	st->aux[AUX_WRITE_ERRORS] = __atomic_load_n(&s->w_errors, __ATOMIC_RELAXED);
}

static void capture_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct capture_state *s = st->state;
	uint64_t *aux = st->aux;
	struct cap_item items[SL_BURST_MAX];
	uint32_t caps[SL_BURST_MAX];
	uint16_t i, k = 0;

	capture_mirror(st);

	uint64_t np = s->n_pkts, nb = s->n_bytes;
	uint64_t tsc = rte_rdtsc();
	for (i = 0; i < n && !s->done; i++) {
		uint32_t cap = RTE_MIN(rte_pktmbuf_pkt_len(pkts[i]), s->snaplen);
		if (np >= s->max_pkts || cap > s->max_bytes - nb) {
			s->done = true;
			break;
		}
		struct rte_mbuf *c = rte_pktmbuf_clone(pkts[i], s->clone_pool);
		if (unlikely(!c)) {
			aux[AUX_CLONE_FAILED]++;
			continue;
		}
		items[k].m = c;
		items[k].tsc = tsc;
		caps[k++] = cap;
		np++;
		nb += cap;
	}
	aux[AUX_LIMIT_SKIPPED] += n - i;
	if (k) {
		unsigned sent =
		    rte_ring_sp_enqueue_burst_elem(s->ring, items, sizeof(items[0]), k, NULL);
		if (unlikely(sent < k)) {
			/* Only what was queued counts toward the limits. */
			aux[AUX_RING_FULL] += k - sent;
			for (unsigned j = sent; j < k; j++) {
				rte_pktmbuf_free(items[j].m);
				np--;
				nb -= caps[j];
			}
			s->done = false;
		}
		aux[AUX_CAPTURED] += sent;
		aux[AUX_CAPTURED_BYTES] += nb - s->n_bytes;
		s->n_pkts = np;
		s->n_bytes = nb;
	}
	sl_forward(st, 0, pkts, n);
}

static const char *const capture_outputs[] = {"out"};

static const struct sl_param capture_params[] = {
    {.name = "file",
     .kind = SL_PARAM_OUTFILE,
     .offset = offsetof(struct capture_conf, file),
     .required = true,
     .help = "pcapng file to write (created or truncated, mode 0640)"},
    {.name = "snaplen",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct capture_conf, snaplen),
     .min = 1,
     .max = 65535,
     .def = 65535,
     .help = "bytes of each packet kept in the file"},
    {.name = "max_packets",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct capture_conf, max_packets),
     .min = 0,
     .max = UINT64_MAX,
     .def = 0,
     .help = "stop after this many packets (0: no limit)"},
    {.name = "max_bytes",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct capture_conf, max_bytes),
     .min = 0,
     .max = UINT64_MAX,
     .def = 0,
     .help = "stop before the captured bytes would pass this (0: no limit)"},
    {.name = "queue",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct capture_conf, queue),
     .min = 1,
     .max = 65536,
     /* Each queued clone holds a packet buffer of the dataplane's pool,
      * whose automatic size leaves about 4096 spare. */
     .def = 1024,
     .help = "packets waiting for the writer thread before copies are dropped"},
};

static struct sl_stage_type capture_stage = {
    .name = "capture",
    .help = "write the packets passing by to a pcapng file (off the worker) and pass them on",
    .outputs = capture_outputs,
    .n_outputs = 1,
    .params = capture_params,
    .n_params = RTE_DIM(capture_params),
    .conf_size = sizeof(struct capture_conf),
    .state_size = sizeof(struct capture_state),
    .n_aux = capture_n_aux,
    .init = capture_init,
    .fini = capture_fini,
    .tick = capture_mirror,
    .process = capture_process,
};

SL_STAGE_REGISTER(capture_stage)
