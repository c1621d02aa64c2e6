/*
 * The dom0 daemons xenon-hvd runs as service children: xenon-xenstored,
 * then the back ends xenon-consoled and xenon-blkback and the toolstack's
 * xenon-monitor (tools/xenon/monitor.c: it removes the store entries of
 * domains that die). One table (hvd_svc_descs[]) says what each is; start,
 * readiness, death and the bounded stop are the same code for all of them.
 * Below, "the back ends" means every service but xenstored.
 *
 * xenstored is the store: it starts first (at start-up, hvd_svcs_init),
 * and the back ends start once it said READY, since all of them find
 * their work through the store. It is never restarted: the store's contents
 * die with it. If it dies after READY, that is logged and xenon-hvd keeps
 * running its domains (their channels, grants and mapped rings do not
 * need the store; `xenon down` does not either), but nothing new can be
 * introduced. The back ends notice it within about a second (lib/dom0's
 * store probe). consoled and blkback say so once and run on: they keep
 * serving every console and vbd connected then (mapped rings need no
 * store), only find no new ones. The monitor, whose whole work is store
 * entries, exits. From then on no back end is restarted, whatever it died
 * of: without the store a new one would find no work, and a restart could
 * only fail to connect (said once per back end, the reason once).
 *
 * Restart policy for the back ends: they hold no state that is not also
 * in the store or the shared pages -- a new consoled re-reads
 * console/{ring-ref,port} and continues each ring from the page's own
 * out_cons; a new blkback probes every backend/vbd directory again (a
 * guest whose back end died has already seen its liveness byte drop,
 * blkback.h); a new monitor builds its table from /tool/xenon and sweeps
 * at once (monitor.c). So a back end that dies (kill -9, a crash) is
 * logged and restarted, at most HVD_SVC_MAX_RESTARTS times in our life, so
 * one that crashes on start cannot spin.
 *
 * Readiness, one rule for every service: after each start it must write
 * to its readiness pipe (daemon_ready(): "READY\n", then close) before it
 * closes the pipe or exits. Anything else is a failed start, and then
 *   - a service that was never READY (xenstored; a back end's first start)
 *     fails our start-up: we stop, exit status 1;
 *   - a restarted back end counts as one more death: restarted again while
 *     the budget lasts.
 * The pipe closing after READY is normal (daemon_ready() closes it).
 *
 * Three events, two fds; which comes first is the kernel's choice:
 *   - READY read: it is ready (also when read only once its pidfd fired:
 *     a READY written just before exiting counts, then it was lost);
 *   - its pidfd, no READY: it exited before it was ready. Reaped, logged
 *     with what it died of ("exit status N", "killed by signal S"), the
 *     rule above; nothing is sent to it;
 *   - pipe EOF, no READY: a process that exits closes its fds a moment
 *     before its pidfd turns readable, so EOF alone does not say which.
 *     Its pidfd already readable: it exited (as above). Otherwise it is
 *     given HVD_SVC_EXIT_GRACE_MS for the pidfd; still running then, it
 *     closed the pipe and runs on, saying it could not start: it is
 *     stopped, and once it has ended the rule applies.
 *
 * Neither the grace nor a stop holds the loop: domains and clients are
 * served meanwhile. The loop's wait is bounded by the nearest deadline
 * (hvd_svcs_timeout_ms) and hvd_svcs_tick acts on it: the grace's end
 * sends SIGTERM; HVD_SVC_STOP_TIMEOUT_MS later, SIGKILL (logged). Its
 * pidfd, still watched, says when it ended (hvd_svc_died_event reaps it):
 *
 *   pidfd, no READY ----------------------------> "exited before it was
 *   pipe EOF, no READY --(pidfd within grace)--^   ready: ..." -> the rule
 *        \--(grace over)--> SIGTERM, stopping --(pidfd)--> "stopped" -> the rule
 *                              \--(deadline)--> SIGKILL --(pidfd)--^
 *
 * While the grace runs, stop_deadline_ns holds its end (no stop has begun:
 * svc_closed_unready). Only our own shutdown (hvd_svcs_stop) waits for a
 * service, bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "hvd.h"

#define HVD_SVC_MAX_RESTARTS 5
/* SIGTERM, then this long, then SIGKILL (logged). Nothing of ours may
 * still block the service by then: the caller has closed every control
 * connection (see hvd_quiesce()). */
