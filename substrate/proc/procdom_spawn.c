/*
 * A domain's process: spawn, stop/continue, kill, reap.
 *
 * posix_spawn, not fork: the daemon may map gigabytes of guest RAM, and
 * fork would copy its page tables for nothing (floors.md: posix_spawn of a
 * tiny binary costs 0.14-0.2 ms). The child gets exactly the fds in
 * XENON_BOOT: every fd of ours is O_CLOEXEC, and a dup2 of an fd onto
 * itself in the file actions clears O_CLOEXEC on just that one (glibc
 * >= 2.29, POSIX 2024). Signal mask and dispositions are reset, since the
 * daemon blocks its signals for a signalfd.
 *
 * From procdom_start_spawner() on, the spawn itself is done by the spawner
 * process (procdom_spawner.h): the same child, made with the spawner's
 * small fd table instead of ours, which holds about five fds per domain.
 * Its fds are then compact (ram=3 evt=4 xen=5 hc=6,...). The child is
 * still our child (CLONE_PARENT), so reaping, the pidfd, PDEATHSIG and
 * ppid= are as below. A spawner found dead is replaced (logged); if no new
 * one can be made, domains are spawned directly (logged once). With
 * procdom_set_standby() the spawner may hand a domain to a standby, its
 * program started ahead of time (procdom_spawner.h): to us the answer is
 * the same, a pid of our child; a direct spawn never has one.
 *
 * Death: a pidfd per process becomes readable when it exits; the host
 * polls it. Killing uses the process group (the guest runtime's vCPU
 * threads are in the process; anything it forked is in the group). The
 * group is signalled while the leader is still unreaped, so its id cannot
 * have been reused by then.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procdom_children.h"
#include "procdom_internal.h"
#include "procdom_spawner.h"

extern char **environ;

#define PROCDOM_BOOT_MAX 1024
#define PROCDOM_ENV_MAX 4096	  /* environment entries passed on */
#define PROCDOM_SPAWNS_MAX 32	  /* spawns in flight; beyond, the oldest is waited for */
#define PROCDOM_SPAWNS_TICK_MS 10 /* the next tick while something is owed */
_Static_assert(PROCDOM_SPAWNS_MAX <= PROCDOM_SPAWNER_MAX_INFLIGHT, "the spawner takes them all");

/* names: the child's fd numbers for ram, evt, xen, then hc per vCPU. */
static int procdom_boot_string(struct procdom_domain *d, const int *names, uint64_t start_info_gfn,
			       char *buf, size_t size)
{
	size_t len;
	unsigned int i;
	int n;

	n = snprintf(buf, size,
		     PROCDOM_BOOT_ENV "=v=%u domid=%u vcpus=%u ram=%d evt=%d xen=%d "
				      "max_pages=%llu max_gfn=%llu start_info=%llu evt_pages=%u "
				      "xen_pages=%u ppid=%d hc=",
		     PROCDOM_PROTO_VERSION, d->domid, d->max_vcpus, names[0], names[1], names[2],
		     (unsigned long long)d->max_pages, (unsigned long long)(d->max_pages + 1024),
		     (unsigned long long)start_info_gfn,
		     (unsigned int)(PROCDOM_EVT_SIZE / PROCDOM_PAGE_SIZE), d->xen_pages,
		     (int)getpid());
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	len = (size_t)n;
	for (i = 0; i < d->max_vcpus; i++) {
		n = snprintf(buf + len, size - len, "%s%d", i ? "," : "", names[3 + i]);
		if (n < 0 || (size_t)n >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
	}
	return 0;
}

/* environ without any XENON_BOOT (nor XENON_STANDBY, which would make the
 * child wait as a standby), plus ours; NULL-terminated. */
static char **procdom_envp(char *boot)
{
	size_t n = 0, i, k = 0;
	char **envp;

	while (environ[n] && n < PROCDOM_ENV_MAX)
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	if (!envp)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], PROCDOM_BOOT_ENV "=", sizeof(PROCDOM_BOOT_ENV)) &&
		    strncmp(environ[i], PROCDOM_STANDBY_ENV "=", sizeof(PROCDOM_STANDBY_ENV)))
			envp[k++] = environ[i];
	envp[k] = boot;
	return envp;
}

