/*
 * Domains as the store sees them: introduced or not, SET_TARGET rights,
 * features, the nodes they own, and their quotas. Quotas hold for
 * unprivileged connections only (a socket client or a privileged dom0 is
 * exempt, as in C xenstored). Hitting one is logged once per (domain, quota).
 *
 * Also the domain-level requests: INTRODUCE, RELEASE, RESUME, SET_TARGET,
 * IS_DOMAIN_INTRODUCED, GET_DOMAIN_PATH, GET/SET_FEATURE, GET/SET_QUOTA.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_core.h"

/* Names as C xenstored's quota table and xenstore-control use them. */
const char *const xs_quota_names[XS_Q_COUNT] = {
	[XS_Q_NODES] = "nodes",
	[XS_Q_WATCHES] = "watches",
	[XS_Q_OUTSTANDING] = "outstanding",
	[XS_Q_TRANSACTIONS] = "transactions",
	[XS_Q_TXN_NODES] = "transaction-nodes",
	[XS_Q_PERMS] = "node-permissions",
	[XS_Q_NODE_SIZE] = "node-size",
	[XS_Q_PATH_MAX] = "path-max",
	[XS_Q_MEMORY] = "memory",
};

/* The error each quota gives, as C xenstored (tools/xenstored/{core,watch,
 * transaction}.c): E2BIG for watches, EINVAL for an over-long path, ENOSPC
 * for the store's capacity limits. Memory goes through memory_check(), whose
 * error depends on the request. */
static const int quota_errors[XS_Q_COUNT] = {
	[XS_Q_NODES] = ENOSPC,	      [XS_Q_WATCHES] = E2BIG,	 [XS_Q_OUTSTANDING] = EBUSY,
	[XS_Q_TRANSACTIONS] = ENOSPC, [XS_Q_TXN_NODES] = ENOSPC, [XS_Q_PERMS] = ENOSPC,
	[XS_Q_NODE_SIZE] = ENOSPC,    [XS_Q_PATH_MAX] = EINVAL,	 [XS_Q_MEMORY] = ENOMEM,
};

unsigned int *quota_field(struct xs_quota *q, enum xs_quota_idx i)
{
	unsigned int *f[XS_Q_COUNT] = {
		&q->nodes, &q->watches,	  &q->outstanding, &q->transactions, &q->txn_nodes,
		&q->perms, &q->node_size, &q->path_max,	   &q->memory,
	};
	return f[i];
}

struct xs_domain *domain_find(const struct xs_store *s, unsigned int domid)
{
	struct xs_domain *d = s->domains[domid % XS_DOM_BUCKETS];

	while (d && d->domid != domid)
		d = d->hnext;
	return d;
}

struct xs_domain *domain_get(struct xs_store *s, unsigned int domid)
{
	struct xs_domain *d = domain_find(s, domid);

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->domid = domid;
	d->quota = s->cfg.quota;
	d->introduced = domid == 0;
	d->hnext = s->domains[domid % XS_DOM_BUCKETS];
	s->domains[domid % XS_DOM_BUCKETS] = d;
	return d;
}

void domain_fini_all(struct xs_store *s)
{
	for (int i = 0; i < XS_DOM_BUCKETS; i++) {
		while (s->domains[i]) {
			struct xs_domain *d = s->domains[i];

			s->domains[i] = d->hnext;
			free(d);
		}
	}
}

/* Count n (sign 1) or stop counting it (-1) for its owner: one node, and
 * node_acc_size() bytes of memory. */
void domain_node_charge(struct xs_store *s, const struct xs_node *n, int sign)
{
	struct xs_domain *d =
		sign > 0 ? domain_get(s, node_owner(n)) : domain_find(s, node_owner(n));
	size_t bytes = node_acc_size(n);

	if (!d)
		return;
	if (sign > 0) {
		d->nodes++;
		d->memory += bytes;
		return;
	}
	d->nodes -= d->nodes > 0;
	d->memory -= bytes < d->memory ? bytes : d->memory;
}

/* Memory a connection holds for itself (watches, transaction copies),
 * charged to its domain. */
void conn_mem_adjust(struct xs_conn *c, long delta)
{
	c->mem += delta;
	if (c->dom)
		c->dom->memory = (size_t)((long)c->dom->memory + delta);
}

/*
 * May c's domain use add more bytes? C xenstored refuses once use would reach
 * the limit (domain_memory_add(): mem >= quota). The error is the caller's:
 * C answers EIO for a node write (write_node_raw() turns the failed db_write
 * into EIO) and ENOMEM for a watch.
 */
int memory_check(struct xs_conn *c, long add, int err)
{
	struct xs_domain *d = c->dom;
	unsigned int limit;

	if (conn_is_priv(c) || !d || !(limit = d->quota.memory))
		return 0;
	if ((long)d->memory + add < (long)limit)
		return 0;
	if (!(d->quota_logged & (1u << XS_Q_MEMORY))) {
		d->quota_logged |= 1u << XS_Q_MEMORY;
		xs_log(c->s, 1,
		       "domain %u hit quota memory: limit %u, in use %zu, wanted %ld more (logged "
		       "once)",
		       d->domid, limit, d->memory, add);
	}
	return -err;
}

