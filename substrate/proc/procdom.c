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
 * Kick: procdom_vcpu_page_kick() (procdom_kick.c) on the vCPU's page, the
 * waker side of the floors.md wake-up protocol.
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
	pd->domains = b->d;
	pd->nr_domains++;
	return 0;
}

static void unbuild_register(struct procdom_build *b)
{
	struct procdom *pd = b->d->pd;
	struct procdom_domain **pp;

	for (pp = &pd->domains; *pp; pp = &(*pp)->next) {
		if (*pp == b->d) {
			*pp = b->d->next;
			break;
		}
	}
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

int procdom_free_domid(struct procdom *pd, domid_t from, domid_t *ret_domid)
{
	unsigned int id;

	for (id = from; id < DOMID_FIRST_RESERVED; id++) {
		if (!pd->by_id[id]) {
			*ret_domid = (domid_t)id;
			return 0;
		}
	}
	return -ENOSPC;
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

	switch (procdom_vcpu_page_kick(procdom_vcpu_page(d, vcpu), pid)) {
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
	if (!d->pid) {
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
	procdom_stop_spawner(pd);
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
