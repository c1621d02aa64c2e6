/* xenon help [COMMAND]: the table's summaries, or one command's usage. */
#include "xenon.h"

int xenon_cmd_help(const struct xenon_ctx *ctx, int argc, char **argv)
{
	const struct xenon_cmd *cmd;

	if (argc > 2)
		return xenon_usage_error(ctx, "too many arguments");
	if (argc == 1) {
		xenon_print_commands(stdout);
		return XENON_EXIT_OK;
	}
	if (!(cmd = xenon_find_command(argv[1]))) {
		fprintf(stderr, "xenon: help: unknown command `%s' (see `xenon help')\n", argv[1]);
		return XENON_EXIT_USAGE;
	}
	xenon_print_usage(stdout, cmd, true);
	return XENON_EXIT_OK;
}
