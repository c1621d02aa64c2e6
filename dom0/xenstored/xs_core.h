/*
 * Engine-internal declarations shared by engine.c, store.c, txn.c, watch.c,
 * perms.c, path.c, domain.c and control.c. Nothing here is visible to the
 * transports; they see only engine.h.
 *
 * Ownership at a glance:
 *
 *   xs_store --+-- node hash (path -> current xs_node), nodes in slab pages
 *              +-- versions (current xs_node -> superseded versions, MVCC)
 *              +-- watch index (absolute path -> watches on exactly that path)
 *              +-- domains (domid -> quotas, usage, connections)
 *              +-- open transactions, oldest start first (for version GC)
 *              +-- GC queue of superseded versions, in the order superseded
 */
#ifndef XENON_XENSTORED_XS_CORE_H
#define XENON_XENSTORED_XS_CORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define XS_LOCAL_DOMAIN "/local/domain/"

/* ---- permissions (perms.c) ---------------------------------------------- */

/* One permission entry packed in 32 bits: domid in the low 16, mode above. */
#define XS_PERM_READ 1u
#define XS_PERM_WRITE 2u
#define XS_PERM_OWNER 4u
#define XS_PERM_MODE(p) ((p) >> 16)
#define XS_PERM_DOMID(p) ((p)&0xffffu)
#define XS_PERM_MAKE(mode, domid) (((uint32_t)(mode) << 16) | ((domid)&0xffffu))
/* Text form of one entry is at most "b65535\0". */
#define XS_PERM_TEXT_MAX 7

int perms_parse(const char *buf, size_t len, uint32_t *ret_perms, unsigned int max);
size_t perms_format(const uint32_t *perms, unsigned int n, char *buf, size_t size);
unsigned int perms_for(const struct xs_conn *c, const uint32_t *perms, unsigned int n);

/* ---- paths (path.c) ------------------------------------------------------ */

/* Room for any canonical path plus its NUL. */
#define XS_PATH_BUF (XENSTORE_ABS_PATH_MAX + 1)

int path_canonical(const char *in, unsigned int domid, char *out, size_t *ret_len);
bool path_is_special(const char *p);
size_t path_parent_len(const char *p, size_t len);
const char *path_basename(const char *p, size_t len);

/* The ancestor of p one component deeper than the one of length have, up to
 * plen: ("/a/b/c", 2, 6) -> 4, "/a/b". Lets a creator walk missing ancestors
 * top down without recursion (paths may be 1500 levels deep). */
static inline size_t path_child_len(const char *p, size_t have, size_t plen)
{
	size_t end = have + 1;

	while (end < plen && p[end] != '/')
		end++;
	return end;
}
int parse_uint(const char *s, unsigned long max, unsigned long *ret);

/* ---- nodes and the versioned store (store.c) ----------------------------- */

/* ---- node allocation (slab.c) ------------------------------------------- */

#define SLAB_GRAIN 8u
#define SLAB_MAX 512u /* larger objects come from malloc */

struct slab_page;
struct xs_slab {
	struct slab_page *partial[SLAB_MAX / SLAB_GRAIN + 1]; /* per size class */
	size_t pages;
};

void *slab_alloc(struct xs_slab *sl, size_t size);
void slab_free(struct xs_slab *sl, void *obj, size_t size);
size_t slab_fini(struct xs_slab *sl);

/* Child names, NUL-terminated and concatenated in insertion order (the
 * DIRECTORY reply as is). */
struct xs_children {
	uint32_t len;
	uint32_t cap;
	char names[];
};

#define XS_NODE_DELETED 1u /* tombstone: "absent since gen" */
#define XS_NODE_HASOLD 2u  /* current version with superseded ones kept (vtab) */

/*
 * One version of one node, in a single slab object:
 *
 *   [ header (24 bytes) | perms[nperms] | path \0 | value (value_len bytes) ]
 *
 * The current version sits in the node hash. Superseded versions an open
 * transaction may still read are kept in a side table (store.c), so a node
 * pays nothing for MVCC until a transaction needs an old copy of it.
 */
struct xs_node {
	struct xs_children *children; /* NULL when there are none */
	uint64_t gen;		      /* store generation of this version */
	uint16_t path_len;
	uint16_t value_len;
	uint16_t nperms;
	uint8_t flags;
	uint32_t perms[];
};

static inline const char *node_path(const struct xs_node *n)
{
	return (const char *)(n->perms + n->nperms);
}

static inline const char *node_value(const struct xs_node *n)
{
	return node_path(n) + n->path_len + 1;
}

static inline unsigned int node_owner(const struct xs_node *n)
{
	return XS_PERM_DOMID(n->perms[0]);
}

struct xs_store;
struct xs_node *node_alloc(struct xs_store *s, const char *path, size_t plen, const void *value,
			   size_t vlen, const uint32_t *perms, unsigned int nperms);
struct xs_node *node_alloc_inherit(struct xs_store *s, const struct xs_node *parent,
				   unsigned int creator, const char *path, size_t len,
				   const void *value, size_t vlen);
