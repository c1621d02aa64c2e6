/*
 * The spawner (procdom_spawner.h has the why and the picture).
 *
 * One request, one reply, one at a time on a SOCK_SEQPACKET socketpair:
 *
 *   request  struct spawner_req, then strings_len bytes of strings:
 *            env_entry\0 log_path\0 next_log_path\0 argv[0]\0 ... argv[argc-1]\0
 *            SCM_RIGHTS: fds[0], ..., fds[nr_fds-1]
 *   reply    struct spawner_rep {seq, err (0 or -errno), pid, note 0 or
 *            SPAWNER_REP_FORKED}
 *   refusal  struct spawner_req {seq, 0, 0, 0}, no strings, no fds, no
 *            reply: the host refused the pid a template answered for seq
 *            (below): the spawner bans that template's program
 *   notice   struct spawner_rep {0, 0, pid, note STANDBY_NOTE_*}, then the
 *            template's argv[0]\0 and, if there is one, why\0 (printable):
 *            a template given up (procdom_standby.c), for the host to reap,
 *            or one that asks for a sweep, or a ban (procdom_standby.h);
 *            sent between replies, whenever it happens
 *
 * The log: creating a file is the costliest step of a spawn on some file
 * systems (ext4 without a journal skips every inode deleted in the last
 * seconds, one by one: 30 us for the 1st of 1000 new files, 220 us for the
 * 1000th on the test machine). So after replying, while the host goes on,
 * the spawner opens (creates) next_log_path, the log the host expects to
 * name next, and keeps the fd for a request that names it.
 *
 * A reply with err and pid > 0 names a child that was created and failed
 * before its exec (it has exited): the caller, its parent, reaps it.
 *
 * The spawner keeps fds 3 and up free (its socket and the log held ahead
 * live at SPAWNER_FD and above), so the fds of a request arrive exactly
 * where the child wants them: fds[i] at 3 + i, not close-on-exec. The
 * child then only puts its log on 1 and 2 and execs; no fd is moved (that
 * was 3 system calls per fd). Should they land elsewhere, they are moved
 * to fd >= SPAWNER_FD_BASE first, so that the child's dup2()s onto 1, 2
 * and 3..3+nr_fds-1 can never overwrite a source not yet copied. Every
 * other fd of the spawner but 0-2 (/dev/null) is O_CLOEXEC: the child
 * keeps exactly its targets. (The standby's socket, too, lives up there.)
 *
 * The child is cloned with CLONE_VM | CLONE_VFORK (as posix_spawn does: no
 * page tables copied; the spawner sleeps until the exec) and CLONE_PARENT.
 * It runs on its own small stack in the spawner's memory, with every signal
 * blocked (the spawner's mask) until just before execve, so no handler can
 * run on that shared memory; the spawner has no handlers anyway.
 *
 * Children nobody was told of. A spawner killed after its clone() and
 * before its reply leaves a child the host never hears of: the host's own
 * child (CLONE_PARENT), running, then a zombie until the host exits. So the
 * clone also carries CLONE_PARENT_SETTID, which makes the kernel store the
 * child's pid, before the child first runs and before clone() returns, into
 * a page the host shares with the spawner (MAP_SHARED, made before the
 * fork), in the slot of the request's seq:
 *
 *   slots[seq % SPAWNER_NR_SLOTS]   0: no child (yet)
 *     host: 0 at submit -> kernel (in the spawner's clone): child's pid
 *       -> host, on taking the reply: checked against the reply, back to 0
 *
 * A request's pid is there whenever its child exists: the kernel either
 * makes the child and stores the pid, or (a fatal signal first) neither.
 * When the spawner goes (procdom_spawner_destroy: killed and reaped, so
 * nothing more is stored), a slot still holding a pid names a child whose
 * reply the host never took: it is killed and reaped by that pid, which
 * cannot have been reused since (our child, unreaped: nobody else can
 * wait for it, and nobody else was told of it). No waitpid(-1), so a known
 * domain's wait status is never taken. Requests in flight are bounded to
 * one fewer than the slots: seq skips 0 when it wraps, and 63 consecutive
 * seqs still fall in distinct slots, so each request has its own.
 *
 * Templates have slots of their own after those (STANDBY_NR_SLOTS): the
 * template's clone stores its pid there, and the host zeroes it when it
 * has reaped a template given up (told in a notice: killed, then reaped
 * with WNOHANG; one not gone yet stays in its slot, retried by
 * procdom_spawner_tick, reaped by destroy at the latest). A child a
 * template makes for a request is in no slot the kernel writes: the
 * spawner stores the pid the template answers in the request's slot, then
 * replies (SPAWNER_REP_FORKED). That pid is the template's word, and a
 * template runs the guest's code (its constructors): the host believes it
 * only for a child of its own that nobody was told of (not the spawner,
 * in no other slot, unknown to opts.known), and destroy kills a slot's
 * pid only if it is such a child. A pid the host does not believe fails
 * that request alone (-EPROTO): the host tells the spawner (a refusal),
 * which bans the program and gives its template up, and sweeps.
 *
 *   page: slots[0..63] requests | slots[64..79] templates | busy count
 *
 * The crash window. A template killed between its clone and its answer
 * leaves a child -- the host's, by CLONE_PARENT -- that nobody was told
 * of, holding the request's fds. It cannot be found through the template
 * (never trusted, and gone), so the host looks at what the kernel says
 * are its children (procdom_children.h: /proc/self/task/TID/children, its
 * own unreaped children only, so no pid there is a stranger's or reused)
 * and kills and reaps every one it does not know: not the spawner, not in
 * a slot, not one opts.known names (its domains' processes, its dom0
 * services). It does so after a notice that a template was lost with a
 * request in flight (STANDBY_NOTE_INFLIGHT; that request fails) or may
 * have lied (STANDBY_NOTE_SWEEP, a refused answer), and in
 * procdom_spawner_destroy (and procdom_destroy: procdom_spawn.c). One
 * race is left to close: the kernel lists a new child before clone()
 * stores its pid in the slot, so a look during a spawner's clone would see
 * a child nobody knows yet. So the spawner keeps a busy count in the page,
 * odd from before each clone (its own, or a request to the template) until
 * the pid is in its slot; the host's look counts only if the count was
 * even and unchanged across it (a seqlock's read), else it is tried again
 * at the next answer or tick (for SPAWNER_SWEEP_TICKS at most, then given
 * up, logged: the final sweep still comes). A look repeats while it finds
 * children to kill (procdom_children_sweep): one cloned between a list
 * and its kill escapes that pass. The template's own children need no
 * more care: it was killed before the notice, and a process with SIGKILL
 * pending can no longer fork (the kernel checks under the lock the kill
 * takes), so all it made are listed by then.
 *
 *   spawner: busy++ (odd) ─ send ─ template: clone ─ answer ─ slot = pid ─ busy++
 *   host:    b = busy (even?) ─ list children ─ drop the known ─ busy == b? kill
 *
 * The sweep rests on the kernel listing children (CONFIG_PROC_CHILDREN):
 * without it the spawner turns templates off when it starts (logged once),
 * so that no child can exist that only a sweep would find.
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procdom_children.h"
#include "procdom_proto.h"
#include "procdom_spawner.h"
#include "procdom_standby.h"

extern char **environ;

#define SPAWNER_FD 127		  /* the spawner's end of the socket */
#define SPAWNER_FD_BASE 128	  /* moved fds and the held log live at or above this */
#define SPAWNER_MAX_ARGS 256	  /* argv entries */
#define SPAWNER_MAX_ENV 4096	  /* environment entries passed on */
#define SPAWNER_STACK (64 * 1024) /* the child's, until its exec */
#define SPAWNER_PATH_MAX 4096

