/*
 * The xenbus client against the real XenStore: the engine and the ring
 * transport from dom0/xenstored run in this process and serve the guest's
 * store page. The client's wait hook is where the server runs (it kicks the
 * ring), and a fake clock advances 1 ms per wait, so a server that never
 * answers costs a bounded number of steps, not wall time.
 *
 * dom0's own privileged connection (priv_write) plays the other writer in
 * transaction conflicts and watch tests. The store is store_sim.h's.
 *
 * The second suite (xenbus_sim) runs the whole path (store_sim_boot): dom0
 * and dom1 booted in guestsim on the real hypervisor core, dom1 using the
 * context-free API over the store page and event channel start_info names,
 * dom0's end of that channel bound with EVTCHNOP_bind_interdomain and its
 * handler kicking the ring transport from the harness pump.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sim.h"

#define DOMID STORE_SIM_DOMID
#define HOME STORE_SIM_HOME

static struct store_sim ss;

/* The first suite's client: the ring on a page of ours. */
static struct fixture {
	struct xenstore_domain_interface *intf;
	struct xenbus xb;
	uint64_t now;
	unsigned int waits, notifies;
	bool server_asleep; /* the wait hook does not run the server */
	bool signalled;	    /* the client notified since the last kick */
} fx;

static void server_notify(void *ctx)
{
	/* The store's event channel to the guest: the client finds the
	 * ring's new contents when its wait returns. */
}

static const struct xs_ring_evtchn_ops ring_evtchn = { .notify = server_notify };

/* ---- the client's environment: the server runs in its wait ---- */

/* The server runs only when signalled, as over a real event channel, so a
 * missing notification shows up as a timeout. */
static void env_notify(void *ctx)
{
	fx.notifies++;
	fx.signalled = true;
}

static void env_wait(void *ctx, uint64_t deadline)
{
	fx.waits++;
	fx.now += 1000000;
	if (!fx.server_asleep && fx.signalled) {
		fx.signalled = false;
		xs_ring_kick(ss.ring);
	}
}

static uint64_t env_now(void *ctx)
{
	return fx.now;
}

static const struct xen_ring_env_ops env = {
	.notify = env_notify,
	.wait = env_wait,
	.now_ns = env_now,
};

/* dom0 writes, as the toolstack or a conflicting writer. */
static void priv_write(const char *path, const char *value)
{
	store_sim_write(&ss, path, value);
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	store_sim_init(&ss, 8192); /* room for the 3000-byte values */
	fx.intf = aligned_alloc(4096, 4096);
	cr_assert_not_null(fx.intf);
	memset(fx.intf, 0, 4096);
	store_sim_attach(&ss, fx.intf, &ring_evtchn, &fx);
	cr_assert_eq(xb_init(&fx.xb, fx.intf, &env, &fx), 0);
}

static void teardown(void)
{
	store_sim_fini(&ss);
	free(fx.intf);
}

TestSuite(xenbus, .init = setup, .fini = teardown);

static void expect_value(const char *path, const char *want)
{
	char buf[4200];
	size_t n = 0;

	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, path, buf, sizeof(buf), &n), 0, "%s", path);
	cr_assert_eq(n, strlen(want));
	cr_assert_str_eq(buf, want);
}

Test(xenbus, features_seen_at_init)
{
	cr_assert_eq(fx.xb.server_features,
		     XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR);
}

Test(xenbus, write_then_read)
{
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/name", "guest-one", 9), 0);
	expect_value(HOME "/name", "guest-one");
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/empty", "", 0), 0);
	expect_value(HOME "/empty", "");
}

Test(xenbus, read_short_buffer_is_erange_with_needed_length)
{
	char buf[4];
	size_t n = 0;

	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/k", "four", 4), 0);
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/k", buf, sizeof(buf), &n), -ERANGE);
	cr_assert_eq(n, 4);
	/* The client is still in step with the server afterwards. */
	expect_value(HOME "/k", "four");
}

