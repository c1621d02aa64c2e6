/*
 * Grant tables v1 (hypervisor/gnttab.c) through hypercall() on the fake
 * substrate. Guests write their entries with the grant_table.h protocol
 * into the shared frames; every GNTTABOP and every GNTST_* path it can
 * return is exercised, as are the flag protocol, the maptrack limit and
 * teardown from either side.
 *
 * Domains: dom0 (privileged), dom1 (the usual granter), dom2 (the usual
 * mapper), each with 64 frames of RAM:
 *
 *   gfn 0..7 free   8..15 fake scratch   32..47 granted frames
 *   61..63 store/console/start_info      64 shared_info (window starts)
 *   72+idx grant frame idx (tests that show it)   160+ host mappings
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core.h"
#include <xen/memory.h>
#include "fake_substrate.h"

#define NR_PAGES 64
#define GRANT_GFN 32 /* first granted frame of a granter */
#define FRAME_GFN 72 /* where a test shows grant frame 0 */
#define MAP_GFN 160  /* first host mapping gfn in a mapper */
#define GPA(gfn) ((uint64_t)(gfn) << XENON_PAGE_SHIFT)

static struct fake_substrate *fs;

static void create_dom(domid_t domid, bool privileged, uint64_t nr_pages, uint64_t max_pages)
{
	struct hv_domain_config cfg;
	domid_t got;

	hv_domain_config_defaults(&cfg);
	cfg.domid = domid;
	cfg.privileged = privileged;
	cfg.max_vcpus = 1;
	cfg.nr_pages = nr_pages;
	cfg.max_pages = max_pages;
	cr_assert_eq(domain_create(fs->hv, &cfg, &got, NULL), 0);
	cr_assert_eq(got, domid);
}

static void setup_with(const struct hv_config *cfg)
{
	fs = fake_create_quiet(cfg);
	cr_assert_not_null(fs);
	create_dom(0, true, NR_PAGES, 0);
	create_dom(1, false, NR_PAGES, 0);
	create_dom(2, false, NR_PAGES, NR_PAGES + 4);
}

static void setup(void)
{
	setup_with(NULL);
}

static void teardown(void)
{
	fake_destroy(fs);
	fs = NULL;
}

static struct domain *dom(domid_t domid)
{
	struct domain *d = domain_lookup(fs->hv, domid);

	cr_assert_not_null(d);
	return d;
}

/* The guest's view of its own entry (the shared frame, written directly). */
static grant_entry_v1_t *entry(domid_t domid, grant_ref_t ref)
{
	grant_entry_v1_t *f = gnttab_shared_frame(dom(domid), ref / 512);

	cr_assert_not_null(f);
	return f + ref % 512;
}

/* grant_table.h: domid, frame, write barrier, flags. */
static void guest_grant(domid_t granter, grant_ref_t ref, domid_t to, uint32_t frame,
			uint16_t flags)
{
	grant_entry_v1_t *e = entry(granter, ref);

	e->domid = to;
	e->frame = frame;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->flags, flags, __ATOMIC_RELAXED);
}

/* grant_table.h: revoke only if neither GTF_reading nor GTF_writing. */
static bool guest_revoke(domid_t granter, grant_ref_t ref)
{
	grant_entry_v1_t *e = entry(granter, ref);
	uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

	if (flags & (GTF_reading | GTF_writing))
		return false;
	return __atomic_compare_exchange_n(&e->flags, &flags, 0, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

static uint16_t flags_of(domid_t granter, grant_ref_t ref)
{
	return __atomic_load_n(&entry(granter, ref)->flags, __ATOMIC_ACQUIRE);
}

static long gop(domid_t caller, unsigned int cmd, void *op, size_t size, unsigned int count)
{
	return fake_hypercall_count(fs, caller, 0, __HYPERVISOR_grant_table_op, cmd, op,
				    size * (count ? count : 1), count, op);
}

/* One element in memory, but `count` in the hypercall (count checks). */
static long gop_count(domid_t caller, unsigned int cmd, void *op, size_t size, unsigned int count)
{
	return fake_hypercall_count(fs, caller, 0, __HYPERVISOR_grant_table_op, cmd, op, size,
				    count, op);
}

static int16_t map_ex(domid_t mapper, domid_t granter, grant_ref_t ref, uint32_t flags,
		      uint64_t host_addr, struct gnttab_map_grant_ref *ret)
{
	struct gnttab_map_grant_ref op = {
		.host_addr = host_addr, .flags = flags, .ref = ref, .dom = granter
	};

	cr_assert_eq(gop(mapper, GNTTABOP_map_grant_ref, &op, sizeof(op), 1), 0);
	if (ret)
		*ret = op;
	return op.status;
}

static int16_t map(domid_t mapper, domid_t granter, grant_ref_t ref, uint32_t flags,
		   uint64_t map_gfn, grant_handle_t *ret_handle)
{
	struct gnttab_map_grant_ref op;
	int16_t st = map_ex(mapper, granter, ref, flags, GPA(map_gfn), &op);

	if (ret_handle)
		*ret_handle = op.handle;
	return st;
}

static int16_t unmap(domid_t mapper, grant_handle_t handle, uint64_t host_addr, uint64_t dev)
{
	struct gnttab_unmap_grant_ref op = { .host_addr = host_addr,
					     .dev_bus_addr = dev,
					     .handle = handle };

	cr_assert_eq(gop(mapper, GNTTABOP_unmap_grant_ref, &op, sizeof(op), 1), 0);
	return op.status;
}

static struct gnttab_pins pins(domid_t granter, grant_ref_t ref)
{
	struct gnttab_pins p;

	cr_assert_eq(gnttab_entry_pins(dom(granter), ref, &p), 0);
	return p;
}

static bool has_overlay(domid_t domid, uint64_t gfn)
{
	return memory_overlay_lookup(dom(domid), gfn, NULL, NULL) == 0;
}

/* Nothing pinned, mapped or flagged anywhere. */
static void assert_quiescent(void)
{
	domid_t id;

	for (id = 0; id < 3; id++) {
		struct domain *d = domain_lookup(fs->hv, id);

		if (!d)
			continue;
		cr_assert_eq(gnttab_maps_held(d), 0, "d%u holds maps", id);
		cr_assert_eq(gnttab_pins_total(d), 0, "d%u has pins", id);
	}
}

TestSuite(gnttab, .init = setup, .fini = teardown);

/* ---- layout and size ---------------------------------------------------- */

Test(gnttab, abi_layout)
{
	cr_assert_eq(sizeof(grant_entry_v1_t), 8);
	cr_assert_eq(sizeof(struct gnttab_map_grant_ref), 32);
	cr_assert_eq(sizeof(struct gnttab_unmap_grant_ref), 24);
	cr_assert_eq(offsetof(struct gnttab_map_grant_ref, status), 18);
	cr_assert_eq(sizeof(struct gnttab_copy), 40);
}

Test(gnttab, query_size_self_and_others)
{
	struct gnttab_query_size q = { .dom = DOMID_SELF };

	cr_assert_eq(gop(1, GNTTABOP_query_size, &q, sizeof(q), 1), 0);
	cr_assert_eq(q.status, GNTST_okay);
	cr_assert_eq(q.nr_frames, 1);
	cr_assert_eq(q.max_nr_frames, GNTTAB_DEFAULT_MAX_FRAMES);

	q = (struct gnttab_query_size){ .dom = 2 };
	cr_assert_eq(gop(1, GNTTABOP_query_size, &q, sizeof(q), 1), 0);
	cr_assert_eq(q.status, GNTST_permission_denied);
	q = (struct gnttab_query_size){ .dom = 2 };
	cr_assert_eq(gop(0, GNTTABOP_query_size, &q, sizeof(q), 1), 0);
	cr_assert_eq(q.status, GNTST_okay);
	q = (struct gnttab_query_size){ .dom = 42 };
	cr_assert_eq(gop(0, GNTTABOP_query_size, &q, sizeof(q), 1), 0);
	cr_assert_eq(q.status, GNTST_bad_domain);
	cr_assert_eq(gop_count(0, GNTTABOP_query_size, &q, sizeof(q), 2), -EINVAL);
}

Test(gnttab, setup_table_grows_and_lists_frames)
{
	struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 4 };
	xen_pfn_t list[4];
	struct xen_add_to_physmap x = {
		.domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 2, .gpfn = FRAME_GFN
	};

	cr_assert_eq(fake_hypercall(fs, 1, 0, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x,
				    sizeof(x), NULL),
		     0);
	set_xen_guest_handle(st.frame_list, (xen_pfn_t *)FAKE_BUF_GPA);
	cr_assert_eq(gop(1, GNTTABOP_setup_table, &st, sizeof(st), 1), 0);
	cr_assert_eq(st.status, GNTST_okay);
	cr_assert_eq(gnttab_nr_frames(dom(1)), 4);
	cr_assert_eq(fake_read(fs, 1, FAKE_BUF_GPA, list, sizeof(list)), 0);
	cr_assert_eq(list[0], GNTTAB_FRAME_NOT_SHOWN);
	cr_assert_eq(list[2], FRAME_GFN);
	cr_assert_eq(list[3], GNTTAB_FRAME_NOT_SHOWN);
}

Test(gnttab, setup_table_errors)
{
	struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 65 };

	set_xen_guest_handle(st.frame_list, (xen_pfn_t *)FAKE_BUF_GPA);
	cr_assert_eq(gop(1, GNTTABOP_setup_table, &st, sizeof(st), 1), 0);
	cr_assert_eq(st.status, GNTST_general_error);
	cr_assert(fake_log_contains(fs, "grant frames limit 64"));
	cr_assert_eq(gnttab_nr_frames(dom(1)), 1);

	st.nr_frames = 1;
	st.dom = 2;
	cr_assert_eq(gop(1, GNTTABOP_setup_table, &st, sizeof(st), 1), 0);
	cr_assert_eq(st.status, GNTST_permission_denied);
	st.dom = 9;
	cr_assert_eq(gop(0, GNTTABOP_setup_table, &st, sizeof(st), 1), 0);
	cr_assert_eq(st.status, GNTST_bad_domain);
	st.dom = 2; /* privileged: the list lands in the caller's memory */
	cr_assert_eq(gop(0, GNTTABOP_setup_table, &st, sizeof(st), 1), 0);
	cr_assert_eq(st.status, GNTST_okay);

	set_xen_guest_handle(st.frame_list, (xen_pfn_t *)GPA(1u << 30));
	st.dom = DOMID_SELF;
	cr_assert_eq(gop(1, GNTTABOP_setup_table, &st, sizeof(st), 1), 0);
	cr_assert_eq(st.status, GNTST_bad_virt_addr);
	cr_assert_eq(gop_count(1, GNTTABOP_setup_table, &st, sizeof(st), 0), -EINVAL);
}

