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
 */
#ifndef XENON_WAKE_STRESS_H
#define XENON_WAKE_STRESS_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "rt_internal.h"

struct wake_stress {
	uint64_t n;	     /* round trips */
	uint64_t timeout_ns; /* per wait */
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

static void wake_stress_wait(struct wake_stress_side *s, uint64_t i)
{
	struct wake_stress_cond c = { s->my_data, i };
	uint64_t spin = wake_stress_spins[i % 4];
	bool slept;

	if (rt_wait(s->mine, wake_stress_cond, &c, rt_now_ns() + s->ws->timeout_ns, spin, &slept) ==
	    -ETIMEDOUT) {
		if (wake_stress_cond(&c))
			s->lost++;
		else
			s->stalls++;
		/* Either way carry on: wait untimed-ish for the data. */
		while (!wake_stress_cond(&c))
			rt_wait(s->mine, wake_stress_cond, &c, rt_now_ns() + 1000000, 0, NULL);
	}
	s->sleeps += slept;
}

static void wake_stress_send(struct wake_stress_side *s, uint64_t i)
{
	/* The data store, then rt_notify's full fence and state read. */
	__atomic_store_n(s->peer_data, i, __ATOMIC_SEQ_CST);
	rt_notify(s->peer, false);
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

/* 0, or -errno if the pages or threads could not be set up. */
static int wake_stress_run(struct wake_stress *ws)
{
	uint8_t *mem = mmap(NULL, 3 * RT_PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct procdom_vcpu_page *pa, *pb;
	uint64_t *data, t0;
	pthread_t th;

	if (mem == MAP_FAILED)
		return -ENOMEM;
	pa = (void *)mem;
	pb = (void *)(mem + RT_PAGE_SIZE);
	data = (void *)(mem + 2 * RT_PAGE_SIZE);
	struct wake_stress_side a = { pa, pb, &data[0], &data[8], ws, 0, 0, 0, true };
	struct wake_stress_side b = { pb, pa, &data[8], &data[0], ws, 0, 0, 0, false };

	t0 = rt_now_ns();
	if (pthread_create(&th, NULL, wake_stress_thread, &b) != 0) {
		munmap(mem, 3 * RT_PAGE_SIZE);
		return -EAGAIN;
	}
	wake_stress_thread(&a);
	pthread_join(th, NULL);
	ws->elapsed_ns = rt_now_ns() - t0;
	ws->lost = a.lost + b.lost;
	ws->stalls = a.stalls + b.stalls;
	ws->sleeps = a.sleeps + b.sleeps;
	ws->wakes = pa->wakes + pb->wakes;
	munmap(mem, 3 * RT_PAGE_SIZE);
	return 0;
}

#endif
