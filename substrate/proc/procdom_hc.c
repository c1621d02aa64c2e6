/*
 * Hypercall sockets and map changes.
 *
 * One SOCK_SEQPACKET pair per vCPU: the domain's process holds one end, we
 * hold the other (non-blocking; the host polls it). A request is exactly one
 * struct procdom_hc_req; anything else gets a -EINVAL reply and is logged
 * once per domain. File descriptors a guest sends are closed unread.
 *
 * Map changes: the core calls physmap_set(domid, gfn, page) with a host
 * pointer. We turn the pointer back into (memfd, offset) by asking which
 * region holds it: the domain's own evt (shared_info), xen (grant frames) or
 * ram, or another domain's ram (a mapped grant, sent with that domain's ram
 * memfd), or an overlay in a `local` domain's ram (a dom0 share, sent with
 * the overlay's memfd alone, O_RDONLY for a read-only map). A local
 * domain's (dom0's) ram memfd itself is never sent: it holds the scratch
 * frames where dom0's clients' hypercall arguments wait for the core, so a
 * page of it outside an overlay becomes a hole (logged).
 * Changes are coalesced per gfn, since only the last one matters,
 * and leave with the domain's next reply, read-only when the core says so
 * (a GNTMAP_readonly mapping: the runtime maps it PROT_READ, so a write
 * faults in the guest rather than reaching the granter's frame):
 *
 *   GNTTABOP_map_grant_ref by d2 of d1's frame 7 at d2's gfn 300
 *     -> physmap_set(d2, 300, d1.ram + 7*4096)
 *     -> pending {gfn 300, FD, offset 7*4096, src d1}
 *     -> reply: procdom_hc_rep{nr_maps 1} + procdom_map{300, 28672, FD,
 *        fd_index 0} + SCM_RIGHTS [d1's ram memfd]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "procdom_internal.h"

int procdom_hc_init(struct procdom_domain *d)
{
	unsigned int i;

	d->hc_fds = malloc(d->max_vcpus * sizeof(*d->hc_fds));
	if (!d->hc_fds)
		return -ENOMEM;
	for (i = 0; i < d->max_vcpus; i++)
		d->hc_fds[i] = -1;
	return 0;
}

void procdom_hc_fini(struct procdom_domain *d)
{
	unsigned int i;

	for (i = 0; d->hc_fds && i < d->max_vcpus; i++)
		if (d->hc_fds[i] >= 0)
			close(d->hc_fds[i]);
	free(d->hc_fds);
	d->hc_fds = NULL;
	for (i = 0; d->maps && i < d->nr_maps; i++)
		procdom_overlay_put(d->maps[i].ovl);
	free(d->maps);
	d->maps = NULL;
	d->nr_maps = d->maps_cap = 0;
}

int procdom_domain_hc_fd(const struct procdom_domain *d, unsigned int vcpu)
{
	return vcpu < d->max_vcpus ? d->hc_fds[vcpu] : -1;
}

/* ---- map changes ------------------------------------------------------ */

/* Offset off of owner's RAM: an overlay's page, or the ram memfd's. */
static bool procdom_resolve_ram(struct procdom_domain *owner, uint64_t off,
				struct procdom_pending_map *m)
{
	uint32_t idx;
	struct procdom_overlay *o = procdom_overlay_at(owner, off / PROCDOM_PAGE_SIZE, &idx);

	m->kind = PROCDOM_MAP_FD;
	m->src = owner->domid;
	m->offset = off;
	if (o) {
		m->ovl = o;
		m->offset = (uint64_t)idx * PROCDOM_PAGE_SIZE + off % PROCDOM_PAGE_SIZE;
	}
	return true;
}

static bool procdom_resolve(struct procdom_domain *owner, const uint8_t *p,
			    struct procdom_pending_map *m)
{
	if (owner->evt.base && p >= owner->evt.base && p < owner->evt.base + owner->evt.size) {
		m->kind = PROCDOM_MAP_EVT;
		m->offset = (uint64_t)(p - owner->evt.base);
		return true;
	}
	if (owner->xen.base && p >= owner->xen.base && p < owner->xen.base + owner->xen.size) {
		m->kind = PROCDOM_MAP_XEN;
		m->offset = (uint64_t)(p - owner->xen.base);
		return true;
	}
	if (owner->ram.base && p >= owner->ram.base && p < owner->ram.base + owner->ram.size)
		return procdom_resolve_ram(owner, (uint64_t)(p - owner->ram.base), m);
	return false;
}

