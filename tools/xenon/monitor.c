/*
 * xenon-monitor --run-dir D [--ready-fd N] [-v]: removes the store entries
 * of domains that die. One per run dir: a dom0 service that xenon-hvd
 * starts once xenstored is ready, restarts if it dies and stops at `xenon
 * down' (dom0/hvd/services.c). xl leaves one monitor process per domain;
 * here one daemon keeps a table, so a domain costs a table entry and a
 * LIST row (~130 bytes measured with 500 domains), not a process, and a
 * batch of deaths costs one sweep, not one look by every monitor.
 *
 * Why someone must: xenon-hvd destroys a domain whose process died or
 * that shut down, and xenstored releases it (@releaseDomain), but the
 * store is the toolstack's: /local/domain/N, /tool/xenon/N and the back
 * ends' directories of its devices stay until a toolstack removes them
 * (xenon_store_remove_domain(), store.h). `xenon destroy', `shutdown -w'
 * and `reboot' remove them themselves (xenon_store_forget()); this daemon
 * does it for a domain that dies on its own.
 *
 * The table: domid -> (instance token, name), the token being what the
 * domain's creation recorded in /tool/xenon/N/instance (store.h). It is
 * built from /tool/xenon/ when the watch on /tool/xenon is registered
 * (that fires once), so a restarted monitor, or one started after domains
 * exist, covers them; and the watch keeps it: any change below
 * /tool/xenon/N reads N's token again -- a new token replaces the entry
 * (the domid was given again), none drops it.
 *
 * Reconciling, on each @releaseDomain and, as a safety net for a missed
 * one, every MON_CHECK_MS (one timer for the daemon, only while the table
 * holds a domain): one LIST sweep of xenon-hvd's domains; each entry whose
 * domid is not listed is gone, and its entries are removed if they are
 * still its instance's -- checked in the removing transaction. A domid
 * listed is alive, whatever its token: nothing is removed. xenstored
 * fires @releaseDomain when a domain shuts down, a moment before
 * xenon-hvd destroys it; while a tracked domain is listed as shutting down
 * the next sweep comes after MON_RETRY_MS.
 *
 * A domid outlives the domain: `xenon reboot' creates the domain again
 * under it, any creation may get it once it is free, and this daemon may
 * run late (descheduled, stopped, restarted) and act after that. What
 * keeps that safe:
 *   - The instance check in the removing transaction: a sweep that saw
 *     domid N gone and removes only later, after a new domain was created
 *     as N, finds another token (-ESTALE) and removes nothing; its entry
 *     then takes the token now recorded. Entries gone already (-ENOENT:
 *     destroy, reboot or shutdown -w was first) are no failure either.
 *   - Order: xenstored sends a connection its watch events in the order
 *     of the changes, and each batch of events updates the table before it
 *     reconciles. A domain's creation (its /tool/xenon/N) comes before its
 *     release, so when a release is handled its domain is in the table
 *     with its own token, even if it was created and died at once.
 *   - A domid that died and was given again before the table saw the
 *     first domain: the table follows the store, so it holds the newer
 *     token; the dead domain's leftovers went when the new one was written
 *     (a creation clears domid N's old entries first, store.h).
 *
 *   t0  domain 5, instance A, created      table 5 -> A
 *   t1  5 dies; @releaseDomain             sweep: 5 not listed; the
 *                                          removal waits (store busy)
 *   t2  `xenon create' domid=5: instance B; its /tool/xenon/5 is queued
 *   t3  the removal goes on: it reads B    -ESTALE, nothing removed;
 *                                          table 5 -> B
 *   t4  5 (B) dies; @releaseDomain         sweep: removes B's entries
 *
 * Because xenon-hvd destroys a domain as soon as it shuts down, on_poweroff
 * and on_crash are effectively "destroy"; on_reboot's restart is done by
 * `xenon reboot' itself (domain.c).
 *
 * A failed read loses nothing: the domid (or the rescan) stays pending
 * and is tried again at the next wake-up, which comes within MON_PROBE_MS
 * whatever the table holds; the warning is said once per run of failures.
 *
 * It stops on SIGTERM, when xenon-hvd hangs up its connection (`xenon
 * down' closes it first; xenon-hvd died) and when xenstored goes away: it
 * never outlives them. Debian's libxenstore is threaded, and when
 * xenstored goes its reader thread closes the socket and wakes callers
 * blocked in a request, but never the xs_fileno() pipe we poll. So the
 * loop wakes at least every MON_PROBE_MS and drains the watch events
 * (xenon_store_next_watch(), no I/O; lib/dom0's probe, which consoled and
 * blkback use too): once the socket is closed and no event is left it
 * says so (-EPIPE). A request fails with EBADF (written to the closed
 * socket, or EOF read), EPIPE or ECONNRESET. Either way: one line in the
 * log, exit status 1; xenon-hvd does not restart a back end once
 * xenstored died (services.c). Log: D/monitor.log, one line each; a
 * domain's lines read "domain N (NAME) instance TOKEN: ...". Pid file
 * D/monitor.pid.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "daemon.h"
#include "idtab.h"
#include "store.h"
#include "xenon.h"
#include "xenon_dom0.h"

#define MON_CHECK_MS 5000 /* the safety net: a @releaseDomain missed */
#define MON_RETRY_MS 200  /* a tracked domain is listed as shutting down */
/* The longest sleep: xenstored gone (lib/dom0's probe), failed reads. */
#define MON_PROBE_MS XENON_STORE_PROBE_MS
/* Watch events one wake-up handles: a flood cannot keep us from the rest
 * of the loop. libxenstore keeps the pipe readable while events remain,
 * so the next poll() comes straight back for them. */
