/*
 * seed002-demo-domu: the domU of `xenon demo' (tools/xenon/demo.c).
 *
 * Seed 002 (mission item 12-15): port seed002.port (127) was bound to dom0's
 * port 120+N when this domain was created. We bind a handler on it
 * (bind_evtchn_to_irqhandler) and make seed002.events round trips: send one
 * event (notify_remote_via_evtchn), wait until dom0's answer ran our
 * handler, time it. One event in flight at a time, so no two events
 * coalesce into one pending bit and every one can be counted.
 *
 * Seed 001 (item 8), between two domUs, if asked:
 *   seed002.accept=D   the receiver: alloc_unbound for D, advertise the port
 *                      in /local/domain/N/data/demo/port (readable by D), and
 *                      answer every event on it;
 *   seed002.connect=D  the sender: watch D's data/demo/port, read it, bind
 *                      to it (EVTCHNOP_bind_interdomain), make
 *                      seed002.dyn_events round trips.
 *
 * Results go to XenStore under our home, where the demo reads them -- the
 * way a front end reports to its back end:
 *   data/demo/{sent,received,rtt-median-ns}
 *   data/demo/{dyn-port,dyn-remote,dyn-sent,dyn-received}   (connect)
 *   data/demo/{port,dyn-answered}                           (accept)
 *   data/demo/done = "ok" | "failed"  (written last)
 * Then the domain idles (the receiver keeps answering) until destroyed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../guests/guest_args.h"

#include <xen/sched.h>

#define DEMO_TIMEOUT_NS (10ULL * 1000 * 1000 * 1000) /* per wait */
#define NO_DOMAIN (~0UL)

struct chan {
	evtchn_port_t port;
	bool answer;		      /* the receiver: send each event back */
	volatile unsigned long count; /* handler runs */
};

static struct chan seed_chan, dyn_chan;
static struct xenbus_guest demo_xb;
static char home[64];

/*
 * Time: the process substrate's system time is CLOCK_MONOTONIC, but
 * vcpu_time_info is refreshed only when the hypervisor touches the vCPU, so
 * read the same clock directly (vDSO: no system call) for timing and for
 * SCHEDOP_poll deadlines.
 */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Upcall context: only guest memory and the library (procdom_rt.h rules). */
static irqreturn_t demo_handler(int irq, void *dev_id)
{
	struct chan *c = dev_id;

	(void)irq;
	c->count++;
	if (c->answer)
		notify_remote_via_evtchn(c->port);
	return IRQ_HANDLED;
}

/* Until the handler of C ran WANT times, or the deadline: events off while
 * testing, and SCHEDOP_poll returns at once for a port already pending. */
static bool wait_count(struct chan *c, unsigned long want)
{
	uint64_t deadline = now_ns() + DEMO_TIMEOUT_NS;

	while (c->count < want && now_ns() < deadline) {
		xen_irq_disable();
		if (c->count < want)
			xen_poll(&c->port, 1, deadline);
		xen_irq_enable();
	}
	return c->count >= want;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* N round trips on C; returns the events sent and the median RTT. */
static unsigned long round_trips(struct chan *c, unsigned long n, uint64_t *ret_median)
{
	uint64_t *rtt = calloc(n ? n : 1, sizeof(*rtt));
	unsigned long sent = 0;

	*ret_median = 0;
	while (rtt && sent < n) {
		uint64_t t0 = now_ns();

		if (notify_remote_via_evtchn(c->port))
			break;
		sent++;
		if (!wait_count(c, sent))
			break;
		rtt[sent - 1] = now_ns() - t0;
	}
	if (rtt && c->count) {
		unsigned long ok = c->count < sent ? c->count : sent;

		qsort(rtt, ok, sizeof(*rtt), cmp_u64);
		*ret_median = rtt[ok / 2];
	}
	free(rtt);
	return sent;
}

static void put(const char *node, unsigned long long v)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), "%s/data/demo/%s", home, node);
	snprintf(val, sizeof(val), "%llu", v);
	xenbus_write(XBT_NIL, path, val, strlen(val));
}

static void put_str(const char *node, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/data/demo/%s", home, node);
	xenbus_write(XBT_NIL, path, val, strlen(val));
}

