/*
 * guestsim (see guestsim.h): the substrate, the platform, delivery and
 * waiting. Nothing here makes the core's decisions; it only carries out
 * what the core asks (actions, timers, kicks) the way a single-threaded
 * machine would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guestsim.h"

#define GS_PAGE XENON_PAGE_SIZE
#define GS_BUILDER_FRAMES 3 /* start_info, xenstore, console at the top */

static struct guestsim *gs_of(void *sub)
{
	return sub;
}

struct gs_domain *gs_domain_lookup(struct guestsim *gs, domid_t domid)
{
	unsigned int i;

	for (i = 0; i < GS_MAX_DOMAINS; i++) {
		if (gs->doms[i] && gs->doms[i]->domid == domid)
			return gs->doms[i];
	}
	return NULL;
}

/* ---- overlays -------------------------------------------------------- */

static struct gs_overlay *gs_overlay_find(struct gs_domain *d, uint64_t gfn)
{
	unsigned int i;

	for (i = 0; i < d->nr_overlays; i++) {
		if (d->overlays[i].gfn == gfn)
			return &d->overlays[i];
	}
	return NULL;
}

static int gs_overlay_set(struct gs_domain *d, uint64_t gfn, void *page)
{
	struct gs_overlay *o = gs_overlay_find(d, gfn);

	if (!page) {
		if (o)
			*o = d->overlays[--d->nr_overlays];
		return 0;
	}
	if (!o) {
		if (d->nr_overlays == GS_MAX_OVERLAYS) {
			fprintf(stderr, "guestsim: d%u overlay table full (%u)\n", d->domid,
				GS_MAX_OVERLAYS);
			return -ENOSPC;
		}
		o = &d->overlays[d->nr_overlays++];
	}
	*o = (struct gs_overlay){ gfn, page };
	return 0;
}

/* ---- substrate ops --------------------------------------------------- */

static void *gs_ram_page(void *sub, domid_t domid, uint64_t gfn)
{
	struct gs_domain *d = gs_domain_lookup(gs_of(sub), domid);

	return d && gfn < d->max_pages ? d->ram + gfn * GS_PAGE : NULL;
}

static void *gs_xen_page_alloc(void *sub, domid_t domid)
{
	void *p = aligned_alloc(GS_PAGE, GS_PAGE);

	if (!p)
		return NULL;
	memset(p, 0, GS_PAGE);
	gs_of(sub)->xen_pages_live++;
	return p;
}

static void gs_xen_page_free(void *sub, domid_t domid, void *page)
{
	if (!page)
		return;
	gs_of(sub)->xen_pages_live--;
	free(page);
}

static int gs_physmap_set(void *sub, domid_t domid, uint64_t gfn, void *page, bool readonly)
{
	/* Guests in process share our address space: a read-only mapping
	 * cannot be enforced here (the process substrate does, with mmap). */
	(void)readonly;
	struct gs_domain *d = gs_domain_lookup(gs_of(sub), domid);

	return d ? gs_overlay_set(d, gfn, page) : -ESRCH;
}

static void gs_kick(void *sub, domid_t domid, unsigned int vcpu)
{
	struct gs_domain *d = gs_domain_lookup(gs_of(sub), domid);

	if (!d || vcpu >= HV_MAX_VCPUS)
		return;
	d->kicked[vcpu] = true;
	d->nr_kicks[vcpu]++;
}

static uint64_t gs_now_ns(void *sub)
{
	return gs_of(sub)->now_ns;
}

static void gs_wallclock(void *sub, uint64_t *ret_sec, uint32_t *ret_nsec)
{
	*ret_sec = gs_of(sub)->wc_sec;
	*ret_nsec = gs_of(sub)->wc_nsec;
}

static void gs_timer_arm(void *sub, domid_t domid, unsigned int vcpu, uint64_t deadline_ns)
{
	struct gs_domain *d = gs_domain_lookup(gs_of(sub), domid);

	if (d && vcpu < HV_MAX_VCPUS)
		d->timer_deadline[vcpu] = deadline_ns;
}

static void gs_domain_state(void *sub, domid_t domid, int state)
{
	struct gs_domain *d = gs_domain_lookup(gs_of(sub), domid);

	if (d && state == HV_DOMAIN_SHUTDOWN)
		d->shutdown = true;
}

