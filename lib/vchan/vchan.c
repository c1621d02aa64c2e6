/*
 * dom0's vchan binding (xenon_vchan.h): struct vchan_env_ops over lib/dom0
 * and libxenstore. One set of handles per channel, as libxenvchan opens its
 * own gntshr/gnttab/evtchn handles: closing the channel closes them, and
 * xenon-hvd undoes whatever they held if this process dies (unmap/unshare
 * notifies zero our live byte and signal the peer).
 *
 * Waiting: the event handle's socket is the pollable fd. wait() first
 * takes the events already queued; otherwise it polls the fd until the
 * deadline, then takes (and unmasks) every port that fired -- the core
 * re-reads the ring afterwards, so which port fired does not matter.
 *
 * Peer death: a domU killed outright unmaps nothing itself. Its port's
 * far end closes in the core, so peer_alive(thorough) asks the core for our
 * port's state (EVTCHNOP_status as dom0) and expects it interdomain.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <xenstore.h>

#include "xenon_dom0.h"
#include "xenon_vchan.h"

struct xenon_vchan {
	struct vchan v;
	struct xenon_evtchn *xe;
	struct xenon_gntshr *xgs;
	struct xenon_gnttab *xgt;
	struct xs_handle *xs;
};

static struct xenon_vchan *xv_of(void *ctx)
{
	return ctx;
}

static uint64_t xv_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int xv_share(void *ctx, domid_t peer, unsigned int n, uint32_t *refs, int notify_offset,
		    evtchn_port_t port, void **ret_addr)
{
	struct xenon_vchan *x = xv_of(ctx);
	void *p;

	if (n == 1 && notify_offset >= 0)
		p = xenon_gntshr_share_page_notify(x->xgs, peer, true, notify_offset, (int32_t)port,
						   refs);
	else
		p = xenon_gntshr_share_pages(x->xgs, peer, n, refs, true);
	if (!p)
		return errno ? -errno : -ENOMEM;
	*ret_addr = p;
	return 0;
}

static void xv_unshare(void *ctx, void *addr, unsigned int n, const uint32_t *refs)
{
	(void)refs;
	xenon_gntshr_unshare(xv_of(ctx)->xgs, addr, n);
}

static int xv_map(void *ctx, domid_t peer, unsigned int n, const uint32_t *refs, void **ret_addr)
{
	void *p =
		xenon_gnttab_map_grant_refs(xv_of(ctx)->xgt, n, peer, refs, PROT_READ | PROT_WRITE);

	if (!p)
		return errno ? -errno : -ENOMEM;
	*ret_addr = p;
	return 0;
}

static void xv_unmap(void *ctx, void *addr, unsigned int n)
{
	xenon_gnttab_unmap(xv_of(ctx)->xgt, addr, n);
}

static int xv_set_unmap_notify(void *ctx, void *addr, int off, evtchn_port_t port)
{
	return xenon_gnttab_set_unmap_notify(xv_of(ctx)->xgt, addr, off, (int32_t)port);
}

static int xv_port_alloc(void *ctx, domid_t peer, evtchn_port_t *ret_port)
{
	int p = xenon_evtchn_bind_unbound_port(xv_of(ctx)->xe, peer);

	if (p < 0)
		return p;
	*ret_port = (evtchn_port_t)p;
	return 0;
}

static int xv_port_bind(void *ctx, domid_t peer, evtchn_port_t remote, evtchn_port_t *ret_port)
{
	int p = xenon_evtchn_bind_interdomain(xv_of(ctx)->xe, peer, remote);

	if (p < 0)
		return p;
	*ret_port = (evtchn_port_t)p;
	return 0;
}

static void xv_port_close(void *ctx, evtchn_port_t port)
{
	xenon_evtchn_unbind(xv_of(ctx)->xe, port);
}

static int xv_notify(void *ctx, evtchn_port_t port)
{
	return xenon_evtchn_notify(xv_of(ctx)->xe, port);
}

/* Take every queued event, unmasking each port. */
static int xv_drain(struct xenon_vchan *x)
{
	int p, n = 0;

	while ((p = xenon_evtchn_pending(x->xe)) >= 0) {
		xenon_evtchn_unmask(x->xe, (evtchn_port_t)p);
		n++;
	}
	return n;
}

