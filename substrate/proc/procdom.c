/*
 * procdom: the substrate context, each domain's memory, the substrate ops
 * the core calls, and vCPU timers. Design in procdom.h and
 * docs/process-domains.md.
 *
 * Timers: one timerfd for every vCPU of every domain. timer_arm() only
 * records the vCPU's deadline and pulls the timerfd earlier if needed;
 * a later or cancelled deadline leaves it armed, and the expiry scan finds
 * nothing due and re-arms for the earliest deadline left. So arming is O(1)
 * and an expiry costs one pass over the live vCPUs.
 *
 * Kick: procdom_vcpu_kick() (procdom_kick.c) on the vCPU's page and its
 * vcpu_info, the waker side of the floors.md wake-up protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "procdom_internal.h"

void procdom_log(struct procdom *pd, enum hv_log_level level, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pd->hooks.log(pd->hooks.ctx, level, buf);
}

struct procdom_domain *procdom_lookup(struct procdom *pd, domid_t domid)
{
	return domid < DOMID_FIRST_RESERVED ? pd->by_id[domid] : NULL;
}

/* ---- memory --------------------------------------------------------- */

static int procdom_region_init(struct procdom_region *r, const char *name, size_t size)
{
	int err;

	r->fd = memfd_create(name, MFD_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	if (ftruncate(r->fd, (off_t)size) < 0)
		goto out_close;
	r->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED)
		goto out_close;
	r->size = size;
	return 0;

out_close:
	err = -errno;
	close(r->fd);
	r->fd = -1;
	r->base = NULL;
	return err;
}

static void procdom_region_fini(struct procdom_region *r)
{
	if (r->base)
		munmap(r->base, r->size);
	if (r->fd >= 0)
		close(r->fd);
	r->base = NULL;
	r->fd = -1;
}

static bool procdom_region_has(const struct procdom_region *r, const void *p)
{
	const uint8_t *b = p;

	return r->base && b >= r->base && b < r->base + r->size;
}

void *procdom_domain_ram(struct procdom_domain *d, uint64_t gfn)
{
	return gfn < d->max_pages ? d->ram.base + gfn * PROCDOM_PAGE_SIZE : NULL;
}

struct shared_info *procdom_domain_shared_info(struct procdom_domain *d)
{
	return (struct shared_info *)d->evt.base;
}

/* ---- overlays (procdom.h) -------------------------------------------- */

int procdom_overlay_range(struct procdom_domain *d, uint64_t first_gfn, uint32_t nr)
{
	if (d->ovl)
		return d->ovl_gfn == first_gfn && d->ovl_n == nr ? 0 : -EBUSY;
	if (!d->local || !nr || first_gfn >= d->max_pages || nr > d->max_pages - first_gfn)
		return -EINVAL;
	d->ovl = calloc(nr, sizeof(*d->ovl));
	if (!d->ovl)
		return -ENOMEM;
	d->ovl_gfn = first_gfn;
	d->ovl_n = nr;
	return 0;
}

struct procdom_overlay *procdom_overlay_at(struct procdom_domain *d, uint64_t gfn,
					   uint32_t *ret_idx)
{
	struct procdom_ovl_slot *s;

	if (!d->ovl || gfn < d->ovl_gfn || gfn - d->ovl_gfn >= d->ovl_n)
		return NULL;
	s = &d->ovl[gfn - d->ovl_gfn];
	*ret_idx = s->idx;
	return s->o;
}

/* Show what backs the host's view of d's frame gfn: fd at offset. */
static int procdom_ram_show(struct procdom_domain *d, uint64_t gfn, uint32_t n, int fd,
			    uint64_t offset)
{
	void *at = d->ram.base + gfn * PROCDOM_PAGE_SIZE;

	if (mmap(at, (size_t)n * PROCDOM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, (off_t)offset) == MAP_FAILED)
		return -errno;
	return 0;
}

/* Off its domain's list (d->overlays holds only overlays the creator
 * still holds: one with no page left attached is only a pending map's). */
