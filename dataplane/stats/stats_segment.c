/* stats_segment.c: creating, publishing, mapping and snapshotting the stats
 * segment (POSIX shared memory "/sluice-<name>.stats"). */
#include "dataplane/stats/stats_segment.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_atomic.h>
#include <rte_cycles.h>

static void shm_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/sluice-%s.stats", name);
}

static uint64_t align64(uint64_t v)
{
	return (v + 63) & ~(uint64_t)63;
}

/* The size each mapping was made with: a reader never trusts the size field
 * of a segment someone else writes (it may change after the map). Locked:
 * sluiced maps segments from its main loop and its metrics thread. */
#define MAX_MAPS 64
static struct {
	const void *p;
	size_t size;
} maps[MAX_MAPS];
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;

static void map_add(const void *p, size_t size)
{
	pthread_mutex_lock(&maps_lock);
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (!maps[i].p) {
			maps[i].p = p;
			maps[i].size = size;
			break;
		}
	pthread_mutex_unlock(&maps_lock);
}

static size_t map_size(const void *p, bool forget)
{
	size_t n = 0;
	pthread_mutex_lock(&maps_lock);
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (maps[i].p == p) {
			n = maps[i].size;
			if (forget)
				maps[i].p = NULL;
			break;
		}
	pthread_mutex_unlock(&maps_lock);
	return n;
}

static void unmap(const void *p)
{
	size_t n = map_size(p, true);
	if (n)
		munmap((void *)(uintptr_t)p, n);
}

static bool str_ok(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/* off + n * each lies within size, without overflow, and off is aligned. */
static bool table_ok(uint64_t off, uint64_t n, uint64_t each, uint64_t size)
{
	if (off % 64 || off < sizeof(struct sl_stats_hdr) || off > size)
		return false;
	return n <= (size - off) / each;
}

/* [off, off + n) lies inside the header's aux area (itself checked). */
static bool aux_ok(const struct sl_stats_hdr *h, uint64_t off, uint64_t n)
{
	return off >= h->off_aux && off - h->off_aux <= h->aux_size &&
	       n <= h->aux_size - (off - h->off_aux);
}

int sl_stats_validate(const struct sl_stats_hdr *h, size_t size, char *err, size_t len)
{
#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(err, len, __VA_ARGS__);                                                   \
		return -1;                                                                         \
	} while (0)
	if (!h || size < sizeof(*h))
		BAD("stats segment too small (%zu bytes)", size);
	if (h->magic != SL_STATS_MAGIC)
		BAD("not a sluice stats segment (bad magic)");
	if (h->version != SL_STATS_VERSION || h->hdr_size != sizeof(*h))
		BAD("stats segment of version %u (header %u bytes), expected %d (%zu bytes)",
		    h->version, h->hdr_size, SL_STATS_VERSION, sizeof(*h));
	if (h->size != size)
		BAD("stats segment says it has %llu bytes, it has %zu", (unsigned long long)h->size,
		    size);
	if (size > SL_STATS_MAX_BYTES)
		BAD("stats segment of %zu bytes is larger than %u", size, SL_STATS_MAX_BYTES);
	if (h->n_stages > SL_STATS_MAX_ITEMS || h->n_conns > SL_STATS_MAX_ITEMS ||
	    h->n_ports > SL_STATS_MAX_ITEMS || h->n_clusters > SL_STATS_MAX_ITEMS)
		BAD("stats segment counts out of range (%u stages, %u connectors, %u ports, %u "
		    "clusters; at most %u each)",
		    h->n_stages, h->n_conns, h->n_ports, h->n_clusters, SL_STATS_MAX_ITEMS);
	if (!table_ok(h->off_stages, h->n_stages, sizeof(struct sl_stats_stage), size) ||
	    !table_ok(h->off_conns, h->n_conns, sizeof(struct sl_stats_conn), size) ||
	    !table_ok(h->off_ports, h->n_ports, sizeof(struct sl_stats_port), size) ||
	    !table_ok(h->off_clusters, h->n_clusters, sizeof(struct sl_stats_cluster), size))
		BAD("stats segment tables lie outside its %zu bytes", size);
	if (h->off_aux < sizeof(*h) || h->off_aux > size || h->aux_size > size - h->off_aux)
		BAD("stats segment counter area lies outside its %zu bytes", size);
	if (!str_ok(h->name, sizeof(h->name)) || !str_ok(h->config, sizeof(h->config)))
		BAD("stats segment header strings are not terminated");
	for (uint32_t i = 0; i < h->n_clusters; i++) {
		const struct sl_stats_cluster *c = &sl_stats_clusters(h)[i];
		if (!str_ok(c->name, sizeof(c->name)))
			BAD("cluster %u: name not terminated", i);
	}
	for (uint32_t i = 0; i < h->n_stages; i++) {
		const struct sl_stats_stage *st = &sl_stats_stages(h)[i];
		if (!str_ok(st->name, sizeof(st->name)) || !str_ok(st->type, sizeof(st->type)))
			BAD("stage %u: name not terminated", i);
		if (st->cluster >= h->n_clusters || st->n_out > SL_STAGE_MAX_OUTPUTS ||
		    st->n_drops >= SL_STAGE_MAX_DROPS)
			BAD("stage %u: cluster or output counts out of range", i);
		for (unsigned j = 0; j < st->n_out; j++)
			if (!str_ok(st->out_names[j], SL_LABEL_MAX))
				BAD("stage %u: output name %u not terminated", i, j);
		for (unsigned j = 0; j <= st->n_drops; j++)
			if (!str_ok(st->drop_names[j], SL_LABEL_MAX))
				BAD("stage %u: drop name %u not terminated", i, j);
		if (st->n_aux) {
			if (st->n_aux > SL_STAGE_MAX_AUX ||
			    !aux_ok(h, st->off_aux_names, (uint64_t)st->n_aux * SL_LABEL_MAX) ||
			    !aux_ok(h, st->off_aux, (uint64_t)st->n_aux * 8) || st->off_aux % 8)
				BAD("stage %u: extra counters lie outside the segment's area", i);
			for (unsigned j = 0; j < st->n_aux; j++)
				if (!str_ok(sl_stats_aux_names(h, st)[j], SL_LABEL_MAX))
					BAD("stage %u: counter label %u not terminated", i, j);
		}
	}
	for (uint32_t i = 0; i < h->n_conns; i++) {
		const struct sl_stats_conn *c = &sl_stats_conns(h)[i];
		if (!str_ok(c->name, sizeof(c->name)) || c->from_cluster >= h->n_clusters ||
		    c->to_cluster >= h->n_clusters)
			BAD("connector %u: name or clusters out of range", i);
	}
	for (uint32_t i = 0; i < h->n_ports; i++) {
		const struct sl_stats_port *p = &sl_stats_ports(h)[i];
		if (!str_ok(p->name, sizeof(p->name)) || !str_ok(p->driver, sizeof(p->driver)) ||
		    !str_ok(p->devargs, sizeof(p->devargs)) || !str_ok(p->note, sizeof(p->note)))
			BAD("port %u: strings not terminated", i);
	}
	return 0;
#undef BAD
}

