/* Permissions, SET_TARGET, quotas, GET/SET_QUOTA and XS_CONTROL. */
#include "xs_test_util.h"

static struct xs_store *s;
static struct rec *c0, *d3, *d4;
static char logged[8][256];
static int nlogged;

static void test_log(void *ctx, int level, const char *msg)
{
	if (nlogged < 8)
		snprintf(logged[nlogged], sizeof(logged[0]), "%s", msg);
	nlogged++;
}

static bool fake_exists(void *ctx, unsigned int domid)
{
	return domid < 10;
}

static void setup(void)
{
	struct xs_config cfg;
	struct xs_domain_ops dops = { .domain_exists = fake_exists };

	xs_config_defaults(&cfg);
	cfg.log = test_log;
	nlogged = 0;
	s = xs_store_create(&cfg, &dops);
	cr_assert(s);
	c0 = rec_conn(s, 0, true);
	expect_ok(c0, XS_INTRODUCE, 0,
		  P("3\0"
		    "1\0"
		    "1"));
	expect_ok(c0, XS_INTRODUCE, 0,
		  P("4\0"
		    "1\0"
		    "1"));
	d3 = rec_conn(s, 3, false);
	d4 = rec_conn(s, 4, false);
	cr_assert_eq(xs_domain_attach(s, 3, d3->c), 0);
	cr_assert_eq(xs_domain_attach(s, 4, d4->c), 0);
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/3\0"));
	expect_ok(c0, XS_SET_PERMS, 0, P("/local/domain/3\0n3\0r0"));
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/4\0"));
	expect_ok(c0, XS_SET_PERMS, 0, P("/local/domain/4\0n4"));
}

static void teardown(void)
{
	rec_free(c0);
	rec_free(d3);
	rec_free(d4);
	xs_store_destroy(s);
}

TestSuite(xs_perms, .init = setup, .fini = teardown);

Test(xs_perms, perm_string_errors)
{
	expect_ok(c0, XS_WRITE, 0, V("/p\0"));
	expect_err(c0, XS_SET_PERMS, 0, "EINVAL", P("/p\0x0"));
	expect_err(c0, XS_SET_PERMS, 0, "EINVAL", P("/p\0r"));
	expect_err(c0, XS_SET_PERMS, 0, "EINVAL", P("/p"));
	expect_err(c0, XS_SET_PERMS, 0, "EINVAL", P("/p\0r1x"));
	expect_err(c0, XS_SET_PERMS, 0, "ENOENT", P("/nope\0n0"));
	expect_err(c0, XS_SET_PERMS, 0, "ENOENT", P("/p\0n55"));
	expect_ok(c0, XS_SET_PERMS, 0, P("/p\0b5\0r1\0w2\0n3"));
	expect_reply(c0, XS_GET_PERMS, 0, V("b5\0r1\0w2\0n3\0"), P("/p"));
}

Test(xs_perms, privileged_bypasses_and_owner_rules)
{
	expect_ok(c0, XS_WRITE, 0, V("/secret\0s"));
	expect_ok(c0, XS_SET_PERMS, 0, P("/secret\0n1"));
	expect_reply(c0, XS_READ, 0, V("s"), P("/secret"));
	expect_err(d3, XS_READ, 0, "EACCES", P("/secret"));
	expect_err(d3, XS_WRITE, 0, "EACCES", V("/secret\0x"));
	expect_err(d3, XS_WRITE, 0, "EACCES", V("/secret/child\0x"));
	expect_err(d3, XS_RM, 0, "EACCES", P("/secret"));
	expect_err(d3, XS_DIRECTORY, 0, "EACCES", P("/secret"));
	/* Home: owner may do anything, relative paths land there. */
	expect_ok(d3, XS_WRITE, 0, V("data\0mine"));
	expect_reply(d3, XS_READ, 0, V("mine"), P("/local/domain/3/data"));
	expect_reply(d3, XS_GET_PERMS, 0, V("n3\0r0\0"), P("data"));
	/* d4 gets the owner's default: none. */
	expect_err(d4, XS_READ, 0, "EACCES", P("/local/domain/3/data"));
	expect_ok(d3, XS_SET_PERMS, 0, P("data\0n3\0r4"));
	expect_reply(d4, XS_READ, 0, V("mine"), P("/local/domain/3/data"));
	expect_err(d4, XS_WRITE, 0, "EACCES", V("/local/domain/3/data\0x"));
	expect_err(d3, XS_SET_PERMS, 0, "EPERM", P("data\0n4"));
}

