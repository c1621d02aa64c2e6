/*
 * Domains: creation (domid allocation, config checks, the ordered init and
 * its unwind, pre-bound channels / seed 002), pause, shutdown, resume,
 * destroy with complete teardown, lookup and iteration.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <xen/memory.h>
#include <xen/sched.h>

#include "core.h"
#include "fake_substrate.h"

static struct fake_substrate *fs;

static void setup(void)
{
	fs = fake_create_quiet(NULL);
	cr_assert(fs);
}

static void teardown(void)
{
	fake_destroy(fs);
}

TestSuite(domain, .init = setup, .fini = teardown);

static int mkdom(domid_t domid, bool priv)
{
	return fake_domain_create(fs, domid, priv, 2, 64);
}

static struct evtchn_status port_status(domid_t domid, evtchn_port_t port)
{
	struct evtchn_status st;

	memset(&st, 0, sizeof(st));
	cr_assert_eq(evtchn_get_status(domain_lookup(fs->hv, domid), port, &st), 0);
	return st;
}

static evtchn_port_t bind_dom_exc(domid_t dom0)
{
	struct evtchn_bind_virq b = { .virq = VIRQ_DOM_EXC, .vcpu = 0 };

	cr_assert_eq(fake_hypercall(fs, dom0, 0, __HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq,
				    &b, sizeof(b), &b),
		     0);
	return b.port;
}

static void clear_pending(domid_t domid, evtchn_port_t port)
{
	struct domain *d = domain_lookup(fs->hv, domid);

	d->evtchn.ops->clear_pending(d, port);
}

static bool pending(domid_t domid, evtchn_port_t port)
{
	return evtchn_port_pending(domain_lookup(fs->hv, domid), port);
}

static bool state_recorded(domid_t domid, int state)
{
	unsigned int i;

	for (i = 0; i < fs->nr_states; i++)
		if (fs->states[i].domid == domid && fs->states[i].state == state)
			return true;
	return false;
}

Test(domain, lowest_free_domid)
{
	cr_assert_eq(mkdom(0, true), 0);
	cr_assert_eq(mkdom(DOMID_INVALID, false), 1);
	cr_assert_eq(mkdom(DOMID_INVALID, false), 2);
	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	cr_assert_eq(mkdom(DOMID_INVALID, false), 1);
	cr_assert_eq(fs->hv->nr_domains, 3);
}

Test(domain, requested_domid)
{
	cr_assert_eq(mkdom(7, false), 7);
	cr_assert_eq(mkdom(7, false), -EEXIST);
	cr_assert_eq(mkdom(DOMID_FIRST_RESERVED, false), -EINVAL);
	cr_assert_eq(mkdom(DOMID_SELF, false), -EINVAL);
	cr_assert_eq(mkdom(DOMID_FIRST_RESERVED - 1, false), DOMID_FIRST_RESERVED - 1);
}

Test(domain, config_checks)
{
	struct hv_domain_config cfg;
	char longline[HV_CMDLINE_MAX + 1];
	domid_t id;

	hv_domain_config_defaults(&cfg);
	cfg.max_vcpus = 0;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -EINVAL);
	cfg.max_vcpus = HV_MAX_VCPUS + 1;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -EINVAL);
	cfg.max_vcpus = HV_MAX_VCPUS;
	cfg.nr_pages = HV_MIN_NR_PAGES - 1;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -EINVAL);
	cfg.nr_pages = 64;
	cfg.max_pages = 63;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -EINVAL);
	cfg.max_pages = HV_MAX_NR_PAGES + 1;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -EINVAL);
	cfg.max_pages = 0;
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	cfg.cmdline = longline;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -EINVAL);
	cfg.cmdline = NULL;
	cfg.nr_reserve = HV_MAX_PREBOUND + 1;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -EINVAL);
	cfg.nr_reserve = 0;
	cfg.nr_bind = HV_MAX_PREBOUND + 1;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -EINVAL);
	cfg.nr_bind = 0;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), 0);
	cr_assert_eq(fs->hv->nr_domains, 1);
}

Test(domain, max_domains_limit_logged_once)
{
	struct hv_config cfg;

	fake_destroy(fs);
	hv_config_defaults(&cfg);
	cfg.max_domains = 2;
	fs = fake_create(&cfg);
	fs->quiet = true;
	cr_assert_eq(mkdom(DOMID_INVALID, false), 0);
	cr_assert_eq(mkdom(DOMID_INVALID, false), 1);
	cr_assert_eq(mkdom(DOMID_INVALID, false), -ENOSPC);
	cr_assert_eq(mkdom(5, false), -ENOSPC);
	cr_assert(fake_log_contains(fs, "domain limit 2"));
	cr_assert_eq(fs->nr_logs, 1);
}

Test(domain, layout_and_builder_channels)
{
	struct hv_domain_config cfg;
	struct hv_domain_layout l;
	struct evtchn_status st;
	domid_t id;

	cr_assert_eq(mkdom(0, true), 0);
	hv_domain_config_defaults(&cfg);
	cfg.nr_pages = 100;
	cfg.max_pages = 120;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, &l), 0);
	cr_assert_eq(l.start_info_gfn, 99);
	cr_assert_eq(l.store_gfn, 98);
	cr_assert_eq(l.console_gfn, 97);
	cr_assert_eq(l.shared_info_gfn, 120);
	st = port_status(id, l.store_evtchn);
	cr_assert_eq(st.status, EVTCHNSTAT_unbound);
	cr_assert_eq(st.u.unbound.dom, 0);
	st = port_status(id, l.console_evtchn);
	cr_assert_eq(st.status, EVTCHNSTAT_unbound);
	cr_assert_eq(st.u.unbound.dom, 0);
	cr_assert_neq(l.store_evtchn, l.console_evtchn);
	cr_assert(state_recorded(id, HV_DOMAIN_RUNNING));
}

Test(domain, lookup_resolve_vcpu)
{
	struct domain *d;

	cr_assert_eq(mkdom(3, false), 3);
	d = domain_lookup(fs->hv, 3);
	cr_assert(d);
	cr_assert_null(domain_lookup(fs->hv, 4));
	cr_assert_null(domain_lookup(fs->hv, DOMID_SELF));
	cr_assert_eq(domain_resolve(d, DOMID_SELF), d);
	cr_assert_eq(domain_resolve(d, 3), d);
	cr_assert_null(domain_resolve(d, 9));
	cr_assert_eq(domain_vcpu(d, 1), &d->vcpus[1]);
	cr_assert_null(domain_vcpu(d, 2));
	cr_assert_null(domain_vcpu(NULL, 0));
	cr_assert(d->vcpus[0].up);
	cr_assert_not(d->vcpus[1].up);
}

Test(domain, pause_is_counted)
{
	struct hv_domain_info info;

	cr_assert_eq(mkdom(1, false), 1);
	cr_assert_eq(domain_unpause(fs->hv, 1), -EINVAL);
	cr_assert_eq(domain_pause(fs->hv, 1), 0);
	cr_assert_eq(domain_pause(fs->hv, 1), 0);
	cr_assert_eq(domain_getinfo(fs->hv, 1, &info), 0);
	cr_assert(info.paused);
	cr_assert_eq(domain_unpause(fs->hv, 1), 0);
	cr_assert_eq(domain_getinfo(fs->hv, 1, &info), 0);
	cr_assert(info.paused);
	cr_assert_eq(domain_unpause(fs->hv, 1), 0);
	cr_assert_eq(domain_getinfo(fs->hv, 1, &info), 0);
	cr_assert_not(info.paused);
	cr_assert(state_recorded(1, HV_DOMAIN_PAUSED));
	cr_assert_eq(domain_pause(fs->hv, 9), -ESRCH);
	cr_assert_eq(domain_unpause(fs->hv, 9), -ESRCH);
}

Test(domain, shutdown_reason_and_dom_exc)
{
	struct hv_domain_info info;
	evtchn_port_t p;

	cr_assert_eq(mkdom(0, true), 0);
	cr_assert_eq(mkdom(1, false), 1);
	p = bind_dom_exc(0);
	cr_assert_not(pending(0, p));
	cr_assert_eq(domain_shutdown(fs->hv, 1, SHUTDOWN_MAX + 1), -EINVAL);
	cr_assert_eq(domain_shutdown(fs->hv, 1, SHUTDOWN_reboot), 0);
	cr_assert(pending(0, p));
	cr_assert_eq(domain_getinfo(fs->hv, 1, &info), 0);
	cr_assert(info.shutdown);
	cr_assert_eq(info.shutdown_reason, SHUTDOWN_reboot);
	cr_assert(state_recorded(1, HV_DOMAIN_SHUTDOWN));
	/* The first reason wins. */
	cr_assert_eq(domain_shutdown(fs->hv, 1, SHUTDOWN_crash), 0);
	cr_assert_eq(domain_getinfo(fs->hv, 1, &info), 0);
	cr_assert_eq(info.shutdown_reason, SHUTDOWN_reboot);
	cr_assert_eq(domain_shutdown(fs->hv, 8, 0), -ESRCH);
}

