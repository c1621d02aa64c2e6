/*
 * vchan's guest binding (xen_vchan.h): the ring core's environment inside
 * a guest -- grant entries it writes itself, GNTTABOP_map_grant_ref into
 * frames of its overlay window, its event channels, xenbus, system time.
 *
 * What a guest cannot do that dom0's binding can, and what stands in:
 *   - no unmap notify: a guest killed outright (a crashed process domain)
 *     zeroes no live byte. The survivor notices in the core's liveness
 *     slices: peer_alive(thorough) asks EVTCHNOP_status whether our port is
 *     still interdomain (the core turns the peer's end unbound when its
 *     domain dies);
 *   - a dead granter's pages are taken from our frame space by the
 *     hypervisor (the mapping is undone with its domain), and in a process
 *     domain the runtime applies that at our next hypercall's reply: from
 *     then on the frames are holes. peer_alive(cheap) asks whether the
 *     peer's shared page is still mapped (virt_to_gpa of a hole fails; no
 *     hypercall), and the core checks it at every entry and after every
 *     wait, so it never touches a hole. Single-vCPU use of a channel is
 *     assumed (another vCPU's hypercall could apply the removal between
 *     the check and an access).
 *   - revoking a grant the peer still maps fails (GTF_reading/writing):
 *     unshare retries for VCHAN_GUEST_REVOKE_NS (a peer that saw our
 *     live byte drop unmaps promptly; a dead one's maps are gone) and
 *     otherwise keeps the pages rather than hand out memory a peer writes.
 *
 * Waiting: SCHEDOP_poll on the (masked) port unless it is already
 * pending, then the pending bit cleared here (the core re-reads the ring
 * after every wait, so the event itself carries nothing) -- the same shape
 * as xen_ring_guest's wait (guest/xenbus.c). In a process domain the poll
 * makes no system call when the peer answers within ~20 us (the runtime
 * spins on the pending bit, POLLING, so the peer's send wakes nobody) and
 * sleeps on a futex otherwise (docs/process-domains.md "Wake-ups").
 */
#include "xg_decimal.h"
#include "xg_internal.h"
#include "xen_vchan.h"

#include <xen/grant_table.h>

#define VCHAN_GUEST_BATCH 32 /* map/unmap ops per hypercall (bounce buffer) */
#define VCHAN_GUEST_REVOKE_NS (2000ULL * 1000 * 1000)
#define VCHAN_GUEST_DEFAULT_SKIP 32 /* frames after shared_info left to grant frames */
/* The ring spin before asking for an event: one batch of looks (~150 ns),
 * because the wait that follows (SCHEDOP_poll) spins by itself in a
 * process domain, on the port's pending bit, yielding the CPU between
 * looks (rt_poll.c). A longer ring spin saves the event when the peer
 * answers at once from another CPU (1 us: a round trip of 0.8 us instead
 * of 1.6) but holds the CPU a peer sharing it needs (5.9 us instead of
 * 4.1; a UNIX socket's is 4.6 there). */
#define VCHAN_GUEST_SPIN_NS 100ULL

static struct vchan_guest *vg_of(void *ctx)
{
	return ctx;
}

/* ---- frames of the map window ------------------------------------------ */

static bool vg_used(const struct vchan_guest *vg, unsigned int i)
{
	return vg->map_used[i / 8] >> (i % 8) & 1;
}

static void vg_mark(struct vchan_guest *vg, unsigned int first, unsigned int n, bool used)
{
	for (unsigned int i = first; i < first + n; i++) {
		if (used)
			vg->map_used[i / 8] |= (uint8_t)(1U << (i % 8));
		else
			vg->map_used[i / 8] &= (uint8_t) ~(1U << (i % 8));
	}
}

/* First index of n free frames in a row, or -ENOSPC. */
static int vg_find(const struct vchan_guest *vg, unsigned int n)
{
	unsigned int run = 0;

	for (unsigned int i = 0; i < vg->map_nr; i++) {
		run = vg_used(vg, i) ? 0 : run + 1;
		if (run == n)
			return (int)(i + 1 - n);
	}
	return -ENOSPC;
}

/* ---- sharing our pages -------------------------------------------------- */

static void vg_revoke(struct vchan_guest *vg, const uint32_t *refs, unsigned int n)
{
	struct xen_guest *g = vg->g;
	uint64_t until = xg_system_time_ns(g) + VCHAN_GUEST_REVOKE_NS;
	unsigned int i = 0;

	while (i < n) {
		if (xg_gnttab_end_page(g, refs[i], false)) {
			i++;
			continue;
		}
		if (xg_system_time_ns(g) >= until)
			break; /* still mapped: keep it (and its page) */
		xg_poll(g, NULL, 0, xg_system_time_ns(g) + 1000000);
	}
	/* Pages of refs we could not end stay granted; the caller keeps them. */
	if (i < n)
		vg->leaked_pages += n - i;
}

