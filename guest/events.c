/*
 * Event channels, guest side: ports, irqs, handlers and the upcall (seed
 * items 8, 13-15; Linux drivers/xen/events, 2-level ABI).
 *
 * Tables (all embedded in struct xen_guest, bounded, no allocation):
 *
 *   evtchn_to_irq[port]  -> irq or -1
 *   irq_info[irq]        -> { type, port, cpu, virq/ipi index, refcnt,
 *                             handler, dev_id }
 *   vcpu[c].virq_to_irq[virq], vcpu[c].ipi_to_irq[ipi]
 *   vcpu[c].evtchn_mask  -> ports whose events vCPU c handles
 *
 * A port with no irq is masked (all are masked at boot and again on unbind)
 * and counts as bound to vCPU 0, as in Linux. request (installing the
 * handler) unmasks it; free masks it.
 *
 * The upcall (xg_evtchn_do_upcall), per vCPU, with the hypervisor's side
 * in hypervisor/evtchn_2l.c:
 *
 *   hypervisor (send)                      guest (upcall)
 *   1 pending[w] |= b   (test-and-set)     a upcall_pending = 0
 *   2 mask[w] & b ?     stop               b sel = xchg(pending_sel, 0)
 *   3 sel |= 1<<w       (test-and-set)     c for each word w in sel, fairly:
 *   4 xchg(upcall_pending, 1), kick          for each b in pending & ~mask
 *                                              & this vCPU's ports:
 *                                              pending[w] &= ~b, handler
 *                                          d again if upcall_pending (a-c)
 *
 * Every step is a seq_cst atomic, so whichever order the two sides
 * interleave in, an event set after (a) raises upcall_pending again (4)
 * and is found by (d); one set after its pending bit was cleared in (c) is
 * a new edge (1) and is found the same way.
 *
 * Fair scan. The scan resumes where the last one stopped: at (word, bit)
 * just after the last port handled, so a port that keeps firing cannot
 * starve the ones after it. The start word is visited twice: first from the
 * saved bit to the end of the word, last (after wrapping round the other
 * words) from bit 0 up to the saved bit. Worked example, last handled port
 * 200 (word 3, bit 8), so the scan starts at (3, 9); pending ports 65, 131,
 * 195, 201, 250:
 *
 *   word 3 bits 9..63 -> 201, 250 ; words 4.. none, wrap ;
 *   word 1 -> 65 ; word 2 -> 131 ; word 3 bits 0..8 -> 195
 *
 * Linux up to 3.x limited the second visit the same way; later Linux
 * rescans the whole start word, which only differs for a port of the start
 * word at or after the saved bit that fired again during this pass: here
 * it waits for the next round of the loop (d), where it is found first.
 *
 * Nesting: a handler that re-enables events can be interrupted by another
 * upcall on the same vCPU. The nested call only counts itself and returns;
 * the outer call sees the count and runs another pass (Linux's
 * xed_nesting_count).
 *
 * Unmask (Linux 2-level, PV rule): on the vCPU the port is bound to, clear
 * the mask bit, and if the port is pending raise the edge the mask
 * swallowed ourselves (selector bit, then upcall_pending), as the
 * hypervisor would have. For a port bound to another vCPU, leave the mask
 * set and ask the hypervisor (EVTCHNOP_unmask), which clears it and
 * notifies that vCPU. (Linux HVM always uses the hypercall for a pending
 * port because it has no way to raise its own upcall; we deliver through
 * the platform, so the PV rule applies.)
 */
#include "xg_internal.h"

#define XG_IRQ_NONE (-1)

static struct xen_irq_info *xg_irq(struct xen_guest *g, int irq)
{
	return irq >= 0 && irq < XG_NR_IRQS ? &g->irq_info[irq] : NULL;
}

static bool xg_port_ok(evtchn_port_t port)
{
	return port < XG_NR_EVTCHNS;
}

/* ---- tables ---------------------------------------------------------- */

