/*
 * xenon-hvd internals: the daemon's one context and what its files share.
 *
 *   main.c     options, the ordered init table, the epoll loop, signals
 *   domain.c   domains: create/destroy/pause/shutdown, death (pidfd), the
 *              hypercall sockets
 *   ctl.c      the control socket D/hvd.sock: connections, framing, ops
 *   dom0.c     dom0: hypercalls on behalf of clients (scratch frames), port
 *              ownership, event delivery to connections
 *   services.c the dom0 service children: xenstored, then (once it is
 *              ready) xenon-consoled, xenon-blkback and xenon-monitor:
 *              start, readiness, restart, bounded stop
 *
 * One thread. Everything that calls into the core runs from the loop, one
 * event at a time, so the core's "serialise every call" contract holds
 * without a lock. Work the core triggers from inside a call (a dom0 kick, a
 * domain shutting down) is recorded in flags and done after the call
 * returns, at the end of the loop iteration (hvd_after_events), never
 * re-entering the core from its own callbacks.
 */
#ifndef XENON_HVD_H
#define XENON_HVD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "domid_set.h"
#include "hypervisor.h"
#include "procdom.h"

#define HVD_MAX_CONNS 256
#define HVD_DOM0_PORTS 4096	    /* 2-level capacity */
#define HVD_MAX_OWNED_PER_CONN 1024 /* dom0 ports one connection may own */
/*
 * dom0's frame space. dom0 has no process: xenon-hvd uses its RAM itself.
 *
 *   gfn 0..3                 hypercall scratch (PROCDOM_DOM0_SCRATCH_GFN)
 *   gfn 4..4+COPY-1          GNT_COPY bounce frames (gnttab.c)
 *   gfn 32..32+POOL-1        the share pool: frames dom0 grants (gntshr);
 *                            each share is a memfd of its own overlaid
 *                            here, the only part of dom0 a domU can get
 *   gfn NR_PAGES-3..-1       the builder's start_info, store, console
 *   gfn NR_PAGES..MAX-1      unpopulated: the grant map window (GNT_MAP's
 *                            host_addr; the memfd behind it stays sparse)
 *   gfn MAX_PAGES            shared_info
 *   gfn MAX_PAGES+1..+64     dom0's grant-table frames (gntshr's entries)
 */
#define HVD_DOM0_COPY_GFN 4
#define HVD_DOM0_COPY_PAGES 16
#define HVD_DOM0_POOL_GFN 32
#define HVD_DOM0_POOL_PAGES 4096
#define HVD_DOM0_PAGES (HVD_DOM0_POOL_GFN + HVD_DOM0_POOL_PAGES + 32) /* populated */
#define HVD_DOM0_MAP_GFNS 65536
#define HVD_DOM0_MAX_PAGES (HVD_DOM0_PAGES + HVD_DOM0_MAP_GFNS)
#define HVD_DOM0_GNT_FRAMES 64 /* the core's default max_grant_frames */
#define HVD_DOM0_GNT_FRAME_GFN (HVD_DOM0_MAX_PAGES + 1)
#define HVD_CONN_SNDBUF (1 << 20)

enum hvd_source_kind {
	HVD_SRC_SIGNAL,
	HVD_SRC_TIMER,
	HVD_SRC_CTL_LISTEN,
	HVD_SRC_CONN,
	HVD_SRC_HC,	   /* a domain's vCPU hypercall socket */
	HVD_SRC_PIDFD,	   /* a domain's process */
	HVD_SRC_SPAWNER,   /* answers from the spawner (procdom.h) */
	HVD_SRC_SVC_PIDFD, /* a dom0 service (obj: struct hvd_svc) */
	HVD_SRC_SVC_READY, /* its readiness pipe */
};

/* What an epoll event points at. */
struct hvd_source {
	enum hvd_source_kind kind;
	void *obj;
	unsigned int vcpu; /* HVD_SRC_HC */
};

struct hvd_domain {
	struct hvd *h;
	domid_t domid;
	struct procdom_domain *pdom;
	struct hvd_source pid_src;
	struct hvd_source hc_src[HV_MAX_VCPUS];
	bool shutdown_pending; /* the core reported a shutdown: tear down after */
	bool dead;	       /* process gone: tear down after this iteration */
	bool watched;	       /* its fds are (or may be) in the epoll set */
	bool pid_watched;      /* ... its pidfd too (once its program started) */
	bool reap_queued;      /* on h->reap_list (dead or shutdown_pending) */
	struct hvd_domain *reap_next;
	/* Its place in the order of creation (LIST_NEW's cursor): a list
	 * ending at h->born_last, the newest (born_prev walks back). */
	uint64_t born;
	struct hvd_domain *born_prev, *born_next;
};

