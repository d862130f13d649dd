/* flow_export.c: the exporter behind flow_export.h. Its thread (a DPDK
 * control thread, never a worker) takes finished flow records off the
 * ring, encodes them as IPFIX messages sent over UDP to every collector and
 * as JSON lines written to every file, and keeps its own counts. */
#include "stages/flow_export.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring_elem.h>

#define MAX_TARGETS 16
#define BATCH 64
#define JSON_BUF 65536
/* UDP has no flow control: after this many messages in a row the thread
 * pauses 1 ms, so a burst (a shutdown flushing the whole table) fits a
 * collector's socket buffer. 64 per ms is about 1.3 million records/s. */
#define PACE_MSGS 64

struct sl_flow_exporter {
	struct rte_ring *ring;
	pthread_t thread;
	bool started;
	int stop; /* set by close, read by the thread (atomics) */
	int udp[MAX_TARGETS];
	unsigned n_udp;
	int json[MAX_TARGETS];
	unsigned n_json;
	uint32_t domain;
	uint32_t seq; /* data records sent: the next message's sequence number */
	uint64_t refresh_ms, next_tmpl_ms;
	unsigned burst;			 /* messages since the last pause */
	struct sl_flow_export_stats cnt; /* written by the thread only */
	struct sl_ipfix_msg msg;
	size_t jlen;
	char jbuf[JSON_BUF];
	struct sl_flow_rec batch[BATCH];
};

/* ---- IPFIX encoding ----------------------------------------------------- */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	return put16(put16(p, (uint16_t)(v >> 16)), (uint16_t)v);
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

/* The fields of both templates, in record order: {IE, length}. The address
 * IEs differ by template; everything else is shared. tcpControlBits is two
 * octets, as RFC 7125 made it. */
static const uint16_t tmpl_v4[][2] = {
    {8, 4},  {12, 4}, {7, 2}, {11, 2},	{4, 1},	  {6, 2},
    {58, 2}, {1, 8},  {2, 8}, {152, 8}, {153, 8}, {136, 1},
};
static const uint16_t tmpl_v6[][2] = {
    {27, 16}, {28, 16}, {7, 2}, {11, 2},  {4, 1},   {6, 2},
    {58, 2},  {1, 8},	{2, 8}, {152, 8}, {153, 8}, {136, 1},
};
#define N_FIELDS RTE_DIM(tmpl_v4)
#define REC_V4 50
#define REC_V6 74

static uint8_t *put_header(uint8_t *p, size_t len, uint32_t export_s, uint32_t seq, uint32_t dom)
{
	p = put16(p, 10); /* version: IPFIX */
	p = put16(p, (uint16_t)len);
	p = put32(p, export_s);
	p = put32(p, seq);
	return put32(p, dom);
}

size_t sl_ipfix_templates(uint8_t *buf, uint32_t export_s, uint32_t seq, uint32_t domain)
{
	uint8_t *p = buf + 16;
	uint8_t *set = p;
	p += 4;
	for (int t = 0; t < 2; t++) {
		const uint16_t(*f)[2] = t ? tmpl_v6 : tmpl_v4;
		p = put16(p, t ? SL_IPFIX_TMPL_V6 : SL_IPFIX_TMPL_V4);
		p = put16(p, N_FIELDS);
		for (size_t i = 0; i < N_FIELDS; i++) {
			p = put16(p, f[i][0]);
			p = put16(p, f[i][1]);
		}
	}
	put16(set, 2); /* template set */
	put16(set + 2, (uint16_t)(p - set));
	size_t len = (size_t)(p - buf);
	put_header(buf, len, export_s, seq, domain);
	return len;
}

void sl_ipfix_reset(struct sl_ipfix_msg *m)
{
	m->len = 0;
	m->set_off = 0;
	m->set_id = 0;
	m->n_recs = 0;
}

