/*
 * Event channels: the ABI-independent port state machine and EVTCHNOP_*.
 *
 * Port table. A domain's ports live in buckets of EVTCHN_PER_BUCKET
 * structs, allocated on first use, so an idle domain holds one bucket
 * (port 0 reserved plus its neighbours) and a pointer array:
 *
 *   d->evtchn.buckets[0] --> [ 0 reserved | 1 unbound | 2 ipi | ... | 63 ]
 *   d->evtchn.buckets[1] --> NULL   (no port 64..127 used yet)
 *   d->evtchn.buckets[2] --> [ 128 ... 191 ]   (e.g. a reserved port 130)
 *
 * As in Xen, a port is *valid* when its bucket exists and it is below the
 * limit: EVTCHNOP_status on a free port of an allocated bucket reads
 * EVTCHNSTAT_closed, beyond that it is -EINVAL. New ports are the lowest
 * free port (Xen's get_free_port), so numbers are dense and predictable.
 *
 * States and transitions (Xen's ECS_*; PIRQ binding is refused):
 *
 *   free --alloc_unbound--> unbound(remote R) --R binds--> interdomain
 *   free --bind_interdomain--> interdomain          (local end, fresh port)
 *   free --bind_virq--> virq        free --bind_ipi--> ipi
 *   interdomain --peer closes--> unbound(remote = the closer)
 *   any bound state --close--> free     reserved (port 0) never changes
 *
 * An interdomain pair points at each other: A:p -> (B, q) and B:q -> (A, p).
 * Closing either end (or destroying its domain) frees it and turns the
 * other end back into an unbound port accepting the closer, so a
 * reconnect after the peer restarts is just another bind_interdomain.
 *
 * Where the pending and mask bits live and how a vCPU is told is the ABI's
 * business (struct evtchn_port_ops, evtchn_2l.c); everything here works on
 * port numbers only, so a FIFO ABI slots in by providing another ops table.
 *
 * The core is single-threaded; guests touch only the ABI's shared bits.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define EVTCHN_PER_BUCKET 64
#define EVTCHN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum evtchn_state {
	EVTCHN_FREE = 0, /* zeroed memory is free */
	EVTCHN_RESERVED, /* port 0 */
	EVTCHN_UNBOUND,
	EVTCHN_INTERDOMAIN,
	EVTCHN_VIRQ,
	EVTCHN_IPI,
};

struct evtchn {
	uint8_t state;	     /* enum evtchn_state */
	uint8_t notify_vcpu; /* vCPU told about events; < HV_MAX_VCPUS */
	/* unbound: the only domain allowed to bind; interdomain: the peer. */
	domid_t remote_domid;
	union {
		evtchn_port_t remote_port; /* interdomain */
		uint32_t virq;		   /* virq */
	} u;
	struct domain *remote_dom; /* interdomain: the peer's domain */
};

_Static_assert(HV_MAX_VCPUS <= 256, "notify_vcpu is a byte");

/* ---- port table ------------------------------------------------------ */

static struct evtchn *evtchn_port(const struct domain *d, evtchn_port_t port)
{
	const struct evtchn_domain *e = &d->evtchn;
	struct evtchn *bucket;

	if (port >= e->max_ports || !e->buckets)
		return NULL;
	bucket = e->buckets[port / EVTCHN_PER_BUCKET];
	return bucket ? &bucket[port % EVTCHN_PER_BUCKET] : NULL;
}

static int evtchn_bucket_alloc(struct evtchn_domain *e, unsigned int b)
{
	e->buckets[b] = calloc(EVTCHN_PER_BUCKET, sizeof(struct evtchn));
	return e->buckets[b] ? 0 : -ENOMEM;
}

static void evtchn_limit_reached(struct domain *d)
{
	struct evtchn_domain *e = &d->evtchn;

	if (e->limit_logged)
		return;
	e->limit_logged = true;
	hv_log(d->hv, HV_LOG_WARN,
	       "evtchn: d%u out of event channels: limit %u (ports 1..%u), %u in use", d->domid,
	       e->max_ports - 1, e->max_ports - 1, e->nr_used);
}

