/*
 * The lost-wake-up stress of the runtime's wait/wake protocol (rt_wait /
 * rt_notify, floors.md), shared by the unit test (10^5 notifications) and
 * bench/proc_wake_bench.c (10^7).
 *
 * Two threads play ping-pong through two vCPU pages, each a real rt_wait()
 * sleeper on its own page and a real rt_notify() waker of the other's:
 *
 *   thread A                              thread B
 *   b_data = i; rt_notify(pb)   ───────>  rt_wait(pb, b_data >= i)
 *   rt_wait(pa, a_data >= i)    <───────  a_data = i; rt_notify(pa)
 *
 * The spin budget cycles through 0 (straight to SLEEPING: the racy window
 * between the waker's state read and the sleeper's SLEEPING store is hit
 * all the time), 1 us and 20 us (the runtime's budget), so every state the
 * waker can observe occurs. Waits are timed (timeout_ns): a wait that times
 * out although its data had arrived is a LOST wake-up; one whose data had
 * not arrived is a stall of the peer (machine noise, reported apart).
 *
 * Variants: `waker` replaces rt_notify() (the unit test and the bench pass
 * xenon-hvd's own kick, procdom_vcpu_page_kick()); `fork` runs thread B in
 * a fork()ed child, the pages in a memfd both processes map, as the daemon
 * and a domain share an evt memfd (shared futexes, cross-process CAS).
 */
#ifndef XENON_WAKE_STRESS_H
#define XENON_WAKE_STRESS_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_internal.h"

/* A waker: called after the data store, with the peer's vCPU page. */
typedef void (*wake_stress_waker_fn)(struct procdom_vcpu_page *pg);

struct wake_stress {
	uint64_t n;		    /* round trips */
	uint64_t timeout_ns;	    /* per wait */
	wake_stress_waker_fn waker; /* NULL: rt_notify(pg, false) */
	bool fork;		    /* thread B in a child process */
	/* Results. */
	uint64_t lost, stalls, sleeps, wakes;
	uint64_t elapsed_ns;
};

struct wake_stress_side {
	struct procdom_vcpu_page *mine, *peer;
	uint64_t *my_data, *peer_data;
	struct wake_stress *ws;
	uint64_t lost, stalls, sleeps;
	bool first; /* A sends first */
};

struct wake_stress_cond {
	uint64_t *data;
	uint64_t want;
};

static bool wake_stress_cond(void *arg)
{
	struct wake_stress_cond *c = arg;

	return __atomic_load_n(c->data, __ATOMIC_SEQ_CST) >= c->want;
}

static const uint64_t wake_stress_spins[] = { 0, 1000, 0, RT_SPIN_NS };

/*
 * Data word layout: [0] the round number i, [1] when the sender's notify
 * for i returned (CLOCK_MONOTONIC), [2] which i that time is for.
 *
 * A lost wake-up shows in one of two ways. Either rt_wait times out and
 * the data is there; or -- the more common shape, since rt_wait re-checks
 * cond before it looks at the clock -- the sleeper's FUTEX_WAIT runs to the
 * deadline and rt_wait then returns 0. The second is told from a stalled
 * peer by the sender's notify time: it had notified round i more than half
 * a timeout before the deadline, and still nothing woke us.
 */
static bool wake_stress_slept_through(struct wake_stress_side *s, uint64_t i, uint64_t deadline)
{
	uint64_t at;

	if (rt_now_ns() < deadline || __atomic_load_n(&s->my_data[2], __ATOMIC_ACQUIRE) != i)
		return false;
	at = __atomic_load_n(&s->my_data[1], __ATOMIC_RELAXED);
	return at + s->ws->timeout_ns / 2 < deadline;
}