Test(gnttab, shared_frame_limit)
{
	struct xen_add_to_physmap x = {
		.domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 64, .gpfn = FRAME_GFN
	};

	cr_assert_null(gnttab_shared_frame(dom(1), 64));
	cr_assert(fake_log_contains(fs, "d1: grant frames limit 64 reached"));
	cr_assert_eq(fake_hypercall(fs, 1, 0, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x,
				    sizeof(x), NULL),
		     -EINVAL);
	cr_assert_not_null(gnttab_shared_frame(dom(1), 63));
	cr_assert_eq(gnttab_nr_frames(dom(1)), 64);
}

/* ---- map / unmap -------------------------------------------------------- */

/* The whole path a guest takes: show the frame, write the entry through
 * its own frame space, the peer maps and sees the page. */
Test(gnttab, map_end_to_end_through_physmap)
{
	struct xen_add_to_physmap x = {
		.domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 0, .gpfn = FRAME_GFN
	};
	grant_entry_v1_t e = { .domid = 2, .frame = GRANT_GFN };
	uint16_t flags = GTF_permit_access;
	char msg[16] = "hello, grant", got[16];
	grant_handle_t h;

	cr_assert_eq(fake_hypercall(fs, 1, 0, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x,
				    sizeof(x), NULL),
		     0);
	cr_assert_eq(fake_write(fs, 1, GPA(FRAME_GFN) + 8 * 8, &e, sizeof(e)), 0);
	cr_assert_eq(fake_write(fs, 1, GPA(FRAME_GFN) + 8 * 8, &flags, sizeof(flags)), 0);
	cr_assert_eq(fake_write(fs, 1, GPA(GRANT_GFN) + 100, msg, sizeof(msg)), 0);

	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN, &h), GNTST_okay);
	cr_assert_eq(fake_read(fs, 2, GPA(MAP_GFN) + 100, got, sizeof(got)), 0);
	cr_assert_str_eq(got, msg);
	cr_assert_eq(fake_read(fs, 1, GPA(FRAME_GFN) + 8 * 8, &flags, sizeof(flags)), 0);
	cr_assert_eq(flags, GTF_permit_access | GTF_reading | GTF_writing);
	cr_assert_eq(gnttab_maps_held(dom(2)), 1);
	cr_assert_eq(unmap(2, h, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access);
	assert_quiescent();
}

Test(gnttab, map_writable_shares_memory)
{
	struct gnttab_map_grant_ref op;
	uint32_t v = 0xfeedf00d, got = 0;

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map_ex(2, 1, 8, GNTMAP_host_map, GPA(MAP_GFN), &op), GNTST_okay);
	cr_assert_eq(op.handle, 0);
	cr_assert_eq(op.dev_bus_addr, GPA(GRANT_GFN));
	cr_assert_not_null(memory_map_gfn_writable(dom(2), MAP_GFN));
	cr_assert_eq(fake_write(fs, 2, GPA(MAP_GFN) + 8, &v, sizeof(v)), 0);
	cr_assert_eq(fake_read(fs, 1, GPA(GRANT_GFN) + 8, &got, sizeof(got)), 0);
	cr_assert_eq(got, v);
	cr_assert_eq(pins(1, 8).host_write, 1);
	cr_assert_eq(unmap(2, op.handle, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert_not(has_overlay(2, MAP_GFN));
	assert_quiescent();
}

Test(gnttab, map_readonly_is_readonly)
{
	grant_handle_t h;

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access | GTF_readonly);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_general_error);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access | GTF_readonly);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map | GNTMAP_readonly, MAP_GFN, &h), GNTST_okay);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access | GTF_readonly | GTF_reading);
	cr_assert_not_null(memory_map_gfn(dom(2), MAP_GFN));
	cr_assert_null(memory_map_gfn_writable(dom(2), MAP_GFN));
	cr_assert_eq(pins(1, 8).host_read, 1);
	cr_assert_eq(unmap(2, h, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access | GTF_readonly);
	assert_quiescent();
}

/* Mixed read-only and writable mappings of one ref: GTF_writing follows
 * the writable pins, GTF_reading any pin. */
