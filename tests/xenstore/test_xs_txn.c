/* Transactions: snapshot isolation, per-node conflicts, ids, watches at
 * commit only. */
#include "xs_test_util.h"

static struct xs_store *s;
static struct rec *c0, *c1;

static void setup(void)
{
	s = xs_store_create(NULL, NULL);
	cr_assert(s);
	c0 = rec_conn(s, 0, true);
	c1 = rec_conn(s, 0, true);
	expect_ok(c0, XS_WRITE, 0, V("/t/x\0a"));
	expect_ok(c0, XS_WRITE, 0, V("/t/y\0a"));
}

static void teardown(void)
{
	rec_free(c0);
	rec_free(c1);
	xs_store_destroy(s);
}

TestSuite(xs_txn, .init = setup, .fini = teardown);

Test(xs_txn, ids_start_at_one_and_errors)
{
	cr_assert_eq(tx_start(c0), 1);
	cr_assert_eq(tx_start(c0), 2);
	expect_err(c0, XS_TRANSACTION_START, 1, "EBUSY", P(""));
	expect_err(c0, XS_READ, 99, "ENOENT", P("/t/x"));
	expect_err(c1, XS_READ, 1, "ENOENT", P("/t/x")); /* another connection's */
	expect_err(c0, XS_TRANSACTION_END, 1, "EINVAL", P("X"));
	expect_err(c0, XS_TRANSACTION_END, 1, "EINVAL", P("TT"));
	expect_ok(c0, XS_TRANSACTION_END, 1, P("F"));
	expect_err(c0, XS_TRANSACTION_END, 1, "ENOENT", P("T"));
	expect_err(c0, XS_TRANSACTION_END, 0, "ENOENT", P("T"));
	expect_ok(c0, XS_TRANSACTION_END, 2, P("T"));
}

Test(xs_txn, reply_echoes_tx_id)
{
	uint32_t t = tx_start(c0);
	struct rec_msg *m = call(c0, XS_READ, t, P("/t/x"));

	cr_assert_eq(m->hdr.tx_id, t);
	m = call(c0, XS_READ, t, P("/nope"));
	cr_assert_eq(m->hdr.tx_id, t);
	cr_assert_str_eq(m->data, "ENOENT");
}

/* test-xenstore's "ta rmw" */
Test(xs_txn, isolation_and_commit)
{
	uint32_t t = tx_start(c0);

	expect_reply(c0, XS_READ, t, V("a"), P("/t/x"));
	expect_ok(c0, XS_WRITE, t, V("/t/x\0b"));
	expect_reply(c0, XS_READ, t, V("b"), P("/t/x"));
	expect_reply(c1, XS_READ, 0, V("a"), P("/t/x"));
	expect_ok(c0, XS_WRITE, t, V("/t/new/deep\0n"));
	expect_reply(c0, XS_DIRECTORY, t, V("x\0y\0new\0"), P("/t"));
	expect_reply(c1, XS_DIRECTORY, 0, V("x\0y\0"), P("/t"));
	expect_err(c1, XS_READ, 0, "ENOENT", P("/t/new"));
	expect_ok(c0, XS_TRANSACTION_END, t, P("T"));
	expect_reply(c1, XS_READ, 0, V("b"), P("/t/x"));
	expect_reply(c1, XS_READ, 0, V("n"), P("/t/new/deep"));
	expect_reply(c1, XS_DIRECTORY, 0, V("x\0y\0new\0"), P("/t"));
}

Test(xs_txn, abort_discards)
{
	uint32_t t = tx_start(c0);

	expect_ok(c0, XS_WRITE, t, V("/t/x\0b"));
	expect_ok(c0, XS_RM, t, P("/t/y"));
	expect_err(c0, XS_READ, t, "ENOENT", P("/t/y"));
	expect_ok(c0, XS_TRANSACTION_END, t, P("F"));
	expect_reply(c1, XS_READ, 0, V("a"), P("/t/x"));
	expect_reply(c1, XS_READ, 0, V("a"), P("/t/y"));
}

/* test-xenstore's "ta err": snapshot read, then EAGAIN. */
Test(xs_txn, snapshot_and_read_conflict)
{
	uint32_t t = tx_start(c0);

	expect_reply(c0, XS_READ, t, V("a"), P("/t/x"));
	expect_ok(c1, XS_WRITE, 0, V("/t/x\0b"));
	expect_reply(c0, XS_READ, t, V("a"), P("/t/x"));
	expect_ok(c0, XS_WRITE, t, V("/t/x\0c"));
	expect_reply(c0, XS_READ, t, V("c"), P("/t/x"));
	expect_err(c0, XS_TRANSACTION_END, t, "EAGAIN", P("T"));
	expect_reply(c1, XS_READ, 0, V("b"), P("/t/x"));
}

