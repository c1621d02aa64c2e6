/*
 * dom0 inside xenon-hvd: a privileged domain with no process of its own.
 * Its clients (toolstack, xenstored, back ends) reach it over hvd.sock.
 *
 * Hypercalls: a client's argument buffer is copied into dom0's scratch
 * frames (PROCDOM_DOM0_SCRATCH_GFN.., guest-physical in dom0's RAM), so the
 * core's copy_from_guest/copy_to_guest work unchanged, and copied back for
 * the reply. One thread, so one scratch area serves every client in turn.
 * A domU must never reach these frames (it could rewrite a client's
 * arguments between our copy and the core's read): they live in dom0's ram
 * memfd, which is sent to no domain; what dom0 grants is in per-share
 * memfds (gnttab.c, procdom.h "Overlays").
 *
 * Events: dom0's vCPU 0 is kicked (procdom local_kick) when its
 * evtchn_upcall_pending goes 0 -> 1. After the core call returns we act as
 * a guest's upcall would, then as Linux's evtchn driver does:
 *
 *   upcall_pending = 0; sel = xchg(pending_sel, 0)     (pairs with the core's
 *   for each word w in sel:                            set in evtchn_2l_notify)
 *     for each port p pending & ~masked in word w:
 *       owner = port_owner[p]; none -> leave it pending
 *       mask p; clear pending p; send EVENT(p) to owner
 *
 * The client unmasks p (EVTCHNOP_unmask) once it has handled the event; the
 * core re-delivers then if p became pending meanwhile. A port nobody owns
 * stays pending, and is delivered when a connection starts watching it.
 *
 * Global VIRQs (VIRQ_DOM_EXC, ...) bind once per domain, as in Xen: a second
 * EVTCHNOP_bind_virq fails with -EEXIST, so in a Linux dom0 only one process
 * (xenstored) hears of a dying domain. Here xenon-hvd is dom0's kernel and
 * shares the one binding among every connection that asks for it:
 *
 *   A: bind_virq(DOM_EXC)  the core binds dom0's port P; A subscribes
 *   B: bind_virq(DOM_EXC)  no core call; B subscribes and gets P too
 *   P fires                clear pending (P stays unmasked in the core);
 *                          each subscriber: masked by it ? note "pending"
 *                          : send EVENT(P) and mask it for that subscriber
 *   B: unmask(P)           B's own mask cleared; fired meanwhile -> EVENT
 *   B: close(P)            B unsubscribes; the last one out closes P
 *
 * The mask is per subscriber (bits in its connection), so a slow client
 * neither holds the event back from the others nor loses it: it gets one
 * EVENT when it unmasks, as a masked port's pending bit would give it. A
 * subscription counts as an owned port towards the per-connection limit.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <xen/event_channel.h>
#include <xen/xen.h>

#include "hvd.h"

#define BITS_PER_WORD (sizeof(xen_ulong_t) * 8)

void hvd_dom0_local_kick(void *ctx, domid_t domid, unsigned int vcpu)
{
	struct hvd *h = ctx;

	if (domid == 0)
		h->dom0_kicked = true;
}

static void hvd_dom0_send_event(struct hvd *h, struct hvd_conn *c, evtchn_port_t port)
{
	struct procdom_ctl_msg ev = { .op = PROCDOM_CTL_EVENT, .arg = port };

	if (hvd_conn_send(c, &ev, sizeof(ev), NULL, 0, -1) < 0)
		hvd_log(h, HV_LOG_WARN, "dom0 port %u: event lost for connection %u", port, c->id);
}

/* Mask, clear, send: one owned, pending, unmasked port. */
static void hvd_dom0_fire(struct hvd *h, struct shared_info *s, evtchn_port_t port)
{
	xen_ulong_t bit = (xen_ulong_t)1 << (port % BITS_PER_WORD);

	__atomic_fetch_or(&s->evtchn_mask[port / BITS_PER_WORD], bit, __ATOMIC_SEQ_CST);
	__atomic_fetch_and(&s->evtchn_pending[port / BITS_PER_WORD], ~bit, __ATOMIC_SEQ_CST);
	hvd_dom0_send_event(h, h->port_owner[port], port);
}

