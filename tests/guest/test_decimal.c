/*
 * The guest library's decimal parser and formatter (guest/xg_decimal.h),
 * and every caller of them, through the callers' public entry points.
 *
 * The helper's own cases come first. Then a differential check of the
 * callers: each had its own parser before the helper existed (commit
 * 33c941f), and must still accept exactly the strings it accepted, with
 * the same value, refusing the others with the error its API documents
 * (vchan's -EBADMSG was -EPROTO then). The old parsers are kept below as
 * oracles, each composed with what its caller does around it and did
 * before too (its buffer, what a NUL means, an extra rule of its own). The
 * other side is the caller itself, fed each input the way inputs reach it:
 *
 *   wrapper (file)                      driven through, the input as
 *   xb_parse_uint (xenbus.c)            xb_transaction_start: the reply
 *                                       xb_get_perms: the reply "b<input>\0"
 *   xbdev_parse_ulong (xenbus_dev.c)    xbdev_read_otherend_uint: a value
 *                                       in xenstored's engine
 *   xbdev_enumerate's ids               xbdev_enumerate: a directory reply
 *   vchan_atou (vchan.c)                vchan_client_init: the ring-ref or
 *                                       event-channel node
 *   vg_read_domid (vchan_guest.c)       vchan_guest_setup: the domid reply
 *
 * Replies come from a scripted server: a store page whose client wait hook
 * answers each request with the reply the test armed (and keeps the
 * request). Node values for xbdev come from the real engine (store_sim.h),
 * to which a probed device is connected; vchan's store is an environment
 * of ours whose map fails with -ENXIO after recording what it was asked,
 * so a parsed value shows up as the grant and port the core then used.
 * Inputs: every string of up to 6 bytes over a small alphabet (digits,
 * junk, NUL), each caller's limits +-2 with padding and junk, and seeded
 * random digit runs.
 *
 * The formatter's callers likewise: what xb_set_perms and
 * xb_get_domain_path put in the request for every domid, and the ring-ref
 * and event-channel vchan_server_init writes at the u32 edges, against
 * printf's "%u".
 *
 * Not here: lib/xenbus_be's parse_uint sits behind libxenstore (a real
 * daemon); tests/integration/test_xenbus_be.c drives it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>

#include "store_sim.h"
#include "xen_vchan.h"
#include "xenbus_dev.h"
#include "xg_decimal.h"

static uint64_t parse_ok(const char *s, uint64_t max)
{
	uint64_t v = 0;

	cr_assert_eq(xg_parse_u64(s, strlen(s), max, &v), 0, "\"%s\" refused", s);
	return v;
}

static int parse_rc(const char *s, size_t len, uint64_t max)
{
	uint64_t v = 0x5a5a;
	int rc = xg_parse_u64(s, len, max, &v);

	if (rc < 0)
		cr_assert_eq(v, 0x5a5a, "*ret written on failure");
	return rc;
}

Test(decimal, empty)
{
	cr_assert_eq(parse_rc("", 0, UINT64_MAX), -XEN_EINVAL);
	cr_assert_eq(parse_rc("12", 0, UINT64_MAX), -XEN_EINVAL, "len 0 is empty");
}

Test(decimal, zero_and_leading_zeros)
{
	cr_assert_eq(parse_ok("0", UINT64_MAX), 0);
	cr_assert_eq(parse_ok("0", 0), 0);
	cr_assert_eq(parse_ok("00", 0), 0);
	cr_assert_eq(parse_ok("007", 7), 7);
	cr_assert_eq(parse_ok("000000000000000000000000000042", UINT64_MAX), 42);
	cr_assert_eq(parse_ok("00000000000000000000018446744073709551615", UINT64_MAX), UINT64_MAX);
}

Test(decimal, max_and_max_plus_one)
{
	cr_assert_eq(parse_ok("65535", 65535), 65535);
	cr_assert_eq(parse_rc("65536", 5, 65535), -XEN_ERANGE);
	cr_assert_eq(parse_ok("4294967295", UINT32_MAX), UINT32_MAX);
	cr_assert_eq(parse_rc("4294967296", 10, UINT32_MAX), -XEN_ERANGE);
	cr_assert_eq(parse_rc("1", 1, 0), -XEN_ERANGE);
	cr_assert_eq(parse_rc("10", 2, 9), -XEN_ERANGE);
	cr_assert_eq(parse_ok("18446744073709551615", UINT64_MAX), UINT64_MAX);
	cr_assert_eq(parse_rc("18446744073709551616", 20, UINT64_MAX), -XEN_ERANGE);
}

Test(decimal, overflow_of_twenty_digits_and_more)
{
	cr_assert_eq(parse_rc("99999999999999999999", 20, UINT64_MAX), -XEN_ERANGE);
	cr_assert_eq(parse_rc("100000000000000000000", 21, UINT64_MAX), -XEN_ERANGE);
	cr_assert_eq(parse_rc("36893488147419103232", 20, UINT64_MAX), -XEN_ERANGE, "2^65");
	cr_assert_eq(parse_rc("99999999999999999999", 20, 65535), -XEN_ERANGE);
}

Test(decimal, junk)
{
	static const char *const junk[] = { " 1",   "1 ",  "+1",       "-1", "1a",
					    "0x10", "1.0", "\xd9\xa1", "\t7" };

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		cr_assert_eq(parse_rc(junk[i], strlen(junk[i]), UINT64_MAX), -XEN_EINVAL, "\"%s\"",
			     junk[i]);
	cr_assert_eq(parse_rc("12\0", 3, UINT64_MAX), -XEN_EINVAL, "a NUL inside len is junk");
	cr_assert_eq(parse_rc("99999999999999999999999x", 24, UINT64_MAX), -XEN_EINVAL,
		     "junk wins over range");
}

Test(decimal, reads_only_len_bytes)
{
	char s[3] = { '1', '2', '3' }; /* no NUL */
	uint64_t v = 0;

	cr_assert_eq(xg_parse_u64(s, 2, UINT64_MAX, &v), 0);
	cr_assert_eq(v, 12);
}

