/*
 * The guest of bench-proc-create: reaching start_kernel, it says so in
 * XenStore (/local/domain/N/data/ready = "1", which the bench watches), then
 * idles: blocked with nothing to wake it, as an idle domain is.
 *
 * Its xenbus state (~35 KiB) is taken from its own RAM, as a Xen guest
 * kernel's driver data is: the bench counts memory beyond the domain's own
 * pages, and this is the guest's, not the host's. Those pages are fresh, so
 * neither procdom_alloc_pages nor xenbus_init zeroes them: only the few
 * xenbus writes are faulted in (rt_memory.c, "Fresh RAM").
 */
#include <string.h>

#include "procdom_rt.h"

#include <xen/sched.h>

void start_kernel(start_info_t *si)
{
	unsigned int pages = (sizeof(struct xenbus_guest) + 4095) / 4096;
	struct xenbus_guest *xb = procdom_alloc_pages(pages);
	char path[64];

	(void)si;
	if (!xb)
		xen_shutdown(SHUTDOWN_crash);
	xen_snprintf(path, sizeof(path), "/local/domain/%u/data/ready",
		     (unsigned int)procdom_domid());
	if (xenbus_init(xb) < 0 || xenbus_write(XBT_NIL, path, "1", 1) < 0)
		xen_shutdown(SHUTDOWN_crash);
	for (;;)
		xen_block();
}
