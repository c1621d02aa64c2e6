/*
 * Event channels between two process domains, end to end, beside host
 * baselines measured in the same run (reference/floors.md; the cache-line
 * ping-pong both before and after the domains run, one median of both,
 * and around each pair of domains; see "Placement" below):
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
 * It starts its own xenon-hvd in a fresh run dir (xenon up), creates
 * PAIRS pairs of evbench domains (examples/guests/evbench.c), each pair
 * bound to each other at creation, runs the pairs one after another,
 * collects their per-repetition figures from their logs, and stops the
 * daemon (xenon down).
 *
 * Placement. On this shared VM a ping-pong on two lines of one page costs
 * ~280-320 ns by which page (steady for a page from pass to pass), and
 * the masked-port round trip comes in two modes (~280 and ~370 ns),
 * steady for one pair of domains and
 * the same on both of its ports' lines, not following which CPU each
 * domain runs on (pinned both ways) nor the cache-line measured just
 * before and just after that pair. One pair is thus one draw. So:
 *   - every pair is created before any runs (pages of its own each), and
 *     the masked-port round trip is run on ports 12 and 524 in turn (one
 *     line of the pending bitmap each); the figure is the median over all
 *     of them, each placement's median printed beside it;
 *   - the line baselines are on lines of their own, all held at once, and
 *     the cache-line ping-pong and the floor (on each pending line the
 *     pair's ports use, averaged) are also measured just before and just
 *     after each pair: proc-event-rtt-pollport-paired is the median over
 *     the pairs of the ratio at that moment.
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
/* Domain pairs, one after another, all created first so that each has
 * pages of its own; and the masked-port round trip on ports 12 and 524,
 * one per line of the pending bitmap (evbench.pollgroups; ports below
 * 1024, the send table's): see "Placement" at the top. */
#define PAIRS 3
#define POLL_GROUPS 2
#define MAX_REPS (REPS * PAIRS)
#define MAX_PP (MAX_REPS * POLL_GROUPS)

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

/* Rep k's line: page k of the region, a line of its own in that page. */
static double base_cacheline(uint64_t *t, uint8_t *region, unsigned int k)
{
	struct shm *s = (struct shm *)(region + (size_t)k * 4096 + 64 * ((k * 5) % 62));

	return rtt_two_procs(t, RTT_N, s, cl_ask, cl_answer);
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
#define NR_SAMPLES (2 * REPS) /* of each line baseline: before and after */
/* ... and, for each pair of domains, lines measured before it and after
 * it (the same ones, so the two differ only in time): the cache-line's
 * NR_SAMPLES + k, the floor's NR_SAMPLES + k * POLL_GROUPS + g, one per
 * pending line the pair's ports use */
#define NR_LINES (NR_SAMPLES + PAIRS * POLL_GROUPS)
_Static_assert(NR_SAMPLES % POLL_GROUPS == 0, "floor sample k's pending line is k % POLL_GROUPS");

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

/* Rep k: pages k and NR_LINES + k of the region, the pending line of
 * ports 512 * (k % POLL_GROUPS) onwards (as the masked-port round trip's
 * ports). */
static double base_pending_floor(uint64_t *t, uint8_t *region, unsigned int k)
{
	size_t off = FLOOR_PENDING_OFF + 64 * (k % POLL_GROUPS);
	struct floor_words f = { (uint64_t *)(region + (size_t)k * 4096 + off),
				 (uint64_t *)(region + (size_t)(NR_LINES + k) * 4096 + off) };

	return rtt_two_procs(t, RTT_N, &f, floor_ask, floor_answer);
}

/* The floor around pair k: the mean over the pending lines its ports use,
 * as its masked-port figure is a median over those ports. */
static double floor_around(uint64_t *t, uint8_t *region, unsigned int k)
{
	double sum = 0;

	for (unsigned int g = 0; g < POLL_GROUPS; g++)
		sum += base_pending_floor(t, region, NR_SAMPLES + k * POLL_GROUPS + g);
	return sum / POLL_GROUPS;
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
	double pollport[MAX_PP];
	unsigned int pp_pair[MAX_PP], pp_port[MAX_PP];
	/* The cache-line ping-pong and the floor just before and just after
	 * each pair ran (the machine's state drifts over seconds). */
	double cl_around[PAIRS][2], pf_around[PAIRS][2];
	unsigned long long pp_syscalls;
};

static void parse_logs(const char *rd, unsigned int pair, struct dom_fig *fig)
{
	char path[4400], line[512];
	unsigned long long r, a, b, c, d, e, port;
	FILE *f;
	int got;

	snprintf(path, sizeof(path), "%s/domain-%u.log", rd, 3 + 2 * pair);
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
		port = 0;
		if (sscanf(line,
			   "evbench: rep %llu rtt_pollport_ns %llu poll_syscalls %llu port %llu",
			   &r, &a, &e, &port) >= 3 &&
		    fig->pp_reps < MAX_PP) {
			fig->pp_pair[fig->pp_reps] = pair;
			fig->pp_port[fig->pp_reps] = (unsigned int)port;
			fig->pollport[fig->pp_reps++] = (double)a;
			fig->pp_syscalls += e;
		}
		if (sscanf(line, "evbench: ping fast_sends %llu hypercalls %llu", &a, &b) == 2) {
			fig->ping_fast += a;
			fig->ping_hc += b;
		}
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/domain-%u.log", rd, 2 + 2 * pair);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "evbench: pong oneway_events %llu sleeps %llu", &a, &b) == 2) {
			fig->oneway_events += (double)a;
			fig->pong_sleeps += b;
		}
		if (sscanf(line, "evbench: pong fast_sends %llu hypercalls %llu", &a, &b) == 2) {
			fig->pong_fast += a;
			fig->pong_hc += b;
		}
	}
	if (f)
		fclose(f);
}

