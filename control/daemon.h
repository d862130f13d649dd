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

enum sl_dp_phase { SL_DP_DOWN, SL_DP_STARTING_UP, SL_DP_UP, SL_DP_BACKOFF, SL_DP_STOPPING };

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
	char *config_name;
	struct sl_config *cfg;
	/* dataplane.file_dirs of the config we were started with: the
	 * bound on files an untrusted graph load may name. */
	char **file_dirs;
	unsigned n_file_dirs;
	int *mapping; /* core per cluster of cfg */

	/* the dataplane */
	enum sl_dp_phase phase;
	pid_t dp_pid;
	bool dp_is_child;
	int pidfd;
	struct sl_lineconn dp;
	bool dp_connected;
	char dp_socket[108];
	char totals_name[128]; /* in runtime_dir: folded totals, for --attach */
	double dp_started;     /* monotonic seconds */
	double backoff_until;  /* monotonic seconds */
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
	bool listen_paused; /* out of epoll after EMFILE with no spare fd */
	double listen_resume;
	int spare_fd; /* closed to accept-and-drop when fds run out */
	double last_fd_warning;
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
/* Close idle clients, bring the listener back after a pause. */
void sl_server_tick(struct sl_daemon *d);
/* Prepare the runtime directory (create or check it, set its group and
 * mode) and take the instance lock; on error returns -1 with err. */
int sl_server_runtime_dir(struct sl_daemon *d, char *err, size_t len);
/* Write data to name in the runtime dir atomically (O_EXCL temp file, then
 * rename), refusing when name exists and is not a regular file we own. */
int sl_write_private(struct sl_daemon *d, const char *name, const void *data, size_t len,
		     int *keep_fd, char *err, size_t errlen);
/* Check name in the runtime dir is absent or a regular file we own. */
int sl_check_private(struct sl_daemon *d, const char *name, char *err, size_t errlen);

/* commands.c: the one table of commands. */
typedef json_t *(*sl_handler_fn)(struct sl_daemon *d, unsigned idx, json_t *req);
struct sl_command_def {
	const char *name;
	bool mutates;		  /* needs uid 0 or the admin group */
	const char *mutates_flag; /* a bool field that, when true, makes it mutate */
	sl_handler_fn fn;	  /* returns the reply, or NULL when it comes later */
	const char *help;
};
const struct sl_command_def *sl_command_find(const char *name);
/* Whether this request changes anything (counters with reset does). */
bool sl_command_mutating(const struct sl_command_def *c, json_t *req);

/* supervisor.c */
int sl_sup_start(struct sl_daemon *d, char *err, size_t len);
void sl_sup_dp_event(struct sl_daemon *d, uint32_t events);
void sl_sup_pidfd_event(struct sl_daemon *d);
void sl_sup_tick(struct sl_daemon *d);
/* Forward req to the dataplane for client idx; returns the pending entry,
 * or NULL with *reply. */
struct sl_pending *sl_sup_forward(struct sl_daemon *d, unsigned idx, json_t *req, const char *arg,
				  int core, json_t **reply);
void sl_sup_stop(struct sl_daemon *d, unsigned idx);
void sl_sup_restart(struct sl_daemon *d);
/* Adopt text (named name) as the last good config; cfg is its loaded form
 * (taken over). Resets the mapping to the config's own when reset_map. */
int sl_sup_set_config(struct sl_daemon *d, const char *text, size_t len, const char *name,
		      struct sl_config *cfg, bool reset_map);
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
