/*
 * Grant tables, version 1: GNTTABOP 0-12 (see gnttab.h).
 *
 * A domain's table has three parts. The shared frames are hypervisor pages
 * the guest shows in its frame space (XENMEM_add_to_physmap, space
 * XENMAPSPACE_grant_table) and writes directly; the active entries and the
 * maptrack are private to the hypervisor:
 *
 *   granter d1                                   mapper d2
 *   shared frame 0 (guest-writable)              maptrack (private)
 *   +------+-------+--------+                    +--------+----------------+
 *   | ref8 | flags | domid 2| frame 0x40 |       | handle | d1 ref 8 host  |
 *   |      | permit|reading |            |       |   0    | ro gfn 0x1403  |
 *   +------+-------+--------+                    +--------+----------------+
 *   active (private, one per pinned entry)       d2 frame space:
 *   | ref8 | pins host r=1 w=0 dev r=0 w=0 |     gfn 0x1403 --overlay--> the
 *   |      | mapper d2, gfn 0x40, page ----+---> page of d1's RAM gfn 0x40
 *
 * Flag protocol (grant_table.h): the guest introduces an entry by writing
 * domid and frame, a write barrier, then flags; it may revoke it only with a
 * cmpxchg that sees neither GTF_reading nor GTF_writing. The hypervisor sets
 * those two bits with a cmpxchg on the 32-bit {flags, domid} word (bounded
 * retries: a guest rewriting the word as fast as we read it gets
 * GNTST_general_error, not a livelock) and clears them with an atomic AND
 * when the last pin of that kind goes. Pins live in the active entry, one
 * counter per kind, as Xen's act->pin: GTF_writing is set while any
 * writable pin exists, GTF_reading while any pin exists. The frame is read
 * once, at the first pin; later mappings reuse it, as in Xen. Unlike Xen,
 * which allocates a frame's active entries with the frame, they come in
 * chunks of GNTTAB_ACT_CHUNK at the first pin of one of the chunk's
 * entries (an entry never pinned reads as all zero), and the maptrack's
 * array of frames grows by doubling: an idle domain's table costs ~1.5 KiB
 * of hypervisor memory instead of ~28 KiB. A host out of memory at a first
 * pin fails that map with GNTST_general_error (logged once per domain).
 *
 * Worked example, two mappings of one writable entry by d2:
 *   map ro   -> pins hr=1      flags |= reading
 *   map rw   -> pins hr=1 hw=1 flags |= writing   (first writable pin)
 *   unmap rw -> pins hr=1      flags &= ~writing  (last writable pin)
 *   unmap ro -> pins 0         flags &= ~reading  (guest may now revoke)
 *
 * Where Xen's behaviour needed interpreting (our guests are auto-translated:
 * host_addr is a guest-physical address in the mapper):
 *  - GNTMAP_host_map shows the granted page at host_addr >> 12 in the
 *    mapper (memory_overlay_add). An address outside the mapper's frame
 *    space, or a gfn already holding an overlay, is GNTST_bad_virt_addr
 *    (Xen's p2m path says general_error; the ABI names this status).
 *    GNTMAP_device_map is accepted; dev_bus_addr is the granter's gfn << 12.
 *    GNTMAP_contains_pte (PV page tables) is GNTST_general_error.
 *  - Like Xen, a mismatched domid/type or a writable map of a GTF_readonly
 *    entry is GNTST_general_error, and an exhausted maptrack is
 *    GNTST_no_device_space. The granted frame must be populated RAM of the
 *    granter that no overlay hides (else GNTST_bad_page).
 *  - unmap follows Xen: a zero host_addr / dev_bus_addr leaves that part of
 *    the mapping in place; a mismatch is GNTST_general_error.
 *  - setup_table writes, per frame, the gfn the guest showed it at, or
 *    GNTTAB_FRAME_NOT_SHOWN.
 *  - transfer keeps the sender's page on every failure (Xen frees it on
 *    some); the receiver's new frame is its lowest free RAM gfn (the slot
 *    hint in the entry is not honoured) and is written back in `frame`.
 *  - copy: a frame (non-gref) side must be DOMID_SELF or the caller's own
 *    id (Xen: DOMID_SELF only), even for a privileged caller.
 *  - set_version(2) is -ENOSYS, as Xen built with gnttab max version 1;
 *    get_status_frames reports GNTST_general_error for any frame (a v1
 *    table has none); swap_grant_ref works on v1, as in Xen.
 *  - unmap_and_replace (PV only) and cache_flush (gone on x86) are -ENOSYS.
 *  - dump_table was dropped from Xen; here it logs through hv_log.
 *  - Batches: at most GNTTAB_MAX_BATCH elements (no continuations).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define GNTTAB_PER_FRAME (XENON_PAGE_SIZE / sizeof(grant_entry_v1_t))
/* Active entries are allocated in chunks, at an entry's first pin: most
 * entries are never mapped, and a frame's worth would be 20 KiB. */
#define GNTTAB_ACT_CHUNK 32
#define GNTTAB_ACT_CHUNKS (GNTTAB_PER_FRAME / GNTTAB_ACT_CHUNK)
#define GNTTAB_CMPXCHG_TRIES 5 /* as Xen: a racing guest gets an error */
#define GNTTAB_MAPTRACK_END UINT32_MAX
#define GNTTAB_DUMP_MAX_LINES 32
#define GNTTAB_MAP_KINDS (GNTMAP_host_map | GNTMAP_device_map)

_Static_assert(sizeof(grant_entry_v1_t) == 8, "v1 entry is 8 bytes");
_Static_assert(offsetof(grant_entry_v1_t, domid) == 2, "{flags, domid} is one word");

/* Hypervisor-private shadow of one shared entry. */
struct gnttab_active {
	struct gnttab_pins pins;
	domid_t domid; /* the domain holding the pins (valid while pinned) */
	uint64_t gfn;  /* the granter's frame, read at the first pin */
	void *page;    /* its host address */
};

/* One mapping held by this domain: a handle indexes these. */
struct gnttab_maptrack {
	uint64_t host_gfn; /* where GNTMAP_host_map shows the page */
	void *page;
	uint32_t ref;	/* the granter's ref; next free handle while free */
	domid_t domid;	/* the granter */
	uint16_t flags; /* GNTMAP_*; 0 while free */
};

struct grant_table {
	struct domain *domain;
	unsigned int nr_frames, max_frames;
	void **shared; /* [max_frames] xen pages */
	/* [max_frames][GNTTAB_ACT_CHUNKS] chunks of GNTTAB_ACT_CHUNK entries,
	 * NULL until one of the chunk's entries is first pinned */
	struct gnttab_active ***active;
	unsigned long pins_total; /* pins others (or d) hold on d's entries */
	uint64_t unpins;	  /* pins ever dropped (hv_grant_unpins) */