/* The shared global VIRQ dom0's port carries, or -1. */
static int hvd_dom0_port_virq(const struct hvd *h, evtchn_port_t port)
{
	if (port == 0 || port >= HVD_DOM0_PORTS)
		return -1;
	return (int)h->port_virq[port] - 1;
}

/* virq is shared on dom0's port (0: no longer). virq_port and port_virq
 * change only here, so each stays the other's inverse. */
static void hvd_virq_port_set(struct hvd *h, unsigned int virq, evtchn_port_t port)
{
	_Static_assert(NR_VIRQS < UINT8_MAX, "virq + 1 fits port_virq");
	if (h->virq_port[virq])
		h->port_virq[h->virq_port[virq]] = 0;
	h->virq_port[virq] = port;
	if (port)
		h->port_virq[port] = (uint8_t)(virq + 1);
}

/* A shared VIRQ's port fired: clear it, tell each subscriber not masking it. */
static void hvd_dom0_fan_out(struct hvd *h, struct shared_info *s, unsigned int virq,
			     evtchn_port_t port)
{
	xen_ulong_t pbit = (xen_ulong_t)1 << (port % BITS_PER_WORD);
	uint32_t bit = 1u << virq;
	struct hvd_conn *c;

	__atomic_fetch_and(&s->evtchn_pending[port / BITS_PER_WORD], ~pbit, __ATOMIC_SEQ_CST);
	for (c = h->conns; c; c = c->next) {
		if (c->dead || !(c->virq_sub & bit))
			continue;
		if (c->virq_masked & bit) {
			c->virq_pending |= bit;
			continue;
		}
		c->virq_masked |= bit;
		hvd_dom0_send_event(h, c, port);
	}
}

static void hvd_dom0_scan_word(struct hvd *h, struct shared_info *s, unsigned int w)
{
	xen_ulong_t bits = __atomic_load_n(&s->evtchn_pending[w], __ATOMIC_SEQ_CST) &
			   ~__atomic_load_n(&s->evtchn_mask[w], __ATOMIC_SEQ_CST);

	while (bits) {
		unsigned int b = (unsigned int)__builtin_ctzl(bits);
		evtchn_port_t port = w * BITS_PER_WORD + b;

		int virq;

		bits &= bits - 1;
		if (port < HVD_DOM0_PORTS && h->port_owner[port])
			hvd_dom0_fire(h, s, port);
		else if ((virq = hvd_dom0_port_virq(h, port)) >= 0)
			hvd_dom0_fan_out(h, s, (unsigned int)virq, port);
	}
}

void hvd_dom0_deliver(struct hvd *h)
{
	struct hvd_domain *d0 = hvd_domain_get(h, 0);
	struct shared_info *s;
	struct vcpu_info *vi;
	xen_ulong_t sel;

	if (!h->dom0_kicked || !d0)
		return;
	h->dom0_kicked = false;
	s = procdom_domain_shared_info(d0->pdom);
	vi = &s->vcpu_info[0];
	__atomic_store_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
	sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	while (sel) {
		unsigned int w = (unsigned int)__builtin_ctzl(sel);

		sel &= sel - 1;
		hvd_dom0_scan_word(h, s, w);
	}
}

/* ---- hypercalls ------------------------------------------------------- */

long hvd_dom0_hypercall(struct hvd *h, unsigned int op, uint64_t args[5], unsigned int buf_arg,
			void *buf, size_t len)
{
	struct hvd_domain *d0 = hvd_domain_get(h, 0);
	uint8_t *scratch;
	long ret;

	if (!d0)
		return -ESRCH;
	scratch = procdom_domain_ram(d0->pdom, PROCDOM_DOM0_SCRATCH_GFN);
	if (len > PROCDOM_SCRATCH_SIZE || (len && buf_arg > 4))
		return -EINVAL;
	if (len) {
		memcpy(scratch, buf, len);
		args[buf_arg] += PROCDOM_DOM0_SCRATCH_GPA;
	}
	ret = hypercall(h->hv, 0, 0, op, args, NULL);
	if (len)
		memcpy(buf, scratch, len);
	/* dom0 may close or reset a domU's channels: the fast path's send
	 * tables follow the core before the client hears back. */
	if (op == __HYPERVISOR_event_channel_op && args[0] != EVTCHNOP_send &&
	    args[0] != EVTCHNOP_status && args[0] != EVTCHNOP_unmask)
		procdom_evtchn_changed(h->pd, 0);
	return ret;
}