static void gs_log(void *sub, enum hv_log_level level, const char *msg)
{
	if (level <= HV_LOG_WARN)
		gs_of(sub)->nr_log_warn++;
	if (getenv("GS_LOG"))
		fprintf(stderr, "hv[%d]: %s\n", (int)level, msg);
}

static const struct substrate_ops gs_ops = {
	.ram_page = gs_ram_page,
	.xen_page_alloc = gs_xen_page_alloc,
	.xen_page_free = gs_xen_page_free,
	.physmap_set = gs_physmap_set,
	.translate = NULL, /* guest addresses are guest-physical */
	.kick = gs_kick,
	.now_ns = gs_now_ns,
	.wallclock = gs_wallclock,
	.timer_arm = gs_timer_arm,
	.domain_state = gs_domain_state,
	.log = gs_log,
};

/* ---- delivery -------------------------------------------------------- */

static bool gs_deliverable(struct gs_domain *d, unsigned int v)
{
	struct vcpu_info *vi;

	if (!d->guest || !d->guest->ready || d->shutdown)
		return false;
	vi = xg_vcpu_info(d->guest, v);
	return vi && __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST) &&
	       !__atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_SEQ_CST);
}

/* The event callback as Xen's PV entry runs it: events masked on entry,
 * the mask restored (clear, or it would not have been delivered) on the
 * way out, the interrupted guest and vCPU entered again after. */
