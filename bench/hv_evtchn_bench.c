/*
 * EVTCHNOP_send between two domains through hypercall(): the hypervisor
 * core over the fake substrate, argument struct in dom0's guest RAM.
 *
 *   evtchn-send          every send is a new edge: the receiver's guest
 *                        handled the previous one (cleared pending, its
 *                        selector and upcall flag), so each send runs the
 *                        full path: pending, selector, upcall, kick.
 *   evtchn-send-pending  the receiver has not handled it yet: the pending
 *                        test-and-set finds the bit set and stops.
 *
 * Baseline, same run: a non-inlined function doing one atomic test-and-set
 * on a shared word (the irreducible core of a send), with the same receiver
 * work in the loop. Both loops pay the same loop and receiver costs, so the
 * ratio is what dispatch, argument copy and the state machine add.
 *
 * With --callgrind (under valgrind --tool=callgrind --collect-atstart=no,
 * see scripts/run-bench.sh) only the hypercall() calls are collected, so the
 * reported instructions per op exclude the receiver's work.
 */
#include <string.h>

#include "bench.h"
#include "core.h"
#include "fake_substrate.h"

#define BENCH_RUNS 11
#define BENCH_ITERS 200000
#define BENCH_CG_ITERS 10000

struct bench {
	struct fake_substrate *fs;
	struct domain *rx;
	evtchn_port_t rx_port;
	bool handle; /* the receiver handles each send (bench_loop) */
	uint64_t args[5];
	xen_ulong_t base_word;
};

static __attribute__((noinline)) long bench_send(struct bench *b)
{
	return hypercall(b->fs->hv, 0, 0, __HYPERVISOR_event_channel_op, b->args, NULL);
}

static __attribute__((noinline)) long bench_baseline_op(xen_ulong_t *word, xen_ulong_t bit)
{
	return (__atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

/* The receiving guest's upcall: ack the upcall, take the selector,
 * clear the port's pending bit. */
static void bench_rx_handle(struct bench *b)
{
	const unsigned int bits = sizeof(xen_ulong_t) * 8;
	struct vcpu_info *vi = b->rx->vcpus[0].vcpu_info;

	vi->evtchn_upcall_pending = 0;
	__atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	__atomic_fetch_and(&b->rx->shared_info->evtchn_pending[b->rx_port / bits],
			   ~((xen_ulong_t)1 << (b->rx_port % bits)), __ATOMIC_SEQ_CST);
	b->base_word = 0;
}

static void bench_setup(struct bench *b)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = 0 };
	struct evtchn_bind_interdomain bi = { .remote_dom = 1 };
	struct evtchn_send send;

	memset(b, 0, sizeof(*b));
	b->fs = fake_create_pair(1, 64);
	if (!b->fs)
		exit(1);
	b->fs->quiet = true;
	if (fake_hypercall(b->fs, 1, 0, __HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, &au,
			   sizeof(au), &au) != 0)
		exit(1);
	bi.remote_port = au.port;
	if (fake_hypercall(b->fs, 0, 0, __HYPERVISOR_event_channel_op, EVTCHNOP_bind_interdomain,
			   &bi, sizeof(bi), &bi) != 0)
		exit(1);
	b->rx = domain_lookup(b->fs->hv, 1);
	b->rx_port = au.port;
	send.port = bi.local_port;
	fake_write(b->fs, 0, FAKE_SCRATCH_GPA, &send, sizeof(send));
	b->args[0] = EVTCHNOP_send;
	b->args[1] = FAKE_SCRATCH_GPA;
}

/* ns per iteration of one loop kind (bench_figure_ns's loop). */
static double bench_loop(void *ctx, int kind)
{
	struct bench *b = ctx;
	bool handle = b->handle;
	uint64_t t0 = bench_now_ns();
	long i;

	for (i = 0; i < BENCH_ITERS; i++) {
		if (kind && bench_send(b) != 0)
			exit(1);
		if (!kind)
			bench_baseline_op(&b->base_word, 1);
		if (handle)
			bench_rx_handle(b);
	}
	/* The fake records every kick; keep its arrays from mattering. */
	fake_clear_records(b->fs);
	return (double)(bench_now_ns() - t0) / BENCH_ITERS;
}

static void bench_figure(struct bench *b, const char *name, bool handle)
{
	b->handle = handle;
	bench_figure_ns(name, BENCH_RUNS, bench_loop, b);
}

/* Callgrind: collect only inside the sends (and baseline ops). */
static void bench_callgrind(struct bench *b, const char *name, int kind, bool handle)
{
	long i;

	bench_cg_begin();
	for (i = 0; i < BENCH_CG_ITERS; i++) {
		if (kind)
			bench_send(b);
		else
			bench_baseline_op(&b->base_word, 1);
		CALLGRIND_TOGGLE_COLLECT;
		if (handle)
			bench_rx_handle(b);
		CALLGRIND_TOGGLE_COLLECT;
	}
	bench_cg_end(name, BENCH_CG_ITERS);
}

int main(int argc, char **argv)
{
	struct bench b;

	bench_setup(&b);
	if (argc > 1 && !strcmp(argv[1], "--callgrind")) {
		bench_callgrind(&b, "evtchn-send", 1, true);
		bench_callgrind(&b, "evtchn-send-pending", 1, false);
		bench_callgrind(&b, "evtchn-send-baseline", 0, true);
	} else {
		bench_figure(&b, "evtchn-send", true);
		bench_figure(&b, "evtchn-send-pending", false);
	}
	fake_destroy(b.fs);
	return 0;
}
