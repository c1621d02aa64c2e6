/* Watches: registration transcript, firing rules, special watches. */
#include "xs_test_util.h"

static struct xs_store *s;
static struct rec *c0, *w;

static void setup(void)
{
	s = xs_store_create(NULL, NULL);
	cr_assert(s);
	c0 = rec_conn(s, 0, true);
	w = rec_conn(s, 0, true);
}

static void teardown(void)
{
	rec_free(c0);
	rec_free(w);
	xs_store_destroy(s);
}

TestSuite(xs_watch, .init = setup, .fini = teardown);

/* Golden transcript: ack first, then the initial event with req_id 0. */
Test(xs_watch, ack_then_initial_event)
{
	send_raw(w, XS_WATCH, 42, P("/nonexistent\0tok"));
	cr_assert_eq(w->n, 2);
	cr_assert_eq(w->msgs[0].hdr.type, XS_WATCH);
	cr_assert_eq(w->msgs[0].hdr.req_id, 42);
	cr_assert_eq(w->msgs[0].hdr.len, 3);
	cr_assert_str_eq(w->msgs[0].data, "OK");
	expect_hdr(&w->msgs[1], XS_WATCH_EVENT, 0, 0, sizeof("/nonexistent\0tok"));
	cr_assert(memcmp(w->msgs[1].data, "/nonexistent\0tok", sizeof("/nonexistent\0tok")) == 0);
}

Test(xs_watch, initial_event_for_any_path)
{
	expect_ok(w, XS_WATCH, 0, P("rel/path\0t1"));
	cr_assert_eq(count_events(w, "rel/path", "t1"), 1);
	expect_ok(w, XS_WATCH, 0, P("@introduceDomain\0t2"));
	cr_assert_eq(count_events(w, "@introduceDomain", "t2"), 1);
	expect_ok(w, XS_WATCH, 0, P("@bogus\0t3"));
	cr_assert_eq(count_events(w, "@bogus", "t3"), 1);
	expect_ok(w, XS_WATCH, 0, P("/x\0"));
	expect_ok(w, XS_WATCH, 0, P("/x\0with space"));
}

Test(xs_watch, registration_errors)
{
	expect_ok(w, XS_WATCH, 0, P("/a\0tok"));
	expect_err(w, XS_WATCH, 0, "EEXIST", P("/a\0tok"));
	expect_ok(w, XS_WATCH, 0, P("/a\0tok2"));
	expect_err(w, XS_WATCH, 0, "EINVAL", P("/a"));
	expect_err(w, XS_WATCH, 0, "EINVAL", P("/a\0tok\0extra"));
	expect_err(w, XS_WATCH, 0, "EINVAL", P("/a/\0tok"));
	expect_err(w, XS_UNWATCH, 0, "ENOENT", P("/a\0nope"));
	expect_ok(w, XS_UNWATCH, 0, P("/a\0tok"));
	expect_err(w, XS_UNWATCH, 0, "ENOENT", P("/a\0tok"));
}

Test(xs_watch, fires_on_node_and_descendants_not_prefix_sibling)
{
	expect_ok(w, XS_WATCH, 0, P("/w\0tok"));
	rec_clear(w);
	expect_ok(c0, XS_WRITE, 0, V("/w\0v"));
	expect_ok(c0, XS_WRITE, 0, V("/w\0v")); /* same value again */
	expect_ok(c0, XS_WRITE, 0, V("/w/child/deep\0v"));
	expect_ok(c0, XS_WRITE, 0, V("/wx\0v"));
	expect_ok(c0, XS_MKDIR, 0, P("/w/dir"));
	expect_ok(c0, XS_MKDIR, 0, P("/w/dir")); /* exists: no event */
	expect_ok(c0, XS_SET_PERMS, 0, P("/w\0n0\0r1"));
	cr_assert_eq(count_events(w, "/w", "tok"), 3);
	cr_assert_eq(count_events(w, "/w/child/deep", "tok"), 1);
	cr_assert_eq(count_events(w, "/w/dir", "tok"), 1);
	cr_assert_eq(count_events(w, "/wx", "tok"), 0);
	cr_assert_eq(count_all_events(w), 5);
}

Test(xs_watch, root_watch_sees_everything)
{
	expect_ok(w, XS_WATCH, 0, P("/\0root"));
	rec_clear(w);
	expect_ok(c0, XS_WRITE, 0, V("/a/b\0v"));
	cr_assert_eq(count_events(w, "/a/b", "root"), 1);
}

Test(xs_watch, rm_fires_existing_descendants_only)
{
	expect_ok(c0, XS_WRITE, 0, V("/r/a/b\0v"));
	expect_ok(w, XS_WATCH, 0, P("/r\0top"));
	expect_ok(w, XS_WATCH, 0, P("/r/a/b\0leaf"));
	expect_ok(w, XS_WATCH, 0, P("/r/a/never\0never"));
	rec_clear(w);
	expect_ok(c0, XS_RM, 0, P("/r/a"));
	cr_assert_eq(count_events(w, "/r/a", "top"), 1);
	cr_assert_eq(count_events(w, "/r/a/b", "leaf"), 1);
	cr_assert_eq(count_all_events(w), 2);
	/* C order: deepest first. */
	cr_assert_str_eq(w->msgs[0].data, "/r/a/b");
}

Test(xs_watch, several_tokens_in_registration_order)
{
	expect_ok(w, XS_WATCH, 0, P("/o\0first"));
	expect_ok(w, XS_WATCH, 0, P("/o\0second"));
	expect_ok(w, XS_WATCH, 0, P("/o\0third"));
	rec_clear(w);
	expect_ok(c0, XS_WRITE, 0, V("/o\0v"));
	cr_assert_eq(w->n, 3);
	cr_assert_str_eq(w->msgs[0].data + 3, "first");
	cr_assert_str_eq(w->msgs[1].data + 3, "second");
	cr_assert_str_eq(w->msgs[2].data + 3, "third");
}

