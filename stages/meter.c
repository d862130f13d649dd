/* meter.c: the `meter` stage colours packets with a single rate three colour
 * marker (srTCM, RFC 2697) or a two rate three colour marker (trTCM, RFC
 * 2698), colour-blind, on DPDK's rte_meter, one meter per stage instance,
 * and sends them to the port of their colour: `green`, `yellow` or `red`.
 * Rates are bytes per second and bursts bytes; what counts is the frame
 * length (pkt_len: Ethernet header to the end of the payload, no FCS).
 * Time is the TSC (clock: tsc, one reading per burst) or the packet's own rx
 * timestamp in nanoseconds (clock: capture), so that a replayed trace meters the same way
 * on every run. */
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_mbuf_dyn.h>
#include <rte_meter.h>

#include "stages/stage.h"

enum { METER_NO_TIMESTAMP = 1 };

static const char *const meter_outputs[] = {"green", "yellow", "red"};
static const char *const meter_drops[] = {"no_timestamp"};

#define METER_RATE_MAX (1ull << 40)  /* bytes/s: 8.8 Tbit/s */
#define METER_BURST_MAX (1ull << 32) /* bytes */

struct meter_conf {
	char *mode;
	uint64_t cir, cbs, ebs, pir, pbs; /* 0: not given */
	char *clock;
};

struct meter_state {
	bool trtcm;
	bool capture;
	bool started;
	uint64_t ts_flag;
	int ts_off;
	uint64_t hz;
	uint64_t base; /* the meter's start time, TSC cycles */
	uint64_t ts0;  /* the first packet's timestamp */
	uint64_t last; /* the latest timestamp seen */
	struct rte_meter_srtcm_profile sp;
	struct rte_meter_srtcm sm;
	struct rte_meter_trtcm_profile tp;
	struct rte_meter_trtcm tm;
};

#define P(n, k, f, req, mn, mx, d, h)                                                              \
	{                                                                                          \
		.name = n, .kind = k, .offset = offsetof(struct meter_conf, f), .required = req,   \
		.min = mn, .max = mx, .def = d, .help = h                                          \
	}
static const struct sl_param meter_params[] = {
    P("mode", SL_PARAM_STR, mode, true, 0, 0, 0, "srtcm (RFC 2697) or trtcm (RFC 2698)"),
    P("cir", SL_PARAM_UINT, cir, true, 1, METER_RATE_MAX, 0, "committed rate, bytes/s"),
    P("cbs", SL_PARAM_UINT, cbs, true, 1, METER_BURST_MAX, 0, "committed burst, bytes"),
    P("ebs", SL_PARAM_UINT, ebs, false, 1, METER_BURST_MAX, 0, "srtcm: excess burst, bytes"),
    P("pir", SL_PARAM_UINT, pir, false, 1, METER_RATE_MAX, 0, "trtcm: peak rate, bytes/s"),
    P("pbs", SL_PARAM_UINT, pbs, false, 1, METER_BURST_MAX, 0, "trtcm: peak burst, bytes"),
    P("clock", SL_PARAM_STR, clock, false, 0, 0, 0, "tsc (default) or capture"),
};
#undef P

static int meter_check(const void *conf, struct sl_check *chk)
{
	const struct meter_conf *c = conf;
	bool tr;

	if (!strcmp(c->mode, "trtcm")) {
		tr = true;
	} else if (!strcmp(c->mode, "srtcm")) {
		tr = false;
	} else {
		chk->param = "mode";
		snprintf(chk->msg, sizeof(chk->msg), "'%s' is not srtcm or trtcm", c->mode);
		return -1;
	}
	if (c->clock && strcmp(c->clock, "tsc") && strcmp(c->clock, "capture")) {
		chk->param = "clock";
		snprintf(chk->msg, sizeof(chk->msg), "'%s' is not tsc or capture", c->clock);
		return -1;
	}
	if (tr) {
		if (c->ebs) {
			chk->param = "ebs";
			snprintf(chk->msg, sizeof(chk->msg),
				 "ebs is for srtcm; trtcm takes pir and pbs");
			return -1;
		}
		if (!c->pir || !c->pbs) {
			chk->param = "mode";
			snprintf(chk->msg, sizeof(chk->msg), "trtcm needs %s",
				 !c->pir ? "pir" : "pbs");
			return -1;
		}
		if (c->pir < c->cir) {
			chk->param = "pir";
			snprintf(chk->msg, sizeof(chk->msg),
				 "pir %llu is below cir %llu (RFC 2698: PIR >= CIR)",
				 (unsigned long long)c->pir, (unsigned long long)c->cir);
			return -1;
		}
	} else {
		if (c->pir || c->pbs) {
			chk->param = c->pir ? "pir" : "pbs";
			snprintf(chk->msg, sizeof(chk->msg),
				 "%s is for trtcm; srtcm takes cir, cbs and ebs", chk->param);
			return -1;
		}
	}
	return 0;
}