static void gs_upcall(struct gs_domain *d, unsigned int v)
{
	struct xen_guest *prev = xen_guest_current();
	unsigned int prev_vcpu = prev ? xg_current_vcpu(prev) : 0, prev_dv = d->current_vcpu;
	struct vcpu_info *vi = xg_vcpu_info(d->guest, v);

	__atomic_store_n(&vi->evtchn_upcall_mask, 1, __ATOMIC_SEQ_CST);
	d->current_vcpu = v;
	xen_guest_enter(d->guest, v);
	d->gs->nr_delivered++;
	xg_evtchn_do_upcall(d->guest);
	__atomic_store_n(&vi->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
	d->current_vcpu = prev_dv;
	xen_guest_enter(prev, prev_vcpu);
}

static bool gs_deliver_pass(struct guestsim *gs)
{
	bool any = false;
	unsigned int i, v;

	for (i = 0; i < GS_MAX_DOMAINS; i++) {
		struct gs_domain *d = gs->doms[i];

		for (v = 0; d && v < d->nr_vcpus; v++) {
			if (gs_deliverable(d, v)) {
				gs_upcall(d, v);
				any = true;
			}
		}
	}
	return any;
}

void gs_deliver(struct guestsim *gs)
{
	unsigned int pass;

	if (gs->deliver_depth >= GS_MAX_DELIVER_DEPTH)
		return; /* an outer gs_deliver loop will get to it */
	gs->deliver_depth++;
	for (pass = 0; pass < GS_MAX_DELIVER_PASSES; pass++) {
		if (!gs_deliver_pass(gs))
			break;
	}
	if (pass == GS_MAX_DELIVER_PASSES)
		fprintf(stderr, "guestsim: upcalls still pending after %u passes\n", pass);
	gs->deliver_depth--;
}

/* ---- time and the other side ----------------------------------------- */

static bool gs_fire_due_timers(struct guestsim *gs)
{
	bool fired = false;
	unsigned int i, v;

	for (i = 0; i < GS_MAX_DOMAINS; i++) {
		struct gs_domain *d = gs->doms[i];

		for (v = 0; d && v < d->nr_vcpus; v++) {
			if (!d->timer_deadline[v] || d->timer_deadline[v] > gs->now_ns)
				continue;
			d->timer_deadline[v] = 0; /* spent; the core may re-arm it */
			hv_timer_fire(gs->hv, d->domid, v);
			fired = true;
		}
	}
	return fired;
}

/* The earliest armed timer or `deadline` (0: none), whichever first. */
static uint64_t gs_next_event(struct guestsim *gs, uint64_t deadline)
{
	uint64_t next = deadline;
	unsigned int i, v;

	for (i = 0; i < GS_MAX_DOMAINS; i++) {
		struct gs_domain *d = gs->doms[i];

		for (v = 0; d && v < d->nr_vcpus; v++) {
			if (d->timer_deadline[v] && (!next || d->timer_deadline[v] < next))
				next = d->timer_deadline[v];
		}
	}
	return next;
}

static bool gs_run_pumps(struct guestsim *gs)
{
	bool progress = false;
	unsigned int i;

	if (gs->pumping)
		return false; /* a pump blocked: the outer loop runs them */
	gs->pumping = true;
	for (i = 0; i < gs->nr_pumps; i++)
		progress |= gs->pumps[i].fn(gs->pumps[i].arg) > 0;
	gs->pumping = false;
	return progress;
}

void gs_clock_set(struct guestsim *gs, uint64_t now_ns)
{
	if (now_ns > gs->now_ns)
		gs->now_ns = now_ns;
	hv_update_wallclock(gs->hv);
	gs_fire_due_timers(gs);
	gs_deliver(gs);
}

void gs_clock_advance(struct guestsim *gs, uint64_t delta_ns)
{
	gs_clock_set(gs, gs->now_ns + delta_ns);
}

int gs_add_pump(struct guestsim *gs, int (*fn)(void *arg), void *arg)
{
	if (gs->nr_pumps == GS_MAX_PUMPS)
		return -ENOSPC;
	gs->pumps[gs->nr_pumps++] = (struct gs_pump){ fn, arg };
	return 0;
}

void gs_remove_pump(struct guestsim *gs, int (*fn)(void *arg), void *arg)
{
	unsigned int i;

	for (i = 0; i < gs->nr_pumps; i++) {
		if (gs->pumps[i].fn == fn && gs->pumps[i].arg == arg) {
			gs->pumps[i] = gs->pumps[--gs->nr_pumps];
			return;
		}
	}
}

/*
 * SCHEDOP_block / SCHEDOP_poll: wait until the vCPU is kicked (an upcall
 * edge, or a polled port), the deadline passes, or nothing can progress.
 * The kick flag is cleared first: the core call that asked us to wait
 * checked for pending work itself, and nothing else ran since.
 */
static void gs_wait(struct gs_domain *d, unsigned int vcpu, const struct hv_action_req *act)
{
	struct guestsim *gs = d->gs;
	bool pumped, fired;
	uint64_t next;

	d->kicked[vcpu] = false;
	for (;;) {
		if (d->kicked[vcpu] || d->shutdown)
			return;
		if (act->deadline_ns && gs->now_ns >= act->deadline_ns)
			return;
		/* Both, every time: pumps and timers are independent sources. */
		pumped = gs_run_pumps(gs);
		fired = gs_fire_due_timers(gs);
		if (pumped || fired) {
			gs_deliver(gs);
			continue;
		}
		next = gs_next_event(gs, act->deadline_ns);
		if (!next || !gs->auto_advance) {
			gs->stalls++;
			fprintf(stderr, "guestsim: d%u vCPU %u waits for nothing (stall)\n",
				d->domid, vcpu);
			return;
		}
		gs_clock_set(gs, next);
	}
}

/* ---- the platform ---------------------------------------------------- */

static long gs_hypercall(void *ctx, unsigned int vcpu, unsigned long op, const uint64_t args[5])
{
	struct gs_domain *d = ctx;
	struct hv_action_req act;
	long rc;

	rc = hypercall(d->gs->hv, d->domid, vcpu, op, args, &act);
	switch (act.action) {
	case HV_ACT_BLOCK:
	case HV_ACT_POLL:
		gs_wait(d, vcpu, &act);
		break;
	case HV_ACT_YIELD:
		gs_run_pumps(d->gs);
		break;
	case HV_ACT_SHUTDOWN:
		d->shutdown = true;
		break;
	default:
		break;
	}
	gs_deliver(d->gs);
	return rc;
}

static uint64_t gs_virt_to_gpa(void *ctx, const void *p)
{
	struct gs_domain *d = ctx;
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)d->ram;
	unsigned int i;

	if (a >= base && a < base + d->max_pages * GS_PAGE) {
		/* A RAM frame hidden by an overlay is not what the gpa names. */
		if (gs_overlay_find(d, (a - base) / GS_PAGE))
			return XEN_GUEST_BAD_GPA;
		return a - base;
	}
	for (i = 0; i < d->nr_overlays; i++) {
		uintptr_t page = (uintptr_t)d->overlays[i].page;

		if (a >= page && a < page + GS_PAGE)
			return d->overlays[i].gfn * GS_PAGE + (a - page);
	}
	return XEN_GUEST_BAD_GPA;
}