Test(xenbus, mkdir_directory_rm)
{
	char buf[256];
	unsigned int count = 0;

	cr_assert_eq(xb_mkdir(&fx.xb, XBT_NIL, HOME "/dev"), 0);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/dev/a", "1", 1), 0);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/dev/b", "2", 1), 0);
	cr_assert_eq(xb_mkdir(&fx.xb, XBT_NIL, HOME "/dev/c"), 0);
	cr_assert_eq(xb_directory(&fx.xb, XBT_NIL, HOME "/dev", buf, sizeof(buf), &count), 0);
	cr_assert_eq(count, 3);
	cr_assert_eq(memcmp(buf, "a\0b\0c\0", 6), 0);
	cr_assert_eq(xb_rm(&fx.xb, XBT_NIL, HOME "/dev/b"), 0);
	cr_assert_eq(xb_directory(&fx.xb, XBT_NIL, HOME "/dev", buf, sizeof(buf), &count), 0);
	cr_assert_eq(count, 2);
	cr_assert_eq(xb_rm(&fx.xb, XBT_NIL, HOME "/dev"), 0);
	cr_assert_eq(xb_directory(&fx.xb, XBT_NIL, HOME "/dev", buf, sizeof(buf), &count), -ENOENT);
}

Test(xenbus, perms_set_and_get)
{
	struct xenbus_perm set[] = { { DOMID, 'n' }, { 0, 'r' }, { 7, 'b' } }, got[4];
	unsigned int n = 0;

	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/p", "x", 1), 0);
	cr_assert_eq(xb_set_perms(&fx.xb, XBT_NIL, HOME "/p", set, 3), 0);
	cr_assert_eq(xb_get_perms(&fx.xb, XBT_NIL, HOME "/p", got, 4, &n), 0);
	cr_assert_eq(n, 3);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(got[i].domid, set[i].domid);
		cr_assert_eq(got[i].perm, set[i].perm);
	}
	cr_assert_eq(xb_get_perms(&fx.xb, XBT_NIL, HOME "/p", got, 2, &n), -ERANGE);
	cr_assert_eq(n, 3);
	set[0].perm = 'x';
	cr_assert_eq(xb_set_perms(&fx.xb, XBT_NIL, HOME "/p", set, 3), -EINVAL);
}

/* 3000 bytes each way: both messages span three ring-fulls. */
Test(xenbus, value_larger_than_ring_both_directions)
{
	static char big[3001], back[3100];
	size_t n = 0;

	for (size_t i = 0; i < 3000; i++)
		big[i] = (char)('a' + i % 26);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/big", big, 3000), 0);
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/big", back, sizeof(back), &n), 0);
	cr_assert_eq(n, 3000);
	cr_assert_eq(memcmp(back, big, 3000), 0);
	/* And many in a row, so the free-running indices wrap the ring often. */
	for (int i = 0; i < 50; i++)
		cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/big", back, sizeof(back), &n), 0);
	cr_assert_eq(memcmp(back, big, 3000), 0);
}

Test(xenbus, indices_wrap_at_2_to_the_32)
{
	/* As a guest that has talked for a long time: both rings near 2^32. */
	fx.intf->req_cons = fx.intf->req_prod = 0xfffffe00u;
	fx.intf->rsp_cons = fx.intf->rsp_prod = 0xfffffe00u;
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/w", "wrap", 4), 0);
		expect_value(HOME "/w", "wrap");
	}
	cr_assert_lt(fx.intf->req_prod, 0x10000u);
}

Test(xenbus, error_names_become_errnos)
{
	char buf[16];
	size_t n;
	unsigned int count;

	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/nope", buf, sizeof(buf), &n), -ENOENT);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, "/local/domain/0/x", "v", 1), -EACCES);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, "no/such//path", "v", 1), -EINVAL);
	cr_assert_eq(xb_directory(&fx.xb, XBT_NIL, HOME "/nope", buf, sizeof(buf), &count),
		     -ENOENT);
	cr_assert_eq(xb_transaction_end(&fx.xb, 12345, false), -ENOENT);
}

