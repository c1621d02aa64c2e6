/*
 * xlcfg: the xl.cfg(5) configuration language and the xenon domain config.
 *
 * Two layers, one header:
 *
 *  1. Syntax (xlcfg.c): a file is a sequence of settings
 *
 *         # comment                      (to end of line)
 *         name = "dom1"                  string, "..." or '...', C escapes
 *         memory = 0x40                  number: decimal, 0x hex, 0 octal
 *         disk = [ 'a.img,raw,xvda,rw',  list: may span lines, may nest,
 *                  'b.img,raw,xvdb,ro', ]          a trailing comma is fine
 *         extra = "console=hvc0"; vcpus = 2      `;' also ends a setting
 *         extra += " quiet"              appends to a string or a list
 *
 *     exactly as xl parses it (tools/libs/util/libxlu_cfg_*), with these
 *     deliberate differences, each an error here where xl misbehaves:
 *       - `\NNN' is octal (xl's lexer reads it in base 10) and `\xHH' takes
 *         exactly two hex digits; an escape may not produce a NUL byte;
 *       - a file may end without a final newline; `\r\n' is accepted;
 *       - hard limits (below), so that a hostile file costs bounded memory.
 *     Keys are [a-z][a-z0-9._]* as in xl. Numbers are kept as text, as xl
 *     does, so `memory = "64"' and `memory = 64' are the same; they are
 *     converted, with strtol(base 0) rules, only when a layer asks for a
 *     number. A key set twice keeps the last value (xl's rule).
 *
 *  2. Domain config (domain.c, disk.c, spec.c): the keys xenon understands,
 *     checked and converted into struct xlcfg_domain, which maps onto the
 *     hypervisor's struct hv_domain_config (xlcfg_domain_to_hv()).
 *
 * Every error is one line "SOURCE:LINE:COL: message" (or "SOURCE: message"
 * when no position applies) in a struct xlcfg_err, and the function returns
 * a negative errno. Nothing here prints, except warnings for ignored keys,
 * which go to the FILE the caller names (NULL: silent).
 */
#ifndef XENON_XLCFG_H
#define XENON_XLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "hypervisor.h"

/* ---- Limits: hitting one is an error naming the limit. ---- */
#define XLCFG_MAX_FILE (1u << 20) /* bytes per source */
#define XLCFG_MAX_STRING 4096	  /* bytes per string, after escapes and += */
#define XLCFG_MAX_LIST 1024	  /* items per list, after += */
#define XLCFG_MAX_DEPTH 8	  /* list nesting */
#define XLCFG_MAX_KEYS 256	  /* distinct keys */
#define XLCFG_MAX_KEY_LEN 64	  /* bytes per key */
#define XLCFG_MAX_SOURCES 64	  /* files and command-line overrides */
#define XLCFG_ERR_MAX 512

struct xlcfg_err {
	char msg[XLCFG_ERR_MAX];
};

/* Where a key or value starts: 1-based line, 1-based byte column. */
struct xlcfg_pos {
	const char *source; /* owned by the struct xlcfg */
	unsigned int line, col;
};

enum xlcfg_type {
	XLCFG_STRING, /* quoted */
	XLCFG_NUMBER, /* bare [0-9][0-9a-fx]*, not yet checked */
	XLCFG_LIST,
};

/* Read-only view of a parsed value; it lives as long as its struct xlcfg. */
struct xlcfg_value {
	enum xlcfg_type type;
	struct xlcfg_pos pos;
	char *str;		    /* STRING/NUMBER: NUL-terminated, holds no NUL */
	size_t len;		    /* STRING/NUMBER: strlen(str) */
	struct xlcfg_value **items; /* LIST */
	size_t nr_items;	    /* LIST */
};

struct xlcfg;

/* ---- Layer 1: syntax ---- */

/* Parses one source (a file's bytes, or one command-line override) into a
 * new config. `source' names it in messages. */
int xlcfg_parse(const char *source, const char *data, size_t len, struct xlcfg **ret,
		struct xlcfg_err *err);
