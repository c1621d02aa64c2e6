/*
 * LIST, LIST_NEW and the choice of domids against a real xenon-hvd (one
 * per test, a private run dir, no services), with process-less domains:
 *
 *   - LIST's row limit (procdom_proto.h): arg n asks for at most n rows, 0
 *     for a whole page (PROCDOM_CTL_LIST_MAX, what older clients send);
 *     beyond the page or negative is -EINVAL; a reply of exactly the rows
 *     asked means "ask again from the last domid + 1";
 *   - the library over it: xenon_domain_info() asks one row,
 *     xenon_domain_list() pages through more than one page;
 *   - CREATE without a domid takes the lowest free one, a destroyed
 *     domain's id is reused first, and LIST skips the gaps
 *     (dom0/hvd/domain.c);
 *   - LIST_NEW (the domains created after a cursor, oldest first): the
 *     reply's framing (the next cursor, then n rows of 48 bytes); from
 *     cursor 0 dom0 then every domain in creation order (an explicit domid
 *     made before lower ones comes first, where LIST puts it last); the
 *     cursor returned gives nothing until new domains come, then exactly
 *     those; destroyed domains are not listed, a domid reused is new, a
 *     cursor whose domain is gone still works; paging by the rows asked
 *     (1, exactly the rest, 0 = a whole page, 140 domains = a page and
 *     the rest); -EINVAL with no payload for a bad ask, a payload not of
 *     8 bytes or a cursor beyond the newest one given, the connection
 *     going on after each;
 *   - xenon_domains_new() over it: every domain in one call, in creation
 *     order, the cursor advanced; then nothing; then only what is new; an
 *     error leaves no rows and the cursor as it was. Against a fake
 *     xenon-hvd answering LIST_NEW: a cursor that does not move on with
 *     rows, or goes back, is -EPROTO (never a loop), and so are more rows
 *     than asked and a domid outside the domid space; the whole domid
 *     space in use is listed, with one more page asked that must be empty.
 *
 * Environment: XENON_HVD (the daemon).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvd_fixture.h"
#include "xenon_dom0.h"

#define NR_DOMUS 140 /* more than one LIST page with dom0 */

static struct hvd_fixture hf;
static struct xenon_ctl *ctl;

static void hvd_start(void)
{
	static const char *const opts[] = { "--no-xenstored", NULL };

	hvd_fixture_start(&hf, "hvd-list", opts);
	cr_assert_eq(xenon_ctl_open(hf.run_dir, &ctl), 0);
}

static void hvd_stop(void)
{
	xenon_ctl_close(ctl);
	ctl = NULL;
	hvd_fixture_stop(&hf);
}

TestSuite(hvd_list, .init = hvd_start, .fini = hvd_stop, .timeout = 60);

static uint32_t create(uint32_t want)
{
	return hvd_fixture_create_bare(ctl, want);
}

/* One raw LIST: the result; rows into out (PROCDOM_CTL_LIST_MAX room). */
static int64_t list_raw(uint32_t from, int64_t ask, struct procdom_ctl_dominfo *out)
{
	static uint8_t buf[PROCDOM_CTL_MAX_MSG];
	struct procdom_ctl_msg m = {
		.op = PROCDOM_CTL_LIST, .seq = 0x4c495354, .domid = from, .arg = ask
	};
	int fd = xenon_ctl_fd(ctl);
	ssize_t n;

	cr_assert_eq(send(fd, &m, sizeof(m), 0), (ssize_t)sizeof(m));
	n = recv(fd, buf, sizeof(buf), 0);
	cr_assert_geq(n, (ssize_t)sizeof(m));
	memcpy(&m, buf, sizeof(m));
	cr_assert_eq(m.op, PROCDOM_CTL_LIST);
	cr_assert_eq(m.seq, 0x4c495354);
	if (m.arg < 0) {
		cr_assert_eq(m.len, 0);
		return m.arg;
	}
	cr_assert_leq(m.arg, PROCDOM_CTL_LIST_MAX);
	cr_assert_eq(m.len, m.arg * sizeof(*out));
	cr_assert_eq((size_t)n, sizeof(m) + m.len);
	memcpy(out, buf + sizeof(m), m.len);
	return m.arg;
}

