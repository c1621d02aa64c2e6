/*
 * clone-stop PID: a test tool for the crash window (proc_standby.sh).
 * Attaches to PID (a template) with ptrace, says "seized", waits for its
 * next clone, SIGKILLs it there -- after the clone, before its answer --
 * and prints the child's pid. Exits (so the child, detached, runs on, as
 * one left by a template that crashed). Bounded: 20 s.
 * Exit 77 when ptrace is not allowed here (Yama's ptrace_scope, a seccomp
 * profile, no CAP_SYS_PTRACE): the caller skips those checks.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLONE_STOP_UNAVAILABLE 77

/* A clone of the tracee stopped it: CLONE (a clone3 with CLONE_PARENT
 * has no exit signal), or FORK or VFORK, as the kernel counts a clone. */
static int is_clone_stop(int st)
{
	int ev = st >> 16;

	return WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP &&
	       (ev == PTRACE_EVENT_CLONE || ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK);
}

/* Until the clone stop; other stops pass their signal on. */
static int wait_clone(pid_t pid)
{
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || WIFEXITED(st) || WIFSIGNALED(st))
			return -1;
		if (is_clone_stop(st))
			return 0;
		/* An event stop resumes with no signal; a signal stop with its own. */
		ptrace(PTRACE_CONT, pid, 0, (void *)(long)((st >> 16) ? 0 : WSTOPSIG(st)));
	}
}

int main(int argc, char **argv)
{
	const long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
	unsigned long child = 0;
	pid_t pid;

	if (argc != 2 || (pid = (pid_t)atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: clone-stop PID\n");
		return 2;
	}
	alarm(20);
	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)opts) < 0) {
		int e = errno;

		fprintf(stderr, "clone-stop: PTRACE_SEIZE: %s\n", strerror(e));
		return e == EPERM || e == ENOSYS || e == EIO ? CLONE_STOP_UNAVAILABLE : 1;
	}
	printf("seized\n");
	fflush(stdout);
	if (wait_clone(pid) < 0 || ptrace(PTRACE_GETEVENTMSG, pid, 0, &child) < 0) {
		fprintf(stderr, "clone-stop: no clone of %d\n", (int)pid);
		return 1;
	}
	kill(pid, SIGKILL);
	printf("%lu\n", child);
	return 0;
}
