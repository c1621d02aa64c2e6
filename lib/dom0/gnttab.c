/*
 * libxenon-dom0: grant maps (xenon_gnttab_*, libxengnttab's shape) and
 * dom0 shares (xenon_gntshr_*, libxengntshr's), over their own hvd.sock
 * connection each (procdom_proto.h (g)).
 *
 * A map or share reply names pages as (fd, offset): the granter's ram
 * memfd, or for dom0's shares (and a map of one) the share's own memfd,
 * which holds that share's pages and nothing else of dom0. We reserve the
 * whole range of address space first (PROT_NONE), then mmap(MAP_FIXED |
 * MAP_SHARED) each run of consecutive offsets over it, so the caller gets
 * one contiguous mapping of frames that need not be contiguous, and a
 * failure half way leaves nothing behind.
 *
 * xenon-hvd owns the other half: it unmaps and ends shares when we ask, or
 * when the connection goes (close, or this process dies), firing notifies.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xengnttab.h>

#include "dom0_internal.h"

/* One map or share call's pages in our address space. */
struct xenon_grant_region {
	uint8_t *addr;
	uint32_t count;
	uint64_t id; /* xenon-hvd's map or share id */
	struct xenon_grant_region *next;
};

/* Both handles are a control connection and the regions mapped through it
 * (grant maps, or dom0 pages shared). */
struct grant_handle {
	struct xenon_ctl *ctl;
	struct xenon_grant_region *regions;
};

struct xenon_gnttab {
	struct grant_handle h;
};

struct xenon_gntshr {
	struct grant_handle h;
};

/* handle_new/handle_free treat either as its grant_handle. */
_Static_assert(offsetof(struct xenon_gnttab, h) == 0 && offsetof(struct xenon_gntshr, h) == 0,
	       "the grant_handle comes first");

/* ---- shared helpers --------------------------------------------------- */

static void *fail_null(int err)
{
	errno = -err;
	return NULL;
}

/* Map count pages at offsets[i] of fd into one new range. */
static void *map_pages(int fd, const uint64_t *offsets, uint32_t count, int prot)
{
	size_t len = (size_t)count * PROCDOM_PAGE_SIZE;
	uint8_t *base =
		mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint32_t i = 0, run;
	int err;

	if (base == MAP_FAILED)
		return fail_null(-errno);
	while (i < count) {
		for (run = 1; i + run < count &&
			      offsets[i + run] == offsets[i] + (uint64_t)run * PROCDOM_PAGE_SIZE;
		     run++)
			;
		if (mmap(base + (size_t)i * PROCDOM_PAGE_SIZE, (size_t)run * PROCDOM_PAGE_SIZE,
			 prot, MAP_SHARED | MAP_FIXED, fd, (off_t)offsets[i]) == MAP_FAILED) {
			err = -errno;
			munmap(base, len);
			return fail_null(err);
		}
		i += run;
	}
	return base;
}

static struct xenon_grant_region **region_find(struct xenon_grant_region **head, const void *addr,
					       bool exact)
{
	struct xenon_grant_region **pp;

	for (pp = head; *pp; pp = &(*pp)->next) {
		const uint8_t *a = addr, *s = (*pp)->addr;

		if (exact ? a == s : a >= s && a < s + (size_t)(*pp)->count * PROCDOM_PAGE_SIZE)
			return pp;
	}
	return NULL;
}

static int region_add(struct xenon_grant_region **head, void *addr, uint32_t count, uint64_t id)
{
	struct xenon_grant_region *g = malloc(sizeof(*g));

	if (!g)
		return -ENOMEM;
	*g = (struct xenon_grant_region){ addr, count, id, *head };
	*head = g;
	return 0;
}

static void regions_free(struct xenon_grant_region *g)
{
	while (g) {
		struct xenon_grant_region *next = g->next;

		munmap(g->addr, (size_t)g->count * PROCDOM_PAGE_SIZE);
		free(g);
		g = next;
	}
}

/* ---- handles -------------------------------------------------------------- */

/* A handle of SIZE bytes: xenon_gnttab or xenon_gntshr, whose only member
 * is the grant_handle (so the two types cannot be mixed up by callers). */
static int handle_new(const char *run_dir, size_t size, void **ret)
{
	struct grant_handle *h = calloc(1, size);
	int err = h ? xenon_ctl_open(run_dir, &h->ctl) : -ENOMEM;

	if (err) {
		free(h);
		return err;
	}
	*ret = h;
	return 0;
}

/* Our mappings go first; the hang-up then makes xenon-hvd undo the grants
 * or shares (and fire their notifies). */
static void handle_free(struct grant_handle *h)
{
	regions_free(h->regions);
	xenon_ctl_close(h->ctl);
	free(h);
}

