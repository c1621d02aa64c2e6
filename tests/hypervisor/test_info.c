/*
 * Information pages: start_info fields, shared_info at creation, the
 * wallclock version protocol, and VCPUOP_register_vcpu_info.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

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

TestSuite(info, .init = setup, .fini = teardown);

static domid_t mkdom(domid_t want, bool priv, struct hv_domain_layout *l)
{
	struct hv_domain_config cfg;
	domid_t id;

	hv_domain_config_defaults(&cfg);
	cfg.domid = want;
	cfg.privileged = priv;
	cfg.max_vcpus = 3;
	cfg.nr_pages = 128;
	cfg.max_pages = 160;
	cfg.cmdline = "root=/dev/xvda1 quiet";
	cfg.mod_start = 0x200000;
	cfg.mod_len = 0x1234;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, l), 0);
	return id;
}

static struct start_info read_si(domid_t id, const struct hv_domain_layout *l)
{
	struct start_info si;

	cr_assert_eq(fake_read(fs, id, l->start_info_gfn << 12, &si, sizeof(si)), 0);
	return si;
}

Test(info, start_info_domU)
{
	struct hv_domain_layout l;
	domid_t id = mkdom(DOMID_INVALID, false, &l);
	struct start_info si = read_si(id, &l);

	cr_assert_str_eq(si.magic, "xen-3.0-x86_64");
	cr_assert_eq(si.nr_pages, 128);
	cr_assert_eq(si.shared_info, 160UL << 12);
	cr_assert_eq(si.flags, 0);
	cr_assert_eq(si.store_mfn, 126);
	cr_assert_eq(si.store_evtchn, l.store_evtchn);
	cr_assert_eq(si.console.domU.mfn, 125);
	cr_assert_eq(si.console.domU.evtchn, l.console_evtchn);
	cr_assert_eq(si.pt_base, 0);
	cr_assert_eq(si.nr_pt_frames, 0);
	cr_assert_eq(si.mfn_list, 0);
	cr_assert_eq(si.mod_start, 0x200000);
	cr_assert_eq(si.mod_len, 0x1234);
	cr_assert_str_eq((char *)si.cmd_line, "root=/dev/xvda1 quiet");
	cr_assert_eq(si.first_p2m_pfn, 0);
	cr_assert_eq(si.nr_p2m_frames, 0);
}

Test(info, start_info_dom0_flags)
{
	struct hv_domain_layout l;
	domid_t id = mkdom(0, true, &l);
	struct start_info si = read_si(id, &l);

	cr_assert_eq(si.flags, SIF_PRIVILEGED | SIF_INITDOMAIN);
}

Test(info, cmdline_is_bounded_and_terminated)
{
	struct hv_domain_config cfg;
	struct hv_domain_layout l;
	char line[HV_CMDLINE_MAX];
	struct start_info si;
	domid_t id;

	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	hv_domain_config_defaults(&cfg);
	cfg.cmdline = line;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, &l), 0);
	si = read_si(id, &l);
	cr_assert_eq(strnlen((char *)si.cmd_line, sizeof(si.cmd_line)), HV_CMDLINE_MAX - 1);
	cr_assert_eq(si.cmd_line[HV_CMDLINE_MAX - 1], 0);
}

Test(info, shared_info_at_boot)
{
	struct hv_domain_layout l;
	domid_t id = mkdom(DOMID_INVALID, false, &l);
	struct domain *d = domain_lookup(fs->hv, id);
	struct shared_info *s = d->shared_info;
	unsigned int i;

	cr_assert_eq(memory_map_gfn(d, l.shared_info_gfn), s);
	for (i = 0; i < XEN_LEGACY_MAX_VCPUS; i++) {
		cr_assert_eq(s->vcpu_info[i].evtchn_upcall_mask, 1);
		cr_assert_eq(s->vcpu_info[i].evtchn_upcall_pending, 0);
	}
	for (i = 0; i < 64; i++)
		cr_assert_eq(s->evtchn_mask[i], 0);
	for (i = 0; i < 3; i++)
		cr_assert_eq(d->vcpus[i].vcpu_info, &s->vcpu_info[i]);
}

Test(info, wallclock_protocol)
{
	struct hv_domain_layout l;
	domid_t id;
	struct shared_info *s;
	uint32_t v0;

	fs->now_ns = 5 * 1000000000ULL + 250;
	fs->wc_sec = 1700000010;
	fs->wc_nsec = 500;
	id = mkdom(DOMID_INVALID, false, &l);
	s = domain_lookup(fs->hv, id)->shared_info;
	/* Base = wall time at system time zero. */
	cr_assert_eq(s->wc_sec, 1700000005);
	cr_assert_eq(s->wc_nsec, 250);
	cr_assert_eq(s->wc_sec_hi, 0);
	v0 = s->wc_version;
	cr_assert_eq(v0 % 2, 0);
	cr_assert_gt(v0, 0);
	cr_assert_eq(s->vcpu_info[0].time.system_time, fs->now_ns);

	/* Past 2038 and 2106: the high word carries the rest. */
	fs->wc_sec = (1ULL << 33) + 7;
	fs->wc_nsec = 0;
	fs->now_ns = 0;
	hv_update_wallclock(fs->hv);
	cr_assert_eq(s->wc_version, v0 + 2);
	cr_assert_eq(s->wc_sec, 7);
	cr_assert_eq(s->wc_sec_hi, 2);
	cr_assert_eq(s->vcpu_info[1].time.version % 2, 0);
}

