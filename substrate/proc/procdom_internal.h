/*
 * Definitions shared by procdom's files (procdom.c: context, memory,
 * substrate ops, timers; procdom_spawn.c: processes; procdom_hc.c:
 * hypercall sockets and map changes). Nothing outside substrate/proc/
 * includes this.
 */
#ifndef XENON_PROCDOM_INTERNAL_H
#define XENON_PROCDOM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "procdom.h"

#define PROCDOM_XEN_EXTRA 8 /* xen pages beyond the grant frames */

/* One mapped memfd. */
struct procdom_region {
	int fd;
	uint8_t *base;
	size_t size;
};

/* A memfd of its own shown in a local domain's RAM (procdom.h). */
struct procdom_overlay {
	struct procdom_domain *d; /* NULL once the domain is released */
	int fd;
	int ro_fd; /* O_RDONLY reopening, made at first need; -1: none */
	uint32_t nr_pages;
	uint64_t *gfns; /* page i shown at gfns[i]; PROCDOM_OVL_DETACHED: not */
	uint32_t nr_attached;
	unsigned int refs;		       /* 1 while a page is attached, + 1 per pending map */
	struct procdom_overlay *next, **pprev; /* d->overlays */
};

#define PROCDOM_OVL_DETACHED UINT64_MAX

/* Which overlay page a gfn of the overlay range shows (o NULL: none). */
struct procdom_ovl_slot {
	struct procdom_overlay *o;
	uint32_t idx;
};

/* A map change waiting for the domain's next reply. The source is named
 * by domid, not fd, so a source domain destroyed meanwhile becomes a hole
 * instead of a dangling fd; an overlay's page names the overlay, which the
 * change holds a reference to, so the fd it sends is the one resolved
 * even if the frame was given to someone else since. */
struct procdom_pending_map {
	uint64_t gfn;
	uint64_t offset;
	uint32_t kind;		     /* enum procdom_map_kind */
	domid_t src;		     /* PROCDOM_MAP_FD: whose ram memfd */
	bool readonly;		     /* the guest maps it PROT_READ (GNTMAP_readonly) */
	struct procdom_overlay *ovl; /* PROCDOM_MAP_FD of an overlay: its fd */
};

/* Fast send path, per sender (procdom_send.c has the state machine). */
enum procdom_slot_state {
	PROCDOM_SLOT_FREE,	  /* nothing of a peer mapped in the domain */
	PROCDOM_SLOT_MAP_QUEUED,  /* PEER_EVT waits for the next reply */
	PROCDOM_SLOT_MAPPED,	  /* PEER_EVT sent: entries may name the slot */
	PROCDOM_SLOT_DROP_QUEUED, /* unused; PEER_DROP waits for the next reply */
	PROCDOM_SLOT_DROP_SENT,	  /* PEER_DROP sent; vCPUs in drop_wait not yet past it */
};

struct procdom_peer_slot {
	domid_t peer;	    /* DOMID_INVALID unless MAP_QUEUED or MAPPED */
	uint8_t state;	    /* enum procdom_slot_state */
	bool in_reply;	    /* its change rides in the reply being sent */
	unsigned int users; /* want[] entries naming the slot */
	/* DROP_SENT: bit v = vCPU v has not yet shown it is past the drop
	 * (procdom_send.c, "Slot reuse"); drop_vcpu got the PEER_DROP. */
	uint32_t drop_wait;
	unsigned int drop_vcpu;
};

/* What entry p should say once its slot is MAPPED (slot 0: no entry). */
struct procdom_send_want {
	uint16_t slot, vcpu;
	uint32_t port;
};

struct procdom_send {
	struct procdom_peer_slot slot[PROCDOM_MAX_PEER_SLOTS + 1]; /* [0] unused */
	struct procdom_send_want want[PROCDOM_SEND_TABLE_PORTS];
	unsigned int nr_drops_sent; /* slots in DROP_SENT */
	bool full_logged;	    /* running out of slots is logged once */
};

struct procdom_domain {
	struct procdom *pd;
	domid_t domid;
	unsigned int max_vcpus;
	uint64_t max_pages;
	bool local;			      /* spec.local: no process, ever */
	struct procdom_domain *next, **pprev; /* pd->domains list */

	struct procdom_region ram, evt, xen;
	/* Overlays (local domains): slots for [ovl_gfn, ovl_gfn + ovl_n). */
	struct procdom_ovl_slot *ovl;
	uint64_t ovl_gfn;
	uint32_t ovl_n;
	struct procdom_overlay *overlays;
	bool ovl_fail_logged; /* a memfd for an overlay could not be made */
	/* Free xen pages: a stack of page indices, bounded by xen_pages. */
	unsigned int xen_pages, nr_xen_free;
	uint32_t *xen_free;
	/* The core's first page request for a domain is its shared_info
	 * (domain.c: info_shared_init runs before any other allocation); it
	 * gets evt page 0, which the runtime and peers map. */
	bool shared_info_given;

