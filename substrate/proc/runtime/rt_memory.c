/*
 * Guest memory of a process domain: the window, the evt pages, map changes.
 *
 * Guest-physical = pointer - base for everything in the window (the design's
 * "translate() is NULL"). The window is reserved PROT_NONE once and never
 * unmapped while the domain runs; every later change is an mmap(MAP_FIXED)
 * of one page inside it, which replaces the old page atomically, so a vCPU
 * thread touching a neighbouring page never sees a hole that is not meant.
 *
 * Map changes arrive in hypercall replies (procdom_proto.h, section 3) and
 * are untrusted input: rt_maps_validate() checks the whole list (kind,
 * bounds, alignment, fd indices) before rt_maps_apply() touches anything,
 * so a bad reply changes nothing.
 *
 * Two bitmaps, one bit per gfn, in one allocation (gfn_ok, then
 * own_ram = gfn_ok + gfn_words()): gfn_ok says something accessible is
 * mapped there; own_ram says it is this domain's RAM frame gfn, writable
 * (not an overlay), which is what rt_mem_is_zero() needs to ask the ram
 * memfd about it.
 *
 * Fresh RAM: the ram memfd starts as one hole (xenon-hvd only sizes it and
 * the builder writes its few frames at the top), and a hole reads as zero.
 * lseek(SEEK_DATA) finds the first page the memfd holds at or after an
 * offset (swapped-out pages count as data), so one system call tells
 * whether a range was ever written. Guest state that lives in RAM (struct
 * xen_guest, xenbus, procdom_alloc_pages) then skips zeroing it: each
 * zeroed page was a page fault and a page of the domain allocated, ~30 per
 * domain at boot, where init writes only a few. (The seek moves the
 * offset xenon-hvd's description of the memfd shares; nobody reads or
 * writes the memfds, they are only mapped.)
 *
 * Peer slots (the fast path, procdom_proto.h (c)): each slot is a fixed
 * address range reserved on first use and never unmapped; (re)mapping a
 * peer or dropping one is MAP_FIXED over it, so a sender racing the change
 * writes into the old peer's pages or into anonymous zeroes, never into a
 * hole.
 */
#include "rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RT_MAX_MAP_OFFSET (1ULL << 44)
#define RT_PEER_LEN ((size_t)PROCDOM_EVT_SEND_OFFSET)

static size_t gfn_words(const struct procdom_rt *rt)
{
	return (size_t)((rt->boot.max_gfn + 63) / 64);
}

/* Bits [gfn, gfn + n) on or off: one atomic per word, not per bit (RAM's
 * 256+ frames at boot were as many locked instructions, twice). */
static void bits_set(uint64_t *map, uint64_t gfn, uint64_t n, bool on)
{
	while (n > 0) {
		unsigned int from = gfn % 64;
		uint64_t k = n < 64 - from ? n : 64 - from;
		uint64_t mask = (k == 64 ? ~0ULL : ((1ULL << k) - 1)) << from;

		if (on)
			__atomic_fetch_or(&map[gfn / 64], mask, __ATOMIC_RELEASE);
		else
			__atomic_fetch_and(&map[gfn / 64], ~mask, __ATOMIC_RELEASE);
		gfn += k;
		n -= k;
	}
}

/* Written under map_lock; read lock-free (the acquire loads pair with the
 * release read-modify-writes above). */
static bool bit_get(const uint64_t *map, uint64_t gfn)
{
	return (__atomic_load_n(&map[gfn / 64], __ATOMIC_ACQUIRE) >> (gfn % 64)) & 1;
}

static uint64_t *own_ram(const struct procdom_rt *rt)
{
	return rt->gfn_ok + gfn_words(rt);
}

static void gfn_ok_set(struct procdom_rt *rt, uint64_t gfn, uint64_t n, bool ok)
{
	bits_set(rt->gfn_ok, gfn, n, ok);
}