	unsigned int nr_maptrack_frames, max_maptrack_frames;
	unsigned int maptrack_cap;	   /* slots in maptrack (grows by doubling) */
	struct gnttab_maptrack **maptrack; /* [maptrack_cap] */
	uint32_t maptrack_free;		   /* free-list head */
	unsigned int maps_held;

	/* Limits and oddities are logged once per domain. */
	bool frames_logged, maptrack_logged, batch_logged, v2_logged, unstable_logged, nomem_logged;
};

/* The {flags, domid} pair of a v1 entry, updated as one word. */
union gnttab_combo {
	uint32_t raw;
	struct {
		uint16_t flags;
		domid_t domid;
	} f;
};

/* ---- table access ---------------------------------------------------- */

static unsigned int gnttab_nr_entries(const struct grant_table *gt)
{
	return gt->nr_frames * GNTTAB_PER_FRAME;
}

static grant_entry_v1_t *gnttab_entry(struct grant_table *gt, grant_ref_t ref)
{
	return (grant_entry_v1_t *)gt->shared[ref / GNTTAB_PER_FRAME] + ref % GNTTAB_PER_FRAME;
}

/* Entry ref's active entry if its chunk exists; with `alloc`, the chunk is
 * made first (NULL only when that fails). ref < gnttab_nr_entries(gt). */
static struct gnttab_active *gnttab_act_slot(struct grant_table *gt, grant_ref_t ref, bool alloc)
{
	struct gnttab_active **chunk =
		&gt->active[ref / GNTTAB_PER_FRAME][ref % GNTTAB_PER_FRAME / GNTTAB_ACT_CHUNK];

	if (!*chunk && alloc)
		*chunk = calloc(GNTTAB_ACT_CHUNK, sizeof(**chunk));
	return *chunk ? *chunk + ref % GNTTAB_ACT_CHUNK : NULL;
}

/* Entry ref's active entry, to read: an entry never pinned reads as zero. */
static const struct gnttab_active *gnttab_act(struct grant_table *gt, grant_ref_t ref)
{
	static const struct gnttab_active none;
	const struct gnttab_active *a = gnttab_act_slot(gt, ref, false);

	return a ? a : &none;
}

static uint32_t *gnttab_word(grant_entry_v1_t *e)
{
	return (uint32_t *)(void *)e;
}

static union gnttab_combo gnttab_load(grant_entry_v1_t *e)
{
	union gnttab_combo c;

	/* Acquire pairs with the guest's write barrier between writing
	 * domid/frame and writing flags: a valid type implies valid fields. */
	c.raw = __atomic_load_n(gnttab_word(e), __ATOMIC_ACQUIRE);
	return c;
}

static void gnttab_clear_flags(grant_entry_v1_t *e, uint16_t clear)
{
	union gnttab_combo keep = { .raw = UINT32_MAX };

	keep.f.flags = (uint16_t)~clear;
	/* Release: our last use of the frame happens before the guest can see
	 * the bit drop; pairs with the guest's revoking cmpxchg. */
	__atomic_fetch_and(gnttab_word(e), keep.raw, __ATOMIC_RELEASE);
}

static void gnttab_set_flags(grant_entry_v1_t *e, uint16_t set)
{
	union gnttab_combo add = { .raw = 0 };

	add.f.flags = set;
	__atomic_fetch_or(gnttab_word(e), add.raw, __ATOMIC_RELEASE);
}

static void gnttab_log_limit(struct domain *d, bool *logged, const char *what, unsigned long limit,
			     unsigned long use)
{
	if (*logged)
		return;
	*logged = true;
	hv_log(d->hv, HV_LOG_WARN, "d%u: grant %s limit %lu reached (%lu in use)", d->domid, what,
	       limit, use);
}

/* A live domain with a grant table, by numeric id (DOMID_SELF is not). */
static struct domain *gnttab_domain(struct hypervisor *hv, domid_t domid)
{
	struct domain *d = domid < DOMID_FIRST_RESERVED ? domain_lookup(hv, domid) : NULL;

	return d && d->grant_table ? d : NULL;
}

/* The granter of an existing mapping: may be dying (its teardown is what
 * undoes the mapping), so not domain_lookup(). */
static struct domain *gnttab_granter(struct hypervisor *hv, domid_t domid)
{
	struct domain *d = domid < DOMID_FIRST_RESERVED ? hv->domains[domid] : NULL;

	return d && d->grant_table ? d : NULL;
}

/* GNTST status for acting on domid's table: self, or privileged. */
static int16_t gnttab_target(struct domain *caller, domid_t domid, struct domain **ret_d)
{
	struct domain *d = domain_resolve(caller, domid);

	if (!d || !d->grant_table)
		return GNTST_bad_domain;
	if (d != caller && !caller->privileged)
		return GNTST_permission_denied;
	*ret_d = d;
	return GNTST_okay;
}

/* ---- growth ------------------------------------------------------------ */

static int gnttab_grow(struct grant_table *gt, unsigned int nr_frames)
{
	struct hypervisor *hv = gt->domain->hv;

	while (gt->nr_frames < nr_frames) {
		struct gnttab_active **act = calloc(GNTTAB_ACT_CHUNKS, sizeof(*act));
		void *page = act ? hv->ops->xen_page_alloc(hv->sub, gt->domain->domid) : NULL;

		if (!page) {
			free(act);
			return -ENOMEM;
		}
		gt->shared[gt->nr_frames] = page;
		gt->active[gt->nr_frames] = act;
		gt->nr_frames++;
	}
	return 0;
}

void *gnttab_shared_frame(struct domain *d, unsigned int idx)
{
	struct grant_table *gt = d->grant_table;

	if (!gt)
		return NULL;
	if (idx >= gt->max_frames) {
		gnttab_log_limit(d, &gt->frames_logged, "frames", gt->max_frames, gt->nr_frames);
		return NULL;
	}
	if (gnttab_grow(gt, idx + 1) < 0)
		return NULL;
	return gt->shared[idx];
}

/* ---- pins and the flag protocol ------------------------------------- */

static bool gnttab_pinned(const struct gnttab_active *a)
{
	return a->pins.host_read || a->pins.host_write || a->pins.dev_read || a->pins.dev_write;
}

static bool gnttab_write_pinned(const struct gnttab_active *a)
{
	return a->pins.host_write || a->pins.dev_write;
}