/* Lowest free port in allocated bucket b, or -1. */
static int evtchn_bucket_find_free(const struct evtchn_domain *e, unsigned int b)
{
	unsigned int first = b * EVTCHN_PER_BUCKET, i;

	for (i = 0; i < EVTCHN_PER_BUCKET && first + i < e->max_ports; i++) {
		if (e->buckets[b][i].state == EVTCHN_FREE)
			return (int)(first + i);
	}
	return -1;
}

/* The lowest free port, allocating its bucket if needed; -ENOSPC at the
 * limit (logged once), -ENOMEM. The port stays free until evtchn_take. */
static int evtchn_get_free_port(struct domain *d)
{
	struct evtchn_domain *e = &d->evtchn;
	unsigned int b;
	int port, rc;

	if (d->is_dying)
		return -EINVAL;
	for (b = 0; b < e->nr_buckets; b++) {
		if (!e->buckets[b]) {
			rc = evtchn_bucket_alloc(e, b);
			return rc ? rc : (int)(b * EVTCHN_PER_BUCKET);
		}
		port = evtchn_bucket_find_free(e, b);
		if (port >= 0)
			return port;
	}
	evtchn_limit_reached(d);
	return -ENOSPC;
}

/* Make a specific port available: -ENOSPC beyond the limit, -EBUSY if it
 * is not free (port 0 included), as Xen's evtchn_allocate_port. */
static int evtchn_allocate_port(struct domain *d, evtchn_port_t port)
{
	struct evtchn_domain *e = &d->evtchn;
	struct evtchn *chn;
	int rc;

	if (d->is_dying)
		return -EINVAL;
	if (port >= e->max_ports) {
		evtchn_limit_reached(d);
		return -ENOSPC;
	}
	if (!e->buckets[port / EVTCHN_PER_BUCKET]) {
		rc = evtchn_bucket_alloc(e, port / EVTCHN_PER_BUCKET);
		if (rc)
			return rc;
	}
	chn = evtchn_port(d, port);
	return chn->state == EVTCHN_FREE ? 0 : -EBUSY;
}

static struct evtchn *evtchn_take(struct domain *d, evtchn_port_t port, enum evtchn_state state)
{
	struct evtchn *chn = evtchn_port(d, port);

	chn->state = state;
	chn->notify_vcpu = 0;
	d->evtchn.nr_used++;
	return chn;
}

/* Back to free: a stale pending bit must not fire on the port's next
 * user, and the next user starts on vCPU 0 (event_channel.h, bind_vcpu). */
static void evtchn_free(struct domain *d, evtchn_port_t port, struct evtchn *chn)
{
	d->evtchn.ops->clear_pending(d, port);
	memset(chn, 0, sizeof(*chn));
	d->evtchn.nr_used--;
}

static struct vcpu *evtchn_vcpu(struct domain *d, uint32_t id)
{
	return id < d->max_vcpus && d->vcpus ? &d->vcpus[id] : NULL;
}

/* ---- delivery -------------------------------------------------------- */

static bool evtchn_vcpu_polls(const struct vcpu *v, evtchn_port_t port)
{
	unsigned int i, n = v->nr_poll;

	if (n > EVTCHN_ARRAY_SIZE(v->poll_ports))
		n = EVTCHN_ARRAY_SIZE(v->poll_ports);
	for (i = 0; i < n; i++) {
		if (v->poll_ports[i] == port)
			return true;
	}
	return false;
}

/* SCHEDOP_poll sleepers wake on the port going pending even if it is
 * masked (that is the point of polling a masked port). The poll ends
 * here: nr_poll = 0, then the substrate is kicked to wake the vCPU. */
static void evtchn_wake_pollers(struct domain *d, evtchn_port_t port)
{
	unsigned int i;

	for (i = 0; i < d->max_vcpus && d->vcpus; i++) {
		struct vcpu *v = &d->vcpus[i];

		if (!v->nr_poll || !evtchn_vcpu_polls(v, port))
			continue;
		v->nr_poll = 0;
		d->hv->ops->kick(d->hv->sub, d->domid, v->id);
	}
}

static void evtchn_mark(struct domain *d, unsigned int vcpu, evtchn_port_t port)
{
	d->evtchn.ops->set_pending(d, &d->vcpus[vcpu], port);
	evtchn_wake_pollers(d, port);
}

/* ---- transitions ----------------------------------------------------- */

