/*
 * Programs started in the background (substrate/proc/procdom_spawn.c):
 * procdom_domain_spawn returns once the spawner has the request; answers
 * come in the order asked, through hooks.spawned, from
 * procdom_spawns_collect() or from whatever waits for one; a failed start
 * leaves the domain without a process (hypercall sockets closed); a domain
 * killed while its start is in flight gets no hook and leaves no process;
 * a spawner lost with requests in flight fails them (-EIO), goes, and is
 * replaced at the next start; a program it started for a request it never
 * answered is killed and reaped with it.
 * Without a spawner the start is direct (posix_spawn from the host, its fd
 * numbers named in XENON_BOOT) and done, or failed, on return.
 *
 * procdom without the core: domains are prepared (memfds) and spawned,
 * never built; the programs are /bin/sleep (or a path that does not exist).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
#include "procdom_fixture.h"
#include "procdom_spawner.h"

#define MAX_CALLS 16

static struct procdom *pd;
static char dir[] = "/tmp/test-spawn-async.XXXXXX";
static char log_path[64];
static struct {
	domid_t domid;
	int err;
} calls[MAX_CALLS];
static unsigned int nr_calls;

static void spawned(void *ctx, domid_t domid, int err)
{
	(void)ctx;
	cr_assert_lt(nr_calls, MAX_CALLS);
	calls[nr_calls].domid = domid;
	calls[nr_calls++].err = err;
}

static void setup_with(bool spawner)
{
	static const struct procdom_hooks hooks = { .local_kick = pdf_no_kick,
						    .log = pdf_log,
						    .spawned = spawned };

	cr_assert_not_null(mkdtemp(dir));
	snprintf(log_path, sizeof(log_path), "%s/domain.log", dir);
	cr_assert_eq(procdom_create(&hooks, &pd), 0);
	if (spawner)
		cr_assert_eq(procdom_start_spawner(pd), 0);
	nr_calls = 0;
}

static void setup(void)
{
	setup_with(true);
}

static void teardown(void)
{
	procdom_destroy(pd); /* kills what is left */
	unlink(log_path);
	rmdir(dir);
}

TestSuite(spawn_async, .init = setup, .fini = teardown, .timeout = 30);

static struct procdom_domain *prepare(domid_t domid)
{
	struct procdom_domain_spec spec = { .domid = domid,
					    .max_vcpus = 2,
					    .max_pages = HV_MIN_NR_PAGES,
					    .xen_pages = 4 + PROCDOM_XEN_EXTRA };
	struct procdom_domain *d;

	cr_assert_eq(procdom_domain_prepare(pd, &spec, &d), 0);
	return d;
}

static int spawn(struct procdom_domain *d, const char *path)
{
	char *argv[] = { (char *)path, "30", NULL };

	return procdom_domain_spawn(d, argv, log_path, NULL, 1);
}

/* The spawner's socket turns readable within 10 s. */
static void await_answer(void)
{
	struct pollfd p = { .fd = procdom_spawner_fd(pd), .events = POLLIN };

	cr_assert_eq(poll(&p, 1, 10000), 1, "no answer from the spawner");
}

static bool alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

Test(spawn_async, answers_come_in_order_through_the_hook)
{
	struct procdom_domain *a = prepare(1), *b = prepare(2);

	cr_assert_eq(spawn(a, "/bin/sleep"), 0);
	cr_assert_eq(spawn(b, "/bin/sleep"), 0);
	cr_assert_eq(procdom_domain_spawn_result(a), -EINPROGRESS);
	cr_assert_eq(procdom_domain_spawn_result(b), -EINPROGRESS);
	cr_assert_eq(procdom_domain_pid(a), 0, "no pid before the answer");
	cr_assert(a->proc, "counts as having a process while in flight");
	cr_assert_geq(procdom_domain_hc_fd(a, 1), 0, "its sockets exist already");

	/* Waiting for the second takes the first's answer on the way. */
	cr_assert_eq(procdom_domain_spawn_wait(b), 0);
	cr_assert_eq(nr_calls, 2);
	cr_assert_eq(calls[0].domid, 1);
	cr_assert_eq(calls[0].err, 0);
	cr_assert_eq(calls[1].domid, 2);
	cr_assert_eq(calls[1].err, 0);
	cr_assert(alive(procdom_domain_pid(a)) && alive(procdom_domain_pid(b)));
	cr_assert_geq(procdom_domain_pidfd(a), 0);
	cr_assert_eq(procdom_domain_spawn_result(a), 0);

	/* Nothing more to take: collecting changes nothing. */
	procdom_spawns_collect(pd);
	cr_assert_eq(nr_calls, 2);
	procdom_domain_release(a);
	procdom_domain_release(b);
}

