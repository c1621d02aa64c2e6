/*
 * LIST and the choice of domids against a real xenon-hvd (one per test, a
 * private run dir, no services), with process-less domains:
 *
 *   - LIST's row limit (procdom_proto.h): arg n asks for at most n rows, 0
 *     for a whole page (PROCDOM_CTL_LIST_MAX, what older clients send);
 *     beyond the page or negative is -EINVAL; a reply of exactly the rows
 *     asked means "ask again from the last domid + 1";
 *   - the library over it: xenon_domain_info() asks one row,
 *     xenon_domain_list() pages through more than one page;
 *   - CREATE without a domid takes the lowest free one, a destroyed
 *     domain's id is reused first, and LIST skips the gaps
 *     (dom0/hvd/domain.c).
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
