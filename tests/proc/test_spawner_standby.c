/*
 * The spawner's standby (substrate/proc/procdom_spawner.h,
 * procdom_standby.c) with a real guest program (XENON_TEST_GUEST,
 * examples/guests/hello, copied to a private path so that it can be
 * touched and replaced): after a request, the program is started once more
 * and waits (a child of ours named xenon-standby); the next request with
 * the same argv is answered with that process, which gets the request's
 * fds, log and XENON_BOOT (its runtime reports the bad boot record we
 * give it in that log); other argv, a touched or a replaced program: a
 * fresh process, the standby reaped; a standby killed while waiting is
 * reaped by the host's next look at the socket and not restarted before
 * the next request; a program that cannot be a standby (/bin/true) loses
 * it after two deaths, logged once; destroy reaps a waiting standby; none
 * without opts.standby.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
#include "procdom_spawner.h"

static char dir[] = "/tmp/test-standby.XXXXXX";
static char prog[80], log_a[80], log_b[80];
static char logged[16][512];
static unsigned int nr_logged, nr_warned;

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
	nr_logged = nr_warned = 0;
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
	if (nr_logged < 16)
		snprintf(logged[nr_logged++], sizeof(logged[0]), "%s", msg);
	nr_warned += warn;
}

static struct procdom_spawner *spawner_with_standby(void)
{
	struct procdom_spawner_opts o = { true, note, NULL };
	struct procdom_spawner *sp;

	cr_assert_eq(procdom_spawner_create_opts(&sp, &o), 0);
	return sp;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static bool gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
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

/* Bounded: 10 s. The notices of standbys given up are taken meanwhile. */
static pid_t standby_wait(struct procdom_spawner *sp)
{
	uint32_t seq;
	pid_t pid, got;
	int i;

	for (i = 0; i < 1000; i++) {
		cr_assert_eq(procdom_spawner_result(sp, false, &seq, &pid), -EAGAIN);
		if ((got = standby_now()))
			return got;
		sleep_ms(10);
	}
	return 0;
}

/* Until pid is reaped (by the spawner's host side, on a notice), 10 s. */
static bool reaped_by_host(struct procdom_spawner *sp, pid_t pid)
{
	uint32_t seq;
	pid_t p;
	int i;

	for (i = 0; i < 1000; i++) {
		cr_assert_eq(procdom_spawner_result(sp, false, &seq, &p), -EAGAIN);
		if (gone(pid))
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
	return pid;
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

Test(standby, the_next_request_gets_it)
{
	char *argv[] = { prog, NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, second, next;

	first = request(sp, argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0, "no standby");
	cr_assert_neq(sb, first);
	cr_assert_eq(getpgid(sb), sb, "it leads its own group");
	second = request(sp, argv, log_b);
	cr_assert_eq(second, sb, "answered with the standby's pid");
	/* It got the request's log and XENON_BOOT: its boot reads ours. */
	cr_assert(log_says(log_b, "boot failed at 'env'"));
	next = standby_wait(sp);
	cr_assert(next > 0 && next != sb, "the next standby is another process");
	reap(first);
	reap(second);
	cr_assert_eq(procdom_spawner_destroy(sp), 0, "a standby is no orphan");
	cr_assert(gone(next), "destroy reaped the waiting standby");
	cr_assert_eq(children_of_self(NULL, 0), 0);
	cr_assert_eq(nr_warned, 0);
}

/* A standby that must not be used: the request runs fresh, the standby is
 * reaped on the way (before the answer), and a new one follows. */
static void not_given(char **first_argv, char **second_argv, void (*change)(void))
{
	struct procdom_spawner *sp = spawner_with_standby();
	pid_t first, sb, second;

	first = request(sp, first_argv, log_a);
	sb = standby_wait(sp);
	cr_assert_gt(sb, 0);
	if (change)
		change();
	second = request(sp, second_argv, log_b);
	cr_assert_neq(second, sb, "given the stale standby");
	cr_assert(gone(sb), "the stale standby was reaped before the answer");
	cr_assert(log_says(log_b, "boot failed at 'env'"));
	cr_assert_gt(standby_wait(sp), 0, "a standby of the new request follows");
	reap(first);
	reap(second);
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
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };

	/* Its mtime and ctime move (the file is busy: it cannot be written). */
	sleep_ms(20);
	cr_assert_eq(utimensat(AT_FDCWD, prog, now, 0), 0);
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
	second = request(sp, argv, log_b);
	cr_assert_neq(second, sb);
	cr_assert(log_says(log_b, "boot failed at 'env'"));
	next = standby_wait(sp);
	cr_assert_gt(next, 0, "the next request brings one back");
	reap(first);
	reap(second);
	procdom_spawner_destroy(sp);
	cr_assert_eq(children_of_self(NULL, 0), 0);
	cr_assert_eq(nr_warned, 0, "one death is no reason to give up");
}

/* Take notices until cond holds, 10 s at most. */
#define TAKE_NOTICES_UNTIL(sp, cond)                                                          \
	do {                                                                                  \
		uint32_t seq_;                                                                \
		pid_t p_;                                                                     \
		for (int i_ = 0; i_ < 1000 && !(cond); i_++) {                                \
			cr_assert_eq(procdom_spawner_result(sp, false, &seq_, &p_), -EAGAIN); \
			sleep_ms(10);                                                         \
		}                                                                             \
	} while (0)

Test(standby, a_program_that_cannot_be_one)
{
	char *argv[] = { "/bin/true", NULL };
	struct procdom_spawner *sp = spawner_with_standby();
	unsigned int k;
	int i;

	/* Each standby of /bin/true exits at once (it knows nothing of
	 * XENON_STANDBY): reaped, counted; after two, none is started. */
	for (k = 0; k < 2; k++) {
		reap(request(sp, argv, log_a));
		TAKE_NOTICES_UNTIL(sp, nr_logged == k + 1 && !programs(sp));
		cr_assert_eq(nr_logged, k + 1, "death %u not seen", k + 1);
		cr_assert_eq(programs(sp), 0, "a standby left");
	}
	cr_assert_eq(nr_warned, 1, "given up, said once");
	cr_assert_not_null(strstr(logged[1], "/bin/true: its standby died unused twice"), "%s",
			   logged[1]);
	reap(request(sp, argv, log_a));
	for (i = 0; i < 30; i++) { /* well past the delay before a standby */
		uint32_t seq;
		pid_t p;

		cr_assert_eq(procdom_spawner_result(sp, false, &seq, &p), -EAGAIN);
		cr_assert_eq(programs(sp), 0, "a standby was started after all");
		sleep_ms(10);
	}
	procdom_spawner_destroy(sp);
	cr_assert_eq(nr_logged, 2);
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
