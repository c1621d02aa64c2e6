/*
 * A vbd through XenStore: blkfront's negotiation with its back end
 * (guest/xenbus_dev.h), the guest's grant table and event channel under
 * the ring engine of blkfront.c.
 *
 *   us                                   back end
 *   Initialising (xbdev_probe)           probe: features -> InitWait
 *   read its features, grant the ring (and the pool when persistent), an
 *   unbound port; write ring-ref[N], ring-page-order, event-channel,
 *   protocol, feature-persistent
 *   Initialised                   ---->  map, bind -> Connected
 *   read sectors, sector-size, info
 *   Connected
 *   ...  its Closing/Closed (or its nodes vanishing) -> requests fail
 *        with -XEN_ENOTCONN; blkfront_remove() closes our side.
 *
 * Waiting: requests sleep in SCHEDOP_poll on the vbd's port AND the store's
 * port, so a back end that dies (its state changes in the store, or the
 * liveness byte drops with a kick on our port) wakes us up; each wake-up
 * runs xb_poll() for the state watch.
 */
#include <xen/errno.h>

#include "xen_blkfront.h"
#include "xg_internal.h"

/* ---- the guest's grants and port --------------------------------------- */

static int dev_grant(void *ctx, void *page, bool readonly)
{
	struct blkfront_dev *d = ctx;

	return xg_gnttab_grant_page(d->xb.g, d->xb.otherend_id, page, readonly);
}

static bool dev_end(void *ctx, grant_ref_t ref, bool readonly)
{
	struct blkfront_dev *d = ctx;

	return xg_gnttab_end_page(d->xb.g, ref, readonly);
}

static const struct blkfront_grant_ops dev_gops = {
	.grant = dev_grant,
	.end = dev_end,
};

static void dev_notify(void *ctx)
{
	struct blkfront_dev *d = ctx;

	xg_notify_remote_via_evtchn(d->xb.g, d->port);
}

/* As xen_ring_guest's wait (guest/xenbus.c), over two ports, so a back
 * end that dies in the store wakes us too; then the store's watch events. */
static void dev_wait(void *ctx, uint64_t deadline)
{
	struct blkfront_dev *d = ctx;
	evtchn_port_t ports[2] = { d->port, d->store_port };

	xg_wait_ports(d->xb.g, &d->kicked, ports, d->store_port ? 2 : 1, deadline);
	xb_poll(d->xb.xb);
}

static uint64_t dev_now(void *ctx)
{
	struct blkfront_dev *d = ctx;

	return xg_system_time_ns(d->xb.g);
}

static const struct xen_ring_env_ops dev_env = {
	.notify = dev_notify,
	.wait = dev_wait,
	.now_ns = dev_now,
};

static irqreturn_t dev_irq(int irq, void *dev_id)
{
	struct blkfront_dev *d = dev_id;

	/* The waiter re-reads the ring; the event carries nothing. */
	__atomic_store_n(&d->kicked, true, __ATOMIC_RELEASE);
	return IRQ_HANDLED;
}

static void dev_otherend_changed(struct xbdev *xb, enum xenbus_state state)
{
	struct blkfront_dev *d = xb->priv;

	if (state == XenbusStateClosing || state == XenbusStateClosed ||
	    state == XenbusStateUnknown) {
		d->closing = true;
		if (d->fe.connected)
			blkfront_disconnect(&d->fe);
	}
}

static const struct xbdev_ops dev_xbops = {
	.otherend_changed = dev_otherend_changed,
};

/* ---- negotiation ------------------------------------------------------- */

static bool read_bool(struct xbdev *xb, const char *node)
{
	unsigned long v = 0;

	return !xbdev_read_otherend_uint(xb, node, &v) && v == 1;
}

static void read_features(struct xbdev *xb, struct blkfront_backend *be)
{
	unsigned long v;

	be->persistent = read_bool(xb, "feature-persistent");
	be->flush = read_bool(xb, "feature-flush-cache");
	be->discard = read_bool(xb, "feature-discard");
	be->max_indirect_segs = 0;
	if (!xbdev_read_otherend_uint(xb, "feature-max-indirect-segments", &v))
		be->max_indirect_segs = v > BLKFRONT_MAX_SEGS ? BLKFRONT_MAX_SEGS : (uint32_t)v;
	be->max_ring_order = 0;
	if (!xbdev_read_otherend_uint(xb, "max-ring-page-order", &v))
		be->max_ring_order =
			v > BLKFRONT_MAX_RING_ORDER ? BLKFRONT_MAX_RING_ORDER : (uint32_t)v;
}

static int read_disk(struct xbdev *xb, struct blkfront_backend *be)
{
	unsigned long sectors, ssize = 512, info = 0;
	int rc = xbdev_read_otherend_uint(xb, "sectors", &sectors);

	if (rc)
		return rc;
	xbdev_read_otherend_uint(xb, "sector-size", &ssize);
	xbdev_read_otherend_uint(xb, "info", &info);
	be->sectors = sectors;
	be->sector_size = (uint32_t)ssize;
	be->info = (uint32_t)info;
	read_features(xb, be); /* as Linux, again at connect */
	return 0;
}

