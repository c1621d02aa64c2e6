/*
 * The ring transport, in process: a fake guest writes requests into a plain
 * page, xs_ring_kick() serves them through the real engine, and the guest
 * reads the responses back. Covers index wrap-around, frames split across the
 * ring's end and larger than the ring, corrupt indices (error set, no hang),
 * oversized frames, and reconnection.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "framing.h"
#include "transport_ring.h"

/* The page layout the guest and we both rely on (anchors §3.4). */
_Static_assert(offsetof(struct xenstore_domain_interface, req) == 0, "req");
_Static_assert(offsetof(struct xenstore_domain_interface, rsp) == 1024, "rsp");
_Static_assert(offsetof(struct xenstore_domain_interface, req_cons) == 2048, "req_cons");
_Static_assert(offsetof(struct xenstore_domain_interface, req_prod) == 2052, "req_prod");
_Static_assert(offsetof(struct xenstore_domain_interface, rsp_cons) == 2056, "rsp_cons");
_Static_assert(offsetof(struct xenstore_domain_interface, rsp_prod) == 2060, "rsp_prod");
_Static_assert(offsetof(struct xenstore_domain_interface, server_features) == 2064, "features");
_Static_assert(offsetof(struct xenstore_domain_interface, connection) == 2068, "connection");
_Static_assert(offsetof(struct xenstore_domain_interface, error) == 2072, "error");

#define DOMID 1
#define RBUF (64 * 1024)

/* A privileged in-memory connection for setup, capturing its last reply. */
struct capture {
	struct xsd_sockmsg hdr;
	char payload[XENSTORE_PAYLOAD_MAX + 1];
	unsigned int count;
};

struct fixture {
	struct xs_store *store;
	struct xs_conn *priv;
	struct capture cap;
	struct xenstore_domain_interface *intf;
	struct xs_ring *ring;
	struct xslog log;
	unsigned int notifies;
	char rbuf[RBUF]; /* responses the guest has read, not yet parsed */
	size_t rlen;
};

static struct fixture fx;

static int capture_send(void *t, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct capture *c = t;

	c->hdr = *hdr;
	memcpy(c->payload, payload, hdr->len);
	c->payload[hdr->len] = '\0';
	c->count++;
	return 0;
}

static const struct xs_conn_ops capture_ops = { .send = capture_send };

static void guest_notified(void *ctx)
{
	((struct fixture *)ctx)->notifies++;
}

static const struct xs_ring_evtchn_ops evtchn_ops = { .notify = guest_notified };

static int accept_introduce(void *ctx, struct xs_store *s, unsigned int domid, uint64_t gfn,
			    unsigned int port)
{
	return 0;
}

/* A privileged request; returns the reply type. */
static uint32_t priv_call(uint32_t type, const char *payload, size_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = 77, .len = (uint32_t)len };

	xs_conn_request(fx.priv, &h, payload);
	return fx.cap.hdr.type;
}

/* Store, dom0 connection, domain DOMID introduced and owning its home. */
static void setup_store(void)
{
	struct xs_domain_ops dops = { .introduce = accept_introduce };
	struct xs_config cfg;
	static const char intro[] = "1\0"
				    "4660\0"
				    "5";
	static const char home[] = "/local/domain/1";
	static const char perms[] = "/local/domain/1\0n1";

	memset(&fx, 0, sizeof(fx));
	fx.log.fd = 2;
	fx.log.level = XSLOG_WARN;
	xs_config_defaults(&cfg);
	fx.store = xs_store_create(&cfg, &dops);
	cr_assert_not_null(fx.store);
	fx.priv = xs_conn_create(fx.store, 0, true, &capture_ops, &fx.cap);
	cr_assert_not_null(fx.priv);
	cr_assert_eq(priv_call(XS_INTRODUCE, intro, sizeof(intro)), XS_INTRODUCE, "%s",
		     fx.cap.payload);
	cr_assert_eq(priv_call(XS_MKDIR, home, sizeof(home)), XS_MKDIR, "%s", fx.cap.payload);
	cr_assert_eq(priv_call(XS_SET_PERMS, perms, sizeof(perms)), XS_SET_PERMS, "%s",
		     fx.cap.payload);
	fx.intf = aligned_alloc(4096, 4096);
	memset(fx.intf, 0, 4096);
}