/* What the guest must show at gfn for host page `page` (NULL: its own). */
static void procdom_map_describe(struct procdom_domain *d, uint64_t gfn, const void *page,
				 struct procdom_pending_map *m)
{
	struct procdom_domain *o;

	*m = (struct procdom_pending_map){ .gfn = gfn, .src = d->domid };
	if (!page) {
		m->kind = gfn < d->max_pages ? PROCDOM_MAP_OWN_RAM : PROCDOM_MAP_HOLE;
		return;
	}
	if (procdom_resolve(d, page, m)) {
		if (m->kind == PROCDOM_MAP_FD && !m->ovl && m->offset == gfn * PROCDOM_PAGE_SIZE)
			m->kind = PROCDOM_MAP_OWN_RAM;
		if (m->kind != PROCDOM_MAP_FD || !m->ovl)
			return;
		/* Our own overlay: a local domain has no process to show it. */
	}
	for (o = d->pd->domains; o && !m->ovl; o = o->next) {
		if (o != d && procdom_resolve(o, page, m)) {
			/* Only another domain's RAM may be shown to us, and of
			 * a local domain (dom0) only an overlay's pages. */
			if (m->kind == PROCDOM_MAP_FD && (m->ovl || !o->local))
				return;
			break;
		}
	}
	procdom_log(d->pd, HV_LOG_ERR, "d%u: gfn %#llx: page of unknown origin, left a hole",
		    d->domid, (unsigned long long)gfn);
	*m = (struct procdom_pending_map){ .gfn = gfn, .kind = PROCDOM_MAP_HOLE };
}

void procdom_maps_record(struct procdom_domain *d, uint64_t gfn, const void *page, bool readonly)
{
	struct procdom_pending_map m, *n;
	unsigned int i;

	procdom_map_describe(d, gfn, page, &m);
	/* Only a page shown from elsewhere can be read-only; a hole or the
	 * domain's own RAM again is what it always was. */
	m.readonly = readonly && m.kind != PROCDOM_MAP_HOLE && m.kind != PROCDOM_MAP_OWN_RAM;
	if (m.ovl)
		procdom_overlay_get(m.ovl); /* until the change is sent */
	for (i = 0; i < d->nr_maps; i++) {
		if (d->maps[i].gfn == gfn) {
			procdom_overlay_put(d->maps[i].ovl);
			d->maps[i] = m;
			return;
		}
	}
	/* Coalesced by gfn, so the list never outgrows the frame space. */
	if (d->nr_maps == d->maps_cap) {
		unsigned int cap = d->maps_cap ? d->maps_cap * 2 : 16;

		n = realloc(d->maps, cap * sizeof(*n));
		if (!n) {
			procdom_log(d->pd, HV_LOG_ERR, "d%u: out of memory for map changes",
				    d->domid);
			procdom_overlay_put(m.ovl);
			return;
		}
		d->maps = n;
		d->maps_cap = cap;
	}
	d->maps[d->nr_maps++] = m;
}

/* ---- replies ---------------------------------------------------------- */

struct procdom_reply {
	struct procdom_hc_rep rep;
	struct procdom_map maps[PROCDOM_MAX_MAPS];
	int fds[PROCDOM_MAX_MAPS];
	unsigned int nr_fds;
	/* Overlays the taken changes held: released once the reply went. */
	struct procdom_overlay *ovl[PROCDOM_MAX_MAPS];
	unsigned int nr_ovl;
};

static int procdom_reply_fd(struct procdom_reply *r, int fd)
{
	unsigned int i;

	for (i = 0; i < r->nr_fds; i++)
		if (r->fds[i] == fd)
			return (int)i;
	r->fds[r->nr_fds] = fd;
	return (int)r->nr_fds++;
}

static int procdom_reply_fd_cb(void *ctx, int fd)
{
	return procdom_reply_fd(ctx, fd);
}

/* Move up to PROCDOM_MAX_MAPS pending changes into the reply: physmap
 * changes first, then peer slot changes of the fast send path. */
