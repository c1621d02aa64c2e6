/*
 * Grant tables, guest side (v1): the granter's half of seed item 9.
 *
 * The table frames are hypervisor pages; xg_gnttab_init() shows them in the
 * guest's frame space with XENMEM_add_to_physmap(XENMAPSPACE_grant_table)
 * and reaches them through platform->gpa_to_virt:
 *
 *   gfn:   S        S+1      S+2  ...        (S = shared_info's gfn, the
 *          shared   grant    grant            start of the overlay window
 *          info     frame 0  frame 1          above RAM, by default)
 *
 *   frame 0: entries 0..511, 8 bytes each { flags, domid, frame }
 *            0..7 reserved (GNTTAB_NR_RESERVED_ENTRIES), 8.. handed out
 *
 * Free references form a LIFO list threaded through list[] (Linux
 * gnttab_list), guarded by a spinlock taken with events off on this vCPU,
 * since a handler may grant while the code it interrupted holds the lock.
 *
 * Entry protocol (grant_table.h): write frame and domid, a write barrier,
 * then flags; revoke only with a cmpxchg that sees neither GTF_reading nor
 * GTF_writing (the hypervisor sets those while the grantee maps or copies).
 */
#include "xg_internal.h"

#include <xen/memory.h>

#define XG_GNTTAB_LIST_END 0xffffffffU
#define XG_GNTTAB_IN_USE 0xfffffffeU

static bool xg_gnttab_lock(struct xen_guest *g)
{
	bool was_disabled = xg_irqs_disabled(g);

	xg_irq_disable(g);
	while (__atomic_test_and_set(&g->gnttab.lock, __ATOMIC_ACQUIRE))
		;
	return was_disabled;
}

static void xg_gnttab_unlock(struct xen_guest *g, bool was_disabled)
{
	__atomic_clear(&g->gnttab.lock, __ATOMIC_RELEASE);
	if (!was_disabled)
		xg_irq_enable(g);
}

static unsigned int xg_gnttab_nr_entries(struct xen_guest *g)
{
	return g->gnttab.nr_frames * XG_GNTTAB_PER_FRAME;
}

grant_entry_v1_t *xg_gnttab_entry(struct xen_guest *g, grant_ref_t ref)
{
	if (!g->gnttab.ready || ref >= xg_gnttab_nr_entries(g))
		return NULL;
	return &g->gnttab.frames[ref / XG_GNTTAB_PER_FRAME][ref % XG_GNTTAB_PER_FRAME];
}

/* ---- setup ----------------------------------------------------------- */

static int xg_gnttab_show_frame(struct xen_guest *g, unsigned int idx, uint64_t gfn)
{
	struct xen_add_to_physmap x = {
		.domid = DOMID_SELF,
		.space = XENMAPSPACE_grant_table,
		.idx = idx,
		.gpfn = gfn,
	};
	long rc = xg_memory_op(g, XENMEM_add_to_physmap, &x);

	if (rc < 0)
		return (int)rc;
	g->gnttab.frames[idx] = xg_gpa_to_virt(g, gfn << XG_PAGE_SHIFT);
	return g->gnttab.frames[idx] ? 0 : -EFAULT;
}

static void xg_gnttab_list_init(struct xen_guest *g)
{
	unsigned int n = xg_gnttab_nr_entries(g), ref;

	for (ref = 0; ref < GNTTAB_NR_RESERVED_ENTRIES; ref++)
		g->gnttab.list[ref] = XG_GNTTAB_IN_USE;
	for (ref = GNTTAB_NR_RESERVED_ENTRIES; ref < n; ref++)
		g->gnttab.list[ref] = ref + 1 < n ? ref + 1 : XG_GNTTAB_LIST_END;
	g->gnttab.free_head = GNTTAB_NR_RESERVED_ENTRIES;
	g->gnttab.free_count = n - GNTTAB_NR_RESERVED_ENTRIES;
}

/* Frames already shown stay shown on failure: the core has no
 * remove_from_physmap, and showing them again is idempotent. */
int xg_gnttab_init(struct xen_guest *g, uint64_t first_gfn, unsigned int nr_frames)
{
	unsigned int i;
	int rc;

	if (!nr_frames || nr_frames > XG_GNTTAB_MAX_FRAMES)
		return -EINVAL;
	if (g->gnttab.ready)
		return -EBUSY;
	if (!first_gfn)
		first_gfn = (g->start_info->shared_info >> XG_PAGE_SHIFT) + 1;
	for (i = 0; i < nr_frames; i++) {
		rc = xg_gnttab_show_frame(g, i, first_gfn + i);
		if (rc < 0)
			return rc;
	}
	g->gnttab.first_gfn = first_gfn;
	g->gnttab.nr_frames = nr_frames;
	xg_gnttab_list_init(g);
	g->gnttab.ready = true;
	return 0;
}

/* ---- references ------------------------------------------------------ */

int xg_gnttab_alloc_ref(struct xen_guest *g)
{
	grant_ref_t ref;
	bool flags;

	if (!g->gnttab.ready)
		return -ENODEV;
	flags = xg_gnttab_lock(g);
	if (!g->gnttab.free_count) {
		xg_gnttab_unlock(g, flags);
		return -ENOSPC;
	}
	ref = g->gnttab.free_head;
	g->gnttab.free_head = g->gnttab.list[ref];
	g->gnttab.list[ref] = XG_GNTTAB_IN_USE;
	g->gnttab.free_count--;
	xg_gnttab_unlock(g, flags);
	return (int)ref;
}

