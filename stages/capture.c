/* capture.c: the `capture` stage writes the packets passing a point of the
 * graph to a pcapng file with rte_pcapng and hands every packet on
 * unchanged. The worker only clones (no data copy) and enqueues the clones
 * to a ring; the writer (pcapng_writer.c) makes the pcapng copies on a
 * control thread, so no file I/O runs on a worker core. */

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

#include "stages/pcapng_writer.h"
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

struct capture_state {
	/* Worker side. */
	bool done; /* a limit was reached: capture has stopped for good */
	uint64_t n_pkts, n_bytes;
	uint64_t max_pkts, max_bytes; /* UINT64_MAX: no limit */
	/* The ring, pools, writer thread and file. The writer never touches
	 * st->aux: a graph load that keeps this instance moves st->aux to a
	 * new segment; the worker mirrors the writer's figures instead. */
	struct sl_pcapng_writer w;
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

static unsigned capture_n_aux(const void *conf)
{
	(void)conf;
	return AUX_N;
}

static void capture_mirror(struct sl_stage *st);

static void capture_fini(struct sl_stage *st)
{
	struct capture_state *s = st->state;
	if (!s)
		return;
	sl_pcapng_writer_close(&s->w, false, 0, 0);
	/* The worker is gone: the last figures are the fini's to give. */
	if (st->aux)
		capture_mirror(st);
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
	s->max_pkts = c->max_packets ? c->max_packets : UINT64_MAX;
	s->max_bytes = c->max_bytes ? c->max_bytes : UINT64_MAX;
	snprintf(s->name, sizeof(s->name), "%s", st->name);

	int fd = env->open_file(env, path, true, msg, sizeof(msg));
	if (fd < 0) {
		snprintf(err, len, "file: %s", msg);
		return -1;
	}
	if (sl_pcapng_writer_open(&s->w, fd, st->name, (uint32_t)c->snaplen, 1, (unsigned)c->queue,
				  env->socket, st->name, path, msg, sizeof(msg)) < 0) {
		close(fd);
		snprintf(err, len, "'%s': %s", path, msg);
		capture_fini(st);
		return -1;
	}
	if (fstat(fd, &sb) == 0) {
		s->dev = sb.st_dev;
		s->ino = sb.st_ino;
	}
	close(fd); /* the writer holds its duplicate */

	s->path = strdup(path);
	if (!s->path) {
		snprintf(err, len, "out of memory");
		capture_fini(st);
		return -1;
	}
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
	st->aux[AUX_WRITTEN] = sl_pcapng_writer_get(&s->w.w_written);
	st->aux[AUX_WRITTEN_BYTES] = sl_pcapng_writer_get(&s->w.w_bytes);
	st->aux[AUX_WRITE_ERRORS] = sl_pcapng_writer_get(&s->w.w_errors);
}

static void capture_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct capture_state *s = st->state;
	uint64_t *aux = st->aux;
	struct sl_cap_item items[SL_BURST_MAX];
	uint32_t caps[SL_BURST_MAX];
	uint16_t i, k = 0;

	capture_mirror(st);

	uint64_t np = s->n_pkts, nb = s->n_bytes;
	uint64_t tsc = rte_rdtsc();
	for (i = 0; i < n && !s->done; i++) {
		uint32_t cap = RTE_MIN(rte_pktmbuf_pkt_len(pkts[i]), s->w.snaplen);
		if (np >= s->max_pkts || cap > s->max_bytes - nb) {
			s->done = true;
			break;
		}
		struct rte_mbuf *c = rte_pktmbuf_clone(pkts[i], s->w.clone_pool);
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
		    rte_ring_sp_enqueue_burst_elem(s->w.rings[0], items, sizeof(items[0]), k, NULL);
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
