/* sluiced.c: the control-plane daemon's entry point: options, config check,
 * pid file, and the one epoll loop that serves clients, the dataplane
 * channel, the dataplane's pidfd and signals. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

#define EV_LISTEN 0xffff0001u
#define EV_DP 0xffff0002u
#define EV_PIDFD 0xffff0003u
#define EV_SIGNAL 0xffff0004u

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: sluiced --config FILE [--socket PATH] [--foreground] [--attach]\n"
	    "               [--pidfile PATH] [--syslog] [--dataplane-binary PATH]\n"
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
	    "  -s, --socket PATH          public socket, mode 0660 (default\n"
	    "                             /run/sluice/sluice.sock)\n"
	    "  -f, --foreground           stay in the foreground (default: daemonize)\n"
	    "  -a, --attach               take over a dataplane left running by an earlier\n"
	    "                             sluiced, through its private control socket\n"
	    "                             (DIR/NAME.dp.sock beside the public socket)\n"
	    "  -p, --pidfile PATH         pid file (default: DIR/sluiced.pid beside the socket)\n"
	    "      --syslog               log to syslog instead of stderr\n"
	    "      --dataplane-binary P   the sluice-dp to run (default: next to sluiced, or\n"
	    "                             $SLUICE_DP)\n"
	    "  -h, --help                 this text\n"
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
	snprintf(cand, sizeof(cand), "%s/../dataplane/sluice-dp", dir); /* build tree */
	if (access(cand, X_OK) == 0)
		return strdup(cand);
	snprintf(cand, sizeof(cand), "%s/sluice-dp", dir); /* installed */
	return strdup(cand);
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f);
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
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	bool foreground = false;
	int c;
	d.socket_path = "/run/sluice/sluice.sock";
	d.listen_fd = -1;
	d.shutdown_client = -1;
	while ((c = getopt_long(argc, argv, "c:s:fap:h", longopts, NULL)) != -1) {
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
		case 'h':
			usage(stdout);
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

	struct sl_err cerr;
	if (sl_config_load(config, &d.cfg, &cerr) < 0) {
		fprintf(stderr, "%s\n", cerr.msg);
		return 1;
	}
	char abs[PATH_MAX];
	d.config_path = strdup(realpath(config, abs) ? abs : config);
	d.mapping = calloc(d.cfg->n_clusters, sizeof(int));
	for (unsigned i = 0; i < d.cfg->n_clusters; i++)
		d.mapping[i] = d.cfg->clusters[i].core;
	if (!d.dp_binary)
		d.dp_binary = default_dp_binary();

	char dir[PATH_MAX], pidfile[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%s", d.socket_path);
	snprintf(d.dp_socket, sizeof(d.dp_socket), "%s/%s.dp.sock", dirname(dir), d.cfg->dp.name);
	snprintf(d.totals_path, sizeof(d.totals_path), "%s/%s.totals.json", dir, d.cfg->dp.name);
	if (d.attach)
		sl_view_load_totals(&d);
	else
		unlink(d.totals_path); /* a fresh dataplane starts from zero */
	if (!d.pidfile) {
		snprintf(pidfile, sizeof(pidfile), "%s/sluiced.pid", dir);
		d.pidfile = pidfile;
	}

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
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	struct epoll_event sev = {.events = EPOLLIN, .data.u32 = EV_SIGNAL};
	epoll_ctl(d.epfd, EPOLL_CTL_ADD, sfd, &sev);

	char err[512];
	int rc = 1;
	d.started = sl_now();
	if (sl_server_open(&d, err, sizeof(err)) < 0) {
		sl_log(LOG_ERR, "%s", err);
		goto out;
	}
	if (write_pidfile(d.pidfile) != 0)
		sl_log(LOG_WARNING, "cannot write pid file %s: %s", d.pidfile, strerror(errno));
	if (sl_sup_start(&d, err, sizeof(err)) < 0) {
		sl_log(LOG_ERR, "%s", err);
		goto out;
	}
	sl_log(LOG_INFO, "listening on %s (config %s)", d.socket_path, d.config_path);

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
	}
	rc = 0;
	unlink(d.totals_path); /* a clean stop: nothing left to take over */
out:
	sl_server_close(&d);
	unlink(d.pidfile);
	sl_view_close(&d);
	if (d.dp.fd > 0)
		sl_lineconn_free(&d.dp);
	sl_config_free(d.cfg);
	json_decref(d.folded);
	json_decref(d.baseline);
	free(d.mapping);
	free(d.config_path);
	return rc;
}
