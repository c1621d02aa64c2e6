/*
 * Upcall delivery: running the guest's xen_evtchn_do_upcall() on a vCPU
 * thread when its evtchn_upcall_pending is set and evtchn_upcall_mask
 * clear, with the mask set for the duration and cleared after it (what
 * Xen's event callback entry and iret do; xen_guest.h asks it of the
 * platform).
 *
 * Three places deliver: the way back from every hypercall (rt_hypercall),
 * after every wake (the same path), and the upcall signal, which xenon-hvd
 * or a peer's fast send raise when the vCPU is RUNNING guest code (the
 * interrupt). The signal handler does nothing while the thread is inside
 * the runtime (in_runtime > 0): it is then on its way to deliver anyway,
 * and must not interleave a second hypercall on the vCPU's socket.
 *
 * An upcall that interrupts guest code may find the library halfway
 * through marshalling a hypercall into the vCPU's bounce buffer (argument
 * copied, bounce_top not yet raised). So for the duration of a
 * signal-driven upcall the vCPU's bounce buffer is swapped for a second
 * one (irq_bounce) and swapped back after, like a separate interrupt stack.
 */
#include "rt_internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static __thread struct procdom_vcpu *rt_self_vcpu;

struct procdom_vcpu *rt_self(void)
{
	return rt_self_vcpu;
}

void rt_set_self(struct procdom_vcpu *v)
{
	rt_self_vcpu = v;
}

int rt_upcall_signal(void)
{
	return SIGRTMIN + PROCDOM_UPCALL_SIGNAL_OFFSET;
}

static bool rt_upcall_due(struct vcpu_info *vi)
{
	return __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST) &&
	       !__atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_SEQ_CST);
}

void rt_deliver(struct procdom_vcpu *v)
{
	struct xen_guest *g = v->rt->guest;
	struct vcpu_info *vi;
	bool held;

	if (!g || !g->ready || v->id >= g->nr_vcpus)
		return;
	vi = g->vcpu[v->id].vcpu_info;
	/* The seq_cst mask store pairs with the library's xg_irq_enable()
	 * (clear mask, then test pending) and with the notifier's exchange of
	 * upcall_pending: pending raised while masked is seen on the re-test. */
	/* One instruction: of this thread and an upcall signal landing on it
	 * here, exactly one takes a held upcall (the other finds the mask
	 * still set, nothing due). */
	held = __atomic_exchange_n(&v->upcall_held, false, __ATOMIC_RELAXED);
	while (held || rt_upcall_due(vi)) {
		if (!held)
			__atomic_store_n(&vi->evtchn_upcall_mask, 1, __ATOMIC_SEQ_CST);
		held = false;
		rt_stat_inc(&v->rt->stats.upcalls);
		xg_evtchn_do_upcall(g);
		__atomic_store_n(&vi->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
	}
}

static void rt_upcall_handler(int sig, siginfo_t *info, void *uctx)
{
	struct procdom_vcpu *v = rt_self_vcpu;
	struct xen_vcpu_state *vs;
	uint8_t *bounce;
	size_t top, len;
	int saved_errno = errno;

	(void)sig;
	(void)info;
	(void)uctx;
	if (!v || v->in_runtime || !v->rt->guest || !v->irq_bounce)
		return;
	vs = &v->rt->guest->vcpu[v->id];
	bounce = vs->bounce;
	len = vs->bounce_len;
	top = vs->bounce_top;
	vs->bounce = v->irq_bounce;
	vs->bounce_len = RT_BOUNCE_PAGES * RT_PAGE_SIZE;
	vs->bounce_top = 0;
	rt_stat_inc(&v->rt->stats.signal_upcalls);
	rt_deliver(v);
	vs->bounce = bounce;
	vs->bounce_len = len;
	vs->bounce_top = top;
	errno = saved_errno;
}

int rt_upcall_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = rt_upcall_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(rt_upcall_signal(), &sa, NULL) < 0 ? -errno : 0;
}
