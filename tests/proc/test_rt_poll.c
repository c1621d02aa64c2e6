/*
 * The local SCHEDOP_poll (substrate/proc/runtime/rt_poll.c): Xen's results
 * where the runtime can vouch for them, the hypercall where it cannot, and
 * the wake-ups (the lost-wake-up stress is in test_rt_wait.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"
#include "vcpu_state_wait.h"

#include <xen/sched.h>

#define WIN_PAGES 8
#define SP_GPA (2 * RT_PAGE_SIZE)    /* struct sched_poll */
#define PORTS_GPA (3 * RT_PAGE_SIZE) /* its ports */

/* One domain with one vCPU, as much of it as rt_poll_local looks at. */
struct fixture {
	struct procdom_rt rt;
	struct procdom_vcpu_page_ext page;
	uint64_t gfn_ok[1];
	struct shared_info *s;
	struct vcpu_info *vi;
	struct sched_poll *sp;
	evtchn_port_t *ports;
};

static void fixture_init(struct fixture *f, unsigned int nr_vcpus)
{
	memset(f, 0, sizeof(*f));
	f->rt.base = aligned_alloc(RT_PAGE_SIZE, WIN_PAGES * RT_PAGE_SIZE);
	cr_assert_not_null(f->rt.base);
	memset(f->rt.base, 0, WIN_PAGES * RT_PAGE_SIZE);
	f->rt.window_len = WIN_PAGES * RT_PAGE_SIZE;
	f->gfn_ok[0] = (1ULL << WIN_PAGES) - 1;
	f->rt.gfn_ok = f->gfn_ok;
	f->rt.boot.nr_vcpus = nr_vcpus;
	f->rt.boot.max_gfn = WIN_PAGES;
	f->rt.guest = calloc(1, sizeof(*f->rt.guest));
	cr_assert_not_null(f->rt.guest);
	memset(f->rt.guest->evtchn_to_irq, 0xff, sizeof(f->rt.guest->evtchn_to_irq));
	f->s = (struct shared_info *)f->rt.base;
	f->vi = &f->s->vcpu_info[0];
	f->vi->evtchn_upcall_mask = 1; /* as vchan's wait has it */
	f->rt.guest->shared_info = f->s;
	f->rt.guest->vcpu[0].vcpu_info = f->vi;
	f->rt.guest->nr_vcpus = nr_vcpus;
	f->rt.guest->ready = true;
	f->rt.vcpu[0].rt = &f->rt;
	f->rt.vcpu[0].page = &f->page;
	f->sp = (struct sched_poll *)(f->rt.base + SP_GPA);
	f->ports = (evtchn_port_t *)(f->rt.base + PORTS_GPA);
	f->sp->ports.p = (evtchn_port_t *)(uintptr_t)PORTS_GPA;
}

static void fixture_fini(struct fixture *f)
{
	free(f->rt.guest);
	free(f->rt.base);
}

static void bind(struct fixture *f, evtchn_port_t port)
{
	f->rt.guest->evtchn_to_irq[port] = 1;
}

/* One vCPU, port bound and the one polled. */
static void fixture_port(struct fixture *f, evtchn_port_t port)
{
	fixture_init(f, 1);
	bind(f, port);
	f->ports[0] = port;
}

static void set_bit_in(xen_ulong_t *words, evtchn_port_t port)
{
	words[port / XG_EVTCHN_BITS] |= (xen_ulong_t)1 << (port % XG_EVTCHN_BITS);
}

/* rt_poll_local with args pointing at the fixture's sched_poll. */
static int poll(struct fixture *f, unsigned int nr, uint64_t timeout, long *ret)
{
	const uint64_t args[5] = { SCHEDOP_poll, SP_GPA, 0, 0, 0 };

	f->sp->nr_ports = nr;
	f->sp->timeout = timeout;
	*ret = 12345;
	return rt_poll_local(&f->rt.vcpu[0], args, ret);
}

Test(poll, too_many_ports_is_einval)
{
	struct fixture f;
	long ret;

	fixture_init(&f, 1);
	cr_expect_eq(poll(&f, RT_POLL_MAX + 1, 0, &ret), 1);
	cr_expect_eq(ret, -EINVAL);
	fixture_fini(&f);
}

