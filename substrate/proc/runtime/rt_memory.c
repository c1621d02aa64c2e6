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
 * Peer slots (the fast path, procdom_proto.h (c)): each slot is a fixed
 * address range reserved on first use and never unmapped; (re)mapping a
 * peer or dropping one is MAP_FIXED over it, so a sender racing the change
 * writes into the old peer's pages or into anonymous zeroes, never into a
 * hole.
 */
#include "rt_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define RT_MAX_MAP_OFFSET (1ULL << 44)
#define RT_PEER_LEN ((size_t)PROCDOM_EVT_SEND_OFFSET)

static void gfn_ok_set(struct procdom_rt *rt, uint64_t gfn, bool ok)
{
	uint64_t bit = 1ULL << (gfn % 64);

	if (ok)
		__atomic_fetch_or(&rt->gfn_ok[gfn / 64], bit, __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(&rt->gfn_ok[gfn / 64], ~bit, __ATOMIC_RELEASE);
}

static bool gfn_ok(const struct procdom_rt *rt, uint64_t gfn)
{
	return gfn < rt->boot.max_gfn &&
	       (__atomic_load_n(&rt->gfn_ok[gfn / 64], __ATOMIC_ACQUIRE) >> (gfn % 64)) & 1;
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

/* ---- boot-time mappings ----------------------------------------------- */

static int map_fixed(struct procdom_rt *rt, uint64_t gfn, size_t pages, int fd, uint64_t off,
		     bool readonly)
{
	int prot = PROT_READ | (readonly ? 0 : PROT_WRITE);
	void *p = mmap(rt->base + gfn * RT_PAGE_SIZE, pages * RT_PAGE_SIZE, prot,
		       MAP_SHARED | MAP_FIXED, fd, (off_t)off);
	uint64_t i;

	if (p == MAP_FAILED)
		return -errno;
	for (i = 0; i < pages; i++)
		gfn_ok_set(rt, gfn + i, true);
	return 0;
}

static int map_hole(struct procdom_rt *rt, uint64_t gfn)
{
	void *p = mmap(rt->base + gfn * RT_PAGE_SIZE, RT_PAGE_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);

	gfn_ok_set(rt, gfn, false);
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
	rt->gfn_ok = calloc((b->max_gfn + 63) / 64, sizeof(uint64_t));
	if (!rt->gfn_ok)
		return mem_fail(err, errlen, -ENOMEM, "gfn bitmap");
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
