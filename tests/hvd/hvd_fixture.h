/*
 * A private xenon-hvd for the Criterion suites of tests/hvd: started from
 * $XENON_HVD in a fresh run dir, ready when it writes READY on its
 * --ready-fd (bounded, 10 s), stopped with SIGTERM and reaped, its run dir
 * removed. And a stand-in for it (hvd_fake_*): a forked child answering
 * on RUN_DIR/hvd.sock as a test wants, to show how clients take answers
 * a real xenon-hvd never gives.
 */
#ifndef TESTS_HVD_FIXTURE_H
#define TESTS_HVD_FIXTURE_H

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xenon_dom0.h"

struct hvd_fixture {
	char run_dir[64];
	pid_t pid;
};

/* NAME names the run dir; EXTRA (NULL-terminated, may be NULL) are more
 * options for xenon-hvd. */
static inline void hvd_fixture_start(struct hvd_fixture *f, const char *name,
				     const char *const *extra)
{
	const char *hvd = getenv("XENON_HVD");
	const char *argv[16] = { 0 };
	struct pollfd pfd;
	char buf[16] = { 0 }, fdarg[16];
	unsigned int n = 0;
	int p[2];

	cr_assert_not_null(hvd, "XENON_HVD not set");
	snprintf(f->run_dir, sizeof(f->run_dir), "/tmp/%s.XXXXXX", name);
	cr_assert_not_null(mkdtemp(f->run_dir));
	cr_assert_eq(pipe(p), 0);
	snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
	argv[n++] = hvd;
	argv[n++] = "--run-dir";
	argv[n++] = f->run_dir;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	for (; extra && *extra && n < 15; extra++)
		argv[n++] = *extra;
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	if (f->pid == 0) {
		close(p[0]);
		execv(hvd, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "xenon-hvd ready in time");
	cr_assert_gt(read(p[0], buf, sizeof(buf) - 1), 0);
	close(p[0]);
	cr_assert_eq(strncmp(buf, "READY", 5), 0);
}

static inline void hvd_fixture_stop(struct hvd_fixture *f)
{
	char cmd[128];
	int status;

	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, &status, 0);
	}
	f->pid = 0;
	if (!f->run_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->run_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", f->run_dir);
}

/* A process-less domain of 32 pages at want (DOMID_INVALID: the lowest
 * free domid); its domid. */
static inline uint32_t hvd_fixture_create_bare(struct xenon_ctl *ctl, uint32_t want)
{
	struct procdom_ctl_create req;
	char *argv[] = { "", NULL };
	uint32_t domid = 0;
	int err;

	xenon_create_defaults(&req);
	req.domid = want;
	req.nr_pages = 32;
	err = xenon_domain_create(ctl, &req, argv, &domid, NULL);
	cr_assert_eq(err, 0, "create: %s", strerror(-err));
	return domid;
}

struct hvd_fake {
	char run_dir[64];
	pid_t pid;
};

/* SERVE runs in the child with the listening socket; it does not return
 * (it _exits). The socket is listening when this returns, so a client may
 * connect at once. */
static inline void hvd_fake_start(struct hvd_fake *f, const char *name,
				  void (*serve)(int lfd, unsigned int mode), unsigned int mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd;

	snprintf(f->run_dir, sizeof(f->run_dir), "/tmp/%s.XXXXXX", name);
	cr_assert_not_null(mkdtemp(f->run_dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hvd.sock", f->run_dir);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	if (f->pid == 0)
		serve(lfd, mode);
	close(lfd);
}

/*
 * A fake's loop (its serve): every request on every connection answered by
 * ANSWER, which sets m->arg and writes the reply's payload to out (at most
 * PROCDOM_CTL_MAX_MSG - sizeof(*m) bytes), returning its length; op, seq
 * and domid are echoed. Dies with the test.
 */
typedef size_t (*hvd_fake_answer_fn)(unsigned int mode, struct procdom_ctl_msg *m,
				     const uint8_t *payload, size_t plen, uint8_t *out);

static inline _Noreturn void hvd_fake_serve(int lfd, unsigned int mode, hvd_fake_answer_fn answer)
{
	static uint8_t in[PROCDOM_CTL_MAX_MSG], out[PROCDOM_CTL_MAX_MSG];
	struct procdom_ctl_msg m;
	ssize_t got;
	int s;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while ((s = accept(lfd, NULL, NULL)) >= 0) {
		while ((got = recv(s, in, sizeof(in), 0)) >= (ssize_t)sizeof(m)) {
			memcpy(&m, in, sizeof(m));
			m.len = (uint32_t)answer(mode, &m, in + sizeof(m), (size_t)got - sizeof(m),
						 out);
			memcpy(in, &m, sizeof(m));
			memcpy(in + sizeof(m), out, m.len);
			if (send(s, in, sizeof(m) + m.len, MSG_NOSIGNAL) < 0)
				break;
		}
		close(s);
	}
	_exit(0);
}

/* Killed, reaped, its run dir removed; nothing if never started. */
static inline void hvd_fake_stop(struct hvd_fake *f)
{
	char path[96];

	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
	}
	f->pid = 0;
	if (!f->run_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/hvd.sock", f->run_dir);
	unlink(path);
	rmdir(f->run_dir);
	f->run_dir[0] = 0;
}

#endif