struct spawner_req {
	uint32_t seq;
	uint32_t nr_fds;
	uint32_t argc;
	uint32_t strings_len;
};

struct spawner_rep {
	uint32_t seq; /* 0: a notice (top) */
	int32_t err;
	int32_t pid;
	uint32_t note; /* a notice's STANDBY_NOTE_*; a reply's SPAWNER_REP_* */
};

/* A reply's pid is the template's word, not the kernel's (top). */
#define SPAWNER_REP_FORKED 1u

struct procdom_spawner {
	pid_t pid;
	int fd;
	uint32_t seq;
	unsigned int nr_out;	  /* requests sent, replies not taken */
	pid_t *slots;		  /* shared page: [SPAWNER_NR_SLOTS + STANDBY_NR_SLOTS] (top) */
	uint32_t reap_due;	  /* bit i: template slot i holds one given up, killed, unreaped */
	bool sweep_due;		  /* a sweep is owed (top: "The crash window") */
	unsigned int sweep_tries; /* looks at it that did not finish */
	struct procdom_sweep sweep; /* its state between looks */
	struct procdom_spawner_opts opts;
};

/* A sweep owed is looked at with each answer and tick (~10 ms apart in
 * xenon-hvd's loop), and given up (logged) after this many unfinished
 * looks: the spawner busy all along, or children killed and never ended. */
#define SPAWNER_SWEEP_TICKS 1000
#define SPAWNER_NR_SLOTS 64
#define SPAWNER_ALL_SLOTS (SPAWNER_NR_SLOTS + STANDBY_NR_SLOTS)
#define SPAWNER_SLOTS_SIZE 4096
_Static_assert(PROCDOM_SPAWNER_MAX_INFLIGHT < SPAWNER_NR_SLOTS, "a slot per request (top)");
_Static_assert(SPAWNER_ALL_SLOTS * sizeof(pid_t) + sizeof(uint32_t) <= SPAWNER_SLOTS_SIZE,
	       "the slots and the busy count fit their page");
_Static_assert(SPAWNER_MAX_ARGS <= STANDBY_MAX_ARGS, "a standby takes every argv");
_Static_assert(PROCDOM_STANDBY_FD_MIN < SPAWNER_FD, "the standby's socket is below ours");
_Static_assert(STANDBY_NR_SLOTS <= 32, "reap_due has a bit per template slot");

static pid_t *spawner_slot(pid_t *slots, uint32_t seq)
{
	return &slots[seq % SPAWNER_NR_SLOTS];
}

/* The busy count (procdom_standby.h) lives after the slots. */
static uint32_t *spawner_busy_word(pid_t *slots)
{
	return (uint32_t *)(slots + SPAWNER_ALL_SLOTS);
}

union spawner_cmsg {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(sizeof(int) * PROCDOM_SPAWNER_MAX_FDS)];
};

/* ---- the spawner process ------------------------------------------------ */

/* The spawner's state, in its own process only. */
struct spawner_state {
	char *buf; /* request: header + strings */
	char **env_base;
	unsigned int nr_env;
	char **envp; /* nr_env + 2 */
	char *argv[SPAWNER_MAX_ARGS + 1];
	const char *entry, *log_path, *next_log_path; /* in buf, this request's */
	char held_path[SPAWNER_PATH_MAX];	      /* the log opened ahead ... */
	int held_fd;				      /* ... and its fd, or -1 */
	void *stack;
	pid_t *slots;	/* shared with the host: where clone() stores pids */
	uint32_t *busy; /* shared with the host: the busy count (procdom_standby.h) */
	bool standby_on;
	struct standby sb;
	/* Which program's template answered seq (a refusal names seq). */
	struct {
		uint32_t seq;
		struct standby_ident id;
	} forked[SPAWNER_NR_SLOTS];
};

/*
 * The one child routine (a domain's process, a template): until its exec
 * it runs on the spawner's memory with every signal blocked (the
 * spawner's mask), so no handler can run there; the spawner has none.
 */
