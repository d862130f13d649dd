/* diag.c: formats a config error as "file:line:col: message". */
#include "config/diag.h"

#include <stdarg.h>
#include <stdio.h>

int sl_errf(struct sl_err *err, const struct sl_loc *loc, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (loc)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: ", loc->file, loc->line,
			     loc->col);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}