/* May c's domain reach `used` of quota i? Fails, logging once, if not. */
int quota_check(struct xs_conn *c, enum xs_quota_idx i, unsigned int used)
{
	struct xs_domain *d = c->dom;
	unsigned int limit;

	if (conn_is_priv(c) || !d)
		return 0;
	limit = *quota_field(&d->quota, i);
	if (used <= limit)
		return 0;
	if (!(d->quota_logged & (1u << i))) {
		d->quota_logged |= 1u << i;
		xs_log(c->s, 1, "domain %u hit quota %s: limit %u, in use %u (logged once)",
		       d->domid, xs_quota_names[i], limit, used);
	}
	return -quota_errors[i];
}

/* The domain is gone: its connections lose watches and transactions and go
 * quiet, watchers of @releaseDomain hear of it, its home is removed unless
 * configured otherwise, and the daemon's hook runs last. */
void domain_release(struct xs_store *s, struct xs_domain *d)
{
	char path[64];
	int n;

	for (struct xs_conn *c = d->conns; c; c = c->dnext) {
		watch_del_all(c);
		txn_abort_all(c);
		c->dead = true;
	}
	d->introduced = false;
	d->has_target = false;
	d->quota_logged = 0;
	if (!s->cfg.keep_released_nodes) {
		n = snprintf(path, sizeof(path), XS_LOCAL_DOMAIN "%u", d->domid);
		if (store_get(s, path, (size_t)n))
			(void)store_rm(s, path, (size_t)n);
	}
	watch_fire_special(s, "@releaseDomain");
	snprintf(path, sizeof(path), "@releaseDomain/%u", d->domid);
	watch_fire_special(s, path);
	if (s->dops.release)
		s->dops.release(s->dops.ctx, d->domid);
}

/* ---- requests ---- */

static int arg_domid(const struct xs_req *r, unsigned int *ret)
{
	const char *a = req_onearg(r);

	return a ? req_domid(a, ret) : -EINVAL;
}

static bool domain_introduced(const struct xs_store *s, unsigned int domid)
{
	const struct xs_domain *d = domain_find(s, domid);

	return domid == 0 || (d && d->introduced);
}

static int parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

/* INTRODUCE <domid> <gfn> <port>: connect the domain's ring (the daemon's
 * hook), then announce it on @introduceDomain. Port 0 is EINVAL (C). */
int op_introduce(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS];
	unsigned long port;
	unsigned int domid;
	uint64_t gfn;
	struct xs_domain *d;
	int rc;

	if (req_split(r, argv, XS_REQ_MAX_ARGS) < 3 || req_domid(argv[0], &domid) < 0 ||
	    parse_u64(argv[1], &gfn) < 0 || parse_uint(argv[2], UINT32_MAX, &port) < 0 ||
	    port == 0 || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (domain_introduced(r->s, domid))
		return XS_REPLY_OK;
	d = domain_get(r->s, domid);
	if (!d)
		return -ENOMEM;
	if (r->s->dops.introduce) {
		rc = r->s->dops.introduce(r->s->dops.ctx, r->s, domid, gfn, (unsigned int)port);
		if (rc < 0)
			return rc;
	}
	d->introduced = true;
	watch_fire_special(r->s, "@introduceDomain");
	return XS_REPLY_OK;
}

int op_release(struct xs_req *r)
{
	unsigned int domid;
	struct xs_domain *d;

	if (arg_domid(r, &domid) < 0 || domid == 0)
		return -EINVAL;
	d = domain_find(r->s, domid);
	if (!d || !d->introduced)
		return -ENOENT;
	domain_release(r->s, d);
	return XS_REPLY_OK;
}

/* RESUME: C re-arms @releaseDomain after a suspend; we keep no shutdown
 * state, so only the checks remain. */
int op_resume(struct xs_req *r)
{
	unsigned int domid;

	if (arg_domid(r, &domid) < 0 || domid == 0)
		return -EINVAL;
	return domain_introduced(r->s, domid) ? XS_REPLY_OK : -ENOENT;
}

int op_set_target(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS];
	unsigned int domid, target;
	struct xs_domain *d;

	if (req_split(r, argv, XS_REQ_MAX_ARGS) != 2 || req_domid(argv[0], &domid) < 0 ||
	    req_domid(argv[1], &target) < 0)
		return -EINVAL;
	if (!domain_introduced(r->s, domid) || !domain_introduced(r->s, target))
		return -ENOENT;
	d = domain_get(r->s, domid);
	if (!d)
		return -ENOMEM;
	d->has_target = true;
	d->target = target;
	return XS_REPLY_OK;
}

int op_is_introduced(struct xs_req *r)
{
	unsigned int domid;

	if (arg_domid(r, &domid) < 0)
		return -EINVAL;
	req_reply(r, domain_introduced(r->s, domid) ? "T" : "F", 2);
	return XS_REPLIED;
}

