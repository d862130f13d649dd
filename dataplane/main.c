/* main.c: the sluice-dp command: load and validate a config, start EAL with
 * exactly the devices and cores the config names, build the graph, run the
 * workers, print counters, and on SIGINT/SIGTERM (or --duration) stop the
 * sources, drain the rings and print the final table. Also reads a running
 * dataplane's stats segment from outside (--read-stats). */
#include <errno.h>
#include <sys/file.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_version.h>
#include <urcu/urcu-qsbr.h>

#include "config/config.h"
#include "dataplane/control.h"
#include "dataplane/dp.h"
#include "dataplane/pin.h"
#include "dataplane/runtime.h"
#include "dataplane/stats/stats_segment.h"
#include "dataplane/telemetry.h"
#include "dataplane/worker.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: sluice-dp --config FILE [options]\n"
	       "       sluice-dp --read-stats NAME [--json] [--watch S]\n"
	       "\n"
	       "Runs a sluice pipeline: the graph, clusters and mapping of FILE, on DPDK.\n"
	       "EAL gets only the devices FILE names (--vdev for net_* devices, -a for\n"
	       "PCI addresses, --no-pci when there are none), an lcore per pool core, and\n"
	       "--file-prefix from `dataplane: { name: ... }` (default \"sluice\").\n"
	       "\n"
	       "options:\n"
	       "  -c, --config FILE        pipeline config (YAML; a regular file)\n"
	       "      --file-dir DIR       (repeatable) where the file arguments of virtual\n"
	       "                           devices in untrusted configs may lie\n"
	       "      --plugin PATH        (repeatable) a stage plugin untrusted configs may\n"
	       "                           name in dataplane.plugins (sluiced passes those of\n"
	       "                           its startup config)\n"
	       "      --untrusted          FILE came from a client: check its file arguments\n"
	       "                           against --file-dir and open them without\n"
	       "                           following links (sluiced sets this)\n"
	       "      --untrusted-loads    graph loads over the control channel come from\n"
	       "                           clients: the same checks (sluiced sets this)\n"
	       "      --config-name NAME   the file name errors and status give for FILE\n"
	       "                           (sluiced runs its private copy of a config under\n"
	       "                           the operator's name for it)\n"
	       "      --check              validate FILE, print a summary and exit\n"
	       "  -d, --duration S         stop after S seconds (default: until SIGINT/SIGTERM)\n"
	       "      --idle-exit S        stop once no port has received a packet for S seconds\n"
	       "  -i, --stats-interval S   print the counter table every S seconds\n"
	       "      --stats-json FILE    write the final counters as JSON to FILE\n"
	       "      --no-huge            run without hugepages (slower; also the automatic\n"
	       "                           fallback when none are reserved, which is reported)\n"
	       "      --mem MB             memory for --no-huge mode (default: the mbuf pool plus\n"
	       "                           256 MB)\n"
	       "      --read-stats NAME    print the counters of running dataplane NAME from its\n"
	       "                           shared-memory stats segment, then exit\n"
	       "      --json               with --read-stats: print JSON\n"
	       "      --watch S            with --read-stats: repeat every S seconds\n"
	       "      --control-fd FD      serve the control protocol on inherited socket FD\n"
	       "                           (how sluiced runs the dataplane)\n"
	       "      --control-socket P   also accept a controller on Unix socket P (mode 0600;\n"
	       "                           how a restarted sluiced --attach finds the dataplane)\n"
	       "  -h, --help               this text\n"
	       "      --version            print the sluice and DPDK versions and exit\n"
	       "\n"
	       "On exit the dataplane stops its sources, drains every connector ring into\n"
	       "the graph's outputs, and prints per-stage, per-connector and per-port\n"
	       "counters. Exit status: 0 on a clean run, 1 on a config or start-up error.\n");
}

struct options {
	const char *config;
	const char *config_name;
	bool untrusted, untrusted_loads;
	const char *read_stats;
	const char *stats_json;
	double duration, interval, idle_exit, watch;
	unsigned mem_mb;
	int control_fd;
	const char *control_socket;
	int check, json, no_huge;
};

