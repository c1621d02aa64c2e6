/*
 * The xenbus front-end library (guest/xenbus_dev.c) against the real
 * XenStore engine and the real hypervisor core, in one process.
 *
 * dom0 and dom1 boot in guestsim; dom1's store ring is served by the engine
 * (ring transport) over its event channel: store_sim.h's whole path.
 * The toolstack and the back end are played by dom0's privileged engine
 * connection: the toolstack's entries are written directly, and a scripted
 * back end runs as a guestsim pump (so it answers while dom1 sleeps in
 * xb_wait_event): with `auto_be' set it follows Linux's back-end rules --
 * front Initialising while we are Closed -> InitWait, Initialised ->
 * Connected, Closing -> Closing, Closed -> Closed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sim.h"
#include "xenbus_dev.h"

#define FE STORE_SIM_DOMID
#define FE_HOME STORE_SIM_HOME
#define FE_DIR FE_HOME "/device/vbd/768"
#define BE_DIR "/local/domain/0/backend/vbd/1/768"

static struct store_sim ss;

static struct fixture {
	bool auto_be;
	unsigned int be_steps;
	/* What otherend_changed saw. */
	unsigned int nr_changes;
	enum xenbus_state changes[64];
	struct xbdev dev;
} fx;

static void priv_write(const char *path, const char *value)
{
	store_sim_write(&ss, path, value);
}

/* The node's value, or NULL if absent. */
static const char *priv_read(const char *path)
{
	return store_sim_read(&ss, path);
}

static void priv_rm(const char *path)
{
	store_sim_rm(&ss, path);
}

static void priv_perms(const char *path, const char *perms, size_t len)
{
	store_sim_set_perms(&ss, path, perms, len);
}

static int node_state(const char *dir)
{
	char path[256];
	const char *v;

	snprintf(path, sizeof(path), "%s/state", dir);
	v = priv_read(path);
	return v ? atoi(v) : -1;
}

static void be_set_state(int state)
{
	char v[4];

	snprintf(v, sizeof(v), "%d", state);
	priv_write(BE_DIR "/state", v);
}

/* The scripted back end (see the top of the file). */
static int be_pump(void *arg)
{
	int fs, bs, want = -1;

	if (!fx.auto_be)
		return 0;
	fs = node_state(FE_DIR);
	bs = node_state(BE_DIR);
	if (fs < 0 || bs < 0)
		return 0;
	if (fs == XenbusStateInitialising && bs == XenbusStateClosed)
		want = XenbusStateInitWait;
	else if ((fs == XenbusStateInitialised || fs == XenbusStateConnected) &&
		 bs == XenbusStateInitWait)
		want = XenbusStateConnected;
	else if (fs == XenbusStateClosing && bs != XenbusStateClosing && bs != XenbusStateClosed)
		want = XenbusStateClosing;
	else if (fs == XenbusStateClosed && bs != XenbusStateClosed)
		want = XenbusStateClosed;
	if (want < 0)
		return 0;
	fx.be_steps++;
	be_set_state(want);
	return 1;
}

/* The toolstack's entries (xenon create's, with Xen's permissions). */
static void toolstack_entries(void)
{
	static const char fe_perms[] = "n1\0r0", be_perms[] = "n0\0r1";

	priv_write(FE_HOME "/domid", "1");
	priv_write(FE_DIR "/backend", BE_DIR);
	priv_write(FE_DIR "/backend-id", "0");
	priv_write(FE_DIR "/state", "1");
	priv_write(FE_DIR "/virtual-device", "51712");
	priv_perms(FE_DIR, fe_perms, sizeof(fe_perms));
	priv_perms(FE_DIR "/state", fe_perms, sizeof(fe_perms));
	priv_write(BE_DIR "/frontend", FE_DIR);
	priv_write(BE_DIR "/frontend-id", "1");
	priv_write(BE_DIR "/state", "1");
	priv_perms(BE_DIR, be_perms, sizeof(be_perms));
	priv_perms(BE_DIR "/state", be_perms, sizeof(be_perms));
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	store_sim_boot(&ss, 0);
	cr_assert_eq(gs_add_pump(ss.gs, be_pump, NULL), 0);
	cr_assert_eq(xg_gnttab_init(ss.dom1->guest, 0, 1), 0);
	toolstack_entries();
}

