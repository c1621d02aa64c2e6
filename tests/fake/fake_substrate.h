/*
 * The fake substrate: a hypervisor core over in-process fake ops, for unit
 * tests, fuzzers and benchmarks.
 *
 *   - guest RAM: one calloc'ed page per frame, allocated on first use and
 *     kept per domid until the core reports the domain dying (so RAM in
 *     use is what the guests touched, not what they were given);
 *   - xen pages: aligned_alloc'ed, counted (fake_xen_pages_live());
 *   - kicks, timer arms, physmap_set calls, domain_state changes and log
 *     lines are recorded in bounded arrays (counts keep growing past the
 *     bound; only the first FAKE_MAX_RECORDS entries are stored);
 *   - the clock (system time and wallclock) is set by the test; it starts
 *     at now_ns = 1 s and wc_sec = 1700000000;
 *   - failure injection: fail_ram_after / fail_xen_alloc_after = N fails
 *     the Nth following call; translate_limit makes translate() fault.
 *
 * Hypercall arguments are placed in a scratch area of guest RAM:
 *
 *   gfn  8..11  FAKE_SCRATCH_GPA  the argument struct of fake_hypercall()
 *   gfn 12..15  FAKE_BUF_GPA      free for nested buffers (handles)
 *
 * so a domain needs nr_pages >= HV_MIN_NR_PAGES (the core checks it too).
 */
#ifndef XENON_FAKE_SUBSTRATE_H
#define XENON_FAKE_SUBSTRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypervisor.h"

#define FAKE_SCRATCH_GPA 0x8000UL
#define FAKE_SCRATCH_LEN (4 * XENON_PAGE_SIZE)
#define FAKE_BUF_GPA 0xC000UL
#define FAKE_BUF_LEN (4 * XENON_PAGE_SIZE)
#define FAKE_MAX_RECORDS 4096
#define FAKE_MAX_DOMIDS DOMID_FIRST_RESERVED

struct fake_kick {
	domid_t domid;
	unsigned int vcpu;
};

struct fake_timer {
	domid_t domid;
	unsigned int vcpu;
	uint64_t deadline_ns;
};

struct fake_physmap {
	domid_t domid;
	uint64_t gfn;
	void *page;
	bool readonly; /* a GNTMAP_readonly mapping: the guest must not write */
};

struct fake_state_change {
	domid_t domid;
	int state;
};

struct fake_substrate {
	struct hypervisor *hv;
	struct substrate_ops ops;

	uint64_t now_ns;
	uint64_t wc_sec;
	uint32_t wc_nsec;

	/* RAM: ram[domid][gfn] page pointers, grown on demand. */
	void **ram[FAKE_MAX_DOMIDS];
	uint64_t ram_frames[FAKE_MAX_DOMIDS];
	uint64_t ram_pages_live;
	/* Fail the Nth following ram_page / xen_page_alloc (0 = never). */
	unsigned int fail_ram_after, fail_xen_alloc_after;
	/* translate() returns -EFAULT for addresses >= this (0 = never). */
	uint64_t translate_limit;

	long xen_pages_live;

	unsigned int nr_kicks, nr_timers, nr_physmaps, nr_states, nr_logs;
	struct fake_kick kicks[FAKE_MAX_RECORDS];
	struct fake_timer timers[FAKE_MAX_RECORDS];
	struct fake_physmap physmaps[FAKE_MAX_RECORDS];
	struct fake_state_change states[FAKE_MAX_RECORDS];
	char *logs[FAKE_MAX_RECORDS];
	bool quiet; /* don't echo log lines to stderr */

	struct hv_action_req last_action;
};

/* A hypervisor over fake ops; cfg NULL = defaults. */
struct fake_substrate *fake_create(const struct hv_config *cfg);
/* Destroys the hypervisor and frees everything (accepts NULL). */
void fake_destroy(struct fake_substrate *fs);

/* Convenience: create a domain (domid DOMID_INVALID = lowest free) with
 * one vCPU per `vcpus`, nr_pages of RAM. Returns the domid or -errno. */
int fake_domain_create(struct fake_substrate *fs, domid_t domid, bool privileged,
		       unsigned int vcpus, uint64_t nr_pages);

/* The two-domain world of most tests and benchmarks: a fake (default
 * config) with privileged domain 0 and unprivileged domain 1, each with
 * `vcpus' vCPUs and nr_pages of RAM. NULL, everything freed, on failure. */
struct fake_substrate *fake_create_pair(unsigned int vcpus, uint64_t nr_pages);

/* fake_create for a test that checks log lines through fs->logs rather
 * than wanting them echoed to stderr. */
struct fake_substrate *fake_create_quiet(const struct hv_config *cfg);

/* Guest-physical access through the core's view (overlays included). */
int fake_write(struct fake_substrate *fs, domid_t domid, uint64_t gpa, const void *buf, size_t len);
int fake_read(struct fake_substrate *fs, domid_t domid, uint64_t gpa, void *buf, size_t len);

/*
 * Place `len` bytes of `arg` at FAKE_SCRATCH_GPA in domid's RAM, issue
 * hypercall `op` with `cmd`, and copy `len` bytes back into `out` (if not
 * NULL). Arguments are laid out per op:
 *   vcpu_op:        (cmd, vcpu, gpa)      — targets the calling vCPU
 *   grant_table_op: (cmd, gpa, 1)         — use fake_hypercall_count for more
 *   console_io:     (cmd, len, gpa)
 *   set_timer_op:   (cmd)                 — cmd is the timeout
 *   everything else (cmd, gpa)
 * The action requested is left in fs->last_action.
 */
long fake_hypercall(struct fake_substrate *fs, domid_t domid, unsigned int vcpu, unsigned long op,
		    uint64_t cmd, const void *arg, size_t len, void *out);
long fake_hypercall_count(struct fake_substrate *fs, domid_t domid, unsigned int vcpu,
			  unsigned long op, uint64_t cmd, const void *arg, size_t len,
			  unsigned int count, void *out);
/* Raw: five arguments as given. */
long fake_hypercall_args(struct fake_substrate *fs, domid_t domid, unsigned int vcpu,
			 unsigned long op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
			 uint64_t a4);

/* Records. */
void fake_clear_records(struct fake_substrate *fs);
unsigned int fake_kick_count(struct fake_substrate *fs, domid_t domid, unsigned int vcpu);
bool fake_log_contains(struct fake_substrate *fs, const char *needle);
long fake_xen_pages_live(struct fake_substrate *fs);
/* Host address of a RAM frame as the fake holds it (NULL if never touched). */
void *fake_ram_frame(struct fake_substrate *fs, domid_t domid, uint64_t gfn);

#endif
