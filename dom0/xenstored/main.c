/*
 * xenon-xenstored: the XenStore daemon, in the foreground.
 *
 * main() parses options into struct xsd_options, then brings the daemon up
 * through init_steps[] in order (log, signals, loop, store, socket, pid file,
 * readiness) and takes it down in reverse: after a failure only the steps
 * that succeeded are undone, and SIGTERM/SIGINT leave through the same path,
 * so a clean stop removes the socket and pid file and frees everything.
 *
 * Signals arrive through a signalfd in the event loop rather than through
 * handlers, so there is no global state to share with a handler.
 *
 * Domains: under xenon-hvd (--hvd DIR, or XENON_RUN_DIR in the environment)
 * INTRODUCE maps the domain's ring and binds its port through libxenon-dom0
 * (hvd_link.c), and dead domains are released on VIRQ_DOM_EXC. Without a
 * hypervisor, INTRODUCE is accepted (the engine records the domain) but no
 * ring is mapped.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon.h"
#include "engine.h"
#include "hvd_link.h"
#include "loop.h"
#include "transport_socket.h"
#include "xslog.h"

#define DEFAULT_RUN_DIR "/run/xenstored"

struct xsd_options {
	const char *socket_path; /* --socket, or <run-dir>/socket */
	const char *run_dir;
	const char *log_file;
	const char *hvd_dir; /* xenon-hvd's run dir, or NULL: no hypervisor */
	int ready_fd;	     /* -1: none */
	int verbosity;
	unsigned int spin_us;
	struct xs_config cfg;
	struct xs_socket_limits lim;
};

struct xsd {
	struct xsd_options opt;
	char socket_buf[PATH_MAX];
	char pid_path[PATH_MAX];
	struct xslog log;
	struct xs_loop *loop;
	sigset_t old_mask;
	int sig_fd;
	struct xs_loop_source sig_src;
	struct xs_store *store;
	struct xs_socket_server *srv;
	struct xsd_hvd *hvd; /* NULL without xenon-hvd */
};

/* ---- options ---- */

static const char usage_text[] =
	"NAME\n"
	"    xenon-xenstored - the XenStore daemon\n"
	"\n"
	"SYNOPSIS\n"
	"    xenon-xenstored [--run-dir DIR | --socket PATH] [--ready-fd N] [OPTION]...\n"
	"\n"
	"DESCRIPTION\n"
	"    Serves the XenStore protocol on a UNIX stream socket, in the foreground.\n"
	"    Socket clients are dom0 and privileged. Point Debian's tools at it with\n"
	"    XENSTORED_PATH=<socket>. SIGTERM or SIGINT stops it cleanly.\n"
	"\n"
	"OPTIONS\n"
	"    --run-dir DIR      socket DIR/socket, pid file DIR/xenstored.pid, log\n"
	"                       DIR/xenstored.log (default " DEFAULT_RUN_DIR ")\n"
	"    --socket PATH      listen on PATH instead (no pid file; log to stderr)\n"
	"    --ready-fd N       write \"READY\\n\" to fd N and close it once listening\n"
	"    --log-file PATH    log here instead\n"
	"    --hvd DIR          serve domains' rings through xenon-hvd in DIR\n"
	"                       (default: $XENON_RUN_DIR, if set)\n"
	"    -v, --verbose      log more (repeat for debug)\n"
	"    --quota NAME=N     unprivileged-domain quota; NAME is one of nodes,\n"
	"                       watches, outstanding, transactions, txn-nodes, perms,\n"
	"                       node-size, path-max, memory\n"
	"    --keep-released    RELEASE leaves /local/domain/<id> in place\n"
	"    --max-clients N    socket clients at once (default 1024)\n"
	"    --max-output BYTES unread replies and events before a client is dropped\n"
	"                       (default 16 MiB)\n"
	"    --spin-us N        poll this long before sleeping (default 0)\n"
	"    -h, --help         this text\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after a clean stop, 1 if start-up failed, 2 on bad usage.\n";

struct quota_name {
	const char *name;
	size_t offset;
};

