/*
 * The lost-wake-up stress of the local SCHEDOP_poll (rt_poll.c), shared by
 * the unit test (10^5 notifications) and tests/proc/poll_stress_main.c
 * (10^7). The shape of wake_stress.h: two sides play ping-pong, each the
 * real poller (rt_poll_wait) on a port of its own "domain" (a shared_info
 * page, its vCPU 0, its vCPU page) and the sender to the other's port:
 *
 *   side A                                  side B
 *   send(B's domain, PORT)      ─────────>  rt_poll_wait(B's domain, PORT)
 *   rt_poll_wait(A's domain, PORT) <──────  send(A's domain, PORT)
 *
 * Round i varies what the poll meets, so every path runs:
 *   - the spin budget cycles 0 / 1 us / 0 / 20 us (0: straight to the
 *     sleep decision, the racy window hit all the time);
 *   - the sender alternates between a peer's fast send (rt_2l_send_wake:
 *     wakes a SLEEPING vCPU on any 0 -> 1) and the core's (the 2-level
 *     set_pending, kicking with xenon-hvd's procdom_vcpu_page_kick only on
 *     the upcall edge or for a poll it recorded);
 *   - every third round the port is masked, and every fifth the poller
 *     leaves upcall_pending and the selector set after the round (an
 *     upcall it did not take): the local sleep must then refuse and hand
 *     the wait over ("HYPERVISOR"), which this stress plays as xenon-hvd
 *     does: record the poll (the `recorded` word the core sender reads
 *     after setting pending, as evtchn_wake_pollers reads nr_poll), re-check,
 *     then the runtime's HV_ACT_POLL wait (rt_wait on rt_poll_ready, no
 *     spin).
 *   - upcalls are masked (as vchan's wait has them: the runtime's quiet
 *     spin, state left RUNNING) except every seventh round (the POLLING
 *     spin, where a send's upcall edge ends the poll as well -- the port
 *     is pending by then); no stale upcall state is left before an
 *     unmasked round.
 *
 * A LOST wake-up: the poll ended at its deadline with the port pending,
 * or it slept to its deadline although the sender had sent more than half
 * a timeout before (wake_stress.h's test). A stall (the sender had not
 * sent) is machine noise, counted apart.
 */
#ifndef XENON_POLL_STRESS_H
#define XENON_POLL_STRESS_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procdom.h"
#include "rt_internal.h"

#define POLL_STRESS_PORT 77 /* word 1, bit 13 */

struct poll_stress {
	uint64_t n;	     /* round trips (2n notifications) */
	uint64_t timeout_ns; /* per poll */
	bool fork;	     /* side B in a child process */
	/* Results (both sides). */
	uint64_t lost, stalls, sleeps, local_sleeps, handovers, wakes;
	uint64_t elapsed_ns;
};

/* One side's domain: its shared_info page and vCPU 0's page. */
struct poll_stress_dom {
	struct shared_info *s;
	struct procdom_vcpu_page *pg;
	uint32_t *recorded; /* "xenon-hvd recorded a poll of PORT" */
	uint64_t *data;	    /* [0] round sent, [1] when, [2] for which round */
};

struct poll_stress_side {
	struct poll_stress_dom mine, peer;
	struct poll_stress *ps;
	uint64_t lost, stalls, sleeps, local_sleeps, handovers;
	bool first;
};

static inline xen_ulong_t poll_stress_bit(void)
{
	return (xen_ulong_t)1 << (POLL_STRESS_PORT % XG_EVTCHN_BITS);
}

static inline xen_ulong_t *poll_stress_word(xen_ulong_t *words)
{
	return &words[POLL_STRESS_PORT / XG_EVTCHN_BITS];
}

/* The core's send (hypervisor/evtchn_2l.c + evtchn_wake_pollers), with the
 * daemon's kick as its kick op. */
static void poll_stress_core_send(struct poll_stress_dom *d)
{
	struct vcpu_info *vi = &d->s->vcpu_info[0];
	xen_ulong_t sel = (xen_ulong_t)1 << (POLL_STRESS_PORT / XG_EVTCHN_BITS);
	bool kick;

	if (__atomic_fetch_or(poll_stress_word(d->s->evtchn_pending), poll_stress_bit(),
			      __ATOMIC_SEQ_CST) &
	    poll_stress_bit())
		return;
	kick = !(__atomic_load_n(poll_stress_word(d->s->evtchn_mask), __ATOMIC_SEQ_CST) &
		 poll_stress_bit()) &&
	       !(__atomic_fetch_or(&vi->evtchn_pending_sel, sel, __ATOMIC_SEQ_CST) & sel) &&
	       !__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
	if (kick)
		procdom_vcpu_page_kick(d->pg, 0);
	if (__atomic_load_n(d->recorded, __ATOMIC_SEQ_CST))
		procdom_vcpu_page_kick(d->pg, 0);
}

