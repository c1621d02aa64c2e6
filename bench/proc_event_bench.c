/*
 * Event channels between two process domains, end to end, beside host
 * baselines measured in the same run (reference/floors.md; the cache-line
 * ping-pong both before and after the domains run, one median of both):
 *
 *   proc-event-rtt-polling   round trip, both vCPUs awake (fast send path,
 *                            no system call), delivered by upcall to a
 *                            handler              vs cache-line ping-pong
 *   proc-event-rtt-pollport  the same on a masked port, both sides waiting
 *                            in SCHEDOP_poll      vs cache-line ping-pong
 *                                                 and vs the protocol's floor
 *                            (the pending-bit set/spin/clear alone on two
 *                            pages, no code: base_pending_floor)
 *   proc-event-rtt-asleep    round trip, the peer asleep on its futex
 *                            (one FUTEX_WAKE)     vs futex round trip
 *   both round trips also    vs a UNIX stream socketpair round trip
 *   proc-event-oneway        events handled per second by the receiver
 *                            while the sender sends flat out
 *                                                 vs 1-byte writes on a UNIX
 *                                                    stream, bytes read/s
 *
 * It starts its own xenon-hvd in a fresh run dir (xenon up), creates two
 * evbench domains (examples/guests/evbench.c) bound to each other at
 * creation, collects their per-repetition figures from their logs, and
 * stops the daemon (xenon down).
 *
 *   bench-proc-event [XENON_CLI GUESTS_DIR]   (default: next to this binary)
 */

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
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
#define RTT_N 20000
#define MAX_REPS 16

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static double median_u64(uint64_t *t, size_t n)
{
	qsort(t, n, sizeof(*t), cmp_u64);
	return (double)t[n / 2];
}

/* ---- baselines: two processes ------------------------------------------ */

struct shm {
	uint32_t word[2] __attribute__((aligned(64)));
	uint32_t pad[14];
	uint32_t fword[2] __attribute__((aligned(64)));
};

static struct shm *shm_new(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * One round-trip baseline between two processes: the child runs answer(ctx,
 * i) for i = 1..n (wait for i, reply), the parent times ask(ctx, i) (send
 * i, wait for the reply) one by one. Inlined with its callbacks, so every
 * baseline's loop is as tight as if written out.
 */
typedef void rtt_fn(void *ctx, uint32_t i);

static inline __attribute__((always_inline)) double
rtt_two_procs(uint64_t *t, uint32_t n, void *ctx, rtt_fn *ask, rtt_fn *answer)
{
	uint32_t i;
	pid_t pid = fork();

	if (pid < 0)
		return 0;
	if (pid == 0) {
		for (i = 1; i <= n; i++)
			answer(ctx, i);
		_exit(0);
	}
	for (i = 1; i <= n; i++) {
		uint64_t t0 = bench_now_ns();

		ask(ctx, i);
		t[i - 1] = bench_now_ns() - t0;
	}
	waitpid(pid, NULL, 0);
	return median_u64(t, n);
}

/* Cache-line ping-pong: the peer echoes the counter. */
static inline void cl_wait(const uint32_t *w, uint32_t i)
{
	while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != i)
		__builtin_ia32_pause();
}

static void cl_ask(void *ctx, uint32_t i)
{
	struct shm *s = ctx;

	__atomic_store_n(&s->word[0], i, __ATOMIC_RELEASE);
	cl_wait(&s->word[1], i);
}

static void cl_answer(void *ctx, uint32_t i)
{
	struct shm *s = ctx;

	cl_wait(&s->word[0], i);
	__atomic_store_n(&s->word[1], i, __ATOMIC_RELEASE);
}

static double base_cacheline(uint64_t *t)
{
	struct shm *s = shm_new();
	double med;

	if (!s)
		return 0;
	med = rtt_two_procs(t, RTT_N, s, cl_ask, cl_answer);
	munmap(s, 4096);
	return med;
}

/*
 * The masked-port protocol's own floor, no guest library or runtime: each
 * side's pending word where shared_info has it (offset 2048 of a page of
 * its own, as two domains' shared_info pages); a send is the atomic
 * test-and-set of the peer's bit, the wait a spin on our word, then the
 * atomic clear. Per direction that is three cross-core transfers (the
 * sender's RMW, the waiter's read, the waiter's clear upgrading the line)
 * where the ping-pong needs two: the exact ABI's cost before any code.
 */
#define FLOOR_PENDING_OFF 2048

struct floor_words {
	uint64_t *ask, *answer; /* the asker's and the answerer's pending word */
};

