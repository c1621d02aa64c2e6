/*
 * Fuzz target: the xenbus client against a malicious XenStore server.
 *
 * The server runs whenever the client waits (the client's wait hook), and
 * does what the input says: answer the request in flight properly or with a
 * wrong type, length or req_id; write random bytes into rsp[]; set any
 * index, the connection or the error field to any value; send watch events
 * with or without their NULs. Between waits the client runs a script of
 * requests, also taken from the input.
 *
 * Input: byte 0 = server features; then records. A record starting with
 * byte < 0x80 is a client operation (op = byte % 12, then its arguments);
 * one with byte >= 0x80 queues server steps (byte & 0x7f of them) that the
 * wait hook consumes from the following bytes.
 *
 * Checked: nothing crashes or reads out of bounds (sanitizers); every call
 * returns 0, a count, or a negative errno; reported lengths stay within the
 * caller's buffers; the client never waits more than a bounded number of
 * times per request (it cannot spin on a hostile server).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen_guest.h"

#define TIMEOUT_NS (20 * 1000000ull) /* 20 waits of 1 ms */
#define MAX_WAITS_PER_CALL 200

static struct fz {
	const uint8_t *data;
	size_t size, pos;
	struct xenstore_domain_interface *intf;
	struct xenbus xb;
	uint64_t now;
	unsigned int waits;
	unsigned int steps; /* server steps queued for the next waits */
	char buf[XENSTORE_PAYLOAD_MAX + 64];
} fz;

static uint8_t take(void)
{
	return fz.pos < fz.size ? fz.data[fz.pos++] : 0;
}

static uint32_t take32(void)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | take();
	return v;
}

/* Writes len bytes into rsp[] at rsp_prod and publishes them. */
static void rsp_put(const void *p, size_t len)
{
	XENSTORE_RING_IDX prod = fz.intf->rsp_prod;

	for (size_t i = 0; i < len; i++)
		fz.intf->rsp[MASK_XENSTORE_IDX(prod + i)] = ((const char *)p)[i];
	fz.intf->rsp_prod = prod + (XENSTORE_RING_IDX)len;
}

/* A reply to the request in flight (the last req_id the client used). */
static void server_reply(void)
{
	struct xsd_sockmsg h = {
		.type = take() % 24,
		.req_id = fz.xb.next_req_id - 1 + (take() % 4 == 0 ? 1u : 0u),
		.len = (take() << 8 | take()) % (XENSTORE_PAYLOAD_MAX + 16),
	};
	size_t n = h.len < 1100 ? h.len : 1100 - sizeof(h);

	rsp_put(&h, sizeof(h));
	for (size_t i = 0; i < n; i++) /* the rest, if any, never comes */
		fz.buf[i] = (char)take();
	rsp_put(fz.buf, n);
}

/* A well-behaved step: take the request, answer OK-ish. */
static void server_consume(void)
{
	fz.intf->req_cons = fz.intf->req_prod;
	if (take() & 1) {
		struct xsd_sockmsg h = { XS_ERROR, fz.xb.next_req_id - 1, 0, 7 };

		rsp_put(&h, sizeof(h));
		rsp_put("EAGAIN", 7);
	}
}

static void server_step(void)
{
	size_t n;

	switch (take() % 9) {
	case 0:
		server_consume();
		break;
	case 1:
		fz.intf->req_cons = take32();
		break;
	case 2:
		n = take() % 200;
		for (size_t i = 0; i < n; i++)
			fz.buf[i] = (char)take();
		rsp_put(fz.buf, n);
		break;
	case 3:
		server_reply();
		break;
	case 4:
		fz.intf->rsp_prod = take32();
		break;
	case 5:
		fz.intf->connection = take() % 3;
		fz.intf->error = take() % 4;
		break;
	case 6: {
		struct xsd_sockmsg h = { XS_WATCH_EVENT, 0, 0, take() % 40 };

		for (size_t i = 0; i < h.len; i++)
			fz.buf[i] = (char)(take() % 4 == 0 ? 0 : 'a' + take() % 4);
		rsp_put(&h, sizeof(h));
		rsp_put(fz.buf, h.len);
		break;
	}
	case 7:
		fz.intf->rsp_cons = take32();
		break;
	default:
		break;
	}
}

