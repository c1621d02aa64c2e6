/*
 * The tree, with multi-version concurrency control for transactions.
 *
 * Every node version is one slab object (see struct xs_node). The node hash
 * maps a path to its *current* version; a removed node whose old versions
 * are still needed stays in the hash as a tombstone (XS_NODE_DELETED). Child
 * lists are name lists in the parent, so nothing but the hash points at a
 * current node and replacing one is O(1).
 *
 * Generations. s->gen counts modifications; each new version is stamped with
 * ++s->gen. A transaction starting at generation S sees, for each path, the
 * newest version with gen <= S. A version V replaced at generation U ("until")
 * is therefore still needed while some open transaction has V.gen <= start < U.
 *
 * Superseded versions live in a side table, because most nodes never have
 * one: a node pays one flag bit (XS_NODE_HASOLD), not a pointer, for MVCC.
 *
 *   nodes["/a"] -> [gen 9 "x", HASOLD]
 *   versions[node@"/a"] -> chain: [gen 5 "w", until 9] -> [gen 2 "v", until 5]
 *                                   ^ read by a txn with start 5..8
 *
 * The chain is keyed by the current node's address and re-keyed when that
 * node is replaced. Superseding V keeps it only when the newest open
 * transaction started at or after V.gen (older transactions read something
 * older still). Kept versions join a FIFO in the order they were superseded,
 * so their "until" generations ascend; when the oldest open transaction ends,
 * store_gc() pops every version with until <= the new oldest start. Pops
 * always take the tail of a chain, because within a chain older versions
 * were superseded (and queued) first. An emptied chain leaves the side table,
 * and a tombstone with no versions behind it leaves the node hash.
 *
 * Costs: a transaction start is O(1); a modification is O(1) plus O(size) to
 * keep the old copy when a transaction needs it; nothing walks the tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_core.h"

#define NODE_INIT_SLOTS 1024
#define VTAB_INIT_BUCKETS 64

/* A superseded version and its place in its chain, newest first. */
struct xs_oldver {
	struct xs_oldver *older;
	struct xs_oldver **pprev; /* the field pointing here */
	struct xs_vchain *chain;
	uint64_t until; /* generation of the version that replaced it */
	struct xs_node *node;
};

struct xs_vchain {
	struct xs_vchain *hnext; /* versions table bucket */
	struct xs_node *cur;	 /* the current version (or tombstone) */
	struct xs_oldver *newest;
};

/* ---- node objects ---- */

static size_t node_bytes(size_t plen, size_t vlen, unsigned int nperms)
{
	return sizeof(struct xs_node) + nperms * sizeof(uint32_t) + plen + 1 + vlen;
}

struct xs_node *node_alloc(struct xs_store *s, const char *path, size_t plen, const void *value,
			   size_t vlen, const uint32_t *perms, unsigned int nperms)
{
	struct xs_node *n = slab_alloc(&s->slab, node_bytes(plen, vlen, nperms));
	char *p;

	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->path_len = (uint16_t)plen;
	n->value_len = (uint16_t)vlen;
	n->nperms = (uint16_t)nperms;
	if (nperms)
		memcpy(n->perms, perms, nperms * sizeof(uint32_t));
	p = (char *)(n->perms + nperms);
	memcpy(p, path, plen);
	p[plen] = '\0';
	if (vlen)
		memcpy(p + plen + 1, value, vlen);
	return n;
}

void node_free(struct xs_store *s, struct xs_node *n)
{
	if (!n)
		return;
	free(n->children);
	slab_free(&s->slab, n, node_bytes(n->path_len, n->value_len, n->nperms));
}

/* Bytes a node counts against the node-size quota, as C xenstored's
 * calc_node_acc_size(): a 16-byte record header, 8 bytes per permission
 * (struct xs_permissions), the value and the child names. */
size_t node_size(const struct xs_node *n)
{
	return XS_ACC_NODE_HDR + n->nperms * XS_ACC_PERM + n->value_len +
	       (n->children ? n->children->len : 0);
}

