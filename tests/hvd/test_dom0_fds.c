/*
 * libxenon-dom0 never keeps a descriptor it did not ask for.
 *
 * A fake xenon-hvd (a forked child listening on RUN_DIR/hvd.sock in a
 * private directory) answers every request -- and sends an event before
 * each answer -- with a memfd attached, whether the op carries one or not.
 * Each test counts the entries of /proc/self/fd around a batch of calls
 * through the public API (xenon_dom0.h): the count must not move. The
 * child serves one connection at a time, so a test closes each handle
 * before it opens the next.
 *
 *   fake modes   0: well-formed replies (create, list, hypercall echo,
 *                   map/share page records, ...)
 *                FAKE_ERR: every reply is -EIO (the error paths)
 *                FAKE_STRAY: every reply has the wrong seq (-EPROTO)
 *                FAKE_EVENTS: an event, fd attached, before each reply
 * Without FAKE_EVENTS a leak can only come from a reply's descriptor.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xengnttab.h>

#include "hvd_fixture.h"
#include "xenon_dom0.h"

#define FAKE_PAGES 16
#define EVENT_PORT 7

#define FAKE_OK 0u
#define FAKE_ERR 1u
#define FAKE_STRAY 2u
#define FAKE_EVENTS 4u

static struct hvd_fake fake;

/* ---- the fake xenon-hvd (child) -------------------------------------------- */

/* One message with the memfd attached; the child dies if the peer went. */
static void fake_send(int s, int memfd, const struct procdom_ctl_msg *m, const void *p, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov[2] = { { (void *)m, sizeof(*m) }, { (void *)p, len } };
	struct msghdr mh = { .msg_iov = iov,
			     .msg_iovlen = 2,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
		_exit(0);
}

/* Page records for GNT_MAP (n refs) and GNTSHR_SHARE (n pages). */
static size_t fake_pages(uint32_t op, uint32_t n, uint8_t *out)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint64_t off = (uint64_t)(i % FAKE_PAGES) * PROCDOM_PAGE_SIZE;

		if (op == PROCDOM_CTL_GNT_MAP) {
			struct procdom_ctl_gnt_page pg = { .offset = off };

			memcpy(out + i * sizeof(pg), &pg, sizeof(pg));
		} else {
			struct procdom_ctl_gntshr_page pg = { .offset = off, .ref = 100 + i };

			memcpy(out + i * sizeof(pg), &pg, sizeof(pg));
		}
	}
	return n * (op == PROCDOM_CTL_GNT_MAP ? sizeof(struct procdom_ctl_gnt_page)
					      : sizeof(struct procdom_ctl_gntshr_page));
}

/* A well-formed answer to req (payload p, len bytes) into m and out. */
static size_t fake_answer(struct procdom_ctl_msg *m, const uint8_t *p, size_t len, uint8_t *out)
{
	struct procdom_ctl_gntshr sh;

	m->arg = 0;
	switch (m->op) {
	case PROCDOM_CTL_CREATE:
		m->arg = 5;
		memset(out, 0, sizeof(struct procdom_ctl_created));
		return sizeof(struct procdom_ctl_created);
	case PROCDOM_CTL_HYPERCALL:
		memcpy(out, p, len);
		return len;
	case PROCDOM_CTL_FOREIGN_MAP:
		m->arg = FAKE_PAGES;
		return 0;
	case PROCDOM_CTL_GNT_COUNTS:
		memset(out, 0, sizeof(struct procdom_ctl_gnt_counts));
		return sizeof(struct procdom_ctl_gnt_counts);
	case PROCDOM_CTL_GNT_COPY: /* one dest-gref segment: one status */
		memset(out, 0, sizeof(int32_t));
		return sizeof(int32_t);
	case PROCDOM_CTL_GNT_MAP:
		m->arg = 1;
		return fake_pages(m->op, (uint32_t)(len / sizeof(uint32_t)), out);
	case PROCDOM_CTL_GNTSHR_SHARE:
		m->arg = 1;
		memcpy(&sh, p, sizeof(sh));
		return fake_pages(m->op, sh.count, out);
	default: /* LIST and the statuses: none; the rest: a result */
		return 0;
	}
}

static void fake_serve(int s, int memfd, unsigned int mode, uint8_t *in, uint8_t *out)
{
	struct procdom_ctl_msg m, ev = { .op = PROCDOM_CTL_EVENT, .arg = EVENT_PORT };
	ssize_t n;
	size_t len;

	while ((n = recv(s, in, PROCDOM_CTL_MAX_MSG, 0)) >= (ssize_t)sizeof(m)) {
		memcpy(&m, in, sizeof(m));
		len = fake_answer(&m, in + sizeof(m), (size_t)n - sizeof(m), out);
		if (mode & FAKE_ERR) {
			m.arg = -EIO;
			len = 0;
		}
		if (mode & FAKE_STRAY)
			m.seq++;
		m.len = (uint32_t)len;
		if (mode & FAKE_EVENTS)
			fake_send(s, memfd, &ev, NULL, 0);
		fake_send(s, memfd, &m, out, len);
	}
}

