/* stats_segment.h: layout of the shared-memory stats segment. The dataplane
 * lays it out once per graph; each counter block has a single writer (the
 * lcore running that stage or connector end, or the management thread for
 * ports and clusters). Any process can map it read-only and take a
 * consistent snapshot: the header's epoch is odd while the layout changes. */
#ifndef SL_STATS_SEGMENT_H
#define SL_STATS_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "drivers/port.h"
#include "stages/stage.h"

#define SL_STATS_MAGIC 0x31534c5453554c53ULL /* "SLUSTLS1" */
#define SL_STATS_VERSION 4

enum sl_dp_state { SL_DP_STARTING, SL_DP_RUNNING, SL_DP_DRAINING, SL_DP_STOPPED };

struct sl_stats_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t epoch; /* odd while the layout is being written */
	uint64_t size;	/* bytes of the whole segment */
	uint64_t tsc_hz;
	int64_t pid;
	uint64_t start_ns;     /* CLOCK_REALTIME at start */
	uint64_t heartbeat_ns; /* CLOCK_MONOTONIC of the last management update */
	uint32_t state;	       /* enum sl_dp_state */
	uint32_t n_stages, n_conns, n_ports, n_clusters;
	uint32_t retired; /* a graph load replaced this segment: open it again */
	uint64_t off_stages, off_conns, off_ports, off_clusters;
	/* The stages' extra counters (labels, then values on their own cache
	 * lines), handed out by sl_stats_aux_alloc. */
	uint64_t off_aux, aux_size, aux_used;
	char name[64];
	char config[256];
	/* The mbuf pools (management thread): their size, what was in use
	 * once the ports had started, before any packet, and now. After a run
	 * drains, in use is back at its start value unless an mbuf leaked. */
	uint64_t mbufs, mbufs_in_use_start, mbufs_in_use;
} __attribute__((aligned(64)));

struct sl_stats_stage {
	char name[SL_NAME_MAX];
	char type[SL_LABEL_MAX];
	uint32_t cluster; /* index into the cluster table */
	uint16_t n_out, n_drops;
	char out_names[SL_STAGE_MAX_OUTPUTS][SL_LABEL_MAX];
	char drop_names[SL_STAGE_MAX_DROPS][SL_LABEL_MAX];
	/* n_aux extra counters: labels at off_aux_names, values at off_aux
	 * (offsets from the header, inside its aux area). */
	uint32_t n_aux, pad;
	uint64_t off_aux_names, off_aux;
	struct sl_stage_counters cnt;
};

struct sl_stats_conn {
	char name[128];
	uint32_t from_cluster, to_cluster;
	uint32_t capacity;
	uint32_t pad;
	struct sl_conn_counters cnt;
};

struct sl_stats_port {
	char name[SL_NAME_MAX];
	char driver[16];
	char devargs[128];
	uint16_t n_rxq, n_txq;
	uint32_t pad;
	/* How the driver runs (mode, fallbacks, why driver: auto chose it). */
	char note[SL_PORT_NOTE_MAX];
	struct sl_port_stats st;
} __attribute__((aligned(64)));

struct sl_stats_cluster {
	char name[SL_NAME_MAX];
	int32_t core;
	uint32_t pad;
	uint64_t moves;
	/* Written by the core running the cluster: polls skipped because a
	 * ring it feeds had no room for a burst. */
	uint64_t stalls __attribute__((aligned(64)));
	/* Written by the core running the cluster, every few loop turns,
	 * stalled or not: sluiced's watchdog takes a count that stops moving
	 * for dataplane.watchdog_ms as a hung core. */
	uint64_t beats;
} __attribute__((aligned(64)));

#define SL_STATS_AT(hdr, off, type) ((type *)((char *)(hdr) + (off)))

static inline struct sl_stats_stage *sl_stats_stages(const struct sl_stats_hdr *h)
{
	return SL_STATS_AT(h, h->off_stages, struct sl_stats_stage);
}
static inline struct sl_stats_conn *sl_stats_conns(const struct sl_stats_hdr *h)
{
	return SL_STATS_AT(h, h->off_conns, struct sl_stats_conn);
}
static inline struct sl_stats_port *sl_stats_ports(const struct sl_stats_hdr *h)
{
	return SL_STATS_AT(h, h->off_ports, struct sl_stats_port);
}
static inline struct sl_stats_cluster *sl_stats_clusters(const struct sl_stats_hdr *h)
{
	return SL_STATS_AT(h, h->off_clusters, struct sl_stats_cluster);
}

