/*
 * xenon-consoled: the console back end, a dom0 service under xenon-hvd.
 *
 *   guest                 xenon-consoled                    D/console/
 *   out[] --evtchn-->     drain: log first, then clients -> dN.log (append)
 *   in[]  <--evtchn--     feed: what fits of a client     <- dN.sock clients
 *
 * One thread, one epoll loop. Domains are found through XenStore: the
 * @introduceDomain watch (also fired at registration) reads
 * /local/domain/N/console/{ring-ref,port} of new domains; @releaseDomain, and a slow timer
 * for domains never introduced, check liveness with xenon-hvd's LIST of
 * every domain (xenon_domains_list(): all its pages, so a console of any
 * domid is checked, however many domains run).
 * Domids are reused (lowest free): a console belongs to one domain, the
 * domid and LIST's pid together, so a new domain behind an old id (even one
 * created before we saw the old one's release) gets a console of its own,
 * and stale store entries of dead domains are never attached.
 *
 * Cost per domain created does not grow with the number of domains: an
 * @introduceDomain asks xenon-hvd only for the domains created since the
 * last scan (LIST_NEW and our cursor: rows for those alone), looks at the
 * running ones not seen before -- no console for that (domid, pid), and
 * not passed over already as introduced without console keys (`bare`) --
 * and reads just their two keys; a domain neither introduced nor with keys
 * yet waits (cd->waiting) and is looked at again at each scan. Consoles
 * are found by domid and by port in id-indexed tables (lib/daemon/idtab.h);
 * the reaper visits only consoles queued for it. Example, 1000 domains
 * running, domain 1001 introduced: LIST_NEW (1 row), 1 lookup, 2 reads;
 * before, a LIST of all 1001 rows (8 requests) and 1000 lookups that hit.
 * Only a death (@releaseDomain, the slow check) lists every domain.
 *
 * Flow control, both ways, never dropping:
 *  - output: bytes leave out[] only once the log has them (cons_ring_peek,
 *    write, cons_ring_consume); then the guest is notified, so a guest
 *    blocked on a full ring goes on. Attached clients get a copy, buffered
 *    up to CD_CLIENT_BUF each; a client that falls further behind is
 *    disconnected (logged) -- it never stalls the guest or the log.
 *  - input: a client is read only as far as in[] has room; when it is full
 *    the client's EPOLLIN is switched off until the guest's next event
 *    (xcons_read() notifies after consuming).
 *
 * xenstored going away does not stop us: a served console's ring, port
 * and clients need no store, and exiting would close every running
 * guest's console. libxenstore never wakes the xs_fileno() pipe for it
 * (xenon_dom0.h, "Whether xenstored is still there"), so while the store
 * is there the loop wakes at least every XENON_STORE_PROBE_MS and drains
 * the watch events at every wake-up, which is the probe. Once that fails:
 * "xenstored is gone: connected devices are still served, no new ones",
 * once; the store is taken off the loop and never probed again. Every
 * console and client is served as before (a new client of a served
 * console too); no new console is found (that takes @introduceDomain and
 * the store's keys); a domain's death is still noticed by the slow
 * liveness check, which needs only xenon-hvd's LIST, and closes its
 * console. xenon-hvd never restarts xenstored, nor us if we die after it
 * (dom0/hvd/services.c).
 *
 * Two periods, two meanings, the loop sleeping until the nearer
 * (cd_wait_ms()): CD_LIVENESS_MS, the slow liveness check, due by a
 * deadline while there are consoles, so busy consoles do not hold it off
 * (without the store it is the only way a death is seen);
 * XENON_STORE_PROBE_MS, the store probe, while the store is there.
 */
#ifndef XENON_CONSOLED_H
#define XENON_CONSOLED_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "cons_ring.h"
#include "daemon.h"
#include "idtab.h"
#include "xenon_dom0.h"

#define CD_MAX_CONSOLES 1024	   /* domains served at once */
#define CD_MAX_CLIENTS 8	   /* attached clients per domain */
#define CD_CLIENT_BUF (256 * 1024) /* output a client may lag behind */
#define CD_LIVENESS_MS 1000	   /* the slow liveness check (LIST) */

