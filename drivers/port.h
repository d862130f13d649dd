/* port.h: the one port API behind which every packet I/O driver sits. A port
 * is opened once from its `ports:` entry with the number of RX and TX queues
 * its port_rx / port_tx instances need; stages then poll and send on their
 * own queue. */
#ifndef SL_PORT_H
#define SL_PORT_H

#include <stdint.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

/* What a driver needs to know of a port, filled in by the runtime from the
 * config (the strings live as long as the config the port was built from). */
struct sl_port_conf {
	const char *name;    /* the operator's name for the port, for messages */
	const char *driver;  /* "dpdk" or "af_xdp" ("auto" is resolved before) */
	const char *devargs; /* dpdk: a vdev or a PCI address, then arguments */
	/* What EAL gets instead of devargs when they differ: the same device
	 * with its file arguments pinned to fds the dataplane opened itself
	 * (an untrusted config; see config/devargs.h). NULL: devargs. */
	const char *probe_args;
	uint16_t n_rxq, n_txq;
	uint16_t rx_desc, tx_desc;
	/* A stage meters or windows on the packets' own time (clock:
	 * capture): ask the device for receive timestamps where it has them
	 * (net_pcap gives the pcap's own). */
	bool rx_timestamps;
	/* af_xdp: the kernel interface and its first queue; the port's queue
	 * q is the interface's queue `queue + q`. */
	const char *iface;
	uint16_t queue;
	uint8_t xdp_mode;  /* enum sl_xdp_mode */
	uint8_t zerocopy;  /* enum sl_xdp_zc */
	bool busy_poll;
	/* driver: auto: why this driver was chosen (and why not the other),
	 * or NULL when the config named the driver. */
	const char *auto_why;
};

enum sl_xdp_mode { SL_XDP_MODE_AUTO, SL_XDP_MODE_NATIVE, SL_XDP_MODE_SKB };
enum sl_xdp_zc { SL_XDP_ZC_AUTO, SL_XDP_ZC_ON, SL_XDP_ZC_OFF };

/* Port statistics as the driver reports them (ethdev or XSK). Every field
 * is a uint64_t counter (sl_port_read_stats folds them one by one). */
struct sl_port_stats {
	uint64_t ipackets, opackets, ibytes, obytes;
	uint64_t imissed, ierrors, oerrors, rx_nombuf;
	/* af_xdp only (0 elsewhere): the kernel's XDP_STATISTICS summed over
	 * the port's sockets, then the driver's own: wakeup syscalls the
	 * kernel asked for (need_wakeup, busy poll) and TX bursts retried on
	 * a full TX ring or a busy kick. */
	uint64_t rx_dropped, rx_invalid_descs, tx_invalid_descs, rx_ring_full;
	uint64_t fill_ring_empty, wakeups, tx_retries, tx_copies;
};

/* What a port's driver tells the operator about how it runs: the mode it
 * negotiated and each fallback on the way ("af_xdp native, copy: veth0
 * has no zero-copy"), and for driver: auto, why this driver. */
#define SL_PORT_NOTE_MAX 320

struct sl_port;

struct sl_port_driver {
	const char *name;
	int (*open)(struct sl_port *p, struct rte_mempool *mp, char *err, size_t len);
	void (*close)(struct sl_port *p);
	uint16_t (*rx)(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n);
	uint16_t (*tx)(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n);
	int (*stats)(struct sl_port *p, struct sl_port_stats *out);
	int (*socket)(struct sl_port *p);  /* NUMA node, or -1 when unknown */
	int (*link_up)(struct sl_port *p); /* 1 up, 0 down */
	/* Graph loads: bring a device the running dataplane has not seen into
	 * being (p->conf filled in; fills p->ethdev), and take one the new graph no
	 * longer names away again. A device whose name is taken (the running
	 * graph has it with other devargs) is created under a name derived
	 * with gen, so the old one runs on until the new graph replaces it. */
	int (*probe)(struct sl_port *p, unsigned gen, char *err, size_t len);
	void (*remove)(struct sl_port *p);
	/* Optional: called now and then by the lcore that sends on TX queue
	 * q, with or without traffic, so that a driver that frees sent
	 * buffers lazily (af_xdp's completion ring) frees them on a quiet
	 * port too. */
	void (*tx_idle)(struct sl_port *p, uint16_t q);
};

