/*
 * blkfront against blkback in one process: byte-exact data (random
 * patterns, several MiB, direct and indirect requests, single and
 * multi-page rings, with and without persistent grants), ring index
 * wrap-around (the indices start just below UINT32_MAX and the slots turn
 * over many times), flush ordering, discard, read-only devices, a hostile
 * back end, and nothing left granted or mapped afterwards.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/errno.h>

#include "blk_pair.h"
#include "blk_rng.h"

static struct blk_pair pair;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static void start(const struct blk_pair_opts *o)
{
	cr_assert_eq(blk_pair_start(&pair, o), 0, "pair start");
}

/* Stop both ends and check that nothing stays granted or mapped. */
static void stop_clean(void)
{
	blk_pair_stop(&pair);
	cr_expect_eq(pair.gnt.mapped, 0, "grants still mapped: %lu", pair.gnt.mapped);
	cr_expect_eq(pair.gnt.granted, 0, "grants still granted: %lu", pair.gnt.granted);
	cr_expect_eq(pair.fe.stats.leaked_pages, 0);
}

/* Random writes over the disk, a shadow kept in memory, then every byte
 * read back through the front end and straight from the image file. */
static void random_io(uint64_t total_bytes, uint64_t max_sect)
{
	uint64_t disk = pair.o.sectors * 512, done = 0;
	uint8_t *shadow = calloc(1, disk), *buf = malloc(max_sect * 512), *back = malloc(disk);

	cr_assert(shadow && buf && back);
	while (done < total_bytes) {
		uint64_t n = 1 + blk_rnd(&rng_state) % max_sect;
		uint64_t s = blk_rnd(&rng_state) % (pair.o.sectors - n + 1);

		blk_fill_random(&rng_state, buf, n * 512);
		cr_assert_eq(blkfront_write(&pair.fe, s, buf, n), 0, "write %lu+%lu",
			     (unsigned long)s, (unsigned long)n);
		memcpy(shadow + s * 512, buf, n * 512);
		if (blk_rnd(&rng_state) % 4 == 0) {
			cr_assert_eq(blkfront_read(&pair.fe, s, back, n), 0);
			cr_assert(!memcmp(back, buf, n * 512), "read after write differs");
		}
		done += n * 512;
	}
	memset(back, 0xa5, disk);
	cr_assert_eq(blkfront_read(&pair.fe, 0, back, pair.o.sectors), 0);
	cr_assert(!memcmp(back, shadow, disk), "front-end read of the disk differs");
	cr_assert_eq(pread(pair.fd, back, disk, 0), (ssize_t)disk);
	cr_assert(!memcmp(back, shadow, disk), "image file differs");
	free(shadow);
	free(buf);
	free(back);
}

Test(blk_pair, sync_small_rw)
{
	struct blk_pair_opts o;
	uint8_t w[4096 * 3], r[sizeof(w)];

	blk_pair_default_opts(&o);
	start(&o);
	blk_fill_random(&rng_state, w, sizeof(w));
	cr_assert_eq(blkfront_write(&pair.fe, 5, w, 24), 0);
	cr_assert_eq(blkfront_read(&pair.fe, 5, r, 24), 0);
	cr_assert(!memcmp(w, r, sizeof(w)));
	/* One sector at an odd place. */
	cr_assert_eq(blkfront_write(&pair.fe, 16383, w, 1), 0);
	cr_assert_eq(blkfront_read(&pair.fe, 16383, r, 1), 0);
	cr_assert(!memcmp(w, r, 512));
	stop_clean();
}

/* Every combination of ring size, persistent grants and indirect requests,
 * threaded, several MiB each. */
struct combo {
	unsigned int order;
	bool persistent;
	unsigned int indirect;
};

static const struct combo combos[] = {
	{ 0, true, 256 }, { 0, false, 256 }, { 2, true, 256 }, { 2, false, 0 },
	{ 4, true, 64 },  { 0, true, 0 },    { 1, false, 32 },
};

