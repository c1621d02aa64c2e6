/*
 * pingpong: two domains bounce events over one interdomain channel.
 *
 *   extra = "pingpong.port=P pingpong.role=ping pingpong.n=N"   (one side)
 *   extra = "pingpong.port=P pingpong.n=N"                      (the pong side)
 *
 * The port must already be interdomain (evtchn_bind / evtchn_reserve in the
 * configs, as seed 002 does), or pingpong.peer=D pingpong.remote=R binds it
 * here (EVTCHNOP_bind_interdomain to a port D allocated for us). The pong
 * side's handler sends each event straight back (from upcall context); the
 * ping side times N round trips and prints the median. Both power off.
 */
#include <stdio.h>
#include <stdlib.h>

#include "guest_args.h"

#include <xen/sched.h>

static volatile unsigned long pp_count;
static unsigned long pp_blocks_masked; /* SCHEDOP_block returned with events off */
static evtchn_port_t pp_port;
static int pp_pong;

/* Upcall context: only guest memory and the library (procdom_rt.h rules). */
static irqreturn_t pp_handler(int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	pp_count++;
	if (pp_pong)
		notify_remote_via_evtchn(pp_port);
	return IRQ_HANDLED;
}

/* Sleep until the handler ran `want` times. Events off while testing, so
 * SCHEDOP_block (which turns them on and checks) cannot miss one. As from
 * Xen's, it returns with them on (counted otherwise: the tests want 0). */
static void pp_wait(unsigned long want)
{
	xen_irq_disable();
	while (pp_count < want) {
		xen_block();
		if (xg_irqs_disabled(xen_guest_current()))
			pp_blocks_masked++;
		xen_irq_disable();
	}
	xen_irq_enable();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void pp_ping(unsigned long n)
{
	uint64_t *rtt = calloc(n, sizeof(*rtt));
	unsigned long i;

	for (i = 0; rtt && i < n; i++) {
		uint64_t t0 = procdom_now_ns();

		notify_remote_via_evtchn(pp_port);
		pp_wait(i + 1);
		rtt[i] = procdom_now_ns() - t0;
	}
	if (!rtt)
		return;
	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	printf("pingpong: %lu round trips on port %u, median %llu ns (min %llu, max %llu)\n", n,
	       pp_port, (unsigned long long)rtt[n / 2], (unsigned long long)rtt[0],
	       (unsigned long long)rtt[n - 1]);
	free(rtt);
}

static void pp_stats(const char *what)
{
	struct procdom_rt_stats st;

	procdom_rt_stats(&st);
	printf("pingpong: %s stats: hypercalls %llu fast_sends %llu local_blocks %llu sleeps "
	       "%llu blocks_left_masked %lu\n",
	       what, (unsigned long long)st.hypercalls, (unsigned long long)st.fast_sends,
	       (unsigned long long)st.local_blocks, (unsigned long long)st.sleeps,
	       pp_blocks_masked);
}

/* Poll our port's status (10 s at most) until the peer has let it go. */
static void pp_after(unsigned long k)
{
	struct evtchn_status st;
	struct procdom_rt_stats before, after;
	uint64_t until = procdom_now_ns() + 10000000000ULL;
	unsigned long i;

	do {
		st = (struct evtchn_status){ .dom = DOMID_SELF, .port = pp_port };
		if (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) < 0)
			break;
	} while (st.status == EVTCHNSTAT_interdomain && procdom_now_ns() < until);
	procdom_rt_stats(&before);
	for (i = 0; i < k; i++)
		notify_remote_via_evtchn(pp_port);
	procdom_rt_stats(&after);
	printf("pingpong: after the peer left (port status %u): %lu sends, %llu fast, "
	       "%llu hypercalls\n",
	       st.status, k, (unsigned long long)(after.fast_sends - before.fast_sends),
	       (unsigned long long)(after.hypercalls - before.hypercalls));
}

static int pp_bind(const start_info_t *si)
{
	unsigned long peer = guest_arg(si, "pingpong.peer", ~0UL);
	evtchn_port_t port;
	int rc;

	pp_port = (evtchn_port_t)guest_arg(si, "pingpong.port", 0);
	if (peer != ~0UL) {
		rc = evtchn_bind_interdomain(
			(domid_t)peer, (evtchn_port_t)guest_arg(si, "pingpong.remote", 0), &port);
		if (rc < 0)
			return rc;
		pp_port = port;
		/* bind_interdomain marks the new end pending (Xen does, so a
		 * binder re-checks its condition): not one of the peer's
		 * replies, so drop it before events are on. */
		clear_evtchn(pp_port);
	}
	return bind_evtchn_to_irqhandler(pp_port, pp_handler, 0, "pingpong", NULL);
}

void start_kernel(start_info_t *si)
{
	unsigned long n = guest_arg(si, "pingpong.n", 10000);
	int rc;

	pp_pong = !guest_flag(si, "pingpong.role=ping");
	rc = pp_bind(si);
	if (rc < 0 || n == 0) {
		printf("pingpong: cannot bind port %u: %d\n", pp_port, rc);
		fflush(stdout);
		xen_shutdown(SHUTDOWN_crash);
	}
	xen_irq_enable();
	if (pp_pong)
		pp_wait(n);
	else
		pp_ping(n);
	printf("pingpong: %s done, %lu events handled\n", pp_pong ? "pong" : "ping", pp_count);
	pp_stats(pp_pong ? "pong" : "ping");
	if (pp_pong && guest_arg(si, "pingpong.close", 0)) {
		struct evtchn_close cl = { .port = pp_port };

		printf("pingpong: pong closes port %u: %ld\n", pp_port,
		       HYPERVISOR_event_channel_op(EVTCHNOP_close, &cl));
	}
	if (!pp_pong && guest_arg(si, "pingpong.after", 0))
		pp_after(guest_arg(si, "pingpong.after", 0));
	fflush(stdout);
}
