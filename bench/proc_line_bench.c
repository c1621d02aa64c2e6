/*
 * Where the event round trip between two polling process domains goes, one
 * cache line at a time (bench-proc-event measures the whole path under a
 * real xenon-hvd; this one strips it down to the shared-memory protocol).
 *
 * Two processes (fork, one memfd, as two domains map each other's evt
 * pages) play ping-pong through a stack of variants, each adding one piece
 * of the path a guest's notify_remote_via_evtchn() + upcall takes, so the
 * difference between neighbours is the cost of that piece:
 *
 *   pingpong   one line, plain stores and loads (the floors.md baseline)
 *   flag       xchg the peer's upcall_pending / spin on ours, store 0
 *   pending    + pending test-and-set before the flag; the receiver reads
 *              and clears it (2 lines per direction)
 *   2l-plain   the exact 2-level send (pending, mask, selector,
 *              upcall_pending) and the upcall scan of guest/events.c
 *              (mask, upcall_pending = 0, selector xchg, pending & ~mask,
 *              clear, handler), with the receiver spinning on its flag
 *   2l         the same through the runtime's rt_2l_send()
 *   2l-recvpf  + the receiver asking for the lines its upcall writes as
 *              soon as it sees its flag (rt_wait does so for a vCPU)
 *   notify     + the waker's full fence and state-word read (rt_notify)
 *   wait       + the receiver waiting in rt_wait() (state word, spin
 *              loop with its clock reads): the runtime's whole line path
 *   poll       the masked-port protocol instead (SCHEDOP_poll both sides):
 *              the runtime's send (rt_2l_send_wake: pending test-and-set,
 *              the mask read -- set: no selector, no flag --, fence, state
 *              read); the receiver spins on its pending word, clears the
 *              bit, answers. Its floor: the sender's RMW and the
 *              receiver's clear each wait for the line the other wrote
 *              (bench-proc-event's proc-event-rtt-pollport is the same
 *              through the guest library and the runtime)
 *
 * What it showed (docs/process-domains.md, "The fast path"): the exact
 * ABI costs ~2.2x the ping-pong here before any instruction of the guest
 * library runs, because both lines the sender writes were last written by
 * the receiver and each locked step waits for its line; sending with
 * prefetchw first bought nothing (the spinning receiver takes the
 * vcpu_info line back before the selector's RMW uses it).
 *
 *   line layout (each domain; the peer maps it):
 *     shared_info +0     vcpu_info[0]: upcall_pending, mask, pending_sel
 *     shared_info +2048  evtchn_pending[0..7]  (ports 0..511)
 *     shared_info +2560  evtchn_mask[0..7]
 *     vCPU page   +0     state (the futex word), tid, wakes, signals
 *
 * Every line is printed as `name: median X ns (min..max), baseline Y ns,
 * ratio Z` against the pingpong of the same run, plus the cost of one
 * rt_now_ns() and one rt_2l_send() with every line local.
 *
 *   bench-proc-line [round trips per rep]   (default 5000, 21 reps)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "rt_internal.h"

#define LB_REPS 21
#define LB_PORT 10u
#define LB_SPIN_NS 20000ULL

enum lb_variant {
	LB_PINGPONG,
	LB_FLAG,
	LB_PENDING,
	LB_PLAIN,
	LB_2L,
	LB_RECVPF,
	LB_NOTIFY,
	LB_WAIT,
	LB_POLL,
	LB_NR
};

static const char *const lb_names[LB_NR] = { "pingpong",  "flag",   "pending", "2l-plain", "2l",
					     "2l-recvpf", "notify", "wait",    "poll" };

struct lb_dom {
	struct shared_info *s;
	struct procdom_vcpu_page *pg;
};

struct lb_side {
	struct lb_dom mine, peer;
	uint64_t *word; /* the pingpong line */
	uint64_t *times;
	unsigned long n, handled;
	bool ping;
};

static inline void lb_prefetchw(const void *p)
{
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
}

static xen_ulong_t lb_bit(void)
{
	return (xen_ulong_t)1 << (LB_PORT % XG_EVTCHN_BITS);
}

static void lb_spin_flag(struct vcpu_info *vi)
{
	while (!__atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST))
		__builtin_ia32_pause();
}

/* rt_2l_send's steps without its prefetches: each waits for its line. */
static void lb_2l_plain(struct shared_info *s, struct vcpu_info *vi)
{
	if (__atomic_fetch_or(&s->evtchn_pending[0], lb_bit(), __ATOMIC_SEQ_CST) & lb_bit())
		return;
	if (__atomic_load_n(&s->evtchn_mask[0], __ATOMIC_SEQ_CST) & lb_bit())
		return;
	if (__atomic_fetch_or(&vi->evtchn_pending_sel, 1, __ATOMIC_SEQ_CST) & 1)
		return;
	__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
}

