/* metrics_http.c: serves GET /metrics (rendered by metrics.c) over HTTP with
 * libmicrohttpd, from a thread of its own, so a scrape never waits for
 * sluiced's main loop nor holds it up. The thread maps the stats segment
 * itself; all it takes from the main loop is what sl_metrics_http_sync
 * publishes under a lock: the dataplane's pid and the folded totals. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "control/daemon.h"
#include "control/log.h"
#include "control/metrics.h"
#include "control/metrics_http.h"
#include "control/stats_view.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

/* Prometheus scrapes one target with one connection; a few more let an
 * operator's curl in while it does. */
#define MAX_CONNS 16
#define MAX_CONNS_PER_IP 4
#define CONN_TIMEOUT_S 10
#define CONN_MEMORY (16u << 10) /* request headers, per connection */

struct sl_metrics_http {
	struct MHD_Daemon *mhd;
	int listen_fd; /* ours until MHD has it */
	char addr[160];

	pthread_mutex_t lock;
	/* Published by the main loop, under lock. gen changes with each. */
	uint64_t gen;
	long pid; /* 0: no dataplane whose segment may be read */
	unsigned restarts;
	json_t *folded; /* a copy of d->folded: only this file touches it */
	char name[64];

	/* The main loop's own: what it last published. */
	bool synced;
	long last_pid;
	unsigned last_restarts, last_folded_gen;

	/* The MHD thread's own. */
	const struct sl_stats_hdr *stats;
	double log_window;
	unsigned logged;
};

/* "HOST:PORT" or "[HOST]:PORT" into its parts; HOST must be numeric. */
static int split_addr(const char *s, char *host, size_t hlen, char *port, size_t plen, bool *v6,
		      char *err, size_t len)
{
	const char *h, *p;
	size_t hl;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':') {
			snprintf(err, len, "--metrics %s: want [IPV6]:PORT", s);
			return -1;
		}
		h = s + 1;
		hl = (size_t)(end - h);
		p = end + 2;
		*v6 = true;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, len,
				 "--metrics %s: want HOST:PORT (127.0.0.1:9469, [::1]:9469)", s);
			return -1;
		}
		if (memchr(s, ':', (size_t)(colon - s))) {
			snprintf(err, len,
				 "--metrics %s: an IPv6 address goes in brackets: [::1]:9469", s);
			return -1;
		}
		h = s;
		hl = (size_t)(colon - s);
		p = colon + 1;
		*v6 = false;
	}
	if (hl == 0 || hl >= hlen) {
		snprintf(err, len, "--metrics %s: no address before the port", s);
		return -1;
	}
	char *end;
	errno = 0;
	unsigned long n = strtoul(p, &end, 10);
	if (!*p || *end || errno || n == 0 || n > 65535 || strspn(p, "0123456789") != strlen(p) ||
	    strlen(p) >= plen) {
		snprintf(err, len, "--metrics %s: the port must be a number from 1 to 65535", s);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, plen, "%lu", n);
	return 0;
}

