/*
 * libxenon-dom0 — dom0's client library for xenon-hvd, the one public header.
 *
 * Shaped like Xen's libxenctrl / libxenevtchn / libxenforeignmemory, over
 * the control socket RUN_DIR/hvd.sock (protocol: substrate/proc/
 * procdom_proto.h). Every function returns a negative errno on failure.
 *
 *   struct xenon_ctl      one control connection: domain management,
 *                         hypercalls as dom0, foreign mappings
 *   struct xenon_evtchn   an event channel handle (its own connection): the
 *                         dom0 ports it binds fire on it, as with
 *                         libxenevtchn; closing it closes them
 *
 * Events: xenon_evtchn_fd() is pollable. When it polls readable, call
 * xenon_evtchn_pending() until it returns -EAGAIN; a port it returns is
 * masked until xenon_evtchn_unmask(). Requests made on the handle may read
 * events off the socket into its queue, so also drain pending() after any
 * bind/notify call before polling again (xenon_evtchn_has_queued()).
 *
 * Not thread-safe: one handle per thread.
 */
#ifndef XENON_DOM0_H
#define XENON_DOM0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "procdom_proto.h"

struct xenon_ctl;
struct xenon_evtchn;

/* ---- control ---------------------------------------------------------- */

int xenon_ctl_open(const char *run_dir, struct xenon_ctl **ret_ctl);
void xenon_ctl_close(struct xenon_ctl *ctl); /* accepts NULL */
int xenon_ctl_fd(const struct xenon_ctl *ctl);

/* Fill a create request with defaults: 1 vCPU, 256 pages, any domid. */
void xenon_create_defaults(struct procdom_ctl_create *req);
/* Create a paused domain running `argv` (argv[0] the program's absolute
 * path; NULL or "" for a domain with no process). */
int xenon_domain_create(struct xenon_ctl *ctl, const struct procdom_ctl_create *req,
			char *const argv[], uint32_t *ret_domid, struct procdom_ctl_created *ret);
int xenon_domain_destroy(struct xenon_ctl *ctl, uint32_t domid);
int xenon_domain_pause(struct xenon_ctl *ctl, uint32_t domid);
int xenon_domain_unpause(struct xenon_ctl *ctl, uint32_t domid);
int xenon_domain_shutdown(struct xenon_ctl *ctl, uint32_t domid, unsigned int reason);
/* Up to `max` live domains, lowest domid first; returns how many. */
int xenon_domain_list(struct xenon_ctl *ctl, struct procdom_ctl_dominfo *out, unsigned int max);
/* One domain's entry (its pid is 0 while a start in the background is in
 * flight); -ESRCH: no such domain. */
int xenon_domain_info(struct xenon_ctl *ctl, uint32_t domid, struct procdom_ctl_dominfo *ret);
/* A listed domain that still runs: neither shut down nor dying. */
static inline bool xenon_dominfo_running(const struct procdom_ctl_dominfo *d)
{
	return !(d->flags & (PROCDOM_DOMINFO_SHUTDOWN | PROCDOM_DOMINFO_DYING));
}
/*
 * EVERY live domain, for a daemon that checks what it tracks against
 * xenon-hvd's domains (consoled, xenstored's link, the monitor) or a tool
 * that shows them all. LIST answers a page at a time; this pages from the
 * last domid + 1 until a short page, growing all->row as it fills (the
 * caller's, kept from call to call; zero it first, free it with
 * xenon_domains_fini()). Bounded: rows must come strictly ascending below
 * DOMID_FIRST_RESERVED (-EPROTO otherwise), so at most XENON_DOMAINS_MAX
 * (dom0 and every domU: 32752 rows, 1.5 MiB). Returns all->n, the rows
 * now in all->row (dom0 first), or -errno with all->n 0.
 *
 * The pages are not one snapshot: a domain that lives through the whole
 * call is listed; one created or destroyed meanwhile may be listed or not.
 * So to a tracker that learnt of a domain before the call, "not listed"
 * means "gone" -- what all the sweeps above rely on.
 */
