/*
 * dom0 grant maps and shares against a real xenon-hvd (one per test, in a
 * private run dir, no xenstored), through libxenon-dom0, with a raw
 * protocol guest (hvd_grantguest) as the domU that grants and maps.
 *
 * Environment: XENON_HVD (the daemon), HVD_GRANTGUEST (the guest), XENON
 * (the CLI, for `xenon graph`).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xengnttab.h>

#include "hvd_grantguest.h"
#include "hvd_fixture.h"
#include "xenon_dom0.h"
#include <xen/xen.h> /* CONSOLEIO_write */

#define GUEST_DOMID 5
#define GUEST_PAGES 256
#define WAIT_MS 5000

static struct hvd_fixture hf;
static struct xenon_ctl *ctl;
static struct xenon_evtchn *xe;
static int guest_port; /* dom0's end of the guest's channel */
static struct gg_mailbox *box;
static uint8_t *guest_ram; /* foreign map of the guest's RAM */

/* ---- the daemon ----------------------------------------------------------- */

/* with_store: xenstored and consoled too (what `xenon graph` needs). */
static void hvd_start(bool with_store)
{
	static const char *const bare[] = { "--no-xenstored", "-v", NULL };
	static const char *const store[] = { "-v", "-v", NULL };

	hvd_fixture_start(&hf, "hvd-grants", with_store ? store : bare);
	fprintf(stderr, "# %s: %s, xenon-hvd pid %d\n", criterion_current_test->name, hf.run_dir,
		(int)hf.pid);
	cr_assert_eq(xenon_ctl_open(hf.run_dir, &ctl), 0);
}

static void hvd_stop(void)
{
	if (box)
		xenon_foreign_unmap(guest_ram, GUEST_PAGES);
	box = NULL;
	xenon_evtchn_close(xe);
	xenon_ctl_close(ctl);
	xe = NULL;
	ctl = NULL;
	hvd_fixture_stop(&hf);
}

/* ---- events and the guest ------------------------------------------------- */

static int wait_event(struct xenon_evtchn *h, int timeout_ms)
{
	struct pollfd pfd = { .fd = xenon_evtchn_fd(h), .events = POLLIN };
	int port = xenon_evtchn_pending(h);

	if (port != -EAGAIN)
		return port;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	return xenon_evtchn_pending(h);
}

/* The guest notified on its channel (each event is unmasked again). */
static bool guest_event(void)
{
	int port = wait_event(xe, WAIT_MS);

	if (port < 0)
		return false;
	xenon_evtchn_unmask(xe, (evtchn_port_t)port);
	return port == guest_port;
}

static void guest_start(void)
{
	struct procdom_ctl_create req;
	const char *path = getenv("HVD_GRANTGUEST");
	char *argv[] = { (char *)path, "1", NULL };
	uint32_t domid;

	cr_assert_not_null(path, "HVD_GRANTGUEST not set");
	cr_assert_eq(xenon_evtchn_open(hf.run_dir, &xe), 0);
	guest_port = xenon_evtchn_bind_unbound_port(xe, GUEST_DOMID);
	cr_assert_gt(guest_port, 0);
	xenon_create_defaults(&req);
	req.domid = GUEST_DOMID;
	req.nr_pages = GUEST_PAGES;
	req.nr_bind = 1;
	req.bind[0] = (struct procdom_ctl_bind){ .port = 1,
						 .remote_domid = 0,
						 .remote_port = (uint32_t)guest_port };
	cr_assert_eq(xenon_domain_create(ctl, &req, argv, &domid, NULL), 0);
	cr_assert_eq(xenon_domain_unpause(ctl, GUEST_DOMID), 0);
	cr_assert(guest_event(), "the guest booted and granted");
	guest_ram = xenon_foreign_map(ctl, GUEST_DOMID, 0, GUEST_PAGES, PROT_READ | PROT_WRITE);
	cr_assert_not_null(guest_ram);
	box = (void *)(guest_ram + GG_MAILBOX_GFN * PROCDOM_PAGE_SIZE);
}

static void setup(void)
{
	hvd_start(false);
	guest_start();
}

static void setup_with_store(void)
{
	hvd_start(true);
	guest_start();
}

static int guest_cmd(enum gg_cmd cmd, uint32_t ref, bool readonly)
{
	uint32_t seq = box->seq + 1;
	int i;

	box->cmd = cmd;
	box->ref = ref;
	box->readonly = readonly;
	__atomic_store_n(&box->seq, seq, __ATOMIC_RELEASE);
	for (i = 0; i < 10 && __atomic_load_n(&box->done, __ATOMIC_ACQUIRE) != seq; i++)
		guest_event();
	cr_assert_eq(box->done, seq, "the guest answered command %d", cmd);
	return box->result;
}