Test(spawn_async, a_failed_start_leaves_no_process)
{
	struct procdom_domain *d = prepare(3);

	cr_assert_eq(spawn(d, "/nonexistent/program"), 0, "asked: the exec comes later");
	await_answer();
	procdom_spawns_collect(pd);
	cr_assert_eq(nr_calls, 1);
	cr_assert_eq(calls[0].domid, 3);
	cr_assert_eq(calls[0].err, -ENOENT);
	cr_assert_eq(procdom_domain_spawn_result(d), -ENOENT);
	cr_assert_eq(procdom_domain_spawn_wait(d), -ENOENT, "and stays so");
	cr_assert_not(d->proc);
	cr_assert_eq(procdom_domain_pid(d), 0);
	cr_assert_eq(procdom_domain_pidfd(d), -1);
	cr_assert_eq(procdom_domain_hc_fd(d, 0), -1, "its sockets are closed");
	cr_assert_eq(procdom_domain_hc_fd(d, 1), -1);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), 0, "no zombie (the spawner lives on)");
	procdom_domain_release(d);
}

Test(spawn_async, killed_in_flight_gets_no_hook_and_no_process)
{
	struct procdom_domain *a = prepare(4), *b = prepare(5);
	pid_t pid;

	cr_assert_eq(spawn(a, "/bin/sleep"), 0);
	cr_assert_eq(spawn(b, "/bin/sleep"), 0);
	procdom_domain_kill(b); /* a's answer is taken on the way */
	pid = b->pid;
	cr_assert_eq(nr_calls, 1, "only a was announced");
	cr_assert_eq(calls[0].domid, 4);
	cr_assert_gt(pid, 0, "b was started ...");
	cr_assert_not(alive(pid), "... and killed and reaped");
	cr_assert_eq(procdom_domain_pid(b), 0);
	procdom_domain_release(b);
	procdom_domain_release(a);
	cr_assert_eq(nr_calls, 1);
}

Test(spawn_async, a_lost_spawner_fails_what_it_had_and_is_replaced)
{
	struct procdom_domain *a = prepare(6), *b = prepare(7), *c = prepare(8);
	pid_t sp = procdom_spawner_pid(pd->spawner);
	unsigned int gen;

	/* Stopped, it cannot answer: both requests are still in flight when
	 * it dies. */
	cr_assert_eq(kill(sp, SIGSTOP), 0);
	cr_assert_eq(spawn(a, "/bin/sleep"), 0);
	cr_assert_eq(spawn(b, "/bin/sleep"), 0);
	cr_assert_eq(kill(sp, SIGKILL), 0);
	await_answer(); /* the hang-up */
	procdom_spawns_collect(pd);
	cr_assert_eq(nr_calls, 2);
	cr_assert_eq(calls[0].domid, 6);
	cr_assert_eq(calls[0].err, -EIO);
	cr_assert_eq(calls[1].domid, 7);
	cr_assert_eq(calls[1].err, -EIO);
	cr_assert_not(a->proc);
	/* Dropped now, replaced at the next start (not at every loss seen:
	 * one that cannot run would be forked again and again). */
	cr_assert_null(pd->spawner);
	cr_assert_eq(procdom_spawner_fd(pd), -1);
	gen = procdom_spawner_generation(pd);
	cr_assert_eq(spawn(c, "/bin/sleep"), 0);
	cr_assert_not_null(pd->spawner, "replaced");
	cr_assert_neq(procdom_spawner_pid(pd->spawner), sp);
	cr_assert_eq(procdom_spawner_generation(pd), gen + 1);
	cr_assert_eq(procdom_domain_spawn_wait(c), 0, "the new one serves");
	cr_assert(alive(procdom_domain_pid(c)));
	procdom_domain_release(a);
	procdom_domain_release(b);
	procdom_domain_release(c);
}

