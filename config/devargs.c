/* devargs.c: the device-argument policy of devargs.h. sluiced runs as root
 * and hands devargs to DPDK, whose virtual PMDs open, create and truncate the
 * files their arguments name (net_pcap's tx_pcap, memif's socket, ...). So a
 * config may name only devices on an allow-list, and a config that came over
 * the control socket may name files only inside the directories the
 * operator listed. */
#include "config/devargs.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Virtual drivers a config may name, with the arguments that are paths. */
static const struct vdrv {
	const char *name;
	const char *file_keys[3];
} vdrivers[] = {
    {"net_null", {NULL}},
    {"net_ring", {NULL}},
    {"net_pcap", {"rx_pcap", "tx_pcap", NULL}},
    {"net_tap", {NULL}},
    {"net_tun", {NULL}},
    {"net_memif", {"socket", NULL}},
    {"net_af_packet", {NULL}},
    {"net_af_xdp", {"xdp_prog", NULL}},
    {"net_vhost", {"iface", NULL}},
    {"net_virtio_user", {"path", NULL}},
};

/* How a PMD uses a file argument: reads a file, writes one (creating it),
 * or binds or connects a socket there. */
enum file_use { FILE_READ, FILE_WRITE, FILE_SOCKET };

static enum file_use file_use(const char *key, size_t kl)
{
	if ((kl == 7 && !strncmp(key, "rx_pcap", 7)) || (kl == 8 && !strncmp(key, "xdp_prog", 8)))
		return FILE_READ;
	if (kl == 7 && !strncmp(key, "tx_pcap", 7))
		return FILE_WRITE;
	return FILE_SOCKET;
}

void sl_devargs_name(const char *devargs, char *buf, size_t len)
{
	snprintf(buf, len, "%s", devargs);
	char *c = strchr(buf, ',');
	if (c)
		*c = '\0';
}

bool sl_path_normalized(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || p[0] != '/' || n >= PATH_MAX)
		return false;
	if (n == 1)
		return true; /* "/" */
	if (p[n - 1] == '/')
		return false;
	for (const char *s = p; *s; s++) {
		if (*s != '/')
			continue;
		const char *c = s + 1; /* a component starts here */
		size_t cl = strcspn(c, "/");
		if (cl == 0 || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
			return false;
	}
	return true;
}

