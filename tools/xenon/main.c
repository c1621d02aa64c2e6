/*
 * xenon: the toolstack CLI (dom0's "administrative interface to the
 * hypervisor", seed 001). This file is the table of subcommands and the
 * dispatch; each subcommand lives in its own file.
 *
 *   xenon [--run-dir DIR] COMMAND [ARGS...]
 *   xenon help [COMMAND] | xenon --help | xenon COMMAND --help
 *
 * Exit codes: 0 success, 1 failure, 2 usage error, 3 not available (no
 * hypervisor daemon running in the run dir, or no back end for it yet).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xenon.h"

#define DEFAULT_RUN_DIR "/run/xenon"

const struct xenon_cmd xenon_commands[] = {
	{ "up", "start the hypervisor daemon (xenon-hvd) and dom0's services",
	  "[--run-dir DIR] [--foreground] [-v] [--hvd PATH] [--dom0-reserve PORT:DOMID,...]",
	  "  --run-dir DIR     sockets, pid file and logs (default $XENON_RUN_DIR, /run/xenon)\n"
	  "  --foreground      run xenon-hvd in this terminal instead (Ctrl-C stops it)\n"
	  "  -v, --verbose     the daemon logs more (DIR/hvd.log)\n"
	  "  --hvd PATH        the daemon to run (default $XENON_HVD, the build tree's,\n"
	  "                    or the one beside this program)\n"
	  "  --dom0-reserve L  dom0 ports reserved at dom0's creation, each accepting one\n"
	  "                    domain to come (seed 002: 121:1,122:2,123:3,124:4,125:5,126:6)\n"
	  "Returns once the daemon is ready; if it fails to start, its log is shown.\n",
	  xenon_cmd_up },
	{ "down", "stop the hypervisor daemon, destroying every domain", "[--run-dir DIR]",
	  "  Exit 3 when no daemon runs there.\n", xenon_cmd_down },
	{ "create", "create a domain from an xl.cfg(5) file",
	  "[-n|--dry-run] [--json] [-p] CONFIG [KEY=VALUE...]",
	  "  -n, --dry-run  parse and check CONFIG, print the domain it describes, create nothing\n"
	  "  --json         with --dry-run: print it as JSON\n"
	  "  -p, --paused   leave the new domain paused\n"
	  "  KEY=VALUE      extra settings in xl.cfg syntax, overriding CONFIG's\n"
	  "                 (e.g. memory=64 'name=\"web\"')\n",
	  xenon_cmd_create },
	{ "list", "list domains", "[--json] [DOMAIN...]", "  --json  one JSON array of domains\n",
	  xenon_cmd_list },
	{ "destroy", "destroy a domain at once", "DOMAIN", NULL, xenon_cmd_domain },
	{ "pause", "pause a domain's vCPUs", "DOMAIN", NULL, xenon_cmd_domain },
	{ "unpause", "let a paused domain run again", "DOMAIN", NULL, xenon_cmd_domain },
	{ "shutdown", "ask a domain to shut down", "[-w] DOMAIN",
	  "  -w, --wait  wait until the domain is gone\n", xenon_cmd_domain },
	{ "reboot", "reboot a domain: shut it down and create it again from its config", "DOMAIN",
	  NULL, xenon_cmd_domain },
	{ "console", "attach to a domain's console (Ctrl-] detaches)", "DOMAIN",
	  "  Copies stdin to the domain's console and its output to stdout (raw mode on a\n"
	  "  terminal). Ctrl-] or the end of stdin detaches (exit 0); the domain going\n"
	  "  away ends the session (exit 1). The full output is RUN_DIR/console/dN.log.\n",
	  xenon_cmd_console },
	{ "evtchn", "list event channel ports and their states", "[--json] [DOMAIN]",
	  "  --json  one JSON array of ports\n", xenon_cmd_evtchn },
	{ "graph", "print domains, event channels and grants as Graphviz DOT", "",
	  "  Domains are nodes; event channels solid edges between their ports; grant\n"
	  "  mappings dashed edges from granter to mapper, labelled with the ref.\n",
	  xenon_cmd_graph },
	{ "vchan-proxy", "bridge a vchan with a domain to a UNIX stream socket",
	  "[--server|--client] [--timeout S] DOMID XS_PATH SOCKET",
	  "  --server     offer the vchan at XS_PATH to DOMID, listen on SOCKET (default)\n"
	  "  --client     connect to the vchan DOMID offers at XS_PATH, and to SOCKET\n"
	  "  --timeout S  how long a client waits for the server (default 30)\n"
	  "Copies both ways with flow control. When one side ends, what the other\n"
	  "sent is still delivered (within 5 s); stderr names who ended it.\n",
	  xenon_cmd_vchan_proxy },
	{ "demo", "run seed 002 end to end in a private run dir, then tear it all down",
	  "[--domains N] [--events N] [--keep] [-v]",
	  "  --domains N  domUs wired to dom0 as in seed 002 (default 6, at most 64)\n"
	  "  --events N   events each domU sends and expects answered (default 1000)\n"
	  "  --keep       keep the run dir (its logs) instead of removing it\n"
	  "  Exit 0 only if every event is accounted for.\n",
	  xenon_cmd_demo },
	{ "version", "print xenon's version and the Xen interface it implements", "", NULL,
	  xenon_cmd_version },
	{ "help", "describe the commands, or one command", "[COMMAND]", NULL, xenon_cmd_help },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct xenon_cmd *xenon_find_command(const char *name)
{
	for (const struct xenon_cmd *c = xenon_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

void xenon_print_usage(FILE *f, const struct xenon_cmd *cmd, bool full)
{
	fprintf(f, "usage: xenon %s%s%s\n", cmd->name, *cmd->usage ? " " : "", cmd->usage);
	if (!full)
		return;
	fprintf(f, "%c%s.\n", cmd->summary[0] - 'a' + 'A', cmd->summary + 1);
	if (cmd->help)
		fprintf(f, "\n%s", cmd->help);
}

int xenon_usage_error(const struct xenon_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xenon: %s: ", ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	xenon_print_usage(stderr, ctx->cmd, false);
	return XENON_EXIT_USAGE;
}

void xenon_print_commands(FILE *f)
{
	fprintf(f, "usage: xenon [--run-dir DIR] COMMAND [ARGS...]\n\nCommands:\n");
	for (const struct xenon_cmd *c = xenon_commands; c->name; c++)
		fprintf(f, "  %-9s %s\n", c->name, c->summary);
	fprintf(f, "\nRun `xenon help COMMAND' for a command's arguments.\n"
		   "Exit status: 0 ok, 1 failure, 2 usage error, 3 not available (no xenon-hvd\n"
		   "running in the run dir, or no back end for the command yet).\n");
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* Global options, up to the command name. Returns argv's index of the
 * command, or -1 after handling --help/--version/a usage error. */
