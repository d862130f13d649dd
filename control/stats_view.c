/* stats_view.c: sluiced's view of the counters. It maps the dataplane's stats
 * segment read-only and never asks the dataplane: a query is a snapshot of
 * shared memory. Totals survive dataplane restarts (the last snapshot of a
 * dead dataplane is folded in) and a reset subtracts a baseline. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "control/daemon.h"
#include "control/log.h"
#include "control/rundir.h"
#include "control/stats_view.h"

/* Integer fields that are levels, not running totals: never summed. */
static bool is_gauge(const char *key)
{
	static const char *const gauges[] = {"core",	  "capacity",  "occupancy", "peak",
					     "rx_queues", "tx_queues", "pid",	    "epoch",
					     "tsc_hz",	  "state",     NULL};
	for (const char *const *g = gauges; *g; g++)
		if (!strcmp(*g, key))
			return true;
	return false;
}

/* dst += sign * src over the integer counters of one object. */
static void add_object(json_t *dst, json_t *src, int sign)
{
	const char *key;
	json_t *v;
	json_object_foreach(src, key, v)
	{
		json_t *d = json_object_get(dst, key);
		if (json_is_integer(v) && !is_gauge(key)) {
			json_int_t base = json_is_integer(d) ? json_integer_value(d) : 0;
			json_object_set_new(dst, key,
					    json_integer(base + sign * json_integer_value(v)));
		} else if (json_is_object(v) && json_is_object(d)) {
			add_object(d, v, sign);
		}
	}
}

static json_t *find_named(json_t *arr, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n && !strcmp(n, name))
			return e;
	}
	return NULL;
}

/* For each named entry of the tables in src: dst's entry += sign * it. With
 * append, entries dst lacks are copied in (for folding). */
static void add_tables(json_t *dst, json_t *src, int sign, bool append)
{
	static const char *const tables[] = {"stages", "connectors", "ports", "clusters", NULL};
	for (const char *const *t = tables; *t; t++) {
		json_t *sa = json_object_get(src, *t), *da = json_object_get(dst, *t);
		size_t i;
		json_t *e;
		if (!json_is_array(sa) || !json_is_array(da))
			continue;
		json_array_foreach(sa, i, e)
		{
			const char *n = json_string_value(json_object_get(e, "name"));
			json_t *d = n ? find_named(da, n) : NULL;
			if (d)
				add_object(d, e, sign);
			else if (append)
				json_array_append_new(da, json_deep_copy(e));
		}
	}
}

/* *stats follows the segment of dataplane pid named name: a segment of
 * another pid (a dead dataplane's) is let go, and one is mapped only when
 * no_open is NULL (else it says why not). */
static int follow(const struct sl_stats_hdr **stats, const char *name, long pid,
		  const char *no_open, char *err, size_t len)
{
	if (*stats && (*stats)->pid != pid) {
		sl_stats_close(*stats); /* a dead dataplane's segment */
		*stats = NULL;
	}
	if (*stats)
		return 0;
	if (no_open) {
		snprintf(err, len, "%s", no_open);
		return -1;
	}
	*stats = sl_stats_open(name, err, len);
	if (*stats && (*stats)->pid != pid) {
		snprintf(err, len, "the dataplane has not published its counters yet");
		sl_stats_close(*stats);
		*stats = NULL;
	}
	return *stats ? 0 : -1;
}

json_t *sl_view_snapshot_of(const struct sl_stats_hdr **stats, const char *name, long pid,
			    const char *no_open, char *err, size_t len)
{
	/* A graph load retires the segment: follow it to the new one. */
	for (int attempt = 0; attempt < 3; attempt++) {
		if (follow(stats, name, pid, no_open, err, len) < 0)
			return NULL;
		struct sl_stats_hdr *s = sl_stats_snapshot(*stats, err, len);
		if (s) {
			json_t *j = sl_stats_to_json(s);
			free(s);
			return j;
		}
		if (!(*stats)->retired)
			return NULL;
		sl_stats_close(*stats);
		*stats = NULL;
	}
	return NULL;
}

static int ensure_open(struct sl_daemon *d, char *err, size_t len)
{
	char why[64];
	snprintf(why, sizeof(why), "the dataplane is %s", sl_phase_name(d->phase));
	return follow(&d->stats, d->cfg->dp.name, d->dp_pid,
		      d->phase == SL_SUP_RUNNING ? NULL : why, err, len);
}

