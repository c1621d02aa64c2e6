/*
 * UNIX-socket transport.
 *
 * Per client:
 *
 *   socket --read()--> xs_inbuf --frames in place--> xs_conn_request()
 *                                                        | send()
 *   socket <--one send() per loop iteration-- xs_outq <--+
 *
 * Replies are only queued while a request runs; the loop's deferred phase
 * flushes each connection once per iteration, so a burst of pipelined
 * requests is answered with one write. A client that stops reading is
 * handled in two steps: once its queued output passes out_high we stop taking
 * its requests (its own replies cannot grow the queue further), and if watch
 * events caused by others push it to out_max the client is dropped, logged
 * once. A header announcing more than XENSTORE_PAYLOAD_MAX drops the client,
 * as C xenstored does.
 *
 * Epoll interest (level-triggered) per client:
 *   EPOLLIN  unless a backlog of complete requests waits in the input buffer;
 *   EPOLLOUT while output is queued (the socket was full) or a backlog waits,
 *            which makes the loop call back as soon as there is room.
 *
 * A client that dies (EOF, error, protocol violation, overflow) is marked
 * dead at once and freed in the deferred phase: the engine may be in the
 * middle of a request that sends to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "framing.h"
#include "transport_socket.h"

#define SOCK_BACKLOG 128
#define SOCK_INBUF (64 * 1024)
#define SOCK_ACCEPT_BATCH 64

struct sock_conn {
	struct xs_loop_source src;
	struct xs_loop_deferred work; /* flush, or free once dead */
	struct xs_socket_server *srv;
	struct sock_conn *prev, *next; /* srv->clients */
	struct xs_conn *conn;
	int fd;
	uint32_t events; /* current epoll interest */
	bool dead;	 /* no more I/O; freed in the deferred phase */
	bool backlog;	 /* complete requests wait for output room */
	struct xs_inbuf in;
	struct xs_outq out;
};

struct xs_socket_server {
	struct xs_loop_source src;
	struct xs_loop *loop;
	struct xs_store *store;
	const struct xslog *log;
	struct xs_socket_limits lim;
	char *path;
	int fd;
	bool paused;	      /* out of fds: not accepting until a client goes */
	bool logged_full;     /* max_clients reached (logged once) */
	bool logged_overflow; /* a client overflowed out_max (logged once) */
	unsigned int nclients;
	struct sock_conn *clients;
};

static void sock_conn_process(struct sock_conn *c);

void xs_socket_limits_defaults(struct xs_socket_limits *lim)
{
	lim->max_clients = XS_SOCKET_DEFAULT_MAX_CLIENTS;
	lim->out_high = XS_SOCKET_DEFAULT_OUT_HIGH;
	lim->out_max = XS_SOCKET_DEFAULT_OUT_MAX;
}

/* Takes the client out of the loop now; frees it in the deferred phase. */
static void sock_conn_kill(struct sock_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	xs_loop_del(c->srv->loop, c->fd);
	xs_loop_cancel(c->srv->loop, &c->work);
	xs_loop_defer(c->srv->loop, &c->work);
}

static void sock_conn_free(struct sock_conn *c)
{
	struct xs_socket_server *srv = c->srv;

	xs_loop_cancel(srv->loop, &c->work);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nclients--;
	/* The engine may still send while dropping the connection's state;
	 * dead makes those sends fail harmlessly. */
	c->dead = true;
	xs_conn_destroy(c->conn);
	close(c->fd);
	xs_inbuf_fini(&c->in);
	xs_outq_fini(&c->out);
	free(c);
	if (srv->paused && xs_loop_add(srv->loop, srv->fd, EPOLLIN, &srv->src) == 0)
		srv->paused = false;
}

static void sock_conn_set_events(struct sock_conn *c)
{
	uint32_t want = 0;

	if (!c->backlog)
		want |= EPOLLIN;
	if (xs_outq_len(&c->out) || c->backlog)
		want |= EPOLLOUT;
	if (want == c->events || c->dead)
		return;
	if (xs_loop_mod(c->srv->loop, c->fd, want, &c->src) < 0)
		sock_conn_kill(c);
	else
		c->events = want;
}

