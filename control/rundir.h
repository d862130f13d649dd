/* rundir.h: sluiced's private runtime directory and the state files in it.
 * See rundir.c. */
#ifndef SL_RUNDIR_H
#define SL_RUNDIR_H

#include <stddef.h>

#include "control/daemon.h"

/* Create or check the runtime directory (dirname of the socket path), set
 * its group and mode, and take the instance lock; -1 with err on error. */
int sl_rundir_open(struct sl_daemon *d, char *err, size_t len);
/* Write data to name in the runtime dir atomically (O_EXCL temp file, then
 * rename), refusing when name exists and is not a regular file we own. */
int sl_write_private(struct sl_daemon *d, const char *name, const void *data, size_t len,
		     int *keep_fd, char *err, size_t errlen);
/* Check name in the runtime dir is absent or a regular file we own. */
int sl_check_private(struct sl_daemon *d, const char *name, char *err, size_t errlen);
/* Give fd (or path, when fd < 0) owner/group/other permission bits u, g, o
 * with the admin group as its group and an ACL entry for the read group. */
void sl_rundir_set_access(struct sl_daemon *d, int fd, const char *path, unsigned u, unsigned g,
			  unsigned o);
/* The last component of path. */
const char *sl_rundir_base_name(const char *path);

#endif
