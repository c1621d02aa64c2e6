/*
 * xenon hypervisor core — the one public header.
 *
 * The core is pure logic: domains, vCPUs, guest memory bookkeeping,
 * start_info/shared_info, event channels, grant tables and the hypercall
 * dispatch table. It makes no system calls, starts no threads and has no
 * mutable globals. Everything it needs from the outside world comes through
 * struct substrate_ops, implemented by the process substrate (domains as
 * Linux processes), the KVM substrate (later) and the fake substrate that
 * drives the unit tests and fuzzers.
 *
 * Concurrency: the core is not thread-safe. A caller serialises every call
 * into one struct hypervisor (the daemon holds its lock around them). Guests
 * may read and write their shared pages concurrently; the core touches those
 * only with the atomics and barriers the Xen ABI prescribes.
 *
 * Guest addresses: hypercall arguments are guest addresses. The substrate's
 * translate() turns one into a guest frame number (identity for process
 * domains, where guest pointers are guest-physical; a page walk for KVM).
 */
#ifndef XENON_HYPERVISOR_H
#define XENON_HYPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>

#define XENON_PAGE_SHIFT 12
#define XENON_PAGE_SIZE (1UL << XENON_PAGE_SHIFT)

struct hypervisor;

enum hv_log_level { HV_LOG_ERR, HV_LOG_WARN, HV_LOG_INFO, HV_LOG_DEBUG };

/*
 * What the core asks of the world. `sub` is the substrate's own context.
 * Every callback is mandatory unless marked optional.
 */
struct substrate_ops {
	/* Host address of guest RAM frame gfn (< the domain's max_pages) of
	 * domain domid, or NULL if unreachable. The core has already checked
	 * that gfn is populated. The address stays valid until the domain is
	 * destroyed. */
	void *(*ram_page)(void *sub, domid_t domid, uint64_t gfn);

	/* A zeroed page owned by the hypervisor that can be shown to a guest
	 * (shared_info, grant-table frames). NULL on exhaustion. */
	void *(*xen_page_alloc)(void *sub, domid_t domid);
	void (*xen_page_free)(void *sub, domid_t domid, void *page);

	/* Show hypervisor page `page` to the guest at gfn, or restore the
	 * guest's own RAM (or a hole) there when page is NULL. readonly: the
	 * guest may only read it (a GNTMAP_readonly grant mapping); the
	 * substrate must make a write fault, not merely discourage it.
	 * Optional: the fake substrate records it; process and KVM
	 * substrates remap. */
	int (*physmap_set)(void *sub, domid_t domid, uint64_t gfn, void *page, bool readonly);

	/* Translate a guest address used in a hypercall on vCPU `vcpu` into a
	 * guest frame number. Optional: NULL means addresses are
	 * guest-physical (gfn = addr >> 12). Returns 0 or -EFAULT. */
	int (*translate)(void *sub, domid_t domid, unsigned int vcpu, uint64_t addr,
			 uint64_t *ret_gfn);

	/* vCPU's evtchn_upcall_pending went 0 -> 1: deliver the upcall (wake
	 * a blocked vCPU, inject an interrupt, signal a thread). */
	void (*kick)(void *sub, domid_t domid, unsigned int vcpu);

	/* Monotonic nanoseconds: Xen "system time". */
	uint64_t (*now_ns)(void *sub);
	/* Wall-clock time (UTC) now. */
	void (*wallclock)(void *sub, uint64_t *ret_sec, uint32_t *ret_nsec);

	/* Arm (deadline_ns = absolute system time) or cancel (0) vCPU's timer.
	 * On expiry the substrate calls hv_timer_fire(). */
	void (*timer_arm)(void *sub, domid_t domid, unsigned int vcpu, uint64_t deadline_ns);

	/* A domain changed run state (paused, unpaused, shut down, dying).
	 * Optional. */
	void (*domain_state)(void *sub, domid_t domid, int state);

	/* One log line, without newline. */
	void (*log)(void *sub, enum hv_log_level level, const char *msg);
};

/* domain_state() values. */
enum hv_domain_state {
	HV_DOMAIN_RUNNING,
	HV_DOMAIN_PAUSED,
	HV_DOMAIN_SHUTDOWN, /* the shutdown reason is in hv_domain_info */
	HV_DOMAIN_DYING,
};

