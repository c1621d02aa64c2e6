/*
 * vchan: the ring core (xen_vchan.h), libxenvchan's layout and protocol.
 *
 * The shared page (struct vchan_interface, <xen/io/libxenvchan.h>), granted
 * by the server; "left" carries client -> server, "right" server -> client:
 *
 *   offset 0     left.cons left.prod right.cons right.prod     (4 x u32)
 *          16    left_order right_order                        (2 x u16)
 *          20    cli_live srv_live cli_notify srv_notify       (4 x u8)
 *          24    grants[]: left ring's pages, then right's     (u32 each)
 *          1024  an order-10 ring (1 KiB), if one side has it
 *          2048  an order-11 ring (2 KiB), if one side has it
 *   rings of order 12..20 live in 2^(order-12) pages of their own, granted
 *   by the server and listed in grants[].
 *
 * Orders are fixed by the server: each ring is the smallest power of two
 * holding its minimum. At most one ring may sit at 1024 and one at 2048,
 * and grants[] must end before the lowest in-page ring; when a layout
 * breaks those rules the server moves an in-page ring to pages of its own
 * (order 12), and a client refuses such a page (-EBADMSG).
 *
 * Indices are free-running u32s: bytes in a ring = prod - cons, at most its
 * size; the byte at index i is buf[i & (size - 1)]. Each side keeps its own
 * index privately (rd.local, wr.local) and only publishes it, so a peer
 * scribbling on our index changes nothing here; the peer's index is read
 * once per look and checked: prod - cons > size is a broken ring, -EIO for
 * good. Orders and grants are read once, at connection, into private
 * copies. So a hostile peer can make us read garbage bytes or wait, never
 * loop, copy out of bounds or touch memory outside the rings.
 *
 * Worked example, a 1 KiB right ring, server writes 300 bytes at prod 900:
 *   space = 1024 - (900 - cons 900) = 1024; copy 124 bytes to buf[900..1023]
 *   and 176 to buf[0..175]; release-store prod = 1200; then the notify rule.
 *
 * Notifications (libxenvchan's rule, which the header's comment states from
 * the acting side): cli_notify holds the bits the CLIENT acts on, srv_notify
 * the SERVER's. A side that wants to hear about the peer's next write (or
 * read) sets VCHAN_NOTIFY_WRITE (READ) in the peer's byte; the peer, after
 * moving its index, clears the bit and sends an event only if it was set.
 * Both orders of "set bit / read index" and "write index / read bit" are
 * closed by full fences (F1 in vchan_send_notify pairs with F2 in
 * vchan_request_notify): either the waiter sees the new index, or the actor
 * sees the bit. A side that never asks is never notified: the suppression
 * that makes streaming cheap.
 *
 * Waiting: spin on the indices for spin_ns without asking (the peer, busy
 * or just answering, pays nothing), then ask, re-check, and sleep in the
 * binding's wait in slices of VCHAN_LIVENESS_NS, checking between slices
 * that the peer still exists (a killed domain zeroes no live byte).
 *
 * Liveness: cli_live/srv_live are 1 while that side is connected, 0 after
 * it closed (or its pages were torn down: the bindings' unmap notify
 * zeroes the byte), cli_live 2 before a client came. The binding's
 * peer_alive() adds what the page cannot say (the peer's domain is gone,
 * our mapping of its page was removed: never touch it again).
 */
/* Only codes Xen's table has: the core builds freestanding, where the E*
 * names come from <xen/errno.h> (tests/guest/freestanding.sh checks). */
#if __STDC_HOSTED__
#include <errno.h>
#else
#define XEN_ERRNO(name, value) name = value,
enum {
#include <xen/errno.h>
};
#endif

#include "xen_vchan.h"
#include "xg_decimal.h"

#define VCHAN_HDR_SIZE offsetof(struct vchan_interface, grants)
#define VCHAN_SMALL_OFFSET 1024 /* order 10 */
#define VCHAN_LARGE_OFFSET 2048 /* order 11 */
#define VCHAN_STORE_BACKOFF_MAX (100ULL * 1000 * 1000)
/* Looks at the indices between reads of the clock while spinning: ~150 ns
 * (a pause is ~20 ns here), so a short spin_ns means a short spin. */