Test(xs_txn, snapshot_of_unread_node)
{
	uint32_t t = tx_start(c0);

	/* Changed outside before the transaction first looked at it. */
	expect_ok(c1, XS_WRITE, 0, V("/t/y\0changed"));
	expect_ok(c1, XS_RM, 0, P("/t/x"));
	expect_reply(c0, XS_READ, t, V("a"), P("/t/y"));
	expect_reply(c0, XS_READ, t, V("a"), P("/t/x"));
	expect_reply(c0, XS_DIRECTORY, t, V("x\0y\0"), P("/t"));
	expect_ok(c0, XS_TRANSACTION_END, t, P("F"));
}

Test(xs_txn, write_only_conflict_is_eagain_as_c)
{
	uint32_t t = tx_start(c0);

	expect_ok(c0, XS_WRITE, t, V("/t/x\0mine"));
	expect_ok(c1, XS_WRITE, 0, V("/t/x\0theirs"));
	expect_err(c0, XS_TRANSACTION_END, t, "EAGAIN", P("T"));
	expect_reply(c1, XS_READ, 0, V("theirs"), P("/t/x"));
}

Test(xs_txn, disjoint_writes_commit)
{
	uint32_t t = tx_start(c0);

	expect_reply(c0, XS_READ, t, V("a"), P("/t/x"));
	expect_ok(c0, XS_WRITE, t, V("/t/x\0mine"));
	expect_ok(c1, XS_WRITE, 0, V("/t/y\0theirs"));
	expect_ok(c0, XS_TRANSACTION_END, t, P("T"));
	expect_reply(c1, XS_READ, 0, V("mine"), P("/t/x"));
	expect_reply(c1, XS_READ, 0, V("theirs"), P("/t/y"));
}

Test(xs_txn, sibling_creations_under_one_parent_commit)
{
	uint32_t t1 = tx_start(c0);
	uint32_t t2 = tx_start(c1);

	expect_ok(c0, XS_WRITE, t1, V("/t/p1\0one"));
	expect_ok(c1, XS_WRITE, t2, V("/t/p2\0two"));
	expect_ok(c0, XS_WRITE, 0, V("/t/p3\0three"));
	expect_ok(c0, XS_TRANSACTION_END, t1, P("T"));
	expect_ok(c1, XS_TRANSACTION_END, t2, P("T"));
	expect_reply(c1, XS_DIRECTORY, 0, V("x\0y\0p3\0p1\0p2\0"), P("/t"));
}

Test(xs_txn, listing_parent_conflicts_with_new_child)
{
	uint32_t t = tx_start(c0);

	expect_reply(c0, XS_DIRECTORY, t, V("x\0y\0"), P("/t"));
	expect_ok(c1, XS_WRITE, 0, V("/t/z\0"));
	expect_err(c0, XS_TRANSACTION_END, t, "EAGAIN", P("T"));
}

Test(xs_txn, read_absent_then_created_outside_conflicts)
{
	uint32_t t = tx_start(c0);

	expect_err(c0, XS_READ, t, "ENOENT", P("/t/q"));
	expect_ok(c1, XS_WRITE, 0, V("/t/q\0v"));
	expect_err(c0, XS_TRANSACTION_END, t, "EAGAIN", P("T"));
}

Test(xs_txn, same_child_created_twice_conflicts)
{
	uint32_t t = tx_start(c0);

	expect_ok(c0, XS_WRITE, t, V("/t/q\0mine"));
	expect_ok(c1, XS_WRITE, 0, V("/t/q\0theirs"));
	expect_err(c0, XS_TRANSACTION_END, t, "EAGAIN", P("T"));
}

Test(xs_txn, parent_removed_outside_conflicts)
{
	uint32_t t = tx_start(c0);

	expect_ok(c0, XS_WRITE, t, V("/t/q\0mine"));
	expect_ok(c1, XS_RM, 0, P("/t"));
	expect_err(c0, XS_TRANSACTION_END, t, "EAGAIN", P("T"));
	expect_err(c1, XS_READ, 0, "ENOENT", P("/t/q"));
}

Test(xs_txn, rm_in_txn_then_recreate)
{
	uint32_t t = tx_start(c0);

	expect_ok(c0, XS_WRITE, 0, V("/t/x/sub\0s"));
	t = tx_start(c0);
	expect_ok(c0, XS_RM, t, P("/t/x"));
	expect_err(c0, XS_READ, t, "ENOENT", P("/t/x/sub"));
	expect_ok(c0, XS_WRITE, t, V("/t/x/other\0o"));
	expect_reply(c0, XS_DIRECTORY, t, V("other\0"), P("/t/x"));
	expect_ok(c0, XS_TRANSACTION_END, t, P("T"));
	expect_reply(c1, XS_DIRECTORY, 0, V("other\0"), P("/t/x"));
	expect_err(c1, XS_READ, 0, "ENOENT", P("/t/x/sub"));
	expect_reply(c1, XS_READ, 0, "", 0, P("/t/x"));
}