static _Noreturn void fake_main(int lfd, unsigned int mode)
{
	uint8_t *in = malloc(PROCDOM_CTL_MAX_MSG), *out = malloc(PROCDOM_CTL_MAX_MSG);
	int memfd = memfd_create("fake-ram", MFD_CLOEXEC), s;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!in || !out || memfd < 0 || ftruncate(memfd, FAKE_PAGES * PROCDOM_PAGE_SIZE) < 0)
		_exit(1);
	while ((s = accept(lfd, NULL, NULL)) >= 0) {
		fake_serve(s, memfd, mode, in, out);
		close(s);
	}
	_exit(0);
}

static void fake_start(unsigned int mode)
{
	hvd_fake_start(&fake, "dom0-fds", fake_main, mode);
}

static void fake_stop(void)
{
	hvd_fake_stop(&fake);
}

/* ---- the client side ------------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

static void ctl_calls(struct xenon_ctl *ctl, int want)
{
	struct procdom_ctl_create req;
	struct procdom_ctl_created cr;
	struct procdom_ctl_dominfo di[4];
	struct evtchn_status st[4];
	struct procdom_ctl_grant gr[4];
	struct procdom_ctl_gnt_counts gc;
	uint64_t args[5] = { 0 };
	uint8_t buf[64] = { 1, 2, 3 };
	uint32_t domid;

	xenon_create_defaults(&req);
	cr_expect_eq(xenon_domain_create(ctl, &req, NULL, &domid, &cr), want);
	cr_expect_eq(xenon_domain_destroy(ctl, 5), want);
	cr_expect_eq(xenon_domain_pause(ctl, 5), want);
	cr_expect_eq(xenon_domain_unpause(ctl, 5), want);
	cr_expect_eq(xenon_domain_shutdown(ctl, 5, 0), want);
	cr_expect_eq(xenon_domain_list(ctl, di, 4), want);
	cr_expect_eq(xenon_evtchn_status(ctl, 5, st, 4), want);
	cr_expect_eq(xenon_grant_status(ctl, 5, gr, 4), want);
	cr_expect_eq(xenon_grant_counts(ctl, &gc), want);
	cr_expect_eq(xenon_hypercall(ctl, __HYPERVISOR_xen_version, args, 1, buf, sizeof(buf)),
		     want);
}

/* ---- tests ----------------------------------------------------------------- */

TestSuite(dom0_fds, .fini = fake_stop);

static void control_requests(unsigned int mode)
{
	struct xenon_ctl *ctl;
	void *p;
	int before;

	fake_start(mode);
	cr_assert_eq(xenon_ctl_open(fake.run_dir, &ctl), 0);
	before = count_fds();
	ctl_calls(ctl, 0);
	p = xenon_foreign_map(ctl, 5, 0, 2, PROT_READ | PROT_WRITE);
	cr_assert_not_null(p, "foreign map: %s", strerror(errno));
	cr_expect_eq(xenon_foreign_unmap(p, 2), 0);
	cr_expect_eq(count_fds(), before, "fds: %d before, %d after", before, count_fds());
	xenon_ctl_close(ctl);
}

/* CREATE, LIST/STATUS (paged) and HYPERCALL replies once kept theirs. */
Test(dom0_fds, control_replies_keep_no_fd)
{
	control_requests(FAKE_OK);
}

/* Events queued while a request waits once kept theirs. */
Test(dom0_fds, control_events_keep_no_fd)
{
	control_requests(FAKE_EVENTS);
}

Test(dom0_fds, event_handle_keeps_no_fd)
{
	struct xenon_evtchn *xe;
	int before, n = 0;

	fake_start(FAKE_EVENTS);
	cr_assert_eq(xenon_evtchn_open(fake.run_dir, &xe), 0);
	before = count_fds();
	cr_expect_geq(xenon_evtchn_bind_unbound_port(xe, 5), 0);
	cr_expect_geq(xenon_evtchn_bind_interdomain(xe, 5, 3), 0);
	cr_expect_geq(xenon_evtchn_bind_virq(xe, VIRQ_DOM_EXC), 0);
	cr_expect_eq(xenon_evtchn_watch(xe, EVENT_PORT), 0);
	cr_expect_eq(xenon_evtchn_notify(xe, EVENT_PORT), 0);
	cr_expect_eq(xenon_evtchn_unmask(xe, EVENT_PORT), 0);
	cr_expect_eq(xenon_evtchn_unbind(xe, EVENT_PORT), 0);
	while (n < 100 && xenon_evtchn_pending(xe) == EVENT_PORT)
		n++;
	cr_expect_eq(n, 7, "one event per request");
	cr_expect_eq(count_fds(), before, "fds: %d before, %d after", before, count_fds());
	xenon_evtchn_close(xe);
}