static const struct quota_name quota_names[] = {
	{ "nodes", offsetof(struct xs_quota, nodes) },
	{ "watches", offsetof(struct xs_quota, watches) },
	{ "outstanding", offsetof(struct xs_quota, outstanding) },
	{ "transactions", offsetof(struct xs_quota, transactions) },
	{ "txn-nodes", offsetof(struct xs_quota, txn_nodes) },
	{ "perms", offsetof(struct xs_quota, perms) },
	{ "node-size", offsetof(struct xs_quota, node_size) },
	{ "path-max", offsetof(struct xs_quota, path_max) },
	{ "memory", offsetof(struct xs_quota, memory) },
};

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_quota(struct xs_quota *q, const char *arg)
{
	const char *eq = strchr(arg, '=');
	unsigned long v;
	size_t i;

	if (!eq || parse_uint(eq + 1, UINT_MAX, &v))
		return -EINVAL;
	for (i = 0; i < sizeof(quota_names) / sizeof(quota_names[0]); i++) {
		const struct quota_name *qn = &quota_names[i];

		if (strlen(qn->name) == (size_t)(eq - arg) && !strncmp(qn->name, arg, eq - arg)) {
			*(unsigned int *)((char *)q + qn->offset) = (unsigned int)v;
			return 0;
		}
	}
	return -EINVAL;
}

enum {
	OPT_SOCKET = 256,
	OPT_RUN_DIR,
	OPT_READY_FD,
	OPT_LOG_FILE,
	OPT_QUOTA,
	OPT_KEEP_RELEASED,
	OPT_MAX_CLIENTS,
	OPT_MAX_OUTPUT,
	OPT_SPIN_US,
	OPT_HVD,
};

static const struct option long_options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "quota", required_argument, NULL, OPT_QUOTA },
	{ "keep-released", no_argument, NULL, OPT_KEEP_RELEASED },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
	{ "spin-us", required_argument, NULL, OPT_SPIN_US },
	{ "hvd", required_argument, NULL, OPT_HVD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Options taking a number; returns -EINVAL on a bad one. */
static int parse_numeric_option(struct xsd_options *o, int opt, const char *arg)
{
	unsigned long v;

	if (parse_uint(arg, INT_MAX, &v))
		return -EINVAL;
	switch (opt) {
	case OPT_READY_FD:
		o->ready_fd = (int)v;
		break;
	case OPT_MAX_CLIENTS:
		o->lim.max_clients = (unsigned int)v;
		break;
	case OPT_MAX_OUTPUT:
		o->lim.out_max = v;
		break;
	case OPT_SPIN_US:
		o->spin_us = (unsigned int)v;
		break;
	}
	return 0;
}

static int parse_one_option(struct xsd_options *o, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SOCKET:
		o->socket_path = arg;
		return 0;
	case OPT_RUN_DIR:
		o->run_dir = arg;
		return 0;
	case OPT_LOG_FILE:
		o->log_file = arg;
		return 0;
	case OPT_HVD:
		o->hvd_dir = arg;
		return 0;
	case OPT_QUOTA:
		return parse_quota(&o->cfg.quota, arg);
	case OPT_KEEP_RELEASED:
		o->cfg.keep_released_nodes = true;
		return 0;
	case 'v':
		o->verbosity++;
		return 0;
	case OPT_READY_FD:
	case OPT_MAX_CLIENTS:
	case OPT_MAX_OUTPUT:
	case OPT_SPIN_US:
		return parse_numeric_option(o, opt, arg);
	}
	return -EINVAL;
}