#define HVD_SVC_STOP_TIMEOUT_MS 5000
/* Pipe EOF without READY: how long its pidfd may take to say it exited
 * (the kernel closes a dying process's fds just before; microseconds). */
#define HVD_SVC_EXIT_GRACE_MS 100

struct hvd_svc_desc {
	const char *name;      /* in the log */
	const char *binary;    /* installed beside xenon-hvd */
	const char *build_rel; /* in the build tree, from dom0/hvd */
	const char *run_sub;   /* its --run-dir inside ours (NULL: ours) */
	bool store;	       /* xenstored (see the top of this file); gets --hvd */
};

static const struct hvd_svc_desc hvd_svc_descs[HVD_NR_SVCS] = {
	[HVD_SVC_XENSTORED] = { "xenstored", "xenon-xenstored", "../xenstored/xenon-xenstored",
				"xenstore", true },
	[HVD_SVC_CONSOLED] = { "consoled", "xenon-consoled", "../console/xenon-consoled", NULL,
			       false },
	[HVD_SVC_BLKBACK] = { "blkback", "xenon-blkback", "../blkback/xenon-blkback", NULL, false },
	[HVD_SVC_MONITOR] = { "monitor", "xenon-monitor", "../../tools/xenon/xenon-monitor", NULL,
			      false },
};

static const char *svc_name(const struct hvd_svc *s)
{
	return hvd_svc_descs[s->id].name;
}

static bool svc_is_store(const struct hvd_svc *s)
{
	return hvd_svc_descs[s->id].store;
}

/* The --NAME path if given, else beside us or in the build tree. */
static int svc_find(struct hvd *h, struct hvd_svc *s)
{
	const struct hvd_svc_desc *d = &hvd_svc_descs[s->id];
	const char *opt = h->opt.svc_path[s->id];

	if (opt) {
		snprintf(s->path, sizeof(s->path), "%s", opt);
		return access(s->path, X_OK) == 0 ? 0 : -errno;
	}
	return daemon_find_beside_self(d->binary, d->build_rel, s->path, sizeof(s->path));
}

static int svc_spawn(struct hvd *h, struct hvd_svc *s)
{
	const struct hvd_svc_desc *d = &hvd_svc_descs[s->id];
	char dir[4200], fdarg[16];
	char *argv[] = { s->path, "--run-dir", dir, "--ready-fd", fdarg, NULL, NULL, NULL, NULL };
	unsigned int n = 5;

	if (d->run_sub)
		snprintf(dir, sizeof(dir), "%s/%s", h->opt.run_dir, d->run_sub);
	else
		snprintf(dir, sizeof(dir), "%s", h->opt.run_dir);
	if (d->store) {
		argv[n++] = "--hvd";
		argv[n++] = (char *)h->opt.run_dir;
	}
	if (h->opt.verbosity)
		argv[n++] = "-v";
	return daemon_child_start(s->path, argv, fdarg, sizeof(fdarg), &s->pid, &s->ready_fd);
}

static void svc_close_ready(struct hvd *h, struct hvd_svc *s)
{
	if (s->ready_fd >= 0) {
		hvd_unwatch_fd(h, s->ready_fd);
		close(s->ready_fd);
	}
	s->ready_fd = -1;
}

static void svc_close_fds(struct hvd *h, struct hvd_svc *s)
{
	svc_close_ready(h, s);
	if (s->pidfd >= 0) {
		hvd_unwatch_fd(h, s->pidfd);
		close(s->pidfd);
	}
	s->pidfd = -1;
}

static void svc_log_hook(void *ctx, enum daemon_log_level level, const char *msg)
{
	hvd_log(ctx, (enum hv_log_level)level, "%s", msg);
}

static uint64_t svc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* What is left of a stop's bound, in ms (rounded up), 0 once it is past. */
static int svc_stop_left_ms(const struct hvd_svc *s, uint64_t now)
{
	if (now >= s->stop_deadline_ns)
		return 0;
	return (int)((s->stop_deadline_ns - now + 999999) / 1000000);
}

/* Bounded (HVD_SVC_STOP_TIMEOUT_MS, or what is left of a stop begun in
 * the loop), and reaped; no-op if not running. Blocks: for our own
 * shutdown (and a start that could not be watched). */