/* The part of [gfn, gfn + n) below max_pages: own RAM bits exist there. */
static void own_ram_set(struct procdom_rt *rt, uint64_t gfn, uint64_t n, bool own)
{
	if (gfn < rt->boot.max_pages)
		bits_set(own_ram(rt), gfn,
			 n < rt->boot.max_pages - gfn ? n : rt->boot.max_pages - gfn, own);
}

static bool gfn_ok(const struct procdom_rt *rt, uint64_t gfn)
{
	return gfn < rt->boot.max_gfn && bit_get(rt->gfn_ok, gfn);
}

uint64_t rt_virt_to_gpa(void *ctx, const void *p)
{
	struct procdom_rt *rt = ctx;
	uintptr_t off = (uintptr_t)p - (uintptr_t)rt->base;

	if ((uintptr_t)p < (uintptr_t)rt->base || off >= rt->window_len ||
	    !gfn_ok(rt, off / RT_PAGE_SIZE))
		return XEN_GUEST_BAD_GPA;
	return off;
}

void *rt_gpa_to_virt(void *ctx, uint64_t gpa)
{
	struct procdom_rt *rt = ctx;

	if (gpa >= rt->window_len || !gfn_ok(rt, gpa / RT_PAGE_SIZE))
		return NULL;
	return rt->base + gpa;
}

void *rt_gpa_range(struct procdom_rt *rt, uint64_t gpa, size_t len)
{
	uint64_t g;

	if (len == 0 || gpa >= rt->window_len || len > rt->window_len - gpa)
		return NULL;
	for (g = gpa / RT_PAGE_SIZE; g <= (gpa + len - 1) / RT_PAGE_SIZE; g++) {
		if (!gfn_ok(rt, g))
			return NULL;
	}
	return rt->base + gpa;
}

/* ---- fresh RAM --------------------------------------------------------- */

/* Frames [gfn, gfn + n) are own RAM and the ram memfd holds no page there:
 * they read as zero. false when unsure (an overlay, a failed seek). */
static bool ram_is_zero(const struct procdom_rt *rt, uint64_t gfn, uint64_t n)
{
	off_t data;
	uint64_t i;

	if (n == 0 || gfn >= rt->boot.max_pages || n > rt->boot.max_pages - gfn)
		return false;
	for (i = gfn; i < gfn + n; i++) {
		if (!bit_get(own_ram(rt), i))
			return false;
	}
	data = lseek(rt->boot.ram_fd, (off_t)(gfn * RT_PAGE_SIZE), SEEK_DATA);
	if (data < 0)
		return errno == ENXIO; /* no data from gfn to the end */
	return (uint64_t)data >= (gfn + n) * RT_PAGE_SIZE;
}

bool rt_mem_is_zero(void *ctx, const void *p, size_t len)
{
	const struct procdom_rt *rt = ctx;
	uintptr_t off = (uintptr_t)p - (uintptr_t)rt->base, first, last;

	if (len == 0 || (uintptr_t)p < (uintptr_t)rt->base || off >= rt->window_len ||
	    len > rt->window_len - off)
		return false;
	first = off / RT_PAGE_SIZE;
	last = (off + len - 1) / RT_PAGE_SIZE;
	return ram_is_zero(rt, first, last - first + 1);
}

void *procdom_alloc_pages(unsigned int n)
{
	struct procdom_rt *rt = rt_instance();
	uint64_t gfn = 0;
	void *p = NULL;

	if (!rt || n == 0)
		return NULL;
	pthread_mutex_lock(&rt->map_lock);
	if (n <= rt->alloc_end - rt->alloc_next) {
		gfn = rt->alloc_next;
		p = rt->base + gfn * RT_PAGE_SIZE;
		rt->alloc_next += n;
	}
	pthread_mutex_unlock(&rt->map_lock);
	if (p && !ram_is_zero(rt, gfn, n))
		memset(p, 0, n * RT_PAGE_SIZE);
	return p;
}

/* ---- boot-time mappings ----------------------------------------------- */

