/*
 * Process domains: the wire protocol between the hypervisor daemon
 * (xenon-hvd, dom0/hvd/) and a domain's process (the guest runtime,
 * substrate/proc/runtime/), and between xenon-hvd and dom0's clients
 * (toolstack, services: lib/dom0/). Design: docs/process-domains.md.
 *
 * Every socket here is AF_UNIX SOCK_SEQPACKET: one message = one struct,
 * optionally followed by a payload and accompanied by file descriptors
 * (SCM_RIGHTS). All fields are host-endian: both ends run on one host.
 *
 * 1. Boot. xenon-hvd starts a domain's program with these inherited fds,
 *    named in the environment variable XENON_BOOT, e.g.
 *      XENON_BOOT="v=1 domid=3 vcpus=2 ram=3 evt=4 xen=5 hc=6,7
 *                  max_pages=256 max_gfn=1280 start_info=255
 *                  evt_pages=3 xen_pages=72"
 *    Optional (additive, still version 1): ppid=P, xenon-hvd's pid. The
 *    runtime sets PR_SET_PDEATHSIG(SIGKILL), then refuses to boot if its
 *    parent is not P (the daemon died before the prctl). Without ppid (an
 *    older daemon) a runtime thread ends the process when vCPU 0's
 *    hypercall socket hangs up instead.
 *    The fd numbers are whatever xenon-hvd had; nothing else is inherited
 *    but 0, 1, 2 (stdin /dev/null; stdout and stderr the domain's log,
 *    D/domain-<domid>.log). The process leads its own process group:
 *    xenon-hvd pauses it with SIGSTOP and destroys it with SIGKILL.
 *    ram/evt/xen: the domain's memfds (see below); hc: one hypercall socket
 *    per vCPU, in vCPU order. The runtime maps memory, then calls
 *    start_kernel(start_info) on vCPU 0.
 *
 * 1b. Standby. The spawner (procdom_spawner.h) may start a domain's
 *    program before its domain exists, with no XENON_BOOT but
 *      XENON_STANDBY="fd=N ppid=P [fork=F]"
 *    (these keys, any order, each once, decimal; N >=
 *    PROCDOM_STANDBY_FD_MIN; F 0 or 1, 0 if absent) and fds 0-2 on
 *    /dev/null. The runtime then, before anything else: sets
 *    PR_SET_PDEATHSIG(SIGKILL) and exits 2 if its parent is not P; checks
 *    it can be one (nothing open in [3, PROCDOM_STANDBY_FD_MIN), where the
 *    domain's fds go; with fork=1 also: single-threaded, an empty robust
 *    futex list, a C library whose fork it mimics, a clone it can make);
 *    then sends, on fd N (a SOCK_SEQPACKET socket), one message:
 *      PROCDOM_STANDBY_READY, exactly one byte: it waits on fd N; or
 *      PROCDOM_STANDBY_REFUSE then why (printable ASCII, no NUL, at most
 *      PROCDOM_STANDBY_REASON_MAX bytes): it cannot be one and exits 2.
 *    The spawner logs a refusal once and starts no standby of that program
 *    again. EOF: exit 0, quietly (never used). A request is one message:
 *      payload "XENON_BOOT=...\0" (exactly that, NUL-terminated)
 *      SCM_RIGHTS: the domain's fds in order, then its log (k + 1 fds,
 *                  1 <= k <= PROCDOM_STANDBY_MAX_FDS)
 *    fork=0 (a standby, used up): the runtime puts the log on 1 and 2 and
 *    fd i at 3 + i (where a cold start has them: XENON_BOOT names those
 *    numbers), closes N, sets XENON_BOOT, unsets XENON_STANDBY, and boots
 *    as in 1. Anything else: exit 2 with the reason on stderr (the log,
 *    once placed).
 *    fork=1 (a template, runtime/rt_standby.c): for each request it
 *    clones a child with CLONE_PARENT (P's child), which leads its own
 *    process group first, then does the above and boots (its boot checks
 *    P); the template closes the request's fds, answers on fd N with
 *    exactly an int32_t: the child's pid, or -errno (-EINVAL for a request
 *    that cannot be right, its reason written in the request's log;
 *    -EAGAIN or -ENOMEM when the clone failed for want of resources), and
 *    waits for the next request. The spawner sends without blocking: a
 *    template that does not read its requests is given up.
 *
 * 2. Memory. Guest frame gfn of RAM is at offset gfn * 4096 of `ram`. The
 *    `evt` memfd holds the shared_info page at offset 0 and one
 *    struct procdom_vcpu_page per vCPU after it (offset (1 + vcpu) * 4096).
 *    `xen` holds grant-table frames and other hypervisor pages; their
 *    offsets come in hypercall replies as map changes.
 *
 * 3. Hypercalls. On its vCPU's socket the runtime sends
 *    struct procdom_hc_req and receives struct procdom_hc_rep followed by
 *    nr_maps struct procdom_map entries, with one fd per entry whose
 *    `fd_index` says so. The runtime applies the map changes (mmap
 *    MAP_FIXED over the guest's frame window) before returning the result,
 *    then carries out `action` (HV_ACT_* from hypervisor.h) locally:
 *    block/poll = wait on its vCPU page's state word (below) until
 *    evtchn_upcall_pending or the deadline; shutdown = stop the vCPU.
 *
 * 4. Wake-ups (floors.md protocol). struct procdom_vcpu_page.state is the
 *    futex word. The vCPU sets PROCDOM_VCPU_SLEEPING, re-checks its
 *    evtchn_upcall_pending, and FUTEX_WAITs; only it clears SLEEPING. A
 *    notifier (xenon-hvd's kick) sets the pending bits, issues a full fence,
 *    reads `state`, and FUTEX_WAKEs only if SLEEPING; if RUNNING it sends
 *    the vCPU thread PROCDOM_UPCALL_SIGNAL (tid in the page) so the upcall
 *    interrupts it, as an interrupt would; if POLLING it does nothing.
 */
