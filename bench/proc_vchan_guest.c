/*
 * vchan-guest: one end of a vchan (guest/xen_vchan.h) in a process domain,
 * for tests/vchan/vchan_proc.sh and bench/proc_vchan_bench.c. Parameters
 * are words of the kernel command line (the config's `extra`):
 *
 *   vchan.server | vchan.client | vchan.self   the role (self: both ends in
 *                                              this domain, one vCPU, turns)
 *   vchan.peer=D        the other domain (server: who may connect)
 *   vchan.id=N          the channel lives at /local/domain/SERVER/data/vchan/N
 *   vchan.order=O       ring order for both rings (10..20; default 20)
 *   vchan.bytes=N       bytes the client streams to the server (default 8 MiB)
 *   vchan.chunk=N       bytes per write call (default 65536)
 *   vchan.bidir         then the server streams the same amount back
 *   vchan.seed=S        the byte pattern's seed
 *   vchan.raw           no pattern, no check: the benchmark's pure stream
 *   vchan.reps=R        stream R times (one line per repetition)
 *   vchan.pingpong=N    instead: N 1-byte round trips, client-timed
 *   vchan.linger_ms=N   after close, print the leak check and stay N ms
 *
 * Every byte received is checked against the seeded pattern. Lines it
 * prints (the scripts grep them):
 *   vchan: pid P role R
 *   vchan: connected
 *   vchan: sent N bytes in T ns
 *   vchan: received N bytes in T ns, ok | BAD at byte K
 *   vchan: rtt median N ns (min .., max ..) over N
 *   vchan: peer closed after N bytes (rc)
 *   vchan: after close: ports_open N grants_in_use N
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "guest_args.h"
#include "xen_vchan.h"

#include <xen/sched.h>

#define VG_POOL 8
#define VG_GNT_FRAMES 4
#define VG_MAX_BUF (1 << 20)

/* Shared ring pages come from guest RAM, which procdom_alloc_pages never
 * takes back: keep freed blocks for the next channel of the same size. */
struct pool_block {
	void *p;
	unsigned int n;
	bool used;
};
static struct pool_block pool[VG_POOL];

static void *pool_alloc(void *ctx, unsigned int n)
{
	(void)ctx;
	for (int i = 0; i < VG_POOL; i++) {
		if (pool[i].p && !pool[i].used && pool[i].n == n) {
			pool[i].used = true;
			memset(pool[i].p, 0, (size_t)n * 4096);
			return pool[i].p;
		}
	}
	for (int i = 0; i < VG_POOL; i++) {
		if (!pool[i].p) {
			pool[i] = (struct pool_block){ procdom_alloc_pages(n), n, true };
			return pool[i].p;
		}
	}
	return NULL;
}

static void pool_free(void *ctx, void *p, unsigned int n)
{
	(void)ctx;
	(void)n;
	for (int i = 0; i < VG_POOL; i++)
		if (pool[i].p == p)
			pool[i].used = false;
}

static struct xenbus_guest xbg;
static struct vchan_guest vg_srv, vg_cli;
static struct vchan srv, cli;
static uint8_t *buf;
static bool raw;

