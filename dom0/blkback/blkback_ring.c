/*
 * The block back end's request engine (design in blkback_ring.h).
 *
 * One request, start to end:
 *   copy it off the ring -> check operation, segment count, each segment's
 *   first/last sector, the sector range against the image -> (indirect:
 *   map its pages, copy the segments out, unmap, check them) -> map the
 *   segments (persistent table or one call) -> one preadv/pwritev over the
 *   mapped pages -> unmap what is not persistent -> response, pushed with
 *   RING_PUSH_RESPONSES_AND_CHECK_NOTIFY (no kick when the front end is
 *   still consuming: it re-checks with RING_FINAL_CHECK_FOR_RESPONSES).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkback_ring.h"

/* A mapping that lives only for one request. */
struct blkback_tmpmap {
	void *handle;
	void **pages;
	unsigned int nr;
};

__attribute__((format(printf, 3, 4))) static void bb_log(struct blkback_ring *br, int level,
							 const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!br->ops->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	br->ops->log(br->ctx, level, msg);
}

static unsigned int pow2_at_least(unsigned int n)
{
	unsigned int p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

int blkback_ring_init(struct blkback_ring *br, void *sring, unsigned int nr_pages,
		      const struct blkback_config *cfg, const struct blkback_ops *ops, void *ctx)
{
	struct blkif_sring *s = sring;
	RING_IDX rsp_prod;

	memset(br, 0, sizeof(*br));
	if (!s || !nr_pages || nr_pages > BLKBACK_MAX_RING_PAGES || (nr_pages & (nr_pages - 1)))
		return -EINVAL;
	if (cfg->max_indirect_segs > BLKBACK_MAX_INDIRECT_SEGS)
		return -EINVAL;
	br->cfg = *cfg;
	br->ops = ops;
	br->ctx = ctx;
	if (!br->cfg.max_pgrants || br->cfg.max_pgrants > BLKBACK_MAX_PGRANTS)
		br->cfg.max_pgrants = BLKBACK_MAX_PGRANTS;
	if (br->cfg.persistent) {
		br->pgrant_cap = pow2_at_least(2 * br->cfg.max_pgrants);
		br->pgrants = calloc(br->pgrant_cap, sizeof(*br->pgrants));
		if (!br->pgrants)
			return -ENOMEM;
	}
	/* Attach where the front end put its indices (it may start them
	 * anywhere); a req_prod beyond a ring's worth is caught by the first
	 * service call. */
	rsp_prod = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);
	BACK_RING_ATTACH(&br->ring, s, rsp_prod, BLKBACK_PAGE_SIZE * nr_pages);
	return 0;
}

void blkback_ring_fini(struct blkback_ring *br)
{
	for (unsigned int i = 0; i < br->nr_pmaps; i++) {
		br->ops->unmap(br->ctx, br->pmaps[i].handle, br->pmaps[i].pages, br->pmaps[i].nr);
		free(br->pmaps[i].pages);
	}
	free(br->pmaps);
	free(br->pgrants);
	br->pmaps = NULL;
	br->pgrants = NULL;
	br->nr_pmaps = br->nr_pgrants = 0;
}

/* ---- persistent grants ------------------------------------------------- */

static unsigned int pgrant_slot(const struct blkback_ring *br, grant_ref_t gref)
{
	unsigned int i = (gref * 2654435761u) & (br->pgrant_cap - 1);

	while (br->pgrants[i].used && br->pgrants[i].gref != gref)
		i = (i + 1) & (br->pgrant_cap - 1);
	return i;
}

static void *pgrant_find(const struct blkback_ring *br, grant_ref_t gref)
{
	const struct blkback_pgrant *pg = &br->pgrants[pgrant_slot(br, gref)];

	return pg->used ? pg->page : NULL;
}

static void pgrant_add(struct blkback_ring *br, grant_ref_t gref, void *page)
{
	struct blkback_pgrant *pg = &br->pgrants[pgrant_slot(br, gref)];

	if (pg->used) /* the same gref twice in one batch: keep the first */
		return;
	*pg = (struct blkback_pgrant){ .gref = gref, .used = true, .page = page };
	br->nr_pgrants++;
	br->stats.pgrants++;
}

/* Keeps a mapping call of nr pages until fini. */
static int pmap_keep(struct blkback_ring *br, void *handle, void **pages, unsigned int nr)
{
	struct blkback_pmap *pm;
	void **copy;

	if (br->nr_pmaps == br->pmap_cap) {
		unsigned int cap = br->pmap_cap ? 2 * br->pmap_cap : 64;

		pm = realloc(br->pmaps, cap * sizeof(*pm));
		if (!pm)
			return -ENOMEM;
		br->pmaps = pm;
		br->pmap_cap = cap;
	}
	copy = malloc(nr * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, pages, nr * sizeof(*copy));
	br->pmaps[br->nr_pmaps++] = (struct blkback_pmap){ handle, copy, nr };
	return 0;
}