Test(gnttab, flag_protocol_mixed_mappings)
{
	grant_handle_t ro, rw1, rw2, dev;
	struct gnttab_map_grant_ref op;

	guest_grant(1, 9, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 9, GNTMAP_host_map | GNTMAP_readonly, MAP_GFN, &ro), GNTST_okay);
	cr_assert_eq(flags_of(1, 9), GTF_permit_access | GTF_reading);
	cr_assert_eq(map(2, 1, 9, GNTMAP_host_map, MAP_GFN + 1, &rw1), GNTST_okay);
	cr_assert_eq(map(2, 1, 9, GNTMAP_host_map, MAP_GFN + 2, &rw2), GNTST_okay);
	cr_assert_eq(flags_of(1, 9), GTF_permit_access | GTF_reading | GTF_writing);
	cr_assert_eq(map_ex(2, 1, 9, GNTMAP_device_map | GNTMAP_readonly, 0, &op), GNTST_okay);
	dev = op.handle;
	cr_assert_eq(pins(1, 9).host_read, 1);
	cr_assert_eq(pins(1, 9).host_write, 2);
	cr_assert_eq(pins(1, 9).dev_read, 1);
	cr_assert_eq(gnttab_maps_held(dom(2)), 4);

	cr_assert_eq(unmap(2, rw1, GPA(MAP_GFN + 1), 0), GNTST_okay);
	cr_assert_eq(flags_of(1, 9), GTF_permit_access | GTF_reading | GTF_writing);
	cr_assert_eq(unmap(2, rw2, GPA(MAP_GFN + 2), 0), GNTST_okay);
	cr_assert_eq(flags_of(1, 9), GTF_permit_access | GTF_reading);
	cr_assert_eq(unmap(2, ro, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert_eq(flags_of(1, 9), GTF_permit_access | GTF_reading, "device pin still reads");
	cr_assert_eq(unmap(2, dev, 0, GPA(GRANT_GFN)), GNTST_okay);
	cr_assert_eq(flags_of(1, 9), GTF_permit_access);
	assert_quiescent();
}

/* hv_grant_unpins counts the granter's dropped pins: maps move nothing,
 * each unmap one; other granters' counts stay. */
Test(gnttab, unpins_count_dropped_pins)
{
	grant_handle_t a, b;
	uint64_t u0 = hv_grant_unpins(fs->hv, 1);

	guest_grant(1, 9, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 9, GNTMAP_host_map, MAP_GFN, &a), GNTST_okay);
	cr_assert_eq(map(2, 1, 9, GNTMAP_host_map | GNTMAP_readonly, MAP_GFN + 1, &b), GNTST_okay);
	cr_assert_eq(hv_grant_unpins(fs->hv, 1), u0, "pins taken: no change");
	cr_assert_eq(unmap(2, a, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert_eq(hv_grant_unpins(fs->hv, 1), u0 + 1);
	cr_assert_eq(unmap(2, b, GPA(MAP_GFN + 1), 0), GNTST_okay);
	cr_assert_eq(hv_grant_unpins(fs->hv, 1), u0 + 2);
	cr_assert_eq(hv_grant_unpins(fs->hv, 2), 0, "domain 2 granted nothing");
	cr_assert_eq(hv_grant_unpins(fs->hv, 77), 0, "no such domain");
	assert_quiescent();
}

/* A guest may not revoke an entry in use: its cmpxchg protocol sees
 * GTF_reading. Once unmapped, the revoke succeeds. */
Test(gnttab, guest_cannot_revoke_mapped_entry)
{
	grant_handle_t h;

	guest_grant(1, 10, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 10, GNTMAP_host_map | GNTMAP_readonly, MAP_GFN, &h), GNTST_okay);
	cr_assert_not(guest_revoke(1, 10));
	cr_assert_eq(flags_of(1, 10), GTF_permit_access | GTF_reading);
	cr_assert_eq(unmap(2, h, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert(guest_revoke(1, 10));
	cr_assert_eq(map(2, 1, 10, GNTMAP_host_map, MAP_GFN, NULL), GNTST_general_error);
	assert_quiescent();
}

/* Later mappings reuse the frame read at the first pin, as in Xen. */
Test(gnttab, frame_fixed_while_pinned)
{
	struct gnttab_map_grant_ref a, b;

	guest_grant(1, 11, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map_ex(2, 1, 11, GNTMAP_host_map, GPA(MAP_GFN), &a), GNTST_okay);
	entry(1, 11)->frame = GRANT_GFN + 1;
	cr_assert_eq(map_ex(2, 1, 11, GNTMAP_host_map, GPA(MAP_GFN + 1), &b), GNTST_okay);
	cr_assert_eq(b.dev_bus_addr, GPA(GRANT_GFN));
	cr_assert_eq(memory_map_gfn(dom(2), MAP_GFN + 1), memory_map_gfn(dom(1), GRANT_GFN));
}

Test(gnttab, map_error_statuses)
{
	struct gnttab_map_grant_ref op;

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 8, 0, MAP_GFN, NULL), GNTST_bad_gntref);
	cr_assert_eq(map(2, 1, 8, GNTMAP_readonly, MAP_GFN, NULL), GNTST_bad_gntref);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map | GNTMAP_contains_pte, MAP_GFN, NULL),
		     GNTST_general_error);
	cr_assert_eq(map(2, DOMID_SELF, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_bad_domain);
	cr_assert_eq(map(2, 33, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_bad_domain);
	cr_assert_eq(map(2, 1, 512, GNTMAP_host_map, MAP_GFN, NULL), GNTST_bad_gntref);
	cr_assert_eq(map(2, 1, 0xffffffff, GNTMAP_host_map, MAP_GFN, NULL), GNTST_bad_gntref);
	cr_assert_eq(map(2, 1, 12, GNTMAP_host_map, MAP_GFN, NULL), GNTST_general_error);
	cr_assert_eq(map(0, 1, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_general_error,
		     "granted to d2, not d0");
	/* Bad address in the mapper: beyond its frame space, or an overlay. */
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, dom(2)->max_gfn, NULL), GNTST_bad_virt_addr);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, dom(2)->shared_info_gfn, NULL),
		     GNTST_bad_virt_addr, "shared_info lives there");
	cr_assert_eq(flags_of(1, 8), GTF_permit_access);

	guest_grant(1, 13, 2, GRANT_GFN, GTF_permit_access | GTF_sub_page);
	cr_assert_eq(map(2, 1, 13, GNTMAP_host_map, MAP_GFN, NULL), GNTST_general_error);
	guest_grant(1, 14, 2, NR_PAGES + 1, GTF_permit_access);
	cr_assert_eq(map(2, 1, 14, GNTMAP_host_map, MAP_GFN, NULL), GNTST_bad_page);
	cr_assert_eq(flags_of(1, 14), GTF_permit_access, "flags undone");
	cr_assert_eq(memory_depopulate(dom(1), GRANT_GFN + 2), 0);
	guest_grant(1, 15, 2, GRANT_GFN + 2, GTF_permit_access);
	cr_assert_eq(map(2, 1, 15, GNTMAP_host_map | GNTMAP_readonly, MAP_GFN, NULL),
		     GNTST_bad_page);
	cr_assert_eq(flags_of(1, 15), GTF_permit_access);
	guest_grant(1, 16, 2, NR_PAGES, GTF_permit_access); /* d1's shared_info */
	cr_assert_eq(map(2, 1, 16, GNTMAP_host_map, MAP_GFN, NULL), GNTST_bad_page);

	/* No failure consumed a handle or left a pin or an overlay. */
	cr_assert_not(has_overlay(2, MAP_GFN));
	assert_quiescent();
	cr_assert_eq(map_ex(2, 1, 8, GNTMAP_host_map, GPA(MAP_GFN), &op), GNTST_okay);
	cr_assert_eq(op.handle, 0);
}

Test(gnttab, map_self_grant)
{
	grant_handle_t h;

	guest_grant(1, 8, 1, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(1, 1, 8, GNTMAP_host_map, MAP_GFN, &h), GNTST_okay);
	cr_assert_eq(memory_map_gfn(dom(1), MAP_GFN), memory_map_gfn(dom(1), GRANT_GFN));
	cr_assert_eq(unmap(1, h, GPA(MAP_GFN), 0), GNTST_okay);
	assert_quiescent();
}

Test(gnttab, pinned_entry_refuses_other_domain)
{
	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_okay);
	entry(1, 8)->domid = 0; /* a misbehaving granter */
	cr_assert_eq(map(0, 1, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_general_error);
}

