/*
 * Domains: the hypervisor object, domid allocation, creation as an ordered
 * init table, pause/shutdown/resume, and teardown.
 *
 * Creation runs domain_init_steps[] in order; if a step fails, the steps
 * that succeeded are undone in reverse, so a failed create leaves nothing
 * behind (no domid, no port in another domain, no page):
 *
 *   vcpus -> memory -> register -> shared_info -> evtchn -> gnttab
 *         -> reserve (ports in existing domains) -> bind (new domain's ports)
 *         -> builder (store/console pages and ports) -> start_info
 *
 * Explicit pre-bound ports go before the builder's store/console ports so
 * the builder takes the lowest ports left, never one a request named.
 *
 * Destruction is not the reverse of creation: a reservation made in another
 * domain belongs to that domain once created, and observers must see the
 * domain go in this order:
 *
 *   mark dying (lookups fail from here on)
 *   -> evtchn_domain_fini (peers see their ports revert to unbound)
 *   -> gnttab_domain_fini (mappings of and by the domain undone)
 *   -> shared_info and other overlays freed
 *   -> VIRQ_DOM_EXC to dom0
 *   -> substrate told HV_DOMAIN_DYING (it may then free the RAM)
 *   -> memory bookkeeping and the struct freed, domid free again
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/sched.h>
#include <xen/hvm/params.h>

#include "core.h"

void hv_log(struct hypervisor *hv, enum hv_log_level level, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	hv->ops->log(hv->sub, level, buf);
}

void hv_config_defaults(struct hv_config *cfg)
{
	*cfg = (struct hv_config){
		.max_domains = 1024,
		.max_evtchn_ports = EVTCHN_DEFAULT_MAX_PORTS,
		.max_grant_frames = GNTTAB_DEFAULT_MAX_FRAMES,
		.max_maptrack_frames = GNTTAB_DEFAULT_MAX_MAPTRACK_FRAMES,
	};
}

static bool hv_ops_complete(const struct substrate_ops *ops)
{
	return ops && ops->ram_page && ops->xen_page_alloc && ops->xen_page_free && ops->kick &&
	       ops->now_ns && ops->wallclock && ops->timer_arm && ops->log;
}

struct hypervisor *hv_create(const struct substrate_ops *ops, void *sub,
			     const struct hv_config *cfg)
{
	struct hypervisor *hv;

	if (!hv_ops_complete(ops))
		return NULL;
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return NULL;
	hv->ops = ops;
	hv->sub = sub;
	if (cfg)
		hv->cfg = *cfg;
	else
		hv_config_defaults(&hv->cfg);
	if (!hv->cfg.max_domains || hv->cfg.max_domains > DOMID_FIRST_RESERVED)
		hv->cfg.max_domains = DOMID_FIRST_RESERVED;
	hv->domains = calloc(DOMID_FIRST_RESERVED, sizeof(*hv->domains));
	if (!hv->domains) {
		free(hv);
		return NULL;
	}
	return hv;
}

void hv_destroy(struct hypervisor *hv)
{
	unsigned int id;

	if (!hv)
		return;
	/* Everyone but dom0 first, so dom0 sees the others go. */
	for (id = 1; id < DOMID_FIRST_RESERVED && hv->nr_domains; id++)
		if (hv->domains[id])
			domain_destroy(hv, (domid_t)id);
	if (hv->domains[0])
		domain_destroy(hv, 0);
	free(hv->domains);
	free(hv);
}

void hv_domain_config_defaults(struct hv_domain_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->domid = DOMID_INVALID;
	cfg->max_vcpus = 1;
	cfg->nr_pages = 256;
}

struct domain *domain_lookup(struct hypervisor *hv, domid_t domid)
{
	struct domain *d;

	if (domid >= DOMID_FIRST_RESERVED)
		return NULL;
	d = hv->domains[domid];
	return d && !d->is_dying ? d : NULL;
}

struct domain *domain_resolve(struct domain *caller, domid_t domid)
{
	if (domid == DOMID_SELF)
		return caller->is_dying ? NULL : caller;
	return domain_lookup(caller->hv, domid);
}

struct vcpu *domain_vcpu(struct domain *d, unsigned int vcpu)
{
	return d && vcpu < d->max_vcpus ? &d->vcpus[vcpu] : NULL;
}