Test(dom0_fds, grant_maps_keep_no_fd)
{
	struct xengnttab_grant_copy_segment seg = { .flags = GNTCOPY_dest_gref, .len = 8 };
	uint32_t refs[3] = { 8, 9, 10 };
	struct xenon_gnttab *xgt;
	char src[8] = "copy me";
	uint8_t *p;
	int before;

	fake_start(FAKE_EVENTS);
	seg.source.virt = src;
	cr_assert_eq(xenon_gnttab_open(fake.run_dir, &xgt), 0);
	before = count_fds();
	p = xenon_gnttab_map_grant_refs(xgt, 3, 5, refs, PROT_READ | PROT_WRITE);
	cr_assert_not_null(p, "map: %s", strerror(errno));
	p[0] = 1;
	cr_expect_eq(xenon_gnttab_set_unmap_notify(xgt, p + 4096, 0, -1), 0);
	cr_expect_eq(xenon_gnttab_grant_copy(xgt, 1, &seg), 0);
	cr_expect_eq(seg.status, GNTST_okay);
	cr_expect_eq(xenon_gnttab_unmap(xgt, p, 3), 0);
	cr_expect_eq(count_fds(), before, "fds: %d before, %d after", before, count_fds());
	xenon_gnttab_close(xgt);
}

Test(dom0_fds, shares_keep_no_fd)
{
	struct xenon_gntshr *xgs;
	uint32_t refs[2], ref;
	uint8_t *p, *q;
	int before;

	fake_start(FAKE_EVENTS);
	cr_assert_eq(xenon_gntshr_open(fake.run_dir, &xgs), 0);
	before = count_fds();
	p = xenon_gntshr_share_pages(xgs, 5, 2, refs, true);
	cr_assert_not_null(p, "share: %s", strerror(errno));
	cr_expect_eq(refs[0], 100);
	cr_expect_eq(refs[1], 101);
	q = xenon_gntshr_share_page_notify(xgs, 5, true, 0, -1, &ref);
	cr_assert_not_null(q, "share notify: %s", strerror(errno));
	cr_expect_eq(xenon_gntshr_unshare(xgs, p, 2), 0);
	cr_expect_eq(xenon_gntshr_unshare(xgs, q, 1), 0);
	cr_expect_eq(count_fds(), before, "fds: %d before, %d after", before, count_fds());
	xenon_gntshr_close(xgs);
}

/* Error replies that come with a descriptor: every path closes it. */
Test(dom0_fds, error_replies_keep_no_fd)
{
	struct xenon_gnttab *xgt;
	struct xenon_gntshr *xgs;
	struct xenon_ctl *ctl;
	uint32_t ref = 8, sref;
	int before = count_fds();

	fake_start(FAKE_ERR);
	cr_assert_eq(xenon_ctl_open(fake.run_dir, &ctl), 0);
	ctl_calls(ctl, -EIO);
	errno = 0;
	cr_expect_null(xenon_foreign_map(ctl, 5, 0, 1, PROT_READ));
	cr_expect_eq(errno, EIO);
	xenon_ctl_close(ctl);
	cr_assert_eq(xenon_gnttab_open(fake.run_dir, &xgt), 0);
	cr_expect_null(xenon_gnttab_map_grant_ref(xgt, 5, ref, PROT_READ));
	cr_expect_eq(errno, EIO);
	xenon_gnttab_close(xgt);
	cr_assert_eq(xenon_gntshr_open(fake.run_dir, &xgs), 0);
	cr_expect_null(xenon_gntshr_share_pages(xgs, 5, 1, &sref, false));
	cr_expect_eq(errno, EIO);
	xenon_gntshr_close(xgs);
	cr_expect_eq(count_fds(), before, "fds: %d before, %d after", before, count_fds());
}

/* A reply to somebody else's request is refused, and its fd closed. */
Test(dom0_fds, stray_replies_keep_no_fd)
{
	struct xenon_gnttab *xgt;
	struct xenon_ctl *ctl;
	int before = count_fds();

	fake_start(FAKE_STRAY);
	cr_assert_eq(xenon_ctl_open(fake.run_dir, &ctl), 0);
	cr_expect_eq(xenon_domain_pause(ctl, 5), -EPROTO);
	cr_expect_null(xenon_foreign_map(ctl, 5, 0, 1, PROT_READ));
	cr_expect_eq(errno, EPROTO);
	xenon_ctl_close(ctl);
	cr_assert_eq(xenon_gnttab_open(fake.run_dir, &xgt), 0);
	cr_expect_null(xenon_gnttab_map_grant_ref(xgt, 5, 8, PROT_READ));
	cr_expect_eq(errno, EPROTO);
	xenon_gnttab_close(xgt);
	cr_expect_eq(count_fds(), before, "fds: %d before, %d after", before, count_fds());
}
