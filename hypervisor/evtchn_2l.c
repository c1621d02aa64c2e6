/*
 * The 2-level event channel ABI: where a port's pending and mask bits live
 * and how a vCPU learns that one of them went up.
 *
 *   shared_info (one page per domain)            vcpu_info (per vCPU)
 *   +----------------------------------------+   +---------------------------+
 *   | evtchn_pending[64]  64 words x 64 bits |   | evtchn_upcall_pending (u8)|
 *   | evtchn_mask[64]     64 words x 64 bits |   | evtchn_pending_sel (u64)  |
 *   +----------------------------------------+   +---------------------------+
 *
 *   port p  ->  bit p % 64 of word p / 64 in both bitmaps,
 *               and bit p / 64 of the notified vCPU's evtchn_pending_sel.
 *
 * Worked example, port 130 sent to vCPU 1 (word 2, bit 2):
 *   1. pending[2] |= 1 << 2      was it already set?  yes -> done (no edge)
 *   2. mask[2] & (1 << 2)        masked?              yes -> done (edge lost,
 *                                                     unmask re-delivers)
 *   3. sel(vcpu 1) |= 1 << 2     already set?         yes -> done (the guest
 *                                                     has not scanned word 2)
 *   4. upcall_pending = 1        was it 1?            yes -> done (upcall
 *                                                     already on its way)
 *   5. kick vCPU 1.
 * Each step is an atomic read-modify-write, so the hypervisor and a guest
 * running concurrently on another thread never lose an edge: the guest's
 * upcall clears upcall_pending, then takes the selector with xchg, then
 * clears each pending bit before handling the port (Linux
 * __xen_evtchn_do_upcall / evtchn_2l_handle_events), the mirror image of
 * the sequence above.
 *
 * The capacity is EVTCHN_2L_NR_CHANNELS (4096 with 64-bit xen_ulong_t).
 */
#include "core.h"

#define EVTCHN_2L_BITS (sizeof(xen_ulong_t) * 8)

_Static_assert(EVTCHN_2L_NR_CHANNELS == EVTCHN_2L_BITS * EVTCHN_2L_BITS,
	       "2-level capacity is bits-per-word squared");
_Static_assert(sizeof(((struct shared_info *)0)->evtchn_pending) * 8 == EVTCHN_2L_NR_CHANNELS,
	       "pending bitmap covers every 2-level port");

static inline xen_ulong_t evtchn_2l_bit(evtchn_port_t port)
{
	return (xen_ulong_t)1 << (port % EVTCHN_2L_BITS);
}

/* Atomic test-and-set / test-and-clear of the port's bit in `words`.
 * seq_cst: on x86 these are LOCK-prefixed RMWs, full barriers, which is
 * what the guest-side pairings below rely on. */
static inline bool evtchn_2l_test_and_set(xen_ulong_t *words, evtchn_port_t port)
{
	xen_ulong_t bit = evtchn_2l_bit(port);

	return __atomic_fetch_or(&words[port / EVTCHN_2L_BITS], bit, __ATOMIC_SEQ_CST) & bit;
}

static inline bool evtchn_2l_test_and_clear(xen_ulong_t *words, evtchn_port_t port)
{
	xen_ulong_t bit = evtchn_2l_bit(port);

	return __atomic_fetch_and(&words[port / EVTCHN_2L_BITS], ~bit, __ATOMIC_SEQ_CST) & bit;
}

static inline bool evtchn_2l_test(xen_ulong_t *words, evtchn_port_t port)
{
	return __atomic_load_n(&words[port / EVTCHN_2L_BITS], __ATOMIC_SEQ_CST) &
	       evtchn_2l_bit(port);
}

