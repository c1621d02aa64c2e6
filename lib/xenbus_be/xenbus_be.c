/*
 * xenbus devices, back-end side (see xenbus_be.h), over Debian's
 * libxenstore.
 *
 * Three kinds of watch on one xs handle, told apart by token:
 *
 *   "xbbe/<type>"            /local/domain/<self>/backend/<type>   (one)
 *   "xbbe/<type>/@release"   @releaseDomain                        (one)
 *   "xbbe/<type>/fe/<fe>/<id>"  <frontend>/state               (per device)
 *
 * The first fires for any node under our back-end directory, the
 * toolstack's writes and our own alike; its path names what to look at
 * again: <base> itself (scan everything), <base>/<fe> (that domain's
 * devices) or <base>/<fe>/<id>[/...] (one device). Looking again is
 * idempotent -- "does the directory exist, do we know it" -- so a missed or
 * merged event costs nothing, and entries that are malformed now (say,
 * written node by node and not complete yet) are simply ignored until the
 * next event shows them whole.
 *
 * A device's life:
 *
 *   directory appears ──> probe() ──ok──> InitWait ──front Initialised──>
 *        │                 │                │        connect() ──> Connected
 *        │                 └─refused─> error node, Closed
 *   front Connected while we are not: a back end before us (restarted)
 *        has it; ignored until it starts again from Initialising
 *        │
 *   front Closing ──> disconnect(), Closing    front Closed ──> disconnect(), Closed
 *   front Initialising while we are Closed ──> InitWait (a reconnect)
 *   our directory removed (the toolstack) ──> disconnect(), remove(), freed
 *   front end gone: its directory vanished after we had seen it, or its
 *   domain was introduced and no longer is (@releaseDomain), or the
 *   caller knows it died (xbbe_frontends_gone(): blkback's VIRQ_DOM_EXC)
 *       ──> disconnect(), Closed, and our directory is removed HERE
 *       (the device goes even when the store does not answer)
 *
 * That last step is the toolstack's job in Xen (libxl's per-domain device
 * cleanup); xenon-monitor does it too, but a domain created without one
 * (or dying while it is down) must not leave it behind, so the back
 * end removes what it served. Closed is written, and then the
 * directory removed, each in a transaction that first reads our state
 * node: if it is no longer what we wrote, the toolstack has re-created the
 * device for a new domain with the same domid and we leave it alone (the
 * transaction conflicts if it does so meanwhile).
 * For the same reason a known device whose state node suddenly reads other
 * than what we last wrote is taken as a new incarnation: the old one is
 * disconnected and removed, the new one probed.
 *
 * Everything runs in the thread calling xbbe_dispatch() (and the driver's
 * calls back into the library from its callbacks); the library is not
 * thread-safe.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>
#include <xen/xen.h>

#include "xenbus_be.h"
#include "xg_decimal.h"

#define TXN_RETRIES 16
#define PATH_MAX_BE 256 /* bytes of a path we build or accept */
#define TYPE_MAX 16

struct be_dev {
	struct xbbe_dev pub;
	struct be_dev *next;
	char *fe_state; /* "<frontend>/state" */
	char token[96];
	bool watching;
	bool accepted;	    /* probe() said yes */
	bool frontend_seen; /* its directory existed once */
	bool fe_introduced; /* its domain was introduced once */
	bool mark;	    /* scan bookkeeping */
};

struct xbbe {
	struct xs_handle *xs;
	unsigned int self;
	const struct xbbe_driver *drv;
	char base[64]; /* /local/domain/<self>/backend/<type> */
	size_t base_len;
	char base_token[64], release_token[64], fe_prefix[64];
	struct be_dev *devs;
	unsigned int nr_devs, max_devs;
	bool logged_malformed, logged_limit;
	void (*log)(void *ctx, const char *msg);
	void *log_ctx;
};

/* ---- small helpers ---- */

__attribute__((format(printf, 2, 3))) static void be_log(struct xbbe *be, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (be->log)
		be->log(be->log_ctx, msg);
	else
		fprintf(stderr, "xenbus_be: %s\n", msg);
}

/* Decimal of at most 20 bytes, no sign, blanks or junk, <= max (the guest
 * library's parser, header-only for dom0 code too). */
