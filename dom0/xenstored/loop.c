/* See loop.h for the two-phase iteration. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 64

struct xs_loop {
	int epfd;
	bool stop;
	unsigned int spin_us;
	struct xs_loop_deferred *head, *tail; /* deferred work of this iteration */
};

int xs_loop_create(unsigned int spin_us, struct xs_loop **ret_loop)
{
	struct xs_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;

		free(loop);
		return err;
	}
	loop->spin_us = spin_us;
	*ret_loop = loop;
	return 0;
}

void xs_loop_destroy(struct xs_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

static int loop_ctl(struct xs_loop *loop, int op, int fd, uint32_t events,
		    struct xs_loop_source *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int xs_loop_add(struct xs_loop *loop, int fd, uint32_t events, struct xs_loop_source *src)
{
	return loop_ctl(loop, EPOLL_CTL_ADD, fd, events, src);
}

int xs_loop_mod(struct xs_loop *loop, int fd, uint32_t events, struct xs_loop_source *src)
{
	return loop_ctl(loop, EPOLL_CTL_MOD, fd, events, src);
}

void xs_loop_del(struct xs_loop *loop, int fd)
{
	/* Failure means the fd was never added; nothing to undo. */
	loop_ctl(loop, EPOLL_CTL_DEL, fd, 0, NULL);
}

void xs_loop_defer(struct xs_loop *loop, struct xs_loop_deferred *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	d->prev = loop->tail;
	if (loop->tail)
		loop->tail->next = d;
	else
		loop->head = d;
	loop->tail = d;
}

void xs_loop_cancel(struct xs_loop *loop, struct xs_loop_deferred *d)
{
	if (!d->queued)
		return;
	if (d->prev)
		d->prev->next = d->next;
	else
		loop->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		loop->tail = d->prev;
	d->prev = d->next = NULL;
	d->queued = false;
}

/* Deferred work may queue more deferred work (a flush that kills its
 * connection queues the reaper); pop until empty. */
static void loop_run_deferred(struct xs_loop *loop)
{
	while (loop->head) {
		struct xs_loop_deferred *d = loop->head;

		xs_loop_cancel(loop, d);
		d->run(d);
	}
}

static uint64_t loop_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Polls without sleeping for up to spin_us, then blocks. */
static int loop_wait(struct xs_loop *loop, struct epoll_event *evs)
{
	uint64_t deadline = 0;
	int n;

	for (;;) {
		n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, 0);
		if (n != 0 || !loop->spin_us)
			break;
		if (!deadline)
			deadline = loop_now_us() + loop->spin_us;
		else if (loop_now_us() >= deadline)
			break;
	}
	if (n == 0)
		n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, -1);
	return n;
}

int xs_loop_run(struct xs_loop *loop)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	loop->stop = false;
	while (!loop->stop) {
		int i, n = loop_wait(loop, evs);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			struct xs_loop_source *src = evs[i].data.ptr;

			src->ready(src, evs[i].events);
		}
		loop_run_deferred(loop);
	}
	return 0;
}

void xs_loop_stop(struct xs_loop *loop)
{
	loop->stop = true;
}
