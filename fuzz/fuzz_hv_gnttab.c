/*
 * State-machine fuzzer for grant tables: random grant operations from three
 * domains (dom0 privileged), with the "guests" writing random entries into
 * their shared frames, all through hypercall() over the fake substrate. A
 * shadow model of the live mappings is kept from the statuses the
 * hypervisor returns; the invariants below are checked after every
 * operation and a violation aborts (the fuzzer's signal).
 *
 * Input: records of 8 bytes, at most FUZZ_MAX_OPS of them:
 *
 *   byte 0  op      (modulo the op count)
 *   byte 1  caller  (modulo 3)
 *   byte 2  x       flags / type / sub-selector, per op
 *   byte 3  y       domain selector (0, 1, 2, 3 = none, DOMID_SELF)
 *   byte 4-5 ref    little endian; bit 15 set: a wild ref (0..2047), else
 *                   one of FUZZ_WINDOW refs at the start of frame 0 or 1
 *                   (bit 8), so entries get reused and the checks stay
 *                   cheap: only those refs can ever be pinned
 *   byte 6  z       frame / gfn selector
 *   byte 7  w       batch size and oddities
 *
 * Guests follow grant_table.h: they rewrite an entry only when neither
 * GTF_reading nor GTF_writing is set, revoke with a cmpxchg that checks
 * both, set GTF_readonly with a cmpxchg that checks GTF_writing.
 *
 * Invariants, for every live domain:
 *   - maps_held equals the mappings the shadow model holds for it;
 *   - every pin counter of every entry equals the shadow's count, and the
 *     table's pin total is their sum (mapping counts balance);
 *   - GTF_reading is set exactly when the entry has a pin, GTF_writing
 *     exactly when it has a writable pin;
 *   - every overlay is the domain's shared_info, one of its own grant
 *     frames, or a live host mapping at that gfn showing the recorded page,
 *     and every live host mapping has its overlay: after a teardown no
 *     mapping of or by the dead domain survives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include <xen/memory.h>
#include "fake_substrate.h"

#define FUZZ_NR_DOMAINS 3
#define FUZZ_MAX_OPS 512
#define FUZZ_REC 8
#define FUZZ_NR_PAGES 48
#define FUZZ_MAX_FRAMES 2
#define FUZZ_MAX_MAPS (FUZZ_NR_DOMAINS * GNTTAB_MAPTRACK_PER_FRAME)
#define FUZZ_PER_FRAME 512
#define FUZZ_WINDOW 48 /* refs used per frame */

#define FUZZ_CHECK(cond, ...)                                                       \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz_hv_gnttab: invariant: " __VA_ARGS__); \
			fputc('\n', stderr);                                        \
			abort();                                                    \
		}                                                                   \
	} while (0)

struct fuzz_rec {
	uint8_t op, caller, x, y;
	uint16_t ref;
	uint8_t z, w;
};

/* One live mapping, as the hypervisor reported it. */
struct fuzz_map {
	bool live;
	domid_t mapper, granter;
	uint32_t handle;
	grant_ref_t ref;
	uint16_t kinds; /* GNTMAP_host_map | GNTMAP_device_map still mapped */
	bool readonly;
	uint64_t gfn, bus;
	void *page;
};

struct fuzz {
	struct fake_substrate *fs;
	struct fuzz_map maps[FUZZ_MAX_MAPS];
	unsigned int top; /* maps[top..] were never used: loops stop there */
	struct gnttab_pins expect[FUZZ_NR_DOMAINS][FUZZ_MAX_FRAMES * FUZZ_WINDOW];
};

static const domid_t fuzz_domids[5] = { 0, 1, 2, 3, DOMID_SELF };

static grant_ref_t fuzz_ref(uint16_t raw)
{
	if (raw & 0x8000)
		return raw & 0x7ff;
	return raw % FUZZ_WINDOW + (raw & 0x100 ? FUZZ_PER_FRAME : 0);
}