Test(blk_pair, threaded_combinations_several_mib, .timeout = 120)
{
	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		struct blk_pair_opts o;

		blk_pair_default_opts(&o);
		o.threaded = true;
		o.fe_ring_order = combos[i].order;
		o.fe_persistent = o.be_persistent = combos[i].persistent;
		o.max_indirect_segs = combos[i].indirect;
		start(&o);
		cr_assert_eq(pair.fe.ring_order, combos[i].order);
		random_io(6u << 20, 2048);
		cr_expect_eq(pair.back_rc >= 0, true);
		if (combos[i].persistent)
			cr_expect_leq(pair.br.stats.pgrants, o.pool_pages + o.inflight);
		if (!combos[i].indirect)
			cr_expect_eq(blkfront_max_sectors(&pair.fe), 88);
		stop_clean();
	}
}

/* Ring indices start near UINT32_MAX; 20000 requests turn a 32-slot ring
 * over 600 times and the 32-bit indices wrap once. */
Test(blk_pair, ring_index_wrap, .timeout = 120)
{
	struct blk_pair_opts o;
	struct blkfront_req reqs[32];
	static uint8_t data[32][4096], got[32][4096];
	uint32_t start_idx = UINT32_MAX - 100;

	blk_pair_default_opts(&o);
	o.threaded = true;
	o.ring_start = start_idx;
	start(&o);
	for (unsigned int round = 0; round < 20000 / 32; round++) {
		for (unsigned int k = 0; k < 32; k++) {
			blk_fill_random(&rng_state, data[k], 4096);
			reqs[k] = (struct blkfront_req){ .op = BLKIF_OP_WRITE,
							 .sector = (round * 32u + k) % 2048 * 8,
							 .nsect = 8,
							 .buf = data[k] };
			cr_assert_eq(blkfront_submit(&pair.fe, &reqs[k]), 0);
		}
		for (unsigned int k = 0; k < 32; k++)
			cr_assert_eq(blkfront_wait(&pair.fe, &reqs[k], 0), 0);
		for (unsigned int k = 0; k < 32; k++) {
			reqs[k] = (struct blkfront_req){ .op = BLKIF_OP_READ,
							 .sector = (round * 32u + k) % 2048 * 8,
							 .nsect = 8,
							 .buf = got[k] };
			cr_assert_eq(blkfront_submit(&pair.fe, &reqs[k]), 0);
		}
		for (unsigned int k = 0; k < 32; k++) {
			cr_assert_eq(blkfront_wait(&pair.fe, &reqs[k], 0), 0);
			cr_assert(!memcmp(got[k], data[k], 4096), "round %u req %u", round, k);
		}
	}
	cr_assert_lt(pair.fe.ring.req_prod_pvt, start_idx, "indices wrapped");
	cr_assert_eq(pair.fe.ring.req_prod_pvt, (uint32_t)(start_idx + 20000u / 32 * 64));
	stop_clean();
}

/* A flush reaches the back end's fdatasync (counted), the writes answered
 * before it are in the image, and a failed fdatasync comes back as -EIO.
 * (Ordering against writes in flight is not promised.) */
Test(blk_pair, flush_after_writes)
{
	struct blk_pair_opts o;
	static uint8_t buf[64 * 512], back[64 * 512];

	blk_pair_default_opts(&o);
	o.threaded = true;
	start(&o);
	blk_fill_random(&rng_state, buf, sizeof(buf));
	for (unsigned int i = 0; i < 10; i++)
		cr_assert_eq(blkfront_write(&pair.fe, i * 64, buf, 64), 0);
	cr_assert_eq(blkfront_flush(&pair.fe), 0);
	cr_assert_eq(__atomic_load_n(&pair.flushes_done, __ATOMIC_SEQ_CST), 1);
	for (unsigned int i = 0; i < 10; i++) {
		cr_assert_eq(pread(pair.fd, back, sizeof(back), (off_t)i * sizeof(back)),
			     (ssize_t)sizeof(back));
		cr_assert(!memcmp(back, buf, sizeof(back)), "write %u is not in the image", i);
	}
	pair.flush_fails = true;
	cr_assert_eq(blkfront_flush(&pair.fe), -XEN_EIO);
	stop_clean();
}

Test(blk_pair, flush_and_discard_unsupported)
{
	struct blk_pair_opts o;

	blk_pair_default_opts(&o);
	o.flush = o.discard = false;
	start(&o);
	cr_assert_eq(blkfront_flush(&pair.fe), -XEN_EOPNOTSUPP);
	cr_assert_eq(blkfront_discard(&pair.fe, 0, 8), -XEN_EOPNOTSUPP);
	/* A back end that takes a feature back: EOPNOTSUPP, then off. */
	pair.fe.be.flush = true;
	cr_assert_eq(blkfront_flush(&pair.fe), -XEN_EOPNOTSUPP);
	cr_assert_eq(pair.fe.be.flush, false);
	stop_clean();
}

