/*
 * blkfront's zero-copy interface against blkback in one process:
 * byte-exact data through blkfront_buf_alloc() buffers (direct and
 * indirect requests, offsets inside a page, with and without persistent
 * grants, threaded), mixed with the copying calls; exhaustion of the
 * buffer pages; and misuse (buffers not from the allocator, freed twice,
 * freed while in flight, ranges crossing a buffer's end) refused with
 * errors, nothing left granted or mapped afterwards.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/errno.h>

#include "blk_pair.h"
#include "blk_rng.h"

static struct blk_pair pair;
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static void start(bool threaded, bool persistent, unsigned int buf_pages)
{
	struct blk_pair_opts o;

	blk_pair_default_opts(&o);
	o.threaded = threaded;
	o.fe_persistent = o.be_persistent = persistent;
	o.pool_pages = 1024;
	o.buf_pages = buf_pages;
	cr_assert_eq(blk_pair_start(&pair, &o), 0, "pair start");
}

static void stop_clean(void)
{
	blk_pair_stop(&pair);
	cr_expect_eq(pair.gnt.mapped, 0, "grants still mapped: %lu", pair.gnt.mapped);
	cr_expect_eq(pair.gnt.granted, 0, "grants still granted: %lu", pair.gnt.granted);
	cr_expect_eq(pair.fe.stats.leaked_pages, 0);
}

static void *zalloc(size_t bytes)
{
	void *b = NULL;

	cr_assert_eq(blkfront_buf_alloc(&pair.fe, bytes, &b), 0, "alloc %zu", bytes);
	cr_assert_not_null(b);
	return b;
}

/* Random zero-copy writes (random sizes and offsets inside the buffer),
 * some read back with the copying call, then the whole disk read with
 * zero-copy reads and compared with a shadow and the image file. */
static void zc_random_io(uint64_t total)
{
	const size_t bufsz = 2u << 20; /* 2 MiB: splits into several requests */
	uint64_t disk = pair.o.sectors * 512, done = 0;
	uint8_t *zb = zalloc(bufsz), *shadow = calloc(1, disk), *back = malloc(disk);

	cr_assert(shadow && back);
	while (done < total) {
		uint64_t n = 1 + blk_rnd(&rng_state) % 3000,
			 s = blk_rnd(&rng_state) % (pair.o.sectors - n + 1);
		uint64_t o = blk_rnd(&rng_state) % (bufsz / 512 - n + 1); /* sector offset in zb */

		blk_fill_random(&rng_state, zb + o * 512, n * 512);
		cr_assert_eq(blkfront_write_zc(&pair.fe, s, zb + o * 512, n), 0, "zc write");
		memcpy(shadow + s * 512, zb + o * 512, n * 512);
		if (blk_rnd(&rng_state) % 3 == 0) {
			cr_assert_eq(blkfront_read(&pair.fe, s, back, n), 0);
			cr_assert(!memcmp(back, shadow + s * 512, n * 512), "copying read");
		}
		done += n * 512;
	}
	for (uint64_t s = 0; s < pair.o.sectors; s += bufsz / 512) {
		uint64_t n = pair.o.sectors - s < bufsz / 512 ? pair.o.sectors - s : bufsz / 512;

		memset(zb, 0xa5, bufsz);
		cr_assert_eq(blkfront_read_zc(&pair.fe, s, zb, n), 0, "zc read");
		cr_assert(!memcmp(zb, shadow + s * 512, n * 512), "zc read at %lu differs",
			  (unsigned long)s);
	}
	cr_assert_eq(pread(pair.fd, back, disk, 0), (ssize_t)disk);
	cr_assert(!memcmp(back, shadow, disk), "image file differs");
	cr_assert_eq(blkfront_buf_free(&pair.fe, zb), 0);
	free(shadow);
	free(back);
}

Test(blk_zc, byte_exact_persistent_threaded, .timeout = 120)
{
	start(true, true, 600);
	zc_random_io(8u << 20);
	stop_clean();
}

Test(blk_zc, byte_exact_per_request_grants, .timeout = 120)
{
	start(true, false, 600);
	zc_random_io(6u << 20);
	stop_clean();
}

/* An odd sector offset: the first segment starts mid-page, the request
 * spans one page more than its size; direct and indirect sizes. */
