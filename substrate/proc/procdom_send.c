/*
 * The daemon side of the fast send path (procdom_proto.h (c)): each
 * process domain's send table, derived from the core's port state.
 *
 * The core owns the truth. After anything that can change which ports are
 * interdomain, or where their events land (an event-channel or vCPU
 * hypercall, a dom0 event-channel hypercall, a domain created with
 * pre-bound channels, a domain destroyed), procdom_evtchn_changed()
 * re-derives the send tables of the domains concerned: for every port
 * p < PROCDOM_SEND_TABLE_PORTS of sender A it asks the core
 * (hv_evtchn_port_info) whether p is interdomain to <B, r> with B a live
 * process domain whose r is delivered 2-level through a legacy vcpu_info,
 * and makes entry p say so, or say nothing. Simple and slow-ish (a scan of
 * A's ports, ~1024 lookups), but only on control operations.
 *
 *   A's evt memfd (A maps it read-only)          A's peer slots
 *   send table[p] = { seq, slot k, vcpu, r } --> k: B's evt memfd, sent to A
 *                                                   as PROCDOM_MAP_PEER_EVT
 *
 * Slots, per sender, each naming one peer:
 *
 *   FREE --(an entry wants B)--> MAP_QUEUED --(reply with PEER_EVT k sent)-->
 *   MAPPED --(no entry uses k)--> DROP_QUEUED --(reply with PEER_DROP sent)-->
 *   DROP_SENT --(every vCPU past the drop)--> FREE
 *   MAP_QUEUED --(no entry uses k before the reply)--> FREE   (nothing was sent)
 *
 * Entries naming slot k are published only while k is MAPPED, so A never
 * reads an entry for a slot it has not been told about; an entry is taken
 * down (peer_slot 0) at once, before the hypercall that changed the port is
 * answered, i.e. before the close completes. A slot is never given to
 * another peer before its drop has left: A may still have the old peer
 * mapped there. A send racing a take-down sets at worst one stale pending
 * bit in the old peer (the design's stated hazard).
 *
 * Slot reuse across vCPUs. Slot changes ride on whichever vCPU's reply
 * leaves next, and each vCPU thread applies its own replies; a sender on
 * another vCPU may have read slot k's mapping just before. So when k is
 * dropped on vCPU v's reply and then given to peer C on vCPU w's reply, a
 * thread could still send through k's old peer B -- or v could apply the
 * drop after w applied C's map -- while entries name k for C. Hence
 * DROP_SENT: k is not reused until every vCPU is past the drop:
 *   - v has sent another request (the runtime applies a reply's map
 *     changes before it returns, so before its next request);
 *   - any other vCPU w has sent a request since (one outstanding request
 *     per vCPU: w was then in a hypercall or finished whatever fast send it
 *     had started), or its page says it is not RUNNING (STOPPED, or inside
 *     rt_wait, which it entered after any send). A vCPU not RUNNING when
 *     the drop left is not waited for at all.
 * A slot whose vCPUs stay idle stays DROP_SENT; a sender then has one slot
 * fewer, never a wrong one.
 *
 * Entry writes follow the seqcount of procdom_proto.h (c); the reader is
 * rt_send_lookup() in runtime/rt_fast.c. xenon-hvd is single-threaded, the
 * only writer.
 */
#include <errno.h>
#include <stdlib.h>

#include "domid_set.h"
#include "procdom_internal.h"

#define SEND_NR_2L_PORTS ((unsigned int)(sizeof(xen_ulong_t) * 8 * sizeof(xen_ulong_t) * 8))

static struct procdom_send_entry *send_entry(struct procdom_domain *d, evtchn_port_t p)
{
	return (struct procdom_send_entry *)(d->evt.base + PROCDOM_EVT_SEND_OFFSET) + p;
}

/* The seqcount writer. Pairs with rt_send_lookup(): its acquire load of seq
 * with our final release store; its acquire fence (before re-reading seq)
 * with our release fence after making seq odd. */
