/*
 * Grants for dom0's clients: maps (as Linux's gntdev), shares (as gntalloc)
 * and the grant status `xenon graph` draws. Protocol: procdom_proto.h (g).
 *
 * dom0 has no process, so xenon-hvd is its kernel here. Everything runs as
 * dom0's vCPU 0 through the core, so the granter sees dom0's pins and flags
 * exactly as it would under Xen:
 *
 *   GNT_MAP (d5, refs 8 9)                    dom0 frame space (hvd.h)
 *     window gfns picked: W, W+1        -->   | RAM | pool | window  |S|G..|
 *     GNTTABOP_map_grant_ref as dom0              host_addr=W  ^
 *       host_addr W<<12, dom 5, ref 8     the core pins d5's ref 8 and shows
 *     dev_bus_addr = d5's gfn << 12       d5's frame at dom0's gfn W
 *     reply: offsets = dev_bus_addr, fd = d5's ram memfd
 *   the client mmaps the memfd at those offsets: the granter's frame itself.
 *
 *   GNTSHR_SHARE (d5, 2 pages)
 *     pool frames P, P+1; a fresh memfd of 2 pages (the share's overlay,
 *     procdom.h) shown in our mapping of dom0's RAM at gfns P, P+1; dom0
 *     refs r, r+1 from our ref allocator;
 *     entry r = { frame P, domid 5, flags permit_access [| readonly] }
 *     written in dom0's grant frame (reached through local_physmap, once
 *     XENMEM_add_to_physmap placed it at HVD_DOM0_GNT_FRAME_GFN + idx);
 *     reply: offsets 0, 4096, refs, fd = the share's memfd.
 *   GNTSHR_UNSHARE: entry r cleared with a cmpxchg that sees neither
 *     GTF_reading nor GTF_writing; otherwise (d5 still maps it) r and P go
 *     on the deferred list, retried after every loop iteration, freed once
 *     d5 unmaps or dies. A freed frame is detached from the share's memfd
 *     (dom0's own RAM shows at P again), so whoever still holds that fd
 *     sees only what the share held, never a later share.
 *
 * Why a memfd per share: d5 mapping dom0's frame P receives, from procdom,
 * the memfd behind P and may mmap any offset of it. Were P a page of
 * dom0's ram memfd, d5 could reach all of dom0's RAM -- the scratch frames
 * where clients' hypercall arguments wait for the core, the copy bounce
 * frames, every other share. With a memfd per share it reaches exactly the
 * pages of this share (all granted to d5, by the same client), and for a
 * read-only share only through an O_RDONLY fd.
 *
 * Ownership: each connection lists its maps and shares; its hang-up undoes
 * them (notify byte zeroed, grants unmapped, notify port signalled; shares
 * ended). One thread: no locks (hvd.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/grant_table.h>
#include <xen/memory.h>

#include "hvd.h"

#define GNT_PER_FRAME (PROCDOM_PAGE_SIZE / sizeof(grant_entry_v1_t))
#define GNT_NR_REFS (HVD_DOM0_GNT_FRAMES * GNT_PER_FRAME)
#define GNT_FIRST_REF 8	 /* GNTTAB_NR_RESERVED_ENTRIES: never handed out */
#define GNT_HC_CHUNK 256 /* map/unmap elements per hypercall (scratch) */

struct hvd_gnt_deferred {
	uint32_t ref, frame; /* frame: pool index */
	struct procdom_overlay *ovl;
	uint32_t idx; /* the frame's page in ovl */
};

#define GNT_WORDS(bits) (((bits) + 63) / 64)

/*
 * xenon-hvd-wide bookkeeping, allocated at first use. Window gfns, pool
 * frames and refs are bitmaps, bit set = in use, each searched from a
 * cursor a 64-bit word at a time. A pool frame stays set while it is
 * deferred (its page ended while the peer still maps it): `deferred`
 * lists those, and only gnt_frame_free clears the bit.
 */
struct hvd_gnt {
	uint64_t window[GNT_WORDS(HVD_DOM0_MAP_GFNS)];
	uint32_t window_next, window_used;
	uint64_t pool[GNT_WORDS(HVD_DOM0_POOL_PAGES)]; /* shared or deferred */
	uint32_t pool_next, pool_free;
	uint64_t refs[GNT_WORDS(GNT_NR_REFS)];
	uint32_t refs_next, refs_used;
	unsigned int nr_frames; /* dom0 grant frames placed */
	struct hvd_gnt_deferred deferred[HVD_DOM0_POOL_PAGES];
	unsigned int nr_deferred;
	uint64_t unpins_seen; /* hv_grant_unpins(dom0) at the last look */
	uint64_t next_id;
};

struct hvd_gnt_map {
	uint64_t id;
	domid_t domid;
	bool readonly;
	uint32_t count;
	int64_t notify_offset; /* -1: none */
	int32_t notify_port;   /* -1: none */
	uint32_t *gfns;	       /* dom0 window gfns */
	grant_handle_t *handles;
	uint64_t *frames; /* the granter's gfns */
	struct hvd_gnt_map *next;
};

struct hvd_gnt_share {
	uint64_t id;
	domid_t domid;
	uint32_t count;
	int64_t notify_offset;
	int32_t notify_port;
	uint32_t *frames; /* pool indices */
	uint32_t *refs;
	struct procdom_overlay *ovl; /* the share's memfd, page i = frames[i] */
	struct hvd_gnt_share *next;
};