#define XENON_DOMAINS_MAX DOMID_FIRST_RESERVED
struct xenon_domains {
	struct procdom_ctl_dominfo *row; /* n rows, ascending domid */
	unsigned int n, cap;
};
int xenon_domains_list(struct xenon_ctl *ctl, struct xenon_domains *all);
void xenon_domains_fini(struct xenon_domains *all); /* frees the rows; reusable */
/*
 * The domains created since *cursor (0: every domain, dom0 first), oldest
 * first, into all (as xenon_domains_list: the caller's, grown as needed,
 * up to XENON_DOMAINS_MAX rows), and *cursor moved past them: the next
 * call with it returns only domains created after this one. LIST_NEW
 * pages; each page's cursor must move on (-EPROTO otherwise). Its cost is
 * the rows returned, not every domain. The rows are in creation order,
 * not by domid (xenon_domains_find does not apply), and a domain destroyed
 * and made again under the same domid between two pages may be listed
 * twice, the newer later. Returns all->n or -errno (all->n 0, *cursor
 * unchanged).
 */
int xenon_domains_new(struct xenon_ctl *ctl, uint64_t *cursor, struct xenon_domains *all);
/* domid's row in the latest list (binary search), or NULL: not listed. */
const struct procdom_ctl_dominfo *xenon_domains_find(const struct xenon_domains *all,
						     uint32_t domid);
/* Ports of domid in use (not closed), up to `max`; returns how many. */
int xenon_evtchn_status(struct xenon_ctl *ctl, uint32_t domid, struct evtchn_status *out,
			unsigned int max);
/* A hypercall as dom0 (procdom_proto.h, PROCDOM_CTL_HYPERCALL): buf (len
 * bytes, may be NULL/0) is copied in and back; args[buf_arg] holds the
 * offset in buf. Returns the hypercall's result. */
long xenon_hypercall(struct xenon_ctl *ctl, unsigned int op, const uint64_t args[5],
		     unsigned int buf_arg, void *buf, size_t len);
/* Grant mappings domid holds of others' grants (who maps which ref of
 * whom), up to `max`, in handle order; returns how many. */
int xenon_grant_status(struct xenon_ctl *ctl, uint32_t domid, struct procdom_ctl_grant *out,
		       unsigned int max);
/* dom0's grant bookkeeping in xenon-hvd: share pool, deferred frames,
 * pages mapped (procdom_proto.h (g)). */
int xenon_grant_counts(struct xenon_ctl *ctl, struct procdom_ctl_gnt_counts *ret);

/* ---- foreign memory (libxenforeignmemory) ---------------------------- */

/* Map nr frames of domid starting at gfn, shared and writable (prot as
 * mmap's). Returns the address or NULL with errno set. */
void *xenon_foreign_map(struct xenon_ctl *ctl, uint32_t domid, uint64_t gfn, size_t nr, int prot);
int xenon_foreign_unmap(void *addr, size_t nr);

/* ---- event channels (libxenevtchn) ----------------------------------- */

int xenon_evtchn_open(const char *run_dir, struct xenon_evtchn **ret_xe);
void xenon_evtchn_close(struct xenon_evtchn *xe); /* accepts NULL; closes its ports */
int xenon_evtchn_fd(const struct xenon_evtchn *xe);
/* The handle's control connection, for LIST and the like. */
struct xenon_ctl *xenon_evtchn_ctl(struct xenon_evtchn *xe);

/* Each returns the new dom0 port (owned by this handle). */
int xenon_evtchn_bind_unbound_port(struct xenon_evtchn *xe, uint32_t remote_domid);
int xenon_evtchn_bind_interdomain(struct xenon_evtchn *xe, uint32_t remote_domid,
				  evtchn_port_t remote_port);
/* A global VIRQ (VIRQ_DOM_EXC, ...) is shared: every handle binding it gets
 * dom0's one port for it and its own events, mask and unbind; -EEXIST only
 * if this handle holds it already (docs/process-domains.md, "dom0
 * services"). */