/* Bytes a node counts against its owner's memory quota: C's db_write()
 * adds the path to the record. */
size_t node_acc_size(const struct xs_node *n)
{
	return node_size(n) + n->path_len;
}

struct xs_children *children_dup(const struct xs_children *ch)
{
	struct xs_children *d;

	if (!ch)
		return NULL;
	d = malloc(sizeof(*d) + ch->len);
	if (!d)
		return NULL;
	d->len = ch->len;
	d->cap = ch->len;
	memcpy(d->names, ch->names, ch->len);
	return d;
}

int children_add(struct xs_children **chp, const char *name, size_t len)
{
	struct xs_children *ch = *chp;
	size_t need = (ch ? ch->len : 0) + len + 1;

	if (!ch || need > ch->cap) {
		/* A duplicated list may have cap == len == 0: never grow from 0. */
		size_t cap = ch && ch->cap >= 8 ? ch->cap * 2 : 16;
		struct xs_children *nc;

		while (cap < need)
			cap *= 2;
		nc = realloc(ch, sizeof(*nc) + cap);
		if (!nc)
			return -ENOMEM;
		if (!ch)
			nc->len = 0;
		nc->cap = (uint32_t)cap;
		*chp = ch = nc;
	}
	memcpy(ch->names + ch->len, name, len);
	ch->names[ch->len + len] = '\0';
	ch->len += (uint32_t)len + 1;
	return 0;
}

/* Add or drop path's own name in its parent's child list *chp (the store's
 * and a transaction's parent edits both come here). */
int children_edit(struct xs_children **chp, const char *path, size_t len, bool add)
{
	const char *base = path_basename(path, len);

	if (add)
		return children_add(chp, base, (size_t)(path + len - base));
	children_del(*chp, base, (size_t)(path + len - base));
	return 0;
}

void children_del(struct xs_children *ch, const char *name, size_t len)
{
	size_t off = 0;

	while (ch && off < ch->len) {
		size_t l = strlen(ch->names + off);

		if (l == len && memcmp(ch->names + off, name, len) == 0) {
			memmove(ch->names + off, ch->names + off + l + 1, ch->len - off - l - 1);
			ch->len -= (uint32_t)l + 1;
			return;
		}
		off += l + 1;
	}
}

/* ---- the path hash ---- */

#define HT_PTR_MASK ((UINT64_C(1) << 48) - 1)

/* FNV-1a, then a multiply-xorshift so the low bits (the slot) and the top
 * 16 (the tag) both depend on every byte. */
static uint64_t path_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static struct xs_node *ht_node(uint64_t e)
{
	return (struct xs_node *)(uintptr_t)(e & HT_PTR_MASK);
}

static uint64_t ht_hash_of(const struct xs_node *n)
{
	return path_hash(node_path(n), n->path_len);
}

/* The slot holding path, or the empty slot where it would go. The table is
 * never full, so the probe ends. */
static size_t htab_find(const struct xs_htab *h, const char *path, size_t len)
{
	uint64_t hash = path_hash(path, len), tag = hash & ~HT_PTR_MASK;
	size_t i = (size_t)hash & h->mask;

	for (;; i = (i + 1) & h->mask) {
		uint64_t e = h->b[i];
		const struct xs_node *n = ht_node(e);

		if (!e)
			return i;
		if ((e & ~HT_PTR_MASK) == tag && n->path_len == len &&
		    memcmp(node_path(n), path, len) == 0)
			return i;
	}
}

static struct xs_node *htab_at(const struct xs_htab *h, size_t i)
{
	return ht_node(h->b[i]);
}

/* Replace the node in an occupied slot by another version of the same path. */
static void htab_set(struct xs_htab *h, size_t i, struct xs_node *n)
{
	h->b[i] = (h->b[i] & ~HT_PTR_MASK) | (uintptr_t)n;
}

