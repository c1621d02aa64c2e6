/*
 * vchan: libxenvchan's shared-memory byte streams between two domains
 * (struct vchan_interface, <xen/io/libxenvchan.h>), the one ring core and
 * its guest binding. Design and the page picture: guest/vchan.c; guide:
 * docs/vchan.md.
 *
 * One implementation of the ring, two bindings of its environment:
 *   - this core (guest/vchan.c) is freestanding-clean: no malloc, stdio or
 *     threads; storage is the caller's struct vchan;
 *   - what differs per place -- granting and mapping pages, event channels,
 *     waiting, XenStore, the clock -- comes through struct vchan_env_ops:
 *     the guest binding below (grant table, event channels and xenbus of a
 *     guest), lib/vchan (dom0: lib/dom0's gntshr/gnttab/evtchn handles and
 *     libxenstore) and in-process fakes (tests, fuzzer).
 *
 * Results: a count or 0, or a negative errno, only codes Xen's
 * <xen/errno.h> has (the core builds freestanding): -ENOTCONN the peer has
 * closed (or is gone), -EIO the peer broke the ring (an index out of
 * range: the channel is dead for good, never a hang nor an out-of-bounds
 * copy), -ETIMEDOUT a bounded wait ran out, -EMSGSIZE a recv/send larger
 * than its ring, -EINVAL bad arguments, -EBADF a channel never set up or
 * already closed here; at connection -EBADMSG a malformed page or store
 * node. (lib/vchan gives dom0 programs -EPIPE and -EPROTO for -ENOTCONN
 * and -EBADMSG, as a POSIX program expects.) The API mirrors libxenvchan's:
 *
 *   libxenvchan_server_init    vchan_server_init
 *   libxenvchan_client_init    vchan_client_init (with a timeout)
 *   libxenvchan_read/write     vchan_read/vchan_write  (up to what fits)
 *   libxenvchan_recv/send      vchan_recv/vchan_send   (all or nothing)
 *   libxenvchan_wait           vchan_wait
 *   libxenvchan_is_open        vchan_is_open
 *   libxenvchan_data_ready     vchan_data_ready
 *   libxenvchan_buffer_space   vchan_buffer_space
 *   libxenvchan_close          vchan_close
 *   libxenvchan_fd_for_select  lib/vchan only (xenon_vchan_fd_for_select):
 *                              a guest has no file descriptors; it waits in
 *                              vchan_wait() (SCHEDOP_poll on the port).
 *
 * A channel is used by one thread at a time (as libxenvchan's handle).
 */
#ifndef XENON_VCHAN_H
#define XENON_VCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/io/libxenvchan.h>

#define VCHAN_PAGE_SHIFT 12
#define VCHAN_PAGE_SIZE (1U << VCHAN_PAGE_SHIFT)
#define VCHAN_MIN_ORDER 10 /* 1 KiB, in the shared page at offset 1024 */
#define VCHAN_MAX_ORDER 20 /* 1 MiB, 256 granted pages */
#define VCHAN_MAX_RING_PAGES (1U << (VCHAN_MAX_ORDER - VCHAN_PAGE_SHIFT))
#define VCHAN_MAX_GRANTS (2 * VCHAN_MAX_RING_PAGES)
#define VCHAN_PATH_MAX 256 /* bytes of an xs_path, NUL included */
/* Spin before sleeping, the floors.md protocol: the peer usually answers
 * within it, and spinning with no notify requested costs it no event. */
#define VCHAN_SPIN_NS 20000ULL
/* A blocked side checks, this often, that its peer still exists (a domain
 * killed outright zeroes no live byte and sends no event). */
#define VCHAN_LIVENESS_NS (100ULL * 1000 * 1000)