static int parse_uint(const char *s, size_t len, unsigned long max, unsigned long *ret)
{
	uint64_t v;

	if (len > 20 || xg_parse_u64(s, len, max, &v))
		return -EINVAL;
	*ret = (unsigned long)v;
	return 0;
}

static bool node_exists(struct xbbe *be, xs_transaction_t t, const char *path)
{
	unsigned int len;
	char *v = xs_read(be->xs, t, path, &len);

	free(v);
	return v != NULL;
}

static char *read_node(struct xbbe *be, const char *dir, const char *node)
{
	char path[PATH_MAX_BE + 64];
	unsigned int len;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, node) >= sizeof(path))
		return NULL;
	return xs_read(be->xs, XBT_NULL, path, &len);
}

static bool valid_store_path(const char *s)
{
	size_t len = strlen(s);

	if (len < 2 || len >= PATH_MAX_BE || s[0] != '/' || s[len - 1] == '/' || strstr(s, "//"))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@") ==
	       len;
}

static struct be_dev *find_dev(struct xbbe *be, unsigned int fe, unsigned int id)
{
	for (struct be_dev *d = be->devs; d; d = d->next)
		if (d->pub.frontend_id == fe && d->pub.id == id)
			return d;
	return NULL;
}

/* ---- writes that never re-create a removed directory ---- */

/* What a guarded write checks inside its transaction: 0 to write, or the
 * errno that ends it (the transaction aborted). */
typedef int txn_check_fn(struct xbbe *be, xs_transaction_t t, const void *arg);

/* path = value in one transaction, if check says so there (retried on
 * conflicts): 0, -errno from check, or -errno of the store. */
