/*
 * The daemon's kick on one vCPU page: the waker side of the floors.md
 * wake-up protocol as corrected by procdom_proto.h (f), the same steps as
 * rt_notify() in runtime/rt_wait.c, which a peer's fast send runs.
 *
 * The caller (the core, through procdom.c's kick op) has stored the pending
 * bits and upcall_pending with seq_cst RMWs; the full fence here then the
 * read of the state word pairs with the vCPU storing SLEEPING, fencing, and
 * re-reading evtchn_upcall_pending before it futex-waits: either we see
 * SLEEPING, or it sees upcall_pending and does not sleep. Seeing SLEEPING
 * we CAS it to WOKEN and FUTEX_WAKE only if the CAS won, so a wake that
 * arrives before the FUTEX_WAIT is not lost (the word no longer matches).
 *
 * It takes nothing but the page (and the process to signal), so the
 * lost-wake-up stress (tests/proc/wake_stress.h) runs this very function
 * as the waker across fork(), on a shared memfd page.
 */
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procdom.h"

enum procdom_kick_result procdom_vcpu_page_kick(struct procdom_vcpu_page *vp, pid_t pid)
{
	return procdom_vcpu_kick(vp, pid, NULL);
}

enum procdom_kick_result procdom_vcpu_kick(struct procdom_vcpu_page *vp, pid_t pid,
					   const struct vcpu_info *vi)
{
	uint32_t state;
	int32_t tid;

	/* (W) Full fence: pairs with the vCPU's fence (S) between storing
	 * SLEEPING and re-reading evtchn_upcall_pending (rt_wait in
	 * runtime/rt_wait.c). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	state = __atomic_load_n(&vp->state, __ATOMIC_SEQ_CST);
	if (state == PROCDOM_VCPU_SLEEPING) {
		/* Change the futex word, do not merely wake (procdom_proto.h
		 * (f)): a FUTEX_WAKE landing between the sleeper's re-check and
		 * its FUTEX_WAIT finds no waiter, and a word still reading
		 * SLEEPING lets that FUTEX_WAIT sleep through the event. With
		 * WOKEN in the word the late FUTEX_WAIT returns at once. The CAS
		 * pairs with the sleeper's seq_cst store of SLEEPING before each
		 * FUTEX_WAIT; losing it means the sleeper rewrote the word (it
		 * is awake and re-checks) or another waker (a peer's fast send,
		 * rt_notify) won and its wake is on the way. */
		if (!__atomic_compare_exchange_n(&vp->state, &state, PROCDOM_VCPU_WOKEN, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return PROCDOM_KICK_NONE;
		__atomic_fetch_add(&vp->wakes, 1, __ATOMIC_RELAXED);
		syscall(SYS_futex, &vp->state, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
		return PROCDOM_KICK_WOKE;
	}
	/* A RUNNING vCPU with its upcalls masked needs no interrupt: the
	 * signal would find the mask set and do nothing (runtime/rt_upcall.c),
	 * and whoever clears the mask re-tests upcall_pending after a full
	 * barrier (seq_cst: pairs with the core's seq_cst exchange of
	 * upcall_pending before our fence). The runtime relies on this: a
	 * vCPU polling with its upcalls masked leaves its state RUNNING
	 * (runtime/rt_wait.c, rt_wait_spin's quiet). */
	if (state == PROCDOM_VCPU_RUNNING && pid > 0 && vi &&
	    __atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_SEQ_CST))
		return PROCDOM_KICK_NONE;
	if (state == PROCDOM_VCPU_RUNNING && pid > 0) {
		/* The guest wrote tid; tgkill only reaches threads of its own
		 * process, so a lying guest can only signal itself. */
		tid = __atomic_load_n(&vp->tid, __ATOMIC_RELAXED);
		if (tid <= 0)
			return PROCDOM_KICK_NONE;
		__atomic_fetch_add(&vp->signals, 1, __ATOMIC_RELAXED);
		syscall(SYS_tgkill, pid, tid, SIGRTMIN + PROCDOM_UPCALL_SIGNAL_OFFSET);
		return PROCDOM_KICK_SIGNALLED;
	}
	/* POLLING sees upcall_pending by itself; WOKEN: a wake is in flight
	 * and the sleeper re-checks after it; STOPPED looks at start. */
	return PROCDOM_KICK_NONE;
}