static unsigned int *gnttab_counter(struct gnttab_active *a, unsigned int kind, bool readonly)
{
	if (kind == GNTMAP_host_map)
		return readonly ? &a->pins.host_read : &a->pins.host_write;
	return readonly ? &a->pins.dev_read : &a->pins.dev_write;
}

/* Counters cannot overflow: each pin is backed by a maptrack handle of the
 * one domain the entry names, or by a copy in progress. */
static void gnttab_pin(struct grant_table *gt, struct gnttab_active *a, unsigned int kinds,
		       bool readonly)
{
	if (kinds & GNTMAP_host_map) {
		(*gnttab_counter(a, GNTMAP_host_map, readonly))++;
		gt->pins_total++;
	}
	if (kinds & GNTMAP_device_map) {
		(*gnttab_counter(a, GNTMAP_device_map, readonly))++;
		gt->pins_total++;
	}
}

static void gnttab_unpin(struct grant_table *gt, struct gnttab_active *a, unsigned int kinds,
			 bool readonly)
{
	gt->unpins++;
	if (kinds & GNTMAP_host_map) {
		(*gnttab_counter(a, GNTMAP_host_map, readonly))--;
		gt->pins_total--;
	}
	if (kinds & GNTMAP_device_map) {
		(*gnttab_counter(a, GNTMAP_device_map, readonly))--;
		gt->pins_total--;
	}
}

/* Drop the flags no pin justifies any more (after an unpin, or after a
 * failed first pin of this kind). */
static void gnttab_sync_flags(struct grant_table *gt, grant_ref_t ref, bool readonly)
{
	const struct gnttab_active *act = gnttab_act(gt, ref);
	uint16_t clear = 0;

	if (!readonly && !gnttab_write_pinned(act))
		clear |= GTF_writing;
	if (!gnttab_pinned(act))
		clear |= GTF_reading;
	if (clear)
		gnttab_clear_flags(gnttab_entry(gt, ref), clear);
}

/* Set GTF_reading (and GTF_writing) in entry ref for domain ldomid. Type and
 * domid are checked only for the first pin, as in Xen; a mapping (not a
 * copy) also refuses GTF_sub_page. */
