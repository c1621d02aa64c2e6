/* See store.h. Every libxenstore call sets errno on failure. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "store.h"

#define TXN_RETRIES 16

int xenon_store_open(const char *run_dir, struct xs_handle **ret)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/xenstore/socket", run_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	/* libxenstore takes the socket from the environment only. */
	if (setenv("XENSTORED_PATH", path, 1))
		return -errno;
	if (!(*ret = xs_open(0)))
		return errno ? -errno : -ECONNREFUSED;
	return 0;
}

void xenon_store_close(struct xs_handle *xs)
{
	if (xs)
		xs_close(xs);
}

struct txn {
	struct xs_handle *xs;
	xs_transaction_t t;
	domid_t domid;
	bool failed;
	int err;
};

static void fail(struct txn *t)
{
	if (!t->failed) {
		t->failed = true;
		t->err = errno ? -errno : -EIO;
	}
}

static void put(struct txn *t, const char *fmt_path, const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), fmt_path, t->domid);
	if (!t->failed && !xs_write(t->xs, t->t, path, value, strlen(value)))
		fail(t);
}

static void putf(struct txn *t, const char *fmt_path, const char *fmt, uint64_t v)
{
	char value[32];

	snprintf(value, sizeof(value), fmt, v);
	put(t, fmt_path, value);
}

/* A node owned by dom0 that the domain reads (ro) or one it owns (rw). */
static void node(struct txn *t, const char *fmt_path, bool rw)
{
	struct xs_permissions ro[2] = { { 0, XS_PERM_NONE }, { t->domid, XS_PERM_READ } };
	struct xs_permissions own[1] = { { t->domid, XS_PERM_NONE } };
	char path[256];

	snprintf(path, sizeof(path), fmt_path, t->domid);
	if (t->failed)
		return;
	if (!xs_mkdir(t->xs, t->t, path) ||
	    !xs_set_permissions(t->xs, t->t, path, rw ? own : ro, rw ? 1 : 2))
		fail(t);
}

static void write_entries(struct txn *t, const struct xenon_store_domain *d)
{
	static const char *const rw_dirs[] = { "control/shutdown", "data", "device",  "error",
					       "drivers",	   "attr", "feature", NULL };
	char path[64];

	/* A stale home from a domain that died unseen must not leak into this one. */
	snprintf(path, sizeof(path), "/local/domain/%u", t->domid);
	xs_rm(t->xs, t->t, path);
	node(t, "/local/domain/%u", false);
	put(t, "/local/domain/%u/name", d->name);
	putf(t, "/local/domain/%u/domid", "%" PRIu64, d->domid);
	node(t, "/local/domain/%u/memory", false);
	putf(t, "/local/domain/%u/memory/static-max", "%" PRIu64, d->maxmem_kib);
	putf(t, "/local/domain/%u/memory/target", "%" PRIu64, d->memory_kib);
	node(t, "/local/domain/%u/cpu", false);
	for (unsigned int k = 0; k < d->vcpus; k++) {
		snprintf(path, sizeof(path), "/local/domain/%%u/cpu/%u/availability", k);
		put(t, path, "online");
	}
	putf(t, "/local/domain/%u/store/ring-ref", "%" PRIu64, d->store_gfn);
	putf(t, "/local/domain/%u/store/port", "%" PRIu64, d->store_port);
	putf(t, "/local/domain/%u/console/ring-ref", "%" PRIu64, d->console_gfn);
	putf(t, "/local/domain/%u/console/port", "%" PRIu64, d->console_port);
	put(t, "/local/domain/%u/console/type", "xenconsoled");
	node(t, "/local/domain/%u/control", false);
	for (const char *const *dir = rw_dirs; *dir; dir++) {
		snprintf(path, sizeof(path), "/local/domain/%%u/%s", *dir);
		node(t, path, true);
	}
	put(t, "/tool/xenon/%u/config", d->config ? d->config : "");
	put(t, "/tool/xenon/%u/args", d->args ? d->args : "");
}

int xenon_store_write_domain(struct xs_handle *xs, const struct xenon_store_domain *d)
{
	for (int i = 0; i < TXN_RETRIES; i++) {
		struct txn t = { .xs = xs, .domid = d->domid };

		if ((t.t = xs_transaction_start(xs)) == XBT_NULL)
			return errno ? -errno : -EIO;
		write_entries(&t, d);
		if (t.failed) {
			xs_transaction_end(xs, t.t, true);
			return t.err;
		}
		if (xs_transaction_end(xs, t.t, false))
			return 0;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

int xenon_store_introduce(struct xs_handle *xs, domid_t domid, uint64_t store_gfn,
			  evtchn_port_t store_port)
{
	return xs_introduce_domain(xs, domid, (unsigned long)store_gfn, store_port) ? 0 : -errno;
}

int xenon_store_remove_domain(struct xs_handle *xs, domid_t domid)
{
	char path[64];
	int rc = 0;

	/* ENOENT: never introduced, or xenstored released it already (it
	 * learns of a dead domain itself, through VIRQ_DOM_EXC). */
	if (!xs_release_domain(xs, domid) && errno != ENOENT)
		rc = -errno;
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	if (!xs_rm(xs, XBT_NULL, path) && errno != ENOENT && !rc)
		rc = -errno;
	snprintf(path, sizeof(path), "/tool/xenon/%u", domid);
	if (!xs_rm(xs, XBT_NULL, path) && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

int xenon_store_read(struct xs_handle *xs, domid_t domid, const char *node_, char *buf, size_t len)
{
	char path[256];
	unsigned int n;
	char *v;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, node_);
	if (!(v = xs_read(xs, XBT_NULL, path, &n)))
		return -errno;
	snprintf(buf, len, "%s", v);
	free(v);
	return 0;
}

char *xenon_store_read_tool(struct xs_handle *xs, domid_t domid, const char *node_)
{
	char path[256];
	unsigned int n;

	snprintf(path, sizeof(path), "/tool/xenon/%u/%s", domid, node_);
	return xs_read(xs, XBT_NULL, path, &n);
}

int xenon_store_find_name(struct xs_handle *xs, const char *name, domid_t *ret)
{
	unsigned int n;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	int rc = -ENOENT;

	for (unsigned int i = 0; doms && i < n && rc; i++) {
		char buf[128], *end;
		unsigned long id = strtoul(doms[i], &end, 10);

		if (*end || id >= DOMID_FIRST_RESERVED)
			continue;
		if (!xenon_store_read(xs, (domid_t)id, "name", buf, sizeof(buf)) &&
		    !strcmp(buf, name)) {
			*ret = (domid_t)id;
			rc = 0;
		}
	}
	free(doms);
	return rc;
}
