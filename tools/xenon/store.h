/*
 * The toolstack's XenStore side, through Debian's libxenstore (opened with
 * xenon_store_open() of lib/dom0: the run dir's socket, D/xenstore/socket,
 * named in $XENSTORED_PATH as Debian's xenstore-* tools take it).
 *
 * What a domain's creation writes, as libxl does (libxl__domain_make and
 * libxl__build_post), one transaction:
 *
 *   /local/domain/N                 owner dom0, N may read (n0 rN)
 *     name, domid                   the toolstack's view
 *     memory/static-max, memory/target     KiB
 *     cpu/K/availability            "online" for K < vcpus
 *     store/ring-ref, store/port    start_info's store_mfn / store_evtchn
 *     console/ring-ref, console/port, console/type ("xenconsoled")
 *     control/shutdown, data, device, error, drivers, attr, feature
 *                                   owner N (n N r0-equivalent: dom0 is
 *                                   privileged and reads everything)
 *   /tool/xenon/N/{config,args}    how it was created (for reboot)
 *   /tool/xenon/N/instance         this creation's token (below)
 *
 * then INTRODUCE(N, store gfn, store port). Only the home and the owner-N
 * directories get permissions set; every other node inherits its parent's,
 * as xenstored gives them to what dom0 creates. Before writing, the same
 * transaction removes what a domain with domid N that died unseen may have
 * left: both trees and the back ends' entries of N (below); and before the
 * transaction a RELEASE drops a dead domain N that xenstored has not
 * released yet (it would make our INTRODUCE a no-op). That is safe because
 * the creator holds domid N in xenon-hvd: no other domain N can exist.
 *
 * Instances. A domid names a domain only until it dies: `xenon reboot'
 * creates the domain again under the same domid, and any creation may get
 * a freed one. So every creation records a fresh token, 128 random bits in
 * hex, and whoever removes entries later (xenon-monitor, shutdown -w, reboot,
 * destroy) says which instance it means. libxl names an instance by the
 * domain's UUID (/local/domain/N/vm = /vm/<uuid>); xenon keeps a token of
 * its own in /tool/xenon/N instead, because
 *   - a UUID may come from the config (xl.cfg `uuid'), and a reboot keeps
 *     it: it names the guest, not one creation of it;
 *   - xenstored removes /local/domain/N itself when it releases a domain
 *     (on VIRQ_DOM_EXC), so a token in the home would be gone exactly when
 *     a late remover needs it to tell whose /tool/xenon/N and back-end
 *     directories are left; /tool/xenon/N is the toolstack's alone;
 *   - it adds no /vm tree to create and remove, and the guest sees nothing.
 *
 * Removing a domain is one transaction: read /tool/xenon/N/instance; if it
 * is the remover's, remove
 *
 *   /local/domain/N, /tool/xenon/N
 *   /local/domain/0/backend/<type>/N          for every <type>
 *   /local/domain/0/error/backend/<type>/N
 *
 * else remove nothing. The token is read inside the transaction, so a
 * creation that replaces it before the commit makes the commit conflict,
 * and the retry sees the new token. The home is in the same transaction
 * although xenstored removes it too on the domain's release: that costs at
 * most one retry (xenstored removes it once), while a home removed on its
 * own could be a new instance's. Nobody but the creator RELEASEs: after a
 * domain's end, xenstored releases it itself (VIRQ_DOM_EXC), and a RELEASE
 * by domid from a remover could hit a new domain that got the domid.
 */
#ifndef XENON_STORE_H
#define XENON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

struct xs_handle;

#define XENON_STORE_BACKEND_ROOT "/local/domain/0/backend"
#define XENON_STORE_BACKEND_ERROR_ROOT "/local/domain/0/error/backend"

struct xenon_store_domain {
	domid_t domid;
	const char *name;
	uint64_t memory_kib, maxmem_kib;
	unsigned int vcpus;
	uint64_t store_gfn, console_gfn;
	evtchn_port_t store_port, console_port;
	const char *config; /* absolute path of the config file, or NULL */
	const char *args;   /* KEY=VALUE overrides, one per line, or NULL */
};

#define XENON_STORE_INSTANCE_LEN 32 /* hex digits of an instance token */

/* RELEASE of a stale domain N, then the entries above with a fresh
 * instance token (one transaction, retried on EAGAIN). The caller holds
 * domid N in xenon-hvd (it was just created there). 0 or -errno. */
int xenon_store_write_domain(struct xs_handle *xs, const struct xenon_store_domain *d);
int xenon_store_introduce(struct xs_handle *xs, domid_t domid, uint64_t store_gfn,
			  evtchn_port_t store_port);
/* The instance token of the domain recorded under DOMID into BUF (at least
 * XENON_STORE_INSTANCE_LEN + 1 bytes): 0, -ENOENT (none), -errno. */
int xenon_store_read_instance(struct xs_handle *xs, domid_t domid, char *buf, size_t len);
/* If the instance recorded for DOMID is INSTANCE (NULL: none is recorded),
 * removes /local/domain/N, /tool/xenon/N and the back ends' entries of N,
 * in one transaction (see above). 0: removed; -ESTALE: another instance is
 * recorded, DOMID is another domain's now; -ENOENT: INSTANCE given, none
 * recorded (removed already); nothing removed on any error. */
int xenon_store_remove_domain(struct xs_handle *xs, domid_t domid, const char *instance);

/* A remover's end of a domain it acted on: READ_RC and INSTANCE are what
 * xenon_store_read_instance() gave before it acted (-ENOENT: none was
 * recorded). The entries go if they are still that instance's; gone already
 * (xenon-monitor was first) or another domain's by now is no failure. A failed
 * read is returned: whose entries are there is unknown. */
int xenon_store_forget(struct xs_handle *xs, domid_t domid, int read_rc, const char *instance);

/* /local/domain/N/NODE into BUF (NUL-terminated): 0, -ENOENT, -errno. */
int xenon_store_read(struct xs_handle *xs, domid_t domid, const char *node, char *buf, size_t len);
/* /tool/xenon/N/NODE, malloc()ed, or NULL. */
char *xenon_store_read_tool(struct xs_handle *xs, domid_t domid, const char *node);
/* The domain named NAME: 0 and *ret, or -ENOENT. */
int xenon_store_find_name(struct xs_handle *xs, const char *name, domid_t *ret);

#endif /* XENON_STORE_H */