static int txn_write_checked(struct xbbe *be, const char *path, const char *value,
			     txn_check_fn *check, const void *arg)
{
	for (int i = 0; i < TXN_RETRIES; i++) {
		xs_transaction_t t = xs_transaction_start(be->xs);
		int err;

		if (t == XBT_NULL)
			return errno ? -errno : -EIO;
		err = check(be, t, arg);
		if (!err && !xs_write(be->xs, t, path, value, strlen(value)))
			err = errno ? errno : EIO;
		if (err) {
			xs_transaction_end(be->xs, t, true);
			return -err;
		}
		if (xs_transaction_end(be->xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

static int dir_exists(struct xbbe *be, xs_transaction_t t, const void *dir)
{
	return node_exists(be, t, dir) ? 0 : ENOENT;
}

/* Writes path = value if the device's directory (<nodename>) exists:
 * 0, -ENOENT, -errno. */
static int write_path_if_exists(struct xbbe_dev *dev, const char *path, const char *value)
{
	return txn_write_checked(dev->be, path, value, dir_exists, dev->nodename);
}

/* <nodename>/<node> = value if <nodename> exists. */
static int write_if_exists(struct xbbe_dev *dev, const char *node, const char *value)
{
	char path[PATH_MAX_BE + 64];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dev->nodename, node) >= sizeof(path))
		return -ENAMETOOLONG;
	return write_path_if_exists(dev, path, value);
}

int xbbe_switch_state(struct xbbe_dev *dev, enum xenbus_state state)
{
	char value[8];
	int rc;

	if (state == dev->state)
		return 0;
	snprintf(value, sizeof(value), "%u", (unsigned int)state);
	if ((rc = write_if_exists(dev, "state", value)))
		return rc;
	dev->state = state;
	return 0;
}

int xbbe_printf(struct xbbe_dev *dev, const char *node, const char *fmt, ...)
{
	char *value;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	rc = write_if_exists(dev, node, value);
	free(value);
	return rc;
}

char *xbbe_read(struct xbbe_dev *dev, const char *node)
{
	return read_node(dev->be, dev->nodename, node);
}

int xbbe_read_frontend_uint(struct xbbe_dev *dev, const char *node, unsigned long *ret)
{
	char *v = read_node(dev->be, dev->frontend, node);
	int rc;

	if (!v)
		return errno == ENOENT || !errno ? -ENOENT : -errno;
	rc = parse_uint(v, strlen(v), ~0UL, ret);
	free(v);
	return rc;
}

/* ---- errors ---- */

static void error_path(struct xbbe_dev *dev, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/%u/error/backend/%s/%u/%u", dev->be->self,
		 dev->be->drv->type, dev->frontend_id, dev->id);
}

static void dev_verror(struct xbbe_dev *dev, int err, const char *fmt, va_list ap)
{
	char msg[256], path[PATH_MAX_BE], value[300];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(value, sizeof(value), "%d %s", err < 0 ? -err : err, msg);
	error_path(dev, path, sizeof(path));
	strncat(path, "/error", sizeof(path) - strlen(path) - 1);
	/* Only about a device still there: one the toolstack removed meanwhile
	 * (a probe cut short by a destroy) had its reports cleared with it,
	 * and a new domain with its domid must not inherit one. */
	write_path_if_exists(dev, path, value);
	be_log(dev->be, "%s: %s", dev->nodename, value);
}

__attribute__((format(printf, 3, 4))) static void dev_error(struct xbbe_dev *dev, int err,
							    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_verror(dev, err, fmt, ap);
	va_end(ap);
}

void xbbe_fatal(struct xbbe_dev *dev, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_verror(dev, err, fmt, ap);
	va_end(ap);
	xbbe_switch_state(dev, XenbusStateClosing);
}

/* ---- a device's life ---- */

static void dev_disconnect(struct be_dev *d)
{
	if (!d->pub.connected)
		return;
	d->pub.connected = false;
	if (d->pub.be->drv->disconnect)
		d->pub.be->drv->disconnect(&d->pub);
}

static void dev_connect(struct be_dev *d)
{
	const struct xbbe_driver *drv = d->pub.be->drv;
	int rc = drv->connect ? drv->connect(&d->pub) : 0;

	if (rc) {
		xbbe_fatal(&d->pub, rc, "connecting to the front end");
		return;
	}
	d->pub.connected = true;
	if (xbbe_switch_state(&d->pub, XenbusStateConnected))
		dev_disconnect(d);
}

/* Unlinks, unwatches, remove(), frees. */
static void dev_destroy(struct xbbe *be, struct be_dev *d)
{
	char path[PATH_MAX_BE];

	for (struct be_dev **pp = &be->devs; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			be->nr_devs--;
			break;
		}
	}
	dev_disconnect(d);
	if (d->watching)
		xs_unwatch(be->xs, d->fe_state, d->token);
	if (be->drv->remove)
		be->drv->remove(&d->pub);
	error_path(&d->pub, path, sizeof(path));
	xs_rm(be->xs, XBT_NULL, path);
	free(d->fe_state);
	free(d->pub.nodename);
	free(d->pub.frontend);
	free(d);
}

/* Our directory goes, with <base>/<fe> if it was the domain's last device,
 * unless a new incarnation has replaced it (see the top of this file). */
static void remove_backend_dir(struct xbbe *be, struct be_dev *d)
{
	char state[PATH_MAX_BE + 8], parent[PATH_MAX_BE];

	snprintf(state, sizeof(state), "%s/state", d->pub.nodename);
	snprintf(parent, sizeof(parent), "%s/%u", be->base, d->pub.frontend_id);
	for (int i = 0; i < TXN_RETRIES; i++) {
		xs_transaction_t t = xs_transaction_start(be->xs);
		unsigned int len, n = 0;
		char *v, **kids;
		unsigned long st;
		bool ours;

		if (t == XBT_NULL)
			return;
		v = xs_read(be->xs, t, state, &len);
		ours = v && !parse_uint(v, len, XenbusStateReconfigured, &st) &&
		       st == XenbusStateClosed;
		free(v);
		kids = ours ? xs_directory(be->xs, t, parent, &n) : NULL;
		free(kids);
		if (!ours) {
			xs_transaction_end(be->xs, t, true);
			return;
		}
		xs_rm(be->xs, t, n <= 1 ? parent : d->pub.nodename);
		if (xs_transaction_end(be->xs, t, false) || errno != EAGAIN)
			return;
	}
}

struct state_is {
	const char *path;
	unsigned int want;
};

