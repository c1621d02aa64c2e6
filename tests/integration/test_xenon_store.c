/*
 * The toolstack's domain entries (tools/xenon/store.h) against a real
 * xenon-xenstored in a private run dir (no xenon-hvd: INTRODUCE only marks
 * a domain introduced). Each creation records an instance token; removal
 * is one transaction that removes a domain's entries only if the token is
 * still the remover's. The cases play the removers that run late -- a
 * monitor, `shutdown -w', `reboot' -- against a domain created again under
 * the same domid.
 *
 * Also the opening of a run dir's store that every dom0 program shares
 * (lib/dom0/store_open.c).
 *
 * The interleavings inside one removal are made by this program's own
 * xs_directory() (the executable's definition wins over the library's for
 * store.c too): the removal lists the back ends' types after reading the
 * token, so a hook run there acts between the check and the commit.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenstore.h>

#include "xsd_fixture.h"

#include "store.h"
#include "xenon_dom0.h"

#define N 7	/* the domid the cases create and re-create */
#define OTHER 8 /* a neighbour whose entries must survive */

static struct fixture {
	struct xsd_fixture xsd;
	struct xs_handle *xs, *other;
	void (*hook)(void); /* run once, at the next xs_directory() */
	unsigned int directories;
} fx;

char **xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *num)
{
	static char **(*real)(struct xs_handle *, xs_transaction_t, const char *, unsigned int *);
	void (*hook)(void) = fx.hook;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "xs_directory");
	cr_assert_not_null(real);
	fx.directories++;
	fx.hook = NULL;
	if (hook)
		hook();
	return real(h, t, path, num);
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	xsd_start_clients(&fx.xsd, "xenon-store", &fx.xs, &fx.other);
}

static void teardown(void)
{
	xsd_stop_clients(&fx.xsd, fx.xs, fx.other);
}