/* Ends nr_refs grants of a share of n pages at p, and frees the pages only
 * if every grant ended (a page the peer still maps must stay ours). */
static void vg_release(struct vchan_guest *vg, void *p, unsigned int n, const uint32_t *refs,
		       unsigned int nr_refs)
{
	uint64_t leaked = vg->leaked_pages;

	vg_revoke(vg, refs, nr_refs);
	if (vg->leaked_pages == leaked && vg->free_pages)
		vg->free_pages(vg->alloc_ctx, p, n);
}

static int vg_share(void *ctx, domid_t peer, unsigned int n, uint32_t *refs, int notify_offset,
		    evtchn_port_t port, void **ret_addr)
{
	struct vchan_guest *vg = vg_of(ctx);
	uint8_t *p = vg->alloc_pages(vg->alloc_ctx, n);
	unsigned int i;

	(void)notify_offset; /* no unmap notify in a guest (see above) */
	(void)port;
	if (!p)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int ref = xg_gnttab_grant_page(vg->g, peer, p + (size_t)i * VCHAN_PAGE_SIZE, false);

		if (ref < 0) {
			vg_release(vg, p, n, refs, i);
			return ref;
		}
		refs[i] = (uint32_t)ref;
	}
	*ret_addr = p;
	return 0;
}

static void vg_unshare(void *ctx, void *addr, unsigned int n, const uint32_t *refs)
{
	vg_release(vg_of(ctx), addr, n, refs, n);
}

/* ---- mapping the peer's pages ------------------------------------------ */

static int vg_map_batch(struct vchan_guest *vg, domid_t peer, unsigned int first,
			const uint32_t *refs, unsigned int n)
{
	struct gnttab_map_grant_ref op[VCHAN_GUEST_BATCH];
	unsigned int i;
	long hc, rc = 0;

	for (i = 0; i < n; i++)
		op[i] = (struct gnttab_map_grant_ref){
			.host_addr = (vg->map_gfn + first + i) << VCHAN_PAGE_SHIFT,
			.flags = GNTMAP_host_map,
			.ref = refs[i],
			.dom = peer,
		};
	hc = xg_grant_table_op(vg->g, GNTTABOP_map_grant_ref, op, n);
	/* Every page that did map is recorded, also after one that failed,
	 * so the caller's unmap of the range undoes all of them. */
	for (i = 0; i < n; i++) {
		if (hc == 0 && op[i].status == GNTST_okay) {
			vg->map_handle[first + i] = op[i].handle;
			vg_mark(vg, first + i, 1, true);
		} else if (!rc) {
			rc = hc ? hc : -EINVAL; /* a bad or foreign ref */
		}
	}
	return (int)rc;
}

static void vg_unmap_range(struct vchan_guest *vg, unsigned int first, unsigned int n)
{
	struct gnttab_unmap_grant_ref op[VCHAN_GUEST_BATCH];
	unsigned int i, k = 0;

	for (i = first; i < first + n; i++) {
		if (!vg_used(vg, i))
			continue;
		op[k++] = (struct gnttab_unmap_grant_ref){
			.host_addr = (vg->map_gfn + i) << VCHAN_PAGE_SHIFT,
			.handle = vg->map_handle[i],
		};
		vg_mark(vg, i, 1, false);
		if (k == VCHAN_GUEST_BATCH || i + 1 == first + n) {
			/* A dead granter's maps are already undone: errors
			 * here only say so. */
			xg_grant_table_op(vg->g, GNTTABOP_unmap_grant_ref, op, k);
			k = 0;
		}
	}
	if (k)
		xg_grant_table_op(vg->g, GNTTABOP_unmap_grant_ref, op, k);
}

/* The frames we mapped, contiguous in our address space as the core
 * needs; -EFAULT if the platform does not lay them out so. */
static int vg_map_addr(struct vchan_guest *vg, int first, unsigned int n, void **ret_addr)
{
	uint64_t gpa = (vg->map_gfn + (unsigned int)first) << VCHAN_PAGE_SHIFT;
	uint8_t *p = xg_gpa_to_virt(vg->g, gpa);

	if (!p || xg_gpa_to_virt(vg->g, gpa + ((uint64_t)n - 1) * VCHAN_PAGE_SIZE) !=
			  p + ((size_t)n - 1) * VCHAN_PAGE_SIZE)
		return -EFAULT;
	*ret_addr = p;
	return 0;
}