static void procdom_overlay_unlink(struct procdom_overlay *o)
{
	if (o->pprev) {
		*o->pprev = o->next;
		if (o->next)
			o->next->pprev = o->pprev;
	}
	o->pprev = NULL;
	o->next = NULL;
}

static void procdom_overlay_free(struct procdom_overlay *o)
{
	procdom_overlay_unlink(o);
	if (o->ro_fd >= 0)
		close(o->ro_fd);
	close(o->fd);
	free(o->gfns);
	free(o);
}

void procdom_overlay_get(struct procdom_overlay *o)
{
	o->refs++;
}

void procdom_overlay_put(struct procdom_overlay *o)
{
	if (o && !--o->refs)
		procdom_overlay_free(o);
}

/* Page i's slot and the host's view at its gfn, to the overlay. Pages
 * whose gfns run on go in one mmap. */
static int procdom_overlay_attach(struct procdom_overlay *o, const uint64_t *gfns)
{
	struct procdom_domain *d = o->d;
	uint32_t i, run;
	int err;

	for (i = 0; i < o->nr_pages; i += run) {
		for (run = 1; i + run < o->nr_pages && gfns[i + run] == gfns[i] + run; run++)
			;
		err = procdom_ram_show(d, gfns[i], run, o->fd, (uint64_t)i * PROCDOM_PAGE_SIZE);
		if (err) {
			/* A failed MAP_FIXED may have unmapped the range. */
			procdom_ram_show(d, gfns[i], run, d->ram.fd, gfns[i] * PROCDOM_PAGE_SIZE);
			return err;
		}
		for (uint32_t k = i; k < i + run; k++) {
			d->ovl[gfns[k] - d->ovl_gfn] = (struct procdom_ovl_slot){ o, k };
			o->gfns[k] = gfns[k];
			o->nr_attached++;
		}
	}
	return 0;
}

static bool procdom_overlay_gfn_ok(const struct procdom_domain *d, uint64_t gfn)
{
	return gfn >= d->ovl_gfn && gfn - d->ovl_gfn < d->ovl_n;
}

/* Every gfn in the window, free, and named once. A gfn is marked in its own
 * slot while the batch is checked (so a repeat finds it taken): O(nr), not
 * a comparison of every pair (1024-page shares). */
static int procdom_overlay_check(struct procdom_domain *d, const uint64_t *gfns, uint32_t nr)
{
	static struct procdom_overlay seen;
	uint32_t i, k;
	int err = 0;

	if (!d->ovl || !nr)
		return -EINVAL;
	for (i = 0; i < nr && !err; i++) {
		if (!procdom_overlay_gfn_ok(d, gfns[i]) || d->ovl[gfns[i] - d->ovl_gfn].o)
			err = -EINVAL;
		else
			d->ovl[gfns[i] - d->ovl_gfn].o = &seen;
	}
	for (k = 0; k < i; k++)
		if (procdom_overlay_gfn_ok(d, gfns[k]) && d->ovl[gfns[k] - d->ovl_gfn].o == &seen)
			d->ovl[gfns[k] - d->ovl_gfn].o = NULL;
	return err;
}

static struct procdom_overlay *procdom_overlay_new(const char *name, uint32_t nr)
{
	struct procdom_overlay *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->ro_fd = -1;
	o->nr_pages = nr;
	o->gfns = malloc(nr * sizeof(*o->gfns));
	o->fd = memfd_create(name, MFD_CLOEXEC);
	if (!o->gfns || o->fd < 0 || ftruncate(o->fd, (off_t)nr * PROCDOM_PAGE_SIZE) < 0) {
		int err = errno ? errno : ENOMEM;

		if (o->fd >= 0)
			close(o->fd);
		free(o->gfns);
		free(o);
		errno = err;
		return NULL;
	}
	for (uint32_t i = 0; i < nr; i++)
		o->gfns[i] = PROCDOM_OVL_DETACHED;
	return o;
}

