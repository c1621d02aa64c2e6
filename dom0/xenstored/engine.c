/*
 * The request engine: connections, dispatch, and the node operations.
 *
 * xs_conn_request() copies the payload (plus a NUL) into the store's scratch
 * buffer, finds the handler and transaction, and sends what the handler
 * returns: an error name, "OK", or the handler's own reply. Node operations
 * work on a "view" of the tree: the live store, or a transaction's snapshot
 * plus its own writes (txn.c). Watch events raised by a request go out as the
 * nodes change, before the reply, as with C xenstored; WATCH itself acks
 * first and then sends the initial event.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_core.h"

/* Creator value meaning "keep inherited perms" (privileged writers). */
#define CREATOR_PRIV UINT32_MAX

void xs_log(const struct xs_store *s, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->cfg.log)
		s->cfg.log(s->cfg.log_ctx, level, msg);
	else
		fprintf(stderr, "xenstored: %s\n", msg);
}

void xs_config_defaults(struct xs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->quota.nodes = 1000;
	cfg->quota.watches = 128;
	cfg->quota.outstanding = 20;
	cfg->quota.transactions = 10;
	cfg->quota.txn_nodes = 1024;
	cfg->quota.perms = 5;
	cfg->quota.node_size = 2048;
	cfg->quota.path_max = XENSTORE_REL_PATH_MAX;
	cfg->quota.memory = 2560 * 1024;
	cfg->server_features = XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR;
}

/* ---- store and connections ---- */

struct xs_store *xs_store_create(const struct xs_config *cfg, const struct xs_domain_ops *dops)
{
	struct xs_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (cfg)
		s->cfg = *cfg;
	else
		xs_config_defaults(&s->cfg);
	if (dops)
		s->dops = *dops;
	for (int i = 0; i < 2; i++) {
		s->special_perms[i][0] = XS_PERM_MAKE(0, 0);
		s->special_nperms[i] = 1;
	}
	if (!domain_get(s, 0) || store_init(s) < 0) {
		xs_store_destroy(s);
		return NULL;
	}
	return s;
}

void xs_store_destroy(struct xs_store *s)
{
	if (!s)
		return;
	while (s->conns)
		xs_conn_destroy(s->conns);
	store_fini(s);
	watch_index_fini(s);
	domain_fini_all(s);
	free(s);
}

