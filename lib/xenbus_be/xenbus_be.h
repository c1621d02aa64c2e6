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
 * on Closing/Closed, the front end's nodes vanishing, or its domain dying
 * (@releaseDomain), disconnect() runs and the back end goes Closed; when
 * the toolstack removes the back-end directory the device is freed
 * (remove()). All callbacks run from xbbe_dispatch(), in the caller's thread.
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

/* Watch /local/domain/<self>/backend/<drv->type> on xs (owned by the
 * caller, which must not read its watches itself). */
int xbbe_create(struct xs_handle *xs, unsigned int self, const struct xbbe_driver *drv,
		struct xbbe **ret_be);
void xbbe_destroy(struct xbbe *be); /* accepts NULL; disconnects and removes all */
/* Pollable: readable when xbbe_dispatch() has work (the xs watch fd). */
int xbbe_fd(const struct xbbe *be);
/* Process every pending watch event; never blocks. */
int xbbe_dispatch(struct xbbe *be);

int xbbe_switch_state(struct xbbe_dev *dev, enum xenbus_state state);
/* Read "<frontend>/<node>" or "<nodename>/<node>". */
int xbbe_read_frontend_uint(struct xbbe_dev *dev, const char *node, unsigned long *ret);
char *xbbe_read(struct xbbe_dev *dev, const char *node); /* own node; malloc'd or NULL */
__attribute__((format(printf, 3, 4))) int xbbe_printf(struct xbbe_dev *dev, const char *node,
						      const char *fmt, ...);
/* Report a fatal device error (error/<nodename> + Closing), as
 * xenbus_dev_fatal(). */
__attribute__((format(printf, 3, 4))) void xbbe_fatal(struct xbbe_dev *dev, int err,
						      const char *fmt, ...);

#endif
