/*
 * Internal helpers shared by the guest library's files; the public
 * interface is xen_guest.h. Bit helpers operate on shared memory the
 * hypervisor changes concurrently, so they are atomic (seq_cst RMWs: LOCK
 * prefixed on x86, full barriers, which is what the pairings with
 * hypervisor/evtchn_2l.c rely on).
 */
#ifndef XENON_GUEST_INTERNAL_H
#define XENON_GUEST_INTERNAL_H

#if __STDC_HOSTED__
#include <errno.h>
#else
/* Freestanding: take the E* names from Xen's own table (same values). */
#define XEN_ERRNO(name, value) name = value,
enum {
#include <xen/errno.h>
};
#endif

#include "xen_guest.h"

#define XG_PAGE_SIZE 4096UL
#define XG_PAGE_SHIFT 12

static inline xen_ulong_t xg_bit(unsigned int nr)
{
	return (xen_ulong_t)1 << (nr % XG_EVTCHN_BITS);
}

static inline bool xg_sync_test_and_set_bit(unsigned int nr, xen_ulong_t *words)
{
	return __atomic_fetch_or(&words[nr / XG_EVTCHN_BITS], xg_bit(nr), __ATOMIC_SEQ_CST) &
	       xg_bit(nr);
}

static inline bool xg_sync_test_and_clear_bit(unsigned int nr, xen_ulong_t *words)
{
	return __atomic_fetch_and(&words[nr / XG_EVTCHN_BITS], ~xg_bit(nr), __ATOMIC_SEQ_CST) &
	       xg_bit(nr);
}

static inline void xg_sync_set_bit(unsigned int nr, xen_ulong_t *words)
{
	__atomic_fetch_or(&words[nr / XG_EVTCHN_BITS], xg_bit(nr), __ATOMIC_SEQ_CST);
}

static inline void xg_sync_clear_bit(unsigned int nr, xen_ulong_t *words)
{
	__atomic_fetch_and(&words[nr / XG_EVTCHN_BITS], ~xg_bit(nr), __ATOMIC_SEQ_CST);
}

static inline bool xg_sync_test_bit(unsigned int nr, xen_ulong_t *words)
{
	return __atomic_load_n(&words[nr / XG_EVTCHN_BITS], __ATOMIC_SEQ_CST) & xg_bit(nr);
}

static inline struct xen_vcpu_state *xg_vcpu(struct xen_guest *g, unsigned int vcpu)
{
	return &g->vcpu[vcpu < XG_MAX_VCPUS ? vcpu : 0];
}

/*
 * One hypercall in flight (hypercall.c). Arguments that are not guest
 * memory are copied into the vCPU's bounce buffer above whatever an
 * interrupted call on the same vCPU holds there, and copied back and
 * released by xg_call_end().
 */
#define XG_CALL_MAX_ARGS 2

struct xg_call {
	struct xen_guest *g;
	struct xen_vcpu_state *vs;
	unsigned int vcpu;
	size_t top0;
	unsigned int nr_back;
	struct {
		void *user, *copy;
		size_t len;
	} back[XG_CALL_MAX_ARGS];
};

void xg_call_begin(struct xen_guest *g, struct xg_call *c);
/* Guest-physical address for [p, p+len): p itself if guest memory, else a
 * bounce copy (copied back at the end when `out`). p NULL gives 0. */
int xg_call_arg(struct xg_call *c, void *p, size_t len, bool out, uint64_t *ret_gpa);
long xg_call_issue(struct xg_call *c, unsigned long op, uint64_t a0, uint64_t a1, uint64_t a2);
void xg_call_end(struct xg_call *c);

/*
 * The wait of a ring driver whose port handlers set *kicked (sched.c):
 * unless *kicked, SCHEDOP_poll on ports until one is pending or
 * deadline_ns (0: do not sleep), with upcalls off so no event is lost
 * between the caller's last look and the poll; then *kicked cleared and
 * upcalls restored (if the caller had them off, the ports' pending bits
 * are cleared instead). The caller re-reads its rings afterwards: the
 * event itself carries nothing.
 */
void xg_wait_ports(struct xen_guest *g, bool *kicked, const evtchn_port_t *ports,
		   unsigned int nr_ports, uint64_t deadline_ns);

/*
 * Sharing a page with another domain (gnttab.c): the one grant and the one
 * end every front end uses (blkfront_xenbus.c, xenbus_dev.c's rings,
 * vchan_guest.c). Grant: the page at p (page-aligned guest memory) to
 * domid; the ref, or -EFAULT (p is not guest memory) or the grant
 * table's error. End: revoke and free the ref; false if the grantee still
 * maps the page -- the ref then stays allocated and granted, and neither
 * it nor the page may be reused while the grantee can write it (the
 * caller keeps, retries or counts it).
 */
int xg_gnttab_grant_page(struct xen_guest *g, domid_t domid, const void *p, bool readonly);
bool xg_gnttab_end_page(struct xen_guest *g, grant_ref_t ref, bool readonly);

/* Set up the irq tables and mask every port (events.c). */
void xg_events_init(struct xen_guest *g);

/* The platform vouches that [p, p+len) reads as zero (fresh memory). */
static inline bool xg_mem_is_zero(const struct xen_guest_platform *pf, const void *p, size_t len)
{
	return pf->mem_is_zero && pf->mem_is_zero(pf->ctx, p, len);
}

#endif
