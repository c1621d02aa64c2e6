/*
 * The runtime's standby step (substrate/proc/runtime/rt_standby.c;
 * procdom_proto.h 1b): XENON_STANDBY parsed strictly; then a real guest
 * program (XENON_TEST_GUEST, examples/guests/hello) started by this test
 * as a standby -- its socket at fd 67, stderr a pipe we read -- and fed
 * through that socket: it says ready and is named xenon-standby; EOF ends
 * it quietly (0); a parent that is not the one named ends it quietly (2);
 * bad messages end it with its reason (2), in the log once the message
 * brought one; a good one is placed exactly where a cold start has its
 * fds and its boot goes on as a cold start's, up to the PROCDOM_HC_BOOT
 * request on vCPU 0's socket. One that holds an fd where those go refuses,
 * saying why on the socket. As a template (fork=1): several domains, each
 * our child, in its own group, booting; also where seccomp says ENOSYS to
 * clone3; refused, with the reason on the socket, by a program whose
 * constructor started a thread or holds a robust mutex, or where no clone
 * is allowed; a bad request (too many fds, too) refused, the template
 * keeping nothing of it; a child whose host died says so in its log.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc_environ.h"
#include "ptrace_probe.h"
#include "rt_internal.h"

#define SB_FD PROCDOM_STANDBY_FD_MIN

/* ---- XENON_STANDBY ------------------------------------------------------- */