Test(xs_txn, set_perms_in_txn)
{
	uint32_t t = tx_start(c0);

	expect_ok(c0, XS_SET_PERMS, t, P("/t/x\0r5"));
	expect_reply(c0, XS_GET_PERMS, t, V("r5\0"), P("/t/x"));
	expect_reply(c1, XS_GET_PERMS, 0, V("n0\0"), P("/t/x"));
	expect_ok(c0, XS_TRANSACTION_END, t, P("T"));
	expect_reply(c1, XS_GET_PERMS, 0, V("r5\0"), P("/t/x"));
	expect_reply(c1, XS_READ, 0, V("a"), P("/t/x"));
}

Test(xs_txn, watches_fire_at_commit_only)
{
	uint32_t t;

	expect_ok(c1, XS_WATCH, 0, P("/t\0tok"));
	t = tx_start(c0);
	expect_ok(c0, XS_WRITE, t, V("/t/x\0b"));
	call(c1, XS_READ, 0, P("/t/x"));
	cr_assert_eq(count_all_events(c1), 0);
	expect_ok(c0, XS_TRANSACTION_END, t, P("F"));
	cr_assert_eq(c1->n, 1); /* the READ reply only: nothing on abort */

	t = tx_start(c0);
	expect_ok(c0, XS_WRITE, t, V("/t/x\0b"));
	expect_ok(c0, XS_RM, t, P("/t/y"));
	rec_clear(c1);
	expect_ok(c0, XS_TRANSACTION_END, t, P("T"));
	cr_assert_eq(count_events(c1, "/t/x", "tok"), 1);
	cr_assert_eq(count_events(c1, "/t/y", "tok"), 1);
}

Test(xs_txn, many_open_and_long_lived_snapshot)
{
	uint32_t old = tx_start(c0);
	char buf[64];

	for (int i = 0; i < 200; i++) {
		int n = snprintf(buf, sizeof(buf), "/t/x%c%d", 0, i);
		uint32_t t = tx_start(c1);

		expect_ok(c1, XS_WRITE, t, buf, (size_t)n);
		expect_ok(c1, XS_TRANSACTION_END, t, P("T"));
	}
	expect_reply(c0, XS_READ, old, V("a"), P("/t/x"));
	expect_reply(c0, XS_DIRECTORY, old, V("x\0y\0"), P("/t"));
	expect_err(c0, XS_TRANSACTION_END, old, "EAGAIN", P("T"));
	expect_reply(c1, XS_READ, 0, V("199"), P("/t/x"));
}

Test(xs_txn, reset_watches_drops_transactions)
{
	uint32_t t = tx_start(c0);

	expect_ok(c0, XS_RESET_WATCHES, 0, P(""));
	expect_err(c0, XS_READ, t, "ENOENT", P("/t/x"));
}

Test(xs_txn, socket_conn_not_limited_to_ten)
{
	for (int i = 0; i < 12; i++)
		tx_start(c0);
}

/* Regression: a parent whose last child went away while a transaction kept
 * its old version had an empty child list copied with no room; adding a
 * child then looped forever (seen after RELEASE emptied /local/domain). */
Test(xs_txn, add_child_after_emptying_under_open_txn, .timeout = 10)
{
	uint32_t tx = tx_start(c1);

	expect_ok(c0, XS_RM, 0, P("/t/x"));
	expect_ok(c0, XS_RM, 0, P("/t/y"));
	expect_reply(c0, XS_DIRECTORY, 0, "", 0, P("/t"));
	expect_ok(c0, XS_WRITE, 0, V("/t/z\0b"));
	expect_reply(c0, XS_DIRECTORY, 0, V("z\0"), P("/t"));
	expect_ok(c0, XS_MKDIR, 0, P("/t/w"));
	expect_reply(c0, XS_DIRECTORY, 0, V("z\0w\0"), P("/t"));
	expect_reply(c1, XS_DIRECTORY, tx, V("x\0y\0"), P("/t"));
	expect_ok(c1, XS_TRANSACTION_END, tx, P("F"));

	/* The same inside a transaction: its private copy of the emptied
	 * parent's child list must have room to grow. */
	expect_ok(c0, XS_RM, 0, P("/t/z"));
	expect_ok(c0, XS_RM, 0, P("/t/w"));
	tx = tx_start(c1);
	expect_ok(c1, XS_MKDIR, tx, P("/t/n"));
	expect_ok(c1, XS_TRANSACTION_END, tx, P("T"));
	expect_reply(c0, XS_DIRECTORY, 0, V("n\0"), P("/t"));
}