static void domain_state_notify(struct domain *d, enum hv_domain_state state)
{
	struct hypervisor *hv = d->hv;

	if (hv->ops->domain_state)
		hv->ops->domain_state(hv->sub, d->domid, state);
}

void domain_notify_dom0(struct hypervisor *hv)
{
	struct domain *dom0 = domain_lookup(hv, 0);

	if (dom0)
		evtchn_send_global_virq(dom0, VIRQ_DOM_EXC);
}

/* ---- Creation ------------------------------------------------------- */

struct domain_build {
	struct hypervisor *hv;
	struct domain *d;
	const struct hv_domain_config *cfg;
	unsigned int nr_reserved, nr_bound; /* progress, for the unwind */
};

static int domain_vcpus_init(struct domain_build *b)
{
	struct domain *d = b->d;
	unsigned int i;

	d->vcpus = calloc(b->cfg->max_vcpus, sizeof(*d->vcpus));
	if (!d->vcpus)
		return -ENOMEM;
	d->max_vcpus = b->cfg->max_vcpus;
	for (i = 0; i < d->max_vcpus; i++) {
		d->vcpus[i].domain = d;
		d->vcpus[i].id = i;
		/* Secondary vCPUs start down, as in a PV guest at boot. */
		d->vcpus[i].up = i == 0;
	}
	return 0;
}

static void domain_vcpus_fini(struct domain_build *b)
{
	free(b->d->vcpus);
	b->d->vcpus = NULL;
}

static int domain_memory_init(struct domain_build *b)
{
	uint64_t max = b->cfg->max_pages ? b->cfg->max_pages : b->cfg->nr_pages;

	return memory_domain_init(b->d, b->cfg->nr_pages, max);
}

static void domain_memory_fini(struct domain_build *b)
{
	memory_domain_fini(b->d);
}

static int domain_register(struct domain_build *b)
{
	b->hv->domains[b->d->domid] = b->d;
	b->hv->nr_domains++;
	return 0;
}

static void domain_unregister(struct domain_build *b)
{
	b->hv->domains[b->d->domid] = NULL;
	b->hv->nr_domains--;
}

static int domain_shared_init(struct domain_build *b)
{
	return info_shared_init(b->d);
}

static void domain_shared_fini(struct domain_build *b)
{
	info_shared_fini(b->d);
}

static int domain_evtchn_init(struct domain_build *b)
{
	unsigned int n =
		b->cfg->max_evtchn_ports ? b->cfg->max_evtchn_ports : b->hv->cfg.max_evtchn_ports;

	return evtchn_domain_init(b->d, n);
}

static void domain_evtchn_fini(struct domain_build *b)
{
	evtchn_domain_fini(b->d);
}

static int domain_gnttab_init(struct domain_build *b)
{
	unsigned int n =
		b->cfg->max_grant_frames ? b->cfg->max_grant_frames : b->hv->cfg.max_grant_frames;

	return gnttab_domain_init(b->d, n, b->hv->cfg.max_maptrack_frames);
}

static void domain_gnttab_fini(struct domain_build *b)
{
	gnttab_domain_fini(b->d);
}

static void domain_reserve_fini(struct domain_build *b);
static void domain_bind_fini(struct domain_build *b);

/* Reserve ports for a future domid (seed 002) in existing domains or in the
 * new domain itself: the seed's dom0 reserves its own ports 121..126 for
 * dom1..dom6 when it is created. Like every step, it undoes its own partial
 * work when it fails. */
static int domain_reserve_init(struct domain_build *b)
{
	const struct hv_domain_config *cfg = b->cfg;
	int rc;

	for (b->nr_reserved = 0; b->nr_reserved < cfg->nr_reserve; b->nr_reserved++) {
		const struct hv_evtchn_reserve *r = &cfg->reserve[b->nr_reserved];
		struct domain *owner = domain_lookup(b->hv, r->domid);

		rc = -ESRCH;
		if (!owner)
			goto out_unreserve;
		rc = evtchn_reserve_port(owner, r->port, r->remote_domid);
		if (rc < 0)
			goto out_unreserve;
	}
	return 0;

out_unreserve:
	domain_reserve_fini(b);
	return rc;
}

static void domain_reserve_fini(struct domain_build *b)
{
	while (b->nr_reserved) {
		const struct hv_evtchn_reserve *r = &b->cfg->reserve[--b->nr_reserved];
		struct domain *owner = domain_lookup(b->hv, r->domid);

		if (owner)
			evtchn_close_port(owner, r->port);
	}
}

