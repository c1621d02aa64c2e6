/*
 * xlcfg's device specs as the toolstack writes them to the store: disk
 * (the brief's named form with target= first, xl's positional form, the
 * vdev -> virtual-device encoding) and vchan's name=/peer= form.
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

Test(vdev, linux_encoding)
{
	static const struct {
		const char *vdev;
		uint32_t devid;
	} cases[] = {
		{ "xvda", 202u << 8 },
		{ "xvda1", 202u << 8 | 1 },
		{ "xvdb", 202u << 8 | 1 << 4 },
		{ "xvdp15", 202u << 8 | 15 << 4 | 15 },
		{ "xvdq", 1u << 28 | 16 << 8 },
		{ "xvdaa", 1u << 28 | 26 << 8 },
		{ "xvda16", 1u << 28 | 16 },
		{ "sda", 8u << 8 },
		{ "sdb2", 8u << 8 | 1 << 4 | 2 },
		{ "hda", 3u << 8 },
		{ "hdb1", 3u << 8 | 1 << 6 | 1 },
		{ "hdc", 22u << 8 },
		{ "hdt", 91u << 8 | 1 << 6 },
	};
	uint32_t id;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(xlcfg_vdev_devid(cases[i].vdev, &id), 0, "%s", cases[i].vdev);
		cr_assert_eq(id, cases[i].devid, "%s: %#x, want %#x", cases[i].vdev, id,
			     cases[i].devid);
	}
	cr_assert_eq(xlcfg_vdev_devid("xvd", &id), -EINVAL);
	cr_assert_eq(xlcfg_vdev_devid("xvda0", &id), -EINVAL);
	cr_assert_eq(xlcfg_vdev_devid("sdq", &id), -EINVAL);
	cr_assert_eq(xlcfg_vdev_devid("hdu", &id), -EINVAL);
	cr_assert_eq(xlcfg_vdev_devid("vda", &id), -EINVAL);
	cr_assert_eq(xlcfg_vdev_devid("xvdA", &id), -EINVAL);
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
