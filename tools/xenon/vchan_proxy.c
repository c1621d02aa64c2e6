/*
 * xenon vchan-proxy [--server|--client] [--timeout S] DOMID XS_PATH SOCKET
 *
 * Bridges one vchan (lib/vchan) with domain DOMID to a UNIX stream socket,
 * both directions, until either side closes. --server (the default) offers
 * the vchan at XS_PATH and listens on SOCKET for one connection; --client
 * connects to the vchan DOMID offers at XS_PATH and to SOCKET.
 *
 * Flow control: bytes are taken from one side only when the other can take
 * them (a buffer per direction; no read while it holds data), so nothing is
 * ever dropped. One poll() waits on the vchan's event fd and the socket; a
 * short vchan read or write has asked the peer for an event, so the fd
 * wakes us when the ring moves. Every 100 ms at least (the poll's bound)
 * the ring core is asked whether the peer's domain still exists
 * (xenon_vchan_check_peer: one query to the core), so a peer
 * killed outright -- it never clears its live flag -- ends the proxy even
 * while the socket keeps poll() busy. A socket that has hung up is not
 * polled while our buffer towards the vchan is full (it would report the
 * hang-up at once, forever, and spin the loop); what it still holds is
 * read, and forwarded, once there is room.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xenon.h"
#include "xenon_vchan.h"

#define PX_BUF 65536
#define PX_POLL_MS 100

struct px_dir {
	char buf[PX_BUF];
	size_t len, off;
};

struct proxy {
	struct xenon_vchan *v;
	int sock;
	bool sock_eof, vchan_eof;
	bool sock_hup; /* poll() said POLLHUP/POLLERR: what is left is read once there is room */
	struct px_dir to_sock, to_vchan;
};

static int px_socket(const char *path, bool server)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int s, c;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (!server) {
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		c = -errno;
		close(s);
		return c;
	}
	/* A stale socket of an earlier run goes; any other file stays (bind
	 * then fails with EADDRINUSE). */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0) {
		c = -errno;
		close(s);
		return c;
	}
	c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	c = c < 0 ? -errno : c;
	close(s);
	unlink(path);
	return c;
}

/* vchan -> buffer -> socket. */
static int px_vchan_to_sock(struct proxy *p)
{
	struct px_dir *d = &p->to_sock;
	long n;

	if (d->len == 0 && !p->vchan_eof) {
		n = xenon_vchan_read(p->v, d->buf, sizeof(d->buf));
		if (n == -EPIPE)
			p->vchan_eof = true;
		else if (n < 0)
			return (int)n;
		else
			d->len = (size_t)n, d->off = 0;
	}
	while (d->off < d->len) {
		ssize_t k = send(p->sock, d->buf + d->off, d->len - d->off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k < 0)
			return errno == EAGAIN ? 0 : -errno;
		d->off += (size_t)k;
	}
	d->len = d->off = 0;
	return 0;
}

/* socket -> buffer -> vchan. */
static int px_sock_to_vchan(struct proxy *p)
{
	struct px_dir *d = &p->to_vchan;
	long n;

	if (d->len == 0 && !p->sock_eof) {
		ssize_t k = recv(p->sock, d->buf, sizeof(d->buf), MSG_DONTWAIT);

		if (k == 0)
			p->sock_eof = true;
		else if (k < 0 && errno != EAGAIN)
			return -errno;
		else if (k > 0)
			d->len = (size_t)k, d->off = 0;
	}
	while (d->off < d->len) {
		n = xenon_vchan_write(p->v, d->buf + d->off, d->len - d->off);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0; /* ring full: asked to be told */
		d->off += (size_t)n;
	}
	d->len = d->off = 0;
	return 0;
}