#ifndef XENON_PROCDOM_PROTO_H
#define XENON_PROCDOM_PROTO_H

#include <stdint.h>

#define PROCDOM_PROTO_VERSION 1
#define PROCDOM_BOOT_ENV "XENON_BOOT"
#define PROCDOM_STANDBY_ENV "XENON_STANDBY"
#define PROCDOM_STANDBY_MAX_FDS 64 /* the domain's fds in the message, at most */
/* The standby's socket sits above every fd it places (3 .. 3 + max - 1). */
#define PROCDOM_STANDBY_FD_MIN (3 + PROCDOM_STANDBY_MAX_FDS)
#define PROCDOM_STANDBY_READY 'R'
#define PROCDOM_STANDBY_REFUSE 'N'
#define PROCDOM_STANDBY_REASON_MAX 160 /* a refusal's reason, at most */
#define PROCDOM_STANDBY_MSG_MAX 2048   /* the payload, at most */
#define PROCDOM_PAGE_SIZE 4096u

/* Signal that delivers an upcall to a running vCPU thread: SIGRTMIN + 4. */
#define PROCDOM_UPCALL_SIGNAL_OFFSET 4

/* ---- domain <-> xenon-hvd: hypercalls ---------------------------------- */

struct procdom_hc_req {
	uint32_t op;	  /* __HYPERVISOR_* */
	uint32_t seq;	  /* echoed in the reply */
	uint64_t args[5]; /* guest-physical addresses where the ABI has pointers */
};

enum procdom_map_kind {
	PROCDOM_MAP_HOLE = 0,	 /* gfn shows nothing (PROT_NONE) */
	PROCDOM_MAP_OWN_RAM = 1, /* gfn shows its own RAM again */
	PROCDOM_MAP_XEN = 2,	 /* offset in this domain's xen memfd */
	PROCDOM_MAP_EVT = 3,	 /* offset in this domain's evt memfd (shared_info) */
	PROCDOM_MAP_FD = 4,	 /* offset in the fd passed with this reply */
};

struct procdom_map {
	uint64_t gfn;
	uint64_t offset;
	uint32_t kind;	   /* enum procdom_map_kind */
	uint32_t readonly; /* map PROT_READ only */
	int32_t fd_index;  /* index into the reply's fds for PROCDOM_MAP_FD */
	uint32_t pad;
};

#define PROCDOM_MAX_MAPS 64 /* map changes carried by one reply */

struct procdom_hc_rep {
	int64_t ret; /* guest-visible result */
	uint32_t seq;
	uint32_t action;      /* enum hv_action */
	uint64_t deadline_ns; /* for block/poll, 0 = none (CLOCK_MONOTONIC) */
	uint32_t nr_maps;     /* struct procdom_map entries that follow */
	uint32_t flags;	      /* PROCDOM_REP_* (was `pad`: zero in version 1) */
};

/* More map changes are pending than one reply carries: before returning to
 * the caller, the runtime issues PROCDOM_HC_MAPS until this flag is clear. */
#define PROCDOM_REP_MORE_MAPS 1u

