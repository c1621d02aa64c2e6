/*
 * Checks against a running xenon-hvd through libxenon-dom0, printed as TAP
 * lines (the plan is printed by the calling script).
 *
 *   hvd_selftest RUN_DIR RAWGUEST
 *
 * Control ops, errors, dom0 hypercalls and event delivery between two dom0
 * handles, foreign mapping of a process-less domain's start_info, and a
 * raw protocol guest (hvd_rawguest): boot at unpause, a hypercall, an event
 * to dom0, then kill -9 -> the domain is gone, dom0's end of the channel is
 * unbound again and VIRQ_DOM_EXC fired.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/sched.h>

#include "xenon_dom0.h"

static int n_test, n_fail;

/* Bounds for what must happen, far beyond its usual time: a loaded machine
 * may deschedule xenon-hvd for a while. (What must not happen is watched
 * for 50-100 ms.) */
#define EVENT_WAIT_MS 10000
#define POLL_TRIES 1000 /* every 10 ms: 10 s */

static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		n_fail++;
}

/* Wait (poll, bounded) for the next event on xe. */
static int wait_event(struct xenon_evtchn *xe, int timeout_ms)
{
	struct pollfd pfd = { .fd = xenon_evtchn_fd(xe), .events = POLLIN };
	int port = xenon_evtchn_pending(xe);

	if (port != -EAGAIN)
		return port;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	return xenon_evtchn_pending(xe);
}

static struct procdom_ctl_dominfo *find_dom(struct procdom_ctl_dominfo *l, int n, uint32_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if (l[i].domid == id)
			return &l[i];
	return NULL;
}

static void test_errors(struct xenon_ctl *ctl)
{
	struct procdom_ctl_create req;
	uint64_t args[5] = { SCHEDOP_yield };

	ok(xenon_domain_destroy(ctl, 0) == -EPERM, "destroying dom0 is refused");
	ok(xenon_domain_destroy(ctl, 4242) == -ESRCH, "destroying a missing domain: ESRCH");
	xenon_create_defaults(&req);
	req.max_vcpus = 0;
	ok(xenon_domain_create(ctl, &req, NULL, NULL, NULL) == -EINVAL, "0 vCPUs: EINVAL");
	xenon_create_defaults(&req);
	req.nr_pages = 4;
	ok(xenon_domain_create(ctl, &req, NULL, NULL, NULL) == -EINVAL, "4 pages: EINVAL");
	ok(xenon_hypercall(ctl, __HYPERVISOR_sched_op, args, 0, NULL, 0) == -ENOSYS,
	   "sched_op as dom0: ENOSYS");
	errno = 0;
	ok(!xenon_foreign_map(ctl, 4242, 0, 1, PROT_READ) && errno == ESRCH,
	   "foreign map of a missing domain: ESRCH");
}

static void test_dom0_events(const char *run_dir)
{
	struct xenon_evtchn *a, *b;
	int pa, pb, got;

	if (xenon_evtchn_open(run_dir, &a) || xenon_evtchn_open(run_dir, &b)) {
		ok(false, "open two event handles");
		return;
	}
	pa = xenon_evtchn_bind_unbound_port(a, 0);
	pb = pa > 0 ? xenon_evtchn_bind_interdomain(b, 0, (evtchn_port_t)pa) : -1;
	ok(pa > 0 && pb > 0 && pa != pb, "dom0 loopback channel %d <-> %d", pa, pb);
	/* bind_interdomain marks the binding end pending, as Xen does: its
	 * event follows the reply, in xenon-hvd's own time. Left unseen, it
	 * would be taken for a wrong one below. */
	got = wait_event(b, EVENT_WAIT_MS);
	ok(got == pb, "the bind marks b's end pending (%d)", got);
	if (got > 0)
		xenon_evtchn_unmask(b, (evtchn_port_t)got);
	while ((got = wait_event(a, 50)) >= 0)
		xenon_evtchn_unmask(a, (evtchn_port_t)got);
	ok(xenon_evtchn_notify(b, (evtchn_port_t)pb) == 0, "notify from b");
	got = wait_event(a, EVENT_WAIT_MS);
	ok(got == pa, "a sees its port fire (%d)", got);
	ok(wait_event(b, 50) == -ETIMEDOUT, "b sees nothing");
	xenon_evtchn_notify(b, (evtchn_port_t)pb);
	ok(wait_event(a, 100) == -ETIMEDOUT, "a masked port stays quiet until unmasked");
	xenon_evtchn_unmask(a, (evtchn_port_t)pa);
	ok(wait_event(a, EVENT_WAIT_MS) == pa, "unmask re-delivers the pending event");
	xenon_evtchn_unmask(a, (evtchn_port_t)pa);
	xenon_evtchn_notify(a, (evtchn_port_t)pa);
	ok(wait_event(b, EVENT_WAIT_MS) == pb, "and the other way round");
	xenon_evtchn_close(b);
	/* The hang-up reaches xenon-hvd on its own connection: poll, bounded. */
	{
		struct evtchn_status st[64];
		bool closed = false;
		int n = 0, i, tries;

		for (tries = 0; tries < POLL_TRIES && !closed; tries++) {
			n = xenon_evtchn_status(xenon_evtchn_ctl(a), 0, st, 64);
			for (i = 0, closed = n > 0; i < n; i++)
				if (st[i].port == (uint32_t)pb)
					closed = false;
			if (!closed)
				usleep(10000);
		}
		ok(closed, "closing a handle closes its ports (%d in use)", n);
	}
	xenon_evtchn_close(a);
}

