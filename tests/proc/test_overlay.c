/*
 * procdom's overlays (procdom.h): the gfns of a new overlay must lie in
 * the declared range, be free, and be named once; a refused batch leaves
 * nothing taken (the check marks gfns while it runs).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>

#include "procdom_fixture.h"

#define NR_PAGES 64
#define OVL_GFN 32
#define OVL_N 8

static struct procdom *pd;
static struct procdom_domain *d0;

static void setup(void)
{
	static const struct procdom_hooks hooks = { .log = pdf_log, .local_kick = pdf_no_kick };
	struct procdom_domain_spec spec = { .domid = 0,
					    .max_vcpus = 1,
					    .max_pages = NR_PAGES,
					    .xen_pages = 64 + PROCDOM_XEN_EXTRA,
					    .local = true };

	cr_assert_eq(procdom_create(&hooks, &pd), 0);
	cr_assert_eq(procdom_domain_prepare(pd, &spec, &d0), 0);
	cr_assert_eq(procdom_overlay_range(d0, OVL_GFN, OVL_N), 0);
}

static void teardown(void)
{
	procdom_domain_release(d0);
	procdom_destroy(pd);
}

TestSuite(overlay, .init = setup, .fini = teardown);

Test(overlay, gfns_checked_and_nothing_left_taken_on_refusal)
{
	const uint64_t dup[3] = { OVL_GFN, OVL_GFN + 1, OVL_GFN };
	const uint64_t outside[2] = { OVL_GFN + 2, OVL_GFN + OVL_N };
	const uint64_t below[1] = { OVL_GFN - 1 };
	const uint64_t two[2] = { OVL_GFN, OVL_GFN + 1 };
	const uint64_t again[2] = { OVL_GFN + 2, OVL_GFN + 1 };
	const uint64_t rest[OVL_N - 2] = { OVL_GFN + 2, OVL_GFN + 3, OVL_GFN + 4,
					   OVL_GFN + 5, OVL_GFN + 6, OVL_GFN + 7 };
	struct procdom_overlay *o = NULL, *p = NULL;

	cr_assert_eq(procdom_overlay_create(d0, "dup", dup, 3, &o), -EINVAL, "a gfn twice");
	cr_assert_eq(procdom_overlay_create(d0, "out", outside, 2, &o), -EINVAL, "past the range");
	cr_assert_eq(procdom_overlay_create(d0, "below", below, 1, &o), -EINVAL);
	cr_assert_eq(procdom_overlay_create(d0, "none", two, 0, &o), -EINVAL);
	/* Refusals took nothing: every gfn of the range is free. */
	cr_assert_eq(procdom_overlay_create(d0, "two", two, 2, &o), 0);
	cr_assert_eq(procdom_overlay_create(d0, "again", again, 2, &p), -EINVAL, "gfn taken");
	cr_assert_eq(procdom_overlay_create(d0, "rest", rest, OVL_N - 2, &p), 0,
		     "the refused batch left OVL_GFN + 2 free");
	procdom_overlay_destroy(p);
	procdom_overlay_destroy(o);
	cr_assert_eq(procdom_overlay_create(d0, "all", rest, OVL_N - 2, &p), 0, "detached: free");
	procdom_overlay_destroy(p);
}

/* An overlay whose pages are all detached while a pending map change still
 * holds it leaves its domain's list: releasing the domain must not drop
 * the creator's hold a second time (the pending map's put then freed it
 * twice; ASan+UBSan, which CI runs, reports it), and the last put frees
 * it. */
Test(overlay, detached_overlay_held_by_a_pending_map_outlives_its_domain)
{
	const uint64_t two[2] = { OVL_GFN, OVL_GFN + 1 };
	struct procdom_overlay *o = NULL;

	cr_assert_eq(procdom_overlay_create(d0, "held", two, 2, &o), 0);
	procdom_overlay_get(o); /* what a queued map change of its page does */
	procdom_overlay_destroy(o);
	cr_assert_null(d0->overlays, "no longer the creator's: off the list");
	cr_assert_eq(o->refs, 1, "only the pending map's hold is left");
	procdom_overlays_release(d0);
	cr_assert_eq(o->refs, 1, "the release did not drop a hold it had not");
	procdom_overlay_put(o); /* the map change sent or dropped: freed */
}
