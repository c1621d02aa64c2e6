/*
 * Guest grant tables against the real core (guestsim): table frames shown
 * with add_to_physmap, the free-ref list, access granted -> mapped by
 * another domain through GNTTABOP_map_grant_ref -> revocation refused while
 * mapped, allowed after unmap; page transfer end to end.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guest_test_util.h"
#include "xg_internal.h"

static struct guestsim *gs;
static struct gs_domain *d0, *d1;

static void setup(void)
{
	gs = gs_create(NULL);
	cr_assert_not_null(gs);
	d0 = gs_boot(gs, 0, true, 1, 64);
	d1 = gs_boot(gs, 1, false, 1, 64);
	cr_assert(d0 && d1);
}

static void teardown(void)
{
	gs_destroy(gs);
	gs = NULL;
}

TestSuite(guest_gnttab, .init = setup, .fini = teardown);

/* A gfn in d's overlay window, clear of shared_info and grant frames. */
static uint64_t window_gfn(struct gs_domain *d, unsigned int i)
{
	return d->max_pages + 100 + i;
}

static int16_t map_ref(struct gs_domain *mapper, domid_t granter, grant_ref_t ref, uint64_t gfn,
		       bool readonly, grant_handle_t *ret_handle)
{
	struct gnttab_map_grant_ref op = {
		.host_addr = gfn << 12,
		.flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
		.ref = ref,
		.dom = granter,
	};

	gs_enter(mapper, 0);
	cr_assert_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op, 1), 0);
	if (ret_handle)
		*ret_handle = op.handle;
	return op.status;
}

static int16_t unmap_ref(struct gs_domain *mapper, uint64_t gfn, grant_handle_t handle)
{
	struct gnttab_unmap_grant_ref op = { .host_addr = gfn << 12, .handle = handle };

	gs_enter(mapper, 0);
	cr_assert_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &op, 1), 0);
	return op.status;
}

Test(guest_gnttab, init_shows_frames_after_shared_info)
{
	uint64_t si_gfn = d1->guest->start_info->shared_info >> 12;
	struct gnttab_setup_table *st = gs_alloc_pages(d1, 1);
	xen_pfn_t *frames = (xen_pfn_t *)(st + 1);

	gs_enter(d1, 0);
	cr_assert_eq(gnttab_grant_foreign_access(0, 1, false), -ENODEV, "not initialised yet");
	cr_assert_eq(gnttab_init(0, 2), 0);
	cr_assert_eq(gnttab_init(0, 2), -EBUSY);
	cr_assert_eq(d1->guest->gnttab.first_gfn, si_gfn + 1);
	cr_assert_eq(xg_gnttab_entry(d1->guest, 0), gs_gpa_to_virt(d1, (si_gfn + 1) << 12));

	/* The core agrees where the frames are (setup_table reports them). */
	st->dom = DOMID_SELF;
	st->nr_frames = 2;
	xg_set_guest_handle(d1->guest, st->frame_list, frames);
	cr_assert_eq(HYPERVISOR_grant_table_op(GNTTABOP_setup_table, st, 1), 0);
	cr_assert_eq(st->status, GNTST_okay);
	cr_assert_eq(frames[0], si_gfn + 1);
	cr_assert_eq(frames[1], si_gfn + 2);

	cr_assert_eq(gnttab_grant_foreign_access(0, 1, false), GNTTAB_NR_RESERVED_ENTRIES,
		     "refs 0..7 are reserved");
}

Test(guest_gnttab, access_mapped_by_other_domain_then_revoked)
{
	char *page = gs_alloc_pages(d1, 1);
	uint64_t gfn = window_gfn(d0, 0);
	grant_handle_t h;
	char *seen;
	int ref;

	strcpy(page, "hello from d1");
	gs_enter(d1, 0);
	cr_assert_eq(gnttab_init(0, 1), 0);
	ref = gnttab_grant_foreign_access(0, gs_gfn(d1, page), false);
	cr_assert_geq(ref, GNTTAB_NR_RESERVED_ENTRIES);

	cr_assert_eq(map_ref(d0, 1, ref, gfn, false, &h), GNTST_okay);
	seen = gs_gpa_to_virt(d0, gfn << 12);
	cr_assert_str_eq(seen, "hello from d1");
	strcpy(seen, "hello from d0");
	cr_assert_str_eq(page, "hello from d0", "the same page, shared");

	gs_enter(d1, 0);
	cr_assert(xg_gnttab_query_foreign_access(d1->guest, ref));
	cr_assert_not(gnttab_end_foreign_access_ref(ref, false), "refused while mapped");
	cr_assert_neq(xg_gnttab_entry(d1->guest, ref)->flags, 0);

	cr_assert_eq(unmap_ref(d0, gfn, h), GNTST_okay);
	gs_enter(d1, 0);
	cr_assert(gnttab_end_foreign_access_ref(ref, false), "allowed once unmapped");
	cr_assert_eq(xg_gnttab_entry(d1->guest, ref)->flags, 0);
	cr_assert_neq(map_ref(d0, 1, ref, gfn, false, NULL), GNTST_okay, "revoked for good");
	gs_enter(d1, 0);
	gnttab_free_ref(ref);
}

