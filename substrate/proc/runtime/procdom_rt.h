/*
 * The process-domain runtime: what a guest program links (with guest/) to
 * run as a xenon process domain. Design: docs/process-domains.md; wire
 * protocol: substrate/proc/procdom_proto.h; internals: rt_internal.h.
 *
 * The runtime owns main(). It boots the domain from XENON_BOOT (memory,
 * vCPU pages, the guest library on a platform that speaks the hypercall
 * socket), then calls the guest program's start_kernel() on vCPU 0, which
 * is the main thread. Returning from start_kernel() powers the domain off.
 * The process exits with the shutdown reason as its status (SHUTDOWN_poweroff
 * = 0, reboot 1, suspend 2, crash 3, watchdog 4), or 2 if the boot
 * environment is malformed, or 1 if the hypervisor went away.
 *
 * Upcalls (event handlers) run on the vCPU's thread: on the way back from
 * every hypercall and every wake, and, while guest code runs, from a signal
 * handler (SIGRTMIN + PROCDOM_UPCALL_SIGNAL_OFFSET), exactly as an interrupt
 * would. Handler rules, as in a kernel's interrupt context:
 *   - a handler may touch guest memory, the guest library (xg_*, Linux
 *     names) and make hypercalls; it must not call anything that is not
 *     async-signal-safe (no stdio, malloc, locks the interrupted code may
 *     hold); record work and let the vCPU's main code do it;
 *   - code that shares data with a handler on the same vCPU brackets the
 *     access with xen_irq_disable()/xen_irq_enable() (the upcall mask), as
 *     kernel code uses local_irq_save/restore;
 *   - handlers run with upcalls masked; an event raised meanwhile is
 *     delivered when the handler returns (the library's scan loops).
 */
#ifndef XENON_PROCDOM_RT_H
#define XENON_PROCDOM_RT_H

#include <stddef.h>
#include <stdint.h>

#include "xen_guest.h"

/* Defined by the guest program: the domain's kernel, run on vCPU 0 with
 * the guest library booted (xen_guest_current() is the guest; upcalls
 * still masked until xen_irq_enable()). */
void start_kernel(start_info_t *si);

/*
 * Bring up secondary vCPU `vcpu` (1 .. nr_vcpus-1): VCPUOP_up in the
 * hypervisor, then a thread that enters the guest as that vCPU and runs
 * fn(arg) with upcalls masked (call xen_irq_enable() when ready). When fn
 * returns the vCPU goes down (VCPUOP_down; the last one down powers the
 * domain off). 0, -EINVAL (bad vCPU), -EBUSY (already started), or the
 * hypercall's / pthread_create's error. Call it from a vCPU thread.
 */
int xen_vcpu_start(unsigned int vcpu, void (*fn)(void *arg), void *arg);

/* The program's own argv (the guest's kernel command line is
 * start_info's cmd_line). */
char **procdom_args(int *ret_argc);

/* Xen system time, read directly: CLOCK_MONOTONIC nanoseconds, the clock
 * xenon-hvd's core runs on (deadlines of SCHEDOP_poll, set_timer_op). */
uint64_t procdom_now_ns(void);

/* Number of vCPUs the domain was booted with. */
unsigned int procdom_nr_vcpus(void);
/* This domain's id. */
domid_t procdom_domid(void);

/* n zeroed, page-aligned pages of guest RAM (usable as grant frames or in
 * hypercalls in place), never freed; NULL when the free RAM runs out. */
void *procdom_alloc_pages(unsigned int n);

/* Counters of the runtime (per process, all vCPUs). */
struct procdom_rt_stats {
	uint64_t hypercalls;	 /* sent on a socket */
	uint64_t fast_sends;	 /* EVTCHNOP_send done in shared memory */
	uint64_t local_blocks;	 /* SCHEDOP_block carried out without a hypercall */
	uint64_t local_polls;	 /* SCHEDOP_poll ended without a hypercall */
	uint64_t poll_fallbacks; /* SCHEDOP_poll handed to xenon-hvd (see rt_poll.c) */
	uint64_t sleeps;	 /* futex waits (after the spin) */
	uint64_t upcalls;	 /* xen_evtchn_do_upcall() runs */
	uint64_t signal_upcalls; /* of which from the upcall signal */
	uint64_t bad_replies;	 /* protocol violations by xenon-hvd */
	/* System calls of the event path (a polling round trip makes none):
	 * FUTEX_WAKEs / upcall signals our fast sends issued to peers, and
	 * those peers and xenon-hvd issued to our vCPUs (their vCPU pages). */
	uint64_t sent_wakes, sent_signals;
	uint64_t got_wakes, got_signals;
};
void procdom_rt_stats(struct procdom_rt_stats *ret);

#endif