Test(blk_pair, discard_reads_back_zeros)
{
	struct blk_pair_opts o;
	static uint8_t buf[256 * 512], zero[128 * 512];

	blk_pair_default_opts(&o);
	start(&o);
	blk_fill_random(&rng_state, buf, sizeof(buf));
	cr_assert_eq(blkfront_write(&pair.fe, 1024, buf, 256), 0);
	cr_assert_eq(blkfront_discard(&pair.fe, 1024 + 64, 128), 0);
	cr_assert_eq(blkfront_read(&pair.fe, 1024, buf, 256), 0);
	cr_assert(!memcmp(buf + 64 * 512, zero, sizeof(zero)), "discarded range not zero");
	cr_assert_eq(blkfront_discard(&pair.fe, 16000, 1000), -XEN_EINVAL, "beyond the disk");
	stop_clean();
}

Test(blk_pair, readonly_device)
{
	struct blk_pair_opts o;
	uint8_t buf[512] = { 1 };

	blk_pair_default_opts(&o);
	o.readonly = true;
	start(&o);
	cr_assert_eq(blkfront_write(&pair.fe, 0, buf, 1), -XEN_EROFS);
	cr_assert_eq(blkfront_read(&pair.fe, 0, buf, 1), 0);
	/* Even if the front end ignores VDISK_READONLY, the back end refuses. */
	pair.fe.be.info = 0;
	cr_assert_eq(blkfront_write(&pair.fe, 0, buf, 1), -XEN_EIO);
	stop_clean();
}

Test(blk_pair, bad_requests_refused_by_front)
{
	struct blk_pair_opts o;
	uint8_t buf[512];
	struct blkfront_req r = { .op = 77, .nsect = 1, .buf = buf };

	blk_pair_default_opts(&o);
	start(&o);
	cr_assert_eq(blkfront_submit(&pair.fe, &r), -XEN_EINVAL);
	cr_assert_eq(blkfront_read(&pair.fe, 16384, buf, 1), -XEN_EINVAL);
	cr_assert_eq(blkfront_read(&pair.fe, UINT64_MAX, buf, 1), -XEN_EINVAL);
	r = (struct blkfront_req){ .op = BLKIF_OP_READ, .nsect = 0, .buf = buf };
	cr_assert_eq(blkfront_submit(&pair.fe, &r), -XEN_EINVAL);
	stop_clean();
}

Test(blk_pair, io_error_reported)
{
	struct blk_pair_opts o;
	uint8_t buf[4096];

	blk_pair_default_opts(&o);
	start(&o);
	pair.fail_io = true;
	cr_assert_eq(blkfront_read(&pair.fe, 0, buf, 8), -XEN_EIO);
	pair.fail_io = false;
	cr_assert_eq(blkfront_read(&pair.fe, 0, buf, 8), 0);
	stop_clean();
}

/* Persistent grants are mapped once: a second pass maps nothing new. */
Test(blk_pair, persistent_grants_mapped_once)
{
	struct blk_pair_opts o;
	static uint8_t buf[1 << 20];
	uint64_t maps;

	blk_pair_default_opts(&o);
	start(&o);
	cr_assert_eq(blkfront_read(&pair.fe, 0, buf, 2048), 0);
	maps = pair.br.stats.maps;
	cr_assert_eq(blkfront_read(&pair.fe, 0, buf, 2048), 0);
	cr_assert_eq(pair.br.stats.maps, maps, "no new maps on reuse");
	stop_clean();
}

/* A persistent table smaller than the pool: the rest is mapped per request,
 * data still exact. */
Test(blk_pair, persistent_limit)
{
	struct blk_pair_opts o;

	blk_pair_default_opts(&o);
	o.max_pgrants = 16;
	o.threaded = true;
	start(&o);
	random_io(2u << 20, 512);
	cr_assert_leq(pair.br.nr_pgrants, 16);
	stop_clean();
}

/* ---- a hostile back end ---- */