struct xs_conn *xs_conn_create(struct xs_store *s, unsigned int domid, bool privileged,
			       const struct xs_conn_ops *ops, void *transport)
{
	struct xs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->domid = domid;
	c->privileged = privileged;
	c->ops = ops;
	c->transport = transport;
	c->next_txid = 1;
	c->dom = domain_get(s, domid);
	if (!c->dom) {
		free(c);
		return NULL;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	return c;
}

static void conn_detach(struct xs_conn *c)
{
	struct xs_conn **pp;

	if (!c->dom)
		return;
	for (pp = &c->dom->conns; *pp; pp = &(*pp)->dnext) {
		if (*pp == c) {
			*pp = c->dnext;
			break;
		}
	}
	c->dnext = NULL;
}

void xs_conn_destroy(struct xs_conn *c)
{
	if (!c)
		return;
	watch_del_all(c);
	txn_abort_all(c);
	conn_detach(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

int xs_domain_attach(struct xs_store *s, unsigned int domid, struct xs_conn *c)
{
	struct xs_domain *d = domain_get(s, domid);

	if (!d)
		return -ENOMEM;
	conn_detach(c);
	if (c->dom)
		c->dom->memory -= (size_t)c->mem;
	d->memory += (size_t)c->mem;
	c->dom = d;
	c->domid = domid;
	c->dead = false;
	c->dnext = d->conns;
	d->conns = c;
	return 0;
}

void xs_domain_gone(struct xs_store *s, unsigned int domid)
{
	struct xs_domain *d = domain_find(s, domid);

	if (d && domid != 0 && d->introduced)
		domain_release(s, d);
}

void xs_conn_quota(const struct xs_conn *c, struct xs_quota *ret_quota)
{
	if (conn_is_priv(c) || !c->dom) {
		memset(ret_quota, 0xff, sizeof(*ret_quota));
		return;
	}
	*ret_quota = c->dom->quota;
}

unsigned int xs_conn_features(const struct xs_conn *c)
{
	if (conn_is_priv(c) || !c->dom)
		return c->s->cfg.server_features;
	return c->dom->features;
}

bool conn_is_priv(const struct xs_conn *c)
{
	return c->privileged;
}

void conn_send(struct xs_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *data,
	       size_t len)
{
	struct xsd_sockmsg hdr = { type, req_id, tx_id, (uint32_t)len };

	if (c->dead || !c->ops || !c->ops->send)
		return;
	if (c->ops->send(c->transport, &hdr, data) < 0)
		c->dead = true;
}

/* ---- request helpers ---- */

void req_reply(struct xs_req *r, const void *data, size_t len)
{
	if (len > XENSTORE_PAYLOAD_MAX) {
		static const char e2big[] = "E2BIG";

		conn_send(r->c, XS_ERROR, r->hdr->req_id, r->hdr->tx_id, e2big, sizeof(e2big));
		return;
	}
	conn_send(r->c, r->hdr->type, r->hdr->req_id, r->hdr->tx_id, data, len);
}

static void req_error(struct xs_req *r, int err)
{
	const char *name = xsd_errors[0].errstring; /* EINVAL, as C for the unknown */

	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
		if (xsd_errors[i].errnum == err) {
			name = xsd_errors[i].errstring;
			break;
		}
	}
	conn_send(r->c, XS_ERROR, r->hdr->req_id, r->hdr->tx_id, name, strlen(name) + 1);
}

/* Split into NUL-terminated strings. Returns the count, or -EINVAL for more
 * than max or for trailing bytes without a NUL. */
int req_split(const struct xs_req *r, char **argv, int max)
{
	size_t off = 0;
	int n = 0;

	while (off < r->len) {
		char *nul = memchr(r->data + off, '\0', r->len - off);

		if (!nul || n == max)
			return -EINVAL;
		argv[n++] = r->data + off;
		off = (size_t)(nul - r->data) + 1;
	}
	return n;
}

/* The payload as exactly one string, or NULL (C's onearg()). */
const char *req_onearg(const struct xs_req *r)
{
	if (r->len == 0 || strlen(r->data) + 1 != r->len)
		return NULL;
	return r->data;
}

int req_domid(const char *str, unsigned int *ret)
{
	unsigned long v;
	int rc = parse_uint(str, 0xffff, &v);

	if (rc == 0)
		*ret = (unsigned int)v;
	return rc;
}

/* ---- views: live store or transaction ---- */

static struct xs_node *view_get(struct xs_req *r, const char *path, size_t len, unsigned int acc,
				int *ret_err)
{
	*ret_err = 0;
	if (r->t)
		return txn_get(r->t, path, len, acc, ret_err);
	return store_get(r->s, path, len);
}

/* Length of a leading "/local/domain/<up to 5 digits>/", else 0: what C's
 * canonicalize() leaves out of path-max (sscanf "/local/domain/%5u/%n"), for
 * absolute and relative paths alike and whichever domain's home it is. */
static size_t path_local_off(const char *p, size_t len)
{
	size_t pre = sizeof(XS_LOCAL_DOMAIN) - 1, i = pre;

	if (len <= pre || memcmp(p, XS_LOCAL_DOMAIN, pre) != 0)
		return 0;
	while (i < len && i < pre + 5 && p[i] >= '0' && p[i] <= '9')
		i++;
	return i > pre && i < len && p[i] == '/' ? i + 1 : 0;
}

/* Resolve a client path; special "@" names only where allowed. */
static int req_path(struct xs_req *r, const char *in, char *out, size_t *ret_len, bool special)
{
	int rc = path_canonical(in, r->c->domid, out, ret_len);

	if (rc < 0)
		return rc;
	if (path_is_special(out) && !special)
		return -EINVAL;
	if (conn_is_priv(r->c) || !r->c->dom)
		return 0;
	return quota_check(r->c, XS_Q_PATH_MAX,
			   (unsigned int)(*ret_len - path_local_off(out, *ret_len)));
}

/* Get the node and check the caller may do `perm` to it. */
static struct xs_node *req_node(struct xs_req *r, const char *path, size_t len, unsigned int acc,
				unsigned int perm, int *ret_err)
{
	struct xs_node *n = view_get(r, path, len, acc, ret_err);

	if (*ret_err < 0)
		return NULL;
	if (!n) {
		*ret_err = -ENOENT;
		return NULL;
	}
	if (!(perms_for(r->c, n->perms, n->nperms) & perm)) {
		*ret_err = -EACCES;
		return NULL;
	}
	return n;
}

/* The payload as exactly one path, resolved (what most node ops take). */
static int req_onepath(struct xs_req *r, char *path, size_t *ret_len)
{
	const char *arg = req_onearg(r);

	if (!arg)
		return -ENOENT;
	return req_path(r, arg, path, ret_len, false);
}

/* The node named by a one-path payload, checked for `perm`. */
static struct xs_node *req_onenode(struct xs_req *r, unsigned int acc, unsigned int perm,
				   int *ret_err)
{
	char path[XS_PATH_BUF];
	size_t len;

	*ret_err = req_onepath(r, path, &len);
	if (*ret_err < 0)
		return NULL;
	return req_node(r, path, len, acc, perm, ret_err);
}

/* ---- node operations ---- */

static int op_read(struct xs_req *r)
{
	int rc;
	struct xs_node *n = req_onenode(r, XS_ACC_READ, XS_PERM_READ, &rc);

	if (!n)
		return rc;
	req_reply(r, node_value(n), n->value_len);
	return XS_REPLIED;
}

static int op_directory(struct xs_req *r)
{
	int rc;
	struct xs_node *n = req_onenode(r, XS_ACC_LIST, XS_PERM_READ, &rc);

	if (!n)
		return rc;
	req_reply(r, n->children ? n->children->names : "", n->children ? n->children->len : 0);
	return XS_REPLIED;
}

/* "<generation>\0" then as many whole names from byte offset as fit, and a
 * final extra "\0" once the list is complete (C xenstored). */
static int op_directory_part(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS], path[XS_PATH_BUF];
	size_t len, off, chlen, n, gl;
	unsigned long offset;
	struct xs_node *node;
	const char *names;
	int rc;

	if (req_split(r, argv, XS_REQ_MAX_ARGS) != 2 ||
	    parse_uint(argv[1], UINT32_MAX, &offset) < 0)
		return -EINVAL;
	rc = req_path(r, argv[0], path, &len, false);
	if (rc < 0)
		return rc;
	node = req_node(r, path, len, XS_ACC_LIST, XS_PERM_READ, &rc);
	if (!node)
		return rc;
	names = node->children ? node->children->names : "";
	chlen = node->children ? node->children->len : 0;
	gl = (size_t)snprintf(r->s->out, 32, "%llu", (unsigned long long)node->gen) + 1;
	off = offset < chlen ? offset : chlen;
	for (n = 0; off + n < chlen;) {
		size_t l = strlen(names + off + n) + 1;

		if (gl + n + l >= XENSTORE_PAYLOAD_MAX)
			break;
		n += l;
	}
	memcpy(r->s->out + gl, names + off, n);
	if (off + n == chlen)
		r->s->out[gl + n++] = '\0';
	req_reply(r, r->s->out, gl + n);
	return XS_REPLIED;
}

static int op_get_perms(struct xs_req *r)
{
	int rc;
	struct xs_node *n = req_onenode(r, XS_ACC_READ, XS_PERM_READ, &rc);

	if (!n)
		return rc;
	req_reply(r, r->s->out, perms_format(n->perms, n->nperms, r->s->out, XENSTORE_PAYLOAD_MAX));
	return XS_REPLIED;
}

/* May the caller create path? Needs write access to the nearest existing
 * ancestor in its view, and room in its node quota. */
static int may_create(struct xs_req *r, const char *path, size_t len)
{
	size_t plen = len;
	struct xs_node *a = NULL;
	int rc;

	while (!a && plen > 1) {
		plen = path_parent_len(path, plen);
		a = view_get(r, path, plen, 0, &rc);
		if (rc < 0)
			return rc;
	}
	if (!a || !(perms_for(r->c, a->perms, a->nperms) & XS_PERM_WRITE))
		return -EACCES;
	return quota_check(r->c, XS_Q_NODES, r->c->dom->nodes + (r->t ? r->t->created : 0) + 1);
}

/* Node size (ENOSPC) and memory (EIO, as C's write_node_raw()) for writing
 * vlen bytes to n, or to a new node at a path of length len. A new node's
 * perms are counted as one entry, as most inherit just the owner's. */
static int check_node_quotas(struct xs_req *r, const struct xs_node *n, size_t len, size_t vlen)
{
	size_t size = XS_ACC_NODE_HDR + (n ? n->nperms : 1) * XS_ACC_PERM + vlen +
		      (n && n->children ? n->children->len : 0);
	int rc = quota_check(r->c, XS_Q_NODE_SIZE, (unsigned int)size);

	if (rc < 0)
		return rc;
	return memory_check(r->c, (long)(size + len) - (long)(n ? node_acc_size(n) : 0), EIO);
}

static int do_write(struct xs_req *r, const char *path, size_t len, const char *value, size_t vlen,
		    bool mkdir)
{
	unsigned int creator = conn_is_priv(r->c) ? CREATOR_PRIV : r->c->domid;
	struct xs_node *n;
	int rc;

	n = view_get(r, path, len, 0, &rc);
	if (rc < 0)
		return rc;
	if (n && !(perms_for(r->c, n->perms, n->nperms) & XS_PERM_WRITE))
		return -EACCES;
	if (n && mkdir)
		return XS_REPLY_OK;
	if (!n && (rc = may_create(r, path, len)) < 0)
		return rc;
	rc = check_node_quotas(r, n, len, vlen);
	if (rc < 0)
		return rc;
	if (r->t)
		rc = txn_write(r->t, path, len, value, vlen, NULL, 0, creator);
	else
		rc = store_write(r->s, path, len, value, vlen, NULL, 0, creator);
	return rc < 0 ? rc : XS_REPLY_OK;
}

/* WRITE <path>\0<value>: the value runs to the end of the payload. */
static int op_write(struct xs_req *r)
{
	char *nul = memchr(r->data, '\0', r->len);
	char path[XS_PATH_BUF];
	size_t len;
	int rc;

	if (!nul)
		return -EINVAL;
	rc = req_path(r, r->data, path, &len, false);
	if (rc < 0)
		return rc;
	return do_write(r, path, len, nul + 1, r->len - (size_t)(nul + 1 - r->data), false);
}

static int op_mkdir(struct xs_req *r)
{
	char path[XS_PATH_BUF];
	size_t len;
	int rc = req_onepath(r, path, &len);

	if (rc < 0)
		return rc;
	return do_write(r, path, len, "", 0, true);
}

/* RM: a missing node under an existing parent is fine; RM / is EINVAL. */
static int op_rm(struct xs_req *r)
{
	char path[XS_PATH_BUF];
	struct xs_node *n;
	size_t len;
	int rc = req_onepath(r, path, &len);

	if (rc < 0)
		return rc;
	if (len == 1)
		return -EINVAL;
	n = view_get(r, path, len, XS_ACC_READ, &rc);
	if (rc < 0)
		return rc;
	if (!n) {
		n = view_get(r, path, path_parent_len(path, len), 0, &rc);
		return rc < 0 ? rc : n ? XS_REPLY_OK : -ENOENT;
	}
	if (!(perms_for(r->c, n->perms, n->nperms) & XS_PERM_WRITE))
		return -EACCES;
	rc = r->t ? txn_rm(r->t, path, len) : store_rm(r->s, path, len);
	return rc < 0 ? rc : XS_REPLY_OK;
}

static int set_perms_special(struct xs_req *r, const char *path, const uint32_t *perms,
			     unsigned int n)
{
	int k = strcmp(path, "@introduceDomain") == 0 ? 0
		: strcmp(path, "@releaseDomain") == 0 ? 1
						      : -1;

	if (k < 0)
		return -EINVAL;
	if (!(perms_for(r->c, r->s->special_perms[k], r->s->special_nperms[k]) & XS_PERM_WRITE))
		return -EACCES;
	if (n > XS_SPECIAL_PERMS_MAX)
		return -ENOSPC;
	memcpy(r->s->special_perms[k], perms, n * sizeof(uint32_t));
	r->s->special_nperms[k] = n;
	return XS_REPLY_OK;
}

/* Who may set perms to what: writers of the node; unprivileged callers may
 * not give it away (EPERM) nor exceed their perms quota; the new owner must
 * exist (ENOENT, C). */
static int check_new_perms(struct xs_req *r, const struct xs_node *n, const uint32_t *perms,
			   unsigned int np)
{
	unsigned int owner = XS_PERM_DOMID(perms[0]);
	int rc;

	if (!(perms_for(r->c, n->perms, n->nperms) & XS_PERM_WRITE))
		return -EACCES;
	if (!conn_is_priv(r->c) && owner != node_owner(n))
		return -EPERM;
	rc = quota_check(r->c, XS_Q_PERMS, np);
	if (rc < 0)
		return rc;
	rc = memory_check(r->c, ((long)np - n->nperms) * (long)XS_ACC_PERM, EIO);
	if (rc < 0)
		return rc;
	if (owner != 0 && r->s->dops.domain_exists &&
	    !r->s->dops.domain_exists(r->s->dops.ctx, owner))
		return -ENOENT;
	return 0;
}

static int op_set_perms(struct xs_req *r)
{
	uint32_t *perms = r->s->permbuf;
	char *nul = memchr(r->data, '\0', r->len);
	char path[XS_PATH_BUF];
	struct xs_node *n;
	size_t len, off;
	int np, rc;

	if (!nul)
		return -EINVAL;
	off = (size_t)(nul + 1 - r->data);
	np = perms_parse(r->data + off, r->len - off, perms, XS_PERMS_BUF);
	if (np <= 0)
		return -EINVAL;
	rc = req_path(r, r->data, path, &len, true);
	if (rc < 0)
		return rc;
	if (path_is_special(path))
		return set_perms_special(r, path, perms, (unsigned int)np);
	n = view_get(r, path, len, XS_ACC_READ, &rc);
	if (rc < 0)
		return rc;
	if (!n)
		return -ENOENT;
	rc = check_new_perms(r, n, perms, (unsigned int)np);
	if (rc < 0)
		return rc;
	if (r->t)
		rc = txn_set_perms(r->t, path, len, perms, (unsigned int)np);
	else
		rc = store_set_perms(r->s, path, len, perms, (unsigned int)np);
	return rc < 0 ? rc : XS_REPLY_OK;
}

/* ---- watches and transactions ---- */

static int op_watch(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS], path[XS_PATH_BUF];
	size_t len;
	int rc;

	if (req_split(r, argv, XS_REQ_MAX_ARGS) != 2)
		return -EINVAL;
	rc = req_path(r, argv[0], path, &len, true);
	if (rc < 0)
		return rc;
	rc = quota_check(r->c, XS_Q_WATCHES, r->c->nwatches + 1);
	if (rc < 0)
		return rc;
	/* C's add_watch(): ENOMEM past the memory quota. */
	rc = memory_check(r->c, (long)(len + strlen(argv[1])), ENOMEM);
	if (rc < 0)
		return rc;
	rc = watch_add(r->c, argv[0], path, len, argv[1]);
	if (rc < 0)
		return rc;
	req_reply(r, "OK", 3);
	/* The first event, so clients need not read the node to start. */
	conn_send(r->c, XS_WATCH_EVENT, 0, 0, r->data, r->len);
	return XS_REPLIED;
}

