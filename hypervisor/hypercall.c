/*
 * The hypercall dispatch table and the ops that are not event channels or
 * grant tables: memory_op, vcpu_op, sched_op, set_timer_op, xen_version,
 * console_io, callback_op and hvm_op.
 *
 *   hypercall(hv, domid, vcpu, op, args[5])
 *     -> hypercall_table[op] (designated initialisers; NULL -> -ENOSYS)
 *       -> do_event_channel_op / do_grant_table_op / hypercall_memory_op ...
 *
 * Every argument struct is copied in with copy_from_guest and results
 * copied out with copy_to_guest (-EFAULT on any bad byte). Commands are
 * truncated to 32 bits, as Xen's C prototypes do with the register.
 * Scheduling ops never block here: they return and describe what the
 * substrate must do (struct hv_action_req).
 *
 * Version reported: Xen 4.17 (the ABI headers we build against), extra
 * version "-xenon". Features (submap 0): XENFEAT_auto_translated_physmap,
 * since guests address guest-physical frames and have no PV MMU, and
 * XENFEAT_dom0 for the privileged domain; nothing else is claimed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xen/callback.h>
#include <xen/features.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#include "core.h"

#define HC_XEN_MAJOR 4
#define HC_XEN_MINOR 17
#define HC_EXTRAVERSION "-xenon"
#define HC_CAPABILITIES "xen-3.0-x86_64"
#define HC_CONSOLE_MAX (16 * 1024) /* bytes one CONSOLEIO_write logs */
#define HC_CONSOLE_CHUNK 128
#define HC_POLL_MAX 128 /* ports one SCHEDOP_poll may name, as Xen */
#define HC_MS 1000000ULL
#define HC_E820_RAM 1
/* memory_op: bits 6+ of cmd carry a continuation extent (Xen-internal). */
#define HC_MEMOP_CMD_MASK 0x3f

struct hc {
	struct vcpu *v;
	struct domain *d;
	const uint64_t *args;
	struct hv_action_req *act;
};

/* The BIOS e820 entry XENMEM_memory_map returns (packed, 20 bytes). */
struct hc_e820entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

