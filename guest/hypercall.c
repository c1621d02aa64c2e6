/*
 * HYPERVISOR_* wrappers: marshal each argument to a guest-physical address
 * and issue the hypercall through platform->hypercall.
 *
 * Argument placement, per call (struct xg_call):
 *
 *   caller's struct (stack, heap)          vCPU bounce buffer (guest RAM)
 *   +------------------+   copy in         +--------+------------+-------+
 *   | evtchn_bind_virq | ----------------> | outer  | this call  | free  |
 *   +------------------+ <---------------- | call's | args       |       |
 *                          copy back       +--------+------------+-------+
 *                                          0        top0         top
 *
 * An argument already in guest memory goes in place. The bounce buffer is a
 * stack: a handler that makes hypercalls while interrupting a call on the
 * same vCPU allocates above it and releases back to top0 when done.
 *
 * Sizes come from one table per hypercall, indexed by command; a command
 * not in the table passes its argument's address in place (the hypervisor
 * answers -ENOSYS or -EFAULT as it sees fit).
 */
#include "xg_internal.h"

#include <xen/callback.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#define XG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define XG_BOUNCE_ALIGN 16UL
#define XG_CONSOLE_CHUNK 256

/* ---- the call machinery ---------------------------------------------- */

void xg_call_begin(struct xen_guest *g, struct xg_call *c)
{
	c->g = g;
	c->vcpu = xg_current_vcpu(g);
	c->vs = xg_vcpu(g, c->vcpu);
	c->top0 = c->vs->bounce_top;
	c->nr_back = 0;
}

static bool xg_is_guest_range(struct xen_guest *g, const void *p, size_t len, uint64_t *ret_gpa)
{
	uint64_t gpa = xg_virt_to_gpa(g, p);

	if (gpa == XEN_GUEST_BAD_GPA)
		return false;
	/* Both ends must be guest memory and contiguous in guest-physical
	 * space (a range crossing into an overlay frame is not). */
	if (len > 1 && xg_virt_to_gpa(g, (const uint8_t *)p + len - 1) != gpa + len - 1)
		return false;
	*ret_gpa = gpa;
	return true;
}

static int xg_call_bounce(struct xg_call *c, void *p, size_t len, bool out, uint64_t *ret_gpa)
{
	struct xen_vcpu_state *vs = c->vs;
	size_t start = (vs->bounce_top + XG_BOUNCE_ALIGN - 1) & ~(XG_BOUNCE_ALIGN - 1);
	uint8_t *copy;

	if (!vs->bounce || start > vs->bounce_len || len > vs->bounce_len - start ||
	    c->nr_back == XG_CALL_MAX_ARGS)
		return -ENOMEM;
	copy = vs->bounce + start;
	if (!xg_is_guest_range(c->g, copy, len, ret_gpa))
		return -EFAULT; /* the platform's bounce buffer is not guest memory */
	__builtin_memcpy(copy, p, len);
	vs->bounce_top = start + len;
	if (out)
		c->back[c->nr_back++] = (__typeof__(c->back[0])){ p, copy, len };
	return 0;
}

int xg_call_arg(struct xg_call *c, void *p, size_t len, bool out, uint64_t *ret_gpa)
{
	*ret_gpa = 0;
	if (!p)
		return 0;
	if (xg_is_guest_range(c->g, p, len ? len : 1, ret_gpa))
		return 0;
	if (len == 0)
		return -EFAULT;
	return xg_call_bounce(c, p, len, out, ret_gpa);
}

long xg_call_issue(struct xg_call *c, unsigned long op, uint64_t a0, uint64_t a1, uint64_t a2)
{
	const uint64_t args[5] = { a0, a1, a2, 0, 0 };
	const struct xen_guest_platform *pf = &c->g->platform;

	return pf->hypercall(pf->ctx, c->vcpu, op, args);
}

void xg_call_end(struct xg_call *c)
{
	unsigned int i;

	for (i = 0; i < c->nr_back; i++)
		__builtin_memcpy(c->back[i].user, c->back[i].copy, c->back[i].len);
	c->vs->bounce_top = c->top0;
}

/* Which argument slot carries the buffer's address: the hypercalls differ
 * (event_channel_op(cmd, arg) but vcpu_op(cmd, vcpuid, arg)). */
