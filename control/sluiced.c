/* sluiced.c: the control-plane daemon's entry point: options, config check,
 * runtime directory and pid file, and the one epoll loop that serves
 * clients, the dataplane channel, the dataplane's pidfd and signals. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "control/daemon.h"
#include "control/commands.h"
#include "control/log.h"
#include "control/metrics_http.h"
#include "control/rundir.h"
#include "control/server.h"
#include "control/stats_view.h"
#include "control/supervisor.h"

#define EV_LISTEN 0xffff0001u
#define EV_DP 0xffff0002u
#define EV_PIDFD 0xffff0003u
#define EV_SIGNAL 0xffff0004u

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluiced --config FILE [--socket PATH] [--foreground] [--attach]\n"
		"               [--group NAME] [--read-group NAME] [--client-timeout S]\n"
		"               [--pidfile PATH] [--syslog] [--dataplane-binary PATH]\n"
		"               [--metrics HOST:PORT]\n"
		"\n"
		"The sluice control plane. It validates FILE (refusing to start on any error,\n"
		"named as file:line:col), starts sluice-dp on it and supervises it: a dataplane\n"
		"that dies is restarted within a second with the last good config and mapping\n"
		"(backing off when it keeps dying right after starting), and counters keep\n"
		"their totals across restarts. Clients (sluicectl) talk JSON over a Unix socket;\n"
		"see control/PROTOCOL.md. Counter queries read the dataplane's shared-memory\n"
		"stats segment and never disturb it.\n"
		"\n"
		"  -c, --config FILE          the pipeline config (and the name of the dataplane)\n"
		"  -s, --socket PATH          public socket (default /run/sluice/sluice.sock);\n"
		"                             its directory is the private runtime directory\n"
		"                             (ours, not group/world-writable; made 0750)\n"
		"  -g, --group NAME           admin group: may change things (root always may)\n"
		"  -r, --read-group NAME      may only read (status, show, validate, counters)\n"
		"                             nobody else may connect; see control/PROTOCOL.md\n"
		"      --client-timeout S     close a client idle that long (default 30)\n"
		"  -f, --foreground           stay in the foreground (default: daemonize)\n"
		"  -a, --attach               take over a dataplane left running by an earlier\n"
		"                             sluiced, through its private control socket\n"
		"                             (DIR/NAME.dp.sock beside the public socket)\n"
		"  -p, --pidfile PATH         pid file, in the runtime directory (default\n"
		"                             DIR/sluiced.pid); locked while sluiced runs\n"
		"      --syslog               log to syslog instead of stderr\n"
		"      --dataplane-binary P   the sluice-dp to run (default: $SLUICE_DP, else\n"
		"                             the one beside sluiced, else ../dataplane/)\n"
		"      --metrics HOST:PORT    serve GET /metrics (Prometheus text format) there,\n"
		"                             from the stats segment alone; HOST is a numeric\n"
		"                             address: 127.0.0.1:9469, [::1]:9469. No access\n"
		"                             control: bind it to loopback or a management\n"
		"                             network. Metrics: control/METRICS.md\n"
		"  -h, --help                 this text\n"
		"      --version              print the sluice and DPDK versions and exit\n"
		"\n"
		"Exit status: 0 after a shutdown command or SIGTERM/SIGINT (which stop the\n"
		"dataplane too), 1 on a config or start-up error.\n");
}

static char *default_dp_binary(void)
{
	const char *env = getenv("SLUICE_DP");
	if (env)
		return strdup(env);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return strdup("sluice-dp");
	self[n] = '\0';
	char *dir = dirname(self);
	char cand[PATH_MAX + 32];
	/* Installed, the dataplane sits beside sluiced; in the build tree, in
	 * the dataplane's own directory. */
	snprintf(cand, sizeof(cand), "%s/sluice-dp", dir);
	if (access(cand, X_OK) == 0)
		return strdup(cand);
	snprintf(cand, sizeof(cand), "%s/../dataplane/sluice-dp", dir);
	return strdup(cand);
}

/* Errors before we run go to stderr as "sluiced: ...", also under --syslog. */
static int fail_start(struct sl_daemon *d, const char *msg)
{
	fprintf(stderr, "sluiced: %s\n", msg);
	if (d->use_syslog)
		sl_log(LOG_ERR, "%s", msg);
	return 1;
}

static int lookup_group(const char *name, gid_t *gid, char *err, size_t len)
{
	struct group *g = getgrnam(name);
	if (!g) {
		snprintf(err, len, "no group named '%s'", name);
		return -1;
	}
	*gid = g->gr_gid;
	return 0;
}