static uint64_t hc_handle(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static uint64_t hc_now(struct domain *d)
{
	return d->hv->ops->now_ns(d->hv->sub);
}

/* A target domain: self, or another one if the caller is privileged. */
static struct domain *hc_target(struct hc *c, domid_t domid, long *ret_rc)
{
	struct domain *t = domain_resolve(c->d, domid);

	*ret_rc = 0;
	if (!t)
		*ret_rc = -ESRCH;
	else if (t != c->d && !c->d->privileged)
		*ret_rc = -EPERM;
	return *ret_rc ? NULL : t;
}

/* ---- memory_op ------------------------------------------------------ */

static long hc_physmap_place(struct domain *t, uint64_t gpfn, void *page)
{
	void *cur;
	long rc;

	if (gpfn >= t->max_gfn)
		return -EINVAL;
	/* Refuse to hide another overlay (a grant mapping or grant frame):
	 * its owner would later remove the wrong page. */
	if (memory_overlay_lookup(t, gpfn, &cur, NULL) == 0 && cur != page)
		return -EBUSY;
	/* A hypervisor page appears at one gfn at a time: moving it. */
	memory_overlay_remove_page(t, page);
	rc = memory_overlay_add(t, gpfn, page, false);
	return rc;
}

static long hc_add_to_physmap(struct hc *c)
{
	struct xen_add_to_physmap x;
	struct domain *t;
	void *page;
	long rc;

	if (copy_from_guest(c->v, &x, c->args[1], sizeof(x)))
		return -EFAULT;
	t = hc_target(c, x.domid, &rc);
	if (!t)
		return rc;
	switch (x.space) {
	case XENMAPSPACE_shared_info:
		if (x.idx != 0)
			return -EINVAL;
		rc = hc_physmap_place(t, x.gpfn, t->shared_info);
		if (rc == 0)
			t->shared_info_gfn = x.gpfn;
		return rc;
	case XENMAPSPACE_grant_table:
		/* v1 has no status frames. */
		if (x.idx & XENMAPIDX_grant_table_status || x.idx > UINT32_MAX)
			return -EINVAL;
		page = gnttab_shared_frame(t, (unsigned int)x.idx);
		return page ? hc_physmap_place(t, x.gpfn, page) : -EINVAL;
	case XENMAPSPACE_gmfn:
	case XENMAPSPACE_gmfn_range:
	case XENMAPSPACE_gmfn_foreign:
	case XENMAPSPACE_dev_mmio:
		return -EOPNOTSUPP;
	default:
		return -EINVAL;
	}
}

static long hc_reservation(struct hc *c, bool maximum)
{
	struct xen_memory_domain m;
	struct domain *t;
	long rc;

	if (copy_from_guest(c->v, &m, c->args[1], sizeof(m)))
		return -EFAULT;
	t = hc_target(c, m.domid, &rc);
	if (!t)
		return rc;
	return (long)(maximum ? t->max_pages : t->tot_pages);
}

/* One RAM range covering [0, max_pages); nr_entries in = buffer capacity,
 * out = entries stored. */
static long hc_memory_map(struct hc *c)
{
	struct hc_e820entry e = { 0, c->d->max_pages << XENON_PAGE_SHIFT, HC_E820_RAM };
	struct xen_memory_map map;

	if (copy_from_guest(c->v, &map, c->args[1], sizeof(map)))
		return -EFAULT;
	if (map.nr_entries > 1)
		map.nr_entries = 1;
	if (map.nr_entries && copy_to_guest(c->v, hc_handle(map.buffer.p), &e, sizeof(e)))
		return -EFAULT;
	if (copy_to_guest(c->v, c->args[1], &map, sizeof(map)))
		return -EFAULT;
	return 0;
}

static long hc_memory_op(struct hc *c)
{
	switch (c->args[0] & HC_MEMOP_CMD_MASK) {
	case XENMEM_add_to_physmap:
		return hc_add_to_physmap(c);
	case XENMEM_current_reservation:
		return hc_reservation(c, false);
	case XENMEM_maximum_reservation:
		return hc_reservation(c, true);
	case XENMEM_memory_map:
		return hc_memory_map(c);
	default:
		return -ENOSYS;
	}
}

/* ---- timers --------------------------------------------------------- */

/* Arm the substrate for the earlier of the two timers (0 = none). */
static void hc_timer_rearm(struct vcpu *v)
{
	struct hypervisor *hv = v->domain->hv;
	uint64_t next = v->singleshot_deadline;

	if (v->periodic_period && (!next || v->periodic_next < next))
		next = v->periodic_next;
	if (next == v->timer_armed)
		return;
	v->timer_armed = next;
	hv->ops->timer_arm(hv->sub, v->domain->domid, v->id, next);
}

static void hc_singleshot_set(struct vcpu *v, uint64_t deadline)
{
	/* 0 means "off" internally; a deadline of 0 is already past. */
	v->singleshot_deadline = deadline ? deadline : 1;
	hc_timer_rearm(v);
}

void hv_timer_fire(struct hypervisor *hv, domid_t domid, unsigned int vcpu)
{
	struct vcpu *v = domain_vcpu(domain_lookup(hv, domid), vcpu);
	bool fire = false;
	uint64_t now;

	if (!v)
		return;
	now = hc_now(v->domain);
	if (v->singleshot_deadline && v->singleshot_deadline <= now) {
		v->singleshot_deadline = 0;
		fire = true;
	}
	if (v->periodic_period && v->periodic_next <= now) {
		/* Missed periods are dropped, not replayed. */
		v->periodic_next += v->periodic_period;
		if (v->periodic_next <= now)
			v->periodic_next = now + v->periodic_period;
		fire = true;
	}
	/* The substrate's timer is spent either way. */
	v->timer_armed = 0;
	if (fire)
		evtchn_send_virq(v, VIRQ_TIMER);
	hc_timer_rearm(v);
}

/*
 * set_timer_op(absolute ns): 0 cancels. As Xen, a deadline that wrapped
 * negative or lies more than 2^50 ns (~13 days) ahead is taken as a guest
 * bug and replaced by "in 100 ms".
 */
static long hc_set_timer_op(struct hc *c)
{
	uint64_t timeout = c->args[0], now = hc_now(c->d);

	if (timeout == 0) {
		c->v->singleshot_deadline = 0;
		hc_timer_rearm(c->v);
		return 0;
	}
	if ((int64_t)timeout < 0 || (timeout > now && ((timeout - now) >> 50) != 0))
		timeout = now + 100 * HC_MS;
	hc_singleshot_set(c->v, timeout);
	return 0;
}

/* ---- vcpu_op -------------------------------------------------------- */

static long hc_vcpu_singleshot(struct hc *c, struct vcpu *t)
{
	struct vcpu_set_singleshot_timer s;

	if (t != c->v)
		return -EINVAL;
	if (copy_from_guest(c->v, &s, c->args[2], sizeof(s)))
		return -EFAULT;
	if ((s.flags & VCPU_SSHOTTMR_future) && s.timeout_abs_ns < hc_now(c->d))
		return -ETIME;
	hc_singleshot_set(t, s.timeout_abs_ns);
	return 0;
}

/* Periods under 1 ms are refused, as Xen; so are absurd ones (> ~13 days). */
static long hc_vcpu_periodic(struct hc *c, struct vcpu *t)
{
	struct vcpu_set_periodic_timer p;

	if (copy_from_guest(c->v, &p, c->args[2], sizeof(p)))
		return -EFAULT;
	if (p.period_ns < HC_MS || (p.period_ns >> 50) != 0)
		return -EINVAL;
	t->periodic_period = p.period_ns;
	t->periodic_next = hc_now(c->d) + p.period_ns;
	hc_timer_rearm(t);
	return 0;
}

static long hc_vcpu_info(struct hc *c, struct vcpu *t)
{
	struct vcpu_register_vcpu_info r;

	if (copy_from_guest(c->v, &r, c->args[2], sizeof(r)))
		return -EFAULT;
	/* Only on oneself or on a vCPU that is down, as Xen. */
	if (t != c->v && t->up)
		return -EINVAL;
	return info_register_vcpu_info(t, r.mfn, r.offset);
}

/* Taking the last vCPU down powers the domain off, as Xen does. */
static long hc_vcpu_down(struct hc *c, struct vcpu *t)
{
	unsigned int i;

	for (i = 0; i < c->d->max_vcpus; i++)
		if (i != t->id && c->d->vcpus[i].up)
			break;
	if (i == c->d->max_vcpus) {
		domain_do_shutdown(c->d, SHUTDOWN_poweroff);
		c->act->action = HV_ACT_SHUTDOWN;
		return 0;
	}
	t->up = false;
	return 0;
}

static long hc_vcpu_op(struct hc *c)
{
	struct vcpu *t = c->args[1] > UINT32_MAX ? NULL : domain_vcpu(c->d, (unsigned)c->args[1]);

	if (!t)
		return -ENOENT;
	switch ((unsigned int)c->args[0]) {
	case VCPUOP_up:
		t->up = true;
		return 0;
	case VCPUOP_down:
		return hc_vcpu_down(c, t);
	case VCPUOP_is_up:
		return t->up;
	case VCPUOP_set_periodic_timer:
		return hc_vcpu_periodic(c, t);
	case VCPUOP_stop_periodic_timer:
		t->periodic_period = 0;
		hc_timer_rearm(t);
		return 0;
	case VCPUOP_set_singleshot_timer:
		return hc_vcpu_singleshot(c, t);
	case VCPUOP_stop_singleshot_timer:
		if (t != c->v)
			return -EINVAL;
		t->singleshot_deadline = 0;
		hc_timer_rearm(t);
		return 0;
	case VCPUOP_register_vcpu_info:
		return hc_vcpu_info(c, t);
	default:
		return -ENOSYS;
	}
}

/* ---- sched_op ------------------------------------------------------- */

/* Block: enable event delivery first (clear the upcall mask), then sleep
 * only if nothing is pending; the store pairs with the guest's own reads
 * of the mask around its upcall. */
static long hc_sched_block(struct hc *c)
{
	struct vcpu_info *vi = c->v->vcpu_info;

	if (!vi)
		return 0;
	__atomic_store_n(&vi->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST))
		return 0;
	c->act->action = HV_ACT_BLOCK;
	return 0;
}