static bool hvd_dom0_op_allowed(unsigned int op)
{
	switch (op) {
	case __HYPERVISOR_event_channel_op:
	case __HYPERVISOR_grant_table_op:
	case __HYPERVISOR_xen_version:
	case __HYPERVISOR_memory_op:
	case __HYPERVISOR_hvm_op:
	case __HYPERVISOR_console_io:
		return true;
	}
	return false;
}

static void hvd_dom0_own(struct hvd_conn *c, evtchn_port_t port)
{
	struct hvd *h = c->h;

	if (port >= HVD_DOM0_PORTS)
		return;
	if (!h->port_owner[port])
		c->nr_owned++;
	else if (h->port_owner[port] != c)
		h->port_owner[port]->nr_owned--;
	h->port_owner[port] = c;
	h->port_autoclose[port] = true;
}

/* ---- shared global VIRQs ----------------------------------------------- */

static void hvd_virq_subscribe(struct hvd_conn *c, unsigned int virq)
{
	uint32_t bit = 1u << virq;

	c->virq_sub |= bit;
	c->virq_masked &= ~bit;
	c->virq_pending &= ~bit;
	c->nr_owned++;
	c->h->virq_nr_subs[virq]++;
}

/* c leaves virq's subscribers; the last one out closes dom0's port. */
static long hvd_virq_unsubscribe(struct hvd_conn *c, unsigned int virq)
{
	struct hvd *h = c->h;
	struct evtchn_close cl = { .port = h->virq_port[virq] };
	uint64_t args[5] = { EVTCHNOP_close, 0 };
	uint32_t bit = 1u << virq;

	c->virq_sub &= ~bit;
	c->virq_masked &= ~bit;
	c->virq_pending &= ~bit;
	c->nr_owned--;
	if (--h->virq_nr_subs[virq])
		return 0;
	hvd_virq_port_set(h, virq, 0);
	return hvd_dom0_hypercall(h, __HYPERVISOR_event_channel_op, args, 1, &cl, sizeof(cl));
}

/* c is done with the event: one more if the port fired meanwhile. */
static void hvd_virq_unmask(struct hvd_conn *c, unsigned int virq)
{
	uint32_t bit = 1u << virq;

	c->virq_masked &= ~bit;
	if (!(c->virq_pending & bit))
		return;
	c->virq_pending &= ~bit;
	c->virq_masked |= bit;
	hvd_dom0_send_event(c->h, c, c->h->virq_port[virq]);
}

/* bind_virq of a global VIRQ some connection already holds: join it. */
static bool hvd_virq_bind(struct hvd_conn *c, void *buf, size_t len, long *ret)
{
	struct evtchn_bind_virq bv;

	if (len < sizeof(bv))
		return false;
	memcpy(&bv, buf, sizeof(bv));
	if (!hv_virq_is_global(bv.virq) || bv.vcpu != 0 || !c->h->virq_port[bv.virq])
		return false; /* the core binds it, or refuses */
	if (c->virq_sub & (1u << bv.virq)) {
		*ret = -EEXIST; /* once per handle, as Xen's once per domain */
		return true;
	}
	hvd_virq_subscribe(c, bv.virq);
	bv.port = c->h->virq_port[bv.virq];
	memcpy(buf, &bv, sizeof(bv));
	*ret = 0;
	return true;
}

/*
 * EVTCHNOP_bind_virq, close and unmask on a shared VIRQ are done here, the
 * core seeing only the first bind and the last close. Returns whether the
 * op was handled, its result in *ret.
 */
