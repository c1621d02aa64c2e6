/*
 * Event channel unit tests.
 *
 * The suite is one table of cases (EVTCHN_CASES) run once per port ABI
 * (EVTCHN_ABIS): each case is written against the ABI-neutral view
 * (EVTCHNOP_* through hypercall(), evtchn_port_pending(), the ABI's mask,
 * the vCPU's evtchn_upcall_pending, counted kicks), and an ABI supplies
 * how a guest masks a port and acknowledges an upcall. Adding FIFO means
 * one fixture (struct evtchn_test_abi) and one X(fifo, c) in EVTCHN_ABIS.
 * Checks of the 2-level bit layout itself (selector words) live in the
 * evtchn_2l_bits suite at the end.
 *
 * Fixture: dom0 (privileged, 2 vCPUs), dom1 (2 vCPUs), dom2 (1 vCPU).
 * Every domain is built with its store and console ports (unbound,
 * accepting dom0), so cases never assume which port number comes next.
 */
#include <stddef.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core.h"
#include "fake_substrate.h"

#define BITS (sizeof(xen_ulong_t) * 8)

/* Layouts the 2-level ABI relies on (style: pin what you rely on). */
_Static_assert(sizeof(xen_ulong_t) == 8, "x86-64 xen_ulong_t");
_Static_assert(offsetof(struct vcpu_info, evtchn_pending_sel) == 8, "vcpu_info layout");
_Static_assert(offsetof(struct shared_info, evtchn_pending) == 64 * 32, "shared_info layout");
_Static_assert(offsetof(struct shared_info, evtchn_mask) == 64 * 32 + 512, "shared_info layout");
_Static_assert(sizeof(struct evtchn_status) == 24, "evtchn_status layout");
_Static_assert(sizeof(struct evtchn_alloc_unbound) == 8, "evtchn_alloc_unbound layout");
_Static_assert(sizeof(struct evtchn_bind_interdomain) == 12, "bind_interdomain layout");

struct evtchn_test_abi {
	const char *name;
	const struct evtchn_port_ops *ops;
	/* Switch a fresh domain to this ABI (NULL: it is the default). */
	void (*setup)(struct fake_substrate *fs, domid_t domid);
	/* The guest sets or clears a port's mask in its shared memory. */
	void (*guest_mask)(struct domain *d, evtchn_port_t port, bool masked);
	/* The guest's upcall entry: clear upcall_pending, take the work. */
	void (*guest_ack)(struct vcpu *v);
};

static void l2_guest_mask(struct domain *d, evtchn_port_t port, bool masked)
{
	xen_ulong_t *w = &d->shared_info->evtchn_mask[port / BITS];
	xen_ulong_t bit = (xen_ulong_t)1 << (port % BITS);

	if (masked)
		__atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST);
}