static int parse_seconds(const char *s, double *out, const char *opt)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || v < 0) {
		fprintf(stderr, "sluice-dp: %s: expected a number of seconds, got '%s'\n", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

static struct sl_dp dp;

static int parse_options(int argc, char **argv, struct options *o)
{
	enum {
		O_CHECK = 256,
		O_JSON,
		O_NOHUGE,
		O_MEM,
		O_READ,
		O_WATCH,
		O_IDLE,
		O_SJSON,
		O_CFD,
		O_CSOCK,
		O_CNAME,
		O_FDIR,
		O_PLUGIN,
		O_UNTRUSTED,
		O_UNTRUSTED_LOADS,
		O_VERSION
	};
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"config-name", required_argument, NULL, O_CNAME},
	    {"file-dir", required_argument, NULL, O_FDIR},
	    {"plugin", required_argument, NULL, O_PLUGIN},
	    {"untrusted", no_argument, NULL, O_UNTRUSTED},
	    {"untrusted-loads", no_argument, NULL, O_UNTRUSTED_LOADS},
	    {"check", no_argument, NULL, O_CHECK},
	    {"duration", required_argument, NULL, 'd'},
	    {"idle-exit", required_argument, NULL, O_IDLE},
	    {"stats-interval", required_argument, NULL, 'i'},
	    {"stats-json", required_argument, NULL, O_SJSON},
	    {"no-huge", no_argument, NULL, O_NOHUGE},
	    {"mem", required_argument, NULL, O_MEM},
	    {"read-stats", required_argument, NULL, O_READ},
	    {"json", no_argument, NULL, O_JSON},
	    {"watch", required_argument, NULL, O_WATCH},
	    {"control-fd", required_argument, NULL, O_CFD},
	    {"control-socket", required_argument, NULL, O_CSOCK},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int c;
	o->mem_mb = 0; /* --no-huge: sized from the mbuf pool unless given */
	o->control_fd = -1;
	while ((c = getopt_long(argc, argv, "c:d:i:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case O_CNAME:
			o->config_name = optarg;
			break;
		case O_FDIR:
			if (dp.policy.n_file_dirs >= SL_DP_MAX_FILE_DIRS) {
				fprintf(stderr, "sluice-dp: --file-dir: at most %d\n",
					SL_DP_MAX_FILE_DIRS);
				return -1;
			}
			dp.file_dirs[dp.policy.n_file_dirs++] = optarg;
			break;
		case O_PLUGIN: {
			/* Resolved as the config loader resolves the paths it
			 * compares with these. */
			char real[PATH_MAX], why[PATH_MAX + 256];
			if (dp.policy.n_plugins >= SL_PLUGIN_MAX) {
				fprintf(stderr, "sluice-dp: --plugin: at most %d\n", SL_PLUGIN_MAX);
				return -1;
			}
			if (sl_plugin_check_path(optarg, real, why, sizeof(why)) < 0) {
				fprintf(stderr, "sluice-dp: --plugin: %s\n", why);
				return -1;
			}
			dp.plugins[dp.policy.n_plugins++] = strdup(real);
			break;
		}
		case O_UNTRUSTED:
			o->untrusted = true;
			break;
		case O_UNTRUSTED_LOADS:
			o->untrusted_loads = true;
			break;
		case O_CHECK:
			o->check = 1;
			break;
		case 'd':
			if (parse_seconds(optarg, &o->duration, "--duration") < 0)
				return -1;
			break;
		case O_IDLE:
			if (parse_seconds(optarg, &o->idle_exit, "--idle-exit") < 0)
				return -1;
			break;
		case 'i':
			if (parse_seconds(optarg, &o->interval, "--stats-interval") < 0)
				return -1;
			break;
		case O_SJSON:
			o->stats_json = optarg;
			break;
		case O_NOHUGE:
			o->no_huge = 1;
			break;
		case O_MEM:
			o->mem_mb = (unsigned)strtoul(optarg, NULL, 10);
			if (o->mem_mb < 64) {
				fprintf(stderr, "sluice-dp: --mem: expected at least 64 (MB)\n");
				return -1;
			}
			break;
		case O_READ:
			o->read_stats = optarg;
			break;
		case O_CFD:
			o->control_fd = atoi(optarg);
			break;
		case O_CSOCK:
			o->control_socket = optarg;
			break;
		case O_JSON:
			o->json = 1;
			break;
		case O_WATCH:
			if (parse_seconds(optarg, &o->watch, "--watch") < 0)
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case O_VERSION:
			/* rte_version(): the DPDK this binary runs on, not the headers. */
			printf("sluice-dp %s (%s)\n", SL_VERSION, rte_version());
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-dp: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->config && !o->read_stats) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_stats_main(const struct options *o)
{
	char err[256];
	const struct sl_stats_hdr *h = sl_stats_open(o->read_stats, err, sizeof(err));
	struct sl_stats_hdr *prev = NULL;
	double t_prev = 0;

	if (!h) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		return 1;
	}
	unsigned reopens = 0;
	for (;;) {
		struct sl_stats_hdr *s = sl_stats_snapshot(h, err, sizeof(err));
		double t = now_s();
		if (!s && h->retired) {
			/* A graph load replaced it: follow, a bounded number of
			 * times (a segment that stays retired is stale or forged),
			 * and never past a signal. */
			sl_stats_close(h);
			h = NULL;
			if (stop_signal || ++reopens > 50) {
				fprintf(stderr,
					"sluice-dp: the stats segment of '%s' stays retired "
					"(replaced by "
					"a graph load that never published its successor)\n",
					o->read_stats);
				return 1;
			}
			usleep(20000);
			h = sl_stats_open(o->read_stats, err, sizeof(err));
			if (h)
				continue;
		}
		if (s)
			reopens = 0;
		if (!s) {
			fprintf(stderr, "sluice-dp: %s\n", err);
			sl_stats_close(h);
			return 1;
		}
		if (o->json) {
			json_t *j = sl_stats_to_json(s);
			json_dumpf(j, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
			json_decref(j);
		} else {
			sl_stats_print(stdout, s, prev, t - t_prev);
		}
		fflush(stdout);
		free(prev);
		prev = s;
		t_prev = t;
		if (o->watch <= 0 || stop_signal)
			break;
		usleep((useconds_t)(o->watch * 1e6));
		if (!o->json)
			fputc('\n', stdout);
	}
	free(prev);
	sl_stats_close(h);
	return 0;
}

/* The pid of a running dataplane of this name: its stats segment's live
 * sluice-dp, or the holder of the lock EAL keeps on its runtime config file
 * under the same file prefix; 0 if none. */
static long running_dataplane(const char *name)
{
	long pid = sl_stats_running_pid(name);
	if (pid > 0)
		return pid;
	char path[PATH_MAX];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0)
		snprintf(path, sizeof(path), "/var/run/dpdk/%s/config", name);
	else
		snprintf(path, sizeof(path), "%s/dpdk/%s/config", xdg ? xdg : "/tmp", name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 0};
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
		pid = fl.l_pid;
	close(fd);
	return pid;
}

/* EAL leaves its hugepage files behind at exit, and the pages stay taken
 * until a later start with the same name clears them. Remove ours: a file
 * we can lock exclusively is mapped by nobody (EAL holds a lock on every
 * file in use), so a live dataplane's files are never touched. */
static void release_hugepage_files(const char *prefix)
{
	char want[96], line[1024];
	size_t wl = (size_t)snprintf(want, sizeof(want), "%smap_", prefix);
	FILE *m = fopen("/proc/mounts", "r");
	while (m && fgets(line, sizeof(line), m)) {
		char dev[256], dir[512], type[64];
		if (sscanf(line, "%255s %511s %63s", dev, dir, type) != 3 ||
		    strcmp(type, "hugetlbfs"))
			continue;
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, want, wl) != 0)
				continue;
			int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			struct stat st;
			if (fd < 0)
				continue;
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
			    flock(fd, LOCK_EX | LOCK_NB) == 0)
				unlinkat(dfd, e->d_name, 0);
			close(fd);
		}
		if (d)
			closedir(d);
		else if (dfd >= 0)
			close(dfd);
	}
	if (m)
		fclose(m);
}