Test(blk_zc, unaligned_in_page)
{
	uint8_t *zb, w[8 * 4096];

	start(false, true, 320);
	zb = zalloc(300 * 4096);
	for (unsigned int n = 1; n <= 64; n = n * 3 + 1) {
		blk_fill_random(&rng_state, w, n * 512);
		memcpy(zb + 3 * 512, w, n * 512);
		cr_assert_eq(blkfront_write_zc(&pair.fe, 100, zb + 3 * 512, n), 0);
		memset(zb, 0, 40 * 4096);
		cr_assert_eq(blkfront_read_zc(&pair.fe, 100, zb + 5 * 512, n), 0);
		cr_assert(!memcmp(zb + 5 * 512, w, n * 512), "n %u", n);
	}
	/* Over 1 MiB from mid-page: split into requests of 255 pages. */
	uint8_t *file = malloc(2100 * 512);

	cr_assert_not_null(file);
	blk_fill_random(&rng_state, zb + 512, 2100 * 512);
	cr_assert_eq(blkfront_write_zc(&pair.fe, 10, zb + 512, 2100), 0);
	cr_assert_eq(pread(pair.fd, file, 2100 * 512, 10 * 512), 2100 * 512);
	cr_assert(!memcmp(file, zb + 512, 2100 * 512), "image differs");
	memset(zb, 0, 300 * 4096);
	cr_assert_eq(blkfront_read_zc(&pair.fe, 10, zb + 7 * 512, 2100), 0);
	cr_assert(!memcmp(file, zb + 7 * 512, 2100 * 512), "read back differs");
	free(file);
	cr_assert_eq(blkfront_buf_free(&pair.fe, zb), 0);
	stop_clean();
}

/* The back end reads straight into the buffer: no copy page is taken. */
Test(blk_zc, no_copy_pages_used)
{
	struct blkfront_req r;
	uint8_t *zb;
	unsigned int free_before;

	start(false, true, 300);
	zb = zalloc(256 * 4096);
	free_before = pair.fe.nr_free_pages;
	r = (struct blkfront_req){
		.op = BLKIF_OP_READ, .sector = 0, .nsect = 2048, .buf = zb, .zerocopy = true
	};
	cr_assert_eq(blkfront_submit(&pair.fe, &r), 0);
	cr_expect_eq(pair.fe.nr_free_pages, free_before);
	cr_assert_eq(blkfront_wait(&pair.fe, &r, 0), 0);
	cr_expect_eq(pair.fe.nr_free_pages, free_before);
	cr_assert_eq(blkfront_buf_free(&pair.fe, zb), 0);
	stop_clean();
}

Test(blk_zc, exhaustion_and_reuse)
{
	void *a, *b, *c, *d;

	start(false, true, 16);
	cr_assert_eq(blkfront_buf_alloc(&pair.fe, 8 * 4096, &a), 0);
	cr_assert_eq(blkfront_buf_alloc(&pair.fe, 4 * 4096 - 100, &b), 0); /* 4 pages */
	cr_assert_eq(blkfront_buf_alloc(&pair.fe, 4 * 4096, &c), 0);
	cr_assert_eq(blkfront_buf_alloc(&pair.fe, 1, &d), -XEN_ENOMEM);
	cr_assert_null(d);
	cr_assert_eq(blkfront_buf_free(&pair.fe, b), 0);
	/* 4 pages free in the middle: 5 do not fit, 4 do. */
	cr_assert_eq(blkfront_buf_alloc(&pair.fe, 5 * 4096, &d), -XEN_ENOMEM);
	cr_assert_eq(blkfront_buf_alloc(&pair.fe, 4 * 4096, &d), 0);
	cr_assert_eq(d, b);
	cr_assert_eq(blkfront_buf_alloc(&pair.fe, 0, &d), -XEN_EINVAL);
	cr_assert_eq(blkfront_buf_alloc(&pair.fe, 17 * 4096, &d), -XEN_EINVAL);
	/* The copying path keeps its own pages. */
	uint8_t w[4096] = { 1, 2, 3 }, r[4096];
	cr_assert_eq(blkfront_write(&pair.fe, 0, w, 8), 0);
	cr_assert_eq(blkfront_read(&pair.fe, 0, r, 8), 0);
	cr_assert(!memcmp(w, r, sizeof(w)));
	cr_assert_eq(blkfront_buf_free(&pair.fe, a), 0);
	cr_assert_eq(blkfront_buf_free(&pair.fe, b), 0);
	cr_assert_eq(blkfront_buf_free(&pair.fe, c), 0);
	stop_clean();
}