enum xg_gpa_slot { XG_GPA_ARG1, XG_GPA_ARG2 };

/*
 * The body every wrapper shares: one hypercall op with args[0] = cmd, a
 * buffer of len bytes (copied back if out) whose address goes in slot, and
 * extra in the other slot. A NULL buffer passes address 0.
 */
static long xg_hc_buf(struct xen_guest *g, unsigned long op, uint64_t cmd, enum xg_gpa_slot slot,
		      uint64_t extra, void *buf, size_t len, bool out)
{
	struct xg_call c;
	uint64_t gpa;
	long rc;

	xg_call_begin(g, &c);
	rc = xg_call_arg(&c, buf, len, out, &gpa);
	if (rc == 0 && slot == XG_GPA_ARG1)
		rc = xg_call_issue(&c, op, cmd, gpa, extra);
	else if (rc == 0)
		rc = xg_call_issue(&c, op, cmd, extra, gpa);
	xg_call_end(&c);
	return rc;
}

/* One hypercall (op, cmd, argument of len bytes, copied back). */
static long xg_hc_cmd_arg(struct xen_guest *g, unsigned long op, uint64_t cmd, void *arg,
			  size_t len)
{
	return xg_hc_buf(g, op, cmd, XG_GPA_ARG1, 0, arg, len, true);
}

static size_t xg_size_of(const uint16_t *table, size_t n, unsigned int cmd)
{
	return cmd < n ? table[cmd] : 0;
}

/* The argument size of cmd in one of the per-hypercall tables below. */
#define XG_OP_SIZE(table, cmd) xg_size_of(table, XG_ARRAY_SIZE(table), (unsigned int)(cmd))

/* ---- event_channel_op ------------------------------------------------ */

static const uint16_t xg_evtchn_op_size[] = {
	[EVTCHNOP_bind_interdomain] = sizeof(struct evtchn_bind_interdomain),
	[EVTCHNOP_bind_virq] = sizeof(struct evtchn_bind_virq),
	[EVTCHNOP_bind_pirq] = sizeof(struct evtchn_bind_pirq),
	[EVTCHNOP_close] = sizeof(struct evtchn_close),
	[EVTCHNOP_send] = sizeof(struct evtchn_send),
	[EVTCHNOP_status] = sizeof(struct evtchn_status),
	[EVTCHNOP_alloc_unbound] = sizeof(struct evtchn_alloc_unbound),
	[EVTCHNOP_bind_ipi] = sizeof(struct evtchn_bind_ipi),
	[EVTCHNOP_bind_vcpu] = sizeof(struct evtchn_bind_vcpu),
	[EVTCHNOP_unmask] = sizeof(struct evtchn_unmask),
	[EVTCHNOP_reset] = sizeof(struct evtchn_reset),
	[EVTCHNOP_init_control] = sizeof(struct evtchn_init_control),
	[EVTCHNOP_expand_array] = sizeof(struct evtchn_expand_array),
	[EVTCHNOP_set_priority] = sizeof(struct evtchn_set_priority),
};

/* EVTCHNOP_send straight to the platform's hook when it has one: the
 * bounce-buffer marshalling (virt_to_gpa of the argument, both its ends)
 * was most of a send's instructions in a process domain. The port is read
 * here exactly as the hypervisor would read it from the argument. */
static bool xg_send_fast(struct xen_guest *g, int cmd, const void *arg)
{
	const struct xen_guest_platform *pf = &g->platform;

	if (cmd != EVTCHNOP_send || !pf->evtchn_send || !arg)
		return false;
	return pf->evtchn_send(pf->ctx, xg_current_vcpu(g),
			       ((const struct evtchn_send *)arg)->port);
}

long xg_event_channel_op(struct xen_guest *g, int cmd, void *arg)
{
	if (xg_send_fast(g, cmd, arg))
		return 0;
	return xg_hc_cmd_arg(g, __HYPERVISOR_event_channel_op, (unsigned int)cmd, arg,
			     XG_OP_SIZE(xg_evtchn_op_size, cmd));
}

/* ---- grant_table_op -------------------------------------------------- */

