/*
 * What the files of libxenon-dom0 share (xenon_dom0.c: the connection and
 * requests; gnttab.c: grant maps and shares). Not installed.
 */
#ifndef XENON_DOM0_INTERNAL_H
#define XENON_DOM0_INTERNAL_H

#include "xenon_dom0.h"

#define XENON_EVQ_SIZE 4096 /* > the ports one connection may own (1024) */

struct xenon_ctl {
	int fd;
	uint32_t seq;
	uint8_t *buf; /* PROCDOM_CTL_MAX_MSG */
	uint32_t evq[XENON_EVQ_SIZE];
	unsigned int evq_head, evq_len;
};

struct xenon_reply {
	struct procdom_ctl_msg m;
	const uint8_t *payload; /* in ctl->buf until the next request */
	size_t plen;
};

/*
 * Send op with payload p1 + p2 and wait for its reply (events that arrive
 * first are queued). 0 or -errno; the op's result is r->m.arg.
 *
 * Descriptors: xenon-hvd attaches one to a few replies (FOREIGN_MAP,
 * GNT_MAP, GNTSHR_SHARE). Only a caller that passes ret_fd gets it: *ret_fd
 * is the reply's descriptor or -1, and the caller closes it. Any other
 * descriptor that arrives -- with a reply whose caller passed NULL, with an
 * event, with a stray message, or past the first -- is closed here, so a
 * peer that attaches descriptors where none belong cannot make us leak.
 */
int xenon_request_fd(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, int64_t arg,
		     const void *p1, size_t l1, const void *p2, size_t l2, struct xenon_reply *r,
		     int *ret_fd);
/* xenon_request_fd() for a reply that carries no descriptor. */
int xenon_request(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, int64_t arg, const void *p1,
		  size_t l1, const void *p2, size_t l2, struct xenon_reply *r);
/* A request whose reply is just a result. */
int xenon_simple(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, int64_t arg);

#endif
