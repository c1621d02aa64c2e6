/*
 * Guest frame space: bounds, population, overlays (sorted, bounded, hiding
 * RAM), depopulate/populate, and copy_to/from_guest across pages and faults.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core.h"
#include "fake_substrate.h"

static struct fake_substrate *fs;
static struct domain *d;

static void setup(void)
{
	struct hv_domain_config cfg;
	domid_t id;

	fs = fake_create_quiet(NULL);
	cr_assert(fs);
	hv_domain_config_defaults(&cfg);
	cfg.nr_pages = 64;
	cfg.max_pages = 80;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), 0);
	d = domain_lookup(fs->hv, id);
}

static void teardown(void)
{
	fake_destroy(fs);
}

TestSuite(memory, .init = setup, .fini = teardown);

static uint8_t page_a[4096] __attribute__((aligned(4096)));
static uint8_t page_b[4096] __attribute__((aligned(4096)));

Test(memory, bounds_and_population)
{
	cr_assert_eq(d->max_gfn, 80 + HV_SPECIAL_GFNS);
	cr_assert_eq(d->tot_pages, 64);
	cr_assert(memory_gfn_populated(d, 0));
	cr_assert(memory_gfn_populated(d, 63));
	cr_assert_not(memory_gfn_populated(d, 64)); /* balloon room */
	cr_assert_not(memory_gfn_populated(d, 80));
	cr_assert(memory_map_gfn(d, 5));
	cr_assert_eq(memory_map_gfn(d, 5), fake_ram_frame(fs, d->domid, 5));
	cr_assert_null(memory_map_gfn(d, 64));
	cr_assert_null(memory_map_gfn(d, d->max_gfn));
	cr_assert_null(memory_map_gfn(d, UINT64_MAX));
	/* shared_info is the first overlay gfn. */
	cr_assert_eq(memory_map_gfn(d, 80), d->shared_info);
	cr_assert(memory_gfn_is_ram(d, 5));
	cr_assert_not(memory_gfn_is_ram(d, 80));
}

Test(memory, overlay_hides_ram_until_removed)
{
	void *ram = memory_map_gfn(d, 10), *page;
	bool ro;
	unsigned int before = fs->nr_physmaps;

	cr_assert_eq(memory_overlay_add(d, 10, page_a, false), 0);
	cr_assert_eq(memory_map_gfn(d, 10), page_a);
	cr_assert_not(memory_gfn_is_ram(d, 10));
	cr_assert_eq(memory_overlay_lookup(d, 10, &page, &ro), 0);
	cr_assert_eq(page, page_a);
	cr_assert_not(ro);
	cr_assert_eq(fs->nr_physmaps, before + 1);
	cr_assert_eq(fs->physmaps[before].gfn, 10);
	cr_assert_eq(fs->physmaps[before].page, page_a);
	/* Replacing keeps one entry per gfn. */
	cr_assert_eq(memory_overlay_add(d, 10, page_b, true), 0);
	cr_assert_eq(memory_map_gfn(d, 10), page_b);
	cr_assert_null(memory_map_gfn_writable(d, 10));
	cr_assert_eq(memory_overlay_remove(d, 10), 0);
	cr_assert_eq(memory_map_gfn(d, 10), ram);
	cr_assert_null(fs->physmaps[fs->nr_physmaps - 1].page);
	cr_assert_eq(memory_overlay_remove(d, 10), -ENOENT);
	cr_assert_eq(memory_overlay_lookup(d, 10, NULL, NULL), -ENOENT);
	cr_assert_eq(memory_overlay_add(d, d->max_gfn, page_a, false), -EINVAL);
	cr_assert_eq(memory_overlay_add(d, 11, NULL, false), -EINVAL);
}

Test(memory, overlays_stay_sorted)
{
	unsigned int i, n = 500;
	uint64_t gfn;

	srand(7);
	for (i = 0; i < n; i++) {
		gfn = (uint64_t)rand() % d->max_gfn;
		cr_assert_eq(memory_overlay_add(d, gfn, (i & 1) ? page_a : page_b, false), 0);
	}
	for (i = 1; i < d->nr_overlays; i++)
		cr_assert_lt(d->overlays[i - 1].gfn, d->overlays[i].gfn);
	for (i = 0; i < d->nr_overlays; i++)
		cr_assert_neq(memory_map_gfn(d, d->overlays[i].gfn), NULL);
	memory_overlay_remove_page(d, page_a);
	memory_overlay_remove_page(d, page_b);
	/* Only shared_info is left. */
	cr_assert_eq(d->nr_overlays, 1);
	cr_assert_eq(d->overlays[0].page, d->shared_info);
}

