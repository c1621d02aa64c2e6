/*
 * libxenon-vchan: vchan (libxenvchan's layout and protocol) for dom0
 * programs, the one public header. The ring is guest/vchan.c's core; this
 * binding gives it lib/dom0's handles (xenon_gntshr_* to grant pages,
 * xenon_gnttab_* to map a domain's grants, xenon_evtchn_* for the port)
 * and Debian's libxenstore. Guide: docs/vchan.md.
 *
 * Results as guest/xen_vchan.h: counts, or -EPIPE (peer closed or gone),
 * -EPROTO (a malformed page or store node at connection), -EIO (the peer
 * broke the ring), -ETIMEDOUT, -errno. The ring core, freestanding guest
 * code, says -ENOTCONN and -EBADMSG for the first two (Xen's error table
 * has no EPIPE or EPROTO); this library gives them back as a POSIX
 * program expects (a binding error that happens to be -ENOTCONN, our
 * port gone, reads as the peer gone, which it then is). Like libxenvchan:
 * the server's live byte is zeroed and the port notified by xenon-hvd if
 * this process dies (the grant's unshare notify), and likewise the
 * client's (the mapping's unmap notify).
 *
 * Events: xenon_vchan_fd_for_select() is pollable; when it is readable,
 * xenon_vchan_wait(x, 0) consumes what arrived without sleeping. Reads and
 * writes talk to xenon-hvd on the same connection and may take events off
 * it into a queue the fd does not show: call xenon_vchan_wait(x, 0) before
 * each poll too (0: something had come). A read or write that returns
 * less than asked has asked the peer to notify us.
 * Not thread-safe: one thread per channel.
 */
#ifndef XENON_LIB_VCHAN_H
#define XENON_LIB_VCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen_vchan.h"

struct xenon_vchan;

int xenon_vchan_server_init(const char *run_dir, uint32_t domid, const char *xs_path,
			    size_t read_min, size_t write_min, struct xenon_vchan **ret);
/* Retries until the server's nodes appear or timeout_ns passes. */
int xenon_vchan_client_init(const char *run_dir, uint32_t domid, const char *xs_path,
			    uint64_t timeout_ns, struct xenon_vchan **ret);
void xenon_vchan_close(struct xenon_vchan *x); /* accepts NULL */

long xenon_vchan_read(struct xenon_vchan *x, void *buf, size_t len);
long xenon_vchan_write(struct xenon_vchan *x, const void *buf, size_t len);
long xenon_vchan_recv(struct xenon_vchan *x, void *buf, size_t len);
long xenon_vchan_send(struct xenon_vchan *x, const void *buf, size_t len);
/* Sleep until an event (or timeout_ns; 0 with events queued: return at
 * once, 0 with none: -ETIMEDOUT at once). */
int xenon_vchan_wait(struct xenon_vchan *x, uint64_t timeout_ns);
int xenon_vchan_fd_for_select(struct xenon_vchan *x);
bool xenon_vchan_is_open(struct xenon_vchan *x);
/* The peer's domain still there? (one query to the core; a blocking wait
 * asks by itself after each quiet slice). For non-blocking users. */
void xenon_vchan_check_peer(struct xenon_vchan *x);
long xenon_vchan_data_ready(struct xenon_vchan *x);
long xenon_vchan_buffer_space(struct xenon_vchan *x);
void xenon_vchan_set_blocking(struct xenon_vchan *x, bool blocking);
/* The ring core's state (stats, sizes), read-only. */
const struct vchan *xenon_vchan_core(const struct xenon_vchan *x);

#endif
