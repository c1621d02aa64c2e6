/*
 * The vdev rule: which names a disk's `vdev' may take and the
 * virtual-device number each one is (the front end's directory
 * device/vbd/<number> and the back end's backend/vbd/<domid>/<number>).
 * It is libxl's (libxl__device_disk_dev_number), as Xen's
 * docs/misc/vbd-interface describes it, and the only place that knows it:
 * the diskspec parser calls it, and the toolstack takes the number it
 * computed (struct xlcfg_disk's devid), so a name accepted is a name the
 * toolstack can create.
 *
 *   name                     disk D, partition P       virtual-device
 *   xvd<L>[<P>], d<D>p<P>    D <= 15 and P <= 15       202 << 8 | D << 4 | P
 *                            D <= 2^20-1, P <= 255     1 << 28 | D << 8 | P
 *   hd<L>[<P>]               D <= 3, P <= 63           3 << 8 | D << 6 | P        (D 0-1)
 *                                                      22 << 8 | (D-2) << 6 | P   (D 2-3)
 *   sd<L>[<P>]               D <= 15, P <= 15          8 << 8 | D << 4 | P
 *
 * <L> is the disk in bijective base 26: a = 0 ... z = 25, aa = 26, az = 51,
 * ba = 52, zz = 701, aaa = 702. <P> and the numbers of d<D>p<P> are
 * decimal without a leading 0; a missing partition is 0 (the whole disk),
 * so xvda0 and xvda01 are refused and xvda is the only name of that one.
 * Worked: xvdb1 = 202<<8 | 1<<4 | 1 = 51729; xvdq (disk 16) = 1<<28 |
 * 16<<8 = 268439552; xvda16 = 1<<28 | 16 = 268435472; hdc = 22<<8 = 5632.
 *
 * Where libxl is looser, this is stricter: libxl also takes a bare number
 * as the virtual-device itself, reads d<D>p<P> with sscanf's %i (so
 * "d010p1" is disk 8, "d0x10p1" disk 16, and signs pass) and the partition
 * with strtoul (leading blanks and "+" pass), and takes "xvd" with no
 * letters as disk -1. Each of those is refused here.
 */
#include <errno.h>
#include <string.h>

#include "xlcfg.h"

enum vdev_kind { VDEV_XVD, VDEV_HD, VDEV_SD };

struct vdev_rule {
	const char *prefix;
	unsigned long max_disk, max_part;
	const char *range; /* what a number out of range is told */
};

static const struct vdev_rule rules[] = {
	[VDEV_XVD] = { "xvd", (1ul << 20) - 1, 255,
		       "xvd disks go up to xvdbgqcv (d1048575) and partitions up to 255" },
	[VDEV_HD] = { "hd", 3, 63, "hd disks go up to hdd and partitions up to 63" },
	[VDEV_SD] = { "sd", 15, 15, "sd disks go up to sdp and partitions up to 15" },
};

static const char why_form[] = "expected xvd<letters>[<partition>], d<disk>p<partition>, "
			       "hd<letters>[<partition>] or sd<letters>[<partition>]";
static const char why_zero[] = "a number has no leading 0 (the whole disk has no partition "
			       "number: xvda, not xvda0)";

/* Decimal digits at *P up to MAX; "0" itself only if ZERO_OK. -EINVAL no
 * digits, -EDOM a leading 0, -ERANGE above MAX. No overflow: n <= MAX <
 * 2^20 before each step. */
static int vdev_number(const char **p, unsigned long max, bool zero_ok, unsigned long *ret)
{
	const char *s = *p;
	size_t len = strspn(s, "0123456789");
	unsigned long n = 0;

	if (!len)
		return -EINVAL;
	if (s[0] == '0' && (len > 1 || !zero_ok))
		return -EDOM;
	for (size_t i = 0; i < len; i++) {
		n = n * 10 + (unsigned long)(s[i] - '0');
		if (n > max)
			return -ERANGE;
	}
	*p = s + len;
	*ret = n;
	return 0;
}

/* The disk's letters at *P, bijective base 26, up to MAX. */
static int vdev_letters(const char **p, unsigned long max, unsigned long *ret)
{
	const char *s = *p;
	size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyz");
	unsigned long n = 0; /* the disk + 1 */

	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		n = n * 26 + (unsigned long)(s[i] - 'a' + 1);
		if (n - 1 > max)
			return -ERANGE;
	}
	*p = s + len;
	*ret = n - 1;
	return 0;
}

/* "d<D>p<P>": xvd's disk and partition written as numbers. */
static int vdev_numeric(const char *p, unsigned long *disk, unsigned long *part)
{
	const struct vdev_rule *r = &rules[VDEV_XVD];
	int rc;

	if ((rc = vdev_number(&p, r->max_disk, true, disk)))
		return rc;
	if (*p++ != 'p')
		return -EINVAL;
	if ((rc = vdev_number(&p, r->max_part, true, part)))
		return rc;
	return *p ? -EINVAL : 0;
}

/* "<prefix><letters>[<partition>]" after the prefix of rule R. */
static int vdev_named(const char *p, const struct vdev_rule *r, unsigned long *disk,
		      unsigned long *part)
{
	int rc;

	*part = 0;
	if ((rc = vdev_letters(&p, r->max_disk, disk)))
		return rc;
	if (*p && (rc = vdev_number(&p, r->max_part, false, part)))
		return rc;
	return *p ? -EINVAL : 0;
}

static uint32_t vdev_encode(enum vdev_kind kind, unsigned long disk, unsigned long part)
{
	if (kind == VDEV_HD)
		return (disk < 2 ? 3u : 22u) << 8 | (uint32_t)(disk & 1) << 6 | (uint32_t)part;
	if (kind == VDEV_SD)
		return 8u << 8 | (uint32_t)disk << 4 | (uint32_t)part;
	if (disk <= 15 && part <= 15)
		return 202u << 8 | (uint32_t)disk << 4 | (uint32_t)part;
	return 1u << 28 | (uint32_t)disk << 8 | (uint32_t)part;
}

/* The rule whose prefix VDEV starts with: 0 and *RET_KIND, or -EINVAL. */
static int vdev_kind_of(const char *vdev, enum vdev_kind *ret_kind)
{
	static const enum vdev_kind kinds[] = { VDEV_XVD, VDEV_HD, VDEV_SD };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *prefix = rules[kinds[i]].prefix;

		if (!strncmp(vdev, prefix, strlen(prefix))) {
			*ret_kind = kinds[i];
			return 0;
		}
	}
	return -EINVAL;
}

int xlcfg_vdev_devid(const char *vdev, uint32_t *ret, const char **ret_why)
{
	enum vdev_kind kind = VDEV_XVD;
	unsigned long disk, part;
	int rc;

	if (vdev[0] == 'd')
		rc = vdev_numeric(vdev + 1, &disk, &part);
	else if (!(rc = vdev_kind_of(vdev, &kind)))
		rc = vdev_named(vdev + strlen(rules[kind].prefix), &rules[kind], &disk, &part);
	if (!rc) {
		*ret = vdev_encode(kind, disk, part);
		return 0;
	}
	if (ret_why)
		*ret_why = rc == -ERANGE ? rules[kind].range : rc == -EDOM ? why_zero : why_form;
	return -EINVAL;
}