static void l2_guest_ack(struct vcpu *v)
{
	v->vcpu_info->evtchn_upcall_pending = 0;
	__atomic_exchange_n(&v->vcpu_info->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
}

static const struct evtchn_test_abi abi_2l = {
	.name = "2-level",
	.ops = &evtchn_port_ops_2l,
	.guest_mask = l2_guest_mask,
	.guest_ack = l2_guest_ack,
};

static struct fake_substrate *fs;
static const struct evtchn_test_abi *abi;

/* ---- helpers --------------------------------------------------------- */

static struct domain *dom(domid_t id)
{
	struct domain *d = domain_lookup(fs->hv, id);

	cr_assert_not_null(d, "d%u exists", id);
	return d;
}

static struct vcpu *vcpu(domid_t id, unsigned int v)
{
	return &dom(id)->vcpus[v];
}

static domid_t make_domain(domid_t id, bool privileged, unsigned int vcpus, unsigned int max_ports)
{
	struct hv_domain_config cfg;
	domid_t got;

	hv_domain_config_defaults(&cfg);
	cfg.domid = id;
	cfg.privileged = privileged;
	cfg.max_vcpus = vcpus;
	cfg.nr_pages = 64;
	cfg.max_evtchn_ports = max_ports;
	cr_assert_eq(domain_create(fs->hv, &cfg, &got, NULL), 0, "create d%u", id);
	if (abi->setup)
		abi->setup(fs, got);
	return got;
}

static void setup_common(const struct evtchn_test_abi *a)
{
	abi = a;
	fs = fake_create_quiet(NULL);
	cr_assert_not_null(fs);
	make_domain(0, true, 2, 0);
	make_domain(1, false, 2, 0);
	make_domain(2, false, 1, 0);
	fake_clear_records(fs);
}

static void setup_2l(void)
{
	setup_common(&abi_2l);
}

static void teardown(void)
{
	fake_destroy(fs);
	fs = NULL;
}

static long ev(domid_t caller, unsigned int v, unsigned int cmd, void *arg, size_t len)
{
	return fake_hypercall(fs, caller, v, __HYPERVISOR_event_channel_op, cmd, arg, len, arg);
}

static long try_alloc_unbound(domid_t caller, domid_t d, domid_t remote, evtchn_port_t *ret)
{
	struct evtchn_alloc_unbound a = { .dom = d, .remote_dom = remote, .port = 0xdead };
	long rc = ev(caller, 0, EVTCHNOP_alloc_unbound, &a, sizeof(a));

	if (ret)
		*ret = a.port;
	return rc;
}

static evtchn_port_t alloc_unbound(domid_t caller, domid_t d, domid_t remote)
{
	evtchn_port_t port;

	cr_assert_eq(try_alloc_unbound(caller, d, remote, &port), 0);
	cr_assert_gt(port, 0);
	return port;
}

static long try_bind(domid_t caller, domid_t rdom, evtchn_port_t rport, evtchn_port_t *ret)
{
	struct evtchn_bind_interdomain b = { .remote_dom = rdom, .remote_port = rport };
	long rc = ev(caller, 0, EVTCHNOP_bind_interdomain, &b, sizeof(b));

	if (ret)
		*ret = b.local_port;
	return rc;
}

static evtchn_port_t bind(domid_t caller, domid_t rdom, evtchn_port_t rport)
{
	evtchn_port_t port;

	cr_assert_eq(try_bind(caller, rdom, rport, &port), 0);
	return port;
}

static long try_status(domid_t caller, domid_t d, evtchn_port_t port, struct evtchn_status *ret)
{
	memset(ret, 0xa5, sizeof(*ret));
	ret->dom = d;
	ret->port = port;
	return ev(caller, 0, EVTCHNOP_status, ret, sizeof(*ret));
}

/* Status as the privileged dom0 sees it. */
static struct evtchn_status status(domid_t d, evtchn_port_t port)
{
	struct evtchn_status s;

	cr_assert_eq(try_status(0, d, port, &s), 0, "status d%u:%u", d, port);
	return s;
}

static long port_op(domid_t caller, unsigned int cmd, evtchn_port_t port)
{
	struct evtchn_send p = { .port = port }; /* close/send/unmask share it */

	return ev(caller, 0, cmd, &p, sizeof(p));
}

static long try_bind_virq(domid_t caller, uint32_t virq, uint32_t v, evtchn_port_t *ret)
{
	struct evtchn_bind_virq b = { .virq = virq, .vcpu = v };
	long rc = ev(caller, 0, EVTCHNOP_bind_virq, &b, sizeof(b));

	if (ret)
		*ret = b.port;
	return rc;
}

static long try_bind_ipi(domid_t caller, uint32_t v, evtchn_port_t *ret)
{
	struct evtchn_bind_ipi b = { .vcpu = v };
	long rc = ev(caller, 0, EVTCHNOP_bind_ipi, &b, sizeof(b));

	if (ret)
		*ret = b.port;
	return rc;
}

static long bind_vcpu(domid_t caller, evtchn_port_t port, uint32_t v)
{
	struct evtchn_bind_vcpu b = { .port = port, .vcpu = v };

	return ev(caller, 0, EVTCHNOP_bind_vcpu, &b, sizeof(b));
}

static long reset(domid_t caller, domid_t d)
{
	struct evtchn_reset r = { .dom = d };

	return ev(caller, 0, EVTCHNOP_reset, &r, sizeof(r));
}

static bool pending(domid_t d, evtchn_port_t port)
{
	return evtchn_port_pending(dom(d), port);
}

static bool upcall(domid_t d, unsigned int v)
{
	return vcpu(d, v)->vcpu_info->evtchn_upcall_pending;
}

static unsigned int kicks(domid_t d, unsigned int v)
{
	return fake_kick_count(fs, d, v);
}

/* The guest handled everything: pending bits cleared, upcall acked. */
static void quiesce(domid_t d, evtchn_port_t port)
{
	unsigned int i;

	abi->ops->clear_pending(dom(d), port);
	for (i = 0; i < dom(d)->max_vcpus; i++)
		abi->guest_ack(vcpu(d, i));
	fake_clear_records(fs);
}

/* a:pa <-> b:pb, both quiet afterwards. */
static void connect(domid_t a, domid_t b, evtchn_port_t *pa, evtchn_port_t *pb)
{
	*pa = alloc_unbound(a, DOMID_SELF, b);
	*pb = bind(b, a, *pa);
	quiesce(b, *pb);
}

static void assert_unbound(domid_t d, evtchn_port_t port, domid_t remote)
{
	struct evtchn_status s = status(d, port);

	cr_assert_eq(s.status, EVTCHNSTAT_unbound, "d%u:%u unbound", d, port);
	cr_assert_eq(s.u.unbound.dom, remote);
}

static void assert_interdomain(domid_t d, evtchn_port_t port, domid_t rd, evtchn_port_t rport)
{
	struct evtchn_status s = status(d, port);

	cr_assert_eq(s.status, EVTCHNSTAT_interdomain, "d%u:%u interdomain", d, port);
	cr_assert_eq(s.u.interdomain.dom, rd);
	cr_assert_eq(s.u.interdomain.port, rport);
}

static void assert_closed(domid_t d, evtchn_port_t port)
{
	struct evtchn_status s = status(d, port);

	cr_assert_eq(s.status, EVTCHNSTAT_closed, "d%u:%u closed", d, port);
	cr_assert_eq(s.vcpu, 0);
}

/* ---- alloc_unbound --------------------------------------------------- */

static void case_alloc_unbound_self(void)
{
	unsigned int used = evtchn_ports_used(dom(1));
	evtchn_port_t p = alloc_unbound(1, DOMID_SELF, 2);
	struct evtchn_status s = status(1, p);

	cr_assert_eq(s.status, EVTCHNSTAT_unbound);
	cr_assert_eq(s.vcpu, 0);
	cr_assert_eq(s.u.unbound.dom, 2);
	cr_assert_eq(evtchn_ports_used(dom(1)), used + 1);
	/* Own numeric id is as good as DOMID_SELF; DOMID_SELF as remote
	 * means the caller. */
	assert_unbound(1, alloc_unbound(1, 1, DOMID_SELF), 1);
}

static void case_alloc_unbound_privileged(void)
{
	/* dom0 allocates in dom1; DOMID_SELF as remote names dom0, the
	 * caller, not dom1. */
	evtchn_port_t p = alloc_unbound(0, 1, DOMID_SELF);

	assert_unbound(1, p, 0);
}

static void case_alloc_unbound_errors(void)
{
	unsigned int used = evtchn_ports_used(dom(2));

	cr_assert_eq(try_alloc_unbound(1, 2, 1, NULL), -EPERM);
	cr_assert_eq(try_alloc_unbound(1, 77, 1, NULL), -ESRCH);
	cr_assert_eq(try_alloc_unbound(0, DOMID_IO, 1, NULL), -ESRCH);
	cr_assert_eq(evtchn_ports_used(dom(2)), used);
	/* Arguments outside guest memory. */
	cr_assert_eq(fake_hypercall_args(fs, 1, 0, __HYPERVISOR_event_channel_op,
					 EVTCHNOP_alloc_unbound, 1ULL << 40, 0, 0, 0),
		     -EFAULT);
}

static void case_lowest_free_port_reused(void)
{
	evtchn_port_t a = alloc_unbound(1, DOMID_SELF, 2);
	evtchn_port_t b = alloc_unbound(1, DOMID_SELF, 2);

	cr_assert_eq(b, a + 1);
	cr_assert_eq(port_op(1, EVTCHNOP_close, a), 0);
	cr_assert_eq(alloc_unbound(1, DOMID_SELF, 2), a);
}

/* ---- bind_interdomain ------------------------------------------------ */

static void case_bind_interdomain(void)
{
	evtchn_port_t p1 = alloc_unbound(1, DOMID_SELF, 2);
	unsigned int used1 = evtchn_ports_used(dom(1)), used2 = evtchn_ports_used(dom(2));
	evtchn_port_t p2 = bind(2, 1, p1);

	assert_interdomain(1, p1, 2, p2);
	assert_interdomain(2, p2, 1, p1);
	cr_assert_eq(status(2, p2).vcpu, 0);
	cr_assert_eq(evtchn_ports_used(dom(1)), used1);
	cr_assert_eq(evtchn_ports_used(dom(2)), used2 + 1);
	/* The binder's new end is pending (it may have missed a send). */
	cr_assert(pending(2, p2));
	cr_assert(!pending(1, p1));
	cr_assert(upcall(2, 0));
	cr_assert_eq(kicks(2, 0), 1);
	/* A bound port accepts no second binder. */
	cr_assert_eq(try_bind(0, 1, p1, NULL), -EINVAL);
}

static void case_bind_interdomain_loopback(void)
{
	evtchn_port_t a = alloc_unbound(1, DOMID_SELF, DOMID_SELF);
	evtchn_port_t b = bind(1, DOMID_SELF, a);

	cr_assert_neq(a, b);
	assert_interdomain(1, a, 1, b);
	assert_interdomain(1, b, 1, a);
	quiesce(1, b);
	cr_assert_eq(port_op(1, EVTCHNOP_send, a), 0);
	cr_assert(pending(1, b));
	cr_assert(!pending(1, a));
	cr_assert_eq(kicks(1, 0), 1);
	cr_assert_eq(port_op(1, EVTCHNOP_close, b), 0);
	assert_unbound(1, a, 1);
}

static void case_bind_interdomain_errors(void)
{
	evtchn_port_t for2 = alloc_unbound(1, DOMID_SELF, 2);
	evtchn_port_t ipi, x1, x2;
	unsigned int used = evtchn_ports_used(dom(0));

	cr_assert_eq(try_bind(0, 1, for2, NULL), -EINVAL); /* accepts dom2 only */
	cr_assert_eq(try_bind(0, 77, for2, NULL), -ESRCH);
	cr_assert_eq(try_bind(0, DOMID_IO, 1, NULL), -ESRCH);
	cr_assert_eq(try_bind(0, 1, 0, NULL), -EINVAL);	       /* reserved port 0 */
	cr_assert_eq(try_bind(0, 1, 5000, NULL), -EINVAL);     /* beyond the ABI */
	cr_assert_eq(try_bind(0, 1, 1000, NULL), -EINVAL);     /* not allocated */
	cr_assert_eq(try_bind(0, 1, for2 + 1, NULL), -EINVAL); /* free */
	cr_assert_eq(try_bind_ipi(1, 0, &ipi), 0);
	cr_assert_eq(try_bind(0, 1, ipi, NULL), -EINVAL); /* wrong state */
	connect(1, 0, &x1, &x2);
	cr_assert_eq(try_bind(0, 1, x1, NULL), -EINVAL); /* already bound */
	cr_assert_eq(evtchn_ports_used(dom(0)), used + 1);
}

/* ---- bind_virq ------------------------------------------------------- */

static void case_bind_virq_global(void)
{
	evtchn_port_t p;
	struct evtchn_status s;

	cr_assert_eq(try_bind_virq(0, VIRQ_DOM_EXC, 0, &p), 0);
	s = status(0, p);
	cr_assert_eq(s.status, EVTCHNSTAT_virq);
	cr_assert_eq(s.vcpu, 0);
	cr_assert_eq(s.u.virq, VIRQ_DOM_EXC);
	cr_assert_eq(vcpu(0, 0)->evtchn.virq_to_port[VIRQ_DOM_EXC], p);
	/* Global VIRQs bind on vCPU 0 only, once. */
	cr_assert_eq(try_bind_virq(0, VIRQ_CONSOLE, 1, NULL), -EINVAL);
	cr_assert_eq(try_bind_virq(0, VIRQ_DOM_EXC, 0, NULL), -EEXIST);
	cr_assert_eq(try_bind_virq(0, VIRQ_ARCH_0, 1, NULL), -EINVAL);
	cr_assert_eq(try_bind_virq(0, VIRQ_ARGO, 1, NULL), -EINVAL);
}

static void case_bind_virq_per_vcpu(void)
{
	evtchn_port_t p0, p1;

	cr_assert_eq(try_bind_virq(1, VIRQ_TIMER, 0, &p0), 0);
	cr_assert_eq(try_bind_virq(1, VIRQ_TIMER, 1, &p1), 0);
	cr_assert_neq(p0, p1);
	cr_assert_eq(status(1, p1).vcpu, 1);
	cr_assert_eq(status(1, p1).u.virq, VIRQ_TIMER);
	cr_assert_eq(vcpu(1, 1)->evtchn.virq_to_port[VIRQ_TIMER], p1);
	cr_assert_eq(try_bind_virq(1, VIRQ_TIMER, 1, NULL), -EEXIST);
	cr_assert_eq(try_bind_virq(1, VIRQ_DEBUG, 2, NULL), -ENOENT);
	cr_assert_eq(try_bind_virq(1, VIRQ_XENPMU, 1, NULL), 0);
	cr_assert_eq(try_bind_virq(1, NR_VIRQS, 0, NULL), -EINVAL);
	cr_assert_eq(try_bind_virq(1, 0xffffffffu, 0, NULL), -EINVAL);
}

static void case_virq_classes(void)
{
	static const unsigned int per_vcpu[] = { VIRQ_TIMER, VIRQ_DEBUG, VIRQ_XENOPROF,
						 VIRQ_XENPMU };
	unsigned int virq, i, n = 0;

	for (i = 0; i < sizeof(per_vcpu) / sizeof(per_vcpu[0]); i++)
		cr_assert(!evtchn_virq_is_global(per_vcpu[i]));
	for (virq = 0; virq < NR_VIRQS; virq++)
		n += !evtchn_virq_is_global(virq);
	cr_assert_eq(n, 4);
	cr_assert(evtchn_virq_is_global(VIRQ_ARGO));
	cr_assert(evtchn_virq_is_global(VIRQ_ARCH_7));
}

/* The core raises VIRQs: per-vCPU to that vCPU, global to the port's
 * notify vCPU; unbound is a no-op; the wrong class is refused. */
static void case_virq_send_api(void)
{
	evtchn_port_t t1, g;

	cr_assert_eq(try_bind_virq(0, VIRQ_TIMER, 1, &t1), 0);
	cr_assert_eq(try_bind_virq(0, VIRQ_CON_RING, 0, &g), 0);
	cr_assert_eq(evtchn_send_virq(vcpu(0, 1), VIRQ_TIMER), 0);
	cr_assert(pending(0, t1));
	cr_assert_eq(kicks(0, 1), 1);
	cr_assert_eq(kicks(0, 0), 0);
	cr_assert_eq(evtchn_send_virq(vcpu(0, 0), VIRQ_TIMER), 0); /* unbound there */
	cr_assert_eq(kicks(0, 0), 0);
	cr_assert_eq(bind_vcpu(0, g, 1), 0);
	quiesce(0, t1);
	cr_assert_eq(evtchn_send_global_virq(dom(0), VIRQ_CON_RING), 0);
	cr_assert(pending(0, g));
	cr_assert_eq(kicks(0, 1), 1);
	cr_assert_eq(evtchn_send_global_virq(dom(0), VIRQ_DOM_EXC), 0); /* unbound */
	cr_assert_eq(evtchn_send_global_virq(dom(0), VIRQ_TIMER), -EINVAL);
	cr_assert_eq(evtchn_send_virq(vcpu(0, 0), VIRQ_CON_RING), -EINVAL);
	cr_assert_eq(evtchn_send_virq(vcpu(0, 0), NR_VIRQS), -EINVAL);
	cr_assert_eq(hv_raise_virq(fs->hv, 0, 1, VIRQ_TIMER), 0);
}

/* ---- bind_pirq, unknown and FIFO commands ---------------------------- */

static void case_bind_pirq_refused(void)
{
	struct evtchn_bind_pirq b = { .pirq = 3 };
	unsigned int used = evtchn_ports_used(dom(0)), i, logs = 0;

	cr_assert_eq(ev(0, 0, EVTCHNOP_bind_pirq, &b, sizeof(b)), -EPERM);
	cr_assert_eq(ev(0, 0, EVTCHNOP_bind_pirq, &b, sizeof(b)), -EPERM);
	cr_assert_eq(evtchn_ports_used(dom(0)), used);
	for (i = 0; i < fs->nr_logs; i++)
		logs += strstr(fs->logs[i], "bind_pirq") != NULL;
	cr_assert_eq(logs, 1, "logged once per domain");
}

static void case_fifo_and_unknown_enosys(void)
{
	struct evtchn_init_control ic = { 0 };
	struct evtchn_expand_array ea = { 0 };
	struct evtchn_set_priority sp = { 0 };

	cr_assert_eq(ev(1, 0, EVTCHNOP_init_control, &ic, sizeof(ic)), -ENOSYS);
	cr_assert_eq(ev(1, 0, EVTCHNOP_expand_array, &ea, sizeof(ea)), -ENOSYS);
	cr_assert_eq(ev(1, 0, EVTCHNOP_set_priority, &sp, sizeof(sp)), -ENOSYS);
	cr_assert_eq(ev(1, 0, 14, &sp, sizeof(sp)), -ENOSYS);
	cr_assert_eq(ev(1, 0, 0x7fffffff, &sp, sizeof(sp)), -ENOSYS);
}

/* ---- close ----------------------------------------------------------- */

static void case_close_states(void)
{
	evtchn_port_t u = alloc_unbound(1, DOMID_SELF, 2), ipi, virq;
	unsigned int used;

	cr_assert_eq(try_bind_ipi(1, 1, &ipi), 0);
	cr_assert_eq(try_bind_virq(1, VIRQ_TIMER, 1, &virq), 0);
	used = evtchn_ports_used(dom(1));
	cr_assert_eq(port_op(1, EVTCHNOP_close, u), 0);
	cr_assert_eq(port_op(1, EVTCHNOP_close, ipi), 0);
	cr_assert_eq(port_op(1, EVTCHNOP_close, virq), 0);
	assert_closed(1, u);
	assert_closed(1, ipi);
	assert_closed(1, virq);
	cr_assert_eq(vcpu(1, 1)->evtchn.virq_to_port[VIRQ_TIMER], 0);
	cr_assert_eq(evtchn_ports_used(dom(1)), used - 3);
	/* Free, reserved, beyond the limit, never allocated. */
	cr_assert_eq(port_op(1, EVTCHNOP_close, u), -EINVAL);
	cr_assert_eq(port_op(1, EVTCHNOP_close, 0), -EINVAL);
	cr_assert_eq(port_op(1, EVTCHNOP_close, 4096), -EINVAL);
	cr_assert_eq(port_op(1, EVTCHNOP_close, 900), -EINVAL);
	/* The VIRQ can be bound again; it takes the lowest free port. */
	cr_assert_eq(try_bind_virq(1, VIRQ_TIMER, 1, &virq), 0);
	cr_assert_eq(virq, u);
}

static void case_close_interdomain_either_end(void)
{
	evtchn_port_t a, b;

	/* Closing the binder's end: the allocator's end accepts it again. */
	connect(1, 2, &a, &b);
	cr_assert_eq(port_op(2, EVTCHNOP_close, b), 0);
	assert_closed(2, b);
	assert_unbound(1, a, 2);
	cr_assert_eq(bind(2, 1, a), b); /* reconnect: same lowest port */
	/* Closing the allocator's end: the binder's end accepts dom1. */
	cr_assert_eq(port_op(1, EVTCHNOP_close, a), 0);
	assert_closed(1, a);
	assert_unbound(2, b, 1);
	/* Sending on the now-unbound end is dropped, without error. */
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert_eq(port_op(1, EVTCHNOP_send, a), -EINVAL);
}

/* A freed port forgets its pending bit and its vCPU binding. */
static void case_close_clears_pending(void)
{
	evtchn_port_t a, b;

	connect(1, 2, &a, &b);
	cr_assert_eq(bind_vcpu(1, a, 1), 0);
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert(pending(1, a));
	cr_assert_eq(port_op(1, EVTCHNOP_close, a), 0);
	cr_assert(!pending(1, a));
	assert_closed(1, a);
	cr_assert_eq(alloc_unbound(1, DOMID_SELF, 0), a);
	cr_assert_eq(status(1, a).vcpu, 0);
}

/* ---- send and 2L-independent delivery rules -------------------------- */

static void case_send_interdomain(void)
{
	evtchn_port_t a, b;

	connect(1, 2, &a, &b);
	cr_assert_eq(bind_vcpu(1, a, 1), 0);
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert(pending(1, a));
	cr_assert(!pending(2, b));
	cr_assert(upcall(1, 1));
	cr_assert(!upcall(1, 0));
	cr_assert_eq(kicks(1, 1), 1);
	cr_assert_eq(kicks(1, 0), 0);
	/* Still pending: no new edge, no kick. */
	abi->guest_ack(vcpu(1, 1));
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert(!upcall(1, 1));
	cr_assert_eq(kicks(1, 1), 1);
	/* The guest handled it: the next send is a new edge. */
	quiesce(1, a);
	cr_assert_eq(port_op(1, EVTCHNOP_send, a), 0);
	cr_assert(pending(2, b));
	cr_assert_eq(kicks(2, 0), 1);
}

static void case_send_ipi(void)
{
	evtchn_port_t ipi;

	cr_assert_eq(try_bind_ipi(1, 1, &ipi), 0);
	cr_assert_eq(status(1, ipi).status, EVTCHNSTAT_ipi);
	cr_assert_eq(status(1, ipi).vcpu, 1);
	cr_assert_eq(port_op(1, EVTCHNOP_send, ipi), 0);
	cr_assert(pending(1, ipi));
	cr_assert_eq(kicks(1, 1), 1);
	cr_assert_eq(kicks(1, 0), 0);
	cr_assert_eq(try_bind_ipi(1, 2, NULL), -ENOENT);
	cr_assert_eq(try_bind_ipi(1, 0xffffffffu, NULL), -ENOENT);
}

static void case_send_errors(void)
{
	evtchn_port_t virq, u = alloc_unbound(1, DOMID_SELF, 2);

	cr_assert_eq(try_bind_virq(1, VIRQ_TIMER, 0, &virq), 0);
	cr_assert_eq(port_op(1, EVTCHNOP_send, u), 0); /* unbound: dropped */
	cr_assert(!pending(1, u));
	cr_assert_eq(port_op(1, EVTCHNOP_send, virq), -EINVAL);
	cr_assert_eq(port_op(1, EVTCHNOP_send, 0), -EINVAL);
	cr_assert_eq(port_op(1, EVTCHNOP_send, u + 1), -EINVAL); /* free */
	cr_assert_eq(port_op(1, EVTCHNOP_send, 5000), -EINVAL);
	cr_assert_eq(fs->nr_kicks, 0);
}

static void case_masked_then_unmask(void)
{
	evtchn_port_t a, b;

	connect(1, 2, &a, &b);
	abi->guest_mask(dom(1), a, true);
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert(pending(1, a));
	cr_assert(!upcall(1, 0));
	cr_assert_eq(kicks(1, 0), 0);
	/* Unmask re-delivers the pending event. */
	cr_assert_eq(port_op(1, EVTCHNOP_unmask, a), 0);
	cr_assert(!abi->ops->is_masked(dom(1), a));
	cr_assert(upcall(1, 0));
	cr_assert_eq(kicks(1, 0), 1);
	/* Unmasking an unmasked port does not deliver again. */
	abi->guest_ack(vcpu(1, 0));
	cr_assert_eq(port_op(1, EVTCHNOP_unmask, a), 0);
	cr_assert_eq(kicks(1, 0), 1);
	cr_assert(!upcall(1, 0));
	/* Masked but not pending: unmask delivers nothing. */
	quiesce(1, a);
	abi->guest_mask(dom(1), a, true);
	cr_assert_eq(port_op(1, EVTCHNOP_unmask, a), 0);
	cr_assert_eq(kicks(1, 0), 0);
	cr_assert_eq(port_op(1, EVTCHNOP_unmask, 5000), -EINVAL);
	cr_assert_eq(port_op(1, EVTCHNOP_unmask, 1000), -EINVAL);
}

/* While upcall_pending is set the vCPU is not kicked again, even for a
 * port far away from the first (another selector word in 2-level). */
static void case_no_second_kick(void)
{
	evtchn_port_t a, b, far;

	connect(1, 2, &a, &b);
	cr_assert_eq(evtchn_reserve_port(dom(1), 1000, 2), 0);
	far = bind(2, 1, 1000);
	quiesce(2, far);
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert_eq(port_op(2, EVTCHNOP_send, far), 0);
	cr_assert(pending(1, a));
	cr_assert(pending(1, 1000));
	cr_assert(upcall(1, 0));
	cr_assert_eq(kicks(1, 0), 1);
}

/* SCHEDOP_poll sleepers wake on a masked port going pending. */
static void case_poll_wakeup(void)
{
	evtchn_port_t a, b;
	struct vcpu *v;

	connect(1, 2, &a, &b);
	abi->guest_mask(dom(1), a, true);
	v = vcpu(1, 1);
	v->nr_poll = 1;
	v->poll_ports[0] = a;
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert_eq(kicks(1, 1), 1);
	cr_assert_eq(v->nr_poll, 0);
	cr_assert(!upcall(1, 1));
	cr_assert(evtchn_port_pending(dom(1), a));
	cr_assert(!evtchn_port_pending(dom(1), 5000));
}

/* ---- status ---------------------------------------------------------- */

static void case_status_access(void)
{
	evtchn_port_t p = alloc_unbound(1, DOMID_SELF, 2);
	struct evtchn_status s;

	cr_assert_eq(try_status(1, DOMID_SELF, p, &s), 0);
	cr_assert_eq(s.status, EVTCHNSTAT_unbound);
	cr_assert_eq(try_status(1, 1, p, &s), 0);
	cr_assert_eq(try_status(2, 1, p, &s), -EPERM);
	cr_assert_eq(try_status(0, 1, p, &s), 0);
	cr_assert_eq(try_status(0, 99, p, &s), -ESRCH);
	cr_assert_eq(try_status(0, 1, 5000, &s), -EINVAL);
	cr_assert_eq(try_status(0, 1, 1000, &s), -EINVAL); /* bucket never used */
	/* Port 0 and free ports in a used bucket read closed, zeroed. */
	cr_assert_eq(try_status(1, DOMID_SELF, 0, &s), 0);
	cr_assert_eq(s.status, EVTCHNSTAT_closed);
	cr_assert_eq(s.u.interdomain.port, 0);
	cr_assert_eq(s.u.interdomain.dom, 0);
	cr_assert_eq(try_status(1, DOMID_SELF, p + 1, &s), 0);
	cr_assert_eq(s.status, EVTCHNSTAT_closed);
	/* The IN fields come back unchanged. */
	cr_assert_eq(s.dom, DOMID_SELF);
	cr_assert_eq(s.port, p + 1);
}

/* ---- bind_vcpu ------------------------------------------------------- */

static void case_bind_vcpu(void)
{
	evtchn_port_t u = alloc_unbound(1, DOMID_SELF, 2), a, b, ipi, timer, dbg, con;

	connect(1, 2, &a, &b);
	cr_assert_eq(try_bind_ipi(1, 0, &ipi), 0);
	cr_assert_eq(try_bind_virq(1, VIRQ_TIMER, 0, &timer), 0);
	cr_assert_eq(try_bind_virq(1, VIRQ_DEBUG, 1, &dbg), 0);
	cr_assert_eq(try_bind_virq(1, VIRQ_CONSOLE, 0, &con), 0);
	cr_assert_eq(bind_vcpu(1, u, 1), 0);
	cr_assert_eq(bind_vcpu(1, a, 1), 0);
	cr_assert_eq(bind_vcpu(1, con, 1), 0);
	cr_assert_eq(status(1, u).vcpu, 1);
	cr_assert_eq(status(1, a).vcpu, 1);
	cr_assert_eq(status(1, con).vcpu, 1);
	cr_assert_eq(bind_vcpu(1, ipi, 1), -EINVAL);
	cr_assert_eq(bind_vcpu(1, timer, 1), -EINVAL);
	cr_assert_eq(bind_vcpu(1, dbg, 0), -EINVAL);
	cr_assert_eq(bind_vcpu(1, 0, 1), -EINVAL);
	cr_assert_eq(bind_vcpu(1, con + 1, 1), -EINVAL);
	cr_assert_eq(bind_vcpu(1, 5000, 0), -EINVAL);
	cr_assert_eq(bind_vcpu(1, a, 2), -ENOENT);
	cr_assert_eq(bind_vcpu(1, 5000, 2), -ENOENT); /* vCPU checked first */
	cr_assert_eq(status(1, ipi).vcpu, 0);
	cr_assert_eq(status(1, dbg).vcpu, 1);
	/* The unbound port keeps its vCPU once bound by the peer. */
	cr_assert_eq(status(1, u).vcpu, 1);
	bind(2, 1, u);
	cr_assert_eq(status(1, u).vcpu, 1);
	fake_clear_records(fs);
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert_eq(kicks(1, 1), 1);
}

/* ---- reset ----------------------------------------------------------- */

static void case_reset_self(void)
{
	evtchn_port_t a, b, ipi;

	connect(1, 2, &a, &b);
	cr_assert_eq(try_bind_ipi(1, 0, &ipi), 0);
	cr_assert_eq(try_bind_virq(1, VIRQ_TIMER, 1, NULL), 0);
	cr_assert_eq(reset(1, DOMID_SELF), 0);
	cr_assert_eq(evtchn_ports_used(dom(1)), 1);
	assert_closed(1, a);
	assert_closed(1, ipi);
	assert_unbound(2, b, 1);
	cr_assert_eq(vcpu(1, 1)->evtchn.virq_to_port[VIRQ_TIMER], 0);
	cr_assert_eq(status(1, 0).status, EVTCHNSTAT_closed);
	cr_assert_eq(port_op(1, EVTCHNOP_close, 0), -EINVAL); /* still reserved */
	cr_assert_eq(alloc_unbound(1, DOMID_SELF, 0), 1);
}

static void case_reset_other(void)
{
	cr_assert_eq(reset(2, 1), -EPERM);
	cr_assert_eq(reset(0, 88), -ESRCH);
	cr_assert_eq(reset(0, 1), -EINVAL); /* not paused by its controller */
	cr_assert_eq(domain_pause(fs->hv, 1), 0);
	cr_assert_eq(reset(0, 1), 0);
	cr_assert_eq(evtchn_ports_used(dom(1)), 1);
	cr_assert_eq(domain_unpause(fs->hv, 1), 0);
}

/* ---- limits and memory ----------------------------------------------- */

static unsigned int fill(domid_t d, long *last_rc)
{
	unsigned int n = 0;
	long rc;

	while ((rc = try_alloc_unbound(d, DOMID_SELF, 0, NULL)) == 0)
		n++;
	*last_rc = rc;
	return n;
}

static unsigned int log_count(const char *needle)
{
	unsigned int i, n = 0;

	for (i = 0; i < fs->nr_logs && i < FAKE_MAX_RECORDS; i++)
		n += strstr(fs->logs[i], needle) != NULL;
	return n;
}

static void case_limit_configured(void)
{
	domid_t d = make_domain(3, false, 1, 8);
	long rc;
	evtchn_port_t p;

	fill(d, &rc);
	cr_assert_eq(rc, -ENOSPC);
	cr_assert_eq(evtchn_ports_used(dom(d)), 9); /* ports 0..8 */
	cr_assert_eq(try_bind_ipi(d, 0, NULL), -ENOSPC);
	cr_assert_eq(try_bind_virq(d, VIRQ_TIMER, 0, NULL), -ENOSPC);
	cr_assert_eq(try_bind(d, 1, alloc_unbound(1, DOMID_SELF, d), NULL), -ENOSPC);
	cr_assert_eq(log_count("out of event channels"), 1);
	cr_assert(fake_log_contains(fs, "d3 out of event channels: limit 8"));
	cr_assert_eq(evtchn_reserve_port(dom(d), 9, 0), -ENOSPC);
	/* Freeing one makes room again. */
	cr_assert_eq(port_op(d, EVTCHNOP_close, 5), 0);
	cr_assert_eq(try_alloc_unbound(d, DOMID_SELF, 0, &p), 0);
	cr_assert_eq(p, 5);
}

static void case_limit_default(void)
{
	long rc;

	fill(1, &rc);
	cr_assert_eq(rc, -ENOSPC);
	cr_assert_eq(evtchn_ports_used(dom(1)), EVTCHN_DEFAULT_MAX_PORTS + 1);
	assert_unbound(1, EVTCHN_DEFAULT_MAX_PORTS, 0);
	cr_assert_eq(try_status(0, 1, EVTCHN_DEFAULT_MAX_PORTS + 1, &(struct evtchn_status){ 0 }),
		     -EINVAL);
	cr_assert(fake_log_contains(fs, "d1 out of event channels"));
}

static void case_limit_abi_cap(void)
{
	domid_t d = make_domain(3, false, 1, 1000000);
	long rc;

	cr_assert_eq(dom(d)->evtchn.max_ports, abi->ops->nr_ports);
	fill(d, &rc);
	cr_assert_eq(rc, -ENOSPC);
	cr_assert_eq(evtchn_ports_used(dom(d)), abi->ops->nr_ports);
}

/* An idle domain holds one bucket: far below 128 KiB. */
static void case_idle_memory(void)
{
	size_t idle = evtchn_memory_used(dom(2));

	cr_assert_lt(idle, 4096, "idle port table %zu bytes", idle);
	cr_assert_eq(evtchn_reserve_port(dom(2), 1000, 0), 0);
	cr_assert_gt(evtchn_memory_used(dom(2)), idle);
	cr_assert_lt(evtchn_memory_used(dom(2)), 2 * idle);
}

/* ---- builder API and seed 002 ---------------------------------------- */

static void case_builder_reserve_bind(void)
{
	struct domain *d0 = dom(0), *d1 = dom(1);

	cr_assert_eq(evtchn_reserve_port(d0, 200, 1), 0);
	assert_unbound(0, 200, 1);
	cr_assert_eq(evtchn_reserve_port(d0, 200, 1), -EBUSY);
	cr_assert_eq(evtchn_reserve_port(d0, 0, 1), -EBUSY);
	cr_assert_eq(evtchn_reserve_port(d0, 1024, 1), -ENOSPC);
	cr_assert_eq(evtchn_bind_port(d1, 300, NULL, 200), -ESRCH);
	cr_assert_eq(evtchn_bind_port(dom(2), 300, d0, 200), -EINVAL); /* not for d2 */
	cr_assert_eq(evtchn_bind_port(d1, 300, d0, 201), -EINVAL);     /* free */
	cr_assert_eq(evtchn_bind_port(d1, 0, d0, 200), -EBUSY);
	cr_assert_eq(evtchn_bind_port(d1, 300, d0, 200), 0);
	assert_interdomain(0, 200, 1, 300);
	assert_interdomain(1, 300, 0, 200);
	cr_assert(!pending(1, 300)); /* bound before the guest runs */
	cr_assert_eq(evtchn_bind_port(d1, 301, d0, 200), -EINVAL);
	cr_assert_eq(evtchn_close_port(d1, 300), 0);
	assert_unbound(0, 200, 1);
	cr_assert_eq(evtchn_close_port(d1, 300), -EINVAL);
	cr_assert_eq(evtchn_close_port(d0, 200), 0);
	/* DOMID_SELF as remote means the owner. */
	cr_assert_eq(evtchn_reserve_port(d1, 7, DOMID_SELF), 0);
	assert_unbound(1, 7, 1);
}

/* seed 002: dom0 ports 121..126 wait for dom1..6; domN binds port 127 to
 * dom0:120+N; both ends interdomain and events flow both ways. */
static void case_seed_002(void)
{
	domid_t n;

	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	cr_assert_eq(domain_destroy(fs->hv, 2), 0);
	for (n = 1; n <= 6; n++)
		cr_assert_eq(evtchn_reserve_port(dom(0), 120 + n, n), 0);
	for (n = 1; n <= 6; n++) {
		cr_assert_eq(make_domain(n, false, 1, 0), n);
		cr_assert_eq(evtchn_bind_port(dom(n), 127, dom(0), 120 + n), 0);
	}
	for (n = 1; n <= 6; n++) {
		assert_interdomain(0, 120 + n, n, 127);
		assert_interdomain(n, 127, 0, 120 + n);
		fake_clear_records(fs);
		cr_assert_eq(port_op(n, EVTCHNOP_send, 127), 0);
		cr_assert(pending(0, 120 + n));
		cr_assert_eq(port_op(0, EVTCHNOP_send, 120 + n), 0);
		cr_assert(pending(n, 127));
		cr_assert_eq(kicks(n, 0), 1);
	}
}

/* ---- domain death ---------------------------------------------------- */

static void case_domain_destroy_peers(void)
{
	evtchn_port_t a, b, c, d, exc;

	connect(1, 2, &a, &b);
	connect(2, 1, &c, &d);
	cr_assert_eq(try_bind_virq(0, VIRQ_DOM_EXC, 0, &exc), 0);
	cr_assert_eq(domain_destroy(fs->hv, 1), 0);
	assert_unbound(2, b, 1);
	assert_unbound(2, c, 1);
	cr_assert(pending(0, exc));
	cr_assert_eq(port_op(2, EVTCHNOP_send, b), 0);
	cr_assert_eq(try_bind(2, 1, 1, NULL), -ESRCH);
}

/* ---- the table ------------------------------------------------------- */

#define EVTCHN_CASES(X)                 \
	X(alloc_unbound_self)           \
	X(alloc_unbound_privileged)     \
	X(alloc_unbound_errors)         \
	X(lowest_free_port_reused)      \
	X(bind_interdomain)             \
	X(bind_interdomain_loopback)    \
	X(bind_interdomain_errors)      \
	X(bind_virq_global)             \
	X(bind_virq_per_vcpu)           \
	X(virq_classes)                 \
	X(virq_send_api)                \
	X(bind_pirq_refused)            \
	X(fifo_and_unknown_enosys)      \
	X(close_states)                 \
	X(close_interdomain_either_end) \
	X(close_clears_pending)         \
	X(send_interdomain)             \
	X(send_ipi)                     \
	X(send_errors)                  \
	X(masked_then_unmask)           \
	X(no_second_kick)               \
	X(poll_wakeup)                  \
	X(status_access)                \
	X(bind_vcpu)                    \
	X(reset_self)                   \
	X(reset_other)                  \
	X(limit_configured)             \
	X(limit_default)                \
	X(limit_abi_cap)                \
	X(idle_memory)                  \
	X(builder_reserve_bind)         \
	X(seed_002)                     \
	X(domain_destroy_peers)

/* One entry per port ABI. FIFO: X(fifo, c) with setup_fifo/abi_fifo. */
#define EVTCHN_ABIS(X, c) X(2l, c)

#define EVTCHN_TEST(abi_, c)                                           \
	Test(evtchn_##abi_, c, .init = setup_##abi_, .fini = teardown) \
	{                                                              \
		case_##c();                                            \
	}
#define EVTCHN_CASE(c) EVTCHN_ABIS(EVTCHN_TEST, c)

EVTCHN_CASES(EVTCHN_CASE)

/* ---- 2-level bit layout ---------------------------------------------- */

static xen_ulong_t sel(domid_t d, unsigned int v)
{
	return vcpu(d, v)->vcpu_info->evtchn_pending_sel;
}

/* Port p sets bit p%64 of pending word p/64 and selector bit p/64. */
Test(evtchn_2l_bits, send_sets_pending_selector_upcall, .init = setup_2l, .fini = teardown)
{
	struct shared_info *s = dom(1)->shared_info;
	evtchn_port_t p;

	cr_assert_eq(evtchn_reserve_port(dom(1), 130, 2), 0);
	p = bind(2, 1, 130);
	fake_clear_records(fs);
	cr_assert_eq(port_op(2, EVTCHNOP_send, p), 0);
	cr_assert_eq(s->evtchn_pending[2], (xen_ulong_t)1 << 2);
	cr_assert_eq(sel(1, 0), (xen_ulong_t)1 << 2);
	cr_assert_eq(s->vcpu_info[0].evtchn_upcall_pending, 1);
	cr_assert_eq(kicks(1, 0), 1);
}

/* The guest cleared upcall_pending but has not yet taken the selector:
 * a send to another port of the same word needs no new upcall. */
Test(evtchn_2l_bits, selector_already_set_no_upcall, .init = setup_2l, .fini = teardown)
{
	cr_assert_eq(evtchn_reserve_port(dom(1), 130, 2), 0);
	cr_assert_eq(evtchn_reserve_port(dom(1), 131, 2), 0);
	cr_assert_eq(evtchn_bind_port(dom(2), 30, dom(1), 130), 0);
	cr_assert_eq(evtchn_bind_port(dom(2), 31, dom(1), 131), 0);
	cr_assert_eq(port_op(2, EVTCHNOP_send, 30), 0);
	vcpu(1, 0)->vcpu_info->evtchn_upcall_pending = 0;
	cr_assert_eq(port_op(2, EVTCHNOP_send, 31), 0);
	cr_assert_eq(dom(1)->shared_info->evtchn_pending[2], (xen_ulong_t)3 << 2);
	cr_assert(!upcall(1, 0));
	cr_assert_eq(kicks(1, 0), 1);
}

/* Unmask of a masked pending port sets the selector and upcall. */
Test(evtchn_2l_bits, unmask_sets_selector, .init = setup_2l, .fini = teardown)
{
	struct shared_info *s = dom(1)->shared_info;

	cr_assert_eq(evtchn_reserve_port(dom(1), 70, 2), 0);
	cr_assert_eq(evtchn_bind_port(dom(2), 30, dom(1), 70), 0);
	s->evtchn_mask[1] = (xen_ulong_t)1 << 6;
	cr_assert_eq(port_op(2, EVTCHNOP_send, 30), 0);
	cr_assert_eq(s->evtchn_pending[1], (xen_ulong_t)1 << 6);
	cr_assert_eq(sel(1, 0), 0);
	cr_assert_eq(port_op(1, EVTCHNOP_unmask, 70), 0);
	cr_assert_eq(s->evtchn_mask[1], 0);
	cr_assert_eq(sel(1, 0), (xen_ulong_t)1 << 1);
	cr_assert(upcall(1, 0));
	cr_assert_eq(kicks(1, 0), 1);
}

/* After VCPUOP_register_vcpu_info delivery writes to the new vcpu_info. */
Test(evtchn_2l_bits, registered_vcpu_info, .init = setup_2l, .fini = teardown)
{
	struct vcpu_info moved;

	memset(&moved, 0, sizeof(moved));
	cr_assert_eq(evtchn_reserve_port(dom(1), 9, 2), 0);
	cr_assert_eq(evtchn_bind_port(dom(2), 30, dom(1), 9), 0);
	vcpu(1, 0)->vcpu_info = &moved;
	cr_assert_eq(port_op(2, EVTCHNOP_send, 30), 0);
	cr_assert_eq(moved.evtchn_pending_sel, 1);
	cr_assert_eq(moved.evtchn_upcall_pending, 1);
	cr_assert_eq(dom(1)->shared_info->vcpu_info[0].evtchn_pending_sel, 0);
	vcpu(1, 0)->vcpu_info = &dom(1)->shared_info->vcpu_info[0];
}
