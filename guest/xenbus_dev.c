/*
 * xenbus devices, front-end side (see xenbus_dev.h for the paths and the
 * state walk). Freestanding-clean: every string is bounded by a fixed
 * buffer, numbers are parsed here, nothing allocates.
 *
 * A front end and its back end meet in the store:
 *
 *   us (fe)                               them (be)
 *   probe: state = Initialising
 *                                         probe: features, state = InitWait
 *   otherend_changed(InitWait):
 *     grant ring, alloc port, publish,
 *     state = Initialised
 *                                         map ring, bind port, Connected
 *   otherend_changed(Connected):
 *     state = Connected
 *   ...
 *   remove: Closing, wait for them to      disconnect, Closing / Closed
 *   close (bounded), Closed, unwatch
 *
 * Our view of their state is refreshed from a watch on <backend>/state:
 * each change (and the first reading) reaches ops->otherend_changed. The
 * watch callback may run at the end of any request made on the same
 * xenbus client (xb_request dispatches queued events when it finishes),
 * not only from xb_poll()/xb_wait_event(): drivers must not assume they
 * are outside one of their own calls.
 *
 * State writes go through a transaction that first checks our directory
 * still exists (as Linux's xenbus_switch_state does), so a device the
 * toolstack removed is not re-created, half-empty, by a late write.
 */
#include <xen/errno.h>

#include "xenbus_dev.h"
#include "xg_decimal.h"
#include "xg_internal.h"

#define XBDEV_VALUE_MAX 512	 /* bytes xbdev_printf() formats */
#define XBDEV_DIR_MAX 2048	 /* bytes of one device/<type> listing */
#define XBDEV_RING_PAGES_MAX 256 /* 1 MiB: the largest ring any protocol asks */
#define XBDEV_WAIT_MAX 100000	 /* xbdev_wait_otherend() passes, whatever the clock */
#define XBDEV_PAGE_SHIFT 12

static void xbdev_log(struct xbdev *dev, const char *msg)
{
	if (dev->xb && dev->xb->log)
		dev->xb->log(dev->xb->log_ctx, msg);
}

/* The C string in s[0, len): decimal, no sign, no blanks, no junk, no
 * overflow (any number of leading zeros, as the value's buffer allows). */
static int xbdev_parse_ulong(const char *s, size_t len, unsigned long *ret)
{
	uint64_t v;

	if (xg_parse_u64(s, xg_strnlen(s, len), ~0UL, &v) < 0)
		return -XEN_EINVAL;
	*ret = (unsigned long)v;
	return 0;
}

/* "<dir>/<node>" into buf; -ENAMETOOLONG if it does not fit. */
static int xbdev_join(char *buf, size_t len, const char *dir, const char *node)
{
	int n = xen_snprintf(buf, len, "%s/%s", dir, node);

	return n < 0 || (size_t)n >= len ? -XEN_ENAMETOOLONG : 0;
}

static int xbdev_read(struct xenbus *xb, const char *path, char *buf, size_t len)
{
	size_t n = 0;

	return xb_read(xb, XBT_NIL, path, buf, len, &n);
}

static int xbdev_read_uint_at(struct xenbus *xb, const char *path, unsigned long *ret)
{
	char buf[24];
	int rc = xbdev_read(xb, path, buf, sizeof(buf));

	if (rc == -XEN_ERANGE)
		return -XEN_EINVAL; /* too long to be a number we take */
	return rc < 0 ? rc : xbdev_parse_ulong(buf, sizeof(buf), ret);
}

