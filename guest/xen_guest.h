/*
 * xenon guest library — the one public header.
 *
 * What a guest kernel (a process domain's program, later a KVM guest) links
 * to talk Xen: hypercall wrappers, event channels with the Linux-style
 * handler API and the seed-002 fair upcall scan, timers, scheduling ops,
 * grant tables, the xenbus client over the XenStore ring, and the console.
 *
 * Freestanding-clean: no malloc, no stdio, no threads API; only
 * <stdint.h>/<stdbool.h>/<stddef.h>, the Xen ABI headers and compiler
 * builtins. Storage is embedded in struct xen_guest, which the caller owns.
 * It builds hosted for process domains and tests, freestanding for KVM.
 *
 * Context: the seed/Linux names (bind_evtchn_to_irqhandler(),
 * notify_remote_via_evtchn(), ...) take no context argument, as in a kernel
 * where there is one. They act on the calling vCPU thread's current guest
 * (xen_guest_current(), set by xen_guest_enter()), so one test process can
 * still hold several guests. Every such function also has an explicit-context
 * form taking struct xen_guest * first (xg_*); the Linux names are inline
 * one-liners over those at the end of this header.
 *
 * The platform: how hypercalls reach the hypervisor and how guest pointers
 * become guest-physical addresses differs per substrate, so it comes in as
 * struct xen_guest_platform. A hypercall that blocks (SCHEDOP_block/poll)
 * returns only when the platform has waited as asked; the platform calls
 * xen_evtchn_do_upcall() on the vCPU when evtchn_upcall_pending is seen set
 * and evtchn_upcall_mask clear, with the mask set for the duration of the
 * call and restored after it (what Xen's PV event callback entry and iret
 * do), so handlers run with events disabled unless they re-enable them.
 *
 * Hypercall arguments: the hypervisor reads arguments at guest-physical
 * addresses. A guest kernel's memory is all guest memory; a hosted program's
 * stack is not. So every HYPERVISOR_* wrapper passes an argument in place
 * when virt_to_gpa() says it is guest memory, and otherwise copies it into
 * the vCPU's bounce buffer (platform->bounce) and back. Handles nested in an
 * argument (guest handles) must hold guest-physical addresses: use
 * xg_set_guest_handle(). The wrappers bounce the nested buffers of the calls
 * they build themselves (SCHEDOP_poll's ports, CONSOLEIO_write's text).
 */
#ifndef XENON_GUEST_H
#define XENON_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/xs_wire.h>
#include <xen/io/console.h>

struct xen_guest;

/* virt_to_gpa() of a pointer that is not guest memory. */
#define XEN_GUEST_BAD_GPA (~(uint64_t)0)

struct xen_guest_platform {
	/* Issue hypercall `op` with five arguments as vCPU `vcpu`. */
	long (*hypercall)(void *ctx, unsigned int vcpu, unsigned long op, const uint64_t args[5]);
	/* Guest-physical address of p (inside guest RAM or a shown page), or
	 * XEN_GUEST_BAD_GPA if p is not guest memory. */
	uint64_t (*virt_to_gpa)(void *ctx, const void *p);
	/* Pointer to guest-physical address gpa, or NULL. */
	void *(*gpa_to_virt)(void *ctx, uint64_t gpa);
	/* Calling thread's vCPU id (used when the guest is not entered on
	 * this thread; see xen_guest_enter()). */
	unsigned int (*current_vcpu)(void *ctx);
	/* Optional: vCPU's bounce buffer, guest memory of *ret_len bytes (at
	 * least one page), for hypercall arguments that are not guest memory.
	 * NULL: every argument must be guest memory (a kernel). */
	void *(*bounce)(void *ctx, unsigned int vcpu, size_t *ret_len);
	/* Optional: Xen system time now, in ns, on the hypervisor's own clock
	 * (the one its timer deadlines use). A platform that can read that
	 * clock directly -- a process domain: CLOCK_MONOTONIC, as xenon-hvd --
	 * sets it, and xg_system_time_ns() prefers it to vcpu_time_info.
	 * NULL: vcpu_time_info as published by the hypervisor. */
	uint64_t (*now_ns)(void *ctx);
	/* Optional: EVTCHNOP_send of port as vCPU vcpu, with no argument
	 * marshalling (a process domain sends in shared memory). true: sent,
	 * the hypercall's result is 0, and a pending upcall was delivered on
	 * the way back as after a hypercall; false: not here, so the library
	 * issues the hypercall (which reports errors). NULL: always the
	 * hypercall. */
	bool (*evtchn_send)(void *ctx, unsigned int vcpu, evtchn_port_t port);
	/* Optional: true if [p, p + len) is known to read as zero (guest
	 * pages never written since the domain was built). Init then skips
	 * zeroing the state it keeps there, so the pages it does not write
	 * are never faulted in nor allocated. NULL or false: it zeroes. */
	bool (*mem_is_zero)(void *ctx, const void *p, size_t len);
	void *ctx;
};

