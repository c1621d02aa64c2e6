/*
 * blkfront's ring engine (design in xen_blkfront.h).
 *
 * A request's life:
 *   submit: a free slot (its id on the ring) and ceil(nsect / 8) pool pages
 *   (LIFO) -> write data copied in -> grants (unless persistent) -> the
 *   request built in the ring slot (direct: up to 11 segments; indirect:
 *   the segments in the slot's indirect page) -> req_prod pushed with
 *   RING_PUSH_REQUESTS_AND_CHECK_NOTIFY (no kick while the back end is
 *   still consuming).
 *   poll: each response's id checked against the slots in use -> read data
 *   copied out -> grants ended -> pages and slot freed -> req->done;
 *   RING_FINAL_CHECK_FOR_RESPONSES re-arms rsp_event before we sleep.
 *
 * Segment layout: sector k of a request is in page (f + k) / 8 at
 * 512 * ((f + k) % 8), f being the first segment's first_sect: 0 for copy
 * pages, the buffer's offset for zero-copy ones. Every segment but the
 * first and last is a whole page.
 *
 * Zero-copy requests take no copy pages: their segments name the pages of
 * the caller's blkfront_buf_alloc() buffer (pool pages, persistent grants
 * included), and the buffer counts them in flight so it cannot be freed
 * under the back end.
 */
#include <xen/errno.h>

#include "xen_blkfront.h"

#define BF_SEGS_PER_IND_PAGE (BLKFRONT_PAGE_SIZE / sizeof(struct blkif_request_segment))

_Static_assert(BLKFRONT_MAX_SEGS <= BF_SEGS_PER_IND_PAGE, "one indirect page per slot");
_Static_assert(BLKFRONT_MAX_POOL <= 65536, "pool indices are 16 bits");

unsigned int blkfront_mem_pages(unsigned int ring_order, unsigned int inflight,
				unsigned int pool_pages)
{
	return (1u << ring_order) + inflight + pool_pages;
}

static uint64_t bf_now(struct blkfront *fe)
{
	return fe->env->now_ns(fe->env_ctx);
}

int blkfront_init(struct blkfront *fe, const struct blkfront_config *cfg)
{
	unsigned int inflight = cfg->inflight ? cfg->inflight : BLKFRONT_MAX_INFLIGHT;
	unsigned int fixed;

	__builtin_memset(fe, 0, sizeof(*fe));
	if (!cfg->env || !cfg->gops || !cfg->mem ||
	    ((uintptr_t)cfg->mem & (BLKFRONT_PAGE_SIZE - 1)))
		return -XEN_EINVAL;
	if (cfg->ring_order > BLKFRONT_MAX_RING_ORDER || inflight > BLKFRONT_MAX_INFLIGHT)
		return -XEN_EINVAL;
	fixed = blkfront_mem_pages(cfg->ring_order, inflight, 0);
	if (cfg->mem_pages <= fixed)
		return -XEN_EINVAL;
	fe->env = cfg->env;
	fe->env_ctx = cfg->env_ctx;
	fe->gops = cfg->gops;
	fe->gctx = cfg->gctx;
	fe->ring_order = cfg->ring_order;
	fe->inflight = inflight;
	fe->want_persistent = cfg->persistent;
	fe->ring_start = cfg->ring_start;
	fe->timeout_ns = BLKFRONT_TIMEOUT_NS;
	fe->ring_mem = cfg->mem;
	fe->ind_mem = fe->ring_mem + ((size_t)BLKFRONT_PAGE_SIZE << cfg->ring_order);
	fe->pool_mem = fe->ind_mem + (size_t)BLKFRONT_PAGE_SIZE * inflight;
	fe->nr_pool = cfg->mem_pages - fixed;
	if (fe->nr_pool > BLKFRONT_MAX_POOL)
		fe->nr_pool = BLKFRONT_MAX_POOL;
	/* At least one copy page: the copying calls must always work. */
	if (cfg->buf_pages >= fe->nr_pool)
		return -XEN_EINVAL;
	fe->nr_copy = fe->nr_pool - cfg->buf_pages;
	return 0;
}

static uint8_t *pool_page(struct blkfront *fe, unsigned int i)
{
	return fe->pool_mem + (size_t)i * BLKFRONT_PAGE_SIZE;
}

static uint8_t *ind_page(struct blkfront *fe, unsigned int slot)
{
	return fe->ind_mem + (size_t)slot * BLKFRONT_PAGE_SIZE;
}