static void svc_stop(struct hvd *h, struct hvd_svc *s)
{
	struct daemon_logger lg = { svc_log_hook, h };
	int ms = s->stopping ? svc_stop_left_ms(s, svc_now_ns()) : HVD_SVC_STOP_TIMEOUT_MS;

	daemon_child_stop(svc_name(s), s->pid, s->pidfd, ms, &lg);
	s->pid = 0;
	s->stopping = s->killed = false;
	svc_close_fds(h, s);
}

/* Its pipe closed without READY while it ran, and no stop has begun:
 * the grace for its pidfd (top); stop_deadline_ns is the grace's end. */
static bool svc_closed_unready(const struct hvd_svc *s)
{
	return s->pid && s->ready_fd < 0 && !s->ready && !s->stopping;
}

/* A deadline the loop must wake for: a grace, or a stop before SIGKILL. */
static bool svc_has_deadline(const struct hvd_svc *s)
{
	return (s->stopping && !s->killed) || svc_closed_unready(s);
}

/* From the loop: SIGTERM, and its end comes as a pidfd event (top). */
static void svc_stop_begin(struct hvd *h, struct hvd_svc *s)
{
	svc_close_ready(h, s);
	if (s->stopping)
		return;
	kill(s->pid, SIGTERM);
	s->stopping = true;
	s->killed = false;
	s->stop_deadline_ns = svc_now_ns() + HVD_SVC_STOP_TIMEOUT_MS * 1000000ull;
	hvd_log(h, HV_LOG_INFO, "%s (pid %d): SIGTERM, SIGKILL in %d ms unless it ends",
		svc_name(s), (int)s->pid, HVD_SVC_STOP_TIMEOUT_MS);
}

static void svc_grace_over(struct hvd *h, struct hvd_svc *s);

int hvd_svcs_timeout_ms(const struct hvd *h)
{
	uint64_t now = 0;
	int best = -1;

	for (unsigned int i = 0; i < HVD_NR_SVCS; i++) {
		const struct hvd_svc *s = &h->svc[i];
		int left;

		if (!svc_has_deadline(s))
			continue;
		if (!now)
			now = svc_now_ns();
		left = svc_stop_left_ms(s, now);
		if (best < 0 || left < best)
			best = left;
	}
	return best;
}

void hvd_svcs_tick(struct hvd *h)
{
	uint64_t now = 0;

	for (unsigned int i = 0; i < HVD_NR_SVCS; i++) {
		struct hvd_svc *s = &h->svc[i];

		if (!svc_has_deadline(s))
			continue;
		if (!now)
			now = svc_now_ns();
		if (svc_stop_left_ms(s, now))
			continue;
		if (svc_closed_unready(s)) {
			svc_grace_over(h, s);
			continue;
		}
		hvd_log(h, HV_LOG_ERR, "%s (pid %d) still running %d ms after SIGTERM: SIGKILL",
			svc_name(s), (int)s->pid, HVD_SVC_STOP_TIMEOUT_MS);
		kill(s->pid, SIGKILL); /* unreaped: the pid is still its own */
		s->killed = true;
	}
}

/* The readiness pipe is non-blocking: an event left over from a previous
 * run of the service (the same source, see hvd_svc_died_event()) must not
 * block the loop on the new run's empty pipe. */