struct hvd_gnt_conn {
	struct hvd_gnt_map *maps;
	struct hvd_gnt_share *shares;
	uint32_t nr_mapped, nr_shared; /* pages */
	bool limit_logged;
};

/* ---- bitmaps ---------------------------------------------------------- */

static void bit_set(uint64_t *map, uint32_t i, bool on)
{
	if (on)
		map[i / 64] |= 1ull << (i % 64);
	else
		map[i / 64] &= ~(1ull << (i % 64));
}

/* The first clear bit in [from, to), or -1: one read per word. */
static int64_t bit_find_clear_in(const uint64_t *map, uint32_t from, uint32_t to)
{
	uint32_t w;
	uint64_t clear;

	for (w = from / 64; (uint64_t)w * 64 < to; w++) {
		clear = ~map[w];
		if (w == from / 64)
			clear &= ~0ull << (from % 64);
		if (clear) {
			uint64_t b = (uint64_t)w * 64 + (unsigned int)__builtin_ctzll(clear);

			return b < to ? (int64_t)b : -1;
		}
	}
	return -1;
}

/* Next clear bit from *cursor on, wrapping, below limit (> 0); -1: none.
 * The same order as a bit-by-bit scan: cursor .. limit-1, 0 .. cursor-1. */
static int64_t bit_find_clear(const uint64_t *map, uint32_t limit, uint32_t *cursor)
{
	uint32_t from = *cursor % limit;
	int64_t b = bit_find_clear_in(map, from, limit);

	if (b < 0)
		b = bit_find_clear_in(map, 0, from);
	if (b >= 0)
		*cursor = (uint32_t)(b + 1) % limit;
	return b;
}

/* ---- state ------------------------------------------------------------ */

static struct hvd_gnt *gnt_get(struct hvd *h)
{
	struct hvd_domain *d0 = hvd_domain_get(h, 0);

	if (!h->gnt && d0) {
		h->gnt = calloc(1, sizeof(*h->gnt));
		if (h->gnt)
			h->gnt->pool_free = HVD_DOM0_POOL_PAGES;
		/* Pool frames are shown only through their share's memfd. */
		if (h->gnt &&
		    procdom_overlay_range(d0->pdom, HVD_DOM0_POOL_GFN, HVD_DOM0_POOL_PAGES) < 0) {
			free(h->gnt);
			h->gnt = NULL;
		}
	}
	return h->gnt;
}

static struct hvd_gnt_conn *gnt_conn(struct hvd_conn *c)
{
	if (!c->gnt)
		c->gnt = calloc(1, sizeof(*c->gnt));
	return c->gnt;
}

/* dom0's grant frames appear through physmap_set (procdom's `local`). */
void hvd_dom0_physmap(void *ctx, domid_t domid, uint64_t gfn, void *page, bool readonly)
{
	struct hvd *h = ctx;

	(void)readonly;
	/* A page is remembered at its first showing and kept: it stays the
	 * grant frame as long as dom0 lives, wherever a client moves it. */
	if (domid == 0 && page && gfn >= HVD_DOM0_GNT_FRAME_GFN &&
	    gfn < HVD_DOM0_GNT_FRAME_GFN + HVD_DOM0_GNT_FRAMES &&
	    !h->gnt_frame[gfn - HVD_DOM0_GNT_FRAME_GFN])
		h->gnt_frame[gfn - HVD_DOM0_GNT_FRAME_GFN] = page;
}

static uint8_t *dom0_frame(struct hvd *h, uint64_t gfn)
{
	struct hvd_domain *d0 = hvd_domain_get(h, 0);

	return d0 ? procdom_domain_ram(d0->pdom, gfn) : NULL;
}

static long dom0_gnttab_op(struct hvd *h, unsigned int cmd, void *ops, size_t size,
			   unsigned int count)
{
	uint64_t args[5] = { cmd, 0, count, 0, 0 };

	return hvd_dom0_hypercall(h, __HYPERVISOR_grant_table_op, args, 1, ops, size * count);
}

static void dom0_notify_port(struct hvd *h, int32_t port)
{
	struct evtchn_send send = { .port = (evtchn_port_t)port };
	uint64_t args[5] = { EVTCHNOP_send, 0 };

	if (port > 0 && port < HVD_DOM0_PORTS)
		hvd_dom0_hypercall(h, __HYPERVISOR_event_channel_op, args, 1, &send, sizeof(send));
}

/* As Linux's gntdev reports a failed map. */
static int gnt_errno(int16_t st)
{
	switch (st) {
	case GNTST_okay:
		return 0;
	case GNTST_bad_domain:
		return -ESRCH;
	case GNTST_bad_gntref:
	case GNTST_bad_page:
	case GNTST_bad_copy_arg:
		return -EINVAL;
	case GNTST_general_error:
	case GNTST_permission_denied:
		return -EACCES;
	case GNTST_no_device_space:
	case GNTST_bad_virt_addr:
		return -ENOMEM;
	case GNTST_eagain:
		return -EAGAIN;
	}
	return -EIO;
}

static bool gnt_domain_ok(struct hvd *h, uint32_t domid)
{
	return domid < DOMID_FIRST_RESERVED && hvd_domain_get(h, (domid_t)domid) &&
	       !hvd_domain_get(h, (domid_t)domid)->dead;
}