/*
 * Pseudo-hypercalls: runtime <-> xenon-hvd only, outside __HYPERVISOR_*.
 *
 * PROCDOM_HC_BOOT: sent once on vCPU 0's socket after the runtime has mapped
 *   ram and evt and before start_kernel(). xenon-hvd replies when the domain
 *   is unpaused for the first time (domains are created paused), so nothing
 *   of the guest runs before the toolstack has finished building it. The
 *   reply (ret 0) carries the initial map changes: shared_info at gfn
 *   max_pages (PROCDOM_MAP_EVT offset 0). If the domain is destroyed first,
 *   the socket closes instead and the runtime exits. It is the first request
 *   on that socket, so its seq is PROCDOM_BOOT_SEQ; when the first unpause
 *   comes before the request (the toolstack is usually done before the
 *   program has started), xenon-hvd sends the reply at the unpause and
 *   consumes the request without a second reply when it arrives: the
 *   runtime finds its answer waiting instead of waking xenon-hvd for it.
 * PROCDOM_HC_MAPS: returns ret 0 and the next pending map changes.
 *
 * Map changes of a domain caused by someone else's hypercall (dom0 placing
 * a page, a grant unmapped because its granter died) wait for the domain's
 * next reply on any of its vCPUs. A GNTMAP_readonly grant mapping is sent
 * with procdom_map.readonly = 1 (substrate_ops.physmap_set's readonly), and
 * the runtime maps it PROT_READ: a write through it faults.
 */
#define PROCDOM_HC_BOOT 0x70000001u
#define PROCDOM_HC_MAPS 0x70000002u
#define PROCDOM_BOOT_SEQ 1u

/* ---- the per-vCPU page in the evt memfd ----------------------------- */

enum procdom_vcpu_state {
	PROCDOM_VCPU_RUNNING = 0,
	PROCDOM_VCPU_POLLING = 1,  /* spinning on its upcall flag: no wake needed */
	PROCDOM_VCPU_SLEEPING = 2, /* futex-waiting on `state` */
	PROCDOM_VCPU_STOPPED = 3,  /* shut down or not started */
};

struct procdom_vcpu_page {
	uint32_t state;	  /* enum procdom_vcpu_state; the futex word */
	int32_t tid;	  /* the vCPU thread, for PROCDOM_UPCALL_SIGNAL */
	uint64_t wakes;	  /* FUTEX_WAKEs issued to it (stress tests count) */
	uint64_t signals; /* upcall signals sent to it */
};

/* ---- dom0 clients <-> xenon-hvd: the control socket (D/hvd.sock) ------- */

enum procdom_ctl_op {
	PROCDOM_CTL_HELLO = 1, /* version check */
	PROCDOM_CTL_CREATE,    /* payload: struct procdom_ctl_create; starts paused */
	PROCDOM_CTL_DESTROY,
	PROCDOM_CTL_PAUSE,
	PROCDOM_CTL_UNPAUSE,
	PROCDOM_CTL_SHUTDOWN,	    /* arg: SHUTDOWN_* reason */
	PROCDOM_CTL_LIST,	    /* reply payload: struct procdom_ctl_dominfo[] */
	PROCDOM_CTL_EVTCHN_STATUS,  /* reply payload: struct evtchn_status[] of a domain */
	PROCDOM_CTL_HYPERCALL,	    /* a hypercall as dom0 (libxenevtchn-style ops) */
	PROCDOM_CTL_FOREIGN_MAP,    /* reply carries the domain's ram memfd */
	PROCDOM_CTL_EVTCHN_WATCH,   /* this connection owns dom0 port `arg`: events
				       arrive as PROCDOM_CTL_EVENT messages */
	PROCDOM_CTL_EVENT,	    /* xenon-hvd -> client: dom0 port `arg` fired */
	PROCDOM_CTL_EVTCHN_UNWATCH, /* give up ownership of dom0 port `arg` */
	/* Grants (section (g) below): */
	PROCDOM_CTL_GNT_MAP,	    /* map grants of one domain as dom0 */
	PROCDOM_CTL_GNT_UNMAP,	    /* unmap one GNT_MAP mapping */
	PROCDOM_CTL_GNT_NOTIFY,	    /* set a mapping's unmap notify */
	PROCDOM_CTL_GNT_COPY,	    /* GNTTABOP_copy with the data in the message */
	PROCDOM_CTL_GNTSHR_SHARE,   /* grant fresh dom0 frames to a domain */
	PROCDOM_CTL_GNTSHR_UNSHARE, /* end one GNTSHR_SHARE's grants */
	PROCDOM_CTL_GRANT_STATUS,   /* the grant mappings a domain holds */
	PROCDOM_CTL_GNT_COUNTS,	    /* dom0's grant bookkeeping, for tests and tools */
	PROCDOM_CTL_LIST_NEW,	    /* LIST of the domains created since a cursor */
};

struct procdom_ctl_msg {
	uint32_t op;  /* enum procdom_ctl_op */
	uint32_t seq; /* echoed in the reply */
	uint32_t domid;
	uint32_t len; /* payload bytes that follow */
	int64_t arg;  /* op-specific; in a reply: result (>= 0 or -errno) */
};

/* ======================================================================
 * ADDITIONS by the guest runtime (substrate/proc/runtime/), additive only.
 * ====================================================================== */