int sl_metrics_http_bind(struct sl_daemon *d, char *err, size_t len)
{
	char host[128], port[8];
	bool v6;
	if (split_addr(d->metrics_addr, host, sizeof(host), port, sizeof(port), &v6, err, len) < 0)
		return -1;
	/* Numeric only: sluiced runs as root and listens exactly where it is
	 * told, never where a resolver says a name is. */
	struct addrinfo hints = {.ai_family = v6 ? AF_INET6 : AF_INET,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE},
			*ai = NULL;
	/* inet_pton: the dotted quad only (getaddrinfo also takes "1.2.3"). */
	struct in_addr a4;
	int rc = v6 || inet_pton(AF_INET, host, &a4) == 1 ? getaddrinfo(host, port, &hints, &ai)
							  : EAI_NONAME;
	if (rc != 0 || !ai) {
		snprintf(err, len, "--metrics %s: '%s' is not a numeric %s address%s",
			 d->metrics_addr, host, v6 ? "IPv6" : "IPv4",
			 v6 ? "" : " (IPv6 goes in brackets: [::1]:9469)");
		if (ai)
			freeaddrinfo(ai);
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		snprintf(err, len, "--metrics %s: cannot listen there: %s", d->metrics_addr,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	struct sl_metrics_http *m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		snprintf(err, len, "out of memory");
		return -1;
	}
	m->listen_fd = fd;
	snprintf(m->addr, sizeof(m->addr), "%s", d->metrics_addr);
	pthread_mutex_init(&m->lock, NULL);
	d->metrics = m;
	return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct sl_metrics_http *m = cls;
	/* A client can make MHD complain (limits, bad requests): a few lines a
	 * minute are enough to see it. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double now = (double)ts.tv_sec;
	if (now - m->log_window >= 60) {
		m->log_window = now;
		m->logged = 0;
	}
	if (m->logged++ >= 10)
		return;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	sl_log(LOG_WARNING, "metrics endpoint: %s", msg);
}

/* The exposition text of this moment, or NULL with err. The totals and
 * the segment must be of the same moment: a segment read while the main
 * loop folded that dataplane in would count it twice, so a change of gen
 * during the read means reading again. */
static char *scrape(struct sl_metrics_http *m, size_t *len, char *err, size_t elen)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		char name[sizeof(m->name)];
		pthread_mutex_lock(&m->lock);
		uint64_t gen = m->gen;
		long pid = m->pid;
		memcpy(name, m->name, sizeof(name));
		pthread_mutex_unlock(&m->lock);

		json_t *view = NULL;
		if (pid) {
			view = sl_view_snapshot_of(&m->stats, name, pid, NULL, err, elen);
		} else if (m->stats) {
			sl_stats_close(m->stats);
			m->stats = NULL;
		}
		pthread_mutex_lock(&m->lock);
		if (gen != m->gen) {
			pthread_mutex_unlock(&m->lock);
			json_decref(view);
			continue;
		}
		if (pid && !view) {
			/* No answer beats totals that dip and come back. */
			pthread_mutex_unlock(&m->lock);
			return NULL;
		}
		if (view)
			sl_view_add_totals(view, m->folded);
		else if (m->folded)
			view = json_deep_copy(m->folded);
		struct sl_metrics_info info = {.up = pid != 0,
					       .restarts = m->restarts,
					       .version = SLUICE_VERSION,
					       .dpdk = sl_metrics_dpdk_version()};
		pthread_mutex_unlock(&m->lock);
		char *out = sl_metrics_render(view, &info, len);
		json_decref(view);
		if (!out)
			snprintf(err, elen, "out of memory");
		return out;
	}
	snprintf(err, elen, "the dataplane kept changing under the scrape");
	return NULL;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text,
				  bool allow)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct sl_metrics_http *m = cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req_cls;
	/* Answered on the first call, before any request body is read: none
	 * is wanted, and MHD closes a connection whose body it did not read. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics is served\n",
				  true);
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: only /metrics is served\n",
				  false);
	char err[512], msg[600];
	size_t len = 0;
	char *body = scrape(m, &len, err, sizeof(err));
	if (!body) {
		snprintf(msg, sizeof(msg), "counters unavailable: %s\n", err);
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg, false);
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

int sl_metrics_http_start(struct sl_daemon *d, char *err, size_t len)
{
	struct sl_metrics_http *m = d->metrics;
	if (!m)
		return 0;
	sl_metrics_http_sync(d); /* the thread's first scrape sees the daemon's state */
	m->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, m, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m, MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)m->listen_fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_CONNS_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_END);
	if (!m->mhd) {
		snprintf(err, len, "--metrics %s: libmicrohttpd would not start", m->addr);
		return -1;
	}
	m->listen_fd = -1; /* MHD closes it when it stops */
	sl_log(LOG_INFO, "serving metrics on http://%s/metrics", m->addr);
	return 0;
}

void sl_metrics_http_sync(struct sl_daemon *d)
{
	struct sl_metrics_http *m = d->metrics;
	if (!m)
		return;
	/* A starting dataplane's segment may not be there yet; a stopping
	 * one's still is. */
	long pid = d->phase == SL_SUP_RUNNING || d->phase == SL_SUP_STOPPING ? (long)d->dp_pid : 0;
	if (m->synced && pid == m->last_pid && d->restarts == m->last_restarts &&
	    d->folded_gen == m->last_folded_gen)
		return;
	json_t *copy = d->folded ? json_deep_copy(d->folded) : NULL, *old;
	pthread_mutex_lock(&m->lock);
	old = m->folded;
	m->folded = copy;
	m->pid = pid;
	m->restarts = d->restarts;
	snprintf(m->name, sizeof(m->name), "%s", d->cfg->dp.name);
	m->gen++;
	pthread_mutex_unlock(&m->lock);
	json_decref(old);
	m->synced = true;
	m->last_pid = pid;
	m->last_restarts = d->restarts;
	m->last_folded_gen = d->folded_gen;
}

void sl_metrics_http_stop(struct sl_daemon *d)
{
	struct sl_metrics_http *m = d->metrics;
	if (!m)
		return;
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	sl_stats_close(m->stats);
	json_decref(m->folded);
	pthread_mutex_destroy(&m->lock);
	free(m);
	d->metrics = NULL;
}