Test(domain, resume_rebuilds_start_info)
{
	struct hv_domain_config cfg;
	struct hv_domain_layout l;
	struct hv_domain_info info;
	struct start_info si;
	domid_t id;

	hv_domain_config_defaults(&cfg);
	cfg.cmdline = "console=hvc0";
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, &l), 0);
	cr_assert_eq(domain_shutdown(fs->hv, id, SHUTDOWN_suspend), 0);
	memset(&si, 0xab, sizeof(si));
	cr_assert_eq(fake_write(fs, id, l.start_info_gfn << 12, &si, 64 + 24), 0);
	cr_assert_eq(domain_resume(fs->hv, id), 0);
	cr_assert_eq(fake_read(fs, id, l.start_info_gfn << 12, &si, sizeof(si)), 0);
	cr_assert_str_eq(si.magic, "xen-3.0-x86_64");
	cr_assert_eq(si.store_mfn, l.store_gfn);
	cr_assert_eq(si.store_evtchn, l.store_evtchn);
	cr_assert_eq(si.console.domU.mfn, l.console_gfn);
	cr_assert_str_eq((char *)si.cmd_line, "console=hvc0");
	cr_assert_eq(domain_getinfo(fs->hv, id, &info), 0);
	cr_assert_not(info.shutdown);
	cr_assert_eq(domain_resume(fs->hv, 77), -ESRCH);
}