static int procdom_file_actions(posix_spawn_file_actions_t *fa, struct procdom_domain *d,
				const int *child_hc, int log_fd)
{
	int keep[3] = { d->ram.fd, d->evt.fd, d->xen.fd };
	unsigned int i;
	int err = 0;

	err |= posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
	err |= posix_spawn_file_actions_adddup2(fa, log_fd, 1);
	err |= posix_spawn_file_actions_adddup2(fa, log_fd, 2);
	for (i = 0; i < 3; i++)
		err |= posix_spawn_file_actions_adddup2(fa, keep[i], keep[i]);
	for (i = 0; i < d->max_vcpus; i++)
		err |= posix_spawn_file_actions_adddup2(fa, child_hc[i], child_hc[i]);
	return err ? -ENOMEM : 0;
}

static int procdom_spawn_attr(posix_spawnattr_t *attr)
{
	sigset_t none, all;
	int err = 0;

	sigemptyset(&none);
	sigfillset(&all);
	err |= posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						      POSIX_SPAWN_SETSIGDEF);
	err |= posix_spawnattr_setpgroup(attr, 0);
	err |= posix_spawnattr_setsigmask(attr, &none);
	err |= posix_spawnattr_setsigdefault(attr, &all);
	return err ? -EINVAL : 0;
}

/* What one spawn needs, whichever way it goes. */
struct procdom_spawn_args {
	char *const *argv;
	const char *log_path, *next_log_path;
	uint64_t start_info_gfn;
	const int *child_hc; /* the child's ends of the hypercall sockets */
};

