/*
 * The wait/wake protocol on a vCPU page's state word (floors.md, "A wake-up
 * protocol that loses nothing"; procdom_proto.h sections 4 and (f)).
 *
 *   sleeper (the vCPU, rt_wait)            waker (xenon-hvd kick, a peer's
 *                                           fast send, rt_notify)
 *   state = POLLING                         store the data (pending bits)
 *   spin ~20 us: cond? -> RUNNING, done     full fence                 (W)
 *   state = SLEEPING                        s = state
 *   full fence                         (S)  s == SLEEPING:
 *   cond? -> RUNNING, done                    CAS(state, SLEEPING -> WOKEN)
 *   FUTEX_WAIT(state, SLEEPING, deadline)     and FUTEX_WAKE if it won
 *   loop to "state = SLEEPING"              s == RUNNING -> signal (optional)
 *   state = RUNNING                         s == POLLING, WOKEN -> nothing
 *
 * Why nothing is lost: fences S and W order "state = SLEEPING; read data"
 * against "write data; read state". Either the sleeper's re-check sees the
 * data, or the waker reads SLEEPING. The waker must then CHANGE the futex
 * word (SLEEPING -> WOKEN), not merely FUTEX_WAKE: a wake issued after the
 * sleeper's re-check but before it entered FUTEX_WAIT finds no waiter, and
 * a word still reading SLEEPING would let the sleeper sleep through it (the
 * stress test caught exactly this, a few per 10^5). With WOKEN in the word,
 * the late FUTEX_WAIT returns at once. The sleeper alone writes RUNNING,
 * POLLING and SLEEPING; a waker only ever moves SLEEPING to WOKEN, which
 * ends one sleep and cannot hide a later one (the sleeper stores SLEEPING
 * afresh and re-checks before every FUTEX_WAIT). A second waker that sees
 * WOKEN does nothing: a wake is already on its way and the sleeper
 * re-checks after it.
 * The futex is shared (no FUTEX_PRIVATE_FLAG): the word is in a memfd that
 * other processes map.
 *
 * The hot path (an event arriving while POLLING) is kept short: the state
 * word is only written when it changes, POLLING with a plain store (it only
 * tells a waker that nothing needs doing; a waker that still reads the old
 * RUNNING sends a signal the runtime ignores, and the spin re-reads cond
 * anyway), the clock is read once per 64 polls and not before the first
 * 64, and once cond holds, the lines the upcall is about to write are
 * requested together with the state line before the RUNNING store waits
 * for its own (rt_upcall_prefetch).
 */
#include "rt_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t rt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
static void rt_futex_wait(uint32_t *word, uint32_t val, uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000ULL),
			       .tv_nsec = (long)(deadline_ns % 1000000000ULL) };

	syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, deadline_ns ? &ts : NULL, NULL,
		FUTEX_BITSET_MATCH_ANY);
}