/* One send() of everything queued. */
static void sock_conn_write(struct sock_conn *c)
{
	ssize_t n;

	if (!xs_outq_len(&c->out))
		return;
	n = send(c->fd, xs_outq_peek(&c->out), xs_outq_len(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			sock_conn_kill(c);
		return;
	}
	xs_outq_consume(&c->out, (size_t)n);
}

static void sock_conn_work(struct xs_loop_deferred *d)
{
	struct sock_conn *c = xs_container_of(d, struct sock_conn, work);

	if (c->dead) {
		sock_conn_free(c);
		return;
	}
	sock_conn_write(c);
	sock_conn_set_events(c);
}

/* The engine's send(): queue, and flush at the end of this iteration. */
static int sock_conn_send(void *transport, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct sock_conn *c = transport;
	struct xs_socket_server *srv = c->srv;
	int err;

	if (c->dead)
		return -EPIPE;
	err = xs_outq_push(&c->out, hdr, payload);
	if (err) {
		if (!srv->logged_overflow)
			xslog_printf(srv->log, XSLOG_WARN,
				     "socket client fd %d: %zu bytes of replies and watch events "
				     "unread (limit %zu); dropping it (logged once)",
				     c->fd, xs_outq_len(&c->out), srv->lim.out_max);
		srv->logged_overflow = true;
		sock_conn_kill(c);
		return err;
	}
	xs_loop_defer(srv->loop, &c->work);
	return 0;
}

static const struct xs_conn_ops sock_conn_ops = {
	.send = sock_conn_send,
};

/* Runs complete requests until none is left or output passes out_high. */
static void sock_conn_process(struct sock_conn *c)
{
	struct xsd_sockmsg hdr;
	const char *payload;
	int r;

	while (!c->dead) {
		if (xs_outq_len(&c->out) >= c->srv->lim.out_high) {
			c->backlog = true;
			return;
		}
		r = xs_inbuf_next(&c->in, &hdr, &payload);
		if (r < 0) {
			xslog_printf(
				c->srv->log, XSLOG_WARN,
				"socket client fd %d: payload of %u bytes exceeds %u; dropping it",
				c->fd, hdr.len, XENSTORE_PAYLOAD_MAX);
			sock_conn_kill(c);
			return;
		}
		if (r == 0)
			break;
		xs_conn_request(c->conn, &hdr, payload);
	}
	c->backlog = false;
}

static void sock_conn_read(struct sock_conn *c)
{
	size_t room;
	char *p = xs_inbuf_space(&c->in, &room);
	ssize_t n = read(c->fd, p, room);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		sock_conn_kill(c);
		return;
	}
	if (n > 0) {
		xs_inbuf_commit(&c->in, (size_t)n);
		sock_conn_process(c);
	}
}

static void sock_conn_ready(struct xs_loop_source *src, uint32_t events)
{
	struct sock_conn *c = xs_container_of(src, struct sock_conn, src);

	if (c->dead)
		return;
	if (events & EPOLLOUT) {
		sock_conn_write(c);
		if (c->backlog && !c->dead)
			sock_conn_process(c);
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->backlog && !c->dead)
		sock_conn_read(c);
	if (!c->dead)
		xs_loop_defer(c->srv->loop, &c->work);
}

static int sock_conn_create(struct xs_socket_server *srv, int fd)
{
	struct sock_conn *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (!c)
		return -ENOMEM;
	c->src.ready = sock_conn_ready;
	c->work.run = sock_conn_work;
	c->srv = srv;
	c->fd = fd;
	c->events = EPOLLIN;
	xs_outq_init(&c->out, srv->lim.out_max);
	if (xs_inbuf_init(&c->in, SOCK_INBUF))
		goto out_free;
	c->conn = xs_conn_create(srv->store, 0, true, &sock_conn_ops, c);
	if (!c->conn)
		goto out_fini_in;
	err = xs_loop_add(srv->loop, fd, c->events, &c->src);
	if (err)
		goto out_destroy_conn;
	c->next = srv->clients;
	if (c->next)
		c->next->prev = c;
	srv->clients = c;
	srv->nclients++;
	return 0;

out_destroy_conn:
	xs_conn_destroy(c->conn);
out_fini_in:
	xs_inbuf_fini(&c->in);
out_free:
	free(c);
	return err;
}

