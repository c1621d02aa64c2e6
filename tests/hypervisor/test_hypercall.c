/*
 * The dispatch table and the core's own ops, through hypercall() with
 * arguments in fake guest RAM: memory_op, vcpu_op, timers, sched_op,
 * xen_version, console_io, callback_op, hvm_op; success and each error.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core.h"
#include "fake_substrate.h"

#include <xen/callback.h>
#include <xen/features.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

static struct fake_substrate *fs;
static struct hv_domain_layout l0, l1;

#define DOM0 0
#define DOMU 1

static void setup(void)
{
	struct hv_domain_config cfg;
	domid_t id;

	fs = fake_create_quiet(NULL);
	cr_assert(fs);
	hv_domain_config_defaults(&cfg);
	cfg.domid = DOM0;
	cfg.privileged = true;
	cfg.max_vcpus = 2;
	cfg.nr_pages = 64;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, &l0), 0);
	cfg.domid = DOMU;
	cfg.privileged = false;
	cfg.nr_pages = 96;
	cfg.max_pages = 128;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, &l1), 0);
}

static void teardown(void)
{
	fake_destroy(fs);
}

TestSuite(hypercall, .init = setup, .fini = teardown);

static long hc(domid_t dom, unsigned long op, uint64_t cmd, void *arg, size_t len)
{
	return fake_hypercall(fs, dom, 0, op, cmd, arg, len, arg);
}

static struct domain *dom(domid_t id)
{
	return domain_lookup(fs->hv, id);
}

/* ---- dispatch ----------------------------------------------------------- */

Test(hypercall, unknown_ops_are_enosys)
{
	static const unsigned long ops[] = { __HYPERVISOR_set_trap_table,
					     __HYPERVISOR_mmu_update,
					     __HYPERVISOR_multicall,
					     __HYPERVISOR_physdev_op,
					     __HYPERVISOR_domctl,
					     47,
					     55,
					     56,
					     1000,
					     ~0UL };
	unsigned int i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		cr_assert_eq(fake_hypercall_args(fs, DOMU, 0, ops[i], 0, 0, 0, 0, 0), -ENOSYS);
}

Test(hypercall, bad_caller)
{
	const uint64_t args[5] = { 0 };

	cr_assert_eq(hypercall(fs->hv, 9, 0, __HYPERVISOR_xen_version, args, NULL), -ESRCH);
	cr_assert_eq(hypercall(fs->hv, DOMU, 2, __HYPERVISOR_xen_version, args, NULL), -ESRCH);
	cr_assert_eq(hypercall(fs->hv, DOMU, 0, __HYPERVISOR_xen_version, args, NULL),
		     (4 << 16) | 17);
}

Test(hypercall, bad_argument_address_is_efault)
{
	static const struct {
		unsigned long op;
		uint64_t cmd;
	} calls[] = {
		{ __HYPERVISOR_memory_op, XENMEM_add_to_physmap },
		{ __HYPERVISOR_memory_op, XENMEM_current_reservation },
		{ __HYPERVISOR_memory_op, XENMEM_memory_map },
		{ __HYPERVISOR_sched_op, SCHEDOP_shutdown },
		{ __HYPERVISOR_sched_op, SCHEDOP_poll },
		{ __HYPERVISOR_sched_op, SCHEDOP_remote_shutdown },
		{ __HYPERVISOR_sched_op, SCHEDOP_shutdown_code },
		{ __HYPERVISOR_xen_version, XENVER_extraversion },
		{ __HYPERVISOR_xen_version, XENVER_get_features },
		{ __HYPERVISOR_callback_op, CALLBACKOP_register },
		{ __HYPERVISOR_hvm_op, HVMOP_get_param },
		{ __HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector },
		{ __HYPERVISOR_event_channel_op, EVTCHNOP_status },
	};
	uint64_t bad = 100ULL << 12; /* unpopulated RAM of domU */
	unsigned int i;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		cr_assert_eq(
			fake_hypercall_args(fs, DOMU, 0, calls[i].op, calls[i].cmd, bad, 0, 0, 0),
			-EFAULT, "op %lu cmd %lu", calls[i].op, (unsigned long)calls[i].cmd);
	cr_assert_eq(fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_vcpu_op,
					 VCPUOP_set_singleshot_timer, 0, bad, 0, 0),
		     -EFAULT);
	cr_assert_eq(fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_console_io, CONSOLEIO_write, 4,
					 bad, 0, 0),
		     -EFAULT);
}

