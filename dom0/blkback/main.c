/*
 * xenon-blkback --run-dir D [--ready-fd N] [-v]: the block back end (design
 * in blkback.h). xenon-hvd starts it once xenstored is ready, with its own
 * run dir as D; it logs to D/blkback/blkback.log.
 *
 * Start-up is an ordered table undone in reverse: log, pid file
 * (D/blkback/blkback.pid), event loop, signals, xenon-hvd (an event
 * channel handle, VIRQ_DOM_EXC bound on it), XenStore (the vbd driver's
 * watches), readiness. SIGTERM/SIGINT: every vbd disconnected (its
 * persistent grants and ring unmapped, port unbound) and exit 0. Losing
 * xenon-hvd stops us too, exit 1: without it no ring can be served.
 *
 * A front end's death comes from xenon-hvd, not the store: VIRQ_DOM_EXC
 * on the event channel handle, then one LIST, and every vbd whose front
 * end is gone, shut down or replaced is torn down through lib/xenbus_be
 * (blkback.h). It is quicker than @releaseDomain, which xenstored sends
 * only once it has seen the same VIRQ, and the store's path then finds
 * nothing left to tear down.
 *
 * Losing xenstored does not stop us: a connected vbd's ring, grants, port
 * and image need no store, and exiting would cut every running guest off
 * its disk. It wakes nothing we wait on, though: libxenstore's reader
 * thread closes the socket but never the xs_fileno() pipe (xenon_dom0.h,
 * "Whether xenstored is still there"). So while the store is there the
 * loop sleeps at most XENON_STORE_PROBE_MS and drains the watch events
 * (xbbe_dispatch) at every wake-up, which is the probe. Once it fails we
 * say once "xenstored is gone: connected devices are still served, no new
 * ones", take the store off the loop and stop probing: connected vbds are
 * served as before, but no device is found, connected or disconnected by
 * its front end any more (store watches). A guest that dies is still
 * released (VIRQ_DOM_EXC): its grants and ring unmapped, its port
 * unbound, its image closed; its store nodes are left, which is logged.
 * Any store write still made (that one, xbbe_fatal() on a broken ring,
 * the disconnects at SIGTERM) fails at once and is only logged. xenon-hvd
 * never restarts xenstored, nor a back end that dies after it
 * (dom0/hvd/services.c): without the store a new one would find nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <xenstore.h>

#include "blkback.h"
#include "daemon.h"

static const char usage_text[] =
	"Usage: xenon-blkback --run-dir DIR [--ready-fd N] [-v]\n"
	"  The block back end for xenon-hvd's domains: serves every vbd the\n"
	"  toolstack writes under /local/domain/0/backend/vbd from its raw image\n"
	"  file (params). Started by xenon-hvd; exits 0 on SIGTERM.\n";

void bb_log(struct bb *bb, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > BB_WARN + bb->opts.verbosity + 1) /* info by default */
		return;
	va_start(ap, fmt);
	daemon_vlog(bb->log_fd, "xenon-blkback", (enum daemon_log_level)level, fmt, ap);
	va_end(ap);
}