Test(xs_perms, unprivileged_creator_owns_new_nodes)
{
	expect_ok(c0, XS_WRITE, 0, V("/shared\0"));
	expect_ok(c0, XS_SET_PERMS, 0, P("/shared\0n0\0b3\0r5"));
	/* b3 grants write; the new node is d3's, without a second b3 entry. */
	expect_ok(d3, XS_WRITE, 0, V("/shared/n\0v"));
	expect_reply(c0, XS_GET_PERMS, 0, V("n3\0r5\0"), P("/shared/n"));
	/* Privileged creation keeps the parent's perms as they are. */
	expect_ok(c0, XS_WRITE, 0, V("/shared/m\0v"));
	expect_reply(c0, XS_GET_PERMS, 0, V("n0\0b3\0r5\0"), P("/shared/m"));
}

Test(xs_perms, set_target_gives_targets_rights)
{
	expect_ok(d4, XS_WRITE, 0, V("vm\0v"));
	expect_err(d3, XS_READ, 0, "EACCES", P("/local/domain/4/vm"));
	expect_err(c0, XS_SET_TARGET, 0, "ENOENT",
		   P("3\0"
		     "6"));
	expect_err(c0, XS_SET_TARGET, 0, "EINVAL", P("3"));
	expect_ok(c0, XS_SET_TARGET, 0,
		  P("3\0"
		    "4"));
	expect_reply(d3, XS_READ, 0, V("v"), P("/local/domain/4/vm"));
	expect_ok(d3, XS_WRITE, 0, V("/local/domain/4/vm\0w"));
}

Test(xs_perms, node_quota_logged_once)
{
	struct rec_msg *m;
	char buf[64];
	int i;

	expect_ok(c0, XS_SET_QUOTA, 0,
		  P("4\0nodes\0"
		    "5"));
	expect_reply(c0, XS_GET_QUOTA, 0, P("5"), P("4\0nodes"));
	for (i = 0; i < 10; i++) {
		int n = snprintf(buf, sizeof(buf), "n%d%c", i, 0);

		m = call(d4, XS_WRITE, 0, buf, (size_t)n);
		if (m->hdr.type == XS_ERROR)
			break;
	}
	cr_assert_str_eq(m->data, "ENOSPC");
	cr_assert_eq(i, 4); /* the home node counts: 1 + 4 */
	expect_err(d4, XS_WRITE, 0, "ENOSPC", V("more\0"));
	cr_assert_eq(nlogged, 1);
	cr_assert(strstr(logged[0], "domain 4") && strstr(logged[0], "nodes") &&
			  strstr(logged[0], "limit 5"),
		  "%s", logged[0]);
	/* Freeing a node makes room again. */
	expect_ok(d4, XS_RM, 0, P("n0"));
	expect_ok(d4, XS_WRITE, 0, V("again\0"));
	/* dom0 is exempt. */
	for (i = 0; i < 20; i++) {
		int n = snprintf(buf, sizeof(buf), "/many/n%d%c", i, 0);

		expect_ok(c0, XS_WRITE, 0, buf, (size_t)n);
	}
}

Test(xs_perms, watch_and_transaction_quotas)
{
	char buf[32];
	int i;

	expect_ok(c0, XS_SET_QUOTA, 0,
		  P("3\0watches\0"
		    "2"));
	expect_ok(c0, XS_SET_QUOTA, 0,
		  P("3\0transactions\0"
		    "2"));
	expect_ok(d3, XS_WATCH, 0, P("a\0t"));
	expect_ok(d3, XS_WATCH, 0, P("b\0t"));
	expect_err(d3, XS_WATCH, 0, "E2BIG", P("c\0t"));
	tx_start(d3);
	tx_start(d3);
	expect_err(d3, XS_TRANSACTION_START, 0, "ENOSPC", P(""));
	for (i = 0; i < 12; i++)
		tx_start(c0);
	(void)buf;
}

