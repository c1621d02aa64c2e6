/*
 * evbench: the domain half of bench/proc_event_bench.c. Two domains share
 * two interdomain channels, bound at creation:
 *
 *   evbench.rtt=P     round trips: ping sends, pong's handler sends back
 *   evbench.oneway=Q  one-way: ping sends as fast as it can, pong counts
 *   evbench.pollrtt=S round trips on a masked port, both sides waiting in
 *                     SCHEDOP_poll with upcalls masked (no handler)
 *   evbench.pollgroups=K  ... on each of the K ports S, S + 512, S + 1024,
 *                     ... in turn: one per line of the pending bitmap
 *                     (512 ports a line), so K placements of the lines
 *                     the round trip uses, each side's (K <= 8; a port
 *                     >= 1024 is past the runtime's send table and
 *                     sends by hypercall: another path, so keep
 *                     S + 512 (K - 1) < 1024 to measure the fast one)
 *   evbench.role=ping (one side), evbench.reps=R evbench.n=N
 *   evbench.gap_us=G  (ping) idle time before each "peer asleep" round trip
 *   evbench.ms=T      (ping) length of the one-way phase
 *
 * Ping runs R repetitions of: N round trips back to back (both vCPUs busy:
 * each side's block spins ~20 us before sleeping, so the reply finds it
 * polling), N round trips each after G us of ping spinning (pong has gone
 * to sleep on its futex: the wake is on the path), then T ms of one-way
 * sends on Q. It prints one line per repetition and measure:
 *
 *   evbench: rep 0 rtt_poll_ns 812 rtt_sleep_ns 19876 oneway_sends 1234567 oneway_ns 100000000
 *            poll_syscalls 0
 *
 * (poll_syscalls: system calls during the polling round trips, seen from
 * ping: its hypercalls and futex waits, wakes and signals either side sent
 * the other. 0 unless a vCPU lost its CPU long enough to fall asleep.)
 *
 * then one round trip on P as a marker, then R repetitions of N round
 * trips on each of the K ports in turn, the way a kernel waits for one
 * event with the CPU its own
 * (Linux's PV spinlock kick: the port masked, SCHEDOP_poll, clear, go on):
 * each side polls the port until it is pending, clears it and (pong) sends
 * back. The send is the same exact 2-level send; a masked port sets no
 * selector and no upcall flag, so the event is its pending bit alone:
 *
 *   evbench: rep 0 rtt_pollport_ns 412 poll_syscalls 0 port 12
 *
 * Pong prints how many one-way events it handled (coalesced sends count
 * once, as in Xen):
 *
 *   evbench: pong oneway_events 456789 sleeps 123
 *
 * Both print "evbench: done" and power off.
 */
#include <stdio.h>
#include <stdlib.h>

#include "guest_args.h"

#include <xen/sched.h>

#define EB_MAX_POLL_GROUPS 8
#define EB_PORTS_PER_LINE 512 /* 64 bytes of evtchn_pending */

static volatile unsigned long eb_rtt_count, eb_oneway_count;
static evtchn_port_t eb_rtt, eb_oneway, eb_pollp, eb_poll_ports[EB_MAX_POLL_GROUPS];
static unsigned long eb_poll_groups = 1;
static int eb_pong;

static irqreturn_t eb_rtt_handler(int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	eb_rtt_count++;
	if (eb_pong)
		notify_remote_via_evtchn(eb_rtt);
	return IRQ_HANDLED;
}

static irqreturn_t eb_oneway_handler(int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	eb_oneway_count++;
	return IRQ_HANDLED;
}

static void eb_wait(unsigned long want)
{
	xen_irq_disable();
	while (eb_rtt_count < want) {
		xen_block();
		xen_irq_disable();
	}
	xen_irq_enable();
}

static int eb_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Median of n round trips, each after gap_ns of spinning. */
static uint64_t eb_rtt_median(uint64_t *t, unsigned long n, uint64_t gap_ns)
{
	unsigned long i, want;

	for (i = 0; i < n; i++) {
		uint64_t t0 = procdom_now_ns();

		while (gap_ns && procdom_now_ns() - t0 < gap_ns)
			;
		/* Counted before sending: the reply may be handled (upcall
		 * signal) before notify returns. */
		want = eb_rtt_count + 1;
		t0 = procdom_now_ns();
		notify_remote_via_evtchn(eb_rtt);
		eb_wait(want);
		t[i] = procdom_now_ns() - t0;
	}
	qsort(t, n, sizeof(*t), eb_cmp);
	return t[n / 2];
}

/* System calls on either side of the round trip seen from here: our
 * hypercalls and futex waits, the wakes and signals we sent, those the
 * peer sent us (procdom_rt_stats). */
static unsigned long long eb_syscalls(void)
{
	struct procdom_rt_stats st;

	procdom_rt_stats(&st);
	return st.hypercalls + st.sleeps + st.sent_wakes + st.sent_signals + st.got_wakes +
	       st.got_signals;
}

/* The polling round trips, and how many system calls they made. */
static uint64_t eb_rtt_poll(uint64_t *t, unsigned long n, unsigned long long *ret_syscalls)
{
	unsigned long long before = eb_syscalls();
	uint64_t med = eb_rtt_median(t, n, 0);

	*ret_syscalls = eb_syscalls() - before;
	return med;
}

/* Wait in SCHEDOP_poll until the masked port S is pending, then clear it
 * (before anything that could make the peer send again). */
static void eb_poll_take(void)
{
	while (!xg_test_evtchn(xen_guest_current(), eb_pollp))
		xen_poll(&eb_pollp, 1, 0);
	clear_evtchn(eb_pollp);
}

