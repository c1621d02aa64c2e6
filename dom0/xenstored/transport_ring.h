/*
 * The shared-ring transport: a domain's XenStore page
 * (struct xenstore_domain_interface) served through the engine.
 *
 * The event channel is abstracted to one call each way: the transport calls
 * evtchn->notify() to signal the guest, and whoever owns the event channel
 * (the loop, later, for real domains; a unit test, now) calls xs_ring_kick()
 * when the guest signals us. Nothing here knows how pages are mapped.
 */
#ifndef XENON_XENSTORED_TRANSPORT_RING_H
#define XENON_XENSTORED_TRANSPORT_RING_H

#include "engine.h"
#include "xslog.h"

struct xs_ring;

struct xs_ring_evtchn_ops {
	/* Signal the guest (EVTCHNOP_send on the store's event channel). */
	void (*notify)(void *ctx);
};

/*
 * Serves intf for domid: sets server_features, creates the domain's
 * connection and attaches it (the domain must have been introduced). Pending
 * requests are not served until the first xs_ring_kick().
 */
int xs_ring_create(struct xs_store *s, unsigned int domid, struct xenstore_domain_interface *intf,
		   const struct xs_ring_evtchn_ops *evtchn, void *evtchn_ctx,
		   const struct xslog *log, struct xs_ring **ret_ring);
/* Drops the connection; the page stays the caller's. Accepts NULL. */
void xs_ring_destroy(struct xs_ring *r);

/*
 * The guest signalled: handle a reconnection request, consume requests,
 * produce responses, signal back if anything moved. Returns 0, or -EPROTO
 * once the ring has been stopped for a bad index or an oversized message
 * (intf->error says which; only a reconnection revives it).
 */
int xs_ring_kick(struct xs_ring *r);

#endif