static long register_vcpu_info(domid_t id, unsigned int caller, unsigned int target, uint64_t mfn,
			       uint32_t offset)
{
	struct vcpu_register_vcpu_info r = { .mfn = mfn, .offset = offset };

	cr_assert_eq(fake_write(fs, id, FAKE_SCRATCH_GPA, &r, sizeof(r)), 0);
	return fake_hypercall_args(fs, id, caller, __HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info,
				   target, FAKE_SCRATCH_GPA, 0, 0);
}

Test(info, register_vcpu_info_moves_it)
{
	struct hv_domain_layout l;
	domid_t id = mkdom(DOMID_INVALID, false, &l);
	struct domain *d = domain_lookup(fs->hv, id);
	struct vcpu_info *legacy = &d->shared_info->vcpu_info[0], *vi;
	unsigned int kicks = fake_kick_count(fs, id, 0);
	uint8_t *page;

	legacy->arch.cr2 = 0xfeed;
	legacy->evtchn_upcall_mask = 1;
	cr_assert_eq(register_vcpu_info(id, 0, 0, 40, 128), 0);
	page = memory_map_gfn(d, 40);
	vi = (struct vcpu_info *)(page + 128);
	cr_assert_eq(d->vcpus[0].vcpu_info, vi);
	cr_assert_eq(vi->arch.cr2, 0xfeed);
	cr_assert_eq(vi->evtchn_upcall_mask, 1);
	/* Everything pending so nothing raised during the move is lost. */
	cr_assert_eq(vi->evtchn_upcall_pending, 1);
	cr_assert_eq(vi->evtchn_pending_sel, ~(xen_ulong_t)0);
	cr_assert_eq(fake_kick_count(fs, id, 0), kicks + 1);
	/* Only once. */
	cr_assert_eq(register_vcpu_info(id, 0, 0, 41, 0), -EINVAL);

	/* From now on delivery writes there: an IPI to vCPU 0. */
	{
		struct evtchn_bind_ipi b = { .vcpu = 0 };
		struct evtchn_send s;

		vi->evtchn_upcall_pending = 0;
		vi->evtchn_pending_sel = 0;
		cr_assert_eq(fake_hypercall(fs, id, 0, __HYPERVISOR_event_channel_op,
					    EVTCHNOP_bind_ipi, &b, sizeof(b), &b),
			     0);
		s.port = b.port;
		cr_assert_eq(fake_hypercall(fs, id, 0, __HYPERVISOR_event_channel_op, EVTCHNOP_send,
					    &s, sizeof(s), NULL),
			     0);
		cr_assert_eq(vi->evtchn_upcall_pending, 1);
		cr_assert_neq(vi->evtchn_pending_sel, 0);
		cr_assert_eq(legacy->evtchn_upcall_pending, 0);
	}
}

Test(info, register_vcpu_info_errors)
{
	struct hv_domain_layout l;
	domid_t id = mkdom(DOMID_INVALID, false, &l);

	cr_assert_eq(register_vcpu_info(id, 0, 0, 40, 4096 - 63), -ENXIO);
	cr_assert_eq(register_vcpu_info(id, 0, 0, 40, 4), -ENXIO);
	cr_assert_eq(register_vcpu_info(id, 0, 0, 130, 0), -EINVAL);	 /* unpopulated */
	cr_assert_eq(register_vcpu_info(id, 0, 0, 160, 0), -EINVAL);	 /* shared_info */
	cr_assert_eq(register_vcpu_info(id, 0, 0, 1 << 30, 0), -EINVAL); /* beyond */
	cr_assert_eq(register_vcpu_info(id, 0, 3, 40, 0), -ENOENT);	 /* no vCPU 3 */
	/* Another vCPU: only while it is down. */
	cr_assert_eq(register_vcpu_info(id, 0, 1, 40, 4096 - 64), 0);
	cr_assert_eq(fake_hypercall_args(fs, id, 0, __HYPERVISOR_vcpu_op, VCPUOP_up, 2, 0, 0, 0),
		     0);
	cr_assert_eq(register_vcpu_info(id, 0, 2, 41, 0), -EINVAL);
	cr_assert_eq(register_vcpu_info(id, 2, 2, 41, 0), 0);
}

Test(info, start_info_needs_ram)
{
	struct hv_domain_layout l;
	domid_t id = mkdom(DOMID_INVALID, false, &l);
	struct domain *d = domain_lookup(fs->hv, id);

	cr_assert_eq(memory_depopulate(d, l.start_info_gfn), 0);
	cr_assert_eq(domain_resume(fs->hv, id), -EFAULT);
}