int main(int argc, char **argv)
{
	static struct sl_daemon d;
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"attach", no_argument, NULL, 'a'},
	    {"pidfile", required_argument, NULL, 'p'},
	    {"syslog", no_argument, NULL, 'S'},
	    {"dataplane-binary", required_argument, NULL, 'D'},
	    {"group", required_argument, NULL, 'g'},
	    {"read-group", required_argument, NULL, 'r'},
	    {"client-timeout", required_argument, NULL, 'T'},
	    {"metrics", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	bool foreground = false;
	int c;
	d.socket_path = "/run/sluice/sluice.sock";
	d.listen_fd = -1;
	d.commands = sl_commands;
	d.n_commands = sl_n_commands;
	d.spare_fd = -1;
	d.dirfd = -1;
	d.pidfile_fd = -1;
	d.pidfd = -1;
	d.shutdown_client = -1;
	d.client_timeout_s = 30;
	char *end;
	while ((c = getopt_long(argc, argv, "c:s:fap:g:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			d.socket_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'a':
			d.attach = true;
			break;
		case 'p':
			d.pidfile = optarg;
			break;
		case 'S':
			d.use_syslog = true;
			break;
		case 'D':
			d.dp_binary = optarg;
			break;
		case 'g':
			d.admin_group = optarg;
			break;
		case 'r':
			d.read_group = optarg;
			break;
		case 'T':
			d.client_timeout_s = strtod(optarg, &end);
			if (*end || !(d.client_timeout_s > 0)) {
				fprintf(stderr, "sluiced: --client-timeout takes seconds > 0\n");
				return 1;
			}
			break;
		case 'M':
			d.metrics_addr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sluiced %s (DPDK %s)\n", SLUICE_VERSION, SL_DPDK_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!config || optind < argc) {
		usage(stderr);
		return 1;
	}
	sl_log_init(d.use_syslog);

	char err[1024];
	if ((d.admin_group && lookup_group(d.admin_group, &d.admin_gid, err, sizeof(err)) < 0) ||
	    (d.read_group && lookup_group(d.read_group, &d.read_gid, err, sizeof(err)) < 0))
		return fail_start(&d, err);

	/* The config's bytes are read once; from here on they are the last good
	 * config, whatever happens to the file. */
	struct sl_err cerr;
	char *text;
	size_t text_len;
	struct sl_config *cfg = NULL;
	char abs[PATH_MAX];
	const char *cname = realpath(config, abs) ? abs : config;
	if (sl_config_read_file(config, &text, &text_len, &cerr) < 0 ||
	    sl_config_load_buffer(text, text_len, cname, NULL, &cfg, &cerr) < 0) {
		fprintf(stderr, "%s\n", cerr.msg);
		return 1;
	}
	sl_sup_set_config(&d, text, text_len, cname, cfg, true);
	free(text);
	d.file_dirs = calloc(d.cfg->dp.n_file_dirs + 1, sizeof(char *));
	for (unsigned i = 0; d.file_dirs && i < d.cfg->dp.n_file_dirs; i++)
		d.file_dirs[d.n_file_dirs++] = strdup(d.cfg->dp.file_dirs[i]);
	d.plugins = calloc(d.cfg->dp.n_plugins + 1, sizeof(char *));
	for (unsigned i = 0; d.plugins && i < d.cfg->dp.n_plugins; i++)
		d.plugins[d.n_plugins++] = strdup(d.cfg->dp.plugins[i]);
	if (!d.dp_binary)
		d.dp_binary = default_dp_binary();

	if (sl_rundir_open(&d, err, sizeof(err)) < 0)
		return fail_start(&d, err);
	if ((size_t)snprintf(d.dp_socket, sizeof(d.dp_socket), "%.*s/%s.dp.sock",
			     (int)sizeof(d.dp_socket), d.runtime_dir,
			     d.cfg->dp.name) >= sizeof(d.dp_socket))
		return fail_start(&d, "the dataplane's socket path would be too long");
	snprintf(d.totals_name, sizeof(d.totals_name), "%s.totals.json", d.cfg->dp.name);
	snprintf(d.private_config, sizeof(d.private_config), "%.40s.running.yaml", d.cfg->dp.name);
	char pidname[256] = "sluiced.pid";
	if (d.pidfile) {
		char pdir[PATH_MAX], pbase[PATH_MAX], rdir[PATH_MAX];
		snprintf(pdir, sizeof(pdir), "%s", d.pidfile);
		snprintf(pbase, sizeof(pbase), "%s", d.pidfile);
		if (!realpath(dirname(pdir), rdir) || !realpath(d.runtime_dir, abs) ||
		    strcmp(rdir, abs) != 0) {
			snprintf(err, sizeof(err),
				 "the pid file %.400s must be in the runtime directory %.400s",
				 d.pidfile, d.runtime_dir);
			return fail_start(&d, err);
		}
		snprintf(pidname, sizeof(pidname), "%s", basename(pbase));
	}
	if (sl_check_private(&d, pidname, err, sizeof(err)) < 0 ||
	    sl_check_private(&d, d.totals_name, err, sizeof(err)) < 0 ||
	    sl_check_private(&d, d.private_config, err, sizeof(err)) < 0)
		return fail_start(&d, err);

	/* Bound now, so that a bad address or a port in use stops the start;
	 * served from a thread only after daemon(), which a thread would not
	 * survive. */
	if (d.metrics_addr && sl_metrics_http_bind(&d, err, sizeof(err)) < 0)
		return fail_start(&d, err);

	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.started = sl_now();
	if (sl_server_open(&d, err, sizeof(err)) < 0) {
		sl_metrics_http_stop(&d);
		return fail_start(&d, err);
	}
	if (d.attach)
		sl_view_load_totals(&d);
	else
		unlinkat(d.dirfd, d.totals_name, 0); /* a fresh dataplane starts from zero */

	if (!foreground && daemon(0, 1) != 0) {
		fprintf(stderr, "sluiced: cannot daemonize: %s\n", strerror(errno));
		return 1;
	}
	/* Signals arrive on a signalfd, in the loop, like everything else. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	struct epoll_event sev = {.events = EPOLLIN, .data.u32 = EV_SIGNAL};
	epoll_ctl(d.epfd, EPOLL_CTL_ADD, sfd, &sev);

	int rc = 1;
	char pidtext[32];
	int plen = snprintf(pidtext, sizeof(pidtext), "%d\n", (int)getpid());
	if (sl_write_private(&d, pidname, pidtext, (size_t)plen, &d.pidfile_fd, err, sizeof(err)) <
	    0)
		sl_log(LOG_WARNING, "%s", err);
	else
		d.wrote_pidfile = true;
	/* After sigprocmask: the thread inherits the mask, so the signals stay
	 * on our signalfd. */
	if (sl_metrics_http_start(&d, err, sizeof(err)) < 0) {
		sl_log(LOG_ERR, "%s", err);
		goto out;
	}
	if (sl_sup_start(&d, err, sizeof(err)) < 0) {
		sl_log(LOG_ERR, "%s", err);
		goto out;
	}
	sl_log(LOG_INFO, "listening on %s (config %s)", d.socket_path, d.config_name);

	while (!d.quit) {
		struct epoll_event ev[64];
		int n = epoll_wait(d.epfd, ev, 64, 100);
		for (int i = 0; i < n && !d.quit; i++) {
			uint32_t tag = ev[i].data.u32;
			if (tag == EV_LISTEN) {
				sl_server_accept(&d);
			} else if (tag == EV_DP) {
				sl_sup_dp_event(&d, ev[i].events);
			} else if (tag == EV_PIDFD) {
				sl_sup_pidfd_event(&d);
			} else if (tag == EV_SIGNAL) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						continue; /* the pidfd reports our dataplane */
					sl_log(LOG_INFO,
					       "signal %d: stopping the dataplane and exiting",
					       (int)si.ssi_signo);
					if (d.dp_pid == 0)
						d.quit = true;
					else if (!d.shutdown_requested)
						sl_sup_stop(
						    &d, SL_MAX_CLIENTS); /* no client to answer */
				}
			} else {
				sl_server_client_event(&d, tag, ev[i].events);
			}
		}
		sl_sup_tick(&d);
		sl_server_tick(&d);
		sl_metrics_http_sync(&d);
	}
	rc = 0;
	/* A clean stop: nothing left to take over. */
	unlinkat(d.dirfd, d.totals_name, 0);
	unlinkat(d.dirfd, d.private_config, 0);
out:
	sl_metrics_http_stop(&d);
	sl_server_close(&d);
	if (d.wrote_pidfile)
		unlinkat(d.dirfd, pidname, 0);
	sl_view_close(&d);
	if (d.dp_chan.fd > 0)
		sl_lineconn_free(&d.dp_chan);
	sl_config_free(d.cfg);
	json_decref(d.folded);
	json_decref(d.baseline);
	free(d.mapping);
	free(d.wd_beats);
	free(d.wd_since);
	free(d.config_text);
	free(d.config_name);
	for (unsigned i = 0; i < d.n_file_dirs; i++)
		free(d.file_dirs[i]);
	free(d.file_dirs);
	for (unsigned i = 0; i < d.n_plugins; i++)
		free(d.plugins[i]);
	free(d.plugins);
	return rc;
}