/* A guest that keeps rewriting its entry cannot livelock the hypervisor:
 * the cmpxchg gives up. Simulated by an entry whose word changes under
 * every attempt — here, by making the entry invalid for writing. */
Test(gnttab, writable_pin_after_readonly_grant_change)
{
	grant_handle_t ro;

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map | GNTMAP_readonly, MAP_GFN, &ro), GNTST_okay);
	/* grant_table.h: rw -> ro with a cmpxchg checking !GTF_writing. */
	__atomic_fetch_or(&entry(1, 8)->flags, GTF_readonly, __ATOMIC_SEQ_CST);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN + 1, NULL), GNTST_general_error);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access | GTF_readonly | GTF_reading);
	cr_assert_eq(unmap(2, ro, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access | GTF_readonly);
}

Test(gnttab, unmap_error_statuses)
{
	grant_handle_t h;

	cr_assert_eq(unmap(2, 0, GPA(MAP_GFN), 0), GNTST_bad_handle);
	cr_assert_eq(unmap(2, 0xffffffff, GPA(MAP_GFN), 0), GNTST_bad_handle);
	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN, &h), GNTST_okay);
	cr_assert_eq(unmap(2, h, GPA(MAP_GFN + 1), 0), GNTST_general_error);
	cr_assert_eq(unmap(2, h, GPA(MAP_GFN), GPA(GRANT_GFN + 1)), GNTST_general_error);
	cr_assert(has_overlay(2, MAP_GFN));
	/* Xen: a zero host_addr leaves the host mapping alone. */
	cr_assert_eq(unmap(2, h, 0, 0), GNTST_okay);
	cr_assert(has_overlay(2, MAP_GFN));
	cr_assert_eq(gnttab_maps_held(dom(2)), 1);
	cr_assert_eq(unmap(2, h, GPA(MAP_GFN) + 0x123, 0), GNTST_okay, "offset in page ignored");
	cr_assert_not(has_overlay(2, MAP_GFN));
	cr_assert_eq(unmap(2, h, GPA(MAP_GFN), 0), GNTST_bad_handle, "already unmapped");
	cr_assert_eq(unmap(1, h, GPA(MAP_GFN), 0), GNTST_bad_handle, "not d1's handle");
	assert_quiescent();
}

Test(gnttab, device_and_host_map_unmapped_in_parts)
{
	struct gnttab_map_grant_ref op;

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map_ex(2, 1, 8, GNTMAP_host_map | GNTMAP_device_map, GPA(MAP_GFN), &op),
		     GNTST_okay);
	cr_assert_eq(op.dev_bus_addr, GPA(GRANT_GFN));
	cr_assert_eq(pins(1, 8).host_write, 1);
	cr_assert_eq(pins(1, 8).dev_write, 1);
	cr_assert_eq(unmap(2, op.handle, 0, op.dev_bus_addr), GNTST_okay);
	cr_assert_eq(pins(1, 8).dev_write, 0);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access | GTF_reading | GTF_writing);
	cr_assert_eq(unmap(2, op.handle, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access);
	assert_quiescent();
}

/* The guest replaced the mapping's gfn with another overlay: the unmap
 * must not remove what is there now. */
Test(gnttab, unmap_keeps_replaced_overlay)
{
	grant_handle_t h;
	void *other = gnttab_shared_frame(dom(2), 0);

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN, &h), GNTST_okay);
	cr_assert_eq(memory_overlay_add(dom(2), MAP_GFN, other, false), 0);
	cr_assert_eq(unmap(2, h, GPA(MAP_GFN), 0), GNTST_okay);
	cr_assert_eq(memory_map_gfn(dom(2), MAP_GFN), other);
	assert_quiescent();
}

Test(gnttab, maptrack_exhaustion)
{
	struct hv_config cfg;
	static struct gnttab_map_grant_ref ops[GNTTAB_MAPTRACK_PER_FRAME + 1];
	unsigned int i;

	teardown();
	hv_config_defaults(&cfg);
	cfg.max_maptrack_frames = 1;
	setup_with(&cfg);
	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	for (i = 0; i <= GNTTAB_MAPTRACK_PER_FRAME; i++)
		ops[i] = (struct gnttab_map_grant_ref){
			.flags = GNTMAP_device_map | GNTMAP_readonly, .ref = 8, .dom = 1
		};
	cr_assert_eq(gop(2, GNTTABOP_map_grant_ref, ops, sizeof(ops[0]), i), 0);
	for (i = 0; i < GNTTAB_MAPTRACK_PER_FRAME; i++)
		cr_assert_eq(ops[i].status, GNTST_okay, "element %u", i);
	cr_assert_eq(ops[i].status, GNTST_no_device_space);
	cr_assert(fake_log_contains(fs, "d2: grant maptrack handles limit 256 reached"));
	cr_assert_eq(gnttab_maps_held(dom(2)), GNTTAB_MAPTRACK_PER_FRAME);
	cr_assert_eq(pins(1, 8).dev_read, GNTTAB_MAPTRACK_PER_FRAME);

	cr_assert_eq(unmap(2, ops[7].handle, 0, GPA(GRANT_GFN)), GNTST_okay);
	cr_assert_eq(map(2, 1, 8, GNTMAP_device_map | GNTMAP_readonly, 0, NULL), GNTST_okay);
	cr_assert_eq(map(2, 1, 8, GNTMAP_device_map | GNTMAP_readonly, 0, NULL),
		     GNTST_no_device_space);
}

Test(gnttab, maptrack_zero_frames_cannot_map)
{
	struct hv_config cfg;

	teardown();
	hv_config_defaults(&cfg);
	cfg.max_maptrack_frames = 0;
	setup_with(&cfg);
	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_no_device_space);
	assert_quiescent();
}

/* ---- batches ------------------------------------------------------------ */

Test(gnttab, batched_map_and_unmap_with_bad_element)
{
	struct gnttab_map_grant_ref m[3] = {
		{ .host_addr = GPA(MAP_GFN), .flags = GNTMAP_host_map, .ref = 8, .dom = 1 },
		{ .host_addr = GPA(MAP_GFN + 1), .flags = GNTMAP_host_map, .ref = 9999, .dom = 1 },
		{ .host_addr = GPA(MAP_GFN + 2), .flags = GNTMAP_host_map, .ref = 9, .dom = 1 },
	};
	struct gnttab_unmap_grant_ref u[3];

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	guest_grant(1, 9, 2, GRANT_GFN + 1, GTF_permit_access);
	cr_assert_eq(gop(2, GNTTABOP_map_grant_ref, m, sizeof(m[0]), 3), 0);
	cr_assert_eq(m[0].status, GNTST_okay);
	cr_assert_eq(m[1].status, GNTST_bad_gntref);
	cr_assert_eq(m[2].status, GNTST_okay);
	cr_assert_neq(m[0].handle, m[2].handle);
	cr_assert_eq(gnttab_maps_held(dom(2)), 2);

	u[0] = (struct gnttab_unmap_grant_ref){ .host_addr = GPA(MAP_GFN), .handle = m[0].handle };
	u[1] = (struct gnttab_unmap_grant_ref){ .host_addr = GPA(MAP_GFN), .handle = 77 };
	u[2] = (struct gnttab_unmap_grant_ref){ .host_addr = GPA(MAP_GFN + 2),
						.handle = m[2].handle };
	cr_assert_eq(gop(2, GNTTABOP_unmap_grant_ref, u, sizeof(u[0]), 3), 0);
	cr_assert_eq(u[0].status, GNTST_okay);
	cr_assert_eq(u[1].status, GNTST_bad_handle);
	cr_assert_eq(u[2].status, GNTST_okay);
	assert_quiescent();
}