/* The masked-port round trip placement by placement (a pair's port: its
 * own two pending lines), each the median of its repetitions. */
static void pollport_by_placement(const struct dom_fig *fig)
{
	double v[MAX_PP];
	unsigned int i, j, n;

	printf("# masked-port round trip by placement (pair/port: median of its reps):");
	for (i = 0; i < fig->pp_reps; i++) {
		for (j = 0; j < i && (fig->pp_pair[j] != fig->pp_pair[i] ||
				      fig->pp_port[j] != fig->pp_port[i]);
		     j++)
			;
		if (j < i) /* printed already */
			continue;
		for (j = n = 0; j < fig->pp_reps; j++)
			if (fig->pp_pair[j] == fig->pp_pair[i] &&
			    fig->pp_port[j] == fig->pp_port[i])
				v[n++] = fig->pollport[j];
		printf(" %u/%u: %.0f", fig->pp_pair[i], fig->pp_port[i],
		       bench_summarise(v, n).median);
	}
	printf(" ns\n");
}

/* Each pair's masked-port round trip against the cache-line ping-pong and
 * the floor measured just before and just after it (their mean): the
 * ratio at the same moment, and the median over the pairs. */
static void pollport_paired(const struct dom_fig *fig)
{
	double rc[PAIRS], rf[PAIRS], v[MAX_PP], med;
	struct bench_stat sc;
	unsigned int k, i, n;

	for (k = 0; k < PAIRS; k++) {
		double cl = (fig->cl_around[k][0] + fig->cl_around[k][1]) / 2;
		double pf = (fig->pf_around[k][0] + fig->pf_around[k][1]) / 2;

		for (i = n = 0; i < fig->pp_reps; i++)
			if (fig->pp_pair[i] == k)
				v[n++] = fig->pollport[i];
		med = n ? bench_summarise(v, n).median : 0;
		rc[k] = cl > 0 ? med / cl : 0;
		rf[k] = pf > 0 ? med / pf : 0;
		printf("# pair %u: masked-port %.0f ns; around it: cache-line %.0f, %.0f ns, floor "
		       "%.0f, %.0f ns; ratios %.2f, %.2f\n",
		       k, med, fig->cl_around[k][0], fig->cl_around[k][1], fig->pf_around[k][0],
		       fig->pf_around[k][1], rc[k], rf[k]);
	}
	sc = bench_summarise(rc, PAIRS);
	printf("proc-event-rtt-pollport-paired: median ratio %.2f over %u pairs (%.2f..%.2f) to "
	       "the cache-line measured around each pair; to the floor %.2f\n",
	       sc.median, PAIRS, sc.min, sc.max, bench_summarise(rf, PAIRS).median);
}

