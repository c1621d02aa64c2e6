/*
 * xenon-blkback: the block back end, a dom0 service under xenon-hvd.
 *
 *   guest (blkfront)         xenon-blkback                      image file
 *   ring pages  --grants-->  mapped (xenon_gnttab, one handle
 *                            per connected vbd)
 *   requests    --evtchn-->  blkback_ring_service()  --preadv/pwritev/
 *                                                       fdatasync/punch-->
 *   responses   <--evtchn--  (kick only if the front end waits)
 *
 * One thread, one epoll loop over: signals, the store (lib/xenbus_be: a
 * vbd directory the toolstack wrote under /local/domain/0/backend/vbd/
 * becomes a device; the front end's state drives connect/disconnect) and
 * the event channel handle (a port firing serves that vbd's ring). A ring
 * is served at most BLKBACK_BATCH requests per turn, then the loop goes
 * round, so one busy guest cannot starve the others or the store.
 *
 * A front end's death: VIRQ_DOM_EXC, bound on the event channel handle
 * (shared with xenstored and any other dom0 client, docs/process-domains.md
 * "Global VIRQs are shared"), makes us list xenon-hvd's domains; each vbd
 * whose front-end domain is not listed, is shut down or dying, or is
 * listed under another pid than at connect (its domid reused) goes the way
 * @releaseDomain sends it (xbbe_frontends_gone(): grants, ring, port,
 * image, then the store nodes if the store answers). This needs no store,
 * so it also frees a dead guest's vbd once xenstored is gone, and it comes
 * before @releaseDomain, which then finds nothing left: lib/xenbus_be's
 * device list is the one owner, so no vbd is torn down twice.
 *
 * Liveness to the front end: the first ring page's unmap notify (set on
 * connect) zeroes the xenon-private byte sring->__pad[0] we set to 1 and
 * kicks the vbd's port when our mapping goes -- also when we are killed,
 * since xenon-hvd undoes a dead client's maps -- so the guest learns at
 * once that its back end is gone (guest/blkfront.c checks the byte).
 */
#ifndef XENON_BLKBACK_H
#define XENON_BLKBACK_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "blkback_ring.h"
#include "daemon.h"
#include "xenbus_be.h"
#include "xenon_dom0.h"

#define BB_MAX_VBDS XBBE_MAX_DEVICES
#define BB_ALIVE_OFFSET offsetof(struct blkif_sring, __pad) /* the liveness byte */

enum bb_src_kind { BB_SRC_SIGNAL, BB_SRC_XS, BB_SRC_EVTCHN };

struct bb_src {
	enum bb_src_kind kind;
};

struct bb;

/* One vbd (xbbe_dev->priv). */
struct bb_vbd {
	struct bb *bb;
	struct xbbe_dev *dev;
	int fd; /* the image */
	uint64_t sectors;
	bool readonly, discard;
	char params[PATH_MAX];
	/* Connected state. */
	bool connected, more, fatal;
	struct xenon_gnttab *xgt;
	void *ring;
	unsigned int ring_pages;
	evtchn_port_t port; /* ours */
	unsigned int slot;  /* in bb->vbds[] while connected */
	int32_t fe_pid;	    /* LIST's pid of the front end at connect; 0 unknown */
	struct blkback_ring br;
};

struct bb {
	struct daemon_opts opts; /* --run-dir, --ready-fd, -v */
	char pid_path[4200];	 /* D/blkback/blkback.pid; empty: none written */
	int log_fd, epfd, sig_fd;
	struct xs_handle *xs;
	struct xbbe *xbbe;
	struct xenon_evtchn *xe;
	struct bb_src sig_src, xs_src, ev_src;
	/* The connected vbds, packed, and by port: an event finds its vbd in
	 * one step and the pending pass looks only at connected ones. */
	struct bb_vbd *vbds[BB_MAX_VBDS];
	unsigned int nr_vbds;
	struct bb_vbd *by_port[EVTCHN_2L_NR_CHANNELS];
	int virq_port;		   /* VIRQ_DOM_EXC: a domain died (vbd.c) */
	struct xenon_domains doms; /* xenon-hvd's LIST at the last one */
	bool store_gone;	   /* xenstored died: xs_src is off the loop (main.c) */
	bool stop;
	int exit_code;
};

/* main.c */
enum { BB_ERR, BB_WARN, BB_INFO, BB_DEBUG };
void bb_log(struct bb *bb, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* vbd.c */
extern const struct xbbe_driver bb_vbd_driver; /* ctx: set bb_driver_ctx first */
void bb_driver_set_ctx(struct bb *bb);
/* The port fired: serve its ring (one batch). */
void bb_vbd_kick(struct bb *bb, evtchn_port_t port);
/* Serve the rings left with work after their batch; true if any still has. */
bool bb_vbd_serve_pending(struct bb *bb);
/* VIRQ_DOM_EXC fired: every vbd whose front end's domain is gone, shut
 * down or replaced is torn down (through lib/xenbus_be). */
void bb_vbd_dom_exc(struct bb *bb);

#endif
