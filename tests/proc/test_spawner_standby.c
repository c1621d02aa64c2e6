/*
 * The spawner's template (substrate/proc/procdom_spawner.h,
 * procdom_standby.c) with a real guest program (XENON_TEST_GUEST,
 * examples/guests/hello, copied to a private path so that it can be
 * touched and replaced): after a request, the program is started once more
 * and waits (a child of ours named xenon-standby); the next requests with
 * the same argv, however close together, are each answered with a new
 * child the template made (ours too, by CLONE_PARENT, exec'd as the
 * template: XENON_STANDBY in its /proc/PID/environ), which got the
 * request's fds, log and XENON_BOOT and boots on them, while the template
 * stays; other argv, a touched or a replaced program: a fresh process
 * (XENON_BOOT in its environ), the template reaped; a template given up
 * with requests pipelined behind the one it served spares that one's
 * child; a template killed while waiting is reaped by the host's next look
 * at the socket and not restarted before the next request; one killed
 * between its clone and its answer (the crash window, driven with
 * ptrace): that request fails, the child nobody was told of is swept
 * (killed, reaped), the next request works; a program that never says
 * ready loses its template at the deadline, without a request; a program
 * that cannot be one (/bin/true) loses it after two deaths, logged once;
 * one that says why it cannot be one, logged once; templates that break
 * the protocol (liar_guest.c: a known pid, a full socket, a long answer,
 * error answers) fail only their own request and ban their program, but
 * the kernel's -EAGAIN keeps the template; no template where the kernel
 * does not list our children, and a sweep that cannot look is given up;
 * destroy reaps a waiting template; none without opts.standby. The sweep
 * itself (procdom_children.h): it looks again while it finds children;
 * procdom_destroy sweeps even with no spawner left.
 *
 * The test is the host: the children it keeps (the domains' processes it
 * was answered with) are what it knows (opts.known), so a sweep leaves
 * them alone.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
#include "proc_environ.h"
#include "procdom_children.h"
#include "procdom_fixture.h"
#include "procdom_proto.h"
#include "procdom_spawner.h"
#include "ptrace_probe.h"

static char dir[] = "/tmp/test-standby.XXXXXX";
static char prog[80], log_a[80], log_b[80];
static char logged[64][512];
static unsigned int nr_logged, nr_warned;
static pid_t kept[64]; /* the host's own children: what opts.known says */
static unsigned int nr_kept;

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	cr_assert_geq(in, 0, "%s", from);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	cr_assert_geq(out, 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static void setup(void)
{
	const char *guest = getenv("XENON_TEST_GUEST");

	cr_assert_not_null(guest, "XENON_TEST_GUEST not set");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(prog, sizeof(prog), "%s/guest", dir);
	snprintf(log_a, sizeof(log_a), "%s/a.log", dir);
	snprintf(log_b, sizeof(log_b), "%s/b.log", dir);
	copy_file(guest, prog);
	nr_logged = nr_warned = nr_kept = 0;
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

TestSuite(standby, .init = setup, .fini = teardown, .timeout = 60);

static void note(void *ctx, bool warn, const char *msg)
{
	(void)ctx;
	if (nr_logged < 64)
		snprintf(logged[nr_logged++], sizeof(logged[0]), "%s", msg);
	nr_warned += warn;
}

/* Lines logged that hold what (each once at most in a right run). */
static unsigned int logged_with(const char *what)
{
	unsigned int i, n = 0;

	for (i = 0; i < nr_logged; i++)
		n += strstr(logged[i], what) != NULL;
	return n;
}

static void known(void *ctx, pid_t *pids, unsigned int n)
{
	(void)ctx;
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int k = 0; k < nr_kept; k++)
			if (pids[i] == kept[k])
				pids[i] = 0;
}

/* A program's first rest here (procdom_standby.c, "Rests"). */
#define REST_MS 300

static struct procdom_spawner *spawner_with_standby(void)
{
	struct procdom_spawner_opts o = {
		.standby = true, .log = note, .known = known, .standby_rest_ms = REST_MS
	};
	struct procdom_spawner *sp;

	cr_assert_eq(procdom_spawner_create_opts(&sp, &o), 0);
	return sp;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void keep(pid_t pid)
{
	cr_assert_lt(nr_kept, 64);
	kept[nr_kept++] = pid;
}

static void reap(pid_t pid)
{
	for (unsigned int k = 0; k < nr_kept; k++)
		if (kept[k] == pid)
			kept[k] = kept[--nr_kept];
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

static bool gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Neither ended nor ending: its state in /proc/PID/stat is no zombie's. */
static bool alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Ended (a zombie at least), without reaping it: our child. */
static void wait_ended(pid_t pid)
{
	siginfo_t si;

	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
}

/* A child of ours named xenon-standby that waits in recvmsg (it said
 * ready before), or 0. */
static pid_t standby_now(void)
{
	pid_t kids[64];
	unsigned int n = children_of_self(kids, 64), i;

	for (i = 0; i < n && i < 64; i++) {
		char path[64], comm[32] = "", sc[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)kids[i]);
		if ((f = fopen(path, "r"))) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%d/syscall", (int)kids[i]);
		if ((f = fopen(path, "r"))) {
			if (!fgets(sc, sizeof(sc), f))
				sc[0] = '\0';
			fclose(f);
		}
		if (!strcmp(comm, "xenon-standby\n") && atoi(sc) == SYS_recvmsg)
			return kids[i];
	}
	return 0;
}

/* Our children but the spawner itself. */
static unsigned int programs(const struct procdom_spawner *sp)
{
	pid_t kids[64];
	unsigned int n = children_of_self(kids, 64), i, k = 0;

	for (i = 0; i < n && i < 64; i++)
		k += kids[i] != procdom_spawner_pid(sp);
	return k;
}

/* The notices there are taken, and what is owed done (the host's turn). */
static void host_turn(struct procdom_spawner *sp)
{
	uint32_t seq;
	pid_t pid;

	cr_assert_eq(procdom_spawner_result(sp, false, &seq, &pid), -EAGAIN);
	procdom_spawner_tick(sp);
}

/* Bounded: 10 s. The notices of templates given up are taken meanwhile. */
static pid_t standby_wait(struct procdom_spawner *sp)
{
	pid_t got;
	int i;

	for (i = 0; i < 1000; i++) {
		host_turn(sp);
		if ((got = standby_now()))
			return got;
		sleep_ms(10);
	}
	return 0;
}

/* None appears for 50 ms, past the delay before a template (5 ms). */
static bool no_standby_for_a_while(struct procdom_spawner *sp)
{
	for (int i = 0; i < 5; i++) {
		host_turn(sp);
		if (standby_now())
			return false;
		sleep_ms(10);
	}
	return true;
}

/* Gone from /proc altogether (reaped, no zombie). */
static bool no_such_process(pid_t pid)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) < 0;
}

