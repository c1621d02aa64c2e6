/*
 * seed002-domu: the domU half of seed 002. Port 127 is wired to dom0 port
 * 120+N when the domain is created (examples/seed002/). The guest binds a
 * handler on it, sends seed002.count events to dom0 (default 10) and counts
 * dom0's replies until all came back or seed002.timeout_ms (default 2000)
 * passed, then prints both counts and powers off.
 */
#include <stdio.h>

#include "guest_args.h"

#include <xen/sched.h>

#define SEED002_PORT 127

static volatile unsigned long s2_replies;

static irqreturn_t s2_handler(int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	s2_replies++;
	return IRQ_HANDLED;
}

void start_kernel(start_info_t *si)
{
	evtchn_port_t port = (evtchn_port_t)guest_arg(si, "seed002.port", SEED002_PORT);
	unsigned long count = guest_arg(si, "seed002.count", 10), sent = 0, i;
	uint64_t deadline;
	int rc;

	rc = bind_evtchn_to_irqhandler(port, s2_handler, 0, "seed002", NULL);
	if (rc < 0) {
		printf("seed002-domu: bind port %u: %d\n", port, rc);
		fflush(stdout);
		xen_shutdown(SHUTDOWN_crash);
	}
	xen_irq_enable();
	for (i = 0; i < count; i++)
		sent += notify_remote_via_evtchn(port) == 0;
	deadline = procdom_now_ns() + guest_arg(si, "seed002.timeout_ms", 2000) * 1000000ULL;
	/* Poll with a deadline: the handler counts on the way out of each. */
	while (s2_replies < sent && procdom_now_ns() < deadline)
		xen_poll(&port, 1, deadline);
	printf("seed002-domu: domain %u sent %lu events on port %u, %lu replies\n",
	       (unsigned int)procdom_domid(), sent, port, s2_replies);
	fflush(stdout);
}