static bool xbdev_valid_type(const char *type)
{
	size_t n = xg_strnlen(type, XBDEV_TYPE_MAX);

	if (n == 0 || n >= XBDEV_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = type[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* ---- enumeration ---- */

/* Keeps ids[0..n) ascending and at most max long: the smallest ids win. */
static unsigned int xbdev_insert_sorted(unsigned int *ids, unsigned int n, unsigned int max,
					unsigned int id)
{
	unsigned int i = n;

	if (n == max && (max == 0 || id >= ids[max - 1]))
		return n;
	if (n == max)
		i = --n;
	while (i > 0 && ids[i - 1] > id) {
		ids[i] = ids[i - 1];
		i--;
	}
	ids[i] = id;
	return n + 1;
}

int xbdev_enumerate(struct xenbus *xb, const char *type, unsigned int *ids, unsigned int max)
{
	char dir[XBDEV_PATH_MAX], names[XBDEV_DIR_MAX];
	unsigned int count = 0, n = 0;
	const char *p = names;
	int rc;

	if (!xbdev_valid_type(type))
		return -XEN_EINVAL;
	if (xbdev_join(dir, sizeof(dir), "device", type))
		return -XEN_ENAMETOOLONG;
	rc = xb_directory(xb, XBT_NIL, dir, names, sizeof(names), &count);
	if (rc == -XEN_ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	for (unsigned int i = 0; i < count && p < names + sizeof(names); i++) {
		size_t len = xg_strnlen(p, (size_t)(names + sizeof(names) - p));
		uint64_t id;

		/* Names that are not device ids are not devices: skipped. */
		if (len < sizeof(names) && !xg_parse_u64(p, len, 0xffffffffUL, &id))
			n = xbdev_insert_sorted(ids, n, max, (unsigned int)id);
		p += len + 1;
	}
	return (int)n;
}

/* ---- the other end's state ---- */

/*
 * Their state as we act on it: a missing node (their service died and its
 * nodes went, or the toolstack removed the device) is Closed, and a value
 * that is not a state is Closing -- either way the device must go down.
 */
static enum xenbus_state xbdev_read_otherend_state(struct xbdev *dev)
{
	char path[XBDEV_PATH_MAX + 8];
	unsigned long v;
	int rc;

	if (xbdev_join(path, sizeof(path), dev->otherend, "state"))
		return XenbusStateClosed;
	rc = xbdev_read_uint_at(dev->xb, path, &v);
	if (rc == -XEN_ENOENT)
		return XenbusStateClosed;
	if (rc < 0 || v > XenbusStateReconfigured)
		return XenbusStateClosing;
	return (enum xenbus_state)v;
}

static void xbdev_otherend_refresh(struct xbdev *dev)
{
	enum xenbus_state st = xbdev_read_otherend_state(dev);

	if (dev->otherend_seen && st == dev->otherend_state)
		return;
	dev->otherend_seen = true;
	dev->otherend_state = st;
	if (dev->ops && dev->ops->otherend_changed)
		dev->ops->otherend_changed(dev, st);
}

static void xbdev_otherend_watch(void *ctx, const char *path, const char *token)
{
	struct xbdev *dev = ctx;

	if (dev->watching)
		xbdev_otherend_refresh(dev);
}

/* ---- our state ---- */

/* The walk of xenbus.h: forwards up to Connected, the reconfiguring loop,
 * back to Initialising only from Closed (a reconnect), and down to
 * Closing/Closed from anywhere. */
static bool xbdev_transition_ok(enum xenbus_state from, enum xenbus_state to)
{
	if (to == XenbusStateClosing || to == XenbusStateClosed || from == XenbusStateUnknown)
		return to != XenbusStateUnknown && to <= XenbusStateReconfigured;
	if (to == XenbusStateInitialising)
		return from == XenbusStateClosed;
	if (from == XenbusStateClosing || from == XenbusStateClosed)
		return false;
	if (to == XenbusStateReconfiguring)
		return from == XenbusStateConnected;
	if (to == XenbusStateReconfigured)
		return from == XenbusStateReconfiguring;
	if (from == XenbusStateReconfiguring || from == XenbusStateReconfigured)
		return to == XenbusStateConnected && from == XenbusStateReconfigured;
	return to > from && to <= XenbusStateConnected;
}

struct xbdev_state_txn {
	struct xbdev *dev;
	enum xenbus_state state;
};

static int xbdev_state_txn(void *ctx, xenbus_transaction_t txn)
{
	struct xbdev_state_txn *t = ctx;
	char path[XBDEV_PATH_MAX + 8], value[4], dirval[8];
	size_t n = 0;
	int rc;

	/* Our directory must still be there: -ENOENT aborts, writes nothing. */
	rc = xb_read(t->dev->xb, txn, t->dev->nodename, dirval, sizeof(dirval), &n);
	if (rc < 0 && rc != -XEN_ERANGE)
		return rc;
	if (xbdev_join(path, sizeof(path), t->dev->nodename, "state"))
		return -XEN_ENAMETOOLONG;
	n = (size_t)xen_snprintf(value, sizeof(value), "%u", (unsigned int)t->state);
	return xb_write(t->dev->xb, txn, path, value, n);
}

int xbdev_switch_state(struct xbdev *dev, enum xenbus_state state)
{
	struct xbdev_state_txn t = { dev, state };
	int rc;

	if (!dev->xb)
		return -XEN_ENODEV;
	if (state == dev->state)
		return 0;
	if (!xbdev_transition_ok(dev->state, state))
		return -XEN_EINVAL;
	rc = xb_transaction(dev->xb, xbdev_state_txn, &t);
	if (rc < 0)
		return rc;
	dev->state = state;
	return 0;
}

/* ---- probe and remove ---- */

/* Our directory: absolute when the store tells us our domid (the
 * toolstack writes /local/domain/<fe>/domid), else relative to our home,
 * which the store resolves to the same node. */
static int xbdev_set_nodename(struct xbdev *dev)
{
	unsigned long domid;
	int n;

	if (!xbdev_read_uint_at(dev->xb, "domid", &domid) && domid < DOMID_FIRST_RESERVED)
		n = xen_snprintf(dev->nodename, sizeof(dev->nodename),
				 "/local/domain/%lu/device/%s/%u", domid, dev->type, dev->id);
	else
		n = xen_snprintf(dev->nodename, sizeof(dev->nodename), "device/%s/%u", dev->type,
				 dev->id);
	return n < 0 || (size_t)n >= sizeof(dev->nodename) ? -XEN_ENAMETOOLONG : 0;
}

/* backend (an absolute path) and backend-id (a domid) from our directory. */
static int xbdev_read_otherend(struct xbdev *dev)
{
	char path[XBDEV_PATH_MAX + 16];
	unsigned long be;
	int rc;

	if (xbdev_join(path, sizeof(path), dev->nodename, "backend"))
		return -XEN_ENAMETOOLONG;
	rc = xbdev_read(dev->xb, path, dev->otherend, sizeof(dev->otherend));
	if (rc == -XEN_ERANGE)
		return -XEN_ENAMETOOLONG;
	if (rc < 0)
		return rc;
	if (dev->otherend[0] != '/' || xg_strnlen(dev->otherend, sizeof(dev->otherend)) < 2)
		return -XEN_EINVAL;
	if (xbdev_join(path, sizeof(path), dev->nodename, "backend-id"))
		return -XEN_ENAMETOOLONG;
	rc = xbdev_read_uint_at(dev->xb, path, &be);
	if (rc < 0)
		return rc;
	if (be >= DOMID_FIRST_RESERVED)
		return -XEN_EINVAL;
	dev->otherend_id = (domid_t)be;
	return 0;
}

static int xbdev_watch_otherend(struct xbdev *dev)
{
	char path[XBDEV_PATH_MAX + 8];
	int n = xen_snprintf(dev->token, sizeof(dev->token), "xbdev/%s/%u", dev->type, dev->id);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(dev->token) ||
	    xbdev_join(path, sizeof(path), dev->otherend, "state"))
		return -XEN_ENAMETOOLONG;
	/* Set first: the initial event may be dispatched before xb_watch
	 * returns. */
	dev->watching = true;
	rc = xb_watch(dev->xb, path, dev->token, xbdev_otherend_watch, dev);
	if (rc < 0)
		dev->watching = false;
	return rc;
}

int xbdev_probe(struct xbdev *dev, struct xenbus *xb, const char *type, unsigned int id,
		const struct xbdev_ops *ops, void *priv)
{
	size_t tlen;
	int rc;

	__builtin_memset(dev, 0, sizeof(*dev));
	if (!xb || !xbdev_valid_type(type))
		return -XEN_EINVAL;
	tlen = xg_strnlen(type, XBDEV_TYPE_MAX);
	__builtin_memcpy(dev->type, type, tlen + 1);
	dev->xb = xb;
	dev->g = xen_guest_current();
	dev->id = id;
	dev->ops = ops;
	dev->priv = priv;
	dev->state = XenbusStateUnknown;
	dev->otherend_state = XenbusStateUnknown;
	if ((rc = xbdev_set_nodename(dev)) < 0 || (rc = xbdev_read_otherend(dev)) < 0 ||
	    (rc = xbdev_switch_state(dev, XenbusStateInitialising)) < 0 ||
	    (rc = xbdev_watch_otherend(dev)) < 0) {
		dev->xb = NULL; /* nothing to undo: the state node was the toolstack's */
		return rc;
	}
	return 0;
}

static uint64_t xbdev_now(struct xbdev *dev)
{
	return dev->xb->env->now_ns(dev->xb->env_ctx);
}

int xbdev_wait_otherend(struct xbdev *dev, uint32_t mask, uint64_t timeout_ns)
{
	uint64_t start, now;
	int rc;

	if (!dev->xb || !dev->watching)
		return -XEN_ENODEV;
	start = xbdev_now(dev);
	xb_poll(dev->xb);
	for (unsigned int pass = 0; pass < XBDEV_WAIT_MAX; pass++) {
		if (dev->otherend_seen && dev->otherend_state < 32 &&
		    (mask & (1u << dev->otherend_state)))
			return 0;
		now = xbdev_now(dev);
		if (now - start >= timeout_ns)
			break;
		rc = xb_wait_event(dev->xb, timeout_ns - (now - start));
		if (rc < 0 && rc != -XEN_ETIMEDOUT)
			return rc;
		if (rc == -XEN_ETIMEDOUT)
			xbdev_otherend_refresh(dev); /* one last look: an event may be lost */
	}
	if (dev->otherend_seen && dev->otherend_state < 32 && (mask & (1u << dev->otherend_state)))
		return 0;
	return -XEN_ETIMEDOUT;
}

void xbdev_remove(struct xbdev *dev, uint64_t timeout_ns)
{
	char path[XBDEV_PATH_MAX + 8];
	const uint32_t closed = 1u << XenbusStateClosing | 1u << XenbusStateClosed;

	if (!dev->xb)
		return;
	if (dev->state != XenbusStateClosed && dev->watching) {
		if (!xbdev_switch_state(dev, XenbusStateClosing) &&
		    xbdev_wait_otherend(dev, closed, timeout_ns) == -XEN_ETIMEDOUT)
			xbdev_log(dev,
				  "xenbus_dev: back end did not close in time; closing anyway");
	}
	xbdev_switch_state(dev, XenbusStateClosed);
	if (dev->watching) {
		dev->watching = false;
		if (!xbdev_join(path, sizeof(path), dev->otherend, "state"))
			xb_unwatch(dev->xb, path, dev->token);
	}
}

/* ---- rings, ports, nodes ---- */

int xbdev_grant_ring(struct xbdev *dev, void *vaddr, unsigned int nr_pages, grant_ref_t *refs)
{
	unsigned int i;
	int rc = 0;

	if (!dev->g || !vaddr || !refs || nr_pages == 0 || nr_pages > XBDEV_RING_PAGES_MAX ||
	    ((uintptr_t)vaddr & ((1u << XBDEV_PAGE_SHIFT) - 1)))
		return -XEN_EINVAL;
	for (i = 0; i < nr_pages; i++) {
		const char *p = (const char *)vaddr + ((size_t)i << XBDEV_PAGE_SHIFT);

		rc = xg_gnttab_grant_page(dev->g, dev->otherend_id, p, false);
		if (rc < 0)
			break;
		refs[i] = (grant_ref_t)rc;
		rc = 0;
	}
	if (rc < 0)
		xbdev_ungrant_ring(dev, refs, i);
	return rc;
}

void xbdev_ungrant_ring(struct xbdev *dev, const grant_ref_t *refs, unsigned int nr_pages)
{
	bool leaked = false;

	if (!dev->g || !refs)
		return;
	for (unsigned int i = 0; i < nr_pages; i++)
		if (!xg_gnttab_end_page(dev->g, refs[i], false))
			leaked = true; /* still mapped: the ref stays allocated */
	if (leaked)
		xbdev_log(dev, "xenbus_dev: ring page still mapped by the back end; grant kept");
}

int xbdev_alloc_evtchn(struct xbdev *dev, evtchn_port_t *ret_port)
{
	if (!dev->g)
		return -XEN_ENODEV;
	return xg_evtchn_alloc_unbound(dev->g, dev->otherend_id, ret_port);
}

int xbdev_printf(struct xbdev *dev, xenbus_transaction_t txn, const char *node, const char *fmt,
		 ...)
{
	char path[XBDEV_PATH_MAX + 64], value[XBDEV_VALUE_MAX];
	va_list ap;
	int n;

	if (!dev->xb)
		return -XEN_ENODEV;
	if (xbdev_join(path, sizeof(path), dev->nodename, node))
		return -XEN_ENAMETOOLONG;
	va_start(ap, fmt);
	n = xen_vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(value))
		return -XEN_E2BIG;
	return xb_write(dev->xb, txn, path, value, (size_t)n);
}

int xbdev_read_otherend_uint(struct xbdev *dev, const char *node, unsigned long *ret)
{
	char path[XBDEV_PATH_MAX + 64];

	if (!dev->xb)
		return -XEN_ENODEV;
	if (xbdev_join(path, sizeof(path), dev->otherend, node))
		return -XEN_ENAMETOOLONG;
	return xbdev_read_uint_at(dev->xb, path, ret);
}