static const uint16_t xg_gnttab_op_size[] = {
	[GNTTABOP_map_grant_ref] = sizeof(struct gnttab_map_grant_ref),
	[GNTTABOP_unmap_grant_ref] = sizeof(struct gnttab_unmap_grant_ref),
	[GNTTABOP_setup_table] = sizeof(struct gnttab_setup_table),
	[GNTTABOP_dump_table] = sizeof(struct gnttab_dump_table),
	[GNTTABOP_transfer] = sizeof(struct gnttab_transfer),
	[GNTTABOP_copy] = sizeof(struct gnttab_copy),
	[GNTTABOP_query_size] = sizeof(struct gnttab_query_size),
	[GNTTABOP_unmap_and_replace] = sizeof(struct gnttab_unmap_and_replace),
	[GNTTABOP_set_version] = sizeof(struct gnttab_set_version),
	[GNTTABOP_get_status_frames] = sizeof(struct gnttab_get_status_frames),
	[GNTTABOP_get_version] = sizeof(struct gnttab_get_version),
	[GNTTABOP_swap_grant_ref] = sizeof(struct gnttab_swap_grant_ref),
	[GNTTABOP_cache_flush] = sizeof(struct gnttab_cache_flush),
};

static long xg_gnttab_op_batch(struct xen_guest *g, unsigned int cmd, uint8_t *uop, size_t esz,
			       unsigned int count)
{
	return xg_hc_buf(g, __HYPERVISOR_grant_table_op, cmd, XG_GPA_ARG1, count, uop, esz * count,
			 true);
}

/* Batches whose elements are not guest memory go through the bounce
 * buffer in chunks; elements are independent, so this changes nothing but
 * the number of hypercalls. */
long xg_grant_table_op(struct xen_guest *g, unsigned int cmd, void *uop, unsigned int count)
{
	size_t esz = XG_OP_SIZE(xg_gnttab_op_size, cmd);
	struct xen_vcpu_state *vs = xg_vcpu(g, xg_current_vcpu(g));
	unsigned int done = 0, chunk;
	uint64_t gpa;
	long rc;

	if (!uop || !esz || !count || xg_is_guest_range(g, uop, esz * count, &gpa) || !vs->bounce)
		return xg_gnttab_op_batch(g, cmd, uop, esz, count);
	chunk = vs->bounce_len > vs->bounce_top + XG_BOUNCE_ALIGN
			? (unsigned int)((vs->bounce_len - vs->bounce_top - XG_BOUNCE_ALIGN) / esz)
			: 0;
	if (!chunk)
		return -ENOMEM;
	while (done < count) {
		unsigned int n = count - done < chunk ? count - done : chunk;

		rc = xg_gnttab_op_batch(g, cmd, (uint8_t *)uop + done * esz, esz, n);
		if (rc < 0)
			return rc;
		done += n;
	}
	return 0;
}

/* ---- memory_op ------------------------------------------------------- */

static const uint16_t xg_memory_op_size[] = {
	[XENMEM_current_reservation] = sizeof(struct xen_memory_domain),
	[XENMEM_maximum_reservation] = sizeof(struct xen_memory_domain),
	[XENMEM_add_to_physmap] = sizeof(struct xen_add_to_physmap),
	[XENMEM_memory_map] = sizeof(struct xen_memory_map),
};

long xg_memory_op(struct xen_guest *g, unsigned int cmd, void *arg)
{
	return xg_hc_cmd_arg(g, __HYPERVISOR_memory_op, cmd, arg,
			     XG_OP_SIZE(xg_memory_op_size, cmd));
}

/* ---- vcpu_op --------------------------------------------------------- */

static const uint16_t xg_vcpu_op_size[] = {
	[VCPUOP_get_runstate_info] = sizeof(struct vcpu_runstate_info),
	[VCPUOP_set_periodic_timer] = sizeof(struct vcpu_set_periodic_timer),
	[VCPUOP_set_singleshot_timer] = sizeof(struct vcpu_set_singleshot_timer),
	[VCPUOP_register_vcpu_info] = sizeof(struct vcpu_register_vcpu_info),
};

long xg_vcpu_op(struct xen_guest *g, int cmd, unsigned int vcpuid, void *extra_args)
{
	return xg_hc_buf(g, __HYPERVISOR_vcpu_op, (unsigned int)cmd, XG_GPA_ARG2, vcpuid,
			 extra_args, XG_OP_SIZE(xg_vcpu_op_size, cmd), true);
}

