/*
 * What /proc says of other processes, for the tests, test guests and
 * benchmarks of process domains (no Criterion: the guests use it too).
 *
 * Whether a process was exec'd with an environment entry: its
 * /proc/PID/environ, which the kernel fixed at the exec (a runtime's
 * setenv/unsetenv never change it). So a domain process a template forked
 * (rt_standby.c) shows XENON_STANDBY= there, a cold start XENON_BOOT=:
 * how tests tell the two apart. And a process by its parent and comm.
 */
#ifndef XENON_TESTS_PROC_ENVIRON_H
#define XENON_TESTS_PROC_ENVIRON_H

#include <dirent.h>
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

/* Its parent's pid and its process group from /proc/PID/stat (after the
 * comm, which may hold anything but ends at the last ')'): 0, or -errno
 * (-EPROTO: unparsable). */
static inline int proc_stat_ids(pid_t pid, int *ret_ppid, int *ret_pgrp)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	p = ok ? strrchr(buf, ')') : NULL;
	if (!p || sscanf(p + 2, "%*c %d %d", ret_ppid, ret_pgrp) != 2)
		return -EPROTO;
	return 0;
}

/* A process whose parent is ppid and whose comm is comm, other than skip
 * (0: none): its pid, or 0 if there is none. */
static inline pid_t proc_child_named(pid_t ppid, const char *comm, pid_t skip)
{
	char path[300], name[64];
	struct dirent *e;
	DIR *d = opendir("/proc");
	pid_t found = 0;
	int pid, parent;
	FILE *f;

	while (d && !found && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%.20s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%d (%63[^)]) %*c %d", &pid, name, &parent) == 3 && parent == ppid &&
		    pid != skip && !strcmp(name, comm))
			found = pid;
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

#endif