/* ---- grants of the ring and the persistent pages ------------------------ */

static void end_setup_grants(struct blkfront *fe)
{
	for (unsigned int i = 0; i < fe->nr_ring_refs; i++)
		if (!fe->gops->end(fe->gctx, fe->ring_ref[i], false))
			fe->stats.leaked_pages++;
	for (unsigned int i = 0; i < fe->inflight; i++)
		if (fe->ind_granted[i] && !fe->gops->end(fe->gctx, fe->ind_pref[i], false))
			fe->stats.leaked_pages++;
	for (unsigned int i = 0; i < fe->nr_pool_granted; i++)
		if (!fe->gops->end(fe->gctx, fe->pool_ref[i], false))
			fe->stats.leaked_pages++;
	fe->nr_ring_refs = fe->nr_pool_granted = 0;
	__builtin_memset(fe->ind_granted, 0, sizeof(fe->ind_granted));
}

static int grant_persistent(struct blkfront *fe)
{
	int ref;

	for (unsigned int i = 0; i < fe->inflight; i++) {
		ref = fe->gops->grant(fe->gctx, ind_page(fe, i), false);
		if (ref < 0)
			return ref;
		fe->ind_pref[i] = (grant_ref_t)ref;
		fe->ind_granted[i] = true;
	}
	for (unsigned int i = 0; i < fe->nr_pool; i++) {
		ref = fe->gops->grant(fe->gctx, pool_page(fe, i), false);
		if (ref < 0)
			return ref;
		fe->pool_ref[i] = (grant_ref_t)ref;
		fe->nr_pool_granted++;
	}
	return 0;
}

/* SHARED_RING_INIT by hand: it calls memset, which a freestanding guest
 * may not have, and it cannot start the indices anywhere but 0. */
static void ring_init(struct blkfront *fe)
{
	struct blkif_sring *s = (struct blkif_sring *)fe->ring_mem;
	size_t size = (size_t)BLKFRONT_PAGE_SIZE << fe->ring_order;

	__builtin_memset(s, 0, size);
	s->req_prod = s->rsp_prod = fe->ring_start;
	s->req_event = s->rsp_event = fe->ring_start + 1;
	FRONT_RING_ATTACH(&fe->ring, s, fe->ring_start, size);
}

static void free_lists_init(struct blkfront *fe)
{
	/* LIFO: page 0 on top, so a light load keeps reusing few pages. The
	 * buffer pages are not on it: blkfront_buf_alloc() hands them out. */
	for (unsigned int i = 0; i < fe->nr_copy; i++)
		fe->free_page[i] = (uint16_t)(fe->nr_copy - 1 - i);
	fe->nr_free_pages = fe->nr_copy;
	for (unsigned int i = 0; i < fe->inflight; i++)
		fe->free_slot[i] = (uint16_t)(fe->inflight - 1 - i);
	fe->nr_free_slots = fe->inflight;
}

int blkfront_setup(struct blkfront *fe, const struct blkfront_backend *be)
{
	int ref, err;

	if (fe->set_up)
		return -XEN_EBUSY;
	if (be->max_ring_order < fe->ring_order)
		fe->ring_order = be->max_ring_order;
	fe->be = *be;
	fe->persistent = fe->want_persistent && be->persistent;
	ring_init(fe);
	for (unsigned int i = 0; i < (1u << fe->ring_order); i++) {
		ref = fe->gops->grant(fe->gctx, fe->ring_mem + (size_t)i * BLKFRONT_PAGE_SIZE,
				      false);
		if (ref < 0) {
			err = ref;
			goto out_end;
		}
		fe->ring_ref[fe->nr_ring_refs++] = (grant_ref_t)ref;
	}
	if (fe->persistent) {
		err = grant_persistent(fe);
		if (err)
			goto out_end;
	}
	free_lists_init(fe);
	fe->set_up = true;
	return 0;
out_end:
	end_setup_grants(fe);
	return err;
}

