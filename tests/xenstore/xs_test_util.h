/*
 * Test harness for the engine: a recording fake transport. Each connection's
 * send() appends to its own recorder, so a test can assert the exact wire
 * transcript (type, req_id, tx_id, payload) a client would see.
 */
#ifndef XS_TEST_UTIL_H
#define XS_TEST_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct rec_msg {
	struct xsd_sockmsg hdr;
	char data[XENSTORE_PAYLOAD_MAX + 1];
};

struct rec {
	struct rec_msg *msgs;
	size_t n, cap;
	bool fail;
	struct xs_conn *c;
	uint32_t next_req;
};

static int rec_send(void *t, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct rec *r = t;

	if (r->fail)
		return -1;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->msgs = realloc(r->msgs, r->cap * sizeof(*r->msgs));
		cr_assert(r->msgs);
	}
	cr_assert(hdr->len <= XENSTORE_PAYLOAD_MAX);
	r->msgs[r->n].hdr = *hdr;
	memcpy(r->msgs[r->n].data, payload, hdr->len);
	r->msgs[r->n].data[hdr->len] = '\0';
	r->n++;
	return 0;
}

static const struct xs_conn_ops rec_ops = { rec_send };

static inline struct rec *rec_conn(struct xs_store *s, unsigned int domid, bool priv)
{
	struct rec *r = calloc(1, sizeof(*r));

	cr_assert(r);
	r->c = xs_conn_create(s, domid, priv, &rec_ops, r);
	cr_assert(r->c);
	r->next_req = 100;
	return r;
}

static inline void rec_free(struct rec *r)
{
	if (!r)
		return;
	xs_conn_destroy(r->c);
	free(r->msgs);
	free(r);
}

static inline void rec_clear(struct rec *r)
{
	r->n = 0;
}

/* Send a request; return the reply (the message echoing our req_id). */
static inline struct rec_msg *call(struct rec *r, uint32_t type, uint32_t tx, const void *p,
				   size_t len)
{
	struct xsd_sockmsg h = { type, r->next_req++, tx, (uint32_t)len };

	rec_clear(r);
	xs_conn_request(r->c, &h, p);
	for (size_t i = 0; i < r->n; i++)
		if (r->msgs[i].hdr.type != XS_WATCH_EVENT && r->msgs[i].hdr.req_id == h.req_id)
			return &r->msgs[i];
	cr_assert_fail("no reply to type %u", type);
	return NULL;
}

/* Send a request under a req_id the test picks, for tests of the reply
 * headers themselves; the replies are left in r->msgs. */
static inline void send_raw(struct rec *r, uint32_t type, uint32_t req_id, const void *p,
			    size_t len)
{
	struct xsd_sockmsg h = { type, req_id, 0, (uint32_t)len };

	rec_clear(r);
	xs_conn_request(r->c, &h, p);
}

/* Every header field of one recorded reply. */
static inline void expect_hdr_fn(int line, const struct rec_msg *m, uint32_t type, uint32_t req_id,
				 uint32_t tx_id, uint32_t len)
{
	cr_assert_eq(m->hdr.type, type, "line %d: type %u want %u", line, m->hdr.type, type);
	cr_assert_eq(m->hdr.req_id, req_id, "line %d: req_id %u want %u", line, m->hdr.req_id,
		     req_id);
	cr_assert_eq(m->hdr.tx_id, tx_id, "line %d: tx_id %u want %u", line, m->hdr.tx_id, tx_id);
	cr_assert_eq(m->hdr.len, len, "line %d: len %u want %u", line, m->hdr.len, len);
}

#define expect_hdr(...) expect_hdr_fn(__LINE__, __VA_ARGS__)

/* String literal payloads keep their final NUL: P("a\0b") is 4 bytes. */
#define P(lit) lit, sizeof(lit)
/* Without the final NUL, e.g. WRITE values: V("a\0b") is 3 bytes. */
#define V(lit) lit, sizeof(lit) - 1

static inline void expect_ok_fn(int line, struct rec *r, uint32_t ty, uint32_t tx, const void *p,
				size_t len)
{
	struct rec_msg *m = call(r, ty, tx, p, len);

	cr_assert_eq(m->hdr.type, ty, "line %d type %u: got %u %s", line, ty, m->hdr.type, m->data);
	cr_assert_str_eq(m->data, "OK", "line %d", line);
}

static inline void expect_err_fn(int line, struct rec *r, uint32_t ty, uint32_t tx, const char *err,
				 const void *p, size_t len)
{
	struct rec_msg *m = call(r, ty, tx, p, len);

	cr_assert_eq(m->hdr.type, XS_ERROR, "line %d type %u: wanted %s, got type %u '%s'", line,
		     ty, err, m->hdr.type, m->data);
	cr_assert_str_eq(m->data, err, "line %d", line);
	cr_assert_eq(m->hdr.len, strlen(err) + 1, "line %d", line);
}

/* The reply payload must equal want exactly. */
static inline void expect_reply_fn(int line, struct rec *r, uint32_t ty, uint32_t tx,
				   const void *want, size_t wlen, const void *p, size_t len)
{
	struct rec_msg *m = call(r, ty, tx, p, len);

	cr_assert_eq(m->hdr.type, ty, "line %d type %u: got %u '%s'", line, ty, m->hdr.type,
		     m->data);
	cr_assert_eq(m->hdr.len, wlen, "line %d: len %u want %zu ('%s')", line, m->hdr.len, wlen,
		     m->data);
	cr_assert(memcmp(m->data, want, wlen) == 0, "line %d: payload differs ('%s')", line,
		  m->data);
}

#define expect_ok(...) expect_ok_fn(__LINE__, __VA_ARGS__)
#define expect_err(...) expect_err_fn(__LINE__, __VA_ARGS__)
#define expect_reply(...) expect_reply_fn(__LINE__, __VA_ARGS__)

static inline uint32_t tx_start(struct rec *r)
{
	struct rec_msg *m = call(r, XS_TRANSACTION_START, 0, P(""));

	cr_assert_eq(m->hdr.type, XS_TRANSACTION_START, "%s", m->data);
	return (uint32_t)strtoul(m->data, NULL, 10);
}

static inline size_t count_events(const struct rec *r, const char *path, const char *token)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct rec_msg *m = &r->msgs[i];

		if (m->hdr.type == XS_WATCH_EVENT && strcmp(m->data, path) == 0 &&
		    strcmp(m->data + strlen(m->data) + 1, token) == 0)
			n++;
	}
	return n;
}

static inline size_t count_all_events(const struct rec *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->msgs[i].hdr.type == XS_WATCH_EVENT;
	return n;
}

#endif
