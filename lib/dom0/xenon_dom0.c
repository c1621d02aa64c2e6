/*
 * libxenon-dom0: requests over hvd.sock, foreign mappings, event handles.
 *
 * A request is one SOCK_SEQPACKET message; the reply is the next message
 * with our seq. PROCDOM_CTL_EVENT messages can arrive first: they go into
 * the connection's event queue (a ring bounded by the ports a connection
 * may own, since xenon-hvd masks a port each time it sends its event).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dom0_internal.h"

struct xenon_evtchn {
	struct xenon_ctl *ctl;
};

int xenon_ctl_open(const char *run_dir, struct xenon_ctl **ret_ctl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xenon_ctl *ctl;
	int err;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hvd.sock", run_dir) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->buf = malloc(PROCDOM_CTL_MAX_MSG);
	ctl->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (!ctl->buf || ctl->fd < 0) {
		err = ctl->buf ? -errno : -ENOMEM;
		goto out_free;
	}
	if (connect(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out_close;
	}
	*ret_ctl = ctl;
	return 0;

out_close:
	close(ctl->fd);
out_free:
	free(ctl->buf);
	free(ctl);
	return err;
}

void xenon_ctl_close(struct xenon_ctl *ctl)
{
	if (!ctl)
		return;
	close(ctl->fd);
	free(ctl->buf);
	free(ctl);
}

int xenon_ctl_fd(const struct xenon_ctl *ctl)
{
	return ctl->fd;
}

static void xenon_evq_push(struct xenon_ctl *ctl, uint32_t port)
{
	if (ctl->evq_len == XENON_EVQ_SIZE)
		return; /* cannot happen while xenon-hvd masks on delivery */
	ctl->evq[(ctl->evq_head + ctl->evq_len++) % XENON_EVQ_SIZE] = port;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* The first descriptor a message carried; any others are closed. */
static int xenon_take_fds(struct msghdr *mh)
{
	struct cmsghdr *cm;
	int fd = -1;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t i, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < nfd; i++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
				if (fd < 0)
					fd = f;
				else
					close(f);
			}
		}
	}
	return fd;
}

/* One message in; a descriptor that came with it lands in *ret_fd (-1:
 * none), which the caller owns, whatever this returns. */
