/*
 * An in-process environment for vchan's ring core (struct vchan_env_ops):
 * both ends of a channel in one process, for unit tests and the fuzzer.
 *
 * A "world" holds what the hypervisor and XenStore would: grants (each a
 * page of a memfd, so a mapping is a second view of the same memory at
 * another address, as between domains), event channel pairs, a small
 * store, and counters of everything live, so a test can prove close()
 * leaked nothing. Mappings are recorded with their grants, so each grant
 * counts its live mappings: a test can prove every grant a client mapped
 * was unmapped (vchan_fake_grant_maps), that no grant was mapped twice at
 * once (double_maps) and that every unmap named a mapping, whole
 * (bad_unmaps). A grant its owner unshares while it is still mapped stays
 * until its last unmap, as a granted page does. Each end has a struct vchan_fake_end as its ctx:
 * its domid, the events it received (waits sleep on a condition variable, so two threads can
 * stream), and a `dead` flag that makes it look killed to its peer (peer_alive(thorough) fails, as
 * a destroyed domain's port does).
 */
#ifndef XENON_VCHAN_FAKE_H
#define XENON_VCHAN_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "xen_vchan.h"

#define VF_MAX_GRANTS 2048
#define VF_MAX_PORTS 64
#define VF_MAX_NODES 32
#define VF_MAX_MAPPINGS 64
#define VF_MAP_MAX_PAGES 256 /* a 1 MiB ring */

struct vchan_fake_world;

struct vchan_fake_end {
	struct vchan_fake_world *w;
	domid_t domid;
	bool dead;		/* looks killed to its peer */
	uint64_t events;	/* events received */
	uint64_t events_seen;	/* as of the last wait */
	uint64_t notifies_sent; /* notify() calls */
	uint64_t waits;		/* wait() calls */
	bool no_wait;		/* wait() must not be called (single-thread tests) */
	unsigned int wait_calls_when_forbidden;
};

struct vf_grant {
	bool used;
	bool revoked; /* unshared while mapped: freed at its last unmap */
	domid_t owner, peer;
	int fd;		   /* memfd holding the page */
	size_t off;	   /* page offset in fd */
	unsigned int maps; /* live mappings of this grant */
};

/* One map() call's pages, so unmap() can find their grants. */
struct vf_mapping {
	uint8_t *addr; /* NULL: slot free */
	unsigned int n;
	uint32_t refs[VF_MAP_MAX_PAGES];
};

struct vf_port {
	bool used;
	struct vchan_fake_end *owner;
	int peer_port; /* -1: unbound */
	domid_t remote;
};

struct vf_node {
	bool used;
	char path[300];
	char value[64];
	domid_t reader;
};

struct vchan_fake_world {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vf_grant grants[VF_MAX_GRANTS];
	struct vf_port ports[VF_MAX_PORTS];
	struct vf_node nodes[VF_MAX_NODES];
	struct vf_mapping mappings[VF_MAX_MAPPINGS];
	unsigned int live_grants, live_maps, live_ports, live_shares;
	unsigned int double_maps;  /* a grant mapped while already mapped */
	unsigned int bad_unmaps;   /* unmap() of no mapping, or not whole */
	bool fail_share, fail_map; /* inject failures */
};

extern const struct vchan_env_ops vchan_fake_ops;

void vchan_fake_world_init(struct vchan_fake_world *w);
void vchan_fake_world_fini(struct vchan_fake_world *w);
void vchan_fake_end_init(struct vchan_fake_end *e, struct vchan_fake_world *w, domid_t domid);
/* The store's value at path or NULL. */
const char *vchan_fake_store_get(struct vchan_fake_world *w, const char *path);
/* Nodes in the store. */
unsigned int vchan_fake_store_count(struct vchan_fake_world *w);
/* Live mappings summed over every grant (a grant mapped twice counts 2). */
unsigned int vchan_fake_grant_maps(struct vchan_fake_world *w);
/* Put a node directly (a test playing a hostile server). */
void vchan_fake_store_put(struct vchan_fake_world *w, const char *path, const char *value);

#endif
