/* commands.h: the one table of sluiced's commands (commands.c). */
#ifndef SL_COMMANDS_H
#define SL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/daemon.h"

extern const struct sl_command_def sl_commands[];
extern const size_t sl_n_commands;

#endif
