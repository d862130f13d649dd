/* diag.h: where something in a config stands (file, line, column) and the
 * one message a refused config gets, "file:line:col: message". The lowest
 * layer of the config loader: no DPDK, nothing else of sluice. */
#ifndef SL_DIAG_H
#define SL_DIAG_H

struct sl_loc {
	const char *file;
	int line, col; /* 1-based */
};

struct sl_err {
	char msg[512];
};

/* Format an error at loc (NULL: no place) into err; always returns -1. */
int sl_errf(struct sl_err *err, const struct sl_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
