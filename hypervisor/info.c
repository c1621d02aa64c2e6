/*
 * Information pages: start_info, shared_info, vcpu_info and the wallclock.
 *
 * shared_info is a hypervisor page shown to the guest as an overlay at the
 * first gfn of the overlay window (max_pages) and movable with
 * XENMEM_add_to_physmap. At creation it is zeroed except that every legacy
 * vcpu_info has evtchn_upcall_mask = 1, which is how Xen's builders hand a
 * PV domain over: upcalls masked until the guest enables them (Linux PV does
 * at boot, SCHEDOP_block does implicitly). The per-port evtchn_mask bits
 * start clear; a guest masks what it wants.
 *
 * start_info lives in a RAM frame (layout in hypervisor.h). Addresses in it
 * that Xen calls MACHINE addresses are guest-physical here, since guest
 * frames are all a guest can name: shared_info = shared_info_gfn << 12,
 * store_mfn and console.domU.mfn are gfns. mod_start is passed through as
 * given (a guest-physical address; SIF_MOD_START_PFN is not set). The
 * console union is filled as domU for every domain, dom0 included: dom0's
 * console.dom0.info_size then reads 0, meaning "no VGA console info".
 *
 * Wallclock (shared_info.wc_*): the UTC time at which system time was zero,
 * so that guest time = wc + system time. It is written with the version
 * protocol guests use to read it consistently:
 *
 *   wc_version++ (odd) ; wmb ; wc_sec, wc_nsec, wc_sec_hi ; wmb ; wc_version++ (even)
 *
 * A guest reading an odd version, or a different version after its read,
 * retries (pairs with the rmb()s in the guest's read loop).
 */
#include <string.h>

#include "core.h"

#define INFO_MAGIC "xen-3.0-x86_64"

int info_shared_init(struct domain *d)
{
	struct hypervisor *hv = d->hv;
	unsigned int i;
	int rc;

	d->shared_info = hv->ops->xen_page_alloc(hv->sub, d->domid);
	if (!d->shared_info)
		return -ENOMEM;
	memset(d->shared_info, 0, XENON_PAGE_SIZE);
	d->shared_info_gfn = d->max_pages;
	rc = memory_overlay_add(d, d->shared_info_gfn, d->shared_info, false);
	if (rc < 0) {
		hv->ops->xen_page_free(hv->sub, d->domid, d->shared_info);
		d->shared_info = NULL;
		return rc;
	}
	for (i = 0; i < XEN_LEGACY_MAX_VCPUS; i++)
		d->shared_info->vcpu_info[i].evtchn_upcall_mask = 1;
	for (i = 0; i < d->max_vcpus && i < XEN_LEGACY_MAX_VCPUS; i++)
		d->vcpus[i].vcpu_info = &d->shared_info->vcpu_info[i];
	info_update_wallclock(d);
	return 0;
}

void info_shared_fini(struct domain *d)
{
	struct hypervisor *hv = d->hv;
	unsigned int i;

	if (!d->shared_info)
		return;
	memory_overlay_remove_page(d, d->shared_info);
	for (i = 0; i < d->max_vcpus; i++)
		if (!d->vcpus[i].vcpu_info_registered)
			d->vcpus[i].vcpu_info = NULL;
	hv->ops->xen_page_free(hv->sub, d->domid, d->shared_info);
	d->shared_info = NULL;
}

static void info_fill_resume_fields(struct domain *d, struct start_info *si)
{
	memset(si->magic, 0, sizeof(si->magic));
	memcpy(si->magic, INFO_MAGIC, sizeof(INFO_MAGIC));
	si->nr_pages = d->tot_pages;
	si->shared_info = d->shared_info_gfn << XENON_PAGE_SHIFT;
	si->flags = d->privileged ? SIF_PRIVILEGED | SIF_INITDOMAIN : 0;
	si->store_mfn = d->layout.store_gfn;
	si->store_evtchn = d->layout.store_evtchn;
	si->console.domU.mfn = d->layout.console_gfn;
	si->console.domU.evtchn = d->layout.console_evtchn;
}