static inline void floor_take(uint64_t *w)
{
	while (!(__atomic_load_n(w, __ATOMIC_SEQ_CST) & 1))
		__builtin_ia32_pause();
	__atomic_fetch_and(w, ~1ULL, __ATOMIC_SEQ_CST);
}

static void floor_ask(void *ctx, uint32_t i)
{
	struct floor_words *f = ctx;

	(void)i;
	__atomic_fetch_or(f->answer, 1, __ATOMIC_SEQ_CST);
	floor_take(f->ask);
}

static void floor_answer(void *ctx, uint32_t i)
{
	struct floor_words *f = ctx;

	(void)i;
	floor_take(f->answer);
	__atomic_fetch_or(f->ask, 1, __ATOMIC_SEQ_CST);
}

static double base_pending_floor(uint64_t *t)
{
	uint8_t *a = (uint8_t *)shm_new(), *b = (uint8_t *)shm_new();
	double med = 0;

	if (a && b) {
		struct floor_words f = { (uint64_t *)(a + FLOOR_PENDING_OFF),
					 (uint64_t *)(b + FLOOR_PENDING_OFF) };

		med = rtt_two_procs(t, RTT_N, &f, floor_ask, floor_answer);
	}
	if (a)
		munmap(a, 4096);
	if (b)
		munmap(b, 4096);
	return med;
}

/* Futex round trip, always sleep/wake: each side FUTEX_WAITs (shared) at
 * once and the other always FUTEX_WAKEs. The value check of FUTEX_WAIT
 * makes it lossless. */
static void fx_wait(uint32_t *w, uint32_t want)
{
	uint32_t v;

	while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != want)
		syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void fx_post(uint32_t *w, uint32_t v)
{
	__atomic_store_n(w, v, __ATOMIC_RELEASE);
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void fx_ask(void *ctx, uint32_t i)
{
	struct shm *s = ctx;

	fx_post(&s->fword[0], i);
	fx_wait(&s->fword[1], i);
}

static void fx_answer(void *ctx, uint32_t i)
{
	struct shm *s = ctx;

	fx_wait(&s->fword[0], i);
	fx_post(&s->fword[1], i);
}

static double base_futex(uint64_t *t, unsigned int n)
{
	struct shm *s = shm_new();
	double med;

	if (!s)
		return 0;
	med = rtt_two_procs(t, n, s, fx_ask, fx_answer);
	munmap(s, 4096);
	return med;
}

/* One-way: 1-byte writes for len_ns; the reader counts bytes. Returns
 * bytes read per second. */
static double base_unix_oneway(uint64_t len_ns)
{
	int sv[2];
	uint64_t got = 0, t0;
	char buf[4096] = { 0 };
	pid_t pid;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		t0 = bench_now_ns();
		while (bench_now_ns() - t0 < len_ns)
			if (write(sv[1], buf, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(sv[1]);
	t0 = bench_now_ns();
	while ((n = read(sv[0], buf, sizeof(buf))) > 0)
		got += (uint64_t)n;
	t0 = bench_now_ns() - t0;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return t0 ? (double)got * 1e9 / (double)t0 : 0;
}

/* ---- the domains --------------------------------------------------------- */

struct dom_fig {
	unsigned int reps;
	double poll[MAX_REPS], sleep[MAX_REPS], oneway_sends[MAX_REPS];
	double oneway_events; /* handled by pong, over all reps */
	double oneway_ns;     /* total one-way sending time */
	unsigned long long ping_fast, ping_hc, pong_fast, pong_hc, pong_sleeps;
	unsigned long long poll_syscalls; /* over all reps; -1: not reported */
	unsigned long long poll_rtts;
	/* Round trips on a masked port, both sides in SCHEDOP_poll. */
	unsigned int pp_reps;
	double pollport[MAX_REPS];
	unsigned long long pp_syscalls;
};

static void parse_logs(const char *rd, struct dom_fig *fig)
{
	char path[4400], line[512];
	unsigned long long r, a, b, c, d, e;
	FILE *f;
	int got;

	snprintf(path, sizeof(path), "%s/domain-3.log", rd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		got = sscanf(
			line,
			"evbench: rep %llu rtt_poll_ns %llu rtt_sleep_ns %llu oneway_sends %llu "
			"oneway_ns %llu poll_syscalls %llu",
			&r, &a, &b, &c, &d, &e);
		if (got >= 5 && fig->reps < MAX_REPS) {
			if (got == 6 && fig->poll_syscalls != ~0ULL)
				fig->poll_syscalls += e;
			else
				fig->poll_syscalls = ~0ULL;
			fig->poll_rtts += RTT_N;
			fig->poll[fig->reps] = (double)a;
			fig->sleep[fig->reps] = (double)b;
			fig->oneway_sends[fig->reps++] = (double)c * 1e9 / (double)d;
			fig->oneway_ns += (double)d;
		}
		if (sscanf(line, "evbench: rep %llu rtt_pollport_ns %llu poll_syscalls %llu", &r,
			   &a, &e) == 3 &&
		    fig->pp_reps < MAX_REPS) {
			fig->pollport[fig->pp_reps++] = (double)a;
			fig->pp_syscalls += e;
		}
		sscanf(line, "evbench: ping fast_sends %llu hypercalls %llu", &fig->ping_fast,
		       &fig->ping_hc);
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/domain-2.log", rd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "evbench: pong oneway_events %llu sleeps %llu", &a,
			   &fig->pong_sleeps) == 2)
			fig->oneway_events = (double)a;
		sscanf(line, "evbench: pong fast_sends %llu hypercalls %llu", &fig->pong_fast,
		       &fig->pong_hc);
	}
	if (f)
		fclose(f);
}

static int write_cfg(const char *path, const char *name, int domid, const char *kernel,
		     const char *extra, const char *more)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f,
		"name = \"%s\"\ntype = \"process\"\nkernel = \"%s\"\nmemory = 4\nvcpus = 1\n"
		"domid = %d\nextra = \"%s\"\n%s\n",
		name, kernel, domid, extra, more);
	return fclose(f);
}