static void close_set(struct sl_ipfix_msg *m)
{
	if (m->set_id)
		put16(m->buf + m->set_off + 2, (uint16_t)(m->len - m->set_off));
	m->set_id = 0;
}

bool sl_ipfix_add(struct sl_ipfix_msg *m, const struct sl_flow_rec *r)
{
	uint16_t id = r->key.v6 ? SL_IPFIX_TMPL_V6 : SL_IPFIX_TMPL_V4;
	size_t need = r->key.v6 ? REC_V6 : REC_V4;
	if (m->len == 0)
		m->len = 16;
	if (m->set_id != id)
		need += 4;
	if (m->len + need > SL_IPFIX_MTU)
		return false;
	if (m->set_id != id) {
		close_set(m);
		m->set_off = m->len;
		put16(m->buf + m->len, id);
		m->len += 4;
		m->set_id = id;
	}
	uint8_t *p = m->buf + m->len;
	unsigned alen = r->key.v6 ? 16 : 4;
	memcpy(p, r->key.src, alen);
	memcpy(p + alen, r->key.dst, alen);
	p += 2 * alen;
	p = put16(p, r->key.sport);
	p = put16(p, r->key.dport);
	*p++ = r->key.proto;
	p = put16(p, r->tcp_flags);
	p = put16(p, r->key.vlan);
	p = put64(p, r->bytes);
	p = put64(p, r->packets);
	p = put64(p, r->first_ms);
	p = put64(p, r->last_ms);
	*p++ = r->reason;
	m->len = (size_t)(p - m->buf);
	m->n_recs++;
	return true;
}

size_t sl_ipfix_finish(struct sl_ipfix_msg *m, uint32_t export_s, uint32_t seq, uint32_t domain)
{
	if (m->n_recs == 0)
		return 0;
	close_set(m);
	put_header(m->buf, m->len, export_s, seq, domain);
	return m->len;
}

/* ---- JSON encoding ------------------------------------------------------ */

