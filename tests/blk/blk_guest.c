/*
 * blk-guest: a process domain using vbd 51712 (xvda) through blkfront, or
 * the one blk.vdev=N names (N its virtual-device number: device/vbd/N).
 * Its words on the command line (the config's `extra`):
 *   blk.mode=1  verify: blk.mib MiB of random writes of random sizes, each
 *               region read back, then the whole disk compared with a
 *               shadow copy; "blk: verify ok" or "blk: verify FAILED"
 *   blk.mode=2  flush: the pattern of blk.seed over the first blk.mib MiB,
 *               a flush, "blk: flushed", then I/O on the rest until killed
 *   blk.mode=3  loop: write/read/compare forever; when the back end goes,
 *               "blk: backend gone", remove the device, report
 *               "blk: closed leaked=N" and power off
 *   blk.mode=4  bench: blk.reps times (after a warm-up pass) sequential
 *               writes then reads over the disk (8 MiB calls, 1 MiB
 *               requests), then 8192 4 KiB random reads at queue depth 32
 *               (submit/wait); one "blk: bench[ zc] write X MB/s read
 *               Y MB/s randread4k Z IOPS" line per rep. Zero-copy buffers
 *               (blkfront_buf_alloc, the _zc calls) unless blk.zc=0.
 *               bench/proc_blk_dom_bench.c drives it.
 *   blk.order=N ring-page-order wanted (default 2); blk.persistent=0|1
 * The pattern of mode 2 (tests/blk/blk_proc.sh checks the image with it):
 * the 8-byte word at byte offset o is splitmix64(seed ^ (o / 8)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../examples/guests/guest_args.h"
#include "blk_rng.h"
#include "xen_blkfront.h"

#include <xen/sched.h>

#define VDEV 51712 /* xvda, unless blk.vdev says */
#define POOL_PAGES 1024

static struct xenbus_guest bus;
static struct blkfront_dev dev;

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void pattern(uint8_t *buf, uint64_t off, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = splitmix64(seed ^ ((off + i) / 8));

		memcpy(buf + i, &v, 8);
	}
}

static uint64_t rng = BLK_RNG_SEED;

static void say(const char *msg)
{
	fputs(msg, stdout);
	fflush(stdout);
}

static int verify(struct blkfront *fe, uint64_t bytes)
{
	uint64_t disk = fe->be.sectors * 512, done = 0;
	uint8_t *shadow = calloc(1, disk), *buf = malloc(1 << 20), *back = malloc(disk);
	int rc = 0;

	if (!shadow || !buf || !back)
		return -1;
	rc = blkfront_read(fe, 0, shadow, fe->be.sectors); /* whatever is there */
	while (!rc && done < bytes) {
		uint64_t n = 1 + blk_rnd(&rng) % 2048, s = blk_rnd(&rng) % (fe->be.sectors - n + 1);

		pattern(buf, blk_rnd(&rng), n * 512, blk_rnd(&rng));
		rc = blkfront_write(fe, s, buf, n);
		if (!rc)
			rc = blkfront_read(fe, s, back, n);
		if (!rc && memcmp(back, buf, n * 512))
			rc = -1000;
		memcpy(shadow + s * 512, buf, n * 512);
		done += n * 512;
	}
	if (!rc)
		rc = blkfront_read(fe, 0, back, fe->be.sectors);
	if (!rc && memcmp(back, shadow, disk))
		rc = -1001;
	if (!rc)
		rc = blkfront_flush(fe);
	printf("blk: verify %s (%llu bytes, rc %d)\n", rc ? "FAILED" : "ok",
	       (unsigned long long)done, rc);
	fflush(stdout);
	return rc;
}

static void flush_then_io(struct blkfront *fe, uint64_t bytes, uint64_t seed)
{
	uint8_t *buf = malloc(1 << 20);
	uint64_t half = fe->be.sectors / 2;
	int rc = 0;

	for (uint64_t off = 0; !rc && off < bytes; off += 1 << 20) {
		pattern(buf, off, 1 << 20, seed);
		rc = blkfront_write(fe, off / 512, buf, 2048);
	}
	if (!rc)
		rc = blkfront_flush(fe);
	printf(rc ? "blk: flush failed %d\n" : "blk: flushed\n", rc);
	fflush(stdout);
	while (!rc) /* mid-I/O until killed */
		rc = blkfront_write(fe, half + blk_rnd(&rng) % (half - 256), buf, 256);
}

static void loop_until_gone(struct blkfront *fe)
{
	static uint8_t w[64 * 1024], r[64 * 1024];
	int rc = 0;

	say("blk: looping\n");
	while (!rc) {
		uint64_t s = blk_rnd(&rng) % (fe->be.sectors - 128);

		pattern(w, s, sizeof(w), blk_rnd(&rng));
		rc = blkfront_write(fe, s, w, 128);
		if (!rc)
			rc = blkfront_read(fe, s, r, 128);
		if (!rc && memcmp(w, r, sizeof(w))) {
			say("blk: loop data FAILED\n");
			return;
		}
	}
	printf("blk: backend gone (rc %d)\n", rc);
	fflush(stdout);
}

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Bench: one blkfront call covers BENCH_CALL sectors (8 requests of 1 MiB
 * in flight); zero-copy buffers from the pool (BENCH_BUF_PAGES of it). */
#define BENCH_CALL (8 * 2048)
#define BENCH_BUF_PAGES (BENCH_CALL / 8 + 32)

struct bench_bufs {
	uint8_t *seq, *small; /* seq: BENCH_CALL sectors; small: 32 x 4 KiB */
	bool zc;
};

