/* plugin.c: loads stage plugins (plugin.h): checks where the file lives,
 * dlopens it, and registers the stage types its constructors offered once
 * their ABI and names check out. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stages/plugin.h"
#include "stages/stage.h"

static char *loaded[SL_PLUGIN_MAX];
static unsigned n_loaded;
/* Plugins dlopen mapped but refused, with why: opened again, dlopen would
 * run no constructor and the reason would be lost. */
static struct {
	char *real, *why;
} refused[SL_PLUGIN_MAX];
static unsigned n_refused;

/* What the constructors of the plugin being loaded offered. Outside a load
 * an offer is ignored: only sl_plugin_load opens plugins. */
static struct {
	bool open;
	unsigned n;
	bool overflow;
	struct sl_stage_type *t[SL_PLUGIN_MAX_TYPES];
	uint32_t abi[SL_PLUGIN_MAX_TYPES];
} offers;

void sl_plugin_offer(struct sl_stage_type *t, uint32_t abi)
{
	if (!offers.open)
		return;
	if (offers.n == SL_PLUGIN_MAX_TYPES) {
		offers.overflow = true;
		return;
	}
	offers.t[offers.n] = t;
	offers.abi[offers.n++] = abi;
}

/* Owned by root and writable by nobody else; a directory may instead be
 * sticky (others' entries in it cannot replace root's). */
static int check_owner(const char *p, const struct stat *st, bool dir, char *err, size_t len)
{
	if (st->st_uid != 0) {
		snprintf(err, len, "'%s' is owned by uid %u, not root", p, (unsigned)st->st_uid);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(dir && (st->st_mode & S_ISVTX))) {
		snprintf(err, len, "'%s' is writable by %s (mode %04o)", p,
			 st->st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

int sl_plugin_check_path(const char *path, char *real, char *err, size_t len)
{
	struct stat st;
	if (path[0] != '/') {
		snprintf(err, len, "'%s' is not an absolute path", path);
		return -1;
	}
	if (!realpath(path, real)) {
		snprintf(err, len, "'%s': %s", path, strerror(errno));
		return -1;
	}
	if (stat(real, &st) < 0) {
		snprintf(err, len, "'%s': %s", real, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, len, "'%s' is not a regular file", real);
		return -1;
	}
	if (check_owner(real, &st, false, err, len) < 0)
		return -1;
	/* Every directory above it: whoever may write one could swap the
	 * file, or a directory on its way, after this check. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", real);
	for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) < 0) {
			snprintf(err, len, "'%s': %s", dir, strerror(errno));
			return -1;
		}
		if (check_owner(dir, &st, true, err, len) < 0)
			return -1;
		if (slash == dir)
			break;
	}
	return 0;
}

bool sl_plugin_is_loaded(const char *real)
{
	for (unsigned i = 0; i < n_loaded; i++)
		if (!strcmp(loaded[i], real))
			return true;
	return false;
}

/* Refuse what the plugin offered, or register all of it. */
static int take_offers(const char *real, char *err, size_t len)
{
	if (offers.overflow) {
		snprintf(err, len, "plugin '%s' registers more than %u stage types", real,
			 SL_PLUGIN_MAX_TYPES);
		return -1;
	}
	if (offers.n == 0) {
		snprintf(err, len,
			 "plugin '%s' registers no stage type (is it built with -DSL_PLUGIN, "
			 "with SL_STAGE_REGISTER?)",
			 real);
		return -1;
	}
	for (unsigned i = 0; i < offers.n; i++) {
		if (offers.abi[i] != SL_STAGE_ABI) {
			snprintf(err, len,
				 "plugin '%s' was built for stage ABI %u, and this sluice has "
				 "ABI %u: rebuild it against this sluice's stages/stage.h",
				 real, (unsigned)offers.abi[i], (unsigned)SL_STAGE_ABI);
			return -1;
		}
		const struct sl_stage_type *t = offers.t[i];
		if (!t->name || !t->name[0] || strlen(t->name) >= SL_NAME_MAX) {
			snprintf(err, len, "plugin '%s' offers a stage type without a valid name",
				 real);
			return -1;
		}
		if (sl_stage_type_find(t->name)) {
			snprintf(err, len, "plugin '%s': stage type '%s' exists already", real,
				 t->name);
			return -1;
		}
		if ((!t->is_source && !t->process) || (t->is_source && !t->poll) ||
		    t->n_outputs > SL_STAGE_MAX_OUTPUTS || t->n_drops >= SL_STAGE_MAX_DROPS) {
			snprintf(err, len,
				 "plugin '%s': stage type '%s' is incomplete (no process "
				 "function, or too many outputs or drop reasons)",
				 real, t->name);
			return -1;
		}
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(offers.t[j]->name, t->name)) {
				snprintf(err, len, "plugin '%s' offers stage type '%s' twice",
					 real, t->name);
				return -1;
			}
	}
	for (unsigned i = 0; i < offers.n; i++)
		sl_stage_type_register(offers.t[i]);
	return 0;
}

int sl_plugin_load(const char *path, char *err, size_t len)
{
	char real[PATH_MAX];
	if (sl_plugin_check_path(path, real, err, len) < 0)
		return -1;
	if (sl_plugin_is_loaded(real))
		return 0;
	for (unsigned i = 0; i < n_refused; i++)
		if (!strcmp(refused[i].real, real)) {
			snprintf(err, len, "%s", refused[i].why);
			return -1;
		}
	if (n_loaded + n_refused >= SL_PLUGIN_MAX) {
		snprintf(err, len, "more than %u plugins", SL_PLUGIN_MAX);
		return -1;
	}
	memset(&offers, 0, sizeof(offers));
	offers.open = true;
	/* RTLD_LOCAL: one plugin's symbols never resolve another's. */
	void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	offers.open = false;
	if (!h) {
		snprintf(err, len, "cannot load plugin: %s", dlerror());
		return -1;
	}
	/* A refused plugin stays mapped but unused: its constructors have run
	 * and nothing says what they left behind to be safe to unmap. */
	if (take_offers(real, err, len) < 0) {
		refused[n_refused].real = strdup(real);
		refused[n_refused++].why = strdup(err);
		return -1;
	}
	loaded[n_loaded++] = strdup(real);
	return 0;
}
