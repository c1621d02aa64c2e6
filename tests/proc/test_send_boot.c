/*
 * The early BOOT exception in the send tables' drop protocol
 * (procdom_domain_serve in substrate/proc/procdom_hc.c, "Slot reuse" in
 * procdom_send.c). When the first unpause comes before the runtime's
 * PROCDOM_HC_BOOT, xenon-hvd answers at the unpause (PROCDOM_BOOT_SEQ) and
 * consumes the request without a second reply when it arrives. That
 * request left the runtime before it read the answer, so it proves nothing
 * about the map changes the answer carried: it must not count as vCPU 0
 * being past a PEER_DROP that rode on the answer. Were it counted, the slot
 * would be FREE at once, and could be given to another peer while vCPU 0
 * may still have the old peer mapped there.
 *
 * Driven through procdom's entry points on the real core, in process. A
 * sender S (one vCPU) has a pre-bound channel to a peer P; both are marked
 * as having a process (`proc`, no pid: nothing is signalled) and the test
 * plays S's runtime on vCPU 0's hypercall socket, a socketpair whose other
 * end procdom serves. A drop can only ride on the early answer if a reply
 * went to S before it; here S asks PROCDOM_HC_MAPS before its BOOT (a
 * runtime may send anything at any time):
 *
 *   S's runtime                      procdom                 slot k (for P)
 *   MAPS  ------------------------>  reply: PEER_EVT k        MAPPED
 *                                    channel closed           DROP_QUEUED
 *                                    first unpause: BOOT's
 *                                    answer: PEER_DROP k      DROP_SENT {v0}
 *   BOOT (sent before reading) --->  consumed, no reply       DROP_SENT  <- here
 *   MAPS  ------------------------>  v0 is past the drop      FREE
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "procdom_fixture.h"

#define S 1	    /* the sender */
#define P 2	    /* its peer */
#define S_PORT 10   /* S's end of the channel */
#define P_PORT 20   /* P's end */
#define NR_PAGES 64 /* each domain's RAM */
#define ARG_GFN 1   /* where a hypercall's argument is put in S's RAM */

static struct procdom *pd;
static struct hypervisor *hv;
static struct procdom_domain *doms[3];
static int rt_fd = -1; /* S's runtime's end of vCPU 0's socket */

static void make_domain(domid_t domid, const struct hv_domain_config *tmpl)
{
	doms[domid] = pdf_domain(pd, hv, domid, tmpl, NR_PAGES);
}

/* P first; S, created with P's port reserved for it and bound to its
 * own; S gets its socket. */
static void setup(void)
{
	static const struct procdom_hooks hooks = { .local_kick = pdf_no_kick, .log = pdf_log };
	static struct hv_domain_config cfg;
	int sv[2];

	cr_assert_eq(procdom_create(&hooks, &pd), 0);
	hv = hv_create(&procdom_substrate_ops, pd, NULL);
	cr_assert_not_null(hv);
	procdom_attach(pd, hv);
	hv_domain_config_defaults(&cfg);
	make_domain(P, &cfg);
	cfg.nr_reserve = cfg.nr_bind = 1;
	cfg.reserve[0] = (struct hv_evtchn_reserve){ P, P_PORT, S };
	cfg.bind[0] = (struct hv_evtchn_bind){ S_PORT, P, P_PORT };
	make_domain(S, &cfg);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	doms[S]->hc_fds[0] = sv[0]; /* procdom's end, closed at release */
	rt_fd = sv[1];
}

static void teardown(void)
{
	for (domid_t id = S; id <= P; id++) {
		domain_destroy(hv, id);
		procdom_domain_release(doms[id]);
	}
	hv_destroy(hv);
	procdom_attach(pd, NULL);
	procdom_destroy(pd);
	close(rt_fd);
}

TestSuite(send_boot, .init = setup, .fini = teardown);

/* ---- S's runtime ---- */

static void rt_request(uint32_t op, uint32_t seq, const uint64_t args[5])
{
	struct procdom_hc_req req = { .op = op, .seq = seq };

	if (args)
		memcpy(req.args, args, sizeof(req.args));
	cr_assert_eq(send(rt_fd, &req, sizeof(req), 0), (ssize_t)sizeof(req));
}

struct reply {
	struct procdom_hc_rep rep;
	struct procdom_map maps[PROCDOM_MAX_MAPS];
};

/* The reply waiting on the socket, its fds closed; false if there is none. */
static bool rt_reply(struct reply *r)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * PROCDOM_MAX_MAPS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { r, sizeof(*r) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	n = recvmsg(rt_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == EAGAIN)
		return false;
	cr_assert_geq(n, (ssize_t)sizeof(r->rep), "reply: %zd", n);
	cr_assert_eq((size_t)n, sizeof(r->rep) + r->rep.nr_maps * sizeof(r->maps[0]));
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			close(((int *)CMSG_DATA(c))[i]);
	return true;
}