static int publish(struct blkfront_dev *d)
{
	struct blkfront *fe = &d->fe;
	int rc = 0;

	if (fe->ring_order == 0) {
		rc |= xbdev_printf(&d->xb, XBT_NIL, "ring-ref", "%u", fe->ring_ref[0]);
	} else {
		rc |= xbdev_printf(&d->xb, XBT_NIL, "ring-page-order", "%u", fe->ring_order);
		rc |= xbdev_printf(&d->xb, XBT_NIL, "num-ring-pages", "%u", 1u << fe->ring_order);
		for (unsigned int i = 0; i < fe->nr_ring_refs; i++) {
			char node[16];

			xen_snprintf(node, sizeof(node), "ring-ref%u", i);
			rc |= xbdev_printf(&d->xb, XBT_NIL, node, "%u", fe->ring_ref[i]);
		}
	}
	rc |= xbdev_printf(&d->xb, XBT_NIL, "event-channel", "%u", d->port);
	rc |= xbdev_printf(&d->xb, XBT_NIL, "protocol", "%s", "x86_64-abi");
	rc |= xbdev_printf(&d->xb, XBT_NIL, "feature-persistent", "%u", fe->want_persistent);
	return rc ? -XEN_EIO : 0;
}

static int bind_port(struct blkfront_dev *d)
{
	int rc = xbdev_alloc_evtchn(&d->xb, &d->port);

	if (rc < 0)
		return rc;
	d->irq = xg_bind_evtchn_to_irqhandler(d->xb.g, d->port, dev_irq, 0, "blkfront", d);
	if (d->irq >= 0)
		return 0;
	/* Removal closes the port only with its irq: close it now. */
	xg_evtchn_close(d->xb.g, d->port);
	d->port = 0;
	return d->irq;
}

static int negotiate(struct blkfront_dev *d)
{
	struct blkfront_backend be = { 0 };
	uint32_t up = 1u << XenbusStateInitWait | 1u << XenbusStateConnected;
	uint32_t down = 1u << XenbusStateClosing | 1u << XenbusStateClosed;
	int rc = xbdev_wait_otherend(&d->xb, up | down, BLKFRONT_TIMEOUT_NS);

	if (rc < 0)
		return rc;
	if (d->closing)
		return -XEN_ENODEV;
	read_features(&d->xb, &be);
	rc = blkfront_setup(&d->fe, &be);
	if (!rc)
		rc = bind_port(d);
	if (!rc)
		rc = publish(d);
	if (!rc)
		rc = xbdev_switch_state(&d->xb, XenbusStateInitialised);
	if (!rc)
		rc = xbdev_wait_otherend(&d->xb, 1u << XenbusStateConnected | down,
					 BLKFRONT_TIMEOUT_NS);
	if (rc < 0)
		return rc;
	if (d->closing)
		return -XEN_ENODEV;
	rc = read_disk(&d->xb, &be);
	if (!rc)
		rc = blkfront_connect(&d->fe, &be);
	if (!rc)
		rc = xbdev_switch_state(&d->xb, XenbusStateConnected);
	return rc;
}

int blkfront_probe(struct blkfront_dev *d, struct xen_guest *g, struct xenbus *bus, unsigned int id,
		   void *mem, unsigned int mem_pages, const struct blkfront_config *cfg)
{
	struct blkfront_config c = *cfg;
	int rc;

	__builtin_memset(d, 0, sizeof(*d));
	d->irq = -1;
	/* The xbdev takes the current guest for the device's grants and
	 * ports: one guest for everything, so g must be that one. */
	if (!g || g != xen_guest_current())
		return -XEN_EINVAL;
	d->store_port = g->start_info ? g->start_info->store_evtchn : 0;
	c.env = &dev_env;
	c.env_ctx = d;
	c.gops = &dev_gops;
	c.gctx = d;
	c.mem = mem;
	c.mem_pages = mem_pages;
	rc = blkfront_init(&d->fe, &c);
	if (!rc)
		rc = xbdev_probe(&d->xb, bus, "vbd", id, &dev_xbops, d);
	if (rc)
		return rc;
	rc = negotiate(d);
	if (rc)
		blkfront_remove(d);
	return rc;
}

void blkfront_remove(struct blkfront_dev *d)
{
	blkfront_disconnect(&d->fe);
	/* Closing first: the back end unmaps, then our grants can end. A
	 * back end already gone is not waited for long. */
	xbdev_remove(&d->xb, d->closing || (d->fe.alive_seen && !d->fe.ring.sring->__pad[0])
				     ? 200ULL * 1000 * 1000
				     : 5ULL * 1000 * 1000 * 1000);
	blkfront_fini(&d->fe);
	if (d->irq >= 0)
		xg_unbind_from_irqhandler(d->xb.g, d->irq, d); /* closes the port */
	d->irq = -1;
}
