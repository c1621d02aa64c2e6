/*
 * Shared helpers for the benchmarks: a monotonic clock, medians over
 * repeated runs, the house output line, and callgrind instruction counts.
 *
 * Output: every figure is printed beside a baseline measured in the same run
 * (this machine is shared and noisy; ratios hold where absolutes drift):
 *
 *   name: median X unit (min..max), baseline Y unit, ratio Z
 *
 * Under valgrind --tool=callgrind --collect-atstart=no, bench_cg_begin() and
 * bench_cg_end() bracket exactly `ops` operations, so the Ir total of the run
 * divided by ops is the instruction count per operation (repeatable, unlike
 * time). scripts/run-bench.sh does that.
 */
#ifndef XENON_BENCH_H
#define XENON_BENCH_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <valgrind/callgrind.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct bench_stat {
	double median, min, max;
};

/* Sorts v[0..n) in place and summarises it. */
static inline struct bench_stat bench_summarise(double *v, size_t n)
{
	struct bench_stat s = { 0, 0, 0 };

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

static inline void bench_report(const char *name, const char *unit, struct bench_stat fig,
				double baseline)
{
	printf("%s: median %.1f %s (%.1f..%.1f), baseline %.1f %s, ratio %.2f\n", name, fig.median,
	       unit, fig.min, fig.max, baseline, unit, baseline > 0 ? fig.median / baseline : 0.0);
	fflush(stdout);
}

/*
 * One reported figure: a warm-up run of the measured loop, then `runs'
 * (at most BENCH_MAX_RUNS) rounds of the measured loop beside its baseline,
 * interleaved so that drift on a noisy machine hits both alike.
 * loop(ctx, measured) returns ns per operation.
 */
#define BENCH_MAX_RUNS 64
static inline void bench_figure_ns(const char *name, unsigned int runs,
				   double (*loop)(void *ctx, int measured), void *ctx)
{
	double fig[BENCH_MAX_RUNS], base[BENCH_MAX_RUNS];
	unsigned int r;

	if (runs > BENCH_MAX_RUNS)
		runs = BENCH_MAX_RUNS;
	loop(ctx, 1); /* warm up */
	for (r = 0; r < runs; r++) {
		fig[r] = loop(ctx, 1);
		base[r] = loop(ctx, 0);
	}
	bench_report(name, "ns", bench_summarise(fig, runs), bench_summarise(base, runs).median);
}

static inline int bench_under_valgrind(void)
{
	return RUNNING_ON_VALGRIND;
}

static inline void bench_cg_begin(void)
{
	CALLGRIND_ZERO_STATS;
	CALLGRIND_TOGGLE_COLLECT;
}

static inline void bench_cg_end(const char *name, unsigned long ops)
{
	CALLGRIND_TOGGLE_COLLECT;
	CALLGRIND_DUMP_STATS_AT(name);
	printf("callgrind-ops %s %lu\n", name, ops);
	fflush(stdout);
}

/* ---- driving the real daemons (the process-domain benches) ---- */

/* system() of a formatted command line; its status. */
static inline int bench_run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int bench_run_cmd(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Whether a line of the file at path contains what. */
static inline bool bench_log_has(const char *path, const char *what)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* rel, relative to the build directory this bench binary lives one level
 * below (bench/): "tools/xenon/xenon" -> <build>/bench/../tools/xenon/xenon. */
static inline void bench_sibling(char *out, size_t len, const char *rel)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	self[n > 0 ? n : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, len, "%s/../%s", self, rel);
}

/* The UNIX stream round-trip baseline (floors.md): n 1-byte round trips
 * between this process and a forked child over a socketpair; the median in
 * ns, 0 if it could not run. */
static inline double bench_unix_rtt_ns(unsigned int n)
{
	double *t = calloc(n ? n : 1, sizeof(*t)), med = 0;
	unsigned int i = 0;
	char c = 0;
	int sv[2];
	pid_t pid;

	if (!t || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		free(t);
		return 0;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		for (i = 0; i < n; i++)
			if (read(sv[1], &c, 1) != 1 || write(sv[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(sv[1]);
	for (i = 0; pid > 0 && i < n; i++) {
		uint64_t t0 = bench_now_ns();

		if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1)
			break;
		t[i] = (double)(bench_now_ns() - t0);
	}
	close(sv[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (pid > 0 && n && i == n)
		med = bench_summarise(t, n).median;
	free(t);
	return med;
}

#endif
