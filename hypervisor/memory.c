/*
 * Guest frame space of a domain: bounds, population and overlays, and the
 * copy helpers every hypercall argument goes through.
 *
 *   gfn 0                      max_pages                 max_gfn
 *   |  RAM (populated bitmap)  |  overlay window (1024)  |
 *   |##### ### ################|S  G G G                 |
 *          ^ depopulated          ^ shared_info, grant frames, grant maps
 *
 * A lookup checks the overlay array first (sorted by gfn, binary search),
 * so an overlay placed over a RAM frame hides that frame until removed, as
 * a foreign or grant mapping does in Xen's p2m. Only populated RAM frames
 * are handed to the substrate's ram_page().
 *
 * The overlay array grows by doubling and holds at most one entry per gfn
 * below max_gfn, and never more than HV_MAX_OVERLAYS, so a guest cannot
 * grow it without bound.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static bool memory_populated_bit(const struct domain *d, uint64_t gfn)
{
	return d->populated[gfn / 8] & (1u << (gfn % 8));
}

static void memory_set_populated(struct domain *d, uint64_t gfn, bool on)
{
	if (on)
		d->populated[gfn / 8] |= (uint8_t)(1u << (gfn % 8));
	else
		d->populated[gfn / 8] &= (uint8_t) ~(1u << (gfn % 8));
}

int memory_domain_init(struct domain *d, uint64_t nr_pages, uint64_t max_pages)
{
	uint64_t gfn;

	if (nr_pages < HV_MIN_NR_PAGES || max_pages < nr_pages || max_pages > HV_MAX_NR_PAGES)
		return -EINVAL;
	d->populated = calloc((size_t)(max_pages + 7) / 8, 1);
	if (!d->populated)
		return -ENOMEM;
	for (gfn = 0; gfn < nr_pages; gfn++)
		memory_set_populated(d, gfn, true);
	d->tot_pages = nr_pages;
	d->max_pages = max_pages;
	d->max_gfn = max_pages + HV_SPECIAL_GFNS;
	return 0;
}

void memory_domain_fini(struct domain *d)
{
	free(d->populated);
	free(d->overlays);
	d->populated = NULL;
	d->overlays = NULL;
	d->nr_overlays = d->overlays_cap = 0;
	d->tot_pages = 0;
}

/* Index of the first overlay with gfn >= the given one. */
static unsigned int memory_overlay_search(const struct domain *d, uint64_t gfn)
{
	unsigned int lo = 0, hi = d->nr_overlays;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (d->overlays[mid].gfn < gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct overlay *memory_overlay_find(struct domain *d, uint64_t gfn)
{
	unsigned int i = memory_overlay_search(d, gfn);

	return i < d->nr_overlays && d->overlays[i].gfn == gfn ? &d->overlays[i] : NULL;
}

bool memory_gfn_populated(struct domain *d, uint64_t gfn)
{
	return gfn < d->max_pages && memory_populated_bit(d, gfn);
}

bool memory_gfn_is_ram(struct domain *d, uint64_t gfn)
{
	return memory_gfn_populated(d, gfn) && !memory_overlay_find(d, gfn);
}

void *memory_map_gfn(struct domain *d, uint64_t gfn)
{
	struct hypervisor *hv = d->hv;
	struct overlay *o;

	if (gfn >= d->max_gfn)
		return NULL;
	o = memory_overlay_find(d, gfn);
	if (o)
		return o->page;
	if (!memory_gfn_populated(d, gfn))
		return NULL;
	return hv->ops->ram_page(hv->sub, d->domid, gfn);
}

void *memory_map_gfn_writable(struct domain *d, uint64_t gfn)
{
	struct overlay *o = gfn < d->max_gfn ? memory_overlay_find(d, gfn) : NULL;

	if (o)
		return o->readonly ? NULL : o->page;
	return memory_map_gfn(d, gfn);
}

static int memory_overlays_grow(struct domain *d)
{
	unsigned int cap = d->overlays_cap ? d->overlays_cap * 2 : 16;
	struct overlay *n;

	if (d->nr_overlays >= HV_MAX_OVERLAYS) {
		if (!d->overlays_limit_logged)
			hv_log(d->hv, HV_LOG_WARN, "d%u: overlay limit %u reached (%u in use)",
			       d->domid, HV_MAX_OVERLAYS, d->nr_overlays);
		d->overlays_limit_logged = true;
		return -ENOSPC;
	}
	if (cap > HV_MAX_OVERLAYS)
		cap = HV_MAX_OVERLAYS;
	n = realloc(d->overlays, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	d->overlays = n;
	d->overlays_cap = cap;
	return 0;
}

static void memory_physmap_notify(struct domain *d, uint64_t gfn, void *page, bool readonly)
{
	struct hypervisor *hv = d->hv;

	if (hv->ops->physmap_set)
		hv->ops->physmap_set(hv->sub, d->domid, gfn, page, readonly);
}

int memory_overlay_add(struct domain *d, uint64_t gfn, void *page, bool readonly)
{
	struct overlay *o;
	unsigned int i;
	int rc;

	if (gfn >= d->max_gfn || !page)
		return -EINVAL;
	o = memory_overlay_find(d, gfn);
	if (!o) {
		if (d->nr_overlays == d->overlays_cap && (rc = memory_overlays_grow(d)) < 0)
			return rc;
		i = memory_overlay_search(d, gfn);
		memmove(&d->overlays[i + 1], &d->overlays[i],
			(d->nr_overlays - i) * sizeof(*d->overlays));
		d->nr_overlays++;
		o = &d->overlays[i];
	}
	*o = (struct overlay){ .gfn = gfn, .page = page, .readonly = readonly };
	memory_physmap_notify(d, gfn, page, readonly);
	return 0;
}

static void memory_overlay_remove_at(struct domain *d, unsigned int i)
{
	uint64_t gfn = d->overlays[i].gfn;

	memmove(&d->overlays[i], &d->overlays[i + 1],
		(d->nr_overlays - i - 1) * sizeof(*d->overlays));
	d->nr_overlays--;
	memory_physmap_notify(d, gfn, NULL, false);
}

int memory_overlay_remove(struct domain *d, uint64_t gfn)
{
	unsigned int i = memory_overlay_search(d, gfn);

	if (i >= d->nr_overlays || d->overlays[i].gfn != gfn)
		return -ENOENT;
	memory_overlay_remove_at(d, i);
	return 0;
}

void memory_overlay_remove_page(struct domain *d, void *page)
{
	unsigned int i = 0;

	while (i < d->nr_overlays) {
		if (d->overlays[i].page == page)
			memory_overlay_remove_at(d, i);
		else
			i++;
	}
}

int memory_overlay_lookup(struct domain *d, uint64_t gfn, void **ret_page, bool *ret_readonly)
{
	struct overlay *o = memory_overlay_find(d, gfn);

	if (!o)
		return -ENOENT;
	if (ret_page)
		*ret_page = o->page;
	if (ret_readonly)
		*ret_readonly = o->readonly;
	return 0;
}

int memory_depopulate(struct domain *d, uint64_t gfn)
{
	if (!memory_gfn_populated(d, gfn))
		return -EINVAL;
	memory_set_populated(d, gfn, false);
	d->tot_pages--;
	return 0;
}

/* The lowest unpopulated RAM frame, zeroed, becomes populated again. */
int memory_populate_any(struct domain *d, uint64_t *ret_gfn)
{
	struct hypervisor *hv = d->hv;
	uint64_t gfn;
	void *page;

	if (d->tot_pages >= d->max_pages)
		return -ENOMEM;
	for (gfn = 0; gfn < d->max_pages && memory_populated_bit(d, gfn); gfn++)
		;
	if (gfn >= d->max_pages)
		return -ENOMEM;
	page = hv->ops->ram_page(hv->sub, d->domid, gfn);
	if (!page)
		return -ENOMEM;
	memset(page, 0, XENON_PAGE_SIZE);
	memory_set_populated(d, gfn, true);
	d->tot_pages++;
	*ret_gfn = gfn;
	return 0;
}

static int memory_translate(struct vcpu *v, uint64_t addr, uint64_t *ret_gfn)
{
	struct hypervisor *hv = v->domain->hv;

	if (!hv->ops->translate) {
		*ret_gfn = addr >> XENON_PAGE_SHIFT;
		return 0;
	}
	return hv->ops->translate(hv->sub, v->domain->domid, v->id, addr, ret_gfn) < 0 ? -EFAULT
										       : 0;
}

/* Map the page holding guest address addr; NULL on any fault. */
static uint8_t *memory_map_addr(struct vcpu *v, uint64_t addr, bool write)
{
	uint64_t gfn;

	if (memory_translate(v, addr, &gfn) < 0)
		return NULL;
	return write ? memory_map_gfn_writable(v->domain, gfn) : memory_map_gfn(v->domain, gfn);
}

/* Visit [addr, addr+len) page by page; with buf NULL only check that
 * every page maps. */
static int memory_walk(struct vcpu *v, uint64_t addr, uint8_t *buf, size_t len, bool write)
{
	size_t off = addr & (XENON_PAGE_SIZE - 1), done = 0;

	while (done < len) {
		size_t n = XENON_PAGE_SIZE - off < len - done ? XENON_PAGE_SIZE - off : len - done;
		uint8_t *page = memory_map_addr(v, addr + done, write);

		if (!page)
			return -EFAULT;
		if (buf && write)
			memcpy(page + off, buf + done, n);
		else if (buf)
			memcpy(buf + done, page + off, n);
		done += n;
		off = 0;
	}
	return 0;
}

/* A write checks the whole range first, so a fault never leaves a partial
 * copy behind in guest memory. */
static int memory_copy(struct vcpu *v, uint64_t addr, void *buf, size_t len, bool write)
{
	if (addr + len < addr)
		return -EFAULT;
	if (write && len > XENON_PAGE_SIZE - (addr & (XENON_PAGE_SIZE - 1)) &&
	    memory_walk(v, addr, NULL, len, true) < 0)
		return -EFAULT;
	return memory_walk(v, addr, buf, len, write);
}

int copy_from_guest(struct vcpu *v, void *dst, uint64_t addr, size_t len)
{
	return memory_copy(v, addr, dst, len, false);
}

int copy_to_guest(struct vcpu *v, uint64_t addr, const void *src, size_t len)
{
	return memory_copy(v, addr, (void *)src, len, true);
}
