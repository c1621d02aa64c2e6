/* Node operations, paths, wire format, domain requests. */
#include "xs_test_util.h"

static struct xs_store *s;
static struct rec *c0;

static void setup(void)
{
	s = xs_store_create(NULL, NULL);
	cr_assert(s);
	c0 = rec_conn(s, 0, true);
}

static void teardown(void)
{
	rec_free(c0);
	xs_store_destroy(s);
}

TestSuite(xs_store, .init = setup, .fini = teardown);

Test(xs_store, initial_tree_is_c_xenstored)
{
	expect_reply(c0, XS_DIRECTORY, 0, V("tool\0"), P("/"));
	expect_reply(c0, XS_DIRECTORY, 0, V("xenstored\0"), P("/tool"));
	expect_reply(c0, XS_READ, 0, "", 0, P("/tool/xenstored"));
	expect_reply(c0, XS_GET_PERMS, 0, V("n0\0"), P("/"));
	expect_reply(c0, XS_GET_PERMS, 0, V("n0\0"), P("/tool/xenstored"));
	expect_err(c0, XS_READ, 0, "ENOENT", P("/local"));
}

Test(xs_store, reply_echoes_header)
{
	send_raw(c0, XS_READ, 77, P("/tool"));
	cr_assert_eq(c0->n, 1);
	expect_hdr(&c0->msgs[0], XS_READ, 77, 0, 0);
}

Test(xs_store, write_read_binary_values)
{
	expect_ok(c0, XS_WRITE, 0, V("/a\0x\0\xffy"));
	expect_reply(c0, XS_READ, 0, "x\0\xffy", 4, P("/a"));
	expect_ok(c0, XS_WRITE, 0, V("/a\0"));
	expect_reply(c0, XS_READ, 0, "", 0, P("/a"));
	expect_ok(c0, XS_WRITE, 0, V("/a\0longer value"));
	expect_reply(c0, XS_READ, 0, V("longer value"), P("/a"));
}

Test(xs_store, write_creates_parents_inheriting_perms)
{
	expect_ok(c0, XS_WRITE, 0, V("/p\0"));
	expect_ok(c0, XS_SET_PERMS, 0, P("/p\0r3\0w4"));
	expect_ok(c0, XS_WRITE, 0, V("/p/q/r/s\0v"));
	expect_reply(c0, XS_READ, 0, "", 0, P("/p/q"));
	expect_reply(c0, XS_GET_PERMS, 0, V("r3\0w4\0"), P("/p/q/r"));
	expect_reply(c0, XS_DIRECTORY, 0, V("r\0"), P("/p/q"));
}

Test(xs_store, relative_paths_resolve_to_home)
{
	expect_ok(c0, XS_WRITE, 0, V("xenstore-test/1\0v"));
	expect_reply(c0, XS_READ, 0, V("v"), P("/local/domain/0/xenstore-test/1"));
	expect_reply(c0, XS_READ, 0, V("v"), P("xenstore-test/1"));
	expect_reply(c0, XS_DIRECTORY, 0, V("0\0"), P("/local/domain"));
}

Test(xs_store, bad_paths_are_einval)
{
	expect_err(c0, XS_READ, 0, "EINVAL", P(""));
	expect_err(c0, XS_READ, 0, "EINVAL", P("/a/"));
	expect_err(c0, XS_READ, 0, "EINVAL", P("/a//b"));
	expect_err(c0, XS_READ, 0, "EINVAL", P("/a b"));
	expect_err(c0, XS_READ, 0, "EINVAL", P("/a.b"));
	expect_err(c0, XS_WRITE, 0, "EINVAL", V("/a.b\0v"));
	expect_err(c0, XS_WRITE, 0, "EINVAL", V("@foo\0v"));
	expect_err(c0, XS_WRITE, 0, "EINVAL", V("/novalue"));
	/* Without its NUL the path is ENOENT, as with C xenstored. */
	expect_err(c0, XS_READ, 0, "ENOENT", V("/tool"));
}