static void teardown(void)
{
	store_sim_fini(&ss);
}

TestSuite(xenbus_dev, .init = setup, .fini = teardown);

static void record_change(struct xbdev *dev, enum xenbus_state state)
{
	cr_assert_eq(dev, &fx.dev);
	if (fx.nr_changes < 64)
		fx.changes[fx.nr_changes] = state;
	fx.nr_changes++;
}

static const struct xbdev_ops ops = { .otherend_changed = record_change };

static struct xenbus *xb(void)
{
	return &ss.storage.xb;
}

#define SECOND 1000000000ull

static void probe(void)
{
	cr_assert_eq(xbdev_probe(&fx.dev, xb(), "vbd", 768, &ops, NULL), 0);
	xb_poll(xb());
}

/* What a block front end publishes (two ring pages), then Initialised. */
static void publish(grant_ref_t refs[2], evtchn_port_t *port)
{
	void *ring = gs_alloc_pages(ss.dom1, 2);

	cr_assert_not_null(ring);
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ring, 2, refs), 0);
	cr_assert_eq(xbdev_alloc_evtchn(&fx.dev, port), 0);
	cr_assert_eq(xbdev_printf(&fx.dev, XBT_NIL, "ring-ref0", "%u", refs[0]), 0);
	cr_assert_eq(xbdev_printf(&fx.dev, XBT_NIL, "ring-ref1", "%u", refs[1]), 0);
	cr_assert_eq(xbdev_printf(&fx.dev, XBT_NIL, "ring-page-order", "%u", 1), 0);
	cr_assert_eq(xbdev_printf(&fx.dev, XBT_NIL, "event-channel", "%u", *port), 0);
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateInitialised), 0);
}

Test(xenbus_dev, enumerate_sorted_numeric_bounded)
{
	unsigned int ids[3];

	priv_write(FE_HOME "/device/vbd/51728/state", "1");
	priv_write(FE_HOME "/device/vbd/5/state", "1");
	priv_write(FE_HOME "/device/vbd/junk/state", "1");
	cr_assert_eq(xbdev_enumerate(xb(), "vbd", ids, 3), 3);
	cr_assert_eq(ids[0], 5);
	cr_assert_eq(ids[1], 768);
	cr_assert_eq(ids[2], 51728);
	cr_assert_eq(xbdev_enumerate(xb(), "vbd", ids, 2), 2);
	cr_assert_eq(ids[0], 5);
	cr_assert_eq(ids[1], 768);
	cr_assert_eq(xbdev_enumerate(xb(), "vif", ids, 3), 0);
	cr_assert_eq(xbdev_enumerate(xb(), "../x", ids, 3), -EINVAL);
}

Test(xenbus_dev, probe_reads_paths_and_sees_initial_state)
{
	probe();
	cr_assert_str_eq(fx.dev.nodename, FE_DIR);
	cr_assert_str_eq(fx.dev.otherend, BE_DIR);
	cr_assert_eq(fx.dev.otherend_id, 0);
	cr_assert_eq(fx.dev.state, XenbusStateInitialising);
	cr_assert_eq(fx.nr_changes, 1);
	cr_assert_eq(fx.changes[0], XenbusStateInitialising);
	cr_assert_eq(node_state(FE_DIR), XenbusStateInitialising);
}

Test(xenbus_dev, probe_refuses_missing_and_malformed)
{
	cr_assert_eq(xbdev_probe(&fx.dev, xb(), "vbd", 769, &ops, NULL), -ENOENT);
	priv_write(FE_DIR "/backend-id", "70000");
	cr_assert_eq(xbdev_probe(&fx.dev, xb(), "vbd", 768, &ops, NULL), -EINVAL);
	priv_write(FE_DIR "/backend-id", "0");
	priv_write(FE_DIR "/backend", "relative/path");
	cr_assert_eq(xbdev_probe(&fx.dev, xb(), "vbd", 768, &ops, NULL), -EINVAL);
	cr_assert_eq(xbdev_probe(&fx.dev, xb(), "vbd/768", 1, &ops, NULL), -EINVAL);
}