#define VCHAN_SPIN_BATCH 8

_Static_assert(offsetof(struct vchan_interface, left_order) == 16, "libxenvchan layout");
_Static_assert(offsetof(struct vchan_interface, cli_live) == 20, "libxenvchan layout");
_Static_assert(offsetof(struct vchan_interface, grants) == 24, "libxenvchan layout");

static inline void vchan_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* ---- layout ------------------------------------------------------------ */

unsigned int vchan_order_for(size_t min_bytes)
{
	unsigned int order = VCHAN_MIN_ORDER;

	while (order <= VCHAN_MAX_ORDER && ((size_t)1 << order) < min_bytes)
		order++;
	return order <= VCHAN_MAX_ORDER ? order : 0;
}

static unsigned int vchan_pages(unsigned int order)
{
	return order >= VCHAN_PAGE_SHIFT ? 1U << (order - VCHAN_PAGE_SHIFT) : 0;
}

/* Where grants[] must end: the lowest in-page ring, or the page's end. */
static unsigned int vchan_grant_limit(unsigned int left, unsigned int right)
{
	if (left == 10 || right == 10)
		return VCHAN_SMALL_OFFSET;
	if (left == 11 || right == 11)
		return VCHAN_LARGE_OFFSET;
	return VCHAN_PAGE_SIZE;
}

int vchan_layout_check(unsigned int left, unsigned int right)
{
	unsigned int n;

	if (left < VCHAN_MIN_ORDER || left > VCHAN_MAX_ORDER || right < VCHAN_MIN_ORDER ||
	    right > VCHAN_MAX_ORDER)
		return -EBADMSG;
	if (left == right && left < VCHAN_PAGE_SHIFT)
		return -EBADMSG; /* two rings at one offset */
	n = vchan_pages(left) + vchan_pages(right);
	if (VCHAN_HDR_SIZE + n * sizeof(uint32_t) > vchan_grant_limit(left, right))
		return -EBADMSG;
	return 0;
}

/* The server's choice: move in-page rings to pages of their own until the
 * layout is valid (at most two moves). */
static void vchan_fix_orders(unsigned int *left, unsigned int *right)
{
	if (*left == *right && *right < VCHAN_PAGE_SHIFT)
		(*right)++;
	while (vchan_layout_check(*left, *right) < 0) {
		unsigned int *small = *left < *right ? left : right;

		*small = VCHAN_PAGE_SHIFT;
	}
}

/* ---- small freestanding string helpers --------------------------------- */

static int vchan_join(char *out, size_t len, const char *dir, const char *leaf)
{
	size_t i = 0;

	for (; *dir; dir++)
		if (i + 1 < len)
			out[i++] = *dir;
	if (i + 1 < len)
		out[i++] = '/';
	for (; *leaf; leaf++)
		if (i + 1 < len)
			out[i++] = *leaf;
	if (i + 1 >= len)
		return -ENAMETOOLONG;
	out[i] = '\0';
	return 0;
}

/* A decimal u32 with nothing else around it, in the C string s (a NUL
 * ends it, within size bytes). */
static int vchan_atou(const char *s, size_t size, uint32_t *ret)
{
	uint64_t v;

	if (xg_parse_u64(s, xg_strnlen(s, size), UINT32_MAX, &v) < 0)
		return -EBADMSG;
	*ret = (uint32_t)v;
	return 0;
}

/* ---- indices, liveness, notifications ---------------------------------- */

static long vchan_break(struct vchan *v)
{
	v->broken = true;
	return -EIO;
}

/* Bytes the peer produced for us, checked. The acquire pairs with the
 * peer's release store of prod after it copied the data in. */
static long vchan_rd_avail(struct vchan *v)
{
	uint32_t prod = __atomic_load_n(&v->rd.sh->prod, __ATOMIC_ACQUIRE);
	uint32_t n = prod - v->rd.local;

	return n > v->rd.size ? vchan_break(v) : (long)n;
}

