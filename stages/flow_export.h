/* flow_export.h: where finished flow records go. A stage hands records
 * (fixed-size structs, by value) to an SP/SC ring; an exporter thread of
 * its own, off the workers, encodes them as IPFIX (RFC 7011/7012) over UDP
 * and as JSON lines, and keeps its counts where the stage can read them.
 * The encoders are exposed for unit tests. */
#ifndef SL_FLOW_EXPORT_H
#define SL_FLOW_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ring.h>

#include "stages/stage.h"

/* A unidirectional flow's key: the hash key of `flowstats` as it is, so
 * every byte (padding included) is set. Ports in host order; ICMP carries
 * type << 8 | code in dport, as NetFlow collectors expect. IPv4 addresses
 * are the first 4 bytes of src/dst, the rest zero. */
struct sl_flow_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport, dport;
	uint16_t vlan; /* VLAN id of the outer tag, 0 when untagged */
	uint8_t proto;
	uint8_t v6; /* 0: IPv4, 1: IPv6 */
	/* To 48 bytes, always zero: rte_hash compares a 48-byte key with
	 * three vector compares (any other length is a memcmp call), and its
	 * key slot (8 bytes of data pointer, the key) is then exactly one
	 * cache line, so a lookup touches one line of the key store, not two. */
	uint8_t pad[8];
} __rte_aligned(16);

/* flowEndReason, RFC 5102 */
enum sl_flow_end {
	SL_FLOW_END_IDLE = 1,
	SL_FLOW_END_ACTIVE = 2,
	SL_FLOW_END_EOF = 3,	/* TCP FIN or RST */
	SL_FLOW_END_FORCED = 4, /* shutdown */
	SL_FLOW_END_LACK = 5,	/* the table was full */
};

struct sl_flow_rec {
	struct sl_flow_key key;
	uint16_t tcp_flags;
	uint8_t reason;
	uint8_t pad[5];
	uint64_t packets;
	uint64_t bytes;		    /* IP bytes, header included */
	uint64_t first_ms, last_ms; /* since the epoch */
};

/* The exporter's counts. Written by its thread only; read with
 * sl_flow_export_stats from anywhere. */
struct sl_flow_export_stats {
	uint64_t records;     /* records taken off the ring */
	uint64_t messages;    /* IPFIX messages sent (templates included) */
	uint64_t send_errors; /* IPFIX sends that failed (e.g. no collector) */
	uint64_t json_lines;
	uint64_t write_errors;
};

struct sl_flow_exporter;

/* Management thread: open every target ("ipfix://HOST:PORT", "json:/abs"
 * opened through env->open_file), make the record ring (ring_slots, a
 * power of two) on socket, and start the exporter thread. */
struct sl_flow_exporter *sl_flow_export_open(char *const *targets, unsigned n_targets,
					     uint32_t domain, uint32_t template_refresh_s,
					     unsigned ring_slots, const struct sl_stage_env *env,
					     char *err, size_t len);
/* The ring the worker enqueues records to (rte_ring_sp_enqueue_burst_elem,
 * element size sizeof(struct sl_flow_rec)). */
struct rte_ring *sl_flow_export_ring(struct sl_flow_exporter *x);
/* Management thread, once the worker is done with the ring: queue recs,
 * waiting for room (up to 10 s without progress). Returns how many went. */
size_t sl_flow_export_put_wait(struct sl_flow_exporter *x, const struct sl_flow_rec *recs,
			       size_t n);
/* Management thread: let the thread encode everything queued, stop it,
 * close the targets and free x (NULL: nothing). last (optional) gets the
 * final counts. */
void sl_flow_export_close(struct sl_flow_exporter *x, struct sl_flow_export_stats *last);
/* The counts so far (relaxed reads; any thread). */
void sl_flow_export_stats(const struct sl_flow_exporter *x, struct sl_flow_export_stats *out);

/* ---- encoders ---------------------------------------------------------- */

#define SL_IPFIX_MTU 1400 /* no message is longer */
#define SL_IPFIX_TMPL_V4 256
#define SL_IPFIX_TMPL_V6 257

/* An IPFIX message holding the two templates. Returns its length. */
size_t sl_ipfix_templates(uint8_t *buf, uint32_t export_s, uint32_t seq, uint32_t domain);

/* Builds data messages: records are appended to buf (SL_IPFIX_MTU bytes)
 * while they fit, in sets by template. */
struct sl_ipfix_msg {
	uint8_t buf[SL_IPFIX_MTU];
	size_t len;	 /* 0: empty */
	size_t set_off;	 /* where the open set's header is */
	uint16_t set_id; /* 0: no open set */
	uint32_t n_recs;
};
/* Append rec; false when it does not fit (send, reset, append again). */
bool sl_ipfix_add(struct sl_ipfix_msg *m, const struct sl_flow_rec *rec);
/* Close the message with its header; returns its length. seq: the data
 * records sent before this message. */
size_t sl_ipfix_finish(struct sl_ipfix_msg *m, uint32_t export_s, uint32_t seq, uint32_t domain);
void sl_ipfix_reset(struct sl_ipfix_msg *m);

/* One JSON object and a newline; returns its length (under 600 bytes). */
size_t sl_flow_json(char *buf, size_t len, const struct sl_flow_rec *rec, uint32_t domain);

#endif
