/*
 * The back ends xenon-hvd runs as dom0 service children once xenstored is
 * ready: xenon-consoled and xenon-blkback. Both find their devices through
 * the store, so neither can start before it; xenstored itself is started
 * (and never restarted: the store dies with it) by main.c.
 *
 * One table (hvd_svc_descs[]) says what each service is; the start, stop,
 * readiness and death handling is the same code for all of them.
 *
 * Restart policy: a back end holds no state that is not also in the store
 * or the shared pages -- a new consoled re-reads console/{ring-ref,port}
 * and continues each ring from the page's own out_cons; a new blkback
 * probes every backend/vbd directory again (a guest whose back end died
 * has already seen its liveness byte drop, blkback.h). So a service that
 * dies (kill -9, a crash) is logged and restarted, at most
 * HVD_SVC_MAX_RESTARTS times in our life, so one that crashes on start
 * cannot spin. One that dies before it ever said READY fails our start-up.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "hvd.h"

#define HVD_SVC_MAX_RESTARTS 5
#define HVD_SVC_STOP_TIMEOUT_MS 5000

struct hvd_svc_desc {
	const char *name;      /* in the log */
	const char *binary;    /* installed beside xenon-hvd */
	const char *build_rel; /* in the build tree, from dom0/hvd */
};

static const struct hvd_svc_desc hvd_svc_descs[HVD_NR_SVCS] = {
	[HVD_SVC_CONSOLED] = { "consoled", "xenon-consoled", "../console/xenon-consoled" },
	[HVD_SVC_BLKBACK] = { "blkback", "xenon-blkback", "../blkback/xenon-blkback" },
};

static const char *svc_name(const struct hvd_svc *s)
{
	return hvd_svc_descs[s->id].name;
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

/* Every service's binary is found now, so a missing one fails start-up
 * before anything runs; none is started yet. */
int hvd_svcs_init(struct hvd *h)
{
	int err;

	for (unsigned int i = 0; i < HVD_NR_SVCS; i++) {
		struct hvd_svc *s = &h->svc[i];

		*s = (struct hvd_svc){ .h = h, .id = i, .pidfd = -1, .ready_fd = -1 };
		s->wanted = !h->opt.no_xenstored && !h->opt.no_svc[i];
		if (!s->wanted)
			continue;
		err = svc_find(h, s);
		if (err) {
			hvd_log(h, HV_LOG_ERR, "%s not found: %s", svc_name(s), strerror(-err));
			return err;
		}
	}
	return 0;
}

void hvd_svcs_fini(struct hvd *h)
{
	hvd_svcs_stop(h);
}

static int svc_spawn(struct hvd *h, struct hvd_svc *s)
{
	char fdarg[16];
	char *argv[] = { s->path,      "--run-dir", (char *)h->opt.run_dir,
			 "--ready-fd", fdarg,	    h->opt.verbosity ? "-v" : NULL,
			 NULL };

	return daemon_child_start(s->path, argv, fdarg, sizeof(fdarg), &s->pid, &s->ready_fd);
}

static void svc_close_fds(struct hvd *h, struct hvd_svc *s)
{
	if (s->ready_fd >= 0) {
		hvd_unwatch_fd(h, s->ready_fd);
		close(s->ready_fd);
	}
	if (s->pidfd >= 0) {
		hvd_unwatch_fd(h, s->pidfd);
		close(s->pidfd);
	}
	s->ready_fd = s->pidfd = -1;
}

static void svc_log_hook(void *ctx, enum daemon_log_level level, const char *msg)
{
	hvd_log(ctx, (enum hv_log_level)level, "%s", msg);
}

/* Bounded like xenstored's stop: SIGTERM, HVD_SVC_STOP_TIMEOUT_MS, SIGKILL. */
static void svc_stop(struct hvd *h, struct hvd_svc *s)
{
	struct daemon_logger lg = { svc_log_hook, h };

	daemon_child_stop(svc_name(s), s->pid, s->pidfd, HVD_SVC_STOP_TIMEOUT_MS, &lg);
	s->pid = 0;
	svc_close_fds(h, s);
}

static int svc_start(struct hvd *h, struct hvd_svc *s)
{
	int err;

	s->ready = false;
	err = svc_spawn(h, s);
	if (err)
		return err;
	s->pidfd = daemon_pidfd_open(s->pid);
	s->ready_src = (struct hvd_source){ HVD_SRC_SVC_READY, s, 0 };
	s->pid_src = (struct hvd_source){ HVD_SRC_SVC_PIDFD, s, 0 };
	err = s->pidfd < 0 ? s->pidfd : hvd_watch_fd(h, s->ready_fd, &s->ready_src);
	if (!err)
		err = hvd_watch_fd(h, s->pidfd, &s->pid_src);
	if (err) {
		svc_stop(h, s);
		return err;
	}
	hvd_log(h, HV_LOG_INFO, "%s started: %s, pid %d", svc_name(s), s->path, (int)s->pid);
	return 0;
}

/* Once xenstored is ready: every wanted service, in table order. */
int hvd_svcs_start(struct hvd *h)
{
	int err;

	for (unsigned int i = 0; i < HVD_NR_SVCS; i++) {
		if (!h->svc[i].wanted)
			continue;
		err = svc_start(h, &h->svc[i]);
		if (err) {
			hvd_log(h, HV_LOG_ERR, "starting %s: %s", svc_name(&h->svc[i]),
				strerror(-err));
			return err;
		}
	}
	return 0;
}

/* In reverse table order (no-op for those not running). */
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

static void svc_failed_start(struct hvd *h, struct hvd_svc *s)
{
	hvd_log(h, HV_LOG_ERR, "%s exited before it was ready", svc_name(s));
	h->stop = true;
	h->exit_code = 1;
}

void hvd_svc_ready_event(struct hvd_svc *s)
{
	struct hvd *h = s->h;
	char buf[16];
	ssize_t n = read(s->ready_fd, buf, sizeof(buf));

	if (n > 0 && !s->ready) {
		s->ready = s->ever_ready = true;
		hvd_services_ready(h);
		return;
	}
	if (n > 0 || n == -1)
		return;
	/* EOF: it closed the pipe, having said READY or not. */
	hvd_unwatch_fd(h, s->ready_fd);
	close(s->ready_fd);
	s->ready_fd = -1;
	if (!s->ready && !s->ever_ready)
		svc_failed_start(h, s);
}

void hvd_svc_died_event(struct hvd_svc *s)
{
	struct hvd *h = s->h;
	int status = 0, err;

	waitpid(s->pid, &status, WNOHANG);
	s->pid = 0;
	svc_close_fds(h, s);
	hvd_log(h, HV_LOG_ERR, "%s exited (wait status %#x)", svc_name(s), status);
	if (h->stop)
		return;
	if (!s->ever_ready) {
		svc_failed_start(h, s);
		return;
	}
	if (s->restarts >= HVD_SVC_MAX_RESTARTS) {
		hvd_log(h, HV_LOG_ERR,
			"%s restarted %d times: not again; its devices are not served", svc_name(s),
			HVD_SVC_MAX_RESTARTS);
		return;
	}
	s->restarts++;
	err = svc_start(h, s);
	hvd_log(h, err ? HV_LOG_ERR : HV_LOG_INFO, "%s restart %d/%d: %s", svc_name(s), s->restarts,
		HVD_SVC_MAX_RESTARTS, err ? strerror(-err) : "started");
}
