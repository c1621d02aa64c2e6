/*
 * Guest event channels against the real core (guestsim): seed-002 channels,
 * the handler API (seed 13-14), the fair 2-level upcall scan (seed 15),
 * masking, nesting, IPIs, per-vCPU binding, and unwinding of failed binds.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guest_test_util.h"
#include "xg_internal.h"

static struct guestsim *gs;

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
	gs = gs_create(NULL);
	cr_assert_not_null(gs);
}

static void teardown(void)
{
	gs_destroy(gs);
	gs = NULL;
}

TestSuite(guest_events, .init = setup, .fini = teardown);

/* domN created with dom0's port 120+N reserved for it and its port 127
 * bound to that (seed 002, item 12). */
static struct gs_domain *boot_seed002_domu(domid_t n)
{
	struct hv_domain_config cfg;
	struct gs_domain *d;

	hv_domain_config_defaults(&cfg);
	cfg.domid = n;
	cfg.max_vcpus = 1;
	cfg.nr_pages = 64;
	cfg.nr_reserve = 1;
	cfg.reserve[0] = (struct hv_evtchn_reserve){ 0, 120 + n, n };
	cfg.nr_bind = 1;
	cfg.bind[0] = (struct hv_evtchn_bind){ 127, 0, 120 + n };
	cr_assert_eq(gs_domain_create(gs, &cfg, &d), 0);
	cr_assert_eq(gs_domain_boot(d), 0);
	return d;
}

Test(guest_events, seed002_prebound_channels_both_ways)
{
	struct gs_domain *d0 = gs_boot(gs, 0, true, 1, 64), *du[3];
	int tag0[3], tagu[3];
	domid_t n;

	cr_assert_not_null(d0);
	for (n = 1; n <= 2; n++) {
		du[n] = boot_seed002_domu(n);
		gs_enter(d0, 0);
		cr_assert_geq(bind_evtchn_to_irqhandler(120 + n, rec_handler, 0, "domU", &tag0[n]),
			      0);
		gs_enter(du[n], 0);
		cr_assert_geq(bind_evtchn_to_irqhandler(127, rec_handler, 0, "dom0", &tagu[n]), 0);
	}
	cr_assert_eq(rec.n, 0, "pre-bound channels start quiet");

	for (n = 1; n <= 2; n++) {
		rec.n = 0;
		gs_enter(du[n], 0);
		cr_assert_eq(notify_remote_via_evtchn(127), 0);
		cr_assert_eq(rec.n, 1);
		cr_assert_eq(rec.e[0].guest, d0->guest);
		cr_assert_eq(rec.e[0].port, 120 + n);
		cr_assert_eq(rec.e[0].dev_id, &tag0[n]);

		rec.n = 0;
		gs_enter(d0, 0);
		cr_assert_eq(notify_remote_via_evtchn(120 + n), 0);
		cr_assert_eq(rec.n, 1);
		cr_assert_eq(rec.e[0].guest, du[n]->guest);
		cr_assert_eq(rec.e[0].port, 127);
		cr_assert_eq(rec.e[0].dev_id, &tagu[n]);
	}
	cr_assert_eq(gs->stalls, 0);
}

Test(guest_events, alloc_unbound_bind_interdomain_send_once)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	evtchn_port_t p;
	int a, b, irq2;

	gs_enter(d1, 0);
	cr_assert_eq(evtchn_alloc_unbound(2, &p), 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p, rec_handler, 0, "d1", &a), 0);
	cr_assert_eq(port_status(d1, p), EVTCHNSTAT_unbound);

	gs_enter(d2, 0);
	irq2 = bind_interdomain_evtchn_to_irqhandler(1, p, rec_handler, 0, "d2", &b);
	cr_assert_geq(irq2, 0);
	/* The binder's fresh end starts pending (Xen): one call on d2. */
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.e[0].dev_id, &b);
	cr_assert_eq(port_status(d1, p), EVTCHNSTAT_interdomain);

	rec.n = 0;
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_irq(irq2), 0);
	cr_assert_eq(rec.n, 1, "handler runs exactly once");
	cr_assert_eq(rec.e[0].guest, d1->guest);
	cr_assert_eq(rec.e[0].port, (int)p);
	cr_assert_eq(rec.e[0].dev_id, &a);

	rec.n = 0;
	gs_enter(d1, 0);
	cr_assert_eq(notify_remote_via_evtchn(p), 0);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.e[0].guest, d2->guest);
	cr_assert_eq(rec.e[0].port, xg_evtchn_from_irq(d2->guest, irq2));
	cr_assert_eq(rec.e[0].dev_id, &b);
}

