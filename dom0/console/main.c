/*
 * xenon-consoled --run-dir D [--ready-fd N] [-v]: the console back end
 * (design in consoled.h). xenon-hvd starts it once xenstored is ready, with
 * its own run dir as D; it serves D/console/dN.{log,sock}.
 *
 * Start-up is an ordered table undone in reverse: log, signals, loop,
 * xenon-hvd (an event channel handle and a control connection), XenStore
 * (watches), readiness. SIGTERM/SIGINT: every console drained one last
 * time and closed, exit 0. Losing xenon-hvd stops us too: without it no
 * ring can be served. Losing xenstored does not: the consoles served then
 * are served on, no new one is found (consoled.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "consoled.h"
#include "daemon.h"

static const char usage_text[] =
	"Usage: xenon-consoled --run-dir DIR [--ready-fd N] [-v]\n"
	"  The console back end for xenon-hvd's domains: each domain's output\n"
	"  goes to DIR/console/dN.log; DIR/console/dN.sock attaches to it\n"
	"  (`xenon console N`). Started by xenon-hvd; exits 0 on SIGTERM.\n";

void cd_log(struct cd *cd, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > CD_WARN + cd->opts.verbosity)
		return;
	va_start(ap, fmt);
	daemon_vlog(cd->log_fd, "xenon-consoled", (enum daemon_log_level)level, fmt, ap);
	va_end(ap);
}

int cd_epoll_set(struct cd *cd, int fd, uint32_t old_events, uint32_t events, struct cd_src *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	int op = !old_events ? EPOLL_CTL_ADD : !events ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;

	if (!old_events && !events)
		return 0;
	return epoll_ctl(cd->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* ---- init steps ------------------------------------------------------- */

/* Steps take void *: one table type (struct daemon_step) for every daemon. */

static int log_init(void *ctx)
{
	struct cd *cd = ctx;
	char path[PATH_MAX + 16];
	int n = snprintf(cd->dir, sizeof(cd->dir), "%s/console", cd->opts.run_dir);
	int fd;

	if (n < 0 || (size_t)n >= sizeof(cd->dir))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/consoled.log", cd->dir);
	fd = daemon_log_open(cd->dir, path);
	if (fd < 0)
		return fd;
	cd->log_fd = fd;
	return 0;
}

static void log_fini(void *ctx)
{
	struct cd *cd = ctx;

	daemon_log_close(&cd->log_fd);
}

static int loop_init(void *ctx)
{
	struct cd *cd = ctx;

	cd->epfd = epoll_create1(EPOLL_CLOEXEC);
	return cd->epfd < 0 ? -errno : 0;
}

static void loop_fini(void *ctx)
{
	struct cd *cd = ctx;

	close(cd->epfd);
}

/* The mask is not restored: we exit right after the table unwinds. */
static int signals_init(void *ctx)
{
	struct cd *cd = ctx;

	cd->sig_fd = daemon_signals_open(NULL);
	if (cd->sig_fd < 0)
		return cd->sig_fd;
	cd->sig_src = (struct cd_src){ CD_SRC_SIGNAL, cd };
	return cd_epoll_set(cd, cd->sig_fd, 0, EPOLLIN, &cd->sig_src);
}

static void signals_fini(void *ctx)
{
	struct cd *cd = ctx;

	daemon_signals_close(cd->sig_fd, NULL);
}

static int hvd_init(void *ctx)
{
	struct cd *cd = ctx;
	int err;

	/* Ports as the FIFO ABI bounds them, whichever ABI dom0 uses: the
	 * tables grow only as far as the highest id stored. */
	idtab_init(&cd->by_port, sizeof(struct cd_console *), EVTCHN_FIFO_NR_CHANNELS);
	idtab_init(&cd->by_domid, sizeof(struct cd_console *), DOMID_FIRST_RESERVED);
	idtab_init(&cd->bare, sizeof(int32_t), DOMID_FIRST_RESERVED);
	err = xenon_evtchn_open(cd->opts.run_dir, &cd->xe);
	if (!err)
		err = xenon_ctl_open(cd->opts.run_dir, &cd->ctl);
	if (!err) {
		cd->ev_src = (struct cd_src){ CD_SRC_EVTCHN, cd };
		err = cd_epoll_set(cd, xenon_evtchn_fd(cd->xe), 0, EPOLLIN, &cd->ev_src);
	}
	if (err) {
		xenon_ctl_close(cd->ctl);
		xenon_evtchn_close(cd->xe);
	}
	return err;
}

