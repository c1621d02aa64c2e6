/*
 * SCHEDOP_poll carried out by the runtime, without a system call when it
 * can be done exactly (docs/process-domains.md "Wake-ups"; Xen's
 * xen/include/public/sched.h and do_poll):
 *
 *   - nr_ports > 128: -EINVAL (as the core: hc_sched_poll);
 *   - each port in order must exist (< the domain's max_ports, which only
 *     xenon-hvd knows): a port the runtime cannot vouch for sends the whole
 *     call to xenon-hvd, so -EINVAL stays exactly the core's;
 *   - it returns 0 when one of the ports is pending, masked or not, or an
 *     upcall can be delivered (pending and unmasked: Xen's do_poll checks
 *     local_events_need_delivery() and its vcpu_kick ends a poll), or at
 *     the timeout (absolute system time, 0 = none); at once if so already.
 *
 * A port is vouched for when the guest library bound it to an irq (the core
 * handed it out, so it is below max_ports) or an earlier poll that went to
 * xenon-hvd reached the wait (the core checked every port). max_ports never
 * changes, so knowing port p exists means every port below p exists:
 * rt->poll_valid_below only grows. Port 0 always exists. (Both sources are
 * the guest's own memory: a guest that scribbles on its port table, or
 * rewrites its sched_poll while xenon-hvd reads it, misleads only itself
 * -- a poll that waits where the core would have said -EINVAL.)
 *
 * The wait, the floors.md protocol as SCHEDOP_block's (rt_wait.c):
 *
 *   POLLING, spin ~20 us on the ports' pending bits (and the upcall)
 *   nothing: can a sleep here be woken by every sender?
 *     yes -> SLEEPING, full fence, re-check, FUTEX_WAIT until the timeout
 *     no  -> the real hypercall: xenon-hvd records the poll, wakes us
 *
 * Who wakes a sleeping poller. A peer's fast send (rt_fast.c) wakes a
 * SLEEPING vCPU on every 0 -> 1 of a pending bit, masked port or not. The
 * core (xenon-hvd's kick, for sends from dom0, VIRQs, IPIs, peers without
 * a send-table entry) kicks only on the upcall edge -- port unmasked,
 * selector bit 0 -> 1, upcall_pending 0 -> 1 -- or for a poll it recorded
 * (evtchn_wake_pollers). So the runtime sleeps by itself only when that
 * edge is certain for every polled port:
 *   - the domain has one vCPU: every port notifies this vCPU, and nothing
 *     else can mask a port or run an upcall while it waits here;
 *   - every polled port is unmasked (checked before the sleep);
 *   - upcall_pending and the selector are clear: the sleep's re-check
 *     (rt_poll_stirred) ends the sleep on either, and a poll whose ports
 *     are still not pending then goes to xenon-hvd. (A selector bit left
 *     set with upcall_pending clear exists only inside an upcall, a nested
 *     one returning early: see guest/events.c.)
 * With those, a core send to a polled port is the edge, the core kicks,
 * and the kick (procdom_kick.c) wakes a SLEEPING vCPU. Otherwise the spin
 * was free and the sleep costs the hypercall it always cost.
 */
#include "rt_internal.h"

#include <errno.h>

#include <xen/sched.h>

static bool rt_poll_pending(const struct rt_poll *p)
{
	unsigned int i;

	for (i = 0; i < p->nr; i++) {
		evtchn_port_t port = p->ports[i];

		/* seq_cst: pairs with the sender's pending test-and-set before
		 * its fence (W) and state read (rt_notify, the kick). */
		if (__atomic_load_n(&p->s->evtchn_pending[port / XG_EVTCHN_BITS],
				    __ATOMIC_SEQ_CST) &
		    rt_bit(port))
			return true;
	}
	return false;
}

bool rt_poll_ready(void *arg)
{
	const struct rt_poll *p = arg;

	if (rt_poll_pending(p))
		return true;
	return __atomic_load_n(&p->vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST) &&
	       !__atomic_load_n(&p->vi->evtchn_upcall_mask, __ATOMIC_SEQ_CST);
}

/* The local sleep's re-check: ready, or the vCPU's upcall state moved so
 * that a core send might no longer kick (see the top). */
static bool rt_poll_stirred(void *arg)
{
	const struct rt_poll *p = arg;

	return rt_poll_pending(p) ||
	       __atomic_load_n(&p->vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST) ||
	       __atomic_load_n(&p->vi->evtchn_pending_sel, __ATOMIC_SEQ_CST);
}

static bool rt_poll_unmasked(const struct rt_poll *p)
{
	unsigned int i;

	for (i = 0; i < p->nr; i++) {
		evtchn_port_t port = p->ports[i];

		if (__atomic_load_n(&p->s->evtchn_mask[port / XG_EVTCHN_BITS], __ATOMIC_SEQ_CST) &
		    rt_bit(port))
			return false;
	}
	return true;
}

