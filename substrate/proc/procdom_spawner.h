/*
 * The spawner: a small helper process that starts domain processes on
 * behalf of the host (xenon-hvd), so that starting one costs the same for
 * the 1000th domain as for the first. Internal to substrate/proc/.
 *
 * Why: spawning from xenon-hvd itself copies its fd table into the child
 * (posix_spawn's clone shares the memory but not the fd table) and the
 * child's exec then closes every copied O_CLOEXEC fd. xenon-hvd holds
 * about five fds per domain (three memfds, a hypercall socket per vCPU, a
 * pidfd), so that cost grew with every domain. The spawner is forked
 * before any domain exists and keeps only a handful of fds; a domain's fds
 * travel to it with SCM_RIGHTS for the one spawn and are closed after it.
 *
 *   xenon-hvd ── req {seq, argv, XENON_BOOT=...} + fds ──► spawner
 *       ▲                                                    │ clone(CLONE_VM |
 *       │                                                    │  CLONE_VFORK |
 *       └────────────── rep {seq, err, pid} ◄────────────────┘  CLONE_PARENT), execve
 *
 * The domain process is created with CLONE_PARENT: its parent is the
 * spawner's parent, xenon-hvd. So everything that rests on parenthood is
 * unchanged: xenon-hvd reaps it with waitpid(), its pidfd reports its exit,
 * its PR_SET_PDEATHSIG fires when xenon-hvd dies, and XENON_BOOT's ppid= is
 * xenon-hvd's pid. (The spawner must therefore be forked by the thread that
 * outlives the domains: PDEATHSIG follows the parent *thread*. xenon-hvd
 * has one thread.)
 *
 * The spawner itself dies with xenon-hvd (PR_SET_PDEATHSIG(SIGKILL)) or
 * when its socket hangs up. If it dies first, a request fails with -EPIPE
 * (or its answer with -EIO) and the caller starts a new one
 * (procdom_spawn.c). Requests are answered in order, one at a time; the
 * caller need not wait for an answer before the next request, so a host
 * can go on while a domain's program starts.
 *
 * In the domain process: fd 0 is /dev/null, 1 and 2 are its log, fds[i] is
 * fd 3 + i, nothing else is open; it leads its own process group; every
 * signal is at its default and unblocked.
 *
 * The template (opts.standby; procdom_standby.c has the details, the
 * process's side runtime/rt_standby.c). Starting a program costs its exec
 * and its C library's start-up, ~0.5 ms of CPU here (most of it glibc's
 * CPUID-trapping start-up on this VM), on the creation path even in the
 * background, and a burst of creations on two CPUs is bound by that CPU
 * time. So once the spawner has answered a request (and opened the next
 * log), and no other request came for 5 ms (the creation it answered is
 * not competed with for the CPU), it starts the same argv once more, ahead
 * of time: a *template*, cloned like a domain process (CLONE_PARENT: the
 * host's child; its own process group; fds 0-2 /dev/null;
 * XENON_STANDBY="fd=67 ppid=HOST fork=1" instead of XENON_BOOT), which
 * waits on a socket the spawner keeps (procdom_proto.h, 1b). Each next
 * request with the same argv, the same env entry name and argv[0] still
 * the same file (stat: device, inode, size, mtime, ctime, as recorded just
 * before the template's exec) is sent to it -- its fds, its log and its
 * env entry in one message -- and the template clones a child
 * (CLONE_PARENT again: the host's child) that becomes the domain's
 * process, answers with its pid, and waits for the next one. The answer
 * to the host is as for a fresh child's. Anything else kills the template
 * (it is stale) and starts the program fresh; a new template of it
 * follows. At most one exists. A fork of a started process costs ~0.12
 * ms of CPU here, an exec and start-up ~0.5.
 *
 *   host ── req (argv A) ──► spawner ── clone+exec A ──► domain process
 *        ◄── rep {pid} ─────    │  5 ms later: clone+exec A ──► template
 *   host ── req (argv A) ──► spawner ── fds+log+XENON_BOOT ──► template
 *                               │       ◄── {pid} ──────────  └ clone ─► domain process
 *        ◄── rep {its pid} ─    │   (the template stays; the next request
 *   host ── req (argv A) ──► spawner ──►  of A uses it at once)
 *
 * A template is started by the spawner, but its program is the guest's:
 * its constructors ran in it, so nothing it says is trusted. The pid it
 * answers is believed only if it is a child of the host that nobody was
 * told of (procdom_spawner_result checks; opts.known says what the host
 * knows); it never sees the slots page. One that names anything else
 * fails that request alone (-EPROTO) and loses its program's templates.
 * If it dies (or stays silent) between its clone and its answer, the
 * child it made is the host's and nobody was told of it: the request
 * fails (-ECANCELED), and the host sweeps -- lists its own children and
 * kills and reaps every one nobody knows (procdom_spawner.c, "The crash
 * window"). The sweep needs the kernel to list a process's children
 * (CONFIG_PROC_CHILDREN); without it the spawner keeps no template (said
 * once through opts.log).
 *
 * A template the spawner gives up (discarded as stale, or dead on its
 * own, or failed with a request) is the host's child: the spawner says so
 * in a *notice* on the socket, and procdom_spawner_result() kills it and
 * its process group (what a guest constructor forked in it) and reaps it
 * if it is gone (else procdom_spawner_tick() does, later: a process stuck
 * in D state must not hold the host's loop). A template that dies unused
 * is not restarted before the next request for its program; one whose
 * template died unused twice in a row gets none again, and so does one
 * whose templates died twice in a row with a request in flight, or whose
 * template failed a request (an error answer, -EAGAIN or -ENOMEM three
 * times in a row, none in time, a malformed one, a socket it does not
 * read, a pid refused) or said why it cannot be one (told through
 * opts.log once). The pid of every template the host has not reaped is in
 * a slot of the shared page, so procdom_spawner_destroy() kills and reaps
 * it, and its group, with the rest.
 */