struct sl_port {
	/* What every RX and TX burst reads, together at the front. */
	const struct sl_port_driver *drv;
	uint16_t port_id; /* ethdev id for the dpdk driver */
	uint16_t n_rxq, n_txq;
	uint16_t rx_desc, tx_desc;
	int started;
	bool reopened;	    /* a graph load changed its queues: its stages start anew */
	bool rx_timestamps; /* the device stamps what it receives */
	/* What turns its stamps into nanoseconds (0: they are already). */
	uint32_t rx_ts_mult;
	struct sl_port_conf conf;
	char ethdev[RTE_ETH_NAME_MAX_LEN]; /* its ethdev name; "" = from devargs */
	/* Some PMDs zero their counters when a peer goes away (memif); the
	 * totals fold the lost readings in so they never go backwards. */
	struct sl_port_stats last_raw, base;
	char note[SL_PORT_NOTE_MAX];
	void *priv; /* the driver's own state (af_xdp: sockets, UMEM) */
};

/* Read the port's statistics into out, monotonic across PMD resets. */
int sl_port_read_stats(struct sl_port *p, struct sl_port_stats *out);

/* The driver named by a `ports:` entry, or NULL. */
const struct sl_port_driver *sl_port_driver_find(const char *name);

/* EAL device arguments this port needs ("--vdev" or "-a" and a value); returns
 * the number of strings written to argv (0 or 2). */
int sl_port_eal_args(const char *driver, const char *devargs, char **argv);

/* The dpdk driver is the common case: its bursts go straight to the ethdev
 * inline functions instead of through one more indirect call. */
extern const struct sl_port_driver sl_dpdk_driver;
#ifdef SL_HAVE_AF_XDP
extern const struct sl_port_driver sl_af_xdp_driver;
#endif

/* driver: auto. Decide, before EAL starts, between DPDK (a PCI device
 * bound to vfio-pci or uio_pci_generic) and AF_XDP (the device's kernel
 * interface). iface or pci names the device (one of them NULL). On
 * success *driver is "dpdk" (then *pci_out holds the PCI address for EAL)
 * or "af_xdp" (then *iface_out holds the interface name), and why says
 * why, naming the other driver's reason too. Returns 0, or -1 with both
 * reasons in why. Reads sysfs only. */
int sl_port_auto_resolve(const char *iface, const char *pci, const char **driver,
			 char *iface_out, size_t iface_len, char *pci_out, size_t pci_len,
			 char *why, size_t why_len);

static inline uint16_t sl_port_rx(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	if (likely(p->drv == &sl_dpdk_driver))
		return rte_eth_rx_burst(p->port_id, q, pkts, n);
	return p->drv->rx(p, q, pkts, n);
}

static inline uint16_t sl_port_tx(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	if (likely(p->drv == &sl_dpdk_driver))
		return rte_eth_tx_burst(p->port_id, q, pkts, n);
	return p->drv->tx(p, q, pkts, n);
}

/* Send all n packets, retrying a full TX queue at most `retries` times and
 * for at most stall_tsc TSC cycles without progress (dataplane.tx_stall_us:
 * a dead link must not hold the core for 100000 retries; a peer that is
 * merely slow to read, like a memif client, gets its time). The packets
 * still not sent are freed and their count returned, so the caller can
 * count them as drops. */
#define SL_TX_STALL_US_DEFAULT 100

static inline uint16_t sl_port_tx_all(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts,
				      uint16_t n, uint32_t retries, uint64_t stall_tsc)
{
	uint16_t sent = sl_port_tx(p, q, pkts, n);
	uint64_t give_up = 0;

	while (unlikely(sent < n) && retries--) {
		uint16_t k = sl_port_tx(p, q, pkts + sent, n - sent);
		sent += k;
		if (k) {
			give_up = 0; /* progress: the link lives */
		} else {
			uint64_t now = rte_rdtsc();
			if (!give_up)
				give_up = now + stall_tsc;
			else if (now > give_up)
				break;
		}
	}
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
		return n - sent;
	}
	return 0;
}

#endif
