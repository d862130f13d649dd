/* observe.h: live capture and packet trace, the stage layer's side. The
 * management thread starts one of each at most, on the stage instances it
 * names; the hooks of stage.h (switched on by st->obs) feed them from the
 * workers. Switching off is detach (clear the flags), a grace period the
 * caller waits for (the workers' QSBR), then finish. */
#ifndef SL_OBSERVE_H
#define SL_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stages/stage.h"

/* ---- live capture ---- */

#define SL_OBS_CAPTURE_MAX_INST 64 /* instances one capture point may have */

struct sl_obs_capture_req {
	struct sl_stage **st; /* the instances at the point */
	unsigned n;
	int port;	    /* -1: what enters; else what leaves by this port */
	const char *point;  /* "parse.out": the interface name */
	const char *filter; /* tcpdump expression, or NULL */
	uint64_t count;	    /* stop after this many written (0: no limit) */
	uint32_t snaplen;
	unsigned queue; /* ring size per instance */
	int fd;		/* where the pcapng stream goes (kept as a duplicate) */
	int socket;
};

struct sl_obs_capture_stats {
	uint64_t matched; /* packets that passed the filter while capturing */
	uint64_t written;
	uint64_t dropped; /* copies lost: ring full or no clone mbuf */
	uint64_t errors;  /* copies the writer could not make or write */
	int write_errno;  /* a failed write (EPIPE: the reader left), or 0 */
};

/* Start capturing (management thread). -1 with err when busy or on error:
 * nothing is switched on then. */
int sl_obs_capture_start(const struct sl_obs_capture_req *r, char *err, size_t len);
bool sl_obs_capture_active(void);
/* The point being captured, or NULL. */
const char *sl_obs_capture_point(void);
/* Whether it has nothing more to do: count written, or the stream failed. */
bool sl_obs_capture_done(void);
void sl_obs_capture_get(struct sl_obs_capture_stats *s);
/* Clear the hooks; the caller then waits for a grace period. */
void sl_obs_capture_detach(void);
/* After the grace period: write the rest and the statistics, close the
 * stream, free. Returns the final figures. */
void sl_obs_capture_finish(struct sl_obs_capture_stats *s);

/* ---- packet trace ---- */

#define SL_TRACE_MAX 1000  /* packets one trace may follow */
#define SL_TRACE_EVENTS 48 /* events kept per packet */

enum sl_trace_kind { SL_TRACE_ENTER, SL_TRACE_OUT, SL_TRACE_DROP };

struct sl_trace_event {
	uint64_t tsc;
	const struct sl_stage *st;
	uint16_t lcore;
	uint8_t kind; /* enum sl_trace_kind */
	uint16_t arg; /* OUT: the port; DROP: the reason */
};

struct sl_trace_slot {
	uint32_t n_ev; /* claimed with an atomic add: a packet can cross cores */
	uint32_t len;  /* pkt_len when it was picked */
	struct sl_trace_event ev[SL_TRACE_EVENTS];
};

/* Start tracing the next `count` packets the sources receive that match
 * filter (NULL: all) on the instances st[0..n) (every instance of the
 * graph). -1 with err. */
int sl_obs_trace_start(struct sl_stage **st, unsigned n, unsigned count, const char *filter,
		       char *err, size_t len);
bool sl_obs_trace_active(void);
/* Packets picked so far, and the TSC of the last event recorded. */
unsigned sl_obs_trace_taken(uint64_t *last_tsc);
void sl_obs_trace_detach(void);
/* After the grace period: the slots (*n of them picked) until free. */
const struct sl_trace_slot *sl_obs_trace_result(unsigned *n);
void sl_obs_trace_free(void);

#endif