int procdom_overlay_create(struct procdom_domain *d, const char *name, const uint64_t *gfns,
			   uint32_t nr, struct procdom_overlay **ret_o)
{
	struct procdom_overlay *o;
	int err = procdom_overlay_check(d, gfns, nr);

	if (err)
		return err;
	errno = 0;
	o = procdom_overlay_new(name, nr);
	if (!o) {
		err = -errno;
		/* Out of fds (one per overlay) or memory: the caller's error. */
		if (!d->ovl_fail_logged)
			procdom_log(d->pd, HV_LOG_WARN, "d%u: no memfd for an overlay: %s",
				    d->domid, strerror(-err));
		d->ovl_fail_logged = true;
		return err;
	}
	o->d = d;
	o->refs = 1; /* the creator's hold, while a page is attached */
	o->next = d->overlays;
	o->pprev = &d->overlays;
	if (o->next)
		o->next->pprev = &o->next;
	d->overlays = o;
	err = procdom_overlay_attach(o, gfns);
	if (err) {
		procdom_log(d->pd, HV_LOG_WARN, "d%u: overlay %s: %s", d->domid, name,
			    strerror(-err));
		procdom_overlay_destroy(o);
		return err;
	}
	*ret_o = o;
	return 0;
}

void procdom_overlay_detach(struct procdom_overlay *o, uint32_t i)
{
	struct procdom_domain *d = o->d;
	uint64_t gfn;
	int err;

	if (i >= o->nr_pages || o->gfns[i] == PROCDOM_OVL_DETACHED)
		return;
	gfn = o->gfns[i];
	o->gfns[i] = PROCDOM_OVL_DETACHED;
	if (d) {
		d->ovl[gfn - d->ovl_gfn] = (struct procdom_ovl_slot){ NULL, 0 };
		/* The frame is the ram memfd's again (never handed out). */
		err = procdom_ram_show(d, gfn, 1, d->ram.fd, gfn * PROCDOM_PAGE_SIZE);
		if (err)
			procdom_log(d->pd, HV_LOG_ERR, "d%u: gfn %#llx: RAM back: %s", d->domid,
				    (unsigned long long)gfn, strerror(-err));
	}
	if (!--o->nr_attached) {
		/* The creator's hold goes: so does its place on the list, or a
		 * release would drop that hold a second time. */
		procdom_overlay_unlink(o);
		o->d = NULL; /* nothing of it is shown there any more */
		procdom_overlay_put(o);
	}
}

void procdom_overlay_destroy(struct procdom_overlay *o)
{
	uint32_t i, n;

	/* A creation that failed before attaching holds the creator's
	 * reference with no page attached. */
	if (o && !o->nr_attached) {
		procdom_overlay_put(o);
		return;
	}
	for (i = 0, n = o ? o->nr_pages : 0; i < n; i++) {
		/* The last detach may free o. */
		bool last = o->nr_attached == 1 && o->gfns[i] != PROCDOM_OVL_DETACHED;

		procdom_overlay_detach(o, i);
		if (last)
			return;
	}
}

int procdom_overlay_fd(const struct procdom_overlay *o)
{
	return o->fd;
}

int procdom_overlay_send_fd(struct procdom_overlay *o, bool readonly)
{
	char path[64];

	if (!readonly)
		return o->fd;
	if (o->ro_fd < 0) {
		/* A new open file description, read-only: a mapper cannot
		 * mmap it PROT_WRITE or mprotect its way there. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", o->fd);
		o->ro_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return o->ro_fd;
}

void procdom_overlays_release(struct procdom_domain *d)
{
	while (d->overlays) {
		struct procdom_overlay *o = d->overlays;

		procdom_log(d->pd, HV_LOG_WARN, "d%u: an overlay outlived its creator's use",
			    d->domid);
		/* Orphaned: pending map changes may still send its fd. */
		procdom_overlay_unlink(o);
		o->d = NULL;
		for (uint32_t i = 0; i < o->nr_pages; i++)
			o->gfns[i] = PROCDOM_OVL_DETACHED;
		o->nr_attached = 0;
		procdom_overlay_put(o);
	}
	free(d->ovl);
	d->ovl = NULL;
	d->ovl_n = 0;
}

