/*
 * xenon vchan-proxy [--server|--client] [--timeout S] DOMID XS_PATH SOCKET
 *
 * Bridges one vchan (lib/vchan) with domain DOMID to a UNIX stream socket,
 * both directions. --server (the default) offers the vchan at XS_PATH and
 * listens on SOCKET for one connection; --client connects to the vchan
 * DOMID offers at XS_PATH and to SOCKET.
 *
 *   vchan peer --read--> to_sock  --send--> socket client
 *   vchan peer <-write-- to_vchan <--recv-- socket client
 *
 * Flow control: bytes are taken from a source only when its buffer is
 * empty, so a slow sink slows its source and nothing is dropped. One
 * poll() waits on the vchan's event fd and the socket; a short vchan read
 * or write has asked the peer for an event, so the fd wakes us when the
 * ring moves. Every 100 ms at least the ring core is asked whether the
 * peer's domain still exists (xenon_vchan_check_peer: one query to the
 * core), so a peer killed outright -- it never clears its live flag --
 * ends the session even while the socket keeps poll() busy.
 *
 * The end: whatever the proxy accepted from one side is delivered to the
 * other before it closes, within PX_DRAIN_MS of the end and only while
 * that side takes bytes. Who ended the session is logged, with the counts:
 *
 *   - the vchan peer closed (or its domain went): everything left in the
 *     ring and in to_sock goes to the socket, then shutdown(SHUT_WR), so
 *     the client reads EOF after the last byte. What the client still
 *     sends has nowhere to go: it is read and discarded until its EOF (or
 *     a quiet poll turn), because closing a UNIX socket with unread bytes
 *     makes the client's next read fail with ECONNRESET instead of EOF.
 *   - the client shut down its writing side (EOF; a half-close or a
 *     close): to_vchan goes into the ring and the proxy waits until the
 *     peer has read the ring empty -- a peer still mapping our pages may
 *     lose them once we close -- still forwarding the peer's bytes to the
 *     client meanwhile. A vchan has no half-close, so then the vchan is
 *     closed (after flushing to_sock and shutting the socket down).
 *   - the client went away (a send fails with EPIPE or ECONNRESET): what
 *     it sent before is still read to its end and delivered as above;
 *     what the peer still writes is read and discarded, so a peer busy
 *     writing to a full ring gets to reading what we deliver.
 *
 * POLLHUP on the socket is not an end by itself: the bytes before it are
 * read first, and the socket is polled only for what we want from it now
 * (a hung-up socket we cannot read yet would make poll() return at once,
 * forever).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
#define PX_POLL_MS 100	   /* also the liveness check's period */
#define PX_DRAIN_MS 5000   /* delivering what is left once a side ended */
#define PX_DISCARD_TURN 16 /* reads of discarded input per loop turn */

enum px_end {
	PX_RELAYING,
	PX_END_VCHAN,	  /* the vchan peer closed, or its domain is gone */
	PX_END_SOCK_EOF,  /* the client shut down its writing side */
	PX_END_SOCK_GONE, /* the client takes no more bytes (EPIPE, ECONNRESET) */
};

struct px_dir {
	char buf[PX_BUF];
	size_t len, off;  /* buf[off..len) is accepted and not yet delivered */
	uint64_t moved;	  /* bytes delivered to the sink */
	uint64_t dropped; /* accepted, then undeliverable */
};