/* Consoles first: they unbind through the handle. */
static void hvd_fini(void *ctx)
{
	struct cd *cd = ctx;

	while (cd->nr_cons) {
		struct cd_console *con = cd->cons[--cd->nr_cons];

		if (!con->dead && !con->broken && con->page)
			cd_console_service(con); /* the last output */
		cd_console_free(con);
	}
	cd->reap_list = NULL;
	xenon_ctl_close(cd->ctl);
	xenon_evtchn_close(cd->xe);
	idtab_fini(&cd->by_port);
	idtab_fini(&cd->by_domid);
	idtab_fini(&cd->bare);
	xenon_domains_fini(&cd->doms);
	xenon_domains_fini(&cd->fresh);
	free(cd->waiting);
}

static int xs_init(void *ctx)
{
	struct cd *cd = ctx;
	int err = xenon_store_open(cd->opts.run_dir, &cd->xs);

	if (err)
		return err;
	/* Each fires once at registration: the first scan and check. */
	if (!xs_watch(cd->xs, "@introduceDomain", "intro") ||
	    !xs_watch(cd->xs, "@releaseDomain", "release")) {
		xs_close(cd->xs);
		return errno ? -errno : -EIO;
	}
	cd->xs_src = (struct cd_src){ CD_SRC_XS, cd };
	return cd_epoll_set(cd, xs_fileno(cd->xs), 0, EPOLLIN, &cd->xs_src);
}

static void xs_fini(void *ctx)
{
	struct cd *cd = ctx;

	xs_close(cd->xs);
}

static int ready_init(void *ctx)
{
	struct cd *cd = ctx;
	int err;

	cd_log(cd, CD_INFO, "ready, serving %s", cd->dir);
	err = daemon_ready(&cd->opts.ready_fd);
	if (err)
		cd_log(cd, CD_WARN, "readiness fd: %s", strerror(-err));
	return 0;
}

static const struct daemon_step init_steps[] = {
	{ "log", log_init, log_fini },
	{ "event loop", loop_init, loop_fini },
	{ "signals", signals_init, signals_fini },
	{ "xenon-hvd", hvd_init, hvd_fini },
	{ "xenstore", xs_init, xs_fini },
	{ "readiness", ready_init, NULL },
};

#define N_INIT_STEPS (sizeof(init_steps) / sizeof(init_steps[0]))

static void up_failed(void *ctx, const char *step, int err)
{
	cd_log(ctx, CD_ERR, "start-up failed at %s: %s", step, strerror(-err));
}

/* ---- domains ---------------------------------------------------------- */

static bool xs_read_ulong(struct cd *cd, unsigned int domid, const char *key, unsigned long *ret)
{
	char path[64], *val, *end;
	unsigned int len;
	bool ok;

	snprintf(path, sizeof(path), "/local/domain/%u/console/%s", domid, key);
	val = xs_read(cd->xs, XBT_NULL, path, &len);
	if (!val)
		return false;
	*ret = strtoul(val, &end, 0);
	ok = len && !*end;
	free(val);
	return ok;
}

/* Every domain into cd->doms: how many rows, or -errno (logged). */
static int cd_list(struct cd *cd)
{
	int n = xenon_domains_list(cd->ctl, &cd->doms);

	if (n < 0)
		cd_log(cd, CD_WARN, "listing domains: %s", strerror(-n));
	return n;
}

static bool cd_running(const struct procdom_ctl_dominfo *d)
{
	return d->domid && d->domid < DOMID_FIRST_RESERVED && xenon_dominfo_running(d);
}

/* Passed over before: introduced with no console keys. Process-less
 * domains (pid 0, tests) are never remembered: pid 0 tells no two apart. */
static bool cd_is_bare(struct cd *cd, const struct procdom_ctl_dominfo *d)
{
	int32_t *pid = idtab_find(&cd->bare, d->domid);

	return d->pid && pid && *pid == d->pid;
}

static void cd_set_bare(struct cd *cd, const struct procdom_ctl_dominfo *d)
{
	int32_t *pid;

	if (d->pid && !idtab_get(&cd->bare, d->domid, (void **)&pid))
		*pid = d->pid;
}

