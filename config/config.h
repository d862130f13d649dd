/* config.h: the validated, in-memory form of a sluice pipeline config
 * (ports, graph, clusters, mapping, dataplane). Both sluice-dp and sluiced
 * load configs through sl_config_load(), which checks everything before
 * anything runs and reports the first error as `file:line:col: message`. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "config/diag.h"
#include "config/read.h"
#include "stages/stage.h"

/* Who a config came from. A config from the control socket is untrusted:
 * every file a vdev argument names (rx_pcap, tx_pcap, path, ...) must lie in
 * one of file_dirs (the operator's list from the config sluiced was started
 * with), and its own dataplane.file_dirs may only narrow that list. The
 * plugins it names must be among plugins (resolved paths: those of the
 * config sluiced was started with), so that a client never has root load a
 * shared object the operator did not name. A config named on a command line
 * by root is trusted. */
struct sl_config_policy {
	bool untrusted;
	char *const *file_dirs;
	unsigned n_file_dirs;
	char *const *plugins;
	unsigned n_plugins;
};

struct sl_conf_port {
	char *name;
	char *driver;
	char *devargs;	     /* dpdk */
	char *probe_devargs; /* devargs with file arguments pinned (sl_config_pin_files) */
	char *iface;	     /* af_xdp; auto */
	char *pci;	     /* auto: a PCI address instead of iface */
	uint64_t queue;	     /* af_xdp: the interface's first queue */
	uint8_t xdp_mode;    /* af_xdp: enum sl_xdp_mode (drivers/port.h) */
	uint8_t zerocopy;    /* af_xdp: enum sl_xdp_zc */
	bool busy_poll;	     /* af_xdp */
	/* driver: auto, once resolved (sl_config_resolve_auto): driver names
	 * the chosen one and auto_why says why; NULL for a named driver. */
	char *auto_why;
	uint64_t rx_desc, tx_desc;
	struct sl_loc loc;
	/* Derived: queues needed by the port_rx / port_tx instances. */
	uint16_t n_rxq, n_txq;
	bool rx_timestamps; /* a stage wants the packets' own time */
};

struct sl_conf_stage {
	char *name;
	const struct sl_stage_type *type;
	uint16_t instances;
	void *conf; /* type->conf_size bytes */
	struct sl_loc loc;
	int port; /* index into ports for port_rx/port_tx, else -1 */
	/* Derived: cluster of each instance, and for port stages the first
	 * queue of this stage's instances on its port. */
	int *cluster;
	uint16_t queue_base;
	uint16_t n_outputs; /* resolved: dynamic outputs take the fan-out */
	bool has_input;
	/* Output names the configuration gave (type->conf_outputs), or NULL:
	 * then the type's own. */
	char (*out_names)[SL_LABEL_MAX];
	uint16_t n_out_names;
	uint32_t n_aux; /* type->n_aux(conf), or 0 */
};

/* Name of output i of s (its configured names, else the type's). */
const char *sl_conf_stage_output_name(const struct sl_conf_stage *s, unsigned i, char *buf,
				      size_t len);

/* One arrow of a connector chain: from.port -> to. */
struct sl_conf_link {
	uint16_t from, from_port, to;
	struct sl_loc loc;
};

struct sl_conf_member {
	uint16_t stage;
	int instance; /* -1: every instance */
	struct sl_loc loc;
};

struct sl_conf_cluster {
	char *name;
	struct sl_conf_member *members;
	unsigned n_members;
	int core;
	struct sl_loc loc, map_loc;
};

struct sl_conf_dataplane {
	char *name; /* EAL --file-prefix and stats segment name */
	unsigned *cores;
	unsigned n_cores;
	bool cores_given;
	uint64_t burst;
	uint64_t ring_size;
	uint64_t mbufs; /* 0: computed */
	uint64_t tx_retries;
	uint64_t tx_stall_us; /* port_tx gives a full queue this long without progress */
	bool ring_drop;	  /* ring_full: drop (else backpressure) */
	bool rx_seqn;	  /* derived: a stage reads port_rx's sequence numbers */
	char **file_dirs; /* where vdev file arguments may point (socket loads) */
	unsigned n_file_dirs;
	/* sluiced kills and restarts a dataplane whose workers or management
	 * thread make no progress this long; 0: never. */
	uint64_t watchdog_ms;
	bool test_faults; /* the `fault` stage may be used */
	/* Stage plugins (stages/plugin.h), resolved paths, loaded before the
	 * graph was read. */
	char **plugins;
	unsigned n_plugins;
	struct sl_loc loc;
};

