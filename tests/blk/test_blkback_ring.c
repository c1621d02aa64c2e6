/*
 * A malicious front end against the back end's engine: each validation
 * rule of dom0/blkback/blkback_ring.c gets a request that breaks it, must
 * be answered with BLKIF_RSP_ERROR (or EOPNOTSUPP), with its id echoed,
 * and the ring must go on serving a good request afterwards. A producer
 * index beyond a ring's worth is fatal for the device, never for us.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk_pair.h"

static struct blk_pair pair;
static uint8_t data[16][4096] __attribute__((aligned(4096)));
static uint8_t ind[2][4096] __attribute__((aligned(4096)));
static grant_ref_t data_ref[16], ind_ref[2], ro_ref;

static void setup_pair(bool persistent, bool readonly, unsigned int indirect, bool discard)
{
	struct blk_pair_opts o;

	blk_pair_default_opts(&o);
	o.sectors = 1024;
	o.fe_persistent = o.be_persistent = persistent;
	o.readonly = readonly;
	o.max_indirect_segs = indirect;
	o.discard = discard;
	cr_assert_eq(blk_pair_start(&pair, &o), 0);
	for (int i = 0; i < 16; i++)
		data_ref[i] = (grant_ref_t)fake_gnt_grant(&pair.gnt, data[i], false);
	for (int i = 0; i < 2; i++)
		ind_ref[i] = (grant_ref_t)fake_gnt_grant(&pair.gnt, ind[i], false);
	ro_ref = (grant_ref_t)fake_gnt_grant(&pair.gnt, data[15], true);
}

static void teardown_pair(void)
{
	blk_pair_stop(&pair);
	cr_expect_eq(pair.gnt.mapped, 0, "mapped after fini: %lu", pair.gnt.mapped);
}

static struct blkif_request *next_req(void)
{
	struct blkif_request *r = RING_GET_REQUEST(&pair.fe.ring, pair.fe.ring.req_prod_pvt);

	memset(r, 0, sizeof(*r));
	return r;
}

/* Pushes the request built in the next slot, serves, returns its status. */
static int16_t run(uint64_t id)
{
	struct blkif_response rsp;

	pair.fe.ring.req_prod_pvt++;
	__atomic_store_n(&pair.fe.ring.sring->req_prod, pair.fe.ring.req_prod_pvt,
			 __ATOMIC_RELEASE);
	cr_assert_geq(blkback_ring_service(&pair.br), 0, "back end survived");
	cr_assert_eq(pair.fe.ring.sring->rsp_prod, pair.fe.ring.rsp_cons + 1, "one response");
	rsp = *RING_GET_RESPONSE(&pair.fe.ring, pair.fe.ring.rsp_cons);
	pair.fe.ring.rsp_cons++;
	cr_assert_eq(rsp.id, id, "id echoed");
	return rsp.status;
}

static int16_t rw(uint8_t op, uint64_t sector, uint8_t nseg, grant_ref_t gref, uint8_t first,
		  uint8_t last, uint64_t id)
{
	struct blkif_request *r = next_req();

	r->operation = op;
	r->nr_segments = nseg;
	r->id = id;
	r->sector_number = sector;
	for (int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		r->seg[i] = (struct blkif_request_segment){ gref, first, last };
	return run(id);
}

static void good_request_works(void)
{
	cr_assert_eq(rw(BLKIF_OP_WRITE, 0, 1, data_ref[0], 0, 7, 999), BLKIF_RSP_OKAY);
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, data_ref[1], 0, 7, 998), BLKIF_RSP_OKAY);
	cr_assert(!memcmp(data[0], data[1], 4096));
}

TestSuite(blkback_ring, .fini = teardown_pair);

Test(blkback_ring, operations)
{
	setup_pair(false, false, 256, true);
	memset(data[0], 0x5a, 4096);
	good_request_works();
	cr_assert_eq(rw(99, 0, 1, data_ref[0], 0, 7, 1), BLKIF_RSP_EOPNOTSUPP);
	cr_assert_eq(rw(BLKIF_OP_WRITE_BARRIER, 0, 1, data_ref[0], 0, 7, 2), BLKIF_RSP_EOPNOTSUPP);
	cr_assert_eq(rw(BLKIF_OP_RESERVED_1, 0, 1, data_ref[0], 0, 7, 3), BLKIF_RSP_EOPNOTSUPP);
	cr_assert_eq(rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, 0, 0, 4), BLKIF_RSP_OKAY);
	good_request_works();
}