int op_get_domain_path(struct xs_req *r)
{
	const char *a = req_onearg(r);
	unsigned long domid;
	char buf[48];
	int n;

	if (!a || parse_uint(a, UINT32_MAX, &domid) < 0)
		return -EINVAL;
	n = snprintf(buf, sizeof(buf), XS_LOCAL_DOMAIN "%lu", domid);
	req_reply(r, buf, (size_t)n + 1);
	return XS_REPLIED;
}

static void reply_uint(struct xs_req *r, unsigned long v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lu", v);

	req_reply(r, buf, (size_t)n + 1);
}

/* GET_FEATURE [<domid>]: without one, the caller's features (all the
 * server's for a privileged caller); naming a domain is privileged. */
int op_get_feature(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS];
	int argc = req_split(r, argv, XS_REQ_MAX_ARGS);
	const struct xs_domain *d;
	unsigned int domid;

	if (argc == 0 || (argc == 1 && argv[0][0] == '\0')) {
		reply_uint(r, xs_conn_features(r->c));
		return XS_REPLIED;
	}
	if (argc != 1 || req_domid(argv[0], &domid) < 0)
		return -EINVAL;
	if (!conn_is_priv(r->c))
		return -EACCES;
	d = domain_find(r->s, domid);
	if (!d)
		return -ENOENT;
	reply_uint(r, d->features);
	return XS_REPLIED;
}

/* SET_FEATURE <domid> <features>: only before INTRODUCE; C's do_set_feature()
 * answers EBUSY for an introduced domain (dom0 always is), and checks that
 * before the feature bits. */
int op_set_feature(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS];
	unsigned long value;
	unsigned int domid;
	struct xs_domain *d;

	if (req_split(r, argv, XS_REQ_MAX_ARGS) != 2 || req_domid(argv[0], &domid) < 0 ||
	    parse_uint(argv[1], UINT32_MAX, &value) < 0)
		return -EINVAL;
	if (domain_introduced(r->s, domid))
		return -EBUSY;
	if (value & ~r->s->cfg.server_features)
		return -EINVAL;
	d = domain_get(r->s, domid);
	if (!d)
		return -ENOMEM;
	d->features = (unsigned int)value;
	return XS_REPLY_OK;
}

static int quota_lookup(const char *name)
{
	for (int i = 0; i < XS_Q_COUNT; i++)
		if (strcmp(name, xs_quota_names[i]) == 0)
			return i;
	return -EINVAL;
}

/* GET_QUOTA: no argument lists the names; <quota> gives the global value;
 * <domid> <quota> the domain's (docs/misc/xenstore.txt). */
int op_get_quota(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS];
	int argc = req_split(r, argv, XS_REQ_MAX_ARGS);
	struct xs_quota *q = &r->s->cfg.quota;
	unsigned int domid;
	int qi;

	if (argc == 0 || (argc == 1 && argv[0][0] == '\0')) {
		size_t off = 0;

		for (int i = 0; i < XS_Q_COUNT; i++) {
			size_t l = strlen(xs_quota_names[i]) + 1;

			memcpy(r->s->out + off, xs_quota_names[i], l);
			off += l;
		}
		req_reply(r, r->s->out, off);
		return XS_REPLIED;
	}
	if (argc < 1 || argc > 2 || (qi = quota_lookup(argv[argc - 1])) < 0)
		return -EINVAL;
	if (argc == 2) {
		struct xs_domain *d;

		if (req_domid(argv[0], &domid) < 0)
			return -EINVAL;
		d = domain_find(r->s, domid);
		if (!d)
			return -ENOENT;
		q = &d->quota;
	}
	reply_uint(r, *quota_field(q, (enum xs_quota_idx)qi));
	return XS_REPLIED;
}

/* SET_QUOTA [<domid>] <quota> <value>. A global change applies to every
 * domain from now on (C: "quota set" changes the defaults in place). */
int op_set_quota(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS];
	int argc = req_split(r, argv, XS_REQ_MAX_ARGS);
	unsigned long value;
	unsigned int domid;
	struct xs_domain *d;
	int qi;

	if ((argc != 2 && argc != 3) || (qi = quota_lookup(argv[argc - 2])) < 0 ||
	    parse_uint(argv[argc - 1], UINT_MAX, &value) < 0)
		return -EINVAL;
	if (argc == 3) {
		if (req_domid(argv[0], &domid) < 0)
			return -EINVAL;
		d = domain_find(r->s, domid);
		if (!d)
			return -ENOENT;
		*quota_field(&d->quota, (enum xs_quota_idx)qi) = (unsigned int)value;
		return XS_REPLY_OK;
	}
	*quota_field(&r->s->cfg.quota, (enum xs_quota_idx)qi) = (unsigned int)value;
	for (int i = 0; i < XS_DOM_BUCKETS; i++)
		for (d = r->s->domains[i]; d; d = d->hnext)
			*quota_field(&d->quota, (enum xs_quota_idx)qi) = (unsigned int)value;
	return XS_REPLY_OK;
}