Test(xs_perms, size_perms_and_txn_node_quotas)
{
	static char big[2100];
	uint32_t t;

	memcpy(big, "v\0", 2);
	memset(big + 2, 'x', sizeof(big) - 2);
	expect_err(d3, XS_WRITE, 0, "ENOSPC", big, sizeof(big));
	expect_ok(c0, XS_WRITE, 0, big, sizeof(big));
	expect_ok(d3, XS_WRITE, 0, V("p\0"));
	expect_err(d3, XS_SET_PERMS, 0, "ENOSPC", P("p\0n3\0r1\0r2\0r4\0r5\0r6"));
	expect_ok(d3, XS_SET_PERMS, 0, P("p\0n3\0r1\0r2\0r4\0r5"));
	expect_ok(c0, XS_SET_QUOTA, 0,
		  P("3\0transaction-nodes\0"
		    "2"));
	t = tx_start(d3);
	expect_ok(d3, XS_WRITE, t, V("q1\0"));
	expect_err(d3, XS_WRITE, t, "ENOSPC", V("q2\0"));
}

/* Fill domain 3's memory quota with 40-byte values; return how many fit. */
static int fill_memory(uint32_t tx, const char *prefix)
{
	struct rec_msg *m = NULL;
	char buf[128];
	int i;

	for (i = 0; i < 100; i++) {
		int n = snprintf(buf, sizeof(buf),
				 "%s%02d%c0123456789012345678901234567890123456789", prefix, i, 0);

		m = call(d3, XS_WRITE, tx, buf, (size_t)n);
		if (m->hdr.type == XS_ERROR)
			break;
	}
	cr_assert_str_eq(m->data, "EIO", "C's write_node_raw() turns the quota into EIO");
	return i;
}

/* C xenstored: bytes of owned nodes (16-byte header, 8 per perm, value,
 * children, path) plus watches (path + token) count; reaching the limit is
 * EIO for a node write, ENOMEM for a watch, logged once. */
Test(xs_perms, memory_quota)
{
	static char tok[400];
	int fit, again;
	uint32_t t;

	expect_ok(c0, XS_SET_QUOTA, 0,
		  P("3\0memory\0"
		    "1000"));
	fit = fill_memory(0, "m");
	/* Each node: 16 + 2 perms * 8 + 40 + "/local/domain/3/mNN" + 4 in the parent. */
	cr_assert(fit >= 8 && fit <= 10, "fit %d", fit);
	expect_err(d3, XS_WRITE, 0, "EIO", V("more\0x"));
	expect_err(d3, XS_SET_PERMS, 0, "EIO", P("m00\0n3\0r0\0r1\0r2"));
	memset(tok, 't', sizeof(tok) - 1);
	memcpy(tok, "w", 2);
	expect_err(d3, XS_WATCH, 0, "ENOMEM", tok, sizeof(tok));
	cr_assert_eq(nlogged, 1);
	cr_assert(strstr(logged[0], "domain 3") && strstr(logged[0], "memory") &&
			  strstr(logged[0], "limit 1000"),
		  "%s", logged[0]);
	/* Removing nodes gives the memory back. */
	expect_ok(d3, XS_RM, 0, P("m00"));
	expect_ok(d3, XS_RM, 0, P("m01"));
	expect_ok(d3, XS_WRITE, 0, V("m00\0v"));
	/* dom0 is exempt, even writing into domain 3's home. */
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/3/dom0\0value"));
	expect_ok(c0, XS_RM, 0, P("/local/domain/3/dom0"));
	/* A transaction's copies count while it is open, and are released at
	 * its end. */
	for (int i = 2; i < fit; i++) {
		char p[16];

		snprintf(p, sizeof(p), "m%02d", i);
		expect_ok(d3, XS_RM, 0, p, strlen(p) + 1);
	}
	t = tx_start(d3);
	fit = fill_memory(t, "t");
	expect_ok(d3, XS_TRANSACTION_END, t, P("F"));
	again = fill_memory(0, "a");
	cr_assert(again >= fit, "again %d fit %d", again, fit);
}