static bool gnt_conn_room(struct hvd_conn *c, struct hvd_gnt_conn *gc, uint32_t have, uint32_t more)
{
	if (have + more <= PROCDOM_GNT_MAX_MAPPED)
		return true;
	if (!gc->limit_logged)
		hvd_log(c->h, HV_LOG_WARN, "connection %u: grant page limit %u reached", c->id,
			PROCDOM_GNT_MAX_MAPPED);
	gc->limit_logged = true;
	return false;
}

/* ---- the map window ------------------------------------------------- */

static int window_alloc(struct hvd_gnt *g, uint32_t *gfns, uint32_t n)
{
	uint32_t i;

	if (n > HVD_DOM0_MAP_GFNS - g->window_used)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int64_t b = bit_find_clear(g->window, HVD_DOM0_MAP_GFNS, &g->window_next);

		bit_set(g->window, (uint32_t)b, true);
		gfns[i] = HVD_DOM0_PAGES + (uint32_t)b;
	}
	g->window_used += n;
	return 0;
}

static void window_free(struct hvd_gnt *g, const uint32_t *gfns, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		bit_set(g->window, gfns[i] - HVD_DOM0_PAGES, false);
	g->window_used -= n;
}

/* ---- maps --------------------------------------------------------------- */

static void gnt_map_free(struct hvd_gnt_map *m)
{
	if (!m)
		return;
	free(m->gfns);
	free(m->handles);
	free(m->frames);
	free(m);
}

static struct hvd_gnt_map *gnt_map_new(uint32_t count)
{
	struct hvd_gnt_map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->gfns = calloc(count, sizeof(*m->gfns));
	m->handles = calloc(count, sizeof(*m->handles));
	m->frames = calloc(count, sizeof(*m->frames));
	if (!m->gfns || !m->handles || !m->frames) {
		gnt_map_free(m);
		return NULL;
	}
	m->count = count;
	m->notify_offset = -1;
	m->notify_port = -1;
	return m;
}

/* Unmap the pages of m that are mapped (pages NULL: all of them; else
 * those whose reply status is GNTST_okay). */
static void gnt_unmap_pages(struct hvd *h, struct hvd_gnt_map *m,
			    const struct procdom_ctl_gnt_page *pages)
{
	struct gnttab_unmap_grant_ref ops[GNT_HC_CHUNK];
	uint32_t i = 0, k;

	while (i < m->count) {
		for (k = 0; k < GNT_HC_CHUNK && i < m->count; i++) {
			if (pages && pages[i].status != GNTST_okay)
				continue;
			ops[k++] = (struct gnttab_unmap_grant_ref){
				.host_addr = (uint64_t)m->gfns[i] << 12,
				.handle = m->handles[i],
			};
		}
		/* A handle whose granter died is gone already (bad_handle);
		 * host_addr keeps a reused handle from being touched: our
		 * window gfn is still ours, so no other mapping sits there. */
		if (k)
			dom0_gnttab_op(h, GNTTABOP_unmap_grant_ref, ops, sizeof(ops[0]), k);
	}
}

static void gnt_map_build(const struct hvd_gnt_map *m, const uint32_t *refs, uint32_t i,
			  struct gnttab_map_grant_ref *op)
{
	*op = (struct gnttab_map_grant_ref){
		.host_addr = (uint64_t)m->gfns[i] << 12,
		.flags = GNTMAP_host_map | (m->readonly ? GNTMAP_readonly : 0),
		.ref = refs[i],
		.dom = m->domid,
	};
}

/* Map every page; pages[i].status gets its GNTST code. Returns the first
 * failure as an errno (the caller undoes the rest). */
static int gnt_map_pages(struct hvd *h, struct hvd_gnt_map *m, const uint32_t *refs,
			 struct procdom_ctl_gnt_page *pages)
{
	struct gnttab_map_grant_ref ops[GNT_HC_CHUNK];
	uint32_t i, j, k;
	int err = 0;

	for (i = 0; i < m->count; i += k) {
		for (k = 0; k < GNT_HC_CHUNK && i + k < m->count; k++)
			gnt_map_build(m, refs, i + k, &ops[k]);
		/* A failed hypercall (a fault) leaves the statuses unset. */
		if (dom0_gnttab_op(h, GNTTABOP_map_grant_ref, ops, sizeof(ops[0]), k) < 0)
			for (j = 0; j < k; j++)
				ops[j].status = GNTST_general_error;
		for (j = 0; j < k; j++) {
			pages[i + j].status = ops[j].status;
			if (ops[j].status != GNTST_okay && !err)
				err = gnt_errno(ops[j].status);
			m->handles[i + j] = ops[j].handle;
			m->frames[i + j] = ops[j].dev_bus_addr >> 12;
		}
	}
	return err;
}

static bool gnt_map_args_ok(struct hvd_req *r, uint32_t *ret_count)
{
	uint32_t n = (uint32_t)(r->plen / sizeof(uint32_t));

	*ret_count = n;
	return r->plen % sizeof(uint32_t) == 0 && n >= 1 && n <= PROCDOM_GNT_MAX_BATCH &&
	       (r->m.arg & ~(int64_t)PROCDOM_GNT_READONLY) == 0;
}

/*
 * The core hands back the granter's frames; each must be inside its RAM,
 * and all behind one memfd, which *ret_fd names: a domU's ram memfd, or,
 * for dom0's own grants (a loopback map), the memfd of the share holding
 * them -- dom0's ram memfd itself is never handed out (procdom.h). Each
 * page's offset in it goes straight into the reply: resolved once, and
 * sent only if every page of the batch passed.
 */