/* ---- the one pipeline of maps and shares ------------------------------- */
/*
 * A grant map and a dom0 share are the same call: a request that makes
 * count pages, a reply with one descriptor and one record per page, the
 * pages mapped by offset into one region, and on any failure after the
 * reply, the region undone and xenon-hvd asked to undo its half. What
 * differs is below: the two ops, the page record and how it is read.
 */
struct grant_kind {
	uint32_t op_make, op_undo; /* GNT_MAP/GNT_UNMAP, GNTSHR_SHARE/UNSHARE */
	size_t rec_size;	   /* one page's record in the reply */
	/* Page i's record -> its offset in the fd (a share's ref into refs). */
	int (*page)(const uint8_t *rec, uint32_t i, uint64_t *ret_offset, uint32_t *refs);
};

/* One make call: the request and what the pages become. */
struct grant_call {
	uint32_t domid;
	int64_t arg;
	const void *payload;
	size_t len;
	uint32_t count;
	int prot;
	uint32_t *refs; /* a share's refs, filled from the reply; NULL for maps */
};

static int reply_offsets(const struct grant_kind *k, const struct grant_call *c,
			 const struct xenon_reply *r, int fd, uint64_t *offsets)
{
	uint32_t i;
	int err;

	if (r->plen != c->count * k->rec_size || fd < 0)
		return -EPROTO;
	for (i = 0; i < c->count; i++) {
		err = k->page(r->payload + i * k->rec_size, i, &offsets[i], c->refs);
		if (err)
			return err;
	}
	return 0;
}

/* The reply's pages into a new region of h; fd is ours to close. */
static void *handle_finish(struct grant_handle *h, const struct grant_kind *k,
			   const struct grant_call *c, const struct xenon_reply *r, int fd)
{
	uint64_t *offsets = calloc(c->count, sizeof(*offsets));
	void *addr = NULL;
	int err = offsets ? reply_offsets(k, c, r, fd, offsets) : -ENOMEM;

	if (!err) {
		addr = map_pages(fd, offsets, c->count, c->prot);
		err = addr ? region_add(&h->regions, addr, c->count, (uint64_t)r->m.arg) : -errno;
	}
	free(offsets);
	if (fd >= 0)
		close(fd);
	if (err) {
		if (addr)
			munmap(addr, (size_t)c->count * PROCDOM_PAGE_SIZE);
		xenon_simple(h->ctl, k->op_undo, 0, r->m.arg);
		return fail_null(err);
	}
	return addr;
}

/* Make c->count pages (c already checked); the address or NULL, errno. */
static void *handle_make(struct grant_handle *h, const struct grant_kind *k,
			 const struct grant_call *c)
{
	struct xenon_reply r;
	int err, fd;

	err = xenon_request_fd(h->ctl, k->op_make, c->domid, c->arg, c->payload, c->len, NULL, 0,
			       &r, &fd);
	if (err)
		return fail_null(err);
	if (r.m.arg <= 0) {
		if (fd >= 0)
			close(fd);
		return fail_null(r.m.arg < 0 ? (int)r.m.arg : -EPROTO);
	}
	return handle_finish(h, k, c, &r, fd);
}

/* Undo one make call, given exactly as it returned. Ours first: nothing of
 * this process touches the pages once xenon-hvd has zeroed the notify byte
 * and let the grants go. */
static int handle_drop(struct grant_handle *h, const struct grant_kind *k, void *start,
		       uint32_t count)
{
	struct xenon_grant_region **pp = region_find(&h->regions, start, true), *g;
	int err;

	if (!pp || (*pp)->count != count)
		return -EINVAL;
	g = *pp;
	*pp = g->next;
	munmap(g->addr, (size_t)g->count * PROCDOM_PAGE_SIZE);
	err = xenon_simple(h->ctl, k->op_undo, 0, (int64_t)g->id);
	free(g);
	return err;
}

/* ---- grant maps --------------------------------------------------------- */

int xenon_gnttab_open(const char *run_dir, struct xenon_gnttab **ret_xgt)
{
	void *h;
	int err = handle_new(run_dir, sizeof(**ret_xgt), &h);

	if (!err)
		*ret_xgt = h;
	return err;
}

void xenon_gnttab_close(struct xenon_gnttab *xgt)
{
	if (xgt)
		handle_free(&xgt->h);
}

/* Every page of a map is the granter's, so one fd serves them all. */
static int map_page(const uint8_t *rec, uint32_t i, uint64_t *ret_offset, uint32_t *refs)
{
	struct procdom_ctl_gnt_page pg;

	(void)i;
	(void)refs;
	memcpy(&pg, rec, sizeof(pg));
	if (pg.fd_index != 0 || pg.offset % PROCDOM_PAGE_SIZE)
		return -EPROTO;
	*ret_offset = pg.offset;
	return 0;
}

