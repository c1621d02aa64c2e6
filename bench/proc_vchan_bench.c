/*
 * vchan between two process domains, beside baselines of the same run
 * (reference/floors.md):
 *
 *   proc-vchan-stream-4k / -64k   MB/s client -> server through 1 MiB rings
 *                                 (order 20), writes of 4 KiB / 64 KiB,
 *        vs UNIX stream           a socketpair between two processes, same
 *                                 write sizes                (target >= 3x)
 *        vs SPSC ring             a raw 1 MiB memfd ring between two
 *                                 processes, copy in and out, futex only when
 *                                 the peer sleeps            (target >= 0.9x)
 *   proc-vchan-rtt                1-byte ping-pong round trip
 *        vs UNIX stream           the same over a socketpair
 *
 * It starts its own xenon-hvd (xenon up in a fresh run dir), runs pairs of
 * bench-proc-vchan-guest domains, reads their per-repetition lines from
 * the domain logs, and stops the daemon.
 *
 *   bench-proc-vchan [XENON_CLI GUEST_PROGRAM]   (default: this build's)
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define REPS 5
#define STREAM_BYTES (256ULL << 20)
#define RTT_N 20000
#define RING (1U << 20)
#define SPIN_NS 20000ULL

/* ---- baseline: UNIX stream --------------------------------------------- */

static double unix_stream(size_t chunk, uint64_t total)
{
	char *b = calloc(1, chunk);
	uint64_t got = 0, t0;
	int sv[2];
	pid_t pid;

	if (!b || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		for (uint64_t sent = 0; sent < total;) {
			ssize_t k = write(sv[1], b, chunk);

			if (k <= 0)
				_exit(1);
			sent += (uint64_t)k;
		}
		_exit(0);
	}
	close(sv[1]);
	t0 = bench_now_ns();
	while (got < total) {
		ssize_t k = read(sv[0], b, chunk);

		if (k <= 0)
			break;
		got += (uint64_t)k;
	}
	t0 = bench_now_ns() - t0;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	free(b);
	return (double)got * 1000.0 / (double)t0; /* MB/s */
}

/* ---- baseline: SPSC ring in a memfd, futex only when the peer sleeps ----- */

struct spsc {
	uint32_t prod __attribute__((aligned(64)));
	uint32_t cons __attribute__((aligned(64)));
	uint32_t prod_state __attribute__((aligned(64))); /* 0 run, 1 sleep, 2 woken */
	uint32_t cons_state __attribute__((aligned(64)));
	uint8_t data[RING] __attribute__((aligned(4096)));
};

static void fx(uint32_t *w, int op, uint32_t v)
{
	syscall(SYS_futex, w, op, v, NULL, NULL, 0);
}

/* The floors.md protocol: spin, then announce, re-check, sleep; the
 * sleeper alone resets its state; a waker moves 1 -> 2 and wakes. */
static void spsc_wait(uint32_t *state, const uint32_t *idx, uint32_t old)
{
	uint64_t t0 = bench_now_ns();

	while (__atomic_load_n(idx, __ATOMIC_ACQUIRE) == old) {
		if (bench_now_ns() - t0 < SPIN_NS)
			continue;
		__atomic_store_n(state, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(idx, __ATOMIC_SEQ_CST) == old)
			fx(state, FUTEX_WAIT, 1);
		__atomic_store_n(state, 0, __ATOMIC_SEQ_CST);
	}
}

