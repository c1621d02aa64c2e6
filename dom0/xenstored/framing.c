/* See framing.h. Nothing here allocates per message: buffers grow only when
 * a peer has more bytes outstanding than ever before. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

/* An idle connection's output buffer shrinks back to this after a burst. */
#define OUTQ_KEEP (64 * 1024)

long xs_frame_peek(const void *buf, size_t avail, struct xsd_sockmsg *ret_hdr)
{
	struct xsd_sockmsg hdr;

	if (avail < XS_FRAME_HDR)
		return 0;
	memcpy(&hdr, buf, sizeof(hdr)); /* buf need not be aligned */
	if (hdr.len > XENSTORE_PAYLOAD_MAX) {
		*ret_hdr = hdr; /* for the caller's log line */
		return -E2BIG;
	}
	if (avail - XS_FRAME_HDR < hdr.len)
		return 0;
	*ret_hdr = hdr;
	return (long)(XS_FRAME_HDR + hdr.len);
}

int xs_inbuf_init(struct xs_inbuf *b, size_t cap)
{
	if (cap < 2 * XS_FRAME_MAX)
		cap = 2 * XS_FRAME_MAX;
	b->data = malloc(cap);
	if (!b->data)
		return -ENOMEM;
	b->cap = cap;
	b->start = b->end = 0;
	return 0;
}

void xs_inbuf_fini(struct xs_inbuf *b)
{
	free(b->data);
	b->data = NULL;
}

void xs_inbuf_reset(struct xs_inbuf *b)
{
	b->start = b->end = 0;
}

char *xs_inbuf_space(struct xs_inbuf *b, size_t *ret_len)
{
	if (!b->data && !(b->data = malloc(b->cap))) {
		*ret_len = 0;
		return NULL;
	}
	/* Move the partial frame to the front once less than a whole frame
	 * fits behind it, so a valid frame can always complete. */
	if (b->start == b->end) {
		b->start = b->end = 0;
	} else if (b->cap - b->end < XS_FRAME_MAX) {
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
	}
	*ret_len = b->cap - b->end;
	return b->data + b->end;
}

void xs_inbuf_release(struct xs_inbuf *b)
{
	if (b->start != b->end)
		return;
	free(b->data);
	b->data = NULL;
	b->start = b->end = 0;
}

void xs_inbuf_commit(struct xs_inbuf *b, size_t n)
{
	b->end += n;
}

int xs_inbuf_next(struct xs_inbuf *b, struct xsd_sockmsg *hdr, const char **payload)
{
	long n;

	if (b->start == b->end)
		return 0; /* released too, perhaps */
	n = xs_frame_peek(b->data + b->start, b->end - b->start, hdr);

	if (n <= 0)
		return (int)n;
	*payload = b->data + b->start + XS_FRAME_HDR;
	b->start += (size_t)n;
	return 1;
}

void xs_outq_init(struct xs_outq *q, size_t limit)
{
	memset(q, 0, sizeof(*q));
	q->limit = limit;
}

void xs_outq_fini(struct xs_outq *q)
{
	free(q->data);
	memset(q, 0, sizeof(*q));
}

void xs_outq_reset(struct xs_outq *q)
{
	q->head = q->tail = 0;
}

/* Makes room for need more bytes at the tail: compact, then grow. */
static int outq_reserve(struct xs_outq *q, size_t need)
{
	size_t cap;
	char *p;

	if (q->cap - q->tail >= need)
		return 0;
	if (q->head) {
		memmove(q->data, q->data + q->head, q->tail - q->head);
		q->tail -= q->head;
		q->head = 0;
		if (q->cap - q->tail >= need)
			return 0;
	}
	for (cap = q->cap ? q->cap : 4096; cap - q->tail < need;)
		cap *= 2;
	p = realloc(q->data, cap);
	if (!p)
		return -ENOMEM;
	q->data = p;
	q->cap = cap;
	return 0;
}

int xs_outq_push(struct xs_outq *q, const struct xsd_sockmsg *hdr, const void *payload)
{
	size_t need = XS_FRAME_HDR + hdr->len;
	int err;

	if (xs_outq_len(q) + need > q->limit)
		return -ENOBUFS;
	err = outq_reserve(q, need);
	if (err)
		return err;
	memcpy(q->data + q->tail, hdr, XS_FRAME_HDR);
	if (hdr->len)
		memcpy(q->data + q->tail + XS_FRAME_HDR, payload, hdr->len);
	q->tail += need;
	return 0;
}

void xs_outq_consume(struct xs_outq *q, size_t n)
{
	q->head += n;
	if (q->head != q->tail)
		return;
	q->head = q->tail = 0;
	if (q->cap > OUTQ_KEEP)
		xs_outq_release(q);
}

void xs_outq_release(struct xs_outq *q)
{
	if (q->head != q->tail)
		return;
	free(q->data);
	q->data = NULL;
	q->cap = 0;
	q->head = q->tail = 0;
}