/* Maps the grefs not yet in the table in one call; they become persistent
 * if the table has room for all of them, else they are mapped for this
 * request only (*tm). */
static int pgrant_map_misses(struct blkback_ring *br, unsigned int nmiss, void **pages,
			     struct blkback_tmpmap *tm)
{
	void *handle;
	int err;

	err = br->ops->map(br->ctx, br->miss, nmiss, true, br->miss_page, &handle);
	br->stats.maps++;
	if (err)
		return err;
	for (unsigned int k = 0; k < nmiss; k++)
		pages[br->miss_idx[k]] = br->miss_page[k];
	if (br->nr_pgrants + nmiss <= br->cfg.max_pgrants &&
	    !pmap_keep(br, handle, br->miss_page, nmiss)) {
		for (unsigned int k = 0; k < nmiss; k++)
			pgrant_add(br, br->miss[k], br->miss_page[k]);
		return 0;
	}
	if (!br->pgrants_full_logged)
		bb_log(br, BLKBACK_LOG_WARN,
		       "persistent grant limit (%u) reached: mapping further grants per request",
		       br->cfg.max_pgrants);
	br->pgrants_full_logged = true;
	*tm = (struct blkback_tmpmap){ handle, br->miss_page, nmiss };
	return 0;
}

/* ---- mapping a request's pages ----------------------------------------- */

/* pages[i] := grant refs[i] mapped (writable: we write into it). What must
 * be undone after the request goes into *tm (nr 0: nothing). */
static int map_refs(struct blkback_ring *br, const grant_ref_t *refs, unsigned int n, bool writable,
		    void **pages, struct blkback_tmpmap *tm)
{
	unsigned int nmiss = 0;
	void *handle;
	int err;

	*tm = (struct blkback_tmpmap){ NULL, NULL, 0 };
	if (!br->cfg.persistent) {
		err = br->ops->map(br->ctx, refs, n, writable, pages, &handle);
		br->stats.maps++;
		if (!err)
			*tm = (struct blkback_tmpmap){ handle, pages, n };
		return err;
	}
	for (unsigned int i = 0; i < n; i++) {
		pages[i] = pgrant_find(br, refs[i]);
		if (!pages[i]) {
			br->miss[nmiss] = refs[i];
			br->miss_idx[nmiss++] = i;
		}
	}
	return nmiss ? pgrant_map_misses(br, nmiss, pages, tm) : 0;
}

static void unmap_tmp(struct blkback_ring *br, struct blkback_tmpmap *tm)
{
	if (tm->nr)
		br->ops->unmap(br->ctx, tm->handle, tm->pages, tm->nr);
	tm->nr = 0;
}

/* ---- validation -------------------------------------------------------- */

long blkback_seg_sectors(const struct blkif_request_segment *seg, unsigned int nr)
{
	long total = 0;

	for (unsigned int i = 0; i < nr; i++) {
		if (seg[i].first_sect > seg[i].last_sect ||
		    seg[i].last_sect >= BLKBACK_SECTORS_PER_PAGE)
			return -EINVAL;
		total += seg[i].last_sect - seg[i].first_sect + 1;
	}
	return total;
}

static bool range_ok(const struct blkback_ring *br, uint64_t sector, uint64_t nr)
{
	return sector <= br->cfg.sectors && nr <= br->cfg.sectors - sector;
}

/* ---- operations -------------------------------------------------------- */

/* The iovec over the mapped segments, adjacent pieces merged. */
static int build_iov(struct blkback_ring *br, unsigned int nseg)
{
	int n = 0;

	for (unsigned int i = 0; i < nseg; i++) {
		char *base = (char *)br->page[i] + (br->seg[i].first_sect << BLKBACK_SECTOR_SHIFT);
		size_t len = (size_t)(br->seg[i].last_sect - br->seg[i].first_sect + 1)
			     << BLKBACK_SECTOR_SHIFT;

		if (n && (char *)br->iov[n - 1].iov_base + br->iov[n - 1].iov_len == base) {
			br->iov[n - 1].iov_len += len;
			continue;
		}
		br->iov[n].iov_base = base;
		br->iov[n++].iov_len = len;
	}
	return n;
}

