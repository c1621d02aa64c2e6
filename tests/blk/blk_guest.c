/*
 * blk-guest: a process domain using vbd 51712 (xvda) through blkfront.
 * Its words on the command line (the config's `extra`):
 *   blk.mode=1  verify: blk.mib MiB of random writes of random sizes, each
 *               region read back, then the whole disk compared with a
 *               shadow copy; "blk: verify ok" or "blk: verify FAILED"
 *   blk.mode=2  flush: the pattern of blk.seed over the first blk.mib MiB,
 *               a flush, "blk: flushed", then I/O on the rest until killed
 *   blk.mode=3  loop: write/read/compare forever; when the back end goes,
 *               "blk: backend gone", remove the device, report
 *               "blk: closed leaked=N" and power off
 *   blk.mode=4  bench: sequential 1 MiB writes then reads over the disk,
 *               4 KiB random reads at queue depth 32; "blk: bench ..." lines
 *   blk.order=N ring-page-order wanted (default 2); blk.persistent=0|1
 * The pattern of mode 2 (tests/blk/blk_proc.sh checks the image with it):
 * the 8-byte word at byte offset o is splitmix64(seed ^ (o / 8)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../examples/guests/guest_args.h"
#include "xen_blkfront.h"

#include <xen/sched.h>

#define VDEV 51712
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

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

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
		uint64_t n = 1 + rnd() % 2048, s = rnd() % (fe->be.sectors - n + 1);

		pattern(buf, rnd(), n * 512, rnd());
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
		rc = blkfront_write(fe, half + rnd() % (half - 256), buf, 256);
}

static void loop_until_gone(struct blkfront *fe)
{
	static uint8_t w[64 * 1024], r[64 * 1024];
	int rc = 0;

	say("blk: looping\n");
	while (!rc) {
		uint64_t s = rnd() % (fe->be.sectors - 128);

		pattern(w, s, sizeof(w), rnd());
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

static void bench(struct blkfront *fe)
{
	uint64_t total = fe->be.sectors * 512;
	uint8_t *buf = malloc(1 << 20);
	struct blkfront_req reqs[32];
	static uint8_t small[32][4096];
	double t;

	memset(buf, 0x5a, 1 << 20);
	t = secs();
	for (uint64_t s = 0; s + 2048 <= fe->be.sectors; s += 2048)
		blkfront_write(fe, s, buf, 2048);
	printf("blk: bench write %.1f MB/s\n", total / (secs() - t) / 1e6);
	t = secs();
	for (uint64_t s = 0; s + 2048 <= fe->be.sectors; s += 2048)
		blkfront_read(fe, s, buf, 2048);
	printf("blk: bench read %.1f MB/s\n", total / (secs() - t) / 1e6);
	t = secs();
	for (int round = 0; round < 200; round++) {
		for (int k = 0; k < 32; k++) {
			reqs[k] = (struct blkfront_req){ .op = BLKIF_OP_READ,
							 .sector = rnd() % (fe->be.sectors / 8) * 8,
							 .nsect = 8,
							 .buf = small[k] };
			blkfront_submit(fe, &reqs[k]);
		}
		for (int k = 0; k < 32; k++)
			blkfront_wait(fe, &reqs[k], 0);
	}
	printf("blk: bench randread4k %.0f IOPS\n", 6400 / (secs() - t));
	fflush(stdout);
}

void start_kernel(start_info_t *si)
{
	struct xen_guest *g = xen_guest_current();
	struct blkfront_config cfg = { .ring_order = (unsigned int)guest_arg(si, "blk.order", 2),
				       .persistent = guest_arg(si, "blk.persistent", 1) != 0,
				       .inflight = 32 };
	unsigned int pages = blkfront_mem_pages(cfg.ring_order, 32, POOL_PAGES);
	void *mem = procdom_alloc_pages(pages);
	unsigned long mode = guest_arg(si, "blk.mode", 1);
	int rc;

	if (!g->gnttab.ready)
		xg_gnttab_init(g, 0, XG_GNTTAB_MAX_FRAMES);
	if (!mem || !g->gnttab.ready || xenbus_init(&bus)) {
		say("blk: setup FAILED\n");
		xen_shutdown(SHUTDOWN_crash);
	}
	rc = blkfront_probe(&dev, g, &bus.xb, VDEV, mem, pages, &cfg);
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
		bench(&dev.fe);
	blkfront_remove(&dev);
	printf("blk: closed leaked=%llu\n", (unsigned long long)dev.fe.stats.leaked_pages);
	fflush(stdout);
	xen_shutdown(rc ? SHUTDOWN_crash : SHUTDOWN_poweroff);
}
