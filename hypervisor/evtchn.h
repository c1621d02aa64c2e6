/*
 * Event channels (evtchn.c: ABI-independent port state machine and
 * EVTCHNOP_*; evtchn_2l.c: the 2-level pending/mask bitmaps in shared_info).
 *
 * Port states follow Xen's ECS_*: free, reserved (port 0), unbound,
 * interdomain, pirq (refused), virq, ipi. The ABI-specific part (where the
 * pending and mask bits live, how a vCPU is notified) sits behind
 * struct evtchn_port_ops so a FIFO ABI can be added without touching the
 * state machine.
 */
#ifndef XENON_HYPERVISOR_EVTCHN_H
#define XENON_HYPERVISOR_EVTCHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

struct domain;
struct vcpu;
struct evtchn; /* one port; defined in evtchn.c */

/* Xen's default max_event_channels: the highest port a guest may use, so
 * ports 1..1023 are usable and port 0 is reserved (1024 port numbers). */
#define EVTCHN_DEFAULT_MAX_PORTS 1023

struct evtchn_port_ops {
	const char *name;
	unsigned int nr_ports; /* capacity of the ABI */
	/* Mark port pending and, per the ABI, notify vCPU v (kick). The
	 * state machine also wakes vCPUs of d polling the port (SCHEDOP_poll):
	 * it ends the poll (v->nr_poll = 0) and kicks, even if masked. */
	void (*set_pending)(struct domain *d, struct vcpu *v, evtchn_port_t port);
	void (*clear_pending)(struct domain *d, evtchn_port_t port);
	/* Clear the mask; re-deliver to v if the port is pending. */
	void (*unmask)(struct domain *d, struct vcpu *v, evtchn_port_t port);
	bool (*is_pending)(struct domain *d, evtchn_port_t port);
	bool (*is_masked)(struct domain *d, evtchn_port_t port);
};

extern const struct evtchn_port_ops evtchn_port_ops_2l;

/* Per-vCPU: VIRQ bindings. Global VIRQs live in vCPU 0's table, as in Xen. */
struct evtchn_vcpu {
	evtchn_port_t virq_to_port[NR_VIRQS];
};

/* Per-domain state, embedded in struct domain. */
struct evtchn_domain {
	const struct evtchn_port_ops *ops;
	/* Port numbers [0, max_ports) exist: min(limit + 1, ops->nr_ports). */
	unsigned int max_ports;
	unsigned int nr_used;	 /* ports not free (port 0 included) */
	bool limit_logged;	 /* hitting max_ports is logged once */
	bool pirq_logged;	 /* a refused bind_pirq is logged once */
	struct evtchn **buckets; /* lazily allocated groups of ports */
	unsigned int nr_buckets;
};

/* max_ports: the highest usable port (Xen's max_event_channels; 0 = the
 * hypervisor default), capped by the ABI. Needs d->hv. Allocates one
 * bucket and reserves port 0; further buckets are allocated on demand. */
int evtchn_domain_init(struct domain *d, unsigned int max_ports);
/* Close every port (peers see their end revert to unbound) and free. */
void evtchn_domain_fini(struct domain *d);

/* EVTCHNOP_* from a guest vCPU; arg is a guest address. */
long do_event_channel_op(struct vcpu *v, unsigned int cmd, uint64_t arg);

/* Builder API (domain creation). */
int evtchn_alloc_unbound_port(struct domain *d, domid_t remote, evtchn_port_t *ret_port);
/* Make a specific free port unbound, accepting `remote` (seed 002;
 * DOMID_SELF = d). -EBUSY if not free (port 0 included), -ENOSPC beyond
 * d's limit. */
int evtchn_reserve_port(struct domain *d, evtchn_port_t port, domid_t remote);
/* Bind d's specific free port to <rd, rport>, which must be unbound and
 * accept d (-EINVAL; rd NULL: -ESRCH; local port as reserve). Both ends
 * become interdomain; unlike EVTCHNOP_bind_interdomain the new end is not
 * marked pending (the channel exists before the guest runs). */
int evtchn_bind_port(struct domain *d, evtchn_port_t port, struct domain *rd, evtchn_port_t rport);
/* Undo one port (used to unwind a failed creation). */
int evtchn_close_port(struct domain *d, evtchn_port_t port);

/* VIRQs raised by the core: per-vCPU to v, global to where d bound it. */
int evtchn_send_virq(struct vcpu *v, unsigned int virq);
int evtchn_send_global_virq(struct domain *d, unsigned int virq);
bool evtchn_virq_is_global(unsigned int virq);

/* Is the port valid and pending (SCHEDOP_poll). */
bool evtchn_port_pending(struct domain *d, evtchn_port_t port);
unsigned int evtchn_ports_used(struct domain *d);
/* Heap bytes held by d's port table (per-domain memory budget). */
size_t evtchn_memory_used(struct domain *d);

/* Read one port as EVTCHNOP_status would, without the privilege check
 * (tests, fuzzers, debug dumps). -EINVAL for an invalid port. Port 0 and
 * free ports read EVTCHNSTAT_closed. */
int evtchn_get_status(struct domain *d, evtchn_port_t port, struct evtchn_status *ret);

#endif