static void xg_vcpu_events_init(struct xen_vcpu_state *vs, bool boot_cpu)
{
	unsigned int i;

	for (i = 0; i < NR_VIRQS; i++)
		vs->virq_to_irq[i] = XG_IRQ_NONE;
	for (i = 0; i < XG_NR_IPIS; i++)
		vs->ipi_to_irq[i] = XG_IRQ_NONE;
	for (i = 0; i < XG_EVTCHN_WORDS; i++)
		vs->evtchn_mask[i] = boot_cpu ? ~(xen_ulong_t)0 : 0;
	vs->timer_irq = XG_IRQ_NONE;
	vs->scan_word = vs->scan_bit = 0;
	vs->upcall_nesting = 0;
}

/*
 * On a zeroed struct xen_guest (xen_guest_init zeroed it or knew it zero),
 * after the vCPUs were counted: only what must not be zero is written, so
 * the irq table and the slots of vCPUs the domain does not have stay
 * untouched (no page faulted in for them; every lookup bounds cpu by
 * nr_vcpus).
 */
void xg_events_init(struct xen_guest *g)
{
	unsigned int i;

	for (i = 0; i < XG_NR_EVTCHNS; i++)
		g->evtchn_to_irq[i] = XG_IRQ_NONE;
	for (i = 0; i < g->nr_vcpus; i++)
		xg_vcpu_events_init(&g->vcpu[i], i == 0);
	/* No handler, no delivery: every port starts masked (Linux
	 * xen_evtchn_mask_all); binding a handler unmasks its port. */
	for (i = 0; i < XG_EVTCHN_WORDS; i++)
		__atomic_store_n(&g->shared_info->evtchn_mask[i], ~(xen_ulong_t)0,
				 __ATOMIC_SEQ_CST);
}

/* Which vCPU handles port: its bit moves to cpu's mask. */
static void xg_bind_port_to_cpu(struct xen_guest *g, evtchn_port_t port, unsigned int cpu)
{
	unsigned int i;

	for (i = 0; i < g->nr_vcpus; i++) {
		if (i != cpu)
			xg_sync_clear_bit(port, g->vcpu[i].evtchn_mask);
	}
	xg_sync_set_bit(port, g->vcpu[cpu].evtchn_mask);
}

static bool xg_port_on_cpu(struct xen_guest *g, evtchn_port_t port, unsigned int cpu)
{
	return xg_sync_test_bit(port, g->vcpu[cpu].evtchn_mask);
}

/* ---- raw ports ------------------------------------------------------- */

int xg_evtchn_alloc_unbound(struct xen_guest *g, domid_t remote, evtchn_port_t *ret_port)
{
	struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote };
	long rc = xg_event_channel_op(g, EVTCHNOP_alloc_unbound, &op);

	if (rc == 0)
		*ret_port = op.port;
	return (int)rc;
}

int xg_evtchn_bind_interdomain(struct xen_guest *g, domid_t remote_dom, evtchn_port_t remote_port,
			       evtchn_port_t *ret_port)
{
	struct evtchn_bind_interdomain op = { .remote_dom = remote_dom,
					      .remote_port = remote_port };
	long rc = xg_event_channel_op(g, EVTCHNOP_bind_interdomain, &op);

	if (rc == 0)
		*ret_port = op.local_port;
	return (int)rc;
}

int xg_evtchn_close(struct xen_guest *g, evtchn_port_t port)
{
	struct evtchn_close op = { .port = port };

	return (int)xg_event_channel_op(g, EVTCHNOP_close, &op);
}

/* Seed 14: the notification is one EVTCHNOP_send. */
int xg_notify_remote_via_evtchn(struct xen_guest *g, evtchn_port_t port)
{
	struct evtchn_send op = { .port = port };

	return (int)xg_event_channel_op(g, EVTCHNOP_send, &op);
}

void xg_mask_evtchn(struct xen_guest *g, evtchn_port_t port)
{
	if (xg_port_ok(port))
		xg_sync_set_bit(port, g->shared_info->evtchn_mask);
}