static long hc_sched_poll(struct hc *c)
{
	struct vcpu *v = c->v;
	struct sched_poll p;
	unsigned int i;

	if (copy_from_guest(v, &p, c->args[1], sizeof(p)))
		return -EFAULT;
	if (p.nr_ports > HC_POLL_MAX)
		return -EINVAL;
	if (copy_from_guest(v, v->poll_ports, hc_handle(p.ports.p),
			    p.nr_ports * sizeof(evtchn_port_t)))
		return -EFAULT;
	for (i = 0; i < p.nr_ports; i++) {
		if (v->poll_ports[i] >= c->d->evtchn.max_ports)
			return -EINVAL;
		if (evtchn_port_pending(c->d, v->poll_ports[i]))
			return 0;
	}
	v->nr_poll = p.nr_ports;
	c->act->action = HV_ACT_POLL;
	c->act->deadline_ns = p.timeout;
	return 0;
}

static long hc_sched_shutdown(struct hc *c)
{
	struct sched_shutdown s;
	long rc;

	if (copy_from_guest(c->v, &s, c->args[1], sizeof(s)))
		return -EFAULT;
	rc = domain_do_shutdown(c->d, s.reason);
	if (rc == 0)
		c->act->action = HV_ACT_SHUTDOWN;
	return rc;
}