/* ---- memory_op ---------------------------------------------------------- */

Test(hypercall, add_to_physmap_shared_info)
{
	struct xen_add_to_physmap x = {
		.domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0, .gpfn = 130
	};
	struct domain *d = dom(DOMU);
	struct start_info si;

	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)), 0);
	cr_assert_eq(memory_map_gfn(d, 130), d->shared_info);
	cr_assert_null(memory_map_gfn(d, 128)); /* moved, not copied */
	cr_assert_eq(d->shared_info_gfn, 130);
	cr_assert_eq(fs->physmaps[fs->nr_physmaps - 1].gfn, 130);
	/* Over a RAM frame: the frame is hidden. */
	x.gpfn = 10;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)), 0);
	cr_assert_eq(memory_map_gfn(d, 10), d->shared_info);
	/* start_info reports the new place after resume. */
	cr_assert_eq(domain_resume(fs->hv, DOMU), 0);
	cr_assert_eq(fake_read(fs, DOMU, l1.start_info_gfn << 12, &si, sizeof(si)), 0);
	cr_assert_eq(si.shared_info, 10UL << 12);

	x.idx = 1;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -EINVAL);
	x.idx = 0;
	x.gpfn = d->max_gfn;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -EINVAL);
}

Test(hypercall, add_to_physmap_grant_table)
{
	struct xen_add_to_physmap x = {
		.domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 0, .gpfn = 140
	};
	struct domain *d = dom(DOMU);
	void *frame0;

	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)), 0);
	frame0 = memory_map_gfn(d, 140);
	cr_assert_not_null(frame0);
	cr_assert_eq(frame0, gnttab_shared_frame(d, 0));
	/* Moving frame 0 elsewhere. */
	x.gpfn = 141;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)), 0);
	cr_assert_null(memory_map_gfn(d, 140));
	cr_assert_eq(memory_map_gfn(d, 141), frame0);
	/* Growing by mapping frame 3. */
	x.idx = 3;
	x.gpfn = 145;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)), 0);
	cr_assert_eq(memory_map_gfn(d, 145), gnttab_shared_frame(d, 3));
	/* Another hypervisor page cannot be hidden under it. */
	x.space = XENMAPSPACE_shared_info;
	x.idx = 0;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -EBUSY);
	x.space = XENMAPSPACE_grant_table;
	x.idx = XENMAPIDX_grant_table_status;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -EINVAL);
	x.idx = 100000;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -EINVAL);
	x.idx = 0;
	x.space = XENMAPSPACE_gmfn;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -EOPNOTSUPP);
	x.space = 99;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -EINVAL);
}

Test(hypercall, add_to_physmap_privilege)
{
	struct xen_add_to_physmap x = { .domid = DOM0,
					.space = XENMAPSPACE_shared_info,
					.gpfn = 70 };

	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -EPERM);
	x.domid = 77;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)),
		     -ESRCH);
	x.domid = DOMU;
	x.gpfn = 131;
	cr_assert_eq(hc(DOM0, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x)), 0);
	cr_assert_eq(dom(DOMU)->shared_info_gfn, 131);
}

Test(hypercall, reservations)
{
	struct xen_memory_domain m = { .domid = DOMID_SELF };

	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_current_reservation, &m, sizeof(m)),
		     96);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_maximum_reservation, &m, sizeof(m)),
		     128);
	m.domid = DOM0;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_current_reservation, &m, sizeof(m)),
		     -EPERM);
	m.domid = DOMU;
	cr_assert_eq(hc(DOM0, __HYPERVISOR_memory_op, XENMEM_maximum_reservation, &m, sizeof(m)),
		     128);
	m.domid = 55;
	cr_assert_eq(hc(DOM0, __HYPERVISOR_memory_op, XENMEM_current_reservation, &m, sizeof(m)),
		     -ESRCH);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_increase_reservation, &m, sizeof(m)),
		     -ENOSYS);
}