static int svc_watch(struct hvd *h, struct hvd_svc *s)
{
	int err;

	s->pidfd = daemon_pidfd_open(s->pid);
	if (s->pidfd < 0)
		return s->pidfd;
	if (fcntl(s->ready_fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	s->ready_src = (struct hvd_source){ HVD_SRC_SVC_READY, s, 0 };
	s->pid_src = (struct hvd_source){ HVD_SRC_SVC_PIDFD, s, 0 };
	err = hvd_watch_fd(h, s->ready_fd, &s->ready_src);
	if (!err)
		err = hvd_watch_fd(h, s->pidfd, &s->pid_src);
	return err;
}

static int svc_start(struct hvd *h, struct hvd_svc *s)
{
	int err;

	s->ready = false;
	err = svc_spawn(h, s);
	if (err)
		return err;
	err = svc_watch(h, s);
	if (err) {
		svc_stop(h, s);
		return err;
	}
	hvd_log(h, HV_LOG_INFO, "%s started: %s, pid %d", svc_name(s), s->path, (int)s->pid);
	return 0;
}

/* Every wanted binary is found first, so a missing one fails start-up
 * before anything runs; then xenstored starts (the back ends wait for its
 * READY). */
int hvd_svcs_init(struct hvd *h)
{
	struct hvd_svc *store = &h->svc[HVD_SVC_XENSTORED];
	int err;

	for (unsigned int i = 0; i < HVD_NR_SVCS; i++) {
		struct hvd_svc *s = &h->svc[i];

		*s = (struct hvd_svc){ .h = h, .id = i, .pidfd = -1, .ready_fd = -1 };
		s->wanted = !h->opt.no_svc[HVD_SVC_XENSTORED] && !h->opt.no_svc[i];
		if (!s->wanted)
			continue;
		err = svc_find(h, s);
		if (err) {
			hvd_log(h, HV_LOG_ERR, "%s not found: %s", svc_name(s), strerror(-err));
			return err;
		}
	}
	return store->wanted ? svc_start(h, store) : 0;
}

void hvd_svcs_fini(struct hvd *h)
{
	hvd_svcs_stop(h);
}

/* Once xenstored is ready: every wanted back end, in table order. */
static int svcs_start_backends(struct hvd *h)
{
	int err;

	for (unsigned int i = 0; i < HVD_NR_SVCS; i++) {
		struct hvd_svc *s = &h->svc[i];

		if (!s->wanted || svc_is_store(s))
			continue;
		err = svc_start(h, s);
		if (err) {
			hvd_log(h, HV_LOG_ERR, "starting %s: %s", svc_name(s), strerror(-err));
			return err;
		}
	}
	return 0;
}

/* In reverse table order: the monitor and the back ends, then xenstored
 * (no-op for those not running). */
void hvd_svcs_stop(struct hvd *h)
{
	for (unsigned int i = HVD_NR_SVCS; i-- > 0;)
		svc_stop(h, &h->svc[i]);
}

bool hvd_svcs_ready(const struct hvd *h)
{
	for (unsigned int i = 0; i < HVD_NR_SVCS; i++)
		if (h->svc[i].wanted && !h->svc[i].ever_ready)
			return false;
	return true;
}

static void svcs_fail_startup(struct hvd *h)
{
	h->stop = true;
	h->exit_code = 1;
}

static void svc_said_ready(struct hvd *h, struct hvd_svc *s)
{
	bool first = !s->ever_ready;

	s->ready = s->ever_ready = true;
	if (first && svc_is_store(s) && svcs_start_backends(h) < 0) {
		svcs_fail_startup(h);
		return;
	}
	hvd_services_ready(h);
}

/* Whether its process has ended: the pidfd is readable. */
static bool svc_exited(const struct hvd_svc *s)
{
	struct pollfd p = { s->pidfd, POLLIN, 0 };

	return s->pidfd >= 0 && poll(&p, 1, 0) > 0;
}

/* xenstored was READY and has ended since (reaped, or its pidfd says so
 * in an event of this batch not handled yet): it is never restarted. */
static bool svc_store_gone(const struct hvd *h)
{
	const struct hvd_svc *st = &h->svc[HVD_SVC_XENSTORED];

	return st->wanted && st->ever_ready && (!st->pid || svc_exited(st));
}

/* A back end that was READY before died or failed a restart: again,
 * while the budget lasts and the store is there. */
static void svc_restart(struct hvd *h, struct hvd_svc *s)
{
	int err;

	if (svc_store_gone(h)) {
		hvd_log(h, HV_LOG_ERR, "%s is not restarted: xenstored is gone", svc_name(s));
		return;
	}
	if (s->restarts >= HVD_SVC_MAX_RESTARTS) {
		hvd_log(h, HV_LOG_ERR,
			"%s restarted %d times: not again; its work is left undone until xenon-hvd "
			"restarts",
			svc_name(s), HVD_SVC_MAX_RESTARTS);
		return;
	}
	s->restarts++;
	err = svc_start(h, s);
	hvd_log(h, err ? HV_LOG_ERR : HV_LOG_INFO, "%s restart %d/%d: %s", svc_name(s), s->restarts,
		HVD_SVC_MAX_RESTARTS, err ? strerror(-err) : "started");
}

/* It is gone (reaped, fds closed) without having said READY since its
 * last start: see "Readiness" at the top of this file. */
static void svc_failed_start(struct hvd *h, struct hvd_svc *s)
{
	if (h->stop)
		return;
	if (!s->ever_ready) {
		hvd_log(h, HV_LOG_ERR, "%s failed to start: stopping", svc_name(s));
		svcs_fail_startup(h);
		return;
	}
	svc_restart(h, s);
}

/* It exited after READY (the start was fine). */
static void svc_lost(struct hvd *h, struct hvd_svc *s)
{
	if (h->stop)
		return;
	if (svc_is_store(s)) {
		hvd_log(h, HV_LOG_ERR,
			"%s is not restarted (the store died with it): no domain can be "
			"introduced, and no back end is restarted from now on (without the "
			"store they have no work)",
			svc_name(s));
		return;
	}
	svc_restart(h, s);
}

void hvd_svcs_known_children(void *ctx, pid_t *pids, unsigned int n)
{
	struct hvd *h = ctx;
	unsigned int i, k;

	for (i = 0; i < HVD_NR_SVCS; i++) {
		for (k = 0; h->svc[i].pid > 0 && k < n; k++) {
			if (pids[k] == h->svc[i].pid)
				pids[k] = 0;
		}
	}
}

/* One read of its readiness pipe: 1 a word (READY), 0 EOF, -1 nothing
 * (EAGAIN: left over from a previous run; EINTR) or closed already. */
static int svc_read_ready(struct hvd_svc *s)
{
	char buf[16];
	ssize_t n;

	if (s->ready_fd < 0)
		return -1;
	n = read(s->ready_fd, buf, sizeof(buf));
	return n > 0 ? 1 : n == 0 ? 0 : -1;
}

/* Its process ended: reaped, its fds closed; the wait status. */
static int svc_reap(struct hvd *h, struct hvd_svc *s)
{
	int status = 0;

	waitpid(s->pid, &status, WNOHANG);
	s->pid = 0;
	s->stopping = s->killed = false;
	s->stop_deadline_ns = 0; /* no stop, no grace: none is read (svc_has_deadline) */
	svc_close_fds(h, s);
	return status;
}

/* "exit status N", "killed by signal S" */
static const char *svc_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "wait status %#x", status);
	return buf;
}

