/*
 * The xenbus back-end library (lib/xenbus_be) against a real
 * xenon-xenstored started in a private run dir (path in $XENON_XENSTORED,
 * readiness through --ready-fd, --keep-released so that a domain's release
 * and its home vanishing can be told apart).
 *
 * The back end runs on its own libxenstore connection; the toolstack and a
 * scripted front end write through a second one. pump() runs the back
 * end's poll loop until a condition holds, bounded by time (5 s).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "xsd_fixture.h"

#include "xenbus_be.h"

#define FE 5
#define FE_HOME "/local/domain/5"
#define BE_BASE "/local/domain/0/backend/vbd"
#define PUMP_MS 5000

struct drv_log {
	unsigned int probes, connects, disconnects, removes;
	unsigned long ring_ref, port;
	int probe_rc, connect_rc;
	unsigned int refuse_id;
	unsigned int vanish_id; /* its probe finds it removed meanwhile */
};

static struct fixture {
	struct xsd_fixture xsd;
	struct xs_handle *xs, *tool;
	struct xbbe *be;
	struct drv_log log;
	unsigned int logged;
	char last_log[512];
} fx;

/* ---- the driver: records what the library asks of it ---- */

static void trm(const char *path);

static int drv_probe(struct xbbe_dev *dev)
{
	fx.log.probes++;
	if (dev->id == fx.log.refuse_id)
		return -EINVAL;
	if (dev->id == fx.log.vanish_id) {
		/* The toolstack destroys the domain in the middle of the probe
		 * (its reports about it go too): a feature write then fails. */
		trm(dev->nodename);
		trm("/local/domain/0/error/backend/vbd/5");
	}
	return xbbe_printf(dev, "feature-x", "%u", 1);
}

static int drv_connect(struct xbbe_dev *dev)
{
	int rc;

	fx.log.connects++;
	if (fx.log.connect_rc)
		return fx.log.connect_rc;
	if ((rc = xbbe_read_frontend_uint(dev, "ring-ref", &fx.log.ring_ref)) ||
	    (rc = xbbe_read_frontend_uint(dev, "event-channel", &fx.log.port)))
		return rc;
	return 0;
}

static void drv_disconnect(struct xbbe_dev *dev)
{
	fx.log.disconnects++;
}

static void drv_remove(struct xbbe_dev *dev)
{
	fx.log.removes++;
}

static const struct xbbe_driver drv = {
	.type = "vbd",
	.probe = drv_probe,
	.connect = drv_connect,
	.disconnect = drv_disconnect,
	.remove = drv_remove,
};

static void record_log(void *ctx, const char *msg)
{
	fx.logged++;
	snprintf(fx.last_log, sizeof(fx.last_log), "%s", msg);
}

/* ---- the daemon ---- */

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.log.refuse_id = ~0u;
	xsd_start(&fx.xsd, "xenon-xbbe", (const char *const[]){ "--keep-released", "-v", NULL });
	fx.xs = xs_open(0);
	fx.tool = xs_open(0);
	cr_assert(fx.xs && fx.tool);
	cr_assert_eq(xbbe_create(fx.xs, 0, &drv, &fx.be), 0);
	xbbe_set_log(fx.be, record_log, NULL);
}

static void teardown(void)
{
	xbbe_destroy(fx.be);
	if (fx.xs)
		xs_close(fx.xs);
	if (fx.tool)
		xs_close(fx.tool);
	xsd_stop(&fx.xsd);
}