static long hc_sched_shutdown_code(struct hc *c)
{
	struct sched_shutdown s;

	if (copy_from_guest(c->v, &s, c->args[1], sizeof(s)))
		return -EFAULT;
	if (s.reason > SHUTDOWN_MAX)
		return -EINVAL;
	/* The first code set wins; it becomes the reason at shutdown. */
	if (c->d->shutdown_code == HV_SHUTDOWN_CODE_INVALID)
		c->d->shutdown_code = s.reason;
	return 0;
}

static long hc_sched_remote_shutdown(struct hc *c)
{
	struct sched_remote_shutdown s;
	struct domain *t;
	long rc;

	if (copy_from_guest(c->v, &s, c->args[1], sizeof(s)))
		return -EFAULT;
	if (!c->d->privileged)
		return -EPERM;
	t = domain_lookup(c->d->hv, s.domain_id);
	if (!t)
		return -ESRCH;
	rc = domain_do_shutdown(t, s.reason);
	if (rc == 0 && t == c->d)
		c->act->action = HV_ACT_SHUTDOWN;
	return rc;
}

static long hc_sched_op(struct hc *c)
{
	c->v->nr_poll = 0;
	switch ((unsigned int)c->args[0]) {
	case SCHEDOP_yield:
		c->act->action = HV_ACT_YIELD;
		return 0;
	case SCHEDOP_block:
		return hc_sched_block(c);
	case SCHEDOP_shutdown:
		return hc_sched_shutdown(c);
	case SCHEDOP_poll:
		return hc_sched_poll(c);
	case SCHEDOP_remote_shutdown:
		return hc_sched_remote_shutdown(c);
	case SCHEDOP_shutdown_code:
		return hc_sched_shutdown_code(c);
	default:
		return -ENOSYS;
	}
}

/* ---- xen_version ---------------------------------------------------- */

static long hc_version_string(struct hc *c, const char *s, size_t size)
{
	char buf[1024] = { 0 };

	snprintf(buf, size, "%s", s);
	return copy_to_guest(c->v, c->args[1], buf, size) ? -EFAULT : 0;
}

static long hc_version_features(struct hc *c)
{
	struct xen_feature_info f;

	if (copy_from_guest(c->v, &f, c->args[1], sizeof(f)))
		return -EFAULT;
	if (f.submap_idx >= XENFEAT_NR_SUBMAPS)
		return -EINVAL;
	f.submap = 1u << XENFEAT_auto_translated_physmap;
	if (c->d->privileged)
		f.submap |= 1u << XENFEAT_dom0;
	return copy_to_guest(c->v, c->args[1], &f, sizeof(f)) ? -EFAULT : 0;
}

static long hc_version_compile_info(struct hc *c)
{
	struct xen_compile_info ci = { .compiler = "gcc", .compile_by = "xenon" };

	return copy_to_guest(c->v, c->args[1], &ci, sizeof(ci)) ? -EFAULT : 0;
}

static long hc_version_platform(struct hc *c)
{
	struct xen_platform_parameters p = { .virt_start = HYPERVISOR_VIRT_START };

	return copy_to_guest(c->v, c->args[1], &p, sizeof(p)) ? -EFAULT : 0;
}

