/*
 * XENON_BOOT: the boot record xenon-hvd hands a domain's process in its
 * environment (procdom_proto.h, section 1), e.g.
 *
 *   v=1 domid=3 vcpus=2 ram=3 evt=4 xen=5 hc=6,7 max_pages=256 max_gfn=1280
 *   start_info=255 evt_pages=45 xen_pages=72 ppid=812
 *
 * Parsed strictly, because a half-understood boot record maps the wrong
 * memory: fields are separated by spaces (only ' '), every key appears exactly once, values are
 * plain decimal (no sign, no leading zeros, no overflow), unknown keys are errors. Cross checks:
 * version 1; ppid (xenon-hvd's pid, for the parent-death check in
 * rt_main.c; xenon-hvd is the parent even though its spawner process makes
 * the domain process, with CLONE_PARENT) is the one optional key, absent
 * from older daemons; 1 <= vcpus <= 32 and exactly
 * `vcpus` hc fds; every fd distinct; 0 < max_pages < max_gfn <= RT_MAX_GFN (the overlay window
 * above RAM holds shared_info at least); start_info < max_pages; evt_pages covers shared_info and
 * every vCPU page; xen_pages <= RT_MAX_GFN.
 */
#include "rt_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BOOT_MAX_LEN 1024

enum boot_key {
	K_V,
	K_DOMID,
	K_VCPUS,
	K_RAM,
	K_EVT,
	K_XEN,
	K_HC,
	K_MAXP,
	K_MAXG,
	K_SI,
	K_EVTP,
	K_XENP,
	K_PPID, /* optional (added in v1): the parent that must outlive us */
	K_NR
};

static const char *const boot_keys[K_NR] = {
	[K_V] = "v",	      [K_DOMID] = "domid",   [K_VCPUS] = "vcpus",    [K_RAM] = "ram",
	[K_EVT] = "evt",      [K_XEN] = "xen",	     [K_HC] = "hc",	     [K_MAXP] = "max_pages",
	[K_MAXG] = "max_gfn", [K_SI] = "start_info", [K_EVTP] = "evt_pages", [K_XENP] = "xen_pages",
	[K_PPID] = "ppid",
};

int rt_parse_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A decimal number in [s, end) no larger than max (no sign, no leading
 * zero). Shared with the standby's XENON_STANDBY (rt_standby.c). */
bool rt_parse_number(const char *s, const char *end, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (s == end || (end - s > 1 && *s == '0'))
		return false;
	for (; s < end; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9')
			return false;
		/* d > max first: max - d would wrap (fork=2 against max 1). */
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

static int boot_key_index(const char *s, size_t len)
{
	int k;

	for (k = 0; k < K_NR; k++) {
		if (strlen(boot_keys[k]) == len && memcmp(boot_keys[k], s, len) == 0)
			return k;
	}
	return -1;
}

/* hc=a,b,c: one fd per vCPU, in vCPU order. */
static int boot_hc(struct procdom_boot *b, const char *s, const char *end, unsigned int *ret_n)
{
	unsigned int n = 0;
	uint64_t fd;

	while (s <= end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *stop = comma ? comma : end;

		if (n == RT_MAX_VCPUS || !rt_parse_number(s, stop, INT_MAX, &fd))
			return -EINVAL;
		b->hc_fd[n++] = (int)fd;
		if (!comma)
			break;
		s = comma + 1;
	}
	*ret_n = n;
	return 0;
}

static int boot_field(struct procdom_boot *b, int key, const char *v, const char *end,
		      unsigned int *nr_hc)
{
	static const uint64_t max[K_NR] = {
		[K_V] = UINT32_MAX,	  [K_DOMID] = DOMID_FIRST_RESERVED - 1,
		[K_VCPUS] = RT_MAX_VCPUS, [K_RAM] = INT_MAX,
		[K_EVT] = INT_MAX,	  [K_XEN] = INT_MAX,
		[K_MAXP] = RT_MAX_GFN,	  [K_MAXG] = RT_MAX_GFN,
		[K_SI] = RT_MAX_GFN,	  [K_EVTP] = RT_MAX_GFN,
		[K_XENP] = RT_MAX_GFN,	  [K_PPID] = INT_MAX,
	};
	uint64_t n;

	if (key == K_HC)
		return boot_hc(b, v, end, nr_hc);
	if (!rt_parse_number(v, end, max[key], &n))
		return -EINVAL;
	switch (key) {
	case K_V:
		b->version = (unsigned int)n;
		break;
	case K_DOMID:
		b->domid = (domid_t)n;
		break;
	case K_VCPUS:
		b->nr_vcpus = (unsigned int)n;
		break;
	case K_RAM:
		b->ram_fd = (int)n;
		break;
	case K_EVT:
		b->evt_fd = (int)n;
		break;
	case K_XEN:
		b->xen_fd = (int)n;
		break;
	case K_MAXP:
		b->max_pages = n;
		break;
	case K_MAXG:
		b->max_gfn = n;
		break;
	case K_EVTP:
		b->evt_pages = n;
		break;
	case K_XENP:
		b->xen_pages = n;
		break;
	case K_PPID:
		b->ppid = (int)n;
		break;
	default:
		b->start_info_gfn = n;
		break;
	}
	return 0;
}

static int boot_check_fds(const struct procdom_boot *b, char *err, size_t errlen)
{
	int fds[3 + RT_MAX_VCPUS];
	unsigned int n = 0, i, j;

	fds[n++] = b->ram_fd;
	fds[n++] = b->evt_fd;
	fds[n++] = b->xen_fd;
	for (i = 0; i < b->nr_vcpus; i++)
		fds[n++] = b->hc_fd[i];
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (fds[i] == fds[j])
				return rt_parse_fail(err, errlen, "fd %d named twice", fds[i]);
		}
	}
	return 0;
}