/* ---- limits ------------------------------------------------------------ */

#define XG_MAX_VCPUS XEN_LEGACY_MAX_VCPUS /* vcpu_info slots in shared_info */
#define XG_NR_IRQS 256			  /* irq descriptors per guest */
#define XG_NR_IPIS 4			  /* IPI vectors per vCPU */
#define XG_EVTCHN_BITS (sizeof(xen_ulong_t) * 8)
#define XG_NR_EVTCHNS EVTCHN_2L_NR_CHANNELS /* 4096 */
#define XG_EVTCHN_WORDS (XG_NR_EVTCHNS / XG_EVTCHN_BITS)
#define XG_GNTTAB_MAX_FRAMES 16
#define XG_GNTTAB_PER_FRAME (4096 / sizeof(grant_entry_v1_t))
#define XG_GNTTAB_MAX_REFS (XG_GNTTAB_MAX_FRAMES * XG_GNTTAB_PER_FRAME)
/* Polls of end_foreign_transfer_ref waiting for GTF_transfer_completed. */
#define XG_TRANSFER_SPINS 100000

/* ---- irq handlers (Linux shapes) --------------------------------------- */

enum irqreturn { IRQ_NONE = 0, IRQ_HANDLED = 1 };
typedef enum irqreturn irqreturn_t;
typedef irqreturn_t (*irq_handler_t)(int irq, void *dev_id);

/* What an irq is bound to (Linux's enum xen_irq_type). */
enum xen_irq_type { IRQT_UNBOUND = 0, IRQT_EVTCHN, IRQT_VIRQ, IRQT_IPI };

/* One irq descriptor: its binding and its one handler (no IRQF_SHARED). */
struct xen_irq_info {
	enum xen_irq_type type;
	evtchn_port_t evtchn;
	unsigned int cpu;      /* vCPU the port notifies */
	unsigned int index;    /* VIRQ or IPI number */
	unsigned int refcnt;   /* bind_*_to_irq() calls not yet unbound */
	irq_handler_t handler; /* NULL: bound, no handler requested */
	unsigned long irqflags;
	const char *name;
	void *dev_id;
	unsigned long count; /* handler invocations */
};

/* Per-vCPU guest state (Linux keeps these in per-CPU variables). */
struct xen_vcpu_state {
	struct vcpu_info *vcpu_info;
	/* Upcall: nesting count (xed_nesting_count) and where the fair scan
	 * resumes (current_word_idx, current_bit_idx). */
	unsigned int upcall_nesting;
	unsigned int scan_word, scan_bit;
	/* Ports this vCPU handles: bit set = bound here (cpu_evtchn_mask). */
	xen_ulong_t evtchn_mask[XG_EVTCHN_WORDS];
	int virq_to_irq[NR_VIRQS];
	int ipi_to_irq[XG_NR_IPIS];
	/* Hypercall bounce buffer (stack discipline: nested calls from
	 * handlers allocate above the interrupted call's arguments). */
	uint8_t *bounce;
	size_t bounce_len, bounce_top;
	/* Timer (time.c). */
	void (*timer_fn)(void *arg);
	void *timer_arg;
	int timer_irq;
	/* Statistics. */
	unsigned long nr_upcalls, nr_nested, nr_spurious;
};

struct xen_gnttab {
	bool ready;
	bool lock; /* guards list, free_head, free_count (irqs off while held) */
	unsigned int nr_frames;
	uint64_t first_gfn;
	grant_entry_v1_t *frames[XG_GNTTAB_MAX_FRAMES];
	/* Free references: list[ref] = next free ref (Linux gnttab_list). */
	grant_ref_t list[XG_GNTTAB_MAX_REFS];
	grant_ref_t free_head;
	unsigned int free_count;
};

struct xen_guest {
	struct xen_guest_platform platform;
	struct start_info *start_info;
	struct shared_info *shared_info;
	unsigned int nr_vcpus;
	bool ready;
	/* Port -> irq (-1: none) and the irq descriptors. */
	int16_t evtchn_to_irq[XG_NR_EVTCHNS];
	struct xen_irq_info irq_info[XG_NR_IRQS];
	unsigned int nr_irqs_used;
	struct xen_vcpu_state vcpu[XG_MAX_VCPUS];
	struct xen_gnttab gnttab;
	/* Front ends attached by xenbus_init()/xencons_init() (storage is
	 * the caller's; see the xenbus/console section at the end). */
	struct xenbus *xenbus;
	struct xencons *console;
};

/* ---- boot and context (xen_guest.c) ------------------------------------ */

/* Boot: check si->magic ("xen-3.0-"), map shared_info, count vCPUs, set up
 * vcpu_info pointers and bounce buffers, register the event callback, mask
 * every port (as Linux does), set up the irq tables. Upcalls stay masked
 * (evtchn_upcall_mask = 1, as Xen hands a domain over) until
 * xen_irq_enable() on each vCPU. 0 or -EINVAL / -EFAULT. */