/* Bounds a reader accepts (far above any real graph). */
#define SL_STATS_MAX_ITEMS 65536u
#define SL_STATS_MAX_BYTES (1u << 30)

/* Check that the size bytes at h are a well-formed segment: magic, version,
 * header size, size, every table inside size (no overflow, aligned), counts
 * bounded, cluster indexes in range, every string terminated within its
 * array. sl_stats_print and sl_stats_to_json are safe on any buffer that
 * passed. Returns 0, or -1 with the reason in err. */
int sl_stats_validate(const struct sl_stats_hdr *h, size_t size, char *err, size_t len);

/* Whether pid is a live sluice-dp process (by /proc/PID/exe or comm). */
bool sl_stats_pid_is_dp(long pid);
/* The pid of the running sluice-dp whose segment (owned by root or us) is at
 * NAME, or 0. */
long sl_stats_running_pid(const char *name);

/* What a segment holds. aux_bytes: room for the stages' extra counters,
 * sl_stats_aux_bytes(n) for each instance with n of them. */
struct sl_stats_dims {
	uint32_t n_stages, n_conns, n_ports, n_clusters;
	uint64_t aux_bytes;
};
static inline uint64_t sl_stats_aux_bytes(uint32_t n)
{
	return n ? (uint64_t)n * SL_LABEL_MAX + (((uint64_t)n * 8 + 63) & ~63ull) + 64 : 0;
}
/* Writer side: create (or replace a dead instance's) segment sized for d,
 * with epoch odd until sl_stats_publish(). */
struct sl_stats_hdr *sl_stats_create(const char *name, const struct sl_stats_dims *d, char *err,
				     size_t len);
/* Give stage desc n extra counters from the aux area (labels zeroed, values
 * on their own cache lines); returns the values, or NULL when the area is
 * full. */
uint64_t *sl_stats_aux_alloc(struct sl_stats_hdr *h, struct sl_stats_stage *desc, uint32_t n);
static inline char (*sl_stats_aux_names(const struct sl_stats_hdr *h,
					const struct sl_stats_stage *st))[SL_LABEL_MAX]
{
	return (char(*)[SL_LABEL_MAX])((char *)(uintptr_t)h + st->off_aux_names);
}
static inline uint64_t *sl_stats_aux(const struct sl_stats_hdr *h, const struct sl_stats_stage *st)
{
	return SL_STATS_AT(h, st->off_aux, uint64_t);
}
void sl_stats_publish(struct sl_stats_hdr *h);
/* Graph loads: create the next graph's segment beside the live one, move it
 * over the live one's name once the new graph runs (install), or drop it when
 * the load fails (discard). */
struct sl_stats_hdr *sl_stats_create_next(const char *name, const struct sl_stats_dims *d,
					  char *err, size_t len);
int sl_stats_install(const char *name, char *err, size_t len);
void sl_stats_discard(struct sl_stats_hdr *h, const char *name);
void sl_stats_destroy(struct sl_stats_hdr *h, const char *name);
/* Mark h replaced by a newer segment of the same name, and unmap it. */
void sl_stats_retire(struct sl_stats_hdr *h);

/* Reader side: map a running dataplane's segment read-only. */
const struct sl_stats_hdr *sl_stats_open(const char *name, char *err, size_t len);
void sl_stats_close(const struct sl_stats_hdr *h);
/* Copy a consistent snapshot into a malloc'd buffer (free() it). */
struct sl_stats_hdr *sl_stats_snapshot(const struct sl_stats_hdr *h, char *err, size_t len);

/* Render a snapshot. prev may be NULL; with it, rates cover the interval. */
void sl_stats_print(FILE *f, const struct sl_stats_hdr *s, const struct sl_stats_hdr *prev,
		    double interval_s);
json_t *sl_stats_to_json(const struct sl_stats_hdr *s);
/* Add the derived per-stage figures (pkts_per_call, cycles_per_pkt) to a
 * JSON view of the counters. */
void sl_stats_json_derive(json_t *view);

#endif