/*
 * Whether a LIST row's pid is the domain we know under its domid (a
 * console's, a waiting row's; *known, taken if still 0). A domain seen
 * while its process was still starting is listed with pid 0 (xenon-hvd
 * learns the pid when the spawner answers, which may come after the
 * toolstack has introduced it): the first pid listed after that is its
 * own, taken, not a new domain's. (A domain destroyed and made again
 * under the same domid within that window, before its @releaseDomain
 * reached us, would be taken for the first: that needs a destroy and a
 * new create inside the few milliseconds of a start.)
 */
static bool cd_pid_match(int32_t *known, int32_t listed)
{
	if (!*known && listed > 0)
		*known = listed;
	return *known == listed;
}

/* The domain its console was attached for. */
static bool cd_same_domain(struct cd_console *con, const struct procdom_ctl_dominfo *d)
{
	int32_t was = con->pid;
	bool same = cd_pid_match(&con->pid, d->pid);

	if (!was && con->pid)
		cd_log(con->cd, CD_DEBUG, "d%u: its process started, pid %d", d->domid,
		       (int)d->pid);
	return same;
}

/*
 * A running domain we have no console for. With console keys it gets one;
 * a console of the same domid but another domain (pid) is an earlier
 * domain whose release we have not seen yet: it is closed first. Without
 * keys, once introduced, it is passed over from then on: toolstacks (xenon
 * create, libxl) write the keys before INTRODUCE. One not introduced yet
 * must be looked at again (false): it waits for a later scan.
 */
static bool cd_look_at(struct cd *cd, const struct procdom_ctl_dominfo *d, struct cd_console *con)
{
	unsigned long gfn, port;

	if (con) {
		cd_log(cd, CD_INFO, "d%u: a new domain (pid %d, was %d)", d->domid, (int)d->pid,
		       (int)con->pid);
		cd_console_gone(con);
	}
	if (xs_read_ulong(cd, d->domid, "ring-ref", &gfn) &&
	    xs_read_ulong(cd, d->domid, "port", &port) && port && port < (1UL << 17))
		cd_console_attach(cd, d->domid, d->pid, gfn, (evtchn_port_t)port);
	else if (xs_is_domain_introduced(cd->xs, d->domid))
		cd_set_bare(cd, d);
	else
		return false;
	return true;
}

/* Whether d still needs looking at: running, and neither served (a console
 * of that pid) nor passed over as bare. */
static bool cd_unseen(struct cd *cd, const struct procdom_ctl_dominfo *d,
		      struct cd_console **ret_con)
{
	struct cd_console *con;

	if (!cd_running(d))
		return false;
	con = cd_console_by_domid(cd, d->domid);
	if ((con && cd_same_domain(con, d)) || cd_is_bare(cd, d))
		return false;
	*ret_con = con;
	return true;
}

/* d into the waiting rows (a failure is logged: it is then looked at again
 * only if listed anew, which a domid reused would be). */
static void cd_wait(struct cd *cd, const struct procdom_ctl_dominfo *d)
{
	if (cd->nr_waiting == cd->cap_waiting) {
		unsigned int cap = cd->cap_waiting ? cd->cap_waiting * 2 : 16;
		struct procdom_ctl_dominfo *w = realloc(cd->waiting, cap * sizeof(*w));

		if (!w) {
			cd_log(cd, CD_WARN, "d%u: no memory to look at it again", d->domid);
			return;
		}
		cd->waiting = w;
		cd->cap_waiting = cap;
	}
	cd->waiting[cd->nr_waiting++] = *d;
}

/* Waiting rows of domid dropped (a newer domain of that id was listed). */
static void cd_unwait_domid(struct cd *cd, uint32_t domid)
{
	for (unsigned int i = 0; i < cd->nr_waiting;) {
		if (cd->waiting[i].domid == domid)
			cd->waiting[i] = cd->waiting[--cd->nr_waiting];
		else
			i++;
	}
}

/*
 * A waiting row's domain, asked of xenon-hvd again before it is looked at:
 * one that died before it was introduced fires no @releaseDomain, and a
 * stale row would attach a dead domain's keys (and hide the next domain
 * of that id). Its pid is taken if it was not known yet. 1: there, still
 * waiting to be looked at; 0: gone (or no longer running, or another
 * domain of that id); < 0: could not ask (kept for the next scan).
 */
static int cd_still_there(struct cd *cd, struct procdom_ctl_dominfo *w)
{
	struct procdom_ctl_dominfo d;
	int err = xenon_domain_info(cd->ctl, w->domid, &d);

	if (err == -ESRCH)
		return 0;
	if (err) {
		cd_log(cd, CD_WARN, "d%u: asking xenon-hvd: %s", w->domid, strerror(-err));
		return err;
	}
	if (!cd_running(&d) || !cd_pid_match(&w->pid, d.pid))
		return 0;
	*w = d;
	return 1;
}

