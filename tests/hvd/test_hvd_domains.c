/*
 * xenon_domains_list(): EVERY domain, however many LIST pages that takes
 * (lib/dom0/xenon_dom0.h), as consoled, xenstored's link and the monitor
 * use it to tell which of the domains they track are gone.
 *
 *   - against a real xenon-hvd (private run dir, no services, process-less
 *     domains): an empty one lists dom0 alone; more domains than one
 *     LIST page (and than the first buffer) are all listed, gaps and a
 *     high domid included, in order, and found by domid; the buffer is
 *     kept from call to call; a daemon gone is -errno and no rows;
 *   - against a fake xenon-hvd answering LIST only: one that claims every
 *     domid exists yields exactly the domid space (32752 rows) and stops;
 *     one that answers the same page again, or a domid out of the space,
 *     is -EPROTO, never a loop or rows past the bound.
 *
 * Environment: XENON_HVD (the daemon).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvd_fixture.h"
#include "xenon_dom0.h"

#define NR_DOMUS 200	 /* > one LIST page (128 rows) and the first buffer (as many) */
#define HIGH_DOMID 30000 /* an explicit domid far above the rest */

static struct hvd_fixture hf;
static struct xenon_ctl *ctl;
static struct xenon_domains all;

/* ---- against the real xenon-hvd ----------------------------------------- */

static void hvd_start(void)
{
	static const char *const opts[] = { "--no-xenstored", NULL };

	hvd_fixture_start(&hf, "hvd-domains", opts);
	cr_assert_eq(xenon_ctl_open(hf.run_dir, &ctl), 0);
}

static void hvd_stop(void)
{
	xenon_domains_fini(&all);
	xenon_ctl_close(ctl);
	ctl = NULL;
	hvd_fixture_stop(&hf);
}

TestSuite(hvd_domains, .init = hvd_start, .fini = hvd_stop, .timeout = 60);

static uint32_t create(uint32_t want)
{
	return hvd_fixture_create_bare(ctl, want);
}

Test(hvd_domains, an_empty_hvd_lists_dom0_alone)
{
	cr_assert_eq(xenon_domains_list(ctl, &all), 1);
	cr_assert_eq(all.n, 1);
	cr_assert_eq(all.row[0].domid, 0);
	cr_assert(all.row[0].flags & PROCDOM_DOMINFO_PRIVILEGED);
	cr_assert_eq(xenon_domains_find(&all, 0), &all.row[0]);
	cr_assert_null(xenon_domains_find(&all, 1));
	cr_assert_null(xenon_domains_find(&all, DOMID_FIRST_RESERVED));
}

Test(hvd_domains, more_than_one_page_all_listed_in_order)
{
	unsigned int cap;

	for (unsigned int i = 1; i <= NR_DOMUS; i++)
		cr_assert_eq(create(DOMID_INVALID), i);
	cr_assert_eq(create(HIGH_DOMID), HIGH_DOMID);
	cr_assert_eq(xenon_domain_destroy(ctl, 5), 0);
	cr_assert_eq(xenon_domain_destroy(ctl, 128), 0); /* the first page's last row */
	/* dom0, NR_DOMUS less the two destroyed, the high one. */
	cr_assert_eq(xenon_domains_list(ctl, &all), 1 + (NR_DOMUS - 2) + 1);
	cr_assert_geq(all.cap, all.n);
	cr_assert_leq(all.cap, XENON_DOMAINS_MAX);
	for (unsigned int k = 1; k < all.n; k++)
		cr_assert_gt(all.row[k].domid, all.row[k - 1].domid, "ascending at row %u", k);
	cr_assert_eq(all.row[all.n - 1].domid, HIGH_DOMID);
	for (unsigned int id = 0; id <= NR_DOMUS; id++) {
		const struct procdom_ctl_dominfo *d = xenon_domains_find(&all, id);

		if (id == 5 || id == 128) {
			cr_assert_null(d, "domain %u was destroyed", id);
			continue;
		}
		cr_assert_not_null(d, "domain %u listed", id);
		cr_assert_eq(d->domid, id);
		cr_assert(id == 0 || d->max_pages == 32);
	}
	cr_assert_not_null(xenon_domains_find(&all, HIGH_DOMID));
	cr_assert_null(xenon_domains_find(&all, NR_DOMUS + 1));
	/* Again: the buffer is kept and not grown; a domain created since is there. */
	cap = all.cap;
	cr_assert_eq(create(DOMID_INVALID), 5);
	cr_assert_eq(xenon_domains_list(ctl, &all), NR_DOMUS + 1);
	cr_assert_eq(all.cap, cap);
	cr_assert_not_null(xenon_domains_find(&all, 5));
}