static int hugepages_available(void)
{
	static const char *const sizes[] = {
	    "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
	    "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages",
	};
	int free_pages = 0;
	for (unsigned i = 0; i < 2; i++) {
		FILE *f = fopen(sizes[i], "r");
		int v = 0;
		if (f) {
			if (fscanf(f, "%d", &v) == 1)
				free_pages += v;
			fclose(f);
		}
	}
	if (free_pages < 64)
		return 0;
	FILE *m = fopen("/proc/mounts", "r");
	char line[512];
	int mounted = 0;
	while (m && fgets(line, sizeof(line), m))
		mounted |= strstr(line, " hugetlbfs ") != NULL;
	if (m)
		fclose(m);
	return mounted;
}

/* Build the EAL command line; strings point into static storage or cfg. */
static int build_eal_args(const struct sl_config *cfg, const struct options *o, const char *lcores,
			  int no_huge, char **argv, int max)
{
	static char prefix[64], mem[32];
	int n = 0, pci = 0;

	argv[n++] = "sluice-dp";
	argv[n++] = "--lcores";
	argv[n++] = (char *)lcores;
	argv[n++] = "--main-lcore";
	argv[n++] = "0";
	snprintf(prefix, sizeof(prefix), "%s", cfg->dp.name);
	argv[n++] = "--file-prefix";
	argv[n++] = prefix;
	argv[n++] = "--log-level";
	argv[n++] = "lib.eal:error";
	for (unsigned i = 0; i < cfg->n_ports && n + 2 < max; i++) {
		int k = sl_port_eal_args(cfg->ports[i].driver,
					 cfg->ports[i].probe_devargs ? cfg->ports[i].probe_devargs
								     : cfg->ports[i].devargs,
					 argv + n);
		pci |= k && strcmp(argv[n], "-a") == 0;
		n += k;
	}
	if (!pci)
		argv[n++] = "--no-pci";
	if (no_huge) {
		snprintf(mem, sizeof(mem), "%u", o->mem_mb);
		argv[n++] = "--no-huge";
		argv[n++] = "-m";
		argv[n++] = mem;
	}
	argv[n] = NULL;
	return n;
}

