/*
 * The image file behind a vbd: whole-transfer preadv/pwritev (retrying short
 * transfers and EINTR), fdatasync, and discard as a punched hole. What
 * xenon-blkback, the in-process tests and the benchmark plug into
 * struct blkback_ops.
 */
#ifndef XENON_BLKBACK_FILE_H
#define XENON_BLKBACK_FILE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The bytes transferred (all of them unless end of file), or -errno. The
 * iovec array is not modified. At most BLKBACK_MAX_INDIRECT_SEGS entries. */
ssize_t blkback_file_preadv(int fd, const struct iovec *iov, int iovcnt, uint64_t off);
ssize_t blkback_file_pwritev(int fd, const struct iovec *iov, int iovcnt, uint64_t off);
int blkback_file_flush(int fd);
/* -EOPNOTSUPP if the file system cannot punch holes. */
int blkback_file_discard(int fd, uint64_t off, uint64_t len);

#endif
