/* test_auto.c: driver: auto's decision (sl_port_auto_resolve_at) on a fake
 * sysfs tree in a temporary directory, laid out with the same symlinks as
 * the kernel's: a veth, a virtio-net NIC (interface on a virtio device on a
 * PCI function), a PCI NIC with two interfaces, functions bound to vfio-pci
 * and uio_pci_generic, one bound to nothing, and hostile names and links. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "drivers/auto.h"
#include "drivers/port.h"

static char root[] = "/tmp/sl-test-auto-XXXXXX";

/* mkdir -p root/rel */
static void dir(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST)
				fail_msg("mkdir %s: %s", p, strerror(errno));
			*s = '/';
		}
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

/* root/rel -> target (relative, as sysfs has them) */
static void link_(const char *rel, const char *target)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p) != 0)
		fail_msg("symlink %s -> %s: %s", p, target, strerror(errno));
}

#define PCIDEV "devices/pci0000:00/"

/* A PCI function ADDR bound to drv (NULL: to nothing). */
static void pci_fn(const char *addr, const char *drv)
{
	char rel[256], tgt[256];
	snprintf(rel, sizeof(rel), PCIDEV "%s", addr);
	dir(rel);
	snprintf(rel, sizeof(rel), PCIDEV "%s/subsystem", addr);
	link_(rel, "../../../bus/pci");
	if (drv) {
		snprintf(rel, sizeof(rel), PCIDEV "%s/driver", addr);
		snprintf(tgt, sizeof(tgt), "../../../bus/pci/drivers/%s", drv);
		link_(rel, tgt);
	}
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", addr);
	snprintf(tgt, sizeof(tgt), "../../../" PCIDEV "%s", addr);
	link_(rel, tgt);
}

/* Interface ifc whose device directory is devdir (relative to root). */
static void netdev(const char *devdir, const char *ifc, const char *device_link)
{
	char rel[512], tgt[512];
	snprintf(rel, sizeof(rel), "%s/net/%s", devdir, ifc);
	dir(rel);
	if (device_link) {
		snprintf(rel, sizeof(rel), "%s/net/%s/device", devdir, ifc);
		link_(rel, device_link);
	}
	snprintf(rel, sizeof(rel), "class/net/%s", ifc);
	snprintf(tgt, sizeof(tgt), "../../%s/net/%s", devdir, ifc);
	link_(rel, tgt);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(root))
		return -1;
	dir("bus/pci/devices");
	dir("bus/pci/drivers");
	dir("bus/virtio/drivers");
	dir("class/net");
	/* veth0: a virtual device, no device link. */
	netdev("devices/virtual", "veth0", NULL);
	/* eth0: virtio-net, eth0 -> virtio2 -> 0000:00:03.0 (virtio-pci). */
	pci_fn("0000:00:03.0", "virtio-pci");
	dir(PCIDEV "0000:00:03.0/virtio2");
	link_(PCIDEV "0000:00:03.0/virtio2/subsystem", "../../../../bus/virtio");
	link_(PCIDEV "0000:00:03.0/virtio2/driver", "../../../../bus/virtio/drivers/virtio_net");
	netdev(PCIDEV "0000:00:03.0/virtio2", "eth0", "../../../virtio2");
	/* 0000:00:04.0 on vfio-pci, 0000:00:07.0 on uio_pci_generic,
	 * 0000:00:0a.0 on vfio-pci (a config may spell it 0000:00:0A.0). */
	pci_fn("0000:00:04.0", "vfio-pci");
	pci_fn("0000:00:07.0", "uio_pci_generic");
	pci_fn("0000:00:0a.0", "vfio-pci");
	/* 0000:00:05.0: a kernel NIC with two interfaces. */
	pci_fn("0000:00:05.0", "ixgbe");
	netdev(PCIDEV "0000:00:05.0", "ens5f1", "../../../0000:00:05.0");
	netdev(PCIDEV "0000:00:05.0", "ens5f0", "../../../0000:00:05.0");
	/* 0000:00:06.0: bound to nothing, no interface. */
	pci_fn("0000:00:06.0", NULL);
	/* 0000:00:08.0: a kernel driver whose only interface has a name
	 * no config could give (a space): not taken. */
	pci_fn("0000:00:08.0", "evil");
	dir(PCIDEV "0000:00:08.0/net/bad name");
	/* long0: a device link with a 200-character last component. */
	char longname[256] = "../../../";
	memset(longname + 9, 'x', 200);
	longname[209] = '\0';
	netdev("devices/virtual", "long0", longname);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