Test(domain, destroy_tears_everything_down)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = 1 };
	struct evtchn_bind_interdomain bi = { .remote_dom = 0 };
	struct evtchn_status st;
	long base_pages;
	evtchn_port_t exc;

	cr_assert_eq(mkdom(0, true), 0);
	exc = bind_dom_exc(0);
	base_pages = fake_xen_pages_live(fs);
	cr_assert_eq(mkdom(1, false), 1);
	cr_assert_gt(fake_xen_pages_live(fs), base_pages);
	cr_assert_eq(fake_hypercall(fs, 0, 0, __HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound,
				    &au, sizeof(au), &au),
		     0);
	bi.remote_port = au.port;
	cr_assert_eq(fake_hypercall(fs, 1, 0, __HYPERVISOR_event_channel_op,
				    EVTCHNOP_bind_interdomain, &bi, sizeof(bi), &bi),
		     0);
	cr_assert_eq(port_status(0, au.port).status, EVTCHNSTAT_interdomain);
	clear_pending(0, exc);

	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	st = port_status(0, au.port);
	cr_assert_eq(st.status, EVTCHNSTAT_unbound);
	cr_assert_eq(st.u.unbound.dom, 1);
	cr_assert(pending(0, exc));
	cr_assert_eq(fake_xen_pages_live(fs), base_pages);
	cr_assert(state_recorded(1, HV_DOMAIN_DYING));
	cr_assert_null(domain_lookup(fs->hv, 1));
	cr_assert_eq(domain_destroy(fs->hv, 1), -ESRCH);
	cr_assert_eq(fs->hv->nr_domains, 1);
}