/* Index of a ref in the checked windows, or -1. */
static int fuzz_slot(grant_ref_t ref)
{
	unsigned int frame = ref / FUZZ_PER_FRAME, off = ref % FUZZ_PER_FRAME;

	return frame < FUZZ_MAX_FRAMES && off < FUZZ_WINDOW ? (int)(frame * FUZZ_WINDOW + off) : -1;
}

static struct domain *fuzz_dom(struct fuzz *f, domid_t domid)
{
	return domain_lookup(f->fs->hv, domid);
}

static int fuzz_create(struct fuzz *f, domid_t domid)
{
	struct hv_domain_config cfg;
	domid_t got;

	hv_domain_config_defaults(&cfg);
	cfg.domid = domid;
	cfg.privileged = domid == 0;
	cfg.max_vcpus = 1;
	cfg.nr_pages = FUZZ_NR_PAGES;
	cfg.max_pages = FUZZ_NR_PAGES + 2 * domid; /* headroom for transfers */
	return domain_create(f->fs->hv, &cfg, &got, NULL);
}

/* The guest's own entry, if its table has that frame. */
static grant_entry_v1_t *fuzz_entry(struct fuzz *f, domid_t domid, grant_ref_t ref)
{
	struct domain *d = fuzz_dom(f, domid);

	if (!d || ref / FUZZ_PER_FRAME >= gnttab_nr_frames(d))
		return NULL;
	return (grant_entry_v1_t *)gnttab_shared_frame(d, ref / FUZZ_PER_FRAME) +
	       ref % FUZZ_PER_FRAME;
}

static long fuzz_gop(struct fuzz *f, domid_t caller, unsigned int cmd, void *op, size_t size,
		     unsigned int count)
{
	return fake_hypercall_count(f->fs, caller, 0, __HYPERVISOR_grant_table_op, cmd, op,
				    size * count, count, op);
}

/* ---- guest behaviour --------------------------------------------------- */

static void fuzz_guest_grant(struct fuzz *f, const struct fuzz_rec *r)
{
	static const uint16_t types[4] = { GTF_permit_access, GTF_permit_access | GTF_readonly,
					   GTF_accept_transfer, GTF_permit_access | GTF_sub_page };
	grant_entry_v1_t *e = fuzz_entry(f, r->caller, fuzz_ref(r->ref));
	uint16_t flags;

	if (!e || fuzz_slot(fuzz_ref(r->ref)) < 0)
		return;
	flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	if (flags & (GTF_reading | GTF_writing))
		return;
	e->domid = fuzz_domids[r->y % 5];
	e->frame = r->z % (FUZZ_NR_PAGES + 8);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->flags, types[r->x % 4], __ATOMIC_RELAXED);
}