int xen_guest_init(struct xen_guest *g, struct start_info *si,
		   const struct xen_guest_platform *platform);
/* Make g the calling thread's current guest, running as vCPU vcpu. */
void xen_guest_enter(struct xen_guest *g, unsigned int vcpu);
/* The calling thread's current guest (NULL if none). */
struct xen_guest *xen_guest_current(void);
/* The vCPU the calling thread runs for g. */
unsigned int xg_current_vcpu(struct xen_guest *g);
struct vcpu_info *xg_vcpu_info(struct xen_guest *g, unsigned int vcpu);
uint64_t xg_virt_to_gpa(struct xen_guest *g, const void *p);
void *xg_gpa_to_virt(struct xen_guest *g, uint64_t gpa);
/* Store a guest address in a guest handle (the hypervisor reads handles
 * as guest-physical addresses). */
#define xg_set_guest_handle(g, hnd, ptr) \
	((hnd).p = (__typeof__((hnd).p))(uintptr_t)xg_virt_to_gpa((g), (ptr)))

/* Event delivery on/off for the current vCPU (evtchn_upcall_mask, what
 * local_irq_disable/enable are on Xen PV). Enabling with an upcall pending
 * forces the callback. */
void xg_irq_disable(struct xen_guest *g);
void xg_irq_enable(struct xen_guest *g);
bool xg_irqs_disabled(struct xen_guest *g);
/* Any hypercall makes the platform deliver a pending upcall. */
void xg_force_evtchn_callback(struct xen_guest *g);

/* ---- hypercalls (hypercall.c) ------------------------------------------ */

long xg_event_channel_op(struct xen_guest *g, int cmd, void *arg);
long xg_grant_table_op(struct xen_guest *g, unsigned int cmd, void *uop, unsigned int count);
long xg_memory_op(struct xen_guest *g, unsigned int cmd, void *arg);
long xg_vcpu_op(struct xen_guest *g, int cmd, unsigned int vcpuid, void *extra_args);
long xg_sched_op(struct xen_guest *g, int cmd, void *arg);
long xg_set_timer_op(struct xen_guest *g, uint64_t timeout);
long xg_xen_version(struct xen_guest *g, int cmd, void *arg);
long xg_console_io(struct xen_guest *g, int cmd, int count, char *str);
long xg_callback_op(struct xen_guest *g, int cmd, void *arg);
long xg_hvm_op(struct xen_guest *g, int op, void *arg);

/* ---- event channels (events.c) ----------------------------------------- */

/* Raw ports. */
int xg_evtchn_alloc_unbound(struct xen_guest *g, domid_t remote, evtchn_port_t *ret_port);
int xg_evtchn_bind_interdomain(struct xen_guest *g, domid_t remote_dom, evtchn_port_t remote_port,
			       evtchn_port_t *ret_port);
int xg_evtchn_close(struct xen_guest *g, evtchn_port_t port);
int xg_notify_remote_via_evtchn(struct xen_guest *g, evtchn_port_t port);
void xg_mask_evtchn(struct xen_guest *g, evtchn_port_t port);
void xg_unmask_evtchn(struct xen_guest *g, evtchn_port_t port);
void xg_clear_evtchn(struct xen_guest *g, evtchn_port_t port);
bool xg_test_evtchn(struct xen_guest *g, evtchn_port_t port);

/* Bindings: each returns the irq (>= 0) or a negative errno. */
int xg_bind_evtchn_to_irq(struct xen_guest *g, evtchn_port_t evtchn);
int xg_bind_evtchn_to_irqhandler(struct xen_guest *g, evtchn_port_t evtchn, irq_handler_t handler,
				 unsigned long irqflags, const char *devname, void *dev_id);
int xg_bind_virq_to_irqhandler(struct xen_guest *g, unsigned int virq, unsigned int cpu,
			       irq_handler_t handler, unsigned long irqflags, const char *devname,
			       void *dev_id);
int xg_bind_ipi_to_irqhandler(struct xen_guest *g, unsigned int ipi, unsigned int cpu,
			      irq_handler_t handler, unsigned long irqflags, const char *devname,
			      void *dev_id);
int xg_bind_interdomain_evtchn_to_irqhandler(struct xen_guest *g, domid_t remote_domain,
					     evtchn_port_t remote_port, irq_handler_t handler,
					     unsigned long irqflags, const char *devname,
					     void *dev_id);
/* Free the handler (dev_id must match) and drop the binding; the last
 * unbind masks and closes the port, as Linux's unbind_from_irq. */
