/*
 * The toolstack's transaction writer (tools/xenon/txn.h) against a real
 * xenon-xenstored in a private run dir (path in $XENON_XENSTORED, readiness
 * through --ready-fd). The writer runs on one libxenstore connection; a
 * second one reads the result and plays the other writer that makes a
 * commit conflict.
 *
 * xenstored sets dom0 no transaction quota, so a transaction left open
 * would go unseen: this program defines libxenstore's transaction calls
 * itself (the executable's definitions win over the library's for txn.c
 * too), counts them and forwards them to the library.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>

#include "xsd_fixture.h"

#include "txn.h"

static struct fixture {
	struct xsd_fixture xsd;
	struct xs_handle *xs, *other;
	unsigned int started, committed, aborted;
} fx;

/* ---- libxenstore's transaction calls, counted ---- */

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
	static xs_transaction_t (*real)(struct xs_handle *);
	xs_transaction_t t;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "xs_transaction_start");
	cr_assert_not_null(real);
	t = real(h);
	if (t != XBT_NULL)
		fx.started++;
	return t;
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
	static bool (*real)(struct xs_handle *, xs_transaction_t, bool);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "xs_transaction_end");
	cr_assert_not_null(real);
	if (abort)
		fx.aborted++;
	else
		fx.committed++;
	return real(h, t, abort);
}

/* Every transaction the writer started was ended, ABORTED of them aborted. */
static void assert_all_ended(unsigned int aborted)
{
	cr_assert_eq(fx.started, fx.committed + fx.aborted, "started %u, committed %u, aborted %u",
		     fx.started, fx.committed, fx.aborted);
	cr_assert_eq(fx.aborted, aborted, "aborted %u, want %u", fx.aborted, aborted);
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	xsd_start_clients(&fx.xsd, "xenon-txn", &fx.xs, &fx.other);
}

static void teardown(void)
{
	xsd_stop_clients(&fx.xsd, fx.xs, fx.other);
}

