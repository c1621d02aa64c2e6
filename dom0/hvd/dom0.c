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

static void hvd_dom0_send_event(struct hvd *h, evtchn_port_t port)
{
	struct procdom_ctl_msg ev = { .op = PROCDOM_CTL_EVENT, .arg = port };
	struct hvd_conn *c = h->port_owner[port];

	if (hvd_conn_send(c, &ev, sizeof(ev), NULL, 0, -1) < 0)
		hvd_log(h, HV_LOG_WARN, "dom0 port %u: event lost for connection %u", port, c->id);
}

/* Mask, clear, send: one owned, pending, unmasked port. */
static void hvd_dom0_fire(struct hvd *h, struct shared_info *s, evtchn_port_t port)
{
	xen_ulong_t bit = (xen_ulong_t)1 << (port % BITS_PER_WORD);

	__atomic_fetch_or(&s->evtchn_mask[port / BITS_PER_WORD], bit, __ATOMIC_SEQ_CST);
	__atomic_fetch_and(&s->evtchn_pending[port / BITS_PER_WORD], ~bit, __ATOMIC_SEQ_CST);
	hvd_dom0_send_event(h, port);
}

static void hvd_dom0_scan_word(struct hvd *h, struct shared_info *s, unsigned int w)
{
	xen_ulong_t bits = __atomic_load_n(&s->evtchn_pending[w], __ATOMIC_SEQ_CST) &
			   ~__atomic_load_n(&s->evtchn_mask[w], __ATOMIC_SEQ_CST);

	while (bits) {
		unsigned int b = (unsigned int)__builtin_ctzl(bits);
		evtchn_port_t port = w * BITS_PER_WORD + b;

		bits &= bits - 1;
		if (port < HVD_DOM0_PORTS && h->port_owner[port])
			hvd_dom0_fire(h, s, port);
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
		hvd_dom0_own(c, u.bv.port);
	else if (cmd == EVTCHNOP_bind_ipi && len >= sizeof(u.bp))
		hvd_dom0_own(c, u.bp.port);
	else if (cmd == EVTCHNOP_close)
		hvd_dom0_disown(c->h, u.cl.port);
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
	if (h->port_owner[port] && h->port_owner[port] != c)
		return -EBUSY;
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