/* The state node reads exactly want. */
static int state_unchanged(struct xbbe *be, xs_transaction_t t, const void *arg)
{
	const struct state_is *si = arg;
	unsigned int len;
	unsigned long st;
	char *v = xs_read(be->xs, t, si->path, &len);
	int err = 0;

	if (!v)
		err = errno == ENOENT || !errno ? ENOENT : errno;
	else if (parse_uint(v, len, XenbusStateReconfigured, &st) || st != si->want)
		err = ESTALE;
	free(v);
	return err;
}

/* Closed written, in one transaction, over the state we last wrote (or
 * read) only: one that reads otherwise is a new incarnation the toolstack
 * made for a new domain with the same domid (the top of this file), which
 * must keep its state: -ESTALE. -ENOENT: our directory is gone. */
static int close_if_ours(struct xbbe *be, struct be_dev *d)
{
	char state[PATH_MAX_BE + 8], value[8];
	struct state_is si = { state, d->pub.state };
	int rc;

	snprintf(state, sizeof(state), "%s/state", d->pub.nodename);
	snprintf(value, sizeof(value), "%u", (unsigned int)XenbusStateClosed);
	rc = txn_write_checked(be, state, value, state_unchanged, &si);
	if (rc == 0)
		d->pub.state = XenbusStateClosed;
	return rc;
}

/* The front end is gone for good: see the top of this file. The device
 * is torn down whatever the store says; the store only decides whether
 * its nodes go too (a store that is gone leaves them, logged). */
static void frontend_gone(struct xbbe *be, struct be_dev *d)
{
	int rc;

	be_log(be, "%s: front end domain %u gone; removing the device", d->pub.nodename,
	       d->pub.frontend_id);
	dev_disconnect(d);
	rc = close_if_ours(be, d);
	if (!rc)
		remove_backend_dir(be, d);
	else if (rc == -ESTALE)
		be_log(be, "%s: re-created for a new domain meanwhile; its nodes are left to it",
		       d->pub.nodename);
	else if (rc != -ENOENT)
		be_log(be, "%s: closing it in the store: %s; its nodes are left", d->pub.nodename,
		       strerror(-rc));
	dev_destroy(be, d);
}

static void react(struct be_dev *d, enum xenbus_state fs)
{
	enum xenbus_state st = d->pub.state;

	switch (fs) {
	case XenbusStateInitialising:
		if (d->accepted && st == XenbusStateClosed)
			xbbe_switch_state(&d->pub, XenbusStateInitWait); /* a reconnect */
		break;
	case XenbusStateConnected:
		/* A front end says Connected only after its back end did. One
		 * that is Connected while we are not is connected to a back
		 * end before us (this service restarted): taking over its ring
		 * would mean guessing what that one had consumed. It learns
		 * that its back end is gone (blkback.h's liveness byte) and
		 * starts again from Initialising. */
		break;
	case XenbusStateInitialised:
		if (!d->accepted || st == XenbusStateConnected || st == XenbusStateClosing)
			break;
		/* Closed: the front end came back without us seeing it pass
		 * through Initialising. */
		if (st != XenbusStateInitWait && xbbe_switch_state(&d->pub, XenbusStateInitWait))
			break;
		dev_connect(d);
		break;
	case XenbusStateClosing:
		dev_disconnect(d);
		xbbe_switch_state(&d->pub, XenbusStateClosing);
		break;
	case XenbusStateInitWait:
	case XenbusStateReconfiguring:
	case XenbusStateReconfigured:
		break; /* nothing a front end should say to us */
	default:       /* Closed, Unknown */
		dev_disconnect(d);
		xbbe_switch_state(&d->pub, XenbusStateClosed);
		break;
	}
}

static void frontend_changed(struct xbbe *be, struct be_dev *d)
{
	char *v = xs_read(be->xs, XBT_NULL, d->fe_state, &(unsigned int){ 0 });
	unsigned long fs = XenbusStateClosed;
	bool dir = node_exists(be, XBT_NULL, d->pub.frontend);

	if (dir)
		d->frontend_seen = true;
	if (!d->fe_introduced && xs_is_domain_introduced(be->xs, d->pub.frontend_id))
		d->fe_introduced = true;
	/* A state that is not a state is a front end that is broken. */
	if (v && parse_uint(v, strlen(v), XenbusStateReconfigured, &fs))
		fs = XenbusStateClosing;
	free(v);
	if (!dir && d->frontend_seen) {
		frontend_gone(be, d);
		return;
	}
	d->pub.frontend_state = (enum xenbus_state)fs;
	react(d, d->pub.frontend_state);
}