int blkfront_connect(struct blkfront *fe, const struct blkfront_backend *be)
{
	uint32_t max_ind = be->max_indirect_segs;

	if (!fe->set_up)
		return -XEN_EINVAL;
	if (be->sector_size != BLKFRONT_SECTOR_SIZE)
		return -XEN_EOPNOTSUPP;
	fe->be.sectors = be->sectors;
	fe->be.sector_size = be->sector_size;
	fe->be.info = be->info;
	fe->be.flush = be->flush;
	fe->be.discard = be->discard;
	fe->be.max_indirect_segs = max_ind;
	fe->zc_max_segs = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	if (max_ind > fe->zc_max_segs)
		fe->zc_max_segs = max_ind < BLKFRONT_MAX_SEGS ? max_ind : BLKFRONT_MAX_SEGS;
	fe->max_segs = fe->zc_max_segs < fe->nr_copy ? fe->zc_max_segs : fe->nr_copy;
	fe->broken = false;
	fe->connected = true;
	return 0;
}

/* ---- completion --------------------------------------------------------- */

static void release_pages(struct blkfront *fe, struct blkfront_slot *sl, bool readonly)
{
	for (unsigned int i = 0; i < sl->nr_pages; i++) {
		if (!fe->persistent && !fe->gops->end(fe->gctx, sl->ref[i], readonly)) {
			/* Still mapped: a copy page is never reused; a buffer
			 * page is the caller's, so it can only be counted. */
			fe->stats.leaked_pages++;
			continue;
		}
		if (!sl->zc)
			fe->free_page[fe->nr_free_pages++] = sl->page[i];
	}
	if (sl->zc) /* taken in zc_grant() */
		fe->buf_busy[sl->zc_start]--;
	sl->zc = false;
	/* ind_ref 0: never granted (a submit that failed before it; refs
	 * below 8 are reserved, never handed out). */
	if (sl->op == BLKIF_OP_INDIRECT && !fe->persistent && sl->ind_ref &&
	    !fe->gops->end(fe->gctx, sl->ind_ref, true))
		fe->stats.leaked_pages++;
	sl->nr_pages = 0;
}

static void copy_out(struct blkfront *fe, const struct blkfront_slot *sl, struct blkfront_req *r)
{
	uint8_t *dst = r->buf;
	uint64_t left = r->nsect * BLKFRONT_SECTOR_SIZE;

	for (unsigned int i = 0; i < sl->nr_pages && left; i++) {
		size_t n = left < BLKFRONT_PAGE_SIZE ? (size_t)left : BLKFRONT_PAGE_SIZE;

		__builtin_memcpy(dst, pool_page(fe, sl->page[i]), n);
		dst += n;
		left -= n;
	}
}

static void finish(struct blkfront *fe, unsigned int id, int status)
{
	struct blkfront_slot *sl = &fe->slot[id];
	struct blkfront_req *r = sl->req;

	if (sl->inner_op == BLKIF_OP_READ && !sl->zc)
		fe->copy_reads--;
	if (r && !status && sl->inner_op == BLKIF_OP_READ && !sl->zc)
		copy_out(fe, sl, r);
	release_pages(fe, sl, sl->inner_op == BLKIF_OP_WRITE);
	sl->in_use = false;
	sl->req = NULL;
	fe->free_slot[fe->nr_free_slots++] = (uint16_t)id;
	if (status)
		fe->stats.errors++;
	if (r) {
		r->status = status;
		__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	}
}

static int rsp_status(struct blkfront *fe, const struct blkfront_slot *sl, int16_t st)
{
	if (st == BLKIF_RSP_OKAY)
		return 0;
	if (st == BLKIF_RSP_EOPNOTSUPP) {
		/* As Linux: the back end took the feature back. */
		if (sl->op == BLKIF_OP_FLUSH_DISKCACHE)
			fe->be.flush = false;
		if (sl->op == BLKIF_OP_DISCARD)
			fe->be.discard = false;
		return -XEN_EOPNOTSUPP;
	}
	return -XEN_EIO;
}

/* Every outstanding request completes with status; pages of a broken or
 * vanished back end are ended (or counted as leaked) as usual. */
static void fail_all(struct blkfront *fe, int status)
{
	for (unsigned int id = 0; id < fe->inflight; id++)
		if (fe->slot[id].in_use)
			finish(fe, id, status);
}

static void take_response(struct blkfront *fe, const struct blkif_response *rsp)
{
	struct blkfront_slot *sl;

	if (rsp->id >= fe->inflight || !fe->slot[rsp->id].in_use) {
		fe->stats.bad_responses++;
		fe->broken = true;
		return;
	}
	sl = &fe->slot[rsp->id];
	if (rsp->operation != sl->op && rsp->operation != sl->inner_op) {
		fe->stats.bad_responses++;
		finish(fe, (unsigned int)rsp->id, -XEN_EIO);
		return;
	}
	fe->stats.responses++;
	finish(fe, (unsigned int)rsp->id, rsp_status(fe, sl, rsp->status));
}

