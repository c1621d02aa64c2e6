/*
 * procdom — the process substrate, host side: domains as Linux processes.
 *
 * This library is what xenon-hvd (dom0/hvd/) puts behind the core's
 * struct substrate_ops. It owns, per domain:
 *
 *   memfd ram  max_pages frames        guest RAM, gfn at offset gfn * 4096
 *   memfd evt  PROCDOM_EVT_SIZE        shared_info, one struct
 *                                      procdom_vcpu_page per vCPU, the
 *                                      fast-send table
 *   memfd xen  xen_pages pages         grant-table frames (bounded free list)
 *
 * all three mapped MAP_SHARED here, so the core reads and writes guest memory
 * directly; the domain's process maps the same memfds (procdom_proto.h). It
 * also owns the domain's process (spawned, through the spawner process
 * when one is started, in its own process group, a pidfd
 * for death), one SOCK_SEQPACKET hypercall socket per vCPU, and the map
 * changes (physmap_set) waiting for the domain's next hypercall reply.
 *
 * Nothing here runs a loop: the host polls the fds this library hands out
 * (procdom_timer_fd, procdom_domain_pidfd, procdom_domain_hc_fd) and calls
 * back in. Single-threaded, like the core it serves.
 *
 * Life of a domain:
 *
 *   procdom_domain_prepare(domid)      memfds, mappings (before the core
 *                                      asks for pages)
 *   domain_create(hv, domid)           the core builds it in those pages
 *   procdom_domain_spawn(path, argv)   process asked for; it starts while
 *                                      the host goes on; its runtime maps
 *                                      memory and sends PROCDOM_HC_BOOT
 *   procdom_domain_start()             first unpause: BOOT is answered
 *   ... procdom_domain_serve() per hypercall ...
 *   procdom_domain_kill()              SIGKILL to the group, reaped
 *   domain_destroy(hv, domid)          the core lets go of the pages
 *   procdom_domain_release()           sockets closed, memory unmapped
 */
#ifndef XENON_PROCDOM_H
#define XENON_PROCDOM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hypervisor.h"
#include "procdom_proto.h"

struct procdom;
struct procdom_domain;

/* What the host learns from the substrate. */
struct procdom_hooks {
	/* A vCPU of a domain with no process (dom0) was kicked: the host
	 * delivers the event itself. Called from inside core calls: record,
	 * act after the core returns. */
	void (*local_kick)(void *ctx, domid_t domid, unsigned int vcpu);
	/* substrate_ops.domain_state, passed on (same rule). Optional. */
	void (*domain_state)(void *ctx, domid_t domid, int state);
	void (*log)(void *ctx, enum hv_log_level level, const char *msg);
	/* physmap_set of a `local` domain (dom0): it has no process to send
	 * map changes to, so the host keeps its own view (the pages it needs
	 * to reach, e.g. dom0's grant frames). Optional (same rule). */
	void (*local_physmap)(void *ctx, domid_t domid, uint64_t gfn, void *page, bool readonly);
	/* The spawner answered for a domain's program (procdom_domain_spawn):
	 * err 0, it runs (procdom_domain_pid/pidfd name it now); else why it
	 * did not start: the domain stays, without a process, its hypercall
	 * sockets closed right after this returns. Not called for a domain
	 * being killed or released. Called from procdom_spawns_collect() and
	 * from anything that waits for an answer (procdom_domain_spawn_wait,
	 * kill, reap, spawn). It must not call those itself (nor stop or
	 * release): record, act after. Optional. */
	void (*spawned)(void *ctx, domid_t domid, int err);
	/* The host's children that are not domains' processes (dom0
	 * services): zero each such pid in pids[]. Asked only when the
	 * spawner sweeps for children nobody was told of (a template lost,
	 * failed or lied while it served a request: procdom_spawner.h; and
	 * procdom_destroy); every child neither a domain's process, the
	 * spawner's, nor zeroed here is killed then. Optional: without it
	 * the host has no other children. Same rule as spawned. */
	void (*known_children)(void *ctx, pid_t *pids, unsigned int n);
	void *ctx;
};

/* The ops to hand hv_create() together with the struct procdom. */
extern const struct substrate_ops procdom_substrate_ops;

int procdom_create(const struct procdom_hooks *hooks, struct procdom **ret_pd);
/* Releases every domain left (kills their processes), stops the spawner,
 * and, if templates were ever on, kills and reaps every child of ours
 * neither a domain's nor named by hooks.known_children (a template's child
 * nobody was told of: procdom_spawner.h). Accepts NULL. */
void procdom_destroy(struct procdom *pd);
/* The core this substrate serves (timers fire into it, hypercalls go to it). */
void procdom_attach(struct procdom *pd, struct hypervisor *hv);

/* Timers: one timerfd for all vCPUs. When it is readable, call
 * procdom_timers_expired(): every vCPU timer due fires (hv_timer_fire). */
int procdom_timer_fd(struct procdom *pd);
void procdom_timers_expired(struct procdom *pd);

