/*
 * Runtime internals shared by its files and by tests/proc/. Nothing here is
 * for guest programs (their header is procdom_rt.h).
 *
 * One struct procdom_rt per process (the runtime is the domain's "kernel
 * platform"; a test builds its own instances, so no function below reaches
 * a global except through the pointer it is given). The only process-wide
 * state is the instance main() boots (rt_main.c) and the calling thread's
 * vCPU (a thread-local, the per-CPU variable of a kernel).
 *
 * Address space of a domain process (base = the reserved window):
 *
 *   base                         base + max_pages*4096          base + max_gfn*4096
 *   | ram memfd, MAP_SHARED      | overlay window: PROT_NONE holes, |
 *   | gfn 0 .. max_pages-1       | shared_info (evt @0), grant      |
 *   |                            | frames (xen @off), foreign pages |
 *   +----------------------------+----------------------------------+
 *   (RAM frames can be overlaid too: add_to_physmap, grant maps)
 *
 *   evt mapping (outside the window): shared_info | vCPU pages 0..31 | send table (ro)
 *   peer slots 1..64 (outside): a peer's shared_info | vCPU pages
 *
 * Guest RAM use by the runtime: gfn 0 unused; gfns 1 .. 4*nr_vcpus are the
 * vCPUs' bounce buffers (2 pages for calls, 2 for calls made by upcalls
 * that interrupted guest code: see rt_upcall.c); procdom_alloc_pages()
 * hands out the rest up to the builder's frames at the top.
 */
#ifndef XENON_PROCDOM_RT_INTERNAL_H
#define XENON_PROCDOM_RT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen_guest.h"
#include "procdom_proto.h"
#include "procdom_rt.h"

#define RT_PAGE_SIZE 4096UL
#define RT_MAX_VCPUS PROCDOM_EVT_MAX_VCPUS
#define RT_MAX_GFN (1ULL << 24) /* 64 GiB of address space per domain, at most */
#define RT_BOUNCE_PAGES 2	/* per vCPU, twice (calls, interrupt calls) */
#define RT_SPIN_NS 20000ULL	/* POLLING before SLEEPING (floors.md) */
#define RT_ERR_LEN 160

/* ---- XENON_BOOT (rt_boot.c) ------------------------------------------ */

struct procdom_boot {
	unsigned int version;
	domid_t domid;
	unsigned int nr_vcpus;
	int ram_fd, evt_fd, xen_fd;
	int hc_fd[RT_MAX_VCPUS];
	uint64_t max_pages, max_gfn, start_info_gfn;
	uint64_t evt_pages, xen_pages; /* sizes of the evt and xen memfds */
	int ppid;		       /* xenon-hvd's pid; 0: not given */
};

/* Strict parse: every key exactly once, decimal numbers only, bounds and
 * cross-field checks (see rt_boot.c). 0, or -EINVAL with a reason in err. */
int procdom_boot_parse(const char *s, struct procdom_boot *ret, char *err, size_t errlen);

/* ---- standby (rt_standby.c; procdom_proto.h 1b) ------------------------ */

struct procdom_standby_spec {
	int fd;	   /* the socket to the spawner */
	int ppid;  /* xenon-hvd */
	bool fork; /* a template: a child per domain (rt_standby.c) */
};

/* XENON_STANDBY's value, strictly: "fd=N ppid=P [fork=F]" (any order, once
 * each), N >= PROCDOM_STANDBY_FD_MIN, P > 0, F 0 or 1. 0, or -EINVAL with
 * a reason. */
int procdom_standby_parse(const char *s, struct procdom_standby_spec *ret, char *err,
			  size_t errlen);
/*
 * Say ready on the socket, wait there for a domain and put it in place (log
 * on 1-2, fds at 3.., XENON_BOOT set, XENON_STANDBY unset, comm kept): 0,
 * in the process that boots the domain -- this one, or with fork a child
 * (the template itself never returns 0: it serves requests until EOF).
 * 1: EOF, exit 0 quietly. < 0: a bad message or a process that cannot be a
 * standby or a template (said to the spawner too: procdom_proto.h 1b), the
 * reason in err (and the log already on 1-2 if the message carried one).
 */