static void test_foreign(struct xenon_ctl *ctl)
{
	struct procdom_ctl_create req;
	struct procdom_ctl_created out;
	struct procdom_ctl_dominfo l[16], *d;
	struct evtchn_status st[16];
	uint32_t domid = 0;
	start_info_t *si;
	int n, i, rc;

	xenon_create_defaults(&req);
	req.nr_pages = 64;
	rc = xenon_domain_create(ctl, &req, NULL, &domid, &out);
	ok(rc == 0 && domid >= 1, "create a process-less domain: d%u", domid);
	n = xenon_domain_list(ctl, l, 16);
	d = find_dom(l, n, domid);
	ok(d && (d->flags & PROCDOM_DOMINFO_PAUSED) && d->pid == 0 && d->tot_pages == 64,
	   "LIST: paused, no process, 64 pages");
	d = find_dom(l, n, 0);
	ok(d && (d->flags & PROCDOM_DOMINFO_PRIVILEGED), "LIST: dom0 privileged");
	si = xenon_foreign_map(ctl, domid, out.start_info_gfn, 1, PROT_READ);
	ok(si && !strcmp(si->magic, "xen-3.0-x86_64") && si->store_evtchn == out.store_evtchn &&
		   si->store_mfn == out.store_gfn && si->nr_pages == 64,
	   "foreign map of start_info: magic, store port and frame");
	if (si)
		xenon_foreign_unmap(si, 1);
	{
		char *w = xenon_foreign_map(ctl, domid, out.store_gfn, 1, PROT_READ | PROT_WRITE);
		char *r = xenon_foreign_map(ctl, domid, out.store_gfn, 1, PROT_READ);

		if (w)
			strcpy(w, "written by dom0");
		ok(w && r && !strcmp(r, "written by dom0"), "two mappings share the frame");
		if (w)
			xenon_foreign_unmap(w, 1);
		if (r)
			xenon_foreign_unmap(r, 1);
	}
	errno = 0;
	ok(!xenon_foreign_map(ctl, domid, 64, 1, PROT_READ) && errno == EINVAL,
	   "mapping beyond the domain's RAM: EINVAL");
	n = xenon_evtchn_status(ctl, domid, st, 16);
	for (i = 0, rc = 0; i < n; i++)
		if ((st[i].port == out.store_evtchn || st[i].port == out.console_evtchn) &&
		    st[i].status == EVTCHNSTAT_unbound && st[i].u.unbound.dom == 0)
			rc++;
	ok(n == 2 && rc == 2, "EVTCHN_STATUS: store and console ports unbound to dom0");
	ok(xenon_domain_unpause(ctl, domid) == 0 && xenon_domain_pause(ctl, domid) == 0,
	   "unpause, pause");
	ok(xenon_domain_destroy(ctl, domid) == 0, "destroy");
	n = xenon_domain_list(ctl, l, 16);
	ok(!find_dom(l, n, domid), "gone from LIST");
}

/* late: the guest asks for BOOT only after its reply came at the unpause
 * (procdom_proto.h, PROCDOM_BOOT_SEQ). */