static void poll_stress_send(struct poll_stress_side *sd, uint64_t i)
{
	struct poll_stress_dom *d = &sd->peer;

	__atomic_store_n(&d->data[0], i, __ATOMIC_SEQ_CST);
	if (i % 2)
		rt_2l_send_wake(d->s, &d->s->vcpu_info[0], d->pg, POLL_STRESS_PORT);
	else
		poll_stress_core_send(d);
	__atomic_store_n(&d->data[1], rt_now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&d->data[2], i, __ATOMIC_RELEASE);
}

static bool poll_stress_pending(struct poll_stress_dom *d)
{
	return __atomic_load_n(poll_stress_word(d->s->evtchn_pending), __ATOMIC_SEQ_CST) &
	       poll_stress_bit();
}

/* What xenon-hvd and the runtime do with a poll handed over. */
static void poll_stress_handover(struct poll_stress_dom *d, struct rt_poll *p, uint64_t deadline,
				 bool *ret_slept)
{
	__atomic_store_n(d->recorded, 1, __ATOMIC_SEQ_CST);
	if (!rt_poll_ready(p))
		rt_wait(d->pg, rt_poll_ready, p, deadline, 0, ret_slept);
	__atomic_store_n(d->recorded, 0, __ATOMIC_SEQ_CST);
}

static bool poll_stress_slept_through(struct poll_stress_side *sd, uint64_t i, uint64_t deadline)
{
	uint64_t at;

	if (rt_now_ns() < deadline || __atomic_load_n(&sd->mine.data[2], __ATOMIC_ACQUIRE) != i)
		return false;
	at = __atomic_load_n(&sd->mine.data[1], __ATOMIC_RELAXED);
	return at + sd->ps->timeout_ns / 2 < deadline;
}

/* Rounds polled with upcalls unmasked: the runtime's POLLING spin; the
 * others (masked) take its quiet spin, which leaves the state RUNNING. */
static inline bool poll_stress_upcalls_on(uint64_t i)
{
	return i % 7 == 3;
}

/* Set up round i's port mask and upcall mask (only this side touches its
 * own masks and upcall words, and only between its poll and its next
 * send). */
static void poll_stress_prepare(struct poll_stress_dom *d, uint64_t i)
{
	__atomic_store_n(&d->s->vcpu_info[0].evtchn_upcall_mask, !poll_stress_upcalls_on(i),
			 __ATOMIC_SEQ_CST);
	if (i % 3 == 1)
		__atomic_fetch_or(poll_stress_word(d->s->evtchn_mask), poll_stress_bit(),
				  __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(poll_stress_word(d->s->evtchn_mask), ~poll_stress_bit(),
				   __ATOMIC_SEQ_CST);
}

/* After the round: the port's bit cleared (vchan's xg_clear_evtchn); the
 * upcall state cleared as an upcall would, except every fifth round when
 * the next one polls masked (unmasked, stale upcall state would end its
 * poll at once -- as it should -- before any event). */
static void poll_stress_finish(struct poll_stress_dom *d, uint64_t i)
{
	struct vcpu_info *vi = &d->s->vcpu_info[0];

	__atomic_fetch_and(poll_stress_word(d->s->evtchn_pending), ~poll_stress_bit(),
			   __ATOMIC_SEQ_CST);
	if (i % 5 == 2 && !poll_stress_upcalls_on(i + 1))
		return;
	__atomic_store_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
}

static const uint64_t poll_stress_spins[] = { 0, 1000, 0, RT_SPIN_NS };

/* With upcalls unmasked and one pending: cleared (upcall_pending, then the
 * selector), true. */
static bool poll_stress_take_upcall(struct poll_stress_dom *d)
{
	struct vcpu_info *vi = &d->s->vcpu_info[0];

	if (__atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_SEQ_CST) ||
	    !__atomic_exchange_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST))
		return false;
	__atomic_store_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	return true;
}

