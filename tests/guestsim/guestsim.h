/*
 * guestsim: guests linked with the guest library, run in-process against
 * the real hypervisor core, single-threaded.
 *
 *   test code ──> xg_* / Linux-named API (guest/)            one thread
 *                    │ platform->hypercall
 *                    ▼
 *   gs_hypercall ──> hypercall() (the real core) ──> substrate ops below
 *                    │ action: BLOCK/POLL -> gs_wait: run pumps, fire due
 *                    │ timers, advance the virtual clock, until woken
 *                    ▼
 *                 gs_deliver: every booted vCPU whose upcall_pending is set
 *                 and upcall_mask clear gets xen_evtchn_do_upcall(), as an
 *                 interrupt would (mask set during the call, restored after)
 *
 * The substrate: each domain's guest RAM is ONE contiguous allocation of
 * max_pages frames, so guest-physical address = pointer - ram. Hypervisor
 * pages (shared_info, grant frames) and grants mapped by the domain are
 * overlays recorded by physmap_set(); the platform's gpa_to_virt looks
 * there first, virt_to_gpa maps pointers into those pages back to their
 * gfn. (An overlay over a RAM frame is visible only through gpa_to_virt;
 * the RAM pointer for that frame is then reported as not guest memory.)
 *
 * Guest RAM layout: gfn 0 unused; gfns 1.. handed out by gs_alloc_pages()
 * (first the per-vCPU hypercall bounce buffers, then whatever a test asks
 * for); the builder's start_info, xenstore and console frames at the top.
 *
 * Delivery is synchronous: after every hypercall (of any domain) and after
 * the clock moves, every deliverable vCPU of every domain runs its upcall
 * with that guest and vCPU entered on the thread, then the previous one is
 * entered again. So dom1's notify_remote_via_evtchn() has run dom0's
 * handler by the time it returns.
 *
 * Waiting: SCHEDOP_block/poll return when the vCPU was kicked (any upcall
 * edge or a polled port), its deadline passed, or nothing can make progress
 * (a stall: counted in gs->stalls, logged). While waiting, the harness runs
 * the registered pumps (the "other side": a back end, xenstored), fires due
 * timers, and, with auto_advance (default), jumps the virtual clock to the
 * next timer or deadline when nothing else can happen.
 */
#ifndef XENON_GUESTSIM_H
#define XENON_GUESTSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen_guest.h" /* before hypervisor.h: it needs evtchn_port_t */
#include "hypervisor.h"

#define GS_MAX_DOMAINS 16
#define GS_MAX_PUMPS 16
#define GS_MAX_OVERLAYS 2048
#define GS_BOUNCE_PAGES 2 /* per vCPU */
#define GS_MAX_DELIVER_DEPTH 8
#define GS_MAX_DELIVER_PASSES 100000

struct guestsim;

struct gs_overlay {
	uint64_t gfn;
	void *page;
};

struct gs_domain {
	struct guestsim *gs;
	domid_t domid;
	unsigned int nr_vcpus;
	uint64_t nr_pages, max_pages;
	uint8_t *ram; /* max_pages frames */
	struct hv_domain_layout layout;
	struct xen_guest_platform platform;
	struct xen_guest *guest; /* NULL until gs_domain_boot() */
	unsigned int current_vcpu;
	uint64_t alloc_next; /* next gfn gs_alloc_pages hands out */
	uint8_t *bounce[HV_MAX_VCPUS];
	uint64_t timer_deadline[HV_MAX_VCPUS]; /* armed by the core, 0 = off */
	bool kicked[HV_MAX_VCPUS];
	unsigned long nr_kicks[HV_MAX_VCPUS];
	bool shutdown;
	unsigned int nr_overlays;
	struct gs_overlay overlays[GS_MAX_OVERLAYS];
};

struct gs_pump {
	/* Do pending work for the other side; > 0 if anything happened. */
	int (*fn)(void *arg);
	void *arg;
};

struct guestsim {
	struct hypervisor *hv;
	struct substrate_ops ops;
	uint64_t now_ns;
	uint64_t wc_sec;
	uint32_t wc_nsec;
	bool auto_advance;
	struct gs_domain *doms[GS_MAX_DOMAINS];
	unsigned int nr_pumps;
	struct gs_pump pumps[GS_MAX_PUMPS];
	bool pumping;
	unsigned int deliver_depth;
	long xen_pages_live;
	/* Statistics a test can assert on. */
	unsigned long stalls, nr_delivered, nr_log_warn;
};

/* A hypervisor (cfg NULL: defaults) over the guestsim substrate. */
struct guestsim *gs_create(const struct hv_config *cfg);
/* Destroys every domain and the hypervisor (accepts NULL). */
void gs_destroy(struct guestsim *gs);

/* Create a domain in the core (cfg->domid DOMID_INVALID: lowest free) with
 * its RAM and bounce buffers; not booted. 0 or -errno. */
int gs_domain_create(struct guestsim *gs, const struct hv_domain_config *cfg,
		     struct gs_domain **ret);
/* Boot the guest library on it (xen_guest_init on its start_info) and
 * enable upcalls on every vCPU. 0 or -errno. */
int gs_domain_boot(struct gs_domain *d);
/* Convenience: create + boot with defaults; NULL on failure. */
struct gs_domain *gs_boot(struct guestsim *gs, domid_t domid, bool privileged, unsigned int vcpus,
			  uint64_t nr_pages);
/* domain_destroy in the core, then free the domain's memory. */
void gs_domain_destroy(struct gs_domain *d);
struct gs_domain *gs_domain_lookup(struct guestsim *gs, domid_t domid);

/* Run as (d's guest, vCPU vcpu) on this thread (xen_guest_enter). */
void gs_enter(struct gs_domain *d, unsigned int vcpu);

/* n zeroed pages of d's guest RAM (NULL when exhausted), and their gfn. */
void *gs_alloc_pages(struct gs_domain *d, unsigned int n);
uint64_t gs_gfn(struct gs_domain *d, const void *p);
/* d's view of guest-physical gpa (overlays first), or NULL. */
void *gs_gpa_to_virt(struct gs_domain *d, uint64_t gpa);

/* The virtual clock: set/advance, refresh vcpu time, fire due timers,
 * deliver. */
void gs_clock_set(struct guestsim *gs, uint64_t now_ns);
void gs_clock_advance(struct guestsim *gs, uint64_t delta_ns);

int gs_add_pump(struct guestsim *gs, int (*fn)(void *arg), void *arg);
void gs_remove_pump(struct guestsim *gs, int (*fn)(void *arg), void *arg);

/* Deliver every pending, unmasked upcall (normally automatic). */
void gs_deliver(struct guestsim *gs);

#endif
