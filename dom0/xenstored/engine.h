/*
 * The XenStore request engine: everything between a complete, framed request
 * and the replies and watch events it produces. It knows nothing of sockets,
 * rings or event channels; transports (transport_socket.c, transport_ring.c)
 * frame bytes into messages, hand them to xs_conn_request(), and write out
 * what the engine passes to their send() callback.
 *
 *   client bytes --> transport (framing, limits) --> xs_conn_request()
 *                                                         |
 *   client  <----- transport->send(hdr, payload)  <-------+  replies, in order
 *   watchers <---- their transport->send()        <-------+  WATCH_EVENTs
 *
 * Single-threaded: the daemon's event loop is the only caller.
 */
#ifndef XENON_XENSTORED_ENGINE_H
#define XENON_XENSTORED_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>

/*
 * Message types newer than the Xen 4.17 xs_wire.h, numbered as in
 * docs/misc/xenstore.txt ("Message types" / XS_GET_FEATURE..XS_SET_QUOTA).
 * This is the only place xenon defines them.
 */
#ifndef XS_GET_FEATURE
#define XS_GET_FEATURE 23
#define XS_SET_FEATURE 24
#endif
#ifndef XS_GET_QUOTA
#define XS_GET_QUOTA 25
#define XS_SET_QUOTA 26
#endif

struct xs_store;
struct xs_conn;

/* Quotas, with Xen's C xenstored defaults (tools/xenstored/domain.c). */
struct xs_quota {
	unsigned int nodes;	   /* nodes owned by one domain: 1000 */
	unsigned int watches;	   /* watches per connection: 128 */
	unsigned int outstanding;  /* requests in flight per connection: 20 */
	unsigned int transactions; /* open transactions per connection: 10 */
	unsigned int txn_nodes;	   /* nodes touched by one transaction: 1024 */
	unsigned int perms;	   /* permission entries per node: 5 */
	unsigned int node_size;	   /* path + value + perms bytes of a node: 2048 */
	unsigned int path_max;	   /* path length: XENSTORE_REL_PATH_MAX 2048 */
	unsigned int memory;	   /* bytes per domain: 2.5 MiB hard */
};

struct xs_config {
	struct xs_quota quota;	  /* defaults for every unprivileged domain */
	bool keep_released_nodes; /* RELEASE leaves /local/domain/<id> in place */
	/* Ring features offered to domains (GET_FEATURE / SET_FEATURE bound). */
	unsigned int server_features; /* default RECONNECTION | ERROR */
	/* Optional log sink (NULL: stderr). level 0 error, 1 warn, 2 info, 3 debug. */
	void (*log)(void *log_ctx, int level, const char *msg);
	void *log_ctx;
};

/* What the engine needs from the transport that owns a connection. */
struct xs_conn_ops {
	/* Queue one message (reply or watch event) for the client, in order. The
	 * payload is copied before returning. A negative return means the
	 * transport is dead; the engine then stops sending to it. */
	int (*send)(void *transport, const struct xsd_sockmsg *hdr, const void *payload);
};

/* Hooks into the rest of dom0 for domain-level requests. Any may be NULL. */
struct xs_domain_ops {
	/* INTRODUCE <domid> <gfn> <port>: connect to the domain's ring. Return 0,
	 * or a negative errno the engine turns into an error reply. */
	int (*introduce)(void *ctx, struct xs_store *s, unsigned int domid, uint64_t gfn,
			 unsigned int port);
	/* RELEASE <domid>: the engine has already dropped the domain's state. */
	void (*release)(void *ctx, unsigned int domid);
	/* Does domid exist? (SET_PERMS owner check). NULL: every domid exists. */
	bool (*domain_exists)(void *ctx, unsigned int domid);
	void *ctx;
};

void xs_config_defaults(struct xs_config *cfg);

struct xs_store *xs_store_create(const struct xs_config *cfg, const struct xs_domain_ops *dops);
void xs_store_destroy(struct xs_store *s);

/* A client connection: a socket client (domid 0, privileged) or a domain's
 * ring (introduced domid, unprivileged unless domid 0). */
struct xs_conn *xs_conn_create(struct xs_store *s, unsigned int domid, bool privileged,
			       const struct xs_conn_ops *ops, void *transport);
/* Drops the connection's watches and transactions. Accepts NULL. */
void xs_conn_destroy(struct xs_conn *c);

/* Handle one complete request. hdr->len bytes of payload follow in payload
 * (hdr->len <= XENSTORE_PAYLOAD_MAX is the transport's job). Replies and any
 * watch events caused go out through the ops->send callbacks before this
 * returns. */
void xs_conn_request(struct xs_conn *c, const struct xsd_sockmsg *hdr, const char *payload);

/* Attach a connection to an introduced domain (ring transport). */
int xs_domain_attach(struct xs_store *s, unsigned int domid, struct xs_conn *c);

/* The hypervisor reports a domain dead: as RELEASE, but from dom0 itself. */
void xs_domain_gone(struct xs_store *s, unsigned int domid);

/* The quotas in force for a connection (its domain's, after SET_QUOTA), e.g.
 * for the transport to bound requests in flight by .outstanding. Privileged
 * connections are exempt from every quota: *ret_quota gets UINT_MAX fields. */
void xs_conn_quota(const struct xs_conn *c, struct xs_quota *ret_quota);

/* Features SET_FEATURE gave the connection's domain (ring transports). */
unsigned int xs_conn_features(const struct xs_conn *c);

#endif