/* Ask for p's line in exclusive state (a hint: no ordering, no fault). */
static inline void rt_prefetchw(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

/*
 * cond held while POLLING: the calling vCPU is about to store RUNNING and
 * run its upcall, which writes its vcpu_info line (mask, upcall_pending,
 * selector) and the evtchn_pending words the selector names (the handled
 * bits are cleared). The sender has just written all of them, so each is a
 * transfer; requesting them together with the state line lets them travel
 * at once instead of one after another. Only hints: the upcall does its own
 * ordered accesses. A page that is not the calling vCPU's own (tests) gets
 * the state line only.
 */
#define RT_PREFETCH_WORDS 4 /* selector words looked at */

void rt_upcall_prefetch_lines(struct procdom_vcpu_page *pg)
{
	struct procdom_vcpu *v = rt_self();
	struct xen_guest *g;
	struct vcpu_info *vi;
	xen_ulong_t sel;
	unsigned int i;

	if (!v || !v->page || &v->page->base != pg || !(g = v->rt->guest) || !g->ready ||
	    v->id >= g->nr_vcpus)
		return;
	vi = g->vcpu[v->id].vcpu_info;
	rt_prefetchw(vi);
	sel = __atomic_load_n(&vi->evtchn_pending_sel, __ATOMIC_RELAXED);
	for (i = 0; sel && i < RT_PREFETCH_WORDS; i++) {
		rt_prefetchw(&g->shared_info->evtchn_pending[__builtin_ctzl(sel)]);
		sel &= sel - 1;
	}
}

static void rt_upcall_prefetch(struct procdom_vcpu_page *pg)
{
	rt_prefetchw(&pg->state);
	rt_upcall_prefetch_lines(pg);
}

/* The clock costs ~40 ns a read here: look at it once per RT_SPIN_BATCH
 * polls, and not at all when cond holds within the first batch. */
#define RT_SPIN_BATCH 64

/*
 * A spin that yields (the local SCHEDOP_poll's): on a machine with more
 * runnable threads than CPUs the one that would end our wait may be
 * waiting for this very CPU, and spinning only delays it, while a sleep
 * would cost it a FUTEX_WAKE and us a wake-up. So the CPU is offered after
 * every short batch -- once the wait has lasted RT_SPIN_YIELD_AFTER_NS:
 * an answer from a peer running on another CPU comes well within that
 * (a round trip is a few hundred ns), and a yield on its path costs ~0.4 us
 * even with nothing else to run (a masked-port round trip took 2.9 us
 * yielding from the first batch). Measured here (with yields from the
 * start; not re-measured with the 2 us grace): a vchan round trip between
 * two domains sharing one CPU went from 91 us (spin 40 us, then sleep) to
 * 4.1 us, below a UNIX socket's.
 */
#define RT_SPIN_YIELD_BATCH 16
#define RT_SPIN_YIELD_AFTER_NS 2000ULL

static bool rt_spin(rt_cond_fn cond, void *arg, uint64_t spin_ns, uint64_t deadline_ns, bool yield)
{
	unsigned int i, batch = yield ? RT_SPIN_YIELD_BATCH : RT_SPIN_BATCH;
	uint64_t start = 0, now;

	if (spin_ns == 0)
		return false;
	for (;;) {
		for (i = 0; i < batch; i++) {
			if (cond(arg))
				return true;
			rt_cpu_relax();
		}
		now = rt_now_ns();
		if (start == 0)
			start = now;
		if (now - start >= spin_ns || (deadline_ns && now >= deadline_ns))
			return false;
		if (yield && now - start >= RT_SPIN_YIELD_AFTER_NS)
			sched_yield();
	}
}

static void rt_state_set(struct procdom_vcpu_page *pg, uint32_t s)
{
	__atomic_store_n(&pg->state, s, __ATOMIC_SEQ_CST);
}

/* Only the vCPU writes RUNNING and POLLING, so its own read is exact; a
 * store of the value already there would still take the line from every
 * waker that reads it. */
static void rt_state_polling(struct procdom_vcpu_page *pg)
{
	if (__atomic_load_n(&pg->state, __ATOMIC_RELAXED) != PROCDOM_VCPU_POLLING)
		__atomic_store_n(&pg->state, PROCDOM_VCPU_POLLING, __ATOMIC_RELEASE);
}

/*
 * quiet: the vCPU has its upcalls masked for the whole spin (only it
 * writes its mask, and it is in here). Then RUNNING already tells every
 * waker what POLLING would: nobody signals a masked vCPU (rt_fast.c's
 * senders and xenon-hvd's kick, procdom_vcpu_kick, look at the mask), and
 * no upcall runs on the way out. So the state word is not written at all: a waker's
 * read of it stays a read of a line it already holds, and the event's
 * path carries no store of ours to wait for (a masked-port round trip,
 * SCHEDOP_poll on both sides, pays for exactly the pending bit's line).
 * The caller still leaves through rt_wait_running() or rt_wait() as before.
 */
bool rt_wait_spin(struct procdom_vcpu_page *pg, rt_cond_fn cond, void *arg, uint64_t spin_ns,
		  uint64_t deadline_ns, bool yield, bool quiet)
{
	if (!quiet)
		rt_state_polling(pg);
	if (!rt_spin(cond, arg, spin_ns, deadline_ns, yield))
		return false;
	if (quiet && __atomic_load_n(&pg->state, __ATOMIC_RELAXED) == PROCDOM_VCPU_RUNNING)
		return true;
	rt_upcall_prefetch(pg);
	rt_state_set(pg, PROCDOM_VCPU_RUNNING);
	return true;
}

/* Already RUNNING (a quiet spin never left it): nothing to publish, and a
 * store would take the line from every waker that reads it. */
void rt_wait_running(struct procdom_vcpu_page *pg)
{
	if (__atomic_load_n(&pg->state, __ATOMIC_RELAXED) != PROCDOM_VCPU_RUNNING)
		rt_state_set(pg, PROCDOM_VCPU_RUNNING);
}

int rt_wait(struct procdom_vcpu_page *pg, rt_cond_fn cond, void *arg, uint64_t deadline_ns,
	    uint64_t spin_ns, bool *ret_slept)
{
	int rc = 0;

	if (ret_slept)
		*ret_slept = false;
	rt_state_polling(pg);
	if (rt_spin(cond, arg, spin_ns, deadline_ns, false)) {
		rt_upcall_prefetch(pg);
		goto out_running;
	}
	for (;;) {
		/* (S): pairs with the full fence (W) in rt_notify / the daemon's
		 * kick: the SLEEPING store is visible before cond's loads. */
		rt_state_set(pg, PROCDOM_VCPU_SLEEPING);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (cond(arg))
			break;
		if (deadline_ns && rt_now_ns() >= deadline_ns) {
			rc = -ETIMEDOUT;
			break;
		}
		if (ret_slept)
			*ret_slept = true;
		rt_futex_wait(&pg->state, PROCDOM_VCPU_SLEEPING, deadline_ns);
	}
out_running:
	/* Only the sleeper clears SLEEPING (floors.md). seq_cst: RUNNING is
	 * visible before the vCPU reads anything it then acts on -- the
	 * re-test of upcall_pending before guest code runs (a waker reading
	 * POLLING sent no signal), and the send table (xenon-hvd's slot reuse
	 * counts a vCPU that is not RUNNING as outside any send). */
	rt_state_set(pg, PROCDOM_VCPU_RUNNING);
	return rc;
}

enum rt_notify_result rt_notify(struct procdom_vcpu_page *pg, bool want_signal)
{
	const struct procdom_vcpu_page_ext *ext = (const void *)pg;
	uint32_t s;

	/* (W): pairs with (S) in rt_wait: the caller's data stores are
	 * visible before we read the state word. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	s = __atomic_load_n(&pg->state, __ATOMIC_SEQ_CST);
	if (s == PROCDOM_VCPU_SLEEPING) {
		/* Lost CAS: the sleeper rewrote the word (it is awake and will
		 * re-check) or another waker won (its wake is on the way). */
		if (!__atomic_compare_exchange_n(&pg->state, &s, PROCDOM_VCPU_WOKEN, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return RT_NOTIFY_NONE;
		__atomic_fetch_add(&pg->wakes, 1, __ATOMIC_RELAXED);
		syscall(SYS_futex, &pg->state, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
		return RT_NOTIFY_WOKE;
	}
	if (s == PROCDOM_VCPU_RUNNING && want_signal) {
		int32_t tid = __atomic_load_n(&pg->tid, __ATOMIC_ACQUIRE);
		int32_t pid = __atomic_load_n(&ext->pid, __ATOMIC_ACQUIRE);

		if (tid <= 0 || pid <= 0)
			return RT_NOTIFY_NONE;
		__atomic_fetch_add(&pg->signals, 1, __ATOMIC_RELAXED);
		syscall(SYS_tgkill, pid, tid, rt_upcall_signal());
		return RT_NOTIFY_SIGNAL;
	}
	return RT_NOTIFY_NONE;
}
