/* rundir.c: sluiced's private runtime directory: created or checked (ours,
 * a real directory, not writable by others), locked so one sluiced owns
 * it, its group and ACL set for the admin and read groups, and the state
 * files in it (pid file, totals, the last good config) written without ever
 * following a link or replacing something that is not ours. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>

#include "control/daemon.h"
#include "control/log.h"
#include "control/rundir.h"

const char *sl_rundir_base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Give the read group perm on fd (or path, for the socket) through a POSIX
 * ACL, besides owner perm u and owning group perm g. Returns -1 when the
 * file system has no ACLs. */
static int set_acl(int fd, const char *path, unsigned u, unsigned g, gid_t read_gid, unsigned r)
{
	struct {
		struct posix_acl_xattr_header h;
		struct posix_acl_xattr_entry e[5];
	} acl = {.h = {.a_version = POSIX_ACL_XATTR_VERSION}};
	const struct posix_acl_xattr_entry e[5] = {
	    {ACL_USER_OBJ, (__u16)u, ACL_UNDEFINED_ID},
	    {ACL_GROUP_OBJ, (__u16)g, ACL_UNDEFINED_ID},
	    {ACL_GROUP, (__u16)r, (__u32)read_gid},
	    {ACL_MASK, (__u16)(g | r), ACL_UNDEFINED_ID},
	    {ACL_OTHER, 0, ACL_UNDEFINED_ID},
	};
	memcpy(acl.e, e, sizeof(e));
	return fd >= 0 ? fsetxattr(fd, "system.posix_acl_access", &acl, sizeof(acl), 0)
		       : setxattr(path, "system.posix_acl_access", &acl, sizeof(acl), 0);
}

/* Who may reach a file of the runtime dir: owner perm u, the admin group g,
 * the read group r. Nobody else gets anything. */
void sl_rundir_set_access(struct sl_daemon *d, int fd, const char *path, unsigned u, unsigned g,
			  unsigned r)
{
	gid_t gid = d->admin_group ? d->admin_gid : getegid();
	unsigned gm = d->admin_group ? g : 0;
	int rc = fd >= 0 ? fchown(fd, (uid_t)-1, gid) : chown(path, (uid_t)-1, gid);
	mode_t mode = (mode_t)((u << 6) | (gm << 3));
	rc |= fd >= 0 ? fchmod(fd, mode) : chmod(path, mode);
	if (rc != 0)
		sl_log(LOG_WARNING, "cannot set the owner group or mode of %s: %s", path,
		       strerror(errno));
	if (!d->read_group || (d->admin_group && d->read_gid == d->admin_gid))
		return;
	if (set_acl(fd, path, u, gm, d->read_gid, r) != 0) {
		/* No ACLs here: open it to others and let the credential check
		 * alone keep them out. */
		sl_log(LOG_WARNING,
		       "cannot give group '%s' access to %s with an ACL (%s); opening it to "
		       "all users, who are then refused by the credential check",
		       d->read_group, path, strerror(errno));
		mode |= (mode_t)r;
		if (fd >= 0)
			fchmod(fd, mode);
		else
			chmod(path, mode);
	}
}

/* Check a directory we are about to keep state in: ours, a directory, and
 * nobody else can add or swap files in it. */
static int check_dir(const char *path, int *out, char *err, size_t len)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		snprintf(err, len, "runtime directory %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, len, "runtime directory %s is a symlink; refusing it", path);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, len, "runtime directory %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	const char *why = NULL;
	if (!S_ISDIR(st.st_mode))
		why = "is not a directory";
	else if (st.st_uid != geteuid())
		why = "is not owned by sluiced's user";
	else if (st.st_mode & 022)
		why = "is writable by its group or others";
	if (why) {
		snprintf(err, len, "runtime directory %s %s (owner uid %u, mode %04o); refusing it",
			 path, why, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	*out = fd;
	return 0;
}

int sl_check_private(struct sl_daemon *d, const char *name, char *err, size_t errlen)
{
	struct stat st;
	if (fstatat(d->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0; /* absent */
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "%s/%s exists and is not a regular file owned by sluiced's user; "
			 "refusing to replace it",
			 d->runtime_dir, name);
		return -1;
	}
	return 0;
}

int sl_write_private(struct sl_daemon *d, const char *name, const void *data, size_t len,
		     int *keep_fd, char *err, size_t errlen)
{
	static unsigned seq;
	char tmp[256];
	struct timespec ts;
	if (sl_check_private(d, name, err, errlen) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(tmp, sizeof(tmp), ".%s.%d.%u.%ld", name, (int)getpid(), ++seq, ts.tv_nsec);
	int fd = openat(d->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s/%s: %s", d->runtime_dir, tmp,
			 strerror(errno));
		return -1;
	}
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		left -= (size_t)n;
	}
	if (left || (keep_fd && flock(fd, LOCK_EX | LOCK_NB) != 0) ||
	    renameat(d->dirfd, tmp, d->dirfd, name) != 0) {
		snprintf(err, errlen, "cannot write %s/%s: %s", d->runtime_dir, name,
			 strerror(errno));
		unlinkat(d->dirfd, tmp, 0);
		close(fd);
		return -1;
	}
	if (keep_fd)
		*keep_fd = fd;
	else
		close(fd);
	return 0;
}

int sl_rundir_open(struct sl_daemon *d, char *err, size_t len)
{
	char dir[sizeof(d->runtime_dir)];
	snprintf(dir, sizeof(dir), "%s", d->socket_path);
	snprintf(d->runtime_dir, sizeof(d->runtime_dir), "%s", dirname(dir));
	if (mkdir(d->runtime_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, len, "cannot create runtime directory %s: %s", d->runtime_dir,
			 strerror(errno));
		return -1;
	}
	if (check_dir(d->runtime_dir, &d->dirfd, err, len) < 0)
		return -1;
	/* One sluiced per runtime dir: the lock dies with its holder. */
	if (flock(d->dirfd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, len, "another sluiced is running on runtime directory %s",
			 d->runtime_dir);
		return -1;
	}
	sl_rundir_set_access(d, d->dirfd, d->runtime_dir, 7, 5, 1);
	return 0;
}