TestSuite(xenbus_be, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the back end's loop until cond() or PUMP_MS; returns cond(). */
static bool pump(bool (*cond)(void *), void *arg)
{
	uint64_t end = now_ms() + PUMP_MS;

	while (!cond(arg)) {
		struct pollfd pfd = { xbbe_fd(fx.be), POLLIN, 0 };

		if (now_ms() >= end)
			return false;
		if (poll(&pfd, 1, 50) > 0)
			cr_assert_geq(xbbe_dispatch(fx.be), 0);
	}
	return true;
}

/* Dispatches what is pending now and what that causes, for ~200 ms. */
static void settle(void)
{
	uint64_t end = now_ms() + 200;

	while (now_ms() < end) {
		struct pollfd pfd = { xbbe_fd(fx.be), POLLIN, 0 };

		if (poll(&pfd, 1, 20) > 0)
			xbbe_dispatch(fx.be);
	}
}

static char *tread(const char *path)
{
	unsigned int len;

	return xs_read(fx.tool, XBT_NULL, path, &len);
}

static void twrite(const char *path, const char *value)
{
	cr_assert(xs_write(fx.tool, XBT_NULL, path, value, strlen(value)), "%s", path);
}

static void trm(const char *path)
{
	xs_rm(fx.tool, XBT_NULL, path);
}

static bool exists(const char *path)
{
	char *v = tread(path);

	free(v);
	return v != NULL;
}

struct node_want {
	char path[160];
	int state; /* -1: absent */
};

static int read_state(const char *path)
{
	char *v = tread(path);
	int s = v ? atoi(v) : -1;

	free(v);
	return s;
}

static bool state_is(void *arg)
{
	struct node_want *w = arg;

	return read_state(w->path) == w->state;
}

/* Waits for <BE_BASE>/<fe>/<id>/state == state (-1: the node absent). */
static bool wait_be_state(unsigned int fe, unsigned int id, int state)
{
	struct node_want w = { .state = state };

	snprintf(w.path, sizeof(w.path), BE_BASE "/%u/%u/state", fe, id);
	return pump(state_is, &w);
}

struct count_want {
	const unsigned int *counter;
	unsigned int want;
};

static bool counter_reached(void *arg)
{
	struct count_want *c = arg;

	return *c->counter >= c->want;
}

static bool wait_count(const unsigned int *counter, unsigned int want)
{
	struct count_want c = { counter, want };

	return pump(counter_reached, &c);
}

/* The toolstack's entries for one device, in one transaction. */
static void toolstack_device(unsigned int fe, unsigned int id)
{
	char be[128], front[128], path[192], v[16];
	xs_transaction_t t = xs_transaction_start(fx.tool);
	static const char *const be_keys[][2] = { { "online", "1" },
						  { "state", "1" },
						  { "mode", "w" } };

	cr_assert_neq(t, XBT_NULL);
	snprintf(be, sizeof(be), BE_BASE "/%u/%u", fe, id);
	snprintf(front, sizeof(front), "/local/domain/%u/device/vbd/%u", fe, id);
	snprintf(path, sizeof(path), "%s/frontend", be);
	cr_assert(xs_write(fx.tool, t, path, front, strlen(front)));
	snprintf(path, sizeof(path), "%s/frontend-id", be);
	snprintf(v, sizeof(v), "%u", fe);
	cr_assert(xs_write(fx.tool, t, path, v, strlen(v)));
	for (size_t i = 0; i < sizeof(be_keys) / sizeof(be_keys[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", be, be_keys[i][0]);
		cr_assert(xs_write(fx.tool, t, path, be_keys[i][1], strlen(be_keys[i][1])));
	}
	snprintf(path, sizeof(path), "%s/backend", front);
	cr_assert(xs_write(fx.tool, t, path, be, strlen(be)));
	snprintf(path, sizeof(path), "%s/state", front);
	cr_assert(xs_write(fx.tool, t, path, "1", 1));
	cr_assert(xs_transaction_end(fx.tool, t, false));
}

#define FE_DIR FE_HOME "/device/vbd/768"
#define BE_DIR BE_BASE "/5/768"

/* The scripted front end publishes its ring and goes Initialised. */
static void front_publish(const char *ring_ref)
{
	twrite(FE_DIR "/ring-ref", ring_ref);
	twrite(FE_DIR "/event-channel", "3");
	twrite(FE_DIR "/state", "3");
}

static void connect_one(void)
{
	toolstack_device(FE, 768);
	cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
	cr_assert_eq(fx.log.probes, 1);
	front_publish("8");
	cr_assert(wait_be_state(FE, 768, XenbusStateConnected));
	cr_assert_eq(fx.log.connects, 1);
}

/* ---- cases ---- */

Test(xenbus_be, full_negotiation_to_connected)
{
	char *v;

	connect_one();
	v = tread(BE_DIR "/feature-x");
	cr_assert_str_eq(v, "1");
	free(v);
	cr_assert_eq(fx.log.ring_ref, 8);
	cr_assert_eq(fx.log.port, 3);
	/* The front end's own Connected changes nothing on our side. */
	twrite(FE_DIR "/state", "4");
	settle();
	cr_assert_eq(fx.log.connects, 1);
	cr_assert_eq(read_state(BE_DIR "/state"), XenbusStateConnected);
	cr_assert_eq(xbbe_nr_devices(fx.be), 1);
}

Test(xenbus_be, close_and_reconnect)
{
	connect_one();
	for (unsigned int round = 1; round <= 3; round++) {
		twrite(FE_DIR "/state", "5");
		cr_assert(wait_be_state(FE, 768, XenbusStateClosing));
		cr_assert_eq(fx.log.disconnects, round);
		twrite(FE_DIR "/state", "6");
		cr_assert(wait_be_state(FE, 768, XenbusStateClosed));
		cr_assert_eq(fx.log.disconnects, round, "disconnect() once per connect()");
		twrite(FE_DIR "/state", "1");
		cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
		front_publish("9");
		cr_assert(wait_be_state(FE, 768, XenbusStateConnected));
		cr_assert_eq(fx.log.connects, round + 1);
		cr_assert_eq(fx.log.ring_ref, 9);
	}
	cr_assert_eq(fx.log.probes, 1);
	cr_assert_eq(fx.log.removes, 0);
}

/* A back end that (re)starts finding its front end Connected -- to the
 * back end before it -- does not take the ring over: it waits for the
 * front end to start again. (The guest used to miss its old back end's
 * death when a fast restart set the liveness byte again.) */
Test(xenbus_be, frontend_connected_to_a_previous_back_end)
{
	toolstack_device(FE, 768);
	cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
	twrite(FE_DIR "/ring-ref", "8");
	twrite(FE_DIR "/event-channel", "3");
	twrite(FE_DIR "/state", "4");
	settle();
	cr_assert_eq(fx.log.connects, 0, "a ring connected to another back end was taken");
	cr_assert_eq(read_state(BE_DIR "/state"), XenbusStateInitWait);
	/* The front end starts again: now it is ours. */
	twrite(FE_DIR "/state", "1");
	settle();
	front_publish("9");
	cr_assert(wait_be_state(FE, 768, XenbusStateConnected));
	cr_assert_eq(fx.log.connects, 1);
	cr_assert_eq(fx.log.ring_ref, 9);
}

Test(xenbus_be, frontend_nodes_vanish)
{
	connect_one();
	trm(FE_DIR);
	cr_assert(wait_count(&fx.log.removes, 1));
	cr_assert_eq(fx.log.disconnects, 1);
	/* The library removed what it served: the toolstack cannot (no daemon). */
	cr_assert(!exists(BE_DIR));
	cr_assert(!exists(BE_BASE "/5"));
	cr_assert_eq(xbbe_nr_devices(fx.be), 0);
}

Test(xenbus_be, frontend_domain_released)
{
	cr_assert(xs_introduce_domain(fx.tool, FE, 1234, 9));
	connect_one();
	/* --keep-released: the home stays, only @releaseDomain tells. */
	cr_assert(xs_release_domain(fx.tool, FE));
	cr_assert(wait_count(&fx.log.removes, 1));
	cr_assert_eq(fx.log.disconnects, 1);
	cr_assert(!exists(BE_DIR));
	cr_assert(exists(FE_DIR));
}

Test(xenbus_be, other_domains_release_leaves_us_alone)
{
	cr_assert(xs_introduce_domain(fx.tool, FE, 1234, 9));
	cr_assert(xs_introduce_domain(fx.tool, 6, 1234, 9));
	connect_one();
	cr_assert(xs_release_domain(fx.tool, 6));
	settle();
	cr_assert_eq(fx.log.removes, 0);
	cr_assert_eq(read_state(BE_DIR "/state"), XenbusStateConnected);
}

Test(xenbus_be, toolstack_removes_backend_dir)
{
	connect_one();
	trm(BE_BASE "/5");
	cr_assert(wait_count(&fx.log.removes, 1));
	cr_assert_eq(fx.log.disconnects, 1);
	cr_assert(!exists(BE_DIR), "a late state write must not re-create it");
	cr_assert(exists(FE_DIR));
	cr_assert_eq(xbbe_nr_devices(fx.be), 0);
}

Test(xenbus_be, toolstack_recreates_device)
{
	connect_one();
	/* A new domain with the same domid: the toolstack writes state=1 again. */
	toolstack_device(FE, 768);
	cr_assert(wait_count(&fx.log.probes, 2));
	cr_assert_eq(fx.log.removes, 1);
	cr_assert_eq(fx.log.disconnects, 1);
	cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
}

Test(xenbus_be, malformed_entries_are_ignored)
{
	twrite(BE_BASE "/abc/1/frontend", FE_DIR);
	twrite(BE_BASE "/5/xyz/frontend", FE_DIR);
	twrite(BE_BASE "/5/1/frontend", FE_DIR); /* no frontend-id */
	twrite(BE_BASE "/5/2/frontend", "/local/domain/6/device/vbd/2");
	twrite(BE_BASE "/5/2/frontend-id", "5"); /* another domain's directory */
	twrite(BE_BASE "/5/3/frontend", "/local/domain/5/device/vbd/3");
	twrite(BE_BASE "/5/3/frontend-id", "6"); /* filed under the wrong domain */
	twrite(BE_BASE "/99999/3/frontend", FE_DIR);
	toolstack_device(FE, 768);
	cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
	settle();
	cr_assert_eq(fx.log.probes, 1);
	cr_assert_eq(xbbe_nr_devices(fx.be), 1);
	cr_assert_eq(fx.logged, 1, "malformed entries are logged once: %s", fx.last_log);
	cr_assert(strstr(fx.last_log, "logged once"));
	/* Completed later, an entry is taken. */
	twrite(BE_BASE "/5/1/frontend-id", "5");
	twrite(BE_BASE "/5/1/state", "1");
	cr_assert(wait_be_state(FE, 1, XenbusStateInitWait));
	cr_assert_eq(fx.log.probes, 2);
}

Test(xenbus_be, device_limit)
{
	xbbe_set_max_devices(fx.be, 2);
	for (unsigned int id = 1; id <= 4; id++)
		toolstack_device(FE, id);
	cr_assert(wait_count(&fx.log.probes, 2));
	settle();
	cr_assert_eq(fx.log.probes, 2);
	cr_assert_eq(xbbe_nr_devices(fx.be), 2);
	cr_assert_eq(fx.logged, 1);
	cr_assert(strstr(fx.last_log, "limit of 2 devices"), "%s", fx.last_log);
	/* One goes: room for the next one (on the next event for it). */
	trm(BE_BASE "/5/1");
	cr_assert(wait_count(&fx.log.removes, 1));
	trm(BE_BASE "/5/2");
	cr_assert(wait_count(&fx.log.removes, 2));
	twrite(BE_BASE "/5/3/online", "1");
	twrite(BE_BASE "/5/4/online", "1");
	cr_assert(wait_count(&fx.log.probes, 4));
}

Test(xenbus_be, probe_refused)
{
	char *v;

	fx.log.refuse_id = 999;
	toolstack_device(FE, 999);
	cr_assert(wait_be_state(FE, 999, XenbusStateClosed));
	v = tread("/local/domain/0/error/backend/vbd/5/999/error");
	cr_assert_not_null(v);
	cr_assert(!strncmp(v, "22 ", 3), "%s", v);
	free(v);
	/* Refused stays refused: the front end cannot talk it into InitWait. */
	twrite("/local/domain/5/device/vbd/999/state", "1");
	settle();
	cr_assert_eq(read_state(BE_BASE "/5/999/state"), XenbusStateClosed);
	cr_assert_eq(fx.log.connects, 0);
	/* The error node goes with the device. */
	trm(BE_BASE "/5/999");
	cr_assert(wait_count(&fx.log.removes, 1));
	cr_assert(!exists("/local/domain/0/error/backend/vbd/5/999"));
}

/* A probe cut short by the device's removal fails, and its error report
 * must not bring back what the toolstack removed: a new domain with this
 * domid would inherit it (it left error/backend/vbd/5 behind). */
Test(xenbus_be, probe_of_a_device_removed_meanwhile_reports_nothing)
{
	fx.log.vanish_id = 768;
	toolstack_device(FE, 768);
	cr_assert(wait_count(&fx.log.probes, 1));
	settle();
	cr_assert(!exists(BE_DIR));
	cr_assert(!exists("/local/domain/0/error/backend/vbd/5"), "a report outlived its device");
}

Test(xenbus_be, hostile_frontend_values)
{
	toolstack_device(FE, 768);
	cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
	front_publish("12x");
	cr_assert(wait_be_state(FE, 768, XenbusStateClosing));
	cr_assert_eq(fx.log.connects, 1);
	cr_assert_eq(fx.log.disconnects, 0, "connect() failed: nothing to undo");
}

/* A front-end state that is not a state takes a Connected device down, as
 * Closing would: junk, and a number too long for any state. */
Test(xenbus_be, hostile_frontend_states)
{
	connect_one();
	twrite(FE_DIR "/state", "banana");
	cr_assert(wait_be_state(FE, 768, XenbusStateClosing));
	cr_assert(wait_count(&fx.log.disconnects, 1));
	/* The front end closes, comes back, connects again, then sends a
	 * huge one. */
	twrite(FE_DIR "/state", "6");
	cr_assert(wait_be_state(FE, 768, XenbusStateClosed));
	twrite(FE_DIR "/state", "1");
	cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
	front_publish("8");
	cr_assert(wait_be_state(FE, 768, XenbusStateConnected));
	cr_assert_eq(fx.log.connects, 2);
	twrite(FE_DIR "/state", "99999999999999999999999");
	cr_assert(wait_be_state(FE, 768, XenbusStateClosing));
	cr_assert(wait_count(&fx.log.disconnects, 2));
}

Test(xenbus_be, connect_failure_is_fatal)
{
	char *v;

	fx.log.connect_rc = -ENOMEM;
	toolstack_device(FE, 768);
	cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
	front_publish("8");
	cr_assert(wait_be_state(FE, 768, XenbusStateClosing));
	v = tread("/local/domain/0/error/backend/vbd/5/768/error");
	cr_assert_not_null(v);
	cr_assert(!strncmp(v, "12 ", 3), "%s", v);
	free(v);
}

Test(xenbus_be, destroy_closes_every_device)
{
	connect_one();
	toolstack_device(FE, 769);
	cr_assert(wait_be_state(FE, 769, XenbusStateInitWait));
	xbbe_destroy(fx.be);
	fx.be = NULL;
	cr_assert_eq(fx.log.removes, 2);
	cr_assert_eq(fx.log.disconnects, 1);
	cr_assert_eq(read_state(BE_DIR "/state"), XenbusStateClosed);
	cr_assert_eq(read_state(BE_BASE "/5/769/state"), XenbusStateClosed);
}

Test(xenbus_be, create_rejects_bad_arguments)
{
	struct xbbe *be;
	struct xbbe_driver bad = drv;

	bad.type = "a/b";
	cr_assert_eq(xbbe_create(fx.xs, 0, &bad, &be), -EINVAL);
	bad.type = "";
	cr_assert_eq(xbbe_create(fx.xs, 0, &bad, &be), -EINVAL);
	cr_assert_eq(xbbe_create(fx.xs, 0, NULL, &be), -EINVAL);
	cr_assert_eq(xbbe_create(NULL, 0, &drv, &be), -EINVAL);
	cr_assert_eq(xbbe_create(fx.xs, 70000, &drv, &be), -EINVAL);
}

/* ---- front ends the caller knows are gone (xbbe_frontends_gone) ---- */

static bool fe_is(void *ctx, struct xbbe_dev *dev)
{
	return dev->frontend_id == *(const unsigned int *)ctx;
}

/* blkback on VIRQ_DOM_EXC: the device goes at once, and the
 * @releaseDomain that follows (and our removal's own events) find nothing
 * left: one disconnect, one remove. */
Test(xenbus_be, frontends_gone_before_release_tears_down_once)
{
	unsigned int fe = FE, other = 6;

	cr_assert(xs_introduce_domain(fx.tool, FE, 1234, 9));
	connect_one();
	cr_assert_eq(xbbe_frontends_gone(fx.be, fe_is, &other), 0);
	cr_assert_eq(fx.log.disconnects, 0);
	cr_assert_eq(xbbe_frontends_gone(fx.be, fe_is, &fe), 1);
	cr_assert_eq(fx.log.disconnects, 1);
	cr_assert_eq(fx.log.removes, 1);
	cr_assert(!exists(BE_DIR));
	cr_assert_eq(xbbe_nr_devices(fx.be), 0);
	cr_assert(xs_release_domain(fx.tool, FE));
	settle();
	cr_assert_eq(fx.log.disconnects, 1);
	cr_assert_eq(fx.log.removes, 1);
	cr_assert_eq(fx.log.probes, 1);
}

/* The toolstack re-created the device for a new domain with the same
 * domid before we looked: the old one goes, the new one's nodes stay
 * untouched (no Closed written over its state, no removal) and it is
 * probed as a new device. */
Test(xenbus_be, frontends_gone_leaves_a_recreated_device)
{
	unsigned int fe = FE;

	connect_one();
	toolstack_device(FE, 768);
	cr_assert_eq(xbbe_frontends_gone(fx.be, fe_is, &fe), 1);
	cr_assert_eq(fx.log.disconnects, 1);
	cr_assert_eq(fx.log.removes, 1);
	cr_assert_eq(read_state(BE_DIR "/state"), XenbusStateInitialising,
		     "the new device's state was overwritten");
	cr_assert(wait_count(&fx.log.probes, 2));
	cr_assert(wait_be_state(FE, 768, XenbusStateInitWait));
}

/* With xenstored gone the devices go all the same (their driver's
 * resources are what matters); the store work that fails is logged. */
Test(xenbus_be, frontends_gone_without_the_store)
{
	unsigned int fe = FE;
	uint64_t end = now_ms() + PUMP_MS;
	int status, rc = 0;

	connect_one();
	toolstack_device(FE, 769);
	cr_assert(wait_be_state(FE, 769, XenbusStateInitWait));
	kill(fx.xsd.pid, SIGKILL);
	waitpid(fx.xsd.pid, &status, 0);
	fx.xsd.pid = 0;
	/* Seen as blkback sees it: reading the watches fails. */
	while (rc >= 0 && now_ms() < end) {
		struct pollfd pfd = { xbbe_fd(fx.be), POLLIN, 0 };

		poll(&pfd, 1, 20);
		rc = xbbe_dispatch(fx.be);
	}
	cr_assert_lt(rc, 0);
	cr_assert_eq(xbbe_frontends_gone(fx.be, fe_is, &fe), 2);
	cr_assert_eq(fx.log.disconnects, 1);
	cr_assert_eq(fx.log.removes, 2);
	cr_assert_eq(xbbe_nr_devices(fx.be), 0);
	cr_assert(strstr(fx.last_log, "its nodes are left"), "%s", fx.last_log);
}