static void htab_place(uint64_t *b, size_t mask, struct xs_node *n, uint64_t hash)
{
	size_t i = (size_t)hash & mask;

	while (b[i])
		i = (i + 1) & mask;
	b[i] = (hash & ~HT_PTR_MASK) | (uintptr_t)n;
}

static int htab_resize(struct xs_htab *h, size_t slots)
{
	uint64_t *nb = calloc(slots, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; h->b && i <= h->mask; i++)
		if (h->b[i])
			htab_place(nb, slots - 1, ht_node(h->b[i]), ht_hash_of(ht_node(h->b[i])));
	free(h->b);
	h->b = nb;
	h->mask = slots - 1;
	return 0;
}

/* Add a node whose path is not in the table. Load stays at most 4/5; if
 * growing fails we go on filling, and fail only with one slot left. */
static int htab_insert(struct xs_htab *h, struct xs_node *n)
{
	size_t slots = h->mask + 1;

	if ((uintptr_t)n & ~(uintptr_t)HT_PTR_MASK)
		return -ENOMEM; /* not a user-space heap address: cannot pack it */
	if ((h->count + 1) * 5 > slots * 4 && htab_resize(h, slots * 2) < 0 && h->count + 2 > slots)
		return -ENOMEM;
	htab_place(h->b, h->mask, n, ht_hash_of(n));
	h->count++;
	return 0;
}

/* Empty slot i, shifting later entries of its probe run back (no tombstones). */
static void htab_remove(struct xs_htab *h, size_t i)
{
	size_t hole = i, j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & h->mask;
		if (!h->b[j])
			break;
		home = (size_t)ht_hash_of(ht_node(h->b[j])) & h->mask;
		/* Movable unless home lies cyclically in (hole, j]. */
		if (hole <= j ? (home <= hole || home > j) : (home <= hole && home > j)) {
			h->b[hole] = h->b[j];
			hole = j;
		}
	}
	h->b[hole] = 0;
	h->count--;
}

struct xs_node *store_lookup(const struct xs_store *s, const char *path, size_t len)
{
	return htab_at(&s->nodes, htab_find(&s->nodes, path, len));
}

struct xs_node *store_get(const struct xs_store *s, const char *path, size_t len)
{
	struct xs_node *n = store_lookup(s, path, len);

	return n && !(n->flags & XS_NODE_DELETED) ? n : NULL;
}

/* ---- the versions side table ---- */

static size_t vt_hash(const struct xs_node *cur)
{
	uint64_t h = (uint64_t)(uintptr_t)cur * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32);
}

static struct xs_vchain **vt_slot(const struct xs_vtab *v, const struct xs_node *cur)
{
	struct xs_vchain **pp = &v->b[vt_hash(cur) & v->mask];

	while (*pp && (*pp)->cur != cur)
		pp = &(*pp)->hnext;
	return pp;
}

static struct xs_vchain *vt_find(const struct xs_store *s, const struct xs_node *cur)
{
	return *vt_slot(&s->versions, cur);
}

static void vt_link(struct xs_vtab *v, struct xs_vchain *ch)
{
	struct xs_vchain **b = &v->b[vt_hash(ch->cur) & v->mask];

	ch->hnext = *b;
	*b = ch;
}

static void vt_grow(struct xs_vtab *v)
{
	struct xs_vtab nv = { calloc((v->mask + 1) * 2, sizeof(*nv.b)), v->mask * 2 + 1, v->count };

	if (!nv.b)
		return; /* longer buckets, still correct */
	for (size_t i = 0; i <= v->mask; i++) {
		while (v->b[i]) {
			struct xs_vchain *ch = v->b[i];

			v->b[i] = ch->hnext;
			vt_link(&nv, ch);
		}
	}
	free(v->b);
	*v = nv;
}

static struct xs_vchain *vt_add(struct xs_store *s, struct xs_node *cur)
{
	struct xs_vchain *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->cur = cur;
	vt_link(&s->versions, ch);
	if (++s->versions.count > s->versions.mask + 1)
		vt_grow(&s->versions);
	return ch;
}

