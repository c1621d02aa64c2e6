/*
 * The console front end against a tiny in-process back end: the client's
 * wait hook is where the back end runs (it drains out[] a slice at a time),
 * with a fake clock, so flow control and a stalled back end are
 * deterministic. Also the freestanding printk formatter, checked against
 * the C library's snprintf.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen_guest.h"

_Static_assert(sizeof(struct xencons_interface) == 3088, "xencons_interface");
_Static_assert(offsetof(struct xencons_interface, out) == 1024, "out");
_Static_assert(offsetof(struct xencons_interface, in_cons) == 3072, "in_cons");
_Static_assert(offsetof(struct xencons_interface, out_prod) == 3084, "out_prod");

#define SINK_MAX (256 * 1024)

static struct fixture {
	struct xencons_interface *intf;
	struct xencons cons;
	uint64_t now;
	unsigned int waits, notifies;
	size_t slice;	     /* bytes the back end takes per wait; 0: stalled */
	char sink[SINK_MAX]; /* everything the back end consumed */
	size_t sink_len;
} fx;

/* The back end: consume up to fx.slice bytes of out[]. */
static void backend_drain(void)
{
	struct xencons_interface *intf = fx.intf;
	XENCONS_RING_IDX cons = intf->out_cons, prod = intf->out_prod;
	size_t n = 0;

	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* pairs with xc_put()'s wmb */
	cr_assert_leq(prod - cons, sizeof(intf->out));
	while (cons != prod && n < fx.slice && fx.sink_len < SINK_MAX) {
		fx.sink[fx.sink_len++] = intf->out[MASK_XENCONS_IDX(cons, intf->out)];
		cons++;
		n++;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with xc_put()'s mb */
	intf->out_cons = cons;
}

/* The back end: queue input for the guest. */
static size_t backend_input(const char *s, size_t len)
{
	struct xencons_interface *intf = fx.intf;
	XENCONS_RING_IDX cons = intf->in_cons, prod = intf->in_prod;
	size_t n = 0;

	while (n < len && prod - cons < sizeof(intf->in)) {
		intf->in[MASK_XENCONS_IDX(prod, intf->in)] = s[n++];
		prod++;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE); /* pairs with xcons_read()'s rmb */
	intf->in_prod = prod;
	return n;
}

static void env_notify(void *ctx)
{
	fx.notifies++;
}

static void env_wait(void *ctx, uint64_t deadline)
{
	fx.waits++;
	fx.now += 1000000;
	backend_drain();
}

static uint64_t env_now(void *ctx)
{
	return fx.now;
}

static const struct xen_ring_env_ops env = { env_notify, env_wait, env_now };

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.intf = aligned_alloc(4096, 4096);
	memset(fx.intf, 0, 4096);
	fx.slice = 700; /* not a divisor of the ring: drains wrap oddly */
	cr_assert_eq(xcons_init(&fx.cons, fx.intf, &env, &fx), 0);
}

static void teardown(void)
{
	free(fx.intf);
}

TestSuite(console, .init = setup, .fini = teardown);

/* Compares xen_snprintf with the C library on the same format. */
#define SAME(fmt, ...)                                                 \
	do {                                                           \
		char a[256], b[256];                                   \
		int na = xen_snprintf(a, sizeof(a), fmt, __VA_ARGS__); \
		int nb = snprintf(b, sizeof(b), fmt, __VA_ARGS__);     \
		cr_assert_eq(na, nb, "%s: %d vs %d", fmt, na, nb);     \
		cr_assert_str_eq(a, b, "%s", fmt);                     \
	} while (0)

Test(console, formatter_matches_libc)
{
	SAME("%s|%d|%u|%x", "str", -42, 42u, 0xbeefu);
	SAME("%lu %llu %ld %lld", ULONG_MAX, ULLONG_MAX, LONG_MIN, LLONG_MIN);
	SAME("%d %d %i", INT_MIN, INT_MAX, 0);
	SAME("%c%c%% 100%%", 'o', 'k');
	SAME("[%5d] [%-5d] [%05d] [%-3d]", 42, 42, -42, 7);
	SAME("[%8s] [%-8s] [%3s]", "ab", "cd", "longer");
	SAME("%08x %X %zu %hu %hhu", 0xabcu, 0xabcdefu, (size_t)12345, (unsigned short)65535,
	     (unsigned char)255);
	SAME("%p", (void *)0x1234abcd);
}

/* Formats the compiler would reject: through a wrapper it cannot check. */
static int raw_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = xen_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

Test(console, formatter_null_string_and_unknown)
{
	char buf[64];

	cr_assert_eq(raw_format(buf, sizeof(buf), "%s", (char *)NULL), 6);
	cr_assert_str_eq(buf, "(null)");
	raw_format(buf, sizeof(buf), "a%qb");
	cr_assert_str_eq(buf, "a%qb");
	raw_format(buf, sizeof(buf), "trailing %");
	cr_assert_str_eq(buf, "trailing ");
}