void xg_unbind_from_irqhandler(struct xen_guest *g, int irq, void *dev_id);
void xg_unbind_from_irq(struct xen_guest *g, int irq);
int xg_notify_remote_via_irq(struct xen_guest *g, int irq);
int xg_send_ipi_one(struct xen_guest *g, unsigned int cpu, unsigned int ipi);
/* Move a port's notifications to vCPU cpu (EVTCHNOP_bind_vcpu). */
int xg_rebind_evtchn_to_cpu(struct xen_guest *g, evtchn_port_t evtchn, unsigned int cpu);
/* Lookups: -1 when unbound. */
int xg_evtchn_from_irq(struct xen_guest *g, int irq);
int xg_irq_from_evtchn(struct xen_guest *g, evtchn_port_t evtchn);
int xg_irq_from_virq(struct xen_guest *g, unsigned int cpu, unsigned int virq);
/* The upcall: the fair 2-level scan on the current vCPU (seed 15). */
void xg_evtchn_do_upcall(struct xen_guest *g);

/* ---- scheduling (sched.c) ---------------------------------------------- */

int xg_block(struct xen_guest *g);
int xg_yield(struct xen_guest *g);
/* Sleep until one of ports is pending or system time reaches timeout_ns
 * (absolute; 0 = none). At most 128 ports. */
int xg_poll(struct xen_guest *g, const evtchn_port_t *ports, unsigned int nr_ports,
	    uint64_t timeout_ns);
int xg_shutdown(struct xen_guest *g, unsigned int reason);

/* ---- time (time.c) ----------------------------------------------------- */

/* Bind VIRQ_TIMER on vCPU cpu; fn(arg) runs on each expiry. */
int xg_timer_setup(struct xen_guest *g, unsigned int cpu, void (*fn)(void *arg), void *arg);
void xg_timer_teardown(struct xen_guest *g, unsigned int cpu);
/* One-shot timer of the current vCPU at absolute system time (ns). */
int xg_set_timer(struct xen_guest *g, uint64_t deadline_ns);
int xg_stop_timer(struct xen_guest *g);
uint64_t xg_system_time_ns(struct xen_guest *g);
/* UTC now = shared_info wallclock + system time. */
void xg_wallclock(struct xen_guest *g, uint64_t *ret_sec, uint32_t *ret_nsec);

/* ---- grant tables (gnttab.c) ------------------------------------------- */

/* Show nr_frames table frames at gfns first_gfn.. (0: right after the
 * shared_info frame, in the overlay window) and build the free list. */
int xg_gnttab_init(struct xen_guest *g, uint64_t first_gfn, unsigned int nr_frames);
/* A ref (>= GNTTAB_NR_RESERVED_ENTRIES) or -ENOSPC. */
int xg_gnttab_grant_foreign_access(struct xen_guest *g, domid_t domid, unsigned long frame,
				   bool readonly);
void xg_gnttab_grant_foreign_access_ref(struct xen_guest *g, grant_ref_t ref, domid_t domid,
					unsigned long frame, bool readonly);
/* Revoke: false while the grantee still maps or copies (GTF_reading or
 * GTF_writing). The ref stays allocated either way. */
bool xg_gnttab_end_foreign_access_ref(struct xen_guest *g, grant_ref_t ref, bool readonly);
bool xg_gnttab_query_foreign_access(struct xen_guest *g, grant_ref_t ref);
int xg_gnttab_grant_foreign_transfer(struct xen_guest *g, domid_t domid, unsigned long pfn);
/* The frame received (>= 0); -ENOENT if no transfer started (the entry is
 * reclaimed), -EBUSY if one started but did not complete in the bound. */
long xg_gnttab_end_foreign_transfer_ref(struct xen_guest *g, grant_ref_t ref);
int xg_gnttab_alloc_ref(struct xen_guest *g);
void xg_gnttab_free_ref(struct xen_guest *g, grant_ref_t ref);
grant_entry_v1_t *xg_gnttab_entry(struct xen_guest *g, grant_ref_t ref);

/* ---- the Linux / seed names, on the current guest ---------------------- */

#define XG_CUR xen_guest_current()

static inline long HYPERVISOR_event_channel_op(int cmd, void *arg)
{
	return xg_event_channel_op(XG_CUR, cmd, arg);
}
static inline long HYPERVISOR_grant_table_op(unsigned int cmd, void *uop, unsigned int count)
{
	return xg_grant_table_op(XG_CUR, cmd, uop, count);
}
static inline long HYPERVISOR_memory_op(unsigned int cmd, void *arg)
{
	return xg_memory_op(XG_CUR, cmd, arg);
}
static inline long HYPERVISOR_vcpu_op(int cmd, unsigned int vcpuid, void *extra_args)
{
	return xg_vcpu_op(XG_CUR, cmd, vcpuid, extra_args);
}
static inline long HYPERVISOR_sched_op(int cmd, void *arg)
{
	return xg_sched_op(XG_CUR, cmd, arg);
}
static inline long HYPERVISOR_set_timer_op(uint64_t timeout)
{
	return xg_set_timer_op(XG_CUR, timeout);
}
static inline long HYPERVISOR_xen_version(int cmd, void *arg)
{
	return xg_xen_version(XG_CUR, cmd, arg);
}
static inline long HYPERVISOR_console_io(int cmd, int count, char *str)
{
	return xg_console_io(XG_CUR, cmd, count, str);
}
static inline long HYPERVISOR_callback_op(int cmd, void *arg)
{
	return xg_callback_op(XG_CUR, cmd, arg);
}
static inline long HYPERVISOR_hvm_op(int op, void *arg)
{
	return xg_hvm_op(XG_CUR, op, arg);
}