struct procdom_domain_spec {
	domid_t domid;
	unsigned int max_vcpus;
	uint64_t max_pages;
	unsigned int xen_pages; /* grant frames + a few: the xen memfd */
	/* Never has a process (dom0): map changes go to the host's
	 * local_physmap hook, never queued for a reply. */
	bool local;
};

/* Memory for a domain the core is about to create with spec->domid. */
int procdom_domain_prepare(struct procdom *pd, const struct procdom_domain_spec *spec,
			   struct procdom_domain **ret_d);
/* Check after domain_create() that the core took shared_info from the evt
 * memfd (see procdom.c); -EPROTO otherwise. */
int procdom_domain_check_built(struct procdom_domain *d);
/* Kill (if needed and not yet done) and free everything. Accepts NULL. The
 * core must have destroyed the domain first (it frees pages into here). */
void procdom_domain_release(struct procdom_domain *d);
struct procdom_domain *procdom_lookup(struct procdom *pd, domid_t domid);

/*
 * Start the domain's program: argv[0] is the path; fds ram, evt, xen and
 * one hypercall socket per vCPU are inherited, named in XENON_BOOT; stdout
 * and stderr go to log_path (appended); it leads its own process group.
 * start_info_gfn goes in XENON_BOOT. next_log_path (or NULL): the log the
 * next spawn will likely name, which the spawner creates ahead of time.
 * Through a spawner, this returns once the start is asked for: the
 * program execs while the host goes on (a toolstack writes the domain's
 * store entries meanwhile); the answer comes later (hooks.spawned;
 * procdom_domain_spawn_result). Without one it is started directly, and
 * done on return. The domain counts as having a process from now on
 * (events to it are for its runtime), unless the start fails.
 */
int procdom_domain_spawn(struct procdom_domain *d, char *const argv[], const char *log_path,
			 const char *next_log_path, uint64_t start_info_gfn);
/* -EINPROGRESS while the start is in flight; then 0, or why it failed. */
int procdom_domain_spawn_result(const struct procdom_domain *d);
/* Wait for the start's answer (taking older ones on the way); its result. */
int procdom_domain_spawn_wait(struct procdom_domain *d);
/* The spawner's socket (-1: none): readable when answers wait. A lost
 * spawner's socket is closed (so it leaves any poll set) wherever the loss
 * is seen; a new spawner, with a new socket and the generation counted up,
 * is made only inside procdom_domain_spawn: poll the current socket when
 * the generation changed after a spawn. */
int procdom_spawner_fd(const struct procdom *pd);
unsigned int procdom_spawner_generation(const struct procdom *pd);
/* Take every answer there is (never blocks). */
void procdom_spawns_collect(struct procdom *pd);
/* Once per turn of the host's loop: what the spawner's side owes and can
 * do without waiting (templates given up to reap, a sweep). Never blocks. */
void procdom_spawns_tick(struct procdom *pd);
/* The loop's wait until the next tick is due: -1 none (nothing owed). */
int procdom_spawns_timeout_ms(const struct procdom *pd);
/*
 * From now on domain processes are started by a spawner process forked
 * here (procdom_spawner.h): spawning from a host holding ~5 fds per domain
 * costs more with every domain, from the spawner it does not. Call it
 * early, while the host holds few fds, from the thread that outlives every
 * domain (their PR_SET_PDEATHSIG follows it). The processes are still the
 * host's children. Without it, processes are spawned directly. A spawner
 * that dies is dropped where that is seen (logged), the starts it had not
 * answered failing (-EIO), and replaced at the next spawn.
 */
int procdom_start_spawner(struct procdom *pd);
void procdom_stop_spawner(struct procdom *pd);
/* Spawners made from now on keep a template (procdom_spawner.h): the
 * last domain's program started ahead of time, which makes the process of
 * each next domain of it. Off unless asked for. */
void procdom_set_standby(struct procdom *pd, bool on);
/* First unpause: answer PROCDOM_HC_BOOT (now, or when it arrives). */
void procdom_domain_start(struct procdom_domain *d);
/* SIGSTOP / SIGCONT the process group (no-op without a process, also while
 * its start is in flight: it waits for its BOOT answer anyway). Kill and
 * reap first wait for a start in flight. */
int procdom_domain_stop(struct procdom_domain *d, bool stop);
/* SIGKILL the process group and reap the leader. Idempotent. */
void procdom_domain_kill(struct procdom_domain *d);
/* The process exited: reap it (no kill of the leader needed); returns its
 * wait status, or -ECHILD. Other group members are killed. */
int procdom_domain_reap(struct procdom_domain *d);

domid_t procdom_domain_id(const struct procdom_domain *d);
pid_t procdom_domain_pid(const struct procdom_domain *d);		     /* 0: none */
int procdom_domain_pidfd(const struct procdom_domain *d);		     /* -1: none */
int procdom_domain_hc_fd(const struct procdom_domain *d, unsigned int vcpu); /* -1: none */
unsigned int procdom_domain_vcpus(const struct procdom_domain *d);
int procdom_domain_ram_fd(const struct procdom_domain *d);
uint64_t procdom_domain_max_pages(const struct procdom_domain *d);
/* Host address of guest RAM frame gfn (bounds-checked; NULL beyond). */
void *procdom_domain_ram(struct procdom_domain *d, uint64_t gfn);
/* The domain's shared_info page (evt memfd offset 0). */
struct shared_info *procdom_domain_shared_info(struct procdom_domain *d);