Test(xenbus_dev, full_negotiation_to_connected)
{
	grant_ref_t refs[2];
	evtchn_port_t port;
	unsigned long v;
	char path[64];

	probe();
	/* The back end's probe: features, then InitWait. */
	priv_write(BE_DIR "/feature-flush-cache", "1");
	priv_write(BE_DIR "/max-ring-page-order", "4");
	be_set_state(XenbusStateInitWait);
	cr_assert_eq(xbdev_wait_otherend(&fx.dev, 1u << XenbusStateInitWait, SECOND), 0);
	cr_assert_eq(xbdev_read_otherend_uint(&fx.dev, "max-ring-page-order", &v), 0);
	cr_assert_eq(v, 4);
	cr_assert_eq(xbdev_read_otherend_uint(&fx.dev, "feature-discard", &v), -ENOENT);
	priv_write(BE_DIR "/feature-discard", "yes");
	cr_assert_eq(xbdev_read_otherend_uint(&fx.dev, "feature-discard", &v), -EINVAL);

	fx.auto_be = true;
	publish(refs, &port);
	/* What the back end will map: our frames, granted to dom0, writable. */
	for (int i = 0; i < 2; i++) {
		grant_entry_v1_t *e = xg_gnttab_entry(ss.dom1->guest, refs[i]);

		cr_assert_eq(e->domid, 0);
		cr_assert_eq(e->flags & (GTF_permit_access | GTF_readonly), GTF_permit_access);
		snprintf(path, sizeof(path), FE_DIR "/ring-ref%d", i);
		cr_assert_eq((grant_ref_t)atoi(priv_read(path)), refs[i]);
	}
	cr_assert_eq((evtchn_port_t)atoi(priv_read(FE_DIR "/event-channel")), port);
	cr_assert_eq(xbdev_wait_otherend(&fx.dev, 1u << XenbusStateConnected, SECOND), 0);
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateConnected), 0);
	cr_assert_eq(node_state(FE_DIR), XenbusStateConnected);
	cr_assert_eq(fx.changes[fx.nr_changes - 1], XenbusStateConnected);
	cr_assert_eq(ss.gs->stalls, 0);

	/* Orderly removal: Closing, the back end follows, Closed. */
	xbdev_remove(&fx.dev, SECOND);
	cr_assert_eq(node_state(FE_DIR), XenbusStateClosed);
	cr_assert_eq(node_state(BE_DIR), XenbusStateClosed);
	xbdev_ungrant_ring(&fx.dev, refs, 2);
	cr_assert_eq(xg_gnttab_entry(ss.dom1->guest, refs[0])->flags, 0);
}

Test(xenbus_dev, reconnect_after_closed)
{
	grant_ref_t refs[2];
	evtchn_port_t port;

	fx.auto_be = true;
	be_set_state(XenbusStateClosed); /* so the back end's rule takes it to InitWait */
	for (int round = 0; round < 3; round++) {
		unsigned int free_before;

		probe();
		cr_assert_eq(xbdev_wait_otherend(&fx.dev, 1u << XenbusStateInitWait, SECOND), 0,
			     "round %d", round);
		free_before = ss.dom1->guest->gnttab.free_count;
		publish(refs, &port);
		cr_assert_eq(xbdev_wait_otherend(&fx.dev, 1u << XenbusStateConnected, SECOND), 0);
		cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateConnected), 0);
		xbdev_remove(&fx.dev, SECOND);
		xbdev_ungrant_ring(&fx.dev, refs, 2);
		xg_evtchn_close(ss.dom1->guest, port);
		cr_assert_eq(ss.dom1->guest->gnttab.free_count, free_before);
		cr_assert_eq(node_state(BE_DIR), XenbusStateClosed);
	}
}

Test(xenbus_dev, backend_closing_and_vanishing_reach_the_driver)
{
	probe();
	be_set_state(XenbusStateClosing);
	xb_poll(xb());
	cr_assert_eq(fx.changes[fx.nr_changes - 1], XenbusStateClosing);
	be_set_state(XenbusStateInitWait);
	xb_poll(xb());
	cr_assert_eq(fx.changes[fx.nr_changes - 1], XenbusStateInitWait);
	/* The back end's nodes go (its service died, the toolstack cleaned). */
	priv_rm(BE_DIR);
	xb_poll(xb());
	cr_assert_eq(fx.changes[fx.nr_changes - 1], XenbusStateClosed);
	/* A state that is not a state is taken as Closing. */
	priv_write(BE_DIR "/state", "banana");
	priv_perms(BE_DIR "/state", "n0\0r1", 6); /* the watch fires for readers only */
	xb_poll(xb());
	cr_assert_eq(fx.changes[fx.nr_changes - 1], XenbusStateClosing);
}