/* dom0, then d1..dN, all created without a domid. */
static void populate(unsigned int n)
{
	for (unsigned int i = 1; i <= n; i++)
		cr_assert_eq(create(DOMID_INVALID), i, "lowest free: %u", i);
}

Test(hvd_list, one_row_asked_one_row_given)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX];

	populate(4);
	cr_assert_eq(list_raw(0, 1, rows), 1);
	cr_assert_eq(rows[0].domid, 0);
	cr_assert(rows[0].flags & PROCDOM_DOMINFO_PRIVILEGED);
	cr_assert_eq(list_raw(3, 1, rows), 1);
	cr_assert_eq(rows[0].domid, 3);
	cr_assert_eq(rows[0].max_pages, 32);
	/* A full reply of what was asked (1): ask again from 5 -> none. */
	cr_assert_eq(list_raw(4, 1, rows), 1);
	cr_assert_eq(rows[0].domid, 4);
	cr_assert_eq(list_raw(5, 1, rows), 0);
	/* Three asked from 2: exactly three -> again from 5 -> none. */
	cr_assert_eq(list_raw(2, 3, rows), 3);
	cr_assert(rows[0].domid == 2 && rows[1].domid == 3 && rows[2].domid == 4);
	cr_assert_eq(list_raw(5, 3, rows), 0);
	/* Ten asked, five there: short, so that was all. */
	cr_assert_eq(list_raw(0, 10, rows), 5);
}

Test(hvd_list, whole_pages_and_the_ask_again_rule)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX], all[NR_DOMUS + 8];
	int64_t ask[] = { 0, PROCDOM_CTL_LIST_MAX };

	populate(NR_DOMUS);
	for (unsigned int k = 0; k < 2; k++) {
		/* 0 and 128 are the same: a whole page, then the rest. */
		cr_assert_eq(list_raw(0, ask[k], rows), PROCDOM_CTL_LIST_MAX);
		for (unsigned int i = 0; i < PROCDOM_CTL_LIST_MAX; i++)
			cr_assert_eq(rows[i].domid, i);
		cr_assert_eq(list_raw(PROCDOM_CTL_LIST_MAX, ask[k], rows),
			     NR_DOMUS + 1 - PROCDOM_CTL_LIST_MAX, "short: the end");
		cr_assert_eq(rows[0].domid, PROCDOM_CTL_LIST_MAX);
	}
	cr_assert_eq(list_raw(0, PROCDOM_CTL_LIST_MAX + 1, rows), -EINVAL);
	cr_assert_eq(list_raw(0, -1, rows), -EINVAL);
	cr_assert_eq(list_raw(DOMID_FIRST_RESERVED, 1, rows), 0);
	/* The library pages through both. */
	cr_assert_eq(xenon_domain_list(ctl, all, NR_DOMUS + 8), NR_DOMUS + 1);
	for (unsigned int i = 0; i <= NR_DOMUS; i++)
		cr_assert_eq(all[i].domid, i);
	cr_assert_eq(xenon_domain_list(ctl, all, 3), 3);
	cr_assert_eq(all[2].domid, 2);
}