/* Serves the page with indices all starting at idx (as a guest left them). */
static void start_ring_at(XENSTORE_RING_IDX idx)
{
	fx.intf->req_cons = fx.intf->req_prod = idx;
	fx.intf->rsp_cons = fx.intf->rsp_prod = idx;
	cr_assert_eq(xs_ring_create(fx.store, DOMID, fx.intf, &evtchn_ops, &fx, &fx.log, &fx.ring),
		     0);
}

static void setup(void)
{
	setup_store();
	start_ring_at(0);
}

static void teardown(void)
{
	xs_ring_destroy(fx.ring);
	xs_conn_destroy(fx.priv);
	xs_store_destroy(fx.store);
	free(fx.intf);
	memset(&fx, 0, sizeof(fx));
}

/* ---- the fake guest ---- */

/* Writes as much of buf as the request ring has room for. */
static size_t guest_write(const void *buf, size_t len)
{
	struct xenstore_domain_interface *intf = fx.intf;
	XENSTORE_RING_IDX cons = intf->req_cons, prod = intf->req_prod;
	size_t n = XENSTORE_RING_SIZE - (prod - cons), i;

	if (n > len)
		n = len;
	for (i = 0; i < n; i++)
		intf->req[MASK_XENSTORE_IDX(prod + i)] = ((const char *)buf)[i];
	__atomic_thread_fence(__ATOMIC_RELEASE); /* pairs with ring_read()'s rmb */
	intf->req_prod = prod + (XENSTORE_RING_IDX)n;
	return n;
}

/* Reads every available response byte into fx.rbuf. */
static void guest_drain(void)
{
	struct xenstore_domain_interface *intf = fx.intf;
	XENSTORE_RING_IDX cons = intf->rsp_cons, prod = intf->rsp_prod;

	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* pairs with ring_write()'s wmb */
	cr_assert_leq(prod - cons, XENSTORE_RING_SIZE);
	cr_assert_leq(fx.rlen + (prod - cons), sizeof(fx.rbuf));
	while (cons != prod)
		fx.rbuf[fx.rlen++] = intf->rsp[MASK_XENSTORE_IDX(cons++)];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	intf->rsp_cons = cons;
}

/* Takes one complete response out of fx.rbuf; false if none yet. */
static bool guest_reply(struct xsd_sockmsg *hdr, char *payload)
{
	long n = xs_frame_peek(fx.rbuf, fx.rlen, hdr);

	cr_assert_geq(n, 0);
	if (n == 0)
		return false;
	memcpy(payload, fx.rbuf + XS_FRAME_HDR, hdr->len);
	payload[hdr->len] = '\0';
	memmove(fx.rbuf, fx.rbuf + n, fx.rlen - (size_t)n);
	fx.rlen -= (size_t)n;
	return true;
}

/* Sends bytes through the ring, kicking and draining as room frees up. */
static void guest_send(const void *buf, size_t len)
{
	size_t off = 0;
	int rounds = 0;

	while (off < len) {
		cr_assert_lt(rounds++, 1000, "ring stopped moving");
		off += guest_write((const char *)buf + off, len - off);
		cr_assert_eq(xs_ring_kick(fx.ring), 0);
		guest_drain();
	}
}

static void guest_request(uint32_t type, uint32_t req_id, const void *payload, size_t len)
{
	char frame[XS_FRAME_MAX];
	struct xsd_sockmsg h = { .type = type, .req_id = req_id, .len = (uint32_t)len };

	memcpy(frame, &h, sizeof(h));
	memcpy(frame + sizeof(h), payload, len);
	guest_send(frame, sizeof(h) + len);
}

/* Waits (bounded) for the next response. */
static void guest_wait_reply(struct xsd_sockmsg *hdr, char *payload)
{
	int rounds;

	for (rounds = 0; rounds < 100; rounds++) {
		if (guest_reply(hdr, payload))
			return;
		cr_assert_eq(xs_ring_kick(fx.ring), 0);
		guest_drain();
	}
	cr_assert_fail("no reply");
}

static void guest_call(uint32_t type, uint32_t req_id, const void *payload, size_t len,
		       struct xsd_sockmsg *hdr, char *reply)
{
	guest_request(type, req_id, payload, len);
	guest_wait_reply(hdr, reply);
	cr_assert_eq(hdr->req_id, req_id);
}

