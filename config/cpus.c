/* cpus.c: reads the kernel's CPU lists (online, isolated) with hwloc's
 * list parser. */
#include "config/cpus.h"

#include <stdio.h>

#include <hwloc.h>

/* The CPUs a kernel list file names ("1-3,5"), or NULL. */
static hwloc_bitmap_t read_cpu_file(const char *path)
{
	char buf[4096] = "";
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	hwloc_bitmap_t b = hwloc_bitmap_alloc();
	if (b && hwloc_bitmap_list_sscanf(b, buf) != 0) {
		hwloc_bitmap_free(b);
		return NULL;
	}
	return b;
}

static unsigned to_array(hwloc_const_bitmap_t b, unsigned skip_first, unsigned *cores, unsigned max)
{
	unsigned n = 0, seen = 0;
	int i;
	hwloc_bitmap_foreach_begin(i, b)
	{
		if (i >= SL_MAX_CPUS || n >= max)
			break;
		if (seen++ >= skip_first)
			cores[n++] = (unsigned)i;
	}
	hwloc_bitmap_foreach_end();
	return n;
}

bool sl_cpu_is_isolated(unsigned cpu)
{
	hwloc_bitmap_t iso = read_cpu_file("/sys/devices/system/cpu/isolated");
	bool yes = iso && hwloc_bitmap_isset(iso, cpu);
	hwloc_bitmap_free(iso);
	return yes;
}

unsigned sl_cpu_default_pool(unsigned *cores, unsigned max)
{
	hwloc_bitmap_t b = read_cpu_file("/sys/devices/system/cpu/isolated");
	unsigned n = b ? to_array(b, 0, cores, max) : 0;
	hwloc_bitmap_free(b);
	if (n > 0)
		return n;
	b = read_cpu_file("/sys/devices/system/cpu/online");
	if (!b)
		return 0;
	/* Every online core but the first, which the OS and the management
	 * thread keep; a one-core machine gets its one core. */
	n = hwloc_bitmap_weight(b) > 1 ? to_array(b, 1, cores, max) : to_array(b, 0, cores, max);
	hwloc_bitmap_free(b);
	return n;
}
