/*
 * A template that misbehaves, for tests/proc/test_spawner_standby.c: not
 * linked with the runtime, it speaks XENON_STANDBY's protocol itself
 * (procdom_proto.h 1b) and breaks it the way argv[1] says, as a template
 * whose constructors are hostile (or broken) could:
 *
 *   (none)    says ready; each request: makes no child, answers with the
 *             pid of a sibling -- another process of this program with the
 *             same parent, the host's known child
 *   mute      says ready, makes one child (CLONE_PARENT: the host's) and
 *             answers its pid to each request, but never reads one (it
 *             counts them by the bytes queued): its socket fills up
 *   long      says ready; each request: a child, its pid answered in 8
 *             bytes instead of 4
 *   errno=N   says ready; each request: answers -N, makes nothing
 *   flaky     says ready; of every three requests, answers the first two
 *             -EAGAIN (as if the kernel could not clone) and serves the
 *             third: a child (CLONE_PARENT: the host's), its pid answered
 *   refuse    says it cannot be one, with a reason that is not text
 *   die       says ready; exits at its first request, unanswered
 *   fork=PATH before it says ready, forks a child (in its process group,
 *             its child, not the host's) that waits for ever, as a guest
 *             constructor could, and writes that child's pid to PATH; then
 *             answers each request -EINVAL. The child closes the socket.
 *   keep=PATH as fork=PATH, but the child keeps the template's socket
 *             open (a fork inherits every fd), as a careless constructor's
 *
 * Without XENON_STANDBY (started cold) it just waits, as a domain would.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc_environ.h"

/* Another process named like us with our parent, or 0. */
static pid_t sibling(void)
{
	return proc_child_named(getppid(), "liar-guest", getpid());
}

/* A child of our parent (CLONE_PARENT, as a template's), which waits to
 * be killed and dies with that parent. Raw: it only makes system calls. */
static pid_t host_child(void)
{
	pid_t host = getppid();
	long pid = syscall(SYS_clone, CLONE_PARENT, 0UL, NULL, NULL, 0UL);

	if (pid == 0) {
		syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (syscall(SYS_getppid) != host)
			syscall(SYS_exit, 1);
		for (;;)
			syscall(SYS_pause);
	}
	return (pid_t)pid;
}

/* A constructor's child (fork=PATH): it outlives us unless killed with our
 * group (fork leaves it no parent-death signal). Its pid goes to path. */
static int fork_child(int sock, const char *path, bool keep_sock)
{
	char line[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), n;
	pid_t pid;

	if (fd < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (!keep_sock)
			close(sock);
		prctl(PR_SET_NAME, "liar-forked");
		for (;;)
			pause();
	}
	n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	if (pid < 0 || write(fd, line, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Requests until EOF; each answered as mode says. */
static int serve(int fd, const char *mode)
{
	char buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int32_t a[2] = { 0, 0 };
	size_t len = sizeof(a[0]);
	unsigned int nr = 0;

	/* recvmsg, as a template waits (tests look for it there). */
	while (recvmsg(fd, &msg, 0) > 0) {
		if (!strcmp(mode, "long")) {
			a[0] = host_child();
			len = sizeof(a);
		} else if (!strncmp(mode, "errno=", 6)) {
			a[0] = -atoi(mode + 6);
		} else if (!strcmp(mode, "flaky")) {
			a[0] = nr++ % 3 < 2 ? -EAGAIN : host_child();
		} else if (!strcmp(mode, "die")) {
			return 3;
		} else if (!strncmp(mode, "fork=", 5) || !strncmp(mode, "keep=", 5)) {
			a[0] = -EINVAL;
		} else {
			prctl(PR_SET_NAME, "liar-guest");
			a[0] = (int32_t)sibling();
			prctl(PR_SET_NAME, "xenon-standby");
		}
		if (send(fd, a, len, 0) != (ssize_t)len)
			return 1;
	}
	return 0;
}

/* Never reads: the spawner's sends fill its socket. Each request is
 * answered as it comes (they are all the size of the first). */
static int mute(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int32_t pid = host_child();
	int queued = 0, size = 0, answered = 0;

	if (poll(&p, 1, -1) != 1 || ioctl(fd, FIONREAD, &size) < 0 || size <= 0)
		return 1;
	for (;;) {
		if (ioctl(fd, FIONREAD, &queued) < 0)
			return 1;
		if (queued / size <= answered) {
			usleep(50);
			continue;
		}
		if (send(fd, &pid, sizeof(pid), 0) != sizeof(pid))
			return 1;
		answered++;
	}
}

int main(int argc, char **argv)
{
	static const char refusal[] = "Nnot\x01text";
	const char *spec = getenv("XENON_STANDBY"), *mode = argc > 1 ? argv[1] : "";
	char c = 'R';
	int fd;

	/* Dies with the test, whatever becomes of it (as the runtime does). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		return 1;
	if (!spec || sscanf(spec, "fd=%d", &fd) != 1) {
		for (;;)
			pause();
	}
	if (!strcmp(mode, "refuse"))
		return send(fd, refusal, sizeof(refusal) - 1, 0) > 0 ? 2 : 1;
	if (!strncmp(mode, "fork=", 5) && fork_child(fd, mode + 5, false) < 0)
		return 1;
	if (!strncmp(mode, "keep=", 5) && fork_child(fd, mode + 5, true) < 0)
		return 1;
	if (send(fd, &c, 1, 0) != 1)
		return 1;
	prctl(PR_SET_NAME, "xenon-standby");
	if (!strcmp(mode, "mute"))
		return mute(fd);
	return serve(fd, mode);
}