/* Bytes of frame one default mbuf holds; net_pcap chains longer frames. */
#define SL_MBUF_DATA (RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM)
#define SL_PCAP_MAX_RECORDS (1u << 24)

static uint32_t pcap_u32(const uint8_t *b, bool swap)
{
	uint32_t v =
	    (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return swap ? __builtin_bswap32(v) : v;
}

/* The mbufs net_pcap needs to preload a whole pcap file (infinite_rx): one
 * per frame, more for frames longer than an mbuf. Reads only the file
 * header and record headers, bounded. Returns 0 with err on a file it
 * cannot count (pcapng, not a pcap, unreadable, truncated mid-header). */
static uint64_t pcap_mbufs(const char *port, const char *path, char *err, size_t len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, len, "port '%s': infinite_rx: cannot read %s as a regular file%s%s",
			 port, path, fd < 0 ? ": " : "", fd < 0 ? strerror(errno) : "");
		if (fd >= 0)
			close(fd);
		return 0;
	}
	FILE *f = fdopen(fd, "rb");
	uint8_t h[24];
	uint64_t mbufs = 0, frames = 0;
	if (!f || fread(h, 1, sizeof(h), f) != sizeof(h)) {
		snprintf(err, len, "port '%s': infinite_rx: %s is not a pcap file", port, path);
		goto out;
	}
	uint32_t magic = pcap_u32(h, false);
	bool swap;
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
		swap = false;
	} else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
		swap = true;
	} else {
		snprintf(err, len,
			 "port '%s': infinite_rx: %s is %s; net_pcap reads only classic pcap "
			 "(convert it: editcap -F pcap IN OUT)",
			 port, path, magic == 0x0a0d0d0a ? "pcapng" : "not a pcap file");
		goto out;
	}
	uint8_t r[16];
	size_t got;
	while ((got = fread(r, 1, sizeof(r), f)) == sizeof(r)) {
		uint32_t caplen = pcap_u32(r + 8, swap);
		if (caplen > 262144 || ++frames > SL_PCAP_MAX_RECORDS) {
			snprintf(err, len,
				 "port '%s': infinite_rx: %s: record %" PRIu64
				 " is corrupt or the file has more than %u frames",
				 port, path, frames, SL_PCAP_MAX_RECORDS);
			mbufs = 0;
			goto out;
		}
		mbufs += caplen ? (caplen + SL_MBUF_DATA - 1) / SL_MBUF_DATA : 1;
		if (fseeko(f, caplen, SEEK_CUR) != 0)
			break;
	}
	if (frames == 0)
		snprintf(err, len, "port '%s': infinite_rx: %s holds no frames", port, path);
out:
	if (f)
		fclose(f);
	else
		close(fd);
	return mbufs;
}