static int map_fixed(struct procdom_rt *rt, uint64_t gfn, size_t pages, int fd, uint64_t off,
		     bool readonly)
{
	int prot = PROT_READ | (readonly ? 0 : PROT_WRITE);
	bool own = fd == rt->boot.ram_fd && off == gfn * RT_PAGE_SIZE && !readonly;
	void *p;

	/* Not own RAM from before the change: a failed or torn mmap must
	 * not leave an overlay looking like a fresh frame. */
	own_ram_set(rt, gfn, pages, false);
	p = mmap(rt->base + gfn * RT_PAGE_SIZE, pages * RT_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED,
		 fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	gfn_ok_set(rt, gfn, pages, true);
	if (own)
		own_ram_set(rt, gfn, pages, true);
	return 0;
}

static int map_hole(struct procdom_rt *rt, uint64_t gfn)
{
	void *p;

	own_ram_set(rt, gfn, 1, false);
	p = mmap(rt->base + gfn * RT_PAGE_SIZE, RT_PAGE_SIZE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	gfn_ok_set(rt, gfn, 1, false);
	return p == MAP_FAILED ? -errno : 0;
}

static int mem_fail(char *err, size_t errlen, int rc, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-rc));
	return rc;
}

static int memory_window(struct procdom_rt *rt, char *err, size_t errlen)
{
	const struct procdom_boot *b = &rt->boot;
	void *p;

	rt->window_len = b->max_gfn * RT_PAGE_SIZE;
	rt->gfn_ok = calloc(2 * gfn_words(rt), sizeof(uint64_t));
	if (!rt->gfn_ok)
		return mem_fail(err, errlen, -ENOMEM, "gfn bitmaps");
	p = mmap(NULL, rt->window_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		 0);
	if (p == MAP_FAILED)
		return mem_fail(err, errlen, -errno, "reserving the guest window");
	rt->base = p;
	return 0;
}

static int memory_evt(struct procdom_rt *rt, char *err, size_t errlen)
{
	const struct procdom_boot *b = &rt->boot;
	struct stat st;
	size_t need = PROCDOM_EVT_VCPU_OFFSET(b->nr_vcpus);
	void *p;

	if (fstat(b->evt_fd, &st) < 0)
		return mem_fail(err, errlen, -errno, "evt memfd");
	if ((uint64_t)st.st_size < need)
		return mem_fail(err, errlen, -EINVAL, "evt memfd smaller than shared_info + vCPUs");
	rt->evt_len = (uint64_t)st.st_size < RT_PEER_LEN ? need : RT_PEER_LEN;
	p = mmap(NULL, rt->evt_len, PROT_READ | PROT_WRITE, MAP_SHARED, b->evt_fd, 0);
	if (p == MAP_FAILED)
		return mem_fail(err, errlen, -errno, "mapping evt");
	rt->evt = p;
	/* The send table is xenon-hvd's to write: read-only here. A daemon
	 * that does not size evt for it simply gets no fast path. */
	if ((uint64_t)st.st_size >= PROCDOM_EVT_SIZE) {
		p = mmap(NULL, PROCDOM_SEND_TABLE_BYTES, PROT_READ, MAP_SHARED, b->evt_fd,
			 PROCDOM_EVT_SEND_OFFSET);
		if (p != MAP_FAILED)
			rt->send_table = p;
	}
	return 0;
}

/* shared_info shows at the gfn start_info names once PROCDOM_HC_BOOT's
 * reply placed it (gfn max_pages at first). */
static int memory_shared_info(struct procdom_rt *rt, char *err, size_t errlen)
{
	const struct start_info *si =
		(const void *)(rt->base + rt->boot.start_info_gfn * RT_PAGE_SIZE);
	uint64_t gpa = si->shared_info;

	if (gpa % RT_PAGE_SIZE || !rt_gpa_range(rt, gpa, RT_PAGE_SIZE))
		return mem_fail(err, errlen, -EINVAL,
				"start_info's shared_info is not shown after boot");
	return 0;
}