Test(xenbus, domain_path)
{
	char buf[64];

	cr_assert_eq(xb_get_domain_path(&fx.xb, DOMID, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, HOME);
	cr_assert_eq(xb_get_domain_path(&fx.xb, 0, buf, 4), -ERANGE);
}

Test(xenbus, transaction_commit_and_abort)
{
	xenbus_transaction_t t;

	cr_assert_eq(xb_transaction_start(&fx.xb, &t), 0);
	cr_assert_neq(t, XBT_NIL);
	cr_assert_eq(xb_write(&fx.xb, t, HOME "/t", "in", 2), 0);
	cr_assert_eq(xb_transaction_end(&fx.xb, t, false), 0);
	expect_value(HOME "/t", "in");

	cr_assert_eq(xb_transaction_start(&fx.xb, &t), 0);
	cr_assert_eq(xb_write(&fx.xb, t, HOME "/t", "aborted", 7), 0);
	cr_assert_eq(xb_transaction_end(&fx.xb, t, true), 0);
	expect_value(HOME "/t", "in");
}

Test(xenbus, transaction_conflict_is_eagain)
{
	xenbus_transaction_t t;
	char buf[16];
	size_t n;

	priv_write(HOME "/c", "0");
	cr_assert_eq(xb_transaction_start(&fx.xb, &t), 0);
	cr_assert_eq(xb_read(&fx.xb, t, HOME "/c", buf, sizeof(buf), &n), 0);
	priv_write(HOME "/c", "dom0 was here");
	cr_assert_eq(xb_write(&fx.xb, t, HOME "/c", "1", 1), 0);
	cr_assert_eq(xb_transaction_end(&fx.xb, t, false), -EAGAIN);
	expect_value(HOME "/c", "dom0 was here");
}

struct incr {
	int attempts, conflicts;
};

/* Increments HOME/counter; dom0 interferes on the first `conflicts` tries. */
static int incr_fn(void *ctx, xenbus_transaction_t t)
{
	struct incr *in = ctx;
	char buf[16];
	size_t n;
	int rc;

	in->attempts++;
	rc = xb_read(&fx.xb, t, HOME "/counter", buf, sizeof(buf), &n);
	if (rc < 0)
		return rc;
	if (in->attempts <= in->conflicts)
		priv_write(HOME "/counter", "100");
	snprintf(buf, sizeof(buf), "%d", atoi(buf) + 1);
	return xb_write(&fx.xb, t, HOME "/counter", buf, strlen(buf));
}

Test(xenbus, transaction_helper_retries_on_conflict)
{
	struct incr in = { .conflicts = 2 };

	priv_write(HOME "/counter", "5");
	cr_assert_eq(xb_transaction(&fx.xb, incr_fn, &in), 0);
	cr_assert_eq(in.attempts, 3);
	expect_value(HOME "/counter", "101");
}

Test(xenbus, transaction_helper_gives_up_after_bounded_retries)
{
	struct incr in = { .conflicts = 1000 };

	priv_write(HOME "/counter", "5");
	cr_assert_eq(xb_transaction(&fx.xb, incr_fn, &in), -EAGAIN);
	cr_assert_eq(in.attempts, XENBUS_TXN_RETRIES);
}

static int fail_fn(void *ctx, xenbus_transaction_t t)
{
	xb_write(&fx.xb, t, HOME "/never", "x", 1);
	return -EPERM;
}

Test(xenbus, transaction_helper_aborts_on_callback_error)
{
	char buf[8];
	size_t n;

	cr_assert_eq(xb_transaction(&fx.xb, fail_fn, NULL), -EPERM);
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/never", buf, sizeof(buf), &n), -ENOENT);
}

struct seen {
	int n;
	char path[8][128];
	char token[8][32];
};

static void record_cb(void *ctx, const char *path, const char *token)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		snprintf(s->path[s->n], sizeof(s->path[0]), "%s", path);
		snprintf(s->token[s->n], sizeof(s->token[0]), "%s", token);
	}
	s->n++;
}