static void push_response(uint64_t id, uint8_t op, int16_t status)
{
	struct blkif_sring *s = pair.fe.ring.sring;
	struct blkif_response *rsp = &s->ring[s->rsp_prod & (pair.fe.ring.nr_ents - 1)].rsp;

	rsp->id = id;
	rsp->operation = op;
	rsp->status = status;
	__atomic_store_n(&s->rsp_prod, s->rsp_prod + 1, __ATOMIC_RELEASE);
}

/* The default pair with nobody serving (the test plays the back end) and
 * one read of sector 0 into buf submitted. */
static void start_unserved_read(struct blkfront_req *r, uint8_t *buf)
{
	struct blk_pair_opts o;

	blk_pair_default_opts(&o);
	start(&o);
	pair.br_up = false;
	*r = (struct blkfront_req){ .op = BLKIF_OP_READ, .nsect = 1, .buf = buf };
	cr_assert_eq(blkfront_submit(&pair.fe, r), 0);
}

Test(blk_pair, hostile_back_end_bad_id)
{
	uint8_t buf[512];
	struct blkfront_req r;

	start_unserved_read(&r, buf);
	push_response(12345, BLKIF_OP_READ, 0);
	cr_assert_eq(blkfront_poll(&pair.fe), -XEN_EIO);
	cr_assert(r.done);
	cr_assert_eq(r.status, -XEN_EIO);
	cr_assert_eq(blkfront_read(&pair.fe, 0, buf, 1), -XEN_ENOTCONN);
	pair.br_up = true;
	stop_clean();
}

Test(blk_pair, hostile_back_end_rsp_prod_overflow)
{
	uint8_t buf[512];
	struct blkfront_req r;

	start_unserved_read(&r, buf);
	pair.fe.ring.sring->rsp_prod += 1000;
	cr_assert_eq(blkfront_poll(&pair.fe), -XEN_EIO);
	cr_assert_eq(r.status, -XEN_EIO);
	pair.br_up = true;
	stop_clean();
}

Test(blk_pair, hostile_back_end_never_answers)
{
	uint8_t buf[512];
	struct blkfront_req r;

	start_unserved_read(&r, buf);
	cr_assert_eq(blkfront_wait(&pair.fe, &r, 1000000), -XEN_ETIMEDOUT);
	/* The late answer is taken and dropped; the slot comes back. */
	push_response(0, BLKIF_OP_READ, 0); /* slot 0: the top of the free stack */
	cr_assert_eq(blkfront_poll(&pair.fe), 1);
	cr_assert_eq(pair.fe.nr_free_slots, pair.fe.inflight);
	pair.br_up = true;
	stop_clean();
}

Test(blk_pair, disconnect_fails_outstanding)
{
	struct blk_pair_opts o;
	uint8_t buf[512];
	struct blkfront_req r = { .op = BLKIF_OP_READ, .nsect = 1, .buf = buf };

	blk_pair_default_opts(&o);
	o.fe_persistent = false;
	start(&o);
	pair.br_up = false;
	cr_assert_eq(blkfront_submit(&pair.fe, &r), 0);
	blkfront_disconnect(&pair.fe);
	cr_assert(r.done);
	cr_assert_eq(r.status, -XEN_ENOTCONN);
	cr_assert_eq(blkfront_submit(&pair.fe, &r), -XEN_ENOTCONN);
	pair.br_up = true;
	stop_clean();
}

/* xenon's liveness byte: once seen 1, a 0 (the back end's mapping went)
 * fails every outstanding request at once. */
Test(blk_pair, liveness_byte)
{
	struct blk_pair_opts o;
	uint8_t buf[512];
	struct blkfront_req r = { .op = BLKIF_OP_READ, .nsect = 1, .buf = buf };

	blk_pair_default_opts(&o);
	start(&o);
	pair.fe.ring.sring->__pad[0] = 1;
	cr_assert_eq(blkfront_read(&pair.fe, 0, buf, 1), 0);
	pair.br_up = false;
	cr_assert_eq(blkfront_submit(&pair.fe, &r), 0);
	pair.fe.ring.sring->__pad[0] = 0;
	cr_assert_eq(blkfront_poll(&pair.fe), -XEN_ENOTCONN);
	cr_assert(r.done);
	cr_assert_eq(r.status, -XEN_ENOTCONN);
	pair.br_up = true;
	stop_clean();
}

