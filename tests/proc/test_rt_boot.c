/* XENON_BOOT parsing: the accepted form and every kind of rejection. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "rt_internal.h"

#define GOOD                                                                       \
	"v=1 domid=3 vcpus=2 ram=3 evt=4 xen=5 hc=6,7 max_pages=256 max_gfn=1280 " \
	"start_info=255 evt_pages=37 xen_pages=72"

static int parse(const char *s, struct procdom_boot *b)
{
	char err[RT_ERR_LEN];

	return procdom_boot_parse(s, b, err, sizeof(err));
}

Test(boot, accepts_the_documented_form)
{
	struct procdom_boot b;

	cr_assert_eq(parse(GOOD, &b), 0);
	cr_assert_eq(b.version, 1);
	cr_assert_eq(b.domid, 3);
	cr_assert_eq(b.nr_vcpus, 2);
	cr_assert_eq(b.ram_fd, 3);
	cr_assert_eq(b.evt_fd, 4);
	cr_assert_eq(b.xen_fd, 5);
	cr_assert_eq(b.hc_fd[0], 6);
	cr_assert_eq(b.hc_fd[1], 7);
	cr_assert_eq(b.max_pages, 256);
	cr_assert_eq(b.max_gfn, 1280);
	cr_assert_eq(b.start_info_gfn, 255);
	cr_assert_eq(b.evt_pages, 37);
	cr_assert_eq(b.xen_pages, 72);
}

Test(boot, accepts_any_key_order_and_extra_spaces)
{
	struct procdom_boot b;

	cr_assert_eq(parse("  hc=9 xen_pages=1 evt_pages=2 start_info=31 max_gfn=64 "
			   "max_pages=32  xen=5 evt=4 ram=3 vcpus=1 domid=0 v=1  ",
			   &b),
		     0);
	cr_assert_eq(b.hc_fd[0], 9);
}

static const char *const bad[] = {
	NULL,
	"",
	"v=1",
	GOOD " v=1",	     /* duplicate key */
	GOOD " colour=blue", /* unknown key */
	GOOD " junk",	     /* not key=value */
	"v=2 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* version */
	"v=1 domid=3 vcpus=2 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* hc count */
	"v=1 domid=3 vcpus=0 ram=3 evt=4 xen=5 hc= max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* no vCPU */
	"v=1 domid=3 vcpus=33 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* too many vCPUs */
	"v=1 domid=03 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* leading zero */
	"v=1 domid=-3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* sign */
	"v=1 domid=3 vcpus=1 ram=99999999999 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 "
	"start_info=255 evt_pages=37 xen_pages=72", /* fd overflow */
	"v=1 domid=65535 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* reserved domid */
	"v=1 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=256 start_info=255 "
	"evt_pages=37 xen_pages=72", /* no overlay window */
	"v=1 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=0 max_gfn=256 start_info=0 "
	"evt_pages=37 xen_pages=72", /* no RAM */
	"v=1 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=256 "
	"evt_pages=37 xen_pages=72", /* start_info outside RAM */
	"v=1 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=99999999999 "
	"start_info=255 evt_pages=37 xen_pages=72", /* window too large */
	"v=1 domid=3 vcpus=1 ram=3 evt=3 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* fd named twice */
	"v=1 domid=3 vcpus=2 ram=3 evt=4 xen=5 hc=6,6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* hc fd twice */
	"v=1 domid=3 vcpus=2 ram=3 evt=4 xen=5 hc=6,7 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=2 xen_pages=72", /* evt too small */
	"v=1 domid=3 vcpus=2 ram=3 evt=4 xen=5 hc=6,,7 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* empty hc entry */
	"v=1 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6, max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* trailing comma */
	"v=1\tdomid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=72", /* tab */
	"v=1 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 xen_pages=", /* empty value */
	"v=1 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 "
	"evt_pages=37 =72", /* empty key */
};

Test(boot, rejects_malformed)
{
	struct procdom_boot b;
	char err[RT_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(procdom_boot_parse(bad[i], &b, err, sizeof(err)), -EINVAL,
			     "accepted case %zu: %s", i, bad[i] ? bad[i] : "(null)");
		cr_expect_neq(err[0], '\0', "case %zu gave no reason", i);
	}
}

Test(boot, rejects_overlong)
{
	char s[2048];
	struct procdom_boot b;

	memset(s, ' ', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	cr_assert_eq(parse(s, &b), -EINVAL);
}

Test(boot, ppid_is_optional_and_parsed)
{
	struct procdom_boot b;

	cr_assert_eq(parse(GOOD, &b), 0);
	cr_assert_eq(b.ppid, 0, "absent: no parent check");
	cr_assert_eq(parse(GOOD " ppid=812", &b), 0);
	cr_assert_eq(b.ppid, 812);
	cr_assert_eq(parse(GOOD " ppid=812 ppid=812", &b), -EINVAL);
	cr_assert_eq(parse(GOOD " ppid=-1", &b), -EINVAL);
}
