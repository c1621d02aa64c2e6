/*
 * The per-domain monitor, as xl's: `xenon create' leaves behind one small
 * process per domain that watches @releaseDomain in XenStore (fired when a
 * domain dies or shuts down) and, on each event, asks xenon-hvd whether the
 * domain still exists. xenon-hvd destroys a domain whose process died or
 * that shut down; the store is the toolstack's, so the monitor removes the
 * domain's entries (RELEASE, /local/domain/N, the back ends' directories of
 * its devices: xenon_store_remove_domain()) and exits. It also exits when
 * xenon-hvd or xenstored go away (`xenon down'): it never outlives them.
 *
 * Because xenon-hvd destroys a domain as soon as it shuts down, on_poweroff
 * and on_crash are effectively "destroy"; on_reboot's restart is done by
 * `xenon reboot' itself (domain.c), which re-creates the domain from the
 * config recorded in /tool/xenon/N.
 *
 * As a safety net for a missed watch event it also looks every
 * MONITOR_CHECK_MS. Messages go to D/monitor.log.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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

/* true while DOMID lives; when it is gone, its store entries go too. */
static bool alive(struct xenon_ctl *ctl, struct xs_handle *xs, domid_t domid, const char *name)
{
	struct procdom_ctl_dominfo info;
	int rc = xenon_domain_info(ctl, domid, &info);

	if (rc == -ESRCH) {
		fprintf(stderr, "xenon: domain %u (%s) is gone: removing its store entries\n",
			domid, name);
		xenon_store_remove_domain(xs, domid);
	}
	return rc == 0;
}

static void monitor(const struct xenon_ctx *ctx, const struct xlcfg_domain *dom, domid_t domid)
{
	struct xenon_ctl *ctl = NULL;
	struct xs_handle *xs = NULL;

	if (xenon_connect(ctx, &ctl, &xs))
		return;
	if (!xs_watch(xs, "@releaseDomain", "xenon-monitor"))
		goto out;
	for (;;) {
		struct pollfd pfd[2] = { { xs_fileno(xs), POLLIN, 0 },
					 { xenon_ctl_fd(ctl), POLLIN, 0 } };
		unsigned int n;
		char **ev;

		if (poll(pfd, 2, MONITOR_CHECK_MS) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents) /* nothing is sent to us but EOF */
			break;
		if (pfd[0].revents) {
			if (!(ev = xs_read_watch(xs, &n)))
				break; /* xenstored went away */
			free(ev);
		}
		if (!alive(ctl, xs, domid, dom->name))
			break;
	}
out:
	xenon_disconnect(ctl, xs);
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