static int write_cfg(const char *path, const char *name, int domid, const char *kernel,
		     const char *extra, const char *more)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f,
		"name = \"%s%d\"\ntype = \"process\"\nkernel = \"%s\"\nmemory = 4\nvcpus = 1\n"
		"domid = %d\nextra = \"%s\"\n%s\n",
		name, domid, kernel, domid, extra, more);
	return fclose(f);
}

/* Ping's channels, bound at creation: 10 (round trips), 11 (one-way) and
 * the masked-port group 12 + 512 g. */
static void chan_lines(char *buf, size_t len, unsigned int pong)
{
	char res[2048] = "", bind[2048] = "";
	size_t rl = 0, bl = 0;
	unsigned int k, port;

	for (k = 0; k < 2 + POLL_GROUPS; k++) {
		port = k < 2 ? 10 + k : 12 + 512 * (k - 2);
		rl += (size_t)snprintf(res + rl, sizeof(res) - rl,
				       "%s\"domain=%u,port=%u,remote=self\"", k ? ", " : "", pong,
				       port);
		bl += (size_t)snprintf(bind + bl, sizeof(bind) - bl,
				       "%s\"port=%u,remote=%u,remote_port=%u\"", k ? ", " : "",
				       port, pong, port);
	}
	snprintf(buf, len, "evtchn_reserve = [ %s ]\nevtchn_bind = [ %s ]", res, bind);
}

struct line_bases {
	uint64_t *t;
	uint8_t *cl_region, *pf_region; /* NR_LINES (pairs of) pages */
};