static void spsc_wake(uint32_t *state)
{
	uint32_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(state, __ATOMIC_SEQ_CST) == 1 &&
	    __atomic_compare_exchange_n(state, &one, 2, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		fx(state, FUTEX_WAKE, 1);
}

static void spsc_producer(struct spsc *r, size_t chunk, uint64_t total, const uint8_t *b)
{
	for (uint64_t sent = 0; sent < total; sent += chunk) {
		uint32_t cons;

		while (r->prod - (cons = __atomic_load_n(&r->cons, __ATOMIC_ACQUIRE)) + chunk >
		       RING)
			spsc_wait(&r->prod_state, &r->cons, cons);
		memcpy(r->data + (r->prod & (RING - 1)), b, chunk);
		__atomic_store_n(&r->prod, r->prod + (uint32_t)chunk, __ATOMIC_RELEASE);
		spsc_wake(&r->cons_state);
	}
}

static double spsc_stream(size_t chunk, uint64_t total)
{
	struct spsc *r =
		mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t *b = calloc(1, chunk);
	uint64_t got = 0, t0;
	pid_t pid;

	if (r == MAP_FAILED || !b)
		return 0;
	pid = fork();
	if (pid == 0) {
		spsc_producer(r, chunk, total, b);
		_exit(0);
	}
	t0 = bench_now_ns();
	while (got < total) {
		uint32_t prod;

		while ((prod = __atomic_load_n(&r->prod, __ATOMIC_ACQUIRE)) == r->cons)
			spsc_wait(&r->cons_state, &r->prod, prod);
		memcpy(b, r->data + (r->cons & (RING - 1)), chunk);
		__atomic_store_n(&r->cons, r->cons + (uint32_t)chunk, __ATOMIC_RELEASE);
		spsc_wake(&r->prod_state);
		got += chunk;
	}
	t0 = bench_now_ns() - t0;
	waitpid(pid, NULL, 0);
	munmap(r, sizeof(*r));
	free(b);
	return (double)got * 1000.0 / (double)t0;
}

/* ---- the domains ---------------------------------------------------------- */

static int write_cfg(const char *path, const char *name, int domid, const char *kernel,
		     const char *extra)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f,
		"name = \"%s\"\ntype = \"process\"\nkernel = \"%s\"\nmemory = 16\nvcpus = 1\n"
		"domid = %d\nextra = \"%s\"\n",
		name, kernel, domid, extra);
	return fclose(f);
}

/* Per-repetition figures from a log: MB/s of "received" lines, or the rtt
 * median. Returns how many. */
static unsigned int parse_log(const char *path, double *v, unsigned int max)
{
	char line[512];
	unsigned long long n, t;
	unsigned int k = 0;
	FILE *f = fopen(path, "r");

	while (f && k < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "vchan: received %llu bytes in %llu ns", &n, &t) == 2 && t)
			v[k++] = (double)n * 1000.0 / (double)t;
		else if (sscanf(line, "vchan: rtt median %llu ns", &t) == 1)
			v[k++] = (double)t;
	}
	if (f)
		fclose(f);
	return k;
}

/* One server (domid 1) / client (domid 2) pair with `extra`; the figures
 * come from the log of domain `from`. */
static unsigned int run_pair(const char *x, const char *rd, const char *dir, const char *kernel,
			     const char *extra, int from, double *v, unsigned int max)
{
	char cfg[4400], ex[512], l1[4400], l2[4400], lf[4400];
	unsigned int k;
	int i;

	snprintf(l1, sizeof(l1), "%s/domain-1.log", rd);
	snprintf(l2, sizeof(l2), "%s/domain-2.log", rd);
	snprintf(lf, sizeof(lf), "%s", from == 1 ? l1 : l2);
	unlink(l1);
	unlink(l2);
	snprintf(cfg, sizeof(cfg), "%s/s.cfg", dir);
	snprintf(ex, sizeof(ex), "vchan.server vchan.peer=2 vchan.id=1 %s", extra);
	write_cfg(cfg, "vsrv", 1, kernel, ex);
	if (bench_run_cmd("timeout 10 %s --run-dir %s create %s >/dev/null", x, rd, cfg) != 0)
		return 0;
	snprintf(cfg, sizeof(cfg), "%s/c.cfg", dir);
	snprintf(ex, sizeof(ex), "vchan.client vchan.peer=1 vchan.id=1 %s", extra);
	write_cfg(cfg, "vcli", 2, kernel, ex);
	if (bench_run_cmd("timeout 10 %s --run-dir %s create %s >/dev/null", x, rd, cfg) != 0)
		return 0;
	for (i = 0;
	     i < 1200 && !(bench_log_has(l1, "after close") && bench_log_has(l2, "after close"));
	     i++)
		usleep(50000);
	k = parse_log(lf, v, max);
	if (!k)
		bench_run_cmd("tail -n 5 %s %s %s/hvd.log >&2", l1, l2, rd);
	/* The domains power off by themselves; wait until both are gone. */
	for (i = 0;
	     i < 200 &&
	     bench_run_cmd("%s --run-dir %s list 2>/dev/null | grep -q vsrv\\|vcli", x, rd) == 0;
	     i++)
		usleep(50000);
	return k;
}

