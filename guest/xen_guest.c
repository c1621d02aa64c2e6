/*
 * Boot and context.
 *
 * xen_guest_init() is what start_kernel() does first on Xen PV (seed 001,
 * items 3 and 8): check that start_info is Xen's, map the shared_info page it
 * names, find the vCPUs, register the event callback, and put every port
 * behind its mask until a handler is bound. It runs as an ordered table of
 * steps; a failing step unwinds the ones before it, in reverse.
 *
 *   start_info (guest RAM, top frame)      shared_info (gpa si->shared_info)
 *   +----------------------------+         +-------------------------------+
 *   | magic "xen-3.0-x86_64"     |         | vcpu_info[0..31]              |
 *   | shared_info = gpa ---------+-------> |   upcall_pending/mask, sel,   |
 *   | store_mfn, store_evtchn    |         |   time                        |
 *   | console.domU.mfn, .evtchn  |         | evtchn_pending[64]            |
 *   +----------------------------+         | evtchn_mask[64]  wc_*         |
 *                                          +-------------------------------+
 *
 * Upcalls are left masked on every vCPU (evtchn_upcall_mask = 1, as Xen
 * hands a domain over); each vCPU enables them with xg_irq_enable() when it
 * is ready, as a kernel enables interrupts late in boot.
 */
#include "xg_internal.h"

#include <xen/callback.h>
#include <xen/vcpu.h>
#include <xen/version.h>

#define XG_MAGIC_PREFIX "xen-3.0-"

/*
 * The calling thread's guest and vCPU. A kernel keeps these per CPU; hosted,
 * a thread runs one vCPU at a time, so a thread-local is the per-CPU
 * variable. This is the one piece of mutable global state, and it is what
 * the context contract (xen_guest.h) asks for.
 */
static __thread struct xen_guest *xg_cur_guest;
static __thread unsigned int xg_cur_vcpu;

void xen_guest_enter(struct xen_guest *g, unsigned int vcpu)
{
	xg_cur_guest = g;
	xg_cur_vcpu = vcpu;
}

struct xen_guest *xen_guest_current(void)
{
	return xg_cur_guest;
}

unsigned int xg_current_vcpu(struct xen_guest *g)
{
	if (g == xg_cur_guest)
		return xg_cur_vcpu;
	return g->platform.current_vcpu ? g->platform.current_vcpu(g->platform.ctx) : 0;
}

struct vcpu_info *xg_vcpu_info(struct xen_guest *g, unsigned int vcpu)
{
	return vcpu < g->nr_vcpus ? g->vcpu[vcpu].vcpu_info : NULL;
}

uint64_t xg_virt_to_gpa(struct xen_guest *g, const void *p)
{
	return g->platform.virt_to_gpa(g->platform.ctx, p);
}

void *xg_gpa_to_virt(struct xen_guest *g, uint64_t gpa)
{
	return g->platform.gpa_to_virt(g->platform.ctx, gpa);
}

/* ---- event delivery on/off ------------------------------------------- */

void xg_irq_disable(struct xen_guest *g)
{
	struct vcpu_info *vi = xg_vcpu_info(g, xg_current_vcpu(g));

	if (vi)
		__atomic_store_n(&vi->evtchn_upcall_mask, 1, __ATOMIC_SEQ_CST);
}

/*
 * Clear the mask, then look for an upcall that arrived while it was set.
 * The seq_cst store and load pair with the hypervisor's exchange of
 * evtchn_upcall_pending (evtchn_2l_notify) and the platform's check of the
 * mask after its kick: either the platform saw the mask clear and delivers,
 * or we see pending here and force the callback (Linux xen_irq_enable).
 */
void xg_irq_enable(struct xen_guest *g)
{
	struct vcpu_info *vi = xg_vcpu_info(g, xg_current_vcpu(g));

	if (!vi)
		return;
	__atomic_store_n(&vi->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST))
		xg_force_evtchn_callback(g);
}

bool xg_irqs_disabled(struct xen_guest *g)
{
	struct vcpu_info *vi = xg_vcpu_info(g, xg_current_vcpu(g));

	return !vi || __atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_SEQ_CST);
}

/* The platform delivers a pending upcall on the way back from any
 * hypercall; xen_version is the cheapest (Linux does the same). */
