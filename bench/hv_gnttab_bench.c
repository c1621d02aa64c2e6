/*
 * A grant map + unmap pair through hypercall(): the hypervisor core over
 * the fake substrate. dom1 grants one of its frames to dom0; dom0 maps it
 * with GNTMAP_host_map at a gfn of its overlay window and unmaps it again,
 * each op a GNTTABOP with its struct in dom0's guest RAM (the path a
 * back end takes per request).
 *
 *   gnttab-map-unmap   one map_grant_ref + one unmap_grant_ref hypercall:
 *                      argument copies, maptrack handle, the cmpxchg on the
 *                      granter's flags, the overlay added and removed, the
 *                      flags cleared.
 *
 * Baseline, same run: a non-inlined function doing the same guest-copy
 * work with plain memcpy on the same guest pages (32 bytes in and out for
 * the map, 24 in and 2 out for the unmap). Both loops also pay the
 * "guest" copying the handle from the map result into the unmap request,
 * so the ratio is what dispatch, translation and grant logic add.
 *
 * With --callgrind (valgrind --tool=callgrind --collect-atstart=no) only the
 * two hypercalls (or the baseline call) are collected, so Ir / ops is the
 * instruction count per pair.
 */
#include <string.h>

#include "bench.h"
#include "core.h"
#include "fake_substrate.h"

#define BENCH_RUNS 11
#define BENCH_ITERS 200000
#define BENCH_CG_ITERS 10000
#define BENCH_GRANT_GFN 32
#define BENCH_MAP_GFN 200 /* in dom0's overlay window (64 RAM frames) */
#define BENCH_UNMAP_GPA (FAKE_SCRATCH_GPA + 64)

struct bench {
	struct fake_substrate *fs;
	uint64_t map_args[5], unmap_args[5];
	/* dom0's view of its own argument structs (guest RAM). */
	struct gnttab_map_grant_ref *map;
	struct gnttab_unmap_grant_ref *unmap;
	uint8_t scratch[64];
};

static __attribute__((noinline)) void bench_pair(struct bench *b)
{
	if (hypercall(b->fs->hv, 0, 0, __HYPERVISOR_grant_table_op, b->map_args, NULL) != 0 ||
	    b->map->status != GNTST_okay)
		exit(1);
	b->unmap->handle = b->map->handle; /* the guest's part */
	if (hypercall(b->fs->hv, 0, 0, __HYPERVISOR_grant_table_op, b->unmap_args, NULL) != 0 ||
	    b->unmap->status != GNTST_okay)
		exit(1);
}

/* The copies a pair needs, without anything else. */
static __attribute__((noinline)) void bench_baseline(struct bench *b)
{
	memcpy(b->scratch, b->map, sizeof(*b->map));
	memcpy(b->map, b->scratch, sizeof(*b->map));
	b->unmap->handle = b->map->handle;
	memcpy(b->scratch, b->unmap, sizeof(*b->unmap));
	memcpy(&b->unmap->status, b->scratch + offsetof(struct gnttab_unmap_grant_ref, status),
	       sizeof(b->unmap->status));
	__asm__ volatile("" ::: "memory");
}

static void bench_setup(struct bench *b)
{
	struct gnttab_map_grant_ref m = { .host_addr = (uint64_t)BENCH_MAP_GFN << 12,
					  .flags = GNTMAP_host_map,
					  .ref = 8,
					  .dom = 1 };
	struct gnttab_unmap_grant_ref u = { .host_addr = m.host_addr };
	grant_entry_v1_t *e;
	uint8_t *page;

	memset(b, 0, sizeof(*b));
	b->fs = fake_create_pair(1, 64);
	if (!b->fs)
		exit(1);
	b->fs->quiet = true;
	e = (grant_entry_v1_t *)gnttab_shared_frame(domain_lookup(b->fs->hv, 1), 0) + 8;
	e->domid = 0;
	e->frame = BENCH_GRANT_GFN;
	__atomic_store_n(&e->flags, GTF_permit_access, __ATOMIC_RELEASE);
	if (fake_write(b->fs, 0, FAKE_SCRATCH_GPA, &m, sizeof(m)) < 0 ||
	    fake_write(b->fs, 0, BENCH_UNMAP_GPA, &u, sizeof(u)) < 0)
		exit(1);
	page = memory_map_gfn(domain_lookup(b->fs->hv, 0), FAKE_SCRATCH_GPA >> 12);
	b->map = (struct gnttab_map_grant_ref *)page;
	b->unmap = (struct gnttab_unmap_grant_ref *)(page + 64);
	b->map_args[0] = GNTTABOP_map_grant_ref;
	b->map_args[1] = FAKE_SCRATCH_GPA;
	b->map_args[2] = 1;
	b->unmap_args[0] = GNTTABOP_unmap_grant_ref;
	b->unmap_args[1] = BENCH_UNMAP_GPA;
	b->unmap_args[2] = 1;
}

/* ns per pair (kind 1) or per baseline call (kind 0), for bench_figure_ns. */
static double bench_loop(void *ctx, int kind)
{
	struct bench *b = ctx;
	uint64_t t0 = bench_now_ns();
	long i;

	for (i = 0; i < BENCH_ITERS; i++) {
		if (kind)
			bench_pair(b);
		else
			bench_baseline(b);
	}
	/* The fake records every physmap_set; keep its arrays from mattering. */
	fake_clear_records(b->fs);
	return (double)(bench_now_ns() - t0) / BENCH_ITERS;
}

static void bench_callgrind(struct bench *b, const char *name, int kind)
{
	long i;

	bench_cg_begin();
	for (i = 0; i < BENCH_CG_ITERS; i++) {
		if (kind)
			bench_pair(b);
		else
			bench_baseline(b);
	}
	bench_cg_end(name, BENCH_CG_ITERS);
	fake_clear_records(b->fs);
}

int main(int argc, char **argv)
{
	struct bench b;

	bench_setup(&b);
	if (argc > 1 && !strcmp(argv[1], "--callgrind")) {
		bench_callgrind(&b, "gnttab-map-unmap", 1);
		bench_callgrind(&b, "gnttab-map-unmap-baseline", 0);
	} else {
		bench_figure_ns("gnttab-map-unmap", BENCH_RUNS, bench_loop, &b);
	}
	fake_destroy(b.fs);
	return 0;
}