TestSuite(xenon_store, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static bool exists(const char *path)
{
	unsigned int n;
	char *v = xs_read(fx.other, XBT_NULL, path, &n);

	free(v);
	return v != NULL;
}

static void put(const char *path, const char *value)
{
	cr_assert(xs_write(fx.other, XBT_NULL, path, value, strlen(value)), "%s", path);
}

static char *path_of(char *buf, const char *fmt, domid_t domid)
{
	snprintf(buf, 128, fmt, domid);
	return buf;
}

/* What a back end adds for a domain's devices, and an error report. */
static void backend_dirs(domid_t domid)
{
	char p[128];

	put(path_of(p, "/local/domain/0/backend/vbd/%u/51712/state", domid), "4");
	put(path_of(p, "/local/domain/0/backend/console/%u/0/state", domid), "4");
	put(path_of(p, "/local/domain/0/error/backend/vbd/%u/51712/error", domid), "5 x");
}

/* A creation as `xenon create' writes it (store.h), plus back-end dirs,
 * with NAME; its token into TOKEN. */
static void create(struct xs_handle *xs, domid_t domid, const char *name, char *token)
{
	const struct xenon_store_domain d = {
		.domid = domid,
		.name = name,
		.memory_kib = 4096,
		.maxmem_kib = 4096,
		.vcpus = 1,
		.store_gfn = 100,
		.console_gfn = 101,
		.store_port = 1,
		.console_port = 2,
		.config = "/etc/xenon/x.cfg",
		.args = "",
	};

	cr_assert_eq(xenon_store_write_domain(xs, &d), 0);
	backend_dirs(domid);
	cr_assert_eq(xenon_store_read_instance(xs, domid, token, XENON_STORE_INSTANCE_LEN + 1), 0);
}

static void assert_name(domid_t domid, const char *want)
{
	char buf[64];

	cr_assert_eq(xenon_store_read(fx.other, domid, "name", buf, sizeof(buf)), 0,
		     "domain %u has no name", domid);
	cr_assert_str_eq(buf, want);
}

/* Every entry of DOMID present (ALL) or absent (!ALL). */
static void assert_entries(domid_t domid, bool all)
{
	static const char *const fmts[] = {
		"/local/domain/%u",
		"/local/domain/%u/name",
		"/tool/xenon/%u/instance",
		"/tool/xenon/%u/config",
		"/local/domain/0/backend/vbd/%u",
		"/local/domain/0/backend/console/%u",
		"/local/domain/0/error/backend/vbd/%u",
	};
	char p[128];

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		cr_assert_eq(exists(path_of(p, fmts[i], domid)), all, "%s %s", p,
			     all ? "is missing" : "was left");
}

/* ---- creation ---- */

Test(xenon_store, each_creation_records_a_fresh_token)
{
	char a[XENON_STORE_INSTANCE_LEN + 1], b[XENON_STORE_INSTANCE_LEN + 1];

	create(fx.xs, N, "old", a);
	cr_assert_eq(strlen(a), XENON_STORE_INSTANCE_LEN);
	cr_assert_eq(strspn(a, "0123456789abcdef"), XENON_STORE_INSTANCE_LEN, "%s", a);
	create(fx.xs, N, "new", b);
	cr_assert_str_neq(a, b);
	assert_name(N, "new");
}

Test(xenon_store, creation_releases_a_dead_domain_with_its_domid)
{
	char t[XENON_STORE_INSTANCE_LEN + 1];

	/* Introduced and never released: its INTRODUCE again would be a no-op. */
	cr_assert(xs_introduce_domain(fx.other, N, 100, 1));
	create(fx.xs, N, "new", t);
	cr_assert(!xs_is_domain_introduced(fx.other, N));
	assert_entries(N, true); /* written after the release, which removed the home */
}

/* ---- removal ---- */

Test(xenon_store, the_right_token_removes_everything)
{
	char t[XENON_STORE_INSTANCE_LEN + 1], o[XENON_STORE_INSTANCE_LEN + 1];

	create(fx.xs, N, "dom", t);
	create(fx.xs, OTHER, "neighbour", o);
	cr_assert_eq(xenon_store_remove_domain(fx.xs, N, t), 0);
	assert_entries(N, false);
	assert_entries(OTHER, true);
	/* A second remover of the same instance finds nothing: no failure of its own. */
	cr_assert_eq(xenon_store_remove_domain(fx.xs, N, t), -ENOENT);
}

Test(xenon_store, a_stale_token_leaves_the_new_domain_intact)
{
	char old[XENON_STORE_INSTANCE_LEN + 1], cur[XENON_STORE_INSTANCE_LEN + 1];

	/* A monitor knows OLD; the domain died, and was created again (reboot). */
	create(fx.xs, N, "dom", old);
	create(fx.xs, N, "dom", cur);
	cr_assert_eq(xenon_store_remove_domain(fx.xs, N, old), -ESTALE);
	assert_entries(N, true);
	assert_name(N, "dom");
	cr_assert_eq(xenon_store_remove_domain(fx.xs, N, cur), 0);
	assert_entries(N, false);
}

Test(xenon_store, no_token_means_a_domain_without_one)
{
	char t[XENON_STORE_INSTANCE_LEN + 1];

	/* Entries no `xenon create' wrote (a tool, a test): removed as before. */
	put("/local/domain/7/name", "handmade");
	backend_dirs(N);
	cr_assert_eq(xenon_store_remove_domain(fx.xs, N, NULL), 0);
	cr_assert(!exists("/local/domain/7"));
	cr_assert(!exists("/local/domain/0/backend/vbd/7"));
	/* But a remover that knew no token leaves a created instance alone. */
	create(fx.xs, N, "dom", t);
	cr_assert_eq(xenon_store_remove_domain(fx.xs, N, NULL), -ESTALE);
	assert_entries(N, true);
}

/* ---- interleavings inside one removal ---- */

static char recreated[XENON_STORE_INSTANCE_LEN + 1];

static void recreate_now(void)
{
	create(fx.other, N, "again", recreated);
}

Test(xenon_store, a_creation_between_check_and_commit_wins)
{
	char old[XENON_STORE_INSTANCE_LEN + 1];

	create(fx.xs, N, "dom", old);
	/* The removal reads OLD, then the domain is created again before it
	 * commits: the commit conflicts, the retry sees the new token. */
	fx.hook = recreate_now;
	cr_assert_eq(xenon_store_remove_domain(fx.xs, N, old), -ESTALE);
	cr_assert_str_neq(recreated, old);
	assert_entries(N, true);
	assert_name(N, "again");
}

static void xenstored_releases(void)
{
	cr_assert(xs_release_domain(fx.other, N));
}

Test(xenon_store, xenstored_releasing_the_domain_meanwhile_costs_a_retry)
{
	char t[XENON_STORE_INSTANCE_LEN + 1];

	create(fx.xs, N, "dom", t);
	cr_assert(xs_introduce_domain(fx.other, N, 100, 1));
	/* xenstored removes the home itself when it releases the domain
	 * (VIRQ_DOM_EXC); here in the middle of the removal. */
	fx.hook = xenstored_releases;
	fx.directories = 0;
	cr_assert_eq(xenon_store_remove_domain(fx.xs, N, t), 0);
	assert_entries(N, false);
	/* Two listings a run: the first run's, then the retry's. */
	cr_assert_eq(fx.directories, 4, "%u listings", fx.directories);
}

/* ---- opening by run dir (lib/dom0/store_open.c) ---- */

Test(xenon_store, open_by_run_dir_sets_xenstored_path)
{
	char run[128], link[160], want[160];
	struct xs_handle *xs = NULL;

	snprintf(run, sizeof(run), "%s/run", fx.xsd.dir);
	cr_assert_eq(mkdir(run, 0700), 0);
	/* RUN/xenstore is the fixture's run dir, as xenon-hvd lays it out. */
	snprintf(link, sizeof(link), "%s/xenstore", run);
	cr_assert_eq(symlink(fx.xsd.dir, link), 0);
	cr_assert_eq(xenon_store_open(run, &xs), 0);
	cr_assert(xs_write(xs, XBT_NULL, "/opened", "yes", 3));
	cr_assert(exists("/opened"), "not the fixture's store");
	xenon_store_close(xs);
	snprintf(want, sizeof(want), "%s/xenstore/socket", run);
	cr_assert_str_eq(getenv("XENSTORED_PATH"), want);
	xenon_store_close(NULL);
}

Test(xenon_store, open_says_why_it_cannot)
{
	char long_dir[PATH_MAX + 16];
	struct xs_handle *xs = NULL;

	cr_assert_eq(xenon_store_open(fx.xsd.dir, &xs), -ENOENT, "no xenstore/ in it");
	memset(long_dir, 'a', sizeof(long_dir) - 1);
	long_dir[sizeof(long_dir) - 1] = '\0';
	cr_assert_eq(xenon_store_open(long_dir, &xs), -ENAMETOOLONG);
}