int procdom_domain_page_fd(struct procdom_domain *d, uint64_t gfn, int *ret_fd,
			   uint64_t *ret_offset)
{
	struct procdom_overlay *o;
	uint32_t idx;

	if (gfn >= d->max_pages)
		return -EINVAL;
	o = procdom_overlay_at(d, gfn, &idx);
	if (o) {
		*ret_fd = o->fd;
		*ret_offset = (uint64_t)idx * PROCDOM_PAGE_SIZE;
		return 0;
	}
	if (d->local)
		return -EPERM;
	*ret_fd = d->ram.fd;
	*ret_offset = gfn * PROCDOM_PAGE_SIZE;
	return 0;
}

/* ---- domains: an ordered init table, unwound in reverse ---------------- */

struct procdom_build {
	struct procdom_domain *d;
	const struct procdom_domain_spec *spec;
};

static int build_ram(struct procdom_build *b)
{
	return procdom_region_init(&b->d->ram, "xenon-ram",
				   (size_t)b->spec->max_pages * PROCDOM_PAGE_SIZE);
}

static void unbuild_ram(struct procdom_build *b)
{
	procdom_overlays_release(b->d);
	procdom_region_fini(&b->d->ram);
}

static int build_evt(struct procdom_build *b)
{
	/* Fixed layout whatever the vCPU count (procdom_proto.h, (b)). */
	return procdom_region_init(&b->d->evt, "xenon-evt", (size_t)PROCDOM_EVT_SIZE);
}

static void unbuild_evt(struct procdom_build *b)
{
	procdom_region_fini(&b->d->evt);
}

static int build_xen(struct procdom_build *b)
{
	struct procdom_domain *d = b->d;
	unsigned int i;
	int err;

	d->xen_free = calloc(b->spec->xen_pages, sizeof(*d->xen_free));
	if (!d->xen_free)
		return -ENOMEM;
	err = procdom_region_init(&d->xen, "xenon-xen",
				  (size_t)b->spec->xen_pages * PROCDOM_PAGE_SIZE);
	if (err) {
		free(d->xen_free);
		d->xen_free = NULL;
		return err;
	}
	d->xen_pages = d->nr_xen_free = b->spec->xen_pages;
	/* Lowest index on top of the stack, so frames come out in order. */
	for (i = 0; i < d->xen_pages; i++)
		d->xen_free[i] = d->xen_pages - 1 - i;
	return 0;
}

static void unbuild_xen(struct procdom_build *b)
{
	procdom_region_fini(&b->d->xen);
	free(b->d->xen_free);
	b->d->xen_free = NULL;
}

static int build_timers(struct procdom_build *b)
{
	b->d->timer_deadline = calloc(b->spec->max_vcpus, sizeof(uint64_t));
	return b->d->timer_deadline ? 0 : -ENOMEM;
}

static void unbuild_timers(struct procdom_build *b)
{
	free(b->d->timer_deadline);
	b->d->timer_deadline = NULL;
}

static int build_hc(struct procdom_build *b)
{
	return procdom_hc_init(b->d);
}

static void unbuild_hc(struct procdom_build *b)
{
	procdom_hc_fini(b->d);
}

static int build_register(struct procdom_build *b)
{
	struct procdom *pd = b->d->pd;

	pd->by_id[b->d->domid] = b->d;
	b->d->next = pd->domains;
	b->d->pprev = &pd->domains;
	if (pd->domains)
		pd->domains->pprev = &b->d->next;
	pd->domains = b->d;
	pd->nr_domains++;
	return 0;
}

static void unbuild_register(struct procdom_build *b)
{
	struct procdom *pd = b->d->pd;

	*b->d->pprev = b->d->next;
	if (b->d->next)
		b->d->next->pprev = b->d->pprev;
	pd->by_id[b->d->domid] = NULL;
	pd->nr_domains--;
}