/* ---- (a) vCPU page: the thread's process id, for tgkill() ------------- */
/*
 * The runtime writes tid (above) and pid (below) when a vCPU thread starts,
 * then state = RUNNING. Notifiers (xenon-hvd's kick, a peer's fast send)
 * signal with tgkill(pid, tid, SIGRTMIN + PROCDOM_UPCALL_SIGNAL_OFFSET).
 * The futex on `state` is a SHARED futex (the word lives in a MAP_SHARED
 * memfd mapped by several processes): use FUTEX_WAIT / FUTEX_WAKE without
 * FUTEX_PRIVATE_FLAG on both sides, or the wake never finds the waiter.
 * The field lives after `signals` in struct procdom_vcpu_page; it is
 * declared separately so the original struct stays as it was:
 */
#define PROCDOM_VCPU_PAGE_PID_OFFSET 24 /* int32_t pid, after `signals` */
struct procdom_vcpu_page_ext {
	struct procdom_vcpu_page base;
	int32_t pid; /* the process (tgid) of tid */
	uint32_t pad;
};

/* ---- (b) evt memfd layout, fixed offsets -------------------------------- */
/*
 *   offset 0                         shared_info            (rw, guest+hvd)
 *   offset (1 + v) * 4096            procdom_vcpu_page v    (rw, guest+hvd)
 *                                    v < PROCDOM_EVT_MAX_VCPUS (32); pages of
 *                                    vCPUs the domain does not have stay zero
 *   PROCDOM_EVT_SEND_OFFSET          the send table          (hvd writes,
 *                                    PROCDOM_SEND_TABLE_BYTES  guest reads)
 *   PROCDOM_EVT_SIZE                 total: xenon-hvd ftruncates evt to this
 *
 * The runtime maps [0, PROCDOM_EVT_SEND_OFFSET) read-write and the send
 * table read-only. A peer's evt memfd is mapped by a sender only up to
 * PROCDOM_EVT_SEND_OFFSET (shared_info + vCPU pages, never its table).
 */
#define PROCDOM_EVT_MAX_VCPUS 32
#define PROCDOM_EVT_VCPU_OFFSET(v) ((uint64_t)(1 + (v)) * PROCDOM_PAGE_SIZE)
#define PROCDOM_EVT_SEND_OFFSET ((uint64_t)(1 + PROCDOM_EVT_MAX_VCPUS) * PROCDOM_PAGE_SIZE)
#define PROCDOM_SEND_TABLE_PORTS 1024 /* ports >= this always take the hypercall */
#define PROCDOM_SEND_TABLE_BYTES (PROCDOM_SEND_TABLE_PORTS * 16u)
#define PROCDOM_EVT_SIZE (PROCDOM_EVT_SEND_OFFSET + PROCDOM_SEND_TABLE_BYTES)

/* ---- (c) the fast send path: EVTCHNOP_send without a system call ------- */
/*
 * One entry per local port of the SENDING domain, in its own evt memfd:
 */
struct procdom_send_entry {
	uint32_t seq;	      /* seqcount: odd while xenon-hvd rewrites the entry */
	uint16_t peer_slot;   /* 1..PROCDOM_MAX_PEER_SLOTS; 0 = no entry: hypercall */
	uint16_t peer_vcpu;   /* the remote port's notify vCPU (< PROCDOM_EVT_MAX_VCPUS) */
	uint32_t remote_port; /* the port in the peer domain (< 4096, 2-level) */
	uint32_t pad;
};
#define PROCDOM_MAX_PEER_SLOTS 64 /* peers one domain maps at once */