static void evtchn_make_unbound(struct domain *d, evtchn_port_t port, domid_t remote)
{
	struct evtchn *chn = evtchn_take(d, port, EVTCHN_UNBOUND);

	chn->remote_domid = remote;
}

/* ld:lport (free) <-> rd:rport (unbound, accepting ld). */
static void evtchn_link(struct domain *ld, evtchn_port_t lport, struct domain *rd,
			evtchn_port_t rport)
{
	struct evtchn *lchn = evtchn_take(ld, lport, EVTCHN_INTERDOMAIN);
	struct evtchn *rchn = evtchn_port(rd, rport);

	lchn->remote_dom = rd;
	lchn->remote_domid = rd->domid;
	lchn->u.remote_port = rport;
	rchn->state = EVTCHN_INTERDOMAIN;
	rchn->remote_dom = ld;
	rchn->remote_domid = ld->domid;
	rchn->u.remote_port = lport;
}

static bool evtchn_accepts(const struct evtchn *chn, const struct domain *binder)
{
	return chn && chn->state == EVTCHN_UNBOUND && chn->remote_domid == binder->domid;
}

static void evtchn_virq_unlink(struct domain *d, const struct evtchn *chn, evtchn_port_t port)
{
	unsigned int i;

	for (i = 0; i < d->max_vcpus && d->vcpus; i++) {
		evtchn_port_t *slot = &d->vcpus[i].evtchn.virq_to_port[chn->u.virq];

		if (*slot == port)
			*slot = 0;
	}
}

/* The peer's end becomes unbound, accepting the closer (Xen). */
static void evtchn_peer_unbind(struct domain *d, const struct evtchn *chn)
{
	struct evtchn *rchn = evtchn_port(chn->remote_dom, chn->u.remote_port);

	rchn->state = EVTCHN_UNBOUND;
	rchn->remote_dom = NULL;
	rchn->remote_domid = d->domid;
	rchn->u.remote_port = 0;
}

static int evtchn_close_one(struct domain *d, evtchn_port_t port)
{
	struct evtchn *chn = evtchn_port(d, port);

	if (!chn)
		return -EINVAL;
	switch (chn->state) {
	case EVTCHN_FREE:
	case EVTCHN_RESERVED:
		return -EINVAL;
	case EVTCHN_VIRQ:
		evtchn_virq_unlink(d, chn, port);
		break;
	case EVTCHN_INTERDOMAIN:
		evtchn_peer_unbind(d, chn);
		break;
	default: /* unbound, ipi: nothing else refers to them */
		break;
	}
	evtchn_free(d, port, chn);
	return 0;
}

static void evtchn_close_all(struct domain *d)
{
	evtchn_port_t port;

	for (port = 1; port < d->evtchn.max_ports; port++) {
		if (!d->evtchn.buckets[port / EVTCHN_PER_BUCKET]) {
			port |= EVTCHN_PER_BUCKET - 1; /* skip the whole bucket */
			continue;
		}
		evtchn_close_one(d, port);
	}
}

/* ---- lifecycle ------------------------------------------------------- */

int evtchn_domain_init(struct domain *d, unsigned int max_ports)
{
	struct evtchn_domain *e = &d->evtchn;
	unsigned int limit = max_ports;

	if (!limit && d->hv)
		limit = d->hv->cfg.max_evtchn_ports;
	if (!limit)
		limit = EVTCHN_DEFAULT_MAX_PORTS;
	memset(e, 0, sizeof(*e));
	e->ops = &evtchn_port_ops_2l;
	/* `limit` is the highest usable port; port numbers 0..limit. */
	e->max_ports = limit >= e->ops->nr_ports ? e->ops->nr_ports : limit + 1;
	e->nr_buckets = (e->max_ports + EVTCHN_PER_BUCKET - 1) / EVTCHN_PER_BUCKET;
	e->buckets = calloc(e->nr_buckets, sizeof(*e->buckets));
	if (!e->buckets || evtchn_bucket_alloc(e, 0)) {
		free(e->buckets);
		e->buckets = NULL;
		return -ENOMEM;
	}
	e->buckets[0][0].state = EVTCHN_RESERVED;
	e->nr_used = 1;
	return 0;
}