void *gs_gpa_to_virt(struct gs_domain *d, uint64_t gpa)
{
	struct gs_overlay *o = gs_overlay_find(d, gpa / GS_PAGE);

	if (o)
		return (uint8_t *)o->page + gpa % GS_PAGE;
	return gpa / GS_PAGE < d->max_pages ? d->ram + gpa : NULL;
}

static void *gs_platform_gpa_to_virt(void *ctx, uint64_t gpa)
{
	return gs_gpa_to_virt(ctx, gpa);
}

static unsigned int gs_current_vcpu(void *ctx)
{
	return ((struct gs_domain *)ctx)->current_vcpu;
}

static void *gs_bounce(void *ctx, unsigned int vcpu, size_t *ret_len)
{
	struct gs_domain *d = ctx;

	*ret_len = vcpu < HV_MAX_VCPUS && d->bounce[vcpu] ? GS_BOUNCE_PAGES * GS_PAGE : 0;
	return *ret_len ? d->bounce[vcpu] : NULL;
}

/* ---- domains --------------------------------------------------------- */

void *gs_alloc_pages(struct gs_domain *d, unsigned int n)
{
	uint64_t gfn = d->alloc_next;

	if (gfn + n > d->nr_pages - GS_BUILDER_FRAMES)
		return NULL;
	d->alloc_next += n;
	memset(d->ram + gfn * GS_PAGE, 0, n * GS_PAGE);
	return d->ram + gfn * GS_PAGE;
}

uint64_t gs_gfn(struct gs_domain *d, const void *p)
{
	return ((uintptr_t)p - (uintptr_t)d->ram) / GS_PAGE;
}

static int gs_slot_free(struct guestsim *gs)
{
	int i;

	for (i = 0; i < GS_MAX_DOMAINS; i++) {
		if (!gs->doms[i])
			return i;
	}
	return -ENOSPC;
}

static domid_t gs_lowest_free_domid(struct guestsim *gs)
{
	domid_t id = 0;

	while (gs_domain_lookup(gs, id))
		id++;
	return id;
}

static struct gs_domain *gs_domain_alloc(struct guestsim *gs, const struct hv_domain_config *cfg)
{
	struct gs_domain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->gs = gs;
	d->nr_vcpus = cfg->max_vcpus;
	d->nr_pages = cfg->nr_pages;
	d->max_pages = cfg->max_pages ? cfg->max_pages : cfg->nr_pages;
	d->ram = aligned_alloc(GS_PAGE, d->max_pages * GS_PAGE);
	if (!d->ram) {
		free(d);
		return NULL;
	}
	memset(d->ram, 0, d->max_pages * GS_PAGE);
	d->alloc_next = 1;
	d->platform = (struct xen_guest_platform){
		.hypercall = gs_hypercall,
		.virt_to_gpa = gs_virt_to_gpa,
		.gpa_to_virt = gs_platform_gpa_to_virt,
		.current_vcpu = gs_current_vcpu,
		.bounce = gs_bounce,
		.ctx = d,
	};
	return d;
}

static void gs_domain_free(struct gs_domain *d)
{
	if (!d)
		return;
	free(d->guest);
	free(d->ram);
	free(d);
}

static int gs_bounce_alloc(struct gs_domain *d)
{
	unsigned int v;

	for (v = 0; v < d->nr_vcpus; v++) {
		d->bounce[v] = gs_alloc_pages(d, GS_BOUNCE_PAGES);
		if (!d->bounce[v])
			return -ENOMEM;
	}
	return 0;
}

/* The slot is registered before domain_create: the core calls ram_page
 * and physmap_set for the new domid while building it. */
int gs_domain_create(struct guestsim *gs, const struct hv_domain_config *cfg,
		     struct gs_domain **ret)
{
	struct hv_domain_config c = *cfg;
	int slot = gs_slot_free(gs), rc;
	struct gs_domain *d;
	domid_t got;

