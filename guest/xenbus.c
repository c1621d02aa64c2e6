/*
 * The xenbus client: XenStore requests over the store ring page.
 *
 * The page (struct xenstore_domain_interface, io/xs_wire.h), as we see it:
 *
 *   0     req[1024]  we write bytes, then advance req_prod; the server
 *                    reads them and advances req_cons
 *   1024  rsp[1024]  the server writes replies and watch events, then
 *                    advances rsp_prod; we read them and advance rsp_cons
 *   2048  req_cons req_prod rsp_cons rsp_prod   free-running u32 indices
 *   2064  server_features  connection  error
 *
 * A byte's slot is MASK_XENSTORE_IDX(idx); prod - cons (unsigned) is the
 * fill, so wrap-around at 2^32 needs no care. A fill above XENSTORE_RING_SIZE
 * can only come from a broken or hostile server: we stop using the ring
 * (-EIO until xb_reconnect()) instead of trusting it. Worked example:
 * rsp_cons = 0xfffffffc, rsp_prod = 0x00000014 -> 24 bytes to read, from
 * slot 1020: 4 bytes, then 20 from slot 0.
 *
 * A message is struct xsd_sockmsg plus hdr.len <= XENSTORE_PAYLOAD_MAX bytes,
 * so a 4 KiB request goes out in several ring-fulls: we write what fits,
 * signal, and sleep until the server frees room. Incoming bytes are copied
 * into xb->rx before anything looks at them, so the server cannot change a
 * message while we parse it.
 *
 * One request is in flight; its reply is the message echoing its req_id.
 * Watch events that arrive meanwhile go to a bounded queue and their
 * callbacks run after the request returns, so a callback may itself make
 * requests. A reply carrying another req_id is one whose request timed out:
 * it is counted and dropped.
 *
 * Nothing here loops on the server's word: every wait has a deadline and
 * every pass over the ring is bounded.
 */
#include <xen/errno.h>

#include "xg_decimal.h"
#include "xg_internal.h"

#define XB_READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define XB_WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
/* Xen's mb/rmb/wmb for a peer on another CPU. */
#define xb_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xb_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xb_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#define XB_HDR sizeof(struct xsd_sockmsg)
#define XB_PAGE_SHIFT 12 /* start_info frames are 4 KiB */
/* Messages handled per pump before the caller looks at its deadline again. */
#define XB_PUMP_MAX 64
/* Callbacks run per dispatch (more than the queue can hold), so callbacks
 * that cause events of their own cannot keep us here forever. */
#define XB_DISPATCH_MAX (XENBUS_EVENT_QUEUE_BYTES / 4)
/* Entries xb_set_perms() accepts (xenstored's default quota is 5). */
#define XB_PERMS_MAX 64

struct xb_iov {
	const void *base;
	size_t len;
};

static size_t xb_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

static bool xb_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static void xb_log(struct xenbus *xb, const char *msg)
{
	if (xb->log)
		xb->log(xb->log_ctx, msg);
}

/* The server broke the protocol: stop using the ring until reconnection. */
static int xb_fail(struct xenbus *xb, const char *why)
{
	if (!xb->broken)
		xb_log(xb, why);
	xb->broken = true;
	return -XEN_EIO;
}

/* ---- the ring ---- */

/* Copies up to len bytes into req[]; returns the count or -EIO. */
static int xb_ring_put(struct xenbus *xb, const char *src, size_t len)
{
	struct xenstore_domain_interface *intf = xb->intf;
	XENSTORE_RING_IDX cons = XB_READ_ONCE(intf->req_cons);
	XENSTORE_RING_IDX prod = XB_READ_ONCE(intf->req_prod);
	size_t n, off, first;

	if (prod - cons > XENSTORE_RING_SIZE)
		return xb_fail(xb, "xenbus: request ring indices out of range");
	/* Read req_cons before overwriting the slots it frees: pairs with the
	 * mb() in ring_read() (dom0/xenstored/transport_ring.c) between its
	 * reading req[] and advancing req_cons. */
	xb_mb();
	n = xb_min(XENSTORE_RING_SIZE - (prod - cons), len);
	off = MASK_XENSTORE_IDX(prod);
	first = xb_min(XENSTORE_RING_SIZE - off, n);
	__builtin_memcpy(intf->req + off, src, first);
	__builtin_memcpy(intf->req, src + first, n - first);
	/* The bytes before the index that publishes them: pairs with the rmb()
	 * in ring_read() between its reading req_prod and reading req[]. */
	xb_wmb();
	XB_WRITE_ONCE(intf->req_prod, prod + (XENSTORE_RING_IDX)n);
	return (int)n;
}

