/*
 * Transactions: snapshot reads, buffered writes, per-node conflict checks.
 *
 * A transaction starting at generation S reads the store as it was at S
 * (store_get_at; the store keeps the versions it needs, see store.c) and
 * keeps everything it touches in its own small hash of "tnodes":
 *
 *   tnode "/a"   flags READ          priv NULL  -> reads go to the snapshot
 *   tnode "/p"   flags CHILDREN      priv copy  -> child list edited in txn
 *   tnode "/p/c" flags WRITTEN       priv node  -> the txn's value and perms
 *   tnode "/q"   flags DELETED       absent     -> gone in the txn's view
 *
 * Commit checks each tnode against the current store: a node read, listed,
 * written or deleted by the transaction conflicts (EAGAIN) if its current
 * version is newer than S, as C xenstored does. A node whose child list
 * changed only because the transaction created or removed children below it
 * conflicts only if it was removed meanwhile: two transactions creating
 * different children of one directory both commit. If nothing conflicts the
 * deletions and then the writes are replayed on the store, which fires the
 * watches; an abort just frees the tnodes. Start is O(1), commit is
 * O(nodes touched).
 */
#include <stdlib.h>
#include <string.h>

#include "xs_core.h"

#define TX_READ 0x01u
#define TX_LIST 0x02u
#define TX_WRITTEN 0x04u
#define TX_CHILDREN 0x08u
#define TX_DELETED 0x10u
#define TX_DONE 0x20u
#define TX_CONFLICTS (TX_READ | TX_LIST | TX_WRITTEN | TX_DELETED)

struct xs_tnode {
	struct xs_tnode *hnext; /* transaction's hash */
	struct xs_tnode *next;	/* touch order */
	struct xs_node *priv;	/* the transaction's own version, or NULL */
	uint16_t flags;
	bool absent;	  /* deleted in the transaction's view */
	uint32_t charged; /* bytes of priv charged to the connection */
	uint16_t path_len;
	char path[];
};

static size_t tx_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29));
}

static struct xs_tnode *tnode_find(const struct xs_txn *t, const char *path, size_t len)
{
	struct xs_tnode *tn;

	if (!t->b)
		return NULL;
	tn = t->b[tx_hash(path, len) & t->mask];
	while (tn && (tn->path_len != len || memcmp(tn->path, path, len) != 0))
		tn = tn->hnext;
	return tn;
}