Test(xenbus, watch_initial_and_later_events)
{
	struct seen s = { 0 };

	cr_assert_eq(xb_watch(&fx.xb, HOME "/state", "tok", record_cb, &s), 0);
	/* xenstored sends the initial event right after the reply; it is
	 * dispatched as the request returns, or by a wait if it came later. */
	if (s.n == 0)
		cr_assert_gt(xb_wait_event(&fx.xb, 1000000000ull), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.path[0], HOME "/state");
	cr_assert_str_eq(s.token[0], "tok");

	/* A change by dom0 arrives between requests and waits for a poll. */
	priv_write(HOME "/state/x", "4");
	cr_assert_eq(s.n, 1);
	cr_assert_eq(xb_poll(&fx.xb), 1);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.path[1], HOME "/state/x");

	/* Our own write: its event is dispatched when the request returns. */
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/state", "3", 1), 0);
	cr_assert_eq(s.n, 3);

	cr_assert_eq(xb_unwatch(&fx.xb, HOME "/state", "tok"), 0);
	priv_write(HOME "/state", "5");
	cr_assert_eq(xb_poll(&fx.xb), 0);
	cr_assert_eq(s.n, 3);
	cr_assert_eq(xb_unwatch(&fx.xb, HOME "/state", "tok"), -ENOENT);
}

Test(xenbus, watch_token_must_be_unique)
{
	struct seen s = { 0 };

	cr_assert_eq(xb_watch(&fx.xb, HOME "/a", "t", record_cb, &s), 0);
	cr_assert_eq(xb_watch(&fx.xb, HOME "/b", "t", record_cb, &s), -EEXIST);
}

static void reading_cb(void *ctx, const char *path, const char *token)
{
	char buf[16];
	size_t n;
	int *reads = ctx;

	/* Callbacks run outside requests, so they may make requests. */
	if (xb_read(&fx.xb, XBT_NIL, HOME "/r", buf, sizeof(buf), &n) == 0)
		(*reads)++;
}

Test(xenbus, callback_may_make_requests)
{
	int reads = 0;

	priv_write(HOME "/r", "v");
	cr_assert_eq(xb_watch(&fx.xb, HOME "/r", "r", reading_cb, &reads), 0);
	cr_assert_eq(reads, 1);
}

Test(xenbus, event_queue_overflow_is_reported_and_merged)
{
	struct seen s = { 0 };
	char path[64];

	cr_assert_eq(xb_watch(&fx.xb, HOME "/flood", "f", record_cb, &s), 0);
	s.n = 0;
	/* 2000 events (> 16 KiB queued) arrive before the next reply. */
	for (int i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), HOME "/flood/%d", i % 10);
		priv_write(path, "x");
	}
	expect_value(HOME "/flood/3", "x");
	cr_assert_gt(fx.xb.stats.events_dropped, 0);
	/* Every queued event, then one merged event on the watched path
	 * (stats.events also counts the initial event, dispatched before). */
	cr_assert_eq((uint64_t)s.n, fx.xb.stats.events - fx.xb.stats.events_dropped,
		     "n %d events %lu dropped %lu", s.n, (unsigned long)fx.xb.stats.events,
		     (unsigned long)fx.xb.stats.events_dropped);
}

Test(xenbus, silent_server_times_out_bounded)
{
	char buf[8];
	size_t n;

	fx.server_asleep = true;
	fx.xb.timeout_ns = 50 * 1000000ull;
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/x", buf, sizeof(buf), &n), -ETIMEDOUT);
	cr_assert_leq(fx.waits, 51);
	/* The request went out whole: the late reply is dropped by req_id. */
	fx.server_asleep = false;
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/x", "late", 4), 0);
	expect_value(HOME "/x", "late");
	cr_assert_eq(fx.xb.stats.stale_replies, 1);
}

