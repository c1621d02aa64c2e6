/*
 * xenstored under xenon-hvd: real rings for introduced domains.
 *
 * When xenon-xenstored runs as a dom0 service of xenon-hvd (--hvd DIR or
 * XENON_RUN_DIR in the environment), INTRODUCE <domid> <gfn> <port> maps
 * the domain's store page with xenon_foreign_map(), binds the store event
 * channel as dom0 (xenon_evtchn_bind_interdomain), and serves the page with
 * the ring transport (transport_ring.c). The event handle's fd sits in the
 * loop; each event on a store port kicks that ring.
 *
 * Domain death: VIRQ_DOM_EXC is bound on the same handle. When it fires, the
 * live domains are listed (PROCDOM_CTL_LIST) and every introduced domain no
 * longer there, or shut down, is released as if dom0 had sent RELEASE
 * (xs_domain_gone: @releaseDomain fires). RELEASE, either way, unmaps the
 * page and closes the port, after the engine has let go of the connection.
 */
#ifndef XENON_XENSTORED_HVD_LINK_H
#define XENON_XENSTORED_HVD_LINK_H

#include "engine.h"
#include "loop.h"
#include "xslog.h"

struct xsd_hvd;

int xsd_hvd_create(const char *run_dir, struct xs_loop *loop, const struct xslog *log,
		   struct xsd_hvd **ret);
void xsd_hvd_destroy(struct xsd_hvd *x); /* accepts NULL */
void xsd_hvd_set_store(struct xsd_hvd *x, struct xs_store *s);
/* The engine's introduce and release hooks (struct xs_domain_ops). */
int xsd_hvd_introduce(struct xsd_hvd *x, struct xs_store *s, unsigned int domid, uint64_t gfn,
		      unsigned int port);
void xsd_hvd_release(struct xsd_hvd *x, unsigned int domid);

#endif
