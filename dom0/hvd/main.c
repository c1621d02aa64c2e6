/*
 * xenon-hvd: the hypervisor daemon for process domains.
 *
 * It hosts the core (hypervisor/) with the process substrate (procdom)
 * behind it, answers dom0's control socket D/hvd.sock, serves every domain's
 * per-vCPU hypercall socket, and watches every domain's process. Design:
 * docs/process-domains.md; wire protocol: substrate/proc/procdom_proto.h.
 *
 * Start-up is an ordered table (init_steps[]) undone in reverse on failure
 * and at exit: log, signals, loop, substrate, spawner, core, dom0, control socket,
 * pid file, services. Readiness (--ready-fd) is signalled only when the
 * dom0 services (services.c) xenstored, then the back ends xenon-consoled
 * and xenon-blkback and the toolstack's xenon-monitor (started once
 * xenstored is ready: they watch the store) have said they are ready,
 * which they can only do while we already serve the control socket (they
 * bind ports and map grants through it) -- so readiness is an event in the
 * loop, not a blocking wait.
 *
 * SIGTERM/SIGINT: every domain is destroyed, every control connection
 * closed, the services and then xenstored stopped (SIGTERM, bounded wait,
 * then SIGKILL), the socket and pid file removed, exit 0 (hvd_quiesce()).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon.h"
#include "hvd.h"

static const char usage_text[] =
	"NAME\n"
	"    xenon-hvd - the hypervisor daemon for process domains\n"
	"\n"
	"SYNOPSIS\n"
	"    xenon-hvd --run-dir DIR [--ready-fd N] [OPTION]...\n"
	"\n"
	"DESCRIPTION\n"
	"    Hosts the xenon hypervisor core; domains run as processes. dom0's\n"
	"    clients talk to it on DIR/hvd.sock (mode 0600). It starts\n"
	"    xenon-xenstored (DIR/xenstore) and then the back ends xenon-consoled\n"
	"    (DIR/console) and xenon-blkback (DIR/blkback), and the toolstack's\n"
	"    xenon-monitor (DIR/monitor.log), each restarted if it dies, as dom0\n"
	"    services.\n"
	"\n"
	"OPTIONS\n"
	"    --run-dir DIR          socket, pid file, logs (created 0700)\n"
	"    --ready-fd N           write \"READY\\n\" to fd N once serving\n"
	"    --dom0-reserve LIST    PORT:DOMID,...: dom0 ports reserved for\n"
	"                           domains to come (seed 002: 121:1,122:2,...)\n"
	"    --xenstored PATH       the XenStore daemon (default: next to us)\n"
	"    --no-xenstored         do not start one (nor consoled, blkback, monitor)\n"
	"    --consoled PATH        the console back end (default: next to us)\n"
	"    --no-consoled          do not start one\n"
	"    --blkback PATH         the block back end (default: next to us)\n"
	"    --no-blkback           do not start one\n"
	"    --monitor PATH         removes dead domains' store entries (default:\n"
	"                           next to us, or the build tree's tools/xenon)\n"
	"    --no-monitor           do not start one\n"
	"    --no-standby           no templates: start each domain's program\n"
	"                           (exec) when its domain is created; by default\n"
	"                           the program last started is started once more\n"
	"                           ahead of time, as a template, and each next\n"
	"                           domain of that program is a child it forks\n"
	"                           (ps shows the template as xenon-standby)\n"
	"    -v, --verbose          log more (repeat for debug)\n"
	"    -h, --help             this text\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after SIGTERM/SIGINT, 1 if start-up or the loop failed, 2 on bad usage.\n";

void hvd_log(struct hvd *h, enum hv_log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level > HV_LOG_WARN + h->opt.verbosity)
		return;
	va_start(ap, fmt);
	daemon_vlog(h->log_fd, "xenon-hvd", (enum daemon_log_level)level, fmt, ap);
	va_end(ap);
}

int hvd_watch_fd(struct hvd *h, int fd, struct hvd_source *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	return epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void hvd_unwatch_fd(struct hvd *h, int fd)
{
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- options ---------------------------------------------------------- */

static int parse_reserve(struct hvd_options *o, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		unsigned long port, domid;
		char *end;

		port = strtoul(tok, &end, 10);
		if (*end != ':' || end == tok) {
			err = -EINVAL;
			break;
		}
		domid = strtoul(end + 1, &end, 10);
		if (*end || !port || port >= HVD_DOM0_PORTS || !domid ||
		    domid >= DOMID_FIRST_RESERVED || o->nr_reserve >= HV_MAX_PREBOUND)
			err = -EINVAL;
		else
			o->reserve[o->nr_reserve++] =
				(struct hv_evtchn_reserve){ 0, (evtchn_port_t)port,
							    (domid_t)domid };
	}
	free(copy);
	return err;
}