/*
 * @introduceDomain: serve every running domain with console keys not yet
 * served. Only domains new since the last scan (xenon-hvd's LIST_NEW, from
 * our cursor) and those still waiting to be introduced are looked at, so a
 * scan costs the same with 1000 domains running as with 10. Store entries
 * of domains not running (nobody removes a dead domain's home) are never
 * looked at: attaching them could only fail, and a failed console kept
 * under a domid would hide the next domain given that id. If LIST_NEW
 * fails, the cursor stays: the next scan asks again from it.
 */
static void cd_scan(struct cd *cd)
{
	int n = xenon_domains_new(cd->ctl, &cd->cursor, &cd->fresh);
	struct cd_console *con;
	unsigned int i;

	if (n < 0)
		cd_log(cd, CD_WARN, "listing new domains: %s", strerror(-n));
	/* The waiting first (a newer domain of the same id replaces its row),
	 * so that what the new rows leave waiting is not looked at twice. */
	for (int k = 0; k < n; k++)
		cd_unwait_domid(cd, cd->fresh.row[k].domid);
	for (i = 0; i < cd->nr_waiting;) {
		const struct procdom_ctl_dominfo *d = &cd->waiting[i];
		int there = cd_still_there(cd, &cd->waiting[i]);

		if (!there || (there > 0 && (!cd_unseen(cd, d, &con) || cd_look_at(cd, d, con))))
			cd->waiting[i] = cd->waiting[--cd->nr_waiting];
		else
			i++;
	}
	for (int k = 0; k < n; k++) {
		const struct procdom_ctl_dominfo *d = &cd->fresh.row[k];

		if (cd_unseen(cd, d, &con) && !cd_look_at(cd, d, con))
			cd_wait(cd, d);
	}
}

/* Waiting rows whose domain is gone, or no longer runs, dropped; a pid
 * learnt since (listed with pid 0 while it started) taken. */
static void cd_check_waiting(struct cd *cd)
{
	for (unsigned int i = 0; i < cd->nr_waiting;) {
		struct procdom_ctl_dominfo *w = &cd->waiting[i];
		const struct procdom_ctl_dominfo *d = xenon_domains_find(&cd->doms, w->domid);

		if (d && cd_running(d) && cd_pid_match(&w->pid, d->pid)) {
			i++;
		} else {
			cd->waiting[i] = cd->waiting[--cd->nr_waiting];
		}
	}
}

/* Its domain still runs: listed under its domid, with its pid. */
static bool cd_console_live(struct cd *cd, struct cd_console *con)
{
	const struct procdom_ctl_dominfo *d = xenon_domains_find(&cd->doms, con->domid);

	return d && cd_running(d) && cd_same_domain(con, d);
}

/*
 * @releaseDomain or the slow timer: close consoles of domains gone. The
 * list has every domain (sorted): each console is looked up in it,
 * O(consoles x log domains).
 */
static void cd_check_live(struct cd *cd)
{
	if ((!cd->nr_cons && !cd->nr_waiting) || cd_list(cd) < 0)
		return;
	cd_check_waiting(cd);
	/* cd_console_gone() only marks and queues: cons[] holds still. */
	for (unsigned int i = 0; i < cd->nr_cons; i++) {
		struct cd_console *con = cd->cons[i];

		if (!con->dead && !cd_console_live(cd, con))
			cd_console_gone(con);
	}
}

/* ---- the loop --------------------------------------------------------- */

/* The store is gone for good (consoled.h): said once, off the loop,
 * never probed again; the consoles served are served on. */
static void xs_lost(struct cd *cd, int err)
{
	if (err == -EPIPE)
		cd_log(cd, CD_ERR,
		       "xenstored is gone: connected devices are still served, "
		       "no new ones");
	else
		cd_log(cd, CD_ERR,
		       "xenstored connection: %s: connected devices are still "
		       "served, no new ones",
		       strerror(-err));
	cd_epoll_set(cd, xs_fileno(cd->xs), EPOLLIN, 0, &cd->xs_src);
	cd->store_gone = true;
}

/* The watch events that came; also the probe that xenstored is still
 * there, at every wake-up while it is (consoled.h). */