static int boot_check(const struct procdom_boot *b, unsigned int nr_hc, char *err, size_t errlen)
{
	if (b->version != PROCDOM_PROTO_VERSION)
		return rt_parse_fail(err, errlen, "version %u, this runtime speaks %u", b->version,
				     PROCDOM_PROTO_VERSION);
	if (b->nr_vcpus < 1)
		return rt_parse_fail(err, errlen, "vcpus must be 1..%u", RT_MAX_VCPUS);
	if (nr_hc != b->nr_vcpus)
		return rt_parse_fail(err, errlen, "%u hc fds for %u vcpus", nr_hc, b->nr_vcpus);
	if (b->max_pages == 0 || b->max_gfn <= b->max_pages)
		return rt_parse_fail(err, errlen, "need 0 < max_pages < max_gfn (got %llu, %llu)",
				     (unsigned long long)b->max_pages,
				     (unsigned long long)b->max_gfn);
	if (b->start_info_gfn >= b->max_pages)
		return rt_parse_fail(err, errlen, "start_info gfn %llu outside RAM",
				     (unsigned long long)b->start_info_gfn);
	if (b->evt_pages < 1 + (uint64_t)b->nr_vcpus)
		return rt_parse_fail(err, errlen, "evt_pages %llu cannot hold %u vCPU pages",
				     (unsigned long long)b->evt_pages, b->nr_vcpus);
	return boot_check_fds(b, err, errlen);
}

static int boot_fields(const char *s, struct procdom_boot *ret, unsigned int *nr_hc, char *err,
		       size_t errlen)
{
	bool seen[K_NR] = { false };
	int k;

	while (*s) {
		const char *tok = s, *eq, *end = strchr(s, ' ');

		end = end ? end : s + strlen(s);
		eq = memchr(tok, '=', (size_t)(end - tok));
		if (!eq)
			return rt_parse_fail(err, errlen, "'%.*s' is not key=value",
					     (int)(end - tok), tok);
		k = boot_key_index(tok, (size_t)(eq - tok));
		if (k < 0)
			return rt_parse_fail(err, errlen, "unknown key '%.*s'", (int)(eq - tok),
					     tok);
		if (seen[k])
			return rt_parse_fail(err, errlen, "key '%s' given twice", boot_keys[k]);
		seen[k] = true;
		if (boot_field(ret, k, eq + 1, end, nr_hc) < 0)
			return rt_parse_fail(err, errlen, "bad value for '%s': '%.*s'",
					     boot_keys[k], (int)(end - eq - 1), eq + 1);
		s = end + strspn(end, " ");
	}
	for (k = 0; k < K_NR; k++) {
		if (!seen[k] && k != K_PPID)
			return rt_parse_fail(err, errlen, "missing key '%s'", boot_keys[k]);
	}
	return 0;
}

int procdom_boot_parse(const char *s, struct procdom_boot *ret, char *err, size_t errlen)
{
	unsigned int nr_hc = 0;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!s)
		return rt_parse_fail(err, errlen, "%s is not set", PROCDOM_BOOT_ENV);
	if (strnlen(s, BOOT_MAX_LEN + 1) > BOOT_MAX_LEN)
		return rt_parse_fail(err, errlen, "longer than %d bytes", BOOT_MAX_LEN);
	memset(ret, 0, sizeof(*ret));
	rc = boot_fields(s + strspn(s, " "), ret, &nr_hc, err, errlen);
	if (rc < 0)
		return rc;
	return boot_check(ret, nr_hc, err, errlen);
}