Test(domain, hv_destroy_frees_every_page)
{
	cr_assert_eq(mkdom(0, true), 0);
	cr_assert_eq(mkdom(1, false), 1);
	cr_assert_eq(mkdom(2, false), 2);
	hv_destroy(fs->hv);
	fs->hv = NULL;
	cr_assert_eq(fake_xen_pages_live(fs), 0);
	cr_assert_eq(fs->ram_pages_live, 0);
}

Test(domain, failed_create_unwinds)
{
	struct hv_domain_config cfg;
	long base;
	domid_t id;
	unsigned int n;

	cr_assert_eq(mkdom(0, true), 0);
	base = fake_xen_pages_live(fs);
	hv_domain_config_defaults(&cfg);
	/* Fail each xen page allocation in turn: every failure unwinds. */
	for (n = 1; n <= 3; n++) {
		fs->fail_xen_alloc_after = n;
		if (domain_create(fs->hv, &cfg, &id, NULL) == 0) {
			cr_assert_eq(domain_destroy(fs->hv, id), 0);
			continue;
		}
		cr_assert_eq(fake_xen_pages_live(fs), base);
		cr_assert_eq(fs->hv->nr_domains, 1);
		cr_assert_null(domain_lookup(fs->hv, 1));
	}
	fs->fail_xen_alloc_after = 0;
	cr_assert(fake_log_contains(fs, "create failed"));
	cr_assert_eq(mkdom(DOMID_INVALID, false), 1);
}

static void prebound_config(struct hv_domain_config *cfg, domid_t n)
{
	hv_domain_config_defaults(cfg);
	cfg->domid = n;
	cfg->nr_bind = 1;
	cfg->bind[0] =
		(struct hv_evtchn_bind){ .port = 127, .remote_domid = 0, .remote_port = 120 + n };
}

/* Seed 002: dom0 ports 121..126 unbound for dom1..6; creating domN binds
 * its port 127 to dom0:120+N; both ends interdomain. */
Test(domain, seed_002_prebound_channels)
{
	struct hv_domain_config cfg;
	struct evtchn_status st;
	domid_t n, id;

	cr_assert_eq(mkdom(0, true), 0);
	prebound_config(&cfg, 1);
	cfg.nr_reserve = 6;
	for (n = 1; n <= 6; n++)
		cfg.reserve[n - 1] = (struct hv_evtchn_reserve){ .domid = 0,
								 .port = 120 + n,
								 .remote_domid = n };
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), 0);
	for (n = 2; n <= 6; n++) {
		st = port_status(0, 120 + n);
		cr_assert_eq(st.status, EVTCHNSTAT_unbound);
		cr_assert_eq(st.u.unbound.dom, n);
		prebound_config(&cfg, n);
		cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), 0);
		cr_assert_eq(id, n);
	}
	for (n = 1; n <= 6; n++) {
		st = port_status(0, 120 + n);
		cr_assert_eq(st.status, EVTCHNSTAT_interdomain);
		cr_assert_eq(st.u.interdomain.dom, n);
		cr_assert_eq(st.u.interdomain.port, 127);
		st = port_status(n, 127);
		cr_assert_eq(st.status, EVTCHNSTAT_interdomain);
		cr_assert_eq(st.u.interdomain.dom, 0);
		cr_assert_eq(st.u.interdomain.port, 120 + n);
	}
	/* Destroying dom3 leaves dom0:123 waiting for a new dom3. */
	cr_assert_eq(domain_destroy(fs->hv, 3), 0);
	st = port_status(0, 123);
	cr_assert_eq(st.status, EVTCHNSTAT_unbound);
	cr_assert_eq(st.u.unbound.dom, 3);
	prebound_config(&cfg, 3);
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), 0);
	cr_assert_eq(port_status(0, 123).status, EVTCHNSTAT_interdomain);
}