Test(gnttab, batch_limits_and_faults)
{
	struct gnttab_map_grant_ref m = { .flags = GNTMAP_host_map, .ref = 8, .dom = 1 };

	cr_assert_eq(fake_hypercall_args(fs, 2, 0, __HYPERVISOR_grant_table_op,
					 GNTTABOP_map_grant_ref, FAKE_SCRATCH_GPA,
					 GNTTAB_MAX_BATCH + 1, 0, 0),
		     -EINVAL);
	cr_assert(fake_log_contains(fs, "d2: grant batch limit 1024 reached"));
	cr_assert_eq(fake_hypercall_args(fs, 2, 0, __HYPERVISOR_grant_table_op,
					 GNTTABOP_map_grant_ref, FAKE_SCRATCH_GPA, 0x80000000u, 0,
					 0),
		     -EINVAL);
	cr_assert_eq(fake_hypercall_args(fs, 2, 0, __HYPERVISOR_grant_table_op,
					 GNTTABOP_map_grant_ref | (1 << 12), FAKE_SCRATCH_GPA, 1, 0,
					 0),
		     -EINVAL);
	cr_assert_eq(fake_hypercall_args(fs, 2, 0, __HYPERVISOR_grant_table_op,
					 GNTTABOP_map_grant_ref, GPA(1u << 30), 1, 0, 0),
		     -EFAULT);
	cr_assert_eq(gop(2, GNTTABOP_map_grant_ref, &m, sizeof(m), 0), 0, "count 0: nothing");
	assert_quiescent();
}

/* ---- copy --------------------------------------------------------------- */

static int16_t copy(domid_t caller, struct gnttab_copy *c)
{
	cr_assert_eq(gop(caller, GNTTABOP_copy, c, sizeof(*c), 1), 0);
	return c->status;
}

Test(gnttab, copy_gref_to_local_and_back)
{
	char src[32] = "copied by the hypervisor", got[32] = { 0 };
	struct gnttab_copy c = {
		.source = { .u.ref = 8, .domid = 1, .offset = 64 },
		.dest = { .u.gmfn = 5, .domid = DOMID_SELF, .offset = 128 },
		.len = sizeof(src),
		.flags = GNTCOPY_source_gref,
	};

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access | GTF_readonly);
	cr_assert_eq(fake_write(fs, 1, GPA(GRANT_GFN) + 64, src, sizeof(src)), 0);
	cr_assert_eq(copy(2, &c), GNTST_okay);
	cr_assert_eq(fake_read(fs, 2, GPA(5) + 128, got, sizeof(got)), 0);
	cr_assert_str_eq(got, src);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access | GTF_readonly, "flags only for the copy");

	/* Back into a read-only grant: refused. Into a writable one: done. */
	c = (struct gnttab_copy){ .source = { .u.gmfn = 5, .domid = 2, .offset = 128 },
				  .dest = { .u.ref = 8, .domid = 1, .offset = 0 },
				  .len = sizeof(src),
				  .flags = GNTCOPY_dest_gref };
	cr_assert_eq(copy(2, &c), GNTST_general_error);
	guest_grant(1, 9, 2, GRANT_GFN + 1, GTF_permit_access);
	c.dest.u.ref = 9;
	cr_assert_eq(copy(2, &c), GNTST_okay);
	cr_assert_eq(fake_read(fs, 1, GPA(GRANT_GFN + 1), got, sizeof(got)), 0);
	cr_assert_str_eq(got, src);
	cr_assert_eq(flags_of(1, 9), GTF_permit_access);
	assert_quiescent();
}

Test(gnttab, copy_gref_to_gref_keeps_mapping_pins)
{
	struct gnttab_copy c = {
		.source = { .u.ref = 8, .domid = 1 },
		.dest = { .u.ref = 20, .domid = 0 },
		.len = 4096,
		.flags = GNTCOPY_source_gref | GNTCOPY_dest_gref,
	};
	uint8_t pattern[4096], got[4096];
	grant_handle_t h;

	memset(pattern, 0x5a, sizeof(pattern));
	cr_assert_eq(fake_write(fs, 1, GPA(GRANT_GFN), pattern, sizeof(pattern)), 0);
	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	guest_grant(0, 20, 2, GRANT_GFN + 3, GTF_permit_access);
	cr_assert_eq(map(2, 0, 20, GNTMAP_host_map | GNTMAP_readonly, MAP_GFN, &h), GNTST_okay);
	cr_assert_eq(copy(2, &c), GNTST_okay);
	cr_assert_eq(fake_read(fs, 0, GPA(GRANT_GFN + 3), got, sizeof(got)), 0);
	cr_assert_eq(memcmp(got, pattern, sizeof(got)), 0);
	cr_assert_eq(flags_of(0, 20), GTF_permit_access | GTF_reading, "mapping's flag stays");
	cr_assert_eq(pins(0, 20).host_read, 1);
	cr_assert_eq(pins(0, 20).host_write, 0);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access);

	/* Same ref as source and destination. */
	c.dest = c.source;
	c.dest.offset = 1;
	c.len = 100;
	cr_assert_eq(copy(2, &c), GNTST_okay);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access);
}

Test(gnttab, copy_error_statuses)
{
	struct gnttab_copy base = {
		.source = { .u.ref = 8, .domid = 1, .offset = 0 },
		.dest = { .u.gmfn = 5, .domid = DOMID_SELF, .offset = 0 },
		.len = 16,
		.flags = GNTCOPY_source_gref,
	};
	struct gnttab_copy c;

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	c = base;
	c.source.offset = 4090;
	cr_assert_eq(copy(2, &c), GNTST_bad_copy_arg);
	c = base;
	c.dest.offset = 4081;
	cr_assert_eq(copy(2, &c), GNTST_bad_copy_arg);
	c = base;
	c.dest.offset = 4080; /* exactly to the end */
	cr_assert_eq(copy(2, &c), GNTST_okay);
	c = base;
	c.dest.domid = 1; /* another domain's frame, not by gref */
	cr_assert_eq(copy(2, &c), GNTST_permission_denied);
	cr_assert_eq(copy(0, &c), GNTST_permission_denied, "even privileged");
	c = base;
	c.dest.domid = 2; /* own id spelled out */
	cr_assert_eq(copy(2, &c), GNTST_okay);
	c = base;
	c.source.domid = 40;
	cr_assert_eq(copy(2, &c), GNTST_bad_domain);
	c = base;
	c.source.u.ref = 5000;
	cr_assert_eq(copy(2, &c), GNTST_bad_gntref);
	c = base;
	c.source.u.ref = 9; /* invalid entry */
	cr_assert_eq(copy(2, &c), GNTST_general_error);
	c = base;
	c.dest.u.gmfn = dom(2)->max_gfn;
	cr_assert_eq(copy(2, &c), GNTST_bad_page);
	cr_assert_eq(memory_depopulate(dom(2), 6), 0);
	c = base;
	c.dest.u.gmfn = 6;
	cr_assert_eq(copy(2, &c), GNTST_bad_page);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access);
	assert_quiescent();
}

Test(gnttab, batched_copy_statuses)
{
	struct gnttab_copy c[3] = {
		{ .source = { .u.gmfn = 1, .domid = DOMID_SELF },
		  .dest = { .u.gmfn = 2, .domid = DOMID_SELF },
		  .len = 8 },
		{ .source = { .u.gmfn = 1, .domid = DOMID_SELF, .offset = 4095 },
		  .dest = { .u.gmfn = 2, .domid = DOMID_SELF },
		  .len = 8 },
		{ .source = { .u.gmfn = 1, .domid = DOMID_SELF },
		  .dest = { .u.gmfn = 3, .domid = DOMID_SELF },
		  .len = 8 },
	};

	cr_assert_eq(gop(2, GNTTABOP_copy, c, sizeof(c[0]), 3), 0);
	cr_assert_eq(c[0].status, GNTST_okay);
	cr_assert_eq(c[1].status, GNTST_bad_copy_arg);
	cr_assert_eq(c[2].status, GNTST_okay);
}

