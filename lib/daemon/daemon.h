/*
 * libdaemon: the start-up and shut-down plumbing every dom0 daemon shares
 * (xenon-hvd, xenon-xenstored, xenon-consoled): an ordered init table that
 * unwinds in reverse, the log line format, --ready-fd signalling, the pid
 * file, SIGTERM/SIGINT through a signalfd, and -- for a daemon that runs
 * others -- a service child started with a readiness pipe and stopped with
 * SIGTERM, a bounded wait, then SIGKILL.
 *
 * Pure plumbing: no globals, no event loop of its own; each daemon keeps its
 * own context struct and hands it through as void *.
 */
#ifndef XENON_LIB_DAEMON_H
#define XENON_LIB_DAEMON_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The same numbering as each daemon's own levels (error first). */
enum daemon_log_level { DAEMON_LOG_ERR, DAEMON_LOG_WARN, DAEMON_LOG_INFO, DAEMON_LOG_DEBUG };

/* ---- command line ---- */

/* The options of a dom0 service that takes no others: --run-dir DIR
 * (required), --ready-fd N, -v/--verbose (repeatable), -h/--help. */
struct daemon_opts {
	const char *run_dir;
	int ready_fd; /* -1: none */
	int verbosity;
};

/* Parses argv into *o (ready_fd -1 and verbosity 0 unless given). Returns
 * 0; 1 after printing usage to stdout for --help; -EINVAL for anything
 * else (the caller prints usage to stderr and exits 2). */
int daemon_parse_options(int argc, char **argv, const char *usage, struct daemon_opts *o);

/* ---- init table ---- */

struct daemon_step {
	const char *name;
	int (*init)(void *ctx);	 /* 0 or -errno */
	void (*fini)(void *ctx); /* NULL: nothing to undo */
};

/* Runs steps[0..n) in order. On a failure, says so on stderr as
 * "<prog>: start-up failed at <step>: <error>", calls failed() (the log is
 * still open then), undoes the steps that succeeded, and returns -errno. */
int daemon_up(const struct daemon_step *steps, size_t n, void *ctx, const char *prog,
	      void (*failed)(void *ctx, const char *step, int err));

/* Undoes steps[0..done) in reverse. */
void daemon_down(const struct daemon_step *steps, size_t done, void *ctx);

/* ---- log ---- */

/* Makes dir (0700; NULL: none) and opens path for appending (NULL: none,
 * returns STDERR_FILENO). Returns the fd or -errno. */
int daemon_log_open(const char *dir, const char *path);

/* Closes *fd unless it is stderr, and leaves stderr in it. */
void daemon_log_close(int *fd);

/* One line "<time> <prog> <level>: <msg>\n" to fd, with a single write(). */
void daemon_vlog(int fd, const char *prog, enum daemon_log_level level, const char *fmt,
		 va_list ap);

/* ---- readiness, pid file, signals ---- */

/* Writes "READY\n" to *fd and closes it (*fd becomes -1). 0 when *fd < 0
 * or all was written; else -errno (-EIO for a short write). */
int daemon_ready(int *fd);

/* Writes our pid to path (0644); nothing is left behind on failure. */
int daemon_pidfile_write(const char *path);
void daemon_pidfile_remove(const char *path);

/* Blocks SIGTERM and SIGINT (the previous mask into *ret_old unless NULL),
 * ignores SIGPIPE, and returns a non-blocking signalfd for the two, or
 * -errno with the mask restored. */
int daemon_signals_open(sigset_t *ret_old);

/* Closes fd; restores *old unless NULL. */
void daemon_signals_close(int fd, const sigset_t *old);

/* The signal read from fd, or 0 if none. */
unsigned int daemon_signal_read(int fd);

/* ---- service children ---- */

/* Beside our own executable, or at build_rel relative to its directory (the
 * build tree). Fills buf; -ENOENT if neither is executable. */
__attribute__((nonnull)) int daemon_find_beside_self(const char *name, const char *build_rel,
						     char *buf, size_t size);

/*
 * Starts path with argv, with all signals unblocked, giving it the write end
 * of a close-on-exec pipe: its number is written into fdarg (of fdarg_size,
 * pointed at by argv) before the start, and only that fd is inherited. The
 * read end, to watch for "READY", goes into *ret_ready_fd.
 */
int daemon_child_start(const char *path, char *const argv[], char *fdarg, size_t fdarg_size,
		       pid_t *ret_pid, int *ret_ready_fd);

/* A pidfd for pid, or -errno. */
int daemon_pidfd_open(pid_t pid);

/* How a daemon's own log receives the library's lines. */
struct daemon_logger {
	void (*log)(void *ctx, enum daemon_log_level level, const char *msg);
	void *ctx;
};

/*
 * SIGTERM, then up to timeout_ms for pidfd (< 0: no wait) to say it exited,
 * then SIGKILL (logged as an error); reaps it either way and logs the wait
 * status. name is how the log calls it. No-op when pid <= 0.
 */
void daemon_child_stop(const char *name, pid_t pid, int pidfd, int timeout_ms,
		       const struct daemon_logger *lg);

#endif