Test(memory, overlay_limit_logged_once)
{
	struct hv_domain_config cfg;
	struct domain *big;
	uint64_t gfn;
	domid_t id;

	hv_domain_config_defaults(&cfg);
	cfg.nr_pages = HV_MAX_OVERLAYS + 64;
	cr_assert_eq(domain_create(fs->hv, &cfg, &id, NULL), 0);
	big = domain_lookup(fs->hv, id);
	/* shared_info is overlay number one. */
	for (gfn = 0; gfn < HV_MAX_OVERLAYS - 1; gfn++)
		cr_assert_eq(memory_overlay_add(big, gfn, page_a, false), 0);
	cr_assert_eq(memory_overlay_add(big, gfn, page_a, false), -ENOSPC);
	cr_assert_eq(memory_overlay_add(big, gfn + 1, page_a, false), -ENOSPC);
	cr_assert(fake_log_contains(fs, "overlay limit"));
	cr_assert_eq(fs->nr_logs, 1);
	/* Replacing an existing one still works at the limit. */
	cr_assert_eq(memory_overlay_add(big, 0, page_b, false), 0);
}

Test(memory, depopulate_and_populate)
{
	uint64_t gfn;
	uint8_t *p = memory_map_gfn(d, 3);

	memset(p, 0x5a, 4096);
	cr_assert_eq(memory_depopulate(d, 3), 0);
	cr_assert_eq(d->tot_pages, 63);
	cr_assert_null(memory_map_gfn(d, 3));
	cr_assert_eq(memory_depopulate(d, 3), -EINVAL);
	cr_assert_eq(memory_depopulate(d, 70), -EINVAL);
	cr_assert_eq(memory_depopulate(d, 5000), -EINVAL);
	cr_assert_eq(memory_populate_any(d, &gfn), 0);
	cr_assert_eq(gfn, 3);
	p = memory_map_gfn(d, 3);
	cr_assert_eq(p[0], 0);
	cr_assert_eq(p[4095], 0);
	/* Fill the balloon room, then there is none. */
	while (d->tot_pages < d->max_pages)
		cr_assert_eq(memory_populate_any(d, &gfn), 0);
	cr_assert_eq(gfn, 79);
	cr_assert_eq(memory_populate_any(d, &gfn), -ENOMEM);
}

Test(memory, copy_across_pages)
{
	struct vcpu *v = &d->vcpus[0];
	uint8_t in[6000], out[6000];
	unsigned int i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7);
	cr_assert_eq(copy_to_guest(v, 0x4ff0, in, sizeof(in)), 0);
	cr_assert_eq(copy_from_guest(v, out, 0x4ff0, sizeof(out)), 0);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	cr_assert_eq(((uint8_t *)memory_map_gfn(d, 5))[0], in[16]);
	cr_assert_eq(copy_to_guest(v, 0x1234, in, 0), 0);
}

Test(memory, copy_faults)
{
	struct vcpu *v = &d->vcpus[0];
	uint8_t buf[64], *last = memory_map_gfn(d, 63);

	memset(buf, 0xee, sizeof(buf));
	/* Straddles the last RAM frame and an unpopulated one: nothing is
	 * written, not even the part that would fit. */
	last[4095] = 0x11;
	cr_assert_eq(copy_to_guest(v, (64ULL << 12) - 1, buf, 2), -EFAULT);
	cr_assert_eq(last[4095], 0x11);
	cr_assert_eq(copy_from_guest(v, buf, (64ULL << 12) - 1, 2), -EFAULT);
	cr_assert_eq(copy_from_guest(v, buf, UINT64_MAX - 2, 8), -EFAULT);
	cr_assert_eq(copy_from_guest(v, buf, (uint64_t)d->max_gfn << 12, 8), -EFAULT);
	/* A read-only overlay can be read, not written. */
	cr_assert_eq(memory_overlay_add(d, 20, page_a, true), 0);
	cr_assert_eq(copy_from_guest(v, buf, 20ULL << 12, 8), 0);
	cr_assert_eq(copy_to_guest(v, 20ULL << 12, buf, 8), -EFAULT);
	/* The substrate's translate() can refuse an address. */
	fs->translate_limit = 0x3000;
	cr_assert_eq(copy_from_guest(v, buf, 0x2ff8, 16), -EFAULT);
	cr_assert_eq(copy_from_guest(v, buf, 0x2000, 16), 0);
}
