/* plugin.h: loading stage plugins, shared objects whose stage types register
 * with SL_STAGE_REGISTER like the built-in ones.
 *
 * A plugin is compiled against stages/stage.h with -DSL_PLUGIN, as a shared
 * object that does not link DPDK: its DPDK and sl_ references resolve to the
 * program that loads it (sluice-dp, sluiced), which exports them
 * (stages/plugin_exports.map). Its constructors only offer their types with
 * the SL_STAGE_ABI they were compiled for; the loader registers them after
 * checking that ABI and that no name is taken. A plugin stays loaded for the
 * life of the process: code its stages ran may still be on a stack. */
#ifndef SL_PLUGIN_H
#define SL_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#define SL_PLUGIN_MAX 16	/* plugins per process */
#define SL_PLUGIN_MAX_TYPES 64	/* stage types per plugin */

/* Whether path may hold code root runs: an absolute path to a regular file
 * owned by root and not writable by group or others, in directories each
 * owned by root and not writable by group or others (or, like /tmp, sticky:
 * then nobody else can rename or remove root's entries in them). On success
 * real holds the resolved path (PATH_MAX bytes). Returns 0, or -1 with err. */
int sl_plugin_check_path(const char *path, char *real, char *err, size_t len);

/* Load the plugin at path (checked as above) and register its stage types.
 * Loading a plugin that is loaded already (same resolved path) does
 * nothing. Management thread only, never while workers run a graph that
 * could name a type being registered. Returns 0, or -1 with err. */
int sl_plugin_load(const char *path, char *err, size_t len);

/* Whether the plugin at this resolved path is loaded. */
bool sl_plugin_is_loaded(const char *real);

#endif