static int domain_bind_init(struct domain_build *b)
{
	const struct hv_domain_config *cfg = b->cfg;
	int rc;

	for (b->nr_bound = 0; b->nr_bound < cfg->nr_bind; b->nr_bound++) {
		const struct hv_evtchn_bind *bd = &cfg->bind[b->nr_bound];
		struct domain *rd = domain_lookup(b->hv, bd->remote_domid);

		rc = -ESRCH;
		if (rd)
			rc = evtchn_bind_port(b->d, bd->port, rd, bd->remote_port);
		if (rc < 0)
			goto out_unbind;
	}
	return 0;

out_unbind:
	domain_bind_fini(b);
	return rc;
}

/* Closing our end reverts the remote reservation to unbound-for-us, which
 * is how it was before this create (or the reserve step undoes it next). */
static void domain_bind_fini(struct domain_build *b)
{
	while (b->nr_bound)
		evtchn_close_port(b->d, b->cfg->bind[--b->nr_bound].port);
}

static int domain_builder_init(struct domain_build *b)
{
	struct domain *d = b->d;
	struct hv_domain_layout *l = &d->layout;
	uint64_t top = b->cfg->nr_pages;
	void *store, *console;
	int rc;

	l->start_info_gfn = top - 1;
	l->store_gfn = top - 2;
	l->console_gfn = top - 3;
	l->shared_info_gfn = d->shared_info_gfn;
	store = memory_map_gfn(d, l->store_gfn);
	console = memory_map_gfn(d, l->console_gfn);
	if (!store || !console)
		return -ENOMEM;
	memset(store, 0, XENON_PAGE_SIZE);
	memset(console, 0, XENON_PAGE_SIZE);
	rc = evtchn_alloc_unbound_port(d, 0, &l->store_evtchn);
	if (rc < 0)
		return rc;
	rc = evtchn_alloc_unbound_port(d, 0, &l->console_evtchn);
	if (rc < 0) {
		evtchn_close_port(d, l->store_evtchn);
		return rc;
	}
	/* What an HVM guest reads back with HVMOP_get_param. */
	d->hvm_params[HVM_PARAM_STORE_PFN] = l->store_gfn;
	d->hvm_params[HVM_PARAM_STORE_EVTCHN] = l->store_evtchn;
	d->hvm_params[HVM_PARAM_CONSOLE_PFN] = l->console_gfn;
	d->hvm_params[HVM_PARAM_CONSOLE_EVTCHN] = l->console_evtchn;
	return 0;
}

static void domain_builder_fini(struct domain_build *b)
{
	evtchn_close_port(b->d, b->d->layout.console_evtchn);
	evtchn_close_port(b->d, b->d->layout.store_evtchn);
}

static int domain_start_info_init(struct domain_build *b)
{
	return info_start_info_write(b->d, true);
}

static const struct domain_init_step {
	const char *what;
	int (*init)(struct domain_build *b);
	void (*fini)(struct domain_build *b);
} domain_init_steps[] = {
	{ "vcpus", domain_vcpus_init, domain_vcpus_fini },
	{ "memory", domain_memory_init, domain_memory_fini },
	{ "register", domain_register, domain_unregister },
	{ "shared_info", domain_shared_init, domain_shared_fini },
	{ "evtchn", domain_evtchn_init, domain_evtchn_fini },
	{ "gnttab", domain_gnttab_init, domain_gnttab_fini },
	{ "reserve", domain_reserve_init, domain_reserve_fini },
	{ "bind", domain_bind_init, domain_bind_fini },
	{ "builder", domain_builder_init, domain_builder_fini },
	{ "start_info", domain_start_info_init, NULL },
};

#define DOMAIN_NR_STEPS (sizeof(domain_init_steps) / sizeof(domain_init_steps[0]))

static int domain_run_steps(struct domain_build *b)
{
	unsigned int i;
	int rc;

	for (i = 0; i < DOMAIN_NR_STEPS; i++) {
		rc = domain_init_steps[i].init(b);
		if (rc < 0)
			break;
	}
	if (i == DOMAIN_NR_STEPS)
		return 0;
	hv_log(b->hv, HV_LOG_WARN, "d%u: create failed at %s: %d", b->d->domid,
	       domain_init_steps[i].what, rc);
	/* The failed step cleaned up after itself; undo the ones before it. */
	while (i--)
		if (domain_init_steps[i].fini)
			domain_init_steps[i].fini(b);
	return rc;
}