void evtchn_domain_fini(struct domain *d)
{
	struct evtchn_domain *e = &d->evtchn;
	unsigned int b;

	if (!e->buckets)
		return;
	evtchn_close_all(d);
	for (b = 0; b < e->nr_buckets; b++)
		free(e->buckets[b]);
	free(e->buckets);
	e->buckets = NULL;
	e->nr_buckets = 0;
	e->nr_used = 0;
}

/* ---- EVTCHNOP handlers (arguments already copied in) ---------------- */

static long evtchn_op_alloc_unbound(struct vcpu *v, void *arg)
{
	struct evtchn_alloc_unbound *a = arg;
	struct domain *d = domain_resolve(v->domain, a->dom);
	int port;

	if (!d)
		return -ESRCH;
	if (d != v->domain && !v->domain->privileged)
		return -EPERM;
	port = evtchn_get_free_port(d);
	if (port < 0)
		return port;
	/* DOMID_SELF names the caller, not <dom> (Xen). */
	evtchn_make_unbound(d, port,
			    a->remote_dom == DOMID_SELF ? v->domain->domid : a->remote_dom);
	a->port = port;
	return 0;
}

static long evtchn_op_bind_interdomain(struct vcpu *v, void *arg)
{
	struct evtchn_bind_interdomain *b = arg;
	struct domain *ld = v->domain, *rd = domain_resolve(ld, b->remote_dom);
	int lport;

	if (!rd)
		return -ESRCH;
	lport = evtchn_get_free_port(ld);
	if (lport < 0)
		return lport;
	if (!evtchn_accepts(evtchn_port(rd, b->remote_port), ld))
		return -EINVAL;
	evtchn_link(ld, lport, rd, b->remote_port);
	/* The peer may have sent while its end was unbound (dropped): mark
	 * the new end pending so the binder checks its condition (Xen). */
	evtchn_mark(ld, 0, lport); /* a fresh port notifies vCPU 0 */
	b->local_port = lport;
	return 0;
}

static long evtchn_op_bind_virq(struct vcpu *v, void *arg)
{
	struct evtchn_bind_virq *b = arg;
	struct domain *d = v->domain;
	struct vcpu *target;
	struct evtchn *chn;
	int port;

	if (b->virq >= NR_VIRQS)
		return -EINVAL;
	if (evtchn_virq_is_global(b->virq) && b->vcpu != 0)
		return -EINVAL;
	target = evtchn_vcpu(d, b->vcpu);
	if (!target)
		return -ENOENT;
	if (target->evtchn.virq_to_port[b->virq])
		return -EEXIST;
	port = evtchn_get_free_port(d);
	if (port < 0)
		return port;
	chn = evtchn_take(d, port, EVTCHN_VIRQ);
	chn->notify_vcpu = b->vcpu;
	chn->u.virq = b->virq;
	target->evtchn.virq_to_port[b->virq] = port;
	b->port = port;
	return 0;
}

/* No domain has physical IRQ access here. Xen answers -EPERM to a PV
 * domain without access to the PIRQ (pirq_access_permitted), so do we. */
static long evtchn_op_bind_pirq(struct vcpu *v, void *arg)
{
	struct evtchn_bind_pirq *b = arg;
	struct domain *d = v->domain;

	if (!d->evtchn.pirq_logged) {
		d->evtchn.pirq_logged = true;
		hv_log(d->hv, HV_LOG_INFO,
		       "evtchn: d%u EVTCHNOP_bind_pirq(pirq %u) refused: no physical IRQs (-EPERM)",
		       d->domid, b->pirq);
	}
	return -EPERM;
}

static long evtchn_op_close(struct vcpu *v, void *arg)
{
	return evtchn_close_one(v->domain, ((struct evtchn_close *)arg)->port);
}

static long evtchn_send(struct domain *d, evtchn_port_t port)
{
	struct evtchn *chn = evtchn_port(d, port), *rchn;

	if (!chn)
		return -EINVAL;
	switch (chn->state) {
	case EVTCHN_INTERDOMAIN:
		rchn = evtchn_port(chn->remote_dom, chn->u.remote_port);
		evtchn_mark(chn->remote_dom, rchn->notify_vcpu, chn->u.remote_port);
		return 0;
	case EVTCHN_IPI:
		evtchn_mark(d, chn->notify_vcpu, port);
		return 0;
	case EVTCHN_UNBOUND:
		return 0; /* nobody to tell yet: dropped, as Xen does */
	default:
		return -EINVAL;
	}
}