static int procdom_posix_spawn(struct procdom_domain *d, const struct procdom_spawn_args *a,
			       int log_fd, char **envp, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int err;

	if (posix_spawn_file_actions_init(&fa))
		return -ENOMEM;
	if (posix_spawnattr_init(&attr)) {
		posix_spawn_file_actions_destroy(&fa);
		return -ENOMEM;
	}
	err = procdom_file_actions(&fa, d, a->child_hc, log_fd);
	if (!err)
		err = procdom_spawn_attr(&attr);
	if (!err)
		err = -posix_spawn(ret_pid, a->argv[0], &fa, &attr, a->argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

/* posix_spawn from here: the child's fds keep our numbers. */
static int procdom_spawn_direct(struct procdom_domain *d, const struct procdom_spawn_args *a,
				pid_t *ret_pid)
{
	int names[3 + HV_MAX_VCPUS] = { d->ram.fd, d->evt.fd, d->xen.fd };
	char boot[PROCDOM_BOOT_MAX], **envp;
	int log_fd, err;

	memcpy(names + 3, a->child_hc, d->max_vcpus * sizeof(int));
	err = procdom_boot_string(d, names, a->start_info_gfn, boot, sizeof(boot));
	if (err)
		return err;
	envp = procdom_envp(boot);
	if (!envp)
		return -ENOMEM;
	log_fd = open(a->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	err = log_fd < 0 ? -errno : procdom_posix_spawn(d, a, log_fd, envp, ret_pid);
	if (log_fd >= 0)
		close(log_fd);
	free(envp);
	return err;
}

/* ---- through the spawner ------------------------------------------------ */

/*
 * Spawns in flight: each asked of the spawner and answered later, in the
 * order asked (pd->spawn_head). The host polls procdom_spawner_fd() and
 * calls procdom_spawns_collect(); whoever needs one answer now (kill,
 * stop, the host's unpause) waits for it with procdom_domain_spawn_wait(),
 * which takes the answers before it on the way. Each answer reaches the
 * host through hooks.spawned, except for a domain being killed.
 */

static void procdom_close_hc(struct procdom_domain *d)
{
	unsigned int i;

	for (i = 0; i < d->max_vcpus; i++) {
		if (d->hc_fds[i] >= 0)
			close(d->hc_fds[i]);
		d->hc_fds[i] = -1;
	}
}

static struct procdom_domain **procdom_pid_chain(struct procdom *pd, pid_t pid)
{
	return &pd->by_pid[(unsigned int)pid % PROCDOM_PID_BUCKETS];
}

/* d->pid set: d into pd->by_pid. */
static void procdom_pid_index(struct procdom_domain *d)
{
	struct procdom_domain **chain = procdom_pid_chain(d->pd, d->pid);

	d->pid_next = *chain;
	*chain = d;
}

/* Out of pd->by_pid, and d->pid 0 (it has no process any more). */
static void procdom_pid_unindex(struct procdom_domain *d)
{
	struct procdom_domain **pp;

	if (!d->pid)
		return;
	for (pp = procdom_pid_chain(d->pd, d->pid); *pp; pp = &(*pp)->pid_next) {
		if (*pp == d) {
			*pp = d->pid_next;
			break;
		}
	}
	d->pid_next = NULL;
	d->pid = 0;
}

/* The domain whose process (not reaped) pid is, or NULL. */
static struct procdom_domain *procdom_by_pid(struct procdom *pd, pid_t pid)
{
	struct procdom_domain *d;

	for (d = *procdom_pid_chain(pd, pid); d; d = d->pid_next) {
		if (d->pid == pid && !d->reaped)
			return d;
	}
	return NULL;
}

/* pid is our child, just started: it cannot be reaped behind our back, so
 * the pidfd cannot name another process. */
static int procdom_process_attach(struct procdom_domain *d, pid_t pid)
{
	int err;

	procdom_pid_unindex(d); /* an earlier process's, if any */
	d->pid = pid;
	d->reaped = false;
	procdom_pid_index(d);
	d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (d->pidfd < 0) {
		err = -errno;
		procdom_domain_kill(d);
		procdom_pid_unindex(d);
		return err;
	}
	/* pidfd_open() makes it close-on-exec already. */
	return 0;
}

/* The answer for d, off the list already: its process, or why not. */
static void procdom_spawn_finish(struct procdom_domain *d, int err, pid_t pid)
{
	struct procdom *pd = d->pd;

	d->spawning = false;
	if (!err)
		err = procdom_process_attach(d, pid);
	if (err) {
		d->proc = false;
		d->spawn_err = err;
		procdom_log(pd, HV_LOG_WARN, "d%u: the program did not start: %s", d->domid,
			    strerror(-err));
	} else {
		procdom_log(pd, HV_LOG_INFO, "d%u: started, pid %d", d->domid, (int)pid);
	}
	if (!d->spawn_quiet && pd->hooks.spawned)
		pd->hooks.spawned(pd->hooks.ctx, d->domid, err);
	if (err)
		procdom_close_hc(d); /* after the hook: the host unwatches them first */
}

/* The oldest in flight, answered. */
static void procdom_spawn_done(struct procdom_domain *d, int err, pid_t pid)
{
	struct procdom *pd = d->pd;

	pd->spawn_head = d->spawn_next;
	if (!pd->spawn_head)
		pd->spawn_tail = &pd->spawn_head;
	d->spawn_next = NULL;
	pd->nr_spawning--;
	procdom_spawn_finish(d, err, pid);
}

/* The spawner goes; what it had not answered fails (-EIO), and a program
 * it started for one of those is killed and reaped with it (by its pid:
 * procdom_spawner.c). The list is taken off first, so a hook that starts
 * another domain (through a new spawner, or directly) is not failed with
 * them. */
static void procdom_spawner_drop(struct procdom *pd)
{
	struct procdom_domain *d = pd->spawn_head, *next;
	unsigned int orphans = procdom_spawner_destroy(pd->spawner);

	if (orphans)
		procdom_log(pd, HV_LOG_WARN,
			    "%u program(s) started for unanswered requests: killed", orphans);
	pd->spawner = NULL;
	pd->spawn_head = NULL;
	pd->spawn_tail = &pd->spawn_head;
	pd->nr_spawning = 0;
	for (; d; d = next) {
		next = d->spawn_next;
		d->spawn_next = NULL;
		procdom_spawn_finish(d, -EIO, 0);
	}
}

/* What became of a template, in our log (procdom_spawner_opts.log). */
static void procdom_standby_log(void *ctx, bool warn, const char *msg)
{
	procdom_log(ctx, warn ? HV_LOG_WARN : HV_LOG_INFO, "%s", msg);
}

/* Our children the spawner must leave alone (procdom_spawner_opts.known):
 * the domains' processes, then the host's own (hooks.known_children). One
 * lookup per candidate (pd->by_pid): a template's answer (one pid) costs
 * the same however many domains run. */
static void procdom_known_children(void *ctx, pid_t *pids, unsigned int n)
{
	struct procdom *pd = ctx;

	for (unsigned int i = 0; i < n; i++) {
		if (pids[i] && procdom_by_pid(pd, pids[i]))
			pids[i] = 0;
	}
	if (pd->hooks.known_children)
		pd->hooks.known_children(pd->hooks.ctx, pids, n);
}

void procdom_set_standby(struct procdom *pd, bool on)
{
	pd->standby = on;
}

int procdom_start_spawner(struct procdom *pd)
{
	struct procdom_spawner_opts opts = { .standby = pd->standby,
					     .log = procdom_standby_log,
					     .log_ctx = pd,
					     .known = procdom_known_children };
	int err;

	if (pd->spawner)
		return 0;
	err = procdom_spawner_create_opts(&pd->spawner, &opts);
	if (err)
		return err;
	/* Said once (the kernel cannot list our children): none from now on. */
	pd->standby = procdom_spawner_has_standby(pd->spawner);
	pd->templates_seen |= pd->standby;
	pd->spawner_gen++;
	procdom_log(pd, HV_LOG_INFO, "spawner started, pid %d%s",
		    (int)procdom_spawner_pid(pd->spawner), pd->standby ? ", with a standby" : "");
	return 0;
}

void procdom_stop_spawner(struct procdom *pd)
{
	procdom_spawner_drop(pd);
	pd->spawner_lost = false;
}

/*
 * The last step (procdom_destroy): the spawner gone, every domain
 * released, a child of ours nobody was told of can only be one a template
 * made and nobody swept yet -- also when there has been no spawner for a
 * while (spawning fell back to direct), so this is no step of the
 * spawner's. Only once templates were ever on: without them no such child
 * can exist, and a host that never asked for them keeps every child it
 * has. Waits for each one it kills.
 */
static void procdom_sweep_final(struct procdom *pd)
{
	struct procdom_sweep sw = { .known = procdom_known_children, .ctx = pd, .block = true };
	int err;

	if (!pd->templates_seen)
		return;
	err = procdom_children_sweep(&sw);
	procdom_sweep_log(&sw, "found at the end", procdom_standby_log, pd);
	if (err)
		procdom_log(pd, HV_LOG_WARN, "the final look for children nobody was told of: %s",
			    strerror(-err));
}

void procdom_spawns_fini(struct procdom *pd)
{
	procdom_stop_spawner(pd);
	procdom_sweep_final(pd);
}

int procdom_spawner_fd(const struct procdom *pd)
{
	return pd->spawner ? procdom_spawner_sock(pd->spawner) : -1;
}

unsigned int procdom_spawner_generation(const struct procdom *pd)
{
	return pd->spawner_gen;
}

/*
 * The spawner died (someone killed it) or broke the protocol: it goes, and
 * what it had not answered fails (-EIO). Another is made at the next start
 * (procdom_spawner_replace), not now: one that cannot run (it dies at once,
 * say for want of file descriptors) would otherwise be forked again at
 * every turn of the host's loop.
 */
static void procdom_spawner_lost(struct procdom *pd)
{
	procdom_log(pd, HV_LOG_WARN, "spawner (pid %d) is gone: another at the next start",
		    (int)procdom_spawner_pid(pd->spawner));
	procdom_spawner_drop(pd);
	pd->spawner_lost = true;
}

/* Forking a new one copies our fd table once, which is what the spawner
 * exists to avoid per domain, but only once per loss. If that fails,
 * domains are spawned directly from then on: slower, still correct. */
static void procdom_spawner_replace(struct procdom *pd)
{
	int err;

	if (pd->spawner || !pd->spawner_lost)
		return;
	pd->spawner_lost = false;
	err = procdom_start_spawner(pd);
	if (err)
		procdom_log(pd, HV_LOG_ERR, "no spawner (%s): domains are spawned directly",
			    strerror(-err));
}

/* One answer (block: wait for it); false when none was there. */
static bool procdom_spawn_answer(struct procdom *pd, bool block)
{
	uint32_t seq = 0;
	pid_t pid = 0;
	int err = procdom_spawner_result(pd->spawner, block, &seq, &pid);

	if (err == -EAGAIN)
		return false;
	if (err == -EIO || !pd->spawn_head || pd->spawn_head->spawn_seq != seq) {
		if (err != -EIO && pid > 0) /* started for nobody we know */
			procdom_children_kill(&pid, 1, PROCDOM_KILL_BLOCK | PROCDOM_KILL_GROUP);
		procdom_spawner_lost(pd);
		return true;
	}
	procdom_spawn_done(pd->spawn_head, err, pid);
	return true;
}

void procdom_spawns_collect(struct procdom *pd)
{
	while (pd->spawner && procdom_spawn_answer(pd, false))
		;
}

void procdom_spawns_tick(struct procdom *pd)
{
	procdom_spawner_tick(pd->spawner);
}

int procdom_spawns_timeout_ms(const struct procdom *pd)
{
	return procdom_spawner_owes(pd->spawner) ? PROCDOM_SPAWNS_TICK_MS : -1;
}

int procdom_domain_spawn_wait(struct procdom_domain *d)
{
	while (d->spawning && d->pd->spawner)
		procdom_spawn_answer(d->pd, true);
	return d->spawning ? -EIO : d->spawn_err;
}

int procdom_domain_spawn_result(const struct procdom_domain *d)
{
	return d->spawning ? -EINPROGRESS : d->spawn_err;
}

/* The child sees ram, evt, xen, hc... as 3, 4, 5, 6...; -EPIPE: the
 * spawner was gone before it started anything (the caller may go direct).
 * On success d is in flight. */
static int procdom_spawn_submit(struct procdom_domain *d, const struct procdom_spawn_args *a)
{
	int fds[3 + HV_MAX_VCPUS] = { d->ram.fd, d->evt.fd, d->xen.fd };
	int names[3 + HV_MAX_VCPUS];
	char boot[PROCDOM_BOOT_MAX];
	unsigned int i, n = 3 + d->max_vcpus;
	struct procdom *pd = d->pd;
	int err;

	memcpy(fds + 3, a->child_hc, d->max_vcpus * sizeof(int));
	for (i = 0; i < n; i++)
		names[i] = PROCDOM_SPAWNER_FIRST_FD + (int)i;
	err = procdom_boot_string(d, names, a->start_info_gfn, boot, sizeof(boot));
	if (err)
		return err;
	err = procdom_spawner_submit(pd->spawner, a->argv, boot, a->log_path, a->next_log_path, fds,
				     n, &d->spawn_seq);
	if (err == -EPIPE)
		procdom_spawner_lost(pd);
	if (err)
		return err;
	d->spawning = true;
	*pd->spawn_tail = d;
	pd->spawn_tail = &d->spawn_next;
	pd->nr_spawning++;
	return 0;
}

static int procdom_spawn_process(struct procdom_domain *d, const struct procdom_spawn_args *a)
{
	struct procdom *pd = d->pd;
	pid_t pid;
	int err = -EPIPE;

	/* A bound on what is in flight: beyond it, the oldest is waited for. */
	while (pd->spawner && pd->nr_spawning >= PROCDOM_SPAWNS_MAX)
		procdom_domain_spawn_wait(pd->spawn_head);
	/* Nothing was started on -EPIPE: the spawner we have (or a new one,
	 * once), else directly. */
	for (int tries = 0; tries < 2 && err == -EPIPE; tries++) {
		procdom_spawner_replace(pd);
		if (pd->spawner)
			err = procdom_spawn_submit(d, a);
	}
	if (err == -EPIPE) {
		err = procdom_spawn_direct(d, a, &pid);
		if (!err)
			err = procdom_process_attach(d, pid);
	}
	return err;
}

static int procdom_sockets(struct procdom_domain *d, int *child_hc)
{
	unsigned int i;
	int sv[2];

	for (i = 0; i < d->max_vcpus; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			int err = -errno;

			while (i--)
				close(child_hc[i]);
			procdom_close_hc(d);
			return err;
		}
		d->hc_fds[i] = sv[0];
		child_hc[i] = sv[1];
	}
	return 0;
}

int procdom_domain_spawn(struct procdom_domain *d, char *const argv[], const char *log_path,
			 const char *next_log_path, uint64_t start_info_gfn)
{
	struct procdom_spawn_args a = { argv, log_path, next_log_path, start_info_gfn, NULL };
	int child_hc[HV_MAX_VCPUS], err;
	unsigned int i;

	if (d->proc || d->local || !argv || !argv[0] || argv[0][0] != '/' || !log_path)
		return -EINVAL;
	err = procdom_sockets(d, child_hc);
	if (err)
		return err;
	a.child_hc = child_hc;
	d->spawn_err = 0;
	d->spawn_quiet = false;
	err = procdom_spawn_process(d, &a);
	/* The child (or the request in flight) has its ends; ours stay. */
	for (i = 0; i < d->max_vcpus; i++)
		close(child_hc[i]);
	if (err) {
		procdom_close_hc(d);
		return err;
	}
	d->proc = true;
	if (!d->spawning)
		procdom_log(d->pd, HV_LOG_INFO, "d%u: started %s, pid %d", d->domid, argv[0],
			    (int)d->pid);
	return 0;
}

int procdom_domain_stop(struct procdom_domain *d, bool stop)
{
	/* A program still starting waits for its BOOT answer: nothing to
	 * stop or continue (the host's first unpause waits for the start). */
	if (!d->pid || d->reaped)
		return 0;
	if (kill(-d->pid, stop ? SIGSTOP : SIGCONT) < 0)
		return -errno;
	d->stopped = stop;
	return 0;
}

/* A start in flight is seen through first, without the spawned hook. */
static void procdom_spawn_quiet_wait(struct procdom_domain *d)
{
	if (!d->spawning)
		return;
	d->spawn_quiet = true;
	procdom_domain_spawn_wait(d);
}

void procdom_domain_kill(struct procdom_domain *d)
{
	pid_t pid;

	procdom_spawn_quiet_wait(d);
	if (!d->pid || d->reaped)
		return;
	/* Its group and the leader by its pid too (should it not lead the
	 * group yet, the wait must still end); SIGKILL ends even a stopped
	 * process, so the wait is short. */
	pid = d->pid;
	procdom_children_kill(&pid, 1, PROCDOM_KILL_GROUP | PROCDOM_KILL_BLOCK);
	d->reaped = true;
}

int procdom_domain_reap(struct procdom_domain *d)
{
	int status;
	pid_t r;

	procdom_spawn_quiet_wait(d);
	if (!d->pid || d->reaped)
		return -ECHILD;
	/* Leader unreaped: the group id is still ours to signal. */
	kill(-d->pid, SIGKILL);
	r = waitpid(d->pid, &status, WNOHANG);
	if (r != d->pid) {
		/* The pidfd said it exited; the SIGKILL makes sure. */
		while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	d->reaped = true;
	return status;
}

void procdom_process_fini(struct procdom_domain *d)
{
	procdom_domain_kill(d);
	if (d->pidfd >= 0)
		close(d->pidfd);
	d->pidfd = -1;
	procdom_pid_unindex(d);
}

pid_t procdom_domain_pid(const struct procdom_domain *d)
{
	return d->reaped ? 0 : d->pid;
}

int procdom_domain_pidfd(const struct procdom_domain *d)
{
	return d->pidfd;
}
