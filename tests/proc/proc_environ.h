/*
 * Whether a process was exec'd with an environment entry: its
 * /proc/PID/environ, which the kernel fixed at the exec (a runtime's
 * setenv/unsetenv never change it). So a domain process a template forked
 * (rt_standby.c) shows XENON_STANDBY= there, a cold start XENON_BOOT=:
 * how tests tell the two apart. Shared by the tests and test guests of
 * tests/proc (no Criterion: the guests use it too).
 */
#ifndef XENON_TESTS_PROC_ENVIRON_H
#define XENON_TESTS_PROC_ENVIRON_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define PROC_ENVIRON_MAX (256 * 1024) /* read at most (ARG_MAX's usual order) */

/*
 * 1 if pid's (0: our own) exec-time environment has an entry starting with
 * prefix (e.g. "XENON_STANDBY="), 0 if not, -errno if it cannot be read
 * (a zombie's reads as empty: 0).
 */
static inline int proc_environ_has(pid_t pid, const char *prefix)
{
	static char buf[PROC_ENVIRON_MAX];
	size_t len = 0, plen = strlen(prefix), i;
	char path[64];
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/environ");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	for (i = 0; i < len; i += strlen(buf + i) + 1) {
		if (!strncmp(buf + i, prefix, plen))
			return 1;
	}
	return 0;
}

#endif
