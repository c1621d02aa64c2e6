/*
 * The toolstack's XenStore side, through Debian's libxenstore (xs_open over
 * the run dir's socket, D/xenstore/socket, named in $XENSTORED_PATH as
 * Debian's xenstore-* tools take it).
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
 *
 * then INTRODUCE(N, store gfn, store port). Only the home and the owner-N
 * directories get permissions set; every other node inherits its parent's,
 * as xenstored gives them to what dom0 creates. Before writing, the same
 * transaction removes what a domain with domid N that died unseen may have
 * left: both trees and the back ends' entries of N (below).
 *
 * Removing a domain RELEASEs it, removes both trees, then, in one
 * transaction, every back end's directory of its devices and error report
 * about it:
 *
 *   /local/domain/0/backend/<type>/N          for every <type>
 *   /local/domain/0/error/backend/<type>/N
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

/* Connects to RUN_DIR/xenstore/socket. 0 or -errno. */
int xenon_store_open(const char *run_dir, struct xs_handle **ret);
void xenon_store_close(struct xs_handle *xs); /* accepts NULL */

/* Writes the entries above (one transaction, retried on EAGAIN). */
int xenon_store_write_domain(struct xs_handle *xs, const struct xenon_store_domain *d);
int xenon_store_introduce(struct xs_handle *xs, domid_t domid, uint64_t store_gfn,
			  evtchn_port_t store_port);
/* RELEASE (if introduced), then remove /local/domain/N, /tool/xenon/N and
 * the back ends' entries of N (see above). 0 or the first -errno. */
int xenon_store_remove_domain(struct xs_handle *xs, domid_t domid);

/* /local/domain/N/NODE into BUF (NUL-terminated): 0, -ENOENT, -errno. */
int xenon_store_read(struct xs_handle *xs, domid_t domid, const char *node, char *buf, size_t len);
/* /tool/xenon/N/NODE, malloc()ed, or NULL. */
char *xenon_store_read_tool(struct xs_handle *xs, domid_t domid, const char *node);
/* The domain named NAME: 0 and *ret, or -ENOENT. */
int xenon_store_find_name(struct xs_handle *xs, const char *name, domid_t *ret);

#endif /* XENON_STORE_H */