static long hc_xen_version(struct hc *c)
{
	xen_domain_handle_t handle = { 0 };

	switch ((unsigned int)c->args[0]) {
	case XENVER_version:
		return (HC_XEN_MAJOR << 16) | HC_XEN_MINOR;
	case XENVER_extraversion:
		return hc_version_string(c, HC_EXTRAVERSION, sizeof(xen_extraversion_t));
	case XENVER_compile_info:
		return hc_version_compile_info(c);
	case XENVER_capabilities:
		return hc_version_string(c, HC_CAPABILITIES, sizeof(xen_capabilities_info_t));
	case XENVER_changeset:
		return hc_version_string(c, "xenon", sizeof(xen_changeset_info_t));
	case XENVER_platform_parameters:
		return hc_version_platform(c);
	case XENVER_get_features:
		return hc_version_features(c);
	case XENVER_pagesize:
		return XENON_PAGE_SIZE;
	case XENVER_guest_handle:
		return copy_to_guest(c->v, c->args[1], handle, sizeof(handle)) ? -EFAULT : 0;
	default:
		return -ENOSYS;
	}
}

/* ---- console_io ----------------------------------------------------- */

/* Log one chunk line by line as "dN: text"; unprintable bytes become '.'. */
static void hc_console_log(struct domain *d, char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++)
		if (s[i] != '\n' && (s[i] < 0x20 || s[i] > 0x7e))
			s[i] = '.';
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '\n')
			continue;
		if (i > start)
			hv_log(d->hv, HV_LOG_INFO, "d%u: %.*s", d->domid, (int)(i - start),
			       s + start);
		start = i + 1;
	}
}

/* CONSOLEIO_write is open to every domain (as a debug Xen build has it);
 * at most HC_CONSOLE_MAX bytes of one call are logged. */
static long hc_console_write(struct hc *c)
{
	uint64_t count = c->args[1], addr = c->args[2], done = 0;
	char buf[HC_CONSOLE_CHUNK];

	if (count > HC_CONSOLE_MAX) {
		hv_log(c->d->hv, HV_LOG_WARN, "d%u: console write of %llu bytes cut to %u",
		       c->d->domid, (unsigned long long)count, HC_CONSOLE_MAX);
		count = HC_CONSOLE_MAX;
	}
	while (done < count) {
		size_t n = count - done < sizeof(buf) ? count - done : sizeof(buf);

		if (copy_from_guest(c->v, buf, addr + done, n))
			return -EFAULT;
		hc_console_log(c->d, buf, n);
		done += n;
	}
	return 0;
}

static long hc_console_io(struct hc *c)
{
	switch ((unsigned int)c->args[0]) {
	case CONSOLEIO_write:
		return hc_console_write(c);
	case CONSOLEIO_read:
		return 0; /* no hypervisor console ring: nothing to read */
	default:
		return -ENOSYS;
	}
}

/* ---- callback_op ---------------------------------------------------- */

static long hc_callback_register(struct hc *c)
{
	struct callback_register r;

	if (copy_from_guest(c->v, &r, c->args[1], sizeof(r)))
		return -EFAULT;
	switch (r.type) {
	case CALLBACKTYPE_event:
		c->d->callback_event = r.address;
		return 0;
	case CALLBACKTYPE_failsafe:
		c->d->callback_failsafe = r.address;
		return 0;
	default:
		return -EINVAL;
	}
}

/* As Xen on x86: the event and failsafe callbacks cannot be unregistered
 * (-EINVAL); the others are not supported (-EINVAL too). */
static long hc_callback_unregister(struct hc *c)
{
	struct callback_unregister u;

	if (copy_from_guest(c->v, &u, c->args[1], sizeof(u)))
		return -EFAULT;
	return -EINVAL;
}

static long hc_callback_op(struct hc *c)
{
	switch ((unsigned int)c->args[0]) {
	case CALLBACKOP_register:
		return hc_callback_register(c);
	case CALLBACKOP_unregister:
		return hc_callback_unregister(c);
	default:
		return -ENOSYS;
	}
}

/* ---- hvm_op --------------------------------------------------------- */