/* ---- the fair scan ---------------------------------------------------- */

#define SCAN_PORTS 260

/* d1 holds ports up to SCAN_PORTS-1, each bound from d2 (send[p] is d2's end);
 * the listed ones get the recording handler. */
struct scan_rig {
	struct gs_domain *d1, *d2;
	evtchn_port_t send[SCAN_PORTS];
};

static void scan_rig_init(struct scan_rig *r, const evtchn_port_t *ports, unsigned int n)
{
	evtchn_port_t got;
	unsigned int i;

	r->d1 = gs_boot(gs, 1, false, 1, 64);
	r->d2 = gs_boot(gs, 2, false, 1, 64);
	cr_assert(r->d1 && r->d2);
	/* Ports come lowest-first; the builder already took the store and
	 * console ports, so allocate until the highest one exists. */
	gs_enter(r->d1, 0);
	do {
		cr_assert_eq(evtchn_alloc_unbound(2, &got), 0);
	} while (got < SCAN_PORTS - 1);
	for (i = 0; i < n; i++) {
		gs_enter(r->d1, 0);
		cr_assert_geq(bind_evtchn_to_irqhandler(ports[i], rec_handler, 0, "scan", NULL), 0);
		gs_enter(r->d2, 0);
		cr_assert_eq(evtchn_bind_interdomain(1, ports[i], &r->send[ports[i]]), 0);
	}
}

/* With d1's events off, d2 sends on each port; then d1 turns events on
 * and the upcall runs. */
static void scan_fire(struct scan_rig *r, const evtchn_port_t *ports, unsigned int n)
{
	unsigned int i;

	gs_enter(r->d1, 0);
	xen_irq_disable();
	gs_enter(r->d2, 0);
	for (i = 0; i < n; i++)
		cr_assert_eq(notify_remote_via_evtchn(r->send[ports[i]]), 0);
	cr_assert_eq(rec.n, 0, "nothing delivered while d1's events are off");
	gs_enter(r->d1, 0);
	xen_irq_enable();
}

static void assert_order(const evtchn_port_t *want, unsigned int n)
{
	unsigned int i;

	cr_assert_eq(rec.n, n, "handled %u ports, want %u", rec.n, n);
	for (i = 0; i < n; i++)
		cr_assert_eq(rec.e[i].port, (int)want[i], "position %u: port %d, want %u", i,
			     rec.e[i].port, want[i]);
}

Test(guest_events, fair_scan_resumes_after_last_port_and_scans_start_word_twice)
{
	static const evtchn_port_t bound[] = { 65, 70, 130, 131, 195, 200, 201, 250 };
	static const evtchn_port_t round1[] = { 200, 130, 70 };
	static const evtchn_port_t want1[] = { 70, 130, 200 };
	static const evtchn_port_t round2[] = { 65, 131, 195, 201, 250 };
	/* Last handled: 200 = word 3 bit 8, so the scan starts at (3, 9):
	 * word 3 from bit 9, wrap, words 1 and 2, word 3 again below bit 9. */
	static const evtchn_port_t want2[] = { 201, 250, 65, 131, 195 };
	struct scan_rig r;

	scan_rig_init(&r, bound, 8);
	scan_fire(&r, round1, 3);
	assert_order(want1, 3);
	rec.n = 0;
	scan_fire(&r, round2, 5);
	assert_order(want2, 5);
}

/* Port 70 re-fires from its own handler (sent by d2, as another CPU would)
 * five times; 71 and 130, pending at the same time, run before 70 runs a
 * second time. */
static struct scan_rig *refire_rig;
static unsigned int refire_left;

static irqreturn_t refire_handler(int irq, void *dev_id)
{
	rec_handler(irq, dev_id);
	if (refire_left) {
		refire_left--;
		xg_notify_remote_via_evtchn(refire_rig->d2->guest, refire_rig->send[70]);
	}
	return IRQ_HANDLED;
}

Test(guest_events, refiring_port_does_not_starve_others)
{
	static const evtchn_port_t bound[] = { 71, 130 };
	static const evtchn_port_t fire[] = { 130, 71, 70 };
	static const evtchn_port_t want[] = { 70, 71, 130, 70, 70, 70, 70, 70 };
	struct scan_rig r;

	scan_rig_init(&r, bound, 2);
	gs_enter(r.d1, 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(70, refire_handler, 0, "refire", NULL), 0);
	gs_enter(r.d2, 0);
	cr_assert_eq(evtchn_bind_interdomain(1, 70, &r.send[70]), 0);
	refire_rig = &r;
	refire_left = 5;
	scan_fire(&r, fire, 3);
	assert_order(want, 8);
}