int procdom_standby_wait(const struct procdom_standby_spec *spec, char *err, size_t errlen);
/* A template mimics glibc 2.36's fork (rt_standby.c): 0 if the C library
 * it was built for (major.minor; -1 -1: not glibc) and the one running
 * are that one, else -EINVAL with the reason. */
int procdom_standby_check_libc(int major, int minor, const char *running, char *err, size_t errlen);

/* ---- the instance ---------------------------------------------------- */

struct procdom_rt;

struct procdom_vcpu {
	struct procdom_rt *rt;
	unsigned int id;
	int hc_fd;
	uint32_t seq;
	struct procdom_vcpu_page_ext *page; /* in the evt mapping */
	/* > 0 while this thread is inside the runtime (socket, maps, wait):
	 * the upcall signal then defers to the runtime's own delivery. */
	volatile int in_runtime;
	bool started;
	void (*fn)(void *arg);
	void *arg;
	pthread_t thread;
	uint8_t *irq_bounce; /* bounce buffer while an upcall interrupts guest code */
	/* A local SCHEDOP_poll spun and handed the sleep to xenon-hvd: its
	 * HV_ACT_POLL wait starts asleep (rt_poll.c). This thread only. */
	bool poll_spun;
	/* The local SCHEDOP_block saw upcall_pending during its quiet spin
	 * and left the mask set: rt_deliver runs that upcall without
	 * masking again, then unmasks (rt_hypercall.c). This thread only. */
	bool upcall_held;
};

struct procdom_peer {
	uint8_t *evt; /* shared_info + vCPU pages of the peer; NULL: slot empty */
	size_t len;
};

struct procdom_rt {
	struct procdom_boot boot;
	uint8_t *base;	   /* the guest-physical window */
	size_t window_len; /* max_gfn pages */
	/* Bit per gfn: something accessible is mapped there (RAM, an overlay).
	 * Written under map_lock, read lock-free (atomics). */
	uint64_t *gfn_ok;
	uint8_t *evt; /* this domain's evt memfd, [0, evt_len) */
	size_t evt_len;
	const struct procdom_send_entry *send_table; /* NULL: no fast path */
	bool fast;				     /* fast send + local block allowed */
	pthread_mutex_t map_lock;		     /* guards peers[] updates and alloc_next */
	struct procdom_peer peers[PROCDOM_MAX_PEER_SLOTS + 1];
	uint64_t alloc_next, alloc_end; /* procdom_alloc_pages() gfns */
	struct xen_guest_platform platform;
	struct xen_guest *guest;
	struct procdom_vcpu vcpu[RT_MAX_VCPUS];
	struct procdom_rt_stats stats; /* relaxed atomics */
	pthread_t watchdog;	       /* hangs up with xenon-hvd (rt_main.c) */
	bool watchdog_started;
	bool bad_reply_logged;
	/* Ports below this exist (< the core's max_ports): grows only. */
	uint32_t poll_valid_below;
	/* XENVER_version as the core answered it (constant); 0: not yet. */
	long xen_version;
};

/* ---- memory (rt_memory.c) -------------------------------------------- */

/* Reserve the window, map RAM and evt. */
int rt_memory_init(struct procdom_rt *rt, char *err, size_t errlen);
void rt_memory_fini(struct procdom_rt *rt);
/* After PROCDOM_HC_BOOT: check start_info's shared_info is shown; carve
 * the bounce buffers and the allocator's range out of RAM. */
int rt_memory_layout(struct procdom_rt *rt, char *err, size_t errlen);
/* Check every map change of a reply against the domain's bounds and the
 * fds that came with it, before anything is applied. 0 or -EPROTO. */
int rt_maps_validate(const struct procdom_rt *rt, const struct procdom_map *maps,
		     unsigned int nr_maps, unsigned int nr_fds, char *err, size_t errlen);
/* Apply validated map changes (mmap MAP_FIXED in the window). 0 or -EIO. */
int rt_maps_apply(struct procdom_rt *rt, const struct procdom_map *maps, unsigned int nr_maps,
		  const int *fds);
uint64_t rt_virt_to_gpa(void *ctx, const void *p);
void *rt_gpa_to_virt(void *ctx, uint64_t gpa);
/* The platform's mem_is_zero hook (xen_guest.h): [p, p+len) is our own RAM
 * never written (a hole of the ram memfd), so it reads as zero. */
