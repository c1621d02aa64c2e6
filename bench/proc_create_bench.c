/*
 * bench-proc-create: process-domain creation to "ready", for 1, 10, 100 and
 * 1000 domains kept alive together, beside a same-run baseline of
 * posix_spawn of a tiny static program each (kept alive, then reaped).
 *
 * One domain's creation, timed end to end as a toolstack does it:
 *
 *   CREATE (xenon-hvd: memfds, core domain_create builds start_info,
 *           paused; the guest's start asked of the spawner, in the
 *           background as `xenon create` asks: it execs during the next
 *           step, its runtime maps memory and waits in PROCDOM_HC_BOOT)
 *   store:  /local/domain/N (dom0's, N reads) and N/data (N's); a watch on
 *           N/data/ready (on a second connection, see struct run);
 *           INTRODUCE (xenstored maps the ring, binds the port)
 *   UNPAUSE (waits for the spawner's answer if it is not in yet)
 *   ready:  the guest (bench-proc-ready-guest) reached start_kernel, brought
 *           up xenbus and wrote N/data/ready; the watch fires.
 *
 * The baseline per process: posix_spawn of bench-proc-tiny (static), which
 * writes one byte on fd 3 when it runs; ready = that byte read. It is a
 * burst of N such spawns (all kept alive, then reaped) *bracketing* the
 * domains: one burst before xenon-hvd starts, one after it is stopped,
 * each as the N domains are, N in a row; the baseline is the median of
 * all 2N spawns, and both halves' medians are printed, so that a change of
 * load between the phases shows instead of moving the ratio unseen.
 * Bracketing rather than alternating single spawns with domains: each
 * side stays a burst of N live processes (what "N domains in a burst"
 * asks), and no spawn runs while a domain's creation is still settling
 * (its process, consoled, the spawner's log and template work) and is
 * charged for it. A count below 10 is run 7 times from scratch (daemons,
 * both baseline bursts), one of 20 or more --runs times (default 3), and
 * its headline is the median of the runs' medians. Every run's figures
 * are printed.
 *
 * Warm-up: each run first creates one domain of the same program (kept,
 * idle, outside every figure but its own line) and spawns one tiny
 * process, untimed but for the "first" line; then, unless --no-standby,
 * it waits until xenon-hvd's spawner has the program's template waiting
 * (procdom_spawner.h: the program last started, started once more ahead
 * of time; each next domain of it is a child the template forks). So the
 * headline is a domain created on a running xenon-hvd, as a toolstack's
 * usually is; the "first" line is the first domain after `xenon up` (no
 * template yet) beside the baseline's first spawn, and a line says how
 * many of the timed domains the template forked (their exec-time
 * environment names XENON_STANDBY). A template is not used up, so
 * domains created back to back (10..1000) are all forked. --no-standby
 * runs xenon-hvd so: every program is exec'd when its domain is created.
 * The first line printed says which, where the run directory is, and the
 * load average. BENCH_DEBUG=1 in the environment prints each fresh run's
 * phases on stderr.
 *
 * The scaling line (N >= 20) compares the last 10 domains of a burst with
 * the first 10, by wall-clock and by CPU time. This shared machine's speed
 * drifts within a burst (other tenants) and moves one run's ratio by
 * +-0.3, so counts of 20 or more are run 3 times (--runs) and the line is
 * each run's and their median. (Timing one posix_spawn beside each of
 * those 20 domains, to divide the drift out, made the ratio noisier.)
 *
 * CPU time per domain: the on-CPU time (schedstat) each process involved
 * spent while the domain was created -- this program as the toolstack,
 * xenon-hvd, xenstored, consoled, blkback, the monitor, the spawner, the
 * template (it forks the domain's process: the clone and its own
 * copy-on-write faults are its time) -- plus the domain process's whole
 * time up to ready. The
 * template's pid is taken once it waits and checked again after the last
 * domain: a line says whether it stayed the same process (a template lost
 * during the run is counted only while it lived, and its successor's
 * start-up not at all: the line says so).
 *
 * Memory per idle domain beyond its own pages, after all N are ready
 * (Pss divides each page among the processes that map it, so the terms
 * add up to what the domains cost without counting a page twice):
 *   xenon-hvd: growth of Pss minus Pss_Shmem (the guests' memfds it maps
 *     are the domains' own pages), per domain; xenstored: Pss growth;
 *     consoled, blkback, the monitor and the spawner: growth of Pss minus
 *     Pss_Shmem (negative when new processes share a daemon's pages);
 *   the template: its whole Pss minus Pss_Shmem at the end, divided by N
 *     (it exists for the domains; their share of the pages they still
 *     share with it is already in their own Pss);
 *   each domain process: Pss minus Pss_Shmem (smaps_rollup), averaged,
 *     and split (smaps, every mapping but the memfds) into its private
 *     pages and its share of pages it shares with other processes (the
 *     template, its siblings: the program's file pages, and memory not
 *     written since the fork);
 *   kernel included: the drop of MemAvailable per domain (noisy).
 * beside the tiny process's Pss and MemAvailable drop (both bursts').
 *
 *   bench-proc-create [--breakdown] [--no-consoled] [--no-standby]
 *                     [--counts 1,10,100,1000] [--runs K] [--pages N] [--hvd PATH]
 *                     [--guest PATH]
 * --runs K (1-9, default 3): runs of each count of 20 or more, for the
 * scaling line (the other lines are the last run's, the headline and CPU
 * line the median of the runs').
 * --breakdown also prints the phases' medians (overall, and first 10 vs last
 * 10) and the last domain process's smaps by mapping; --no-consoled runs
 * xenon-hvd without its console back end (to see its share). The run
 * directory (domain and console logs are created there, one file each per
 * domain) is made in $TMPDIR, default /tmp: creating a file costs 30-500 us
 * on an ext4 without a journal that saw many recent deletions, ~10 us on
 * tmpfs (/run on most systems).
 * Programs are found beside this one (BUILD/bench) and in BUILD/dom0/hvd;
 * --guest runs another guest program instead (e.g. an older build of
 * bench-proc-ready-guest, to compare two in alternating runs).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>

#include "bench.h"
#include "proc_environ.h"
#include "xenon_dom0.h"

extern char **environ;

#define MAX_COUNT 4096
/*
 * Fewer than 10 domains give too few samples for a median on this noisy
 * machine: such a count is run FRESH_RUNS times, each with fresh daemons
 * and its own baseline bursts, and the headline is the median of the runs'
 * medians, its CPU line likewise (each run gets a line; the other lines
 * are the last run's). A count of 20 or more is run --runs times (default
 * 3) so, for the scaling line (top): each run's, then their median.
 */