/* The system call sp is blocked in (/proc/PID/syscall), -1: running. */
static long blocked_in(pid_t sp)
{
	char path[64], buf[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)sp);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] >= '0' && buf[0] <= '9' ? strtol(buf, NULL, 10) : -1;
}

/*
 * The spawner's own end of its socket, borrowed (pidfd_getfd) to shrink its
 * send buffer to the minimum: a few answers left unread then make it block
 * in send() -- after it started the child of the next request, before that
 * child's answer is out. Killed there, it leaves a child started for a
 * request nobody will hear of.
 */
static void spawner_sndbuf_min(pid_t sp)
{
	char dirpath[64], path[320], target[64];
	struct timespec ms = { 0, 1000000 };
	int pidfd, fd = -1, zero = 0;
	struct dirent *e;
	DIR *fds;

	/* Waiting for requests (10 s at most): past its start-up, which
	 * closes every fd it inherited from us (our end of its socket too). */
	for (int i = 0; i < 10000 && blocked_in(sp) != SYS_recvmsg; i++)
		nanosleep(&ms, NULL);
	cr_assert_eq(blocked_in(sp), SYS_recvmsg, "the spawner never waited for a request");

	snprintf(dirpath, sizeof(dirpath), "/proc/%d/fd", (int)sp);
	fds = opendir(dirpath);
	cr_assert_not_null(fds);
	while (fd < 0 && (e = readdir(fds))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = '\0', !strncmp(target, "socket:", 7)))
			fd = atoi(e->d_name);
	}
	closedir(fds);
	cr_assert_geq(fd, 0, "the spawner's socket");
	pidfd = (int)syscall(SYS_pidfd_open, sp, 0);
	cr_assert_geq(pidfd, 0);
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	cr_assert_geq(fd, 0, "pidfd_getfd: %s", strerror(errno));
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &zero, sizeof(zero)), 0);
	close(fd); /* ours must not keep its end open: its death has to show */
	close(pidfd);
}

#define LOST_REQS 16 /* more than a minimal send buffer holds answers */

Test(spawn_async, a_lost_spawner_leaves_no_child_it_started_for_nobody)
{
	struct procdom_domain *d[LOST_REQS];
	pid_t sp = procdom_spawner_pid(pd->spawner), kids[64];
	struct timespec ms = { 0, 1000000 };
	unsigned int i, n, started = 0;
	siginfo_t si;
	int tries;

	spawner_sndbuf_min(sp);
	for (i = 0; i < LOST_REQS; i++) {
		d[i] = prepare((domid_t)(20 + i));
		cr_assert_eq(spawn(d[i], "/bin/sleep"), 0);
	}
	/* Bounded (10 s): it answers what fits, then blocks in send(). */
	for (tries = 0; tries < 10000 && blocked_in(sp) != SYS_sendto; tries++)
		nanosleep(&ms, NULL);
	cr_assert_eq(blocked_in(sp), SYS_sendto, "the spawner never blocked in send()");
	/* Dead (its socket closed), not reaped: as the host finds it. Dying
	 * with requests unread, it resets our end (ECONNRESET before the
	 * queued answers), so usually none of them is taken either: then
	 * every program it started is one nobody was told of. */
	cr_assert_eq(kill(sp, SIGKILL), 0);
	cr_assert_eq(waitid(P_PID, (id_t)sp, &si, WEXITED | WNOWAIT), 0);
	procdom_spawns_collect(pd);
	cr_assert_eq(nr_calls, LOST_REQS, "%u calls", nr_calls);
	for (i = 0; i < LOST_REQS; i++) {
		cr_assert_eq(calls[i].domid, 20 + i);
		if (!calls[i].err) {
			cr_assert_eq(i, started, "answers in order, then the failures");
			started++;
		} else {
			cr_assert_eq(calls[i].err, -EIO);
		}
	}
	cr_assert_lt(started, LOST_REQS - 1, "one was in send(), at least one not asked");
	cr_assert_null(pd->spawner);
	/* Our children now: the programs we were told of, nothing else (not
	 * the one started for the answer that never came, alive or a zombie). */
	n = children_of_self(kids, 64);
	for (i = 0; i < n; i++) {
		bool known = false;

		for (unsigned int k = 0; k < started; k++)
			known |= kids[i] == procdom_domain_pid(d[k]);
		cr_assert(known, "child %d was started for nobody and left", (int)kids[i]);
	}
	cr_assert_eq(n, started, "%u children, %u programs started", n, started);
	for (i = 0; i < LOST_REQS; i++)
		procdom_domain_release(d[i]);
	cr_assert_eq(children_of_self(kids, 64), 0, "all reaped");
}

