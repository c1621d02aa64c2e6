/*
 * xenon_ctl: the toolstack's connection to the hypervisor daemon.
 *
 * DESIGN ONLY: declarations for the next step; nothing implements or calls
 * them yet. The wire format is the hypervisor daemon's (its protocol
 * header under dom0/ will be the single source of truth); this header is
 * the CLI's view of it, so that every daemon-backed subcommand is written
 * against one small API.
 *
 * Transport (docs/process-domains.md): D/hvd.sock, AF_UNIX SOCK_SEQPACKET,
 * mode 0600, where D is the run dir (--run-dir, $XENON_RUN_DIR,
 * /run/xenon). SEQPACKET keeps message boundaries, so one request is one
 * message and one reply is one message; no framing, no partial reads.
 *
 *     xenon (client)                         xenon-hvd
 *     ──────────────                         ─────────
 *     connect(D/hvd.sock) ─────────────────▶ accept; peer must be our uid
 *     { op, seq, args }   ─────────────────▶ validate, act on the core
 *                         ◀───────────────── { seq, ret (-errno), payload }
 *     ...                                     (strictly request/reply;
 *                         ◀───────────────── events only after WATCH)
 *
 * Replies carry a negative errno (Xen's codes where the core produced
 * them) and a bounded payload; the client treats a short or oversized
 * reply as -EPROTO. A domain argument is a domid or a name; the daemon
 * resolves names so that two clients agree on what a name means.
 *
 * Creation, as the toolstack will drive it (xl's order):
 *   1. CREATE with the struct hv_domain_config from xlcfg_domain_to_hv()
 *      (+ the kernel path): the domain exists paused, with its pre-bound
 *      and reserved channels (all-or-nothing in the core);
 *   2. the store entries via Debian's libxenstore on D/xenstore/socket:
 *      /local/domain/N/{name,domid,vm,memory/target,cpu/...,console/
 *      {ring-ref,port,type},store/{ring-ref,port}}, perms owned by N;
 *   3. XS_INTRODUCE(N, store gfn, store port);
 *   4. UNPAUSE unless -p. Any failure: DESTROY (which removes 2 and 3).
 */
#ifndef XENON_CTL_H
#define XENON_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "hypervisor.h"

struct xenon_ctl; /* one connection; not shared between threads */

enum xenon_ctl_op {
	XENON_CTL_CREATE,   /* hv_domain_config + kernel -> domid, layout */
	XENON_CTL_DESTROY,  /* domain */
	XENON_CTL_PAUSE,    /* domain */
	XENON_CTL_UNPAUSE,  /* domain */
	XENON_CTL_SHUTDOWN, /* domain, SHUTDOWN_* reason (poweroff, reboot) */
	XENON_CTL_LIST,	    /* -> xenon_ctl_domain[] */
	XENON_CTL_EVTCHN,   /* domain -> ports with state and peer */
	XENON_CTL_GRANTS,   /* domain -> active grants and mappings (for graph) */
	XENON_CTL_CONSOLE,  /* domain -> an fd for the console stream (SCM_RIGHTS) */
	XENON_CTL_WATCH,    /* subscribe to domain state changes (shutdown -w) */
	XENON_CTL_STOP,	    /* xenon down */
};

/* One row of LIST. */
struct xenon_ctl_domain {
	domid_t domid;
	char name[65];
	enum hv_domain_state state;
	unsigned int shutdown_reason; /* SHUTDOWN_* when state is SHUTDOWN */
	unsigned int vcpus;
	uint64_t nr_pages, max_pages;
	uint64_t cpu_time_ns;
};

/* Connects to RUN_DIR/hvd.sock. -ENOENT/-ECONNREFUSED: no daemon (the CLI
 * then exits 3 with "is xenon up running?"). */
int xenon_ctl_open(const char *run_dir, struct xenon_ctl **ret);
void xenon_ctl_close(struct xenon_ctl *ctl); /* accepts NULL */

/* Domain argument: a decimal domid or a name -> domid. */
int xenon_ctl_resolve(struct xenon_ctl *ctl, const char *domain, domid_t *ret);

int xenon_ctl_create(struct xenon_ctl *ctl, const struct hv_domain_config *cfg, const char *kernel,
		     domid_t *ret_domid, struct hv_domain_layout *ret_layout);
int xenon_ctl_destroy(struct xenon_ctl *ctl, domid_t domid);
int xenon_ctl_pause(struct xenon_ctl *ctl, domid_t domid);
int xenon_ctl_unpause(struct xenon_ctl *ctl, domid_t domid);
int xenon_ctl_shutdown(struct xenon_ctl *ctl, domid_t domid, unsigned int reason);
/* Fills up to MAX rows; returns the number of domains (may exceed MAX). */
int xenon_ctl_list(struct xenon_ctl *ctl, struct xenon_ctl_domain *rows, size_t max);
int xenon_ctl_console(struct xenon_ctl *ctl, domid_t domid, int *ret_fd);

#endif /* XENON_CTL_H */