/* A port bound to vCPU 1 is not handled by vCPU 0's scan even if vCPU 0's
 * selector names its word (Linux's per-CPU binding mask). */
Test(guest_events, port_bound_to_other_vcpu_not_handled_here)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 2, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	struct shared_info *s;
	struct vcpu_info *v0, *v1;
	evtchn_port_t p, q;

	make_channel(d1, d2, &p, &q);
	gs_enter(d1, 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p, rec_handler, 0, "cpu1", NULL), 0);
	cr_assert_eq(xg_rebind_evtchn_to_cpu(d1->guest, p, 1), 0);
	s = d1->guest->shared_info;
	v0 = xg_vcpu_info(d1->guest, 0);
	v1 = xg_vcpu_info(d1->guest, 1);

	/* Forge an edge on vCPU 0: pending bit, its selector, its upcall. */
	__atomic_fetch_or(&s->evtchn_pending[p / 64], 1UL << (p % 64), __ATOMIC_SEQ_CST);
	__atomic_fetch_or(&v0->evtchn_pending_sel, 1UL << (p / 64), __ATOMIC_SEQ_CST);
	v0->evtchn_upcall_pending = 1;
	gs_deliver(gs);
	cr_assert_eq(rec.n, 0, "vCPU 0 must leave vCPU 1's port alone");
	cr_assert(xg_test_evtchn(d1->guest, p), "still pending");

	__atomic_fetch_or(&v1->evtchn_pending_sel, 1UL << (p / 64), __ATOMIC_SEQ_CST);
	v1->evtchn_upcall_pending = 1;
	gs_deliver(gs);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.e[0].vcpu, 1);

	/* And a real send now goes to vCPU 1. */
	rec.n = 0;
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.e[0].vcpu, 1);
}

/* ---- masking ---------------------------------------------------------- */

Test(guest_events, masked_port_waits_for_local_unmask)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	evtchn_port_t p, q;

	make_channel(d1, d2, &p, &q);
	gs_enter(d1, 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p, rec_handler, 0, "m", NULL), 0);
	mask_evtchn(p);
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	cr_assert_eq(rec.n, 0, "masked: not delivered");
	cr_assert(xg_test_evtchn(d1->guest, p));

	gs_enter(d1, 0);
	unmask_evtchn(p);
	cr_assert_eq(rec.n, 1, "unmask re-raises the swallowed edge once");
	cr_assert_not(xg_test_evtchn(d1->guest, p));

	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	cr_assert_eq(rec.n, 2);
}

/* Unmasking a port bound to another vCPU goes through EVTCHNOP_unmask,
 * and the hypervisor notifies that vCPU. */
Test(guest_events, remote_unmask_uses_hypercall_and_notifies_owner)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 2, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	evtchn_port_t p, q;

	make_channel(d1, d2, &p, &q);
	gs_enter(d1, 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p, rec_handler, 0, "r", NULL), 0);
	cr_assert_eq(xg_rebind_evtchn_to_cpu(d1->guest, p, 1), 0);
	mask_evtchn(p);
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	cr_assert_eq(rec.n, 0);
	gs_enter(d1, 0);
	unmask_evtchn(p);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.e[0].vcpu, 1);
}

/* ---- the ring drivers' wait (xg_wait_ports) --------------------------- */

static bool wait_kicked;

static irqreturn_t wait_kick(int irq, void *dev_id)
{
	__atomic_store_n(&wait_kicked, true, __ATOMIC_RELEASE);
	return IRQ_HANDLED;
}

/* A kick its handler saw ends the wait without a poll; with upcalls off
 * (nobody else clears them) every polled port's pending bit is cleared,
 * so the next poll does not return at once for an event already seen. */
