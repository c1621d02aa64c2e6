/*
 * The guest of tests/proc/proc_standby.sh's child sanity check. A domain
 * made by a template is a child cloned raw (CLONE_PARENT: rt_standby.c),
 * not by glibc's fork: what glibc believes of it must still hold. It
 * prints one "sane: WHAT ok|FAILED (detail)" line per check, whether the
 * kernel started it as a template (its exec-time environment, which the
 * runtime cannot change, names XENON_STANDBY), then aborts: xenon-hvd
 * must see SIGABRT in its wait status.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc_environ.h"
#include "procdom_rt.h"

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void *plus_one(void *arg)
{
	return (void *)((uintptr_t)arg + 1);
}

static void check(const char *what, bool ok, long detail)
{
	printf("sane: %s %s (%ld)\n", what, ok ? "ok" : "FAILED", detail);
}

/* glibc's own idea of this thread's tid: an error-checking mutex records
 * it as the owner, from the thread descriptor (not a system call). */
static void check_mutex(pid_t tid)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&m, &a);
	check("error-checking mutex locked", pthread_mutex_lock(&m) == 0, tid);
	check("its owner is gettid()", m.__data.__owner == tid, m.__data.__owner);
	check("locked again: EDEADLK", pthread_mutex_lock(&m) == EDEADLK, 0);
	check("unlocked", pthread_mutex_unlock(&m) == 0, 0);
}

void start_kernel(start_info_t *si)
{
	struct robust_list_head *head = NULL;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	void *res = NULL;
	size_t len = 0;
	pthread_t t;
	bool ok;

	(void)si;
	printf("sane: started as a template: %s\n",
	       proc_environ_has(0, "XENON_STANDBY=") == 1 ? "yes" : "no");
	check_mutex(tid);
	ok = syscall(SYS_get_robust_list, 0, &head, &len) == 0 && head && len;
	check("robust futex list registered", ok, (long)len);
	ok = pthread_create(&t, NULL, plus_one, (void *)41) == 0 && pthread_join(t, &res) == 0 &&
	     res == (void *)42;
	check("thread created and joined", ok, (long)(uintptr_t)res);
	signal(SIGUSR1, on_usr1);
	ok = raise(SIGUSR1) == 0 && got_usr1;
	check("raise(SIGUSR1) reaches its handler", ok, got_usr1);
	printf("sane: abort\n");
	fflush(stdout);
	abort();
}