static bool hvd_virq_op(struct hvd_conn *c, unsigned int cmd, void *buf, size_t len, long *ret)
{
	struct evtchn_close cl; /* as struct evtchn_unmask: { port } */
	int virq;

	_Static_assert(sizeof(struct evtchn_close) == sizeof(struct evtchn_unmask), "one port");
	if (cmd == EVTCHNOP_bind_virq)
		return hvd_virq_bind(c, buf, len, ret);
	if ((cmd != EVTCHNOP_close && cmd != EVTCHNOP_unmask) || len < sizeof(cl))
		return false;
	memcpy(&cl, buf, sizeof(cl));
	virq = hvd_dom0_port_virq(c->h, cl.port);
	if (virq < 0)
		return false;
	*ret = 0;
	if (!(c->virq_sub & (1u << virq)))
		*ret = cmd == EVTCHNOP_close ? -ENOTCONN : 0; /* others' binding */
	else if (cmd == EVTCHNOP_close)
		*ret = hvd_virq_unsubscribe(c, (unsigned int)virq);
	else
		hvd_virq_unmask(c, (unsigned int)virq);
	return true;
}

/* The core just bound a VIRQ for c: a global one becomes shareable. */
static void hvd_virq_bound(struct hvd_conn *c, const struct evtchn_bind_virq *bv)
{
	if (!hv_virq_is_global(bv->virq) || bv->vcpu != 0 || bv->port >= HVD_DOM0_PORTS) {
		hvd_dom0_own(c, bv->port);
		return;
	}
	hvd_virq_port_set(c->h, bv->virq, bv->port);
	hvd_virq_subscribe(c, bv->virq);
}

static void hvd_dom0_disown(struct hvd *h, evtchn_port_t port)
{
	if (port >= HVD_DOM0_PORTS || !h->port_owner[port])
		return;
	h->port_owner[port]->nr_owned--;
	h->port_owner[port] = NULL;
	h->port_autoclose[port] = false;
}

/* Which dom0 port, if any, a successful EVTCHNOP just opened or closed. */
static void hvd_dom0_track(struct hvd_conn *c, unsigned int cmd, const void *buf, size_t len)
{
	union {
		struct evtchn_alloc_unbound au;
		struct evtchn_bind_interdomain bi;
		struct evtchn_bind_virq bv;
		struct evtchn_bind_ipi bp;
		struct evtchn_close cl;
	} u;

	if (len < sizeof(u.cl))
		return;
	memcpy(&u, buf, len < sizeof(u) ? len : sizeof(u));
	if (cmd == EVTCHNOP_alloc_unbound && len >= sizeof(u.au) &&
	    (u.au.dom == DOMID_SELF || u.au.dom == 0))
		hvd_dom0_own(c, u.au.port);
	else if (cmd == EVTCHNOP_bind_interdomain && len >= sizeof(u.bi))
		hvd_dom0_own(c, u.bi.local_port);
	else if (cmd == EVTCHNOP_bind_virq && len >= sizeof(u.bv))
		hvd_virq_bound(c, &u.bv);
	else if (cmd == EVTCHNOP_bind_ipi && len >= sizeof(u.bp))
		hvd_dom0_own(c, u.bp.port);
	else if (cmd == EVTCHNOP_close)
		hvd_dom0_disown(c->h, u.cl.port);
}

/*
 * dom0's ports belong to the connections that bound them, as a libxenevtchn
 * handle's do: one client may not close or rebind another's port, nor reset
 * dom0's channels (which would close every client's). Ports nobody owns
 * (reserved at dom0's creation and not watched) stay open to all.
 */
static long hvd_dom0_port_guard(struct hvd_conn *c, unsigned int cmd, const void *buf, size_t len)
{
	struct hvd *h = c->h;
	union {
		struct evtchn_close cl;
		struct evtchn_bind_vcpu bv;
		struct evtchn_reset rs;
	} u;
	evtchn_port_t port;

	memset(&u, 0, sizeof(u));
	memcpy(&u, buf, len < sizeof(u) ? len : sizeof(u));
	switch (cmd) {
	case EVTCHNOP_reset:
		if (len < sizeof(u.rs) || (u.rs.dom != DOMID_SELF && u.rs.dom != 0))
			return 0;
		hvd_log(h, HV_LOG_WARN, "connection %u: may not reset dom0's channels", c->id);
		return -EPERM;
	case EVTCHNOP_close:
		port = u.cl.port;
		break;
	case EVTCHNOP_bind_vcpu:
		port = u.bv.port;
		break;
	default:
		return 0;
	}
	if (port < HVD_DOM0_PORTS && h->port_owner[port] && h->port_owner[port] != c)
		return -ENOTCONN;
	return 0;
}

