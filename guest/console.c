/*
 * The console front end, and printk.
 *
 * The page (struct xencons_interface, io/console.h):
 *
 *   0     in[1024]    back end -> guest: it writes, then advances in_prod;
 *                     we read, then advance in_cons
 *   1024  out[2048]   guest -> back end: we write, then advance out_prod;
 *                     it reads, then advances out_cons
 *   3072  in_cons in_prod out_cons out_prod   free-running u32 indices
 *
 * A byte's slot is MASK_XENCONS_IDX(idx, ring); prod - cons is the fill. A
 * fill larger than the ring means the back end scribbled on an index: the
 * console stops (-EIO) rather than write over bytes it has not read.
 *
 * Output is never dropped: a write that finds out[] full signals the back
 * end and sleeps until it consumes, bounded by timeout_ns so a dead back end
 * cannot hang the guest; the caller learns how much went out.
 */
#include <xen/errno.h>

#include "xen_guest.h"
#include "xg_decimal.h"

#define XC_READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define XC_WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define xc_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xc_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xc_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define XC_PAGE_SHIFT 12
#define XC_WIDTH_MAX 1000 /* printf field width */

static size_t xc_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

int xcons_init(struct xencons *c, struct xencons_interface *intf,
	       const struct xen_ring_env_ops *env, void *env_ctx)
{
	if (!c || !intf || !env || !env->notify || !env->wait || !env->now_ns)
		return -XEN_EINVAL;
	*c = (struct xencons){ .intf = intf, .env = env, .env_ctx = env_ctx };
	c->timeout_ns = XENCONS_TIMEOUT_NS;
	return 0;
}

/* Copies what fits of buf into out[]; the count, or -EIO. */
static long xc_put(struct xencons *c, const char *buf, size_t len)
{
	struct xencons_interface *intf = c->intf;
	XENCONS_RING_IDX cons = XC_READ_ONCE(intf->out_cons);
	XENCONS_RING_IDX prod = XC_READ_ONCE(intf->out_prod);
	size_t n, off, first;

	if (prod - cons > sizeof(intf->out)) {
		c->broken = true;
		return -XEN_EIO;
	}
	/* Read out_cons before reusing the slots it frees: pairs with the
	 * back end's mb() between reading out[] and advancing out_cons. */
	xc_mb();
	n = xc_min(sizeof(intf->out) - (prod - cons), len);
	off = MASK_XENCONS_IDX(prod, intf->out);
	first = xc_min(sizeof(intf->out) - off, n);
	__builtin_memcpy(intf->out + off, buf, first);
	__builtin_memcpy(intf->out, buf + first, n - first);
	/* The bytes before the index that publishes them: pairs with the back
	 * end's rmb() between reading out_prod and reading out[]. */
	xc_wmb();
	XC_WRITE_ONCE(intf->out_prod, prod + (XENCONS_RING_IDX)n);
	return (long)n;
}

long xcons_write(struct xencons *c, const char *buf, size_t len)
{
	uint64_t deadline = 0;
	size_t done = 0;
	long n;

	if (!c || !c->intf || (!buf && len))
		return -XEN_EINVAL;
	while (!c->broken) {
		n = xc_put(c, buf + done, len - done);
		if (n < 0)
			break;
		done += (size_t)n;
		c->bytes_out += (uint64_t)n;
		if (n)
			c->env->notify(c->env_ctx);
		if (done == len)
			return (long)len;
		/* Full: the deadline runs from the first stall of this write. */
		if (!deadline)
			deadline = c->env->now_ns(c->env_ctx) + c->timeout_ns;
		else if (c->env->now_ns(c->env_ctx) >= deadline)
			return done ? (long)done : -XEN_ETIMEDOUT;
		c->stalls++;
		c->env->wait(c->env_ctx, deadline);
	}
	return done ? (long)done : -XEN_EIO;
}