static void test_rawguest(const char *run_dir, struct xenon_ctl *ctl, const char *rawguest,
			  uint32_t want_domid, bool late)
{
	struct procdom_ctl_create req;
	struct procdom_ctl_created out;
	struct procdom_ctl_dominfo l[16];
	struct xenon_evtchn *xe;
	struct evtchn_status st[64];
	char port_arg[16];
	char *argv[] = { (char *)rawguest, port_arg, late ? "late" : NULL, NULL };
	int p0, virq, n, i, got, dead_seen = 0, fired = 0;
	uint32_t domid = 0;

	if (xenon_evtchn_open(run_dir, &xe)) {
		ok(false, "event handle");
		return;
	}
	/* A global VIRQ binds once per domain, as in Xen, but xenon-hvd shares
	 * dom0's binding: xenstored holds VIRQ_DOM_EXC, and so do we. */
	virq = xenon_evtchn_bind_virq(xe, VIRQ_DOM_EXC);
	p0 = xenon_evtchn_bind_unbound_port(xe, (domid_t)want_domid);
	ok(virq > 0 && p0 > 0, "dom0: VIRQ_DOM_EXC on %d, port %d for d%u", virq, p0, want_domid);
	xenon_create_defaults(&req);
	req.domid = want_domid;
	req.nr_bind = 1;
	req.bind[0] = (struct procdom_ctl_bind){ .port = 5,
						 .remote_domid = 0,
						 .remote_port = (uint32_t)p0 };
	snprintf(port_arg, sizeof(port_arg), "5");
	ok(xenon_domain_create(ctl, &req, argv, &domid, &out) == 0 && domid == want_domid &&
		   out.pid > 0,
	   "create d%u running the raw guest%s, pid %d, pre-bound port 5", want_domid,
	   late ? " (asks for BOOT late)" : "", out.pid);
	ok(xenon_domain_unpause(ctl, domid) == 0, "unpause d%u (answers its BOOT)", want_domid);
	for (i = 0; i < EVENT_WAIT_MS / 100 && !fired; i++) {
		got = wait_event(xe, 100);
		if (got == p0)
			fired = 1;
		if (got > 0)
			xenon_evtchn_unmask(xe, (evtchn_port_t)got);
	}
	ok(fired, "the guest's EVTCHNOP_send reached dom0's port %d%s", p0,
	   late ? " (BOOT answered before asked, the request consumed)" : "");
	ok(kill(out.pid, SIGKILL) == 0, "kill -9 the guest");
	for (i = 0; i < EVENT_WAIT_MS / 100 && !dead_seen; i++) {
		got = wait_event(xe, 100);
		if (got == virq)
			dead_seen = 1;
		if (got > 0)
			xenon_evtchn_unmask(xe, (evtchn_port_t)got);
	}
	ok(dead_seen, "dom0 got VIRQ_DOM_EXC beside xenstored (port %d)", virq);
	/* Death reaches xenon-hvd through the pidfd: poll, bounded. */
	for (i = 0, n = 0; i < POLL_TRIES; i++) {
		n = xenon_domain_list(ctl, l, 16);
		if (n > 0 && !find_dom(l, n, want_domid))
			break;
		usleep(10000);
	}
	ok(n > 0 && !find_dom(l, n, want_domid), "d%u is gone from LIST", want_domid);
	n = xenon_evtchn_status(ctl, 0, st, 64);
	for (i = 0, got = -1; i < n; i++)
		if (st[i].port == (uint32_t)p0)
			got = (int)st[i].status;
	ok(got == EVTCHNSTAT_unbound, "dom0's end of the channel is unbound again");
	xenon_evtchn_close(xe);
}

/* A process-less domain created and destroyed: VIRQ_DOM_EXC fires. */
static int domain_dies(struct xenon_ctl *ctl)
{
	struct procdom_ctl_create req;
	uint32_t domid = 0;
	int err;

	xenon_create_defaults(&req);
	err = xenon_domain_create(ctl, &req, NULL, &domid, NULL);
	return err ? err : xenon_domain_destroy(ctl, domid);
}

