/*
 * domid_set: a set of domids, with the two searches answered in a bounded
 * number of word reads, however many domains exist: the lowest free domid
 * >= n and the lowest used domid >= n. xenon-hvd keeps its domains in one
 * (CREATE without a domid, the log the spawner opens ahead, LIST paged: a
 * flat scan of the 32,752 slots cost ~50 us per LIST page); the fast send
 * path collects the peers of a domain's ports in one (procdom_send.c).
 *
 * Two levels: one bit per domid, and per 64-domid word one bit "not empty"
 * and one bit "full". A search reads at most its own word, the 8 summary
 * words and one more word:
 *
 *   used[]      512 words x 64 bits = domids 0..32767 (0x7ff0.. never set)
 *   nonempty[]  8 words: bit w = used[w] != 0      (next used)
 *   full[]      8 words: bit w = used[w] == ~0     (next free)
 *
 * Fixed size (4.2 KiB), no allocation; not thread-safe (xenon-hvd has one
 * thread).
 *
 * The core has the same two searches as linear scans of its domains[]
 * (domain_next(), and the lowest free id when domain_create() is given
 * DOMID_INVALID). Measured with 1000 domains in one core (fake substrate,
 * session 5, medians): walking all of them 109-177 us with domain_next()
 * against 6.4 us here; finding that nothing follows the last one -- the
 * end of every full LIST (xenstored lists all domains on each
 * VIRQ_DOM_EXC), and xenon_domain_info() of a gone domain with none above
 * it -- 150-650 us against 0.02 us (a noisy machine; the ratio is the
 * point). So this set is the one that serves xenon-hvd for both (it passes
 * the core an explicit domid and never calls domain_next()); the core's
 * scans are the duplicate. Moving this file into hypervisor/, beside
 * domains[], would let the core's own searches use it and xenon-hvd drop
 * its copy.
 */
#ifndef XENON_DOMID_SET_H
#define XENON_DOMID_SET_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>

#define DOMID_SET_WORDS ((DOMID_FIRST_RESERVED + 63) / 64)
#define DOMID_SET_SUMMARY ((DOMID_SET_WORDS + 63) / 64)

struct domid_set {
	uint64_t used[DOMID_SET_WORDS];
	uint64_t nonempty[DOMID_SET_SUMMARY];
	uint64_t full[DOMID_SET_SUMMARY];
};

void domid_set_init(struct domid_set *s);
/* id < DOMID_FIRST_RESERVED, else ignored (false for has). */
void domid_set_add(struct domid_set *s, domid_t id);
void domid_set_del(struct domid_set *s, domid_t id);
bool domid_set_has(const struct domid_set *s, domid_t id);
/* The lowest used / free id >= from and < DOMID_FIRST_RESERVED: 0, or
 * -ENOENT (used) / -ENOSPC (free) when there is none. */
int domid_set_next_used(const struct domid_set *s, unsigned int from, domid_t *ret);
int domid_set_next_free(const struct domid_set *s, unsigned int from, domid_t *ret);

#endif