static int run_domains(const char *x, const char *guests, struct dom_fig *fig,
		       const struct line_bases *lb)
{
	char dir[] = "/tmp/xenon-bench-event.XXXXXX", rd[4200], cfg[4300], kernel[4200];
	char extra[256], l2[4300], l3[4300], chans[4500];
	unsigned int k, pong;
	int i, rc = -1;

	if (!mkdtemp(dir))
		return -1;
	snprintf(rd, sizeof(rd), "%s/run", dir);
	snprintf(kernel, sizeof(kernel), "%s/evbench", guests);
	if (bench_run_cmd("timeout 20 %s --run-dir %s up >/dev/null", x, rd) != 0)
		goto out_rm;
	/* Every pair created (paused) before any runs: each has pages of its
	 * own, none reused from a pair that ended. */
	for (k = 0; k < PAIRS; k++) {
		pong = 2 + 2 * k;
		snprintf(cfg, sizeof(cfg), "%s/pong%u.cfg", dir, k);
		snprintf(extra, sizeof(extra), "evbench.reps=%d evbench.n=%d evbench.pollgroups=%d",
			 REPS, RTT_N, POLL_GROUPS);
		write_cfg(cfg, "pong", (int)pong, kernel, extra, "");
		if (bench_run_cmd("timeout 10 %s --run-dir %s create -p %s >/dev/null", x, rd,
				  cfg) != 0)
			goto out_down;
		snprintf(cfg, sizeof(cfg), "%s/ping%u.cfg", dir, k);
		snprintf(extra, sizeof(extra),
			 "evbench.reps=%d evbench.n=%d evbench.pollgroups=%d evbench.role=ping",
			 REPS, RTT_N, POLL_GROUPS);
		chan_lines(chans, sizeof(chans), pong);
		write_cfg(cfg, "ping", (int)pong + 1, kernel, extra, chans);
		if (bench_run_cmd("timeout 10 %s --run-dir %s create -p %s >/dev/null", x, rd,
				  cfg) != 0)
			goto out_down;
	}
	for (k = 0; k < PAIRS; k++) {
		pong = 2 + 2 * k;
		snprintf(l2, sizeof(l2), "%s/domain-%u.log", rd, pong);
		snprintf(l3, sizeof(l3), "%s/domain-%u.log", rd, pong + 1);
		fig->cl_around[k][0] = base_cacheline(lb->t, lb->cl_region, NR_SAMPLES + k);
		fig->pf_around[k][0] = floor_around(lb->t, lb->pf_region, k);
		if (bench_run_cmd("timeout 10 %s --run-dir %s unpause %u >/dev/null", x, rd,
				  pong) != 0 ||
		    bench_run_cmd("timeout 10 %s --run-dir %s unpause %u >/dev/null", x, rd,
				  pong + 1) != 0)
			goto out_down;
		for (i = 0; i < 1200 && !(bench_log_has(l2, "evbench: done") &&
					  bench_log_has(l3, "evbench: done"));
		     i++)
			usleep(100000);
		fig->cl_around[k][1] = base_cacheline(lb->t, lb->cl_region, NR_SAMPLES + k);
		fig->pf_around[k][1] = floor_around(lb->t, lb->pf_region, k);
		parse_logs(rd, k, fig);
		/* A pair that did not finish, or left a phase short, is not a
		 * figure (and would run on beside the next pair). */
		if (!bench_log_has(l2, "evbench: done") || !bench_log_has(l3, "evbench: done") ||
		    fig->reps != (k + 1) * REPS || fig->pp_reps != (k + 1) * REPS * POLL_GROUPS) {
			fprintf(stderr, "bench-proc-event: pair %u did not finish\n", k);
			bench_run_cmd("tail -n 5 %s %s %s/hvd.log >&2", l2, l3, rd);
			goto out_down;
		}
	}
	rc = 0;
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
	/* Every line baseline on lines of its own, all held at once (see
	 * "Placement"): the cache-line's NR_LINES pages, the floor's two
	 * sets of NR_LINES pages. */
	uint8_t *cl_region = mmap(NULL, NR_LINES * 4096, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t *pf_region = mmap(NULL, 2 * NR_LINES * 4096, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct line_bases lb = { t, cl_region, pf_region };
	int r;

	if (argc == 3) {
		snprintf(x, sizeof(x), "%s", argv[1]);
		snprintf(guests, sizeof(guests), "%s", argv[2]);
	} else {
		bench_sibling(x, sizeof(x), "tools/xenon/xenon");
		bench_sibling(guests, sizeof(guests), "examples/guests");
	}
	if (!t || cl_region == MAP_FAILED || pf_region == MAP_FAILED)
		return 2;
	for (r = 0; r < REPS; r++) {
		cl[r] = base_cacheline(t, cl_region, (unsigned int)r);
		pf[r] = base_pending_floor(t, pf_region, (unsigned int)r);
		fx[r] = base_futex(t, RTT_N / 4);
		ux[r] = bench_unix_rtt_ns(RTT_N / 4);
		uo[r] = base_unix_oneway(200000000ULL);
	}
	if (run_domains(x, guests, &fig, &lb) < 0) {
		fprintf(stderr, "bench-proc-event: the domains did not report (xenon %s)\n", x);
		return 2;
	}
	/* The cache-line floor again after the domains: this shared machine
	 * drifts, and the round trips are held against the floor around them. */
	for (r = 0; r < REPS; r++) {
		cl[REPS + r] = base_cacheline(t, cl_region, (unsigned int)(REPS + r));
		pf[REPS + r] = base_pending_floor(t, pf_region, (unsigned int)(REPS + r));
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
		double all[MAX_PP];

		printf("# masked-port round trips (SCHEDOP_poll both sides): %llu system calls in "
		       "%llu round trips\n",
		       fig.pp_syscalls, (unsigned long long)fig.pp_reps * RTT_N);
		pollport_by_placement(&fig);
		pollport_paired(&fig);
		/* A copy: bench_summarise sorts, and pollport[] lines up with
		 * pp_pair[] and pp_port[]. */
		memcpy(all, fig.pollport, sizeof(all));
		s = bench_summarise(all, fig.pp_reps);
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
	munmap(cl_region, NR_LINES * 4096);
	munmap(pf_region, 2 * NR_LINES * 4096);
	free(t);
	return 0;
}
