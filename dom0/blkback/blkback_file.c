/*
 * The image file behind a vbd (blkback_file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "blkback_file.h"
#include "blkback_ring.h"

/* Advances a private copy of the iovec past n bytes. */
static int iov_advance(struct iovec *iov, int *cnt, size_t n)
{
	int i = 0;

	while (i < *cnt && n >= iov[i].iov_len)
		n -= iov[i++].iov_len;
	if (i < *cnt) {
		iov[i].iov_base = (char *)iov[i].iov_base + n;
		iov[i].iov_len -= n;
	}
	memmove(iov, iov + i, (size_t)(*cnt - i) * sizeof(*iov));
	*cnt -= i;
	return *cnt;
}

static ssize_t full_io(int fd, const struct iovec *iov0, int iovcnt, uint64_t off, bool write)
{
	struct iovec iov[BLKBACK_MAX_INDIRECT_SEGS];
	ssize_t total = 0, n;
	int cnt = iovcnt;

	if (iovcnt < 0 || iovcnt > BLKBACK_MAX_INDIRECT_SEGS)
		return -EINVAL;
	memcpy(iov, iov0, (size_t)iovcnt * sizeof(*iov));
	while (cnt) {
		if (write)
			n = pwritev(fd, iov, cnt, (off_t)(off + (uint64_t)total));
		else
			n = preadv(fd, iov, cnt, (off_t)(off + (uint64_t)total));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* end of file: the caller sees a short count */
		total += n;
		iov_advance(iov, &cnt, (size_t)n);
	}
	return total;
}

ssize_t blkback_file_preadv(int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return full_io(fd, iov, iovcnt, off, false);
}

ssize_t blkback_file_pwritev(int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return full_io(fd, iov, iovcnt, off, true);
}

int blkback_file_flush(int fd)
{
	return fdatasync(fd) ? -errno : 0;
}

int blkback_file_discard(int fd, uint64_t off, uint64_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	return errno == EOPNOTSUPP || errno == ENOSYS ? -EOPNOTSUPP : -errno;
}
