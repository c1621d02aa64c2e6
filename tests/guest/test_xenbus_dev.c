/*
 * The xenbus front-end library (guest/xenbus_dev.c) against the real
 * XenStore engine and the real hypervisor core, in one process.
 *
 * dom0 and dom1 boot in guestsim; dom1's store ring is served by the engine
 * (ring transport) and its event channel, as in test_xenbus.c's sim suite.
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

#include "engine.h"
#include "guestsim.h"
#include "transport_ring.h"
#include "xenbus_dev.h"

#define FE 1
#define FE_HOME "/local/domain/1"
#define FE_DIR FE_HOME "/device/vbd/768"
#define BE_DIR "/local/domain/0/backend/vbd/1/768"

struct capture {
	struct xsd_sockmsg hdr;
	char payload[XENSTORE_PAYLOAD_MAX + 1];
};

static struct fixture {
	struct guestsim *gs;
	struct gs_domain *dom0, *dom1;
	struct xs_store *store;
	struct xs_conn *priv;
	struct capture cap;
	struct xs_ring *ring;
	struct xslog log;
	evtchn_port_t dom0_port;
	struct evtchn_send *send_arg;
	bool store_kicked;
	struct xenbus_guest storage;
	bool auto_be;
	unsigned int be_steps;
	/* What otherend_changed saw. */
	unsigned int nr_changes;
	enum xenbus_state changes[64];
	struct xbdev dev;
} fx;

static int capture_send(void *t, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct capture *c = t;

	c->hdr = *hdr;
	memcpy(c->payload, payload, hdr->len);
	c->payload[hdr->len] = '\0';
	return 0;
}

static const struct xs_conn_ops capture_ops = { .send = capture_send };

static int accept_introduce(void *ctx, struct xs_store *s, unsigned int domid, uint64_t gfn,
			    unsigned int port)
{
	return 0;
}

static uint32_t priv_call(uint32_t type, const void *payload, size_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = 77, .len = (uint32_t)len };

	xs_conn_request(fx.priv, &h, payload);
	return fx.cap.hdr.type;
}

static void priv_write(const char *path, const char *value)
{
	char buf[1024];
	size_t pl = strlen(path) + 1, vl = strlen(value);

	memcpy(buf, path, pl);
	memcpy(buf + pl, value, vl);
	cr_assert_eq(priv_call(XS_WRITE, buf, pl + vl), XS_WRITE, "%s: %s", path, fx.cap.payload);
}

/* The node's value, or NULL if absent (static buffer). */
static const char *priv_read(const char *path)
{
	static char value[XENSTORE_PAYLOAD_MAX + 1];

	if (priv_call(XS_READ, path, strlen(path) + 1) != XS_READ)
		return NULL;
	snprintf(value, sizeof(value), "%s", fx.cap.payload);
	return value;
}

static void priv_rm(const char *path)
{
	priv_call(XS_RM, path, strlen(path) + 1);
}

