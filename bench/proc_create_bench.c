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
 * writes one byte on fd 3 when it runs; ready = that byte read. A count
 * below 10 is run 7 times from scratch (daemons, baseline) and its
 * headline is the median of the runs' medians: one domain is one sample.
 *
 * Warm-up: each run first creates one domain of the same program (kept,
 * idle, outside every figure but its own line) and spawns one tiny
 * process, untimed but for the "first" line; then, unless --no-standby,
 * it waits until xenon-hvd's spawner has the program's standby waiting
 * (procdom_spawner.h: the program last started, started once more ahead
 * of time; the next domain of it gets that process). So the headline is a
 * domain created on a running xenon-hvd, as a toolstack's usually is; the
 * "first" line is the first domain after `xenon up` (no standby yet)
 * beside the baseline's first spawn, and a line says in how many runs the
 * first timed domain got the standby. The spawner starts a standby 5 ms
 * after its last answer, so of domains created back to back (10..1000)
 * only the first finds one. --no-standby runs xenon-hvd so: every
 * program is exec'd when its domain is created. The first line printed
 * says which, and the load average. BENCH_DEBUG=1 in the environment
 * prints each fresh run's phases on stderr.
 *
 * Memory per idle domain beyond its own pages, after all N are ready:
 *   xenon-hvd: growth of Pss minus Pss_Shmem (the guests' memfds it maps
 *     are the domains' own pages), per domain; xenstored: Pss growth;
 *   each domain process: Pss minus Pss_Shmem (smaps_rollup), averaged;
 *   kernel included: the drop of MemAvailable per domain (noisy).
 * beside the tiny process's Pss and MemAvailable drop.
 *
 *   bench-proc-create [--breakdown] [--no-consoled] [--no-standby]
 *                     [--counts 1,10,100,1000] [--pages N] [--hvd PATH] [--guest PATH]
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
#include "xenon_dom0.h"

extern char **environ;

#define MAX_COUNT 4096
#define READY_TIMEOUT_MS 30000

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
	double who_ms[6][MAX_COUNT];
	double guest_flt[MAX_COUNT]; /* the domain process's minor faults at ready */
	pid_t daemons[4];	     /* xenon-hvd, xenstored, then consoled, spawner */
	int daemon_who[4];
	unsigned int n, nr_daemons;
	uint32_t warm_domid; /* the warm-up domain (0: none), idle till the end */
	double first_ms;     /* its creation: the first after start-up */
	pid_t standby;	     /* the standby waiting after it (0: none) */
};

/* Whose CPU time: the toolstack (this program), the daemons, the guest. */
enum { CPU_WHO_TOOL, CPU_WHO_HVD, CPU_WHO_XSD, CPU_WHO_CONSOLED, CPU_WHO_SPAWNER, CPU_WHO_GUEST };
static const char *const cpu_who_name[6] = { "toolstack", "xenon-hvd", "xenstored",
					     "consoled",  "spawner",   "guest" };

