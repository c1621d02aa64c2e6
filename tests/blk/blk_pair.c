/*
 * A block front end and back end in one process (blk_pair.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blk_pair.h"
#include "blkback_file.h"

#define SPIN_NS 20000 /* spin this long before sleeping (floors.md) */
#define SPIN_BATCH 16 /* pauses between yields and clock reads */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- fake grant table -------------------------------------------------- */

void fake_gnt_init(struct fake_gnt *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->next_free = 8; /* as Xen's reserved entries */
}

int fake_gnt_grant(void *ctx, void *page, bool readonly)
{
	struct fake_gnt *g = ctx;
	int ref = -ENOSPC;

	pthread_mutex_lock(&g->lock);
	for (unsigned int k = 0; k < FAKE_GNT_REFS - 8; k++) {
		unsigned int r = 8 + (g->next_free - 8 + k) % (FAKE_GNT_REFS - 8);

		if (!g->used[r]) {
			g->used[r] = true;
			g->ro[r] = readonly;
			g->page[r] = page;
			g->next_free = r + 1 < FAKE_GNT_REFS ? r + 1 : 8;
			g->granted++;
			ref = (int)r;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return ref;
}

bool fake_gnt_end(void *ctx, grant_ref_t ref, bool readonly)
{
	struct fake_gnt *g = ctx;
	bool ok = false;

	pthread_mutex_lock(&g->lock);
	if (ref < FAKE_GNT_REFS && g->used[ref] && !g->maps[ref]) {
		g->used[ref] = false;
		g->granted--;
		ok = true;
	}
	pthread_mutex_unlock(&g->lock);
	return ok;
}

const struct blkfront_grant_ops fake_gnt_front_ops = {
	.grant = fake_gnt_grant,
	.end = fake_gnt_end,
};

/* The handle is a copy of the refs, so unmap can find them. */
static int fake_map(void *ctx, const grant_ref_t *refs, unsigned int nr, bool writable,
		    void **ret_pages, void **ret_handle)
{
	struct blk_pair *p = ctx;
	struct fake_gnt *g = &p->gnt;
	grant_ref_t *h = malloc(nr * sizeof(*h));
	unsigned int i;

	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < nr; i++) {
		grant_ref_t r = refs[i];

		if (r >= FAKE_GNT_REFS || !g->used[r] || (writable && g->ro[r]))
			break;
		g->maps[r]++;
		g->mapped++;
		ret_pages[i] = g->page[r];
		h[i] = r;
	}
	if (i < nr) { /* all or nothing, as a failed batch map */
		while (i--) {
			g->maps[h[i]]--;
			g->mapped--;
		}
		pthread_mutex_unlock(&g->lock);
		free(h);
		return -EINVAL;
	}
	pthread_mutex_unlock(&g->lock);
	*ret_handle = h;
	return 0;
}

static void fake_unmap(void *ctx, void *handle, void **pages, unsigned int nr)
{
	struct blk_pair *p = ctx;
	grant_ref_t *h = handle;

	pthread_mutex_lock(&p->gnt.lock);
	for (unsigned int i = 0; i < nr; i++) {
		p->gnt.maps[h[i]]--;
		p->gnt.mapped--;
	}
	pthread_mutex_unlock(&p->gnt.lock);
	free(h);
}

/* ---- kicks ------------------------------------------------------------- */

static long futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

/* The waker: the ring is already written; full fence; wake only a sleeper. */
static void kick(struct blk_kick *k)
{
	__atomic_add_fetch(&k->seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&k->sleeping, __ATOMIC_SEQ_CST)) {
		k->wakes++;
		futex(&k->seq, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
}

/* Returns once seq moved past what the waiter saw when it last returned,
 * or the deadline (0: none) passed. */
static void kick_wait(struct blk_kick *k, uint64_t deadline, const bool *stop)
{
	uint64_t spin_end = now_ns() + SPIN_NS;
	uint32_t seen = k->seen, cur;

	/* Spin in short batches, yielding after each (as the process
	 * runtime's rt_spin does): with both sides on one vCPU -- the other
	 * one busy elsewhere -- a plain spin holds the CPU the peer needs to
	 * make the progress we wait for. The clock is read once a batch. */
	while ((cur = __atomic_load_n(&k->seq, __ATOMIC_ACQUIRE)) == seen && now_ns() < spin_end) {
		for (unsigned int i = 0; i < SPIN_BATCH; i++) {
			__builtin_ia32_pause();
			cur = __atomic_load_n(&k->seq, __ATOMIC_ACQUIRE);
			if (cur != seen)
				break;
		}
		if (cur != seen)
			break;
		sched_yield();
	}
	while (cur == seen && !__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
		uint64_t now = now_ns(), left = deadline > now ? deadline - now : 0;
		struct timespec ts = { (time_t)(left / 1000000000u), (long)(left % 1000000000u) };

		if (deadline && !left)
			break;
		if (!deadline || left > 100000000u)
			ts = (struct timespec){ 0, 100000000 }; /* re-check stop */
		__atomic_store_n(&k->sleeping, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&k->seq, __ATOMIC_SEQ_CST) == seen)
			futex(&k->seq, FUTEX_WAIT_PRIVATE, seen, &ts);
		__atomic_store_n(&k->sleeping, 0, __ATOMIC_SEQ_CST);
		cur = __atomic_load_n(&k->seq, __ATOMIC_ACQUIRE);
	}
	k->seen = cur;
}

/* ---- back-end ops ------------------------------------------------------ */

static ssize_t pair_preadv(void *ctx, const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct blk_pair *p = ctx;

	return p->fail_io ? -EIO : blkback_file_preadv(p->fd, iov, iovcnt, off);
}

static ssize_t pair_pwritev(void *ctx, const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct blk_pair *p = ctx;

	return p->fail_io ? -EIO : blkback_file_pwritev(p->fd, iov, iovcnt, off);
}

static int pair_flush(void *ctx)
{
	struct blk_pair *p = ctx;
	int err;

	if (p->flush_fails)
		return -EIO;
	err = blkback_file_flush(p->fd);
	if (!err)
		__atomic_add_fetch(&p->flushes_done, 1, __ATOMIC_SEQ_CST);
	return err;
}

static int pair_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct blk_pair *p = ctx;

	return blkback_file_discard(p->fd, off, len);
}

