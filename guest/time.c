/*
 * Time: the per-vCPU timer (VIRQ_TIMER) and Xen system time.
 *
 * Each vCPU binds VIRQ_TIMER to a handler that calls the vCPU's timer
 * callback; xg_set_timer() arms the vCPU's one-shot timer at an absolute
 * system time with VCPUOP_set_singleshot_timer (without
 * VCPU_SSHOTTMR_future, so a deadline already past fires at once, as
 * Linux's clockevent expects).
 *
 * System time comes from the platform's now_ns() when it has one: a
 * process domain reads the very clock xenon-hvd's core uses
 * (CLOCK_MONOTONIC through the substrate), exactly, at the cost of a vDSO
 * call. Otherwise from vcpu_info.time, read with the version protocol
 * (odd version = update in progress; a changed version = retry). The
 * xenon core publishes system_time when it refreshes the wallclock
 * (hv_update_wallclock) and leaves the TSC scale at zero, so the published
 * value is the time: there is no TSC delta to add. A substrate that fills
 * tsc_to_system_mul would need the rdtsc extrapolation added here (x86
 * only; left for the KVM guest).
 */
#include "xg_internal.h"

#include <xen/vcpu.h>

#define XG_NSEC_PER_SEC 1000000000ULL

static irqreturn_t xg_timer_interrupt(int irq, void *dev_id)
{
	struct xen_vcpu_state *vs = dev_id;

	if (vs->timer_fn)
		vs->timer_fn(vs->timer_arg);
	return IRQ_HANDLED;
}

int xg_timer_setup(struct xen_guest *g, unsigned int cpu, void (*fn)(void *arg), void *arg)
{
	struct xen_vcpu_state *vs;
	int irq;

	if (cpu >= g->nr_vcpus || !fn)
		return -EINVAL;
	vs = &g->vcpu[cpu];
	if (vs->timer_irq >= 0)
		return -EBUSY;
	vs->timer_fn = fn;
	vs->timer_arg = arg;
	irq = xg_bind_virq_to_irqhandler(g, VIRQ_TIMER, cpu, xg_timer_interrupt, 0, "timer", vs);
	if (irq < 0) {
		vs->timer_fn = NULL;
		vs->timer_arg = NULL;
		return irq;
	}
	vs->timer_irq = irq;
	return 0;
}

void xg_timer_teardown(struct xen_guest *g, unsigned int cpu)
{
	struct xen_vcpu_state *vs;

	if (cpu >= g->nr_vcpus || g->vcpu[cpu].timer_irq < 0)
		return;
	vs = &g->vcpu[cpu];
	xg_unbind_from_irqhandler(g, vs->timer_irq, vs);
	vs->timer_irq = -1;
	vs->timer_fn = NULL;
	vs->timer_arg = NULL;
}

int xg_set_timer(struct xen_guest *g, uint64_t deadline_ns)
{
	struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = deadline_ns, .flags = 0 };

	return (int)xg_vcpu_op(g, VCPUOP_set_singleshot_timer, xg_current_vcpu(g), &t);
}

int xg_stop_timer(struct xen_guest *g)
{
	return (int)xg_vcpu_op(g, VCPUOP_stop_singleshot_timer, xg_current_vcpu(g), NULL);
}

/* The acquire loads and fences pair with the release fences around the
 * field updates in the core's info_update_vcpu_time(). */
uint64_t xg_system_time_ns(struct xen_guest *g)
{
	struct vcpu_info *vi;
	struct vcpu_time_info *t;
	uint32_t version;
	uint64_t now;

	if (g->platform.now_ns)
		return g->platform.now_ns(g->platform.ctx);
	vi = xg_vcpu_info(g, xg_current_vcpu(g));
	if (!vi)
		return 0;
	t = &vi->time;
	do {
		version = __atomic_load_n(&t->version, __ATOMIC_ACQUIRE);
		now = __atomic_load_n(&t->system_time, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((version & 1) || version != __atomic_load_n(&t->version, __ATOMIC_RELAXED));
	return now;
}

/* Same protocol on shared_info's wc_version (info_update_wallclock). */
void xg_wallclock(struct xen_guest *g, uint64_t *ret_sec, uint32_t *ret_nsec)
{
	struct shared_info *s = g->shared_info;
	uint64_t sec, ns;
	uint32_t version, nsec;

	do {
		version = __atomic_load_n(&s->wc_version, __ATOMIC_ACQUIRE);
		sec = __atomic_load_n(&s->wc_sec, __ATOMIC_RELAXED) |
		      (uint64_t)__atomic_load_n(&s->wc_sec_hi, __ATOMIC_RELAXED) << 32;
		nsec = __atomic_load_n(&s->wc_nsec, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((version & 1) || version != __atomic_load_n(&s->wc_version, __ATOMIC_RELAXED));
	ns = nsec + xg_system_time_ns(g);
	*ret_sec = sec + ns / XG_NSEC_PER_SEC;
	*ret_nsec = (uint32_t)(ns % XG_NSEC_PER_SEC);
}