static inline int evtchn_alloc_unbound(domid_t remote, evtchn_port_t *ret_port)
{
	return xg_evtchn_alloc_unbound(XG_CUR, remote, ret_port);
}
static inline int evtchn_bind_interdomain(domid_t remote_dom, evtchn_port_t remote_port,
					  evtchn_port_t *ret_port)
{
	return xg_evtchn_bind_interdomain(XG_CUR, remote_dom, remote_port, ret_port);
}
static inline int evtchn_close(evtchn_port_t port)
{
	return xg_evtchn_close(XG_CUR, port);
}
static inline int notify_remote_via_evtchn(evtchn_port_t port)
{
	return xg_notify_remote_via_evtchn(XG_CUR, port);
}
static inline int notify_remote_via_irq(int irq)
{
	return xg_notify_remote_via_irq(XG_CUR, irq);
}
static inline void mask_evtchn(evtchn_port_t port)
{
	xg_mask_evtchn(XG_CUR, port);
}
static inline void unmask_evtchn(evtchn_port_t port)
{
	xg_unmask_evtchn(XG_CUR, port);
}
static inline void clear_evtchn(evtchn_port_t port)
{
	xg_clear_evtchn(XG_CUR, port);
}
static inline int bind_evtchn_to_irqhandler(evtchn_port_t evtchn, irq_handler_t handler,
					    unsigned long irqflags, const char *devname,
					    void *dev_id)
{
	return xg_bind_evtchn_to_irqhandler(XG_CUR, evtchn, handler, irqflags, devname, dev_id);
}
static inline int bind_virq_to_irqhandler(unsigned int virq, unsigned int cpu,
					  irq_handler_t handler, unsigned long irqflags,
					  const char *devname, void *dev_id)
{
	return xg_bind_virq_to_irqhandler(XG_CUR, virq, cpu, handler, irqflags, devname, dev_id);
}
static inline int bind_ipi_to_irqhandler(unsigned int ipi, unsigned int cpu, irq_handler_t handler,
					 unsigned long irqflags, const char *devname, void *dev_id)
{
	return xg_bind_ipi_to_irqhandler(XG_CUR, ipi, cpu, handler, irqflags, devname, dev_id);
}
static inline int bind_interdomain_evtchn_to_irqhandler(domid_t remote_domain,
							evtchn_port_t remote_port,
							irq_handler_t handler,
							unsigned long irqflags, const char *devname,
							void *dev_id)
{
	return xg_bind_interdomain_evtchn_to_irqhandler(XG_CUR, remote_domain, remote_port, handler,
							irqflags, devname, dev_id);
}
static inline void unbind_from_irqhandler(int irq, void *dev_id)
{
	xg_unbind_from_irqhandler(XG_CUR, irq, dev_id);
}
static inline int evtchn_from_irq(int irq)
{
	return xg_evtchn_from_irq(XG_CUR, irq);
}
static inline int irq_from_evtchn(evtchn_port_t evtchn)
{
	return xg_irq_from_evtchn(XG_CUR, evtchn);
}
static inline void xen_evtchn_do_upcall(void)
{
	xg_evtchn_do_upcall(XG_CUR);
}
static inline void xen_irq_disable(void)
{
	xg_irq_disable(XG_CUR);
}
static inline void xen_irq_enable(void)
{
	xg_irq_enable(XG_CUR);
}

static inline int xen_block(void)
{
	return xg_block(XG_CUR);
}
static inline int xen_yield(void)
{
	return xg_yield(XG_CUR);
}
static inline int xen_poll(const evtchn_port_t *ports, unsigned int nr_ports, uint64_t timeout_ns)
{
	return xg_poll(XG_CUR, ports, nr_ports, timeout_ns);
}
static inline int xen_shutdown(unsigned int reason)
{
	return xg_shutdown(XG_CUR, reason);
}
static inline int xen_set_timer(uint64_t deadline_ns)
{
	return xg_set_timer(XG_CUR, deadline_ns);
}
static inline int xen_stop_timer(void)
{
	return xg_stop_timer(XG_CUR);
}
static inline uint64_t xen_system_time_ns(void)
{
	return xg_system_time_ns(XG_CUR);
}