static int op_unwatch(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS], path[XS_PATH_BUF];
	size_t len;
	int rc;

	if (req_split(r, argv, XS_REQ_MAX_ARGS) != 2)
		return -EINVAL;
	rc = req_path(r, argv[0], path, &len, true);
	if (rc < 0)
		return rc;
	rc = watch_del(r->c, path, len, argv[1]);
	return rc < 0 ? rc : XS_REPLY_OK;
}

static int op_reset_watches(struct xs_req *r)
{
	watch_del_all(r->c);
	txn_abort_all(r->c);
	r->t = NULL;
	return XS_REPLY_OK;
}

static int op_transaction_start(struct xs_req *r)
{
	struct xs_txn *t;
	char buf[16];
	int rc;

	if (r->hdr->tx_id != 0)
		return -EBUSY;
	rc = quota_check(r->c, XS_Q_TRANSACTIONS, r->c->ntxns + 1);
	if (rc < 0)
		return rc;
	t = txn_start(r->c);
	if (!t)
		return -ENOMEM;
	rc = snprintf(buf, sizeof(buf), "%u", t->id);
	req_reply(r, buf, (size_t)rc + 1);
	return XS_REPLIED;
}

static int op_transaction_end(struct xs_req *r)
{
	const char *arg = req_onearg(r);
	int rc;

	if (!r->t)
		return -ENOENT;
	if (!arg || (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0))
		return -EINVAL;
	rc = txn_end(r->t, arg[0] == 'T');
	r->t = NULL;
	return rc < 0 ? rc : XS_REPLY_OK;
}

