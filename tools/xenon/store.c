/* See store.h. Every libxenstore call sets errno on failure. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <xenstore.h>

#include "store.h"
#include "txn.h"

/* A creation: the domain and its instance token. */
struct creation {
	const struct xenon_store_domain *d;
	char instance[XENON_STORE_INSTANCE_LEN + 1];
};

/* A removal: whose entries, as the remover knows them. */
struct removal {
	domid_t domid;
	const char *instance; /* NULL: a domain that has none recorded */
};

/* /local/domain/N/NODE (NODE "": the home itself); see xenon_txn_put(). */
static void home_put(struct xenon_txn *t, domid_t domid, const char *node_, const char *value,
		     const struct xs_permissions *perms, unsigned int nr)
{
	char path[256];

	snprintf(path, sizeof(path), "/local/domain/%u%s%s", domid, node_[0] ? "/" : "", node_);
	xenon_txn_put(t, path, value, perms, nr);
}

/* A decimal value that inherits its directory's permissions. */
static void home_put_u64(struct xenon_txn *t, domid_t domid, const char *node_, uint64_t v)
{
	char value[32];

	snprintf(value, sizeof(value), "%" PRIu64, v);
	home_put(t, domid, node_, value, NULL, 0);
}

static void tool_put(struct xenon_txn *t, domid_t domid, const char *node_, const char *value)
{
	char path[64];

	snprintf(path, sizeof(path), "/tool/xenon/%u/%s", domid, node_);
	xenon_txn_put(t, path, value ? value : "", NULL, 0);
}

/* The home's values: dom0's, the domain may read, as the home itself.
 * xenstored gives a node dom0 creates its parent's permissions, so they and
 * the directories they make (memory, cpu, store, console) inherit the
 * home's: no permissions are set here. */
static void write_values(struct xenon_txn *t, const struct xenon_store_domain *d)
{
	char node_[48];

	home_put(t, d->domid, "name", d->name, NULL, 0);
	home_put_u64(t, d->domid, "domid", d->domid);
	home_put_u64(t, d->domid, "memory/static-max", d->maxmem_kib);
	home_put_u64(t, d->domid, "memory/target", d->memory_kib);
	for (unsigned int k = 0; k < d->vcpus; k++) {
		snprintf(node_, sizeof(node_), "cpu/%u/availability", k);
		home_put(t, d->domid, node_, "online", NULL, 0);
	}
	home_put_u64(t, d->domid, "store/ring-ref", d->store_gfn);
	home_put_u64(t, d->domid, "store/port", d->store_port);
	home_put_u64(t, d->domid, "console/ring-ref", d->console_gfn);
	home_put_u64(t, d->domid, "console/port", d->console_port);
	home_put(t, d->domid, "console/type", "xenconsoled", NULL, 0);
}

static void instance_path(char *buf, size_t len, domid_t domid)
{
	snprintf(buf, len, "/tool/xenon/%u/instance", domid);
}