static void priv_perms(const char *path, const char *perms, size_t len)
{
	char buf[256];
	size_t pl = strlen(path) + 1;

	memcpy(buf, path, pl);
	memcpy(buf + pl, perms, len);
	cr_assert_eq(priv_call(XS_SET_PERMS, buf, pl + len), XS_SET_PERMS, "%s", fx.cap.payload);
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

/* ---- the guestsim plumbing (see test_xenbus.c) ---- */

static irqreturn_t dom0_store_irq(int irq, void *dev_id)
{
	fx.store_kicked = true;
	return IRQ_HANDLED;
}

static void ring_notify(void *ctx)
{
	uint64_t args[5] = { EVTCHNOP_send, gs_gfn(fx.dom0, fx.send_arg) * 4096 };

	fx.send_arg->port = fx.dom0_port;
	cr_assert_eq(hypercall(fx.gs->hv, 0, 0, __HYPERVISOR_event_channel_op, args, NULL), 0);
}

static const struct xs_ring_evtchn_ops ring_evtchn = { .notify = ring_notify };

static int store_pump(void *arg)
{
	if (!fx.store_kicked)
		return 0;
	fx.store_kicked = false;
	xs_ring_kick(fx.ring);
	return 1;
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
	struct xs_domain_ops dops = { .introduce = accept_introduce };
	struct xs_config cfg;
	static const char intro[] = "1\0"
				    "4660\0"
				    "5";
	static const char perms[] = FE_HOME "\0n1";
	struct xenstore_domain_interface *intf;
	int irq;

	memset(&fx, 0, sizeof(fx));
	fx.log.fd = -1;
	fx.gs = gs_create(NULL);
	cr_assert_not_null(fx.gs);
	fx.dom0 = gs_boot(fx.gs, 0, true, 1, 64);
	fx.dom1 = gs_boot(fx.gs, 1, false, 1, 64);
	cr_assert(fx.dom0 && fx.dom1);
	fx.send_arg = gs_alloc_pages(fx.dom0, 1);
	xs_config_defaults(&cfg);
	fx.store = xs_store_create(&cfg, &dops);
	fx.priv = xs_conn_create(fx.store, 0, true, &capture_ops, &fx.cap);
	cr_assert(fx.store && fx.priv);
	cr_assert_eq(priv_call(XS_INTRODUCE, intro, sizeof(intro)), XS_INTRODUCE);
	cr_assert_eq(priv_call(XS_MKDIR, FE_HOME, sizeof(FE_HOME)), XS_MKDIR);
	cr_assert_eq(priv_call(XS_SET_PERMS, perms, sizeof(perms)), XS_SET_PERMS);
	intf = gs_gpa_to_virt(fx.dom1, fx.dom1->layout.store_gfn * 4096);
	cr_assert_eq(xs_ring_create(fx.store, FE, intf, &ring_evtchn, NULL, &fx.log, &fx.ring), 0);
	gs_enter(fx.dom0, 0);
	irq = xg_bind_interdomain_evtchn_to_irqhandler(fx.dom0->guest, FE,
						       fx.dom1->layout.store_evtchn, dom0_store_irq,
						       0, "xenstored", NULL);
	cr_assert_geq(irq, 0);
	fx.dom0_port = (evtchn_port_t)xg_evtchn_from_irq(fx.dom0->guest, irq);
	cr_assert_eq(gs_add_pump(fx.gs, store_pump, NULL), 0);
	cr_assert_eq(gs_add_pump(fx.gs, be_pump, NULL), 0);
	gs_enter(fx.dom1, 0);
	cr_assert_eq(xenbus_init(&fx.storage), 0);
	cr_assert_eq(xg_gnttab_init(fx.dom1->guest, 0, 1), 0);
	toolstack_entries();
}

static void teardown(void)
{
	xs_ring_destroy(fx.ring);
	xs_conn_destroy(fx.priv);
	xs_store_destroy(fx.store);
	gs_destroy(fx.gs);
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
	return &fx.storage.xb;
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
	void *ring = gs_alloc_pages(fx.dom1, 2);

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
		grant_entry_v1_t *e = xg_gnttab_entry(fx.dom1->guest, refs[i]);

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
	cr_assert_eq(fx.gs->stalls, 0);

	/* Orderly removal: Closing, the back end follows, Closed. */
	xbdev_remove(&fx.dev, SECOND);
	cr_assert_eq(node_state(FE_DIR), XenbusStateClosed);
	cr_assert_eq(node_state(BE_DIR), XenbusStateClosed);
	xbdev_ungrant_ring(&fx.dev, refs, 2);
	cr_assert_eq(xg_gnttab_entry(fx.dom1->guest, refs[0])->flags, 0);
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
		free_before = fx.dom1->guest->gnttab.free_count;
		publish(refs, &port);
		cr_assert_eq(xbdev_wait_otherend(&fx.dev, 1u << XenbusStateConnected, SECOND), 0);
		cr_assert_eq(xbdev_switch_state(&fx.dev, XenbusStateConnected), 0);
		xbdev_remove(&fx.dev, SECOND);
		xbdev_ungrant_ring(&fx.dev, refs, 2);
		xg_evtchn_close(fx.dom1->guest, port);
		cr_assert_eq(fx.dom1->guest->gnttab.free_count, free_before);
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
	t0 = fx.gs->now_ns;
	cr_assert_eq(xbdev_wait_otherend(&fx.dev, 1u << XenbusStateConnected, 5000000), -ETIMEDOUT);
	cr_assert_geq(fx.gs->now_ns - t0, 5000000);
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
	free_before = fx.dom1->guest->gnttab.free_count;
	/* The last RAM page and the three beyond it: page 2 is no guest memory. */
	ram_end = fx.dom1->ram + (fx.dom1->max_pages - 1) * 4096;
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ram_end, 4, refs), -EFAULT);
	cr_assert_eq(fx.dom1->guest->gnttab.free_count, free_before);
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ram_end + 1, 1, refs), -EINVAL);
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ram_end, 0, refs), -EINVAL);
	cr_assert_eq(xbdev_grant_ring(&fx.dev, ram_end, 1000, refs), -EINVAL);
	/* Out of refs midway: the ones granted are given back. */
	{
		unsigned int n = fx.dom1->guest->gnttab.free_count;
		void *pages = gs_alloc_pages(fx.dom1, 2);
		grant_ref_t hog[1024];

		cr_assert_not_null(pages);
		cr_assert_lt(n, 1024);
		for (unsigned int i = 0; i + 1 < n; i++)
			hog[i] = (grant_ref_t)xg_gnttab_alloc_ref(fx.dom1->guest);
		cr_assert_eq(xbdev_grant_ring(&fx.dev, pages, 2, refs), -ENOSPC);
		cr_assert_eq(fx.dom1->guest->gnttab.free_count, 1);
		for (unsigned int i = 0; i + 1 < n; i++)
			xg_gnttab_free_ref(fx.dom1->guest, hog[i]);
	}
}