#define MON_DRAIN_MAX 4096
#define MON_TOOL_ROOT "/tool/xenon"
#define MON_DIRTY_WORDS ((DOMID_FIRST_RESERVED + 63) / 64)

static const char usage_text[] =
	"Usage: xenon-monitor --run-dir DIR [--ready-fd N] [-v]\n"
	"  Removes the XenStore entries of xenon-hvd's domains that die (their home,\n"
	"  /tool/xenon/N, their back-end directories), if they are still the dead\n"
	"  instance's. Started by xenon-hvd; logs to DIR/monitor.log; exits 0 on\n"
	"  SIGTERM or when xenon-hvd goes away, 1 when xenstored goes away.\n";

/* One tracked domain: the instance it knows, the name for the log. */
struct mon_dom {
	char instance[XENON_STORE_INSTANCE_LEN + 1];
	bool failed; /* a removal failed (said once; tried again) */
	char name[];
};

struct mon {
	struct daemon_opts opts;
	int log_fd, sig_fd;
	char pid_path[PATH_MAX];
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	struct idtab doms; /* domid -> struct mon_dom * */
	unsigned int nr_doms;
	struct xenon_domains all;	 /* the sweep's LIST of every domain */
	uint64_t dirty[MON_DIRTY_WORDS]; /* domids whose /tool/xenon/N changed */
	bool rescan, reconcile, stop;
	bool read_failing;	/* a read failed since nothing was pending (said once) */
	uint64_t next_check_ns; /* the safety-net sweep (CLOCK_MONOTONIC) */
	int exit_code;
};

static uint64_t mon_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Informational lines by default (what was removed is the point of the
 * log); -v adds debug lines. */
__attribute__((format(printf, 3, 4))) static void
mon_log(struct mon *m, enum daemon_log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level > DAEMON_LOG_INFO + m->opts.verbosity)
		return;
	va_start(ap, fmt);
	daemon_vlog(m->log_fd, "xenon-monitor", level, fmt, ap);
	va_end(ap);
}

/* "domain N (NAME) instance TOKEN: ..." */
__attribute__((format(printf, 5, 6))) static void dom_log(struct mon *m,
							  enum daemon_log_level level,
							  domid_t domid, const struct mon_dom *d,
							  const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mon_log(m, level, "domain %u (%s) instance %s: %s", domid, d->name, d->instance, msg);
}

/* SIGTERM/SIGINT, also between the steps of a long sweep. */
static bool mon_stopping(struct mon *m)
{
	unsigned int signo = daemon_signal_read(m->sig_fd);

	if (signo) {
		mon_log(m, DAEMON_LOG_INFO, "signal %u: stopping", signo);
		m->stop = true;
	}
	return m->stop;
}

/* ---- the table -------------------------------------------------------- */