static inline int gnttab_init(uint64_t first_gfn, unsigned int nr_frames)
{
	return xg_gnttab_init(XG_CUR, first_gfn, nr_frames);
}
static inline int gnttab_grant_foreign_access(domid_t domid, unsigned long frame, bool readonly)
{
	return xg_gnttab_grant_foreign_access(XG_CUR, domid, frame, readonly);
}
static inline bool gnttab_end_foreign_access_ref(grant_ref_t ref, bool readonly)
{
	return xg_gnttab_end_foreign_access_ref(XG_CUR, ref, readonly);
}
static inline int gnttab_grant_foreign_transfer(domid_t domid, unsigned long pfn)
{
	return xg_gnttab_grant_foreign_transfer(XG_CUR, domid, pfn);
}
static inline long gnttab_end_foreign_transfer_ref(grant_ref_t ref)
{
	return xg_gnttab_end_foreign_transfer_ref(XG_CUR, ref);
}
static inline void gnttab_free_ref(grant_ref_t ref)
{
	xg_gnttab_free_ref(XG_CUR, ref);
}

#undef XG_CUR

/*
 * ===== xenbus client and console front end (guest/xenbus.c, guest/console.c) =====
 *
 * Both talk to a dom0 service through a shared ring page named by start_info
 * (store_mfn/store_evtchn, console.domU.mfn/evtchn). Each is a struct the
 * caller owns (no malloc), with two kinds of functions:
 *   - explicit context: xb_*(struct xenbus *, ...), xcons_*(struct xencons *, ...);
 *   - the Mini-OS/Linux names without context (xenbus_read(), printk(), ...),
 *     acting on the current guest's client (xen_guest_current()).
 * Results are 0 / a count, or a negative Xen errno (XEN_E*, <xen/errno.h>;
 * the same numbers as Linux's on x86). Error names a XenStore server sends
 * ("EAGAIN") come back as the matching negative errno.
 *
 * What differs between a guest kernel, a unit test and a fuzzer -- how to
 * signal the peer, how to sleep until it answers, what time it is -- comes in
 * as struct xen_ring_env_ops. xenbus_init()/xencons_init() wire it to the
 * guest's event channel and SCHEDOP_block; tests serve the ring in process.
 */
#include <stdarg.h>

struct xen_ring_env_ops {
	/* Signal the peer (EVTCHNOP_send on the ring's event channel). */
	void (*notify)(void *ctx);
	/* Sleep until the peer may have moved the ring since the caller last
	 * looked, or until deadline_ns; returning early is always allowed. */
	void (*wait)(void *ctx, uint64_t deadline_ns);
	/* Monotonic nanoseconds (the deadline clock). */
	uint64_t (*now_ns)(void *ctx);
};

/* --- xenbus --- */

typedef uint32_t xenbus_transaction_t; /* Mini-OS's name; XBT_NIL = none */
#define XBT_NIL ((xenbus_transaction_t)0)

#define XENBUS_MAX_WATCHES 32			       /* watches one client holds */
#define XENBUS_WATCH_PATH_MAX 256		       /* bytes of a watched path, NUL included */
#define XENBUS_WATCH_TOKEN_MAX 64		       /* bytes of a token, NUL included */
#define XENBUS_EVENT_QUEUE_BYTES 16384		       /* watch events waiting for dispatch */
#define XENBUS_TIMEOUT_NS (10ULL * 1000 * 1000 * 1000) /* default per request */
#define XENBUS_TXN_RETRIES 32			       /* xb_transaction() attempts on EAGAIN */

typedef void (*xenbus_watch_cb)(void *ctx, const char *path, const char *token);

struct xenbus_watch {
	bool used;
	bool missed; /* an event for it was dropped: redeliver as a spurious one */
	char path[XENBUS_WATCH_PATH_MAX];
	char token[XENBUS_WATCH_TOKEN_MAX];
	xenbus_watch_cb cb;
	void *ctx;
};

/* One XenStore permission entry: perm is 'n', 'r', 'w' or 'b'. */
struct xenbus_perm {
	domid_t domid;
	char perm;
};

struct xenbus_stats {
	uint64_t requests, events, events_dropped, stale_replies;
};

/*
 * The client. One request is in flight at a time (callers are serialised:
 * a request made while another is in flight, e.g. from an interrupt
 * handler, gets -EBUSY). Watch callbacks never run inside a request: events
 * are queued and dispatched when the request completes, or by xb_poll().
 */