enum {
	OPT_RUN_DIR = 256,
	OPT_READY_FD,
	OPT_RESERVE,
	OPT_XENSTORED,
	OPT_NO_XENSTORED,
	OPT_CONSOLED,
	OPT_NO_CONSOLED,
	OPT_BLKBACK,
	OPT_NO_BLKBACK,
	OPT_MONITOR,
	OPT_NO_MONITOR,
	OPT_NO_STANDBY,
};

static const struct option long_options[] = {
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "dom0-reserve", required_argument, NULL, OPT_RESERVE },
	{ "xenstored", required_argument, NULL, OPT_XENSTORED },
	{ "no-xenstored", no_argument, NULL, OPT_NO_XENSTORED },
	{ "consoled", required_argument, NULL, OPT_CONSOLED },
	{ "no-consoled", no_argument, NULL, OPT_NO_CONSOLED },
	{ "blkback", required_argument, NULL, OPT_BLKBACK },
	{ "no-blkback", no_argument, NULL, OPT_NO_BLKBACK },
	{ "monitor", required_argument, NULL, OPT_MONITOR },
	{ "no-monitor", no_argument, NULL, OPT_NO_MONITOR },
	{ "no-standby", no_argument, NULL, OPT_NO_STANDBY },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_one(struct hvd_options *o, int opt, const char *arg)
{
	char *end;

	switch (opt) {
	case OPT_RUN_DIR:
		o->run_dir = arg;
		return 0;
	case OPT_READY_FD:
		o->ready_fd = (int)strtol(arg, &end, 10);
		return *end || end == arg || o->ready_fd < 0 ? -EINVAL : 0;
	case OPT_RESERVE:
		return parse_reserve(o, arg);
	case OPT_XENSTORED:
		o->svc_path[HVD_SVC_XENSTORED] = arg;
		return 0;
	case OPT_NO_XENSTORED:
		o->no_svc[HVD_SVC_XENSTORED] = true;
		return 0;
	case OPT_CONSOLED:
		o->svc_path[HVD_SVC_CONSOLED] = arg;
		return 0;
	case OPT_NO_CONSOLED:
		o->no_svc[HVD_SVC_CONSOLED] = true;
		return 0;
	case OPT_BLKBACK:
		o->svc_path[HVD_SVC_BLKBACK] = arg;
		return 0;
	case OPT_NO_BLKBACK:
		o->no_svc[HVD_SVC_BLKBACK] = true;
		return 0;
	case OPT_MONITOR:
		o->svc_path[HVD_SVC_MONITOR] = arg;
		return 0;
	case OPT_NO_MONITOR:
		o->no_svc[HVD_SVC_MONITOR] = true;
		return 0;
	case OPT_NO_STANDBY:
		o->no_standby = true;
		return 0;
	case 'v':
		o->verbosity++;
		return 0;
	}
	return -EINVAL;
}