static uint8_t *guest_frame(uint64_t gfn)
{
	return guest_ram + gfn * PROCDOM_PAGE_SIZE;
}

static int grants_of(uint32_t domid, struct procdom_ctl_grant *out, unsigned int max)
{
	return xenon_grant_status(ctl, domid, out, max);
}

static struct procdom_ctl_gnt_counts counts(void)
{
	struct procdom_ctl_gnt_counts n;

	cr_assert_eq(xenon_grant_counts(ctl, &n), 0);
	return n;
}

/* A child's death reaches xenon-hvd asynchronously: ask again, bounded. */
static bool counts_settle(uint32_t free, uint32_t maps)
{
	struct timespec ts = { 0, 2000000 };
	int i;

	for (i = 0; i < 2500; i++) {
		struct procdom_ctl_gnt_counts n = counts();

		if (n.dom0_frames_free == free && n.dom0_maps == maps && !n.dom0_frames_deferred)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

TestSuite(grants, .init = setup, .fini = hvd_stop, .timeout = 60);

/* ---- maps ------------------------------------------------------------------- */

Test(grants, map_sees_the_same_bytes_both_ways)
{
	uint32_t refs[GG_NR_RW] = { GG_FIRST_REF, GG_FIRST_REF + 1, GG_FIRST_REF + 2,
				    GG_FIRST_REF + 3 };
	struct procdom_ctl_grant st[8];
	struct xenon_gnttab *xgt;
	uint8_t *p;
	unsigned int i, j;

	cr_assert_eq(xenon_gnttab_open(hf.run_dir, &xgt), 0);
	p = xenon_gnttab_map_grant_refs(xgt, GG_NR_RW, GUEST_DOMID, refs, PROT_READ | PROT_WRITE);
	cr_assert_not_null(p, "map: %s", strerror(errno));
	for (i = 0; i < GG_NR_RW; i++)
		for (j = 0; j < PROCDOM_PAGE_SIZE; j += 511)
			cr_expect_eq(p[i * PROCDOM_PAGE_SIZE + j], gg_pattern(GG_FIRST_GFN + i, j));
	p[3 * PROCDOM_PAGE_SIZE + 7] = 0xab;
	cr_expect_eq(guest_frame(GG_FIRST_GFN + 3)[7], 0xab, "dom0's write is in the guest");
	guest_frame(GG_FIRST_GFN)[9] = 0xcd;
	cr_expect_eq(p[9], 0xcd, "the guest's write is in dom0's map");
	cr_assert_eq(grants_of(0, st, 8), GG_NR_RW);
	for (i = 0; i < GG_NR_RW; i++) {
		cr_expect_eq(st[i].granter, GUEST_DOMID);
		cr_expect_eq(st[i].mapper, 0);
		cr_expect_eq(st[i].flags & PROCDOM_GRANT_READONLY, 0);
	}
	cr_expect_eq(counts().dom0_maps, GG_NR_RW);
	cr_expect_eq(xenon_gnttab_unmap(xgt, p, 3), -EINVAL, "count must match the map");
	cr_assert_eq(xenon_gnttab_unmap(xgt, p, GG_NR_RW), 0);
	cr_expect_eq(grants_of(0, st, 8), 0);
	cr_expect_eq(counts().dom0_maps, 0);
	xenon_gnttab_close(xgt);
}

Test(grants, readonly_map_refuses_writes)
{
	struct procdom_ctl_grant st[2];
	struct xenon_gnttab *xgt;
	uint8_t *p;
	int status;
	pid_t pid;

	cr_assert_eq(xenon_gnttab_open(hf.run_dir, &xgt), 0);
	errno = 0;
	cr_expect_null(
		xenon_gnttab_map_grant_ref(xgt, GUEST_DOMID, GG_RO_REF, PROT_READ | PROT_WRITE));
	cr_expect_eq(errno, EACCES, "writable map of a read-only grant: EACCES");
	p = xenon_gnttab_map_grant_ref(xgt, GUEST_DOMID, GG_RO_REF, PROT_READ);
	cr_assert_not_null(p);
	cr_expect_eq(p[5], gg_pattern(GG_FIRST_GFN + GG_NR_RW, 5));
	cr_assert_eq(grants_of(0, st, 2), 1);
	cr_expect(st[0].flags & PROCDOM_GRANT_READONLY);
	cr_expect_eq(xenon_gnttab_set_unmap_notify(xgt, p, 0, -1), -EINVAL,
		     "no byte to clear in a read-only map");
	pid = fork();
	if (pid == 0) {
		/* Criterion's crash handler would report this child's fault
		 * as the test's (and kill it before its fini): the default. */
		signal(SIGSEGV, SIG_DFL);
		((volatile uint8_t *)p)[5] = 1;
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "the write faults");
	cr_expect_eq(guest_frame(GG_FIRST_GFN + GG_NR_RW)[5],
		     gg_pattern(GG_FIRST_GFN + GG_NR_RW, 5));
	xenon_gnttab_close(xgt);
}

Test(grants, bad_maps_fail_cleanly)
{
	uint32_t mixed[2] = { GG_FIRST_REF, 999999 };
	struct procdom_ctl_grant st[4];
	struct xenon_gnttab *xgt;
	uint32_t many[XENON_GNTTAB_MAX_BATCH + 1] = { 0 };

	cr_assert_eq(xenon_gnttab_open(hf.run_dir, &xgt), 0);
	errno = 0;
	cr_expect_null(xenon_gnttab_map_grant_ref(xgt, GUEST_DOMID, 999999, PROT_READ));
	cr_expect_eq(errno, EINVAL, "a ref beyond the table");
	cr_expect_null(xenon_gnttab_map_grant_ref(xgt, GUEST_DOMID, GG_UNUSED_REF, PROT_READ));
	cr_expect_eq(errno, EACCES, "an entry not granted to dom0");
	cr_expect_null(xenon_gnttab_map_grant_ref(xgt, 4242, GG_FIRST_REF, PROT_READ));
	cr_expect_eq(errno, ESRCH, "no such domain");
	cr_expect_null(xenon_gnttab_map_grant_refs(xgt, 0, GUEST_DOMID, mixed, PROT_READ));
	cr_expect_eq(errno, EINVAL, "count 0");
	cr_expect_null(xenon_gnttab_map_grant_refs(xgt, XENON_GNTTAB_MAX_BATCH + 1, GUEST_DOMID,
						   many, PROT_READ));
	cr_expect_eq(errno, EINVAL, "count beyond the batch");
	cr_expect_null(xenon_gnttab_map_grant_ref(xgt, GUEST_DOMID, GG_FIRST_REF, PROT_WRITE));
	cr_expect_eq(errno, EINVAL, "write-only prot");
	cr_expect_null(xenon_gnttab_map_grant_refs(xgt, 2, GUEST_DOMID, mixed, PROT_READ));
	cr_expect_eq(errno, EINVAL, "one bad ref fails the batch");
	cr_expect_eq(grants_of(0, st, 4), 0, "and leaves nothing mapped");
	cr_expect_eq(counts().dom0_maps, 0);
	cr_expect_eq(xenon_gnttab_unmap(xgt, &st, 1), -EINVAL, "unmap of no mapping");
	xenon_gnttab_close(xgt);
}

/* ---- unmap notifies ---------------------------------------------------------- */

/* A dom0 loopback channel: notifies sent on `send` fire `recv` on h. */
static void loopback(struct xenon_evtchn *h, int *recv, int *send)
{
	int got;

	*recv = xenon_evtchn_bind_unbound_port(h, 0);
	cr_assert_gt(*recv, 0);
	*send = xenon_evtchn_bind_interdomain(h, 0, (evtchn_port_t)*recv);
	cr_assert_gt(*send, 0);
	while ((got = wait_event(h, 100)) >= 0)
		xenon_evtchn_unmask(h, (evtchn_port_t)got);
}

Test(grants, unmap_notify_on_unmap)
{
	struct xenon_evtchn *ev;
	struct xenon_gnttab *xgt;
	int recv, send;
	uint8_t *p;

	cr_assert_eq(xenon_evtchn_open(hf.run_dir, &ev), 0);
	loopback(ev, &recv, &send);
	cr_assert_eq(xenon_gnttab_open(hf.run_dir, &xgt), 0);
	p = xenon_gnttab_map_grant_ref(xgt, GUEST_DOMID, GG_FIRST_REF + 1, PROT_READ | PROT_WRITE);
	cr_assert_not_null(p);
	p[10] = 0x77;
	cr_assert_eq(xenon_gnttab_set_unmap_notify(xgt, p, 10, send), 0);
	cr_expect_eq(wait_event(ev, 50), -ETIMEDOUT);
	cr_assert_eq(xenon_gnttab_unmap(xgt, p, 1), 0);
	cr_expect_eq(guest_frame(GG_FIRST_GFN + 1)[10], 0, "the notify byte is zeroed");
	cr_expect_eq(wait_event(ev, WAIT_MS), recv, "the notify port fired");
	xenon_gnttab_close(xgt);
	xenon_evtchn_close(ev);
}

Test(grants, unmap_notify_on_client_death)
{
	struct xenon_evtchn *ev;
	struct procdom_ctl_grant st[2];
	int recv, send, p[2], status;
	char c;
	pid_t pid;

	cr_assert_eq(xenon_evtchn_open(hf.run_dir, &ev), 0);
	loopback(ev, &recv, &send);
	guest_frame(GG_FIRST_GFN + 2)[20] = 0x99;
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		struct xenon_gnttab *xgt;
		uint8_t *m;

		if (xenon_gnttab_open(hf.run_dir, &xgt))
			_exit(1);
		m = xenon_gnttab_map_grant_ref(xgt, GUEST_DOMID, GG_FIRST_REF + 2,
					       PROT_READ | PROT_WRITE);
		if (!m || xenon_gnttab_set_unmap_notify(xgt, m + 20, 20, send))
			_exit(2);
		c = 'm';
		if (write(p[1], &c, 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the child mapped");
	cr_expect_eq(grants_of(0, st, 2), 1);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_expect_eq(wait_event(ev, WAIT_MS), recv, "the notify port fired at the death");
	cr_expect_eq(guest_frame(GG_FIRST_GFN + 2)[20], 0, "the notify byte is zeroed");
	cr_expect_eq(grants_of(0, st, 2), 0, "the grant is unmapped");
	close(p[0]);
	xenon_evtchn_close(ev);
}

/* ---- copy -------------------------------------------------------------------- */

Test(grants, copy_both_ways_and_in_batches)
{
	struct xengnttab_grant_copy_segment seg[20];
	uint8_t out[20][64], in[64];
	struct xenon_gnttab *xgt;
	unsigned int i;

	cr_assert_eq(xenon_gnttab_open(hf.run_dir, &xgt), 0);
	memset(in, 0x3c, sizeof(in));
	seg[0] = (struct xengnttab_grant_copy_segment){
		.source.virt = in,
		.dest.foreign = { .ref = GG_FIRST_REF + 3, .offset = 4000, .domid = GUEST_DOMID },
		.len = 64,
		.flags = GNTCOPY_dest_gref,
	};
	/* 20 reads: more than one message carries. */
	for (i = 1; i < 20; i++)
		seg[i] = (struct xengnttab_grant_copy_segment){
			.source.foreign = { .ref = GG_FIRST_REF + i % GG_NR_RW,
					    .offset = (uint16_t)(i * 100),
					    .domid = GUEST_DOMID },
			.dest.virt = out[i],
			.len = 64,
			.flags = GNTCOPY_source_gref,
		};
	seg[19].source.foreign.ref = 999999;
	cr_assert_eq(xenon_gnttab_grant_copy(xgt, 20, seg), 0);
	cr_expect_eq(seg[0].status, GNTST_okay);
	cr_expect_eq(memcmp(guest_frame(GG_FIRST_GFN + 3) + 4000, in, 64), 0, "copied in");
	for (i = 1; i < 19; i++) {
		cr_expect_eq(seg[i].status, GNTST_okay);
		cr_expect_eq(memcmp(out[i], guest_frame(GG_FIRST_GFN + i % GG_NR_RW) + i * 100, 64),
			     0, "segment %u copied out", i);
	}
	cr_expect_eq(seg[19].status, GNTST_bad_gntref);
	seg[1].len = 200; /* 1 * 100 + 200 fits; 4000 + 200 does not */
	seg[0].len = 200;
	cr_expect_eq(xenon_gnttab_grant_copy(xgt, 2, seg), -EINVAL, "crossing the page");
	seg[0].flags = GNTCOPY_dest_gref | GNTCOPY_source_gref;
	seg[0].len = 1;
	cr_expect_eq(xenon_gnttab_grant_copy(xgt, 1, seg), -EINVAL, "exactly one grant side");
	xenon_gnttab_close(xgt);
}

/* ---- shares ------------------------------------------------------------------- */

Test(grants, share_is_seen_by_the_domu)
{
	struct procdom_ctl_gnt_counts before = counts();
	struct procdom_ctl_grant st[2];
	struct xenon_gntshr *xgs;
	uint32_t refs[2], ro_ref;
	uint8_t *p, *q;

	cr_assert_eq(xenon_gntshr_open(hf.run_dir, &xgs), 0);
	p = xenon_gntshr_share_pages(xgs, GUEST_DOMID, 2, refs, true);
	cr_assert_not_null(p, "share: %s", strerror(errno));
	cr_expect_eq(p[0] | p[4095] | p[4096], 0, "fresh frames are zeroed");
	cr_expect_eq(counts().dom0_frames_free, before.dom0_frames_free - 2);
	memcpy(p, "hello from dom0", 16);
	cr_assert_eq(guest_cmd(GG_CMD_MAP, refs[0], false), 0);
	cr_expect_eq(memcmp(box->data, "hello from dom0", 16), 0, "the domU reads dom0's page");
	cr_expect_eq(box->map_readonly, 0);
	cr_expect_eq(p[GG_MARK_OFFSET], GG_MARK, "dom0 sees the domU's write");
	cr_assert_eq(grants_of(GUEST_DOMID, st, 2), 1);
	cr_expect_eq(st[0].granter, 0);
	cr_expect_eq(st[0].ref, refs[0]);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);

	q = xenon_gntshr_share_pages(xgs, GUEST_DOMID, 1, &ro_ref, false);
	cr_assert_not_null(q);
	q[0] = 42;
	cr_assert_eq(guest_cmd(GG_CMD_MAP, ro_ref, false), GNTST_general_error,
		     "a writable map of a read-only share is refused");
	cr_assert_eq(guest_cmd(GG_CMD_MAP, ro_ref, true), 0);
	cr_expect_eq(box->map_readonly, 1, "the map change says read-only");
	cr_expect_eq(box->data[0], 42);
	cr_expect_eq(guest_cmd(GG_CMD_RO_WRITE, 0, false), SIGSEGV,
		     "the domU cannot make it writable: its write faults");
	cr_expect_eq(q[0], 42);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);
	cr_expect_eq(xenon_gntshr_unshare(xgs, p, 2), 0);
	cr_expect_eq(xenon_gntshr_unshare(xgs, q, 1), 0);
	cr_expect_eq(counts().dom0_frames_free, before.dom0_frames_free);
	cr_expect_eq(counts().dom0_refs_used, before.dom0_refs_used);
	xenon_gntshr_close(xgs);
}

/* Put needle k somewhere: the guest counts it in the fd of its next map. */
static void needle_make(unsigned int k, uint8_t out[16])
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "needle%u.%08x", k, (unsigned int)getpid() & 0xfffffffu);
	memcpy(out, tmp, 16);
	memcpy(box->needle[k], out, 16);
}