static const struct grant_kind gnttab_kind = {
	.op_make = PROCDOM_CTL_GNT_MAP,
	.op_undo = PROCDOM_CTL_GNT_UNMAP,
	.rec_size = sizeof(struct procdom_ctl_gnt_page),
	.page = map_page,
};

void *xenon_gnttab_map_grant_refs(struct xenon_gnttab *xgt, uint32_t count, uint32_t domid,
				  const uint32_t *refs, int prot)
{
	struct grant_call c = { .domid = domid,
				.arg = prot == PROT_READ ? PROCDOM_GNT_READONLY : 0,
				.payload = refs,
				.len = count * sizeof(*refs),
				.count = count,
				.prot = prot };

	if (count < 1 || count > XENON_GNTTAB_MAX_BATCH || !refs ||
	    (prot != PROT_READ && prot != (PROT_READ | PROT_WRITE)))
		return fail_null(-EINVAL);
	return handle_make(&xgt->h, &gnttab_kind, &c);
}

void *xenon_gnttab_map_grant_ref(struct xenon_gnttab *xgt, uint32_t domid, uint32_t ref, int prot)
{
	return xenon_gnttab_map_grant_refs(xgt, 1, domid, &ref, prot);
}

int xenon_gnttab_unmap(struct xenon_gnttab *xgt, void *start, uint32_t count)
{
	return handle_drop(&xgt->h, &gnttab_kind, start, count);
}

int xenon_gnttab_set_unmap_notify(struct xenon_gnttab *xgt, void *addr, int32_t notify_offset,
				  int32_t notify_port)
{
	struct xenon_grant_region **pp = region_find(&xgt->h.regions, addr, false);
	struct procdom_ctl_gnt_notify n = { .offset = -1,
					    .port = notify_port < 0 ? -1 : notify_port };
	struct xenon_reply r;
	size_t page;
	int err;

	if (!pp || notify_offset >= (int32_t)PROCDOM_PAGE_SIZE)
		return -EINVAL;
	page = (size_t)((uint8_t *)addr - (*pp)->addr) / PROCDOM_PAGE_SIZE;
	if (notify_offset >= 0)
		n.offset = (int64_t)(page * PROCDOM_PAGE_SIZE) + notify_offset;
	err = xenon_request(xgt->h.ctl, PROCDOM_CTL_GNT_NOTIFY, 0, (int64_t)(*pp)->id, &n,
			    sizeof(n), NULL, 0, &r);
	return err ? err : (int)r.m.arg;
}

/* ---- grant copy ----------------------------------------------------------- */

static int copy_check(const struct xengnttab_grant_copy_segment *s)
{
	uint16_t off =
		s->flags == GNTCOPY_source_gref ? s->source.foreign.offset : s->dest.foreign.offset;

	if (s->flags != GNTCOPY_source_gref && s->flags != GNTCOPY_dest_gref)
		return -EINVAL;
	return (uint32_t)off + s->len > PROCDOM_PAGE_SIZE ? -EINVAL : 0;
}

static void copy_wire(const struct xengnttab_grant_copy_segment *s,
		      struct procdom_ctl_gnt_copy_seg *w)
{
	const union xengnttab_copy_ptr *g = s->flags == GNTCOPY_source_gref ? &s->source : &s->dest;

	*w = (struct procdom_ctl_gnt_copy_seg){ .ref = g->foreign.ref,
						.domid = g->foreign.domid,
						.offset = g->foreign.offset,
						.len = s->len,
						.flags = s->flags };
}

/* Statuses, then source-gref bytes into their local buffers. */
static int copy_reply(const struct xenon_reply *r, struct xengnttab_grant_copy_segment *segs,
		      uint32_t n)
{
	size_t len = n * sizeof(int32_t);
	uint32_t i;

	for (i = 0; i < n; i++)
		if (segs[i].flags == GNTCOPY_source_gref)
			len += segs[i].len;
	if (r->m.arg < 0)
		return (int)r->m.arg;
	if (r->plen != len)
		return -EPROTO;
	len = n * sizeof(int32_t);
	for (i = 0; i < n; i++) {
		int32_t st;

		memcpy(&st, r->payload + i * sizeof(st), sizeof(st));
		segs[i].status = (int16_t)st;
		if (segs[i].flags != GNTCOPY_source_gref)
			continue;
		if (st == GNTST_okay)
			memcpy(segs[i].dest.virt, r->payload + len, segs[i].len);
		len += segs[i].len;
	}
	return 0;
}