/* Until pid is reaped (by the spawner's host side: a notice, a tick), 10 s. */
static bool reaped_by_host(struct procdom_spawner *sp, pid_t pid)
{
	int i;

	for (i = 0; i < 1000; i++) {
		host_turn(sp);
		if (gone(pid) && no_such_process(pid))
			return true;
		sleep_ms(10);
	}
	return false;
}

/* argv with XENON_BOOT=bad and /dev/null as the one fd: a fresh child or
 * the standby's runtime fails at 'env', saying so in log. */
static pid_t request(struct procdom_spawner *sp, char **argv, const char *log)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid = 0;

	cr_assert_eq(procdom_spawner_spawn(sp, argv, "XENON_BOOT=bad", log, NULL, &fd, 1, &pid), 0);
	close(fd);
	keep(pid);
	return pid;
}

/* Submitted, not waited for: XENON_BOOT=bad, /dev/null. */
static uint32_t submit_bad(struct procdom_spawner *sp, char **argv, const char *log)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uint32_t seq = 0;

	cr_assert_eq(procdom_spawner_submit(sp, argv, "XENON_BOOT=bad", log, NULL, &fd, 1, &seq),
		     0);
	close(fd);
	return seq;
}

/*
 * A request its program boots on, up to PROCDOM_HC_BOOT on vCPU 0's
 * socket, where it waits for our answer: so it stays alive, and its
 * /proc/PID/environ says how it was started.
 */
struct live {
	int fds[4]; /* ram, evt, xen, its end of vCPU 0's socket: 3..6 in it */
	int hc;	    /* our end */
	char boot[256];
};

static int memfd_of(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void live_init(struct live *l)
{
	int hc[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hc), 0);
	l->fds[0] = memfd_of("xenon-ram", 16 * 4096);
	l->fds[1] = memfd_of("xenon-evt", 2 * 4096);
	l->fds[2] = memfd_of("xenon-xen", 4 * 4096);
	l->fds[3] = hc[1];
	l->hc = hc[0];
	snprintf(l->boot, sizeof(l->boot),
		 "XENON_BOOT=v=1 domid=7 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=16 "
		 "max_gfn=1040 start_info=15 evt_pages=2 xen_pages=4 ppid=%d",
		 (int)getpid());
}

static void live_sent(struct live *l)
{
	for (int i = 0; i < 4; i++)
		close(l->fds[i]);
}

/* Its boot went as a cold start's: PROCDOM_HC_BOOT on its vCPU 0 (10 s). */
static bool live_booting(struct live *l)
{
	struct pollfd p = { l->hc, POLLIN, 0 };
	struct procdom_hc_req req;

	return poll(&p, 1, 10000) == 1 && recv(l->hc, &req, sizeof(req), 0) == sizeof(req) &&
	       req.op == PROCDOM_HC_BOOT;
}

static pid_t live_request(struct procdom_spawner *sp, char **argv, const char *log, struct live *l)
{
	pid_t pid = 0;

	live_init(l);
	cr_assert_eq(procdom_spawner_spawn(sp, argv, l->boot, log, NULL, l->fds, 4, &pid), 0);
	live_sent(l);
	keep(pid);
	cr_assert(live_booting(l), "pid %d: no BOOT request", pid);
	return pid;
}

static void live_end(struct live *l, pid_t pid)
{
	reap(pid);
	close(l->hc);
}

/*
 * What its exec-time environment has. A process answered right after a
 * vfork's exec may not have its environment in place yet (the kernel lets
 * the vfork parent go before it lays out the new program's stack, and
 * /proc/PID/environ reads empty until then): a live domain's is never
 * empty, so an empty one is looked at again (1 s at most).
 */
static int exec_env_has(pid_t pid, const char *prefix)
{
	int i, has = 0;

	for (i = 0; i < 1000; i++) {
		has = proc_environ_has(pid, prefix);
		if (has || proc_environ_has(pid, "XENON_") > 0)
			return has;
		sleep_ms(1);
	}
	return has;
}

/* The process a template made (its exec-time environment) or not. */
static bool forked(pid_t pid)
{
	return exec_env_has(pid, "XENON_STANDBY=") == 1;
}

static bool cold(pid_t pid)
{
	return exec_env_has(pid, "XENON_STANDBY=") == 0 && exec_env_has(pid, "XENON_BOOT=") == 1;
}

static bool log_says(const char *path, const char *what)
{
	char buf[4096] = "";
	FILE *f;
	size_t n;
	int i;

	for (i = 0; i < 1000; i++) {
		if ((f = fopen(path, "r"))) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			fclose(f);
			if (strstr(buf, what))
				return true;
		}
		sleep_ms(10);
	}
	return false;
}

/* Field 4 of /proc/PID/stat: its parent. */
static pid_t ppid_of(pid_t pid)
{
	int ppid = -1, pgrp;

	cr_assert_eq(proc_stat_ids(pid, &ppid, &pgrp), 0);
	return ppid;
}

/* The answer to seq, taking notices and doing what is owed meanwhile;
 * 10 s at most. */
static int answer_of(struct procdom_spawner *sp, uint32_t seq, pid_t *ret_pid)
{
	uint32_t got = 0;
	int err = -EAGAIN, i;

	for (i = 0; i < 1000 && err == -EAGAIN; i++) {
		err = procdom_spawner_result(sp, false, &got, ret_pid);
		if (err == -EAGAIN) {
			procdom_spawner_tick(sp);
			sleep_ms(10);
		}
	}
	cr_assert_neq(err, -EAGAIN, "no answer");
	if (err != -EIO) /* -EIO: the spawner broke the protocol, no seq */
		cr_assert_eq(got, seq);
	return err;
}