static void wake_stress_wait(struct wake_stress_side *s, uint64_t i)
{
	struct wake_stress_cond c = { s->my_data, i };
	uint64_t spin = wake_stress_spins[i % 4], deadline = rt_now_ns() + s->ws->timeout_ns;
	bool slept;

	if (rt_wait(s->mine, wake_stress_cond, &c, deadline, spin, &slept) == -ETIMEDOUT) {
		if (wake_stress_cond(&c))
			s->lost++;
		else
			s->stalls++;
		/* Either way carry on: wait untimed-ish for the data. */
		while (!wake_stress_cond(&c))
			rt_wait(s->mine, wake_stress_cond, &c, rt_now_ns() + 1000000, 0, NULL);
	} else if (slept && wake_stress_slept_through(s, i, deadline)) {
		s->lost++;
	}
	s->sleeps += slept;
}

static void wake_stress_send(struct wake_stress_side *s, uint64_t i)
{
	/* The data store, then the waker's full fence and state read. */
	__atomic_store_n(s->peer_data, i, __ATOMIC_SEQ_CST);
	if (s->ws->waker)
		s->ws->waker(s->peer);
	else
		rt_notify(s->peer, false);
	__atomic_store_n(&s->peer_data[1], rt_now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&s->peer_data[2], i, __ATOMIC_RELEASE);
}

static void *wake_stress_thread(void *arg)
{
	struct wake_stress_side *s = arg;
	uint64_t i;

	for (i = 1; i <= s->ws->n; i++) {
		if (s->first) {
			wake_stress_send(s, i);
			wake_stress_wait(s, i);
		} else {
			wake_stress_wait(s, i);
			wake_stress_send(s, i);
		}
	}
	return NULL;
}

/* Thread B beside us, or in a child process (ws->fork). 0 or -errno. */
static int wake_stress_start_b(struct wake_stress_side *b, pthread_t *th, pid_t *child)
{
	if (!b->ws->fork)
		return -pthread_create(th, NULL, wake_stress_thread, b);
	*child = fork();
	if (*child < 0)
		return -errno;
	if (*child == 0) {
		wake_stress_thread(b); /* its counters live in the shared pages */
		_exit(0);
	}
	return 0;
}

static int wake_stress_join_b(struct wake_stress_side *b, pthread_t th, pid_t child)
{
	int status;

	if (!b->ws->fork)
		return -pthread_join(th, NULL);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

#define WAKE_STRESS_LEN (4 * RT_PAGE_SIZE)

/*
 * Shared pages (a memfd, so a fork()ed side shares them as the daemon and
 * a domain share an evt memfd):
 *   page 0: A's vCPU page   page 1: B's vCPU page   page 2: the data words
 *   page 3: both sides' struct wake_stress_side (B's counters come back)
 * 0, or -errno if the pages, thread or child could not be set up.
 */
static int wake_stress_run(struct wake_stress *ws)
{
	int fd = memfd_create("wake-stress", MFD_CLOEXEC), rc;
	struct wake_stress_side *a, *b;
	pid_t child = -1;
	uint64_t *data, t0;
	pthread_t th;
	uint8_t *mem;

	if (fd < 0 || ftruncate(fd, WAKE_STRESS_LEN) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	mem = mmap(NULL, WAKE_STRESS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	data = (void *)(mem + 2 * RT_PAGE_SIZE);
	a = (void *)(mem + 3 * RT_PAGE_SIZE);
	b = a + 1;
	*a = (struct wake_stress_side){
		(void *)mem, (void *)(mem + RT_PAGE_SIZE), &data[0], &data[8], ws, 0, 0, 0, true
	};
	*b = (struct wake_stress_side){ a->peer, a->mine, &data[8], &data[0], ws, 0, 0, 0, false };
	t0 = rt_now_ns();
	rc = wake_stress_start_b(b, &th, &child);
	if (rc == 0) {
		wake_stress_thread(a);
		rc = wake_stress_join_b(b, th, child);
	}
	ws->elapsed_ns = rt_now_ns() - t0;
	ws->lost = a->lost + b->lost;
	ws->stalls = a->stalls + b->stalls;
	ws->sleeps = a->sleeps + b->sleeps;
	ws->wakes = a->mine->wakes + b->mine->wakes;
	munmap(mem, WAKE_STRESS_LEN);
	return rc;
}

#endif
