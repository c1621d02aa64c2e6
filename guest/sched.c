/*
 * Scheduling: HYPERVISOR_sched_op wrappers. The hypervisor core never
 * blocks; it hands the wait to the platform (struct hv_action_req), which
 * returns from the hypercall once the vCPU would have been woken: an upcall
 * became pending (block), a polled port became pending (poll), or the
 * deadline passed.
 */
#include "xg_internal.h"

#include <xen/sched.h>

#define XG_POLL_MAX 128 /* ports per SCHEDOP_poll, Xen's limit */

/* SCHEDOP_block also enables event delivery (the hypervisor clears
 * evtchn_upcall_mask first), so a pending upcall runs before this returns. */
int xg_block(struct xen_guest *g)
{
	return (int)xg_sched_op(g, SCHEDOP_block, NULL);
}

int xg_yield(struct xen_guest *g)
{
	return (int)xg_sched_op(g, SCHEDOP_yield, NULL);
}

/* The ports array is a nested guest handle: it is bounced (if needed) in
 * the same call as the sched_poll struct that points at it. */
int xg_poll(struct xen_guest *g, const evtchn_port_t *ports, unsigned int nr_ports,
	    uint64_t timeout_ns)
{
	struct sched_poll poll = { .nr_ports = nr_ports, .timeout = timeout_ns };
	uint64_t ports_gpa, gpa;
	struct xg_call c;
	long rc;

	if (nr_ports > XG_POLL_MAX || (nr_ports && !ports))
		return -EINVAL;
	xg_call_begin(g, &c);
	rc = xg_call_arg(&c, (void *)ports, nr_ports * sizeof(*ports), false, &ports_gpa);
	if (rc == 0) {
		poll.ports.p = (evtchn_port_t *)(uintptr_t)ports_gpa;
		rc = xg_call_arg(&c, &poll, sizeof(poll), false, &gpa);
	}
	if (rc == 0)
		rc = xg_call_issue(&c, __HYPERVISOR_sched_op, SCHEDOP_poll, gpa, 0);
	xg_call_end(&c);
	return (int)rc;
}

/*
 * Upcalls off while deciding to sleep, so a kick cannot slip between the
 * caller's look at its ring and the sleep: SCHEDOP_poll returns at once if
 * a polled port is already pending. Back on, the handlers run (they set
 * *kicked again if another event came). With upcalls left off by our
 * caller nobody else clears the pending bits, so we do, after the poll and
 * before the caller looks at its rings again (a later event sets them
 * anew); left set, every later poll would return at once.
 */
void xg_wait_ports(struct xen_guest *g, bool *kicked, const evtchn_port_t *ports,
		   unsigned int nr_ports, uint64_t deadline_ns)
{
	bool was_off = xg_irqs_disabled(g);

	xg_irq_disable(g);
	/* Pairs with the handler's release store of *kicked. */
	if (!__atomic_load_n(kicked, __ATOMIC_ACQUIRE))
		xg_poll(g, ports, nr_ports, deadline_ns ? deadline_ns : 1);
	__atomic_store_n(kicked, false, __ATOMIC_RELEASE);
	if (!was_off) {
		xg_irq_enable(g);
		return;
	}
	for (unsigned int i = 0; i < nr_ports; i++)
		xg_clear_evtchn(g, ports[i]);
}

int xg_shutdown(struct xen_guest *g, unsigned int reason)
{
	struct sched_shutdown s = { .reason = reason };

	return (int)xg_sched_op(g, SCHEDOP_shutdown, &s);
}