Test(guest_events, wait_ports_takes_kicks_and_clears_ports_when_irqs_off)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	evtchn_port_t p[2], q[2];
	uint64_t now;

	make_channel(d1, d2, &p[0], &q[0]);
	make_channel(d1, d2, &p[1], &q[1]);
	gs_enter(d1, 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p[0], wait_kick, 0, "w0", NULL), 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p[1], wait_kick, 0, "w1", NULL), 0);
	wait_kicked = false;
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q[1]), 0);
	cr_assert(wait_kicked, "the handler ran");
	now = gs->now_ns;
	gs_enter(d1, 0);
	xg_wait_ports(d1->guest, &wait_kicked, p, 2, now + 1000000000ULL);
	cr_assert_eq(gs->now_ns, now, "no poll (it would sleep to the deadline)");
	cr_assert_not(wait_kicked);
	cr_assert_not(xg_irqs_disabled(d1->guest), "upcalls back on");

	xg_irq_disable(d1->guest);
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q[0]), 0);
	cr_assert_eq(notify_remote_via_evtchn(q[1]), 0);
	cr_assert_not(wait_kicked, "upcalls off: no handler");
	gs_enter(d1, 0);
	xg_wait_ports(d1->guest, &wait_kicked, p, 2, now + 1000000000ULL);
	cr_assert_eq(gs->now_ns, now, "ports pending: the poll returned at once");
	cr_assert_not(xg_test_evtchn(d1->guest, p[0]));
	cr_assert_not(xg_test_evtchn(d1->guest, p[1]));
	cr_assert(xg_irqs_disabled(d1->guest), "upcalls stay as the caller had them");
	xg_irq_enable(d1->guest);
	cr_assert_not(wait_kicked, "the events were consumed by the wait");
}

/* ---- nesting ---------------------------------------------------------- */

static struct gs_domain *nest_dom;
static bool in_a;
static unsigned int b_calls, b_inside_a;

static irqreturn_t nest_a(int irq, void *dev_id)
{
	in_a = true;
	xen_irq_enable(); /* a handler that lets interrupts in */
	/* IPI to ourselves: its upcall arrives while we are still in here. */
	cr_assert_eq(xg_send_ipi_one(nest_dom->guest, 0, 0), 0);
	cr_assert_eq(b_calls, 0, "the nested upcall must not run handlers");
	in_a = false;
	return IRQ_HANDLED;
}

static irqreturn_t nest_b(int irq, void *dev_id)
{
	b_calls++;
	b_inside_a += in_a;
	return IRQ_HANDLED;
}

Test(guest_events, nested_upcall_only_counts_and_outer_rescans)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	evtchn_port_t p, q;

	nest_dom = d1;
	b_calls = b_inside_a = 0;
	make_channel(d1, d2, &p, &q);
	gs_enter(d1, 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p, nest_a, 0, "a", NULL), 0);
	cr_assert_geq(bind_ipi_to_irqhandler(0, 0, nest_b, 0, "b", NULL), 0);
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	cr_assert_eq(b_calls, 1, "the outer upcall ran another pass");
	cr_assert_eq(b_inside_a, 0);
	cr_assert_eq(d1->guest->vcpu[0].nr_nested, 1);
	cr_assert_eq(d1->guest->vcpu[0].upcall_nesting, 0);
}

/* ---- IPIs and VIRQs ----------------------------------------------------- */

Test(guest_events, ipi_reaches_target_vcpu_once)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 2, 64);
	int tag;

	gs_enter(d1, 0);
	cr_assert_geq(bind_ipi_to_irqhandler(1, 1, rec_handler, 0, "ipi", &tag), 0);
	cr_assert_eq(xg_send_ipi_one(d1->guest, 1, 1), 0);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.e[0].vcpu, 1);
	cr_assert_eq(rec.e[0].dev_id, &tag);
	cr_assert_eq(xg_send_ipi_one(d1->guest, 0, 1), -EINVAL, "no IPI 1 bound on vCPU 0");
}

Test(guest_events, global_virq_dom_exc_reaches_dom0)
{
	struct gs_domain *d0 = gs_boot(gs, 0, true, 1, 64), *d1 = gs_boot(gs, 1, false, 1, 64);
	int irq;

	gs_enter(d0, 0);
	irq = bind_virq_to_irqhandler(VIRQ_DOM_EXC, 0, rec_handler, 0, "dom_exc", NULL);
	cr_assert_geq(irq, 0);
	cr_assert_eq(xg_irq_from_virq(d0->guest, 0, VIRQ_DOM_EXC), irq);
	gs_domain_destroy(d1);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.e[0].guest, d0->guest);
}

/* ---- bind failures unwind ---------------------------------------------- */

Test(guest_events, failed_request_unwinds_binding_keeps_port)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	unsigned int used;
	evtchn_port_t p, q;
	int irq;

	make_channel(d1, d2, &p, &q);
	gs_enter(d1, 0);
	used = d1->guest->nr_irqs_used;
	cr_assert_eq(bind_evtchn_to_irqhandler(p, NULL, 0, "bad", NULL), -EINVAL);
	cr_assert_eq(irq_from_evtchn(p), -1, "port -> irq mapping undone");
	cr_assert_eq(d1->guest->nr_irqs_used, used, "irq descriptor released");
	cr_assert_eq(port_status(d1, p), EVTCHNSTAT_interdomain, "caller's port stays open");

	/* Nothing is delivered to the half-bound port... */
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	cr_assert_eq(rec.n, 0);
	/* ...and a proper bind afterwards gets the pending event. */
	gs_enter(d1, 0);
	irq = bind_evtchn_to_irqhandler(p, rec_handler, 0, "good", NULL);
	cr_assert_geq(irq, 0);
	cr_assert_eq(rec.n, 1);
}