static int vg_map(void *ctx, domid_t peer, unsigned int n, const uint32_t *refs, void **ret_addr)
{
	struct vchan_guest *vg = vg_of(ctx);
	int first = vg_find(vg, n);
	unsigned int done = 0;
	int rc = first < 0 ? first : 0;

	while (rc == 0 && done < n) {
		unsigned int k = n - done < VCHAN_GUEST_BATCH ? n - done : VCHAN_GUEST_BATCH;

		rc = vg_map_batch(vg, peer, (unsigned int)first + done, refs + done, k);
		done += k;
	}
	if (rc == 0)
		rc = vg_map_addr(vg, first, n, ret_addr);
	if (rc < 0) {
		if (first >= 0)
			vg_unmap_range(vg, (unsigned int)first, n);
		return rc;
	}
	if (!vg->first_map)
		vg->first_map = *ret_addr;
	/* Holes read back as nothing: remember where frame 0 of the range
	 * lives to find a mapping's frames again at unmap. */
	vg->window = (uint8_t *)*ret_addr - (size_t)first * VCHAN_PAGE_SIZE;
	return 0;
}

static void vg_unmap(void *ctx, void *addr, unsigned int n)
{
	struct vchan_guest *vg = vg_of(ctx);
	uint8_t *base = vg->window;

	if (addr == vg->first_map)
		vg->first_map = NULL;
	if (!base || (uint8_t *)addr < base)
		return;
	vg_unmap_range(vg, (unsigned int)(((uint8_t *)addr - base) / VCHAN_PAGE_SIZE), n);
}

/* ---- event channel ------------------------------------------------------ */

/* Runs only if someone unmasks the port (vg_bind_irq masks it). */
static irqreturn_t vg_irq(int irq, void *dev_id)
{
	struct vchan_guest *vg = dev_id;

	(void)irq;
	/* Pairs with the acquire in vg_wait: the waiter re-reads the ring. */
	__atomic_store_n(&vg->kicked, true, __ATOMIC_RELEASE);
	return IRQ_HANDLED;
}

/* The port is bound (the irq owns and closes it) and then masked: the
 * waiter polls it, and SCHEDOP_poll ends on a masked port's event as on
 * any other, so the peer's events never raise an upcall -- nor, in a
 * process domain, the signal that interrupts a vCPU running guest code
 * with upcalls on, which a streaming writer between its request for a
 * notification and its poll was (thousands per second). The price: a
 * process domain's poll on a masked port sleeps through xenon-hvd (a
 * hypercall) once its spin is over, as only xenon-hvd's recorded poll
 * makes the core wake a sleeper for a masked port (rt_poll.c). */
static int vg_bind_irq(struct vchan_guest *vg, evtchn_port_t port, evtchn_port_t *ret_port)
{
	int irq = xg_bind_evtchn_to_irqhandler(vg->g, port, vg_irq, 0, "vchan", vg);

	if (irq < 0) {
		xg_evtchn_close(vg->g, port);
		return irq;
	}
	xg_mask_evtchn(vg->g, port);
	vg->irq = irq;
	*ret_port = port;
	return 0;
}

static int vg_port_alloc(void *ctx, domid_t peer, evtchn_port_t *ret_port)
{
	struct vchan_guest *vg = vg_of(ctx);
	evtchn_port_t port;
	int rc = xg_evtchn_alloc_unbound(vg->g, peer, &port);

	return rc < 0 ? rc : vg_bind_irq(vg, port, ret_port);
}

static int vg_port_bind(void *ctx, domid_t peer, evtchn_port_t remote, evtchn_port_t *ret_port)
{
	struct vchan_guest *vg = vg_of(ctx);
	evtchn_port_t port;
	int rc = xg_evtchn_bind_interdomain(vg->g, peer, remote, &port);

	if (rc < 0)
		return rc;
	/* Xen marks a freshly bound end pending; nothing happened yet. */
	xg_clear_evtchn(vg->g, port);
	return vg_bind_irq(vg, port, ret_port);
}

static void vg_port_close(void *ctx, evtchn_port_t port)
{
	struct vchan_guest *vg = vg_of(ctx);

	(void)port;
	if (vg->irq >= 0)
		xg_unbind_from_irqhandler(vg->g, vg->irq, vg); /* closes the port */
	vg->irq = -1;
}

static int vg_notify(void *ctx, evtchn_port_t port)
{
	return xg_notify_remote_via_evtchn(vg_of(ctx)->g, port);
}

/* The port is masked (vg_bind_irq): its event only sets the pending bit,
 * which the poll watches and this clears (the core re-reads the ring
 * after every wait). Upcalls stay as the caller has them: another event
 * delivered meanwhile ends the poll early, which a wait may do. */
static int vg_wait(void *ctx, evtchn_port_t port, uint64_t deadline_ns)
{
	struct vchan_guest *vg = vg_of(ctx);
	struct xen_guest *g = vg->g;
	int rc = 0;

	if (!__atomic_load_n(&vg->kicked, __ATOMIC_ACQUIRE) && !(port && xg_test_evtchn(g, port)))
		rc = xg_poll(g, &port, port ? 1 : 0, deadline_ns ? deadline_ns : 1);
	__atomic_store_n(&vg->kicked, false, __ATOMIC_RELEASE);
	if (port)
		xg_clear_evtchn(g, port);
	return rc;
}