/* The receiver: a fresh port for PEER, advertised where PEER may read it. */
static int accept_from(domid_t peer)
{
	struct xenbus_perm perms[2] = { { procdom_domid(), 'n' }, { peer, 'r' } };
	char path[128];
	int rc;

	dyn_chan.answer = true;
	if ((rc = evtchn_alloc_unbound(peer, &dyn_chan.port)) < 0 ||
	    (rc = bind_evtchn_to_irqhandler(dyn_chan.port, demo_handler, 0, "demo-dyn",
					    &dyn_chan)) < 0)
		return rc;
	put("port", dyn_chan.port);
	snprintf(path, sizeof(path), "%s/data/demo/port", home);
	return xenbus_set_perms(XBT_NIL, path, perms, 2);
}

static void on_port(void *ctx, const char *path, const char *token)
{
	(void)ctx;
	(void)path;
	(void)token;
}

/* The sender: wait for PEER's advertised port, bind to it, round trips. */
static bool connect_to(domid_t peer, unsigned long n)
{
	uint64_t deadline = now_ns() + DEMO_TIMEOUT_NS, median;
	char path[128], val[32];
	unsigned long sent;
	int rc = -1;

	snprintf(path, sizeof(path), "/local/domain/%u/data/demo/port", peer);
	xenbus_watch(path, "demo-port", on_port, NULL);
	while (now_ns() < deadline && (rc = xenbus_read(XBT_NIL, path, val, sizeof(val), NULL)) < 0)
		xb_wait_event(xenbus_current(), 100 * 1000 * 1000);
	xenbus_unwatch(path, "demo-port");
	if (rc < 0 ||
	    evtchn_bind_interdomain(peer, (evtchn_port_t)strtoul(val, NULL, 10), &dyn_chan.port) <
		    0 ||
	    bind_evtchn_to_irqhandler(dyn_chan.port, demo_handler, 0, "demo-dyn", &dyn_chan) < 0)
		return false;
	/* Xen marks a freshly bound port pending ("so the guest notices the
	 * connection"): that is not one of the peer's answers. */
	xen_irq_disable();
	xg_clear_evtchn(xen_guest_current(), dyn_chan.port);
	dyn_chan.count = 0;
	xen_irq_enable();
	snprintf(path, sizeof(path), "%u:%s", peer, val);
	put("dyn-port", dyn_chan.port);
	put_str("dyn-remote", path);
	sent = round_trips(&dyn_chan, n, &median);
	put("dyn-sent", sent);
	put("dyn-received", dyn_chan.count);
	put("dyn-rtt-median-ns", median);
	return sent == n && dyn_chan.count == n;
}

void start_kernel(start_info_t *si)
{
	unsigned long n = guest_arg(si, "seed002.events", 100);
	unsigned long accept = guest_arg(si, "seed002.accept", NO_DOMAIN);
	unsigned long connect = guest_arg(si, "seed002.connect", NO_DOMAIN);
	uint64_t median;
	unsigned long sent;
	bool ok;

	snprintf(home, sizeof(home), "/local/domain/%u", procdom_domid());
	seed_chan.port = (evtchn_port_t)guest_arg(si, "seed002.port", 127);
	if (xenbus_init(&demo_xb) < 0 ||
	    bind_evtchn_to_irqhandler(seed_chan.port, demo_handler, 0, "seed002", &seed_chan) < 0) {
		printf("seed002-demo-domu: no xenbus or port %u\n", seed_chan.port);
		fflush(stdout);
		xen_shutdown(SHUTDOWN_crash);
	}
	xen_irq_enable();
	ok = accept == NO_DOMAIN || accept_from((domid_t)accept) == 0;
	sent = round_trips(&seed_chan, n, &median);
	put("sent", sent);
	put("received", seed_chan.count);
	put("rtt-median-ns", median);
	ok = ok && sent == n && seed_chan.count == n;
	if (connect != NO_DOMAIN)
		ok = connect_to((domid_t)connect, guest_arg(si, "seed002.dyn_events", 10)) && ok;
	put_str("done", ok ? "ok" : "failed");
	printf("seed002-demo-domu: domain %u: %lu sent, %lu answered on port %u: %s\n",
	       procdom_domid(), sent, seed_chan.count, seed_chan.port, ok ? "ok" : "failed");
	fflush(stdout);
	/* Idle until destroyed; the receiver's handler keeps answering, and
	 * its count is published whenever it moved (events off while testing,
	 * so SCHEDOP_block cannot sleep through an event that just came). */
	for (unsigned long last = 0;;) {
		unsigned long seen;

		xen_irq_disable();
		if (dyn_chan.count == last)
			xen_block();
		else
			xen_irq_enable();
		seen = dyn_chan.count;
		if (accept != NO_DOMAIN && seen != last)
			put("dyn-answered", seen);
		last = seen;
	}
}