static long evtchn_op_send(struct vcpu *v, void *arg)
{
	return evtchn_send(v->domain, ((struct evtchn_send *)arg)->port);
}

static long evtchn_op_status(struct vcpu *v, void *arg)
{
	struct evtchn_status *s = arg;
	struct domain *d = domain_resolve(v->domain, s->dom);

	if (!d)
		return -ESRCH;
	if (d != v->domain && !v->domain->privileged)
		return -EPERM;
	return evtchn_get_status(d, s->port, s);
}

static long evtchn_op_bind_ipi(struct vcpu *v, void *arg)
{
	struct evtchn_bind_ipi *b = arg;
	struct domain *d = v->domain;
	struct evtchn *chn;
	int port;

	if (!evtchn_vcpu(d, b->vcpu))
		return -ENOENT;
	port = evtchn_get_free_port(d);
	if (port < 0)
		return port;
	chn = evtchn_take(d, port, EVTCHN_IPI);
	chn->notify_vcpu = b->vcpu;
	b->port = port;
	return 0;
}

/* Only the notification target moves; events already flagged in the old
 * vCPU's selector stay there, as with Xen's 2-level ABI. */
static long evtchn_op_bind_vcpu(struct vcpu *v, void *arg)
{
	struct evtchn_bind_vcpu *b = arg;
	struct domain *d = v->domain;
	struct evtchn *chn;

	if (!evtchn_vcpu(d, b->vcpu))
		return -ENOENT;
	chn = evtchn_port(d, b->port);
	if (!chn)
		return -EINVAL;
	switch (chn->state) {
	case EVTCHN_VIRQ:
		if (!evtchn_virq_is_global(chn->u.virq))
			return -EINVAL; /* per-vCPU VIRQs stay put */
		break;
	case EVTCHN_UNBOUND:
	case EVTCHN_INTERDOMAIN:
		break;
	default: /* free, reserved, and IPIs (fixed at bind time) */
		return -EINVAL;
	}
	chn->notify_vcpu = b->vcpu;
	return 0;
}

static long evtchn_op_unmask(struct vcpu *v, void *arg)
{
	struct domain *d = v->domain;
	evtchn_port_t port = ((struct evtchn_unmask *)arg)->port;
	struct evtchn *chn = evtchn_port(d, port);

	if (!chn)
		return -EINVAL;
	d->evtchn.ops->unmask(d, &d->vcpus[chn->notify_vcpu], port);
	return 0;
}

/* Another domain's table may only be reset while its controller has it
 * paused (Xen: controller_pause_count), so it cannot race its own binds. */
static long evtchn_op_reset(struct vcpu *v, void *arg)
{
	struct evtchn_reset *r = arg;
	struct domain *d = domain_resolve(v->domain, r->dom);

	if (!d)
		return -ESRCH;
	if (d != v->domain && !v->domain->privileged)
		return -EPERM;
	if (d != v->domain && !d->pause_count)
		return -EINVAL;
	evtchn_close_all(d);
	return 0;
}

/* ---- dispatch -------------------------------------------------------- */

union evtchn_op_args {
	struct evtchn_bind_interdomain bind_interdomain;
	struct evtchn_bind_virq bind_virq;
	struct evtchn_bind_pirq bind_pirq;
	struct evtchn_close close;
	struct evtchn_send send;
	struct evtchn_status status;
	struct evtchn_alloc_unbound alloc_unbound;
	struct evtchn_bind_ipi bind_ipi;
	struct evtchn_bind_vcpu bind_vcpu;
	struct evtchn_unmask unmask;
	struct evtchn_reset reset;
};

struct evtchn_op_desc {
	size_t size;	/* argument struct copied in */
	bool copy_back; /* and out again on success */
	long (*handler)(struct vcpu *v, void *arg);
};

#define EVTCHN_OP(cmd, type, out, fn) [cmd] = { sizeof(struct type), out, fn }

/*
 * EVTCHNOP_init_control, _expand_array and _set_priority (11..13) belong
 * to the FIFO ABI and answer -ENOSYS until evtchn_fifo.c exists; a Linux
 * guest then falls back to the 2-level ABI. Unknown commands: -ENOSYS.
 */
