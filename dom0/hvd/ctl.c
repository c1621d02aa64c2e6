/*
 * The control socket, D/hvd.sock: dom0's door into xenon-hvd.
 *
 * SOCK_SEQPACKET, so a message is a request: struct procdom_ctl_msg and its
 * payload, at most PROCDOM_CTL_MAX_MSG bytes (procdom_proto.h lists the ops).
 * The socket file is mode 0600 in a 0700 run dir: whoever can connect is
 * dom0 (the file mode is the gate, docs/trust-and-threads.md). As a second
 * check a peer must have our uid or be root (SO_PEERCRED). Still, every
 * field is validated: a buggy client gets an error reply, never a crash.
 *
 * A connection is also an event channel handle: dom0 ports it opened fire
 * on it as PROCDOM_CTL_EVENT messages (dom0.c), and a grant handle: the
 * grants it maps and the dom0 pages it shares are its own (gnttab.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/event_channel.h>

#include "hvd.h"

int hvd_ctl_init(struct hvd *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int err;

	if (strlen(h->sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, h->sock_path);
	h->rxbuf = malloc(PROCDOM_CTL_MAX_MSG + 1);
	if (!h->rxbuf)
		return -ENOMEM;
	h->ctl_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->ctl_fd < 0)
		goto out_errno;
	unlink(h->sock_path);
	/* Created 0700 (umask) then 0600: no window where others may connect. */
	old = umask(077);
	err = bind(h->ctl_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err < 0 || chmod(h->sock_path, 0600) < 0 || listen(h->ctl_fd, 64) < 0)
		goto out_close;
	h->listen_src = (struct hvd_source){ HVD_SRC_CTL_LISTEN, h, 0 };
	err = hvd_watch_fd(h, h->ctl_fd, &h->listen_src);
	if (err)
		goto out_unlink;
	return 0;

out_close:
	err = -errno;
out_unlink:
	unlink(h->sock_path);
	close(h->ctl_fd);
	free(h->rxbuf);
	return err;
out_errno:
	err = -errno;
	free(h->rxbuf);
	return err;
}

static void hvd_conn_free(struct hvd_conn *c)
{
	hvd_unwatch_fd(c->h, c->fd);
	close(c->fd);
	free(c);
}

/* Every connection closed at once: a client blocked on a reply (xenstored
 * unbinding its ports on its way out) sees the hang-up instead of waiting
 * for a loop that no longer runs. Ports they opened close with them. */
void hvd_ctl_close_conns(struct hvd *h)
{
	while (h->conns) {
		struct hvd_conn *c = h->conns;

		h->conns = c->next;
		if (!c->dead) {
			hvd_gnt_conn_gone(c);
			hvd_dom0_conn_gone(c);
		}
		hvd_conn_free(c);
	}
	h->nr_conns = 0;
}

void hvd_ctl_fini(struct hvd *h)
{
	hvd_ctl_close_conns(h);
	hvd_gnt_fini(h);
	hvd_unwatch_fd(h, h->ctl_fd);
	close(h->ctl_fd);
	unlink(h->sock_path);
	free(h->rxbuf);
}

static bool hvd_peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}