static void call_ok(uint32_t type, uint32_t req_id, const void *payload, size_t len)
{
	struct xsd_sockmsg h;
	char r[XENSTORE_PAYLOAD_MAX + 1];

	guest_call(type, req_id, payload, len, &h, r);
	cr_assert_eq(h.type, type, "request %u: reply %s", type, r);
}

/* A request whose payload is a literal (NUL-terminated strings); expects
 * success. Writes leave the value's own terminator out. */
#define CALL_WRITE(id, lit) call_ok(XS_WRITE, id, lit, sizeof(lit) - 1)
#define CALL_OK(ty, id, lit) call_ok(ty, id, lit, sizeof(lit))

TestSuite(ring, .init = setup, .fini = teardown);
/* Tests that choose where the indices start. */
TestSuite(ring_at, .init = setup_store, .fini = teardown);

Test(ring, advertises_features)
{
	cr_assert_eq(fx.intf->server_features,
		     XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR);
	cr_assert_eq(fx.intf->connection, XENSTORE_CONNECTED);
	cr_assert_eq(fx.intf->error, XENSTORE_ERROR_NONE);
}

Test(ring, write_then_read_back)
{
	struct xsd_sockmsg h;
	char r[XENSTORE_PAYLOAD_MAX + 1];

	CALL_WRITE(1, "data/x\0hello");
	guest_call(XS_READ, 2, "data/x", 7, &h, r);
	cr_assert_eq(h.type, XS_READ);
	cr_assert_eq(h.len, 5);
	cr_assert_str_eq(r, "hello");
	guest_call(XS_READ, 3, "/local/domain/1/data/x", 23, &h, r);
	cr_assert_str_eq(r, "hello", "relative paths are the domain's");
	cr_assert_gt(fx.notifies, 0);
}

Test(ring, error_reply_for_missing_node)
{
	struct xsd_sockmsg h;
	char r[XENSTORE_PAYLOAD_MAX + 1];

	guest_call(XS_READ, 9, "nothing", 8, &h, r);
	cr_assert_eq(h.type, XS_ERROR);
	cr_assert_str_eq(r, "ENOENT");
}

Test(ring, pipelined_requests_answered_in_order)
{
	char buf[XENSTORE_RING_SIZE];
	struct xsd_sockmsg h = { .type = XS_READ, .len = 7 };
	char r[XENSTORE_PAYLOAD_MAX + 1];
	size_t off = 0;
	uint32_t i;

	CALL_WRITE(1, "data/p\0v");
	for (i = 0; off + 23 <= sizeof(buf); i++) {
		h.req_id = 100 + i;
		memcpy(buf + off, &h, sizeof(h));
		memcpy(buf + off + sizeof(h), "data/p", 7);
		off += 23;
	}
	cr_assert_eq(guest_write(buf, off), off, "all in one fill");
	cr_assert_eq(xs_ring_kick(fx.ring), 0);
	for (uint32_t j = 0; j < i; j++) {
		guest_wait_reply(&h, r);
		cr_assert_eq(h.req_id, 100 + j);
		cr_assert_str_eq(r, "v");
	}
}

/* Indices start just below 2^32, so they wrap while the ring itself wraps
 * many times over. */
Test(ring_at, index_wrap_around)
{
	struct xsd_sockmsg h;
	char r[XENSTORE_PAYLOAD_MAX + 1];
	uint32_t i;

	start_ring_at(0xffffff00u);
	CALL_WRITE(1, "data/w\0wrapped");
	for (i = 0; i < 300; i++) {
		guest_call(XS_READ, 10 + i, "data/w", 7, &h, r);
		cr_assert_str_eq(r, "wrapped", "request %u", i);
	}
	cr_assert_lt(fx.intf->req_prod, 0x10000u, "req_prod wrapped past 2^32");
	cr_assert_lt(fx.intf->rsp_prod, 0x10000u, "rsp_prod wrapped past 2^32");
}

/* A 1900-byte value (a domain's node-size quota is 2048): the request and
 * its reply are each nearly two rings long and start 24 bytes before the
 * ring's end. */