	/* Process. */
	bool proc;	  /* it has one, or one is being started (spawning) */
	bool spawning;	  /* asked of the spawner, not answered yet */
	bool spawn_quiet; /* being killed: no spawned hook when answered */
	int spawn_err;	  /* the start failed (then proc is false) */
	uint32_t spawn_seq;
	struct procdom_domain *spawn_next; /* pd->spawn_head list, in order */
	pid_t pid;			   /* 0: none (yet) */
	struct procdom_domain *pid_next;   /* pd->by_pid chain, while pid != 0 */
	int pidfd;			   /* -1: none */
	bool reaped;			   /* the leader has been waited for */
	int *hc_fds;			   /* our ends, [max_vcpus], -1 when closed */
	bool started;			   /* first unpause happened */
	bool boot_waiting;		   /* PROCDOM_HC_BOOT arrived, not yet answered */
	bool boot_early; /* answered at the first unpause, request still to come */
	uint32_t boot_seq;
	bool stopped; /* SIGSTOPped by us */

	/* Pending map changes, coalesced by gfn (at most one per gfn below
	 * max_gfn, so bounded by the guest's frame space). */
	struct procdom_pending_map *maps;
	unsigned int nr_maps, maps_cap;

	/* Timers: absolute deadline per vCPU, 0 = none. */
	uint64_t *timer_deadline;

	/* Send table state, allocated when the first entry is wanted; the
	 * domains that have one are on pd->senders (through send_next). */
	struct procdom_send *send;
	struct procdom_domain *send_next;
	bool releasing; /* destroyed in the core: no longer anyone's peer */
};

#define PROCDOM_PID_BUCKETS 1024

struct procdom {
	struct procdom_hooks hooks;
	struct hypervisor *hv;
	struct procdom_domain **by_id; /* [DOMID_FIRST_RESERVED] */
	struct procdom_domain *domains;
	unsigned int nr_domains;
	/* Domains with a process (pid != 0), chained by pid % PROCDOM_PID_BUCKETS:
	 * whose a pid is costs the same with 1000 domains as with 10. */
	struct procdom_domain *by_pid[PROCDOM_PID_BUCKETS];
	/* Domains with send state (procdom_send.c): only they can name a
	 * peer, so a change walks them, not every domain. */
	struct procdom_domain *senders;
	int timer_fd;
	uint64_t timer_programmed; /* 0: disarmed */
	/* Starts domain processes once procdom_start_spawner() ran (NULL:
	 * spawned directly, also after it died and no new one could be made,
	 * which is logged). */
	struct procdom_spawner *spawner;
	/* Spawns asked and not answered, oldest first (answers come in that
	 * order); bounded by PROCDOM_SPAWNS_MAX. */
	struct procdom_domain *spawn_head, **spawn_tail;
	unsigned int nr_spawning;
	bool spawner_lost;	  /* replace it at the next start */
	bool standby;		  /* spawners keep a standby (procdom_set_standby) */
	bool templates_seen;	  /* a spawner kept one: a final sweep is owed */
	unsigned int spawner_gen; /* spawners started so far */
	struct procdom_stats stats;
};

void procdom_log(struct procdom *pd, enum hv_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline struct procdom_vcpu_page *procdom_vcpu_page(struct procdom_domain *d,
							  unsigned int vcpu)
{
	return (struct procdom_vcpu_page *)(d->evt.base + (size_t)(1 + vcpu) * PROCDOM_PAGE_SIZE);
}

/* procdom.c: overlays */
/* The overlay page showing d's RAM frame gfn, or NULL. */
struct procdom_overlay *procdom_overlay_at(struct procdom_domain *d, uint64_t gfn,
					   uint32_t *ret_idx);
void procdom_overlay_get(struct procdom_overlay *o);
void procdom_overlay_put(struct procdom_overlay *o);
/* The fd to send for a mapping (readonly: the O_RDONLY one), -1: none. */
int procdom_overlay_send_fd(struct procdom_overlay *o, bool readonly);
/* The domain goes: its overlays detached and orphaned, slots freed. */
void procdom_overlays_release(struct procdom_domain *d);

/* procdom_hc.c */
void procdom_maps_record(struct procdom_domain *d, uint64_t gfn, const void *page, bool readonly);
void procdom_hc_fini(struct procdom_domain *d);
int procdom_hc_init(struct procdom_domain *d);

/* procdom_send.c */
/* A slow EVTCHNOP_send on p: make sure entry p is what the core says. */
void procdom_send_port_check(struct procdom_domain *d, evtchn_port_t p);
/* Before d's memory goes: no table names d any more. */
void procdom_send_domain_gone(struct procdom_domain *d);
/* Queued slot changes into a reply being built: at most `room` entries at
 * maps; fd_index(ctx, fd) gives the reply's index of an fd. *ret_more:
 * changes are left over. Then procdom_send_reply_done(d, sent). */
unsigned int procdom_send_take_maps(struct procdom_domain *d, struct procdom_map *maps,
				    unsigned int room, int (*fd_index)(void *ctx, int fd),
				    void *ctx, bool *ret_more);
void procdom_send_reply_done(struct procdom_domain *d, unsigned int vcpu, bool sent);
/* A request arrived on vCPU vcpu's socket: it is past every drop sent
 * before (it applied its own replies' drops and is in no fast send). */
void procdom_send_request_seen(struct procdom_domain *d, unsigned int vcpu);

/* procdom_spawn.c */
void procdom_process_fini(struct procdom_domain *d);
/* procdom_destroy's last step (procdom_spawn.c): the spawner stopped, then
 * the final sweep for children nobody was told of. */
void procdom_spawns_fini(struct procdom *pd);

#endif
