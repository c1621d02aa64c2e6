/*
 * The core tells its substrate which mappings are read-only
 * (substrate_ops.physmap_set's readonly): a GNTMAP_readonly host mapping
 * is recorded read-only, a writable one and the unmap are not. xenon-hvd's
 * procdom turns the flag into procdom_map.readonly (test_hvd_grants.c sees
 * it in a real reply) and the runtime into PROT_READ.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core.h"
#include "fake_substrate.h"

#define GRANT_GFN 40
#define MAP_GFN 200

static struct fake_substrate *fs;

static void setup(void)
{
	grant_entry_v1_t *e;

	fs = fake_create_pair(1, 64);
	cr_assert_not_null(fs);
	fs->quiet = true;
	e = gnttab_shared_frame(domain_lookup(fs->hv, 1), 0);
	cr_assert_not_null(e);
	e[8].domid = 0;
	e[8].frame = GRANT_GFN;
	__atomic_store_n(&e[8].flags, (uint16_t)GTF_permit_access, __ATOMIC_RELEASE);
}

static void teardown(void)
{
	fake_destroy(fs);
}

static struct gnttab_map_grant_ref map(bool readonly, uint64_t gfn)
{
	struct gnttab_map_grant_ref op = { .host_addr = gfn << XENON_PAGE_SHIFT,
					   .flags = GNTMAP_host_map |
						    (readonly ? GNTMAP_readonly : 0),
					   .ref = 8,
					   .dom = 1 };

	cr_assert_eq(fake_hypercall(fs, 0, 0, __HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref,
				    &op, sizeof(op), &op),
		     0);
	cr_assert_eq(op.status, GNTST_okay);
	return op;
}

static const struct fake_physmap *last_physmap(void)
{
	cr_assert_gt(fs->nr_physmaps, 0);
	return &fs->physmaps[fs->nr_physmaps - 1];
}

Test(physmap, readonly_mapping_is_marked, .init = setup, .fini = teardown)
{
	struct gnttab_map_grant_ref ro = map(true, MAP_GFN), rw;
	struct gnttab_unmap_grant_ref un = { .host_addr = ro.host_addr, .handle = ro.handle };

	cr_expect_eq(last_physmap()->gfn, MAP_GFN);
	cr_expect_not_null(last_physmap()->page);
	cr_expect(last_physmap()->readonly, "GNTMAP_readonly reaches the substrate");
	rw = map(false, MAP_GFN + 1);
	cr_expect_eq(last_physmap()->gfn, MAP_GFN + 1);
	cr_expect_not(last_physmap()->readonly);
	cr_expect_eq(rw.status, GNTST_okay, "the read-write map succeeded");
	cr_assert_eq(fake_hypercall(fs, 0, 0, __HYPERVISOR_grant_table_op, GNTTABOP_unmap_grant_ref,
				    &un, sizeof(un), &un),
		     0);
	cr_expect_eq(un.status, GNTST_okay);
	cr_expect_eq(last_physmap()->gfn, MAP_GFN);
	cr_expect_null(last_physmap()->page);
	cr_expect_not(last_physmap()->readonly, "the unmap restores, never read-only");
}