static void format_is(uint64_t v, const char *want)
{
	char buf[XG_U64_DIGITS + 4];
	size_t n;

	memset(buf, '#', sizeof(buf));
	n = xg_format_u64(buf, v);
	cr_assert_eq(n, strlen(want));
	cr_assert_str_eq(buf, want);
	cr_assert_eq(buf[n + 1], '#', "wrote past the NUL");
}

Test(decimal, format)
{
	format_is(0, "0");
	format_is(7, "7");
	format_is(10, "10");
	format_is(65535, "65535");
	format_is(UINT32_MAX, "4294967295");
	format_is(UINT64_MAX, "18446744073709551615");
}

Test(decimal, format_parse_round_trip)
{
	char buf[XG_U64_DIGITS + 1], ref[32];
	uint64_t p = 1, v;

	for (int i = 0; i < 20; i++, p *= 10) {
		uint64_t vals[] = { p - 1, p, p + 1 };

		for (int j = 0; j < 3; j++) {
			size_t n = xg_format_u64(buf, vals[j]);

			snprintf(ref, sizeof(ref), "%" PRIu64, vals[j]);
			cr_assert_str_eq(buf, ref);
			cr_assert_eq(xg_parse_u64(buf, n, UINT64_MAX, &v), 0);
			cr_assert_eq(v, vals[j]);
		}
	}
}

/* ==== the callers, through their public entry points ==== */

/* ---- a scripted xenstored: every request gets the armed reply ---- */

#define SC_REPLY_MAX 64

static struct scripted {
	struct xenstore_domain_interface *intf;
	struct xenbus xb;
	uint64_t now;
	char reply[SC_REPLY_MAX];
	uint32_t reply_len;
	char req[XENSTORE_PAYLOAD_MAX]; /* the last request's payload */
	uint32_t req_len, requests;
} sc;

static void ring_take(void *dst, size_t n)
{
	struct xenstore_domain_interface *in = sc.intf;

	for (size_t i = 0; i < n; i++)
		((char *)dst)[i] = in->req[MASK_XENSTORE_IDX(in->req_cons++)];
}

static void ring_give(const void *src, size_t n)
{
	struct xenstore_domain_interface *in = sc.intf;

	for (size_t i = 0; i < n; i++)
		in->rsp[MASK_XENSTORE_IDX(in->rsp_prod++)] = ((const char *)src)[i];
}