Test(blkback_ring, segments)
{
	setup_pair(false, false, 256, true);
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 0, data_ref[0], 0, 7, 1), BLKIF_RSP_ERROR, "0 segs");
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 12, data_ref[0], 0, 7, 2), BLKIF_RSP_ERROR, "12 segs");
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 255, data_ref[0], 0, 7, 3), BLKIF_RSP_ERROR);
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, data_ref[0], 3, 2, 4), BLKIF_RSP_ERROR, "first>last");
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, data_ref[0], 0, 8, 5), BLKIF_RSP_ERROR, "last 8");
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, data_ref[0], 255, 255, 6), BLKIF_RSP_ERROR);
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, data_ref[0], 7, 7, 7), BLKIF_RSP_OKAY, "7..7 ok");
	good_request_works();
}

Test(blkback_ring, sector_range)
{
	setup_pair(false, false, 256, true);
	cr_assert_eq(rw(BLKIF_OP_READ, 1017, 1, data_ref[0], 0, 7, 1), BLKIF_RSP_ERROR, "past end");
	cr_assert_eq(rw(BLKIF_OP_READ, 1016, 1, data_ref[0], 0, 7, 2), BLKIF_RSP_OKAY, "last 8");
	cr_assert_eq(rw(BLKIF_OP_READ, 1024, 1, data_ref[0], 0, 0, 3), BLKIF_RSP_ERROR);
	cr_assert_eq(rw(BLKIF_OP_READ, UINT64_MAX, 1, data_ref[0], 0, 0, 4), BLKIF_RSP_ERROR);
	cr_assert_eq(rw(BLKIF_OP_WRITE, UINT64_MAX - 3, 11, data_ref[0], 0, 7, 5), BLKIF_RSP_ERROR,
		     "wrapping range");
	cr_assert_eq(rw(BLKIF_OP_READ, 1ull << 55, 1, data_ref[0], 0, 0, 6), BLKIF_RSP_ERROR,
		     "byte offset overflow");
	good_request_works();
}

Test(blkback_ring, grants)
{
	setup_pair(false, false, 256, true);
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, 5000, 0, 7, 1), BLKIF_RSP_ERROR, "never granted");
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, 0xffffffff, 0, 7, 2), BLKIF_RSP_ERROR);
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, ro_ref, 0, 7, 3), BLKIF_RSP_ERROR,
		     "read into a read-only grant");
	cr_assert_eq(rw(BLKIF_OP_WRITE, 0, 1, ro_ref, 0, 7, 4), BLKIF_RSP_OKAY,
		     "write from a read-only grant");
	cr_assert_eq(pair.gnt.mapped, 0, "per-request maps undone");
	good_request_works();
}

Test(blkback_ring, persistent_grants)
{
	setup_pair(true, false, 256, true);
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, 5000, 0, 7, 1), BLKIF_RSP_ERROR);
	/* Persistent maps are writable: a read-only grant is refused. */
	cr_assert_eq(rw(BLKIF_OP_WRITE, 0, 1, ro_ref, 0, 7, 2), BLKIF_RSP_ERROR);
	good_request_works();
	cr_assert_eq(pair.br.nr_pgrants, 2);
	/* The same gref in every segment. */
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 11, data_ref[2], 0, 7, 3), BLKIF_RSP_OKAY);
	cr_assert_eq(pair.br.nr_pgrants, 3);
}

static int16_t indirect(uint8_t inner, uint16_t nseg, grant_ref_t g0, uint64_t sector, uint64_t id)
{
	struct blkif_request_indirect *r = (struct blkif_request_indirect *)next_req();

	r->operation = BLKIF_OP_INDIRECT;
	r->indirect_op = inner;
	r->nr_segments = nseg;
	r->id = id;
	r->sector_number = sector;
	r->indirect_grefs[0] = g0;
	r->indirect_grefs[1] = ind_ref[1];
	return run(id);
}

static void fill_ind(unsigned int n, uint8_t first, uint8_t last)
{
	struct blkif_request_segment *seg = (struct blkif_request_segment *)ind[0];

	for (unsigned int i = 0; i < n; i++)
		seg[i] = (struct blkif_request_segment){ data_ref[i % 16], first, last };
}