struct res {
	int rc;
	const char *driver;
	char iface[16], pci[16], why[512];
};

static struct res resolve(const char *iface, const char *pci)
{
	struct res r = {.driver = NULL};
	r.rc = sl_port_auto_resolve_at(root, iface, pci, &r.driver, r.iface, sizeof(r.iface), r.pci,
				       sizeof(r.pci), r.why, sizeof(r.why));
	return r;
}

static void test_veth(void **state)
{
	(void)state;
	struct res r = resolve("veth0", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "af_xdp");
	assert_string_equal(r.iface, "veth0");
	assert_string_equal(r.pci, "");
	assert_string_equal(r.why, "af_xdp chosen: DPDK: veth0 is not a PCI device");
}

static void test_virtio_iface(void **state)
{
	(void)state;
	struct res r = resolve("eth0", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "af_xdp");
	assert_string_equal(r.iface, "eth0");
	assert_string_equal(r.why,
			    "af_xdp chosen: DPDK: 0000:00:03.0 (eth0 on virtio2) is held by the "
			    "kernel's virtio-pci, not vfio-pci or uio_pci_generic");
}

static void test_pci_nic_iface(void **state)
{
	(void)state;
	struct res r = resolve("ens5f1", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "af_xdp");
	assert_string_equal(r.why, "af_xdp chosen: DPDK: 0000:00:05.0 (ens5f1) is held by the "
				   "kernel's ixgbe, not vfio-pci or uio_pci_generic");
}

static void test_no_iface(void **state)
{
	(void)state;
	struct res r = resolve("nosuch0", NULL);
	assert_int_equal(r.rc, -1);
	assert_string_equal(r.why, "DPDK: no device named nosuch0; AF_XDP: no interface named "
				   "nosuch0");
}

static void test_pci_dpdk(void **state)
{
	(void)state;
	struct res r = resolve(NULL, "0000:00:04.0");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "dpdk");
	assert_string_equal(r.pci, "0000:00:04.0");
	assert_string_equal(r.iface, "");
	assert_string_equal(r.why, "dpdk chosen: 0000:00:04.0 is bound to vfio-pci");
	r = resolve(NULL, "00:07.0"); /* short form: domain 0 */
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "dpdk");
	assert_string_equal(r.pci, "0000:00:07.0");
	assert_string_equal(r.why, "dpdk chosen: 0000:00:07.0 is bound to uio_pci_generic");
	r = resolve(NULL, "0000:00:0A.0"); /* sysfs names are lower case */
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "dpdk");
	assert_string_equal(r.pci, "0000:00:0a.0");
}

static void test_pci_kernel(void **state)
{
	(void)state;
	struct res r = resolve(NULL, "0000:00:05.0");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "af_xdp");
	assert_string_equal(r.iface, "ens5f0"); /* the least name, whatever readdir's order */
	assert_string_equal(r.pci, "");
	assert_string_equal(r.why, "af_xdp chosen on ens5f0: DPDK: 0000:00:05.0 is held by the "
				   "kernel's ixgbe, not vfio-pci or uio_pci_generic");
	r = resolve(NULL, "00:03.0"); /* virtio: the interface is one level down */
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "af_xdp");
	assert_string_equal(r.iface, "eth0");
}

static void test_pci_neither(void **state)
{
	(void)state;
	struct res r = resolve(NULL, "0000:00:06.0");
	assert_int_equal(r.rc, -1);
	assert_string_equal(r.why, "DPDK: 0000:00:06.0 is bound to no driver, not vfio-pci or "
				   "uio_pci_generic; AF_XDP: it has no kernel interface");
	r = resolve(NULL, "0000:00:08.0");
	assert_int_equal(r.rc, -1);
	assert_string_equal(r.why, "DPDK: 0000:00:08.0 is bound to evil, not vfio-pci or "
				   "uio_pci_generic; AF_XDP: it has no kernel interface");
	r = resolve(NULL, "0000:00:09.0");
	assert_int_equal(r.rc, -1);
	assert_string_equal(r.why,
			    "DPDK: no PCI device 0000:00:09.0; AF_XDP: so no interface of it");
}