/* ---- dispatch ---- */

#define PRIV 1u /* privileged callers only */

static const struct xs_op {
	int (*fn)(struct xs_req *r);
	unsigned int flags;
} xs_ops[] = {
	[XS_CONTROL] = { op_control, PRIV },
	[XS_DIRECTORY] = { op_directory, 0 },
	[XS_READ] = { op_read, 0 },
	[XS_GET_PERMS] = { op_get_perms, 0 },
	[XS_WATCH] = { op_watch, 0 },
	[XS_UNWATCH] = { op_unwatch, 0 },
	[XS_TRANSACTION_START] = { op_transaction_start, 0 },
	[XS_TRANSACTION_END] = { op_transaction_end, 0 },
	[XS_INTRODUCE] = { op_introduce, PRIV },
	[XS_RELEASE] = { op_release, PRIV },
	[XS_GET_DOMAIN_PATH] = { op_get_domain_path, 0 },
	[XS_WRITE] = { op_write, 0 },
	[XS_MKDIR] = { op_mkdir, 0 },
	[XS_RM] = { op_rm, 0 },
	[XS_SET_PERMS] = { op_set_perms, 0 },
	[XS_IS_DOMAIN_INTRODUCED] = { op_is_introduced, 0 },
	[XS_RESUME] = { op_resume, PRIV },
	[XS_SET_TARGET] = { op_set_target, PRIV },
	[XS_RESET_WATCHES] = { op_reset_watches, 0 },
	[XS_DIRECTORY_PART] = { op_directory_part, 0 },
	[XS_GET_FEATURE] = { op_get_feature, 0 },
	[XS_SET_FEATURE] = { op_set_feature, PRIV },
	[XS_GET_QUOTA] = { op_get_quota, PRIV },
	[XS_SET_QUOTA] = { op_set_quota, PRIV },
};