static const struct procdom_build_step {
	const char *what;
	int (*init)(struct procdom_build *b);
	void (*fini)(struct procdom_build *b);
} procdom_build_steps[] = {
	{ "ram memfd", build_ram, unbuild_ram },
	{ "evt memfd", build_evt, unbuild_evt },
	{ "xen memfd", build_xen, unbuild_xen },
	{ "timers", build_timers, unbuild_timers },
	{ "hypercall sockets", build_hc, unbuild_hc },
	{ "register", build_register, unbuild_register },
};

#define PROCDOM_NR_STEPS (sizeof(procdom_build_steps) / sizeof(procdom_build_steps[0]))

static void procdom_unbuild(struct procdom_build *b, size_t done)
{
	while (done--)
		procdom_build_steps[done].fini(b);
}

static int procdom_spec_check(struct procdom *pd, const struct procdom_domain_spec *s)
{
	if (s->domid >= DOMID_FIRST_RESERVED || pd->by_id[s->domid])
		return -EEXIST;
	if (s->max_vcpus < 1 || s->max_vcpus > HV_MAX_VCPUS)
		return -EINVAL;
	if (s->max_pages < HV_MIN_NR_PAGES || s->max_pages > HV_MAX_NR_PAGES)
		return -EINVAL;
	if (s->xen_pages < 1 || s->xen_pages > 4096)
		return -EINVAL;
	return 0;
}

int procdom_domain_prepare(struct procdom *pd, const struct procdom_domain_spec *spec,
			   struct procdom_domain **ret_d)
{
	struct procdom_build b = { .spec = spec };
	size_t i;
	int err;

	err = procdom_spec_check(pd, spec);
	if (err)
		return err;
	b.d = calloc(1, sizeof(*b.d));
	if (!b.d)
		return -ENOMEM;
	*b.d = (struct procdom_domain){ .pd = pd,
					.domid = spec->domid,
					.max_vcpus = spec->max_vcpus,
					.max_pages = spec->max_pages,
					.local = spec->local,
					.pidfd = -1 };
	b.d->ram.fd = b.d->evt.fd = b.d->xen.fd = -1;
	for (i = 0; i < PROCDOM_NR_STEPS; i++) {
		err = procdom_build_steps[i].init(&b);
		if (err) {
			procdom_log(pd, HV_LOG_WARN, "d%u: preparing failed at %s: %s", spec->domid,
				    procdom_build_steps[i].what, strerror(-err));
			procdom_unbuild(&b, i);
			free(b.d);
			return err;
		}
	}
	*ret_d = b.d;
	return 0;
}

int procdom_domain_check_built(struct procdom_domain *d)
{
	return d->shared_info_given ? 0 : -EPROTO;
}

void procdom_domain_release(struct procdom_domain *d)
{
	struct procdom_build b = { .d = d };
	unsigned int i;

	if (!d)
		return;
	procdom_send_domain_gone(d);
	procdom_process_fini(d);
	/* Timers of a released domain must never fire into the core. */
	for (i = 0; i < d->max_vcpus; i++)
		d->timer_deadline[i] = 0;
	procdom_unbuild(&b, PROCDOM_NR_STEPS);
	free(d);
}

domid_t procdom_domain_id(const struct procdom_domain *d)
{
	return d->domid;
}

unsigned int procdom_domain_vcpus(const struct procdom_domain *d)
{
	return d->max_vcpus;
}

int procdom_domain_ram_fd(const struct procdom_domain *d)
{
	return d->ram.fd;
}

uint64_t procdom_domain_max_pages(const struct procdom_domain *d)
{
	return d->max_pages;
}

/* ---- substrate ops ---------------------------------------------------- */

static void *procdom_op_ram_page(void *sub, domid_t domid, uint64_t gfn)
{
	struct procdom_domain *d = procdom_lookup(sub, domid);

	return d ? procdom_domain_ram(d, gfn) : NULL;
}

