/*
 * libxenon-dom0: a run dir's XenStore through Debian's libxenstore.
 *
 * xenon-hvd starts xenstored in RUN_DIR/xenstore, so its socket is
 * RUN_DIR/xenstore/socket. libxenstore takes the socket's path from
 * $XENSTORED_PATH only (there is no call that takes a path), so opening
 * sets it for the whole process, overwriting any earlier value: Debian's
 * xenstore-* tools run from this process (or its children) then reach the
 * same store, which the toolstack and the tests rely on.
 *
 * The toolstack, xenon-consoled, xenon-blkback and lib/vchan used to do
 * this each; their copies differed only in what they did with a path too
 * long for their buffer (two truncated it silently, which would reach some
 * other socket): here it is -ENAMETOOLONG. XS_OPEN_SOCKETONLY says what all
 * of them meant: this run dir's daemon or nothing, never a fallback to
 * another transport.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <xenstore.h>

#include "xenon_dom0.h"

int xenon_store_open(const char *run_dir, struct xs_handle **ret)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/xenstore/socket", run_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	if (setenv("XENSTORED_PATH", path, 1))
		return -errno;
	errno = 0;
	if (!(*ret = xs_open(XS_OPEN_SOCKETONLY)))
		return errno ? -errno : -ECONNREFUSED;
	return 0;
}

void xenon_store_close(struct xs_handle *xs)
{
	if (xs)
		xs_close(xs);
}

/* The probe (xenon_dom0.h): threaded libxenstore's read_watch fails with
 * EINVAL only when its reader thread has ended, i.e. the socket closed. */
int xenon_store_watch_errno(int err)
{
	if (err == EAGAIN)
		return 0;
	if (err == EINVAL)
		return -EPIPE;
	return err > 0 ? -err : -EIO;
}

int xenon_store_next_watch(struct xs_handle *xs, char ***ret_w)
{
	errno = 0;
	*ret_w = xs_check_watch(xs);
	return *ret_w ? 1 : xenon_store_watch_errno(errno);
}
