/* xenon version: ours, and the Xen interface version the ABI headers pin. */
#include <stdint.h>

#include <xen/xen.h>

#include "xenon.h"

int xenon_cmd_version(const struct xenon_ctx *ctx, int argc, char **argv)
{
	if (argc > 1)
		return xenon_usage_error(ctx, "no arguments expected");
	printf("xenon %s (Xen interface 0x%08x)\n", XENON_VERSION, __XEN_INTERFACE_VERSION__);
	return XENON_EXIT_OK;
}
