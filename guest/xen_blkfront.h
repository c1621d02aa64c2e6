/*
 * blkfront: the block front end of the guest library (io/blkif.h).
 * Freestanding-clean: no malloc, no stdio; storage is the caller's.
 *
 * Two layers:
 *   struct blkfront      the ring engine (guest/blkfront.c): requests,
 *                        grants, completions. Its world comes in as ops
 *                        (struct xen_ring_env_ops to kick and wait,
 *                        struct blkfront_grant_ops to grant pages), so tests
 *                        and the benchmark run it against the back end's
 *                        engine in one process.
 *   struct blkfront_dev  a vbd found through XenStore (guest/blkfront_xenbus.c):
 *                        device/vbd/<id> negotiation, the guest's event
 *                        channel and grant table.
 *
 * Memory (mem, mem_pages, page-aligned guest memory the caller gives):
 *   [ring: 1 << ring_order pages][indirect: one page per slot]
 *   [data pool: copy pages][data pool: buffer pages (cfg.buf_pages)]
 * blkfront_read/write take any buffer: data is copied into / out of copy
 * pages, never granted from the caller's memory. The zero-copy calls
 * (blkfront_read_zc/write_zc, or a request with .zerocopy) take a buffer
 * from blkfront_buf_alloc(): its pages are pool pages, already granted when
 * persistent, so the back end's preadv lands in the page the application
 * reads and its pwritev takes the page the application wrote -- one copy
 * on the whole path instead of two. A zero-copy buffer is the caller's
 * between calls; while a request on it is in flight it must not be touched
 * (nor freed: -XEN_EBUSY). With feature-persistent on both sides every pool
 * and indirect page is granted once, read-write (blkif.h note 8), and reused
 * LIFO (note 9's advice, so a back end with a smaller persistent table keeps
 * hitting the same pages); without it, each request grants its pages and
 * ends the grants when its response arrives. A page the back end still maps
 * at that point is never reused (counted in stats.leaked_pages).
 *
 * A request of more than BLKIF_MAX_SEGMENTS_PER_REQUEST pages goes as
 * BLKIF_OP_INDIRECT when the back end offers feature-max-indirect-segments
 * (up to BLKFRONT_MAX_SEGS pages, 1 MiB); the synchronous calls split I/O
 * into requests of at most that size and keep up to `inflight` of them on
 * the ring.
 *
 * Back-end death: xenon-blkback sets the xenon-private byte sring->__pad[0]
 * to 1 and has xenon-hvd zero it (and kick the port) when its mapping of
 * the ring goes, even if it is killed. Once we have seen 1, a 0 means the
 * back end is gone: every request fails with -XEN_ENOTCONN at once. A back
 * end that never sets it (Linux's) is not affected.
 *
 * Trust: the back end may be hostile. A response with an unknown id or a
 * response producer index beyond a ring's worth breaks the device (every
 * waiter gets -EIO); nothing it writes is used as an index unchecked.
 *
 * Errors are negative Xen errnos (<xen/errno.h>).
 */
#ifndef XEN_BLKFRONT_H
#define XEN_BLKFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ring.h leaves the barriers to its includer: real fences (the peer runs on
 * another CPU); xen_mb orders the producer store before the event load. */
#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#include <xen/io/blkif.h>

#include "xen_guest.h"
#include "xenbus_dev.h"

#define BLKFRONT_PAGE_SIZE 4096u
#define BLKFRONT_SECTOR_SIZE 512u
#define BLKFRONT_SECTORS_PER_PAGE (BLKFRONT_PAGE_SIZE / BLKFRONT_SECTOR_SIZE)
#define BLKFRONT_MAX_RING_ORDER 4 /* as Linux's XENBUS_MAX_RING_GRANT_ORDER */
#define BLKFRONT_MAX_RING_PAGES (1u << BLKFRONT_MAX_RING_ORDER)
#define BLKFRONT_MAX_INFLIGHT 32 /* requests on the ring at once */
#define BLKFRONT_MAX_SEGS 256	 /* pages of one (indirect) request: 1 MiB */
#define BLKFRONT_MAX_POOL 4096	 /* data pages (16 MiB) */
#define BLKFRONT_TIMEOUT_NS (30ULL * 1000 * 1000 * 1000)

struct blkfront_grant_ops {
	/* Grant page (guest memory) to the back end: the ref, or -errno. */
	int (*grant)(void *ctx, void *page, bool readonly);
	/* End (and free) the grant; false if the back end still maps it
	 * (the ref is then kept). */
	bool (*end)(void *ctx, grant_ref_t ref, bool readonly);
};