Test(hvd_list, lowest_free_domid_is_reused_and_gaps_are_skipped)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX];
	struct procdom_ctl_dominfo info;

	populate(NR_DOMUS);
	cr_assert_eq(xenon_domain_destroy(ctl, 70), 0);
	cr_assert_eq(xenon_domain_destroy(ctl, 5), 0);
	cr_assert_eq(xenon_domain_destroy(ctl, 6), 0);
	/* Gone, so the next one after it. */
	cr_assert_eq(xenon_domain_info(ctl, 70, &info), -ESRCH);
	cr_assert_eq(list_raw(70, 1, rows), 1);
	cr_assert_eq(rows[0].domid, 71);
	cr_assert_eq(list_raw(4, 2, rows), 2);
	cr_assert(rows[0].domid == 4 && rows[1].domid == 7);
	cr_assert_eq(xenon_domain_info(ctl, 71, &info), 0);
	cr_assert_eq(info.domid, 71);
	cr_assert_eq(xenon_domain_info(ctl, NR_DOMUS + 1, &info), -ESRCH);
	/* Lowest free first, then on past the end. */
	cr_assert_eq(create(DOMID_INVALID), 5);
	cr_assert_eq(create(DOMID_INVALID), 6);
	cr_assert_eq(create(DOMID_INVALID), 70);
	cr_assert_eq(create(DOMID_INVALID), NR_DOMUS + 1);
	cr_assert_eq(create(1000), 1000, "an explicit domid");
	cr_assert_eq(create(DOMID_INVALID), NR_DOMUS + 2, "not after it");
	cr_assert_eq(list_raw(NR_DOMUS + 1, 0, rows), 3);
	cr_assert_eq(rows[2].domid, 1000);
	cr_assert_eq(xenon_domain_info(ctl, 1000, &info), 0);
}

/* ---- LIST_NEW ------------------------------------------------------------- */

_Static_assert(sizeof(struct procdom_ctl_list_new) == 8, "LIST_NEW's cursor is 8 bytes");

/* One raw LIST_NEW with a payload of plen bytes (the cursor, then zeros):
 * the result; rows into out (PROCDOM_CTL_LIST_MAX room), the next cursor
 * into *next. The framing is checked: an error has no payload; n rows come
 * after the 8-byte cursor. */
static int64_t list_new_raw_len(uint64_t cursor, int64_t ask, size_t plen,
				struct procdom_ctl_dominfo *out, uint64_t *next)
{
	static uint8_t buf[PROCDOM_CTL_MAX_MSG];
	struct procdom_ctl_msg m = {
		.op = PROCDOM_CTL_LIST_NEW, .seq = 0x4c4e4557, .len = (uint32_t)plen, .arg = ask
	};
	uint8_t req[sizeof(m) + 16] = { 0 };
	int fd = xenon_ctl_fd(ctl);
	ssize_t n;

	cr_assert_leq(plen, 16);
	memcpy(req, &m, sizeof(m));
	memcpy(req + sizeof(m), &cursor, plen < sizeof(cursor) ? plen : sizeof(cursor));
	cr_assert_eq(send(fd, req, sizeof(m) + plen, 0), (ssize_t)(sizeof(m) + plen));
	n = recv(fd, buf, sizeof(buf), 0);
	cr_assert_geq(n, (ssize_t)sizeof(m));
	memcpy(&m, buf, sizeof(m));
	cr_assert_eq(m.op, PROCDOM_CTL_LIST_NEW);
	cr_assert_eq(m.seq, 0x4c4e4557);
	if (m.arg < 0) {
		cr_assert_eq(m.len, 0, "an error has no payload");
		cr_assert_eq((size_t)n, sizeof(m));
		return m.arg;
	}
	cr_assert_leq(m.arg, PROCDOM_CTL_LIST_MAX);
	cr_assert_eq(m.len, sizeof(struct procdom_ctl_list_new) + m.arg * sizeof(*out),
		     "8 + n * 48: %u for %lld rows", m.len, (long long)m.arg);
	cr_assert_eq((size_t)n, sizeof(m) + m.len);
	memcpy(next, buf + sizeof(m), sizeof(*next));
	memcpy(out, buf + sizeof(m) + sizeof(*next), m.len - sizeof(*next));
	return m.arg;
}