static int xv_wait(void *ctx, evtchn_port_t port, uint64_t deadline)
{
	struct xenon_vchan *x = xv_of(ctx);
	struct pollfd pfd = { .fd = xenon_evtchn_fd(x->xe), .events = POLLIN };
	uint64_t now = xv_now(NULL);
	int ms = -1;

	if (port && xv_drain(x) > 0)
		return 0;
	if (deadline)
		ms = deadline > now ? (int)((deadline - now + 999999) / 1000000) : 0;
	if (poll(port ? &pfd : NULL, port ? 1 : 0, ms) < 0 && errno != EINTR)
		return -errno;
	if (port)
		xv_drain(x);
	return 0;
}

/* Thorough: EVTCHNOP_status of our one port, as dom0 (one request, no
 * allocation). Only a port in use that is no longer interdomain -- the
 * far end closed, so the core made ours unbound -- means the peer is
 * gone. A failed query or a closed port proves nothing about the peer
 * (xenon-hvd busy, or our own close): the channel is left as it is. */
static bool xv_peer_alive(void *ctx, evtchn_port_t port, bool thorough)
{
	struct xenon_vchan *x = xv_of(ctx);
	struct evtchn_status st = { .dom = DOMID_SELF, .port = port };
	uint64_t args[5] = { EVTCHNOP_status, 0, 0, 0, 0 };

	if (!thorough || !port)
		return true;
	if (xenon_hypercall(xenon_evtchn_ctl(x->xe), __HYPERVISOR_event_channel_op, args, 1, &st,
			    sizeof(st)) < 0)
		return true;
	return st.status == EVTCHNSTAT_closed || st.status == EVTCHNSTAT_interdomain;
}

static int xv_store_write(void *ctx, const char *path, const char *value, domid_t reader)
{
	struct xenon_vchan *x = xv_of(ctx);
	struct xs_permissions perms[2] = { { .id = 0, .perms = XS_PERM_NONE },
					   { .id = reader, .perms = XS_PERM_READ } };

	if (!xs_write(x->xs, XBT_NULL, path, value, strlen(value)) ||
	    !xs_set_permissions(x->xs, XBT_NULL, path, perms, 2))
		return errno ? -errno : -EIO;
	return 0;
}

static int xv_store_read(void *ctx, const char *path, char *buf, size_t len)
{
	unsigned int n = 0;
	char *v = xs_read(xv_of(ctx)->xs, XBT_NULL, path, &n);

	if (!v)
		return errno ? -errno : -ENOENT;
	if (n >= len) {
		free(v);
		return -ERANGE;
	}
	memcpy(buf, v, n);
	buf[n] = '\0';
	free(v);
	return (int)n;
}

static int xv_store_rm(void *ctx, const char *path)
{
	return xs_rm(xv_of(ctx)->xs, XBT_NULL, path) ? 0 : -errno;
}

static const struct vchan_env_ops xv_ops = {
	.share = xv_share,
	.unshare = xv_unshare,
	.map = xv_map,
	.unmap = xv_unmap,
	.set_unmap_notify = xv_set_unmap_notify,
	.port_alloc = xv_port_alloc,
	.port_bind = xv_port_bind,
	.port_close = xv_port_close,
	.notify = xv_notify,
	.wait = xv_wait,
	.peer_alive = xv_peer_alive,
	.store_write = xv_store_write,
	.store_read = xv_store_read,
	.store_rm = xv_store_rm,
	.now_ns = xv_now,
};

/* The ring core's Xen codes (xen_vchan.h) as this API's (xenon_vchan.h). */
static long xv_result(long rc)
{
	if (rc == -ENOTCONN)
		return -EPIPE;
	if (rc == -EBADMSG)
		return -EPROTO;
	return rc;
}

