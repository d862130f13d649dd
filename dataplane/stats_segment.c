/* stats_segment.c: creating, publishing, mapping and snapshotting the stats
 * segment (POSIX shared memory "/sluice-<name>.stats"). */
#include "dataplane/stats_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_atomic.h>

static void shm_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/sluice-%s.stats", name);
}

static uint64_t align64(uint64_t v)
{
	return (v + 63) & ~(uint64_t)63;
}

struct sl_stats_hdr *sl_stats_create(const char *name, uint32_t n_stages, uint32_t n_conns,
				     uint32_t n_ports, uint32_t n_clusters, char *err, size_t len)
{
	char path[128];
	shm_name(name, path, sizeof(path));

	/* A segment left by a live dataplane of the same name is not ours. */
	const struct sl_stats_hdr *old = sl_stats_open(name, NULL, 0);
	if (old) {
		pid_t pid = (pid_t)old->pid;
		sl_stats_close(old);
		if (pid > 0 && pid != getpid() && kill(pid, 0) == 0) {
			snprintf(err, len, "a dataplane named '%s' is already running (pid %d)",
				 name, (int)pid);
			return NULL;
		}
	}
	uint64_t off = align64(sizeof(struct sl_stats_hdr));
	uint64_t off_stages = off;
	off = align64(off + (uint64_t)n_stages * sizeof(struct sl_stats_stage));
	uint64_t off_conns = off;
	off = align64(off + (uint64_t)n_conns * sizeof(struct sl_stats_conn));
	uint64_t off_ports = off;
	off = align64(off + (uint64_t)n_ports * sizeof(struct sl_stats_port));
	uint64_t off_clusters = off;
	off = align64(off + (uint64_t)n_clusters * sizeof(struct sl_stats_cluster));

	shm_unlink(path);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		snprintf(err, len, "cannot create stats segment %s: %s", path, strerror(errno));
		return NULL;
	}
	if (ftruncate(fd, (off_t)off) != 0) {
		snprintf(err, len, "cannot size stats segment %s: %s", path, strerror(errno));
		close(fd);
		shm_unlink(path);
		return NULL;
	}
	struct sl_stats_hdr *h = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED) {
		snprintf(err, len, "cannot map stats segment %s: %s", path, strerror(errno));
		shm_unlink(path);
		return NULL;
	}
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
	snprintf(h->name, sizeof(h->name), "%s", name);
	return h;
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
	munmap(h, h->size);
	shm_unlink(path);
}

void sl_stats_retire(struct sl_stats_hdr *h)
{
	if (!h)
		return;
	h->retired = 1;
	h->epoch |= 1; /* readers' snapshots of it fail and they reopen */
	rte_smp_wmb();
	munmap(h, h->size);
}

const struct sl_stats_hdr *sl_stats_open(const char *name, char *err, size_t len)
{
	char path[128];
	struct stat sb;
	shm_name(name, path, sizeof(path));

	int fd = shm_open(path, O_RDONLY, 0);
	if (fd < 0) {
		if (err)
			snprintf(err, len, "no stats segment for dataplane '%s' (%s): %s", name,
				 path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < sizeof(struct sl_stats_hdr)) {
		if (err)
			snprintf(err, len, "stats segment %s is too small", path);
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
	const struct sl_stats_hdr *h = p;
	if (h->magic != SL_STATS_MAGIC || h->version != SL_STATS_VERSION ||
	    h->size != (uint64_t)sb.st_size) {
		if (err)
			snprintf(err, len, "%s is not a sluice stats segment of version %d", path,
				 SL_STATS_VERSION);
		munmap(p, (size_t)sb.st_size);
		return NULL;
	}
	return h;
}

void sl_stats_close(const struct sl_stats_hdr *h)
{
	if (h)
		munmap((void *)(uintptr_t)h, h->size);
}

struct sl_stats_hdr *sl_stats_snapshot(const struct sl_stats_hdr *h, char *err, size_t len)
{
	struct sl_stats_hdr *copy = malloc(h->size);
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
		memcpy(copy, h, h->size);
		uint64_t e2 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
		if (e1 == e2)
			return copy;
	}
	free(copy);
	snprintf(err, len, "stats segment layout kept changing; try again");
	return NULL;
}