/* Free bytes in the ring we write, checked. The acquire pairs with the
 * peer's release store of cons after it copied the data out, so we never
 * overwrite bytes it is still reading. */
static long vchan_wr_space(struct vchan *v)
{
	uint32_t cons = __atomic_load_n(&v->wr.sh->cons, __ATOMIC_ACQUIRE);
	uint32_t used = v->wr.local - cons;

	return used > v->wr.size ? vchan_break(v) : (long)(v->wr.size - used);
}

/* Can we touch the shared pages at all? */
static int vchan_usable(struct vchan *v)
{
	if (!v || !v->intf)
		return -EBADF; /* not set up, or closed: not the peer's doing */
	if (v->broken)
		return -EIO;
	if (!v->peer_gone && v->ops->peer_alive && !v->ops->peer_alive(v->ctx, v->port, false))
		v->peer_gone = true;
	/* A peer whose pages we mapped and which are gone: not one more
	 * access (the client's view of a dead server). */
	return v->peer_gone && !v->is_server ? -ENOTCONN : 0;
}

static uint8_t *vchan_peer_live(struct vchan *v)
{
	return v->is_server ? &v->intf->cli_live : &v->intf->srv_live;
}

bool vchan_is_open(struct vchan *v)
{
	if (vchan_usable(v) < 0 || v->peer_gone)
		return false;
	/* Pairs with the peer's seq_cst store of 0 in vchan_close(). */
	return __atomic_load_n(vchan_peer_live(v), __ATOMIC_ACQUIRE) != 0;
}

bool vchan_peer_connected(struct vchan *v)
{
	return vchan_is_open(v) && __atomic_load_n(vchan_peer_live(v), __ATOMIC_ACQUIRE) == 1;
}

/* Ask the peer to notify us about its next action `bit`: set the bit in
 * the byte the peer acts on, then F2 (pairs with F1): the caller's next
 * look at the index comes after the bit is visible. */
