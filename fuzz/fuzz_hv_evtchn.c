/*
 * State-machine fuzzer for event channels: random operation sequences from
 * four domains (dom0 privileged), executed through hypercall() over the fake
 * substrate, with the invariants below checked after every operation. A
 * violation aborts, which is the fuzzer's signal.
 *
 * Input: records of 6 bytes, at most FUZZ_MAX_OPS of them:
 *
 *   byte 0  op      (what to do, modulo the op count)
 *   byte 1  caller  domain = bits 0-1, vCPU = bits 2-3 (vCPU 2 is out of
 *                   range for dom2/dom3, 3 for all: error paths)
 *   byte 2  x       domain selector, VIRQ, vCPU or flag, per op
 *   byte 3  y       second selector
 *   byte 4-5 port   little endian; bit 15 set: raw value (wild ports),
 *                   else modulo FUZZ_PORT_SPAN (ports near the limits)
 *
 * Invariants, for every live domain:
 *   - port 0 is reserved (reads closed, cannot be freed);
 *   - nr_used = 1 + the number of ports whose status is not closed;
 *   - an interdomain port A:p -> (B, q) has B:q -> (A, p);
 *   - every VIRQ port is the one virq_to_port slot of its vCPU (vCPU 0
 *     for global VIRQs) and every non-zero slot names such a port, so no
 *     port is in two states or bound twice;
 *   - a free port is not pending (close clears it);
 *   - kicks: a vCPU is kicked at most once per operation, exactly when
 *     its evtchn_upcall_pending went 0 -> 1 (no poll is in progress here).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fake_substrate.h"

#define FUZZ_NR_DOMAINS 4
#define FUZZ_MAX_OPS 512
#define FUZZ_PORT_SPAN 136 /* a little beyond the limit of 127 */
#define FUZZ_REC 6

#define FUZZ_CHECK(cond, ...)                                                       \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz_hv_evtchn: invariant: " __VA_ARGS__); \
			fputc('\n', stderr);                                        \
			abort();                                                    \
		}                                                                   \
	} while (0)

struct fuzz_op {
	uint8_t op, caller, x, y;
	uint32_t port;
};

struct fuzz {
	struct fake_substrate *fs;
	uint8_t upcall[FUZZ_NR_DOMAINS][HV_MAX_VCPUS];
};

static const unsigned int fuzz_vcpus[FUZZ_NR_DOMAINS] = { 2, 2, 1, 1 };
static const unsigned int fuzz_limit[FUZZ_NR_DOMAINS] = { 127, 127, 127, 20 };

static domid_t fuzz_dom(uint8_t sel)
{
	static const domid_t ids[] = { DOMID_SELF, 0, 1, 2, 3, 9, DOMID_IO, DOMID_SELF };

	return ids[sel % (sizeof(ids) / sizeof(ids[0]))];
}

static int fuzz_make_domain(struct fuzz *f, domid_t id)
{
	struct hv_domain_config cfg;
	domid_t got;

	hv_domain_config_defaults(&cfg);
	cfg.domid = id;
	cfg.privileged = id == 0;
	cfg.max_vcpus = fuzz_vcpus[id];
	cfg.nr_pages = HV_MIN_NR_PAGES;
	cfg.max_evtchn_ports = fuzz_limit[id];
	return domain_create(f->fs->hv, &cfg, &got, NULL);
}

/* ---- operations ------------------------------------------------------ */

static long fuzz_ev(struct fuzz *f, const struct fuzz_op *o, unsigned int cmd, void *arg,
		    size_t len)
{
	return fake_hypercall(f->fs, o->caller & 3, (o->caller >> 2) & 3,
			      __HYPERVISOR_event_channel_op, cmd, arg, len, arg);
}

static void fuzz_port_op(struct fuzz *f, const struct fuzz_op *o, unsigned int cmd)
{
	struct evtchn_send p = { .port = o->port };

	fuzz_ev(f, o, cmd, &p, sizeof(p));
}

