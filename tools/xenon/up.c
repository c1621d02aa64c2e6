/*
 * xenon up: start the hypervisor daemon; xenon down: stop it.
 *
 * up starts xenon-hvd with --run-dir D --ready-fd 3, fd 3 being a pipe's
 * write end, and returns when the daemon writes its READY line: no sleeping,
 * no polling for a socket. If the pipe closes first, the daemon failed: its
 * log is shown and up fails. The daemon leads its own session, so it
 * outlives the shell that ran `xenon up'.
 *
 * The daemon is found, in this order: --hvd PATH, $XENON_HVD, the build tree
 * (this binary is BUILD/tools/xenon/xenon, the daemon BUILD/dom0/hvd/xenon-hvd),
 * then beside this binary (an installed tree).
 *
 * down first destroys every domU as `xenon destroy' does (store entries
 * removed; xenstored releases each on VIRQ_DOM_EXC), then sends SIGTERM to
 * the pid in D/hvd.pid -- after checking that the process is xenon-hvd --
 * and waits, bounded, for it to exit (a pidfd says when); the daemon
 * removes its socket and pid file on the way out.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "xenon.h"
#include "xenon_dom0.h"

#define HVD_NAME "xenon-hvd"
#define READY_TIMEOUT_S 20
#define STOP_TIMEOUT_S 10

static int find_hvd(const char *given, char *buf, size_t len)
{
	const char *env = getenv("XENON_HVD");
	char dir[PATH_MAX - 64];

	if (given || (env && *env)) {
		snprintf(buf, len, "%s", given ? given : env);
		return access(buf, X_OK) ? -errno : 0;
	}
	if (xenon_self_dir(dir, sizeof(dir)))
		return -ENOENT;
	snprintf(buf, len, "%s/../../dom0/hvd/" HVD_NAME, dir);
	if (!access(buf, X_OK))
		return 0;
	snprintf(buf, len, "%s/" HVD_NAME, dir);
	return access(buf, X_OK) ? -ENOENT : 0;
}

static void show_log(const char *run_dir)
{
	static const char *const logs[] = { "hvd.log", "hvd.stderr" };
	char path[PATH_MAX], line[512];

	for (unsigned int i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", run_dir, logs[i]);
		if (!(f = fopen(path, "r")))
			continue;
		fprintf(stderr, "---- %s ----\n", path);
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
		fclose(f);
	}
}

/* In the background: its own session, fd 3 the ready pipe, stdout and
 * stderr a log. In the foreground (READY_FD -1): as it is. */
static void exec_hvd(const char *hvd, const struct xenon_up_opts *o, int ready_fd)
{
	char *argv[12], path[PATH_MAX];
	sigset_t none;
	int n = 0, fd;

	/* `xenon demo' blocks SIGTERM for its signalfd; the daemon needs it. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (ready_fd >= 0) {
		setsid();
		snprintf(path, sizeof(path), "%s/hvd.stderr", o->run_dir);
		if ((fd = open("/dev/null", O_RDONLY)) >= 0)
			dup2(fd, 0);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (dup2(ready_fd, 3) < 0)
			_exit(127);
	}
	argv[n++] = (char *)hvd;
	argv[n++] = "--run-dir";
	argv[n++] = (char *)o->run_dir;
	if (ready_fd >= 0) {
		argv[n++] = "--ready-fd";
		argv[n++] = "3";
	}
	if (o->dom0_reserve) {
		argv[n++] = "--dom0-reserve";
		argv[n++] = (char *)o->dom0_reserve;
	}
	if (o->verbose)
		argv[n++] = "-v";
	argv[n] = NULL;
	execv(hvd, argv);
	fprintf(stderr, "xenon: cannot run %s: %s\n", hvd, strerror(errno));
	if (ready_fd >= 0)
		_exit(127);
}

static int wait_ready(const char *cmd, const struct xenon_up_opts *o, int fd, pid_t pid)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	unsigned int t = o->timeout_s ? o->timeout_s : READY_TIMEOUT_S;
	char line[64] = "";
	ssize_t n = 0;
	int rc;

	while ((rc = poll(&pfd, 1, (int)t * 1000)) < 0 && errno == EINTR)
		;
	if (rc > 0)
		n = read(fd, line, sizeof(line) - 1);
	if (n > 0 && !strncmp(line, "READY", 5))
		return 0;
	fprintf(stderr, "xenon: %s: %s %s\n", cmd, HVD_NAME,
		rc == 0 ? "did not become ready in time" : "failed to start");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	show_log(o->run_dir);
	return rc == 0 ? -ETIMEDOUT : -EIO;
}

int xenon_hvd_start(const char *cmd, const struct xenon_up_opts *o, pid_t *ret_pid)
{
	char hvd[PATH_MAX];
	int p[2], rc;
	pid_t pid;

	if ((rc = find_hvd(o->hvd, hvd, sizeof(hvd)))) {
		fprintf(stderr, "xenon: %s: cannot find %s (use --hvd PATH or XENON_HVD): %s\n",
			cmd, HVD_NAME, strerror(-rc));
		return rc;
	}
	if (mkdir(o->run_dir, 0700) && errno != EEXIST) {
		rc = -errno;
		fprintf(stderr, "xenon: %s: %s: %s\n", cmd, o->run_dir, strerror(errno));
		return rc;
	}
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	if ((pid = fork()) < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid == 0)
		exec_hvd(hvd, o, p[1]);
	close(p[1]);
	rc = wait_ready(cmd, o, p[0], pid);
	close(p[0]);
	if (!rc)
		*ret_pid = pid;
	return rc;
}

static pid_t read_pid(const char *run_dir)
{
	char path[PATH_MAX], comm[32] = "";
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/hvd.pid", run_dir);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(f);
	/* A stale pid file must not make us signal an unrelated process. */
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if (pid && (f = fopen(path, "r"))) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
	}
	return pid && !strncmp(comm, HVD_NAME, strlen(HVD_NAME)) ? (pid_t)pid : 0;
}

