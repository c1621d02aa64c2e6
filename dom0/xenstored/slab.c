/*
 * A small slab allocator for node versions.
 *
 * Nodes are small (a 24-byte header, a few perms, a path of 20 to 60 bytes, a
 * short value) and there are many of them. glibc's malloc would add an 8-byte
 * header and round every chunk up to 16 bytes, about 20 bytes per node, a
 * sixth of the store. Here objects of up to SLAB_MAX bytes live in 4 KiB
 * pages of one size class each (8-byte steps), with no per-object header:
 *
 *   page (4 KiB, page-aligned, from mmap)
 *   +--------------+-------+-------+-------+-- ... --+-------+---------+
 *   | slab_page    | obj 0 | obj 1 | obj 2 |         | obj k | (slack) |
 *   +--------------+-------+-------+-------+-- ... --+-------+---------+
 *
 * An object finds its page by masking its address. Each class keeps a list of
 * pages with room; a page hands out never-used objects by bumping an offset
 * (so a new page is not touched, or made resident, all at once) and reuses
 * freed ones through its own free list. A page whose last object is freed is
 * unmapped unless it is the class's only page with room, so a store that
 * shrinks gives memory back and one that hovers at a page boundary does not
 * map and unmap on every request. Larger objects go to malloc.
 *
 * The caller passes the size to slab_free (a node knows its own size), so
 * slab and malloc objects need no marker. Under AddressSanitizer free objects
 * are poisoned, so a use after free of a node is still caught.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "xs_core.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif
#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SLAB_POISON(p, n) ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_PAGE 4096u

struct slab_page {
	struct slab_page *next, *prev; /* class's pages with room */
	void *free;		       /* freed objects, linked through their first word */
	uint16_t used;		       /* objects handed out */
	uint16_t bump;		       /* byte offset of the first never-used object */
	uint16_t size;		       /* object size */
	bool listed;		       /* on the class's list */
};

#define SLAB_FIRST ((sizeof(struct slab_page) + SLAB_GRAIN - 1) & ~(size_t)(SLAB_GRAIN - 1))

static unsigned int slab_class(size_t size)
{
	return (unsigned int)((size + SLAB_GRAIN - 1) / SLAB_GRAIN);
}

static void page_list(struct xs_slab *sl, unsigned int cls, struct slab_page *pg)
{
	pg->prev = NULL;
	pg->next = sl->partial[cls];
	if (pg->next)
		pg->next->prev = pg;
	sl->partial[cls] = pg;
	pg->listed = true;
}

static void page_unlist(struct xs_slab *sl, unsigned int cls, struct slab_page *pg)
{
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		sl->partial[cls] = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	pg->listed = false;
}

/* Unpoisoned first: ASan keeps a region's poison past munmap, and the next
 * mapping at that address (a guest's ring page, say) would trip on it. */
static void page_unmap(struct slab_page *pg)
{
	SLAB_UNPOISON(pg, SLAB_PAGE);
	munmap(pg, SLAB_PAGE);
}

static struct slab_page *page_new(struct xs_slab *sl, unsigned int cls)
{
	struct slab_page *pg =
		mmap(NULL, SLAB_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (pg == MAP_FAILED)
		return NULL;
	memset(pg, 0, sizeof(*pg));
	pg->size = (uint16_t)(cls * SLAB_GRAIN);
	pg->bump = (uint16_t)SLAB_FIRST;
	SLAB_POISON((char *)pg + SLAB_FIRST, SLAB_PAGE - SLAB_FIRST);
	page_list(sl, cls, pg);
	sl->pages++;
	return pg;
}

void *slab_alloc(struct xs_slab *sl, size_t size)
{
	unsigned int cls = slab_class(size);
	struct slab_page *pg;
	void *obj;

	if (size > SLAB_MAX || size == 0)
		return malloc(size);
	pg = sl->partial[cls];
	if (!pg && !(pg = page_new(sl, cls)))
		return NULL;
	if (pg->free) {
		obj = pg->free;
		SLAB_UNPOISON(obj, pg->size);
		memcpy(&pg->free, obj, sizeof(void *));
	} else {
		obj = (char *)pg + pg->bump;
		SLAB_UNPOISON(obj, pg->size);
		pg->bump = (uint16_t)(pg->bump + pg->size);
	}
	pg->used++;
	if (!pg->free && pg->bump + pg->size > SLAB_PAGE)
		page_unlist(sl, cls, pg);
	return obj;
}

void slab_free(struct xs_slab *sl, void *obj, size_t size)
{
	unsigned int cls = slab_class(size);
	struct slab_page *pg;

	if (!obj)
		return;
	if (size > SLAB_MAX || size == 0) {
		free(obj);
		return;
	}
	pg = (struct slab_page *)((uintptr_t)obj & ~(uintptr_t)(SLAB_PAGE - 1));
	memcpy(obj, &pg->free, sizeof(void *));
	SLAB_POISON(obj, pg->size);
	pg->free = obj;
	pg->used--;
	if (!pg->listed)
		page_list(sl, cls, pg);
	if (pg->used == 0 && (pg->next || pg->prev)) {
		page_unlist(sl, cls, pg);
		page_unmap(pg);
		sl->pages--;
	}
}

/* Unmap the pages still held (each class keeps at most one empty page). The
 * store frees every node first; a page still in use here is a leak, which
 * the return value reports. */
size_t slab_fini(struct xs_slab *sl)
{
	size_t leaked = 0;

	for (unsigned int c = 0; c <= SLAB_MAX / SLAB_GRAIN; c++) {
		while (sl->partial[c]) {
			struct slab_page *pg = sl->partial[c];

			leaked += pg->used;
			page_unlist(sl, c, pg);
			page_unmap(pg);
			sl->pages--;
		}
	}
	return leaked + sl->pages; /* pages off the lists are full: in use */
}