/*
 * What the runtime does (guest side, done): on EVTCHNOP_send of port p < 1024
 * it reads entry p under the seqcount (s = seq, acquire; odd -> hypercall;
 * read fields; acquire fence; seq != s -> hypercall). With peer_slot != 0
 * and that slot mapped, it performs exactly evtchn_2l_set_pending() +
 * evtchn_2l_notify() of the core on the peer's shared_info / vcpu_info
 * [peer_vcpu] (pending test-and-set; unmasked and 0->1: selector
 * test-and-set; 0->1: xchg upcall_pending), then, if it set the pending bit
 * 0->1: full fence, read the peer vCPU page's state: SLEEPING -> FUTEX_WAKE
 * (shared) and wakes++; RUNNING and an upcall_pending 0->1 edge -> tgkill
 * and signals++, unless the peer's evtchn_upcall_mask is set or, within a
 * short grace period, the peer masks, polls or takes the upcall (it then
 * finds the event itself: runtime/rt_fast.c); POLLING -> nothing.
 * Otherwise it takes the hypercall.
 *
 * What xenon-hvd does (daemon side: procdom_send.c, which re-derives the
 * tables from the core after every change rather than lazily):
 *  1. Size evt to PROCDOM_EVT_SIZE at creation (table all zero = no entries).
 *  2. When domain A's port p (< 1024) is or becomes interdomain to domain B
 *     (bind_interdomain by either side, pre-bound channels at creation),
 *     B != dom0 and B is a process domain, B's vCPU for remote port r uses
 *     its legacy vcpu_info (in shared_info; no VCPUOP_register_vcpu_info
 *     elsewhere), choose a slot k for B in A (1..64, stable while A keeps
 *     any entry to B). If A does not yet have B's evt mapped in slot k,
 *     add to the NEXT hypercall reply on any of A's vCPUs (typically the
 *     slow EVTCHNOP_send on p itself) a map change
 *         { kind = PROCDOM_MAP_PEER_EVT, gfn = k, offset = 0,
 *           fd_index = i }  with B's evt memfd as fd i,
 *     and only after that reply is sent write entry p:
 *         seq++ (odd), release fence; peer_slot = k, peer_vcpu, remote_port;
 *         release fence; seq++ (even).
 *     (Simplest correct policy: fill the entry lazily while serving A's
 *     slow EVTCHNOP_send on p, attaching the map change to that reply.)
 *  3. Before a close/rebind/teardown completes for either end (EVTCHNOP_close,
 *     EVTCHNOP_bind_vcpu on B's side, B's death, A's reset): rewrite entry p
 *     with peer_slot = 0 under the seqcount. A send that read the entry just
 *     before may still set one stale pending bit in B; Xen guests tolerate
 *     a spurious event. When A holds no entry to B any more, xenon-hvd may
 *     release slot k with { kind = PROCDOM_MAP_PEER_DROP, gfn = k,
 *     fd_index = -1 } on a later reply; it must not give slot k to another
 *     peer before every vCPU is past that drop: the vCPU whose reply
 *     carried it has sent a later request (it applied the drop), and each
 *     other vCPU RUNNING when it was sent has sent a request since or been
 *     seen not RUNNING (procdom_send.c, "Slot reuse"). Replies of
 *     different vCPUs are applied by different threads in any order.
 *  4. Nothing else: the wake (futex / signal) is done by the sender exactly
 *     as xenon-hvd's kick would, and counted in the peer's vCPU page.
 * Trust: the docs' model -- a domain holding a channel to B can disturb B's
 * event bits; it never sees B's RAM.
 */
enum procdom_map_kind_ext {
	PROCDOM_MAP_PEER_EVT = 16,  /* gfn field = peer slot k; the fd is the peer's evt memfd */
	PROCDOM_MAP_PEER_DROP = 17, /* gfn field = peer slot k; no fd */
};

/* ---- (d) starting secondary vCPUs --------------------------------------- */
/*
 * The runtime starts vCPU v's thread itself (xen_vcpu_start()) right after
 * VCPUOP_up for v succeeded on the hypercall socket hc[v] it inherited; the
 * daemon needs to do nothing beyond what the core does for VCPUOP_up.
 * At boot the runtime sets every vCPU page but vCPU 0's to
 * PROCDOM_VCPU_STOPPED; a kick to a STOPPED vCPU does nothing.
 */

/*
 * The control operations in detail. Requests and replies are one message
 * each: struct procdom_ctl_msg, then `len` payload bytes. A reply echoes op
 * and seq; `arg` is the result. Unsolicited PROCDOM_CTL_EVENT messages
 * (seq 0) may arrive between a request and its reply: a client keeps them.
 * A request larger than PROCDOM_CTL_MAX_MSG or carrying file descriptors is
 * refused (-EMSGSIZE / -EBADF; received fds are closed at once).
 *
 *  HELLO       arg = PROCDOM_PROTO_VERSION  -> arg = PROCDOM_PROTO_VERSION
 *  CREATE      payload procdom_ctl_create + strings
 *                                  -> arg = domid, payload procdom_ctl_created
 *  DESTROY, PAUSE, UNPAUSE  domid            -> arg = 0
 *  SHUTDOWN    domid, arg = SHUTDOWN_*       -> arg = 0 (docs/process-domains.md)
 *  LIST        domid = first domid to report, arg = at most that many rows
 *              (0: PROCDOM_CTL_LIST_MAX, what clients before the limit
 *              send; < 0 or > PROCDOM_CTL_LIST_MAX: -EINVAL)
 *                                -> arg = n, payload n dominfo, lowest first;
 *              n == the rows asked: ask again from the last domid + 1
 *  LIST_NEW    payload struct procdom_ctl_list_new (the cursor), arg = at
 *              most that many rows (as LIST)
 *                                -> arg = n, payload procdom_ctl_list_new
 *              (the next cursor) then n dominfo: the live domains created
 *              after the cursor, oldest first. Cursor 0 means before the
 *              first domain (dom0 included); one xenon-hvd never gave
 *              (beyond its newest domain) is -EINVAL. n == the rows asked:
 *              ask again with the cursor returned. The cost is that of the
 *              rows returned, not of every domain: a daemon that tracks
 *              new domains (consoled, at each @introduceDomain) asks with
 *              the cursor of its last call.
 *  EVTCHN_STATUS domid, arg = first port     -> arg = n, payload n struct
 *              evtchn_status (ports in use, from that port on; same paging)
 *  HYPERCALL   payload procdom_ctl_hypercall + buffer
 *              -> arg = the result, payload: the same with the buffer as
 *                 the hypercall left it
 *  FOREIGN_MAP domid -> arg = the domain's RAM frames (max_pages) and one fd:
 *              its ram memfd; frame gfn is at offset gfn * 4096
 *  EVTCHN_WATCH / EVTCHN_UNWATCH  arg = dom0 port -> arg = 0 (-EBUSY: owned
 *              by another connection)
 *
 * dom0 port ownership: a port that a connection allocates or binds through
 * HYPERCALL (EVTCHNOP_alloc_unbound for dom0, bind_interdomain, bind_virq,
 * bind_ipi) is owned by that connection and closed when it disconnects, as a
 * libxenevtchn handle does. EVTCHN_WATCH takes ownership of an existing port
 * (one reserved at dom0's creation, say) without closing it later. As with
 * Linux's evtchn driver, a port is masked when its EVENT is sent; the client
 * unmasks it (EVTCHNOP_unmask) once handled. Pending ports nobody owns stay
 * pending until someone watches them.
 */