/* Out of fds: stop listening until a client goes, instead of spinning on a
 * listener that stays readable. */
static void sock_server_pause(struct xs_socket_server *srv, int err)
{
	xslog_printf(srv->log, XSLOG_WARN, "accept: %s; not accepting until a client leaves",
		     strerror(-err));
	srv->paused = true;
	xs_loop_del(srv->loop, srv->fd);
}

static void sock_server_accept_one(struct xs_socket_server *srv, int fd)
{
	int err;

	if (srv->nclients >= srv->lim.max_clients) {
		if (!srv->logged_full)
			xslog_printf(srv->log, XSLOG_WARN,
				     "%u socket clients connected (the limit); closing new ones "
				     "(logged once)",
				     srv->nclients);
		srv->logged_full = true;
		close(fd);
		return;
	}
	err = sock_conn_create(srv, fd);
	if (err) {
		xslog_printf(srv->log, XSLOG_ERR, "new socket client: %s", strerror(-err));
		close(fd);
	}
}

static void sock_server_ready(struct xs_loop_source *src, uint32_t events)
{
	struct xs_socket_server *srv = xs_container_of(src, struct xs_socket_server, src);
	int i;

	for (i = 0; i < SOCK_ACCEPT_BATCH; i++) {
		int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				sock_server_pause(srv, -errno);
			return;
		}
		sock_server_accept_one(srv, fd);
	}
}

/* Is a daemon answering on path? A refused connection means a stale file. */
static bool sock_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

/* Replaces a stale socket file, but never a live daemon's socket and never
 * anything that is not a socket. */
static int sock_unlink_stale(const struct sockaddr_un *sun)
{
	struct stat st;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (sock_alive(sun))
		return -EADDRINUSE;
	return unlink(sun->sun_path) < 0 ? -errno : 0;
}

static int sock_listen(const char *path, int *ret_fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	err = sock_unlink_stale(&sun);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Mode 0600 from birth, as C xenstored: only root may talk to the store.
	 * The loop is single-threaded, so changing the umask briefly is safe. */
	old_mask = umask(0177);
	err = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old_mask);
	if (!err && listen(fd, SOCK_BACKLOG) < 0) {
		err = -errno;
		unlink(path);
	}
	if (err) {
		close(fd);
		return err;
	}
	*ret_fd = fd;
	return 0;
}

int xs_socket_server_create(struct xs_loop *loop, struct xs_store *store, const char *path,
			    const struct xs_socket_limits *lim, const struct xslog *log,
			    struct xs_socket_server **ret_srv)
{
	struct xs_socket_server *srv = calloc(1, sizeof(*srv));
	int err = -ENOMEM;

	if (!srv)
		return -ENOMEM;
	srv->src.ready = sock_server_ready;
	srv->loop = loop;
	srv->store = store;
	srv->log = log;
	srv->lim = *lim;
	/* The client's own replies may overshoot out_high by one frame. */
	if (srv->lim.out_max < srv->lim.out_high + 2 * XS_FRAME_MAX)
		srv->lim.out_max = srv->lim.out_high + 2 * XS_FRAME_MAX;
	srv->path = strdup(path);
	if (!srv->path)
		goto out_free;
	err = sock_listen(path, &srv->fd);
	if (err)
		goto out_free_path;
	err = xs_loop_add(loop, srv->fd, EPOLLIN, &srv->src);
	if (err)
		goto out_close;
	*ret_srv = srv;
	return 0;

out_close:
	close(srv->fd);
	unlink(path);
out_free_path:
	free(srv->path);
out_free:
	free(srv);
	return err;
}

void xs_socket_server_destroy(struct xs_socket_server *srv)
{
	if (!srv)
		return;
	while (srv->clients) {
		if (!srv->clients->dead)
			xs_loop_del(srv->loop, srv->clients->fd);
		sock_conn_free(srv->clients);
	}
	if (!srv->paused)
		xs_loop_del(srv->loop, srv->fd);
	close(srv->fd);
	unlink(srv->path);
	free(srv->path);
	free(srv);
}
