/*
 * One domain's console: its ring, log, socket and attached clients (design
 * in consoled.h). Teardown is mark-and-sweep: a client or console marked
 * dead is freed by cd_consoles_reap() after the event batch, so no epoll
 * event of the batch can point at freed memory. Marking queues the console
 * for the reaper, which visits only those.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "consoled.h"

#define CD_CHUNK 2048 /* one out[] at a time */

/* The console of domid not marked dead (at most one), or NULL. */
struct cd_console *cd_console_by_domid(struct cd *cd, unsigned int domid)
{
	return idtab_ptr(&cd->by_domid, domid);
}

/* The console whose ring our port serves, or NULL (port 0 never is). */
struct cd_console *cd_console_by_port(struct cd *cd, evtchn_port_t port)
{
	return port ? idtab_ptr(&cd->by_port, port) : NULL;
}

void cd_console_queue_reap(struct cd_console *con)
{
	/* Freeing detaches and so kills its clients, which would queue it:
	 * the list must not keep a console that is about to be freed. */
	if (con->queued || con->freeing)
		return;
	con->queued = true;
	con->rnext = con->cd->reap_list;
	con->cd->reap_list = con;
}

/* ---- clients ---------------------------------------------------------- */

static void client_update(struct cd_client *c)
{
	uint32_t want = 0;

	if (c->dead)
		return;
	if (!c->in_blocked)
		want |= EPOLLIN;
	if (c->olen && !c->hung_up)
		want |= EPOLLOUT;
	if (want != c->events && !cd_epoll_set(c->con->cd, c->fd, c->events, want, &c->src))
		c->events = want;
}

static void client_kill(struct cd_client *c, const char *why)
{
	if (c->dead)
		return;
	cd_log(c->con->cd, CD_INFO, "d%u: client detached (%s)", c->con->domid, why);
	cd_epoll_set(c->con->cd, c->fd, c->events, 0, &c->src);
	c->events = 0;
	c->dead = true;
	cd_console_queue_reap(c->con);
}

static void client_free(struct cd_client *c)
{
	close(c->fd);
	free(c->obuf);
	free(c);
}

static void client_flush(struct cd_client *c)
{
	while (c->olen && !c->hung_up) {
		size_t seg = CD_CLIENT_BUF - c->ohead;
		ssize_t n = write(c->fd, c->obuf + c->ohead, seg < c->olen ? seg : c->olen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->hung_up = true; /* EPIPE and the like: reads may still come */
			c->olen = 0;
			break;
		}
		c->ohead = (c->ohead + (size_t)n) % CD_CLIENT_BUF;
		c->olen -= (size_t)n;
	}
	client_update(c);
}

/* A copy of the guest's output for one client; too slow a client goes. */
static void client_send(struct cd_client *c, const char *buf, size_t len)
{
	size_t tail, i;

	if (c->dead || c->hung_up)
		return;
	if (c->olen + len > CD_CLIENT_BUF) {
		cd_log(c->con->cd, CD_WARN, "d%u: a client is %d bytes behind: disconnected",
		       c->con->domid, CD_CLIENT_BUF);
		client_kill(c, "too slow");
		return;
	}
	tail = (c->ohead + c->olen) % CD_CLIENT_BUF;
	for (i = 0; i < len; i++)
		c->obuf[(tail + i) % CD_CLIENT_BUF] = buf[i];
	c->olen += len;
	client_flush(c);
}

static void console_break(struct cd_console *con, const char *why);

/* Moves what in[] has room for from the client; never reads more. */
static void client_feed(struct cd_client *c)
{
	struct cd_console *con = c->con;
	char buf[sizeof(con->ring.intf->in)];
	long room, put;
	ssize_t n;

	if (c->dead || con->broken || !con->page)
		return;
	room = cons_ring_in_room(&con->ring);
	if (room < 0) {
		console_break(con, "in_cons out of range");
		return;
	}
	c->in_blocked = room == 0;
	if (c->in_blocked) {
		client_update(c);
		return;
	}
	n = read(c->fd, buf, (size_t)room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_kill(c, n ? strerror(errno) : "end of input");
		return;
	}
	/* room only grows while we hold it (the guest consumes): all fits. */
	put = cons_ring_put(&con->ring, buf, (size_t)n);
	if (put != n) {
		console_break(con, "in_cons out of range");
		return;
	}
	xenon_evtchn_notify(con->cd->xe, con->port);
	client_update(c);
}