Test(hypercall, memory_map)
{
	struct xen_memory_map map;
	uint8_t e820[2 * 20];
	uint64_t addr, size;
	uint32_t type;

	memset(e820, 0xff, sizeof(e820));
	cr_assert_eq(fake_write(fs, DOMU, FAKE_BUF_GPA, e820, sizeof(e820)), 0);
	map.nr_entries = 2;
	map.buffer.p = (void *)(uintptr_t)FAKE_BUF_GPA;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_memory_map, &map, sizeof(map)), 0);
	cr_assert_eq(map.nr_entries, 1);
	cr_assert_eq(fake_read(fs, DOMU, FAKE_BUF_GPA, e820, sizeof(e820)), 0);
	memcpy(&addr, e820, 8);
	memcpy(&size, e820 + 8, 8);
	memcpy(&type, e820 + 16, 4);
	cr_assert_eq(addr, 0);
	cr_assert_eq(size, 128ULL << 12);
	cr_assert_eq(type, 1);
	cr_assert_eq(e820[20], 0xff);
	/* A zero-capacity buffer stores nothing. */
	map.nr_entries = 0;
	map.buffer.p = (void *)(uintptr_t)(100ULL << 12);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_memory_map, &map, sizeof(map)), 0);
	cr_assert_eq(map.nr_entries, 0);
	map.nr_entries = 1;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_memory_op, XENMEM_memory_map, &map, sizeof(map)),
		     -EFAULT);
}

/* ---- vcpu_op and timers ------------------------------------------------- */

static long vcpu_op(unsigned int caller, unsigned int cmd, unsigned int target, void *arg,
		    size_t len)
{
	if (len)
		cr_assert_eq(fake_write(fs, DOMU, FAKE_SCRATCH_GPA, arg, len), 0);
	return fake_hypercall_args(fs, DOMU, caller, __HYPERVISOR_vcpu_op, cmd, target,
				   FAKE_SCRATCH_GPA, 0, 0);
}

Test(hypercall, vcpu_up_down)
{
	cr_assert_eq(vcpu_op(0, VCPUOP_is_up, 0, NULL, 0), 1);
	cr_assert_eq(vcpu_op(0, VCPUOP_is_up, 1, NULL, 0), 0);
	cr_assert_eq(vcpu_op(0, VCPUOP_up, 1, NULL, 0), 0);
	cr_assert_eq(vcpu_op(0, VCPUOP_is_up, 1, NULL, 0), 1);
	cr_assert_eq(vcpu_op(0, VCPUOP_down, 1, NULL, 0), 0);
	cr_assert_eq(vcpu_op(0, VCPUOP_is_up, 1, NULL, 0), 0);
	cr_assert_eq(vcpu_op(0, VCPUOP_is_up, 2, NULL, 0), -ENOENT);
	cr_assert_eq(fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_vcpu_op, VCPUOP_is_up,
					 1ULL << 32, 0, 0, 0),
		     -ENOENT);
	cr_assert_eq(vcpu_op(0, VCPUOP_initialise, 1, NULL, 0), -ENOSYS);
	cr_assert_eq(vcpu_op(0, VCPUOP_get_runstate_info, 0, NULL, 0), -ENOSYS);
	/* The last vCPU going down powers the domain off. */
	cr_assert_eq(vcpu_op(0, VCPUOP_down, 0, NULL, 0), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_SHUTDOWN);
	cr_assert(dom(DOMU)->is_shutdown);
	cr_assert_eq(dom(DOMU)->shutdown_reason, SHUTDOWN_poweroff);
}

Test(hypercall, singleshot_timer)
{
	struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = fs->now_ns + 5000 };
	struct vcpu *v = &dom(DOMU)->vcpus[0];

	cr_assert_eq(vcpu_op(0, VCPUOP_set_singleshot_timer, 0, &t, sizeof(t)), 0);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, t.timeout_abs_ns);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].domid, DOMU);
	/* Only on oneself. */
	cr_assert_eq(vcpu_op(0, VCPUOP_set_singleshot_timer, 1, &t, sizeof(t)), -EINVAL);
	cr_assert_eq(vcpu_op(0, VCPUOP_stop_singleshot_timer, 1, NULL, 0), -EINVAL);
	/* In the past with VCPU_SSHOTTMR_future: -ETIME; without: armed. */
	t.timeout_abs_ns = fs->now_ns - 1;
	t.flags = VCPU_SSHOTTMR_future;
	cr_assert_eq(vcpu_op(0, VCPUOP_set_singleshot_timer, 0, &t, sizeof(t)), -ETIME);
	t.flags = 0;
	cr_assert_eq(vcpu_op(0, VCPUOP_set_singleshot_timer, 0, &t, sizeof(t)), 0);
	cr_assert_eq(v->singleshot_deadline, fs->now_ns - 1);
	cr_assert_eq(vcpu_op(0, VCPUOP_stop_singleshot_timer, 0, NULL, 0), 0);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, 0);
	cr_assert_eq(v->timer_armed, 0);
}

