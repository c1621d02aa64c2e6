/*
 * The fast send path (docs/process-domains.md "The fast path";
 * procdom_proto.h (c)): EVTCHNOP_send on an interdomain port, done by the
 * sender in the peer's shared pages with no system call unless the peer
 * vCPU sleeps (FUTEX_WAKE) or runs guest code and needs interrupting
 * (tgkill), exactly as xenon-hvd's kick would.
 *
 *   sender's evt memfd (ro)             peer slot k (peer's evt memfd)
 *   send table[port] --------------+    +----------------------------------+
 *   { seq, peer_slot k, peer_vcpu, |--> | shared_info: pending/mask bits,   |
 *     remote_port }                     |   vcpu_info[peer_vcpu]           |
 *                                       | vCPU page peer_vcpu: state, tid  |
 *                                       +----------------------------------+
 *
 * The entry is read under its seqcount (xenon-hvd writes it: odd while
 * rewriting). A send that races a close at worst leaves a spurious pending
 * bit, which Xen guests tolerate (the design's stated hazard).
 *
 * Cost (bench/proc_line_bench.c takes it apart). Every step is a locked RMW
 * or a fence, so each waits for its line, and the peer wrote both lines the
 * send writes (it cleared the pending bit, it spins on upcall_pending): two
 * cross-core transfers one after the other before the peer can see the
 * event, and a third for the peer to read it. Asking for both lines at once
 * (prefetchw) does not help: the peer's spin takes the vcpu_info line back
 * before the selector's RMW reaches it. Only the state word, read after
 * the fence, is fetched early (it is off the event's path but not off the
 * sender's).
 *
 * While the send runs, the sending vCPU's own upcall mask is set if it was
 * clear: the peer's answer can arrive before we are back in guest code,
 * and a vCPU that is RUNNING with upcalls unmasked gets a signal, which
 * the runtime would ignore here (it delivers on the way out anyway) at the
 * price of two system calls and a kernel round trip. The mask is what Xen
 * guests already use to say "do not interrupt me"; it is restored, with a
 * full barrier, before rt_deliver() re-tests upcall_pending.
 */
#include "rt_internal.h"

/*
 * hypervisor/evtchn_2l.c's set_pending + notify, step for step, with the
 * same pairings: the pending test-and-set pairs with the receiver's clear
 * before handling; the mask read after it with the receiver's local unmask
 * (clear mask, test pending); the selector fetch_or with the upcall's xchg
 * of the selector; the upcall_pending exchange with the upcall's store of 0
 * and re-read. All seq_cst RMWs (LOCK-prefixed, full barriers on x86).
 */
bool rt_2l_send(struct shared_info *s, struct vcpu_info *vi, evtchn_port_t port, bool *ret_edge)
{
	unsigned int w = port / XG_EVTCHN_BITS;
	xen_ulong_t sel = (xen_ulong_t)1 << w;

	*ret_edge = false;
	if (__atomic_fetch_or(&s->evtchn_pending[w], rt_bit(port), __ATOMIC_SEQ_CST) & rt_bit(port))
		return false;
	if (__atomic_load_n(&s->evtchn_mask[w], __ATOMIC_SEQ_CST) & rt_bit(port))
		return true;
	if (__atomic_fetch_or(&vi->evtchn_pending_sel, sel, __ATOMIC_SEQ_CST) & sel)
		return true;
	if (__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST))
		return true;
	*ret_edge = true;
	return true;
}

struct rt_send_target {
	unsigned int slot, vcpu;
	evtchn_port_t port;
};

/* Read entry port under its seqcount; false: no usable entry. */
static bool rt_send_lookup(const struct procdom_rt *rt, evtchn_port_t port,
			   struct rt_send_target *t)
{
	const struct procdom_send_entry *e = &rt->send_table[port];
	uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);

	if (seq & 1)
		return false;
	t->slot = __atomic_load_n(&e->peer_slot, __ATOMIC_RELAXED);
	t->vcpu = __atomic_load_n(&e->peer_vcpu, __ATOMIC_RELAXED);
	t->port = __atomic_load_n(&e->remote_port, __ATOMIC_RELAXED);
	/* Pairs with xenon-hvd's release fence before its final seq++. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != seq)
		return false;
	return t->slot >= 1 && t->slot <= PROCDOM_MAX_PEER_SLOTS &&
	       t->vcpu < PROCDOM_EVT_MAX_VCPUS && t->port < XG_NR_EVTCHNS;
}

/*
 * Interrupt a RUNNING peer vCPU only if it has upcalls unmasked: a masked
 * vCPU's upcall signal would find the mask set and do nothing (rt_upcall.c)
 * -- the vCPU is inside its upcall, or guest code has events disabled --
 * and whoever clears the mask re-tests upcall_pending after a full barrier
 * (rt_deliver, the local SCHEDOP_block, xg_irq_enable). That pairs with our
 * seq_cst exchange of upcall_pending in rt_2l_send, before this load: either
 * we see the mask clear and signal, or the unmasking vCPU sees the upcall.
 * The line is the one rt_2l_send just wrote: no transfer.
 */
static bool rt_unmasked(const struct vcpu_info *vi)
{
	return !__atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_SEQ_CST);
}