/* Limits of one config: beyond them a config is refused with its place. */
#define SL_MAX_STAGES 4096
#define SL_MAX_INSTANCES 4096 /* stage instances, counting instances: N */
#define SL_MAX_PORTS 128
#define SL_MAX_CLUSTERS 256

struct sl_config {
	char *file;
	struct sl_conf_port *ports;
	unsigned n_ports;
	struct sl_conf_stage *stages;
	unsigned n_stages;
	struct sl_conf_link *links;
	unsigned n_links;
	struct sl_conf_cluster *clusters;
	unsigned n_clusters;
	struct sl_conf_dataplane dp;
	/* The loader's indexes: stage name -> index (open addressing), and
	 * the link leaving each stage output, so checks stay O(n log n). */
	int *stage_index;
	unsigned stage_index_size;
	int *out_link; /* [stage * SL_STAGE_MAX_OUTPUTS + port]: link, or -1 */
};

/* One instance-level edge: instance fi of stage fs, output fport, feeds
 * instance ti of stage ts. */
struct sl_conf_edge {
	uint16_t fs, fi, fport, ts, ti;
};

/* Expand link l into instance edges (at most SL_STAGE_MAX_OUTPUTS): N -> 1
 * fans in, N -> N pairs instance i with i, and a balance feeding N instances
 * gets one output port per instance. Returns the count. */
unsigned sl_config_expand_link(const struct sl_config *c, const struct sl_conf_link *l,
			       struct sl_conf_edge *e);

/* Load and validate the config file at path (a regular file of at most
 * SL_CONFIG_MAX_BYTES), trusted. On error returns -1 with err->msg set and
 * *out untouched. */
int sl_config_load(const char *path, struct sl_config **out, struct sl_err *err);

/* Load and validate a config from memory: buf holds len bytes (not
 * NUL-terminated necessarily). name is the file name errors and c->file carry
 * (the client's, for a config sent over the socket). policy may be NULL
 * (trusted). */
int sl_config_load_buffer(const char *buf, size_t len, const char *name,
			  const struct sl_config_policy *policy, struct sl_config **out,
			  struct sl_err *err);
void sl_config_free(struct sl_config *c);

/* Load one stage from its YAML mapping alone ("{type: meter, cir: 1000}"),
 * as a config's graph would: params, defaults and the type's check. name is
 * the file name errors carry; relative FILE paths are taken from its
 * directory. For tests and fuzzing. Free with sl_config_stage_free. */
int sl_config_load_stage(const char *buf, size_t len, const char *name,
			 const struct sl_config_policy *policy, struct sl_conf_stage *out,
			 struct sl_err *err);
void sl_config_stage_free(struct sl_conf_stage *s);

/* For an untrusted config, in the dataplane just before its devices are
 * probed: open every file argument of every port safely and set
 * ports[i].probe_devargs to the devargs that name those fds (see
 * sl_devargs_pin). The fds are appended to fds (n); close them after the
 * probe. Returns 0, or -1 with err at the port's devargs. */
int sl_config_pin_files(struct sl_config *c, const struct sl_config_policy *pol, int *fds,
			unsigned max, unsigned *n, struct sl_err *err);

/* driver: auto, decided (sl_port_auto_resolve, from sysfs) for every port
 * that has it: the port then names the chosen driver ("dpdk" with its PCI
 * address as devargs, or "af_xdp" with its interface) and auto_why says
 * why. Only the dataplane calls this, when it starts and at graph loads.
 * A port resolved onto a device or interface another port has is refused
 * (one device, one port). Returns 0, or -1 with err at the port, giving
 * both drivers' reasons. */
int sl_config_resolve_auto(struct sl_config *c, struct sl_err *err);
/* The same with sysfs at another root (a test's fake tree). */
int sl_config_resolve_auto_at(struct sl_config *c, const char *sysfs, struct sl_err *err);

int sl_config_find_stage(const struct sl_config *c, const char *name);
/* Same type, instance count and configuration values. */
bool sl_config_stage_equal(const struct sl_conf_stage *a, const struct sl_conf_stage *b);
int sl_config_find_port(const struct sl_config *c, const char *name);

#endif