/* The front ends' pair (xg_internal.h): a page granted by its address; a
 * mapped page's ref kept allocated and granted, an unmapped one's revoked
 * and back on the free list. */
Test(guest_gnttab, grant_page_and_end_page)
{
	static char not_guest_memory[4096];
	char *page = gs_alloc_pages(d1, 1);
	unsigned int free0;
	grant_handle_t h;
	int ref;

	gs_enter(d1, 0);
	cr_assert_eq(gnttab_init(0, 1), 0);
	cr_assert_eq(xg_gnttab_grant_page(d1->guest, 0, not_guest_memory, false), -EFAULT);
	free0 = d1->guest->gnttab.free_count;
	ref = xg_gnttab_grant_page(d1->guest, 0, page, false);
	cr_assert_geq(ref, GNTTAB_NR_RESERVED_ENTRIES);
	cr_assert_eq(xg_gnttab_entry(d1->guest, ref)->frame, gs_gfn(d1, page));
	cr_assert_eq(map_ref(d0, 1, ref, window_gfn(d0, 0), false, &h), GNTST_okay);
	gs_enter(d1, 0);
	cr_assert_not(xg_gnttab_end_page(d1->guest, ref, false), "still mapped");
	cr_assert(xg_gnttab_query_foreign_access(d1->guest, ref), "still granted");
	cr_assert_eq(d1->guest->gnttab.free_count, free0 - 1, "the ref stays allocated");
	cr_assert_eq(unmap_ref(d0, window_gfn(d0, 0), h), GNTST_okay);
	gs_enter(d1, 0);
	cr_assert(xg_gnttab_end_page(d1->guest, ref, false));
	cr_assert_eq(xg_gnttab_entry(d1->guest, ref)->flags, 0, "revoked");
	cr_assert_eq(d1->guest->gnttab.free_count, free0, "and freed");
}

Test(guest_gnttab, readonly_grant_refuses_writable_map)
{
	char *page = gs_alloc_pages(d1, 1);
	grant_handle_t h;
	int ref;

	gs_enter(d1, 0);
	cr_assert_eq(gnttab_init(0, 1), 0);
	ref = gnttab_grant_foreign_access(0, gs_gfn(d1, page), true);
	cr_assert_neq(map_ref(d0, 1, ref, window_gfn(d0, 0), false, NULL), GNTST_okay);
	cr_assert_eq(map_ref(d0, 1, ref, window_gfn(d0, 1), true, &h), GNTST_okay);
	gs_enter(d1, 0);
	cr_assert_not(gnttab_end_foreign_access_ref(ref, true));
	cr_assert_eq(unmap_ref(d0, window_gfn(d0, 1), h), GNTST_okay);
	gs_enter(d1, 0);
	cr_assert(gnttab_end_foreign_access_ref(ref, true));
}

Test(guest_gnttab, free_list_bounded_lifo_and_guarded)
{
	unsigned int n = XG_GNTTAB_PER_FRAME - GNTTAB_NR_RESERVED_ENTRIES, i;
	int ref = -1;

	gs_enter(d1, 0);
	cr_assert_eq(gnttab_init(0, 1), 0);
	for (i = 0; i < n; i++) {
		ref = gnttab_grant_foreign_access(0, 1, false);
		cr_assert_geq(ref, GNTTAB_NR_RESERVED_ENTRIES);
	}
	cr_assert_eq(gnttab_grant_foreign_access(0, 1, false), -ENOSPC);
	gnttab_free_ref((grant_ref_t)ref);
	gnttab_free_ref((grant_ref_t)ref); /* double free: ignored */
	gnttab_free_ref(3);		   /* reserved: ignored */
	cr_assert_eq(d1->guest->gnttab.free_count, 1);
	cr_assert_eq(gnttab_grant_foreign_access(0, 1, false), ref, "LIFO: the freed ref");
	cr_assert_eq(gnttab_grant_foreign_access(0, 1, false), -ENOSPC);
	cr_assert(!xg_irqs_disabled(d1->guest), "events back on after the lock");
}