static void lb_send(struct lb_side *sd, enum lb_variant v)
{
	struct vcpu_info *vi = &sd->peer.s->vcpu_info[0];
	bool edge;

	if (v == LB_POLL) {
		/* The runtime's whole send: 2-level bits, fence, state read. */
		rt_2l_send_wake(sd->peer.s, vi, sd->peer.pg, LB_PORT);
	} else if (v == LB_FLAG) {
		__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
	} else if (v == LB_PENDING) {
		__atomic_fetch_or(&sd->peer.s->evtchn_pending[0], lb_bit(), __ATOMIC_SEQ_CST);
		__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
	} else if (v == LB_PLAIN) {
		lb_2l_plain(sd->peer.s, vi);
	} else if (rt_2l_send(sd->peer.s, vi, LB_PORT, &edge) && v >= LB_NOTIFY) {
		rt_notify(sd->peer.pg, edge);
	}
}

/* The handler: pong answers from inside its upcall, as evbench's does. */
static void lb_handler(struct lb_side *sd, enum lb_variant v)
{
	sd->handled++;
	if (!sd->ping)
		lb_send(sd, v);
}

/* guest/events.c's upcall for one selected word, under rt_deliver's mask. */
static void lb_upcall(struct lb_side *sd, enum lb_variant v)
{
	struct shared_info *s = sd->mine.s;
	struct vcpu_info *vi = &s->vcpu_info[0];
	xen_ulong_t sel, bits;

	__atomic_store_n(&vi->evtchn_upcall_mask, 1, __ATOMIC_SEQ_CST);
	do {
		__atomic_store_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
		sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
		bits = sel & 1 ? __atomic_load_n(&s->evtchn_pending[0], __ATOMIC_SEQ_CST) &
					 ~__atomic_load_n(&s->evtchn_mask[0], __ATOMIC_SEQ_CST)
			       : 0;
		if (bits & lb_bit()) {
			__atomic_fetch_and(&s->evtchn_pending[0], ~lb_bit(), __ATOMIC_SEQ_CST);
			lb_handler(sd, v);
		}
	} while (__atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST));
	__atomic_store_n(&vi->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
}

static bool lb_cond(void *arg)
{
	struct vcpu_info *vi = arg;

	return __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST);
}

static void lb_receive(struct lb_side *sd, enum lb_variant v)
{
	struct vcpu_info *vi = &sd->mine.s->vcpu_info[0];

	if (v == LB_POLL) {
		xen_ulong_t *w = &sd->mine.s->evtchn_pending[0];

		while (!(__atomic_load_n(w, __ATOMIC_SEQ_CST) & lb_bit()))
			__builtin_ia32_pause();
		__atomic_fetch_and(w, ~lb_bit(), __ATOMIC_SEQ_CST);
		lb_handler(sd, v);
		return;
	}
	if (v == LB_WAIT)
		rt_wait(sd->mine.pg, lb_cond, vi, 0, LB_SPIN_NS, NULL);
	else
		lb_spin_flag(vi);
	if (v >= LB_RECVPF) {
		/* What rt_wait does for a vCPU of its own once cond holds
		 * (the bench's pages are no vCPU's: it does it here). */
		lb_prefetchw(&sd->mine.s->vcpu_info[0]);
		lb_prefetchw(&sd->mine.s->evtchn_pending[0]);
	}
	if (v >= LB_PLAIN) {
		lb_upcall(sd, v);
		return;
	}
	__atomic_store_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
	if (v == LB_PENDING) {
		(void)__atomic_load_n(&sd->mine.s->evtchn_pending[0], __ATOMIC_SEQ_CST);
		__atomic_fetch_and(&sd->mine.s->evtchn_pending[0], ~lb_bit(), __ATOMIC_SEQ_CST);
	}
	lb_handler(sd, v);
}

static void lb_pingpong(struct lb_side *sd, unsigned long i)
{
	if (sd->ping) {
		__atomic_store_n(sd->word, 2 * i - 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(sd->word, __ATOMIC_ACQUIRE) != 2 * i)
			__builtin_ia32_pause();
		return;
	}
	while (__atomic_load_n(sd->word, __ATOMIC_ACQUIRE) != 2 * i - 1)
		__builtin_ia32_pause();
	__atomic_store_n(sd->word, 2 * i, __ATOMIC_RELEASE);
}

/* Pong counts events, not waits: one upcall may handle the next event too
 * (it arrived before the upcall's final look at upcall_pending). */