Test(standby_parse, good)
{
	struct procdom_standby_spec sp;
	char err[RT_ERR_LEN];

	cr_assert_eq(procdom_standby_parse("fd=67 ppid=1", &sp, err, sizeof(err)), 0, "%s", err);
	cr_assert(sp.fd == 67 && sp.ppid == 1 && !sp.fork);
	cr_assert_eq(procdom_standby_parse("ppid=4242 fd=100", &sp, err, sizeof(err)), 0);
	cr_assert(sp.fd == 100 && sp.ppid == 4242 && !sp.fork);
	cr_assert_eq(procdom_standby_parse("fd=67 ppid=9 fork=1", &sp, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert(sp.fd == 67 && sp.ppid == 9 && sp.fork);
	cr_assert_eq(procdom_standby_parse("fork=0 ppid=2 fd=70", &sp, err, sizeof(err)), 0);
	cr_assert(sp.fd == 70 && sp.ppid == 2 && !sp.fork);
	cr_assert_eq(procdom_standby_parse("fork=1 fd=67 ppid=4194304", &sp, err, sizeof(err)), 0);
	cr_assert(sp.fork && sp.ppid == 4194304);
}

Test(standby_parse, strict)
{
	static const char *const bad[] = {
		"",
		"fd=67",
		"ppid=1",
		"fd=67 ppid=1 ",
		" fd=67 ppid=1",
		"fd=67  ppid=1",
		"fd=067 ppid=1",
		"fd=66 ppid=1", /* where a domain fd goes */
		"fd=2 ppid=1",
		"fd=67 ppid=0",
		"fd=67 ppid=-1",
		"fd=67 ppid=1 v=1",
		"fd=67 fd=68 ppid=1",
		"fd=67,ppid=1",
		"FD=67 ppid=1",
		"fd= ppid=1",
		"fd=67 ppid=99999999999",
		"fd=65536 ppid=1",
		"fd=67 ppid=1xyz",
		"fd=67 ppid=1 fd=67 ppid=1 fd=67 ppid=1 fd=67 ppid=1 fd=67 ppid=1 fd=67",
		"fork=1",
		"fd=67 fork=1",
		"fd=67 ppid=1 fork=2",
		"fd=67 ppid=1 fork=01",
		"fd=67 ppid=1 fork=",
		"fd=67 ppid=1 fork=yes",
		"fd=67 ppid=1 fork=1 fork=1",
		"fd=67 ppid=1 fork=1 fork=0",
		"fd=67 ppid=1 FORK=1",
		"fd=67 ppid=1 fork",
		"fd=67 ppid=1 fork=-1",
		"fd=67 ppid=1 fork=1 ",
	};
	struct procdom_standby_spec sp;
	char err[RT_ERR_LEN];
	size_t i;

	cr_assert_lt(procdom_standby_parse(NULL, &sp, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(procdom_standby_parse(bad[i], &sp, err, sizeof(err)), -EINVAL,
			     "accepted '%s'", bad[i]);
		cr_assert_neq(err[0], '\0', "no reason for '%s'", bad[i]);
	}
}

/* A template mimics glibc 2.36's fork: built for, and running, that one. */
Test(standby_libc, only_the_audited_glibc)
{
	char err[RT_ERR_LEN];

	cr_assert_eq(procdom_standby_check_libc(2, 36, "2.36", err, sizeof(err)), 0);
	cr_assert_eq(procdom_standby_check_libc(2, 37, "2.37", err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "built for another C library (2.37)"), "%s", err);
	cr_assert_eq(procdom_standby_check_libc(2, 36, "2.35", err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "runs glibc 2.35"), "%s", err);
	cr_assert_eq(procdom_standby_check_libc(-1, -1, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "another C library than glibc"), "%s", err);
	cr_assert_null(strstr(err, "-1"), "%s", err);
}

/* ---- a guest program as a standby ------------------------------------------- */

struct sb {
	pid_t pid;
	int sock;      /* ours */
	int err_rd;    /* its stderr */
	char comm[32]; /* while it waits */
};

/* The program guest_env names, started by us (so we are its parent) with
 * XENON_STANDBY=spec (and env, if not NULL). extra_fd3: it also holds an
 * fd at 3, where a domain's fds go. */
static void sb_start_prog(struct sb *s, const char *guest_env, const char *spec, bool extra_fd3,
			  const char *env)
{
	const char *guest = getenv(guest_env);
	char entry[96], *argv[] = { (char *)guest, NULL }, *envp[] = { entry, (char *)env, NULL };
	posix_spawn_file_actions_t fa;
	int sv[2], errp[2];

	cr_assert_not_null(guest, "%s not set", guest_env);
	snprintf(entry, sizeof(entry), "XENON_STANDBY=%s", spec);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(pipe2(errp, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	posix_spawn_file_actions_adddup2(&fa, sv[1], SB_FD);
	/* As the spawner makes it: nothing else open (Criterion's own fds
	 * are not close-on-exec). A close of a free fd is no error. */
	for (int fd = 3; fd < SB_FD; fd++)
		posix_spawn_file_actions_addclose(&fa, fd);
	posix_spawn_file_actions_addclosefrom_np(&fa, SB_FD + 1);
	if (extra_fd3)
		posix_spawn_file_actions_addopen(&fa, 3, "/dev/null", O_RDONLY, 0);
	cr_assert_eq(posix_spawn(&s->pid, guest, &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	close(errp[1]);
	s->sock = sv[0];
	s->err_rd = errp[0];
	s->comm[0] = '\0';
}

/* spec NULL: "fd=67 ppid=<us>". */
static void sb_start(struct sb *s, const char *spec, bool extra_fd3)
{
	char own[64];

	snprintf(own, sizeof(own), "fd=%d ppid=%d", SB_FD, (int)getpid());
	sb_start_prog(s, "XENON_TEST_GUEST", spec ? spec : own, extra_fd3, NULL);
}

/* Its ready byte (true), or EOF/nothing within 10 s (false). */
static bool sb_ready(struct sb *s)
{
	struct pollfd p = { s->sock, POLLIN, 0 };
	char c = 0, path[64];
	FILE *f;

	if (poll(&p, 1, 10000) != 1 || recv(s->sock, &c, 1, 0) != 1)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)s->pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(s->comm, sizeof(s->comm), f))
			s->comm[strcspn(s->comm, "\n")] = '\0';
		fclose(f);
	}
	return c == PROCDOM_STANDBY_READY;
}

/* Its one message instead of ready: 'N' and why (10 s at most; "" if
 * none came), why into buf. */
static void sb_refusal(struct sb *s, char *buf, size_t size)
{
	struct pollfd p = { s->sock, POLLIN, 0 };
	char m[1 + PROCDOM_STANDBY_REASON_MAX + 1];
	ssize_t n = 0;

	buf[0] = '\0';
	if (poll(&p, 1, 10000) == 1)
		n = recv(s->sock, m, sizeof(m), 0);
	cr_assert_gt(n, 1, "no refusal");
	cr_assert_eq(m[0], PROCDOM_STANDBY_REFUSE, "said '%c'", m[0]);
	cr_assert_leq(n - 1, PROCDOM_STANDBY_REASON_MAX);
	snprintf(buf, size, "%.*s", (int)(n - 1), m + 1);
}

/* Its exit status; what it wrote on stderr into buf. */
static int sb_wait(struct sb *s, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int status;

	while ((n = read(s->err_rd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	cr_assert_eq(waitpid(s->pid, &status, 0), s->pid);
	close(s->err_rd);
	close(s->sock);
	return status;
}

static void sb_send(struct sb *s, const void *payload, size_t len, const int *fds, unsigned int nr)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 128)];
	} cbuf;
	struct iovec iov = { (void *)payload, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	cr_assert_leq(nr, 128);
	if (nr) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nr);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_len = CMSG_LEN(sizeof(int) * nr);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nr);
	}
	cr_assert_eq(sendmsg(s->sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

static void read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

TestSuite(standby, .timeout = 60);

Test(standby, eof_exits_0_quietly)
{
	char out[512];
	struct sb s;
	int st;

	sb_start(&s, NULL, false);
	cr_assert(sb_ready(&s), "no ready byte");
	cr_assert_str_eq(s.comm, "xenon-standby");
	shutdown(s.sock, SHUT_RDWR);
	st = sb_wait(&s, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	cr_assert_str_eq(out, "", "said: %s", out);
}

Test(standby, wrong_parent_exits_2_quietly)
{
	char out[512], spec[64];
	struct sb s;
	int st;

	snprintf(spec, sizeof(spec), "fd=%d ppid=%d", SB_FD, (int)getppid());
	sb_start(&s, spec, false);
	cr_assert_not(sb_ready(&s), "an orphan said ready");
	st = sb_wait(&s, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	cr_assert_str_eq(out, "", "said: %s", out);
}

Test(standby, bad_spec_exits_2_with_reason)
{
	char out[512];
	struct sb s;
	int st;

	sb_start(&s, "fd=67", false);
	cr_assert_not(sb_ready(&s));
	st = sb_wait(&s, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	cr_assert_not_null(strstr(out, "boot failed at 'standby'"), "said: %s", out);
	cr_assert_not_null(strstr(out, "XENON_STANDBY"), "said: %s", out);
}

/* A message that cannot be right: exit 2 with `want` in the log (a pipe;
 * stderr then stays empty), or on stderr when the message brought no
 * usable log (with_log false). */
static void bad_message(const void *payload, size_t len, unsigned int nr_fds, bool with_log,
			const char *want)
{
	char out[1024], logged[1024];
	int fds[128], logp[2], st;
	unsigned int i;
	struct sb s;

	cr_assert_eq(pipe2(logp, O_CLOEXEC), 0);
	for (i = 0; i < nr_fds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (with_log)
		fds[nr_fds - 1] = logp[1];
	sb_start(&s, NULL, false);
	cr_assert(sb_ready(&s));
	sb_send(&s, payload, len, fds, nr_fds);
	for (i = 0; i < nr_fds; i++)
		close(fds[i]);
	if (!with_log)
		close(logp[1]);
	st = sb_wait(&s, out, sizeof(out));
	read_all(logp[0], logged, sizeof(logged));
	close(logp[0]);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	cr_assert_not_null(strstr(with_log ? logged : out, want), "stderr '%s', log '%s'", out,
			   logged);
	cr_assert_not_null(strstr(with_log ? logged : out, "boot failed at 'standby'"));
	if (with_log)
		cr_assert_str_eq(out, "", "not the log: %s", out);
}

Test(standby, message_without_fds)
{
	static const char boot[] = "XENON_BOOT=v=1";

	bad_message(boot, sizeof(boot), 0, false, "0 domain fds");
}

Test(standby, message_with_a_log_only)
{
	static const char boot[] = "XENON_BOOT=v=1";

	bad_message(boot, sizeof(boot), 1, true, "0 domain fds");
}

Test(standby, payload_not_xenon_boot)
{
	static const char other[] = "XENON_BOOTS=v=1";

	bad_message(other, sizeof(other), 3, true, "is not XENON_BOOT=");
}

Test(standby, payload_not_terminated)
{
	static const char boot[] = "XENON_BOOT=v=1";

	bad_message(boot, sizeof(boot) - 1, 3, true, "NUL-terminated");
}

Test(standby, payload_two_strings)
{
	static const char two[] = "XENON_BOOT=v=1\0X=1";

	bad_message(two, sizeof(two), 3, true, "NUL-terminated");
}

Test(standby, payload_too_long)
{
	static char big[PROCDOM_STANDBY_MSG_MAX + 8];

	memset(big, 'x', sizeof(big));
	memcpy(big, "XENON_BOOT=", 11);
	big[sizeof(big) - 1] = '\0';
	bad_message(big, sizeof(big), 3, true, "longer than");
}

Test(standby, too_many_fds)
{
	static const char boot[] = "XENON_BOOT=v=1";

	/* One more than it takes: cut off, so the last is not trusted as a
	 * log and the reason goes to stderr. */
	bad_message(boot, sizeof(boot), PROCDOM_STANDBY_MAX_FDS + 2, false, "more than");
}

/* ---- the hand-over ------------------------------------------------------------ */

static int memfd_of(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* "0 1 2 ..." of pid's fds below 128, and whether 1 and 2 are the same
 * file as log_ino. */
static void fds_of(pid_t pid, char *buf, size_t size)
{
	char path[64], target[128];
	size_t len = 0;
	int fd;

	buf[0] = '\0';
	for (fd = 0; fd < 128; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strncmp(target, "socket:", 7))
			strcpy(target, "socket");
		else if (!strncmp(target, "pipe:", 5))
			strcpy(target, "pipe");
		len += (size_t)snprintf(buf + len, size - len, "%d:%s ", fd, target);
	}
}

Test(standby, handover)
{
	char boot[512], fds_seen[1024], out[1024], logged[1024], comm[32] = "", path[64];
	int hc[2], logp[2], fds[5], st;
	struct procdom_hc_req req;
	struct pollfd p;
	struct sb s;
	FILE *f;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hc), 0);
	cr_assert_eq(pipe2(logp, O_CLOEXEC), 0);
	fds[0] = memfd_of("xenon-ram", 16 * 4096);
	fds[1] = memfd_of("xenon-evt", 2 * 4096);
	fds[2] = memfd_of("xenon-xen", 4 * 4096);
	fds[3] = hc[1];
	fds[4] = logp[1];
	snprintf(boot, sizeof(boot),
		 "XENON_BOOT=v=1 domid=7 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=16 "
		 "max_gfn=1040 start_info=15 evt_pages=2 xen_pages=4 ppid=%d",
		 (int)getpid());
	sb_start(&s, NULL, false);
	cr_assert(sb_ready(&s));
	sb_send(&s, boot, strlen(boot) + 1, fds, 5);
	close(hc[1]);
	close(logp[1]);
	/* Its boot goes on as a cold start's: PROCDOM_HC_BOOT on vCPU 0's
	 * socket, the one it got at fd 6, and it waits for the answer. */
	p = (struct pollfd){ hc[0], POLLIN, 0 };
	cr_assert_eq(poll(&p, 1, 10000), 1, "no BOOT request");
	cr_assert_eq(recv(hc[0], &req, sizeof(req), 0), (ssize_t)sizeof(req));
	cr_assert_eq(req.op, PROCDOM_HC_BOOT);
	fds_of(s.pid, fds_seen, sizeof(fds_seen));
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)s.pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	kill(s.pid, SIGKILL);
	st = sb_wait(&s, out, sizeof(out));
	close(hc[0]);
	read_all(logp[0], logged, sizeof(logged));
	close(logp[0]);
	cr_assert(WIFSIGNALED(st), "status %#x, log '%s'", st, logged);
	cr_assert_str_eq(comm, "hello\n", "its own name back");
	cr_assert_str_eq(fds_seen,
			 "0:/dev/null 1:pipe 2:pipe 3:/memfd:xenon-ram (deleted) "
			 "4:/memfd:xenon-evt (deleted) 5:/memfd:xenon-xen (deleted) 6:socket ",
			 "fds %s", fds_seen);
	cr_assert_str_eq(logged, "");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

/* Something at fd 3 (a constructor's file, say): a domain's fds go there,
 * so each would replace it under the code that opened it. Refused, why
 * said on the socket and on stderr. */
Test(standby, an_fd_where_domain_fds_go_is_refused)
{
	char out[512], why[256];
	struct sb s;
	int st;

	sb_start(&s, NULL, true);
	sb_refusal(&s, why, sizeof(why));
	cr_assert_not_null(strstr(why, "fd 3 is open"), "said '%s'", why);
	st = sb_wait(&s, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	cr_assert_not_null(strstr(out, "fd 3 is open"), "said: %s", out);
}

/* ---- a template (fork=1) -------------------------------------------------------- */

/* One domain's worth of a request: our ends of its vCPU 0 socket and log. */
struct dom {
	int hc, log_rd, fds[5];
};

static void template_start(struct sb *s, const char *guest_env, const char *env)
{
	char spec[64];

	snprintf(spec, sizeof(spec), "fd=%d ppid=%d fork=1", SB_FD, (int)getpid());
	sb_start_prog(s, guest_env, spec, false, env);
}

/* A request whose XENON_BOOT names host as xenon-hvd; its log the write
 * end of logp (made here if logp[0] < 0). */
static void dom_send_for(struct sb *s, struct dom *d, unsigned int domid, pid_t host, int logp[2])
{
	char boot[512];
	int hc[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hc), 0);
	if (logp[0] < 0)
		cr_assert_eq(pipe2(logp, O_CLOEXEC), 0);
	d->fds[0] = memfd_of("xenon-ram", 16 * 4096);
	d->fds[1] = memfd_of("xenon-evt", 2 * 4096);
	d->fds[2] = memfd_of("xenon-xen", 4 * 4096);
	d->fds[3] = hc[1];
	d->fds[4] = logp[1];
	snprintf(boot, sizeof(boot),
		 "XENON_BOOT=v=1 domid=%u vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=16 "
		 "max_gfn=1040 start_info=15 evt_pages=2 xen_pages=4 ppid=%d",
		 domid, (int)host);
	sb_send(s, boot, strlen(boot) + 1, d->fds, 5);
	for (int i = 0; i < 5; i++)
		close(d->fds[i]);
	d->hc = hc[0];
	d->log_rd = logp[0];
}

static void dom_send(struct sb *s, struct dom *d, unsigned int domid)
{
	int logp[2] = { -1, -1 };

	dom_send_for(s, d, domid, getpid(), logp);
}

/* The template's answer: a pid or -errno (10 s at most). */
static int32_t template_answer(struct sb *s)
{
	struct pollfd p = { s->sock, POLLIN, 0 };
	int32_t v = 0;

	cr_assert_eq(poll(&p, 1, 10000), 1, "no answer");
	cr_assert_eq(recv(s->sock, &v, sizeof(v), 0), (ssize_t)sizeof(v));
	return v;
}

/* Its boot goes on as a cold start's: PROCDOM_HC_BOOT on its vCPU 0. */
static bool dom_booting(struct dom *d)
{
	struct pollfd p = { d->hc, POLLIN, 0 };
	struct procdom_hc_req req;

	return poll(&p, 1, 10000) == 1 && recv(d->hc, &req, sizeof(req), 0) == sizeof(req) &&
	       req.op == PROCDOM_HC_BOOT;
}

/* Field 4 (ppid) or 5 (pgrp) of /proc/PID/stat. */
static int stat_field(pid_t pid, int field)
{
	int v[2] = { -1, -1 };

	cr_assert_eq(proc_stat_ids(pid, &v[0], &v[1]), 0);
	return v[field - 4];
}

static void comm_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, (int)size, f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static void dom_end(struct dom *d, pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	/* Ours to reap: the template made it with CLONE_PARENT. */
	cr_assert_eq(waitpid(pid, &st, __WALL), pid);
	close(d->hc);
	close(d->log_rd);
}

static void template_end(struct sb *s)
{
	char out[512];
	int st;

	shutdown(s->sock, SHUT_RDWR);
	st = sb_wait(s, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x, said %s", st, out);
	cr_assert_str_eq(out, "", "said: %s", out);
}

/* n domains from the template, each checked as a cold start's. */
static void serve_domains(struct sb *s, unsigned int n)
{
	char fds_seen[1024], comm[32];
	pid_t pids[8];
	struct dom d[8];

	cr_assert_leq(n, 8);
	for (unsigned int i = 0; i < n; i++) {
		dom_send(s, &d[i], 7 + i);
		pids[i] = template_answer(s);
		if (pids[i] <= 0) {
			char l[512];
			read_all(d[i].log_rd, l, sizeof(l));
			cr_assert_fail("answer %d, log %s", pids[i], l);
		}
		cr_assert_neq(pids[i], s->pid, "the template itself");
		for (unsigned int k = 0; k < i; k++)
			cr_assert_neq(pids[i], pids[k]);
		cr_assert(dom_booting(&d[i]), "domain %u: no BOOT request", i);
		cr_assert_eq(stat_field(pids[i], 4), getpid(), "its parent is the template's");
		cr_assert_eq(stat_field(pids[i], 5), pids[i], "it leads its own group");
		fds_of(pids[i], fds_seen, sizeof(fds_seen));
		cr_assert_str_eq(fds_seen,
				 "0:/dev/null 1:pipe 2:pipe 3:/memfd:xenon-ram (deleted) "
				 "4:/memfd:xenon-evt (deleted) 5:/memfd:xenon-xen (deleted) "
				 "6:socket ",
				 "fds %s", fds_seen);
		comm_of(pids[i], comm, sizeof(comm));
		cr_assert_str_eq(comm, "hello", "its own name back");
		comm_of(s->pid, comm, sizeof(comm));
		cr_assert_str_eq(comm, "xenon-standby", "the template waits again");
		fds_of(s->pid, fds_seen, sizeof(fds_seen));
		cr_assert_str_eq(fds_seen, "0:/dev/null 1:/dev/null 2:pipe 67:socket ",
				 "the template kept nothing of the request: %s", fds_seen);
	}
	for (unsigned int i = 0; i < n; i++)
		dom_end(&d[i], pids[i]);
}

Test(template, serves_several_domains)
{
	struct sb s;

	template_start(&s, "XENON_TEST_GUEST", NULL);
	cr_assert(sb_ready(&s), "no ready byte");
	cr_assert_str_eq(s.comm, "xenon-standby");
	serve_domains(&s, 4);
	template_end(&s);
}

Test(template, a_bad_request_is_refused_and_it_stays)
{
	static const char other[] = "XENON_BOOTS=v=1";
	char logged[1024];
	int fds[3], logp[2];
	struct dom d;
	struct sb s;
	pid_t pid;

	template_start(&s, "XENON_TEST_GUEST", NULL);
	cr_assert(sb_ready(&s));
	cr_assert_eq(pipe2(logp, O_CLOEXEC), 0);
	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[2] = logp[1];
	sb_send(&s, other, sizeof(other), fds, 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	cr_assert_eq(template_answer(&s), -EINVAL);
	read_all(logp[0], logged, sizeof(logged)); /* EOF: the template closed it */
	close(logp[0]);
	cr_assert_not_null(strstr(logged, "is not XENON_BOOT="), "log '%s'", logged);
	dom_send(&s, &d, 9);
	pid = template_answer(&s);
	cr_assert_gt(pid, 0, "the next request: %d", pid);
	cr_assert(dom_booting(&d));
	dom_end(&d, pid);
	template_end(&s);
}

/* More fds than a request can hold (the receive buffer's rounding takes
 * one more than it was sized for): refused, and that one closed too. */
Test(template, too_many_fds_leave_nothing_behind)
{
	static const char boot[] = "XENON_BOOT=v=1";
	int fds[PROCDOM_STANDBY_MAX_FDS + 2];
	char seen[1024];
	struct sb s;

	template_start(&s, "XENON_TEST_GUEST", NULL);
	cr_assert(sb_ready(&s));
	for (int i = 0; i < PROCDOM_STANDBY_MAX_FDS + 2; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sb_send(&s, boot, sizeof(boot), fds, PROCDOM_STANDBY_MAX_FDS + 2);
	for (int i = 0; i < PROCDOM_STANDBY_MAX_FDS + 2; i++)
		close(fds[i]);
	cr_assert_eq(template_answer(&s), -EINVAL);
	fds_of(s.pid, seen, sizeof(seen));
	cr_assert_str_eq(seen, "0:/dev/null 1:/dev/null 2:pipe 67:socket ", "kept: %s", seen);
	serve_domains(&s, 1);
	template_end(&s);
}

/* A program unfit to be a template (unfit_guest.c, XENON_TEST_UNFIT=how):
 * no ready byte but 'N' and why, then exit 2 (the reason on stderr too). */
static void refused_as_template(const char *how, const char *want)
{
	char out[512], why[256], env[64];
	struct sb s;
	int st;

	snprintf(env, sizeof(env), "XENON_TEST_UNFIT=%s", how);
	template_start(&s, "XENON_TEST_UNFIT_GUEST", env);
	sb_refusal(&s, why, sizeof(why));
	cr_assert_not_null(strstr(why, want), "said '%s'", why);
	st = sb_wait(&s, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	cr_assert_not_null(strstr(out, want), "said: %s", out);
}

/* A constructor that started a thread: no template (forking it is unsafe);
 * as a used-up standby it is fine. */
Test(template, refuses_a_threaded_program)
{
	char out[512], spec[64];
	struct sb s;
	int st;

	refused_as_template("thread", "single-threaded process, this one has 2 threads");
	snprintf(spec, sizeof(spec), "fd=%d ppid=%d", SB_FD, (int)getpid());
	sb_start_prog(&s, "XENON_TEST_UNFIT_GUEST", spec, false, "XENON_TEST_UNFIT=thread");
	cr_assert(sb_ready(&s), "not even as a standby");
	shutdown(s.sock, SHUT_RDWR);
	st = sb_wait(&s, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

/* A constructor that holds a robust mutex: each child would hold it too,
 * without the list entry the kernel needs to release it at its death. */
Test(template, refuses_a_program_holding_a_robust_mutex)
{
	refused_as_template("robust", "robust futex list is not empty");
}

Test(template, refuses_a_program_with_an_fd_where_domain_fds_go)
{
	refused_as_template("fd", "fd 3 is open");
}

/* ---- where seccomp forbids clone3, or every clone ------------------------------ */

#define NO_SYSCALL 0xffffffffu

/* A child of ours: the filter (what Docker's default profile does to
 * clone3, or worse), then the template's exec, as sb_start_prog sets it
 * up. Never returns. */
static void filtered_exec(const char *guest, const char *entry, int sock, int err_wr,
			  unsigned int deny_clone)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, deny_clone, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	char *argv[] = { (char *)guest, NULL }, *envp[] = { (char *)entry, NULL };
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(err_wr, 2) < 0 ||
	    dup2(sock, SB_FD) < 0)
		_exit(126);
	syscall(SYS_close_range, 3, SB_FD - 1, 0);
	syscall(SYS_close_range, SB_FD + 1, ~0U, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		_exit(125);
	execve(guest, argv, envp);
	_exit(127);
}

static void template_start_filtered(struct sb *s, unsigned int deny_clone)
{
	const char *guest = getenv("XENON_TEST_GUEST");
	char entry[96];
	int sv[2], errp[2];

	cr_assert_not_null(guest);
	snprintf(entry, sizeof(entry), "XENON_STANDBY=fd=%d ppid=%d fork=1", SB_FD, (int)getpid());
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(pipe2(errp, O_CLOEXEC), 0);
	s->pid = fork();
	cr_assert_geq(s->pid, 0);
	if (s->pid == 0)
		filtered_exec(guest, entry, sv[1], errp[1], deny_clone);
	close(sv[1]);
	close(errp[1]);
	s->sock = sv[0];
	s->err_rd = errp[0];
	s->comm[0] = '\0';
}

/* clone3 says ENOSYS (Docker's, podman's, nspawn's seccomp profiles; a
 * kernel before 5.3): the template makes its children with clone. */
Test(template, serves_where_clone3_is_filtered_out)
{
	struct sb s;

	template_start_filtered(&s, NO_SYSCALL);
	cr_assert(sb_ready(&s), "no ready byte");
	serve_domains(&s, 2);
	template_end(&s);
}

Test(template, refuses_where_no_clone_is_allowed)
{
	char out[512], why[256];
	struct sb s;
	int st;

	template_start_filtered(&s, SYS_clone);
	sb_refusal(&s, why, sizeof(why));
	cr_assert_not_null(strstr(why, "no clone allowed here"), "said '%s'", why);
	st = sb_wait(&s, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "status %#x", st);
}

/* ---- a child whose host died before it booted ------------------------------------- */

/*
 * The host (here a middle process M, the template's parent, which XENON_BOOT
 * names) dies between the template's clone and its child's first step
 * (the child held there by our ptrace). The child's boot, not a silent
 * check of its own, finds its parent gone: it says so in its log, exits 2.
 */
Test(template, a_child_whose_host_died_says_so_in_its_log)
{
	int to_m[2], from_m[2], logp[2], st;
	char logged[1024], go = 0;
	unsigned long child = 0;
	pid_t m, tpl = 0;

	SKIP_UNLESS_PTRACE();
	/* The orphans (the template, its child) come back to us. */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	cr_assert_eq(pipe2(to_m, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(from_m, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(logp, O_CLOEXEC), 0);
	m = fork();
	cr_assert_geq(m, 0);
	if (m == 0) {
		struct dom d;
		struct sb s;

		template_start(&s, "XENON_TEST_GUEST", NULL);
		if (write(from_m[1], &s.pid, sizeof(s.pid)) != sizeof(s.pid) || !sb_ready(&s) ||
		    read(to_m[0], &go, 1) != 1) /* traced */
			_exit(1);
		dom_send_for(&s, &d, 7, getpid(), logp);
		if (read(to_m[0], &go, 1) < 0) /* die */
			_exit(1);
		_exit(0);
	}
	close(logp[1]);
	cr_assert_eq(read(from_m[0], &tpl, sizeof(tpl)), (ssize_t)sizeof(tpl));
	cr_assert_eq(ptrace(PTRACE_SEIZE, tpl, 0, PTRACE_PROBE_OPTS), 0, "%s", strerror(errno));
	cr_assert_eq(write(to_m[1], &go, 1), 1);
	while (waitpid(tpl, &st, __WALL) < 0 && errno == EINTR)
		;
	cr_assert(ptrace_probe_is_clone_stop(st), "status %#x", st);
	cr_assert_eq(ptrace(PTRACE_GETEVENTMSG, tpl, 0, &child), 0);
	cr_assert_eq(write(to_m[1], &go, 1), 1); /* M dies: so does the template */
	cr_assert_eq(waitpid(m, &st, 0), m);
	cr_assert_eq(waitpid((pid_t)child, &st, __WALL), (pid_t)child); /* its first stop */
	cr_assert_eq(ptrace(PTRACE_DETACH, (pid_t)child, 0, 0), 0);
	cr_assert_eq(waitpid((pid_t)child, &st, 0), (pid_t)child);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	read_all(logp[0], logged, sizeof(logged));
	close(logp[0]);
	cr_assert_not_null(strstr(logged, "boot failed at 'parent'"), "log '%s'", logged);
	cr_assert_not_null(strstr(logged, "is gone"), "log '%s'", logged);
	while (waitpid(tpl, &st, __WALL) < 0 && errno == EINTR)
		;
}