static void fuzz_guest_revoke(struct fuzz *f, const struct fuzz_rec *r)
{
	grant_entry_v1_t *e = fuzz_entry(f, r->caller, fuzz_ref(r->ref));
	uint16_t flags;

	if (!e)
		return;
	flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	if (flags & (GTF_reading | GTF_writing))
		return;
	__atomic_compare_exchange_n(&e->flags, &flags, 0, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
}

static void fuzz_guest_readonly(struct fuzz *f, const struct fuzz_rec *r)
{
	grant_entry_v1_t *e = fuzz_entry(f, r->caller, fuzz_ref(r->ref));
	uint16_t flags;

	if (!e)
		return;
	if (r->x & 1) {
		__atomic_fetch_and(&e->flags, (uint16_t)~GTF_readonly, __ATOMIC_SEQ_CST);
		return;
	}
	flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	if (!(flags & GTF_writing))
		__atomic_compare_exchange_n(&e->flags, &flags, flags | GTF_readonly, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static void fuzz_guest_physmap(struct fuzz *f, const struct fuzz_rec *r)
{
	struct xen_add_to_physmap x = { .domid = DOMID_SELF,
					.space = XENMAPSPACE_grant_table,
					.idx = r->x % (FUZZ_MAX_FRAMES + 1),
					.gpfn = FUZZ_NR_PAGES + r->z * 4 };

	fake_hypercall(f->fs, r->caller, 0, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x,
		       sizeof(x), NULL);
}

/* ---- shadow model ------------------------------------------------------- */

static void fuzz_shadow_add(struct fuzz *f, domid_t mapper, const struct gnttab_map_grant_ref *op)
{
	struct domain *m = fuzz_dom(f, mapper);
	unsigned int i;

	for (i = 0; i < FUZZ_MAX_MAPS && f->maps[i].live; i++)
		;
	FUZZ_CHECK(i < FUZZ_MAX_MAPS, "more mappings than maptrack handles");
	if (i == f->top)
		f->top++;
	f->maps[i] = (struct fuzz_map){
		.live = true,
		.mapper = mapper,
		.granter = op->dom,
		.handle = op->handle,
		.ref = op->ref,
		.kinds = op->flags & (GNTMAP_host_map | GNTMAP_device_map),
		.readonly = op->flags & GNTMAP_readonly,
		.gfn = op->host_addr >> XENON_PAGE_SHIFT,
		.bus = op->dev_bus_addr,
		.page = op->flags & GNTMAP_host_map ? memory_map_gfn(m, op->host_addr >> 12) : NULL,
	};
}

static struct fuzz_map *fuzz_shadow_find(struct fuzz *f, domid_t mapper, uint32_t handle)
{
	unsigned int i;

	for (i = 0; i < f->top; i++) {
		struct fuzz_map *m = &f->maps[i];

		if (m->live && m->mapper == mapper && m->handle == handle)
			return m;
	}
	return NULL;
}

/* The n-th live mapping held by mapper, or NULL. */
static struct fuzz_map *fuzz_shadow_nth(struct fuzz *f, domid_t mapper, unsigned int n)
{
	unsigned int i, seen = 0, count = 0;

	for (i = 0; i < f->top; i++)
		count += f->maps[i].live && f->maps[i].mapper == mapper;
	if (!count)
		return NULL;
	n %= count;
	for (i = 0; i < f->top; i++) {
		if (f->maps[i].live && f->maps[i].mapper == mapper && seen++ == n)
			return &f->maps[i];
	}
	return NULL;
}

static void fuzz_shadow_purge(struct fuzz *f, domid_t domid)
{
	unsigned int i;

	for (i = 0; i < f->top; i++) {
		if (f->maps[i].mapper == domid || f->maps[i].granter == domid)
			f->maps[i].live = false;
	}
}

/* ---- hypervisor operations --------------------------------------------- */

static void fuzz_map(struct fuzz *f, const struct fuzz_rec *r)
{
	struct gnttab_map_grant_ref ops[4];
	unsigned int n = 1 + (r->w & 3), i;
	struct domain *m = fuzz_dom(f, r->caller);

	for (i = 0; i < n; i++) {
		uint64_t gfn = (r->w & 0x80) ? m->max_gfn + i : 20 + ((r->z + 7 * i) & 0xff) * 4;

		ops[i] = (struct gnttab_map_grant_ref){
			.host_addr = gfn << XENON_PAGE_SHIFT,
			.flags = (r->x >> (i & 1)) & 0x1f,
			.ref = fuzz_ref((uint16_t)(r->ref + i)),
			.dom = fuzz_domids[(r->y + (r->w >> 4) * i) % 5],
		};
	}
	if (fuzz_gop(f, r->caller, GNTTABOP_map_grant_ref, ops, sizeof(ops[0]), n) != 0)
		return;
	for (i = 0; i < n; i++) {
		if (ops[i].status == GNTST_okay)
			fuzz_shadow_add(f, r->caller, &ops[i]);
	}
}

/* Apply Xen's unmap semantics to the shadow: a zero address keeps that
 * part of the mapping. */
static void fuzz_unmap(struct fuzz *f, const struct fuzz_rec *r)
{
	struct fuzz_map *m = fuzz_shadow_nth(f, r->caller, r->ref);
	struct gnttab_unmap_grant_ref op = { .handle = m ? m->handle : r->ref };
	uint16_t done = 0;

	if (m && (r->x & 1))
		op.host_addr = (m->gfn << XENON_PAGE_SHIFT) + (r->x & 2 ? XENON_PAGE_SIZE : 0);
	if (m && (r->x & 4))
		op.dev_bus_addr = m->bus + (r->x & 8 ? XENON_PAGE_SIZE : 0);
	if (r->w & 0x40)
		op.handle = r->ref | (uint32_t)r->z << 16;
	if (fuzz_gop(f, r->caller, GNTTABOP_unmap_grant_ref, &op, sizeof(op), 1) != 0)
		return;
	m = fuzz_shadow_find(f, r->caller, op.handle);
	FUZZ_CHECK((op.status == GNTST_bad_handle) == !m, "d%u handle %u: status %d", r->caller,
		   op.handle, op.status);
	if (op.status != GNTST_okay)
		return;
	if (op.host_addr)
		done |= GNTMAP_host_map;
	if (op.dev_bus_addr)
		done |= GNTMAP_device_map;
	m->kinds &= (uint16_t)~done;
	m->live = m->kinds != 0;
}

static void fuzz_copy(struct fuzz *f, const struct fuzz_rec *r)
{
	struct gnttab_copy c = {
		.source = { .domid = fuzz_domids[r->y % 5], .offset = (uint16_t)(r->z * 17) },
		.dest = { .domid = fuzz_domids[(r->y >> 3) % 5], .offset = (uint16_t)(r->w * 13) },
		.len = (uint16_t)(r->x * 19),
		.flags = r->x & 3,
	};

	if (c.flags & GNTCOPY_source_gref)
		c.source.u.ref = fuzz_ref(r->ref);
	else
		c.source.u.gmfn = r->ref % (FUZZ_NR_PAGES + 8);
	if (c.flags & GNTCOPY_dest_gref)
		c.dest.u.ref = fuzz_ref((uint16_t)(r->ref >> 4 | (r->ref & 0x8000)));
	else
		c.dest.u.gmfn = r->z % (FUZZ_NR_PAGES + 8);
	fuzz_gop(f, r->caller, GNTTABOP_copy, &c, sizeof(c), 1);
}

static void fuzz_transfer(struct fuzz *f, const struct fuzz_rec *r)
{
	struct gnttab_transfer t = {
		.mfn = r->z % (FUZZ_NR_PAGES + 4),
		.domid = fuzz_domids[r->y % 5],
		.ref = fuzz_ref(r->ref),
	};

	fuzz_gop(f, r->caller, GNTTABOP_transfer, &t, sizeof(t), 1);
}

/* The single-element management ops, with random arguments. */
static void fuzz_misc(struct fuzz *f, const struct fuzz_rec *r)
{
	union {
		struct gnttab_setup_table setup;
		struct gnttab_query_size query;
		struct gnttab_dump_table dump;
		struct gnttab_set_version sv;
		struct gnttab_get_version gv;
		struct gnttab_get_status_frames sf;
		struct gnttab_swap_grant_ref swap;
		uint8_t raw[64];
	} u;
	unsigned int cmd = r->x % 14;
	domid_t dom = fuzz_domids[r->y % 5];

	memset(&u, r->w, sizeof(u));
	if (cmd == GNTTABOP_setup_table) {
		u.setup.dom = dom;
		u.setup.nr_frames = r->z % (FUZZ_MAX_FRAMES + 2);
		set_xen_guest_handle(u.setup.frame_list, (xen_pfn_t *)FAKE_BUF_GPA);
	} else if (cmd == GNTTABOP_swap_grant_ref) {
		u.swap.ref_a = fuzz_ref(r->ref);
		u.swap.ref_b = fuzz_ref((uint16_t)(r->z | (r->w & 1) << 8));
	} else {
		u.query.dom = dom; /* others: whatever lands in their first field */
	}
	fuzz_gop(f, r->caller, cmd, &u, sizeof(u), 1);
}

static void fuzz_recreate(struct fuzz *f, const struct fuzz_rec *r)
{
	domid_t domid = r->caller ? r->caller : 1;

	if (domain_destroy(f->fs->hv, domid) == 0)
		fuzz_shadow_purge(f, domid);
	FUZZ_CHECK(fuzz_create(f, domid) == 0, "recreate d%u", domid);
}

/* ---- invariants --------------------------------------------------------- */

static unsigned int *fuzz_pin_slot(struct gnttab_pins *p, uint16_t kind, bool ro)
{
	if (kind == GNTMAP_host_map)
		return ro ? &p->host_read : &p->host_write;
	return ro ? &p->dev_read : &p->dev_write;
}

static void fuzz_expected_pins(struct fuzz *f, unsigned int maps_per_dom[FUZZ_NR_DOMAINS])
{
	unsigned int i;

	memset(f->expect, 0, sizeof(f->expect));
	memset(maps_per_dom, 0, FUZZ_NR_DOMAINS * sizeof(maps_per_dom[0]));
	for (i = 0; i < f->top; i++) {
		struct fuzz_map *m = &f->maps[i];
		struct gnttab_pins *p;

		if (!m->live)
			continue;
		FUZZ_CHECK(m->granter < FUZZ_NR_DOMAINS && fuzz_slot(m->ref) >= 0,
			   "mapping of d%u ref %u, never written", m->granter, m->ref);
		maps_per_dom[m->mapper]++;
		p = &f->expect[m->granter][fuzz_slot(m->ref)];
		if (m->kinds & GNTMAP_host_map)
			(*fuzz_pin_slot(p, GNTMAP_host_map, m->readonly))++;
		if (m->kinds & GNTMAP_device_map)
			(*fuzz_pin_slot(p, GNTMAP_device_map, m->readonly))++;
	}
}

static void fuzz_check_entries(struct fuzz *f, domid_t g)
{
	struct domain *d = fuzz_dom(f, g);
	unsigned long total = 0;
	unsigned int slot;

	for (slot = 0; slot < gnttab_nr_frames(d) * FUZZ_WINDOW; slot++) {
		grant_ref_t ref = slot / FUZZ_WINDOW * FUZZ_PER_FRAME + slot % FUZZ_WINDOW;
		struct gnttab_pins p, *e = &f->expect[g][slot];
		uint16_t flags = fuzz_entry(f, g, ref)->flags;
		bool any, wr;

		FUZZ_CHECK(gnttab_entry_pins(d, ref, &p) == 0, "d%u ref %u pins", g, ref);
		FUZZ_CHECK(memcmp(&p, e, sizeof(p)) == 0,
			   "d%u ref %u pins hr %u hw %u dr %u dw %u, expected %u %u %u %u", g, ref,
			   p.host_read, p.host_write, p.dev_read, p.dev_write, e->host_read,
			   e->host_write, e->dev_read, e->dev_write);
		any = p.host_read || p.host_write || p.dev_read || p.dev_write;
		wr = p.host_write || p.dev_write;
		total += p.host_read + p.host_write + p.dev_read + p.dev_write;
		/* Bits 3-4 mean committed/completed on accept_transfer entries;
		 * a pinned entry is always permit_access (guests don't rewrite
		 * entries in use). */
		if ((flags & GTF_type_mask) != GTF_permit_access) {
			FUZZ_CHECK(!any, "d%u ref %u pinned with flags %#x", g, ref, flags);
			continue;
		}
		FUZZ_CHECK(!!(flags & GTF_reading) == any, "d%u ref %u flags %#x", g, ref, flags);
		FUZZ_CHECK(!!(flags & GTF_writing) == wr, "d%u ref %u flags %#x", g, ref, flags);
	}
	FUZZ_CHECK(total == gnttab_pins_total(d), "d%u pin total %lu != %lu", g,
		   gnttab_pins_total(d), total);
}

static bool fuzz_overlay_known(struct fuzz *f, struct domain *d, const struct overlay *o)
{
	unsigned int i;

	if (o->page == d->shared_info)
		return true;
	for (i = 0; i < gnttab_nr_frames(d); i++) {
		if (o->page == gnttab_shared_frame(d, i))
			return true;
	}
	for (i = 0; i < f->top; i++) {
		struct fuzz_map *m = &f->maps[i];

		if (m->live && m->mapper == d->domid && (m->kinds & GNTMAP_host_map) &&
		    m->gfn == o->gfn && m->page == o->page)
			return true;
	}
	return false;
}

static void fuzz_check_overlays(struct fuzz *f, domid_t id)
{
	struct domain *d = fuzz_dom(f, id);
	unsigned int i;

	for (i = 0; i < d->nr_overlays; i++)
		FUZZ_CHECK(fuzz_overlay_known(f, d, &d->overlays[i]), "d%u stray overlay at %#lx",
			   id, (unsigned long)d->overlays[i].gfn);
	for (i = 0; i < f->top; i++) {
		struct fuzz_map *m = &f->maps[i];
		void *page = NULL;

		if (!m->live || m->mapper != id || !(m->kinds & GNTMAP_host_map))
			continue;
		FUZZ_CHECK(memory_overlay_lookup(d, m->gfn, &page, NULL) == 0 && page == m->page,
			   "d%u lost its mapping at %#lx", id, (unsigned long)m->gfn);
	}
}

static void fuzz_check(struct fuzz *f)
{
	unsigned int maps[FUZZ_NR_DOMAINS];
	domid_t id;

	fuzz_expected_pins(f, maps);
	for (id = 0; id < FUZZ_NR_DOMAINS; id++) {
		struct domain *d = fuzz_dom(f, id);

		FUZZ_CHECK(d, "d%u vanished", id);
		FUZZ_CHECK(gnttab_maps_held(d) == maps[id], "d%u holds %u maps, shadow %u", id,
			   gnttab_maps_held(d), maps[id]);
		fuzz_check_entries(f, id);
		fuzz_check_overlays(f, id);
	}
}

/* ---- driver ------------------------------------------------------------- */

static void (*const fuzz_ops[])(struct fuzz *f, const struct fuzz_rec *r) = {
	fuzz_guest_grant,   fuzz_guest_grant, fuzz_guest_revoke, fuzz_guest_readonly,
	fuzz_guest_physmap, fuzz_map,	      fuzz_map,		 fuzz_unmap,
	fuzz_unmap,	    fuzz_copy,	      fuzz_transfer,	 fuzz_misc,
	fuzz_recreate,
};

#define FUZZ_NR_OPS (sizeof(fuzz_ops) / sizeof(fuzz_ops[0]))

static struct fuzz_rec fuzz_decode(const uint8_t *p)
{
	return (struct fuzz_rec){ .op = p[0],
				  .caller = p[1] % FUZZ_NR_DOMAINS,
				  .x = p[2],
				  .y = p[3],
				  .ref = (uint16_t)(p[4] | p[5] << 8),
				  .z = p[6],
				  .w = p[7] };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz f; /* large: the shadow tables */
	struct hv_config cfg;
	size_t n;
	domid_t id;

	hv_config_defaults(&cfg);
	cfg.max_grant_frames = FUZZ_MAX_FRAMES;
	cfg.max_maptrack_frames = 1;
	memset(&f, 0, sizeof(f));
	f.fs = fake_create(&cfg);
	if (!f.fs)
		return 0;
	f.fs->quiet = true;
	for (id = 0; id < FUZZ_NR_DOMAINS; id++)
		FUZZ_CHECK(fuzz_create(&f, id) == 0, "create d%u", id);
	for (n = 0; n + FUZZ_REC <= size && n / FUZZ_REC < FUZZ_MAX_OPS; n += FUZZ_REC) {
		struct fuzz_rec r = fuzz_decode(data + n);

		fuzz_ops[r.op % FUZZ_NR_OPS](&f, &r);
		fuzz_check(&f);
	}
	fake_destroy(f.fs);
	return 0;
}