/* The liveness byte: 1 once the back end attached, 0 again when its
 * mapping went (xenon-hvd's unmap notify). */
static bool back_end_alive(struct blkfront *fe)
{
	uint8_t b = __atomic_load_n(&fe->ring.sring->__pad[0], __ATOMIC_ACQUIRE);

	if (b == 1)
		fe->alive_seen = true;
	return !fe->alive_seen || b == 1;
}

int blkfront_poll(struct blkfront *fe)
{
	struct blkif_response rsp;
	uint64_t before = fe->stats.responses + fe->stats.bad_responses;
	RING_IDX rp, rc;
	int more;

	if (!fe->set_up || fe->broken)
		return fe->broken ? -XEN_EIO : 0;
	if (!back_end_alive(fe)) {
		blkfront_disconnect(fe);
		return -XEN_ENOTCONN;
	}
	do {
		/* Pairs with the xen_wmb() in the back end's
		 * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY. */
		rp = __atomic_load_n(&fe->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
		if (RING_RESPONSE_PROD_OVERFLOW(&fe->ring, rp)) {
			fe->broken = true;
			break;
		}
		for (rc = fe->ring.rsp_cons; rc != rp && !fe->broken; rc++) {
			RING_COPY_RESPONSE(&fe->ring, rc, &rsp);
			take_response(fe, &rsp);
		}
		fe->ring.rsp_cons = rc;
		if (fe->broken)
			break;
		RING_FINAL_CHECK_FOR_RESPONSES(&fe->ring, more);
	} while (more);
	if (fe->broken) {
		fail_all(fe, -XEN_EIO);
		return -XEN_EIO;
	}
	return (int)(fe->stats.responses + fe->stats.bad_responses - before);
}

void blkfront_disconnect(struct blkfront *fe)
{
	fe->connected = false;
	fail_all(fe, -XEN_ENOTCONN);
}

void blkfront_fini(struct blkfront *fe)
{
	blkfront_disconnect(fe);
	if (fe->set_up)
		end_setup_grants(fe);
	fe->set_up = false;
}

/* ---- submission --------------------------------------------------------- */

uint64_t blkfront_max_sectors(const struct blkfront *fe)
{
	return (uint64_t)fe->max_segs * BLKFRONT_SECTORS_PER_PAGE;
}

static int check_req(struct blkfront *fe, const struct blkfront_req *r)
{
	bool rw = r->op == BLKIF_OP_READ || r->op == BLKIF_OP_WRITE;

	if (!rw && r->op != BLKIF_OP_FLUSH_DISKCACHE && r->op != BLKIF_OP_DISCARD)
		return -XEN_EINVAL;
	if (r->op == BLKIF_OP_FLUSH_DISKCACHE)
		return fe->be.flush ? 0 : -XEN_EOPNOTSUPP;
	if (r->op == BLKIF_OP_DISCARD && !fe->be.discard)
		return -XEN_EOPNOTSUPP;
	if (r->op == BLKIF_OP_WRITE && (fe->be.info & VDISK_READONLY))
		return -XEN_EROFS;
	if (rw && (!r->nsect || !r->buf))
		return -XEN_EINVAL;
	if (rw && !r->zerocopy && r->nsect > blkfront_max_sectors(fe))
		return -XEN_EINVAL;
	if (r->sector > fe->be.sectors || r->nsect > fe->be.sectors - r->sector)
		return -XEN_EINVAL;
	return 0;
}

/*
 * A zero-copy request's pages: buf 512-aligned inside the buffer pages, the
 * whole range in one live buffer, at most zc_max_segs pages. Fills the
 * slot's pages and first_sect; -XEN_EINVAL for anything else.
 */
static int zc_locate(struct blkfront *fe, struct blkfront_slot *sl, const struct blkfront_req *r)
{
	const uint8_t *p = r->buf, *lo = pool_page(fe, fe->nr_copy);
	uint64_t off, first, npages;
	uint16_t owner;

	if (p < lo || p >= pool_page(fe, fe->nr_pool))
		return -XEN_EINVAL;
	off = (uint64_t)(p - fe->pool_mem);
	if (off % BLKFRONT_SECTOR_SIZE)
		return -XEN_EINVAL;
	first = off / BLKFRONT_PAGE_SIZE;
	sl->first_sect = (uint8_t)(off % BLKFRONT_PAGE_SIZE / BLKFRONT_SECTOR_SIZE);
	if (r->nsect > (uint64_t)fe->zc_max_segs * BLKFRONT_SECTORS_PER_PAGE)
		return -XEN_EINVAL;
	npages = (sl->first_sect + r->nsect + BLKFRONT_SECTORS_PER_PAGE - 1) /
		 BLKFRONT_SECTORS_PER_PAGE;
	if (npages > fe->zc_max_segs || first + npages > fe->nr_pool)
		return -XEN_EINVAL;
	owner = fe->buf_owner[first];
	for (uint64_t i = 0; i < npages; i++) {
		if (!owner || fe->buf_owner[first + i] != owner)
			return -XEN_EINVAL; /* free, or crosses into another buffer */
		sl->page[i] = (uint16_t)(first + i);
	}
	sl->nr_pages = (uint16_t)npages;
	sl->zc = true;
	sl->zc_start = (uint16_t)(owner - 1);
	return 0;
}

/* Per-request grants of a zero-copy request's pages (not persistent). */
static int zc_grant(struct blkfront *fe, struct blkfront_slot *sl, bool readonly)
{
	int ref;

	fe->buf_busy[sl->zc_start]++; /* release_pages() undoes it, whatever happens */
	for (unsigned int i = 0; !fe->persistent && i < sl->nr_pages; i++) {
		ref = fe->gops->grant(fe->gctx, pool_page(fe, sl->page[i]), readonly);
		if (ref < 0) {
			sl->nr_pages = (uint16_t)i; /* release ends those made */
			return ref;
		}
		sl->ref[i] = (grant_ref_t)ref;
	}
	return 0;
}

/* Pages from the pool, data copied in, grants made (not persistent). */
static int fill_pages(struct blkfront *fe, struct blkfront_slot *sl, struct blkfront_req *r)
{
	const uint8_t *src = r->buf;
	uint64_t left = r->nsect * BLKFRONT_SECTOR_SIZE;
	unsigned int n = (unsigned int)((r->nsect + BLKFRONT_SECTORS_PER_PAGE - 1) /
					BLKFRONT_SECTORS_PER_PAGE);
	int ref;

	for (sl->nr_pages = 0; sl->nr_pages < n; sl->nr_pages++) {
		uint16_t pg = fe->free_page[--fe->nr_free_pages];

		sl->page[sl->nr_pages] = pg;
		if (r->op == BLKIF_OP_WRITE) {
			size_t k = left < BLKFRONT_PAGE_SIZE ? (size_t)left : BLKFRONT_PAGE_SIZE;

			__builtin_memcpy(pool_page(fe, pg), src, k);
			src += k;
			left -= k;
		}
		if (fe->persistent)
			continue;
		ref = fe->gops->grant(fe->gctx, pool_page(fe, pg), r->op == BLKIF_OP_WRITE);
		if (ref < 0) {
			fe->free_page[fe->nr_free_pages++] = pg;
			return ref;
		}
		sl->ref[sl->nr_pages] = (grant_ref_t)ref;
	}
	return 0;
}

static void fill_segments(struct blkfront *fe, const struct blkfront_slot *sl, uint64_t nsect,
			  struct blkif_request_segment *seg)
{
	uint64_t left = nsect;

	for (unsigned int i = 0; i < sl->nr_pages; i++) {
		unsigned int first = i ? 0 : sl->first_sect;
		uint64_t n = BLKFRONT_SECTORS_PER_PAGE - first;

		if (n > left)
			n = left;
		seg[i].gref = fe->persistent ? fe->pool_ref[sl->page[i]] : sl->ref[i];
		seg[i].first_sect = (uint8_t)first;
		seg[i].last_sect = (uint8_t)(first + n - 1);
		left -= n;
	}
}

/* The request in the ring slot at req_prod_pvt. */
static int build_request(struct blkfront *fe, unsigned int id, struct blkfront_req *r)
{
	struct blkif_request *req = RING_GET_REQUEST(&fe->ring, fe->ring.req_prod_pvt);
	struct blkfront_slot *sl = &fe->slot[id];
	int ref;

	if (r->op == BLKIF_OP_DISCARD) {
		struct blkif_request_discard *d = (struct blkif_request_discard *)req;

		*d = (struct blkif_request_discard){ .operation = BLKIF_OP_DISCARD,
						     .id = id,
						     .sector_number = r->sector,
						     .nr_sectors = r->nsect };
		return 0;
	}
	if (sl->nr_pages <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		req->operation = sl->op;
		req->nr_segments = (uint8_t)sl->nr_pages;
		req->handle = 0;
		req->id = id;
		req->sector_number = r->sector;
		fill_segments(fe, sl, r->nsect, req->seg);
		return 0;
	}
	fill_segments(fe, sl, r->nsect, (struct blkif_request_segment *)ind_page(fe, id));
	if (fe->persistent) {
		ref = (int)fe->ind_pref[id];
	} else {
		ref = fe->gops->grant(fe->gctx, ind_page(fe, id), true);
		if (ref < 0)
			return ref;
		sl->ind_ref = (grant_ref_t)ref;
	}
	struct blkif_request_indirect *ind = (struct blkif_request_indirect *)req;

	*ind = (struct blkif_request_indirect){ .operation = BLKIF_OP_INDIRECT,
						.indirect_op = sl->inner_op,
						.nr_segments = sl->nr_pages,
						.id = id,
						.sector_number = r->sector };
	ind->indirect_grefs[0] = (grant_ref_t)ref;
	return 0;
}

static void push(struct blkfront *fe)
{
	bool notify;

	fe->ring.req_prod_pvt++;
	fe->stats.requests++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fe->ring, notify);
	if (notify) {
		fe->stats.notifies++;
		fe->env->notify(fe->env_ctx);
	}
}

