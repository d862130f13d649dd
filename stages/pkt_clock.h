/* pkt_clock.h: the time a stage reads for a packet: its arrival (the TSC
 * once per burst) or its capture time (the RX timestamp the PMD put in the
 * mbuf; net_pcap gives the pcap's own, so a replayed trace gives the same
 * answer every run). Both come in one unit per clock, so that windows and
 * timeouts are converted once, at init. */
#ifndef SL_PKT_CLOCK_H
#define SL_PKT_CLOCK_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#define SL_PKT_NO_TIME UINT64_MAX

struct sl_pkt_clock {
	bool capture;
	int ts_off;	  /* the timestamp dynfield (capture) */
	uint64_t ts_flag; /* and the flag saying a PMD set it */
	uint64_t per_us;  /* clock units per microsecond */
};

/* "arrival" or "capture"; any other value is refused. */
static inline bool sl_pkt_clock_valid(const char *name)
{
	return name && (!strcmp(name, "arrival") || !strcmp(name, "capture"));
}

/* Management thread. For capture, registers the timestamp field and flag
 * (the PMD's own registration then finds them). */
static inline int sl_pkt_clock_init(struct sl_pkt_clock *c, const char *name, char *err, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->capture = name && !strcmp(name, "capture");
	if (!c->capture) {
		c->per_us = rte_get_tsc_hz() / 1000000;
		if (c->per_us == 0)
			c->per_us = 1;
		return 0;
	}
	c->per_us = 1000;
	if (rte_mbuf_dyn_rx_timestamp_register(&c->ts_off, &c->ts_flag) < 0) {
		snprintf(err, len, "cannot register the RX timestamp mbuf field: %s",
			 rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* The burst's arrival time, read once per burst (arrival clock only). */
static inline uint64_t sl_pkt_clock_now(const struct sl_pkt_clock *c)
{
	return c->capture ? 0 : rte_rdtsc();
}

/* The packet's time: now for arrival, its timestamp for capture, or
 * SL_PKT_NO_TIME when the PMD gave it none. */
static inline uint64_t sl_pkt_time(const struct sl_pkt_clock *c, const struct rte_mbuf *m,
				   uint64_t now)
{
	if (!c->capture)
		return now;
	if (!(m->ol_flags & c->ts_flag))
		return SL_PKT_NO_TIME;
	return *RTE_MBUF_DYNFIELD(m, c->ts_off, const rte_mbuf_timestamp_t *);
}

/* Arrival time as wall-clock nanoseconds (records carry it): the TSC
 * since a reading of CLOCK_REALTIME taken at init, so no syscall later. */
struct sl_wall_clock {
	uint64_t tsc0, wall0_ns, tsc_hz;
};

static inline void sl_wall_clock_init(struct sl_wall_clock *w)
{
	struct timespec ts;
	w->tsc_hz = rte_get_tsc_hz();
	clock_gettime(CLOCK_REALTIME, &ts);
	w->tsc0 = rte_rdtsc();
	w->wall0_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t sl_wall_ns(const struct sl_wall_clock *w)
{
	uint64_t d = rte_rdtsc() - w->tsc0;
	return w->wall0_ns + (uint64_t)((unsigned __int128)d * 1000000000u / w->tsc_hz);
}

#endif