/* Copies up to len bytes out of rsp[]; returns the count or -EIO. */
static int xb_ring_get(struct xenbus *xb, char *dst, size_t len)
{
	struct xenstore_domain_interface *intf = xb->intf;
	XENSTORE_RING_IDX cons = XB_READ_ONCE(intf->rsp_cons);
	XENSTORE_RING_IDX prod = XB_READ_ONCE(intf->rsp_prod);
	size_t n, off, first;

	/* Read rsp[] only after rsp_prod: pairs with the wmb() in ring_write()
	 * (transport_ring.c) between its writing rsp[] and advancing rsp_prod. */
	xb_rmb();
	if (prod - cons > XENSTORE_RING_SIZE)
		return xb_fail(xb, "xenbus: response ring indices out of range");
	n = xb_min(prod - cons, len);
	off = MASK_XENSTORE_IDX(cons);
	first = xb_min(XENSTORE_RING_SIZE - off, n);
	__builtin_memcpy(dst, intf->rsp + off, first);
	__builtin_memcpy(dst + first, intf->rsp, n - first);
	/* Finish reading rsp[] before handing the slots back: pairs with the
	 * mb() in ring_write() between its reading rsp_cons and writing rsp[]. */
	xb_mb();
	XB_WRITE_ONCE(intf->rsp_cons, cons + (XENSTORE_RING_IDX)n);
	/* A server that found the ring full waits for room: tell it. */
	if (n && prod - cons == XENSTORE_RING_SIZE)
		xb->env->notify(xb->env_ctx);
	return (int)n;
}

/* The server's own verdict on the ring (error needs the ERROR feature). */
static int xb_check_conn(struct xenbus *xb)
{
	if (xb->broken)
		return -XEN_EIO;
	if ((xb->server_features & XENSTORE_SERVER_FEATURE_ERROR) &&
	    XB_READ_ONCE(xb->intf->error) != XENSTORE_ERROR_NONE)
		return xb_fail(xb, "xenbus: the server stopped the ring (error field set)");
	if (XB_READ_ONCE(xb->intf->connection) != XENSTORE_CONNECTED)
		return -XEN_EIO; /* a reconnection is in progress */
	return 0;
}

/* Sleeps until the server may have moved, or -ETIMEDOUT past deadline. */
static int xb_sleep(struct xenbus *xb, uint64_t deadline)
{
	if (xb->env->now_ns(xb->env_ctx) >= deadline)
		return -XEN_ETIMEDOUT;
	xb->env->wait(xb->env_ctx, deadline);
	return 0;
}

static uint64_t xb_deadline(struct xenbus *xb, uint64_t timeout_ns)
{
	uint64_t now = xb->env->now_ns(xb->env_ctx);

	return now + timeout_ns < now ? UINT64_MAX : now + timeout_ns;
}

/* ---- watch events ---- */

static struct xenbus_watch *xb_watch_find(struct xenbus *xb, const char *token)
{
	for (unsigned int i = 0; i < XENBUS_MAX_WATCHES; i++)
		if (xb->watches[i].used && xb_streq(xb->watches[i].token, token))
			return &xb->watches[i];
	return NULL;
}

static void xb_evq_copy_in(struct xenbus *xb, const void *src, size_t len)
{
	size_t off = xb->evq_tail % XENBUS_EVENT_QUEUE_BYTES;
	size_t first = xb_min(XENBUS_EVENT_QUEUE_BYTES - off, len);

	__builtin_memcpy(xb->evq + off, src, first);
	__builtin_memcpy(xb->evq, (const char *)src + first, len - first);
	xb->evq_tail += (uint32_t)len;
}

static void xb_evq_copy_out(struct xenbus *xb, void *dst, size_t len)
{
	size_t off = xb->evq_head % XENBUS_EVENT_QUEUE_BYTES;
	size_t first = xb_min(XENBUS_EVENT_QUEUE_BYTES - off, len);

	__builtin_memcpy(dst, xb->evq + off, first);
	__builtin_memcpy((char *)dst + first, xb->evq, len - first);
	xb->evq_head += (uint32_t)len;
}

/* Queues a WATCH_EVENT payload "path\0token\0". A full queue drops the event
 * but marks its watch, which then gets one spurious event (its own path):
 * watchers re-read state on any event, so nothing is lost, only merged. */
static void xb_evq_push(struct xenbus *xb, const char *p, uint32_t len)
{
	size_t plen = xg_strnlen(p, len), tlen;
	struct xenbus_watch *w;
	uint16_t rec;

	if (plen == len || (tlen = xg_strnlen(p + plen + 1, len - plen - 1)) == len - plen - 1) {
		xb_log(xb, "xenbus: malformed watch event ignored");
		return;
	}
	w = xb_watch_find(xb, p + plen + 1);
	if (!w)
		return; /* unwatched since: nobody to tell */
	xb->stats.events++;
	rec = (uint16_t)(plen + tlen + 2);
	if (XENBUS_EVENT_QUEUE_BYTES - (xb->evq_tail - xb->evq_head) < sizeof(rec) + rec) {
		w->missed = true;
		xb->stats.events_dropped++;
		if (!xb->overflow_logged)
			xb_log(xb, "xenbus: watch event queue full; merging events (logged once)");
		xb->overflow_logged = true;
		return;
	}
	xb_evq_copy_in(xb, &rec, sizeof(rec));
	xb_evq_copy_in(xb, p, rec);
}