static void poll_stress_poll(struct poll_stress_side *sd, uint64_t i)
{
	struct poll_stress_dom *d = &sd->mine;
	struct rt_poll p = { .s = d->s, .vi = &d->s->vcpu_info[0], .nr = 1 };
	uint64_t deadline = rt_now_ns() + sd->ps->timeout_ns;
	bool slept = false, slept2 = false;

	p.ports[0] = POLL_STRESS_PORT;
	for (;;) {
		bool s1 = false, s2 = false;

		if (rt_poll_wait(d->pg, &p, deadline, poll_stress_spins[i % 4], true, &s1) ==
		    RT_POLL_HYPERVISOR) {
			sd->handovers++;
			poll_stress_handover(d, &p, deadline, &s2);
		}
		slept |= s1;
		slept2 |= s2;
		/* Unmasked, a deliverable upcall ends a poll too (Xen's
		 * do_poll): take it, as the upcall would, and poll again. Its
		 * source may be the last round's send finishing its upcall
		 * edge after our clear. */
		if (poll_stress_pending(d) || !poll_stress_take_upcall(d) ||
		    rt_now_ns() >= deadline)
			break;
	}
	sd->local_sleeps += slept;
	slept = slept || slept2;
	sd->sleeps += slept;
	if (!poll_stress_pending(d)) {
		/* Deadline with nothing pending: data there = lost, else a
		 * stall; wait for it either way (bounded by the peer). */
		if (__atomic_load_n(&d->data[0], __ATOMIC_SEQ_CST) >= i)
			sd->lost++;
		else
			sd->stalls++;
		while (!poll_stress_pending(d))
			rt_wait(d->pg, rt_poll_ready, &p, rt_now_ns() + 1000000, 0, NULL);
	} else if (slept && poll_stress_slept_through(sd, i, deadline)) {
		sd->lost++;
	}
}

static void *poll_stress_thread(void *arg)
{
	struct poll_stress_side *sd = arg;
	uint64_t i;

	poll_stress_prepare(&sd->mine, 1);
	for (i = 1; i <= sd->ps->n; i++) {
		if (sd->first)
			poll_stress_send(sd, i);
		poll_stress_poll(sd, i);
		/* Our words are set for the next round before the peer can
		 * send it (it sends only after our send). */
		poll_stress_finish(&sd->mine, i);
		poll_stress_prepare(&sd->mine, i + 1);
		if (!sd->first)
			poll_stress_send(sd, i);
	}
	return NULL;
}

#define POLL_STRESS_PAGES 6
#define POLL_STRESS_LEN (POLL_STRESS_PAGES * RT_PAGE_SIZE)

static int poll_stress_start_b(struct poll_stress_side *b, pthread_t *th, pid_t *child)
{
	if (!b->ps->fork)
		return -pthread_create(th, NULL, poll_stress_thread, b);
	*child = fork();
	if (*child < 0)
		return -errno;
	if (*child == 0) {
		poll_stress_thread(b); /* its counters live in the shared pages */
		_exit(0);
	}
	return 0;
}

static int poll_stress_join_b(struct poll_stress_side *b, pthread_t th, pid_t child)
{
	int status;

	if (!b->ps->fork)
		return -pthread_join(th, NULL);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/*
 * Shared pages (a memfd, so a fork()ed side shares them as two domains
 * share evt pages):
 *   page 0: A's shared_info   page 1: B's shared_info
 *   page 2: A's vCPU page     page 3: B's vCPU page
 *   page 4: data and `recorded` words   page 5: both sides' structs
 */
static int poll_stress_run(struct poll_stress *ps)
{
	int fd = memfd_create("poll-stress", MFD_CLOEXEC), rc;
	struct poll_stress_dom da, db;
	struct poll_stress_side *a, *b;
	pid_t child = -1;
	uint64_t *data, t0;
	pthread_t th;
	uint8_t *mem;

	if (fd < 0 || ftruncate(fd, POLL_STRESS_LEN) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	mem = mmap(NULL, POLL_STRESS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	data = (void *)(mem + 4 * RT_PAGE_SIZE);
	da = (struct poll_stress_dom){ (void *)mem, (void *)(mem + 2 * RT_PAGE_SIZE),
				       (uint32_t *)&data[32], &data[0] };
	db = (struct poll_stress_dom){ (void *)(mem + RT_PAGE_SIZE),
				       (void *)(mem + 3 * RT_PAGE_SIZE), (uint32_t *)&data[40],
				       &data[8] };
	a = (void *)(mem + 5 * RT_PAGE_SIZE);
	b = a + 1;
	*a = (struct poll_stress_side){ .mine = da, .peer = db, .ps = ps, .first = true };
	*b = (struct poll_stress_side){ .mine = db, .peer = da, .ps = ps, .first = false };
	t0 = rt_now_ns();
	rc = poll_stress_start_b(b, &th, &child);
	if (rc == 0) {
		poll_stress_thread(a);
		rc = poll_stress_join_b(b, th, child);
	}
	ps->elapsed_ns = rt_now_ns() - t0;
	ps->lost = a->lost + b->lost;
	ps->stalls = a->stalls + b->stalls;
	ps->sleeps = a->sleeps + b->sleeps;
	ps->local_sleeps = a->local_sleeps + b->local_sleeps;
	ps->handovers = a->handovers + b->handovers;
	ps->wakes = da.pg->wakes + db.pg->wakes;
	munmap(mem, POLL_STRESS_LEN);
	return rc;
}

#endif
