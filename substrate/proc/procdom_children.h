/*
 * The host's own children, as the kernel lists them: for the sweep of
 * children nobody was told of (procdom_spawner.c, "The crash window").
 * Internal to substrate/proc/.
 */
#ifndef XENON_PROCDOM_CHILDREN_H
#define XENON_PROCDOM_CHILDREN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCDOM_CHILDREN_MAX (1u << 20) /* listed at most (pids are < 2^22) */

/*
 * Every child of this process: /proc/self/task/TID/children of each of
 * its threads (a child belongs to the thread that made it, or to whose
 * CLONE_PARENT it inherited). Only our own unreaped children are listed
 * there, so no pid in it can be another's or reused while we do not
 * reap it. *ret_pids is malloc'd (NULL when none); -errno on failure:
 * -ENOSYS when the kernel does not list children at all (the calling
 * thread's own list is missing: CONFIG_PROC_CHILDREN is off), -ENOENT
 * when /proc is not there.
 */
int procdom_children_list(pid_t **ret_pids, unsigned int *ret_n);
/* Whether pid is a child of ours, unreaped (waitid, WNOWAIT: nothing
 * taken). */
bool procdom_is_child(pid_t pid);

#define PROCDOM_KILL_BLOCK 1u /* wait for each to end; else reap only the ended */
#define PROCDOM_KILL_GROUP 2u /* its process group too (a domain's process leads one) */
/*
 * SIGKILL to each non-zero pid (with PROCDOM_KILL_GROUP, to the group it
 * leads too -- never to a template's: a child it just made may still be
 * in it), then reaped: waiting (PROCDOM_KILL_BLOCK), or WNOHANG (a process
 * stuck in D state must not hold the caller). Reaped ones are zeroed;
 * returns how many are left.
 */
unsigned int procdom_children_kill(pid_t *pids, unsigned int n, unsigned int flags);

#define PROCDOM_SWEEP_PASSES 16	  /* passes that each found a new child, at most */
#define PROCDOM_SWEEP_LEFT_MAX 64 /* killed, not reaped yet, remembered */
#define PROCDOM_SWEEP_SHOWN 4	  /* pids of the killed kept for the log */

/*
 * A sweep: every child of ours nobody was told of is killed and reaped.
 * A pass lists our children, drops the known ones and kills the rest; a
 * child cloned (CLONE_PARENT) between the list and the kill escapes that
 * pass, so passes repeat until one finds no new child (at most
 * PROCDOM_SWEEP_PASSES).
 */
struct procdom_sweep {
	/* Zero in pids[] each child someone was told of (it may reorder). */
	void (*known)(void *ctx, pid_t *pids, unsigned int n);
	void *ctx;
	/* NULL, or a count that is odd while a child may exist whose pid is
	 * in no list known() reads yet (procdom_standby.h's busy count): a
	 * pass counts only between two equal even readings of it. */
	const uint32_t *busy;
	bool block; /* wait for what it kills (the final sweep) */
	/* Kept between calls: killed, not reaped yet (so never counted, nor
	 * logged, twice). */
	pid_t left[PROCDOM_SWEEP_LEFT_MAX];
	unsigned int nr_left;
	/* Out, per call: children killed that no earlier call killed, and
	 * the first few of their pids. */
	unsigned int killed;
	pid_t shown[PROCDOM_SWEEP_SHOWN];
};

/*
 * 0: a pass found no child nobody was told of and every one killed is
 * reaped. -EAGAIN: look again later (busy, killed ones not reaped yet, or
 * every pass found a new one). Else procdom_children_list's error.
 */
int procdom_children_sweep(struct procdom_sweep *sw);
/* What the last call killed (new ones only: once per process), as one
 * warning, when: why it looked. Nothing if it killed none. */
void procdom_sweep_log(const struct procdom_sweep *sw, const char *when,
		       void (*log)(void *ctx, bool warn, const char *msg), void *ctx);

#endif