/* Parses more settings into an existing config; they override earlier ones
 * as later lines of one file would (xl create's KEY=VALUE arguments). On
 * error the config is unchanged. */
int xlcfg_parse_more(struct xlcfg *cfg, const char *source, const char *data, size_t len,
		     struct xlcfg_err *err);
/* Reads and parses PATH (regular file, at most XLCFG_MAX_FILE bytes). */
int xlcfg_parse_file(const char *path, struct xlcfg **ret, struct xlcfg_err *err);
void xlcfg_destroy(struct xlcfg *cfg); /* accepts NULL */

/* The name of the first source ("" for an empty config). */
const char *xlcfg_source(const struct xlcfg *cfg);

/* Settings in first-assignment order (for unknown-key checks). */
size_t xlcfg_nr_keys(const struct xlcfg *cfg);
const char *xlcfg_key(const struct xlcfg *cfg, size_t i, const struct xlcfg_pos **ret_pos);
/* NULL when the key is not set. */
const struct xlcfg_value *xlcfg_get(const struct xlcfg *cfg, const char *key);

/* Typed access. All return -ENOENT, silently, for an absent key, and
 * -EINVAL with a message naming the key and the value's position for a
 * value of the wrong kind or out of range. Numbers accept a NUMBER or a
 * STRING atom (as xl); a value set with `+=' is not a number (as xl). */
int xlcfg_get_string(const struct xlcfg *cfg, const char *key, const char **ret,
		     struct xlcfg_err *err);
int xlcfg_get_u64(const struct xlcfg *cfg, const char *key, uint64_t min, uint64_t max,
		  uint64_t *ret, struct xlcfg_err *err);
/* xl booleans: any number, non-zero is true. */
int xlcfg_get_bool(const struct xlcfg *cfg, const char *key, bool *ret, struct xlcfg_err *err);
/* A list whose items are all strings (xl's "string list"). */
int xlcfg_get_string_list(const struct xlcfg *cfg, const char *key, const struct xlcfg_value **ret,
			  struct xlcfg_err *err);

/* Converts TEXT with strtol(base 0) rules but no sign, no spaces, no
 * trailing junk: 0 on success, -EINVAL not a number, -ERANGE overflow. */
int xlcfg_parse_u64(const char *text, uint64_t *ret);