void node_free(struct xs_store *s, struct xs_node *n);
struct xs_children *children_dup(const struct xs_children *ch);
int children_add(struct xs_children **chp, const char *name, size_t len);
void children_del(struct xs_children *ch, const char *name, size_t len);
int children_edit(struct xs_children **chp, const char *path, size_t len, bool add);
/* C xenstored's accounting sizes: struct node_hdr and struct xs_permissions. */
#define XS_ACC_NODE_HDR 16u
#define XS_ACC_PERM 8u
size_t node_size(const struct xs_node *n);
size_t node_acc_size(const struct xs_node *n);

/* Path -> current node: open addressing, linear probing. Each entry packs a
 * node pointer (low 48 bits) with 16 bits of the path's hash, so probes
 * rarely touch a node that is not the one sought. */
struct xs_htab {
	uint64_t *b;
	size_t mask;
	size_t count;
};

/* Superseded versions, keyed by the current node they hide behind. */
struct xs_vchain;
struct xs_oldver;
struct xs_vtab {
	struct xs_vchain **b;
	size_t mask;
	size_t count;
};

int store_init(struct xs_store *s);
void store_fini(struct xs_store *s);
struct xs_node *store_lookup(const struct xs_store *s, const char *path, size_t len);
struct xs_node *store_get(const struct xs_store *s, const char *path, size_t len);
struct xs_node *store_get_at(const struct xs_store *s, const char *path, size_t len, uint64_t gen);
int store_write(struct xs_store *s, const char *path, size_t len, const void *value, size_t vlen,
		const uint32_t *perms, unsigned int nperms, unsigned int creator);
int store_set_perms(struct xs_store *s, const char *path, size_t len, const uint32_t *perms,
		    unsigned int nperms);
int store_rm(struct xs_store *s, const char *path, size_t len);
void store_gc(struct xs_store *s);
int store_check(const struct xs_store *s, char *msg, size_t size);

/* ---- watches (watch.c) --------------------------------------------------- */

struct xs_watch;
struct xs_wpath;

struct xs_windex {
	struct xs_wpath **b;
	size_t mask;
	size_t count;
};

int watch_add(struct xs_conn *c, const char *given, const char *abs, size_t alen,
	      const char *token);
int watch_del(struct xs_conn *c, const char *abs, size_t alen, const char *token);
void watch_del_all(struct xs_conn *c);
void watch_index_fini(struct xs_store *s);
/* A node changed: fire watches on it and its ancestors ("recursive") or on
 * exactly it (descendants of a removed node). perms decide who may see it. */
void watch_fire(struct xs_store *s, const char *path, size_t len, const uint32_t *perms,
		unsigned int nperms, bool exact);
void watch_fire_special(struct xs_store *s, const char *path);

/* ---- transactions (txn.c) ------------------------------------------------ */

struct xs_tnode;

struct xs_txn {
	struct xs_txn *next, *prev; /* store list, oldest start first */
	struct xs_txn *cnext;	    /* connection's list */
	struct xs_conn *conn;
	uint32_t id;
	uint64_t start;	     /* sees versions with gen <= start */
	struct xs_tnode **b; /* path -> touched node */
	size_t mask;
	size_t count;
	unsigned int created;	       /* nodes created, for the node quota */
	long mem;		       /* bytes of private copies, charged to conn */
	struct xs_tnode *first, *last; /* touch order, replayed at commit */
};

struct xs_txn *txn_start(struct xs_conn *c);
struct xs_txn *txn_find(struct xs_conn *c, uint32_t id);
int txn_end(struct xs_txn *t, bool commit);
void txn_abort_all(struct xs_conn *c);

/* How a request sees the tree: live, or through one transaction. */
#define XS_ACC_READ 1u /* value or perms read */
#define XS_ACC_LIST 2u /* children read */
struct xs_node *txn_get(struct xs_txn *t, const char *path, size_t len, unsigned int acc,
			int *ret_err);
int txn_write(struct xs_txn *t, const char *path, size_t len, const void *value, size_t vlen,
	      const uint32_t *perms, unsigned int nperms, unsigned int creator);
int txn_set_perms(struct xs_txn *t, const char *path, size_t len, const uint32_t *perms,
		  unsigned int nperms);
int txn_rm(struct xs_txn *t, const char *path, size_t len);

/* ---- domains and quotas (domain.c) --------------------------------------- */

enum xs_quota_idx {
	XS_Q_NODES,
	XS_Q_WATCHES,
	XS_Q_OUTSTANDING,
	XS_Q_TRANSACTIONS,
	XS_Q_TXN_NODES,
	XS_Q_PERMS,
	XS_Q_NODE_SIZE,
	XS_Q_PATH_MAX,
	XS_Q_MEMORY,
	XS_Q_COUNT
};

