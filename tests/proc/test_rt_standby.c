/*
 * The runtime's standby step (substrate/proc/runtime/rt_standby.c;
 * procdom_proto.h 1b): XENON_STANDBY parsed strictly; then a real guest
 * program (XENON_TEST_GUEST, examples/guests/hello) started by this test
 * as a standby -- its socket at fd 67, stderr a pipe we read -- and fed
 * through that socket: it says ready and is named xenon-standby; EOF ends
 * it quietly (0); a parent that is not the one named ends it quietly (2);
 * bad messages end it with its reason (2), in the log once the message
 * brought one; a good one is placed exactly where a cold start has its
 * fds (also when the fds arrive elsewhere) and its boot goes on as a cold
 * start's, up to the PROCDOM_HC_BOOT request on vCPU 0's socket.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_internal.h"

#define SB_FD PROCDOM_STANDBY_FD_MIN

/* ---- XENON_STANDBY ------------------------------------------------------- */

Test(standby_parse, good)
{
	char err[RT_ERR_LEN];
	int fd = 0, ppid = 0;

	cr_assert_eq(procdom_standby_parse("fd=67 ppid=1", &fd, &ppid, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(fd, 67);
	cr_assert_eq(ppid, 1);
	cr_assert_eq(procdom_standby_parse("ppid=4242 fd=100", &fd, &ppid, err, sizeof(err)), 0);
	cr_assert_eq(fd, 100);
	cr_assert_eq(ppid, 4242);
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
	};
	char err[RT_ERR_LEN];
	int fd, ppid;
	size_t i;

	cr_assert_lt(procdom_standby_parse(NULL, &fd, &ppid, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(procdom_standby_parse(bad[i], &fd, &ppid, err, sizeof(err)), -EINVAL,
			     "accepted '%s'", bad[i]);
		cr_assert_neq(err[0], '\0', "no reason for '%s'", bad[i]);
	}
}

/* ---- a guest program as a standby ------------------------------------------- */

struct sb {
	pid_t pid;
	int sock;      /* ours */
	int err_rd;    /* its stderr */
	char comm[32]; /* while it waits */
};

/* Started by us, so we are its parent; spec NULL: "fd=67 ppid=<us>".
 * extra_fd3: it also holds an fd at 3, so what it receives lands higher. */
static void sb_start(struct sb *s, const char *spec, bool extra_fd3)
{
	const char *guest = getenv("XENON_TEST_GUEST");
	char entry[96], *argv[] = { (char *)guest, NULL }, *envp[] = { entry, NULL };
	posix_spawn_file_actions_t fa;
	int sv[2], errp[2];

	cr_assert_not_null(guest, "XENON_TEST_GUEST not set");
	if (spec)
		snprintf(entry, sizeof(entry), "XENON_STANDBY=%s", spec);
	else
		snprintf(entry, sizeof(entry), "XENON_STANDBY=fd=%d ppid=%d", SB_FD, (int)getpid());
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

static void handover(bool extra_fd3)
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
	sb_start(&s, NULL, extra_fd3);
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

Test(standby, handover_in_place)
{
	handover(false);
}

Test(standby, handover_fds_moved)
{
	handover(true);
}