/* The reply carries a change of kind for slot k. */
static bool carries(const struct reply *r, uint32_t kind, unsigned int k)
{
	for (uint32_t i = 0; i < r->rep.nr_maps; i++)
		if (r->maps[i].kind == kind && r->maps[i].gfn == k)
			return true;
	return false;
}

/* procdom serves what S sent on vCPU 0. */
static void serve(void)
{
	cr_assert_eq(procdom_domain_serve(doms[S], 0), 0);
}

/* S closes its end of the channel: EVTCHNOP_close, its argument in S's
 * RAM, straight into the core; then what xenon-hvd does after it. */
static void close_channel(void)
{
	struct evtchn_close cl = { .port = S_PORT };
	uint64_t args[5] = { EVTCHNOP_close, ARG_GFN * PROCDOM_PAGE_SIZE };

	memcpy(procdom_domain_ram(doms[S], ARG_GFN), &cl, sizeof(cl));
	cr_assert_eq(hypercall(hv, S, 0, __HYPERVISOR_event_channel_op, args, NULL), 0);
	procdom_evtchn_changed(pd, S);
}

static uint8_t slot_state(unsigned int k)
{
	return doms[S]->send->slot[k].state;
}

Test(send_boot, consumed_early_boot_is_not_past_the_drop_it_answered)
{
	struct reply r;
	unsigned int k;

	/* S's table wants P: slot k, whose PEER_EVT waits for a reply. */
	procdom_evtchn_changed(pd, S);
	cr_assert_not_null(doms[S]->send);
	k = doms[S]->send->want[S_PORT].slot;
	cr_assert_neq(k, 0);
	cr_assert_eq(slot_state(k), PROCDOM_SLOT_MAP_QUEUED);

	rt_request(PROCDOM_HC_MAPS, 7, NULL);
	serve();
	cr_assert(rt_reply(&r));
	cr_assert_eq(r.rep.seq, 7);
	cr_assert(carries(&r, PROCDOM_MAP_PEER_EVT, k));
	cr_assert_eq(slot_state(k), PROCDOM_SLOT_MAPPED);

	close_channel();
	cr_assert_eq(doms[S]->send->want[S_PORT].slot, 0);
	cr_assert_eq(slot_state(k), PROCDOM_SLOT_DROP_QUEUED);

	/* The first unpause, before BOOT arrived: answered now, with the drop. */
	procdom_domain_start(doms[S]);
	cr_assert(rt_reply(&r));
	cr_assert_eq(r.rep.seq, PROCDOM_BOOT_SEQ);
	cr_assert(carries(&r, PROCDOM_MAP_PEER_DROP, k));
	cr_assert_eq(slot_state(k), PROCDOM_SLOT_DROP_SENT);

	/* BOOT, sent before that answer was read: consumed, no reply, and
	 * not proof that vCPU 0 applied the drop. */
	rt_request(PROCDOM_HC_BOOT, PROCDOM_BOOT_SEQ, NULL);
	serve();
	cr_assert_not(rt_reply(&r), "BOOT was answered already");
	cr_assert_eq(slot_state(k), PROCDOM_SLOT_DROP_SENT,
		     "slot %u free on a request sent before the drop was read", k);

	/* The next request was sent after the answer was applied. */
	rt_request(PROCDOM_HC_MAPS, 8, NULL);
	serve();
	cr_assert(rt_reply(&r));
	cr_assert_eq(r.rep.seq, 8);
	cr_assert_eq(slot_state(k), PROCDOM_SLOT_FREE);
	cr_assert_eq(doms[S]->send->nr_drops_sent, 0);
}

/* Only the one BOOT is consumed: a second is an ordinary request, and
 * counts (it was sent after the runtime read the early answer). */
Test(send_boot, only_the_first_boot_is_consumed)
{
	struct reply r;

	procdom_domain_start(doms[S]);
	cr_assert(rt_reply(&r));
	cr_assert_eq(r.rep.seq, PROCDOM_BOOT_SEQ);
	rt_request(PROCDOM_HC_BOOT, PROCDOM_BOOT_SEQ, NULL);
	serve();
	cr_assert_not(rt_reply(&r));
	rt_request(PROCDOM_HC_BOOT, 2, NULL);
	serve();
	cr_assert(rt_reply(&r), "a second BOOT is answered");
	cr_assert_eq(r.rep.seq, 2);
}
