/*
 * Fuzz target: the whole request engine. The input is a sequence of requests
 * from four connections (two privileged, two unprivileged domains):
 *
 *   [conn byte][type byte][tx byte][len byte][len payload bytes] ...
 *
 * The tx byte picks 0 or one of the transaction ids the connection was
 * given. Invariants: every request on a privileged connection gets exactly
 * one reply echoing its req_id (a released domain's connections go quiet), no payload exceeds
 * XENSTORE_PAYLOAD_MAX, and the tree passes the CONTROL "check" at the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define NCONN 4

struct fconn {
	struct xs_conn *c;
	uint32_t req;
	unsigned int replies;
	char last[64];
	uint32_t txids[8];
	unsigned int ntx;
	bool priv;
};

static int fsend(void *t, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct fconn *f = t;

	if (hdr->len > XENSTORE_PAYLOAD_MAX)
		abort();
	if (hdr->type == XS_WATCH_EVENT) {
		if (hdr->req_id != 0 || hdr->tx_id != 0)
			abort();
		return 0;
	}
	if (hdr->req_id != f->req)
		abort();
	f->replies++;
	size_t n = hdr->len < sizeof(f->last) - 1 ? hdr->len : sizeof(f->last) - 1;
	memcpy(f->last, payload, n);
	f->last[n] = '\0';
	if (hdr->type == XS_TRANSACTION_START && f->ntx < 8)
		f->txids[f->ntx++] = (uint32_t)strtoul(f->last, NULL, 10);
	return 0;
}

static const struct xs_conn_ops fops = { fsend };

static void run(struct fconn *f, uint32_t type, uint32_t tx, const uint8_t *p, size_t len)
{
	struct xsd_sockmsg h = { type, ++f->req, tx, (uint32_t)len };

	f->replies = 0;
	xs_conn_request(f->c, &h, (const char *)p);
	if (f->replies > 1 || (f->priv && f->replies != 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int domids[NCONN] = { 0, 0, 3, 4 };
	struct fconn f[NCONN];
	struct xs_store *s = xs_store_create(NULL, NULL);
	size_t off = 0;

	if (!s)
		return 0;
	memset(f, 0, sizeof(f));
	for (int i = 0; i < NCONN; i++) {
		f[i].priv = i < 2;
		f[i].c = xs_conn_create(s, domids[i], f[i].priv, &fops, &f[i]);
		if (i >= 2)
			xs_domain_attach(s, domids[i], f[i].c);
	}
	while (off + 4 <= size) {
		struct fconn *fc = &f[data[off] % NCONN];
		uint32_t type = data[off + 1] % 28;
		uint8_t txsel = data[off + 2];
		size_t len = data[off + 3];
		uint32_t tx = 0;

		off += 4;
		if (len > size - off)
			len = size - off;
		if (txsel && fc->ntx)
			tx = txsel == 0xff ? 12345 : fc->txids[txsel % fc->ntx];
		run(fc, type, tx, data + off, len);
		off += len;
	}
	run(&f[0], XS_CONTROL, 0, (const uint8_t *)"check", 6);
	if (strcmp(f[0].last, "OK") != 0)
		abort();
	for (int i = 0; i < NCONN; i++)
		xs_conn_destroy(f[i].c);
	xs_store_destroy(s);
	return 0;
}
