/*
 * The spawner (substrate/proc/procdom_spawner.h) on its own: a child it
 * makes is ours (CLONE_PARENT), leads its own group, holds exactly 0-2 and
 * the fds passed (at 3, 4, ...), and sees the environment entry replaced;
 * an exec failure comes back as its errno with no zombie left; bad
 * requests are refused before anything is sent; a dead spawner is -EPIPE;
 * the log named "next" exists once the following request is answered;
 * destroy kills and reaps the children whose answers were not taken, and
 * only those; at most PROCDOM_SPAWNER_MAX_INFLIGHT requests wait.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
#include "procdom_spawner.h"

static char dir[] = "/tmp/test-spawner.XXXXXX";
static char log_a[64], log_b[64], log_c[64];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(log_a, sizeof(log_a), "%s/a.log", dir);
	snprintf(log_b, sizeof(log_b), "%s/b.log", dir);
	snprintf(log_c, sizeof(log_c), "%s/c.log", dir);
}

static void teardown(void)
{
	unlink(log_a);
	unlink(log_b);
	unlink(log_c);
	rmdir(dir);
}

TestSuite(spawner, .init = setup, .fini = teardown, .timeout = 30);

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* The child's open fds as "0 1 2 ...". */
static void fds_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	int seen[64] = { 0 }, fd;
	struct dirent *e;
	size_t len = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	cr_assert_not_null(d);
	buf[0] = '\0';
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd < 64)
			seen[fd] = 1;
		else /* the spawner's own fds live up there: none may leak */
			len += (size_t)snprintf(buf + len, size - len, "high:%d ", fd);
	}
	closedir(d);
	for (fd = 0; fd < 64; fd++)
		if (seen[fd])
			len += (size_t)snprintf(buf + len, size - len, "%d ", fd);
}

static bool environ_has(pid_t pid, const char *entry)
{
	char path[64], buf[65536];
	size_t n, off = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (; off < n; off += strlen(buf + off) + 1)
		if (!strcmp(buf + off, entry))
			return true;
	return false;
}

Test(spawner, child_is_ours_with_exactly_its_fds)
{
	char *argv[] = { "/bin/sleep", "30", NULL }, fds[128], link[64], target[256];
	struct procdom_spawner *sp;
	int p[2], extra, passed[2];
	ssize_t n;
	pid_t pid;

	cr_assert_eq(setenv("XENON_TEST_ENTRY", "old", 1), 0);
	cr_assert_eq(procdom_spawner_create(&sp), 0);
	/* Fds of ours the child must not see, whatever their flags. */
	cr_assert_eq(pipe(p), 0);
	extra = open("/dev/null", O_RDONLY);
	cr_assert_geq(extra, 0);
	passed[0] = p[1];
	passed[1] = p[0];
	cr_assert_eq(procdom_spawner_spawn(sp, argv, "XENON_TEST_ENTRY=new", log_a, NULL, passed, 2,
					   &pid),
		     0);
	cr_assert_eq(getpgid(pid), pid, "leads its own process group");
	/* The spawner answers once the exec has replaced the child's memory,
	 * but the kernel closes close-on-exec fds a moment later in the same
	 * execve(): look again (bounded: 10 s, a loaded machine may keep the
	 * child waiting for a CPU) until that has happened. */
	for (int i = 0; i < 10000; i++) {
		fds_of(pid, fds, sizeof(fds));
		if (!strcmp(fds, "0 1 2 3 4 "))
			break;
		usleep(1000);
	}
	cr_assert_str_eq(fds, "0 1 2 3 4 ");
	snprintf(link, sizeof(link), "/proc/%d/fd/1", (int)pid);
	n = readlink(link, target, sizeof(target) - 1);
	cr_assert_gt(n, 0);
	target[n] = '\0';
	cr_assert_str_eq(target, log_a);
	cr_assert(environ_has(pid, "XENON_TEST_ENTRY=new"));
	cr_assert_not(environ_has(pid, "XENON_TEST_ENTRY=old"));
	/* Ours: waitpid works on it (a grandchild would be -ECHILD). */
	reap(pid);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), 0, "only the spawner is left as a child");
	procdom_spawner_destroy(sp);
	close(p[0]);
	close(p[1]);
	close(extra);
}