static void xv_free(struct xenon_vchan *x)
{
	xenon_evtchn_close(x->xe);
	xenon_gntshr_close(x->xgs);
	xenon_gnttab_close(x->xgt);
	if (x->xs)
		xs_close(x->xs);
	free(x);
}

static int xv_open(const char *run_dir, bool server, struct xenon_vchan **ret)
{
	struct xenon_vchan *x = calloc(1, sizeof(*x));
	int rc;

	if (!x)
		return -ENOMEM;
	rc = xenon_evtchn_open(run_dir, &x->xe);
	if (rc == 0)
		rc = server ? xenon_gntshr_open(run_dir, &x->xgs)
			    : xenon_gnttab_open(run_dir, &x->xgt);
	if (rc == 0)
		rc = xenon_store_open(run_dir, &x->xs);
	if (rc < 0) {
		xv_free(x);
		return rc;
	}
	*ret = x;
	return 0;
}

int xenon_vchan_server_init(const char *run_dir, uint32_t domid, const char *xs_path,
			    size_t read_min, size_t write_min, struct xenon_vchan **ret)
{
	struct xenon_vchan *x = NULL;
	int rc = xv_open(run_dir, true, &x);

	if (rc == 0)
		rc = (int)xv_result(vchan_server_init(&x->v, &xv_ops, x, (domid_t)domid, xs_path,
						      read_min, write_min));
	if (rc < 0 && x) {
		xv_free(x);
		return rc;
	}
	if (rc == 0)
		*ret = x;
	return rc;
}

int xenon_vchan_client_init(const char *run_dir, uint32_t domid, const char *xs_path,
			    uint64_t timeout_ns, struct xenon_vchan **ret)
{
	struct xenon_vchan *x = NULL;
	int rc = xv_open(run_dir, false, &x);

	if (rc == 0)
		rc = (int)xv_result(
			vchan_client_init(&x->v, &xv_ops, x, (domid_t)domid, xs_path, timeout_ns));
	if (rc < 0 && x) {
		xv_free(x);
		return rc;
	}
	if (rc == 0)
		*ret = x;
	return rc;
}

void xenon_vchan_close(struct xenon_vchan *x)
{
	if (!x)
		return;
	vchan_close(&x->v);
	xv_free(x);
}

long xenon_vchan_read(struct xenon_vchan *x, void *buf, size_t len)
{
	return xv_result(vchan_read(&x->v, buf, len));
}

long xenon_vchan_write(struct xenon_vchan *x, const void *buf, size_t len)
{
	return xv_result(vchan_write(&x->v, buf, len));
}

long xenon_vchan_recv(struct xenon_vchan *x, void *buf, size_t len)
{
	return xv_result(vchan_recv(&x->v, buf, len));
}

long xenon_vchan_send(struct xenon_vchan *x, const void *buf, size_t len)
{
	return xv_result(vchan_send(&x->v, buf, len));
}

int xenon_vchan_wait(struct xenon_vchan *x, uint64_t timeout_ns)
{
	if (timeout_ns == 0)
		return xv_drain(x) > 0 ? 0 : -ETIMEDOUT;
	return (int)xv_result(vchan_wait(&x->v, timeout_ns));
}

int xenon_vchan_fd_for_select(struct xenon_vchan *x)
{
	return xenon_evtchn_fd(x->xe);
}

bool xenon_vchan_is_open(struct xenon_vchan *x)
{
	return vchan_is_open(&x->v);
}

void xenon_vchan_check_peer(struct xenon_vchan *x)
{
	vchan_check_peer(&x->v);
}

long xenon_vchan_data_ready(struct xenon_vchan *x)
{
	return xv_result(vchan_data_ready(&x->v));
}

long xenon_vchan_buffer_space(struct xenon_vchan *x)
{
	return xv_result(vchan_buffer_space(&x->v));
}

void xenon_vchan_set_blocking(struct xenon_vchan *x, bool blocking)
{
	x->v.blocking = blocking;
}

const struct vchan *xenon_vchan_core(const struct xenon_vchan *x)
{
	return &x->v;
}
