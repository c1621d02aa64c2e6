/*
 * xenstored under xenon-hvd (design in hvd_link.h).
 *
 * Events read by a request (a notify is a round trip on the handle's
 * connection) wait in libxenon-dom0's queue, not in the socket, so epoll
 * would not report them: after every notify that leaves events queued we
 * poke an eventfd that sits in the loop next to the handle's fd.
 *
 * Teardown of a ring (RELEASE or death) runs in the loop's deferred phase,
 * never inside the engine's release hook, which is still walking the
 * domain's connections.
 *
 * Per-event work does not grow with the number of domains: a ring is found
 * by its port (every event) and by its domid (RELEASE) in id-indexed tables
 * (lib/daemon/idtab.h), and the deferred teardown visits only the rings
 * released. Only VIRQ_DOM_EXC (a domain died) looks at every ring, once,
 * against one LIST of every domain (xenon_domains_list(), all its pages).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/io/xs_wire.h>

#include "hvd_link.h"
#include "idtab.h"
#include "transport_ring.h"
#include "xenon_dom0.h"

#define XSD_HVD_MAX_RINGS 4096

struct xsd_hvd_ring {
	struct xsd_hvd *x;
	unsigned int domid;
	evtchn_port_t port; /* our (dom0's) end */
	void *page;
	struct xs_ring *ring;
	unsigned int idx;	    /* in x->rings[] */
	bool released;		    /* on x->reap_list, out of by_domid */
	struct xsd_hvd_ring *rnext; /* x->reap_list */
};

struct xsd_hvd {
	struct xs_loop *loop;
	const struct xslog *log;
	struct xs_store *store;
	struct xenon_evtchn *xe;
	struct xenon_ctl *ctl; /* foreign maps and LIST */
	int virq_port;
	int wake_fd;
	struct xs_loop_source ev_src, wake_src;
	struct xs_loop_deferred reap;
	struct xsd_hvd_ring *rings[XSD_HVD_MAX_RINGS]; /* every ring, released or not */
	unsigned int nr_rings;
	struct idtab by_port;		/* our port -> ring, until freed */
	struct idtab by_domid;		/* domid -> its ring, until released */
	struct xsd_hvd_ring *reap_list; /* released, freed by xsd_hvd_reap() */
	struct xenon_domains doms;	/* the latest LIST, kept for its buffer */
};

static struct xsd_hvd_ring *ring_by_port(struct xsd_hvd *x, evtchn_port_t port)
{
	return idtab_ptr(&x->by_port, port);
}

