/*
 * The back end's side of one console ring (struct xencons_interface,
 * io/console.h), as pure functions over the shared page: no syscalls, so the
 * daemon, the unit tests and the fuzzer run exactly this code.
 *
 *   0     in[1024]    we write, then advance in_prod; the guest reads
 *   1024  out[2048]   the guest writes, then advances out_prod; we read
 *   3072  in_cons in_prod out_cons out_prod   free-running u32 indices
 *
 * The guest owns out_prod and in_cons; every other index is ours, and we keep
 * our own copy of each (struct cons_ring) rather than trust the page's: a
 * guest that scribbles on out_cons or in_prod cannot make us re-read or skip
 * bytes. Each index the guest owns is read once per call and checked: a fill
 * (prod - cons) larger than the ring, or an in_cons beyond what we produced,
 * is a broken front end (-EIO); the caller stops serving it. No byte outside
 * in[]/out[] is ever touched, whatever the indices say.
 *
 * Output is consumed in two steps, so nothing is lost when the log cannot
 * take it all: cons_ring_peek() copies what is there, cons_ring_consume()
 * hands back only the bytes the caller has actually stored.
 */
#ifndef XENON_CONS_RING_H
#define XENON_CONS_RING_H

#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/io/console.h>

struct cons_ring {
	struct xencons_interface *intf;
	XENCONS_RING_IDX out_cons; /* ours: the next output byte to read */
	XENCONS_RING_IDX in_prod;  /* ours: the next input slot to fill */
};

/* Takes the page as found (a restarted back end continues where the last
 * one stopped); -EIO if its indices are already inconsistent. */
int cons_ring_init(struct cons_ring *r, struct xencons_interface *intf);
/* Copies up to len pending output bytes into buf without consuming them;
 * the count, or -EIO. */
long cons_ring_peek(const struct cons_ring *r, char *buf, size_t len);
/* Hands n bytes (at most what the last peek returned) back to the guest. */
void cons_ring_consume(struct cons_ring *r, size_t n);
/* Free room in in[]; or -EIO. */
long cons_ring_in_room(const struct cons_ring *r);
/* Copies what fits of buf into in[]; the count (0: full), or -EIO. */
long cons_ring_put(struct cons_ring *r, const char *buf, size_t len);

#endif
