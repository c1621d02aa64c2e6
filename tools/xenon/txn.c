/* See txn.h. Every libxenstore call sets errno on failure. */
#include <errno.h>
#include <string.h>

#include "txn.h"

void xenon_txn_abort(struct xenon_txn *t, int err)
{
	if (!t->failed) {
		t->failed = true;
		t->err = err;
	}
}

void xenon_txn_fail(struct xenon_txn *t)
{
	xenon_txn_abort(t, errno ? -errno : -EIO);
}

void xenon_txn_put(struct xenon_txn *t, const char *path, const char *value,
		   const struct xs_permissions *perms, unsigned int nr)
{
	bool ok;

	if (t->failed)
		return;
	if (value)
		ok = xs_write(t->xs, t->t, path, value, strlen(value));
	else
		ok = xs_mkdir(t->xs, t->t, path);
	/* libxenstore takes the array as non-const but only reads it. */
	if (ok && perms)
		ok = xs_set_permissions(t->xs, t->t, path, (struct xs_permissions *)perms, nr);
	if (!ok)
		xenon_txn_fail(t);
}

void xenon_txn_rm(struct xenon_txn *t, const char *path)
{
	if (!t->failed && !xs_rm(t->xs, t->t, path) && errno != ENOENT)
		xenon_txn_fail(t);
}

int xenon_txn_run(struct xs_handle *xs, void (*fill)(struct xenon_txn *t, const void *arg),
		  const void *arg)
{
	for (int i = 0; i < XENON_TXN_RETRIES; i++) {
		struct xenon_txn t = { .xs = xs };

		if ((t.t = xs_transaction_start(xs)) == XBT_NULL)
			return errno ? -errno : -EIO;
		fill(&t, arg);
		if (t.failed) {
			xs_transaction_end(xs, t.t, true);
			return t.err;
		}
		if (xs_transaction_end(xs, t.t, false))
			return 0;
		if (errno != EAGAIN)
			return errno ? -errno : -EIO;
	}
	return -EAGAIN;
}
