/*
 * The spawner (procdom_spawner.h has the why and the picture).
 *
 * One request, one reply, one at a time on a SOCK_SEQPACKET socketpair:
 *
 *   request  struct spawner_req, then strings_len bytes of strings:
 *            env_entry\0 log_path\0 next_log_path\0 argv[0]\0 ... argv[argc-1]\0
 *            SCM_RIGHTS: fds[0], ..., fds[nr_fds-1]
 *   reply    struct spawner_rep {seq, err (0 or -errno), pid, note 0}
 *   notice   struct spawner_rep {0, 0, pid, note STANDBY_NOTE_*}, then the
 *            standby's argv[0]\0: a standby given up (procdom_standby.c),
 *            for the host to reap; sent between replies, whenever it happens
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
 * Standbys have slots of their own after those (STANDBY_NR_SLOTS): the
 * standby's clone stores its pid there; the spawner moves it to a
 * request's slot when it gives the standby that request (request's slot
 * first, then its own cleared, then the reply), and the host zeroes it
 * when it has reaped a standby given up. So every standby the host has
 * not reaped and not been told of as a domain's process is in a slot.
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
	uint32_t note; /* a notice's STANDBY_NOTE_* */
};

struct procdom_spawner {
	pid_t pid;
	int fd;
	uint32_t seq;
	unsigned int nr_out; /* requests sent, replies not taken */
	pid_t *slots;	     /* shared page: [SPAWNER_NR_SLOTS + STANDBY_NR_SLOTS] (top) */
	struct procdom_spawner_opts opts;
};

#define SPAWNER_NR_SLOTS 64
#define SPAWNER_ALL_SLOTS (SPAWNER_NR_SLOTS + STANDBY_NR_SLOTS)
#define SPAWNER_SLOTS_SIZE 4096
_Static_assert(PROCDOM_SPAWNER_MAX_INFLIGHT < SPAWNER_NR_SLOTS, "a slot per request (top)");
_Static_assert(SPAWNER_ALL_SLOTS * sizeof(pid_t) <= SPAWNER_SLOTS_SIZE, "the slots fit their page");
_Static_assert(SPAWNER_MAX_ARGS <= STANDBY_MAX_ARGS, "a standby takes every argv");
_Static_assert(PROCDOM_STANDBY_FD_MIN < SPAWNER_FD, "the standby's socket is below ours");

static pid_t *spawner_slot(pid_t *slots, uint32_t seq)
{
	return &slots[seq % SPAWNER_NR_SLOTS];
}

union spawner_cmsg {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(sizeof(int) * PROCDOM_SPAWNER_MAX_FDS)];
};

/* ---- the spawner process ------------------------------------------------ */

/* What the child needs; err is written by the child (shared memory).
 * fds NULL: they are in place already. */
struct spawner_job {
	char **argv, **envp;
	int out_fd;
	const int *fds;
	unsigned int nr_fds;
	volatile int err;
};

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
	pid_t *slots; /* shared with the host: where clone() stores pids */
	bool standby_on;
	struct standby sb;
};

static int spawner_child(void *arg)
{
	struct spawner_job *j = arg;
	unsigned int i;
	sigset_t none;

	if (setpgid(0, 0) < 0 || dup2(j->out_fd, 1) < 0 || dup2(j->out_fd, 2) < 0)
		goto fail;
	for (i = 0; j->fds && i < j->nr_fds; i++)
		if (dup2(j->fds[i], PROCDOM_SPAWNER_FIRST_FD + (int)i) < 0)
			goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(j->argv[0], j->argv, j->envp);
fail:
	j->err = errno ? errno : EINVAL;
	_exit(127);
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
	struct spawner_job j = { .argv = s->argv, .envp = s->envp, .fds = fds, .nr_fds = nr };
	pid_t pid;

	j.out_fd = log_fd;
	pid = clone(spawner_child, (char *)s->stack + SPAWNER_STACK,
		    CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PARENT_SETTID | SIGCHLD, &j,
		    spawner_slot(s->slots, seq));
	if (pid < 0)
		return -errno;
	*ret = pid;
	return j.err ? -j.err : 0;
}

