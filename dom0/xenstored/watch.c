/*
 * Watches, indexed by the absolute path they watch:
 *
 *   index["/local/domain/0/w"] -> wpath -> watch(conn A, "tok1")
 *                                       -> watch(conn B, "tok2") -> ...
 *
 * A change to /local/domain/0/w/x fires the watches registered on each of its
 * prefixes "/", "/local", ..., "/local/domain/0/w/x": one hash probe per
 * level, computed incrementally, so firing costs O(depth + watchers hit)
 * whatever the number of watches. Watchers on one path fire in registration
 * order (C xenstored). Relative watches get relative event paths: each watch
 * remembers how many leading bytes of the absolute path to strip.
 */
#include <stdlib.h>
#include <string.h>

#include "xs_core.h"

struct xs_watch {
	struct xs_watch *pnext; /* same path, registration order */
	struct xs_watch *cnext; /* same connection, registration order */
	struct xs_conn *conn;
	struct xs_wpath *wp;
	uint16_t rel_off; /* strip this many bytes of event paths */
	uint16_t token_len;
	char token[];
};

struct xs_wpath {
	struct xs_wpath *hnext;
	struct xs_watch *first, *last;
	size_t hash;
	uint16_t len;
	char path[];
};

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv_step(uint64_t h, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * FNV_PRIME;
	return h;
}

static size_t fnv_final(uint64_t h)
{
	return (size_t)(h ^ (h >> 29));
}

static struct xs_wpath **wpath_slot(const struct xs_windex *w, size_t hash, const char *path,
				    size_t len)
{
	struct xs_wpath **slot = &w->b[hash & w->mask];

	while (*slot && ((*slot)->hash != hash || (*slot)->len != len ||
			 memcmp((*slot)->path, path, len) != 0))
		slot = &(*slot)->hnext;
	return slot;
}

static int windex_grow(struct xs_windex *w)
{
	size_t nmask = w->b ? w->mask * 2 + 1 : 63;
	struct xs_wpath **nb = calloc(nmask + 1, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; w->b && i <= w->mask; i++) {
		struct xs_wpath *p = w->b[i], *next;

		for (; p; p = next) {
			next = p->hnext;
			p->hnext = nb[p->hash & nmask];
			nb[p->hash & nmask] = p;
		}
	}
	free(w->b);
	w->b = nb;
	w->mask = nmask;
	return 0;
}

static struct xs_wpath *wpath_get(struct xs_windex *w, const char *path, size_t len)
{
	size_t hash = fnv_final(fnv_step(FNV_OFFSET, path, len));
	struct xs_wpath **slot, *wp;

	if ((!w->b || w->count >= w->mask + 1) && windex_grow(w) < 0 && !w->b)
		return NULL;
	slot = wpath_slot(w, hash, path, len);
	if (*slot)
		return *slot;
	wp = calloc(1, sizeof(*wp) + len + 1);
	if (!wp)
		return NULL;
	wp->hash = hash;
	wp->len = (uint16_t)len;
	memcpy(wp->path, path, len);
	*slot = wp;
	w->count++;
	return wp;
}

static void wpath_unlink_watch(struct xs_windex *w, struct xs_watch *watch)
{
	struct xs_wpath *wp = watch->wp;
	struct xs_watch **pp = &wp->first, *prev = NULL;

	while (*pp != watch) {
		prev = *pp;
		pp = &(*pp)->pnext;
	}
	*pp = watch->pnext;
	if (wp->last == watch)
		wp->last = prev;
	if (!wp->first) {
		struct xs_wpath **slot = wpath_slot(w, wp->hash, wp->path, wp->len);

		*slot = wp->hnext;
		w->count--;
		free(wp);
	}
}

static struct xs_watch *watch_find(struct xs_conn *c, const char *abs, size_t alen,
				   const char *token, struct xs_watch ***ret_pp)
{
	size_t tlen = strlen(token);

	for (struct xs_watch **pp = &c->watches; *pp; pp = &(*pp)->cnext) {
		struct xs_watch *w = *pp;

		if (w->wp->len == alen && memcmp(w->wp->path, abs, alen) == 0 &&
		    w->token_len == tlen && memcmp(w->token, token, tlen) == 0) {
			if (ret_pp)
				*ret_pp = pp;
			return w;
		}
	}
	return NULL;
}

