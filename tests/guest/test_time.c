/*
 * Guest time and scheduling against the real core (guestsim): VIRQ_TIMER
 * firing off the harness clock, block/poll/yield/shutdown, system time and
 * wallclock, the timer handled before other ports.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guest_test_util.h"

#include <xen/sched.h>

#define MS 1000000ULL

static struct guestsim *gs;
static struct gs_domain *d1;
static unsigned int ticks;
static int order[8], nr_order;

static void tick(void *arg)
{
	ticks++;
	if (nr_order < 8)
		order[nr_order++] = -1; /* the timer */
}

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
	ticks = 0;
	nr_order = 0;
	gs = gs_create(NULL);
	cr_assert_not_null(gs);
	d1 = gs_boot(gs, 1, false, 1, 64);
	cr_assert_not_null(d1);
	gs_enter(d1, 0);
	cr_assert_eq(xg_timer_setup(d1->guest, 0, tick, NULL), 0);
}

static void teardown(void)
{
	gs_destroy(gs);
	gs = NULL;
}

TestSuite(guest_time, .init = setup, .fini = teardown);

Test(guest_time, one_shot_fires_once_at_deadline)
{
	uint64_t t0 = gs->now_ns;

	cr_assert_eq(xen_set_timer(t0 + 1 * MS), 0);
	gs_clock_advance(gs, MS / 2);
	cr_assert_eq(ticks, 0, "not yet");
	gs_clock_advance(gs, MS / 2 + 1);
	cr_assert_eq(ticks, 1);
	gs_clock_advance(gs, 10 * MS);
	cr_assert_eq(ticks, 1, "one-shot");
	cr_assert_eq(xg_timer_setup(d1->guest, 0, tick, NULL), -EBUSY);
}

Test(guest_time, stopped_timer_does_not_fire)
{
	cr_assert_eq(xen_set_timer(gs->now_ns + MS), 0);
	cr_assert_eq(xen_stop_timer(), 0);
	gs_clock_advance(gs, 5 * MS);
	cr_assert_eq(ticks, 0);
}

Test(guest_time, torn_down_timer_port_closed)
{
	int irq = xg_irq_from_virq(d1->guest, 0, VIRQ_TIMER);

	cr_assert_geq(irq, 0);
	xg_timer_teardown(d1->guest, 0);
	cr_assert_eq(xg_irq_from_virq(d1->guest, 0, VIRQ_TIMER), -1);
	cr_assert_eq(xen_set_timer(gs->now_ns + MS), 0);
	gs_clock_advance(gs, 2 * MS);
	cr_assert_eq(ticks, 0);
	cr_assert_eq(xg_timer_setup(d1->guest, 0, tick, NULL), 0, "VIRQ can be bound again");
}

Test(guest_time, block_sleeps_until_the_timer)
{
	uint64_t deadline = gs->now_ns + 5 * MS;

	cr_assert_eq(xen_set_timer(deadline), 0);
	cr_assert_eq(xen_block(), 0);
	cr_assert_eq(ticks, 1, "the tick ran before block returned");
	cr_assert_geq(gs->now_ns, deadline);
	cr_assert_eq(gs->stalls, 0);
	cr_assert_eq(xen_system_time_ns(), gs->now_ns);
}

Test(guest_time, block_with_nothing_to_wait_for_is_a_stall)
{
	cr_assert_eq(xen_block(), 0);
	cr_assert_eq(gs->stalls, 1);
}

Test(guest_time, system_time_and_wallclock_follow_the_clock)
{
	uint64_t sec;
	uint32_t nsec;

	gs_clock_set(gs, 7 * 1000000000ULL + 123);
	cr_assert_eq(xen_system_time_ns(), 7 * 1000000000ULL + 123);
	xg_wallclock(d1->guest, &sec, &nsec);
	cr_assert_eq(sec, gs->wc_sec, "base + system time = UTC now");
	cr_assert_eq(nsec, gs->wc_nsec);
}

/* The other side, run while d1 waits: d2 sends on its 3rd turn. */
struct sender {
	struct gs_domain *d;
	evtchn_port_t port;
	unsigned int turns;
};

static int sender_pump(void *arg)
{
	struct sender *s = arg;
	struct xen_guest *prev = xen_guest_current();
	unsigned int prev_vcpu = prev ? xg_current_vcpu(prev) : 0;

	if (++s->turns != 3)
		return s->turns < 3; /* busy for two turns */
	gs_enter(s->d, 0);
	cr_assert_eq(notify_remote_via_evtchn(s->port), 0);
	xen_guest_enter(prev, prev_vcpu);
	return 1;
}