static int gnt_map_check_frames(struct hvd *h, struct hvd_gnt_map *m,
				struct procdom_ctl_gnt_page *pages, int *ret_fd)
{
	struct procdom_domain *pdom = hvd_domain_get(h, m->domid)->pdom;
	uint32_t i;
	int fd;

	for (i = 0; i < m->count; i++) {
		if (procdom_domain_page_fd(pdom, m->frames[i], &fd, &pages[i].offset) < 0)
			return -EIO;
		if (i && fd != *ret_fd)
			return -EINVAL; /* dom0 frames of two shares in one batch */
		*ret_fd = fd;
	}
	return 0;
}

/* A failed batch names no fd and no offset, only the statuses. */
static int gnt_map_reply(struct hvd_req *r, struct hvd_gnt_map *m,
			 struct procdom_ctl_gnt_page *pages, int err, int fd)
{
	uint32_t i;

	for (i = 0; i < m->count; i++) {
		pages[i].fd_index = err ? -1 : 0;
		if (err)
			pages[i].offset = 0;
	}
	return hvd_reply(r, err ? err : (int64_t)m->id, pages, m->count * sizeof(*pages),
			 err ? -1 : fd);
}

/* The map and its reply (pages) made, the map's window gfns taken. */
static int gnt_map_alloc(struct hvd_gnt *g, uint32_t count, struct hvd_gnt_map **ret_m,
			 struct procdom_ctl_gnt_page **ret_pages)
{
	int err;

	*ret_m = gnt_map_new(count);
	*ret_pages = calloc(count, sizeof(**ret_pages));
	err = !*ret_m || !*ret_pages ? -ENOMEM : window_alloc(g, (*ret_m)->gfns, count);
	if (err) {
		gnt_map_free(*ret_m);
		free(*ret_pages);
	}
	return err;
}

static int gnt_op_map(struct hvd_req *r)
{
	struct hvd *h = r->c->h;
	struct hvd_gnt *g = gnt_get(h);
	struct hvd_gnt_conn *gc = gnt_conn(r->c);
	struct procdom_ctl_gnt_page *pages;
	struct hvd_gnt_map *m;
	uint32_t count;
	int err, fd = -1;

	if (!g || !gc)
		return hvd_reply(r, -ENOMEM, NULL, 0, -1);
	if (!gnt_map_args_ok(r, &count))
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	if (!gnt_domain_ok(h, r->m.domid))
		return hvd_reply(r, -ESRCH, NULL, 0, -1);
	if (!gnt_conn_room(r->c, gc, gc->nr_mapped, count))
		return hvd_reply(r, -E2BIG, NULL, 0, -1);
	err = gnt_map_alloc(g, count, &m, &pages);
	if (err)
		return hvd_reply(r, err, NULL, 0, -1);
	m->domid = (domid_t)r->m.domid;
	m->readonly = r->m.arg & PROCDOM_GNT_READONLY;
	err = gnt_map_pages(h, m, (const uint32_t *)(void *)r->payload, pages);
	if (!err)
		err = gnt_map_check_frames(h, m, pages, &fd);
	if (err) {
		gnt_unmap_pages(h, m, pages);
		window_free(g, m->gfns, count);
	} else {
		m->id = ++g->next_id;
		m->next = gc->maps;
		gc->maps = m;
		gc->nr_mapped += count;
	}
	err = gnt_map_reply(r, m, pages, err, fd);
	if (m->id == 0)
		gnt_map_free(m);
	free(pages);
	return err;
}

/* The mapping of page i is still the one we made (its granter may have
 * died, and dom0's handle been reused since). */
static bool gnt_map_live(struct hvd *h, const struct hvd_gnt_map *m, uint32_t i)
{
	struct hv_grant_mapping gm;

	return hv_grant_mappings(h->hv, 0, m->handles[i], &gm, 1) == 1 &&
	       gm.handle == m->handles[i] && gm.granter == m->domid && gm.host_gfn == m->gfns[i];
}

/* Zero the notify byte through our own mapping of the granter's RAM. */
static void gnt_map_clear_byte(struct hvd *h, struct hvd_gnt_map *m)
{
	uint32_t i = (uint32_t)(m->notify_offset / PROCDOM_PAGE_SIZE);
	struct hvd_domain *hd = hvd_domain_get(h, m->domid);
	uint8_t *page;

	if (m->notify_offset < 0 || m->readonly || !hd || !gnt_map_live(h, m, i))
		return;
	page = procdom_domain_ram(hd->pdom, m->frames[i]);
	if (page)
		__atomic_store_n(page + m->notify_offset % PROCDOM_PAGE_SIZE, 0, __ATOMIC_SEQ_CST);
}

static void gnt_map_destroy(struct hvd *h, struct hvd_gnt *g, struct hvd_gnt_map *m)
{
	gnt_map_clear_byte(h, m);
	gnt_unmap_pages(h, m, NULL);
	window_free(g, m->gfns, m->count);
	dom0_notify_port(h, m->notify_port);
	gnt_map_free(m);
}

static struct hvd_gnt_map **gnt_map_find(struct hvd_gnt_conn *gc, int64_t id)
{
	struct hvd_gnt_map **pp;

	for (pp = gc ? &gc->maps : NULL; pp && *pp; pp = &(*pp)->next)
		if ((int64_t)(*pp)->id == id)
			return pp;
	return NULL;
}