/* What a binding provides. ctx is the binding's own state. */
struct vchan_env_ops {
	/* Grant n zeroed pages to peer, writable, contiguous at *ret_addr;
	 * refs[i] is page i's grant. notify_offset >= 0: when these pages
	 * stop being shared because we died or unshared them, the byte at
	 * that offset of page 0 is zeroed and port notified (if the binding
	 * can: gntalloc's unmap notify). */
	int (*share)(void *ctx, domid_t peer, unsigned int n, uint32_t *refs, int notify_offset,
		     evtchn_port_t port, void **ret_addr);
	void (*unshare)(void *ctx, void *addr, unsigned int n, const uint32_t *refs);
	/* Map n of peer's grants, writable, contiguous. */
	int (*map)(void *ctx, domid_t peer, unsigned int n, const uint32_t *refs, void **ret_addr);
	void (*unmap)(void *ctx, void *addr, unsigned int n);
	/* Optional: when the mapping at addr goes (unmap, or our death),
	 * zero the byte at notify_offset of its page and notify port. */
	int (*set_unmap_notify)(void *ctx, void *addr, int notify_offset, evtchn_port_t port);
	int (*port_alloc)(void *ctx, domid_t peer, evtchn_port_t *ret_port);
	int (*port_bind)(void *ctx, domid_t peer, evtchn_port_t remote, evtchn_port_t *ret_port);
	void (*port_close)(void *ctx, evtchn_port_t port);
	int (*notify)(void *ctx, evtchn_port_t port);
	/* Sleep until port may have fired since the last wait, or until
	 * deadline_ns (0: none). port 0: just sleep until the deadline.
	 * Returning early is always allowed. */
	int (*wait)(void *ctx, evtchn_port_t port, uint64_t deadline_ns);
	/* Optional. Is the peer still there? thorough = false: a check cheap
	 * enough for every call (are the peer's pages still mapped here?);
	 * true: may cost a hypercall (is our port still connected to the
	 * peer? A server's port before any client came is not: the core
	 * asks only once cli_live says a client connected). */
	bool (*peer_alive)(void *ctx, evtchn_port_t port, bool thorough);
	/* XenStore: write/read/remove one node (absolute or relative path,
	 * as the binding's store resolves it). read returns the length. */
	int (*store_write)(void *ctx, const char *path, const char *value, domid_t reader);
	int (*store_read)(void *ctx, const char *path, char *buf, size_t len);
	int (*store_rm)(void *ctx, const char *path);
	uint64_t (*now_ns)(void *ctx);
	/* Optional: the spin on the indices before asking for an event, in
	 * ns; 0 = VCHAN_SPIN_NS. A binding whose wait spins by itself (a
	 * process domain's SCHEDOP_poll) asks for a short one. */
	uint64_t spin_ns;
};

/* One direction: the ring this end reads or the one it writes. Every
 * field is private to this end; only sh and buf point into shared pages. */
struct vchan_ring {
	struct ring_shared *sh; /* indices in the shared page */
	uint8_t *buf;		/* the data: in the shared page or granted pages */
	void *pages;		/* granted pages (order >= 12), else NULL */
	unsigned int order, npages;
	uint32_t size;	/* 1 << order */
	uint32_t local; /* our index (cons when reading, prod when writing) */
};

struct vchan_stats {
	uint64_t bytes_read, bytes_written;
	uint64_t notifies_sent;	      /* events sent to the peer */
	uint64_t notifies_suppressed; /* index moves the peer had not asked about */
	uint64_t waits;		      /* env->wait calls */
	uint64_t spins_won;	      /* blocking ops satisfied while spinning */
};

struct vchan {
	const struct vchan_env_ops *ops;
	void *ctx;
	bool is_server;
	bool blocking;	 /* read/write/recv/send wait (libxenvchan's `blocking`) */
	bool broken;	 /* the peer corrupted the ring: -EIO from now on */
	bool peer_gone;	 /* the peer's pages or port went away */
	bool attached;	 /* client: cli_live is ours (we set it to 1) */
	bool xs_written; /* server: store nodes to remove at close */
	domid_t peer;
	evtchn_port_t port;
	uint64_t timeout_ns; /* bound on each blocking call, 0 = none */
	uint64_t spin_ns;    /* VCHAN_SPIN_NS by default */
	struct vchan_interface *intf;
	uint32_t ring_ref; /* server: the shared page's grant */
	struct vchan_ring rd, wr;
	struct vchan_stats stats;
	char xs_path[VCHAN_PATH_MAX];
	uint32_t grants[VCHAN_MAX_GRANTS]; /* private copy of intf->grants */
};

/* Offer a channel to domain peer under xs_path: ring sizes of at least
 * read_min (what the client writes to us) and write_min bytes, 1 KiB to
 * 1 MiB (rounded up to a power of two; read_min/write_min 0: 1 KiB).
 * Writes xs_path/ring-ref and xs_path/event-channel, readable by peer.
 * Returns at once; the client connects later (vchan_is_open() is true
 * meanwhile, as libxenvchan's). */
int vchan_server_init(struct vchan *v, const struct vchan_env_ops *ops, void *ctx, domid_t peer,
		      const char *xs_path, size_t read_min, size_t write_min);
/* Connect to the server in domain peer advertised at xs_path, retrying
 * until it appears or timeout_ns passes (-ETIMEDOUT; 0: one attempt).
 * Malformed ring-ref/event-channel nodes or page orders are -EBADMSG; a
 * server that closed is -ENOTCONN, one that has a client -EBUSY. */
