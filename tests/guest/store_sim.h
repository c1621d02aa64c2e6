/*
 * A XenStore for the guest-side suites, in this process: xenstored's
 * engine and ring transport (dom0/xenstored), with domain 1 introduced and
 * its home made, and dom0's privileged connection to play the toolstack,
 * a back end or a conflicting writer (store_sim_write and friends).
 *
 * Two ways to give the guest its ring:
 *
 *  - store_sim_init() + store_sim_attach(): the ring on a page the test
 *    owns; the test's own client environment runs the server (kicks the
 *    transport) where it likes, e.g. in its wait hook.
 *  - store_sim_boot(): the whole path. dom0 and dom1 boot in guestsim on the
 *    real hypervisor core; dom1's store page (start_info's store_mfn) is
 *    served by the transport; dom0 binds the store event channel the
 *    builder left unbound for it, and its handler only marks the ring
 *    kicked: the transport runs from a guestsim pump, i.e. while dom1
 *    sleeps in a wait, as xenstored would in its own process. The
 *    transport signals dom1 with EVTCHNOP_send as dom0, straight into the
 *    core. dom1 is left entered, with the context-free xenbus initialised
 *    (xenbus_init) on that page and channel.
 *
 *   dom1: xenbus_read() --ring--> store page <--ring-- xs_ring_kick (pump)
 *      ^  notify: EVTCHNOP_send            |  notify: EVTCHNOP_send as dom0
 *      +----------- core <-----------------+--> dom0's handler: kicked = true
 *
 * One struct store_sim per test: its callbacks get it as their context.
 */
#ifndef XENON_STORE_SIM_H
#define XENON_STORE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "guestsim.h"
#include "transport_ring.h"
#include "xen_guest.h"

#define STORE_SIM_DOMID 1
#define STORE_SIM_HOME "/local/domain/1"

struct store_sim {
	struct xs_store *store;
	struct xs_conn *priv;	      /* dom0's privileged connection */
	struct xsd_sockmsg reply_hdr; /* its last reply */
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	struct xs_ring *ring;
	struct xslog log;
	/* Set by store_sim_boot() only. */
	struct guestsim *gs;
	struct gs_domain *dom0, *dom1;
	evtchn_port_t dom0_port;      /* dom0's end of dom1's store channel */
	struct evtchn_send *send_arg; /* in dom0's RAM, for the core */
	bool kicked;		      /* dom0's handler ran since the last pump */
	unsigned int kicks, sends;    /* pump runs that served, notifications */
	struct xenbus_guest storage;  /* dom1's context-free xenbus */
};

/* The store, the privileged connection, domain 1 and its home (owned by
 * it). node_size: the engine's node quota, 0 for its default. */
void store_sim_init(struct store_sim *s, uint32_t node_size);
/* Domain 1's ring on intf, signalled through ops (ctx: theirs). */
void store_sim_attach(struct store_sim *s, struct xenstore_domain_interface *intf,
		      const struct xs_ring_evtchn_ops *ops, void *ctx);
/* The whole path (see the top). */
void store_sim_boot(struct store_sim *s, uint32_t node_size);
void store_sim_fini(struct store_sim *s);
/* The pump that runs the transport after a kick (store_sim_boot adds it
 * with s as its argument; a test removes it to silence the server). */
int store_sim_pump(void *arg);

/* A request on the privileged connection; returns the reply's type (the
 * payload is in s->reply). */
uint32_t store_sim_call(struct store_sim *s, uint32_t type, uint32_t tx, const void *payload,
			size_t len);
/* Write, read (NULL if absent; s->reply holds the value), remove, set
 * permissions ("n1\0r0" with its length) as dom0. Write and set_perms
 * assert success. */
void store_sim_write(struct store_sim *s, const char *path, const char *value);
void store_sim_write_bytes(struct store_sim *s, const char *path, const void *value, size_t len);
const char *store_sim_read(struct store_sim *s, const char *path);
void store_sim_rm(struct store_sim *s, const char *path);
void store_sim_set_perms(struct store_sim *s, const char *path, const char *perms, size_t len);

#endif