Test(xenbus, corrupt_response_index_is_eio_not_hang)
{
	char buf[8];
	size_t n;

	fx.intf->rsp_prod = fx.intf->rsp_cons + 5000;
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/x", buf, sizeof(buf), &n), -EIO);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/x", "1", 1), -EIO);
	/* Reconnection resets the page and brings the client back. */
	cr_assert_eq(xb_reconnect(&fx.xb), 0);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/x", "1", 1), 0);
	expect_value(HOME "/x", "1");
}

Test(xenbus, server_error_field_stops_client)
{
	char buf[8];
	size_t n;

	/* Our request index corrupted: the server stops and says so. */
	fx.intf->req_prod = fx.intf->req_cons + 4000;
	xs_ring_kick(ss.ring);
	cr_assert_eq(fx.intf->error, XENSTORE_ERROR_RINGIDX);
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/x", buf, sizeof(buf), &n), -EIO);
	cr_assert_eq(xb_reconnect(&fx.xb), 0);
	cr_assert_eq(fx.intf->error, XENSTORE_ERROR_NONE);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/x", "ok", 2), 0);
}

Test(xenbus, oversized_reply_header_is_eio)
{
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 1, .len = XENSTORE_PAYLOAD_MAX + 1 };
	char buf[8];
	size_t n;

	fx.server_asleep = true;
	memcpy(fx.intf->rsp, &h, sizeof(h));
	fx.intf->rsp_prod += sizeof(h);
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, HOME "/x", buf, sizeof(buf), &n), -EIO);
}

Test(xenbus, reconnect_rewatches)
{
	struct seen s = { 0 };

	cr_assert_eq(xb_watch(&fx.xb, HOME "/rw", "rw", record_cb, &s), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(xb_reconnect(&fx.xb), 0);
	/* The server forgot the watch; the client registered it again. */
	xb_poll(&fx.xb);
	priv_write(HOME "/rw", "after");
	cr_assert_gt(xb_poll(&fx.xb), 0);
	cr_assert_str_eq(s.path[s.n - 1], HOME "/rw");
}

Test(xenbus, bad_arguments)
{
	static char huge[XENSTORE_ABS_PATH_MAX + 10];
	char buf[8];
	size_t n;

	memset(huge, 'a', sizeof(huge) - 1);
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, huge, buf, sizeof(buf), &n), -ENAMETOOLONG);
	cr_assert_eq(xb_read(&fx.xb, XBT_NIL, NULL, buf, sizeof(buf), &n), -EINVAL);
	cr_assert_eq(xb_write(&fx.xb, XBT_NIL, HOME "/v", huge, 5000), -E2BIG);
	cr_assert_eq(xb_transaction_end(&fx.xb, XBT_NIL, false), -EINVAL);
}

/* ==== the whole path: guestsim, the core's event channels ==== */

static void sim_setup(void)
{
	memset(&fx, 0, sizeof(fx));
	store_sim_boot(&ss, 8192);
}

static void sim_teardown(void)
{
	store_sim_fini(&ss);
}

TestSuite(xenbus_sim, .init = sim_setup, .fini = sim_teardown);

Test(xenbus_sim, start_info_names_the_store)
{
	struct start_info *si = ss.dom1->guest->start_info;

	cr_assert_eq(si->store_mfn, ss.dom1->layout.store_gfn);
	cr_assert_eq(si->store_evtchn, ss.dom1->layout.store_evtchn);
	cr_assert_eq(xen_guest_current()->xenbus, &ss.storage.xb);
}