enum cd_src_kind { CD_SRC_SIGNAL, CD_SRC_XS, CD_SRC_EVTCHN, CD_SRC_LISTEN, CD_SRC_CLIENT };

struct cd_src {
	enum cd_src_kind kind;
	void *obj;
};

struct cd_console;

struct cd_client {
	struct cd_console *con;
	int fd;
	struct cd_src src;
	uint32_t events; /* registered with epoll; 0: not registered */
	bool in_blocked; /* in[] was full: not read until the guest consumes */
	bool hung_up;	 /* the peer is gone: its output is discarded */
	bool dead;	 /* freed after this iteration */
	char *obuf;	 /* [CD_CLIENT_BUF], a byte ring */
	size_t ohead, olen;
};

struct cd_console {
	struct cd *cd;
	unsigned int domid;
	int32_t pid; /* LIST's pid: which domain of that domid (ids are reused) */
	void *page;
	struct cons_ring ring;
	evtchn_port_t port; /* ours; 0: not bound */
	int log_fd, listen_fd;
	struct cd_src listen_src;
	char sock_path[PATH_MAX];
	struct cd_client *clients[CD_MAX_CLIENTS];
	unsigned int nr_clients;
	bool broken;	     /* bad indices or setup failed: not served */
	bool dead;	     /* domain gone: freed after this iteration */
	bool log_failing;    /* a log write failed (logged once until it works) */
	bool clients_logged; /* CD_MAX_CLIENTS hit (logged once) */
	bool queued;	     /* on cd->reap_list */
	bool freeing;	     /* in cd_console_free(): never queued again */
	struct cd_console *rnext;
	unsigned int idx; /* in cd->cons[] */
};

struct cd {
	struct daemon_opts opts; /* --run-dir, --ready-fd, -v */
	char dir[PATH_MAX];	 /* run_dir/console */
	int log_fd, epfd, sig_fd;
	struct xs_handle *xs;
	struct xenon_evtchn *xe;
	struct xenon_ctl *ctl;
	struct cd_src sig_src, xs_src, ev_src;
	struct cd_console *cons[CD_MAX_CONSOLES]; /* every console, dead ones too */
	unsigned int nr_cons;
	struct idtab by_domid;	      /* domid -> its console, until marked dead */
	struct idtab by_port;	      /* our port -> console, while bound */
	struct idtab bare;	      /* domid -> int32_t pid: introduced, no console keys */
	struct cd_console *reap_list; /* dead, or with dead clients */
	struct xenon_domains doms;    /* the latest LIST of every domain */
	struct xenon_domains fresh;   /* the latest LIST_NEW: domains new to us */
	uint64_t cursor;	      /* LIST_NEW's, after the domains looked at */
	/* Running, neither introduced nor with console keys when looked at:
	 * looked at again at each scan until they are (or are gone). */
	struct procdom_ctl_dominfo *waiting;
	unsigned int nr_waiting, cap_waiting;
	uint64_t live_due_ms; /* the next slow liveness check (CLOCK_MONOTONIC) */
	bool store_gone;      /* xenstored died: xs_src is off the loop */
	bool rescan, check_live, limit_logged, stop;
};

/* main.c */
void cd_log(struct cd *cd, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
enum { CD_ERR, CD_WARN, CD_INFO, CD_DEBUG };
int cd_epoll_set(struct cd *cd, int fd, uint32_t old_events, uint32_t events, struct cd_src *src);

/* console.c */
void cd_console_attach(struct cd *cd, unsigned int domid, int32_t pid, uint64_t gfn,
		       evtchn_port_t port);
void cd_console_service(struct cd_console *con);
void cd_console_gone(struct cd_console *con);
void cd_console_free(struct cd_console *con);
void cd_console_accept(struct cd_console *con);
void cd_client_ready(struct cd_client *c, uint32_t events);
void cd_consoles_reap(struct cd *cd);
void cd_console_queue_reap(struct cd_console *con);
struct cd_console *cd_console_by_domid(struct cd *cd, unsigned int domid);
struct cd_console *cd_console_by_port(struct cd *cd, evtchn_port_t port);

#endif
