/*
 * XenStore framing, shared by the socket and ring transports.
 *
 * A frame is a struct xsd_sockmsg header followed by hdr.len payload bytes:
 *
 *   +------+--------+-------+-----+---------------------------+
 *   | type | req_id | tx_id | len | payload (len <= 4096)     |
 *   +------+--------+-------+-----+---------------------------+
 *    0      4        8       12    16                16 + len
 *
 * Input: struct xs_inbuf is a flat buffer the transport reads into. Complete
 * frames are handed out in place (no copy, no allocation); a frame cut at any
 * byte stays in the buffer until the rest arrives. The buffer is larger than
 * the largest frame, so a valid frame always fits; a header announcing more
 * than XENSTORE_PAYLOAD_MAX is a protocol error (C xenstored drops the
 * connection; so do we) and nothing of it is ever handed out.
 *
 * Output: struct xs_outq is a byte queue of encoded frames with a hard limit.
 * Transports append replies as the engine sends them and drain the queue with
 * as few writes as the peer allows.
 */
#ifndef XENON_XENSTORED_FRAMING_H
#define XENON_XENSTORED_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>

#define XS_FRAME_HDR sizeof(struct xsd_sockmsg)
#define XS_FRAME_MAX (XS_FRAME_HDR + XENSTORE_PAYLOAD_MAX)

/*
 * Looks at the bytes at buf. Returns the size of the complete frame there
 * (header included) and fills *ret_hdr, 0 if more bytes are needed, or
 * -E2BIG if the header announces an oversized payload (*ret_hdr is filled
 * too, so the caller can say how big).
 */
long xs_frame_peek(const void *buf, size_t avail, struct xsd_sockmsg *ret_hdr);

struct xs_inbuf {
	char *data;
	size_t start; /* first unconsumed byte */
	size_t end;   /* one past the last byte read */
	size_t cap;
};

/* cap is rounded up to at least twice XS_FRAME_MAX. */
int xs_inbuf_init(struct xs_inbuf *b, size_t cap);
void xs_inbuf_fini(struct xs_inbuf *b);
void xs_inbuf_reset(struct xs_inbuf *b);
/* Where to read next, compacting first if the tail is short. Once every
 * complete frame has been taken, at least XS_FRAME_MAX bytes are free.
 * NULL (*ret_len 0) if a released buffer cannot be allocated again. */
char *xs_inbuf_space(struct xs_inbuf *b, size_t *ret_len);
/* Frees the buffer if nothing is in it, so that an idle connection holds
 * none; xs_inbuf_space allocates it again. */
void xs_inbuf_release(struct xs_inbuf *b);
void xs_inbuf_commit(struct xs_inbuf *b, size_t n);
/*
 * The next complete frame: 1 with *hdr and *payload (valid until the next
 * call that changes b), 0 if none is complete yet, -E2BIG on an oversized
 * header (*hdr says how big; the buffer is then unusable: drop the
 * connection).
 */
int xs_inbuf_next(struct xs_inbuf *b, struct xsd_sockmsg *hdr, const char **payload);
static inline size_t xs_inbuf_pending(const struct xs_inbuf *b)
{
	return b->end - b->start;
}

struct xs_outq {
	char *data;
	size_t head; /* first byte not yet written */
	size_t tail; /* one past the last queued byte */
	size_t cap;
	size_t limit; /* most bytes ever queued at once */
};

void xs_outq_init(struct xs_outq *q, size_t limit);
void xs_outq_fini(struct xs_outq *q);
void xs_outq_reset(struct xs_outq *q);
/* Appends one frame; -ENOBUFS if that would pass the limit, -ENOMEM. */
int xs_outq_push(struct xs_outq *q, const struct xsd_sockmsg *hdr, const void *payload);
static inline size_t xs_outq_len(const struct xs_outq *q)
{
	return q->tail - q->head;
}
static inline const char *xs_outq_peek(const struct xs_outq *q)
{
	return q->data + q->head;
}
/* Marks n bytes written; an emptied queue rewinds (and shrinks if large). */
void xs_outq_consume(struct xs_outq *q, size_t n);
/* Frees the buffer if the queue is empty; xs_outq_push allocates again. */
void xs_outq_release(struct xs_outq *q);

#endif