static int run_domains(const char *x, const char *guests, struct dom_fig *fig)
{
	char dir[] = "/tmp/xenon-bench-event.XXXXXX", rd[4200], cfg[4300], kernel[4200];
	char extra[256], l2[4300], l3[4300];
	int i, rc = -1;

	if (!mkdtemp(dir))
		return -1;
	snprintf(rd, sizeof(rd), "%s/run", dir);
	snprintf(kernel, sizeof(kernel), "%s/evbench", guests);
	snprintf(l2, sizeof(l2), "%s/domain-2.log", rd);
	snprintf(l3, sizeof(l3), "%s/domain-3.log", rd);
	if (bench_run_cmd("timeout 20 %s --run-dir %s up >/dev/null", x, rd) != 0)
		goto out_rm;
	snprintf(cfg, sizeof(cfg), "%s/pong.cfg", dir);
	snprintf(extra, sizeof(extra), "evbench.reps=%d evbench.n=%d", REPS, RTT_N);
	write_cfg(cfg, "pong", 2, kernel, extra, "");
	if (bench_run_cmd("timeout 10 %s --run-dir %s create -p %s >/dev/null", x, rd, cfg) != 0)
		goto out_down;
	snprintf(cfg, sizeof(cfg), "%s/ping.cfg", dir);
	snprintf(extra, sizeof(extra), "evbench.reps=%d evbench.n=%d evbench.role=ping", REPS,
		 RTT_N);
	write_cfg(cfg, "ping", 3, kernel, extra,
		  "evtchn_reserve = [ \"domain=2,port=10,remote=self\", "
		  "\"domain=2,port=11,remote=self\", \"domain=2,port=12,remote=self\" ]\n"
		  "evtchn_bind = [ \"port=10,remote=2,remote_port=10\", "
		  "\"port=11,remote=2,remote_port=11\", \"port=12,remote=2,remote_port=12\" ]");
	if (bench_run_cmd("timeout 10 %s --run-dir %s create %s >/dev/null", x, rd, cfg) != 0 ||
	    bench_run_cmd("timeout 10 %s --run-dir %s unpause 2 >/dev/null", x, rd) != 0)
		goto out_down;
	for (i = 0; i < 1200 &&
		    !(bench_log_has(l2, "evbench: done") && bench_log_has(l3, "evbench: done"));
	     i++)
		usleep(100000);
	parse_logs(rd, fig);
	rc = fig->reps ? 0 : -1;
	if (rc)
		bench_run_cmd("tail -n 5 %s %s %s/hvd.log >&2", l2, l3, rd);
out_down:
	bench_run_cmd("timeout 20 %s --run-dir %s down >/dev/null", x, rd);
out_rm:
	bench_run_cmd("rm -rf %s", dir);
	return rc;
}