/* ---- transfer ----------------------------------------------------------- */

static int16_t transfer(domid_t from, xen_pfn_t gfn, domid_t to, grant_ref_t ref)
{
	struct gnttab_transfer t = { .mfn = gfn, .domid = to, .ref = ref };

	cr_assert_eq(gop(from, GNTTABOP_transfer, &t, sizeof(t), 1), 0);
	return t.status;
}

Test(gnttab, transfer_end_to_end)
{
	struct domain *s = dom(1), *r = dom(2);
	uint64_t s_pages = s->tot_pages, r_pages = r->tot_pages;
	char msg[24] = "this page changes owner", got[24];
	grant_entry_v1_t *e;

	guest_grant(2, 12, 1, 0, GTF_accept_transfer);
	cr_assert_eq(fake_write(fs, 1, GPA(GRANT_GFN) + 7, msg, sizeof(msg)), 0);
	cr_assert_eq(transfer(1, GRANT_GFN, 2, 12), GNTST_okay);

	e = entry(2, 12);
	cr_assert_eq(e->flags,
		     GTF_accept_transfer | GTF_transfer_committed | GTF_transfer_completed);
	cr_assert_geq(e->frame, NR_PAGES, "the receiver's first free frame");
	cr_assert(memory_gfn_populated(r, e->frame));
	cr_assert_eq(fake_read(fs, 2, GPA(e->frame) + 7, got, sizeof(got)), 0);
	cr_assert_str_eq(got, msg);
	cr_assert_not(memory_gfn_populated(s, GRANT_GFN));
	cr_assert_eq(s->tot_pages, s_pages - 1);
	cr_assert_eq(r->tot_pages, r_pages + 1);

	/* Committed: a second transfer into the same entry is refused. */
	cr_assert_eq(transfer(1, GRANT_GFN + 1, 2, 12), GNTST_general_error);
	cr_assert(memory_gfn_populated(s, GRANT_GFN + 1));
}

Test(gnttab, transfer_error_statuses_keep_the_page)
{
	grant_handle_t h;

	guest_grant(2, 12, 1, 0, GTF_accept_transfer);
	guest_grant(0, 12, 1, 0, GTF_accept_transfer);
	cr_assert_eq(transfer(1, NR_PAGES, 2, 12), GNTST_bad_page, "window gfn");
	cr_assert_eq(transfer(1, 1u << 30, 2, 12), GNTST_bad_page);
	cr_assert_eq(memory_depopulate(dom(1), 3), 0);
	cr_assert_eq(transfer(1, 3, 2, 12), GNTST_bad_page, "unpopulated");
	cr_assert_eq(transfer(1, GRANT_GFN, 44, 12), GNTST_bad_domain);
	cr_assert_eq(transfer(1, GRANT_GFN, DOMID_SELF, 12), GNTST_bad_domain);
	cr_assert_eq(transfer(1, GRANT_GFN, 0, 12), GNTST_general_error, "d0 has no headroom");
	cr_assert_eq(transfer(1, GRANT_GFN, 2, 13), GNTST_general_error, "not accept_transfer");
	cr_assert_eq(transfer(1, GRANT_GFN, 2, 600), GNTST_general_error, "beyond the table");
	guest_grant(2, 14, 0, 0, GTF_accept_transfer);
	cr_assert_eq(transfer(1, GRANT_GFN, 2, 14), GNTST_general_error, "for d0, not d1");

	/* A frame in use through one of the sender's grants stays. */
	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN, &h), GNTST_okay);
	cr_assert_eq(transfer(1, GRANT_GFN, 2, 12), GNTST_bad_page);
	cr_assert(memory_gfn_populated(dom(1), GRANT_GFN));
	cr_assert_eq(flags_of(2, 12), GTF_accept_transfer, "entry untouched");
	cr_assert_eq(dom(2)->tot_pages, NR_PAGES);
}

/* ---- versions, status frames, swap, unsupported ops -------------------- */

Test(gnttab, set_and_get_version)
{
	struct gnttab_set_version sv = { .version = 1 };
	struct gnttab_get_version gv = { .dom = DOMID_SELF };

	cr_assert_eq(gop(1, GNTTABOP_set_version, &sv, sizeof(sv), 1), 0);
	cr_assert_eq(sv.version, 1);
	sv.version = 2;
	cr_assert_eq(gop(1, GNTTABOP_set_version, &sv, sizeof(sv), 1), -ENOSYS);
	cr_assert_eq(sv.version, 1, "reports the version in effect");
	cr_assert(fake_log_contains(fs, "grant table v2 requested"));
	sv.version = 3;
	cr_assert_eq(gop(1, GNTTABOP_set_version, &sv, sizeof(sv), 1), -EINVAL);
	cr_assert_eq(sv.version, 1);

	gv.version = 99;
	cr_assert_eq(gop(1, GNTTABOP_get_version, &gv, sizeof(gv), 1), 0);
	cr_assert_eq(gv.version, 1);
	gv = (struct gnttab_get_version){ .dom = 2, .version = 99 };
	cr_assert_eq(gop(1, GNTTABOP_get_version, &gv, sizeof(gv), 1), -EPERM);
	cr_assert_eq(gv.version, 99);
	gv.dom = 50;
	cr_assert_eq(gop(0, GNTTABOP_get_version, &gv, sizeof(gv), 1), -ESRCH);
	gv.dom = 2;
	cr_assert_eq(gop(0, GNTTABOP_get_version, &gv, sizeof(gv), 1), 0);
	cr_assert_eq(gv.version, 1);
}

Test(gnttab, get_status_frames_v1)
{
	struct gnttab_get_status_frames g = { .nr_frames = 0, .dom = DOMID_SELF };

	set_xen_guest_handle(g.frame_list, (uint64_t *)FAKE_BUF_GPA);
	cr_assert_eq(gop(1, GNTTABOP_get_status_frames, &g, sizeof(g), 1), 0);
	cr_assert_eq(g.status, GNTST_okay);
	g.nr_frames = 1;
	cr_assert_eq(gop(1, GNTTABOP_get_status_frames, &g, sizeof(g), 1), 0);
	cr_assert_eq(g.status, GNTST_general_error);
	g.dom = 2;
	cr_assert_eq(gop(1, GNTTABOP_get_status_frames, &g, sizeof(g), 1), 0);
	cr_assert_eq(g.status, GNTST_permission_denied);
	g.dom = 70;
	cr_assert_eq(gop(1, GNTTABOP_get_status_frames, &g, sizeof(g), 1), 0);
	cr_assert_eq(g.status, GNTST_bad_domain);
	cr_assert_eq(gop_count(1, GNTTABOP_get_status_frames, &g, sizeof(g), 3), -EINVAL);
}

Test(gnttab, swap_grant_ref)
{
	struct gnttab_swap_grant_ref s[4] = {
		{ .ref_a = 8, .ref_b = 9 },
		{ .ref_a = 8, .ref_b = 512 },
		{ .ref_a = 10, .ref_b = 10 },
		{ .ref_a = 11, .ref_b = 9 },
	};

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	guest_grant(1, 9, 0, GRANT_GFN + 1, GTF_permit_access | GTF_readonly);
	guest_grant(1, 11, 2, GRANT_GFN + 2, GTF_permit_access);
	cr_assert_eq(map(2, 1, 11, GNTMAP_host_map, MAP_GFN, NULL), GNTST_okay);
	cr_assert_eq(gop(1, GNTTABOP_swap_grant_ref, s, sizeof(s[0]), 4), 0);
	cr_assert_eq(s[0].status, GNTST_okay);
	cr_assert_eq(s[1].status, GNTST_bad_gntref);
	cr_assert_eq(s[2].status, GNTST_okay);
	cr_assert_eq(s[3].status, GNTST_eagain, "ref 11 is mapped");
	cr_assert_eq(entry(1, 8)->domid, 0);
	cr_assert_eq(entry(1, 8)->frame, GRANT_GFN + 1);
	cr_assert_eq(entry(1, 9)->domid, 2);
	cr_assert_eq(entry(1, 9)->flags, GTF_permit_access);
}