#define FRESH_RUNS 7
#define MAX_RUNS 9
#define READY_TIMEOUT_MS 30000
#define NR_WHO 9     /* CPU_WHO_* */
#define NR_DAEMONS 7 /* struct run */

struct mem {
	double pss_kib, shmem_kib;
};

struct run {
	char dir[PATH_MAX], run_dir[PATH_MAX + 8];
	pid_t hvd, xsd;
	struct xenon_ctl *ctl;
	/* Requests go on xs, which never has a watch; the ready watch is on
	 * xw. Debian's libxenstore starts a reader thread on a handle's first
	 * watch and from then on hands every reply over through it (two
	 * thread switches per request); `xenon create` sets no watch either. */
	struct xs_handle *xs, *xw;
	uint32_t domid[MAX_COUNT];
	pid_t pid[MAX_COUNT];
	double ms[MAX_COUNT];
	/* Phases of ms[i] (--breakdown): CREATE; the store entries, watch and
	 * INTRODUCE; UNPAUSE to the ready watch. */
	double create_ms[MAX_COUNT], store_ms[MAX_COUNT], ready_ms[MAX_COUNT];
	/* CPU time per domain of every process involved (us, below), and
	 * its split by process (--breakdown): CPU_WHO_* below. */
	double cpu_ms[MAX_COUNT];
	double who_ms[NR_WHO][MAX_COUNT];
	double guest_flt[MAX_COUNT]; /* the domain process's minor faults at ready */
	/* xenon-hvd, xenstored, then those of service_comm[] found, the
	 * template (CPU_WHO_* in daemon_who[]) */
	pid_t daemons[NR_DAEMONS];
	int daemon_who[NR_DAEMONS];
	unsigned int n, nr_daemons;
	unsigned int gone;   /* bit CPU_WHO_*: a daemon found gone after a domain */
	uint32_t warm_domid; /* the warm-up domain (0: none), idle till the end */
	double first_ms;     /* its creation: the first after start-up */
	pid_t standby;	     /* the template waiting after it (0: none) */
	pid_t standby_end;   /* the one waiting after the last domain (0: none) */
	unsigned int forked; /* timed domains the template forked */
	bool first_forked;   /* the first timed one was */
	char *breakdown;     /* --breakdown's smaps listing, taken while it lives */
};

/* Whose CPU time: the toolstack (this program), the daemons, the guest.
 * The daemons are xenon-hvd's children by name (CPU_WHO_HVD + i is
 * daemon_comm[i]; the template is found otherwise, warm_up). */
enum {
	CPU_WHO_TOOL,
	CPU_WHO_HVD,
	CPU_WHO_XSD,
	CPU_WHO_CONSOLED,
	CPU_WHO_BLKBACK,
	CPU_WHO_MONITOR,
	CPU_WHO_SPAWNER,
	CPU_WHO_TEMPLATE,
	CPU_WHO_GUEST
};
static const char *const cpu_who_name[NR_WHO] = { "toolstack", "xenon-hvd", "xenstored",
						  "consoled",  "blkback",   "monitor",
						  "spawner",   "template",  "guest" };
static const char *const service_comm[] = { "xenon-consoled", "xenon-blkback", "xenon-monitor",
					    "xenon-spawner" };

static char self_dir[PATH_MAX], hvd_path[PATH_MAX], guest_path[PATH_MAX], tiny_path[PATH_MAX];
static unsigned long nr_pages = 256;
static bool breakdown, no_consoled, no_standby;
static unsigned int scale_runs = 3; /* --runs: of counts >= 20 */

/* ---- /proc -------------------------------------------------------------- */

static struct mem mem_of(pid_t pid)
{
	struct mem m = { 0, 0 };
	char path[64], line[256];
	unsigned long v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!(f = fopen(path, "r")))
		return m;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Pss: %lu", &v) == 1)
			m.pss_kib = (double)v;
		else if (sscanf(line, "Pss_Shmem: %lu", &v) == 1)
			m.shmem_kib = (double)v;
	}
	fclose(f);
	return m;
}

static double mem_available_kib(void)
{
	char line[256];
	unsigned long v = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return (double)v;
}

/*
 * Where one domain process's memory goes (Pss minus Pss_Shmem, KiB), by
 * mapping: printed under --breakdown for the last domain created. Anonymous
 * mappings are named by size, so thread stacks and malloc arenas stand out.
 * The memfds are the domain's own pages (Pss_Shmem, which per-mapping smaps
 * does not split out), so they are left out.
 */
static void breakdown_print(FILE *out, pid_t pid, unsigned int n)
{
	char path[64], line[512], name[256] = "", perms[8];
	unsigned long lo = 0, hi = 0, v, pss = 0, shm = 0;
	double total = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	fprintf(out, "proc-create-%u breakdown of the last domain process (KiB Pss - Pss_Shmem):\n",
		n);
	for (;;) {
		bool eof = !fgets(line, sizeof(line), f);
		int off = 0;

		if (eof || sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &off) == 3) {
			if (name[0] && pss > shm && !strstr(name, "/memfd:")) {
				fprintf(out, "  %7.1f  %s\n", (double)(pss - shm), name);
				total += (double)(pss - shm);
			}
			if (eof)
				break;
			snprintf(name, sizeof(name), "%s %s", perms, line + off);
			name[strcspn(name, "\n")] = 0;
			if (!line[off] || line[off] == '\n')
				snprintf(name, sizeof(name), "%s [anon %lu KiB at %lx]", perms,
					 (hi - lo) / 1024, lo);
			pss = shm = 0;
		} else if (sscanf(line, "Pss: %lu", &v) == 1) {
			pss = v;
		} else if (sscanf(line, "Pss_Shmem: %lu", &v) == 1) {
			shm = v;
		}
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "VmPTE: %lu", &v) == 1)
				fprintf(out, "  %7.1f  page tables (VmPTE, not in Pss)\n",
					(double)v);
		fclose(f);
	}
	fprintf(out, "  %7.1f  total\n", total);
}

