/*
 * Shared-ring transport.
 *
 * The page (struct xenstore_domain_interface, io/xs_wire.h):
 *
 *   0     req[1024]   guest -> store   guest writes req_prod, we write req_cons
 *   1024  rsp[1024]   store -> guest   we write rsp_prod, guest writes rsp_cons
 *   2048  req_cons, req_prod, rsp_cons, rsp_prod   (free-running u32)
 *   2064  server_features   RECONNECTION | ERROR, set by us
 *   2068  connection        guest sets RECONNECT; we reset and set CONNECTED
 *   2072  error             set by us when we stop serving the ring
 *
 * Indices run freely and wrap at 2^32; a byte's slot is MASK_XENSTORE_IDX(idx).
 * prod - cons is the fill (unsigned arithmetic makes wrap-around free), and a
 * fill above XENSTORE_RING_SIZE can only come from a corrupt or hostile guest:
 * we set error = XENSTORE_ERROR_RINGIDX and stop, rather than trust it.
 * Worked example: cons = 0xfffffff0, prod = 0x00000010 -> fill 0x20 bytes,
 * starting at slot 0x3f0, wrapping after 16 bytes to slot 0.
 *
 * The guest owns the page, so every index is read once into a local, and
 * request bytes are copied into a private buffer before they are parsed: the
 * guest can change the page under us but never the bytes we act on. Frames
 * are reassembled there across any number of fills (a 4 KiB request arrives
 * through a 1 KiB ring). Responses are queued privately and copied into rsp
 * as the guest frees room.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "transport_ring.h"

/* Stop taking requests while this much output waits for the guest... */
#define RING_OUT_HIGH (16 * 1024)
/* ...and drop watch events beyond this (a guest that never reads). */
#define RING_OUT_MAX (256 * 1024)

#define RING_READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define RING_WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
/* Xen's xen_mb/xen_rmb/xen_wmb for a peer on another CPU. */
#define ring_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define ring_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define ring_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

struct xs_ring {
	struct xs_store *store;
	unsigned int domid;
	struct xenstore_domain_interface *intf;
	const struct xs_ring_evtchn_ops *evtchn;
	void *evtchn_ctx;
	const struct xslog *log;
	struct xs_conn *conn;
	struct xs_inbuf in;
	struct xs_outq out;
	bool failed;	   /* stopped: intf->error is set */
	bool in_kick;	   /* replies are pushed once, at the end of the kick */
	bool moved;	   /* something to signal the guest about */
	bool logged_drop;  /* a watch event was dropped (logged once) */
	bool logged_quota; /* the outstanding quota was reached (logged once) */
	/* Responses not yet fully read by the guest: the stream offset (bytes
	 * ever queued) at which each ends, oldest first, in a growable FIFO. */
	uint64_t queued, written;
	uint64_t *resp_end;
	unsigned int resp_head, resp_count, resp_cap;
};

static int ring_send(void *transport, const struct xsd_sockmsg *hdr, const void *payload);

/* Remembers where a response frame ends in the stream of queued bytes;
 * called once the frame is queued, before `queued` counts it. */