/* Without a spawner (none started, or none could be replaced) the start is
 * posix_spawn from here: done when procdom_domain_spawn returns. */
static void setup_direct(void)
{
	setup_with(false);
}

TestSuite(spawn_direct, .init = setup_direct, .fini = teardown, .timeout = 30);

Test(spawn_direct, started_on_return_with_its_fds)
{
	struct procdom_domain *d = prepare(9), *e = prepare(11);
	char *env_argv[] = { "/usr/bin/env", NULL };
	char path[64], want[64], env[8192];
	struct pollfd p;
	pid_t pid;
	FILE *f;
	size_t n;

	cr_assert_eq(procdom_spawner_fd(pd), -1);
	cr_assert_eq(spawn(d, "/bin/sleep"), 0);
	cr_assert_eq(procdom_domain_spawn_result(d), 0, "not in flight");
	pid = procdom_domain_pid(d);
	cr_assert(alive(pid));
	cr_assert_geq(procdom_domain_pidfd(d), 0);
	cr_assert_eq(nr_calls, 0, "no hook: nothing was in flight");
	/* Its fds are in place before the exec, so there now. */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, d->ram.fd);
	cr_assert_eq(access(path, F_OK), 0, "the child holds its ram fd");
	procdom_domain_kill(d);
	cr_assert_not(alive(pid));
	procdom_domain_release(d);

	/* XENON_BOOT names our fd numbers: env prints it to the log; its
	 * pidfd says when it is done. */
	cr_assert_eq(procdom_domain_spawn(e, env_argv, log_path, NULL, 1), 0);
	p = (struct pollfd){ .fd = procdom_domain_pidfd(e), .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 10000), 1, "env did not exit");
	cr_assert_eq(procdom_domain_reap(e), 0, "env exited 0");
	f = fopen(log_path, "r");
	cr_assert_not_null(f);
	n = fread(env, 1, sizeof(env) - 1, f);
	fclose(f);
	env[n] = '\0';
	snprintf(want, sizeof(want), "ram=%d evt=%d xen=%d", e->ram.fd, e->evt.fd, e->xen.fd);
	cr_assert_not_null(strstr(env, want), "XENON_BOOT names %s: %s", want, env);
	procdom_domain_release(e);
}

Test(spawn_direct, a_failed_start_fails_the_call)
{
	struct procdom_domain *d = prepare(10);

	cr_assert_eq(spawn(d, "/nonexistent/program"), -ENOENT);
	cr_assert_not(d->proc);
	cr_assert_eq(procdom_domain_pid(d), 0);
	cr_assert_eq(procdom_domain_hc_fd(d, 0), -1, "its sockets are closed");
	cr_assert_eq(nr_calls, 0);
	procdom_domain_release(d);
}