Test(hvd_domains, a_daemon_gone_is_an_errno_and_no_rows)
{
	int status, n;

	cr_assert_eq(xenon_domains_list(ctl, &all), 1);
	kill(hf.pid, SIGKILL);
	cr_assert_eq(waitpid(hf.pid, &status, 0), hf.pid);
	hf.pid = 0;
	n = xenon_domains_list(ctl, &all);
	cr_assert(n == -ECONNRESET || n == -EPIPE, "%d (%s)", n, strerror(-n));
	cr_assert_eq(all.n, 0);
}

/* ---- against a fake xenon-hvd -------------------------------------------- */

enum fake_mode {
	FAKE_EVERY,  /* every domid exists: full pages to the end of the space */
	FAKE_REPEAT, /* the first page again, whatever is asked */
	FAKE_HIGH,   /* rows past DOMID_FIRST_RESERVED */
};

static struct hvd_fake fake;

/* LIST(from, ask): the rows the mode says, at most ask; nothing else. */
static size_t fake_list(enum fake_mode mode, uint32_t from, int64_t ask, uint8_t *out)
{
	uint32_t first = mode == FAKE_REPEAT ? 0 : mode == FAKE_HIGH ? 0x7ff0 : from;
	size_t n = 0;

	if (ask <= 0 || ask > PROCDOM_CTL_LIST_MAX)
		ask = PROCDOM_CTL_LIST_MAX;
	for (uint32_t id = first; n < (size_t)ask && id < 0x8000; id++, n++) {
		struct procdom_ctl_dominfo d = { .domid = id, .max_pages = 1 };

		memcpy(out + n * sizeof(d), &d, sizeof(d));
	}
	return n;
}

/* LIST as the mode says; any other request: 0, nothing. */
static size_t fake_answer(unsigned int mode, struct procdom_ctl_msg *m, const uint8_t *payload,
			  size_t plen, uint8_t *out)
{
	size_t n = m->op == PROCDOM_CTL_LIST ? fake_list(mode, m->domid, m->arg, out) : 0;

	(void)payload;
	(void)plen;
	m->arg = (int64_t)n;
	return n * sizeof(struct procdom_ctl_dominfo);
}

static _Noreturn void fake_main(int lfd, unsigned int mode)
{
	hvd_fake_serve(lfd, mode, fake_answer);
}

static void fake_start(enum fake_mode mode)
{
	hvd_fake_start(&fake, "hvd-domains-fake", fake_main, mode);
	cr_assert_eq(xenon_ctl_open(fake.run_dir, &ctl), 0);
}

static void fake_stop(void)
{
	xenon_domains_fini(&all);
	xenon_ctl_close(ctl);
	ctl = NULL;
	hvd_fake_stop(&fake);
}

TestSuite(hvd_domains_fake, .fini = fake_stop, .timeout = 60);

Test(hvd_domains_fake, every_domid_listed_stops_at_the_domid_space)
{
	fake_start(FAKE_EVERY);
	cr_assert_eq(xenon_domains_list(ctl, &all), XENON_DOMAINS_MAX);
	cr_assert_eq(all.cap, XENON_DOMAINS_MAX);
	cr_assert_eq(all.row[XENON_DOMAINS_MAX - 1].domid, DOMID_FIRST_RESERVED - 1);
	cr_assert_not_null(xenon_domains_find(&all, 12345));
}

Test(hvd_domains_fake, the_same_page_again_is_a_protocol_error)
{
	fake_start(FAKE_REPEAT);
	cr_assert_eq(xenon_domains_list(ctl, &all), -EPROTO);
	cr_assert_eq(all.n, 0);
	cr_assert_null(xenon_domains_find(&all, 0));
}

Test(hvd_domains_fake, a_domid_past_the_space_is_a_protocol_error)
{
	fake_start(FAKE_HIGH);
	cr_assert_eq(xenon_domains_list(ctl, &all), -EPROTO);
	cr_assert_eq(all.n, 0);
}
