/*
 * xenbus devices, front-end side: the negotiation a split-driver front end
 * runs against its back end through XenStore (Linux's xenbus_probe_frontend
 * / xenbus_client, reshaped for the guest library). Freestanding-clean.
 *
 * Paths (fe = our domid, be = the back end's):
 *   /local/domain/<fe>/device/<type>/<id>/
 *       backend = "/local/domain/<be>/backend/<type>/<fe>/<id>"
 *       backend-id = "<be>"
 *       state = XenbusState (decimal)    -- ours
 *       ring-ref[ -N], event-channel, ... -- ours, written before Initialised
 *   <backend>/state, <backend>/feature-*, ...  -- theirs
 *
 * The states (<xen/io/xenbus.h>) a front end walks:
 *   Initialising -> (back end InitWait) -> we publish ring refs + port ->
 *   Initialised -> (back end Connected) -> Connected -> ... Closing -> Closed
 * and it reacts to the back end's changes through a watch on <backend>/state.
 * Callbacks never run inside a request, but they do run when any request on
 * the same client completes (xb_request dispatches queued events), as well
 * as from xb_poll()/xb_wait_event(); xbdev_wait_otherend() cannot wait from
 * inside a callback (events are not dispatched there).
 * Teardown: the back end going Closing/Closed, or its nodes vanishing (dom0
 * service died), reaches otherend_changed() as Closing / Closed; a state
 * node that holds no state reads as Closing.
 *
 * nodename is absolute when the store holds /local/domain/<fe>/domid (the
 * toolstack writes it), else "device/<type>/<id>", relative to our home,
 * which the store resolves to the same node. Our state is written in a
 * transaction that first checks our directory exists, so a device the
 * toolstack removed is not re-created by a late write (-ENOENT).
 * Grants and ports use the guest current (xen_guest_current()) at probe.
 */
#ifndef XENBUS_DEV_H
#define XENBUS_DEV_H

#include <xen/io/xenbus.h>

#include "xen_guest.h"

#define XBDEV_PATH_MAX 128
#define XBDEV_TYPE_MAX 16

struct xbdev;

struct xbdev_ops {
	/* The back end's state changed (also called once with its state when
	 * the watch is first registered). */
	void (*otherend_changed)(struct xbdev *dev, enum xenbus_state state);
};

struct xbdev {
	struct xenbus *xb;
	struct xen_guest *g; /* the guest current at probe: grants, ports */
	char type[XBDEV_TYPE_MAX];
	unsigned int id;
	char nodename[XBDEV_PATH_MAX]; /* /local/domain/<fe>/device/<type>/<id> */
	char otherend[XBDEV_PATH_MAX]; /* the back end's directory */
	domid_t otherend_id;
	enum xenbus_state state;	  /* ours, as last written */
	enum xenbus_state otherend_state; /* theirs, as last read */
	const struct xbdev_ops *ops;
	void *priv;
	char token[32];
	bool watching;
	bool otherend_seen; /* otherend_changed() ran at least once */
};

/* Ids of device/<type>/ present for us, ascending; returns how many (<= max). */
int xbdev_enumerate(struct xenbus *xb, const char *type, unsigned int *ids, unsigned int max);
/* Read backend/backend-id, write state = Initialising, watch the back end's
 * state. -ENOENT: no such device. */
int xbdev_probe(struct xbdev *dev, struct xenbus *xb, const char *type, unsigned int id,
		const struct xbdev_ops *ops, void *priv);
/* Write our state (no-op if unchanged). Allowed: forwards up to Connected,
 * Connected <-> Reconfiguring -> Reconfigured -> Connected, Closing and
 * Closed from anywhere, Initialising again only from Closed (a reconnect);
 * anything else is -EINVAL. */
int xbdev_switch_state(struct xbdev *dev, enum xenbus_state state);
/* Sleep (xb_wait_event) until the back end's state is one of mask's bits
 * (1u << XenbusState*) or timeout_ns passes (-ETIMEDOUT). */
int xbdev_wait_otherend(struct xbdev *dev, uint32_t mask, uint64_t timeout_ns);
/* Grant nr_pages (1..256) pages at vaddr (page-aligned guest memory) to
 * the back end (read-write); refs[i] out. On failure nothing stays granted.
 * Ungranting keeps (and logs) a ref the back end still maps, rather than
 * hand it out again while live. */
int xbdev_grant_ring(struct xbdev *dev, void *vaddr, unsigned int nr_pages, grant_ref_t *refs);
void xbdev_ungrant_ring(struct xbdev *dev, const grant_ref_t *refs, unsigned int nr_pages);
/* An unbound port for the back end to bind. */
int xbdev_alloc_evtchn(struct xbdev *dev, evtchn_port_t *ret_port);
/* Write "<nodename>/<node>" (printf-style) inside txn (XBT_NIL: none). */
__attribute__((format(printf, 4, 5))) int xbdev_printf(struct xbdev *dev, xenbus_transaction_t txn,
						       const char *node, const char *fmt, ...);
/* Read an unsigned number from "<otherend>/<node>" (feature-*, max-ring-
 * page-order, ...); -ENOENT if absent, -EINVAL if not a number. */
int xbdev_read_otherend_uint(struct xbdev *dev, const char *node, unsigned long *ret);
/* Closing, wait (bounded) for the back end to close, Closed, unwatch. */
void xbdev_remove(struct xbdev *dev, uint64_t timeout_ns);

#endif