/* What a creation writes: XENON_STORE_INSTANCE_LEN hex digits. Anything
 * else is not a token we could match: such a domain is not tracked. */
static bool token_valid(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	return n == XENON_STORE_INSTANCE_LEN && !s[n];
}

/* The name is only for the log: bounded, printable; "?" when there is
 * none (xenstored removes the home of a domain it releases). */
static void read_name(struct mon *m, domid_t domid, char *buf, size_t len)
{
	if (xenon_store_read(m->xs, domid, "name", buf, len) || !buf[0])
		snprintf(buf, len, "?");
	for (char *p = buf; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

static void mon_drop(struct mon *m, domid_t domid, struct mon_dom *d)
{
	idtab_clear_ptr(&m->doms, domid, d);
	free(d);
	m->nr_doms--;
}

/* TOKEN is now N's: a new entry, or OLD's replacement (domid reused).
 * 0, or -ENOMEM and nothing changed. */
static int mon_track(struct mon *m, domid_t domid, const char *token, struct mon_dom *old)
{
	char name[XENON_NAME_BUF];
	struct mon_dom *d;

	read_name(m, domid, name, sizeof(name));
	if (!(d = calloc(1, sizeof(*d) + strlen(name) + 1)))
		return -ENOMEM;
	memcpy(d->instance, token, XENON_STORE_INSTANCE_LEN); /* valid: that long */
	strcpy(d->name, name);
	if (idtab_set_ptr(&m->doms, domid, d)) {
		free(d);
		return -ENOMEM;
	}
	if (old) {
		dom_log(m, DAEMON_LOG_INFO, domid, d, "tracking (domid reused: was %s)",
			old->instance);
		free(old);
		return 0;
	}
	m->nr_doms++;
	dom_log(m, DAEMON_LOG_INFO, domid, d, "tracking");
	return 0;
}

/* "N" or "N/..." with 0 < N < DOMID_FIRST_RESERVED: N; else 0. */
static unsigned int parse_domid(const char *s)
{
	unsigned long id;
	char *end;

	if (*s < '0' || *s > '9')
		return 0;
	id = strtoul(s, &end, 10);
	if ((*end && *end != '/') || id >= DOMID_FIRST_RESERVED)
		return 0;
	return (unsigned int)id;
}

static void dirty_set(struct mon *m, unsigned int domid)
{
	if (domid)
		m->dirty[domid / 64] |= 1ull << (domid % 64);
}

static bool dirty_any(const struct mon *m)
{
	for (unsigned int w = 0; w < MON_DIRTY_WORDS; w++)
		if (m->dirty[w])
			return true;
	return false;
}

/* A watch path below /tool/xenon: N's entry to read again; the root
 * itself (the registration, or the whole tree changed): everything. */
static void mon_tool_event(struct mon *m, const char *path)
{
	size_t len = strlen(MON_TOOL_ROOT);

	if (strncmp(path, MON_TOOL_ROOT, len))
		return;
	if (!path[len])
		m->rescan = true;
	else if (path[len] == '/')
		dirty_set(m, parse_domid(path + len + 1));
}

/* ---- the store connection ------------------------------------------------ */

/* xenstored went away (see the top): said once; exit status 1. */
static void mon_xs_lost(struct mon *m, const char *why)
{
	if (m->stop)
		return;
	mon_log(m, DAEMON_LOG_ERR, "xenstored connection lost (%s): stopping", why);
	m->stop = true;
	m->exit_code = 1;
}

/* The watch events that came, at most MON_DRAIN_MAX; also the probe of
 * the connection, at every wake-up (see the top). */
static void mon_xs_event(struct mon *m)
{
	for (unsigned int n = 0; n < MON_DRAIN_MAX; n++) {
		char **w;
		int rc = xenon_store_next_watch(m->xs, &w);

		if (rc <= 0) {
			if (rc == -EPIPE) /* the reader thread closed it */
				mon_xs_lost(m, "closed");
			else if (rc < 0)
				mon_xs_lost(m, strerror(-rc));
			return;
		}
		if (!strcmp(w[XS_WATCH_TOKEN], "release"))
			m->reconcile = true;
		else
			mon_tool_event(m, w[XS_WATCH_PATH]);
		free(w);
	}
}

/* A store call failed with ERR: true if xenstored is gone (we stop). A
 * request cut short by the reader thread closing the socket fails with
 * EINVAL, as a refusal by xenstored would: the probe tells them apart. */
static bool mon_store_lost(struct mon *m, int err)
{
	if (err == -EBADF || err == -EPIPE || err == -ECONNRESET)
		mon_xs_lost(m, strerror(-err));
	else
		mon_xs_event(m);
	return m->stop;
}

/* A read failed with ERR; the caller keeps its work pending (tried again
 * at the next wake-up). Said once until nothing is pending any more. */
__attribute__((format(printf, 3, 4))) static void mon_read_failed(struct mon *m, int err,
								  const char *fmt, ...)
{
	char what[128];
	va_list ap;

	if (mon_store_lost(m, err) || m->read_failing)
		return;
	m->read_failing = true;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	mon_log(m, DAEMON_LOG_WARN,
		"%s: %s (tried again at each wake-up; said once until reads work)", what,
		strerror(-err));
}

/* ---- keeping the table ---------------------------------------------------- */

/* /tool/xenon/N changed (or we start): the table takes what is recorded. */
static void mon_refresh(struct mon *m, domid_t domid)
{
	char token[XENON_STORE_INSTANCE_LEN + 2]; /* room to see one too long */
	struct mon_dom *d = idtab_ptr(&m->doms, domid);
	int rc = xenon_store_read_instance(m->xs, domid, token, sizeof(token));

	if (rc && rc != -ENOENT) {
		dirty_set(m, domid);
		mon_read_failed(m, rc, "domain %u: reading its instance", domid);
		return;
	}
	if (!rc && !token_valid(token)) {
		mon_log(m, DAEMON_LOG_WARN,
			"domain %u: instance \"%.40s\" is no token: not tracked", domid, token);
		rc = -ENOENT;
	}
	if (rc == -ENOENT) {
		if (d) {
			dom_log(m, DAEMON_LOG_DEBUG, domid, d, "no longer recorded: untracked");
			mon_drop(m, domid, d);
		}
		return;
	}
	if ((!d || strcmp(d->instance, token)) && (rc = mon_track(m, domid, token, d))) {
		dirty_set(m, domid);
		mon_read_failed(m, rc, "domain %u: tracking it", domid);
	}
}

/* Everything recorded now, and everything we track (it may be gone). A
 * failed listing keeps the rescan wanted. */
static void mon_mark_all(struct mon *m)
{
	unsigned int n = 0;
	char **ids;

	errno = 0;
	ids = xs_directory(m->xs, XBT_NULL, MON_TOOL_ROOT, &n);
	if (!ids && errno != ENOENT) {
		mon_read_failed(m, errno ? -errno : -EIO, "listing %s", MON_TOOL_ROOT);
		return;
	}
	for (unsigned int i = 0; ids && i < n; i++)
		dirty_set(m, parse_domid(ids[i]));
	free(ids);
	for (unsigned int id = 1; id < m->doms.size; id++)
		if (idtab_ptr(&m->doms, id))
			dirty_set(m, id);
	m->rescan = false;
	m->reconcile = true; /* a domain may have died while nobody looked */
}

/* The batch's table updates, before any sweep (see the top). A domid
 * whose refresh fails is marked again, for the next call. */
static void mon_apply(struct mon *m)
{
	if (m->rescan)
		mon_mark_all(m);
	for (unsigned int w = 0; w < MON_DIRTY_WORDS; w++) {
		uint64_t bits = m->dirty[w];

		if (bits && mon_stopping(m))
			return;
		m->dirty[w] = 0;
		while (bits && !m->stop) {
			unsigned int bit = (unsigned int)__builtin_ctzll(bits);

			bits &= bits - 1;
			mon_refresh(m, (domid_t)(w * 64 + bit));
		}
	}
	if (!m->rescan && !dirty_any(m))
		m->read_failing = false;
}

/* ---- the sweep ---------------------------------------------------------- */

/* N is gone: its entries go, if they are still D's instance's. */
static void mon_gone(struct mon *m, domid_t domid, struct mon_dom *d)
{
	int rc;

	dom_log(m, DAEMON_LOG_INFO, domid, d, "gone: removing its store entries");
	rc = xenon_store_remove_domain(m->xs, domid, d->instance);
	if (rc == -ESTALE) {
		dom_log(m, DAEMON_LOG_INFO, domid, d,
			"domid %u is another domain's now: removed nothing", domid);
		mon_refresh(m, domid); /* the entry takes the token recorded */
		return;
	}
	if (rc && rc != -ENOENT) {
		if (mon_store_lost(m, rc))
			return;
		if (!d->failed)
			dom_log(m, DAEMON_LOG_ERR, domid, d,
				"removing its store entries failed: %s (tried again at each sweep)",
				strerror(-rc));
		d->failed = true;
		return;
	}
	dom_log(m, DAEMON_LOG_INFO, domid, d,
		rc ? "its store entries were removed already" : "store entries removed");
	mon_drop(m, domid, d);
}

/* A tracked domain missing from the list of every domain is gone (each
 * looked up in the sorted rows). True if one listed is on its way out
 * (shut down, dying): xenon-hvd destroys it in a moment. */
static bool mon_sweep(struct mon *m)
{
	bool going = false;

	/* mon_gone() may replace or drop an entry: ids, not pointers, kept. */
	for (unsigned int id = 1; id < m->doms.size; id++) {
		struct mon_dom *d = idtab_ptr(&m->doms, id);
		const struct procdom_ctl_dominfo *row;

		if (!d)
			continue;
		row = xenon_domains_find(&m->all, id);
		if (row)
			going |= !xenon_dominfo_running(row);
		else if (!mon_stopping(m))
			mon_gone(m, (domid_t)id, d);
	}
	return going;
}

static void mon_reconcile(struct mon *m)
{
	int n;

	m->reconcile = false;
	m->next_check_ns = mon_now_ns() + MON_CHECK_MS * 1000000ull;
	if (!m->nr_doms)
		return;
	if ((n = xenon_domains_list(m->ctl, &m->all)) < 0) {
		/* xenon-hvd went away (`xenon down': it hangs up on us first)
		 * or failed us: it restarts us if it lives on. */
		bool hangup = n == -EPIPE || n == -ECONNRESET;

		mon_log(m, hangup ? DAEMON_LOG_INFO : DAEMON_LOG_ERR,
			"listing domains: %s: stopping", strerror(-n));
		m->stop = true;
		m->exit_code = hangup ? 0 : 1;
		return;
	}
	if (mon_sweep(m))
		m->next_check_ns = mon_now_ns() + MON_RETRY_MS * 1000000ull;
}

/* ---- the loop ------------------------------------------------------------ */

static bool mon_check_due(const struct mon *m)
{
	return m->nr_doms && mon_now_ns() >= m->next_check_ns;
}

/* Until the safety-net sweep (while the table holds a domain), and never
 * longer than MON_PROBE_MS: the wake-up that probes the store connection
 * and tries pending reads again (see the top). */
static int mon_timeout_ms(const struct mon *m)
{
	uint64_t now = mon_now_ns(), due = now + MON_PROBE_MS * 1000000ull;

	if (m->nr_doms && m->next_check_ns < due)
		due = m->next_check_ns;
	return due > now ? (int)((due - now + 999999) / 1000000) : 0;
}

static void mon_run(struct mon *m)
{
	while (!m->stop) {
		struct pollfd pfd[3] = { { m->sig_fd, POLLIN, 0 },
					 { xs_fileno(m->xs), POLLIN, 0 },
					 { xenon_ctl_fd(m->ctl), POLLIN, 0 } };

		if (poll(pfd, 3, mon_timeout_ms(m)) < 0 && errno != EINTR) {
			mon_log(m, DAEMON_LOG_ERR, "poll: %s: stopping", strerror(errno));
			m->exit_code = 1;
			break;
		}
		if (pfd[0].revents && mon_stopping(m))
			break;
		if (pfd[2].revents) { /* xenon-hvd sends us nothing but its EOF */
			mon_log(m, DAEMON_LOG_INFO, "xenon-hvd hung up: stopping");
			break;
		}
		mon_xs_event(m); /* readable or not: it is the probe too */
		if (!m->stop)
			mon_apply(m);
		if (!m->stop && (m->reconcile || mon_check_due(m)))
			mon_reconcile(m);
	}
}

/* ---- init steps ---------------------------------------------------------- */

static int log_init(void *ctx)
{
	struct mon *m = ctx;
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/monitor.log", m->opts.run_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = daemon_log_open(NULL, path)) < 0)
		return fd;
	m->log_fd = fd;
	return 0;
}

static void log_fini(void *ctx)
{
	struct mon *m = ctx;

	daemon_log_close(&m->log_fd);
}

/* The mask is not restored: we exit right after the table unwinds. */
static int signals_init(void *ctx)
{
	struct mon *m = ctx;

	m->sig_fd = daemon_signals_open(NULL);
	return m->sig_fd < 0 ? m->sig_fd : 0;
}

static void signals_fini(void *ctx)
{
	struct mon *m = ctx;

	daemon_signals_close(m->sig_fd, NULL);
}

static int pidfile_init(void *ctx)
{
	struct mon *m = ctx;

	if ((size_t)snprintf(m->pid_path, sizeof(m->pid_path), "%s/monitor.pid", m->opts.run_dir) >=
	    sizeof(m->pid_path))
		return -ENAMETOOLONG;
	return daemon_pidfile_write(m->pid_path);
}

static void pidfile_fini(void *ctx)
{
	struct mon *m = ctx;

	daemon_pidfile_remove(m->pid_path);
}

static int table_init(void *ctx)
{
	struct mon *m = ctx;

	idtab_init(&m->doms, sizeof(struct mon_dom *), DOMID_FIRST_RESERVED);
	return 0;
}

static void table_fini(void *ctx)
{
	struct mon *m = ctx;

	for (unsigned int id = 1; id < m->doms.size; id++)
		free(idtab_ptr(&m->doms, id));
	idtab_fini(&m->doms);
	xenon_domains_fini(&m->all);
}

static int hvd_init(void *ctx)
{
	struct mon *m = ctx;

	return xenon_ctl_open(m->opts.run_dir, &m->ctl);
}

static void hvd_fini(void *ctx)
{
	struct mon *m = ctx;

	xenon_ctl_close(m->ctl);
}

/* Each watch fires once when set: the first look (the table is built from
 * /tool/xenon's, then a sweep). */
static int xs_init(void *ctx)
{
	struct mon *m = ctx;
	int err = xenon_store_open(m->opts.run_dir, &m->xs);

	if (err)
		return err;
	if (!xs_watch(m->xs, "@releaseDomain", "release") ||
	    !xs_watch(m->xs, MON_TOOL_ROOT, "tool")) {
		err = errno ? -errno : -EIO;
		xenon_store_close(m->xs);
	}
	return err;
}

static void xs_fini(void *ctx)
{
	struct mon *m = ctx;

	xenon_store_close(m->xs);
}

static int ready_init(void *ctx)
{
	struct mon *m = ctx;
	int err;

	mon_log(m, DAEMON_LOG_INFO, "ready (pid %d)", (int)getpid());
	err = daemon_ready(&m->opts.ready_fd);
	if (err)
		mon_log(m, DAEMON_LOG_WARN, "readiness fd: %s", strerror(-err));
	return 0;
}

static const struct daemon_step init_steps[] = {
	{ "log", log_init, log_fini },
	{ "signals", signals_init, signals_fini },
	{ "pid file", pidfile_init, pidfile_fini },
	{ "table", table_init, table_fini },
	{ "xenon-hvd", hvd_init, hvd_fini },
	{ "xenstore", xs_init, xs_fini },
	{ "readiness", ready_init, NULL },
};

#define N_INIT_STEPS (sizeof(init_steps) / sizeof(init_steps[0]))

static void up_failed(void *ctx, const char *step, int err)
{
	mon_log(ctx, DAEMON_LOG_ERR, "start-up failed at %s: %s", step, strerror(-err));
}

int main(int argc, char **argv)
{
	struct mon *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return 1;
	m->log_fd = STDERR_FILENO;
	err = daemon_parse_options(argc, argv, usage_text, &m->opts);
	if (err) {
		if (err < 0)
			fputs(usage_text, stderr);
		free(m);
		return err > 0 ? 0 : 2;
	}
	if (daemon_up(init_steps, N_INIT_STEPS, m, "xenon-monitor", up_failed)) {
		free(m);
		return 1;
	}
	mon_run(m);
	daemon_down(init_steps, N_INIT_STEPS, m);
	err = m->exit_code;
	free(m);
	return err;
}