Test(xs_store, path_length_limits)
{
	char p[XENSTORE_ABS_PATH_MAX + 16];

	p[0] = '/';
	memset(p + 1, 'a', 2003);
	p[2004] = '\0';
	expect_err(c0, XS_READ, 0, "ENOENT", p, 2005);
	memset(p + 1, 'a', XENSTORE_ABS_PATH_MAX);
	p[XENSTORE_ABS_PATH_MAX + 1] = '\0';
	expect_err(c0, XS_READ, 0, "EINVAL", p, XENSTORE_ABS_PATH_MAX + 2);
	memset(p, 'a', XENSTORE_REL_PATH_MAX + 1);
	p[XENSTORE_REL_PATH_MAX + 1] = '\0';
	expect_err(c0, XS_READ, 0, "EINVAL", p, XENSTORE_REL_PATH_MAX + 2);
}

Test(xs_store, directory_insertion_order_and_leaf)
{
	expect_ok(c0, XS_WRITE, 0, V("/d/zeta\0"));
	expect_ok(c0, XS_WRITE, 0, V("/d/alpha\0"));
	expect_ok(c0, XS_MKDIR, 0, P("/d/mid"));
	expect_reply(c0, XS_DIRECTORY, 0, V("zeta\0alpha\0mid\0"), P("/d"));
	expect_reply(c0, XS_DIRECTORY, 0, "", 0, P("/d/zeta"));
	expect_err(c0, XS_DIRECTORY, 0, "ENOENT", P("/nope"));
	expect_ok(c0, XS_MKDIR, 0, P("/d/mid"));
	expect_ok(c0, XS_RM, 0, P("/d/alpha"));
	expect_reply(c0, XS_DIRECTORY, 0, V("zeta\0mid\0"), P("/d"));
}

Test(xs_store, directory_part_pages)
{
	char path[64], want[4096];
	struct rec_msg *m;
	size_t off = 0, total = 0;
	char all[8192];

	for (int i = 0; i < 400; i++) {
		int n = snprintf(path, sizeof(path), "/big/child-number-%03d", i);

		expect_ok(c0, XS_MKDIR, 0, path, (size_t)n + 1);
	}
	/* Page through and rebuild the DIRECTORY answer. */
	for (;;) {
		int n = snprintf(want, sizeof(want), "/big%c%zu", 0, off);

		m = call(c0, XS_DIRECTORY_PART, 0, want, (size_t)n + 1);
		cr_assert_eq(m->hdr.type, XS_DIRECTORY_PART, "%s", m->data);
		size_t gl = strlen(m->data) + 1;
		size_t body = m->hdr.len - gl;

		cr_assert(m->hdr.len <= XENSTORE_PAYLOAD_MAX);
		if (body > 0 && m->data[m->hdr.len - 1] == '\0' &&
		    m->data[m->hdr.len - 2] == '\0') {
			memcpy(all + total, m->data + gl, body - 1);
			total += body - 1;
			break;
		}
		cr_assert(body > 0);
		memcpy(all + total, m->data + gl, body);
		total += body;
		off += body;
	}
	m = call(c0, XS_DIRECTORY, 0, P("/big"));
	cr_assert_eq(m->hdr.type, XS_ERROR); /* 400 * 17 bytes > 4096: E2BIG */
	cr_assert_str_eq(m->data, "E2BIG");
	cr_assert_eq(total, 400 * 17);
	cr_assert(memcmp(all, "child-number-000\0child-number-001\0", 34) == 0);
	/* Past the end: generation and an empty list. */
	m = call(c0, XS_DIRECTORY_PART, 0,
		 P("/big\0"
		   "99999"));
	cr_assert_eq(m->hdr.len, strlen(m->data) + 2);
	expect_err(c0, XS_DIRECTORY_PART, 0, "EINVAL", P("/big\0x"));
}