/* ---- sched_op, set_timer_op ------------------------------------------ */

static const uint16_t xg_sched_op_size[] = {
	[SCHEDOP_shutdown] = sizeof(struct sched_shutdown),
	[SCHEDOP_poll] = sizeof(struct sched_poll),
	[SCHEDOP_remote_shutdown] = sizeof(struct sched_remote_shutdown),
	[SCHEDOP_shutdown_code] = sizeof(struct sched_shutdown),
	[SCHEDOP_watchdog] = sizeof(struct sched_watchdog),
};

long xg_sched_op(struct xen_guest *g, int cmd, void *arg)
{
	return xg_hc_cmd_arg(g, __HYPERVISOR_sched_op, (unsigned int)cmd, arg,
			     XG_OP_SIZE(xg_sched_op_size, cmd));
}

long xg_set_timer_op(struct xen_guest *g, uint64_t timeout)
{
	return xg_hc_buf(g, __HYPERVISOR_set_timer_op, timeout, XG_GPA_ARG1, 0, NULL, 0, false);
}

/* ---- xen_version, console_io ----------------------------------------- */

static const uint16_t xg_version_size[] = {
	[XENVER_extraversion] = sizeof(xen_extraversion_t),
	[XENVER_compile_info] = sizeof(xen_compile_info_t),
	[XENVER_capabilities] = sizeof(xen_capabilities_info_t),
	[XENVER_changeset] = sizeof(xen_changeset_info_t),
	[XENVER_platform_parameters] = sizeof(xen_platform_parameters_t),
	[XENVER_get_features] = sizeof(xen_feature_info_t),
	[XENVER_guest_handle] = sizeof(xen_domain_handle_t),
	[XENVER_commandline] = sizeof(xen_commandline_t),
};

long xg_xen_version(struct xen_guest *g, int cmd, void *arg)
{
	return xg_hc_cmd_arg(g, __HYPERVISOR_xen_version, (unsigned int)cmd, arg,
			     XG_OP_SIZE(xg_version_size, cmd));
}

static long xg_console_chunk(struct xen_guest *g, int cmd, char *str, size_t n)
{
	return xg_hc_buf(g, __HYPERVISOR_console_io, (unsigned int)cmd, XG_GPA_ARG2, n, str, n,
			 cmd == CONSOLEIO_read);
}

/* Writes from outside guest memory go out in bounce-sized chunks. */
long xg_console_io(struct xen_guest *g, int cmd, int count, char *str)
{
	size_t done = 0, total = count > 0 ? (size_t)count : 0;
	uint64_t gpa;
	long rc;

	if (cmd != CONSOLEIO_write || !total || xg_is_guest_range(g, str, total, &gpa))
		return xg_console_chunk(g, cmd, str, total);
	while (done < total) {
		size_t n = total - done < XG_CONSOLE_CHUNK ? total - done : XG_CONSOLE_CHUNK;

		rc = xg_console_chunk(g, cmd, str + done, n);
		if (rc < 0)
			return rc;
		done += n;
	}
	return 0;
}

/* ---- callback_op, hvm_op --------------------------------------------- */

static const uint16_t xg_callback_op_size[] = {
	[CALLBACKOP_register] = sizeof(struct callback_register),
	[CALLBACKOP_unregister] = sizeof(struct callback_unregister),
};

long xg_callback_op(struct xen_guest *g, int cmd, void *arg)
{
	return xg_hc_cmd_arg(g, __HYPERVISOR_callback_op, (unsigned int)cmd, arg,
			     XG_OP_SIZE(xg_callback_op_size, cmd));
}

static const uint16_t xg_hvm_op_size[] = {
	[HVMOP_set_param] = sizeof(struct xen_hvm_param),
	[HVMOP_get_param] = sizeof(struct xen_hvm_param),
	[HVMOP_set_evtchn_upcall_vector] = sizeof(struct xen_hvm_evtchn_upcall_vector),
};

long xg_hvm_op(struct xen_guest *g, int op, void *arg)
{
	return xg_hc_cmd_arg(g, __HYPERVISOR_hvm_op, (unsigned int)op, arg,
			     XG_OP_SIZE(xg_hvm_op_size, op));
}