/* path-max counts what follows "/local/domain/<id>/" for absolute paths
 * too (C's canonicalize()), and the whole path elsewhere. */
Test(xs_perms, path_max_skips_any_domain_home)
{
	expect_ok(c0, XS_SET_QUOTA, 0,
		  P("3\0path-max\0"
		    "10"));
	expect_ok(d3, XS_WRITE, 0, V("/local/domain/3/abcdefghij\0v"));
	expect_ok(d3, XS_WRITE, 0, V("abcdefghi\0v"));
	expect_err(d3, XS_WRITE, 0, "EINVAL", V("abcdefghijk\0v"));
	expect_err(d3, XS_WRITE, 0, "EINVAL", V("/local/domain/3/abcdefghijk\0v"));
	expect_err(d3, XS_READ, 0, "ENOENT", P("/local/domain/4/abcdefghij"));
	expect_err(d3, XS_READ, 0, "EINVAL", P("/local/domain/4/abcdefghijk"));
	expect_err(d3, XS_READ, 0, "EINVAL", P("/tool/xenstor"));
}

Test(xs_perms, quota_requests)
{
	struct rec_msg *m = call(c0, XS_GET_QUOTA, 0, P(""));

	cr_assert_eq(m->hdr.type, XS_GET_QUOTA);
	cr_assert(memmem(m->data, m->hdr.len, "nodes\0watches\0", 14));
	expect_reply(c0, XS_GET_QUOTA, 0, P("1000"), P("nodes"));
	expect_reply(c0, XS_GET_QUOTA, 0, P("128"), P("watches"));
	expect_err(c0, XS_GET_QUOTA, 0, "EINVAL", P("bogus"));
	expect_err(c0, XS_GET_QUOTA, 0, "ENOENT", P("77\0nodes"));
	expect_ok(c0, XS_SET_QUOTA, 0,
		  P("nodes\0"
		    "7"));
	expect_reply(c0, XS_GET_QUOTA, 0, P("7"), P("3\0nodes"));
	expect_err(c0, XS_SET_QUOTA, 0, "EINVAL", P("nodes\0x"));
}

Test(xs_perms, control_commands)
{
	struct rec_msg *m = call(c0, XS_CONTROL, 0, P("help"));

	cr_assert_eq(m->hdr.type, XS_CONTROL);
	cr_assert(strstr(m->data, "quota"));
	expect_reply(c0, XS_CONTROL, 0, P("OK"), P("check"));
	expect_reply(c0, XS_CONTROL, 0, P("OK"), P("log\0on"));
	expect_reply(c0, XS_CONTROL, 0, P("OK"), P("log\0off"));
	expect_err(c0, XS_CONTROL, 0, "EINVAL", P("log\0maybe"));
	expect_reply(c0, XS_CONTROL, 0, P("OK"), P("print\0hello"));
	m = call(c0, XS_CONTROL, 0, P("quota"));
	cr_assert(strstr(m->data, "nodes") && strstr(m->data, "1000"), "%s", m->data);
	m = call(c0, XS_CONTROL, 0,
		 P("quota\0"
		   "3"));
	cr_assert(strstr(m->data, "Domain 3"), "%s", m->data);
	expect_reply(c0, XS_CONTROL, 0, P("OK"),
		     P("quota\0set\0nodes\0"
		       "50"));
	expect_reply(c0, XS_GET_QUOTA, 0, P("50"), P("3\0nodes"));
	m = call(c0, XS_CONTROL, 0, P("quota-soft"));
	cr_assert_eq(m->hdr.type, XS_CONTROL);
	expect_err(c0, XS_CONTROL, 0, "EINVAL", P("frobnicate"));
	expect_err(c0, XS_CONTROL, 0, "EINVAL", P(""));
}
