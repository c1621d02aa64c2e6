/*
 * Decimal numbers in XenStore values: the guest library's one parser and
 * one formatter (xenbus.c, xenbus_dev.c, vchan.c, vchan_guest.c), and the
 * one bounded strlen they and the console's formatter measure with.
 *
 * Header-only on purpose: guest/vchan.c is also compiled into dom0's
 * lib/vchan, which does not link the guest library, so an out-of-line
 * helper would need a second home there. Freestanding: no libc calls, only
 * <stddef.h>, <stdint.h> and Xen's error table.
 *
 * The parser takes a length, not a C string, because the callers differ
 * on what a NUL means: a xenstored reply counts it as a bad byte, a
 * NUL-terminated buffer stops at it. The caller decides by the length it
 * passes (its own strnlen() or the reply's length). Leading zeros are
 * taken; a caller that caps the length (xenbus.c: 10 digits) checks that
 * itself. Worked example, max = 65535:
 *
 *   "65535" -> 0, 65535    "65536" -> -XEN_ERANGE    "" -> -XEN_EINVAL
 *   "007"   -> 0, 7        "7 "    -> -XEN_EINVAL    "+7" -> -XEN_EINVAL
 */
#ifndef XENON_GUEST_DECIMAL_H
#define XENON_GUEST_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#include <xen/errno.h>

/*
 * Bytes before the first NUL in s, looking at no more than max of them.
 * A loop, not strlen(): a freestanding guest has no libc to call, and
 * __builtin_strlen() becomes a call to strlen() unless s is a constant.
 */
static inline size_t xg_strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/* Digits of the largest uint64_t (18446744073709551615). */
#define XG_U64_DIGITS 20

/*
 * Parses [s, s + len): decimal digits and nothing else (no sign, blank or
 * NUL), at most max. 0 with *ret set; -XEN_EINVAL for an empty string or
 * a byte that is not a digit (checked first, so junk after a huge number
 * is still junk); -XEN_ERANGE above max, without ever overflowing.
 */
static inline int xg_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -XEN_EINVAL;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -XEN_EINVAL;
	for (i = 0; i < len; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		/* v * 10 + d <= max, asked without computing v * 10. */
		if (d > max || v > (max - d) / 10)
			return -XEN_ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/*
 * Writes v in decimal and a NUL into buf, which must hold the digits plus
 * one (XG_U64_DIGITS + 1 for any v; 11 for a uint32_t). Returns the number
 * of digits, without the NUL, as snprintf() would.
 */
static inline size_t xg_format_u64(char *buf, uint64_t v)
{
	char tmp[XG_U64_DIGITS];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

#endif