long hvd_dom0_client_hypercall(struct hvd_conn *c, struct procdom_ctl_hypercall *hc, void *buf)
{
	long ret;

	if (!hvd_dom0_op_allowed(hc->op))
		return -ENOSYS;
	if (hc->buf_arg == PROCDOM_HC_NO_BUF)
		hc->buf_len = 0;
	else if (hc->buf_arg > 4)
		return -EINVAL;
	if (hc->op == __HYPERVISOR_event_channel_op && c->nr_owned >= HVD_MAX_OWNED_PER_CONN &&
	    hc->args[0] != EVTCHNOP_close && hc->args[0] != EVTCHNOP_unmask &&
	    hc->args[0] != EVTCHNOP_send && hc->args[0] != EVTCHNOP_status) {
		hvd_log(c->h, HV_LOG_WARN, "connection %u: owns %u dom0 ports, the limit", c->id,
			c->nr_owned);
		return -ENOSPC;
	}
	if (hc->op == __HYPERVISOR_event_channel_op &&
	    hvd_virq_op(c, (unsigned int)hc->args[0], buf, hc->buf_len, &ret))
		return ret;
	if (hc->op == __HYPERVISOR_event_channel_op &&
	    (ret = hvd_dom0_port_guard(c, (unsigned int)hc->args[0], buf, hc->buf_len)))
		return ret;
	ret = hvd_dom0_hypercall(c->h, hc->op, hc->args, hc->buf_arg, buf, hc->buf_len);
	if (ret == 0 && hc->op == __HYPERVISOR_event_channel_op)
		hvd_dom0_track(c, (unsigned int)hc->args[0], buf, hc->buf_len);
	return ret;
}

int hvd_dom0_watch(struct hvd_conn *c, int64_t port, bool watch)
{
	struct hvd *h = c->h;

	if (port <= 0 || port >= HVD_DOM0_PORTS)
		return -EINVAL;
	if ((h->port_owner[port] && h->port_owner[port] != c) ||
	    hvd_dom0_port_virq(h, (evtchn_port_t)port) >= 0)
		return -EBUSY; /* a shared VIRQ is bound, not watched */
	if (!watch) {
		if (h->port_owner[port] == c)
			hvd_dom0_disown(h, (evtchn_port_t)port);
		return 0;
	}
	if (h->port_owner[port] != c && c->nr_owned >= HVD_MAX_OWNED_PER_CONN)
		return -ENOSPC;
	hvd_dom0_own(c, (evtchn_port_t)port);
	h->port_autoclose[port] = false;
	/* Something may have fired while nobody owned it. */
	h->dom0_kicked = true;
	{
		struct hvd_domain *d0 = hvd_domain_get(h, 0);
		struct shared_info *s = procdom_domain_shared_info(d0->pdom);

		__atomic_fetch_or(&s->vcpu_info[0].evtchn_pending_sel,
				  (xen_ulong_t)1 << (port / BITS_PER_WORD), __ATOMIC_SEQ_CST);
	}
	return 0;
}

void hvd_dom0_conn_gone(struct hvd_conn *c)
{
	struct hvd *h = c->h;
	evtchn_port_t port;

	while (c->virq_sub)
		hvd_virq_unsubscribe(c, (unsigned int)__builtin_ctz(c->virq_sub));
	for (port = 1; port < HVD_DOM0_PORTS && c->nr_owned; port++) {
		struct evtchn_close cl = { .port = port };
		uint64_t args[5] = { EVTCHNOP_close, 0 };
		bool autoclose = h->port_autoclose[port];

		if (h->port_owner[port] != c)
			continue;
		hvd_dom0_disown(h, port);
		if (autoclose)
			hvd_dom0_hypercall(h, __HYPERVISOR_event_channel_op, args, 1, &cl,
					   sizeof(cl));
	}
}