static int64_t list_new_raw(uint64_t cursor, int64_t ask, struct procdom_ctl_dominfo *out,
			    uint64_t *next)
{
	return list_new_raw_len(cursor, ask, sizeof(cursor), out, next);
}

/* The rows' domids are exactly want[0..n). */
static void assert_domids(const struct procdom_ctl_dominfo *rows, int64_t n, const uint32_t *want,
			  unsigned int nr_want)
{
	cr_assert_eq(n, (int64_t)nr_want, "%lld rows, %u expected", (long long)n, nr_want);
	for (unsigned int i = 0; i < nr_want; i++)
		cr_assert_eq(rows[i].domid, want[i], "row %u: d%u, expected d%u", i, rows[i].domid,
			     want[i]);
}

/* Every domain from cursor 0, in one whole page (fewer than 128 exist). */
static uint64_t list_new_all(const uint32_t *want, unsigned int nr_want)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX];
	uint64_t next = 0;

	assert_domids(rows, list_new_raw(0, 0, rows, &next), want, nr_want);
	return next;
}

Test(hvd_list, list_new_from_zero_is_creation_order_then_only_what_is_new)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX];
	static const uint32_t made[] = { 0, 1000, 1, 2, 3 }, listed[] = { 0, 1, 2, 3, 1000 };
	static const uint32_t later[] = { 4, 5 };
	uint64_t c, c2, next = 0;

	cr_assert_neq(list_new_all(made, 1), 0, "dom0 alone, and a cursor past it");
	cr_assert_eq(create(1000), 1000, "an explicit domid, before lower ones");
	populate(3);
	c = list_new_all(made, 5);
	cr_assert_eq(list_new_raw(0, 1, rows, &next), 1);
	cr_assert(rows[0].flags & PROCDOM_DOMINFO_PRIVILEGED, "dom0 first");
	cr_assert_eq(list_new_raw(0, 2, rows, &next), 2);
	cr_assert_eq(rows[1].domid, 1000);
	cr_assert_eq(rows[1].max_pages, 32, "a full row, as LIST's");
	/* LIST keeps domid order: 1000 last. */
	assert_domids(rows, list_raw(0, 0, rows), listed, 5);
	/* Nothing is new since c: no rows, the same cursor. */
	cr_assert_neq(c, 0);
	cr_assert_eq(list_new_raw(c, 0, rows, &next), 0);
	cr_assert_eq(next, c, "nothing new: the cursor stays");
	/* Two more: exactly those two, and a cursor further on. */
	cr_assert_eq(create(DOMID_INVALID), 4);
	cr_assert_eq(create(DOMID_INVALID), 5);
	assert_domids(rows, list_new_raw(c, 0, rows, &c2), later, 2);
	cr_assert_gt(c2, c);
	cr_assert_eq(list_new_raw(c2, 0, rows, &next), 0);
	cr_assert_eq(next, c2);
	/* The old cursor still gives them (a cursor is a place, not a claim). */
	assert_domids(rows, list_new_raw(c, 0, rows, &next), later, 2);
	cr_assert_eq(next, c2);
}

