/* registry.c: the list of stage types, filled by SL_STAGE_REGISTER
 * constructors before main(), and name lookups over it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/stage.h"

#include <rte_errno.h>
#include <rte_mbuf_dyn.h>

RTE_DEFINE_PER_LCORE(struct sl_lcore_clock, sl_clock);

uint64_t sl_parsed_flag;

int sl_parsed_flag_register(char *err, size_t len)
{
	static const struct rte_mbuf_dynflag desc = {.name = "sluice_parsed"};
	if (sl_parsed_flag)
		return 0;
	int bit = rte_mbuf_dynflag_register(&desc);
	if (bit < 0) {
		snprintf(err, len, "cannot register the mbuf flag 'sluice_parsed': %s",
			 rte_strerror(rte_errno));
		return -1;
	}
	sl_parsed_flag = 1ull << bit;
	return 0;
}

static const struct sl_stage_type *types;

void sl_stage_type_register(struct sl_stage_type *t)
{
	/* Keep the list sorted so that error messages list types stably. */
	const struct sl_stage_type **pp = &types;
	while (*pp && strcmp((*pp)->name, t->name) < 0)
		pp = (const struct sl_stage_type **)&(*pp)->next;
	t->next = *pp;
	*pp = t;
}

const struct sl_stage_type *sl_stage_type_find(const char *name)
{
	for (const struct sl_stage_type *t = types; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

const struct sl_stage_type *sl_stage_type_first(void)
{
	return types;
}

const char *sl_stage_output_name(const struct sl_stage_type *t, unsigned i, char *buf, size_t len)
{
	if (t->dynamic_outputs) {
		snprintf(buf, len, "%u", i);
		return buf;
	}
	if (i < t->n_outputs)
		return t->outputs[i];
	if (i == 0 && t->sink_output)
		return t->sink_output;
	snprintf(buf, len, "%u", i);
	return buf;
}

int sl_stage_output_index(const struct sl_stage_type *t, const char *name, unsigned n_dynamic)
{
	if (t->dynamic_outputs) {
		char *end;
		unsigned long v = strtoul(name, &end, 10);
		if (*name && !*end && v < n_dynamic)
			return (int)v;
		if (t->n_outputs && !strcmp(name, t->outputs[0]))
			return 0;
		return -1;
	}
	for (unsigned i = 0; i < t->n_outputs; i++)
		if (!strcmp(t->outputs[i], name))
			return (int)i;
	return -1;
}