static void xs_event(struct cd *cd)
{
	char **w;
	int rc;

	if (cd->store_gone)
		return;
	while ((rc = xenon_store_next_watch(cd->xs, &w)) > 0) {
		if (!strcmp(w[XS_WATCH_TOKEN], "intro"))
			cd->rescan = true;
		else
			cd->check_live = true;
		free(w);
	}
	if (rc)
		xs_lost(cd, rc);
}

static void evtchn_event(struct cd *cd)
{
	int port;

	/* A notify is a round trip that may queue events: drain until none. */
	do {
		while ((port = xenon_evtchn_pending(cd->xe)) >= 0) {
			struct cd_console *con = cd_console_by_port(cd, (evtchn_port_t)port);

			if (con)
				cd_console_service(con);
			xenon_evtchn_unmask(cd->xe, (evtchn_port_t)port);
		}
	} while (port == -EAGAIN && xenon_evtchn_has_queued(cd->xe));
	if (port != -EAGAIN) {
		cd_log(cd, CD_ERR, "xenon-hvd connection: %s: stopping", strerror(-port));
		cd_epoll_set(cd, xenon_evtchn_fd(cd->xe), EPOLLIN, 0, &cd->ev_src);
		cd->stop = true;
	}
}

static void dispatch(struct cd *cd, struct cd_src *src, uint32_t events)
{
	unsigned int signo;

	switch (src->kind) {
	case CD_SRC_SIGNAL:
		signo = daemon_signal_read(cd->sig_fd);
		if (signo) {
			cd_log(cd, CD_INFO, "signal %u: stopping", signo);
			cd->stop = true;
		}
		break;
	case CD_SRC_XS: /* drained below, at every wake-up */
		break;
	case CD_SRC_EVTCHN:
		evtchn_event(cd);
		break;
	case CD_SRC_LISTEN:
		cd_console_accept(src->obj);
		break;
	case CD_SRC_CLIENT:
		cd_client_ready(src->obj, events);
		break;
	}
}

static uint64_t cd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* How long the loop may sleep: until the slow liveness check is due
 * (while there are consoles) or the next store probe (while the store is
 * there), the nearer; -1 neither (consoled.h). */
static int cd_wait_ms(const struct cd *cd, uint64_t now)
{
	int ms = cd->store_gone ? -1 : XENON_STORE_PROBE_MS;
	int live;

	if (!cd->nr_cons)
		return ms;
	live = now >= cd->live_due_ms ? 0 : (int)(cd->live_due_ms - now);
	return ms < 0 || live < ms ? live : ms;
}

/* @releaseDomain, or the slow check due: then the next one is due a
 * period on. */
static void cd_live_tick(struct cd *cd)
{
	uint64_t now = cd_now_ms();

	if (!cd->check_live && (!cd->nr_cons || now < cd->live_due_ms))
		return;
	cd_check_live(cd);
	cd->live_due_ms = now + CD_LIVENESS_MS;
}

static int cd_run(struct cd *cd)
{
	struct epoll_event evs[64];
	int n, i;

	while (!cd->stop) {
		n = epoll_wait(cd->epfd, evs, 64, cd_wait_ms(cd, cd_now_ms()));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			dispatch(cd, evs[i].data.ptr, evs[i].events);
		if (!cd->stop)
			xs_event(cd);
		/* Releases first: a domid freed and reused in one batch. */
		cd_live_tick(cd);
		if (cd->rescan)
			cd_scan(cd);
		cd->rescan = cd->check_live = false;
		/* Client input notified the guest: events may wait in the queue. */
		if (!cd->stop && xenon_evtchn_has_queued(cd->xe))
			evtchn_event(cd);
		cd_consoles_reap(cd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cd *cd = calloc(1, sizeof(*cd));
	int err;

	if (!cd)
		return 1;
	cd->log_fd = STDERR_FILENO;
	err = daemon_parse_options(argc, argv, usage_text, &cd->opts);
	if (err) {
		if (err < 0)
			fputs(usage_text, stderr);
		free(cd);
		return err > 0 ? 0 : 2;
	}
	if (daemon_up(init_steps, N_INIT_STEPS, cd, "xenon-consoled", up_failed)) {
		free(cd);
		return 1;
	}
	err = cd_run(cd);
	if (err)
		cd_log(cd, CD_ERR, "event loop: %s", strerror(-err));
	daemon_down(init_steps, N_INIT_STEPS, cd);
	err = err ? 1 : 0;
	free(cd);
	return err;
}
