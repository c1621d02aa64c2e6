/*
 * The platform's hypercall: one struct procdom_hc_req on the vCPU's socket,
 * one reply (struct procdom_hc_rep + map changes + fds), the map changes
 * applied, then the action carried out here (procdom_proto.h section 3):
 *
 *   guest code ─ xg_* ─> rt_hypercall(vcpu, op, args)
 *                          │ fast: EVTCHNOP_send with a send-table entry
 *                          │       SCHEDOP_block (local wait, same effect)
 *                          │       SCHEDOP_poll when exact (rt_poll.c)
 *                          │       XENVER_version (a constant, cached)
 *                          │ slow: send req ──> xenon-hvd ──> reply
 *                          │       check reply, apply maps, close fds
 *                          │       action: YIELD / BLOCK / POLL / SHUTDOWN
 *                          └─ rt_deliver(): pending, unmasked upcall runs
 *
 * A reply that breaks the protocol (size, seq, counts, kinds, bounds)
 * changes nothing and the call returns -EIO; the first such reply is
 * logged. A closed socket means xenon-hvd is gone: the domain is dead and
 * the process exits with status 1.
 */
#include "rt_internal.h"
#include "hypervisor.h" /* enum hv_action: the reply's action */

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

#define RT_REPLY_MAX (sizeof(struct procdom_hc_rep) + PROCDOM_MAX_MAPS * sizeof(struct procdom_map))

unsigned int rt_current_vcpu(void *ctx)
{
	struct procdom_vcpu *v = rt_self();

	(void)ctx;
	return v ? v->id : 0;
}

void *rt_bounce(void *ctx, unsigned int vcpu, size_t *ret_len)
{
	struct procdom_rt *rt = ctx;

	if (vcpu >= rt->boot.nr_vcpus)
		return NULL;
	*ret_len = RT_BOUNCE_PAGES * RT_PAGE_SIZE;
	return rt->base + (1 + 2ULL * RT_BOUNCE_PAGES * vcpu) * RT_PAGE_SIZE;
}

