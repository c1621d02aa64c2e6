/*
 * The daemon's event loop: one epoll set, level-triggered, single-threaded.
 *
 * Each iteration has two phases:
 *
 *   1. dispatch: every ready fd's source->ready() runs. Handlers read input
 *      and run requests; replies are only appended to output queues.
 *   2. deferred: every xs_loop_deferred queued during phase 1 runs once, in
 *      queue order. Transports flush output here (one write per connection
 *      per iteration, however many replies were queued) and free connections
 *      that died during phase 1 (never while the engine may still hold them).
 *
 * Optionally the loop polls (epoll_wait with a zero timeout) for spin_us
 * before blocking: on this kind of machine a blocked thread costs ~10 µs to
 * wake, more than the whole request takes, so a client doing round trips is
 * served faster if the daemon is still awake when its next request lands.
 */
#ifndef XENON_XENSTORED_LOOP_H
#define XENON_XENSTORED_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct xs_loop;

/* Something with an fd in the loop; embed it and use container_of. */
struct xs_loop_source {
	void (*ready)(struct xs_loop_source *src, uint32_t events);
};

/* Work to run after the dispatch phase; embed it. Queued at most once. */
struct xs_loop_deferred {
	void (*run)(struct xs_loop_deferred *d);
	struct xs_loop_deferred *prev, *next; /* NULL/NULL when not queued */
	bool queued;
};

#define xs_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

int xs_loop_create(unsigned int spin_us, struct xs_loop **ret_loop);
void xs_loop_destroy(struct xs_loop *loop);

int xs_loop_add(struct xs_loop *loop, int fd, uint32_t events, struct xs_loop_source *src);
int xs_loop_mod(struct xs_loop *loop, int fd, uint32_t events, struct xs_loop_source *src);
void xs_loop_del(struct xs_loop *loop, int fd);

void xs_loop_defer(struct xs_loop *loop, struct xs_loop_deferred *d);
void xs_loop_cancel(struct xs_loop *loop, struct xs_loop_deferred *d);

/* Runs until xs_loop_stop(); returns 0 or a negative errno from epoll. */
int xs_loop_run(struct xs_loop *loop);
void xs_loop_stop(struct xs_loop *loop);

#endif
