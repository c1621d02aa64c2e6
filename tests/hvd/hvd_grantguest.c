/*
 * A raw protocol guest for the grant tests (test_hvd_grants.c): no runtime,
 * the wire protocol of procdom_proto.h by hand, so what xenon-hvd sends is
 * seen exactly (map changes, their readonly flag, their fds).
 *
 *   hvd_grantguest PORT      (PORT: our end of a channel to dom0)
 *
 * At boot it places grant frame 0 at gfn max_pages + 1 (the map change
 * names the xen memfd offset), grants dom0 frames GG_FIRST_GFN.. with refs
 * GG_FIRST_REF.. (GG_NR_RW writable, then one read-only), fills them with
 * gg_pattern(), and sends on PORT. Then it serves commands the test writes
 * into its mailbox (RAM frame GG_MAILBOX_GFN, read through a foreign map),
 * each answered by setting `done = seq` and sending on PORT. A map also
 * probes the fd it came with (size, access mode, a writable mmap, the
 * test's needles searched through all of it): what a hostile domU could
 * reach of dom0 through a share.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/memory.h>

#include "hvd_grantguest.h"
#include "procdom_proto.h"

#define GG_ARG_GFN 1	  /* hypercall arguments */
#define GG_MAP_GFN_OFF 16 /* dom0's pages show at max_pages + this */

struct gg {
	int hc_fd, ram_fd, xen_fd;
	uint64_t max_pages;
	uint8_t *ram;
	uint32_t seq;
	evtchn_port_t port;
	/* the map change of the last hypercall, and its fd (-1: none) */
	struct procdom_map last_map;
	int last_fd;
	uint32_t nr_maps;
	/* dom0's page as we map it */
	uint8_t *dom0_page;
	bool dom0_ro;
	grant_handle_t handle;
};

static long gg_recv_reply(struct gg *g, uint32_t seq)
{
	uint8_t buf[sizeof(struct procdom_hc_rep) + PROCDOM_MAX_MAPS * sizeof(struct procdom_map)];
	char cbuf[CMSG_SPACE(sizeof(int) * PROCDOM_MAX_MAPS)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct procdom_hc_rep rep;
	struct cmsghdr *c;
	ssize_t n = recvmsg(g->hc_fd, &mh, 0);

	if (n < (ssize_t)sizeof(rep))
		return -EIO;
	if (g->last_fd >= 0)
		close(g->last_fd);
	g->last_fd = -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int *fds = (int *)CMSG_DATA(c);
		size_t i, k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (i = 0; i < k; i++) {
			if (g->last_fd < 0)
				g->last_fd = fds[i];
			else
				close(fds[i]);
		}
	}
	memcpy(&rep, buf, sizeof(rep));
	if (rep.seq != seq || rep.nr_maps > PROCDOM_MAX_MAPS ||
	    n != (ssize_t)(sizeof(rep) + rep.nr_maps * sizeof(struct procdom_map)))
		return -EPROTO;
	g->nr_maps = rep.nr_maps;
	memset(&g->last_map, 0, sizeof(g->last_map));
	if (rep.nr_maps)
		memcpy(&g->last_map, buf + sizeof(rep), sizeof(g->last_map));
	return (long)rep.ret;
}

static long gg_hc(struct gg *g, uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct procdom_hc_req req = { .op = op, .seq = ++g->seq, .args = { a0, a1, a2 } };

	if (send(g->hc_fd, &req, sizeof(req), 0) != sizeof(req))
		return -EIO;
	return gg_recv_reply(g, req.seq);
}

/* A hypercall whose argument struct sits at GG_ARG_GFN. */
static long gg_hc_arg(struct gg *g, uint32_t op, uint64_t cmd, void *arg, size_t len,
		      uint64_t count)
{
	uint8_t *p = g->ram + GG_ARG_GFN * PROCDOM_PAGE_SIZE;
	long rc;

	memcpy(p, arg, len);
	rc = op == __HYPERVISOR_grant_table_op
		     ? gg_hc(g, op, cmd, GG_ARG_GFN * PROCDOM_PAGE_SIZE, count)
		     : gg_hc(g, op, cmd, GG_ARG_GFN * PROCDOM_PAGE_SIZE, 0);
	memcpy(arg, p, len);
	return rc;
}