Test(spawner, exec_failure_is_its_errno_and_leaves_no_zombie)
{
	char *argv[] = { "/nonexistent/program", NULL };
	struct procdom_spawner *sp;
	int fd = open("/dev/null", O_RDONLY);
	pid_t pid = 0;

	cr_assert_eq(procdom_spawner_create(&sp), 0);
	cr_assert_eq(procdom_spawner_spawn(sp, argv, "A=b", log_a, NULL, &fd, 1, &pid), -ENOENT);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), 0, "the failed child was reaped");
	procdom_spawner_destroy(sp);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
	close(fd);
}

Test(spawner, bad_requests_are_refused)
{
	char *rel[] = { "bin/true", NULL }, *ok[] = { "/bin/true", NULL };
	int fds[PROCDOM_SPAWNER_MAX_FDS + 1] = { 0 };
	struct procdom_spawner *sp;
	pid_t pid;

	cr_assert_eq(procdom_spawner_create(&sp), 0);
	cr_assert_eq(procdom_spawner_spawn(sp, rel, "A=b", log_a, NULL, fds, 1, &pid), -EINVAL);
	cr_assert_eq(procdom_spawner_spawn(sp, ok, "no-equals", log_a, NULL, fds, 1, &pid),
		     -EINVAL);
	cr_assert_eq(procdom_spawner_spawn(sp, ok, "A=b", "", NULL, fds, 1, &pid), -EINVAL);
	cr_assert_eq(procdom_spawner_spawn(sp, ok, "A=b", log_a, NULL, fds,
					   PROCDOM_SPAWNER_MAX_FDS + 1, &pid),
		     -EINVAL);
	procdom_spawner_destroy(sp);
}

Test(spawner, dead_spawner_is_epipe)
{
	char *argv[] = { "/bin/true", NULL };
	struct procdom_spawner *sp;
	siginfo_t si;
	int fd = open("/dev/null", O_RDONLY);
	pid_t pid;

	cr_assert_eq(procdom_spawner_create(&sp), 0);
	kill(procdom_spawner_pid(sp), SIGKILL);
	/* Dead (its socket closed) but not reaped, as the host finds it. */
	cr_assert_eq(waitid(P_PID, (id_t)procdom_spawner_pid(sp), &si, WEXITED | WNOWAIT), 0);
	cr_assert_eq(procdom_spawner_spawn(sp, argv, "A=b", log_a, NULL, &fd, 1, &pid), -EPIPE);
	procdom_spawner_destroy(sp);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "destroy reaped it");
	close(fd);
}

Test(spawner, next_log_exists_after_the_following_request)
{
	char *argv[] = { "/bin/true", NULL };
	struct procdom_spawner *sp;
	int fd = open("/dev/null", O_RDONLY);
	struct stat st;
	pid_t pid;

	cr_assert_eq(procdom_spawner_create(&sp), 0);
	cr_assert_eq(procdom_spawner_spawn(sp, argv, "A=b", log_a, log_c, &fd, 1, &pid), 0);
	reap(pid);
	cr_assert_eq(procdom_spawner_spawn(sp, argv, "A=b", log_b, NULL, &fd, 1, &pid), 0);
	reap(pid);
	cr_assert_eq(stat(log_c, &st), 0, "created ahead");
	cr_assert_eq(st.st_mode & 0777, 0600);
	/* And used when named: the same file, still there. */
	cr_assert_eq(procdom_spawner_spawn(sp, argv, "A=b", log_c, NULL, &fd, 1, &pid), 0);
	reap(pid);
	cr_assert_eq(stat(log_c, &st), 0);
	procdom_spawner_destroy(sp);
	close(fd);
}

/* Requests need not wait for answers: sent back to back, answered in the
 * order sent, each naming its request; none waiting is -EAGAIN. */