static void env_notify(void *ctx)
{
}

static void env_wait(void *ctx, uint64_t deadline)
{
	fz.waits++;
	fz.now += 1000000;
	if (fz.steps) {
		fz.steps--;
		server_step();
	}
}

static uint64_t env_now(void *ctx)
{
	return fz.now;
}

static const struct xen_ring_env_ops env = { env_notify, env_wait, env_now };

static void watch_cb(void *ctx, const char *path, const char *token)
{
	/* Touch the strings: they must be NUL-terminated and readable. */
	if (strlen(path) > XENSTORE_PAYLOAD_MAX || strlen(token) > XENSTORE_PAYLOAD_MAX)
		abort();
}

static void check_rc(int rc)
{
	if (rc > 0 || rc < -200)
		abort();
}

static const char *const paths[] = { "/a", "/local/domain/1/x", "d", "" };

static void client_op(uint8_t op)
{
	const char *path = paths[take() % 4];
	char tok[2] = { (char)('a' + take() % 4), 0 };
	struct xenbus_perm perms[4];
	xenbus_transaction_t t = take();
	unsigned int count = 0;
	size_t len = 0, blen = take() % sizeof(fz.buf);
	int rc = 0;

	switch (op % 12) {
	case 0:
		rc = xb_read(&fz.xb, t, path, fz.buf, blen, &len);
		if (rc == 0 && len >= blen)
			abort();
		break;
	case 1:
		rc = xb_write(&fz.xb, t, path, fz.buf, (size_t)take() * 16);
		break;
	case 2:
		rc = xb_directory(&fz.xb, t, path, fz.buf, blen, &count);
		if (rc == 0 && count > blen)
			abort();
		break;
	case 3:
		rc = xb_get_perms(&fz.xb, t, path, perms, 4, &count);
		break;
	case 4:
		rc = xb_transaction_start(&fz.xb, &t);
		break;
	case 5:
		rc = xb_transaction_end(&fz.xb, t ? t : 1, take() & 1);
		break;
	case 6:
		rc = xb_watch(&fz.xb, path[0] ? path : "/w", tok, watch_cb, NULL);
		break;
	case 7:
		rc = xb_unwatch(&fz.xb, path[0] ? path : "/w", tok);
		break;
	case 8:
		rc = xb_poll(&fz.xb);
		rc = rc > 0 ? 0 : rc;
		break;
	case 9:
		rc = xb_reconnect(&fz.xb);
		break;
	case 10:
		rc = xb_get_domain_path(&fz.xb, take(), fz.buf, blen);
		break;
	default:
		rc = xb_wait_event(&fz.xb, TIMEOUT_NS);
		rc = rc > 0 ? 0 : rc;
		break;
	}
	check_rc(rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xenstore_domain_interface page;
	unsigned int before;
	uint8_t b;

	memset(&page, 0, sizeof(page));
	fz.data = data;
	fz.size = size;
	fz.pos = 0;
	fz.intf = &page;
	fz.now = 0;
	fz.waits = 0;
	fz.steps = 0;
	page.server_features = take() & 3;
	if (xb_init(&fz.xb, &page, &env, NULL) < 0)
		abort();
	fz.xb.timeout_ns = TIMEOUT_NS;
	while (fz.pos < fz.size) {
		b = take();
		if (b & 0x80) {
			fz.steps += b & 0x7f;
			continue;
		}
		before = fz.waits;
		client_op(b);
		/* Two deadlines at most (reconnect, then a rewatch request per
		 * watch); each is TIMEOUT_NS of 1 ms waits. */
		if (fz.waits - before > MAX_WAITS_PER_CALL * (XENBUS_MAX_WATCHES + 2))
			abort();
	}
	return 0;
}