/* Stopped by ptrace at its next clone: the child's pid. */
static pid_t held_at_clone(pid_t tracee)
{
	unsigned long msg = 0;
	pid_t r;
	int st;

	while ((r = waitpid(tracee, &st, __WALL)) < 0 && errno == EINTR)
		;
	cr_assert_eq(r, tracee);
	cr_assert(ptrace_probe_is_clone_stop(st), "not stopped at its clone: status %#x", st);
	cr_assert_eq(ptrace(PTRACE_GETEVENTMSG, tracee, 0, &msg), 0);
	cr_assert_gt((pid_t)msg, 0);
	return (pid_t)msg;
}

/* A child auto-attached at its clone: let it go once it has stopped. */
static void let_go(pid_t child)
{
	int st;

	while (waitpid(child, &st, __WALL) < 0 && errno == EINTR)
		;
	cr_assert_eq(ptrace(PTRACE_DETACH, child, 0, 0), 0, "%s", strerror(errno));
}

#define NR_FORKED 6

Test(standby, the_template_serves_every_request)
{
	char *argv[] = { prog, NULL }, log[NR_FORKED][96];
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, pids[NR_FORKED];
	struct live l[NR_FORKED];
	int i, k;

	first = request(sp, argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0, "no template");
	cr_assert_neq(sb, first);
	cr_assert_eq(getpgid(sb), sb, "it leads its own group");
	/* Back to back: the template is not used up, nothing waits. */
	for (i = 0; i < NR_FORKED; i++) {
		snprintf(log[i], sizeof(log[i]), "%s/d%d.log", dir, i);
		pids[i] = live_request(sp, argv, log[i], &l[i]);
		cr_assert(pids[i] > 0 && pids[i] != sb && pids[i] != first, "pid %d", pids[i]);
		for (k = 0; k < i; k++)
			cr_assert_neq(pids[i], pids[k], "each domain its own process");
		cr_assert_eq(ppid_of(pids[i]), getpid(), "the host's child");
		cr_assert(forked(pids[i]), "domain %d was not made by the template", i);
		cr_assert_eq(getpgid(pids[i]), pids[i], "it leads its own group");
	}
	cr_assert_eq(standby_wait(sp), sb, "the same template waits again");
	for (i = 0; i < NR_FORKED; i++)
		live_end(&l[i], pids[i]);
	reap(first);
	cr_assert_eq(procdom_spawner_destroy(sp), 0, "a template is no orphan");
	cr_assert(gone(sb), "destroy reaped the waiting template");
	cr_assert_eq(children_of_self(NULL, 0), 0);
	cr_assert_eq(nr_warned, 0);
}

/* A template that must not be used: the request runs fresh, the template
 * is given up on the way (reaped by the host), and a new one follows. */