static const struct evtchn_op_desc evtchn_op_table[] = {
	EVTCHN_OP(EVTCHNOP_bind_interdomain, evtchn_bind_interdomain, true,
		  evtchn_op_bind_interdomain),
	EVTCHN_OP(EVTCHNOP_bind_virq, evtchn_bind_virq, true, evtchn_op_bind_virq),
	EVTCHN_OP(EVTCHNOP_bind_pirq, evtchn_bind_pirq, true, evtchn_op_bind_pirq),
	EVTCHN_OP(EVTCHNOP_close, evtchn_close, false, evtchn_op_close),
	EVTCHN_OP(EVTCHNOP_send, evtchn_send, false, evtchn_op_send),
	EVTCHN_OP(EVTCHNOP_status, evtchn_status, true, evtchn_op_status),
	EVTCHN_OP(EVTCHNOP_alloc_unbound, evtchn_alloc_unbound, true, evtchn_op_alloc_unbound),
	EVTCHN_OP(EVTCHNOP_bind_ipi, evtchn_bind_ipi, true, evtchn_op_bind_ipi),
	EVTCHN_OP(EVTCHNOP_bind_vcpu, evtchn_bind_vcpu, false, evtchn_op_bind_vcpu),
	EVTCHN_OP(EVTCHNOP_unmask, evtchn_unmask, false, evtchn_op_unmask),
	EVTCHN_OP(EVTCHNOP_reset, evtchn_reset, false, evtchn_op_reset),
};

long do_event_channel_op(struct vcpu *v, unsigned int cmd, uint64_t arg)
{
	const struct evtchn_op_desc *op;
	union evtchn_op_args buf;
	long rc;

	if (cmd >= EVTCHN_ARRAY_SIZE(evtchn_op_table) || !evtchn_op_table[cmd].handler)
		return -ENOSYS;
	op = &evtchn_op_table[cmd];
	if (copy_from_guest(v, &buf, arg, op->size))
		return -EFAULT;
	rc = op->handler(v, &buf);
	/* As in Xen, a port allocated before a failed copy-out stays
	 * allocated: undoing it would race with nothing but help nobody. */
	if (rc == 0 && op->copy_back && copy_to_guest(v, arg, &buf, op->size))
		rc = -EFAULT;
	return rc;
}

/* ---- builder API ----------------------------------------------------- */

int evtchn_alloc_unbound_port(struct domain *d, domid_t remote, evtchn_port_t *ret_port)
{
	int port = evtchn_get_free_port(d);

	if (port < 0)
		return port;
	evtchn_make_unbound(d, port, remote == DOMID_SELF ? d->domid : remote);
	*ret_port = port;
	return 0;
}

int evtchn_reserve_port(struct domain *d, evtchn_port_t port, domid_t remote)
{
	int rc = evtchn_allocate_port(d, port);

	if (rc)
		return rc;
	evtchn_make_unbound(d, port, remote == DOMID_SELF ? d->domid : remote);
	return 0;
}

/*
 * Unlike EVTCHNOP_bind_interdomain this does not mark the new end pending:
 * the channel exists before the new domain runs, so nothing sent from now
 * on can be missed, and a guest must check its condition at start anyway.
 */
int evtchn_bind_port(struct domain *d, evtchn_port_t port, struct domain *rd, evtchn_port_t rport)
{
	int rc;

	if (!rd)
		return -ESRCH;
	if (!evtchn_accepts(evtchn_port(rd, rport), d))
		return -EINVAL;
	rc = evtchn_allocate_port(d, port);
	if (rc)
		return rc;
	evtchn_link(d, port, rd, rport);
	return 0;
}

int evtchn_close_port(struct domain *d, evtchn_port_t port)
{
	return evtchn_close_one(d, port);
}

/* ---- VIRQs and queries ----------------------------------------------- */

/*
 * Per xen.h: TIMER, DEBUG, XENOPROF and XENPMU are per-vCPU. Everything
 * else binds on vCPU 0 and may move with bind_vcpu: the global VIRQs, the
 * per-domain VIRQ_ARGO (Xen 4.21 treats it like a global one for binding)
 * and, on x86, VIRQ_ARCH_* (arch_virq_is_global is true there).
 */
bool evtchn_virq_is_global(unsigned int virq)
{
	switch (virq) {
	case VIRQ_TIMER:
	case VIRQ_DEBUG:
	case VIRQ_XENOPROF:
	case VIRQ_XENPMU:
		return false;
	default:
		return true;
	}
}