/* Runs one queued or missed event's callback; false when none is left. */
static bool xb_dispatch_one(struct xenbus *xb)
{
	struct xenbus_watch *w;
	uint16_t rec;
	char *path = xb->ev_scratch;

	if (xb->evq_head != xb->evq_tail) {
		xb_evq_copy_out(xb, &rec, sizeof(rec));
		xb_evq_copy_out(xb, path, rec);
		w = xb_watch_find(xb, path + xg_strnlen(path, rec) + 1);
		if (w)
			w->cb(w->ctx, path, path + xg_strnlen(path, rec) + 1);
		return true;
	}
	for (unsigned int i = 0; i < XENBUS_MAX_WATCHES; i++) {
		w = &xb->watches[i];
		if (w->used && w->missed) {
			w->missed = false;
			w->cb(w->ctx, w->path, w->token);
			return true;
		}
	}
	return false;
}

/* Runs queued callbacks, unless a request or a dispatch is under way. */
static int xb_dispatch(struct xenbus *xb)
{
	int n = 0;

	if (xb->busy || xb->dispatching)
		return 0;
	xb->dispatching = true;
	while (n < XB_DISPATCH_MAX && xb_dispatch_one(xb))
		n++;
	xb->dispatching = false;
	return n;
}

/* ---- messages ---- */

/* Receives into rx: 1 when a whole message is there (its header in
 * *ret_hdr, its payload NUL-terminated after the header), 0 when the ring
 * ran dry first, -EIO on a server fault. */
static int xb_rx_message(struct xenbus *xb, struct xsd_sockmsg *ret_hdr)
{
	struct xsd_sockmsg hdr;
	size_t need;
	int n;

	for (;;) {
		need = XB_HDR;
		if (xb->rx_len >= XB_HDR) {
			__builtin_memcpy(&hdr, xb->rx, XB_HDR);
			if (hdr.len > XENSTORE_PAYLOAD_MAX)
				return xb_fail(xb, "xenbus: message longer than "
						   "XENSTORE_PAYLOAD_MAX");
			need += hdr.len;
			if (xb->rx_len == need) {
				xb->rx[need] = '\0';
				xb->rx_len = 0;
				*ret_hdr = hdr;
				return 1;
			}
		}
		n = xb_ring_get(xb, xb->rx + xb->rx_len, need - xb->rx_len);
		if (n <= 0)
			return n;
		xb->rx_len += (uint32_t)n;
	}
}

/* Reads what the server sent: events are queued; returns 1 with the reply
 * to want_id (if want), 0 when nothing more is ready, negative on a fault. */
static int xb_pump(struct xenbus *xb, bool want, uint32_t want_id, struct xsd_sockmsg *ret_hdr)
{
	struct xsd_sockmsg hdr;
	int rc = xb_check_conn(xb);

	for (int i = 0; rc == 0 && i < XB_PUMP_MAX; i++) {
		rc = xb_rx_message(xb, &hdr);
		if (rc <= 0)
			return rc;
		rc = 0;
		if (hdr.type == XS_WATCH_EVENT) {
			xb_evq_push(xb, xb->rx + XB_HDR, hdr.len);
		} else if (want && hdr.req_id == want_id) {
			*ret_hdr = hdr;
			return 1;
		} else {
			xb->stats.stale_replies++;
		}
	}
	return rc;
}