/* Seed 002 exactly as written: dom0 reserves its own ports 121..126 for
 * dom1..dom6 when it is created, before any domU exists. */
Test(domain, seed_002_dom0_reserves_at_creation)
{
	struct hv_domain_config cfg;
	domid_t n, id;

	hv_domain_config_defaults(&cfg);
	cfg.domid = 0;
	cfg.privileged = true;
	cfg.nr_pages = 64;
	cfg.nr_reserve = 6;
	for (n = 1; n <= 6; n++)
		cfg.reserve[n - 1] = (struct hv_evtchn_reserve){ .domid = 0,
								 .port = 120 + n,
								 .remote_domid = n };
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), 0);
	cr_assert_eq(id, 0);
	for (n = 1; n <= 6; n++) {
		cr_assert_eq(port_status(0, 120 + n).status, EVTCHNSTAT_unbound);
		cr_assert_eq(port_status(0, 120 + n).u.unbound.dom, n);
	}
	for (n = 1; n <= 6; n++) {
		prebound_config(&cfg, n);
		cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), 0);
		cr_assert_eq(port_status(0, 120 + n).status, EVTCHNSTAT_interdomain);
		cr_assert_eq(port_status(n, 127).u.interdomain.port, 120 + n);
	}
}

Test(domain, prebound_is_all_or_nothing)
{
	struct hv_domain_config cfg;
	long base;
	domid_t id;

	cr_assert_eq(mkdom(0, true), 0);
	base = fake_xen_pages_live(fs);
	hv_domain_config_defaults(&cfg);
	cfg.nr_reserve = 2;
	cfg.reserve[0] = (struct hv_evtchn_reserve){ 0, 121, 1 };
	cfg.reserve[1] = (struct hv_evtchn_reserve){ 0, 122, 2 };
	cfg.nr_bind = 2;
	cfg.bind[0] = (struct hv_evtchn_bind){ 127, 0, 121 };
	cfg.bind[1] = (struct hv_evtchn_bind){ 128, 0, 130 }; /* not reserved */
	cr_assert_lt(domain_create(fs->hv, &cfg, &id, NULL), 0);
	cr_assert_eq(port_status(0, 121).status, EVTCHNSTAT_closed);
	cr_assert_eq(port_status(0, 122).status, EVTCHNSTAT_closed);
	cr_assert_null(domain_lookup(fs->hv, 1));
	cr_assert_eq(fake_xen_pages_live(fs), base);

	/* A reservation in a domain that does not exist fails too. */
	cfg.nr_bind = 0;
	cfg.reserve[1].domid = 9;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -ESRCH);
	cr_assert_eq(port_status(0, 121).status, EVTCHNSTAT_closed);
	/* So does binding to a domain that does not exist. */
	cfg.nr_reserve = 0;
	cfg.nr_bind = 1;
	cfg.bind[0].remote_domid = 9;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), -ESRCH);
}

Test(domain, getinfo_and_next)
{
	struct hv_domain_info info;
	domid_t id;

	cr_assert_eq(mkdom(0, true), 0);
	cr_assert_eq(mkdom(5, false), 5);
	cr_assert_eq(domain_getinfo(fs->hv, 0, &info), 0);
	cr_assert(info.privileged);
	cr_assert_eq(info.max_vcpus, 2);
	cr_assert_eq(info.tot_pages, 64);
	cr_assert_eq(info.max_pages, 64);
	cr_assert_geq(info.nr_ports_used, 3); /* port 0, store, console */
	cr_assert_eq(info.nr_grant_maps, 0);
	cr_assert_eq(domain_getinfo(fs->hv, 1, &info), -ESRCH);
	cr_assert_eq(domain_next(fs->hv, 0, &id), 0);
	cr_assert_eq(id, 0);
	cr_assert_eq(domain_next(fs->hv, 1, &id), 0);
	cr_assert_eq(id, 5);
	cr_assert_eq(domain_next(fs->hv, 6, &id), -ENOENT);
}