static int16_t gnttab_set_status(struct domain *rd, grant_ref_t ref, domid_t ldomid, bool readonly,
				 bool mapping)
{
	struct grant_table *gt = rd->grant_table;
	grant_entry_v1_t *e = gnttab_entry(gt, ref);
	bool first = !gnttab_pinned(gnttab_act(gt, ref));
	uint16_t mask = GTF_type_mask | (mapping ? GTF_sub_page : 0);
	union gnttab_combo old = gnttab_load(e), new;
	unsigned int tries;

	for (tries = 0; tries < GNTTAB_CMPXCHG_TRIES; tries++) {
		if (first && ((old.f.flags & mask) != GTF_permit_access || old.f.domid != ldomid))
			return GNTST_general_error;
		if (!readonly && (old.f.flags & GTF_readonly))
			return GNTST_general_error;
		new = old;
		new.f.flags |= GTF_reading | (readonly ? 0 : GTF_writing);
		/* Pairs with the guest's revoking cmpxchg: exactly one of the
		 * two sees the other's word and fails. */
		if (__atomic_compare_exchange_n(gnttab_word(e), &old.raw, new.raw, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return GNTST_okay;
	}
	if (!gt->unstable_logged)
		hv_log(rd->hv, HV_LOG_WARN, "d%u: grant entry %u is unstable", rd->domid, ref);
	gt->unstable_logged = true;
	return GNTST_general_error;
}

/* First pin: read the frame the entry names (after the flags: the acquire
 * in the cmpxchg orders it) and check it is the granter's RAM. */
static int16_t gnttab_activate(struct domain *rd, grant_ref_t ref, domid_t ldomid)
{
	struct grant_table *gt = rd->grant_table;
	struct gnttab_active *act = gnttab_act_slot(gt, ref, false);
	uint64_t gfn = __atomic_load_n(&gnttab_entry(gt, ref)->frame, __ATOMIC_RELAXED);
	void *page = NULL;

	if (memory_gfn_is_ram(rd, gfn))
		page = rd->hv->ops->ram_page(rd->hv->sub, rd->domid, gfn);
	if (!page)
		return GNTST_bad_page;
	act->domid = ldomid;
	act->gfn = gfn;
	act->page = page;
	return GNTST_okay;
}

/* Pin (rd, ref) for ldomid with `kinds` (GNTMAP_host_map/device_map; a
 * copy pins as host). On success the active entry holds the page. */
static int16_t gnttab_acquire(struct domain *rd, grant_ref_t ref, domid_t ldomid,
			      unsigned int kinds, bool readonly, bool mapping,
			      struct gnttab_active **ret_act)
{
	struct grant_table *gt = rd->grant_table;
	struct gnttab_active *act;
	int16_t st;

	if (ref >= gnttab_nr_entries(gt))
		return GNTST_bad_gntref;
	act = gnttab_act_slot(gt, ref, true);
	if (!act) {
		if (!gt->nomem_logged)
			hv_log(rd->hv, HV_LOG_ERR, "d%u: no memory for grant entry %u's pins",
			       rd->domid, ref);
		gt->nomem_logged = true;
		return GNTST_general_error;
	}
	if (gnttab_pinned(act) && act->domid != ldomid)
		return GNTST_general_error;
	if (!gnttab_pinned(act) || (!readonly && !gnttab_write_pinned(act))) {
		st = gnttab_set_status(rd, ref, ldomid, readonly, mapping);
		if (st != GNTST_okay)
			return st;
	}
	if (!gnttab_pinned(act)) {
		st = gnttab_activate(rd, ref, ldomid);
		if (st != GNTST_okay) {
			gnttab_sync_flags(gt, ref, readonly);
			return st;
		}
	}
	gnttab_pin(gt, act, kinds, readonly);
	*ret_act = act;
	return GNTST_okay;
}

static void gnttab_release(struct domain *rd, grant_ref_t ref, unsigned int kinds, bool readonly)
{
	struct grant_table *gt = rd->grant_table;

	/* Pinned, so its chunk exists. */
	gnttab_unpin(gt, gnttab_act_slot(gt, ref, false), kinds, readonly);
	gnttab_sync_flags(gt, ref, readonly);
}

/* ---- maptrack ---------------------------------------------------------- */

static struct gnttab_maptrack *gnttab_mt(struct grant_table *gt, uint32_t handle)
{
	return &gt->maptrack[handle / GNTTAB_MAPTRACK_PER_FRAME]
			    [handle % GNTTAB_MAPTRACK_PER_FRAME];
}

static unsigned int gnttab_maptrack_limit(const struct grant_table *gt)
{
	return gt->nr_maptrack_frames * GNTTAB_MAPTRACK_PER_FRAME;
}

static int gnttab_maptrack_grow(struct grant_table *gt)
{
	unsigned int f = gt->nr_maptrack_frames, i;
	struct gnttab_maptrack *chunk;

	if (f >= gt->max_maptrack_frames)
		return -ENOSPC;
	if (f == gt->maptrack_cap) {
		unsigned int cap = f ? 2 * f : 1;
		struct gnttab_maptrack **grown;

		if (cap > gt->max_maptrack_frames)
			cap = gt->max_maptrack_frames;
		grown = realloc(gt->maptrack, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		gt->maptrack = grown;
		gt->maptrack_cap = cap;
	}
	chunk = calloc(GNTTAB_MAPTRACK_PER_FRAME, sizeof(*chunk));
	if (!chunk)
		return -ENOMEM;
	/* Push in reverse so the lowest handle is handed out first. */
	for (i = GNTTAB_MAPTRACK_PER_FRAME; i-- > 0;) {
		chunk[i].ref = gt->maptrack_free;
		gt->maptrack_free = f * GNTTAB_MAPTRACK_PER_FRAME + i;
	}
	gt->maptrack[f] = chunk;
	gt->nr_maptrack_frames++;
	return 0;
}

static int gnttab_maptrack_get(struct domain *d, uint32_t *ret_handle)
{
	struct grant_table *gt = d->grant_table;

	if (gt->maptrack_free == GNTTAB_MAPTRACK_END && gnttab_maptrack_grow(gt) < 0) {
		gnttab_log_limit(d, &gt->maptrack_logged, "maptrack handles",
				 (unsigned long)gt->max_maptrack_frames * GNTTAB_MAPTRACK_PER_FRAME,
				 gt->maps_held);
		return -ENOSPC;
	}
	*ret_handle = gt->maptrack_free;
	gt->maptrack_free = gnttab_mt(gt, *ret_handle)->ref;
	return 0;
}

static void gnttab_maptrack_put(struct grant_table *gt, uint32_t handle)
{
	struct gnttab_maptrack *mt = gnttab_mt(gt, handle);

	*mt = (struct gnttab_maptrack){ .ref = gt->maptrack_free };
	gt->maptrack_free = handle;
}

static struct gnttab_maptrack *gnttab_maptrack_lookup(struct grant_table *gt, uint32_t handle)
{
	struct gnttab_maptrack *mt;

	if (handle >= gnttab_maptrack_limit(gt))
		return NULL;
	mt = gnttab_mt(gt, handle);
	return mt->flags ? mt : NULL;
}

/* ---- map and unmap ----------------------------------------------------- */

static int16_t gnttab_host_map(struct domain *ld, uint64_t host_addr, void *page, bool readonly)
{
	uint64_t gfn = host_addr >> XENON_PAGE_SHIFT;

	/* Refuse to hide another overlay (shared_info, a grant frame, another
	 * mapping): its owner would lose it silently. */
	if (gfn >= ld->max_gfn || memory_overlay_lookup(ld, gfn, NULL, NULL) == 0)
		return GNTST_bad_virt_addr;
	if (memory_overlay_add(ld, gfn, page, readonly) < 0)
		return GNTST_general_error;
	return GNTST_okay;
}

/* Remove a host mapping if the guest has not replaced it meanwhile. */
static void gnttab_host_unmap(struct domain *ld, uint64_t gfn, void *page)
{
	void *shown;

	if (memory_overlay_lookup(ld, gfn, &shown, NULL) == 0 && shown == page)
		memory_overlay_remove(ld, gfn);
}

static int16_t gnttab_map_check(struct domain *ld, const struct gnttab_map_grant_ref *op,
				struct domain **ret_rd)
{
	if (!(op->flags & GNTTAB_MAP_KINDS))
		return GNTST_bad_gntref;
	if (op->flags & GNTMAP_contains_pte)
		return GNTST_general_error;
	*ret_rd = gnttab_domain(ld->hv, op->dom);
	return *ret_rd ? GNTST_okay : GNTST_bad_domain;
}

static int16_t gnttab_map(struct domain *ld, struct domain *rd, struct gnttab_map_grant_ref *op,
			  uint32_t handle)
{
	bool ro = op->flags & GNTMAP_readonly;
	unsigned int kinds = op->flags & GNTTAB_MAP_KINDS;
	struct gnttab_active *act;
	struct gnttab_maptrack *mt;
	int16_t st;

	st = gnttab_acquire(rd, op->ref, ld->domid, kinds, ro, true, &act);
	if (st == GNTST_okay && (kinds & GNTMAP_host_map)) {
		st = gnttab_host_map(ld, op->host_addr, act->page, ro);
		if (st != GNTST_okay)
			gnttab_release(rd, op->ref, kinds, ro);
	}
	if (st != GNTST_okay)
		return st;
	mt = gnttab_mt(ld->grant_table, handle);
	*mt = (struct gnttab_maptrack){ .host_gfn = op->host_addr >> XENON_PAGE_SHIFT,
					.page = act->page,
					.ref = op->ref,
					.domid = rd->domid,
					.flags = (uint16_t)(kinds | (ro ? GNTMAP_readonly : 0)) };
	ld->grant_table->maps_held++;
	op->handle = handle;
	op->dev_bus_addr = act->gfn << XENON_PAGE_SHIFT;
	return GNTST_okay;
}

static long gnttab_map_one(struct vcpu *v, void *arg)
{
	struct gnttab_map_grant_ref *op = arg;
	struct domain *ld = v->domain, *rd = NULL;
	uint32_t handle = 0;
	int16_t st;

	/* Xen's order: flags, domain, a handle, then the entry. */
	st = gnttab_map_check(ld, op, &rd);
	if (st == GNTST_okay && gnttab_maptrack_get(ld, &handle) < 0)
		st = GNTST_no_device_space;
	else if (st == GNTST_okay) {
		st = gnttab_map(ld, rd, op, handle);
		if (st != GNTST_okay)
			gnttab_maptrack_put(ld->grant_table, handle);
	}
	op->status = st;
	return 0;
}

/* Undo the `kinds` parts of mapping `handle` held by ld; the handle is
 * freed once no part is left. */
static void gnttab_mapping_undo(struct domain *ld, uint32_t handle, unsigned int kinds)
{
	struct grant_table *lgt = ld->grant_table;
	struct gnttab_maptrack *mt = gnttab_mt(lgt, handle);
	struct domain *rd = gnttab_granter(ld->hv, mt->domid);
	bool ro = mt->flags & GNTMAP_readonly;

	kinds &= mt->flags & GNTTAB_MAP_KINDS;
	if (kinds & GNTMAP_host_map)
		gnttab_host_unmap(ld, mt->host_gfn, mt->page);
	if (rd)
		gnttab_release(rd, mt->ref, kinds, ro);
	mt->flags &= (uint16_t)~kinds;
	if (!(mt->flags & GNTTAB_MAP_KINDS)) {
		lgt->maps_held--;
		gnttab_maptrack_put(lgt, handle);
	}
}

/* dev_bus_addr of a mapping: the granter's frame address. */
static uint64_t gnttab_bus_addr(struct hypervisor *hv, const struct gnttab_maptrack *mt)
{
	struct domain *rd = gnttab_granter(hv, mt->domid);

	return rd ? gnttab_act(rd->grant_table, mt->ref)->gfn << XENON_PAGE_SHIFT : 0;
}

static long gnttab_unmap_one(struct vcpu *v, void *arg)
{
	struct gnttab_unmap_grant_ref *op = arg;
	struct domain *ld = v->domain;
	struct gnttab_maptrack *mt = gnttab_maptrack_lookup(ld->grant_table, op->handle);
	unsigned int done = 0;

	if (!mt) {
		op->status = GNTST_bad_handle;
		return 0;
	}
	op->status = GNTST_general_error;
	if (op->dev_bus_addr && op->dev_bus_addr != gnttab_bus_addr(ld->hv, mt))
		return 0;
	if (op->host_addr && (mt->flags & GNTMAP_host_map)) {
		if (op->host_addr >> XENON_PAGE_SHIFT != mt->host_gfn)
			return 0;
		done |= GNTMAP_host_map;
	}
	if (op->dev_bus_addr && (mt->flags & GNTMAP_device_map))
		done |= GNTMAP_device_map;
	gnttab_mapping_undo(ld, op->handle, done);
	op->status = GNTST_okay;
	return 0;
}

/* ---- table management ops ------------------------------------------- */

/* The gfn where d's frame idx is shown, or GNTTAB_FRAME_NOT_SHOWN. */
static xen_pfn_t gnttab_frame_gfn(struct domain *d, unsigned int idx)
{
	void *page = d->grant_table->shared[idx];
	unsigned int i;

	for (i = 0; i < d->nr_overlays; i++) {
		if (d->overlays[i].page == page)
			return d->overlays[i].gfn;
	}
	return GNTTAB_FRAME_NOT_SHOWN;
}

static long gnttab_setup_table(struct vcpu *v, void *arg)
{
	struct gnttab_setup_table *op = arg;
	uint64_t list = (uint64_t)(uintptr_t)op->frame_list.p;
	struct domain *d = NULL;
	unsigned int i;

	op->status = gnttab_target(v->domain, op->dom, &d);
	if (op->status != GNTST_okay)
		return 0;
	op->status = GNTST_general_error;
	if (op->nr_frames > d->grant_table->max_frames) {
		gnttab_log_limit(d, &d->grant_table->frames_logged, "frames",
				 d->grant_table->max_frames, op->nr_frames);
		return 0;
	}
	if (gnttab_grow(d->grant_table, op->nr_frames) < 0)
		return 0;
	op->status = GNTST_okay;
	for (i = 0; i < op->nr_frames; i++) {
		xen_pfn_t gfn = gnttab_frame_gfn(d, i);

		if (copy_to_guest(v, list + (uint64_t)i * sizeof(gfn), &gfn, sizeof(gfn)) < 0) {
			op->status = GNTST_bad_virt_addr;
			break;
		}
	}
	return 0;
}

static long gnttab_query_size(struct vcpu *v, void *arg)
{
	struct gnttab_query_size *op = arg;
	struct domain *d = NULL;

	op->status = gnttab_target(v->domain, op->dom, &d);
	if (op->status != GNTST_okay)
		return 0;
	op->nr_frames = d->grant_table->nr_frames;
	op->max_nr_frames = d->grant_table->max_frames;
	return 0;
}

static void gnttab_dump_entry(struct domain *d, grant_ref_t ref)
{
	struct grant_table *gt = d->grant_table;
	const struct gnttab_active *a = gnttab_act(gt, ref);
	union gnttab_combo c = gnttab_load(gnttab_entry(gt, ref));

	hv_log(d->hv, HV_LOG_INFO,
	       "  ref %u: flags %#x domid %u frame %#x pins hr %u hw %u dr %u dw %u", ref,
	       c.f.flags, c.f.domid, gnttab_entry(gt, ref)->frame, a->pins.host_read,
	       a->pins.host_write, a->pins.dev_read, a->pins.dev_write);
}

/* Log the entries in use, bounded: a debugging aid, not a data path. */
static long gnttab_dump_table(struct vcpu *v, void *arg)
{
	struct gnttab_dump_table *op = arg;
	struct domain *d = NULL;
	struct grant_table *gt;
	unsigned int ref, shown = 0, skipped = 0;

	op->status = gnttab_target(v->domain, op->dom, &d);
	if (op->status != GNTST_okay)
		return 0;
	gt = d->grant_table;
	hv_log(d->hv, HV_LOG_INFO, "d%u grant table v1: %u/%u frames, %u maps held, %lu pins",
	       d->domid, gt->nr_frames, gt->max_frames, gt->maps_held, gt->pins_total);
	for (ref = 0; ref < gnttab_nr_entries(gt); ref++) {
		if (!gnttab_load(gnttab_entry(gt, ref)).f.flags &&
		    !gnttab_pinned(gnttab_act(gt, ref)))
			continue;
		if (shown++ < GNTTAB_DUMP_MAX_LINES)
			gnttab_dump_entry(d, ref);
		else
			skipped++;
	}
	if (skipped)
		hv_log(d->hv, HV_LOG_INFO, "  ... %u more entries in use", skipped);
	return 0;
}

static long gnttab_set_version(struct vcpu *v, void *arg)
{
	struct gnttab_set_version *op = arg;
	struct grant_table *gt = v->domain->grant_table;
	uint32_t asked = op->version;

	op->version = 1; /* always reports the version in effect */
	if (asked == 1)
		return 0;
	if (asked != 2)
		return -EINVAL;
	if (!gt->v2_logged)
		hv_log(v->domain->hv, HV_LOG_INFO,
		       "d%u: grant table v2 requested; only v1 exists (-ENOSYS)", v->domain->domid);
	gt->v2_logged = true;
	return -ENOSYS;
}

static long gnttab_get_version(struct vcpu *v, void *arg)
{
	struct gnttab_get_version *op = arg;
	struct domain *d = NULL;
	int16_t st = gnttab_target(v->domain, op->dom, &d);

	if (st == GNTST_bad_domain)
		return -ESRCH;
	if (st != GNTST_okay)
		return -EPERM;
	op->version = 1;
	return 0;
}

/* A v1 table has no status frames: asking for any is an error. */
static long gnttab_get_status_frames(struct vcpu *v, void *arg)
{
	struct gnttab_get_status_frames *op = arg;
	struct domain *d = NULL;

	op->status = gnttab_target(v->domain, op->dom, &d);
	if (op->status == GNTST_okay && op->nr_frames > 0)
		op->status = GNTST_general_error;
	return 0;
}

static long gnttab_swap_one(struct vcpu *v, void *arg)
{
	struct gnttab_swap_grant_ref *op = arg;
	struct grant_table *gt = v->domain->grant_table;
	grant_entry_v1_t tmp;

	op->status = GNTST_bad_gntref;
	if (op->ref_a >= gnttab_nr_entries(gt) || op->ref_b >= gnttab_nr_entries(gt))
		return 0;
	op->status = GNTST_okay;
	if (op->ref_a == op->ref_b)
		return 0;
	if (gnttab_pinned(gnttab_act(gt, op->ref_a)) || gnttab_pinned(gnttab_act(gt, op->ref_b))) {
		op->status = GNTST_eagain;
		return 0;
	}
	/* Plain copies, as Xen: the guest asked for its own entries to move. */
	tmp = *gnttab_entry(gt, op->ref_a);
	*gnttab_entry(gt, op->ref_a) = *gnttab_entry(gt, op->ref_b);
	*gnttab_entry(gt, op->ref_b) = tmp;
	return 0;
}

/* ---- transfer ---------------------------------------------------------- */

/* The sender may give away gfn only if it is plain RAM nothing else uses:
 * not pinned through one of its grants, not holding a vcpu_info. */
static bool gnttab_transferable(struct domain *d, uint64_t gfn)
{
	struct grant_table *gt = d->grant_table;
	unsigned int ref, i;

	if (!memory_gfn_is_ram(d, gfn))
		return false;
	for (ref = 0; gt->pins_total && ref < gnttab_nr_entries(gt); ref++) {
		const struct gnttab_active *a = gnttab_act(gt, ref);

		if (gnttab_pinned(a) && a->gfn == gfn)
			return false;
	}
	for (i = 0; i < d->max_vcpus; i++) {
		if (d->vcpus[i].vcpu_info_registered && d->vcpus[i].vcpu_info_gfn == gfn)
			return false;
	}
	return true;
}

/* Lock the receiver's entry: GTF_accept_transfer for `from`, uncommitted. */
static bool gnttab_transfer_commit(struct domain *e, grant_ref_t ref, domid_t from)
{
	grant_entry_v1_t *ent;
	union gnttab_combo old, new;
	unsigned int tries;

	if (ref >= gnttab_nr_entries(e->grant_table))
		return false;
	ent = gnttab_entry(e->grant_table, ref);
	old = gnttab_load(ent);
	for (tries = 0; tries < GNTTAB_CMPXCHG_TRIES; tries++) {
		if (old.f.flags != GTF_accept_transfer || old.f.domid != from)
			return false;
		new = old;
		new.f.flags |= GTF_transfer_committed;
		/* Pairs with the guest's cmpxchg invalidating an unused
		 * accept_transfer entry. */
		if (__atomic_compare_exchange_n(gnttab_word(ent), &old.raw, new.raw, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
	}
	return false;
}

static void gnttab_transfer_complete(struct domain *e, grant_ref_t ref, uint64_t gfn)
{
	grant_entry_v1_t *ent = gnttab_entry(e->grant_table, ref);

	__atomic_store_n(&ent->frame, (uint32_t)gfn, __ATOMIC_RELAXED);
	/* The release in gnttab_set_flags orders the frame before
	 * GTF_transfer_completed; pairs with the guest's read barrier after
	 * it sees the flag (grant_table.h: frame first, then the flag). */
	gnttab_set_flags(ent, GTF_transfer_completed);
}

/* Move the page: a new frame in e, the entry committed, the content copied,
 * the sender's frame taken away, the entry completed. */
static int16_t gnttab_transfer_move(struct domain *d, struct domain *e,
				    const struct gnttab_transfer *op)
{
	struct hypervisor *hv = d->hv;
	void *src = hv->ops->ram_page(hv->sub, d->domid, op->mfn), *dst;
	uint64_t gfn;

	if (!src || memory_populate_any(e, &gfn) < 0)
		return GNTST_general_error;
	dst = hv->ops->ram_page(hv->sub, e->domid, gfn);
	if (gfn > UINT32_MAX || !dst || !gnttab_transfer_commit(e, op->ref, d->domid)) {
		memory_depopulate(e, gfn);
		return gfn > UINT32_MAX ? GNTST_address_too_big : GNTST_general_error;
	}
	memcpy(dst, src, XENON_PAGE_SIZE);
	memory_depopulate(d, op->mfn);
	gnttab_transfer_complete(e, op->ref, gfn);
	return GNTST_okay;
}

static long gnttab_transfer_one(struct vcpu *v, void *arg)
{
	struct gnttab_transfer *op = arg;
	struct domain *d = v->domain, *e;

	if (!gnttab_transferable(d, op->mfn)) {
		op->status = GNTST_bad_page;
		return 0;
	}
	e = gnttab_domain(d->hv, op->domid);
	if (!e) {
		op->status = GNTST_bad_domain;
		return 0;
	}
	/* The receiver needs reservation headroom, as in Xen. */
	if (e->tot_pages >= e->max_pages) {
		op->status = GNTST_general_error;
		return 0;
	}
	op->status = gnttab_transfer_move(d, e, op);
	return 0;
}

/* ---- copy -------------------------------------------------------------- */

struct gnttab_copy_side {
	struct domain *d;
	bool is_gref, pinned, readonly;
	grant_ref_t ref;
	uint8_t *page;
};

static int16_t gnttab_copy_domain(struct domain *ld, const struct gnttab_copy_ptr *p, bool is_gref,
				  struct gnttab_copy_side *s)
{
	if (!is_gref && p->domid != DOMID_SELF && p->domid != ld->domid)
		return GNTST_permission_denied;
	s->d = domain_resolve(ld, p->domid);
	if (!s->d || !s->d->grant_table)
		return GNTST_bad_domain;
	s->is_gref = is_gref;
	return GNTST_okay;
}

static int16_t gnttab_copy_claim(struct domain *ld, const struct gnttab_copy_ptr *p, bool readonly,
				 struct gnttab_copy_side *s)
{
	struct gnttab_active *act;
	int16_t st;

	s->readonly = readonly;
	if (!s->is_gref) {
		s->page = readonly ? memory_map_gfn(s->d, p->u.gmfn)
				   : memory_map_gfn_writable(s->d, p->u.gmfn);
		return s->page ? GNTST_okay : GNTST_bad_page;
	}
	st = gnttab_acquire(s->d, p->u.ref, ld->domid, GNTMAP_host_map, readonly, false, &act);
	if (st != GNTST_okay)
		return st;
	s->pinned = true;
	s->ref = p->u.ref;
	s->page = act->page;
	return GNTST_okay;
}

static void gnttab_copy_release(struct gnttab_copy_side *s)
{
	if (s->pinned)
		gnttab_release(s->d, s->ref, GNTMAP_host_map, s->readonly);
	s->pinned = false;
}

static long gnttab_copy_one(struct vcpu *v, void *arg)
{
	struct gnttab_copy *op = arg;
	struct domain *ld = v->domain;
	struct gnttab_copy_side src = { 0 }, dst = { 0 };
	int16_t st;

	st = gnttab_copy_domain(ld, &op->source, op->flags & GNTCOPY_source_gref, &src);
	if (st == GNTST_okay)
		st = gnttab_copy_domain(ld, &op->dest, op->flags & GNTCOPY_dest_gref, &dst);
	if (st == GNTST_okay)
		st = gnttab_copy_claim(ld, &op->source, true, &src);
	if (st == GNTST_okay)
		st = gnttab_copy_claim(ld, &op->dest, false, &dst);
	if (st == GNTST_okay && ((unsigned int)op->source.offset + op->len > XENON_PAGE_SIZE ||
				 (unsigned int)op->dest.offset + op->len > XENON_PAGE_SIZE))
		st = GNTST_bad_copy_arg;
	/* memmove: both sides may be the same page. */
	if (st == GNTST_okay)
		memmove(dst.page + op->dest.offset, src.page + op->source.offset, op->len);
	gnttab_copy_release(&src);
	gnttab_copy_release(&dst);
	op->status = st;
	return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

enum gnttab_count {
	GNTTAB_BATCH,	     /* count elements, each with its own status */
	GNTTAB_ONE,	     /* count must be 1 (Xen: -EINVAL otherwise) */
	GNTTAB_IGNORE_COUNT, /* one element whatever count says */
};

struct gnttab_op {
	long (*run)(struct vcpu *v, void *op); /* < 0: errno for the hypercall */
	size_t size;			       /* one element */
	size_t out_off, out_len;	       /* what is copied back, as Xen */
	enum gnttab_count count;
	bool copy_on_error; /* copy back even when run() fails */
};

#define GNTTAB_OUT_ALL(type) 0, sizeof(struct type)
#define GNTTAB_OUT_FIELD(type, field) \
	offsetof(struct type, field), sizeof(((struct type *)0)->field)

static const struct gnttab_op gnttab_ops[] = {
	[GNTTABOP_map_grant_ref] = { gnttab_map_one, sizeof(struct gnttab_map_grant_ref),
				     GNTTAB_OUT_ALL(gnttab_map_grant_ref), GNTTAB_BATCH, false },
	[GNTTABOP_unmap_grant_ref] = { gnttab_unmap_one, sizeof(struct gnttab_unmap_grant_ref),
				       GNTTAB_OUT_FIELD(gnttab_unmap_grant_ref, status),
				       GNTTAB_BATCH, false },
	[GNTTABOP_setup_table] = { gnttab_setup_table, sizeof(struct gnttab_setup_table),
				   GNTTAB_OUT_FIELD(gnttab_setup_table, status), GNTTAB_ONE,
				   false },
	[GNTTABOP_dump_table] = { gnttab_dump_table, sizeof(struct gnttab_dump_table),
				  GNTTAB_OUT_FIELD(gnttab_dump_table, status), GNTTAB_IGNORE_COUNT,
				  false },
	[GNTTABOP_transfer] = { gnttab_transfer_one, sizeof(struct gnttab_transfer),
				GNTTAB_OUT_FIELD(gnttab_transfer, status), GNTTAB_BATCH, false },
	[GNTTABOP_copy] = { gnttab_copy_one, sizeof(struct gnttab_copy),
			    GNTTAB_OUT_FIELD(gnttab_copy, status), GNTTAB_BATCH, false },
	[GNTTABOP_query_size] = { gnttab_query_size, sizeof(struct gnttab_query_size),
				  GNTTAB_OUT_ALL(gnttab_query_size), GNTTAB_ONE, false },
	[GNTTABOP_set_version] = { gnttab_set_version, sizeof(struct gnttab_set_version),
				   GNTTAB_OUT_ALL(gnttab_set_version), GNTTAB_IGNORE_COUNT, true },
	[GNTTABOP_get_status_frames] = { gnttab_get_status_frames,
					 sizeof(struct gnttab_get_status_frames),
					 GNTTAB_OUT_FIELD(gnttab_get_status_frames, status),
					 GNTTAB_ONE, false },
	[GNTTABOP_get_version] = { gnttab_get_version, sizeof(struct gnttab_get_version),
				   GNTTAB_OUT_FIELD(gnttab_get_version, version),
				   GNTTAB_IGNORE_COUNT, false },
	[GNTTABOP_swap_grant_ref] = { gnttab_swap_one, sizeof(struct gnttab_swap_grant_ref),
				      GNTTAB_OUT_FIELD(gnttab_swap_grant_ref, status), GNTTAB_BATCH,
				      false },
	/* unmap_and_replace (PV page tables) and cache_flush (removed on
	 * x86) have no entry: -ENOSYS. */
};

union gnttab_op_buf {
	struct gnttab_map_grant_ref map;
	struct gnttab_unmap_grant_ref unmap;
	struct gnttab_setup_table setup;
	struct gnttab_dump_table dump;
	struct gnttab_transfer transfer;
	struct gnttab_copy copy;
	struct gnttab_query_size query;
	struct gnttab_set_version set_version;
	struct gnttab_get_status_frames status_frames;
	struct gnttab_get_version get_version;
	struct gnttab_swap_grant_ref swap;
};

/* Each element is copied in, run, and its result copied back before the
 * next: a fault stops the batch with -EFAULT, earlier elements done. */
static long gnttab_run(struct vcpu *v, const struct gnttab_op *op, uint64_t arg, unsigned int count)
{
	union gnttab_op_buf buf;
	unsigned int i;

	for (i = 0; i < count; i++) {
		uint64_t addr = arg + (uint64_t)i * op->size;
		long rc;

		if (copy_from_guest(v, &buf, addr, op->size) < 0)
			return -EFAULT;
		rc = op->run(v, &buf);
		if ((rc >= 0 || op->copy_on_error) &&
		    copy_to_guest(v, addr + op->out_off, (uint8_t *)&buf + op->out_off,
				  op->out_len) < 0)
			return -EFAULT;
		if (rc < 0)
			return rc;
	}
	return 0;
}

long do_grant_table_op(struct vcpu *v, unsigned int cmd, uint64_t arg, unsigned int count)
{
	struct grant_table *gt = v->domain->grant_table;
	const struct gnttab_op *op;

	/* Xen keeps continuation state in cmd's high bits; we never create
	 * continuations, so any there is invalid, as is a negative count. */
	if (cmd >> 12 || (int)count < 0)
		return -EINVAL;
	if (cmd >= sizeof(gnttab_ops) / sizeof(gnttab_ops[0]) || !gnttab_ops[cmd].run || !gt)
		return -ENOSYS;
	op = &gnttab_ops[cmd];
	if (op->count == GNTTAB_ONE && count != 1)
		return -EINVAL;
	if (op->count == GNTTAB_IGNORE_COUNT)
		count = 1;
	if (count > GNTTAB_MAX_BATCH) {
		gnttab_log_limit(v->domain, &gt->batch_logged, "batch", GNTTAB_MAX_BATCH, count);
		return -EINVAL;
	}
	return gnttab_run(v, op, arg, count);
}

/* ---- lifecycle --------------------------------------------------------- */

static void gnttab_free(struct domain *d)
{
	struct grant_table *gt = d->grant_table;
	struct hypervisor *hv = d->hv;
	unsigned int i, c;

	for (i = 0; i < gt->nr_frames; i++) {
		memory_overlay_remove_page(d, gt->shared[i]);
		hv->ops->xen_page_free(hv->sub, d->domid, gt->shared[i]);
		for (c = 0; c < GNTTAB_ACT_CHUNKS; c++)
			free(gt->active[i][c]);
		free(gt->active[i]);
	}
	for (i = 0; i < gt->nr_maptrack_frames; i++)
		free(gt->maptrack[i]);
	free(gt->shared);
	free(gt->active);
	free(gt->maptrack);
	free(gt);
	d->grant_table = NULL;
}

int gnttab_domain_init(struct domain *d, unsigned int max_frames, unsigned int max_maptrack_frames)
{
	struct grant_table *gt;

	if (!max_frames)
		max_frames = GNTTAB_DEFAULT_MAX_FRAMES;
	if (max_frames > GNTTAB_HARD_MAX_FRAMES ||
	    max_maptrack_frames > GNTTAB_HARD_MAX_MAPTRACK_FRAMES)
		return -EINVAL;
	gt = calloc(1, sizeof(*gt));
	if (!gt)
		return -ENOMEM;
	gt->domain = d;
	gt->max_frames = max_frames;
	gt->max_maptrack_frames = max_maptrack_frames;
	gt->maptrack_free = GNTTAB_MAPTRACK_END;
	gt->shared = calloc(max_frames, sizeof(*gt->shared));
	gt->active = calloc(max_frames, sizeof(*gt->active));
	d->grant_table = gt;
	if (!gt->shared || !gt->active || gnttab_grow(gt, GNTTAB_INITIAL_FRAMES) < 0) {
		gnttab_free(d);
		return -ENOMEM;
	}
	return 0;
}

/* Undo every mapping m holds of `granter`'s grants. */
static void gnttab_drop_maps_of(struct domain *m, domid_t granter)
{
	struct grant_table *gt = m->grant_table;
	uint32_t h;

	for (h = 0; gt->maps_held && h < gnttab_maptrack_limit(gt); h++) {
		struct gnttab_maptrack *mt = gnttab_mt(gt, h);

		if (mt->flags && mt->domid == granter)
			gnttab_mapping_undo(m, h, GNTTAB_MAP_KINDS);
	}
}

void gnttab_domain_fini(struct domain *d)
{
	struct grant_table *gt = d->grant_table;
	struct hypervisor *hv = d->hv;
	uint32_t h;
	unsigned int id;

	if (!gt)
		return;
	/* Mappings d holds: the granters' flags and pins drop with them. */
	for (h = 0; gt->maps_held && h < gnttab_maptrack_limit(gt); h++) {
		if (gnttab_mt(gt, h)->flags)
			gnttab_mapping_undo(d, h, GNTTAB_MAP_KINDS);
	}
	/* Mappings others hold of d's grants: only while pins remain. */
	for (id = 0; gt->pins_total && id < DOMID_FIRST_RESERVED; id++) {
		struct domain *m = hv->domains[id];

		if (m && m != d && m->grant_table)
			gnttab_drop_maps_of(m, d->domid);
	}
	gnttab_free(d);
}

unsigned int gnttab_maps_held(struct domain *d)
{
	return d->grant_table ? d->grant_table->maps_held : 0;
}

unsigned int gnttab_nr_frames(struct domain *d)
{
	return d->grant_table ? d->grant_table->nr_frames : 0;
}

int gnttab_entry_pins(struct domain *d, grant_ref_t ref, struct gnttab_pins *ret)
{
	if (!d->grant_table || ref >= gnttab_nr_entries(d->grant_table))
		return -ENOENT;
	*ret = gnttab_act(d->grant_table, ref)->pins;
	return 0;
}

int hv_grant_mappings(struct hypervisor *hv, domid_t mapper, uint32_t from_handle,
		      struct hv_grant_mapping *out, unsigned int max)
{
	struct domain *d = mapper < DOMID_FIRST_RESERVED ? hv->domains[mapper] : NULL;
	struct grant_table *gt = d ? d->grant_table : NULL;
	unsigned int n = 0;
	uint32_t h;

	if (!gt)
		return -ESRCH;
	for (h = from_handle; n < max && h < gnttab_maptrack_limit(gt); h++) {
		const struct gnttab_maptrack *mt = gnttab_mt(gt, h);

		if (!mt->flags)
			continue;
		out[n++] = (struct hv_grant_mapping){
			.handle = h,
			.granter = mt->domid,
			.ref = mt->ref,
			.host_gfn = mt->host_gfn,
			.readonly = mt->flags & GNTMAP_readonly,
			.host = mt->flags & GNTMAP_host_map,
			.device = mt->flags & GNTMAP_device_map,
		};
	}
	return (int)n;
}

unsigned long gnttab_pins_total(struct domain *d)
{
	return d->grant_table ? d->grant_table->pins_total : 0;
}

uint64_t hv_grant_unpins(struct hypervisor *hv, domid_t granter)
{
	struct domain *d = domain_lookup(hv, granter);

	return d && d->grant_table ? d->grant_table->unpins : 0;
}
