/*
 * How xenon-consoled finds new domains (dom0/console/main.c, cd_scan):
 * at each @introduceDomain it asks xenon-hvd only for the domains created
 * since its cursor (LIST_NEW), plus the rows it keeps `waiting` (seen
 * running, neither introduced nor with console keys yet), pruned at each
 * full LIST (@releaseDomain, the slow check). A real xenon-hvd with
 * xenstored and consoled (one per test, private run dir, -v), process-less
 * domains made through lib/dom0, store entries written with libxenstore as
 * a toolstack does (console/ring-ref and port, then INTRODUCE).
 *
 * "Served" from outside: RUN/console/dN.sock appears (consoled unlinks it
 * when the domain is gone), and the bytes the test put in the domain's
 * console page before introducing it reach RUN/console/dN.log (consoled
 * drains the page when it attaches), which shows that console is that
 * domain's own page. Each case would fail if the waiting rows or the
 * cursor were wrong:
 *
 *   a. A made without keys and not introduced while B is: B served, A
 *      not; A waits through more scans and a full LIST (a release), then
 *      its keys and INTRODUCE: served (only a waiting row can say so: the
 *      cursor is past A);
 *   b. a served domain destroyed (its socket goes), its domid made again
 *      with keys: served again, its own page (a reused domid is new to
 *      LIST_NEW); and a waiting domain destroyed and its domid reused;
 *   c. keys without INTRODUCE are enough (cd_look_at) when another
 *      domain's introduction brings a scan: at once, or after waiting;
 *   d. 30 domains made and introduced one by one: each served in turn,
 *      by one consoled (no restart, which would rescan from cursor 0);
 *   e. a waiting domain that dies is dropped at the next full LIST: keys
 *      written later under its dead domid are not attached (a broken
 *      console kept there would hide the next domain of that id, which
 *      is then served);
 *   f. one introduced without keys is passed over for good: keys written
 *      later are not attached at later scans (the cursor has passed it);
 *   g. as e. with no console served when the waiting domain dies (so no
 *      full LIST before the next scan): each waiting row is asked of
 *      xenon-hvd again before it is looked at.
 *
 * Waits are bounded by time and rounds and woken by inotify on
 * RUN/console; on a timeout consoled.log is printed.
 *
 * Environment: XENON_HVD (the daemon; xenstored and consoled beside it in
 * the build tree).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "hvd_fixture.h"
#include "xenon_dom0.h"
#include <xen/io/console.h>

#define WAIT_MS 10000	  /* for anything consoled does */
#define WAIT_ROUNDS 2000  /* wake-ups, each at most WAIT_POLL_MS */
#define WAIT_POLL_MS 50	  /* in case an inotify event says nothing we look at */
#define LOG_MAX (1 << 20) /* bytes of a log read */
#define NR_MANY 30

static struct hvd_fixture hf;
static struct xenon_ctl *ctl;
static struct xs_handle *xs;
static int ino = -1; /* inotify on RUN/console */
static char con_dir[128];

struct dom {
	uint32_t domid;
	struct procdom_ctl_created c;
};

/* ---- the daemons ---------------------------------------------------------- */

static void start(void)
{
	static const char *const opts[] = { "-v", "--no-blkback", "--no-monitor", NULL };

	hvd_fixture_start(&hf, "consoled-disc", opts);
	cr_assert_eq(xenon_ctl_open(hf.run_dir, &ctl), 0);
	cr_assert_eq(xenon_store_open(hf.run_dir, &xs), 0);
	snprintf(con_dir, sizeof(con_dir), "%s/console", hf.run_dir);
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	cr_assert_geq(ino, 0);
	cr_assert_geq(inotify_add_watch(ino, con_dir, IN_CREATE | IN_DELETE | IN_MODIFY), 0,
		      "consoled made %s before READY", con_dir);
}

static void stop(void)
{
	if (ino >= 0)
		close(ino);
	ino = -1;
	xenon_store_close(xs);
	xs = NULL;
	xenon_ctl_close(ctl);
	ctl = NULL;
	hvd_fixture_stop(&hf);
}

TestSuite(consoled_discovery, .init = start, .fini = stop, .timeout = 120);

/* ---- what consoled shows -------------------------------------------------- */

/* RUN/console/NAME, read whole (at most LOG_MAX), NUL-terminated; "" if
 * there is none. The caller frees it. */
