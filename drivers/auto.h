/* auto.h: driver: auto's decision (sl_port_auto_resolve in port.h), with
 * the sysfs root as a parameter so a test can give it a tree of its own. */
#ifndef SL_AUTO_H
#define SL_AUTO_H

#include <stddef.h>

int sl_port_auto_resolve_at(const char *root, const char *iface, const char *pci,
			    const char **driver, char *iface_out, size_t iface_len, char *pci_out,
			    size_t pci_len, char *why, size_t why_len);

#endif