static uint8_t pat(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x >> 29;
	return (uint8_t)(x * 0xbf58476d1ce4e5b9ULL >> 56);
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void die(const char *what, int rc)
{
	out("vchan: %s failed: %d\n", what, rc);
	xen_shutdown(SHUTDOWN_crash);
}

/* ---- streaming ------------------------------------------------------------ */

static int stream_send(struct vchan *v, uint64_t total, size_t chunk, uint32_t seed)
{
	uint64_t off = 0, t0 = procdom_now_ns();

	while (off < total) {
		size_t n = total - off < chunk ? (size_t)(total - off) : chunk;
		long k;

		for (size_t i = 0; !raw && i < n; i++)
			buf[i] = pat(seed, off + i);
		k = vchan_write(v, buf, n);
		if (k < 0) {
			out("vchan: peer closed after %llu bytes (%ld)\n", (unsigned long long)off,
			    k);
			return (int)k;
		}
		off += (uint64_t)k;
	}
	out("vchan: sent %llu bytes in %llu ns\n", (unsigned long long)off,
	    (unsigned long long)(procdom_now_ns() - t0));
	return 0;
}

static int stream_recv(struct vchan *v, uint64_t total, size_t chunk, uint32_t seed)
{
	uint64_t off = 0, bad = UINT64_MAX, t0 = 0;

	while (off < total) {
		long k = vchan_read(v, buf, chunk);

		if (k < 0) {
			out("vchan: peer closed after %llu bytes (%ld)\n", (unsigned long long)off,
			    k);
			return (int)k;
		}
		if (!t0)
			t0 = procdom_now_ns();
		for (long i = 0; !raw && i < k && bad == UINT64_MAX; i++)
			if (buf[i] != pat(seed, off + (uint64_t)i))
				bad = off + (uint64_t)i;
		off += (uint64_t)k;
	}
	if (bad == UINT64_MAX)
		out("vchan: received %llu bytes in %llu ns, ok\n", (unsigned long long)off,
		    (unsigned long long)(procdom_now_ns() - t0));
	else
		out("vchan: received %llu bytes, BAD at byte %llu\n", (unsigned long long)off,
		    (unsigned long long)bad);
	return bad == UINT64_MAX ? 0 : -EILSEQ;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void pingpong(struct vchan *v, unsigned long n, bool timed)
{
	uint64_t *rtt = timed ? calloc(n, sizeof(*rtt)) : NULL;
	uint8_t b = 0;

	for (unsigned long i = 0; i < n; i++) {
		uint64_t t0 = procdom_now_ns();

		if (timed && vchan_send(v, &b, 1) != 1)
			break;
		if (vchan_recv(v, &b, 1) != 1)
			break;
		if (!timed && vchan_send(v, &b, 1) != 1)
			break;
		if (rtt)
			rtt[i] = procdom_now_ns() - t0;
	}
	if (!rtt)
		return;
	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	out("vchan: rtt median %llu ns (min %llu, max %llu) over %lu\n",
	    (unsigned long long)rtt[n / 2], (unsigned long long)rtt[0],
	    (unsigned long long)rtt[n - 1], n);
	free(rtt);
}

/* What the waits cost: the ring core's and the runtime's counters. */
static void print_stats(const struct vchan *v)
{
	struct procdom_rt_stats st;

	procdom_rt_stats(&st);
	out("vchan: stats notifies %llu suppressed %llu waits %llu spins_won %llu\n",
	    (unsigned long long)v->stats.notifies_sent,
	    (unsigned long long)v->stats.notifies_suppressed, (unsigned long long)v->stats.waits,
	    (unsigned long long)v->stats.spins_won);
	out("vchan: rt hypercalls %llu fast_sends %llu local_blocks %llu local_polls %llu "
	    "sleeps %llu upcalls %llu signal_upcalls %llu sent_wakes %llu sent_signals %llu\n",
	    (unsigned long long)st.hypercalls, (unsigned long long)st.fast_sends,
	    (unsigned long long)st.local_blocks, (unsigned long long)st.local_polls,
	    (unsigned long long)st.sleeps, (unsigned long long)st.upcalls,
	    (unsigned long long)st.signal_upcalls, (unsigned long long)st.sent_wakes,
	    (unsigned long long)st.sent_signals);
}

/* ---- roles ---------------------------------------------------------------- */

struct params {
	domid_t peer;
	unsigned long id, order, chunk, pingpong, linger_ms, seed, reps;
	uint64_t bytes;
	bool bidir;
	char path[VCHAN_PATH_MAX];
};

static unsigned int ports_open(void)
{
	struct evtchn_status st;
	unsigned int open = 0;

	for (evtchn_port_t port = 1; port < 64; port++) {
		st = (struct evtchn_status){ .dom = DOMID_SELF, .port = port };
		if (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) == 0 &&
		    st.status != EVTCHNSTAT_closed)
			open++;
	}
	return open;
}

static void leak_check(struct params *p, unsigned int free_before)
{
	out("vchan: after close: ports_open %u grants_in_use %u maps_leaked %llu\n", ports_open(),
	    free_before - xen_guest_current()->gnttab.free_count,
	    (unsigned long long)(vg_srv.leaked_pages + vg_cli.leaked_pages));
	if (p->linger_ms)
		xen_poll(NULL, 0, procdom_now_ns() + p->linger_ms * 1000000ULL);
}

static void run_server(struct params *p)
{
	size_t ring = (size_t)1 << p->order;
	int rc = vchan_guest_setup(&vg_srv, xen_guest_current(), &xbg.xb, pool_alloc, pool_free,
				   NULL);

	if (rc == 0)
		rc = vchan_server_init(&srv, &vchan_guest_ops, &vg_srv, p->peer, p->path, ring,
				       ring);
	if (rc < 0)
		die("server_init", rc);
	out("vchan: listening at %s\n", p->path);
	if (p->pingpong) {
		pingpong(&srv, p->pingpong, false);
	} else {
		int rc2 = 0;

		for (unsigned long r = 0; r < p->reps && rc2 == 0; r++)
			rc2 = stream_recv(&srv, p->bytes, p->chunk, (uint32_t)p->seed);
		if (rc2 == 0 && p->bidir)
			stream_send(&srv, p->bytes, p->chunk, (uint32_t)p->seed + 1);
	}
	print_stats(&srv);
	/* Wait for the client to finish reading and close (bounded). */
	srv.timeout_ns = 10000000000ULL;
	while (vchan_is_open(&srv) && vchan_wait(&srv, 0) == 0)
		;
	vchan_close(&srv);
}

static void run_client(struct params *p)
{
	int rc = vchan_guest_setup(&vg_cli, xen_guest_current(), &xbg.xb, pool_alloc, pool_free,
				   NULL);

	if (rc == 0)
		rc = vchan_client_init(&cli, &vchan_guest_ops, &vg_cli, p->peer, p->path,
				       10000000000ULL);
	if (rc < 0)
		die("client_init", rc);
	out("vchan: connected\n");
	if (p->pingpong)
		pingpong(&cli, p->pingpong, true);
	else {
		int rc2 = 0;

		for (unsigned long r = 0; r < p->reps && rc2 == 0; r++)
			rc2 = stream_send(&cli, p->bytes, p->chunk, (uint32_t)p->seed);
		if (rc2 == 0 && p->bidir)
			stream_recv(&cli, p->bytes, p->chunk, (uint32_t)p->seed + 1);
	}
	print_stats(&cli);
	vchan_close(&cli);
}

/* Both ends here, one vCPU: non-blocking turns, client writes, server
 * reads (and back with bidir). */
static void self_turns(struct vchan *tx, struct vchan *rx, struct params *p, uint32_t seed)
{
	uint8_t *in = malloc(p->chunk);
	uint64_t sent = 0, got = 0, bad = UINT64_MAX;

	while (in && got < p->bytes) {
		size_t n = p->bytes - sent < p->chunk ? (size_t)(p->bytes - sent) : p->chunk;
		long k;

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(seed, sent + i);
		k = n ? vchan_write(tx, buf, n) : 0;
		if (k < 0)
			break;
		sent += (uint64_t)k;
		k = vchan_read(rx, in, p->chunk);
		if (k < 0)
			break;
		for (long i = 0; i < k && bad == UINT64_MAX; i++)
			if (in[i] != pat(seed, got + (uint64_t)i))
				bad = got + (uint64_t)i;
		got += (uint64_t)k;
	}
	free(in);
	if (bad == UINT64_MAX && got == p->bytes)
		out("vchan: received %llu bytes in self, ok\n", (unsigned long long)got);
	else
		out("vchan: received %llu bytes in self, BAD at byte %llu\n",
		    (unsigned long long)got, (unsigned long long)bad);
}

static void run_self(struct params *p)
{
	size_t ring = (size_t)1 << p->order;
	struct xen_guest *g = xen_guest_current();
	int rc = vchan_guest_setup(&vg_srv, g, &xbg.xb, pool_alloc, pool_free, NULL);

	if (rc == 0)
		rc = vchan_guest_setup(&vg_cli, g, &xbg.xb, pool_alloc, pool_free, NULL);
	if (rc == 0)
		rc = vchan_server_init(&srv, &vchan_guest_ops, &vg_srv, p->peer, p->path, ring,
				       ring);
	if (rc == 0)
		rc = vchan_client_init(&cli, &vchan_guest_ops, &vg_cli, p->peer, p->path, 0);
	if (rc < 0)
		die("self init", rc);
	out("vchan: connected\n");
	srv.blocking = cli.blocking = false;
	self_turns(&cli, &srv, p, (uint32_t)p->seed);
	if (p->bidir)
		self_turns(&srv, &cli, p, (uint32_t)p->seed + 1);
	vchan_close(&cli);
	if (vchan_is_open(&srv))
		out("vchan: server still sees the client open\n");
	vchan_close(&srv);
}

static void params_read(const start_info_t *si, struct params *p)
{
	domid_t self = procdom_domid();
	bool server = guest_flag(si, "vchan.server") || guest_flag(si, "vchan.self");

	p->peer = guest_flag(si, "vchan.self") ? self : (domid_t)guest_arg(si, "vchan.peer", 0);
	p->id = guest_arg(si, "vchan.id", 0);
	p->order = guest_arg(si, "vchan.order", 20);
	p->bytes = guest_arg(si, "vchan.bytes", 8UL << 20);
	p->chunk = guest_arg(si, "vchan.chunk", 65536);
	p->seed = guest_arg(si, "vchan.seed", 1);
	p->pingpong = guest_arg(si, "vchan.pingpong", 0);
	p->linger_ms = guest_arg(si, "vchan.linger_ms", 0);
	p->bidir = guest_flag(si, "vchan.bidir");
	p->reps = guest_arg(si, "vchan.reps", 1);
	raw = guest_flag(si, "vchan.raw");
	if (p->chunk == 0 || p->chunk > VG_MAX_BUF)
		p->chunk = 65536;
	if (p->order < 10 || p->order > 20)
		p->order = 20;
	snprintf(p->path, sizeof(p->path), "/local/domain/%u/data/vchan/%lu",
		 server ? self : p->peer, p->id);
}

void start_kernel(start_info_t *si)
{
	struct params p = { 0 };
	unsigned int free_before;
	int rc;

	params_read(si, &p);
	out("vchan: pid %d role %s\n", (int)getpid(),
	    guest_flag(si, "vchan.self")     ? "self"
	    : guest_flag(si, "vchan.server") ? "server"
					     : "client");
	buf = calloc(1, VG_MAX_BUF);
	rc = buf ? gnttab_init(0, VG_GNT_FRAMES) : -ENOMEM;
	if (rc == 0)
		rc = xenbus_init(&xbg);
	if (rc < 0)
		die("init", rc);
	xen_irq_enable();
	free_before = xen_guest_current()->gnttab.free_count;
	out("vchan: before: ports_open %u\n", ports_open());
	if (guest_flag(si, "vchan.self"))
		run_self(&p);
	else if (guest_flag(si, "vchan.server"))
		run_server(&p);
	else
		run_client(&p);
	leak_check(&p, free_before);
	xen_shutdown(SHUTDOWN_poweroff);
}
