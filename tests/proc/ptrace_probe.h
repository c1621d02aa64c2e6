/*
 * Whether this test may ptrace its children: Yama's ptrace_scope 3, a
 * seccomp profile, or a missing CAP_SYS_PTRACE in a container forbid it,
 * and a test that needs it is skipped there, not failed. Probed on a
 * throwaway child (the tests trace only their own children, which Yama's
 * scopes 1 and 2 allow).
 */
#ifndef XENON_TESTS_PTRACE_PROBE_H
#define XENON_TESTS_PTRACE_PROBE_H

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

/* The stops a template's clone can make: CLONE (exit signal not SIGCHLD,
 * what CLONE_PARENT leaves a clone3), FORK or VFORK (a kernel may count a
 * raw clone as either). */
#define PTRACE_PROBE_OPTS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK)

static inline bool ptrace_probe_is_clone_stop(int status)
{
	int ev = status >> 16;

	return WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP &&
	       (ev == PTRACE_EVENT_CLONE || ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK);
}

static inline int ptrace_probe(void)
{
	pid_t pid = fork();
	int err = 0;

	if (pid == 0) {
		for (;;)
			pause();
	}
	cr_assert_gt(pid, 0);
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		err = errno;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	return err;
}

#define SKIP_UNLESS_PTRACE()                                                       \
	do {                                                                       \
		int e_ = ptrace_probe();                                           \
		if (e_)                                                            \
			cr_skip_test("ptrace unavailable here: %s", strerror(e_)); \
	} while (0)

#endif