Test(xs_store, rm_rules)
{
	expect_ok(c0, XS_WRITE, 0, V("/r/a/b/c\0v"));
	expect_ok(c0, XS_RM, 0, P("/r/missing"));
	expect_err(c0, XS_RM, 0, "ENOENT", P("/nothere/missing"));
	expect_err(c0, XS_RM, 0, "EINVAL", P("/"));
	expect_ok(c0, XS_RM, 0, P("/r/a"));
	expect_err(c0, XS_READ, 0, "ENOENT", P("/r/a/b/c"));
	expect_err(c0, XS_READ, 0, "ENOENT", P("/r/a"));
	expect_reply(c0, XS_DIRECTORY, 0, "", 0, P("/r"));
	expect_ok(c0, XS_WRITE, 0, V("/r/a/b\0again"));
	expect_reply(c0, XS_READ, 0, V("again"), P("/r/a/b"));
}

Test(xs_store, unknown_types_enosys_and_conn_lives)
{
	expect_err(c0, 20, 0, "ENOSYS", P(""));
	expect_err(c0, 999, 0, "ENOSYS", P(""));
	expect_err(c0, XS_WATCH_EVENT, 0, "ENOSYS", P(""));
	expect_err(c0, XS_ERROR, 0, "ENOSYS", P(""));
	expect_reply(c0, XS_READ, 0, "", 0, P("/tool/xenstored"));
}

Test(xs_store, oversized_payload_e2big)
{
	static char big[XENSTORE_PAYLOAD_MAX + 10];

	expect_err(c0, XS_WRITE, 0, "E2BIG", big, sizeof(big));
}

Test(xs_store, domain_path_and_introduced)
{
	expect_reply(c0, XS_GET_DOMAIN_PATH, 0, P("/local/domain/7"), P("7"));
	expect_reply(c0, XS_GET_DOMAIN_PATH, 0, P("/local/domain/0"), P("0"));
	expect_err(c0, XS_GET_DOMAIN_PATH, 0, "EINVAL", P("x"));
	expect_reply(c0, XS_IS_DOMAIN_INTRODUCED, 0, P("T"), P("0"));
	expect_reply(c0, XS_IS_DOMAIN_INTRODUCED, 0, P("F"), P("5"));
	expect_err(c0, XS_IS_DOMAIN_INTRODUCED, 0, "EINVAL", P("five"));
}

Test(xs_store, introduce_release_resume)
{
	expect_err(c0, XS_INTRODUCE, 0, "EINVAL",
		   P("5\0"
		     "100\0"
		     "0"));
	expect_err(c0, XS_INTRODUCE, 0, "EINVAL",
		   P("5\0"
		     "100"));
	expect_ok(c0, XS_INTRODUCE, 0,
		  P("5\0"
		    "100\0"
		    "3"));
	expect_reply(c0, XS_IS_DOMAIN_INTRODUCED, 0, P("T"), P("5"));
	expect_ok(c0, XS_RESUME, 0, P("5"));
	expect_err(c0, XS_RESUME, 0, "EINVAL", P("0"));
	expect_err(c0, XS_RESUME, 0, "ENOENT", P("6"));
	expect_err(c0, XS_RELEASE, 0, "EINVAL", P("0"));
	expect_err(c0, XS_RELEASE, 0, "ENOENT", P("6"));
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/5/data\0x"));
	expect_ok(c0, XS_RELEASE, 0, P("5"));
	expect_reply(c0, XS_IS_DOMAIN_INTRODUCED, 0, P("F"), P("5"));
	expect_err(c0, XS_READ, 0, "ENOENT", P("/local/domain/5"));
	expect_err(c0, XS_RELEASE, 0, "ENOENT", P("5"));
}

static int introduced_domid = -1;

static int fake_introduce(void *ctx, struct xs_store *st, unsigned int domid, uint64_t gfn,
			  unsigned int port)
{
	introduced_domid = (int)domid;
	return domid == 9 ? -EIO : 0;
}

Test(xs_store, introduce_hook_and_keep_released_nodes)
{
	struct xs_config cfg;
	struct xs_domain_ops dops = { .introduce = fake_introduce };
	struct xs_store *s2;
	struct rec *c;

	xs_config_defaults(&cfg);
	cfg.keep_released_nodes = true;
	s2 = xs_store_create(&cfg, &dops);
	c = rec_conn(s2, 0, true);
	expect_err(c, XS_INTRODUCE, 0, "EIO",
		   P("9\0"
		     "1\0"
		     "1"));
	cr_assert_eq(introduced_domid, 9);
	expect_ok(c, XS_INTRODUCE, 0,
		  P("4\0"
		    "1\0"
		    "1"));
	expect_ok(c, XS_WRITE, 0, V("/local/domain/4/x\0y"));
	expect_ok(c, XS_RELEASE, 0, P("4"));
	expect_reply(c, XS_READ, 0, V("y"), P("/local/domain/4/x"));
	rec_free(c);
	xs_store_destroy(s2);
}