Test(xenbus_sim, read_write_dir_rm_over_event_channels)
{
	char buf[128];
	size_t n;
	unsigned int count;

	cr_assert_eq(xenbus_write(XBT_NIL, HOME "/device/vif/0/state", "1", 1), 0);
	cr_assert_eq(xenbus_read(XBT_NIL, HOME "/device/vif/0/state", buf, sizeof(buf), &n), 0);
	cr_assert_str_eq(buf, "1");
	cr_assert_eq(xenbus_directory(XBT_NIL, HOME "/device", buf, sizeof(buf), &count), 0);
	cr_assert_eq(count, 1);
	cr_assert_str_eq(buf, "vif");
	cr_assert_eq(xenbus_rm(XBT_NIL, HOME "/device"), 0);
	cr_assert_eq(xenbus_read(XBT_NIL, HOME "/device/vif/0/state", buf, sizeof(buf), &n),
		     -ENOENT);
	cr_assert_eq(xenbus_get_domain_path(DOMID, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, HOME);
	/* Every wait ended by an event, never by a deadline or a stall. */
	cr_assert_gt(ss.kicks, 0);
	cr_assert_gt(ss.sends, 0);
	cr_assert_eq(ss.gs->stalls, 0);
}

Test(xenbus_sim, big_values_both_ways)
{
	static char big[3001], back[3100];
	size_t n = 0;

	for (size_t i = 0; i < 3000; i++)
		big[i] = (char)('A' + i % 26);
	cr_assert_eq(xenbus_write(XBT_NIL, HOME "/big", big, 3000), 0);
	/* The reply needs three ring-fulls: the client must signal the room
	 * it frees, or xenstored never sends the rest (this timed out). */
	cr_assert_eq(xenbus_read(XBT_NIL, HOME "/big", back, sizeof(back), &n), 0);
	cr_assert_eq(n, 3000);
	cr_assert_eq(memcmp(back, big, 3000), 0);
	cr_assert_eq(ss.gs->stalls, 0);
}

static int sim_incr(void *ctx, xenbus_transaction_t t)
{
	int *attempts = ctx;
	char buf[16];
	size_t n;
	int rc = xenbus_read(t, HOME "/n", buf, sizeof(buf), &n);

	if (rc < 0)
		return rc;
	if (++*attempts == 1)
		priv_write(HOME "/n", "10");
	snprintf(buf, sizeof(buf), "%d", atoi(buf) + 1);
	return xenbus_write(t, HOME "/n", buf, strlen(buf));
}

Test(xenbus_sim, transaction_conflict_and_retry)
{
	int attempts = 0;
	char buf[16];
	size_t n;

	priv_write(HOME "/n", "1");
	cr_assert_eq(xenbus_transaction(sim_incr, &attempts), 0);
	cr_assert_eq(attempts, 2);
	cr_assert_eq(xenbus_read(XBT_NIL, HOME "/n", buf, sizeof(buf), &n), 0);
	cr_assert_str_eq(buf, "11");
}

Test(xenbus_sim, watch_events_arrive_by_event_channel)
{
	struct seen s = { 0 };

	cr_assert_eq(xenbus_watch(HOME "/backend", "be", record_cb, &s), 0);
	if (s.n == 0)
		cr_assert_gt(xb_wait_event(&ss.storage.xb, 1000000000ull), 0);
	cr_assert_eq(s.n, 1);
	/* dom0 changes the node: xenstored signals dom1 through the core. */
	priv_write(HOME "/backend/state", "4");
	cr_assert_eq(xenbus_poll(), 1);
	cr_assert_str_eq(s.path[1], HOME "/backend/state");
	cr_assert_eq(xenbus_unwatch(HOME "/backend", "be"), 0);
}

Test(xenbus_sim, silent_server_times_out_on_the_guest_clock)
{
	char buf[8];
	size_t n;
	uint64_t t0 = ss.gs->now_ns;

	gs_remove_pump(ss.gs, store_sim_pump, &ss);
	ss.storage.xb.timeout_ns = 5 * 1000000ull;
	cr_assert_eq(xenbus_read(XBT_NIL, HOME "/x", buf, sizeof(buf), &n), -ETIMEDOUT);
	cr_assert_geq(ss.gs->now_ns - t0, 5 * 1000000ull);
}
