/*
 * A malicious block front end against the back end's engine
 * (dom0/blkback/blkback_ring.c). The input is a script over a shared ring of
 * 1 or 2 pages and 16 grantable pages (refs 0..15; 12..15 read-only):
 *   byte 0: flags (ring order, persistent, read-only, indirect, discard,
 *           a small persistent table)
 *   then steps: an op byte; bit 0: overwrite ring bytes from the input,
 *   bit 1: overwrite an indirect/data page, bit 2: set req_prod (u32),
 *   bit 3: set rsp_event/req_event; then one service call.
 * Claims checked: every image access the engine asks for is inside the
 * image (abort otherwise), nothing outside the pages is touched (ASan: each
 * is its own allocation), every service call returns, the response
 * producer never runs more than a ring ahead of the requests it consumed,
 * and once fatal the engine stays fatal. Grants map to our pages; every
 * mapping is undone by fini.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blkback_ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_PAGES 16
#define FZ_SECTORS 64 /* a 32 KiB image */

struct fz {
	uint8_t *page[FZ_PAGES];
	uint8_t image[FZ_SECTORS * 512];
	long mapped;
};

static int fz_map(void *ctx, const grant_ref_t *refs, unsigned int nr, bool writable,
		  void **ret_pages, void **ret_handle)
{
	struct fz *f = ctx;

	for (unsigned int i = 0; i < nr; i++)
		if (refs[i] >= FZ_PAGES || (writable && refs[i] >= 12))
			return -EINVAL;
	for (unsigned int i = 0; i < nr; i++)
		ret_pages[i] = f->page[refs[i]];
	f->mapped += nr;
	*ret_handle = NULL;
	return 0;
}

static void fz_unmap(void *ctx, void *handle, void **pages, unsigned int nr)
{
	struct fz *f = ctx;

	f->mapped -= nr;
}

static ssize_t fz_io(struct fz *f, const struct iovec *iov, int iovcnt, uint64_t off, bool wr)
{
	size_t total = 0;

	if (iovcnt <= 0 || iovcnt > BLKBACK_MAX_INDIRECT_SEGS)
		abort();
	for (int i = 0; i < iovcnt; i++) {
		if (off + total + iov[i].iov_len > sizeof(f->image) || off + total < off)
			abort(); /* the engine let a request past the image */
		if (wr)
			memcpy(f->image + off + total, iov[i].iov_base, iov[i].iov_len);
		else
			memcpy(iov[i].iov_base, f->image + off + total, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

static ssize_t fz_preadv(void *ctx, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return fz_io(ctx, iov, iovcnt, off, false);
}

static ssize_t fz_pwritev(void *ctx, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return fz_io(ctx, iov, iovcnt, off, true);
}

static int fz_flush(void *ctx)
{
	return 0;
}

static int fz_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct fz *f = ctx;

	if (off > sizeof(f->image) || len > sizeof(f->image) - off)
		abort();
	memset(f->image + off, 0, len);
	return 0;
}

static void fz_notify(void *ctx)
{
}

static const struct blkback_ops fz_ops = {
	.map = fz_map,
	.unmap = fz_unmap,
	.preadv = fz_preadv,
	.pwritev = fz_pwritev,
	.flush = fz_flush,
	.discard = fz_discard,
	.notify = fz_notify,
};

static uint32_t take32(const uint8_t **p, size_t *n)
{
	uint32_t v = 0;
	size_t k = *n < 4 ? *n : 4;

	memcpy(&v, *p, k);
	*p += k;
	*n -= k;
	return v;
}

static void take_bytes(uint8_t *dst, size_t max, const uint8_t **p, size_t *n)
{
	size_t off, k;

	if (*n < 2)
		return;
	off = ((*p)[0] | (size_t)(*p)[1] << 8) % max;
	*p += 2;
	*n -= 2;
	k = *n < 128 ? *n : 128;
	if (k > max - off)
		k = max - off;
	memcpy(dst + off, *p, k);
	*p += k;
	*n -= k;
}

static void run_steps(struct blkback_ring *br, struct fz *f, uint8_t *ring, size_t ring_len,
		      const uint8_t *data, size_t size)
{
	struct blkif_sring *s = (struct blkif_sring *)ring;
	unsigned int steps = 0;
	bool fatal = false;

	while (size && steps++ < 64) {
		uint8_t op = *data++;
		int rc;

		size--;
		if (op & 1)
			take_bytes(ring, ring_len, &data, &size);
		if (op & 2 && size)
			take_bytes(f->page[*data % FZ_PAGES], 4096, &data, &size);
		if (op & 4)
			s->req_prod = take32(&data, &size);
		if (op & 8)
			s->req_event = take32(&data, &size);
		rc = blkback_ring_service(br);
		if (fatal && rc != -EPROTO)
			abort();
		fatal = rc == -EPROTO;
		if (rc != 0 && rc != 1 && rc != -EPROTO)
			abort();
		if ((RING_IDX)(br->ring.rsp_prod_pvt - br->ring.req_cons) != 0)
			abort(); /* every consumed request answered, synchronously */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = calloc(1, sizeof(*f));
	struct blkback_config cfg = { .sectors = FZ_SECTORS, .flush = true };
	struct blkback_ring *br = malloc(sizeof(*br));
	unsigned int pages;
	uint8_t *ring = NULL;
	uint8_t flags;

	if (!f || !br || !size)
		goto out;
	flags = *data++;
	size--;
	pages = flags & 1 ? 2 : 1;
	cfg.persistent = flags & 2;
	cfg.readonly = flags & 4;
	cfg.max_indirect_segs = flags & 8 ? 32 : 0;
	cfg.discard = flags & 16;
	cfg.max_pgrants = flags & 32 ? 3 : 0;
	ring = calloc(pages, 4096);
	for (int i = 0; i < FZ_PAGES; i++)
		if (!(f->page[i] = malloc(4096)))
			goto out;
	if (!ring || blkback_ring_init(br, ring, pages, &cfg, &fz_ops, f))
		goto out;
	run_steps(br, f, ring, (size_t)pages * 4096, data, size);
	blkback_ring_fini(br);
	if (f->mapped)
		abort(); /* a mapping outlived the device */
out:
	for (int i = 0; f && i < FZ_PAGES; i++)
		free(f->page[i]);
	free(ring);
	free(br);
	free(f);
	return 0;
}