void hvd_ctl_accept(struct hvd *h)
{
	struct hvd_conn *c;
	int fd, sz = HVD_CONN_SNDBUF;

	fd = accept4(h->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (h->nr_conns >= HVD_MAX_CONNS || !hvd_peer_allowed(fd)) {
		hvd_log(h, HV_LOG_WARN, "control connection refused (%s)",
			h->nr_conns >= HVD_MAX_CONNS ? "too many" : "credentials");
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	/* Room for one EVENT per owned port even if the client lags. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	*c = (struct hvd_conn){ .h = h, .fd = fd, .id = ++h->next_conn_id };
	c->src = (struct hvd_source){ HVD_SRC_CONN, c, 0 };
	if (hvd_watch_fd(h, fd, &c->src)) {
		close(fd);
		free(c);
		return;
	}
	c->next = h->conns;
	h->conns = c;
	h->nr_conns++;
}

int hvd_conn_send(struct hvd_conn *c, const void *msg, size_t len, const void *payload, size_t plen,
		  int fd)
{
	struct iovec iov[2] = { { (void *)msg, len }, { (void *)payload, plen } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };
	struct cmsghdr *cm;

	if (c->dead)
		return -EPIPE;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

/* ---- requests --------------------------------------------------------- */

int hvd_reply(struct hvd_req *r, int64_t arg, const void *payload, size_t plen, int fd)
{
	struct procdom_ctl_msg rep = { .op = r->m.op,
				       .seq = r->m.seq,
				       .domid = r->m.domid,
				       .len = (uint32_t)plen,
				       .arg = arg };

	return hvd_conn_send(r->c, &rep, sizeof(rep), payload, plen, fd);
}

/* path\0arg1\0...: exactly 1 + argc strings filling the buffer. */
static int hvd_split_strings(const struct procdom_ctl_create *cr, char *s, size_t len,
			     char *argv[PROCDOM_CTL_MAX_ARGV + 2])
{
	size_t pos = 0;
	unsigned int n = 0;

	if (cr->argc > PROCDOM_CTL_MAX_ARGV || len > PROCDOM_CTL_STRINGS_MAX)
		return -E2BIG;
	while (pos < len) {
		char *end = memchr(s + pos, 0, len - pos);

		if (!end || n > cr->argc)
			return -EINVAL;
		argv[n++] = s + pos;
		pos = (size_t)(end - s) + 1;
	}
	if (n != cr->argc + 1)
		return -EINVAL;
	argv[n] = NULL;
	return 0;
}

static int hvd_create_check(const struct procdom_ctl_create *cr)
{
	if (cr->nr_reserve > PROCDOM_CTL_MAX_PREBOUND || cr->nr_bind > PROCDOM_CTL_MAX_PREBOUND)
		return -E2BIG;
	if (!memchr(cr->cmdline, 0, sizeof(cr->cmdline)))
		return -EINVAL;
	if (cr->max_vcpus < 1 || cr->max_vcpus > HV_MAX_VCPUS)
		return -EINVAL;
	if (cr->flags & ~PROCDOM_CTL_CREATE_FLAGS)
		return -EINVAL;
	return 0;
}

static int hvd_op_create(struct hvd_req *r)
{
	struct procdom_ctl_create cr;
	struct procdom_ctl_created out;
	char *argv[PROCDOM_CTL_MAX_ARGV + 2];
	domid_t domid;
	int err;

	if (r->plen < sizeof(cr))
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	memcpy(&cr, r->payload, sizeof(cr));
	err = hvd_create_check(&cr);
	if (!err && cr.strings_len != r->plen - sizeof(cr))
		err = -EINVAL;
	if (!err)
		err = hvd_split_strings(&cr, (char *)r->payload + sizeof(cr), cr.strings_len, argv);
	if (!err)
		err = hvd_domain_create(r->c->h, &cr, argv, &domid, &out);
	if (err)
		return hvd_reply(r, err, NULL, 0, -1);
	return hvd_reply(r, domid, &out, sizeof(out), -1);
}

/* domid's LIST row; -ESRCH when the core has no such domain. */
static int hvd_dominfo_row(struct hvd *h, domid_t id, struct procdom_ctl_dominfo *row)
{
	struct hvd_domain *hd = hvd_domain_get(h, id);
	struct hv_domain_info info;

	if (domain_getinfo(h->hv, id, &info) < 0)
		return -ESRCH;
	*row = (struct procdom_ctl_dominfo){
		.domid = id,
		.pid = hd ? procdom_domain_pid(hd->pdom) : 0,
		.flags = (info.privileged ? PROCDOM_DOMINFO_PRIVILEGED : 0) |
			 (info.paused ? PROCDOM_DOMINFO_PAUSED : 0) |
			 (info.shutdown ? PROCDOM_DOMINFO_SHUTDOWN : 0) |
			 (info.dying ? PROCDOM_DOMINFO_DYING : 0),
		.shutdown_reason = info.shutdown_reason,
		.max_vcpus = info.max_vcpus,
		.nr_ports_used = info.nr_ports_used,
		.tot_pages = info.tot_pages,
		.max_pages = info.max_pages,
		.nr_grant_maps = info.nr_grant_maps,
	};
	return 0;
}

/* LIST's and LIST_NEW's arg: the rows asked for, 0 for a whole page;
 * -EINVAL out of range. */
static int hvd_list_max(const struct hvd_req *r, unsigned int *ret)
{
	if (r->m.arg < 0 || r->m.arg > PROCDOM_CTL_LIST_MAX)
		return -EINVAL;
	*ret = r->m.arg ? (unsigned int)r->m.arg : PROCDOM_CTL_LIST_MAX;
	return 0;
}

static int hvd_op_list(struct hvd_req *r)
{
	struct procdom_ctl_dominfo out[PROCDOM_CTL_LIST_MAX];
	struct hvd *h = r->c->h;
	unsigned int n = 0, max;
	domid_t id;

	if (hvd_list_max(r, &max))
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	if (r->m.domid >= DOMID_FIRST_RESERVED)
		return hvd_reply(r, 0, NULL, 0, -1);
	/* xenon-hvd's own set of ids, not the core's domain_next: that scans
	 * every slot up to DOMID_FIRST_RESERVED at the end of each listing. */
	for (id = (domid_t)r->m.domid; n < max; id++) {
		if (hvd_domain_next(h, id, &id) < 0)
			break;
		if (!hvd_dominfo_row(h, id, &out[n]))
			n++;
		if (id == DOMID_FIRST_RESERVED - 1)
			break;
	}
	return hvd_reply(r, n, out, n * sizeof(out[0]), -1);
}

/* The domains created after the request's cursor, oldest first: as many
 * steps as rows (procdom_proto.h). */
static int hvd_op_list_new(struct hvd_req *r)
{
	struct {
		struct procdom_ctl_list_new next;
		struct procdom_ctl_dominfo row[PROCDOM_CTL_LIST_MAX];
	} out;
	struct procdom_ctl_list_new in;
	struct hvd *h = r->c->h;
	struct hvd_domain *hd;
	unsigned int n = 0, max;

	if (hvd_list_max(r, &max) || r->plen != sizeof(in))
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	memcpy(&in, r->payload, sizeof(in));
	if (in.cursor > h->born_seq)
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	out.next.cursor = in.cursor;
	for (hd = hvd_domain_born_after(h, in.cursor); hd && n < max; hd = hd->born_next) {
		if (!hvd_dominfo_row(h, hd->domid, &out.row[n]))
			n++;
		out.next.cursor = hd->born;
	}
	/* All of them: from the newest on next time. */
	if (!hd)
		out.next.cursor = h->born_seq;
	return hvd_reply(r, n, &out, sizeof(out.next) + n * sizeof(out.row[0]), -1);
}

/* Ports in use from `arg` on, read with EVTCHNOP_status as dom0. */
static int hvd_op_evtchn_status(struct hvd_req *r)
{
	struct evtchn_status out[PROCDOM_CTL_STATUS_MAX];
	unsigned int n = 0;
	int64_t port;

	if (r->m.domid >= DOMID_FIRST_RESERVED || !hvd_domain_get(r->c->h, (domid_t)r->m.domid))
		return hvd_reply(r, -ESRCH, NULL, 0, -1);
	for (port = r->m.arg > 0 ? r->m.arg : 1; port < HVD_DOM0_PORTS; port++) {
		struct evtchn_status st = { .dom = (domid_t)r->m.domid, .port = (uint32_t)port };
		uint64_t args[5] = { EVTCHNOP_status, 0 };
		long rc = hvd_dom0_hypercall(r->c->h, __HYPERVISOR_event_channel_op, args, 1, &st,
					     sizeof(st));

		if (rc < 0)
			break; /* beyond the domain's ports */
		if (st.status == EVTCHNSTAT_closed)
			continue;
		out[n++] = st;
		if (n == PROCDOM_CTL_STATUS_MAX)
			break;
	}
	return hvd_reply(r, n, out, n * sizeof(out[0]), -1);
}

static int hvd_op_hypercall(struct hvd_req *r)
{
	struct procdom_ctl_hypercall hc;
	uint8_t *buf = r->payload + sizeof(hc);
	long ret;

	if (r->plen < sizeof(hc))
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	memcpy(&hc, r->payload, sizeof(hc));
	if (hc.buf_len > PROCDOM_SCRATCH_SIZE || hc.buf_len != r->plen - sizeof(hc))
		return hvd_reply(r, -EINVAL, NULL, 0, -1);
	ret = hvd_dom0_client_hypercall(r->c, &hc, buf);
	/* Reply: the header as sent (buf_len may be 0 now) and the buffer. */
	memcpy(r->payload, &hc, sizeof(hc));
	return hvd_reply(r, ret, r->payload, sizeof(hc) + hc.buf_len, -1);
}

static int hvd_op_foreign_map(struct hvd_req *r)
{
	struct hvd_domain *hd = r->m.domid < DOMID_FIRST_RESERVED
					? hvd_domain_get(r->c->h, (domid_t)r->m.domid)
					: NULL;

	if (!hd)
		return hvd_reply(r, -ESRCH, NULL, 0, -1);
	return hvd_reply(r, (int64_t)procdom_domain_max_pages(hd->pdom), NULL, 0,
			 procdom_domain_ram_fd(hd->pdom));
}

static int hvd_op_simple(struct hvd_req *r)
{
	struct hvd *h = r->c->h;
	domid_t domid = r->m.domid < DOMID_FIRST_RESERVED ? (domid_t)r->m.domid : DOMID_INVALID;

	switch (r->m.op) {
	case PROCDOM_CTL_HELLO:
		return hvd_reply(r,
				 r->m.arg == PROCDOM_PROTO_VERSION ? PROCDOM_PROTO_VERSION
								   : -EPROTONOSUPPORT,
				 NULL, 0, -1);
	case PROCDOM_CTL_DESTROY:
		return hvd_reply(r, hvd_domain_destroy(h, domid), NULL, 0, -1);
	case PROCDOM_CTL_PAUSE:
	case PROCDOM_CTL_UNPAUSE:
		return hvd_reply(r, hvd_domain_pause(h, domid, r->m.op == PROCDOM_CTL_PAUSE), NULL,
				 0, -1);
	case PROCDOM_CTL_SHUTDOWN:
		if (r->m.arg < 0 || r->m.arg > 0xffff)
			return hvd_reply(r, -EINVAL, NULL, 0, -1);
		return hvd_reply(r, hvd_domain_shutdown(h, domid, (unsigned int)r->m.arg), NULL, 0,
				 -1);
	case PROCDOM_CTL_EVTCHN_WATCH:
	case PROCDOM_CTL_EVTCHN_UNWATCH:
		return hvd_reply(
			r, hvd_dom0_watch(r->c, r->m.arg, r->m.op == PROCDOM_CTL_EVTCHN_WATCH),
			NULL, 0, -1);
	}
	return hvd_reply(r, -EOPNOTSUPP, NULL, 0, -1);
}

static int hvd_dispatch(struct hvd_req *r)
{
	switch (r->m.op) {
	case PROCDOM_CTL_CREATE:
		return hvd_op_create(r);
	case PROCDOM_CTL_LIST:
		return hvd_op_list(r);
	case PROCDOM_CTL_LIST_NEW:
		return hvd_op_list_new(r);
	case PROCDOM_CTL_EVTCHN_STATUS:
		return hvd_op_evtchn_status(r);
	case PROCDOM_CTL_HYPERCALL:
		return hvd_op_hypercall(r);
	case PROCDOM_CTL_FOREIGN_MAP:
		return hvd_op_foreign_map(r);
	case PROCDOM_CTL_GNT_MAP:
	case PROCDOM_CTL_GNT_UNMAP:
	case PROCDOM_CTL_GNT_NOTIFY:
	case PROCDOM_CTL_GNT_COPY:
	case PROCDOM_CTL_GNTSHR_SHARE:
	case PROCDOM_CTL_GNTSHR_UNSHARE:
	case PROCDOM_CTL_GRANT_STATUS:
	case PROCDOM_CTL_GNT_COUNTS:
		return hvd_gnt_dispatch(r);
	}
	return hvd_op_simple(r);
}

/* One message; fds that came with it are closed. 0 on EOF. */
static ssize_t hvd_conn_recv(struct hvd_conn *c, bool *ret_fds, bool *ret_trunc)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { c->h->rxbuf, PROCDOM_CTL_MAX_MSG + 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	*ret_trunc = n > PROCDOM_CTL_MAX_MSG || (mh.msg_flags & MSG_TRUNC);
	*ret_fds = mh.msg_flags & MSG_CTRUNC;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int *fds = (int *)CMSG_DATA(cm);
			size_t i, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < nfd; i++)
				close(fds[i]);
			*ret_fds = true;
		}
	}
	return n;
}