/* dom0's status of port says it carries VIRQ_DOM_EXC. */
static bool port_is_dom_exc(struct xenon_ctl *ctl, int port)
{
	struct evtchn_status st[64];
	int n = xenon_evtchn_status(ctl, 0, st, 64), i;

	for (i = 0; i < n; i++)
		if (st[i].port == (uint32_t)port)
			return st[i].status == EVTCHNSTAT_virq && st[i].u.virq == VIRQ_DOM_EXC;
	return false;
}

/*
 * Several dom0 clients (and xenstored) bind VIRQ_DOM_EXC: each gets dom0's
 * one port and hears of every death; a client that unbinds, lags (has not
 * unmasked) or hangs up leaves the others receiving.
 */
static void test_virq_shared(const char *run_dir, struct xenon_ctl *ctl)
{
	struct xenon_evtchn *xe[3] = { NULL, NULL, NULL };
	int p[3] = { -1, -1, -1 }, i;

	for (i = 0; i < 3; i++)
		if (!xenon_evtchn_open(run_dir, &xe[i]))
			p[i] = xenon_evtchn_bind_virq(xe[i], VIRQ_DOM_EXC);
	ok(p[0] > 0 && p[1] == p[0] && p[2] == p[0] && port_is_dom_exc(ctl, p[0]),
	   "three clients bind VIRQ_DOM_EXC: dom0's port %d, bound to it, for each", p[0]);
	if (p[0] <= 0 || p[1] != p[0] || p[2] != p[0])
		goto out;
	ok(xenon_evtchn_bind_virq(xe[0], VIRQ_DOM_EXC) == -EEXIST,
	   "binding it twice on one handle: EEXIST");
	ok(xenon_evtchn_watch(xe[0], (evtchn_port_t)p[0]) == -EBUSY,
	   "the shared port cannot be watched: EBUSY");
	ok(domain_dies(ctl) == 0 && wait_event(xe[0], EVENT_WAIT_MS) == p[0] &&
		   wait_event(xe[1], EVENT_WAIT_MS) == p[0] &&
		   wait_event(xe[2], EVENT_WAIT_MS) == p[0],
	   "a domain dies: each client receives VIRQ_DOM_EXC");
	xenon_evtchn_unmask(xe[0], (evtchn_port_t)p[0]);
	ok(xenon_evtchn_unbind(xe[1], (evtchn_port_t)p[1]) == 0, "one client unbinds it");
	ok(xenon_evtchn_unbind(xe[1], (evtchn_port_t)p[1]) == -ENOTCONN,
	   "unbinding it again: ENOTCONN, the others' binding stays");
	ok(domain_dies(ctl) == 0 && wait_event(xe[0], EVENT_WAIT_MS) == p[0],
	   "another dies: a remaining client receives it");
	ok(wait_event(xe[1], 100) == -ETIMEDOUT && wait_event(xe[2], 100) == -ETIMEDOUT,
	   "the unbound client does not; one that has not unmasked not yet");
	xenon_evtchn_unmask(xe[2], (evtchn_port_t)p[2]);
	ok(wait_event(xe[2], EVENT_WAIT_MS) == p[2], "its unmask delivers the death it held back");
	xenon_evtchn_unmask(xe[2], (evtchn_port_t)p[2]);
	xenon_evtchn_close(xe[0]);
	xe[0] = NULL;
	ok(domain_dies(ctl) == 0 && wait_event(xe[2], EVENT_WAIT_MS) == p[2] &&
		   port_is_dom_exc(ctl, p[2]),
	   "a subscriber hangs up: the port stays bound, the last client receives");
out:
	for (i = 0; i < 3; i++)
		xenon_evtchn_close(xe[i]);
}

/*
 * The last subscriber's close closes dom0's shared VIRQ port; the core hands
 * the port out again (the lowest free one), and then it is an ordinary port:
 * its owner may watch and close it. A stale port -> VIRQ record in xenon-hvd
 * would answer EBUSY and ENOTCONN. VIRQ_ENOMEM: nothing else binds it.
 */