int vchan_client_init(struct vchan *v, const struct vchan_env_ops *ops, void *ctx, domid_t peer,
		      const char *xs_path, uint64_t timeout_ns);
/* Tell the peer we are gone (our live byte 0, an event), unshare/unmap,
 * close the port and (server) remove the store nodes. Accepts a channel
 * whose init failed or that is already closed. */
void vchan_close(struct vchan *v);

/* Up to len bytes: whatever is available (0 if none and not blocking). */
long vchan_read(struct vchan *v, void *buf, size_t len);
/* Up to len bytes: whatever fits. */
long vchan_write(struct vchan *v, const void *buf, size_t len);
/* Exactly len bytes, or 0 if not blocking and they are not all there. */
long vchan_recv(struct vchan *v, void *buf, size_t len);
long vchan_send(struct vchan *v, const void *buf, size_t len);
/* Wait for an event from the peer (timeout_ns bound; 0 forever). */
int vchan_wait(struct vchan *v, uint64_t timeout_ns);
/* Bytes readable now / writable now; each also asks the peer to notify
 * us when that changes (libxenvchan's semantics). Negative on errors. */
long vchan_data_ready(struct vchan *v);
long vchan_buffer_space(struct vchan *v);
/* The peer is connected or has not connected yet (server side). */
bool vchan_is_open(struct vchan *v);
/* Ask the binding now whether the peer's domain still exists (what a
 * blocking wait does after each quiet slice); a gone peer closes the
 * channel (vchan_is_open() false). For callers that never block. */
void vchan_check_peer(struct vchan *v);
/* libxenvchan's cli_live: 2 until the client connected. */
bool vchan_peer_connected(struct vchan *v);

/* Layout helpers shared with the fuzzer and the bindings. The ring order
 * for min bytes (10..20), or 0 if too large. */
unsigned int vchan_order_for(size_t min_bytes);
/* Check a page's orders and grant count as a client must: 0 or -EBADMSG. */
int vchan_layout_check(unsigned int left_order, unsigned int right_order);

/* ---- the guest binding (guest/vchan_guest.c) --------------------------- */

struct xen_guest;
struct xenbus;

/* Frames the binding may use to map a peer's grants: [map_gfn, map_gfn +
 * map_nr) in the overlay window above RAM (see docs/vchan.md), and a
 * source of page-aligned guest RAM for pages it shares. */
#define VCHAN_GUEST_MAP_MAX 1024 /* frames one binding maps at most */

struct vchan_guest {
	struct xen_guest *g;
	struct xenbus *xb;
	/* Page memory for rings we share: alloc returns n zeroed pages of
	 * guest RAM or NULL; free gives them back (may be NULL: never). */
	void *(*alloc_pages)(void *ctx, unsigned int n);
	void (*free_pages)(void *ctx, void *p, unsigned int n);
	void *alloc_ctx;
	uint64_t map_gfn;
	unsigned int map_nr;
	/* private */
	uint8_t map_used[VCHAN_GUEST_MAP_MAX / 8];
	uint32_t map_handle[VCHAN_GUEST_MAP_MAX]; /* per frame of the range */
	uint8_t *window;			  /* address of frame map_gfn (known after a map) */
	void *first_map;       /* the peer's shared page, checked by peer_alive */
	domid_t domid;	       /* ours, read from the store at setup */
	uint64_t leaked_pages; /* shared pages the peer never let go */
	int irq;
	bool kicked; /* set by the port's handler, cleared by wait */
};
extern const struct vchan_env_ops vchan_guest_ops; /* ctx: struct vchan_guest */

/* Fill vg for guest g (its grant table initialised, xb its xenbus). The
 * map frames default to [shared_info + 32, shared_info + 1024): the
 * overlay window above RAM, past the grant-table frames. Two channels of
 * one domain that both map (two clients) need disjoint ranges: set
 * map_gfn/map_nr after this call. One binding per channel. */
int vchan_guest_setup(struct vchan_guest *vg, struct xen_guest *g, struct xenbus *xb,
		      void *(*alloc_pages)(void *ctx, unsigned int n),
		      void (*free_pages)(void *ctx, void *p, unsigned int n), void *alloc_ctx);
/* Use frames [map_gfn, map_gfn + map_nr) for maps instead (<= 1024). */
int vchan_guest_set_window(struct vchan_guest *vg, uint64_t map_gfn, unsigned int map_nr);

#endif