/*
 * Overlays: a memfd of its own shown inside a `local` domain's RAM (dom0's
 * share pool). The host's mapping of the domain's RAM gets the overlay's
 * page i at gfns[i] (MAP_FIXED over the ram memfd's mapping), so the core
 * reads and writes it as that RAM frame; but a domain that maps such a frame
 * receives the overlay's memfd, never the domain's ram memfd, and a
 * read-only mapping receives an O_RDONLY descriptor of it (its mmap cannot
 * ask for PROT_WRITE). What the holder of the fd can reach is the overlay's
 * pages, nothing else; pages detached since show nothing of the domain.
 *
 *   dom0 RAM mapping in the host        overlay memfd "share 9" (2 pages)
 *   | scratch | bounce | pool P P+1 |   page 0 -> gfn P, page 1 -> gfn P+1
 *   d5 maps dom0's gfn P+1 -> map change {fd: share 9, offset 4096}
 *
 * Overlays live at gfns inside the range declared once with
 * procdom_overlay_range(). An overlay lives while a page is attached or a
 * map change still to be sent names it; detaching its last page drops the
 * creator's hold (the pointer is the creator's no longer).
 */
struct procdom_overlay;
/* Declare [first_gfn, first_gfn + nr) the domain's overlay range (once;
 * again with the same range is a no-op). Only for `local` domains. */
int procdom_overlay_range(struct procdom_domain *d, uint64_t first_gfn, uint32_t nr);
/* A fresh zeroed memfd of nr pages, page i shown at gfns[i] (each inside
 * the range, none already overlaid). */
int procdom_overlay_create(struct procdom_domain *d, const char *name, const uint64_t *gfns,
			   uint32_t nr, struct procdom_overlay **ret_o);
/* Page i no longer shown: the domain's own RAM back at its gfn. */
void procdom_overlay_detach(struct procdom_overlay *o, uint32_t i);
/* Every page left detached (the creator's hold dropped). Accepts NULL. */
void procdom_overlay_destroy(struct procdom_overlay *o);
/* The overlay's memfd (read-write, for the host's trusted clients). */
int procdom_overlay_fd(const struct procdom_overlay *o);
/*
 * Which memfd and offset back d's RAM frame gfn, for handing it to a dom0
 * client: an overlay's fd, or the ram memfd of a domain that is not
 * `local`. A local domain's own RAM outside overlays is never handed out
 * (-EPERM); -EINVAL beyond its RAM.
 */
int procdom_domain_page_fd(struct procdom_domain *d, uint64_t gfn, int *ret_fd,
			   uint64_t *ret_offset);

/*
 * Serve one message on vCPU's hypercall socket: a hypercall into the core,
 * or a pseudo-hypercall (procdom_proto.h). Returns 0, or -EPIPE when the
 * process closed the socket (it died or exits: the host tears down), or
 * another negative errno after a protocol error (the reply says -EINVAL;
 * the host may keep serving).
 */
int procdom_domain_serve(struct procdom_domain *d, unsigned int vcpu);

/*
 * The fast send path (procdom_proto.h (c), procdom_send.c): something may
 * have changed the event channels of domain `domid` (its own event-channel
 * or vCPU hypercall, which procdom_domain_serve reports itself; a dom0
 * event-channel hypercall: domid 0; a domain just created with pre-bound
 * channels, once its process is spawned). The send tables of domid and of
 * every domain it shares a channel with are re-derived from the core.
 * Destruction needs no call: procdom_domain_release does it.
 */
void procdom_evtchn_changed(struct procdom *pd, domid_t domid);

/*
 * The kick of one vCPU page (procdom_kick.c; procdom_proto.h (f)), after
 * the event's bits are stored: SLEEPING -> WOKEN and FUTEX_WAKE; RUNNING
 * with pid > 0 -> the upcall signal to the page's tid in process pid (pid
 * 0: never signal, e.g. the vCPU has not been started) unless vi (the
 * vCPU's vcpu_info, or NULL) shows its upcalls masked; otherwise nothing.
 */
enum procdom_kick_result { PROCDOM_KICK_NONE, PROCDOM_KICK_WOKE, PROCDOM_KICK_SIGNALLED };
enum procdom_kick_result procdom_vcpu_kick(struct procdom_vcpu_page *vp, pid_t pid,
					   const struct vcpu_info *vi);
/* The same without a vcpu_info: a RUNNING vCPU is always signalled. */
enum procdom_kick_result procdom_vcpu_page_kick(struct procdom_vcpu_page *vp, pid_t pid);

/* Counters for tests and LIST. */
struct procdom_stats {
	unsigned int nr_domains;
	uint64_t kicks_woken, kicks_signalled, kicks_local;
	uint64_t hypercalls;
	uint64_t slow_sends; /* EVTCHNOP_send that came as a hypercall */
};
void procdom_get_stats(struct procdom *pd, struct procdom_stats *ret);

#endif