static int domain_config_check(const struct hv_domain_config *cfg)
{
	if (cfg->max_vcpus < 1 || cfg->max_vcpus > HV_MAX_VCPUS)
		return -EINVAL;
	if (cfg->nr_pages < HV_MIN_NR_PAGES || cfg->nr_pages > HV_MAX_NR_PAGES)
		return -EINVAL;
	if (cfg->max_pages && (cfg->max_pages < cfg->nr_pages || cfg->max_pages > HV_MAX_NR_PAGES))
		return -EINVAL;
	if (cfg->cmdline && strnlen(cfg->cmdline, HV_CMDLINE_MAX) >= HV_CMDLINE_MAX)
		return -EINVAL;
	if (cfg->nr_reserve > HV_MAX_PREBOUND || cfg->nr_bind > HV_MAX_PREBOUND)
		return -EINVAL;
	return 0;
}

static int domain_pick_domid(struct hypervisor *hv, domid_t want, domid_t *ret)
{
	unsigned int id;

	if (hv->nr_domains >= hv->cfg.max_domains) {
		if (!hv->domains_limit_logged)
			hv_log(hv, HV_LOG_WARN, "domain limit %u reached (%u live)",
			       hv->cfg.max_domains, hv->nr_domains);
		hv->domains_limit_logged = true;
		return -ENOSPC;
	}
	if (want != DOMID_INVALID) {
		if (want >= DOMID_FIRST_RESERVED)
			return -EINVAL;
		if (hv->domains[want])
			return -EEXIST;
		*ret = want;
		return 0;
	}
	for (id = 0; id < DOMID_FIRST_RESERVED; id++) {
		if (!hv->domains[id]) {
			*ret = (domid_t)id;
			return 0;
		}
	}
	return -ENOSPC;
}

static void domain_copy_config(struct domain *d, const struct hv_domain_config *cfg)
{
	d->privileged = cfg->privileged;
	d->shutdown_code = HV_SHUTDOWN_CODE_INVALID;
	if (cfg->cmdline)
		strncpy(d->cmdline, cfg->cmdline, sizeof(d->cmdline) - 1);
	d->mod_start = cfg->mod_start;
	d->mod_len = cfg->mod_len;
}

int domain_create(struct hypervisor *hv, const struct hv_domain_config *cfg, domid_t *ret_domid,
		  struct hv_domain_layout *ret_layout)
{
	struct domain_build b = { .hv = hv, .cfg = cfg };
	domid_t domid;
	int rc;

	rc = domain_config_check(cfg);
	if (rc < 0)
		return rc;
	rc = domain_pick_domid(hv, cfg->domid, &domid);
	if (rc < 0)
		return rc;
	b.d = calloc(1, sizeof(*b.d));
	if (!b.d)
		return -ENOMEM;
	b.d->hv = hv;
	b.d->domid = domid;
	domain_copy_config(b.d, cfg);
	rc = domain_run_steps(&b);
	if (rc < 0) {
		free(b.d);
		return rc;
	}
	if (ret_domid)
		*ret_domid = domid;
	if (ret_layout)
		*ret_layout = b.d->layout;
	domain_state_notify(b.d, HV_DOMAIN_RUNNING);
	return 0;
}

/* ---- Life cycle ----------------------------------------------------- */

static void domain_cancel_timers(struct domain *d)
{
	struct hypervisor *hv = d->hv;
	unsigned int i;

	for (i = 0; i < d->max_vcpus; i++) {
		struct vcpu *v = &d->vcpus[i];

		if (v->timer_armed)
			hv->ops->timer_arm(hv->sub, d->domid, v->id, 0);
		v->timer_armed = v->singleshot_deadline = v->periodic_period = 0;
	}
}

int domain_destroy(struct hypervisor *hv, domid_t domid)
{
	struct domain *d = domain_lookup(hv, domid);

	if (!d)
		return -ESRCH;
	d->is_dying = true;
	domain_cancel_timers(d);
	evtchn_domain_fini(d);
	gnttab_domain_fini(d);
	info_shared_fini(d);
	domain_notify_dom0(hv);
	domain_state_notify(d, HV_DOMAIN_DYING);
	hv->domains[domid] = NULL;
	hv->nr_domains--;
	memory_domain_fini(d);
	free(d->vcpus);
	free(d);
	return 0;
}

