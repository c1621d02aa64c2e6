/*
 * idtab: a table indexed by a small integer id -- a domid, an event channel
 * port -- for the dom0 daemons' per-event lookups (which ring fired, which
 * console is domain N's), so that finding one costs the same with 1000
 * domains as with 10.
 *
 * A flat array of fixed-size elements, zeroed when they come into being,
 * grown by doubling when an id beyond its end is stored, never beyond
 * `limit` ids. Ids are dense and bounded (domids below DOMID_FIRST_RESERVED,
 * ports below the event channel ABI's limit), so the array costs what a
 * hash would, and a lookup is one bounds check and one load:
 *
 *   limit 32752, elem 8, ids 1..1000 stored:
 *   base -> [ 0 | p1 | p2 | ... | p1000 | 0 ... 0 ]   size 1024 (8 KiB)
 *
 * Not thread-safe. An element's address changes when the table grows: keep
 * ids, not element pointers, across idtab_get() calls.
 */
#ifndef XENON_LIB_IDTAB_H
#define XENON_LIB_IDTAB_H

#include <stddef.h>

struct idtab {
	unsigned char *base;
	size_t elem;		  /* bytes per element */
	unsigned int size, limit; /* elements allocated; ids below limit */
};

void idtab_init(struct idtab *t, size_t elem, unsigned int limit);
void idtab_fini(struct idtab *t); /* frees the array; the elements are the caller's */
/* id's element, or NULL when the table never grew that far (the element
 * would be all zero) or id >= limit. Never allocates. */
void *idtab_find(const struct idtab *t, unsigned int id);
/* id's element, growing the table (zeroed) as needed: 0, -E2BIG (id >=
 * limit) or -ENOMEM. */
int idtab_get(struct idtab *t, unsigned int id, void **ret);

/* The common case, a table of pointers. */
void *idtab_ptr(const struct idtab *t, unsigned int id); /* NULL: none */
int idtab_set_ptr(struct idtab *t, unsigned int id, void *p);
/* Clears id's pointer only if it is p (a newer object may own the id). */
void idtab_clear_ptr(struct idtab *t, unsigned int id, const void *p);

#endif
