/* graph_view.h: JSON views of a config's graph, mapping and core pool. */
#ifndef SL_GRAPH_VIEW_H
#define SL_GRAPH_VIEW_H

#include <stdbool.h>

#include <jansson.h>

#include "config/config.h"

/* graph_show's result: stages, instance-level connectors (call or ring),
 * clusters, and with dot a Graphviz rendering. mapping: core per cluster. */
json_t *sl_graph_view(const struct sl_config *c, const int *mapping, bool dot);
/* {cluster: core}. */
json_t *sl_mapping_view(const struct sl_config *c, const int *mapping);
/* [core, ...]. */
json_t *sl_pool_view(const struct sl_config *c);

#endif