static char *read_con_file(const char *name)
{
	char path[256], *buf = calloc(1, LOG_MAX + 1);
	ssize_t n;
	size_t len = 0;
	int fd;

	cr_assert_not_null(buf);
	snprintf(path, sizeof(path), "%s/%s", con_dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return buf;
	while (len < LOG_MAX && (n = read(fd, buf + len, LOG_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	return buf;
}

static unsigned int count_in(const char *name, const char *needle)
{
	char *text = read_con_file(name);
	unsigned int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

/* consoled.log's lines about domid that contain what (" dN: what"). */
static unsigned int log_lines(uint32_t domid, const char *what)
{
	char needle[96];

	snprintf(needle, sizeof(needle), " d%u: %s", domid, what);
	return count_in("consoled.log", needle);
}

static bool sock_exists(uint32_t domid)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/d%u.sock", con_dir, domid);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void dump_log(void)
{
	char *text = read_con_file("consoled.log");

	fprintf(stderr, "# consoled.log of %s:\n%s", criterion_current_test->name, text);
	free(text);
}

struct cond {
	bool (*holds)(const struct cond *);
	uint32_t domid;
	const char *text;
};

/* Until c holds: woken by RUN/console's inotify events, bounded by
 * WAIT_MS and WAIT_ROUNDS. Whether it held. */
static bool wait_until(const struct cond *c)
{
	uint64_t deadline = now_ms() + WAIT_MS;
	char evbuf[4096];

	for (unsigned int round = 0; round < WAIT_ROUNDS; round++) {
		struct pollfd pfd = { .fd = ino, .events = POLLIN };
		uint64_t now = now_ms();

		if (c->holds(c))
			return true;
		if (now >= deadline)
			break;
		poll(&pfd, 1, deadline - now < WAIT_POLL_MS ? (int)(deadline - now) : WAIT_POLL_MS);
		while (read(ino, evbuf, sizeof(evbuf)) > 0)
			;
	}
	return c->holds(c);
}

static bool holds_sock(const struct cond *c)
{
	return sock_exists(c->domid);
}

static bool holds_no_sock(const struct cond *c)
{
	return !sock_exists(c->domid);
}

static bool holds_dlog(const struct cond *c)
{
	char name[32];

	snprintf(name, sizeof(name), "d%u.log", c->domid);
	return count_in(name, c->text) > 0;
}

/* d served, and its own page: the marker put there is in dN.log. */
static void assert_served(const struct dom *d, const char *marker)
{
	struct cond sock = { holds_sock, d->domid, NULL }, log = { holds_dlog, d->domid, marker };
	bool ok = wait_until(&sock) && wait_until(&log);

	if (!ok)
		dump_log();
	cr_assert(ok, "d%u served with its page (\"%s\" in d%u.log) within %d ms", d->domid, marker,
		  d->domid, WAIT_MS);
}

static void assert_sock_gone(uint32_t domid)
{
	struct cond gone = { holds_no_sock, domid, NULL };
	bool ok = wait_until(&gone);

	if (!ok)
		dump_log();
	cr_assert(ok, "d%u.sock removed within %d ms", domid, WAIT_MS);
}

/* Not served (when what was asked of consoled is known to be done). */
static void assert_not_served(uint32_t domid)
{
	if (sock_exists(domid) || log_lines(domid, "console"))
		dump_log();
	cr_assert_not(sock_exists(domid), "d%u not served", domid);
	cr_assert_eq(log_lines(domid, "console"), 0, "nothing about d%u's console", domid);
}

/* One consoled all along: a restart would rescan from cursor 0 and hide a
 * lost waiting row or cursor. */
/* No line about domid in consoled.log (it is dead: nothing to try). */
static void assert_nothing_about(uint32_t domid)
{
	char needle[32];
	unsigned int n;

	snprintf(needle, sizeof(needle), " d%u:", domid);
	n = count_in("consoled.log", needle);
	if (n)
		dump_log();
	cr_assert_eq(n, 0, "nothing tried for the dead d%u", domid);
}

static void assert_one_consoled(void)
{
	cr_assert_eq(count_in("consoled.log", "ready, serving"), 1, "consoled never restarted");
	cr_assert_eq(count_in("consoled.log", "listing new domains"), 0, "LIST_NEW never failed");
}

/* ---- what a toolstack does ------------------------------------------------ */

/* A process-less domain (want: a domid, or DOMID_INVALID). */
static void dom_create(struct dom *d, uint32_t want)
{
	struct procdom_ctl_create req;
	char *argv[] = { "", NULL };
	int err;

	xenon_create_defaults(&req);
	req.domid = want;
	req.nr_pages = 32;
	err = xenon_domain_create(ctl, &req, argv, &d->domid, &d->c);
	cr_assert_eq(err, 0, "create: %s", strerror(-err));
	cr_assert(want == DOMID_INVALID || d->domid == want);
}

static void xs_put(uint32_t domid, const char *key, unsigned long long val)
{
	char path[96], v[32];

	snprintf(path, sizeof(path), "/local/domain/%u/console/%s", domid, key);
	snprintf(v, sizeof(v), "%llu", val);
	cr_assert(xs_write(xs, XBT_NULL, path, v, strlen(v)), "write %s: %s", path,
		  strerror(errno));
}

/* console/ring-ref and port, as from d's CREATE reply. */
static void write_keys(const struct dom *d)
{
	xs_put(d->domid, "ring-ref", d->c.console_gfn);
	xs_put(d->domid, "port", d->c.console_evtchn);
}

static void introduce(const struct dom *d)
{
	cr_assert(xs_introduce_domain(xs, d->domid, d->c.store_gfn, d->c.store_evtchn),
		  "introduce d%u: %s", d->domid, strerror(errno));
}

/* What the domain "wrote" to its console: text in its page's out[], as a
 * front end puts it, for consoled to drain when it attaches. */
static void put_output(const struct dom *d, const char *text)
{
	struct xencons_interface *intf =
		xenon_foreign_map(ctl, d->domid, d->c.console_gfn, 1, PROT_READ | PROT_WRITE);
	size_t len = strlen(text);
	XENCONS_RING_IDX prod;

	cr_assert_not_null(intf, "map d%u's console page: %s", d->domid, strerror(errno));
	prod = __atomic_load_n(&intf->out_prod, __ATOMIC_ACQUIRE);
	for (size_t i = 0; i < len; i++)
		intf->out[MASK_XENCONS_IDX(prod + i, intf->out)] = text[i];
	/* The bytes before the index, as a front end's wmb(). */
	__atomic_store_n(&intf->out_prod, prod + (XENCONS_RING_IDX)len, __ATOMIC_RELEASE);
	xenon_foreign_unmap(intf, 1);
}

/* Made with keys and its own output, then introduced. */
static void dom_up(struct dom *d, uint32_t want, const char *marker)
{
	dom_create(d, want);
	put_output(d, marker);
	write_keys(d);
	introduce(d);
}

/* A served domain destroyed: consoled hears @releaseDomain, lists every
 * domain (pruning its waiting rows) and closes the console. */
static void destroy_served(const struct dom *d)
{
	cr_assert_eq(xenon_domain_destroy(ctl, d->domid), 0);
	assert_sock_gone(d->domid);
}

/* ---- the cases ------------------------------------------------------------ */

Test(consoled_discovery, a_domain_waits_until_introduced_with_keys)
{
	struct dom a, b, c, d;

	dom_create(&a, 11);
	put_output(&a, "<a-11>");
	dom_up(&b, 12, "<b-12>");
	assert_served(&b, "<b-12>");
	/* The scan that served B looked at A first (older): passed over. */
	assert_not_served(11);
	/* More scans while A still has nothing: it keeps waiting. */
	dom_up(&c, 13, "<c-13>");
	assert_served(&c, "<c-13>");
	assert_not_served(11);
	/* A full LIST (C's release) with A alive keeps A's row. */
	destroy_served(&c);
	/* A introduced with keys: LIST_NEW has nothing new (the cursor is past
	 * A), only its waiting row brings it. */
	write_keys(&a);
	introduce(&a);
	assert_served(&a, "<a-11>");
	/* And nothing is served twice: one more scan, A and B as they were. */
	dom_up(&d, 14, "<d-14>");
	assert_served(&d, "<d-14>");
	cr_assert_eq(log_lines(11, "console at"), 1);
	cr_assert_eq(log_lines(12, "console at"), 1);
	assert_one_consoled();
}

Test(consoled_discovery, a_reused_domid_gets_a_console_of_its_own)
{
	struct dom x, x2, w, w2, s;

	dom_up(&x, 7, "<first-7>");
	assert_served(&x, "<first-7>");
	destroy_served(&x);
	/* Another domain under 7: new to LIST_NEW, served from its own page. */
	dom_up(&x2, 7, "<second-7>");
	assert_served(&x2, "<second-7>");
	cr_assert_eq(log_lines(7, "console at"), 2, "attached twice, once per domain");
	cr_assert_eq(log_lines(7, "console broken"), 0);
	/* A waiting domain destroyed (never introduced: no release) and its
	 * domid made again with keys: the new one is served. */
	dom_create(&w, 8);
	dom_up(&s, 9, "<s-9>");
	assert_served(&s, "<s-9>");
	assert_not_served(8);
	cr_assert_eq(xenon_domain_destroy(ctl, 8), 0);
	dom_up(&w2, 8, "<second-8>");
	assert_served(&w2, "<second-8>");
	cr_assert_eq(log_lines(8, "console at"), 1);
	cr_assert_eq(log_lines(8, "console broken"), 0);
	assert_one_consoled();
}

Test(consoled_discovery, keys_without_introduction_are_enough)
{
	struct dom a, b, c1, c2, c3;

	/* At once: A has keys, C1's introduction brings the scan. */
	dom_create(&a, 21);
	put_output(&a, "<a-21>");
	write_keys(&a);
	dom_up(&c1, 22, "<c1-22>");
	assert_served(&c1, "<c1-22>");
	assert_served(&a, "<a-21>");
	/* After waiting: B seen without keys by C2's scan, keys written
	 * (never introduced), C3's scan serves it from its waiting row. */
	dom_create(&b, 23);
	put_output(&b, "<b-23>");
	dom_up(&c2, 24, "<c2-24>");
	assert_served(&c2, "<c2-24>");
	assert_not_served(23);
	write_keys(&b);
	dom_up(&c3, 25, "<c3-25>");
	assert_served(&c3, "<c3-25>");
	assert_served(&b, "<b-23>");
	cr_assert_not(xs_is_domain_introduced(xs, 21));
	cr_assert_not(xs_is_domain_introduced(xs, 23));
	assert_one_consoled();
}

Test(consoled_discovery, thirty_domains_one_by_one_all_served)
{
	struct dom d[NR_MANY];
	char marker[NR_MANY][24];

	for (unsigned int i = 0; i < NR_MANY; i++) {
		snprintf(marker[i], sizeof(marker[i]), "<many-%u>", i);
		dom_up(&d[i], DOMID_INVALID, marker[i]);
		cr_assert_eq(d[i].domid, i + 1, "the lowest free domid");
		assert_served(&d[i], marker[i]);
	}
	for (unsigned int i = 0; i < NR_MANY; i++) {
		cr_assert(sock_exists(d[i].domid), "d%u still served", d[i].domid);
		cr_assert_eq(log_lines(d[i].domid, "console at"), 1, "d%u attached once",
			     d[i].domid);
	}
	assert_one_consoled();
}

Test(consoled_discovery, a_waiting_domain_that_dies_is_dropped)
{
	struct dom a, a2, d, e;

	dom_create(&a, 31);
	dom_up(&d, 32, "<d-32>");
	assert_served(&d, "<d-32>");
	assert_not_served(31);
	/* A dies unseen by the store (never introduced: no release of its
	 * own); D's release brings the full LIST that drops A's row. */
	cr_assert_eq(xenon_domain_destroy(ctl, 31), 0);
	destroy_served(&d);
	/* Stale keys under the dead domid, then a scan (E's): nothing may be
	 * attached for 31. */
	write_keys(&a);
	dom_up(&e, 33, "<e-33>");
	assert_served(&e, "<e-33>");
	assert_nothing_about(31);
	/* The next domain 31 is served: no broken console hides it. */
	dom_up(&a2, 31, "<second-31>");
	assert_served(&a2, "<second-31>");
	cr_assert_eq(log_lines(31, "console at"), 1);
	assert_one_consoled();
}

/*
 * The rule of cd_look_at: a domain introduced without console keys is
 * passed over from then on (toolstacks write the keys before INTRODUCE).
 * Keys written later are not attached at later scans: what LIST_NEW's
 * cursor has passed is not looked at again. (A consoled that listed every
 * domain at each scan, its cursor stuck, would serve it.)
 */
Test(consoled_discovery, introduced_without_keys_is_passed_over_for_good)
{
	struct dom p, q, r;

	dom_create(&p, 41);
	put_output(&p, "<p-41>");
	introduce(&p);
	dom_up(&q, 42, "<q-42>");
	assert_served(&q, "<q-42>");
	assert_not_served(41);
	write_keys(&p);
	dom_up(&r, 43, "<r-43>");
	assert_served(&r, "<r-43>");
	assert_not_served(41);
	assert_one_consoled();
}

/*
 * As e., but no console is served any more when the waiting domain dies:
 * no release of its own, and no slow check (consoled runs it only while
 * it serves a console), so nothing lists every domain before the next
 * scan. Its row must not be taken for a live domain then either.
 * Without cd_still_there() cd_scan took the stale waiting row, attached
 * d51 from the stale keys ("console broken (No such process)"), and that
 * broken console, pid 0 like the next process-less d51, hid the new
 * domain for good.
 */
Test(consoled_discovery, a_waiting_domain_that_dies_when_no_console_is_served)
{
	struct dom a, a2, s, b;

	dom_create(&a, 51);
	dom_up(&s, 52, "<s-52>");
	assert_served(&s, "<s-52>");
	assert_not_served(51);
	destroy_served(&s); /* the last console: none served from now on */
	cr_assert_eq(xenon_domain_destroy(ctl, 51), 0);
	write_keys(&a); /* stale keys under the dead domid */
	dom_up(&b, 53, "<b-53>");
	assert_served(&b, "<b-53>");
	assert_nothing_about(51);
	dom_up(&a2, 51, "<second-51>");
	assert_served(&a2, "<second-51>");
	assert_one_consoled();
}