bool rt_mem_is_zero(void *ctx, const void *p, size_t len);
/* gpa_to_virt for len bytes inside one mapped region, or NULL. */
void *rt_gpa_range(struct procdom_rt *rt, uint64_t gpa, size_t len);

/* ---- hypercalls (rt_hypercall.c) ------------------------------------- */

long rt_hypercall(void *ctx, unsigned int vcpu, unsigned long op, const uint64_t args[5]);
/* The platform's evtchn_send hook: a fast send, or false (hypercall). */
bool rt_evtchn_send(void *ctx, unsigned int vcpu, evtchn_port_t port);
/* PROCDOM_HC_BOOT on vCPU 0 (waits for the first unpause), maps applied. */
int rt_hc_boot(struct procdom_vcpu *v);
unsigned int rt_current_vcpu(void *ctx);
void *rt_bounce(void *ctx, unsigned int vcpu, size_t *ret_len);
/* Parse one reply datagram (header + maps) already received. */
int rt_reply_check(const struct procdom_rt *rt, const void *buf, size_t len, uint32_t seq,
		   unsigned int nr_fds, const struct procdom_hc_rep **ret_rep,
		   const struct procdom_map **ret_maps, char *err, size_t errlen);
void rt_log_bad_reply(struct procdom_rt *rt, const char *what);

/* ---- wait / wake (rt_wait.c): the floors.md protocol ------------------ */

typedef bool (*rt_cond_fn)(void *arg);

/* As the sleeper: POLLING for up to spin_ns checking cond, then SLEEPING,
 * full fence, re-check, FUTEX_WAIT (shared) until woken or deadline_ns
 * (CLOCK_MONOTONIC, 0 = none); the sleeper alone returns `state` to
 * RUNNING. 0 when cond held, -ETIMEDOUT at the deadline. *ret_slept (may
 * be NULL) says whether it went to sleep. */
int rt_wait(struct procdom_vcpu_page *pg, rt_cond_fn cond, void *arg, uint64_t deadline_ns,
	    uint64_t spin_ns, bool *ret_slept);

/* rt_wait's polling phase alone: POLLING, spin up to spin_ns (or the
 * deadline) on cond. true: cond held, state RUNNING again; false: the
 * state is left POLLING for the caller's next step (rt_wait with no spin,
 * or rt_wait_running). quiet (the vCPU's upcalls are masked throughout):
 * the state word stays RUNNING, untouched, either way (rt_wait.c says
 * why). */
bool rt_wait_spin(struct procdom_vcpu_page *pg, rt_cond_fn cond, void *arg, uint64_t spin_ns,
		  uint64_t deadline_ns, bool yield, bool quiet);
/* cond held for the calling vCPU, whose page is pg: ask for the lines its
 * upcall is about to write (its vcpu_info, the pending words its selector
 * names) all at once. Only a hint. */
void rt_upcall_prefetch_lines(struct procdom_vcpu_page *pg);
/* The waiting vCPU is running again (seq_cst store of RUNNING). */
void rt_wait_running(struct procdom_vcpu_page *pg);

enum rt_notify_result { RT_NOTIFY_NONE, RT_NOTIFY_WOKE, RT_NOTIFY_SIGNAL };
/* As the waker, after storing the data: full fence, read state; SLEEPING
 * -> FUTEX_WAKE (shared), wakes++; RUNNING and want_signal and a tid ->
 * tgkill(pid, tid, upcall signal), signals++; else nothing. */
enum rt_notify_result rt_notify(struct procdom_vcpu_page *pg, bool want_signal);

uint64_t rt_now_ns(void);

/* ---- SCHEDOP_poll (rt_poll.c) ----------------------------------------- */

#define RT_POLL_MAX 128 /* ports per SCHEDOP_poll, Xen's limit */

struct rt_poll {
	struct shared_info *s; /* the poller's domain */
	struct vcpu_info *vi;  /* the poller's vCPU */
	unsigned int nr;
	evtchn_port_t ports[RT_POLL_MAX]; /* each < XG_NR_EVTCHNS */
};

/* A polled port is pending, or an upcall is pending and unmasked. */
bool rt_poll_ready(void *arg);
enum rt_poll_end { RT_POLL_DONE, RT_POLL_HYPERVISOR };
/* The local wait (the design comment of rt_poll.c): spin, then sleep here
 * if may_sleep (the domain has one vCPU) and the sleep can be woken by
 * every sender. DONE: ready or the deadline passed; HYPERVISOR: the sleep
 * needs xenon-hvd to record the poll. State RUNNING on return. */