static void *procdom_op_xen_page_alloc(void *sub, domid_t domid)
{
	struct procdom_domain *d = procdom_lookup(sub, domid);
	uint8_t *page;

	if (!d)
		return NULL;
	if (!d->shared_info_given) {
		d->shared_info_given = true;
		memset(d->evt.base, 0, PROCDOM_PAGE_SIZE);
		return d->evt.base;
	}
	if (!d->nr_xen_free) {
		procdom_log(d->pd, HV_LOG_WARN, "d%u: all %u xen pages in use", d->domid,
			    d->xen_pages);
		return NULL;
	}
	page = d->xen.base + (size_t)d->xen_free[--d->nr_xen_free] * PROCDOM_PAGE_SIZE;
	memset(page, 0, PROCDOM_PAGE_SIZE);
	return page;
}

static void procdom_op_xen_page_free(void *sub, domid_t domid, void *page)
{
	struct procdom_domain *d = procdom_lookup(sub, domid);
	size_t off;

	if (!d || !page)
		return;
	if (page == d->evt.base) {
		d->shared_info_given = false;
		return;
	}
	off = (size_t)((uint8_t *)page - d->xen.base);
	if (!procdom_region_has(&d->xen, page) || off % PROCDOM_PAGE_SIZE ||
	    d->nr_xen_free >= d->xen_pages) {
		procdom_log(d->pd, HV_LOG_ERR, "d%u: freeing a page that is not ours", domid);
		return;
	}
	d->xen_free[d->nr_xen_free++] = (uint32_t)(off / PROCDOM_PAGE_SIZE);
}

static int procdom_op_physmap_set(void *sub, domid_t domid, uint64_t gfn, void *page, bool readonly)
{
	struct procdom_domain *d = procdom_lookup(sub, domid);

	if (!d)
		return -ESRCH;
	if (d->local) {
		if (d->pd->hooks.local_physmap)
			d->pd->hooks.local_physmap(d->pd->hooks.ctx, domid, gfn, page, readonly);
		return 0;
	}
	procdom_maps_record(d, gfn, page, readonly);
	return 0;
}

static void procdom_kick_process(struct procdom_domain *d, unsigned int vcpu)
{
	/* Signal only a started, unreaped process: its pid is still ours. */
	pid_t pid = d->started && !d->reaped ? d->pid : 0;

	const struct vcpu_info *vi = d->pd->hv ? hv_vcpu_info(d->pd->hv, d->domid, vcpu) : NULL;

	switch (procdom_vcpu_kick(procdom_vcpu_page(d, vcpu), pid, vi)) {
	case PROCDOM_KICK_WOKE:
		d->pd->stats.kicks_woken++;
		break;
	case PROCDOM_KICK_SIGNALLED:
		d->pd->stats.kicks_signalled++;
		break;
	case PROCDOM_KICK_NONE:
		break;
	}
}

static void procdom_op_kick(void *sub, domid_t domid, unsigned int vcpu)
{
	struct procdom *pd = sub;
	struct procdom_domain *d = procdom_lookup(pd, domid);

	if (!d || vcpu >= d->max_vcpus)
		return;
	if (!d->proc) {
		pd->stats.kicks_local++;
		pd->hooks.local_kick(pd->hooks.ctx, domid, vcpu);
		return;
	}
	procdom_kick_process(d, vcpu);
}

static uint64_t procdom_op_now_ns(void *sub)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void procdom_op_wallclock(void *sub, uint64_t *ret_sec, uint32_t *ret_nsec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*ret_sec = (uint64_t)ts.tv_sec;
	*ret_nsec = (uint32_t)ts.tv_nsec;
}