Test(domain, raise_virq)
{
	evtchn_port_t p;

	cr_assert_eq(mkdom(0, true), 0);
	p = bind_dom_exc(0);
	cr_assert_eq(hv_raise_virq(fs->hv, 0, 0, VIRQ_DOM_EXC), 0);
	cr_assert(pending(0, p));
	cr_assert_eq(hv_raise_virq(fs->hv, 4, 0, VIRQ_DOM_EXC), -ESRCH);
	cr_assert_eq(hv_raise_virq(fs->hv, 0, 0, NR_VIRQS), -EINVAL);
	cr_assert_eq(hv_raise_virq(fs->hv, 0, 9, VIRQ_TIMER), -ENOENT);
}

/* Grant ref 8 of `granter` for `grantee`: its frame 0 shown at gfn 70. */
static void grant_frame(domid_t granter, domid_t grantee, uint64_t frame)
{
	struct xen_add_to_physmap x = {
		.domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 0, .gpfn = 70
	};
	grant_entry_v1_t e = { .flags = GTF_permit_access,
			       .domid = grantee,
			       .frame = (uint32_t)frame };

	cr_assert_eq(fake_hypercall(fs, granter, 0, __HYPERVISOR_memory_op, XENMEM_add_to_physmap,
				    &x, sizeof(x), NULL),
		     0);
	cr_assert_eq(fake_write(fs, granter, (70 << 12) + 8 * sizeof(e), &e, sizeof(e)), 0);
}

static void map_grant(domid_t mapper, domid_t granter, uint64_t at)
{
	struct gnttab_map_grant_ref m = {
		.host_addr = at << 12, .flags = GNTMAP_host_map, .ref = 8, .dom = granter
	};

	cr_assert_eq(fake_hypercall(fs, mapper, 0, __HYPERVISOR_grant_table_op,
				    GNTTABOP_map_grant_ref, &m, sizeof(m), &m),
		     0);
	cr_assert_eq(m.status, GNTST_okay);
}

Test(domain, destroy_undoes_grant_mappings)
{
	struct domain *d0;
	void *own;

	cr_assert_eq(mkdom(0, true), 0);
	cr_assert_eq(mkdom(1, false), 1);
	d0 = domain_lookup(fs->hv, 0);
	own = memory_map_gfn(d0, 40);
	/* dom0 maps a page dom1 granted; dom1 goes away. */
	grant_frame(1, 0, 20);
	map_grant(0, 1, 40);
	cr_assert_eq(memory_map_gfn(d0, 40), memory_map_gfn(domain_lookup(fs->hv, 1), 20));
	cr_assert_eq(gnttab_maps_held(d0), 1);
	cr_assert_eq(gnttab_pins_total(domain_lookup(fs->hv, 1)), 1);
	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	cr_assert_eq(gnttab_maps_held(d0), 0);
	cr_assert_eq(memory_map_gfn(d0, 40), own);

	/* dom1 maps a page dom0 granted; dom1 goes away. */
	cr_assert_eq(mkdom(1, false), 1);
	grant_frame(0, 1, 21);
	map_grant(1, 0, 41);
	cr_assert_eq(gnttab_pins_total(d0), 1);
	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	cr_assert_eq(gnttab_pins_total(d0), 0);
	cr_assert_eq(domain_getinfo(fs->hv, 0, &(struct hv_domain_info){ 0 }), 0);
}