static char self_dir[PATH_MAX], hvd_path[PATH_MAX], guest_path[PATH_MAX], tiny_path[PATH_MAX];
static unsigned long nr_pages = 256;
static bool breakdown, no_consoled, no_standby;

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
static void breakdown_print(pid_t pid, unsigned int n)
{
	char path[64], line[512], name[256] = "", perms[8];
	unsigned long lo = 0, hi = 0, v, pss = 0, shm = 0;
	double total = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	printf("proc-create-%u breakdown of the last domain process (KiB Pss - Pss_Shmem):\n", n);
	for (;;) {
		bool eof = !fgets(line, sizeof(line), f);
		int off = 0;

		if (eof || sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &off) == 3) {
			if (name[0] && pss > shm && !strstr(name, "/memfd:")) {
				printf("  %7.1f  %s\n", (double)(pss - shm), name);
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
				printf("  %7.1f  page tables (VmPTE, not in Pss)\n", (double)v);
		fclose(f);
	}
	printf("  %7.1f  total\n", total);
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

/* xenon-hvd's service children (by name: domain processes are its
 * children too). */
static void find_daemons(struct run *r)
{
	char path[64], comm[32];
	struct dirent *e;
	DIR *d = opendir("/proc");
	int pid, ppid;
	FILE *f;

	r->daemons[0] = r->hvd;
	r->daemons[1] = r->xsd;
	r->daemon_who[0] = CPU_WHO_HVD;
	r->daemon_who[1] = CPU_WHO_XSD;
	r->nr_daemons = 2;
	while (d && (e = readdir(d)) && r->nr_daemons < 4) {
		snprintf(path, sizeof(path), "/proc/%.20s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%d (%31[^)]) %*c %d", &pid, comm, &ppid) == 3 && ppid == r->hvd &&
		    (!strcmp(comm, "xenon-consoled") || !strcmp(comm, "xenon-spawner"))) {
			r->daemon_who[r->nr_daemons] =
				comm[6] == 'c' ? CPU_WHO_CONSOLED : CPU_WHO_SPAWNER;
			r->daemons[r->nr_daemons++] = pid;
		}
		fclose(f);
	}
	if (d)
		closedir(d);
}

/* Each daemon's CPU time into each[] (by CPU_WHO_*); returns the sum. */
static uint64_t daemons_cpu_ns(const struct run *r, uint64_t each[6])
{
	uint64_t sum = 0, v;
	unsigned int i;

	for (i = 0; i < r->nr_daemons; i++) {
		v = cpu_ns_of(r->daemons[i]);
		each[r->daemon_who[i]] = v;
		sum += v;
	}
	return sum;
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

struct baseline {
	double first_ms; /* the warm-up spawn */
	double ms[MAX_COUNT], cpu_ms[MAX_COUNT];
	double tiny_ms[MAX_COUNT], tiny_flt[MAX_COUNT]; /* the process alone */
	double pss_kib, avail_drop_kib;			/* per process */
};

/* The warm-up spawn (top), timed for the "first" line only. */
static int baseline_warm_up(const int p[2], struct baseline *b)
{
	char *argv[] = { tiny_path, NULL }, c;
	uint64_t t0 = bench_now_ns();
	pid_t warm = 0;
	int err = spawn(tiny_path, argv, p[1], &warm);

	if (!err)
		err = wait_byte(p[0], &c, 1);
	b->first_ms = (double)(bench_now_ns() - t0) / 1e6;
	reap(warm, SIGKILL);
	return err;
}

static int baseline_run(unsigned int n, struct baseline *b)
{
	char *argv[] = { tiny_path, NULL };
	static pid_t pids[MAX_COUNT];
	double avail0 = mem_available_kib(), pss = 0;
	unsigned int i, made = 0;
	int p[2], err = 0;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	err = baseline_warm_up(p, b);
	for (i = 0; i < n && !err; i++, made++) {
		uint64_t c0 = self_cpu_ns(), t0 = bench_now_ns();

		err = spawn(tiny_path, argv, p[1], &pids[i]);
		if (!err)
			err = wait_byte(p[0], &c, 1);
		b->ms[i] = (double)(bench_now_ns() - t0) / 1e6;
		b->tiny_ms[i] = (double)cpu_ns_of(pids[i]) / 1e6;
		b->tiny_flt[i] = minflt_of(pids[i]);
		b->cpu_ms[i] = (double)(self_cpu_ns() - c0) / 1e6 + b->tiny_ms[i];
	}
	b->avail_drop_kib = (avail0 - mem_available_kib()) / n;
	for (i = 0; i < made; i++)
		pss += mem_of(pids[i]).pss_kib;
	b->pss_kib = pss / n;
	for (i = 0; i < made; i++)
		reap(pids[i], SIGKILL);
	close(p[0]);
	close(p[1]);
	return err;
}

/* ---- xenon-hvd and the domains ------------------------------------------- */

static int run_up(struct run *r)
{
	char fdarg[] = "3", line[16], xs_sock[PATH_MAX + 32], pidfile[PATH_MAX + 32];
	char *argv[8] = { hvd_path, "--run-dir", r->run_dir, "--ready-fd", fdarg };
	const char *tmp = getenv("TMPDIR");
	int p[2], err, a = 5;
	FILE *f;

	if (no_consoled)
		argv[a++] = "--no-consoled";
	if (no_standby)
		argv[a++] = "--no-standby";
	snprintf(r->dir, sizeof(r->dir), "%s/bench-proc-create.XXXXXX", tmp && *tmp ? tmp : "/tmp");
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

struct domain_mem {
	double hvd_kib, xsd_kib, proc_kib, own_kib, avail_drop_kib; /* per domain */
};

/* A child of xenon-hvd named xenon-standby: the standby waits (its pid). */
static pid_t standby_waits(const struct run *r)
{
	char path[64], comm[32];
	struct dirent *e;
	DIR *d = opendir("/proc");
	pid_t found = 0;
	int pid, ppid;
	FILE *f;

	while (d && !found && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%.20s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%d (%31[^)]) %*c %d", &pid, comm, &ppid) == 3 && ppid == r->hvd &&
		    !strcmp(comm, "xenon-standby"))
			found = pid;
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * The warm-up domain (top): created as the others, kept. Then, with a
 * standby, until it waits (bounded: 5 s; a standby is up in about a
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
		fprintf(stderr, "bench-proc-create: no standby after 5 s (an older xenon-hvd?)\n");
	return 0;
}

static int domains_run(struct run *r, unsigned int n, struct domain_mem *m)
{
	struct mem hvd0, xsd0, hvd1, xsd1;
	double avail0, proc = 0, own = 0;
	unsigned int i;
	int err = warm_up(r);

	if (err) {
		fprintf(stderr, "bench-proc-create: the warm-up domain: %s\n", strerror(-err));
		return err;
	}
	hvd0 = mem_of(r->hvd);
	xsd0 = mem_of(r->xsd);
	avail0 = mem_available_kib();
	find_daemons(r);
	for (i = 0; i < n && !err; i++) {
		uint64_t e0[6] = { 0 }, e1[6] = { 0 }, d0 = daemons_cpu_ns(r, e0),
			 c0 = self_cpu_ns();
		uint64_t t0 = bench_now_ns(), c1, g;
		unsigned int w;

		err = domain_one(r, i);
		r->ms[i] = (double)(bench_now_ns() - t0) / 1e6;
		c1 = self_cpu_ns() - c0;
		e1[CPU_WHO_TOOL] = c1;
		c1 += daemons_cpu_ns(r, e1) - d0;
		/* Its pid, now that the CPU figures are read: CREATE in the
		 * background replies before the process exists. */
		if (!err)
			err = domain_pid(r, i);
		g = err ? 0 : cpu_ns_of(r->pid[i]);
		r->guest_flt[i] = err ? 0 : minflt_of(r->pid[i]);
		e1[CPU_WHO_GUEST] = g;
		c1 += g;
		r->cpu_ms[i] = (double)c1 / 1e6;
		for (w = 0; w < 6; w++)
			r->who_ms[w][i] = (double)(e1[w] - e0[w]) / 1e6;
	}
	if (err) {
		fprintf(stderr, "bench-proc-create: domain %u of %u: %s\n", i, n, strerror(-err));
		return err;
	}
	m->avail_drop_kib = (avail0 - mem_available_kib()) / n;
	hvd1 = mem_of(r->hvd);
	xsd1 = mem_of(r->xsd);
	m->hvd_kib = ((hvd1.pss_kib - hvd1.shmem_kib) - (hvd0.pss_kib - hvd0.shmem_kib)) / n;
	m->xsd_kib = (xsd1.pss_kib - xsd0.pss_kib) / n;
	for (i = 0; i < n; i++) {
		struct mem pm = mem_of(r->pid[i]);

		proc += pm.pss_kib - pm.shmem_kib;
		own += pm.shmem_kib;
	}
	m->proc_kib = proc / n;
	m->own_kib = own / n;
	return 0;
}

/* ---- report ------------------------------------------------------------- */

static double median_of(const double *v, unsigned int n)
{
	static double tmp[MAX_COUNT];

	memcpy(tmp, v, n * sizeof(*v));
	return bench_summarise(tmp, n).median;
}

/* The headline: median ms per domain beside the baseline's. Under
 * FRESH_RUNS (n < 10) each run's median is one sample (fresh daemons and
 * baseline every time) and the line gives their median. */
static void report_ms(unsigned int n, const double *ms, const double *base_ms, unsigned int nr,
		      const char *what)
{
	static double tmp[MAX_COUNT];
	struct bench_stat s;
	double base;

	memcpy(tmp, base_ms, nr * sizeof(*tmp));
	base = bench_summarise(tmp, nr).median;
	memcpy(tmp, ms, nr * sizeof(*tmp));
	s = bench_summarise(tmp, nr);
	printf("proc-create-%u (ms per domain): median %.3f (%.3f..%.3f), baseline %.3f, ratio "
	       "%.1f%s\n",
	       n, s.median, s.min, s.max, base, s.median / base, what);
}

static void report(unsigned int n, struct run *r, struct baseline *b, const struct domain_mem *m,
		   bool headline)
{
	double first10 = 0, last10 = 0, tenth = n >= 10 ? r->ms[9] : 0;
	double last = r->ms[n - 1], base;
	struct bench_stat s;

	if (n >= 20) {
		first10 = median_of(r->ms, 10);
		last10 = median_of(r->ms + n - 10, 10);
	}
	if (headline)
		report_ms(n, r->ms, b->ms, n, "");
	if (n >= 20)
		printf("proc-create-%u: domain #%u %.3f ms vs #10 %.3f ms; median of the last 10 "
		       "%.3f vs first 10 %.3f ms, ratio %.2f\n",
		       n, n, last, tenth, last10, first10, last10 / first10);
	if (n >= 20) {
		first10 = median_of(r->cpu_ms, 10);
		last10 = median_of(r->cpu_ms + n - 10, 10);
	}
	s = bench_summarise(r->cpu_ms, n);
	base = median_of(b->cpu_ms, n);
	printf("proc-create-%u CPU ms per domain (all processes involved): median %.3f "
	       "(%.3f..%.3f), baseline %.3f, ratio %.1f",
	       n, s.median, s.min, s.max, base, s.median / base);
	if (n >= 20)
		printf("; last 10 %.3f vs first 10 %.3f, ratio %.2f", last10, first10,
		       last10 / first10);
	printf("\n");
	printf("proc-create-%u mem per idle domain beyond its pages (KiB): hvd %.1f + xenstored "
	       "%.1f + process %.1f = %.1f, baseline %.1f, ratio %.1f\n",
	       n, m->hvd_kib, m->xsd_kib, m->proc_kib, m->hvd_kib + m->xsd_kib + m->proc_kib,
	       b->pss_kib, (m->hvd_kib + m->xsd_kib + m->proc_kib) / b->pss_kib);
	printf("proc-create-%u MemAvailable drop per domain (KiB, kernel included; own pages "
	       "%.1f): %.1f, baseline %.1f\n",
	       n, m->own_kib, m->avail_drop_kib, b->avail_drop_kib);
	fflush(stdout);
}

/* The warm-up domain of each run: the first after start-up (top). */
static void first_print(unsigned int n, double *ms, double *base_ms, unsigned int nr)
{
	struct bench_stat s = bench_summarise(ms, nr);
	double base = bench_summarise(base_ms, nr).median;

	printf("proc-create-%u first domain after start-up (no standby yet; %u run%s): median "
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

/* Whose CPU time a domain's creation is: each process's median (ms). */
static void cpu_split_print(struct run *r, const struct baseline *b, unsigned int n)
{
	unsigned int w;

	printf("proc-create-%u CPU by process (median ms per domain):", n);
	for (w = 0; w < 6; w++)
		printf(" %s %.3f", cpu_who_name[w], median_of(r->who_ms[w], n));
	printf("\n");
	printf("proc-create-%u domain process vs tiny process (medians): CPU ms %.3f vs %.3f, "
	       "minor faults %.0f vs %.0f\n",
	       n, median_of(r->who_ms[CPU_WHO_GUEST], n), median_of(b->tiny_ms, n),
	       median_of(r->guest_flt, n), median_of(b->tiny_flt, n));
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

/*
 * Fewer than 10 domains give too few samples for a median on this noisy
 * machine: such a count is run FRESH_RUNS times, each with fresh daemons
 * and its own baseline, and the headline is the median of the runs' medians
 * (the other lines are the last run's).
 */
#define FRESH_RUNS 7

static int one_run(unsigned int n, struct run *r, struct baseline *b, struct domain_mem *m)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = baseline_run(n, b);
	if (err) {
		fprintf(stderr, "bench-proc-create: baseline: %s\n", strerror(-err));
		return err;
	}
	err = run_up(r);
	if (!err)
		err = domains_run(r, n, m);
	if (err) {
		fprintf(stderr, "bench-proc-create: %u domains: %s\n", n, strerror(-err));
		run_down(r);
	}
	return err;
}

static int one_count(unsigned int n)
{
	static struct run r;
	static struct baseline b;
	double runs_ms[FRESH_RUNS], runs_base[FRESH_RUNS], first[FRESH_RUNS],
		first_base[FRESH_RUNS];
	unsigned int k, nr_runs = n < 10 ? FRESH_RUNS : 1, used = 0;
	struct domain_mem m;
	int err = 0;

	for (k = 0; k < nr_runs; k++) {
		if (k > 0)
			run_down(&r);
		err = one_run(n, &r, &b, &m);
		if (err)
			return err;
		runs_ms[k] = median_of(r.ms, n);
		runs_base[k] = median_of(b.ms, n);
		first[k] = r.first_ms;
		first_base[k] = b.first_ms;
		used += r.standby && r.pid[0] == r.standby;
		if (getenv("BENCH_DEBUG"))
			fprintf(stderr, "run %u: %.3f ms (CREATE %.3f store %.3f ready %.3f)%s\n",
				k, r.ms[0], r.create_ms[0], r.store_ms[0], r.ready_ms[0],
				r.standby && r.pid[0] == r.standby ? " standby" : "");
	}
	if (nr_runs > 1) {
		char what[64];

		snprintf(what, sizeof(what), " (median of %u fresh runs)", nr_runs);
		report_ms(n, runs_ms, runs_base, nr_runs, what);
	}
	report(n, &r, &b, &m, nr_runs == 1);
	first_print(n, first, first_base, nr_runs);
	if (!no_standby)
		printf("proc-create-%u: the first timed domain got the waiting standby in %u of %u "
		       "run%s\n",
		       n, used, nr_runs, nr_runs > 1 ? "s" : "");
	if (!err && breakdown) {
		printf("proc-create-%u phases (median ms): CREATE %.3f, store entries + watch + "
		       "INTRODUCE %.3f, UNPAUSE to ready %.3f\n",
		       n, median_of(r.create_ms, n), median_of(r.store_ms, n),
		       median_of(r.ready_ms, n));
		phases_ends(&r, n);
		cpu_split_print(&r, &b, n);
		breakdown_print(r.pid[n - 1], n);
	}
	run_down(&r);
	return err;
}

static int usage(const char *bad)
{
	fprintf(stderr,
		"bench-proc-create: unknown or incomplete option '%s'\n"
		"usage: bench-proc-create [--breakdown] [--no-consoled] [--no-standby] "
		"[--counts 1,10,100,1000] [--pages N] [--hvd PATH] [--guest PATH]\n",
		bad);
	return 2;
}

/* Which xenon-hvd this is, and how quiet the machine was. */
static void print_setup(void)
{
	double load[3] = { 0, 0, 0 };

	if (getloadavg(load, 3) < 3)
		load[0] = load[1] = load[2] = -1;
	printf("bench-proc-create: xenon-hvd %s, load average %.2f %.2f %.2f\n",
	       no_standby ? "--no-standby (every program exec'd at its domain's creation)"
			  : "with a standby (the default)",
	       load[0], load[1], load[2]);
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
		else if (val && !strcmp(argv[i], "--pages"))
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
