/*
 * What test_hvd_grants.c and hvd_grantguest.c agree on: the guest's grants
 * and its command mailbox (a RAM frame the test reaches by foreign map).
 */
#ifndef XENON_HVD_GRANTGUEST_H
#define XENON_HVD_GRANTGUEST_H

#include <stdbool.h>
#include <stdint.h>

#define GG_FIRST_REF 8	/* refs 8..8+GG_NR_RW-1 writable, then one read-only */
#define GG_FIRST_GFN 16 /* the granted frames, in ref order */
#define GG_NR_RW 4
#define GG_RO_REF (GG_FIRST_REF + GG_NR_RW)
#define GG_UNUSED_REF (GG_RO_REF + 1) /* an entry never granted */
#define GG_MAILBOX_GFN 2
#define GG_MARK_OFFSET 100 /* the guest writes GG_MARK there in a writable dom0 page */
#define GG_MARK 0x5a
#define GG_NR_NEEDLES 3
#define GG_SCAN_MAX (16u << 20) /* the guest reads at most this of an fd */

enum gg_cmd {
	GG_CMD_MAP = 1,	 /* map dom0's `ref` (readonly?): data, map_readonly */
	GG_CMD_UNMAP,	 /* unmap it */
	GG_CMD_RO_WRITE, /* mprotect it writable and write, in a child: its signal */
};

struct gg_mailbox {
	uint32_t seq;  /* the test bumps it after writing a command */
	uint32_t done; /* the guest copies seq here when done, then notifies */
	uint32_t cmd;
	uint32_t ref;
	uint32_t readonly;
	uint32_t map_readonly; /* the map change's readonly flag */
	int32_t result;
	uint32_t pad;
	uint8_t data[64]; /* the first bytes of dom0's page */
	/* GG_CMD_MAP also probes the fd its map change came with: what a
	 * domU could reach through it, beyond the page it was given. */
	uint64_t fd_size;		   /* fstat */
	uint64_t map_offset;		   /* the change's offset in it */
	int32_t fd_accmode;		   /* fcntl F_GETFL & O_ACCMODE */
	int32_t fd_wmap;		   /* mmap(PROT_WRITE, MAP_SHARED) of it: 0 or -errno */
	uint8_t needle[GG_NR_NEEDLES][16]; /* the test's; all zero: unused */
	int32_t found[GG_NR_NEEDLES];	   /* occurrences in the whole fd;
					    * -EFBIG: fd above GG_SCAN_MAX */
};

static inline uint8_t gg_pattern(uint64_t gfn, unsigned int i)
{
	return (uint8_t)(gfn * 7 + i * 13 + 1);
}

#endif
