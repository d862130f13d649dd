/* worker.c: each worker lcore runs, run-to-completion, the clusters on its
 * RCU-protected list: for each cluster it polls the input rings, then the
 * port RX queues, in bursts, and pushes each burst through the cluster's
 * stages by direct calls. It reports a QSBR quiescent state between turns,
 * never inside a cluster, so a grace period guarantees that no core is still
 * running a cluster that was taken off its list. */
#include "dataplane/worker.h"

#include <unistd.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <urcu/urcu-qsbr.h>

volatile uint32_t sl_dp_state = SL_DP_STARTING;

/* A QSBR quiescent state costs a full barrier; once every few turns keeps it
 * off the per-burst budget while grace periods stay in the microseconds. */
#define QS_EVERY_TURNS 16

static inline void run_port_source(const struct sl_source *s, struct rte_mbuf **pkts,
				   uint16_t burst)
{
	struct sl_lcore_clock *clk = &RTE_PER_LCORE(sl_clock);
	struct sl_stage *st = s->stage;
	uint64_t t0 = sl_clock_burst_start();
	uint16_t n =
	    s->port ? sl_port_rx(s->port, s->queue, pkts, burst) : st->type->poll(st, pkts, burst);

	if (n == 0)
		return;
	clk->bursts++;
	st->cnt->calls++;
	st->cnt->pkts_in += n;
	sl_forward(st, 0, pkts, n);
	if (t0) {
		st->cnt->cycles += rte_rdtsc() - t0 - clk->child;
		st->cnt->timed_pkts += n;
	}
}

static inline void run_ring_source(const struct sl_source *s, struct rte_mbuf **pkts,
				   uint16_t burst)
{
	unsigned avail;
	uint64_t t0 = sl_clock_burst_start();
	unsigned n = rte_ring_sc_dequeue_burst(s->conn->ring, (void **)pkts, burst, &avail);

	if (n == 0)
		return;
	struct sl_conn_counters *c = s->conn->cnt;
	if (t0) {
		c->pull_cycles += rte_rdtsc() - t0;
		c->timed_pulled += n;
		RTE_PER_LCORE(sl_clock).child = 0;
	}
	c->dequeued += n;
	if (n + avail > c->peak)
		c->peak = n + avail;
	RTE_PER_LCORE(sl_clock).bursts++;
	sl_stage_call(s->stage, pkts, (uint16_t)n);
}

/* Whether every ring the cluster feeds has room for a whole burst (the
 * loader refuses rings smaller than two bursts, so a drained ring always
 * has). The producer's own hint is checked first; the ring itself (the
 * consumer's cache line) is read only when the hint says it is nearly full. */
static inline bool outputs_have_room(const struct sl_cluster *cl)
{
	for (uint16_t i = 0; i < cl->n_outs; i++) {
		struct sl_connector *c = cl->outs[i];
		if (likely(c->cnt->free_hint >= cl->burst))
			continue;
		c->cnt->free_hint = rte_ring_free_count(c->ring);
		if (c->cnt->free_hint < cl->burst)
			return false;
	}
	return true;
}

/* Loop turns between ticks: a turn with nothing to do takes well under a
 * microsecond, one at full rate a few; 64 keeps ticks near 50 µs apart at
 * worst and off the per-burst budget. */
#define TICK_EVERY_TURNS 64

static inline void run_cluster(const struct sl_cluster *cl, bool sources_on, unsigned turns)
{
	struct rte_mbuf *pkts[SL_BURST_MAX];

	if (unlikely(cl->n_ticks) && turns % TICK_EVERY_TURNS == 0)
		for (uint16_t i = 0; i < cl->n_ticks; i++)
			cl->ticks[i]->type->tick(cl->ticks[i]);

	for (uint16_t i = 0; i < cl->n_src; i++) {
		const struct sl_source *s = &cl->src[i];
		if (cl->backpressure && !outputs_have_room(cl)) {
			(*cl->stalls)++;
			return;
		}
		if (s->kind == SL_SRC_RING)
			run_ring_source(s, pkts, cl->burst);
		else if (sources_on)
			run_port_source(s, pkts, cl->burst);
	}
}

int sl_worker_main(void *arg)
{
	struct sl_lcore *lc = arg;
	unsigned turns = 0;

	urcu_qsbr_register_thread();
	while (sl_dp_state != SL_DP_STOPPED) {
		bool sources_on = sl_dp_state == SL_DP_RUNNING;
		/* rcu_dereference() without _LGPL_SOURCE is a library call; an
		 * acquire load is what it amounts to, inline. */
		struct sl_core_work *w = __atomic_load_n(&lc->work, __ATOMIC_ACQUIRE);

		if ((w == NULL || w->n == 0) && sources_on) {
			/* A core with no clusters idles off the CPU (the one
			 * syscall a worker makes, with nothing to do); going
			 * offline keeps grace periods from waiting on it. */
			urcu_qsbr_thread_offline();
			usleep(200);
			urcu_qsbr_thread_online();
		} else if (w == NULL || w->n == 0) {
			/* Parked by a graph load: stay awake to start the new
			 * graph the moment it is published. */
			rte_pause();
			urcu_qsbr_quiescent_state();
		} else {
			for (unsigned c = 0; c < w->n; c++)
				run_cluster(w->c[c], sources_on, turns);
		}
		/* The drain watches `turns`; bumping it with the quiescent
		 * state keeps a store off every other loop turn. */
		if (++turns % QS_EVERY_TURNS == 0) {
			lc->turns++;
			for (unsigned c = 0; w && c < w->n; c++)
				(*w->c[c]->beats)++;
			urcu_qsbr_quiescent_state();
		}
	}
	urcu_qsbr_unregister_thread();
	return 0;
}

int sl_workers_drain(struct sl_runtime *rt, unsigned timeout_ms)
{
	uint64_t seen[SL_MAX_LCORES];
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() * timeout_ms / 1000;

	while (rte_get_timer_cycles() < deadline) {
		if (sl_runtime_ring_backlog(rt) != 0) {
			usleep(100);
			continue;
		}
		for (unsigned l = 0; l < rt->n_lcores; l++)
			seen[l] = rt->lcores[l].turns;
		/* A worker may be between a dequeue and the enqueue further
		 * down the graph; two more turns each settle that. */
		bool settled = false;
		while (!settled && rte_get_timer_cycles() < deadline) {
			settled = true;
			for (unsigned l = 0; l < rt->n_lcores; l++)
				settled &= rt->lcores[l].turns >= seen[l] + 2;
			if (!settled)
				usleep(50);
		}
		if (settled && sl_runtime_ring_backlog(rt) == 0)
			return 0;
	}
	return -1;
}