int info_start_info_write(struct domain *d, bool boot)
{
	struct start_info *si = memory_map_gfn_writable(d, d->layout.start_info_gfn);

	if (!si)
		return -EFAULT;
	if (boot) {
		memset(si, 0, XENON_PAGE_SIZE);
		si->mod_start = d->mod_start;
		si->mod_len = d->mod_len;
		memcpy(si->cmd_line, d->cmdline, sizeof(si->cmd_line));
		si->cmd_line[sizeof(si->cmd_line) - 1] = 0;
	}
	info_fill_resume_fields(d, si);
	return 0;
}

/* vcpu_time_info of one vCPU, with the same odd/even version protocol. */
static void info_update_vcpu_time(struct vcpu_info *vi, uint64_t now)
{
	struct vcpu_time_info *t = &vi->time;

	__atomic_store_n(&t->version, t->version + 1, __ATOMIC_RELAXED);
	/* Pairs with the guest's rmb() between reading version and fields. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	t->system_time = now;
	t->tsc_timestamp = 0;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&t->version, t->version + 1, __ATOMIC_RELAXED);
}

void info_update_wallclock(struct domain *d)
{
	struct hypervisor *hv = d->hv;
	struct shared_info *s = d->shared_info;
	uint64_t now = hv->ops->now_ns(hv->sub), sec, base;
	uint32_t nsec;
	unsigned int i;

	if (!s)
		return;
	hv->ops->wallclock(hv->sub, &sec, &nsec);
	/* Base = wall time now - system time now, in ns. */
	base = sec * 1000000000ULL + nsec;
	base = base > now ? base - now : 0;
	__atomic_store_n(&s->wc_version, s->wc_version + 1, __ATOMIC_RELAXED);
	/* Odd version visible before the fields change: pairs with the
	 * guest's rmb() after reading wc_version. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->wc_sec = (uint32_t)(base / 1000000000ULL);
	s->wc_sec_hi = (uint32_t)((base / 1000000000ULL) >> 32);
	s->wc_nsec = (uint32_t)(base % 1000000000ULL);
	/* Fields visible before the even version: pairs with the guest's
	 * rmb() before re-reading wc_version. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&s->wc_version, s->wc_version + 1, __ATOMIC_RELAXED);
	for (i = 0; i < d->max_vcpus; i++)
		if (d->vcpus[i].vcpu_info)
			info_update_vcpu_time(d->vcpus[i].vcpu_info, now);
}

void hv_update_wallclock(struct hypervisor *hv)
{
	unsigned int id;

	for (id = 0; id < DOMID_FIRST_RESERVED; id++) {
		struct domain *d = domain_lookup(hv, (domid_t)id);

		if (d)
			info_update_wallclock(d);
	}
}

/*
 * VCPUOP_register_vcpu_info, with Xen's checks and order: the struct must
 * fit in the page at its natural alignment (-ENXIO), it can be moved only
 * once (-EINVAL), only for the calling vCPU or one that is down (-EINVAL),
 * and only into a RAM frame (-EINVAL). The current contents move along, and
 * then every selector bit and upcall_pending are set so no event raised
 * during the move is lost; the guest takes one spurious upcall.
 */
int info_register_vcpu_info(struct vcpu *v, uint64_t gfn, uint32_t offset)
{
	struct domain *d = v->domain;
	struct vcpu_info *vi;
	uint8_t *page;

	if (offset > XENON_PAGE_SIZE - sizeof(*vi) || offset % _Alignof(struct vcpu_info))
		return -ENXIO;
	if (v->vcpu_info_registered)
		return -EINVAL;
	if (!memory_gfn_is_ram(d, gfn))
		return -EINVAL;
	page = memory_map_gfn_writable(d, gfn);
	if (!page)
		return -EINVAL;
	vi = (struct vcpu_info *)(page + offset);
	if (v->vcpu_info)
		memcpy(vi, v->vcpu_info, sizeof(*vi));
	else
		memset(vi, 0, sizeof(*vi));
	v->vcpu_info = vi;
	v->vcpu_info_registered = true;
	v->vcpu_info_gfn = gfn;
	v->vcpu_info_offset = offset;
	/* The new location is in use before the pending flags are set; pairs
	 * with the guest's xchg on evtchn_pending_sel. */
	__atomic_store_n(&vi->evtchn_pending_sel, ~(xen_ulong_t)0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
	d->hv->ops->kick(d->hv->sub, d->domid, v->id);
	return 0;
}