/* The standby if it fits (procdom_standby.c), else a fresh child. fds are
 * the received fds (in place or not: the standby gets them as they are). */
static int spawner_start(struct spawner_state *s, uint32_t seq, const int *fds, unsigned int nr,
			 bool in_place, pid_t *ret)
{
	int log = spawner_log_open(s, s->log_path), err;

	if (log < 0)
		return log;
	err = -ENOENT;
	if (s->standby_on) {
		struct standby_req r = { s->argv, s->entry, fds, nr, log };

		err = standby_give(&s->sb, &r, spawner_slot(s->slots, seq), ret);
	}
	if (err)
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
	bool in_place;
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
			rep.err = spawner_start(s, r->seq, fds, nr, in_place, &pid);
		rep.pid = (int32_t)pid;
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

/* A standby given up: the host reaps it (procdom_spawner_result). */
static void spawner_notify(void *ctx, pid_t pid, unsigned int note, const char *path)
{
	struct {
		struct spawner_rep rep;
		char path[SPAWNER_PATH_MAX];
	} m;
	size_t len = strnlen(path, sizeof(m.path) - 1);

	(void)ctx;
	m.rep = (struct spawner_rep){ 0, 0, (int32_t)pid, note };
	memcpy(m.path, path, len);
	m.path[len] = '\0';
	while (send(SPAWNER_FD, &m, sizeof(m.rep) + len + 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* Until a request is there; meanwhile the standby's socket, if there is
 * one (it says ready, or it dies), and the standby planned, when due. */
static void spawner_wait(struct spawner_state *s)
{
	for (;;) {
		struct pollfd p[2] = { { SPAWNER_FD, POLLIN, 0 }, { -1, POLLIN, 0 } };
		int timeout = -1, n;

		if (s->standby_on) {
			standby_tick(&s->sb);
			p[1].fd = standby_fd(&s->sb);
			timeout = standby_timeout_ms(&s->sb);
		}
		if (p[1].fd < 0 && timeout < 0)
			return; /* recvmsg waits */
		n = poll(p, 2, timeout);
		if (n < 0 && errno != EINTR)
			_exit(1);
		if (n > 0 && p[1].revents)
			standby_event(&s->sb);
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
		if (n > 0)
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
	    standby_init(&s->sb, s->slots + SPAWNER_NR_SLOTS, SPAWNER_STACK, SPAWNER_FD_BASE,
			 s->env_base, s->nr_env, parent, spawner_notify, s) < 0)
		return -1;
	return 0;
}

/* In the forked child: never returns. */
static __attribute__((noreturn)) void spawner_main(int sock, pid_t parent, pid_t *slots,
						   bool standby)
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
	s.standby_on = standby;
	if (spawner_fds(sock) < 0 || spawner_state_init(&s, parent) < 0)
		_exit(1);
	spawner_loop(&s);
}

/* ---- the host side -------------------------------------------------------- */

int procdom_spawner_create(struct procdom_spawner **ret_sp)
{
	struct procdom_spawner_opts none = { false, NULL, NULL };

	return procdom_spawner_create_opts(ret_sp, &none);
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
	sp->slots = mmap(NULL, SPAWNER_SLOTS_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sp->slots == MAP_FAILED)
		goto out_free;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto out_unmap;
	sp->pid = fork();
	if (sp->pid == 0) {
		close(sv[0]);
		spawner_main(sv[1], parent, sp->slots, opts->standby);
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

static void spawner_kill_reap(pid_t pid)
{
	/* Its group too, if it made one: the id is still its own. */
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Children made for replies we never took, and standbys (top): killed,
 * reaped by pid, once each (a standby being handed over is in two slots).
 * Returns how many were started for requests. */
static unsigned int spawner_reap_unanswered(struct procdom_spawner *sp)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < SPAWNER_ALL_SLOTS; i++) {
		pid_t pid = __atomic_load_n(&sp->slots[i], __ATOMIC_RELAXED);

		if (pid <= 0)
			continue;
		spawner_kill_reap(pid);
		for (j = i; j < SPAWNER_ALL_SLOTS; j++) {
			if (sp->slots[j] == pid)
				sp->slots[j] = 0;
		}
		n += i < SPAWNER_NR_SLOTS;
	}
	return n;
}

unsigned int procdom_spawner_destroy(struct procdom_spawner *sp)
{
	unsigned int n;

	if (!sp)
		return 0;
	close(sp->fd);
	/* Requests still unanswered are abandoned: the kill makes sure. Once
	 * it is reaped, no clone of its can store a pid any more. */
	kill(sp->pid, SIGKILL);
	while (waitpid(sp->pid, NULL, 0) < 0 && errno == EINTR)
		;
	n = spawner_reap_unanswered(sp);
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

static void spawner_note_log(struct procdom_spawner *sp, pid_t pid, uint32_t note, const char *path)
{
	char msg[SPAWNER_PATH_MAX + 160];

	if (!sp->opts.log)
		return;
	if (note & STANDBY_NOTE_BANNED)
		snprintf(msg, sizeof(msg),
			 "%s: its standby died unused twice in a row (pid %d last): "
			 "no standby for this program from now on",
			 path, (int)pid);
	else
		snprintf(msg, sizeof(msg), "standby of %s (pid %d) %s", path, (int)pid,
			 note & STANDBY_NOTE_DIED ? "died unused" : "discarded");
	sp->opts.log(sp->opts.log_ctx, note & STANDBY_NOTE_BANNED, msg);
}

/*
 * A notice: a standby the spawner gave up, ours to reap -- by the pid it
 * names, and only if that pid is in a standby slot (so never another
 * process's); the slot is freed once it is reaped (top).
 */
static int spawner_notice(struct procdom_spawner *sp, const struct spawner_rep *rep,
			  const char *path, size_t len)
{
	unsigned int i;

	if (!len || path[len - 1] || !(rep->note & STANDBY_NOTE_GONE) || rep->pid <= 0)
		return -EIO;
	for (i = SPAWNER_NR_SLOTS; i < SPAWNER_ALL_SLOTS; i++) {
		if (__atomic_load_n(&sp->slots[i], __ATOMIC_RELAXED) != rep->pid)
			continue;
		spawner_kill_reap(rep->pid);
		__atomic_store_n(&sp->slots[i], 0, __ATOMIC_RELAXED);
		spawner_note_log(sp, rep->pid, rep->note, path);
		return 0;
	}
	return -EIO;
}

/* The next reply (a notice is handled on the way); -EAGAIN, or the length. */
static ssize_t spawner_recv_reply(struct procdom_spawner *sp, bool block, struct spawner_rep *ret)
{
	union {
		struct spawner_rep rep;
		char raw[sizeof(struct spawner_rep) + SPAWNER_PATH_MAX];
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

int procdom_spawner_result(struct procdom_spawner *sp, bool block, uint32_t *ret_seq,
			   pid_t *ret_pid)
{
	struct spawner_rep rep;
	ssize_t n = spawner_recv_reply(sp, block, &rep);

	if (n == -EAGAIN)
		return -EAGAIN;
	if (n != (ssize_t)sizeof(rep) || rep.note || spawner_slot_take(sp, &rep))
		return -EIO; /* gone (0), or not a reply of ours */
	*ret_seq = rep.seq;
	*ret_pid = 0;
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
	if (!err) {
		kill(*ret_pid, SIGKILL);
		while (waitpid(*ret_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	return -EIO;
}