static void send_entry_write(struct procdom_domain *d, evtchn_port_t p,
			     const struct procdom_send_want *w)
{
	struct procdom_send_entry *e = send_entry(d, p);
	uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->peer_slot, w->slot, __ATOMIC_RELAXED);
	__atomic_store_n(&e->peer_vcpu, w->vcpu, __ATOMIC_RELAXED);
	__atomic_store_n(&e->remote_port, w->port, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

/* Make the table show want[p] if its slot may be used (MAPPED), else no
 * entry. Writes only on change. */
static void send_publish(struct procdom_domain *d, evtchn_port_t p)
{
	static const struct procdom_send_want none;
	const struct procdom_send_want *w = &d->send->want[p];
	const struct procdom_send_entry *e = send_entry(d, p);

	if (w->slot && d->send->slot[w->slot].state != PROCDOM_SLOT_MAPPED)
		w = &none;
	if (e->peer_slot == w->slot && e->peer_vcpu == w->vcpu && e->remote_port == w->port)
		return;
	send_entry_write(d, p, w);
}

static void send_slot_put(struct procdom_domain *d, unsigned int k)
{
	struct procdom_peer_slot *s = &d->send->slot[k];

	if (--s->users)
		return;
	s->peer = DOMID_INVALID;
	s->state = s->state == PROCDOM_SLOT_MAPPED ? PROCDOM_SLOT_DROP_QUEUED : PROCDOM_SLOT_FREE;
}

/* DROP_SENT slot k: vCPUs past the drop leave drop_wait (see "Slot reuse");
 * empty, k is FREE. seen: a request arrived from that vCPU (-1: none). */
static void send_drop_check(struct procdom_domain *d, unsigned int k, int seen)
{
	struct procdom_peer_slot *s = &d->send->slot[k];
	unsigned int v;

	for (v = 0; s->drop_wait && v < d->max_vcpus && v < 32; v++) {
		if (!(s->drop_wait & (1u << v)))
			continue;
		if ((int)v == seen || (v != s->drop_vcpu &&
				       __atomic_load_n(&procdom_vcpu_page(d, v)->state,
						       __ATOMIC_SEQ_CST) != PROCDOM_VCPU_RUNNING))
			s->drop_wait &= ~(1u << v);
	}
	if (!s->drop_wait) {
		s->state = PROCDOM_SLOT_FREE;
		d->send->nr_drops_sent--;
	}
}

void procdom_send_request_seen(struct procdom_domain *d, unsigned int vcpu)
{
	unsigned int k;

	for (k = 1; d->send && d->send->nr_drops_sent && k <= PROCDOM_MAX_PEER_SLOTS; k++)
		if (d->send->slot[k].state == PROCDOM_SLOT_DROP_SENT)
			send_drop_check(d, k, (int)vcpu);
}

/* The vCPUs a drop sent on vCPU v's reply waits for: v, and every other
 * vCPU RUNNING now. */
static uint32_t send_drop_waiters(struct procdom_domain *d, unsigned int v)
{
	uint32_t mask = 1u << v;
	unsigned int w;

	for (w = 0; w < d->max_vcpus && w < 32; w++)
		if (__atomic_load_n(&procdom_vcpu_page(d, w)->state, __ATOMIC_SEQ_CST) ==
		    PROCDOM_VCPU_RUNNING)
			mask |= 1u << w;
	return mask;
}

/* The slot showing peer b (taking a reference), a new one, or 0 if all are
 * taken (logged once per domain). */
static unsigned int send_slot_get(struct procdom_domain *d, domid_t b)
{
	struct procdom_send *st = d->send;
	unsigned int k, free_k = 0;

	for (k = 1; st->nr_drops_sent && k <= PROCDOM_MAX_PEER_SLOTS; k++)
		if (st->slot[k].state == PROCDOM_SLOT_DROP_SENT)
			send_drop_check(d, k, -1);
	for (k = 1; k <= PROCDOM_MAX_PEER_SLOTS; k++) {
		if (st->slot[k].peer == b && st->slot[k].users) {
			st->slot[k].users++;
			return k;
		}
		if (!free_k && st->slot[k].state == PROCDOM_SLOT_FREE)
			free_k = k;
	}
	if (!free_k) {
		if (!st->full_logged)
			procdom_log(
				d->pd, HV_LOG_WARN,
				"d%u: all %u peer slots in use: sends to d%u take the hypercall",
				d->domid, PROCDOM_MAX_PEER_SLOTS, b);
		st->full_logged = true;
		return 0;
	}
	st->slot[free_k] = (struct procdom_peer_slot){ .peer = b,
						       .state = PROCDOM_SLOT_MAP_QUEUED,
						       .users = 1 };
	return free_k;
}

/* Where a send on d's port p must go, from the core: true with *w filled
 * (slot left 0) if p is interdomain to a live process domain whose remote
 * port a peer may set. */
static bool send_target(struct procdom_domain *d, evtchn_port_t p, const struct evtchn_status *st,
			struct procdom_send_want *w, domid_t *ret_peer)
{
	struct procdom *pd = d->pd;
	struct procdom_domain *b;
	struct evtchn_status rst;
	bool settable;

	if (st->status != EVTCHNSTAT_interdomain || st->u.interdomain.dom == 0)
		return false;
	b = procdom_lookup(pd, st->u.interdomain.dom);
	/* Only a running process reads its shared_info itself; a domain
	 * without one (dom0, tests) is served by local_kick. */
	if (!b || !b->proc || b->reaped || b->releasing ||
	    st->u.interdomain.port >= SEND_NR_2L_PORTS)
		return false;
	if (hv_evtchn_port_info(pd->hv, b->domid, st->u.interdomain.port, &rst, &settable) ||
	    !settable || rst.status != EVTCHNSTAT_interdomain ||
	    rst.u.interdomain.dom != d->domid || rst.u.interdomain.port != p ||
	    rst.vcpu >= PROCDOM_EVT_MAX_VCPUS)
		return false;
	*w = (struct procdom_send_want){ .vcpu = (uint16_t)rst.vcpu,
					 .port = st->u.interdomain.port };
	*ret_peer = b->domid;
	return true;
}

/* Entry p := target (or none); slots referenced accordingly. The new slot
 * is taken before the old one is let go, so a changed vCPU or port keeps
 * its peer's slot. */
static void send_set(struct procdom_domain *d, evtchn_port_t p, bool has, domid_t b,
		     struct procdom_send_want w)
{
	struct procdom_send_want *cur = &d->send->want[p];
	unsigned int old = cur->slot;

	if (has && old && d->send->slot[old].peer == b && cur->vcpu == w.vcpu &&
	    cur->port == w.port)
		return;
	w.slot = has ? (uint16_t)send_slot_get(d, b) : 0;
	*cur = w.slot ? w : (struct procdom_send_want){ 0 };
	/* The entry shows the new target or none before the old slot can be
	 * queued for dropping. */
	send_publish(d, p);
	if (old)
		send_slot_put(d, old);
}

static int send_state_get(struct procdom_domain *d)
{
	unsigned int k;

	if (d->send)
		return 0;
	d->send = calloc(1, sizeof(*d->send));
	if (!d->send) {
		procdom_log(d->pd, HV_LOG_ERR, "d%u: no memory for the send table", d->domid);
		return -ENOMEM;
	}
	for (k = 0; k <= PROCDOM_MAX_PEER_SLOTS; k++)
		d->send->slot[k].peer = DOMID_INVALID;
	d->send_next = d->pd->senders;
	d->pd->senders = d;
	return 0;
}

static void send_state_put(struct procdom_domain *d)
{
	struct procdom_domain **pp;

	if (!d->send)
		return;
	for (pp = &d->pd->senders; *pp; pp = &(*pp)->send_next) {
		if (*pp == d) {
			*pp = d->send_next;
			break;
		}
	}
	free(d->send);
	d->send = NULL;
	d->send_next = NULL;
}

/* Re-derive d's whole table. With `peers`, add to it every domain d's
 * ports (all of them, not only the table's) are interdomain to. */
static void send_sync(struct procdom_domain *d, struct domid_set *peers)
{
	struct procdom_send_want w;
	struct evtchn_status st;
	evtchn_port_t p;
	bool settable;
	domid_t b;

	if (!d->proc || !d->pd->hv)
		return; /* no runtime reads a table: dom0, process-less domains */
	for (p = 1; hv_evtchn_port_info(d->pd->hv, d->domid, p, &st, &settable) == 0; p++) {
		if (peers && st.status == EVTCHNSTAT_interdomain)
			domid_set_add(peers, st.u.interdomain.dom);
		if (p >= PROCDOM_SEND_TABLE_PORTS)
			continue;
		if (!send_target(d, p, &st, &w, &b)) {
			if (d->send)
				send_set(d, p, false, 0, w);
			continue;
		}
		if (send_state_get(d) == 0)
			send_set(d, p, true, b, w);
	}
}

static bool send_has_peer(const struct procdom_domain *d, domid_t b)
{
	unsigned int k;

	for (k = 1; d->send && k <= PROCDOM_MAX_PEER_SLOTS; k++)
		if (d->send->slot[k].users && d->send->slot[k].peer == b)
			return true;
	return false;
}

static bool send_has_any(const struct procdom_domain *d)
{
	unsigned int k;

	for (k = 1; d->send && k <= PROCDOM_MAX_PEER_SLOTS; k++)
		if (d->send->slot[k].users)
			return true;
	return false;
}

/*
 * Cost: x's own ports, the domains x's ports name and the domains with send
 * state (pd->senders). A domain without send state and without a channel to
 * x cannot have an entry to change, so creating the 1000th domain does not
 * walk the other 999. x's peers go in a domid_set: adding and looking up
 * are O(1), walking them in order a few word reads each, never a scan of
 * every domid; and it is on the stack, so no allocation can lose one.
 */
void procdom_evtchn_changed(struct procdom *pd, domid_t domid)
{
	struct procdom_domain *x = procdom_lookup(pd, domid), *o;
	struct domid_set peers;
	unsigned int from;
	domid_t b;

	if (!x || !x->proc) {
		/* dom0 (or a process-less domain) binds only channels without a
		 * table entry, but may close or reset another domain's: re-derive
		 * every table that has an entry. */
		for (o = pd->senders; o; o = o->send_next)
			if (send_has_any(o))
				send_sync(o, NULL);
		return;
	}
	domid_set_init(&peers);
	send_sync(x, &peers);
	/* Senders naming x (a channel may just have closed) ... */
	for (o = pd->senders; o; o = o->send_next)
		if (o != x && !domid_set_has(&peers, o->domid) && send_has_peer(o, domid))
			send_sync(o, NULL);
	/* ... and every domain x's ports name, which may now want an entry.
	 * (send_sync may put o on pd->senders: done above already.) */
	for (from = 0; domid_set_next_used(&peers, from, &b) == 0; from = b + 1u) {
		o = procdom_lookup(pd, b);
		if (o && o != x)
			send_sync(o, NULL);
	}
}

void procdom_send_port_check(struct procdom_domain *d, evtchn_port_t p)
{
	struct procdom_send_want w;
	struct evtchn_status st;
	bool settable, has;
	domid_t b = 0;

	if (p >= PROCDOM_SEND_TABLE_PORTS || !d->proc || !d->pd->hv)
		return;
	if (hv_evtchn_port_info(d->pd->hv, d->domid, p, &st, &settable))
		return;
	has = send_target(d, p, &st, &w, &b);
	if (!has && !d->send)
		return;
	if (send_state_get(d) == 0)
		send_set(d, p, has, b, w);
}

/* d is going away (the core has destroyed it): every table naming it is
 * re-derived, and whatever still names it is taken down. */
void procdom_send_domain_gone(struct procdom_domain *d)
{
	struct procdom_domain *o;
	evtchn_port_t p;

	d->releasing = true;
	for (o = d->pd->senders; o; o = o->send_next) {
		if (o == d || !send_has_peer(o, d->domid))
			continue;
		send_sync(o, NULL);
		for (p = 0; send_has_peer(o, d->domid) && p < PROCDOM_SEND_TABLE_PORTS; p++)
			if (o->send->want[p].slot &&
			    o->send->slot[o->send->want[p].slot].peer == d->domid)
				send_set(o, p, false, 0, o->send->want[p]);
	}
	send_state_put(d);
}

/* ---- slot changes riding on replies ---------------------------------- */

unsigned int procdom_send_take_maps(struct procdom_domain *d, struct procdom_map *maps,
				    unsigned int room, int (*fd_index)(void *ctx, int fd),
				    void *ctx, bool *ret_more)
{
	struct procdom_domain *b;
	unsigned int k, n = 0;

	*ret_more = false;
	for (k = 1; d->send && k <= PROCDOM_MAX_PEER_SLOTS; k++) {
		struct procdom_peer_slot *s = &d->send->slot[k];

		if (s->state != PROCDOM_SLOT_MAP_QUEUED && s->state != PROCDOM_SLOT_DROP_QUEUED)
			continue;
		if (n == room) {
			*ret_more = true;
			break;
		}
		maps[n] = (struct procdom_map){ .gfn = k,
						.kind = PROCDOM_MAP_PEER_DROP,
						.fd_index = -1 };
		if (s->state == PROCDOM_SLOT_MAP_QUEUED) {
			b = procdom_lookup(d->pd, s->peer);
			if (!b || b->releasing)
				continue; /* cannot happen: gone peers are synced first */
			maps[n].kind = PROCDOM_MAP_PEER_EVT;
			maps[n].fd_index = fd_index(ctx, b->evt.fd);
		}
		s->in_reply = true;
		n++;
	}
	return n;
}

void procdom_send_reply_done(struct procdom_domain *d, unsigned int vcpu, bool sent)
{
	bool mapped = false;
	unsigned int k;
	evtchn_port_t p;

	for (k = 1; d->send && k <= PROCDOM_MAX_PEER_SLOTS; k++) {
		struct procdom_peer_slot *s = &d->send->slot[k];

		if (!s->in_reply)
			continue;
		s->in_reply = false;
		if (!sent)
			continue;
		if (s->state == PROCDOM_SLOT_MAP_QUEUED) {
			s->state = PROCDOM_SLOT_MAPPED;
			mapped = true;
		} else if (s->state == PROCDOM_SLOT_DROP_QUEUED) {
			s->state = PROCDOM_SLOT_DROP_SENT;
			s->drop_vcpu = vcpu;
			s->drop_wait = send_drop_waiters(d, vcpu);
			d->send->nr_drops_sent++;
		}
	}
	/* Only now, after the reply naming the slot has left, may entries
	 * naming it appear (procdom_proto.h (c) step 2). */
	for (p = 0; mapped && p < PROCDOM_SEND_TABLE_PORTS; p++)
		if (d->send->want[p].slot)
			send_publish(d, p);
}