TestSuite(xenon_txn, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static const struct xs_permissions dom0_r5[2] = { { 0, XS_PERM_NONE }, { 5, XS_PERM_READ } };
static const struct xs_permissions dom5_r0[2] = { { 5, XS_PERM_NONE }, { 0, XS_PERM_READ } };

/* The value at PATH through the other connection, or NULL if absent. */
static char *peek(const char *path)
{
	unsigned int n;

	return xs_read(fx.other, XBT_NULL, path, &n);
}

static bool exists(const char *path)
{
	char *v = peek(path);

	free(v);
	return v != NULL;
}

static void assert_value(const char *path, const char *want)
{
	char *v = peek(path);

	cr_assert_not_null(v, "%s is missing", path);
	cr_assert_str_eq(v, want, "%s", path);
	free(v);
}

static void assert_perms(const char *path, const struct xs_permissions *want, unsigned int nr)
{
	unsigned int n = 0;
	struct xs_permissions *p = xs_get_permissions(fx.other, XBT_NULL, path, &n);

	cr_assert_not_null(p, "%s has no permissions", path);
	cr_assert_eq(n, nr, "%s: %u permissions, want %u", path, n, nr);
	for (unsigned int i = 0; i < nr; i++) {
		cr_assert_eq(p[i].id, want[i].id, "%s [%u]", path, i);
		cr_assert_eq(p[i].perms, want[i].perms, "%s [%u]", path, i);
	}
	free(p);
}

/* ---- writing ---- */

static void fill_tree(struct xenon_txn *t, const void *arg)
{
	(void)arg;
	xenon_txn_put(t, "/t", NULL, dom0_r5, 2);
	xenon_txn_put(t, "/t/inherits", "a", NULL, 0);
	xenon_txn_put(t, "/t/own", "b", dom5_r0, 2);
	xenon_txn_put(t, "/t/dir", NULL, dom5_r0, 1);
	xenon_txn_put(t, "/t/empty", "", NULL, 0);
}

Test(xenon_txn, values_directories_and_permissions)
{
	cr_assert_eq(xenon_txn_run(fx.xs, fill_tree, NULL), 0);
	assert_value("/t/inherits", "a");
	assert_value("/t/own", "b");
	assert_value("/t/empty", "");
	assert_value("/t/dir", "");
	assert_perms("/t", dom0_r5, 2);
	assert_perms("/t/inherits", dom0_r5, 2); /* no PERMS: the parent's */
	assert_perms("/t/own", dom5_r0, 2);
	assert_perms("/t/dir", dom5_r0, 1); /* NR counts, not the array */
	assert_all_ended(0);
	cr_assert_eq(fx.committed, 1);
}

/* What the toolstack's writers rely on to set permissions on directories
 * only: a directory made by writing below it takes its parent's too. */
static void fill_implicit(struct xenon_txn *t, const void *arg)
{
	(void)arg;
	xenon_txn_put(t, "/i", NULL, dom0_r5, 2);
	xenon_txn_put(t, "/i/made/by/write", "v", NULL, 0);
	xenon_txn_put(t, "/i/own", NULL, dom5_r0, 2);
	xenon_txn_put(t, "/i/own/deep/value", "w", NULL, 0);
}

Test(xenon_txn, directories_made_by_a_write_inherit)
{
	cr_assert_eq(xenon_txn_run(fx.xs, fill_implicit, NULL), 0);
	assert_perms("/i/made", dom0_r5, 2);
	assert_perms("/i/made/by", dom0_r5, 2);
	assert_perms("/i/made/by/write", dom0_r5, 2);
	assert_perms("/i/own/deep", dom5_r0, 2);
	assert_perms("/i/own/deep/value", dom5_r0, 2);
	assert_all_ended(0);
}

/* ---- the sticky failure ---- */

struct runs {
	unsigned int n;
	bool fail_first_only;
};

static void fill_bad_middle(struct xenon_txn *t, const void *arg)
{
	struct runs *r = (struct runs *)arg;

	r->n++;
	xenon_txn_put(t, "/s", NULL, dom0_r5, 2);
	xenon_txn_put(t, "/s/before", "1", NULL, 0);
	xenon_txn_put(t, "/s/bad.name", "2", NULL, 0); /* '.' is no path character */
	cr_assert(t->failed);
	xenon_txn_put(t, "/s/after", "3", NULL, 0);
	xenon_txn_rm(t, "/s/before");
	/* Later failures do not replace the first one. */
	errno = ENOSPC;
	xenon_txn_fail(t);
}

Test(xenon_txn, first_failure_is_kept_and_nothing_is_written)
{
	struct runs r = { 0 };

	cr_assert_eq(xenon_txn_run(fx.xs, fill_bad_middle, &r), -EINVAL);
	cr_assert_eq(r.n, 1, "a failure is not retried");
	cr_assert(!exists("/s"), "the aborted transaction left nodes");
	cr_assert(!exists("/s/before"));
	cr_assert(!exists("/s/after"));
	assert_all_ended(1);
	cr_assert_eq(fx.committed, 0);
}

static void fill_fail_errno(struct xenon_txn *t, const void *arg)
{
	(void)arg;
	errno = 0;
	xenon_txn_fail(t);
}

Test(xenon_txn, a_failure_without_errno_is_eio)
{
	cr_assert_eq(xenon_txn_run(fx.xs, fill_fail_errno, NULL), -EIO);
	assert_all_ended(1);
}

/* ---- removing ---- */

static void fill_rm(struct xenon_txn *t, const void *arg)
{
	(void)arg;
	xenon_txn_rm(t, "/t");		  /* a tree */
	xenon_txn_rm(t, "/nothere");	  /* absent: no failure */
	xenon_txn_rm(t, "/nothere/deep"); /* nor its parent */
	xenon_txn_put(t, "/u", "after", NULL, 0);
}

Test(xenon_txn, rm_removes_a_tree_and_ignores_what_is_absent)
{
	cr_assert_eq(xenon_txn_run(fx.xs, fill_tree, NULL), 0);
	cr_assert_eq(xenon_txn_run(fx.xs, fill_rm, NULL), 0);
	cr_assert(!exists("/t"));
	cr_assert(!exists("/t/own"));
	assert_value("/u", "after");
	assert_all_ended(0);
}

/* ---- conflicts ---- */

/* Reads /c/x in the transaction, then (the first time, or always) has the
 * other connection change it before the commit: the commit conflicts. */
static void fill_conflict(struct xenon_txn *t, const void *arg)
{
	struct runs *r = (struct runs *)arg;
	unsigned int n;
	char *v = xs_read(t->xs, t->t, "/c/x", &n);
	char val[16];

	free(v);
	r->n++;
	if (!r->fail_first_only || r->n == 1) {
		snprintf(val, sizeof(val), "%u", r->n);
		cr_assert(xs_write(fx.other, XBT_NULL, "/c/x", val, strlen(val)));
	}
	xenon_txn_put(t, "/c/y", "written", NULL, 0);
}

Test(xenon_txn, a_conflict_runs_the_writer_again)
{
	struct runs r = { .fail_first_only = true };

	cr_assert(xs_write(fx.other, XBT_NULL, "/c/x", "0", 1));
	cr_assert_eq(xenon_txn_run(fx.xs, fill_conflict, &r), 0);
	cr_assert_eq(r.n, 2, "ran %u times", r.n);
	assert_value("/c/y", "written");
	assert_value("/c/x", "1");
	assert_all_ended(0);
	cr_assert_eq(fx.started, 2);
}

Test(xenon_txn, conflicts_are_retried_a_bounded_number_of_times)
{
	struct runs r = { .fail_first_only = false };

	cr_assert(xs_write(fx.other, XBT_NULL, "/c/x", "0", 1));
	cr_assert_eq(xenon_txn_run(fx.xs, fill_conflict, &r), -EAGAIN);
	cr_assert_eq(r.n, XENON_TXN_RETRIES);
	cr_assert(!exists("/c/y"), "no run committed");
	assert_all_ended(0);
	cr_assert_eq(fx.started, XENON_TXN_RETRIES);
}

/* ---- a list that decides to stop ---- */

static void fill_abort(struct xenon_txn *t, const void *arg)
{
	struct runs *r = (struct runs *)arg;

	r->n++;
	xenon_txn_put(t, "/a", "1", NULL, 0);
	xenon_txn_abort(t, -ESTALE);
	cr_assert(t->failed);
	xenon_txn_put(t, "/b", "2", NULL, 0);
	xenon_txn_abort(t, -ENOENT); /* the first one stays */
}

Test(xenon_txn, abort_stops_with_the_callers_error_and_writes_nothing)
{
	struct runs r = { 0 };

	cr_assert_eq(xenon_txn_run(fx.xs, fill_abort, &r), -ESTALE);
	cr_assert_eq(r.n, 1, "an abort is not retried");
	cr_assert(!exists("/a"));
	cr_assert(!exists("/b"));
	assert_all_ended(1);
}

/* What the removal's check relies on: a node read in the transaction and
 * written by someone else before the commit, created or changed, is a
 * conflict, so the list runs again and reads the new value. */
struct decide {
	unsigned int n;
	const char *mine; /* the token that lets the list remove /d (NULL: none) */
};

static void fill_read_then_decide(struct xenon_txn *t, const void *arg)
{
	struct decide *r = (struct decide *)arg;
	unsigned int n;
	char *v = xs_read(t->xs, t->t, "/d/token", &n);
	bool mine = v && r->mine ? !strcmp(v, r->mine) : v == r->mine;

	r->n++;
	if (r->n == 1)
		cr_assert(xs_write(fx.other, XBT_NULL, "/d/token", "new", 3));
	if (mine)
		xenon_txn_rm(t, "/d");
	else
		xenon_txn_abort(t, -ESTALE);
	free(v);
}

Test(xenon_txn, a_value_read_then_replaced_is_read_again)
{
	struct decide r = { .mine = "old" };

	cr_assert(xs_write(fx.other, XBT_NULL, "/d/token", "old", 3));
	cr_assert_eq(xenon_txn_run(fx.xs, fill_read_then_decide, &r), -ESTALE);
	cr_assert_eq(r.n, 2, "ran %u times", r.n);
	assert_value("/d/token", "new");
	assert_all_ended(1);
}

Test(xenon_txn, a_value_read_absent_then_created_is_read_again)
{
	struct decide r = { .mine = NULL };

	cr_assert_eq(xenon_txn_run(fx.xs, fill_read_then_decide, &r), -ESTALE);
	cr_assert_eq(r.n, 2, "ran %u times", r.n);
	assert_value("/d/token", "new");
	assert_all_ended(1);
}