long xcons_read(struct xencons *c, char *buf, size_t len)
{
	struct xencons_interface *intf;
	XENCONS_RING_IDX cons, prod;
	size_t n, off, first;

	if (!c || !c->intf || (!buf && len))
		return -XEN_EINVAL;
	if (c->broken)
		return -XEN_EIO;
	intf = c->intf;
	cons = XC_READ_ONCE(intf->in_cons);
	prod = XC_READ_ONCE(intf->in_prod);
	/* Read in[] only after in_prod: pairs with the back end's wmb()
	 * between writing in[] and advancing in_prod. */
	xc_rmb();
	if (prod - cons > sizeof(intf->in)) {
		c->broken = true;
		return -XEN_EIO;
	}
	n = xc_min(prod - cons, len);
	off = MASK_XENCONS_IDX(cons, intf->in);
	first = xc_min(sizeof(intf->in) - off, n);
	__builtin_memcpy(buf, intf->in + off, first);
	__builtin_memcpy(buf + first, intf->in, n - first);
	/* Done reading in[] before handing the slots back: pairs with the back
	 * end's mb() between reading in_cons and writing in[]. */
	xc_mb();
	XC_WRITE_ONCE(intf->in_cons, cons + (XENCONS_RING_IDX)n);
	c->bytes_in += n;
	if (n)
		c->env->notify(c->env_ctx); /* it may be waiting for room */
	return (long)n;
}

void xcons_set_input(struct xencons *c, xencons_input_cb cb, void *ctx)
{
	c->input_ctx = ctx;
	c->input_cb = cb;
}

long xcons_poll(struct xencons *c)
{
	char buf[128];
	long n, total = 0;

	if (!c || !c->input_cb)
		return 0;
	/* Bounded: at most one ring's worth per poll. */
	while (total < (long)sizeof(c->intf->in)) {
		n = xcons_read(c, buf, sizeof(buf));
		if (n <= 0)
			return total ? total : n;
		c->input_cb(c->input_ctx, buf, (size_t)n);
		total += n;
	}
	return total;
}

long xcons_vprintk(struct xencons *c, const char *fmt, va_list ap)
{
	char buf[XENCONS_PRINTK_MAX];
	int n = xen_vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		return n;
	return xcons_write(c, buf, xc_min((size_t)n, sizeof(buf) - 1));
}

long xcons_printk(struct xencons *c, const char *fmt, ...)
{
	va_list ap;
	long n;

	va_start(ap, fmt);
	n = xcons_vprintk(c, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- the formatter ---- */

/* Output cursor: counts every byte, stores those that fit. */
struct xc_out {
	char *buf;
	size_t size, len;
};

static void xc_putc(struct xc_out *o, char ch)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = ch;
	o->len++;
}

/* One conversion's flags and width. */
struct xc_spec {
	bool left, zero;
	unsigned int width;
	int size; /* -1 h, 0 int, 1 long, 2 long long, 3 size_t */
};

static void xc_pad(struct xc_out *o, const struct xc_spec *sp, size_t len, char ch)
{
	for (size_t i = len; i < sp->width; i++)
		xc_putc(o, ch);
}

static void xc_emit(struct xc_out *o, const struct xc_spec *sp, const char *s, size_t len)
{
	if (!sp->left)
		xc_pad(o, sp, len, ' ');
	for (size_t i = 0; i < len; i++)
		xc_putc(o, s[i]);
	if (sp->left)
		xc_pad(o, sp, len, ' ');
}

static void xc_number(struct xc_out *o, const struct xc_spec *sp, unsigned long long v, bool neg,
		      unsigned int base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	size_t n = 0, len;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + neg;
	if (sp->zero && !sp->left) {
		if (neg)
			xc_putc(o, '-');
		xc_pad(o, sp, len, '0');
	} else {
		if (!sp->left)
			xc_pad(o, sp, len, ' ');
		if (neg)
			xc_putc(o, '-');
	}
	while (n)
		xc_putc(o, tmp[--n]);
	if (sp->left)
		xc_pad(o, sp, len, ' ');
}

/* Parses flags, width and length modifiers after '%'; returns the
 * conversion character's position. */
static const char *xc_parse_spec(const char *f, struct xc_spec *sp)
{
	*sp = (struct xc_spec){ 0 };
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else
			break;
	}
	/* Absurd widths are capped at XC_WIDTH_MAX, not honoured. */
	for (; *f >= '0' && *f <= '9'; f++) {
		sp->width = sp->width * 10 + (unsigned int)(*f - '0');
		if (sp->width > XC_WIDTH_MAX)
			sp->width = XC_WIDTH_MAX;
	}
	if (*f == 'h') {
		sp->size = -1;
		f += f[1] == 'h' ? 2 : 1;
	} else if (*f == 'l') {
		sp->size = f[1] == 'l' ? 2 : 1;
		f += sp->size;
	} else if (*f == 'z') {
		sp->size = 3;
		f++;
	}
	return f;
}

