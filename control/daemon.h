/* daemon.h: the state of sluiced, the control plane, shared by its parts:
 * the client server (server.c), the command handlers (commands.c), the
 * dataplane supervisor (supervisor.c) and the counter view (stats_view.c). */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "control/config.h"
#include "control/protocol.h"
#include "dataplane/stats_segment.h"

#define SL_MAX_CLIENTS 1024
#define SL_MAX_PENDING 256
#define SL_MAX_BACKLOG (4u << 20) /* reply bytes queued for one client */

struct sl_client {
	struct sl_lineconn lc;
	uint64_t gen; /* tells a reused slot from the client a reply was for */
	pid_t pid;
	uid_t uid;
	bool used;
};

/* A request forwarded to the dataplane, waiting for its reply. */
struct sl_pending {
	bool used;
	unsigned client;
	uint64_t gen;
	json_t *id;    /* the client's id */
	char cmd[32];  /* what it was, to update our state on success */
	char arg[512]; /* graph_load: the config path; map_set: the cluster */
	int core;      /* map_set */
	bool internal; /* sent by sluiced itself (re-applying the mapping) */
};

enum sl_dp_phase { SL_DP_DOWN, SL_DP_STARTING_UP, SL_DP_UP, SL_DP_BACKOFF, SL_DP_STOPPING };

struct sl_daemon {
	/* options */
	const char *socket_path;
	const char *pidfile;
	const char *dp_binary;
	bool use_syslog;
	bool attach;

	/* the last good config, and the mapping as changed since */
	char *config_path;
	struct sl_config *cfg;
	int *mapping; /* core per cluster of cfg */

	/* the dataplane */
	enum sl_dp_phase phase;
	pid_t dp_pid;
	bool dp_is_child;
	int pidfd;
	struct sl_lineconn dp;
	bool dp_connected;
	char dp_socket[108];
	char totals_path[4200]; /* folded totals, so an --attach keeps them */
	double dp_started;	/* monotonic seconds */
	double backoff_until;	/* monotonic seconds */
	double backoff_s;
	unsigned restarts;
	unsigned fast_crashes; /* consecutive deaths soon after start */
	char last_exit[128];
	bool restart_requested;
	bool shutdown_requested;
	int shutdown_client;
	uint64_t shutdown_gen;
	json_t *shutdown_id;
	struct sl_pending pending[SL_MAX_PENDING];

	/* counters */
	const struct sl_stats_hdr *stats;
	json_t *folded;	  /* totals of dataplanes that died, by name */
	json_t *baseline; /* subtracted after a reset */

	/* clients */
	int listen_fd;
	int epfd;
	struct sl_client clients[SL_MAX_CLIENTS];
	uint64_t next_gen;
	double started;
	bool quit;
};

double sl_now(void);

/* log.c */
void sl_log_init(bool use_syslog);
void sl_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* server.c */
int sl_server_open(struct sl_daemon *d, char *err, size_t len);
void sl_server_close(struct sl_daemon *d);
void sl_server_accept(struct sl_daemon *d);
void sl_server_client_event(struct sl_daemon *d, unsigned idx, uint32_t events);
/* Reply to client idx if it is still the one (gen) that asked. Steals reply. */
void sl_server_reply(struct sl_daemon *d, unsigned idx, uint64_t gen, json_t *reply);

/* commands.c: handle one request from client idx; returns the reply, or
 * NULL when the reply will come later (forwarded to the dataplane). */
json_t *sl_command(struct sl_daemon *d, unsigned idx, json_t *req);
/* Whether a command changes anything (those are logged with the peer). */
bool sl_command_mutates(const char *cmd);

/* supervisor.c */
int sl_sup_start(struct sl_daemon *d, char *err, size_t len);
void sl_sup_dp_event(struct sl_daemon *d, uint32_t events);
void sl_sup_pidfd_event(struct sl_daemon *d);
void sl_sup_tick(struct sl_daemon *d);
/* Forward req to the dataplane for client idx; returns 0, or -1 with *reply. */
int sl_sup_forward(struct sl_daemon *d, unsigned idx, json_t *req, const char *arg, int core,
		   json_t **reply);
void sl_sup_stop(struct sl_daemon *d, unsigned idx);
void sl_sup_restart(struct sl_daemon *d);
const char *sl_sup_phase_name(enum sl_dp_phase p);

/* stats_view.c */
/* The counters as the operator sees them: the running dataplane's, plus the
 * totals of earlier dataplanes, minus the last reset. NULL if none yet. */
json_t *sl_view_counters(struct sl_daemon *d, char *err, size_t len);
void sl_view_fold_dead(struct sl_daemon *d);
/* --attach: take over the totals an earlier sluiced had folded. */
void sl_view_load_totals(struct sl_daemon *d);
int sl_view_reset(struct sl_daemon *d, char *err, size_t len);
void sl_view_close(struct sl_daemon *d);
/* Map the running dataplane's current segment now (after it says hello or
 * loads a graph), so its final counters can be read even after it exits. */
void sl_view_refresh(struct sl_daemon *d);

#endif