static long boot_num(const char *boot, const char *key)
{
	const char *p = strstr(boot, key);

	return p ? atol(p + strlen(key)) : -1;
}

static int gg_grants(struct gg *g)
{
	struct xen_add_to_physmap x = { .domid = DOMID_SELF,
					.space = XENMAPSPACE_grant_table,
					.idx = 0,
					.gpfn = g->max_pages + 1 };
	grant_entry_v1_t *e;
	unsigned int i, j;
	long rc = gg_hc_arg(g, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x, sizeof(x), 0);

	if (rc || g->nr_maps != 1 || g->last_map.kind != PROCDOM_MAP_XEN)
		return -EPROTO;
	e = mmap(NULL, PROCDOM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->xen_fd,
		 (off_t)g->last_map.offset);
	if (e == MAP_FAILED)
		return -errno;
	for (i = 0; i <= GG_NR_RW; i++) {
		uint8_t *page = g->ram + (GG_FIRST_GFN + i) * PROCDOM_PAGE_SIZE;

		for (j = 0; j < PROCDOM_PAGE_SIZE; j++)
			page[j] = gg_pattern(GG_FIRST_GFN + i, j);
		e[GG_FIRST_REF + i].domid = 0;
		e[GG_FIRST_REF + i].frame = GG_FIRST_GFN + i;
		__atomic_store_n(&e[GG_FIRST_REF + i].flags,
				 (uint16_t)(GTF_permit_access | (i == GG_NR_RW ? GTF_readonly : 0)),
				 __ATOMIC_RELEASE);
	}
	return 0;
}

static void gg_notify(struct gg *g)
{
	struct evtchn_send s = { .port = g->port };

	gg_hc_arg(g, __HYPERVISOR_event_channel_op, EVTCHNOP_send, &s, sizeof(s), 0);
}

/* How often each needle occurs in fd's contents, read whole. */
static void gg_scan(int fd, uint64_t size, struct gg_mailbox *box)
{
	static uint8_t buf[PROCDOM_PAGE_SIZE];
	uint64_t off;
	unsigned int k;

	for (k = 0; k < GG_NR_NEEDLES; k++)
		box->found[k] = size > GG_SCAN_MAX ? -EFBIG : 0;
	for (off = 0; size <= GG_SCAN_MAX && off < size; off += sizeof(buf)) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

		if (n <= 0)
			break;
		for (k = 0; k < GG_NR_NEEDLES; k++) {
			const uint8_t *at = buf, *end = buf + n;
			static const uint8_t zero[16];

			if (!memcmp(box->needle[k], zero, sizeof(zero)))
				continue;
			while ((at = memmem(at, (size_t)(end - at), box->needle[k], 16))) {
				box->found[k]++;
				at++;
			}
		}
	}
}

