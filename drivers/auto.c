/* auto.c: `driver: auto` decides between DPDK and AF_XDP for a device, from
 * sysfs alone: DPDK when the device is a PCI function bound to vfio-pci or
 * uio_pci_generic (only then can a PMD drive it), AF_XDP when it is a
 * kernel interface. Every sysfs string is read bounded: names come from a
 * config and links from the kernel, and neither is trusted to be short. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/auto.h"
#include "drivers/port.h"

/* An interface name that is one path component under class/net (the
 * config checks the same; this is the API's own guard). */
static bool iface_ok(const char *s)
{
	size_t l = strlen(s);
	return l >= 1 && l <= 15 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == l;
}

/* sysfs names a PCI function DDDD:BB:DD.F in lower case; a config may say
 * BB:DD.F (domain 0) or use capitals. out gets the sysfs form, or false
 * when s is neither form. */
static bool pci_canon(const char *s, char out[13])
{
	size_t l = strlen(s);
	const char *form = l == 12 ? "hhhh:hh:hh.h" : l == 7 ? "hh:hh.h" : NULL;
	if (!form)
		return false;
	char *o = out;
	if (l == 7)
		o = stpcpy(out, "0000:");
	for (size_t i = 0; i < l; i++) {
		if (form[i] == 'h' ? !isxdigit((unsigned char)s[i]) : s[i] != form[i])
			return false;
		*o++ = (char)tolower((unsigned char)s[i]);
	}
	*o = '\0';
	return true;
}

/* The last component of the link at path, or "" when there is none, it was
 * cut short or it does not fit out. */
static void link_base(const char *path, char *out, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf));
	out[0] = '\0';
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return;
	buf[n] = '\0';
	const char *b = strrchr(buf, '/');
	b = b ? b + 1 : buf;
	size_t bl = strlen(b);
	if (bl >= len)
		return; /* no driver or bus name is this long: not one we know */
	memcpy(out, b, bl + 1);
}

static bool dpdk_driver(const char *drv)
{
	return !strcmp(drv, "vfio-pci") || !strcmp(drv, "uio_pci_generic");
}

/* path = root + the rest; false when it does not fit. */
static bool mkpath(char *path, size_t len, const char *root, const char *fmt, const char *a)
{
	int n = snprintf(path, len, "%s", root);
	if (n < 0 || (size_t)n >= len)
		return false;
	int m = snprintf(path + n, len - (size_t)n, fmt, a);
	return m >= 0 && (size_t)m < len - (size_t)n;
}

/* The least of the valid interface names in dir (byte order), so that a
 * function with several (one per physical port on some NICs) always gives
 * the same one; out is left alone when there is none. */
static void least_netdev(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (iface_ok(e->d_name) && strlen(e->d_name) < len &&
		    (!out[0] || strcmp(e->d_name, out) < 0))
			snprintf(out, len, "%s", e->d_name);
	closedir(d);
}

/* The netdev of a PCI function: in its net/ directory, or one level down
 * where a bus sits between the two (virtio-pci: ADDR/virtio2/net/eth0). */
static bool pci_netdev(const char *root, const char *pci, char *out, size_t len)
{
	char path[PATH_MAX];
	out[0] = '\0';
	if (!mkpath(path, sizeof(path), root, "/bus/pci/devices/%s", pci))
		return false;
	size_t base = strlen(path);
	if (snprintf(path + base, sizeof(path) - base, "/net") < (int)(sizeof(path) - base))
		least_netdev(path, out, len);
	if (out[0])
		return true;
	path[base] = '\0';
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *e;
	/* A function has a few dozen entries; the cap guards a hostile tree. */
	for (unsigned n = 0; !out[0] && n < 1024 && (e = readdir(d)); n++) {
		if (e->d_name[0] == '.')
			continue;
		path[base] = '\0';
		int w = snprintf(path + base, sizeof(path) - base, "/%s/net", e->d_name);
		if (w > 0 && (size_t)w < sizeof(path) - base)
			least_netdev(path, out, len);
	}
	closedir(d);
	return out[0] != '\0';
}

static int from_pci(const char *root, const char *addr, const char **driver, char *iface_out,
		    size_t iface_len, char *pci_out, size_t pci_len, char *why, size_t why_len)
{
	char pci[13], path[PATH_MAX], drv[64], nd[16];
	struct stat sb;
	if (!pci_canon(addr, pci)) {
		snprintf(why, why_len,
			 "DPDK: '%.*s' is not a PCI address; AF_XDP: so no interface of it", 32,
			 addr);
		return -1;
	}
	if (!mkpath(path, sizeof(path), root, "/bus/pci/devices/%s", pci) || stat(path, &sb) != 0) {
		snprintf(why, why_len, "DPDK: no PCI device %s; AF_XDP: so no interface of it",
			 pci);
		return -1;
	}
	drv[0] = '\0';
	if (mkpath(path, sizeof(path), root, "/bus/pci/devices/%s/driver", pci))
		link_base(path, drv, sizeof(drv));
	if (dpdk_driver(drv)) {
		if (strlen(pci) >= pci_len) {
			snprintf(why, why_len, "DPDK: no room for the PCI address %s", pci);
			return -1;
		}
		*driver = "dpdk";
		snprintf(pci_out, pci_len, "%s", pci);
		snprintf(why, why_len, "dpdk chosen: %s is bound to %s", pci, drv);
		return 0;
	}
	if (!pci_netdev(root, pci, nd, sizeof(nd))) {
		snprintf(why, why_len,
			 "DPDK: %s is %s%s, not vfio-pci or uio_pci_generic; AF_XDP: it has no "
			 "kernel interface",
			 pci, drv[0] ? "bound to " : "bound to no driver", drv);
		return -1;
	}
	if (strlen(nd) >= iface_len) {
		snprintf(why, why_len, "AF_XDP: no room for the interface name %s", nd);
		return -1;
	}
	*driver = "af_xdp";
	snprintf(iface_out, iface_len, "%s", nd);
	snprintf(why, why_len,
		 "af_xdp chosen on %s: DPDK: %s is held by the kernel's %s, not vfio-pci or "
		 "uio_pci_generic",
		 nd, pci, drv[0] ? drv : "?");
	return 0;
}

