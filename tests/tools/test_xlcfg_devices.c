/*
 * xlcfg's device specs as the toolstack writes them to the store: disk
 * (the brief's named form with target= first, xl's positional form, the
 * vdev rule and its virtual-device numbers) and vchan's name=/peer= form.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xlcfg.h"

#define SRC "t.cfg"
#define BASE "name = 'web'\nkernel = 'guest'\n"

static int load(const char *text, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	struct xlcfg *cfg = NULL;
	int rc = xlcfg_parse(SRC, text, strlen(text), &cfg, err);

	if (!rc)
		rc = xlcfg_domain_load(cfg, dom, NULL, err);
	xlcfg_destroy(cfg);
	return rc;
}

static void load_ok(const char *text, struct xlcfg_domain *dom)
{
	struct xlcfg_err err = { "" };

	cr_assert_eq(load(text, dom, &err), 0, "%s", err.msg);
}

static void load_fails(const char *text, const char *want)
{
	struct xlcfg_domain dom;
	struct xlcfg_err err = { "" };

	cr_assert_lt(load(text, &dom, &err), 0, "accepted; want: %s", want);
	cr_assert_str_eq(err.msg, want);
}

static void disk_ok(const char *spec, struct xlcfg_disk *d)
{
	struct xlcfg_err err = { "" };

	cr_assert_eq(xlcfg_disk_parse(spec, NULL, d, &err), 0, "%s: %s", spec, err.msg);
}

Test(disk_spec, named_target_first_as_the_brief_writes_it)
{
	struct xlcfg_disk d;

	disk_ok("target=/path/img.raw, vdev=xvda, access=rw, format=raw", &d);
	cr_assert_str_eq(d.target, "/path/img.raw");
	cr_assert_str_eq(d.vdev, "xvda");
	cr_assert(!d.readonly);
	xlcfg_disk_fini(&d);
	disk_ok("target=img, vdev=xvdb, access=r, cdrom", &d);
	cr_assert_str_eq(d.target, "img");
	cr_assert(d.readonly && d.cdrom);
	xlcfg_disk_fini(&d);
	/* xl's rule stands when what follows is no parameter: all of it is the
	 * file name (here leaving no vdev). */
	disk_ok("vdev=xvdc, target=a, b.img", &d);
	cr_assert_str_eq(d.target, "a, b.img");
	xlcfg_disk_fini(&d);
}

Test(disk_spec, positional_form_and_access_words)
{
	static const struct {
		const char *spec;
		bool readonly;
	} cases[] = {
		{ "/path/img,raw,xvda,rw", false }, { "/path/img,raw,xvda,w", false },
		{ "/path/img,raw,xvda,ro", true },  { "/path/img,raw,xvda,r", true },
		{ "/path/img,,xvda", false },
	};
	struct xlcfg_disk d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		disk_ok(cases[i].spec, &d);
		cr_assert_str_eq(d.target, "/path/img");
		cr_assert_eq(d.readonly, cases[i].readonly, "%s", cases[i].spec);
		xlcfg_disk_fini(&d);
	}
}

Test(disk_spec, errors_name_the_problem)
{
	load_fails(BASE "disk = [ 'target=/i, vdev=xvda, format=qcow2' ]\n",
		   SRC ":3:10: disk `target=/i, vdev=xvda, format=qcow2': format `qcow2' is not "
		       "supported (raw images only)");
	load_fails(BASE "disk = [ '/i,raw,xvda,rx' ]\n", SRC
		   ":3:10: disk `/i,raw,xvda,rx': invalid access `rx' (expected ro, r, rw or w)");
	load_fails(BASE "disk = [ '/i,vmdk,xvda' ]\n",
		   SRC ":3:10: disk `/i,vmdk,xvda': unknown format `vmdk' (expected raw)");
}

/* The vdev rule (lib/xlcfg/vdev.c, libxl's) at each of its boundaries. */
#define XVD(disk, part) (202u << 8 | (disk) << 4 | (part))
#define XVD_EXT(disk, part) (1u << 28 | (disk) << 8 | (part))