static struct gs_domain *boot_with_headroom(domid_t id)
{
	struct hv_domain_config cfg;
	struct gs_domain *d;

	hv_domain_config_defaults(&cfg);
	cfg.domid = id;
	cfg.max_vcpus = 1;
	cfg.nr_pages = 64;
	cfg.max_pages = 68; /* a receiver needs reservation headroom */
	cr_assert_eq(gs_domain_create(gs, &cfg, &d), 0);
	cr_assert_eq(gs_domain_boot(d), 0);
	return d;
}

Test(guest_gnttab, transfer_end_to_end)
{
	struct gs_domain *r = boot_with_headroom(2);
	struct hv_domain_info before, after;
	uint8_t *page = gs_alloc_pages(d1, 1), *got;
	struct gnttab_transfer t;
	long frame;
	int ref;

	gs_enter(r, 0);
	cr_assert_eq(gnttab_init(0, 1), 0);
	ref = gnttab_grant_foreign_transfer(1, 0);
	cr_assert_geq(ref, GNTTAB_NR_RESERVED_ENTRIES);
	cr_assert_eq(gnttab_end_foreign_transfer_ref(ref), -ENOENT, "nothing moved yet");
	cr_assert_eq(xg_gnttab_entry(r->guest, ref)->flags, 0, "entry reclaimed");
	xg_gnttab_free_ref(r->guest, ref);

	ref = gnttab_grant_foreign_transfer(1, 0);
	memset(page, 0x5a, 4096);
	cr_assert_eq(domain_getinfo(gs->hv, 1, &before), 0);
	t = (struct gnttab_transfer){ .mfn = gs_gfn(d1, page), .domid = 2, .ref = ref };
	gs_enter(d1, 0);
	cr_assert_eq(HYPERVISOR_grant_table_op(GNTTABOP_transfer, &t, 1), 0);
	cr_assert_eq(t.status, GNTST_okay);
	cr_assert_eq(domain_getinfo(gs->hv, 1, &after), 0);
	cr_assert_eq(after.tot_pages, before.tot_pages - 1, "the sender gave the frame away");

	gs_enter(r, 0);
	frame = gnttab_end_foreign_transfer_ref(ref);
	cr_assert_geq(frame, 0);
	got = gs_gpa_to_virt(r, (uint64_t)frame << 12);
	cr_assert_eq(got[0], 0x5a);
	cr_assert_eq(got[4095], 0x5a);
}

Test(guest_gnttab, transfer_committed_but_never_completed_is_bounded)
{
	grant_entry_v1_t *e;
	int ref;

	gs_enter(d1, 0);
	cr_assert_eq(gnttab_init(0, 1), 0);
	ref = gnttab_grant_foreign_transfer(0, 0);
	e = xg_gnttab_entry(d1->guest, ref);
	/* As if the hypervisor committed and then stalled. */
	e->flags = GTF_accept_transfer | GTF_transfer_committed;
	cr_assert_eq(gnttab_end_foreign_transfer_ref(ref), -EBUSY);
	e->flags |= GTF_transfer_completed;
	e->frame = 42;
	cr_assert_eq(gnttab_end_foreign_transfer_ref(ref), 42);
}

Test(guest_gnttab, batch_from_outside_guest_memory_goes_in_chunks)
{
	enum { N = 400 }; /* 400 x 24 bytes: more than one bounce buffer */
	static struct gnttab_map_grant_ref ops[N];
	char *page = gs_alloc_pages(d1, 1);
	unsigned int i;
	int ref;

	gs_enter(d1, 0);
	cr_assert_eq(gnttab_init(0, 1), 0);
	ref = gnttab_grant_foreign_access(0, gs_gfn(d1, page), true);
	for (i = 0; i < N; i++)
		ops[i] = (struct gnttab_map_grant_ref){ .host_addr = window_gfn(d0, i) << 12,
							.flags = GNTMAP_host_map | GNTMAP_readonly,
							.ref = (grant_ref_t)ref,
							.dom = 1 };
	gs_enter(d0, 0);
	cr_assert_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, ops, N), 0);
	for (i = 0; i < N; i++)
		cr_assert_eq(ops[i].status, GNTST_okay, "op %u", i);
	cr_assert_eq(ops[N - 1].handle, N - 1, "every element reached the core, in order");
	cr_assert_eq(d0->guest->vcpu[0].bounce_top, 0);
}
