/*
 * A standby (procdom_proto.h, 1b): the domain's program started before its
 * domain exists, so that the exec and the C library's start-up -- about
 * half a millisecond of a domain's creation on the test machine -- are
 * paid ahead of time, as LightVM prepares domain shells before they are
 * asked for. The spawner keeps one (procdom_spawner.h); this is the
 * process's side, the first boot step (rt_main.c):
 *
 *   spawner                                   standby (here)
 *     clone + exec, fds 0-2 /dev/null,          PDEATHSIG; parent == ppid?
 *     XENON_STANDBY="fd=67 ppid=P"              comm "xenon-standby"
 *                               <─── 'R' ────   recvmsg on fd 67 ...
 *   (a domain asks for this program)
 *     "XENON_BOOT=..." + [fd0..fdk-1, log] ──►  log -> 1, 2; fd i -> 3 + i;
 *                                               close 67; XENON_BOOT set,
 *                                               XENON_STANDBY unset, comm
 *                                               back: boot as a cold start
 *   (xenon-hvd goes, or the standby is discarded: EOF or SIGKILL)
 *                                               EOF: exit 0, nothing said
 *
 * Once placed, nothing tells the guest it was a standby: the same argv,
 * environment (getenv; environ in the same order, XENON_BOOT last), fds,
 * process group, signal state and comm as a cold start. Only
 * /proc/PID/environ, which the kernel fixed at the exec, still shows
 * XENON_STANDBY instead of XENON_BOOT.
 *
 * Everything in the message is checked (size, one NUL-terminated
 * XENON_BOOT entry, 2 to PROCDOM_STANDBY_MAX_FDS + 1 fds); the caller exits
 * 2 with the reason, which goes to the log when the message carried one.
 */
#include "rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define SB_SPEC_MAX 64		/* "fd=N ppid=P" */
#define SB_FD_MAX 65535		/* the socket's number, at most */
#define SB_NAME "xenon-standby" /* comm while waiting: ps and tests see it */

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

/* One "key=value" token of [tok, end) into fd or ppid; seen[] catches twice. */
static int sb_token(const char *tok, const char *end, bool seen[2], long v[2])
{
	static const char *const keys[2] = { "fd", "ppid" };
	static const long max[2] = { SB_FD_MAX, INT_MAX };
	const char *eq = memchr(tok, '=', (size_t)(end - tok));
	uint64_t n;
	int k;

	for (k = 0; eq && k < 2; k++) {
		if ((size_t)(eq - tok) == strlen(keys[k]) && !memcmp(tok, keys[k], strlen(keys[k])))
			break;
	}
	if (!eq || k == 2 || seen[k] || !rt_parse_number(eq + 1, end, (uint64_t)max[k], &n))
		return -EINVAL;
	seen[k] = true;
	v[k] = (long)n;
	return 0;
}

int procdom_standby_parse(const char *s, int *ret_fd, int *ret_ppid, char *err, size_t errlen)
{
	bool seen[2] = { false, false };
	long v[2] = { 0, 0 };
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
	*ret_fd = (int)v[0];
	*ret_ppid = (int)v[1];
	return 0;
}

/* The fds of the message's SCM_RIGHTS (close-on-exec). More than fit --
 * the buffer's rounding may take one or two more than it was sized for --
 * count as cut off (MSG_CTRUNC): the last is then not trusted as the log. */
static void sb_take_fds(struct msghdr *msg, struct sb_msg *m)
{
	struct cmsghdr *c;

	m->nr_fds = 0;
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		unsigned int n = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)), i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < n; i++) {
			if (m->nr_fds > PROCDOM_STANDBY_MAX_FDS) {
				m->flags |= MSG_CTRUNC;
				break;
			}
			memcpy(&m->fds[m->nr_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
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

static int sb_check(const struct sb_msg *m, char *err, size_t errlen)
{
	static const char prefix[] = PROCDOM_BOOT_ENV "=";

	if (m->flags & MSG_TRUNC)
		return rt_parse_fail(err, errlen, "standby: message longer than %d bytes",
				     PROCDOM_STANDBY_MSG_MAX);
	if (m->flags & MSG_CTRUNC)
		return rt_parse_fail(err, errlen, "standby: more than %d fds",
				     PROCDOM_STANDBY_MAX_FDS + 1);
	if (m->nr_fds < 1 || m->nr_fds > PROCDOM_STANDBY_MAX_FDS)
		return rt_parse_fail(err, errlen,
				     "standby: %u domain fds and a log, want 1..%d and a log",
				     m->nr_fds, PROCDOM_STANDBY_MAX_FDS);
	if (!m->len || m->buf[m->len - 1] || strlen(m->buf) != m->len - 1)
		return rt_parse_fail(err, errlen,
				     "standby: the payload is not one NUL-terminated string");
	if (strncmp(m->buf, prefix, sizeof(prefix) - 1))
		return rt_parse_fail(err, errlen, "standby: the payload is not %s...", prefix);
	return 0;
}

/*
 * fd i to 3 + i. Usually they arrived there (the lowest free fds: the
 * process has only 0-2 and the socket, above them all); else each is first
 * moved above every target and the socket, so no dup2 can overwrite one
 * not yet placed.
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

static int sb_ready(int sock)
{
	char c = PROCDOM_STANDBY_READY;
	ssize_t n;

	while ((n = send(sock, &c, 1, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == 1 ? 0 : -errno;
}

int procdom_standby_wait(int sock, char *err, size_t errlen)
{
	static struct sb_msg m; /* 2 KiB: off the stack of main() */
	char comm[16] = "";
	int rc;

	prctl(PR_GET_NAME, comm);
	prctl(PR_SET_NAME, SB_NAME);
	rc = sb_ready(sock);
	if (rc == -EPIPE || rc == -ECONNRESET)
		return 1; /* the spawner is gone already */
	if (rc < 0)
		return rt_parse_fail(err, errlen, "standby: send: %s", strerror(-rc));
	rc = sb_receive(sock, &m, err, errlen);
	if (rc)
		return rc;
	sb_place_log(&m);
	rc = sb_check(&m, err, errlen);
	if (!rc)
		rc = sb_place_fds(&m, sock, err, errlen);
	if (!rc)
		rc = sb_env(&m, err, errlen);
	prctl(PR_SET_NAME, comm);
	return rc;
}