Test(blkback_ring, indirect)
{
	setup_pair(false, false, 64, true);
	fill_ind(64, 0, 7);
	cr_assert_eq(indirect(BLKIF_OP_READ, 64, ind_ref[0], 0, 1), BLKIF_RSP_OKAY);
	cr_assert_eq(indirect(BLKIF_OP_WRITE, 64, ind_ref[0], 0, 2), BLKIF_RSP_OKAY);
	cr_assert_eq(indirect(BLKIF_OP_READ, 0, ind_ref[0], 0, 3), BLKIF_RSP_ERROR, "0 segs");
	cr_assert_eq(indirect(BLKIF_OP_READ, 65, ind_ref[0], 0, 4), BLKIF_RSP_ERROR, "> max");
	cr_assert_eq(indirect(BLKIF_OP_READ, 4096, ind_ref[0], 0, 5), BLKIF_RSP_ERROR);
	cr_assert_eq(indirect(BLKIF_OP_FLUSH_DISKCACHE, 1, ind_ref[0], 0, 6), BLKIF_RSP_ERROR);
	cr_assert_eq(indirect(BLKIF_OP_INDIRECT, 1, ind_ref[0], 0, 7), BLKIF_RSP_ERROR);
	cr_assert_eq(indirect(BLKIF_OP_READ, 8, 7777, 0, 8), BLKIF_RSP_ERROR, "bad indirect gref");
	cr_assert_eq(indirect(BLKIF_OP_READ, 64, ind_ref[0], 1024 - 64 * 8 + 1, 9), BLKIF_RSP_ERROR,
		     "range");
	fill_ind(64, 0, 9);
	cr_assert_eq(indirect(BLKIF_OP_READ, 64, ind_ref[0], 0, 10), BLKIF_RSP_ERROR, "last 9");
	fill_ind(64, 5, 4);
	cr_assert_eq(indirect(BLKIF_OP_READ, 1, ind_ref[0], 0, 11), BLKIF_RSP_ERROR, "first>last");
	fill_ind(64, 0, 7);
	((struct blkif_request_segment *)ind[0])[40].gref = 9999;
	cr_assert_eq(indirect(BLKIF_OP_READ, 64, ind_ref[0], 0, 12), BLKIF_RSP_ERROR, "bad gref");
	cr_assert_eq(pair.gnt.mapped, 0);
	good_request_works();
}

Test(blkback_ring, indirect_not_offered)
{
	setup_pair(false, false, 0, true);
	fill_ind(8, 0, 7);
	cr_assert_eq(indirect(BLKIF_OP_READ, 8, ind_ref[0], 0, 1), BLKIF_RSP_EOPNOTSUPP);
	good_request_works();
}

static int16_t discard(uint64_t sector, uint64_t nr, uint8_t flag, uint64_t id)
{
	struct blkif_request_discard *d = (struct blkif_request_discard *)next_req();

	d->operation = BLKIF_OP_DISCARD;
	d->flag = flag;
	d->id = id;
	d->sector_number = sector;
	d->nr_sectors = nr;
	return run(id);
}

Test(blkback_ring, discard_rules)
{
	setup_pair(false, false, 0, true);
	cr_assert_eq(discard(0, 1024, 0, 1), BLKIF_RSP_OKAY);
	cr_assert_eq(discard(1, 1024, 0, 2), BLKIF_RSP_ERROR, "past end");
	cr_assert_eq(discard(UINT64_MAX, 2, 0, 3), BLKIF_RSP_ERROR, "wrap");
	cr_assert_eq(discard(1000, UINT64_MAX, 0, 4), BLKIF_RSP_ERROR);
	cr_assert_eq(discard(0, 8, BLKIF_DISCARD_SECURE, 5), BLKIF_RSP_EOPNOTSUPP);
	cr_assert_eq(discard(1024, 0, 0, 6), BLKIF_RSP_OKAY, "empty at the end");
	good_request_works();
}

Test(blkback_ring, discard_not_offered)
{
	setup_pair(false, false, 0, false);
	cr_assert_eq(discard(0, 8, 0, 1), BLKIF_RSP_EOPNOTSUPP);
}