static void vt_unlink(struct xs_store *s, struct xs_vchain *ch)
{
	struct xs_vchain **pp = vt_slot(&s->versions, ch->cur);

	*pp = ch->hnext;
}

/* The current node behind ch is now nn. */
static void vt_rekey(struct xs_store *s, struct xs_vchain *ch, struct xs_node *nn)
{
	vt_unlink(s, ch);
	ch->cur = nn;
	vt_link(&s->versions, ch);
	nn->flags |= XS_NODE_HASOLD;
}

struct xs_node *store_get_at(const struct xs_store *s, const char *path, size_t len, uint64_t gen)
{
	struct xs_node *n = store_lookup(s, path, len);

	if (n && n->gen > gen) {
		const struct xs_oldver *ov = NULL;

		if (n->flags & XS_NODE_HASOLD)
			ov = vt_find(s, n)->newest;
		while (ov && ov->node->gen > gen)
			ov = ov->older;
		n = ov ? ov->node : NULL;
	}
	return n && !(n->flags & XS_NODE_DELETED) ? n : NULL;
}

/* ---- versions ---- */

/* Might an open transaction read the version stamped gen? */
static bool version_needed(const struct xs_store *s, uint64_t gen)
{
	return s->txn_newest && s->txn_newest->start >= gen;
}

static int gc_reserve(struct xs_store *s)
{
	if (s->gc_head > 0 && s->gc_head == s->gc_tail)
		s->gc_head = s->gc_tail = 0;
	if (s->gc_tail < s->gc_cap)
		return 0;
	if (s->gc_head > s->gc_cap / 2) {
		memmove(s->gcq, s->gcq + s->gc_head, (s->gc_tail - s->gc_head) * sizeof(*s->gcq));
		s->gc_tail -= s->gc_head;
		s->gc_head = 0;
		return 0;
	}
	size_t cap = s->gc_cap ? s->gc_cap * 2 : 256;
	struct xs_oldver **q = realloc(s->gcq, cap * sizeof(*q));

	if (!q)
		return -ENOMEM;
	s->gcq = q;
	s->gc_cap = cap;
	return 0;
}

/* Everything keeping a version of cur needs, allocated up front so that
 * version_push() cannot fail: a GC queue slot, the record, cur's chain. */
static struct xs_oldver *version_prepare(struct xs_store *s, struct xs_node *cur,
					 struct xs_vchain **ret_chain)
{
	struct xs_oldver *ov;

	if (gc_reserve(s) < 0 || !(ov = calloc(1, sizeof(*ov))))
		return NULL;
	*ret_chain = cur->flags & XS_NODE_HASOLD ? vt_find(s, cur) : vt_add(s, cur);
	if (!*ret_chain) {
		free(ov);
		return NULL;
	}
	cur->flags |= XS_NODE_HASOLD;
	return ov;
}

/* Make old the newest superseded version in ch, replaced at generation until. */
static void version_push(struct xs_store *s, struct xs_vchain *ch, struct xs_oldver *ov,
			 struct xs_node *old, uint64_t until)
{
	old->flags &= (uint8_t)~XS_NODE_HASOLD;
	ov->node = old;
	ov->until = until;
	ov->chain = ch;
	ov->older = ch->newest;
	if (ov->older)
		ov->older->pprev = &ov->older;
	ov->pprev = &ch->newest;
	ch->newest = ov;
	s->gcq[s->gc_tail++] = ov;
}

/*
 * Put nn in cur's hash slot i. cur becomes an old version if a transaction
 * may read it, else it is freed. Child names move to nn (copied if cur is
 * kept) unless nn is a tombstone.
 */