static void vchan_request_notify(struct vchan *v, uint8_t bit)
{
	uint8_t *b = v->is_server ? &v->intf->cli_notify : &v->intf->srv_notify;

	if (!(__atomic_load_n(b, __ATOMIC_RELAXED) & bit))
		__atomic_fetch_or(b, bit, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* F2 */
}

/* We moved an index: notify if the peer asked. F1 (pairs with F2): the
 * index store is visible before we read the request bit. */
static int vchan_send_notify(struct vchan *v, uint8_t bit)
{
	uint8_t *b = v->is_server ? &v->intf->srv_notify : &v->intf->cli_notify;

	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* F1 */
	if (!(__atomic_load_n(b, __ATOMIC_RELAXED) & bit) ||
	    !(__atomic_fetch_and(b, (uint8_t)~bit, __ATOMIC_SEQ_CST) & bit)) {
		v->stats.notifies_suppressed++;
		return 0;
	}
	v->stats.notifies_sent++;
	return v->ops->notify(v->ctx, v->port);
}

/* ---- copies ------------------------------------------------------------ */

static void vchan_copy_out(const struct vchan_ring *r, void *dst, size_t n)
{
	uint32_t off = r->local & (r->size - 1);
	size_t first = n < r->size - off ? n : r->size - off;

	__builtin_memcpy(dst, r->buf + off, first);
	__builtin_memcpy((uint8_t *)dst + first, r->buf, n - first);
}

static void vchan_copy_in(struct vchan_ring *r, const void *src, size_t n)
{
	uint32_t off = r->local & (r->size - 1);
	size_t first = n < r->size - off ? n : r->size - off;

	__builtin_memcpy(r->buf + off, src, first);
	__builtin_memcpy(r->buf, (const uint8_t *)src + first, n - first);
}

/* n <= what vchan_rd_avail() returned. The release store of cons pairs
 * with the peer's acquire in its space check. */
static long vchan_do_recv(struct vchan *v, void *buf, size_t n)
{
	int rc;

	vchan_copy_out(&v->rd, buf, n);
	v->rd.local += (uint32_t)n;
	__atomic_store_n(&v->rd.sh->cons, v->rd.local, __ATOMIC_RELEASE);
	v->stats.bytes_read += n;
	rc = vchan_send_notify(v, VCHAN_NOTIFY_READ);
	return rc < 0 ? rc : (long)n;
}

/* n <= what vchan_wr_space() returned. The release store of prod pairs
 * with the peer's acquire in its avail check: data before index. */
static long vchan_do_send(struct vchan *v, const void *buf, size_t n)
{
	int rc;

	vchan_copy_in(&v->wr, buf, n);
	v->wr.local += (uint32_t)n;
	__atomic_store_n(&v->wr.sh->prod, v->wr.local, __ATOMIC_RELEASE);
	v->stats.bytes_written += n;
	rc = vchan_send_notify(v, VCHAN_NOTIFY_WRITE);
	return rc < 0 ? rc : (long)n;
}

/* Readable (writable) bytes; if fewer than want and the call will not
 * block, ask to be told when that changes and look again (libxenvchan's
 * fast_get_data_ready). A blocking call asks in vchan_block, after its
 * spin: asking now would make the peer send an event for data we are
 * about to see by spinning (and interrupt us with it). */
static long vchan_level(struct vchan *v, bool reading, size_t want)
{
	long n = reading ? vchan_rd_avail(v) : vchan_wr_space(v);

	if (n < 0 || (size_t)n >= want || v->blocking)
		return n;
	vchan_request_notify(v, reading ? VCHAN_NOTIFY_WRITE : VCHAN_NOTIFY_READ);
	return reading ? vchan_rd_avail(v) : vchan_wr_space(v);
}

/* ---- waiting ----------------------------------------------------------- */

/* 1 when want bytes are there (or free), 0 not yet, < 0 an error. */
static int vchan_ready(struct vchan *v, bool reading, size_t want)
{
	long n = reading ? vchan_rd_avail(v) : vchan_wr_space(v);

	if (n < 0)
		return (int)n;
	if ((size_t)n >= want)
		return 1;
	return vchan_is_open(v) ? 0 : -ENOTCONN;
}

static int vchan_spin(struct vchan *v, bool reading, size_t want)
{
	uint64_t start;
	unsigned int i;
	int rc;

	if (!v->spin_ns)
		return 0;
	start = v->ops->now_ns(v->ctx);
	do {
		for (i = 0; i < VCHAN_SPIN_BATCH; i++) {
			rc = vchan_ready(v, reading, want);
			if (rc)
				return rc;
			vchan_cpu_relax();
		}
	} while (v->ops->now_ns(v->ctx) - start < v->spin_ns);
	return 0;
}

static uint64_t vchan_deadline(struct vchan *v, uint64_t timeout_ns)
{
	return timeout_ns ? v->ops->now_ns(v->ctx) + timeout_ns : 0;
}

/* A server's port is unbound until a client binds it: only a peer that
 * came can be found gone by the port's state. */
static bool vchan_peer_came(struct vchan *v)
{
	return !v->is_server || __atomic_load_n(&v->intf->cli_live, __ATOMIC_ACQUIRE) != 2;
}

void vchan_check_peer(struct vchan *v)
{
	if (!v->peer_gone && v->ops->peer_alive && vchan_peer_came(v) &&
	    !v->ops->peer_alive(v->ctx, v->port, true))
		v->peer_gone = true;
}

/* One sleep of at most a liveness slice; after a whole quiet slice, ask
 * the binding whether the peer still exists (callers then see !is_open). */
static int vchan_sleep_slice(struct vchan *v, uint64_t deadline)
{
	uint64_t now = v->ops->now_ns(v->ctx);
	uint64_t until = now + VCHAN_LIVENESS_NS;

	if (deadline && now >= deadline)
		return -ETIMEDOUT;
	if (deadline && deadline < until)
		until = deadline;
	v->stats.waits++;
	v->ops->wait(v->ctx, v->port, until);
	if (v->ops->now_ns(v->ctx) >= until)
		vchan_check_peer(v);
	return 0;
}

/* Until want bytes are readable (writable), the peer closes, or the
 * deadline passes. */
static int vchan_block(struct vchan *v, bool reading, size_t want, uint64_t deadline)
{
	int rc = vchan_spin(v, reading, want);

	if (rc > 0)
		v->stats.spins_won++;
	while (rc == 0) {
		vchan_request_notify(v, reading ? VCHAN_NOTIFY_WRITE : VCHAN_NOTIFY_READ);
		rc = vchan_ready(v, reading, want);
		if (rc)
			break;
		rc = vchan_sleep_slice(v, deadline);
		if (rc == 0)
			rc = vchan_usable(v);
	}
	return rc < 0 ? rc : 0;
}

int vchan_wait(struct vchan *v, uint64_t timeout_ns)
{
	uint64_t deadline;
	int rc = vchan_usable(v);

	if (rc < 0)
		return rc;
	if (!vchan_is_open(v))
		return -ENOTCONN;
	deadline = vchan_deadline(v, timeout_ns);
	rc = vchan_sleep_slice(v, deadline);
	if (rc == 0)
		rc = vchan_usable(v);
	/* The binding cannot say whether an event came; at the deadline the
	 * caller looks at the ring either way. */
	if (rc == 0 && deadline && v->ops->now_ns(v->ctx) >= deadline)
		rc = -ETIMEDOUT;
	return rc;
}

/* ---- reading and writing ---------------------------------------------- */

/*
 * Waits, as far as v->blocking and v->timeout_ns allow, until `want` bytes
 * can be moved (rd: read, else written). Returns how many can (>= want), 0
 * (non-blocking, not yet), or -errno. A reader still drains what is left
 * after the peer closed; a writer stops at once.
 */
static long vchan_wait_level(struct vchan *v, bool rd, size_t want, size_t len)
{
	uint64_t deadline = vchan_deadline(v, v->timeout_ns);
	long n;
	int rc;

	for (;;) {
		if (!rd && !vchan_is_open(v))
			return -ENOTCONN;
		n = vchan_level(v, rd, len);
		if (n < 0 || (size_t)n >= want)
			return n;
		if (rd && !vchan_is_open(v))
			return -ENOTCONN;
		if (!v->blocking)
			return 0;
		rc = vchan_block(v, rd, want, deadline);
		if (rc < 0)
			return rc;
	}
}

long vchan_read(struct vchan *v, void *buf, size_t len)
{
	int rc = vchan_usable(v);
	long n;

	if (rc < 0 || len == 0)
		return rc;
	n = vchan_wait_level(v, true, 1, len);
	return n <= 0 ? n : vchan_do_recv(v, buf, (size_t)n < len ? (size_t)n : len);
}

long vchan_recv(struct vchan *v, void *buf, size_t len)
{
	int rc = vchan_usable(v);
	long n;

	if (rc < 0 || len == 0)
		return rc;
	if (len > v->rd.size)
		return -EMSGSIZE;
	n = vchan_wait_level(v, true, len, len);
	return n <= 0 ? n : vchan_do_recv(v, buf, len);
}

long vchan_write(struct vchan *v, const void *buf, size_t len)
{
	int rc = vchan_usable(v);
	long n;

	if (rc < 0 || len == 0)
		return rc;
	n = vchan_wait_level(v, false, 1, len);
	return n <= 0 ? n : vchan_do_send(v, buf, (size_t)n < len ? (size_t)n : len);
}

long vchan_send(struct vchan *v, const void *buf, size_t len)
{
	int rc = vchan_usable(v);
	long n;

	if (rc < 0 || len == 0)
		return rc;
	if (len > v->wr.size)
		return -EMSGSIZE;
	n = vchan_wait_level(v, false, len, len);
	return n <= 0 ? n : vchan_do_send(v, buf, len);
}

long vchan_data_ready(struct vchan *v)
{
	int rc = vchan_usable(v);

	if (rc < 0)
		return rc;
	vchan_request_notify(v, VCHAN_NOTIFY_WRITE);
	return vchan_rd_avail(v);
}

long vchan_buffer_space(struct vchan *v)
{
	int rc = vchan_usable(v);

	if (rc < 0)
		return rc;
	vchan_request_notify(v, VCHAN_NOTIFY_READ);
	return vchan_wr_space(v);
}

/* ---- set-up and tear-down ---------------------------------------------- */

static void vchan_reset(struct vchan *v, const struct vchan_env_ops *ops, void *ctx, domid_t peer,
			bool server)
{
	__builtin_memset(v, 0, sizeof(*v));
	v->ops = ops;
	v->ctx = ctx;
	v->peer = peer;
	v->is_server = server;
	v->blocking = true;
	v->spin_ns = ops->spin_ns ? ops->spin_ns : VCHAN_SPIN_NS;
}

static int vchan_set_path(struct vchan *v, const char *xs_path)
{
	size_t n = xs_path ? xg_strnlen(xs_path, VCHAN_PATH_MAX) : 0;

	if (n == 0 || n >= VCHAN_PATH_MAX)
		return -EINVAL;
	__builtin_memcpy(v->xs_path, xs_path, n + 1);
	return 0;
}

/* Point r at its data: in the shared page (order 10/11) or in npages
 * granted pages at `pages`. */
static void vchan_ring_place(struct vchan *v, struct vchan_ring *r, struct ring_shared *sh,
			     unsigned int order, void *pages)
{
	r->sh = sh;
	r->order = order;
	r->size = 1U << order;
	r->npages = vchan_pages(order);
	r->pages = pages;
	if (order == 10)
		r->buf = (uint8_t *)v->intf + VCHAN_SMALL_OFFSET;
	else if (order == 11)
		r->buf = (uint8_t *)v->intf + VCHAN_LARGE_OFFSET;
	else
		r->buf = pages;
}

static int vchan_server_ring(struct vchan *v, struct vchan_ring *r, struct ring_shared *sh,
			     unsigned int order, uint32_t *refs)
{
	void *pages = NULL;
	int rc;

	if (order >= VCHAN_PAGE_SHIFT) {
		rc = v->ops->share(v->ctx, v->peer, vchan_pages(order), refs, -1, 0, &pages);
		if (rc < 0)
			return rc;
	}
	vchan_ring_place(v, r, sh, order, pages);
	return 0;
}

static int vchan_server_publish(struct vchan *v)
{
	char path[VCHAN_PATH_MAX + 16], num[12];
	int rc;

	xg_format_u64(num, v->ring_ref);
	rc = vchan_join(path, sizeof(path), v->xs_path, "ring-ref");
	if (rc == 0)
		rc = v->ops->store_write(v->ctx, path, num, v->peer);
	if (rc < 0)
		return rc;
	v->xs_written = true;
	xg_format_u64(num, v->port);
	rc = vchan_join(path, sizeof(path), v->xs_path, "event-channel");
	return rc < 0 ? rc : v->ops->store_write(v->ctx, path, num, v->peer);
}

static void vchan_server_header(struct vchan *v, unsigned int left, unsigned int right)
{
	struct vchan_interface *in = v->intf;

	in->left_order = (uint16_t)left;
	in->right_order = (uint16_t)right;
	in->cli_live = 2;
	in->srv_live = 1;
	/* Both sides start asking to hear about the other's writes. */
	in->cli_notify = VCHAN_NOTIFY_WRITE;
	in->srv_notify = VCHAN_NOTIFY_WRITE;
}

int vchan_server_init(struct vchan *v, const struct vchan_env_ops *ops, void *ctx, domid_t peer,
		      const char *xs_path, size_t read_min, size_t write_min)
{
	unsigned int left = vchan_order_for(read_min), right = vchan_order_for(write_min);
	int rc;

	if (!v || !ops)
		return -EINVAL;
	vchan_reset(v, ops, ctx, peer, true);
	rc = vchan_set_path(v, xs_path);
	if (rc < 0 || !left || !right)
		return rc < 0 ? rc : -EINVAL;
	vchan_fix_orders(&left, &right);
	rc = ops->port_alloc(ctx, peer, &v->port);
	if (rc < 0)
		goto out_close;
	rc = ops->share(ctx, peer, 1, &v->ring_ref, offsetof(struct vchan_interface, srv_live),
			v->port, (void **)&v->intf);
	if (rc < 0)
		goto out_close;
	rc = vchan_server_ring(v, &v->rd, &v->intf->left, left, v->grants);
	if (rc == 0)
		rc = vchan_server_ring(v, &v->wr, &v->intf->right, right,
				       v->grants + vchan_pages(left));
	if (rc < 0)
		goto out_close;
	__builtin_memcpy(v->intf->grants, v->grants,
			 (vchan_pages(left) + vchan_pages(right)) * sizeof(uint32_t));
	vchan_server_header(v, left, right);
	/* The page is complete before anyone can learn where it is. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	rc = vchan_server_publish(v);
	if (rc == 0)
		return 0;
out_close:
	vchan_close(v);
	return rc;
}

/* Read xs_path/ring-ref and xs_path/event-channel. */
static int vchan_client_lookup(struct vchan *v, uint32_t *ret_ref, uint32_t *ret_port)
{
	char path[VCHAN_PATH_MAX + 16], buf[16];
	int n;

	if (vchan_join(path, sizeof(path), v->xs_path, "ring-ref") < 0)
		return -ENAMETOOLONG;
	n = v->ops->store_read(v->ctx, path, buf, sizeof(buf));
	if (n < 0)
		return n;
	buf[(size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1] = '\0';
	if (vchan_atou(buf, sizeof(buf), ret_ref) < 0)
		return -EBADMSG;
	vchan_join(path, sizeof(path), v->xs_path, "event-channel");
	n = v->ops->store_read(v->ctx, path, buf, sizeof(buf));
	if (n < 0)
		return n;
	buf[(size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1] = '\0';
	if (vchan_atou(buf, sizeof(buf), ret_port) < 0 || *ret_port == 0)
		return -EBADMSG;
	return 0;
}

/* Until the server's nodes appear (or the deadline passes). */
static int vchan_client_find(struct vchan *v, uint64_t deadline, uint32_t *ref, uint32_t *port)
{
	uint64_t backoff = 1000000, now;
	int rc;

	for (;;) {
		rc = vchan_client_lookup(v, ref, port);
		/* Not there yet, or there but not yet readable by us (the
		 * server writes a node, then its permissions). */
		if (rc != -ENOENT && rc != -EACCES)
			return rc;
		now = v->ops->now_ns(v->ctx);
		if (!deadline || now >= deadline)
			return deadline ? -ETIMEDOUT : rc;
		v->ops->wait(v->ctx, 0, now + backoff < deadline ? now + backoff : deadline);
		if (backoff < VCHAN_STORE_BACKOFF_MAX)
			backoff *= 2;
	}
}

static int vchan_client_ring(struct vchan *v, struct vchan_ring *r, struct ring_shared *sh,
			     unsigned int order, const uint32_t *refs)
{
	void *pages = NULL;
	int rc;

	if (order >= VCHAN_PAGE_SHIFT) {
		rc = v->ops->map(v->ctx, v->peer, vchan_pages(order), refs, &pages);
		if (rc < 0)
			return rc;
	}
	vchan_ring_place(v, r, sh, order, pages);
	/* Start where the server's page says; checked on every use. */
	r->local = __atomic_load_n(sh == &v->intf->left ? &sh->prod : &sh->cons, __ATOMIC_ACQUIRE);
	return 0;
}

/* Check the page the server gave us and map its rings. */
static int vchan_client_attach(struct vchan *v)
{
	struct vchan_interface *in = v->intf;
	unsigned int left = __atomic_load_n(&in->left_order, __ATOMIC_ACQUIRE);
	unsigned int right = __atomic_load_n(&in->right_order, __ATOMIC_ACQUIRE);
	unsigned int nl;
	int rc;

	if (__atomic_load_n(&in->cli_live, __ATOMIC_ACQUIRE) != 2)
		return -EBUSY; /* another client, or a closing server */
	if (__atomic_load_n(&in->srv_live, __ATOMIC_ACQUIRE) != 1)
		return -ENOTCONN;
	rc = vchan_layout_check(left, right);
	if (rc < 0)
		return rc;
	nl = vchan_pages(left);
	__builtin_memcpy(v->grants, in->grants, (nl + vchan_pages(right)) * sizeof(uint32_t));
	rc = vchan_client_ring(v, &v->wr, &in->left, left, v->grants);
	if (rc == 0)
		rc = vchan_client_ring(v, &v->rd, &in->right, right, v->grants + nl);
	return rc;
}

int vchan_client_init(struct vchan *v, const struct vchan_env_ops *ops, void *ctx, domid_t peer,
		      const char *xs_path, uint64_t timeout_ns)
{
	uint32_t ref, rport;
	int rc;

	if (!v || !ops)
		return -EINVAL;
	vchan_reset(v, ops, ctx, peer, false);
	rc = vchan_set_path(v, xs_path);
	if (rc < 0)
		return rc;
	rc = vchan_client_find(v, vchan_deadline(v, timeout_ns), &ref, &rport);
	if (rc < 0)
		return rc;
	rc = ops->port_bind(ctx, peer, rport, &v->port);
	if (rc < 0)
		goto out_close;
	rc = ops->map(ctx, peer, 1, &ref, (void **)&v->intf);
	if (rc < 0)
		goto out_close;
	rc = vchan_client_attach(v);
	/* Only now is cli_live ours: our death must zero it from here on
	 * (libxenvchan sets the notify after the same check). */
	if (rc == 0 && ops->set_unmap_notify)
		rc = ops->set_unmap_notify(ctx, v->intf, offsetof(struct vchan_interface, cli_live),
					   v->port);
	if (rc < 0)
		goto out_close;
	/* We want to hear about the server's writes; then announce us. The
	 * seq_cst store pairs with the server's acquire load of cli_live. */
	__atomic_fetch_or(&v->intf->srv_notify, VCHAN_NOTIFY_WRITE, __ATOMIC_SEQ_CST);
	__atomic_store_n(&v->intf->cli_live, 1, __ATOMIC_SEQ_CST);
	v->attached = true;
	ops->notify(ctx, v->port);
	return 0;
out_close:
	vchan_close(v);
	return rc;
}

static void vchan_release_ring(struct vchan *v, struct vchan_ring *r)
{
	if (!r->pages)
		return;
	if (v->is_server)
		v->ops->unshare(v->ctx, r->pages, r->npages,
				v->grants + (r == &v->wr ? vchan_pages(v->rd.order) : 0));
	else
		v->ops->unmap(v->ctx, r->pages, r->npages);
	r->pages = NULL;
}

void vchan_close(struct vchan *v)
{
	if (!v || !v->ops)
		return;
	if (v->intf && (v->is_server || (v->attached && !v->peer_gone))) {
		/* Pairs with the peer's acquire load in vchan_is_open(). A
		 * client that never attached leaves cli_live alone: it may
		 * be another client's. */
		__atomic_store_n(v->is_server ? &v->intf->srv_live : &v->intf->cli_live, 0,
				 __ATOMIC_SEQ_CST);
		v->ops->notify(v->ctx, v->port);
	}
	vchan_release_ring(v, &v->rd);
	vchan_release_ring(v, &v->wr);
	if (v->intf && v->is_server)
		v->ops->unshare(v->ctx, v->intf, 1, &v->ring_ref);
	else if (v->intf)
		v->ops->unmap(v->ctx, v->intf, 1);
	v->intf = NULL;
	if (v->port)
		v->ops->port_close(v->ctx, v->port);
	v->port = 0;
	if (v->xs_written) {
		char path[VCHAN_PATH_MAX + 16];

		if (vchan_join(path, sizeof(path), v->xs_path, "ring-ref") == 0)
			v->ops->store_rm(v->ctx, path);
		if (vchan_join(path, sizeof(path), v->xs_path, "event-channel") == 0)
			v->ops->store_rm(v->ctx, path);
	}
	v->ops = NULL;
}
