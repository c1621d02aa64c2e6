/*
 * The block back end's request engine: one blkif ring (io/blkif.h), pure
 * logic over a mapped shared ring. It makes no system call itself: grants
 * are mapped, the image is read and written, and the front end is notified
 * through struct blkback_ops, so xenon-blkback, the in-process tests, the
 * fuzzer and the benchmark all run exactly this code.
 *
 *   shared ring (1 << order pages, mapped from the front end's grants)
 *   +---------------------------------------------------------------+
 *   | req_prod req_event rsp_prod rsp_event | pad | ring[nr_ents]   |
 *   +---------------------------------------------------------------+
 *     front writes req_prod, rsp_event;  we write rsp_prod, req_event
 *     ring[i & (nr_ents-1)] holds a request until we answer it, then
 *     the response takes its slot
 *
 * Trust: everything on the ring and in indirect pages belongs to the front
 * end and may change under us. A request is copied out once
 * (RING_COPY_REQUEST), an indirect page's segments are copied out once, and
 * only the copies are checked and used. A request that fails a check gets
 * BLKIF_RSP_ERROR (an unknown operation BLKIF_RSP_EOPNOTSUPP) and the ring
 * goes on; only a producer index that claims more requests than the ring
 * can hold (RING_REQUEST_PROD_OVERFLOW) makes the device fatal: we stop
 * reading the ring and the caller reports it (xbbe_fatal).
 *
 * Ordering and durability: requests are carried out one at a time, in ring
 * order, with synchronous I/O. A response is pushed only after its I/O
 * returned, and BLKIF_OP_FLUSH_DISKCACHE calls ops->flush (fdatasync) before
 * its response: every write answered before the flush was issued is on
 * disk when the flush is answered.
 *
 * Persistent grants (feature-persistent): a front end that reuses a fixed
 * pool of pages lets us map each gref once, writable, and keep it in a
 * table keyed by gref, bounded by max_pgrants (a hard limit as Linux's
 * blkback had before its LRU: past it, further grefs are mapped per request
 * and unmapped after it; logged once). Without it every request maps its
 * segments in one call and unmaps them before its response.
 */
#ifndef XENON_BLKBACK_RING_H
#define XENON_BLKBACK_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* ring.h leaves the barriers to its includer: the peer runs on another CPU,
 * so these are real fences (full for xen_mb, which orders a store before a
 * load in the *_CHECK_NOTIFY and FINAL_CHECK macros). */
#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#include <xen/io/blkif.h>

#define BLKBACK_PAGE_SIZE 4096u
#define BLKBACK_SECTOR_SHIFT 9
#define BLKBACK_SECTORS_PER_PAGE (BLKBACK_PAGE_SIZE >> BLKBACK_SECTOR_SHIFT)
#define BLKBACK_MAX_RING_ORDER 4 /* max-ring-page-order we offer: 16 pages */
#define BLKBACK_MAX_RING_PAGES (1u << BLKBACK_MAX_RING_ORDER)
/* feature-max-indirect-segments we offer: 1 MiB per request. */
#define BLKBACK_MAX_INDIRECT_SEGS 256
#define BLKBACK_SEGS_PER_INDIRECT_PAGE (BLKBACK_PAGE_SIZE / sizeof(struct blkif_request_segment))
#define BLKBACK_MAX_PGRANTS 8192 /* persistent grants one device keeps */
#define BLKBACK_BATCH 64	 /* requests one blkback_ring_service() call takes */
/* Responses are pushed (and the front end maybe kicked) once this many
 * are waiting, or this much data, or the ring is drained, whichever first. */
#define BLKBACK_PUSH_EVERY 8
#define BLKBACK_PUSH_BYTES (64 * 1024)

enum { BLKBACK_LOG_ERR, BLKBACK_LOG_WARN, BLKBACK_LOG_INFO };