/* A slot's header for r; page[] and ref[] are valid up to nr_pages. (No
 * compound literal: it would clear 1.5 KiB per request.) */
static void slot_reset(struct blkfront_slot *sl, struct blkfront_req *r)
{
	sl->req = r;
	sl->in_use = sl->zc = false;
	sl->first_sect = 0;
	sl->op = sl->inner_op = r->op;
	sl->nr_pages = sl->zc_start = 0;
	sl->ind_ref = 0;
}

/* Copy pages a request takes: none for zero-copy, flush and discard. */
static unsigned int copy_pages_needed(const struct blkfront_req *r)
{
	if ((r->op != BLKIF_OP_READ && r->op != BLKIF_OP_WRITE) || r->zerocopy)
		return 0;
	return (unsigned int)((r->nsect + BLKFRONT_SECTORS_PER_PAGE - 1) /
			      BLKFRONT_SECTORS_PER_PAGE);
}

int blkfront_submit(struct blkfront *fe, struct blkfront_req *r)
{
	unsigned int need, id;
	struct blkfront_slot *sl;
	int err;

	if (!fe->connected || fe->broken)
		return -XEN_ENOTCONN;
	err = check_req(fe, r);
	if (err)
		return err;
	need = copy_pages_needed(r);
	if (!fe->nr_free_slots || fe->nr_free_pages < need || RING_FULL(&fe->ring))
		return -XEN_EAGAIN;
	id = fe->free_slot[fe->nr_free_slots - 1];
	sl = &fe->slot[id];
	slot_reset(sl, r);
	if (r->zerocopy && r->op != BLKIF_OP_FLUSH_DISKCACHE && r->op != BLKIF_OP_DISCARD) {
		err = zc_locate(fe, sl, r); /* the slot is not taken yet */
		if (err)
			return err;
	}
	fe->nr_free_slots--;
	if ((sl->zc ? sl->nr_pages : need) > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		sl->op = BLKIF_OP_INDIRECT;
	r->done = false;
	r->status = 0;
	if (sl->zc)
		err = zc_grant(fe, sl, r->op == BLKIF_OP_WRITE);
	else
		err = need ? fill_pages(fe, sl, r) : 0;
	if (!err)
		err = build_request(fe, id, r);
	if (err) {
		release_pages(fe, sl, r->op == BLKIF_OP_WRITE);
		fe->free_slot[fe->nr_free_slots++] = (uint16_t)id;
		return err;
	}
	sl->in_use = true;
	if (r->op == BLKIF_OP_READ && !sl->zc)
		fe->copy_reads++;
	sl->idx = fe->ring.req_prod_pvt;
	r->slot = (uint16_t)id;
	push(fe);
	return 0;
}

/* ---- waiting and the synchronous calls ---------------------------------- */

/*
 * Before sleeping on r: blkfront_poll() left rsp_event at the next
 * response, so each response of a deep queue would wake us once (and make
 * the back end kick). Ask for
 * a notification only when the response count reaches r's ring index
 * instead: a back end answering in order has then answered r (one wake-up
 * for the batch); one answering out of order wakes us no later than when
 * everything submitted before r is answered too, and the loop re-arms.
 * True if that many responses are already there (do not sleep).
 */
static bool arm_for(struct blkfront *fe, const struct blkfront_req *r)
{
	const struct blkfront_slot *sl = &fe->slot[r->slot];
	RING_IDX want;

	if (r->slot >= fe->inflight || !sl->in_use || sl->req != r)
		return false;
	/* Copying reads: each answer is worth taking at once, so that its
	 * copy-out overlaps the back end's next read. */
	if (fe->copy_reads)
		return false;
	want = sl->idx + 1;
	/* Only ahead of what poll armed, and never past the requests made. */
	if ((int32_t)(want - (fe->ring.rsp_cons + 1)) <= 0 ||
	    (int32_t)(fe->ring.req_prod_pvt - want) < 0)
		return false;
	__atomic_store_n(&fe->ring.sring->rsp_event, want, __ATOMIC_SEQ_CST);
	/* Pairs with the back end's fence between its rsp_prod store and its
	 * rsp_event load (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY). */
	return (int32_t)(__atomic_load_n(&fe->ring.sring->rsp_prod, __ATOMIC_SEQ_CST) - want) >= 0;
}

int blkfront_wait(struct blkfront *fe, struct blkfront_req *r, uint64_t timeout_ns)
{
	uint64_t deadline = bf_now(fe) + (timeout_ns ? timeout_ns : fe->timeout_ns);

	for (;;) {
		blkfront_poll(fe);
		if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			return r->status;
		if (bf_now(fe) >= deadline)
			break;
		if (!arm_for(fe, r))
			fe->env->wait(fe->env_ctx, deadline);
	}
	/* The back end may still answer: drop our interest, keep the slot. */
	for (unsigned int id = 0; id < fe->inflight; id++)
		if (fe->slot[id].in_use && fe->slot[id].req == r)
			fe->slot[id].req = NULL;
	return -XEN_ETIMEDOUT;
}

/* Sectors per request of a split call. A zero-copy buffer f sectors into
 * its page keeps that offset in every request (they are page multiples),
 * so each spans one page more than a page-aligned one would. */
static uint64_t chunk_sectors(const struct blkfront *fe, const uint8_t *buf, bool zc)
{
	uint64_t f = ((uintptr_t)buf % BLKFRONT_PAGE_SIZE) / BLKFRONT_SECTOR_SIZE;

	if (!zc)
		return blkfront_max_sectors(fe);
	if (!f || fe->zc_max_segs < 2)
		return (uint64_t)fe->zc_max_segs * BLKFRONT_SECTORS_PER_PAGE;
	return (uint64_t)(fe->zc_max_segs - 1) * BLKFRONT_SECTORS_PER_PAGE;
}

/* Reads or writes through a window of up to `inflight` requests. */
static int rw_pipelined(struct blkfront *fe, uint8_t op, uint64_t sector, uint8_t *buf,
			uint64_t nsect, bool zc)
{
	struct blkfront_req reqs[BLKFRONT_MAX_INFLIGHT];
	uint64_t chunk = chunk_sectors(fe, buf, zc), off = 0;
	unsigned int head = 0, tail = 0, n = fe->inflight;
	int err = 0, rc;

	while (off < nsect || head != tail) {
		while (!err && off < nsect && tail - head < n) {
			struct blkfront_req *r = &reqs[tail % n];
			uint64_t k = nsect - off < chunk ? nsect - off : chunk;

			*r = (struct blkfront_req){ .op = op,
						    .sector = sector + off,
						    .nsect = k,
						    .buf = buf + off * BLKFRONT_SECTOR_SIZE,
						    .zerocopy = zc };
			rc = blkfront_submit(fe, r);
			if (rc == -XEN_EAGAIN && head != tail)
				break;
			if (rc < 0) {
				err = rc;
				break;
			}
			off += k;
			tail++;
		}
		if (head == tail)
			break;
		/* Nothing more to submit: sleep until the newest is answered
		 * (one wake-up for the lot, see arm_for()), then reap in order. */
		rc = 0;
		if ((off >= nsect || err) && tail - head > 1)
			rc = blkfront_wait(fe, &reqs[(tail - 1) % n], 0);
		if (rc != -XEN_ETIMEDOUT)
			rc = blkfront_wait(fe, &reqs[head % n], 0);
		if (rc == -XEN_ETIMEDOUT) {
			for (; head != tail; head++) /* abandon the stack's requests */
				blkfront_wait(fe, &reqs[head % n], 1);
			return rc;
		}
		if (rc < 0 && !err)
			err = rc;
		head++;
	}
	return err;
}

int blkfront_read(struct blkfront *fe, uint64_t sector, void *buf, uint64_t nsect)
{
	return rw_pipelined(fe, BLKIF_OP_READ, sector, buf, nsect, false);
}

int blkfront_write(struct blkfront *fe, uint64_t sector, const void *buf, uint64_t nsect)
{
	/* The buffer is only read (copied into pool pages). */
	return rw_pipelined(fe, BLKIF_OP_WRITE, sector, (uint8_t *)(uintptr_t)buf, nsect, false);
}

int blkfront_read_zc(struct blkfront *fe, uint64_t sector, void *buf, uint64_t nsect)
{
	return rw_pipelined(fe, BLKIF_OP_READ, sector, buf, nsect, true);
}

int blkfront_write_zc(struct blkfront *fe, uint64_t sector, const void *buf, uint64_t nsect)
{
	/* The back end maps a write's pages read-only (not persistent). */
	return rw_pipelined(fe, BLKIF_OP_WRITE, sector, (uint8_t *)(uintptr_t)buf, nsect, true);
}

/* ---- zero-copy buffers --------------------------------------------------- */

int blkfront_buf_alloc(struct blkfront *fe, size_t bytes, void **ret_buf)
{
	size_t n = (bytes + BLKFRONT_PAGE_SIZE - 1) / BLKFRONT_PAGE_SIZE;
	unsigned int run = 0;

	*ret_buf = NULL;
	if (!fe->pool_mem || !bytes || n > fe->nr_pool - fe->nr_copy)
		return -XEN_EINVAL;
	/* First fit; the set-aside is small and allocation rare. */
	for (unsigned int i = fe->nr_copy; i < fe->nr_pool; i++) {
		run = fe->buf_owner[i] ? 0 : run + 1;
		if (run < n)
			continue;
		for (unsigned int k = i + 1 - (unsigned int)n; k <= i; k++)
			fe->buf_owner[k] = (uint16_t)(i + 2 - n); /* 1 + first page */
		*ret_buf = pool_page(fe, i + 1 - (unsigned int)n);
		return 0;
	}
	return -XEN_ENOMEM;
}

int blkfront_buf_free(struct blkfront *fe, void *buf)
{
	const uint8_t *p = buf;
	uint64_t off;
	unsigned int first;

	if (!fe->pool_mem || p < pool_page(fe, fe->nr_copy) || p >= pool_page(fe, fe->nr_pool))
		return -XEN_EINVAL;
	off = (uint64_t)(p - fe->pool_mem);
	first = (unsigned int)(off / BLKFRONT_PAGE_SIZE);
	if (off % BLKFRONT_PAGE_SIZE || fe->buf_owner[first] != first + 1)
		return -XEN_EINVAL; /* not a buffer's start, or already free */
	if (fe->buf_busy[first])
		return -XEN_EBUSY;
	for (unsigned int i = first; i < fe->nr_pool && fe->buf_owner[i] == first + 1; i++)
		fe->buf_owner[i] = 0;
	return 0;
}

static int one_request(struct blkfront *fe, uint8_t op, uint64_t sector, uint64_t nsect)
{
	struct blkfront_req r = { .op = op, .sector = sector, .nsect = nsect };
	uint64_t deadline = bf_now(fe) + fe->timeout_ns;
	int rc;

	while ((rc = blkfront_submit(fe, &r)) == -XEN_EAGAIN) {
		if (blkfront_poll(fe) < 0 || bf_now(fe) >= deadline)
			return -XEN_EIO;
		fe->env->wait(fe->env_ctx, deadline);
	}
	return rc < 0 ? rc : blkfront_wait(fe, &r, 0);
}

int blkfront_flush(struct blkfront *fe)
{
	return one_request(fe, BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
}

int blkfront_discard(struct blkfront *fe, uint64_t sector, uint64_t nsect)
{
	return one_request(fe, BLKIF_OP_DISCARD, sector, nsect);
}
