/*
 * The host's own children, from the kernel's lists (procdom_children.h).
 *
 * /proc/self/task/TID/children holds the children of one thread: each
 * thread of the host is read. A child is listed from its creation until it
 * is reaped, zombies included, so a listed pid is ours until we reap it:
 * neither another process's nor reused. What the caller then kills is
 * decided by what it knows (procdom_spawner.c).
 *
 * The file exists only with CONFIG_PROC_CHILDREN. Without it every fopen
 * says ENOENT, which for another thread means "it just ended"; read as an
 * empty list, a sweep would see nothing and say nothing. So ENOENT for
 * the calling thread's own file, which cannot have ended, is -ENOSYS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procdom_children.h"

#define SWEEP_BUSY_TRIES 64 /* looks while a child is being made, then later */

struct children {
	pid_t *pids;
	unsigned int n, cap;
};

static int children_add(struct children *c, pid_t pid)
{
	pid_t *p;

	if (c->n == c->cap) {
		unsigned int cap = c->cap ? c->cap * 2 : 64;

		if (cap > PROCDOM_CHILDREN_MAX)
			return -E2BIG;
		p = realloc(c->pids, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->pids = p;
		c->cap = cap;
	}
	c->pids[c->n++] = pid;
	return 0;
}

/* One thread's list: decimal pids separated by spaces. self: the calling
 * thread's (top: its ENOENT means no such file at all). */
static int children_of_task(struct children *c, const char *tid, bool self)
{
	char path[64];
	FILE *f;
	int pid, err = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%.20s/children", tid);
	f = fopen(path, "re");
	if (!f && errno == ENOENT)
		return self ? -ENOSYS : 0; /* else a thread that just ended */
	if (!f)
		return -errno;
	while (!err && fscanf(f, "%d", &pid) == 1)
		err = pid > 0 ? children_add(c, pid) : -EPROTO;
	fclose(f);
	return err;
}

int procdom_children_list(pid_t **ret_pids, unsigned int *ret_n)
{
	struct children c = { NULL, 0, 0 };
	DIR *tasks = opendir("/proc/self/task");
	char self[24];
	struct dirent *e;
	int err = 0;

	if (!tasks)
		return -errno;
	snprintf(self, sizeof(self), "%ld", (long)syscall(SYS_gettid));
	while (!err && (e = readdir(tasks))) {
		if (e->d_name[0] != '.')
			err = children_of_task(&c, e->d_name, !strcmp(e->d_name, self));
	}
	closedir(tasks);
	if (err) {
		free(c.pids);
		return err;
	}
	*ret_pids = c.pids;
	*ret_n = c.n;
	return 0;
}

bool procdom_is_child(pid_t pid)
{
	siginfo_t si;

	return pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

unsigned int procdom_children_kill(pid_t *pids, unsigned int n, unsigned int flags)
{
	unsigned int i, left = 0;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		/* Unreaped: neither id can have been reused. */
		if (flags & PROCDOM_KILL_GROUP)
			kill(-pids[i], SIGKILL);
		kill(pids[i], SIGKILL);
	}
	for (i = 0; i < n; i++) {
		pid_t r;

		if (pids[i] <= 0)
			continue;
		while ((r = waitpid(pids[i], NULL,
				    (flags & PROCDOM_KILL_BLOCK) ? __WALL : WNOHANG | __WALL)) <
			       0 &&
		       errno == EINTR)
			;
		if (r == pids[i] || (r < 0 && errno == ECHILD))
			pids[i] = 0;
		else
			left++;
	}
	return left;
}

/* ---- the sweep ----------------------------------------------------------------- */

static bool sweep_left_has(const struct procdom_sweep *sw, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < sw->nr_left; i++) {
		if (sw->left[i] == pid)
			return true;
	}
	return false;
}

/* The killed ones not counted before: counted, the first few kept. */
static unsigned int sweep_count_new(struct procdom_sweep *sw, const pid_t *pids, unsigned int n)
{
	unsigned int i, fresh = 0;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0 || sweep_left_has(sw, pids[i]))
			continue;
		if (sw->killed < PROCDOM_SWEEP_SHOWN)
			sw->shown[sw->killed] = pids[i];
		sw->killed++;
		fresh++;
	}
	return fresh;
}

/* What this pass killed and could not reap yet, for the next call. */
static void sweep_keep_left(struct procdom_sweep *sw, const pid_t *pids, unsigned int n)
{
	unsigned int i;

	sw->nr_left = 0;
	for (i = 0; i < n && sw->nr_left < PROCDOM_SWEEP_LEFT_MAX; i++) {
		if (pids[i] > 0)
			sw->left[sw->nr_left++] = pids[i];
	}
}

static uint32_t sweep_busy(const struct procdom_sweep *sw)
{
	return sw->busy ? __atomic_load_n(sw->busy, __ATOMIC_SEQ_CST) : 0;
}

/* One pass: 1 it killed a child not killed before, 0 none, -EBUSY the
 * look did not count (busy), else the list's error. */
static int sweep_pass(struct procdom_sweep *sw)
{
	uint32_t b = sweep_busy(sw);
	unsigned int n = 0, fresh;
	pid_t *pids = NULL;
	int err;

	if (b & 1)
		return -EBUSY;
	err = procdom_children_list(&pids, &n);
	if (err)
		return err;
	if (n)
		sw->known(sw->ctx, pids, n);
	if (sweep_busy(sw) != b) {
		free(pids);
		return -EBUSY;
	}
	fresh = sweep_count_new(sw, pids, n);
	procdom_children_kill(pids, n, PROCDOM_KILL_GROUP | (sw->block ? PROCDOM_KILL_BLOCK : 0));
	sweep_keep_left(sw, pids, n);
	free(pids);
	return fresh ? 1 : 0;
}

int procdom_children_sweep(struct procdom_sweep *sw)
{
	unsigned int passes = 0, busy = 0;
	int rc;

	sw->killed = 0;
	while (passes < PROCDOM_SWEEP_PASSES) {
		rc = sweep_pass(sw);
		if (rc == -EBUSY) {
			if (++busy == SWEEP_BUSY_TRIES)
				return -EAGAIN;
			sched_yield();
			continue;
		}
		if (rc < 0)
			return rc;
		if (rc == 0)
			return sw->nr_left ? -EAGAIN : 0;
		passes++;
	}
	return -EAGAIN;
}

void procdom_sweep_log(const struct procdom_sweep *sw, const char *when,
		       void (*log)(void *ctx, bool warn, const char *msg), void *ctx)
{
	char msg[256], pids[96] = "";
	size_t len = 0;
	unsigned int i;

	if (!sw->killed || !log)
		return;
	for (i = 0; i < sw->killed && i < PROCDOM_SWEEP_SHOWN; i++)
		len += (size_t)snprintf(pids + len, sizeof(pids) - len, "%s%d", i ? ", " : "",
					(int)sw->shown[i]);
	snprintf(msg, sizeof(msg), "%u child process(es) nobody was told of (pid %s%s), %s: killed",
		 sw->killed, pids, sw->killed > PROCDOM_SWEEP_SHOWN ? ", ..." : "", when);
	log(ctx, true, msg);
}