bool sl_path_inside(const char *p, const char *dir)
{
	size_t dl = strlen(dir);
	if (dl == 1 && dir[0] == '/')
		return p[0] == '/' && p[1] != '\0';
	return strncmp(p, dir, dl) == 0 && p[dl] == '/' && p[dl + 1] != '\0';
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* [DDDD:]BB:DD.F */
static bool is_pci_address(const char *s, size_t n)
{
	if (n == 12 && is_hex(s, 4) && s[4] == ':') {
		s += 5;
		n -= 5;
	}
	return n == 7 && is_hex(s, 2) && s[2] == ':' && is_hex(s + 3, 2) && s[5] == '.' &&
	       s[6] >= '0' && s[6] <= '7';
}

static const struct vdrv *find_vdrv(const char *name, size_t n)
{
	const struct vdrv *best = NULL;
	for (size_t i = 0; i < sizeof(vdrivers) / sizeof(vdrivers[0]); i++) {
		size_t dl = strlen(vdrivers[i].name);
		if (dl > n || strncmp(name, vdrivers[i].name, dl) != 0)
			continue;
		bool ok = true; /* the instance suffix: net_pcap0, net_null_in */
		for (size_t j = dl; j < n && ok; j++)
			ok = isalnum((unsigned char)name[j]) || name[j] == '_';
		if (ok && (!best || dl > strlen(best->name)))
			best = &vdrivers[i];
	}
	return best;
}

static bool is_file_key(const struct vdrv *d, const char *key, size_t kl)
{
	for (unsigned i = 0; d && d->file_keys[i]; i++)
		if (strlen(d->file_keys[i]) == kl && !strncmp(d->file_keys[i], key, kl))
			return true;
	return false;
}

/* A path argument of an untrusted config: absolute, normalized, inside an
 * allowed directory, no symbolic link on the way, and not a device or FIFO
 * if it already exists. */
static int check_path(const char *v, size_t vl, char *const *dirs, unsigned n_dirs, char *msg,
		      size_t len)
{
	char p[PATH_MAX];
	struct stat st;
	if (vl >= sizeof(p)) {
		snprintf(msg, len, "path is too long");
		return -1;
	}
	memcpy(p, v, vl);
	p[vl] = '\0';
	if (!sl_path_normalized(p)) {
		snprintf(msg, len,
			 "'%s' must be an absolute path without '.', '..' or repeated '/'", p);
		return -1;
	}
	bool inside = false;
	for (unsigned i = 0; i < n_dirs && !inside; i++)
		inside = sl_path_inside(p, dirs[i]);
	if (!inside) {
		char list[256] = "";
		for (unsigned i = 0; i < n_dirs; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", dirs[i]);
		snprintf(msg, len,
			 "'%s' is outside the directories a config sent over the control socket "
			 "may use (dataplane.file_dirs of the config sluiced started with: %s)",
			 p, n_dirs ? list : "none given");
		return -1;
	}
	for (char *s = p + 1;; s++) {
		bool last = *s == '\0';
		if (*s != '/' && !last)
			continue;
		char keep = *s;
		*s = '\0';
		int rc = lstat(p, &st);
		if (rc == 0 && S_ISLNK(st.st_mode)) {
			snprintf(msg, len, "'%s' is a symbolic link; name the file itself", p);
			return -1;
		}
		*s = keep;
		if (rc != 0 || last)
			break; /* what does not exist yet holds no link */
	}
	if (lstat(p, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISSOCK(st.st_mode)) {
		snprintf(msg, len, "'%s' exists and is not a regular file or a socket", p);
		return -1;
	}
	return 0;
}

int sl_devargs_check(const char *devargs, bool untrusted, char *const *dirs, unsigned n_dirs,
		     char *msg, size_t len, size_t *off)
{
	size_t nl = strcspn(devargs, ",");
	const struct vdrv *d = NULL;

	*off = 0;
	for (const char *s = devargs; *s; s++) {
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f) {
			*off = (size_t)(s - devargs);
			snprintf(msg, len, "devargs hold a space or control character");
			return -1;
		}
		/* DPDK reads [..] as a list and quotes as quoting: no allowed
		 * device needs either, and they let one argument hide others. */
		if (strchr("[]\"'", *s)) {
			*off = (size_t)(s - devargs);
			snprintf(msg, len, "devargs may not hold '%c'", *s);
			return -1;
		}
	}
	if (!strncmp(devargs, "net_", 4)) {
		d = find_vdrv(devargs, nl);
		if (!d) {
			char list[256] = "";
			for (size_t i = 0; i < sizeof(vdrivers) / sizeof(vdrivers[0]); i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 i ? ", " : "", vdrivers[i].name + 4);
			snprintf(msg, len, "virtual device '%.*s' is not allowed (allowed: %s)",
				 (int)nl, devargs, list);
			return -1;
		}
	} else if (!is_pci_address(devargs, nl)) {
		snprintf(msg, len,
			 "'%.*s' is neither an allowed virtual device (net_null0, net_pcap0, ...) "
			 "nor a PCI address (0000:01:00.0)",
			 (int)nl, devargs);
		return -1;
	}
	for (const char *a = devargs + nl; *a == ',';) {
		const char *k = a + 1;
		size_t al = strcspn(k, ",");
		size_t kl = strcspn(k, "=,");
		*off = (size_t)(k - devargs);
		if (kl == 0) {
			snprintf(msg, len, "empty device argument");
			return -1;
		}
		for (size_t i = 0; i < kl; i++)
			if (!isalnum((unsigned char)k[i]) && k[i] != '_' && k[i] != '-') {
				snprintf(msg, len, "bad device argument name '%.*s'", (int)kl, k);
				return -1;
			}
		const char *v = kl < al ? k + kl + 1 : k + al;
		size_t vl = (size_t)(k + al - v);
		if (untrusted && (is_file_key(d, k, kl) || memchr(v, '/', vl))) {
			*off = (size_t)(v - devargs);
			if (check_path(v, vl, dirs, n_dirs, msg, len) < 0)
				return -1;
		}
		a = k + al;
	}
	return 0;
}

/* Open dir (an operator's directory) and walk rel (a relative path of
 * normalized components) down to its last directory without following a
 * link; returns an O_PATH fd of that directory, or -1 with errno. */
static int walk_nofollow(const char *dir, const char *rel, const char **last)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	const char *c = rel;
	for (const char *slash; fd >= 0 && (slash = strchr(c, '/')) != NULL; c = slash + 1) {
		char comp[256];
		size_t n = (size_t)(slash - c);
		if (n >= sizeof(comp)) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, c, n);
		comp[n] = '\0';
		int next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	*last = c;
	return fd;
}

/* The directory holding path (checked to lie inside one of dirs), walked
 * down from the longest such dir without following links: an O_PATH fd,
 * with *last its final component; or -1 with msg. */
static int open_parent(const char *path, char *const *dirs, unsigned n_dirs, const char **last,
		       char *msg, size_t len)
{
	const char *dir = NULL;
	for (unsigned i = 0; i < n_dirs; i++)
		if (sl_path_inside(path, dirs[i]) && (!dir || strlen(dirs[i]) > strlen(dir)))
			dir = dirs[i];
	size_t dl = strlen(dir);
	int dfd = walk_nofollow(dir, path + (dl == 1 ? 1 : dl + 1), last);
	if (dfd < 0)
		snprintf(msg, len, "'%s': cannot open its directory without following links: %s",
			 path, strerror(errno));
	return dfd;
}

int sl_devargs_pin(const char *devargs, char *const *dirs, unsigned n_dirs, char *out,
		   size_t outlen, int *fds, unsigned max_fds, unsigned *n_fds, char *msg,
		   size_t len)
{
	size_t nl = strcspn(devargs, ",");
	const struct vdrv *d = strncmp(devargs, "net_", 4) ? NULL : find_vdrv(devargs, nl);
	size_t o = (size_t)snprintf(out, outlen, "%.*s", (int)nl, devargs);

	for (const char *a = devargs + nl; *a == ',' && o < outlen;) {
		const char *k = a + 1;
		size_t al = strcspn(k, ","), kl = strcspn(k, "=,");
		const char *v = kl < al ? k + kl + 1 : k + al;
		size_t vl = (size_t)(k + al - v);
		a = k + al;
		if (!is_file_key(d, k, kl) && !memchr(v, '/', vl)) {
			o += (size_t)snprintf(out + o, outlen - o, ",%.*s", (int)al, k);
			continue;
		}
		char path[PATH_MAX];
		if (check_path(v, vl, dirs, n_dirs, msg, len) < 0)
			return -1;
		snprintf(path, sizeof(path), "%.*s", (int)vl, v);
		const char *last;
		int dfd = open_parent(path, dirs, n_dirs, &last, msg, len);
		if (dfd < 0)
			return -1;
		enum file_use use = file_use(k, kl);
		int fd = dfd;
		char repl[96];
		if (use == FILE_SOCKET) {
			snprintf(repl, sizeof(repl), "/proc/self/fd/%d/%s", dfd, last);
			if (strlen(repl) >= 108) { /* sun_path */
				close(dfd);
				snprintf(msg, len, "'%s': socket name too long", path);
				return -1;
			}
		} else {
			fd = openat(dfd, last,
				    (use == FILE_READ ? O_RDONLY : O_WRONLY | O_CREAT) |
					O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
				    0640);
			int e = errno;
			close(dfd);
			struct stat st;
			if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
				snprintf(msg, len, "'%s': %s", path,
					 fd < 0 ? strerror(e) : "not a regular file");
				if (fd >= 0)
					close(fd);
				return -1;
			}
			snprintf(repl, sizeof(repl), "/proc/self/fd/%d", fd);
		}
		if (*n_fds >= max_fds) {
			close(fd);
			snprintf(msg, len, "too many file arguments");
			return -1;
		}
		fds[(*n_fds)++] = fd;
		o += (size_t)snprintf(out + o, outlen - o, ",%.*s=%s", (int)kl, k, repl);
	}
	if (o >= outlen) {
		snprintf(msg, len, "devargs too long");
		return -1;
	}
	return 0;
}

