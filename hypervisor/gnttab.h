/*
 * Grant tables, v1 (gnttab.c). The shared entries live in hypervisor pages
 * the guest maps with XENMEM_add_to_physmap(XENMAPSPACE_grant_table) and
 * writes directly; the hypervisor reads them with the flag protocol of
 * grant_table.h (GTF_reading/GTF_writing via cmpxchg). Mappings another
 * domain holds are tracked in the mapper's bounded maptrack table.
 */
#ifndef XENON_HYPERVISOR_GNTTAB_H
#define XENON_HYPERVISOR_GNTTAB_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>

struct domain;
struct vcpu;
struct grant_table; /* defined in gnttab.c */

#define GNTTAB_DEFAULT_MAX_FRAMES 64
#define GNTTAB_DEFAULT_MAX_MAPTRACK_FRAMES 1024

/* Entries 0..GNTTAB_NR_RESERVED_ENTRIES-1 need one frame; Xen starts every
 * table with one frame and grows it on setup_table / add_to_physmap. */
#define GNTTAB_INITIAL_FRAMES 1
/* Upper bounds accepted by gnttab_domain_init (a configuration error past
 * them, not a guest one). */
#define GNTTAB_HARD_MAX_FRAMES 1024
#define GNTTAB_HARD_MAX_MAPTRACK_FRAMES 16384
/* Xen's struct grant_mapping is 16 bytes: 256 handles per maptrack frame. */
#define GNTTAB_MAPTRACK_PER_FRAME 256
/* Elements one batched GNTTABOP may carry. Xen preempts long batches with a
 * continuation; the core cannot, so larger counts are refused with -EINVAL
 * (logged once per domain) to bound the time one hypercall takes. */
#define GNTTAB_MAX_BATCH 1024
/* setup_table's frame_list value for a frame the guest has not placed in
 * its frame space with XENMEM_add_to_physmap yet. */
#define GNTTAB_FRAME_NOT_SHOWN (~(xen_pfn_t)0)

/* max_frames: 0 = GNTTAB_DEFAULT_MAX_FRAMES. max_maptrack_frames: 0 = the
 * domain cannot map grants (as in Xen). Needs d->hv. */
int gnttab_domain_init(struct domain *d, unsigned int max_frames, unsigned int max_maptrack_frames);
/* Undo every mapping d holds of others' grants and every mapping others
 * hold of d's grants, then free the table. Accepts a domain without one.
 * Call it while d's frame space (memory.c) and every other live domain
 * still exist: it removes the mappers' overlays. */
void gnttab_domain_fini(struct domain *d);

/* GNTTABOP_* from a guest vCPU: `count` elements at guest address arg. */
long do_grant_table_op(struct vcpu *v, unsigned int cmd, uint64_t arg, unsigned int count);

/* Shared frame idx of d's table (XENMAPSPACE_grant_table), growing the
 * table up to idx if allowed. NULL if idx is beyond the limit. */
void *gnttab_shared_frame(struct domain *d, unsigned int idx);

/* Mappings d currently holds of other domains' grants. */
unsigned int gnttab_maps_held(struct domain *d);

/* Introspection for tests, fuzzers and dump_table. */
struct gnttab_pins {
	unsigned int host_read, host_write; /* GNTMAP_host_map (and copies) */
	unsigned int dev_read, dev_write;   /* GNTMAP_device_map */
};
/* Frames of d's table in use (0 without a table). */
unsigned int gnttab_nr_frames(struct domain *d);
/* Pin counts of d's entry ref held by mappers; -ENOENT past the table. */
int gnttab_entry_pins(struct domain *d, grant_ref_t ref, struct gnttab_pins *ret);
/* Sum of all pins on d's entries (0 once nobody maps d's grants). */
unsigned long gnttab_pins_total(struct domain *d);

#endif