static int from_iface(const char *root, const char *iface, const char **driver, char *iface_out,
		      size_t iface_len, char *why, size_t why_len)
{
	char path[PATH_MAX], drv[64], dev[64], bus[32], reason[320];
	struct stat sb;
	if (!iface_ok(iface)) {
		snprintf(why, why_len,
			 "DPDK: '%.*s' is not an interface name; AF_XDP: no interface named so", 32,
			 iface);
		return -1;
	}
	if (!mkpath(path, sizeof(path), root, "/class/net/%s", iface) || stat(path, &sb) != 0) {
		snprintf(why, why_len, "DPDK: no device named %s; AF_XDP: no interface named %s",
			 iface, iface);
		return -1;
	}
	if (strlen(iface) >= iface_len) {
		snprintf(why, why_len, "AF_XDP: no room for the interface name %s", iface);
		return -1;
	}
	/* The device behind the interface is a PCI function (most NICs) or
	 * sits on one (virtio-net: eth0 -> virtio2 -> 0000:00:03.0); DPDK
	 * could take it only from a DPDK driver, which it cannot be bound to
	 * while the kernel has its interface. */
	char pci[64], real[PATH_MAX];
	dev[0] = bus[0] = drv[0] = pci[0] = '\0';
	if (mkpath(path, sizeof(path), root, "/class/net/%s/device", iface))
		link_base(path, dev, sizeof(dev));
	if (mkpath(path, sizeof(path), root, "/class/net/%s/device/subsystem", iface))
		link_base(path, bus, sizeof(bus));
	if (dev[0] && !strcmp(bus, "pci")) {
		snprintf(pci, sizeof(pci), "%s", dev);
		if (mkpath(path, sizeof(path), root, "/class/net/%s/device/driver", iface))
			link_base(path, drv, sizeof(drv));
	} else if (dev[0] &&
		   mkpath(path, sizeof(path), root, "/class/net/%s/device/../subsystem", iface)) {
		link_base(path, bus, sizeof(bus));
		if (!strcmp(bus, "pci") &&
		    mkpath(path, sizeof(path), root, "/class/net/%s/device/..", iface) &&
		    realpath(path, real)) {
			const char *b = strrchr(real, '/');
			if (b && strlen(b + 1) < 64)
				snprintf(pci, sizeof(pci), "%s", b + 1);
			if (mkpath(path, sizeof(path), root, "/class/net/%s/device/../driver",
				   iface))
				link_base(path, drv, sizeof(drv));
		}
	}
	if (!pci[0])
		snprintf(reason, sizeof(reason), "%s is not a PCI device", iface);
	else if (!strcmp(pci, dev))
		snprintf(reason, sizeof(reason),
			 "%s (%s) is held by the kernel's %s, not vfio-pci or uio_pci_generic", pci,
			 iface, drv[0] ? drv : "driver");
	else
		snprintf(reason, sizeof(reason),
			 "%s (%s on %s) is held by the kernel's %s, not vfio-pci or "
			 "uio_pci_generic",
			 pci, iface, dev, drv[0] ? drv : "driver");
	*driver = "af_xdp";
	snprintf(iface_out, iface_len, "%s", iface);
	/* The same "DPDK: reason" as in a refusal, so the two read alike. */
	snprintf(why, why_len, "af_xdp chosen: DPDK: %s", reason);
	return 0;
}

int sl_port_auto_resolve_at(const char *root, const char *iface, const char *pci,
			    const char **driver, char *iface_out, size_t iface_len, char *pci_out,
			    size_t pci_len, char *why, size_t why_len)
{
	iface_out[0] = pci_out[0] = '\0';
	if (!iface == !pci) {
		snprintf(why, why_len, "DPDK and AF_XDP: name the device by one of iface or pci");
		return -1;
	}
	if (pci)
		return from_pci(root, pci, driver, iface_out, iface_len, pci_out, pci_len, why,
				why_len);
	return from_iface(root, iface, driver, iface_out, iface_len, why, why_len);
}

int sl_port_auto_resolve(const char *iface, const char *pci, const char **driver, char *iface_out,
			 size_t iface_len, char *pci_out, size_t pci_len, char *why, size_t why_len)
{
	return sl_port_auto_resolve_at("/sys", iface, pci, driver, iface_out, iface_len, pci_out,
				       pci_len, why, why_len);
}