/* Writes all of p, sleeping while the ring is full. */
static int xb_put_all(struct xenbus *xb, const char *p, size_t len, uint64_t deadline)
{
	int n, rc;

	while (len) {
		n = xb_ring_put(xb, p, len);
		if (n < 0)
			return n;
		p += n;
		len -= (size_t)n;
		if (!len)
			break;
		/* Full: let the server drain it; keep reading its output too,
		 * so neither side waits on the other. */
		xb->env->notify(xb->env_ctx);
		rc = xb_pump(xb, false, 0, NULL);
		if (rc < 0)
			return rc;
		rc = xb_sleep(xb, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int xb_send(struct xenbus *xb, const struct xsd_sockmsg *hdr, const struct xb_iov *iov,
		   unsigned int niov, uint64_t deadline)
{
	int rc = xb_put_all(xb, (const char *)hdr, XB_HDR, deadline);

	for (unsigned int i = 0; rc == 0 && i < niov; i++)
		rc = xb_put_all(xb, iov[i].base, iov[i].len, deadline);
	if (rc < 0) {
		/* Part of a message may be in the ring: the framing is lost. */
		xb_fail(xb, "xenbus: request not sent; ring abandoned");
		return rc;
	}
	xb->env->notify(xb->env_ctx);
	return 0;
}

static int xb_wait_reply(struct xenbus *xb, uint32_t req_id, uint64_t deadline,
			 struct xsd_sockmsg *ret_hdr)
{
	int rc;

	for (;;) {
		rc = xb_pump(xb, true, req_id, ret_hdr);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		rc = xb_sleep(xb, deadline);
		if (rc < 0)
			return rc;
	}
}

static const struct {
	const char *name;
	int err;
} xb_errors[] = {
	{ "EINVAL", XEN_EINVAL }, { "EACCES", XEN_EACCES },   { "EEXIST", XEN_EEXIST },
	{ "EISDIR", XEN_EISDIR }, { "ENOENT", XEN_ENOENT },   { "ENOMEM", XEN_ENOMEM },
	{ "ENOSPC", XEN_ENOSPC }, { "EIO", XEN_EIO },	      { "ENOTEMPTY", XEN_ENOTEMPTY },
	{ "ENOSYS", XEN_ENOSYS }, { "EROFS", XEN_EROFS },     { "EBUSY", XEN_EBUSY },
	{ "EAGAIN", XEN_EAGAIN }, { "EISCONN", XEN_EISCONN }, { "E2BIG", XEN_E2BIG },
	{ "EPERM", XEN_EPERM },	  { "EQUOTA", XEN_ENOSPC },
};

/* An XS_ERROR payload (NUL-terminated in rx) as a negative errno. Unknown
 * names become -EINVAL, as in Linux. */
static int xb_errno(const char *name)
{
	for (size_t i = 0; i < sizeof(xb_errors) / sizeof(xb_errors[0]); i++)
		if (xb_streq(xb_errors[i].name, name))
			return -xb_errors[i].err;
	return -XEN_EINVAL;
}

/* One request and its reply. The reply payload goes to reply (if not NULL):
 * -ERANGE, with *ret_len the size needed, if it does not fit. */
static int xb_call(struct xenbus *xb, uint32_t type, xenbus_transaction_t txn,
		   const struct xb_iov *iov, unsigned int niov, char *reply, size_t reply_max,
		   size_t *ret_len)
{
	struct xsd_sockmsg hdr = { .type = type, .tx_id = txn }, rhdr;
	uint64_t deadline = xb_deadline(xb, xb->timeout_ns);
	int rc;

	for (unsigned int i = 0; i < niov; i++)
		hdr.len += (uint32_t)iov[i].len;
	if (hdr.len > XENSTORE_PAYLOAD_MAX)
		return -XEN_E2BIG;
	rc = xb_check_conn(xb);
	if (rc < 0)
		return rc;
	hdr.req_id = xb->next_req_id++;
	xb->stats.requests++;
	rc = xb_send(xb, &hdr, iov, niov, deadline);
	if (rc == 0)
		rc = xb_wait_reply(xb, hdr.req_id, deadline, &rhdr);
	if (rc < 0)
		return rc;
	if (rhdr.type == XS_ERROR)
		return xb_errno(xb->rx + XB_HDR);
	if (rhdr.type != type)
		return -XEN_EIO;
	if (ret_len)
		*ret_len = rhdr.len;
	if (!reply)
		return 0;
	if (rhdr.len > reply_max)
		return -XEN_ERANGE;
	__builtin_memcpy(reply, xb->rx + XB_HDR, rhdr.len);
	return 0;
}

/* xb_call() for the public API: serialised, then callbacks run. */
static int xb_request(struct xenbus *xb, uint32_t type, xenbus_transaction_t txn,
		      const struct xb_iov *iov, unsigned int niov, char *reply, size_t reply_max,
		      size_t *ret_len)
{
	int rc;

	if (!xb->intf)
		return -XEN_ENOTCONN;
	if (xb->busy)
		return -XEN_EBUSY;
	xb->busy = true;
	rc = xb_call(xb, type, txn, iov, niov, reply, reply_max, ret_len);
	xb->busy = false;
	/* Events sent with the reply (a new watch's initial event) are
	 * dispatched now, not at some later request. */
	if (rc != -XEN_EIO)
		xb_pump(xb, false, 0, NULL);
	xb_dispatch(xb);
	return rc;
}

/* A path with its NUL, checked against the protocol's limit. */
static int xb_path_iov(const char *path, struct xb_iov *ret_iov)
{
	size_t n;

	if (!path)
		return -XEN_EINVAL;
	n = xg_strnlen(path, XENSTORE_ABS_PATH_MAX + 1);
	if (n > XENSTORE_ABS_PATH_MAX)
		return -XEN_ENAMETOOLONG;
	ret_iov->base = path;
	ret_iov->len = n + 1;
	return 0;
}

/* Copies a string reply (value or path) NUL-terminated into buf. */
static int xb_string_reply(struct xenbus *xb, uint32_t type, xenbus_transaction_t txn,
			   const struct xb_iov *iov, unsigned int niov, char *buf, size_t len,
			   size_t *ret_len)
{
	size_t n = 0;
	int rc;

	if (!buf || !len)
		return -XEN_EINVAL;
	rc = xb_request(xb, type, txn, iov, niov, buf, len - 1, &n);
	if (rc == 0 || rc == -XEN_ERANGE) {
		if (ret_len)
			*ret_len = n;
		if (rc == 0)
			buf[n] = '\0';
	}
	return rc;
}

/* ---- the API ---- */

/* xb_init on xb already zero: only the header is written, so the event
 * queue and message buffers (~35 KiB) are touched when first used. */
static int xb_init_zeroed(struct xenbus *xb, struct xenstore_domain_interface *intf,
			  const struct xen_ring_env_ops *env, void *env_ctx)
{
	if (!xb || !intf || !env || !env->notify || !env->wait || !env->now_ns)
		return -XEN_EINVAL;
	xb->intf = intf;
	xb->env = env;
	xb->env_ctx = env_ctx;
	xb->timeout_ns = XENBUS_TIMEOUT_NS;
	xb->next_req_id = 1;
	/* Written by the server before it serves the page; read once. */
	xb->server_features = XB_READ_ONCE(intf->server_features);
	return 0;
}

int xb_init(struct xenbus *xb, struct xenstore_domain_interface *intf,
	    const struct xen_ring_env_ops *env, void *env_ctx)
{
	if (xb)
		__builtin_memset(xb, 0, sizeof(*xb));
	return xb_init_zeroed(xb, intf, env, env_ctx);
}

int xb_read(struct xenbus *xb, xenbus_transaction_t txn, const char *path, char *buf, size_t len,
	    size_t *ret_len)
{
	struct xb_iov iov;
	int rc = xb_path_iov(path, &iov);

	if (rc < 0)
		return rc;
	return xb_string_reply(xb, XS_READ, txn, &iov, 1, buf, len, ret_len);
}

int xb_write(struct xenbus *xb, xenbus_transaction_t txn, const char *path, const void *value,
	     size_t len)
{
	struct xb_iov iov[2] = { [1] = { value, len } };
	int rc = xb_path_iov(path, &iov[0]);

	if (rc < 0)
		return rc;
	if (!value && len)
		return -XEN_EINVAL;
	return xb_request(xb, XS_WRITE, txn, iov, 2, NULL, 0, NULL);
}

static int xb_path_op(struct xenbus *xb, uint32_t type, xenbus_transaction_t txn, const char *path)
{
	struct xb_iov iov;
	int rc = xb_path_iov(path, &iov);

	if (rc < 0)
		return rc;
	return xb_request(xb, type, txn, &iov, 1, NULL, 0, NULL);
}

int xb_mkdir(struct xenbus *xb, xenbus_transaction_t txn, const char *path)
{
	return xb_path_op(xb, XS_MKDIR, txn, path);
}

int xb_rm(struct xenbus *xb, xenbus_transaction_t txn, const char *path)
{
	return xb_path_op(xb, XS_RM, txn, path);
}

/* Counts the NUL-terminated strings of a list reply; -EIO if the last one
 * is unterminated. */
static int xb_count_strings(const char *p, size_t len, unsigned int *ret_count)
{
	unsigned int n = 0;

	if (len && p[len - 1] != '\0')
		return -XEN_EIO;
	for (size_t i = 0; i < len; i++)
		n += p[i] == '\0';
	*ret_count = n;
	return 0;
}

int xb_directory(struct xenbus *xb, xenbus_transaction_t txn, const char *path, char *buf,
		 size_t len, unsigned int *ret_count)
{
	struct xb_iov iov;
	size_t n = 0;
	int rc = xb_path_iov(path, &iov);

	if (rc < 0)
		return rc;
	if (!buf || !ret_count)
		return -XEN_EINVAL;
	rc = xb_request(xb, XS_DIRECTORY, txn, &iov, 1, buf, len, &n);
	if (rc < 0)
		return rc;
	return xb_count_strings(buf, n, ret_count);
}

/* A number in xenstored's reply, [p, p + len) (at most max): digits only
 * and at most 10 of them, so a u32 padded with zeros is refused. */
static int xb_parse_uint(const char *p, size_t len, uint32_t max, uint32_t *ret)
{
	uint64_t v;

	if (len > 10 || xg_parse_u64(p, len, max, &v) < 0)
		return -XEN_EIO;
	*ret = (uint32_t)v;
	return 0;
}

static bool xb_perm_char_ok(char c)
{
	return c == 'n' || c == 'r' || c == 'w' || c == 'b';
}

/* "n0\0r1\0" into perms; -ERANGE with *ret_n = the count if max is short. */
static int xb_parse_perms(const char *p, size_t len, struct xenbus_perm *perms, unsigned int max,
			  unsigned int *ret_n)
{
	unsigned int n = 0;
	uint32_t domid;
	size_t l;

	if (len == 0 || p[len - 1] != '\0')
		return -XEN_EIO;
	for (size_t off = 0; off < len; off += l + 1, n++) {
		l = xg_strnlen(p + off, len - off);
		if (l < 2 || !xb_perm_char_ok(p[off]) ||
		    xb_parse_uint(p + off + 1, l - 1, 0xffff, &domid) < 0)
			return -XEN_EIO;
		if (n < max) {
			perms[n].perm = p[off];
			perms[n].domid = (domid_t)domid;
		}
	}
	*ret_n = n;
	return n > max ? -XEN_ERANGE : 0;
}

int xb_get_perms(struct xenbus *xb, xenbus_transaction_t txn, const char *path,
		 struct xenbus_perm *perms, unsigned int max, unsigned int *ret_n)
{
	struct xb_iov iov;
	size_t n = 0;
	int rc = xb_path_iov(path, &iov);

	if (rc < 0)
		return rc;
	if ((!perms && max) || !ret_n)
		return -XEN_EINVAL;
	rc = xb_request(xb, XS_GET_PERMS, txn, &iov, 1, xb->ev_scratch, XENSTORE_PAYLOAD_MAX, &n);
	if (rc < 0)
		return rc;
	return xb_parse_perms(xb->ev_scratch, n, perms, max, ret_n);
}

int xb_set_perms(struct xenbus *xb, xenbus_transaction_t txn, const char *path,
		 const struct xenbus_perm *perms, unsigned int n)
{
	char list[XB_PERMS_MAX * 7];
	struct xb_iov iov[2] = { [1] = { list, 0 } };
	int rc = xb_path_iov(path, &iov[0]);

	if (rc < 0)
		return rc;
	if (n == 0 || n > XB_PERMS_MAX || !perms)
		return -XEN_EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		if (!xb_perm_char_ok(perms[i].perm))
			return -XEN_EINVAL;
		list[iov[1].len++] = perms[i].perm;
		iov[1].len += xg_format_u64(list + iov[1].len, perms[i].domid) + 1;
	}
	return xb_request(xb, XS_SET_PERMS, txn, iov, 2, NULL, 0, NULL);
}

int xb_transaction_start(struct xenbus *xb, xenbus_transaction_t *ret_txn)
{
	struct xb_iov iov = { "", 1 };
	char id[16];
	size_t n = 0;
	int rc;

	if (!ret_txn)
		return -XEN_EINVAL;
	rc = xb_request(xb, XS_TRANSACTION_START, XBT_NIL, &iov, 1, id, sizeof(id), &n);
	if (rc < 0)
		return rc;
	if (n && id[n - 1] == '\0')
		n--;
	rc = xb_parse_uint(id, n, UINT32_MAX, ret_txn);
	if (rc == 0 && *ret_txn == XBT_NIL)
		rc = -XEN_EIO;
	return rc;
}

int xb_transaction_end(struct xenbus *xb, xenbus_transaction_t txn, bool abort)
{
	struct xb_iov iov = { abort ? "F" : "T", 2 };

	if (txn == XBT_NIL)
		return -XEN_EINVAL;
	return xb_request(xb, XS_TRANSACTION_END, txn, &iov, 1, NULL, 0, NULL);
}

int xb_transaction(struct xenbus *xb, int (*fn)(void *ctx, xenbus_transaction_t txn), void *ctx)
{
	xenbus_transaction_t txn;
	int rc = -XEN_EAGAIN;

	for (int i = 0; i < XENBUS_TXN_RETRIES && rc == -XEN_EAGAIN; i++) {
		rc = xb_transaction_start(xb, &txn);
		if (rc < 0)
			return rc;
		rc = fn(ctx, txn);
		if (rc != 0) {
			/* fn's own error wins; the abort's result is moot. */
			xb_transaction_end(xb, txn, true);
			if (rc == -XEN_EAGAIN)
				continue;
			return rc;
		}
		rc = xb_transaction_end(xb, txn, false);
	}
	return rc;
}

/* The WATCH/UNWATCH payload "path\0token\0". */
static int xb_watch_iov(const char *path, const char *token, struct xb_iov iov[2])
{
	int rc = xb_path_iov(path, &iov[0]);

	if (rc < 0)
		return rc;
	if (!token)
		return -XEN_EINVAL;
	iov[1].base = token;
	iov[1].len = xg_strnlen(token, XENBUS_WATCH_TOKEN_MAX) + 1;
	if (iov[1].len > XENBUS_WATCH_TOKEN_MAX)
		return -XEN_ENAMETOOLONG;
	return 0;
}

static struct xenbus_watch *xb_watch_alloc(struct xenbus *xb)
{
	for (unsigned int i = 0; i < XENBUS_MAX_WATCHES; i++)
		if (!xb->watches[i].used)
			return &xb->watches[i];
	return NULL;
}

int xb_watch(struct xenbus *xb, const char *path, const char *token, xenbus_watch_cb cb, void *ctx)
{
	struct xb_iov iov[2];
	struct xenbus_watch *w;
	int rc = xb_watch_iov(path, token, iov);

	if (rc < 0)
		return rc;
	if (!cb)
		return -XEN_EINVAL;
	if (iov[0].len > XENBUS_WATCH_PATH_MAX)
		return -XEN_ENAMETOOLONG;
	if (xb_watch_find(xb, token))
		return -XEN_EEXIST;
	w = xb_watch_alloc(xb);
	if (!w)
		return -XEN_ENOSPC;
	/* Registered first, so the initial event finds its watch. */
	*w = (struct xenbus_watch){ .used = true, .cb = cb, .ctx = ctx };
	__builtin_memcpy(w->path, path, iov[0].len);
	__builtin_memcpy(w->token, token, iov[1].len);
	rc = xb_request(xb, XS_WATCH, XBT_NIL, iov, 2, NULL, 0, NULL);
	if (rc < 0)
		w->used = false;
	return rc;
}

int xb_unwatch(struct xenbus *xb, const char *path, const char *token)
{
	struct xb_iov iov[2];
	struct xenbus_watch *w;
	int rc = xb_watch_iov(path, token, iov);

	if (rc < 0)
		return rc;
	w = xb_watch_find(xb, token);
	if (!w)
		return -XEN_ENOENT;
	/* Forgotten first: queued events for it are skipped at dispatch. */
	w->used = false;
	return xb_request(xb, XS_UNWATCH, XBT_NIL, iov, 2, NULL, 0, NULL);
}

int xb_get_domain_path(struct xenbus *xb, domid_t domid, char *buf, size_t len)
{
	char id[12];
	struct xb_iov iov = { id, xg_format_u64(id, domid) + 1 }; /* with its NUL */
	size_t n = 0;
	int rc = xb_string_reply(xb, XS_GET_DOMAIN_PATH, XBT_NIL, &iov, 1, buf, len, &n);

	/* The reply carries its own NUL; buf is terminated either way. */
	if (rc == 0 && (n == 0 || xg_strnlen(buf, n) == 0))
		return -XEN_EIO;
	return rc;
}

int xb_poll(struct xenbus *xb)
{
	int rc;

	if (!xb->intf)
		return -XEN_ENOTCONN;
	if (xb->busy)
		return 0;
	rc = xb_pump(xb, false, 0, NULL);
	if (rc < 0)
		return rc;
	return xb_dispatch(xb);
}

int xb_wait_event(struct xenbus *xb, uint64_t timeout_ns)
{
	uint64_t deadline;
	int rc;

	if (!xb->intf)
		return -XEN_ENOTCONN;
	deadline = xb_deadline(xb, timeout_ns);
	for (;;) {
		rc = xb_poll(xb);
		if (rc != 0)
			return rc;
		rc = xb_sleep(xb, deadline);
		if (rc < 0)
			return rc;
	}
}

/* Re-registers every watch after the server forgot them. */
static int xb_rewatch(struct xenbus *xb)
{
	struct xb_iov iov[2];
	int rc;

	for (unsigned int i = 0; i < XENBUS_MAX_WATCHES; i++) {
		struct xenbus_watch *w = &xb->watches[i];

		if (!w->used)
			continue;
		xb_watch_iov(w->path, w->token, iov);
		rc = xb_request(xb, XS_WATCH, XBT_NIL, iov, 2, NULL, 0, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int xb_reconnect(struct xenbus *xb)
{
	struct xenstore_domain_interface *intf = xb->intf;
	uint64_t deadline;

	if (!intf)
		return -XEN_ENOTCONN;
	if (!(xb->server_features & XENSTORE_SERVER_FEATURE_RECONNECTION))
		return -XEN_EOPNOTSUPP;
	if (xb->busy)
		return -XEN_EBUSY;
	/* Done with the indices before asking for their reset: pairs with the
	 * rmb() in xs_ring_kick() after it reads connection. */
	xb_mb();
	XB_WRITE_ONCE(intf->connection, XENSTORE_RECONNECT);
	xb->env->notify(xb->env_ctx);
	deadline = xb_deadline(xb, xb->timeout_ns);
	while (XB_READ_ONCE(intf->connection) != XENSTORE_CONNECTED)
		if (xb_sleep(xb, deadline) < 0)
			return -XEN_ETIMEDOUT;
	/* Use the zeroed indices only after seeing CONNECTED: pairs with the
	 * mb() in ring_reconnect() before it sets CONNECTED. */
	xb_rmb();
	xb->rx_len = 0;
	xb->broken = false;
	return xb_rewatch(xb);
}

/* ---- the guest binding (shared with console.c) ---- */

static void ring_guest_notify(void *ctx)
{
	struct xen_ring_guest *rg = ctx;

	xg_notify_remote_via_evtchn(rg->g, rg->port);
}

/* SCHEDOP_poll on the ring's port, no event lost (xg_wait_ports). */
static void ring_guest_wait(void *ctx, uint64_t deadline)
{
	struct xen_ring_guest *rg = ctx;

	xg_wait_ports(rg->g, &rg->kicked, &rg->port, 1, deadline);
}

static uint64_t ring_guest_now(void *ctx)
{
	struct xen_ring_guest *rg = ctx;

	return xg_system_time_ns(rg->g);
}

const struct xen_ring_env_ops xen_ring_guest_env = {
	.notify = ring_guest_notify,
	.wait = ring_guest_wait,
	.now_ns = ring_guest_now,
};

static irqreturn_t ring_guest_irq(int irq, void *dev_id)
{
	struct xen_ring_guest *rg = dev_id;

	/* The waiter re-reads the ring; the event itself carries nothing. */
	__atomic_store_n(&rg->kicked, true, __ATOMIC_RELEASE);
	if (rg->on_event)
		rg->on_event(rg->on_event_ctx);
	return IRQ_HANDLED;
}

int xen_ring_guest_bind(struct xen_ring_guest *rg, struct xen_guest *g, evtchn_port_t port,
			const char *devname)
{
	int irq;

	rg->g = g;
	rg->port = port;
	rg->irq = -1;
	rg->kicked = false;
	irq = xg_bind_evtchn_to_irqhandler(g, port, ring_guest_irq, 0, devname, rg);
	if (irq < 0)
		return irq;
	rg->irq = irq;
	return 0;
}

void xen_ring_guest_unbind(struct xen_ring_guest *rg)
{
	if (rg->irq >= 0)
		xg_unbind_from_irqhandler(rg->g, rg->irq, rg);
	rg->irq = -1;
}

int xg_xenbus_init(struct xen_guest *g, struct xenbus_guest *st)
{
	struct xenstore_domain_interface *intf;
	int rc;

	if (!g || !st || !g->start_info)
		return -XEN_EINVAL;
	intf = xg_gpa_to_virt(g, (uint64_t)g->start_info->store_mfn << XB_PAGE_SHIFT);
	if (!intf)
		return -XEN_EFAULT;
	/* The storage is often fresh guest pages (procdom_alloc_pages). */
	if (xg_mem_is_zero(&g->platform, st, sizeof(*st)))
		rc = xb_init_zeroed(&st->xb, intf, &xen_ring_guest_env, &st->ring);
	else
		rc = xb_init(&st->xb, intf, &xen_ring_guest_env, &st->ring);
	if (rc < 0)
		return rc;
	st->ring.on_event = NULL; /* requests and xb_poll() read the ring */
	rc = xen_ring_guest_bind(&st->ring, g, g->start_info->store_evtchn, "xenbus");
	if (rc < 0)
		return rc;
	g->xenbus = &st->xb;
	return 0;
}

/* ---- the Mini-OS/Linux names ---- */

int xenbus_init(struct xenbus_guest *storage)
{
	return xg_xenbus_init(xen_guest_current(), storage);
}

int xenbus_read(xenbus_transaction_t txn, const char *path, char *buf, size_t len, size_t *ret_len)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_read(xb, txn, path, buf, len, ret_len) : -XEN_ENOTCONN;
}

int xenbus_write(xenbus_transaction_t txn, const char *path, const void *value, size_t len)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_write(xb, txn, path, value, len) : -XEN_ENOTCONN;
}

int xenbus_mkdir(xenbus_transaction_t txn, const char *path)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_mkdir(xb, txn, path) : -XEN_ENOTCONN;
}

int xenbus_rm(xenbus_transaction_t txn, const char *path)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_rm(xb, txn, path) : -XEN_ENOTCONN;
}

int xenbus_directory(xenbus_transaction_t txn, const char *path, char *buf, size_t len,
		     unsigned int *ret_count)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_directory(xb, txn, path, buf, len, ret_count) : -XEN_ENOTCONN;
}