/* Returns 0 to run, 1 to exit 0 (--help), -EINVAL for bad usage. */
static int parse_options(struct xsd_options *o, int argc, char **argv)
{
	int opt;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	xs_config_defaults(&o->cfg);
	xs_socket_limits_defaults(&o->lim);
	while ((opt = getopt_long(argc, argv, "vh", long_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (opt == '?' || parse_one_option(o, opt, optarg)) {
			if (opt != '?')
				fprintf(stderr, "xenon-xenstored: bad argument: %s\n",
					argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xenon-xenstored: unexpected argument: %s\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->socket_path && !o->run_dir)
		o->run_dir = DEFAULT_RUN_DIR;
	if (!o->hvd_dir)
		o->hvd_dir = getenv("XENON_RUN_DIR");
	return 0;
}

/* ---- init steps ---- */

static int path_join(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Steps take void *: one table type (struct daemon_step) for every daemon. */

static int log_init(void *ctx)
{
	struct xsd *d = ctx;
	char path[PATH_MAX];
	const char *file = d->opt.log_file;
	int err, fd;

	d->log.level = XSLOG_WARN + d->opt.verbosity;
	d->log.fd = STDERR_FILENO;
	/* The run dir is made even when --log-file puts the log elsewhere. */
	fd = daemon_log_open(d->opt.run_dir, NULL);
	if (fd < 0)
		return fd;
	if (!file && d->opt.run_dir) {
		err = path_join(path, sizeof(path), d->opt.run_dir, "xenstored.log");
		if (err)
			return err;
		file = path;
	}
	fd = daemon_log_open(NULL, file);
	if (fd < 0)
		return fd;
	d->log.fd = fd;
	return 0;
}

static void log_fini(void *ctx)
{
	struct xsd *d = ctx;

	daemon_log_close(&d->log.fd);
}

static int loop_init(void *ctx)
{
	struct xsd *d = ctx;

	return xs_loop_create(d->opt.spin_us, &d->loop);
}

static void loop_fini(void *ctx)
{
	struct xsd *d = ctx;

	xs_loop_destroy(d->loop);
}

static void signal_ready(struct xs_loop_source *src, uint32_t events)
{
	struct xsd *d = xs_container_of(src, struct xsd, sig_src);
	unsigned int signo = daemon_signal_read(d->sig_fd);

	if (!signo)
		return;
	xslog_printf(&d->log, XSLOG_INFO, "signal %u: stopping", signo);
	xs_loop_stop(d->loop);
}

/* SIGTERM and SIGINT become readable events; SIGPIPE is ignored (sockets use
 * MSG_NOSIGNAL, but the log may be a closed pipe). */
static int signals_init(void *ctx)
{
	struct xsd *d = ctx;
	int err;

	d->sig_fd = daemon_signals_open(&d->old_mask);
	if (d->sig_fd < 0)
		return d->sig_fd;
	d->sig_src.ready = signal_ready;
	err = xs_loop_add(d->loop, d->sig_fd, EPOLLIN, &d->sig_src);
	if (err)
		daemon_signals_close(d->sig_fd, &d->old_mask);
	return err;
}

static void signals_fini(void *ctx)
{
	struct xsd *d = ctx;

	xs_loop_del(d->loop, d->sig_fd);
	daemon_signals_close(d->sig_fd, &d->old_mask);
}

/* Under xenon-hvd: a real ring (hvd_link.c). Without a hypervisor: accept
 * the domain so the engine records it, but map no ring. */
static int xsd_introduce(void *ctx, struct xs_store *s, unsigned int domid, uint64_t gfn,
			 unsigned int port)
{
	struct xsd *d = ctx;

	if (d->hvd)
		return xsd_hvd_introduce(d->hvd, s, domid, gfn, port);
	xslog_printf(&d->log, XSLOG_INFO,
		     "introduce domain %u (gfn %#llx, port %u): accepted, no ring yet", domid,
		     (unsigned long long)gfn, port);
	return 0;
}

static void xsd_release(void *ctx, unsigned int domid)
{
	struct xsd *d = ctx;

	if (d->hvd)
		xsd_hvd_release(d->hvd, domid);
}

static int store_init(void *ctx)
{
	struct xsd *d = ctx;
	struct xs_domain_ops dops = {
		.introduce = xsd_introduce,
		.release = xsd_release,
		.ctx = d,
	};

	d->opt.cfg.log = xslog_engine_hook;
	d->opt.cfg.log_ctx = &d->log;
	d->store = xs_store_create(&d->opt.cfg, &dops);
	return d->store ? 0 : -ENOMEM;
}

static void store_fini(void *ctx)
{
	struct xsd *d = ctx;

	xs_store_destroy(d->store);
}

/* After the store (rings hold its connections), before the socket. */
static int hvd_init(void *ctx)
{
	struct xsd *d = ctx;
	int err;

	if (!d->opt.hvd_dir)
		return 0;
	err = xsd_hvd_create(d->opt.hvd_dir, d->loop, &d->log, &d->hvd);
	if (!err) {
		xsd_hvd_set_store(d->hvd, d->store);
		xslog_printf(&d->log, XSLOG_INFO, "rings through xenon-hvd in %s", d->opt.hvd_dir);
	}
	return err;
}

static void hvd_fini(void *ctx)
{
	struct xsd *d = ctx;

	xsd_hvd_destroy(d->hvd);
	d->hvd = NULL;
}

static int socket_init(void *ctx)
{
	struct xsd *d = ctx;
	const char *path = d->opt.socket_path;
	int err;

	if (!path) {
		err = path_join(d->socket_buf, sizeof(d->socket_buf), d->opt.run_dir, "socket");
		if (err)
			return err;
		path = d->socket_buf;
	}
	err = xs_socket_server_create(d->loop, d->store, path, &d->opt.lim, &d->log, &d->srv);
	if (!err)
		xslog_printf(&d->log, XSLOG_INFO, "listening on %s", path);
	return err;
}

static void socket_fini(void *ctx)
{
	struct xsd *d = ctx;

	xs_socket_server_destroy(d->srv);
}

static int pidfile_init(void *ctx)
{
	struct xsd *d = ctx;
	int err;

	if (!d->opt.run_dir)
		return 0;
	err = path_join(d->pid_path, sizeof(d->pid_path), d->opt.run_dir, "xenstored.pid");
	return err ? err : daemon_pidfile_write(d->pid_path);
}

static void pidfile_fini(void *ctx)
{
	struct xsd *d = ctx;

	if (d->opt.run_dir)
		daemon_pidfile_remove(d->pid_path);
}

/* Last step: everything is up, so tell whoever waits on --ready-fd. */
static int ready_init(void *ctx)
{
	struct xsd *d = ctx;

	return daemon_ready(&d->opt.ready_fd) ? -EIO : 0;
}

static const struct daemon_step init_steps[] = {
	{ "log", log_init, log_fini },
	{ "event loop", loop_init, loop_fini },
	{ "signals", signals_init, signals_fini },
	{ "store", store_init, store_fini },
	{ "xenon-hvd", hvd_init, hvd_fini },
	{ "socket", socket_init, socket_fini },
	{ "pid file", pidfile_init, pidfile_fini },
	{ "readiness", ready_init, NULL },
};

#define N_INIT_STEPS (sizeof(init_steps) / sizeof(init_steps[0]))

/* stderr has it already (daemon_up()); the log file keeps it too. */
static void up_failed(void *ctx, const char *step, int err)
{
	struct xsd *d = ctx;

	if (d->log.fd != STDERR_FILENO)
		xslog_printf(&d->log, XSLOG_ERR, "start-up failed at %s: %s", step, strerror(-err));
}

int main(int argc, char **argv)
{
	struct xsd *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return 1;
	d->log.fd = STDERR_FILENO;
	d->log.level = XSLOG_WARN;
	err = parse_options(&d->opt, argc, argv);
	if (err) {
		free(d);
		return err > 0 ? 0 : 2;
	}
	err = daemon_up(init_steps, N_INIT_STEPS, d, "xenon-xenstored", up_failed);
	if (err) {
		free(d);
		return 1;
	}
	err = xs_loop_run(d->loop);
	if (err)
		xslog_printf(&d->log, XSLOG_ERR, "event loop: %s", strerror(-err));
	daemon_down(init_steps, N_INIT_STEPS, d);
	free(d);
	return err ? 1 : 0;
}