Test(ring_at, message_larger_than_ring_split_at_boundary)
{
	static char req[XENSTORE_PAYLOAD_MAX], r[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg h;
	size_t i;

	start_ring_at(1000);
	memcpy(req, "data/big", 9);
	for (i = 0; i < 1900; i++)
		req[9 + i] = (char)('a' + i % 26);
	guest_call(XS_WRITE, 1, req, 9 + 1900, &h, r);
	cr_assert_eq(h.type, XS_WRITE, "%s", r);
	guest_call(XS_READ, 2, "data/big", 9, &h, r);
	cr_assert_eq(h.type, XS_READ);
	cr_assert_eq(h.len, 1900);
	cr_assert_eq(memcmp(r, req + 9, 1900), 0);
}

Test(ring, corrupt_request_indices_stop_the_ring)
{
	XENSTORE_RING_IDX cons = fx.intf->req_cons;

	fx.intf->req_prod = cons + XENSTORE_RING_SIZE + 1;
	cr_assert_eq(xs_ring_kick(fx.ring), -EPROTO);
	cr_assert_eq(fx.intf->error, XENSTORE_ERROR_RINGIDX);
	cr_assert_eq(fx.intf->req_cons, cons, "nothing consumed");
	cr_assert_eq(xs_ring_kick(fx.ring), -EPROTO, "stays stopped, returns at once");
	cr_assert_eq(fx.intf->rsp_prod, 0, "no response");
}

Test(ring, corrupt_response_indices_stop_the_ring)
{
	static const char req[] = "data/x";
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 1, .len = sizeof(req) };
	char buf[64];

	fx.intf->rsp_cons = 0u - 3000u; /* prod - cons = 3000 > ring size */
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), req, sizeof(req));
	guest_write(buf, sizeof(h) + sizeof(req));
	cr_assert_eq(xs_ring_kick(fx.ring), -EPROTO);
	cr_assert_eq(fx.intf->error, XENSTORE_ERROR_RINGIDX);
	cr_assert_eq(fx.intf->rsp_prod, 0, "nothing written into the ring");
}

Test(ring, oversized_frame_sets_proto_error_without_reply)
{
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 5, .len = XENSTORE_PAYLOAD_MAX + 1 };

	guest_write(&h, sizeof(h));
	cr_assert_eq(xs_ring_kick(fx.ring), -EPROTO);
	cr_assert_eq(fx.intf->error, XENSTORE_ERROR_PROTO);
	cr_assert_eq(fx.intf->rsp_prod, 0, "never replies to an oversized frame");
}

Test(ring, quiet_kick_does_not_notify)
{
	unsigned int before;

	CALL_WRITE(1, "data/q\0v");
	before = fx.notifies;
	cr_assert_eq(xs_ring_kick(fx.ring), 0);
	cr_assert_eq(fx.notifies, before);
}

/* Reconnection zeroes the indices, drops the connection's watches, and
 * serves requests again. */
Test(ring, reconnect_resets_state)
{
	static const char outside[] = "/local/domain/1/data/r/y\0z";
	struct xsd_sockmsg h;
	char r[XENSTORE_PAYLOAD_MAX + 1];

	CALL_WRITE(1, "data/r\0v");
	CALL_OK(XS_WATCH, 2, "data/r\0tok");
	guest_wait_reply(&h, r); /* the initial event */
	cr_assert_eq(h.type, XS_WATCH_EVENT);

	fx.intf->connection = XENSTORE_RECONNECT;
	cr_assert_eq(xs_ring_kick(fx.ring), 0);
	cr_assert_eq(fx.intf->connection, XENSTORE_CONNECTED);
	cr_assert_eq(fx.intf->req_cons, 0);
	cr_assert_eq(fx.intf->req_prod, 0);
	cr_assert_eq(fx.intf->rsp_cons, 0);
	cr_assert_eq(fx.intf->rsp_prod, 0);
	fx.rlen = 0;

	cr_assert_eq(priv_call(XS_WRITE, outside, sizeof(outside) - 1), XS_WRITE);
	cr_assert_eq(xs_ring_kick(fx.ring), 0);
	cr_assert_eq(fx.intf->rsp_prod, 0, "the watch went with the old connection");
	guest_call(XS_READ, 3, "data/r", 7, &h, r);
	cr_assert_str_eq(r, "v", "the store itself is untouched");
}