static void procdom_reply_take_maps(struct procdom_domain *d, struct procdom_reply *r)
{
	unsigned int n = d->nr_maps < PROCDOM_MAX_MAPS ? d->nr_maps : PROCDOM_MAX_MAPS, i;
	bool more;
	int fd;

	for (i = 0; i < n; i++) {
		const struct procdom_pending_map *p = &d->maps[i];
		struct procdom_map *m = &r->maps[i];
		struct procdom_domain *src;

		*m = (struct procdom_map){ .gfn = p->gfn,
					   .offset = p->offset,
					   .kind = p->kind,
					   .readonly = p->readonly,
					   .fd_index = -1 };
		if (p->kind != PROCDOM_MAP_FD)
			continue;
		src = procdom_lookup(d->pd, p->src);
		fd = -1;
		if (p->ovl) {
			r->ovl[r->nr_ovl++] = p->ovl;
			fd = procdom_overlay_send_fd(p->ovl, p->readonly);
			if (fd < 0) /* never the writable fd for a read-only map */
				procdom_log(d->pd, HV_LOG_ERR,
					    "d%u: gfn %#llx: no read-only fd: hole", d->domid,
					    (unsigned long long)p->gfn);
		} else if (src) {
			fd = src->ram.fd;
		}
		if (fd >= 0)
			m->fd_index = procdom_reply_fd(r, fd);
		else
			*m = (struct procdom_map){ .gfn = p->gfn,
						   .kind = PROCDOM_MAP_HOLE,
						   .fd_index = -1 };
	}
	memmove(d->maps, d->maps + n, (d->nr_maps - n) * sizeof(*d->maps));
	d->nr_maps -= n;
	n += procdom_send_take_maps(d, r->maps + n, PROCDOM_MAX_MAPS - n, procdom_reply_fd_cb, r,
				    &more);
	r->rep.nr_maps = n;
	r->rep.flags = d->nr_maps || more ? PROCDOM_REP_MORE_MAPS : 0;
}

static int procdom_reply_send(struct procdom_domain *d, unsigned int vcpu, struct procdom_reply *r)
{
	struct iovec iov[2] = {
		{ &r->rep, sizeof(r->rep) },
		{ r->maps, r->rep.nr_maps * sizeof(r->maps[0]) },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * PROCDOM_MAX_MAPS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	struct cmsghdr *c;

	if (r->nr_fds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * r->nr_fds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * r->nr_fds);
		memcpy(CMSG_DATA(c), r->fds, sizeof(int) * r->nr_fds);
	}
	if (sendmsg(d->hc_fds[vcpu], &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* The guest sent requests without reading replies, or died:
		 * only it suffers. */
		procdom_log(d->pd, HV_LOG_WARN, "d%u v%u: reply lost: %s", d->domid, vcpu,
			    strerror(errno));
		return -errno;
	}
	return 0;
}

static int procdom_reply(struct procdom_domain *d, unsigned int vcpu, uint32_t seq, long ret,
			 const struct hv_action_req *act)
{
	struct procdom_reply r;
	int err;

	memset(&r.rep, 0, sizeof(r.rep));
	r.nr_fds = 0;
	r.nr_ovl = 0;
	r.rep.ret = ret;
	r.rep.seq = seq;
	if (act) {
		r.rep.action = act->action;
		r.rep.deadline_ns = act->deadline_ns;
	}
	procdom_reply_take_maps(d, &r);
	err = procdom_reply_send(d, vcpu, &r);
	procdom_send_reply_done(d, vcpu, err == 0);
	while (r.nr_ovl)
		procdom_overlay_put(r.ovl[--r.nr_ovl]);
	return err;
}

void procdom_domain_start(struct procdom_domain *d)
{
	if (d->started)
		return;
	d->started = true;
	if (d->boot_waiting) {
		d->boot_waiting = false;
		procdom_reply(d, 0, d->boot_seq, 0, NULL);
	} else if (d->proc && !d->reaped && d->hc_fds[0] >= 0 &&
		   procdom_reply(d, 0, PROCDOM_BOOT_SEQ, 0, NULL) == 0) {
		/* Answered before it was asked (procdom_proto.h). */
		d->boot_early = true;
	}
}

/* ---- requests --------------------------------------------------------- */

/* One message; fds that came with it are closed. Returns bytes, 0 on EOF. */
static ssize_t procdom_recv(int fd, struct procdom_hc_req *req, bool *ret_bad)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} u;
	char spill[sizeof(*req) + 1];
	struct iovec iov = { spill, sizeof(spill) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;

	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	*ret_bad = n != sizeof(*req) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int *fds = (int *)CMSG_DATA(c);
			size_t i, nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < nfd; i++)
				close(fds[i]);
			*ret_bad = true;
		}
	}
	if (!*ret_bad)
		memcpy(req, spill, sizeof(*req));
	return n;
}