/* Reserved, out-of-range and already-free refs are ignored. */
void xg_gnttab_free_ref(struct xen_guest *g, grant_ref_t ref)
{
	bool flags;

	if (!g->gnttab.ready || ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= xg_gnttab_nr_entries(g))
		return;
	flags = xg_gnttab_lock(g);
	if (g->gnttab.list[ref] == XG_GNTTAB_IN_USE) {
		g->gnttab.list[ref] = g->gnttab.free_head;
		g->gnttab.free_head = ref;
		g->gnttab.free_count++;
	}
	xg_gnttab_unlock(g, flags);
}

/* Frame and domid become visible before the flags that make the entry
 * valid: the release fence pairs with the hypervisor's acquire load of the
 * {flags, domid} word (gnttab_set_status / gnttab_transfer_commit). */
static void xg_gnttab_publish(grant_entry_v1_t *e, domid_t domid, uint32_t frame, uint16_t flags)
{
	__atomic_store_n(&e->frame, frame, __ATOMIC_RELAXED);
	__atomic_store_n(&e->domid, domid, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->flags, flags, __ATOMIC_RELAXED);
}

void xg_gnttab_grant_foreign_access_ref(struct xen_guest *g, grant_ref_t ref, domid_t domid,
					unsigned long frame, bool readonly)
{
	grant_entry_v1_t *e = xg_gnttab_entry(g, ref);

	if (e)
		xg_gnttab_publish(e, domid, (uint32_t)frame,
				  GTF_permit_access | (readonly ? GTF_readonly : 0));
}

int xg_gnttab_grant_foreign_access(struct xen_guest *g, domid_t domid, unsigned long frame,
				   bool readonly)
{
	int ref;

	if (frame > UINT32_MAX)
		return -EINVAL; /* v1 frames are 32 bits */
	ref = xg_gnttab_alloc_ref(g);
	if (ref >= 0)
		xg_gnttab_grant_foreign_access_ref(g, (grant_ref_t)ref, domid, frame, readonly);
	return ref;
}

/*
 * The cmpxchg pairs with the hypervisor's cmpxchg of the {flags, domid}
 * word when it pins the entry (gnttab_set_status): either it pins first and
 * we see GTF_reading/GTF_writing and refuse, or we clear the flags first
 * and its map finds no GTF_permit_access.
 */
bool xg_gnttab_end_foreign_access_ref(struct xen_guest *g, grant_ref_t ref, bool readonly)
{
	grant_entry_v1_t *e = xg_gnttab_entry(g, ref);
	uint16_t flags;

	if (!e)
		return false;
	flags = __atomic_load_n(&e->flags, __ATOMIC_SEQ_CST);
	do {
		if (flags & (GTF_reading | GTF_writing))
			return false;
	} while (!__atomic_compare_exchange_n(&e->flags, &flags, 0, false, __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return true;
}

int xg_gnttab_grant_page(struct xen_guest *g, domid_t domid, const void *p, bool readonly)
{
	uint64_t gpa = xg_virt_to_gpa(g, p);

	if (gpa == XEN_GUEST_BAD_GPA)
		return -EFAULT;
	return xg_gnttab_grant_foreign_access(g, domid, (unsigned long)(gpa >> XG_PAGE_SHIFT),
					      readonly);
}

/* Only a revoked ref goes back on the free list: one the grantee still
 * maps stays granted, so its entry is not handed out under a live map. */
bool xg_gnttab_end_page(struct xen_guest *g, grant_ref_t ref, bool readonly)
{
	if (!xg_gnttab_end_foreign_access_ref(g, ref, readonly))
		return false;
	xg_gnttab_free_ref(g, ref);
	return true;
}

bool xg_gnttab_query_foreign_access(struct xen_guest *g, grant_ref_t ref)
{
	grant_entry_v1_t *e = xg_gnttab_entry(g, ref);

	return e && (__atomic_load_n(&e->flags, __ATOMIC_SEQ_CST) & (GTF_reading | GTF_writing));
}

/* ---- transfer -------------------------------------------------------- */

int xg_gnttab_grant_foreign_transfer(struct xen_guest *g, domid_t domid, unsigned long pfn)
{
	int ref;

	if (pfn > UINT32_MAX)
		return -EINVAL;
	ref = xg_gnttab_alloc_ref(g);
	if (ref >= 0)
		xg_gnttab_publish(xg_gnttab_entry(g, (grant_ref_t)ref), domid, (uint32_t)pfn,
				  GTF_accept_transfer);
	return ref;
}

/*
 * Not committed: reclaim the entry with a cmpxchg, which pairs with the
 * hypervisor's cmpxchg setting GTF_transfer_committed
 * (gnttab_transfer_commit): one of us wins. Committed: wait (bounded) for
 * GTF_transfer_completed, then read the frame; the acquire fence pairs with
 * the release in gnttab_transfer_complete (frame first, then the flag).
 */
long xg_gnttab_end_foreign_transfer_ref(struct xen_guest *g, grant_ref_t ref)
{
	grant_entry_v1_t *e = xg_gnttab_entry(g, ref);
	unsigned int spins;
	uint16_t flags;

	if (!e)
		return -EINVAL;
	flags = __atomic_load_n(&e->flags, __ATOMIC_SEQ_CST);
	while (!(flags & GTF_transfer_committed)) {
		if (__atomic_compare_exchange_n(&e->flags, &flags, 0, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return -ENOENT;
	}
	for (spins = 0; !(flags & GTF_transfer_completed); spins++) {
		if (spins == XG_TRANSFER_SPINS)
			return -EBUSY;
		flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return (long)__atomic_load_n(&e->frame, __ATOMIC_RELAXED);
}