/* A JSON snapshot of the live segment, following a graph load's new one. */
static json_t *live_snapshot(struct sl_daemon *d, char *err, size_t len)
{
	char why[64];
	snprintf(why, sizeof(why), "the dataplane is %s", sl_phase_name(d->phase));
	return sl_view_snapshot_of(&d->stats, d->cfg->dp.name, d->dp_pid,
				   d->phase == SL_SUP_RUNNING ? NULL : why, err, len);
}

struct sl_stats_hdr *sl_view_raw_snapshot(struct sl_daemon *d, char *err, size_t len)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (ensure_open(d, err, len) < 0)
			return NULL;
		struct sl_stats_hdr *s = sl_stats_snapshot(d->stats, err, len);
		if (s)
			return s;
		if (!d->stats->retired)
			return NULL;
		sl_stats_close(d->stats);
		d->stats = NULL;
	}
	return NULL;
}

void sl_view_add_totals(json_t *view, json_t *folded)
{
	if (folded)
		add_tables(view, folded, 1, false);
}

void sl_view_fold_dead(struct sl_daemon *d)
{
	char err[256];
	if (!d->stats)
		return;
	struct sl_stats_hdr *s = sl_stats_snapshot(d->stats, err, sizeof(err));
	if (s) {
		json_t *j = sl_stats_to_json(s);
		free(s);
		if (!d->folded) {
			d->folded = j;
		} else {
			add_tables(d->folded, j, 1, true);
			json_decref(j);
		}
		d->folded_gen++;
	} else {
		sl_log(LOG_WARNING, "could not read the dead dataplane's counters: %s", err);
	}
	sl_stats_close(d->stats);
	d->stats = NULL;
	char *text = d->folded ? json_dumps(d->folded, JSON_COMPACT) : NULL;
	if (text &&
	    sl_write_private(d, d->totals_name, text, strlen(text), NULL, err, sizeof(err)) < 0)
		sl_log(LOG_WARNING, "%s", err);
	free(text);
}

void sl_view_load_totals(struct sl_daemon *d)
{
	/* Only a regular file of ours, never through a link. */
	int fd = openat(d->dirfd, d->totals_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat st;
	json_error_t je;
	json_t *t = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    st.st_size < (64 << 20))
		t = json_loadfd(fd, 0, &je);
	else
		sl_log(LOG_WARNING, "%s/%s is not a regular file of ours; ignoring it",
		       d->runtime_dir, d->totals_name);
	close(fd);
	if (json_is_object(t)) {
		json_decref(d->folded);
		d->folded = t;
		d->folded_gen++;
		sl_log(LOG_INFO, "restored counter totals of earlier dataplanes from %s/%s",
		       d->runtime_dir, d->totals_name);
	} else {
		json_decref(t);
	}
}

void sl_view_close(struct sl_daemon *d)
{
	sl_stats_close(d->stats);
	d->stats = NULL;
}

void sl_view_refresh(struct sl_daemon *d)
{
	char err[256];
	sl_view_close(d);
	if (ensure_open(d, err, sizeof(err)) < 0)
		sl_log(LOG_WARNING, "cannot map the dataplane's counters: %s", err);
}

static json_t *raw_view(struct sl_daemon *d, char *err, size_t len)
{
	json_t *v = live_snapshot(d, err, len);
	if (!v)
		return NULL;
	sl_view_add_totals(v, d->folded);
	return v;
}

json_t *sl_view_counters(struct sl_daemon *d, char *err, size_t len)
{
	json_t *v = raw_view(d, err, len);
	if (!v)
		return NULL;
	if (d->baseline)
		add_tables(v, d->baseline, -1, false);
	sl_stats_json_derive(v);
	json_object_set_new(v, "time", json_real(sl_now()));
	json_object_set_new(v, "restarts", json_integer(d->restarts));
	return v;
}

int sl_view_reset(struct sl_daemon *d, char *err, size_t len)
{
	json_t *v = raw_view(d, err, len);
	if (!v)
		return -1;
	json_decref(d->baseline);
	d->baseline = v;
	return 0;
}