Test(hvd_list, list_new_skips_the_destroyed_and_lists_a_reused_domid_as_new)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX];
	static const uint32_t all5[] = { 0, 1, 2, 3, 4, 5 }, no3[] = { 0, 1, 2, 4, 5 };
	static const uint32_t again[] = { 0, 1, 2, 4, 5, 3 }, three[] = { 3 };
	static const uint32_t after1[] = { 2, 4, 5, 3 }, six[] = { 6 };
	uint64_t c, c0, c1, c6, next = 0;

	populate(5);
	c = list_new_all(all5, 6);
	cr_assert_eq(xenon_domain_destroy(ctl, 3), 0);
	list_new_all(no3, 5);
	cr_assert_eq(list_new_raw(c, 0, rows, &next), 0, "a destruction is not new");
	/* The lowest free domid again: 3, listed as new, after the rest. */
	cr_assert_eq(create(DOMID_INVALID), 3);
	assert_domids(rows, list_new_raw(c, 0, rows, &next), three, 1);
	list_new_all(again, 6);
	/* A cursor whose domain was destroyed since still leads on. */
	cr_assert_eq(list_new_raw(0, 1, rows, &c0), 1);
	cr_assert_eq(list_new_raw(c0, 1, rows, &c1), 1);
	cr_assert_eq(rows[0].domid, 1);
	cr_assert_eq(xenon_domain_destroy(ctl, 1), 0);
	assert_domids(rows, list_new_raw(c1, 0, rows, &next), after1, 4);
	assert_domids(rows, list_new_raw(c0, 0, rows, &next), after1, 4);
	/* The newest destroyed: its cursor (the newest given) is still valid. */
	cr_assert_eq(create(6), 6);
	assert_domids(rows, list_new_raw(next, 0, rows, &c6), six, 1);
	cr_assert_eq(xenon_domain_destroy(ctl, 6), 0);
	cr_assert_eq(list_new_raw(c6, 0, rows, &next), 0);
	cr_assert_eq(next, c6);
	cr_assert_eq(list_new_raw(c, 0, rows, &next), 1, "3 alone is left of those after c");
	/* 6 again: new once more. */
	cr_assert_eq(create(6), 6);
	assert_domids(rows, list_new_raw(c6, 0, rows, &next), six, 1);
	cr_assert_gt(next, c6);
}

Test(hvd_list, list_new_pages_by_the_rows_asked)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX];
	int64_t ask[] = { 0, PROCDOM_CTL_LIST_MAX };
	uint64_t c = 0, page, end, next = 0;

	populate(NR_DOMUS);
	/* One at a time: each cursor gives the next domain, then none. */
	for (unsigned int i = 0; i <= NR_DOMUS; i++) {
		cr_assert_eq(list_new_raw(c, 1, rows, &next), 1, "row %u", i);
		cr_assert_eq(rows[0].domid, i);
		cr_assert_gt(next, c);
		c = next;
	}
	cr_assert_eq(list_new_raw(c, 1, rows, &next), 0);
	cr_assert_eq(next, c);
	end = c;
	for (unsigned int k = 0; k < 2; k++) {
		/* 0 and 128 are the same: a whole page, then the rest. */
		cr_assert_eq(list_new_raw(0, ask[k], rows, &page), PROCDOM_CTL_LIST_MAX);
		for (unsigned int i = 0; i < PROCDOM_CTL_LIST_MAX; i++)
			cr_assert_eq(rows[i].domid, i);
		cr_assert_eq(list_new_raw(page, ask[k], rows, &next),
			     NR_DOMUS + 1 - PROCDOM_CTL_LIST_MAX, "short: the end");
		cr_assert_eq(rows[0].domid, PROCDOM_CTL_LIST_MAX);
		cr_assert_eq(rows[NR_DOMUS - PROCDOM_CTL_LIST_MAX].domid, NR_DOMUS);
		cr_assert_eq(next, end);
	}
	/* Exactly the rows left: a full reply, so ask again -> none. */
	cr_assert_eq(list_new_raw(page, NR_DOMUS + 1 - PROCDOM_CTL_LIST_MAX, rows, &next),
		     NR_DOMUS + 1 - PROCDOM_CTL_LIST_MAX);
	cr_assert_eq(next, end);
	cr_assert_eq(list_new_raw(next, NR_DOMUS + 1 - PROCDOM_CTL_LIST_MAX, rows, &next), 0);
	cr_assert_eq(next, end);
	/* Three asked, two there: short, so that was all. */
	cr_assert_eq(create(DOMID_INVALID), NR_DOMUS + 1);
	cr_assert_eq(create(DOMID_INVALID), NR_DOMUS + 2);
	cr_assert_eq(list_new_raw(end, 3, rows, &next), 2);
	cr_assert(rows[0].domid == NR_DOMUS + 1 && rows[1].domid == NR_DOMUS + 2);
}