Test(vdev, encodings)
{
	static const struct {
		const char *vdev;
		uint32_t devid;
	} cases[] = {
		{ "xvda", XVD(0, 0) },
		{ "xvda1", XVD(0, 1) },
		{ "xvdb", XVD(1, 0) },
		{ "xvdp15", XVD(15, 15) },     /* the last of the legacy form */
		{ "xvdq", XVD_EXT(16, 0) },    /* disk 16: extended */
		{ "xvdp16", XVD_EXT(15, 16) }, /* partition 16: extended */
		{ "xvda16", XVD_EXT(0, 16) },  /* refused at parse before */
		{ "xvdz", XVD_EXT(25, 0) },    /* z = 25 */
		{ "xvdaa", XVD_EXT(26, 0) },   /* bijective: aa = 26 */
		{ "xvdaz", XVD_EXT(51, 0) },   /* az = 51 */
		{ "xvdba", XVD_EXT(52, 0) },   /* ba = 52 */
		{ "xvdaaa", XVD_EXT(702, 0) }, /* aaa = 702 */
		{ "xvdaa15", XVD_EXT(26, 15) },
		{ "xvda255", XVD_EXT(0, 255) },
		{ "xvdbgqcv255", XVD_EXT(1048575, 255) }, /* the last xvd name */
		{ "d0p0", XVD(0, 0) },
		{ "d1p1", XVD(1, 1) },
		{ "d15p15", XVD(15, 15) },
		{ "d16p0", XVD_EXT(16, 0) },
		{ "d0p16", XVD_EXT(0, 16) },
		{ "d1048575p255", XVD_EXT(1048575, 255) },
		{ "hda", 3u << 8 },
		{ "hdb1", 3u << 8 | 1 << 6 | 1 },
		{ "hdc", 22u << 8 },
		{ "hdd63", 22u << 8 | 1 << 6 | 63 },
		{ "sda", 8u << 8 },
		{ "sdb2", 8u << 8 | 1 << 4 | 2 },
		{ "sdp15", 8u << 8 | 15 << 4 | 15 },
	};
	uint32_t id;

	cr_assert_eq(XVD_EXT(1048575, 255), 0x1fffffffu);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;

		id = 0;
		cr_assert_eq(xlcfg_vdev_devid(cases[i].vdev, &id, &why), 0, "%s: %s", cases[i].vdev,
			     why);
		cr_assert_eq(id, cases[i].devid, "%s: %#x, want %#x", cases[i].vdev, id,
			     cases[i].devid);
	}
}

Test(vdev, refused_naming_the_rule)
{
	static const char form[] = "expected xvd<letters>[<partition>], d<disk>p<partition>, "
				   "hd<letters>[<partition>] or sd<letters>[<partition>]";
	static const char zero[] = "a number has no leading 0";
	static const char xvd[] = "xvd disks go up to xvdbgqcv (d1048575) and partitions up to 255";
	static const char hd[] = "hd disks go up to hdd and partitions up to 63";
	static const char sd[] = "sd disks go up to sdp and partitions up to 15";
	static const struct {
		const char *vdev, *why;
	} cases[] = {
		{ "xvda0", zero },
		{ "xvda01", zero },
		{ "d01p1", zero },
		{ "d1p01", zero },
		{ "d00p0", zero },
		{ "xvda256", xvd },
		{ "xvdbgqcw", xvd }, /* disk 2^20 */
		{ "d1048576p0", xvd },
		{ "d0p256", xvd },
		{ "xvdaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", xvd },
		{ "xvda99999999999999999999999", xvd },
		{ "d99999999999999999999999p0", xvd },
		{ "hde", hd },
		{ "hda64", hd },
		{ "hdz", hd },
		{ "sdq", sd },
		{ "sdp16", sd },
		{ "sdaa", sd },
		{ "xvd", form },
		{ "xvd1", form },
		{ "xvdA", form },
		{ "xvda1x", form },
		{ "xvda+1", form },
		{ "xvda 1", form },
		{ "xvda-1", form },
		{ "vda", form },
		{ "hd", form },
		{ "", form },
		{ "51712", form }, /* libxl takes a bare number; not here */
		{ "d", form },
		{ "d1", form },
		{ "d1p", form },
		{ "dp1", form },
		{ "d1p1x", form },
		{ "d+1p1", form },
		{ "d0x1p1", form },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		uint32_t id = 7;

		cr_assert_eq(xlcfg_vdev_devid(cases[i].vdev, &id, &why), -EINVAL, "%s accepted",
			     cases[i].vdev);
		cr_assert_eq(id, 7, "%s: *ret written", cases[i].vdev);
		cr_assert(why && !strncmp(why, cases[i].why, strlen(cases[i].why)),
			  "%s: `%s', want `%s'", cases[i].vdev, why, cases[i].why);
	}
	cr_assert_eq(xlcfg_vdev_devid("sdq", &(uint32_t){ 0 }, NULL), -EINVAL);
}

/* The parser keeps the number it checked, so the toolstack cannot refuse
 * a name the parser accepted; two names of one device are refused. */
