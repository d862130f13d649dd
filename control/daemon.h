/* daemon.h: the state of sluiced, the control plane, and the shape of its
 * command table. Every part of sluiced includes it; it includes none of
 * them. The parts, lowest first: log.c; daemon.c (this state's helpers);
 * rundir.c (the runtime directory); server.c (clients) and stats_view.c
 * (the counter view); metrics.c (the counters in Prometheus's format) and
 * metrics_http.c (which serves them from a thread of its own); supervisor.c
 * (the dataplane); commands.c (the command handlers); sluiced.c (main,
 * which wires them). Calls only go down: the server reaches a handler
 * through the table sluiced.c installs in d->commands, never by calling
 * into commands.c. */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "config/config.h"
#include "control/proto/protocol.h"
#include "dataplane/stats/stats_segment.h"

#define SL_MAX_CLIENTS 1024
#define SL_ROOT_RESERVED 16 /* client slots only uid 0 may take */
#define SL_MAX_PER_UID 32   /* connections per non-root uid */
#define SL_MAX_PENDING 256
#define SL_MAX_BACKLOG (4u << 20) /* reply bytes queued for one client */

/* What a peer may do, decided once from SO_PEERCRED at accept. */
enum sl_role { SL_ROLE_NONE, SL_ROLE_READ, SL_ROLE_ADMIN };

struct sl_client {
	struct sl_lineconn lc;
	uint64_t gen; /* tells a reused slot from the client a reply was for */
	pid_t pid;
	uid_t uid;
	enum sl_role role;
	double last_active; /* monotonic s of its last complete request or reply */
	unsigned waiting;   /* requests of its still being answered */
	bool used;
};

/* A request forwarded to the dataplane, waiting for its reply. */
struct sl_pending {
	bool used;
	unsigned client;
	uint64_t gen;
	json_t *id;    /* the client's id */
	char cmd[32];  /* what it was, to update our state on success */
	char arg[512]; /* map_set: the cluster */
	char *name;    /* graph_load: the client's file name */
	char *text;    /* graph_load: the config's bytes */
	size_t text_len;
	int core;      /* map_set */
	bool internal; /* sent by sluiced itself (re-applying the mapping) */
};

/* Where the supervisor is with the dataplane. */
enum sl_sup_phase { SL_SUP_DOWN, SL_SUP_STARTING, SL_SUP_RUNNING, SL_SUP_BACKOFF, SL_SUP_STOPPING };

struct sl_daemon;
struct sl_metrics_http;

/* One command of the public protocol. */
typedef json_t *(*sl_handler_fn)(struct sl_daemon *d, unsigned idx, json_t *req);
struct sl_command_def {
	const char *name;
	bool mutates;		  /* needs uid 0 or the admin group */
	const char *mutates_flag; /* a bool field that, when true, makes it mutate */
	sl_handler_fn fn;	  /* returns the reply, or NULL when it comes later */
	const char *help;
};

struct sl_daemon {
	/* options */
	const char *socket_path;
	const char *pidfile;
	const char *dp_binary;
	bool use_syslog;
	bool attach;
	const char *admin_group, *read_group; /* NULL: none */
	gid_t admin_gid, read_gid;
	double client_timeout_s;
	const char *metrics_addr; /* --metrics HOST:PORT, or NULL */

	/* The private runtime directory: pid file, totals, config copy and
	 * the dataplane's socket. Files in it are opened relative to dirfd. */
	char runtime_dir[4096];
	int dirfd;
	int pidfile_fd; /* held open and flock'ed while we run */
	bool wrote_pidfile;
	char private_config[64]; /* name in runtime_dir of the copy we run */

	/* The last good config as bytes (never re-read from a path), the name
	 * it came under, and the mapping as changed since. */
	char *config_text;
	size_t config_len;
	bool config_untrusted; /* it came from a client (not our --config) */
	char *config_name;
	struct sl_config *cfg;
	/* dataplane.file_dirs of the config we were started with: the
	 * bound on files an untrusted graph load may name. */
	char **file_dirs;
	unsigned n_file_dirs;
	/* dataplane.plugins of that config (resolved paths): the only
	 * plugins a graph load may name, passed to the dataplane as --plugin. */
	char **plugins;
	unsigned n_plugins;
	int *mapping; /* core per cluster of cfg */

	/* the dataplane */
	enum sl_sup_phase phase;
	pid_t dp_pid;
	bool dp_is_child;
	int pidfd;
	struct sl_lineconn dp_chan; /* the control channel to the dataplane */
	bool dp_connected;
	char dp_socket[108];
	char totals_name[128]; /* in runtime_dir: folded totals, for --attach */
	double dp_started;     /* monotonic seconds */
	double backoff_until;  /* monotonic seconds */
	double backoff_s;
	unsigned restarts;
	unsigned fast_crashes; /* consecutive deaths soon after start */
	char last_exit[256];
	/* The watchdog (supervisor.c): the last heartbeats seen, per cluster
	 * and of the management thread, and since when (monotonic s). */
	unsigned wd_n; /* clusters baselined; 0: baseline on the next tick */
	uint64_t *wd_beats;
	double *wd_since;
	uint64_t wd_mgmt;
	double wd_mgmt_since;
	double wd_checked; /* when it last looked: at most every 100 ms */
	char wd_reason[192]; /* why it killed the dataplane, until the exit */
	bool restart_requested;
	bool shutdown_requested;
	int shutdown_client;
	uint64_t shutdown_gen;
	json_t *shutdown_id;
	struct sl_pending pending[SL_MAX_PENDING];

	/* counters */
	const struct sl_stats_hdr *stats;
	json_t *folded;	     /* totals of dataplanes that died, by name */
	unsigned folded_gen; /* bumped whenever folded changes */
	json_t *baseline;    /* subtracted after a reset */

	/* the Prometheus endpoint (metrics_http.c), or NULL */
	struct sl_metrics_http *metrics;

	/* the command table (commands.c), installed by sluiced.c */
	const struct sl_command_def *commands;
	size_t n_commands;

	/* clients */
	int listen_fd;
	bool listen_paused; /* out of epoll after EMFILE with no spare fd */
	double listen_resume;
	int spare_fd;				    /* closed to accept-and-drop when fds run out */
	double last_fd_warning, last_limit_warning; /* rate limits of the warnings */
	int epfd;
	struct sl_client clients[SL_MAX_CLIENTS];
	uint64_t next_gen;
	double started;
	bool quit;
};

/* daemon.c */
double sl_now(void); /* monotonic seconds */
const char *sl_phase_name(enum sl_sup_phase p);
const struct sl_command_def *sl_command_find(const struct sl_daemon *d, const char *name);
/* Whether this request changes anything (counters with reset does). */
bool sl_command_mutating(const struct sl_command_def *c, json_t *req);

#endif