/*
 * Steps 3-5 of the picture: word `port / 64` of vCPU v has work. The
 * selector test-and-set pairs with the guest's xchg(&evtchn_pending_sel, 0)
 * in its upcall: either the guest's xchg sees our bit and scans the word,
 * or it ran first and our fetch_or sees the bit clear and raises a new
 * upcall. The exchange of evtchn_upcall_pending pairs with the guest's
 * plain store of 0 before that xchg and its re-read at the end of the
 * upcall loop (after virt_rmb()): a 0 -> 1 edge is the only reason to kick
 * (Xen's vcpu_mark_events_pending).
 */
static void evtchn_2l_notify(struct domain *d, struct vcpu *v, evtchn_port_t port)
{
	struct vcpu_info *vi = v->vcpu_info;
	xen_ulong_t sel = (xen_ulong_t)1 << (port / EVTCHN_2L_BITS);

	if (!vi)
		return;
	if (__atomic_fetch_or(&vi->evtchn_pending_sel, sel, __ATOMIC_SEQ_CST) & sel)
		return;
	if (__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST))
		return;
	d->hv->ops->kick(d->hv->sub, d->domid, v->id);
}

/*
 * Steps 1-2. The pending test-and-set pairs with the guest clearing the
 * pending bit (sync_clear_bit) before it handles the port: an event sent
 * after that clear is a new 0 -> 1 edge. Reading the mask after setting
 * pending pairs with the guest's local unmask (clear mask, then test
 * pending, Linux unmask_evtchn): with full barriers on both sides at least
 * one of us sees the other's write, so the event is delivered by one side.
 */
static void evtchn_2l_set_pending(struct domain *d, struct vcpu *v, evtchn_port_t port)
{
	struct shared_info *s = d->shared_info;

	if (!s || port >= EVTCHN_2L_NR_CHANNELS)
		return;
	if (evtchn_2l_test_and_set(s->evtchn_pending, port))
		return;
	if (evtchn_2l_test(s->evtchn_mask, port))
		return;
	evtchn_2l_notify(d, v, port);
}

static void evtchn_2l_clear_pending(struct domain *d, evtchn_port_t port)
{
	if (d->shared_info && port < EVTCHN_2L_NR_CHANNELS)
		evtchn_2l_test_and_clear(d->shared_info->evtchn_pending, port);
}

/*
 * EVTCHNOP_unmask. As in Xen, re-delivery needs the mask bit to have been
 * set: an unmasked port already notified when it became pending. The
 * mask test-and-clear then the pending test mirror set_pending's order
 * (pending then mask), so a concurrent send and unmask deliver once.
 */
static void evtchn_2l_unmask(struct domain *d, struct vcpu *v, evtchn_port_t port)
{
	struct shared_info *s = d->shared_info;

	if (!s || port >= EVTCHN_2L_NR_CHANNELS)
		return;
	if (!evtchn_2l_test_and_clear(s->evtchn_mask, port))
		return;
	if (!evtchn_2l_test(s->evtchn_pending, port))
		return;
	evtchn_2l_notify(d, v, port);
}

static bool evtchn_2l_is_pending(struct domain *d, evtchn_port_t port)
{
	struct shared_info *s = d->shared_info;

	return s && port < EVTCHN_2L_NR_CHANNELS && evtchn_2l_test(s->evtchn_pending, port);
}

static bool evtchn_2l_is_masked(struct domain *d, evtchn_port_t port)
{
	struct shared_info *s = d->shared_info;

	/* No shared page, no way to deliver: report masked, as Xen does for
	 * ports beyond the ABI. */
	return !s || port >= EVTCHN_2L_NR_CHANNELS || evtchn_2l_test(s->evtchn_mask, port);
}

const struct evtchn_port_ops evtchn_port_ops_2l = {
	.name = "2-level",
	.nr_ports = EVTCHN_2L_NR_CHANNELS,
	.set_pending = evtchn_2l_set_pending,
	.clear_pending = evtchn_2l_clear_pending,
	.unmask = evtchn_2l_unmask,
	.is_pending = evtchn_2l_is_pending,
	.is_masked = evtchn_2l_is_masked,
};