int xenon_hvd_stop(const char *cmd, const char *run_dir, unsigned int timeout_s)
{
	pid_t pid = read_pid(run_dir);
	struct pollfd pfd = { -1, POLLIN, 0 };
	int rc;

	if (!pid)
		return -ESRCH;
	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (kill(pid, SIGTERM)) {
		rc = -errno;
		goto out;
	}
	while ((rc = poll(&pfd, 1, (int)timeout_s * 1000)) < 0 && errno == EINTR)
		;
	if (rc <= 0 && pfd.fd >= 0) {
		fprintf(stderr, "xenon: %s: %s (pid %d) did not exit in %u s: killed\n", cmd,
			HVD_NAME, (int)pid, timeout_s);
		kill(pid, SIGKILL);
		rc = -ETIMEDOUT;
	} else {
		rc = 0;
	}
	waitpid(pid, NULL, WNOHANG); /* ours when demo started it */
out:
	if (pfd.fd >= 0)
		close(pfd.fd);
	return rc;
}

int xenon_cmd_up(const struct xenon_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "hvd", required_argument, NULL, 'H' },
		{ "dom0-reserve", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct xenon_up_opts o = { .run_dir = ctx->run_dir };
	bool foreground = false;
	pid_t pid;
	int c;

	while ((c = getopt_long(argc, argv, "+fv", opts, NULL)) != -1) {
		if (c == 'r')
			o.run_dir = optarg;
		else if (c == 'f')
			foreground = true;
		else if (c == 'v')
			o.verbose = true;
		else if (c == 'H')
			o.hvd = optarg;
		else if (c == 'R')
			o.dom0_reserve = optarg;
		else
			return xenon_usage_error(ctx, "unknown option");
	}
	if (optind < argc)
		return xenon_usage_error(ctx, "unexpected argument `%s'", argv[optind]);
	if (read_pid(o.run_dir)) {
		xenon_err(ctx, "%s is already running in %s", HVD_NAME, o.run_dir);
		return XENON_EXIT_FAIL;
	}
	if (foreground) {
		char hvd[PATH_MAX];

		if (find_hvd(o.hvd, hvd, sizeof(hvd))) {
			xenon_err(ctx, "cannot find %s (use --hvd PATH or XENON_HVD)", HVD_NAME);
			return XENON_EXIT_FAIL;
		}
		exec_hvd(hvd, &o, -1);
		return XENON_EXIT_FAIL;
	}
	if (xenon_hvd_start(ctx->cmd->name, &o, &pid))
		return XENON_EXIT_FAIL;
	printf("%s running in %s (pid %d)\n", HVD_NAME, o.run_dir, (int)pid);
	return XENON_EXIT_OK;
}

/* Every domU destroyed the toolstack's way (store entries removed) before
 * the daemon is asked to stop: a clean store. xenstored releases each one
 * as their VIRQ_DOM_EXC arrives, which may be after this returns. */
static void destroy_all(const char *run_dir)
{
	struct procdom_ctl_dominfo *doms;
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	size_t n;

	if (xenon_ctl_open(run_dir, &ctl))
		return;
	if (xenon_store_open(run_dir, &xs))
		xs = NULL;
	if (!xenon_list_all(ctl, &doms, &n)) {
		for (size_t i = 0; i < n; i++)
			if (doms[i].domid != 0)
				xenon_domain_teardown(ctl, xs, (domid_t)doms[i].domid);
		free(doms);
	}
	xenon_disconnect(ctl, xs);
}

int xenon_cmd_down(const struct xenon_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *run_dir = ctx->run_dir;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'r')
			run_dir = optarg;
		else
			return xenon_usage_error(ctx, "unknown option");
	}
	if (optind < argc)
		return xenon_usage_error(ctx, "unexpected argument `%s'", argv[optind]);
	if (read_pid(run_dir))
		destroy_all(run_dir);
	rc = xenon_hvd_stop(ctx->cmd->name, run_dir, STOP_TIMEOUT_S);
	if (rc == -ESRCH) {
		xenon_err(ctx, "no %s running in %s", HVD_NAME, run_dir);
		return XENON_EXIT_NO_DAEMON;
	}
	return rc ? XENON_EXIT_FAIL : XENON_EXIT_OK;
}