/* Every request in the ring is answered: same type, id and transaction,
 * the armed payload. The client sends a request whole before it waits. */
static void sc_serve(void)
{
	struct xsd_sockmsg h;

	while (sc.intf->req_prod - sc.intf->req_cons >= sizeof(h)) {
		ring_take(&h, sizeof(h));
		cr_assert_leq(h.len, sc.intf->req_prod - sc.intf->req_cons, "request not whole");
		ring_take(sc.req, h.len);
		sc.req_len = h.len;
		sc.requests++;
		h.len = sc.reply_len;
		ring_give(&h, sizeof(h));
		ring_give(sc.reply, sc.reply_len);
	}
}

static void sc_notify(void *ctx)
{
}

static void sc_wait(void *ctx, uint64_t deadline)
{
	sc.now += 1000000;
	sc_serve();
}

static uint64_t sc_now(void *ctx)
{
	return sc.now;
}

static const struct xen_ring_env_ops sc_env = {
	.notify = sc_notify,
	.wait = sc_wait,
	.now_ns = sc_now,
};

static void sc_arm(const void *reply, size_t len)
{
	cr_assert_leq(len, sizeof(sc.reply));
	memcpy(sc.reply, reply, len);
	sc.reply_len = (uint32_t)len;
}

/* ---- xenstored's engine, with a probed block device ---- */

#define BE_DIR "/local/domain/0/backend/vbd/1/768"
#define FE_DIR STORE_SIM_HOME "/device/vbd/768"

static struct store_sim ss;

static struct engine_client {
	struct xenstore_domain_interface *intf;
	struct xenbus xb;
	uint64_t now;
	struct xbdev dev;
} ec;

static void ec_notify(void *ctx)
{
}

static void ec_wait(void *ctx, uint64_t deadline)
{
	ec.now += 1000000;
	xs_ring_kick(ss.ring);
}

static uint64_t ec_now(void *ctx)
{
	return ec.now;
}

static const struct xen_ring_env_ops ec_env = {
	.notify = ec_notify,
	.wait = ec_wait,
	.now_ns = ec_now,
};

static void ring_quiet(void *ctx)
{
	/* The client finds the replies when its wait returns. */
}

static const struct xs_ring_evtchn_ops ec_ring_ops = { .notify = ring_quiet };

static void otherend_ignored(struct xbdev *dev, enum xenbus_state state)
{
}

static const struct xbdev_ops xbdev_ops = { .otherend_changed = otherend_ignored };

/* The toolstack's entries for vbd 768 (as test_xenbus_dev.c's), probed. */
static void engine_setup(void)
{
	static const char fe_perms[] = "n1\0r0", be_perms[] = "n0\0r1";

	memset(&ec, 0, sizeof(ec));
	store_sim_init(&ss, 0);
	ec.intf = aligned_alloc(4096, 4096);
	cr_assert_not_null(ec.intf);
	memset(ec.intf, 0, 4096);
	store_sim_attach(&ss, ec.intf, &ec_ring_ops, NULL);
	cr_assert_eq(xb_init(&ec.xb, ec.intf, &ec_env, NULL), 0);
	store_sim_write(&ss, FE_DIR "/backend", BE_DIR);
	store_sim_write(&ss, FE_DIR "/backend-id", "0");
	store_sim_write(&ss, FE_DIR "/state", "1");
	store_sim_set_perms(&ss, FE_DIR, fe_perms, sizeof(fe_perms));
	store_sim_set_perms(&ss, FE_DIR "/state", fe_perms, sizeof(fe_perms));
	store_sim_write(&ss, BE_DIR "/state", "1");
	store_sim_set_perms(&ss, BE_DIR, be_perms, sizeof(be_perms));
	store_sim_set_perms(&ss, BE_DIR "/state", be_perms, sizeof(be_perms));
	cr_assert_eq(xbdev_probe(&ec.dev, &ec.xb, "vbd", 768, &xbdev_ops, NULL), 0);
}

/* ---- vchan's environment: a scripted store, a map that records ---- */