static void pair_back_notify(void *ctx)
{
	struct blk_pair *p = ctx;

	kick(&p->to_front);
}

const struct blkback_ops blk_pair_back_ops = {
	.map = fake_map,
	.unmap = fake_unmap,
	.preadv = pair_preadv,
	.pwritev = pair_pwritev,
	.flush = pair_flush,
	.discard = pair_discard,
	.notify = pair_back_notify,
	.log = NULL,
};

/* ---- front-end env ----------------------------------------------------- */

static void serve_sync(struct blk_pair *p)
{
	if (p->br_up)
		while ((p->back_rc = blkback_ring_service(&p->br)) > 0)
			;
}

static void front_notify(void *ctx)
{
	struct blk_pair *p = ctx;

	if (p->o.threaded)
		kick(&p->to_back);
	else
		serve_sync(p);
}

static void front_wait(void *ctx, uint64_t deadline)
{
	struct blk_pair *p = ctx;

	p->rsp_event_at_wait = p->fe.ring.sring->rsp_event;
	if (p->o.threaded)
		kick_wait(&p->to_front, deadline, &p->stop);
	else
		serve_sync(p);
}

static uint64_t front_now(void *ctx)
{
	return now_ns();
}

static const struct xen_ring_env_ops pair_env = {
	.notify = front_notify,
	.wait = front_wait,
	.now_ns = front_now,
};

static void *back_thread(void *arg)
{
	struct blk_pair *p = arg;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		int rc = blkback_ring_service(&p->br);

		p->back_rc = rc;
		if (rc < 0)
			break;
		if (rc == 0)
			kick_wait(&p->to_back, 0, &p->stop);
	}
	return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