/* Register; the caller has checked quota and sends the ack and first event. */
int watch_add(struct xs_conn *c, const char *given, const char *abs, size_t alen, const char *token)
{
	size_t tlen = strlen(token);
	struct xs_watch *w;

	if (watch_find(c, abs, alen, token, NULL))
		return -EEXIST;
	w = malloc(sizeof(*w) + tlen + 1);
	if (!w)
		return -ENOMEM;
	w->wp = wpath_get(&c->s->watches, abs, alen);
	if (!w->wp) {
		free(w);
		return -ENOMEM;
	}
	w->conn = c;
	w->rel_off = (uint16_t)(alen - strlen(given));
	w->token_len = (uint16_t)tlen;
	memcpy(w->token, token, tlen + 1);
	w->pnext = NULL;
	if (w->wp->last)
		w->wp->last->pnext = w;
	else
		w->wp->first = w;
	w->wp->last = w;
	w->cnext = NULL;
	if (c->watches_tail)
		c->watches_tail->cnext = w;
	else
		c->watches = w;
	c->watches_tail = w;
	c->nwatches++;
	conn_mem_adjust(c, (long)(alen + tlen)); /* C: strlen(path) + strlen(token) */
	return 0;
}

static void watch_unlink_conn(struct xs_conn *c, struct xs_watch **pp)
{
	struct xs_watch *w = *pp;

	*pp = w->cnext;
	if (c->watches_tail == w) {
		c->watches_tail = NULL;
		for (struct xs_watch *i = c->watches; i; i = i->cnext)
			c->watches_tail = i;
	}
	c->nwatches--;
	conn_mem_adjust(c, -(long)(w->wp->len + w->token_len));
	wpath_unlink_watch(&c->s->watches, w);
	free(w);
}

int watch_del(struct xs_conn *c, const char *abs, size_t alen, const char *token)
{
	struct xs_watch **pp;

	if (!watch_find(c, abs, alen, token, &pp))
		return -ENOENT;
	watch_unlink_conn(c, pp);
	return 0;
}

void watch_del_all(struct xs_conn *c)
{
	while (c->watches) {
		struct xs_watch *w = c->watches;

		c->watches = w->cnext;
		conn_mem_adjust(c, -(long)(w->wp->len + w->token_len));
		wpath_unlink_watch(&c->s->watches, w);
		free(w);
	}
	c->watches_tail = NULL;
	c->nwatches = 0;
}

void watch_index_fini(struct xs_store *s)
{
	free(s->watches.b);
	s->watches.b = NULL;
}

static void watch_deliver(struct xs_store *s, struct xs_watch *w, const char *path, size_t len)
{
	size_t plen = len - w->rel_off;
	size_t total = plen + 1 + w->token_len + 1;

	if (total > XENSTORE_PAYLOAD_MAX) {
		xs_log(s, 1, "watch event for %.64s... too long for token %.32s: dropped", path,
		       w->token);
		return;
	}
	memcpy(s->evbuf, path + w->rel_off, plen);
	s->evbuf[plen] = '\0';
	memcpy(s->evbuf + plen + 1, w->token, w->token_len + 1u);
	conn_send(w->conn, XS_WATCH_EVENT, 0, 0, s->evbuf, total);
}

static void wpath_fire(struct xs_store *s, const struct xs_wpath *wp, const char *path, size_t len,
		       const uint32_t *perms, unsigned int nperms)
{
	for (struct xs_watch *w = wp->first; w; w = w->pnext) {
		if (w->conn->dead)
			continue;
		if (perms && !(perms_for(w->conn, perms, nperms) & XS_PERM_READ))
			continue;
		watch_deliver(s, w, path, len);
	}
}

void watch_fire(struct xs_store *s, const char *path, size_t len, const uint32_t *perms,
		unsigned int nperms, bool exact)
{
	const struct xs_windex *w = &s->watches;
	uint64_t h = FNV_OFFSET;
	size_t done = 0;

	if (w->count == 0)
		return;
	if (exact) {
		struct xs_wpath *wp = *wpath_slot(w, fnv_final(fnv_step(h, path, len)), path, len);

		if (wp)
			wpath_fire(s, wp, path, len, perms, nperms);
		return;
	}
	/* Prefixes: "/" then each "/a", "/a/b", ..., and finally path itself. */
	for (size_t i = 1; i <= len; i++) {
		struct xs_wpath *wp;

		if (i > 1 && i < len && path[i] != '/')
			continue;
		h = fnv_step(h, path + done, i - done);
		done = i;
		wp = *wpath_slot(w, fnv_final(h), path, i);
		if (wp)
			wpath_fire(s, wp, path, len, perms, nperms);
	}
}

/* @introduceDomain, @releaseDomain, @releaseDomain/<domid>: exact watchers,
 * privileged or allowed to read the special node's perms. */
void watch_fire_special(struct xs_store *s, const char *path)
{
	size_t len = strlen(path);
	int k = path[1] == 'i' ? 0 : 1;
	struct xs_wpath *wp;

	if (s->watches.count == 0)
		return;
	wp = *wpath_slot(&s->watches, fnv_final(fnv_step(FNV_OFFSET, path, len)), path, len);
	if (wp)
		wpath_fire(s, wp, path, len, s->special_perms[k], s->special_nperms[k]);
}