Test(gnttab, unsupported_ops)
{
	uint8_t buf[64] = { 0 };

	cr_assert_eq(gop(1, GNTTABOP_unmap_and_replace, buf, 24, 1), -ENOSYS);
	cr_assert_eq(gop(1, GNTTABOP_cache_flush, buf, 16, 1), -ENOSYS);
	cr_assert_eq(gop(1, 13, buf, 16, 1), -ENOSYS);
	cr_assert_eq(gop(1, 4095, buf, 16, 1), -ENOSYS);
}

Test(gnttab, dump_table)
{
	struct gnttab_dump_table dt = { .dom = DOMID_SELF };

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(2, 1, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_okay);
	fake_clear_records(fs);
	cr_assert_eq(gop(1, GNTTABOP_dump_table, &dt, sizeof(dt), 1), 0);
	cr_assert_eq(dt.status, GNTST_okay);
	cr_assert(fake_log_contains(fs, "d1 grant table v1: 1/64 frames"));
	cr_assert(fake_log_contains(fs, "ref 8: flags 0x19 domid 2 frame 0x20 pins hr 0 hw 1"));
	dt.dom = 1;
	cr_assert_eq(gop(2, GNTTABOP_dump_table, &dt, sizeof(dt), 1), 0);
	cr_assert_eq(dt.status, GNTST_permission_denied);
	dt.dom = 99;
	cr_assert_eq(gop(0, GNTTABOP_dump_table, &dt, sizeof(dt), 1), 0);
	cr_assert_eq(dt.status, GNTST_bad_domain);
}

Test(gnttab, dump_table_is_bounded)
{
	struct gnttab_dump_table dt = { .dom = DOMID_SELF };
	grant_ref_t ref;

	for (ref = 8; ref < 200; ref++)
		guest_grant(1, ref, 2, GRANT_GFN, GTF_permit_access);
	fake_clear_records(fs);
	cr_assert_eq(gop(1, GNTTABOP_dump_table, &dt, sizeof(dt), 1), 0);
	cr_assert_leq(fs->nr_logs, 40);
	cr_assert(fake_log_contains(fs, "160 more entries in use"));
}

/* ---- teardown ----------------------------------------------------------- */

static void map_three(domid_t mapper, domid_t granter)
{
	struct gnttab_map_grant_ref op;
	unsigned int held = gnttab_maps_held(dom(mapper));
	unsigned long pinned = gnttab_pins_total(dom(granter));

	guest_grant(granter, 8, mapper, GRANT_GFN, GTF_permit_access);
	guest_grant(granter, 9, mapper, GRANT_GFN + 1, GTF_permit_access | GTF_readonly);
	cr_assert_eq(map(mapper, granter, 8, GNTMAP_host_map, MAP_GFN, NULL), GNTST_okay);
	cr_assert_eq(map(mapper, granter, 8, GNTMAP_host_map | GNTMAP_readonly, MAP_GFN + 1, NULL),
		     GNTST_okay);
	cr_assert_eq(map_ex(mapper, granter, 9, GNTMAP_device_map | GNTMAP_readonly, 0, &op),
		     GNTST_okay);
	cr_assert_eq(gnttab_maps_held(dom(mapper)), held + 3);
	cr_assert_eq(gnttab_pins_total(dom(granter)), pinned + 3);
}

Test(gnttab, teardown_of_granter_undoes_mappers)
{
	long pages = fake_xen_pages_live(fs);
	unsigned int overlays = dom(2)->nr_overlays;

	map_three(2, 1);
	cr_assert_eq(dom(2)->nr_overlays, overlays + 2);
	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	cr_assert_eq(gnttab_maps_held(dom(2)), 0);
	cr_assert_eq(dom(2)->nr_overlays, overlays);
	cr_assert_not(has_overlay(2, MAP_GFN));
	cr_assert_not(has_overlay(2, MAP_GFN + 1));
	cr_assert_eq(unmap(2, 0, GPA(MAP_GFN), 0), GNTST_bad_handle);
	cr_assert_lt(fake_xen_pages_live(fs), pages, "d1's pages freed");
	assert_quiescent();
}

Test(gnttab, teardown_of_mapper_clears_granter_flags)
{
	map_three(2, 1);
	map_three(1, 0); /* d1 is also a mapper, of d0 */
	cr_assert_eq(domain_destroy(fs->hv, 2), 0);
	cr_assert_eq(gnttab_pins_total(dom(1)), 0);
	cr_assert_eq(flags_of(1, 8), GTF_permit_access);
	cr_assert_eq(flags_of(1, 9), GTF_permit_access | GTF_readonly);
	cr_assert(guest_revoke(1, 8));
	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	cr_assert_eq(gnttab_pins_total(dom(0)), 0);
	cr_assert_eq(flags_of(0, 8), GTF_permit_access);
	cr_assert_eq(flags_of(0, 9), GTF_permit_access | GTF_readonly);
	assert_quiescent();
}

Test(gnttab, teardown_with_self_and_cross_mappings)
{
	grant_handle_t h;

	guest_grant(1, 30, 1, GRANT_GFN, GTF_permit_access);
	cr_assert_eq(map(1, 1, 30, GNTMAP_host_map, MAP_GFN + 10, &h), GNTST_okay);
	map_three(2, 1);
	map_three(1, 2);
	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	cr_assert_eq(gnttab_pins_total(dom(2)), 0);
	cr_assert_eq(flags_of(2, 8), GTF_permit_access);
	assert_quiescent();
	cr_assert_eq(domain_destroy(fs->hv, 2), 0);
	cr_assert_eq(domain_destroy(fs->hv, 0), 0);
}

Test(gnttab, getinfo_counts_maps)
{
	struct hv_domain_info info;

	map_three(2, 1);
	cr_assert_eq(domain_getinfo(fs->hv, 2, &info), 0);
	cr_assert_eq(info.nr_grant_maps, 3);
}

/* ---- substrate failures --------------------------------------------------- */

Test(gnttab, growth_fails_cleanly_without_xen_pages)
{
	struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 3 };

	set_xen_guest_handle(st.frame_list, (xen_pfn_t *)FAKE_BUF_GPA);
	fs->fail_xen_alloc_after = 2; /* frame 1 is allocated, frame 2 is not */
	cr_assert_eq(gop(1, GNTTABOP_setup_table, &st, sizeof(st), 1), 0);
	cr_assert_eq(st.status, GNTST_general_error);
	cr_assert_eq(gnttab_nr_frames(dom(1)), 2, "what was allocated stays usable");
	cr_assert_eq(gop(1, GNTTABOP_setup_table, &st, sizeof(st), 1), 0);
	cr_assert_eq(st.status, GNTST_okay);
	cr_assert_eq(gnttab_nr_frames(dom(1)), 3);
}

Test(gnttab, create_fails_cleanly_without_xen_pages)
{
	struct hv_domain_config cfg;
	long pages = fake_xen_pages_live(fs);
	domid_t got;
	int rc;

	hv_domain_config_defaults(&cfg);
	cfg.domid = 5;
	cfg.max_vcpus = 1;
	cfg.nr_pages = NR_PAGES;
	/* Fail each xen page allocation of creation in turn: the grant table's
	 * one among them; nothing may be left behind. */
	for (unsigned int n = 1; n < 8; n++) {
		fs->fail_xen_alloc_after = n;
		rc = domain_create(fs->hv, &cfg, &got, NULL);
		fs->fail_xen_alloc_after = 0;
		if (rc == 0)
			cr_assert_eq(domain_destroy(fs->hv, 5), 0);
		cr_assert_eq(fake_xen_pages_live(fs), pages, "n = %u", n);
	}
}