/* Bounce buffers at gfn 1..; the rest of RAM below the builder's frames is
 * procdom_alloc_pages()'s. */
static int memory_bounce(struct procdom_rt *rt, char *err, size_t errlen)
{
	const struct procdom_boot *b = &rt->boot;
	const struct start_info *si = (const void *)(rt->base + b->start_info_gfn * RT_PAGE_SIZE);
	uint64_t end = b->start_info_gfn, first = 1 + 2ULL * RT_BOUNCE_PAGES * b->nr_vcpus;
	unsigned int i;

	if (si->store_mfn && si->store_mfn < end)
		end = si->store_mfn;
	if (si->console.domU.mfn && si->console.domU.mfn < end)
		end = si->console.domU.mfn;
	if (first > end)
		return mem_fail(err, errlen, -ENOMEM, "RAM too small for the vCPU bounce buffers");
	for (i = 0; i < b->nr_vcpus; i++) {
		uint64_t gfn = 1 + 2ULL * RT_BOUNCE_PAGES * i;

		rt->vcpu[i].irq_bounce = rt->base + (gfn + RT_BOUNCE_PAGES) * RT_PAGE_SIZE;
	}
	rt->alloc_next = first;
	rt->alloc_end = end;
	return 0;
}

int rt_memory_init(struct procdom_rt *rt, char *err, size_t errlen)
{
	int rc = memory_window(rt, err, errlen);

	if (rc == 0) {
		rc = map_fixed(rt, 0, rt->boot.max_pages, rt->boot.ram_fd, 0, false);
		if (rc < 0)
			mem_fail(err, errlen, rc, "mapping RAM");
	}
	if (rc == 0)
		rc = memory_evt(rt, err, errlen);
	if (rc < 0)
		rt_memory_fini(rt);
	return rc;
}

int rt_memory_layout(struct procdom_rt *rt, char *err, size_t errlen)
{
	int rc = memory_shared_info(rt, err, errlen);

	return rc < 0 ? rc : memory_bounce(rt, err, errlen);
}

void rt_memory_fini(struct procdom_rt *rt)
{
	if (rt->send_table)
		munmap((void *)rt->send_table, PROCDOM_SEND_TABLE_BYTES);
	if (rt->evt)
		munmap(rt->evt, rt->evt_len);
	if (rt->base)
		munmap(rt->base, rt->window_len);
	free(rt->gfn_ok);
	rt->send_table = NULL;
	rt->evt = NULL;
	rt->base = NULL;
	rt->gfn_ok = NULL;
}

/* ---- map changes from replies ----------------------------------------- */

static bool kind_has_fd(uint32_t kind)
{
	return kind == PROCDOM_MAP_FD || kind == PROCDOM_MAP_PEER_EVT;
}

static const char *map_check_one(const struct procdom_rt *rt, const struct procdom_map *m,
				 unsigned int nr_fds)
{
	bool peer = m->kind == PROCDOM_MAP_PEER_EVT || m->kind == PROCDOM_MAP_PEER_DROP;

	if (m->kind > PROCDOM_MAP_FD && !peer)
		return "unknown kind";
	if (peer)
		return m->gfn < 1 || m->gfn > PROCDOM_MAX_PEER_SLOTS ? "peer slot out of range"
		       : m->offset != 0				     ? "peer map with an offset"
		       : m->kind == PROCDOM_MAP_PEER_EVT &&
				       (m->fd_index < 0 || (unsigned)m->fd_index >= nr_fds)
			       ? "fd_index without an fd"
			       : NULL;
	if (m->gfn >= rt->boot.max_gfn)
		return "gfn outside the window";
	if (m->offset % RT_PAGE_SIZE || m->offset >= RT_MAX_MAP_OFFSET || m->readonly > 1)
		return "misaligned offset or bad readonly flag";
	if (m->kind == PROCDOM_MAP_OWN_RAM && m->gfn >= rt->boot.max_pages)
		return "own RAM above max_pages";
	if (m->kind == PROCDOM_MAP_EVT && m->offset >= PROCDOM_EVT_SEND_OFFSET)
		return "evt offset beyond the vCPU pages";
	if (kind_has_fd(m->kind) && (m->fd_index < 0 || (unsigned)m->fd_index >= nr_fds))
		return "fd_index without an fd";
	return NULL;
}

