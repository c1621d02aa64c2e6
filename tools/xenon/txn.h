/*
 * The toolstack's XenStore transaction writer (store.c's domain entries,
 * create.c's device entries), over Debian's libxenstore.
 *
 * A writer is a plain list of nodes, with no error check after each:
 *
 *   static void fill(struct xenon_txn *t, const void *arg)
 *   {
 *           xenon_txn_put(t, "/a", NULL, dir_perms, 2);   a directory
 *           xenon_txn_put(t, "/a/b", "1", NULL, 0);       inherits /a's
 *           xenon_txn_put(t, "/a/c", "2", dir_perms, 2);
 *   }
 *   rc = xenon_txn_run(xs, fill, arg);
 *
 * The first call that fails records its errno; every later call does
 * nothing, and xenon_txn_run() then aborts the transaction, so none of the
 * list is written, and returns that error. A commit that conflicts with
 * another writer (EAGAIN) runs the whole list again in a new transaction,
 * XENON_TXN_RETRIES times at most.
 *
 * A list may read first and decide (store.c's removal checks whose domain
 * the entries are): what it reads with t->t is part of the transaction, so
 * a change to it before the commit is a conflict and the list runs again
 * on what is there then. xenon_txn_abort() ends the list with the caller's
 * own error, nothing written.
 */
#ifndef XENON_TXN_H
#define XENON_TXN_H

#include <stdbool.h>

#include <xenstore.h>

#define XENON_TXN_RETRIES 16

struct xenon_txn {
	struct xs_handle *xs;
	xs_transaction_t t;
	bool failed;
	int err; /* the first failure's -errno */
};

/* FILL(t, ARG) in a transaction until it commits: 0, the first failure's
 * -errno (nothing written), or -EAGAIN after XENON_TXN_RETRIES conflicts. */
int xenon_txn_run(struct xs_handle *xs, void (*fill)(struct xenon_txn *t, const void *arg),
		  const void *arg);

/* Records -errno (-EIO if errno is 0) unless a failure is recorded already. */
void xenon_txn_fail(struct xenon_txn *t);
/* Records ERR (a negative errno) unless a failure is recorded already: the
 * rest of the list does nothing and xenon_txn_run() returns ERR. */
void xenon_txn_abort(struct xenon_txn *t, int err);
/* PATH = VALUE (VALUE NULL: PATH made a directory, as xs_mkdir), then its
 * permissions set to PERMS[0..NR) (PERMS NULL: left as xenstored gives a
 * new node, its parent's). */
void xenon_txn_put(struct xenon_txn *t, const char *path, const char *value,
		   const struct xs_permissions *perms, unsigned int nr);
/* Removes PATH and what is below it; a PATH that is not there is no failure. */
void xenon_txn_rm(struct xenon_txn *t, const char *path);

#endif /* XENON_TXN_H */