static int node_supersede(struct xs_store *s, size_t i, struct xs_node *cur, struct xs_node *nn)
{
	bool keep = version_needed(s, cur->gen);
	bool tomb = nn->flags & XS_NODE_DELETED;
	struct xs_vchain *ch = NULL;
	struct xs_oldver *ov = NULL;

	if (keep && !tomb && cur->children && !(nn->children = children_dup(cur->children)))
		return -ENOMEM;
	if (keep && !(ov = version_prepare(s, cur, &ch))) {
		free(nn->children);
		nn->children = NULL;
		return -ENOMEM;
	}
	if (!keep && !tomb) {
		nn->children = cur->children;
		cur->children = NULL;
	}
	if (!ch && (cur->flags & XS_NODE_HASOLD))
		ch = vt_find(s, cur);
	htab_set(&s->nodes, i, nn);
	if (ch)
		vt_rekey(s, ch, nn);
	if (keep)
		version_push(s, ch, ov, cur, nn->gen);
	else
		node_free(s, cur);
	return 0;
}

/* cur's child list is about to change in place and cur->gen to become
 * s->gen + 1: keep a copy for readers. */
static int node_save_version(struct xs_store *s, struct xs_node *cur)
{
	struct xs_vchain *ch;
	struct xs_oldver *ov;
	struct xs_node *old;

	if (!version_needed(s, cur->gen))
		return 0;
	old = node_alloc(s, node_path(cur), cur->path_len, node_value(cur), cur->value_len,
			 cur->perms, cur->nperms);
	if (!old)
		return -ENOMEM;
	old->gen = cur->gen;
	if (cur->children && !(old->children = children_dup(cur->children))) {
		node_free(s, old);
		return -ENOMEM;
	}
	ov = version_prepare(s, cur, &ch);
	if (!ov) {
		node_free(s, old);
		return -ENOMEM;
	}
	version_push(s, ch, ov, old, s->gen + 1);
	return 0;
}

/* The last old version behind cur is gone: forget the chain, and drop cur
 * too if it is a tombstone nobody can look behind any more. */
static void version_chain_done(struct xs_store *s, struct xs_vchain *ch)
{
	struct xs_node *cur = ch->cur;

	vt_unlink(s, ch);
	s->versions.count--;
	free(ch);
	cur->flags &= (uint8_t)~XS_NODE_HASOLD;
	if (cur->flags & XS_NODE_DELETED) {
		htab_remove(&s->nodes, htab_find(&s->nodes, node_path(cur), cur->path_len));
		node_free(s, cur);
	}
}

void store_gc(struct xs_store *s)
{
	uint64_t min = s->txn_oldest ? s->txn_oldest->start : UINT64_MAX;

	while (s->gc_head < s->gc_tail) {
		struct xs_oldver *ov = s->gcq[s->gc_head];
		struct xs_vchain *ch = ov->chain;

		if (ov->until > min)
			break;
		s->gc_head++;
		*ov->pprev = ov->older;
		if (ov->older)
			ov->older->pprev = ov->pprev;
		node_free(s, ov->node);
		free(ov);
		if (!ch->newest)
			version_chain_done(s, ch);
	}
	if (s->gc_head == s->gc_tail)
		s->gc_head = s->gc_tail = 0;
}

/* ---- modifications ---- */

/* Add or drop path's name in its parent's child list, keeping the parent's
 * old version for snapshots. A missing parent is an error only when adding:
 * removing below a parent already gone has nothing left to edit. */
static int parent_edit_child(struct xs_store *s, const char *path, size_t len, bool add)
{
	struct xs_node *parent = store_get(s, path, path_parent_len(path, len));
	int rc;

	if (!parent)
		return add ? -ENOENT : 0;
	rc = node_save_version(s, parent);
	if (rc < 0)
		return rc;
	domain_node_charge(s, parent, -1);
	rc = children_edit(&parent->children, path, len, add);
	domain_node_charge(s, parent, 1);
	if (rc == 0)
		parent->gen = ++s->gen;
	return rc;
}

/* Perms for a node created under parent: the parent's, except that a node an
 * unprivileged domain creates is owned by it (C xenstored), without a second
 * entry for the same domain. Returns the count written to out (room for
 * parent->nperms entries). */
