/*
 * A standby (procdom_proto.h, 1b): the domain's program started before its
 * domain exists, so that the exec and the C library's start-up -- about
 * half a millisecond of a domain's creation on the test machine -- are
 * paid ahead of time, as LightVM prepares domain shells before they are
 * asked for. The spawner keeps one (procdom_spawner.h); this is the
 * process's side, the first boot step (rt_main.c).
 *
 * With fork=1 (what the spawner asks) the standby is a *template*, as
 * Android's zygote: it is never used up. For each request it makes a child
 * that becomes the domain's process, answers the spawner with the child's
 * pid, and waits for the next request:
 *
 *   spawner                                   template (here)
 *     clone + exec, fds 0-2 /dev/null,          PDEATHSIG; parent == ppid?
 *     XENON_STANDBY="fd=67 ppid=P fork=1"       fit? (below); comm "xenon-standby"
 *                   <── 'R' (or 'N' + why) ───  recvmsg on fd 67 ...
 *   (a domain asks for this program)
 *     "XENON_BOOT=..." + [fd0..fdk-1, log] ──►  clone(CLONE_PARENT) ─► child:
 *                                               │   own group (first); close
 *                                               │   67; log -> 1, 2; fd i ->
 *                                               │   3 + i; XENON_BOOT set,
 *                                               │   XENON_STANDBY unset; signal
 *                                               │   mask back; comm back: boot
 *                                               │   as a cold start (whose step
 *                                               │   'parent' sets PDEATHSIG and
 *                                               │   checks ppid, into the log)
 *                               <── {pid} ───   close the fds; recvmsg ...
 *   (xenon-hvd goes, or the template is discarded: EOF or SIGKILL)
 *                                               EOF: exit 0, nothing said
 *
 * Without fork=1 the standby takes the one request itself (it places the
 * fds and boots) and is used up: the older protocol, kept for tests and
 * for a spawner that does not ask for a template.
 *
 * Once placed, nothing tells the guest how it was started: the same argv,
 * environment (getenv; environ in the same order, XENON_BOOT last), fds,
 * process group, signal state and comm as a cold start. Only
 * /proc/PID/environ, which the kernel fixed at the exec, still shows
 * XENON_STANDBY instead of XENON_BOOT.
 *
 * The child is xenon-hvd's (it reaps it, watches its pidfd, gets its wait
 * status; its PDEATHSIG follows xenon-hvd): so it is made with a raw clone
 * with CLONE_PARENT, which glibc's fork() cannot pass -- clone3, or where a
 * seccomp profile (Docker's, podman's, nspawn's) or a kernel older than
 * 5.3 says ENOSYS to clone3, the older clone system call with the same
 * flags. A raw clone skips glibc's fork bookkeeping, so the template
 * depends on glibc's internals: it is audited for glibc 2.36 (Debian 12)
 * on x86-64 only, and refuses to be a template when built for or running
 * on anything else (sb_check_libc). What that bookkeeping does and why
 * each part is safe to skip or is redone here (glibc 2.36, posix/fork.c,
 * _Fork.c):
 *
 *  - The child's thread descriptor must hold its own tid: fork passes
 *    CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID with &THREAD_SELF->tid. So
 *    do we, with the address glibc registered for this thread at start-up
 *    (PR_GET_TID_ADDRESS is that field). Without it the child's mutexes
 *    would record the template's tid as their owner.
 *  - The kernel does not copy the robust futex list into a child: fork
 *    empties the child's list and registers it again. We register the
 *    template's head again (get_robust_list before, set_robust_list in the
 *    child); the list must be empty, and is checked to be before 'R': a
 *    constructor that holds a robust mutex makes this refuse.
 *  - Atfork handlers (pthread_atfork) are not run: a documented difference
 *    (docs/process-domains.md, "Standby"). Nothing of ours registers one.
 *  - Locks fork takes around the clone (malloc arenas, stdio's list, NSS,
 *    the dynamic loader's, abort's) and resets in the child: we clone only
 *    here, in a single-threaded process (checked before 'R': a guest
 *    constructor that started a thread makes this refuse, since forking a
 *    multi-threaded process is unsafe), outside any of them, so each is
 *    free in the template and in the copy.
 *  - Other threads' stacks and thread-library counters (reclaim_stacks,
 *    __nptl_nthreads): there are no other threads.
 *  - Signals: fork blocks them around the clone; so do we, and the child
 *    gets the template's mask back once it is in place. Dispositions are
 *    those the program's start-up left, as in a cold start.
 *  - The pid cache: none since glibc 2.25. rseq: the kernel keeps the
 *    registration in a child that does not share memory, as for fork.
 *  - stdio buffers are copied as fork copies them: what the program's
 *    constructors printed and did not flush goes to each domain's log when
 *    it flushes, as a cold start's would (the template's own stdout is
 *    /dev/null), so nothing is flushed before the clone.
 *
 * Why a process cannot be a template (or a standby) is said to the
 * spawner instead of 'R' (procdom_proto.h 1b), so that the operator reads
 * it in xenon-hvd's log: a thread, a robust mutex held, an fd a
 * constructor left where a domain's fds go (each domain's would replace
 * it, silently), no clone allowed, another C library.
 *
 * Everything in a request is checked (size, one NUL-terminated XENON_BOOT
 * entry, 2 to PROCDOM_STANDBY_MAX_FDS + 1 fds). A standby exits 2 with the
 * reason, which goes to the log when the message carried one; a template
 * writes it in the message's log and answers -EINVAL (the spawner then
 * gives it up).
 */