Test(blk_zc, misuse_refused)
{
	static uint8_t heap[8192] __attribute__((aligned(4096)));
	uint8_t *a, *b;

	start(false, true, 32);
	a = zalloc(4 * 4096);
	b = zalloc(4 * 4096);
	/* Not from the allocator: the caller's memory, a copy page. */
	cr_assert_eq(blkfront_read_zc(&pair.fe, 0, heap, 8), -XEN_EINVAL);
	cr_assert_eq(blkfront_read_zc(&pair.fe, 0, pair.fe.pool_mem, 8), -XEN_EINVAL);
	cr_assert_eq(blkfront_buf_free(&pair.fe, heap), -XEN_EINVAL);
	/* Not 512-aligned; running past a's end into b; freeing a's middle. */
	cr_assert_eq(blkfront_read_zc(&pair.fe, 0, a + 100, 1), -XEN_EINVAL);
	cr_assert_eq(blkfront_read_zc(&pair.fe, 0, a + 3 * 4096, 16), -XEN_EINVAL);
	cr_assert_eq(blkfront_buf_free(&pair.fe, a + 4096), -XEN_EINVAL);
	/* Beyond the disk, and more than one request may carry (async). */
	cr_assert_eq(blkfront_read_zc(&pair.fe, pair.o.sectors - 1, a, 8), -XEN_EINVAL);
	struct blkfront_req big = {
		.op = BLKIF_OP_READ, .nsect = 257 * 8, .buf = a, .zerocopy = true
	};
	cr_assert_eq(blkfront_submit(&pair.fe, &big), -XEN_EINVAL);
	/* Freed twice; used after free. */
	cr_assert_eq(blkfront_buf_free(&pair.fe, b), 0);
	cr_assert_eq(blkfront_buf_free(&pair.fe, b), -XEN_EINVAL);
	cr_assert_eq(blkfront_write_zc(&pair.fe, 0, b, 8), -XEN_EINVAL);
	/* Freed while in flight: -XEN_EBUSY until the response. */
	struct blkfront_req r = {
		.op = BLKIF_OP_WRITE, .sector = 8, .nsect = 32, .buf = a, .zerocopy = true
	};
	cr_assert_eq(blkfront_submit(&pair.fe, &r), 0);
	cr_assert_eq(blkfront_buf_free(&pair.fe, a), -XEN_EBUSY);
	cr_assert_eq(blkfront_wait(&pair.fe, &r, 0), 0);
	cr_assert_eq(blkfront_buf_free(&pair.fe, a), 0);
	stop_clean();
}

/* More buffer pages than the pool, or all of it: refused at init. */
Test(blk_zc, config_limits)
{
	static struct blkfront fe;
	static const struct xen_ring_env_ops env;
	unsigned int pages = blkfront_mem_pages(0, 32, 64);
	void *mem = aligned_alloc(4096, (size_t)pages * 4096);
	struct blkfront_config cfg = { .env = &env,
				       .gops = &fake_gnt_front_ops,
				       .mem = mem,
				       .mem_pages = pages,
				       .inflight = 32 };
	void *b;

	cr_assert_not_null(mem);
	cfg.buf_pages = 64;
	cr_expect_eq(blkfront_init(&fe, &cfg), -XEN_EINVAL);
	cfg.buf_pages = 65;
	cr_expect_eq(blkfront_init(&fe, &cfg), -XEN_EINVAL);
	cfg.buf_pages = 63;
	cr_expect_eq(blkfront_init(&fe, &cfg), 0);
	cr_expect_eq(blkfront_buf_alloc(&fe, 63 * 4096, &b), 0);
	cr_expect_eq(blkfront_buf_free(&fe, b), 0);
	cfg.buf_pages = 0;
	cr_expect_eq(blkfront_init(&fe, &cfg), 0);
	cr_expect_eq(blkfront_buf_alloc(&fe, 1, &b), -XEN_EINVAL);
	free(mem);
}