/* 128 bits from the kernel's generator, in hex: never the same twice. */
static int new_instance(char *buf)
{
	unsigned char raw[XENON_STORE_INSTANCE_LEN / 2];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return errno ? -errno : -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* ROOT/<type>/DOMID for every <type> under ROOT (none if ROOT is not there). */
static void clear_types(struct xenon_txn *t, const char *root, domid_t domid)
{
	unsigned int n = 0;
	char **types, path[256];

	if (t->failed)
		return;
	types = xs_directory(t->xs, t->t, root, &n);
	if (!types) {
		if (errno != ENOENT)
			xenon_txn_fail(t);
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		if ((size_t)snprintf(path, sizeof(path), "%s/%s/%u", root, types[i], domid) <
		    sizeof(path))
			xenon_txn_rm(t, path);
	free(types);
}

/* The domain's own trees: its home and the toolstack's record. */
static void clear_home(struct xenon_txn *t, domid_t domid)
{
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	xenon_txn_rm(t, path);
	snprintf(path, sizeof(path), "/tool/xenon/%u", domid);
	xenon_txn_rm(t, path);
}

/* Every back end's directory of the domain's devices and the back ends'
 * error reports about it; other domids' are not touched. */
static void clear_backends(struct xenon_txn *t, domid_t domid)
{
	clear_types(t, XENON_STORE_BACKEND_ROOT, domid);
	clear_types(t, XENON_STORE_BACKEND_ERROR_ROOT, domid);
}

static void write_entries(struct xenon_txn *t, const void *arg)
{
	static const char *const rw_dirs[] = { "control/shutdown", "data", "device",  "error",
					       "drivers",	   "attr", "feature", NULL };
	const struct creation *c = arg;
	const struct xenon_store_domain *d = c->d;
	/* Owned by dom0, the domain may read (ro), or the domain's own. */
	const struct xs_permissions ro[2] = { { 0, XS_PERM_NONE }, { d->domid, XS_PERM_READ } };
	const struct xs_permissions own[1] = { { d->domid, XS_PERM_NONE } };

	/* What a domain with this domid that died unseen left must not leak
	 * into this one, nor its devices be served as this one's. */
	clear_home(t, d->domid);
	clear_backends(t, d->domid);
	home_put(t, d->domid, "", NULL, ro, 2);
	write_values(t, d);
	/* control/ inherits the home's; control/shutdown is the domain's. */
	for (const char *const *dir = rw_dirs; *dir; dir++)
		home_put(t, d->domid, *dir, NULL, own, 1);
	tool_put(t, d->domid, "config", d->config);
	tool_put(t, d->domid, "args", d->args);
	tool_put(t, d->domid, "instance", c->instance);
}

int xenon_store_write_domain(struct xs_handle *xs, const struct xenon_store_domain *d)
{
	struct creation c = { .d = d };
	int rc = new_instance(c.instance);

	if (rc)
		return rc;
	/* ENOENT: xenstored released it (or it was never introduced). */
	if (!xs_release_domain(xs, d->domid) && errno != ENOENT)
		return errno ? -errno : -EIO;
	return xenon_txn_run(xs, write_entries, &c);
}

int xenon_store_introduce(struct xs_handle *xs, domid_t domid, uint64_t store_gfn,
			  evtchn_port_t store_port)
{
	return xs_introduce_domain(xs, domid, (unsigned long)store_gfn, store_port) ? 0 : -errno;
}

/* The instance recorded in T's view, malloc()ed; NULL if there is none
 * (or the read failed, which T records). */
static char *txn_read_instance(struct xenon_txn *t, domid_t domid)
{
	char path[64], *v;
	unsigned int n;

	if (t->failed)
		return NULL;
	instance_path(path, sizeof(path), domid);
	if (!(v = xs_read(t->xs, t->t, path, &n)) && errno != ENOENT)
		xenon_txn_fail(t);
	return v;
}

/* Whose entries these are is read in the transaction that removes them
 * (see store.h): a new instance written before the commit is a conflict. */
static void remove_entries(struct xenon_txn *t, const void *arg)
{
	const struct removal *r = arg;
	char *have = txn_read_instance(t, r->domid);
	bool mine = have && r->instance ? !strcmp(have, r->instance) : have == r->instance;

	if (!mine)
		xenon_txn_abort(t, have ? -ESTALE : -ENOENT);
	free(have);
	clear_home(t, r->domid);
	clear_backends(t, r->domid);
}

int xenon_store_remove_domain(struct xs_handle *xs, domid_t domid, const char *instance)
{
	struct removal r = { .domid = domid, .instance = instance };

	return xenon_txn_run(xs, remove_entries, &r);
}

int xenon_store_forget(struct xs_handle *xs, domid_t domid, int read_rc, const char *instance)
{
	int rc;

	if (read_rc && read_rc != -ENOENT)
		return read_rc; /* we do not know whose entries are there */
	rc = xenon_store_remove_domain(xs, domid, read_rc ? NULL : instance);
	return rc == -ENOENT || rc == -ESTALE ? 0 : rc;
}

int xenon_store_read_instance(struct xs_handle *xs, domid_t domid, char *buf, size_t len)
{
	char path[64], *v;
	unsigned int n;

	instance_path(path, sizeof(path), domid);
	if (!(v = xs_read(xs, XBT_NULL, path, &n)))
		return errno ? -errno : -EIO;
	snprintf(buf, len, "%s", v);
	free(v);
	return 0;
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