struct blkback_ops {
	/* Map nr of the front end's grants (writable or read-only); page i
	 * at ret_pages[i]; *ret_handle is given back to unmap. 0 or -errno. */
	int (*map)(void *ctx, const grant_ref_t *refs, unsigned int nr, bool writable,
		   void **ret_pages, void **ret_handle);
	void (*unmap)(void *ctx, void *handle, void **pages, unsigned int nr);
	/* Image I/O at a byte offset: the byte count or -errno. */
	ssize_t (*preadv)(void *ctx, const struct iovec *iov, int iovcnt, uint64_t off);
	ssize_t (*pwritev)(void *ctx, const struct iovec *iov, int iovcnt, uint64_t off);
	int (*flush)(void *ctx);			       /* fdatasync */
	int (*discard)(void *ctx, uint64_t off, uint64_t len); /* -EOPNOTSUPP: unsupported */
	/* Kick the front end's event channel. */
	void (*notify)(void *ctx);
	void (*log)(void *ctx, int level, const char *msg); /* may be NULL */
};

/* What we offer and what was negotiated. */
struct blkback_config {
	uint64_t sectors;		/* image size in 512-byte sectors */
	bool readonly;			/* mode = "r": writes and discards fail */
	bool flush;			/* feature-flush-cache */
	bool discard;			/* feature-discard */
	bool persistent;		/* both ends said feature-persistent */
	unsigned int max_indirect_segs; /* 0: no indirect requests */
	unsigned int max_pgrants;	/* 0: BLKBACK_MAX_PGRANTS */
};

struct blkback_stats {
	uint64_t requests, ok, errors, eopnotsupp;
	uint64_t sectors_read, sectors_written, flushes, discards;
	uint64_t maps, pgrants;
};

struct blkback_pgrant {
	grant_ref_t gref;
	bool used;
	void *page;
};

/* One persistent mapping call's handle, unmapped at fini. */
struct blkback_pmap {
	void *handle;
	void **pages;
	unsigned int nr;
};

struct blkback_ring {
	struct blkif_back_ring ring;
	const struct blkback_ops *ops;
	void *ctx;
	struct blkback_config cfg;
	bool fatal;
	bool pgrants_full_logged;
	unsigned int unpushed;	 /* responses written, rsp_prod not yet moved */
	uint64_t unpushed_bytes; /* data they carried */
	struct blkback_stats stats;
	/* Persistent grants: open addressing, linear probing, never deleted
	 * before fini; capacity a power of two >= 2 * max_pgrants. */
	struct blkback_pgrant *pgrants;
	unsigned int pgrant_cap, nr_pgrants;
	struct blkback_pmap *pmaps;
	unsigned int nr_pmaps, pmap_cap;
	/* Scratch for the request being served. */
	struct blkif_request_segment seg[BLKBACK_MAX_INDIRECT_SEGS];
	void *page[BLKBACK_MAX_INDIRECT_SEGS];
	grant_ref_t miss[BLKBACK_MAX_INDIRECT_SEGS];
	unsigned int miss_idx[BLKBACK_MAX_INDIRECT_SEGS];
	void *miss_page[BLKBACK_MAX_INDIRECT_SEGS];
	struct iovec iov[BLKBACK_MAX_INDIRECT_SEGS];
};

/* sring: the mapped ring of nr_pages pages (a power of two <= 16). The
 * indices are taken as found (attached), so a front end may start them
 * anywhere. 0, -EINVAL or -ENOMEM. */
int blkback_ring_init(struct blkback_ring *br, void *sring, unsigned int nr_pages,
		      const struct blkback_config *cfg, const struct blkback_ops *ops, void *ctx);
/* Unmaps every persistent grant. */
void blkback_ring_fini(struct blkback_ring *br);
/*
 * Serves up to BLKBACK_BATCH requests. Returns 1 if more may be waiting
 * (call again), 0 if the ring is idle and req_event is armed (wait for the
 * next kick), -EPROTO if the front end broke the ring (fatal, logged; every
 * later call returns -EPROTO at once).
 */
int blkback_ring_service(struct blkback_ring *br);

/* Sectors a read/write request covers (validation helper, exported for
 * tests): the sum of last - first + 1; -EINVAL on a bad segment. */
long blkback_seg_sectors(const struct blkif_request_segment *seg, unsigned int nr);

#endif