static void report_stream(const char *name, double *v, unsigned int n, double *ux, double *sp)
{
	struct bench_stat s = bench_summarise(v, n), su = bench_summarise(ux, REPS),
			  ss = bench_summarise(sp, REPS);
	char nm[96];

	snprintf(nm, sizeof(nm), "%s-vs-unix", name);
	bench_report(nm, "MB/s", s, su.median);
	snprintf(nm, sizeof(nm), "%s-vs-spsc", name);
	bench_report(nm, "MB/s", s, ss.median);
	printf("# %s baselines: UNIX stream %.0f MB/s (%.0f..%.0f), SPSC ring %.0f MB/s "
	       "(%.0f..%.0f); targets: >= 3x UNIX, >= 0.9x SPSC\n",
	       name, su.median, su.min, su.max, ss.median, ss.min, ss.max);
}

int main(int argc, char **argv)
{
	char x[PATH_MAX + 64], kernel[PATH_MAX + 64], dir[] = "/tmp/xenon-bench-vchan.XXXXXX";
	char rd[4200], extra[256];
	static const size_t chunks[2] = { 4096, 65536 };
	double v[16], ux[REPS], sp[REPS], urtt[REPS];
	unsigned int n;

	if (argc == 3) {
		snprintf(x, sizeof(x), "%s", argv[1]);
		snprintf(kernel, sizeof(kernel), "%s", argv[2]);
	} else {
		bench_sibling(x, sizeof(x), "tools/xenon/xenon");
		bench_sibling(kernel, sizeof(kernel), "tests/vchan/bench-proc-vchan-guest");
	}
	if (!mkdtemp(dir))
		return 2;
	snprintf(rd, sizeof(rd), "%s/run", dir);
	if (bench_run_cmd("timeout 20 %s --run-dir %s up >/dev/null", x, rd) != 0) {
		fprintf(stderr, "bench-proc-vchan: xenon up failed (%s)\n", x);
		return 2;
	}
	for (int c = 0; c < 2; c++) {
		char name[64];

		for (int r = 0; r < REPS; r++) {
			ux[r] = unix_stream(chunks[c], STREAM_BYTES);
			sp[r] = spsc_stream(chunks[c], STREAM_BYTES);
		}
		snprintf(extra, sizeof(extra),
			 "vchan.raw vchan.order=20 vchan.chunk=%zu "
			 "vchan.bytes=%llu vchan.reps=%d",
			 chunks[c], STREAM_BYTES, REPS);
		n = run_pair(x, rd, dir, kernel, extra, 1, v, 16);
		snprintf(name, sizeof(name), "proc-vchan-stream-%zuk", chunks[c] / 1024);
		if (n)
			report_stream(name, v, n, ux, sp);
		else
			printf("%s: no figures (see above)\n", name);
	}
	for (int r = 0; r < REPS; r++)
		urtt[r] = bench_unix_rtt_ns(RTT_N / 4);
	snprintf(extra, sizeof(extra), "vchan.order=12 vchan.pingpong=%d", RTT_N);
	n = run_pair(x, rd, dir, kernel, extra, 2, v, 16);
	if (n)
		bench_report("proc-vchan-rtt-vs-unix", "ns", bench_summarise(v, n),
			     bench_summarise(urtt, REPS).median);
	bench_run_cmd("timeout 20 %s --run-dir %s down >/dev/null", x, rd);
	bench_run_cmd("rm -rf %s", dir);
	return 0;
}
