/*
 * The 10^7-notification lost-wake-up stress of the local SCHEDOP_poll
 * (tests/proc/poll_stress.h; the unit test runs 10^5), with two threads and
 * then two processes. Exit status 1 if any wake-up was lost.
 *
 *   test-proc-poll-stress [notifications]      (default 10000000, per run)
 */
#include <stdio.h>
#include <stdlib.h>

#include "poll_stress.h"

static int run(const char *name, uint64_t notifications, bool fork)
{
	struct poll_stress ps = { .n = notifications / 2,
				  .timeout_ns = 1000000000ULL,
				  .fork = fork };

	if (ps.n == 0 || poll_stress_run(&ps) < 0) {
		fprintf(stderr, "poll-stress: %s: setup failed\n", name);
		return 2;
	}
	printf("poll-stress-%s: %llu round trips (%llu notifications) in %.1f s, %llu sleeps "
	       "(%llu local), %llu handed over, %llu wakes, %llu LOST, %llu stalls\n",
	       name, (unsigned long long)ps.n, 2 * (unsigned long long)ps.n, ps.elapsed_ns / 1e9,
	       (unsigned long long)ps.sleeps, (unsigned long long)ps.local_sleeps,
	       (unsigned long long)ps.handovers, (unsigned long long)ps.wakes,
	       (unsigned long long)ps.lost, (unsigned long long)ps.stalls);
	return ps.lost ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 10000000ULL;
	int a = run("threads", n, false), b = run("fork", n, true);

	return a > b ? a : b;
}