/* Read or write nseg checked segments (br->seg) at sector. */
static int do_rw(struct blkback_ring *br, uint8_t op, uint64_t sector, unsigned int nseg)
{
	grant_ref_t refs[BLKBACK_MAX_INDIRECT_SEGS];
	struct blkback_tmpmap tm;
	long nsect = blkback_seg_sectors(br->seg, nseg);
	uint64_t off = sector << BLKBACK_SECTOR_SHIFT;
	ssize_t done;
	int iovcnt;

	if (op == BLKIF_OP_WRITE && br->cfg.readonly)
		return BLKIF_RSP_ERROR;
	if (nsect < 0 || !range_ok(br, sector, (uint64_t)nsect))
		return BLKIF_RSP_ERROR;
	for (unsigned int i = 0; i < nseg; i++)
		refs[i] = br->seg[i].gref;
	if (map_refs(br, refs, nseg, op == BLKIF_OP_READ, br->page, &tm))
		return BLKIF_RSP_ERROR;
	iovcnt = build_iov(br, nseg);
	if (op == BLKIF_OP_READ)
		done = br->ops->preadv(br->ctx, br->iov, iovcnt, off);
	else
		done = br->ops->pwritev(br->ctx, br->iov, iovcnt, off);
	unmap_tmp(br, &tm);
	if (done != (ssize_t)nsect << BLKBACK_SECTOR_SHIFT)
		return BLKIF_RSP_ERROR;
	if (op == BLKIF_OP_READ)
		br->stats.sectors_read += (uint64_t)nsect;
	else
		br->stats.sectors_written += (uint64_t)nsect;
	return BLKIF_RSP_OKAY;
}