Test(ring, reconnect_revives_a_stopped_ring)
{
	struct xsd_sockmsg h;
	char r[XENSTORE_PAYLOAD_MAX + 1];

	fx.intf->req_prod = 5000;
	cr_assert_eq(xs_ring_kick(fx.ring), -EPROTO);
	fx.intf->connection = XENSTORE_RECONNECT;
	cr_assert_eq(xs_ring_kick(fx.ring), 0);
	cr_assert_eq(fx.intf->error, XENSTORE_ERROR_NONE);
	guest_call(XS_READ, 4, "nothing", 8, &h, r);
	cr_assert_eq(h.type, XS_ERROR);
}

/* A watch event queued while the guest is not reading arrives later. */
Test(ring, watch_event_from_another_connection)
{
	static const char outside[] = "/local/domain/1/data/e/k\0v";
	struct xsd_sockmsg h;
	char r[XENSTORE_PAYLOAD_MAX + 1];

	CALL_OK(XS_WATCH, 1, "data/e\0tok");
	guest_wait_reply(&h, r);
	cr_assert_eq(h.type, XS_WATCH_EVENT);
	cr_assert_eq(priv_call(XS_WRITE, outside, sizeof(outside) - 1), XS_WRITE);
	guest_wait_reply(&h, r);
	cr_assert_eq(h.type, XS_WATCH_EVENT);
	cr_assert_eq(h.req_id, 0);
	cr_assert_eq(memcmp(r, "data/e/k\0tok", 13), 0, "relative watch, relative event");
}

/* The `outstanding` quota: with the guest not reading its responses, no
 * more than the quota's worth of requests run beyond what the response ring
 * itself holds; the rest wait (unparsed) and run once it reads. Requests
 * alternate a READ with a 200-byte reply and a WRITE of a new node, so the
 * nodes present after one kick tell how many requests ran. */
Test(ring, outstanding_quota_bounds_requests_in_flight)
{
	static const char q[] = "1\0outstanding\0"
				"3";
	static const char dir[] = "/local/domain/1/data";
	char value[200], buf[XENSTORE_RING_SIZE], r[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg h;
	size_t off = 0, len;
	uint32_t i, n, got = 0, nodes = 0;

	cr_assert_eq(priv_call(XS_SET_QUOTA, q, sizeof(q)), XS_SET_QUOTA, "%s", fx.cap.payload);
	memset(value, 'x', sizeof(value));
	memcpy(value, "data/o", 7);
	guest_call(XS_WRITE, 1, value, sizeof(value), &h, r);
	cr_assert_eq(h.type, XS_WRITE, "%s", r);
	for (n = 0;; n++) {
		char payload[32];

		if (n % 2)
			len = (size_t)snprintf(payload, sizeof(payload), "data/w%u", n) + 2;
		else
			len = 7, memcpy(payload, "data/o", 7);
		if (n % 2)
			payload[len - 1] = 'v';
		if (off + sizeof(h) + len > sizeof(buf))
			break;
		h = (struct xsd_sockmsg){ .type = n % 2 ? XS_WRITE : XS_READ,
					  .req_id = 100 + n,
					  .len = (uint32_t)len };
		memcpy(buf + off, &h, sizeof(h));
		memcpy(buf + off + sizeof(h), payload, len);
		off += sizeof(h) + len;
	}
	cr_assert_eq(guest_write(buf, off), off);
	cr_assert_eq(xs_ring_kick(fx.ring), 0);
	cr_assert_eq(priv_call(XS_DIRECTORY, dir, sizeof(dir)), XS_DIRECTORY, "%s", fx.cap.payload);
	for (i = 0; i < fx.cap.hdr.len; i += (uint32_t)strlen(fx.cap.payload + i) + 1)
		nodes += fx.cap.payload[i] == 'w';
	/* rsp holds 4 READ replies (16 + 200 bytes) and the WRITE replies
	 * between them; then 3 more may wait: at most 5 WRITEs ran. */
	cr_assert_leq(nodes, 5, "%u of %u WRITEs ran with the guest not reading", nodes, n / 2);
	for (i = 0; i < 1000 && got < n; i++) {
		cr_assert_eq(xs_ring_kick(fx.ring), 0);
		guest_drain();
		while (guest_reply(&h, r)) {
			cr_assert_eq(h.req_id, 100 + got, "in order");
			got++;
		}
	}
	cr_assert_eq(got, n, "every request answered once the guest reads");
}