static struct vchan_script {
	char ring_ref[48], event_channel[48]; /* node values (bytes) */
	size_t ring_ref_len, event_channel_len;
	uint32_t mapped_ref;
	evtchn_port_t bound_port;
	unsigned int maps, binds;
	/* The server side: what share and port_alloc hand out, what is
	 * written. */
	uint32_t share_ref;
	evtchn_port_t alloc_port;
	char written_ref[32], written_port[32];
} vs;

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

/* As the guest binding's xb_read: -ERANGE unless the value and a NUL fit. */
static int vs_store_read(void *ctx, const char *path, char *buf, size_t len)
{
	const char *v = ends_with(path, "/ring-ref") ? vs.ring_ref : vs.event_channel;
	size_t n = v == vs.ring_ref ? vs.ring_ref_len : vs.event_channel_len;

	if (n + 1 > len)
		return -ERANGE;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return (int)n;
}

static int vs_store_write(void *ctx, const char *path, const char *value, domid_t reader)
{
	char *to = ends_with(path, "/ring-ref") ? vs.written_ref : vs.written_port;

	snprintf(to, sizeof(vs.written_ref), "%s", value);
	return 0;
}

static int vs_store_rm(void *ctx, const char *path)
{
	return 0;
}

static int vs_port_bind(void *ctx, domid_t peer, evtchn_port_t remote, evtchn_port_t *ret_port)
{
	vs.bound_port = remote;
	vs.binds++;
	*ret_port = 1;
	return 0;
}

static int vs_map(void *ctx, domid_t peer, unsigned int n, const uint32_t *refs, void **ret_addr)
{
	vs.mapped_ref = refs[0];
	vs.maps++;
	return -ENXIO; /* the value arrived: no need to go on */
}

static void vs_unmap(void *ctx, void *addr, unsigned int n)
{
}

static int vs_share(void *ctx, domid_t peer, unsigned int n, uint32_t *refs, int notify_offset,
		    evtchn_port_t port, void **ret_addr)
{
	void *p = aligned_alloc(VCHAN_PAGE_SIZE, (size_t)n * VCHAN_PAGE_SIZE);

	if (!p)
		return -ENOMEM;
	memset(p, 0, (size_t)n * VCHAN_PAGE_SIZE);
	for (unsigned int i = 0; i < n; i++)
		refs[i] = vs.share_ref + i;
	*ret_addr = p;
	return 0;
}

static void vs_unshare(void *ctx, void *addr, unsigned int n, const uint32_t *refs)
{
	free(addr);
}

static int vs_port_alloc(void *ctx, domid_t peer, evtchn_port_t *ret_port)
{
	*ret_port = vs.alloc_port;
	return 0;
}

static void vs_port_close(void *ctx, evtchn_port_t port)
{
}

static int vs_notify(void *ctx, evtchn_port_t port)
{
	return 0;
}

static int vs_wait(void *ctx, evtchn_port_t port, uint64_t deadline)
{
	return 0;
}

static uint64_t vs_now(void *ctx)
{
	return 0;
}

static const struct vchan_env_ops vs_ops = {
	.share = vs_share,
	.unshare = vs_unshare,
	.map = vs_map,
	.unmap = vs_unmap,
	.port_alloc = vs_port_alloc,
	.port_bind = vs_port_bind,
	.port_close = vs_port_close,
	.notify = vs_notify,
	.wait = vs_wait,
	.store_write = vs_store_write,
	.store_read = vs_store_read,
	.store_rm = vs_store_rm,
	.now_ns = vs_now,
};

/* ---- the suite ---- */

static struct guestsim *gs;
static struct gs_domain *dom1; /* a real guest for vchan_guest_setup */

static void callers_setup(void)
{
	memset(&sc, 0, sizeof(sc));
	memset(&vs, 0, sizeof(vs));
	sc.intf = aligned_alloc(4096, 4096);
	cr_assert_not_null(sc.intf);
	memset(sc.intf, 0, 4096);
	cr_assert_eq(xb_init(&sc.xb, sc.intf, &sc_env, NULL), 0);
	engine_setup();
	gs = gs_create(NULL);
	cr_assert_not_null(gs);
	dom1 = gs_boot(gs, 1, false, 1, 64);
	cr_assert_not_null(dom1);
}

