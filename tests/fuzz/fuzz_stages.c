/* fuzz_stages.c: libFuzzer target for every stage type at once (the zoo of
 * tests/unit/zoo.c, each instance behind `parse`). The first input byte
 * picks the stage, the second where the chained copy of the frame is cut,
 * the rest is the frame. The zoo aborts on a packet not accounted for or
 * an mbuf not returned; ASan catches reads past the frame. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "tests/unit/zoo.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	static char dir[] = "/tmp/sl-fuzz/zoo-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("fuzz_stages: mkdtemp");
		abort();
	}
	sl_h_eal("sl_fuzz_stages", 4095);
	sl_zoo_init(dir);
	/* The stages' fini at exit, before LeakSanitizer's final check (its
	 * own handler was registered first, so runs last): what a stage
	 * still holds then is a leak. */
	atexit(sl_zoo_fini);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size - 2 > UINT16_MAX)
		return -1;
	unsigned s = data[0] % sl_zoo_count();
	sl_zoo_feed(s, data + 2, (uint16_t)(size - 2), data[1]);
	return 0;
}