static void fuzz_hypercall(struct fuzz *f, const struct fuzz_op *o, unsigned int which)
{
	union {
		struct evtchn_alloc_unbound au;
		struct evtchn_bind_interdomain bi;
		struct evtchn_bind_virq bv;
		struct evtchn_bind_pirq bp;
		struct evtchn_status st;
		struct evtchn_bind_ipi ipi;
		struct evtchn_bind_vcpu bvc;
		struct evtchn_reset r;
	} a;

	memset(&a, 0, sizeof(a));
	switch (which) {
	case 0:
		a.au = (struct evtchn_alloc_unbound){ fuzz_dom(o->x), fuzz_dom(o->y), 0 };
		fuzz_ev(f, o, EVTCHNOP_alloc_unbound, &a, sizeof(a.au));
		break;
	case 1:
		a.bi = (struct evtchn_bind_interdomain){ fuzz_dom(o->x), o->port, 0 };
		fuzz_ev(f, o, EVTCHNOP_bind_interdomain, &a, sizeof(a.bi));
		break;
	case 2:
		a.bv = (struct evtchn_bind_virq){ o->x % (NR_VIRQS + 2), o->y % 3, 0 };
		fuzz_ev(f, o, EVTCHNOP_bind_virq, &a, sizeof(a.bv));
		break;
	case 3:
		a.bp = (struct evtchn_bind_pirq){ o->x, o->y & 1, 0 };
		fuzz_ev(f, o, EVTCHNOP_bind_pirq, &a, sizeof(a.bp));
		break;
	case 4:
		a.st = (struct evtchn_status){ .dom = fuzz_dom(o->x), .port = o->port };
		fuzz_ev(f, o, EVTCHNOP_status, &a, sizeof(a.st));
		break;
	case 5:
		a.ipi = (struct evtchn_bind_ipi){ o->x % 3, 0 };
		fuzz_ev(f, o, EVTCHNOP_bind_ipi, &a, sizeof(a.ipi));
		break;
	case 6:
		a.bvc = (struct evtchn_bind_vcpu){ o->port, o->x % 3 };
		fuzz_ev(f, o, EVTCHNOP_bind_vcpu, &a, sizeof(a.bvc));
		break;
	default:
		a.r = (struct evtchn_reset){ fuzz_dom(o->x) };
		fuzz_ev(f, o, EVTCHNOP_reset, &a, sizeof(a.r));
		break;
	}
}

/* What a guest does in its shared page: mask/unmask a port, or run its
 * upcall entry (clear upcall_pending, take the selector, and handle a
 * port by clearing its pending bit). */