struct hvd_conn {
	struct hvd *h;
	int fd;
	unsigned int id;
	struct hvd_source src;
	unsigned int nr_owned; /* ports owned + shared VIRQs subscribed */
	/* Shared global VIRQs (dom0.c), one bit per VIRQ: subscribed, event
	 * sent and not yet unmasked, fired again meanwhile. */
	uint32_t virq_sub, virq_masked, virq_pending;
	struct hvd_gnt_conn *gnt; /* its grant maps and shares (gnttab.c) */
	bool dead;		  /* freed after this iteration */
	struct hvd_conn *next;
};

/* The dom0 service children (services.c): xenstored first, the back ends
 * once it is ready. */
enum hvd_svc_id {
	HVD_SVC_XENSTORED,
	HVD_SVC_CONSOLED,
	HVD_SVC_BLKBACK,
	HVD_SVC_MONITOR,
	HVD_NR_SVCS
};

struct hvd_svc {
	struct hvd *h;
	enum hvd_svc_id id;
	bool wanted;
	char path[4096];
	pid_t pid;
	int pidfd, ready_fd;
	struct hvd_source pid_src, ready_src;
	bool ready;	 /* said READY since its latest start */
	bool ever_ready; /* ... since our start */
	int restarts;
	/* A failed start being stopped from the loop (services.c): SIGTERM
	 * sent, SIGKILL at stop_deadline_ns (CLOCK_MONOTONIC) unless its
	 * pidfd says it ended first; killed: the SIGKILL went. Before any
	 * stop, stop_deadline_ns also holds the end of the READY grace: its
	 * pipe closed without READY while it runs (svc_closed_unready()), its
	 * pidfd has until then to say it exited. 0 once reaped. */
	bool stopping, killed;
	uint64_t stop_deadline_ns;
};

struct hvd_options {
	const char *run_dir;
	/* --xenstored/--consoled/--blkback/--monitor PATH (NULL: next to our own
	 * binary), --no-... (--no-xenstored: none of them) */
	const char *svc_path[HVD_NR_SVCS];
	bool no_svc[HVD_NR_SVCS];
	bool no_standby; /* --no-standby: no program started ahead (procdom.h) */
	int ready_fd;
	int verbosity;
	unsigned int nr_reserve;
	struct hv_evtchn_reserve reserve[HV_MAX_PREBOUND];
};

struct hvd {
	struct hvd_options opt;
	char sock_path[4096], pid_path[4096];
	int log_fd;
	int epfd;
	int sig_fd;
	sigset_t old_mask;
	struct hvd_source sig_src, timer_src, listen_src, spawner_src;
	unsigned int spawner_gen_watched; /* procdom_spawner_generation() in the loop */
	bool stop;
	int exit_code;

	struct procdom *pd;
	struct hypervisor *hv;
	struct hvd_domain **doms; /* [DOMID_FIRST_RESERVED] */
	struct domid_set domids;  /* the ids doms[] holds (domain.c) */
	/* doms[] in the order of creation; the last one's hvd_domain.born is
	 * born_seq (0: none yet). */
	struct hvd_domain *born_last;
	uint64_t born_seq;
	struct hvd_domain *reap_list; /* to tear down after this iteration */

	int ctl_fd;
	struct hvd_conn *conns;
	unsigned int nr_conns, next_conn_id;
	uint8_t *rxbuf; /* PROCDOM_CTL_MAX_MSG + 1 */

	/* dom0 ports: which connection owns each, and whether it opened it
	 * (then it is closed when the connection goes). */
	struct hvd_conn *port_owner[HVD_DOM0_PORTS];
	bool port_autoclose[HVD_DOM0_PORTS];
	/* Global VIRQs clients bound: dom0's one port for each (0: none),
	 * and how many connections subscribe to it (dom0.c); port_virq is
	 * the reverse, virq + 1 per port (0: no shared VIRQ). */
	evtchn_port_t virq_port[NR_VIRQS];
	unsigned int virq_nr_subs[NR_VIRQS];
	uint8_t port_virq[HVD_DOM0_PORTS];
	bool dom0_kicked;
	bool have_deferred; /* a domain or connection awaits teardown */

	/* Grants (gnttab.c): dom0's grant-table frames as the core showed
	 * them (local_physmap), and the maps/shares bookkeeping. */
	void *gnt_frame[HVD_DOM0_GNT_FRAMES];
	struct hvd_gnt *gnt;

	/* xenstored, then xenon-consoled, xenon-blkback and xenon-monitor
	 * once it is ready, those restarted if they die (services.c). */
	struct hvd_svc svc[HVD_NR_SVCS];
	bool ready_signalled; /* --ready-fd written (once) */
};