struct xenbus {
	struct xenstore_domain_interface *intf;
	const struct xen_ring_env_ops *env;
	void *env_ctx;
	uint64_t timeout_ns;	  /* per request; XENBUS_TIMEOUT_NS by default */
	uint32_t server_features; /* read once at init */
	uint32_t next_req_id;
	bool broken; /* framing lost: only xb_reconnect() helps */
	bool busy, dispatching, overflow_logged;
	void (*log)(void *ctx, const char *msg); /* may be NULL */
	void *log_ctx;
	struct xenbus_stats stats;
	struct xenbus_watch watches[XENBUS_MAX_WATCHES];
	/* Watch events not yet dispatched: records [u16 len][path\0token\0]
	 * in a byte FIFO with free-running indices. */
	uint32_t evq_head, evq_tail;
	char evq[XENBUS_EVENT_QUEUE_BYTES];
	/* The message being received (header, then payload, then a NUL). */
	uint32_t rx_len;
	char rx[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 1];
	char ev_scratch[XENSTORE_PAYLOAD_MAX + 1]; /* one event, dispatched */
};

/* Attach to a mapped ring; serves requests through env. */
int xb_init(struct xenbus *xb, struct xenstore_domain_interface *intf,
	    const struct xen_ring_env_ops *env, void *env_ctx);
/* Ask the server to reset the ring (RECONNECTION feature), wait for
 * CONNECTED, then register every watch again. */
int xb_reconnect(struct xenbus *xb);

/* value is stored NUL-terminated: len must exceed the value length, else
 * -ERANGE with *ret_len set to the length needed (without the NUL). */
int xb_read(struct xenbus *xb, xenbus_transaction_t txn, const char *path, char *buf, size_t len,
	    size_t *ret_len);
int xb_write(struct xenbus *xb, xenbus_transaction_t txn, const char *path, const void *value,
	     size_t len);
int xb_mkdir(struct xenbus *xb, xenbus_transaction_t txn, const char *path);
int xb_rm(struct xenbus *xb, xenbus_transaction_t txn, const char *path);
/* Children's names, each NUL-terminated, back to back in buf. */
int xb_directory(struct xenbus *xb, xenbus_transaction_t txn, const char *path, char *buf,
		 size_t len, unsigned int *ret_count);
int xb_get_perms(struct xenbus *xb, xenbus_transaction_t txn, const char *path,
		 struct xenbus_perm *perms, unsigned int max, unsigned int *ret_n);
int xb_set_perms(struct xenbus *xb, xenbus_transaction_t txn, const char *path,
		 const struct xenbus_perm *perms, unsigned int n);
int xb_transaction_start(struct xenbus *xb, xenbus_transaction_t *ret_txn);
/* Commit (abort false) or abort. -EAGAIN: a conflict, nothing committed. */
int xb_transaction_end(struct xenbus *xb, xenbus_transaction_t txn, bool abort);
/* Run fn inside a transaction, retried on -EAGAIN up to XENBUS_TXN_RETRIES
 * times. fn returning non-zero aborts the transaction and is returned. */
int xb_transaction(struct xenbus *xb, int (*fn)(void *ctx, xenbus_transaction_t txn), void *ctx);
/* The token names the watch locally too: it must be unique. The server's
 * initial event for path arrives like any other. */
int xb_watch(struct xenbus *xb, const char *path, const char *token, xenbus_watch_cb cb, void *ctx);
/* After this returns, cb is not called again for token. */
int xb_unwatch(struct xenbus *xb, const char *path, const char *token);
int xb_get_domain_path(struct xenbus *xb, domid_t domid, char *buf, size_t len);
/* Read what the server sent and run queued watch callbacks; never sleeps.
 * Returns the number of callbacks run. */
int xb_poll(struct xenbus *xb);
/* As xb_poll(), sleeping until at least one callback ran or timeout_ns
 * passed (-ETIMEDOUT). */
int xb_wait_event(struct xenbus *xb, uint64_t timeout_ns);

/* --- console --- */

#define XENCONS_PRINTK_MAX 1024 /* bytes one printk() formats; the rest is cut */
#define XENCONS_TIMEOUT_NS (10ULL * 1000 * 1000 * 1000) /* a stalled back end */

typedef void (*xencons_input_cb)(void *ctx, const char *buf, size_t len);

/*
 * The console front end over struct xencons_interface (io/console.h): out[]
 * carries our output to the back end, in[] its input to us. Writers are
 * serialised by the caller (a kernel's console lock).
 */
struct xencons {
	struct xencons_interface *intf;
	const struct xen_ring_env_ops *env;
	void *env_ctx;
	uint64_t timeout_ns; /* how long a full ring may stall a write */
	bool broken;	     /* the back end corrupted an index */
	xencons_input_cb input_cb;
	void *input_ctx;
	uint64_t bytes_out, bytes_in, stalls;
};

int xcons_init(struct xencons *c, struct xencons_interface *intf,
	       const struct xen_ring_env_ops *env, void *env_ctx);
/* Writes all of buf, sleeping while the ring is full: returns len, or, if
 * the back end stalls past timeout_ns, the bytes written before it did
 * (-ETIMEDOUT if none). Nothing is dropped silently. */