static int gnt_op_unmap(struct hvd_req *r)
{
	struct hvd_gnt_map **pp = gnt_map_find(r->c->gnt, r->m.arg), *m;

	if (!pp)
		return hvd_reply(r, -ENOENT, NULL, 0, -1);
	m = *pp;
	*pp = m->next;
	r->c->gnt->nr_mapped -= m->count;
	gnt_map_destroy(r->c->h, r->c->h->gnt, m);
	return hvd_reply(r, 0, NULL, 0, -1);
}

static int gnt_op_notify(struct hvd_req *r)
{
	struct hvd_gnt_map **pp = gnt_map_find(r->c->gnt, r->m.arg);
	struct procdom_ctl_gnt_notify n;

	if (!pp)
		return hvd_reply(r, -ENOENT, NULL, 0, -1);
	if (r->plen != sizeof(n))
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	memcpy(&n, r->payload, sizeof(n));
	if (n.offset < -1 || n.offset >= (int64_t)(*pp)->count * PROCDOM_PAGE_SIZE || n.port < -1 ||
	    n.port == 0 || n.port >= HVD_DOM0_PORTS || (n.offset >= 0 && (*pp)->readonly))
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	(*pp)->notify_offset = n.offset;
	(*pp)->notify_port = n.port;
	return hvd_reply(r, 0, NULL, 0, -1);
}

/* ---- copy ----------------------------------------------------------------- */

struct gnt_copy_req {
	uint32_t count;
	struct procdom_ctl_gnt_copy_seg seg[PROCDOM_GNT_COPY_MAX];
	const uint8_t *data; /* dest-gref bytes */
	size_t data_len;
};

static int gnt_copy_parse(struct hvd_req *r, struct gnt_copy_req *q)
{
	size_t hdr = 2 * sizeof(uint32_t), need = 0;
	uint32_t i;

	if (r->plen < hdr)
		return -EINVAL;
	memcpy(&q->count, r->payload, sizeof(q->count));
	if (q->count < 1 || q->count > PROCDOM_GNT_COPY_MAX ||
	    r->plen < hdr + q->count * sizeof(q->seg[0]))
		return -EINVAL;
	memcpy(q->seg, r->payload + hdr, q->count * sizeof(q->seg[0]));
	for (i = 0; i < q->count; i++) {
		const struct procdom_ctl_gnt_copy_seg *s = &q->seg[i];

		if ((s->flags != GNTCOPY_source_gref && s->flags != GNTCOPY_dest_gref) ||
		    (uint32_t)s->offset + s->len > PROCDOM_PAGE_SIZE ||
		    s->domid >= DOMID_FIRST_RESERVED)
			return -EINVAL;
		if (s->flags == GNTCOPY_dest_gref)
			need += s->len;
	}
	q->data = r->payload + hdr + q->count * sizeof(q->seg[0]);
	q->data_len = r->plen - hdr - q->count * sizeof(q->seg[0]);
	return q->data_len == need ? 0 : -EINVAL;
}

/* Segment i through bounce frame COPY_GFN + i, at offset 0. */
static void gnt_copy_build(struct hvd *h, const struct gnt_copy_req *q, struct gnttab_copy *ops)
{
	const uint8_t *in = q->data;
	uint32_t i;

	for (i = 0; i < q->count; i++) {
		const struct procdom_ctl_gnt_copy_seg *s = &q->seg[i];
		struct gnttab_copy_ptr grant = { .u.ref = s->ref,
						 .domid = s->domid,
						 .offset = s->offset };
		struct gnttab_copy_ptr local = { .u.gmfn = HVD_DOM0_COPY_GFN + i,
						 .domid = DOMID_SELF };

		ops[i] = (struct gnttab_copy){ .len = s->len, .flags = s->flags };
		ops[i].source = s->flags == GNTCOPY_source_gref ? grant : local;
		ops[i].dest = s->flags == GNTCOPY_source_gref ? local : grant;
		if (s->flags == GNTCOPY_dest_gref) {
			memcpy(dom0_frame(h, HVD_DOM0_COPY_GFN + i), in, s->len);
			in += s->len;
		}
	}
}

static int gnt_op_copy(struct hvd_req *r)
{
	struct hvd *h = r->c->h;
	struct gnttab_copy ops[PROCDOM_GNT_COPY_MAX];
	uint8_t out[PROCDOM_GNT_COPY_MAX * (sizeof(int32_t) + PROCDOM_PAGE_SIZE)];
	struct gnt_copy_req q;
	size_t len;
	uint32_t i;
	int err = gnt_copy_parse(r, &q);

	if (err)
		return hvd_reply(r, err, NULL, 0, -1);
	gnt_copy_build(h, &q, ops);
	if (dom0_gnttab_op(h, GNTTABOP_copy, ops, sizeof(ops[0]), q.count) < 0)
		return hvd_reply(r, -EIO, NULL, 0, -1);
	len = q.count * sizeof(int32_t);
	for (i = 0; i < q.count; i++) {
		int32_t st = ops[i].status;

		memcpy(out + i * sizeof(st), &st, sizeof(st));
		if (q.seg[i].flags != GNTCOPY_source_gref)
			continue;
		if (st == GNTST_okay)
			memcpy(out + len, dom0_frame(h, HVD_DOM0_COPY_GFN + i), q.seg[i].len);
		else
			memset(out + len, 0, q.seg[i].len);
		len += q.seg[i].len;
	}
	return hvd_reply(r, 0, out, len, -1);
}

/* ---- dom0's grant entries ------------------------------------------------- */

/* Place dom0's grant frame idx where we can reach it (the core grows the
 * table up to idx as it does). */