/* The connection still answers, and right, after an error. */
static void assert_still_answers(void)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX];
	uint64_t next = 0;

	cr_assert_eq(list_new_raw(0, 1, rows, &next), 1);
	cr_assert_eq(rows[0].domid, 0);
	cr_assert_eq(list_raw(1, 1, rows), 1);
	cr_assert_eq(rows[0].domid, 1);
}

Test(hvd_list, list_new_errors_are_einval_and_the_connection_goes_on)
{
	static struct procdom_ctl_dominfo rows[PROCDOM_CTL_LIST_MAX];
	static const size_t bad_len[] = { 0, 4, 7, 9, 16 };
	uint64_t newest, next = 0;

	populate(3);
	cr_assert_eq(list_new_raw(0, 0, rows, &newest), 4);
	cr_assert_eq(list_new_raw(0, -1, rows, &next), -EINVAL);
	assert_still_answers();
	cr_assert_eq(list_new_raw(0, PROCDOM_CTL_LIST_MAX + 1, rows, &next), -EINVAL);
	assert_still_answers();
	cr_assert_eq(list_new_raw(0, INT64_MIN, rows, &next), -EINVAL);
	assert_still_answers();
	for (unsigned int i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		cr_assert_eq(list_new_raw_len(0, 0, bad_len[i], rows, &next), -EINVAL,
			     "a payload of %zu bytes", bad_len[i]);
		assert_still_answers();
	}
	/* Beyond the newest cursor ever given: -EINVAL, also once the newest
	 * domain is gone (its cursor itself stays valid). */
	cr_assert_eq(list_new_raw(newest + 1, 0, rows, &next), -EINVAL);
	assert_still_answers();
	cr_assert_eq(list_new_raw(UINT64_MAX, 1, rows, &next), -EINVAL);
	assert_still_answers();
	cr_assert_eq(xenon_domain_destroy(ctl, 3), 0);
	cr_assert_eq(list_new_raw(newest, 0, rows, &next), 0);
	cr_assert_eq(list_new_raw(newest + 1, 0, rows, &next), -EINVAL);
	/* A new domain makes the next cursor valid, and only that one. */
	cr_assert_eq(create(DOMID_INVALID), 3);
	cr_assert_eq(list_new_raw(newest, 0, rows, &next), 1);
	cr_assert_gt(next, newest);
	cr_assert_eq(list_new_raw(next, 0, rows, &next), 0);
	cr_assert_eq(list_new_raw(next + 1, 0, rows, &next), -EINVAL);
	assert_still_answers();
}

/* ---- xenon_domains_new ---------------------------------------------------- */

Test(hvd_list, domains_new_lists_all_in_creation_order_then_only_the_new)
{
	struct xenon_domains all = { 0 };
	uint64_t cursor = 0, seen, bad;

	cr_assert_eq(create(1000), 1000);
	populate(NR_DOMUS);
	cr_assert_eq(xenon_domains_new(ctl, &cursor, &all), NR_DOMUS + 2);
	cr_assert_eq(all.n, NR_DOMUS + 2);
	cr_assert_eq(all.row[0].domid, 0);
	cr_assert(all.row[0].flags & PROCDOM_DOMINFO_PRIVILEGED);
	cr_assert_eq(all.row[1].domid, 1000);
	for (unsigned int i = 1; i <= NR_DOMUS; i++)
		cr_assert_eq(all.row[i + 1].domid, i, "row %u", i + 1);
	cr_assert_neq(cursor, 0);
	seen = cursor;
	/* Again from there: nothing, the cursor where it was. */
	cr_assert_eq(xenon_domains_new(ctl, &cursor, &all), 0);
	cr_assert_eq(all.n, 0);
	cr_assert_eq(cursor, seen);
	/* Two more, one of them a domid freed and reused: those two alone. */
	cr_assert_eq(xenon_domain_destroy(ctl, 7), 0);
	cr_assert_eq(create(DOMID_INVALID), 7);
	cr_assert_eq(create(DOMID_INVALID), NR_DOMUS + 1);
	cr_assert_eq(xenon_domains_new(ctl, &cursor, &all), 2);
	cr_assert(all.row[0].domid == 7 && all.row[1].domid == NR_DOMUS + 1);
	cr_assert_gt(cursor, seen);
	/* An error: no rows, the cursor as it was. */
	bad = cursor + 1;
	cr_assert_eq(xenon_domains_new(ctl, &bad, &all), -EINVAL);
	cr_assert_eq(all.n, 0);
	cr_assert_eq(bad, cursor + 1);
	/* From 0 again with the buffer kept: everything, 7 now after the rest. */
	seen = 0;
	cr_assert_eq(xenon_domains_new(ctl, &seen, &all), NR_DOMUS + 3);
	cr_assert_eq(all.row[NR_DOMUS + 1].domid, 7);
	cr_assert_eq(all.row[NR_DOMUS + 2].domid, NR_DOMUS + 1);
	cr_assert_eq(seen, cursor);
	xenon_domains_fini(&all);
}