/* main.c */
void hvd_log(struct hvd *h, enum hv_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int hvd_watch_fd(struct hvd *h, int fd, struct hvd_source *src);
void hvd_unwatch_fd(struct hvd *h, int fd);

/* Every service said READY (or is not wanted): signal our readiness. */
void hvd_services_ready(struct hvd *h);

/* services.c */
int hvd_svcs_init(struct hvd *h); /* find the binaries; start xenstored */
void hvd_svcs_fini(struct hvd *h);
void hvd_svcs_stop(struct hvd *h);	  /* bounded, reverse order */
bool hvd_svcs_ready(const struct hvd *h); /* every wanted one said READY once */
/* The loop's wait: ms until the next stop deadline, -1 for none. */
int hvd_svcs_timeout_ms(const struct hvd *h);
/* After each wait: SIGKILL to a stop past its deadline. */
void hvd_svcs_tick(struct hvd *h);
/* procdom_hooks.known_children: the services' processes are ours. */
void hvd_svcs_known_children(void *ctx, pid_t *pids, unsigned int n);
void hvd_svc_ready_event(struct hvd_svc *s);
void hvd_svc_died_event(struct hvd_svc *s);

/* domain.c */
extern const struct procdom_hooks hvd_procdom_hooks_template;
int hvd_dom0_create(struct hvd *h);
struct hvd_domain *hvd_domain_get(struct hvd *h, domid_t domid);
/* The lowest domid >= from that has a domain (LIST): 0 or -ENOENT. */
int hvd_domain_next(struct hvd *h, unsigned int from, domid_t *ret_domid);
/* The oldest domain created after cursor (LIST_NEW), or NULL: none. */
struct hvd_domain *hvd_domain_born_after(struct hvd *h, uint64_t cursor);
/* CREATE: validated request -> new domain (paused). */
struct procdom_ctl_create;
struct procdom_ctl_created;
int hvd_domain_create(struct hvd *h, const struct procdom_ctl_create *req, char *const argv[],
		      domid_t *ret_domid, struct procdom_ctl_created *ret);
int hvd_domain_destroy(struct hvd *h, domid_t domid);
int hvd_domain_pause(struct hvd *h, domid_t domid, bool pause);
int hvd_domain_shutdown(struct hvd *h, domid_t domid, unsigned int reason);
void hvd_domain_hc_ready(struct hvd_domain *hd, unsigned int vcpu);
void hvd_domain_died(struct hvd_domain *hd);
/* The spawner's answers (procdom.h): its socket into the loop (after a
 * spawn, which may have made a new spawner), and taking them. */
void hvd_spawner_watch(struct hvd *h);
void hvd_spawner_event(struct hvd *h);
/* Tear down domains marked dead or shut down. */
void hvd_domains_reap(struct hvd *h);
/* Every domU torn down now (shutdown); dom0 stays. */
void hvd_domains_destroy_domus(struct hvd *h);
void hvd_domains_destroy_all(struct hvd *h);

/* ctl.c */
int hvd_ctl_init(struct hvd *h);
void hvd_ctl_fini(struct hvd *h);
/* Close every client connection now (shutdown: nobody waits on us). */
void hvd_ctl_close_conns(struct hvd *h);
void hvd_ctl_accept(struct hvd *h);
void hvd_conn_ready(struct hvd_conn *c);
void hvd_conns_reap(struct hvd *h);
int hvd_conn_send(struct hvd_conn *c, const void *msg, size_t len, const void *payload, size_t plen,
		  int fd);

/* One request on a connection, and its reply (at most one fd). */
struct hvd_req {
	struct hvd_conn *c;
	struct procdom_ctl_msg m;
	uint8_t *payload;
	size_t plen;
};
int hvd_reply(struct hvd_req *r, int64_t arg, const void *payload, size_t plen, int fd);

/* gnttab.c: dom0's grant maps (gntdev), shares (gntalloc), grant status. */
void hvd_dom0_physmap(void *ctx, domid_t domid, uint64_t gfn, void *page, bool readonly);
/* GNT_MAP .. GNT_COUNTS (procdom_proto.h (g)); -EOPNOTSUPP: not one. */
int hvd_gnt_dispatch(struct hvd_req *r);
/* The connection goes: its maps unmapped (notifies fired), shares ended. */
void hvd_gnt_conn_gone(struct hvd_conn *c);
/* Unshared frames the peer still mapped: freed once it no longer does. */
void hvd_gnt_retry_deferred(struct hvd *h);
void hvd_gnt_fini(struct hvd *h);

/* dom0.c */
void hvd_dom0_local_kick(void *ctx, domid_t domid, unsigned int vcpu);
void hvd_dom0_deliver(struct hvd *h);
/* A hypercall as dom0 with buf copied to and from the scratch frames. */
long hvd_dom0_hypercall(struct hvd *h, unsigned int op, uint64_t args[5], unsigned int buf_arg,
			void *buf, size_t len);
/* The HYPERCALL op for connection c; updates port ownership. */
long hvd_dom0_client_hypercall(struct hvd_conn *c, struct procdom_ctl_hypercall *hc, void *buf);
int hvd_dom0_watch(struct hvd_conn *c, int64_t port, bool watch);
/* The connection goes: close the ports it opened, forget the others, leave
 * the shared VIRQs it subscribed to (the last one out closes the port). */
void hvd_dom0_conn_gone(struct hvd_conn *c);

#endif