/* The domain of each device's front end: still there? */
static void domains_released(struct xbbe *be)
{
	struct be_dev *d = be->devs, *next;

	for (; d; d = next) {
		next = d->next;
		if (!d->fe_introduced)
			continue;
		errno = 0;
		/* A failed request is not a dead domain: errno tells them apart. */
		if (!xs_is_domain_introduced(be->xs, d->pub.frontend_id) && !errno)
			frontend_gone(be, d);
	}
}

int xbbe_frontends_gone(struct xbbe *be, bool (*gone)(void *ctx, struct xbbe_dev *dev), void *ctx)
{
	struct be_dev *d, *next;
	int n = 0;

	/* frontend_gone() frees only d: next stays valid. */
	for (d = be->devs; d; d = next) {
		next = d->next;
		if (gone(ctx, &d->pub)) {
			frontend_gone(be, d);
			n++;
		}
	}
	return n;
}

/* ---- discovery ---- */

static void malformed(struct xbbe *be, const char *path, const char *why)
{
	if (be->logged_malformed)
		return;
	be->logged_malformed = true;
	be_log(be, "%s: %s; ignored (logged once)", path, why);
}

/* frontend and frontend-id of a new entry, checked: the front end's
 * directory must be in the front end's own home. */
static int read_frontend(struct xbbe *be, const char *dir, unsigned int fe, char **ret)
{
	char *front = read_node(be, dir, "frontend"), *fid = read_node(be, dir, "frontend-id");
	char prefix[48];
	unsigned long id;
	int rc = -EINVAL;

	snprintf(prefix, sizeof(prefix), "/local/domain/%u/", fe);
	if (!front || !fid)
		malformed(be, dir, "no frontend or frontend-id");
	else if (parse_uint(fid, strlen(fid), DOMID_FIRST_RESERVED - 1, &id) || id != fe)
		malformed(be, dir, "frontend-id is not the domain it is filed under");
	else if (!valid_store_path(front) || strncmp(front, prefix, strlen(prefix)))
		malformed(be, dir, "frontend is not a path in the front end's home");
	else
		rc = 0;
	free(fid);
	if (rc)
		free(front);
	else
		*ret = front;
	return rc;
}

static int watch_frontend(struct xbbe *be, struct be_dev *d)
{
	if (asprintf(&d->fe_state, "%s/state", d->pub.frontend) < 0) {
		d->fe_state = NULL;
		return -ENOMEM;
	}
	snprintf(d->token, sizeof(d->token), "%s%u/%u", be->fe_prefix, d->pub.frontend_id,
		 d->pub.id);
	if (!xs_watch(be->xs, d->fe_state, d->token))
		return errno ? -errno : -EIO;
	d->watching = true;
	return 0;
}

static void probe(struct xbbe *be, struct be_dev *d)
{
	int rc = be->drv->probe ? be->drv->probe(&d->pub) : 0;

	if (rc) {
		dev_error(&d->pub, rc, "probing the device");
		xbbe_switch_state(&d->pub, XenbusStateClosed);
		return;
	}
	d->accepted = true;
	xbbe_switch_state(&d->pub, XenbusStateInitWait);
}

static struct be_dev *new_dev(struct xbbe *be, const char *dir, unsigned int fe, unsigned int id,
			      char *front)
{
	struct be_dev *d = calloc(1, sizeof(*d));
	char *st;
	unsigned long s;

	if (!d || !(d->pub.nodename = strdup(dir))) {
		free(d);
		free(front);
		return NULL;
	}
	d->pub.be = be;
	d->pub.frontend = front;
	d->pub.frontend_id = fe;
	d->pub.id = id;
	d->pub.state = XenbusStateUnknown;
	d->pub.frontend_state = XenbusStateUnknown;
	if ((st = read_node(be, dir, "state")) &&
	    !parse_uint(st, strlen(st), XenbusStateReconfigured, &s))
		d->pub.state = (enum xenbus_state)s;
	free(st);
	d->next = be->devs;
	be->devs = d;
	be->nr_devs++;
	return d;
}

