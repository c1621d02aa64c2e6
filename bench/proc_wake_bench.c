/*
 * The 10^7 lost-wake-up stress of the process runtime's wait/wake protocol
 * (tests/proc/wake_stress.h; the unit test runs 10^5), twice:
 *   1. two threads, rt_notify() as the waker (a peer's fast send);
 *   2. two processes (fork, shared memfd pages), xenon-hvd's own kick
 *      procdom_vcpu_page_kick() as the waker on both sides.
 * Each prints the round trip beside a same-run baseline: a plain cache-line
 * ping-pong between two threads, no protocol. Exit status 1 if any wake-up
 * was lost.
 *
 *   bench-proc-wake [notifications]      (default 10000000, per run)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "procdom.h"
#include "wake_stress.h"

#define PINGPONG_N 1000000

static uint64_t pp_word;

static void *pp_peer(void *arg)
{
	uint64_t i, n = *(uint64_t *)arg;

	for (i = 1; i <= n; i++) {
		while (__atomic_load_n(&pp_word, __ATOMIC_ACQUIRE) != 2 * i - 1)
			__builtin_ia32_pause();
		__atomic_store_n(&pp_word, 2 * i, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Cache-line ping-pong round trip, ns. */
static double pingpong_ns(void)
{
	uint64_t i, n = PINGPONG_N, t0;
	pthread_t th;

	pp_word = 0;
	if (pthread_create(&th, NULL, pp_peer, &n) != 0)
		return 0;
	t0 = bench_now_ns();
	for (i = 1; i <= n; i++) {
		__atomic_store_n(&pp_word, 2 * i - 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&pp_word, __ATOMIC_ACQUIRE) != 2 * i)
			__builtin_ia32_pause();
	}
	pthread_join(th, NULL);
	return (double)(bench_now_ns() - t0) / (double)n;
}

static void hvd_kick(struct procdom_vcpu_page *pg)
{
	procdom_vcpu_page_kick(pg, 0);
}

/* One stress run of n notifications (n / 2 round trips); 1 if any was lost,
 * 2 if it could not run. */
static int stress(const char *name, uint64_t notifications, wake_stress_waker_fn waker, bool fork,
		  double base)
{
	struct wake_stress ws = {
		.n = notifications / 2, .timeout_ns = 1000000000ULL, .waker = waker, .fork = fork
	};
	double rt;

	if (ws.n == 0 || wake_stress_run(&ws) < 0) {
		fprintf(stderr, "bench-proc-wake: %s: setup failed\n", name);
		return 2;
	}
	rt = (double)ws.elapsed_ns / (double)ws.n;
	printf("%s-stress: %llu round trips (%llu notifications), %llu futex waits, "
	       "%llu wakes, %llu LOST, %llu stalls\n",
	       name, (unsigned long long)ws.n, 2 * (unsigned long long)ws.n,
	       (unsigned long long)ws.sleeps, (unsigned long long)ws.wakes,
	       (unsigned long long)ws.lost, (unsigned long long)ws.stalls);
	printf("%s-roundtrip (spin 0/1us/0/20us mix): mean %.0f ns, baseline %.0f ns "
	       "(cache-line ping-pong), ratio %.2f\n",
	       name, rt, base, base > 0 ? rt / base : 0);
	fflush(stdout);
	return ws.lost ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 10000000ULL;
	double base = pingpong_ns();
	int rc = stress("proc-wake", n, NULL, false, base);

	return rc | stress("proc-kick-fork", n, hvd_kick, true, base);
}
