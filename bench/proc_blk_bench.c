/*
 * Block throughput: blkfront -> blkback (their engines, in one process, the
 * back end on its own thread, persistent grants, 1 MiB indirect requests,
 * a 4-page ring) against pread/pwrite of the same image file with the same
 * request size, in the same run. Then 4 KiB random reads at queue depth 32
 * against 4 KiB preads at the same offsets. Each figure twice: through the
 * copying calls (the caller's buffer, copied into/out of pool pages) and
 * zero-copy (buffers from blkfront_buf_alloc(): the back end's preadv and
 * pwritev use the application's pages themselves).
 *   bench-proc-blk [--mib N (a multiple of 8)] [--runs N]
 * The cross-process figure (a blk-guest domain against xenon-blkback) is
 * bench-proc-blk-dom's (bench/proc_blk_dom_bench.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "blk_pair.h"

#define REQ_SECT 2048		 /* 1 MiB: one request */
#define CALL_SECT (8 * REQ_SECT) /* one blkfront call: 8 requests in flight */

struct ctx {
	struct blk_pair *p;
	bool zc; /* the blk side uses zbuf/zsmall and the _zc calls */
	uint8_t *buf, *zbuf, *zsmall;
	uint64_t sectors;
	uint64_t *offs; /* random 4 KiB sectors */
	unsigned int nr_offs;
};

static double seq(struct ctx *c, bool blk, bool write)
{
	uint64_t t = bench_now_ns();

	for (uint64_t s = 0; s < c->sectors; s += blk ? CALL_SECT : REQ_SECT) {
		int rc;

		/* The front end splits a call into 1 MiB requests and keeps them
		 * in flight together: its copies overlap the back end's I/O. The
		 * baseline's synchronous 1 MiB preads/pwrites walk the same 8 MiB
		 * of memory a call does (one 1 MiB buffer reused would stay in
		 * the 4 MiB L2 and flatter the baseline). */
		if (blk && c->zc)
			rc = write ? blkfront_write_zc(&c->p->fe, s, c->zbuf, CALL_SECT)
				   : blkfront_read_zc(&c->p->fe, s, c->zbuf, CALL_SECT);
		else if (blk)
			rc = write ? blkfront_write(&c->p->fe, s, c->buf, CALL_SECT)
				   : blkfront_read(&c->p->fe, s, c->buf, CALL_SECT);
		else
			rc = (write ? pwrite(c->p->fd, c->buf + s % CALL_SECT * 512, REQ_SECT * 512,
					     (off_t)s * 512)
				    : pread(c->p->fd, c->buf + s % CALL_SECT * 512, REQ_SECT * 512,
					    (off_t)s * 512)) == REQ_SECT * 512
				     ? 0
				     : -1;
		if (rc) {
			fprintf(stderr, "bench-proc-blk: I/O failed at %llu\n",
				(unsigned long long)s);
			exit(1);
		}
	}
	/* MB/s */
	return (double)c->sectors * 512 / ((double)(bench_now_ns() - t) / 1e9) / 1e6;
}

static double randread(struct ctx *c, bool blk)
{
	static uint8_t small[32][4096];
	struct blkfront_req reqs[32];
	uint64_t t = bench_now_ns();

	for (unsigned int i = 0; i < c->nr_offs; i += 32) {
		for (unsigned int k = 0; k < 32; k++) {
			if (!blk) {
				if (pread(c->p->fd, small[k], 4096, (off_t)c->offs[i + k] * 512) !=
				    4096)
					exit(1);
				continue;
			}
			reqs[k] = (struct blkfront_req){ .op = BLKIF_OP_READ,
							 .sector = c->offs[i + k],
							 .nsect = 8,
							 .buf = c->zc ? c->zsmall + k * 4096
								      : small[k],
							 .zerocopy = c->zc };
			if (blkfront_submit(&c->p->fe, &reqs[k]))
				exit(1);
		}
		for (unsigned int k = 0; blk && k < 32; k++)
			if (blkfront_wait(&c->p->fe, &reqs[k], 0))
				exit(1);
	}
	return c->nr_offs / ((double)(bench_now_ns() - t) / 1e9);
}