Test(vdev, parse_keeps_the_number)
{
	struct xlcfg_domain dom;
	struct xlcfg_disk d;

	disk_ok("g.img,raw,xvda16", &d);
	cr_assert_eq(d.devid, XVD_EXT(0, 16));
	xlcfg_disk_fini(&d);
	disk_ok("g.img,raw,d16p0", &d);
	cr_assert_eq(d.devid, XVD_EXT(16, 0));
	cr_assert_str_eq(d.vdev, "d16p0");
	xlcfg_disk_fini(&d);
	load_ok(BASE "disk = [ 'a.img,raw,xvda', 'b.img,raw,xvdq', 'c.img,raw,hdc' ]\n", &dom);
	cr_assert_eq(dom.nr_disks, 3);
	cr_assert_eq(dom.disks[0].devid, 51712);
	cr_assert_eq(dom.disks[1].devid, 268439552);
	cr_assert_eq(dom.disks[2].devid, 5632);
	xlcfg_domain_fini(&dom);
	load_fails(BASE "disk = [ 'a.img,raw,xvdq', 'b.img,raw,d16p0' ]\n",
		   SRC ":3:28: disk `b.img,raw,d16p0': vdev `d16p0' is `xvdq' again "
		       "(virtual-device 268439552)");
	load_fails(BASE "disk = [ 'a.img,raw,xvda', 'b.img,raw,xvda' ]\n",
		   SRC ":3:28: disk `b.img,raw,xvda': vdev `xvda' used twice");
	load_fails(BASE "disk = [ 'a.img,raw,sdq' ]\n",
		   SRC ":3:10: disk `a.img,raw,sdq': invalid vdev `sdq': sd disks go up to sdp "
		       "and partitions up to 15 (docs/misc/vbd-interface.txt)");
}

Test(vchan_spec, name_and_peer)
{
	struct xlcfg_domain d;

	load_ok(BASE "vchan = [ 'name=echo, peer=2', 'name=ctl, peer=client-dom, read=8192',\n"
		     "          'name=x, peer=Domain-0' ]\n",
		&d);
	cr_assert_eq(d.nr_vchans, 3);
	cr_assert_str_eq(d.vchans[0].name, "echo");
	cr_assert_eq(d.vchans[0].peer, 2);
	cr_assert_null(d.vchans[0].peer_name);
	cr_assert_null(d.vchans[0].path);
	cr_assert(d.vchans[0].server);
	cr_assert_eq(d.vchans[1].peer, DOMID_INVALID);
	cr_assert_str_eq(d.vchans[1].peer_name, "client-dom");
	cr_assert_eq(d.vchans[1].read_min, 8192);
	cr_assert_eq(d.vchans[2].peer, 0);
	xlcfg_domain_fini(&d);
}

Test(vchan_spec, name_form_errors)
{
	load_fails(BASE "vchan = [ 'name=echo' ]\n",
		   SRC ":3:11: `vchan' item 1: `name=' needs `peer='");
	load_fails(BASE "vchan = [ 'name=echo, peer=1, path=data/x' ]\n",
		   SRC ":3:11: `vchan' item 1: `name=' and `path=' exclude each other");
	load_fails(BASE "vchan = [ 'name=echo, peer=1, role=client' ]\n", SRC
		   ":3:11: `vchan' item 1: with `name=' this domain is the server (no `role=')");
	load_fails(BASE "vchan = [ 'name=a/b, peer=1' ]\n",
		   SRC ":3:11: `vchan' item 1: `name=a/b' is not 1..64 of [A-Za-z0-9_-]");
	load_fails(BASE "vchan = [ 'name=e, peer=-x' ]\n",
		   SRC ":3:11: `vchan' item 1: `peer=-x' is neither a domid nor a domain name");
	load_fails(BASE "vchan = [ 'name=e, peer=99999' ]\n",
		   SRC ":3:11: `vchan' item 1: `peer=99999' is not a domid");
	load_fails(BASE "vchan = [ 'name=e, peer=web' ]\n",
		   SRC ":3:11: `vchan' item 1: peer `web' is the domain being created");
	load_fails(BASE "vchan = [ 'name=e, peer=2', 'name=e, peer=2' ]\n",
		   SRC ":3:29: `vchan' item 2: peer 2 name `e' given twice");
	load_fails(BASE "vchan = [ 'name=e, peer=b', 'name=e, peer=b' ]\n",
		   SRC ":3:29: `vchan' item 2: peer b name `e' given twice");
	/* The explicit form still takes numbers only. */
	load_fails(BASE "vchan = [ 'peer=b,path=x,role=server' ]\n",
		   SRC ":3:11: `vchan' item 1: `peer=b' is not a domid");
}