int xenon_evtchn_bind_virq(struct xenon_evtchn *xe, unsigned int virq);
/* Own an existing dom0 port (reserved at dom0's creation); not closed by
 * xenon_evtchn_close. */
int xenon_evtchn_watch(struct xenon_evtchn *xe, evtchn_port_t port);
int xenon_evtchn_unbind(struct xenon_evtchn *xe, evtchn_port_t port);
int xenon_evtchn_notify(struct xenon_evtchn *xe, evtchn_port_t port);
int xenon_evtchn_unmask(struct xenon_evtchn *xe, evtchn_port_t port);
/* The next port that fired, or -EAGAIN (never blocks). */
int xenon_evtchn_pending(struct xenon_evtchn *xe);
bool xenon_evtchn_has_queued(const struct xenon_evtchn *xe);

/* ---- grant maps (libxengnttab) ---------------------------------------- */
/*
 * A handle of its own (its own hvd.sock connection), as xengnttab_open():
 * grants mapped through it are dom0's mappings in the core (the granter sees
 * GTF_reading/GTF_writing, `xenon graph` shows them) and are unmapped when
 * it is closed or its process dies -- xenon-hvd undoes them when the
 * connection hangs up, firing their unmap notifies.
 *
 * Pages arrive as the granting domain's ram memfd (SCM_RIGHTS) and are
 * mapped by offset, so a mapping is the granter's frame itself, not a copy.
 * prot is PROT_READ or PROT_READ | PROT_WRITE; PROT_READ maps with
 * GNTMAP_readonly (and a read-only mmap), which a read-only grant requires.
 * Failures set errno (NULL results) or return -errno: EINVAL (bad ref,
 * count 0 or > XENON_GNTTAB_MAX_BATCH), EACCES (grant not for dom0, or
 * read-only and write asked), ESRCH (no such domain), E2BIG (the handle's
 * mapping limit), ENOMEM. GNTST_* codes map to errnos as Linux's gntdev does.
 */
struct xenon_gnttab;

#define XENON_GNTTAB_MAX_BATCH 1024   /* refs one map call takes */
#define XENON_GNTTAB_MAX_MAPPED 65536 /* pages one handle holds mapped */
_Static_assert(XENON_GNTTAB_MAX_BATCH == PROCDOM_GNT_MAX_BATCH, "one batch limit");
_Static_assert(XENON_GNTTAB_MAX_MAPPED == PROCDOM_GNT_MAX_MAPPED, "one page limit");

int xenon_gnttab_open(const char *run_dir, struct xenon_gnttab **ret_xgt);
void xenon_gnttab_close(struct xenon_gnttab *xgt); /* accepts NULL; unmaps all */
/* Map count grants of one domain, contiguous in our address space. */
void *xenon_gnttab_map_grant_refs(struct xenon_gnttab *xgt, uint32_t count, uint32_t domid,
				  const uint32_t *refs, int prot);
void *xenon_gnttab_map_grant_ref(struct xenon_gnttab *xgt, uint32_t domid, uint32_t ref, int prot);
/* start/count exactly as one map call returned them. */
int xenon_gnttab_unmap(struct xenon_gnttab *xgt, void *start, uint32_t count);
/* As xengnttab_set_unmap_notify(): when the page holding addr is unmapped
 * (xenon_gnttab_unmap, close, or the client's death), xenon-hvd first writes
 * 0 to the byte at notify_offset within that page (if >= 0; EINVAL on a
 * read-only mapping), unmaps, and then sends on dom0's notify_port (if
 * >= 0). One notify per mapping call: setting another replaces it, as
 * gntdev's ioctl does. EINVAL: addr in no mapping of this handle. */
int xenon_gnttab_set_unmap_notify(struct xenon_gnttab *xgt, void *addr, int32_t notify_offset,
				  int32_t notify_port);