Test(xs_watch, relative_watch_relative_events)
{
	expect_ok(w, XS_WATCH, 0, P("rel\0tok"));
	rec_clear(w);
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/0/rel/x\0v"));
	cr_assert_eq(count_events(w, "rel/x", "tok"), 1);
	expect_ok(w, XS_UNWATCH, 0, P("rel\0tok"));
	rec_clear(w);
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/0/rel/x\0v"));
	cr_assert_eq(count_all_events(w), 0);
}

Test(xs_watch, events_before_writer_ack_on_same_conn)
{
	expect_ok(c0, XS_WATCH, 0, P("/s\0tok"));
	rec_clear(c0);
	call(c0, XS_WRITE, 0, V("/s\0v"));
	cr_assert_eq(c0->n, 2);
	cr_assert_eq(c0->msgs[0].hdr.type, XS_WATCH_EVENT);
	cr_assert_eq(c0->msgs[1].hdr.type, XS_WRITE);
}

Test(xs_watch, reset_watches)
{
	expect_ok(w, XS_WATCH, 0, P("/a\0t"));
	expect_ok(w, XS_RESET_WATCHES, 0, P(""));
	rec_clear(w);
	expect_ok(c0, XS_WRITE, 0, V("/a\0v"));
	cr_assert_eq(count_all_events(w), 0);
	expect_ok(w, XS_WATCH, 0, P("/a\0t"));
}

Test(xs_watch, special_introduce_release)
{
	expect_ok(w, XS_WATCH, 0, P("@introduceDomain\0i"));
	expect_ok(w, XS_WATCH, 0, P("@releaseDomain\0r"));
	expect_ok(w, XS_WATCH, 0, P("@releaseDomain/7\0r7"));
	expect_ok(w, XS_WATCH, 0, P("/local/domain/7\0home"));
	rec_clear(w);
	expect_ok(c0, XS_INTRODUCE, 0,
		  P("7\0"
		    "1\0"
		    "2"));
	cr_assert_eq(count_events(w, "@introduceDomain", "i"), 1);
	cr_assert_eq(w->msgs[0].hdr.len, sizeof("@introduceDomain\0i"));
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/7/name\0vm"));
	rec_clear(w);
	expect_ok(c0, XS_RELEASE, 0, P("7"));
	cr_assert_eq(count_events(w, "@releaseDomain", "r"), 1);
	cr_assert_eq(count_events(w, "@releaseDomain/7", "r7"), 1);
	cr_assert_eq(count_events(w, "/local/domain/7", "home"), 1);
}

Test(xs_watch, domain_gone_drops_its_watches)
{
	struct rec *d;

	expect_ok(c0, XS_INTRODUCE, 0,
		  P("8\0"
		    "1\0"
		    "2"));
	d = rec_conn(s, 8, false);
	cr_assert_eq(xs_domain_attach(s, 8, d->c), 0);
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/8\0"));
	expect_ok(c0, XS_SET_PERMS, 0, P("/local/domain/8\0n8"));
	expect_ok(d, XS_WATCH, 0, P("/local/domain/8\0dw"));
	expect_ok(w, XS_WATCH, 0, P("@releaseDomain\0r"));
	rec_clear(w);
	xs_domain_gone(s, 8);
	cr_assert_eq(count_events(w, "@releaseDomain", "r"), 1);
	rec_clear(d);
	expect_ok(c0, XS_WRITE, 0, V("/local/domain/8/x\0"));
	cr_assert_eq(d->n, 0);
	rec_free(d);
}

Test(xs_watch, unprivileged_watcher_needs_read)
{
	struct rec *d = rec_conn(s, 3, false);

	expect_ok(c0, XS_WRITE, 0, V("/pub\0"));
	expect_ok(c0, XS_SET_PERMS, 0, P("/pub\0r0"));
	expect_ok(c0, XS_WRITE, 0, V("/priv\0"));
	expect_ok(d, XS_WATCH, 0, P("/pub\0p"));
	expect_ok(d, XS_WATCH, 0, P("/priv\0q"));
	expect_ok(d, XS_WATCH, 0, P("@releaseDomain\0r"));
	rec_clear(d);
	expect_ok(c0, XS_WRITE, 0, V("/pub/x\0"));
	expect_ok(c0, XS_WRITE, 0, V("/priv/x\0"));
	expect_ok(c0, XS_INTRODUCE, 0,
		  P("9\0"
		    "1\0"
		    "2"));
	expect_ok(c0, XS_RELEASE, 0, P("9"));
	cr_assert_eq(count_events(d, "/pub/x", "p"), 1);
	cr_assert_eq(count_all_events(d), 1);
	/* Granting read on @releaseDomain lets it through. */
	expect_ok(c0, XS_SET_PERMS, 0, P("@releaseDomain\0n0\0r3"));
	expect_err(c0, XS_GET_PERMS, 0, "EINVAL", P("@releaseDomain"));
	expect_err(c0, XS_SET_PERMS, 0, "EINVAL", P("@bogus\0n0"));
	expect_ok(c0, XS_INTRODUCE, 0,
		  P("9\0"
		    "1\0"
		    "2"));
	rec_clear(d);
	expect_ok(c0, XS_RELEASE, 0, P("9"));
	cr_assert_eq(count_events(d, "@releaseDomain", "r"), 1);
	rec_free(d);
}
