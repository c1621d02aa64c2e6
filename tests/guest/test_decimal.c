/*
 * The guest library's decimal parser and formatter (guest/xg_decimal.h).
 *
 * Besides the helper's own cases, a differential check: each of the four
 * callers had its own parser before the helpers existed, and each must
 * still accept exactly the strings it accepted, with the same value. The
 * old parsers are kept below, verbatim in behaviour, as oracles; the "new"
 * side composes xg_parse_u64() exactly as the caller now does. Inputs:
 * every string of up to 7 bytes over a small alphabet (digits, junk, NUL),
 * each caller's limits +-1 with padding and junk, and seeded random digit
 * runs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>

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

static int new_xb(const char *p, size_t len, uint32_t max, uint32_t *ret)
{
	uint64_t v;

	if (len > 10 || xg_parse_u64(p, len, max, &v) < 0)
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

static int new_xbdev(const char *s, size_t size, unsigned long *ret)
{
	uint64_t v;

	if (xg_parse_u64(s, strnlen(s, size), ~0UL, &v) < 0)
		return -1;
	*ret = (unsigned long)v;
	return 0;
}

/* xbdev_enumerate(): a device id is the old parse plus id <= 0xffffffff. */
static int old_xbdev_id(const char *s, unsigned long *ret)
{
	return old_xbdev(s, ret) == 0 && *ret <= 0xffffffffUL ? 0 : -1;
}

static int new_xbdev_id(const char *s, unsigned long *ret)
{
	uint64_t v;

	if (xg_parse_u64(s, strlen(s), 0xffffffffUL, &v) < 0)
		return -1;
	*ret = (unsigned long)v;
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

static int new_vchan(const char *s, size_t size, uint32_t *ret)
{
	uint64_t v;

	if (xg_parse_u64(s, strnlen(s, size), UINT32_MAX, &v) < 0)
		return -1;
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

static int new_vg(const char *buf, size_t n, unsigned int *ret)
{
	uint64_t v;

	if (xg_parse_u64(buf, n, DOMID_FIRST_RESERVED - 1, &v) < 0)
		return -1;
	*ret = (unsigned int)v;
	return 0;
}

#define SAME(old_call, new_call, a, b, what)                                            \
	do {                                                                            \
		int o_ = (old_call), n_ = (new_call);                                   \
		cr_assert_eq(o_ == 0, n_ == 0, "%s: accept differs on %s", what, desc); \
		if (o_ == 0)                                                            \
			cr_assert_eq(a, b, "%s: value differs on %s", what, desc);      \
	} while (0)

static unsigned long checked;

/* s[0, len) as a length-delimited reply, and as a C string (s[len] = 0). */
static void compare_all(const char *s, size_t len)
{
	char buf[64], desc[160];
	uint32_t o32 = 0, n32 = 0;
	unsigned long ol = 0, nl = 0;
	unsigned int ou = 0, nu = 0;
	size_t d = 0;

	cr_assert_lt(len, sizeof(buf));
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len && d + 5 < sizeof(desc); i++)
		d += (size_t)snprintf(desc + d, sizeof(desc) - d,
				      s[i] >= '0' && s[i] <= '9' ? "%c" : "\\x%02x",
				      (unsigned char)s[i]);
	desc[d] = '\0';
	SAME(old_xb(buf, len, 0xffff, &o32), new_xb(buf, len, 0xffff, &n32), o32, n32, "xb 0xffff");
	SAME(old_xb(buf, len, UINT32_MAX, &o32), new_xb(buf, len, UINT32_MAX, &n32), o32, n32,
	     "xb u32");
	SAME(old_xbdev(buf, &ol), new_xbdev(buf, len + 1, &nl), ol, nl, "xbdev");
	SAME(old_xbdev_id(buf, &ol), new_xbdev_id(buf, &nl), ol, nl, "xbdev id");
	SAME(old_vchan(buf, &o32), new_vchan(buf, len + 1, &n32), o32, n32, "vchan");
	if (len <= 7) /* vg_read_domid's buffer is 8 bytes */
		SAME(old_vg(buf, len, &ou), new_vg(buf, len, &nu), ou, nu, "vg domid");
	checked++;
}

Test(decimal, callers_keep_their_rules_on_short_strings)
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

Test(decimal, callers_keep_their_rules_at_their_limits)
{
	static const uint64_t limits[] = { 0xffff, DOMID_FIRST_RESERVED, UINT32_MAX, UINT64_MAX };

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		for (int delta = -2; delta <= 2; delta++)
			compare_around(limits[i] + (uint64_t)(int64_t)delta);
	compare_all("99999999999999999999", 20);
	compare_all("184467440737095516150", 21);
}

Test(decimal, callers_keep_their_rules_on_random_digit_runs)
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