Test(poll, ports_the_runtime_cannot_vouch_for_go_to_xenon_hvd)
{
	struct fixture f;
	const uint64_t args[5] = { SCHEDOP_poll, WIN_PAGES * RT_PAGE_SIZE, 0, 0, 0 };
	long ret;

	fixture_init(&f, 1);
	f.ports[0] = 300; /* never bound here: maybe beyond max_ports */
	set_bit_in(f.s->evtchn_pending, 300);
	cr_expect_eq(poll(&f, 1, 0, &ret), 0);
	f.ports[0] = XG_NR_EVTCHNS; /* beyond the 2-level bitmap */
	cr_expect_eq(poll(&f, 1, 0, &ret), 0);
	/* The arguments are not guest memory: the core says -EFAULT. */
	cr_expect_eq(rt_poll_local(&f.rt.vcpu[0], args, &ret), 0);
	f.sp->ports.p = (evtchn_port_t *)(uintptr_t)(WIN_PAGES * RT_PAGE_SIZE);
	cr_expect_eq(poll(&f, 1, 0, &ret), 0);
	cr_expect_eq(f.rt.stats.local_polls, 0);
	fixture_fini(&f);
}

Test(poll, a_bound_port_vouches_for_every_port_below_it)
{
	struct fixture f;
	long ret;

	fixture_init(&f, 1);
	bind(&f, 300);
	f.ports[0] = 0;
	f.ports[1] = 300;
	set_bit_in(f.s->evtchn_pending, 300);
	cr_expect_eq(poll(&f, 2, 0, &ret), 1);
	cr_expect_eq(ret, 0);
	/* 299 was never bound, but a port above it exists. */
	f.ports[0] = 299;
	set_bit_in(f.s->evtchn_pending, 299);
	cr_expect_eq(poll(&f, 1, 0, &ret), 1);
	cr_expect_eq(ret, 0);
	/* In order, as the core: an unknown port before a pending one. */
	f.ports[0] = 301;
	f.ports[1] = 299;
	cr_expect_eq(poll(&f, 2, 0, &ret), 0);
	cr_expect_eq(f.rt.stats.local_polls, 2);
	fixture_fini(&f);
}

Test(poll, pending_masked_port_returns_at_once)
{
	struct fixture f;
	long ret;

	fixture_port(&f, 7);
	set_bit_in(f.s->evtchn_mask, 7);
	set_bit_in(f.s->evtchn_pending, 7);
	/* At once: answered locally, no sleep, and no spin handed on (not a
	 * time bound: a descheduled test thread must not fail it). */
	cr_expect_eq(poll(&f, 1, 0, &ret), 1);
	cr_expect_eq(ret, 0);
	cr_expect_eq(f.rt.stats.sleeps, 0);
	cr_expect_eq(f.rt.stats.local_polls, 1);
	cr_expect_not(f.rt.vcpu[0].poll_spun);
	cr_expect_eq(f.page.base.state, PROCDOM_VCPU_RUNNING);
	fixture_fini(&f);
}

Test(poll, deliverable_upcall_ends_the_poll)
{
	struct fixture f;
	long ret;

	fixture_port(&f, 7);
	f.vi->evtchn_upcall_pending = 1;
	f.vi->evtchn_upcall_mask = 0;
	cr_expect_eq(poll(&f, 1, 0, &ret), 1);
	cr_expect_eq(ret, 0);
	fixture_fini(&f);
}