struct proxy {
	const struct xenon_ctx *ctx;
	struct xenon_vchan *v;
	uint32_t domid;
	int sock;
	bool vchan_eof;			  /* the peer closed and all it wrote is read */
	bool vchan_shut;		  /* the peer takes no more: closed or gone */
	bool sock_eof;			  /* the client sends no more: its end of stream read */
	bool sock_shut;			  /* the client takes no more: a send failed */
	bool sock_wr_done;		  /* we shut down our writing side */
	bool to_vchan_done, to_sock_done; /* as px_update() decides */
	bool linger_quiet;		  /* after SHUT_WR, a whole poll turn without input */
	bool peer_gone;			  /* at the end: its domain was gone, not closed */
	enum px_end end;
	uint64_t deadline_ms;	  /* once ended: the drain's bound */
	uint64_t discarded_sock;  /* client bytes read after the vchan ended */
	uint64_t discarded_vchan; /* peer bytes read after the client left */
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

static uint64_t px_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int px_fail(struct proxy *p, const char *what, long rc)
{
	xenon_err(p->ctx, "%s: %s", what, strerror((int)-rc));
	return (int)rc;
}

/* Whatever is left in d can no longer be delivered. */
static void px_drop(struct px_dir *d)
{
	d->dropped += d->len - d->off;
	d->len = d->off = 0;
}

/* A vchan read into buf: its count, or 0 once the peer closed and we read
 * all it wrote (or an error). */
static long px_vchan_in(struct proxy *p, char *buf)
{
	long n = xenon_vchan_read(p->v, buf, PX_BUF);

	if (n == -EPIPE) {
		p->vchan_eof = p->vchan_shut = true;
		return 0;
	}
	return n < 0 ? px_fail(p, "reading the vchan", n) : n;
}

/* The client takes no more: read the peer's bytes and count them, so the
 * peer is not left blocked on a full ring (and can read what we still
 * deliver). */
static int px_discard_vchan(struct proxy *p)
{
	long n = 1;
	int i;

	px_drop(&p->to_sock); /* its buffer becomes the scratch */
	for (i = 0; i < PX_DISCARD_TURN && n > 0 && !p->vchan_eof; i++) {
		n = px_vchan_in(p, p->to_sock.buf);
		p->discarded_vchan += n > 0 ? (uint64_t)n : 0;
	}
	return n < 0 ? (int)n : 0;
}

/* vchan -> to_sock. Once the client has ended and the peer has everything
 * we are closing: nothing more is taken from the vchan. */
static int px_read_vchan(struct proxy *p)
{
	struct px_dir *d = &p->to_sock;
	long n;

	if (p->vchan_eof || (p->end >= PX_END_SOCK_EOF && p->to_vchan_done))
		return 0;
	if (p->sock_shut)
		return px_discard_vchan(p);
	if (d->len)
		return 0;
	n = px_vchan_in(p, d->buf);
	if (n < 0)
		return (int)n;
	d->len = (size_t)n;
	d->off = 0;
	return 0;
}

/* to_sock -> socket, as far as it takes bytes now. */
static int px_write_sock(struct proxy *p)
{
	struct px_dir *d = &p->to_sock;
	ssize_t k;

	while (d->off < d->len && !p->sock_shut) {
		k = send(p->sock, d->buf + d->off, d->len - d->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k >= 0) {
			d->off += (size_t)k;
			d->moved += (uint64_t)k;
		} else if (errno == EPIPE || errno == ECONNRESET) {
			p->sock_shut = true; /* the client is gone */
		} else if (errno == EAGAIN) {
			return 0;
		} else if (errno != EINTR) {
			return px_fail(p, "writing the socket", -errno);
		}
	}
	px_drop(d);
	return 0;
}

/* A recv() that moved nothing: the end of stream, or nothing yet. A
 * reset comes only after every byte before it was read: the client closed
 * with our bytes unread, so it is gone both ways. */
static int px_sock_quiet(struct proxy *p, ssize_t k)
{
	if (k == 0 || errno == ECONNRESET) {
		p->sock_eof = true;
		p->sock_shut = p->sock_shut || k < 0;
		return 0;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	return px_fail(p, "reading the socket", -errno);
}

/* The vchan takes no more: read the client's bytes and count them, so it
 * is not left blocked on a full socket (and can read what we still send). */
static int px_discard_sock(struct proxy *p)
{
	ssize_t k = 0;
	int i;

	px_drop(&p->to_vchan); /* its buffer becomes the scratch */
	for (i = 0; i < PX_DISCARD_TURN && !p->sock_eof; i++) {
		k = recv(p->sock, p->to_vchan.buf, sizeof(p->to_vchan.buf), MSG_DONTWAIT);
		if (k <= 0)
			return px_sock_quiet(p, k);
		p->discarded_sock += (uint64_t)k;
	}
	return 0;
}

/* socket -> to_vchan. */
static int px_read_sock(struct proxy *p)
{
	struct px_dir *d = &p->to_vchan;
	ssize_t k;

	if (p->sock_eof)
		return 0;
	if (p->vchan_shut)
		return px_discard_sock(p);
	if (d->len)
		return 0;
	k = recv(p->sock, d->buf, sizeof(d->buf), MSG_DONTWAIT);
	if (k <= 0)
		return px_sock_quiet(p, k);
	d->len = (size_t)k;
	d->off = 0;
	return 0;
}

/* to_vchan -> vchan, as far as the ring has room. */
static int px_write_vchan(struct proxy *p)
{
	struct px_dir *d = &p->to_vchan;
	long n;

	while (d->off < d->len && !p->vchan_shut) {
		n = xenon_vchan_write(p->v, d->buf + d->off, d->len - d->off);
		if (n == -EPIPE) {
			p->vchan_shut = true; /* the peer closed or is gone */
		} else if (n < 0) {
			return px_fail(p, "writing the vchan", n);
		} else if (n == 0) {
			return 0; /* ring full: asked to be told */
		} else {
			d->off += (size_t)n;
			d->moved += (uint64_t)n;
		}
	}
	px_drop(d);
	return 0;
}

/* Bytes we wrote to the ring that the peer never read (0 if unknown). */
static uint64_t px_ring_left(struct proxy *p)
{
	long space = xenon_vchan_buffer_space(p->v);
	size_t size = xenon_vchan_core(p->v)->wr.size;

	return space >= 0 && (size_t)space < size ? size - (size_t)space : 0;
}

/* The first side to end names the session's end and starts the drain. */
static void px_note_end(struct proxy *p)
{
	p->end = p->vchan_shut	? PX_END_VCHAN
		 : p->sock_shut ? PX_END_SOCK_GONE
		 : p->sock_eof	? PX_END_SOCK_EOF
				: PX_RELAYING;
	if (p->end == PX_RELAYING)
		return;
	p->deadline_ms = px_now_ms() + PX_DRAIN_MS;
	p->peer_gone = xenon_vchan_core(p->v)->peer_gone;
}

/* Which directions are finished, and which side ended first. */
static void px_update(struct proxy *p)
{
	if (!p->vchan_shut && !xenon_vchan_is_open(p->v))
		p->vchan_shut = true;
	p->to_vchan_done =
		p->vchan_shut || (p->sock_eof && p->to_vchan.len == 0 && px_ring_left(p) == 0);
	if (p->end == PX_RELAYING)
		px_note_end(p);
	p->to_sock_done =
		p->sock_shut || (p->to_sock.len == 0 &&
				 (p->vchan_eof || (p->end >= PX_END_SOCK_EOF && p->to_vchan_done)));
	/* The client reads EOF right after the last byte. */
	if (p->to_sock_done && !p->sock_shut && !p->sock_wr_done) {
		shutdown(p->sock, SHUT_WR);
		p->sock_wr_done = true;
	}
}

static bool px_finished(const struct proxy *p)
{
	if (p->end == PX_RELAYING)
		return false;
	if (px_now_ms() >= p->deadline_ms)
		return true;
	if (!p->to_vchan_done || !p->to_sock_done)
		return false;
	/* The vchan ended: let the client finish sending first (see above). */
	return p->end != PX_END_VCHAN || p->sock_eof || p->sock_shut || p->linger_quiet;
}

static int px_step(struct proxy *p)
{
	int rc = px_read_vchan(p);

	if (rc == 0)
		rc = px_write_sock(p);
	if (rc == 0)
		rc = px_read_sock(p);
	if (rc == 0)
		rc = px_write_vchan(p);
	if (rc == 0)
		px_update(p);
	return rc;
}

static int px_poll_ms(const struct proxy *p)
{
	uint64_t now = px_now_ms();

	if (p->end == PX_RELAYING || p->deadline_ms >= now + PX_POLL_MS)
		return PX_POLL_MS;
	return p->deadline_ms > now ? (int)(p->deadline_ms - now) : 0;
}

/* One poll() on the vchan's fd and on the socket for what we want from
 * it now; then the liveness check when it is due. */
static int px_wait(struct proxy *p, uint64_t *last_check)
{
	short ev = (short)((!p->sock_eof && (p->vchan_shut || !p->to_vchan.len) ? POLLIN : 0) |
			   (p->to_sock.len && !p->sock_shut ? POLLOUT : 0));
	struct pollfd pf[2] = { { .fd = xenon_vchan_fd_for_select(p->v), .events = POLLIN },
				{ .fd = ev ? p->sock : -1, .events = ev } };
	/* Our own reads and writes may have taken events off the fd into
	 * the handle's queue (xenon_vchan.h): drained here, they make this
	 * turn's poll not wait. */
	int ms = xenon_vchan_wait(p->v, 0) == 0 ? 0 : px_poll_ms(p);
	int n = poll(pf, 2, ms);

	if (n < 0 && errno != EINTR)
		return px_fail(p, "poll", -errno);
	if (n > 0 && (pf[0].revents & (POLLERR | POLLHUP | POLLNVAL)))
		return px_fail(p, "the connection to xenon-hvd", -ECONNRESET);
	if (n > 0 && pf[0].revents)
		xenon_vchan_wait(p->v, 0);
	if (n == 0 && ms > 0 && p->sock_wr_done)
		p->linger_quiet = true;
	if (px_now_ms() - *last_check >= PX_POLL_MS) {
		xenon_vchan_check_peer(p->v);
		*last_check = px_now_ms();
	}
	return 0;
}

/* One line: which side ended the session, and where every byte went. */
static void px_report(struct proxy *p, bool timed_out)
{
	static const char *const who[] = {
		[PX_RELAYING] = "an error",
		[PX_END_VCHAN] = "the vchan peer",
		[PX_END_SOCK_EOF] = "the socket client, which ended its stream",
		[PX_END_SOCK_GONE] = "the socket client, which went away",
	};
	const char *how = "";
	/* Written to the ring is not delivered until the peer has read it. */
	uint64_t unread = px_ring_left(p);
	uint64_t lost_vchan = p->to_vchan.dropped + p->to_vchan.len - p->to_vchan.off + unread;
	uint64_t lost_sock = p->to_sock.dropped + p->to_sock.len - p->to_sock.off;

	if (p->end == PX_END_VCHAN)
		how = p->peer_gone ? ", whose domain is gone" : ", which closed";
	xenon_err(p->ctx,
		  "vchan with domain %" PRIu32 ": ended by %s%s; delivered %" PRIu64
		  " bytes to the socket, %" PRIu64 " to the vchan peer%s",
		  p->domid, who[p->end], how, p->to_sock.moved, p->to_vchan.moved - unread,
		  timed_out ? "; drain bound reached" : "");
	if (lost_sock || lost_vchan)
		xenon_err(p->ctx,
			  "undelivered: %" PRIu64 " bytes for the socket, %" PRIu64
			  " for the vchan peer",
			  lost_sock, lost_vchan);
	if (p->discarded_sock || p->discarded_vchan)
		xenon_err(p->ctx,
			  "discarded: %" PRIu64
			  " bytes the client sent after the vchan ended, %" PRIu64
			  " the peer sent after the client left",
			  p->discarded_sock, p->discarded_vchan);
}

static int px_loop(struct proxy *p)
{
	uint64_t last_check = px_now_ms();
	int rc = 0;

	xenon_vchan_set_blocking(p->v, false);
	for (;;) {
		rc = px_step(p);
		if (rc < 0 || px_finished(p))
			break;
		rc = px_wait(p, &last_check);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		px_report(p, !p->to_vchan_done || !p->to_sock_done);
	return rc;
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
	p->ctx = ctx;
	p->domid = (uint32_t)domid;
	rc = server ? xenon_vchan_server_init(ctx->run_dir, (uint32_t)domid, argv[optind + 1],
					      65536, 65536, &p->v)
		    : xenon_vchan_client_init(ctx->run_dir, (uint32_t)domid, argv[optind + 1],
					      timeout_s * 1000000000ULL, &p->v);
	if (rc < 0)
		px_fail(p, server ? "offering the vchan" : "connecting to the vchan", rc);
	if (rc == 0) {
		p->sock = px_socket(argv[optind + 2], server);
		rc = p->sock < 0 ? px_fail(p, argv[optind + 2], p->sock) : px_loop(p);
		if (p->sock >= 0)
			close(p->sock);
	}
	xenon_vchan_close(p->v);
	rc = rc < 0 ? XENON_EXIT_FAIL : XENON_EXIT_OK;
out:
	free(p);
	return rc;
}