static unsigned int perms_inherit(const struct xs_node *parent, unsigned int creator, uint32_t *out)
{
	unsigned int n = 1;

	if (creator == UINT32_MAX) {
		memcpy(out, parent->perms, parent->nperms * sizeof(uint32_t));
		return parent->nperms;
	}
	out[0] = XS_PERM_MAKE(XS_PERM_MODE(parent->perms[0]), creator);
	for (unsigned int i = 1; i < parent->nperms; i++)
		if (XS_PERM_DOMID(parent->perms[i]) != creator)
			out[n++] = parent->perms[i];
	return n;
}

struct xs_node *node_alloc_inherit(struct xs_store *s, const struct xs_node *parent,
				   unsigned int creator, const char *path, size_t len,
				   const void *value, size_t vlen)
{
	uint32_t small[16], *perms = small;
	struct xs_node *n;
	unsigned int np;

	if (parent->nperms > 16) {
		perms = malloc(parent->nperms * sizeof(uint32_t));
		if (!perms)
			return NULL;
	}
	np = perms_inherit(parent, creator, perms);
	n = node_alloc(s, path, len, value, vlen, perms, np);
	if (perms != small)
		free(perms);
	return n;
}

/* Create one node whose parent exists. */
static int store_create_one(struct xs_store *s, const char *path, size_t len, const void *value,
			    size_t vlen, const uint32_t *perms, unsigned int nperms,
			    unsigned int creator)
{
	struct xs_node *parent = store_get(s, path, path_parent_len(path, len));
	struct xs_node *n, *tomb;
	size_t i;
	int rc;

	if (!parent)
		return -ENOENT;
	if (perms)
		n = node_alloc(s, path, len, value, vlen, perms, nperms);
	else
		n = node_alloc_inherit(s, parent, creator, path, len, value, vlen);
	if (!n)
		return -ENOMEM;
	rc = parent_edit_child(s, path, len, true);
	if (rc < 0) {
		node_free(s, n);
		return rc;
	}
	n->gen = ++s->gen;
	i = htab_find(&s->nodes, path, len);
	tomb = htab_at(&s->nodes, i);
	if (tomb)
		rc = node_supersede(s, i, tomb, n);
	else
		rc = htab_insert(&s->nodes, n);
	if (rc < 0) {
		node_free(s, n);
		(void)parent_edit_child(s, path, len, false);
		return rc;
	}
	domain_node_charge(s, n, 1);
	return 0;
}

/* Create path, first creating missing ancestors (empty values, inherited
 * perms), top down (path_child_len). */
static int store_create(struct xs_store *s, const char *path, size_t len, const void *value,
			size_t vlen, const uint32_t *perms, unsigned int nperms,
			unsigned int creator)
{
	size_t plen = path_parent_len(path, len);
	size_t have = plen;
	int rc;

	while (have > 1 && !store_get(s, path, have))
		have = path_parent_len(path, have);
	while (have < plen) {
		have = path_child_len(path, have, plen);
		rc = store_create_one(s, path, have, NULL, 0, NULL, 0, creator);
		if (rc < 0)
			return rc;
	}
	return store_create_one(s, path, len, value, vlen, perms, nperms, creator);
}

/* New value and/or perms for a live node (value NULL: keep the value). */
static int store_update(struct xs_store *s, size_t i, const void *value, size_t vlen,
			const uint32_t *perms, unsigned int nperms)
{
	struct xs_node *cur = htab_at(&s->nodes, i), *nn;
	int rc;

	if (!value) {
		value = node_value(cur);
		vlen = cur->value_len;
	}
	if (!perms) {
		perms = cur->perms;
		nperms = cur->nperms;
	}
	domain_node_charge(s, cur, -1);
	if (!version_needed(s, cur->gen) && vlen == cur->value_len && nperms == cur->nperms) {
		memmove((char *)node_value(cur), value, vlen);
		memmove(cur->perms, perms, nperms * sizeof(uint32_t));
		cur->gen = ++s->gen;
	} else {
		nn = node_alloc(s, node_path(cur), cur->path_len, value, vlen, perms, nperms);
		if (nn)
			nn->gen = ++s->gen;
		rc = nn ? node_supersede(s, i, cur, nn) : -ENOMEM;
		if (rc < 0) {
			node_free(s, nn);
			domain_node_charge(s, cur, 1);
			return rc;
		}
	}
	domain_node_charge(s, htab_at(&s->nodes, i), 1);
	return 0;
}