static void procdom_timer_program(struct procdom *pd, uint64_t deadline)
{
	struct itimerspec its = { 0 };

	if (deadline) {
		its.it_value.tv_sec = (time_t)(deadline / 1000000000ull);
		its.it_value.tv_nsec = (long)(deadline % 1000000000ull);
		/* 0 would disarm: a deadline at time zero is long past anyway. */
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(pd->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		procdom_log(pd, HV_LOG_ERR, "timerfd_settime: %s", strerror(errno));
	pd->timer_programmed = deadline;
}

static void procdom_op_timer_arm(void *sub, domid_t domid, unsigned int vcpu, uint64_t deadline)
{
	struct procdom *pd = sub;
	struct procdom_domain *d = procdom_lookup(pd, domid);

	if (!d || vcpu >= d->max_vcpus)
		return;
	d->timer_deadline[vcpu] = deadline;
	if (deadline && (!pd->timer_programmed || deadline < pd->timer_programmed))
		procdom_timer_program(pd, deadline);
}

static void procdom_op_domain_state(void *sub, domid_t domid, int state)
{
	struct procdom *pd = sub;

	if (pd->hooks.domain_state)
		pd->hooks.domain_state(pd->hooks.ctx, domid, state);
}

static void procdom_op_log(void *sub, enum hv_log_level level, const char *msg)
{
	struct procdom *pd = sub;

	pd->hooks.log(pd->hooks.ctx, level, msg);
}

const struct substrate_ops procdom_substrate_ops = {
	.ram_page = procdom_op_ram_page,
	.xen_page_alloc = procdom_op_xen_page_alloc,
	.xen_page_free = procdom_op_xen_page_free,
	.physmap_set = procdom_op_physmap_set,
	.translate = NULL, /* guest pointers are guest-physical */
	.kick = procdom_op_kick,
	.now_ns = procdom_op_now_ns,
	.wallclock = procdom_op_wallclock,
	.timer_arm = procdom_op_timer_arm,
	.domain_state = procdom_op_domain_state,
	.log = procdom_op_log,
};

/* ---- timers ----------------------------------------------------------- */

int procdom_timer_fd(struct procdom *pd)
{
	return pd->timer_fd;
}

/* Fire every due vCPU timer; hv_timer_fire may re-arm through timer_arm,
 * which only lowers timer_programmed, so the final pass decides. */
void procdom_timers_expired(struct procdom *pd)
{
	uint64_t expirations, now = procdom_op_now_ns(pd), next = 0;
	struct procdom_domain *d;
	unsigned int i;

	if (read(pd->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		procdom_log(pd, HV_LOG_ERR, "timerfd read: %s", strerror(errno));
	pd->timer_programmed = 0;
	for (d = pd->domains; d; d = d->next) {
		for (i = 0; i < d->max_vcpus; i++) {
			if (d->timer_deadline[i] && d->timer_deadline[i] <= now) {
				d->timer_deadline[i] = 0;
				if (pd->hv)
					hv_timer_fire(pd->hv, d->domid, i);
			}
		}
	}
	for (d = pd->domains; d; d = d->next)
		for (i = 0; i < d->max_vcpus; i++)
			if (d->timer_deadline[i] && (!next || d->timer_deadline[i] < next))
				next = d->timer_deadline[i];
	procdom_timer_program(pd, next);
}

/* ---- the context ------------------------------------------------------ */

int procdom_create(const struct procdom_hooks *hooks, struct procdom **ret_pd)
{
	struct procdom *pd;

	if (!hooks || !hooks->log || !hooks->local_kick)
		return -EINVAL;
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	pd->hooks = *hooks;
	pd->spawn_tail = &pd->spawn_head;
	pd->by_id = calloc(DOMID_FIRST_RESERVED, sizeof(*pd->by_id));
	if (!pd->by_id)
		goto out_free;
	pd->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pd->timer_fd < 0)
		goto out_free_table;
	*ret_pd = pd;
	return 0;

out_free_table:
	free(pd->by_id);
out_free:
	free(pd);
	return -ENOMEM;
}

void procdom_destroy(struct procdom *pd)
{
	if (!pd)
		return;
	while (pd->domains)
		procdom_domain_release(pd->domains);
	procdom_spawns_fini(pd); /* the spawner, then the final sweep */
	close(pd->timer_fd);
	free(pd->by_id);
	free(pd);
}

void procdom_attach(struct procdom *pd, struct hypervisor *hv)
{
	pd->hv = hv;
}

void procdom_get_stats(struct procdom *pd, struct procdom_stats *ret)
{
	*ret = pd->stats;
	ret->nr_domains = pd->nr_domains;
}