	if (slot < 0)
		return slot;
	if (c.domid == DOMID_INVALID)
		c.domid = gs_lowest_free_domid(gs);
	if (gs_domain_lookup(gs, c.domid) || !c.max_vcpus || c.max_vcpus > HV_MAX_VCPUS)
		return -EINVAL;
	d = gs_domain_alloc(gs, &c);
	if (!d)
		return -ENOMEM;
	d->domid = c.domid;
	gs->doms[slot] = d;
	rc = domain_create(gs->hv, &c, &got, &d->layout);
	if (rc == 0)
		rc = gs_bounce_alloc(d);
	if (rc < 0) {
		struct hv_domain_info info;

		if (domain_getinfo(gs->hv, c.domid, &info) == 0)
			domain_destroy(gs->hv, c.domid);
		gs->doms[slot] = NULL;
		gs_domain_free(d);
		return rc;
	}
	*ret = d;
	return 0;
}

/* Upcalls on: each vCPU enables event delivery as a kernel enables
 * interrupts once it is ready for them. */
static void gs_enable_upcalls(struct gs_domain *d)
{
	struct xen_guest *prev = xen_guest_current();
	unsigned int prev_vcpu = prev ? xg_current_vcpu(prev) : 0, v;

	for (v = 0; v < d->guest->nr_vcpus; v++) {
		gs_enter(d, v);
		xg_irq_enable(d->guest);
	}
	d->current_vcpu = 0;
	xen_guest_enter(prev, prev_vcpu);
}

int gs_domain_boot(struct gs_domain *d)
{
	struct start_info *si = (void *)(d->ram + d->layout.start_info_gfn * GS_PAGE);
	struct xen_guest *g;
	int rc;

	if (d->guest)
		return -EBUSY;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	rc = xen_guest_init(g, si, &d->platform);
	if (rc < 0) {
		free(g);
		return rc;
	}
	d->guest = g;
	gs_enable_upcalls(d);
	gs_deliver(d->gs);
	return 0;
}

struct gs_domain *gs_boot(struct guestsim *gs, domid_t domid, bool privileged, unsigned int vcpus,
			  uint64_t nr_pages)
{
	struct hv_domain_config cfg;
	struct gs_domain *d;

	hv_domain_config_defaults(&cfg);
	cfg.domid = domid;
	cfg.privileged = privileged;
	cfg.max_vcpus = vcpus;
	cfg.nr_pages = nr_pages;
	if (gs_domain_create(gs, &cfg, &d) < 0)
		return NULL;
	if (gs_domain_boot(d) < 0) {
		gs_domain_destroy(d);
		return NULL;
	}
	return d;
}

void gs_enter(struct gs_domain *d, unsigned int vcpu)
{
	d->current_vcpu = vcpu;
	xen_guest_enter(d->guest, vcpu);
}

void gs_domain_destroy(struct gs_domain *d)
{
	struct guestsim *gs;
	unsigned int i;

	if (!d)
		return;
	gs = d->gs;
	domain_destroy(gs->hv, d->domid);
	for (i = 0; i < GS_MAX_DOMAINS; i++) {
		if (gs->doms[i] == d)
			gs->doms[i] = NULL;
	}
	if (d->guest && xen_guest_current() == d->guest)
		xen_guest_enter(NULL, 0);
	gs_domain_free(d);
	gs_deliver(gs); /* dom0 may have VIRQ_DOM_EXC now */
}

struct guestsim *gs_create(const struct hv_config *cfg)
{
	struct guestsim *gs = calloc(1, sizeof(*gs));
	struct hv_config def;

	if (!gs)
		return NULL;
	gs->ops = gs_ops;
	gs->now_ns = 1000000000ULL;
	gs->wc_sec = 1700000000ULL;
	gs->auto_advance = true;
	if (!cfg) {
		hv_config_defaults(&def);
		cfg = &def;
	}
	gs->hv = hv_create(&gs->ops, gs, cfg);
	if (!gs->hv) {
		free(gs);
		return NULL;
	}
	return gs;
}

/* The core tears every domain down first (it still calls back into the
 * substrate for them), then their memory goes. */
void gs_destroy(struct guestsim *gs)
{
	unsigned int i;

	if (!gs)
		return;
	hv_destroy(gs->hv);
	for (i = 0; i < GS_MAX_DOMAINS; i++) {
		if (gs->doms[i] && xen_guest_current() == gs->doms[i]->guest)
			xen_guest_enter(NULL, 0);
		gs_domain_free(gs->doms[i]);
	}
	free(gs);
}