static int dispatch(struct xs_req *r)
{
	uint32_t type = r->hdr->type;
	const struct xs_op *op = type < sizeof(xs_ops) / sizeof(xs_ops[0]) ? &xs_ops[type] : NULL;

	if (!op || !op->fn)
		return -ENOSYS;
	if ((op->flags & PRIV) && !conn_is_priv(r->c))
		return -EACCES;
	if (r->hdr->tx_id != 0 && type != XS_TRANSACTION_START) {
		r->t = txn_find(r->c, r->hdr->tx_id);
		if (!r->t)
			return -ENOENT;
	}
	return op->fn(r);
}

void xs_conn_request(struct xs_conn *c, const struct xsd_sockmsg *hdr, const char *payload)
{
	char *in = c->s->in;
	struct xs_req r = { .c = c, .s = c->s, .hdr = hdr, .data = in, .len = hdr->len };
	int rc;

	if (c->dead)
		return;
	if (hdr->len > XENSTORE_PAYLOAD_MAX) {
		req_error(&r, E2BIG);
		return;
	}
	if (hdr->len)
		memcpy(in, payload, hdr->len);
	in[hdr->len] = '\0';
	if (c->s->trace)
		xs_log(c->s, 3, "conn dom%u: type %u req %u tx %u len %u", c->domid, hdr->type,
		       hdr->req_id, hdr->tx_id, hdr->len);
	rc = dispatch(&r);
	if (rc < 0)
		req_error(&r, -rc);
	else if (rc == XS_REPLY_OK)
		req_reply(&r, "OK", 3);
}