/* Async-signal-safe: may run from an upcall signal. */
void rt_log_bad_reply(struct procdom_rt *rt, const char *what)
{
	char line[RT_ERR_LEN + 64];
	int n;

	rt_stat_inc(&rt->stats.bad_replies);
	if (__atomic_exchange_n(&rt->bad_reply_logged, true, __ATOMIC_RELAXED))
		return;
	n = snprintf(line, sizeof(line), "xenon-rt: bad hypercall reply from xenon-hvd: %s\n",
		     what);
	if (n > 0)
		(void)!write(STDERR_FILENO, line,
			     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
}

int rt_reply_check(const struct procdom_rt *rt, const void *buf, size_t len, uint32_t seq,
		   unsigned int nr_fds, const struct procdom_hc_rep **ret_rep,
		   const struct procdom_map **ret_maps, char *err, size_t errlen)
{
	const struct procdom_hc_rep *rep = buf;

	if (len < sizeof(*rep)) {
		snprintf(err, errlen, "%zu bytes, shorter than the header", len);
		return -EPROTO;
	}
	if (rep->seq != seq) {
		snprintf(err, errlen, "seq %u, expected %u", rep->seq, seq);
		return -EPROTO;
	}
	if (rep->nr_maps > PROCDOM_MAX_MAPS ||
	    len != sizeof(*rep) + rep->nr_maps * sizeof(struct procdom_map)) {
		snprintf(err, errlen, "%zu bytes for %u map changes", len, rep->nr_maps);
		return -EPROTO;
	}
	if (rep->action > HV_ACT_SHUTDOWN) {
		snprintf(err, errlen, "unknown action %u", rep->action);
		return -EPROTO;
	}
	*ret_rep = rep;
	*ret_maps = (const struct procdom_map *)(rep + 1);
	return rt_maps_validate(rt, *ret_maps, rep->nr_maps, nr_fds, err, errlen);
}

/* ---- socket I/O ---------------------------------------------------- */

static int rt_send_req(struct procdom_vcpu *v, const struct procdom_hc_req *req)
{
	ssize_t n;

	do {
		n = send(v->hc_fd, req, sizeof(*req), MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*req) ? 0 : -EPIPE;
}

/*
 * Wait for the reply spinning first, then asleep. xenon-hvd answers every
 * request at once (only PROCDOM_HC_BOOT waits, for the first unpause), so
 * the reply usually comes within the time xenon-hvd takes to wake up and
 * run; a vCPU asleep in recvmsg adds its own wake-up to that -- on this
 * kind of VM a CPU that went idle takes tens of microseconds to wake
 * (floors.md) -- once per hypercall. Boot makes several in a row (bench-
 * proc-create). The spin offers the CPU after every look (xenon-hvd may be
 * waiting for this very CPU) and is bounded; the blocking recvmsg after it
 * is the same as before.
 */
#define RT_HC_SPIN_NS 50000ULL

static ssize_t rt_recvmsg_spin(int fd, struct msghdr *msg, void *ctl, size_t ctl_len)
{
	uint64_t start = 0;
	ssize_t n;

	for (;;) {
		msg->msg_control = ctl;
		msg->msg_controllen = ctl_len;
		n = recvmsg(fd, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			return n;
		if (start == 0)
			start = rt_now_ns();
		else if (rt_now_ns() - start >= RT_HC_SPIN_NS)
			break;
		sched_yield();
	}
	do {
		msg->msg_control = ctl;
		msg->msg_controllen = ctl_len;
		n = recvmsg(fd, msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	return n;
}

/* Receive one reply; fds land in fds[] (count in *ret_nr_fds). */
static ssize_t rt_recv_rep(struct procdom_vcpu *v, void *buf, int *fds, unsigned int *ret_nr_fds,
			   bool *ret_trunc)
{
	union {
		char buf[CMSG_SPACE(PROCDOM_MAX_MAPS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = RT_REPLY_MAX };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	*ret_nr_fds = 0;
	n = rt_recvmsg_spin(v->hc_fd, &msg, ctl.buf, sizeof(ctl.buf));
	if (n <= 0)
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t k, nr;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nr = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < nr && *ret_nr_fds < PROCDOM_MAX_MAPS; k++)
			memcpy(&fds[(*ret_nr_fds)++], CMSG_DATA(c) + k * sizeof(int), sizeof(int));
	}
	*ret_trunc = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	return n;
}

static void rt_close_fds(const int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* ---- actions ------------------------------------------------------- */

static bool rt_cond_upcall(void *arg)
{
	struct vcpu_info *vi = arg;

	return __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST);
}

static void rt_wait_vcpu(struct procdom_vcpu *v, rt_cond_fn cond, void *arg, uint64_t deadline,
			 uint64_t spin_ns)
{
	bool slept;

	rt_wait(&v->page->base, cond, arg, deadline, spin_ns, &slept);
	if (slept)
		rt_stat_inc(&v->rt->stats.sleeps);
}

/* SCHEDOP_poll that xenon-hvd recorded (it checked every port, so each
 * exists; any beyond the 2-level bitmap are dropped all the same): wait
 * for rt_poll_ready. No spin if the local poll just spun (rt_poll.c). */
static void rt_act_poll(struct procdom_vcpu *v, const uint64_t args[5], uint64_t deadline)
{
	struct procdom_rt *rt = v->rt;
	struct rt_poll p = { .s = rt->guest->shared_info, .vi = rt->guest->vcpu[v->id].vcpu_info };
	uint64_t timeout;
	unsigned int i, k = 0;
	bool spun = v->poll_spun;

	v->poll_spun = false;
	if (rt_poll_read(rt, args[1], &p, &timeout) <= 0)
		p.nr = 0;
	for (i = 0; i < p.nr; i++) {
		if (p.ports[i] < XG_NR_EVTCHNS)
			p.ports[k++] = p.ports[i];
	}
	p.nr = k;
	rt_poll_learn_all(rt, &p);
	rt_wait_vcpu(v, rt_poll_ready, &p, deadline, spun ? 0 : RT_SPIN_NS);
}

/* The shutdown reason: from the guest's own request when it made one, else
 * from the reply (deadline_ns = reason + 1, procdom_proto.h (e)), else 0. */
static int rt_shutdown_reason(struct procdom_rt *rt, unsigned long op, const uint64_t args[5],
			      const struct procdom_hc_rep *rep)
{
	if (op == __HYPERVISOR_sched_op && args[0] == SCHEDOP_shutdown) {
		const struct sched_shutdown *s = rt_gpa_range(rt, args[1], sizeof(*s));

		if (s && s->reason <= SHUTDOWN_MAX)
			return (int)s->reason;
	}
	if (op == __HYPERVISOR_sched_op && args[0] == SCHEDOP_remote_shutdown) {
		const struct sched_remote_shutdown *s = rt_gpa_range(rt, args[1], sizeof(*s));

		if (s && s->reason <= SHUTDOWN_MAX)
			return (int)s->reason;
	}
	if (rep->deadline_ns >= 1 && rep->deadline_ns <= SHUTDOWN_MAX + 1)
		return (int)(rep->deadline_ns - 1);
	return SHUTDOWN_poweroff;
}

static void rt_act(struct procdom_vcpu *v, unsigned long op, const uint64_t args[5],
		   const struct procdom_hc_rep *rep)
{
	switch (rep->action) {
	case HV_ACT_YIELD:
		sched_yield();
		break;
	case HV_ACT_BLOCK:
		rt_wait_vcpu(v, rt_cond_upcall, v->rt->guest->vcpu[v->id].vcpu_info,
			     rep->deadline_ns, RT_SPIN_NS);
		break;
	case HV_ACT_POLL:
		rt_act_poll(v, args, rep->deadline_ns);
		break;
	case HV_ACT_SHUTDOWN:
		rt_vcpu_detach(v);
		rt_exit(rt_shutdown_reason(v->rt, op, args, rep));
	default:
		break;
	}
}

/* ---- the slow path ------------------------------------------------- */

#define RT_MORE_MAPS_MAX 4096 /* PROCDOM_HC_MAPS rounds after one reply */

static __attribute__((noreturn)) void rt_hvd_gone(void)
{
	static const char msg[] = "xenon-rt: hypercall socket closed: xenon-hvd is gone\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	rt_exit(1);
}

/* One request and its reply, map changes applied; *ret_rep = the header.
 * 0, or -EIO for a reply that breaks the protocol (logged once). */
static int rt_roundtrip(struct procdom_vcpu *v, uint32_t op, const uint64_t args[5],
			struct procdom_hc_rep *ret_rep)
{
	struct procdom_hc_req req = { .op = op, .seq = ++v->seq };
	uint64_t buf[RT_REPLY_MAX / sizeof(uint64_t) + 1];
	const struct procdom_hc_rep *rep;
	const struct procdom_map *maps;
	int fds[PROCDOM_MAX_MAPS];
	unsigned int nr_fds = 0;
	char err[RT_ERR_LEN] = "truncated datagram or control data";
	bool trunc = false;
	ssize_t n;
	int rc;

	if (args)
		memcpy(req.args, args, sizeof(req.args));
	rt_stat_inc(&v->rt->stats.hypercalls);
	if (rt_send_req(v, &req) < 0 || (n = rt_recv_rep(v, buf, fds, &nr_fds, &trunc)) < 0)
		rt_hvd_gone();
	rc = trunc ? -EPROTO
		   : rt_reply_check(v->rt, buf, (size_t)n, req.seq, nr_fds, &rep, &maps, err,
				    sizeof(err));
	if (rc == 0 && rt_maps_apply(v->rt, maps, rep->nr_maps, fds) < 0) {
		snprintf(err, sizeof(err), "mmap of a map change failed");
		rc = -EPROTO;
	}
	rt_close_fds(fds, nr_fds);
	if (rc < 0) {
		rt_log_bad_reply(v->rt, err);
		return -EIO;
	}
	*ret_rep = *rep;
	return 0;
}

/* PROCDOM_REP_MORE_MAPS: fetch the rest before the caller sees memory. */
static int rt_more_maps(struct procdom_vcpu *v, uint32_t flags)
{
	struct procdom_hc_rep rep;
	unsigned int i;

	for (i = 0; (flags & PROCDOM_REP_MORE_MAPS) && i < RT_MORE_MAPS_MAX; i++) {
		if (rt_roundtrip(v, PROCDOM_HC_MAPS, NULL, &rep) < 0)
			return -EIO;
		flags = rep.flags;
	}
	if (flags & PROCDOM_REP_MORE_MAPS) {
		rt_log_bad_reply(v->rt, "map changes never end");
		return -EIO;
	}
	return 0;
}

static long rt_hypercall_slow(struct procdom_vcpu *v, unsigned long op, const uint64_t args[5])
{
	struct procdom_hc_rep rep;

	if (op > UINT32_MAX || (uint32_t)op == PROCDOM_HC_BOOT || (uint32_t)op == PROCDOM_HC_MAPS)
		return -ENOSYS; /* the runtime's own pseudo-hypercalls */
	if (rt_roundtrip(v, (uint32_t)op, args, &rep) < 0 || rt_more_maps(v, rep.flags) < 0) {
		v->poll_spun = false;
		return -EIO;
	}
	rt_act(v, op, args, &rep);
	v->poll_spun = false; /* only ever for the poll that set it */
	if (op == __HYPERVISOR_xen_version && args[0] == XENVER_version && rep.ret > 0)
		__atomic_store_n(&v->rt->xen_version, (long)rep.ret, __ATOMIC_RELAXED);
	return (long)rep.ret;
}

int rt_hc_boot(struct procdom_vcpu *v)
{
	struct procdom_hc_rep rep;

	/* The first request on vCPU 0's socket: xenon-hvd may have answered
	 * it already, under this seq (procdom_proto.h). */
	if (v->seq != PROCDOM_BOOT_SEQ - 1)
		return -EPROTO;

	if (rt_roundtrip(v, PROCDOM_HC_BOOT, NULL, &rep) < 0 || rt_more_maps(v, rep.flags) < 0)
		return -EIO;
	return rep.ret < 0 ? (int)rep.ret : 0;
}

/* ---- the fast paths ------------------------------------------------ */

/* The core's hc_vcpu_op answers -ENOENT for a vCPU the domain does not
 * have before it looks at the command, and a domain's vCPUs are fixed at
 * creation (XENON_BOOT's vcpus=): the guest library's VCPUOP_is_up count
 * of its vCPUs ends here without a round trip. */
bool rt_vcpu_op_local(const struct procdom_rt *rt, unsigned long op, const uint64_t args[5],
		      long *ret)
{
	if (!rt->fast || op != __HYPERVISOR_vcpu_op || args[1] < rt->boot.nr_vcpus)
		return false;
	*ret = -ENOENT;
	return true;
}

/* 1 with *ret set if carried out locally, 0 to take the socket. */
static int rt_hypercall_fast(struct procdom_vcpu *v, unsigned long op, const uint64_t args[5],
			     long *ret)
{
	struct procdom_rt *rt = v->rt;

	if (rt_vcpu_op_local(rt, op, args, ret))
		return 1;
	if (!rt->fast || !rt->guest || !rt->guest->ready)
		return 0;
	if (op == __HYPERVISOR_event_channel_op && args[0] == EVTCHNOP_send) {
		const struct evtchn_send *s = rt_gpa_range(rt, args[1], sizeof(*s));

		if (!s || !rt_fast_send(rt, v, s->port))
			return 0;
		rt_stat_inc(&rt->stats.fast_sends);
		*ret = 0;
		return 1;
	}
	if (op == __HYPERVISOR_sched_op && args[0] == SCHEDOP_poll)
		return rt_poll_local(v, args, ret);
	if (op == __HYPERVISOR_xen_version && args[0] == XENVER_version) {
		/* A constant of the core, learnt from its first answer: the
		 * library's xg_force_evtchn_callback() issues it only to have
		 * an upcall delivered on the way back (below, rt_deliver). */
		*ret = __atomic_load_n(&rt->xen_version, __ATOMIC_RELAXED);
		return *ret > 0;
	}
	if (op == __HYPERVISOR_sched_op && args[0] == SCHEDOP_block) {
		/* The core's hc_sched_block, done here: enable delivery, then
		 * sleep only if nothing is pending. A wake comes from the
		 * state word like any other (xenon-hvd's kick, a peer). */
		struct vcpu_info *vi = rt->guest->vcpu[v->id].vcpu_info;
		uint32_t *state = &v->page->base.state;

		/* Called with delivery disabled (as Linux and Mini-OS block):
		 * spin first with the mask still set and the state word left
		 * RUNNING. No waker signals a masked vCPU or wakes a RUNNING
		 * one, so the event's path carries no store of ours to wait
		 * for: a sender reads a state line it already holds. Seen:
		 * the upcall runs on the way out with the mask as it is
		 * (rt_deliver, upcall_held), which then clears it -- the
		 * guest leaves SCHEDOP_block with delivery enabled, as from
		 * Xen's. Not seen within the spin: the protocol below. */
		bool quiet = __atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_RELAXED);

		if (quiet &&
		    rt_wait_spin(&v->page->base, rt_cond_upcall, vi, RT_SPIN_NS, 0, false, true)) {
			rt_upcall_prefetch_lines(&v->page->base);
			v->upcall_held = true;
			rt_stat_inc(&rt->stats.local_blocks);
			*ret = 0;
			return 1;
		}
		/* POLLING before delivery is enabled: a sender that sees the
		 * mask clear then sees POLLING (stores are seen in order), not
		 * RUNNING, and sends no signal we would ignore here. rt_wait
		 * keeps it; delivering at once needs RUNNING back first (a
		 * handler may send: procdom_send.c's slot reuse). */
		__atomic_store_n(state, PROCDOM_VCPU_POLLING, __ATOMIC_RELEASE);
		__atomic_store_n(&vi->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
		if (!rt_cond_upcall(vi))
			rt_wait_vcpu(v, rt_cond_upcall, vi, 0, quiet ? 0 : RT_SPIN_NS);
		else
			__atomic_store_n(state, PROCDOM_VCPU_RUNNING, __ATOMIC_SEQ_CST);
		rt_stat_inc(&rt->stats.local_blocks);
		*ret = 0;
		return 1;
	}
	return 0;
}

/* The platform's evtchn_send hook (xen_guest.h): rt_hypercall's fast
 * EVTCHNOP_send without the argument's round trip through guest-physical
 * addresses, and the same delivery on the way out. */
bool rt_evtchn_send(void *ctx, unsigned int vcpu, evtchn_port_t port)
{
	struct procdom_rt *rt = ctx;
	struct procdom_vcpu *v = rt_self();
	int done;

	if (!v || v->rt != rt || v->id != vcpu || !rt->fast || !rt->guest || !rt->guest->ready)
		return false;
	v->in_runtime++;
	done = rt_fast_send(rt, v, port);
	v->in_runtime--;
	if (!done)
		return false;
	rt_stat_inc(&rt->stats.fast_sends);
	rt_deliver(v);
	return true;
}

long rt_hypercall(void *ctx, unsigned int vcpu, unsigned long op, const uint64_t args[5])
{
	struct procdom_rt *rt = ctx;
	struct procdom_vcpu *v = rt_self();
	long ret;

	/* Each vCPU thread speaks only on its own socket. */
	if (!v || v->rt != rt || v->id != vcpu)
		return -EINVAL;
	v->in_runtime++;
	if (!rt_hypercall_fast(v, op, args, &ret))
		ret = rt_hypercall_slow(v, op, args);
	v->in_runtime--;
	rt_deliver(v);
	return ret;
}
