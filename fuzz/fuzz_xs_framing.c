/*
 * Fuzz target: a client byte stream, cut at fuzzer-chosen points, through the
 * transports' framing (xs_inbuf) into the real engine, over an in-memory
 * transport that checks what comes back.
 *
 * Input: byte 0 = number of cuts (mod 16); then 2 bytes per cut, each a chunk
 * length; the rest is the stream. Chunks are fed as a socket read would
 * deliver them.
 *
 * Checked: nothing crashes (sanitizers do the rest); every frame handed out is
 * within XENSTORE_PAYLOAD_MAX and is exactly the stream's next bytes; replies
 * come in order, one per request, echoing its req_id and tx_id (watch events
 * aside); and once a header announces an oversized payload, no request is
 * handled and nothing more is sent, as the socket transport drops the client.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "framing.h"

struct harness {
	const struct xsd_sockmsg *current; /* the request being handled */
	unsigned int replies;		   /* to the current request */
	bool dropped;			   /* oversized header seen */
};

static int check_send(void *t, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct harness *h = t;

	if (h->dropped)
		abort(); /* nothing may be sent once the client is dropped */
	if (hdr->len > XENSTORE_PAYLOAD_MAX)
		abort(); /* replies fit the protocol too */
	if (hdr->type == XS_WATCH_EVENT)
		return 0;
	if (!h->current || hdr->req_id != h->current->req_id || hdr->tx_id != h->current->tx_id)
		abort(); /* a reply out of turn */
	h->replies++;
	return 0;
}

static const struct xs_conn_ops check_ops = { .send = check_send };

/* Runs every complete frame; false once the client must be dropped. */
static bool run_frames(struct harness *h, struct xs_inbuf *in, struct xs_conn *c,
		       const uint8_t *stream, size_t *consumed)
{
	struct xsd_sockmsg hdr;
	const char *payload;
	int r;

	while ((r = xs_inbuf_next(in, &hdr, &payload)) == 1) {
		if (hdr.len > XENSTORE_PAYLOAD_MAX ||
		    memcmp(&hdr, stream + *consumed, XS_FRAME_HDR) ||
		    memcmp(payload, stream + *consumed + XS_FRAME_HDR, hdr.len))
			abort();
		*consumed += XS_FRAME_HDR + hdr.len;
		h->current = &hdr;
		h->replies = 0;
		xs_conn_request(c, &hdr, payload);
		if (h->replies != 1)
			abort(); /* exactly one reply per request */
		h->current = NULL;
	}
	if (r < 0)
		h->dropped = true;
	return r == 0;
}

static void feed(struct harness *h, struct xs_conn *c, const uint16_t *cuts, unsigned int ncuts,
		 const uint8_t *stream, size_t len)
{
	struct xs_inbuf in;
	size_t off = 0, consumed = 0;
	unsigned int k = 0;

	if (xs_inbuf_init(&in, 0))
		return;
	while (off < len) {
		size_t room, n = k < ncuts ? cuts[k++] : len;
		char *dst = xs_inbuf_space(&in, &room);

		if (!dst)
			break;
		n = n ? n : 1;
		n = n < len - off ? n : len - off;
		n = n < room ? n : room;
		memcpy(dst, stream + off, n);
		xs_inbuf_commit(&in, n);
		off += n;
		if (!run_frames(h, &in, c, stream, &consumed))
			break;
		xs_inbuf_release(&in); /* as the ring transport does after a pass */
	}
	xs_inbuf_fini(&in);
}

static void quiet_log(void *ctx, int level, const char *msg)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness h = { 0 };
	struct xs_config cfg;
	struct xs_store *s;
	struct xs_conn *c;
	uint16_t cuts[16];
	unsigned int ncuts, i;

	if (size < 1)
		return 0;
	ncuts = data[0] % 16;
	if (size < 1 + 2 * ncuts)
		return 0;
	for (i = 0; i < ncuts; i++)
		cuts[i] = (uint16_t)(data[1 + 2 * i] | data[2 + 2 * i] << 8);
	xs_config_defaults(&cfg);
	cfg.log = quiet_log;
	s = xs_store_create(&cfg, NULL);
	if (!s)
		return 0;
	c = xs_conn_create(s, 0, true, &check_ops, &h);
	if (c)
		feed(&h, c, cuts, ncuts, data + 1 + 2 * ncuts, size - 1 - 2 * ncuts);
	h.dropped = false; /* teardown may legitimately drop state quietly */
	xs_conn_destroy(c);
	xs_store_destroy(s);
	return 0;
}