/* Waiting on the newest of several requests arms rsp_event for its answer,
 * not the next one (one wake-up for the lot); not while a copying read is
 * in flight, whose data is best copied out as soon as it comes. */
Test(blk_pair, wait_arms_for_the_awaited_response)
{
	struct blk_pair_opts o;
	uint8_t buf[4][512] = { { 0 } };
	struct blkfront_req r[4];
	RING_IDX start_idx;

	blk_pair_default_opts(&o);
	start(&o);
	pair.br_up = false; /* the back end answers only when we say */
	start_idx = pair.fe.ring.req_prod_pvt;
	for (int i = 0; i < 4; i++) {
		r[i] = (struct blkfront_req){
			.op = BLKIF_OP_WRITE, .sector = i, .nsect = 1, .buf = buf[i]
		};
		cr_assert_eq(blkfront_submit(&pair.fe, &r[i]), 0);
	}
	cr_assert_eq(blkfront_wait(&pair.fe, &r[3], 1000000), -XEN_ETIMEDOUT);
	cr_assert_eq(pair.rsp_event_at_wait, start_idx + 4, "armed for the 4th answer");
	pair.br_up = true;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(blkfront_wait(&pair.fe, &r[i], 0), 0);
	/* With a copying read among them: armed for the next answer only. */
	pair.br_up = false;
	start_idx = pair.fe.ring.req_prod_pvt;
	r[0] = (struct blkfront_req){ .op = BLKIF_OP_READ, .nsect = 1, .buf = buf[0] };
	r[1] = (struct blkfront_req){ .op = BLKIF_OP_WRITE, .nsect = 1, .buf = buf[1] };
	cr_assert_eq(blkfront_submit(&pair.fe, &r[0]), 0);
	cr_assert_eq(blkfront_submit(&pair.fe, &r[1]), 0);
	cr_assert_eq(blkfront_wait(&pair.fe, &r[1], 1000000), -XEN_ETIMEDOUT);
	cr_assert_eq(pair.rsp_event_at_wait, start_idx + 1, "armed for the next answer");
	pair.br_up = true;
	cr_assert_eq(blkfront_wait(&pair.fe, &r[0], 0), 0);
	blkfront_poll(&pair.fe); /* the abandoned one's answer, dropped */
	cr_assert_eq(pair.fe.nr_free_slots, pair.fe.inflight);
	stop_clean();
}

/* Grants run out between a request's data pages and its indirect page:
 * the submit fails and ends exactly the grants it made -- not ref 0, the
 * indirect ref it never got (that counted a leak, and on a real grant
 * table would have ended the reserved console entry). */
Test(blk_pair, indirect_grant_failure_ends_only_what_was_granted)
{
	struct blk_pair_opts o;
	static bool taken[FAKE_GNT_REFS];
	static uint8_t buf[128 * 512];
	unsigned int free_left = 0;
	unsigned long granted;

	blk_pair_default_opts(&o);
	o.fe_persistent = o.be_persistent = false;
	start(&o);
	granted = pair.gnt.granted; /* the ring's */
	/* Leave exactly the 16 data pages of a 128-sector write free. */
	pthread_mutex_lock(&pair.gnt.lock);
	for (unsigned int r = 8; r < FAKE_GNT_REFS; r++) {
		taken[r] = false;
		if (pair.gnt.used[r])
			continue;
		if (free_left < 16) {
			free_left++;
			continue;
		}
		pair.gnt.used[r] = taken[r] = true;
	}
	pthread_mutex_unlock(&pair.gnt.lock);
	cr_assert_eq(free_left, 16);
	cr_assert_lt(blkfront_write(&pair.fe, 0, buf, 128), 0, "no grant for the indirect page");
	cr_expect_eq(pair.fe.stats.leaked_pages, 0);
	cr_expect_eq(pair.gnt.granted, granted, "the data pages' grants were ended");
	pthread_mutex_lock(&pair.gnt.lock);
	for (unsigned int r = 8; r < FAKE_GNT_REFS; r++)
		if (taken[r])
			pair.gnt.used[r] = false;
	pthread_mutex_unlock(&pair.gnt.lock);
	cr_assert_eq(blkfront_write(&pair.fe, 0, buf, 128), 0,
		     "and it works once there are grants");
	stop_clean();
}
