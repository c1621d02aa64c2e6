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
 */
#include "rt_internal.h"

static inline xen_ulong_t rt_bit(unsigned int nr)
{
	return (xen_ulong_t)1 << (nr % XG_EVTCHN_BITS);
}

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

int rt_fast_send(struct procdom_rt *rt, evtchn_port_t port)
{
	struct rt_send_target t;
	const struct procdom_peer *pr;
	struct shared_info *s;
	bool edge;
	size_t len;

	if (!rt->send_table || port >= PROCDOM_SEND_TABLE_PORTS || !rt_send_lookup(rt, port, &t))
		return 0;
	pr = &rt->peers[t.slot];
	/* Pairs with the release store of len in peer_map (rt_memory.c):
	 * a non-zero len means evt points at this peer's pages. */
	len = __atomic_load_n(&pr->len, __ATOMIC_ACQUIRE);
	if (len < PROCDOM_EVT_VCPU_OFFSET(t.vcpu + 1))
		return 0;
	s = (struct shared_info *)pr->evt;
	if (rt_2l_send(s, &s->vcpu_info[t.vcpu], t.port, &edge))
		rt_notify((struct procdom_vcpu_page *)(pr->evt + PROCDOM_EVT_VCPU_OFFSET(t.vcpu)),
			  edge);
	return 1;
}
