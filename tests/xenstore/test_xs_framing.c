/*
 * Framing: frames cut at every byte, pipelined frames, oversized headers,
 * and the output queue's limits. No engine involved.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

_Static_assert(sizeof(struct xsd_sockmsg) == 16, "xsd_sockmsg is 16 bytes on the wire");
_Static_assert(XS_FRAME_MAX == 16 + 4096, "largest frame");

/* Encodes a frame with a payload of len bytes of pattern seed into buf. */
static size_t make_frame(char *buf, uint32_t type, uint32_t req_id, uint32_t len, int seed)
{
	struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = req_id * 3, .len = len };
	uint32_t i;

	memcpy(buf, &h, sizeof(h));
	for (i = 0; i < len; i++)
		buf[sizeof(h) + i] = (char)(seed + i * 7);
	return sizeof(h) + len;
}

static void check_payload(const char *p, uint32_t len, int seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		cr_assert_eq(p[i], (char)(seed + i * 7), "payload byte %u", i);
}

Test(framing, peek_needs_whole_header_and_payload)
{
	char buf[64];
	struct xsd_sockmsg h;
	size_t n = make_frame(buf, XS_READ, 1, 10, 0);
	size_t i;

	for (i = 0; i < n; i++)
		cr_assert_eq(xs_frame_peek(buf, i, &h), 0, "prefix of %zu bytes", i);
	cr_assert_eq(xs_frame_peek(buf, n, &h), (long)n);
	cr_assert_eq(h.req_id, 1);
	cr_assert_eq(h.len, 10);
}

Test(framing, peek_oversized_header)
{
	struct xsd_sockmsg h = { .type = XS_WRITE, .len = XENSTORE_PAYLOAD_MAX + 1 }, out;

	cr_assert_eq(xs_frame_peek(&h, sizeof(h), &out), -E2BIG);
	h.len = UINT32_MAX;
	cr_assert_eq(xs_frame_peek(&h, sizeof(h), &out), -E2BIG);
	h.len = XENSTORE_PAYLOAD_MAX;
	cr_assert_eq(xs_frame_peek(&h, sizeof(h), &out), 0, "max payload is valid, incomplete");
}

/* Builds a stream of frames of assorted sizes, including 0 and the max. */
static size_t make_stream(char *buf, unsigned int *ret_count)
{
	static const uint32_t lens[] = { 0, 1, 15, 16, 17, 100, 4095, XENSTORE_PAYLOAD_MAX, 3, 0 };
	size_t off = 0;
	unsigned int i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		off += make_frame(buf + off, XS_WRITE, i + 1, lens[i], (int)i);
	*ret_count = i;
	return off;
}

/* Feeds stream as a first piece of first bytes, then pieces of chunk bytes
 * (each capped by the buffer's room); checks every frame comes out once, in
 * order, intact. */
static void feed_split(const char *stream, size_t len, unsigned int count, size_t first,
		       size_t chunk)
{
	struct xs_inbuf b;
	struct xsd_sockmsg h;
	const char *p;
	unsigned int seen = 0;
	size_t off = 0;

	cr_assert_eq(xs_inbuf_init(&b, 0), 0);
	while (off < len) {
		size_t room, n;
		char *dst = xs_inbuf_space(&b, &room);

		cr_assert_geq(room, XS_FRAME_MAX, "room for a whole frame");
		n = off ? chunk : first;
		n = len - off < n ? len - off : n;
		n = n < room ? n : room;
		memcpy(dst, stream + off, n);
		xs_inbuf_commit(&b, n);
		off += n;
		while (xs_inbuf_next(&b, &h, &p) == 1) {
			cr_assert_eq(h.req_id, seen + 1);
			cr_assert_eq(h.tx_id, (seen + 1) * 3);
			check_payload(p, h.len, (int)seen);
			seen++;
		}
	}
	cr_assert_eq(seen, count, "chunk %zu: %u of %u frames", chunk, seen, count);
	cr_assert_eq(xs_inbuf_pending(&b), 0);
	xs_inbuf_fini(&b);
}

Test(framing, split_at_every_chunk_size)
{
	char *stream = malloc(16 * XS_FRAME_MAX);
	unsigned int count;
	size_t len = make_stream(stream, &count), chunk;

	for (chunk = 1; chunk <= 64; chunk++)
		feed_split(stream, len, count, chunk, chunk);
	for (chunk = 4000; chunk <= 4200; chunk++)
		feed_split(stream, len, count, chunk, chunk);
	feed_split(stream, len, count, len, len);
	free(stream);
}

Test(framing, two_pieces_split_at_every_byte)
{
	char *stream = malloc(16 * XS_FRAME_MAX);
	unsigned int count;
	size_t len = make_stream(stream, &count), cut;

	for (cut = 1; cut < len; cut++)
		feed_split(stream, len, count, cut, len);
	free(stream);
}

Test(framing, many_pipelined_frames_in_one_read)
{
	struct xs_inbuf b;
	struct xsd_sockmsg h;
	const char *p;
	size_t room, off = 0;
	unsigned int i, n = 0;
	char *dst;

	cr_assert_eq(xs_inbuf_init(&b, 64 * 1024), 0);
	dst = xs_inbuf_space(&b, &room);
	for (i = 0; off + 32 <= room; i++)
		off += make_frame(dst + off, XS_READ, i + 1, 8, (int)i);
	xs_inbuf_commit(&b, off);
	while (xs_inbuf_next(&b, &h, &p) == 1) {
		cr_assert_eq(h.req_id, n + 1);
		n++;
	}
	cr_assert_eq(n, i);
	cr_assert_gt(n, 1000u);
	xs_inbuf_fini(&b);
}

