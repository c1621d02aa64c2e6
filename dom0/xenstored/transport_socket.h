/*
 * The UNIX-socket transport: Debian's libxenstore (and xenstore-* tools,
 * test-xenstore) connect here. Every client is dom0 and privileged, as with
 * C xenstored's socket.
 */
#ifndef XENON_XENSTORED_TRANSPORT_SOCKET_H
#define XENON_XENSTORED_TRANSPORT_SOCKET_H

#include <stddef.h>

#include "engine.h"
#include "loop.h"
#include "xslog.h"

struct xs_socket_limits {
	unsigned int max_clients; /* accepted at once; more are closed at once */
	size_t out_high;	  /* a client with this much unread output is not served */
	size_t out_max;		  /* ... and is dropped when watch events push it here */
};

#define XS_SOCKET_DEFAULT_MAX_CLIENTS 1024
#define XS_SOCKET_DEFAULT_OUT_HIGH (64 * 1024)
#define XS_SOCKET_DEFAULT_OUT_MAX (16 * 1024 * 1024)

struct xs_socket_server;

void xs_socket_limits_defaults(struct xs_socket_limits *lim);

/* Listens on path (mode 0600; a stale socket there is replaced). */
int xs_socket_server_create(struct xs_loop *loop, struct xs_store *store, const char *path,
			    const struct xs_socket_limits *lim, const struct xslog *log,
			    struct xs_socket_server **ret_srv);
/* Closes every client and the listener, and unlinks the socket. Accepts NULL. */
void xs_socket_server_destroy(struct xs_socket_server *srv);

#endif