static int parse_global(int argc, char **argv, struct xenon_ctx *ctx, int *ret_exit)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* `+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'r') {
			ctx->run_dir = optarg;
			continue;
		}
		*ret_exit = c == 'h'   ? (xenon_print_commands(stdout), XENON_EXIT_OK)
			    : c == 'V' ? xenon_cmd_version(ctx, 1, argv)
				       : (xenon_print_commands(stderr), XENON_EXIT_USAGE);
		return -1;
	}
	if (optind >= argc) {
		xenon_print_commands(stderr);
		*ret_exit = XENON_EXIT_USAGE;
		return -1;
	}
	return optind;
}

int main(int argc, char **argv)
{
	const char *env = getenv("XENON_RUN_DIR");
	struct xenon_ctx ctx = { .run_dir = env && *env ? env : DEFAULT_RUN_DIR };
	int first, rc = XENON_EXIT_USAGE;

	if ((first = parse_global(argc, argv, &ctx, &rc)) < 0)
		return rc;
	ctx.cmd = xenon_find_command(argv[first]);
	if (!ctx.cmd) {
		fprintf(stderr, "xenon: unknown command `%s' (see `xenon help')\n", argv[first]);
		return XENON_EXIT_USAGE;
	}
	if (wants_help(argc - first, argv + first)) {
		xenon_print_usage(stdout, ctx.cmd, true);
		return XENON_EXIT_OK;
	}
	/* Each handler runs getopt afresh on its own argv. */
	optind = 0;
	return ctx.cmd->run(&ctx, argc - first, argv + first);
}