/* GNTTABOP_copy with local buffers, as xengnttab_grant_copy() (the segment
 * type is libxengnttab's own, <xengnttab.h>): each segment's status gets a
 * GNTST_* code; returns 0 if the call was made (check statuses), -errno
 * otherwise. At most XENON_GNTTAB_MAX_BATCH segments of <= 4096 bytes. */
struct xengnttab_grant_copy_segment;
int xenon_gnttab_grant_copy(struct xenon_gnttab *xgt, uint32_t count,
			    struct xengnttab_grant_copy_segment *segs);

/* ---- granting dom0 pages (libxengntshr / gntalloc) -------------------- */
/*
 * dom0's own pages, granted to another domain: xenon-hvd allocates fresh
 * zeroed frames of dom0's RAM, writes dom0's grant entries for them, and
 * sends dom0's ram memfd; the caller maps them by offset. Unsharing (or the
 * handle closing, or the client dying) ends the grants; a frame still mapped
 * by the peer is kept (not reused) until the peer unmaps it or dies, as
 * Linux's gntalloc does. Errors as above; ENOSPC: dom0 has no free frame.
 */
struct xenon_gntshr;

int xenon_gntshr_open(const char *run_dir, struct xenon_gntshr **ret_xgs);
void xenon_gntshr_close(struct xenon_gntshr *xgs); /* accepts NULL; unshares all */
/* count zeroed pages granted to domid (read-only unless writable); refs[i]
 * is page i's grant ref. Returns the address or NULL with errno. */
void *xenon_gntshr_share_pages(struct xenon_gntshr *xgs, uint32_t domid, uint32_t count,
			       uint32_t *refs, bool writable);
/* One page, with an unshare notify as xengntshr_share_page_notify(): on
 * unshare/close/death, the byte at notify_offset (if >= 0) is zeroed and
 * dom0's notify_port (if >= 0) signalled. */
void *xenon_gntshr_share_page_notify(struct xenon_gntshr *xgs, uint32_t domid, bool writable,
				     int32_t notify_offset, int32_t notify_port, uint32_t *ret_ref);
int xenon_gntshr_unshare(struct xenon_gntshr *xgs, void *start, uint32_t count);

/* ---- XenStore (store_open.c) ------------------------------------------ */

struct xs_handle;
/* Debian's libxenstore connected to RUN_DIR/xenstore/socket, which is also
 * set as $XENSTORED_PATH for the process (libxenstore's only way to name
 * it). 0, -ENAMETOOLONG, or xs_open()'s -errno (-ECONNREFUSED if none). */
int xenon_store_open(const char *run_dir, struct xs_handle **ret);
void xenon_store_close(struct xs_handle *xs); /* accepts NULL */

/*
 * Whether xenstored is still there, for a daemon that waits on
 * xs_fileno(). Debian's libxenstore reads replies and watch events in a
 * thread; when xenstored goes, that thread closes the socket and wakes
 * callers blocked in a request, but never the xs_fileno() pipe, so a
 * daemon asleep on it alone never learns it. What does tell, without any
 * I/O: once the socket is closed and the events that came before are
 * drained, xs_check_watch() fails with EINVAL instead of EAGAIN. So such a
 * daemon drains its watch events at every wake-up (the probe) and wakes at
 * least every XENON_STORE_PROBE_MS: it notices within about that. Once it
 * has, it stops polling xs_fileno() and probing: the loss is for good (a
 * request made after it fails at once: the handle's socket is closed).
 *
 * xenon_store_watch_errno(): what xs_check_watch()'s NULL meant, from its
 * errno: 0 nothing now (EAGAIN), -EPIPE xenstored is gone, -errno (-EIO
 * for none) otherwise. xenon_store_next_watch(): one event into *ret_w
 * (free() it), returning 1, or that result.
 */
#define XENON_STORE_PROBE_MS 1000
int xenon_store_watch_errno(int err);
int xenon_store_next_watch(struct xs_handle *xs, char ***ret_w);

#endif