/* Its pidfd says it ended: which of the three ends (top) it was. */
static void svc_ended(struct hvd *h, struct hvd_svc *s)
{
	bool stopped = s->stopping, ready = s->ready;
	int status = svc_reap(h, s);
	char how[48];

	if (stopped) {
		/* A failed start we stopped (or that ended as we did). */
		hvd_log(h, HV_LOG_INFO, "%s stopped (wait status %#x)", svc_name(s), status);
		svc_failed_start(h, s);
	} else if (ready) {
		hvd_log(h, HV_LOG_ERR, "%s exited (wait status %#x)", svc_name(s), status);
		svc_lost(h, s);
	} else {
		hvd_log(h, HV_LOG_ERR, "%s exited before it was ready: %s", svc_name(s),
			svc_status_str(status, how, sizeof(how)));
		svc_failed_start(h, s);
	}
}

/* The grace after its pipe's EOF is over: exited after all (its pidfd's
 * event not seen yet), or it runs on and is stopped (top). */
static void svc_grace_over(struct hvd *h, struct hvd_svc *s)
{
	if (svc_exited(s)) {
		svc_ended(h, s);
		return;
	}
	hvd_log(h, HV_LOG_ERR, "%s closed its readiness pipe without saying READY", svc_name(s));
	svc_stop_begin(h, s);
}

void hvd_svc_ready_event(struct hvd_svc *s)
{
	struct hvd *h = s->h;
	int rc = svc_read_ready(s);

	if (rc > 0 && !s->ready)
		svc_said_ready(h, s);
	if (rc != 0)
		return; /* a word, nothing yet, or closed earlier in this batch */
	svc_close_ready(h, s);
	if (s->ready)
		return;
	/* EOF without READY: an exit, or a start it gave up (top). */
	if (svc_exited(s)) {
		svc_ended(h, s);
		return;
	}
	s->stop_deadline_ns = svc_now_ns() + HVD_SVC_EXIT_GRACE_MS * 1000000ull;
}

void hvd_svc_died_event(struct hvd_svc *s)
{
	/* An event of this batch may name a run of the service that another
	 * event already reaped (and maybe replaced): only a pidfd that says
	 * so now means the current run ended. */
	if (!svc_exited(s))
		return;
	/* A READY it wrote just before exiting counts, whichever of the two
	 * events this batch gave us first. */
	if (!s->ready && svc_read_ready(s) > 0)
		svc_said_ready(s->h, s);
	svc_ended(s->h, s);
}