#define PROCDOM_CTL_MAX_MSG (64 * 1024)
#define PROCDOM_CTL_LIST_MAX 128
#define PROCDOM_CTL_STATUS_MAX 256
#define PROCDOM_CTL_MAX_ARGV 64	     /* argument strings after the program path */
#define PROCDOM_CTL_STRINGS_MAX 8192 /* bytes of path + arguments, NULs included */
#define PROCDOM_CTL_CMDLINE_MAX 1024 /* MAX_GUEST_CMDLINE */
#define PROCDOM_CTL_MAX_PREBOUND 64  /* HV_MAX_PREBOUND */

struct procdom_ctl_reserve {
	uint32_t domid, port, remote_domid, pad;
};

struct procdom_ctl_bind {
	uint32_t port, remote_domid, remote_port, pad;
};

/*
 * CREATE: struct hv_domain_config on the wire (never privileged: dom0 is
 * xenon-hvd's own), then `strings_len` bytes: the program path and `argc`
 * arguments, each NUL-terminated. An empty path creates a domain with no
 * process: its memory exists and dom0 can map it, but nothing runs it
 * (tests; domains whose program comes later).
 */
struct procdom_ctl_create {
	uint32_t domid; /* DOMID_INVALID (0x7ff4): the lowest free */
	uint32_t max_vcpus;
	uint64_t nr_pages, max_pages; /* max_pages 0: = nr_pages */
	uint64_t mod_start, mod_len;
	uint32_t max_evtchn_ports, max_grant_frames; /* 0: defaults */
	uint32_t nr_reserve, nr_bind;
	struct procdom_ctl_reserve reserve[PROCDOM_CTL_MAX_PREBOUND];
	struct procdom_ctl_bind bind[PROCDOM_CTL_MAX_PREBOUND];
	char cmdline[PROCDOM_CTL_CMDLINE_MAX]; /* NUL-terminated */
	uint32_t argc;
	uint32_t strings_len;
	uint32_t flags; /* PROCDOM_CTL_CREATE_* */
	uint32_t pad;
};

/*
 * CREATE flags. BACKGROUND: reply once the program's start is asked of the
 * spawner, not when it has exec'd: the caller writes the store entries
 * while it starts. The reply's pid is then 0 (LIST has it later); a start
 * that fails leaves the domain paused without a process, and UNPAUSE
 * fails with the reason (the exec's errno) -- the caller destroys it.
 * Without it, CREATE fails with that reason itself.
 */
#define PROCDOM_CTL_CREATE_BACKGROUND 0x1u
#define PROCDOM_CTL_CREATE_FLAGS PROCDOM_CTL_CREATE_BACKGROUND

struct procdom_ctl_created {
	uint64_t start_info_gfn, shared_info_gfn, store_gfn, console_gfn;
	uint32_t store_evtchn, console_evtchn;
	int32_t pid; /* 0: no process */
	uint32_t pad;
};

/* LIST_NEW's cursor: a domain's place in the order of creation (never
 * reused while xenon-hvd runs). */
struct procdom_ctl_list_new {
	uint64_t cursor;
};

#define PROCDOM_DOMINFO_PRIVILEGED 1u
#define PROCDOM_DOMINFO_PAUSED 2u
#define PROCDOM_DOMINFO_SHUTDOWN 4u
#define PROCDOM_DOMINFO_DYING 8u