int main(int argc, char **argv)
{
	char x[PATH_MAX + 64], guests[PATH_MAX + 64];
	double cl[2 * REPS], pf[2 * REPS], fx[REPS], ux[REPS], uo[REPS];
	struct bench_stat s_cl, s_pf, s_fx, s_ux, s_uo, s;
	struct dom_fig fig = { 0 };
	uint64_t *t = calloc(RTT_N, sizeof(*t));
	int r;

	if (argc == 3) {
		snprintf(x, sizeof(x), "%s", argv[1]);
		snprintf(guests, sizeof(guests), "%s", argv[2]);
	} else {
		bench_sibling(x, sizeof(x), "tools/xenon/xenon");
		bench_sibling(guests, sizeof(guests), "examples/guests");
	}
	if (!t)
		return 2;
	for (r = 0; r < REPS; r++) {
		cl[r] = base_cacheline(t);
		pf[r] = base_pending_floor(t);
		fx[r] = base_futex(t, RTT_N / 4);
		ux[r] = bench_unix_rtt_ns(RTT_N / 4);
		uo[r] = base_unix_oneway(200000000ULL);
	}
	if (run_domains(x, guests, &fig) < 0) {
		fprintf(stderr, "bench-proc-event: the domains did not report (xenon %s)\n", x);
		return 2;
	}
	/* The cache-line floor again after the domains: this shared machine
	 * drifts, and the round trips are held against the floor around them. */
	for (r = 0; r < REPS; r++) {
		cl[REPS + r] = base_cacheline(t);
		pf[REPS + r] = base_pending_floor(t);
	}
	s_cl = bench_summarise(cl, 2 * REPS);
	s_pf = bench_summarise(pf, 2 * REPS);
	s_fx = bench_summarise(fx, REPS);
	s_ux = bench_summarise(ux, REPS);
	s_uo = bench_summarise(uo, REPS);
	printf("# %u reps; medians of per-rep medians (round trips timed one by one)\n", fig.reps);
	printf("# ping: fast_sends %llu hypercalls %llu; pong: fast_sends %llu hypercalls %llu "
	       "futex sleeps %llu\n",
	       fig.ping_fast, fig.ping_hc, fig.pong_fast, fig.pong_hc, fig.pong_sleeps);
	if (fig.poll_syscalls == ~0ULL)
		printf("# polling round trips: system calls not reported by this evbench\n");
	else
		printf("# polling round trips: %llu system calls in %llu round trips (hypercalls, "
		       "futex waits and wakes, upcall signals; 0 = none on the path)\n",
		       fig.poll_syscalls, fig.poll_rtts);
	s = bench_summarise(fig.poll, fig.reps);
	bench_report("proc-event-rtt-polling", "ns", s, s_cl.median);
	bench_report("proc-event-rtt-polling-vs-unix", "ns", s, s_ux.median);
	if (fig.pp_reps) {
		printf("# masked-port round trips (SCHEDOP_poll both sides): %llu system calls in "
		       "%llu round trips\n",
		       fig.pp_syscalls, (unsigned long long)fig.pp_reps * RTT_N);
		s = bench_summarise(fig.pollport, fig.pp_reps);
		bench_report("proc-event-rtt-pollport", "ns", s, s_cl.median);
		bench_report("proc-event-rtt-pollport-vs-floor", "ns", s, s_pf.median);
	}
	s = bench_summarise(fig.sleep, fig.reps);
	bench_report("proc-event-rtt-asleep", "ns", s, s_fx.median);
	bench_report("proc-event-rtt-asleep-vs-unix", "ns", s, s_ux.median);
	s = bench_summarise(fig.oneway_sends, fig.reps);
	bench_report("proc-event-oneway-sends-per-s", "/s", s, s_uo.median);
	printf("proc-event-oneway-delivered: %.0f events/s handled by the receiver "
	       "(coalesced sends count once), baseline %.0f bytes/s (UNIX stream, 1-byte writes), "
	       "ratio %.2f\n",
	       fig.oneway_ns > 0 ? fig.oneway_events * 1e9 / fig.oneway_ns : 0, s_uo.median,
	       s_uo.median > 0 && fig.oneway_ns > 0
		       ? fig.oneway_events * 1e9 / fig.oneway_ns / s_uo.median
		       : 0);
	printf("# the masked-port protocol's floor (pending words on two pages, atomic set, spin, "
	       "atomic clear; no code): %.0f ns (%.0f..%.0f), ratio to the cache-line %.2f\n",
	       s_pf.median, s_pf.min, s_pf.max, s_cl.median > 0 ? s_pf.median / s_cl.median : 0);
	printf("# baselines: cache-line %.0f ns (%.0f..%.0f), futex %.0f ns (%.0f..%.0f), "
	       "UNIX stream %.0f ns (%.0f..%.0f)\n",
	       s_cl.median, s_cl.min, s_cl.max, s_fx.median, s_fx.min, s_fx.max, s_ux.median,
	       s_ux.min, s_ux.max);
	free(t);
	return 0;
}