/*
 * The hole this closes: a domU mapping a dom0 share used to receive dom0's
 * whole ram memfd, so it could read and write dom0's hypercall scratch
 * frames, the copy bounce frames and every other share. Now the fd it
 * receives holds the share and nothing else.
 */
Test(grants, domu_reaches_only_the_share_it_maps)
{
	struct xengnttab_grant_copy_segment seg;
	uint8_t same[16], other[16], bounce[16];
	uint64_t args[5] = { CONSOLEIO_write, 16, 0 };
	struct xenon_gnttab *xgt;
	struct xenon_gntshr *xgs;
	uint32_t refs[2], oref;
	uint8_t *p, *q;

	cr_assert_eq(xenon_gntshr_open(hf.run_dir, &xgs), 0);
	cr_assert_eq(xenon_gnttab_open(hf.run_dir, &xgt), 0);
	p = xenon_gntshr_share_pages(xgs, GUEST_DOMID, 2, refs, true);
	q = xenon_gntshr_share_pages(xgs, GUEST_DOMID, 1, &oref, true);
	cr_assert(p && q);
	/* A needle in the mapped share's other page (granted too: found), in
	 * another share, in a copy bounce frame and in the hypercall scratch
	 * frames (a client's hypercall arguments). */
	needle_make(0, same);
	memcpy(p + PROCDOM_PAGE_SIZE + 200, same, 16);
	needle_make(1, other);
	memcpy(q + 300, other, 16);
	needle_make(2, bounce);
	seg = (struct xengnttab_grant_copy_segment){
		.source.virt = bounce,
		.dest.foreign = { .ref = GG_FIRST_REF, .offset = 0, .domid = GUEST_DOMID },
		.len = 16,
		.flags = GNTCOPY_dest_gref,
	};
	cr_assert_eq(xenon_gnttab_grant_copy(xgt, 1, &seg), 0);
	cr_assert_eq(seg.status, GNTST_okay);
	xenon_hypercall(ctl, __HYPERVISOR_console_io, args, 2, other, 16);

	cr_assert_eq(guest_cmd(GG_CMD_MAP, refs[0], false), 0);
	cr_expect_eq(box->fd_size, 2 * PROCDOM_PAGE_SIZE, "the fd holds the share alone (%llu)",
		     (unsigned long long)box->fd_size);
	cr_expect_eq(box->map_offset, 0);
	cr_expect_eq(box->found[0], 1, "the share's own other page is there");
	cr_expect_eq(box->found[1], 0, "no other share, no scratch frame");
	cr_expect_eq(box->found[2], 0, "no copy bounce frame");
	cr_expect_eq(box->fd_accmode, O_RDWR);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);

	/* The second page of the share: the same fd's second page. */
	cr_assert_eq(guest_cmd(GG_CMD_MAP, refs[1], false), 0);
	cr_expect_eq(box->map_offset, PROCDOM_PAGE_SIZE);
	cr_expect_eq(box->fd_size, 2 * PROCDOM_PAGE_SIZE);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);
	cr_expect_eq(xenon_gntshr_unshare(xgs, p, 2), 0);
	cr_expect_eq(xenon_gntshr_unshare(xgs, q, 1), 0);
	xenon_gnttab_close(xgt);
	xenon_gntshr_close(xgs);
}

