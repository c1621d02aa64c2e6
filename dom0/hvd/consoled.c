/*
 * xenon-consoled, the console back end, a dom0 service child like
 * xenstored (main.c) but started only once xenstored is ready: it finds
 * domains through the store, so it cannot start before it.
 *
 * Restart policy: unlike xenstored (whose store dies with it), consoled
 * holds no state that is not also in the store or the shared pages -- a new
 * one re-reads console/{ring-ref,port}, continues each ring from the page's
 * own out_cons, and appends to the same logs. So if it dies (kill -9, a
 * crash) it is logged and restarted, at most HVD_CD_MAX_RESTARTS times in
 * our life, so a back end that crashes on start cannot spin.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "hvd.h"

#define HVD_CD_MAX_RESTARTS 5
#define HVD_CD_STOP_TIMEOUT_MS 5000

/* Beside us when installed, or in the build tree (dom0/hvd, dom0/console). */
static int cd_find(struct hvd *h)
{
	if (h->opt.consoled) {
		snprintf(h->cd_path, sizeof(h->cd_path), "%s", h->opt.consoled);
		return access(h->cd_path, X_OK) == 0 ? 0 : -errno;
	}
	return daemon_find_beside_self("xenon-consoled", "../console/xenon-consoled", h->cd_path,
				       sizeof(h->cd_path));
}

int hvd_cd_init(struct hvd *h)
{
	h->cd_pid = 0;
	h->cd_pidfd = h->cd_ready_fd = -1;
	if (h->opt.no_consoled || h->opt.no_xenstored)
		return 0;
	return cd_find(h);
}

static int cd_spawn(struct hvd *h)
{
	char fdarg[16];
	char *argv[] = { h->cd_path,   "--run-dir", (char *)h->opt.run_dir,
			 "--ready-fd", fdarg,	    h->opt.verbosity ? "-v" : NULL,
			 NULL };

	return daemon_child_start(h->cd_path, argv, fdarg, sizeof(fdarg), &h->cd_pid,
				  &h->cd_ready_fd);
}

static void cd_close_fds(struct hvd *h)
{
	if (h->cd_ready_fd >= 0) {
		hvd_unwatch_fd(h, h->cd_ready_fd);
		close(h->cd_ready_fd);
	}
	if (h->cd_pidfd >= 0) {
		hvd_unwatch_fd(h, h->cd_pidfd);
		close(h->cd_pidfd);
	}
	h->cd_ready_fd = h->cd_pidfd = -1;
}

/* Once xenstored is ready (and again after a death); 0 when not wanted. */
int hvd_cd_start(struct hvd *h)
{
	int err;

	if (h->opt.no_consoled || h->opt.no_xenstored)
		return 0;
	h->cd_ready = false;
	err = cd_spawn(h);
	if (err)
		return err;
	h->cd_pidfd = daemon_pidfd_open(h->cd_pid);
	h->cd_ready_src = (struct hvd_source){ HVD_SRC_CD_READY, h, 0 };
	h->cd_pid_src = (struct hvd_source){ HVD_SRC_CD_PIDFD, h, 0 };
	err = h->cd_pidfd < 0 ? h->cd_pidfd : hvd_watch_fd(h, h->cd_ready_fd, &h->cd_ready_src);
	if (!err)
		err = hvd_watch_fd(h, h->cd_pidfd, &h->cd_pid_src);
	if (err) {
		hvd_cd_stop(h);
		return err;
	}
	hvd_log(h, HV_LOG_INFO, "consoled started: %s, pid %d", h->cd_path, (int)h->cd_pid);
	return 0;
}

static void cd_log_hook(void *ctx, enum daemon_log_level level, const char *msg)
{
	hvd_log(ctx, (enum hv_log_level)level, "%s", msg);
}

/* Bounded like xenstored's stop: SIGTERM, HVD_CD_STOP_TIMEOUT_MS, SIGKILL. */
void hvd_cd_stop(struct hvd *h)
{
	struct daemon_logger lg = { cd_log_hook, h };

	daemon_child_stop("consoled", h->cd_pid, h->cd_pidfd, HVD_CD_STOP_TIMEOUT_MS, &lg);
	h->cd_pid = 0;
	cd_close_fds(h);
}

void hvd_cd_fini(struct hvd *h)
{
	hvd_cd_stop(h);
}

void hvd_cd_ready_event(struct hvd *h)
{
	char buf[16];
	ssize_t n = read(h->cd_ready_fd, buf, sizeof(buf));

	if (n > 0 && !h->cd_ready) {
		h->cd_ready = h->cd_ever_ready = true;
		hvd_services_ready(h);
		return;
	}
	if (n > 0 || n == -1)
		return;
	/* EOF: it closed the pipe, having said READY or not. */
	hvd_unwatch_fd(h, h->cd_ready_fd);
	close(h->cd_ready_fd);
	h->cd_ready_fd = -1;
	if (!h->cd_ready && !h->cd_ever_ready) {
		hvd_log(h, HV_LOG_ERR, "consoled exited before it was ready");
		h->stop = true;
		h->exit_code = 1;
	}
}

void hvd_cd_died_event(struct hvd *h)
{
	int status = 0, err;

	waitpid(h->cd_pid, &status, WNOHANG);
	h->cd_pid = 0;
	cd_close_fds(h);
	hvd_log(h, HV_LOG_ERR, "consoled exited (wait status %#x)", status);
	if (h->stop)
		return;
	if (!h->cd_ever_ready) {
		hvd_log(h, HV_LOG_ERR, "consoled exited before it was ready");
		h->stop = true;
		h->exit_code = 1;
		return;
	}
	if (h->cd_restarts >= HVD_CD_MAX_RESTARTS) {
		hvd_log(h, HV_LOG_ERR,
			"consoled restarted %d times: not again; consoles are "
			"not served",
			HVD_CD_MAX_RESTARTS);
		return;
	}
	h->cd_restarts++;
	err = hvd_cd_start(h);
	hvd_log(h, err ? HV_LOG_ERR : HV_LOG_INFO, "consoled restart %d/%d: %s", h->cd_restarts,
		HVD_CD_MAX_RESTARTS, err ? strerror(-err) : "started");
}
