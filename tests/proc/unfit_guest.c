/*
 * A guest program whose constructor leaves it unfit to be a template
 * (fork=1, rt_standby.c), for tests/proc/test_rt_standby.c and
 * test_spawner_standby.c. XENON_TEST_UNFIT says how:
 *   thread   it starts a thread: forking a multi-threaded process is unsafe
 *   robust   it holds a robust mutex: a child would hold it, unlisted
 *   fd       it keeps an fd open at 3, where each domain's fds go
 * Anything else: fit. As a domain it only blocks.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procdom_rt.h"

static pthread_mutex_t held;

static void *idle(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static void hold_a_robust_mutex(void)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&held, &a);
	pthread_mutex_lock(&held);
}

__attribute__((constructor)) static void unfit(void)
{
	const char *how = getenv("XENON_TEST_UNFIT");
	pthread_t t;

	if (!how)
		return;
	if (!strcmp(how, "thread"))
		pthread_create(&t, NULL, idle, NULL);
	else if (!strcmp(how, "robust"))
		hold_a_robust_mutex();
	else if (!strcmp(how, "fd"))
		(void)!open("/dev/null", O_RDONLY); /* kept: the lowest free fd, 3 */
}

void start_kernel(start_info_t *si)
{
	(void)si;
	for (;;)
		xen_block();
}