enum rt_poll_end rt_poll_wait(struct procdom_vcpu_page *pg, struct rt_poll *p, uint64_t deadline_ns,
			      uint64_t spin_ns, bool may_sleep, bool *ret_slept)
{
	int rc;

	*ret_slept = false;
	if (rt_wait_spin(pg, rt_poll_ready, p, spin_ns, deadline_ns, true,
			 __atomic_load_n(&p->vi->evtchn_upcall_mask, __ATOMIC_RELAXED)))
		return RT_POLL_DONE;
	/* Still POLLING (or RUNNING, quiet): nobody needs to wake us while
	 * we decide. */
	if (deadline_ns && rt_now_ns() >= deadline_ns) {
		rt_wait_running(pg);
		return RT_POLL_DONE;
	}
	if (!may_sleep || !rt_poll_unmasked(p)) {
		rt_wait_running(pg);
		return RT_POLL_HYPERVISOR;
	}
	rc = rt_wait(pg, rt_poll_stirred, p, deadline_ns, 0, ret_slept);
	if (rc == -ETIMEDOUT || rt_poll_ready(p))
		return RT_POLL_DONE;
	return RT_POLL_HYPERVISOR;
}

/* ---- the hypercall's arguments ----------------------------------------- */

/* Knowing port exists implies every port below it does (see the top). */
static void rt_poll_learn(struct procdom_rt *rt, evtchn_port_t port)
{
	uint32_t old = __atomic_load_n(&rt->poll_valid_below, __ATOMIC_RELAXED);

	while (old <= port &&
	       !__atomic_compare_exchange_n(&rt->poll_valid_below, &old, port + 1, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static bool rt_poll_port_known(struct procdom_rt *rt, evtchn_port_t port)
{
	if (port == 0 || port < __atomic_load_n(&rt->poll_valid_below, __ATOMIC_RELAXED))
		return true;
	/* The guest library's own table: a bound port came from the core. */
	if (port >= XG_NR_EVTCHNS ||
	    __atomic_load_n(&rt->guest->evtchn_to_irq[port], __ATOMIC_RELAXED) < 0)
		return false;
	rt_poll_learn(rt, port);
	return true;
}

void rt_poll_learn_all(struct procdom_rt *rt, const struct rt_poll *p)
{
	unsigned int i;

	for (i = 0; i < p->nr; i++)
		rt_poll_learn(rt, p->ports[i]);
}

/*
 * Read struct sched_poll and its ports once, into p (the guest may change
 * them meanwhile; the core copies them too). 1: read; 0: not readable
 * here, let the core say -EFAULT; -EINVAL: too many ports.
 */
int rt_poll_read(struct procdom_rt *rt, uint64_t gpa, struct rt_poll *p, uint64_t *ret_timeout)
{
	const struct sched_poll *sp = rt_gpa_range(rt, gpa, sizeof(*sp));
	const evtchn_port_t *ports;
	unsigned int nr;

	if (!sp)
		return 0;
	nr = __atomic_load_n(&sp->nr_ports, __ATOMIC_RELAXED);
	*ret_timeout = __atomic_load_n(&sp->timeout, __ATOMIC_RELAXED);
	if (nr > RT_POLL_MAX)
		return -EINVAL;
	p->nr = nr;
	if (nr == 0)
		return 1;
	ports = rt_gpa_range(rt, (uint64_t)(uintptr_t)sp->ports.p, nr * sizeof(*ports));
	if (!ports)
		return 0;
	__builtin_memcpy(p->ports, ports, nr * sizeof(*ports));
	return 1;
}

/* 1: every port exists; 0: one needs xenon-hvd's word. */
static int rt_poll_validate(struct procdom_rt *rt, const struct rt_poll *p)
{
	unsigned int i;

	for (i = 0; i < p->nr; i++) {
		if (!rt_poll_port_known(rt, p->ports[i]))
			return 0;
	}
	return 1;
}

int rt_poll_local(struct procdom_vcpu *v, const uint64_t args[5], long *ret)
{
	struct procdom_rt *rt = v->rt;
	struct rt_poll p = { .s = rt->guest->shared_info, .vi = rt->guest->vcpu[v->id].vcpu_info };
	uint64_t timeout = 0;
	bool slept;
	int rc = rt_poll_read(rt, args[1], &p, &timeout);

	if (rc < 0) {
		*ret = rc;
		return 1;
	}
	if (rc == 0 || !rt_poll_validate(rt, &p))
		return 0;
	if (rt_poll_wait(&v->page->base, &p, timeout, RT_SPIN_NS, rt->boot.nr_vcpus == 1, &slept) ==
	    RT_POLL_HYPERVISOR) {
		/* The spin is done: xenon-hvd's wait starts asleep. */
		v->poll_spun = true;
		rt_stat_inc(&rt->stats.poll_fallbacks);
		return 0;
	}
	if (slept)
		rt_stat_inc(&rt->stats.sleeps);
	rt_stat_inc(&rt->stats.local_polls);
	*ret = 0;
	return 1;
}
