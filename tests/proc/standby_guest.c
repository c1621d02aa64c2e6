/*
 * The guest of tests/proc/proc_standby.sh: it prints, one "view:" line
 * each, what a program can see of how it was started -- argv, the
 * environment (getenv, and environ's order), comm, process group, parent,
 * signal mask and dispositions, open fds -- then idles. A domain given the
 * spawner's standby (procdom_spawner.h) must print exactly what a cold
 * start prints; only the domid-bound parts (the log's name, XENON_BOOT's
 * value) are left out, so the two logs are compared as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procdom_rt.h"

extern char **environ;

/* "SigBlk:" etc. of /proc/self/status: the mask of this thread (vCPU 0,
 * main()'s) and the process's ignored and caught signals. */
static void view_signals(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7) ||
		    !strncmp(line, "SigCgt:", 7))
			printf("view: %s", line);
	}
	if (f)
		fclose(f);
}

static void view_fds(void)
{
	char path[64], target[256];
	int fd;

	for (fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "/domain-") && strstr(target, ".log"))
			strcpy(target, "the domain's log");
		else if (!strncmp(target, "socket:", 7))
			strcpy(target, "socket");
		printf("view: fd %d %s\n", fd, target);
	}
}

static void view_env(void)
{
	const char *boot = getenv("XENON_BOOT");
	unsigned int n = 0;
	char ppid[32];

	while (environ[n])
		n++;
	printf("view: XENON_BOOT %s, XENON_STANDBY %s\n", boot ? "set" : "unset",
	       getenv("XENON_STANDBY") ? "set" : "unset");
	printf("view: %u environment entries, the last %.*s\n", n,
	       n ? (int)strcspn(environ[n - 1], "=") : 0, n ? environ[n - 1] : "");
	snprintf(ppid, sizeof(ppid), " ppid=%d ", (int)getppid());
	printf("view: parent is XENON_BOOT's ppid: %s\n",
	       boot && strstr(boot, ppid) ? "yes" : "no");
}

void start_kernel(start_info_t *si)
{
	char comm[64] = "";
	mode_t mask;
	int argc, i;
	char **argv = procdom_args(&argc);
	FILE *f = fopen("/proc/self/comm", "r");

	(void)si;
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = '\0';
	printf("view: program standby-guest\n");
	for (i = 0; i < argc; i++)
		printf("view: argv[%d] %s\n", i, argv[i]);
	printf("view: comm %s\n", comm);
	printf("view: leads its process group: %s\n", getpgrp() == getpid() ? "yes" : "no");
	view_env();
	view_signals();
	view_fds();
	mask = umask(0);
	umask(mask);
	printf("view: umask %03o\n", (unsigned int)mask);
	printf("view: done\n");
	fflush(stdout);
	for (;;)
		xen_block();
}