void xg_clear_evtchn(struct xen_guest *g, evtchn_port_t port)
{
	if (xg_port_ok(port))
		xg_sync_clear_bit(port, g->shared_info->evtchn_pending);
}

bool xg_test_evtchn(struct xen_guest *g, evtchn_port_t port)
{
	return xg_port_ok(port) && xg_sync_test_bit(port, g->shared_info->evtchn_pending);
}

/*
 * Local unmask. Clearing the mask and then testing pending pairs with
 * evtchn_2l_set_pending (test-and-set pending, then test mask): with full
 * barriers on both sides, at least one of us sees the other's write, so an
 * event racing the unmask is raised once. Raising it here mirrors
 * evtchn_2l_notify: selector test-and-set, then upcall_pending on a 0 -> 1
 * edge, which pairs with the xchg of the selector in the upcall.
 */
static void xg_unmask_local(struct xen_guest *g, unsigned int cpu, evtchn_port_t port)
{
	struct shared_info *s = g->shared_info;
	struct vcpu_info *vi = g->vcpu[cpu].vcpu_info;

	xg_sync_clear_bit(port, s->evtchn_mask);
	if (!xg_sync_test_bit(port, s->evtchn_pending))
		return;
	if (xg_sync_test_and_set_bit(port / XG_EVTCHN_BITS, &vi->evtchn_pending_sel))
		return;
	if (__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST))
		return;
	/* Nobody kicks us for an edge we raised ourselves. Linux unmasks with
	 * events off and lets the next enable deliver; we may be called with
	 * events on, so deliver now in that case. */
	if (!__atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_SEQ_CST))
		xg_force_evtchn_callback(g);
}

void xg_unmask_evtchn(struct xen_guest *g, evtchn_port_t port)
{
	unsigned int cpu = xg_current_vcpu(g);
	struct evtchn_unmask op = { .port = port };

	if (!xg_port_ok(port) || cpu >= g->nr_vcpus)
		return;
	if (xg_port_on_cpu(g, port, cpu)) {
		xg_unmask_local(g, cpu, port);
		return;
	}
	/* The hypervisor re-delivers only if the mask was set: leave it set
	 * and let EVTCHNOP_unmask clear it and notify the port's vCPU. */
	(void)xg_event_channel_op(g, EVTCHNOP_unmask, &op);
}

/* ---- irq descriptors ------------------------------------------------- */

static int xg_irq_alloc(struct xen_guest *g)
{
	int irq;

	for (irq = 0; irq < XG_NR_IRQS; irq++) {
		if (g->irq_info[irq].type == IRQT_UNBOUND) {
			g->nr_irqs_used++;
			return irq;
		}
	}
	return -ENOSPC;
}

static int xg_irq_setup(struct xen_guest *g, enum xen_irq_type type, evtchn_port_t port,
			unsigned int cpu, unsigned int index)
{
	struct xen_irq_info *info;
	int irq = xg_irq_alloc(g);

	if (irq < 0)
		return irq;
	info = &g->irq_info[irq];
	*info = (struct xen_irq_info){
		.type = type, .evtchn = port, .cpu = cpu, .index = index, .refcnt = 1
	};
	g->evtchn_to_irq[port] = (int16_t)irq;
	xg_bind_port_to_cpu(g, port, cpu);
	if (type == IRQT_VIRQ)
		g->vcpu[cpu].virq_to_irq[index] = irq;
	else if (type == IRQT_IPI)
		g->vcpu[cpu].ipi_to_irq[index] = irq;
	return irq;
}

/* Forget irq: port masked and back on vCPU 0, tables cleared, the port
 * closed if close_port (Linux closes it on the last unbind). */
