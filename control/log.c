/* log.c: sluiced's log: stderr with a timestamp, or syslog with --syslog. */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "control/log.h"

static bool to_syslog;

void sl_log_init(bool use_syslog)
{
	to_syslog = use_syslog;
	if (use_syslog)
		openlog("sluiced", LOG_PID, LOG_DAEMON);
}

void sl_log(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (to_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ sluiced: %s", when, ts.tv_nsec / 1000000,
			prio <= LOG_ERR	      ? "error: "
			: prio == LOG_WARNING ? "warning: "
					      : "");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
