/*
 * The per-domain monitor, as xl's: `xenon create' leaves behind one small
 * process per domain that watches @releaseDomain in XenStore (fired when a
 * domain dies or shuts down) and, on each event, asks xenon-hvd whether the
 * domain still exists. xenon-hvd destroys a domain whose process died or
 * that shut down; the store is the toolstack's, so the monitor removes the
 * domain's entries (/local/domain/N, /tool/xenon/N, the back ends'
 * directories of its devices: xenon_store_remove_domain()) and exits. It
 * also exits when xenon-hvd or xenstored go away (`xenon down'): it never
 * outlives them.
 *
 * A domid outlives the domain: `xenon reboot' creates the domain again
 * under it, any creation may get it once it is free, and a monitor may run
 * late (descheduled, stopped) and act after that. So the monitor watches
 * one instance, the token recorded in /tool/xenon/N/instance when it
 * starts (right after the creation: store.h), and removes entries only if
 * they are still that instance's, checked in the removing transaction.
 * Seeing another token, or none, while the domid lives means its domain is
 * gone and someone else dealt with it: it exits and removes nothing. (Had
 * the domain died and its domid been given again before the monitor read
 * the token, it watches that new domain, whose own monitor does the same:
 * their removals are checked, so only one removes, and the dead domain's
 * leftovers went when the new one was written.) It also watches
 * /tool/xenon/N, so a new instance written there wakes it at once.
 *
 * Because xenon-hvd destroys a domain as soon as it shuts down, on_poweroff
 * and on_crash are effectively "destroy"; on_reboot's restart is done by
 * `xenon reboot' itself (domain.c), which re-creates the domain from the
 * config recorded in /tool/xenon/N.
 *
 * As a safety net for a missed watch event it also looks every
 * MONITOR_CHECK_MS. Messages go to D/monitor.log, one line each, starting
 * "xenon-monitor[PID]: domain N (NAME): ".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>

#include "xenon_dom0.h"
#include "store.h"
#include "xenon.h"
#include "xlcfg.h"

#define MONITOR_CHECK_MS 1000

struct monitor {
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	domid_t domid;
	const char *name;
	char instance[XENON_STORE_INSTANCE_LEN + 1];
};

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* One line, one write: several monitors append to the same log. */
__attribute__((format(printf, 2, 3))) static void say(const struct monitor *m, const char *fmt, ...)
{
	char line[512];
	size_t room = sizeof(line) - 1, len; /* the last byte is for the newline */
	va_list ap;
	int n = snprintf(line, room, "xenon-monitor[%d]: domain %u (%s): ", (int)getpid(), m->domid,
			 m->name);

	if (n < 0)
		return;
	len = min_size((size_t)n, room - 1);
	va_start(ap, fmt);
	n = vsnprintf(line + len, room - len, fmt, ap);
	va_end(ap);
	if (n > 0)
		len = min_size(len + (size_t)n, room - 1);
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return; /* nowhere else to say it */
}

/* The domain is gone: its entries go, if they are still this instance's. */
static void remove_entries(const struct monitor *m)
{
	int rc;

	say(m, "gone: removing the store entries of instance %s", m->instance);
	rc = xenon_store_remove_domain(m->xs, m->domid, m->instance);
	if (rc == 0)
		say(m, "store entries removed");
	else if (rc == -ENOENT)
		say(m, "its store entries were removed already");
	else if (rc == -ESTALE)
		say(m, "domid %u is another domain's now: removed nothing", m->domid);
	else
		say(m, "removing its store entries failed: %s", strerror(-rc));
}

/* true while the instance this monitor watches lives. */
static bool watching(const struct monitor *m)
{
	struct procdom_ctl_dominfo info;
	char now[XENON_STORE_INSTANCE_LEN + 1];
	int rc = xenon_domain_info(m->ctl, m->domid, &info);

	if (rc == -ESRCH) {
		remove_entries(m);
		return false;
	}
	if (rc) {
		say(m, "xenon-hvd: %s: stopping", strerror(-rc));
		return false;
	}
	/* The domid lives; the instance recorded under it says whether it is
	 * still ours (a failed read says nothing: look again later). */
	rc = xenon_store_read_instance(m->xs, m->domid, now, sizeof(now));
	if (rc == -ENOENT) {
		say(m, "its store entries were removed (no instance recorded): nothing to do");
		return false;
	}
	if (!rc && strcmp(now, m->instance)) {
		say(m, "domid %u is another domain's now (instance %s): removed nothing", m->domid,
		    now);
		return false;
	}
	return true;
}

static void monitor_loop(struct monitor *m)
{
	for (;;) {
		struct pollfd pfd[2] = { { xs_fileno(m->xs), POLLIN, 0 },
					 { xenon_ctl_fd(m->ctl), POLLIN, 0 } };
		unsigned int n;
		char **ev;

		if (poll(pfd, 2, MONITOR_CHECK_MS) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents) /* nothing is sent to us but EOF */
			break;
		if (pfd[0].revents) {
			if (!(ev = xs_read_watch(m->xs, &n)))
				break; /* xenstored went away */
			free(ev);
		}
		if (!watching(m))
			break;
	}
}

static void monitor(const struct xenon_ctx *ctx, const struct xlcfg_domain *dom, domid_t domid)
{
	struct monitor m = { .domid = domid, .name = dom->name };
	char tool[32];
	int rc;

	if (xenon_connect(ctx, &m.ctl, &m.xs))
		return;
	rc = xenon_store_read_instance(m.xs, domid, m.instance, sizeof(m.instance));
	if (rc) {
		say(&m, "no instance recorded (%s): nothing to watch", strerror(-rc));
		goto out;
	}
	say(&m, "watching instance %s", m.instance);
	snprintf(tool, sizeof(tool), "/tool/xenon/%u", domid);
	/* Each fires once when set: the first look. */
	if (xs_watch(m.xs, "@releaseDomain", "xenon-monitor") &&
	    xs_watch(m.xs, tool, "xenon-monitor-instance"))
		monitor_loop(&m);
	else
		say(&m, "watching the store: %s", strerror(errno));
out:
	xenon_disconnect(m.ctl, m.xs);
}

void xenon_monitor_spawn(const struct xenon_ctx *ctx, const struct xlcfg_domain *dom, domid_t domid)
{
	char log[PATH_MAX];
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		xenon_err(ctx, "no monitor for domain %u: %s", domid, strerror(errno));
		return;
	}
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		return;
	}
	/* Not the creator's connections: a daemon counts them as still open. */
	close_range(3, ~0u, 0);
	/* Detach twice, so that init reaps the monitor and no terminal owns it. */
	setsid();
	if (fork() != 0)
		_exit(0);
	snprintf(log, sizeof(log), "%s/monitor.log", ctx->run_dir);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
	}
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0)
		dup2(fd, 2);
	monitor(ctx, dom, domid);
	_exit(0);
}
