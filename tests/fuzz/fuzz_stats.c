/* fuzz_stats.c: libFuzzer target for reading a stats segment. sluiced and
 * sluice-dp --read-stats map segments any root process can write, so the
 * renderers may only see a segment sl_stats_validate accepted. The input is
 * the segment's bytes, in a buffer of exactly that size (64-byte aligned,
 * like a mapping); if it validates, it is rendered as JSON and as text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dataplane/stats/stats_segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();

	void *buf = NULL;
	if (posix_memalign(&buf, 64, size ? size : 1) != 0)
		return 0;
	memcpy(buf, data, size);
	const struct sl_stats_hdr *h = buf;
	char err[256] = "";

	if (sl_stats_validate(h, size, err, sizeof(err)) != 0) {
		if (!err[0]) {
			fprintf(stderr, "fuzz_stats: a refused segment must say why\n");
			abort();
		}
		free(buf);
		return 0;
	}
	json_t *j = sl_stats_to_json(h);
	if (j) {
		sl_stats_json_derive(j);
		char *s = json_dumps(j, JSON_COMPACT);
		free(s);
		json_decref(j);
	}
	sl_stats_print(devnull, h, NULL, 0);
	sl_stats_print(devnull, h, h, 1.0);
	free(buf);
	return 0;
}
