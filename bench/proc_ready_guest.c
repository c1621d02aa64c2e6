/*
 * The guest of bench-proc-create: reaching start_kernel, it says so in
 * XenStore (/local/domain/N/data/ready = "1", which the bench watches), then
 * idles: blocked with nothing to wake it, as an idle domain is.
 */
#include <string.h>

#include "procdom_rt.h"

#include <xen/sched.h>

static struct xenbus_guest ready_xb;

void start_kernel(start_info_t *si)
{
	char path[64];

	(void)si;
	xen_snprintf(path, sizeof(path), "/local/domain/%u/data/ready",
		     (unsigned int)procdom_domid());
	if (xenbus_init(&ready_xb) < 0 || xenbus_write(XBT_NIL, path, "1", 1) < 0)
		xen_shutdown(SHUTDOWN_crash);
	for (;;)
		xen_block();
}
