/*
 * A private xenon-xenstored for a Criterion test (the binary named by
 * XENON_XENSTORED, which tests/integration/meson.build sets): started in a
 * fresh run dir, ready when its READY line arrives on a pipe (bounded),
 * libxenstore pointed at its socket (XENSTORED_PATH); stopped with SIGTERM,
 * reaped, its run dir removed.
 */
#ifndef XENON_TEST_XSD_FIXTURE_H
#define XENON_TEST_XSD_FIXTURE_H

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>

struct xsd_fixture {
	char dir[64];
	pid_t pid;
};

/* NAME makes the run dir /tmp/NAME.XXXXXX; EXTRA (NULL-terminated, may be
 * NULL) goes after --run-dir and --ready-fd. */
static inline void xsd_start(struct xsd_fixture *x, const char *name, const char *const *extra)
{
	const char *exe = getenv("XENON_XENSTORED");
	char fdarg[16], line[16] = "", sock[128];
	const char *argv[16] = { 0 };
	struct pollfd pfd;
	unsigned int n = 0;
	int p[2];

	cr_assert_not_null(exe, "XENON_XENSTORED is not set");
	snprintf(x->dir, sizeof(x->dir), "/tmp/%.32s.XXXXXX", name);
	cr_assert_not_null(mkdtemp(x->dir));
	cr_assert_eq(pipe(p), 0);
	snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
	argv[n++] = exe;
	argv[n++] = "--run-dir";
	argv[n++] = x->dir;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	while (extra && *extra && n < 15)
		argv[n++] = *extra++;
	x->pid = fork();
	cr_assert_geq(x->pid, 0);
	if (x->pid == 0) {
		close(p[0]);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	pfd = (struct pollfd){ p[0], POLLIN, 0 };
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "xenon-xenstored not ready in 10 s");
	cr_assert_gt(read(p[0], line, sizeof(line) - 1), 0);
	close(p[0]);
	cr_assert_str_eq(line, "READY\n");
	snprintf(sock, sizeof(sock), "%s/socket", x->dir);
	setenv("XENSTORED_PATH", sock, 1);
}

static inline void xsd_stop(struct xsd_fixture *x)
{
	char cmd[128];
	int status;

	if (x->pid > 0) {
		kill(x->pid, SIGTERM);
		waitpid(x->pid, &status, 0);
		x->pid = 0;
	}
	if (!x->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	if (system(cmd))
		fprintf(stderr, "cleanup of %s failed\n", x->dir);
}

/* The daemon and two clients of it, for the toolstack suites: the one
 * under test and another that looks on. */
static inline void xsd_start_clients(struct xsd_fixture *x, const char *name, struct xs_handle **xs,
				     struct xs_handle **other)
{
	xsd_start(x, name, NULL);
	*xs = xs_open(0);
	*other = xs_open(0);
	cr_assert(*xs && *other);
}

static inline void xsd_stop_clients(struct xsd_fixture *x, struct xs_handle *xs,
				    struct xs_handle *other)
{
	if (xs)
		xs_close(xs);
	if (other)
		xs_close(other);
	xsd_stop(x);
}

#endif