static bool hc_hvm_param_known(uint32_t index)
{
	switch (index) {
	case HVM_PARAM_CALLBACK_IRQ:
	case HVM_PARAM_STORE_PFN:
	case HVM_PARAM_STORE_EVTCHN:
	case HVM_PARAM_CONSOLE_PFN:
	case HVM_PARAM_CONSOLE_EVTCHN:
		return true;
	default:
		return false;
	}
}

/*
 * get: the domain itself, or a privileged one. set: as Xen, a guest may set
 * only CALLBACK_IRQ on itself; the store and console parameters are the
 * builder's, settable by a privileged domain on another domain.
 */
static long hc_hvm_param(struct hc *c, bool set)
{
	struct xen_hvm_param p;
	struct domain *t;
	long rc;

	if (copy_from_guest(c->v, &p, c->args[1], sizeof(p)))
		return -EFAULT;
	if (p.index >= HVM_NR_PARAMS || !hc_hvm_param_known(p.index))
		return -EINVAL;
	t = hc_target(c, p.domid, &rc);
	if (!t)
		return rc;
	if (!set) {
		p.value = t->hvm_params[p.index];
		return copy_to_guest(c->v, c->args[1], &p, sizeof(p)) ? -EFAULT : 0;
	}
	if (t == c->d && p.index != HVM_PARAM_CALLBACK_IRQ)
		return -EPERM;
	t->hvm_params[p.index] = p.value;
	return 0;
}

static long hc_hvm_upcall_vector(struct hc *c)
{
	struct xen_hvm_evtchn_upcall_vector u;
	struct vcpu *t;

	if (copy_from_guest(c->v, &u, c->args[1], sizeof(u)))
		return -EFAULT;
	if (u.vector < 0x10)
		return -EINVAL;
	t = domain_vcpu(c->d, u.vcpu);
	if (!t)
		return -ENOENT;
	t->upcall_vector = u.vector;
	return 0;
}

static long hc_hvm_op(struct hc *c)
{
	switch ((unsigned int)c->args[0]) {
	case HVMOP_set_param:
		return hc_hvm_param(c, true);
	case HVMOP_get_param:
		return hc_hvm_param(c, false);
	case HVMOP_set_evtchn_upcall_vector:
		return hc_hvm_upcall_vector(c);
	default:
		return -ENOSYS;
	}
}

/* ---- event channels and grant tables -------------------------------- */

static long hc_event_channel_op(struct hc *c)
{
	return do_event_channel_op(c->v, (unsigned int)c->args[0], c->args[1]);
}

static long hc_grant_table_op(struct hc *c)
{
	if (c->args[2] > UINT32_MAX)
		return -EINVAL;
	return do_grant_table_op(c->v, (unsigned int)c->args[0], c->args[1],
				 (unsigned int)c->args[2]);
}

/* ---- dispatch ------------------------------------------------------- */

static long (*const hypercall_table[])(struct hc *c) = {
	[__HYPERVISOR_memory_op] = hc_memory_op,
	[__HYPERVISOR_set_timer_op] = hc_set_timer_op,
	[__HYPERVISOR_xen_version] = hc_xen_version,
	[__HYPERVISOR_console_io] = hc_console_io,
	[__HYPERVISOR_grant_table_op] = hc_grant_table_op,
	[__HYPERVISOR_vcpu_op] = hc_vcpu_op,
	[__HYPERVISOR_sched_op] = hc_sched_op,
	[__HYPERVISOR_callback_op] = hc_callback_op,
	[__HYPERVISOR_event_channel_op] = hc_event_channel_op,
	[__HYPERVISOR_hvm_op] = hc_hvm_op,
};

#define HC_TABLE_SIZE (sizeof(hypercall_table) / sizeof(hypercall_table[0]))

long hypercall(struct hypervisor *hv, domid_t domid, unsigned int vcpu, unsigned long op,
	       const uint64_t args[5], struct hv_action_req *ret_action)
{
	struct hv_action_req none;
	struct hc c;

	c.act = ret_action ? ret_action : &none;
	*c.act = (struct hv_action_req){ HV_ACT_NONE, 0 };
	c.d = domain_lookup(hv, domid);
	c.v = domain_vcpu(c.d, vcpu);
	if (!c.v)
		return -ESRCH;
	c.args = args;
	if (op >= HC_TABLE_SIZE || !hypercall_table[op])
		return -ENOSYS;
	return hypercall_table[op](&c);
}
