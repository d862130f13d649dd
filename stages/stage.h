/* stage.h: the stage API. A stage type declares itself (name, output ports,
 * drop reasons, config keys, state size) with SL_STAGE_REGISTER; the runtime
 * builds instances of it and calls its process function with bursts of mbufs.
 * The inline helpers at the end are the only way a stage hands packets on:
 * they update the stage's counters and push the burst to the next stage
 * (direct call), a connector ring, or a counted drop. */
#ifndef SL_STAGE_H
#define SL_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#define SL_BURST_MAX 256
#define SL_STAGE_MAX_OUTPUTS 16
#define SL_STAGE_MAX_DROPS 16
#define SL_NAME_MAX 48
#define SL_LABEL_MAX 32
#define SL_STAGE_MAX_AUX 262144 /* extra counters per instance */

/* next[] value that sends a packet to drop reason r instead of an output. */
#define SL_DROP(r) ((uint16_t)(0x8000u | (r)))
#define SL_IS_DROP(v) (((v)&0x8000u) != 0)

/* Drop reason 0 exists for every stage: a packet sent to an output port that
 * no connector leaves from. Stage-declared reasons start at 1. */
#define SL_DROP_UNCONNECTED 0

/* ---- configuration parameters ---------------------------------------- */

enum sl_param_kind {
	SL_PARAM_UINT,	  /* uint64_t within [min, max] */
	SL_PARAM_BOOL,	  /* bool */
	SL_PARAM_STR,	  /* char * (owned by the config) */
	SL_PARAM_PORT,	  /* char *, must name an entry of `ports:` */
	SL_PARAM_STRLIST, /* struct sl_strlist */
	SL_PARAM_DOUBLE,  /* double within [dmin, dmax] */
	/* char *: a file the stage reads (FILE) or writes (OUTFILE). A
	 * relative path is taken from the config file's directory. In a
	 * client's (untrusted) config it must lie inside dataplane.file_dirs,
	 * and the stage opens it only through env->open_file. */
	SL_PARAM_FILE,
	SL_PARAM_OUTFILE,
	/* Where records go: "ipfix://HOST:PORT" (UDP) or "json:PATH" (JSON
	 * lines; PATH is held to the rules of an OUTFILE and stored absolute,
	 * "json:/abs/path"). EXPORT is one (char *), EXPORTS a list (struct
	 * sl_strlist). */
	SL_PARAM_EXPORT,
	SL_PARAM_EXPORTS,
};

struct sl_strlist {
	char **v;
	unsigned n;
};

struct sl_param {
	const char *name;
	enum sl_param_kind kind;
	size_t offset; /* into the stage type's conf struct */
	bool required;
	uint64_t min, max, def;	 /* UINT and BOOL */
	double dmin, dmax, ddef; /* DOUBLE */
	const char *help;
};

/* What a type's check hook reports about a configuration it refuses: the
 * key at fault (NULL: the stage as a whole) and, for a list, the item. The
 * loader turns it into file:line:col of that key or item. */
struct sl_check {
	const char *param;
	int item; /* -1: the key's value as a whole */
	char msg[512];
};

/* ---- counters: one block per stage instance, written by its core only -- */

struct sl_stage_counters {
	uint64_t calls;
	uint64_t pkts_in;
	uint64_t cycles;     /* measured over timed bursts only, see below */
	uint64_t timed_pkts; /* packets of the timed bursts: cycles/packet = cycles / timed_pkts */
	uint64_t out[SL_STAGE_MAX_OUTPUTS];
	uint64_t drops[SL_STAGE_MAX_DROPS];
} __rte_cache_aligned;

/* A connector is a ring between two clusters. The producer and the consumer
 * each own one cache line of counters so neither bounces the other's. */
