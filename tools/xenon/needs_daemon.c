/*
 * The commands that talk to the hypervisor daemon over D/hvd.sock (see
 * ctl.h and docs/process-domains.md). Until xenon-hvd and its control
 * protocol exist they say so and exit 3; they never pretend.
 */
#include "xenon.h"

int xenon_cmd_needs_daemon(const struct xenon_ctx *ctx, int argc, char **argv)
{
	fprintf(stderr, "xenon: %s: needs the hypervisor daemon (xenon up), not built yet\n",
		ctx->cmd->name);
	return XENON_EXIT_NO_DAEMON;
}