/* A read-only share reaches the domU as an O_RDONLY fd: mapping it
 * writable fails, whatever offset or protection the domU asks for. */
Test(grants, readonly_share_fd_is_readonly)
{
	struct xenon_gntshr *xgs;
	uint32_t ref;
	uint8_t *q;

	cr_assert_eq(xenon_gntshr_open(hf.run_dir, &xgs), 0);
	q = xenon_gntshr_share_pages(xgs, GUEST_DOMID, 1, &ref, false);
	cr_assert_not_null(q);
	q[0] = 7;
	cr_assert_eq(guest_cmd(GG_CMD_MAP, ref, true), 0);
	cr_expect_eq(box->data[0], 7);
	cr_expect_eq(box->fd_size, PROCDOM_PAGE_SIZE);
	cr_expect_eq(box->fd_accmode, O_RDONLY);
	cr_expect_eq(box->fd_wmap, -EACCES, "a writable mmap of it: %d", box->fd_wmap);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);
	cr_expect_eq(xenon_gntshr_unshare(xgs, q, 1), 0);
	xenon_gntshr_close(xgs);
}

/* dom0 mapping its own share (a loopback, as gntdev allows) sees the
 * share's memfd; a batch across two shares is refused. */
Test(grants, dom0_maps_its_own_share)
{
	struct procdom_ctl_gnt_counts before = counts();
	struct xenon_gnttab *xgt;
	struct xenon_gntshr *xgs;
	uint32_t refs[2], both[2];
	uint8_t *p, *q, *m;

	cr_assert_eq(xenon_gntshr_open(hf.run_dir, &xgs), 0);
	cr_assert_eq(xenon_gnttab_open(hf.run_dir, &xgt), 0);
	p = xenon_gntshr_share_pages(xgs, 0, 2, refs, true);
	q = xenon_gntshr_share_pages(xgs, 0, 1, &both[1], true);
	cr_assert(p && q);
	p[PROCDOM_PAGE_SIZE + 5] = 0x77;
	m = xenon_gnttab_map_grant_refs(xgt, 2, 0, refs, PROT_READ | PROT_WRITE);
	cr_assert_not_null(m, "loopback map: %s", strerror(errno));
	cr_expect_eq(m[PROCDOM_PAGE_SIZE + 5], 0x77);
	m[9] = 0x99;
	cr_expect_eq(p[9], 0x99, "the same frame");
	cr_assert_eq(xenon_gnttab_unmap(xgt, m, 2), 0);
	both[0] = refs[0];
	errno = 0;
	cr_expect_null(xenon_gnttab_map_grant_refs(xgt, 2, 0, both, PROT_READ));
	cr_expect_eq(errno, EINVAL, "two shares in one batch");
	cr_expect_eq(counts().dom0_maps, before.dom0_maps);
	cr_expect_eq(xenon_gntshr_unshare(xgs, p, 2), 0);
	cr_expect_eq(xenon_gntshr_unshare(xgs, q, 1), 0);
	cr_expect_eq(counts().dom0_frames_free, before.dom0_frames_free);
	xenon_gnttab_close(xgt);
	xenon_gntshr_close(xgs);
}