struct sl_conn_counters {
	uint64_t enqueued;
	uint64_t dropped_full;
	/* Free slots the producer last saw; lets backpressure check for room
	 * without reading the consumer's cache line on every poll. */
	uint64_t free_hint;
	uint64_t push_cycles; /* enqueue time, over timed bursts */
	uint64_t timed_pushed;
	uint64_t pad0[3];
	uint64_t dequeued;
	uint64_t peak;
	uint64_t pull_cycles; /* dequeue time, over timed polls */
	uint64_t timed_pulled;
	uint64_t pad1[4];
} __rte_cache_aligned;

struct sl_connector {
	struct rte_ring *ring;
	struct sl_conn_counters *cnt;
};

/* ---- runtime instance -------------------------------------------------- */

struct sl_stage;
struct sl_port;

enum sl_output_kind { SL_OUT_NONE, SL_OUT_STAGE, SL_OUT_RING };

struct sl_output {
	enum sl_output_kind kind;
	struct sl_stage *stage;	   /* SL_OUT_STAGE: same cluster, direct call */
	struct sl_connector *conn; /* SL_OUT_RING: another cluster */
};

/* What init gets besides the instance itself. */
struct sl_stage_env {
	int socket;	      /* NUMA node of the core the cluster is mapped to */
	struct sl_port *port; /* port_rx / port_tx: the opened port */
	uint16_t queue;	      /* port_rx / port_tx: this instance's queue */
	uint32_t tx_retries;  /* port_tx: bounded retries before counting a drop */
	uint32_t tx_stall_us; /* port_tx: ... and at most this long without progress */
	bool rx_seqn;	      /* port_rx: stamp sequence numbers (a reorder exists) */
	/* Open the path of a FILE (write false) or OUTFILE (write true) param,
	 * as the config's trust allows: for a client's config, walking from
	 * its file_dirs entry one component at a time without following a
	 * link. An OUTFILE is created or truncated, mode 0640. Returns an fd
	 * (O_CLOEXEC), or -1 with err. Management thread only. */
	int (*open_file)(const struct sl_stage_env *env, const char *path, bool write, char *err,
			 size_t len);
	const void *open_ctx;
	/* The labels of the instance's st->n_aux extra counters, to fill in
	 * init (an empty label hides a counter). */
	char (*aux_names)[SL_LABEL_MAX];
};

struct sl_stage_type;

struct sl_stage {
	const struct sl_stage_type *type;
	void *state;	  /* type->state_size bytes, hugepage memory on env.socket */
	const void *conf; /* type->conf_size bytes, filled from the config */
	struct sl_stage_counters *cnt;
	uint16_t n_outputs;
	uint16_t instance;
	/* Observation (observe.h): which hooks a live capture or a packet
	 * trace switched on here (SL_OBS_*), the port a capture of what leaves
	 * watches and this instance's capture ring. 0 while nothing observes:
	 * on the line the hot path reads anyway, the one test it costs. */
	uint8_t obs;
	uint8_t obs_port;
	uint8_t obs_slot;
	struct sl_output out[SL_STAGE_MAX_OUTPUTS];
	/* Per-output staging arrays for split bursts, plus one for drops. A
	 * stage instance runs on one core at a time and the graph is acyclic,
	 * so no call can re-enter the same instance while these are in use. */
	struct rte_mbuf **scratch;
	char name[SL_NAME_MAX];
	/* Extra counters of this instance in the stats segment (type->n_aux),
	 * written by the core that runs it, or by one thread of its own. */
	uint64_t *aux;
	uint32_t n_aux;
	bool finished; /* fini has run (at a stop, before the final counters) */
	/* Set by init when this instance needs no tick although its type has
	 * one (port_tx on a driver without tx_idle): its cluster then pays
	 * nothing for it. */
	bool no_tick;
};

typedef void (*sl_process_fn)(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n);
typedef uint16_t (*sl_poll_fn)(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t max);

