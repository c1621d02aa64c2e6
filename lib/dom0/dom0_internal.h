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
	int fd; /* -1: none; the caller closes it */
};

/* Send op with payload p1 + p2 and wait for its reply (events that arrive
 * first are queued). 0 or -errno; the op's result is r->m.arg. */
int xenon_request(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, int64_t arg, const void *p1,
		  size_t l1, const void *p2, size_t l2, struct xenon_reply *r);
/* A request whose reply is just a result. */
int xenon_simple(struct xenon_ctl *ctl, uint32_t op, uint32_t domid, int64_t arg);

#endif