static int op_rw(struct blkback_ring *br, const struct blkif_request *req)
{
	unsigned int nseg = req->nr_segments;

	if (!nseg || nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		return BLKIF_RSP_ERROR;
	memcpy(br->seg, req->seg, nseg * sizeof(br->seg[0]));
	return do_rw(br, req->operation, req->sector_number, nseg);
}

/* Copies the segments out of the indirect pages into br->seg. */
static int fetch_indirect(struct blkback_ring *br, const struct blkif_request_indirect *ind,
			  unsigned int nseg)
{
	unsigned int npages =
		(nseg + BLKBACK_SEGS_PER_INDIRECT_PAGE - 1) / BLKBACK_SEGS_PER_INDIRECT_PAGE;
	void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct blkback_tmpmap tm;

	if (npages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
		return -EINVAL;
	if (map_refs(br, ind->indirect_grefs, npages, false, pages, &tm))
		return -EFAULT;
	for (unsigned int p = 0; p < npages; p++) {
		unsigned int first = p * BLKBACK_SEGS_PER_INDIRECT_PAGE;
		unsigned int n = nseg - first < BLKBACK_SEGS_PER_INDIRECT_PAGE
					 ? nseg - first
					 : BLKBACK_SEGS_PER_INDIRECT_PAGE;

		/* One copy out of the shared page; only the copy is checked. */
		memcpy(&br->seg[first], pages[p], n * sizeof(br->seg[0]));
	}
	unmap_tmp(br, &tm);
	return 0;
}

static int op_indirect(struct blkback_ring *br, const struct blkif_request *req, uint8_t *ret_op)
{
	struct blkif_request_indirect ind;
	unsigned int nseg;

	memcpy(&ind, req, sizeof(ind));
	*ret_op = ind.indirect_op;
	nseg = ind.nr_segments;
	if (!br->cfg.max_indirect_segs)
		return BLKIF_RSP_EOPNOTSUPP;
	if (ind.indirect_op != BLKIF_OP_READ && ind.indirect_op != BLKIF_OP_WRITE)
		return BLKIF_RSP_ERROR;
	if (!nseg || nseg > br->cfg.max_indirect_segs)
		return BLKIF_RSP_ERROR;
	if (fetch_indirect(br, &ind, nseg))
		return BLKIF_RSP_ERROR;
	return do_rw(br, ind.indirect_op, ind.sector_number, nseg);
}

static int op_flush(struct blkback_ring *br)
{
	if (!br->cfg.flush)
		return BLKIF_RSP_EOPNOTSUPP;
	/* Every earlier write has returned (one request at a time): this
	 * makes them durable before the flush is answered. */
	if (br->ops->flush(br->ctx))
		return BLKIF_RSP_ERROR;
	br->stats.flushes++;
	return BLKIF_RSP_OKAY;
}

static int op_discard(struct blkback_ring *br, const struct blkif_request *req)
{
	struct blkif_request_discard d;
	int err;

	memcpy(&d, req, sizeof(d));
	if (!br->cfg.discard || (d.flag & BLKIF_DISCARD_SECURE))
		return BLKIF_RSP_EOPNOTSUPP;
	if (br->cfg.readonly || !range_ok(br, d.sector_number, d.nr_sectors))
		return BLKIF_RSP_ERROR;
	if (!d.nr_sectors)
		return BLKIF_RSP_OKAY;
	err = br->ops->discard(br->ctx, d.sector_number << BLKBACK_SECTOR_SHIFT,
			       d.nr_sectors << BLKBACK_SECTOR_SHIFT);
	if (err == -EOPNOTSUPP)
		return BLKIF_RSP_EOPNOTSUPP;
	if (err)
		return BLKIF_RSP_ERROR;
	br->stats.discards++;
	return BLKIF_RSP_OKAY;
}

/* ---- the ring ---------------------------------------------------------- */

/* Publishes the responses written so far; kicks if the front end asked. */
static void push_responses(struct blkback_ring *br)
{
	bool notify;

	if (!br->unpushed)
		return;
	br->unpushed = 0;
	br->unpushed_bytes = 0;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&br->ring, notify);
	if (notify)
		br->ops->notify(br->ctx);
}

/*
 * Small requests' responses go out in groups (BLKBACK_PUSH_EVERY): with a
 * deep queue of 4 KiB reads a push per response costs a fence and a kick
 * -- a cache line taken from the spinning front end -- each, about as much
 * as the read itself. Large ones go out at once (their I/O dwarfs a push,
 * and a copying front end overlaps its copy-out with our next request),
 * and so does everything when the ring runs dry: no response waits for a
 * request that may never come.
 */
static void respond(struct blkback_ring *br, uint64_t id, uint8_t op, int status, uint64_t bytes)
{
	struct blkif_response *rsp = RING_GET_RESPONSE(&br->ring, br->ring.rsp_prod_pvt);

	rsp->id = id;
	rsp->operation = op;
	rsp->status = (int16_t)status;
	br->ring.rsp_prod_pvt++;
	br->stats.requests++;
	if (status == BLKIF_RSP_OKAY)
		br->stats.ok++;
	else if (status == BLKIF_RSP_EOPNOTSUPP)
		br->stats.eopnotsupp++;
	else
		br->stats.errors++;
	br->unpushed++;
	br->unpushed_bytes += bytes;
	if (br->unpushed >= BLKBACK_PUSH_EVERY || br->unpushed_bytes >= BLKBACK_PUSH_BYTES)
		push_responses(br);
}

static void handle(struct blkback_ring *br, const struct blkif_request *req)
{
	uint64_t before = br->stats.sectors_read + br->stats.sectors_written;
	uint8_t op = req->operation;
	uint64_t bytes;
	int status;

	switch (op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		status = op_rw(br, req);
		break;
	case BLKIF_OP_INDIRECT:
		status = op_indirect(br, req, &op);
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
		status = op_flush(br);
		break;
	case BLKIF_OP_DISCARD:
		status = op_discard(br, req);
		break;
	default: /* barriers, the reserved op, anything else */
		status = BLKIF_RSP_EOPNOTSUPP;
		break;
	}
	bytes = (br->stats.sectors_read + br->stats.sectors_written - before)
		<< BLKBACK_SECTOR_SHIFT;
	/* A flush or discard is rare and often waited for alone: at once. */
	if (op == BLKIF_OP_FLUSH_DISKCACHE || op == BLKIF_OP_DISCARD)
		bytes = BLKBACK_PUSH_BYTES;
	respond(br, req->id, op, status, bytes);
}

int blkback_ring_service(struct blkback_ring *br)
{
	struct blkif_request req;
	unsigned int n = 0;
	RING_IDX rp, rc;
	int more;

	if (br->fatal)
		return -EPROTO;
	for (;;) {
		/* Pairs with the xen_wmb() in the front end's
		 * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY. */
		rp = __atomic_load_n(&br->ring.sring->req_prod, __ATOMIC_ACQUIRE);
		if (RING_REQUEST_PROD_OVERFLOW(&br->ring, rp)) {
			bb_log(br, BLKBACK_LOG_ERR,
			       "front end broke the ring: req_prod %u, rsp_prod %u, size %u", rp,
			       br->ring.rsp_prod_pvt, RING_SIZE(&br->ring));
			br->fatal = true;
			push_responses(br); /* those already served stand */
			return -EPROTO;
		}
		for (rc = br->ring.req_cons; rc != rp; rc++) {
			if (n == BLKBACK_BATCH) {
				push_responses(br);
				return 1;
			}
			if (RING_REQUEST_CONS_OVERFLOW(&br->ring, rc))
				break;
			RING_COPY_REQUEST(&br->ring, rc, &req);
			br->ring.req_cons = rc + 1;
			handle(br, &req);
			n++;
		}
		push_responses(br);
		RING_FINAL_CHECK_FOR_REQUESTS(&br->ring, more);
		if (!more)
			return 0;
	}
}