static void figure(const char *name, const char *unit, unsigned int runs, struct ctx *c,
		   double (*fn)(struct ctx *, bool, bool), bool write)
{
	double fig[BENCH_MAX_RUNS], base[BENCH_MAX_RUNS];
	struct blk_pair *p = c->p;
	uint64_t reqs, to_back, to_front, wakes_back, wakes_front;

	fn(c, true, write); /* warm up */
	reqs = p->fe.stats.requests;
	to_back = p->to_back.seq;
	to_front = p->to_front.seq;
	wakes_back = p->to_back.wakes;
	wakes_front = p->to_front.wakes;
	for (unsigned int r = 0; r < runs; r++) {
		fig[r] = fn(c, true, write);
		base[r] = fn(c, false, write);
	}
	bench_report(name, unit, bench_summarise(fig, runs), bench_summarise(base, runs).median);
	/* Where a hand-off costs: kicks per request each way, and how many
	 * of them had to wake a sleeping thread (a futex call). */
	reqs = p->fe.stats.requests - reqs;
	printf("  per request: kicks to back %.3f (futex %.3f), to front %.3f (futex %.3f)\n",
	       (double)(uint32_t)(p->to_back.seq - to_back) / (double)reqs,
	       (double)(p->to_back.wakes - wakes_back) / (double)reqs,
	       (double)(uint32_t)(p->to_front.seq - to_front) / (double)reqs,
	       (double)(p->to_front.wakes - wakes_front) / (double)reqs);
}

static double randread_fn(struct ctx *c, bool blk, bool write)
{
	return randread(c, blk);
}

int main(int argc, char **argv)
{
	struct blk_pair_opts o;
	struct blk_pair *p = calloc(1, sizeof(*p));
	unsigned int runs = 7, mib = 64;
	struct ctx c;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mib"))
			mib = (unsigned int)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--runs"))
			runs = (unsigned int)atoi(argv[i + 1]);
	}
	if (runs < 1 || runs > BENCH_MAX_RUNS || mib < 8 || mib % 8)
		return 2;
	blk_pair_default_opts(&o);
	o.sectors = (uint64_t)mib << 11;
	o.threaded = true;
	o.fe_ring_order = 2;
	/* 2016 copy pages (nearly 8 requests of 1 MiB in flight), 2080 for
	 * zero-copy: an 8 MiB buffer and 32 pages for the random reads. */
	o.pool_pages = 4096;
	o.buf_pages = 2048 + 32;
	if (!p || blk_pair_start(p, &o)) {
		fprintf(stderr, "bench-proc-blk: set-up failed\n");
		return 1;
	}
	c = (struct ctx){ .p = p, .buf = malloc(CALL_SECT * 512), .sectors = o.sectors };
	if (blkfront_buf_alloc(&p->fe, CALL_SECT * 512, (void **)&c.zbuf) ||
	    blkfront_buf_alloc(&p->fe, 32 * 4096, (void **)&c.zsmall)) {
		fprintf(stderr, "bench-proc-blk: zero-copy buffers\n");
		return 1;
	}
	memset(c.zbuf, 0x6b, CALL_SECT * 512);
	c.nr_offs = 32 * 256;
	c.offs = malloc(c.nr_offs * sizeof(*c.offs));
	memset(c.buf, 0x6b, CALL_SECT * 512);
	srand(1);
	for (unsigned int i = 0; i < c.nr_offs; i++)
		c.offs[i] = (uint64_t)(rand() % (int)(o.sectors / 8)) * 8;
	figure("blk seq write 1MiB (in-process pair)", "MB/s", runs, &c, seq, true);
	figure("blk seq read 1MiB (in-process pair)", "MB/s", runs, &c, seq, false);
	figure("blk rand read 4KiB qd32 (in-process pair)", "IOPS", runs, &c, randread_fn, false);
	c.zc = true;
	figure("blk seq write 1MiB zero-copy (in-process pair)", "MB/s", runs, &c, seq, true);
	figure("blk seq read 1MiB zero-copy (in-process pair)", "MB/s", runs, &c, seq, false);
	figure("blk rand read 4KiB qd32 zero-copy (in-process pair)", "IOPS", runs, &c, randread_fn,
	       false);
	blkfront_buf_free(&p->fe, c.zbuf);
	blkfront_buf_free(&p->fe, c.zsmall);
	blk_pair_stop(p);
	free(c.buf);
	free(c.offs);
	free(p);
	return 0;
}
