/*
 * A block front end and back end in one process: guest/blkfront.c's engine
 * against dom0/blkback's engine over a ring in plain memory, with a fake
 * grant table (a ref names a page pointer; maps are counted so a test can
 * see that nothing stays mapped or granted) and a real image file.
 *
 * Two ways to run the back end:
 *   sync      the front end's kick serves the ring on the spot (one thread,
 *             deterministic);
 *   threaded  a back-end thread serving the ring, kicks through a futex
 *             word with the floors.md protocol (spin, then sleep; the waker
 *             wakes only a sleeper), as two domains would run.
 */
#ifndef XENON_BLK_PAIR_H
#define XENON_BLK_PAIR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "blkback_ring.h"
#include "xen_blkfront.h"

#define FAKE_GNT_REFS 16384

struct fake_gnt {
	pthread_mutex_t lock; /* guards everything below */
	void *page[FAKE_GNT_REFS];
	bool used[FAKE_GNT_REFS], ro[FAKE_GNT_REFS];
	unsigned int maps[FAKE_GNT_REFS];
	unsigned int next_free;
	unsigned long granted, mapped; /* outstanding */
};

/* A futex word with a sleeping flag (the floors.md protocol). */
struct blk_kick {
	uint32_t seq;	   /* bumped by each kick */
	uint32_t sleeping; /* set and cleared by the waiter only */
	uint32_t seen;	   /* the waiter's: seq when it last returned */
	uint64_t wakes;	   /* futex wakes issued */
};

struct blk_pair_opts {
	uint64_t sectors;
	bool threaded, readonly, flush, discard;
	bool fe_persistent, be_persistent;
	unsigned int fe_ring_order, be_max_ring_order;
	unsigned int max_indirect_segs; /* back end's offer; 0: none */
	unsigned int inflight, pool_pages, max_pgrants;
	unsigned int buf_pages; /* of pool_pages, for blkfront_buf_alloc() */
	uint32_t ring_start;
	const char *path; /* image; NULL: a fresh temporary file */
};

struct blk_pair {
	struct blk_pair_opts o;
	struct fake_gnt gnt;
	int fd;
	char path[256];
	bool own_file;
	void *mem;
	unsigned int mem_pages;
	struct blkfront fe;
	struct blkback_ring br;
	bool br_up;
	struct blk_kick to_back, to_front;
	pthread_t thread;
	bool thread_up, stop;
	int back_rc;		    /* the back-end thread's last service result */
	unsigned long flushes_done; /* the back end's fdatasync calls */
	bool flush_fails, fail_io;
	RING_IDX rsp_event_at_wait; /* sring->rsp_event when the front end last waited */
};

void blk_pair_default_opts(struct blk_pair_opts *o);
/* Front end set up and connected, back end serving. 0 or -errno. */
int blk_pair_start(struct blk_pair *p, const struct blk_pair_opts *o);
/* Stops the back end, fini both; the file stays unless it was ours. */
void blk_pair_stop(struct blk_pair *p);

/* The fake grant table, for raw-ring tests. */
void fake_gnt_init(struct fake_gnt *g);
int fake_gnt_grant(void *ctx, void *page, bool readonly);
bool fake_gnt_end(void *ctx, grant_ref_t ref, bool readonly);
extern const struct blkback_ops blk_pair_back_ops; /* ctx: struct blk_pair */
extern const struct blkfront_grant_ops fake_gnt_front_ops;

#endif