struct hv_config {
	unsigned int max_domains;	  /* live domains at once; default 1024 */
	unsigned int max_evtchn_ports;	  /* per domain default: 1023 (Xen's max_event_channels) */
	unsigned int max_grant_frames;	  /* per domain default: 64 */
	unsigned int max_maptrack_frames; /* per domain default: 1024 */
};

void hv_config_defaults(struct hv_config *cfg);
struct hypervisor *hv_create(const struct substrate_ops *ops, void *sub,
			     const struct hv_config *cfg);
/* Destroys every domain, then the hypervisor. Accepts NULL. */
void hv_destroy(struct hypervisor *hv);

/*
 * Event channels prepared at domain creation (seed 002, generalised).
 *
 *  reserve: in the existing domain `domid`, make `port` an unbound port that
 *           accepts exactly `remote_domid` (usually the domain about to be
 *           created, e.g. dom0 ports 121..126 for dom1..dom6);
 *  bind:    in the new domain, bind `port` to <remote_domid, remote_port>,
 *           which must be unbound and accept the new domain; both ends
 *           become interdomain.
 *
 * A create request may carry both; it is all-or-nothing.
 */
struct hv_evtchn_reserve {
	domid_t domid;
	evtchn_port_t port;
	domid_t remote_domid;
};

struct hv_evtchn_bind {
	evtchn_port_t port;
	domid_t remote_domid;
	evtchn_port_t remote_port;
};

#define HV_MAX_PREBOUND 64
#define HV_MAX_VCPUS 32 /* XEN_LEGACY_MAX_VCPUS */
#define HV_CMDLINE_MAX MAX_GUEST_CMDLINE
/* RAM a domain needs at least: the builder puts start_info, the xenstore
 * page and the console page in its three top frames (see hv_domain_layout),
 * and the fake substrate uses gfns 8..15 as hypercall scratch space. */
#define HV_MIN_NR_PAGES 32
#define HV_MAX_NR_PAGES (1ULL << 22) /* 16 GiB per domain */

struct hv_domain_config {
	domid_t domid;		       /* DOMID_INVALID: allocate the lowest free */
	bool privileged;	       /* dom0: SIF_PRIVILEGED | SIF_INITDOMAIN */
	unsigned int max_vcpus;	       /* 1..HV_MAX_VCPUS */
	uint64_t nr_pages;	       /* RAM frames populated at creation */
	uint64_t max_pages;	       /* 0: = nr_pages */
	const char *cmdline;	       /* NULL or <= HV_CMDLINE_MAX - 1 bytes */
	uint64_t mod_start, mod_len;   /* initial module, guest-physical */
	unsigned int max_evtchn_ports; /* 0: the hypervisor default */
	unsigned int max_grant_frames; /* 0: the hypervisor default */
	unsigned int nr_reserve;
	struct hv_evtchn_reserve reserve[HV_MAX_PREBOUND];
	unsigned int nr_bind;
	struct hv_evtchn_bind bind[HV_MAX_PREBOUND];
};

/* Where the builder put things in the new domain (guest frame numbers):
 *
 *   gfn nr_pages-1  start_info          (RAM)
 *   gfn nr_pages-2  xenstore ring page  (RAM, zeroed)
 *   gfn nr_pages-3  console ring page   (RAM, zeroed)
 *   gfn max_pages   shared_info         (first gfn of the overlay window)
 */
struct hv_domain_layout {
	uint64_t start_info_gfn;
	uint64_t shared_info_gfn; /* initial placement; add_to_physmap may move it */
	uint64_t store_gfn, console_gfn;
	evtchn_port_t store_evtchn, console_evtchn; /* unbound, accepting dom0 */
};

void hv_domain_config_defaults(struct hv_domain_config *cfg);
int domain_create(struct hypervisor *hv, const struct hv_domain_config *cfg, domid_t *ret_domid,
		  struct hv_domain_layout *ret_layout);
/* Complete teardown: every port closed so peers see it, every grant mapping
 * of and by the domain undone, maptrack freed, VIRQ_DOM_EXC raised to dom0. */
int domain_destroy(struct hypervisor *hv, domid_t domid);
int domain_pause(struct hypervisor *hv, domid_t domid);
int domain_unpause(struct hypervisor *hv, domid_t domid);
/* As SCHEDOP_shutdown from outside (SHUTDOWN_poweroff, _reboot, ...). */
int domain_shutdown(struct hypervisor *hv, domid_t domid, unsigned int reason);
/* Rebuild start_info (resume): store/console fields rewritten. */
int domain_resume(struct hypervisor *hv, domid_t domid);

