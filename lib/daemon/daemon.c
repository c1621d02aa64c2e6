/*
 * libdaemon: init table, log, readiness, pid file, signals (daemon.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

int daemon_up(const struct daemon_step *steps, size_t n, void *ctx, const char *prog,
	      void (*failed)(void *ctx, const char *step, int err))
{
	for (size_t i = 0; i < n; i++) {
		int err = steps[i].init(ctx);

		if (!err)
			continue;
		/* Whoever started us reads stderr; failed() tells the log. */
		fprintf(stderr, "%s: start-up failed at %s: %s\n", prog, steps[i].name,
			strerror(-err));
		if (failed)
			failed(ctx, steps[i].name, err);
		daemon_down(steps, i, ctx);
		return err;
	}
	return 0;
}

void daemon_down(const struct daemon_step *steps, size_t done, void *ctx)
{
	while (done--)
		if (steps[done].fini)
			steps[done].fini(ctx);
}

int daemon_log_open(const char *dir, const char *path)
{
	int fd;

	if (dir && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (!path)
		return STDERR_FILENO;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

void daemon_log_close(int *fd)
{
	if (*fd != STDERR_FILENO)
		close(*fd);
	*fd = STDERR_FILENO;
}

void daemon_vlog(int fd, const char *prog, enum daemon_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char buf[512];
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(buf, sizeof(buf), "%lld.%06ld %s %s: ", (long long)ts.tv_sec,
		     ts.tv_nsec / 1000, prog, names[level]);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	n = (int)strlen(buf);
	buf[n++] = '\n';
	if (write(fd, buf, (size_t)n) < 0) {
		/* Nowhere left to complain. */
	}
}

int daemon_ready(int *fd)
{
	static const char msg[] = "READY\n";
	ssize_t n;
	int err;

	if (*fd < 0)
		return 0;
	n = write(*fd, msg, sizeof(msg) - 1);
	err = n == (ssize_t)(sizeof(msg) - 1) ? 0 : n < 0 ? -errno : -EIO;
	close(*fd);
	*fd = -1;
	return err;
}

int daemon_pidfile_write(const char *path)
{
	char buf[32];
	int fd, n, err;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	err = write(fd, buf, (size_t)n) == n ? 0 : -EIO;
	close(fd);
	if (err)
		unlink(path);
	return err;
}

void daemon_pidfile_remove(const char *path)
{
	unlink(path);
}

int daemon_signals_open(sigset_t *ret_old)
{
	sigset_t mask;
	int fd, err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, ret_old) < 0)
		return -errno;
	/* Peers hang up: sends use MSG_NOSIGNAL, but the log may be a pipe. */
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (ret_old)
			sigprocmask(SIG_SETMASK, ret_old, NULL);
		return err;
	}
	return fd;
}

void daemon_signals_close(int fd, const sigset_t *old)
{
	close(fd);
	if (old)
		sigprocmask(SIG_SETMASK, old, NULL);
}

unsigned int daemon_signal_read(int fd)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return si.ssi_signo;
}

int daemon_parse_options(int argc, char **argv, const char *usage, struct daemon_opts *o)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'd' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long fd;
	int c;

	*o = (struct daemon_opts){ .ready_fd = -1 };
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->run_dir = optarg;
			break;
		case 'r':
			errno = 0;
			fd = strtol(optarg, &end, 10);
			if (*end || end == optarg || errno || fd < 0 || fd > INT_MAX)
				return -EINVAL;
			o->ready_fd = (int)fd;
			break;
		case 'v':
			o->verbosity++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			return -EINVAL;
		}
	}
	return optind < argc || !o->run_dir ? -EINVAL : 0;
}