static int resp_track(struct xs_ring *r, const struct xsd_sockmsg *hdr)
{
	unsigned int i, cap;
	uint64_t *n;

	if (r->resp_count == r->resp_cap) {
		cap = r->resp_cap ? r->resp_cap * 2 : 8;
		n = malloc(cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (i = 0; i < r->resp_count; i++)
			n[i] = r->resp_end[(r->resp_head + i) % r->resp_cap];
		free(r->resp_end);
		r->resp_end = n;
		r->resp_cap = cap;
		r->resp_head = 0;
	}
	r->resp_end[(r->resp_head + r->resp_count) % r->resp_cap] =
		r->queued + sizeof(*hdr) + hdr->len;
	r->resp_count++;
	return 0;
}

/* n more bytes reached the guest: responses ending by then are done. */
static void resp_written(struct xs_ring *r, size_t n)
{
	r->written += n;
	while (r->resp_count && r->resp_end[r->resp_head] <= r->written) {
		r->resp_head = (r->resp_head + 1) % r->resp_cap;
		r->resp_count--;
	}
}

static void resp_reset(struct xs_ring *r)
{
	r->queued = r->written = 0;
	r->resp_head = r->resp_count = 0;
}

/* May another request be run? Within the output bound and the quota. */
static bool ring_may_take(struct xs_ring *r)
{
	struct xs_quota q;

	if (xs_outq_len(&r->out) >= RING_OUT_HIGH)
		return false;
	xs_conn_quota(r->conn, &q);
	if (r->resp_count < q.outstanding)
		return true;
	if (!r->logged_quota)
		xslog_printf(r->log, XSLOG_WARN,
			     "domain %u: %u requests outstanding, its quota; waiting for it to "
			     "read responses (logged once)",
			     r->domid, r->resp_count);
	r->logged_quota = true;
	return false;
}

static const struct xs_conn_ops ring_conn_ops = {
	.send = ring_send,
};

static void ring_fail(struct xs_ring *r, uint32_t error, const char *why)
{
	xslog_printf(r->log, XSLOG_WARN, "domain %u: %s; no longer serving its ring", r->domid,
		     why);
	r->failed = true;
	RING_WRITE_ONCE(r->intf->error, error);
	r->moved = true;
}

/* Copies up to len bytes out of the request ring into dst. */
static int ring_read(struct xs_ring *r, char *dst, size_t len, size_t *ret_n)
{
	struct xenstore_domain_interface *intf = r->intf;
	XENSTORE_RING_IDX cons = RING_READ_ONCE(intf->req_cons);
	XENSTORE_RING_IDX prod = RING_READ_ONCE(intf->req_prod);
	size_t n, off, first;

	/* Read the bytes only after reading req_prod: pairs with the guest's
	 * wmb() between writing req[] and advancing req_prod. */
	ring_rmb();
	if (prod - cons > XENSTORE_RING_SIZE)
		return -EPROTO;
	n = prod - cons < len ? prod - cons : len;
	off = MASK_XENSTORE_IDX(cons);
	first = XENSTORE_RING_SIZE - off < n ? XENSTORE_RING_SIZE - off : n;
	memcpy(dst, intf->req + off, first);
	memcpy(dst + first, intf->req, n - first);
	/* Finish reading req[] before handing the slots back: pairs with the
	 * guest's mb() between reading req_cons and writing req[]. */
	ring_mb();
	RING_WRITE_ONCE(intf->req_cons, cons + (XENSTORE_RING_IDX)n);
	*ret_n = n;
	return 0;
}

/* Copies as much queued output as fits into the response ring. */
static int ring_write(struct xs_ring *r, size_t *ret_n)
{
	struct xenstore_domain_interface *intf = r->intf;
	XENSTORE_RING_IDX cons = RING_READ_ONCE(intf->rsp_cons);
	XENSTORE_RING_IDX prod = RING_READ_ONCE(intf->rsp_prod);
	const char *src = xs_outq_peek(&r->out);
	size_t n, off, first;

	if (prod - cons > XENSTORE_RING_SIZE)
		return -EPROTO;
	/* Read rsp_cons before overwriting the slots it frees: pairs with the
	 * guest's mb() between reading rsp[] and advancing rsp_cons. */
	ring_mb();
	n = XENSTORE_RING_SIZE - (prod - cons);
	if (n > xs_outq_len(&r->out))
		n = xs_outq_len(&r->out);
	off = MASK_XENSTORE_IDX(prod);
	first = XENSTORE_RING_SIZE - off < n ? XENSTORE_RING_SIZE - off : n;
	memcpy(intf->rsp + off, src, first);
	memcpy(intf->rsp, src + first, n - first);
	/* The bytes before the index that publishes them: pairs with the
	 * guest's rmb() between reading rsp_prod and reading rsp[]. */
	ring_wmb();
	RING_WRITE_ONCE(intf->rsp_prod, prod + (XENSTORE_RING_IDX)n);
	xs_outq_consume(&r->out, n);
	resp_written(r, n);
	*ret_n = n;
	return 0;
}

/* Pushes queued output; returns true if any bytes moved. */
static bool ring_push(struct xs_ring *r)
{
	size_t n = 0;

	if (r->failed || !xs_outq_len(&r->out))
		return false;
	if (ring_write(r, &n) < 0) {
		ring_fail(r, XENSTORE_ERROR_RINGIDX, "response ring indices out of range");
		return false;
	}
	r->moved |= n > 0;
	xs_outq_release(&r->out); /* if it was all written: idle rings hold none */
	return n > 0;
}

static void ring_signal(struct xs_ring *r)
{
	if (!r->moved)
		return;
	r->moved = false;
	r->evtchn->notify(r->evtchn_ctx);
}

static int ring_send(void *transport, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct xs_ring *r = transport;
	int err;

	if (r->failed)
		return -EPIPE;
	err = xs_outq_push(&r->out, hdr, payload);
	if (err) {
		/* Only watch events can get here: requests are not taken while
		 * RING_OUT_HIGH bytes wait. Drop the event, keep the ring. */
		if (!r->logged_drop)
			xslog_printf(r->log, XSLOG_WARN,
				     "domain %u: %zu bytes unread in its ring; dropping watch "
				     "events (logged once)",
				     r->domid, xs_outq_len(&r->out));
		r->logged_drop = true;
		return 0;
	}
	/* A response that cannot be tracked (no memory) is still sent; it
	 * just does not count against the quota. */
	if (hdr->type != XS_WATCH_EVENT)
		resp_track(r, hdr);
	r->queued += sizeof(*hdr) + hdr->len;
	if (!r->in_kick) {
		ring_push(r);
		ring_signal(r);
	}
	return 0;
}

/* Runs complete requests while the output queue has room. */
static void ring_process(struct xs_ring *r)
{
	struct xsd_sockmsg hdr;
	const char *payload;
	int rc;

	while (!r->failed && ring_may_take(r)) {
		rc = xs_inbuf_next(&r->in, &hdr, &payload);
		if (rc < 0) {
			ring_fail(r, XENSTORE_ERROR_PROTO,
				  "request larger than XENSTORE_PAYLOAD_MAX");
			return;
		}
		if (rc == 0)
			return;
		xs_conn_request(r->conn, &hdr, payload);
	}
}

/* The guest has written request bytes we have not taken (in range or not:
 * ring_read judges). Looked at first, so that a pass with nothing to read
 * takes no input buffer. */
static bool ring_has_requests(const struct xs_ring *r)
{
	return RING_READ_ONCE(r->intf->req_prod) != RING_READ_ONCE(r->intf->req_cons);
}

/* Pulls request bytes, runs requests, pushes responses: true if any moved. */
static bool ring_pass(struct xs_ring *r)
{
	size_t room, n = 0;
	bool moved;
	char *dst;

	if (ring_may_take(r) && ring_has_requests(r)) {
		dst = xs_inbuf_space(&r->in, &room);
		if (!dst) {
			ring_fail(r, XENSTORE_ERROR_COMM, "no memory for its requests");
			return false;
		}
		if (ring_read(r, dst, room, &n) < 0) {
			ring_fail(r, XENSTORE_ERROR_RINGIDX, "request ring indices out of range");
			return false;
		}
		xs_inbuf_commit(&r->in, n);
		r->moved |= n > 0;
	}
	ring_process(r);
	moved = ring_push(r) || n > 0;
	xs_inbuf_release(&r->in); /* if every request in it was taken */
	return moved;
}

static int ring_connect(struct xs_ring *r)
{
	int err;

	r->conn = xs_conn_create(r->store, r->domid, r->domid == 0, &ring_conn_ops, r);
	if (!r->conn)
		return -ENOMEM;
	err = xs_domain_attach(r->store, r->domid, r->conn);
	if (err) {
		xs_conn_destroy(r->conn);
		r->conn = NULL;
	}
	return err;
}

/* The guest asked to reconnect: forget everything, zero the indices, and
 * say CONNECTED. Also revives a ring we had stopped. */
static int ring_reconnect(struct xs_ring *r)
{
	struct xenstore_domain_interface *intf = r->intf;
	int err;

	r->failed = true; /* nothing sent while the old connection goes */
	xs_conn_destroy(r->conn);
	r->conn = NULL;
	xs_inbuf_reset(&r->in);
	xs_outq_reset(&r->out);
	resp_reset(r);
	err = ring_connect(r);
	if (err) {
		ring_fail(r, XENSTORE_ERROR_COMM, "reconnection failed");
		return err;
	}
	RING_WRITE_ONCE(intf->req_cons, 0);
	RING_WRITE_ONCE(intf->req_prod, 0);
	RING_WRITE_ONCE(intf->rsp_cons, 0);
	RING_WRITE_ONCE(intf->rsp_prod, 0);
	RING_WRITE_ONCE(intf->error, XENSTORE_ERROR_NONE);
	/* Zeroed indices before CONNECTED: pairs with the guest's rmb() between
	 * seeing CONNECTED and using the indices again. */
	ring_mb();
	RING_WRITE_ONCE(intf->connection, XENSTORE_CONNECTED);
	r->failed = false;
	r->moved = true;
	xslog_printf(r->log, XSLOG_INFO, "domain %u: ring reconnected", r->domid);
	return 0;
}

/* A guest that keeps feeding could hold the loop forever; after this many
 * passes with progress the kick returns and the next notification resumes. */
#define RING_MAX_PASSES 256

int xs_ring_kick(struct xs_ring *r)
{
	int i;

	if (RING_READ_ONCE(r->intf->connection) == XENSTORE_RECONNECT) {
		/* Read connection before the indices the reset rewrites: pairs
		 * with the guest's wmb() before setting RECONNECT. */
		ring_rmb();
		ring_reconnect(r);
	}
	if (!r->failed) {
		r->in_kick = true;
		for (i = 0; i < RING_MAX_PASSES && ring_pass(r); i++)
			;
		r->in_kick = false;
	}
	ring_signal(r);
	return r->failed ? -EPROTO : 0;
}

int xs_ring_create(struct xs_store *s, unsigned int domid, struct xenstore_domain_interface *intf,
		   const struct xs_ring_evtchn_ops *evtchn, void *evtchn_ctx,
		   const struct xslog *log, struct xs_ring **ret_ring)
{
	struct xs_ring *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->store = s;
	r->domid = domid;
	r->intf = intf;
	r->evtchn = evtchn;
	r->evtchn_ctx = evtchn_ctx;
	r->log = log;
	xs_outq_init(&r->out, RING_OUT_MAX);
	err = xs_inbuf_init(&r->in, 0);
	if (err)
		goto out_free;
	err = ring_connect(r);
	if (err)
		goto out_fini_in;
	RING_WRITE_ONCE(intf->server_features,
			XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR);
	*ret_ring = r;
	return 0;

out_fini_in:
	xs_inbuf_fini(&r->in);
out_free:
	free(r);
	return err;
}

void xs_ring_destroy(struct xs_ring *r)
{
	if (!r)
		return;
	r->failed = true; /* the engine may send while dropping state */
	xs_conn_destroy(r->conn);
	xs_inbuf_fini(&r->in);
	xs_outq_fini(&r->out);
	free(r->resp_end);
	free(r);
}
