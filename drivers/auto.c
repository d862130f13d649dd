/* auto.c: `driver: auto` decides between DPDK and AF_XDP for a device, from
 * sysfs alone: DPDK when the device is a PCI function bound to vfio-pci or
 * uio_pci_generic (only then can a PMD drive it), AF_XDP when it is a
 * kernel interface. Every sysfs string is read bounded: names come from a
 * config and links from the kernel, and neither is trusted to be short. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/auto.h"
#include "drivers/port.h"

/* The last component of the link at path, or "" when there is none. */
static void link_base(const char *path, char *out, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	out[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	const char *b = strrchr(buf, '/');
	b = b ? b + 1 : buf;
	if (strlen(b) >= len)
		return; /* no driver or bus name is this long: not one we know */
	memcpy(out, b, strlen(b) + 1);
}

static bool dpdk_driver(const char *drv)
{
	return !strcmp(drv, "vfio-pci") || !strcmp(drv, "uio_pci_generic");
}

/* The netdev of a PCI function (its net/ directory's first entry). */
static bool pci_netdev(const char *root, const char *pci, char *out, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/net", root, pci);
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *e;
	bool found = false;
	while (!found && (e = readdir(d)))
		if (e->d_name[0] != '.' && strlen(e->d_name) < len) {
			snprintf(out, len, "%s", e->d_name);
			found = true;
		}
	closedir(d);
	return found;
}

int sl_port_auto_resolve_at(const char *root, const char *iface, const char *pci,
			    const char **driver, char *iface_out, size_t iface_len, char *pci_out,
			    size_t pci_len, char *why, size_t why_len)
{
	char path[PATH_MAX], drv[64], dev[64], nd[64];
	struct stat sb;
	iface_out[0] = pci_out[0] = '\0';
	if (pci) {
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", root, pci);
		if (stat(path, &sb) != 0) {
			snprintf(why, why_len,
				 "DPDK: no PCI device %s; AF_XDP: so no interface of it", pci);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", root, pci);
		link_base(path, drv, sizeof(drv));
		if (dpdk_driver(drv)) {
			*driver = "dpdk";
			snprintf(pci_out, pci_len, "%s", pci);
			snprintf(why, why_len, "dpdk: %s is bound to %s", pci, drv);
			return 0;
		}
		if (!pci_netdev(root, pci, nd, sizeof(nd))) {
			snprintf(
			    why, why_len,
			    "DPDK: %s is %s%s, not vfio-pci or uio_pci_generic; AF_XDP: it has no "
			    "kernel interface",
			    pci, drv[0] ? "bound to " : "bound to no driver", drv);
			return -1;
		}
		*driver = "af_xdp";
		snprintf(iface_out, iface_len, "%s", nd);
		snprintf(why, why_len,
			 "af_xdp on %s: DPDK cannot take %s (held by the kernel's %s, not vfio-pci "
			 "or uio_pci_generic)",
			 nd, pci, drv[0] ? drv : "?");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/class/net/%s", root, iface);
	if (stat(path, &sb) != 0) {
		snprintf(why, why_len, "DPDK: no device named %s; AF_XDP: no interface named %s",
			 iface, iface);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/class/net/%s/device", root, iface);
	link_base(path, dev, sizeof(dev));
	snprintf(path, sizeof(path), "%s/class/net/%s/device/subsystem", root, iface);
	char bus[32];
	link_base(path, bus, sizeof(bus));
	char reason[320];
	if (!dev[0] || strcmp(bus, "pci") != 0) {
		snprintf(reason, sizeof(reason), "%s is not a PCI device", iface);
	} else {
		snprintf(path, sizeof(path), "%s/class/net/%s/device/driver", root, iface);
		link_base(path, drv, sizeof(drv));
		if (snprintf(reason, sizeof(reason),
			     "%s (%s) is held by the kernel's %s, not vfio-pci or uio_pci_generic",
			     iface, dev, drv[0] ? drv : "driver") >= (int)sizeof(reason))
			reason[sizeof(reason) - 1] = '\0';
	}
	*driver = "af_xdp";
	snprintf(iface_out, iface_len, "%s", iface);
	snprintf(why, why_len, "af_xdp: DPDK cannot take it (%s)", reason);
	return 0;
}

int sl_port_auto_resolve(const char *iface, const char *pci, const char **driver, char *iface_out,
			 size_t iface_len, char *pci_out, size_t pci_len, char *why, size_t why_len)
{
	return sl_port_auto_resolve_at("/sys", iface, pci, driver, iface_out, iface_len, pci_out,
				       pci_len, why, why_len);
}