Test(hvd_list, domains_new_on_a_daemon_gone_is_an_errno_and_no_rows)
{
	struct xenon_domains all = { 0 };
	uint64_t cursor = 0, seen;
	int status, n;

	populate(2);
	cr_assert_eq(xenon_domains_new(ctl, &cursor, &all), 3);
	seen = cursor;
	kill(hf.pid, SIGKILL);
	cr_assert_eq(waitpid(hf.pid, &status, 0), hf.pid);
	hf.pid = 0;
	n = xenon_domains_new(ctl, &cursor, &all);
	cr_assert(n == -ECONNRESET || n == -EPIPE, "%d (%s)", n, strerror(-n));
	cr_assert_eq(all.n, 0);
	cr_assert_eq(cursor, seen);
	xenon_domains_fini(&all);
}

/* ---- xenon_domains_new against a fake xenon-hvd ---------------------------- */

enum fake_mode {
	FAKE_EVERY,   /* every domid exists, created in domid order (cursor = domid + 1) */
	FAKE_ENDLESS, /* full pages forever, the cursor moving on */
	FAKE_STUCK,   /* rows, but the cursor asked for given back */
	FAKE_BACK,    /* no rows, a cursor before the one asked for */
	FAKE_HIGH,    /* a row past DOMID_FIRST_RESERVED */
	FAKE_MORE,    /* one row more than asked */
};

static struct hvd_fake fake;

/* LIST_NEW(cursor, ask) as the mode says: the next cursor and rows into
 * out; how many rows. */
static size_t fake_list_new(enum fake_mode mode, uint64_t cursor, int64_t ask, uint8_t *out)
{
	struct procdom_ctl_list_new next = { cursor };
	uint64_t id = mode == FAKE_HIGH ? DOMID_FIRST_RESERVED : cursor;
	size_t n = 0;

	if (ask <= 0 || ask > PROCDOM_CTL_LIST_MAX)
		ask = PROCDOM_CTL_LIST_MAX;
	if (mode == FAKE_MORE)
		ask++;
	/* One short page: only the check these modes are for can stop the
	 * call (full pages would end at XENON_DOMAINS_MAX whatever they say). */
	if (mode == FAKE_STUCK || mode == FAKE_HIGH)
		ask = 1;
	for (; n < (size_t)ask && (mode != FAKE_EVERY || id < DOMID_FIRST_RESERVED); id++, n++) {
		struct procdom_ctl_dominfo d = {
			.domid = (uint32_t)(mode == FAKE_HIGH ? id : id % DOMID_FIRST_RESERVED),
			.max_pages = 1
		};

		memcpy(out + sizeof(next) + n * sizeof(d), &d, sizeof(d));
	}
	if (mode == FAKE_BACK)
		n = 0;
	if (mode != FAKE_STUCK)
		next.cursor = mode == FAKE_BACK ? cursor - 1 : cursor + n;
	memcpy(out, &next, sizeof(next));
	return n;
}