long xcons_write(struct xencons *c, const char *buf, size_t len);
/* Takes up to len input bytes; never sleeps. Returns the count. */
long xcons_read(struct xencons *c, char *buf, size_t len);
/* Input goes to cb instead of xcons_read(): xcons_poll() delivers it, and
 * the guest binding runs xcons_poll() from the console event's handler, so
 * cb runs in upcall context and must not sleep. */
void xcons_set_input(struct xencons *c, xencons_input_cb cb, void *ctx);
long xcons_poll(struct xencons *c);
__attribute__((format(printf, 2, 3))) long xcons_printk(struct xencons *c, const char *fmt, ...);
long xcons_vprintk(struct xencons *c, const char *fmt, va_list ap);

/* The freestanding formatter behind printk: %s %c %d %i %u %x %X %p %% with
 * l/ll/z/h modifiers, width, '-' and '0' flags. Writes at most size bytes
 * (always NUL-terminated if size > 0); returns the untruncated length. */
__attribute__((format(printf, 3, 4))) int xen_snprintf(char *buf, size_t size, const char *fmt,
						       ...);
int xen_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* --- the guest binding: rings on the guest's event channels --- */

/*
 * A ring's event channel in a guest: notify is EVTCHNOP_send; wait masks
 * upcalls, sleeps in SCHEDOP_poll on the port until it is pending or the
 * deadline passes (so an event sent between the caller's last look at the
 * ring and the sleep is not lost), then restores upcalls; the port's
 * handler only records the kick. The clock is the guest's system time.
 */
struct xen_ring_guest {
	struct xen_guest *g;
	evtchn_port_t port;
	int irq;
	bool kicked; /* set by the handler, cleared by wait (atomics) */
	/* Optional, run by the handler in upcall context (console input). */
	void (*on_event)(void *ctx);
	void *on_event_ctx;
};
extern const struct xen_ring_env_ops xen_ring_guest_env; /* ctx: struct xen_ring_guest */
/* Binds port's handler (devname names it); -errno from the binding. Set
 * on_event/on_event_ctx first (or NULL). */
int xen_ring_guest_bind(struct xen_ring_guest *rg, struct xen_guest *g, evtchn_port_t port,
			const char *devname);
void xen_ring_guest_unbind(struct xen_ring_guest *rg);

/* The guest's own clients, with storage from the caller. xenbus_init()
 * uses start_info's store_mfn (a guest frame) and store_evtchn;
 * xencons_init() its console.domU.mfn and evtchn. */
struct xenbus_guest {
	struct xenbus xb;
	struct xen_ring_guest ring;
};
struct xencons_guest {
	struct xencons cons;
	struct xen_ring_guest ring;
};
int xg_xenbus_init(struct xen_guest *g, struct xenbus_guest *storage);
int xg_xencons_init(struct xen_guest *g, struct xencons_guest *storage);

/* The Mini-OS/Linux names, on the current guest's clients (-ENOTCONN, or
 * nothing printed, before init). */
static inline struct xenbus *xenbus_current(void)
{
	struct xen_guest *g = xen_guest_current();

	return g ? g->xenbus : NULL;
}
static inline struct xencons *xencons_current(void)
{
	struct xen_guest *g = xen_guest_current();

	return g ? g->console : NULL;
}
int xenbus_init(struct xenbus_guest *storage);
int xenbus_read(xenbus_transaction_t txn, const char *path, char *buf, size_t len, size_t *ret_len);
int xenbus_write(xenbus_transaction_t txn, const char *path, const void *value, size_t len);
int xenbus_mkdir(xenbus_transaction_t txn, const char *path);
int xenbus_rm(xenbus_transaction_t txn, const char *path);
int xenbus_directory(xenbus_transaction_t txn, const char *path, char *buf, size_t len,
		     unsigned int *ret_count);
int xenbus_get_perms(xenbus_transaction_t txn, const char *path, struct xenbus_perm *perms,
		     unsigned int max, unsigned int *ret_n);
int xenbus_set_perms(xenbus_transaction_t txn, const char *path, const struct xenbus_perm *perms,
		     unsigned int n);
int xenbus_transaction_start(xenbus_transaction_t *ret_txn);
int xenbus_transaction_end(xenbus_transaction_t txn, bool abort);
int xenbus_transaction(int (*fn)(void *ctx, xenbus_transaction_t txn), void *ctx);
int xenbus_watch(const char *path, const char *token, xenbus_watch_cb cb, void *ctx);
int xenbus_unwatch(const char *path, const char *token);
int xenbus_get_domain_path(domid_t domid, char *buf, size_t len);
int xenbus_poll(void);
int xenbus_reconnect(void);

int xencons_init(struct xencons_guest *storage);
long xencons_write(const char *buf, size_t len);
long xencons_read(char *buf, size_t len);
void xencons_set_input_handler(xencons_input_cb cb, void *ctx);
__attribute__((format(printf, 1, 2))) long printk(const char *fmt, ...);

#endif