/* net_pcap with infinite_rx holds every frame of its rx_pcap files at once. */
static int preload_mbufs(const struct sl_conf_port *c, uint64_t *n, char *err, size_t len)
{
	if (strcmp(c->driver, "dpdk") != 0 || !c->devargs || strncmp(c->devargs, "net_pcap", 8))
		return 0;
	char *args = strdup(c->devargs), *save = NULL;
	bool infinite = false;
	if (!args) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	for (char *t = strtok_r(args, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (!strncmp(t, "infinite_rx=", 12))
			infinite = atoi(t + 12) != 0;
	free(args);
	if (!infinite)
		return 0;
	args = strdup(c->devargs);
	int rc = 0;
	for (char *t = strtok_r(args, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
		if (strncmp(t, "rx_pcap=", 8))
			continue;
		uint64_t k = pcap_mbufs(c->name, t + 8, err, len);
		if (k == 0)
			rc = -1;
		*n += k;
	}
	free(args);
	return rc;
}

unsigned sl_dp_mbufs_needed(const struct sl_config *cfg, unsigned n_lcores, char *err, size_t len)
{
	uint64_t preload = 0;
	for (unsigned i = 0; i < cfg->n_ports; i++)
		if (preload_mbufs(&cfg->ports[i], &preload, err, len) < 0)
			return 0;
	uint64_t n = 4096 + preload;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		unsigned rxq = cfg->ports[i].n_rxq ? cfg->ports[i].n_rxq : 1;
		unsigned txq = cfg->ports[i].n_txq ? cfg->ports[i].n_txq : 1;
		n += rxq * cfg->ports[i].rx_desc + txq * cfg->ports[i].tx_desc;
	}
	n += (uint64_t)sl_runtime_count_connectors(cfg) * cfg->dp.ring_size;
	n += (uint64_t)(n_lcores + 1) * (256 + 2 * SL_BURST_MAX);
	if (cfg->dp.mbufs) {
		/* The operator's number stands, unless an infinite_rx file alone
		 * cannot be loaded into it (the PMD fails to start, for ever). */
		if (preload && cfg->dp.mbufs < preload + 4096) {
			snprintf(
			    err, len,
			    "dataplane.mbufs is %llu, but net_pcap infinite_rx preloads %llu "
			    "mbufs of frames: set dataplane.mbufs to at least %llu, or leave it "
			    "unset to size the pool automatically",
			    (unsigned long long)cfg->dp.mbufs, (unsigned long long)preload,
			    (unsigned long long)(n > preload + 4096 ? n : preload + 4096));
			return 0;
		}
		return (unsigned)cfg->dp.mbufs;
	}
	if (n > (1u << 26)) {
		snprintf(err, len, "the graph needs %llu mbufs, more than %u",
			 (unsigned long long)n, 1u << 26);
		return 0;
	}
	unsigned p = 1;
	while (p - 1 < n)
		p <<= 1;
	return p - 1; /* 2^k - 1 suits the mempool's ring */
}

static void print_summary(const struct sl_config *cfg, FILE *f)
{
	fprintf(f,
		"sluice-dp: %s: config '%s': %u ports, %u stages (%u instances), %u clusters, "
		"%u connectors\n",
		cfg->dp.name, cfg->file, cfg->n_ports, cfg->n_stages,
		sl_runtime_count_instances(cfg), cfg->n_clusters, sl_runtime_count_connectors(cfg));
	for (unsigned c = 0; c < cfg->n_clusters; c++) {
		fprintf(f, "  cluster %-12s core %-3d:", cfg->clusters[c].name,
			cfg->clusters[c].core);
		for (unsigned m = 0; m < cfg->clusters[c].n_members; m++) {
			const struct sl_conf_member *mb = &cfg->clusters[c].members[m];
			if (mb->instance >= 0)
				fprintf(f, " %s[%d]", cfg->stages[mb->stage].name, mb->instance);
			else
				fprintf(f, " %s", cfg->stages[mb->stage].name);
		}
		fputc('\n', f);
	}
}

static int write_json(const char *path, const struct sl_stats_hdr *s)
{
	json_t *j = sl_stats_to_json(s);
	int rc = json_dump_file(j, path, JSON_INDENT(2));
	json_decref(j);
	if (rc != 0)
		fprintf(stderr, "sluice-dp: cannot write %s\n", path);
	return rc;
}

static void print_table(const struct sl_stats_hdr *live, struct sl_stats_hdr **prev, double *t_prev)
{
	char err[128];
	struct sl_stats_hdr *s = sl_stats_snapshot(live, err, sizeof(err));
	double t = now_s();
	if (!s)
		return;
	printf("\n");
	sl_stats_print(stdout, s, *prev, t - *t_prev);
	free(*prev);
	*prev = s;
	*t_prev = t;
}

void sl_dp_pool_stats(struct sl_dp *dp, bool at_start)
{
	uint64_t in_use = dp->mp ? rte_mempool_in_use_count(dp->mp) : 0;
	for (unsigned i = 0; i < dp->n_extra_mp; i++)
		in_use += rte_mempool_in_use_count(dp->extra_mp[i]);
	if (at_start)
		dp->mbufs_in_use_start = in_use;
	struct sl_stats_hdr *h = dp->rt->stats;
	h->mbufs = dp->mbufs_total;
	h->mbufs_in_use_start = dp->mbufs_in_use_start;
	h->mbufs_in_use = in_use;
}

struct sl_stats_hdr *sl_dp_stats_create(struct sl_dp *dp, const struct sl_config *cfg, bool next,
					char *err, size_t len)
{
	struct sl_stats_dims d = {
	    .n_stages = sl_runtime_count_instances(cfg),
	    .n_conns = sl_runtime_count_connectors(cfg),
	    .n_ports = cfg->n_ports,
	    .n_clusters = cfg->n_clusters,
	};
	for (unsigned i = 0; i < cfg->n_stages; i++)
		d.aux_bytes += cfg->stages[i].instances * sl_stats_aux_bytes(cfg->stages[i].n_aux);
	struct sl_stats_hdr *h =
	    (next ? sl_stats_create_next : sl_stats_create)(cfg->dp.name, &d, err, len);
	if (!h)
		return NULL;
	h->tsc_hz = rte_get_tsc_hz();
	h->start_ns = dp->start_ns;
	snprintf(h->config, sizeof(h->config), "%s", cfg->file);
	return h;
}

static void ctl_hello(void *ctx, json_t *r)
{
	struct sl_dp *d = ctx;
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(r, "name", json_string(d->cfg->dp.name));
	json_object_set_new(r, "config", json_string(d->cfg->file));
	json_object_set_new(r, "config_text", json_stringn(d->cfg_text, d->cfg_text_len));
	json_object_set_new(r, "graph_loads", json_integer((json_int_t)d->graph_loads));
	json_object_set_new(r, "state", json_integer(sl_dp_state));
	json_t *cores = json_array();
	for (unsigned i = 0; i < d->n_lcores; i++)
		json_array_append_new(cores, json_integer(d->lcores[i].cpu));
	json_object_set_new(r, "cores", cores);
	json_t *map = json_object();
	for (unsigned c = 0; c < d->rt->n_clusters; c++)
		json_object_set_new(map, d->rt->clusters[c].name,
				    json_integer(d->rt->clusters[c].core));
	json_object_set_new(r, "mapping", map);
}

int sl_dp_pin(struct sl_dp *d, struct sl_config *cfg, int *fds, unsigned *n, char *err, size_t len)
{
	struct sl_err e;
	if (sl_config_pin_files(cfg, &d->policy, fds, SL_DP_MAX_PINNED, n, &e) < 0) {
		sl_dp_unpin(fds, n);
		snprintf(err, len, "%s", e.msg);
		return -1;
	}
	return 0;
}

void sl_dp_unpin(int *fds, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++)
		close(fds[i]);
	*n = 0;
}

static int ctl_graph_load(void *ctx, const char *text, size_t text_len, const char *name,
			  json_t *result, const char **code, char *err, size_t len)
{
	return sl_dp_graph_load(ctx, text, text_len, name, result, code, err, len);
}

static void ctl_shutdown(void *ctx)
{
	((struct sl_dp *)ctx)->stop_requested = 1;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct sl_err cerr;
	char err[512] = "", lcores[1024];
	int rc = 1;

	if (parse_options(argc, argv, &o) < 0)
		return 1;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A controller that goes away must not take the dataplane with it. */
	signal(SIGPIPE, SIG_IGN);
	if (o.read_stats)
		return read_stats_main(&o);

	dp.policy = (struct sl_config_policy){true, dp.file_dirs, dp.policy.n_file_dirs,
					      dp.plugins, dp.policy.n_plugins};
	dp.untrusted_loads = o.untrusted_loads;
	if (sl_config_read_file(o.config, &dp.cfg_text, &dp.cfg_text_len, &cerr) < 0 ||
	    sl_config_load_buffer(dp.cfg_text, dp.cfg_text_len,
				  o.config_name ? o.config_name : o.config,
				  o.untrusted ? &dp.policy : NULL, &dp.cfg, &cerr) < 0) {
		fprintf(stderr, "%s\n", cerr.msg);
		free(dp.cfg_text);
		return 1;
	}
	if (o.check) {
		print_summary(dp.cfg, stdout);
		sl_config_free(dp.cfg);
		free(dp.cfg_text);
		return 0;
	}
	if (sl_config_resolve_auto(dp.cfg, &cerr) < 0) {
		fprintf(stderr, "%s\n", cerr.msg);
		sl_config_free(dp.cfg);
		free(dp.cfg_text);
		return 1;
	}
	struct sl_runtime *rt = calloc(1, sizeof(*rt));
	rt->cfg = dp.cfg;
	rt->file_policy = o.untrusted ? &dp.policy : NULL;
	rt->lcores = dp.lcores;
	dp.rt = rt;
	if (sl_pin_plan(dp.cfg, rt, lcores, sizeof(lcores), err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		goto out_cfg;
	}
	dp.n_lcores = rt->n_lcores;
	unsigned nb = sl_dp_mbufs_needed(dp.cfg, rt->n_lcores, err, sizeof(err));
	if (nb == 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		goto out_cfg;
	}
	if (o.mem_mb == 0) /* an mbuf with its headroom and headers is under 2.5 KiB */
		o.mem_mb = (unsigned)((uint64_t)nb * 2560 / (1u << 20)) + 256;
	int no_huge = o.no_huge;
	if (!no_huge && !hugepages_available()) {
		no_huge = 1;
		fprintf(stderr, "sluice-dp: no free hugepages on a mounted hugetlbfs: running with "
				"--no-huge (slower; run tools/setup to reserve them)\n");
	}
	/* EAL's own refusal of a second primary with the same file prefix
	 * says nothing useful ("Success"): name the running one first. */
	long other = running_dataplane(dp.cfg->dp.name);
	if (other > 0) {
		fprintf(stderr, "sluice-dp: a dataplane named '%s' is already running (pid %ld)\n",
			dp.cfg->dp.name, other);
		goto out_cfg;
	}
	/* An untrusted config's files are opened here, safely, before EAL
	 * hands their names to the PMDs; the PMDs get the fds. */
	int pinned[SL_DP_MAX_PINNED];
	unsigned n_pinned = 0;
	if (o.untrusted && sl_dp_pin(&dp, dp.cfg, pinned, &n_pinned, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		goto out_cfg;
	}
	char *eal_argv[128];
	int eal_argc = build_eal_args(dp.cfg, &o, lcores, no_huge, eal_argv, 120);
	rte_errno = 0;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		if (rte_errno)
			fprintf(stderr, "sluice-dp: EAL init failed: %s\n",
				rte_strerror(rte_errno));
		else
			fprintf(stderr,
				"sluice-dp: EAL init failed (see the EAL messages above)\n");
		goto out_cfg;
	}
	sl_telemetry_register(dp.cfg->dp.name);
	print_summary(dp.cfg, stdout);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	dp.start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	rt->stats = sl_dp_stats_create(&dp, dp.cfg, false, err, sizeof(err));
	if (!rt->stats) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		goto out_eal;
	}
	dp.mp = rte_pktmbuf_pool_create("sl_mbufs", nb, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					dp.lcores[0].socket);
	if (!dp.mp) {
		fprintf(stderr, "sluice-dp: cannot create a pool of %u mbufs: %s%s\n", nb,
			rte_strerror(rte_errno),
			no_huge
			    ? " (without hugepages: raise --mem, or run tools/setup)"
			    : " (reserve more hugepages, or lower dataplane.mbufs / ring_size)");
		goto out_stats;
	}
	rt->mp = dp.mp;
	dp.mbufs_total = nb;
	dp.rt = rt;
	int built = sl_runtime_build(rt, NULL, err, sizeof(err));
	sl_dp_unpin(pinned, &n_pinned); /* the PMDs hold their own opens now */
	if (built < 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		goto out_rt;
	}
	sl_runtime_publish(rt);
	sl_pin_check_numa(rt);
	sl_runtime_wait_links(rt, 3000);
	sl_runtime_update_port_stats(rt);
	sl_dp_pool_stats(&dp, true);
	sl_stats_publish(rt->stats);

	struct sl_dp_ctl ctl;
	const struct sl_dp_ops ops = {&dp, ctl_hello, ctl_graph_load, ctl_shutdown};
	if (sl_dp_ctl_open(&ctl, o.control_fd, o.control_socket, &dp.rt, &ops, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		goto out_rt;
	}

	sl_dp_state = SL_DP_RUNNING;
	rt->stats->state = SL_DP_RUNNING;
	for (unsigned l = 0; l < dp.n_lcores; l++) {
		if (rte_eal_remote_launch(sl_worker_main, &dp.lcores[l], dp.lcores[l].lcore_id) !=
		    0) {
			fprintf(stderr, "sluice-dp: cannot launch lcore %u\n",
				dp.lcores[l].lcore_id);
			sl_dp_state = SL_DP_STOPPED;
			rte_eal_mp_wait_lcore();
			goto out_ctl;
		}
	}

	double t0 = now_s(), t_prev = t0, next_print = t0 + o.interval, last_rx_change = t0;
	uint64_t last_rx = 0;
	struct sl_stats_hdr *prev = NULL;
	const char *why = "signal";
	/* Port statistics are read from the PMD's queue counters, which the
	 * workers write: reading them too often pulls those lines off the
	 * worker cores, so it happens every PORT_STATS_TICKS ticks only. */
	enum { TICK_MS = 50, PORT_STATS_TICKS = 10 };
	for (unsigned tick = 1;; tick++) {
		sl_dp_ctl_poll(&ctl, TICK_MS);
		rt = dp.rt; /* a graph load may have replaced it */
		double t = now_s();
		if (tick % PORT_STATS_TICKS == 0) {
			sl_runtime_update_port_stats(rt);
			sl_dp_pool_stats(&dp, false);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		rt->stats->heartbeat_ns =
		    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		uint64_t rx = sl_runtime_rx_total(rt);
		if (rx != last_rx) {
			last_rx = rx;
			last_rx_change = t;
		}
		if (stop_signal)
			break;
		if (dp.stop_requested) {
			why = "shutdown requested";
			break;
		}
		if (o.duration > 0 && t - t0 >= o.duration) {
			why = "duration reached";
			break;
		}
		if (o.idle_exit > 0 && t - last_rx_change >= o.idle_exit) {
			why = "input idle";
			break;
		}
		if (o.interval > 0 && t >= next_print) {
			if (prev && prev->epoch != rt->stats->epoch) {
				free(prev); /* the graph changed: rates restart */
				prev = NULL;
			}
			print_table(rt->stats, &prev, &t_prev);
			next_print += o.interval;
		}
	}

	printf("\nsluice-dp: stopping (%s): sources stopped, draining connectors\n", why);
	sl_dp_state = SL_DP_DRAINING;
	rt->stats->state = SL_DP_DRAINING;
	int drained = sl_workers_drain(rt, 5000);
	sl_dp_state = SL_DP_STOPPED;
	rte_eal_mp_wait_lcore();
	if (drained < 0)
		fprintf(stderr, "sluice-dp: error: %u packets still in connector rings after 5 s\n",
			sl_runtime_ring_backlog(rt));
	rt->stats->state = SL_DP_STOPPED;
	sl_runtime_finish_stages(rt);
	sl_runtime_update_port_stats(rt);
	sl_dp_pool_stats(&dp, false);
	free(prev);
	prev = NULL;
	t_prev = t0;
	printf("\nfinal counters (%.1f s):\n", now_s() - t0);
	print_table(rt->stats, &prev, &t_prev);
	rc = drained < 0 ? 1 : 0;
	if (o.stats_json && prev && write_json(o.stats_json, prev) != 0)
		rc = 1;
	free(prev);
out_ctl:
	sl_dp_ctl_close(&ctl);
out_rt:
	for (unsigned l = 0; l < dp.n_lcores; l++)
		rte_free(dp.lcores[l].work);
	sl_runtime_free(dp.rt, false);
	rte_mempool_free(dp.mp);
	for (unsigned i = 0; i < dp.n_extra_mp; i++)
		rte_mempool_free(dp.extra_mp[i]);
out_stats:
	sl_stats_destroy(dp.rt->stats, dp.cfg->dp.name);
	free(dp.rt);
out_eal:
	rte_eal_cleanup();
	release_hugepage_files(dp.cfg->dp.name);
out_cfg:
	sl_config_free(dp.cfg);
	free(dp.cfg_text);
	return rc;
}