static void add_device(struct xbbe *be, const char *dir, unsigned int fe, unsigned int id)
{
	struct be_dev *d;
	char *front;
	int rc;

	if (be->nr_devs >= be->max_devs) {
		if (!be->logged_limit)
			be_log(be, "%s: limit of %u devices reached; ignored (logged once)", dir,
			       be->max_devs);
		be->logged_limit = true;
		return;
	}
	if (read_frontend(be, dir, fe, &front) || !(d = new_dev(be, dir, fe, id, front)))
		return;
	probe(be, d);
	/* After probe: its initial event finds the device ready to react. */
	if ((rc = watch_frontend(be, d)))
		xbbe_fatal(&d->pub, rc, "watching the front end's state");
}

/* <base>/<fe>/<id>: is it there, do we know it, is it still the same? */
static void reconcile(struct xbbe *be, unsigned int fe, unsigned int id)
{
	struct be_dev *d = find_dev(be, fe, id);
	char dir[PATH_MAX_BE], *st;
	unsigned long s;

	snprintf(dir, sizeof(dir), "%s/%u/%u", be->base, fe, id);
	if (d)
		d->mark = true;
	if (!node_exists(be, XBT_NULL, dir)) {
		if (d)
			dev_destroy(be, d); /* the toolstack removed it */
		return;
	}
	if (!d) {
		add_device(be, dir, fe, id);
		return;
	}
	st = read_node(be, dir, "state");
	if (st && !parse_uint(st, strlen(st), XenbusStateReconfigured, &s) && s != d->pub.state &&
	    d->pub.state != XenbusStateUnknown) {
		be_log(be, "%s: re-created by the toolstack; probing again", dir);
		dev_destroy(be, d);
		add_device(be, dir, fe, id);
	}
	free(st);
}

static int parse_fe(struct xbbe *be, const char *name, size_t len, unsigned int *ret)
{
	unsigned long v;

	if (parse_uint(name, len, DOMID_FIRST_RESERVED - 1, &v)) {
		malformed(be, be->base, "an entry that is not a domid");
		return -EINVAL;
	}
	*ret = (unsigned int)v;
	return 0;
}

/* Devices of <base>/<fe>: each listed one looked at, then the known ones
 * of that domain that were not listed (gone). */
static void scan_fe(struct xbbe *be, unsigned int fe)
{
	char dir[PATH_MAX_BE];
	unsigned int n = 0;
	char **ids;
	struct be_dev *d, *next;

	snprintf(dir, sizeof(dir), "%s/%u", be->base, fe);
	for (d = be->devs; d; d = d->next)
		if (d->pub.frontend_id == fe)
			d->mark = false;
	ids = xs_directory(be->xs, XBT_NULL, dir, &n);
	for (unsigned int i = 0; ids && i < n; i++) {
		unsigned long id;

		if (parse_uint(ids[i], strlen(ids[i]), 0xffffffffUL, &id))
			malformed(be, dir, "an entry that is not a device id");
		else
			reconcile(be, fe, (unsigned int)id); /* marks it */
	}
	free(ids);
	for (d = be->devs; d; d = next) {
		next = d->next;
		if (d->pub.frontend_id == fe && !d->mark)
			reconcile(be, fe, d->pub.id);
	}
}

static void scan_all(struct xbbe *be)
{
	unsigned int n = 0, fe;
	char **fes = xs_directory(be->xs, XBT_NULL, be->base, &n);
	struct be_dev *d, *next;

	for (d = be->devs; d; d = d->next)
		d->mark = false;
	for (unsigned int i = 0; fes && i < n; i++)
		if (!parse_fe(be, fes[i], strlen(fes[i]), &fe))
			scan_fe(be, fe);
	free(fes);
	/* Devices of domains no longer listed were not looked at: gone. */
	for (d = be->devs; d; d = next) {
		next = d->next;
		if (!d->mark)
			reconcile(be, d->pub.frontend_id, d->pub.id);
	}
}