/* Cheap: is the peer's shared page still mapped here? Thorough: is our
 * port still connected to the peer (EVTCHNOP_status)? */
static bool vg_peer_alive(void *ctx, evtchn_port_t port, bool thorough)
{
	struct vchan_guest *vg = vg_of(ctx);
	struct evtchn_status st = { .dom = DOMID_SELF, .port = port };

	if (vg->first_map && xg_virt_to_gpa(vg->g, vg->first_map) == XEN_GUEST_BAD_GPA)
		return false;
	if (!thorough || !port)
		return true;
	if (xg_event_channel_op(vg->g, EVTCHNOP_status, &st) < 0)
		return false;
	return st.status == EVTCHNSTAT_interdomain;
}

/* ---- store and clock ------------------------------------------------------ */

static int vg_store_write(void *ctx, const char *path, const char *value, domid_t reader)
{
	struct vchan_guest *vg = vg_of(ctx);
	struct xenbus_perm perms[2] = { { vg->domid, 'n' }, { reader, 'r' } };
	/* Longer than a store value: xb_write refuses it. */
	size_t len = xg_strnlen(value, XENSTORE_PAYLOAD_MAX + 1);
	int rc = xb_write(vg->xb, XBT_NIL, path, value, len);

	if (rc == 0 && reader != vg->domid)
		rc = xb_set_perms(vg->xb, XBT_NIL, path, perms, 2);
	return rc;
}

static int vg_store_read(void *ctx, const char *path, char *buf, size_t len)
{
	size_t n = 0;
	int rc = xb_read(vg_of(ctx)->xb, XBT_NIL, path, buf, len, &n);

	return rc < 0 ? rc : (int)n;
}

static int vg_store_rm(void *ctx, const char *path)
{
	return xb_rm(vg_of(ctx)->xb, XBT_NIL, path);
}

static uint64_t vg_now(void *ctx)
{
	return xg_system_time_ns(vg_of(ctx)->g);
}

const struct vchan_env_ops vchan_guest_ops = {
	.share = vg_share,
	.unshare = vg_unshare,
	.map = vg_map,
	.unmap = vg_unmap,
	.set_unmap_notify = NULL, /* not available to a guest */
	.port_alloc = vg_port_alloc,
	.port_bind = vg_port_bind,
	.port_close = vg_port_close,
	.notify = vg_notify,
	.wait = vg_wait,
	.peer_alive = vg_peer_alive,
	.store_write = vg_store_write,
	.store_read = vg_store_read,
	.store_rm = vg_store_rm,
	.now_ns = vg_now,
	.spin_ns = VCHAN_GUEST_SPIN_NS,
};

/* Our domid, from the store (the toolstack writes it). */
static int vg_read_domid(struct vchan_guest *vg)
{
	char buf[8];
	size_t n = 0;
	uint64_t v;
	int rc = xb_read(vg->xb, XBT_NIL, "domid", buf, sizeof(buf), &n);

	if (rc < 0)
		return rc;
	/* All n bytes of the reply: a NUL among them is not a digit. */
	if (xg_parse_u64(buf, n, DOMID_FIRST_RESERVED - 1, &v) < 0)
		return -EBADMSG;
	vg->domid = (domid_t)v;
	return 0;
}

int vchan_guest_setup(struct vchan_guest *vg, struct xen_guest *g, struct xenbus *xb,
		      void *(*alloc_pages)(void *ctx, unsigned int n),
		      void (*free_pages)(void *ctx, void *p, unsigned int n), void *alloc_ctx)
{
	uint64_t si_gfn;

	if (!vg || !g || !xb || !alloc_pages || !g->start_info)
		return -EINVAL;
	__builtin_memset(vg, 0, sizeof(*vg));
	vg->g = g;
	vg->xb = xb;
	vg->alloc_pages = alloc_pages;
	vg->free_pages = free_pages;
	vg->alloc_ctx = alloc_ctx;
	vg->irq = -1;
	si_gfn = g->start_info->shared_info >> VCHAN_PAGE_SHIFT;
	vg->map_gfn = si_gfn + VCHAN_GUEST_DEFAULT_SKIP;
	vg->map_nr = VCHAN_GUEST_MAP_MAX - VCHAN_GUEST_DEFAULT_SKIP;
	return vg_read_domid(vg);
}

int vchan_guest_set_window(struct vchan_guest *vg, uint64_t map_gfn, unsigned int map_nr)
{
	if (map_nr == 0 || map_nr > VCHAN_GUEST_MAP_MAX)
		return -EINVAL;
	vg->map_gfn = map_gfn;
	vg->map_nr = map_nr;
	return 0;
}