Test(gnttab, transfer_without_a_host_page_keeps_everything)
{
	guest_grant(2, 12, 1, 0, GTF_accept_transfer);
	/* ram_page calls: the fake placing the argument, the hypervisor
	 * copying it in, then the sender's page: that one fails. */
	fs->fail_ram_after = 3;
	cr_assert_eq(transfer(1, GRANT_GFN, 2, 12), GNTST_general_error);
	cr_assert(memory_gfn_populated(dom(1), GRANT_GFN));
	cr_assert_eq(flags_of(2, 12), GTF_accept_transfer);
	cr_assert_eq(dom(2)->tot_pages, NR_PAGES);
}

/* ---- active entries and maptrack growth ---------------------------------- */

/* calloc with an injected failure: the test binary links with
 * --wrap=calloc, so the core's calls come here. */
static unsigned int calloc_fail_in; /* fail the Nth calloc from now; 0 = never */
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
	if (calloc_fail_in && --calloc_fail_in == 0)
		return NULL;
	return __real_calloc(n, size);
}

Test(gnttab, pins_of_entries_across_chunks_and_frames)
{
	static const grant_ref_t refs[] = { 8, 31, 32, 63, 511, 512, 1023 };
	static const grant_ref_t idle[] = { 9, 30, 33, 64, 510, 513, 1022 };
	grant_handle_t h[sizeof(refs) / sizeof(refs[0])];
	unsigned int i, round;
	const uint32_t ro_dev = GNTMAP_device_map | GNTMAP_readonly;

	for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		guest_grant(1, refs[i], 2, GRANT_GFN + i, GTF_permit_access);
		guest_grant(1, idle[i], 2, GRANT_GFN + i, GTF_permit_access);
	}
	cr_assert_eq(gnttab_nr_frames(dom(1)), 2);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
			cr_assert_eq(map(2, 1, refs[i], ro_dev, 0, &h[i]), GNTST_okay, "ref %u",
				     refs[i]);
		for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
			cr_assert_eq(pins(1, refs[i]).dev_read, 1, "ref %u", refs[i]);
			cr_assert_eq(flags_of(1, refs[i]), GTF_permit_access | GTF_reading);
			cr_assert_eq(pins(1, idle[i]).dev_read, 0, "ref %u", idle[i]);
			cr_assert_eq(flags_of(1, idle[i]), GTF_permit_access);
		}
		cr_assert_eq(gnttab_pins_total(dom(1)), sizeof(refs) / sizeof(refs[0]));
		for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
			struct gnttab_map_grant_ref op;

			/* The frame read at the first pin is the one each entry names. */
			cr_assert_eq(map_ex(2, 1, refs[i], ro_dev, 0, &op), GNTST_okay);
			cr_assert_eq(op.dev_bus_addr, GPA(GRANT_GFN + i), "ref %u", refs[i]);
			cr_assert_eq(unmap(2, op.handle, 0, op.dev_bus_addr), GNTST_okay);
			cr_assert_eq(unmap(2, h[i], 0, GPA(GRANT_GFN + i)), GNTST_okay);
			cr_assert_eq(flags_of(1, refs[i]), GTF_permit_access);
		}
		assert_quiescent();
	}
	/* Never-pinned entries read as unpinned; one past the table does not. */
	cr_assert_eq(pins(1, 1000).host_read + pins(1, 1000).dev_write, 0);
	{
		struct gnttab_pins p;

		cr_assert_eq(gnttab_entry_pins(dom(1), 1024, &p), -ENOENT);
	}
}

Test(gnttab, maptrack_grows_past_several_frames)
{
	enum { FRAMES = 5, HANDLES = FRAMES * GNTTAB_MAPTRACK_PER_FRAME };
	static struct gnttab_map_grant_ref ops[HANDLES];
	static bool seen[HANDLES];
	struct hv_config cfg;
	unsigned int i, done;

	teardown();
	hv_config_defaults(&cfg);
	cfg.max_maptrack_frames = FRAMES; /* the frame array: 1, 2, 4, then 5 */
	setup_with(&cfg);
	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	for (i = 0; i < HANDLES; i++)
		ops[i] = (struct gnttab_map_grant_ref){
			.flags = GNTMAP_device_map | GNTMAP_readonly, .ref = 8, .dom = 1
		};
	/* In batches of one maptrack frame (what the fake's buffer holds). */
	for (done = 0; done < HANDLES; done += GNTTAB_MAPTRACK_PER_FRAME)
		cr_assert_eq(gop(2, GNTTABOP_map_grant_ref, ops + done, sizeof(ops[0]),
				 GNTTAB_MAPTRACK_PER_FRAME),
			     0);
	for (i = 0; i < HANDLES; i++) {
		cr_assert_eq(ops[i].status, GNTST_okay, "element %u", i);
		cr_assert_lt(ops[i].handle, HANDLES);
		cr_assert_not(seen[ops[i].handle], "handle %u twice", ops[i].handle);
		seen[ops[i].handle] = true;
	}
	cr_assert_eq(gnttab_maps_held(dom(2)), HANDLES);
	cr_assert_eq(map(2, 1, 8, GNTMAP_device_map | GNTMAP_readonly, 0, NULL),
		     GNTST_no_device_space);
	cr_assert(fake_log_contains(fs, "d2: grant maptrack handles limit 1280 reached"));
	for (i = 0; i < HANDLES; i++)
		cr_assert_eq(unmap(2, ops[i].handle, 0, GPA(GRANT_GFN)), GNTST_okay, "element %u",
			     i);
	assert_quiescent();
	cr_assert_eq(flags_of(1, 8), GTF_permit_access);
}

Test(gnttab, first_pin_without_memory_fails_cleanly)
{
	const uint32_t ro_dev = GNTMAP_device_map | GNTMAP_readonly;
	grant_handle_t h8, h40;

	guest_grant(1, 8, 2, GRANT_GFN, GTF_permit_access);
	guest_grant(1, 40, 2, GRANT_GFN + 1, GTF_permit_access | GTF_readonly);
	/* Ref 8's chunk and d2's first maptrack frame exist after this map. */
	cr_assert_eq(map(2, 1, 8, ro_dev, 0, &h8), GNTST_okay);

	calloc_fail_in = 1; /* ref 40's chunk (entries 32-63) */
	cr_assert_eq(map(2, 1, 40, ro_dev, 0, NULL), GNTST_general_error);
	cr_assert_eq(calloc_fail_in, 0, "the map asked for memory");
	cr_assert(fake_log_contains(fs, "d1: no memory for grant entry 40's pins"));
	cr_assert_eq(flags_of(1, 40), GTF_permit_access | GTF_readonly, "nothing flagged");
	cr_assert_eq(pins(1, 40).dev_read, 0);
	cr_assert_eq(gnttab_maps_held(dom(2)), 1, "no handle kept");
	cr_assert(guest_revoke(1, 40), "the guest may still revoke it");
	guest_grant(1, 40, 2, GRANT_GFN + 1, GTF_permit_access | GTF_readonly);

	cr_assert_eq(map(2, 1, 40, ro_dev, 0, &h40), GNTST_okay, "memory back: it maps");
	cr_assert_eq(pins(1, 40).dev_read, 1);
	cr_assert_eq(unmap(2, h40, 0, GPA(GRANT_GFN + 1)), GNTST_okay);
	cr_assert_eq(unmap(2, h8, 0, GPA(GRANT_GFN)), GNTST_okay);
	assert_quiescent();
}