Test(grants, unshare_while_mapped_defers)
{
	struct procdom_ctl_gnt_counts before = counts(), n;
	struct xenon_evtchn *ev;
	struct xenon_gntshr *xgs;
	int recv, send;
	uint32_t ref;
	uint8_t *p;

	cr_assert_eq(xenon_evtchn_open(hf.run_dir, &ev), 0);
	loopback(ev, &recv, &send);
	cr_assert_eq(xenon_gntshr_open(hf.run_dir, &xgs), 0);
	p = xenon_gntshr_share_page_notify(xgs, GUEST_DOMID, true, 30, send, &ref);
	cr_assert_not_null(p);
	p[30] = 1;
	cr_assert_eq(guest_cmd(GG_CMD_MAP, ref, false), 0);
	cr_assert_eq(xenon_gntshr_unshare(xgs, p, 1), 0);
	cr_expect_eq(wait_event(ev, WAIT_MS), recv, "the unshare notify fired");
	n = counts();
	cr_expect_eq(n.dom0_frames_deferred, 1, "the mapped frame is deferred");
	cr_expect_eq(n.dom0_frames_free, before.dom0_frames_free - 1);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);
	n = counts();
	cr_expect_eq(n.dom0_frames_deferred, 0, "freed once the domU unmapped");
	cr_expect_eq(n.dom0_frames_free, before.dom0_frames_free);
	cr_expect_eq(n.dom0_refs_used, before.dom0_refs_used);
	xenon_gntshr_close(xgs);
	xenon_evtchn_close(ev);
}