static void test_virq_port_reuse(const char *run_dir)
{
	struct xenon_evtchn *a = NULL, *b = NULL;
	int p = -1, q = -1, extra[16], n = 0, i;

	if (!xenon_evtchn_open(run_dir, &a) && !xenon_evtchn_open(run_dir, &b)) {
		p = xenon_evtchn_bind_virq(a, VIRQ_ENOMEM);
		q = xenon_evtchn_bind_virq(b, VIRQ_ENOMEM);
	}
	ok(p > 0 && q == p && xenon_evtchn_unbind(a, (evtchn_port_t)p) == 0 &&
		   xenon_evtchn_unbind(b, (evtchn_port_t)p) == 0,
	   "two clients bind VIRQ_ENOMEM (dom0 port %d), both unbind: the port closes", p);
	for (q = -1; p > 0 && n < 16 && q != p; n++)
		q = extra[n] = xenon_evtchn_bind_unbound_port(a, 0);
	ok(q == p && xenon_evtchn_watch(a, (evtchn_port_t)p) == 0,
	   "port %d allocated again is an ordinary port: its owner watches it", p);
	ok(q == p && xenon_evtchn_unbind(a, (evtchn_port_t)p) == 0, "and closes it");
	for (i = 0; i + 1 < n; i++)
		if (extra[i] > 0)
			xenon_evtchn_unbind(a, (evtchn_port_t)extra[i]);
	xenon_evtchn_close(b);
	xenon_evtchn_close(a);
}

/* One request on xenstored's socket; the reply payload lands in out. */
static int xs_socket_call(const char *run_dir, uint32_t type, const char *payload, size_t len,
			  char *out, size_t out_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xsd_sockmsg m = { .type = type, .req_id = 1, .len = (uint32_t)len };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -EIO;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/xenstore/socket", run_dir);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	if (write(fd, &m, sizeof(m)) != sizeof(m) || write(fd, payload, len) != (ssize_t)len)
		goto out;
	if (read(fd, &m, sizeof(m)) != sizeof(m) || m.len >= out_size)
		goto out;
	if (m.len && read(fd, out, m.len) != (ssize_t)m.len)
		goto out;
	out[m.len] = 0;
	rc = (int)m.type;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* xenstored serves a domain's ring: a request the "guest" (us, through a
 * foreign mapping) queued before INTRODUCE is answered in the ring; after
 * the domain is destroyed, VIRQ_DOM_EXC makes xenstored release it. */
/* One client's dom0 ports are not another's to close or move, and no client
 * may reset dom0's channels (it would close every client's). */
static void test_port_ownership(const char *run_dir, struct xenon_ctl *ctl)
{
	struct xenon_evtchn *a = NULL, *b = NULL;
	struct evtchn_close cl = { 0 };
	struct evtchn_reset rs = { .dom = DOMID_SELF };
	uint64_t args[5] = { EVTCHNOP_close, 0 };
	int port = -1;

	if (!xenon_evtchn_open(run_dir, &a) && !xenon_evtchn_open(run_dir, &b))
		port = xenon_evtchn_bind_unbound_port(a, 0);
	ok(port > 0, "client A allocates dom0 port %d", port);
	cl.port = (evtchn_port_t)port;
	ok(port > 0 && xenon_hypercall(xenon_evtchn_ctl(b), __HYPERVISOR_event_channel_op, args, 1,
				       &cl, sizeof(cl)) == -ENOTCONN,
	   "client B may not close A's port: ENOTCONN");
	args[0] = EVTCHNOP_reset;
	ok(xenon_hypercall(ctl, __HYPERVISOR_event_channel_op, args, 1, &rs, sizeof(rs)) == -EPERM,
	   "no client may reset dom0's channels: EPERM");
	ok(port > 0 && xenon_evtchn_unbind(a, (evtchn_port_t)port) == 0,
	   "A still holds its port and closes it");
	xenon_evtchn_close(b);
	xenon_evtchn_close(a);
}