#include "rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef __GLIBC__ /* set by the headers above (features.h) */
#include <gnu/libc-version.h>
#endif

#define SB_SPEC_MAX 64		/* "fd=N ppid=P fork=1" */
#define SB_FD_MAX 65535		/* the socket's number, at most */
#define SB_NAME "xenon-standby" /* comm while waiting: ps and tests see it */
#define SB_NR_KEYS 3

struct sb_msg {
	char buf[PROCDOM_STANDBY_MSG_MAX];
	size_t len;
	int flags; /* recvmsg's msg_flags */
	int fds[PROCDOM_STANDBY_MAX_FDS + 1];
	unsigned int nr_fds; /* received, the log (last) included */
};

union sb_cmsg {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(sizeof(int) * (PROCDOM_STANDBY_MAX_FDS + 1))];
};

/* One "key=value" token of [tok, end) into v[]; seen[] catches twice. */
static int sb_token(const char *tok, const char *end, bool seen[SB_NR_KEYS], long v[SB_NR_KEYS])
{
	static const char *const keys[SB_NR_KEYS] = { "fd", "ppid", "fork" };
	static const long max[SB_NR_KEYS] = { SB_FD_MAX, INT_MAX, 1 };
	const char *eq = memchr(tok, '=', (size_t)(end - tok));
	uint64_t n;
	int k;

	for (k = 0; eq && k < SB_NR_KEYS; k++) {
		if ((size_t)(eq - tok) == strlen(keys[k]) && !memcmp(tok, keys[k], strlen(keys[k])))
			break;
	}
	if (!eq || k == SB_NR_KEYS || seen[k] ||
	    !rt_parse_number(eq + 1, end, (uint64_t)max[k], &n))
		return -EINVAL;
	seen[k] = true;
	v[k] = (long)n;
	return 0;
}