/* What the fd of the last map change lets us reach (the attacker's view). */
static void gg_probe_fd(struct gg *g, struct gg_mailbox *box)
{
	struct stat st;
	void *w;

	box->fd_size = fstat(g->last_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	box->map_offset = g->last_map.offset;
	box->fd_accmode = fcntl(g->last_fd, F_GETFL) & O_ACCMODE;
	w = mmap(NULL, PROCDOM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->last_fd, 0);
	box->fd_wmap = w == MAP_FAILED ? -errno : 0;
	if (w != MAP_FAILED)
		munmap(w, PROCDOM_PAGE_SIZE);
	gg_scan(g->last_fd, box->fd_size, box);
}

/* Map dom0's grant box->ref at max_pages + GG_MAP_GFN_OFF, as the reply says. */
static int gg_map_dom0(struct gg *g, struct gg_mailbox *box)
{
	uint64_t gfn = g->max_pages + GG_MAP_GFN_OFF;
	struct gnttab_map_grant_ref op = { .host_addr = gfn << 12,
					   .flags = GNTMAP_host_map |
						    (box->readonly ? GNTMAP_readonly : 0),
					   .ref = box->ref,
					   .dom = 0 };
	long rc = gg_hc_arg(g, __HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref, &op, sizeof(op),
			    1);
	void *p;

	if (rc || op.status != GNTST_okay)
		return rc ? (int)rc : op.status;
	if (g->nr_maps != 1 || g->last_map.kind != PROCDOM_MAP_FD || g->last_map.gfn != gfn ||
	    g->last_fd < 0)
		return -EPROTO;
	box->map_readonly = g->last_map.readonly;
	gg_probe_fd(g, box);
	p = mmap(NULL, PROCDOM_PAGE_SIZE, PROT_READ | (g->last_map.readonly ? 0 : PROT_WRITE),
		 MAP_SHARED, g->last_fd, (off_t)g->last_map.offset);
	if (p == MAP_FAILED)
		return -errno;
	g->dom0_page = p;
	g->handle = op.handle;
	memcpy(box->data, p, sizeof(box->data));
	if (!g->last_map.readonly)
		((uint8_t *)p)[GG_MARK_OFFSET] = GG_MARK;
	return 0;
}

static int gg_unmap_dom0(struct gg *g)
{
	struct gnttab_unmap_grant_ref op = { .host_addr = (g->max_pages + GG_MAP_GFN_OFF) << 12,
					     .handle = g->handle };
	long rc = gg_hc_arg(g, __HYPERVISOR_grant_table_op, GNTTABOP_unmap_grant_ref, &op,
			    sizeof(op), 1);

	if (g->dom0_page)
		munmap(g->dom0_page, PROCDOM_PAGE_SIZE);
	g->dom0_page = NULL;
	return rc ? (int)rc : op.status;
}

/* What a hostile domU would try on the read-only mapping, in a child: make
 * it writable (the memfd must refuse: it came O_RDONLY), then write. Its
 * signal; 0 if the write went through. */
static int gg_ro_write(struct gg *g)
{
	int status = 0;
	pid_t pid;

	if (!g->dom0_page)
		return -ENOENT;
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL); /* not a sanitizer's report: the fault */
		(void)mprotect(g->dom0_page, PROCDOM_PAGE_SIZE, PROT_READ | PROT_WRITE);
		((volatile uint8_t *)g->dom0_page)[0] = 1;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void gg_serve(struct gg *g, struct gg_mailbox *box)
{
	switch (box->cmd) {
	case GG_CMD_MAP:
		box->result = gg_map_dom0(g, box);
		break;
	case GG_CMD_UNMAP:
		box->result = gg_unmap_dom0(g);
		break;
	case GG_CMD_RO_WRITE:
		box->result = gg_ro_write(g);
		break;
	default:
		box->result = -EINVAL;
	}
	__atomic_store_n(&box->done, box->seq, __ATOMIC_RELEASE);
	gg_notify(g);
}

/* Commands until killed; a test that is gone leaves us spinning slowly
 * until xenon-hvd kills us (its death takes us with it). */
static void gg_loop(struct gg *g)
{
	struct gg_mailbox *box = (void *)(g->ram + GG_MAILBOX_GFN * PROCDOM_PAGE_SIZE);
	struct timespec ts = { 0, 200000 };

	for (;;) {
		uint32_t seq = __atomic_load_n(&box->seq, __ATOMIC_ACQUIRE);

		if (seq != box->done)
			gg_serve(g, box);
		else
			nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv)
{
	const char *boot = getenv(PROCDOM_BOOT_ENV);
	struct gg g = { .last_fd = -1 };
	long rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!boot || argc < 2)
		return 2;
	g.hc_fd = (int)boot_num(boot, " hc=");
	g.ram_fd = (int)boot_num(boot, " ram=");
	g.xen_fd = (int)boot_num(boot, " xen=");
	g.max_pages = (uint64_t)boot_num(boot, " max_pages=");
	g.port = (evtchn_port_t)atoi(argv[1]);
	g.ram = mmap(NULL, g.max_pages * PROCDOM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     g.ram_fd, 0);
	if (g.ram == MAP_FAILED)
		return 3;
	rc = gg_hc(&g, PROCDOM_HC_BOOT, 0, 0, 0);
	rc = rc ? rc : gg_grants(&g);
	printf("grantguest: boot and grants: %ld\n", rc);
	if (rc)
		return 4;
	gg_notify(&g);
	gg_loop(&g);
	return 0;
}
