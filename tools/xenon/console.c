/*
 * xenon console DOMAIN: attach to a domain's console (Ctrl-] detaches).
 *
 * The console back end (a dom0 service serving each domain's console ring,
 * console/ring-ref and console/port in the store) is not there yet, so this
 * says so and exits 3 rather than pretend. What a domain writes to its
 * stdout/stderr is in RUN_DIR/domain-N.log meanwhile.
 */
#include "xenon.h"

int xenon_cmd_console(const struct xenon_ctx *ctx, int argc, char **argv)
{
	if (argc != 2)
		return xenon_usage_error(ctx, argc < 2 ? "no DOMAIN given" : "too many arguments");
	xenon_err(ctx, "no console back end yet; a domain's own output is in %s/domain-N.log",
		  ctx->run_dir);
	return XENON_EXIT_NO_DAEMON;
}