/*
 * Write a value, creating the node and missing ancestors. perms NULL keeps
 * the node's perms, or inherits them for new nodes; creator is the creating
 * unprivileged domain, or UINT32_MAX. Fires the node's watches.
 */
int store_write(struct xs_store *s, const char *path, size_t len, const void *value, size_t vlen,
		const uint32_t *perms, unsigned int nperms, unsigned int creator)
{
	size_t i = htab_find(&s->nodes, path, len);
	struct xs_node *cur = htab_at(&s->nodes, i);
	int rc;

	if (cur && !(cur->flags & XS_NODE_DELETED))
		rc = store_update(s, i, value ? value : "", vlen, perms, nperms);
	else
		rc = store_create(s, path, len, value, vlen, perms, nperms, creator);
	if (rc == 0) {
		struct xs_node *n = store_get(s, path, len);

		watch_fire(s, path, len, n->perms, n->nperms, false);
	}
	return rc;
}

int store_set_perms(struct xs_store *s, const char *path, size_t len, const uint32_t *perms,
		    unsigned int nperms)
{
	size_t i = htab_find(&s->nodes, path, len);
	struct xs_node *cur = htab_at(&s->nodes, i);
	int rc;

	if (!cur || (cur->flags & XS_NODE_DELETED))
		return -ENOENT;
	rc = store_update(s, i, NULL, 0, perms, nperms);
	cur = htab_at(&s->nodes, i);
	if (rc == 0)
		watch_fire(s, path, len, cur->perms, cur->nperms, false);
	return rc;
}

/* Drop a live node from the current tree (its parent's list is the caller's). */
static int node_kill(struct xs_store *s, size_t i)
{
	struct xs_node *cur = htab_at(&s->nodes, i), *tomb;
	int rc;

	domain_node_charge(s, cur, -1);
	if (!version_needed(s, cur->gen) && !(cur->flags & XS_NODE_HASOLD)) {
		htab_remove(&s->nodes, i);
		node_free(s, cur);
		return 0;
	}
	tomb = node_alloc(s, node_path(cur), cur->path_len, NULL, 0, NULL, 0);
	if (!tomb)
		return -ENOMEM;
	tomb->flags = XS_NODE_DELETED;
	tomb->gen = ++s->gen;
	rc = node_supersede(s, i, cur, tomb);
	if (rc < 0)
		node_free(s, tomb);
	return rc;
}

/*
 * Remove the node at path (a XS_PATH_BUF buffer, extended in place for the
 * children) and its descendants, deepest first, firing each one's watches:
 * the descendants' exactly, the top's recursively (C xenstored's order). The
 * node's own child list is left alone while we walk it; only the top's
 * parent is edited, by the caller.
 */
static int rm_subtree(struct xs_store *s, char *path, size_t len, bool exact)
{
	struct xs_node *n = store_get(s, path, len);
	size_t off = 0, sep = len == 1 ? 0 : 1;
	int rc;

	if (!n)
		return 0;
	while (n->children && off < n->children->len) {
		const char *name = n->children->names + off;
		size_t nl = strlen(name);

		off += nl + 1;
		if (len + sep + nl > XENSTORE_ABS_PATH_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + sep, name, nl + 1);
		rc = rm_subtree(s, path, len + sep + nl, true);
		path[len] = '\0';
		if (rc < 0)
			return rc;
	}
	watch_fire(s, path, len, n->perms, n->nperms, exact);
	return node_kill(s, htab_find(&s->nodes, path, len));
}