#define DOMAIN_MAX_PAUSE 0xffff

int domain_pause(struct hypervisor *hv, domid_t domid)
{
	struct domain *d = domain_lookup(hv, domid);

	if (!d)
		return -ESRCH;
	if (d->pause_count >= DOMAIN_MAX_PAUSE)
		return -EBUSY;
	if (d->pause_count++ == 0)
		domain_state_notify(d, HV_DOMAIN_PAUSED);
	return 0;
}

int domain_unpause(struct hypervisor *hv, domid_t domid)
{
	struct domain *d = domain_lookup(hv, domid);

	if (!d)
		return -ESRCH;
	if (d->pause_count == 0)
		return -EINVAL;
	if (--d->pause_count == 0)
		domain_state_notify(d, d->is_shutdown ? HV_DOMAIN_SHUTDOWN : HV_DOMAIN_RUNNING);
	return 0;
}

/*
 * As Xen: the first shutdown wins; a code set earlier with
 * SCHEDOP_shutdown_code replaces the reason given now. Shutting down an
 * already shut-down domain succeeds without changing anything.
 */
int domain_do_shutdown(struct domain *d, unsigned int reason)
{
	if (reason > SHUTDOWN_MAX)
		return -EINVAL;
	if (d->is_shutdown)
		return 0;
	if (d->shutdown_code == HV_SHUTDOWN_CODE_INVALID)
		d->shutdown_code = reason;
	d->is_shutdown = true;
	d->shutdown_reason = d->shutdown_code;
	hv_log(d->hv, HV_LOG_INFO, "d%u: shutdown, reason %u", d->domid, d->shutdown_reason);
	domain_state_notify(d, HV_DOMAIN_SHUTDOWN);
	domain_notify_dom0(d->hv);
	return 0;
}

int domain_shutdown(struct hypervisor *hv, domid_t domid, unsigned int reason)
{
	struct domain *d = domain_lookup(hv, domid);

	if (!d)
		return -ESRCH;
	return domain_do_shutdown(d, reason);
}

int domain_resume(struct hypervisor *hv, domid_t domid)
{
	struct domain *d = domain_lookup(hv, domid);
	int rc;

	if (!d)
		return -ESRCH;
	rc = info_start_info_write(d, false);
	if (rc < 0)
		return rc;
	d->is_shutdown = false;
	d->shutdown_reason = 0;
	d->shutdown_code = HV_SHUTDOWN_CODE_INVALID;
	domain_state_notify(d, d->pause_count ? HV_DOMAIN_PAUSED : HV_DOMAIN_RUNNING);
	return 0;
}

int domain_getinfo(struct hypervisor *hv, domid_t domid, struct hv_domain_info *ret)
{
	struct domain *d = domain_lookup(hv, domid);

	if (!d)
		return -ESRCH;
	*ret = (struct hv_domain_info){
		.domid = d->domid,
		.privileged = d->privileged,
		.paused = d->pause_count > 0,
		.shutdown = d->is_shutdown,
		.dying = d->is_dying,
		.shutdown_reason = d->shutdown_reason,
		.max_vcpus = d->max_vcpus,
		.tot_pages = d->tot_pages,
		.max_pages = d->max_pages,
		.nr_ports_used = evtchn_ports_used(d),
		.nr_grant_maps = gnttab_maps_held(d),
	};
	return 0;
}

int domain_next(struct hypervisor *hv, domid_t from, domid_t *ret_domid)
{
	unsigned int id;

	for (id = from; id < DOMID_FIRST_RESERVED; id++) {
		if (domain_lookup(hv, (domid_t)id)) {
			*ret_domid = (domid_t)id;
			return 0;
		}
	}
	return -ENOENT;
}

int hv_raise_virq(struct hypervisor *hv, domid_t domid, unsigned int vcpu, unsigned int virq)
{
	struct domain *d = domain_lookup(hv, domid);
	struct vcpu *v = domain_vcpu(d, vcpu);

	if (!d)
		return -ESRCH;
	if (virq >= NR_VIRQS)
		return -EINVAL;
	if (evtchn_virq_is_global(virq))
		return evtchn_send_global_virq(d, virq);
	return v ? evtchn_send_virq(v, virq) : -ENOENT;
}
