/*
 * smp: a guest with several vCPUs, end to end.
 *
 *   vcpus = N (2..32), extra = "smp.rounds=R"
 *
 * vCPU 0 brings up vCPUs 1..N-1 (VCPUOP_up; each a thread of the runtime),
 * binds IPI 0 on every vCPU, and for R rounds sends one IPI to each
 * secondary vCPU and waits for its handler -- which must run on that vCPU
 * and answers with IPI 1 back to vCPU 0. It then opens a loopback channel
 * (alloc_unbound to itself + bind_interdomain), moves the bound end's
 * notifications to the last vCPU (EVTCHNOP_bind_vcpu) and checks the
 * handler runs there. Prints one line and powers off; any check failing
 * prints "smp FAILED: ..." instead.
 */
#include <stdio.h>

#include "guest_args.h"

#include <xen/sched.h>

#define SMP_MAX_VCPUS 32
#define SMP_WAIT_NS (5ULL * 1000 * 1000 * 1000)

static unsigned long smp_hits[SMP_MAX_VCPUS];		  /* IPI 0 handled on vCPU v */
static unsigned long smp_answers;			  /* IPI 1 handled on vCPU 0 */
static unsigned long smp_wrong;				  /* a handler on the wrong vCPU */
static unsigned long smp_loop_hits, smp_loop_vcpu = ~0ul; /* the last hit's vCPU */
static int smp_done;

static unsigned int smp_cpu(void)
{
	return xg_current_vcpu(xen_guest_current());
}

/* Upcall context. dev_id: the vCPU the IPI was bound on. */
static irqreturn_t smp_ipi(int irq, void *dev_id)
{
	unsigned int want = (unsigned int)(uintptr_t)dev_id, cpu = smp_cpu();

	(void)irq;
	if (cpu != want)
		__atomic_add_fetch(&smp_wrong, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&smp_hits[cpu], 1, __ATOMIC_RELEASE);
	if (cpu != 0)
		xg_send_ipi_one(xen_guest_current(), 0, 1);
	return IRQ_HANDLED;
}

static irqreturn_t smp_answer(int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	if (smp_cpu() != 0)
		__atomic_add_fetch(&smp_wrong, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&smp_answers, 1, __ATOMIC_RELEASE);
	return IRQ_HANDLED;
}

/* VIRQ_TIMER on vCPU 0: only wakes smp_wait() to look at its deadline. */
static irqreturn_t smp_tick(int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	return IRQ_HANDLED;
}

static irqreturn_t smp_loop(int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	__atomic_store_n(&smp_loop_vcpu, smp_cpu(), __ATOMIC_RELAXED);
	__atomic_add_fetch(&smp_loop_hits, 1, __ATOMIC_RELEASE);
	return IRQ_HANDLED;
}

/* A secondary vCPU: take interrupts until vCPU 0 says done. */
static void smp_secondary(void *arg)
{
	(void)arg;
	xen_irq_disable();
	while (!__atomic_load_n(&smp_done, __ATOMIC_ACQUIRE)) {
		xen_block(); /* returns with events on */
		xen_irq_disable();
	}
	xen_irq_enable();
}

/* Sleep on vCPU 0 until *counter reaches want (bounded). */
static int smp_wait(unsigned long *counter, unsigned long want)
{
	uint64_t deadline = procdom_now_ns() + SMP_WAIT_NS;

	xen_irq_disable();
	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < want) {
		if (procdom_now_ns() > deadline) {
			xen_irq_enable();
			return -1;
		}
		xen_set_timer(procdom_now_ns() + 10 * 1000 * 1000);
		xen_block();
		xen_irq_disable();
	}
	xen_irq_enable();
	return 0;
}