/* The ports are asked for rx timestamps (in ns, port_rx scales them) only
 * when a stage reads them. */
static bool meter_wants_ts(const void *conf)
{
	const struct meter_conf *c = conf;
	return c->clock && !strcmp(c->clock, "capture");
}

static int meter_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct meter_conf *c = st->conf;
	struct meter_state *s = st->state;
	int rc;

	RTE_SET_USED(env);
	s->trtcm = !strcmp(c->mode, "trtcm");
	s->capture = c->clock && !strcmp(c->clock, "capture");
	s->hz = rte_get_tsc_hz();
	if (s->trtcm) {
		struct rte_meter_trtcm_params p = {
		    .cir = c->cir, .pir = c->pir, .cbs = c->cbs, .pbs = c->pbs};
		rc = rte_meter_trtcm_profile_config(&s->tp, &p);
		if (rc == 0)
			rc = rte_meter_trtcm_config(&s->tm, &s->tp);
		/* The meter starts both buckets at the one TSC reading. */
		s->base = s->tm.time_tc;
	} else {
		struct rte_meter_srtcm_params p = {.cir = c->cir, .cbs = c->cbs, .ebs = c->ebs};
		rc = rte_meter_srtcm_profile_config(&s->sp, &p);
		if (rc == 0)
			rc = rte_meter_srtcm_config(&s->sm, &s->sp);
		s->base = s->sm.time;
	}
	if (rc < 0) {
		snprintf(err, len, "rte_meter refused the profile: %s", strerror(-rc));
		return -1;
	}
	if (s->capture) {
		if (rte_mbuf_dyn_rx_timestamp_register(&s->ts_off, &s->ts_flag) < 0) {
			snprintf(err, len, "cannot register the rx timestamp mbuf field: %s",
				 rte_strerror(rte_errno));
			return -1;
		}
	}
	return 0;
}

/* The meter's time for a packet stamped ts: TSC cycles from the meter's
 * start, as many as the trace says passed since its first packet. Exact
 * (floor of the product, 128 bits wide), so that the meter's buckets fill
 * exactly as the trace's clock says, not as rounding does. */
static inline uint64_t meter_capture_time(struct meter_state *s, uint64_t ts)
{
	if (unlikely(!s->started)) {
		s->started = true;
		s->ts0 = s->last = ts;
	}
	/* A stamp older than the latest counts as the latest: the meter's
	 * clock never runs backwards (its buckets would fill to the brim). */
	if (ts < s->last)
		ts = s->last;
	s->last = ts;
	unsigned __int128 d = (unsigned __int128)(ts - s->ts0) * s->hz / NS_PER_S;
	return s->base + (uint64_t)d;
}

static void meter_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct meter_state *s = st->state;
	uint16_t next[SL_BURST_MAX];
	uint64_t now = s->capture ? 0 : rte_rdtsc();

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (s->capture) {
			if (unlikely(!(m->ol_flags & s->ts_flag))) {
				next[i] = SL_DROP(METER_NO_TIMESTAMP);
				continue;
			}
			now = meter_capture_time(
			    s, *RTE_MBUF_DYNFIELD(m, s->ts_off, rte_mbuf_timestamp_t *));
		}
		/* rte_color: GREEN 0, YELLOW 1, RED 2, the order of the ports. */
		next[i] = s->trtcm ? (uint16_t)rte_meter_trtcm_color_blind_check(&s->tm, &s->tp,
										 now, m->pkt_len)
				   : (uint16_t)rte_meter_srtcm_color_blind_check(&s->sm, &s->sp,
										 now, m->pkt_len);
	}
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type meter_stage = {
    .name = "meter",
    .help = "colour packets green/yellow/red with an RFC 2697 or 2698 meter (rte_meter)",
    .outputs = meter_outputs,
    .n_outputs = 3,
    .drops = meter_drops,
    .n_drops = RTE_DIM(meter_drops),
    .params = meter_params,
    .n_params = RTE_DIM(meter_params),
    .conf_size = sizeof(struct meter_conf),
    .state_size = sizeof(struct meter_state),
    .check = meter_check,
    .wants_rx_timestamps = meter_wants_ts,
    .init = meter_init,
    .process = meter_process,
};

SL_STAGE_REGISTER(meter_stage)