static void test_xenstored_ring(const char *run_dir, struct xenon_ctl *ctl)
{
	struct procdom_ctl_create req;
	struct procdom_ctl_created out;
	struct xenstore_domain_interface *intf;
	struct xsd_sockmsg m = { .type = XS_GET_DOMAIN_PATH, .req_id = 7, .len = 2 };
	char buf[256], arg[64];
	uint32_t domid = 0;
	int i, n, rc;

	xenon_create_defaults(&req);
	req.nr_pages = 64;
	rc = xenon_domain_create(ctl, &req, NULL, &domid, &out);
	intf = rc ? NULL : xenon_foreign_map(ctl, domid, out.store_gfn, 1, PROT_READ | PROT_WRITE);
	ok(intf != NULL, "xenstored test domain d%u, store page mapped", domid);
	if (!intf)
		return;
	memcpy(intf->req, &m, sizeof(m));
	memcpy(intf->req + sizeof(m), "0", 2);
	__atomic_store_n(&intf->req_prod, sizeof(m) + 2, __ATOMIC_RELEASE);
	n = snprintf(arg, sizeof(arg), "%u%c%llu%c%u", domid, 0, (unsigned long long)out.store_gfn,
		     0, out.store_evtchn);
	rc = xs_socket_call(run_dir, XS_INTRODUCE, arg, (size_t)n + 1, buf, sizeof(buf));
	ok(rc == XS_INTRODUCE && !strcmp(buf, "OK"), "INTRODUCE d%u: %s", domid, buf);
	for (i = 0; i < POLL_TRIES && !__atomic_load_n(&intf->rsp_prod, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	memcpy(&m, intf->rsp, sizeof(m));
	ok(intf->rsp_prod >= sizeof(m) + m.len && m.type == XS_GET_DOMAIN_PATH && m.req_id == 7 &&
		   !strcmp((char *)intf->rsp + sizeof(m), "/local/domain/0"),
	   "xenstored answered in the ring (type %u, %u bytes)", m.type, intf->rsp_prod);
	xenon_foreign_unmap(intf, 1);
	ok(xenon_domain_destroy(ctl, domid) == 0, "destroy d%u", domid);
	n = snprintf(arg, sizeof(arg), "%u", domid);
	for (i = 0, buf[0] = 0; i < POLL_TRIES; i++) {
		rc = xs_socket_call(run_dir, XS_IS_DOMAIN_INTRODUCED, arg, (size_t)n + 1, buf,
				    sizeof(buf));
		if (!strcmp(buf, "F"))
			break;
		usleep(10000);
	}
	ok(!strcmp(buf, "F"), "xenstored released d%u after its death", domid);
}

/* A real guest (runtime + guest library): boots at unpause, powers off by
 * itself, and xenon-hvd destroys it after recording the reason. */
static void test_real_guest(struct xenon_ctl *ctl, const char *path)
{
	struct procdom_ctl_create req;
	struct procdom_ctl_created out;
	struct procdom_ctl_dominfo l[16];
	char *argv[] = { (char *)path, NULL };
	uint32_t domid = 0;
	int i, n = 0;

	if (access(path, X_OK) != 0) {
		for (i = 0; i < 3; i++)
			ok(true, "real guest # SKIP %s not built", path);
		return;
	}
	xenon_create_defaults(&req);
	req.max_vcpus = 2;
	ok(xenon_domain_create(ctl, &req, argv, &domid, &out) == 0 && out.pid > 0,
	   "create a domain running %s", path);
	ok(xenon_domain_unpause(ctl, domid) == 0, "unpause: it boots");
	for (i = 0; i < POLL_TRIES; i++) {
		n = xenon_domain_list(ctl, l, 16);
		if (n > 0 && !find_dom(l, n, domid))
			break;
		usleep(10000);
	}
	ok(n > 0 && !find_dom(l, n, domid), "it powered off and was destroyed");
}

int main(int argc, char **argv)
{
	struct xenon_ctl *ctl;
	int err;

	if (argc < 3) {
		fprintf(stderr, "usage: hvd_selftest RUN_DIR RAWGUEST\n");
		return 2;
	}
	err = xenon_ctl_open(argv[1], &ctl);
	ok(err == 0, "connect to %s/hvd.sock", argv[1]);
	if (err)
		return 1;
	test_errors(ctl);
	test_dom0_events(argv[1]);
	test_foreign(ctl);
	test_rawguest(argv[1], ctl, argv[2], 9, false);
	test_rawguest(argv[1], ctl, argv[2], 10, true);
	test_virq_shared(argv[1], ctl);
	test_virq_port_reuse(argv[1]);
	test_port_ownership(argv[1], ctl);
	if (argc > 3 && !strcmp(argv[3], "xenstored"))
		test_xenstored_ring(argv[1], ctl);
	if (argc > 4)
		test_real_guest(ctl, argv[4]);
	xenon_ctl_close(ctl);
	fprintf(stderr, "# hvd_selftest: %d checks, %d failed\n", n_test, n_fail);
	return n_fail ? 1 : 0;
}