Test(spawner, requests_in_flight_are_answered_in_order)
{
	char *ok[] = { "/bin/true", NULL }, *bad[] = { "/nonexistent/program", NULL };
	struct procdom_spawner *sp;
	int fd = open("/dev/null", O_RDONLY);
	uint32_t seq[3], got;
	pid_t pid;

	cr_assert_eq(procdom_spawner_create(&sp), 0);
	cr_assert_eq(procdom_spawner_result(sp, false, &got, &pid), -EAGAIN);
	cr_assert_eq(procdom_spawner_submit(sp, ok, "A=b", log_a, NULL, &fd, 1, &seq[0]), 0);
	cr_assert_eq(procdom_spawner_submit(sp, bad, "A=b", log_a, NULL, &fd, 1, &seq[1]), 0);
	cr_assert_eq(procdom_spawner_submit(sp, ok, "A=b", log_a, NULL, &fd, 1, &seq[2]), 0);
	close(fd); /* they travelled with the requests */
	cr_assert(seq[0] && seq[1] != seq[0] && seq[2] != seq[1]);
	cr_assert_eq(procdom_spawner_result(sp, true, &got, &pid), 0);
	cr_assert_eq(got, seq[0]);
	reap(pid);
	cr_assert_eq(procdom_spawner_result(sp, true, &got, &pid), -ENOENT);
	cr_assert_eq(got, seq[1]);
	cr_assert_eq(procdom_spawner_result(sp, true, &got, &pid), 0);
	cr_assert_eq(got, seq[2]);
	reap(pid);
	cr_assert_eq(procdom_spawner_result(sp, false, &got, &pid), -EAGAIN);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), 0, "no zombie: the failed one was reaped");
	procdom_spawner_destroy(sp);
}

/* Bounded (10 s): until we have `want` children (the spawner included). */
static void await_children(unsigned int want)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 10000 && children_of_self(NULL, 0) < want; i++)
		nanosleep(&ms, NULL);
	cr_assert_eq(children_of_self(NULL, 0), want);
}

Test(spawner, destroy_reaps_only_children_whose_answers_were_not_taken)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct procdom_spawner *sp;
	int fd = open("/dev/null", O_RDONLY), status;
	uint32_t seq[3], got;
	pid_t known, kids[8];

	cr_assert_eq(procdom_spawner_create(&sp), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(procdom_spawner_submit(sp, argv, "A=b", log_a, NULL, &fd, 1, &seq[i]),
			     0);
	cr_assert_eq(procdom_spawner_result(sp, true, &got, &known), 0);
	cr_assert_eq(got, seq[0]);
	await_children(4); /* the spawner, the known one, two answers unread */
	cr_assert_eq(procdom_spawner_destroy(sp), 2, "the two nobody took");
	cr_assert_eq(children_of_self(kids, 8), 1, "the known one is left ...");
	cr_assert_eq(kids[0], known);
	cr_assert_eq(waitpid(known, &status, WNOHANG), 0, "... alive, its status ours to take");
	kill(known, SIGKILL);
	cr_assert_eq(waitpid(known, &status, 0), known);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(fd);
}

Test(spawner, in_flight_is_bounded_and_failed_children_are_reaped_by_destroy)
{
	char *bad[] = { "/nonexistent/program", NULL };
	struct procdom_spawner *sp;
	int fd = open("/dev/null", O_RDONLY);
	uint32_t seq;

	cr_assert_eq(procdom_spawner_create(&sp), 0);
	for (int i = 0; i < PROCDOM_SPAWNER_MAX_INFLIGHT; i++)
		cr_assert_eq(procdom_spawner_submit(sp, bad, "A=b", log_a, NULL, &fd, 1, &seq), 0);
	cr_assert_eq(procdom_spawner_submit(sp, bad, "A=b", log_a, NULL, &fd, 1, &seq), -EBUSY);
	/* Each child failed its exec and exited: zombies, their answers
	 * (which would have reaped them) never taken. */
	await_children(1 + PROCDOM_SPAWNER_MAX_INFLIGHT);
	cr_assert_eq(procdom_spawner_destroy(sp), PROCDOM_SPAWNER_MAX_INFLIGHT);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "no child left, not even a zombie");
	close(fd);
}
