/*
 * Hypercalls the runtime answers itself because the core's answer is
 * certain (substrate/proc/runtime/rt_hypercall.c): a vcpu_op on a vCPU the
 * domain does not have is -ENOENT whatever the command, as the core's
 * hc_vcpu_op decides before it looks at the command; anything about a vCPU
 * that exists goes to xenon-hvd.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "fake_substrate.h"
#include "rt_internal.h"

#include <xen/vcpu.h>

static struct procdom_rt rt_with(unsigned int nr_vcpus, bool fast)
{
	struct procdom_rt rt = { .fast = fast };

	rt.boot.nr_vcpus = nr_vcpus;
	return rt;
}

Test(rt_local, vcpu_op_on_missing_vcpu_is_enoent_for_every_command)
{
	static const unsigned int cmds[] = { VCPUOP_is_up,
					     VCPUOP_up,
					     VCPUOP_down,
					     VCPUOP_register_vcpu_info,
					     VCPUOP_set_singleshot_timer,
					     VCPUOP_stop_periodic_timer,
					     9999 };
	struct procdom_rt rt = rt_with(2, true);
	unsigned int i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const uint64_t args[5] = { cmds[i], 2, 0, 0, 0 };
		long ret = 0;

		cr_assert(rt_vcpu_op_local(&rt, __HYPERVISOR_vcpu_op, args, &ret), "cmd %u",
			  cmds[i]);
		cr_assert_eq(ret, -ENOENT);
	}
}

Test(rt_local, vcpu_ids_beyond_32_bits_are_missing_too)
{
	struct procdom_rt rt = rt_with(1, true);
	const uint64_t args[5] = { VCPUOP_is_up, (1ULL << 32) | 0, 0, 0, 0 };
	long ret = 0;

	cr_assert(rt_vcpu_op_local(&rt, __HYPERVISOR_vcpu_op, args, &ret));
	cr_assert_eq(ret, -ENOENT);
}

Test(rt_local, existing_vcpus_and_other_ops_take_the_socket)
{
	struct procdom_rt rt = rt_with(2, true);
	const uint64_t last[5] = { VCPUOP_is_up, 1, 0, 0, 0 };
	const uint64_t first[5] = { VCPUOP_is_up, 0, 0, 0, 0 };
	long ret = 12345;

	cr_assert_not(rt_vcpu_op_local(&rt, __HYPERVISOR_vcpu_op, last, &ret));
	cr_assert_not(rt_vcpu_op_local(&rt, __HYPERVISOR_vcpu_op, first, &ret));
	/* Another hypercall with the same arguments is not a vcpu_op. */
	cr_assert_not(rt_vcpu_op_local(&rt, __HYPERVISOR_sched_op, (uint64_t[5]){ 0, 7 }, &ret));
	cr_assert_eq(ret, 12345, "nothing written when not answered");
}

Test(rt_local, slow_mode_answers_nothing_locally)
{
	struct procdom_rt rt = rt_with(1, false);
	const uint64_t args[5] = { VCPUOP_is_up, 5, 0, 0, 0 };
	long ret = 0;

	cr_assert_not(rt_vcpu_op_local(&rt, __HYPERVISOR_vcpu_op, args, &ret));
}

/* The runtime's answer against the core's own, on the fake substrate: for
 * every vCPU id the runtime answers, the core (hc_vcpu_op) says the same,
 * whatever the command; around the boundary, for 1, 2 and 5 vCPUs. */
Test(rt_local, agrees_with_the_core)
{
	static const unsigned int cmds[] = { VCPUOP_is_up,
					     VCPUOP_up,
					     VCPUOP_down,
					     VCPUOP_register_vcpu_info,
					     VCPUOP_set_singleshot_timer,
					     VCPUOP_stop_singleshot_timer,
					     9999 };
	static const unsigned int nr[] = { 1, 2, 5 };
	unsigned int compared = 0;

	for (unsigned int k = 0; k < sizeof(nr) / sizeof(nr[0]); k++) {
		struct fake_substrate *fs = fake_create_pair(nr[k], 64);
		struct procdom_rt rt = rt_with(nr[k], true);
		const uint64_t ids[] = {
			nr[k] - 1, nr[k], nr[k] + 1, 31, 32, UINT32_MAX, 1ULL << 32
		};

		cr_assert_not_null(fs);
		for (unsigned int c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
			for (unsigned int i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
				const uint64_t args[5] = { cmds[c], ids[i], 0, 0, 0 };
				long local = 0;

				if (!rt_vcpu_op_local(&rt, __HYPERVISOR_vcpu_op, args, &local))
					continue;
				compared++;
				cr_assert_eq(fake_hypercall_args(fs, 1, 0, __HYPERVISOR_vcpu_op,
								 cmds[c], ids[i], 0, 0, 0),
					     local, "%u vCPUs, cmd %u, vCPU %llu", nr[k], cmds[c],
					     (unsigned long long)ids[i]);
			}
		}
		fake_destroy(fs);
	}
	/* Every id but nr-1 is one the domain lacks: 6 per command and count. */
	cr_assert_eq(compared, 3 * 7 * 6, "compared %u answers", compared);
}