static evtchn_port_t bind_timer(domid_t id, unsigned int vcpu)
{
	struct evtchn_bind_virq b = { .virq = VIRQ_TIMER, .vcpu = vcpu };

	cr_assert_eq(fake_hypercall(fs, id, vcpu, __HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq,
				    &b, sizeof(b), &b),
		     0);
	return b.port;
}

Test(hypercall, timer_fire_raises_virq_timer)
{
	struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = fs->now_ns + 1000 };
	evtchn_port_t p = bind_timer(DOMU, 0);
	struct domain *d = dom(DOMU);

	cr_assert_eq(vcpu_op(0, VCPUOP_set_singleshot_timer, 0, &t, sizeof(t)), 0);
	/* Early fire (substrate jitter): nothing happens, re-armed. */
	hv_timer_fire(fs->hv, DOMU, 0);
	cr_assert_not(evtchn_port_pending(d, p));
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, t.timeout_abs_ns);
	fs->now_ns += 1000;
	hv_timer_fire(fs->hv, DOMU, 0);
	cr_assert(evtchn_port_pending(d, p));
	cr_assert_eq(d->vcpus[0].singleshot_deadline, 0);
	/* Unknown targets are ignored. */
	hv_timer_fire(fs->hv, 9, 0);
	hv_timer_fire(fs->hv, DOMU, 7);
}

Test(hypercall, periodic_timer_rearms)
{
	struct vcpu_set_periodic_timer p = { .period_ns = 10 * 1000000ULL };
	evtchn_port_t port = bind_timer(DOMU, 0);
	struct domain *d = dom(DOMU);
	uint64_t start = fs->now_ns;

	cr_assert_eq(vcpu_op(0, VCPUOP_set_periodic_timer, 0, &p, sizeof(p)), 0);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, start + p.period_ns);
	fs->now_ns = start + p.period_ns;
	hv_timer_fire(fs->hv, DOMU, 0);
	cr_assert(evtchn_port_pending(d, port));
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, start + 2 * p.period_ns);
	/* Missed periods are skipped, not replayed. */
	fs->now_ns = start + 55 * 1000000ULL;
	hv_timer_fire(fs->hv, DOMU, 0);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, fs->now_ns + p.period_ns);
	cr_assert_eq(vcpu_op(0, VCPUOP_stop_periodic_timer, 0, NULL, 0), 0);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, 0);
	p.period_ns = 999999;
	cr_assert_eq(vcpu_op(0, VCPUOP_set_periodic_timer, 0, &p, sizeof(p)), -EINVAL);
	p.period_ns = 1ULL << 60;
	cr_assert_eq(vcpu_op(0, VCPUOP_set_periodic_timer, 0, &p, sizeof(p)), -EINVAL);
	/* A down vCPU may have its periodic timer set by another. */
	p.period_ns = 1000000;
	cr_assert_eq(vcpu_op(0, VCPUOP_set_periodic_timer, 1, &p, sizeof(p)), 0);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].vcpu, 1);
}

Test(hypercall, set_timer_op)
{
	struct vcpu *v = &dom(DOMU)->vcpus[0];
	uint64_t now = fs->now_ns;

	cr_assert_eq(
		fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_set_timer_op, now + 77, 0, 0, 0, 0),
		0);
	cr_assert_eq(v->singleshot_deadline, now + 77);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, now + 77);
	cr_assert_eq(fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_set_timer_op, 0, 0, 0, 0, 0), 0);
	cr_assert_eq(v->singleshot_deadline, 0);
	cr_assert_eq(fs->timers[fs->nr_timers - 1].deadline_ns, 0);
	/* Negative or absurdly far: 100 ms from now, as Xen. */
	cr_assert_eq(
		fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_set_timer_op, 1ULL << 63, 0, 0, 0, 0),
		0);
	cr_assert_eq(v->singleshot_deadline, now + 100000000ULL);
	cr_assert_eq(fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_set_timer_op, now + (1ULL << 51),
					 0, 0, 0, 0),
		     0);
	cr_assert_eq(v->singleshot_deadline, now + 100000000ULL);
}

/* ---- sched_op ----------------------------------------------------------- */

