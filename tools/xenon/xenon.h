/*
 * The xenon CLI: one table of subcommands (main.c), one file per
 * subcommand. A handler gets argv starting at its own name, parses its own
 * options, and returns one of the exit codes below.
 */
#ifndef XENON_CLI_H
#define XENON_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <xen/xen.h>

enum xenon_exit {
	XENON_EXIT_OK = 0,
	XENON_EXIT_FAIL = 1,	  /* the command ran and failed (bad config, ...) */
	XENON_EXIT_USAGE = 2,	  /* bad command line */
	XENON_EXIT_NO_DAEMON = 3, /* not available: no xenon-hvd running, no back end */
};

struct xenon_ctx;

#define XENON_NAME_BUF 80 /* a domain name (64 bytes) and its NUL, with room */

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

/* "xenon: NAME: <message>" on stderr. */
void xenon_err(const struct xenon_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- common.c: what the daemon-backed commands share ---- */

struct xenon_ctl;
struct xs_handle;

/* Connects to xenon-hvd (and, if RET_XS, to the store) in ctx->run_dir.
 * Prints the error and returns an exit code (XENON_EXIT_NO_DAEMON when no
 * daemon answers); XENON_EXIT_OK with both open. */
int xenon_connect(const struct xenon_ctx *ctx, struct xenon_ctl **ret_ctl,
		  struct xs_handle **ret_xs);
void xenon_disconnect(struct xenon_ctl *ctl, struct xs_handle *xs); /* accept NULL */
/* A DOMAIN argument: a decimal domid of a live domain, or a name in the
 * store. Prints the error; 0 or an exit code. */
int xenon_resolve(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
		  const char *arg, domid_t *ret);
/* LIST, all of it, malloc()ed; one domain's row (-ESRCH: none); the ports
 * of DOMID in use, malloc()ed. */
struct procdom_ctl_dominfo;
struct evtchn_status;
int xenon_list_all(struct xenon_ctl *ctl, struct procdom_ctl_dominfo **ret, size_t *ret_n);
int xenon_ports(struct xenon_ctl *ctl, domid_t domid, struct evtchn_status **ret, size_t *ret_n);
/* The domain's name from the store ("" if it has none; dom0: Domain-0). */
void xenon_domain_name(struct xs_handle *xs, domid_t domid, char *buf, size_t len);
/* The directory holding this executable (/proc/self/exe), into buf. */
int xenon_self_dir(char *buf, size_t len);
/* "dom0: N" exit codes of a negative errno from xenon-hvd: -ENOENT,
 * -ECONNREFUSED, -EPIPE mean no daemon (3); anything else 1. */
int xenon_exit_of(int err);

/* ---- up.c: the daemon's life, shared by up, down and demo ---- */

struct xenon_up_opts {
	const char *run_dir;
	const char *hvd;	  /* NULL: found (see up.c) */
	const char *dom0_reserve; /* xenon-hvd's --dom0-reserve, or NULL */
	bool verbose;
	unsigned int timeout_s; /* readiness */
};
/* Starts xenon-hvd and waits for its readiness; *ret_pid its pid. Prints
 * errors (and the daemon's log) prefixed with CMD. 0 or -errno. */
int xenon_hvd_start(const char *cmd, const struct xenon_up_opts *o, pid_t *ret_pid);
/* SIGTERM to the daemon of RUN_DIR, then waits up to TIMEOUT_S for it to
 * exit (reaping it if it is our child). -ESRCH: none running. */
int xenon_hvd_stop(const char *cmd, const char *run_dir, unsigned int timeout_s);

/* ---- create.c: creation, shared by create, reboot and demo ---- */

struct xlcfg_domain;
/* Creates a domain from a loaded config: CREATE (paused), the store
 * entries, INTRODUCE, then UNPAUSE unless PAUSED. On failure nothing is
 * left. argv: the program's arguments after the path (may be NULL).
 * config/args: recorded for reboot (may be NULL). */
int xenon_domain_build(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
		       const struct xlcfg_domain *dom, char *const argv[], const char *config,
		       const char *args, bool paused, domid_t *ret_domid);
/* DESTROY and remove the store entries (the domain's back-end directories
 * too); -ESRCH only if neither existed. */
int xenon_domain_teardown(struct xenon_ctl *ctl, struct xs_handle *xs, domid_t domid);
/* Loads CONFIG with KEY=VALUE overrides into DOM (errors printed). */
int xenon_load_config(const struct xenon_ctx *ctx, const char *config, char **overrides,
		      int nr_overrides, struct xlcfg_domain *dom);

/* Handlers, one file each. */
int xenon_cmd_help(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_version(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_up(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_down(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_create(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_list(const struct xenon_ctx *ctx, int argc, char **argv);
/* destroy, pause, unpause, shutdown, reboot (domain.c) */
int xenon_cmd_domain(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_console(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_evtchn(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_graph(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_demo(const struct xenon_ctx *ctx, int argc, char **argv);
int xenon_cmd_vchan_proxy(const struct xenon_ctx *ctx, int argc, char **argv);

#endif /* XENON_CLI_H */