/* LIST_NEW as the mode says; any other request: 0, nothing. */
static size_t fake_answer(unsigned int mode, struct procdom_ctl_msg *m, const uint8_t *payload,
			  size_t plen, uint8_t *out)
{
	struct procdom_ctl_list_new cur = { 0 };
	size_t n;

	if (m->op != PROCDOM_CTL_LIST_NEW || plen < sizeof(cur)) {
		m->arg = 0;
		return 0;
	}
	memcpy(&cur, payload, sizeof(cur));
	n = fake_list_new(mode, cur.cursor, m->arg, out);
	m->arg = (int64_t)n;
	return sizeof(cur) + n * sizeof(struct procdom_ctl_dominfo);
}

static _Noreturn void fake_main(int lfd, unsigned int mode)
{
	hvd_fake_serve(lfd, mode, fake_answer);
}

static struct xenon_domains fake_all;

static void fake_start(enum fake_mode mode)
{
	hvd_fake_start(&fake, "hvd-list-fake", fake_main, mode);
	cr_assert_eq(xenon_ctl_open(fake.run_dir, &ctl), 0);
}

static void fake_stop(void)
{
	xenon_domains_fini(&fake_all);
	xenon_ctl_close(ctl);
	ctl = NULL;
	hvd_fake_stop(&fake);
}

TestSuite(hvd_list_fake, .fini = fake_stop, .timeout = 60);

/* Each mode's answer to xenon_domains_new from cursor `from`: -EPROTO, no
 * rows, the cursor as it was. */
static void assert_eproto(enum fake_mode mode, uint64_t from)
{
	uint64_t cursor = from;

	fake_start(mode);
	cr_assert_eq(xenon_domains_new(ctl, &cursor, &fake_all), -EPROTO);
	cr_assert_eq(fake_all.n, 0);
	cr_assert_eq(cursor, from);
}

Test(hvd_list_fake, endless_pages_stop_at_the_domid_space_bound)
{
	assert_eproto(FAKE_ENDLESS, 0);
	cr_assert_leq(fake_all.cap, XENON_DOMAINS_MAX);
}

Test(hvd_list_fake, a_cursor_not_moving_on_with_rows_is_a_protocol_error)
{
	assert_eproto(FAKE_STUCK, 0);
}

Test(hvd_list_fake, a_cursor_going_back_is_a_protocol_error)
{
	assert_eproto(FAKE_BACK, 5);
}

Test(hvd_list_fake, a_domid_past_the_space_is_a_protocol_error)
{
	assert_eproto(FAKE_HIGH, 0);
}

Test(hvd_list_fake, more_rows_than_asked_is_a_protocol_error)
{
	assert_eproto(FAKE_MORE, 0);
}

/*
 * The whole domid space in use (dom0 and 32751 domUs): every one listed.
 * At the XENON_DOMAINS_MAX cap the last page (the 112 rows of room left)
 * comes back full: the library asks one more row, none comes, and that is
 * the end (it once failed here with -EPROTO, unable to grow further).
 */
Test(hvd_list_fake, every_domid_in_use_all_listed)
{
	uint64_t cursor = 0;
	int n;

	fake_start(FAKE_EVERY);
	n = xenon_domains_new(ctl, &cursor, &fake_all);
	cr_assert_eq(n, XENON_DOMAINS_MAX, "%d (%s), %u rows held", n, n < 0 ? strerror(-n) : "",
		     fake_all.cap);
	cr_assert_eq(fake_all.row[XENON_DOMAINS_MAX - 1].domid, DOMID_FIRST_RESERVED - 1);
	cr_assert_eq(cursor, XENON_DOMAINS_MAX);
}