struct sl_stage_type {
	const char *name;
	const char *help;
	const char *const *outputs; /* names; outputs[0] is the default port */
	uint16_t n_outputs;
	/* Outputs are one per instance of the stage the default port feeds
	 * (balance). Their names are the instance numbers. */
	bool dynamic_outputs;
	const char *const *drops; /* reasons 1..n_drops (0 is "unconnected") */
	uint16_t n_drops;
	const struct sl_param *params;
	uint16_t n_params;
	size_t conf_size;
	size_t state_size;
	/* Sinks (port_tx) count what leaves the graph in out[0] under this
	 * label; they have no connectable outputs. */
	const char *sink_output;
	bool needs_port; /* port_rx/port_tx: conf starts with `char *port` */
	bool is_source;	 /* polled by the worker; no input connectors */
	bool is_tx;	 /* uses a TX queue of its port */
	/* Config-time check of the values (compile an expression, parse a
	 * list of operations), in every process that loads the config, before
	 * anything runs. Returns 0, or -1 with chk filled. Optional. */
	int (*check)(const void *conf, struct sl_check *chk);
	/* Output ports that depend on the configuration (bpf: out0..outN-1,
	 * acl: the ports its `outputs` lists): write up to max names and return
	 * the count; the type's own outputs[] are then unused. Optional. */
	unsigned (*conf_outputs)(const void *conf, char (*names)[SL_LABEL_MAX], unsigned max);
	/* How many extra counters (st->aux) an instance with this
	 * configuration gets in the stats segment. Optional. */
	unsigned (*n_aux)(const void *conf);
	/* Whether an instance with this configuration reads the packets'
	 * receive timestamps (the rx timestamp mbuf dynfield): the ports are
	 * then asked for them. Optional. */
	bool (*wants_rx_timestamps)(const void *conf);
	/* Whether it reads the sequence number port_rx stamps in each packet
	 * (rte_reorder's mbuf field): port_rx then stamps, per instance, in
	 * arrival order. Optional. */
	bool (*wants_rx_seqn)(const void *conf);
	/* For a stage that holds packets (reorder): called on its worker about
	 * every 50 µs, even with no traffic, to send on what has waited too
	 * long. Same rules as process. Optional. */
	void (*tick)(struct sl_stage *st);
	int (*init)(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t errlen);
	void (*fini)(struct sl_stage *st);
	sl_process_fn process; /* not for sources */
	sl_poll_fn poll;       /* sources only: fill pkts, return count */
	const struct sl_stage_type *next;
};

/* The mbuf flag (a dynamic ol_flags bit) `parse` sets on the packets it
 * parsed: only those have packet_type, l2_len and l3_len a stage may trust
 * (a PMD's packet_type comes without lengths, and an mbuf's lengths can be
 * left from its previous use). 0 until a stage registered it. */
extern uint64_t sl_parsed_flag;
/* Register the flag (management thread, stage init); idempotent. */
int sl_parsed_flag_register(char *err, size_t len);

/* Registry (stages/registry.c). */
void sl_stage_type_register(struct sl_stage_type *t);
const struct sl_stage_type *sl_stage_type_find(const char *name);
const struct sl_stage_type *sl_stage_type_first(void);

/* The stage ABI: the layout of struct sl_stage, sl_stage_type,
 * sl_stage_env and sl_stage_counters and the inline helpers below, as a
 * plugin compiled against this header sees them. Bump it with any change to
 * those; a plugin built for another value is refused when it loads. */
#ifndef SL_STAGE_ABI
#define SL_STAGE_ABI 2
#endif

#ifdef SL_PLUGIN
/* In a plugin (built with -DSL_PLUGIN, see stages/plugin.h) the constructor
 * only offers the type: the loader checks the ABI before it registers it. */