Test(xs_store, unprivileged_cannot_use_privileged_ops)
{
	struct rec *d = rec_conn(s, 3, false);

	expect_err(d, XS_INTRODUCE, 0, "EACCES",
		   P("5\0"
		     "100\0"
		     "3"));
	expect_err(d, XS_RELEASE, 0, "EACCES", P("5"));
	expect_err(d, XS_CONTROL, 0, "EACCES", P("help"));
	expect_err(d, XS_SET_QUOTA, 0, "EACCES",
		   P("nodes\0"
		     "5"));
	expect_reply(d, XS_GET_DOMAIN_PATH, 0, P("/local/domain/3"), P("3"));
	rec_free(d);
}

Test(xs_store, features)
{
	expect_reply(c0, XS_GET_FEATURE, 0, P("3"), P(""));
	expect_ok(c0, XS_SET_FEATURE, 0,
		  P("5\0"
		    "1"));
	expect_reply(c0, XS_GET_FEATURE, 0, P("1"), P("5"));
	expect_err(c0, XS_SET_FEATURE, 0, "EINVAL",
		   P("5\0"
		     "64"));
	/* C's do_set_feature(): EBUSY once introduced (dom0 always is), checked
	 * before the feature bits. */
	expect_ok(c0, XS_INTRODUCE, 0,
		  P("5\0"
		    "1\0"
		    "1"));
	expect_err(c0, XS_SET_FEATURE, 0, "EBUSY",
		   P("5\0"
		     "0"));
	expect_err(c0, XS_SET_FEATURE, 0, "EBUSY",
		   P("5\0"
		     "64"));
	expect_err(c0, XS_SET_FEATURE, 0, "EBUSY",
		   P("0\0"
		     "1"));
	expect_reply(c0, XS_GET_FEATURE, 0, P("1"), P("5"));
}

/* Node versions come from size-classed slab pages up to 512 bytes and from
 * malloc above: values of every length round-trip, and freed objects are
 * reused without corrupting their neighbours (ASan poisons free ones). */
Test(xs_store, node_sizes_across_slab_classes)
{
	static char buf[1200], want[700];
	struct rec_msg *m;

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 700; i += 7) {
			int n = snprintf(buf, sizeof(buf), "/sz/n%d", i);

			memset(buf + n + 1, 'a' + (i + round) % 26, (size_t)i);
			expect_ok(c0, XS_WRITE, 0, buf, (size_t)n + 1 + (size_t)i);
		}
		for (int i = 0; i < 700; i += 7) {
			int n = snprintf(buf, sizeof(buf), "/sz/n%d", i);

			memset(want, 'a' + (i + round) % 26, (size_t)i);
			m = call(c0, XS_READ, 0, buf, (size_t)n + 1);
			cr_assert_eq(m->hdr.len, (uint32_t)i);
			cr_assert(memcmp(m->data, want, (size_t)i) == 0, "node %d", i);
			if (i % 2 == round)
				expect_ok(c0, XS_RM, 0, buf, (size_t)n + 1);
		}
	}
	expect_ok(c0, XS_RM, 0, P("/sz"));
	expect_reply(c0, XS_CONTROL, 0, P("OK"), P("check"));
}

Test(xs_store, dead_transport_gets_nothing_more)
{
	struct rec *d = rec_conn(s, 0, true);

	d->fail = true;
	struct xsd_sockmsg h = { XS_READ, 1, 0, sizeof("/tool") };

	xs_conn_request(d->c, &h, "/tool");
	d->fail = false;
	xs_conn_request(d->c, &h, "/tool");
	cr_assert_eq(d->n, 0);
	rec_free(d);
}