Test(blkback_ring, readonly)
{
	setup_pair(false, true, 64, true);
	cr_assert_eq(rw(BLKIF_OP_WRITE, 0, 1, data_ref[0], 0, 7, 1), BLKIF_RSP_ERROR);
	fill_ind(16, 0, 7);
	cr_assert_eq(indirect(BLKIF_OP_WRITE, 16, ind_ref[0], 0, 2), BLKIF_RSP_ERROR);
	cr_assert_eq(discard(0, 8, 0, 3), BLKIF_RSP_ERROR);
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, data_ref[0], 0, 7, 4), BLKIF_RSP_OKAY);
}

Test(blkback_ring, req_prod_overflow_is_fatal)
{
	setup_pair(false, false, 0, true);
	good_request_works();
	pair.fe.ring.sring->req_prod = pair.fe.ring.req_prod_pvt + 33;
	cr_assert_eq(blkback_ring_service(&pair.br), -EPROTO);
	cr_assert_eq(blkback_ring_service(&pair.br), -EPROTO, "stays fatal");
	cr_assert(pair.br.fatal);
}

/* A full ring of junk: every request answered, req_event re-armed. */
Test(blkback_ring, full_ring_of_junk)
{
	setup_pair(false, false, 0, true);
	pair.fe.ring.req_prod_pvt += 32; /* 32 zeroed requests: op READ, 0 segs */
	pair.fe.ring.sring->req_prod = pair.fe.ring.req_prod_pvt;
	cr_assert_eq(blkback_ring_service(&pair.br), 0);
	cr_assert_eq(pair.br.stats.errors, 32);
	cr_assert_eq(pair.fe.ring.sring->rsp_prod, pair.fe.ring.req_prod_pvt);
	cr_assert_eq(pair.fe.ring.sring->req_event, pair.fe.ring.req_prod_pvt + 1,
		     "req_event armed for the next request");
}

Test(blkback_seg, seg_sectors)
{
	struct blkif_request_segment s[2] = { { 0, 0, 7 }, { 0, 2, 3 } };

	cr_assert_eq(blkback_seg_sectors(s, 2), 10);
	s[1].last_sect = 1;
	cr_assert_eq(blkback_seg_sectors(s, 2), -EINVAL);
	cr_assert_eq(blkback_seg_sectors(s, 0), 0);
}

/* Small requests' responses are pushed in groups of BLKBACK_PUSH_EVERY:
 * still every one is on the ring, in order, when the ring runs dry, and the
 * front end (armed for the next response) is kicked once, not per answer. */
Test(blkback_ring, grouped_responses_all_pushed_at_drain)
{
	const unsigned int n = 2 * BLKBACK_PUSH_EVERY + 3;
	uint32_t kicks;

	setup_pair(true, false, 0, false);
	kicks = pair.to_front.seq;
	for (unsigned int i = 0; i < n; i++) {
		struct blkif_request *r = next_req();

		r->operation = i == n - 1 ? BLKIF_OP_FLUSH_DISKCACHE : BLKIF_OP_READ;
		r->nr_segments = r->operation == BLKIF_OP_READ;
		r->id = 100 + i;
		r->sector_number = 8 * i;
		r->seg[0] = (struct blkif_request_segment){ data_ref[i % 16], 0, 7 };
		pair.fe.ring.req_prod_pvt++;
	}
	__atomic_store_n(&pair.fe.ring.sring->req_prod, pair.fe.ring.req_prod_pvt,
			 __ATOMIC_RELEASE);
	cr_assert_eq(blkback_ring_service(&pair.br), 0, "ring drained");
	cr_assert_eq(pair.fe.ring.sring->rsp_prod - pair.fe.ring.rsp_cons, n);
	for (unsigned int i = 0; i < n; i++) {
		struct blkif_response *rsp =
			RING_GET_RESPONSE(&pair.fe.ring, pair.fe.ring.rsp_cons);

		cr_assert_eq(rsp->id, 100 + i, "in order");
		cr_assert_eq(rsp->status, BLKIF_RSP_OKAY);
		pair.fe.ring.rsp_cons++;
	}
	cr_assert_eq((uint32_t)(pair.to_front.seq - kicks), 1, "one kick for the lot");
	/* A single request is answered within the same call, alone. */
	cr_assert_eq(rw(BLKIF_OP_READ, 0, 1, data_ref[0], 0, 7, 7), BLKIF_RSP_OKAY);
}