enum rt_poll_end rt_poll_wait(struct procdom_vcpu_page *pg, struct rt_poll *p, uint64_t deadline_ns,
			      uint64_t spin_ns, bool may_sleep, bool *ret_slept);
/* struct sched_poll at gpa into p (ports not yet checked against the
 * domain). 1 read, 0 not readable here, -EINVAL more than RT_POLL_MAX. */
int rt_poll_read(struct procdom_rt *rt, uint64_t gpa, struct rt_poll *p, uint64_t *ret_timeout);
/* The core accepted every port of p (it reached the wait). */
void rt_poll_learn_all(struct procdom_rt *rt, const struct rt_poll *p);
/* SCHEDOP_poll without xenon-hvd: 1 with *ret set, 0 take the socket. */
int rt_poll_local(struct procdom_vcpu *v, const uint64_t args[5], long *ret);
/* A vcpu_op naming a vCPU the domain does not have: true with *ret =
 * -ENOENT, the core's answer, without the socket (rt_hypercall.c). */
bool rt_vcpu_op_local(const struct procdom_rt *rt, unsigned long op, const uint64_t args[5],
		      long *ret);

/* ---- upcalls (rt_upcall.c) -------------------------------------------- */

int rt_upcall_signal(void);
int rt_upcall_install(void);
/* Run the guest's upcall on the calling vCPU while pending and unmasked. */
void rt_deliver(struct procdom_vcpu *v);
struct procdom_vcpu *rt_self(void);
void rt_set_self(struct procdom_vcpu *v);

/* ---- the fast path (rt_fast.c) --------------------------------------- */

/* EVTCHNOP_send of port in shared memory: 1 done, 0 take the hypercall.
 * self: the calling vCPU (its callers hold it; rt_self() again would be a
 * TLS lookup on the hot path), whose upcalls are masked for the send;
 * NULL: none to mask. */
int rt_fast_send(struct procdom_rt *rt, struct procdom_vcpu *self, evtchn_port_t port);
/* The 2-level send into a peer's pages (the core's evtchn_2l_set_pending
 * + notify). Returns true if the port went 0 -> 1 pending; *ret_edge says
 * whether upcall_pending went 0 -> 1. Exposed for tests. */
bool rt_2l_send(struct shared_info *s, struct vcpu_info *vi, evtchn_port_t port, bool *ret_edge);
/* rt_2l_send, then the peer vCPU's wake-up as a fast send does it (page
 * pg: SLEEPING woken on any 0 -> 1, masked or not; a RUNNING, unmasked
 * vCPU signalled after the grace period). Exposed for tests. */
enum rt_notify_result rt_2l_send_wake(struct shared_info *s, struct vcpu_info *vi,
				      struct procdom_vcpu_page *pg, evtchn_port_t port);

/* ---- vCPUs (rt_vcpu.c) ----------------------------------------------- */

/* Mark the calling thread as running vCPU v (tid, pid, state RUNNING). */
void rt_vcpu_attach(struct procdom_vcpu *v);
/* The calling vCPU stops: state STOPPED. */
void rt_vcpu_detach(struct procdom_vcpu *v);
/* Exit the process with a shutdown reason (flushes stdio unless in a
 * signal handler). */
__attribute__((noreturn)) void rt_exit(int status);

/* The instance main() booted (NULL in tests that build their own). */
struct procdom_rt *rt_instance(void);
void rt_set_instance(struct procdom_rt *rt);

static inline void rt_stat_inc(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- small shared helpers ----------------------------------------------- */

/* XENON_BOOT's and XENON_STANDBY's parsers (rt_boot.c): the reason into
 * err, -EINVAL; a decimal in [s, end), no sign or leading zero, <= max. */
int rt_parse_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool rt_parse_number(const char *s, const char *end, uint64_t max, uint64_t *ret);

/* A spin-wait hint to the CPU (PAUSE on x86). */
static inline void rt_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Port nr's bit within its word of evtchn_pending / evtchn_mask. */
static inline xen_ulong_t rt_bit(unsigned int nr)
{
	return (xen_ulong_t)1 << (nr % XG_EVTCHN_BITS);
}

#endif
