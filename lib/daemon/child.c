/*
 * libdaemon: service children -- a daemon that runs other daemons (xenon-hvd
 * runs xenstored and consoled) starts each with a readiness pipe and stops
 * it in bounded time (daemon.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

extern char **environ;

int daemon_find_beside_self(const char *name, const char *build_rel, char *buf, size_t size)
{
	char self[PATH_MAX], *dir;
	ssize_t n;

	if (!size)
		return -EINVAL;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = 0;
	dir = dirname(self);
	for (int i = 0; i < 2; i++) {
		snprintf(buf, size, "%s/%s", dir, i ? build_rel : name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static int child_spawn(const char *path, char *const argv[], int ready_wr, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int err;

	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* dup2 onto itself clears O_CLOEXEC on the readiness pipe only. */
	posix_spawn_file_actions_adddup2(&fa, ready_wr, ready_wr);
	/* We block SIGTERM for our signalfd; the child must not inherit that. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigmask(&attr, &none);
	err = -posix_spawn(ret_pid, path, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

int daemon_child_start(const char *path, char *const argv[], char *fdarg, size_t fdarg_size,
		       pid_t *ret_pid, int *ret_ready_fd)
{
	int pipefd[2], err;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	snprintf(fdarg, fdarg_size, "%d", pipefd[1]);
	err = child_spawn(path, argv, pipefd[1], ret_pid);
	/* Only the child holds the write end: its exit is our EOF. */
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		return err;
	}
	*ret_ready_fd = pipefd[0];
	return 0;
}

int daemon_pidfd_open(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

static bool child_wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd pfd = { pidfd, POLLIN, 0 };
	int rc;

	if (pidfd < 0)
		return false;
	while ((rc = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	return rc > 0;
}

static void child_log(const struct daemon_logger *lg, enum daemon_log_level level, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static void child_log(const struct daemon_logger *lg, enum daemon_log_level level, const char *fmt,
		      ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lg->log(lg->ctx, level, msg);
}

void daemon_child_stop(const char *name, pid_t pid, int pidfd, int timeout_ms,
		       const struct daemon_logger *lg)
{
	int status = 0;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	if (!child_wait_exit(pidfd, timeout_ms)) {
		child_log(lg, DAEMON_LOG_ERR,
			  "%s (pid %d) still running %d ms after SIGTERM: SIGKILL", name, (int)pid,
			  timeout_ms);
		kill(pid, SIGKILL);
	}
	/* Exited, or SIGKILLed (which a stopped process obeys too): short. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_log(lg, DAEMON_LOG_INFO, "%s stopped (wait status %#x)", name, status);
}
