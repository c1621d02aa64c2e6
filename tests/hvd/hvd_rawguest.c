/*
 * A raw protocol guest for xenon-hvd tests: no guest library, no runtime,
 * only the wire protocol of procdom_proto.h spoken by hand, so the daemon's
 * side can be tested on its own.
 *
 *   hvd_rawguest SEND_PORT [late]
 *
 * Reads XENON_BOOT, checks the inherited fds, sends PROCDOM_HC_BOOT on vCPU
 * 0 (answered at the first unpause, with the shared_info map change), asks
 * xen_version, sends an event on SEND_PORT (a channel pre-bound at
 * creation), prints what it saw, then SCHEDOP_blocks and waits to be killed.
 * With "late" it first waits (bounded) for the BOOT reply xenon-hvd sends
 * at the first unpause before being asked, then asks: it must get that
 * reply, and the next hypercall its own (the request consumed without a
 * second reply); otherwise it sends no event and exits 3.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/sched.h>
#include <xen/version.h>

#include "procdom_proto.h"

static int hc_fd = -1;
static uint32_t seq;

static long raw_hypercall(uint32_t op, uint64_t a0, uint64_t a1, uint32_t *ret_nr_maps,
			  uint32_t *ret_action)
{
	struct procdom_hc_req req = { .op = op, .seq = ++seq, .args = { a0, a1 } };
	uint8_t buf[sizeof(struct procdom_hc_rep) + PROCDOM_MAX_MAPS * sizeof(struct procdom_map)];
	char cbuf[CMSG_SPACE(sizeof(int) * PROCDOM_MAX_MAPS)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct procdom_hc_rep rep;
	struct cmsghdr *c;
	ssize_t n;

	if (send(hc_fd, &req, sizeof(req), 0) != sizeof(req))
		return -EIO;
	n = recvmsg(hc_fd, &mh, 0);
	if (n < (ssize_t)sizeof(rep))
		return -EIO;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int *fds = (int *)CMSG_DATA(c);
		size_t i, k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (i = 0; i < k; i++)
			close(fds[i]);
	}
	memcpy(&rep, buf, sizeof(rep));
	if (rep.seq != req.seq ||
	    n != (ssize_t)(sizeof(rep) + rep.nr_maps * sizeof(struct procdom_map)))
		return -EPROTO;
	if (ret_nr_maps)
		*ret_nr_maps = rep.nr_maps;
	if (ret_action)
		*ret_action = rep.action;
	return (long)rep.ret;
}

/* hc=A,B: the first one is vCPU 0's. */
static int boot_hc_fd(const char *boot)
{
	const char *p = strstr(boot, " hc=");

	return p ? atoi(p + 4) : -1;
}

int main(int argc, char **argv)
{
	const char *boot = getenv(PROCDOM_BOOT_ENV);
	uint32_t maps = 0, action = 0;
	struct evtchn_send send;
	long ver, rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!boot || argc < 2) {
		printf("rawguest: no %s or no port\n", PROCDOM_BOOT_ENV);
		return 2;
	}
	printf("rawguest: boot '%s'\n", boot);
	hc_fd = boot_hc_fd(boot);
	if (argc > 2 && strcmp(argv[2], "late") == 0) {
		struct pollfd pfd = { .fd = hc_fd, .events = POLLIN };

		if (poll(&pfd, 1, 10000) != 1) {
			printf("rawguest: no BOOT reply before asking\n");
			return 3;
		}
		printf("rawguest: BOOT reply waiting before asking\n");
	}
	rc = raw_hypercall(PROCDOM_HC_BOOT, 0, 0, &maps, NULL);
	printf("rawguest: boot reply %ld, %u map changes\n", rc, maps);
	ver = raw_hypercall(__HYPERVISOR_xen_version, XENVER_version, 0, NULL, NULL);
	printf("rawguest: xen_version %ld.%ld\n", ver >> 16, ver & 0xffff);
	if (rc != 0 || maps == 0 || ver <= 0)
		return 3;
	/* The argument is guest-physical: put it in RAM frame 1 of our own
	 * memfd? We have no mapping here, so use the ram fd directly. */
	send.port = (evtchn_port_t)atoi(argv[1]);
	{
		const char *p = strstr(boot, " ram=");
		int ram = p ? atoi(p + 5) : -1;

		if (pwrite(ram, &send, sizeof(send), 4096) != sizeof(send))
			printf("rawguest: cannot write to ram\n");
	}
	rc = raw_hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_send, 4096, NULL, NULL);
	printf("rawguest: send port %u: %ld\n", send.port, rc);
	rc = raw_hypercall(__HYPERVISOR_sched_op, SCHEDOP_block, 0, NULL, &action);
	printf("rawguest: block %ld action %u; waiting to be killed\n", rc, action);
	for (;;)
		pause();
}