Test(hypercall, sched_yield_and_block)
{
	struct vcpu_info *vi = dom(DOMU)->vcpus[0].vcpu_info;

	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_yield, NULL, 0), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_YIELD);
	cr_assert_eq(vi->evtchn_upcall_mask, 1);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_block, NULL, 0), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_BLOCK);
	cr_assert_eq(vi->evtchn_upcall_mask, 0);
	/* Something pending: no sleep. */
	vi->evtchn_upcall_pending = 1;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_block, NULL, 0), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_NONE);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_watchdog, NULL, 0), -ENOSYS);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, 99, NULL, 0), -ENOSYS);
}

static long poll(evtchn_port_t *ports, unsigned int n, uint64_t timeout)
{
	struct sched_poll p = { .nr_ports = n, .timeout = timeout };

	p.ports.p = (evtchn_port_t *)(uintptr_t)FAKE_BUF_GPA;
	if (n && n <= 1024)
		cr_assert_eq(fake_write(fs, DOMU, FAKE_BUF_GPA, ports, n * sizeof(*ports)), 0);
	return hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_poll, &p, sizeof(p));
}

Test(hypercall, sched_poll)
{
	struct evtchn_bind_ipi b = { .vcpu = 0 };
	struct evtchn_send s;
	evtchn_port_t ports[129];

	cr_assert_eq(hc(DOMU, __HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, &b, sizeof(b)), 0);
	ports[0] = l1.store_evtchn;
	ports[1] = b.port;
	cr_assert_eq(poll(ports, 2, 12345), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_POLL);
	cr_assert_eq(fs->last_action.deadline_ns, 12345);
	cr_assert_eq(dom(DOMU)->vcpus[0].nr_poll, 2);
	/* Already pending: returns at once. */
	s.port = b.port;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_event_channel_op, EVTCHNOP_send, &s, sizeof(s)), 0);
	cr_assert_eq(poll(ports, 2, 0), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_NONE);
	/* Bad ports and too many ports. */
	ports[0] = 5000;
	cr_assert_eq(poll(ports, 1, 0), -EINVAL);
	memset(ports, 0, sizeof(ports));
	cr_assert_eq(poll(ports, 129, 0), -EINVAL);
	cr_assert_eq(poll(ports, 0, 0), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_POLL);
	{
		struct sched_poll p = { .nr_ports = 4 };

		p.ports.p = (evtchn_port_t *)(uintptr_t)(100ULL << 12);
		cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_poll, &p, sizeof(p)), -EFAULT);
	}
}

Test(hypercall, sched_shutdown_and_code)
{
	struct sched_shutdown s = { .reason = SHUTDOWN_MAX + 1 };

	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_shutdown_code, &s, sizeof(s)),
		     -EINVAL);
	s.reason = SHUTDOWN_crash;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_shutdown_code, &s, sizeof(s)), 0);
	cr_assert_not(dom(DOMU)->is_shutdown);
	s.reason = SHUTDOWN_MAX + 1;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_shutdown, &s, sizeof(s)), -EINVAL);
	s.reason = SHUTDOWN_poweroff;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_shutdown, &s, sizeof(s)), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_SHUTDOWN);
	cr_assert(dom(DOMU)->is_shutdown);
	/* The code set earlier is the reason reported. */
	cr_assert_eq(dom(DOMU)->shutdown_reason, SHUTDOWN_crash);
}

Test(hypercall, sched_remote_shutdown)
{
	struct sched_remote_shutdown r = { .domain_id = DOM0, .reason = SHUTDOWN_reboot };

	cr_assert_eq(hc(DOMU, __HYPERVISOR_sched_op, SCHEDOP_remote_shutdown, &r, sizeof(r)),
		     -EPERM);
	r.domain_id = 42;
	cr_assert_eq(hc(DOM0, __HYPERVISOR_sched_op, SCHEDOP_remote_shutdown, &r, sizeof(r)),
		     -ESRCH);
	r.domain_id = DOMU;
	r.reason = 200;
	cr_assert_eq(hc(DOM0, __HYPERVISOR_sched_op, SCHEDOP_remote_shutdown, &r, sizeof(r)),
		     -EINVAL);
	r.reason = SHUTDOWN_reboot;
	cr_assert_eq(hc(DOM0, __HYPERVISOR_sched_op, SCHEDOP_remote_shutdown, &r, sizeof(r)), 0);
	cr_assert_eq(fs->last_action.action, HV_ACT_NONE);
	cr_assert(dom(DOMU)->is_shutdown);
	cr_assert_eq(dom(DOMU)->shutdown_reason, SHUTDOWN_reboot);
}