/* 0: run; 1: --help; -EINVAL: bad usage. */
static int parse_options(struct hvd_options *o, int argc, char **argv)
{
	int opt;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	while ((opt = getopt_long(argc, argv, "vh", long_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (opt == '?' || parse_one(o, opt, optarg)) {
			fprintf(stderr, "xenon-hvd: bad argument: %s\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc || !o->run_dir) {
		fprintf(stderr, "xenon-hvd: %s\n",
			o->run_dir ? "unexpected argument" : "--run-dir is required");
		return -EINVAL;
	}
	return 0;
}

/* ---- init steps ------------------------------------------------------- */

/* Steps take void *: one table type (struct daemon_step) for every daemon. */

static int log_init(void *ctx)
{
	struct hvd *h = ctx;
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/hvd.log", h->opt.run_dir);
	fd = daemon_log_open(h->opt.run_dir, path);
	if (fd < 0)
		return fd;
	h->log_fd = fd;
	return 0;
}

static void log_fini(void *ctx)
{
	struct hvd *h = ctx;

	daemon_log_close(&h->log_fd);
}

static int loop_init(void *ctx)
{
	struct hvd *h = ctx;

	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	return h->epfd < 0 ? -errno : 0;
}

static void loop_fini(void *ctx)
{
	struct hvd *h = ctx;

	close(h->epfd);
}

static int signals_init(void *ctx)
{
	struct hvd *h = ctx;
	int err;

	h->sig_fd = daemon_signals_open(&h->old_mask);
	if (h->sig_fd < 0)
		return h->sig_fd;
	h->sig_src = (struct hvd_source){ HVD_SRC_SIGNAL, h, 0 };
	err = hvd_watch_fd(h, h->sig_fd, &h->sig_src);
	if (err)
		daemon_signals_close(h->sig_fd, &h->old_mask);
	return err;
}

static void signals_fini(void *ctx)
{
	struct hvd *h = ctx;

	hvd_unwatch_fd(h, h->sig_fd);
	daemon_signals_close(h->sig_fd, &h->old_mask);
}

static int substrate_init(void *ctx)
{
	struct hvd *h = ctx;
	struct procdom_hooks hooks = hvd_procdom_hooks_template;
	int err;

	hooks.ctx = h;
	h->doms = calloc(DOMID_FIRST_RESERVED, sizeof(*h->doms));
	if (!h->doms)
		return -ENOMEM;
	err = procdom_create(&hooks, &h->pd);
	if (!err) {
		h->timer_src = (struct hvd_source){ HVD_SRC_TIMER, h, 0 };
		err = hvd_watch_fd(h, procdom_timer_fd(h->pd), &h->timer_src);
		if (err)
			procdom_destroy(h->pd);
	}
	if (err)
		free(h->doms);
	return err;
}

static void substrate_fini(void *ctx)
{
	struct hvd *h = ctx;

	hvd_unwatch_fd(h, procdom_timer_fd(h->pd));
	procdom_destroy(h->pd);
	free(h->doms);
}

/* Domain processes are spawned by a small process forked now, while we
 * hold few fds (procdom.h): spawning from here later would copy ~5 fds per
 * live domain into every child. It keeps a template unless --no-standby. */
static int spawner_init(void *ctx)
{
	struct hvd *h = ctx;
	int err;

	procdom_set_standby(h->pd, !h->opt.no_standby);
	err = procdom_start_spawner(h->pd);

	if (!err)
		hvd_spawner_watch(h);
	return err;
}

static void spawner_fini(void *ctx)
{
	struct hvd *h = ctx;

	procdom_stop_spawner(h->pd);
}

static int core_init(void *ctx)
{
	struct hvd *h = ctx;

	h->hv = hv_create(&procdom_substrate_ops, h->pd, NULL);
	if (!h->hv)
		return -ENOMEM;
	procdom_attach(h->pd, h->hv);
	return 0;
}

static void core_fini(void *ctx)
{
	struct hvd *h = ctx;

	hv_destroy(h->hv);
	procdom_attach(h->pd, NULL);
}

static int dom0_init(void *ctx)
{
	return hvd_dom0_create(ctx);
}

/* Every domain goes, dom0 last, while the core and substrate still exist. */
static void dom0_fini(void *ctx)
{
	hvd_domains_destroy_all(ctx);
}

static int ctl_init(void *ctx)
{
	struct hvd *h = ctx;
	int n = snprintf(h->sock_path, sizeof(h->sock_path), "%s/hvd.sock", h->opt.run_dir);

	if (n < 0 || (size_t)n >= sizeof(h->sock_path))
		return -ENAMETOOLONG;
	return hvd_ctl_init(h);
}

static void ctl_fini(void *ctx)
{
	hvd_ctl_fini(ctx);
}

static int pidfile_init(void *ctx)
{
	struct hvd *h = ctx;

	snprintf(h->pid_path, sizeof(h->pid_path), "%s/hvd.pid", h->opt.run_dir);
	return daemon_pidfile_write(h->pid_path);
}

static void pidfile_fini(void *ctx)
{
	struct hvd *h = ctx;

	daemon_pidfile_remove(h->pid_path);
}

/* ---- readiness --------------------------------------------------------- */

static void signal_readiness(struct hvd *h)
{
	int err;

	if (h->ready_signalled)
		return;
	h->ready_signalled = true;
	hvd_log(h, HV_LOG_INFO, "ready on %s", h->sock_path);
	err = daemon_ready(&h->opt.ready_fd);
	if (err)
		hvd_log(h, HV_LOG_WARN, "readiness fd: %s", strerror(-err));
}

/* Ready when each wanted service is: xenstored, then the back ends. */
void hvd_services_ready(struct hvd *h)
{
	if (hvd_svcs_ready(h))
		signal_readiness(h);
}

/* Last step: without services we are ready now; with them, when they are. */
static int ready_init(void *ctx)
{
	hvd_services_ready(ctx);
	return 0;
}

static int svcs_init(void *ctx)
{
	return hvd_svcs_init(ctx);
}

static void svcs_fini(void *ctx)
{
	hvd_svcs_fini(ctx);
}

static const struct daemon_step init_steps[] = {
	{ "log", log_init, log_fini },
	{ "event loop", loop_init, loop_fini },
	{ "signals", signals_init, signals_fini },
	{ "substrate", substrate_init, substrate_fini },
	{ "spawner", spawner_init, spawner_fini },
	{ "core", core_init, core_fini },
	{ "dom0", dom0_init, dom0_fini },
	{ "control socket", ctl_init, ctl_fini },
	{ "pid file", pidfile_init, pidfile_fini },
	{ "services", svcs_init, svcs_fini },
	{ "readiness", ready_init, NULL },
};

#define N_INIT_STEPS (sizeof(init_steps) / sizeof(init_steps[0]))

static void up_failed(void *ctx, const char *step, int err)
{
	hvd_log(ctx, HV_LOG_ERR, "start-up failed at %s: %s", step, strerror(-err));
}

/* ---- the loop --------------------------------------------------------- */

static void signal_event(struct hvd *h)
{
	unsigned int signo = daemon_signal_read(h->sig_fd);

	if (!signo)
		return;
	hvd_log(h, HV_LOG_INFO, "signal %u: stopping", signo);
	h->stop = true;
}

static void dispatch(struct hvd *h, struct hvd_source *src)
{
	switch (src->kind) {
	case HVD_SRC_SIGNAL:
		signal_event(h);
		break;
	case HVD_SRC_TIMER:
		procdom_timers_expired(h->pd);
		break;
	case HVD_SRC_CTL_LISTEN:
		hvd_ctl_accept(h);
		break;
	case HVD_SRC_CONN:
		hvd_conn_ready(src->obj);
		break;
	case HVD_SRC_HC:
		hvd_domain_hc_ready(src->obj, src->vcpu);
		break;
	case HVD_SRC_PIDFD:
		hvd_domain_died(src->obj);
		break;
	case HVD_SRC_SPAWNER:
		hvd_spawner_event(h);
		break;
	case HVD_SRC_SVC_PIDFD:
		hvd_svc_died_event(src->obj);
		break;
	case HVD_SRC_SVC_READY:
		hvd_svc_ready_event(src->obj);
		break;
	}
}

/* Work recorded during the events: dom0's events out to their owners,
 * dead or shut-down domains and closed connections torn down. Repeated
 * because a teardown (VIRQ_DOM_EXC) can kick dom0 again. */
static void after_events(struct hvd *h)
{
	unsigned int i;

	for (i = 0; i < 4 && (h->dom0_kicked || h->have_deferred); i++) {
		hvd_dom0_deliver(h);
		hvd_domains_reap(h);
		hvd_conns_reap(h);
	}
	hvd_gnt_retry_deferred(h);
}

/* The earlier of two deadlines (-1: none). */
static int hvd_loop_timeout_ms(struct hvd *h)
{
	int a = hvd_svcs_timeout_ms(h), b = procdom_spawns_timeout_ms(h->pd);

	if (a < 0 || (b >= 0 && b < a))
		return b;
	return a;
}

static int hvd_run(struct hvd *h)
{
	struct epoll_event evs[64];
	int n, i;

	while (!h->stop) {
		/* A service being stopped, or in the READY grace after its pipe
		 * closed unready (svc_closed_unready()), has a deadline:
		 * stop_deadline_ns (services.c); a process the spawner's side
		 * killed is reaped by a tick. */
		n = epoll_wait(h->epfd, evs, 64, hvd_loop_timeout_ms(h));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			dispatch(h, evs[i].data.ptr);
		after_events(h);
		hvd_svcs_tick(h);
		procdom_spawns_tick(h->pd);
	}
	return 0;
}

/*
 * The loop has stopped; undo the world before the init table unwinds.
 * xenstored, told to stop, unbinds its ports through hvd.sock and waits for
 * each reply -- which a daemon blocked in waitpid() for xenstored never
 * sends (the hang this order exists for). So: domUs first (their processes
 * killed and reaped, the core tears them down), then every control
 * connection closed (a client blocked on us sees the hang-up), and only then
 * the services (blkback, then consoled, which drains each ring one last
 * time) and xenstored stopped, each with a bounded wait.
 */
static void hvd_quiesce(struct hvd *h)
{
	hvd_domains_destroy_domus(h);
	hvd_ctl_close_conns(h);
	hvd_svcs_stop(h);
}

int main(int argc, char **argv)
{
	struct hvd *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return 1;
	h->log_fd = STDERR_FILENO;
	err = parse_options(&h->opt, argc, argv);
	if (err) {
		free(h);
		return err > 0 ? 0 : 2;
	}
	if (daemon_up(init_steps, N_INIT_STEPS, h, "xenon-hvd", up_failed)) {
		free(h);
		return 1;
	}
	err = hvd_run(h);
	if (err)
		hvd_log(h, HV_LOG_ERR, "event loop: %s", strerror(-err));
	hvd_quiesce(h);
	daemon_down(init_steps, N_INIT_STEPS, h);
	err = err ? 1 : h->exit_code;
	free(h);
	return err;
}