static void fuzz_guest(struct fuzz *f, const struct fuzz_op *o)
{
	struct domain *d = domain_lookup(f->fs->hv, o->caller & 3);
	const unsigned int bits = sizeof(xen_ulong_t) * 8;
	xen_ulong_t bit = (xen_ulong_t)1 << (o->port % bits);
	unsigned int w = (o->port / bits) % (sizeof(d->shared_info->evtchn_mask) / sizeof(bit));
	struct vcpu *v;

	if (!d)
		return;
	v = &d->vcpus[o->x % d->max_vcpus];
	switch (o->y % 4) {
	case 0:
		__atomic_fetch_or(&d->shared_info->evtchn_mask[w], bit, __ATOMIC_SEQ_CST);
		break;
	case 1:
		__atomic_fetch_and(&d->shared_info->evtchn_mask[w], ~bit, __ATOMIC_SEQ_CST);
		break;
	case 2:
		v->vcpu_info->evtchn_upcall_pending = 0;
		__atomic_exchange_n(&v->vcpu_info->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
		break;
	default:
		__atomic_fetch_and(&d->shared_info->evtchn_pending[w], ~bit, __ATOMIC_SEQ_CST);
		break;
	}
}

/* Core-side entry points: VIRQs, pause, builder API, destroy + recreate. */
static void fuzz_core(struct fuzz *f, const struct fuzz_op *o)
{
	struct hypervisor *hv = f->fs->hv;
	domid_t id = o->caller & 3, other = (o->y >> 3) & 3;
	struct domain *d = domain_lookup(hv, id);

	switch (o->y % 6) {
	case 0:
		hv_raise_virq(hv, id, (o->caller >> 2) & 3, o->x % (NR_VIRQS + 1));
		break;
	case 1:
		if (domain_pause(hv, id) == 0 && (o->x & 1))
			domain_unpause(hv, id);
		break;
	case 2:
		if (d)
			evtchn_reserve_port(d, o->port, fuzz_dom(o->x));
		break;
	case 3:
		if (d)
			evtchn_bind_port(d, o->port, domain_lookup(hv, other), o->x);
		break;
	case 4:
		if (d)
			evtchn_close_port(d, o->port);
		break;
	default:
		if (id != 0 && domain_destroy(hv, id) == 0 && fuzz_make_domain(f, id) != 0)
			abort(); /* recreating a just-destroyed domain must work */
		break;
	}
}

static void fuzz_run(struct fuzz *f, const struct fuzz_op *o)
{
	switch (o->op % 16) {
	case 0 ... 7:
		fuzz_hypercall(f, o, o->op % 16);
		break;
	case 8:
		fuzz_port_op(f, o, EVTCHNOP_close);
		break;
	case 9:
	case 10:
		fuzz_port_op(f, o, EVTCHNOP_send);
		break;
	case 11:
		fuzz_port_op(f, o, EVTCHNOP_unmask);
		break;
	case 12:
	case 13:
		fuzz_guest(f, o);
		break;
	case 14:
		fuzz_core(f, o);
		break;
	default:
		/* FIFO/unknown commands, and arguments outside guest memory:
		 * across the end of the frame space (not into the overlay
		 * window, where a guest passing its own shared_info as the
		 * argument would legitimately overwrite its upcall flag). */
		fake_hypercall_args(f->fs, o->caller & 3, 0, __HYPERVISOR_event_channel_op,
				    o->x & 1 ? 11 + o->y : o->y % 11,
				    o->x & 2 ? (uint64_t)o->port << 24
					     : (HV_MIN_NR_PAGES + HV_SPECIAL_GFNS) *
							       XENON_PAGE_SIZE -
						       (o->y & 7U),
				    0, 0, 0);
		break;
	}
}

/* ---- invariants ------------------------------------------------------ */

static void fuzz_check_virq(struct domain *d, evtchn_port_t port, const struct evtchn_status *s)
{
	unsigned int owner = evtchn_virq_is_global(s->u.virq) ? 0 : s->vcpu;

	FUZZ_CHECK(s->u.virq < NR_VIRQS, "d%u:%u virq %u", d->domid, port, s->u.virq);
	FUZZ_CHECK(owner < d->max_vcpus, "d%u:%u virq vcpu %u", d->domid, port, owner);
	FUZZ_CHECK(d->vcpus[owner].evtchn.virq_to_port[s->u.virq] == port,
		   "d%u:%u virq %u not in vcpu %u's table", d->domid, port, s->u.virq, owner);
}

static void fuzz_check_peer(struct fuzz *f, struct domain *d, evtchn_port_t port,
			    const struct evtchn_status *s)
{
	struct domain *rd = domain_lookup(f->fs->hv, s->u.interdomain.dom);
	struct evtchn_status r;

	FUZZ_CHECK(rd, "d%u:%u peer d%u is gone", d->domid, port, s->u.interdomain.dom);
	FUZZ_CHECK(evtchn_get_status(rd, s->u.interdomain.port, &r) == 0 &&
			   r.status == EVTCHNSTAT_interdomain && r.u.interdomain.dom == d->domid &&
			   r.u.interdomain.port == port,
		   "d%u:%u -> d%u:%u does not point back", d->domid, port, rd->domid,
		   s->u.interdomain.port);
}

static unsigned int fuzz_check_port(struct fuzz *f, struct domain *d, evtchn_port_t port)
{
	struct evtchn_status s;

	if (evtchn_get_status(d, port, &s) < 0)
		return 0;
	FUZZ_CHECK(s.vcpu < d->max_vcpus, "d%u:%u vcpu %u", d->domid, port, s.vcpu);
	switch (s.status) {
	case EVTCHNSTAT_closed:
		FUZZ_CHECK(port == 0 || !evtchn_port_pending(d, port), "d%u:%u free but pending",
			   d->domid, port);
		return 0;
	case EVTCHNSTAT_interdomain:
		fuzz_check_peer(f, d, port, &s);
		break;
	case EVTCHNSTAT_virq:
		fuzz_check_virq(d, port, &s);
		break;
	case EVTCHNSTAT_unbound:
	case EVTCHNSTAT_ipi:
		break;
	default:
		FUZZ_CHECK(0, "d%u:%u status %u", d->domid, port, s.status);
	}
	FUZZ_CHECK(port != 0, "d%u port 0 not reserved", d->domid);
	return 1;
}

static void fuzz_check_slots(struct domain *d)
{
	unsigned int i, virq;
	struct evtchn_status s;

	for (i = 0; i < d->max_vcpus; i++) {
		for (virq = 0; virq < NR_VIRQS; virq++) {
			evtchn_port_t port = d->vcpus[i].evtchn.virq_to_port[virq];

			if (!port)
				continue;
			FUZZ_CHECK(evtchn_get_status(d, port, &s) == 0 &&
					   s.status == EVTCHNSTAT_virq && s.u.virq == virq,
				   "d%u vcpu %u virq %u -> port %u not a virq port", d->domid, i,
				   virq, port);
			FUZZ_CHECK(evtchn_virq_is_global(virq) ? i == 0 : s.vcpu == i,
				   "d%u virq %u on the wrong vcpu", d->domid, virq);
		}
	}
}

static void fuzz_check_kicks(struct fuzz *f, struct domain *d)
{
	unsigned int i;

	for (i = 0; i < d->max_vcpus; i++) {
		uint8_t before = f->upcall[d->domid][i];
		uint8_t after = d->vcpus[i].vcpu_info->evtchn_upcall_pending;
		unsigned int k = fake_kick_count(f->fs, d->domid, i);

		FUZZ_CHECK(k <= 1, "d%u vcpu %u kicked %u times", d->domid, i, k);
		FUZZ_CHECK(k == (before == 0 && after == 1), "d%u vcpu %u kick %u, upcall %u -> %u",
			   d->domid, i, k, before, after);
	}
}

static void fuzz_snapshot(struct fuzz *f)
{
	domid_t id;
	unsigned int i;

	fake_clear_records(f->fs);
	for (id = 0; id < FUZZ_NR_DOMAINS; id++) {
		struct domain *d = domain_lookup(f->fs->hv, id);

		for (i = 0; d && i < d->max_vcpus; i++)
			f->upcall[id][i] = d->vcpus[i].vcpu_info->evtchn_upcall_pending;
	}
}

static void fuzz_check(struct fuzz *f, const struct fuzz_op *o)
{
	domid_t id;

	for (id = 0; id < FUZZ_NR_DOMAINS; id++) {
		struct domain *d = domain_lookup(f->fs->hv, id);
		unsigned int used = 1;
		evtchn_port_t port;

		FUZZ_CHECK(d, "d%u vanished", id);
		for (port = 0; port < d->evtchn.max_ports; port++)
			used += fuzz_check_port(f, d, port);
		FUZZ_CHECK(used == evtchn_ports_used(d), "d%u nr_used %u, counted %u", id,
			   evtchn_ports_used(d), used);
		fuzz_check_slots(d);
		/* A destroy + recreate starts the domain's upcall flags afresh. */
		if (!(o->op % 16 == 14 && o->y % 6 == 5 && id == (o->caller & 3)))
			fuzz_check_kicks(f, d);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* FUZZ_TRACE=1 prints every decoded op (triage of a crasher). */
	bool trace = getenv("FUZZ_TRACE") != NULL;
	struct fuzz f = { 0 };
	struct hv_config cfg;
	size_t i;
	domid_t id;

	hv_config_defaults(&cfg);
	f.fs = fake_create(&cfg);
	if (!f.fs)
		return 0;
	f.fs->quiet = true;
	for (id = 0; id < FUZZ_NR_DOMAINS; id++) {
		if (fuzz_make_domain(&f, id) != 0)
			abort();
	}
	for (i = 0; i + FUZZ_REC <= size && i / FUZZ_REC < FUZZ_MAX_OPS; i += FUZZ_REC) {
		uint16_t raw = (uint16_t)(data[i + 4] | data[i + 5] << 8);
		struct fuzz_op o = { data[i], data[i + 1], data[i + 2], data[i + 3],
				     raw & 0x8000 ? raw & 0x7fff : raw % FUZZ_PORT_SPAN };

		if (trace)
			fprintf(stderr, "op %zu: op %u caller d%u/v%u x %u y %u port %u\n",
				i / FUZZ_REC, o.op % 16, o.caller & 3, (o.caller >> 2) & 3, o.x,
				o.y, o.port);
		fuzz_snapshot(&f);
		fuzz_run(&f, &o);
		fuzz_check(&f, &o);
	}
	fake_destroy(f.fs);
	return 0;
}