#ifndef XENON_PROCDOM_SPAWNER_H
#define XENON_PROCDOM_SPAWNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCDOM_SPAWNER_MAX_FDS 64		/* fds[] per spawn */
#define PROCDOM_SPAWNER_MAX_STRINGS (66 * 1024) /* argv and the env entry */
#define PROCDOM_SPAWNER_FIRST_FD 3		/* fds[0] in the child */
#define PROCDOM_SPAWNER_MAX_INFLIGHT 63		/* requests not answered yet */

struct procdom_spawner;

struct procdom_spawner_opts {
	bool standby; /* keep a template process (above) */
	/* What became of templates, for the host's log (may be NULL): warn
	 * for what a user must know (a program that gets no template). */
	void (*log)(void *ctx, bool warn, const char *msg);
	void *log_ctx; /* log's and known's */
	/* The host's own children that are not the spawner's business (its
	 * domains' processes, dom0 services): zero each such pid in pids[]
	 * (which it may reorder).
	 * Called from the calls below, never from a signal handler; it must
	 * not call them. NULL: the host has no other child it keeps --
	 * then no sweep is made (procdom_spawner.c, "The crash window"), and
	 * a template's child is checked only against the slots. */
	void (*known)(void *ctx, pid_t *pids, unsigned int n);
	/* A program whose templates the kernel kept refusing clones
	 * (-EAGAIN/-ENOMEM three times in a row) gets none for this long,
	 * twice as long each time again until one serves a domain
	 * (procdom_standby.c, "Rests"). 0: 10 s. */
	unsigned int standby_rest_ms;
};

/* Fork the spawner now. Call it from the thread that stays (see above).
 * procdom_spawner_create: no standby. */
int procdom_spawner_create(struct procdom_spawner **ret_sp);
int procdom_spawner_create_opts(struct procdom_spawner **ret_sp,
				const struct procdom_spawner_opts *opts);
/*
 * Hang up, kill, reap. A child it started for a request whose answer was
 * not taken (procdom_spawner_result) -- the spawner died before replying,
 * or the reply was never read -- is killed and reaped here, by its pid
 * (never waitpid(-1)); returns how many. The standby, and any standby
 * given up and not reaped yet, go the same way (not counted), and so does
 * a child nobody was told of (the sweep, with opts.known: logged through
 * opts.log, not counted). Accepts NULL.
 */
unsigned int procdom_spawner_destroy(struct procdom_spawner *sp);
pid_t procdom_spawner_pid(const struct procdom_spawner *sp);
/* Whether it keeps a template: opts.standby, unless the kernel cannot
 * list our children (then it says so through opts.log and keeps none). */
bool procdom_spawner_has_standby(const struct procdom_spawner *sp);

/*
 * Start argv[0] (an absolute path) with argv, the spawner's environment
 * (the caller's at procdom_spawner_create) minus any entry named as
 * env_entry's, plus env_entry ("NAME=value"); stdout and stderr appended to
 * log_path (created 0600 if need be). next_log_path (NULL or "": none) is
 * the log the caller expects to name next: the spawner creates it once
 * this request is answered, off the caller's path (procdom_spawner.c).
 * The request is sent now (the fds may be closed once this returns) and
 * answered later, in the order sent: *ret_seq (never 0) names it in the
 * answer. -EPIPE: the spawner is gone and nothing was started. -EBUSY:
 * PROCDOM_SPAWNER_MAX_INFLIGHT requests wait for their answers already.
 */
int procdom_spawner_submit(struct procdom_spawner *sp, char *const argv[], const char *env_entry,
			   const char *log_path, const char *next_log_path, const int *fds,
			   unsigned int nr_fds, uint32_t *ret_seq);
/*
 * The next answer (block: wait for it; else -EAGAIN when none is there;
 * notices of standbys given up are handled on the way: each is reaped):
 * *ret_seq names its request; 0 and *ret_pid, a child of the caller, or
 * the start's -errno (a child that failed before its exec is reaped
 * here; -EPROTO: a template answered a pid that is no new child of the
 * caller's, and that request alone fails). -EIO: the spawner died or
 * broke the protocol; every request not answered yet is lost (a child
 * started for one is killed and reaped by procdom_spawner_destroy, which
 * the caller calls next).
 */
int procdom_spawner_result(struct procdom_spawner *sp, bool block, uint32_t *ret_seq,
			   pid_t *ret_pid);
/* Readable when an answer is there (for the caller's poll loop). */
int procdom_spawner_sock(const struct procdom_spawner *sp);
/* What is owed and can be done without waiting: templates given up and
 * not reaped yet, a sweep (also done by procdom_spawner_result). For the
 * caller's loop, once per turn; accepts NULL. */
void procdom_spawner_tick(struct procdom_spawner *sp);
/* Something is owed (the caller's loop should tick again soon, not only
 * at its next event: a killed process is reaped by the tick). */
bool procdom_spawner_owes(const struct procdom_spawner *sp);
/* Submit and wait for the answer, with no other request outstanding. */
int procdom_spawner_spawn(struct procdom_spawner *sp, char *const argv[], const char *env_entry,
			  const char *log_path, const char *next_log_path, const int *fds,
			  unsigned int nr_fds, pid_t *ret_pid);

#endif