/* The listing above as a string (malloc'd, or NULL), taken while the
 * process lives and printed after the run is torn down. */
static char *breakdown_take(pid_t pid, unsigned int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	breakdown_print(f, pid, n);
	fclose(f);
	return buf;
}

/*
 * A process's Pss and private pages (KiB) over every mapping but the
 * memfds (a domain's own pages, or a peer's): private pages are mapped by
 * it alone; Pss minus private is its share of the pages it shares (with
 * the template it was forked from and its siblings, say).
 */
static void smaps_split(pid_t pid, double *ret_pss, double *ret_private)
{
	char path[64], line[512], perms[8];
	unsigned long lo, hi, v, pss = 0, priv = 0;
	bool memfd = false;
	FILE *f;

	*ret_pss = *ret_private = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3) {
			memfd = strstr(line, "/memfd:") != NULL; /* a mapping's first line */
			continue;
		}
		if (memfd)
			continue;
		if (sscanf(line, "Pss: %lu", &v) == 1)
			pss += v;
		else if (sscanf(line, "Private_Clean: %lu", &v) == 1 ||
			 sscanf(line, "Private_Dirty: %lu", &v) == 1)
			priv += v;
	}
	fclose(f);
	*ret_pss = (double)pss;
	*ret_private = (double)priv;
}

/* ---- CPU time ------------------------------------------------------------ */

/*
 * Wall-clock figures on a shared machine are at the mercy of its other
 * load; CPU time is not (much). So each domain's creation is also counted
 * as the on-CPU time (schedstat, ns) it cost every process involved: the
 * daemons (xenon-hvd, xenstored, consoled, the spawner), the domain process
 * up to ready, and this program as the toolstack; the baseline's is this
 * program's posix_spawn plus the tiny process up to its byte.
 */
static uint64_t cpu_ns_of(pid_t pid)
{
	char dir[64], path[128];
	unsigned long long v;
	uint64_t sum = 0;
	struct dirent *e;
	DIR *d;
	FILE *f;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%.20s/schedstat", dir, e->d_name);
		if ((f = fopen(path, "r"))) {
			if (fscanf(f, "%llu", &v) == 1)
				sum += v;
			fclose(f);
		}
	}
	closedir(d);
	return sum;
}

/* Minor page faults of pid so far (/proc/PID/stat field 10), 0 if gone. */
static double minflt_of(pid_t pid)
{
	char path[64], buf[512], *p;
	unsigned long v = 0;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r"))) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	/* After "pid (comm) ": state ppid pgrp session tty_nr tpgid flags minflt */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu", &v) != 1)
		v = 0;
	return (double)v;
}

static uint64_t self_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Which of service_comm[] comm names (the index) or -1. */
static int service_of(const char *comm)
{
	unsigned int i;

	for (i = 0; i < sizeof(service_comm) / sizeof(service_comm[0]); i++) {
		if (!strcmp(comm, service_comm[i]))
			return (int)i;
	}
	return -1;
}

static void daemon_add(struct run *r, pid_t pid, int who)
{
	if (pid > 0 && r->nr_daemons < NR_DAEMONS) {
		r->daemons[r->nr_daemons] = pid;
		r->daemon_who[r->nr_daemons++] = who;
	}
}

/* xenon-hvd, xenstored, xenon-hvd's other service children (by name:
 * domain processes are its children too) and the template (warm_up). */
static void find_daemons(struct run *r)
{
	char path[64], comm[32];
	struct dirent *e;
	DIR *d = opendir("/proc");
	int pid, ppid, k;
	FILE *f;

	r->nr_daemons = 0;
	daemon_add(r, r->hvd, CPU_WHO_HVD);
	daemon_add(r, r->xsd, CPU_WHO_XSD);
	while (d && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%.20s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%d (%31[^)]) %*c %d", &pid, comm, &ppid) == 3 && ppid == r->hvd &&
		    (k = service_of(comm)) >= 0)
			daemon_add(r, pid, CPU_WHO_CONSOLED + k);
		fclose(f);
	}
	if (d)
		closedir(d);
	daemon_add(r, r->standby, CPU_WHO_TEMPLATE);
}

/* Each daemon's CPU time into each[] (by CPU_WHO_*; 0 for one gone). */
static void daemons_cpu_ns(const struct run *r, uint64_t each[NR_WHO])
{
	unsigned int i;

	for (i = 0; i < r->nr_daemons; i++)
		each[r->daemon_who[i]] = cpu_ns_of(r->daemons[i]);
}

/* ---- processes ---------------------------------------------------------- */

/* posix_spawn with fd 3 = wr (unless -1); signals as default, unblocked. */
static int spawn(const char *path, char *const argv[], int wr, pid_t *ret)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int err;

	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if (wr >= 0)
		posix_spawn_file_actions_adddup2(&fa, wr, 3);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigmask(&attr, &none);
	err = posix_spawn(ret, path, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -err;
}