int procdom_standby_parse(const char *s, struct procdom_standby_spec *ret, char *err, size_t errlen)
{
	bool seen[SB_NR_KEYS] = { false, false, false };
	long v[SB_NR_KEYS] = { 0, 0, 0 };
	const char *p = s;

	if (!s || strnlen(s, SB_SPEC_MAX + 1) > SB_SPEC_MAX)
		return rt_parse_fail(err, errlen, "%s: missing or longer than %d bytes",
				     PROCDOM_STANDBY_ENV, SB_SPEC_MAX);
	for (;;) {
		const char *end = strchr(p, ' ');

		end = end ? end : p + strlen(p);
		if (sb_token(p, end, seen, v) < 0)
			return rt_parse_fail(err, errlen, "%s: bad field '%.*s'",
					     PROCDOM_STANDBY_ENV, (int)(end - p), p);
		if (!*end)
			break;
		p = end + 1;
	}
	if (!seen[0] || !seen[1])
		return rt_parse_fail(err, errlen, "%s: want fd= and ppid=", PROCDOM_STANDBY_ENV);
	if (v[0] < PROCDOM_STANDBY_FD_MIN || v[1] < 1)
		return rt_parse_fail(err, errlen, "%s: fd %ld below %d or ppid 0",
				     PROCDOM_STANDBY_ENV, v[0], PROCDOM_STANDBY_FD_MIN);
	*ret = (struct procdom_standby_spec){ (int)v[0], (int)v[1], v[2] == 1 };
	return 0;
}

/*
 * The fds of the message's SCM_RIGHTS (close-on-exec). More than fit --
 * the buffer's rounding may take one or two more than it was sized for --
 * count as cut off (MSG_CTRUNC): the last is then not trusted as the log,
 * and those beyond the array are closed at once (a template lives on).
 */
static void sb_take_fds(struct msghdr *msg, struct sb_msg *m)
{
	struct cmsghdr *c;

	m->nr_fds = 0;
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		unsigned int n = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)), i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nr_fds > PROCDOM_STANDBY_MAX_FDS) {
				m->flags |= MSG_CTRUNC;
				close(fd);
				continue;
			}
			m->fds[m->nr_fds++] = fd;
		}
	}
}

/* 0 a message, 1 EOF, < 0 an error. */
static int sb_receive(int sock, struct sb_msg *m, char *err, size_t errlen)
{
	union sb_cmsg cbuf;
	struct iovec iov = { m->buf, sizeof(m->buf) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf.buf,
			      .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n;

	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n == 0)
		return 1;
	if (n < 0) {
		snprintf(err, errlen, "standby: recvmsg: %s", strerror(errno));
		return -errno;
	}
	m->len = (size_t)n;
	m->flags = msg.msg_flags;
	sb_take_fds(&msg, m);
	return 0;
}

/* The log (the last fd) on 1 and 2 at once, so that what goes wrong after
 * is reported there. Not when fds were cut off: the last is not the log. */
static void sb_place_log(struct sb_msg *m)
{
	int log;

	if (m->nr_fds < 1 || (m->flags & MSG_CTRUNC))
		return;
	log = m->fds[--m->nr_fds];
	if (dup2(log, 1) >= 0)
		dup2(log, 2);
	close(log);
}

/* nr_domain: the domain's fds in m (the log not counted). */
static int sb_check(const struct sb_msg *m, unsigned int nr_domain, char *err, size_t errlen)
{
	static const char prefix[] = PROCDOM_BOOT_ENV "=";

	if (m->flags & MSG_TRUNC)
		return rt_parse_fail(err, errlen, "standby: message longer than %d bytes",
				     PROCDOM_STANDBY_MSG_MAX);
	if (m->flags & MSG_CTRUNC)
		return rt_parse_fail(err, errlen, "standby: more than %d fds",
				     PROCDOM_STANDBY_MAX_FDS + 1);
	if (nr_domain < 1 || nr_domain > PROCDOM_STANDBY_MAX_FDS)
		return rt_parse_fail(err, errlen,
				     "standby: %u domain fds and a log, want 1..%d and a log",
				     nr_domain, PROCDOM_STANDBY_MAX_FDS);
	if (!m->len || m->buf[m->len - 1] || strlen(m->buf) != m->len - 1)
		return rt_parse_fail(err, errlen,
				     "standby: the payload is not one NUL-terminated string");
	if (strncmp(m->buf, prefix, sizeof(prefix) - 1))
		return rt_parse_fail(err, errlen, "standby: the payload is not %s...", prefix);
	return 0;
}