Test(console, formatter_truncates_and_counts)
{
	char buf[8];

	memset(buf, 'Z', sizeof(buf));
	cr_assert_eq(xen_snprintf(buf, 5, "%s-%d", "abcdef", 12), 9);
	cr_assert_str_eq(buf, "abcd");
	cr_assert_eq(buf[5], 'Z');
	cr_assert_eq(xen_snprintf(NULL, 0, "%d", 12345), 5);
	/* A huge width is capped, not a way to run off the end. */
	cr_assert_leq(xen_snprintf(buf, sizeof(buf), "%999999999d", 1), 1000);
}

Test(console, printk_reaches_backend)
{
	cr_assert_eq(xcons_printk(&fx.cons, "hello %s, %d%%\n", "dom1", 99), 16);
	cr_assert_eq(fx.intf->out_prod, 16);
	fx.slice = SINK_MAX;
	backend_drain();
	cr_assert_eq(fx.sink_len, 16);
	cr_assert_eq(memcmp(fx.sink, "hello dom1, 99%\n", 16), 0);
	cr_assert_gt(fx.notifies, 0);
}

Test(console, printk_longer_than_buffer_is_cut_not_overrun)
{
	static char big[3000];

	memset(big, 'x', sizeof(big) - 1);
	fx.slice = SINK_MAX;
	cr_assert_eq(xcons_printk(&fx.cons, "%s", big), XENCONS_PRINTK_MAX - 1);
	backend_drain();
	cr_assert_eq(fx.sink_len, XENCONS_PRINTK_MAX - 1);
}

/* 100 KiB through the 2 KiB ring: flow control, nothing lost or reordered. */
Test(console, flow_control_loses_nothing)
{
	static char data[100 * 1024];
	size_t off = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 251);
	/* In uneven pieces, as printk callers would. */
	while (off < sizeof(data)) {
		size_t n = sizeof(data) - off < 5000 ? sizeof(data) - off : 5000;

		cr_assert_eq(xcons_write(&fx.cons, data + off, n), (long)n);
		off += n;
	}
	fx.slice = SINK_MAX;
	backend_drain();
	cr_assert_eq(fx.sink_len, sizeof(data));
	cr_assert_eq(memcmp(fx.sink, data, sizeof(data)), 0);
	cr_assert_gt(fx.cons.stalls, 100);
	cr_assert_eq(fx.cons.bytes_out, sizeof(data));
}

Test(console, stalled_backend_times_out_with_partial_count)
{
	static char data[5000];

	fx.slice = 0;
	fx.cons.timeout_ns = 20 * 1000000ull;
	cr_assert_eq(xcons_write(&fx.cons, data, sizeof(data)), 2048);
	cr_assert_leq(fx.waits, 21);
	cr_assert_eq(xcons_write(&fx.cons, data, 10), -ETIMEDOUT);
}

Test(console, corrupt_index_is_eio)
{
	fx.intf->out_cons = fx.intf->out_prod + 5; /* fill would be 2^32 - 5 */
	cr_assert_eq(xcons_write(&fx.cons, "x", 1), -EIO);
	fx.intf->in_prod = fx.intf->in_cons + 4000;
	cr_assert_eq(xcons_read(&fx.cons, (char[8]){ 0 }, 8), -EIO);
}

Test(console, read_input_across_the_ring_end)
{
	char buf[2048];
	long n;

	fx.intf->in_cons = fx.intf->in_prod = 1000; /* 24 bytes before the end */
	cr_assert_eq(backend_input("keyboard input, wrapping", 24), 24);
	cr_assert_eq(backend_input("!", 1), 1);
	n = xcons_read(&fx.cons, buf, sizeof(buf));
	cr_assert_eq(n, 25);
	cr_assert_eq(memcmp(buf, "keyboard input, wrapping!", 25), 0);
	cr_assert_eq(xcons_read(&fx.cons, buf, sizeof(buf)), 0);
	cr_assert_eq(fx.intf->in_cons, 1025);
}

struct got {
	char buf[4096];
	size_t len;
	int calls;
};

static void input_cb(void *ctx, const char *buf, size_t len)
{
	struct got *g = ctx;

	memcpy(g->buf + g->len, buf, len);
	g->len += len;
	g->calls++;
}

Test(console, input_callback)
{
	struct got g = { 0 };
	char line[1024];

	memset(line, 'k', sizeof(line));
	xcons_set_input(&fx.cons, input_cb, &g);
	cr_assert_eq(xcons_poll(&fx.cons), 0);
	cr_assert_eq(backend_input(line, sizeof(line)), 1024);
	cr_assert_eq(xcons_poll(&fx.cons), 1024);
	cr_assert_eq(g.len, 1024);
	cr_assert_gt(g.calls, 1);
	cr_assert_eq(backend_input("more", 4), 4);
	cr_assert_eq(xcons_poll(&fx.cons), 4);
	cr_assert_eq(memcmp(g.buf + 1024, "more", 4), 0);
}