static void hvd_conn_drop(struct hvd_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	c->h->have_deferred = true;
	hvd_unwatch_fd(c->h, c->fd);
	/* Grants first: an unmap notify may send on a port this connection
	 * owns, which must still be open. */
	hvd_gnt_conn_gone(c);
	hvd_dom0_conn_gone(c);
}

void hvd_conn_ready(struct hvd_conn *c)
{
	struct hvd_req r = { .c = c };
	bool fds = false, trunc = false;
	ssize_t n;

	if (c->dead)
		return;
	n = hvd_conn_recv(c, &fds, &trunc);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n <= 0) {
		hvd_conn_drop(c);
		return;
	}
	if ((size_t)n < sizeof(r.m)) {
		hvd_log(c->h, HV_LOG_WARN, "connection %u: short message (%zd bytes)", c->id, n);
		hvd_conn_drop(c);
		return;
	}
	memcpy(&r.m, c->h->rxbuf, sizeof(r.m));
	r.payload = c->h->rxbuf + sizeof(r.m);
	r.plen = (size_t)n - sizeof(r.m);
	if (trunc || r.m.len != r.plen)
		hvd_reply(&r, trunc ? -EMSGSIZE : -EINVAL, NULL, 0, -1);
	else if (fds)
		hvd_reply(&r, -EBADF, NULL, 0, -1);
	else if (hvd_dispatch(&r) < 0)
		hvd_conn_drop(c); /* cannot even reply: the client is gone or stuck */
}

void hvd_conns_reap(struct hvd *h)
{
	struct hvd_conn **pp = &h->conns;

	while (*pp) {
		struct hvd_conn *c = *pp;

		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		h->nr_conns--;
		close(c->fd);
		free(c);
	}
}