/*
 * fd i to 3 + i. Usually they arrived there (the lowest free fds: nothing
 * is open in [3, PROCDOM_STANDBY_FD_MIN), checked before 'R'); else each
 * is first moved above every target and the socket, so no dup2 can
 * overwrite one not yet placed.
 */
static int sb_place_fds(struct sb_msg *m, int sock, char *err, size_t errlen)
{
	unsigned int i;
	bool in_place = true;

	for (i = 0; i < m->nr_fds; i++)
		in_place &= m->fds[i] == 3 + (int)i;
	for (i = 0; !in_place && i < m->nr_fds; i++) {
		int high = fcntl(m->fds[i], F_DUPFD_CLOEXEC, sock + 1);

		close(m->fds[i]);
		m->fds[i] = high;
		if (high < 0)
			return rt_parse_fail(err, errlen, "standby: moving fds: %s",
					     strerror(errno));
	}
	for (i = 0; !in_place && i < m->nr_fds; i++) {
		if (dup2(m->fds[i], 3 + (int)i) < 0)
			return rt_parse_fail(err, errlen, "standby: dup2: %s", strerror(errno));
		close(m->fds[i]);
	}
	close(sock);
	return 0;
}

/* The environment a cold start has: XENON_BOOT appended, no XENON_STANDBY
 * (the exec's environment had it last, where XENON_BOOT now goes). */
static int sb_env(const struct sb_msg *m, char *err, size_t errlen)
{
	if (unsetenv(PROCDOM_STANDBY_ENV) < 0 ||
	    setenv(PROCDOM_BOOT_ENV, m->buf + sizeof(PROCDOM_BOOT_ENV), 1) < 0)
		return rt_parse_fail(err, errlen, "standby: setenv: %s", strerror(errno));
	return 0;
}

/* One message to the spawner: 'R', or 'N' and why (printable, capped:
 * procdom_proto.h 1b; our reasons are, strerror's too, but be sure). */