static int spawner_child(void *arg)
{
	struct spawner_job *j = arg;
	unsigned int i;
	sigset_t none;

	if (setpgid(0, 0) < 0)
		goto fail;
	if (j->out_fd >= 0 && (dup2(j->out_fd, 1) < 0 || dup2(j->out_fd, 2) < 0))
		goto fail;
	for (i = 0; j->fds && i < j->nr_fds; i++)
		if (dup2(j->fds[i], PROCDOM_SPAWNER_FIRST_FD + (int)i) < 0)
			goto fail;
	if (j->sock_fd >= 0 && dup2(j->sock_fd, j->sock_at) < 0)
		goto fail;
	/* Kept across the exec. */
	if (j->pdeathsig && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(j->argv[0], j->argv, j->envp);
fail:
	j->err = errno ? errno : EINVAL;
	_exit(127);
}

int spawner_clone_job(struct spawner_job *j, void *stack_top, pid_t *slot, uint32_t *busy,
		      pid_t *ret_pid)
{
	pid_t pid;
	int err;

	spawner_busy_begin(busy);
	pid = clone(spawner_child, stack_top,
		    CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PARENT_SETTID | SIGCHLD, j, slot);
	err = pid < 0 ? -errno : 0;
	spawner_busy_end(busy);
	*ret_pid = pid < 0 ? 0 : pid;
	if (err)
		return err;
	return j->err ? -j->err : 0;
}

/* env_entry's name replaces any entry of ours with the same name; an
 * XENON_STANDBY of ours would make the child a standby: never passed on. */
static void spawner_envp(struct spawner_state *s, char *entry)
{
	static const char standby[] = PROCDOM_STANDBY_ENV "=";
	size_t name = strcspn(entry, "=") + 1;
	unsigned int i, k = 0;

	for (i = 0; i < s->nr_env; i++)
		if (strncmp(s->env_base[i], entry, name) &&
		    strncmp(s->env_base[i], standby, sizeof(standby) - 1))
			s->envp[k++] = s->env_base[i];
	s->envp[k++] = entry;
	s->envp[k] = NULL;
	s->entry = entry;
}

/* Strings: exactly 3 + argc NUL-terminated ones, filling strings_len. */
static int spawner_parse(struct spawner_state *s, const struct spawner_req *r, size_t len)
{
	char *p = s->buf + sizeof(*r), *end = p + r->strings_len;
	unsigned int i;

	if (len != sizeof(*r) + r->strings_len || !r->strings_len || end[-1] != '\0')
		return -EINVAL;
	if (r->argc < 1 || r->argc > SPAWNER_MAX_ARGS)
		return -E2BIG;
	spawner_envp(s, p);
	p += strlen(p) + 1;
	s->log_path = p;
	p += p < end ? strlen(p) + 1 : 0;
	s->next_log_path = p;
	p += p < end ? strlen(p) + 1 : 0;
	for (i = 0; i < r->argc; i++) {
		if (p >= end)
			return -EINVAL;
		s->argv[i] = p;
		p += strlen(p) + 1;
	}
	s->argv[i] = NULL;
	if (p != end || s->argv[0][0] != '/' || !s->log_path[0] ||
	    strlen(s->next_log_path) >= SPAWNER_PATH_MAX)
		return -EINVAL;
	return 0;
}

/* A log opened at fd >= SPAWNER_FD_BASE (fds 3 and up stay free). */
static int spawner_log_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600), high;

	if (fd < 0)
		return -errno;
	high = fcntl(fd, F_DUPFD_CLOEXEC, SPAWNER_FD_BASE);
	close(fd);
	return high < 0 ? -errno : high;
}

/* The held fd if it is this log's, else the log opened now. */
static int spawner_log_open(struct spawner_state *s, const char *path)
{
	int fd;

	if (s->held_fd >= 0 && !strcmp(s->held_path, path)) {
		fd = s->held_fd;
		s->held_fd = -1;
		return fd;
	}
	return spawner_log_create(path);
}

/* After the reply: the next log, so that its creation is off the path. */
static void spawner_log_ahead(struct spawner_state *s, const char *path)
{
	if (!path[0] || (s->held_fd >= 0 && !strcmp(s->held_path, path)))
		return;
	if (s->held_fd >= 0)
		close(s->held_fd);
	s->held_fd = spawner_log_create(path);
	if (s->held_fd >= 0)
		snprintf(s->held_path, sizeof(s->held_path), "%s", path);
}

/* fds NULL: in place (spawner_take_fds). The child's pid lands in seq's
 * slot as it is made (top). */
static int spawner_clone(struct spawner_state *s, uint32_t seq, const int *fds, unsigned int nr,
			 int log_fd, pid_t *ret)
{
	struct spawner_job j = { .argv = s->argv,
				 .envp = s->envp,
				 .out_fd = log_fd,
				 .fds = fds,
				 .nr_fds = nr,
				 .sock_fd = -1 };

	return spawner_clone_job(&j, (char *)s->stack + SPAWNER_STACK, spawner_slot(s->slots, seq),
				 s->busy, ret);
}

/* The template if it fits (procdom_standby.c; *ret_forked), else a fresh
 * child. fds are the received fds (in place or not: the template gets
 * them as they are). */
static int spawner_start(struct spawner_state *s, uint32_t seq, const int *fds, unsigned int nr,
			 bool in_place, pid_t *ret, bool *ret_forked)
{
	int log = spawner_log_open(s, s->log_path), err;

	if (log < 0)
		return log;
	err = -ENOENT;
	if (s->standby_on) {
		struct standby_req r = { s->argv, s->entry, fds, nr, log };

		err = standby_give(&s->sb, &r, spawner_slot(s->slots, seq), ret);
		*ret_forked = !err;
		if (!err) {
			s->forked[seq % SPAWNER_NR_SLOTS].seq = seq;
			s->forked[seq % SPAWNER_NR_SLOTS].id = s->sb.id;
		}
	}
	if (err == -ENOENT)
		err = spawner_clone(s, seq, in_place ? NULL : fds, nr, log, ret);
	close(log);
	return err;
}

/*
 * Received fds: *ret_in_place if fds[i] == 3 + i for all (the usual case,
 * see the top), else moved above every target (-1 where the move failed;
 * then none is left at a target).
 */
static unsigned int spawner_take_fds(struct msghdr *msg, int *fds, bool *ret_in_place)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(msg);
	unsigned int n = 0, i;
	bool in_place = true;

	*ret_in_place = false;
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return 0;
	n = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	for (i = 0; i < n; i++) {
		int fd;

		memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		if (i >= PROCDOM_SPAWNER_MAX_FDS) {
			close(fd); /* more than we take: the request fails on the count */
			continue;
		}
		fds[i] = fd;
		in_place &= fd == PROCDOM_SPAWNER_FIRST_FD + (int)i;
	}
	n = n < PROCDOM_SPAWNER_MAX_FDS ? n : PROCDOM_SPAWNER_MAX_FDS;
	for (i = 0; !in_place && i < n; i++) {
		int fd = fds[i];

		fds[i] = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, SPAWNER_FD_BASE);
		if (fd >= 0)
			close(fd);
	}
	*ret_in_place = in_place;
	return n;
}