Test(xenbus_dev, no_duplicate_callbacks)
{
	unsigned int n;

	probe();
	n = fx.nr_changes;
	priv_write(BE_DIR "/feature-x", "1");  /* not the state: no event for us */
	be_set_state(XenbusStateInitialising); /* same value written again */
	xb_poll(xb());
	cr_assert_eq(fx.nr_changes, n);
}

Test(xenbus_dev, switch_state_checks_transitions)
{
	probe();
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateInitialising), 0); /* unchanged */
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateReconfiguring), -EINVAL);
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateConnected), 0);
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateInitialised), -EINVAL);
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateInitialising), -EINVAL);
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateClosed), 0);
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateInitialising), 0);
	cr_assert_eq(node_state(FE_DIR), XenbusStateInitialising);
}

Test(xenbus_dev, switch_state_does_not_recreate_a_removed_device)
{
	probe();
	priv_rm(FE_DIR);
	cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateInitialised), -ENOENT);
	cr_assert_null(priv_read(FE_DIR));
	cr_assert_eq(fx.dev.state, XenbusStateInitialising);
}

Test(xenbus_dev, wait_times_out_on_the_guest_clock)
{
	uint64_t t0;

	probe();
	t0 = ss.gs->now_ns;
	cr_assert_eq(xbdev_wait_otherend(&fx.dev, 1u << XenbusStateConnected, 5000000), -ETIMEDOUT);
	cr_assert_geq(ss.gs->now_ns - t0, 5000000);
	/* Already there: no wait at all. */
	cr_assert_eq(xbdev_wait_otherend(&fx.dev, 1u << XenbusStateInitialising, 0), 0);
}

Test(xenbus_dev, remove_is_bounded_with_a_silent_back_end)
{
	probe();
	xbdev_remove(&fx.dev, 3000000);
	cr_assert_eq(node_state(FE_DIR), XenbusStateClosed);
	cr_assert_eq(node_state(BE_DIR), XenbusStateInitialising);
	/* Unwatched: back-end changes no longer reach the driver. */
	fx.nr_changes = 0;
	be_set_state(XenbusStateClosing);
	xb_poll(xb());
	cr_assert_eq(fx.nr_changes, 0);
}

Test(xenbus_dev, grant_ring_failure_leaves_nothing_granted)
{
	unsigned int free_before;
	grant_ref_t refs[4];
	uint8_t *ram_end;

	probe();
	free_before = ss.dom1->guest->gnttab.free_count;
	/* The last RAM page and the three beyond it: page 2 is no guest memory. */
	ram_end = ss.dom1->ram + (ss.dom1->max_pages - 1) * 4096;
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ram_end, 4, refs), -EFAULT);
	cr_assert_eq(ss.dom1->guest->gnttab.free_count, free_before);
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ram_end + 1, 1, refs), -EINVAL);
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ram_end, 0, refs), -EINVAL);
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ram_end, 1000, refs), -EINVAL);
	/* Out of refs midway: the ones granted are given back. */
	{
		unsigned int n = ss.dom1->guest->gnttab.free_count;
		void *pages = gs_alloc_pages(ss.dom1, 2);
		grant_ref_t hog[1024];

		cr_assert_not_null(pages);
		cr_assert_lt(n, 1024);
		for (unsigned int i = 0; i + 1 < n; i++)
			hog[i] = (grant_ref_t)xg_gnttab_alloc_ref(ss.dom1->guest);
		cr_assert_eq(xbdev_grant_ring(&fx.dev, pages, 2, refs), -ENOSPC);
		cr_assert_eq(ss.dom1->guest->gnttab.free_count, 1);
		for (unsigned int i = 0; i + 1 < n; i++)
			xg_gnttab_free_ref(ss.dom1->guest, hog[i]);
	}
}