static int sb_say(int sock, char what, const char *why)
{
	char buf[1 + PROCDOM_STANDBY_REASON_MAX];
	size_t len = why ? strnlen(why, PROCDOM_STANDBY_REASON_MAX) : 0, i;
	ssize_t n;

	buf[0] = what;
	for (i = 0; i < len; i++)
		buf[1 + i] = why[i] >= 0x20 && why[i] < 0x7f ? why[i] : '?';
	while ((n = send(sock, buf, 1 + len, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == (ssize_t)(1 + len) ? 0 : -errno;
}

/* ---- can this process be one? ------------------------------------------------ */

/* Nothing open where a request's fds go: each domain's would replace it
 * (sb_place_fds), silently, under the guest code that opened it. */
static int sb_check_fd_range(char *err, size_t errlen)
{
	int fd;

	for (fd = 3; fd < PROCDOM_STANDBY_FD_MIN; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			return rt_parse_fail(err, errlen,
					     "standby: fd %d is open (a constructor opened it?), "
					     "where a domain's fds go (3..%d)",
					     fd, PROCDOM_STANDBY_FD_MIN - 1);
	}
	return 0;
}

int procdom_standby_check_libc(int major, int minor, const char *running, char *err, size_t errlen)
{
	if (major < 0)
		return rt_parse_fail(err, errlen,
				     "standby: fork=1 mimics glibc 2.36's fork (audited); this "
				     "runtime was built for another C library than glibc");
	if (major != 2 || minor != 36)
		return rt_parse_fail(err, errlen,
				     "standby: fork=1 mimics glibc 2.36's fork (audited); this "
				     "runtime was built for another C library (%d.%d)",
				     major, minor);
	if (!running || strcmp(running, "2.36"))
		return rt_parse_fail(err, errlen,
				     "standby: fork=1 mimics glibc 2.36's fork (audited); this "
				     "process runs glibc %s",
				     running ? running : "(unknown)");
	return 0;
}

/* The machine and the C library the raw clone is audited for (top): each
 * refusal says which of the two does not match. */
static int sb_check_libc(char *err, size_t errlen)
{
#if !defined(__x86_64__)
	return rt_parse_fail(err, errlen,
			     "standby: fork=1's raw clone is audited for x86-64 only; this "
			     "runtime was built for another machine");
#elif defined(__GLIBC__)
	return procdom_standby_check_libc(__GLIBC__, __GLIBC_MINOR__, gnu_get_libc_version(), err,
					  errlen);
#else
	return procdom_standby_check_libc(-1, -1, NULL, err, errlen);
#endif
}

/* Threads of this process (/proc/self/status), 0 if unknown. */
static unsigned int sb_threads(void)
{
	char line[128];
	unsigned int n = 0;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f) && sscanf(line, "Threads: %u", &n) != 1)
		;
	if (f)
		fclose(f);
	return n;
}

/* What each child needs to be made as glibc's fork makes one (top). */
struct sb_template {
	int sock;
	int *tid_addr;			      /* glibc's tid field of this (the only) thread */
	struct robust_list_head *robust_head; /* this thread's robust list, registered ... */
	size_t robust_len;		      /* ... again in each child */
	bool clone3;			      /* else the older clone (top) */
	sigset_t mask;			      /* the start-up's: each child's */
	struct sb_msg *msg;		      /* the request being served */
};

/* The robust futex list glibc registered, empty: no robust mutex is held
 * (a child would inherit the lock, not the list entry the kernel needs to
 * release it should the child die holding it). */
static int sb_check_robust(struct sb_template *t, char *err, size_t errlen)
{
	const struct robust_list_head *h;

	if (syscall(SYS_get_robust_list, 0, &t->robust_head, &t->robust_len) < 0)
		return rt_parse_fail(err, errlen, "standby: get_robust_list: %s", strerror(errno));
	h = t->robust_head;
	if (!h || t->robust_len != sizeof(*h))
		return rt_parse_fail(err, errlen, "standby: no robust futex list registered");
	if (h->list.next != &h->list || h->list_op_pending)
		return rt_parse_fail(err, errlen,
				     "standby: its robust futex list is not empty (a constructor "
				     "holds a robust mutex?)");
	return 0;
}

/*
 * Which clone works here: clone3 (a NULL argument of size 0 is refused
 * with EINVAL before anything is made), else the older clone (CLONE_SIGHAND
 * without CLONE_VM: EINVAL, likewise). ENOSYS or EPERM (a seccomp
 * profile's answer) for both: no template.
 */
static int sb_check_clone(struct sb_template *t, char *err, size_t errlen)
{
	int e3, e;

	if (syscall(SYS_clone3, NULL, 0) < 0 && errno == EINVAL) {
		t->clone3 = true;
		return 0;
	}
	e3 = errno;
	t->clone3 = false;
#if defined(__x86_64__)
	if (syscall(SYS_clone, CLONE_SIGHAND, 0UL, NULL, NULL, 0UL) < 0 && errno == EINVAL)
		return 0;
	e = errno;
#else
	e = ENOSYS;
#endif
	return rt_parse_fail(err, errlen, "standby: no clone allowed here (clone3: %s, clone: %s)",
			     strerror(e3), strerror(e));
}

/* Refused (the reason in err) unless the process can be cloned safely. */
static int sb_template_init(struct sb_template *t, char *err, size_t errlen)
{
	unsigned int threads = sb_threads();
	int rc;

	if (threads != 1)
		return rt_parse_fail(
			err, errlen,
			"standby: fork=1 needs a single-threaded process, this one has "
			"%u threads (a constructor started one?)",
			threads);
	rc = sb_check_libc(err, errlen);
	if (!rc && prctl(PR_GET_TID_ADDRESS, &t->tid_addr) < 0)
		rc = rt_parse_fail(err, errlen, "standby: PR_GET_TID_ADDRESS: %s", strerror(errno));
	if (!rc && !t->tid_addr)
		rc = rt_parse_fail(err, errlen, "standby: no tid address registered");
	if (!rc)
		rc = sb_check_robust(t, err, errlen);
	if (!rc)
		rc = sb_check_clone(t, err, errlen);
	sigprocmask(SIG_SETMASK, NULL, &t->mask);
	return rc;
}

/* ---- the template (fork=1) ------------------------------------------------- */

/*
 * The child is xenon-hvd's (CLONE_PARENT) and holds its own tid in glibc's
 * thread descriptor (top). exit_signal stays 0: with CLONE_PARENT the
 * child's exit signal is not the caller's choice but the template's own
 * (SIGCHLD: the spawner cloned it so) -- clone ignores the one passed,
 * clone3 refuses any but 0. 0 in the child.
 */
static pid_t sb_clone(struct sb_template *t)
{
	const uint64_t flags = CLONE_PARENT | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	struct clone_args ca;
	long pid;

	if (t->clone3) {
		memset(&ca, 0, sizeof(ca));
		ca.flags = flags;
		ca.child_tid = (uint64_t)(uintptr_t)t->tid_addr;
		pid = syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid >= 0 || errno != ENOSYS)
			return (pid_t)pid;
		t->clone3 = false; /* a filter added since: the older one from now on */
	}
#if defined(__x86_64__)
	/* x86-64's argument order: flags, stack (0: this one, copied), parent
	 * tid, child tid, tls. */
	return (pid_t)syscall(SYS_clone, (unsigned long)flags, 0UL, NULL, t->tid_addr, 0UL);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * In the child: its own process group first (the host signals domains by
 * group, and the template may be killed by pid at any moment: until this,
 * the child is in the template's group), then everything a cold start has,
 * then back into the boot, whose step 'parent' sets PDEATHSIG and checks
 * the parent -- with the log in place, so a child whose xenon-hvd is gone
 * says so there.
 */
static int sb_child(const struct sb_template *t, char *err, size_t errlen)
{
	int pg = setpgid(0, 0) < 0 ? errno : 0, rc;
	struct sb_msg *m = t->msg;

	syscall(SYS_set_robust_list, t->robust_head, t->robust_len);
	sb_place_log(m);
	rc = sb_place_fds(m, t->sock, err, errlen); /* closes the socket */
	if (!rc)
		rc = sb_env(m, err, errlen);
	if (!rc && pg)
		rc = rt_parse_fail(err, errlen, "standby: setpgid: %s", strerror(pg));
	sigprocmask(SIG_SETMASK, &t->mask, NULL);
	return rc; /* the comm: procdom_standby_wait */
}

static void sb_close_fds(struct sb_msg *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_fds; i++)
		close(m->fds[i]);
	m->nr_fds = 0;
}

/* The spawner waits for this: a pid, or -errno. false: it is gone. */
static bool sb_answer(int sock, int32_t v)
{
	ssize_t n;

	while ((n = send(sock, &v, sizeof(v), MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(v);
}

/* A request that cannot be right: the reason in its log (if it has a
 * trustworthy one: not when fds were cut off), -EINVAL to the spawner. */
static void sb_refuse(struct sb_msg *m, const char *why)
{
	if (m->nr_fds && !(m->flags & MSG_CTRUNC))
		dprintf(m->fds[m->nr_fds - 1], "xenon-rt: boot failed at 'standby': %s\n", why);
}

/*
 * Where a request leaves us. The child's result and the template's are
 * kept apart: the child's boot error must reach its log, whatever its
 * number, and never read as the template's "the spawner is gone".
 */
enum sb_turn {
	SB_NEXT,  /* the template: wait for the next request */
	SB_STOP,  /* the template: the spawner is gone, exit quietly */
	SB_CHILD, /* the child: boot on (or fail) with *ret_child_rc */
};

static enum sb_turn sb_serve(struct sb_template *t, int *ret_child_rc, char *err, size_t errlen)
{
	char why[RT_ERR_LEN];
	sigset_t all;
	pid_t pid;

	if (sb_check(t->msg, t->msg->nr_fds ? t->msg->nr_fds - 1 : 0, why, sizeof(why))) {
		sb_refuse(t->msg, why);
		sb_close_fds(t->msg);
		return sb_answer(t->sock, -EINVAL) ? SB_NEXT : SB_STOP;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	pid = sb_clone(t);
	if (pid == 0) {
		*ret_child_rc = sb_child(t, err, errlen);
		return SB_CHILD;
	}
	if (pid < 0)
		pid = -errno;
	sigprocmask(SIG_SETMASK, &t->mask, NULL);
	sb_close_fds(t->msg);
	return sb_answer(t->sock, (int32_t)pid) ? SB_NEXT : SB_STOP;
}

/* Requests until EOF: 1 (EOF, the spawner gone) or < 0 (an error) in the
 * template; in a child, its result (0: boot on). */
static int sb_template_loop(struct sb_template *t, char *err, size_t errlen)
{
	int rc, child_rc = 0;

	for (;;) {
		rc = sb_receive(t->sock, t->msg, err, errlen);
		if (rc)
			return rc;
		switch (sb_serve(t, &child_rc, err, errlen)) {
		case SB_CHILD:
			return child_rc;
		case SB_STOP:
			return 1;
		case SB_NEXT:
			break;
		}
	}
}

/* ---- both ---------------------------------------------------------------------- */

/* Used up: this process takes the one request. */
static int sb_take_one(int sock, struct sb_msg *m, char *err, size_t errlen)
{
	int rc = sb_receive(sock, m, err, errlen);

	if (rc)
		return rc;
	sb_place_log(m);
	rc = sb_check(m, m->nr_fds, err, errlen);
	if (!rc)
		rc = sb_place_fds(m, sock, err, errlen);
	if (!rc)
		rc = sb_env(m, err, errlen);
	return rc;
}

/* Whether this process can be what the spec asks; why not in err. */
static int sb_fit(struct sb_template *t, bool fork, char *err, size_t errlen)
{
	int rc = sb_check_fd_range(err, errlen);

	if (!rc && fork)
		rc = sb_template_init(t, err, errlen);
	return rc;
}

int procdom_standby_wait(const struct procdom_standby_spec *spec, char *err, size_t errlen)
{
	static struct sb_msg m; /* 2 KiB: off the stack of main() */
	static struct sb_template t;
	char comm[16] = "";
	int rc;

	t = (struct sb_template){ .sock = spec->fd, .msg = &m };
	rc = sb_fit(&t, spec->fork, err, errlen);
	if (rc) {
		sb_say(spec->fd, PROCDOM_STANDBY_REFUSE, err); /* best effort: we exit */
		return rc;
	}
	prctl(PR_GET_NAME, comm);
	prctl(PR_SET_NAME, SB_NAME);
	rc = sb_say(spec->fd, PROCDOM_STANDBY_READY, NULL);
	if (rc == -EPIPE || rc == -ECONNRESET)
		return 1; /* the spawner is gone already */
	if (rc < 0)
		return rt_parse_fail(err, errlen, "standby: send: %s", strerror(-rc));
	if (spec->fork)
		rc = sb_template_loop(&t, err, errlen);
	else
		rc = sb_take_one(spec->fd, &m, err, errlen);
	prctl(PR_SET_NAME, comm);
	return rc;
}
