/* read.c: reads a config file into memory: regular files only (a FIFO,
 * device, directory or socket is refused before a byte is read), at most
 * SL_CONFIG_MAX_BYTES, opened without following the caller into a wait. */
#include "config/read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sl_config_read_file(const char *path, char **buf, size_t *len, struct sl_err *err)
{
	struct sl_loc top = {path, 1, 1};
	struct stat st;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return sl_errf(err, &top, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return sl_errf(err, &top, "cannot stat: %s", strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sl_errf(err, &top, "not a regular file (%s)",
			       S_ISDIR(st.st_mode)    ? "a directory"
			       : S_ISFIFO(st.st_mode) ? "a FIFO"
			       : S_ISCHR(st.st_mode)  ? "a character device"
			       : S_ISSOCK(st.st_mode) ? "a socket"
						      : "not a file");
	}
	if ((uint64_t)st.st_size > SL_CONFIG_MAX_BYTES) {
		close(fd);
		return sl_errf(err, &top, "config is %lld bytes, more than the %u allowed",
			       (long long)st.st_size, SL_CONFIG_MAX_BYTES);
	}
	/* Read one byte past the cap: a file that grows while read is caught. */
	char *b = malloc(SL_CONFIG_MAX_BYTES + 2);
	size_t n = 0;
	if (!b) {
		close(fd);
		return sl_errf(err, &top, "out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, b + n, SL_CONFIG_MAX_BYTES + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			close(fd);
			return sl_errf(err, &top, "cannot read: %s", strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > SL_CONFIG_MAX_BYTES) {
			free(b);
			close(fd);
			return sl_errf(err, &top, "config is more than the %u bytes allowed",
				       SL_CONFIG_MAX_BYTES);
		}
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}
