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
 */
#include "rt_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
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

static inline void rt_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
static void rt_futex_wait(uint32_t *word, uint32_t val, uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000ULL),
			       .tv_nsec = (long)(deadline_ns % 1000000000ULL) };

	syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, deadline_ns ? &ts : NULL, NULL,
		FUTEX_BITSET_MATCH_ANY);
}

static bool rt_spin(rt_cond_fn cond, void *arg, uint64_t spin_ns, uint64_t deadline_ns)
{
	uint64_t start, now;
	unsigned int i;

	if (spin_ns == 0)
		return false;
	start = rt_now_ns();
	for (;;) {
		for (i = 0; i < 64; i++) {
			if (cond(arg))
				return true;
			rt_cpu_relax();
		}
		now = rt_now_ns();
		if (now - start >= spin_ns || (deadline_ns && now >= deadline_ns))
			return false;
	}
}

static void rt_state_set(struct procdom_vcpu_page *pg, uint32_t s)
{
	__atomic_store_n(&pg->state, s, __ATOMIC_SEQ_CST);
}

int rt_wait(struct procdom_vcpu_page *pg, rt_cond_fn cond, void *arg, uint64_t deadline_ns,
	    uint64_t spin_ns, bool *ret_slept)
{
	int rc = 0;

	if (ret_slept)
		*ret_slept = false;
	rt_state_set(pg, PROCDOM_VCPU_POLLING);
	if (rt_spin(cond, arg, spin_ns, deadline_ns))
		goto out_running;
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
	/* Only the sleeper clears SLEEPING (floors.md). */
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