/* No names: the toolstack keeps them in XenStore (/local/domain/N/name). */
struct procdom_ctl_dominfo {
	uint32_t domid;
	int32_t pid;	/* 0: no process (dom0, process-less domains) */
	uint32_t flags; /* PROCDOM_DOMINFO_* */
	uint32_t shutdown_reason;
	uint32_t max_vcpus;
	uint32_t nr_ports_used;
	uint64_t tot_pages, max_pages;
	/* Added at the end (the struct stays 8-byte aligned, 48 bytes): */
	uint32_t nr_grant_maps; /* grant mappings it holds (GNTTABOP_map_grant_ref) */
	uint32_t reserved;	/* zero */
};
_Static_assert(sizeof(struct procdom_ctl_dominfo) == 48, "LIST rows are 48 bytes");

/*
 * HYPERCALL as dom0 on its vCPU 0. `buf_len` bytes follow (at most
 * PROCDOM_SCRATCH_SIZE). xenon-hvd copies them into dom0's scratch frames at
 * guest-physical address PROCDOM_DOM0_SCRATCH_GPA, adds that address to
 * args[buf_arg] (the client puts the offset in the buffer there, usually 0),
 * issues the hypercall and returns the buffer. Handles nested inside the
 * buffer hold PROCDOM_DOM0_SCRATCH_GPA + offset. buf_arg PROCDOM_HC_NO_BUF:
 * no buffer. Accepted: event_channel_op, grant_table_op, xen_version,
 * memory_op, hvm_op, console_io; dom0's one vCPU is shared by every client,
 * so scheduling and vCPU ops make no sense here (-ENOSYS).
 */
#define PROCDOM_DOM0_SCRATCH_GFN 0
#define PROCDOM_DOM0_SCRATCH_GPA ((uint64_t)PROCDOM_DOM0_SCRATCH_GFN * PROCDOM_PAGE_SIZE)
#define PROCDOM_SCRATCH_SIZE (4 * PROCDOM_PAGE_SIZE)
#define PROCDOM_HC_NO_BUF 0xffffffffu

struct procdom_ctl_hypercall {
	uint32_t op; /* __HYPERVISOR_* */
	uint32_t buf_arg;
	uint64_t args[5];
	uint32_t buf_len;
	uint32_t pad;
};

/* ---- (e) the shutdown reason in a reply ---------------------------------- */
/*
 * With action HV_ACT_SHUTDOWN, deadline_ns (otherwise unused) SHOULD carry
 * the domain's shutdown reason + 1 (SHUTDOWN_poweroff -> 1, crash -> 4);
 * 0 = not said. The runtime exits with the reason as its status; it takes
 * the reason from the guest's own SCHEDOP_shutdown when it made one.
 */

/* ---- (f) CORRECTION to section 4: the waker changes the futex word ------ */
/*
 * A waker that only reads SLEEPING and calls FUTEX_WAKE can lose the wake:
 * the sleeper has re-checked (nothing pending yet), the waker stores the
 * bits, reads SLEEPING and wakes -- before the sleeper entered FUTEX_WAIT;
 * the wake finds no waiter and FUTEX_WAIT(state, SLEEPING) then sleeps
 * through it. tests/proc's stress measured 3-8 lost per 10^5 that way.
 * So every waker (xenon-hvd's kick included) does:
 *
 *     store pending bits; full fence;
 *     s = state;
 *     if (s == SLEEPING && CAS(&state, SLEEPING -> PROCDOM_VCPU_WOKEN))
 *             wakes++, FUTEX_WAKE(&state)        (shared futex)
 *     else if (s == RUNNING) signals++, tgkill(pid, tid, upcall signal)
 *     else nothing (POLLING spins on the bits; WOKEN: a wake is in flight)
 *
 * The sleeper alone writes RUNNING, POLLING and SLEEPING (it stores SLEEPING
 * afresh and re-checks before every FUTEX_WAIT); WOKEN only ends one sleep.
 * Reference implementation: rt_notify() in runtime/rt_wait.c.
 */
#define PROCDOM_VCPU_WOKEN 4u /* state: a waker ended the sleep (CAS from SLEEPING) */

