/*
 * libxenon-dom0 — dom0's client library for xenon-hvd, the one public header.
 *
 * Shaped like Xen's libxenctrl / libxenevtchn / libxenforeignmemory, over
 * the control socket RUN_DIR/hvd.sock (protocol: substrate/proc/
 * procdom_proto.h). Every function returns a negative errno on failure.
 *
 *   struct xenon_ctl      one control connection: domain management,
 *                         hypercalls as dom0, foreign mappings
 *   struct xenon_evtchn   an event channel handle (its own connection): the
 *                         dom0 ports it binds fire on it, as with
 *                         libxenevtchn; closing it closes them
 *
 * Events: xenon_evtchn_fd() is pollable. When it polls readable, call
 * xenon_evtchn_pending() until it returns -EAGAIN; a port it returns is
 * masked until xenon_evtchn_unmask(). Requests made on the handle may read
 * events off the socket into its queue, so also drain pending() after any
 * bind/notify call before polling again (xenon_evtchn_has_queued()).
 *
 * Not thread-safe: one handle per thread.
 */
#ifndef XENON_DOM0_H
#define XENON_DOM0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "procdom_proto.h"

struct xenon_ctl;
struct xenon_evtchn;

/* ---- control ---------------------------------------------------------- */

int xenon_ctl_open(const char *run_dir, struct xenon_ctl **ret_ctl);
void xenon_ctl_close(struct xenon_ctl *ctl); /* accepts NULL */
int xenon_ctl_fd(const struct xenon_ctl *ctl);

/* Fill a create request with defaults: 1 vCPU, 256 pages, any domid. */
void xenon_create_defaults(struct procdom_ctl_create *req);
/* Create a paused domain running `argv` (argv[0] the program's absolute
 * path; NULL or "" for a domain with no process). */
int xenon_domain_create(struct xenon_ctl *ctl, const struct procdom_ctl_create *req,
			char *const argv[], uint32_t *ret_domid, struct procdom_ctl_created *ret);
int xenon_domain_destroy(struct xenon_ctl *ctl, uint32_t domid);
int xenon_domain_pause(struct xenon_ctl *ctl, uint32_t domid);
int xenon_domain_unpause(struct xenon_ctl *ctl, uint32_t domid);
int xenon_domain_shutdown(struct xenon_ctl *ctl, uint32_t domid, unsigned int reason);
/* Up to `max` live domains, lowest domid first; returns how many. */
int xenon_domain_list(struct xenon_ctl *ctl, struct procdom_ctl_dominfo *out, unsigned int max);
/* Ports of domid in use (not closed), up to `max`; returns how many. */
int xenon_evtchn_status(struct xenon_ctl *ctl, uint32_t domid, struct evtchn_status *out,
			unsigned int max);
/* A hypercall as dom0 (procdom_proto.h, PROCDOM_CTL_HYPERCALL): buf (len
 * bytes, may be NULL/0) is copied in and back; args[buf_arg] holds the
 * offset in buf. Returns the hypercall's result. */
long xenon_hypercall(struct xenon_ctl *ctl, unsigned int op, const uint64_t args[5],
		     unsigned int buf_arg, void *buf, size_t len);

/* ---- foreign memory (libxenforeignmemory) ---------------------------- */

/* Map nr frames of domid starting at gfn, shared and writable (prot as
 * mmap's). Returns the address or NULL with errno set. */
void *xenon_foreign_map(struct xenon_ctl *ctl, uint32_t domid, uint64_t gfn, size_t nr, int prot);
int xenon_foreign_unmap(void *addr, size_t nr);

/* ---- event channels (libxenevtchn) ----------------------------------- */

int xenon_evtchn_open(const char *run_dir, struct xenon_evtchn **ret_xe);
void xenon_evtchn_close(struct xenon_evtchn *xe); /* accepts NULL; closes its ports */
int xenon_evtchn_fd(const struct xenon_evtchn *xe);
/* The handle's control connection, for LIST and the like. */
struct xenon_ctl *xenon_evtchn_ctl(struct xenon_evtchn *xe);

/* Each returns the new dom0 port (owned by this handle). */
int xenon_evtchn_bind_unbound_port(struct xenon_evtchn *xe, uint32_t remote_domid);
int xenon_evtchn_bind_interdomain(struct xenon_evtchn *xe, uint32_t remote_domid,
				  evtchn_port_t remote_port);
int xenon_evtchn_bind_virq(struct xenon_evtchn *xe, unsigned int virq);
/* Own an existing dom0 port (reserved at dom0's creation); not closed by
 * xenon_evtchn_close. */
int xenon_evtchn_watch(struct xenon_evtchn *xe, evtchn_port_t port);
int xenon_evtchn_unbind(struct xenon_evtchn *xe, evtchn_port_t port);
int xenon_evtchn_notify(struct xenon_evtchn *xe, evtchn_port_t port);
int xenon_evtchn_unmask(struct xenon_evtchn *xe, evtchn_port_t port);
/* The next port that fired, or -EAGAIN (never blocks). */
int xenon_evtchn_pending(struct xenon_evtchn *xe);
bool xenon_evtchn_has_queued(const struct xenon_evtchn *xe);

#endif