static void xg_irq_release(struct xen_guest *g, int irq, bool close_port)
{
	struct xen_irq_info *info = &g->irq_info[irq];
	evtchn_port_t port = info->evtchn;

	xg_mask_evtchn(g, port);
	if (info->type == IRQT_VIRQ)
		g->vcpu[info->cpu].virq_to_irq[info->index] = XG_IRQ_NONE;
	else if (info->type == IRQT_IPI)
		g->vcpu[info->cpu].ipi_to_irq[info->index] = XG_IRQ_NONE;
	g->evtchn_to_irq[port] = XG_IRQ_NONE;
	xg_bind_port_to_cpu(g, port, 0);
	__builtin_memset(info, 0, sizeof(*info));
	g->nr_irqs_used--;
	if (close_port)
		(void)xg_evtchn_close(g, port);
}

/* request_irq: one handler per irq; the port is unmasked once it has one. */
static int xg_request_irq(struct xen_guest *g, int irq, irq_handler_t handler,
			  unsigned long irqflags, const char *devname, void *dev_id)
{
	struct xen_irq_info *info = &g->irq_info[irq];

	if (!handler)
		return -EINVAL;
	if (info->handler)
		return -EBUSY;
	info->handler = handler;
	info->irqflags = irqflags;
	info->name = devname;
	info->dev_id = dev_id;
	xg_unmask_evtchn(g, info->evtchn);
	return 0;
}

/* Undo one bind after a failed request: drop the reference; if it was the
 * only one, release the irq, closing the port only if the bind made it. */
static void xg_bind_unwind(struct xen_guest *g, int irq, bool bind_made_port)
{
	struct xen_irq_info *info = &g->irq_info[irq];

	if (info->refcnt > 1) {
		info->refcnt--;
		return;
	}
	xg_irq_release(g, irq, bind_made_port);
}

/* The second half of every *_to_irqhandler: request the irq a bind just
 * returned (or pass its error on), unwinding that bind if the request
 * fails. */
static int xg_request_or_unwind(struct xen_guest *g, int irq, bool bind_made_port,
				irq_handler_t handler, unsigned long irqflags, const char *devname,
				void *dev_id)
{
	int rc;

	if (irq < 0)
		return irq;
	rc = xg_request_irq(g, irq, handler, irqflags, devname, dev_id);
	if (rc < 0) {
		xg_bind_unwind(g, irq, bind_made_port);
		return rc;
	}
	return irq;
}

/* A source (port, VIRQ, IPI) bound twice shares one irq, as in Linux:
 * take another reference if it has one. */
static bool xg_irq_share(struct xen_guest *g, int irq)
{
	if (irq == XG_IRQ_NONE)
		return false;
	g->irq_info[irq].refcnt++;
	return true;
}

/* Issue a per-vCPU bind hypercall (cmd, op) that makes a fresh port, left
 * by the hypervisor in *port, and give that port an irq; the port is closed
 * again if no irq is free, so a failed bind leaves nothing behind. */
static int xg_bind_new_port(struct xen_guest *g, int cmd, void *op, const evtchn_port_t *port,
			    enum xen_irq_type type, unsigned int cpu, unsigned int index)
{
	long rc = xg_event_channel_op(g, cmd, op);
	int irq;

	if (rc < 0)
		return (int)rc;
	irq = xg_irq_setup(g, type, *port, cpu, index);
	if (irq < 0)
		(void)xg_evtchn_close(g, *port);
	return irq;
}

/* ---- bindings -------------------------------------------------------- */

int xg_bind_evtchn_to_irq(struct xen_guest *g, evtchn_port_t evtchn)
{
	int irq;

	if (!xg_port_ok(evtchn))
		return -EINVAL;
	irq = g->evtchn_to_irq[evtchn];
	if (xg_irq_share(g, irq))
		return irq;
	return xg_irq_setup(g, IRQT_EVTCHN, evtchn, 0, 0);
}

/*
 * Seed 13: bind the port to an irq, then request it; if the request fails
 * the binding is unwound. The unwind returns to the state before the call:
 * the caller's port stays open (Linux would close it through
 * unbind_from_irq) and masked, as every port without a handler is.
 */