static int procdom_serve_boot(struct procdom_domain *d, unsigned int vcpu, uint32_t seq)
{
	if (vcpu != 0 || d->boot_waiting)
		return procdom_reply(d, vcpu, seq, -EINVAL, NULL);
	if (d->started)
		return procdom_reply(d, vcpu, seq, 0, NULL);
	d->boot_waiting = true;
	d->boot_seq = seq;
	return 0;
}

/* The port of a slow EVTCHNOP_send, read back from guest RAM (0: cannot). */
static evtchn_port_t procdom_send_port_of(struct procdom_domain *d, uint64_t gpa)
{
	const uint8_t *page = procdom_domain_ram(d, gpa / PROCDOM_PAGE_SIZE);
	evtchn_port_t port;

	if (!page || gpa % PROCDOM_PAGE_SIZE > PROCDOM_PAGE_SIZE - sizeof(port))
		return 0;
	memcpy(&port, page + gpa % PROCDOM_PAGE_SIZE, sizeof(port));
	return port;
}

/*
 * Keep the send tables true to the core (procdom_send.c) before the reply
 * completes the hypercall: a close is complete only once no table names
 * the port. Sends and unmasks change no binding; a slow send re-checks its
 * own entry (cheap, and a missing entry costs every later send a
 * hypercall). vCPU ops can move a vcpu_info out of shared_info.
 */
static void procdom_hc_after(struct procdom_domain *d, const struct procdom_hc_req *req)
{
	if (req->op == __HYPERVISOR_vcpu_op) {
		procdom_evtchn_changed(d->pd, d->domid);
		return;
	}
	if (req->op != __HYPERVISOR_event_channel_op)
		return;
	switch (req->args[0]) {
	case EVTCHNOP_send:
		d->pd->stats.slow_sends++;
		procdom_send_port_check(d, procdom_send_port_of(d, req->args[1]));
		break;
	case EVTCHNOP_unmask:
	case EVTCHNOP_status:
		break;
	default:
		procdom_evtchn_changed(d->pd, d->domid);
		break;
	}
}

int procdom_domain_serve(struct procdom_domain *d, unsigned int vcpu)
{
	struct procdom *pd = d->pd;
	struct procdom_hc_req req;
	struct hv_action_req act = { HV_ACT_NONE, 0 };
	bool bad = false;
	ssize_t n;
	long ret;

	if (vcpu >= d->max_vcpus || d->hc_fds[vcpu] < 0)
		return -EINVAL;
	n = procdom_recv(d->hc_fds[vcpu], &req, &bad);
	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		return n == 0 ? -EPIPE : (int)n;
	if (d->boot_early && vcpu == 0 && !bad && req.op == PROCDOM_HC_BOOT &&
	    req.seq == PROCDOM_BOOT_SEQ) {
		/* Its reply went at the first unpause. Not "seen" for the send
		 * tables: the runtime sent it before it read that reply, so it
		 * proves nothing about map changes the reply carried. */
		d->boot_early = false;
		return 0;
	}
	d->boot_early = false;
	procdom_send_request_seen(d, vcpu);
	if (bad) {
		procdom_log(pd, HV_LOG_WARN, "d%u v%u: malformed hypercall message (%zd bytes)",
			    d->domid, vcpu, n);
		procdom_reply(d, vcpu, 0, -EINVAL, NULL);
		return -EPROTO;
	}
	if (req.op == PROCDOM_HC_BOOT)
		return procdom_serve_boot(d, vcpu, req.seq);
	if (req.op == PROCDOM_HC_MAPS)
		return procdom_reply(d, vcpu, req.seq, 0, NULL);
	pd->stats.hypercalls++;
	ret = pd->hv ? hypercall(pd->hv, d->domid, vcpu, req.op, req.args, &act) : -ENOSYS;
	procdom_hc_after(d, &req);
	return procdom_reply(d, vcpu, req.seq, ret, &act);
}