size_t sl_flow_json(char *buf, size_t len, const struct sl_flow_rec *r, uint32_t domain)
{
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	int af = r->key.v6 ? AF_INET6 : AF_INET;
	const char *v = r->key.v6 ? "IPv6" : "IPv4";
	inet_ntop(af, r->key.src, sa, sizeof(sa));
	inet_ntop(af, r->key.dst, da, sizeof(da));
	int n = snprintf(
	    buf, len,
	    "{\"observationDomainId\":%u,\"source%sAddress\":\"%s\",\"destination%sAddress\":"
	    "\"%s\",\"sourceTransportPort\":%u,\"destinationTransportPort\":%u,"
	    "\"protocolIdentifier\":%u,\"tcpControlBits\":%u,\"vlanId\":%u,\"octetDeltaCount\":%"
	    "llu,"
	    "\"packetDeltaCount\":%llu,\"flowStartMilliseconds\":%llu,\"flowEndMilliseconds\":%llu,"
	    "\"flowEndReason\":%u}\n",
	    domain, v, sa, v, da, r->key.sport, r->key.dport, r->key.proto, r->tcp_flags,
	    r->key.vlan, (unsigned long long)r->bytes, (unsigned long long)r->packets,
	    (unsigned long long)r->first_ms, (unsigned long long)r->last_ms, r->reason);
	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

/* ---- the exporter thread ------------------------------------------------ */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void bump(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static void send_all(struct sl_flow_exporter *x, const uint8_t *buf, size_t len)
{
	if (++x->burst > PACE_MSGS) {
		usleep(1000);
		x->burst = 1;
	}
	for (unsigned i = 0; i < x->n_udp; i++) {
		if (send(x->udp[i], buf, len, MSG_DONTWAIT) != (ssize_t)len)
			bump(&x->cnt.send_errors, 1);
		else
			bump(&x->cnt.messages, 1);
	}
}

static void send_templates(struct sl_flow_exporter *x)
{
	uint8_t buf[256];
	size_t len = sl_ipfix_templates(buf, (uint32_t)time(NULL), x->seq, x->domain);
	send_all(x, buf, len);
	x->next_tmpl_ms = mono_ms() + x->refresh_ms;
}

static void flush_ipfix(struct sl_flow_exporter *x)
{
	size_t len = sl_ipfix_finish(&x->msg, (uint32_t)time(NULL), x->seq, x->domain);
	if (len) {
		send_all(x, x->msg.buf, len);
		x->seq += x->msg.n_recs;
	}
	sl_ipfix_reset(&x->msg);
}

static void flush_json(struct sl_flow_exporter *x)
{
	for (unsigned i = 0; i < x->n_json && x->jlen; i++) {
		size_t off = 0;
		while (off < x->jlen) {
			ssize_t w = write(x->json[i], x->jbuf + off, x->jlen - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				bump(&x->cnt.write_errors, 1);
				break;
			}
			off += (size_t)w;
		}
	}
	x->jlen = 0;
}

static void encode(struct sl_flow_exporter *x, const struct sl_flow_rec *r)
{
	if (x->n_udp && !sl_ipfix_add(&x->msg, r)) {
		flush_ipfix(x);
		sl_ipfix_add(&x->msg, r);
	}
	if (x->n_json) {
		if (x->jlen + 1024 > JSON_BUF) /* a line is under 600 bytes */
			flush_json(x);
		x->jlen += sl_flow_json(x->jbuf + x->jlen, JSON_BUF - x->jlen, r, x->domain);
		bump(&x->cnt.json_lines, 1);
	}
}

static void *exporter_main(void *arg)
{
	struct sl_flow_exporter *x = arg;
	for (;;) {
		if (x->n_udp && mono_ms() >= x->next_tmpl_ms) {
			flush_ipfix(x);
			send_templates(x);
		}
		unsigned n = rte_ring_sc_dequeue_burst_elem(x->ring, x->batch, sizeof(x->batch[0]),
							    BATCH, NULL);
		/* IPv4 first, then IPv6: a message then holds one or two
		 * sets, not a set header per change of template. */
		for (unsigned v6 = 0; v6 < 2; v6++)
			for (unsigned i = 0; i < n; i++)
				if (x->batch[i].key.v6 == v6)
					encode(x, &x->batch[i]);
		bump(&x->cnt.records, n);
		if (n)
			continue;
		/* Nothing waiting: what was encoded goes out now, not when a
		 * message fills. */
		flush_ipfix(x);
		flush_json(x);
		x->burst = 0;
		if (__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE)) {
			if (rte_ring_count(x->ring) == 0)
				break;
			continue;
		}
		usleep(1000);
	}
	return NULL;
}

/* ---- set-up and teardown ------------------------------------------------ */

static int open_udp(const char *target, char *err, size_t len)
{
	char host[256];
	const char *hp = target + 8, *colon = strrchr(hp, ':');
	size_t hl = (size_t)(colon - hp);
	if (hl >= sizeof(host)) {
		snprintf(err, len, "'%s': host name too long", target);
		return -1;
	}
	memcpy(host, hp, hl);
	host[hl] = '\0';
	char *h = host;
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') { /* [v6]:port */
		host[hl - 1] = '\0';
		h++;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *ai;
	int rc = getaddrinfo(h, colon + 1, &hints, &ai);
	if (rc) {
		snprintf(err, len, "'%s': %s", target, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	/* connect: the kernel then reports a collector that is not there
	 * (ICMP unreachable) as a send error, which is counted. */
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		snprintf(err, len, "'%s': %s", target, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void close_fds(struct sl_flow_exporter *x)
{
	for (unsigned i = 0; i < x->n_udp; i++)
		close(x->udp[i]);
	for (unsigned i = 0; i < x->n_json; i++)
		close(x->json[i]);
	x->n_udp = x->n_json = 0;
}

struct sl_flow_exporter *sl_flow_export_open(char *const *targets, unsigned n_targets,
					     uint32_t domain, uint32_t template_refresh_s,
					     unsigned ring_slots, const struct sl_stage_env *env,
					     char *err, size_t len)
{
	static unsigned seq;
	struct sl_flow_exporter *x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	x->domain = domain;
	x->refresh_ms = (uint64_t)template_refresh_s * 1000;
	for (unsigned i = 0; i < n_targets && i < MAX_TARGETS; i++) {
		const char *t = targets[i];
		int fd;
		if (!strncmp(t, "ipfix://", 8)) {
			if ((fd = open_udp(t, err, len)) < 0)
				goto fail;
			x->udp[x->n_udp++] = fd;
		} else if (!strncmp(t, "json:", 5)) {
			char e[256] = "";
			if ((fd = env->open_file(env, t + 5, true, e, sizeof(e))) < 0) {
				snprintf(err, len, "'%s': %s", t, e);
				goto fail;
			}
			/* Appending: an instance that replaces this one in a graph
			 * load opens the same file while this one still flushes. */
			(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND);
			x->json[x->n_json++] = fd;
		} else {
			snprintf(err, len, "'%s' is not an export target", t);
			goto fail;
		}
	}
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "sl_flowrec_%u",
		 __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	x->ring = rte_ring_create_elem(name, sizeof(struct sl_flow_rec), ring_slots, env->socket,
				       RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!x->ring) {
		snprintf(err, len, "no record ring of %u slots: %s", ring_slots,
			 rte_strerror(rte_errno));
		goto fail;
	}
	int rc = rte_ctrl_thread_create(&x->thread, "sl-flowexp", NULL, exporter_main, x);
	if (rc) {
		snprintf(err, len, "cannot start the exporter thread: %s", strerror(-rc));
		goto fail;
	}
	x->started = true;
	return x;
fail:
	rte_ring_free(x->ring);
	close_fds(x);
	free(x);
	return NULL;
}

struct rte_ring *sl_flow_export_ring(struct sl_flow_exporter *x)
{
	return x->ring;
}

size_t sl_flow_export_put_wait(struct sl_flow_exporter *x, const struct sl_flow_rec *recs, size_t n)
{
	/* The worker is gone: this thread is the ring's producer now. Wait
	 * for room (the exporter drains it), up to 10 s of no progress. */
	size_t put = 0;
	unsigned stuck = 0;
	while (put < n && stuck < 10000) {
		unsigned k =
		    rte_ring_sp_enqueue_burst_elem(x->ring, recs + put, sizeof(*recs),
						   (unsigned)RTE_MIN(n - put, (size_t)BATCH), NULL);
		put += k;
		if (k == 0) {
			usleep(1000);
			stuck++;
		} else {
			stuck = 0;
		}
	}
	return put;
}

void sl_flow_export_close(struct sl_flow_exporter *x, struct sl_flow_export_stats *last)
{
	if (!x)
		return;
	__atomic_store_n(&x->stop, 1, __ATOMIC_RELEASE);
	if (x->started)
		pthread_join(x->thread, NULL);
	if (last)
		sl_flow_export_stats(x, last);
	rte_ring_free(x->ring);
	close_fds(x);
	free(x);
}

void sl_flow_export_stats(const struct sl_flow_exporter *x, struct sl_flow_export_stats *out)
{
	out->records = __atomic_load_n(&x->cnt.records, __ATOMIC_RELAXED);
	out->messages = __atomic_load_n(&x->cnt.messages, __ATOMIC_RELAXED);
	out->send_errors = __atomic_load_n(&x->cnt.send_errors, __ATOMIC_RELAXED);
	out->json_lines = __atomic_load_n(&x->cnt.json_lines, __ATOMIC_RELAXED);
	out->write_errors = __atomic_load_n(&x->cnt.write_errors, __ATOMIC_RELAXED);
}