/* ---- xen_version -------------------------------------------------------- */

Test(hypercall, xen_version)
{
	char extra[16], caps[1024], cs[64];
	struct xen_feature_info f = { .submap_idx = 0 };
	struct xen_platform_parameters pp;
	struct xen_compile_info ci;
	uint8_t handle[16];

	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_version, NULL, 0), 0x40011);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_extraversion, extra, sizeof(extra)),
		     0);
	cr_assert_str_eq(extra, "-xenon");
	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_capabilities, caps, sizeof(caps)),
		     0);
	cr_assert_str_eq(caps, "xen-3.0-x86_64");
	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_changeset, cs, sizeof(cs)), 0);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_pagesize, NULL, 0), 4096);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_compile_info, &ci, sizeof(ci)), 0);
	cr_assert_str_eq(ci.compiler, "gcc");
	cr_assert_eq(
		hc(DOMU, __HYPERVISOR_xen_version, XENVER_platform_parameters, &pp, sizeof(pp)), 0);
	cr_assert_eq(pp.virt_start, HYPERVISOR_VIRT_START);
	cr_assert_eq(
		hc(DOMU, __HYPERVISOR_xen_version, XENVER_guest_handle, handle, sizeof(handle)), 0);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_get_features, &f, sizeof(f)), 0);
	cr_assert_eq(f.submap, 1u << XENFEAT_auto_translated_physmap);
	cr_assert_eq(hc(DOM0, __HYPERVISOR_xen_version, XENVER_get_features, &f, sizeof(f)), 0);
	cr_assert_eq(f.submap, (1u << XENFEAT_auto_translated_physmap) | (1u << XENFEAT_dom0));
	f.submap_idx = 1;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_get_features, &f, sizeof(f)),
		     -EINVAL);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_xen_version, XENVER_build_id, NULL, 0), -ENOSYS);
}

/* ---- console_io --------------------------------------------------------- */

Test(hypercall, console_write)
{
	char msg[] = "hello\nworld\x01!";
	static char big[20000];

	cr_assert_eq(hc(DOMU, __HYPERVISOR_console_io, CONSOLEIO_write, msg, sizeof(msg) - 1), 0);
	cr_assert(fake_log_contains(fs, "d1: hello"));
	cr_assert(fake_log_contains(fs, "d1: world.!"));
	cr_assert_eq(hc(DOMU, __HYPERVISOR_console_io, CONSOLEIO_read, msg, 4), 0);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_console_io, 7, msg, 4), -ENOSYS);
	/* Long writes are cut, and the cut is logged. */
	memset(big, 'z', sizeof(big));
	cr_assert_eq(fake_write(fs, DOMU, 0x10000, big, sizeof(big)), 0);
	cr_assert_eq(fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_console_io, CONSOLEIO_write,
					 sizeof(big), 0x10000, 0, 0),
		     0);
	cr_assert(fake_log_contains(fs, "cut to"));
}

/* ---- callback_op -------------------------------------------------------- */

Test(hypercall, callbacks)
{
	struct callback_register r = { .type = CALLBACKTYPE_event, .address = 0xffff800000001000 };
	struct callback_unregister u = { .type = CALLBACKTYPE_event };

	cr_assert_eq(hc(DOMU, __HYPERVISOR_callback_op, CALLBACKOP_register, &r, sizeof(r)), 0);
	cr_assert_eq(dom(DOMU)->callback_event, 0xffff800000001000);
	r.type = CALLBACKTYPE_failsafe;
	r.address = 0x2000;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_callback_op, CALLBACKOP_register, &r, sizeof(r)), 0);
	cr_assert_eq(dom(DOMU)->callback_failsafe, 0x2000);
	r.type = CALLBACKTYPE_nmi;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_callback_op, CALLBACKOP_register, &r, sizeof(r)),
		     -EINVAL);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_callback_op, CALLBACKOP_unregister, &u, sizeof(u)),
		     -EINVAL);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_callback_op, 5, &u, sizeof(u)), -ENOSYS);
}

/* ---- hvm_op ------------------------------------------------------------- */

