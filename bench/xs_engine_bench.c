/*
 * XenStore engine benchmark: the request engine alone, no sockets, through
 * the public engine.h API with a transport that drops what it is sent.
 * Prints "name: median X (min..max)" per figure over RUNS runs.
 *
 *   create-100k    ms to create 100,000 nodes, 100 per directory, 32-byte values
 *   rss-100k       MB resident after that (whole process)
 *   (first run also: resident bytes per node, store created to 100k nodes;
 *   node versions live in mmap'd slab pages, so malloc statistics miss them)
 *   read           reads/s of one node
 *   txn-10r10w     transactions/s, each 10 reads + 10 writes + commit
 *   watch-64-last  us from a write to the 64th watcher's event
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <time.h>

#include "engine.h"

#define RUNS 5

struct sink {
	unsigned long msgs;
	double last_ns;
	char last[32]; /* start of the last reply's payload */
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int sink_send(void *t, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct sink *k = t;

	k->msgs++;
	if (hdr->type == XS_WATCH_EVENT) {
		k->last_ns = now_ns();
		return 0;
	}
	memcpy(k->last, payload, hdr->len < sizeof(k->last) - 1 ? hdr->len : sizeof(k->last) - 1);
	k->last[hdr->len < sizeof(k->last) - 1 ? hdr->len : sizeof(k->last) - 1] = '\0';
	return 0;
}

static const struct xs_conn_ops sink_ops = { sink_send };

static void req(struct xs_conn *c, uint32_t type, uint32_t tx, const void *p, size_t len)
{
	struct xsd_sockmsg h = { type, 1, tx, (uint32_t)len };

	xs_conn_request(c, &h, p);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n, const char *unit)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%s: median %.1f %s (%.1f..%.1f)\n", name, v[n / 2], unit, v[0], v[n - 1]);
}

static double rss_mb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lf", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb / 1024;
}

static double bench_create(struct xs_conn *c)
{
	char buf[128];
	double t0 = now_ns();

	for (int d = 0; d < 1000; d++) {
		for (int i = 0; i < 100; i++) {
			int n = snprintf(buf, sizeof(buf),
					 "/local/domain/0/bench/d%03d/"
					 "n%02d%c0123456789abcdef0123456789abcdef",
					 d, i, 0);
			req(c, XS_WRITE, 0, buf, (size_t)n); /* n counts the value */
		}
	}
	return (now_ns() - t0) / 1e6;
}

static double bench_read(struct xs_conn *c)
{
	const char p[] = "/local/domain/0/bench/d500/n50";
	const int n = 500000;
	double t0 = now_ns();

	for (int i = 0; i < n; i++)
		req(c, XS_READ, 0, p, sizeof(p));
	return n / ((now_ns() - t0) / 1e9);
}

static double bench_txn(struct xs_conn *c, struct sink *k)
{
	const int n = 20000;
	char buf[128];
	double t0 = now_ns();

	for (int i = 0; i < n; i++) {
		struct xsd_sockmsg h = { XS_TRANSACTION_START, 1, 0, 1 };
		uint32_t id;

		xs_conn_request(c, &h, "");
		id = (uint32_t)strtoul(k->last, NULL, 10);
		for (int j = 0; j < 10; j++) {
			int l = snprintf(buf, sizeof(buf), "/local/domain/0/bench/d%03d/n%02d",
					 (i + j) % 1000, j);
			req(c, XS_READ, id, buf, (size_t)l + 1);
		}
		for (int j = 0; j < 10; j++) {
			int l = snprintf(buf, sizeof(buf), "/local/domain/0/bench/d%03d/n%02d%cv%d",
					 (i + j) % 1000, j + 10, 0, i);
			req(c, XS_WRITE, id, buf, (size_t)l);
		}
		req(c, XS_TRANSACTION_END, id, "T", 2);
		if (strcmp(k->last, "OK") != 0) {
			fprintf(stderr, "txn %u: %s\n", id, k->last);
			exit(1);
		}
	}
	return n / ((now_ns() - t0) / 1e9);
}

static double bench_watch(struct xs_store *s, struct xs_conn *c)
{
	struct sink ks[64];
	struct xs_conn *w[64];
	char buf[64];
	double best = 0;

	for (int i = 0; i < 64; i++) {
		memset(&ks[i], 0, sizeof(ks[i]));
		w[i] = xs_conn_create(s, 0, true, &sink_ops, &ks[i]);
		int n = snprintf(buf, sizeof(buf), "/local/domain/0/bench/d007%ct%d", 0, i);
		req(w[i], XS_WATCH, 0, buf, (size_t)n + 1);
	}
	for (int r = 0; r < 100; r++) {
		double t0 = now_ns();

		req(c, XS_WRITE, 0, "/local/domain/0/bench/d007/n01\0x", 33);
		double us = (ks[63].last_ns - t0) / 1e3;
		if (r == 0 || us < best)
			best = us;
	}
	for (int i = 0; i < 64; i++)
		xs_conn_destroy(w[i]);
	return best;
}

int main(void)
{
	double create[RUNS], rss[RUNS], rd[RUNS], tx[RUNS], wt[RUNS];

	for (int r = 0; r < RUNS; r++) {
		double rss0 = rss_mb();
		struct xs_store *s = xs_store_create(NULL, NULL);
		struct sink k = { 0 };
		struct xs_conn *c = xs_conn_create(s, 0, true, &sink_ops, &k);

		create[r] = bench_create(c);
		rss[r] = rss_mb();
		if (r == 0)
			printf("resident per node: %.1f bytes (malloc heap %.1f MB)\n",
			       (rss[r] - rss0) * (1 << 20) / 100000,
			       (double)mallinfo2().uordblks / (1 << 20));
		rd[r] = bench_read(c);
		tx[r] = bench_txn(c, &k);
		wt[r] = bench_watch(s, c);
		xs_conn_destroy(c);
		xs_store_destroy(s);
	}
	report("create-100k", create, RUNS, "ms");
	report("rss-100k", rss, RUNS, "MB");
	report("read", rd, RUNS, "ops/s");
	report("txn-10r10w", tx, RUNS, "txn/s");
	report("watch-64-last", wt, RUNS, "us");
	return 0;
}