static const char *smp_ipis(unsigned int n, unsigned long rounds)
{
	struct xen_guest *g = xen_guest_current();
	unsigned int v;

	for (v = 0; v < n; v++)
		if (xg_bind_ipi_to_irqhandler(g, 0, v, smp_ipi, 0, "smp", (void *)(uintptr_t)v) < 0)
			return "bind_ipi 0";
	if (xg_bind_ipi_to_irqhandler(g, 1, 0, smp_answer, 0, "smp-answer", NULL) < 0)
		return "bind_ipi 1";
	if (xg_bind_virq_to_irqhandler(g, VIRQ_TIMER, 0, smp_tick, 0, "smp-tick", NULL) < 0)
		return "bind VIRQ_TIMER";
	for (v = 1; v < n; v++)
		if (xen_vcpu_start(v, smp_secondary, NULL) < 0)
			return "xen_vcpu_start";
	xen_irq_enable();
	for (unsigned long r = 0; r < rounds; r++) {
		for (v = 1; v < n; v++) {
			unsigned long before = __atomic_load_n(&smp_answers, __ATOMIC_ACQUIRE);

			if (xg_send_ipi_one(g, v, 0) < 0)
				return "send_ipi";
			if (smp_wait(&smp_hits[v], r + 1) || smp_wait(&smp_answers, before + 1))
				return "an IPI was not answered in time";
		}
	}
	return NULL;
}

static const char *smp_loopback(unsigned int to_vcpu)
{
	struct xen_guest *g = xen_guest_current();
	domid_t self = procdom_domid();
	evtchn_port_t a, b;

	/* Binding marks the new port pending (as Xen does, for notifications
	 * lost while it was unbound), to vCPU 0: take that one off with events
	 * off here, after the move, so only our send counts. */
	xen_irq_disable();
	if (evtchn_alloc_unbound(self, &a) < 0 || evtchn_bind_interdomain(self, a, &b) < 0)
		return "loopback channel";
	if (bind_evtchn_to_irqhandler(b, smp_loop, 0, "smp-loop", NULL) < 0)
		return "bind loopback";
	if (xg_rebind_evtchn_to_cpu(g, b, to_vcpu) < 0)
		return "EVTCHNOP_bind_vcpu";
	clear_evtchn(b);
	smp_loop_hits = 0;
	xen_irq_enable();
	notify_remote_via_evtchn(a);
	if (smp_wait(&smp_loop_hits, 1))
		return "loopback event not delivered";
	if (__atomic_load_n(&smp_loop_vcpu, __ATOMIC_RELAXED) != to_vcpu)
		return "loopback event on the wrong vCPU";
	return NULL;
}

void start_kernel(start_info_t *si)
{
	unsigned int n = procdom_nr_vcpus(), v;
	unsigned long rounds = guest_arg(si, "smp.rounds", 100), ipis = 0;
	const char *err = n < 2 || n > SMP_MAX_VCPUS ? "needs 2..32 vCPUs" : NULL;

	if (!err)
		err = smp_ipis(n, rounds);
	if (!err)
		err = smp_loopback(n - 1);
	if (!err && __atomic_load_n(&smp_wrong, __ATOMIC_RELAXED))
		err = "a handler ran on the wrong vCPU";
	__atomic_store_n(&smp_done, 1, __ATOMIC_RELEASE);
	for (v = 1; v < n && v < SMP_MAX_VCPUS; v++) {
		ipis += smp_hits[v];
		xg_send_ipi_one(xen_guest_current(), v, 0); /* wake it to see done */
	}
	if (err)
		printf("smp FAILED: %s (vcpus %u; IPIs handled per vCPU: %lu %lu %lu %lu, "
		       "answers %lu)\n",
		       err, n, smp_hits[0], smp_hits[1], smp_hits[2], smp_hits[3], smp_answers);
	else
		printf("smp ok: vcpus %u, %lu IPIs answered, loopback event on vCPU %u\n", n, ipis,
		       n - 1);
	fflush(stdout);
	xen_shutdown(SHUTDOWN_poweroff);
}