Test(guest_time, poll_wakes_on_port_or_timeout)
{
	struct gs_domain *d2 = gs_boot(gs, 2, false, 1, 64);
	struct sender s = { .d = d2 };
	uint64_t timeout;
	evtchn_port_t p;

	make_channel(d1, d2, &p, &s.port);
	gs_enter(d1, 0);
	xen_irq_disable(); /* poll a masked port, as xen_poll_irq does */
	mask_evtchn(p);
	cr_assert_eq(gs_add_pump(gs, sender_pump, &s), 0);
	timeout = gs->now_ns + 10 * MS;
	cr_assert_eq(xen_poll(&p, 1, timeout), 0);
	cr_assert_eq(s.turns, 3, "woken by the send");
	cr_assert_lt(gs->now_ns, timeout);
	cr_assert(xg_test_evtchn(d1->guest, p));

	/* Nobody sends now: the poll ends at its timeout. */
	gs_remove_pump(gs, sender_pump, &s);
	clear_evtchn(p);
	cr_assert_eq(xen_poll(&p, 1, timeout), 0);
	cr_assert_eq(gs->now_ns, timeout);
	cr_assert_eq(gs->stalls, 0);
	cr_assert_eq(xen_poll(&p, 129, 0), -EINVAL);
}

static unsigned int yields_seen;

static int count_pump(void *arg)
{
	yields_seen++;
	return 0;
}

Test(guest_time, yield_lets_the_other_side_run)
{
	yields_seen = 0;
	cr_assert_eq(gs_add_pump(gs, count_pump, NULL), 0);
	cr_assert_eq(xen_yield(), 0);
	cr_assert_eq(yields_seen, 1);
}

Test(guest_time, shutdown_reaches_the_core)
{
	struct hv_domain_info info;

	cr_assert_eq(xen_shutdown(SHUTDOWN_poweroff), 0);
	cr_assert_eq(domain_getinfo(gs->hv, 1, &info), 0);
	cr_assert(info.shutdown);
	cr_assert_eq(info.shutdown_reason, SHUTDOWN_poweroff);
	cr_assert(d1->shutdown);
}

static irqreturn_t device_handler(int irq, void *dev_id)
{
	if (nr_order < 8)
		order[nr_order++] = evtchn_from_irq(irq);
	return IRQ_HANDLED;
}

/* The timer port is bound after the device port, so it has the higher
 * number; it still runs first. */
Test(guest_time, timer_handled_before_other_ports)
{
	struct gs_domain *d2 = gs_boot(gs, 2, false, 1, 64);
	evtchn_port_t p, q;
	int timer_port;

	xg_timer_teardown(d1->guest, 0);
	make_channel(d1, d2, &p, &q);
	gs_enter(d1, 0);
	cr_assert_geq(bind_evtchn_to_irqhandler(p, device_handler, 0, "dev", NULL), 0);
	cr_assert_eq(xg_timer_setup(d1->guest, 0, tick, NULL), 0);
	timer_port = xg_evtchn_from_irq(d1->guest, xg_irq_from_virq(d1->guest, 0, VIRQ_TIMER));
	cr_assert_gt(timer_port, (int)p);

	xen_irq_disable();
	gs_enter(d2, 0);
	cr_assert_eq(notify_remote_via_evtchn(q), 0);
	gs_enter(d1, 0);
	cr_assert_eq(xen_set_timer(gs->now_ns + MS), 0);
	gs_clock_advance(gs, 2 * MS);
	cr_assert_eq(nr_order, 0, "events off");
	xen_irq_enable();
	cr_assert_eq(nr_order, 2);
	cr_assert_eq(order[0], -1, "timer first");
	cr_assert_eq(order[1], (int)p);
}

/* A platform that reads the hypervisor's clock itself (a process domain):
 * system time is that clock, exactly, not whatever vcpu_time_info last
 * published (which a process domain's core never refreshes per call). */
static uint64_t platform_now(void *ctx)
{
	(void)ctx;
	return gs->now_ns;
}

Test(guest_time, platform_now_ns_is_preferred)
{
	struct xen_guest_platform saved = d1->guest->platform;

	gs_clock_advance(gs, 7 * MS);
	d1->guest->platform.now_ns = platform_now;
	cr_assert_eq(xen_system_time_ns(), gs->now_ns);
	gs_clock_advance(gs, 3 * MS + 1);
	cr_assert_eq(xen_system_time_ns(), gs->now_ns, "follows the clock with no hypercall");
	d1->guest->platform = saved;
}