void cd_client_ready(struct cd_client *c, uint32_t events)
{
	if (c->dead)
		return;
	if (events & EPOLLERR) {
		client_kill(c, "socket error");
		return;
	}
	if (events & EPOLLOUT)
		client_flush(c);
	if (events & EPOLLHUP && !c->hung_up) {
		/* Gone both ways: still read what it sent before it went. */
		c->hung_up = true;
		c->olen = 0;
		client_update(c);
	}
	if (events & (EPOLLIN | EPOLLHUP))
		client_feed(c);
}

void cd_console_accept(struct cd_console *con)
{
	struct cd_client *c;
	int fd = accept4(con->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (con->nr_clients >= CD_MAX_CLIENTS || con->broken) {
		if (!con->clients_logged)
			cd_log(con->cd, CD_WARN, "d%u: %s: client refused", con->domid,
			       con->broken ? "console broken" : "too many clients");
		con->clients_logged = true;
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->obuf = malloc(CD_CLIENT_BUF);
	if (!c || !c->obuf) {
		free(c);
		close(fd);
		return;
	}
	c->con = con;
	c->fd = fd;
	c->src = (struct cd_src){ CD_SRC_CLIENT, c };
	con->clients[con->nr_clients++] = c;
	client_update(c);
	cd_log(con->cd, CD_INFO, "d%u: client attached", con->domid);
}

/* ---- the ring --------------------------------------------------------- */

/* Appends all of buf to the log; how much it took (short only on error). */
static size_t log_append(struct cd_console *con, const char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(con->log_fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!con->log_failing)
				cd_log(con->cd, CD_ERR,
				       "d%u: log write: %s (output held in the ring)", con->domid,
				       n ? strerror(errno) : "no progress");
			con->log_failing = true;
			break;
		}
		done += (size_t)n;
	}
	if (done == len)
		con->log_failing = false;
	return done;
}

/* Log first, then clients, then hand the bytes back: bounded by one pass
 * over what the guest had written when we looked (plus what it adds). */
static void console_drain(struct cd_console *con)
{
	char buf[CD_CHUNK];
	size_t total = 0, took;
	long n;

	while (total < 64 * CD_CHUNK) {
		n = cons_ring_peek(&con->ring, buf, sizeof(buf));
		if (n < 0) {
			console_break(con, "out_prod out of range");
			return;
		}
		if (n == 0)
			break;
		took = log_append(con, buf, (size_t)n);
		for (unsigned int i = 0; i < con->nr_clients; i++)
			client_send(con->clients[i], buf, took);
		cons_ring_consume(&con->ring, took);
		total += took;
		if (took < (size_t)n)
			break;
	}
	if (total)
		xenon_evtchn_notify(con->cd->xe, con->port);
}

void cd_console_service(struct cd_console *con)
{
	if (con->broken || !con->page)
		return;
	console_drain(con);
	/* The guest may have consumed input: clients waiting for room go on. */
	for (unsigned int i = 0; i < con->nr_clients && !con->broken; i++) {
		struct cd_client *c = con->clients[i];

		if (c->in_blocked) {
			c->in_blocked = false;
			client_feed(c);
		}
	}
}

/* ---- life ------------------------------------------------------------- */

/* Ring, port and clients go; the log stays (the entry too, until reaped). */
static void console_detach(struct cd_console *con)
{
	for (unsigned int i = 0; i < con->nr_clients; i++)
		client_kill(con->clients[i], "console closed");
	if (con->listen_fd >= 0) {
		cd_epoll_set(con->cd, con->listen_fd, EPOLLIN, 0, &con->listen_src);
		close(con->listen_fd);
		unlink(con->sock_path);
		con->listen_fd = -1;
	}
	if (con->port) {
		idtab_clear_ptr(&con->cd->by_port, con->port, con);
		xenon_evtchn_unbind(con->cd->xe, con->port);
	}
	con->port = 0;
	if (con->page)
		xenon_foreign_unmap(con->page, 1);
	con->page = NULL;
}

static void console_break(struct cd_console *con, const char *why)
{
	if (con->broken)
		return;
	con->broken = true;
	cd_log(con->cd, CD_ERR, "d%u: console broken (%s): no longer served", con->domid, why);
	console_detach(con);
}

