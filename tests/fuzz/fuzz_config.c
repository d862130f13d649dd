/* fuzz_config.c: libFuzzer target for the config loader. Each input is loaded
 * from memory twice, once trusted and once as an untrusted config whose files
 * must lie under /tmp/sl-fuzz; a load may fail but must not crash, leak or
 * hang, and a failure must name its reason. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_once(const uint8_t *data, size_t size, const struct sl_config_policy *policy)
{
	struct sl_config *cfg = NULL;
	struct sl_err err = {{0}};

	if (sl_config_load_buffer((const char *)data, size, "fuzz.yaml", policy, &cfg, &err) == 0) {
		if (!cfg)
			abort(); /* success must hand back a config */
		sl_config_free(cfg);
	} else if (err.msg[0] == '\0') {
		abort(); /* a refusal always names its reason */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[] = "/tmp/sl-fuzz";
	static char *const dirs[] = {dir};
	const struct sl_config_policy untrusted = {
	    .untrusted = true, .file_dirs = dirs, .n_file_dirs = 1};

	load_once(data, size, NULL);
	load_once(data, size, &untrusted);
	return 0;
}