Test(poll, timeout_sleeps_locally_and_returns_zero)
{
	struct fixture f;
	uint64_t t0, deadline;
	long ret;

	fixture_port(&f, 7);
	/* Far enough past the spin that a thread descheduled for a while still
	 * reaches the sleep (a shared CI machine under ASan). */
	t0 = rt_now_ns();
	deadline = t0 + RT_SPIN_NS + 50 * 1000 * 1000;
	cr_expect_eq(poll(&f, 1, deadline, &ret), 1);
	cr_expect_eq(ret, 0);
	cr_expect_geq(rt_now_ns(), deadline);
	cr_expect_geq(f.rt.stats.sleeps, 1);
	cr_expect_eq(f.rt.stats.local_polls, 1);
	cr_expect_eq(f.page.base.state, PROCDOM_VCPU_RUNNING);
	/* No ports: a sleep until the deadline. */
	deadline = rt_now_ns() + 2 * RT_SPIN_NS;
	cr_expect_eq(poll(&f, 0, deadline, &ret), 1);
	cr_expect_geq(rt_now_ns(), deadline);
	fixture_fini(&f);
}

/* A sleep the core might not end goes to xenon-hvd, after the spin. */
Test(poll, sleeps_a_core_send_might_miss_are_handed_over)
{
	struct fixture f;
	long ret;

	fixture_port(&f, 7);
	set_bit_in(f.s->evtchn_mask, 7); /* masked: no upcall edge, no kick */
	cr_expect_eq(poll(&f, 1, 0, &ret), 0);
	cr_expect(f.rt.vcpu[0].poll_spun);
	f.rt.vcpu[0].poll_spun = false;
	memset(f.s->evtchn_mask, 0, sizeof(f.s->evtchn_mask));
	f.vi->evtchn_upcall_pending = 1; /* masked upcall: no new edge */
	cr_expect_eq(poll(&f, 1, 0, &ret), 0);
	f.vi->evtchn_upcall_pending = 0;
	f.vi->evtchn_pending_sel = 1; /* a nested upcall's leftover */
	cr_expect_eq(poll(&f, 1, 0, &ret), 0);
	f.vi->evtchn_pending_sel = 0;
	fixture_fini(&f);
	fixture_init(&f, 2); /* another vCPU could mask the port meanwhile */
	bind(&f, 7);
	f.ports[0] = 7;
	cr_expect_eq(poll(&f, 1, 0, &ret), 0);
	cr_expect_eq(f.rt.stats.poll_fallbacks, 1);
	cr_expect_eq(f.rt.stats.sleeps, 0);
	fixture_fini(&f);
}

struct sender {
	struct fixture *f;
	evtchn_port_t port;
	bool core_edge; /* send as the core would: only the upcall edge kicks */
	bool saw_sleep; /* it slept before the send (else sent after 5 s) */
};

static void *send_when_asleep(void *arg)
{
	struct sender *sd = arg;
	struct procdom_vcpu_page *pg = &sd->f->page.base;
	bool edge;

	/* Sent in any case, so the poll returns and the test fails, not hangs. */
	sd->saw_sleep = vcpu_state_wait(pg, PROCDOM_VCPU_SLEEPING, 5000000000ULL);
	usleep(1000); /* well inside its futex wait, most of the time */
	if (!sd->core_edge) {
		rt_2l_send_wake(sd->f->s, sd->f->vi, pg, sd->port);
	} else if (rt_2l_send(sd->f->s, sd->f->vi, sd->port, &edge) && edge) {
		rt_notify(pg, false);
	}
	return NULL;
}

static void woken_by(bool core_edge)
{
	struct fixture f;
	struct sender sd = { &f, 9, core_edge, false };
	pthread_t th;
	long ret;

	fixture_init(&f, 1);
	bind(&f, 9);
	f.ports[0] = 9; /* vouches for 5, next */
	f.ports[1] = 5;
	cr_assert_eq(pthread_create(&th, NULL, send_when_asleep, &sd), 0);
	cr_expect_eq(poll(&f, 2, rt_now_ns() + 5000000000ULL, &ret), 1);
	pthread_join(th, NULL);
	cr_expect(sd.saw_sleep, "the poll never slept");
	cr_expect_eq(ret, 0);
	cr_expect_eq(f.rt.stats.sleeps, 1);
	cr_expect_eq(f.page.base.wakes, 1);
	fixture_fini(&f);
}

Test(poll, a_fast_send_wakes_the_local_sleep, .timeout = 30)
{
	woken_by(false);
}

Test(poll, the_cores_upcall_edge_wakes_the_local_sleep, .timeout = 30)
{
	woken_by(true);
}