static void xsd_hvd_poke(struct xsd_hvd *x)
{
	uint64_t one = 1;

	if (xenon_evtchn_has_queued(x->xe) && write(x->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is already non-zero: the loop will look. */
	}
}

static void ring_notify(void *ctx)
{
	struct xsd_hvd_ring *e = ctx;

	if (xenon_evtchn_notify(e->x->xe, e->port) < 0)
		xslog_printf(e->x->log, XSLOG_WARN, "domain %u: notify port %u failed", e->domid,
			     e->port);
	xsd_hvd_poke(e->x);
}

static const struct xs_ring_evtchn_ops ring_evtchn_ops = { .notify = ring_notify };

/* Out of the tables and rings[] (moving the last ring into its place). */
static void ring_unlink(struct xsd_hvd_ring *e)
{
	struct xsd_hvd *x = e->x;

	idtab_clear_ptr(&x->by_port, e->port, e);
	idtab_clear_ptr(&x->by_domid, e->domid, e);
	x->rings[e->idx] = x->rings[--x->nr_rings];
	x->rings[e->idx]->idx = e->idx;
}

static void ring_free(struct xsd_hvd_ring *e)
{
	xs_ring_destroy(e->ring);
	if (e->port)
		xenon_evtchn_unbind(e->x->xe, e->port);
	if (e->page)
		xenon_foreign_unmap(e->page, 1);
	free(e);
}

static void xsd_hvd_reap(struct xs_loop_deferred *d)
{
	struct xsd_hvd *x = xs_container_of(d, struct xsd_hvd, reap);

	while (x->reap_list) {
		struct xsd_hvd_ring *e = x->reap_list;

		x->reap_list = e->rnext;
		ring_unlink(e);
		xslog_printf(x->log, XSLOG_INFO, "domain %u: ring released", e->domid);
		ring_free(e);
	}
	xsd_hvd_poke(x);
}

void xsd_hvd_release(struct xsd_hvd *x, unsigned int domid)
{
	struct xsd_hvd_ring *e = idtab_ptr(&x->by_domid, domid);

	if (!e)
		return;
	/* Its port stays in by_port (still bound) until the reap; a domain
	 * introduced again under this domid meanwhile gets a ring of its own. */
	idtab_clear_ptr(&x->by_domid, domid, e);
	e->released = true;
	e->rnext = x->reap_list;
	x->reap_list = e;
	xs_loop_defer(x->loop, &x->reap);
}

/* Its domain is listed and neither shut down nor dying. */
static bool ring_domain_runs(const struct xsd_hvd *x, const struct xsd_hvd_ring *e)
{
	const struct procdom_ctl_dominfo *d = xenon_domains_find(&x->doms, e->domid);

	return d && xenon_dominfo_running(d);
}

/*
 * VIRQ_DOM_EXC: release every introduced domain that is gone or shut down.
 * The list has every domain, sorted: each ring is looked up in it,
 * O(rings x log domains), not O(domains x rings).
 */
static void xsd_hvd_dom_exc(struct xsd_hvd *x)
{
	int n = xenon_domains_list(x->ctl, &x->doms);

	if (n < 0) {
		xslog_printf(x->log, XSLOG_WARN, "listing domains: %s", strerror(-n));
		return;
	}
	for (unsigned int i = 0; i < x->nr_rings && x->store; i++) {
		struct xsd_hvd_ring *e = x->rings[i];

		if (e->released || ring_domain_runs(x, e))
			continue;
		/* xs_domain_gone() releases it through xsd_hvd_release(), which
		 * only queues it: rings[] stays as it is during this loop. */
		xslog_printf(x->log, XSLOG_INFO, "domain %u is gone: releasing", e->domid);
		xs_domain_gone(x->store, e->domid);
	}
}

static void xsd_hvd_events(struct xsd_hvd *x)
{
	int port;

	while ((port = xenon_evtchn_pending(x->xe)) >= 0) {
		struct xsd_hvd_ring *e = ring_by_port(x, (evtchn_port_t)port);

		if (port == x->virq_port)
			xsd_hvd_dom_exc(x);
		else if (e && !e->released)
			xs_ring_kick(e->ring);
		xenon_evtchn_unmask(x->xe, (evtchn_port_t)port);
	}
	if (port != -EAGAIN) {
		/* xenon-hvd is gone (it never restarts us, and we cannot serve a
		 * ring without it): a dom0 service does not outlive its
		 * hypervisor. Stop as on SIGTERM. */
		xslog_printf(x->log, XSLOG_ERR, "xenon-hvd connection: %s: stopping",
			     strerror(-port));
		xs_loop_del(x->loop, xenon_evtchn_fd(x->xe));
		xs_loop_stop(x->loop);
	}
}

static void ev_ready(struct xs_loop_source *src, uint32_t events)
{
	xsd_hvd_events(xs_container_of(src, struct xsd_hvd, ev_src));
}

static void wake_ready(struct xs_loop_source *src, uint32_t events)
{
	struct xsd_hvd *x = xs_container_of(src, struct xsd_hvd, wake_src);
	uint64_t v;

	if (read(x->wake_fd, &v, sizeof(v)) < 0) {
		/* Spurious: nothing to clear. */
	}
	xsd_hvd_events(x);
}

int xsd_hvd_introduce(struct xsd_hvd *x, struct xs_store *s, unsigned int domid, uint64_t gfn,
		      unsigned int port)
{
	struct xsd_hvd_ring *e;
	int rc;

	x->store = s;
	if (x->nr_rings >= XSD_HVD_MAX_RINGS)
		return -ENOSPC;
	if (idtab_ptr(&x->by_domid, domid))
		return -EEXIST; /* the engine introduces a domain once */
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->x = x;
	e->domid = domid;
	e->page = xenon_foreign_map(x->ctl, domid, gfn, 1, PROT_READ | PROT_WRITE);
	rc = e->page ? xenon_evtchn_bind_interdomain(x->xe, domid, port) : -errno;
	if (rc < 0)
		goto out_free;
	e->port = (evtchn_port_t)rc;
	rc = xs_ring_create(s, domid, e->page, &ring_evtchn_ops, e, x->log, &e->ring);
	if (rc < 0)
		goto out_free;
	rc = idtab_set_ptr(&x->by_port, e->port, e);
	if (!rc)
		rc = idtab_set_ptr(&x->by_domid, domid, e);
	if (rc < 0) {
		idtab_clear_ptr(&x->by_port, e->port, e);
		goto out_free;
	}
	e->idx = x->nr_rings;
	x->rings[x->nr_rings++] = e;
	xslog_printf(x->log, XSLOG_INFO, "domain %u: ring at gfn %#llx, port %u (ours %u)", domid,
		     (unsigned long long)gfn, port, e->port);
	/* Requests the guest queued before we connected: the port already
	 * fired, or will on its next notify; serve what is there now. */
	xs_ring_kick(e->ring);
	xsd_hvd_poke(x);
	return 0;

out_free:
	xslog_printf(x->log, XSLOG_WARN, "domain %u: introduce failed: %s", domid, strerror(-rc));
	ring_free(e);
	return rc;
}

void xsd_hvd_set_store(struct xsd_hvd *x, struct xs_store *s)
{
	x->store = s;
}

int xsd_hvd_create(const char *run_dir, struct xs_loop *loop, const struct xslog *log,
		   struct xsd_hvd **ret)
{
	struct xsd_hvd *x = calloc(1, sizeof(*x));
	int err;

	if (!x)
		return -ENOMEM;
	*x = (struct xsd_hvd){ .loop = loop, .log = log, .wake_fd = -1 };
	x->ev_src.ready = ev_ready;
	x->wake_src.ready = wake_ready;
	x->reap.run = xsd_hvd_reap;
	/* Ports as the FIFO ABI bounds them, whichever ABI dom0 uses: the
	 * table grows only as far as the highest port bound. */
	idtab_init(&x->by_port, sizeof(void *), EVTCHN_FIFO_NR_CHANNELS);
	idtab_init(&x->by_domid, sizeof(void *), DOMID_FIRST_RESERVED);
	err = xenon_evtchn_open(run_dir, &x->xe);
	if (!err)
		err = xenon_ctl_open(run_dir, &x->ctl);
	if (!err) {
		x->virq_port = xenon_evtchn_bind_virq(x->xe, VIRQ_DOM_EXC);
		err = x->virq_port < 0 ? x->virq_port : 0;
	}
	if (!err) {
		x->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		err = x->wake_fd < 0 ? -errno : 0;
	}
	if (!err)
		err = xs_loop_add(loop, xenon_evtchn_fd(x->xe), EPOLLIN, &x->ev_src);
	if (!err) {
		err = xs_loop_add(loop, x->wake_fd, EPOLLIN, &x->wake_src);
		if (err)
			xs_loop_del(loop, xenon_evtchn_fd(x->xe));
	}
	if (err) {
		if (x->wake_fd >= 0)
			close(x->wake_fd);
		idtab_fini(&x->by_port);
		idtab_fini(&x->by_domid);
		xenon_ctl_close(x->ctl);
		xenon_evtchn_close(x->xe);
		free(x);
		return err;
	}
	*ret = x;
	return 0;
}

void xsd_hvd_destroy(struct xsd_hvd *x)
{
	if (!x)
		return;
	xs_loop_cancel(x->loop, &x->reap);
	while (x->nr_rings)
		ring_free(x->rings[--x->nr_rings]);
	idtab_fini(&x->by_port);
	idtab_fini(&x->by_domid);
	xenon_domains_fini(&x->doms);
	xs_loop_del(x->loop, x->wake_fd);
	xs_loop_del(x->loop, xenon_evtchn_fd(x->xe));
	close(x->wake_fd);
	xenon_ctl_close(x->ctl);
	xenon_evtchn_close(x->xe);
	free(x);
}