struct xs_domain {
	struct xs_domain *hnext;
	unsigned int domid;
	bool introduced;
	bool has_target;
	unsigned int target;
	unsigned int nodes;    /* nodes owned */
	size_t memory;	       /* bytes: nodes owned, its connections' watches and txns */
	unsigned int features; /* SET_FEATURE */
	uint32_t quota_logged; /* bit per xs_quota_idx: logged once */
	struct xs_quota quota;
	struct xs_conn *conns; /* attached connections, via dnext */
};

/* Domids are handed out lowest free first, so with 1024 buckets (8 KiB)
 * domain_find() walks one entry up to 1023 domains, 32 at most ever. */
#define XS_DOM_BUCKETS 1024

extern const char *const xs_quota_names[XS_Q_COUNT];
unsigned int *quota_field(struct xs_quota *q, enum xs_quota_idx i);
struct xs_domain *domain_find(const struct xs_store *s, unsigned int domid);
struct xs_domain *domain_get(struct xs_store *s, unsigned int domid);
void domain_fini_all(struct xs_store *s);
void domain_node_charge(struct xs_store *s, const struct xs_node *n, int sign);
void conn_mem_adjust(struct xs_conn *c, long delta);
int memory_check(struct xs_conn *c, long add, int err);
int quota_check(struct xs_conn *c, enum xs_quota_idx i, unsigned int used);
void domain_release(struct xs_store *s, struct xs_domain *d);

/* ---- connections, store, requests (engine.c) ----------------------------- */

struct xs_conn {
	struct xs_store *s;
	struct xs_conn *next, *prev; /* all connections */
	struct xs_conn *dnext;	     /* domain's connections */
	struct xs_domain *dom;
	unsigned int domid;
	bool privileged;
	bool dead; /* transport failed or domain released: send nothing */
	const struct xs_conn_ops *ops;
	void *transport;
	struct xs_watch *watches; /* registration order, via cnext */
	struct xs_watch *watches_tail;
	unsigned int nwatches;
	long mem; /* bytes of watches and transaction copies, in dom->memory */
	struct xs_txn *txns;
	unsigned int ntxns;
	uint32_t next_txid;
};

#define XS_SPECIAL_PERMS_MAX 32
/* Most entries a payload can carry: "n0\0" is three bytes. */
#define XS_PERMS_BUF (XENSTORE_PAYLOAD_MAX / 3 + 1)

struct xs_store {
	struct xs_config cfg;
	struct xs_domain_ops dops;
	uint64_t gen;
	struct xs_htab nodes;
	struct xs_vtab versions;
	struct xs_slab slab;
	struct xs_windex watches;
	struct xs_domain *domains[XS_DOM_BUCKETS];
	struct xs_conn *conns;
	struct xs_txn *txn_oldest, *txn_newest;
	struct xs_oldver **gcq; /* superseded versions, FIFO */
	size_t gc_head, gc_tail, gc_cap;
	/* SET_PERMS on @introduceDomain [0] and @releaseDomain [1]. */
	uint32_t special_perms[2][XS_SPECIAL_PERMS_MAX];
	unsigned int special_nperms[2];
	bool trace;
	/* Scratch for requests, replies and events: no per-request heap
	 * traffic. The engine is single-threaded and not re-entered from send(). */
	char in[XENSTORE_PAYLOAD_MAX + 1];
	uint32_t permbuf[XS_PERMS_BUF];
	char out[XENSTORE_PAYLOAD_MAX + XS_PATH_BUF];
	char evbuf[XENSTORE_PAYLOAD_MAX + 1];
};

void xs_log(const struct xs_store *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void conn_send(struct xs_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *data,
	       size_t len);
bool conn_is_priv(const struct xs_conn *c);

/* One request being handled. data is a private copy of the payload with a
 * NUL appended, so string functions never run past it. */
struct xs_req {
	struct xs_conn *c;
	struct xs_store *s;
	const struct xsd_sockmsg *hdr;
	struct xs_txn *t; /* hdr->tx_id's transaction, or NULL */
	char *data;
	size_t len;
};

/* Handlers return a negative errno (sent as XS_ERROR), XS_REPLY_OK ("OK"),
 * or XS_REPLIED when they sent their own reply. */
#define XS_REPLIED 0
#define XS_REPLY_OK 1
#define XS_REQ_MAX_ARGS 8

int req_split(const struct xs_req *r, char **argv, int max);
const char *req_onearg(const struct xs_req *r);
int req_domid(const char *str, unsigned int *ret);
void req_reply(struct xs_req *r, const void *data, size_t len);

int op_introduce(struct xs_req *r);
int op_release(struct xs_req *r);
int op_resume(struct xs_req *r);
int op_set_target(struct xs_req *r);
int op_is_introduced(struct xs_req *r);
int op_get_domain_path(struct xs_req *r);
int op_get_feature(struct xs_req *r);
int op_set_feature(struct xs_req *r);
int op_get_quota(struct xs_req *r);
int op_set_quota(struct xs_req *r);
int op_control(struct xs_req *r);

/* ---- control (control.c) ------------------------------------------------- */

#endif