int xg_bind_evtchn_to_irqhandler(struct xen_guest *g, evtchn_port_t evtchn, irq_handler_t handler,
				 unsigned long irqflags, const char *devname, void *dev_id)
{
	return xg_request_or_unwind(g, xg_bind_evtchn_to_irq(g, evtchn), false, handler, irqflags,
				    devname, dev_id);
}

static int xg_bind_virq_to_irq(struct xen_guest *g, unsigned int virq, unsigned int cpu)
{
	struct evtchn_bind_virq op = { .virq = virq, .vcpu = cpu };
	int irq;

	if (virq >= NR_VIRQS || cpu >= g->nr_vcpus)
		return -EINVAL;
	irq = g->vcpu[cpu].virq_to_irq[virq];
	if (xg_irq_share(g, irq))
		return irq;
	return xg_bind_new_port(g, EVTCHNOP_bind_virq, &op, &op.port, IRQT_VIRQ, cpu, virq);
}

int xg_bind_virq_to_irqhandler(struct xen_guest *g, unsigned int virq, unsigned int cpu,
			       irq_handler_t handler, unsigned long irqflags, const char *devname,
			       void *dev_id)
{
	return xg_request_or_unwind(g, xg_bind_virq_to_irq(g, virq, cpu), true, handler, irqflags,
				    devname, dev_id);
}

static int xg_bind_ipi_to_irq(struct xen_guest *g, unsigned int ipi, unsigned int cpu)
{
	struct evtchn_bind_ipi op = { .vcpu = cpu };
	int irq;

	if (ipi >= XG_NR_IPIS || cpu >= g->nr_vcpus)
		return -EINVAL;
	irq = g->vcpu[cpu].ipi_to_irq[ipi];
	if (xg_irq_share(g, irq))
		return irq;
	return xg_bind_new_port(g, EVTCHNOP_bind_ipi, &op, &op.port, IRQT_IPI, cpu, ipi);
}

int xg_bind_ipi_to_irqhandler(struct xen_guest *g, unsigned int ipi, unsigned int cpu,
			      irq_handler_t handler, unsigned long irqflags, const char *devname,
			      void *dev_id)
{
	return xg_request_or_unwind(g, xg_bind_ipi_to_irq(g, ipi, cpu), true, handler, irqflags,
				    devname, dev_id);
}

int xg_bind_interdomain_evtchn_to_irqhandler(struct xen_guest *g, domid_t remote_domain,
					     evtchn_port_t remote_port, irq_handler_t handler,
					     unsigned long irqflags, const char *devname,
					     void *dev_id)
{
	evtchn_port_t port = 0; /* set only by a call that returned 0 */
	int irq, rc;

	rc = xg_evtchn_bind_interdomain(g, remote_domain, remote_port, &port);
	if (rc < 0)
		return rc;
	irq = xg_bind_evtchn_to_irq(g, port);
	if (irq < 0) {
		(void)xg_evtchn_close(g, port);
		return irq;
	}
	return xg_request_or_unwind(g, irq, true, handler, irqflags, devname, dev_id);
}

void xg_unbind_from_irq(struct xen_guest *g, int irq)
{
	struct xen_irq_info *info = xg_irq(g, irq);

	if (!info || info->type == IRQT_UNBOUND)
		return;
	if (--info->refcnt > 0)
		return;
	xg_irq_release(g, irq, true);
}

/* free_irq then unbind_from_irq. A dev_id that does not match the
 * handler's leaves everything as it was (Linux warns and does the same). */
void xg_unbind_from_irqhandler(struct xen_guest *g, int irq, void *dev_id)
{
	struct xen_irq_info *info = xg_irq(g, irq);

	if (!info || info->type == IRQT_UNBOUND || !info->handler || info->dev_id != dev_id)
		return;
	xg_mask_evtchn(g, info->evtchn);
	info->handler = NULL;
	info->dev_id = NULL;
	info->name = NULL;
	xg_unbind_from_irq(g, irq);
}