bool sl_stats_pid_is_dp(long pid)
{
	char path[64], buf[256];
	if (pid <= 0 || pid > 0x7fffffff || kill((pid_t)pid, 0) != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		char *del = strstr(buf, " (deleted)"); /* a rebuilt binary */
		if (del)
			*del = '\0';
		const char *b = strrchr(buf, '/');
		if (!strcmp(b ? b + 1 : buf, "sluice-dp"))
			return true;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool yes = fgets(buf, sizeof(buf), f) && !strncmp(buf, "sluice-dp", 9) &&
		   (buf[9] == '\n' || buf[9] == '\0');
	fclose(f);
	return yes;
}

long sl_stats_running_pid(const char *name)
{
	char path[128];
	struct sl_stats_hdr h;
	struct stat sb;
	shm_name(name, path, sizeof(path));
	int fd = shm_open(path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return 0;
	long pid = 0;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (sb.st_uid == 0 || sb.st_uid == geteuid()) &&
	    pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == SL_STATS_MAGIC &&
	    h.pid != getpid() && sl_stats_pid_is_dp((long)h.pid))
		pid = (long)h.pid;
	close(fd);
	return pid;
}

static struct sl_stats_hdr *create_at(const char *path, const char *name,
				      const struct sl_stats_dims *d, char *err, size_t len)
{
	uint32_t n_stages = d->n_stages, n_conns = d->n_conns, n_ports = d->n_ports,
		 n_clusters = d->n_clusters;
	uint64_t off = align64(sizeof(struct sl_stats_hdr));
	uint64_t off_stages = off;
	off = align64(off + (uint64_t)n_stages * sizeof(struct sl_stats_stage));
	uint64_t off_conns = off;
	off = align64(off + (uint64_t)n_conns * sizeof(struct sl_stats_conn));
	uint64_t off_ports = off;
	off = align64(off + (uint64_t)n_ports * sizeof(struct sl_stats_port));
	uint64_t off_clusters = off;
	off = align64(off + (uint64_t)n_clusters * sizeof(struct sl_stats_cluster));
	uint64_t off_aux = off;
	off = align64(off + d->aux_bytes);

	/* Created under a fresh random name, then renamed over path: nobody
	 * can take the name in between (a fixed name unlinked and created
	 * again could be planted in the gap), the rename replaces whatever
	 * stood at path, and in the sticky /dev/shm no other user can then
	 * remove or replace our file. */
	char tmp[200];
	int fd = -1;
	for (int tries = 0; tries < 16 && fd < 0; tries++) {
		uint64_t r = 0;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = ((uint64_t)getpid() << 32) ^ (uint64_t)rte_rdtsc();
		snprintf(tmp, sizeof(tmp), "%s.tmp-%016llx", path, (unsigned long long)r);
		fd = shm_open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		snprintf(err, len, "cannot create stats segment %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fchmod(fd, 0644) != 0 || ftruncate(fd, (off_t)off) != 0) {
		snprintf(err, len, "cannot size stats segment %s: %s", path, strerror(errno));
		close(fd);
		shm_unlink(tmp);
		return NULL;
	}
	struct sl_stats_hdr *h = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	char from[240], to[240];
	snprintf(from, sizeof(from), "/dev/shm%s", tmp);
	snprintf(to, sizeof(to), "/dev/shm%s", path);
	if (h == MAP_FAILED || rename(from, to) != 0) {
		snprintf(err, len, "cannot %s stats segment %s: %s",
			 h == MAP_FAILED ? "map" : "install", path, strerror(errno));
		if (h != MAP_FAILED)
			munmap(h, off);
		shm_unlink(tmp);
		return NULL;
	}
	map_add(h, off);
	memset(h, 0, off);
	h->magic = SL_STATS_MAGIC;
	h->version = SL_STATS_VERSION;
	h->hdr_size = sizeof(*h);
	h->epoch = 1;
	h->size = off;
	h->pid = getpid();
	h->n_stages = n_stages;
	h->n_conns = n_conns;
	h->n_ports = n_ports;
	h->n_clusters = n_clusters;
	h->off_stages = off_stages;
	h->off_conns = off_conns;
	h->off_ports = off_ports;
	h->off_clusters = off_clusters;
	h->off_aux = off_aux;
	h->aux_size = d->aux_bytes;
	snprintf(h->name, sizeof(h->name), "%s", name);
	return h;
}

uint64_t *sl_stats_aux_alloc(struct sl_stats_hdr *h, struct sl_stats_stage *desc, uint32_t n)
{
	uint64_t names = (uint64_t)n * SL_LABEL_MAX;
	uint64_t at = h->off_aux + h->aux_used;
	uint64_t vals = align64(at + names);
	uint64_t end = align64(vals + (uint64_t)n * 8);
	if (n == 0 || end - h->off_aux > h->aux_size)
		return NULL;
	desc->n_aux = n;
	desc->off_aux_names = at;
	desc->off_aux = vals;
	h->aux_used = end - h->off_aux;
	memset((char *)h + at, 0, end - at);
	return sl_stats_aux(h, desc);
}

struct sl_stats_hdr *sl_stats_create(const char *name, const struct sl_stats_dims *d, char *err,
				     size_t len)
{
	char path[128];
	struct stat sb;
	shm_name(name, path, sizeof(path));

	/* Only a live sluice-dp's segment, owned by root or us, means a
	 * dataplane of this name runs. Anything else at the name (a file
	 * another user planted, a dead process's leftover) is removed. */
	long pid = sl_stats_running_pid(name);
	if (pid > 0) {
		snprintf(err, len, "a dataplane named '%s' is already running (pid %ld)", name,
			 pid);
		return NULL;
	}
	char dpath[160];
	snprintf(dpath, sizeof(dpath), "/dev/shm%s", path);
	if (lstat(dpath, &sb) == 0 && (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid()))
		fprintf(stderr,
			"sluice-dp: warning: removing %s (owner uid %u, not a running sluice-dp's "
			"stats segment)\n",
			dpath, (unsigned)sb.st_uid);
	return create_at(path, name, d, err, len);
}

struct sl_stats_hdr *sl_stats_create_next(const char *name, const struct sl_stats_dims *d,
					  char *err, size_t len)
{
	char path[160];
	snprintf(path, sizeof(path), "/sluice-%s.stats.next", name);
	return create_at(path, name, d, err, len);
}

int sl_stats_install(const char *name, char *err, size_t len)
{
	char from[192], to[192];
	snprintf(from, sizeof(from), "/dev/shm/sluice-%s.stats.next", name);
	snprintf(to, sizeof(to), "/dev/shm/sluice-%s.stats", name);
	if (rename(from, to) != 0) {
		snprintf(err, len, "cannot install stats segment %s: %s", to, strerror(errno));
		return -1;
	}
	return 0;
}

void sl_stats_discard(struct sl_stats_hdr *h, const char *name)
{
	char path[160];
	if (!h)
		return;
	snprintf(path, sizeof(path), "/sluice-%s.stats.next", name);
	unmap(h);
	shm_unlink(path);
}

void sl_stats_publish(struct sl_stats_hdr *h)
{
	rte_smp_wmb();
	h->epoch |= 1;
	h->epoch++;
}

void sl_stats_destroy(struct sl_stats_hdr *h, const char *name)
{
	char path[128];
	if (!h)
		return;
	shm_name(name, path, sizeof(path));
	unmap(h);
	shm_unlink(path);
}

void sl_stats_retire(struct sl_stats_hdr *h)
{
	if (!h)
		return;
	h->retired = 1;
	h->epoch |= 1; /* readers' snapshots of it fail and they reopen */
	rte_smp_wmb();
	unmap(h);
}

const struct sl_stats_hdr *sl_stats_open(const char *name, char *err, size_t len)
{
	char path[128], why[256];
	struct stat sb;
	shm_name(name, path, sizeof(path));

	int fd = shm_open(path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0) {
		if (err)
			snprintf(err, len, "no stats segment for dataplane '%s' (%s): %s", name,
				 path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (size_t)sb.st_size < sizeof(struct sl_stats_hdr) ||
	    (uint64_t)sb.st_size > SL_STATS_MAX_BYTES) {
		if (err)
			snprintf(err, len, "stats segment %s has a bad size", path);
		close(fd);
		return NULL;
	}
	/* Anyone can create a file in /dev/shm: only root's or our own is a
	 * dataplane's. */
	if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
		if (err)
			snprintf(err, len,
				 "stats segment %s is owned by uid %u, not by root or us: not a "
				 "dataplane's",
				 path, (unsigned)sb.st_uid);
		close(fd);
		return NULL;
	}
	void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		if (err)
			snprintf(err, len, "cannot map %s: %s", path, strerror(errno));
		return NULL;
	}
	if (sl_stats_validate(p, (size_t)sb.st_size, why, sizeof(why)) < 0) {
		if (err)
			snprintf(err, len, "%s: %s", path, why);
		munmap(p, (size_t)sb.st_size);
		return NULL;
	}
	map_add(p, (size_t)sb.st_size);
	return p;
}

void sl_stats_close(const struct sl_stats_hdr *h)
{
	if (h)
		unmap(h);
}

struct sl_stats_hdr *sl_stats_snapshot(const struct sl_stats_hdr *h, char *err, size_t len)
{
	size_t size = map_size(h, false);
	char why[256];
	if (!size) {
		snprintf(err, len, "not a mapped stats segment");
		return NULL;
	}
	struct sl_stats_hdr *copy = malloc(size);
	if (!copy) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	for (int tries = 0; tries < 1000; tries++) {
		uint64_t e1 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&h->retired, __ATOMIC_ACQUIRE)) {
			free(copy);
			snprintf(err, len, "stats segment replaced by a graph load");
			errno = ESTALE;
			return NULL;
		}
		if (e1 & 1) {
			usleep(1000);
			continue;
		}
		memcpy(copy, h, size);
		uint64_t e2 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
		if (e1 != e2)
			continue;
		/* The writer may have changed anything since the open. */
		if (sl_stats_validate(copy, size, why, sizeof(why)) < 0) {
			free(copy);
			snprintf(err, len, "%s", why);
			return NULL;
		}
		return copy;
	}
	free(copy);
	snprintf(err, len, "stats segment layout kept changing; try again");
	return NULL;
}
