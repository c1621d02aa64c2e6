/*
 * Children of the test process, for the spawner tests (test_spawner.c,
 * test_spawn_async.c): the domain programs are ours by CLONE_PARENT, so
 * "no child left" is how a test sees nothing leaked or left a zombie.
 */
#ifndef TESTS_PROC_CHILDREN_H
#define TESTS_PROC_CHILDREN_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/types.h>

/* Every child of ours (/proc/self/task/../children); pids may be NULL;
 * the count is of all of them, at most max are stored. */
static inline unsigned int children_of_self(pid_t *pids, unsigned int max)
{
	char path[320];
	unsigned int n = 0;
	struct dirent *e;
	DIR *tasks = opendir("/proc/self/task");

	cr_assert_not_null(tasks);
	while ((e = readdir(tasks))) {
		FILE *f;
		int pid;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fscanf(f, "%d", &pid) == 1) {
			if (pids && n < max)
				pids[n] = pid;
			n++;
		}
		fclose(f);
	}
	closedir(tasks);
	return n;
}

#endif