int xg_notify_remote_via_irq(struct xen_guest *g, int irq)
{
	int port = xg_evtchn_from_irq(g, irq);

	return port < 0 ? -EINVAL : xg_notify_remote_via_evtchn(g, (evtchn_port_t)port);
}

int xg_send_ipi_one(struct xen_guest *g, unsigned int cpu, unsigned int ipi)
{
	if (cpu >= g->nr_vcpus || ipi >= XG_NR_IPIS)
		return -EINVAL;
	return xg_notify_remote_via_irq(g, g->vcpu[cpu].ipi_to_irq[ipi]);
}

/* Masked while the target moves, so no event is flagged for a vCPU that
 * no longer handles the port; unmasked after (re-raising one that came). */
int xg_rebind_evtchn_to_cpu(struct xen_guest *g, evtchn_port_t evtchn, unsigned int cpu)
{
	struct evtchn_bind_vcpu op = { .port = evtchn, .vcpu = cpu };
	int irq, rc;
	bool masked;

	if (!xg_port_ok(evtchn) || cpu >= g->nr_vcpus)
		return -EINVAL;
	masked = xg_sync_test_and_set_bit(evtchn, g->shared_info->evtchn_mask);
	rc = (int)xg_event_channel_op(g, EVTCHNOP_bind_vcpu, &op);
	if (rc == 0) {
		xg_bind_port_to_cpu(g, evtchn, cpu);
		irq = g->evtchn_to_irq[evtchn];
		if (irq != XG_IRQ_NONE)
			g->irq_info[irq].cpu = cpu;
	}
	if (!masked)
		xg_unmask_evtchn(g, evtchn);
	return rc;
}

int xg_evtchn_from_irq(struct xen_guest *g, int irq)
{
	struct xen_irq_info *info = xg_irq(g, irq);

	return info && info->type != IRQT_UNBOUND ? (int)info->evtchn : -1;
}

int xg_irq_from_evtchn(struct xen_guest *g, evtchn_port_t evtchn)
{
	return xg_port_ok(evtchn) ? g->evtchn_to_irq[evtchn] : -1;
}

int xg_irq_from_virq(struct xen_guest *g, unsigned int cpu, unsigned int virq)
{
	if (cpu >= g->nr_vcpus || virq >= NR_VIRQS)
		return -1;
	return g->vcpu[cpu].virq_to_irq[virq];
}

/* ---- the upcall ------------------------------------------------------ */

/* Ports of `word` this vCPU should handle now: pending, not masked, and
 * bound to it (Linux active_evtchns). */
static xen_ulong_t xg_active_evtchns(struct xen_guest *g, unsigned int cpu, unsigned int word)
{
	struct shared_info *s = g->shared_info;

	return __atomic_load_n(&s->evtchn_pending[word], __ATOMIC_SEQ_CST) &
	       ~__atomic_load_n(&s->evtchn_mask[word], __ATOMIC_SEQ_CST) &
	       __atomic_load_n(&g->vcpu[cpu].evtchn_mask[word], __ATOMIC_RELAXED);
}

/*
 * Clear the pending bit before the handler runs (Linux acks the edge
 * first). Pairs with the test-and-set in evtchn_2l_set_pending: an event
 * sent after this clear is a new 0 -> 1 edge that raises the selector and
 * upcall_pending again, so nothing sent while the handler runs is lost.
 */
static void xg_handle_port(struct xen_guest *g, unsigned int cpu, evtchn_port_t port)
{
	struct xen_irq_info *info;
	int irq;

	xg_sync_clear_bit(port, g->shared_info->evtchn_pending);
	irq = g->evtchn_to_irq[port];
	info = xg_irq(g, irq);
	if (!info || !info->handler) {
		g->vcpu[cpu].nr_spurious++;
		return;
	}
	info->count++;
	info->handler(irq, info->dev_id);
}

/* The timer goes first (Linux): a flood of device events must not delay
 * the tick. */
