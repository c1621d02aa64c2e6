/*
 * Domains in xenon-hvd: each one is a domain in the core plus a procdom
 * domain (memfds, process, hypercall sockets), created and torn down
 * together.
 *
 * Create (paused):  domid chosen -> procdom_domain_prepare (memory first:
 *   the core builds the domain in it) -> domain_create -> domain_pause ->
 *   spawn (if a program was named) -> fds into the loop.
 * Destroy:  kill the process group and reap -> fds out of the loop ->
 *   domain_destroy in the core (peers see their ports close, grants
 *   reclaimed, VIRQ_DOM_EXC to dom0) -> procdom_domain_release (sockets
 *   closed, memory unmapped).
 * Crash: the pidfd turns readable (or a hypercall socket hangs up) while the
 *   domain is live: marked dead and destroyed at the end of the iteration.
 * Shutdown (SCHEDOP_shutdown from the guest, or SHUTDOWN from dom0): the core
 *   records the reason and tells dom0 (VIRQ_DOM_EXC); xenon-hvd logs it and
 *   destroys the domain at the end of the iteration. xenon-hvd does not know
 *   on_poweroff/on_reboot: a toolstack wanting a restart creates it again.
 *
 * Nothing here costs more with more domains: the ids in use are a
 * domid_set beside doms[] (the lowest free id, the next one for LIST; the
 * core's own searches are linear scans, so xenon-hvd gives the core an
 * explicit domid and never asks it for the next one: domid_set.h has the
 * figures), and domains awaiting teardown are on h->reap_list, not found
 * by a scan.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <xen/sched.h>

#include "hvd.h"

/* hd is torn down at the end of this loop iteration (hvd_domains_reap). */
static void hvd_domain_queue_reap(struct hvd_domain *hd)
{
	struct hvd *h = hd->h;

	h->have_deferred = true;
	if (hd->reap_queued)
		return;
	hd->reap_queued = true;
	hd->reap_next = h->reap_list;
	h->reap_list = hd;
}

static void hvd_domain_unqueue_reap(struct hvd_domain *hd)
{
	struct hvd_domain **pp;

	for (pp = &hd->h->reap_list; hd->reap_queued && *pp; pp = &(*pp)->reap_next) {
		if (*pp == hd) {
			*pp = hd->reap_next;
			break;
		}
	}
	hd->reap_queued = false;
	hd->reap_next = NULL;
}

static void hvd_domain_state(void *ctx, domid_t domid, int state)
{
	struct hvd *h = ctx;
	struct hvd_domain *hd = hvd_domain_get(h, domid);

	if (hd && domid != 0 && state == HV_DOMAIN_SHUTDOWN) {
		hd->shutdown_pending = true;
		hvd_domain_queue_reap(hd);
	}
}

static void hvd_procdom_log(void *ctx, enum hv_log_level level, const char *msg)
{
	hvd_log(ctx, level, "%s", msg);
}

static void hvd_domain_spawned(void *ctx, domid_t domid, int err);

const struct procdom_hooks hvd_procdom_hooks_template = {
	.local_kick = hvd_dom0_local_kick,
	.domain_state = hvd_domain_state,
	.log = hvd_procdom_log,
	.local_physmap = hvd_dom0_physmap,
	.spawned = hvd_domain_spawned,
	.known_children = hvd_svcs_known_children,
};

struct hvd_domain *hvd_domain_get(struct hvd *h, domid_t domid)
{
	return domid < DOMID_FIRST_RESERVED ? h->doms[domid] : NULL;
}

static struct hvd_domain *hvd_domain_new(struct hvd *h, domid_t domid, struct procdom_domain *pdom)
{
	struct hvd_domain *hd = calloc(1, sizeof(*hd));

	if (!hd)
		return NULL;
	hd->h = h;
	hd->domid = domid;
	hd->pdom = pdom;
	hd->born = ++h->born_seq;
	hd->born_prev = h->born_last;
	if (h->born_last)
		h->born_last->born_next = hd;
	h->born_last = hd;
	h->doms[domid] = hd;
	domid_set_add(&h->domids, domid);
	return hd;
}