static uint64_t px_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int px_loop(struct proxy *p)
{
	struct pollfd pf[2];
	uint64_t last_check = px_now_ms();
	int rc = 0, n, nfds;

	xenon_vchan_set_blocking(p->v, false);
	while (rc == 0) {
		rc = px_vchan_to_sock(p);
		if (rc == 0)
			rc = px_sock_to_vchan(p);
		if (rc == -EPIPE)
			break; /* the vchan peer left */
		if ((p->vchan_eof && p->to_sock.len == 0) || (p->sock_eof && p->to_vchan.len == 0))
			break;
		pf[0] = (struct pollfd){ .fd = xenon_vchan_fd_for_select(p->v), .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = p->sock,
					 .events = (short)((p->to_vchan.len ? 0 : POLLIN) |
							   (p->to_sock.len ? POLLOUT : 0)) };
		/* A hung-up socket we cannot read from yet (our buffer for the
		 * vchan is full) would make poll() return at once, forever. */
		nfds = p->sock_hup && p->to_vchan.len ? 1 : 2;
		/* Our own reads and writes may have taken events off the fd
		 * into the handle's queue (xenon_vchan.h): drained here, they
		 * make this turn's poll not wait. */
		n = poll(pf, nfds, xenon_vchan_wait(p->v, 0) == 0 ? 0 : PX_POLL_MS);
		if (n < 0 && errno != EINTR)
			rc = -errno;
		if (n > 0 && nfds == 2 && (pf[1].revents & (POLLHUP | POLLERR)))
			p->sock_hup = true;
		if (n > 0 && pf[0].revents)
			xenon_vchan_wait(p->v, 0);
		if (px_now_ms() - last_check >= PX_POLL_MS) {
			xenon_vchan_check_peer(p->v);
			last_check = px_now_ms();
		}
		if (!xenon_vchan_is_open(p->v) && xenon_vchan_data_ready(p->v) <= 0 &&
		    p->to_sock.len == 0)
			break;
	}
	return rc == -EPIPE ? 0 : rc;
}

static int px_parse(const struct xenon_ctx *ctx, int argc, char **argv, bool *server,
		    unsigned long *timeout_s)
{
	static const struct option opts[] = { { "server", no_argument, NULL, 's' },
					      { "client", no_argument, NULL, 'c' },
					      { "timeout", required_argument, NULL, 't' },
					      { NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "+sct:", opts, NULL)) != -1) {
		if (c == 's' || c == 'c')
			*server = c == 's';
		else if (c == 't')
			*timeout_s = strtoul(optarg, NULL, 10);
		else
			return xenon_usage_error(ctx, "unknown option");
	}
	if (argc - optind != 3)
		return xenon_usage_error(ctx, "need DOMID XS_PATH SOCKET");
	return 0;
}

int xenon_cmd_vchan_proxy(const struct xenon_ctx *ctx, int argc, char **argv)
{
	struct proxy *p = calloc(1, sizeof(*p));
	unsigned long timeout_s = 30;
	bool server = true;
	char *end;
	unsigned long domid;
	int rc = p ? px_parse(ctx, argc, argv, &server, &timeout_s) : -ENOMEM;

	if (rc)
		goto out;
	domid = strtoul(argv[optind], &end, 10);
	if (*end || domid >= DOMID_FIRST_RESERVED) {
		rc = xenon_usage_error(ctx, "DOMID must be a domain id");
		goto out;
	}
	rc = server ? xenon_vchan_server_init(ctx->run_dir, (uint32_t)domid, argv[optind + 1],
					      65536, 65536, &p->v)
		    : xenon_vchan_client_init(ctx->run_dir, (uint32_t)domid, argv[optind + 1],
					      timeout_s * 1000000000ULL, &p->v);
	if (rc == 0) {
		p->sock = px_socket(argv[optind + 2], server);
		rc = p->sock < 0 ? p->sock : px_loop(p);
		if (p->sock >= 0)
			close(p->sock);
	}
	if (rc < 0)
		xenon_err(ctx, "vchan-proxy: %s", strerror(-rc));
	xenon_vchan_close(p->v);
	rc = rc < 0 ? XENON_EXIT_FAIL : XENON_EXIT_OK;
out:
	free(p);
	return rc;
}