void xg_force_evtchn_callback(struct xen_guest *g)
{
	(void)xg_xen_version(g, XENVER_version, NULL);
}

/* ---- boot steps ------------------------------------------------------ */

static int xg_init_magic(struct xen_guest *g)
{
	const char *want = XG_MAGIC_PREFIX;
	unsigned int i;

	for (i = 0; want[i]; i++) {
		if (g->start_info->magic[i] != want[i])
			return -EINVAL;
	}
	return 0;
}

static int xg_init_shared_info(struct xen_guest *g)
{
	g->shared_info = xg_gpa_to_virt(g, g->start_info->shared_info);
	return g->shared_info ? 0 : -EFAULT;
}

static void xg_fini_shared_info(struct xen_guest *g)
{
	g->shared_info = NULL;
}

/* vCPUs exist up to the first id VCPUOP_is_up calls -ENOENT; each uses its
 * legacy vcpu_info slot in shared_info. vCPU 0 is not asked: it runs this
 * code, and on a process domain each question is a round trip to
 * xenon-hvd. */
static int xg_init_vcpus(struct xen_guest *g)
{
	unsigned int i;

	for (i = 0; i < XG_MAX_VCPUS; i++) {
		struct xen_vcpu_state *vs = &g->vcpu[i];

		if (i > 0 && xg_vcpu_op(g, VCPUOP_is_up, i, NULL) == -ENOENT)
			break;
		vs->vcpu_info = &g->shared_info->vcpu_info[i];
		if (g->platform.bounce)
			vs->bounce = g->platform.bounce(g->platform.ctx, i, &vs->bounce_len);
		vs->bounce_top = 0;
		g->nr_vcpus = i + 1;
	}
	return 0; /* vCPU 0 always exists: it runs this */
}

static void xg_fini_vcpus(struct xen_guest *g)
{
	g->nr_vcpus = 0;
}

static int xg_init_events(struct xen_guest *g)
{
	xg_events_init(g);
	return 0;
}

/* The event callback address is informational here (the platform calls
 * xen_evtchn_do_upcall itself), but registering it is what a PV kernel
 * does first; a hypervisor without callback_op is fine. Xen offers no
 * unregister for CALLBACKTYPE_event, so there is nothing to unwind. */
static int xg_init_callback(struct xen_guest *g)
{
	struct callback_register cb = {
		.type = CALLBACKTYPE_event,
		.address = (xen_callback_t)(uintptr_t)&xg_evtchn_do_upcall,
	};
	long rc = xg_callback_op(g, CALLBACKOP_register, &cb);

	return rc == -ENOSYS ? 0 : (int)rc;
}

struct xg_init_step {
	const char *name;
	int (*init)(struct xen_guest *g);
	void (*fini)(struct xen_guest *g);
};

static const struct xg_init_step xg_init_steps[] = {
	{ "magic", xg_init_magic, NULL },
	{ "shared_info", xg_init_shared_info, xg_fini_shared_info },
	{ "vcpus", xg_init_vcpus, xg_fini_vcpus },
	{ "events", xg_init_events, NULL },
	{ "callback", xg_init_callback, NULL },
};

#define XG_NR_INIT_STEPS (sizeof(xg_init_steps) / sizeof(xg_init_steps[0]))

int xen_guest_init(struct xen_guest *g, struct start_info *si,
		   const struct xen_guest_platform *platform)
{
	unsigned int i;
	int rc = 0;

	if (!g || !si || !platform || !platform->hypercall || !platform->virt_to_gpa ||
	    !platform->gpa_to_virt)
		return -EINVAL;
	/* ~80 KiB, most of it (irq table, other vCPUs' slots, grant list)
	 * untouched until used: on fresh pages, zeroing it would fault in and
	 * allocate every page for nothing. */
	if (!xg_mem_is_zero(platform, g, sizeof(*g)))
		__builtin_memset(g, 0, sizeof(*g));
	g->platform = *platform;
	g->start_info = si;
	for (i = 0; i < XG_NR_INIT_STEPS; i++) {
		rc = xg_init_steps[i].init(g);
		if (rc < 0)
			break;
	}
	if (rc == 0) {
		g->ready = true;
		return 0;
	}
	while (i-- > 0) {
		if (xg_init_steps[i].fini)
			xg_init_steps[i].fini(g);
	}
	return rc;
}