/* Share count pages at once; NULL (errno set) if the pool has too few. */
static uint8_t *share_n(struct xenon_gntshr *xgs, uint32_t count)
{
	static uint32_t refs[XENON_GNTTAB_MAX_BATCH];

	return xenon_gntshr_share_pages(xgs, GUEST_DOMID, count, refs, true);
}

/*
 * The pool's free-frame search starts at its cursor, wraps around and
 * skips every frame in use, a deferred one too. A fresh pool: frame 0 is
 * shared and mapped by the domU, frame 1 shared; both unshared, 0 is
 * deferred. Exactly the free count can then be shared (2..4095, then 1),
 * a batch that does not fit fails whole (ENOSPC) and gives back what it
 * took, and once the domU unmaps frame 0 it is found again although the
 * cursor is past it (at 2, everything above in use).
 */
Test(grants, pool_runs_out_around_a_deferred_frame)
{
	struct procdom_ctl_gnt_counts before = counts();
	uint32_t max = before.dom0_frames_total / XENON_GNTTAB_MAX_BATCH + 2, nr = 0, i, left;
	uint8_t **sh = calloc(max, sizeof(*sh)), *p;
	uint32_t *sh_n = calloc(max, sizeof(*sh_n)), ref;
	struct xenon_gntshr *xgs;

	cr_assert(sh && sh_n);
	cr_assert_eq(xenon_gntshr_open(hf.run_dir, &xgs), 0);
	cr_assert_eq(before.dom0_frames_free, before.dom0_frames_total, "a fresh pool");
	p = xenon_gntshr_share_pages(xgs, GUEST_DOMID, 1, &ref, true);
	sh[0] = share_n(xgs, 1);
	cr_assert(sh[0] && p);
	cr_assert_eq(guest_cmd(GG_CMD_MAP, ref, false), 0);
	cr_assert_eq(xenon_gntshr_unshare(xgs, p, 1), 0);
	cr_assert_eq(xenon_gntshr_unshare(xgs, sh[0], 1), 0);
	cr_assert_eq(counts().dom0_frames_deferred, 1);
	left = counts().dom0_frames_free;
	cr_assert_eq(left, before.dom0_frames_free - 1);
	for (; left; left -= sh_n[nr++]) {
		sh_n[nr] = left < XENON_GNTTAB_MAX_BATCH ? left : XENON_GNTTAB_MAX_BATCH;
		sh[nr] = share_n(xgs, sh_n[nr]);
		cr_assert_not_null(sh[nr], "%u pages, %u free: %s", sh_n[nr], left,
				   strerror(errno));
	}
	/* The last batch again, with one page more than is free. */
	nr--;
	cr_assert_lt(sh_n[nr], XENON_GNTTAB_MAX_BATCH);
	cr_assert_eq(xenon_gntshr_unshare(xgs, sh[nr], sh_n[nr]), 0);
	errno = 0;
	cr_expect_null(share_n(xgs, sh_n[nr] + 1), "%u pages, %u free", sh_n[nr] + 1, sh_n[nr]);
	cr_expect_eq(errno, ENOSPC);
	cr_expect_eq(counts().dom0_frames_free, sh_n[nr], "the failed batch gave back all");
	sh[nr] = share_n(xgs, sh_n[nr]);
	cr_assert_not_null(sh[nr]);
	nr++;
	errno = 0;
	cr_expect_null(share_n(xgs, 1), "the deferred frame is not handed out");
	cr_expect_eq(errno, ENOSPC);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);
	cr_expect_eq(counts().dom0_frames_deferred, 0);
	sh_n[nr] = 1;
	sh[nr] = share_n(xgs, 1);
	cr_expect_not_null(sh[nr], "freed, it is found behind the cursor");
	nr += sh[nr] != NULL;
	for (i = 0; i < nr; i++)
		cr_expect_eq(xenon_gntshr_unshare(xgs, sh[i], sh_n[i]), 0);
	cr_expect_eq(counts().dom0_frames_free, before.dom0_frames_free);
	cr_expect_eq(counts().dom0_refs_used, before.dom0_refs_used);
	xenon_gntshr_close(xgs);
	free(sh);
	free(sh_n);
}