void sl_plugin_offer(struct sl_stage_type *t, uint32_t abi);
#define SL_STAGE_REGISTER(t)                                                                       \
	RTE_INIT(sl_stage_register_##t)                                                            \
	{                                                                                          \
		sl_plugin_offer(&t, SL_STAGE_ABI);                                                 \
	}
#else
#define SL_STAGE_REGISTER(t)                                                                       \
	RTE_INIT(sl_stage_register_##t)                                                            \
	{                                                                                          \
		sl_stage_type_register(&t);                                                        \
	}
#endif

/* Name of output port i of an instance (dynamic ones are numbered). */
const char *sl_stage_output_name(const struct sl_stage_type *t, unsigned i, char *buf, size_t len);
/* Output port index by name, or -1. */
int sl_stage_output_index(const struct sl_stage_type *t, const char *name, unsigned n_dynamic);

/* ---- the hot path ------------------------------------------------------ */

/* Observation hooks (observe.c), called only when st->obs is set. */
#define SL_OBS_IN 0x01	  /* live capture of what enters */
#define SL_OBS_OUT 0x02	  /* live capture of what leaves by obs_port */
#define SL_OBS_TRACE 0x04 /* packet trace */
void sl_obs_in(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n);
void sl_obs_out(struct sl_stage *st, uint16_t port, struct rte_mbuf **pkts, uint16_t n);
void sl_obs_drop(struct sl_stage *st, uint16_t reason, struct rte_mbuf **pkts, uint16_t n);
void sl_obs_split(struct sl_stage *st, struct rte_mbuf **pkts, const uint16_t *next, uint16_t n);

/* Per-lcore cycle attribution: a stage's cycles exclude those of the stages
 * it calls directly, so per-stage cycles/packet add up to the cluster's.
 * Reading the TSC costs about as much as a cheap stage, so only one source
 * burst in SL_CYCLE_SAMPLE is timed, end to end through every stage it
 * reaches; cycles/packet is taken over those bursts. */
#define SL_CYCLE_SAMPLE 16
struct sl_lcore_clock {
	uint64_t child;
	uint32_t bursts;
	uint32_t timed; /* the current source burst is being timed */
};
RTE_DECLARE_PER_LCORE(struct sl_lcore_clock, sl_clock);

static inline void sl_output_push(struct sl_stage *st, const struct sl_output *o,
				  struct rte_mbuf **pkts, uint16_t n);

static inline void sl_stage_call(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	struct sl_lcore_clock *clk = &RTE_PER_LCORE(sl_clock);
	struct sl_stage_counters *c = st->cnt;

	c->calls++;
	c->pkts_in += n;
	if (likely(!clk->timed)) {
		if (unlikely(st->obs))
			sl_obs_in(st, pkts, n);
		st->type->process(st, pkts, n);
		return;
	}
	uint64_t saved = clk->child;
	uint64_t t0 = rte_rdtsc();
	clk->child = 0;
	/* Inside the timed span: a capture of what enters a stage is that
	 * stage's cost, not its caller's. */
	if (unlikely(st->obs))
		sl_obs_in(st, pkts, n);
	st->type->process(st, pkts, n);
	uint64_t incl = rte_rdtsc() - t0;
	c->cycles += incl - clk->child;
	c->timed_pkts += n;
	clk->child = saved + incl;
}

/* Called by the worker before each source poll: decides whether this burst
 * is timed. Returns the TSC to start from, or 0. */
static inline uint64_t sl_clock_burst_start(void)
{
	struct sl_lcore_clock *clk = &RTE_PER_LCORE(sl_clock);
	/* A multiplicative hash of the burst count, not the count itself: a
	 * loop that polls k sources per turn would otherwise time the same
	 * source every time whenever k divides SL_CYCLE_SAMPLE. */
	clk->timed = ((clk->bursts * 2654435761u) >> 28) < 16 / SL_CYCLE_SAMPLE;
	if (likely(!clk->timed))
		return 0;
	clk->child = 0;
	return rte_rdtsc();
}

static inline void sl_connector_push(struct sl_stage *st, struct sl_connector *conn,
				     struct rte_mbuf **pkts, uint16_t n)
{
	unsigned free_left;
	uint64_t t0 = RTE_PER_LCORE(sl_clock).timed ? rte_rdtsc() : 0;
	unsigned sent = rte_ring_sp_enqueue_burst(conn->ring, (void **)pkts, n, &free_left);

	if (t0) {
		conn->cnt->push_cycles += rte_rdtsc() - t0;
		conn->cnt->timed_pushed += sent;
	}
	conn->cnt->enqueued += sent;
	conn->cnt->free_hint = free_left;
	if (unlikely(sent < n)) {
		conn->cnt->dropped_full += n - sent;
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
	RTE_SET_USED(st);
}

static inline void sl_output_push(struct sl_stage *st, const struct sl_output *o,
				  struct rte_mbuf **pkts, uint16_t n)
{
	if (likely(o->kind == SL_OUT_STAGE)) {
		sl_stage_call(o->stage, pkts, n);
	} else if (o->kind == SL_OUT_RING) {
		sl_connector_push(st, o->conn, pkts, n);
	} else {
		st->cnt->drops[SL_DROP_UNCONNECTED] += n;
		rte_pktmbuf_free_bulk(pkts, n);
	}
}

/* Hand all n packets to output port `port`. A packet sent to a port no
 * connector leaves from counts once, as drops[unconnected], so that
 * in == sum(out) + sum(drops) holds for every stage. */
static inline void sl_forward(struct sl_stage *st, uint16_t port, struct rte_mbuf **pkts,
			      uint16_t n)
{
	if (likely(st->out[port].kind != SL_OUT_NONE))
		st->cnt->out[port] += n;
	if (unlikely(st->obs))
		sl_obs_out(st, port, pkts, n);
	sl_output_push(st, &st->out[port], pkts, n);
}

/* Drop all n packets with reason r. */
static inline void sl_drop(struct sl_stage *st, uint16_t reason, struct rte_mbuf **pkts, uint16_t n)
{
	st->cnt->drops[reason] += n;
	if (unlikely(st->obs))
		sl_obs_drop(st, reason, pkts, n);
	rte_pktmbuf_free_bulk(pkts, n);
}

/* Hand packet i to next[i], an output port or SL_DROP(reason). When every
 * packet goes the same way the whole burst moves on at once. */
static inline void sl_forward_split(struct sl_stage *st, struct rte_mbuf **pkts,
				    const uint16_t *next, uint16_t n)
{
	if (unlikely(n == 0))
		return;
	uint16_t first = next[0];
	uint16_t i, same = 1;

	for (i = 1; i < n; i++)
		same &= next[i] == first;
	if (same) {
		if (SL_IS_DROP(first))
			sl_drop(st, first & 0x7fff, pkts, n);
		else
			sl_forward(st, first, pkts, n);
		return;
	}

	uint16_t cnt[SL_STAGE_MAX_OUTPUTS + 1] = {0};
	struct rte_mbuf **drops = st->scratch + (size_t)st->n_outputs * SL_BURST_MAX;

	if (unlikely(st->obs))
		sl_obs_split(st, pkts, next, n);

	for (i = 0; i < n; i++) {
		uint16_t k = next[i];
		if (SL_IS_DROP(k)) {
			st->cnt->drops[k & 0x7fff]++;
			drops[cnt[SL_STAGE_MAX_OUTPUTS]++] = pkts[i];
		} else {
			st->scratch[(size_t)k * SL_BURST_MAX + cnt[k]++] = pkts[i];
		}
	}
	if (cnt[SL_STAGE_MAX_OUTPUTS])
		rte_pktmbuf_free_bulk(drops, cnt[SL_STAGE_MAX_OUTPUTS]);
	for (i = 0; i < st->n_outputs; i++)
		if (cnt[i])
			sl_forward(st, i, st->scratch + (size_t)i * SL_BURST_MAX, cnt[i]);
}

#endif