/*
 * The waker's steps (rt_notify: full fence, state; SLEEPING -> wake), with
 * a grace period before the upcall signal. A peer found RUNNING with
 * upcalls unmasked and our upcall_pending still set is usually a few
 * instructions from masking them or from polling (its runtime between an
 * upcall and the guest's next block, the guest between a send and its
 * wait): then it finds the event itself and a signal -- tgkill here, a
 * kernel round trip there, microseconds both -- buys nothing. So look
 * again for a while (bounded: RT_SIGNAL_GRACE polls, well under a
 * microsecond) and signal only if the peer is still RUNNING, unmasked and
 * has not taken the upcall. A peer that went to sleep meanwhile is woken
 * as usual (rt_notify again: fence, state, CAS).
 */
#define RT_SIGNAL_GRACE 16

static bool rt_peer_needs_signal(const struct procdom_vcpu_page *pg, const struct vcpu_info *vi)
{
	return __atomic_load_n(&pg->state, __ATOMIC_SEQ_CST) == PROCDOM_VCPU_RUNNING &&
	       rt_unmasked(vi) && __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST);
}

static enum rt_notify_result rt_notify_peer(struct procdom_vcpu_page *pg,
					    const struct vcpu_info *vi, bool edge)
{
	enum rt_notify_result r = rt_notify(pg, false);
	unsigned int i;

	if (r != RT_NOTIFY_NONE || !edge)
		return r;
	for (i = 0; i < RT_SIGNAL_GRACE; i++) {
		if (!rt_peer_needs_signal(pg, vi))
			return rt_notify(pg, false);
		rt_cpu_relax();
	}
	return rt_notify(pg, rt_peer_needs_signal(pg, vi));
}

/* The system calls a send made (none on the polling path). */
static void rt_fast_count(struct procdom_rt *rt, enum rt_notify_result r)
{
	if (r == RT_NOTIFY_WOKE)
		rt_stat_inc(&rt->stats.sent_wakes);
	else if (r == RT_NOTIFY_SIGNAL)
		rt_stat_inc(&rt->stats.sent_signals);
}

/* The calling vCPU's vcpu_info if its upcalls were unmasked, now masked
 * for the send (see the top); NULL: nothing to restore. A plain store: a
 * peer that misses it only sends a signal we ignore. */
static struct vcpu_info *rt_mask_self(struct procdom_rt *rt, struct procdom_vcpu *v)
{
	struct vcpu_info *me;

	if (!v || v->rt != rt || !rt->guest || v->id >= rt->guest->nr_vcpus)
		return NULL;
	me = rt->guest->vcpu[v->id].vcpu_info;
	if (__atomic_load_n(&me->evtchn_upcall_mask, __ATOMIC_RELAXED))
		return NULL;
	__atomic_store_n(&me->evtchn_upcall_mask, 1, __ATOMIC_RELEASE);
	return me;
}

/* seq_cst: pairs with a peer's exchange of our upcall_pending then read of
 * our mask (rt_unmasked) -- it saw the mask set and sent nothing, or we,
 * re-testing upcall_pending after this store (rt_deliver, next), see it. */
static void rt_unmask_self(struct vcpu_info *me)
{
	if (me)
		__atomic_store_n(&me->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
}

/* Every 0 -> 1 of a pending bit, masked port or not, wakes a SLEEPING
 * vCPU (rt_notify_peer's first step): a local SCHEDOP_poll (rt_poll.c)
 * sleeps on masked ports' bits too. */
enum rt_notify_result rt_2l_send_wake(struct shared_info *s, struct vcpu_info *vi,
				      struct procdom_vcpu_page *pg, evtchn_port_t port)
{
	bool edge;

	if (!rt_2l_send(s, vi, port, &edge))
		return RT_NOTIFY_NONE;
	return rt_notify_peer(pg, vi, edge);
}

static void rt_send_to(struct procdom_rt *rt, struct procdom_vcpu *self,
		       const struct procdom_peer *pr, const struct rt_send_target *t)
{
	struct shared_info *s = (struct shared_info *)pr->evt;
	struct vcpu_info *vi = &s->vcpu_info[t->vcpu], *me;
	struct procdom_vcpu_page *pg =
		(struct procdom_vcpu_page *)(pr->evt + PROCDOM_EVT_VCPU_OFFSET(t->vcpu));

	/* The state line is read after the send's fence; fetching it now
	 * overlaps its transfer with the send's (the fenced load still reads
	 * the current value: a prefetch is only a hint). */
	__builtin_prefetch(&pg->state, 0, 3);
	me = rt_mask_self(rt, self);
	rt_fast_count(rt, rt_2l_send_wake(s, vi, pg, t->port));
	rt_unmask_self(me);
}

int rt_fast_send(struct procdom_rt *rt, struct procdom_vcpu *self, evtchn_port_t port)
{
	struct rt_send_target t;
	const struct procdom_peer *pr;
	size_t len;

	if (!rt->send_table || port >= PROCDOM_SEND_TABLE_PORTS || !rt_send_lookup(rt, port, &t))
		return 0;
	pr = &rt->peers[t.slot];
	/* Pairs with the release store of len in peer_map (rt_memory.c):
	 * a non-zero len means evt points at this peer's pages. */
	len = __atomic_load_n(&pr->len, __ATOMIC_ACQUIRE);
	if (len < PROCDOM_EVT_VCPU_OFFSET(t.vcpu + 1))
		return 0;
	rt_send_to(rt, self, pr, &t);
	return 1;
}