static int xenon_recv(struct xenon_ctl *ctl, struct xenon_reply *r, int flags, int *ret_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { ctl->buf, PROCDOM_CTL_MAX_MSG };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t n;

	*ret_fd = -1;
	do
		n = recvmsg(ctl->fd, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*ret_fd = xenon_take_fds(&mh);
	if (n == 0)
		return -ECONNRESET;
	if ((size_t)n < sizeof(r->m) || (mh.msg_flags & MSG_TRUNC))
		return -EPROTO;
	memcpy(&r->m, ctl->buf, sizeof(r->m));
	r->payload = ctl->buf + sizeof(r->m);
	r->plen = (size_t)n - sizeof(r->m);
	return r->m.len == r->plen ? 0 : -EPROTO;
}

/* Messages in until our reply: events are queued on the way, anything else
 * is a protocol error. Only the reply's descriptor may survive, and only
 * into ret_fd. */
static int xenon_await(struct xenon_ctl *ctl, uint32_t op, uint32_t seq, struct xenon_reply *r,
		       int *ret_fd)
{
	int err, fd;

	for (;;) {
		err = xenon_recv(ctl, r, 0, &fd);
		if (!err && r->m.op == PROCDOM_CTL_EVENT) {
			close_fd(fd);
			xenon_evq_push(ctl, (uint32_t)r->m.arg);
			continue;
		}
		if (!err && (r->m.seq != seq || r->m.op != op))
			err = -EPROTO;
		if (!err && ret_fd)
			*ret_fd = fd;
		else
			close_fd(fd);
		return err;
	}
}

int xenon_request_fd(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, int64_t arg,
		     const void *p1, size_t l1, const void *p2, size_t l2, struct xenon_reply *r,
		     int *ret_fd)
{
	struct procdom_ctl_msg m = {
		.op = op, .seq = ++ctl->seq, .domid = domid, .len = (uint32_t)(l1 + l2), .arg = arg
	};
	struct iovec iov[3] = { { &m, sizeof(m) }, { (void *)p1, l1 }, { (void *)p2, l2 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };

	if (ret_fd)
		*ret_fd = -1;
	if (sizeof(m) + l1 + l2 > PROCDOM_CTL_MAX_MSG)
		return -EMSGSIZE;
	if (ctl->seq == 0)
		m.seq = ++ctl->seq; /* 0 marks events */
	if (sendmsg(ctl->fd, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return xenon_await(ctl, op, m.seq, r, ret_fd);
}

int xenon_request(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, int64_t arg, const void *p1,
		  size_t l1, const void *p2, size_t l2, struct xenon_reply *r)
{
	return xenon_request_fd(ctl, op, domid, arg, p1, l1, p2, l2, r, NULL);
}

int xenon_simple(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, int64_t arg)
{
	struct xenon_reply r;
	int err = xenon_request(ctl, op, domid, arg, NULL, 0, NULL, 0, &r);

	return err ? err : (int)r.m.arg;
}

/* ---- domains ---------------------------------------------------------- */

void xenon_create_defaults(struct procdom_ctl_create *req)
{
	memset(req, 0, sizeof(*req));
	req->domid = DOMID_INVALID;
	req->max_vcpus = 1;
	req->nr_pages = 256;
}

static int xenon_pack_strings(char *const argv[], char *buf, size_t size, size_t *ret_len,
			      uint32_t *ret_argc)
{
	size_t len = 0, n;
	uint32_t i;

	if (!argv || !argv[0]) {
		buf[0] = 0;
		*ret_len = 1;
		*ret_argc = 0;
		return 0;
	}
	for (i = 0; argv[i]; i++) {
		n = strlen(argv[i]) + 1;
		if (i > PROCDOM_CTL_MAX_ARGV || len + n > size)
			return -E2BIG;
		memcpy(buf + len, argv[i], n);
		len += n;
	}
	*ret_len = len;
	*ret_argc = i - 1;
	return 0;
}

int xenon_domain_create(struct xenon_ctl *ctl, const struct procdom_ctl_create *req,
			char *const argv[], uint32_t *ret_domid, struct procdom_ctl_created *ret)
{
	struct procdom_ctl_create cr = *req;
	char strings[PROCDOM_CTL_STRINGS_MAX];
	struct xenon_reply r;
	size_t len;
	int err;

	err = xenon_pack_strings(argv, strings, sizeof(strings), &len, &cr.argc);
	if (err)
		return err;
	cr.strings_len = (uint32_t)len;
	err = xenon_request(ctl, PROCDOM_CTL_CREATE, 0, 0, &cr, sizeof(cr), strings, len, &r);
	if (err)
		return err;
	if (r.m.arg < 0)
		return (int)r.m.arg;
	if (r.plen != sizeof(*ret))
		return -EPROTO;
	if (ret_domid)
		*ret_domid = (uint32_t)r.m.arg;
	if (ret)
		memcpy(ret, r.payload, sizeof(*ret));
	return 0;
}

int xenon_domain_destroy(struct xenon_ctl *ctl, uint32_t domid)
{
	return xenon_simple(ctl, PROCDOM_CTL_DESTROY, domid, 0);
}

int xenon_domain_pause(struct xenon_ctl *ctl, uint32_t domid)
{
	return xenon_simple(ctl, PROCDOM_CTL_PAUSE, domid, 0);
}

int xenon_domain_unpause(struct xenon_ctl *ctl, uint32_t domid)
{
	return xenon_simple(ctl, PROCDOM_CTL_UNPAUSE, domid, 0);
}

int xenon_domain_shutdown(struct xenon_ctl *ctl, uint32_t domid, unsigned int reason)
{
	return xenon_simple(ctl, PROCDOM_CTL_SHUTDOWN, domid, reason);
}

/* EVTCHN_STATUS and GRANT_STATUS page the same way: ask from `next` until
 * a short page. `key` says where the next page starts. */
static int xenon_paged(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, void *out, size_t elem,
		       unsigned int max, unsigned int page_max, uint32_t (*key)(const void *))
{
	unsigned int total = 0, n, i;
	struct xenon_reply r;
	uint32_t next = 0;
	int err;

	while (total < max) {
		err = xenon_request(ctl, op, domid, next, NULL, 0, NULL, 0, &r);
		if (err)
			return err;
		if (r.m.arg < 0)
			return (int)r.m.arg;
		n = (unsigned int)r.m.arg;
		if (n > page_max || r.plen != n * elem)
			return -EPROTO;
		for (i = 0; i < n && total < max; i++, total++)
			memcpy((uint8_t *)out + total * elem, r.payload + i * elem, elem);
		if (n < page_max || !n)
			break;
		next = key(r.payload + (n - 1) * elem) + 1;
	}
	return (int)total;
}

static uint32_t xenon_dominfo_key(const void *p)
{
	struct procdom_ctl_dominfo d;

	memcpy(&d, p, sizeof(d));
	return d.domid;
}

static uint32_t xenon_status_key(const void *p)
{
	struct evtchn_status s;

	memcpy(&s, p, sizeof(s));
	return s.port;
}

static uint32_t xenon_grant_key(const void *p)
{
	struct procdom_ctl_grant g;

	memcpy(&g, p, sizeof(g));
	return g.handle;
}

int xenon_grant_status(struct xenon_ctl *ctl, uint32_t domid, struct procdom_ctl_grant *out,
		       unsigned int max)
{
	return xenon_paged(ctl, PROCDOM_CTL_GRANT_STATUS, domid, out, sizeof(*out), max,
			   PROCDOM_CTL_STATUS_MAX, xenon_grant_key);
}

int xenon_grant_counts(struct xenon_ctl *ctl, struct procdom_ctl_gnt_counts *ret)
{
	struct xenon_reply r;
	int err = xenon_request(ctl, PROCDOM_CTL_GNT_COUNTS, 0, 0, NULL, 0, NULL, 0, &r);

	if (err)
		return err;
	if (r.m.arg < 0)
		return (int)r.m.arg;
	if (r.plen != sizeof(*ret))
		return -EPROTO;
	memcpy(ret, r.payload, sizeof(*ret));
	return 0;
}

/*
 * LIST from domid on, at most max rows, asking for no more than are still
 * wanted (arg, procdom_proto.h): a page of what was asked means there may
 * be more, from the last domid + 1. A daemon from before the row limit
 * ignores arg and answers up to a whole page; what is beyond max is
 * dropped.
 */
static int xenon_list(struct xenon_ctl *ctl, uint32_t domid, struct procdom_ctl_dominfo *out,
		      unsigned int max)
{
	unsigned int total = 0, ask, n, i;
	struct xenon_reply r;
	int err;

	while (total < max) {
		ask = max - total < PROCDOM_CTL_LIST_MAX ? max - total : PROCDOM_CTL_LIST_MAX;
		err = xenon_request(ctl, PROCDOM_CTL_LIST, domid, ask, NULL, 0, NULL, 0, &r);
		if (err)
			return err;
		if (r.m.arg < 0)
			return (int)r.m.arg;
		n = (unsigned int)r.m.arg;
		if (r.m.arg > PROCDOM_CTL_LIST_MAX || r.plen != n * sizeof(*out))
			return -EPROTO;
		for (i = 0; i < n && total < max; i++, total++)
			memcpy(&out[total], r.payload + i * sizeof(*out), sizeof(*out));
		if (n < ask)
			break;
		domid = xenon_dominfo_key(r.payload + (n - 1) * sizeof(*out)) + 1;
	}
	return (int)total;
}

int xenon_domain_list(struct xenon_ctl *ctl, struct procdom_ctl_dominfo *out, unsigned int max)
{
	return xenon_list(ctl, 0, out, max);
}

/* One row asked: the domain, or the next one after it if it is gone. */
int xenon_domain_info(struct xenon_ctl *ctl, uint32_t domid, struct procdom_ctl_dominfo *ret)
{
	struct procdom_ctl_dominfo d;
	int n = xenon_list(ctl, domid, &d, 1);

	if (n < 0)
		return n;
	if (n == 0 || d.domid != domid)
		return -ESRCH;
	*ret = d;
	return 0;
}

/*
 * Every domain (xenon_dom0.h): pages of LIST into the caller's buffer,
 * which doubles whenever a page may have been cut short by its end, from
 * PROCDOM_CTL_LIST_MAX rows up to XENON_DOMAINS_MAX. Each batch must go on
 * ascending below DOMID_FIRST_RESERVED from the row before it: that is what
 * makes the buffer's bound the end of the listing, and the rows
 * searchable (xenon_domains_find).
 */
static int xenon_domains_grow(struct xenon_domains *all)
{
	unsigned int cap = all->cap ? all->cap * 2 : PROCDOM_CTL_LIST_MAX;
	struct procdom_ctl_dominfo *row;

	if (all->cap >= XENON_DOMAINS_MAX)
		return -EPROTO; /* cannot be: that many ascending rows end the domid space */
	if (cap > XENON_DOMAINS_MAX)
		cap = XENON_DOMAINS_MAX;
	row = realloc(all->row, cap * sizeof(*row));
	if (!row)
		return -ENOMEM;
	all->row = row;
	all->cap = cap;
	return 0;
}

/* One LIST_NEW page into all->row + all->n, at most room rows; *cursor
 * becomes the page's. Returns the rows or -errno. */
static int xenon_list_new(struct xenon_ctl *ctl, uint64_t *cursor, struct xenon_domains *all,
			  unsigned int room)
{
	struct procdom_ctl_list_new in = { *cursor }, next;
	unsigned int ask = room < PROCDOM_CTL_LIST_MAX ? room : PROCDOM_CTL_LIST_MAX, n;
	struct xenon_reply r;
	int err;

	err = xenon_request(ctl, PROCDOM_CTL_LIST_NEW, 0, ask, &in, sizeof(in), NULL, 0, &r);
	if (err)
		return err;
	if (r.m.arg < 0)
		return (int)r.m.arg;
	n = (unsigned int)r.m.arg;
	if (r.m.arg > ask || r.plen != sizeof(next) + n * sizeof(*all->row))
		return -EPROTO;
	memcpy(&next, r.payload, sizeof(next));
	/* A page of rows moves the cursor on; it never goes back. */
	if (next.cursor < *cursor || (n && next.cursor == *cursor))
		return -EPROTO;
	memcpy(all->row + all->n, r.payload + sizeof(next), n * sizeof(*all->row));
	for (unsigned int i = 0; i < n; i++) {
		if (all->row[all->n + i].domid >= DOMID_FIRST_RESERVED)
			return -EPROTO;
	}
	*cursor = next.cursor;
	return (int)n;
}

int xenon_domains_new(struct xenon_ctl *ctl, uint64_t *cursor, struct xenon_domains *all)
{
	uint64_t at = *cursor;
	unsigned int room;
	int n;

	all->n = 0;
	for (;;) {
		if (all->n == XENON_DOMAINS_MAX) {
			/* Every domid listed, the last page full: one more row
			 * would be more than the domid space holds. */
			struct procdom_ctl_dominfo extra;
			struct xenon_domains one = { &extra, 0, 1 };

			n = xenon_list_new(ctl, &at, &one, 1);
			if (n > 0)
				n = -EPROTO;
			if (n < 0)
				goto out_fail;
			break;
		}
		if (all->n == all->cap && (n = xenon_domains_grow(all)) < 0)
			goto out_fail;
		room = all->cap - all->n;
		n = xenon_list_new(ctl, &at, all, room);
		if (n < 0)
			goto out_fail;
		all->n += (unsigned int)n;
		if ((unsigned int)n < (room < PROCDOM_CTL_LIST_MAX ? room : PROCDOM_CTL_LIST_MAX))
			break;
	}
	*cursor = at;
	return (int)all->n;

out_fail:
	all->n = 0;
	return n;
}

static bool xenon_domains_ascending(const struct xenon_domains *all, unsigned int from)
{
	for (unsigned int i = from; i < all->n; i++) {
		if (all->row[i].domid >= DOMID_FIRST_RESERVED)
			return false;
		if (i && all->row[i].domid <= all->row[i - 1].domid)
			return false;
	}
	return true;
}

int xenon_domains_list(struct xenon_ctl *ctl, struct xenon_domains *all)
{
	uint32_t next = 0;
	unsigned int room;
	int n;

	all->n = 0;
	while (next < DOMID_FIRST_RESERVED) {
		if (all->n == all->cap && (n = xenon_domains_grow(all)) < 0)
			goto out_fail;
		room = all->cap - all->n;
		n = xenon_list(ctl, next, all->row + all->n, room);
		if (n < 0)
			goto out_fail;
		all->n += (unsigned int)n;
		if (!xenon_domains_ascending(all, all->n - (unsigned int)n)) {
			n = -EPROTO;
			goto out_fail;
		}
		if ((unsigned int)n < room)
			break;
		next = all->row[all->n - 1].domid + 1;
	}
	return (int)all->n;

out_fail:
	all->n = 0;
	return n;
}

void xenon_domains_fini(struct xenon_domains *all)
{
	free(all->row);
	*all = (struct xenon_domains){ 0 };
}

static int xenon_domid_cmp(const void *key, const void *elem)
{
	uint32_t a = *(const uint32_t *)key, b = ((const struct procdom_ctl_dominfo *)elem)->domid;

	return a < b ? -1 : a > b;
}

const struct procdom_ctl_dominfo *xenon_domains_find(const struct xenon_domains *all,
						     uint32_t domid)
{
	if (!all->n)
		return NULL;
	return bsearch(&domid, all->row, all->n, sizeof(*all->row), xenon_domid_cmp);
}

int xenon_evtchn_status(struct xenon_ctl *ctl, uint32_t domid, struct evtchn_status *out,
			unsigned int max)
{
	return xenon_paged(ctl, PROCDOM_CTL_EVTCHN_STATUS, domid, out, sizeof(*out), max,
			   PROCDOM_CTL_STATUS_MAX, xenon_status_key);
}

long xenon_hypercall(struct xenon_ctl *ctl, unsigned int op, const uint64_t args[5],
		     unsigned int buf_arg, void *buf, size_t len)
{
	struct procdom_ctl_hypercall hc = { .op = op,
					    .buf_arg = buf_arg,
					    .buf_len = (uint32_t)len };
	struct xenon_reply r;
	int err;

	if (len > PROCDOM_SCRATCH_SIZE)
		return -E2BIG;
	if (!len)
		hc.buf_arg = PROCDOM_HC_NO_BUF;
	memcpy(hc.args, args, sizeof(hc.args));
	err = xenon_request(ctl, PROCDOM_CTL_HYPERCALL, 0, 0, &hc, sizeof(hc), buf, len, &r);
	if (err)
		return err;
	if (r.plen == sizeof(hc) + len && len)
		memcpy(buf, r.payload + sizeof(hc), len);
	return (long)r.m.arg;
}

/* ---- foreign memory --------------------------------------------------- */

void *xenon_foreign_map(struct xenon_ctl *ctl, uint32_t domid, uint64_t gfn, size_t nr, int prot)
{
	struct xenon_reply r;
	void *p;
	int err, fd;

	err = xenon_request_fd(ctl, PROCDOM_CTL_FOREIGN_MAP, domid, 0, NULL, 0, NULL, 0, &r, &fd);
	if (err) {
		errno = -err;
		return NULL;
	}
	if (r.m.arg < 0 || fd < 0)
		err = r.m.arg < 0 ? (int)r.m.arg : -EPROTO;
	else if (!nr || gfn >= (uint64_t)r.m.arg || nr > (uint64_t)r.m.arg - gfn)
		err = -EINVAL;
	if (err) {
		close_fd(fd);
		errno = -err;
		return NULL;
	}
	p = mmap(NULL, nr * PROCDOM_PAGE_SIZE, prot, MAP_SHARED, fd,
		 (off_t)(gfn * PROCDOM_PAGE_SIZE));
	err = errno;
	close(fd);
	if (p == MAP_FAILED) {
		errno = err;
		return NULL;
	}
	return p;
}

int xenon_foreign_unmap(void *addr, size_t nr)
{
	return munmap(addr, nr * PROCDOM_PAGE_SIZE) < 0 ? -errno : 0;
}

/* ---- event channels --------------------------------------------------- */

int xenon_evtchn_open(const char *run_dir, struct xenon_evtchn **ret_xe)
{
	struct xenon_evtchn *xe = calloc(1, sizeof(*xe));
	int err;

	if (!xe)
		return -ENOMEM;
	err = xenon_ctl_open(run_dir, &xe->ctl);
	if (err) {
		free(xe);
		return err;
	}
	*ret_xe = xe;
	return 0;
}

/* xenon-hvd closes the ports this connection opened when it goes. */
void xenon_evtchn_close(struct xenon_evtchn *xe)
{
	if (!xe)
		return;
	xenon_ctl_close(xe->ctl);
	free(xe);
}

int xenon_evtchn_fd(const struct xenon_evtchn *xe)
{
	return xe->ctl->fd;
}

struct xenon_ctl *xenon_evtchn_ctl(struct xenon_evtchn *xe)
{
	return xe->ctl;
}

static long xenon_evtchn_op(struct xenon_evtchn *xe, unsigned int cmd, void *arg, size_t len)
{
	uint64_t args[5] = { cmd, 0, 0, 0, 0 };

	return xenon_hypercall(xe->ctl, __HYPERVISOR_event_channel_op, args, 1, arg, len);
}

int xenon_evtchn_bind_unbound_port(struct xenon_evtchn *xe, uint32_t remote_domid)
{
	struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = (domid_t)remote_domid };
	long rc = xenon_evtchn_op(xe, EVTCHNOP_alloc_unbound, &op, sizeof(op));

	return rc < 0 ? (int)rc : (int)op.port;
}

int xenon_evtchn_bind_interdomain(struct xenon_evtchn *xe, uint32_t remote_domid,
				  evtchn_port_t remote_port)
{
	struct evtchn_bind_interdomain op = { .remote_dom = (domid_t)remote_domid,
					      .remote_port = remote_port };
	long rc = xenon_evtchn_op(xe, EVTCHNOP_bind_interdomain, &op, sizeof(op));

	return rc < 0 ? (int)rc : (int)op.local_port;
}

int xenon_evtchn_bind_virq(struct xenon_evtchn *xe, unsigned int virq)
{
	struct evtchn_bind_virq op = { .virq = virq, .vcpu = 0 };
	long rc = xenon_evtchn_op(xe, EVTCHNOP_bind_virq, &op, sizeof(op));

	return rc < 0 ? (int)rc : (int)op.port;
}

int xenon_evtchn_watch(struct xenon_evtchn *xe, evtchn_port_t port)
{
	return xenon_simple(xe->ctl, PROCDOM_CTL_EVTCHN_WATCH, 0, port);
}

int xenon_evtchn_unbind(struct xenon_evtchn *xe, evtchn_port_t port)
{
	struct evtchn_close op = { .port = port };

	return (int)xenon_evtchn_op(xe, EVTCHNOP_close, &op, sizeof(op));
}

int xenon_evtchn_notify(struct xenon_evtchn *xe, evtchn_port_t port)
{
	struct evtchn_send op = { .port = port };

	return (int)xenon_evtchn_op(xe, EVTCHNOP_send, &op, sizeof(op));
}

int xenon_evtchn_unmask(struct xenon_evtchn *xe, evtchn_port_t port)
{
	struct evtchn_unmask op = { .port = port };

	return (int)xenon_evtchn_op(xe, EVTCHNOP_unmask, &op, sizeof(op));
}

bool xenon_evtchn_has_queued(const struct xenon_evtchn *xe)
{
	return xe->ctl->evq_len > 0;
}

int xenon_evtchn_pending(struct xenon_evtchn *xe)
{
	struct xenon_ctl *ctl = xe->ctl;
	struct xenon_reply r;
	uint32_t port;
	int err, fd;

	for (;;) {
		if (ctl->evq_len) {
			port = ctl->evq[ctl->evq_head];
			ctl->evq_head = (ctl->evq_head + 1) % XENON_EVQ_SIZE;
			ctl->evq_len--;
			return (int)port;
		}
		err = xenon_recv(ctl, &r, MSG_DONTWAIT, &fd);
		close_fd(fd); /* no event carries one */
		if (err)
			return err == -EWOULDBLOCK ? -EAGAIN : err;
		/* Only events arrive unasked; anything else is dropped. */
		if (r.m.op == PROCDOM_CTL_EVENT)
			xenon_evq_push(ctl, (uint32_t)r.m.arg);
	}
}