static int gnt_frame_add(struct hvd *h, unsigned int idx)
{
	struct xen_add_to_physmap x = { .domid = DOMID_SELF,
					.space = XENMAPSPACE_grant_table,
					.idx = idx,
					.gpfn = HVD_DOM0_GNT_FRAME_GFN + idx };
	uint64_t args[5] = { XENMEM_add_to_physmap, 0 };
	long rc = hvd_dom0_hypercall(h, __HYPERVISOR_memory_op, args, 1, &x, sizeof(x));

	if (rc < 0)
		return (int)rc;
	return h->gnt_frame[idx] ? 0 : -EIO;
}

static grant_entry_v1_t *gnt_entry(struct hvd *h, uint32_t ref)
{
	return (grant_entry_v1_t *)h->gnt_frame[ref / GNT_PER_FRAME] + ref % GNT_PER_FRAME;
}

/* A free dom0 ref, placing one more grant frame when all are in use. */
static int ref_alloc(struct hvd *h, struct hvd_gnt *g, uint32_t *ret)
{
	for (;;) {
		uint32_t limit = (uint32_t)(g->nr_frames * GNT_PER_FRAME), i;
		int64_t b = limit ? bit_find_clear(g->refs, limit, &g->refs_next) : -1;
		int err;

		if (b >= 0) {
			bit_set(g->refs, (uint32_t)b, true);
			g->refs_used++;
			*ret = (uint32_t)b;
			return 0;
		}
		if (g->nr_frames >= HVD_DOM0_GNT_FRAMES)
			return -ENOSPC;
		err = gnt_frame_add(h, g->nr_frames);
		if (err)
			return err;
		/* The reserved entries (Xen's toolstack uses them) stay
		 * unused: marked taken, not counted. */
		for (i = 0; g->nr_frames == 0 && i < GNT_FIRST_REF; i++)
			bit_set(g->refs, i, true);
		g->refs_next = limit;
		g->nr_frames++;
	}
}

static void ref_free(struct hvd_gnt *g, uint32_t ref)
{
	bit_set(g->refs, ref, false);
	g->refs_used--;
}

static void gnt_entry_grant(struct hvd *h, uint32_t ref, domid_t domid, uint32_t gfn, bool ro)
{
	grant_entry_v1_t *e = gnt_entry(h, ref);

	e->domid = domid;
	e->frame = gfn;
	/* Release: domid and frame are visible before the entry is valid;
	 * pairs with the acquire load in the core's gnttab_load(). */
	__atomic_store_n(&e->flags, (uint16_t)(GTF_permit_access | (ro ? GTF_readonly : 0)),
			 __ATOMIC_RELEASE);
}

/* End access unless the peer holds the page (GTF_reading/GTF_writing):
 * the cmpxchg pairs with the core's in gnttab_set_status, so exactly one
 * of us wins a race with a new mapping. */