static void callers_teardown(void)
{
	gs_destroy(gs);
	store_sim_fini(&ss);
	free(ec.intf);
	free(sc.intf);
}

TestSuite(callers, .init = callers_setup, .fini = callers_teardown);

/* ---- the callers' old rules, as oracles ---- */

/* xenbus.c's xb_parse_uint (perms' domids, max 0xffff; txn ids, UINT32_MAX). */
static int old_xb(const char *p, size_t len, uint32_t max, uint32_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > max)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

/* xenbus_dev.c's xbdev_parse_ulong: a C string, any length, ULONG_MAX. */
static int old_xbdev(const char *s, unsigned long *ret)
{
	unsigned long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned long d = (unsigned long)(*s - '0');

		if (*s < '0' || *s > '9' || v > (~0UL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* vchan.c's vchan_atou: a C string, u32. */
static int old_vchan(const char *s, uint32_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*ret = (uint32_t)v;
	return 0;
}

/* vchan_guest.c's vg_read_domid: all n bytes of the reply, below
 * DOMID_FIRST_RESERVED. */
static int old_vg(const char *buf, size_t n, unsigned int *ret)
{
	unsigned int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (buf[i] < '0' || buf[i] > '9' || v > DOMID_FIRST_RESERVED)
			return -1;
		v = v * 10 + (unsigned int)(buf[i] - '0');
	}
	if (n == 0 || v >= DOMID_FIRST_RESERVED)
		return -1;
	*ret = v;
	return 0;
}

/* ---- each caller against its oracle; desc names the input ---- */

static char desc[160];

/* A transaction id: the reply as is (a real one ends in a NUL, which the
 * caller drops); at most 16 bytes; XBT_NIL is no id. */
static void check_txn(const char *s, size_t len)
{
	uint32_t want = 0, got = 0x5a5a;
	size_t m = len;
	int want_rc, rc;

	if (len > 16) {
		want_rc = -XEN_ERANGE;
	} else {
		if (m && s[m - 1] == '\0')
			m--;
		want_rc = old_xb(s, m, UINT32_MAX, &want) == 0 && want != 0 ? 0 : -XEN_EIO;
	}
	sc_arm(s, len);
	rc = xb_transaction_start(&sc.xb, &got);
	cr_assert_eq(rc, want_rc, "txn id: rc %d, want %d on %s", rc, want_rc, desc);
	if (rc == 0)
		cr_assert_eq(got, want, "txn id: value differs on %s", desc);
}

/* A permission's domid: the reply "b<s>\0" (s without a NUL). */
static void check_perms(const char *s, size_t len)
{
	char reply[SC_REPLY_MAX];
	struct xenbus_perm p[2] = { { 0 } };
	unsigned int n = 0;
	uint32_t want = 0;
	int want_rc = old_xb(s, len, 0xffff, &want) == 0 ? 0 : -XEN_EIO, rc;

	reply[0] = 'b';
	memcpy(reply + 1, s, len);
	reply[len + 1] = '\0';
	sc_arm(reply, len + 2);
	rc = xb_get_perms(&sc.xb, XBT_NIL, "p", p, 2, &n);
	cr_assert_eq(rc, want_rc, "perms: rc %d, want %d on %s", rc, want_rc, desc);
	if (rc == 0) {
		cr_assert_eq(n, 1);
		cr_assert_eq(p[0].perm, 'b');
		cr_assert_eq(p[0].domid, want, "perms: value differs on %s", desc);
	}
}

/* A value of the other end's directory, read into 24 bytes: a longer one
 * is no number we take; a NUL ends the C string. */
static void check_xbdev(const char *s, size_t len)
{
	unsigned long want = 0, got = 0;
	int want_rc = len < 24 && old_xbdev(s, &want) == 0 ? 0 : -XEN_EINVAL, rc;

	store_sim_write_bytes(&ss, BE_DIR "/num", s, len);
	rc = xbdev_read_otherend_uint(&ec.dev, "num", &got);
	cr_assert_eq(rc, want_rc, "xbdev: rc %d, want %d on %s", rc, want_rc, desc);
	if (rc == 0)
		cr_assert_eq(got, want, "xbdev: value differs on %s", desc);
}

/* device/vbd listing one name s (without a NUL): an id if it parses and
 * fits 32 bits. */
static void check_enumerate(const char *s, size_t len)
{
	char reply[SC_REPLY_MAX];
	unsigned long want = 0;
	unsigned int ids[2] = { 0 };
	int want_n = old_xbdev(s, &want) == 0 && want <= 0xffffffffUL, n;

	memcpy(reply, s, len);
	reply[len] = '\0';
	sc_arm(reply, len + 1);
	n = xbdev_enumerate(&sc.xb, "vbd", ids, 2);
	cr_assert_eq(n, want_n, "enumerate: %d ids, want %d on %s", n, want_n, desc);
	if (n == 1)
		cr_assert_eq(ids[0], want, "enumerate: value differs on %s", desc);
}

/* vchan's ring-ref, then its event-channel (0 is no port), read into 16
 * bytes as a C string; -ENXIO is our map, reached with the values. */
static void check_vchan(const char *s, size_t len, bool port)
{
	uint32_t want = 0;
	struct vchan v;
	int want_rc, rc;

	memcpy(port ? vs.event_channel : vs.ring_ref, s, len);
	*(port ? &vs.event_channel_len : &vs.ring_ref_len) = len;
	memcpy(port ? vs.ring_ref : vs.event_channel, "5", 1);
	*(port ? &vs.ring_ref_len : &vs.event_channel_len) = 1;
	if (len >= 16)
		want_rc = -ERANGE;
	else
		want_rc = old_vchan(s, &want) == 0 && (!port || want) ? -ENXIO : -EBADMSG;
	rc = vchan_client_init(&v, &vs_ops, NULL, 2, "/local/domain/2/data/vchan/t", 0);
	cr_assert_eq(rc, want_rc, "vchan %s: rc %d, want %d on %s",
		     port ? "event-channel" : "ring-ref", rc, want_rc, desc);
	if (rc == -ENXIO)
		cr_assert_eq(port ? vs.bound_port : vs.mapped_ref, want,
			     "vchan: value differs on %s", desc);
}

static void *no_pages(void *ctx, unsigned int n)
{
	return NULL;
}

/* Our domid, read into 8 bytes: every byte of the reply counts. */
static void check_vg(const char *s, size_t len)
{
	struct vchan_guest vg;
	unsigned int want = 0;
	int want_rc, rc;

	if (len >= 8)
		want_rc = -XEN_ERANGE;
	else
		want_rc = old_vg(s, len, &want) == 0 ? 0 : -EBADMSG;
	sc_arm(s, len);
	rc = vchan_guest_setup(&vg, dom1->guest, &sc.xb, no_pages, NULL, NULL);
	cr_assert_eq(rc, want_rc, "vg domid: rc %d, want %d on %s", rc, want_rc, desc);
	if (rc == 0)
		cr_assert_eq(vg.domid, want, "vg domid: value differs on %s", desc);
}

static unsigned long checked;

/* s[0, len) through every caller (the checks get it NUL-terminated, so
 * the C-string oracles stop where the callers' buffers do). */
static void compare_all(const char *in, size_t len)
{
	char s[48];
	size_t d = 0;
	bool nul = memchr(in, '\0', len) != NULL;

	cr_assert_lt(len, sizeof(s));
	memcpy(s, in, len);
	s[len] = '\0';
	for (size_t i = 0; i < len && d + 5 < sizeof(desc); i++)
		d += (size_t)snprintf(desc + d, sizeof(desc) - d,
				      s[i] >= '0' && s[i] <= '9' ? "%c" : "\\x%02x",
				      (unsigned char)s[i]);
	desc[d] = '\0';
	check_txn(s, len);
	check_xbdev(s, len);
	check_vchan(s, len, false);
	check_vchan(s, len, true);
	check_vg(s, len);
	if (!nul) {
		check_perms(s, len);
		check_enumerate(s, len);
	}
	checked++;
}

Test(callers, keep_their_rules_on_short_strings, .timeout = 120)
{
	static const char alpha[] = { '0', '1', '3', '9', 'x', ' ', '\0' };
	const size_t k = sizeof(alpha);
	char s[8];

	checked = 0;
	for (size_t len = 0; len <= 6; len++) {
		size_t total = 1;

		for (size_t i = 0; i < len; i++)
			total *= k;
		for (size_t code = 0; code < total; code++) {
			size_t c = code;

			for (size_t i = 0; i < len; i++, c /= k)
				s[i] = alpha[c % k];
			compare_all(s, len);
		}
	}
	cr_assert_gt(checked, 100000);
	/* Every value reached its caller: nothing was short-circuited. */
	cr_assert_gt(vs.maps, 1000);
	cr_assert_geq(sc.requests, 2 * checked);
}

/* v, 0v, 00v, v with junk after or before, each as decimal text. */
static void compare_around(uint64_t v)
{
	static const char *const fmt[] = { "%" PRIu64,		"0%" PRIu64, "00%" PRIu64,
					   "%" PRIu64 "x",	" %" PRIu64, "%" PRIu64 "0",
					   "0000000000%" PRIu64 };
	char s[48];

	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		int n = snprintf(s, sizeof(s), fmt[i], v);

		compare_all(s, (size_t)n);
	}
}

Test(callers, keep_their_rules_at_their_limits)
{
	static const uint64_t limits[] = { 0xffff, DOMID_FIRST_RESERVED, UINT32_MAX, UINT64_MAX };

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		for (int delta = -2; delta <= 2; delta++)
			compare_around(limits[i] + (uint64_t)(int64_t)delta);
	compare_all("99999999999999999999", 20);
	compare_all("184467440737095516150", 21);
	compare_all("0000000000000000000000042", 25);
}

Test(callers, keep_their_rules_on_random_digit_runs, .timeout = 120)
{
	char s[40];

	srand(20240611);
	for (int it = 0; it < 200000; it++) {
		size_t len = (size_t)(rand() % 24);

		for (size_t i = 0; i < len; i++) {
			int r = rand() % 32;

			s[i] = r < 30 ? (char)('0' + r % 10) : (r == 30 ? '\0' : 'q');
		}
		compare_all(s, len);
	}
}

/* ---- the formatter's callers ---- */

Test(callers, perms_and_domain_path_requests_print_every_domid)
{
	static const char ok[] = "OK", path[] = "/local/domain/1";
	char want[32], buf[64];

	for (uint32_t d = 0; d <= 0xffff; d++) {
		struct xenbus_perm p = { (domid_t)d, 'r' };
		int n = snprintf(want, sizeof(want), "p%cr%" PRIu32, '\0', d);

		sc_arm(ok, sizeof(ok));
		cr_assert_eq(xb_set_perms(&sc.xb, XBT_NIL, "p", &p, 1), 0);
		cr_assert_eq(sc.req_len, (uint32_t)n + 1, "domid %u", d);
		cr_assert_eq(memcmp(sc.req, want, (size_t)n + 1), 0, "domid %u", d);
		n = snprintf(want, sizeof(want), "%" PRIu32, d);
		sc_arm(path, sizeof(path));
		cr_assert_eq(xb_get_domain_path(&sc.xb, (domid_t)d, buf, sizeof(buf)), 0);
		cr_assert_eq(sc.req_len, (uint32_t)n + 1, "domid %u", d);
		cr_assert_eq(memcmp(sc.req, want, (size_t)n + 1), 0, "domid %u", d);
	}
}

Test(callers, vchan_server_writes_its_grant_and_port_in_decimal)
{
	static const uint32_t vals[] = { 1,	     9,		  10,	      99,
					 100,	     65535,	  65536,      999999999,
					 1000000000, 4294967294u, 4294967295u };
	char want[16];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j += 3) {
			struct vchan v;

			vs.share_ref = vals[i];
			vs.alloc_port = vals[j];
			cr_assert_eq(vchan_server_init(&v, &vs_ops, NULL, 2,
						       "/local/domain/1/data/vchan/t", 0, 0),
				     0);
			snprintf(want, sizeof(want), "%" PRIu32, vals[i]);
			cr_assert_str_eq(vs.written_ref, want);
			snprintf(want, sizeof(want), "%" PRIu32, vals[j]);
			cr_assert_str_eq(vs.written_port, want);
			vchan_close(&v);
		}
	}
}
