/* dpdk.c: the `dpdk` port driver: any ethdev, virtual (net_null, net_ring,
 * net_pcap, net_tap, net_memif, ...) or PCI. It configures one RX queue per
 * port_rx instance and one TX queue per port_tx instance, with RSS where the
 * PMD offers it. */
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_version.h>

#include "drivers/port.h"

/* The ethdev name EAL gives the device: the devargs up to the first comma
 * (for PCI: the address as written). */
static void dev_name(const char *devargs, char *buf, size_t len)
{
	snprintf(buf, len, "%s", devargs);
	char *c = strchr(buf, ',');
	if (c)
		*c = '\0';
}

static int dpdk_open(struct sl_port *p, struct rte_mempool *mp, char *err, size_t len)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc;

	if (!p->ethdev[0])
		dev_name(p->conf.devargs, p->ethdev, sizeof(p->ethdev));
	snprintf(name, sizeof(name), "%s", p->ethdev);
	if (rte_eth_dev_get_port_by_name(name, &p->port_id) != 0) {
		snprintf(err, len, "port '%s': no ethdev named '%s' (devargs \"%s\")", p->conf.name,
			 name, p->conf.devargs);
		return -1;
	}
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0) {
		snprintf(err, len, "port '%s': cannot read device info: %s", p->conf.name,
			 rte_strerror(-rc));
		return -1;
	}
	/* A port used only for RX or only for TX still needs one queue of the
	 * other kind for most PMDs to start. */
	p->n_rxq = p->conf.n_rxq ? p->conf.n_rxq : 1;
	p->n_txq = p->conf.n_txq ? p->conf.n_txq : 1;
	if (p->n_rxq > info.max_rx_queues || p->n_txq > info.max_tx_queues) {
		snprintf(
		    err, len,
		    "port '%s': needs %u RX and %u TX queues, the device has at most %u and %u",
		    p->conf.name, p->n_rxq, p->n_txq, info.max_rx_queues, info.max_tx_queues);
		return -1;
	}
	if (p->started) { /* a graph load changed its queue counts */
		rte_eth_dev_stop(p->port_id);
		p->started = 0;
	}
	memset(&conf, 0, sizeof(conf));
	if (p->n_rxq > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		    (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
		    info.flow_type_rss_offloads;
	} else if (p->n_rxq > 1) {
		fprintf(stderr,
			"sluice-dp: warning: port '%s' has %u RX queues but its PMD (%s) has no "
			"RSS: how it spreads packets over them is up to the PMD\n",
			p->conf.name, p->n_rxq, info.driver_name);
	}
	p->rx_timestamps = false;
	p->rx_ts_mult = 0;
	if (p->conf.rx_timestamps && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
		p->rx_timestamps = true;
	} else if (p->conf.rx_timestamps && !strcmp(info.driver_name, "net_pcap")) {
		/* DPDK 22.11's net_pcap stamps every packet with its pcap time
		 * without offering the offload, and in microseconds (seen with
		 * a probe of this DPDK: sec * 10^6 + usec); port_rx scales it. */
		p->rx_timestamps = true;
#if RTE_VERSION < RTE_VERSION_NUM(23, 0, 0, 0)
		p->rx_ts_mult = 1000;
#endif
	} else if (p->conf.rx_timestamps) {
		fprintf(stderr,
			"sluice-dp: warning: port '%s' (%s) gives no receive timestamps: stages "
			"on capture time count its packets as having none\n",
			p->conf.name, info.driver_name);
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	rc = rte_eth_dev_configure(p->port_id, p->n_rxq, p->n_txq, &conf);
	if (rc != 0) {
		snprintf(err, len, "port '%s': configure failed: %s", p->conf.name,
			 rte_strerror(-rc));
		return -1;
	}
	p->rx_desc = (uint16_t)p->conf.rx_desc;
	p->tx_desc = (uint16_t)p->conf.tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &p->rx_desc, &p->tx_desc);
	int socket = rte_eth_dev_socket_id(p->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (uint16_t q = 0; q < p->n_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, p->rx_desc, socket, NULL, mp);
		if (rc != 0) {
			snprintf(err, len, "port '%s': RX queue %u setup failed: %s", p->conf.name,
				 q, rte_strerror(-rc));
			return -1;
		}
	}
	for (uint16_t q = 0; q < p->n_txq; q++) {
		struct rte_eth_txconf txc = info.default_txconf;
		txc.offloads = conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup(p->port_id, q, p->tx_desc, socket, &txc);
		if (rc != 0) {
			snprintf(err, len, "port '%s': TX queue %u setup failed: %s", p->conf.name,
				 q, rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(p->port_id);
	if (rc != 0) {
		snprintf(err, len, "port '%s': start failed: %s", p->conf.name, rte_strerror(-rc));
		return -1;
	}
	rte_eth_promiscuous_enable(p->port_id);
	p->started = 1;
	return 0;
}

/* Split devargs into bus, device name and driver arguments for hot-plug. */
static void split_devargs(const char *devargs, char *name, size_t nlen, const char **args,
			  const char **bus)
{
	dev_name(devargs, name, nlen);
	const char *c = strchr(devargs, ',');
	*args = c ? c + 1 : "";
	*bus = strncmp(devargs, "net_", 4) == 0 ? "vdev" : "pci";
}

static int dpdk_probe(struct sl_port *p, unsigned gen, char *err, size_t len)
{
	const struct sl_port_conf *c = &p->conf;
	char name[RTE_ETH_NAME_MAX_LEN];
	const char *args, *bus;
	uint16_t id;
	split_devargs(c->devargs, name, sizeof(name), &args, &bus);
	/* The arguments handed to the PMD: the pinned ones, when the dataplane
	 * opened the files itself (an untrusted config). */
	if (c->probe_args) {
		const char *comma = strchr(c->probe_args, ',');
		args = comma ? comma + 1 : "";
	}
	if (rte_eth_dev_get_port_by_name(name, &id) == 0) {
		/* The name is taken, by the running graph's device with other
		 * devargs: a probe under it would be ignored. A PCI address
		 * cannot be renamed. A vdev can: the vdev bus matches drivers
		 * by name prefix, so "net_pcap0_g3" is a net_pcap device. */
		if (strcmp(bus, "vdev") != 0) {
			snprintf(
			    err, len,
			    "port '%s': device %s is in use with other devargs; a PCI device's "
			    "devargs cannot change in a graph load (restart the dataplane)",
			    c->name, name);
			return -1;
		}
		char base[RTE_ETH_NAME_MAX_LEN];
		snprintf(base, sizeof(base), "%s", name);
		/* A name from an earlier load ("..._g<digits>"): derive from the user's. */
		char *g = strrchr(base, '_');
		if (g && g[1] == 'g' && g[2] && strspn(g + 2, "0123456789") == strlen(g + 2))
			*g = '\0';
		unsigned k = 0;
		do {
			int n = snprintf(name, sizeof(name), "%.*s_g%u", RTE_ETH_NAME_MAX_LEN - 16,
					 base, gen + k++);
			if (n < 0 || (size_t)n >= sizeof(name) || k > 1000) {
				snprintf(err, len, "port '%s': no free device name for %s", c->name,
					 base);
				return -1;
			}
		} while (rte_eth_dev_get_port_by_name(name, &id) == 0);
	}
	int rc = rte_eal_hotplug_add(bus, name, args);
	if (rc != 0) {
		snprintf(err, len, "port '%s': cannot add device \"%s\": %s", c->name, c->devargs,
			 rte_strerror(-rc));
		return -1;
	}
	snprintf(p->ethdev, sizeof(p->ethdev), "%s", name);
	return 0;
}

static void dpdk_remove(struct sl_port *p)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	const char *args, *bus;
	split_devargs(p->conf.devargs, name, sizeof(name), &args, &bus);
	if (p->ethdev[0])
		snprintf(name, sizeof(name), "%s", p->ethdev);
	if (p->started) {
		rte_eth_dev_stop(p->port_id);
		p->started = 0;
	}
	uint16_t id;
	if (rte_eth_dev_get_port_by_name(name, &id) == 0)
		rte_eth_dev_close(id);
	rte_eal_hotplug_remove(bus, name);
}

static void dpdk_close(struct sl_port *p)
{
	if (!p->started)
		return;
	rte_eth_dev_stop(p->port_id);
	/* Closing flushes what net_pcap buffered into its output file. */
	rte_eth_dev_close(p->port_id);
	p->started = 0;
}

static uint16_t dpdk_rx(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(p->port_id, q, pkts, n);
}

static uint16_t dpdk_tx(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(p->port_id, q, pkts, n);
}

static int dpdk_stats(struct sl_port *p, struct sl_port_stats *out)
{
	struct rte_eth_stats s;
	if (!p->started || rte_eth_stats_get(p->port_id, &s) != 0)
		return -1;
	*out = (struct sl_port_stats){s.ipackets, s.opackets, s.ibytes,	 s.obytes,
				      s.imissed,  s.ierrors,  s.oerrors, s.rx_nombuf};
	return 0;
}

static int dpdk_socket(struct sl_port *p)
{
	return rte_eth_dev_socket_id(p->port_id);
}

static int dpdk_link_up(struct sl_port *p)
{
	struct rte_eth_link link;
	if (rte_eth_link_get_nowait(p->port_id, &link) != 0)
		return 0;
	return link.link_status == RTE_ETH_LINK_UP;
}

const struct sl_port_driver sl_dpdk_driver = {
    .name = "dpdk",
    .open = dpdk_open,
    .close = dpdk_close,
    .rx = dpdk_rx,
    .tx = dpdk_tx,
    .stats = dpdk_stats,
    .socket = dpdk_socket,
    .link_up = dpdk_link_up,
    .probe = dpdk_probe,
    .remove = dpdk_remove,
};

int sl_port_read_stats(struct sl_port *p, struct sl_port_stats *out)
{
	struct sl_port_stats raw;
	if (p->drv->stats(p, &raw) != 0)
		return -1;
	uint64_t *r = (uint64_t *)&raw, *l = (uint64_t *)&p->last_raw, *b = (uint64_t *)&p->base;
	uint64_t *o = (uint64_t *)out;
	for (size_t i = 0; i < sizeof(raw) / sizeof(uint64_t); i++) {
		if (r[i] < l[i])
			b[i] += l[i];
		l[i] = r[i];
		o[i] = b[i] + r[i];
	}
	return 0;
}

const struct sl_port_driver *sl_port_driver_find(const char *name)
{
	if (!strcmp(name, "dpdk"))
		return &sl_dpdk_driver;
#ifdef SL_HAVE_AF_XDP
	if (!strcmp(name, "af_xdp"))
		return &sl_af_xdp_driver;
#endif
	return NULL;
}

int sl_port_eal_args(const char *driver, const char *devargs, char **argv)
{
	if (strcmp(driver, "dpdk") != 0)
		return 0;
	/* Virtual devices are named by their driver ("net_..."); anything
	 * else is a bus address that goes on the allow-list. */
	argv[0] = strncmp(devargs, "net_", 4) == 0 ? "--vdev" : "-a";
	argv[1] = (char *)(uintptr_t)devargs;
	return 2;
}