/* One byte (or a line) from fd within the timeout: 0, or -ETIMEDOUT/-EIO. */
static int wait_byte(int fd, char *buf, size_t len)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;
	int rc;

	while ((rc = poll(&pfd, 1, READY_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (rc == 0)
		return -ETIMEDOUT;
	n = read(fd, buf, len);
	return n > 0 ? 0 : -EIO;
}

static void reap(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* ---- the baseline --------------------------------------------------------- */

/* Two bursts of n spawns each, before and after the domains (top): burst
 * k's samples are at [k * n, k * n + n) of each array. */
struct baseline {
	double first_ms; /* the first burst's warm-up spawn */
	double ms[2 * MAX_COUNT], cpu_ms[2 * MAX_COUNT];
	double tiny_ms[2 * MAX_COUNT], tiny_flt[2 * MAX_COUNT]; /* the process alone */
	double pss_kib[2], avail_drop_kib[2];			/* per process, by burst */
	unsigned int n;						/* spawns per burst */
};

/* The warm-up spawn (top), timed for the "first" line only. */
static int baseline_warm_up(const int p[2], double *ret_ms)
{
	char *argv[] = { tiny_path, NULL }, c;
	uint64_t t0 = bench_now_ns();
	pid_t warm = 0;
	int err = spawn(tiny_path, argv, p[1], &warm);

	if (!err)
		err = wait_byte(p[0], &c, 1);
	*ret_ms = (double)(bench_now_ns() - t0) / 1e6;
	reap(warm, SIGKILL);
	return err;
}

/* Burst k (0 before the domains, 1 after) of n spawns, all kept alive
 * until the last has run, as the domains are. */
static int baseline_run(unsigned int n, unsigned int k, struct baseline *b)
{
	char *argv[] = { tiny_path, NULL };
	static pid_t pids[MAX_COUNT];
	double avail0 = mem_available_kib(), pss = 0, first;
	double *ms = b->ms + k * n, *cpu = b->cpu_ms + k * n;
	unsigned int i, made = 0;
	int p[2], err = 0;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	b->n = n;
	err = baseline_warm_up(p, &first);
	if (k == 0)
		b->first_ms = first;
	for (i = 0; i < n && !err; i++, made++) {
		uint64_t c0 = self_cpu_ns(), t0 = bench_now_ns();

		err = spawn(tiny_path, argv, p[1], &pids[i]);
		if (!err)
			err = wait_byte(p[0], &c, 1);
		ms[i] = (double)(bench_now_ns() - t0) / 1e6;
		b->tiny_ms[k * n + i] = (double)cpu_ns_of(pids[i]) / 1e6;
		b->tiny_flt[k * n + i] = minflt_of(pids[i]);
		cpu[i] = (double)(self_cpu_ns() - c0) / 1e6 + b->tiny_ms[k * n + i];
	}
	b->avail_drop_kib[k] = (avail0 - mem_available_kib()) / n;
	for (i = 0; i < made; i++)
		pss += mem_of(pids[i]).pss_kib;
	b->pss_kib[k] = pss / n;
	for (i = 0; i < made; i++)
		reap(pids[i], SIGKILL);
	close(p[0]);
	close(p[1]);
	return err;
}

/* ---- xenon-hvd and the domains ------------------------------------------- */

/* Where run directories are made: $TMPDIR, default /tmp (top). */
static const char *run_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");

	return tmp && *tmp ? tmp : "/tmp";
}

static int run_up(struct run *r)
{
	char fdarg[] = "3", line[16], xs_sock[PATH_MAX + 32], pidfile[PATH_MAX + 32];
	char *argv[8] = { hvd_path, "--run-dir", r->run_dir, "--ready-fd", fdarg };
	int p[2], err, a = 5;
	FILE *f;

	if (no_consoled)
		argv[a++] = "--no-consoled";
	if (no_standby)
		argv[a++] = "--no-standby";
	snprintf(r->dir, sizeof(r->dir), "%s/bench-proc-create.XXXXXX", run_tmpdir());
	if (!mkdtemp(r->dir) || pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	snprintf(r->run_dir, sizeof(r->run_dir), "%s/run", r->dir);
	err = spawn(hvd_path, argv, p[1], &r->hvd);
	close(p[1]);
	if (!err)
		err = wait_byte(p[0], line, sizeof(line));
	close(p[0]);
	if (!err)
		err = xenon_ctl_open(r->run_dir, &r->ctl);
	snprintf(xs_sock, sizeof(xs_sock), "%s/xenstore/socket", r->run_dir);
	setenv("XENSTORED_PATH", xs_sock, 1);
	if (!err && (!(r->xs = xs_open(0)) || !(r->xw = xs_open(0))))
		err = -errno;
	snprintf(pidfile, sizeof(pidfile), "%s/xenstore/xenstored.pid", r->run_dir);
	if (!err && (f = fopen(pidfile, "r"))) {
		if (fscanf(f, "%d", &r->xsd) != 1)
			r->xsd = 0;
		fclose(f);
	}
	return err;
}

static void run_down(struct run *r)
{
	char cmd[PATH_MAX + 16];
	unsigned int i;

	for (i = 0; r->ctl && i < r->n; i++)
		xenon_domain_destroy(r->ctl, r->domid[i]);
	if (r->ctl && r->warm_domid)
		xenon_domain_destroy(r->ctl, r->warm_domid);
	if (r->xs)
		xs_close(r->xs);
	if (r->xw)
		xs_close(r->xw);
	xenon_ctl_close(r->ctl);
	reap(r->hvd, SIGTERM);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-proc-create: could not remove %s\n", r->dir);
}

static bool store_node(struct xs_handle *xs, const char *path, uint32_t domid, bool own)
{
	struct xs_permissions ro[2] = { { 0, XS_PERM_NONE }, { domid, XS_PERM_READ } };
	struct xs_permissions rw[1] = { { domid, XS_PERM_NONE } };

	return xs_mkdir(xs, XBT_NULL, path) &&
	       xs_set_permissions(xs, XBT_NULL, path, own ? rw : ro, own ? 1 : 2);
}

/* Until /local/domain/N/data/ready exists (the watch fires on it). */
static int wait_ready(struct run *r, const char *path)
{
	unsigned int num;

	for (;;) {
		unsigned int len;
		char **ev;
		void *v = xs_read(r->xs, XBT_NULL, path, &len);

		if (v) {
			free(v);
			return 0;
		}
		ev = xs_read_watch(r->xw, &num);
		if (!ev)
			return -EIO;
		free(ev);
	}
}

static int domain_one(struct run *r, unsigned int i)
{
	char *argv[] = { guest_path, NULL }, home[64], data[80], ready[96];
	struct procdom_ctl_create req;
	struct procdom_ctl_created c;
	uint64_t t0 = bench_now_ns(), t1, t2;
	uint32_t d;
	int err;

	xenon_create_defaults(&req);
	req.nr_pages = nr_pages;
	req.flags = PROCDOM_CTL_CREATE_BACKGROUND; /* as `xenon create` asks */
	err = xenon_domain_create(r->ctl, &req, argv, &d, &c);
	if (err)
		return err;
	t1 = bench_now_ns();
	r->domid[i] = d;
	r->n = i + 1;
	snprintf(home, sizeof(home), "/local/domain/%u", d);
	snprintf(data, sizeof(data), "%s/data", home);
	snprintf(ready, sizeof(ready), "%s/ready", data);
	if (!store_node(r->xs, home, d, false) || !store_node(r->xs, data, d, true) ||
	    !xs_watch(r->xw, ready, "ready") ||
	    !xs_introduce_domain(r->xs, d, (unsigned long)c.store_gfn, c.store_evtchn))
		return -EIO;
	t2 = bench_now_ns();
	err = xenon_domain_unpause(r->ctl, d);
	if (!err)
		err = wait_ready(r, ready);
	r->create_ms[i] = (double)(t1 - t0) / 1e6;
	r->store_ms[i] = (double)(t2 - t1) / 1e6;
	r->ready_ms[i] = (double)(bench_now_ns() - t2) / 1e6;
	xs_unwatch(r->xw, ready, "ready");
	return err;
}

static int domain_pid(struct run *r, unsigned int i)
{
	struct procdom_ctl_dominfo info;
	int err = xenon_domain_info(r->ctl, r->domid[i], &info);

	r->pid[i] = err ? 0 : info.pid;
	return err ? err : info.pid > 0 ? 0 : -ESRCH;
}

/* Per domain, KiB (top). */
struct domain_mem {
	double daemon_kib[NR_WHO]; /* by CPU_WHO_*: the daemons' terms */
	bool has[NR_WHO];	   /* that daemon was there */
	double proc_kib, own_kib, avail_drop_kib;
	double proc_private_kib;	 /* of proc_kib (smaps, memfds left out) */
	double tpl_kib, tpl_private_kib; /* the template's whole, not per domain */
};

/* A child of xenon-hvd named xenon-standby: the template waits (its pid). */
static pid_t standby_waits(const struct run *r)
{
	return proc_child_named(r->hvd, "xenon-standby", 0);
}

/* pid was forked by a template: its exec-time environment (which its
 * runtime cannot change) names XENON_STANDBY. */
static bool forked(pid_t pid)
{
	return pid > 0 && proc_environ_has(pid, "XENON_STANDBY=") == 1;
}

static unsigned int forked_count(const struct run *r, unsigned int n)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		k += forked(r->pid[i]);
	return k;
}

/*
 * The warm-up domain (top): created as the others, kept. Then, with a
 * template, until it waits (bounded: 5 s; a template is up in about a
 * millisecond), so that the first timed domain finds it as a domain
 * created on a running system would.
 */
static int warm_up(struct run *r)
{
	uint64_t t0 = bench_now_ns();
	unsigned int i;
	int err = domain_one(r, 0);

	r->first_ms = (double)(bench_now_ns() - t0) / 1e6;
	r->warm_domid = r->domid[0];
	r->n = 0;
	if (err)
		return err;
	for (i = 0; !no_standby && i < 5000 && !(r->standby = standby_waits(r)); i++)
		usleep(1000);
	if (!no_standby && !r->standby)
		fprintf(stderr, "bench-proc-create: no template after 5 s (an older xenon-hvd?)\n");
	return 0;
}

/*
 * One timed domain: its wall time, and the CPU time every process
 * involved spent on it (top). A daemon found gone after it (cpu_ns_of
 * reads 0: the template lost, say) adds nothing and is noted in r->gone.
 */
static int domain_timed(struct run *r, unsigned int i)
{
	uint64_t e0[NR_WHO] = { 0 }, e1[NR_WHO] = { 0 }, c0, t0, sum = 0, d;
	unsigned int w;
	int err;

	daemons_cpu_ns(r, e0);
	c0 = self_cpu_ns();
	t0 = bench_now_ns();
	err = domain_one(r, i);
	r->ms[i] = (double)(bench_now_ns() - t0) / 1e6;
	e1[CPU_WHO_TOOL] = self_cpu_ns() - c0;
	daemons_cpu_ns(r, e1);
	/* Its pid, now that the CPU figures are read: CREATE in the
	 * background replies before the process exists. */
	if (!err)
		err = domain_pid(r, i);
	e1[CPU_WHO_GUEST] = err ? 0 : cpu_ns_of(r->pid[i]);
	r->guest_flt[i] = err ? 0 : minflt_of(r->pid[i]);
	for (w = 0; w < NR_WHO; w++) {
		if (e0[w] && !e1[w])
			r->gone |= 1u << w;
		d = e1[w] > e0[w] ? e1[w] - e0[w] : 0;
		r->who_ms[w][i] = (double)d / 1e6;
		sum += d;
	}
	r->cpu_ms[i] = (double)sum / 1e6;
	return err;
}

/* Pss minus Pss_Shmem (KiB). */
static double mem_own(pid_t pid)
{
	struct mem m = mem_of(pid);

	return m.pss_kib - m.shmem_kib;
}

/* The daemons' memory (top): xenstored's is its Pss, the others' Pss
 * minus Pss_Shmem. */
static double daemon_mem(const struct run *r, unsigned int i)
{
	return r->daemon_who[i] == CPU_WHO_XSD ? mem_of(r->daemons[i]).pss_kib
					       : mem_own(r->daemons[i]);
}

/* Every term of the memory line (top), once all n domains are ready. */
static void domains_mem(struct run *r, unsigned int n, const double *before, double avail0,
			struct domain_mem *m)
{
	double proc = 0, own = 0, priv = 0, pss, pv;
	unsigned int i;

	m->avail_drop_kib = (avail0 - mem_available_kib()) / n;
	for (i = 0; i < r->nr_daemons; i++) {
		int w = r->daemon_who[i];

		m->has[w] = true;
		if (w == CPU_WHO_TEMPLATE) {
			m->tpl_kib = mem_own(r->daemons[i]);
			smaps_split(r->daemons[i], &pss, &m->tpl_private_kib);
			m->daemon_kib[w] = m->tpl_kib / n;
		} else {
			m->daemon_kib[w] = (daemon_mem(r, i) - before[i]) / n;
		}
	}
	for (i = 0; i < n; i++) {
		struct mem pm = mem_of(r->pid[i]);

		proc += pm.pss_kib - pm.shmem_kib;
		own += pm.shmem_kib;
		smaps_split(r->pid[i], &pss, &pv);
		priv += pv;
	}
	m->proc_kib = proc / n;
	m->own_kib = own / n;
	m->proc_private_kib = priv / n;
}

static int domains_run(struct run *r, unsigned int n, struct domain_mem *m)
{
	double before[NR_DAEMONS], avail0;
	unsigned int i;
	int err = warm_up(r);

	memset(m, 0, sizeof(*m));
	if (err) {
		fprintf(stderr, "bench-proc-create: the warm-up domain: %s\n", strerror(-err));
		return err;
	}
	find_daemons(r);
	for (i = 0; i < r->nr_daemons; i++)
		before[i] = daemon_mem(r, i);
	avail0 = mem_available_kib();
	for (i = 0; i < n && !err; i++)
		err = domain_timed(r, i);
	if (err) {
		fprintf(stderr, "bench-proc-create: domain %u of %u: %s\n", i, n, strerror(-err));
		return err;
	}
	domains_mem(r, n, before, avail0, m);
	/* Still the same template after the last domain? (top) */
	r->standby_end = no_standby ? 0 : standby_waits(r);
	return 0;
}

/* ---- report ------------------------------------------------------------- */

/* bench_summarise of a copy: v keeps its order (creation order, which
 * the scaling line reads). */
static struct bench_stat summary_of(const double *v, unsigned int n)
{
	static double tmp[2 * MAX_COUNT];

	memcpy(tmp, v, n * sizeof(*v));
	return bench_summarise(tmp, n);
}

static double median_of(const double *v, unsigned int n)
{
	return summary_of(v, n).median;
}

/* The headline: median ms per domain beside the baseline's (nr_base
 * samples: both bursts). A count run several times (FRESH_RUNS under 10,
 * --runs from 20) gives one sample per run, each run's median (fresh
 * daemons and baseline every time), and the line gives their median. */
static void report_ms(unsigned int n, const double *ms, unsigned int nr, const double *base_ms,
		      unsigned int nr_base, const char *what)
{
	double base = median_of(base_ms, nr_base);
	struct bench_stat s = summary_of(ms, nr);

	printf("proc-create-%u (ms per domain): median %.3f (%.3f..%.3f), baseline %.3f, ratio "
	       "%.1f%s\n",
	       n, s.median, s.min, s.max, base, s.median / base, what);
}

/* The baseline's two bursts, each's median: drift between them shows. */
static void baseline_halves(const struct baseline *b, char *buf, size_t len)
{
	snprintf(buf, len, "; baseline burst before %.3f, after %.3f", median_of(b->ms, b->n),
		 median_of(b->ms + b->n, b->n));
}

static bool run_has(const struct run *r, int who)
{
	unsigned int i;

	for (i = 0; i < r->nr_daemons; i++) {
		if (r->daemon_who[i] == who)
			return true;
	}
	return who == CPU_WHO_TOOL || who == CPU_WHO_GUEST;
}

static void report_cpu(unsigned int n, struct run *r, const struct baseline *b)
{
	double base = median_of(b->cpu_ms, 2 * n);
	struct bench_stat s = summary_of(r->cpu_ms, n);

	printf("proc-create-%u CPU ms per domain (all processes involved): median %.3f "
	       "(%.3f..%.3f), baseline %.3f, ratio %.1f\n",
	       n, s.median, s.min, s.max, base, s.median / base);
}

static void report_mem(unsigned int n, const struct baseline *b, const struct domain_mem *m)
{
	double total = m->proc_kib, base = (b->pss_kib[0] + b->pss_kib[1]) / 2;
	unsigned int w;

	printf("proc-create-%u mem per idle domain beyond its pages (KiB):", n);
	for (w = CPU_WHO_HVD; w <= CPU_WHO_TEMPLATE; w++) {
		if (!m->has[w])
			continue;
		printf(" %s %.1f +", cpu_who_name[w], m->daemon_kib[w]);
		total += m->daemon_kib[w];
	}
	printf(" process %.1f = %.1f, baseline %.1f, ratio %.1f\n", m->proc_kib, total, base,
	       total / base);
	printf("proc-create-%u domain process (KiB per domain, Pss - Pss_Shmem): private %.1f + "
	       "its share of pages shared with other processes %.1f",
	       n, m->proc_private_kib, m->proc_kib - m->proc_private_kib);
	if (m->has[CPU_WHO_TEMPLATE])
		printf("; the template's whole %.1f (private %.1f)", m->tpl_kib,
		       m->tpl_private_kib);
	printf("\n");
	printf("proc-create-%u MemAvailable drop per domain (KiB, kernel included; own pages "
	       "%.1f): %.1f, baseline %.1f\n",
	       n, m->own_kib, m->avail_drop_kib, (b->avail_drop_kib[0] + b->avail_drop_kib[1]) / 2);
}

/* The last 10 domains against the first 10 of a run (n >= 20; top):
 * wall-clock and CPU. */
struct scaling {
	double ms, cpu;
};

static struct scaling scaling_print(unsigned int n, const struct run *r, unsigned int k,
				    unsigned int nr_runs)
{
	double first10 = median_of(r->ms, 10), last10 = median_of(r->ms + n - 10, 10);
	double cpu_first10 = median_of(r->cpu_ms, 10);
	double cpu_last10 = median_of(r->cpu_ms + n - 10, 10);
	struct scaling sc = { last10 / first10, cpu_last10 / cpu_first10 };
	char run[32] = "";

	if (nr_runs > 1)
		snprintf(run, sizeof(run), " run %u", k + 1);
	printf("proc-create-%u%s: domain #%u %.3f ms vs #10 %.3f ms; median of the last 10 "
	       "%.3f vs first 10 %.3f ms, ratio %.2f; CPU %.3f vs %.3f ms, ratio %.2f\n",
	       n, run, n, r->ms[n - 1], r->ms[9], last10, first10, sc.ms, cpu_last10, cpu_first10,
	       sc.cpu);
	return sc;
}

static void scaling_summary(unsigned int n, struct scaling *sc, unsigned int nr)
{
	double ms[MAX_RUNS], cpu[MAX_RUNS];
	unsigned int k;

	for (k = 0; k < nr; k++) {
		ms[k] = sc[k].ms;
		cpu[k] = sc[k].cpu;
	}
	printf("proc-create-%u scaling, last 10 vs first 10, median of %u runs: ratio %.2f "
	       "(target 1.2); CPU %.2f\n",
	       n, nr, bench_summarise(ms, nr).median, bench_summarise(cpu, nr).median);
}

static void report(unsigned int n, struct run *r, struct baseline *b, const struct domain_mem *m,
		   bool headline)
{
	char halves[96];

	baseline_halves(b, halves, sizeof(halves));
	if (headline)
		report_ms(n, r->ms, n, b->ms, 2 * n, halves);
	if (headline)
		report_cpu(n, r, b);
	report_mem(n, b, m);
	fflush(stdout);
}

/* The template (top): its pid then and after the last domain, its share
 * of the CPU. nr_same of nr_runs runs kept one template throughout. */
static void template_print(unsigned int n, struct run *r, unsigned int nr_same,
			   unsigned int nr_runs)
{
	if (no_standby)
		return;
	if (!r->standby) {
		printf("proc-create-%u template: none was waiting after the warm-up domain: its "
		       "CPU and memory are not counted\n",
		       n);
		return;
	}
	printf("proc-create-%u template: CPU per domain median %.3f ms (in the CPU line); "
	       "pid %d, the same one after the last domain in %u of %u run%s",
	       n, median_of(r->who_ms[CPU_WHO_TEMPLATE], n), (int)r->standby, nr_same, nr_runs,
	       nr_runs > 1 ? "s" : "");
	if (r->standby_end != r->standby)
		printf(" (this run: pid %d after the last domain: the first was lost or replaced, "
		       "its CPU counted only while it lived, its successor's not at all)",
		       (int)r->standby_end);
	else if (r->gone & (1u << CPU_WHO_TEMPLATE))
		printf(" (but it was found gone after a domain: that domain's template CPU is 0)");
	printf("\n");
}

/* The warm-up domain of each run: the first after start-up (top). */
static void first_print(unsigned int n, double *ms, double *base_ms, unsigned int nr)
{
	struct bench_stat s = bench_summarise(ms, nr);
	double base = bench_summarise(base_ms, nr).median;

	printf("proc-create-%u first domain after start-up (no template yet; %u run%s): median "
	       "%.3f (%.3f..%.3f), baseline %.3f, ratio %.1f\n",
	       n, nr, nr > 1 ? "s" : "", s.median, s.min, s.max, base, s.median / base);
}

/* Where growth comes from: each phase's median over the first and the last
 * 10 domains. */
static void phases_ends(struct run *r, unsigned int n)
{
	unsigned int last = n - 10;

	if (n < 20)
		return;
	printf("proc-create-%u phases, first 10 -> last 10 (median ms): CREATE %.3f -> %.3f, "
	       "store %.3f -> %.3f, ready %.3f -> %.3f\n",
	       n, median_of(r->create_ms, 10), median_of(r->create_ms + last, 10),
	       median_of(r->store_ms, 10), median_of(r->store_ms + last, 10),
	       median_of(r->ready_ms, 10), median_of(r->ready_ms + last, 10));
}

/* Whose CPU time a domain's creation is: each process's median (ms; "-":
 * not running). */
static void cpu_split_print(struct run *r, const struct baseline *b, unsigned int n)
{
	unsigned int w;

	printf("proc-create-%u CPU by process (median ms per domain):", n);
	for (w = 0; w < NR_WHO; w++) {
		if (run_has(r, (int)w))
			printf(" %s %.3f", cpu_who_name[w], median_of(r->who_ms[w], n));
		else
			printf(" %s -", cpu_who_name[w]);
	}
	printf("\n");
	if (n >= 20) {
		printf("proc-create-%u CPU by process, first 10 -> last 10 (median ms):", n);
		for (w = 0; w < NR_WHO; w++) {
			if (run_has(r, (int)w))
				printf(" %s %.3f -> %.3f", cpu_who_name[w],
				       median_of(r->who_ms[w], 10),
				       median_of(r->who_ms[w] + n - 10, 10));
		}
		printf("\n");
	}
	printf("proc-create-%u domain process vs tiny process (medians): CPU ms %.3f vs %.3f, "
	       "minor faults %.0f vs %.0f\n",
	       n, median_of(r->who_ms[CPU_WHO_GUEST], n), median_of(b->tiny_ms, 2 * n),
	       median_of(r->guest_flt, n), median_of(b->tiny_flt, 2 * n));
}

/* ---- main --------------------------------------------------------------- */

static int find_programs(const char *hvd, const char *guest)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (len < 0)
		return -errno;
	exe[len] = 0;
	snprintf(self_dir, sizeof(self_dir), "%s", dirname(exe));
	snprintf(hvd_path, sizeof(hvd_path), "%s", hvd ? hvd : "");
	if (!hvd)
		snprintf(hvd_path, sizeof(hvd_path), "%.*s/../dom0/hvd/xenon-hvd", PATH_MAX - 32,
			 self_dir);
	snprintf(guest_path, sizeof(guest_path), "%.*s/bench-proc-ready-guest", PATH_MAX - 32,
		 self_dir);
	if (guest)
		snprintf(guest_path, sizeof(guest_path), "%s", guest);
	snprintf(tiny_path, sizeof(tiny_path), "%.*s/bench-proc-tiny", PATH_MAX - 32, self_dir);
	if (access(hvd_path, X_OK) || access(guest_path, X_OK) || access(tiny_path, X_OK))
		return -ENOENT;
	return 0;
}

/* What needs the domains alive, taken before the run is torn down. */
static void run_keep(struct run *r, unsigned int n)
{
	r->forked = forked_count(r, n);
	r->first_forked = forked(r->pid[0]);
	if (breakdown)
		r->breakdown = breakdown_take(r->pid[n - 1], n);
}

/* Baseline burst, xenon-hvd and n domains, torn down, baseline burst. */
static int one_run(unsigned int n, struct run *r, struct baseline *b, struct domain_mem *m)
{
	const char *what = "baseline before";
	int err;

	free(r->breakdown);
	memset(r, 0, sizeof(*r));
	err = baseline_run(n, 0, b);
	if (!err) {
		what = "domains";
		err = run_up(r);
		if (!err)
			err = domains_run(r, n, m);
		if (!err)
			run_keep(r, n);
		run_down(r);
	}
	if (!err) {
		what = "baseline after";
		err = baseline_run(n, 1, b);
	}
	if (err)
		fprintf(stderr, "bench-proc-create: %u domains, %s: %s\n", n, what, strerror(-err));
	return err;
}

/* One line per fresh run: every run's figures are shown. */
static void fresh_run_print(unsigned int n, unsigned int k, const struct run *r,
			    const struct baseline *b)
{
	double ms = median_of(r->ms, n), base = median_of(b->ms, 2 * n);
	double cpu = median_of(r->cpu_ms, n), cpu_base = median_of(b->cpu_ms, 2 * n);

	printf("proc-create-%u fresh run %u: %.3f ms, baseline %.3f (bursts %.3f, %.3f), ratio "
	       "%.1f; CPU %.3f ms, baseline %.3f, ratio %.1f%s\n",
	       n, k + 1, ms, base, median_of(b->ms, n), median_of(b->ms + n, n), ms / base, cpu,
	       cpu_base, cpu / cpu_base, r->first_forked ? ", forked" : "");
}

/* The CPU line of a count run several times: the median of the runs'
 * medians. */
static void fresh_cpu_print(unsigned int n, double *cpu, double *cpu_base, unsigned int nr)
{
	struct bench_stat s = bench_summarise(cpu, nr);
	double base = bench_summarise(cpu_base, nr).median;

	printf("proc-create-%u CPU ms per domain (all processes involved): median %.3f "
	       "(%.3f..%.3f), baseline %.3f, ratio %.1f (median of %u fresh runs)\n",
	       n, s.median, s.min, s.max, base, s.median / base, nr);
}

static void details_print(unsigned int n, struct run *r, const struct baseline *b)
{
	printf("proc-create-%u phases (median ms): CREATE %.3f, store entries + watch + "
	       "INTRODUCE %.3f, UNPAUSE to ready %.3f\n",
	       n, median_of(r->create_ms, n), median_of(r->store_ms, n), median_of(r->ready_ms, n));
	phases_ends(r, n);
	cpu_split_print(r, b, n);
	if (r->breakdown)
		fputs(r->breakdown, stdout);
}

static int one_count(unsigned int n)
{
	static struct run r;
	static struct baseline b;
	double runs_ms[MAX_RUNS], runs_base[MAX_RUNS], first[MAX_RUNS], first_base[MAX_RUNS],
		runs_cpu[MAX_RUNS], runs_cpu_base[MAX_RUNS];
	struct scaling sc[MAX_RUNS];
	unsigned int k, used = 0, same = 0;
	unsigned int nr_runs = n < 10 ? FRESH_RUNS : n >= 20 ? scale_runs : 1;
	struct domain_mem m;
	int err = 0;

	for (k = 0; k < nr_runs; k++) {
		err = one_run(n, &r, &b, &m);
		if (err)
			return err;
		runs_ms[k] = median_of(r.ms, n);
		runs_base[k] = median_of(b.ms, 2 * n);
		runs_cpu[k] = median_of(r.cpu_ms, n);
		runs_cpu_base[k] = median_of(b.cpu_ms, 2 * n);
		first[k] = r.first_ms;
		first_base[k] = b.first_ms;
		used += r.forked;
		same += r.standby && r.standby_end == r.standby;
		if (nr_runs > 1)
			fresh_run_print(n, k, &r, &b);
		if (n >= 20)
			sc[k] = scaling_print(n, &r, k, nr_runs);
		if (getenv("BENCH_DEBUG"))
			fprintf(stderr, "run %u: %.3f ms (CREATE %.3f store %.3f ready %.3f)%s\n",
				k, r.ms[0], r.create_ms[0], r.store_ms[0], r.ready_ms[0],
				r.first_forked ? " forked" : "");
	}
	if (nr_runs > 1) {
		char what[64];

		snprintf(what, sizeof(what), " (median of %u fresh runs)", nr_runs);
		report_ms(n, runs_ms, nr_runs, runs_base, nr_runs, what);
		fresh_cpu_print(n, runs_cpu, runs_cpu_base, nr_runs);
	}
	if (n >= 20 && nr_runs > 1)
		scaling_summary(n, sc, nr_runs);
	report(n, &r, &b, &m, nr_runs == 1);
	template_print(n, &r, same, nr_runs);
	first_print(n, first, first_base, nr_runs);
	if (!no_standby)
		printf("proc-create-%u: %u of the %u timed domains (%u run%s) were forked by the "
		       "template\n",
		       n, used, n * nr_runs, nr_runs, nr_runs > 1 ? "s" : "");
	if (breakdown)
		details_print(n, &r, &b);
	fflush(stdout);
	return 0;
}

static int usage(const char *bad)
{
	fprintf(stderr,
		"bench-proc-create: unknown or incomplete option '%s'\n"
		"usage: bench-proc-create [--breakdown] [--no-consoled] [--no-standby] "
		"[--counts 1,10,100,1000] [--runs K] [--pages N] [--hvd PATH] [--guest PATH]\n",
		bad);
	return 2;
}

/* Which xenon-hvd this is, and how quiet the machine was. */
static void print_setup(void)
{
	double load[3] = { 0, 0, 0 };

	if (getloadavg(load, 3) < 3)
		load[0] = load[1] = load[2] = -1;
	printf("bench-proc-create: xenon-hvd %s, run dir in %s, load average %.2f %.2f %.2f\n",
	       no_standby ? "--no-standby (every program exec'd at its domain's creation)"
			  : "with a template (the default)",
	       run_tmpdir(), load[0], load[1], load[2]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *counts = "1,10,100,1000", *hvd = NULL, *guest = NULL;
	char *copy, *tok, *save = NULL;
	int i, failed = 0;

	/* Options in any order (the flags used to have to come first). */
	for (i = 1; i < argc; i++) {
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--breakdown"))
			breakdown = true;
		else if (!strcmp(argv[i], "--no-consoled"))
			no_consoled = true;
		else if (!strcmp(argv[i], "--no-standby"))
			no_standby = true;
		else if (val && !strcmp(argv[i], "--counts"))
			counts = argv[++i];
		else if (val && !strcmp(argv[i], "--runs")) {
			scale_runs = (unsigned int)strtoul(argv[++i], NULL, 10);
			if (scale_runs < 1 || scale_runs > MAX_RUNS)
				return usage(argv[i - 1]);
		} else if (val && !strcmp(argv[i], "--pages"))
			nr_pages = strtoul(argv[++i], NULL, 10);
		else if (val && !strcmp(argv[i], "--hvd"))
			hvd = argv[++i];
		else if (val && !strcmp(argv[i], "--guest"))
			guest = argv[++i];
		else
			return usage(argv[i]);
	}
	if (find_programs(hvd, guest)) {
		fprintf(stderr, "bench-proc-create: xenon-hvd, bench-proc-ready-guest or "
				"bench-proc-tiny not found (run it from the build tree)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	print_setup();
	copy = strdup(counts);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long n = strtoul(tok, NULL, 10);

		if (n >= 1 && n <= MAX_COUNT)
			failed |= one_count((unsigned int)n) != 0;
	}
	free(copy);
	return failed;
}
