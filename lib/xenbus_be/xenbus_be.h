/*
 * xenbus devices, back-end side (dom0): the negotiation a back-end service
 * runs against its front ends through XenStore, over Debian's libxenstore
 * (xs_open() on the store's socket). The mirror of guest/xenbus_dev.h.
 *
 * The toolstack (xenon create, from `disk = [...]`, `vchan = [...]`) writes
 * both directories with Initialising and the right permissions:
 *   /local/domain/<be>/backend/<type>/<fe>/<id>/
 *       frontend = "/local/domain/<fe>/device/<type>/<id>"
 *       frontend-id = "<fe>", online = "1", state, + device keys (params, mode, ...)
 * A back end watches /local/domain/<be>/backend/<type>; every <fe>/<id>
 * that appears becomes a struct xbbe_dev and its driver's probe() runs; the
 * back end then writes its features and goes InitWait; on the front end's
 * Initialised (or Connected) it reads ring refs + port and calls connect();
 * on Closing/Closed disconnect() runs and the back end follows (Closing,
 * Closed); the front end's Initialising after Closed is a reconnect (back to
 * InitWait, no new probe). When the toolstack removes the back-end
 * directory, disconnect() and remove() run and the device is freed.
 *
 * A front end that is gone for good -- its directory vanished after we had
 * seen it, its domain was introduced and @releaseDomain says it no longer
 * is, or the caller says so (xbbe_frontends_gone()) -- gets disconnect(),
 * Closed, and then the library removes the device's back-end directory
 * ITSELF (and <type>/<fe> when it was the domain's last device), then
 * remove(). In Xen that is the toolstack's job; xenon has no per-domain
 * toolstack daemon that outlives a crash. Closed is written, and the
 * directory removed, each in one transaction that checks our state node
 * still reads what we wrote, so a device the toolstack has meanwhile
 * re-created for a new domain with the same domid is left alone (and a
 * known device whose state node reads other than what we wrote is such a
 * new incarnation: removed and probed again). All callbacks run from
 * xbbe_dispatch() (or xbbe_frontends_gone()), in the caller's thread; the
 * library is not thread-safe.
 */
#ifndef XENBUS_BE_H
#define XENBUS_BE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <xen/io/xenbus.h>

struct xs_handle;
struct xbbe;
struct xbbe_dev;

struct xbbe_driver {
	const char *type; /* "vbd", "vchan", "console" */
	/* A new device: read its keys, write features; return 0 to accept
	 * (the library then switches to InitWait), -errno to refuse (the
	 * device goes Closed with error/<nodename> written). */
	int (*probe)(struct xbbe_dev *dev);
	/* The front end is Initialised/Connected: map its ring, bind its port;
	 * return 0 and the library switches to Connected. */
	int (*connect)(struct xbbe_dev *dev);
	/* Undo connect() (called at most once per connect). */
	void (*disconnect)(struct xbbe_dev *dev);
	/* The device is going away; free priv. */
	void (*remove)(struct xbbe_dev *dev);
};

struct xbbe_dev {
	struct xbbe *be;
	unsigned int frontend_id, id;
	char *nodename; /* our directory */
	char *frontend; /* the front end's directory */
	enum xenbus_state state, frontend_state;
	bool connected;
	void *priv; /* the driver's */
};

/* Devices one back end serves at once (its xenstored watches: one per
 * device). More are ignored, logged once. */
#define XBBE_MAX_DEVICES 256
/* Watch events one xbbe_dispatch() handles: a front end flipping its state
 * forever cannot keep the caller there. libxenstore keeps xbbe_fd()
 * readable while events remain, so the next poll() comes straight back. */
#define XBBE_DISPATCH_MAX 4096

/* Watch /local/domain/<self>/backend/<drv->type> and @releaseDomain on xs
 * (owned by the caller, which must not read its watches itself: one xbbe
 * per xs handle). Nothing is probed before the first xbbe_dispatch(). */
int xbbe_create(struct xs_handle *xs, unsigned int self, const struct xbbe_driver *drv,
		struct xbbe **ret_be);
void xbbe_destroy(struct xbbe *be); /* accepts NULL; disconnects and removes all */
/* Pollable: readable when xbbe_dispatch() has work (the xs watch fd). */
int xbbe_fd(const struct xbbe *be);
/* Process every pending watch event (at most XBBE_DISPATCH_MAX); never
 * blocks on a watch, only on the store's replies. Returns the number of
 * events handled, or -errno if the store connection failed. */
int xbbe_dispatch(struct xbbe *be);
/*
 * Front ends the caller knows to be gone without the store: gone() is
 * asked about every device (it must not call back into the library), and
 * each one it says yes to is treated as if @releaseDomain had said so --
 * disconnect(), Closed, our directory removed, remove(), freed -- now, so
 * a later @releaseDomain or watch event finds nothing left to tear down.
 * With the store gone, the device is torn down all the same and the failed
 * store work is only logged. xenon-blkback calls it on VIRQ_DOM_EXC with
 * xenon-hvd's list of domains. Returns how many devices went.
 */
int xbbe_frontends_gone(struct xbbe *be, bool (*gone)(void *ctx, struct xbbe_dev *dev), void *ctx);
/* Where the library's messages go (default: stderr, "xenbus_be: ..."). */
void xbbe_set_log(struct xbbe *be, void (*log)(void *ctx, const char *msg), void *ctx);
/* Lower the device limit (tests); values above XBBE_MAX_DEVICES are cut. */
void xbbe_set_max_devices(struct xbbe *be, unsigned int max);
/* How many devices the back end holds now (probed or refused). */
unsigned int xbbe_nr_devices(const struct xbbe *be);

/* Write our state (no-op if unchanged). Like every write here it checks,
 * in the same transaction, that our directory still exists: -ENOENT when
 * the toolstack removed it, and nothing is re-created. */
int xbbe_switch_state(struct xbbe_dev *dev, enum xenbus_state state);
/* Read an unsigned decimal from "<frontend>/<node>" (the front end's own
 * directory, never ours): -ENOENT absent, -EINVAL not a number (a value
 * the front end controls: no sign, blanks, junk or overflow). */
int xbbe_read_frontend_uint(struct xbbe_dev *dev, const char *node, unsigned long *ret);
char *xbbe_read(struct xbbe_dev *dev, const char *node); /* own node; malloc'd or NULL */
__attribute__((format(printf, 3, 4))) int xbbe_printf(struct xbbe_dev *dev, const char *node,
						      const char *fmt, ...);
/* Report a fatal device error, as xenbus_dev_fatal(): "<-err> <message>"
 * in /local/domain/<self>/error/backend/<type>/<fe>/<id>/error (removed
 * with the device; not written for a device the toolstack removed
 * meanwhile), logged, and the device goes Closing. */
__attribute__((format(printf, 3, 4))) void xbbe_fatal(struct xbbe_dev *dev, int err,
						      const char *fmt, ...);

#endif