Test(grants, connection_death_undoes_everything)
{
	struct procdom_ctl_gnt_counts before = counts();
	struct procdom_ctl_grant st[4];
	int p[2], status;
	char c;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		uint32_t refs[3], mrefs[2] = { GG_FIRST_REF, GG_FIRST_REF + 1 };
		struct xenon_gntshr *xgs;
		struct xenon_gnttab *xgt;

		if (xenon_gntshr_open(hf.run_dir, &xgs) || xenon_gnttab_open(hf.run_dir, &xgt))
			_exit(1);
		if (!xenon_gntshr_share_pages(xgs, GUEST_DOMID, 3, refs, true) ||
		    !xenon_gnttab_map_grant_refs(xgt, 2, GUEST_DOMID, mrefs, PROT_READ))
			_exit(2);
		c = (char)refs[1];
		if (write(p[1], &c, 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the child shared and mapped");
	/* The guest maps one of the child's shares: it outlives the child
	 * as a deferred frame until the guest unmaps. */
	cr_assert_eq(guest_cmd(GG_CMD_MAP, (uint8_t)c, false), 0);
	cr_expect_eq(counts().dom0_frames_free, before.dom0_frames_free - 3);
	cr_expect_eq(grants_of(0, st, 4), 2);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);
	cr_expect(counts_settle(before.dom0_frames_free, 0), "every frame and map is back");
	cr_expect_eq(grants_of(0, st, 4), 0);
	cr_expect_eq(counts().dom0_refs_used, before.dom0_refs_used);
	close(p[0]);
}

Test(grants, share_errors)
{
	struct xenon_gntshr *xgs;
	uint32_t refs[2];

	cr_assert_eq(xenon_gntshr_open(hf.run_dir, &xgs), 0);
	errno = 0;
	cr_expect_null(xenon_gntshr_share_pages(xgs, 4242, 1, refs, true));
	cr_expect_eq(errno, ESRCH);
	cr_expect_null(xenon_gntshr_share_pages(xgs, GUEST_DOMID, 0, refs, true));
	cr_expect_eq(errno, EINVAL);
	cr_expect_null(xenon_gntshr_share_page_notify(xgs, GUEST_DOMID, true, 4096, -1, refs));
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(xenon_gntshr_unshare(xgs, refs, 1), -EINVAL);
	xenon_gntshr_close(xgs);
}

/* ---- xenon graph ---------------------------------------------------------- */

static bool graph_has(const char *needle)
{
	char cmd[256], line[512];
	bool found = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --run-dir %s graph", getenv("XENON"), hf.run_dir);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, needle) != NULL;
	pclose(f);
	return found;
}

Test(grants_graph, shows_grant_edges, .init = setup_with_store, .fini = hvd_stop, .timeout = 60)
{
	struct xenon_gnttab *xgt;
	struct xenon_gntshr *xgs;
	char edge[128];
	uint32_t ref;
	uint8_t *p, *q;

	cr_assert_not_null(getenv("XENON"), "XENON not set");
	cr_assert_eq(xenon_gnttab_open(hf.run_dir, &xgt), 0);
	cr_assert_eq(xenon_gntshr_open(hf.run_dir, &xgs), 0);
	p = xenon_gnttab_map_grant_ref(xgt, GUEST_DOMID, GG_RO_REF, PROT_READ);
	cr_assert_not_null(p);
	q = xenon_gntshr_share_pages(xgs, GUEST_DOMID, 1, &ref, true);
	cr_assert_not_null(q);
	cr_assert_eq(guest_cmd(GG_CMD_MAP, ref, false), 0);
	snprintf(edge, sizeof(edge), "d%u -> d0 [style=dashed, label=\"gref %u (ro)\"];",
		 GUEST_DOMID, GG_RO_REF);
	cr_expect(graph_has(edge), "graph: %s", edge);
	snprintf(edge, sizeof(edge), "d0 -> d%u [style=dashed, label=\"gref %u\"];", GUEST_DOMID,
		 ref);
	cr_expect(graph_has(edge), "graph: %s", edge);
	cr_assert_eq(guest_cmd(GG_CMD_UNMAP, 0, false), 0);
	cr_assert_eq(xenon_gnttab_unmap(xgt, p, 1), 0);
	cr_expect_not(graph_has("gref"), "no grant edge once unmapped");
	xenon_gntshr_close(xgs);
	xenon_gnttab_close(xgt);
}