void blk_pair_default_opts(struct blk_pair_opts *o)
{
	*o = (struct blk_pair_opts){ .sectors = 16384, /* 8 MiB */
				     .flush = true,
				     .discard = true,
				     .fe_persistent = true,
				     .be_persistent = true,
				     .fe_ring_order = 0,
				     .be_max_ring_order = BLKBACK_MAX_RING_ORDER,
				     .max_indirect_segs = BLKBACK_MAX_INDIRECT_SEGS,
				     .inflight = 32,
				     .pool_pages = 1024 };
}

static int open_image(struct blk_pair *p)
{
	if (p->o.path) {
		snprintf(p->path, sizeof(p->path), "%s", p->o.path);
		p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	} else {
		snprintf(p->path, sizeof(p->path), "/tmp/xenon-blk-XXXXXX");
		p->fd = mkostemp(p->path, O_CLOEXEC);
		p->own_file = true;
	}
	if (p->fd < 0)
		return -errno;
	if (ftruncate(p->fd, (off_t)(p->o.sectors * 512)))
		return -errno;
	return 0;
}

static int start_front(struct blk_pair *p)
{
	struct blkfront_config cfg = {
		.env = &pair_env,
		.env_ctx = p,
		.gops = &fake_gnt_front_ops,
		.gctx = &p->gnt,
		.ring_order = p->o.fe_ring_order,
		.inflight = p->o.inflight,
		.persistent = p->o.fe_persistent,
		.ring_start = p->o.ring_start,
		.buf_pages = p->o.buf_pages,
	};
	struct blkfront_backend be = {
		.sectors = p->o.sectors,
		.sector_size = 512,
		.info = p->o.readonly ? VDISK_READONLY : 0,
		.flush = p->o.flush,
		.discard = p->o.discard,
		.persistent = p->o.be_persistent,
		.max_indirect_segs = p->o.max_indirect_segs,
		.max_ring_order = p->o.be_max_ring_order,
	};
	int err;

	p->mem_pages = blkfront_mem_pages(p->o.fe_ring_order, p->o.inflight, p->o.pool_pages);
	p->mem = mmap(NULL, (size_t)p->mem_pages * 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED) {
		p->mem = NULL;
		return -ENOMEM;
	}
	cfg.mem = p->mem;
	cfg.mem_pages = p->mem_pages;
	err = blkfront_init(&p->fe, &cfg);
	if (!err)
		err = blkfront_setup(&p->fe, &be);
	if (!err)
		err = blkfront_connect(&p->fe, &be);
	return err;
}

static int start_back(struct blk_pair *p)
{
	struct blkback_config cfg = {
		.sectors = p->o.sectors,
		.readonly = p->o.readonly,
		.flush = p->o.flush,
		.discard = p->o.discard,
		.persistent = p->o.fe_persistent && p->o.be_persistent,
		.max_indirect_segs = p->o.max_indirect_segs,
		.max_pgrants = p->o.max_pgrants,
	};
	int err = blkback_ring_init(&p->br, p->fe.ring_mem, 1u << p->fe.ring_order, &cfg,
				    &blk_pair_back_ops, p);

	if (err)
		return err;
	p->br_up = true;
	if (p->o.threaded) {
		err = -pthread_create(&p->thread, NULL, back_thread, p);
		p->thread_up = !err;
	}
	return err;
}

int blk_pair_start(struct blk_pair *p, const struct blk_pair_opts *o)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->o = *o;
	p->fd = -1;
	fake_gnt_init(&p->gnt);
	err = open_image(p);
	if (!err)
		err = start_front(p);
	if (!err)
		err = start_back(p);
	if (err)
		blk_pair_stop(p);
	return err;
}

void blk_pair_stop(struct blk_pair *p)
{
	if (p->thread_up) {
		__atomic_store_n(&p->stop, true, __ATOMIC_RELEASE);
		kick(&p->to_back);
		pthread_join(p->thread, NULL);
		p->thread_up = false;
	}
	if (p->br_up)
		blkback_ring_fini(&p->br);
	p->br_up = false;
	blkfront_fini(&p->fe);
	if (p->mem)
		munmap(p->mem, (size_t)p->mem_pages * 4096);
	p->mem = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->own_file)
		unlink(p->path);
	p->own_file = false;
}