int xenbus_get_perms(xenbus_transaction_t txn, const char *path, struct xenbus_perm *perms,
		     unsigned int max, unsigned int *ret_n)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_get_perms(xb, txn, path, perms, max, ret_n) : -XEN_ENOTCONN;
}

int xenbus_set_perms(xenbus_transaction_t txn, const char *path, const struct xenbus_perm *perms,
		     unsigned int n)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_set_perms(xb, txn, path, perms, n) : -XEN_ENOTCONN;
}

int xenbus_transaction_start(xenbus_transaction_t *ret_txn)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_transaction_start(xb, ret_txn) : -XEN_ENOTCONN;
}

int xenbus_transaction_end(xenbus_transaction_t txn, bool abort)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_transaction_end(xb, txn, abort) : -XEN_ENOTCONN;
}

int xenbus_transaction(int (*fn)(void *ctx, xenbus_transaction_t txn), void *ctx)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_transaction(xb, fn, ctx) : -XEN_ENOTCONN;
}

int xenbus_watch(const char *path, const char *token, xenbus_watch_cb cb, void *ctx)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_watch(xb, path, token, cb, ctx) : -XEN_ENOTCONN;
}

int xenbus_unwatch(const char *path, const char *token)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_unwatch(xb, path, token) : -XEN_ENOTCONN;
}

int xenbus_get_domain_path(domid_t domid, char *buf, size_t len)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_get_domain_path(xb, domid, buf, len) : -XEN_ENOTCONN;
}

int xenbus_poll(void)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_poll(xb) : -XEN_ENOTCONN;
}

int xenbus_reconnect(void)
{
	struct xenbus *xb = xenbus_current();

	return xb ? xb_reconnect(xb) : -XEN_ENOTCONN;
}