/* What the back end published (its directory in XenStore). */
struct blkfront_backend {
	uint64_t sectors;     /* in 512-byte sectors */
	uint32_t sector_size; /* only 512 is accepted */
	uint32_t info;	      /* VDISK_* */
	bool flush, discard, persistent;
	uint32_t max_indirect_segs; /* 0: none */
	uint32_t max_ring_order;
};

struct blkfront_config {
	const struct xen_ring_env_ops *env;
	void *env_ctx;
	const struct blkfront_grant_ops *gops;
	void *gctx;
	void *mem; /* page-aligned */
	unsigned int mem_pages;
	unsigned int ring_order; /* wanted; capped by the back end's max */
	unsigned int inflight;	 /* 0: BLKFRONT_MAX_INFLIGHT */
	bool persistent;	 /* offer feature-persistent */
	uint32_t ring_start;	 /* first ring index (tests: near UINT32_MAX) */
	unsigned int buf_pages;	 /* of the pool, for blkfront_buf_alloc (0: none) */
};

/* One request (one ring slot), owned by the caller until done. */
struct blkfront_req {
	uint8_t op; /* BLKIF_OP_READ/WRITE/FLUSH_DISKCACHE/DISCARD */
	uint64_t sector;
	uint64_t nsect; /* read/write: at most blkfront_max_sectors() */
	void *buf;	/* read/write data, nsect * 512 bytes */
	bool zerocopy;	/* buf is in one blkfront_buf_alloc() buffer, 512-aligned */
	int status;	/* when done: 0, -XEN_EIO, -XEN_EOPNOTSUPP, -XEN_ENOTCONN */
	bool done;	/* set (release) when status is final */
	uint16_t slot;	/* private: set by blkfront_submit() */
};

struct blkfront_slot {
	struct blkfront_req *req; /* NULL: abandoned (timed out) */
	bool in_use;
	bool zc;	      /* pages belong to the buffer starting at zc_start */
	uint8_t first_sect;   /* of the first segment (zero-copy: buf's offset) */
	uint8_t op, inner_op; /* on the ring; inner_op differs for indirect */
	uint16_t nr_pages, zc_start;
	uint16_t page[BLKFRONT_MAX_SEGS];   /* pool page indices */
	grant_ref_t ref[BLKFRONT_MAX_SEGS]; /* per-request grants */
	grant_ref_t ind_ref;		    /* per-request indirect grant */
	RING_IDX idx;			    /* its ring index (wake-up hint) */
};

struct blkfront_stats {
	uint64_t requests, responses, notifies, errors;
	uint64_t bad_responses, leaked_pages;
};

struct blkfront {
	const struct xen_ring_env_ops *env;
	void *env_ctx;
	const struct blkfront_grant_ops *gops;
	void *gctx;
	struct blkif_front_ring ring;
	unsigned int ring_order, inflight, nr_pool;
	uint32_t ring_start;
	bool want_persistent, persistent; /* offered; negotiated */
	bool set_up, connected, broken;
	bool alive_seen;       /* xenon's liveness byte (dom0/blkback/blkback.h) was 1 */
	unsigned int max_segs; /* per request */
	uint64_t timeout_ns;
	struct blkfront_backend be;
	unsigned int zc_max_segs; /* per zero-copy request (no copy pages needed) */
	uint8_t *ring_mem, *ind_mem, *pool_mem;
	grant_ref_t ring_ref[BLKFRONT_MAX_RING_PAGES];
	unsigned int nr_ring_refs;
	bool ind_granted[BLKFRONT_MAX_INFLIGHT];
	grant_ref_t ind_pref[BLKFRONT_MAX_INFLIGHT]; /* persistent */
	unsigned int nr_pool_granted;
	grant_ref_t pool_ref[BLKFRONT_MAX_POOL]; /* persistent */
	uint16_t free_page[BLKFRONT_MAX_POOL];	 /* LIFO stack of copy pages */
	unsigned int nr_free_pages;
	/* Buffer pages: pool indices [nr_copy, nr_pool). buf_owner[i] is 1 +
	 * the first page of the buffer holding page i (0: free); buf_busy[s]
	 * counts requests in flight on the buffer starting at s. */
	unsigned int nr_copy;
	uint16_t buf_owner[BLKFRONT_MAX_POOL];
	uint16_t buf_busy[BLKFRONT_MAX_POOL];
	uint16_t free_slot[BLKFRONT_MAX_INFLIGHT];
	unsigned int nr_free_slots;
	unsigned int copy_reads; /* in flight: their data is copied out on arrival */
	struct blkfront_slot slot[BLKFRONT_MAX_INFLIGHT];
	struct blkfront_stats stats;
};

