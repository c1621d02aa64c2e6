/*
 * vchan-proxy-guest: the guest end of tests/vchan/vchan_proc.sh's
 * `xenon vchan-proxy` cases that need both directions moving at once,
 * which bench/proc_vchan_guest.c (one direction, then the other) cannot
 * give. Words of the kernel command line (the config's `extra`):
 *
 *   vpx.server | vpx.client   the role; the peer is dom0 (the proxy)
 *   vpx.id=N      the channel lives at /local/domain/SERVER/data/vchan/N
 *   vpx.order=O   server: both rings 2^O bytes (10..20, default 12)
 *   vpx.send=N    bytes to write: bench/proc_vchan_guest.c's pattern, seed 1
 *   vpx.recv=N    bytes to read, checked against the pattern of seed 2
 *   vpx.recv_after=N  read only once N bytes are sent (a peer busy writing)
 *   vpx.stay      then wait for the peer to close first
 *
 * It writes and reads at the same time (non-blocking calls; one wait when
 * neither moved) until both counts are done or the channel refuses, then
 * closes at once (or, with vpx.stay, once the peer has), all within
 * VPX_BOUND_NS. Lines it prints (the script greps them):
 *   vpx: pid P
 *   vpx: ready                            (offered, or connected)
 *   vpx: sent N of M (rc R)
 *   vpx: received N of M, ok | BAD at byte K (rc R)
 *   vpx: peer closed                      (vpx.stay)
 *   vpx: closed
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "guest_args.h"
#include "xen_vchan.h"

#include <xen/sched.h>

#define VPX_CHUNK 4096
#define VPX_WAIT_NS 100000000ULL      /* one wait when nothing moved */
#define VPX_BOUND_NS 25000000000ULL   /* the whole exchange */
#define VPX_CONNECT_NS 10000000000ULL /* a client waiting for the server */

struct vpx {
	struct vchan v;
	uint64_t want_tx, want_rx, tx, rx, bad, rx_after;
	long tx_rc, rx_rc; /* the call that ended a direction (< 0), or 0 */
	uint8_t buf[VPX_CHUNK];
};

static struct xenbus_guest xbg;
static struct vchan_guest vg;
static struct vpx run;

static uint8_t pat(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x >> 29;
	return (uint8_t)(x * 0xbf58476d1ce4e5b9ULL >> 56);
}

static void *vpx_alloc(void *ctx, unsigned int n)
{
	(void)ctx;
	return procdom_alloc_pages(n);
}

static size_t vpx_min(uint64_t left)
{
	return left < VPX_CHUNK ? (size_t)left : VPX_CHUNK;
}

/* Whatever fits of the next chunk; true if a byte moved. */
static bool vpx_send_some(struct vpx *r)
{
	size_t n = vpx_min(r->want_tx - r->tx);
	long k;

	for (size_t i = 0; i < n; i++)
		r->buf[i] = pat(1, r->tx + i);
	k = vchan_write(&r->v, r->buf, n);
	if (k < 0)
		r->tx_rc = k;
	else
		r->tx += (uint64_t)k;
	return k > 0;
}

static bool vpx_recv_some(struct vpx *r)
{
	long k = vchan_read(&r->v, r->buf, vpx_min(r->want_rx - r->rx));

	if (k < 0) {
		r->rx_rc = k;
		return false;
	}
	for (long i = 0; i < k && r->bad == UINT64_MAX; i++)
		if (r->buf[i] != pat(2, r->rx + (uint64_t)i))
			r->bad = r->rx + (uint64_t)i;
	r->rx += (uint64_t)k;
	return k > 0;
}

static bool vpx_tx_open(const struct vpx *r)
{
	return r->tx < r->want_tx && r->tx_rc == 0;
}

static bool vpx_rx_open(const struct vpx *r)
{
	return r->rx < r->want_rx && r->rx_rc == 0;
}

/* Reading may start: the bytes to send first are out, or sending is over. */
static bool vpx_rx_now(const struct vpx *r)
{
	return vpx_rx_open(r) && (r->tx >= r->rx_after || !vpx_tx_open(r));
}

static void vpx_exchange(struct vpx *r, uint64_t end)
{
	bool moved;

	r->v.blocking = false;
	while ((vpx_tx_open(r) || vpx_rx_open(r)) && procdom_now_ns() < end) {
		moved = vpx_tx_open(r) && vpx_send_some(r);
		moved = (vpx_rx_now(r) && vpx_recv_some(r)) || moved;
		/* A short call asked the peer for an event; a closed channel
		 * makes the next calls say so. */
		if (!moved)
			vchan_wait(&r->v, VPX_WAIT_NS);
	}
	printf("vpx: sent %llu of %llu (rc %ld)\n", (unsigned long long)r->tx,
	       (unsigned long long)r->want_tx, r->tx_rc);
	if (r->bad == UINT64_MAX)
		printf("vpx: received %llu of %llu, ok (rc %ld)\n", (unsigned long long)r->rx,
		       (unsigned long long)r->want_rx, r->rx_rc);
	else
		printf("vpx: received %llu of %llu, BAD at byte %llu (rc %ld)\n",
		       (unsigned long long)r->rx, (unsigned long long)r->want_rx,
		       (unsigned long long)r->bad, r->rx_rc);
}

static int vpx_open(struct vpx *r, const start_info_t *si)
{
	bool server = guest_flag(si, "vpx.server");
	unsigned long order = guest_arg(si, "vpx.order", 12);
	char path[VCHAN_PATH_MAX];
	int rc;

	if (order < 10 || order > 20)
		order = 12;
	snprintf(path, sizeof(path), "/local/domain/%u/data/vchan/%lu",
		 server ? procdom_domid() : 0, guest_arg(si, "vpx.id", 0));
	rc = gnttab_init(0, 4);
	if (rc == 0)
		rc = xenbus_init(&xbg);
	if (rc == 0) {
		xen_irq_enable();
		rc = vchan_guest_setup(&vg, xen_guest_current(), &xbg.xb, vpx_alloc, NULL, NULL);
	}
	if (rc == 0)
		rc = server ? vchan_server_init(&r->v, &vchan_guest_ops, &vg, 0, path,
						(size_t)1 << order, (size_t)1 << order)
			    : vchan_client_init(&r->v, &vchan_guest_ops, &vg, 0, path,
						VPX_CONNECT_NS);
	return rc;
}

void start_kernel(start_info_t *si)
{
	uint64_t end;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("vpx: pid %d\n", (int)getpid());
	run.want_tx = guest_arg(si, "vpx.send", 0);
	run.want_rx = guest_arg(si, "vpx.recv", 0);
	run.rx_after = guest_arg(si, "vpx.recv_after", 0);
	run.bad = UINT64_MAX;
	rc = vpx_open(&run, si);
	if (rc < 0) {
		printf("vpx: open failed: %d\n", rc);
		xen_shutdown(SHUTDOWN_crash);
		return;
	}
	printf("vpx: ready\n");
	end = procdom_now_ns() + VPX_BOUND_NS;
	vpx_exchange(&run, end);
	if (guest_flag(si, "vpx.stay")) {
		while (vchan_is_open(&run.v) && procdom_now_ns() < end)
			vchan_wait(&run.v, VPX_WAIT_NS);
		printf("vpx: peer %s\n", vchan_is_open(&run.v) ? "still open" : "closed");
	}
	vchan_close(&run.v);
	printf("vpx: closed\n");
	xen_shutdown(SHUTDOWN_poweroff);
}
