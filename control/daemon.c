/* daemon.c: helpers of sluiced's state (daemon.h): the clock, phase names
 * and lookups in the command table. */
#include "control/daemon.h"

#include <string.h>
#include <time.h>

double sl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *sl_phase_name(enum sl_sup_phase p)
{
	switch (p) {
	case SL_SUP_DOWN:
		return "down";
	case SL_SUP_STARTING:
		return "starting";
	case SL_SUP_RUNNING:
		return "running";
	case SL_SUP_BACKOFF:
		return "backing off after repeated crashes";
	case SL_SUP_STOPPING:
		return "stopping";
	}
	return "?";
}

const struct sl_command_def *sl_command_find(const struct sl_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_commands; i++)
		if (!strcmp(d->commands[i].name, name))
			return &d->commands[i];
	return NULL;
}

bool sl_command_mutating(const struct sl_command_def *c, json_t *req)
{
	/* A mistyped flag counts as set: the handler refuses it anyway, and
	 * a reader learns nothing from the difference. */
	return c->mutates || (c->mutates_flag && json_object_get(req, c->mutates_flag) &&
			      !json_is_false(json_object_get(req, c->mutates_flag)));
}