int sl_path_check(const char *path, char *const *dirs, unsigned n_dirs, char *msg, size_t len)
{
	return check_path(path, strlen(path), dirs, n_dirs, msg, len);
}

int sl_path_open(const char *path, bool write, bool untrusted, char *const *dirs, unsigned n_dirs,
		 char *msg, size_t len)
{
	/* O_NONBLOCK so that a FIFO planted at the path cannot hang the open;
	 * anything but a regular file is refused below anyway. */
	int flags = (write ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY) | O_CLOEXEC | O_NONBLOCK;
	/* A client's config writes only new files: an existing one may be
	 * someone's rules, or a file planted with an owner and mode that
	 * would let its planter read what root writes into it. */
	if (write && untrusted)
		flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NONBLOCK;
	int fd;
	if (untrusted) {
		if (check_path(path, strlen(path), dirs, n_dirs, msg, len) < 0)
			return -1;
		const char *last;
		int dfd = open_parent(path, dirs, n_dirs, &last, msg, len);
		if (dfd < 0)
			return -1;
		fd = openat(dfd, last, flags | O_NOFOLLOW, 0640);
		int e = errno;
		close(dfd);
		errno = e;
	} else {
		fd = open(path, flags, 0640);
	}
	struct stat st;
	if (fd < 0 && errno == EEXIST) {
		snprintf(msg, len,
			 "'%s' exists: a config sent over the control socket writes only new "
			 "files (remove it, or name another)",
			 path);
		return -1;
	}
	if (fd < 0) {
		snprintf(msg, len, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, len, "'%s' is not a regular file", path);
		close(fd);
		return -1;
	}
	/* What the operator's config overwrites becomes ours and 0640, as a
	 * new file would be, whoever owned it before. */
	if (write && (fchown(fd, geteuid(), getegid()) != 0 || fchmod(fd, 0640) != 0)) {
		snprintf(msg, len, "'%s': cannot make it ours and 0640: %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
