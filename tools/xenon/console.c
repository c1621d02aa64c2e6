/*
 * xenon console DOMAIN: attach to a domain's console (Ctrl-] detaches).
 *
 * xenon-consoled serves each domain's console on RUN_DIR/console/dN.sock;
 * we copy stdin to it and it to stdout. With a terminal, stdin is put in
 * raw mode (restored on every way out), so keys reach the guest as typed.
 * Ctrl-] (0x1d), or the end of stdin, detaches: exit 0. The socket closing
 * (the domain went away, or the back end did) ends the session: exit 1.
 * The whole log of the domain's output is RUN_DIR/console/dN.log.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "xenon_dom0.h"
#include "xenon.h"

#define CONSOLE_DETACH 0x1d	  /* Ctrl-] */
#define CONSOLE_CONNECT_TRIES 200 /* x 50 ms: a domain just created, a loaded host */
#define CONSOLE_CHECK_EVERY 20	  /* tries: whether the domain is still there */

/* The back end serves a new domain once the store announces it: its
 * socket may not be there yet. Waits up to 10 s, as long as the domain
 * exists (-ESRCH once it is gone). */
static int console_connect(const char *run_dir, struct xenon_ctl *ctl, domid_t domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	struct procdom_ctl_dominfo info;
	int fd, i, err = -ENOENT;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/console/d%u.sock", run_dir,
			     domid) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	for (i = 0; i < CONSOLE_CONNECT_TRIES; i++) {
		if (i && i % CONSOLE_CHECK_EVERY == 0 &&
		    xenon_domain_info(ctl, domid, &info) == -ESRCH)
			return -ESRCH;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		err = -errno;
		close(fd);
		if (err != -ENOENT && err != -ECONNREFUSED)
			break;
		nanosleep(&pause, NULL);
	}
	return err;
}

/* All of buf to fd; false if it is gone. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

enum { SESSION_DETACHED, SESSION_CLOSED, SESSION_ERROR };

/* stdin -> sock up to Ctrl-]; SESSION_DETACHED at it or at EOF. */
static int from_stdin(int sock)
{
	char buf[4096], *cut;
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return -1;
	if (n <= 0)
		return SESSION_DETACHED;
	cut = memchr(buf, CONSOLE_DETACH, (size_t)n);
	if (!write_all(sock, buf, cut ? (size_t)(cut - buf) : (size_t)n))
		return SESSION_CLOSED;
	return cut ? SESSION_DETACHED : -1;
}

static int to_stdout(int sock)
{
	char buf[4096];
	ssize_t n = read(sock, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return -1;
	if (n <= 0)
		return SESSION_CLOSED;
	return write_all(STDOUT_FILENO, buf, (size_t)n) ? -1 : SESSION_ERROR;
}

static int session(int sock)
{
	struct pollfd pfd[2] = { { STDIN_FILENO, POLLIN, 0 }, { sock, POLLIN, 0 } };
	int rc = -1;

	while (rc < 0) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return SESSION_ERROR;
		}
		/* Output first: what the guest said before a detach is shown. */
		if (pfd[1].revents)
			rc = to_stdout(sock);
		if (rc < 0 && pfd[0].revents)
			rc = from_stdin(sock);
	}
	return rc;
}

int xenon_cmd_console(const struct xenon_ctx *ctx, int argc, char **argv)
{
	struct termios saved, raw;
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	bool tty = isatty(STDIN_FILENO);
	domid_t domid;
	int rc, sock = -1;

	if (argc != 2)
		return xenon_usage_error(ctx, argc < 2 ? "no DOMAIN given" : "too many arguments");
	rc = xenon_connect(ctx, &ctl, &xs);
	if (rc)
		return rc;
	rc = xenon_resolve(ctx, ctl, xs, argv[1], &domid);
	if (!rc)
		sock = console_connect(ctx->run_dir, ctl, domid);
	xenon_disconnect(ctl, xs);
	if (rc)
		return rc;
	if (sock == -ESRCH) {
		xenon_err(ctx, "domain %u is gone", domid);
		return XENON_EXIT_FAIL;
	}
	if (sock < 0) {
		xenon_err(ctx, "no console for domain %u (is xenon-consoled running?): %s", domid,
			  strerror(-sock));
		return XENON_EXIT_FAIL;
	}
	if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
		fprintf(stderr, "Connected to domain %u. Escape character is '^]'.\r\n", domid);
	} else {
		tty = false;
	}
	rc = session(sock);
	close(sock);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (rc == SESSION_CLOSED)
		xenon_err(ctx, "domain %u's console closed", domid);
	return rc == SESSION_DETACHED ? XENON_EXIT_OK : XENON_EXIT_FAIL;
}