Test(framing, oversized_frame_is_never_handed_out)
{
	struct xs_inbuf b;
	struct xsd_sockmsg h, big = { .type = XS_WRITE, .req_id = 9, .len = 5000 };
	const char *p;
	size_t room;
	char *dst;

	cr_assert_eq(xs_inbuf_init(&b, 0), 0);
	dst = xs_inbuf_space(&b, &room);
	make_frame(dst, XS_READ, 1, 4, 0);
	memcpy(dst + 20, &big, sizeof(big));
	xs_inbuf_commit(&b, 20 + sizeof(big));
	cr_assert_eq(xs_inbuf_next(&b, &h, &p), 1);
	cr_assert_eq(xs_inbuf_next(&b, &h, &p), -E2BIG);
	cr_assert_eq(xs_inbuf_next(&b, &h, &p), -E2BIG, "stays an error");
	xs_inbuf_fini(&b);
}

Test(framing, outq_partial_consume_keeps_order)
{
	struct xs_outq q;
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 1, .len = 5 };
	struct xsd_sockmsg got;

	xs_outq_init(&q, 1 << 20);
	cr_assert_eq(xs_outq_push(&q, &h, "abcde"), 0);
	h.req_id = 2;
	cr_assert_eq(xs_outq_push(&q, &h, "fghij"), 0);
	cr_assert_eq(xs_outq_len(&q), 42);
	xs_outq_consume(&q, 7); /* a partial write, mid-header */
	cr_assert_eq(xs_outq_len(&q), 35);
	xs_outq_consume(&q, 14);
	memcpy(&got, xs_outq_peek(&q), sizeof(got));
	cr_assert_eq(got.req_id, 2);
	cr_assert_eq(memcmp(xs_outq_peek(&q) + 16, "fghij", 5), 0);
	xs_outq_consume(&q, 21);
	cr_assert_eq(xs_outq_len(&q), 0);
	xs_outq_fini(&q);
}

Test(framing, outq_limit_and_shrink)
{
	static char payload[XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg h = { .type = XS_READ, .len = XENSTORE_PAYLOAD_MAX };
	struct xs_outq q;
	unsigned int i;

	xs_outq_init(&q, 20 * XS_FRAME_MAX);
	for (i = 0; i < 20; i++)
		cr_assert_eq(xs_outq_push(&q, &h, payload), 0);
	cr_assert_eq(xs_outq_push(&q, &h, payload), -ENOBUFS);
	h.len = 0;
	cr_assert_eq(xs_outq_push(&q, &h, NULL), -ENOBUFS, "even an empty frame");
	/* Draining frees room, and an emptied large buffer is released. */
	xs_outq_consume(&q, XS_FRAME_MAX);
	cr_assert_eq(xs_outq_push(&q, &h, NULL), 0);
	xs_outq_consume(&q, xs_outq_len(&q));
	cr_assert_null(q.data, "a drained burst buffer is freed");
	xs_outq_fini(&q);
}

/* An idle ring connection holds no buffers (transport_ring.c releases
 * them after each pass): released only when empty, allocated again at the
 * next use, frames intact across it. */
Test(framing, release_only_when_empty)
{
	struct xs_inbuf in;
	struct xs_outq q;
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 9, .len = 3 }, got;
	char frame[64];
	const char *payload;
	size_t len = make_frame(frame, XS_WRITE, 4, 20, 11), room;
	char *dst;

	cr_assert_eq(xs_inbuf_init(&in, 0), 0);
	xs_inbuf_release(&in);
	cr_assert_null(in.data, "an empty buffer is released");
	cr_assert_eq(xs_inbuf_next(&in, &got, &payload), 0, "nothing in a released buffer");
	dst = xs_inbuf_space(&in, &room);
	cr_assert_not_null(dst, "allocated again");
	cr_assert_geq(room, 2 * XS_FRAME_MAX);
	memcpy(dst, frame, 10); /* a partial frame: kept */
	xs_inbuf_commit(&in, 10);
	cr_assert_eq(xs_inbuf_next(&in, &got, &payload), 0);
	xs_inbuf_release(&in);
	cr_assert_not_null(in.data, "a partial frame is not released");
	dst = xs_inbuf_space(&in, &room);
	memcpy(dst, frame + 10, len - 10);
	xs_inbuf_commit(&in, len - 10);
	cr_assert_eq(xs_inbuf_next(&in, &got, &payload), 1);
	cr_assert_eq(got.req_id, 4);
	check_payload(payload, 20, 11);
	xs_inbuf_release(&in);
	cr_assert_null(in.data);
	xs_inbuf_fini(&in);

	xs_outq_init(&q, 1 << 20);
	xs_outq_release(&q);
	cr_assert_eq(xs_outq_push(&q, &h, "abc"), 0);
	xs_outq_release(&q);
	cr_assert_not_null(q.data, "a queue with bytes in it is kept");
	xs_outq_consume(&q, 5);
	xs_outq_release(&q);
	cr_assert_not_null(q.data, "part of a frame is still queued");
	xs_outq_consume(&q, xs_outq_len(&q));
	xs_outq_release(&q);
	cr_assert_null(q.data);
	cr_assert_eq(xs_outq_push(&q, &h, "xyz"), 0, "allocated again");
	cr_assert_eq(memcmp(xs_outq_peek(&q) + 16, "xyz", 3), 0);
	xs_outq_fini(&q);
}