static int epoll_add(struct bb *bb, int fd, struct bb_src *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	return epoll_ctl(bb->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- init steps ------------------------------------------------------- */

static int log_init(void *ctx)
{
	struct bb *bb = ctx;
	char dir[PATH_MAX], path[PATH_MAX + 16];
	int n = snprintf(dir, sizeof(dir), "%s/blkback", bb->opts.run_dir);
	int fd;

	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/blkback.log", dir);
	fd = daemon_log_open(dir, path);
	if (fd < 0)
		return fd;
	bb->log_fd = fd;
	return 0;
}

static void log_fini(void *ctx)
{
	struct bb *bb = ctx;

	daemon_log_close(&bb->log_fd);
}

/* D/blkback/blkback.pid: how a test or an operator finds the service
 * xenon-hvd started. */
static int pidfile_init(void *ctx)
{
	struct bb *bb = ctx;
	int n = snprintf(bb->pid_path, sizeof(bb->pid_path), "%s/blkback/blkback.pid",
			 bb->opts.run_dir);

	if (n < 0 || (size_t)n >= sizeof(bb->pid_path))
		return -ENAMETOOLONG;
	return daemon_pidfile_write(bb->pid_path);
}

static void pidfile_fini(void *ctx)
{
	struct bb *bb = ctx;

	daemon_pidfile_remove(bb->pid_path);
}

static int loop_init(void *ctx)
{
	struct bb *bb = ctx;

	bb->epfd = epoll_create1(EPOLL_CLOEXEC);
	return bb->epfd < 0 ? -errno : 0;
}

static void loop_fini(void *ctx)
{
	struct bb *bb = ctx;

	close(bb->epfd);
}

static int signals_init(void *ctx)
{
	struct bb *bb = ctx;

	bb->sig_fd = daemon_signals_open(NULL);
	if (bb->sig_fd < 0)
		return bb->sig_fd;
	bb->sig_src.kind = BB_SRC_SIGNAL;
	return epoll_add(bb, bb->sig_fd, &bb->sig_src);
}

static void signals_fini(void *ctx)
{
	struct bb *bb = ctx;

	daemon_signals_close(bb->sig_fd, NULL);
}

/* The event channel handle, with VIRQ_DOM_EXC on it: a front end's death
 * needs no store (the top of this file). */
static int hvd_init(void *ctx)
{
	struct bb *bb = ctx;
	int err = xenon_evtchn_open(bb->opts.run_dir, &bb->xe);

	if (err)
		return err;
	bb->virq_port = xenon_evtchn_bind_virq(bb->xe, VIRQ_DOM_EXC);
	err = bb->virq_port < 0 ? bb->virq_port : 0;
	bb->ev_src.kind = BB_SRC_EVTCHN;
	if (!err)
		err = epoll_add(bb, xenon_evtchn_fd(bb->xe), &bb->ev_src);
	if (err)
		xenon_evtchn_close(bb->xe);
	return err;
}

static void hvd_fini(void *ctx)
{
	struct bb *bb = ctx;

	xenon_evtchn_close(bb->xe);
	xenon_domains_fini(&bb->doms);
}

static void xbbe_log(void *ctx, const char *msg)
{
	bb_log(ctx, BB_INFO, "%s", msg);
}

static int xs_init(void *ctx)
{
	struct bb *bb = ctx;
	int err = xenon_store_open(bb->opts.run_dir, &bb->xs);

	if (err)
		return err;
	bb_driver_set_ctx(bb);
	err = xbbe_create(bb->xs, 0, &bb_vbd_driver, &bb->xbbe);
	if (!err) {
		xbbe_set_log(bb->xbbe, xbbe_log, bb);
		bb->xs_src.kind = BB_SRC_XS;
		err = epoll_add(bb, xbbe_fd(bb->xbbe), &bb->xs_src);
	}
	if (err) {
		xbbe_destroy(bb->xbbe);
		xs_close(bb->xs);
	}
	return err;
}

/* Every vbd disconnected (through the evtchn handle, still open). */
static void xs_fini(void *ctx)
{
	struct bb *bb = ctx;

	xbbe_destroy(bb->xbbe);
	xs_close(bb->xs);
}

static int ready_init(void *ctx)
{
	struct bb *bb = ctx;
	int err;

	bb_log(bb, BB_INFO, "ready");
	err = daemon_ready(&bb->opts.ready_fd);
	if (err)
		bb_log(bb, BB_WARN, "readiness fd: %s", strerror(-err));
	return 0;
}

static const struct daemon_step init_steps[] = {
	{ "log", log_init, log_fini },		{ "pid file", pidfile_init, pidfile_fini },
	{ "event loop", loop_init, loop_fini }, { "signals", signals_init, signals_fini },
	{ "xenon-hvd", hvd_init, hvd_fini },	{ "xenstore", xs_init, xs_fini },
	{ "readiness", ready_init, NULL },
};

#define N_INIT_STEPS (sizeof(init_steps) / sizeof(init_steps[0]))

static void up_failed(void *ctx, const char *step, int err)
{
	bb_log(ctx, BB_ERR, "start-up failed at %s: %s", step, strerror(-err));
}

/* ---- the loop --------------------------------------------------------- */

static void evtchn_event(struct bb *bb)
{
	bool dom_exc = false;
	int port;

	/* A notify (or an unbind in a teardown) is a round trip that may
	 * queue events: drain until none. */
	do {
		while ((port = xenon_evtchn_pending(bb->xe)) >= 0) {
			/* Unmask first: a kick during the service is not lost. */
			xenon_evtchn_unmask(bb->xe, (evtchn_port_t)port);
			if (port == bb->virq_port)
				dom_exc = true; /* once the batch is drained */
			else
				bb_vbd_kick(bb, (evtchn_port_t)port);
		}
		if (port == -EAGAIN && dom_exc) {
			dom_exc = false;
			bb_vbd_dom_exc(bb);
		}
	} while (port == -EAGAIN && xenon_evtchn_has_queued(bb->xe));
	if (port != -EAGAIN) {
		bb_log(bb, BB_ERR, "xenon-hvd connection: %s: stopping", strerror(-port));
		bb->stop = true;
		bb->exit_code = 1;
	}
}

/* The store is gone for good (the top of this file): said once, off the
 * loop, never probed again; the connected vbds are served on. */
static void xs_lost(struct bb *bb, int err)
{
	if (err == -EPIPE)
		bb_log(bb, BB_ERR,
		       "xenstored is gone: connected devices are still served, "
		       "no new ones");
	else
		bb_log(bb, BB_ERR,
		       "xenstored connection: %s: connected devices are still "
		       "served, no new ones",
		       strerror(-err));
	epoll_ctl(bb->epfd, EPOLL_CTL_DEL, xbbe_fd(bb->xbbe), NULL);
	bb->store_gone = true;
}

/* The watch events that came; also the probe that xenstored is still
 * there (the top of this file). */
static void xs_probe(struct bb *bb)
{
	int rc;

	if (bb->store_gone)
		return;
	rc = xbbe_dispatch(bb->xbbe);
	if (rc < 0 && (rc = xenon_store_watch_errno(-rc)))
		xs_lost(bb, rc);
}

static void dispatch(struct bb *bb, struct bb_src *src)
{
	unsigned int signo;

	switch (src->kind) {
	case BB_SRC_SIGNAL:
		signo = daemon_signal_read(bb->sig_fd);
		if (signo) {
			bb_log(bb, BB_INFO, "signal %u: stopping", signo);
			bb->stop = true;
		}
		break;
	case BB_SRC_XS: /* drained by xs_probe(), at every wake-up */
		break;
	case BB_SRC_EVTCHN:
		evtchn_event(bb);
		break;
	}
}

static int bb_run(struct bb *bb)
{
	struct epoll_event evs[16];
	bool more = false;
	int n, wait_ms;

	while (!bb->stop) {
		/* Rings left with work after a batch: look at the rest, come back;
		 * else sleep, bounded by the store probe while there is a store. */
		wait_ms = bb->store_gone ? -1 : XENON_STORE_PROBE_MS;
		n = epoll_wait(bb->epfd, evs, 16, more ? 0 : wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n && !bb->stop; i++)
			dispatch(bb, evs[i].data.ptr);
		if (!bb->stop)
			xs_probe(bb);
		more = !bb->stop && bb_vbd_serve_pending(bb);
		if (!bb->stop && xenon_evtchn_has_queued(bb->xe))
			evtchn_event(bb);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bb *bb = calloc(1, sizeof(*bb));
	int err;

	if (!bb)
		return 1;
	bb->log_fd = STDERR_FILENO;
	err = daemon_parse_options(argc, argv, usage_text, &bb->opts);
	if (err) {
		if (err < 0)
			fputs(usage_text, stderr);
		free(bb);
		return err > 0 ? 0 : 2;
	}
	if (daemon_up(init_steps, N_INIT_STEPS, bb, "xenon-blkback", up_failed)) {
		free(bb);
		return 1;
	}
	err = bb_run(bb);
	if (err)
		bb_log(bb, BB_ERR, "event loop: %s", strerror(-err));
	daemon_down(init_steps, N_INIT_STEPS, bb);
	err = err ? 1 : bb->exit_code;
	free(bb);
	return err;
}