/* One message: up to PROCDOM_GNT_COPY_MAX segments (their data fits). */
static int copy_batch(struct xenon_ctl *ctl, struct xengnttab_grant_copy_segment *segs, uint32_t n,
		      uint8_t *msg)
{
	uint32_t hdr[2] = { n, 0 }, i;
	size_t len = sizeof(hdr) + n * sizeof(struct procdom_ctl_gnt_copy_seg);
	struct xenon_reply r;
	int err;

	memcpy(msg, hdr, sizeof(hdr));
	for (i = 0; i < n; i++) {
		struct procdom_ctl_gnt_copy_seg w;

		copy_wire(&segs[i], &w);
		memcpy(msg + sizeof(hdr) + i * sizeof(w), &w, sizeof(w));
	}
	for (i = 0; i < n; i++) {
		if (segs[i].flags != GNTCOPY_dest_gref)
			continue;
		memcpy(msg + len, segs[i].source.virt, segs[i].len);
		len += segs[i].len;
	}
	err = xenon_request(ctl, PROCDOM_CTL_GNT_COPY, 0, 0, msg, len, NULL, 0, &r);
	return err ? err : copy_reply(&r, segs, n);
}

int xenon_gnttab_grant_copy(struct xenon_gnttab *xgt, uint32_t count,
			    struct xengnttab_grant_copy_segment *segs)
{
	uint32_t i, n;
	uint8_t *msg;
	int err = 0;

	if (count > XENON_GNTTAB_MAX_BATCH || (count && !segs))
		return -EINVAL;
	for (i = 0; i < count; i++)
		if ((err = copy_check(&segs[i])) < 0)
			return err;
	msg = malloc(PROCDOM_CTL_MAX_MSG);
	if (!msg)
		return -ENOMEM;
	for (i = 0; i < count && !err; i += n) {
		n = count - i < PROCDOM_GNT_COPY_MAX ? count - i : PROCDOM_GNT_COPY_MAX;
		err = copy_batch(xgt->h.ctl, segs + i, n, msg);
	}
	free(msg);
	return err;
}

/* ---- dom0 shares ---------------------------------------------------------- */

int xenon_gntshr_open(const char *run_dir, struct xenon_gntshr **ret_xgs)
{
	void *h;
	int err = handle_new(run_dir, sizeof(**ret_xgs), &h);

	if (!err)
		*ret_xgs = h;
	return err;
}

void xenon_gntshr_close(struct xenon_gntshr *xgs)
{
	if (xgs)
		handle_free(&xgs->h);
}

/* A share's page: its offset in the share's memfd and dom0's ref for it. */
static int share_page(const uint8_t *rec, uint32_t i, uint64_t *ret_offset, uint32_t *refs)
{
	struct procdom_ctl_gntshr_page pg;

	memcpy(&pg, rec, sizeof(pg));
	if (pg.offset % PROCDOM_PAGE_SIZE)
		return -EPROTO;
	*ret_offset = pg.offset;
	refs[i] = pg.ref;
	return 0;
}

static const struct grant_kind gntshr_kind = {
	.op_make = PROCDOM_CTL_GNTSHR_SHARE,
	.op_undo = PROCDOM_CTL_GNTSHR_UNSHARE,
	.rec_size = sizeof(struct procdom_ctl_gntshr_page),
	.page = share_page,
};

static void *share(struct xenon_gntshr *xgs, uint32_t domid, const struct procdom_ctl_gntshr *req,
		   uint32_t *refs)
{
	struct grant_call c = { .domid = domid,
				.payload = req,
				.len = sizeof(*req),
				.count = req->count,
				.prot = PROT_READ | PROT_WRITE,
				.refs = refs };

	if (req->count < 1 || req->count > XENON_GNTTAB_MAX_BATCH || !refs)
		return fail_null(-EINVAL);
	return handle_make(&xgs->h, &gntshr_kind, &c);
}

void *xenon_gntshr_share_pages(struct xenon_gntshr *xgs, uint32_t domid, uint32_t count,
			       uint32_t *refs, bool writable)
{
	struct procdom_ctl_gntshr req = { .count = count,
					  .flags = writable ? PROCDOM_GNTSHR_WRITABLE : 0,
					  .notify_offset = -1,
					  .notify_port = -1 };

	return share(xgs, domid, &req, refs);
}

void *xenon_gntshr_share_page_notify(struct xenon_gntshr *xgs, uint32_t domid, bool writable,
				     int32_t notify_offset, int32_t notify_port, uint32_t *ret_ref)
{
	struct procdom_ctl_gntshr req = { .count = 1,
					  .flags = writable ? PROCDOM_GNTSHR_WRITABLE : 0,
					  .notify_offset = notify_offset < 0 ? -1 : notify_offset,
					  .notify_port = notify_port < 0 ? -1 : notify_port };

	if (notify_offset >= (int32_t)PROCDOM_PAGE_SIZE)
		return fail_null(-EINVAL);
	return share(xgs, domid, &req, ret_ref);
}

int xenon_gntshr_unshare(struct xenon_gntshr *xgs, void *start, uint32_t count)
{
	return handle_drop(&xgs->h, &gntshr_kind, start, count);
}
