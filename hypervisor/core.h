/*
 * Internal definitions shared by the core's modules. Nothing outside
 * hypervisor/ includes this; the public interface is hypervisor.h.
 *
 * Ownership picture of one domain:
 *
 *   struct hypervisor --- domains[domid] ---> struct domain
 *                                               |-- vcpus[max_vcpus]    (struct vcpu)
 *                                               |-- shared_info page    (xen page)
 *                                               |-- struct evtchn_domain (evtchn.h)
 *                                               |-- struct grant_table * (gnttab.h)
 *                                               `-- p2m: populated bitmap + overlays
 *
 * Guest frame space of a domain: [0, max_pages) is RAM (a frame may be
 * unpopulated after a grant transfer or ballooning); [max_pages, max_gfn) is
 * a window where hypervisor pages (shared_info, grant frames) can be shown
 * with XENMEM_add_to_physmap. An overlay may also cover a RAM frame, as in
 * Xen, and hides it until removed.
 */
#ifndef XENON_HYPERVISOR_CORE_H
#define XENON_HYPERVISOR_CORE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/vcpu.h>

#include "hypervisor.h"
#include "evtchn.h"
#include "gnttab.h"

#define HV_SPECIAL_GFNS 1024  /* size of the window above RAM for overlays */
#define HV_MAX_OVERLAYS 65536 /* overlays per domain (grant maps included) */
#define HV_SHUTDOWN_CODE_INVALID (~0u)

/* One hypervisor or foreign page shown in a guest's frame space: shared_info,
 * a grant-table frame, or a grant mapped with GNTMAP_host_map. */
struct overlay {
	uint64_t gfn;
	void *page;
	bool readonly;
};

struct vcpu {
	struct domain *domain;
	unsigned int id;
	bool up;
	/* Where this vCPU's vcpu_info lives: the legacy slot in shared_info
	 * until VCPUOP_register_vcpu_info moves it into a guest RAM frame. */
	struct vcpu_info *vcpu_info;
	bool vcpu_info_registered;
	uint64_t vcpu_info_gfn;
	uint32_t vcpu_info_offset;
	/* Timers: one-shot deadline and period, system time ns (0 = off). */
	uint64_t singleshot_deadline;
	uint64_t periodic_period, periodic_next;
	/* SCHEDOP_poll in progress: ports polled (bounded), or none. */
	unsigned int nr_poll;
	evtchn_port_t poll_ports[128];
	struct evtchn_vcpu evtchn; /* per-vCPU event-channel state */
	/* HVMOP_set_evtchn_upcall_vector (0: none). */
	uint8_t upcall_vector;
	/* Timer the substrate currently has armed (0 = none): the earlier of
	 * the one-shot deadline and the next periodic expiry. */
	uint64_t timer_armed;
};

struct domain {
	struct hypervisor *hv;
	domid_t domid;
	bool privileged;
	bool is_dying;
	unsigned int pause_count;
	bool is_shutdown;
	unsigned int shutdown_reason, shutdown_code;

	unsigned int max_vcpus;
	struct vcpu *vcpus;

	/* Memory. */
	uint64_t tot_pages, max_pages;
	uint64_t max_gfn;   /* max_pages + HV_SPECIAL_GFNS */
	uint8_t *populated; /* bitmap over [0, max_pages) */
	/* Overlays, sorted by gfn (memory.c); bounded by the grant and
	 * maptrack limits, so a guest cannot grow it without bound. */
	unsigned int nr_overlays, overlays_cap;
	struct overlay *overlays;
	bool overlays_limit_logged;

	/* Information pages. */
	struct shared_info *shared_info; /* a xen page */
	uint64_t shared_info_gfn;
	struct hv_domain_layout layout;
	char cmdline[HV_CMDLINE_MAX];
	uint64_t mod_start, mod_len;

	/* HVM params readable and settable by the guest (HVM_PARAM_*). */
	uint64_t hvm_params[64];
	/* CALLBACKOP_register: event and failsafe callback addresses. */
	uint64_t callback_event, callback_failsafe;

	struct evtchn_domain evtchn;
	struct grant_table *grant_table;
};

struct hypervisor {
	const struct substrate_ops *ops;
	void *sub;
	struct hv_config cfg;
	unsigned int nr_domains;
	bool domains_limit_logged; /* max_domains hit (logged once) */
	struct domain **domains;   /* indexed by domid, DOMID_FIRST_RESERVED slots */
};

/* Domains (domain.c). */
/* Shut d down for `reason` (SCHEDOP_shutdown): first reason or the code set
 * with SCHEDOP_shutdown_code wins; VIRQ_DOM_EXC goes to dom0. */
int domain_do_shutdown(struct domain *d, unsigned int reason);
/* Raise VIRQ_DOM_EXC in dom0, if dom0 exists and is alive. */
void domain_notify_dom0(struct hypervisor *hv);

/* Information pages (info.c). */
int info_shared_init(struct domain *d);
void info_shared_fini(struct domain *d);
/* Write start_info at d->layout.start_info_gfn: every field on boot, only
 * the fields Xen refills on resume otherwise. */
int info_start_info_write(struct domain *d, bool boot);
void info_update_wallclock(struct domain *d);
/* VCPUOP_register_vcpu_info. */
int info_register_vcpu_info(struct vcpu *v, uint64_t gfn, uint32_t offset);

/* Logging: printf-style, through substrate_ops.log. */
void hv_log(struct hypervisor *hv, enum hv_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Live domain by id (not dying), or NULL. */
struct domain *domain_lookup(struct hypervisor *hv, domid_t domid);
/* Resolve DOMID_SELF against the caller; NULL if no such domain. */
struct domain *domain_resolve(struct domain *caller, domid_t domid);
struct vcpu *domain_vcpu(struct domain *d, unsigned int vcpu);

/*
 * Guest memory (memory.c). Every access to a guest frame goes through here:
 * bounds, population and overlays are checked before the substrate is asked.
 */
int memory_domain_init(struct domain *d, uint64_t nr_pages, uint64_t max_pages);
void memory_domain_fini(struct domain *d);
void *memory_map_gfn(struct domain *d, uint64_t gfn);
bool memory_gfn_populated(struct domain *d, uint64_t gfn);
/* Populated RAM not hidden by an overlay. */
bool memory_gfn_is_ram(struct domain *d, uint64_t gfn);
/* The overlay at gfn, if any (-ENOENT). */
int memory_overlay_lookup(struct domain *d, uint64_t gfn, void **ret_page, bool *ret_readonly);
/* Show `page` at gfn (replacing any overlay there); gfn < d->max_gfn. */
int memory_overlay_add(struct domain *d, uint64_t gfn, void *page, bool readonly);
/* Remove the overlay at gfn; -ENOENT if none. */
int memory_overlay_remove(struct domain *d, uint64_t gfn);
/* Remove every overlay showing `page` (a page being freed). */
void memory_overlay_remove_page(struct domain *d, void *page);
/* Like memory_map_gfn, but NULL for a read-only overlay. */
void *memory_map_gfn_writable(struct domain *d, uint64_t gfn);
/* Ballooning and grant transfer: take a RAM frame away / give one back. */
int memory_depopulate(struct domain *d, uint64_t gfn);
int memory_populate_any(struct domain *d, uint64_t *ret_gfn);
/* Copy to/from guest addresses on behalf of vCPU v (-EFAULT on any bad
 * byte; partial copies are never reported as success). */
int copy_from_guest(struct vcpu *v, void *dst, uint64_t addr, size_t len);
int copy_to_guest(struct vcpu *v, uint64_t addr, const void *src, size_t len);

#endif