int evtchn_send_virq(struct vcpu *v, unsigned int virq)
{
	evtchn_port_t port;

	if (virq >= NR_VIRQS || evtchn_virq_is_global(virq))
		return -EINVAL;
	port = v->evtchn.virq_to_port[virq];
	if (port)
		evtchn_mark(v->domain, v->id, port);
	return 0;
}

int evtchn_send_global_virq(struct domain *d, unsigned int virq)
{
	evtchn_port_t port;
	struct evtchn *chn;

	if (virq >= NR_VIRQS || !evtchn_virq_is_global(virq) || !d->vcpus)
		return -EINVAL;
	port = d->vcpus[0].evtchn.virq_to_port[virq];
	chn = port ? evtchn_port(d, port) : NULL;
	if (chn)
		evtchn_mark(d, chn->notify_vcpu, port);
	return 0;
}

bool evtchn_port_pending(struct domain *d, evtchn_port_t port)
{
	return evtchn_port(d, port) && d->evtchn.ops->is_pending(d, port);
}

unsigned int evtchn_ports_used(struct domain *d)
{
	return d->evtchn.nr_used;
}

size_t evtchn_memory_used(struct domain *d)
{
	const struct evtchn_domain *e = &d->evtchn;
	size_t bytes = e->nr_buckets * sizeof(*e->buckets);
	unsigned int b;

	for (b = 0; e->buckets && b < e->nr_buckets; b++) {
		if (e->buckets[b])
			bytes += EVTCHN_PER_BUCKET * sizeof(struct evtchn);
	}
	return bytes;
}

static const uint32_t evtchn_stat[] = {
	[EVTCHN_FREE] = EVTCHNSTAT_closed,     [EVTCHN_RESERVED] = EVTCHNSTAT_closed,
	[EVTCHN_UNBOUND] = EVTCHNSTAT_unbound, [EVTCHN_INTERDOMAIN] = EVTCHNSTAT_interdomain,
	[EVTCHN_VIRQ] = EVTCHNSTAT_virq,       [EVTCHN_IPI] = EVTCHNSTAT_ipi,
};

int evtchn_get_status(struct domain *d, evtchn_port_t port, struct evtchn_status *ret)
{
	const struct evtchn *chn = evtchn_port(d, port);

	if (!chn)
		return -EINVAL;
	memset(&ret->u, 0, sizeof(ret->u));
	ret->status = evtchn_stat[chn->state];
	ret->vcpu = chn->notify_vcpu;
	switch (chn->state) {
	case EVTCHN_UNBOUND:
		ret->u.unbound.dom = chn->remote_domid;
		break;
	case EVTCHN_INTERDOMAIN:
		ret->u.interdomain.dom = chn->remote_domid;
		ret->u.interdomain.port = chn->u.remote_port;
		break;
	case EVTCHN_VIRQ:
		ret->u.virq = chn->u.virq;
		break;
	default:
		break;
	}
	return 0;
}

int hv_evtchn_port_info(struct hypervisor *hv, domid_t domid, evtchn_port_t port,
			struct evtchn_status *ret, bool *ret_peer_settable)
{
	struct domain *d = domain_lookup(hv, domid);
	struct vcpu *v;
	int err;

	if (!d)
		return -ESRCH;
	ret->dom = domid;
	ret->port = port;
	err = evtchn_get_status(d, port, ret);
	if (err)
		return err;
	v = domain_vcpu(d, ret->vcpu);
	*ret_peer_settable = d->evtchn.ops == &evtchn_port_ops_2l && d->shared_info && v &&
			     ret->vcpu < XEN_LEGACY_MAX_VCPUS && !v->vcpu_info_registered &&
			     v->vcpu_info == &d->shared_info->vcpu_info[ret->vcpu];
	return 0;
}

bool hv_virq_is_global(unsigned int virq)
{
	return virq < NR_VIRQS && evtchn_virq_is_global(virq);
}

const struct vcpu_info *hv_vcpu_info(struct hypervisor *hv, domid_t domid, unsigned int vcpu)
{
	struct domain *d = domain_lookup(hv, domid);
	struct vcpu *v = d ? domain_vcpu(d, vcpu) : NULL;

	return v ? v->vcpu_info : NULL;
}
