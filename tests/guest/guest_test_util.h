/*
 * Helpers shared by the guest-side suites: a recording irq handler and
 * channel setup through the real core (guestsim).
 */
#ifndef XENON_GUEST_TEST_UTIL_H
#define XENON_GUEST_TEST_UTIL_H

#include <criterion/criterion.h>

#include "guestsim.h"

#define REC_MAX 4096

/* One handler call as seen from inside the handler. */
struct rec_entry {
	struct xen_guest *guest;
	unsigned int vcpu;
	int port;
	void *dev_id;
};

struct rec {
	unsigned int n;
	struct rec_entry e[REC_MAX];
};

static struct rec rec;

static inline irqreturn_t rec_handler(int irq, void *dev_id)
{
	struct xen_guest *g = xen_guest_current();

	if (rec.n < REC_MAX)
		rec.e[rec.n] =
			(struct rec_entry){ g, xg_current_vcpu(g), evtchn_from_irq(irq), dev_id };
	rec.n++;
	return IRQ_HANDLED;
}

static inline unsigned int rec_count_port(int port)
{
	unsigned int i, n = 0;

	for (i = 0; i < rec.n && i < REC_MAX; i++)
		n += rec.e[i].port == port;
	return n;
}

/* Port status as the owning domain sees it (EVTCHNOP_status). */
static inline unsigned int port_status(struct gs_domain *d, evtchn_port_t port)
{
	struct evtchn_status st = { .dom = DOMID_SELF, .port = port };

	gs_enter(d, 0);
	cr_assert_eq(HYPERVISOR_event_channel_op(EVTCHNOP_status, &st), 0);
	return st.status;
}

/* A channel: `recv` allocates an unbound port for `send`, which binds to
 * it. The receiver's port and the sender's local port come back. */
static inline void make_channel(struct gs_domain *recv, struct gs_domain *send,
				evtchn_port_t *ret_recv_port, evtchn_port_t *ret_send_port)
{
	gs_enter(recv, 0);
	cr_assert_eq(evtchn_alloc_unbound(send->domid, ret_recv_port), 0);
	gs_enter(send, 0);
	cr_assert_eq(evtchn_bind_interdomain(recv->domid, *ret_recv_port, ret_send_port), 0);
}

#endif