struct hv_domain_info {
	domid_t domid;
	bool privileged, paused, shutdown, dying;
	unsigned int shutdown_reason;
	unsigned int max_vcpus;
	uint64_t tot_pages, max_pages;
	unsigned int nr_ports_used;
	unsigned int nr_grant_maps; /* mappings this domain holds of others' grants */
};
int domain_getinfo(struct hypervisor *hv, domid_t domid, struct hv_domain_info *ret);
/* Iterate live domains: the first domid >= from, or -ENOENT. */
int domain_next(struct hypervisor *hv, domid_t from, domid_t *ret_domid);

/*
 * Issue hypercall `op` (__HYPERVISOR_*) with up to 5 arguments on behalf of
 * vCPU `vcpu` of domain `domid`. Returns the guest-visible result (>= 0 or a
 * negative Xen errno). Scheduling hypercalls cannot block inside the core:
 * they return and set *ret_action (may be NULL) for the substrate to carry
 * out (block the vCPU until an event, yield, poll with deadline).
 */
enum hv_action {
	HV_ACT_NONE,
	HV_ACT_YIELD,
	HV_ACT_BLOCK,	 /* sleep until evtchn_upcall_pending, or a deadline */
	HV_ACT_POLL,	 /* sleep until one of the polled ports is pending or deadline */
	HV_ACT_SHUTDOWN, /* the domain shut down; stop running it */
};
struct hv_action_req {
	enum hv_action action;
	uint64_t deadline_ns; /* 0: none */
};
long hypercall(struct hypervisor *hv, domid_t domid, unsigned int vcpu, unsigned long op,
	       const uint64_t args[5], struct hv_action_req *ret_action);

/*
 * For substrates that deliver events outside the core (the process
 * substrate's fast send path, procdom_proto.h (c)): port `port` of domain
 * `domid` as EVTCHNOP_status reads it, without the privilege check, and in
 * *ret_peer_settable whether a peer may set the port's event bits itself:
 * the domain uses the 2-level ABI and the port's notify vCPU still has its
 * legacy vcpu_info in shared_info (no VCPUOP_register_vcpu_info). -ESRCH:
 * no such domain; -EINVAL: beyond its ports.
 */
int hv_evtchn_port_info(struct hypervisor *hv, domid_t domid, evtchn_port_t port,
			struct evtchn_status *ret, bool *ret_peer_settable);

/*
 * Where vCPU `vcpu` of `domid` keeps its vcpu_info now -- the legacy slot
 * in shared_info, or where VCPUOP_register_vcpu_info put it -- for a
 * substrate that reads its upcall mask before interrupting it; NULL if
 * there is no such vCPU (or its vcpu_info is not mapped yet).
 */
const struct vcpu_info *hv_vcpu_info(struct hypervisor *hv, domid_t domid, unsigned int vcpu);

/* Whether VIRQ virq binds once per domain (on vCPU 0) rather than once per
 * vCPU, by the core's rule; false beyond NR_VIRQS. */
bool hv_virq_is_global(unsigned int virq);

/*
 * Introspection for the toolstack (`xenon graph`): the grant mappings domain
 * `mapper` holds, in handle order from `from_handle` on, at most `max`.
 * Returns how many were stored (fewer than max: the end), or -ESRCH.
 */
struct hv_grant_mapping {
	uint32_t handle;
	domid_t granter;
	grant_ref_t ref;
	uint64_t host_gfn; /* where a host mapping shows the page */
	bool readonly, host, device;
};
int hv_grant_mappings(struct hypervisor *hv, domid_t mapper, uint32_t from_handle,
		      struct hv_grant_mapping *out, unsigned int max);

/* How many times a pin on `granter`'s grant entries was dropped, ever (an
 * unmap, a mapper's death, a copy's end): a granter waiting to end access
 * to pinned entries needs to look again only when this moved. */
uint64_t hv_grant_unpins(struct hypervisor *hv, domid_t granter);

/* A vCPU timer armed through substrate_ops.timer_arm expired. */
void hv_timer_fire(struct hypervisor *hv, domid_t domid, unsigned int vcpu);

/* Raise a VIRQ: per-vCPU VIRQs go to `vcpu`; global ones to wherever the
 * domain bound them. No-op if unbound. */
int hv_raise_virq(struct hypervisor *hv, domid_t domid, unsigned int vcpu, unsigned int virq);

/* Refresh the wallclock of every domain's shared_info (wc_version protocol). */
void hv_update_wallclock(struct hypervisor *hv);

#endif