static void xg_handle_timer_first(struct xen_guest *g, unsigned int cpu)
{
	int irq = g->vcpu[cpu].virq_to_irq[VIRQ_TIMER];
	evtchn_port_t port;

	if (irq == XG_IRQ_NONE)
		return;
	port = g->irq_info[irq].evtchn;
	if (xg_active_evtchns(g, cpu, port / XG_EVTCHN_BITS) & xg_bit(port))
		xg_handle_port(g, cpu, port);
}

/* Handle the ports of `bits` (a snapshot of word `word`) from bit `from`
 * up, remembering after each one where the next scan starts. */
static void xg_scan_word(struct xen_guest *g, unsigned int cpu, unsigned int word, xen_ulong_t bits,
			 unsigned int from)
{
	struct xen_vcpu_state *vs = &g->vcpu[cpu];
	unsigned int bit = from;

	while (bit < XG_EVTCHN_BITS) {
		xen_ulong_t rest = bits & (~(xen_ulong_t)0 << bit);

		if (!rest)
			break;
		bit = (unsigned int)__builtin_ctzl(rest);
		xg_handle_port(g, cpu, word * XG_EVTCHN_BITS + bit);
		bit++;
		vs->scan_word = bit < XG_EVTCHN_BITS ? word : (word + 1) % XG_EVTCHN_BITS;
		vs->scan_bit = bit % XG_EVTCHN_BITS;
	}
}

/* One pass over the selected words (see the design comment at the top). */
static void xg_handle_events(struct xen_guest *g, unsigned int cpu)
{
	struct xen_vcpu_state *vs = &g->vcpu[cpu];
	unsigned int start_word = vs->scan_word, start_bit = vs->scan_bit, word, i;
	xen_ulong_t pending_words;

	xg_handle_timer_first(g, cpu);
	/* Take the selector after upcall_pending was cleared: pairs with the
	 * selector test-and-set in evtchn_2l_notify (either we take the bit,
	 * or the hypervisor sees it clear and raises upcall_pending again). */
	pending_words =
		__atomic_exchange_n(&vs->vcpu_info->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	word = start_word;
	for (i = 0; pending_words; i++) {
		xen_ulong_t words = pending_words & (~(xen_ulong_t)0 << word);
		xen_ulong_t bits;
		unsigned int from = 0;

		if (!words) {
			word = 0; /* nothing at or after `word`: wrap */
			continue;
		}
		word = (unsigned int)__builtin_ctzl(words);
		bits = xg_active_evtchns(g, cpu, word);
		if (word == start_word && i == 0)
			from = start_bit; /* first visit: saved bit to the end */
		else if (word == start_word)
			bits &= xg_bit(start_bit) - 1; /* last visit: bits below it */
		xg_scan_word(g, cpu, word, bits, from);
		if (word != start_word || i != 0)
			pending_words &= ~((xen_ulong_t)1 << word);
		word = (word + 1) % XG_EVTCHN_BITS;
	}
}

/*
 * Seed 15. Clear upcall_pending, scan, and go round again while a new
 * upcall became pending or a nested call asked for another pass. The store
 * of 0 and the final load pair with the hypervisor's exchange of
 * upcall_pending in evtchn_2l_notify.
 */
void xg_evtchn_do_upcall(struct xen_guest *g)
{
	unsigned int cpu, count;
	struct xen_vcpu_state *vs;
	struct vcpu_info *vi;

	if (!g || !g->ready)
		return;
	cpu = xg_current_vcpu(g);
	if (cpu >= g->nr_vcpus)
		return;
	vs = &g->vcpu[cpu];
	vi = vs->vcpu_info;
	vs->nr_upcalls++;
	do {
		__atomic_store_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
		if (__atomic_fetch_add(&vs->upcall_nesting, 1, __ATOMIC_SEQ_CST) > 0) {
			vs->nr_nested++;
			return; /* the outer call will run another pass */
		}
		xg_handle_events(g, cpu);
		count = __atomic_exchange_n(&vs->upcall_nesting, 0, __ATOMIC_SEQ_CST);
	} while (count != 1 || __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST));
}