/* Formats "SOURCE:LINE:COL: message" (POS NULL or line 0: just message). */
void xlcfg_errorf(struct xlcfg_err *err, const struct xlcfg_pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- Layer 2: the domain config ---- */

#define XLCFG_NAME_MAX 64 /* domain name bytes */
#define XLCFG_MAX_VCPUS HV_MAX_VCPUS
#define XLCFG_MAX_MEMORY_MIB (HV_MAX_NR_PAGES / 256)
#define XLCFG_MAX_DISKS 16
#define XLCFG_MAX_VCHANS 16
#define XLCFG_VCHAN_RING_MAX (1u << 20)

enum xlcfg_action {
	XLCFG_ACTION_DESTROY,
	XLCFG_ACTION_RESTART,
	XLCFG_ACTION_PRESERVE,
};

/* disk = [ "<diskspec>", ... ] as in xl-disk-configuration.txt. The block
 * back end serves raw images only, so other formats are refused now. */
struct xlcfg_disk {
	char *target;	/* image path; NULL for an empty cdrom */
	char *vdev;	/* xvd*, d<disk>p<partition>, hd*, sd* */
	uint32_t devid; /* vdev's virtual-device number (xlcfg_vdev_devid()) */
	bool readonly;
	bool cdrom;
	bool discard;	     /* default true, "no-discard" clears it */
	bool direct_io_safe; /* flag */
	char *backend;	     /* NULL: dom0 */
	char *backendtype;   /* NULL: automatic */
	char *script;	     /* NULL: none */
};

/* vchan = [ "<vchanspec>", ... ], a xenon key (xl has none): a libxenvchan
 * channel set up at creation. Two forms:
 *
 *   "name=echo, peer=2"            or   "name=echo, peer=client-dom"
 *       this domain is the server towards peer (a domid, or the name of a
 *       domain that exists at creation). The toolstack creates
 *       /local/domain/<this>/data/vchan/<peerid>/<name>, owned by this
 *       domain and readable by the peer, so the ring-ref and event-channel
 *       nodes the server writes there are readable by the client, and
 *       records the pairing in /local/domain/<this>/device/vchan/<n>/
 *       {name,peer,path}. Optional read=/write= as below.
 *
 *   "peer=0,path=data/vchan/echo,role=server,read=4096,write=4096"
 *       the explicit form: path is the XenStore directory the server
 *       advertises the ring in (relative: under the server's home); role is
 *       this domain's end; read/write the server's minimum ring sizes in
 *       bytes. A server's relative path is set up as above; a client's is
 *       the server's business.
 */
#define XLCFG_VCHAN_NAME_MAX 64
struct xlcfg_vchan {
	domid_t peer;	 /* DOMID_INVALID when given by name */
	char *peer_name; /* peer=NAME, resolved at creation; else NULL */
	char *name;	 /* name= form; NULL in the path= form */
	char *path;	 /* path= form; NULL in the name= form */
	bool server;
	uint32_t read_min, write_min; /* server only; 0: library default */
};

enum xlcfg_domain_type {
	XLCFG_TYPE_PROCESS, /* a Linux process (substrate/proc) */
};

struct xlcfg_domain {
	char name[XLCFG_NAME_MAX + 1];
	enum xlcfg_domain_type type;
	domid_t domid; /* `domid': DOMID_INVALID unless set (xenon key) */
	char *kernel;  /* the guest program */
	char *cmdline; /* from cmdline, or root + extra as xl; NULL: none */
	uint64_t memory_mib, maxmem_mib;
	unsigned int vcpus, maxvcpus;
	unsigned int max_event_channels; /* 0: hypervisor default */
	unsigned int max_grant_frames;	 /* 0: hypervisor default */
	enum xlcfg_action on_poweroff, on_reboot, on_crash;
	unsigned int nr_reserve;
	struct hv_evtchn_reserve reserve[HV_MAX_PREBOUND];
	unsigned int nr_bind;
	struct hv_evtchn_bind bind[HV_MAX_PREBOUND];
	unsigned int nr_disks;
	struct xlcfg_disk disks[XLCFG_MAX_DISKS];
	unsigned int nr_vchans;
	struct xlcfg_vchan vchans[XLCFG_MAX_VCHANS];
};

/* Checks every key xenon knows and fills DOM. Unknown keys are warned about
 * on WARN (xl ignores them silently; a typo deserves a line). On error DOM
 * holds nothing to free. */
int xlcfg_domain_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, FILE *warn,
		      struct xlcfg_err *err);
void xlcfg_domain_fini(struct xlcfg_domain *dom);
/* Fills the hypervisor's create request; CFG->cmdline points into DOM. */
void xlcfg_domain_to_hv(const struct xlcfg_domain *dom, struct hv_domain_config *cfg);

const char *xlcfg_action_name(enum xlcfg_action a);

/* Parses one diskspec (exposed for tests and the block back end). SOURCE
 * and POS place messages. */
int xlcfg_disk_parse(const char *spec, const struct xlcfg_pos *pos, struct xlcfg_disk *ret,
		     struct xlcfg_err *err);
void xlcfg_disk_fini(struct xlcfg_disk *disk);
/* The vdev rule (vdev.c, libxl's): VDEV's virtual-device number in *RET,
 * or -EINVAL and, if RET_WHY is not NULL, a phrase saying which part of
 * the rule the name breaks. xvd<letters>[<partition>] and d<disk>p<partition>
 * -> 202<<8 | disk<<4 | partition (both <= 15), else 1<<28 | disk<<8 |
 * partition (disk <= 2^20-1, partition <= 255); hd -> 3<<8 or 22<<8 |
 * (disk%2)<<6 | partition (disk <= 3, partition <= 63); sd -> 8<<8 |
 * disk<<4 | partition (both <= 15). */
int xlcfg_vdev_devid(const char *vdev, uint32_t *ret, const char **ret_why);

#endif /* XENON_XLCFG_H */