Test(guest_events, second_handler_refused_first_intact)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	evtchn_port_t p, q;
	int a, b, irq;

	make_channel(d1, d2, &p, &q);
	gs_enter(d1, 0);
	irq = bind_evtchn_to_irqhandler(p, rec_handler, 0, "a", &a);
	cr_assert_geq(irq, 0);
	cr_assert_eq(bind_evtchn_to_irqhandler(p, rec_handler, 0, "b", &b), -EBUSY);
	cr_assert_eq(irq_from_evtchn(p), irq);
	cr_assert_eq(d1->guest->irq_info[irq].refcnt, 1, "the failed bind's reference dropped");
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.e[0].dev_id, &a);

	/* Wrong dev_id: ignored. Right one: unbound, port closed. */
	gs_enter(d1, 0);
	unbind_from_irqhandler(irq, &b);
	cr_assert_eq(irq_from_evtchn(p), irq);
	unbind_from_irqhandler(irq, &a);
	cr_assert_eq(irq_from_evtchn(p), -1);
	cr_assert_eq(port_status(d1, p), EVTCHNSTAT_closed);
	cr_assert_eq(port_status(d2, q), EVTCHNSTAT_unbound, "peer reverts to unbound");
}

Test(guest_events, failed_interdomain_and_virq_binds_close_their_ports)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	struct hv_domain_info before, after;
	evtchn_port_t p;

	gs_enter(d1, 0);
	cr_assert_eq(evtchn_alloc_unbound(2, &p), 0);
	cr_assert_eq(domain_getinfo(gs->hv, 2, &before), 0);
	gs_enter(d2, 0);
	cr_assert_eq(bind_interdomain_evtchn_to_irqhandler(1, p, NULL, 0, "x", NULL), -EINVAL);
	cr_assert_eq(domain_getinfo(gs->hv, 2, &after), 0);
	cr_assert_eq(after.nr_ports_used, before.nr_ports_used, "the port it bound is closed");
	cr_assert_eq(port_status(d1, p), EVTCHNSTAT_unbound, "remote end reverts to unbound");

	gs_enter(d2, 0);
	cr_assert_eq(bind_virq_to_irqhandler(VIRQ_DEBUG, 0, NULL, 0, "x", NULL), -EINVAL);
	cr_assert_eq(xg_irq_from_virq(d2->guest, 0, VIRQ_DEBUG), -1);
	/* The VIRQ port was closed, so binding it again is not -EEXIST. */
	cr_assert_geq(bind_virq_to_irqhandler(VIRQ_DEBUG, 0, rec_handler, 0, "ok", NULL), 0);
}

Test(guest_events, irq_descriptors_bounded)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64);
	evtchn_port_t p;
	unsigned int i;

	gs_enter(d1, 0);
	for (i = 0; i < XG_NR_IRQS; i++) {
		cr_assert_eq(evtchn_alloc_unbound(2, &p), 0);
		cr_assert_geq(bind_evtchn_to_irqhandler(p, rec_handler, 0, "n", NULL), 0);
	}
	cr_assert_eq(evtchn_alloc_unbound(2, &p), 0);
	cr_assert_eq(bind_evtchn_to_irqhandler(p, rec_handler, 0, "n", NULL), -ENOSPC);
	cr_assert_eq(port_status(d1, p), EVTCHNSTAT_unbound);
}

/* ---- hypercall marshalling ------------------------------------------- */

Test(guest_events, arguments_in_guest_memory_go_in_place)
{
	struct gs_domain *d1 = gs_boot(gs, 1, false, 1, 64), *d2 = gs_boot(gs, 2, false, 1, 64);
	struct evtchn_send *send = gs_alloc_pages(d2, 1);
	evtchn_port_t p, q;

	make_channel(d1, d2, &p, &q);
	gs_enter(d1, 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p, rec_handler, 0, "m", NULL), 0);
	gs_enter(d2, 0);
	send->port = q;
	cr_assert_eq(HYPERVISOR_event_channel_op(EVTCHNOP_send, send), 0);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(d2->guest->vcpu[0].bounce_top, 0, "bounce buffer released");
	cr_assert_eq(notify_remote_via_irq(-1), -EINVAL);
	cr_assert_eq(notify_remote_via_evtchn(4000), -EINVAL);
}