/* Ping's round trips on S: median, and the system calls they made. */
static uint64_t eb_rtt_pollport(uint64_t *t, unsigned long n, unsigned long long *ret_syscalls)
{
	unsigned long long before = eb_syscalls();
	unsigned long i;

	xen_irq_disable();
	for (i = 0; i < n; i++) {
		uint64_t t0 = procdom_now_ns();

		notify_remote_via_evtchn(eb_pollp);
		eb_poll_take();
		t[i] = procdom_now_ns() - t0;
	}
	xen_irq_enable();
	*ret_syscalls = eb_syscalls() - before;
	qsort(t, n, sizeof(*t), eb_cmp);
	return t[n / 2];
}

/* Pong's side of ping's schedule: n round trips on each port in turn. */
static void eb_pollport_serve(unsigned long reps, unsigned long n)
{
	unsigned long r, i;

	xen_irq_disable();
	for (r = 0; r < reps * eb_poll_groups; r++) {
		eb_pollp = eb_poll_ports[r % eb_poll_groups];
		for (i = 0; i < n; i++) {
			eb_poll_take();
			notify_remote_via_evtchn(eb_pollp);
		}
	}
	xen_irq_enable();
}

static void eb_ping(const start_info_t *si)
{
	unsigned long reps = guest_arg(si, "evbench.reps", 5),
		      n = guest_arg(si, "evbench.n", 20000);
	uint64_t gap = guest_arg(si, "evbench.gap_us", 200) * 1000ULL;
	uint64_t len = guest_arg(si, "evbench.ms", 200) * 1000000ULL;
	uint64_t *t = calloc(n ? n : 1, sizeof(*t));
	unsigned long r, want;
	unsigned long long syscalls;

	for (r = 0; t && n && r < reps; r++) {
		uint64_t poll = eb_rtt_poll(t, n, &syscalls);
		uint64_t sleep = eb_rtt_median(t, n / 10 ? n / 10 : 1, gap);
		uint64_t sends = 0, t0 = procdom_now_ns(), el;

		do {
			notify_remote_via_evtchn(eb_oneway);
			sends++;
		} while ((el = procdom_now_ns() - t0) < len);
		printf("evbench: rep %lu rtt_poll_ns %llu rtt_sleep_ns %llu oneway_sends %llu "
		       "oneway_ns %llu poll_syscalls %llu\n",
		       r, (unsigned long long)poll, (unsigned long long)sleep,
		       (unsigned long long)sends, (unsigned long long)el, syscalls);
	}
	/* The marker: pong has handled (nearly) all one-way events by the time
	 * it answers. */
	want = eb_rtt_count + 1;
	notify_remote_via_evtchn(eb_rtt);
	eb_wait(want);
	for (r = 0; t && n && r < reps * eb_poll_groups; r++) {
		uint64_t med;

		eb_pollp = eb_poll_ports[r % eb_poll_groups];
		med = eb_rtt_pollport(t, n, &syscalls);

		printf("evbench: rep %lu rtt_pollport_ns %llu poll_syscalls %llu port %u\n",
		       r / eb_poll_groups, (unsigned long long)med, syscalls, eb_pollp);
	}
	free(t);
}

void start_kernel(start_info_t *si)
{
	struct procdom_rt_stats st;
	int rc;

	eb_pong = !guest_flag(si, "evbench.role=ping");
	eb_rtt = (evtchn_port_t)guest_arg(si, "evbench.rtt", 10);
	eb_oneway = (evtchn_port_t)guest_arg(si, "evbench.oneway", 11);
	eb_pollp = (evtchn_port_t)guest_arg(si, "evbench.pollrtt", 12);
	eb_poll_groups = guest_arg(si, "evbench.pollgroups", 1);
	if (eb_poll_groups < 1 || eb_poll_groups > EB_MAX_POLL_GROUPS)
		eb_poll_groups = 1;
	for (unsigned long g = 0; g < eb_poll_groups; g++) {
		eb_poll_ports[g] = eb_pollp + (evtchn_port_t)(g * EB_PORTS_PER_LINE);
		mask_evtchn(eb_poll_ports[g]);
	}
	rc = bind_evtchn_to_irqhandler(eb_rtt, eb_rtt_handler, 0, "evbench-rtt", NULL);
	if (rc >= 0)
		rc = bind_evtchn_to_irqhandler(eb_oneway, eb_oneway_handler, 0, "evbench-1way",
					       NULL);
	if (rc < 0) {
		printf("evbench: cannot bind ports %u, %u: %d\n", eb_rtt, eb_oneway, rc);
		fflush(stdout);
		xen_shutdown(SHUTDOWN_crash);
	}
	xen_irq_enable();
	if (eb_pong) {
		unsigned long reps = guest_arg(si, "evbench.reps", 5);
		unsigned long n = guest_arg(si, "evbench.n", 20000);

		eb_wait(reps * (n + (n / 10 ? n / 10 : 1)) + 1);
		eb_pollport_serve(reps, n);
	} else {
		eb_ping(si);
	}
	procdom_rt_stats(&st);
	if (eb_pong)
		printf("evbench: pong oneway_events %lu sleeps %llu\n", eb_oneway_count,
		       (unsigned long long)st.sleeps);
	printf("evbench: %s fast_sends %llu hypercalls %llu\nevbench: done\n",
	       eb_pong ? "pong" : "ping", (unsigned long long)st.fast_sends,
	       (unsigned long long)st.hypercalls);
	fflush(stdout);
}