int store_rm(struct xs_store *s, const char *path, size_t len)
{
	char buf[XS_PATH_BUF];
	int rc;

	if (len == 1)
		return -EINVAL;
	if (!store_get(s, path, len))
		return -ENOENT;
	memcpy(buf, path, len);
	buf[len] = '\0';
	rc = rm_subtree(s, buf, len, false);
	if (rc < 0)
		return rc;
	return parent_edit_child(s, path, len, false);
}

/* ---- lifecycle ---- */

int store_init(struct xs_store *s)
{
	static const char *const initial[] = { "/tool", "/tool/xenstored" };
	uint32_t n0 = XS_PERM_MAKE(0, 0);
	struct xs_node *root;

	if (htab_resize(&s->nodes, NODE_INIT_SLOTS) < 0)
		return -ENOMEM;
	s->versions.b = calloc(VTAB_INIT_BUCKETS, sizeof(*s->versions.b));
	if (!s->versions.b)
		return -ENOMEM;
	s->versions.mask = VTAB_INIT_BUCKETS - 1;
	root = node_alloc(s, "/", 1, NULL, 0, &n0, 1);
	if (!root)
		return -ENOMEM;
	root->gen = ++s->gen;
	if (htab_insert(&s->nodes, root) < 0) {
		node_free(s, root);
		return -ENOMEM;
	}
	domain_node_charge(s, root, 1);
	for (size_t i = 0; i < sizeof(initial) / sizeof(initial[0]); i++) {
		int rc = store_create(s, initial[i], strlen(initial[i]), NULL, 0, NULL, 0,
				      UINT32_MAX);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void store_fini(struct xs_store *s)
{
	size_t leaked;

	for (size_t i = 0; s->versions.b && i <= s->versions.mask; i++) {
		while (s->versions.b[i]) {
			struct xs_vchain *ch = s->versions.b[i];

			s->versions.b[i] = ch->hnext;
			while (ch->newest) {
				struct xs_oldver *ov = ch->newest;

				ch->newest = ov->older;
				node_free(s, ov->node);
				free(ov);
			}
			free(ch);
		}
	}
	for (size_t i = 0; s->nodes.b && i <= s->nodes.mask; i++)
		if (s->nodes.b[i])
			node_free(s, htab_at(&s->nodes, i));
	free(s->nodes.b);
	free(s->versions.b);
	free(s->gcq);
	s->nodes.b = NULL;
	s->versions.b = NULL;
	s->gcq = NULL;
	leaked = slab_fini(&s->slab);
	if (leaked)
		xs_log(s, 0, "store: %zu node objects leaked", leaked);
}

/* Does n's parent list it? */
static bool node_listed(const struct xs_store *s, const struct xs_node *n)
{
	const char *p = node_path(n);
	const char *base = path_basename(p, n->path_len);
	const struct xs_node *parent = store_get(s, p, path_parent_len(p, n->path_len));
	size_t off = 0, bl = (size_t)(p + n->path_len - base);

	while (parent && parent->children && off < parent->children->len) {
		const char *c = parent->children->names + off;
		size_t cl = strlen(c);

		if (cl == bl && memcmp(c, base, bl) == 0)
			return true;
		off += cl + 1;
	}
	return false;
}

/* CONTROL check: every live node is listed by its parent. O(nodes): an
 * administrator's command, never a client's. */
int store_check(const struct xs_store *s, char *msg, size_t size)
{
	for (size_t i = 0; i <= s->nodes.mask; i++) {
		const struct xs_node *n = htab_at(&s->nodes, i);

		if (!n || (n->flags & XS_NODE_DELETED) || n->path_len == 1)
			continue;
		if (!node_listed(s, n)) {
			snprintf(msg, size, "node %s not listed by its parent", node_path(n));
			return -EIO;
		}
	}
	return 0;
}
