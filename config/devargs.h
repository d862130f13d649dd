/* devargs.h: the policy for DPDK device arguments in a config: which
 * devices may be named (an allow-list of virtual drivers, and PCI
 * addresses), their syntax, and where the files they name may lie. */
#ifndef SL_DEVARGS_H
#define SL_DEVARGS_H

#include <stdbool.h>
#include <stddef.h>

/* Check devargs ("net_pcap0,rx_pcap=/x/a.pcap" or "0000:01:00.0,k=v").
 * With untrusted, every file argument must be an absolute, normalized path
 * inside one of dirs, with no symbolic link on the way. Returns 0, or -1 with
 * msg set and *off the byte offset in devargs of the offending part. */
int sl_devargs_check(const char *devargs, bool untrusted, char *const *dirs, unsigned n_dirs,
		     char *msg, size_t len, size_t *off);

/* For an untrusted config, in the process that hands devargs to DPDK: open
 * every file argument now, walking from its file_dirs entry one component
 * at a time without following a link, and write to out the same devargs
 * with each such argument replaced by "/proc/self/fd/N" (a file the PMD
 * reads or writes) or "/proc/self/fd/N/name" (a socket it binds or connects
 * in directory N). The PMD then opens what was checked, whatever is swapped
 * in on the way meanwhile. The fds opened are appended to fds (n_fds); close
 * them once the device is probed. Returns 0, or -1 with msg. */
int sl_devargs_pin(const char *devargs, char *const *dirs, unsigned n_dirs, char *out,
		   size_t outlen, int *fds, unsigned max_fds, unsigned *n_fds, char *msg,
		   size_t len);

/* The device name a devargs string gives EAL: up to the first comma. */
void sl_devargs_name(const char *devargs, char *buf, size_t len);

/* An absolute path with no empty, "." or ".." component and no trailing '/'. */
bool sl_path_normalized(const char *p);
/* Whether path p lies strictly inside directory dir (both normalized). */
bool sl_path_inside(const char *p, const char *dir);

/* The untrusted-config check of one file path: normalized, inside dirs,
 * no link on the way. Returns 0, or -1 with msg. */
int sl_path_check(const char *path, char *const *dirs, unsigned n_dirs, char *msg, size_t len);
/* Open a file a stage reads (write false) or writes (0640, ours: created,
 * or for a trusted config truncated). Untrusted: checked as sl_path_check,
 * walked from its dirs entry without following a link, and a file written
 * must not exist yet. Refuses anything but a regular file, never blocks on
 * a FIFO. Returns an O_CLOEXEC fd, or -1 with msg. */
int sl_path_open(const char *path, bool write, bool untrusted, char *const *dirs,
		 unsigned n_dirs, char *msg, size_t len);

#endif
