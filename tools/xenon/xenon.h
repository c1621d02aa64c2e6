/*
 * The xenon CLI: one table of subcommands (main.c), one file per
 * subcommand. A handler gets argv starting at its own name, parses its own
 * options, and returns one of the exit codes below.
 */
#ifndef XENON_CLI_H
#define XENON_CLI_H

#include <stdbool.h>
#include <stdio.h>

enum xenon_exit {
	XENON_EXIT_OK = 0,
	XENON_EXIT_FAIL = 1,	  /* the command ran and failed (bad config, ...) */
	XENON_EXIT_USAGE = 2,	  /* bad command line */
	XENON_EXIT_NO_DAEMON = 3, /* needs xenon-hvd, which is not there (yet) */
};

struct xenon_ctx;

struct xenon_cmd {
	const char *name;
	const char *summary; /* one line, lower case, no full stop */
	const char *usage;   /* the arguments after "xenon NAME" */
	const char *help;    /* option and argument details, or NULL */
	int (*run)(const struct xenon_ctx *ctx, int argc, char **argv);
};

/* What every handler gets: the global options and its own table entry. */
struct xenon_ctx {
	const struct xenon_cmd *cmd;
	const char *run_dir; /* --run-dir, $XENON_RUN_DIR, or /run/xenon */
};

/* The table (main.c), NULL-name terminated, and lookup by name. */
extern const struct xenon_cmd xenon_commands[];
const struct xenon_cmd *xenon_find_command(const char *name);

/* The main usage line and the table's summaries. */
void xenon_print_commands(FILE *f);
/* "usage: xenon NAME USAGE" and the help text, to F. */
void xenon_print_usage(FILE *f, const struct xenon_cmd *cmd, bool full);
/* "xenon: NAME: <usage message>" + usage line on stderr; returns EXIT_USAGE. */
int xenon_usage_error(const struct xenon_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Handlers. */
int xenon_cmd_help(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_version(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_create(const struct xenon_ctx *ctx, int argc, char **argv);
/* Every command that talks to xenon-hvd, until the control protocol lands. */
int xenon_cmd_needs_daemon(const struct xenon_ctx *ctx, int argc, char **argv);

#endif /* XENON_CLI_H */