/* Sequential I/O over the whole disk; MB/s, or -1 on an error. */
static double bench_seq(struct blkfront *fe, struct bench_bufs *b, bool write)
{
	uint64_t end = fe->be.sectors / BENCH_CALL * BENCH_CALL;
	double t = secs();
	int rc = 0;

	for (uint64_t s = 0; !rc && s < end; s += BENCH_CALL) {
		if (b->zc)
			rc = write ? blkfront_write_zc(fe, s, b->seq, BENCH_CALL)
				   : blkfront_read_zc(fe, s, b->seq, BENCH_CALL);
		else
			rc = write ? blkfront_write(fe, s, b->seq, BENCH_CALL)
				   : blkfront_read(fe, s, b->seq, BENCH_CALL);
	}
	return rc ? -1 : (double)end * 512 / (secs() - t) / 1e6;
}

/* 4 KiB random reads, batches of 32 submitted then waited for; IOPS, or -1.
 * The offsets: xorshift from a fixed seed, so the bench driving this
 * domain can pread the same ones. */
static double bench_rand(struct blkfront *fe, struct bench_bufs *b, unsigned int n)
{
	static uint8_t small[32][4096];
	struct blkfront_req reqs[32];
	double t = secs();
	int rc = 0;

	rng = BLK_RNG_SEED;
	for (unsigned int i = 0; !rc && i < n; i += 32) {
		for (int k = 0; !rc && k < 32; k++) {
			reqs[k] = (struct blkfront_req){
				.op = BLKIF_OP_READ,
				.sector = blk_rnd(&rng) % (fe->be.sectors / 8) * 8,
				.nsect = 8,
				.buf = b->zc ? b->small + k * 4096 : small[k],
				.zerocopy = b->zc
			};
			rc = blkfront_submit(fe, &reqs[k]);
		}
		for (int k = 0; !rc && k < 32; k++)
			rc = blkfront_wait(fe, &reqs[k], 0);
	}
	return rc ? -1 : n / (secs() - t);
}

static int bench(struct blkfront *fe, unsigned long reps, bool zc)
{
	struct bench_bufs b = { .zc = zc };
	double w, r, io;

	if (zc ? blkfront_buf_alloc(fe, BENCH_CALL * 512, (void **)&b.seq) ||
			    blkfront_buf_alloc(fe, 32 * 4096, (void **)&b.small)
	       : !(b.seq = malloc(BENCH_CALL * 512))) {
		say("blk: bench buffers FAILED\n");
		return -1;
	}
	memset(b.seq, 0x5a, BENCH_CALL * 512);
	/* Warm-up: the back end maps the persistent grants once. */
	if (bench_seq(fe, &b, true) < 0 || bench_seq(fe, &b, false) < 0)
		return -1;
	for (unsigned long i = 0; i < reps; i++) {
		w = bench_seq(fe, &b, true);
		r = bench_seq(fe, &b, false);
		io = bench_rand(fe, &b, 32 * 256);
		if (w < 0 || r < 0 || io < 0) {
			say("blk: bench I/O FAILED\n");
			return -1;
		}
		printf("blk: bench%s write %.1f MB/s read %.1f MB/s randread4k %.0f IOPS\n",
		       zc ? " zc" : "", w, r, io);
		fflush(stdout);
	}
	if (zc) {
		blkfront_buf_free(fe, b.small);
		return blkfront_buf_free(fe, b.seq);
	}
	free(b.seq);
	return 0;
}

void start_kernel(start_info_t *si)
{
	struct xen_guest *g = xen_guest_current();
	struct blkfront_config cfg = { .ring_order = (unsigned int)guest_arg(si, "blk.order", 2),
				       .persistent = guest_arg(si, "blk.persistent", 1) != 0,
				       .inflight = 32 };
	unsigned long mode = guest_arg(si, "blk.mode", 1);
	unsigned int pages, pool = POOL_PAGES;
	void *mem;
	int rc;

	if (mode == 4) /* the zero-copy buffers: set aside after the copy pages */
		cfg.buf_pages = BENCH_BUF_PAGES;
	pool += cfg.buf_pages;
	pages = blkfront_mem_pages(cfg.ring_order, 32, pool);
	mem = procdom_alloc_pages(pages);

	if (!g->gnttab.ready)
		xg_gnttab_init(g, 0, XG_GNTTAB_MAX_FRAMES);
	if (!mem || !g->gnttab.ready || xenbus_init(&bus)) {
		say("blk: setup FAILED\n");
		xen_shutdown(SHUTDOWN_crash);
	}
	rc = blkfront_probe(&dev, g, &bus.xb, (unsigned int)guest_arg(si, "blk.vdev", VDEV), mem,
			    pages, &cfg);
	printf("blk: probe rc %d, %llu sectors, order %u, persistent %d, segs %u\n", rc,
	       (unsigned long long)dev.fe.be.sectors, dev.fe.ring_order, dev.fe.persistent,
	       dev.fe.max_segs);
	fflush(stdout);
	if (rc)
		xen_shutdown(SHUTDOWN_crash);
	if (mode == 1)
		rc = verify(&dev.fe, guest_arg(si, "blk.mib", 8) << 20);
	else if (mode == 2)
		flush_then_io(&dev.fe, guest_arg(si, "blk.mib", 4) << 20,
			      guest_arg(si, "blk.seed", 1));
	else if (mode == 3)
		loop_until_gone(&dev.fe);
	else
		rc = bench(&dev.fe, guest_arg(si, "blk.reps", 1), guest_arg(si, "blk.zc", 1) != 0);
	blkfront_remove(&dev);
	printf("blk: closed leaked=%llu\n", (unsigned long long)dev.fe.stats.leaked_pages);
	fflush(stdout);
	xen_shutdown(rc ? SHUTDOWN_crash : SHUTDOWN_poweroff);
}