static void not_given(char **first_argv, char **second_argv, void (*change)(void))
{
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, second;
	struct live l;

	first = request(sp, first_argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	if (change)
		change();
	second = live_request(sp, second_argv, log_b, &l);
	cr_assert_neq(second, sb, "given the stale template");
	cr_assert_eq(ppid_of(second), getpid());
	cr_assert(cold(second), "not a fresh process");
	cr_assert(reaped_by_host(sp, sb), "the stale template was reaped");
	cr_assert_gt(standby_wait(sp), 0, "a template of the new request follows");
	reap(first);
	live_end(&l, second);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

Test(standby, other_argv)
{
	char *a[] = { prog, NULL }, *b[] = { prog, "x", NULL };

	not_given(a, b, NULL);
}

static void touch_prog(void)
{
	struct stat st;
	struct timespec t[2];

	/* Its mtime and ctime move (the file is busy: it cannot be written).
	 * An explicit mtime a minute back: new whatever the clock's grain. */
	cr_assert_eq(stat(prog, &st), 0);
	t[0] = st.st_atim;
	t[1] = (struct timespec){ st.st_mtim.tv_sec - 60, st.st_mtim.tv_nsec };
	cr_assert_eq(utimensat(AT_FDCWD, prog, t, 0), 0);
}

Test(standby, program_touched)
{
	char *a[] = { prog, NULL };

	not_given(a, a, touch_prog);
}

static void replace_prog(void)
{
	char tmp[96];

	/* Another file under the name, as an install or a rebuild does. */
	snprintf(tmp, sizeof(tmp), "%s.new", prog);
	copy_file(getenv("XENON_TEST_GUEST"), tmp);
	cr_assert_eq(rename(tmp, prog), 0);
}

Test(standby, program_replaced)
{
	char *a[] = { prog, NULL };

	not_given(a, a, replace_prog);
}

Test(standby, killed_while_waiting)
{
	char *argv[] = { prog, NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, second, next;
	struct live l;
	int i;

	first = request(sp, argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	kill(sb, SIGKILL);
	cr_assert(reaped_by_host(sp, sb), "the host reaped it (no zombie)");
	cr_assert(nr_logged > 0 && strstr(logged[nr_logged - 1], "died unused"), "%s", logged[0]);
	/* Not restarted before the next request. */
	for (i = 0; i < 20; i++) {
		cr_assert_eq(programs(sp), 1, "only the first program");
		sleep_ms(10);
	}
	second = live_request(sp, argv, log_b, &l);
	cr_assert_neq(second, sb);
	cr_assert(cold(second), "not a fresh process");
	next = standby_wait(sp);
	cr_assert_gt(next, 0, "the next request brings one back");
	reap(first);
	live_end(&l, second);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
	cr_assert_eq(nr_warned, 0, "one death is no reason to give up");
}

/* One that served a domain and then died did not die unused (the log
 * says what happened), and is no step towards a ban. */
Test(standby, killed_after_serving)
{
	char *argv[] = { prog, NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, d;

	first = request(sp, argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	d = request(sp, argv, log_b);
	kill(sb, SIGKILL);
	cr_assert(reaped_by_host(sp, sb));
	cr_assert_eq(logged_with("died after it served domains"), 1, "logged '%s'", logged[0]);
	cr_assert_eq(logged_with("died unused"), 0);
	reap(first);
	reap(d);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* A spawner whose template of argv (made after `first`, the program's
 * first domain, cold) waits, held by ptrace (PTRACE_SEIZE: held_at_clone
 * then stops it right after its clone). */
static struct procdom_spawner *traced_template(char **argv, pid_t *first, pid_t *sb)
{
	struct procdom_spawner *sp = spawner_with_standby();

	*first = request(sp, argv, log_a);
	*sb = standby_wait(sp);
	cr_assert_gt(*sb, 0);
	cr_assert_eq(ptrace(PTRACE_SEIZE, *sb, 0, PTRACE_PROBE_OPTS), 0, "%s", strerror(errno));
	return sp;
}

/*
 * Requests pipelined: the template serves the first (its child, stopped
 * by ptrace as it is made, has not run a single instruction, so it is
 * still in the template's process group) and is given up for the second
 * (another argv) before the host has taken the first's answer. It is
 * killed by its pid alone: that child lives on and boots.
 */
Test(standby, a_template_given_up_spares_the_child_it_just_made)
{
	char *a[] = { prog, NULL }, *b[] = { prog, "x", NULL }, log_c[96];
	struct procdom_spawner *sp;
	pid_t first, sb, child, pid = 0, second = 0;
	uint32_t s1, s2;
	struct live l;

	SKIP_UNLESS_PTRACE();
	sp = traced_template(a, &first, &sb);
	snprintf(log_c, sizeof(log_c), "%s/c.log", dir);
	live_init(&l);
	cr_assert_eq(procdom_spawner_submit(sp, a, l.boot, log_c, NULL, l.fds, 4, &s1), 0);
	live_sent(&l);
	s2 = submit_bad(sp, b, log_b);
	child = held_at_clone(sb);
	cr_assert_eq(getpgid(child), sb, "made in the template's group");
	cr_assert_eq(ptrace(PTRACE_DETACH, sb, 0, 0), 0);
	wait_ended(sb); /* it answered; the second request gave it up */
	for (int i = 0; i < 10; i++) {
		cr_assert(alive(child), "killed with the template's group");
		sleep_ms(10);
	}
	cr_assert_eq(answer_of(sp, s1, &pid), 0);
	cr_assert_eq(pid, child);
	keep(pid);
	cr_assert_eq(answer_of(sp, s2, &second), 0);
	keep(second);
	cr_assert(reaped_by_host(sp, sb), "the template is reaped");
	let_go(child);
	cr_assert(live_booting(&l), "the child did not boot");
	cr_assert_eq(getpgid(child), child);
	reap(first);
	reap(second);
	live_end(&l, child);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/*
 * The crash window: the template made the domain's process (the host's
 * child) and died before it said so. Stopped right after its clone by
 * ptrace (the child exists, stopped too, holding the request's fds and
 * the template's socket), then killed. The child, held, keeps the
 * template's socket open, so no answer and no EOF come; the template's
 * pidfd tells its death at once (not the 250 ms answer deadline, which
 * would ban its program): it died with a request in flight, once, which
 * does not ban. The request fails; the child nobody was told of is killed
 * and reaped by the host's sweep; the next request works (cold), and its
 * answer plans a template again.
 */
Test(standby, killed_between_its_clone_and_its_answer)
{
	char *argv[] = { prog, NULL }, log_c[96];
	struct procdom_spawner *sp;
	pid_t first, sb, orphan, pid = 0, next;
	uint32_t seq;
	struct live l;

	SKIP_UNLESS_PTRACE();
	sp = traced_template(argv, &first, &sb);
	seq = submit_bad(sp, argv, log_b);
	orphan = held_at_clone(sb);
	cr_assert_eq(ppid_of(orphan), getpid(), "the child is the host's");
	kill(sb, SIGKILL);

	cr_assert_eq(answer_of(sp, seq, &pid), -ECANCELED, "the creation fails cleanly");
	cr_assert_eq(pid, 0);
	cr_assert(reaped_by_host(sp, orphan), "the child nobody was told of is gone (no zombie)");
	cr_assert(reaped_by_host(sp, sb), "the template is reaped");
	cr_assert_not(gone(first), "a known child is left alone (ours to reap)");
	cr_assert(nr_logged >= 2, "logged %u", nr_logged);
	cr_assert_eq(logged_with("died while it served a request"), 1, "logged '%s'", logged[0]);
	cr_assert_eq(logged_with("no answer within"), 0, "the deadline waited for");
	cr_assert_eq(logged_with("from now on"), 0, "banned");
	cr_assert_eq(logged_with("1 child process(es) nobody was told of (pid "), 1,
		     "logged '%s' '%s'", logged[0], logged[1]);

	snprintf(log_c, sizeof(log_c), "%s/c.log", dir);
	next = live_request(sp, argv, log_c, &l);
	cr_assert(next > 0 && next != orphan, "the next creation works");
	cr_assert(cold(next), "no template yet: it starts fresh");
	cr_assert_gt(standby_wait(sp), 0, "one death in flight banned the program");
	reap(first);
	live_end(&l, next);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/*
 * The template answers right after its clone, before its child has run a
 * single instruction of its own (here: held there by ptrace): when the
 * host has the answer, the child must lead its own process group already
 * (the host stops, continues and kills domains by their group).
 */
Test(standby, its_child_leads_its_group_when_answered)
{
	char *argv[] = { prog, NULL }, log_c[96];
	struct procdom_spawner *sp;
	pid_t first, sb, child, pid = 0;
	uint32_t seq;

	SKIP_UNLESS_PTRACE();
	sp = traced_template(argv, &first, &sb);
	snprintf(log_c, sizeof(log_c), "%s/c.log", dir);
	seq = submit_bad(sp, argv, log_c);
	child = held_at_clone(sb);
	/* The template goes on (it answers); its child stays held. */
	cr_assert_eq(ptrace(PTRACE_DETACH, sb, 0, 0), 0);
	cr_assert_eq(answer_of(sp, seq, &pid), 0);
	cr_assert_eq(pid, child);
	keep(pid);
	cr_assert_eq(getpgid(child), child, "answered while still in the template's group");
	let_go(child); /* auto-attached, stopped before its first step */
	cr_assert(log_says(log_c, "boot failed at 'env'"));
	cr_assert_eq(standby_wait(sp), sb, "the template stays");
	reap(first);
	reap(child);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/*
 * A template is not trusted (its program's constructors ran in it): one
 * that answers with the pid of a process the host knows (here, the first
 * domain's) instead of a child of its own is refused -- that request alone
 * fails (-EPROTO, with its seq), the spawner lives on, another request in
 * flight behind it is served, the program gets no template again -- and
 * nothing the host knows is touched by the cleanup that follows.
 */
Test(standby, a_lying_template_is_not_believed)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *argv[] = { (char *)liar, NULL }, *other[] = { prog, NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, spawner = procdom_spawner_pid(sp), pid = 1, second = 0, third;
	uint32_t s1, s2;

	cr_assert_not_null(liar, "XENON_TEST_LIAR not set");
	first = request(sp, argv, log_a); /* cold: it waits */
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0, "the liar as a template");
	s1 = submit_bad(sp, argv, log_b);
	s2 = submit_bad(sp, other, log_a); /* another program, in flight behind it */
	cr_assert_eq(answer_of(sp, s1, &pid), -EPROTO, "a known process taken for a new child");
	cr_assert_eq(pid, 0);
	cr_assert_eq(answer_of(sp, s2, &second), 0, "the request behind it failed too");
	keep(second);
	cr_assert_eq(procdom_spawner_pid(sp), spawner);
	cr_assert_not(gone(spawner), "the spawner was given up");
	cr_assert(reaped_by_host(sp, sb), "the liar is reaped");
	cr_assert_not(gone(first), "the process it named is left alone");
	third = request(sp, argv, log_b);
	cr_assert(cold(third), "the liar's program starts fresh from now on");
	cr_assert(no_standby_for_a_while(sp));
	cr_assert_eq(logged_with("no template for this program from now on"), 1, "logged '%s'",
		     logged[0]);
	procdom_spawner_destroy(sp);
	cr_assert_eq(ppid_of(first), getpid());
	reap(first);
	reap(second);
	reap(third);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/*
 * A template that says ready and answers, but never reads a request: its
 * socket fills up. The spawner's send does not block (it would hold the
 * spawner, and xenon-hvd waiting for its answer, for ever): the template
 * is given up there, that request starts fresh, the program is banned.
 */
Test(standby, one_that_does_not_read_its_requests)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *argv[] = { (char *)liar, "mute", NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t child = 0, pid = 0, fresh = 0;
	int i, fd;

	request(sp, argv, log_a); /* cold: it waits (kept: reaped at the end) */
	/* Until its template serves (its one child, named again and again,
	 * is not kept: we never learn of it otherwise), then until one is
	 * not its: the template given up, that request started fresh. */
	for (i = 0; i < 20000 && !fresh; i++) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		cr_assert_eq(procdom_spawner_spawn(sp, argv, "XENON_BOOT=bad", log_b, NULL, &fd, 1,
						   &pid),
			     0, "request %d", i);
		close(fd);
		if (forked(pid)) {
			child = pid;
		} else if (child) {
			fresh = pid;
		} else {
			keep(pid); /* a cold start before its template is ready */
			sleep_ms(10);
		}
	}
	cr_assert_gt(child, 0, "its template never served");
	cr_assert_gt(fresh, 0, "never given up");
	keep(fresh);
	cr_assert(cold(fresh));
	cr_assert_eq(logged_with("it does not read its requests"), 1, "logged '%s'", logged[0]);
	cr_assert_eq(logged_with("no template for this program from now on"), 1);
	cr_assert(no_standby_for_a_while(sp));
	procdom_spawner_destroy(sp);
	reap(child);
	while (nr_kept)
		reap(kept[nr_kept - 1]);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* An answer longer than an int32_t: malformed, not cut to size and taken
 * for a pid. The request fails (the template may have made a child: it
 * did, which the sweep kills), the program is banned. */
Test(standby, an_answer_of_the_wrong_size)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *argv[] = { (char *)liar, "long", NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, pid = 0;
	uint32_t seq;

	first = request(sp, argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	seq = submit_bad(sp, argv, log_b);
	cr_assert_eq(answer_of(sp, seq, &pid), -ECANCELED, "pid %d believed", pid);
	cr_assert(reaped_by_host(sp, sb));
	for (int i = 0; i < 1000 && programs(sp) > 1; i++) {
		host_turn(sp);
		sleep_ms(10);
	}
	cr_assert_eq(programs(sp), 1, "the child it made is swept");
	cr_assert_eq(logged_with("a malformed answer"), 1, "logged '%s'", logged[0]);
	cr_assert_eq(logged_with("nobody was told of"), 1);
	reap(first);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* Error answers: the kernel's -EAGAIN is not the template's fault (it
 * stays, the request starts fresh); -EINVAL is (given up, banned, though
 * its program's templates have worked: the request starts fresh). */
Test(standby, error_answers)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *again[] = { (char *)liar, "errno=11", NULL },
	     *inval[] = { (char *)liar, "errno=22", NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, d1, d2, d3;

	first = request(sp, again, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	d1 = request(sp, again, log_b);
	cr_assert(cold(d1));
	cr_assert_eq(standby_wait(sp), sb, "a template that could not clone is kept");
	d2 = request(sp, again, log_b);
	cr_assert(cold(d2));
	cr_assert_eq(standby_wait(sp), sb);
	cr_assert_eq(logged_with("could not clone: Resource temporarily unavailable"), 2);
	cr_assert_eq(nr_warned, 0);

	d3 = request(sp, inval, log_b); /* another argv: sb discarded */
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	reap(d3);
	d3 = request(sp, inval, log_b);
	cr_assert(cold(d3));
	cr_assert(reaped_by_host(sp, sb));
	cr_assert_eq(logged_with("it answered Invalid argument: no template for this program"), 1,
		     "logged '%s'", logged[nr_logged - 1]);
	cr_assert(no_standby_for_a_while(sp));
	reap(first);
	reap(d1);
	reap(d2);
	reap(d3);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* A template of `again` (errno=11) ready: two -EAGAIN answers keep it,
 * the third in a row gives it up (each of the three requests cold). */
static void three_transients(struct procdom_spawner *sp, char **again, pid_t sb)
{
	int i;

	for (i = 0; i < 3; i++) {
		cr_assert(cold(request(sp, again, log_b)));
		if (i < 2)
			cr_assert_eq(standby_wait(sp), sb, "kept after %d", i + 1);
	}
	cr_assert(reaped_by_host(sp, sb), "the third in a row gave it up");
}

/* -EAGAIN is the kernel's, twice; the third in a row may still be (short of
 * memory for a while), or the template's (it would say so for ever): given
 * up, that request fresh, and its program rests -- no template of it for
 * REST_MS, not banned: after that a template again; given up so again,
 * twice as long. */
Test(standby, three_transient_answers_in_a_row_rest_the_program)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *again[] = { (char *)liar, "errno=11", NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t sb, sb2;

	request(sp, again, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	three_transients(sp, again, sb);
	cr_assert_eq(logged_with("it answered Resource temporarily unavailable 3 times in a row: "
				 "no template for this program for 300 ms"),
		     1, "logged '%s'", logged[nr_logged - 1]);
	cr_assert_eq(nr_warned, 1, "a user is told");
	cr_assert_eq(logged_with("from now on"), 0, "not banned");
	request(sp, again, log_b);
	cr_assert(no_standby_for_a_while(sp), "a template while it rests");

	sleep_ms(REST_MS);
	request(sp, again, log_b); /* its answer plans a template: due now */
	sb2 = standby_wait(sp);
	cr_assert_gt(sb2, 0, "no template after the rest");
	cr_assert_neq(sb2, sb);
	three_transients(sp, again, sb2);
	cr_assert_eq(logged_with("3 times in a row: no template for this program for 600 ms"), 1,
		     "logged '%s'", logged[nr_logged - 1]);
	cr_assert(no_standby_for_a_while(sp));
	procdom_spawner_destroy(sp);
	while (nr_kept)
		reap(kept[nr_kept - 1]);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* A served request ends a run of -EAGAIN answers: a template that answers
 * so twice, serves, and again, stays (never three in a row). */
Test(standby, a_served_request_ends_a_run_of_transient_answers)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *flaky[] = { (char *)liar, "flaky", NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t sb, d;
	int i;

	request(sp, flaky, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	for (i = 0; i < 8; i++) {
		d = request(sp, flaky, log_b);
		if (i % 3 < 2)
			cr_assert(cold(d), "request %d", i);
		else
			cr_assert(forked(d), "request %d: its template's child", i);
		cr_assert_eq(standby_wait(sp), sb, "kept after request %d", i);
	}
	cr_assert_eq(logged_with("could not clone: Resource temporarily unavailable"), 6);
	cr_assert_eq(logged_with("in a row"), 0);
	cr_assert_eq(nr_warned, 0);
	procdom_spawner_destroy(sp);
	while (nr_kept)
		reap(kept[nr_kept - 1]);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* The template of liar mode die, ready, given a request: it dies with it
 * in flight; that request fails. */
static void dies_in_flight(struct procdom_spawner *sp, char **argv)
{
	pid_t sb = standby_wait(sp), pid = 1;

	cr_assert_gt(sb, 0);
	cr_assert_eq(answer_of(sp, submit_bad(sp, argv, log_b), &pid), -ECANCELED);
	cr_assert_eq(pid, 0);
	cr_assert(reaped_by_host(sp, sb));
}

/* A proven program (its templates say ready) whose templates die with a
 * request in flight, twice in a row: every request of it would fail, so
 * it is banned, proven or not, said once. Each death logged as what it
 * was (not "died unused"). */
Test(standby, dying_in_flight_twice_bans_a_proven_program)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *argv[] = { (char *)liar, "die", NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, second;

	first = request(sp, argv, log_a);
	dies_in_flight(sp, argv);
	cr_assert_eq(logged_with("died while it served a request"), 1, "logged '%s'", logged[0]);
	cr_assert_eq(logged_with("died unused"), 0, "logged '%s'", logged[0]);
	cr_assert_eq(nr_warned, 0, "one death is no reason to give up");
	second = request(sp, argv, log_a); /* an answer: a template again */
	dies_in_flight(sp, argv);
	cr_assert_eq(logged_with("its template died while it served a request twice in a row"), 1,
		     "logged '%s'", logged[nr_logged - 1]);
	cr_assert_eq(nr_warned, 1);
	reap(request(sp, argv, log_a));
	cr_assert(no_standby_for_a_while(sp), "a template of a banned program");
	reap(first);
	reap(second);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* The liar template's constructor child (mode fork=PATH): its pid. */
static pid_t forked_by_constructor(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	return pid;
}

/* Gone or ending, 10 s at most (not our child: init reaps it). */
static bool ends(pid_t pid)
{
	for (int i = 0; i < 1000 && alive(pid); i++)
		sleep_ms(10);
	return !alive(pid);
}

/*
 * What a guest constructor forked in a template is the template's child,
 * in its process group, not the host's: no sweep finds it. Given up, the
 * template goes with its group: discarded (another argv), and at destroy.
 */
Test(standby, what_its_constructors_forked_goes_with_it)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char mode[128], *argv[] = { (char *)liar, mode, NULL }, *other[] = { prog, NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, g, second;

	snprintf(mode, sizeof(mode), "fork=%s/forked", dir);
	first = request(sp, argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	g = forked_by_constructor(mode + 5);
	cr_assert(alive(g) && getpgid(g) == sb, "the constructor's child, in its group");
	second = request(sp, other, log_b); /* the template discarded */
	cr_assert(reaped_by_host(sp, sb));
	cr_assert(ends(g), "the constructor's child outlived its template");

	reap(request(sp, argv, log_b));
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	g = forked_by_constructor(mode + 5);
	cr_assert(alive(g) && getpgid(g) == sb);
	procdom_spawner_destroy(sp);
	cr_assert(ends(g), "the constructor's child outlived destroy");
	reap(first);
	reap(second);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/*
 * A template killed from outside while a child its constructors forked
 * holds its socket open: no EOF comes, but its pidfd tells the spawner at
 * once -- given up as dead unused (the host reaps it, its group with that
 * child), not when the next request would have waited 250 ms for an
 * answer and failed; its program is not banned: the next request plans a
 * template again.
 */
Test(standby, killed_while_its_constructor_child_holds_its_socket)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char mode[128], *argv[] = { (char *)liar, mode, NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t sb, g;

	snprintf(mode, sizeof(mode), "keep=%s/forked", dir);
	request(sp, argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	g = forked_by_constructor(mode + 5);
	cr_assert(alive(g) && getpgid(g) == sb);
	cr_assert_eq(kill(sb, SIGKILL), 0);
	cr_assert(reaped_by_host(sp, sb), "its death unnoticed");
	cr_assert(ends(g), "the constructor's child outlived its template");
	cr_assert_eq(logged_with("died unused"), 1, "logged '%s'",
		     nr_logged ? logged[nr_logged - 1] : "");
	cr_assert_eq(nr_warned, 0, "not banned");

	request(sp, argv, log_b); /* cold; its answer plans a template again */
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0, "no template after one died unused once");
	procdom_spawner_destroy(sp);
	while (nr_kept)
		reap(kept[nr_kept - 1]);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* Take notices until cond holds, 10 s at most. */
#define TAKE_NOTICES_UNTIL(sp, cond)                           \
	do {                                                   \
		for (int i_ = 0; i_ < 1000 && !(cond); i_++) { \
			host_turn(sp);                         \
			sleep_ms(10);                          \
		}                                              \
	} while (0)

/* Programs that say why they cannot be a template (procdom_proto.h 1b):
 * the reason logged once, as it is if it is text; the program banned. */
Test(standby, one_that_refuses_says_why)
{
	const char *unfit = getenv("XENON_TEST_UNFIT_GUEST"), *liar = getenv("XENON_TEST_LIAR");
	char *argv[] = { (char *)unfit, NULL }, *refuse[] = { (char *)liar, "refuse", NULL };
	struct procdom_spawner *sp;

	cr_assert_not_null(unfit, "XENON_TEST_UNFIT_GUEST not set");
	setenv("XENON_TEST_UNFIT", "thread", 1); /* the spawner passes it on */
	sp = spawner_with_standby();
	reap(request(sp, argv, log_a));
	TAKE_NOTICES_UNTIL(sp, nr_logged == 1 && !programs(sp));
	cr_assert_eq(logged_with("a template of it (pid "), 1, "logged '%s'", logged[0]);
	cr_assert_eq(logged_with("refused to be one: standby: fork=1 needs a single-threaded "
				 "process, this one has 2 threads"),
		     1, "logged '%s'", logged[0]);
	reap(request(sp, argv, log_a));
	cr_assert(no_standby_for_a_while(sp));
	cr_assert_eq(programs(sp), 0, "a template was started after all");

	reap(request(sp, refuse, log_a));
	TAKE_NOTICES_UNTIL(sp, nr_logged == 2 && !programs(sp));
	cr_assert_eq(logged_with("refused to be one: (a reason that is not printable text)"), 1,
		     "logged '%s'", logged[1]);
	cr_assert_eq(nr_warned, 2, "each said once");
	procdom_spawner_destroy(sp);
	unsetenv("XENON_TEST_UNFIT");
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* A program that knows nothing of XENON_STANDBY and does not exit: its
 * template never says ready, and is given up at its deadline (1 s), by
 * the spawner's own clock, not when the next request happens to look. */
Test(standby, one_that_never_says_ready_goes_at_its_deadline)
{
	char sleeper[96], *argv[] = { sleeper, NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first;
	FILE *f;

	snprintf(sleeper, sizeof(sleeper), "%s/sleeper", dir);
	f = fopen(sleeper, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\nexec sleep 30\n");
	fclose(f);
	cr_assert_eq(chmod(sleeper, 0755), 0);
	first = request(sp, argv, log_a);
	TAKE_NOTICES_UNTIL(sp, programs(sp) == 2);
	cr_assert_eq(programs(sp), 2, "its template was started");
	TAKE_NOTICES_UNTIL(sp, nr_logged == 1 && programs(sp) == 1);
	cr_assert_eq(nr_logged, 1, "given up without a request");
	cr_assert_not_null(strstr(logged[0], "died unused"), "%s", logged[0]);
	cr_assert_eq(programs(sp), 1, "and reaped");
	reap(first);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

Test(standby, a_program_that_cannot_be_one)
{
	char *argv[] = { "/bin/true", NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	unsigned int k;
	int i;

	/* Each template of /bin/true exits at once (it knows nothing of
	 * XENON_STANDBY): reaped, counted; after two, none is started. */
	for (k = 0; k < 2; k++) {
		reap(request(sp, argv, log_a));
		TAKE_NOTICES_UNTIL(sp, nr_logged == k + 1 && !programs(sp));
		cr_assert_eq(nr_logged, k + 1, "death %u not seen", k + 1);
		cr_assert_eq(programs(sp), 0, "a template left");
	}
	cr_assert_eq(nr_warned, 1, "given up, said once");
	cr_assert_not_null(strstr(logged[1], "/bin/true: its standby died unused twice"), "%s",
			   logged[1]);
	reap(request(sp, argv, log_a));
	for (i = 0; i < 30; i++) { /* well past the delay before a template */
		host_turn(sp);
		cr_assert_eq(programs(sp), 0, "a template was started after all");
		sleep_ms(10);
	}
	procdom_spawner_destroy(sp);
	cr_assert_eq(nr_logged, 2);
}

/*
 * A ban is remembered while other programs pass through: the table of
 * programs (16) forgets unbanned ones first. The liar banned, then 16
 * other programs (copies of /bin/true: each template dies unused once),
 * then the liar again: still no template.
 */
Test(standby, a_ban_outlives_16_other_programs)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *inval[] = { (char *)liar, "errno=22", NULL }, path[16][96], *argv[2] = { NULL, NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb;
	unsigned int k, base;

	first = request(sp, inval, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	reap(request(sp, inval, log_b));
	cr_assert(reaped_by_host(sp, sb));
	cr_assert_eq(logged_with("no template for this program from now on"), 1);
	reap(first);
	base = nr_logged;
	for (k = 0; k < 16; k++) {
		snprintf(path[k], sizeof(path[k]), "%s/true%u", dir, k);
		copy_file("/bin/true", path[k]);
		argv[0] = path[k];
		reap(request(sp, argv, log_a));
		TAKE_NOTICES_UNTIL(sp, nr_logged == base + k + 1 && !programs(sp));
		cr_assert_eq(nr_logged, base + k + 1, "program %u: its template's death not seen",
			     k);
	}
	reap(request(sp, inval, log_b));
	cr_assert(no_standby_for_a_while(sp), "the ban was forgotten");
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

Test(standby, none_without_the_option)
{
	char *argv[] = { prog, NULL };
	struct procdom_spawner *sp;
	pid_t first;
	int i;

	cr_assert_eq(procdom_spawner_create(&sp), 0);
	first = request(sp, argv, log_a);
	cr_assert(log_says(log_a, "boot failed at 'env'"));
	for (i = 0; i < 20; i++) {
		cr_assert_eq(standby_now(), 0);
		sleep_ms(10);
	}
	reap(first);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* ---- where the kernel does not list children --------------------------------- */

/*
 * A private mount namespace with /proc replaced by a tmpfs that has our
 * own task directory but no children file: a kernel without
 * CONFIG_PROC_CHILDREN, as the sweep sees it. false: not allowed here.
 */
static bool fake_proc_without_children(void)
{
	char path[96];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("fakeproc", "/proc", "tmpfs", 0, NULL) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/task/%ld", (long)syscall(SYS_gettid));
	cr_assert_eq(mkdir("/proc/self", 0755), 0);
	cr_assert_eq(mkdir("/proc/self/task", 0755), 0);
	cr_assert_eq(mkdir(path, 0755), 0);
	return true;
}

static void real_proc(void)
{
	cr_assert_eq(umount2("/proc", MNT_DETACH), 0, "%s", strerror(errno));
}

/* Read as an empty list, a missing children file would make every sweep
 * blind: it is -ENOSYS, and the spawner keeps no template, said once. */
Test(standby, no_template_where_the_kernel_lists_no_children)
{
	char *argv[] = { prog, NULL };
	struct procdom_spawner *sp;
	unsigned int n = 0;
	pid_t *pids = NULL, first;

	if (!fake_proc_without_children())
		cr_skip_test("no private mount namespace here: %s", strerror(errno));
	cr_assert_eq(procdom_children_list(&pids, &n), -ENOSYS);
	sp = spawner_with_standby();
	real_proc();
	cr_assert_not(procdom_spawner_has_standby(sp));
	cr_assert_eq(nr_warned, 1);
	cr_assert_eq(logged_with("templates off"), 1, "logged '%s'", logged[0]);
	cr_assert_eq(logged_with("CONFIG_PROC_CHILDREN"), 1);
	first = request(sp, argv, log_a);
	cr_assert(no_standby_for_a_while(sp));
	reap(first);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* A sweep owed that cannot look (no /proc now) is given up, logged, not
 * retried every tick for ever. */
Test(standby, a_sweep_that_cannot_look_is_given_up)
{
	const char *liar = getenv("XENON_TEST_LIAR");
	char *argv[] = { (char *)liar, "errno=22", NULL };
	struct procdom_spawner *sp;
	pid_t first, sb, pid = 0;
	uint32_t seq;
	int i;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		cr_skip_test("no private mount namespace here: %s", strerror(errno));
	sp = spawner_with_standby();
	first = request(sp, argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	cr_assert_eq(mount("noproc", "/proc", "tmpfs", 0, NULL), 0, "%s", strerror(errno));
	seq = submit_bad(sp, argv, log_b);
	cr_assert_eq(answer_of(sp, seq, &pid), 0, "an error answer starts it fresh");
	keep(pid);
	for (i = 0; i < 100 && procdom_spawner_owes(sp); i++) {
		procdom_spawner_tick(sp);
		sleep_ms(10);
	}
	cr_assert_not(procdom_spawner_owes(sp), "a sweep owed for ever");
	cr_assert_eq(logged_with("could not look for children nobody was told of"), 1,
		     "logged '%s'", logged[nr_logged - 1]);
	real_proc();
	reap(first);
	reap(pid);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* ---- the sweep -------------------------------------------------------------------- */

static pid_t late;

/* A child that waits to be killed, and dies with us should a check fail
 * first (it holds Criterion's pipes: the runner would wait for it). */
static pid_t idle_child(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		for (;;)
			pause();
	}
	cr_assert_gt(pid, 0);
	return pid;
}

/* Knows nobody; the first time, a child appears after the list (as one a
 * template clones between a pass's list and its kill). */
static void known_none_and_clone(void *ctx, pid_t *pids, unsigned int n)
{
	(void)ctx;
	(void)pids;
	(void)n;
	if (!late)
		late = idle_child();
}

Test(sweep, looks_again_while_it_finds_children)
{
	struct procdom_sweep sw = { .known = known_none_and_clone, .block = true };
	pid_t early = idle_child();

	late = 0;
	cr_assert_eq(procdom_children_sweep(&sw), 0);
	cr_assert_gt(late, 0);
	cr_assert_eq(sw.killed, 2, "killed %u", sw.killed);
	cr_assert(no_such_process(early) && no_such_process(late), "one escaped");
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

static void pd_log(void *ctx, enum hv_log_level level, const char *msg)
{
	note(ctx, level <= HV_LOG_WARN, msg);
}

/* After a spawner with templates went (and spawning fell back to direct,
 * say), procdom_destroy still sweeps: what it kills is said once. */
Test(sweep, procdom_destroy_sweeps_without_a_spawner)
{
	static const struct procdom_hooks hooks = { .local_kick = pdf_no_kick, .log = pd_log };
	struct procdom *pd;
	pid_t stray;

	nr_logged = nr_warned = 0;
	cr_assert_eq(procdom_create(&hooks, &pd), 0);
	procdom_set_standby(pd, true);
	cr_assert_eq(procdom_start_spawner(pd), 0);
	procdom_stop_spawner(pd);
	stray = idle_child();
	procdom_destroy(pd);
	cr_assert(no_such_process(stray), "the stray child lives on");
	cr_assert_eq(logged_with("1 child process(es) nobody was told of (pid "), 1, "logged '%s'",
		     logged[nr_logged ? nr_logged - 1 : 0]);
	cr_assert_eq(logged_with("found at the end"), 1);
	cr_assert_eq(logged_with("unanswered"), 0, "counted twice");
	cr_assert_eq(children_of_self(NULL, 0), 0);
}

/* Without templates no child nobody was told of can exist, so destroying a
 * spawner looks for none: a child of the host's that opts.known does not
 * name is the host's business, and outlives the spawner. */
Test(standby, destroy_without_templates_kills_no_child_of_the_host)
{
	struct procdom_spawner_opts o = { .standby = false, .log = note, .known = known };
	struct procdom_spawner *sp;
	pid_t child = fork();

	cr_assert_geq(child, 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	cr_assert_eq(procdom_spawner_create_opts(&sp, &o), 0);
	cr_assert_not(procdom_spawner_has_standby(sp));
	procdom_spawner_destroy(sp);
	cr_expect_not(gone(child), "the host's child was swept");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}