static void lb_run_side(struct lb_side *sd, enum lb_variant v)
{
	unsigned long i;

	while (!sd->ping && v != LB_PINGPONG && sd->handled < sd->n)
		lb_receive(sd, v);
	for (i = 1; (sd->ping || v == LB_PINGPONG) && i <= sd->n; i++) {
		uint64_t t0 = bench_now_ns();

		if (v == LB_PINGPONG) {
			lb_pingpong(sd, i);
		} else {
			lb_send(sd, v);
			while (sd->handled < i)
				lb_receive(sd, v);
		}
		sd->times[i - 1] = bench_now_ns() - t0;
	}
}

static int lb_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Shared memfd: domain A (ping) pages 0-1, domain B (pong) pages 2-3,
 * page 4 the pingpong line. One rep of variant v: median round trip, ns.
 */
#define LB_LEN (5 * RT_PAGE_SIZE)
static double lb_rep(enum lb_variant v, unsigned long n, uint64_t *times)
{
	int fd = memfd_create("line-bench", MFD_CLOEXEC), status;
	struct lb_dom a, b;
	struct lb_side sd;
	uint8_t *mem;
	pid_t pid;

	if (fd < 0 || ftruncate(fd, LB_LEN) < 0)
		return 0;
	mem = mmap(NULL, LB_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return 0;
	a = (struct lb_dom){ (void *)mem, (void *)(mem + RT_PAGE_SIZE) };
	b = (struct lb_dom){ (void *)(mem + 2 * RT_PAGE_SIZE), (void *)(mem + 3 * RT_PAGE_SIZE) };
	/* Ports unmasked (mask all zero); both vCPUs start RUNNING. */
	/* The poll variant's port is masked on both sides. */
	((struct shared_info *)mem)->evtchn_mask[0] = v == LB_POLL ? lb_bit() : 0;
	((struct shared_info *)(mem + 2 * RT_PAGE_SIZE))->evtchn_mask[0] =
		v == LB_POLL ? lb_bit() : 0;
	sd = (struct lb_side){ .word = (void *)(mem + 4 * RT_PAGE_SIZE), .times = times, .n = n };
	pid = fork();
	if (pid == 0) {
		sd.mine = b;
		sd.peer = a;
		lb_run_side(&sd, v);
		_exit(0);
	}
	sd.mine = a;
	sd.peer = b;
	sd.ping = true;
	if (pid > 0)
		lb_run_side(&sd, v);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	munmap(mem, LB_LEN);
	if (pid < 0)
		return 0;
	qsort(times, n, sizeof(*times), lb_cmp_u64);
	return (double)times[n / 2];
}

/* ns per call of f over n calls, every line local. */
static double lb_local_ns(int what, unsigned long n)
{
	static struct shared_info s;
	struct procdom_vcpu_page pg = { .state = PROCDOM_VCPU_POLLING };
	uint64_t t0 = bench_now_ns(), sink = 0;
	unsigned long i;
	bool edge;

	for (i = 0; i < n; i++) {
		if (what == 0) {
			sink += rt_now_ns();
		} else {
			rt_2l_send(&s, &s.vcpu_info[0], LB_PORT, &edge);
			rt_notify(&pg, edge);
			s.evtchn_pending[0] = 0;
			s.vcpu_info[0].evtchn_pending_sel = 0;
			s.vcpu_info[0].evtchn_upcall_pending = 0;
		}
	}
	__asm__ volatile("" : : "r"(sink));
	return (double)(bench_now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 5000;
	double fig[LB_NR][LB_REPS];
	uint64_t *times;
	struct bench_stat base;
	int v, r;

	if (n < 10 || !(times = calloc(n, sizeof(*times))))
		return 2;
	/* Interleaved, so drift on a shared machine hits every variant alike. */
	for (r = 0; r < LB_REPS; r++)
		for (v = 0; v < LB_NR; v++)
			fig[v][r] = lb_rep((enum lb_variant)v, n, times);
	base = bench_summarise(fig[LB_PINGPONG], LB_REPS);
	printf("# %d reps of %lu round trips, two processes; medians of per-rep medians\n", LB_REPS,
	       n);
	for (v = 0; v < LB_NR; v++) {
		char name[64];

		snprintf(name, sizeof(name), "proc-line-rtt-%s", lb_names[v]);
		bench_report(name, "ns", bench_summarise(fig[v], LB_REPS), base.median);
	}
	printf("# local: rt_now_ns %.1f ns, rt_2l_send + rt_notify (all lines local) %.1f ns\n",
	       lb_local_ns(0, 1000000), lb_local_ns(1, 1000000));
	free(times);
	return 0;
}