static long hvm_param(domid_t caller, unsigned int op, domid_t target, uint32_t index,
		      uint64_t *value)
{
	struct xen_hvm_param p = { .domid = target, .index = index, .value = *value };
	long rc = hc(caller, __HYPERVISOR_hvm_op, op, &p, sizeof(p));

	*value = p.value;
	return rc;
}

Test(hypercall, hvm_params)
{
	uint64_t v = 0;

	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOMID_SELF, HVM_PARAM_STORE_PFN, &v), 0);
	cr_assert_eq(v, l1.store_gfn);
	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOMID_SELF, HVM_PARAM_STORE_EVTCHN, &v), 0);
	cr_assert_eq(v, l1.store_evtchn);
	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOMID_SELF, HVM_PARAM_CONSOLE_PFN, &v), 0);
	cr_assert_eq(v, l1.console_gfn);
	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOMID_SELF, HVM_PARAM_CONSOLE_EVTCHN, &v), 0);
	cr_assert_eq(v, l1.console_evtchn);
	v = 0x0200000000000000ULL | 0xf3; /* vector via */
	cr_assert_eq(hvm_param(DOMU, HVMOP_set_param, DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, &v), 0);
	v = 0;
	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, &v), 0);
	cr_assert_eq(v, 0x0200000000000000ULL | 0xf3);
	/* The guest cannot set its builder parameters; dom0 can. */
	v = 5;
	cr_assert_eq(hvm_param(DOMU, HVMOP_set_param, DOMID_SELF, HVM_PARAM_STORE_PFN, &v), -EPERM);
	cr_assert_eq(hvm_param(DOM0, HVMOP_set_param, DOM0, HVM_PARAM_STORE_PFN, &v), -EPERM);
	cr_assert_eq(hvm_param(DOM0, HVMOP_set_param, DOMU, HVM_PARAM_STORE_PFN, &v), 0);
	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOMID_SELF, HVM_PARAM_STORE_PFN, &v), 0);
	cr_assert_eq(v, 5);
	/* Others' parameters are dom0's business. */
	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOM0, HVM_PARAM_STORE_PFN, &v), -EPERM);
	cr_assert_eq(hvm_param(DOM0, HVMOP_get_param, 33, HVM_PARAM_STORE_PFN, &v), -ESRCH);
	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOMID_SELF, HVM_PARAM_HPET_ENABLED, &v),
		     -EINVAL);
	cr_assert_eq(hvm_param(DOMU, HVMOP_get_param, DOMID_SELF, HVM_NR_PARAMS, &v), -EINVAL);
	cr_assert_eq(hvm_param(DOMU, HVMOP_set_param, DOMID_SELF, 0xffffffff, &v), -EINVAL);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_hvm_op, 99, NULL, 0), -ENOSYS);
}

Test(hypercall, hvm_upcall_vector)
{
	struct xen_hvm_evtchn_upcall_vector u = { .vcpu = 1, .vector = 0xf3 };

	cr_assert_eq(hc(DOMU, __HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, &u, sizeof(u)),
		     0);
	cr_assert_eq(dom(DOMU)->vcpus[1].upcall_vector, 0xf3);
	u.vector = 0x0f;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, &u, sizeof(u)),
		     -EINVAL);
	u.vector = 0x10;
	u.vcpu = 2;
	cr_assert_eq(hc(DOMU, __HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, &u, sizeof(u)),
		     -ENOENT);
}

/* ---- event channels and grant tables reach their modules ---------------- */

Test(hypercall, evtchn_and_gnttab_dispatch)
{
	struct evtchn_status st = { .dom = DOMID_SELF, .port = l1.store_evtchn };
	struct gnttab_query_size q = { .dom = DOMID_SELF };

	cr_assert_eq(hc(DOMU, __HYPERVISOR_event_channel_op, EVTCHNOP_status, &st, sizeof(st)), 0);
	cr_assert_eq(st.status, EVTCHNSTAT_unbound);
	cr_assert_eq(hc(DOMU, __HYPERVISOR_grant_table_op, GNTTABOP_query_size, &q, sizeof(q)), 0);
	cr_assert_eq(q.status, GNTST_okay);
	cr_assert_geq(q.max_nr_frames, 1);
	cr_assert_eq(fake_hypercall_args(fs, DOMU, 0, __HYPERVISOR_grant_table_op,
					 GNTTABOP_query_size, FAKE_SCRATCH_GPA, 1ULL << 32, 0, 0),
		     -EINVAL);
}