void cd_console_gone(struct cd_console *con)
{
	/* What it wrote before it died is still in the page: log it. */
	if (!con->broken && con->page)
		console_drain(con);
	for (unsigned int i = 0; i < con->nr_clients; i++)
		client_flush(con->clients[i]);
	cd_log(con->cd, CD_INFO, "d%u: domain gone: console closed", con->domid);
	console_detach(con);
	con->dead = true;
	idtab_clear_ptr(&con->cd->by_domid, con->domid, con);
	cd_console_queue_reap(con);
}

/* Also takes it out of the domid table; cd->cons[] is the caller's. */
void cd_console_free(struct cd_console *con)
{
	if (!con)
		return;
	con->freeing = true;
	console_detach(con);
	idtab_clear_ptr(&con->cd->by_domid, con->domid, con);
	for (unsigned int i = 0; i < con->nr_clients; i++)
		client_free(con->clients[i]);
	if (con->log_fd >= 0)
		close(con->log_fd);
	free(con);
}

void cd_consoles_reap(struct cd *cd)
{
	unsigned int k;

	while (cd->reap_list) {
		struct cd_console *con = cd->reap_list;

		cd->reap_list = con->rnext;
		con->queued = false;
		for (k = 0; k < con->nr_clients;) {
			if (con->clients[k]->dead) {
				client_free(con->clients[k]);
				con->clients[k] = con->clients[--con->nr_clients];
			} else {
				k++;
			}
		}
		if (con->dead) {
			cd->cons[con->idx] = cd->cons[--cd->nr_cons];
			cd->cons[con->idx]->idx = con->idx;
			cd_console_free(con);
		}
	}
}

static int console_listen(struct cd_console *con)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n;

	n = snprintf(con->sock_path, sizeof(con->sock_path), "%s/d%u.sock", con->cd->dir,
		     con->domid);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, con->sock_path, (size_t)n + 1);
	con->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (con->listen_fd < 0)
		return -errno;
	unlink(con->sock_path); /* a previous consoled's, killed */
	if (bind(con->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(con->listen_fd, CD_MAX_CLIENTS) < 0)
		return -errno;
	con->listen_src = (struct cd_src){ CD_SRC_LISTEN, con };
	return cd_epoll_set(con->cd, con->listen_fd, 0, EPOLLIN, &con->listen_src);
}

static int console_setup(struct cd_console *con, uint64_t gfn, evtchn_port_t port)
{
	struct cd *cd = con->cd;
	char path[PATH_MAX + 32];
	int rc;

	snprintf(path, sizeof(path), "%s/d%u.log", cd->dir, con->domid);
	con->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (con->log_fd < 0)
		return -errno;
	con->page = xenon_foreign_map(cd->ctl, con->domid, gfn, 1, PROT_READ | PROT_WRITE);
	if (!con->page)
		return -errno;
	if (cons_ring_init(&con->ring, con->page) < 0)
		return -EIO;
	rc = xenon_evtchn_bind_interdomain(cd->xe, con->domid, port);
	if (rc < 0)
		return rc;
	con->port = (evtchn_port_t)rc;
	rc = idtab_set_ptr(&cd->by_port, con->port, con);
	return rc < 0 ? rc : console_listen(con);
}

void cd_console_attach(struct cd *cd, unsigned int domid, int32_t pid, uint64_t gfn,
		       evtchn_port_t port)
{
	struct cd_console *con;
	int rc;

	if (cd->nr_cons >= CD_MAX_CONSOLES) {
		if (!cd->limit_logged)
			cd_log(cd, CD_WARN, "%d consoles served: d%u and later not served",
			       CD_MAX_CONSOLES, domid);
		cd->limit_logged = true;
		return;
	}
	con = calloc(1, sizeof(*con));
	if (!con)
		return;
	*con = (struct cd_console){
		.cd = cd, .domid = domid, .pid = pid, .log_fd = -1, .listen_fd = -1
	};
	rc = idtab_set_ptr(&cd->by_domid, domid, con);
	if (rc < 0) {
		cd_log(cd, CD_WARN, "d%u: console not served: %s", domid, strerror(-rc));
		free(con);
		return;
	}
	con->idx = cd->nr_cons;
	cd->cons[cd->nr_cons++] = con;
	rc = console_setup(con, gfn, port);
	if (rc < 0) {
		/* Kept, broken, so the next rescan does not retry and log again. */
		console_break(con, strerror(-rc));
		return;
	}
	cd_log(cd, CD_INFO, "d%u: console at gfn %#llx, port %u (ours %u)", domid,
	       (unsigned long long)gfn, port, con->port);
	/* Output written before we came: the port fired into nobody. */
	cd_console_service(con);
}