static bool gnt_entry_end(struct hvd *h, uint32_t ref)
{
	grant_entry_v1_t *e = gnt_entry(h, ref);
	uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

	for (;;) {
		if (flags & (GTF_reading | GTF_writing))
			return false;
		if (__atomic_compare_exchange_n(&e->flags, &flags, 0, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return true;
	}
}

/* ---- the share pool ----------------------------------------------------- */

static int pool_alloc(struct hvd_gnt *g, uint32_t *ret)
{
	int64_t b = bit_find_clear(g->pool, HVD_DOM0_POOL_PAGES, &g->pool_next);

	if (b < 0)
		return -ENOSPC;
	bit_set(g->pool, (uint32_t)b, true);
	g->pool_free--;
	*ret = (uint32_t)b;
	return 0;
}

static void pool_free(struct hvd_gnt *g, uint32_t frame)
{
	bit_set(g->pool, frame, false);
	g->pool_free++;
}

/* A frame no grant names any more: back to the pool, its share's memfd
 * no longer shown there (whoever holds that fd keeps only stale data). */
static void gnt_frame_free(struct hvd_gnt *g, const struct hvd_gnt_deferred *f)
{
	ref_free(g, f->ref);
	procdom_overlay_detach(f->ovl, f->idx);
	pool_free(g, f->frame);
}

/* End page i of share s: freed now, or deferred while the peer maps it. */
static void gnt_page_end(struct hvd *h, struct hvd_gnt *g, struct hvd_gnt_share *s, uint32_t i)
{
	struct hvd_gnt_deferred f = { s->refs[i], s->frames[i], s->ovl, i };

	if (gnt_entry_end(h, f.ref)) {
		gnt_frame_free(g, &f);
		return;
	}
	/* The frame stays in use (its pool bit set) until retried. */
	g->deferred[g->nr_deferred++] = f;
}

/* After every batch of events: a deferred entry can end only once a pin
 * on dom0's entries was dropped, so the list is looked through only when
 * the core's count of those moved (not on every domU hypercall). */
void hvd_gnt_retry_deferred(struct hvd *h)
{
	struct hvd_gnt *g = h->gnt;
	unsigned int i = 0;
	uint64_t unpins;

	if (!g || !g->nr_deferred)
		return;
	unpins = hv_grant_unpins(h->hv, 0);
	if (unpins == g->unpins_seen)
		return;
	g->unpins_seen = unpins;
	while (i < g->nr_deferred) {
		struct hvd_gnt_deferred dd = g->deferred[i];

		if (!gnt_entry_end(h, dd.ref)) {
			i++;
			continue;
		}
		gnt_frame_free(g, &dd);
		g->deferred[i] = g->deferred[--g->nr_deferred];
	}
}

static void gnt_share_free(struct hvd_gnt_share *s)
{
	if (!s)
		return;
	free(s->frames);
	free(s->refs);
	free(s);
}

/* End every page of a share. */
static void gnt_share_end(struct hvd *h, struct hvd_gnt *g, struct hvd_gnt_share *s)
{
	uint32_t i;

	for (i = 0; i < s->count; i++)
		gnt_page_end(h, g, s, i);
}

/* Pool frames for every page, shown through a fresh memfd of the share's
 * own (zeroed by construction). */
static int gnt_share_frames(struct hvd *h, struct hvd_gnt *g, struct hvd_gnt_share *s)
{
	uint64_t *gfns = calloc(s->count, sizeof(*gfns));
	uint32_t i, n = 0;
	int err = gfns ? 0 : -ENOMEM;

	for (; n < s->count && !err; n++) {
		err = pool_alloc(g, &s->frames[n]);
		if (err)
			break;
		gfns[n] = HVD_DOM0_POOL_GFN + (uint64_t)s->frames[n];
	}
	if (!err)
		err = procdom_overlay_create(hvd_domain_get(h, 0)->pdom, "xenon-dom0-share", gfns,
					     s->count, &s->ovl);
	if (err) {
		for (i = 0; i < n; i++)
			pool_free(g, s->frames[i]);
		s->ovl = NULL;
	}
	free(gfns);
	return err;
}

static int gnt_share_pages(struct hvd *h, struct hvd_gnt *g, struct hvd_gnt_share *s, bool ro)
{
	uint32_t i, n;
	int err = gnt_share_frames(h, g, s);

	for (n = 0; n < s->count && !err; n++)
		if ((err = ref_alloc(h, g, &s->refs[n])) < 0)
			break;
	if (err && s->ovl) {
		/* Nothing granted yet: refs and frames straight back. */
		for (i = 0; i < n; i++)
			ref_free(g, s->refs[i]);
		for (i = 0; i < s->count; i++)
			pool_free(g, s->frames[i]);
		procdom_overlay_destroy(s->ovl);
		s->ovl = NULL;
	}
	for (i = 0; i < s->count && !err; i++)
		gnt_entry_grant(h, s->refs[i], s->domid, HVD_DOM0_POOL_GFN + s->frames[i], ro);
	return err;
}

static int gnt_share_check(struct hvd_req *r, struct procdom_ctl_gntshr *req)
{
	if (r->plen != sizeof(*req))
		return -EINVAL;
	memcpy(req, r->payload, sizeof(*req));
	if (req->count < 1 || req->count > PROCDOM_GNT_MAX_BATCH ||
	    (req->flags & ~PROCDOM_GNTSHR_WRITABLE) || req->notify_offset < -1 ||
	    req->notify_offset >= (int64_t)req->count * PROCDOM_PAGE_SIZE ||
	    req->notify_port < -1 || req->notify_port == 0 || req->notify_port >= HVD_DOM0_PORTS)
		return -EINVAL;
	return gnt_domain_ok(r->c->h, r->m.domid) ? 0 : -ESRCH;
}

static struct hvd_gnt_share *gnt_share_new(const struct procdom_ctl_gntshr *req, domid_t domid)
{
	struct hvd_gnt_share *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->frames = calloc(req->count, sizeof(*s->frames));
	s->refs = calloc(req->count, sizeof(*s->refs));
	if (!s->frames || !s->refs) {
		gnt_share_free(s);
		return NULL;
	}
	s->domid = domid;
	s->count = req->count;
	s->notify_offset = req->notify_offset;
	s->notify_port = req->notify_port;
	return s;
}

static int gnt_share_reply(struct hvd_req *r, struct hvd_gnt_share *s)
{
	struct procdom_ctl_gntshr_page *pages = calloc(s->count, sizeof(*pages));
	uint32_t i;
	int rc;

	if (!pages)
		return -ENOMEM;
	for (i = 0; i < s->count; i++)
		pages[i] = (struct procdom_ctl_gntshr_page){
			.offset = (uint64_t)i * PROCDOM_PAGE_SIZE,
			.ref = s->refs[i],
		};
	rc = hvd_reply(r, (int64_t)s->id, pages, s->count * sizeof(*pages),
		       procdom_overlay_fd(s->ovl));
	free(pages);
	return rc;
}

static int gnt_op_share(struct hvd_req *r)
{
	struct hvd *h = r->c->h;
	struct hvd_gnt *g = gnt_get(h);
	struct hvd_gnt_conn *gc = gnt_conn(r->c);
	struct procdom_ctl_gntshr req;
	struct hvd_gnt_share *s;
	int err = !g || !gc ? -ENOMEM : gnt_share_check(r, &req);

	if (!err && !gnt_conn_room(r->c, gc, gc->nr_shared, req.count))
		err = -E2BIG;
	s = err ? NULL : gnt_share_new(&req, (domid_t)r->m.domid);
	if (!err && !s)
		err = -ENOMEM;
	if (!err)
		err = gnt_share_pages(h, g, s, !(req.flags & PROCDOM_GNTSHR_WRITABLE));
	if (err) {
		gnt_share_free(s);
		return hvd_reply(r, err, NULL, 0, -1);
	}
	s->id = ++g->next_id;
	s->next = gc->shares;
	gc->shares = s;
	gc->nr_shared += s->count;
	return gnt_share_reply(r, s);
}

static void gnt_share_destroy(struct hvd *h, struct hvd_gnt *g, struct hvd_gnt_share *s)
{
	if (s->notify_offset >= 0) {
		uint32_t i = (uint32_t)(s->notify_offset / PROCDOM_PAGE_SIZE);
		uint8_t *page = dom0_frame(h, HVD_DOM0_POOL_GFN + s->frames[i]);

		__atomic_store_n(page + s->notify_offset % PROCDOM_PAGE_SIZE, 0, __ATOMIC_SEQ_CST);
	}
	dom0_notify_port(h, s->notify_port);
	gnt_share_end(h, g, s);
	gnt_share_free(s);
}

static int gnt_op_unshare(struct hvd_req *r)
{
	struct hvd_gnt_conn *gc = r->c->gnt;
	struct hvd_gnt_share **pp, *s;

	for (pp = gc ? &gc->shares : NULL; pp && *pp; pp = &(*pp)->next)
		if ((int64_t)(*pp)->id == r->m.arg)
			break;
	if (!pp || !*pp)
		return hvd_reply(r, -ENOENT, NULL, 0, -1);
	s = *pp;
	*pp = s->next;
	gc->nr_shared -= s->count;
	gnt_share_destroy(r->c->h, r->c->h->gnt, s);
	return hvd_reply(r, 0, NULL, 0, -1);
}

/* ---- status --------------------------------------------------------------- */

static int gnt_op_status(struct hvd_req *r)
{
	struct hv_grant_mapping gm[PROCDOM_CTL_STATUS_MAX];
	struct procdom_ctl_grant out[PROCDOM_CTL_STATUS_MAX];
	uint32_t from = r->m.arg > 0 && r->m.arg <= UINT32_MAX ? (uint32_t)r->m.arg : 0;
	int n, i;

	if (r->m.domid >= DOMID_FIRST_RESERVED)
		return hvd_reply(r, -ESRCH, NULL, 0, -1);
	n = hv_grant_mappings(r->c->h->hv, (domid_t)r->m.domid, from, gm, PROCDOM_CTL_STATUS_MAX);
	if (n < 0)
		return hvd_reply(r, n, NULL, 0, -1);
	for (i = 0; i < n; i++)
		out[i] = (struct procdom_ctl_grant){
			.mapper = r->m.domid,
			.granter = gm[i].granter,
			.ref = gm[i].ref,
			.handle = gm[i].handle,
			.flags = (gm[i].readonly ? PROCDOM_GRANT_READONLY : 0) |
				 (gm[i].host ? PROCDOM_GRANT_HOST : 0) |
				 (gm[i].device ? PROCDOM_GRANT_DEVICE : 0),
			.host_gfn = gm[i].host_gfn,
		};
	return hvd_reply(r, n, out, (size_t)n * sizeof(out[0]), -1);
}

static int gnt_op_counts(struct hvd_req *r)
{
	struct hvd_gnt *g = gnt_get(r->c->h);
	struct procdom_ctl_gnt_counts n = { .dom0_frames_total = HVD_DOM0_POOL_PAGES };

	if (!g)
		return hvd_reply(r, -ENOMEM, NULL, 0, -1);
	n.dom0_frames_free = g->pool_free;
	n.dom0_frames_deferred = g->nr_deferred;
	n.dom0_maps = g->window_used;
	n.dom0_refs_used = g->refs_used;
	return hvd_reply(r, 0, &n, sizeof(n), -1);
}

int hvd_gnt_dispatch(struct hvd_req *r)
{
	switch (r->m.op) {
	case PROCDOM_CTL_GNT_MAP:
		return gnt_op_map(r);
	case PROCDOM_CTL_GNT_UNMAP:
		return gnt_op_unmap(r);
	case PROCDOM_CTL_GNT_NOTIFY:
		return gnt_op_notify(r);
	case PROCDOM_CTL_GNT_COPY:
		return gnt_op_copy(r);
	case PROCDOM_CTL_GNTSHR_SHARE:
		return gnt_op_share(r);
	case PROCDOM_CTL_GNTSHR_UNSHARE:
		return gnt_op_unshare(r);
	case PROCDOM_CTL_GRANT_STATUS:
		return gnt_op_status(r);
	case PROCDOM_CTL_GNT_COUNTS:
		return gnt_op_counts(r);
	}
	return hvd_reply(r, -EOPNOTSUPP, NULL, 0, -1);
}

/* ---- life cycle ------------------------------------------------------------ */

void hvd_gnt_conn_gone(struct hvd_conn *c)
{
	struct hvd_gnt_conn *gc = c->gnt;

	if (!gc)
		return;
	while (gc->maps) {
		struct hvd_gnt_map *m = gc->maps;

		gc->maps = m->next;
		gnt_map_destroy(c->h, c->h->gnt, m);
	}
	while (gc->shares) {
		struct hvd_gnt_share *s = gc->shares;

		gc->shares = s->next;
		gnt_share_destroy(c->h, c->h->gnt, s);
	}
	free(gc);
	c->gnt = NULL;
}

void hvd_gnt_fini(struct hvd *h)
{
	/* Frames a peer still mapped when every connection went: their
	 * memfds are let go while dom0's RAM is still there. */
	while (h->gnt && h->gnt->nr_deferred) {
		struct hvd_gnt_deferred *f = &h->gnt->deferred[--h->gnt->nr_deferred];

		procdom_overlay_detach(f->ovl, f->idx);
	}
	free(h->gnt);
	h->gnt = NULL;
}