static int tx_grow(struct xs_txn *t)
{
	size_t nmask = t->b ? t->mask * 2 + 1 : 31;
	struct xs_tnode **nb = calloc(nmask + 1, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (struct xs_tnode *tn = t->first; tn; tn = tn->next) {
		size_t i = tx_hash(tn->path, tn->path_len) & nmask;

		tn->hnext = nb[i];
		nb[i] = tn;
	}
	free(t->b);
	t->b = nb;
	t->mask = nmask;
	return 0;
}

/* The tnode for path, created on first touch (counted against the quota). */
static struct xs_tnode *tnode_touch(struct xs_txn *t, const char *path, size_t len, int *ret_err)
{
	struct xs_tnode *tn = tnode_find(t, path, len);
	size_t i;

	if (tn)
		return tn;
	*ret_err = quota_check(t->conn, XS_Q_TXN_NODES, (unsigned int)t->count + 1);
	if (*ret_err < 0)
		return NULL;
	if ((!t->b || t->count >= t->mask + 1) && tx_grow(t) < 0 && !t->b) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	tn = calloc(1, sizeof(*tn) + len + 1);
	if (!tn) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	tn->path_len = (uint16_t)len;
	memcpy(tn->path, path, len);
	i = tx_hash(path, len) & t->mask;
	tn->hnext = t->b[i];
	t->b[i] = tn;
	if (t->last)
		t->last->next = tn;
	else
		t->first = tn;
	t->last = tn;
	t->count++;
	return tn;
}

/* The node as the transaction sees it, without recording the access. */
static struct xs_node *tx_view(const struct xs_txn *t, const char *path, size_t len)
{
	const struct xs_tnode *tn = tnode_find(t, path, len);

	if (tn && tn->priv)
		return tn->priv;
	if (tn && tn->absent)
		return NULL;
	return store_get_at(t->conn->s, path, len, t->start);
}

struct xs_node *txn_get(struct xs_txn *t, const char *path, size_t len, unsigned int acc,
			int *ret_err)
{
	struct xs_tnode *tn = tnode_touch(t, path, len, ret_err);

	if (!tn)
		return NULL;
	tn->flags |= (acc & XS_ACC_READ ? TX_READ : 0) | (acc & XS_ACC_LIST ? TX_LIST : 0);
	*ret_err = 0;
	return tx_view(t, path, len);
}

/* Make n (or nothing) tn's private version, charging the connection for it
 * as C xenstored charges a transaction's copies to their writer. */
static void tnode_put_priv(struct xs_txn *t, struct xs_tnode *tn, struct xs_node *n)
{
	uint32_t bytes = n ? (uint32_t)node_acc_size(n) : 0;

	node_free(t->conn->s, tn->priv);
	tn->priv = n;
	t->mem += (long)bytes - (long)tn->charged;
	conn_mem_adjust(t->conn, (long)bytes - (long)tn->charged);
	tn->charged = bytes;
}

/* Replace tn's private version by one with this value and perms, keeping the
 * child names of whatever the transaction saw before. */
static int tnode_set(struct xs_txn *t, struct xs_tnode *tn, const void *value, size_t vlen,
		     const uint32_t *perms, unsigned int nperms)
{
	struct xs_node *base = tx_view(t, tn->path, tn->path_len);
	struct xs_node *n =
		node_alloc(t->conn->s, tn->path, tn->path_len, value, vlen, perms, nperms);

	if (!n)
		return -ENOMEM;
	if (base && base->children) {
		if (base == tn->priv) {
			n->children = base->children;
			base->children = NULL;
		} else if (!(n->children = children_dup(base->children))) {
			node_free(t->conn->s, n);
			return -ENOMEM;
		}
	}
	tnode_put_priv(t, tn, n);
	tn->absent = false;
	return 0;
}

/* Edit the child list of path's parent in the transaction's view. */
static int tx_parent_edit(struct xs_txn *t, const char *path, size_t len, bool add)
{
	size_t plen = path_parent_len(path, len);
	struct xs_tnode *tp;
	struct xs_node *pn;
	int rc = 0;

	tp = tnode_touch(t, path, plen, &rc);
	if (!tp)
		return rc;
	pn = tx_view(t, path, plen);
	if (!pn)
		return -ENOENT;
	if (pn != tp->priv) {
		rc = tnode_set(t, tp, node_value(pn), pn->value_len, pn->perms, pn->nperms);
		if (rc < 0)
			return rc;
	}
	tp->flags |= TX_CHILDREN;
	return children_edit(&tp->priv->children, path, len, add);
}

static int tx_create_one(struct xs_txn *t, const char *path, size_t len, const void *value,
			 size_t vlen, const uint32_t *perms, unsigned int nperms,
			 unsigned int creator)
{
	struct xs_node *parent = tx_view(t, path, path_parent_len(path, len));
	struct xs_tnode *tn;
	struct xs_node *n;
	int rc = 0;

	if (!parent)
		return -ENOENT;
	tn = tnode_touch(t, path, len, &rc);
	if (!tn)
		return rc;
	if (perms)
		n = node_alloc(t->conn->s, path, len, value, vlen, perms, nperms);
	else
		n = node_alloc_inherit(t->conn->s, parent, creator, path, len, value, vlen);
	if (!n)
		return -ENOMEM;
	rc = tx_parent_edit(t, path, len, true);
	if (rc < 0) {
		node_free(t->conn->s, n);
		return rc;
	}
	tnode_put_priv(t, tn, n);
	tn->absent = false;
	tn->flags |= TX_WRITTEN;
	t->created++;
	return 0;
}

int txn_write(struct xs_txn *t, const char *path, size_t len, const void *value, size_t vlen,
	      const uint32_t *perms, unsigned int nperms, unsigned int creator)
{
	struct xs_node *cur = tx_view(t, path, len);
	size_t plen = path_parent_len(path, len), have = plen;
	struct xs_tnode *tn;
	int rc = 0;

	if (cur) {
		tn = tnode_touch(t, path, len, &rc);
		if (!tn)
			return rc;
		if (!perms) {
			perms = cur->perms;
			nperms = cur->nperms;
		}
		rc = tnode_set(t, tn, value, vlen, perms, nperms);
		tn->flags |= TX_WRITTEN;
		return rc;
	}
	while (have > 1 && !tx_view(t, path, have))
		have = path_parent_len(path, have);
	while (have < plen) {
		have = path_child_len(path, have, plen);
		rc = tx_create_one(t, path, have, NULL, 0, NULL, 0, creator);
		if (rc < 0)
			return rc;
	}
	return tx_create_one(t, path, len, value, vlen, perms, nperms, creator);
}

int txn_set_perms(struct xs_txn *t, const char *path, size_t len, const uint32_t *perms,
		  unsigned int nperms)
{
	struct xs_node *cur = tx_view(t, path, len);
	struct xs_tnode *tn;
	int rc = 0;

	if (!cur)
		return -ENOENT;
	tn = tnode_touch(t, path, len, &rc);
	if (!tn)
		return rc;
	tn->flags |= TX_WRITTEN;
	if (cur == tn->priv && cur->nperms == nperms) {
		memcpy(cur->perms, perms, nperms * sizeof(uint32_t));
		return 0;
	}
	return tnode_set(t, tn, node_value(cur), cur->value_len, perms, nperms);
}

/* Mark path and its descendants deleted in the view; path is a XS_PATH_BUF
 * buffer extended in place. */
static int tx_rm_subtree(struct xs_txn *t, char *path, size_t len)
{
	struct xs_node *n = tx_view(t, path, len);
	size_t off = 0, sep = len == 1 ? 0 : 1;
	struct xs_tnode *tn;
	int rc = 0;

	if (!n)
		return 0;
	tn = tnode_touch(t, path, len, &rc);
	if (!tn)
		return rc;
	tn->flags |= TX_LIST;
	while (n->children && off < n->children->len) {
		const char *name = n->children->names + off;
		size_t nl = strlen(name);

		off += nl + 1;
		if (len + sep + nl > XENSTORE_ABS_PATH_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + sep, name, nl + 1);
		rc = tx_rm_subtree(t, path, len + sep + nl);
		path[len] = '\0';
		if (rc < 0)
			return rc;
	}
	tnode_put_priv(t, tn, NULL);
	tn->absent = true;
	tn->flags |= TX_DELETED;
	return 0;
}

int txn_rm(struct xs_txn *t, const char *path, size_t len)
{
	char buf[XS_PATH_BUF];
	int rc;

	if (len == 1)
		return -EINVAL;
	if (!tx_view(t, path, len))
		return -ENOENT;
	memcpy(buf, path, len);
	buf[len] = '\0';
	rc = tx_rm_subtree(t, buf, len);
	if (rc < 0)
		return rc;
	return tx_parent_edit(t, path, len, false);
}

/* ---- start, commit, abort ---- */

struct xs_txn *txn_start(struct xs_conn *c)
{
	struct xs_store *s = c->s;
	struct xs_txn *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->conn = c;
	if (c->next_txid == 0)
		c->next_txid = 1;
	while (txn_find(c, c->next_txid) || c->next_txid == 0)
		c->next_txid++;
	t->id = c->next_txid++;
	t->start = s->gen;
	t->prev = s->txn_newest;
	if (s->txn_newest)
		s->txn_newest->next = t;
	else
		s->txn_oldest = t;
	s->txn_newest = t;
	t->cnext = c->txns;
	c->txns = t;
	c->ntxns++;
	return t;
}

struct xs_txn *txn_find(struct xs_conn *c, uint32_t id)
{
	for (struct xs_txn *t = c->txns; t; t = t->cnext)
		if (t->id == id)
			return t;
	return NULL;
}

static bool tx_conflicts(const struct xs_txn *t)
{
	const struct xs_store *s = t->conn->s;

	for (const struct xs_tnode *tn = t->first; tn; tn = tn->next) {
		const struct xs_node *cur = store_lookup(s, tn->path, tn->path_len);

		if (!cur || cur->gen <= t->start)
			continue;
		if (tn->flags & TX_CONFLICTS)
			return true;
		if ((tn->flags & TX_CHILDREN) && (cur->flags & XS_NODE_DELETED))
			return true;
	}
	return false;
}

/* Write tn (after any ancestor the transaction created) to the store. */
static int tx_apply_write(struct xs_txn *t, struct xs_tnode *tn)
{
	struct xs_store *s = t->conn->s;
	size_t plen = path_parent_len(tn->path, tn->path_len);
	struct xs_tnode *tp;
	int rc;

	if (tn->flags & TX_DONE)
		return 0;
	tn->flags |= TX_DONE;
	tp = tnode_find(t, tn->path, plen);
	if (tp && tp->priv && (tp->flags & TX_WRITTEN) && !store_get(s, tn->path, plen)) {
		rc = tx_apply_write(t, tp);
		if (rc < 0)
			return rc;
	}
	return store_write(s, tn->path, tn->path_len, node_value(tn->priv), tn->priv->value_len,
			   tn->priv->perms, tn->priv->nperms, UINT32_MAX);
}

static int tx_apply(struct xs_txn *t)
{
	struct xs_store *s = t->conn->s;
	int rc;

	for (struct xs_tnode *tn = t->first; tn; tn = tn->next) {
		if (!(tn->flags & TX_DELETED) || !store_get(s, tn->path, tn->path_len))
			continue;
		rc = store_rm(s, tn->path, tn->path_len);
		if (rc < 0)
			return rc;
	}
	for (struct xs_tnode *tn = t->first; tn; tn = tn->next) {
		if (!(tn->flags & TX_WRITTEN) || !tn->priv)
			continue;
		rc = tx_apply_write(t, tn);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void tx_unlink(struct xs_txn *t)
{
	struct xs_store *s = t->conn->s;
	struct xs_txn **pp = &t->conn->txns;

	if (t->prev)
		t->prev->next = t->next;
	else
		s->txn_oldest = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		s->txn_newest = t->prev;
	while (*pp != t)
		pp = &(*pp)->cnext;
	*pp = t->cnext;
	t->conn->ntxns--;
}

static void tx_free(struct xs_txn *t)
{
	struct xs_tnode *tn = t->first, *next;

	for (; tn; tn = next) {
		next = tn->next;
		node_free(t->conn->s, tn->priv);
		free(tn);
	}
	conn_mem_adjust(t->conn, -t->mem);
	free(t->b);
	free(t);
}

/* End t; it is freed whatever the result. -EAGAIN: a conflict, nothing
 * written. Watches fire during the replay, before the caller's ack. */
int txn_end(struct xs_txn *t, bool commit)
{
	struct xs_store *s = t->conn->s;
	int rc = 0;

	if (commit && tx_conflicts(t))
		rc = -EAGAIN;
	/* Out of the open list first: our own snapshot needs no versions kept. */
	tx_unlink(t);
	if (commit && rc == 0)
		rc = tx_apply(t);
	tx_free(t);
	store_gc(s);
	return rc;
}

void txn_abort_all(struct xs_conn *c)
{
	while (c->txns)
		(void)txn_end(c->txns, false);
}