/* Names that would leave class/net or bus/pci/devices, or are no names at
 * all, are refused before any path is built from them. */
static void test_hostile_names(void **state)
{
	(void)state;
	static const char *const ifaces[] = {
	    "..", ".", "../veth0", "a/b", "", "sixteen_chars_xx", "veth0\n"};
	for (unsigned i = 0; i < sizeof(ifaces) / sizeof(ifaces[0]); i++) {
		struct res r = resolve(ifaces[i], NULL);
		if (r.rc != -1)
			fail_msg("iface '%s' accepted (%s)", ifaces[i], r.why);
		assert_non_null(strstr(r.why, "is not an interface name"));
	}
	static const char *const pcis[] = {
	    "../../../etc", "0000:00:04.0/..", "0000:00:04.00", "00:4.0", "",
	    "0000-00:04.0", "0000:00:04.g"};
	for (unsigned i = 0; i < sizeof(pcis) / sizeof(pcis[0]); i++) {
		struct res r = resolve(NULL, pcis[i]);
		if (r.rc != -1)
			fail_msg("pci '%s' accepted (%s)", pcis[i], r.why);
		assert_non_null(strstr(r.why, "is not a PCI address"));
	}
	struct res r = resolve(NULL, NULL);
	assert_int_equal(r.rc, -1);
	r = resolve("veth0", "0000:00:04.0");
	assert_int_equal(r.rc, -1);
}

/* A device link too long to be a device name is no PCI device. */
static void test_long_link(void **state)
{
	(void)state;
	struct res r = resolve("long0", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.driver, "af_xdp");
	assert_string_equal(r.why, "af_xdp chosen: DPDK: long0 is not a PCI device");
}

/* Output buffers too small for the answer: an error, never a cut name. */
static void test_small_buffers(void **state)
{
	(void)state;
	const char *drv = NULL;
	char ifc[4], pci[8], why[512];
	assert_int_equal(sl_port_auto_resolve_at(root, "veth0", NULL, &drv, ifc, sizeof(ifc), pci,
						 sizeof(pci), why, sizeof(why)),
			 -1);
	assert_int_equal(sl_port_auto_resolve_at(root, NULL, "0000:00:04.0", &drv, ifc, sizeof(ifc),
						 pci, sizeof(pci), why, sizeof(why)),
			 -1);
	/* and a short why is cut, still terminated */
	char tiny[8];
	char ifc2[16], pci2[16];
	assert_int_equal(sl_port_auto_resolve_at(root, "nosuch0", NULL, &drv, ifc2, sizeof(ifc2),
						 pci2, sizeof(pci2), tiny, sizeof(tiny)),
			 -1);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

/* The real sysfs: lo exists and is no PCI device. */
static void test_real_sysfs(void **state)
{
	(void)state;
	const char *drv = NULL;
	char ifc[16], pci[16], why[512];
	if (access("/sys/class/net/lo", F_OK) != 0)
		skip();
	assert_int_equal(sl_port_auto_resolve("lo", NULL, &drv, ifc, sizeof(ifc), pci, sizeof(pci),
					      why, sizeof(why)),
			 0);
	assert_string_equal(drv, "af_xdp");
	assert_string_equal(why, "af_xdp chosen: DPDK: lo is not a PCI device");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_veth),	  cmocka_unit_test(test_virtio_iface),
	    cmocka_unit_test(test_pci_nic_iface), cmocka_unit_test(test_no_iface),
	    cmocka_unit_test(test_pci_dpdk),	  cmocka_unit_test(test_pci_kernel),
	    cmocka_unit_test(test_pci_neither),	  cmocka_unit_test(test_hostile_names),
	    cmocka_unit_test(test_long_link),	  cmocka_unit_test(test_small_buffers),
	    cmocka_unit_test(test_real_sysfs),
	};
	return cmocka_run_group_tests_name("auto", tests, setup, teardown);
}