/* An event under <base>: which part of the tree to look at again. */
static void backend_event(struct xbbe *be, const char *path)
{
	const char *rest = path + be->base_len, *slash;
	unsigned int fe;
	unsigned long id;

	if (strncmp(path, be->base, be->base_len) || (*rest && *rest != '/'))
		return;
	if (!*rest || !rest[1]) {
		scan_all(be);
		return;
	}
	rest++;
	slash = strchr(rest, '/');
	if (parse_fe(be, rest, slash ? (size_t)(slash - rest) : strlen(rest), &fe))
		return;
	if (!slash) {
		scan_fe(be, fe);
		return;
	}
	rest = slash + 1;
	slash = strchr(rest, '/');
	if (parse_uint(rest, slash ? (size_t)(slash - rest) : strlen(rest), 0xffffffffUL, &id)) {
		malformed(be, path, "an entry that is not a device id");
		return;
	}
	reconcile(be, fe, (unsigned int)id);
}

static void handle_event(struct xbbe *be, const char *path, const char *token)
{
	size_t plen = strlen(be->fe_prefix);

	if (!strcmp(token, be->base_token)) {
		backend_event(be, path);
	} else if (!strcmp(token, be->release_token)) {
		domains_released(be);
	} else if (!strncmp(token, be->fe_prefix, plen)) {
		for (struct be_dev *d = be->devs; d; d = d->next) {
			if (d->watching && !strcmp(d->token, token)) {
				frontend_changed(be, d);
				break;
			}
		}
	} /* else: a stale event for a watch already gone */
}

int xbbe_dispatch(struct xbbe *be)
{
	int n;

	for (n = 0; n < XBBE_DISPATCH_MAX; n++) {
		char **ev = xs_check_watch(be->xs);

		if (!ev) {
			if (errno == EAGAIN)
				break;
			return errno ? -errno : -EIO;
		}
		handle_event(be, ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
		free(ev);
	}
	return n;
}

/* ---- the back end ---- */

static bool valid_type(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	return n > 0 && n < TYPE_MAX && strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

int xbbe_create(struct xs_handle *xs, unsigned int self, const struct xbbe_driver *drv,
		struct xbbe **ret_be)
{
	struct xbbe *be;

	if (!xs || !drv || !valid_type(drv->type) || self >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (!(be = calloc(1, sizeof(*be))))
		return -ENOMEM;
	be->xs = xs;
	be->self = self;
	be->drv = drv;
	be->max_devs = XBBE_MAX_DEVICES;
	be->base_len = (size_t)snprintf(be->base, sizeof(be->base), "/local/domain/%u/backend/%s",
					self, drv->type);
	snprintf(be->base_token, sizeof(be->base_token), "xbbe/%s", drv->type);
	snprintf(be->release_token, sizeof(be->release_token), "xbbe/%s/@release", drv->type);
	snprintf(be->fe_prefix, sizeof(be->fe_prefix), "xbbe/%s/fe/", drv->type);
	if (!xs_watch(xs, be->base, be->base_token)) {
		int rc = errno ? -errno : -EIO;

		free(be);
		return rc;
	}
	if (!xs_watch(xs, "@releaseDomain", be->release_token)) {
		int rc = errno ? -errno : -EIO;

		xs_unwatch(xs, be->base, be->base_token);
		free(be);
		return rc;
	}
	*ret_be = be;
	return 0;
}

void xbbe_destroy(struct xbbe *be)
{
	if (!be)
		return;
	while (be->devs) {
		struct be_dev *d = be->devs;

		dev_disconnect(d);
		/* The front end must learn that nobody serves it any more. */
		xbbe_switch_state(&d->pub, XenbusStateClosed);
		dev_destroy(be, d);
	}
	xs_unwatch(be->xs, "@releaseDomain", be->release_token);
	xs_unwatch(be->xs, be->base, be->base_token);
	free(be);
}

int xbbe_fd(const struct xbbe *be)
{
	return xs_fileno(be->xs);
}

void xbbe_set_log(struct xbbe *be, void (*log)(void *ctx, const char *msg), void *ctx)
{
	be->log = log;
	be->log_ctx = ctx;
}

void xbbe_set_max_devices(struct xbbe *be, unsigned int max)
{
	be->max_devs = max < XBBE_MAX_DEVICES ? max : XBBE_MAX_DEVICES;
}

unsigned int xbbe_nr_devices(const struct xbbe *be)
{
	return be->nr_devs;
}