static void spawner_serve(struct spawner_state *s, struct msghdr *msg, ssize_t len)
{
	const struct spawner_req *r = (const struct spawner_req *)s->buf;
	int fds[PROCDOM_SPAWNER_MAX_FDS];
	struct spawner_rep rep = { 0, -EINVAL, 0, 0 };
	bool in_place, forked = false;
	unsigned int nr = spawner_take_fds(msg, fds, &in_place), i;
	pid_t pid = 0;

	if ((size_t)len >= sizeof(*r)) {
		rep.seq = r->seq;
		if (msg->msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			rep.err = -EMSGSIZE;
		else if (nr != r->nr_fds || r->nr_fds > PROCDOM_SPAWNER_MAX_FDS)
			rep.err = -EBADF;
		else
			rep.err = spawner_parse(s, r, (size_t)len);
		for (i = 0; i < nr && !rep.err; i++)
			if (fds[i] < 0)
				rep.err = -EMFILE;
		if (!rep.err)
			rep.err = spawner_start(s, r->seq, fds, nr, in_place, &pid, &forked);
		rep.pid = (int32_t)pid;
		rep.note = forked ? SPAWNER_REP_FORKED : 0;
	}
	for (i = 0; i < nr; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	while (send(SPAWNER_FD, &rep, sizeof(rep), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	if (rep.err)
		return;
	/* Off the host's path: the next log, then the next standby. */
	spawner_log_ahead(s, s->next_log_path);
	if (s->standby_on)
		standby_refill(&s->sb, s->argv, s->entry);
}

/* A notice (top): the host reaps, sweeps, logs (procdom_spawner_result). */
static void spawner_notify(void *ctx, pid_t pid, unsigned int note, const char *path,
			   const char *why)
{
	struct {
		struct spawner_rep rep;
		char strings[SPAWNER_PATH_MAX + STANDBY_WHY_MAX];
	} m;
	size_t len = strnlen(path, SPAWNER_PATH_MAX - 1), wlen;

	(void)ctx;
	m.rep = (struct spawner_rep){ 0, 0, (int32_t)pid, note };
	memcpy(m.strings, path, len);
	m.strings[len++] = '\0';
	if (why) {
		wlen = strnlen(why, STANDBY_WHY_MAX - 1);
		memcpy(m.strings + len, why, wlen);
		len += wlen;
		m.strings[len++] = '\0';
	}
	while (send(SPAWNER_FD, &m, sizeof(m.rep) + len, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* The host refused the pid a template answered for seq (top): its program
 * is banned (and its template, if still there, given up). */
static void spawner_refused(struct spawner_state *s, uint32_t seq)
{
	unsigned int i = seq % SPAWNER_NR_SLOTS;

	if (!s->standby_on || !seq || s->forked[i].seq != seq)
		return;
	s->forked[i].seq = 0;
	standby_refused(&s->sb, &s->forked[i].id,
			"xenon-hvd refused its answer: no new child of xenon-hvd's has that pid");
}

/* A refusal: the header alone, all counts 0, no fds. */
static bool spawner_is_refusal(const struct spawner_state *s, const struct msghdr *msg, ssize_t len)
{
	const struct spawner_req *r = (const struct spawner_req *)s->buf;

	return len == (ssize_t)sizeof(*r) && !r->nr_fds && !r->argc && !r->strings_len &&
	       !CMSG_FIRSTHDR(msg);
}

/* Until a request is there; meanwhile the standby's socket, if there is
 * one (it says ready, or it dies), and the standby planned, when due. */
static void spawner_wait(struct spawner_state *s)
{
	for (;;) {
		struct pollfd p[3] = { { SPAWNER_FD, POLLIN, 0 },
				       { -1, POLLIN, 0 },
				       { -1, POLLIN, 0 } };
		int timeout = -1, n;

		if (s->standby_on) {
			standby_tick(&s->sb);
			p[1].fd = standby_fd(&s->sb);
			p[2].fd = standby_pidfd(&s->sb);
			timeout = standby_timeout_ms(&s->sb);
		}
		if (p[1].fd < 0 && timeout < 0)
			return; /* recvmsg waits */
		n = poll(p, 3, timeout);
		if (n < 0 && errno != EINTR)
			_exit(1);
		if (n > 0 && p[1].revents)
			standby_event(&s->sb);
		else if (n > 0 && p[2].revents)
			standby_exited(&s->sb);
		if (n > 0 && p[0].revents)
			return;
	}
}

static __attribute__((noreturn)) void spawner_loop(struct spawner_state *s)
{
	union spawner_cmsg cbuf;

	for (;;) {
		struct iovec iov = { s->buf,
				     sizeof(struct spawner_req) + PROCDOM_SPAWNER_MAX_STRINGS };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = cbuf.buf,
				      .msg_controllen = sizeof(cbuf.buf) };
		ssize_t n;

		spawner_wait(s);
		/* Not close-on-exec: in place, they are the child's (above). */
		n = recvmsg(SPAWNER_FD, &msg, 0);
		if (n == 0)
			_exit(0); /* the host hung up */
		if (n < 0 && errno != EINTR)
			_exit(1);
		if (n > 0 && spawner_is_refusal(s, &msg, n))
			spawner_refused(s, ((const struct spawner_req *)s->buf)->seq);
		else if (n > 0)
			spawner_serve(s, &msg, n);
	}
}

static void spawner_close_from(unsigned int from, unsigned int to)
{
	if (close_range(from, to, 0) < 0) {
		for (; from <= to && from < SPAWNER_FD_BASE * 64; from++)
			close((int)from);
	}
}

/* 0-2 /dev/null, the socket at SPAWNER_FD, nothing else. The socket is
 * moved first, so /dev/null cannot be where it goes. */
static int spawner_fds(int sock)
{
	int null, fd;

	if (sock != SPAWNER_FD && dup3(sock, SPAWNER_FD, O_CLOEXEC) < 0)
		return -1;
	null = open("/dev/null", O_RDWR);
	if (null < 0)
		return -1;
	for (fd = 0; fd < 3; fd++)
		if (null != fd && dup2(null, fd) < 0)
			return -1;
	spawner_close_from(3, SPAWNER_FD - 1);
	spawner_close_from(SPAWNER_FD + 1, ~0U);
	return 0;
}

static int spawner_state_init(struct spawner_state *s, pid_t parent)
{
	unsigned int n = 0;

	while (environ[n] && n < SPAWNER_MAX_ENV)
		n++;
	s->held_fd = -1;
	s->env_base = environ;
	s->nr_env = n;
	s->envp = calloc(n + 2, sizeof(*s->envp));
	s->buf = malloc(sizeof(struct spawner_req) + PROCDOM_SPAWNER_MAX_STRINGS);
	s->stack = mmap(NULL, SPAWNER_STACK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (!s->envp || !s->buf || s->stack == MAP_FAILED)
		return -1;
	if (s->standby_on &&
	    standby_init(&s->sb, s->slots + SPAWNER_NR_SLOTS, s->busy, SPAWNER_STACK,
			 SPAWNER_FD_BASE, s->env_base, s->nr_env, parent, spawner_notify, s) < 0)
		return -1;
	return 0;
}

/* In the forked child: never returns. */
static __attribute__((noreturn)) void spawner_main(int sock, pid_t parent, pid_t *slots,
						   const struct procdom_spawner_opts *opts)
{
	static struct spawner_state s;
	sigset_t all;
	int sig;

	/* Die with the host; if it is already gone, go now. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	prctl(PR_SET_NAME, "xenon-spawner");
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Children inherit ignored signals across exec: none must be. */
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	s.slots = slots;
	s.busy = spawner_busy_word(slots);
	s.standby_on = opts->standby;
	if (spawner_fds(sock) < 0 || spawner_state_init(&s, parent) < 0)
		_exit(1);
	s.sb.rest_ns = (uint64_t)opts->standby_rest_ms * 1000000u;
	spawner_loop(&s);
}

/* ---- the host side -------------------------------------------------------- */

int procdom_spawner_create(struct procdom_spawner **ret_sp)
{
	struct procdom_spawner_opts none = { .standby = false };

	return procdom_spawner_create_opts(ret_sp, &none);
}

static void spawner_log(struct procdom_spawner *sp, bool warn, const char *msg)
{
	if (sp->opts.log)
		sp->opts.log(sp->opts.log_ctx, warn, msg);
}

/* Templates need the sweep, and the sweep needs the kernel to list our
 * children (top): probed once, before the fork. */
static void spawner_probe_children(struct procdom_spawner *sp)
{
	unsigned int n = 0;
	pid_t *pids = NULL;
	char msg[256];
	int err;

	if (!sp->opts.standby)
		return;
	err = procdom_children_list(&pids, &n);
	free(pids);
	if (!err)
		return;
	sp->opts.standby = false;
	snprintf(msg, sizeof(msg),
		 "templates off: the kernel does not list our children (%s; "
		 "/proc/self/task/TID/children needs CONFIG_PROC_CHILDREN), so a child a "
		 "lost template made could not be found: every domain's program starts fresh",
		 strerror(-err));
	spawner_log(sp, true, msg);
}

int procdom_spawner_create_opts(struct procdom_spawner **ret_sp,
				const struct procdom_spawner_opts *opts)
{
	struct procdom_spawner *sp = calloc(1, sizeof(*sp));
	pid_t parent = getpid();
	int sv[2], err;

	if (!sp)
		return -ENOMEM;
	sp->opts = *opts;
	spawner_probe_children(sp);
	sp->slots = mmap(NULL, SPAWNER_SLOTS_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sp->slots == MAP_FAILED)
		goto out_free;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto out_unmap;
	sp->pid = fork();
	if (sp->pid == 0) {
		close(sv[0]);
		spawner_main(sv[1], parent, sp->slots, &sp->opts);
	}
	close(sv[1]);
	if (sp->pid < 0) {
		close(sv[0]);
		goto out_unmap;
	}
	sp->fd = sv[0];
	*ret_sp = sp;
	return 0;

out_unmap:
	err = -errno;
	munmap(sp->slots, SPAWNER_SLOTS_SIZE);
	free(sp);
	return err;
out_free:
	err = -errno;
	free(sp);
	return err;
}

bool procdom_spawner_has_standby(const struct procdom_spawner *sp)
{
	return sp->opts.standby;
}

/* ---- what the host knows, and the sweep ---------------------------------------- */

/* The host's word on pids[] (opts.known zeroes those it knows). */
static void spawner_host_knows(struct procdom_spawner *sp, pid_t *pids, unsigned int n)
{
	if (sp->opts.known && n)
		sp->opts.known(sp->opts.log_ctx, pids, n);
}

/* pids[] minus every child anyone was told of: the spawner, the slots
 * and what the host knows (struct procdom_sweep's known). */
static void spawner_forget_known(void *ctx, pid_t *pids, unsigned int n)
{
	struct procdom_spawner *sp = ctx;
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		if (pids[i] == sp->pid)
			pids[i] = 0;
		for (j = 0; pids[i] && j < SPAWNER_ALL_SLOTS; j++) {
			if (__atomic_load_n(&sp->slots[j], __ATOMIC_SEQ_CST) == pids[i])
				pids[i] = 0;
		}
	}
	spawner_host_knows(sp, pids, n);
}

/* Look (top: "The crash window"); final: the spawner is reaped, so nothing
 * can be in the making, and each one killed is waited for. 0: done. */
static int spawner_sweep(struct procdom_spawner *sp, bool final)
{
	struct procdom_sweep *sw = &sp->sweep;
	int err;

	sw->known = spawner_forget_known;
	sw->ctx = sp;
	sw->busy = final ? NULL : spawner_busy_word(sp->slots);
	sw->block = final;
	err = procdom_children_sweep(sw);
	procdom_sweep_log(sw,
			  final ? "found as the spawner went"
				: "found after a template was lost, failed or lied while it "
				  "served a request",
			  sp->opts.log, sp->opts.log_ctx);
	return err;
}

/* A sweep owed, looked at again; given up once it cannot finish (top). */
static void spawner_sweep_owed(struct procdom_spawner *sp)
{
	char msg[160];
	int err = spawner_sweep(sp, false);

	if (!err || (err == -EAGAIN && ++sp->sweep_tries < SPAWNER_SWEEP_TICKS)) {
		sp->sweep_due = err != 0;
		return;
	}
	snprintf(msg, sizeof(msg),
		 "could not look for children nobody was told of (%s): left for the final sweep",
		 err == -EAGAIN ? "the spawner stayed busy, or they did not end" : strerror(-err));
	spawner_log(sp, true, msg);
	sp->sweep_due = false;
}

/* Owes a sweep from now on (the tries counted afresh). */
static void spawner_sweep_due(struct procdom_spawner *sp)
{
	sp->sweep_due = true;
	sp->sweep_tries = 0;
}

/* Templates given up and not reaped yet, and a sweep owed: done now if
 * they can be, without waiting (the host's loop must not block). A
 * template is killed by its pid alone (procdom_children.h). */
static void spawner_catch_up(struct procdom_spawner *sp)
{
	unsigned int i;

	for (i = 0; sp->reap_due && i < STANDBY_NR_SLOTS; i++) {
		pid_t *slot = &sp->slots[SPAWNER_NR_SLOTS + i], pid = *slot;

		if (!(sp->reap_due & (1u << i)))
			continue;
		if (procdom_children_kill(&pid, 1, 0) == 0) {
			__atomic_store_n(slot, 0, __ATOMIC_SEQ_CST);
			sp->reap_due &= ~(1u << i);
		}
	}
	if (sp->sweep_due)
		spawner_sweep_owed(sp);
}

void procdom_spawner_tick(struct procdom_spawner *sp)
{
	if (sp)
		spawner_catch_up(sp);
}

bool procdom_spawner_owes(const struct procdom_spawner *sp)
{
	return sp && (sp->reap_due || sp->sweep_due);
}

/*
 * Children made for replies we never took, and templates (top): killed,
 * reaped by pid, once each. A pid a template reported is in a slot too,
 * unchecked: only our own children are touched, and none the host knows
 * (a lying template may have named a domain's process). Returns how many
 * were started for requests.
 */
static unsigned int spawner_reap_unanswered(struct procdom_spawner *sp)
{
	pid_t pids[SPAWNER_ALL_SLOTS];
	unsigned int i, j, n = 0;

	for (i = 0; i < SPAWNER_ALL_SLOTS; i++) {
		pids[i] = __atomic_load_n(&sp->slots[i], __ATOMIC_SEQ_CST);
		for (j = 0; j < i && pids[i] > 0; j++) {
			if (pids[j] == pids[i])
				pids[i] = 0;
		}
		if (pids[i] > 0 && !procdom_is_child(pids[i]))
			pids[i] = 0;
	}
	/* Each part on its own: the host may reorder what it is given. */
	spawner_host_knows(sp, pids, SPAWNER_NR_SLOTS);
	spawner_host_knows(sp, pids + SPAWNER_NR_SLOTS, STANDBY_NR_SLOTS);
	for (i = 0; i < SPAWNER_NR_SLOTS; i++)
		n += pids[i] > 0;
	/* A domain's process leads its group. A template's group holds what
	 * its constructors forked (its children, not ours: no sweep of ours
	 * sees them) and maybe a child it made for a reply we never took
	 * (abandoned, as above): all killed with it. */
	procdom_children_kill(pids, SPAWNER_NR_SLOTS, PROCDOM_KILL_BLOCK | PROCDOM_KILL_GROUP);
	procdom_children_kill(pids + SPAWNER_NR_SLOTS, STANDBY_NR_SLOTS,
			      PROCDOM_KILL_BLOCK | PROCDOM_KILL_GROUP);
	memset(sp->slots, 0, SPAWNER_ALL_SLOTS * sizeof(pid_t));
	sp->reap_due = 0;
	return n;
}

unsigned int procdom_spawner_destroy(struct procdom_spawner *sp)
{
	unsigned int n;

	if (!sp)
		return 0;
	close(sp->fd);
	/* Requests still unanswered are abandoned: the kill makes sure. Once
	 * it is reaped, no clone of its can store a pid any more; once the
	 * templates are reaped too, no child of theirs can appear. */
	kill(sp->pid, SIGKILL);
	while (waitpid(sp->pid, NULL, 0) < 0 && errno == EINTR)
		;
	n = spawner_reap_unanswered(sp);
	/* Logged by itself, not counted in n: those were no request's. Only
	 * with templates: without them no such child can exist, and the host
	 * keeps every child it has. */
	if (sp->opts.known && sp->opts.standby)
		spawner_sweep(sp, true);
	munmap(sp->slots, SPAWNER_SLOTS_SIZE);
	free(sp);
	return n;
}

pid_t procdom_spawner_pid(const struct procdom_spawner *sp)
{
	return sp->pid;
}

/* The strings after the header: env_entry, the two log paths, argv. */
struct spawner_strings {
	char *const *argv;
	const char *env_entry, *log_path, *next_log_path;
};

static int spawner_send(struct procdom_spawner *sp, struct spawner_req *req,
			const struct spawner_strings *str, const int *fds)
{
	struct iovec iov[4 + SPAWNER_MAX_ARGS];
	union spawner_cmsg cbuf;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 4 + req->argc };
	size_t cl = sizeof(int) * req->nr_fds;
	struct cmsghdr *c;
	unsigned int i;

	iov[0] = (struct iovec){ req, sizeof(*req) };
	iov[1] = (struct iovec){ (void *)str->env_entry, strlen(str->env_entry) + 1 };
	iov[2] = (struct iovec){ (void *)str->log_path, strlen(str->log_path) + 1 };
	iov[3] = (struct iovec){ (void *)str->next_log_path, strlen(str->next_log_path) + 1 };
	for (i = 0; i < req->argc; i++)
		iov[4 + i] = (struct iovec){ str->argv[i], strlen(str->argv[i]) + 1 };
	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = CMSG_SPACE(cl);
	c = CMSG_FIRSTHDR(&msg);
	*c = (struct cmsghdr){ .cmsg_len = CMSG_LEN(cl),
			       .cmsg_level = SOL_SOCKET,
			       .cmsg_type = SCM_RIGHTS };
	memcpy(CMSG_DATA(c), fds, cl);
	while (sendmsg(sp->fd, &msg, MSG_NOSIGNAL) < 0) {
		if (errno == EPIPE || errno == ECONNRESET)
			return -EPIPE;
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int spawner_req_init(struct spawner_req *req, const struct spawner_strings *str,
			    unsigned int nr_fds)
{
	char *const *argv = str->argv;
	size_t len =
		strlen(str->env_entry) + strlen(str->log_path) + strlen(str->next_log_path) + 3;
	unsigned int argc = 0;

	if (!nr_fds || nr_fds > PROCDOM_SPAWNER_MAX_FDS || !argv || !argv[0] || argv[0][0] != '/' ||
	    !strchr(str->env_entry, '=') || !str->log_path[0] ||
	    strlen(str->next_log_path) >= SPAWNER_PATH_MAX)
		return -EINVAL;
	while (argv[argc]) {
		if (argc == SPAWNER_MAX_ARGS)
			return -E2BIG;
		len += strlen(argv[argc++]) + 1;
		if (len > PROCDOM_SPAWNER_MAX_STRINGS)
			return -E2BIG;
	}
	*req = (struct spawner_req){ 0, nr_fds, argc, (uint32_t)len };
	return 0;
}

int procdom_spawner_submit(struct procdom_spawner *sp, char *const argv[], const char *env_entry,
			   const char *log_path, const char *next_log_path, const int *fds,
			   unsigned int nr_fds, uint32_t *ret_seq)
{
	struct spawner_strings str = { argv, env_entry, log_path,
				       next_log_path ? next_log_path : "" };
	struct spawner_req req;
	int err;

	err = spawner_req_init(&req, &str, nr_fds);
	if (err)
		return err;
	if (sp->nr_out >= PROCDOM_SPAWNER_MAX_INFLIGHT)
		return -EBUSY; /* its slot would still be another's (top) */
	req.seq = ++sp->seq;
	if (!req.seq)
		req.seq = ++sp->seq; /* 0 is nobody's */
	/* The send orders this before the spawner's clone. */
	__atomic_store_n(spawner_slot(sp->slots, req.seq), 0, __ATOMIC_RELAXED);
	err = spawner_send(sp, &req, &str, fds);
	if (err)
		return err;
	sp->nr_out++;
	*ret_seq = req.seq;
	return 0;
}

/*
 * The slot of a reply just taken: the pid the kernel stored must be the
 * one the reply names (none for no child), else -EIO with the slot left
 * for destroy. The reply came after the clone, so its store is visible.
 */
static int spawner_slot_take(struct procdom_spawner *sp, const struct spawner_rep *rep)
{
	pid_t *slot = spawner_slot(sp->slots, rep->seq);
	pid_t made = __atomic_load_n(slot, __ATOMIC_RELAXED);

	if (!sp->nr_out || made != (rep->pid > 0 ? rep->pid : 0))
		return -EIO;
	__atomic_store_n(slot, 0, __ATOMIC_RELAXED);
	sp->nr_out--;
	return 0;
}

/* What became of a template (procdom_standby.h's notes), for the log. */
static const char *spawner_note_what(uint32_t note)
{
	if (note & STANDBY_NOTE_FAILED)
		return "failed a request";
	if (note & STANDBY_NOTE_REFUSED)
		return "refused to be one";
	if (note & STANDBY_NOTE_DIED && note & STANDBY_NOTE_INFLIGHT)
		return "died while it served a request";
	if (note & STANDBY_NOTE_DIED)
		return note & STANDBY_NOTE_SERVED ? "died after it served domains" : "died unused";
	return "discarded";
}

static void spawner_note_log(struct procdom_spawner *sp, pid_t pid, uint32_t note, const char *path,
			     const char *why)
{
	char msg[SPAWNER_PATH_MAX + STANDBY_WHY_MAX + 160], w[STANDBY_WHY_MAX + 4] = "";
	bool banned = note & STANDBY_NOTE_BANNED, warn = banned || (note & STANDBY_NOTE_RESTS);

	if (!sp->opts.log)
		return;
	if (why)
		snprintf(w, sizeof(w), ": %s", why);
	if (note == STANDBY_NOTE_SWEEP)
		snprintf(msg, sizeof(msg),
			 "template of %s (pid %d) could not clone%s: that creation starts fresh",
			 path, (int)pid, w);
	else if (banned && (note & STANDBY_NOTE_DIED) && (note & STANDBY_NOTE_INFLIGHT))
		snprintf(msg, sizeof(msg),
			 "%s: its template died while it served a request twice in a row "
			 "(pid %d last): no template for this program from now on",
			 path, (int)pid);
	else if (banned && (note & STANDBY_NOTE_DIED))
		snprintf(msg, sizeof(msg),
			 "%s: its standby died unused twice in a row (pid %d last): "
			 "no standby for this program from now on",
			 path, (int)pid);
	else if (banned && pid)
		snprintf(msg, sizeof(msg),
			 "%s: a template of it (pid %d) %s%s: no template for this program "
			 "from now on",
			 path, (int)pid, spawner_note_what(note), w);
	else if (banned)
		snprintf(msg, sizeof(msg),
			 "%s: a template of it %s%s: no template for this program from now on",
			 path, spawner_note_what(note), w);
	else
		snprintf(msg, sizeof(msg), "standby of %s (pid %d) %s%s", path, (int)pid,
			 spawner_note_what(note), w);
	sp->opts.log(sp->opts.log_ctx, warn, msg);
}

/* A notice's strings: path\0 [why\0], why printable. */
static int spawner_notice_strings(const char *raw, size_t len, const char **ret_path,
				  const char **ret_why)
{
	size_t plen = strnlen(raw, len), i;
	const char *why = raw + plen + 1;

	if (!plen || plen == len)
		return -EIO;
	*ret_path = raw;
	*ret_why = NULL;
	if (plen + 1 == len)
		return 0;
	if (raw[len - 1] || strlen(why) != len - plen - 2)
		return -EIO;
	for (i = 0; why[i]; i++) {
		if (why[i] < 0x20 || why[i] > 0x7e)
			return -EIO;
	}
	*ret_why = why;
	return 0;
}

/* pid's template slot, or -1 (so a notice never names another process). */
static int spawner_template_slot(const struct procdom_spawner *sp, pid_t pid)
{
	unsigned int i;

	for (i = 0; pid > 0 && i < STANDBY_NR_SLOTS; i++) {
		if (__atomic_load_n(&sp->slots[SPAWNER_NR_SLOTS + i], __ATOMIC_SEQ_CST) == pid)
			return (int)i;
	}
	return -1;
}

/*
 * A notice (procdom_standby.h): a template the spawner gave up, ours to
 * reap -- by the pid it names, and only if that pid is in a template slot
 * (so never another process's). It is killed and reaped if it is gone
 * already, else later (spawner_catch_up; at the latest
 * procdom_spawner_destroy): a process stuck in D state must not hold the
 * host's loop. Its slot is freed once it is reaped (top). One lost with a
 * request in flight, or one that may have lied, owes a sweep.
 *
 * Its process group is killed here (the spawner killed it by its pid
 * only): what a guest constructor forked in it is its child, not ours, so
 * no sweep of ours would find it, and it would outlive xenon-hvd. Safe for
 * the domains it made: replies and notices come in order on one socket, so
 * each reply it was in was taken before this notice, and its child moved
 * to a group of its own then (procdom_spawner_result). The template is not
 * reaped yet, so its group's id cannot have been reused.
 */
static int spawner_notice(struct procdom_spawner *sp, const struct spawner_rep *rep,
			  const char *raw, size_t len)
{
	const char *path, *why;
	int i = spawner_template_slot(sp, rep->pid);

	if (spawner_notice_strings(raw, len, &path, &why))
		return -EIO;
	if (rep->pid == 0 && rep->note == (STANDBY_NOTE_BANNED | STANDBY_NOTE_FAILED)) {
		spawner_note_log(sp, 0, rep->note, path, why);
		return 0;
	}
	if (i < 0 || !(rep->note & (STANDBY_NOTE_GONE | STANDBY_NOTE_SWEEP)))
		return -EIO;
	spawner_note_log(sp, rep->pid, rep->note, path, why);
	if (rep->note & (STANDBY_NOTE_INFLIGHT | STANDBY_NOTE_SWEEP))
		spawner_sweep_due(sp);
	if (rep->note & STANDBY_NOTE_GONE) {
		kill(-rep->pid, SIGKILL);
		sp->reap_due |= 1u << i;
	}
	spawner_catch_up(sp);
	return 0;
}

/* The next reply (a notice is handled on the way); -EAGAIN, or the length. */
static ssize_t spawner_recv_reply(struct procdom_spawner *sp, bool block, struct spawner_rep *ret)
{
	union {
		struct spawner_rep rep;
		char raw[sizeof(struct spawner_rep) + SPAWNER_PATH_MAX + STANDBY_WHY_MAX];
	} m;
	ssize_t n;

	for (;;) {
		while ((n = recv(sp->fd, &m, sizeof(m), block ? 0 : MSG_DONTWAIT)) < 0 &&
		       errno == EINTR)
			;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n <= (ssize_t)sizeof(m.rep) || m.rep.seq != 0)
			break;
		if (spawner_notice(sp, &m.rep, m.raw + sizeof(m.rep), (size_t)n - sizeof(m.rep)))
			return -EIO;
	}
	*ret = m.rep;
	return n;
}

/*
 * A template's child, as it said: believed only if it is a child of ours
 * that nobody was told of (the template is not trusted: guest code ran in
 * it, its constructors).
 */
static bool spawner_forked_ok(struct procdom_spawner *sp, pid_t pid)
{
	if (!procdom_is_child(pid))
		return false;
	spawner_forget_known(sp, &pid, 1);
	return pid != 0;
}

/*
 * Not believed: that request alone fails. The spawner is told (a refusal:
 * it bans the program and gives its template up, with a notice that owes a
 * sweep), and a sweep is owed now too: whatever the template made is
 * nobody's. What it named is left alone (a stranger, or a process the
 * host knows).
 */
static void spawner_refuse(struct procdom_spawner *sp, const struct spawner_rep *rep)
{
	struct spawner_req req = { rep->seq, 0, 0, 0 };
	char msg[160];

	snprintf(msg, sizeof(msg),
		 "a template answered pid %d, no new child of ours: that creation fails",
		 (int)rep->pid);
	spawner_log(sp, true, msg);
	while (send(sp->fd, &req, sizeof(req), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	spawner_sweep_due(sp);
}

int procdom_spawner_result(struct procdom_spawner *sp, bool block, uint32_t *ret_seq,
			   pid_t *ret_pid)
{
	struct spawner_rep rep;
	ssize_t n;

	spawner_catch_up(sp);
	n = spawner_recv_reply(sp, block, &rep);
	if (n == -EAGAIN)
		return -EAGAIN;
	if (n != (ssize_t)sizeof(rep) || (rep.note & ~SPAWNER_REP_FORKED) ||
	    spawner_slot_take(sp, &rep))
		return -EIO; /* gone (0), or not a reply of ours */
	*ret_seq = rep.seq;
	*ret_pid = 0;
	if ((rep.note & SPAWNER_REP_FORKED) && !spawner_forked_ok(sp, rep.pid)) {
		spawner_refuse(sp, &rep);
		return -EPROTO;
	}
	/* The template answers right after its clone: the child may not have
	 * made its own process group yet, and the caller signals the group.
	 * We are its parent and it never execs, so we may do it first (both
	 * doing it is the usual way to close that race). */
	if (rep.note & SPAWNER_REP_FORKED)
		setpgid(rep.pid, rep.pid);
	if (rep.err && rep.pid > 0) {
		/* Created, then failed before its exec: ours to reap. */
		while (waitpid(rep.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (rep.err)
		return rep.err < 0 ? rep.err : -EPROTO;
	if (rep.pid <= 0)
		return -EPROTO;
	*ret_pid = rep.pid;
	return 0;
}

int procdom_spawner_sock(const struct procdom_spawner *sp)
{
	return sp->fd;
}

int procdom_spawner_spawn(struct procdom_spawner *sp, char *const argv[], const char *env_entry,
			  const char *log_path, const char *next_log_path, const int *fds,
			  unsigned int nr_fds, pid_t *ret_pid)
{
	uint32_t seq, got;
	int err;

	err = procdom_spawner_submit(sp, argv, env_entry, log_path, next_log_path, fds, nr_fds,
				     &seq);
	if (err)
		return err;
	err = procdom_spawner_result(sp, true, &got, ret_pid);
	if (err == -EIO || got == seq)
		return err;
	/* Another request's answer: the caller broke the rule (header). A
	 * child started for it is nobody's: killed and reaped. */
	if (!err)
		procdom_children_kill(ret_pid, 1, PROCDOM_KILL_BLOCK | PROCDOM_KILL_GROUP);
	return -EIO;
}