/* ---- (g) grants: dom0 maps (gntdev), dom0 shares (gntalloc), status ----- */
/*
 * A connection that maps or shares owns what it made; when it hangs up,
 * xenon-hvd undoes everything (maps unmapped with their notifies fired,
 * shares ended). Per connection at most PROCDOM_GNT_MAX_MAPPED pages mapped
 * and PROCDOM_GNT_MAX_MAPPED pages shared (-E2BIG beyond).
 *
 *  GNT_MAP     domid = granter, arg = PROCDOM_GNT_READONLY or 0, payload
 *              uint32_t refs[n], 1 <= n <= PROCDOM_GNT_MAX_BATCH
 *              -> arg = map id (> 0) or -errno; payload n struct
 *              procdom_ctl_gnt_page (per-page GNTST status; on success the
 *              page's offset in fd fd_index); on success one fd: the
 *              granter's ram memfd (every page of a batch is the granter's,
 *              so one fd serves all). All or nothing: if one ref fails,
 *              the others are unmapped again.
 *              Errors: -EINVAL bad ref or n, -EACCES grant not for dom0 or
 *              read-only and writable asked, -ESRCH no such domain, -E2BIG
 *              the connection's limit, -ENOMEM no dom0 frame window left.
 *  GNT_UNMAP   arg = map id -> 0; fires the notify first (see GNT_NOTIFY).
 *  GNT_NOTIFY  arg = map id, payload struct procdom_ctl_gnt_notify -> 0.
 *              At unmap (or hang-up) xenon-hvd zeroes byte `offset` of the
 *              mapping (if >= 0; -EINVAL on a read-only mapping), unmaps,
 *              then sends on dom0 port `port` (if >= 0). One per mapping; a
 *              new one replaces the old, as gntdev's ioctl.
 *  GNT_COPY    payload u32 count (1..PROCDOM_GNT_COPY_MAX), u32 pad, count
 *              struct procdom_ctl_gnt_copy_seg, then the bytes of every
 *              dest-gref segment in order -> arg = 0 or -errno, payload
 *              count int32_t GNTST statuses, then the bytes of every
 *              source-gref segment in order (zeroes where it failed).
 *              Exactly one side of a segment is a grant; offset + len <=
 *              4096. Runs as dom0 through bounce frames in dom0's RAM.
 *  GNTSHR_SHARE domid = the peer, payload struct procdom_ctl_gntshr
 *              -> arg = share id (> 0) or -errno, payload count struct
 *              procdom_ctl_gntshr_page, one fd: the share's own memfd
 *              (page i at offset i * 4096; it holds nothing else of
 *              dom0's). The frames are fresh and zeroed; -ENOSPC: no dom0 frame or ref.
 *  GNTSHR_UNSHARE arg = share id -> 0. Fires the share's notify (zero the
 *              byte, send), ends access to each page; a page the peer
 *              still maps stays granted and its frame reserved (deferred)
 *              until the peer unmaps or dies, then both are freed.
 *  GRANT_STATUS domid = mapper, arg = first handle -> arg = n, payload n
 *              struct procdom_ctl_grant (paging as EVTCHN_STATUS: n ==
 *              PROCDOM_CTL_STATUS_MAX: ask again from the last handle + 1).
 *  GNT_COUNTS  -> arg = 0, payload struct procdom_ctl_gnt_counts.
 */
#define PROCDOM_GNT_MAX_BATCH 1024
#define PROCDOM_GNT_MAX_MAPPED 65536
#define PROCDOM_GNT_COPY_MAX 15 /* segments per GNT_COPY: data fits 64 KiB */
#define PROCDOM_GNT_READONLY 1u
#define PROCDOM_GNTSHR_WRITABLE 1u

struct procdom_ctl_gnt_page {
	uint64_t offset; /* in the fd, page-aligned */
	int32_t fd_index;
	int32_t status; /* GNTST_* */
};

struct procdom_ctl_gnt_notify {
	int64_t offset; /* byte of the mapping, from its start; -1: none */
	int32_t port;	/* dom0 port; -1: none */
	uint32_t pad;
};

struct procdom_ctl_gnt_copy_seg {
	uint32_t ref;	 /* the grant side */
	uint16_t domid;	 /* its granter */
	uint16_t offset; /* in the granted page */
	uint16_t len;
	uint16_t flags; /* GNTCOPY_source_gref or GNTCOPY_dest_gref */
	uint32_t pad;
};

struct procdom_ctl_gntshr {
	uint32_t count;	       /* 1..PROCDOM_GNT_MAX_BATCH pages */
	uint32_t flags;	       /* PROCDOM_GNTSHR_WRITABLE */
	int64_t notify_offset; /* byte of the share, from its start; -1: none */
	int32_t notify_port;   /* dom0 port; -1: none */
	uint32_t pad;
};

struct procdom_ctl_gntshr_page {
	uint64_t offset; /* in dom0's ram memfd */
	uint32_t ref;	 /* dom0's grant ref for the page */
	uint32_t pad;
};

#define PROCDOM_GRANT_READONLY 1u
#define PROCDOM_GRANT_HOST 2u
#define PROCDOM_GRANT_DEVICE 4u

/* One mapping held by `mapper` of `granter`'s grant `ref`. */
struct procdom_ctl_grant {
	uint32_t mapper, granter;
	uint32_t ref, handle;
	uint32_t flags; /* PROCDOM_GRANT_* */
	uint32_t pad;
	uint64_t host_gfn;
};

struct procdom_ctl_gnt_counts {
	uint32_t dom0_frames_total; /* the share pool */
	uint32_t dom0_frames_free;
	uint32_t dom0_frames_deferred; /* unshared, still mapped by the peer */
	uint32_t dom0_maps;	       /* pages mapped through GNT_MAP, all connections */
	uint32_t dom0_refs_used;       /* dom0 grant entries in use */
	uint32_t pad;
};

#endif