/* hd leaves doms[] and is freed. */
static void hvd_domain_free(struct hvd_domain *hd)
{
	struct hvd *h = hd->h;

	hvd_domain_unqueue_reap(hd);
	if (hd->born_prev)
		hd->born_prev->born_next = hd->born_next;
	if (hd->born_next)
		hd->born_next->born_prev = hd->born_prev;
	else
		h->born_last = hd->born_prev;
	h->doms[hd->domid] = NULL;
	domid_set_del(&h->domids, hd->domid);
	free(hd);
}

int hvd_domain_next(struct hvd *h, unsigned int from, domid_t *ret_domid)
{
	return domid_set_next_used(&h->domids, from, ret_domid);
}

/* From the newest back: as many steps as there are domains newer than the
 * cursor, whatever the number of domains. */
struct hvd_domain *hvd_domain_born_after(struct hvd *h, uint64_t cursor)
{
	struct hvd_domain *hd = h->born_last, *first = NULL;

	for (; hd && hd->born > cursor; hd = hd->born_prev)
		first = hd;
	return first;
}

int hvd_dom0_create(struct hvd *h)
{
	struct procdom_domain_spec spec = { .domid = 0,
					    .max_vcpus = 1,
					    .max_pages = HVD_DOM0_MAX_PAGES,
					    .xen_pages = HVD_DOM0_GNT_FRAMES + 8,
					    .local = true };
	struct hv_domain_config cfg;
	struct procdom_domain *pdom;
	int err;

	err = procdom_domain_prepare(h->pd, &spec, &pdom);
	if (err)
		return err;
	hv_domain_config_defaults(&cfg);
	cfg.domid = 0;
	cfg.privileged = true;
	cfg.nr_pages = HVD_DOM0_PAGES;
	cfg.max_pages = HVD_DOM0_MAX_PAGES; /* above RAM: the grant map window */
	cfg.nr_reserve = h->opt.nr_reserve;
	memcpy(cfg.reserve, h->opt.reserve, sizeof(cfg.reserve));
	err = domain_create(h->hv, &cfg, NULL, NULL);
	if (!err)
		err = procdom_domain_check_built(pdom);
	if (!err && !hvd_domain_new(h, 0, pdom))
		err = -ENOMEM;
	if (err) {
		domain_destroy(h->hv, 0);
		procdom_domain_release(pdom);
	}
	return err;
}

/* ---- create ----------------------------------------------------------- */

static void hvd_config_from_req(struct hv_domain_config *cfg, const struct procdom_ctl_create *r,
				domid_t domid)
{
	unsigned int i;

	hv_domain_config_defaults(cfg);
	cfg->domid = domid;
	cfg->max_vcpus = r->max_vcpus;
	cfg->nr_pages = r->nr_pages;
	cfg->max_pages = r->max_pages;
	cfg->cmdline = r->cmdline;
	cfg->mod_start = r->mod_start;
	cfg->mod_len = r->mod_len;
	cfg->max_evtchn_ports = r->max_evtchn_ports;
	cfg->max_grant_frames = r->max_grant_frames;
	cfg->nr_reserve = r->nr_reserve;
	for (i = 0; i < r->nr_reserve; i++)
		cfg->reserve[i] = (struct hv_evtchn_reserve){ (domid_t)r->reserve[i].domid,
							      r->reserve[i].port,
							      (domid_t)r->reserve[i].remote_domid };
	cfg->nr_bind = r->nr_bind;
	for (i = 0; i < r->nr_bind; i++)
		cfg->bind[i] =
			(struct hv_evtchn_bind){ r->bind[i].port, (domid_t)r->bind[i].remote_domid,
						 r->bind[i].remote_port };
}