static unsigned long long xc_arg_unsigned(const struct xc_spec *sp, va_list *ap)
{
	switch (sp->size) {
	case 1:
		return va_arg(*ap, unsigned long);
	case 2:
		return va_arg(*ap, unsigned long long);
	case 3:
		return va_arg(*ap, size_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static long long xc_arg_signed(const struct xc_spec *sp, va_list *ap)
{
	switch (sp->size) {
	case 1:
		return va_arg(*ap, long);
	case 2:
		return va_arg(*ap, long long);
	case 3:
		return (long long)va_arg(*ap, size_t);
	default:
		return va_arg(*ap, int);
	}
}

static void xc_convert(struct xc_out *o, const struct xc_spec *sp, char conv, va_list *ap)
{
	const char *s;
	long long v;
	char ch;

	switch (conv) {
	case 'd':
	case 'i':
		v = xc_arg_signed(sp, ap);
		xc_number(o, sp, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v,
			  v < 0, 10, false);
		break;
	case 'u':
		xc_number(o, sp, xc_arg_unsigned(sp, ap), false, 10, false);
		break;
	case 'x':
	case 'X':
		xc_number(o, sp, xc_arg_unsigned(sp, ap), false, 16, conv == 'X');
		break;
	case 'p':
		xc_emit(o, &(struct xc_spec){ 0 }, "0x", 2);
		xc_number(o, sp, (uintptr_t)va_arg(*ap, void *), false, 16, false);
		break;
	case 'c':
		ch = (char)va_arg(*ap, int);
		xc_emit(o, sp, &ch, 1);
		break;
	case 's':
		s = va_arg(*ap, const char *);
		s = s ? s : "(null)";
		xc_emit(o, sp, s, xg_strnlen(s, SIZE_MAX));
		break;
	case '%':
		xc_putc(o, '%');
		break;
	default: /* unknown: shown as written, no argument taken */
		xc_putc(o, '%');
		xc_putc(o, conv);
	}
}

int xen_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct xc_out o = { buf, size, 0 };
	struct xc_spec sp;
	va_list aq;

	if (!fmt || (!buf && size))
		return -XEN_EINVAL;
	va_copy(aq, ap);
	while (*fmt) {
		if (*fmt != '%') {
			xc_putc(&o, *fmt++);
			continue;
		}
		fmt = xc_parse_spec(fmt + 1, &sp);
		if (!*fmt)
			break;
		xc_convert(&o, &sp, *fmt++, &aq);
	}
	va_end(aq);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len > 0x7fffffff ? 0x7fffffff : (int)o.len;
}

int xen_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = xen_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- the guest binding ---- */

static void xc_guest_event(void *ctx)
{
	xcons_poll(ctx);
}

int xg_xencons_init(struct xen_guest *g, struct xencons_guest *st)
{
	struct xencons_interface *intf;
	int rc;

	if (!g || !st || !g->start_info)
		return -XEN_EINVAL;
	intf = xg_gpa_to_virt(g, (uint64_t)g->start_info->console.domU.mfn << XC_PAGE_SHIFT);
	if (!intf)
		return -XEN_EFAULT;
	rc = xcons_init(&st->cons, intf, &xen_ring_guest_env, &st->ring);
	if (rc < 0)
		return rc;
	st->ring.on_event = xc_guest_event;
	st->ring.on_event_ctx = &st->cons;
	rc = xen_ring_guest_bind(&st->ring, g, g->start_info->console.domU.evtchn, "console");
	if (rc < 0)
		return rc;
	g->console = &st->cons;
	return 0;
}

int xencons_init(struct xencons_guest *storage)
{
	return xg_xencons_init(xen_guest_current(), storage);
}

long xencons_write(const char *buf, size_t len)
{
	struct xencons *c = xencons_current();

	return c ? xcons_write(c, buf, len) : -XEN_ENOTCONN;
}

long xencons_read(char *buf, size_t len)
{
	struct xencons *c = xencons_current();

	return c ? xcons_read(c, buf, len) : -XEN_ENOTCONN;
}

void xencons_set_input_handler(xencons_input_cb cb, void *ctx)
{
	struct xencons *c = xencons_current();

	if (c)
		xcons_set_input(c, cb, ctx);
}

long printk(const char *fmt, ...)
{
	struct xencons *c = xencons_current();
	va_list ap;
	long n;

	if (!c)
		return -XEN_ENOTCONN;
	va_start(ap, fmt);
	n = xcons_vprintk(c, fmt, ap);
	va_end(ap);
	return n;
}