int rt_maps_validate(const struct procdom_rt *rt, const struct procdom_map *maps,
		     unsigned int nr_maps, unsigned int nr_fds, char *err, size_t errlen)
{
	unsigned int i;

	if (nr_maps > PROCDOM_MAX_MAPS) {
		snprintf(err, errlen, "%u map changes (max %u)", nr_maps, PROCDOM_MAX_MAPS);
		return -EPROTO;
	}
	for (i = 0; i < nr_maps; i++) {
		const char *why = map_check_one(rt, &maps[i], nr_fds);

		if (why) {
			snprintf(err, errlen, "map %u (kind %u, gfn %llu): %s", i, maps[i].kind,
				 (unsigned long long)maps[i].gfn, why);
			return -EPROTO;
		}
	}
	return 0;
}

static int peer_map(struct procdom_rt *rt, unsigned int slot, int fd)
{
	struct procdom_peer *pr = &rt->peers[slot];
	struct stat st;
	size_t len = 0;
	void *p;

	if (fd >= 0) {
		if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < 2 * RT_PAGE_SIZE)
			return -EINVAL;
		len = (uint64_t)st.st_size < RT_PEER_LEN ? (size_t)st.st_size & ~(RT_PAGE_SIZE - 1)
							 : RT_PEER_LEN;
	}
	if (!pr->evt) {
		p = mmap(NULL, RT_PEER_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
		if (p == MAP_FAILED)
			return -errno;
		pr->evt = p;
	}
	/* Readers take len with acquire: shrink before, grow after remapping. */
	__atomic_store_n(&pr->len, 0, __ATOMIC_RELEASE);
	if (fd < 0)
		p = mmap(pr->evt, RT_PEER_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	else
		p = mmap(pr->evt, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (fd >= 0)
		__atomic_store_n(&pr->len, len, __ATOMIC_RELEASE);
	return 0;
}

static int map_apply_one(struct procdom_rt *rt, const struct procdom_map *m, const int *fds)
{
	bool ro = m->readonly;

	switch (m->kind) {
	case PROCDOM_MAP_HOLE:
		return map_hole(rt, m->gfn);
	case PROCDOM_MAP_OWN_RAM:
		return map_fixed(rt, m->gfn, 1, rt->boot.ram_fd, m->gfn * RT_PAGE_SIZE, ro);
	case PROCDOM_MAP_XEN:
		return map_fixed(rt, m->gfn, 1, rt->boot.xen_fd, m->offset, ro);
	case PROCDOM_MAP_EVT:
		return map_fixed(rt, m->gfn, 1, rt->boot.evt_fd, m->offset, ro);
	case PROCDOM_MAP_FD:
		return map_fixed(rt, m->gfn, 1, fds[m->fd_index], m->offset, ro);
	case PROCDOM_MAP_PEER_EVT:
		return peer_map(rt, (unsigned int)m->gfn, fds[m->fd_index]);
	default: /* PROCDOM_MAP_PEER_DROP */
		return peer_map(rt, (unsigned int)m->gfn, -1);
	}
}

int rt_maps_apply(struct procdom_rt *rt, const struct procdom_map *maps, unsigned int nr_maps,
		  const int *fds)
{
	unsigned int i;
	int rc = 0;

	pthread_mutex_lock(&rt->map_lock);
	for (i = 0; i < nr_maps && rc == 0; i++)
		rc = map_apply_one(rt, &maps[i], fds);
	pthread_mutex_unlock(&rt->map_lock);
	return rc < 0 ? -EIO : 0;
}