static int hvd_pick_domid(struct hvd *h, uint32_t want, domid_t *ret)
{
	if (want == DOMID_INVALID)
		return domid_set_next_free(&h->domids, 1, ret);
	if (want == 0 || want >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (h->doms[want])
		return -EEXIST;
	*ret = (domid_t)want;
	return 0;
}

/* The pidfd into the loop, once the program has started. */
static int hvd_domain_watch_pid(struct hvd_domain *hd)
{
	int err;

	if (hd->pid_watched || procdom_domain_pidfd(hd->pdom) < 0)
		return 0;
	hd->pid_src = (struct hvd_source){ HVD_SRC_PIDFD, hd, 0 };
	err = hvd_watch_fd(hd->h, procdom_domain_pidfd(hd->pdom), &hd->pid_src);
	hd->pid_watched = !err;
	return err;
}

static void hvd_domain_unwatch_hc(struct hvd_domain *hd)
{
	unsigned int i, n = procdom_domain_vcpus(hd->pdom);
	int fd;

	for (i = 0; i < n; i++)
		if ((fd = procdom_domain_hc_fd(hd->pdom, i)) >= 0)
			hvd_unwatch_fd(hd->h, fd);
}

/* Put the process's fds into the loop: the hypercall sockets now (ours
 * exist before the program runs), the pidfd once it started. */
static int hvd_domain_watch(struct hvd_domain *hd)
{
	unsigned int i, n = procdom_domain_vcpus(hd->pdom);
	int err = 0;

	hd->watched = true;
	for (i = 0; !err && i < n; i++) {
		hd->hc_src[i] = (struct hvd_source){ HVD_SRC_HC, hd, i };
		err = hvd_watch_fd(hd->h, procdom_domain_hc_fd(hd->pdom, i), &hd->hc_src[i]);
	}
	return err ? err : hvd_domain_watch_pid(hd);
}

static void hvd_domain_unwatch(struct hvd_domain *hd)
{
	/* Once: death and then the teardown both come here. */
	if (!hd->watched)
		return;
	hd->watched = false;
	if (hd->pid_watched)
		hvd_unwatch_fd(hd->h, procdom_domain_pidfd(hd->pdom));
	hd->pid_watched = false;
	hvd_domain_unwatch_hc(hd);
}

/*
 * hooks.spawned: a program started in the background (CREATE with
 * PROCDOM_CTL_CREATE_BACKGROUND) started, or did not. Then the domain stays
 * paused without a process: its UNPAUSE fails with the reason and the
 * toolstack destroys it. A domain already being torn down is not watched.
 */
static void hvd_domain_spawned(void *ctx, domid_t domid, int err)
{
	struct hvd_domain *hd = hvd_domain_get(ctx, domid);

	if (!hd || !hd->watched || hd->dead)
		return;
	if (err) {
		hvd_log(hd->h, HV_LOG_WARN, "d%u: create failed: %s (no process; UNPAUSE says so)",
			domid, strerror(-err));
		hvd_domain_unwatch_hc(hd);
	} else if ((err = hvd_domain_watch_pid(hd)) < 0) {
		/* Its death still shows: its sockets hang up. */
		hvd_log(hd->h, HV_LOG_ERR, "d%u: pidfd not watched: %s", domid, strerror(-err));
	}
}

/* The spawner's socket in the loop, once per spawner: a new one is made
 * only inside procdom_domain_spawn (a lost one's socket left the set when
 * it was closed). */
void hvd_spawner_watch(struct hvd *h)
{
	unsigned int gen = procdom_spawner_generation(h->pd);
	int fd = procdom_spawner_fd(h->pd), err;

	if (fd < 0 || gen == h->spawner_gen_watched)
		return;
	h->spawner_src = (struct hvd_source){ HVD_SRC_SPAWNER, h, 0 };
	err = hvd_watch_fd(h, fd, &h->spawner_src);
	if (err)
		hvd_log(h, HV_LOG_ERR, "spawner socket: %s (answers taken only when awaited)",
			strerror(-err));
	h->spawner_gen_watched = gen;
}

void hvd_spawner_event(struct hvd *h)
{
	procdom_spawns_collect(h->pd);
}

/* The log of domain domid: D/domain-<domid>.log. */
static void hvd_domain_log_path(struct hvd *h, domid_t domid, char *buf, size_t size)
{
	snprintf(buf, size, "%s/domain-%u.log", h->opt.run_dir, domid);
}

/*
 * The next domain without an explicit domid gets the lowest free one: its
 * log is created ahead of time by the spawner (file creation is the
 * costliest part of a spawn on some file systems), so an empty log for a
 * domain not yet created may exist.
 */
static int hvd_domain_start_process(struct hvd_domain *hd, char *const argv[], uint64_t si_gfn,
				    bool background)
{
	char log_path[4200], next_path[4200] = "";
	domid_t next;
	int err;

	hvd_domain_log_path(hd->h, hd->domid, log_path, sizeof(log_path));
	if (domid_set_next_free(&hd->h->domids, 1, &next) == 0)
		hvd_domain_log_path(hd->h, next, next_path, sizeof(next_path));
	err = procdom_domain_spawn(hd->pdom, argv, log_path, next_path, si_gfn);
	hvd_spawner_watch(hd->h);
	/* Not watched yet: an answer taken now reaches no hook of ours. */
	if (!err && !background)
		err = procdom_domain_spawn_wait(hd->pdom);
	if (!err)
		err = hvd_domain_watch(hd);
	return err;
}

int hvd_domain_create(struct hvd *h, const struct procdom_ctl_create *req, char *const argv[],
		      domid_t *ret_domid, struct procdom_ctl_created *ret)
{
	struct procdom_domain_spec spec = { .max_vcpus = req->max_vcpus };
	struct hv_domain_layout layout;
	struct hv_domain_config cfg;
	struct procdom_domain *pdom;
	struct hvd_domain *hd;
	domid_t domid;
	int err;

	err = hvd_pick_domid(h, req->domid, &domid);
	if (err)
		return err;
	spec.domid = domid;
	spec.max_pages = req->max_pages ? req->max_pages : req->nr_pages;
	spec.xen_pages = (req->max_grant_frames ? req->max_grant_frames : 64) + 8;
	err = procdom_domain_prepare(h->pd, &spec, &pdom);
	if (err)
		return err;
	hvd_config_from_req(&cfg, req, domid);
	err = domain_create(h->hv, &cfg, NULL, &layout);
	if (err) {
		procdom_domain_release(pdom);
		return err;
	}
	err = procdom_domain_check_built(pdom);
	if (!err)
		err = domain_pause(h->hv, domid);
	hd = err ? NULL : hvd_domain_new(h, domid, pdom);
	if (!err && !hd)
		err = -ENOMEM;
	if (!err && argv[0] && argv[0][0])
		err = hvd_domain_start_process(hd, argv, layout.start_info_gfn,
					       req->flags & PROCDOM_CTL_CREATE_BACKGROUND);
	if (err) {
		hvd_log(h, HV_LOG_WARN, "d%u: create failed: %s", domid, strerror(-err));
		if (hd)
			hvd_domain_unwatch(hd);
		procdom_domain_kill(pdom);
		domain_destroy(h->hv, domid);
		procdom_domain_release(pdom);
		if (hd)
			hvd_domain_free(hd);
		return err;
	}
	/* Pre-bound channels: the send tables of the new domain and its peers
	 * (its own arrives with the PROCDOM_HC_BOOT reply). */
	procdom_evtchn_changed(h->pd, domid);
	*ret_domid = domid;
	*ret = (struct procdom_ctl_created){
		.start_info_gfn = layout.start_info_gfn,
		.shared_info_gfn = layout.shared_info_gfn,
		.store_gfn = layout.store_gfn,
		.console_gfn = layout.console_gfn,
		.store_evtchn = layout.store_evtchn,
		.console_evtchn = layout.console_evtchn,
		.pid = procdom_domain_pid(pdom),
	};
	if (procdom_domain_spawn_result(pdom) == -EINPROGRESS)
		hvd_log(h, HV_LOG_INFO,
			"d%u: created (%u vCPUs, %llu pages, program starting), paused", domid,
			req->max_vcpus, (unsigned long long)req->nr_pages);
	else
		hvd_log(h, HV_LOG_INFO, "d%u: created (%u vCPUs, %llu pages, pid %d), paused",
			domid, req->max_vcpus, (unsigned long long)req->nr_pages, (int)ret->pid);
	return 0;
}

/* ---- life cycle ------------------------------------------------------- */

static void hvd_domain_teardown(struct hvd_domain *hd)
{
	struct hvd *h = hd->h;
	domid_t domid = hd->domid;

	hvd_domain_unwatch(hd);
	procdom_domain_kill(hd->pdom);
	domain_destroy(h->hv, domid);
	procdom_domain_release(hd->pdom);
	hvd_domain_free(hd);
	hvd_log(h, HV_LOG_INFO, "d%u: destroyed", domid);
}

/* The process dies now; the rest at the end of the loop iteration, since
 * events of this batch may still point at hd (they see hd->dead). */
int hvd_domain_destroy(struct hvd *h, domid_t domid)
{
	struct hvd_domain *hd = hvd_domain_get(h, domid);

	if (domid == 0)
		return -EPERM;
	if (!hd || hd->dead)
		return -ESRCH;
	hd->dead = true;
	hvd_domain_queue_reap(hd);
	hvd_domain_unwatch(hd);
	procdom_domain_kill(hd->pdom);
	return 0;
}

int hvd_domain_pause(struct hvd *h, domid_t domid, bool pause)
{
	struct hvd_domain *hd = hvd_domain_get(h, domid);
	struct hv_domain_info info;
	int err;

	if (domid == 0)
		return -EPERM;
	if (!hd)
		return -ESRCH;
	/* A program started in the background: running it needs it started. */
	if (!pause && (err = procdom_domain_spawn_wait(hd->pdom)) < 0)
		return err;
	err = pause ? domain_pause(h->hv, domid) : domain_unpause(h->hv, domid);
	if (err)
		return err;
	err = domain_getinfo(h->hv, domid, &info);
	if (err)
		return err;
	if (!info.paused)
		procdom_domain_start(hd->pdom);
	return procdom_domain_stop(hd->pdom, info.paused);
}

int hvd_domain_shutdown(struct hvd *h, domid_t domid, unsigned int reason)
{
	if (domid == 0)
		return -EPERM;
	if (!hvd_domain_get(h, domid))
		return -ESRCH;
	if (reason > SHUTDOWN_MAX)
		return -EINVAL;
	return domain_shutdown(h->hv, domid, reason);
}

void hvd_domain_hc_ready(struct hvd_domain *hd, unsigned int vcpu)
{
	int err;

	if (hd->dead)
		return;
	err = procdom_domain_serve(hd->pdom, vcpu);
	/* A program that never started (its exec failed) hangs up too: that
	 * domain stays (hvd_domain_spawned), it did not die. */
	if (err == -EPIPE && procdom_domain_spawn_wait(hd->pdom) == 0)
		hvd_domain_died(hd);
}

void hvd_domain_died(struct hvd_domain *hd)
{
	struct hvd *h = hd->h;
	int status;

	if (hd->dead)
		return;
	hd->dead = true;
	hvd_domain_queue_reap(hd);
	/* Stop polling now: a hung-up socket or exited pidfd stays readable. */
	hvd_domain_unwatch(hd);
	status = procdom_domain_reap(hd->pdom);
	if (hd->shutdown_pending)
		return;
	hvd_log(h, HV_LOG_WARN, "d%u: process died (wait status %#x): destroying", hd->domid,
		status);
}

/* A teardown may queue others (a peer's shutdown): they are taken too. */
void hvd_domains_reap(struct hvd *h)
{
	struct hvd_domain *hd;

	if (!h->have_deferred)
		return;
	h->have_deferred = false;
	while ((hd = h->reap_list)) {
		struct hv_domain_info info;

		hvd_domain_unqueue_reap(hd);
		if (hd->shutdown_pending && domain_getinfo(h->hv, hd->domid, &info) == 0)
			hvd_log(h, HV_LOG_INFO, "d%u: shut down, reason %u", hd->domid,
				info.shutdown_reason);
		hvd_domain_teardown(hd);
	}
}

void hvd_domains_destroy_domus(struct hvd *h)
{
	domid_t id;

	while (hvd_domain_next(h, 1, &id) == 0)
		hvd_domain_teardown(h->doms[id]);
}

void hvd_domains_destroy_all(struct hvd *h)
{
	hvd_domains_destroy_domus(h);
	if (h->doms[0]) {
		domain_destroy(h->hv, 0);
		procdom_domain_release(h->doms[0]->pdom);
		hvd_domain_free(h->doms[0]);
	}
}