/* Pages of mem a configuration needs. */
unsigned int blkfront_mem_pages(unsigned int ring_order, unsigned int inflight,
				unsigned int pool_pages);

/* Lay out mem; nothing is granted yet. -XEN_EINVAL on a bad config. */
int blkfront_init(struct blkfront *fe, const struct blkfront_config *cfg);
/*
 * The back end's features are known (InitWait): choose the ring order
 * (min of ours and its max), initialise the shared ring, grant its pages
 * (fe->ring_ref[0..nr_ring_refs)) and, when persistent is negotiated, the
 * pool and indirect pages. On failure nothing stays granted.
 */
int blkfront_setup(struct blkfront *fe, const struct blkfront_backend *be);
/* The back end is Connected with these properties: requests may flow. */
int blkfront_connect(struct blkfront *fe, const struct blkfront_backend *be);
/* The back end went away: every outstanding request completes with
 * -XEN_ENOTCONN; no new request is taken. */
void blkfront_disconnect(struct blkfront *fe);
/* Ends every grant (after disconnect); pages still mapped are counted. */
void blkfront_fini(struct blkfront *fe);

/* Largest read/write one request carries, in sectors. */
uint64_t blkfront_max_sectors(const struct blkfront *fe);
/* Queue req (async): 0, -XEN_EAGAIN (no slot or pool pages: poll and
 * retry), -XEN_EINVAL, -XEN_EOPNOTSUPP (feature absent), -XEN_ENOTCONN. */
int blkfront_submit(struct blkfront *fe, struct blkfront_req *req);
/* Take responses; never sleeps. The count completed, or -XEN_EIO. */
int blkfront_poll(struct blkfront *fe);
/* Until req is done (its status) or timeout_ns (0: fe->timeout_ns) passes:
 * -XEN_ETIMEDOUT, and req is abandoned (its slot stays busy until the back
 * end answers; the answer is dropped). */
int blkfront_wait(struct blkfront *fe, struct blkfront_req *req, uint64_t timeout_ns);

/* Synchronous, any size: split, pipelined, and waited for. */
int blkfront_read(struct blkfront *fe, uint64_t sector, void *buf, uint64_t nsect);
int blkfront_write(struct blkfront *fe, uint64_t sector, const void *buf, uint64_t nsect);
/*
 * Zero-copy buffers: bytes rounded up to pages, contiguous, page-aligned,
 * from the cfg.buf_pages set aside (first fit). -XEN_EINVAL (0 bytes, more
 * than the set-aside holds), -XEN_ENOMEM (no run of free pages that long).
 * Free: -XEN_EINVAL unless buf is what an alloc returned and not yet freed,
 * -XEN_EBUSY while a request on it is in flight.
 */
int blkfront_buf_alloc(struct blkfront *fe, size_t bytes, void **ret_buf);
int blkfront_buf_free(struct blkfront *fe, void *buf);
/* As blkfront_read/write, without the copy: buf (512-aligned) and the
 * nsect * 512 bytes after it lie in one live buffer, else -XEN_EINVAL. */
int blkfront_read_zc(struct blkfront *fe, uint64_t sector, void *buf, uint64_t nsect);
int blkfront_write_zc(struct blkfront *fe, uint64_t sector, const void *buf, uint64_t nsect);

/* Returns when every write answered before it is durable. */
int blkfront_flush(struct blkfront *fe);
int blkfront_discard(struct blkfront *fe, uint64_t sector, uint64_t nsect);

/* ---- a vbd through XenStore (blkfront_xenbus.c) ---- */

/* The guest, its xenbus client and the back end's domid are the xbdev's
 * (xb.g, xb.xb, xb.otherend_id). */
struct blkfront_dev {
	struct blkfront fe;
	struct xbdev xb;
	evtchn_port_t port, store_port;
	int irq;
	bool kicked;  /* set by the port's handler, cleared by wait */
	bool closing; /* the back end went Closing/Closed */
};

/*
 * Find device/vbd/<id>, negotiate (ring, event channel, persistent grants,
 * indirect segments) and connect, within BLKFRONT_TIMEOUT_NS. mem as in
 * struct blkfront_config; ring_order/persistent/inflight from cfg (its env,
 * gops and mem fields are ignored). g must be the calling vCPU's current
 * guest (xen_guest_current(), which the xbdev uses), else -XEN_EINVAL. On
 * failure the device is Closed.
 */
int blkfront_probe(struct blkfront_dev *dev, struct xen_guest *g, struct xenbus *bus,
		   unsigned int id, void *mem, unsigned int mem_pages,
		   const struct blkfront_config *cfg);
/* Closing, wait (bounded) for the back end, Closed, grants ended. */
void blkfront_remove(struct blkfront_dev *dev);

#endif
